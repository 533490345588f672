//! The GS1 EPCIS 2.0 REST binding, lineage, audit trail and master data reads, end to
//! end: every request goes through `waybill_api::app(..)` with `oneshot` over a
//! one-validator `TestChain` that commits blocks on demand.
//!
//! - the 47 GS1 example documents: captured, exported, checked against the ratified
//!   JSON schema and our own validation, Event Hash IDs preserved, found by eventID,
//!   re-captured as duplicates;
//! - a small journey (harvest → lot → cartons → pallet → shipping → unloading →
//!   delivery → sale, plus a customs inspection) for the query parameters, paging,
//!   read authorization, the lineage, the audit trail and master data;
//! - capture errors and capture jobs.

#![recursion_limit = "256"]

#[allow(dead_code)]
mod common;
use common::{capture_request, capture_request_until};

use waybill_types::payload::{
    GrantRead, RecordQualification, RegisterLocation, RegisterLot, RevokeMember,
    RevokeQualification, SetLocationDelegate,
};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;
use waybill_epcis::context::Namespaces;
use waybill_gs1::Gln;
use waybill_node::Shared;
use waybill_testkit::{test_genesis, TestChain};
use waybill_types::clock::{Clock, ManualClock};
use waybill_types::keys::read_authorization;
use waybill_types::LotRef;
use waybill_types::{DataCategory, OrgId, Payload, Role, SecretKey, SignedTx};

use common::{gtin, member, parse_gtin, post_json, product, tx_body, Answer, Signer, CHAIN_ID};

/// `shared/conformance` beside the project root.
const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance");

/// Every role that writes some category of data.
const WRITERS: &[Role] = &[
    Role::Producer,
    Role::Processor,
    Role::Warehouse,
    Role::Carrier,
    Role::Platform,
    Role::Customs,
    Role::Inspector,
    Role::Financier,
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Percent-encode everything but unreserved characters.
fn pct(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Send a request; the answer and its headers.
async fn call(app: &Router, req: Request<Body>) -> (Answer, HeaderMap) {
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router's error type is Infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII header").to_string());
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes()
        .to_vec();
    (
        Answer {
            status,
            content_type,
            body,
        },
        headers,
    )
}

/// A GET signed by `key` at `ts_ms`.
fn signed_get_at(key: &SecretKey, path_and_query: &str, ts_ms: u64) -> Request<Body> {
    Request::builder()
        .method(Method::GET)
        .uri(path_and_query)
        .header(
            header::AUTHORIZATION,
            read_authorization(key, "GET", path_and_query, ts_ms),
        )
        .body(Body::empty())
        .expect("request builds")
}

/// A signed GET, answered.
async fn get_as(app: &Router, key: &SecretKey, path_and_query: &str) -> (Answer, HeaderMap) {
    call(app, signed_get_at(key, path_and_query, now_ms())).await
}

/// A signed GET that must answer 200 with JSON (or JSON-LD).
async fn get_as_ok(app: &Router, key: &SecretKey, path_and_query: &str) -> Value {
    let (a, _) = get_as(app, key, path_and_query).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "GET {path_and_query}: {}",
        a.text()
    );
    assert!(
        a.content_type.as_deref().is_some_and(
            |c| c.starts_with("application/json") || c.starts_with("application/ld+json")
        ),
        "GET {path_and_query}: content type {:?}",
        a.content_type
    );
    a.json()
}

/// An unsigned GET.
async fn get_anon(app: &Router, path_and_query: &str) -> Answer {
    common::get(app, path_and_query).await
}

/// The events of a document (an EPCISDocument or an EPCISQueryDocument).
fn events_of(doc: &Value) -> Vec<Value> {
    waybill_state::trace::document_events(doc)
        .0
        .cloned()
        .unwrap_or_default()
}

/// The Event Hash ID of each event of `doc`, under the document's `@context`.
fn hash_ids(doc: &Value) -> Vec<String> {
    let ns = Namespaces::from_context(doc.get("@context").unwrap_or(&Value::Null));
    events_of(doc)
        .iter()
        .map(|e| {
            waybill_epcis::hash_id::event_hash_id(e.as_object().expect("event object"), &ns)
                .unwrap_or_else(|err| panic!("hash of {e}: {err}"))
        })
        .collect()
}

/// The canonical form of an identifier.
fn canon(id: &str) -> String {
    waybill_epcis::epc::parse(id)
        .unwrap_or_else(|e| panic!("{id}: {e}"))
        .canonical
}

/// The GLN of an SGLN or Digital Link location.
fn gln_of(id: &str) -> Gln {
    waybill_epcis::epc::parse(id)
        .unwrap_or_else(|e| panic!("{id}: {e}"))
        .gln()
        .unwrap_or_else(|| panic!("{id} names no GLN"))
        .parse()
        .expect("valid GLN")
}

/// A `register_location` payload.
fn location(gln: Gln, name: &str, kind: &str, country: &str) -> Payload {
    Payload::RegisterLocation(RegisterLocation {
        gln,
        name: name.to_string(),
        kind: kind.to_string(),
        address: format!("{name}, test address"),
        country: country.to_string(),
        latitude: None,
        longitude: None,
    })
}

fn org_id(s: &str) -> OrgId {
    OrgId::new(s).expect("valid org id")
}

/// The EPCIS draft-07 schema validator with string formats enforced.
fn schema_validator() -> jsonschema::Validator {
    let path = Path::new(CONFORMANCE).join("epcis/schema/epcis-json-schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the EPCIS schema does not compile: {e}"))
}

/// Assert that an exported document is valid EPCIS: the ratified schema and ours.
#[track_caller]
fn assert_valid_export(validator: &jsonschema::Validator, what: &str, doc: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the exported document fails the EPCIS schema: {errors:#?}\n{doc:#}"
    );
    if let Err(problems) = waybill_epcis::validate::validate_document(doc) {
        panic!("{what}: the exported document fails validate_document: {problems:#?}\n{doc:#}");
    }
    assert_eq!(doc["type"], "EPCISQueryDocument", "{what}");
}

/// A ledger and its router.
struct Net {
    chain: TestChain,
    shared: Arc<Shared>,
    app: Router,
    /// Who captured what: a job is read by its submitter's organization.
    submitters: std::sync::Mutex<BTreeMap<String, SecretKey>>,
}

impl Net {
    fn new(orgs: &[(&str, &[Role], &[&str], &SecretKey)]) -> Net {
        Self::on_chain(orgs, TestChain::new)
    }

    /// A ledger and its router that read the time from `clock`.
    fn with_clock(orgs: &[(&str, &[Role], &[&str], &SecretKey)], clock: &ManualClock) -> Net {
        let clock: Arc<dyn Clock> = Arc::new(clock.clone());
        Self::on_chain(orgs, |g, v| TestChain::with_clock(g, v, clock))
    }

    fn on_chain(
        orgs: &[(&str, &[Role], &[&str], &SecretKey)],
        chain: impl FnOnce(waybill_types::Genesis, SecretKey) -> TestChain,
    ) -> Net {
        let validator = SecretKey::from_label("epcis-validator");
        let genesis = test_genesis(orgs, &validator);
        assert_eq!(genesis.chain_id, CHAIN_ID);
        let chain = chain(genesis, validator);
        let shared = chain.shared();
        let app = waybill_api::app(shared.clone());
        Net {
            chain,
            shared,
            app,
            submitters: Default::default(),
        }
    }

    fn commit(&mut self) -> u64 {
        self.chain.commit_block().expect("block commits").0
    }

    /// POST /v1/tx, assert accepted; the id.
    async fn submit(&self, stx: &SignedTx) -> String {
        let a = post_json(&self.app, "/v1/tx", &tx_body(stx)).await;
        assert_eq!(
            a.status,
            StatusCode::ACCEPTED,
            "submission refused: {}",
            a.text()
        );
        a.json()["tx_id"].as_str().expect("tx_id").to_string()
    }

    /// Submit all, commit one block, assert every one applied; the height.
    async fn apply_all(&mut self, stxs: &[SignedTx]) -> u64 {
        let mut ids = Vec::new();
        for s in stxs {
            ids.push(self.submit(s).await);
        }
        let h = self.commit();
        for (id, s) in ids.iter().zip(stxs) {
            let v = common::get_ok(&self.app, &format!("/v1/txs/{id}")).await;
            assert_eq!(
                v["receipt"]["status"],
                "applied",
                "{} was not applied: {v}",
                s.tx.payload.kind()
            );
            assert_eq!(v["height"], h);
        }
        h
    }

    /// Capture `body` as `signer` (no wait): 202 with the capture id, the Location
    /// header and the number of events. Not committed yet.
    async fn capture(&self, signer: &mut Signer, body: &str) -> String {
        let nonce = signer.next_nonce;
        let (a, h) = call(&self.app, capture_request(&signer.key, nonce, body, "")).await;
        assert_eq!(
            a.status,
            StatusCode::ACCEPTED,
            "capture refused: {}",
            a.text()
        );
        signer.next_nonce += 1;
        let v = a.json();
        let id = v["captureID"].as_str().expect("captureID").to_string();
        self.submitters
            .lock()
            .expect("lock")
            .insert(id.clone(), signer.key.clone());
        assert_eq!(id.len(), 64, "{v}");
        let location = format!("/epcis/capture/{id}");
        assert_eq!(v["location"], location);
        assert_eq!(
            h.get(header::LOCATION).and_then(|l| l.to_str().ok()),
            Some(location.as_str())
        );
        let doc: Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(v["events"], events_of(&doc).len());
        id
    }

    /// GET /epcis/capture/{id}, signed by the member that captured it.
    async fn job(&self, id: &str) -> Value {
        let key = self.submitters.lock().expect("lock")[id].clone();
        get_as_ok(&self.app, &key, &format!("/epcis/capture/{id}")).await
    }

    /// Capture, commit, and assert the capture job succeeded; the job.
    async fn capture_ok(&mut self, signer: &mut Signer, doc: &Value) -> Value {
        let id = self.capture(signer, &doc.to_string()).await;
        let h = self.commit();
        let job = self.job(&id).await;
        assert_eq!(job["captureID"], id);
        assert_eq!(job["running"], false, "{job}");
        assert_eq!(job["success"], true, "capture failed: {job}");
        assert_eq!(job["height"], h, "{job}");
        job
    }

    /// The time of block `h`, ms.
    async fn block_time(&self, h: u64) -> u64 {
        common::get_ok(&self.app, &format!("/v1/blocks/{h}")).await["header"]["time_ms"]
            .as_u64()
            .expect("time_ms")
    }

    /// The committed height and state hash.
    async fn head(&self) -> (u64, String, u64) {
        let v = common::get_ok(&self.app, "/v1/status").await;
        (
            v["height"].as_u64().expect("height"),
            v["state_hash"].as_str().expect("state_hash").to_string(),
            v["mempool_txs"].as_u64().expect("mempool_txs"),
        )
    }
}

/// An EPCIS document with the standard context.
fn epcis_doc(events: Vec<Value>) -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-06T12:00:00.000Z",
        "epcisBody": { "eventList": events }
    })
}

/// Every page of `GET /epcis/events?{query}` as `key`, following the `Link` header
/// (or, with `by_token`, the `GS1-Next-Page-Token` header); the events in order.
async fn all_pages(
    app: &Router,
    key: &SecretKey,
    query: &str,
    by_token: bool,
) -> (Vec<Value>, usize) {
    let mut out = Vec::new();
    let mut pages = 0;
    let mut next = Some(format!("/epcis/events?{query}"));
    while let Some(uri) = next.take() {
        pages += 1;
        assert!(pages < 100, "paging does not end");
        let (a, h) = get_as(app, key, &uri).await;
        assert_eq!(a.status, StatusCode::OK, "GET {uri}: {}", a.text());
        let doc = a.json();
        out.extend(events_of(&doc));
        let link = h
            .get(header::LINK)
            .map(|l| l.to_str().expect("ASCII").to_string());
        let token = h
            .get("gs1-next-page-token")
            .map(|t| t.to_str().expect("ASCII").to_string());
        assert_eq!(
            link.is_some(),
            token.is_some(),
            "Link and GS1-Next-Page-Token go together"
        );
        if let (Some(link), Some(token)) = (link, token) {
            let target = link
                .strip_prefix('<')
                .and_then(|l| l.split_once('>'))
                .map(|(t, rest)| {
                    assert_eq!(rest, "; rel=\"next\"", "{link}");
                    t.to_string()
                })
                .unwrap_or_else(|| panic!("Link header `{link}` is not <uri>; rel=\"next\""));
            assert!(target.starts_with("/epcis/events?"), "{target}");
            assert!(
                target.ends_with(&format!("nextPageToken={token}")),
                "{target}"
            );
            next = Some(if by_token {
                format!("/epcis/events?{query}&nextPageToken={token}")
            } else {
                target
            });
        }
    }
    (out, pages)
}

// ---------------------------------------------------------------------------
// 1. The GS1 examples
// ---------------------------------------------------------------------------

/// Every `*.jsonld` under `epcis/examples/JSON`, sorted: (relative name, text).
fn gs1_examples() -> Vec<(String, String)> {
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                collect(&path, out);
            } else if path.extension().is_some_and(|x| x == "jsonld") {
                out.push(path);
            }
        }
    }
    let root = Path::new(CONFORMANCE).join("epcis/examples/JSON");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let name = f
                .strip_prefix(&root)
                .expect("under root")
                .display()
                .to_string();
            let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, text)
        })
        .collect()
}

/// The company prefix of a location identifier: the SGLN's, else the first 7 digits.
fn company_prefix(id: &str, gln: &str) -> String {
    match id.strip_prefix("urn:epc:id:sgln:") {
        Some(rest) => rest.split('.').next().expect("split").to_string(),
        None => gln[..7].to_string(),
    }
}

/// What capturing one example showed.
struct ExampleOutcome {
    events: usize,
    with_originals: usize,
    query_document: bool,
}

async fn check_example(
    validator: &jsonschema::Validator,
    name: &str,
    text: &str,
) -> ExampleOutcome {
    let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let events = events_of(&doc);
    assert!(!events.is_empty(), "{name} has events");
    let input_hashes = hash_ids(&doc);

    let (mut net, mut capturer) = example_net(&events).await;
    let (mut expected_hashes, n_originals) =
        capture_originals(&mut net, &mut capturer, name, &doc, &events).await;
    let (job, new_hashes) = capture_as_published(
        &mut net,
        &mut capturer,
        name,
        text,
        (&events, &input_hashes),
        &mut expected_hashes,
    )
    .await;
    let (exported, out_hashes) =
        export_is_valid(&net, &capturer, validator, name, &expected_hashes).await;
    let out_events = exported_events_are_as_captured(
        &net,
        name,
        &doc,
        (&events, &input_hashes),
        (&job, &new_hashes),
        &exported,
    )
    .await;
    each_event_by_its_id(&net, &capturer, name, &out_events, &out_hashes).await;
    recapture_stores_nothing(
        &mut net,
        &mut capturer,
        name,
        &doc,
        events.len(),
        &expected_hashes,
    )
    .await;
    ExampleOutcome {
        events: events.len(),
        with_originals: n_originals,
        query_document: doc["type"] == "EPCISQueryDocument",
    }
}

async fn example_net(events: &[Value]) -> (Net, Signer) {
    // The organization owns the company prefixes of the bizLocations; its locations
    // are registered; a member holds every writer role.
    let mut glns = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    for e in events {
        if let Some(id) = e.pointer("/bizLocation/id").and_then(Value::as_str) {
            let gln = gln_of(id);
            prefixes.insert(company_prefix(id, gln.as_str()));
            glns.insert(gln.as_str().to_string());
        }
    }
    // GS1 company prefixes never nest: keep the shortest.
    let prefixes: Vec<String> = prefixes
        .iter()
        .filter(|p| {
            !prefixes
                .iter()
                .any(|q| q != *p && p.starts_with(q.as_str()))
        })
        .cloned()
        .collect();
    let prefix_refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let mut admin = Signer::new("gs1-examples-admin");
    let capturer = Signer::new("gs1-examples-capturer");
    let mut net = Net::new(&[("gs1-examples", WRITERS, &prefix_refs, &admin.key)]);
    let mut setup = vec![admin.sign(member(capturer.public(), "EPCIS capture", WRITERS))];
    for g in &glns {
        setup.push(admin.sign(location(
            g.parse().expect("GLN"),
            &format!("site {g}"),
            "site",
            "DE",
        )));
    }
    net.apply_all(&setup).await;

    (net, capturer)
}

async fn capture_originals(
    net: &mut Net,
    capturer: &mut Signer,
    name: &str,
    doc: &Value,
    events: &[Value],
) -> (Vec<String>, usize) {
    // An error declaration corrects an event already recorded: capture those first
    // (the same event without `errorDeclaration`), unless the document carries them.
    let originals: Vec<Value> = events
        .iter()
        .filter(|e| e.get("errorDeclaration").is_some())
        .filter(|e| {
            let eid = e.get("eventID");
            eid.is_none()
                || !events
                    .iter()
                    .any(|o| o.get("errorDeclaration").is_none() && o.get("eventID") == eid)
        })
        .map(|e| {
            let mut o = e.clone();
            o.as_object_mut()
                .expect("object")
                .remove("errorDeclaration");
            o
        })
        .collect();
    let mut expected_hashes = Vec::new();
    if !originals.is_empty() {
        let mut od = doc.clone();
        od["type"] = json!("EPCISDocument");
        od.as_object_mut().expect("object").remove("epcisBody");
        od["epcisBody"] = json!({ "eventList": originals });
        let job = net.capture_ok(capturer, &od).await;
        assert_eq!(job["eventsCaptured"], originals.len(), "{name}: {job}");
        expected_hashes.extend(hash_ids(&od));
    }

    (expected_hashes, originals.len())
}

async fn capture_as_published(
    net: &mut Net,
    capturer: &mut Signer,
    name: &str,
    text: &str,
    (events, input_hashes): (&[Value], &[String]),
    expected_hashes: &mut Vec<String>,
) -> (Value, Vec<String>) {
    // Capture the example exactly as published.
    let id = net.capture(capturer, text).await;
    let pending = net.job(&id).await;
    assert_eq!(pending["running"], true, "{name}: {pending}");
    let h = net.commit();
    let job = net.job(&id).await;
    assert_eq!(job["success"], true, "{name}: capture failed: {job}");
    assert_eq!(job["running"], false, "{name}");
    assert_eq!(job["height"], h, "{name}");
    assert_eq!(job["captureErrorBehaviour"], "rollback", "{name}");
    let mut seen = BTreeSet::new();
    let mut new_hashes = Vec::new();
    for (i, (e, hid)) in events.iter().zip(input_hashes).enumerate() {
        let decl = e.get("errorDeclaration").is_some();
        let dup = !seen.insert((hid.clone(), decl));
        assert_eq!(
            job["events"][i]["hash_id"], *hid,
            "{name}: event {i}: {job}"
        );
        assert_eq!(
            job["events"][i]["duplicate"], dup,
            "{name}: event {i}: {job}"
        );
        if !dup {
            new_hashes.push(hid.clone());
        }
    }
    assert_eq!(job["eventsCaptured"], new_hashes.len(), "{name}: {job}");
    assert_eq!(
        job["duplicatesSkipped"],
        events.len() - new_hashes.len(),
        "{name}"
    );
    expected_hashes.extend(new_hashes.iter().cloned());

    (job, new_hashes)
}

async fn export_is_valid(
    net: &Net,
    capturer: &Signer,
    validator: &jsonschema::Validator,
    name: &str,
    expected_hashes: &[String],
) -> (Value, Vec<String>) {
    // Export: valid EPCIS, the same events with the same Event Hash IDs.
    let (a, h) = get_as(&net.app, &capturer.key, "/epcis/events?perPage=1000").await;
    assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.text());
    assert_eq!(
        a.content_type.as_deref(),
        Some("application/ld+json"),
        "{name}"
    );
    assert!(
        h.get(header::LINK).is_none(),
        "{name}: one page holds everything"
    );
    let exported = a.json();
    assert_valid_export(validator, name, &exported);
    let out_hashes = hash_ids(&exported);
    assert_eq!(
        out_hashes, expected_hashes,
        "{name}: exported Event Hash IDs"
    );
    (exported, out_hashes)
}

async fn exported_events_are_as_captured(
    net: &Net,
    name: &str,
    doc: &Value,
    (events, input_hashes): (&[Value], &[String]),
    (job, new_hashes): (&Value, &[String]),
    exported: &Value,
) -> Vec<Value> {
    let out_events = events_of(exported);
    let record_time = waybill_api::epcis::rfc3339_ms(net.block_time(h_of(job)).await);
    let skip = out_events.len() - new_hashes.len();
    let firsts: Vec<&Value> = {
        let mut s = BTreeSet::new();
        events
            .iter()
            .zip(input_hashes)
            .filter(|(e, hid)| s.insert(((*hid).clone(), e.get("errorDeclaration").is_some())))
            .map(|(e, _)| e)
            .collect()
    };
    for (input, out) in firsts.iter().zip(&out_events[skip..]) {
        let mut out = out.as_object().expect("object").clone();
        assert_eq!(
            out["recordTime"], record_time,
            "{name}: recordTime is the block time"
        );
        let eid = out
            .remove("eventID")
            .expect("every exported event has an eventID");
        match input.get("eventID") {
            Some(i) => assert_eq!(&eid, i, "{name}: eventID kept"),
            None => assert_eq!(
                eid,
                json!(waybill_epcis::hash_id::event_hash_id(
                    input.as_object().expect("object"),
                    &Namespaces::from_context(&doc["@context"])
                )
                .expect("hash")),
                "{name}: an event without eventID is exported with its Event Hash ID"
            ),
        }
        out.remove("recordTime");
        let mut inp = input.as_object().expect("object").clone();
        inp.remove("eventID");
        inp.remove("recordTime");
        assert_eq!(
            Value::Object(out),
            Value::Object(inp),
            "{name}: the event as captured"
        );
    }

    out_events
}

async fn each_event_by_its_id(
    net: &Net,
    capturer: &Signer,
    name: &str,
    out_events: &[Value],
    out_hashes: &[String],
) {
    // Each exported event by its eventID.
    for (e, hid) in out_events.iter().zip(out_hashes) {
        let eid = e["eventID"].as_str().expect("eventID");
        let v = get_as_ok(
            &net.app,
            &capturer.key,
            &format!("/epcis/events/{}", pct(eid)),
        )
        .await;
        assert_eq!(v["type"], "EPCISQueryDocument", "{name}");
        assert!(
            hash_ids(&v).contains(hid),
            "{name}: GET /epcis/events/{eid} does not hold {hid}: {v}"
        );
        assert!(
            events_of(&v).iter().all(|x| x["eventID"] == eid),
            "{name}: GET /epcis/events/{eid}: {v}"
        );
    }
}

async fn recapture_stores_nothing(
    net: &mut Net,
    capturer: &mut Signer,
    name: &str,
    doc: &Value,
    n_events: usize,
    expected_hashes: &[String],
) {
    // Capturing it again stores nothing new.
    let again = net.capture_ok(capturer, doc).await;
    assert_eq!(again["eventsCaptured"], 0, "{name}: {again}");
    assert_eq!(again["duplicatesSkipped"], n_events, "{name}: {again}");
    assert!(
        again["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["duplicate"] == true),
        "{name}: {again}"
    );
    let after = get_as_ok(&net.app, &capturer.key, "/epcis/events?perPage=1000").await;
    assert_eq!(
        hash_ids(&after),
        expected_hashes,
        "{name}: nothing new stored"
    );
}

fn h_of(job: &Value) -> u64 {
    job["height"].as_u64().expect("height")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gs1_examples_capture_export_and_recapture() {
    let validator = Arc::new(schema_validator());
    let examples = gs1_examples();
    assert_eq!(
        examples.len(),
        47,
        "the conformance set has 47 JSON examples"
    );
    // Two at a time: each on a chain of its own.
    let mut outcomes = BTreeMap::new();
    for pair in examples.chunks(2) {
        let mut handles = Vec::new();
        for (name, text) in pair.iter().cloned() {
            let v = validator.clone();
            handles.push(tokio::spawn(async move {
                let o = check_example(&v, &name, &text).await;
                (name, o)
            }));
        }
        for h in handles {
            let (name, o) = h.await.expect("example check panicked");
            outcomes.insert(name, o);
        }
    }
    assert_eq!(outcomes.len(), 47);
    let query_docs: Vec<&String> = outcomes
        .iter()
        .filter(|(_, o)| o.query_document)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(query_docs, ["EPCISQueryDocument.jsonld"]);
    let events: usize = outcomes.values().map(|o| o.events).sum();
    assert!(events >= 55, "{events} events in the examples");
    assert!(
        outcomes.values().filter(|o| o.with_originals > 0).count() >= 5,
        "the error declaration examples are exercised"
    );
}

// ---------------------------------------------------------------------------
// The journey
// ---------------------------------------------------------------------------

const ORCH: &str = "pujiang-orchard";
const COLD: &str = "coldchain-express";
const SHOP: &str = "tmall-fresh";
const CUST: &str = "ningbo-customs";
const REG: &str = "samr";
/// A platform competing with SHOP: same role, never holds the journey's goods.
const RIVAL: &str = "jd-fresh";

const B1: &str = "urn:epc:id:sgtin:6901234.000001.B1";
const P1: &str = "urn:epc:id:sscc:6901234.0000000001";
const FRUIT_CLASS: &str = "urn:epc:class:lgtin:6901234.000001.H2611";
const FARM: &str = "urn:epc:id:sgln:6901234.00001.0";
const PACKHOUSE: &str = "urn:epc:id:sgln:6901234.00002.0";
const WAREHOUSE: &str = "urn:epc:id:sgln:6905555.00001.0";
const STORE: &str = "urn:epc:id:sgln:6907777.00001.0";
const CUSTOMS_OFFICE: &str = "urn:epc:id:sgln:6908888.00001.0";
const PO: &str = "https://tmall-fresh.example/po/PO-1001";
const ORDER: &str = "https://tmall-fresh.example/order/TM-77";
const INSPECTION_ID: &str = "urn:uuid:0c5b6d3e-2f43-4a57-9d1c-7a3b9e1f0e06";

/// Carton `n` (serialised, GTIN 0690123400002x).
fn carton(n: u32) -> String {
    format!("urn:epc:id:sgtin:6901234.000002.C{n}")
}

/// The fruit GTIN and the carton GTIN.
fn fruit_gtin() -> String {
    gtin("0690123400001")
}
fn carton_gtin() -> String {
    gtin("0690123400002")
}

/// Canonical lot identifiers.
fn fruit_lot() -> String {
    format!("https://id.gs1.org/01/{}/10/H2611", fruit_gtin())
}
fn carton_lot() -> String {
    format!("https://id.gs1.org/01/{}/10/L2611", carton_gtin())
}

fn ev(kind: &str, time: &str, fields: Value) -> Value {
    let mut e = json!({ "type": kind, "eventTime": time, "eventTimeZoneOffset": "+08:00" });
    for (k, v) in fields.as_object().expect("fields").clone() {
        e[k] = v;
    }
    e
}

/// The journey's events by label.
fn journey_events() -> BTreeMap<&'static str, Value> {
    let cartons: Vec<String> = (1..=4).map(carton).collect();
    let mut events = BTreeMap::from(production_events(&cartons));
    events.extend(logistics_events(&cartons));
    events
}

/// Harvest, sorting, packing into cartons, palletizing.
fn production_events(cartons: &[String]) -> [(&'static str, Value); 4] {
    [
        // The producer harvests a bin of fruit (lot H2611).
        (
            "harvest",
            ev(
                "ObjectEvent",
                "2026-11-01T06:00:00.000+08:00",
                json!({
                    "eventID": "urn:uuid:6f1c0c4e-1b2a-4c3d-8e4f-000000000001",
                    "action": "ADD", "epcList": [B1], "bizStep": "commissioning", "disposition": "active",
                    "readPoint": {"id": FARM}, "bizLocation": {"id": FARM},
                    "ilmd": {"cbvmda:lotNumber": "H2611"}
                }),
            ),
        ),
        // Sorts the fruit lot by weight.
        (
            "sorting",
            ev(
                "ObjectEvent",
                "2026-11-02T07:00:00.000+08:00",
                json!({
                    "action": "OBSERVE", "bizStep": "repackaging",
                    "quantityList": [{"epcClass": FRUIT_CLASS, "quantity": 480, "uom": "KGM"}],
                    "readPoint": {"id": PACKHOUSE}, "bizLocation": {"id": PACKHOUSE}
                }),
            ),
        ),
        // Packs it into four cartons of lot L2611.
        (
            "cartons",
            ev(
                "TransformationEvent",
                "2026-11-02T08:00:00.000+08:00",
                json!({
                    "inputEPCList": [B1], "outputEPCList": cartons,
                    "bizStep": "commissioning", "disposition": "active",
                    "readPoint": {"id": PACKHOUSE}, "bizLocation": {"id": PACKHOUSE},
                    "ilmd": {"cbvmda:lotNumber": "L2611"}
                }),
            ),
        ),
        // Puts the cartons on a pallet.
        (
            "pallet",
            ev(
                "AggregationEvent",
                "2026-11-02T09:00:00.000+08:00",
                json!({
                    "action": "ADD", "parentID": P1, "childEPCs": cartons,
                    "bizStep": "packing", "disposition": "in_progress",
                    "readPoint": {"id": PACKHOUSE}, "bizLocation": {"id": PACKHOUSE}
                }),
            ),
        ),
    ]
}

/// Shipping, inspection, unloading, delivery, sale.
fn logistics_events(cartons: &[String]) -> [(&'static str, Value); 5] {
    [
        // The carrier ships the pallet from the packhouse (delegated) to the store.
        (
            "shipping",
            ev(
                "ObjectEvent",
                "2026-11-03T10:00:00.000+08:00",
                json!({
                    "action": "OBSERVE", "epcList": [P1],
                    "bizStep": "shipping", "disposition": "in_transit",
                    "readPoint": {"id": PACKHOUSE}, "bizLocation": {"id": PACKHOUSE},
                    "bizTransactionList": [{"type": "po", "bizTransaction": PO}],
                    "sourceList": [{"type": "location", "source": PACKHOUSE}],
                    "destinationList": [{"type": "location", "destination": STORE}]
                }),
            ),
        ),
        // Customs inspects the pallet.
        (
            "inspection",
            ev(
                "ObjectEvent",
                "2026-11-04T10:00:00.000+08:00",
                json!({
                    "eventID": INSPECTION_ID,
                    "action": "OBSERVE", "epcList": [P1],
                    "bizStep": "inspecting", "disposition": "conformant",
                    "readPoint": {"id": CUSTOMS_OFFICE}, "bizLocation": {"id": CUSTOMS_OFFICE}
                }),
            ),
        ),
        // The warehouse breaks the pallet down.
        (
            "unloading",
            ev(
                "AggregationEvent",
                "2026-11-04T14:00:00.000+08:00",
                json!({
                    "action": "DELETE", "parentID": P1, "childEPCs": cartons,
                    "bizStep": "unloading", "disposition": "in_progress",
                    "readPoint": {"id": WAREHOUSE}, "bizLocation": {"id": WAREHOUSE}
                }),
            ),
        ),
        // The carrier delivers two cartons to the store (delegated).
        (
            "delivery",
            ev(
                "ObjectEvent",
                "2026-11-05T09:00:00.000+08:00",
                json!({
                    "action": "OBSERVE", "epcList": [carton(1), carton(2)],
                    "bizStep": "receiving", "disposition": "in_progress",
                    "readPoint": {"id": STORE}, "bizLocation": {"id": STORE},
                    "bizTransactionList": [{"type": "https://ref.gs1.org/cbv/BTT-po", "bizTransaction": PO}],
                    "destinationList": [{"type": "location", "destination": STORE}]
                }),
            ),
        ),
        // The platform sells one.
        (
            "sale",
            ev(
                "ObjectEvent",
                "2026-11-06T12:00:00.000+08:00",
                json!({
                    "action": "OBSERVE", "epcList": [carton(1)],
                    "bizStep": "retail_selling", "disposition": "retail_sold",
                    "readPoint": {"id": STORE}, "bizLocation": {"id": STORE},
                    "bizTransactionList": [{"type": "inv", "bizTransaction": ORDER}]
                }),
            ),
        ),
    ]
}

/// Every label, in capture order.
const ALL: &[&str] = &[
    "harvest",
    "sorting",
    "cartons",
    "pallet",
    "shipping",
    "inspection",
    "unloading",
    "delivery",
    "sale",
];

struct Journey {
    net: Net,
    admins: BTreeMap<&'static str, Signer>,
    producer: Signer,
    carrier: Signer,
    shop: Signer,
    inspector: Signer,
    regulator: Signer,
    /// A member of RIVAL (platform).
    rival: Signer,
    /// Label → Event Hash ID.
    hashes: BTreeMap<&'static str, String>,
    /// Heights: "setup", "production", "transport", "retail".
    heights: BTreeMap<&'static str, u64>,
    /// Transaction ids by name.
    txs: BTreeMap<&'static str, String>,
}

impl Journey {
    fn admin(&mut self, org: &str) -> &mut Signer {
        self.admins.get_mut(org).expect("known org")
    }

    /// Label → hash lookup the other way round.
    fn labels(&self, doc: &Value) -> Vec<&'static str> {
        hash_ids(doc)
            .iter()
            .map(|h| {
                *self
                    .hashes
                    .iter()
                    .find(|(_, v)| *v == h)
                    .unwrap_or_else(|| panic!("unknown event {h}"))
                    .0
            })
            .collect()
    }
}

async fn journey() -> Journey {
    let mut admins: BTreeMap<&'static str, Signer> = [ORCH, COLD, SHOP, CUST, REG, RIVAL]
        .into_iter()
        .map(|o| (o, Signer::new(&format!("admin-{o}"))))
        .collect();
    let mut net = Net::new(&[
        (
            ORCH,
            &[Role::Producer, Role::Processor],
            &["6901234"],
            &admins[ORCH].key,
        ),
        (
            COLD,
            &[Role::Carrier, Role::Warehouse],
            &["6905555"],
            &admins[COLD].key,
        ),
        (SHOP, &[Role::Platform], &["6907777"], &admins[SHOP].key),
        (
            CUST,
            &[Role::Customs, Role::Inspector],
            &["6908888"],
            &admins[CUST].key,
        ),
        (REG, &[Role::Regulator], &[], &admins[REG].key),
        (RIVAL, &[Role::Platform], &["6906666"], &admins[RIVAL].key),
    ]);
    let mut producer = Signer::new("li-wei");
    let mut carrier = Signer::new("zhang-min");
    let mut shop = Signer::new("tmall-ops");
    let mut inspector = Signer::new("customs-inspector");
    let regulator = Signer::new("samr-auditor");
    let rival = Signer::new("jd-ops");
    let mut txs = BTreeMap::new();

    let h_setup = journey_members_and_locations(
        &mut net,
        &mut admins,
        (&producer, &carrier, &shop, &inspector, &regulator),
        &rival,
    )
    .await;
    journey_products_and_lots(&mut net, &mut admins, &mut producer, &mut txs).await;
    let (hashes, [h_production, h_transport, h_retail]) = journey_captures(
        &mut net,
        &mut txs,
        (&mut producer, &mut carrier, &mut inspector, &mut shop),
    )
    .await;
    Journey {
        net,
        admins,
        producer,
        carrier,
        shop,
        inspector,
        regulator,
        rival,
        hashes,
        heights: BTreeMap::from([
            ("setup", h_setup),
            ("production", h_production),
            ("transport", h_transport),
            ("retail", h_retail),
        ]),
        txs,
    }
}

async fn journey_members_and_locations(
    net: &mut Net,
    admins: &mut BTreeMap<&'static str, Signer>,
    (producer, carrier, shop, inspector, regulator): (&Signer, &Signer, &Signer, &Signer, &Signer),
    rival: &Signer,
) -> u64 {
    // Members and locations.
    let a = admins.get_mut(ORCH).expect("admin");
    let mut setup = vec![
        a.sign(member(
            producer.public(),
            "Li Wei",
            &[Role::Producer, Role::Processor],
        )),
        a.sign(location(
            gln_of(FARM),
            "Pujiang orchard, block 3",
            "farm",
            "CN",
        )),
        a.sign(location(
            gln_of(PACKHOUSE),
            "Pujiang packhouse",
            "plant",
            "CN",
        )),
    ];
    let a = admins.get_mut(COLD).expect("admin");
    setup.push(a.sign(member(
        carrier.public(),
        "Zhang Min",
        &[Role::Carrier, Role::Warehouse],
    )));
    setup.push(a.sign(location(
        gln_of(WAREHOUSE),
        "Ningbo cold store",
        "warehouse",
        "CN",
    )));
    let a = admins.get_mut(SHOP).expect("admin");
    setup.push(a.sign(member(
        shop.public(),
        "Tmall Fresh operations",
        &[Role::Platform],
    )));
    setup.push(a.sign(location(
        gln_of(STORE),
        "Tmall Fresh Hangzhou hub",
        "store",
        "CN",
    )));
    let a = admins.get_mut(CUST).expect("admin");
    setup.push(a.sign(member(
        inspector.public(),
        "Inspector Wu",
        &[Role::Customs, Role::Inspector],
    )));
    setup.push(a.sign(location(
        gln_of(CUSTOMS_OFFICE),
        "Ningbo customs",
        "customs office",
        "CN",
    )));
    for (org, who, name, roles) in [
        (REG, regulator, "SAMR auditor", &[Role::Regulator][..]),
        (RIVAL, rival, "JD Fresh operations", &[Role::Platform][..]),
    ] {
        let a = admins.get_mut(org).expect("admin");
        setup.push(a.sign(member(who.public(), name, roles)));
    }
    let h_setup = net.apply_all(&setup).await;

    h_setup
}

async fn journey_products_and_lots(
    net: &mut Net,
    admins: &mut BTreeMap<&'static str, Signer>,
    producer: &mut Signer,
    txs: &mut BTreeMap<&'static str, String>,
) {
    // Products, delegations; then lots.
    let p_fruit = producer.sign(product(&fruit_gtin(), "Navel oranges, bulk"));
    let p_carton = producer.sign(product(&carton_gtin(), "Navel oranges, 5 kg carton"));
    txs.insert("product_fruit", p_fruit.id().to_hex());
    txs.insert("product_carton", p_carton.id().to_hex());
    let d1 = admins
        .get_mut(ORCH)
        .expect("admin")
        .sign(Payload::SetLocationDelegate(SetLocationDelegate {
            gln: gln_of(PACKHOUSE),
            org: org_id(COLD),
            allowed: true,
        }));
    let d2 = admins
        .get_mut(SHOP)
        .expect("admin")
        .sign(Payload::SetLocationDelegate(SetLocationDelegate {
            gln: gln_of(STORE),
            org: org_id(COLD),
            allowed: true,
        }));
    net.apply_all(&[p_fruit, p_carton, d1, d2]).await;
    let lot = |g: &str, l: &str, raw: Vec<LotRef>| {
        Payload::RegisterLot(RegisterLot {
            gtin: parse_gtin(g),
            lot: l.to_string(),
            origin_gln: Some(gln_of(FARM)),
            produced_on: "2026-11-01".into(),
            quantity: 500,
            unit: "kg".into(),
            inputs: vec![],
            raw_materials: raw,
            claims: vec![],
        })
    };
    let l_fruit = producer.sign(lot(&fruit_gtin(), "H2611", vec![]));
    net.apply_all(std::slice::from_ref(&l_fruit)).await;
    let l_carton = producer.sign(lot(
        &carton_gtin(),
        "L2611",
        vec![LotRef {
            gtin: parse_gtin(&fruit_gtin()),
            lot: "H2611".into(),
        }],
    ));
    net.apply_all(std::slice::from_ref(&l_carton)).await;
    txs.insert("lot_fruit", l_fruit.id().to_hex());
    txs.insert("lot_carton", l_carton.id().to_hex());
}

async fn journey_captures(
    net: &mut Net,
    txs: &mut BTreeMap<&'static str, String>,
    (producer, carrier, inspector, shop): (&mut Signer, &mut Signer, &mut Signer, &mut Signer),
) -> (BTreeMap<&'static str, String>, [u64; 3]) {
    // The captures, in three blocks.
    let events = journey_events();
    let docs = |labels: &[&str]| epcis_doc(labels.iter().map(|l| events[l].clone()).collect());
    let mut hashes = BTreeMap::new();
    let mut record = |labels: &[&'static str], hs: Vec<String>| {
        for (l, h) in labels.iter().zip(hs) {
            hashes.insert(*l, h);
        }
    };
    let production = ["harvest", "sorting", "cartons", "pallet"];
    let d = docs(&production);
    record(&production, hash_ids(&d));
    let id = net.capture(producer, &d.to_string()).await;
    txs.insert("capture_production", id.clone());
    let h_production = net.commit();
    assert_eq!(net.job(&id).await["success"], true);

    let transport = ["shipping", "unloading"];
    let d = docs(&transport);
    record(&transport, hash_ids(&d));
    let id_t = net.capture(carrier, &d.to_string()).await;
    let d = docs(&["inspection"]);
    record(&["inspection"], hash_ids(&d));
    let id_i = net.capture(inspector, &d.to_string()).await;
    let h_transport = net.commit();
    for id in [&id_t, &id_i] {
        let job = net.job(id).await;
        assert_eq!(job["success"], true, "{job}");
    }
    txs.insert("capture_transport", id_t);
    txs.insert("capture_inspection", id_i);

    let d = docs(&["delivery"]);
    record(&["delivery"], hash_ids(&d));
    let id_d = net.capture(carrier, &d.to_string()).await;
    let d = docs(&["sale"]);
    record(&["sale"], hash_ids(&d));
    let id_s = net.capture(shop, &d.to_string()).await;
    let h_retail = net.commit();
    for id in [&id_d, &id_s] {
        let job = net.job(id).await;
        assert_eq!(job["success"], true, "{job}");
    }
    txs.insert("capture_delivery", id_d);
    txs.insert("capture_sale", id_s);
    assert_eq!(hashes.len(), ALL.len());

    (hashes, [h_production, h_transport, h_retail])
}

/// The labels of the events `GET /epcis/events?{query}` returns to `key`, sorted.
async fn query(j: &Journey, key: &SecretKey, query: &str) -> Vec<&'static str> {
    let (a, h) = get_as(&j.net.app, key, &format!("/epcis/events?{query}")).await;
    assert_eq!(a.status, StatusCode::OK, "?{query}: {}", a.text());
    assert!(h.get(header::LINK).is_none(), "?{query}: one page");
    let mut l = j.labels(&a.json());
    l.sort_unstable();
    l
}

fn sorted(mut v: Vec<&'static str>) -> Vec<&'static str> {
    v.sort_unstable();
    v
}

// ---------------------------------------------------------------------------
// 2. Query parameters and paging
// ---------------------------------------------------------------------------

#[tokio::test]
async fn query_parameters_filter_and_page() {
    let j = journey().await;
    let k = &j.regulator.key;
    let all = sorted(ALL.to_vec());
    assert_eq!(query(&j, k, "").await, all);
    assert_eq!(query(&j, k, "perPage=100").await, all);

    filters_by_type_and_event_time(&j, k).await;
    filters_by_record_time_and_vocabulary(&j, k).await;
    filters_by_location_and_identifier(&j, k).await;
    filters_by_input_output_and_class(&j, k).await;
    filters_by_transaction_and_together(&j, k).await;
    paging_by_per_page(&j, k, &all).await;
    bad_query_parameters(&j, k).await;
}

async fn filters_by_type_and_event_time(j: &Journey, k: &SecretKey) {
    // eventType, one or several.
    assert_eq!(
        query(j, k, "eventType=AggregationEvent").await,
        sorted(vec!["pallet", "unloading"])
    );
    assert_eq!(
        query(j, k, "eventType=TransformationEvent|AggregationEvent").await,
        sorted(vec!["cartons", "pallet", "unloading"])
    );

    // Event time: GE inclusive, LT exclusive, any offset.
    let t = pct("2026-11-02T08:00:00+08:00");
    assert_eq!(
        query(j, k, &format!("LT_eventTime={t}")).await,
        sorted(vec!["harvest", "sorting"])
    );
    assert_eq!(
        query(
            j,
            k,
            &format!(
                "GE_eventTime={t}&LT_eventTime={}",
                pct("2026-11-03T02:00:00.001Z")
            )
        )
        .await,
        sorted(vec!["cartons", "pallet", "shipping"])
    );
    assert_eq!(
        query(
            j,
            k,
            &format!("GE_eventTime={}", pct("2026-11-04T06:00:00Z"))
        )
        .await,
        sorted(vec!["unloading", "delivery", "sale"])
    );
}

async fn filters_by_record_time_and_vocabulary(j: &Journey, k: &SecretKey) {
    // Record time: the block times.
    let t_transport = j.net.block_time(j.heights["transport"]).await;
    let t_retail = j.net.block_time(j.heights["retail"]).await;
    let rt = |ms: u64| pct(&waybill_api::epcis::rfc3339_ms(ms));
    assert_eq!(
        query(j, k, &format!("LT_recordTime={}", rt(t_transport))).await,
        sorted(vec!["harvest", "sorting", "cartons", "pallet"])
    );
    assert_eq!(
        query(
            j,
            k,
            &format!(
                "GE_recordTime={}&LT_recordTime={}",
                rt(t_transport),
                rt(t_retail)
            )
        )
        .await,
        sorted(vec!["shipping", "inspection", "unloading"])
    );
    assert_eq!(
        query(j, k, &format!("GE_recordTime={}", rt(t_retail))).await,
        sorted(vec!["delivery", "sale"])
    );

    // Vocabulary: bare word, web URI, URN.
    for step in [
        "shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
    ] {
        assert_eq!(
            query(j, k, &format!("EQ_bizStep={}", pct(step))).await,
            ["shipping"],
            "{step}"
        );
    }
    assert_eq!(
        query(j, k, "EQ_bizStep=shipping|receiving").await,
        sorted(vec!["shipping", "delivery"])
    );
    assert_eq!(
        query(j, k, "EQ_bizStep=destroying").await,
        Vec::<&str>::new()
    );
    assert_eq!(query(j, k, "EQ_disposition=in_transit").await, ["shipping"]);
    assert_eq!(
        query(
            j,
            k,
            &format!(
                "EQ_disposition={}",
                pct("https://ref.gs1.org/cbv/Disp-in_progress")
            )
        )
        .await,
        sorted(vec!["pallet", "unloading", "delivery"])
    );
}

async fn filters_by_location_and_identifier(j: &Journey, k: &SecretKey) {
    // Locations, as SGLN or Digital Link.
    assert_eq!(
        query(j, k, &format!("EQ_readPoint={}", pct(PACKHOUSE))).await,
        sorted(vec!["sorting", "cartons", "pallet", "shipping"])
    );
    assert_eq!(
        query(j, k, &format!("EQ_bizLocation={}", pct(&canon(WAREHOUSE)))).await,
        ["unloading"]
    );
    assert_eq!(
        query(j, k, &format!("EQ_bizLocation={}", pct(STORE))).await,
        sorted(vec!["delivery", "sale"])
    );

    // Identifiers by role; EPC URN, Digital Link and pattern forms.
    let c1 = carton(1);
    assert_eq!(
        query(j, k, &format!("MATCH_epc={}", pct(&c1))).await,
        sorted(vec!["pallet", "unloading", "delivery", "sale"])
    );
    assert_eq!(
        query(j, k, &format!("MATCH_epc={}", pct(&canon(&c1)))).await,
        sorted(vec!["pallet", "unloading", "delivery", "sale"])
    );
    assert_eq!(
        query(
            j,
            k,
            &format!("MATCH_epc={}", pct("urn:epc:idpat:sgtin:6901234.000002.*"))
        )
        .await,
        sorted(vec!["pallet", "unloading", "delivery", "sale"])
    );
    assert_eq!(
        query(j, k, &format!("MATCH_epc={}", pct(&carton(3)))).await,
        sorted(vec!["pallet", "unloading"])
    );
    assert_eq!(
        query(j, k, &format!("MATCH_anyEPC={}", pct(&c1))).await,
        sorted(vec!["cartons", "pallet", "unloading", "delivery", "sale"])
    );
    assert_eq!(
        query(j, k, &format!("MATCH_anyEPC={}", pct(P1))).await,
        sorted(vec!["pallet", "shipping", "inspection", "unloading"])
    );
    assert_eq!(
        query(j, k, &format!("MATCH_parentID={}", pct(P1))).await,
        sorted(vec!["pallet", "unloading"])
    );
    assert_eq!(
        query(j, k, &format!("MATCH_parentID={}", pct(&c1))).await,
        Vec::<&str>::new()
    );
}

async fn filters_by_input_output_and_class(j: &Journey, k: &SecretKey) {
    // Inputs, outputs and classes.
    assert_eq!(
        query(j, k, &format!("MATCH_inputEPC={}", pct(B1))).await,
        ["cartons"]
    );
    assert_eq!(
        query(j, k, &format!("MATCH_inputEPC={}", pct(&carton(1)))).await,
        Vec::<&str>::new()
    );
    assert_eq!(
        query(j, k, &format!("MATCH_outputEPC={}", pct(&carton(4)))).await,
        ["cartons"]
    );
    assert_eq!(
        query(j, k, &format!("MATCH_outputEPC={}", pct(B1))).await,
        Vec::<&str>::new()
    );
    assert_eq!(
        query(j, k, &format!("MATCH_epcClass={}", pct(FRUIT_CLASS))).await,
        ["sorting"]
    );
    assert_eq!(
        query(
            j,
            k,
            &format!(
                "MATCH_epcClass={}",
                pct("urn:epc:idpat:sgtin:6901234.000001.*")
            )
        )
        .await,
        ["sorting"]
    );
    assert_eq!(
        query(
            j,
            k,
            &format!("MATCH_epcClass={}", pct(&format!("{}/H2611", fruit_gtin())))
        )
        .await,
        ["sorting"],
        "GTIN/LOT names the class too"
    );
}

async fn filters_by_transaction_and_together(j: &Journey, k: &SecretKey) {
    let c1 = carton(1);
    // Business transactions by type (bare word or URI).
    assert_eq!(
        query(j, k, &format!("EQ_bizTransaction_po={}", pct(PO))).await,
        sorted(vec!["shipping", "delivery"])
    );
    assert_eq!(
        query(j, k, &format!("EQ_bizTransaction_inv={}", pct(ORDER))).await,
        ["sale"]
    );
    assert_eq!(
        query(j, k, &format!("EQ_bizTransaction_inv={}", pct(PO))).await,
        Vec::<&str>::new()
    );

    // Together: every parameter must hold.
    assert_eq!(
        query(
            j,
            k,
            &format!("MATCH_epc={}&EQ_bizStep=receiving", pct(&c1))
        )
        .await,
        ["delivery"]
    );
    assert_eq!(
        query(
            j,
            k,
            &format!(
                "MATCH_anyEPC={}&eventType=ObjectEvent&EQ_bizLocation={}",
                pct(P1),
                pct(CUSTOMS_OFFICE)
            )
        )
        .await,
        ["inspection"]
    );
}

async fn paging_by_per_page(j: &Journey, k: &SecretKey, all: &[&str]) {
    let c1 = carton(1);
    // Paging by perPage: the Link header, then the token, until done.
    for (q, expected) in [
        ("perPage=2".to_string(), all.to_vec()),
        ("perPage=1".to_string(), all.to_vec()),
        (
            format!("perPage=2&MATCH_anyEPC={}", pct(&c1)),
            sorted(vec!["cartons", "pallet", "unloading", "delivery", "sale"]),
        ),
        (
            format!(
                "perPage=2&GE_eventTime={}",
                pct("2026-11-02T08:00:00+08:00")
            ),
            sorted(vec![
                "cartons",
                "pallet",
                "shipping",
                "inspection",
                "unloading",
                "delivery",
                "sale",
            ]),
        ),
    ] {
        for by_token in [false, true] {
            let (events, pages) = all_pages(&j.net.app, k, &q, by_token).await;
            let doc = epcis_doc(events);
            let labels = j.labels(&doc);
            let per_page: usize = q
                .split('&')
                .find_map(|p| p.strip_prefix("perPage="))
                .and_then(|n| n.parse().ok())
                .expect("perPage");
            assert!(
                pages >= expected.len().div_ceil(per_page),
                "?{q}: {pages} pages"
            );
            let unique: BTreeSet<&str> = labels.iter().copied().collect();
            assert_eq!(
                unique.len(),
                labels.len(),
                "?{q}: an event came twice: {labels:?}"
            );
            assert_eq!(sorted(labels), expected, "?{q} (by token: {by_token})");
        }
    }
    // In capture order across pages.
    let (events, _) = all_pages(&j.net.app, k, "perPage=4", false).await;
    let order = j.labels(&epcis_doc(events));
    assert_eq!(&order[..4], ["harvest", "sorting", "cartons", "pallet"]);
    assert_eq!(sorted(order[7..].to_vec()), ["delivery", "sale"]);
}

async fn bad_query_parameters(j: &Journey, k: &SecretKey) {
    // Bad parameters.
    for (q, names) in [
        ("EQ_colour=red", "EQ_colour"),
        ("MATCH_everything=x", "MATCH_everything"),
        ("perPage=2&orderBy=eventTime", "orderBy"),
    ] {
        let (a, _) = get_as(&j.net.app, k, &format!("/epcis/events?{q}")).await;
        let m = a.assert_error(StatusCode::BAD_REQUEST, "bad_query_parameter");
        assert!(m.contains(names), "{q}: {m}");
    }
    for q in [
        "GE_eventTime=yesterday",
        "LT_eventTime=2026-11-02",
        "GE_recordTime=2026-13-01T00:00:00Z",
        "LT_recordTime=2026-11-02T08:00:00",
    ] {
        let (a, _) = get_as(&j.net.app, k, &format!("/epcis/events?{q}")).await;
        let m = a.assert_error(StatusCode::BAD_REQUEST, "bad_query_parameter");
        let name = q.split('=').next().expect("name");
        assert!(m.contains(name), "{q}: {m}");
    }
    for q in [
        "perPage=0",
        "perPage=1001",
        "perPage=ten",
        "nextPageToken=abc",
    ] {
        let (a, _) = get_as(&j.net.app, k, &format!("/epcis/events?{q}")).await;
        a.assert_error(StatusCode::BAD_REQUEST, "bad_query_parameter");
    }
    let (a, _) = get_as(
        &j.net.app,
        k,
        "/epcis/events?MATCH_epc=urn:epc:id:sgtin:123",
    )
    .await;
    a.assert_error(StatusCode::BAD_REQUEST, "bad_query_parameter");
}

// ---------------------------------------------------------------------------
// 3. Capture errors and capture jobs
// ---------------------------------------------------------------------------

/// A storing event at the warehouse, for the carrier.
fn storing_doc(serial: u32, time: &str) -> String {
    epcis_doc(vec![ev(
        "ObjectEvent",
        time,
        json!({
            "action": "OBSERVE", "epcList": [carton(serial)], "bizStep": "storing",
            "readPoint": {"id": WAREHOUSE}, "bizLocation": {"id": WAREHOUSE}
        }),
    )])
    .to_string()
}

/// How many events the regulator sees.
async fn count(j: &Journey) -> usize {
    let v = get_as_ok(&j.net.app, &j.regulator.key, "/epcis/events?perPage=1000").await;
    events_of(&v).len()
}

#[tokio::test]
async fn capture_errors_and_capture_jobs() {
    let mut j = journey().await;
    let app = j.net.app.clone();
    assert_eq!(count(&j).await, 9);
    let head = j.net.head().await;
    let good = storing_doc(3, "2026-11-07T08:00:00.000+08:00");
    let key = j.carrier.key.clone();
    let seq = j.carrier.next_nonce;

    refused_unless_json_and_valid(&app, &key, seq, &good).await;
    refused_unless_signed_for_it(&app, (&key, &j.shop.key), seq, &good).await;
    refused_over_the_limit_or_unknown(&app, &key, seq, &good).await;
    committed_then_refused_again(&mut j, &app, &key, &good, head.clone()).await;
    rejected_at_commit(&mut j, &app).await;
    empty_documents_and_bad_ids(&j, &app, &key, &good).await;
}

async fn refused_unless_json_and_valid(app: &Router, key: &SecretKey, seq: u64, good: &str) {
    // Not JSON.
    for body in ["{\"type\": \"EPCISDocument\", ", "", "EPCISDocument"] {
        let (a, _) = call(app, capture_request(key, seq, body, "")).await;
        let m = a.assert_error(StatusCode::BAD_REQUEST, "malformed_json");
        assert!(m.contains("not valid JSON"), "{m}");
    }
    let mut not_utf8 = capture_request(key, seq, good, "");
    *not_utf8.body_mut() = Body::from(vec![b'{', 0xff, b'}']);
    call(app, not_utf8)
        .await
        .0
        .assert_error(StatusCode::BAD_REQUEST, "malformed_json");

    // Not valid EPCIS: every problem with its JSON pointer.
    let mut doc: Value = serde_json::from_str(good).expect("JSON");
    doc.as_object_mut().expect("object").remove("schemaVersion");
    let e = &mut doc["epcisBody"]["eventList"][0];
    e.as_object_mut().expect("object").remove("eventTime");
    e["bizStep"] = json!(42);
    e["epcList"] = json!(["urn:epc:id:sgtin:6901234.000002"]);
    let (a, _) = call(app, capture_request(key, seq, &doc.to_string(), "")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    let detail = a.assert_error(StatusCode::BAD_REQUEST, "invalid_epcis");
    assert!(detail.contains("nothing was captured"), "{detail}");
    let v = a.json();
    assert_eq!(v["type"], "epcisException:ValidationException", "{v}");
    let problems = v["problems"].as_array().expect("problems");
    let pointers: BTreeSet<&str> = problems
        .iter()
        .map(|p| {
            assert!(p["message"].as_str().is_some_and(|m| !m.is_empty()), "{p}");
            p["pointer"].as_str().expect("pointer")
        })
        .collect();
    for p in &pointers {
        assert!(
            p.is_empty() || p.starts_with('/'),
            "`{p}` is a JSON pointer"
        );
    }
    assert!(
        pointers.contains("/epcisBody/eventList/0/bizStep"),
        "{pointers:?}"
    );
    assert!(
        pointers
            .iter()
            .any(|p| p.starts_with("/epcisBody/eventList/0/epcList")),
        "{pointers:?}"
    );
    assert!(
        problems.iter().any(|p| p["message"]
            .as_str()
            .is_some_and(|m| m.contains("eventTime"))),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p["message"]
            .as_str()
            .is_some_and(|m| m.contains("schemaVersion"))),
        "{problems:?}"
    );
}

async fn refused_unless_signed_for_it(
    app: &Router,
    (key, shop_key): (&SecretKey, &SecretKey),
    seq: u64,
    good: &str,
) {
    // Unsigned: each header is required.
    for missing in [
        "waybill-signer",
        "waybill-nonce",
        "waybill-expires",
        "waybill-signature",
    ] {
        let mut req = capture_request(key, seq, good, "");
        req.headers_mut().remove(missing);
        let m = call(app, req)
            .await
            .0
            .assert_error(StatusCode::UNAUTHORIZED, "unsigned_capture");
        assert!(m.to_lowercase().contains(missing), "{m}");
    }
    for (name, value, code) in [
        ("waybill-signer", "not-a-key", "bad_key"),
        ("waybill-nonce", "seven", "bad_header"),
        ("waybill-expires", "soon", "bad_header"),
        ("waybill-signature", "abcd", "bad_signature"),
    ] {
        let mut req = capture_request(key, seq, good, "");
        req.headers_mut()
            .insert(name, value.parse().expect("header value"));
        call(app, req)
            .await
            .0
            .assert_error(StatusCode::BAD_REQUEST, code);
    }

    // A signature that is not over this document, this nonce or this key.
    let other = storing_doc(4, "2026-11-07T08:00:00.000+08:00");
    let mut wrong_doc = capture_request(key, seq, &other, "");
    *wrong_doc.body_mut() = Body::from(good.to_string());
    let mut wrong_seq = capture_request(key, seq + 1, good, "");
    wrong_seq
        .headers_mut()
        .insert("waybill-nonce", seq.to_string().parse().expect("value"));
    let mut wrong_key = capture_request(shop_key, seq, good, "");
    wrong_key.headers_mut().insert(
        "waybill-signer",
        key.public().to_hex().parse().expect("value"),
    );
    for req in [wrong_doc, wrong_seq, wrong_key] {
        let m = call(app, req)
            .await
            .0
            .assert_error(StatusCode::BAD_REQUEST, "bad_signature");
        assert!(m.to_lowercase().contains("signature"), "{m}");
    }
}

async fn refused_over_the_limit_or_unknown(app: &Router, key: &SecretKey, seq: u64, good: &str) {
    // Over the document limit.
    let mut big = good.to_string();
    big.push_str(&" ".repeat(waybill_types::limits::EPCIS_DOCUMENT_BYTES_MAX));
    let m = call(app, capture_request(key, seq, &big, ""))
        .await
        .0
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "document_too_large");
    assert!(
        m.contains(&waybill_types::limits::EPCIS_DOCUMENT_BYTES_MAX.to_string()),
        "{m}"
    );

    // An unknown signer.
    let stranger = SecretKey::from_label("stranger");
    let m = call(app, capture_request(&stranger, 1, good, ""))
        .await
        .0
        .assert_error(StatusCode::FORBIDDEN, "unknown_signer");
    assert!(m.contains(&stranger.public().to_hex()), "{m}");
}

async fn committed_then_refused_again(
    j: &mut Journey,
    app: &Router,
    key: &SecretKey,
    good: &str,
    head: (u64, String, u64),
) {
    // Nothing was stored or queued.
    assert_eq!(j.net.head().await, head);
    assert_eq!(j.net.commit(), head.0 + 1);
    assert_eq!(count(j).await, 9);

    // A committed capture.
    let job = j
        .net
        .capture_ok(&mut j.carrier, &serde_json::from_str(good).expect("JSON"))
        .await;
    assert_eq!(job["eventsCaptured"], 1, "{job}");
    assert_eq!(job["duplicatesSkipped"], 0, "{job}");
    assert_eq!(job["captureErrorBehaviour"], "rollback");
    let doc: Value = serde_json::from_str(good).expect("JSON");
    assert_eq!(job["events"][0]["hash_id"], hash_ids(&doc)[0]);
    assert_eq!(job["events"][0]["duplicate"], false);
    assert_eq!(count(j).await, 10);

    // The committed capture again; one expired, or expiring beyond the window.
    let used = j.carrier.next_nonce - 1;
    call(app, capture_request(key, used, good, ""))
        .await
        .0
        .assert_error(StatusCode::CONFLICT, "already_committed");
    let other = storing_doc(5, "2026-11-07T08:30:00.000+08:00");
    let now = waybill_client::now_ms();
    let m = call(app, capture_request_until(key, 77, now - 1, &other, ""))
        .await
        .0
        .assert_error(StatusCode::BAD_REQUEST, "expired_tx");
    assert!(m.contains("later expiry"), "{m}");
    call(
        app,
        capture_request_until(
            key,
            77,
            now + waybill_types::limits::TX_EXPIRY_WINDOW_MS_MAX + 60_000,
            &other,
            "",
        ),
    )
    .await
    .0
    .assert_error(StatusCode::BAD_REQUEST, "expiry_too_far");
    // The same capture twice while it waits.
    let seq_now = j.carrier.next_nonce;
    let (a, _) = call(app, capture_request(key, seq_now, &other, "")).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    call(app, capture_request(key, seq_now, &other, ""))
        .await
        .0
        .assert_error(StatusCode::CONFLICT, "duplicate");
    j.carrier.next_nonce += 1;
    j.net.commit();
    assert_eq!(count(j).await, 11);
}

async fn rejected_at_commit(j: &mut Journey, app: &Router) {
    // Rejected at commit: a carrier may not commission; a location must be registered
    // and be the capturer's or delegated to it; an error declaration needs its event.
    let [commissioning, unregistered, not_delegated, lone_declaration] =
        documents_rejected_at_commit();
    let mut rejected = Vec::new();
    rejected.push((
        j.net
            .capture(&mut j.carrier, &commissioning.to_string())
            .await,
        "may not write production",
    ));
    rejected.push((
        j.net
            .capture(&mut j.carrier, &unregistered.to_string())
            .await,
        "is not registered",
    ));
    rejected.push((
        j.net
            .capture(&mut j.producer, &not_delegated.to_string())
            .await,
        "is not delegated",
    ));
    rejected.push((
        j.net
            .capture(&mut j.carrier, &lone_declaration.to_string())
            .await,
        "no event with that eventID",
    ));
    let h = j.net.commit();
    for (id, reason) in &rejected {
        let job = j.net.job(id).await;
        assert_eq!(job["success"], false, "{job}");
        assert_eq!(job["running"], false, "{job}");
        assert_eq!(job["height"], h, "{job}");
        // Per-event errors, each with its pointer (the REST binding's `errors`).
        let e0 = &job["errors"][0];
        assert_eq!(e0["type"], "invalid_epcis", "{job}");
        let m = e0["detail"].as_str().expect("detail");
        assert!(m.contains(reason), "expected `{reason}` in {m}");
        assert!(
            e0["pointer"]
                .as_str()
                .is_some_and(|p| p.starts_with("/epcisBody/eventList/0")),
            "{job}"
        );
        for t in ["createdAt", "finishedAt"] {
            assert!(
                job[t].as_str().is_some_and(|t| t.ends_with('Z')),
                "{t}: {job}"
            );
        }
        assert!(job.get("eventsCaptured").is_none(), "{job}");
        let tx = common::get_ok(app, &format!("/v1/txs/{id}")).await;
        assert_eq!(tx["receipt"]["status"], "rejected", "{tx}");
    }
    assert_eq!(count(j).await, 11, "a rejected capture stores nothing");
}

fn documents_rejected_at_commit() -> [Value; 4] {
    let commissioning = epcis_doc(vec![ev(
        "ObjectEvent",
        "2026-11-07T09:00:00.000+08:00",
        json!({
            "action": "ADD", "epcList": [carton(9)], "bizStep": "commissioning",
            "bizLocation": {"id": WAREHOUSE}
        }),
    )]);
    let unregistered = epcis_doc(vec![ev(
        "ObjectEvent",
        "2026-11-07T09:00:00.000+08:00",
        json!({
            "action": "OBSERVE", "epcList": [carton(3)], "bizStep": "storing",
            "bizLocation": {"id": "urn:epc:id:sgln:6905555.00099.0"}
        }),
    )]);
    let not_delegated = epcis_doc(vec![ev(
        "ObjectEvent",
        "2026-11-07T09:00:00.000+08:00",
        json!({
            "action": "ADD", "epcList": [carton(9)], "bizStep": "commissioning",
            "bizLocation": {"id": WAREHOUSE}
        }),
    )]);
    let lone_declaration = epcis_doc(vec![ev(
        "ObjectEvent",
        "2026-11-07T09:00:00.000+08:00",
        json!({
            "eventID": "urn:uuid:9d0b3c4e-0000-4000-8000-0000000000ff",
            "action": "OBSERVE", "epcList": [carton(3)], "bizStep": "storing",
            "errorDeclaration": {"declarationTime": "2026-11-08T09:00:00.000+08:00", "reason": "incorrect_data"}
        }),
    )]);
    [commissioning, unregistered, not_delegated, lone_declaration]
}

async fn empty_documents_and_bad_ids(j: &Journey, app: &Router, key: &SecretKey, good: &str) {
    // A document without events stores nothing either.
    let empty = epcis_doc(vec![]).to_string();
    let (a, _) = call(app, capture_request(key, j.carrier.next_nonce, &empty, "")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    a.assert_error(StatusCode::BAD_REQUEST, "invalid_epcis");
    let v = a.json();
    assert_eq!(v["problems"][0]["pointer"], "/epcisBody/eventList", "{v}");
    assert_eq!(j.net.shared.mempool.len(), 0);
    assert_eq!(count(j).await, 11);

    // Unknown and malformed capture ids.
    get_as(app, key, &format!("/epcis/capture/{}", "ab".repeat(32)))
        .await
        .0
        .assert_error(StatusCode::NOT_FOUND, "unknown_capture");
    get_anon(app, "/epcis/capture/not-an-id")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_capture_id");
    // An unknown query parameter on capture.
    call(
        app,
        capture_request(key, j.carrier.next_nonce, good, "?sync=1"),
    )
    .await
    .0
    .assert_error(StatusCode::BAD_REQUEST, "bad_query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_with_wait_answers_with_the_finished_job() {
    let mut j = journey().await;
    let app = j.net.app.clone();
    let good = storing_doc(2, "2026-11-07T08:00:00.000+08:00");
    let req = capture_request(
        &j.carrier.key,
        j.carrier.next_nonce,
        &good,
        "?wait=true&timeout_ms=20000",
    );
    j.carrier.next_nonce += 1;
    let a2 = app.clone();
    let waiting = tokio::spawn(async move { call(&a2, req).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while j.net.shared.mempool.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the capture never reached the mempool"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "wait=true answered before the commit"
    );
    let h = j.net.commit();
    let (a, hdrs) = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("answered after the commit")
        .expect("no panic");
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let job = a.json();
    assert_eq!(job["success"], true, "{job}");
    assert_eq!(job["running"], false, "{job}");
    assert_eq!(job["height"], h, "{job}");
    assert_eq!(job["eventsCaptured"], 1, "{job}");
    let id = job["captureID"].as_str().expect("captureID");
    assert_eq!(
        hdrs.get(header::LOCATION).and_then(|l| l.to_str().ok()),
        Some(format!("/epcis/capture/{id}").as_str())
    );

    // Nothing commits in time: the job is still running.
    let other = storing_doc(4, "2026-11-07T08:00:00.000+08:00");
    let (a, _) = call(
        &app,
        capture_request(
            &j.carrier.key,
            j.carrier.next_nonce,
            &other,
            "?wait=true&timeout_ms=30",
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["running"], true, "{}", a.text());
}

/// A capture job is its submitter's organization's: another organization's member is
/// refused, an anonymous reader asked to sign; the job says when it was created and
/// finished. (Durability across restarts: crates/waybill/tests/cli.rs.)
#[tokio::test]
async fn capture_jobs_are_read_by_the_submitters_organization_only() {
    let mut j = journey().await;
    let app = j.net.app.clone();
    let doc = storing_doc(2, "2026-11-07T08:00:00.000+08:00");
    let id = j.net.capture(&mut j.carrier, &doc).await;
    let running = j.net.job(&id).await;
    assert_eq!(running["running"], true, "{running}");
    assert!(running["createdAt"].as_str().is_some(), "{running}");
    assert!(running.get("finishedAt").is_none(), "{running}");
    let path = format!("/epcis/capture/{id}");
    get_anon(&app, &path)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let m = get_as(&app, &j.shop.key, &path)
        .await
        .0
        .assert_error(StatusCode::FORBIDDEN, "not_authorized");
    assert!(m.contains("another organization"), "{m}");
    assert_eq!(
        j.net
            .shared
            .store
            .open_capture_jobs()
            .expect("jobs read")
            .len(),
        1,
        "the accepted capture is an open job"
    );
    j.net.commit();
    // The block's commit settled it (in the same write): a restart has nothing to
    // resubmit.
    assert!(
        j.net
            .shared
            .store
            .open_capture_jobs()
            .expect("jobs read")
            .is_empty(),
        "a committed capture's job is settled by the commit"
    );
    let done = j.net.job(&id).await;
    assert_eq!(done["success"], true, "{done}");
    assert_eq!(done["createdAt"], running["createdAt"]);
    assert!(done["finishedAt"].as_str().is_some(), "{done}");
    // The carrier's other members read it too (same organization).
    let colleague = j.admin(COLD).sign(member(
        SecretKey::from_label("carrier colleague").public(),
        "Colleague",
        &[Role::Carrier],
    ));
    j.net.apply_all(&[colleague]).await;
    let v = get_as_ok(&app, &SecretKey::from_label("carrier colleague"), &path).await;
    assert_eq!(v["captureID"], id);
}

/// Two scanners hold one member key and capture at the same moment, each signing
/// offline with its own random nonce: both captures are taken and both commit (with
/// a per-signer sequence the second collided: `409 replayed_seq`).
#[tokio::test]
async fn two_scanners_with_one_key_capture_at_once_and_both_commit() {
    let mut j = journey().await;
    let app = j.net.app.clone();
    let before = count(&j).await;
    let key = j.carrier.key.clone();
    let scanner = |serial: u32| {
        let doc = storing_doc(serial, "2026-11-07T08:00:00.000+08:00");
        capture_request(&key, waybill_types::tx::random_nonce(), &doc, "")
    };
    let (a, b) = tokio::join!(call(&app, scanner(11)), call(&app, scanner(12)));
    for (a, _) in [&a, &b] {
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    }
    j.net.commit();
    for (a, _) in [a, b] {
        let id = a.json()["captureID"]
            .as_str()
            .expect("captureID")
            .to_string();
        let job = get_as_ok(&app, &key, &format!("/epcis/capture/{id}")).await;
        assert_eq!(job["success"], true, "{job}");
        assert_eq!(job["running"], false, "{job}");
    }
    assert_eq!(count(&j).await, before + 2);
}

// ---------------------------------------------------------------------------
// 4. Read authorization
// ---------------------------------------------------------------------------

#[tokio::test]
async fn reads_need_a_member_signature_and_respect_roles_and_relationships() {
    let mut j = journey().await;
    let app = j.net.app.clone();

    unsigned_reads_are_refused(&app).await;
    badly_signed_reads_are_refused(&j, &app).await;
    each_organization_reads_what_its_roles_and_relationships_allow(&j, &app).await;
    let all = sorted(ALL.to_vec());
    // The customs admin lets the platform read its inspections; then withdraws it.
    let grant = |allowed| {
        Payload::GrantRead(GrantRead {
            org: org_id(SHOP),
            category: DataCategory::CustomsQuality,
            allowed,
        })
    };
    let g = j.admin(CUST).sign(grant(true));
    j.net.apply_all(&[g]).await;
    // The grant adds customs' records of that category, held or not; the rest of
    // the relationship rule stands.
    let not_held = |ls: &[&str]| {
        all.iter()
            .copied()
            .filter(|x| !ls.contains(x))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        query(&j, &j.shop.key, "perPage=100").await,
        not_held(&["harvest", "sorting"])
    );
    assert_eq!(
        query(&j, &j.carrier.key, "perPage=100").await,
        not_held(&["harvest", "sorting", "inspection"])
    );
    let v = get_as_ok(
        &app,
        &j.shop.key,
        &format!("/epcis/events/{}", pct(INSPECTION_ID)),
    )
    .await;
    assert_eq!(j.labels(&v), ["inspection"]);
    let shop_trace = get_as_ok(&app, &j.shop.key, &format!("/v1/trace/{}", pct(&carton(1)))).await;
    assert_eq!(shop_trace["hidden_events"], 0, "{shop_trace}");
    let g = j.admin(CUST).sign(grant(false));
    j.net.apply_all(&[g]).await;
    assert_eq!(
        query(&j, &j.shop.key, "perPage=100").await,
        not_held(&["harvest", "sorting", "inspection"])
    );

    // A revoked member reads nothing.
    let shop_key = j.shop.public();
    let r = j.admin(SHOP).sign(Payload::RevokeMember(RevokeMember {
        member: shop_key,
        reason: "left the company".into(),
    }));
    j.net.apply_all(&[r]).await;
    get_as(&app, &j.shop.key, "/epcis/events")
        .await
        .0
        .assert_error(StatusCode::FORBIDDEN, "member_revoked");
}

async fn unsigned_reads_are_refused(app: &Router) {
    // No signature.
    for path in [
        "/epcis/events".to_string(),
        "/epcis/events?perPage=5".to_string(),
        format!("/epcis/events/{}", pct(INSPECTION_ID)),
        format!("/v1/trace/{}", pct(P1)),
        format!(
            "/v1/trace/{}?direction=forward",
            pct(&format!("{}/L2611", carton_gtin()))
        ),
        format!("/v1/audit?org={ORCH}"),
        format!("/v1/audit?product={}", carton_gtin()),
    ] {
        let m = get_anon(app, &path)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(m.contains("sign"), "{path}: {m}");
        assert!(m.contains("Authorization"), "{path}: {m}");
    }
}

async fn badly_signed_reads_are_refused(j: &Journey, app: &Router) {
    // Bad signatures.
    let path = "/epcis/events?perPage=5";
    let k = j.producer.key.clone();
    for (what, ts, expect) in [
        ("expired", now_ms() - 10 * 60_000, "clock"),
        ("from the future", now_ms() + 10 * 60_000, "clock"),
    ] {
        let m = call(app, signed_get_at(&k, path, ts))
            .await
            .0
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(m.contains(expect), "{what}: {m}");
    }
    let mut other_path = signed_get_at(&k, "/epcis/events?perPage=6", now_ms());
    *other_path.uri_mut() = path.parse().expect("uri");
    let mut other_method = signed_get_at(&k, path, now_ms());
    other_method.headers_mut().insert(
        header::AUTHORIZATION,
        read_authorization(&k, "POST", path, now_ms())
            .parse()
            .expect("value"),
    );
    let mut other_key = signed_get_at(&j.shop.key, path, now_ms());
    let forged = read_authorization(&j.shop.key, "GET", path, now_ms())
        .replace(&j.shop.hex(), &j.producer.hex());
    other_key
        .headers_mut()
        .insert(header::AUTHORIZATION, forged.parse().expect("value"));
    for (what, req) in [
        ("other path", other_path),
        ("other method", other_method),
        ("other key", other_key),
    ] {
        let m = call(app, req)
            .await
            .0
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(m.contains("does not verify"), "{what}: {m}");
    }
    let stranger = SecretKey::from_label("stranger");
    let m = call(app, signed_get_at(&stranger, path, now_ms()))
        .await
        .0
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(m.contains("not a registered member"), "{m}");
    for value in [
        "Bearer abc".to_string(),
        "Waybill key=zz, ts=1, sig=00".to_string(),
        format!("Waybill key={}, ts={}", j.producer.hex(), now_ms()),
        format!(
            "Waybill key={}, ts=soon, sig={}",
            j.producer.hex(),
            "00".repeat(64)
        ),
    ] {
        let req = Request::builder()
            .uri(path)
            .header(header::AUTHORIZATION, value.as_str())
            .body(Body::empty())
            .expect("request");
        call(app, req)
            .await
            .0
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

/// The organization × record matrix of scoped reads (docs/PRIVACY.md, "Who reads
/// what"): each reader gets exactly the events its roles *and* its organization's
/// relationships allow — through the query, each event by its id, and the trace.
/// - the regulator: everything; customs: every category it reads (no sales), of
///   everyone (a customs authority);
/// - the producer: everything — it owns the products and captured their first events;
/// - the carrier and the platform: the events naming what they held (the pallet
///   from the shipment on, the cartons), not the harvest of the bin or the sorting of
///   the fruit lot, which name nothing they held; not customs' inspection (their roles
///   do not read it) — but walking back from a carton the platform sold, the carton's
///   history is its to read;
/// - a competing platform, same role, never a party: nothing at all.
async fn each_organization_reads_what_its_roles_and_relationships_allow(j: &Journey, app: &Router) {
    let hid = |j: &Journey, l: &str| j.hashes[l].clone();
    let all = sorted(ALL.to_vec());
    let without = |ls: &[&str]| {
        all.iter()
            .copied()
            .filter(|x| !ls.contains(x))
            .collect::<Vec<_>>()
    };
    let held = without(&["harvest", "sorting", "inspection"]);
    let readers: [(&str, &SecretKey, Vec<&'static str>); 6] = [
        ("regulator", &j.regulator.key, all.clone()),
        ("producer", &j.producer.key, all.clone()),
        ("platform", &j.shop.key, held.clone()),
        ("carrier", &j.carrier.key, held.clone()),
        ("customs", &j.inspector.key, without(&["sale"])),
        ("competing platform", &j.rival.key, Vec::new()),
    ];
    for (who, key, expect) in &readers {
        assert_eq!(&query(j, key, "perPage=100").await, expect, "{who}: query");
        for label in ALL {
            let (a, _) = get_as(app, key, &format!("/epcis/events/{}", pct(&hid(j, label)))).await;
            if expect.contains(label) {
                assert_eq!(a.status, StatusCode::OK, "{who} reads {label}");
                assert_eq!(j.labels(&a.json()), [*label], "{who}: {label}");
            } else {
                let m = a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
                assert!(m.contains(&hex::encode(key.public().0)), "{who}: {m}");
            }
        }
    }
    assert_eq!(
        query(j, &j.shop.key, &format!("MATCH_anyEPC={}", pct(P1))).await,
        sorted(vec!["pallet", "shipping", "unloading"])
    );
    assert!(query(j, &j.rival.key, &format!("MATCH_anyEPC={}", pct(P1)))
        .await
        .is_empty());
    for id in [INSPECTION_ID.to_string(), hid(j, "inspection")] {
        let (a, _) = get_as(app, &j.shop.key, &format!("/epcis/events/{}", pct(&id))).await;
        let m = a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
        assert!(m.contains(&j.shop.hex()), "{m}");
        let v = get_as_ok(
            app,
            &j.regulator.key,
            &format!("/epcis/events/{}", pct(&id)),
        )
        .await;
        assert_eq!(j.labels(&v), ["inspection"]);
    }
    let (a, _) = get_as(
        app,
        &j.shop.key,
        &format!(
            "/epcis/events/{}",
            pct("urn:uuid:00000000-0000-4000-8000-000000000000")
        ),
    )
    .await;
    a.assert_error(StatusCode::NOT_FOUND, "unknown_event");
    relationships_in_traces_and_trails(j, app).await;
}

/// Walking back from what it holds, a party reads the history; a competitor walks
/// nowhere and reads no product trail.
async fn relationships_in_traces_and_trails(j: &Journey, app: &Router) {
    // Walking back from the carton it sold, the platform reads its history — the
    // harvest and the sorting too — all but the inspection.
    let shop_trace = get_as_ok(app, &j.shop.key, &format!("/v1/trace/{}", pct(&carton(1)))).await;
    assert_eq!(shop_trace["hidden_events"], 1, "{shop_trace}");
    assert_eq!(shop_trace["events"].as_array().expect("events").len(), 8);
    // The competitor walks nowhere: every event of the carton hidden, no edge taken.
    let rival_trace = get_as_ok(app, &j.rival.key, &format!("/v1/trace/{}", pct(&carton(1)))).await;
    assert_eq!(rival_trace["events"], json!([]), "{rival_trace}");
    assert_eq!(rival_trace["nodes"].as_array().map(Vec::len), Some(1));
    assert!(rival_trace["hidden_events"].as_u64() > Some(0));
    // Who touched a product: its parties read the product's audit trail, a
    // competitor does not.
    let q = format!("/v1/audit?product={}", carton_gtin());
    get_as_ok(app, &j.carrier.key, &q).await;
    let (a, _) = get_as(app, &j.rival.key, &q).await;
    let m = a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
    assert!(m.contains("party to"), "{m}");
    // Walking forward from the fruit lot it never held, the platform reads only
    // events naming what it held.
    let fwd = get_as_ok(
        app,
        &j.shop.key,
        &format!("/v1/trace/{}?direction=forward", pct(&fruit_lot())),
    )
    .await;
    let labels = trace_events(j, &fwd);
    assert!(!labels.contains(&"sorting"), "{labels:?}");
}

/// The field dimension of the organization × record × field matrix (docs/PRIVACY.md):
/// a buyer's name and phone sealed (category `platform_transactions`) in the
/// producer's event for the producer, the regulator and the platform named as the
/// event's owning party. Through the API: the record is served to exactly the readers
/// the relationship rule allows (a competitor gets 403, an anonymous caller 401); in
/// every answer the field is ciphertext; it opens with the secrets of its recipients
/// only — the carrier and customs read the event but not the field. The plaintext is
/// in no answer to anyone.
#[tokio::test]
async fn sealed_fields_open_only_for_their_recipients_through_the_api() {
    use waybill_types::seal::{open_all, OrgSecret};
    let mut j = journey().await;
    let app = j.net.app.clone();
    let record = "urn:uuid:1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b";
    capture_sealed_buyer(&mut j, record).await;
    let path = format!("/epcis/events/{}", pct(record));
    get_anon(&app, &path)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    // (reader, its organization, reads the event, opens the field)
    let cells: [(&str, &SecretKey, &str, bool, bool); 6] = [
        ("regulator", &j.regulator.key, REG, true, true),
        ("producer", &j.producer.key, ORCH, true, true),
        ("platform (owning party)", &j.shop.key, SHOP, true, true),
        (
            "carrier (held the carton)",
            &j.carrier.key,
            COLD,
            true,
            false,
        ),
        ("customs (authority)", &j.inspector.key, CUST, true, false),
        ("competing platform", &j.rival.key, RIVAL, false, false),
    ];
    for (who, key, org, reads, opens) in cells {
        let (a, _) = get_as(&app, key, &path).await;
        let text = a.text();
        assert!(
            !text.contains("Xiaoling") && !text.contains("5555"),
            "{who}: plaintext served"
        );
        if !reads {
            a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
            continue;
        }
        assert_eq!(a.status, StatusCode::OK, "{who}: {text}");
        assert!(text.contains("wb:sealed"), "{who}");
        let mut answer = a.json();
        let secrets = vec![OrgSecret {
            org: org_id(org),
            kv: 1,
            secret: buyer_secret(org),
        }];
        let report = open_all(&mut answer, CHAIN_ID, &secrets);
        assert!(report.failed.is_empty(), "{who}: {:?}", report.failed);
        assert_eq!(report.opened == 1, opens, "{who} opens the field: {opens}");
        assert_eq!(
            answer.to_string().contains("Chen Xiaoling"),
            opens,
            "{who}: the value after opening"
        );
    }
    // The competitor records its own "sale" of the carton: stored, its own to read,
    // but it claims nothing — the carton's records stay closed to it.
    let claim = epcis_doc(vec![ev(
        "ObjectEvent",
        "2026-11-06T10:00:00.000+08:00",
        json!({
            "action": "OBSERVE", "epcList": [carton(3)],
            "bizStep": "retail_selling", "disposition": "retail_sold"
        }),
    )]);
    let mut rival = std::mem::replace(&mut j.rival, Signer::new("unused"));
    j.net.capture_ok(&mut rival, &claim).await;
    j.rival = rival;
    let (a, _) = get_as(&app, &j.rival.key, &path).await;
    a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
    let mine = get_as_ok(&app, &j.rival.key, "/epcis/events?perPage=100").await;
    assert_eq!(
        events_of(&mine).len(),
        1,
        "its own event, none of the journey's: {mine}"
    );
}

/// A recipient discloses one sealed field (value, salt, the node's proof of its
/// commitment): it verifies against the genesis alone; every tampering fails at the
/// check it breaks, and so does any changed byte of the file. The proof is read by
/// whoever may read the record, nobody else.
#[tokio::test]
async fn a_sealed_field_is_disclosed_and_every_tampering_fails() {
    use waybill_types::disclosure::{verify, verify_text, CommitmentProof};
    use waybill_types::proof::TrustRoot;
    let mut j = journey().await;
    let app = j.net.app.clone();
    let record = "urn:uuid:2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d";
    capture_sealed_buyer(&mut j, record).await;
    let path = format!(
        "/v1/sealed/proof?record={}&field=%2Fwb%3Abuyer",
        pct(record)
    );
    get_anon(&app, &path)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let (a, _) = get_as(&app, &j.rival.key, &path).await;
    a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
    let (a, _) = get_as(
        &app,
        &j.producer.key,
        &format!(
            "/v1/sealed/proof?record={}&field=%2Fwb%3Aseller",
            pct(record)
        ),
    )
    .await;
    a.assert_error(StatusCode::NOT_FOUND, "unknown_sealed_field");
    // The carrier reads the record, so the proof too; it holds no plaintext.
    let (a, _) = get_as(&app, &j.carrier.key, &path).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(!a.text().contains("Xiaoling"));
    let proven: CommitmentProof = serde_json::from_value(a.json()).expect("a commitment proof");
    let d = disclose_as_producer(&j, record, proven).await;
    let genesis = d.proven.genesis().expect("genesis");
    let trust = TrustRoot::Genesis(Box::new(genesis.clone()));
    let v = verify(&d, &trust).expect("the disclosure verifies");
    assert_eq!(v.value["name"], "Chen Xiaoling");
    assert_eq!((v.record.as_str(), v.field.as_str()), (record, "/wb:buyer"));
    assert!(!v.signers.is_empty());
    let fp = TrustRoot::Fingerprint(waybill_types::proof::fingerprint(&genesis));
    verify(&d, &fp).expect("against the fingerprint too");
    disclosure_tampering_fails(&d, &trust);
    header_tampering_fails(&d, &trust);
    // The file: accepted as written; any changed byte fails.
    let text = d.to_text().into_bytes();
    verify_text(&text, &trust).expect("the file verifies");
    for i in 0..text.len() {
        let mut t = text.clone();
        t[i] ^= 0x01;
        assert!(
            verify_text(&t, &trust).is_err(),
            "byte {i} changed and still verifies"
        );
    }
}

/// The producer (a recipient) opens the buyer field of `record` and makes a
/// disclosure of it with the node's proof.
async fn disclose_as_producer(
    j: &Journey,
    record: &str,
    proven: waybill_types::disclosure::CommitmentProof,
) -> waybill_types::disclosure::Disclosure {
    use waybill_types::seal::{sealed_fields, OrgSecret};
    let event = get_as_ok(
        &j.net.app,
        &j.producer.key,
        &format!("/epcis/events/{}", pct(record)),
    )
    .await["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]
        .clone();
    let (_, sealed) = sealed_fields(&event, record).pop().expect("a sealed field");
    let opened = sealed
        .expect("well formed")
        .whole()
        .expect("inline")
        .open(
            CHAIN_ID,
            &[OrgSecret {
                org: org_id(ORCH),
                kv: 1,
                secret: buyer_secret(ORCH),
            }],
        )
        .expect("opens");
    waybill_types::disclosure::Disclosure {
        format: waybill_types::disclosure::DISCLOSURE_FORMAT.into(),
        value: opened.value,
        salt: hex::encode(opened.salt),
        proven,
    }
}

/// Each tampering of a valid disclosure `d`, and the check that must catch it.
fn disclosure_tampering_fails(
    d: &waybill_types::disclosure::Disclosure,
    trust: &waybill_types::proof::TrustRoot,
) {
    use waybill_types::disclosure::{verify, Disclosure};
    type Tamper = fn(&mut Disclosure);
    let cases: [(&str, Tamper, &str); 12] = [
        (
            "format",
            |d| d.format = "waybill-disclosure/0".into(),
            "format",
        ),
        (
            "value",
            |d| d.value["name"] = json!("Chen Xiaoming"),
            "commitment",
        ),
        ("salt", |d| d.salt = "00".repeat(32), "commitment"),
        ("short salt", |d| d.salt = "00".into(), "commitment"),
        ("record", |d| d.proven.record.push('0'), "disclosure"),
        (
            "field",
            |d| d.proven.field = "/wb:seller".into(),
            "disclosure",
        ),
        ("index", |d| d.proven.index += 1, "disclosure"),
        (
            "proof",
            |d| d.proven.proof = vec!["00".repeat(32)],
            "disclosure",
        ),
        ("height", |d| d.proven.height += 1_000, "disclosure"),
        ("genesis", |d| d.proven.genesis.insert(4, 'A'), "genesis"),
        (
            "header",
            |d| {
                let h = &mut d.proven.headers[0].header;
                let last = if h.ends_with('A') { "B" } else { "A" };
                h.replace_range(h.len() - 4..h.len() - 3, last);
            },
            "validator set",
        ),
        (
            "validators head",
            |d| d.proven.validators_head.subject = "org:x".into(),
            "heads",
        ),
    ];
    for (what, tamper, step) in cases {
        let mut t = d.clone();
        tamper(&mut t);
        let e = verify(&t, trust).expect_err(what);
        assert_eq!(e.step, step, "{what}: {e}");
    }
    // The commitment itself changed (with a value and salt that match it): not the
    // one the block committed to.
    let mut t = d.clone();
    let salt = [7u8; 32];
    t.salt = hex::encode(salt);
    t.proven.commitment = waybill_types::seal::commitment(&salt, &t.value);
    assert_eq!(
        verify(&t, trust).expect_err("commitment").step,
        "disclosure"
    );
}

/// The sealing block's commitment root rewritten (to a tree of this leaf twice, so the
/// inclusion proof holds): the header no longer matches its certificate.
fn header_tampering_fails(
    d: &waybill_types::disclosure::Disclosure,
    trust: &waybill_types::proof::TrustRoot,
) {
    use waybill_types::disclosure::verify;
    let mut t = d.clone();
    let b64 = base64::engine::general_purpose::STANDARD;
    let at = t
        .proven
        .headers
        .iter()
        .position(|h| h.height == t.proven.height)
        .expect("the sealing block's header");
    let mut header: waybill_types::block::BlockHeader = waybill_types::codec::decode(
        &base64::Engine::decode(&b64, &t.proven.headers[at].header).expect("base64"),
        1 << 16,
        "header",
    )
    .expect("a header");
    let leaf = waybill_types::merkle::leaf_hash(&waybill_types::seal::commitment_leaf(
        &t.proven.record,
        &t.proven.field,
        &t.proven.commitment,
    ));
    header.commit_root = waybill_types::Hash(waybill_types::merkle::node_hash(&leaf, &leaf));
    t.proven.headers[at].header =
        base64::Engine::encode(&b64, waybill_types::codec::encode(&header));
    t.proven.proof = vec![hex::encode(leaf)];
    t.proven.index = 0;
    t.proven.tree_size = 2;
    assert_eq!(verify(&t, trust).expect_err("header").step, "certificate");
}

/// The journey organizations' encryption secrets in the sealed-field test.
fn buyer_secret(o: &str) -> waybill_types::seal::SealSecretKey {
    let i = [ORCH, COLD, SHOP, CUST, REG]
        .iter()
        .position(|x| *x == o)
        .expect("a journey organization");
    waybill_types::seal::SealSecretKey([i as u8 + 90; 32])
}

/// Every journey organization registers its key; the producer captures an event on
/// carton 3 naming the platform as owning party, with a buyer's name and phone sealed
/// (`platform_transactions`) for itself, the regulator and the platform.
async fn capture_sealed_buyer(j: &mut Journey, record: &str) {
    let doc = sealed_buyer_doc(j, record).await;
    let mut producer = std::mem::replace(&mut j.producer, Signer::new("unused"));
    j.net.capture_ok(&mut producer, &doc).await;
    j.producer = producer;
}

/// The journey's organizations register encryption keys; a repackaging event whose
/// buyer (name, phone) is sealed for the producer, the regulator and the platform.
async fn sealed_buyer_doc(j: &mut Journey, record: &str) -> Value {
    use waybill_types::payload::RegisterSealKey;
    use waybill_types::seal::{seal_at, Place, Recipient};
    let keys: Vec<SignedTx> = [ORCH, COLD, SHOP, CUST, REG]
        .iter()
        .map(|o| {
            j.admin(o).sign(Payload::RegisterSealKey(RegisterSealKey {
                version: 1,
                key: buyer_secret(o).public(),
            }))
        })
        .collect();
    j.net.apply_all(&keys).await;
    let mut event = ev(
        "ObjectEvent",
        "2026-11-06T09:00:00.000+08:00",
        json!({
            "eventID": record,
            "action": "OBSERVE", "epcList": [carton(3)], "bizStep": "repackaging",
            "readPoint": {"id": PACKHOUSE}, "bizLocation": {"id": PACKHOUSE},
            "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:6907777.00000"}],
            "wb:buyer": {"name": "Chen Xiaoling", "phone": "+852 5555 0142"}
        }),
    );
    let to: Vec<Recipient> = [ORCH, REG, SHOP]
        .iter()
        .map(|o| Recipient {
            org: org_id(o),
            kv: 1,
            key: buyer_secret(o).public(),
        })
        .collect();
    let place = Place {
        chain_id: CHAIN_ID,
        record,
        field: "/wb:buyer",
        category: DataCategory::PlatformTransactions,
    };
    seal_at(&mut event, &place, &to, &mut rand_core::OsRng).expect("seals");
    let mut doc = epcis_doc(vec![event]);
    doc["@context"] = json!([
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"wb": "https://waybill.example/epcis/"}
    ]);
    doc
}

/// Erasure (docs/PRIVACY.md "Erasure"): a buyer's name and phone sealed as an
/// erasable field — the record holds only where, for whom, the commitment and the
/// private part's hash. The capturer delivers the part to a node that keeps private
/// data for a recipient (a wrong part, a reader who is neither capturer nor recipient,
/// a competitor are refused); a recipient's member reads it back and opens it, a
/// non-recipient cannot. Erased by the capturer (others refused): the node purges the
/// part and records the purge with its validator key, the field no longer opens
/// anywhere, and the whole chain still verifies.
#[tokio::test]
async fn an_erasable_field_is_kept_off_chain_and_erased_everywhere_it_was_kept() {
    use waybill_types::seal::{PrivatePart, SealedField};
    let mut j = journey().await;
    let app = j.net.app.clone();
    let record = "urn:uuid:5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
    let mut doc = sealed_buyer_doc(&mut j, record).await;
    let slot = &mut doc["epcisBody"]["eventList"][0]["wb:buyer"];
    let Some(Ok(SealedField::Inline(sealed))) = SealedField::from_json(slot, record, "/wb:buyer")
    else {
        panic!("sealed inline: {slot}")
    };
    let (detached, part) = sealed.detach();
    *slot = detached.to_json();
    let dir = waybill_testkit::temp_dir("api-private-store");
    waybill_node::purger::start(
        &j.net.shared,
        waybill_node::private::PrivateStore::open(
            dir.clone(),
            vec![org_id(ORCH)],
            SecretKey::from_label("epcis-validator"),
        )
        .expect("private store"),
    );
    let mut producer = std::mem::replace(&mut j.producer, Signer::new("unused"));
    j.net.capture_ok(&mut producer, &doc).await;
    j.producer = producer;
    let event = get_as_ok(&app, &j.shop.key, &format!("/epcis/events/{}", pct(record))).await;
    assert!(
        !event.to_string().contains(&part.ct),
        "no ciphertext in the record"
    );
    let q = format!(
        "/v1/sealed/private?record={}&field=%2Fwb%3Abuyer",
        pct(record)
    );
    let (a, _) = get_as(&app, &j.shop.key, &q).await;
    a.assert_error(StatusCode::NOT_FOUND, "private_part_not_here");
    deliveries_are_checked(&j, &q, &part).await;
    // A recipient (the platform) reads the part and opens the field; the carrier,
    // who reads the event, is no recipient.
    let v = get_as_ok(&app, &j.shop.key, &q).await;
    let got: PrivatePart = serde_json::from_value(v["part"].clone()).expect("part");
    let opened = detached
        .attach(&got)
        .expect("attaches")
        .open(
            CHAIN_ID,
            &[waybill_types::seal::OrgSecret {
                org: org_id(SHOP),
                kv: 1,
                secret: buyer_secret(SHOP),
            }],
        )
        .expect("opens");
    assert_eq!(opened.value["name"], "Chen Xiaoling");
    let (a, _) = get_as(&app, &j.carrier.key, &q).await;
    a.assert_error(StatusCode::FORBIDDEN, "not_a_recipient");
    carrier_added_later(&mut j, record, &q, &detached).await;
    let kept = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(kept, 1);
    erase_and_purge(&mut j, record, &q, &dir).await;
}

/// The carrier, assigned after the order, is added as a recipient of the erasable
/// field `q` names: the platform opens the data key and wraps it for the carrier's
/// key (`add_seal_wraps`, on the chain like an inline field's); the carrier's member
/// then reads the private part this node keeps and opens the field with the added
/// wrap.
async fn carrier_added_later(
    j: &mut Journey,
    record: &str,
    q: &str,
    detached: &waybill_types::seal::Detached,
) {
    use waybill_types::payload::AddSealWraps;
    use waybill_types::seal::{OrgSecret, PrivatePart, Recipient};
    let app = j.net.app.clone();
    let secret = |o: &str| OrgSecret {
        org: org_id(o),
        kv: 1,
        secret: buyer_secret(o),
    };
    let part: PrivatePart =
        serde_json::from_value(get_as_ok(&app, &j.shop.key, q).await["part"].clone())
            .expect("part");
    let wrap = detached
        .attach(&part)
        .expect("attaches")
        .rewrap(
            CHAIN_ID,
            &[secret(SHOP)],
            &Recipient {
                org: org_id(COLD),
                kv: 1,
                key: buyer_secret(COLD).public(),
            },
            &mut rand_core::OsRng,
        )
        .expect("the platform re-wraps");
    let add = j.shop.sign(Payload::AddSealWraps(AddSealWraps {
        record: record.into(),
        field: "/wb:buyer".into(),
        wraps: vec![wrap.clone()],
    }));
    j.net.apply_all(&[add]).await;
    let got: PrivatePart =
        serde_json::from_value(get_as_ok(&app, &j.carrier.key, q).await["part"].clone())
            .expect("the carrier reads the part");
    let mut whole = detached.attach(&got).expect("attaches");
    assert!(
        whole.open(CHAIN_ID, &[secret(COLD)]).is_err(),
        "not in the captured wraps"
    );
    whole.wraps.push(wrap);
    let opened = whole
        .open(CHAIN_ID, &[secret(COLD)])
        .expect("the carrier opens it with the added wrap");
    assert_eq!(opened.value["phone"], "+852 5555 0142");
}

/// Deliveries of `part` to `q`: a changed part, a carrier (reads the event, neither
/// captured nor receives it) and a competitor are refused; the producer's is kept.
async fn deliveries_are_checked(j: &Journey, q: &str, part: &waybill_types::seal::PrivatePart) {
    let app = &j.net.app;
    let put = |key: &SecretKey, body: String| {
        let auth = read_authorization(key, "PUT", q, now_ms());
        Request::builder()
            .method(Method::PUT)
            .uri(q)
            .header(header::AUTHORIZATION, auth)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("request")
    };
    let good = serde_json::to_string(part).expect("json");
    let mut changed = part.clone();
    changed.nonce = "AAAAAAAAAAAAAAAA".into();
    let bad = serde_json::to_string(&changed).expect("json");
    common::send(app, put(&j.producer.key, bad))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_private_part");
    common::send(app, put(&j.producer.key, "{".into()))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_private_part");
    common::send(app, put(&j.carrier.key, good.clone()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_authorized");
    common::send(app, put(&j.rival.key, good.clone()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_authorized");
    let a = common::send(app, put(&j.producer.key, good)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["kept_for"], json!([ORCH]));
}

/// Erase the field of `q`: refused for the carrier and the platform, applied for the
/// producer; the node purges its copy and records the purge; the chain verifies.
async fn erase_and_purge(j: &mut Journey, record: &str, q: &str, dir: &Path) {
    use waybill_types::payload::EraseSealed;
    let app = j.net.app.clone();
    let erase = |reason: &str| {
        Payload::EraseSealed(EraseSealed {
            record: record.into(),
            field: "/wb:buyer".into(),
            reason: reason.into(),
        })
    };
    let by_carrier = j.carrier.sign(erase("not mine"));
    let by_shop = j.shop.sign(erase("not mine either"));
    let ids = [
        j.net.submit(&by_carrier).await,
        j.net.submit(&by_shop).await,
    ];
    j.net.commit();
    for id in ids {
        let v = common::get_ok(&app, &format!("/v1/txs/{id}")).await;
        assert_eq!(v["receipt"]["code"], "not_authorized", "{v}");
    }
    let by_producer = j
        .producer
        .sign(erase("erasure request 2026-118 (PIPL art. 47)"));
    j.net.apply_all(&[by_producer]).await;
    // The node purges after the block and records the purge in a later one.
    let mut purged_by = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        j.net.commit();
        let (a, _) = get_as(&app, &j.shop.key, q).await;
        assert_eq!(a.status, StatusCode::GONE, "{}", a.text());
        purged_by = a.json()["purged_by"].clone();
        if purged_by.as_array().is_some_and(|p| !p.is_empty()) {
            break;
        }
    }
    assert_eq!(purged_by[0]["org"], ORCH, "{purged_by}");
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    assert!(files.is_empty(), "purged: {files:?}");
    let again = j.producer.sign(erase("twice"));
    let id = j.net.submit(&again).await;
    j.net.commit();
    let v = common::get_ok(&app, &format!("/v1/txs/{id}")).await;
    assert_eq!(v["receipt"]["code"], "duplicate", "{v}");
    waybill_store::verify::verify_full(&j.net.shared.store).expect("the chain verifies");
}

/// `POST /v1/tx/dry-run`: a sealed capture tried as the next block's only
/// transaction shows the open-tier record it would publish (no sealed plaintext) and
/// the commitment it would seal; nothing is stored; the same transaction then
/// commits. A capture the ledger would refuse shows its rejection; a forged one is
/// refused like a submission.
#[tokio::test]
async fn a_dry_run_shows_what_a_capture_would_publish_and_stores_nothing() {
    use base64::Engine as _;
    let mut j = journey().await;
    let app = j.net.app.clone();
    let record = "urn:uuid:3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";
    let doc = sealed_buyer_doc(&mut j, record).await;
    let (h0, state0, _) = j.net.head().await;
    let payload = Payload::CaptureEpcis(waybill_types::payload::CaptureEpcis {
        document: doc.to_string(),
    });
    let stx = j.producer.sign(payload.clone());
    let b64 = |t: &SignedTx| base64::engine::general_purpose::STANDARD.encode(t.encode());
    let a = post_json(&app, "/v1/tx/dry-run", &json!({ "tx": b64(&stx) })).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(!a.text().contains("Xiaoling"), "{}", a.text());
    let v = a.json();
    assert_eq!(v["status"], "applied", "{v}");
    assert_eq!(v["height"], h0 + 1);
    let published = v["publishes"].as_array().expect("publishes");
    assert_eq!(published.len(), 1, "{v}");
    assert_eq!(published[0]["kind"], "event");
    assert_eq!(published[0]["biz_step"], "repackaging");
    let sealed = doc["epcisBody"]["eventList"][0]["wb:buyer"]["wb:sealed"].clone();
    assert_eq!(
        v["seals"],
        json!([{ "record": record, "field": "/wb:buyer", "commitment": sealed["commitment"] }])
    );
    // Nothing stored, nothing pending.
    assert_eq!(j.net.head().await, (h0, state0, 0));
    let (a, _) = get_as(
        &app,
        &j.producer.key,
        &format!("/epcis/events/{}", pct(record)),
    )
    .await;
    a.assert_error(StatusCode::NOT_FOUND, "unknown_event");
    // The transaction itself is still fresh: it commits, publishing that record.
    j.net.apply_all(std::slice::from_ref(&stx)).await;
    let event = get_as_ok(
        &app,
        &j.producer.key,
        &format!("/epcis/events/{}", pct(record)),
    )
    .await;
    assert_eq!(
        event["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["eventID"],
        record
    );
    // The competitor's capture of the carton at the packer's place: refused.
    let rival = j.rival.sign(payload);
    let v = post_json(&app, "/v1/tx/dry-run", &json!({ "tx": b64(&rival) }))
        .await
        .json();
    assert_eq!(v["status"], "rejected", "{v}");
    assert!(v["reason"]["code"].is_string(), "{v}");
    assert_eq!(v["publishes"], json!([]));
    // A forged one: refused as a submission would be.
    let mut forged = j.producer.sign(Payload::CaptureEpcis(
        waybill_types::payload::CaptureEpcis {
            document: doc.to_string(),
        },
    ));
    forged.tx.nonce ^= 1;
    let a = post_json(&app, "/v1/tx/dry-run", &json!({ "tx": b64(&forged) })).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
}

// ---------------------------------------------------------------------------
// 5. Trace
// ---------------------------------------------------------------------------

/// A lineage node: (id, relation, from, via event label, depth).
type TraceNodeView = (
    String,
    Option<String>,
    Option<String>,
    Option<&'static str>,
    u64,
);

/// Each node of a lineage.
fn nodes(j: &Journey, v: &Value) -> Vec<TraceNodeView> {
    let by_seq: BTreeMap<u64, &'static str> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let h = e["hash_id"].as_str().expect("hash_id");
            let label = j
                .hashes
                .iter()
                .find(|(_, x)| *x == h)
                .expect("known event")
                .0;
            (e["seq"].as_u64().expect("seq"), *label)
        })
        .collect();
    v["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["id"].as_str().expect("id").to_string(),
                n["relation"].as_str().map(str::to_string),
                n["from"].as_str().map(str::to_string),
                n["via_event"].as_u64().map(|s| by_seq[&s]),
                n["depth"].as_u64().expect("depth"),
            )
        })
        .collect()
}

/// The labels of a lineage's events, in its order.
fn trace_events(j: &Journey, v: &Value) -> Vec<&'static str> {
    v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let h = e["hash_id"].as_str().expect("hash_id");
            *j.hashes
                .iter()
                .find(|(_, x)| *x == h)
                .expect("known event")
                .0
        })
        .collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| x.to_string())
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn trace_back_and_forward_through_the_journey() {
    let j = journey().await;
    let app = j.net.app.clone();
    let k = &j.producer.key;

    trace_back_from_a_carton(&j, &app, k).await;
    trace_back_from_the_pallet_and_lot(&j, &app, k).await;
    let fwd = trace_forward_from_the_carton_lot(&j, &app, k).await;
    trace_event_details(&j, &fwd).await;
    trace_forward_from_links(&j, &app, k).await;
    trace_refuses_unknown_and_malformed(&app, k).await;
}

async fn trace_back_from_a_carton(j: &Journey, app: &Router, k: &SecretKey) {
    let c1 = canon(&carton(1));
    let p1 = canon(P1);
    let b1 = canon(B1);
    let clot = carton_lot();
    let flot = fruit_lot();
    let s = |x: &str| Some(x.to_string());
    // Back from carton 1 (EPC URN; back is the default direction).
    let back = get_as_ok(
        app,
        k,
        &format!("/v1/trace/{}?direction=back", pct(&carton(1))),
    )
    .await;
    assert_eq!(back["id"], c1);
    assert_eq!(back["direction"], "back");
    assert_eq!(
        nodes(j, &back),
        vec![
            (c1.clone(), None, None, None, 0),
            (b1.clone(), s("made_from"), s(&c1), Some("cartons"), 1),
            (clot.clone(), s("of_lot"), s(&c1), Some("cartons"), 1),
            (p1.clone(), s("contained_in"), s(&c1), Some("pallet"), 1),
            (flot.clone(), s("of_lot"), s(&b1), Some("harvest"), 2),
        ]
    );
    assert_eq!(trace_events(j, &back), ALL, "every event, by eventTime");
    assert_eq!(back["hidden_events"], 0);
    assert_eq!(back["corrected_events"], 0);
    assert_eq!(back["truncated"], false);
    assert!(back.get("recall").is_none(), "{back}");
    let lots: Vec<(&str, &str)> = back["lots"]
        .as_array()
        .expect("lots")
        .iter()
        .map(|l| {
            (
                l["gtin"].as_str().expect("gtin"),
                l["lot"].as_str().expect("lot"),
            )
        })
        .collect();
    assert_eq!(
        lots,
        [
            (carton_gtin().as_str(), "L2611"),
            (fruit_gtin().as_str(), "H2611")
        ]
    );
}

async fn trace_back_from_the_pallet_and_lot(j: &Journey, app: &Router, k: &SecretKey) {
    let back = get_as_ok(
        app,
        k,
        &format!("/v1/trace/{}?direction=back", pct(&carton(1))),
    )
    .await;
    let p1 = canon(P1);
    let clot = carton_lot();
    let flot = fruit_lot();
    let s = |x: &str| Some(x.to_string());
    // Back from the pallet: what it contained.
    let v = get_as_ok(app, k, &format!("/v1/trace/{}", pct(P1))).await;
    let first: Vec<_> = nodes(j, &v).into_iter().skip(1).take(4).collect();
    assert_eq!(
        first,
        (1..=4)
            .map(|n| (canon(&carton(n)), s("contains"), s(&p1), Some("pallet"), 1))
            .collect::<Vec<_>>()
    );
    let default = get_as_ok(app, k, &format!("/v1/trace/{}", pct(&carton(1)))).await;
    assert_eq!(default["nodes"], back["nodes"]);

    // Back from the carton lot (GTIN/LOT): its raw-material lot from master data.
    let v = get_as_ok(
        app,
        k,
        &format!(
            "/v1/trace/{}?direction=back",
            pct(&format!("{}/L2611", carton_gtin()))
        ),
    )
    .await;
    assert_eq!(v["id"], clot);
    assert_eq!(
        nodes(j, &v),
        vec![
            (clot.clone(), None, None, None, 0),
            (flot.clone(), s("raw_material"), s(&clot), None, 1)
        ]
    );
    assert_eq!(trace_events(j, &v), ["harvest", "sorting", "cartons"]);
}

async fn trace_forward_from_the_carton_lot(j: &Journey, app: &Router, k: &SecretKey) -> Value {
    let c1 = canon(&carton(1));
    let p1 = canon(P1);
    let clot = carton_lot();
    let s = |x: &str| Some(x.to_string());
    // Forward from the carton lot: its cartons, the pallet, and the recall list.
    let fwd = get_as_ok(
        app,
        k,
        &format!(
            "/v1/trace/{}?direction=forward",
            pct(&format!("{}/L2611", carton_gtin()))
        ),
    )
    .await;
    assert_eq!(fwd["id"], clot);
    assert_eq!(fwd["direction"], "forward");
    let mut expected = vec![(clot.clone(), None, None, None, 0)];
    for n in 1..=4 {
        expected.push((
            canon(&carton(n)),
            s("instance"),
            s(&clot),
            Some("cartons"),
            1,
        ));
    }
    expected.push((p1.clone(), s("packed_into"), s(&c1), Some("pallet"), 2));
    assert_eq!(nodes(j, &fwd), expected);
    assert_eq!(
        trace_events(j, &fwd),
        [
            "cartons",
            "pallet",
            "shipping",
            "inspection",
            "unloading",
            "delivery",
            "sale"
        ]
    );
    recall_list_of_the_carton_lot(&fwd);
    fwd
}

fn recall_list_of_the_carton_lot(fwd: &Value) {
    let (clot, p1) = (carton_lot(), canon(P1));
    let recall = &fwd["recall"];
    let cartons: Vec<String> = (1..=4).map(|n| canon(&carton(n))).collect();
    assert_eq!(strings(&recall["items"]), cartons.iter().cloned().collect());
    assert_eq!(strings(&recall["lots"]), set(&[&clot]));
    assert_eq!(strings(&recall["containers"]), set(&[&p1]));
    assert_eq!(
        recall["business_transactions"]
            .as_array()
            .expect("array")
            .iter()
            .map(Value::to_string)
            .collect::<BTreeSet<String>>(),
        BTreeSet::from([
            json!({"type": "po", "id": PO}).to_string(),
            json!({"type": "inv", "id": ORDER}).to_string()
        ])
    );
    assert_eq!(
        recall["destinations"],
        json!([{"type": "location", "id": canon(STORE)}])
    );
    assert_eq!(
        strings(&recall["locations"]),
        set(&[
            &canon(PACKHOUSE),
            &canon(CUSTOMS_OFFICE),
            &canon(WAREHOUSE),
            &canon(STORE)
        ])
    );
}

async fn trace_event_details(j: &Journey, fwd: &Value) {
    let p1 = canon(P1);
    // The event details.
    let shipping = fwd["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["hash_id"] == j.hashes["shipping"])
        .expect("shipping");
    assert_eq!(shipping["type"], "ObjectEvent");
    assert_eq!(shipping["biz_step"], "shipping");
    assert_eq!(shipping["disposition"], "in_transit");
    assert_eq!(shipping["biz_location"], canon(PACKHOUSE));
    assert_eq!(shipping["org"], COLD);
    assert_eq!(shipping["category"], "transport");
    assert_eq!(shipping["tx_id"], j.txs["capture_transport"]);
    assert_eq!(shipping["height"], j.heights["transport"]);
    assert_eq!(shipping["ids"], json!([{"role": "epc", "id": p1}]));
}

async fn trace_forward_from_links(j: &Journey, app: &Router, k: &SecretKey) {
    let cartons: Vec<String> = (1..=4).map(|n| canon(&carton(n))).collect();
    let c1 = canon(&carton(1));
    let p1 = canon(P1);
    let b1 = canon(B1);
    let flot = fruit_lot();
    let s = |x: &str| Some(x.to_string());
    // Forward from carton 1 by its Digital Link (percent-encoded, any domain).
    for dl in [
        c1.clone(),
        format!("https://shop.example/01/{}/21/C1?src=qr", carton_gtin()),
    ] {
        let v = get_as_ok(app, k, &format!("/v1/trace/{}?direction=forward", pct(&dl))).await;
        assert_eq!(v["id"], c1, "{dl}");
        assert_eq!(
            nodes(j, &v),
            vec![
                (c1.clone(), None, None, None, 0),
                (p1.clone(), s("packed_into"), s(&c1), Some("pallet"), 1)
            ],
            "{dl}"
        );
        assert_eq!(strings(&v["recall"]["items"]), set(&[&c1]));
        assert_eq!(strings(&v["recall"]["lots"]), BTreeSet::new());
        assert_eq!(
            trace_events(j, &v),
            [
                "cartons",
                "pallet",
                "shipping",
                "inspection",
                "unloading",
                "delivery",
                "sale"
            ]
        );
    }
    // Forward from the fruit lot: the bin, then what it was made into.
    let v = get_as_ok(
        app,
        k,
        &format!("/v1/trace/{}?direction=forward", pct(FRUIT_CLASS)),
    )
    .await;
    let reached: Vec<String> = nodes(j, &v).into_iter().map(|n| n.0).collect();
    assert_eq!(&reached[..2], [flot.clone(), b1.clone()]);
    assert!(cartons.iter().all(|c| reached.contains(c)), "{reached:?}");
    assert!(reached.contains(&p1), "{reached:?}");
}

async fn trace_refuses_unknown_and_malformed(app: &Router, k: &SecretKey) {
    // Unknown and malformed.
    for id in [
        format!("{}/NOPE", carton_gtin()),
        carton(99),
        P1.replace("0000000001", "0000000002"),
    ] {
        let (a, _) = get_as(app, k, &format!("/v1/trace/{}", pct(&id))).await;
        a.assert_error(StatusCode::NOT_FOUND, "unknown_identifier");
    }
    let (a, _) = get_as(
        app,
        k,
        &format!("/v1/trace/{}?direction=sideways", pct(&carton(1))),
    )
    .await;
    let m = a.assert_error(StatusCode::BAD_REQUEST, "bad_direction");
    assert!(m.contains("sideways"), "{m}");
    let (a, _) = get_as(
        app,
        k,
        &format!("/v1/trace/{}", pct("urn:epc:id:sgtin:6901234.1")),
    )
    .await;
    a.assert_error(StatusCode::BAD_REQUEST, "bad_identifier");
    let (a, _) = get_as(app, k, &format!("/v1/trace/{}?depth=3", pct(&carton(1)))).await;
    a.assert_error(StatusCode::BAD_REQUEST, "bad_query");
}

// ---------------------------------------------------------------------------
// 6. Audit
// ---------------------------------------------------------------------------

/// The audit items for `query` as `key`, following `next_after` with `limit`.
async fn audit(app: &Router, key: &SecretKey, query: &str, limit: Option<usize>) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut uri = format!("/v1/audit?{query}");
        if let Some(l) = limit {
            uri.push_str(&format!("&limit={l}"));
        }
        if let Some(a) = &after {
            uri.push_str(&format!("&after={a}"));
        }
        let v = get_as_ok(app, key, &uri).await;
        let page = v["items"].as_array().expect("items").clone();
        if let Some(l) = limit {
            assert!(page.len() <= l);
        }
        items.extend(page);
        match v["next_after"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    items
}

fn tx_ids(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| i["tx_id"].as_str().expect("tx_id").to_string())
        .collect()
}

#[tokio::test]
async fn audit_trail_by_product_member_and_org() {
    let mut j = journey().await;
    let app = j.net.app.clone();

    audit_of_a_product(&j, &app).await;
    // The carrier handled the cartons, never the bulk fruit: the fruit's trail is
    // not its to read.
    let (a, _) = get_as(
        &app,
        &j.carrier.key,
        &format!("/v1/audit?product={}", fruit_gtin()),
    )
    .await;
    a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
    audit_of_a_member_and_an_org(&j, &app).await;
    // Rejected transactions are in the trail too.
    let bad = epcis_doc(vec![ev(
        "ObjectEvent",
        "2026-11-07T09:00:00.000+08:00",
        json!({
            "action": "ADD", "epcList": [carton(9)], "bizStep": "commissioning"
        }),
    )]);
    let id = j.net.capture(&mut j.carrier, &bad.to_string()).await;
    let h = j.net.commit();
    let trail = audit(
        &app,
        &j.carrier.key,
        &format!("member={}", j.carrier.hex()),
        None,
    )
    .await;
    let last = trail.last().expect("entries");
    assert_eq!(last["tx_id"], id);
    assert_eq!(last["height"], h);
    assert_eq!(last["outcome"], "rejected: invalid_epcis");

    // Exactly one subject.
    for q in [
        format!("product={}&org={ORCH}", carton_gtin()),
        format!("member={}&org={ORCH}", j.producer.hex()),
        String::new(),
    ] {
        let (a, _) = get_as(&app, &j.regulator.key, &format!("/v1/audit?{q}")).await;
        let m = a.assert_error(StatusCode::BAD_REQUEST, "bad_query_parameter");
        assert!(m.contains("exactly one"), "{m}");
    }
    let (a, _) = get_as(&app, &j.regulator.key, "/v1/audit?product=123").await;
    a.assert_error(StatusCode::BAD_REQUEST, "bad_gtin");
    let (a, _) = get_as(&app, &j.regulator.key, "/v1/audit?gtin=06901234000025").await;
    a.assert_error(StatusCode::BAD_REQUEST, "bad_query");
}

async fn audit_of_a_product(j: &Journey, app: &Router) {
    let t =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| j.txs[n].clone()).collect() };
    // Who touched the carton product: any member may ask.
    let q = format!("product={}", carton_gtin());
    let v = get_as_ok(app, &j.shop.key, &format!("/v1/audit?{q}")).await;
    assert_eq!(v["subject"], format!("product {}", carton_gtin()));
    let items = audit(app, &j.shop.key, &q, None).await;
    assert_eq!(
        tx_ids(&items),
        t(&[
            "product_carton",
            "lot_carton",
            "capture_production",
            "capture_transport",
            "capture_delivery",
            "capture_sale"
        ])
    );
    assert_eq!(audit(app, &j.shop.key, &q, Some(2)).await, items, "paging");
    assert_eq!(
        audit(
            app,
            &j.shop.key,
            &format!("product={}", &carton_gtin()[1..]),
            None
        )
        .await,
        items,
        "GTIN-13 form"
    );
    audit_entries_match_their_transactions(j, app, &items).await;
    let captures: Vec<&Value> = items
        .iter()
        .filter(|i| i["action"] == "capture_epcis")
        .collect();
    assert_eq!(captures.len(), 4);
    for c in captures {
        assert!(
            c["summary"]
                .as_str()
                .is_some_and(|s| s.contains(&carton_gtin())),
            "{c}"
        );
        assert!(c["org"].is_string(), "{c}");
    }
    let sale = items
        .iter()
        .find(|i| i["tx_id"] == j.txs["capture_sale"])
        .expect("sale");
    assert_eq!(sale["org"], SHOP);
    assert_eq!(sale["signer"], j.shop.hex());
    assert_eq!(sale["height"], j.heights["retail"]);
    assert_eq!(
        tx_ids(
            &audit(
                app,
                &j.producer.key,
                &format!("product={}", fruit_gtin()),
                None
            )
            .await
        ),
        t(&["product_fruit", "lot_fruit", "capture_production"])
    );
}

async fn audit_entries_match_their_transactions(j: &Journey, app: &Router, items: &[Value]) {
    // Each entry matches its transaction, by height.
    let mut last = 0;
    for i in items {
        let id = i["tx_id"].as_str().expect("tx_id");
        let tx = common::get_ok(app, &format!("/v1/txs/{id}")).await;
        assert_eq!(i["height"], tx["height"], "{i}");
        assert_eq!(i["signer"], tx["signer"], "{i}");
        assert_eq!(i["action"], tx["payload"]["type"], "{i}");
        assert_eq!(i["outcome"], "applied", "{i}");
        let h = i["height"].as_u64().expect("height");
        assert!(h >= last, "by height");
        last = h;
        let time = i["time"].as_str().expect("time");
        assert_eq!(
            time,
            waybill_api::epcis::rfc3339_ms(i["time_ms"].as_u64().expect("time_ms"))
        );
        let block_time = j.net.block_time(h).await;
        assert_eq!(i["time_ms"], block_time);
    }
}

async fn audit_of_a_member_and_an_org(j: &Journey, app: &Router) {
    let t =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| j.txs[n].clone()).collect() };
    // A member's trail: its own organization, or a regulator.
    let q = format!("member={}", j.producer.hex());
    let own = audit(app, &j.producer.key, &q, None).await;
    assert_eq!(
        tx_ids(&own),
        t(&[
            "product_fruit",
            "product_carton",
            "lot_fruit",
            "lot_carton",
            "capture_production"
        ])
    );
    assert!(own
        .iter()
        .all(|i| i["signer"] == j.producer.hex() && i["org"] == ORCH));
    assert_eq!(
        audit(app, &j.admins[ORCH].key, &q, None).await,
        own,
        "the org admin"
    );
    assert_eq!(
        audit(app, &j.regulator.key, &q, None).await,
        own,
        "a regulator"
    );
    let (a, _) = get_as(app, &j.shop.key, &format!("/v1/audit?{q}")).await;
    let m = a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
    assert!(m.contains("regulator"), "{m}");

    // An organization's trail: every member's transactions, the admin's too.
    let q = format!("org={ORCH}");
    let org = audit(app, &j.producer.key, &q, None).await;
    assert_eq!(
        org.len(),
        own.len() + 4,
        "admin: member, two locations, a delegation"
    );
    assert!(tx_ids(&own).is_subset(&tx_ids(&org)));
    let admin_entries: Vec<&Value> = org
        .iter()
        .filter(|i| i["signer"] == j.admins[ORCH].hex())
        .collect();
    assert_eq!(
        admin_entries
            .iter()
            .map(|i| i["action"].as_str().expect("action"))
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "register_member",
            "register_location",
            "set_location_delegate"
        ])
    );
    assert_eq!(audit(app, &j.regulator.key, &q, None).await, org);
    for key in [&j.shop.key, &j.carrier.key, &j.inspector.key] {
        let (a, _) = get_as(app, key, &format!("/v1/audit?{q}")).await;
        a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
    }
}

// ---------------------------------------------------------------------------
// 7. Master data
// ---------------------------------------------------------------------------

#[tokio::test]
async fn master_data_locations_and_qualifications() {
    let mut j = journey().await;
    let app = j.net.app.clone();

    locations_are_public(&j, &app).await;
    // Qualifications with their status today.
    let q = |kind: &str, number: &str, from: &str, to: &str| {
        Payload::RecordQualification(RecordQualification {
            org: org_id(ORCH),
            kind: kind.into(),
            issuer: "China Organic Certification Center".into(),
            number: number.into(),
            scope: "navel oranges, 120 ha".into(),
            valid_from: from.into(),
            valid_to: to.into(),
        })
    };
    let recs = vec![
        j.inspector
            .sign(q("organic", "COC-1", "2020-01-01", "2099-12-31")),
        j.inspector
            .sign(q("gap", "GAP-7", "2019-01-01", "2019-12-31")),
        j.inspector
            .sign(q("export_license", "EXP-3", "2099-01-01", "2099-12-31")),
        j.inspector
            .sign(q("haccp", "HACCP-2", "2020-01-01", "2099-12-31")),
    ];
    let h = j.net.apply_all(&recs).await;
    let revoke = j
        .inspector
        .sign(Payload::RevokeQualification(RevokeQualification {
            org: org_id(ORCH),
            number: "HACCP-2".into(),
            reason: "plant failed the follow-up audit".into(),
        }));
    let h_revoke = j.net.apply_all(&[revoke]).await;
    let v = common::get_ok(&app, &format!("/v1/orgs/{ORCH}/qualifications")).await;
    assert_eq!(v["org"], ORCH);
    let today = waybill_state::credentials::date_of_ms(now_ms());
    assert_eq!(v["date"], today);
    let statuses: BTreeMap<&str, &str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["number"].as_str().expect("number"),
                i["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        BTreeMap::from([
            ("COC-1", "valid"),
            ("GAP-7", "expired"),
            ("EXP-3", "not_yet_valid"),
            ("HACCP-2", "revoked")
        ])
    );
    qualifications_page_with_their_details(&j, &app, &v, (h, h_revoke)).await;
}

async fn locations_are_public(j: &Journey, app: &Router) {
    // Locations: anyone may read them.
    let v = common::get_ok(app, "/v1/locations").await;
    assert_eq!(v["next_after"], Value::Null);
    let owners: BTreeMap<String, String> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| {
            (
                l["gln"].as_str().expect("gln").to_string(),
                l["owner"].as_str().expect("owner").to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        (FARM, ORCH),
        (PACKHOUSE, ORCH),
        (WAREHOUSE, COLD),
        (STORE, SHOP),
        (CUSTOMS_OFFICE, CUST),
    ]
    .into_iter()
    .map(|(l, o)| (gln_of(l).as_str().to_string(), o.to_string()))
    .collect();
    assert_eq!(owners, expected);
    let mut paged = Vec::new();
    let mut uri = "/v1/locations?limit=2".to_string();
    loop {
        let p = common::get_ok(app, &uri).await;
        paged.extend(p["items"].as_array().expect("items").clone());
        match p["next_after"].as_str() {
            Some(n) => uri = format!("/v1/locations?limit=2&after={n}"),
            None => break,
        }
    }
    assert_eq!(Value::Array(paged), v["items"]);
    let gln = gln_of(PACKHOUSE);
    let loc = common::get_ok(app, &format!("/v1/locations/{gln}")).await;
    assert_eq!(loc["gln"], gln.as_str());
    assert_eq!(loc["name"], "Pujiang packhouse");
    assert_eq!(loc["kind"], "plant");
    assert_eq!(loc["country"], "CN");
    assert_eq!(loc["owner"], ORCH);
    assert_eq!(loc["registered_by"], j.admins[ORCH].hex());
    assert_eq!(loc["registered_at"], j.heights["setup"]);
    let tx = common::get_ok(
        app,
        &format!("/v1/txs/{}", loc["tx_id"].as_str().expect("tx_id")),
    )
    .await;
    assert_eq!(tx["payload"]["type"], "register_location");
    get_anon(
        app,
        &format!(
            "/v1/locations/{}",
            gln_of("urn:epc:id:sgln:6901234.00099.0")
        ),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "unknown_location");
    get_anon(app, "/v1/locations/6901234000012")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_gln");
}

async fn qualifications_page_with_their_details(
    j: &Journey,
    app: &Router,
    v: &Value,
    (h, h_revoke): (u64, u64),
) {
    // The list pages like every other list: one at a time, all four, then no cursor.
    assert_eq!(v["next_after"], Value::Null);
    let mut paged = Vec::new();
    let mut uri = format!("/v1/orgs/{ORCH}/qualifications?limit=1");
    loop {
        let p = common::get_ok(app, &uri).await;
        let items = p["items"].as_array().expect("items");
        assert!(items.len() <= 1, "a page holds at most `limit` items: {p}");
        paged.extend(items.clone());
        match p["next_after"].as_str() {
            Some(n) => uri = format!("/v1/orgs/{ORCH}/qualifications?limit=1&after={n}"),
            None => break,
        }
    }
    assert_eq!(Value::Array(paged), v["items"]);
    let coc = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["number"] == "COC-1")
        .expect("COC-1");
    assert_eq!(coc["kind"], "organic");
    assert_eq!(coc["valid_from"], "2020-01-01");
    assert_eq!(coc["valid_to"], "2099-12-31");
    assert_eq!(coc["verified_by"], j.inspector.hex());
    assert_eq!(coc["verified_by_org"], CUST);
    assert_eq!(coc["recorded_at"], h);
    assert_eq!(coc["revoked"], Value::Null);
    let haccp = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["number"] == "HACCP-2")
        .expect("HACCP-2");
    assert_eq!(haccp["revoked"]["at"], h_revoke);
    assert_eq!(haccp["revoked"]["by"], j.inspector.hex());
    assert_eq!(
        common::get_ok(app, &format!("/v1/orgs/{COLD}/qualifications")).await["items"],
        json!([])
    );
    get_anon(app, "/v1/orgs/nobody/qualifications")
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_org");
    get_anon(app, "/v1/orgs/Not%20An%20Id/qualifications")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_org_id");
}

/// A lot number with characters that canonical identifiers keep as they are (`;`,
/// `=`, `'`) names one lot whether it comes from an ILMD `lotNumber`, a class
/// identifier or `GTIN/LOT`.
#[tokio::test]
async fn lot_numbers_with_reserved_characters_name_one_lot() {
    let mut j = journey().await;
    let app = j.net.app.clone();
    let lot = "A;1='2";
    let g = carton_gtin();
    let made = epcis_doc(vec![
        ev(
            "ObjectEvent",
            "2026-11-08T08:00:00.000+08:00",
            json!({
                "action": "ADD", "epcList": [carton(20)], "bizStep": "commissioning",
                "ilmd": {"cbvmda:lotNumber": lot}
            }),
        ),
        ev(
            "TransformationEvent",
            "2026-11-08T09:00:00.000+08:00",
            json!({
                "inputQuantityList": [{"epcClass": format!("https://id.gs1.org/01/{g}/10/{lot}"), "quantity": 5, "uom": "KGM"}],
                "outputEPCList": [carton(21)], "bizStep": "commissioning"
            }),
        ),
    ]);
    j.net.capture_ok(&mut j.producer, &made).await;
    let k = &j.producer.key;
    let mut reached = Vec::new();
    for start in [
        format!("{g}/{lot}"),
        format!("https://id.gs1.org/01/{g}/10/{lot}"),
    ] {
        let v = get_as_ok(
            &app,
            k,
            &format!("/v1/trace/{}?direction=forward", pct(&start)),
        )
        .await;
        let ids: BTreeSet<String> = v["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["id"].as_str().expect("id").to_string())
            .collect();
        assert!(
            ids.contains(&canon(&carton(20))),
            "{start}: the commissioned carton: {v}"
        );
        assert!(
            ids.contains(&canon(&carton(21))),
            "{start}: what it was made into: {v}"
        );
        reached.push((v["id"].clone(), ids));
    }
    assert_eq!(reached[0], reached[1]);
}

/// Two captures that bind the same prefix to different namespaces: each exported event
/// keeps the meaning (and so the Event Hash ID) it was captured with.
#[tokio::test]
async fn exported_events_keep_the_namespaces_they_were_captured_with() {
    let admin = Signer::new("ns-admin");
    let mut capturer = Signer::new("ns-capturer");
    let mut net = Net::new(&[("ns-test", WRITERS, &[], &admin.key)]);
    let mut admin = admin;
    net.apply_all(&[admin.sign(member(capturer.public(), "capture", WRITERS))])
        .await;
    let validator = schema_validator();
    let doc = |ns: &str, serial: &str| {
        let mut d = epcis_doc(vec![ev(
            "ObjectEvent",
            "2026-11-08T08:00:00.000+08:00",
            json!({
                "action": "OBSERVE", "epcList": [format!("urn:epc:id:sgtin:4012345.011111.{serial}")],
                "bizStep": "receiving", "ex:grade": "A", "ex:lab": {"ex:name": "lab 1"}
            }),
        )]);
        d["@context"] =
            json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ex": ns}]);
        d
    };
    let docs = [
        doc("https://a.example/ns/", "1"),
        doc("https://b.example/ns/", "1"),
        doc("https://a.example/ns/", "2"),
    ];
    let mut expected = Vec::new();
    for d in &docs {
        let job = net.capture_ok(&mut capturer, d).await;
        assert_eq!(job["eventsCaptured"], 1, "{job}");
        expected.extend(hash_ids(d));
    }
    assert_eq!(
        expected.iter().collect::<BTreeSet<_>>().len(),
        3,
        "three different events"
    );
    let v = get_as_ok(&net.app, &capturer.key, "/epcis/events").await;
    assert_valid_export(&validator, "mixed namespaces", &v);
    assert_eq!(hash_ids(&v), expected);
    for (e, h) in events_of(&v).iter().zip(&expected) {
        let one = get_as_ok(
            &net.app,
            &capturer.key,
            &format!(
                "/epcis/events/{}",
                pct(e["eventID"].as_str().expect("eventID"))
            ),
        )
        .await;
        assert_valid_export(&validator, "one event", &one);
        assert_eq!(hash_ids(&one), std::slice::from_ref(h));
    }
}

/// Proof bundles (docs/PROOFS.md): the bundle of a carton verifies offline against the
/// genesis and the fingerprint; every part mutated is rejected at the right step.
#[tokio::test]
async fn proof_bundle_verifies_and_every_mutation_is_caught() {
    use waybill_types::proof::{verify, ProofBundle, TrustFile, TrustRoot, TRUST_FORMAT};
    let mut j = journey().await;
    // A sibling carton's own event: genuine, certified, and not part of C1's history.
    let c3_alone = storing_doc(3, "2026-11-07T08:00:00.000+08:00");
    j.net
        .capture_ok(
            &mut j.carrier,
            &serde_json::from_str(&c3_alone).expect("JSON"),
        )
        .await;
    let fetch = |serial: &'static str| {
        let app = j.net.app.clone();
        async move {
            let a = common::get(
                &app,
                &format!("/v1/proofs/01/{}/21/{serial}", carton_gtin()),
            )
            .await;
            serde_json::from_value::<ProofBundle>(common::ok_json(&a)).expect("bundle JSON")
        }
    };
    let bundle = fetch("C1").await;
    let sibling = fetch("C3").await;
    let subject = format!("https://id.gs1.org/01/{}/21/C1", carton_gtin());
    assert_eq!(bundle.subject, subject);
    let genesis = j.net.shared.genesis.clone();
    let fp = waybill_types::proof::fingerprint(&genesis);
    assert_eq!(bundle.fingerprint, fp);
    let root = TrustRoot::Fingerprint(fp.clone());
    let ok = verify(&bundle, &root).expect("the bundle verifies");
    assert_eq!(
        ok.anchor_height,
        j.net.head().await.0,
        "complete up to the head"
    );
    // The same bundle against the genesis and against a saved trust file.
    verify(&bundle, &TrustRoot::Genesis(Box::new(genesis.clone()))).expect("genesis root");
    let trust = TrustFile {
        format: TRUST_FORMAT.into(),
        chain_id: genesis.chain_id.clone(),
        genesis_hash: genesis.hash(),
    };
    verify(&bundle, &TrustRoot::Trust(trust.clone())).expect("trust file root");
    let kinds: BTreeSet<String> = ok
        .records
        .iter()
        .map(|r| r.record["kind"].as_str().expect("kind").to_string())
        .collect();
    for k in ["product", "lot", "event", "inspection", "location"] {
        assert!(kinds.contains(k), "bundle has {k} records: {kinds:?}");
    }
    let (carton_chain, inspection_at) = bundle_history_is_complete(&ok, &subject).await;
    orders_are_not_published(&bundle);
    record_header_and_genesis_mutations_are_caught(&bundle, &root, &genesis, &trust).await;
    fingerprint_and_subject_mutations_are_caught((&bundle, &sibling), &root, &fp, &subject).await;
    sibling_records_are_caught((&bundle, &sibling), &root).await;
    order_gaps_heads_and_anchor_are_caught(
        &bundle,
        &root,
        (&carton_chain, inspection_at),
        &subject,
    )
    .await;
}

fn orders_are_not_published(bundle: &waybill_types::proof::ProofBundle) {
    // Orders are platform transactions: never in the open tier.
    let text = serde_json::to_string(&bundle).expect("json");
    let decoded: String = bundle
        .records
        .iter()
        .map(|r| String::from_utf8(common::unb64(&r.record)).expect("utf-8"))
        .collect();
    assert!(
        !decoded.contains(ORDER) && !decoded.contains(PO),
        "orders are not published"
    );
    assert!(text.len() < 1_000_000);
}

async fn bundle_history_is_complete(
    ok: &waybill_types::proof::Verified,
    subject: &str,
) -> (Vec<(u64, u64)>, (u64, u64)) {
    // The history: the carton, the pallet that held it, the bin it was made from, the
    // lots, the places, the owners' qualifications, the validator sets.
    let chain_of = |id: &str| -> Vec<(u64, u64)> {
        ok.history
            .chains
            .iter()
            .find(|(s, _)| s == id)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("{id} is part of the history: {:?}", ok.history.chains))
    };
    let dl = |urn: &str| waybill_epcis::epc::parse(urn).expect("EPC").canonical;
    let carton_chain = chain_of(subject);
    let pallet_chain = chain_of(&dl(P1));
    chain_of(&dl(B1));
    chain_of("validators");
    assert!(ok.history.chains.iter().any(|(s, _)| s.starts_with("org:")));
    assert!(carton_chain.len() >= 3, "{carton_chain:?}");
    // The customs inspection of the pallet is published as its outcome only.
    let inspection = ok
        .records
        .iter()
        .find(|r| r.record["kind"] == "inspection")
        .expect("the inspection outcome");
    assert_eq!(inspection.record["outcome"], "conformant");
    assert!(pallet_chain.contains(&(inspection.height, inspection.index)));
    for hidden in ["readings", "read_point", "action", "allowed_range"] {
        assert!(
            inspection.record.get(hidden).is_none(),
            "{hidden}: {}",
            inspection.record
        );
    }
    (carton_chain, (inspection.height, inspection.index))
}

async fn record_header_and_genesis_mutations_are_caught(
    bundle: &waybill_types::proof::ProofBundle,
    root: &waybill_types::proof::TrustRoot,
    genesis: &waybill_types::Genesis,
    trust: &waybill_types::proof::TrustFile,
) {
    use waybill_types::proof::{verify, TrustRoot};
    // A record byte.
    let mut m = bundle.clone();
    m.records[0].record = flip_b64(&m.records[0].record, 5);
    expect_step(&m, root, "inclusion");
    // A proof hash (take a record whose proof is not empty).
    let mut m = bundle.clone();
    let r = m
        .records
        .iter_mut()
        .find(|r| !r.proof.is_empty())
        .expect("a record with a proof");
    let mut h = hex::decode(&r.proof[0]).expect("hex");
    h[0] ^= 0x80;
    r.proof[0] = hex::encode(h);
    expect_step(&m, root, "inclusion");
    // A header field (its time): the certificate no longer signs it.
    let mut m = bundle.clone();
    let mut hd: waybill_types::BlockHeader =
        waybill_types::codec::decode(&common::unb64(&m.headers[0].header), 1 << 16, "header")
            .expect("header");
    hd.time_ms += 1;
    m.headers[0].header = common::b64(&waybill_types::codec::encode(&hd));
    let e = verify(&m, root).expect_err("caught");
    assert!(matches!(e.step, "certificate" | "inclusion"), "{e}");
    // A signature.
    let mut m = bundle.clone();
    let mut cert: waybill_types::CommitCertificate =
        waybill_types::codec::decode(&common::unb64(&m.headers[0].certificate), 1 << 16, "cert")
            .expect("cert");
    cert.signatures[0].signature.0[7] ^= 0x01;
    m.headers[0].certificate = common::b64(&waybill_types::codec::encode(&cert));
    expect_step(&m, root, "certificate");
    // A validator key in the genesis: no trust root the verifier holds accepts it.
    let mut g2 = genesis.clone();
    g2.validators[0].public_key = SecretKey::from_label("impostor").public();
    let mut m = bundle.clone();
    m.genesis = common::b64(&waybill_types::codec::encode(&g2));
    expect_step(&m, root, "fingerprint");
    for r in [
        TrustRoot::Genesis(Box::new(genesis.clone())),
        TrustRoot::Trust(trust.clone()),
    ] {
        assert_eq!(verify(&m, &r).expect_err("caught").step, "genesis");
    }
}

async fn fingerprint_and_subject_mutations_are_caught(
    (bundle, sibling): (
        &waybill_types::proof::ProofBundle,
        &waybill_types::proof::ProofBundle,
    ),
    root: &waybill_types::proof::TrustRoot,
    fp: &str,
    subject: &str,
) {
    use waybill_types::proof::{verify, TrustRoot};
    // The bundle's own fingerprint is no trust root, and a short fingerprint is none
    // either: 16 hex digits (64 bits) are within reach of a second-preimage search.
    let e = verify(bundle, &TrustRoot::Fingerprint(fp[..16].to_string())).expect_err("short");
    assert_eq!(e.step, "fingerprint");
    assert!(e.detail.contains("32"), "{e}");
    let e = verify(
        bundle,
        &TrustRoot::Fingerprint("0123456789abcdef0123456789abcdef".into()),
    )
    .expect_err("caught");
    assert_eq!(e.step, "fingerprint", "{e}");
    // A record citing a height whose header was dropped.
    let mut m = bundle.clone();
    let h0 = m.records[0].height;
    m.headers.retain(|h| h.height != h0);
    expect_step(&m, root, "record");
    // Another item's genuine history relabelled.
    let mut m = bundle.clone();
    m.subject = format!("https://id.gs1.org/01/{}/21/C999", carton_gtin());
    expect_step(&m, root, "completeness");
    let mut m = bundle.clone();
    m.subject = "https://id.gs1.org/01/06901234999990".into();
    expect_step(&m, root, "subject");
    // The sibling's bundle (genuine, complete) presented as C1's.
    let mut m = sibling.clone();
    m.subject = subject.to_string();
    expect_step(&m, root, "completeness");
}

async fn sibling_records_are_caught(
    (bundle, sibling): (
        &waybill_types::proof::ProofBundle,
        &waybill_types::proof::ProofBundle,
    ),
    root: &waybill_types::proof::TrustRoot,
) {
    // A genuine record of the sibling carton spliced in (with its header).
    let extra = sibling
        .records
        .iter()
        .find(|r| {
            !bundle
                .records
                .iter()
                .any(|x| (x.height, x.index) == (r.height, r.index))
        })
        .expect("the sibling has a record of its own")
        .clone();
    let mut m = bundle.clone();
    if !m.headers.iter().any(|h| h.height == extra.height) {
        let h = sibling
            .headers
            .iter()
            .find(|h| h.height == extra.height)
            .expect("header")
            .clone();
        m.headers.push(h);
        m.headers.sort_by_key(|h| h.height);
    }
    m.records.push(extra.clone());
    m.records.sort_by_key(|r| (r.height, r.index));
    let e = expect_step(&m, root, "subject");
    assert!(e.detail.contains("not part of the history"), "{e}");
    // The sibling's head listed too.
    let mut m = bundle.clone();
    let c3_head = sibling
        .heads
        .iter()
        .find(|h| h.subject.ends_with("/21/C3"))
        .expect("C3's head")
        .clone();
    m.heads.push(c3_head.clone());
    expect_step(&m, root, "completeness");
    // ... with its record and header too: still not part of this history.
    let mut m2 = bundle.clone();
    m2.heads.push(c3_head);
    let c3_last = sibling
        .records
        .iter()
        .find(|r| Some([r.height, r.index]) == m2.heads.last().and_then(|h| h.at))
        .expect("C3's last record")
        .clone();
    if !m2.headers.iter().any(|h| h.height == c3_last.height) {
        let h = sibling
            .headers
            .iter()
            .find(|h| h.height == c3_last.height)
            .expect("header")
            .clone();
        m2.headers.push(h);
        m2.headers.sort_by_key(|h| h.height);
    }
    if !m2
        .records
        .iter()
        .any(|r| (r.height, r.index) == (c3_last.height, c3_last.index))
    {
        m2.records.push(c3_last);
        m2.records.sort_by_key(|r| (r.height, r.index));
    }
    expect_step(&m2, root, "subject");
}

async fn order_gaps_heads_and_anchor_are_caught(
    bundle: &waybill_types::proof::ProofBundle,
    root: &waybill_types::proof::TrustRoot,
    (carton_chain, inspection_at): (&[(u64, u64)], (u64, u64)),
    subject: &str,
) {
    // A record repeated, or two records swapped.
    let mut m = bundle.clone();
    let dup = m.records[1].clone();
    m.records.insert(1, dup);
    expect_step(&m, root, "order");
    let mut m = bundle.clone();
    m.records.swap(1, 2);
    expect_step(&m, root, "order");
    // A record dropped from the middle of the carton's history (the packing on the
    // pallet): a gap in the chain.
    let middle = carton_chain[carton_chain.len() / 2];
    assert_ne!(middle, carton_chain[0], "a middle record");
    let mut m = bundle.clone();
    m.records.remove(pos_of(&m, middle));
    let e = expect_step(&m, root, "completeness");
    assert!(e.detail.contains("missing"), "{e}");
    // The customs inspection dropped (an inconvenient outcome).
    let mut m = bundle.clone();
    m.records.remove(pos_of(&m, inspection_at));
    expect_step(&m, root, "completeness");
    // The last record dropped: the head names it.
    let mut m = bundle.clone();
    m.records.remove(pos_of(&m, carton_chain[0]));
    expect_step(&m, root, "completeness");
    // ... and the head moved back to the record before it: not what the block commits to.
    let head_i = m
        .heads
        .iter()
        .position(|h| h.subject == subject)
        .expect("carton head");
    m.heads[head_i].at = Some([carton_chain[1].0, carton_chain[1].1]);
    expect_step(&m, root, "heads");
    // ... or the head left out.
    let mut m = bundle.clone();
    m.heads.retain(|h| h.subject != subject);
    expect_step(&m, root, "completeness");
    // A head proof altered.
    let mut m = bundle.clone();
    let mut sib = hex::decode(&m.heads[0].proof[0]).expect("hex");
    sib[3] ^= 1;
    m.heads[0].proof[0] = hex::encode(sib);
    expect_step(&m, root, "heads");
    // The anchor misstated.
    let mut m = bundle.clone();
    m.anchor -= 1;
    expect_step(&m, root, "anchor");
}

/// `s` (base64) with the bit 0 of byte `at` (or the last byte) flipped.
fn flip_b64(s: &str, at: usize) -> String {
    let mut b = common::unb64(s);
    let i = at.min(b.len() - 1);
    b[i] ^= 0x01;
    common::b64(&b)
}

/// `b` fails verification against `root` at `step`.
fn expect_step(
    b: &waybill_types::proof::ProofBundle,
    root: &waybill_types::proof::TrustRoot,
    step: &str,
) -> waybill_types::proof::ProofError {
    let e = waybill_types::proof::verify(b, root).expect_err("mutation is caught");
    assert_eq!(e.step, step, "{e}");
    e
}

/// Where the record at `p` is in `b`.
fn pos_of(b: &waybill_types::proof::ProofBundle, p: (u64, u64)) -> usize {
    b.records
        .iter()
        .position(|r| (r.height, r.index) == p)
        .expect("record in bundle")
}

/// The open tier's screening rules are data: `GET /v1/screening-rules` serves version
/// 1 (issue 7's rule, from code) until governance replaces it — a proposal with a
/// malformed rule set is refused at submission naming the rule, one approval short of
/// a majority changes nothing, the majority's approval puts version 2 in force in its
/// block — and from then on captures publish what version 2 says: here transport
/// events without read point, readings or allowed range, inspections not at all.
#[tokio::test]
async fn screening_rules_are_data_that_governance_changes() {
    use waybill_types::payload::{ApproveGovernance, ProposeGovernance};
    use waybill_types::screening::{self, Publish, ScreenedField as F, ScreeningRule};
    use waybill_types::GovernanceAction;
    let mut j = journey().await;
    let app = j.net.app.clone();
    let v = common::get_ok(&app, "/v1/screening-rules").await;
    assert_eq!(v["in_force"]["version"], 1, "{v}");
    assert_eq!(v["in_force"]["since_height"], 0);
    assert_eq!(v["in_force"]["rules"], json!(screening::v1()));
    assert_eq!(v["history"].as_array().map(Vec::len), Some(1));
    let propose = |rules: Vec<ScreeningRule>| {
        Payload::ProposeGovernance(ProposeGovernance {
            action: GovernanceAction::SetScreeningRules { rules },
            reason: "transport readings are commercial; inspections are not for the public".into(),
        })
    };
    // Malformed: a second rule for transport events.
    let mut twice = screening::v1();
    twice.push(twice[3].clone());
    let stx = j.admin(ORCH).sign(propose(twice));
    let a = post_json(&app, "/v1/tx", &tx_body(&stx)).await;
    let detail = a.assert_error(StatusCode::BAD_REQUEST, "invalid_tx");
    assert!(
        detail.contains("rule 5: a second rule for transport events"),
        "{detail}"
    );
    // Version 2: transport events keep action, disposition and place; customs and
    // quality events are no longer published.
    let mut v2 = screening::v1();
    v2[3] = ScreeningRule {
        category: DataCategory::Transport,
        event_type: None,
        publish: Publish::Event,
        fields: vec![F::Action, F::Disposition, F::BizLocation],
    };
    v2[2] = ScreeningRule {
        category: DataCategory::CustomsQuality,
        event_type: None,
        publish: Publish::Nothing,
        fields: vec![],
    };
    let proposal = j.admin(ORCH).sign(propose(v2.clone()));
    j.net.apply_all(&[proposal]).await;
    let approve = |p: u64| Payload::ApproveGovernance(ApproveGovernance { proposal: p });
    let n = common::get_ok(&app, "/v1/governance/proposals").await["items"][0]["id"]
        .as_u64()
        .expect("proposal id");
    let (a1, a2) = (
        j.admin(COLD).sign(approve(n)),
        j.admin(SHOP).sign(approve(n)),
    );
    j.net.apply_all(&[a1, a2]).await;
    let v = common::get_ok(&app, "/v1/screening-rules").await;
    assert_eq!(v["in_force"]["version"], 1, "3 of 6 is not a majority: {v}");
    let a3 = j.admin(CUST).sign(approve(n));
    let h = j.net.apply_all(&[a3]).await;
    let v = common::get_ok(&app, "/v1/screening-rules").await;
    assert_eq!(v["in_force"]["version"], 2, "{v}");
    assert_eq!(v["in_force"]["since_height"], h);
    assert_eq!(v["in_force"]["rules"], json!(v2));
    assert_eq!(v["history"][0]["version"], 1);
    assert_eq!(v["history"][1], v["in_force"]);
    captures_follow_screening_v2(&mut j).await;
}

/// Under the version 2 of `screening_rules_are_data_that_governance_changes`: a
/// transport event without read point, readings or allowed range; an inspection not
/// published.
async fn captures_follow_screening_v2(j: &mut Journey) {
    let app = j.net.app.clone();
    let reading = json!([{"sensorMetadata": {"time": "2026-11-05T11:00:00.000+08:00"},
                          "sensorReport": [{"type": "gs1:Temperature", "value": 4.5, "uom": "CEL"}]}]);
    let received = epcis_doc(vec![ev(
        "ObjectEvent",
        "2026-11-05T11:00:00.000+08:00",
        json!({
            "action": "OBSERVE", "epcList": [carton(2)],
            "bizStep": "receiving", "disposition": "in_progress",
            "readPoint": {"id": STORE}, "bizLocation": {"id": STORE},
            "sensorElementList": reading
        }),
    )]);
    let inspected = epcis_doc(vec![ev(
        "ObjectEvent",
        "2026-11-05T12:00:00.000+08:00",
        json!({
            "action": "OBSERVE", "epcList": [carton(2)],
            "bizStep": "inspecting", "disposition": "conformant",
            "readPoint": {"id": CUSTOMS_OFFICE}, "bizLocation": {"id": CUSTOMS_OFFICE}
        }),
    )]);
    let mut carrier = std::mem::replace(&mut j.carrier, Signer::new("unused"));
    let mut inspector = std::mem::replace(&mut j.inspector, Signer::new("unused"));
    j.net.capture_ok(&mut carrier, &received).await;
    j.net.capture_ok(&mut inspector, &inspected).await;
    let a = common::get(&app, &format!("/v1/proofs/01/{}/21/C2", carton_gtin())).await;
    let bundle: waybill_types::proof::ProofBundle =
        serde_json::from_value(common::ok_json(&a)).expect("bundle");
    let records: Vec<Value> = bundle
        .records
        .iter()
        .map(|r| serde_json::from_slice(&common::unb64(&r.record)).expect("json"))
        .collect();
    let find = |doc: &Value| {
        let id = hash_ids(doc).remove(0);
        records
            .iter()
            .find(|r| r["hash_id"] == id.as_str())
            .cloned()
    };
    let r = find(&received).expect("the transport event is published");
    assert_eq!(r["kind"], "event");
    assert_eq!(r["action"], "OBSERVE");
    assert_eq!(r["disposition"], "in_progress");
    assert!(r["biz_location"].is_string(), "{r}");
    assert_eq!(r["read_point"], Value::Null, "{r}");
    assert_eq!(r["readings"], json!([]), "{r}");
    assert_eq!(r["allowed_range"], Value::Null, "{r}");
    assert!(find(&inspected).is_none(), "inspections are not published");
    // Under version 1 the journey's transport event carried its read point.
    let old = records
        .iter()
        .find(|r| r["hash_id"] == j.hashes["delivery"].as_str())
        .expect("the delivery, published under version 1");
    assert!(old["read_point"].is_string(), "{old}");
}

/// The open tier publishes exactly what the matrix's last row says, in proof bundles
/// and on the consumer page alike: production and transport events screened, customs
/// and quality events as their outcome only, platform transactions not at all — while
/// the consortium tier still refuses the platform the inspection's record.
#[tokio::test]
async fn open_tier_follows_the_matrix_in_bundles_and_pages() {
    use waybill_state::open::{open_form, OpenForm};
    use waybill_types::proof::ProofBundle;
    let j = journey().await;
    let app = j.net.app.clone();
    let a = common::get(&app, &format!("/v1/proofs/01/{}/21/C1", carton_gtin())).await;
    let bundle: ProofBundle = serde_json::from_value(common::ok_json(&a)).expect("bundle");
    let records: Vec<Value> = bundle
        .records
        .iter()
        .map(|r| serde_json::from_slice(&common::unb64(&r.record)).expect("json"))
        .collect();
    let page = common::send(
        &app,
        Request::builder()
            .uri(format!("/01/{}/21/C1", carton_gtin()))
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .expect("request"),
    )
    .await
    .text();
    let mut seen = BTreeSet::new();
    for (label, event) in journey_events() {
        let step = event["bizStep"].as_str();
        let category = waybill_state::trace::category_of(step, &[]);
        let hash_id = j.hashes[label].clone();
        let published = records.iter().find(|r| r["hash_id"] == hash_id.as_str());
        match open_form(category) {
            None => assert!(
                published.is_none(),
                "{label} ({category:?}) is not published: {published:?}"
            ),
            Some(OpenForm::Event) => {
                let r = published.unwrap_or_else(|| panic!("{label} ({category:?}) is published"));
                assert_eq!(r["kind"], "event", "{label}");
                seen.insert("event");
            }
            Some(OpenForm::Outcome) => {
                let r = published.unwrap_or_else(|| panic!("{label} ({category:?}) is published"));
                assert_eq!(r["kind"], "inspection", "{label}: {r}");
                let fields: BTreeSet<&str> = r
                    .as_object()
                    .expect("object")
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert_eq!(
                    fields,
                    BTreeSet::from([
                        "kind",
                        "hash_id",
                        "event_type",
                        "event_time",
                        "biz_step",
                        "outcome",
                        "biz_location",
                        "ids",
                        "org",
                        "org_name",
                        "source",
                        "prev"
                    ]),
                    "an outcome and nothing of the report"
                );
                seen.insert("outcome");
            }
        }
    }
    assert_eq!(seen, BTreeSet::from(["event", "outcome"]));
    the_page_and_the_consortium_tier_agree(&j, &app, &page).await;
}

async fn the_page_and_the_consortium_tier_agree(j: &Journey, app: &Router, page: &str) {
    // The page (no-JS copy, drawn from the same records) shows the inspection's result,
    // and nothing of the sale.
    assert!(
        page.contains("</b> — passed"),
        "the inspection outcome on the page:\n{page}"
    );
    assert!(
        !page.contains("Sold"),
        "platform transactions are not on the page"
    );
    // The consortium tier: the platform still may not read the inspection itself.
    let (a, _) = get_as(
        app,
        &j.shop.key,
        &format!("/epcis/events/{}", pct(INSPECTION_ID)),
    )
    .await;
    a.assert_error(StatusCode::FORBIDDEN, "not_authorized");
}

/// The consumer page carries the product's bundle (which verifies), renders the same
/// records for browsers without JavaScript marked "not verified", links its QR code
/// back to this node with the consortium fingerprint, and loads the two scripts; the
/// label sheet and the assets are served; bad links are refused by name.
#[tokio::test]
async fn consumer_page_embeds_a_verifiable_bundle_and_marks_the_fallback_unverified() {
    use axum::http::{header, Method, Request, StatusCode};
    use waybill_types::proof::{verify, ProofBundle, TrustRoot};
    let j = journey().await;
    let genesis = j.net.shared.genesis.clone();
    let fp = waybill_types::proof::fingerprint(&genesis);
    let page_req = |uri: &str| {
        Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::HOST, "shop.example:8080")
            .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
            .body(axum::body::Body::empty())
            .expect("request")
    };
    let path = format!("/01/{}/21/C1", carton_gtin());
    let a = common::send(&j.net.app, page_req(&format!("{path}?wb={fp}"))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let html = a.text();
    // The embedded bundle is the product's, and it verifies against the fingerprint.
    let start = html
        .find("<script type=application/json id=wb-bundle>")
        .expect("the page embeds the bundle")
        + "<script type=application/json id=wb-bundle>".len();
    let end = start + html[start..].find("</script>").expect("closed");
    let bundle: ProofBundle = serde_json::from_str(&html[start..end]).expect("bundle JSON");
    assert_eq!(
        bundle.subject,
        format!("https://id.gs1.org/01/{}/21/C1", carton_gtin())
    );
    let verified =
        verify(&bundle, &TrustRoot::Fingerprint(fp.clone())).expect("embedded bundle verifies");
    let events = verified
        .records
        .iter()
        .filter(|r| r.record["kind"] == "event")
        .count();
    // The page says how far the history is proven complete.
    assert!(
        html.contains(&format!("Complete up to block {}", bundle.anchor)),
        "completeness stated"
    );
    assert!(events >= 3, "the carton's public events are in the bundle");
    // The no-JavaScript view: the same history, every section marked not verified.
    assert!(
        html.contains("data-state=unverified"),
        "badge starts unverified"
    );
    assert!(html.contains("<strong>Not verified</strong>"));
    let sections = html.matches("<section class=card><h2>").count();
    let tags = html.matches("<span class=tag>not verified</span>").count();
    assert!(
        sections >= 3 && tags == sections,
        "{sections} sections, {tags} tags"
    );
    assert_eq!(html.matches("<ol class=timeline><li>").count(), 1);
    assert!(
        html.matches("<li><time>").count() >= events.min(3),
        "timeline entries"
    );
    assert!(
        html.contains("id=verified hidden"),
        "the verified view is empty until checked"
    );
    // Scripts, and the QR code's link back to this node with the fingerprint.
    assert!(html.contains("<script src=/assets/waybill-proof.js></script>"));
    assert!(html.contains("<script src=/assets/consumer.js></script>"));
    assert!(
        html.contains(&format!("http://shop.example:8080{path}?wb={fp}")),
        "QR link names this node and the fingerprint"
    );
    assert!(html.contains(&format!("--fingerprint {fp}")));
    assert!(html.contains("width=device-width"), "phone viewport");
    // A value that is not a fingerprint is not echoed into links.
    let a = common::send(
        &j.net.app,
        page_req(&format!("{path}?wb=%3Cscript%3Ealert(1)%3C/script%3E")),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(!a.text().contains("<script>alert"), "no injection");
    // The linkset is still there for machines.
    let a = common::send(
        &j.net.app,
        Request::builder()
            .uri(&path)
            .header(header::ACCEPT, "application/linkset+json")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(a.content_type.as_deref(), Some("application/linkset+json"));
    // Unknown products and bad links are refused by name.
    common::get(&j.net.app, "/01/06901234999990")
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_product");
    common::get(&j.net.app, "/01/06901234000017")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_digital_link");
    // Assets.
    for name in ["waybill-proof.js", "consumer.js"] {
        let a = common::get(&j.net.app, &format!("/assets/{name}")).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/javascript")));
        assert!(a.text().contains("use strict"));
    }
    common::get(&j.net.app, "/assets/..%2F..%2Fetc%2Fpasswd")
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_asset");
    common::get(&j.net.app, "/assets/app.js")
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_asset");
    // The label sheet: a QR code per product, lot and a few items, each linking to its
    // page on this node with the fingerprint.
    let a = common::send(&j.net.app, page_req("/labels")).await;
    assert_eq!(a.status, StatusCode::OK);
    let labels = a.text();
    assert!(
        labels.contains(&format!("http://shop.example:8080{path}?wb={fp}")),
        "the carton's label"
    );
    assert!(labels.matches("<svg").count() >= 2);
}

/// Issue 12: an eventID is its first capturer's (another organization's capture under
/// it is refused with `event_id_taken`, and `GET /epcis/events/{eventID}` answers the
/// one event); events come back with their numbers as written, so that they hash to
/// their Event Hash IDs again; an eventTime more than a day ahead is refused at once.
#[tokio::test]
async fn event_ids_are_not_reused_and_events_come_back_exactly() {
    let mut j = journey().await;
    let app = j.net.app.clone();
    let eid = "urn:uuid:5c0e9a1d-2b3f-4c6d-8e7f-90a1b2c3d4e5";
    let mut stored = ev(
        "ObjectEvent",
        "2026-11-07T10:00:00.000+08:00",
        json!({
            "eventID": eid, "action": "OBSERVE", "epcList": [carton(3)], "bizStep": "storing",
            "readPoint": {"id": WAREHOUSE}, "bizLocation": {"id": WAREHOUSE},
            "https://ns.example.com/epcis/weight": "WEIGHT"
        }),
    );
    let text = epcis_doc(vec![stored.clone()])
        .to_string()
        .replace("\"WEIGHT\"", "340123450000000000017.250");
    let id = j.net.capture(&mut j.carrier, &text).await;
    j.net.commit();
    let job = j.net.job(&id).await;
    assert_eq!(job["success"], true, "{job}");
    let hash_id = job["events"][0]["hash_id"]
        .as_str()
        .expect("hash id")
        .to_string();

    // Another organization, another event, the same eventID.
    stored["bizStep"] = json!("packing");
    stored["eventTime"] = json!("2026-11-07T10:05:00.000+08:00");
    for field in [
        "readPoint",
        "bizLocation",
        "https://ns.example.com/epcis/weight",
    ] {
        stored.as_object_mut().expect("object").remove(field);
    }
    let id = j
        .net
        .capture(&mut j.producer, &epcis_doc(vec![stored]).to_string())
        .await;
    j.net.commit();
    let job = j.net.job(&id).await;
    assert_eq!(job["success"], false, "{job}");
    assert_eq!(job["errors"].as_array().map(Vec::len), Some(1), "{job}");
    assert_eq!(job["errors"][0]["type"], "event_id_taken", "{job}");
    assert_eq!(
        job["errors"][0]["pointer"], "/epcisBody/eventList/0/eventID",
        "{job}"
    );
    let m = job["errors"][0]["detail"].as_str().expect("detail");
    for needle in [eid, COLD, &hash_id, "error declaration"] {
        assert!(m.contains(needle), "`{needle}` missing from {m}");
    }

    // The one event, as captured: its number exact, its Event Hash ID reproducible.
    let (a, _) = get_as(
        &app,
        &j.regulator.key,
        &format!("/epcis/events/{}", pct(eid)),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let body = a.text();
    assert!(
        body.contains("\"https://ns.example.com/epcis/weight\":340123450000000000017.250"),
        "{body}"
    );
    let exported = waybill_epcis::hash_id::ExactDocument::parse(&body).expect("the answer is JSON");
    assert_eq!(exported.events().len(), 1, "{body}");
    let event = exported.events()[0].as_object().expect("an event");
    assert_eq!(
        exported.event_hash_id(event).expect("hashes"),
        hash_id,
        "the exported event hashes to its ID"
    );

    events_ahead_of_the_clock_are_refused(&j, &app).await;
}

async fn events_ahead_of_the_clock_are_refused(j: &Journey, app: &Router) {
    // More than a day ahead of the node's clock: refused before anything is signed.
    let ahead = waybill_epcis::time::format_ms((now_ms() + 2 * 86_400_000) as i64);
    let late = storing_doc(3, &ahead);
    let (a, _) = call(
        app,
        capture_request(&j.carrier.key, j.carrier.next_nonce, &late, ""),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    let v = a.json();
    assert_eq!(v["code"], "invalid_epcis", "{v}");
    assert_eq!(
        v["problems"][0]["pointer"], "/epcisBody/eventList/0/eventTime",
        "{v}"
    );
    let m = v["problems"][0]["message"].as_str().expect("message");
    assert!(
        m.contains(&ahead) && m.contains("1970-01-01T00:00:00.000Z to"),
        "{m}"
    );
}

/// GET `uri` through the router with `headers`: status, headers and raw body.
async fn get_raw(
    app: &Router,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut b = Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(k, *v);
    }
    let resp = app
        .clone()
        .oneshot(b.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

/// A phone re-scanning a QR code revalidates: the consumer page and the proof bundle
/// carry a strong ETag of their content, `If-None-Match` with it answers 304 with no
/// body (also for the gzip variant's tag), and a changed bundle gets a new tag.
#[tokio::test]
async fn consumer_pages_and_proof_bundles_revalidate_with_etags() {
    let mut j = journey().await;
    let page = format!("/01/{}/21/C1", carton_gtin());
    let html = (header::ACCEPT, "text/html");
    let (status, h, body) = get_raw(&j.net.app, &page, std::slice::from_ref(&html)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let tag = h[header::ETAG].to_str().expect("ASCII").to_string();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
    assert_eq!(
        h[header::CACHE_CONTROL],
        "no-cache",
        "revalidate before reuse"
    );
    let (_, again, body_again) = get_raw(&j.net.app, &page, std::slice::from_ref(&html)).await;
    assert_eq!(again[header::ETAG], tag.as_str(), "same content, same tag");
    assert_eq!(body_again, body);
    let (status, h304, empty) = get_raw(
        &j.net.app,
        &page,
        &[html.clone(), (header::IF_NONE_MATCH, &tag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(empty.is_empty(), "304 has no body");
    assert_eq!(h304[header::ETAG], tag.as_str());
    // The gzip variant is another representation with its own tag, which revalidates.
    let gzip = (header::ACCEPT_ENCODING, "gzip");
    let (status, hz, zipped) = get_raw(&j.net.app, &page, &[html.clone(), gzip.clone()]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hz[header::CONTENT_ENCODING], "gzip");
    let gz_tag = hz[header::ETAG].to_str().expect("ASCII").to_string();
    assert_eq!(gz_tag, format!("{}-gzip\"", &tag[..tag.len() - 1]));
    assert!(
        zipped.len() * 2 < body.len(),
        "{} → {}",
        body.len(),
        zipped.len()
    );
    let (status, _, empty) = get_raw(
        &j.net.app,
        &page,
        &[html, gzip, (header::IF_NONE_MATCH, &gz_tag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(empty.is_empty());
    // The proof bundle.
    let proof = format!("/v1/proofs/01/{}/21/C1", carton_gtin());
    let (status, h, bundle) = get_raw(&j.net.app, &proof, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let btag = h[header::ETAG].to_str().expect("ASCII").to_string();
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let (status, h304, empty) =
        get_raw(&j.net.app, &proof, &[(header::IF_NONE_MATCH, &btag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(empty.is_empty());
    assert_eq!(h304[header::ETAG], btag.as_str());
    // A new block moves the bundle's anchor: a stale tag gets the new bundle.
    j.net.commit();
    let (status, h, newer) = get_raw(&j.net.app, &proof, &[(header::IF_NONE_MATCH, &btag)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(h[header::ETAG], btag.as_str());
    assert_ne!(newer, bundle);
}

// ---------------------------------------------------------------------------
// Time at the API's edge comes from the node's clock
// ---------------------------------------------------------------------------

/// 2033-05-18T03:33:20Z: years from any machine's clock while these tests run, so a
/// time read from the system clock instead of the node's cannot pass for it.
const CLOCK_T0_MS: u64 = 2_000_000_000_000;

/// A net on a manual clock at [`CLOCK_T0_MS`]: a producer (its admin `grower`), a
/// warehouse (`keeper`) and an inspection body (`inspector`).
fn clocked_net() -> (Net, ManualClock, [Signer; 3]) {
    let clock = ManualClock::at(CLOCK_T0_MS);
    let signers = [
        Signer::new("clock-grower"),
        Signer::new("clock-keeper"),
        Signer::new("clock-inspector"),
    ];
    let net = Net::with_clock(
        &[
            (ORCH, &[Role::Producer], &["6901234"], &signers[0].key),
            (COLD, &[Role::Warehouse], &["6905555"], &signers[1].key),
            (CUST, &[Role::Inspector], &[], &signers[2].key),
        ],
        &clock,
    );
    (net, clock, signers)
}

/// A warehouse's observation of a carton at `time` (no business location to register).
fn observed_doc(time: &str) -> String {
    let fields = json!({
        "action": "OBSERVE", "epcList": [carton(1)], "bizStep": "storing",
        "readPoint": {"id": WAREHOUSE}
    });
    epcis_doc(vec![ev("ObjectEvent", time, fields)]).to_string()
}

/// `payload` signed by `signer` (next nonce), expiring an hour after the clock's now.
fn sign_by_clock(signer: &mut Signer, clock: &ManualClock, payload: Payload) -> SignedTx {
    let stx = waybill_client::sign_with(
        &signer.key,
        CHAIN_ID,
        signer.next_nonce,
        clock.now_ms() + 3_600_000,
        payload,
    );
    signer.next_nonce += 1;
    stx
}

#[tokio::test]
async fn a_signed_read_is_checked_against_the_nodes_clock() {
    let (net, clock, [_, keeper, _]) = clocked_net();
    let path = "/epcis/events";
    let read = |ts_ms: u64| call(&net.app, signed_get_at(&keeper.key, path, ts_ms));
    let (a, _) = read(CLOCK_T0_MS).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "signed at the clock's now: {}",
        a.text()
    );
    let window = waybill_api::auth::READ_SIGNATURE_MAX_AGE_MS;
    let (a, _) = read(CLOCK_T0_MS + window).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "at the window's edge: {}",
        a.text()
    );
    let m = read(CLOCK_T0_MS + window + 1)
        .await
        .0
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        m.contains(&CLOCK_T0_MS.to_string()),
        "names the node's time: {m}"
    );
    // The clock moves on: the signature of T0 grows too old, a fresh one is good.
    clock.advance(window);
    let (a, _) = read(CLOCK_T0_MS).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    clock.advance(1);
    read(CLOCK_T0_MS)
        .await
        .0
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let (a, _) = read(clock.now_ms()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
}

#[tokio::test]
async fn capture_times_and_query_creation_dates_come_from_the_nodes_clock() {
    let (mut net, clock, [_, mut keeper, _]) = clocked_net();
    let rfc = waybill_api::epcis::rfc3339_ms;
    // An event an hour before the clock's now: in the past by the node's clock.
    let doc = observed_doc("2033-05-18T02:33:20.000Z");
    let nonce = keeper.next_nonce;
    keeper.next_nonce += 1;
    let req = capture_request_until(&keeper.key, nonce, CLOCK_T0_MS + 3_600_000, &doc, "");
    let (a, _) = call(&net.app, req).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    let accepted = a.json();
    assert_eq!(accepted["createdAt"], rfc(CLOCK_T0_MS), "{accepted}");
    let id = accepted["captureID"]
        .as_str()
        .expect("captureID")
        .to_string();

    clock.advance(1_234);
    let h = net.commit();
    assert_eq!(net.block_time(h).await, CLOCK_T0_MS + 1_234);
    let job_path = format!("/epcis/capture/{id}");
    let job = call(
        &net.app,
        signed_get_at(&keeper.key, &job_path, clock.now_ms()),
    )
    .await
    .0
    .json();
    assert_eq!(job["success"], true, "{job}");
    assert_eq!(job["createdAt"], rfc(CLOCK_T0_MS), "{job}");
    assert_eq!(job["finishedAt"], rfc(CLOCK_T0_MS + 1_234), "{job}");

    // The query document is created now, by the clock; the event was recorded at
    // the block's time.
    clock.advance(10_000);
    let (a, _) = call(
        &net.app,
        signed_get_at(&keeper.key, "/epcis/events", clock.now_ms()),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let q = a.json();
    assert_eq!(q["creationDate"], rfc(CLOCK_T0_MS + 11_234), "{q}");
    let events = events_of(&q);
    assert_eq!(events.len(), 1, "{q}");
    assert_eq!(events[0]["recordTime"], rfc(CLOCK_T0_MS + 1_234), "{q}");
    let by_id = format!(
        "/epcis/events/{}",
        pct(events[0]["eventID"].as_str().expect("eventID"))
    );
    clock.advance(5);
    let (a, _) = call(&net.app, signed_get_at(&keeper.key, &by_id, clock.now_ms())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["creationDate"], rfc(CLOCK_T0_MS + 11_239));
}

#[tokio::test]
async fn an_event_time_is_bounded_by_the_nodes_clock() {
    let (net, _clock, [_, keeper, _]) = clocked_net();
    let ahead_ms =
        i64::try_from(CLOCK_T0_MS).expect("fits") + waybill_types::limits::EVENT_TIME_AHEAD_MS_MAX;
    let capture = |time_ms: i64, nonce: u64| {
        let doc = observed_doc(&waybill_epcis::time::format_ms(time_ms));
        call(
            &net.app,
            capture_request_until(&keeper.key, nonce, CLOCK_T0_MS + 3_600_000, &doc, ""),
        )
    };
    let (a, _) = capture(ahead_ms, 1).await;
    assert_eq!(
        a.status,
        StatusCode::ACCEPTED,
        "a day ahead of the clock: {}",
        a.text()
    );
    let (a, _) = capture(ahead_ms + 1, 2).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert!(a.text().contains("eventTime"), "{}", a.text());
}

#[tokio::test]
async fn a_qualification_expires_by_the_nodes_clock() {
    let (mut net, clock, [mut grower, _, mut inspector]) = clocked_net();
    let today = waybill_state::credentials::date_of_ms(CLOCK_T0_MS);
    assert_eq!(today, "2033-05-18");
    let qualification = sign_by_clock(
        &mut inspector,
        &clock,
        Payload::RecordQualification(RecordQualification {
            org: org_id(ORCH),
            kind: "organic".into(),
            issuer: "China Organic Certification Center".into(),
            number: "COC-9".into(),
            scope: "navel oranges".into(),
            valid_from: "2033-01-01".into(),
            valid_to: today.clone(),
        }),
    );
    let product = sign_by_clock(&mut grower, &clock, product(&fruit_gtin(), "Navel oranges"));
    net.apply_all(&[qualification, product]).await;
    let organic_lot = |lot: &str| {
        Payload::RegisterLot(RegisterLot {
            claims: vec!["organic".into()],
            produced_on: "2033-05-01".into(),
            ..match common::lot(&fruit_gtin(), lot) {
                Payload::RegisterLot(l) => l,
                _ => unreachable!("common::lot makes a register_lot"),
            }
        })
    };
    let status = |net: &Net| {
        let app = net.app.clone();
        async move {
            let v = common::get_ok(&app, &format!("/v1/orgs/{ORCH}/qualifications")).await;
            (v["date"].clone(), v["items"][0]["status"].clone())
        }
    };

    // On its last valid day (by the clock): valid, and an organic lot is taken.
    assert_eq!(status(&net).await, (json!(today), json!("valid")));
    let lot_a = sign_by_clock(&mut grower, &clock, organic_lot("A"));
    net.apply_all(&[lot_a]).await;

    // The clock passes midnight: expired, and the next organic lot is refused.
    clock.set(CLOCK_T0_MS - CLOCK_T0_MS % 86_400_000 + 86_400_000);
    assert_eq!(status(&net).await, (json!("2033-05-19"), json!("expired")));
    let lot_b = sign_by_clock(&mut grower, &clock, organic_lot("B"));
    let id = net.submit(&lot_b).await;
    net.commit();
    let v = common::get_ok(&net.app, &format!("/v1/txs/{id}")).await;
    assert_eq!(v["receipt"]["status"], "rejected", "{v}");
    assert_eq!(v["receipt"]["code"], "missing_qualification", "{v}");
    let m = v["receipt"]["message"].as_str().expect("message");
    assert!(
        m.contains("COC-9 is expired") && m.contains("2033-05-19"),
        "{m}"
    );
}

#[tokio::test]
async fn in_sync_is_judged_by_the_nodes_clock() {
    let (mut net, clock, _) = clocked_net();
    net.commit();
    let in_sync = |net: &Net| {
        let app = net.app.clone();
        async move { common::get_ok(&app, "/v1/status").await["in_sync"].clone() }
    };
    assert_eq!(in_sync(&net).await, json!(true), "a block made just now");
    clock.advance(waybill_api::IN_SYNC_BLOCK_AGE_MS_MAX);
    assert_eq!(in_sync(&net).await, json!(true), "as old as allowed");
    clock.advance(1);
    assert_eq!(in_sync(&net).await, json!(false), "older");
    net.commit();
    assert_eq!(in_sync(&net).await, json!(true), "a new block");
}
