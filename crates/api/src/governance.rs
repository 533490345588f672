//! Governance: the validator sets, the open tier's screening rules and the proposals
//! that change them.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use waybill_state::governance as g;

use crate::params::Page;
use crate::{ApiError, ApiResult, AppState};

/// The governance routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/validators", get(validators))
        .route("/v1/governance/proposals", get(proposals))
        .route("/v1/governance/proposals/{id}", get(proposal_by_id))
        .route("/v1/screening-rules", get(screening_rules))
}

/// The open tier's screening rules: the version in force and every version (public:
/// anyone may know what the open tier publishes).
async fn screening_rules(State(s): State<AppState>) -> ApiResult {
    let snap = s.store.snapshot()?;
    Ok(Json(json!({
        "in_force": waybill_state::screening::in_force(&snap)?,
        "history": waybill_state::screening::history(&snap)?,
    })))
}

async fn validators(State(s): State<AppState>) -> ApiResult {
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
    let count = g::proposal_count(&snap)?;
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
        if let Some(p) = g::load_proposal(&snap, id)? {
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
    let p = g::load_proposal(&snap, n)?.ok_or_else(|| {
        ApiError::not_found("unknown_proposal", format!("no governance proposal {n}"))
    })?;
    Ok(Json(serde_json::to_value(p).map_err(ApiError::internal)?))
}
