//! The chain: `/v1/status`, transactions by id, blocks.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::json;
use waybill_types::{Hash, Height};

use crate::params::Page;
use crate::{auth, epcis, views, ApiError, ApiResult, AppState};

/// The chain's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/txs/{id}", get(tx_by_id))
        .route("/v1/blocks", get(blocks))
        .route("/v1/blocks/{height}", get(block_by_height))
}

/// A node whose last block is older than this is not in sync: a live chain adds at
/// least one (empty) block every 10 s.
pub const IN_SYNC_BLOCK_AGE_MS_MAX: u64 = 30_000;

/// Is the last block, made at `head_time_ms`, recent by the node's clock?
fn in_sync(s: &AppState, head_time_ms: u64) -> bool {
    s.now_ms().saturating_sub(head_time_ms) <= IN_SYNC_BLOCK_AGE_MS_MAX
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
        "in_sync": in_sync(&s, head.time_ms),
        "validators": waybill_state::governance::validator_set_at(&s.store.snapshot()?, head.height.next())?,
        "tamper_alert": s.tamper_alert(),
        "gossip_dropped_txs": s.gossip_dropped(),
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

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
