//! `waybill capture`, `events`, `trace`, `audit`, `epcis hash-id|validate`,
//! `dl parse|make` and `qr`.

use waybill_types::payload::CaptureEpcis;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use waybill_client::Client;
use waybill_gs1::digital_link::DigitalLink;
use waybill_types::SecretKey;

use crate::who::member_key;

fn read_doc(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

/// How `waybill capture` sends a document.
#[derive(Clone, Debug, Default)]
pub struct CaptureOptions {
    /// Seconds until the transaction expires (default 600).
    pub expires_in_s: Option<u64>,
    /// Wait for the commit.
    pub wait: bool,
    /// Only preview it (`POST /v1/tx/dry-run`): nothing is stored.
    pub dry_run: bool,
    /// Fields to seal.
    pub seal: Vec<SealSpec>,
    /// Organizations to seal them for, beside the capturer's and the regulators.
    pub seal_for: Vec<String>,
    /// Other nodes (API base URLs) to deliver erasable fields' private parts to.
    pub deliver_to: Vec<String>,
}

/// `waybill capture DOC --as MEMBER [--expires-in SECONDS] [--seal …] [--dry-run]`.
pub async fn capture(
    client: &Client,
    dir: &Path,
    who: &str,
    file: &Path,
    opts: &CaptureOptions,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let mut doc = read_doc(file)?;
    let chain_id = client.chain_id().await?;
    let mut detached = Vec::new();
    if !opts.seal.is_empty() {
        let recipients = seal_recipients(client, &key, &opts.seal_for).await?;
        (doc, detached) = seal_document_detaching(&doc, &chain_id, &opts.seal, &recipients)?;
    }
    if !detached.is_empty() && !opts.wait && !opts.dry_run {
        bail!("erasable fields are delivered to the recipients' nodes after the commit: drop --no-wait");
    }
    let expires_in_ms = opts
        .expires_in_s
        .map_or(waybill_client::TX_EXPIRY_MS_DEFAULT, |s| {
            s.saturating_mul(1000)
        });
    let stx = waybill_client::sign_with(
        &key,
        &chain_id,
        waybill_types::tx::random_nonce(),
        waybill_client::now_ms().saturating_add(expires_in_ms),
        waybill_types::Payload::CaptureEpcis(CaptureEpcis { document: doc }),
    );
    if opts.dry_run {
        return preview(client, &stx).await;
    }
    let job = client.capture_signed(&stx, opts.wait).await?;
    println!("{}", serde_json::to_string_pretty(&job)?);
    if opts.wait && job["success"] != json!(true) {
        bail!("capture {} was rejected", job["captureID"]);
    }
    if !detached.is_empty() {
        let spill = file.with_extension("private-parts.json");
        // Its own node first, then each recipient's node named.
        let mut nodes = vec![client.clone()];
        nodes.extend(opts.deliver_to.iter().map(|u| Client::new(u)));
        crate::seal_cmds::deliver(&nodes, &key, &detached, &spill).await?;
    }
    Ok(())
}

/// `--dry-run`: what the signed transaction would do as the next block's only one —
/// the open-tier records it would publish (what anyone can read, and what the
/// consumer page shows) and the fields it would seal; nothing is stored.
pub(crate) async fn preview(client: &Client, stx: &waybill_types::SignedTx) -> anyhow::Result<()> {
    let answer = client.dry_run(stx).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    let n = |k: &str| answer[k].as_array().map_or(0, Vec::len);
    if answer["status"] != "applied" {
        bail!(
            "dry run: the ledger would refuse this transaction ({}: {}); nothing was stored",
            answer["reason"]["code"].as_str().unwrap_or("?"),
            answer["reason"]["message"].as_str().unwrap_or("?")
        );
    }
    eprintln!(
        "dry run: would be applied at block {}; publishes {} open-tier record(s) (above, \"publishes\": what anyone reads), seals {} field(s); nothing was stored",
        answer["height"],
        n("publishes"),
        n("seals")
    );
    Ok(())
}

/// A field to seal at capture: its JSON pointer inside each event and its category.
#[derive(Clone, Debug)]
pub struct SealSpec {
    /// The pointer, e.g. `/wb:purchasePrice`.
    pub pointer: String,
    /// Its data category.
    pub category: waybill_types::DataCategory,
    /// Erasable (`--erasable`): detached, its private part delivered to the
    /// recipients' nodes after the commit, not put in the record.
    pub erasable: bool,
}

impl std::str::FromStr for SealSpec {
    type Err = String;
    /// `POINTER=CATEGORY`, or `POINTER` alone for a field whose category the table in
    /// docs/PRIVACY.md gives by its name (price → financial, name/phone/address/
    /// consignee/buyer/email → platform_transactions, report → customs_quality).
    fn from_str(s: &str) -> Result<Self, String> {
        use waybill_types::DataCategory as C;
        let (pointer, category) = match s.rsplit_once('=') {
            Some((p, c)) => {
                let c: C = serde_json::from_value(json!(c)).map_err(|_| {
                    format!("`{c}` is not a data category (production, platform_transactions, customs_quality, transport, financial)")
                })?;
                (p, c)
            }
            None => {
                let name = s.rsplit('/').next().unwrap_or(s).to_ascii_lowercase();
                let c = if name.contains("price")
                    || name.contains("amount")
                    || name.contains("bank")
                {
                    C::Financial
                } else if ["name", "phone", "address", "consignee", "buyer", "email"]
                    .iter()
                    .any(|w| name.contains(w))
                {
                    C::PlatformTransactions
                } else if name.contains("report") || name.contains("inspection") {
                    C::CustomsQuality
                } else {
                    return Err(format!("say which data category `{s}` is: --seal {s}=financial (or production, platform_transactions, customs_quality, transport)"));
                };
                (s, c)
            }
        };
        if !pointer.starts_with('/') {
            return Err(format!("`{pointer}` is not a JSON pointer inside the event (it starts with /, e.g. /wb:purchasePrice)"));
        }
        Ok(SealSpec {
            pointer: pointer.to_owned(),
            category,
            erasable: false,
        })
    }
}

/// The organizations a capture's sealed fields are wrapped for: the capturer's own,
/// every regulator, and `partners`, each with its current key.
pub(crate) async fn seal_recipients(
    client: &Client,
    key: &SecretKey,
    partners: &[String],
) -> anyhow::Result<Vec<waybill_types::seal::Recipient>> {
    let member = client
        .get(&format!("/v1/members/{}", key.public().to_hex()))
        .await
        .context("the signer is not a member the node knows")?;
    let own = member["org"]
        .as_str()
        .context("the member record names no organization")?
        .to_owned();
    let mut orgs = vec![own.clone()];
    let mut after: Option<String> = None;
    loop {
        let q = match &after {
            Some(a) => format!("/v1/orgs?limit=1000&after={a}"),
            None => "/v1/orgs?limit=1000".to_owned(),
        };
        let page = client.get(&q).await?;
        for o in page["items"].as_array().into_iter().flatten() {
            let is_regulator = o["roles"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r == "regulator");
            if let (true, Some(id)) = (is_regulator, o["id"].as_str()) {
                orgs.push(id.to_owned());
            }
        }
        match page["next_after"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    orgs.extend(partners.iter().cloned());
    orgs.sort();
    orgs.dedup();
    let mut out = Vec::new();
    for org in orgs {
        let org = waybill_types::OrgId::new(&org)?;
        let Some(current) = crate::seal_cmds::current_key(client, &org).await? else {
            bail!("`{org}` has registered no encryption key, so nothing can be sealed for it; its admin runs `waybill seal-key rotate`");
        };
        out.push(current);
    }
    Ok(out)
}

/// Seal `specs` in every event of `doc` (an EPCIS document) that has such a field,
/// giving such an event without an eventID a fresh `urn:uuid` one (the record id its
/// fields are sealed for); other events are left as they are.
pub(crate) fn seal_document(
    doc: &str,
    chain_id: &str,
    specs: &[SealSpec],
    recipients: &[waybill_types::seal::Recipient],
) -> anyhow::Result<String> {
    let (doc, detached) = seal_document_detaching(doc, chain_id, specs, recipients)?;
    if !detached.is_empty() {
        bail!("erasable fields are delivered after the commit; this command does not deliver them (use `waybill capture --erasable`)");
    }
    Ok(doc)
}

/// [`seal_document`], detaching the erasable fields: the document and their private
/// parts.
pub(crate) fn seal_document_detaching(
    doc: &str,
    chain_id: &str,
    specs: &[SealSpec],
    recipients: &[waybill_types::seal::Recipient],
) -> anyhow::Result<(String, Vec<crate::seal_cmds::Detachment>)> {
    let mut detachments = Vec::new();
    let mut v: Value = serde_json::from_str(doc).context("the document is not JSON")?;
    let events = v
        .pointer_mut("/epcisBody/eventList")
        .and_then(Value::as_array_mut)
        .context("the document has no /epcisBody/eventList to seal fields in")?;
    let mut sealed = 0;
    for (i, event) in events.iter_mut().enumerate() {
        if !specs.iter().any(|s| event.pointer(&s.pointer).is_some()) {
            continue;
        }
        if event.get("eventID").is_none() {
            let mut b = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h = hex::encode(b);
            event["eventID"] = json!(format!(
                "urn:uuid:{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ));
        }
        let id = event["eventID"]
            .as_str()
            .context("an eventID is a string")?
            .to_owned();
        for spec in specs {
            if event.pointer(&spec.pointer).is_none() {
                continue;
            }
            waybill_types::seal::seal_at(
                event,
                &waybill_types::seal::Place {
                    chain_id,
                    record: &id,
                    field: &spec.pointer,
                    category: spec.category,
                },
                recipients,
                &mut rand_core::OsRng,
            )
            .with_context(|| format!("sealing {} in event {i}", spec.pointer))?;
            sealed += 1;
            if spec.erasable {
                let slot = event
                    .pointer_mut(&spec.pointer)
                    .expect("the field was just sealed in place");
                let Some(Ok(waybill_types::seal::SealedField::Inline(whole))) =
                    waybill_types::seal::SealedField::from_json(slot, &id, &spec.pointer)
                else {
                    unreachable!("seal_at leaves a well-formed sealed field");
                };
                let (detached, part) = whole.detach();
                *slot = detached.to_json();
                detachments.push(crate::seal_cmds::Detachment {
                    record: id.clone(),
                    field: spec.pointer.clone(),
                    part,
                });
            }
        }
    }
    if sealed == 0 {
        bail!(
            "no event has a field at {}; nothing was sealed",
            specs
                .iter()
                .map(|s| s.pointer.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok((serde_json::to_string(&v)?, detachments))
}

/// `waybill capture-job ID --as MEMBER`: the capture job, read with a signed request
/// by a member of the organization that submitted it. Exits 1 if the job failed.
pub async fn capture_job(client: &Client, dir: &Path, who: &str, id: &str) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let id = id.trim();
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("`{id}` is not a capture id (64 hex digits, as `waybill capture` printed it)");
    }
    let job = client
        .get_as(&format!("/epcis/capture/{}", id.to_ascii_lowercase()), &key)
        .await?;
    println!("{}", serde_json::to_string_pretty(&job)?);
    if job["success"] == json!(false) {
        bail!("capture {id} failed");
    }
    Ok(())
}

/// How a list command pages: items per request, and most items printed.
#[derive(Clone, Copy, Debug)]
pub struct Paging {
    /// Items asked for per request.
    pub page_size: usize,
    /// Most items printed.
    pub max: usize,
}

/// `waybill events [PARAM=VALUE…] --as MEMBER`: every page of the EPCIS query (up to
/// `paging.max` events), as one query document; if more remain, says so on standard
/// error with the page token to go on from.
pub async fn events(
    client: &Client,
    dir: &Path,
    who: &str,
    params: &[String],
    paging: Paging,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let mut q = Vec::new();
    for p in params {
        let (k, v) = p.split_once('=').with_context(|| {
            format!("`{p}` is not NAME=VALUE, e.g. MATCH_epc=urn:epc:id:sgtin:…")
        })?;
        if k == "perPage" {
            bail!("give the page size with --page-size, not perPage=");
        }
        q.push(format!("{}={}", enc(k), enc(v)));
    }
    let mut doc: Option<Value> = None;
    let mut n = 0usize;
    let mut next = None;
    let first = |per_page: usize| {
        let mut all = q.clone();
        all.push(format!("perPage={per_page}"));
        format!("/epcis/events?{}", all.join("&"))
    };
    let mut path = Some(first(paging.page_size.min(paging.max.max(1))));
    while let Some(p) = path.take() {
        if n >= paging.max {
            next = Some(p);
            break;
        }
        let (page, more) = client.get_page_as(&p, &key).await?;
        let events = page["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        n += events.len();
        match doc.as_mut() {
            None => doc = Some(page),
            Some(d) => {
                if let Some(list) =
                    d["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array_mut()
                {
                    list.extend(events);
                }
            }
        }
        // Ask the next page for no more than what may still be printed.
        path = more.map(|m| {
            with_per_page(
                &m,
                paging.page_size.min(paging.max.saturating_sub(n).max(1)),
            )
        });
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&doc.unwrap_or(Value::Null))?
    );
    if let Some(p) = next {
        let token = p
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("nextPageToken="))
            .unwrap_or("");
        eprintln!(
            "{n} events shown; more remain: pass a larger --max, or add nextPageToken={token} to go on from here"
        );
    }
    Ok(())
}

/// `path` (with a query) with its `perPage` set to `n`.
fn with_per_page(path: &str, n: usize) -> String {
    let (base, query) = path.split_once('?').unwrap_or((path, ""));
    let mut kept: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("perPage="))
        .map(str::to_string)
        .collect();
    kept.push(format!("perPage={n}"));
    format!("{base}?{}", kept.join("&"))
}

/// Percent-encode a path segment or query value (unreserved characters kept).
fn enc(s: &str) -> String {
    waybill_gs1::digital_link::uri_escape(s, waybill_gs1::digital_link::UriComponent::Path)
}

/// `waybill trace ID --as MEMBER [--forward] [--json]`.
pub async fn trace(
    client: &Client,
    dir: &Path,
    who: &str,
    id: &str,
    forward: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let path = format!(
        "/v1/trace/{}?direction={}",
        enc(id),
        if forward { "forward" } else { "back" }
    );
    let v = client.get_as(&path, &key).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render_tree(&v));
    }
    Ok(())
}

/// A readable tree of a lineage answer: each identifier under the one it was reached
/// from, with the events that name it.
pub fn render_tree(v: &Value) -> String {
    let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
    let events = v["events"].as_array().cloned().unwrap_or_default();
    let mut children: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for n in &nodes {
        if let Some(f) = n["from"].as_str() {
            children.entry(f.to_string()).or_default().push(n);
        }
    }
    let mut by_id: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &events {
        let mut seen = std::collections::BTreeSet::new();
        for i in e["ids"].as_array().into_iter().flatten() {
            if let Some(id) = i["id"].as_str() {
                if seen.insert(id.to_string()) {
                    by_id.entry(id.to_string()).or_default().push(e);
                }
            }
        }
    }
    let mut out = String::new();
    let dir = v["direction"].as_str().unwrap_or("back");
    out.push_str(&format!(
        "{} {} ({} identifiers, {} events{}{})\n",
        if dir == "forward" {
            "Forward from"
        } else {
            "Back from"
        },
        v["id"].as_str().unwrap_or(""),
        nodes.len(),
        events.len(),
        match v["hidden_events"].as_u64() {
            Some(n) if n > 0 => format!(", {n} not readable by you"),
            _ => String::new(),
        },
        if v["truncated"] == json!(true) {
            ", truncated"
        } else {
            ""
        }
    ));
    let start = v["id"].as_str().unwrap_or("").to_string();
    let mut stack: Vec<(String, usize, Option<String>)> = vec![(start, 0, None)];
    let mut shown = std::collections::BTreeSet::new();
    while let Some((id, depth, rel)) = stack.pop() {
        if !shown.insert(id.clone()) {
            continue;
        }
        let pad = "  ".repeat(depth);
        out.push_str(&format!(
            "{pad}{}{}\n",
            rel.map(|r| format!("{r} → ")).unwrap_or_default(),
            id
        ));
        for e in by_id.get(&id).into_iter().flatten() {
            out.push_str(&format!(
                "{pad}    · {} {}{} {} by {}{}\n",
                e["event_time"].as_str().unwrap_or(""),
                e["type"].as_str().unwrap_or(""),
                e["action"]
                    .as_str()
                    .map(|a| format!(" {a}"))
                    .unwrap_or_default(),
                e["biz_step"].as_str().unwrap_or("-"),
                e["org"].as_str().unwrap_or(""),
                e["biz_location"]
                    .as_str()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default(),
            ));
        }
        for c in children.get(&id).into_iter().flatten().rev() {
            stack.push((
                c["id"].as_str().unwrap_or("").to_string(),
                depth + 1,
                c["relation"].as_str().map(str::to_string),
            ));
        }
    }
    if let Some(lots) = v["lots"].as_array() {
        for l in lots {
            out.push_str(&format!(
                "lot {} of {}: produced {} at {}, {} {}\n",
                l["lot"].as_str().unwrap_or(""),
                l["gtin"].as_str().unwrap_or(""),
                l["produced_on"].as_str().unwrap_or(""),
                l["origin_gln"].as_str().unwrap_or("-"),
                l["quantity"],
                l["unit"].as_str().unwrap_or("")
            ));
            for i in l["inputs"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "    input: {} {} {} {}\n",
                    i["kind"].as_str().unwrap_or(""),
                    i["name"].as_str().unwrap_or(""),
                    i["amount"].as_str().unwrap_or(""),
                    i["applied_on"].as_str().unwrap_or("")
                ));
            }
        }
    }
    if let Some(r) = v.get("recall") {
        out.push_str("Recall list:\n");
        for k in [
            "items",
            "lots",
            "containers",
            "business_transactions",
            "destinations",
            "locations",
        ] {
            let list = r[k].as_array().cloned().unwrap_or_default();
            out.push_str(&format!("  {k}: {}\n", list.len()));
            for x in list {
                out.push_str(&format!(
                    "    {}\n",
                    match x {
                        Value::String(s) => s,
                        other => format!(
                            "{} {}",
                            other["type"].as_str().unwrap_or(""),
                            other["id"].as_str().unwrap_or("")
                        ),
                    }
                ));
            }
        }
    }
    out
}

/// `waybill audit --product|--member|--org X --as MEMBER`: every page of the trail
/// (up to `paging.max` entries), as one answer whose `next_after` is the cursor to go on
/// from when more remain (said on standard error too), `null` when none do.
pub async fn audit(
    client: &Client,
    dir: &Path,
    who: &str,
    query: &str,
    after: Option<&str>,
    paging: Paging,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let mut items: Vec<Value> = Vec::new();
    let mut subject = Value::Null;
    let mut cursor: Option<String> = after.map(str::to_string);
    loop {
        let want = paging.page_size.min(paging.max.saturating_sub(items.len()));
        if want == 0 {
            break;
        }
        let mut path = format!("/v1/audit?{query}&limit={want}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&after={}", enc(c)));
        }
        let page = client.get_as(&path, &key).await?;
        subject = page["subject"].clone();
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        cursor = page["next_after"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(
            &json!({ "subject": subject, "items": items, "next_after": cursor })
        )?
    );
    if let Some(c) = &cursor {
        eprintln!(
            "{} entries shown; more remain: pass a larger --max, or --after {c} to go on from here",
            items.len()
        );
    }
    Ok(())
}

/// `waybill epcis hash-id DOC`: one Event Hash ID per event, computed as the ledger
/// computes it (from the text: numbers exactly as written, `ignoreFields` honoured).
pub fn hash_ids(file: &Path) -> anyhow::Result<()> {
    let text = read_doc(file)?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let (events, ptr) = waybill_state::trace::document_events(&doc);
    if events.is_none() {
        bail!("{}: no event list at {ptr}", file.display());
    }
    let exact = waybill_epcis::hash_id::ExactDocument::parse(&text)
        .with_context(|| format!("{} is not JSON", file.display()))?;
    for (i, e) in exact.events().iter().enumerate() {
        let obj = e
            .as_object()
            .with_context(|| format!("{ptr}/{i} is not an object"))?;
        let id = exact
            .event_hash_id(obj)
            .map_err(|err| anyhow::anyhow!("{ptr}/{i}: {err}"))?;
        println!("{id}");
    }
    Ok(())
}

/// `waybill epcis validate DOC`: exit 0 if valid, else 1 listing every problem.
pub fn validate(file: &Path) -> anyhow::Result<()> {
    let text = read_doc(file)?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not valid JSON: {e}", file.display()))?;
    // Event times against this machine's clock (the ledger uses the block time).
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let checked = match waybill_epcis::validate::validate_document(&doc) {
        Ok(()) => {
            let times = waybill_epcis::validate::check_document_times(&doc, now_ms);
            if times.is_empty() {
                Ok(())
            } else {
                Err(times)
            }
        }
        Err(mut problems) => {
            problems.extend(waybill_epcis::validate::check_document_times(&doc, now_ms));
            Err(problems)
        }
    };
    match checked {
        Ok(()) => {
            let (events, _) = waybill_state::trace::document_events(&doc);
            println!(
                "{}: valid EPCIS 2.0 ({} events)",
                file.display(),
                events.map(Vec::len).unwrap_or(0)
            );
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{}: {}", p.pointer, p.message);
            }
            bail!(
                "{}: {} problem(s); not valid",
                file.display(),
                problems.len()
            )
        }
    }
}

/// `waybill dl parse URI`.
pub fn dl_parse(uri: &str) -> anyhow::Result<()> {
    // As the resolver reads links: GTIN-8, -12 and -13 are padded to 14 digits.
    let options = waybill_gs1::digital_link::ParseOptions {
        permit_zero_suppressed_gtin: true,
        ..Default::default()
    };
    let dl = DigitalLink::parse_with(uri, &options).map_err(|e| anyhow::anyhow!("{uri}: {e}"))?;
    let mut m = serde_json::Map::new();
    for (ai, v) in &dl.elements {
        m.insert(ai.clone(), json!(v));
    }
    println!("{}", serde_json::to_string_pretty(&Value::Object(m))?);
    Ok(())
}

/// `waybill dl make --gtin … [--lot …] [--serial …]`.
pub fn dl_make(
    gtin: &str,
    lot: Option<&str>,
    serial: Option<&str>,
    stem: Option<&str>,
) -> anyhow::Result<()> {
    // A GTIN-8, -12 or -13 is the GTIN-14 with leading zeros dropped.
    let gtin = if matches!(gtin.len(), 8 | 12 | 13) && gtin.bytes().all(|b| b.is_ascii_digit()) {
        format!("{gtin:0>14}")
    } else {
        gtin.to_string()
    };
    let mut el = vec![("01".to_string(), gtin)];
    if let Some(l) = lot {
        el.push(("10".into(), l.into()));
    }
    if let Some(s) = serial {
        el.push(("21".into(), s.into()));
    }
    let uri = waybill_gs1::digital_link::generate(&el, stem).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{uri}");
    Ok(())
}

/// `waybill qr LINK --out FILE` (PNG or SVG by extension).
pub fn qr(link: &str, out: &Path, scale: u32) -> anyhow::Result<()> {
    let opts = waybill_gs1::qr::QrOptions {
        scale,
        ..Default::default()
    };
    let svg = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    let bytes = if svg {
        waybill_gs1::qr::svg(link, &opts)?.into_bytes()
    } else {
        waybill_gs1::qr::png(link, &opts)?
    };
    std::fs::write(out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} ({})",
        out.display(),
        if svg { "SVG" } else { "PNG" }
    );
    Ok(())
}

/// `waybill proof LINK [--out FILE]`: fetch a product's proof bundle.
pub async fn proof(client: &Client, link: &str, out: Option<&Path>) -> anyhow::Result<()> {
    let v = client.get(&format!("/v1/proofs/{}", enc(link))).await?;
    let text = serde_json::to_string_pretty(&v)?;
    match out {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("cannot write {}", p.display()))?;
            println!(
                "wrote {} ({} records, {} headers)",
                p.display(),
                v["records"].as_array().map(Vec::len).unwrap_or(0),
                v["headers"].as_array().map(Vec::len).unwrap_or(0)
            );
        }
        None => println!("{text}"),
    }
    Ok(())
}

fn read_genesis(g: &Path) -> anyhow::Result<waybill_types::Genesis> {
    let t = std::fs::read_to_string(g).with_context(|| format!("cannot read {}", g.display()))?;
    serde_json::from_str::<waybill_types::Genesis>(&t)
        .map_err(|e| anyhow::anyhow!("{}: not a genesis file: {e}", g.display()))
}

/// `waybill trust --genesis FILE --out FILE`: save the chain id and full genesis hash.
pub fn save_trust(genesis: &Path, out: &Path) -> anyhow::Result<()> {
    use waybill_types::proof::{TrustFile, TRUST_FORMAT};
    let g = read_genesis(genesis)?;
    let t = TrustFile {
        format: TRUST_FORMAT.to_string(),
        chain_id: g.chain_id.clone(),
        genesis_hash: g.hash(),
    };
    std::fs::write(out, serde_json::to_string_pretty(&t)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {}: chain `{}`, genesis {} (fingerprint {})",
        out.display(),
        t.chain_id,
        t.genesis_hash,
        waybill_types::proof::fingerprint(&g)
    );
    Ok(())
}

/// The verifier's trust root, from exactly one of `--genesis`, `--fingerprint`,
/// `--trust` (never one a bundle or disclosure carries).
fn trust_root(
    genesis: Option<&Path>,
    fingerprint: Option<&str>,
    trust: Option<&Path>,
) -> anyhow::Result<waybill_types::proof::TrustRoot> {
    use waybill_types::proof::{TrustFile, TrustRoot};
    Ok(match (genesis, fingerprint, trust) {
        (Some(g), None, None) => TrustRoot::Genesis(Box::new(read_genesis(g)?)),
        (None, Some(f), None) => TrustRoot::Fingerprint(f.to_string()),
        (None, None, Some(t)) => {
            let text =
                std::fs::read_to_string(t).with_context(|| format!("cannot read {}", t.display()))?;
            TrustRoot::Trust(serde_json::from_str::<TrustFile>(&text).map_err(|e| {
                anyhow::anyhow!("{}: not a trust file (`waybill trust` writes one): {e}", t.display())
            })?)
        }
        _ => bail!(
            "give exactly one trust root: --genesis FILE, --fingerprint HEX or --trust FILE (the file's own is never trusted)"
        ),
    })
}

/// A file to verify, refused (unread) if it is over `max` bytes.
fn read_at_most(file: &Path, max: usize) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if len > max as u64 {
        bail!("{}: {len} bytes, over the limit of {max}", file.display());
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// `waybill verify-disclosure FILE --genesis FILE | --fingerprint HEX | --trust FILE`:
/// exit 0 if the disclosed value is the one the chain committed to, else 1 naming
/// the first check that fails.
pub fn verify_disclosure(
    file: &Path,
    genesis: Option<&Path>,
    fingerprint: Option<&str>,
    trust: Option<&Path>,
) -> anyhow::Result<()> {
    use waybill_types::disclosure::{verify_text, DISCLOSURE_BYTES_MAX};
    let root = trust_root(genesis, fingerprint, trust)?;
    let text = read_at_most(file, DISCLOSURE_BYTES_MAX)?;
    let v = verify_text(&text, &root)
        .map_err(|e| anyhow::anyhow!("disclosure does NOT verify — {e}"))?;
    println!(
        "disclosure verified: {} of record {} is {} — committed in block {} ({}) on chain `{}` (genesis {}), signed by {} validator(s)",
        v.field,
        v.record,
        v.value,
        v.height,
        waybill_api::epcis::rfc3339_ms(v.time_ms),
        v.chain_id,
        v.genesis_hash,
        v.signers.len()
    );
    Ok(())
}

/// `waybill verify-proof BUNDLE --genesis FILE | --fingerprint HEX | --trust FILE`:
/// exit 0 if every check passes, else 1 naming the first that fails. The trust root
/// is the verifier's own, never taken from the bundle.
pub fn verify_proof(
    file: &Path,
    genesis: Option<&Path>,
    fingerprint: Option<&str>,
    trust: Option<&Path>,
) -> anyhow::Result<()> {
    use waybill_types::proof::{verify, ProofBundle, PROOF_BUNDLE_BYTES_MAX};
    let root = trust_root(genesis, fingerprint, trust)?;
    let text = read_at_most(file, PROOF_BUNDLE_BYTES_MAX)?;
    let bundle: ProofBundle = serde_json::from_slice(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a proof bundle: {e}", file.display()))?;
    let v = verify(&bundle, &root).map_err(|e| anyhow::anyhow!("proof does NOT verify — {e}"))?;
    println!(
        "proof verified: the history of {} — {} records of {} subjects — is complete up to block {} ({}) on chain `{}` (genesis {}), {} certified headers signed by {} validator(s)",
        bundle.subject,
        v.records.len(),
        v.history.chains.len(),
        v.anchor_height,
        waybill_api::epcis::rfc3339_ms(v.anchor_time_ms),
        v.chain_id,
        v.genesis_hash,
        v.headers,
        v.signers.len()
    );
    Ok(())
}
