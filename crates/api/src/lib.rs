//! The HTTP API (axum): submit transactions, read blocks, transactions, members,
//! organizations, products and lots; status, metrics, the OpenAPI description and
//! a small explorer page. Build it with [`app`]; every handler is reachable in
//! tests with `app(shared).oneshot(request)`.

pub mod auth;
pub mod consumer;
pub mod epcis;
mod error;
mod pages;
pub mod proofs;
mod resolver;
mod server;
pub mod tls;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use waybill_gs1::Gtin;
use waybill_node::ledger::{submit_batch, submit_batch_from_peer, SubmitError};
use waybill_node::{Shared, TxOutcome};
use waybill_state::{catalog, identity, keys};
use waybill_types::{limits, Hash, Height, OrgId, PublicKey};

pub use error::{ApiError, PROBLEM_JSON};
pub use server::{
    ConnectionCount, HttpServer, ServerLimits, HEADER_READ_TIMEOUT_MS, SHUTDOWN_GRACE_MS,
    WRITE_STALL_TIMEOUT_MS,
};

/// Longest a request may take, including `wait=true` submissions.
pub const REQUEST_TIMEOUT_MS: u64 = 60_000;
/// Longest a submission waits for its commit.
pub const WAIT_MS_MAX: u64 = 30_000;
/// Most requests served at once; more are answered 503 "busy".
pub const CONCURRENT_REQUESTS_MAX: usize = 1_024;

/// The OpenAPI description, served at `/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

type ApiResult<T = Json<Value>> = Result<T, ApiError>;
type AppState = Arc<Shared>;

/// Every route, for the OpenAPI completeness test.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/status"),
    ("post", "/v1/tx"),
    ("post", "/v1/txs"),
    ("get", "/v1/txs/{id}"),
    ("get", "/v1/blocks"),
    ("get", "/v1/blocks/{height}"),
    ("get", "/v1/orgs"),
    ("get", "/v1/orgs/{id}"),
    ("get", "/v1/orgs/{id}/members"),
    ("get", "/v1/members/{key}"),
    ("get", "/v1/products"),
    ("get", "/v1/products/{gtin}"),
    ("get", "/v1/products/{gtin}/lots"),
    ("get", "/v1/lots/{gtin}/{lot}"),
    ("get", "/v1/validators"),
    ("get", "/v1/governance/proposals"),
    ("get", "/v1/governance/proposals/{id}"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/epcis/capture"),
    ("get", "/epcis/capture/{id}"),
    ("get", "/epcis/events"),
    ("get", "/epcis/events/{eventID}"),
    ("get", "/v1/trace/{id}"),
    ("get", "/v1/audit"),
    ("get", "/v1/locations"),
    ("get", "/v1/locations/{gln}"),
    ("get", "/v1/orgs/{id}/qualifications"),
    ("get", "/v1/qr"),
    ("get", "/v1/proofs/{link}"),
    ("get", "/01/{gtin}"),
    ("get", "/01/{gtin}/{qualifiers}"),
    ("get", "/00/{sscc}"),
    ("get", "/414/{gln}"),
    ("get", "/8004/{giai}"),
    ("get", "/labels"),
    ("get", "/assets/{name}"),
];

/// The router with its limits: body size, timeout, concurrency.
pub fn app(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/tx", post(submit_one))
        .route("/v1/txs", post(submit_many))
        .route("/v1/txs/{id}", get(tx_by_id))
        .route("/v1/blocks", get(blocks))
        .route("/v1/blocks/{height}", get(block_by_height))
        .route("/v1/orgs", get(orgs))
        .route("/v1/orgs/{id}", get(org_by_id))
        .route("/v1/orgs/{id}/members", get(org_members))
        .route("/v1/members/{key}", get(member_by_key))
        .route("/v1/products", get(products))
        .route("/v1/products/{gtin}", get(product_by_gtin))
        .route("/v1/products/{gtin}/lots", get(product_lots))
        .route("/v1/lots/{gtin}/{lot}", get(lot_by_id))
        .route("/v1/validators", get(validators))
        .route("/v1/governance/proposals", get(proposals))
        .route("/v1/governance/proposals/{id}", get(proposal_by_id))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/epcis/capture", post(epcis::capture))
        .route("/epcis/capture/{id}", get(epcis::capture_status))
        .route("/epcis/events", get(epcis::events))
        .route("/epcis/events/{eventID}", get(epcis::event_by_id))
        .route("/v1/trace/{id}", get(epcis::trace_route))
        .route("/v1/audit", get(epcis::audit_route))
        .route("/v1/locations", get(epcis::locations))
        .route("/v1/locations/{gln}", get(epcis::location_by_gln))
        .route("/v1/orgs/{id}/qualifications", get(epcis::qualifications))
        .route("/v1/qr", get(resolver::qr))
        .route("/v1/proofs/{*link}", get(proofs::proof_route))
        .route("/labels", get(consumer::labels))
        .route("/assets/{name}", get(consumer::asset))
        .route("/", get(pages::index))
        .merge(resolver_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared.clone());
    api.layer(axum::middleware::from_fn_with_state(
        shared,
        alert_on_damage,
    ))
    .layer(DefaultBodyLimit::max(limits::REQUEST_BODY_BYTES_MAX))
    .layer(
        tower::ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(
                |e: tower::BoxError| async move {
                    if e.is::<tower::load_shed::error::Overloaded>() {
                        ApiError {
                            status: StatusCode::SERVICE_UNAVAILABLE,
                            code: "busy",
                            message:
                                "the node is serving as many requests as it can; retry shortly"
                                    .into(),
                        }
                    } else if e.is::<tower::timeout::error::Elapsed>() {
                        ApiError {
                            status: StatusCode::SERVICE_UNAVAILABLE,
                            code: "timeout",
                            message: format!("request took longer than {REQUEST_TIMEOUT_MS} ms"),
                        }
                    } else {
                        ApiError::internal(e)
                    }
                },
            ))
            .load_shed()
            .concurrency_limit(CONCURRENT_REQUESTS_MAX)
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS)),
    )
    // Oversized targets, heads and announced bodies are refused before they take
    // a request slot or a byte of the body is read.
    .layer(axum::middleware::from_fn(server::request_limits))
    // Outermost: whatever answered with an error, the body is a problem document.
    .layer(axum::middleware::map_response(error::ensure_problem))
}

/// The Digital Link resolver's routes (one per primary key it resolves), open to
/// pages on any origin.
fn resolver_routes() -> Router<AppState> {
    Router::new()
        .route("/01/{*link}", get(resolver::resolve))
        .route("/00/{*link}", get(resolver::resolve))
        .route("/414/{*link}", get(resolver::resolve))
        .route("/8004/{*link}", get(resolver::resolve))
        .route_layer(axum::middleware::map_response(resolver::cors))
}

/// A request that found the store damaged raises the tamper alert (the node then
/// halts consensus and stops serving).
async fn alert_on_damage(
    State(shared): State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let resp = next.run(req).await;
    if resp.extensions().get::<error::StoreDamaged>().is_some() {
        shared.raise_tamper_alert(format!(
            "store {} is damaged: a request could not read a stored record (the log has it)",
            shared.store.path()
        ));
    }
    resp
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "no_such_route",
        "no such route; see /openapi.json for the API",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: "this route does not take that HTTP method; see /openapi.json".into(),
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    let body = s.metrics.render(s.mempool.len() as u64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// A node whose last block is older than this is not in sync: a live chain adds at
/// least one (empty) block every 10 s.
pub const IN_SYNC_BLOCK_AGE_MS_MAX: u64 = 30_000;

/// The node's clock, ms since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn in_sync(head_time_ms: u64) -> bool {
    now_ms().saturating_sub(head_time_ms) <= IN_SYNC_BLOCK_AGE_MS_MAX
}

async fn status(State(s): State<AppState>) -> ApiResult {
    let head = s.head.borrow().clone();
    Ok(Json(json!({
        "chain_id": s.chain_id(),
        "genesis_hash": s.genesis.hash(),
        "height": head.height,
        "latest_block_hash": head.block_hash,
        "latest_block_time_ms": head.time_ms,
        "state_hash": head.state_hash,
        "mempool_txs": s.mempool.len(),
        "txs_committed_since_start": s.metrics.txs_committed(),
        "peers": s.metrics.peers(),
        "in_sync": in_sync(head.time_ms),
        "validators": waybill_state::governance::validator_set_at(&s.store.snapshot()?, head.height.next())?,
        "tamper_alert": s.tamper_alert(),
        "gossip_dropped_txs": s.gossip_dropped(),
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

// ---------- submission ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitOne {
    /// Base64 of the canonical signed transaction.
    tx: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitMany {
    txs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitQuery {
    #[serde(default)]
    wait: bool,
    timeout_ms: Option<u64>,
    /// Set by a peer node forwarding transactions: admit them but do not forward again.
    #[serde(default)]
    gossip: bool,
}

fn decode_b64(i: usize, s: &str) -> Result<Vec<u8>, SubmitError> {
    let too_large = |bytes: usize| SubmitError::Invalid {
        code: "tx_too_large",
        message: format!(
            "transaction {i} is {bytes} bytes, over the limit of {} bytes",
            limits::TX_BYTES_MAX
        ),
    };
    // Refuse clearly oversized text before decoding it, then check the exact size.
    if s.len() > (limits::TX_BYTES_MAX / 3 + 1) * 4 {
        return Err(too_large(s.len() / 4 * 3));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| SubmitError::Invalid {
            code: "malformed_tx",
            message: format!("transaction {i} is not valid base64: {e}"),
        })?;
    if bytes.len() > limits::TX_BYTES_MAX {
        return Err(too_large(bytes.len()));
    }
    Ok(bytes)
}

async fn run_submit(
    s: &AppState,
    raw: Vec<Result<Vec<u8>, SubmitError>>,
    from_peer: bool,
) -> Result<Vec<Result<Hash, SubmitError>>, ApiError> {
    let ok: Vec<Vec<u8>> = raw
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let shared = s.clone();
    let mut results = tokio::task::spawn_blocking(move || {
        if from_peer {
            submit_batch_from_peer(&shared, ok)
        } else {
            submit_batch(&shared, ok)
        }
    })
    .await
    .map_err(ApiError::internal)?
    .into_iter();
    let out: Vec<Result<Hash, SubmitError>> = raw
        .into_iter()
        .map(|r| match r {
            Ok(_) => results.next().expect("one result per decoded transaction"),
            Err(e) => Err(e),
        })
        .collect();
    let n_refused = out.iter().filter(|r| r.is_err()).count() as u64;
    s.metrics.add_rejected_at_submit(n_refused);
    Ok(out)
}

pub(crate) fn submit_error_status(e: &SubmitError) -> StatusCode {
    match e.code() {
        "busy" => StatusCode::SERVICE_UNAVAILABLE,
        "duplicate" | "already_committed" | "replayed_tx" => StatusCode::CONFLICT,
        "tx_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "unknown_signer" | "member_revoked" => StatusCode::FORBIDDEN,
        "internal" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

pub(crate) async fn wait_outcome(s: &AppState, id: Hash, timeout_ms: u64) -> Value {
    let rx = s.watch_tx(id);
    // Already committed before we started watching?
    if let Ok(Some(v)) = committed_view(s, &id) {
        s.unwatch_tx(&id);
        return v;
    }
    match tokio::time::timeout(Duration::from_millis(timeout_ms), rx).await {
        Ok(Ok(TxOutcome::Committed {
            height,
            index,
            receipt,
        })) => outcome_json(id, height, index, &receipt),
        Ok(Ok(TxOutcome::Dropped { reason })) => {
            json!({ "tx_id": id, "status": "dropped", "reason": reason })
        }
        _ => {
            s.unwatch_tx(&id);
            json!({ "tx_id": id, "status": "pending", "message": format!("not committed within {timeout_ms} ms; ask GET /v1/txs/{id} later") })
        }
    }
}

fn outcome_json(id: Hash, height: Height, index: u32, receipt: &waybill_types::Receipt) -> Value {
    let mut v = json!({ "tx_id": id, "height": height, "index": index });
    match &receipt.status {
        waybill_types::TxStatus::Applied => v["status"] = json!("applied"),
        waybill_types::TxStatus::Rejected { code, message } => {
            v["status"] = json!("rejected");
            v["reason"] = json!({ "code": code, "message": message });
        }
    }
    v
}

pub(crate) fn committed_view(s: &AppState, id: &Hash) -> Result<Option<Value>, ApiError> {
    let Some(loc) = s.store.tx_location(id)? else {
        return Ok(None);
    };
    let receipts = s.store.receipts(loc.height)?.unwrap_or_default();
    let Some(r) = receipts.get(loc.index as usize) else {
        return Ok(None);
    };
    Ok(Some(outcome_json(*id, loc.height, loc.index, r)))
}

async fn submit_one(
    State(s): State<AppState>,
    q: Result<Query<WaitQuery>, QueryRejection>,
    body: Result<Json<SubmitOne>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let Json(body) = body?;
    let raw = vec![decode_b64(0, &body.tx)];
    let result = run_submit(&s, raw, q.gossip)
        .await?
        .pop()
        .expect("one input, one result");
    match result {
        Err(e) => Ok(error::problem_response(
            submit_error_status(&e),
            e.code(),
            &e.to_string(),
            None,
        )),
        Ok(id) if q.wait => {
            let v = wait_outcome(&s, id, q.timeout_ms.unwrap_or(10_000).min(WAIT_MS_MAX)).await;
            Ok(Json(v).into_response())
        }
        Ok(id) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "tx_id": id, "status": "accepted" })),
        )
            .into_response()),
    }
}

async fn submit_many(
    State(s): State<AppState>,
    q: Result<Query<WaitQuery>, QueryRejection>,
    body: Result<Json<SubmitMany>, JsonRejection>,
) -> ApiResult {
    let Query(q) = q?;
    let Json(body) = body?;
    if body.txs.len() > limits::SUBMIT_BATCH_TXS_MAX {
        return Err(ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "batch_too_large",
            message: format!(
                "{} transactions in one batch; the limit is {}",
                body.txs.len(),
                limits::SUBMIT_BATCH_TXS_MAX
            ),
        });
    }
    let raw = body
        .txs
        .iter()
        .enumerate()
        .map(|(i, t)| decode_b64(i, t))
        .collect();
    let results = run_submit(&s, raw, q.gossip).await?;
    // One deadline for the whole batch, however many transactions it holds.
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(q.timeout_ms.unwrap_or(10_000).min(WAIT_MS_MAX));
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        out.push(match r {
            Err(e) => json!({ "error": { "code": e.code(), "message": e.to_string() } }),
            Ok(id) if q.wait => {
                let left_ms = deadline
                    .saturating_duration_since(tokio::time::Instant::now())
                    .as_millis() as u64;
                wait_outcome(&s, id, left_ms).await
            }
            Ok(id) => json!({ "tx_id": id, "status": "accepted" }),
        });
    }
    Ok(Json(json!({ "results": out })))
}

// ---------- chain ----------

async fn tx_by_id(
    State(s): State<AppState>,
    reader: auth::Reader,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(id) = p?;
    let id = Hash::from_hex(&id).map_err(|e| ApiError::bad_request("bad_tx_id", e.to_string()))?;
    let Some(loc) = s.store.tx_location(&id)? else {
        if s.mempool.contains(&id) {
            return Ok(Json(json!({ "tx_id": id, "status": "pending" })));
        }
        return Err(ApiError::not_found(
            "unknown_tx",
            format!("transaction {id} is neither committed nor waiting"),
        ));
    };
    let block = s
        .store
        .block(loc.height)?
        .ok_or_else(|| ApiError::internal(format!("block {} missing", loc.height)))?;
    let receipts = s.store.receipts(loc.height)?.unwrap_or_default();
    let stx = block
        .txs
        .get(loc.index as usize)
        .ok_or_else(|| ApiError::internal("tx index points past the block"))?;
    let mut v = views::tx(stx, receipts.get(loc.index as usize));
    if !epcis::payload_visible(&s.store.snapshot()?, &reader, stx)? {
        epcis::redact(&mut v, &reader);
    }
    v["height"] = json!(loc.height);
    v["index"] = json!(loc.index);
    v["block_hash"] = json!(block.hash());
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Page {
    /// Start after this cursor (exclusive) — a height for blocks, a key for lists.
    after: Option<String>,
    limit: Option<usize>,
}

impl Page {
    fn limit(&self) -> usize {
        self.limit.unwrap_or(100).clamp(1, limits::PAGE_ITEMS_MAX)
    }
}

async fn blocks(State(s): State<AppState>, q: Result<Query<Page>, QueryRejection>) -> ApiResult {
    let Query(q) = q?;
    let head = s.head.borrow().height.0;
    // Newest first; `after` is a height: list blocks below it.
    let start = match &q.after {
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| {
                ApiError::bad_request("bad_cursor", format!("`after` must be a height, got `{a}`"))
            })?
            .saturating_sub(1),
        None => head,
    };
    let mut items = Vec::new();
    let mut h = start.min(head);
    while h >= 1 && items.len() < q.limit() {
        if let Some(b) = s.store.block(Height(h))? {
            items.push(json!({ "height": h, "hash": b.hash(), "time_ms": b.header.time_ms, "n_txs": b.header.n_txs, "proposer": b.header.proposer }));
        }
        h -= 1;
    }
    let next = if h >= 1 {
        Some((h + 1).to_string())
    } else {
        None
    };
    Ok(Json(json!({ "items": items, "next_after": next })))
}

async fn block_by_height(
    State(s): State<AppState>,
    reader: auth::Reader,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(h) = p?;
    let height = h
        .parse::<u64>()
        .map_err(|_| ApiError::bad_request("bad_height", format!("`{h}` is not a block height")))?;
    let bytes = s.store.block_bytes(Height(height))?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_block",
            format!(
                "no block at height {height}; the head is {}",
                s.head.borrow().height
            ),
        )
    })?;
    let block = s
        .store
        .block(Height(height))?
        .ok_or_else(|| ApiError::internal("block vanished"))?;
    let cert = s.store.certificate(Height(height))?;
    let receipts = s.store.receipts(Height(height))?.unwrap_or_default();
    let snap = s.store.snapshot()?;
    let mut redacted = false;
    let mut txs = Vec::with_capacity(block.txs.len());
    for (i, t) in block.txs.iter().enumerate() {
        let mut v = views::tx(t, receipts.get(i));
        if !epcis::payload_visible(&snap, &reader, t)? {
            epcis::redact(&mut v, &reader);
            redacted = true;
        }
        txs.push(v);
    }
    let mut v = json!({
        "height": height,
        "hash": block.hash(),
        "header": block.header,
        "certificate": cert,
        "txs": txs,
    });
    if !redacted {
        v["bytes_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    Ok(Json(v))
}

// ---------- identity and catalog ----------

pub(crate) fn parse_key(k: &str) -> Result<PublicKey, ApiError> {
    PublicKey::from_hex(k).map_err(|e| ApiError::bad_request("bad_key", e.to_string()))
}

pub(crate) fn parse_org(id: &str) -> Result<OrgId, ApiError> {
    OrgId::new(id).map_err(|e| ApiError::bad_request("bad_org_id", e.to_string()))
}

pub(crate) fn parse_gtin(g: &str) -> Result<Gtin, ApiError> {
    g.parse::<Gtin>()
        .map_err(|e| ApiError::bad_request("bad_gtin", e.to_string()))
}

/// A page of decoded records under a key prefix, with a cursor.
pub(crate) fn list<T: borsh::BorshDeserialize + serde::Serialize>(
    s: &Shared,
    prefix: &[u8],
    page: &Page,
) -> ApiResult {
    let snap = s.store.snapshot()?;
    let start = match &page.after {
        Some(a) => {
            let mut k = hex_decode(a)?;
            k.push(0);
            k
        }
        None => prefix.to_vec(),
    };
    let rows = snap.scan_from(prefix, &start, page.limit() + 1)?;
    let more = rows.len() > page.limit();
    let mut items = Vec::new();
    let mut last = None;
    for (k, v) in rows.into_iter().take(page.limit()) {
        let rec: T = waybill_state::decode_record(&k, &v)?;
        items.push(serde_json::to_value(&rec).map_err(ApiError::internal)?);
        last = Some(k);
    }
    let next = if more {
        last.map(|k| k.iter().map(|b| format!("{b:02x}")).collect::<String>())
    } else {
        None
    };
    Ok(Json(json!({ "items": items, "next_after": next })))
}

pub(crate) fn hex_decode(s: &str) -> Result<Vec<u8>, ApiError> {
    if !s.len().is_multiple_of(2) || s.len() > 512 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(
            "bad_cursor",
            "`after` must be a cursor from `next_after`",
        ));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| {
            ApiError::bad_request("bad_cursor", "`after` must be a cursor from `next_after`")
        })
}

async fn orgs(State(s): State<AppState>, q: Result<Query<Page>, QueryRejection>) -> ApiResult {
    let Query(q) = q?;
    list::<identity::Organization>(&s, &[keys::ORG], &q)
}

async fn org_by_id(State(s): State<AppState>, p: Result<Path<String>, PathRejection>) -> ApiResult {
    let Path(id) = p?;
    let id = parse_org(&id)?;
    let snap = s.store.snapshot()?;
    let org = identity::load_org(&snap, &id)?
        .ok_or_else(|| ApiError::not_found("unknown_org", format!("no organization `{id}`")))?;
    Ok(Json(serde_json::to_value(org).map_err(ApiError::internal)?))
}

async fn org_members(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<Page>, QueryRejection>,
) -> ApiResult {
    let Path(id) = p?;
    let Query(q) = q?;
    let id = parse_org(&id)?;
    let snap = s.store.snapshot()?;
    if identity::load_org(&snap, &id)?.is_none() {
        return Err(ApiError::not_found(
            "unknown_org",
            format!("no organization `{id}`"),
        ));
    }
    let prefix = keys::org_members(&id);
    let start = match &q.after {
        Some(a) => [prefix.as_slice(), &parse_key(a)?.0, &[0]].concat(),
        None => prefix.clone(),
    };
    let rows = snap.scan_from(&prefix, &start, q.limit() + 1)?;
    let more = rows.len() > q.limit();
    let mut items = Vec::new();
    let mut last = None;
    for (k, _) in rows.into_iter().take(q.limit()) {
        let key_bytes: [u8; 32] = k[prefix.len()..]
            .try_into()
            .map_err(|_| ApiError::internal("membership index key has the wrong length"))?;
        if let Some(m) = identity::load_member(&snap, &PublicKey(key_bytes))? {
            items.push(serde_json::to_value(m).map_err(ApiError::internal)?);
        }
        last = Some(PublicKey(key_bytes));
    }
    let next = if more { last.map(|k| k.to_hex()) } else { None };
    Ok(Json(json!({ "items": items, "next_after": next })))
}

async fn member_by_key(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(k) = p?;
    let key = parse_key(&k)?;
    let snap = s.store.snapshot()?;
    let m = identity::load_member(&snap, &key)?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_member",
            format!("{key} is not a registered member"),
        )
    })?;
    let v = serde_json::to_value(m).map_err(ApiError::internal)?;
    Ok(Json(v))
}

async fn products(State(s): State<AppState>, q: Result<Query<Page>, QueryRejection>) -> ApiResult {
    let Query(q) = q?;
    list::<catalog::Product>(&s, &[keys::PRODUCT], &q)
}

async fn product_by_gtin(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(g) = p?;
    let gtin = parse_gtin(&g)?;
    let snap = s.store.snapshot()?;
    let prod = catalog::load_product(&snap, &gtin)?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_product",
            format!("product {gtin} is not registered"),
        )
    })?;
    Ok(Json(
        serde_json::to_value(prod).map_err(ApiError::internal)?,
    ))
}

async fn product_lots(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<Page>, QueryRejection>,
) -> ApiResult {
    let Path(g) = p?;
    let Query(q) = q?;
    let gtin = parse_gtin(&g)?;
    {
        let snap = s.store.snapshot()?;
        if catalog::load_product(&snap, &gtin)?.is_none() {
            return Err(ApiError::not_found(
                "unknown_product",
                format!("product {gtin} is not registered"),
            ));
        }
    }
    list::<catalog::Lot>(&s, &keys::lots_of(&gtin), &q)
}

async fn lot_by_id(
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let Path((g, lot)) = p?;
    let gtin = parse_gtin(&g)?;
    let snap = s.store.snapshot()?;
    let l = catalog::load_lot(&snap, &gtin, &lot)?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_lot",
            format!("lot `{lot}` of product {gtin} is not registered"),
        )
    })?;
    Ok(Json(serde_json::to_value(l).map_err(ApiError::internal)?))
}

// ---------- governance ----------

async fn validators(State(s): State<AppState>) -> ApiResult {
    use waybill_state::governance as g;
    let snap = s.store.snapshot()?;
    let next = s.head.borrow().height.next();
    let mut sets = Vec::new();
    for h in g::validator_set_heights(&snap)? {
        sets.push(json!({ "from_height": h, "validators": g::validator_set_from(&snap, h)? }));
    }
    Ok(Json(json!({
        "next_height": next,
        "in_force": g::validator_set_at(&snap, next)?,
        "history": sets,
    })))
}

async fn proposals(State(s): State<AppState>, q: Result<Query<Page>, QueryRejection>) -> ApiResult {
    let Query(q) = q?;
    let snap = s.store.snapshot()?;
    let count = waybill_state::governance::proposal_count(&snap)?;
    // Newest first; `after` is a proposal number: list those below it.
    let start = match &q.after {
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| {
                ApiError::bad_request(
                    "bad_cursor",
                    format!("`after` must be a proposal number, got `{a}`"),
                )
            })?
            .saturating_sub(1),
        None => count,
    };
    let mut items = Vec::new();
    let mut id = start.min(count);
    while id >= 1 && items.len() < q.limit() {
        if let Some(p) = waybill_state::governance::load_proposal(&snap, id)? {
            items.push(serde_json::to_value(p).map_err(ApiError::internal)?);
        }
        id -= 1;
    }
    let next = if id >= 1 {
        Some((id + 1).to_string())
    } else {
        None
    };
    Ok(Json(json!({ "items": items, "next_after": next })))
}

async fn proposal_by_id(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(id) = p?;
    let n = id.parse::<u64>().map_err(|_| {
        ApiError::bad_request(
            "bad_proposal_id",
            format!("`{id}` is not a proposal number"),
        )
    })?;
    let snap = s.store.snapshot()?;
    let p = waybill_state::governance::load_proposal(&snap, n)?.ok_or_else(|| {
        ApiError::not_found("unknown_proposal", format!("no governance proposal {n}"))
    })?;
    Ok(Json(serde_json::to_value(p).map_err(ApiError::internal)?))
}
