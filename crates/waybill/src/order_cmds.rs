//! `waybill orders …`, `waybill inventory`, `waybill alerts`: orders placed from a
//! buyer's signed intent and the buyer's or a party's steps on them; stock and alerts
//! (docs/ORDERS.md).

use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use waybill_client::Client;
use waybill_types::payload::commerce::{
    OrderAction, OrderIntent, OrderStep, PlaceOrder, ORDER_ACTION_DOMAIN, ORDER_INTENT_DOMAIN,
};
use waybill_types::{Payload, PublicKey, SecretKey};

use crate::who::member_key;

/// `waybill orders list`: the orders the member's organization is a party to (a
/// regulator: all), optionally of one state, as JSON or a table.
pub async fn list(
    client: &Client,
    dir: &Path,
    who: &str,
    state: Option<&str>,
    as_json: bool,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let mut items: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/orders?limit=1000".to_string();
        if let Some(s) = state {
            path.push_str(&format!("&state={s}"));
        }
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
            serde_json::to_string_pretty(&json!({ "items": items }))?
        );
        return Ok(());
    }
    println!(
        "{:<20} {:<10} {:<16} {:<16} {:<10} {:>14}",
        "order", "buyer", "seller", "platform", "state", "total    "
    );
    for o in &items {
        let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
        println!(
            "{:<20} {:<10} {:<16} {:<16} {:<10} {:>10} {}",
            s(&o["id"]),
            s(&o["buyer"]).chars().take(8).collect::<String>(),
            s(&o["seller"]),
            s(&o["platform"]),
            s(&o["state"]),
            s(&o["total"]),
            s(&o["currency"]),
        );
    }
    println!("({} orders; totals in minor units)", items.len());
    Ok(())
}

/// `waybill orders show BUYER ID`: one order, as JSON.
pub async fn show(
    client: &Client,
    dir: &Path,
    who: &str,
    buyer: &str,
    id: &str,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let o = client
        .get_as(&format!("/v1/orders/{buyer}/{id}"), &key)
        .await?;
    println!("{}", serde_json::to_string_pretty(&o)?);
    Ok(())
}

/// The buyer's review key for order `id`, and the salt of its hash: derived from the
/// buyer's secret key and the order id, so the buyer can review later without keeping
/// anything, while nobody without the buyer's secret can link the key to the buyer.
pub fn review_secret(buyer: &SecretKey, id: &str) -> (SecretKey, waybill_types::Hash) {
    use waybill_types::hash::sha256_parts;
    let seed = buyer.seed();
    let key =
        SecretKey::from_seed(sha256_parts(&[b"waybill/review-key/v1\0", &seed, id.as_bytes()]).0);
    let salt = sha256_parts(&[b"waybill/review-salt/v1\0", &seed, id.as_bytes()]);
    (key, salt)
}

/// Fill what an intent file may leave out: the chain id (the node's), the buyer (the
/// buyer key's), the expiry (an hour from now), the review key's hash (see
/// [`review_secret`]).
pub fn complete_intent(
    mut v: Value,
    chain_id: &str,
    buyer_key: &SecretKey,
) -> anyhow::Result<OrderIntent> {
    let buyer = &buyer_key.public();
    let Some(m) = v.as_object_mut() else {
        bail!("an order intent is a JSON object");
    };
    m.entry("chain_id").or_insert_with(|| json!(chain_id));
    m.entry("buyer").or_insert_with(|| json!(buyer.to_hex()));
    if let Some(id) = m.get("id").and_then(Value::as_str).map(str::to_string) {
        let (rk, salt) = review_secret(buyer_key, &id);
        let h = waybill_types::payload::commerce::review_key_hash(&salt, &rk.public());
        m.entry("review_key_hash")
            .or_insert_with(|| json!(h.to_string()));
    }
    m.entry("expires_at_ms")
        .or_insert_with(|| json!(waybill_client::now_ms() + 3_600_000));
    let intent: OrderIntent =
        serde_json::from_value(v).context("the order intent does not parse")?;
    if intent.buyer != *buyer {
        bail!(
            "the intent names buyer {}, but the buyer key is {}",
            intent.buyer,
            buyer
        );
    }
    Ok(intent)
}

/// The `place_order` payload: `intent` signed by the buyer.
pub fn sign_intent(intent: OrderIntent, buyer: &SecretKey) -> Payload {
    let signature = buyer.sign(ORDER_INTENT_DOMAIN, &intent.signing_bytes());
    Payload::PlaceOrder(PlaceOrder {
        intent,
        signature,
        ship_to: None,
    })
}

/// An `order_action` payload: `step` on the buyer's order `id`, signed by the buyer
/// when `buyer_key` is given (a party submits it for the buyer).
pub fn order_action(
    chain_id: &str,
    buyer: PublicKey,
    id: &str,
    step: OrderStep,
    buyer_key: Option<&SecretKey>,
) -> Payload {
    let buyer_signature = buyer_key.map(|k| {
        k.sign(
            ORDER_ACTION_DOMAIN,
            &OrderAction::signing_bytes(chain_id, &buyer, id, &step),
        )
    });
    Payload::OrderAction(OrderAction {
        buyer,
        id: id.to_string(),
        step,
        buyer_signature,
    })
}

/// Sign `payload` as `who` and submit it, waiting for the commit; the outcome, or an
/// error naming the rejection.
pub async fn submit_as(
    client: &Client,
    dir: &Path,
    who: &str,
    payload: Payload,
) -> anyhow::Result<()> {
    payload.check().context("the payload is invalid")?;
    let key = member_key(dir, who)?;
    let chain_id = client.chain_id().await?;
    let stx = waybill_client::sign(&key, &chain_id, payload);
    let answer = client.submit(&stx, true).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    if answer["status"] != "applied" {
        bail!(
            "transaction {} was {}: {} {}",
            stx.id(),
            answer["status"].as_str().unwrap_or("refused"),
            answer["reason"]["code"].as_str().unwrap_or(""),
            answer["reason"]["message"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// The buyer's address for `orders place`: a JSON file, sealed erasable unless
/// `inline`; erasable, its private part goes to this node and the `deliver_to` nodes.
pub struct ShipTo<'a> {
    /// The file.
    pub file: &'a Path,
    /// Sealed inline (ciphertext on the chain, not erasable).
    pub inline: bool,
    /// Other nodes (API base URLs) to deliver the private part to.
    pub deliver_to: &'a [String],
}

/// `waybill orders place --intent FILE --buyer WHO --as M [--ship-to FILE [--inline]
/// [--deliver-to URL]…]`.
pub async fn place(
    client: &Client,
    dir: &Path,
    who: &str,
    intent_file: &Path,
    buyer: &str,
    ship_to: Option<ShipTo<'_>>,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(intent_file)
        .with_context(|| format!("cannot read {}", intent_file.display()))?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", intent_file.display()))?;
    let buyer_key = member_key(dir, buyer)?;
    let chain_id = client.chain_id().await?;
    let intent = complete_intent(v, &chain_id, &buyer_key)?;
    let submitter = member_key(dir, who)?;
    let (sealed, detached) = match &ship_to {
        Some(s) => {
            let text = std::fs::read_to_string(s.file)
                .with_context(|| format!("cannot read {}", s.file.display()))?;
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", s.file.display()))?;
            let (text, part) = seal_ship_to(client, &submitter, &intent, &value, !s.inline).await?;
            (Some(text), part)
        }
        None => (None, None),
    };
    let spill = intent_file.with_extension("private-parts.json");
    let mut p = sign_intent(intent, &buyer_key);
    if let Payload::PlaceOrder(po) = &mut p {
        po.ship_to = sealed;
    }
    submit_as(client, dir, who, p).await?;
    if let (Some(part), Some(s)) = (detached, ship_to) {
        // Its own node first, then each recipient's node named.
        let mut nodes = vec![client.clone()];
        nodes.extend(s.deliver_to.iter().map(|u| Client::new(u)));
        crate::seal_cmds::deliver(&nodes, &submitter, &[part], &spill).await?;
    }
    Ok(())
}

/// `waybill inventory`: stock per product and location, as JSON or a table.
pub async fn inventory(
    client: &Client,
    dir: &Path,
    who: &str,
    location: Option<&str>,
    as_json: bool,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let path = match location {
        Some(l) => format!("/v1/inventory?location={l}"),
        None => "/v1/inventory".to_string(),
    };
    let page = client.get_as(&path, &key).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    println!(
        "{:<14} {:<15} {:>10} {:>10} {:>10} {:>8}",
        "location", "gtin", "on hand", "reserved", "available", "reorder"
    );
    for r in page["items"].as_array().into_iter().flatten() {
        println!(
            "{:<14} {:<15} {:>10} {:>10} {:>10} {:>8}{}",
            r["location"].as_str().unwrap_or("?"),
            r["gtin"].as_str().unwrap_or("?"),
            r["on_hand"].as_u64().unwrap_or(0),
            r["reserved"].as_u64().unwrap_or(0),
            r["available"].as_u64().unwrap_or(0),
            r["reorder_point"].as_u64().unwrap_or(0),
            if r["below_reorder_point"] == true {
                "  below reorder point"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// `waybill alerts`: the member's organization's alerts.
pub async fn alerts(client: &Client, dir: &Path, who: &str, as_json: bool) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let page = client.get_as("/v1/alerts", &key).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    for a in page["items"].as_array().into_iter().flatten() {
        println!(
            "block {:>6}  {:<15} {}",
            a["height"],
            a["kind"].as_str().unwrap_or("?"),
            a["message"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// A `review_order` payload: the buyer's review of the `gtin` line of its order `id`,
/// signed with the order's review key.
pub fn review_payload(
    chain_id: &str,
    buyer: &SecretKey,
    id: &str,
    gtin: waybill_gs1::Gtin,
    rating: u8,
    title: &str,
    text: &str,
) -> Payload {
    use waybill_types::payload::commerce::{ReviewOrder, REVIEW_DOMAIN};
    let (rk, salt) = review_secret(buyer, id);
    let bytes =
        ReviewOrder::signing_bytes(chain_id, &buyer.public(), id, &gtin, rating, title, text);
    Payload::ReviewOrder(ReviewOrder {
        buyer: buyer.public(),
        order: id.to_string(),
        gtin,
        rating,
        title: title.to_string(),
        text: text.to_string(),
        review_key: rk.public(),
        salt,
        signature: rk.sign(REVIEW_DOMAIN, &bytes),
    })
}

/// The delivery address `value` (name, phone, address) sealed for intent `i`'s order:
/// for the submitter's organization, the seller, the listing's carrier and every
/// regulator (as placement requires), category `platform_transactions`; the
/// `ship_to` text of a `place_order`. Erasable: detached, with the private part to
/// deliver to the recipients' nodes once the order is placed; else inline.
pub async fn seal_ship_to(
    client: &Client,
    submitter: &SecretKey,
    i: &OrderIntent,
    value: &Value,
    erasable: bool,
) -> anyhow::Result<(String, Option<crate::seal_cmds::Detachment>)> {
    use waybill_types::seal::{seal_at, Place};
    let mut partners = vec![i.seller.to_string()];
    if let Some(p) = &i.platform {
        partners.push(p.to_string());
    }
    // The carrier of the first line's listing (placement requires one carrier per order).
    let gtin = &i.lines.first().context("an order has a line")?.gtin;
    let listings = client
        .get_as(&format!("/v1/products/{gtin}/listings"), submitter)
        .await?;
    let listing = listings["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| {
            l["seller"] == i.seller.as_str()
                && l["platform"].as_str() == i.platform.as_ref().map(|p| p.as_str())
        })
        .with_context(|| format!("`{}` lists no {gtin} here for this order", i.seller))?;
    if let Some(c) = listing["carrier"].as_str() {
        partners.push(c.to_string());
    }
    let recipients = crate::trace_cmds::seal_recipients(client, submitter, &partners).await?;
    let record = format!("urn:waybill:order:{}:{}", i.buyer.to_hex(), i.id);
    let mut holder = json!({ "ship_to": value });
    let place = Place {
        chain_id: &i.chain_id,
        record: &record,
        field: "/ship_to",
        category: waybill_types::DataCategory::PlatformTransactions,
    };
    seal_at(&mut holder, &place, &recipients, &mut rand_core::OsRng)
        .map_err(|e| anyhow::anyhow!("sealing the address: {e}"))?;
    if !erasable {
        return Ok((holder["ship_to"].to_string(), None));
    }
    let Some(Ok(waybill_types::seal::SealedField::Inline(whole))) =
        waybill_types::seal::SealedField::from_json(&holder["ship_to"], &record, "/ship_to")
    else {
        bail!("sealing the address left no sealed field");
    };
    let (detached, part) = whole.detach();
    Ok((
        detached.to_json().to_string(),
        Some(crate::seal_cmds::Detachment {
            record,
            field: "/ship_to".into(),
            part,
        }),
    ))
}
