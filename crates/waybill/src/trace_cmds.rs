//! `waybill capture`, `events`, `trace`, `audit`, `epcis hash-id|validate`,
//! `dl parse|make` and `qr`.

use waybill_types::payload::CaptureEpcis;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use waybill_client::{Client, KeyFile};
use waybill_gs1::digital_link::DigitalLink;
use waybill_types::SecretKey;

use waybill_server::home::Home;

/// A member's key: a key file path, a demo member slug (`DIR/keys/members/SLUG.json`)
/// or `admin:ORG` (`DIR/keys/orgs/ORG-admin.json`).
pub fn member_key(dir: &Path, who: &str) -> anyhow::Result<SecretKey> {
    Ok(KeyFile::read(&member_key_path(dir, who)?)?.1)
}

/// The key file [`member_key`] reads for `who`.
pub fn member_key_path(dir: &Path, who: &str) -> anyhow::Result<PathBuf> {
    let home = Home::new(dir);
    let path = if Path::new(who).is_file() {
        PathBuf::from(who)
    } else if let Some(org) = who.strip_prefix("admin:") {
        home.org_admin_key(org)
    } else {
        home.member_key(who)
    };
    if !path.is_file() {
        bail!(
            "no key for `{who}`: give a key file, a member name with a key in {}/keys/members/, or admin:ORG",
            dir.display()
        );
    }
    Ok(path)
}

fn read_doc(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

/// `waybill capture DOC --as MEMBER [--expires-in SECONDS]`.
pub async fn capture(
    client: &Client,
    dir: &Path,
    who: &str,
    file: &Path,
    expires_in_s: Option<u64>,
    wait: bool,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let doc = read_doc(file)?;
    let chain_id = client.chain_id().await?;
    let expires_in_ms = expires_in_s.map_or(waybill_client::TX_EXPIRY_MS_DEFAULT, |s| {
        s.saturating_mul(1000)
    });
    let stx = waybill_client::sign_with(
        &key,
        &chain_id,
        waybill_types::tx::random_nonce(),
        waybill_client::now_ms().saturating_add(expires_in_ms),
        waybill_types::Payload::CaptureEpcis(CaptureEpcis { document: doc }),
    );
    let job = client.capture_signed(&stx, wait).await?;
    println!("{}", serde_json::to_string_pretty(&job)?);
    if wait && job["success"] != json!(true) {
        bail!("capture {} was rejected", job["captureID"]);
    }
    Ok(())
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

/// `waybill verify-proof BUNDLE --genesis FILE | --fingerprint HEX | --trust FILE`:
/// exit 0 if every check passes, else 1 naming the first that fails. The trust root
/// is the verifier's own, never taken from the bundle.
pub fn verify_proof(
    file: &Path,
    genesis: Option<&Path>,
    fingerprint: Option<&str>,
    trust: Option<&Path>,
) -> anyhow::Result<()> {
    use waybill_types::proof::{verify, ProofBundle, TrustFile, TrustRoot, PROOF_BUNDLE_BYTES_MAX};
    let root = match (genesis, fingerprint, trust) {
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
            "give exactly one trust root: --genesis FILE, --fingerprint HEX or --trust FILE (the bundle's own is never trusted)"
        ),
    };
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if text.len() > PROOF_BUNDLE_BYTES_MAX {
        bail!(
            "{}: {} bytes, over the limit of {PROOF_BUNDLE_BYTES_MAX}",
            file.display(),
            text.len()
        );
    }
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
