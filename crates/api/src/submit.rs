//! Transaction submission: `POST /v1/tx`, `POST /v1/txs`, and the wait for a
//! transaction's outcome that EPCIS capture shares.

use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use waybill_node::ledger::{dry_run, submit_batch, submit_batch_from_peer, SubmitError};
use waybill_node::TxOutcome;
use waybill_types::{limits, Hash, Height};

use crate::{ApiError, ApiResult, AppState, WAIT_MS_MAX};

/// The submission routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tx", post(submit_one))
        .route("/v1/txs", post(submit_many))
        .route("/v1/tx/dry-run", post(dry_run_one))
}

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
    for e in out.iter().filter_map(|r| r.as_ref().err()) {
        s.metrics.add_refused_at_submit(e.code());
    }
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

/// A refused submission answers with its own code and message.
impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        ApiError::new(submit_error_status(&e), e.code(), e.to_string())
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
    let id = run_submit(&s, raw, q.gossip)
        .await?
        .pop()
        .expect("one input, one result")?;
    if q.wait {
        let v = wait_outcome(&s, id, q.timeout_ms.unwrap_or(10_000).min(WAIT_MS_MAX)).await;
        return Ok(Json(v).into_response());
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "tx_id": id, "status": "accepted" })),
    )
        .into_response())
}

/// `POST /v1/tx/dry-run`: what one signed transaction would do as the next block's
/// only transaction — its receipt, the open-tier records it would publish and the
/// commitments of the fields it would seal — checked as a submission is; nothing is
/// stored, admitted or gossiped (`waybill capture --dry-run`).
async fn dry_run_one(
    State(s): State<AppState>,
    body: Result<Json<SubmitOne>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body?;
    let raw = decode_b64(0, &body.tx)?;
    let shared = s.clone();
    let d = tokio::task::spawn_blocking(move || dry_run(&shared, raw))
        .await
        .map_err(ApiError::internal)??;
    let mut v = json!({ "tx_id": d.tx_id, "height": d.height });
    match &d.receipt.status {
        waybill_types::TxStatus::Applied => v["status"] = json!("applied"),
        waybill_types::TxStatus::Rejected { code, message } => {
            v["status"] = json!("rejected");
            v["reason"] = json!({ "code": code, "message": message });
        }
    }
    let publishes = d
        .published
        .iter()
        .map(|b| serde_json::from_slice::<Value>(b).map_err(ApiError::internal))
        .collect::<Result<Vec<_>, _>>()?;
    let seals = d
        .sealed
        .iter()
        .map(|leaf| {
            waybill_types::seal::decode_commitment_leaf(leaf)
                .map(|(record, field, commitment)| {
                    json!({ "record": record, "field": field, "commitment": commitment })
                })
                .ok_or_else(|| ApiError::internal("a commitment leaf does not decode"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    v["publishes"] = json!(publishes);
    v["seals"] = json!(seals);
    Ok(Json(v))
}

async fn submit_many(
    State(s): State<AppState>,
    q: Result<Query<WaitQuery>, QueryRejection>,
    body: Result<Json<SubmitMany>, JsonRejection>,
) -> ApiResult {
    let Query(q) = q?;
    let Json(body) = body?;
    if body.txs.len() > limits::SUBMIT_BATCH_TXS_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "{} transactions in one batch; the limit is {}",
                body.txs.len(),
                limits::SUBMIT_BATCH_TXS_MAX
            ),
        ));
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
