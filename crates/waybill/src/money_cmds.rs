//! `waybill accounts …`: accounts and their balances, read with a member's signature.

use std::path::Path;

use serde_json::{json, Value};
use waybill_client::Client;

use crate::trace_cmds::Paging;
use crate::who::member_key;

/// `waybill accounts list`: every account the member may list (a regulator: all of
/// them; anyone else: its organization's), as JSON or a table.
pub async fn list(
    client: &Client,
    dir: &Path,
    who: &str,
    paging: Paging,
    as_json: bool,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let mut items: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let want = paging.page_size.min(paging.max.saturating_sub(items.len()));
        if want == 0 {
            break;
        }
        let mut path = format!("/v1/accounts?limit={want}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&after={c}"));
        }
        let page = client.get_as(&path, &key).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        cursor = page["next_after"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "items": items, "next_after": cursor }))?
        );
    } else {
        println!(
            "{:<56} {:>20} {:>20} {:>20}",
            "account", "posted", "pending", "available"
        );
        for a in &items {
            let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
            println!(
                "{:<56} {:>20} {:>20} {:>20}",
                s(&a["id"]),
                s(&a["balance"]["posted"]),
                s(&a["balance"]["pending"]),
                s(&a["balance"]["available"])
            );
        }
        println!("(amounts in minor units: fen, cents)");
    }
    if cursor.is_some() {
        eprintln!(
            "{} accounts shown; more remain: pass a larger --max",
            items.len()
        );
    }
    Ok(())
}

/// `waybill accounts show ID`: one account, as JSON.
pub async fn show(client: &Client, dir: &Path, who: &str, id: &str) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let a = client.get_as(&format!("/v1/accounts/{id}"), &key).await?;
    println!("{}", serde_json::to_string_pretty(&a)?);
    Ok(())
}
