//! The GS1 EPCIS 2.0 REST binding (capture, capture jobs, event queries), lineage
//! (`/v1/trace`), the audit trail, master data reads (locations, qualifications).
//!
//! Capture: the body is the EPCIS document exactly as the client's system produced
//! it; the member signs the transaction that carries it and sends the signature in
//! headers (`Waybill-Signer`, `Waybill-Nonce`, `Waybill-Expires`, `Waybill-Signature`), so the node never
//! holds members' keys. The capture id is the transaction id.

use waybill_types::payload::CaptureEpcis;

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use waybill_epcis::hash_id::json::{self as exact_json, Json as ExactJson, JsonObject};
use waybill_epcis::model::IdRole;
use waybill_gs1::Gln;
use waybill_node::ledger::submit_batch;
use waybill_state::trace::lineage::{self, Direction};
use waybill_state::trace::{self, EventRecord};
use waybill_state::StateScan;
use waybill_state::{audit, catalog, credentials, keys, StateRead};
use waybill_types::tx::TX_VERSION;
use waybill_types::{limits, Hash, OrgId, Payload, PublicKey, SignedTx, Transaction};

use crate::auth::Reader;
use crate::{parse_gtin, parse_key, parse_org, ApiError, ApiResult, AppState};

/// The EPCIS context every exported document starts with.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld";
/// Default and largest page of events.
pub const EVENTS_PER_PAGE_DEFAULT: usize = 30;
/// Most events scanned for one query page before it returns with a page token.
pub const EVENTS_SCANNED_MAX: usize = 50_000;

/// RFC 3339 UTC time of ms since the Unix epoch, with milliseconds.
pub fn rfc3339_ms(ms: u64) -> String {
    let date = credentials::date_of_ms(ms);
    let in_day = ms % 86_400_000;
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{date}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// The EPCIS routes: capture, events, trace, audit, locations and qualifications.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/epcis/capture", post(capture))
        .route("/epcis/capture/{id}", get(capture_status))
        .route("/epcis/events", get(events))
        .route("/epcis/events/{eventID}", get(event_by_id))
        .route("/v1/trace/{id}", get(trace_route))
        .route("/v1/audit", get(audit_route))
        .route("/v1/sealed", get(sealed_route))
        .route("/v1/sealed/proof", get(sealed_proof_route))
        .route("/v1/locations", get(locations))
        .route("/v1/locations/{gln}", get(location_by_gln))
        .route("/v1/orgs/{id}/qualifications", get(qualifications))
}

fn epcis_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

/// A 400 `invalid_epcis` problem document with the validation `problems` (each a JSON
/// pointer and a message) as an extension member.
fn invalid_epcis(detail: String, problems: Value) -> ApiError {
    let mut ext = serde_json::Map::new();
    ext.insert("problems".into(), problems);
    ApiError::bad_request("invalid_epcis", detail).with_extensions(ext)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaptureQuery {
    #[serde(default)]
    wait: bool,
    timeout_ms: Option<u64>,
}

/// `POST /epcis/capture`.
pub(crate) async fn capture(
    State(s): State<AppState>,
    q: Result<Query<CaptureQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let (document, n_events) = checked_document(body, s.now_ms()).await?;
    let signed = waybill_types::signed_request::parse_capture_headers(|name| {
        headers.get(name).map(|v| v.to_str().map_err(|_| ()))
    })
    .map_err(|e| {
        let status = if e.code == "unsigned_capture" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        epcis_error(status, e.code, e.message)
    })?;
    let stx = SignedTx {
        tx: Transaction {
            version: TX_VERSION,
            chain_id: s.chain_id().to_string(),
            signer: signed.signer,
            nonce: signed.nonce,
            expires_at_ms: signed.expires_at_ms,
            payload: Payload::CaptureEpcis(CaptureEpcis { document }),
        },
        signature: signed.signature,
    };
    let shared = s.clone();
    let bytes = stx.encode();
    let tx_bytes = bytes.clone();
    let id = tokio::task::spawn_blocking(move || submit_batch(&shared, vec![bytes]))
        .await
        .map_err(ApiError::internal)?
        .pop()
        .ok_or_else(|| ApiError::internal("no submit result"))?
        .inspect_err(|e| s.metrics.add_refused_at_submit(e.code()))?;
    let created_at_ms = record_job(&s, id, signed.signer, n_events, tx_bytes).await?;
    let location = format!("/epcis/capture/{id}");
    if q.wait {
        let _ = crate::wait_outcome(
            &s,
            id,
            q.timeout_ms.unwrap_or(10_000).min(crate::WAIT_MS_MAX),
        )
        .await;
        let job = capture_job(&s, &id)?;
        return Ok(([(header::LOCATION, location)], Json(job)).into_response());
    }
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location.clone())],
        Json(json!({
            "captureID": id,
            "location": location,
            "events": n_events,
            "createdAt": rfc3339_ms(created_at_ms),
        })),
    )
        .into_response())
}

/// A capture's body as a valid EPCIS document within the limits, and its number of
/// events; a bad one is answered at once and in full. Event times may lie at most a
/// day past `now_ms`, the node's clock.
async fn checked_document(body: Bytes, now_ms: u64) -> Result<(String, usize), ApiError> {
    if body.len() > limits::EPCIS_DOCUMENT_BYTES_MAX {
        return Err(epcis_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "document_too_large",
            format!(
                "the EPCIS document is {} bytes, over the limit of {}; split it",
                body.len(),
                limits::EPCIS_DOCUMENT_BYTES_MAX
            ),
        ));
    }
    let document = String::from_utf8(body.to_vec()).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not UTF-8: {e}"))
    })?;
    // Check the document first, so that a bad one is answered at once and in full
    // (off the async workers: parsing and validating 1 MiB takes milliseconds).
    // Event times are checked against this node's clock here; the ledger checks them
    // again against the block time, which decides.
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let (document, doc, problems) = tokio::task::spawn_blocking(move || {
        let parsed = serde_json::from_str::<Value>(&document);
        let problems = match &parsed {
            Ok(d) => {
                let mut p = waybill_epcis::validate::validate_document(d)
                    .err()
                    .unwrap_or_default();
                p.extend(waybill_epcis::validate::check_document_times(d, now));
                (!p.is_empty()).then_some(p)
            }
            Err(_) => None,
        };
        (document, parsed, problems)
    })
    .await
    .map_err(ApiError::internal)?;
    let doc: Value = doc.map_err(|e| {
        ApiError::bad_request(
            "malformed_json",
            format!("the EPCIS document is not valid JSON: {e}"),
        )
    })?;
    if let Some(problems) = problems {
        let n = problems.len();
        return Err(invalid_epcis(
            format!("the EPCIS document is not valid ({n} problem(s)); nothing was captured"),
            json!(problems),
        ));
    }
    let n_events = checked_event_count(&doc)?;
    Ok((document, n_events))
}

/// The number of events of a valid document: at least one, at most
/// [`limits::EPCIS_EVENTS_MAX`].
fn checked_event_count(doc: &Value) -> Result<usize, ApiError> {
    let (events, list_ptr) = trace::document_events(doc);
    let n_events = events.map(Vec::len).unwrap_or(0);
    if n_events == 0 {
        // The ledger refuses a document without events; say so now.
        return Err(invalid_epcis(
            "the EPCIS document has no events; nothing was captured".into(),
            json!([{ "pointer": list_ptr, "message": "the document has no events" }]),
        ));
    }
    if n_events > limits::EPCIS_EVENTS_MAX {
        return Err(epcis_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!(
                "{list_ptr}: {n_events} events, over the limit of {} per document; split it",
                limits::EPCIS_EVENTS_MAX
            ),
        ));
    }
    Ok(n_events)
}

/// Record the capture job of an admitted capture, durably, before the client hears
/// 202: a restart or a crash before the commit resubmits it, and a failure is
/// recorded, never forgotten. Returns its creation time.
async fn record_job(
    s: &AppState,
    id: Hash,
    signer: PublicKey,
    n_events: usize,
    tx: Vec<u8>,
) -> Result<u64, ApiError> {
    let created_at_ms = s.now_ms();
    let shared = s.clone();
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        let org = waybill_state::identity::load_member(&shared.store.snapshot()?, &signer)?
            .map(|m| m.org)
            .ok_or_else(|| ApiError::internal("an admitted signer is a member"))?;
        let job = waybill_store::CaptureJob {
            signer,
            org,
            created_at_ms,
            n_events: u32::try_from(n_events).unwrap_or(u32::MAX),
            tx,
            failed: None,
        };
        Ok(shared.store.put_capture_job(&id, &job)?)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(created_at_ms)
}

/// The per-event errors of a rejected capture (the receipt's message lists them as
/// `pointer: problem`, `; `-separated), as the REST binding's `errors`. A problem's
/// own text may contain `; `: only a piece that starts with a JSON pointer begins a
/// new error.
fn job_errors(code: &str, message: &str) -> Value {
    let Some((_, list)) = message.split_once(": ") else {
        return json!([{ "type": code, "detail": message }]);
    };
    let mut problems: Vec<(Option<&str>, String)> = Vec::new();
    for piece in list.split("; ") {
        match piece.split_once(": ") {
            Some((ptr, detail)) if ptr.starts_with('/') => {
                problems.push((Some(ptr), detail.to_string()));
            }
            _ => match problems.last_mut() {
                Some((_, detail)) => {
                    detail.push_str("; ");
                    detail.push_str(piece);
                }
                None => problems.push((None, piece.to_string())),
            },
        }
    }
    if problems.iter().all(|(ptr, _)| ptr.is_none()) {
        return json!([{ "type": code, "detail": message }]);
    }
    Value::Array(
        problems
            .into_iter()
            .map(|(ptr, detail)| match ptr {
                Some(ptr) => json!({ "type": code, "pointer": ptr, "detail": detail }),
                None => json!({ "type": code, "detail": detail }),
            })
            .collect(),
    )
}

/// The capture job of `id` (EPCIS 2.0 REST binding): `createdAt`, `finishedAt`,
/// `running`, `success`, `captureErrorBehaviour`, `errors`, and — once committed — the
/// events captured. From the node's job record and the chain.
fn capture_job(s: &AppState, id: &Hash) -> Result<Value, ApiError> {
    let record = s.store.capture_job(id)?;
    let mut job = json!({ "captureID": id, "captureErrorBehaviour": "rollback" });
    if let Some(r) = &record {
        job["createdAt"] = json!(rfc3339_ms(r.created_at_ms));
    }
    match crate::committed_view(s, id)? {
        Some(v) => {
            let height = v["height"].as_u64().unwrap_or(0);
            let finished = s
                .store
                .block(waybill_types::Height(height))?
                .map(|b| rfc3339_ms(b.header.time_ms));
            job["running"] = json!(false);
            job["height"] = v["height"].clone();
            job["finishedAt"] = json!(finished);
            if record.is_none() {
                // Submitted as a plain transaction: the block is all we know.
                job["createdAt"] = job["finishedAt"].clone();
            }
            if v["status"] == "applied" {
                job["success"] = json!(true);
                job["errors"] = json!([]);
                let snap = s.store.snapshot()?;
                if let Some(c) = trace::load_capture(&snap, id)? {
                    let dup = c.events.iter().filter(|e| e.duplicate).count();
                    job["eventsCaptured"] = json!(c.events.len() - dup);
                    job["duplicatesSkipped"] = json!(dup);
                    job["events"] = json!(c.events);
                }
            } else {
                job["success"] = json!(false);
                let code = v["reason"]["code"].as_str().unwrap_or("rejected");
                let reason = v["reason"]["message"].as_str().unwrap_or("");
                job["errors"] = job_errors(code, reason);
            }
        }
        None => match record.as_ref().and_then(|r| r.failed.as_ref()) {
            Some(f) => {
                job["running"] = json!(false);
                job["success"] = json!(false);
                job["finishedAt"] = json!(rfc3339_ms(f.at_ms));
                job["errors"] = json!([{ "type": f.code, "detail": f.reason }]);
            }
            None if record.is_some() || s.mempool.contains(id) => {
                job["running"] = json!(true);
                job["success"] = json!(true);
                job["errors"] = json!([]);
            }
            None => {
                return Err(ApiError::not_found(
                    "unknown_capture",
                    format!(
                    "no capture {id}: this node accepted none with that id, and none is committed"
                ),
                ))
            }
        },
    }
    Ok(job)
}

/// `GET /epcis/capture/{id}`: readable only by a member of the organization that
/// submitted the capture (signed read).
pub(crate) async fn capture_status(
    State(s): State<AppState>,
    reader: Reader,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(id) = p?;
    let id = Hash::from_hex(&id)
        .map_err(|e| ApiError::bad_request("bad_capture_id", format!("capture id: {e}")))?;
    let Reader::Member(m) = reader else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a capture job is read by its submitter's organization: sign the request (`waybill capture-job ID --as MEMBER`)",
        ));
    };
    let s2 = s.clone();
    let (job, owner) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let job = capture_job(&s2, &id)?;
        let owner = match s2.store.capture_job(&id)? {
            Some(r) => Some(r.org),
            None => submitter_org(&s2, &id)?,
        };
        Ok((job, owner))
    })
    .await
    .map_err(ApiError::internal)??;
    if owner.as_ref() != Some(&m.org) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_authorized",
            format!(
                "capture {id} was submitted by another organization; only its members read the job (you are {} of `{}`)",
                m.key, m.org
            ),
        ));
    }
    Ok(Json(job))
}

/// The organization of a transaction's signer, for a capture this node has no job of
/// (committed, or waiting in the mempool after arriving another way).
fn submitter_org(s: &AppState, id: &Hash) -> Result<Option<OrgId>, ApiError> {
    let stx = match s.store.tx_location(id)? {
        Some(loc) => s
            .store
            .block(loc.height)?
            .and_then(|b| b.txs.into_iter().nth(loc.index as usize)),
        None => s.mempool.get(id).map(|p| (*p.tx).clone()),
    };
    let Some(stx) = stx else { return Ok(None) };
    Ok(waybill_state::identity::load_member(&s.store.snapshot()?, &stx.tx.signer)?.map(|m| m.org))
}

/// An event as exported: its JSON as captured (numbers exactly as written, so that it
/// hashes to its Event Hash ID again) with recordTime, and the Event Hash ID as eventID
/// when it has none.
pub fn export_event(rec: &EventRecord) -> ExactJson {
    let mut v = exact_json::parse(&rec.json).unwrap_or(ExactJson::Null);
    if let ExactJson::Object(m) = &mut v {
        m.insert(
            "recordTime",
            ExactJson::String(rfc3339_ms(rec.record_time_ms)),
        );
        if m.get("eventID").is_none() {
            m.insert("eventID", ExactJson::String(rec.hash_id()));
        }
    }
    v
}

/// The `@context` for a set of events: the EPCIS context plus every namespace prefix
/// their captures declared (first declaration of a prefix wins); and, for each capture
/// that bound a prefix differently, its own prefixes, to be given to its events as an
/// event-level `@context` so that they keep their meaning (and Event Hash ID).
fn merged_context<S: StateRead + ?Sized>(
    state: &S,
    recs: &[EventRecord],
) -> Result<(Value, BTreeMap<Hash, Value>), ApiError> {
    let mut prefixes = Map::new();
    let mut captures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in recs {
        if !seen.insert(r.tx_id) {
            continue;
        }
        // This capture's prefixes, a later definition overriding an earlier one as in
        // JSON-LD.
        let mut own = Map::new();
        if let Some(c) = trace::load_capture(state, &r.tx_id)? {
            let ctx: Value = serde_json::from_str(&c.context).unwrap_or(Value::Null);
            let items = match ctx {
                Value::Array(a) => a,
                other => vec![other],
            };
            for it in items {
                if let Value::Object(m) = it {
                    own.extend(m);
                }
            }
        }
        for (k, v) in &own {
            prefixes.entry(k.clone()).or_insert_with(|| v.clone());
        }
        captures.push((r.tx_id, own));
    }
    let overrides = captures
        .into_iter()
        .filter(|(_, own)| own.iter().any(|(k, v)| prefixes.get(k) != Some(v)))
        .map(|(id, own)| (id, Value::Object(own)))
        .collect();
    let mut ctx = vec![json!(EPCIS_CONTEXT)];
    if !prefixes.is_empty() {
        ctx.push(Value::Object(prefixes));
    }
    Ok((Value::Array(ctx), overrides))
}

/// An EPCIS 2.0 query document holding `recs`, numbers exactly as captured: answer it
/// with [`ExactJson::to_json_string`].
pub fn query_document<S: StateRead + ?Sized>(
    state: &S,
    recs: &[EventRecord],
    now_ms: u64,
) -> Result<ExactJson, ApiError> {
    let (context, overrides) = merged_context(state, recs)?;
    let events: Vec<ExactJson> = recs
        .iter()
        .map(|r| {
            let mut e = export_event(r);
            if let (Some(own), ExactJson::Object(m)) = (overrides.get(&r.tx_id), &mut e) {
                let own = ExactJson::from(own);
                let ctx = match m.remove("@context") {
                    None => own,
                    Some(ExactJson::Array(mut a)) => {
                        a.insert(0, own);
                        ExactJson::Array(a)
                    }
                    Some(other) => ExactJson::Array(vec![own, other]),
                };
                m.insert("@context", ctx);
            }
            e
        })
        .collect();
    let mut results_body = JsonObject::default();
    results_body.insert("eventList", ExactJson::Array(events));
    let mut query_results = JsonObject::default();
    query_results.insert("queryName", ExactJson::String("SimpleEventQuery".into()));
    query_results.insert("resultsBody", ExactJson::Object(results_body));
    let mut body = JsonObject::default();
    body.insert("queryResults", ExactJson::Object(query_results));
    let mut doc = JsonObject::default();
    doc.insert("@context", ExactJson::from(&context));
    doc.insert("type", ExactJson::String("EPCISQueryDocument".into()));
    doc.insert("schemaVersion", ExactJson::String("2.0".into()));
    doc.insert("creationDate", ExactJson::String(rfc3339_ms(now_ms)));
    doc.insert("epcisBody", ExactJson::Object(body));
    Ok(ExactJson::Object(doc))
}

/// A JSON-LD answer whose body is `doc` written out exactly.
fn json_ld(doc: &ExactJson) -> Response {
    (
        [(header::CONTENT_TYPE, "application/ld+json")],
        doc.to_json_string(),
    )
        .into_response()
}

fn visible<S: StateRead + ?Sized>(
    state: &S,
    reader: &Reader,
    rec: &EventRecord,
) -> Result<bool, ApiError> {
    Ok(reader.may_read_event(state, rec, false)?)
}

pub(crate) fn require_member(reader: &Reader, what: &str) -> Result<(), ApiError> {
    if matches!(reader, Reader::Anonymous) {
        return Err(epcis_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("{what} is consortium data: sign the request with a member key (Authorization: Waybill key=…, ts=…, sig=…; `waybill … --as MEMBER` does this)"),
        ));
    }
    Ok(())
}

/// Canonical form of an identifier given by a user: an EPC URI, a Digital Link, or
/// `GTIN/LOT`.
pub fn canonical_id(input: &str) -> Result<String, ApiError> {
    let input = input.trim();
    if let Some((g, l)) = input.split_once('/') {
        if g.len() == 14 && g.bytes().all(|b| b.is_ascii_digit()) && !l.contains('/') {
            let gtin = parse_gtin(g)?;
            return Ok(waybill_epcis::model::lot_identifier(gtin.as_str(), l));
        }
    }
    waybill_epcis::epc::parse(input)
        .map(|i| i.canonical)
        .map_err(|e| ApiError::bad_request("bad_identifier", e.to_string()))
}

// ---------- queries ----------

#[derive(Default)]
struct Filters {
    types: Option<Vec<String>>,
    ge_event: Option<i64>,
    lt_event: Option<i64>,
    ge_record: Option<u64>,
    lt_record: Option<u64>,
    biz_step: Option<Vec<String>>,
    disposition: Option<Vec<String>>,
    read_point: Option<Vec<String>>,
    biz_location: Option<Vec<String>>,
    event_id: Option<Vec<String>>,
    /// (roles, values: canonical ids or class prefixes ending in '/')
    matches: Vec<(&'static [IdRole], Vec<String>)>,
    biz_tx: Vec<(String, Vec<String>)>,
    sources: Vec<(String, Vec<String>)>,
    destinations: Vec<(String, Vec<String>)>,
}

fn values(v: &str) -> Vec<String> {
    v.split(['|', ','])
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn time_param(name: &str, v: &str) -> Result<i64, ApiError> {
    waybill_epcis::time::parse_ms(v).ok_or_else(|| {
        ApiError::bad_request(
            "bad_query_parameter",
            format!("{name}: `{v}` is not a date-time such as 2026-11-10T08:00:00+08:00"),
        )
    })
}

fn id_values(name: &str, v: &str) -> Result<Vec<String>, ApiError> {
    values(v)
        .into_iter()
        .map(|x| {
            if x.contains(":idpat:") || x.ends_with('*') {
                // A pattern: match by class.
                let trimmed = x
                    .trim_end_matches(".*")
                    .trim_end_matches('*')
                    .trim_end_matches('.');
                let class = trimmed.replace(":idpat:", ":id:");
                let parsed = waybill_epcis::epc::parse(&x)
                    .or_else(|_| waybill_epcis::epc::parse(&class))
                    .map_err(|e| {
                        ApiError::bad_request("bad_query_parameter", format!("{name}: {e}"))
                    })?;
                let base = parsed.class_level().unwrap_or(parsed.canonical);
                Ok(format!("{base}/"))
            } else {
                canonical_id(&x).map_err(|e| {
                    ApiError::bad_request("bad_query_parameter", format!("{name}: {}", e.message))
                })
            }
        })
        .collect()
}

fn vocab_values(v: &str, norm: fn(&str) -> Option<&'static str>) -> Vec<String> {
    values(v)
        .into_iter()
        .map(|x| norm(&x).map(str::to_string).unwrap_or(x))
        .collect()
}

fn parse_filters(params: &[(String, String)]) -> Result<(Filters, usize, Option<u64>), ApiError> {
    let mut f = Filters::default();
    let mut per_page = EVENTS_PER_PAGE_DEFAULT;
    let mut token = None;
    for (k, v) in params {
        match k.as_str() {
            "perPage" => {
                per_page = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=limits::PAGE_ITEMS_MAX).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "bad_query_parameter",
                            format!("perPage must be 1 to {}, got `{v}`", limits::PAGE_ITEMS_MAX),
                        )
                    })?;
            }
            "nextPageToken" => {
                token = Some(v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(
                        "bad_query_parameter",
                        format!("nextPageToken `{v}` did not come from this node"),
                    )
                })?);
            }
            _ => f.add(k, v)?,
        }
    }
    Ok((f, per_page, token))
}

impl Filters {
    /// Add the filter of query parameter `k`.
    fn add(&mut self, k: &str, v: &str) -> Result<(), ApiError> {
        use IdRole::*;
        match k {
            "eventType" => self.types = Some(values(v)),
            "GE_eventTime" => self.ge_event = Some(time_param(k, v)?),
            "LT_eventTime" => self.lt_event = Some(time_param(k, v)?),
            "GE_recordTime" => self.ge_record = Some(time_param(k, v)?.max(0) as u64),
            "LT_recordTime" => self.lt_record = Some(time_param(k, v)?.max(0) as u64),
            "EQ_bizStep" => self.biz_step = Some(vocab_values(v, waybill_epcis::cbv::bizstep)),
            "EQ_disposition" => {
                self.disposition = Some(vocab_values(v, waybill_epcis::cbv::disposition));
            }
            "EQ_readPoint" => self.read_point = Some(id_values(k, v)?),
            "EQ_bizLocation" => self.biz_location = Some(id_values(k, v)?),
            "EQ_eventID" | "eventID" => self.event_id = Some(values(v)),
            "MATCH_epc" => self.matches.push((&[Epc, Child], id_values(k, v)?)),
            "MATCH_parentID" => self.matches.push((&[Parent], id_values(k, v)?)),
            "MATCH_inputEPC" => self.matches.push((&[Input], id_values(k, v)?)),
            "MATCH_outputEPC" => self.matches.push((&[Output], id_values(k, v)?)),
            "MATCH_anyEPC" => self
                .matches
                .push((&[Epc, Child, Input, Output, Parent], id_values(k, v)?)),
            "MATCH_epcClass" => self
                .matches
                .push((&[Quantity, ChildQuantity], id_values(k, v)?)),
            "MATCH_inputEPCClass" => self.matches.push((&[InputQuantity], id_values(k, v)?)),
            "MATCH_outputEPCClass" => self.matches.push((&[OutputQuantity], id_values(k, v)?)),
            "MATCH_anyEPCClass" => self.matches.push((
                &[Quantity, ChildQuantity, InputQuantity, OutputQuantity],
                id_values(k, v)?,
            )),
            other => self.add_typed(other, v)?,
        }
        Ok(())
    }

    /// Add the filter of a typed query parameter (`EQ_bizTransaction_<type>`,
    /// `EQ_source_<type>`, `EQ_destination_<type>`); refuse any other parameter.
    fn add_typed(&mut self, k: &str, v: &str) -> Result<(), ApiError> {
        let ids = || -> Vec<String> {
            values(v)
                .into_iter()
                .map(|x| canonical_id(&x).unwrap_or(x))
                .collect()
        };
        if let Some(t) = k.strip_prefix("EQ_bizTransaction_") {
            let t = waybill_epcis::cbv::biz_transaction_type(t).unwrap_or(t);
            self.biz_tx.push((t.to_string(), ids()));
        } else if let Some(t) = k.strip_prefix("EQ_source_") {
            let t = waybill_epcis::cbv::source_dest_type(t).unwrap_or(t);
            self.sources.push((t.to_string(), ids()));
        } else if let Some(t) = k.strip_prefix("EQ_destination_") {
            let t = waybill_epcis::cbv::source_dest_type(t).unwrap_or(t);
            self.destinations.push((t.to_string(), ids()));
        } else {
            return Err(ApiError::bad_request(
                "bad_query_parameter",
                format!("unknown query parameter `{k}`; supported: eventType, GE_/LT_eventTime, GE_/LT_recordTime, EQ_bizStep, EQ_disposition, EQ_readPoint, EQ_bizLocation, EQ_eventID, MATCH_epc, MATCH_anyEPC, MATCH_parentID, MATCH_inputEPC, MATCH_outputEPC, MATCH_epcClass, MATCH_anyEPCClass, EQ_bizTransaction_<type>, EQ_source_<type>, EQ_destination_<type>, perPage, nextPageToken"),
            ));
        }
        Ok(())
    }
}

fn id_matches(id: &str, want: &str) -> bool {
    if let Some(class) = want.strip_suffix('/') {
        id == class || id.starts_with(want)
    } else {
        id == want
    }
}

fn matches(f: &Filters, r: &EventRecord) -> bool {
    let in_list = |list: &Option<Vec<String>>, v: Option<&String>| match list {
        None => true,
        Some(l) => v.is_some_and(|v| l.contains(v)),
    };
    if let Some(t) = &f.types {
        if !t.contains(&r.event_type) {
            return false;
        }
    }
    if f.ge_event.is_some_and(|t| r.event_time_ms < t)
        || f.lt_event.is_some_and(|t| r.event_time_ms >= t)
    {
        return false;
    }
    if f.ge_record.is_some_and(|t| r.record_time_ms < t)
        || f.lt_record.is_some_and(|t| r.record_time_ms >= t)
    {
        return false;
    }
    if !in_list(&f.biz_step, r.biz_step.as_ref())
        || !in_list(&f.disposition, r.disposition.as_ref())
        || !in_list(&f.read_point, r.read_point.as_ref())
        || !in_list(&f.biz_location, r.biz_location.as_ref())
    {
        return false;
    }
    if let Some(ids) = &f.event_id {
        let hid = r.hash_id();
        if !ids
            .iter()
            .any(|i| r.event_id.as_ref() == Some(i) || *i == hid)
        {
            return false;
        }
    }
    for (roles, wants) in &f.matches {
        let ok = r
            .roles()
            .any(|(role, id)| roles.contains(&role) && wants.iter().any(|w| id_matches(id, w)));
        if !ok {
            return false;
        }
    }
    let pair_ok = |list: &Vec<(String, Vec<String>)>, have: &Vec<(String, String)>| {
        list.iter()
            .all(|(t, ids)| have.iter().any(|(ht, hid)| ht == t && ids.contains(hid)))
    };
    pair_ok(&f.biz_tx, &r.biz_transactions)
        && pair_ok(&f.sources, &r.sources)
        && pair_ok(&f.destinations, &r.destinations)
}

/// `GET /epcis/events`.
pub(crate) async fn events(
    State(s): State<AppState>,
    reader: Reader,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    require_member(&reader, "EPCIS events")?;
    let Query(params) = q?;
    let (f, per_page, token) = parse_filters(&params)?;
    let snap = s.store.snapshot()?;
    let start = token.unwrap_or(1);
    let mut out = Vec::new();
    let mut next = None;
    // With an exact identifier to match, walk its index; otherwise scan in order.
    let exact = f
        .matches
        .first()
        .and_then(|(_, w)| (w.len() == 1 && !w[0].ends_with('/')).then(|| w[0].clone()));
    let mut scanned = 0usize;
    let consider = |rec: EventRecord, out: &mut Vec<EventRecord>| -> Result<bool, ApiError> {
        if matches(&f, &rec) && visible(&snap, &reader, &rec)? {
            out.push(rec);
        }
        Ok(out.len() >= per_page)
    };
    if let Some(id) = exact {
        for (seq, _) in trace::events_naming(&snap, &id, usize::MAX)? {
            if seq < start {
                continue;
            }
            if out.len() >= per_page {
                next = Some(seq);
                break;
            }
            if let Some(rec) = trace::load_event(&snap, seq)? {
                consider(rec, &mut out)?;
            }
        }
    } else {
        let prefix = [keys::EVENT];
        let mut from = keys::event(start);
        'scan: loop {
            let rows = snap.scan_from(&prefix, &from, 1_000)?;
            if rows.is_empty() {
                break;
            }
            for (k, v) in &rows {
                let rec: EventRecord = waybill_state::decode_record(k, v)?;
                if out.len() >= per_page || scanned >= EVENTS_SCANNED_MAX {
                    next = Some(rec.seq);
                    break 'scan;
                }
                scanned += 1;
                consider(rec, &mut out)?;
            }
            let Some((last, _)) = rows.last() else { break };
            from = [last.as_slice(), &[0]].concat();
        }
    }
    let doc = query_document(&snap, &out, s.now_ms())?;
    let mut resp = json_ld(&doc);
    if let Some(n) = next {
        next_page_headers(&mut resp, &uri, &params, n);
    }
    Ok(resp)
}

/// The `Link: <…>; rel="next"` and `GS1-Next-Page-Token` headers of a page of events
/// that has a next page, starting at event `n`.
fn next_page_headers(
    resp: &mut Response,
    uri: &axum::http::Uri,
    params: &[(String, String)],
    n: u64,
) {
    let mut qs: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "nextPageToken")
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::pages::percent_encode(k),
                crate::pages::percent_encode(v)
            )
        })
        .collect();
    qs.push(format!("nextPageToken={n}"));
    let link = format!("<{}?{}>; rel=\"next\"", uri.path(), qs.join("&"));
    if let Ok(h) = link.parse() {
        resp.headers_mut().insert(header::LINK, h);
    }
    if let Ok(h) = n.to_string().parse() {
        resp.headers_mut().insert("GS1-Next-Page-Token", h);
    }
}

/// `GET /epcis/events/{eventID}` (an eventID, or an Event Hash ID `ni:///sha-256;…`).
pub(crate) async fn event_by_id(
    State(s): State<AppState>,
    reader: Reader,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    require_member(&reader, "EPCIS events")?;
    let Path(id) = p?;
    let snap = s.store.snapshot()?;
    let recs = readable_by_id(&snap, &reader, &id)?;
    let doc = query_document(&snap, &recs, s.now_ms())?;
    Ok(json_ld(&doc))
}

/// The events stored under `id` (an eventID or Event Hash ID) that `reader` may read:
/// 404 `unknown_event` when there are none, 403 `not_authorized` when some exist but
/// none is the reader's to read.
pub(crate) fn readable_by_id<S: StateScan + ?Sized>(
    snap: &S,
    reader: &Reader,
    id: &str,
) -> Result<Vec<EventRecord>, ApiError> {
    let mut recs = Vec::new();
    let mut hidden = 0;
    for seq in trace::events_by_id(snap, id)? {
        if let Some(r) = trace::load_event(snap, seq)? {
            if visible(snap, reader, &r)? {
                recs.push(r);
            } else {
                hidden += 1;
            }
        }
    }
    if recs.is_empty() {
        if hidden > 0 {
            return Err(epcis_error(
                StatusCode::FORBIDDEN,
                "not_authorized",
                format!(
                    "event `{id}` exists but {} may not read it",
                    reader.describe()
                ),
            ));
        }
        return Err(ApiError::not_found(
            "unknown_event",
            format!("no event with eventID `{id}`"),
        ));
    }
    Ok(recs)
}

// ---------- sealed fields after capture ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SealedQuery {
    record: String,
    field: Option<String>,
}

/// `GET /v1/sealed?record=ID[&field=POINTER]`: the sealed fields of a record (an
/// event's eventID) as they stand after capture — the wraps recipients added since and
/// the complaints of wraps that do not open (a field is `flagged` while one waits).
/// Read by whoever may read the record.
pub(crate) async fn sealed_route(
    State(s): State<AppState>,
    reader: Reader,
    q: Result<Query<SealedQuery>, QueryRejection>,
) -> ApiResult {
    require_member(&reader, "sealed fields")?;
    let Query(q) = q?;
    let snap = s.store.snapshot()?;
    let Some(rec) = readable_by_id(&snap, &reader, &q.record)?
        .into_iter()
        .find(|r| !r.error_declaration)
    else {
        return Err(ApiError::not_found(
            "unknown_event",
            format!("no event with eventID `{}`", q.record),
        ));
    };
    let event: Value = serde_json::from_str(&rec.json).map_err(ApiError::internal)?;
    let mut fields = Vec::new();
    for (pointer, found) in waybill_types::seal::sealed_fields(&event, &q.record) {
        if q.field.as_deref().is_some_and(|f| f != pointer) {
            continue;
        }
        let Ok(sealed) = found else { continue };
        let after = trace::wraps::field_after_capture(&snap, &q.record, &pointer)?;
        fields.push(json!({
            "field": pointer,
            "category": sealed.category(),
            "recipients": sealed.recipients(),
            "flagged": after.flagged(),
            "added_wraps": after.added_wraps,
            "complaints": after.complaints,
        }));
    }
    if let (Some(f), true) = (&q.field, fields.is_empty()) {
        return Err(ApiError::not_found(
            "unknown_sealed_field",
            format!("record `{}` has no sealed field {f}", q.record),
        ));
    }
    Ok(Json(
        json!({ "record": q.record, "hash_id": rec.hash_id(), "fields": fields }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SealedProofQuery {
    record: String,
    field: String,
}

/// `GET /v1/sealed/proof?record=ID&field=POINTER`: the proof of a sealed field's
/// commitment (docs/PRIVACY.md "Provable disclosure") — what `waybill disclose` adds
/// the opened value and salt to. Read by whoever may read the record; it holds the
/// commitment, never the value.
pub(crate) async fn sealed_proof_route(
    State(s): State<AppState>,
    reader: Reader,
    q: Result<Query<SealedProofQuery>, QueryRejection>,
) -> ApiResult {
    require_member(&reader, "sealed fields")?;
    let Query(q) = q?;
    let snap = s.store.snapshot()?;
    readable_by_id(&snap, &reader, &q.record)?;
    let proof =
        crate::proofs::commitment_proof(&s, &snap, &q.record, &q.field)?.ok_or_else(|| {
            ApiError::not_found(
                "unknown_sealed_field",
                format!("record `{}` has no sealed field {}", q.record, q.field),
            )
        })?;
    Ok(Json(
        serde_json::to_value(proof).map_err(ApiError::internal)?,
    ))
}

// ---------- trace ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TraceQuery {
    direction: Option<String>,
}

/// Pairs `(type, id)` as `[{"type", "id"}]`, serialised straight from the record.
struct TypedIds<'a>(&'a [(String, String)]);

impl serde::Serialize for TypedIds<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct One<'a> {
            #[serde(rename = "type")]
            t: &'a str,
            id: &'a str,
        }
        s.collect_seq(self.0.iter().map(|(t, id)| One { t, id }))
    }
}

/// An event of a lineage answer, borrowed from its record.
struct EventView<'a>(&'a EventRecord);

impl serde::Serialize for EventView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct RoleId<'a> {
            role: IdRole,
            id: &'a str,
        }
        struct Ids<'a>(&'a EventRecord);
        impl serde::Serialize for Ids<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.roles().map(|(role, id)| RoleId { role, id }))
            }
        }
        #[derive(serde::Serialize)]
        struct View<'a> {
            seq: u64,
            hash_id: String,
            event_id: &'a Option<String>,
            #[serde(rename = "type")]
            event_type: &'a str,
            action: &'a Option<String>,
            event_time: &'a str,
            biz_step: &'a Option<String>,
            disposition: &'a Option<String>,
            read_point: &'a Option<String>,
            biz_location: &'a Option<String>,
            ids: Ids<'a>,
            biz_transactions: TypedIds<'a>,
            sources: TypedIds<'a>,
            destinations: TypedIds<'a>,
            org: &'a OrgId,
            category: waybill_types::DataCategory,
            tx_id: &'a waybill_types::TxId,
            height: waybill_types::Height,
        }
        let e = self.0;
        View {
            seq: e.seq,
            hash_id: e.hash_id(),
            event_id: &e.event_id,
            event_type: &e.event_type,
            action: &e.action,
            event_time: &e.event_time,
            biz_step: &e.biz_step,
            disposition: &e.disposition,
            read_point: &e.read_point,
            biz_location: &e.biz_location,
            ids: Ids(e),
            biz_transactions: TypedIds(&e.biz_transactions),
            sources: TypedIds(&e.sources),
            destinations: TypedIds(&e.destinations),
            org: &e.org,
            category: e.category,
            tx_id: &e.tx_id,
            height: e.height,
        }
        .serialize(s)
    }
}

struct EventsView<'a>(&'a [EventRecord]);

impl serde::Serialize for EventsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(EventView))
    }
}

/// The answer of `GET /v1/trace/{id}`: borrowed from the walk and serialised straight
/// to JSON (a forward lineage can hold thousands of events; building a `Value` tree
/// first cost more than the walk).
#[derive(serde::Serialize)]
pub struct LineageAnswer<'a> {
    id: &'a str,
    direction: Direction,
    nodes: &'a [lineage::TraceNode],
    events: EventsView<'a>,
    lots: Vec<catalog::Lot>,
    hidden_events: u64,
    corrected_events: u64,
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    recall: Option<Value>,
}

/// The lineage answer for `start` (see [`LineageAnswer`]); forward answers carry the
/// recall list.
pub fn lineage_answer<'a, S: StateScan + ?Sized>(
    state: &S,
    start: &'a str,
    lin: &'a lineage::Lineage,
) -> Result<LineageAnswer<'a>, ApiError> {
    // What each identifier is, for a readable tree and the recall list.
    let mut recall: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for n in &lin.nodes {
        recall.entry(id_kind(&n.id)).or_default().insert(&n.id);
    }
    let mut lots = Vec::new();
    for n in &lin.nodes {
        if let Some((g, l)) = trace::lot_of(&n.id) {
            if let Ok(gtin) = g.parse() {
                if let Some(lot) = catalog::load_lot(state, &gtin, &l)? {
                    lots.push(lot);
                }
            }
        }
    }
    let recall = (lin.direction == Direction::Forward).then(|| {
        let mut orders = std::collections::BTreeSet::new();
        let mut destinations = std::collections::BTreeSet::new();
        let mut locations = std::collections::BTreeSet::new();
        for e in &lin.events {
            orders.extend(e.biz_transactions.iter());
            destinations.extend(e.destinations.iter());
            locations.extend(e.biz_location.as_deref());
        }
        let typed = |set: std::collections::BTreeSet<&(String, String)>| -> Vec<Value> {
            set.into_iter()
                .map(|(t, i)| json!({"type": t, "id": i}))
                .collect()
        };
        json!({
            "items": recall.get("item").cloned().unwrap_or_default(),
            "lots": recall.get("lot").cloned().unwrap_or_default(),
            "containers": recall.get("container").cloned().unwrap_or_default(),
            "business_transactions": typed(orders),
            "destinations": typed(destinations),
            "locations": locations,
        })
    });
    Ok(LineageAnswer {
        id: start,
        direction: lin.direction,
        nodes: &lin.nodes,
        events: EventsView(&lin.events),
        lots,
        hidden_events: lin.hidden_events,
        corrected_events: lin.corrected_events,
        truncated: lin.truncated,
        recall,
    })
}

/// "item", "lot", "product", "container", "location" or "other".
pub fn id_kind(id: &str) -> &'static str {
    if id.starts_with("https://id.gs1.org/00/") {
        "container"
    } else if let Some(r) = id.strip_prefix("https://id.gs1.org/01/") {
        if r.contains("/21/") {
            "item"
        } else if r.contains("/10/") {
            "lot"
        } else {
            "product"
        }
    } else if id.starts_with("https://id.gs1.org/414/") {
        "location"
    } else {
        "other"
    }
}

/// `GET /v1/trace/{id}`.
pub(crate) async fn trace_route(
    State(s): State<AppState>,
    reader: Reader,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<TraceQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    require_member(&reader, "the lineage")?;
    let Path(id) = p?;
    let Query(q) = q?;
    let direction = match q.direction.as_deref() {
        None | Some("back") | Some("backward") => Direction::Back,
        Some("forward") => Direction::Forward,
        Some(other) => {
            return Err(ApiError::bad_request(
                "bad_direction",
                format!("direction must be back or forward, got `{other}`"),
            ))
        }
    };
    let start = canonical_id(&id)?;
    let snap = s.store.snapshot()?;
    let lin = {
        // Walking back from something the reader's organization is a party to (holds
        // or held), the walk is that thing's custody chain: its history is the
        // reader's to read (by category). Walking forward, or from something it
        // never held, each event is judged on its own.
        let holds = match reader.org() {
            Some(org) => lineage::walk_holds(&snap, org, &start, direction)?,
            None => false,
        };
        let mut vis = |r: &EventRecord| reader.may_read_event(&snap, r, holds);
        lineage::walk(&snap, &start, direction, &mut vis)?
    };
    if lin.events.is_empty() && lin.nodes.len() == 1 && lin.hidden_events == 0 {
        let known_lot = trace::lot_of(&start)
            .and_then(|(g, l)| g.parse().ok().map(|g| (g, l)))
            .map(|(g, l)| catalog::load_lot(&snap, &g, &l))
            .transpose()?
            .flatten()
            .is_some();
        if !known_lot {
            return Err(ApiError::not_found(
                "unknown_identifier",
                format!("no events name `{start}`"),
            ));
        }
    }
    Ok(Json(lineage_answer(&snap, &start, &lin)?).into_response())
}

// ---------- audit ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    product: Option<String>,
    member: Option<String>,
    org: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/audit?product=|member=|org=`.
pub(crate) async fn audit_route(
    State(s): State<AppState>,
    reader: Reader,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult {
    require_member(&reader, "the audit trail")?;
    let Query(q) = q?;
    let (kind, subject, label) = audit_subject(&q)?;
    may_read_audit(&s, &reader, kind, &subject)?;
    let limit = q.limit.unwrap_or(100).clamp(1, limits::PAGE_ITEMS_MAX);
    let after = q.after.as_deref().map(parse_audit_cursor).transpose()?;
    let snap = s.store.snapshot()?;
    let prefix = keys::audit_of(kind, &subject);
    let places = waybill_state::index::entries_after(&snap, &prefix, after, limit + 1)?;
    let more = places.len() > limit;
    let mut items = Vec::new();
    let mut block: Option<(waybill_types::Block, Vec<waybill_types::Receipt>)> = None;
    for &(height, index) in places.iter().take(limit) {
        if block.as_ref().map(|(b, _)| b.header.height.0) != Some(height) {
            let h = waybill_types::Height(height);
            let missing =
                || ApiError::internal(format!("block {height} of the audit trail is missing"));
            block = Some((
                s.store.block(h)?.ok_or_else(missing)?,
                s.store.receipts(h)?.ok_or_else(missing)?,
            ));
        }
        let (b, receipts) = block.as_ref().expect("loaded above");
        let i = index as usize;
        let (Some(tx), Some(receipt)) = (b.txs.get(i), receipts.get(i)) else {
            return Err(ApiError::internal(format!(
                "the audit trail names transaction {index} of block {height}, which has {}",
                b.txs.len()
            )));
        };
        let place = waybill_state::block::TxPlace {
            height: b.header.height,
            time_ms: b.header.time_ms,
            receipt,
        };
        let e = waybill_state::block::audit_entry(&snap, place, tx, (kind, &subject))?;
        let mut j = serde_json::to_value(&e).map_err(ApiError::internal)?;
        j["time"] = json!(rfc3339_ms(e.time_ms));
        items.push(j);
    }
    let next = if more {
        places
            .get(limit - 1)
            .map(|(h, i)| hex::encode([&h.to_be_bytes()[..], &i.to_be_bytes()[..]].concat()))
    } else {
        None
    };
    Ok(Json(
        json!({ "subject": label, "items": items, "next_after": next }),
    ))
}

/// An audit page's `after`: the hex of the last entry's height (u64) and index (u32).
fn parse_audit_cursor(a: &str) -> Result<(u64, u32), ApiError> {
    let b = crate::hex_decode(a)?;
    let bad = || {
        ApiError::bad_request(
            "bad_cursor",
            format!("`after` `{a}` is not a cursor this endpoint returned (12 bytes of hex)"),
        )
    };
    let (h, i) = (b.len() == 12).then(|| b.split_at(8)).ok_or_else(bad)?;
    Ok((
        u64::from_be_bytes(h.try_into().map_err(|_| bad())?),
        u32::from_be_bytes(i.try_into().map_err(|_| bad())?),
    ))
}

/// Up to `max` (height, transaction index) entries of an audit subject, after `after`.
/// The audit subject a query names: its kind, its key bytes and how to say it.
fn audit_subject(q: &AuditQuery) -> Result<(u8, Vec<u8>, String), ApiError> {
    Ok(match (&q.product, &q.member, &q.org) {
        (Some(p), None, None) => (
            audit::subject::PRODUCT,
            parse_gtin(p)?.as_str().as_bytes().to_vec(),
            format!("product {p}"),
        ),
        (None, Some(m), None) => (
            audit::subject::MEMBER,
            parse_key(m)?.0.to_vec(),
            format!("member {m}"),
        ),
        (None, None, Some(o)) => (
            audit::subject::ORG,
            parse_org(o)?.as_str().as_bytes().to_vec(),
            format!("organization {o}"),
        ),
        _ => {
            return Err(ApiError::bad_request(
                "bad_query_parameter",
                "give exactly one of product=GTIN, member=KEY, org=ID",
            ))
        }
    })
}

/// Who may read whose audit trail: regulators everything; members their own
/// organization's; a product's trail, the organizations that are parties to the
/// product (its owner, and those whose events named its items or lots: who touched a
/// product is what a partner needs to know, and no competitor's business).
fn may_read_audit(s: &AppState, reader: &Reader, kind: u8, subject: &[u8]) -> Result<(), ApiError> {
    let Reader::Member(m) = reader else {
        return Ok(());
    };
    let regulator = m.roles.contains(&waybill_types::Role::Regulator);
    let own = match kind {
        audit::subject::ORG => subject == m.org.as_str().as_bytes(),
        audit::subject::MEMBER => {
            let snap = s.store.snapshot()?;
            let key = PublicKey(
                subject
                    .try_into()
                    .map_err(|_| ApiError::internal("key length"))?,
            );
            waybill_state::identity::load_member(&snap, &key)?.is_some_and(|x| x.org == m.org)
        }
        _ => {
            let snap = s.store.snapshot()?;
            let gtin = std::str::from_utf8(subject).map_err(|_| ApiError::internal("GTIN"))?;
            waybill_state::parties::is_party(
                &snap,
                &format!("https://id.gs1.org/01/{gtin}"),
                &m.org,
            )?
        }
    };
    if !regulator && !own {
        return Err(epcis_error(
            StatusCode::FORBIDDEN,
            "not_authorized",
            format!("{} may read the audit trail of its own organization and its members, and of products its organization is a party to; only regulators read others'", reader.describe()),
        ));
    }
    Ok(())
}

// ---------- master data ----------

/// `GET /v1/locations`.
pub(crate) async fn locations(
    State(s): State<AppState>,
    q: Result<Query<crate::Page>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q?;
    crate::list::<catalog::Location>(&s, &[keys::LOCATION], &q)
}

/// `GET /v1/locations/{gln}`.
pub(crate) async fn location_by_gln(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(g) = p?;
    let gln: Gln = g
        .parse()
        .map_err(|e: waybill_gs1::Gs1Error| ApiError::bad_request("bad_gln", e.to_string()))?;
    let snap = s.store.snapshot()?;
    let loc = catalog::load_location(&snap, &gln)?
        .ok_or_else(|| ApiError::not_found("unknown_location", format!("no location {gln}")))?;
    Ok(Json(serde_json::to_value(loc).map_err(ApiError::internal)?))
}

/// `GET /v1/orgs/{id}/qualifications`: each with its status today, a page at a time
/// (`after`, `limit`; `next_after` when more remain).
pub(crate) async fn qualifications(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<crate::Page>, QueryRejection>,
) -> ApiResult {
    let Path(id) = p?;
    let Query(page) = q?;
    let org: OrgId = parse_org(&id)?;
    let snap = s.store.snapshot()?;
    if waybill_state::identity::load_org(&snap, &org)?.is_none() {
        return Err(ApiError::not_found(
            "unknown_org",
            format!("no organization `{org}`"),
        ));
    }
    let today = credentials::date_of_ms(s.now_ms());
    let prefix = keys::qualifications_of(&org);
    let start = match &page.after {
        Some(a) => [crate::hex_decode(a)?, vec![0]].concat(),
        None => prefix.clone(),
    };
    let limit = page.limit();
    let rows = snap.scan_from(&prefix, &start, limit + 1)?;
    let more = rows.len() > limit;
    let mut items = Vec::new();
    let mut last = None;
    for (k, v) in rows.into_iter().take(limit) {
        let q: credentials::Qualification = waybill_state::decode_record(&k, &v)?;
        let mut j = serde_json::to_value(&q).map_err(ApiError::internal)?;
        j["status"] = json!(q.status_on(&today));
        items.push(j);
        last = Some(k);
    }
    let next = if more { last.map(hex::encode) } else { None };
    Ok(Json(
        json!({ "org": org, "date": today, "items": items, "next_after": next }),
    ))
}

/// May `reader` see the EPCIS document a transaction carries? Other payloads are not
/// consortium-tier data. The capturing organization, regulators, and readers allowed
/// to read every event the capture stored may.
pub(crate) fn payload_visible<S: StateRead + ?Sized>(
    state: &S,
    reader: &Reader,
    stx: &SignedTx,
) -> Result<bool, ApiError> {
    if !matches!(stx.tx.payload, Payload::CaptureEpcis(_)) {
        return Ok(true);
    }
    let Reader::Member(m) = reader else {
        return Ok(false);
    };
    if m.roles.contains(&waybill_types::Role::Regulator) {
        return Ok(true);
    }
    let signer_org = waybill_state::identity::load_member(state, &stx.tx.signer)?.map(|x| x.org);
    if signer_org.as_ref() == Some(&m.org) {
        return Ok(true);
    }
    let Some(c) = trace::load_capture(state, &stx.id())? else {
        return Ok(false);
    };
    for e in &c.events {
        match trace::load_event(state, e.seq)? {
            Some(r) if reader.may_read_event(state, &r, false)? => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// Replace an EPCIS payload the reader may not see by a note (and drop the bytes).
pub(crate) fn redact(v: &mut Value, reader: &Reader) {
    let n = v["payload"]["document"].as_str().map(str::len).unwrap_or(0);
    v["payload"] = json!({
        "type": "capture_epcis",
        "redacted": true,
        "document_bytes": n,
        "reason": format!("EPCIS events are consortium data by category; {} may not read this capture", reader.describe()),
    });
    if let Value::Object(m) = v {
        m.remove("bytes_base64");
    }
}
