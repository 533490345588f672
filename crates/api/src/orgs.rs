//! Organizations and their members.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use waybill_state::{identity, keys, privacy};
use waybill_types::PublicKey;

use crate::params::{list, parse_key, parse_org, Page};
use crate::{ApiError, ApiResult, AppState};

/// The routes of organizations and members.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs", get(orgs))
        .route("/v1/orgs/{id}", get(org_by_id))
        .route("/v1/orgs/{id}/members", get(org_members))
        .route("/v1/orgs/{id}/seal-keys", get(org_seal_keys))
        .route("/v1/members/{key}", get(member_by_key))
}

async fn orgs(State(s): State<AppState>, q: Result<Query<Page>, QueryRejection>) -> ApiResult {
    let Query(q) = q?;
    list::<identity::Organization>(&s, &[keys::ORG], &q)
}

/// The organization `id`, or a 404 `unknown_org`.
fn require_org<S: waybill_state::StateRead>(
    snap: &S,
    id: &waybill_types::OrgId,
) -> Result<identity::Organization, ApiError> {
    identity::load_org(snap, id)?
        .ok_or_else(|| ApiError::not_found("unknown_org", format!("no organization `{id}`")))
}

async fn org_by_id(State(s): State<AppState>, p: Result<Path<String>, PathRejection>) -> ApiResult {
    let Path(id) = p?;
    let id = parse_org(&id)?;
    let snap = s.store.snapshot()?;
    let org = require_org(&snap, &id)?;
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
    require_org(&snap, &id)?;
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

/// An organization's encryption keys (public): every version, oldest first, and which
/// is current — what a member seals fields to.
async fn org_seal_keys(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(id) = p?;
    let id = parse_org(&id)?;
    let snap = s.store.snapshot()?;
    require_org(&snap, &id)?;
    let keys = privacy::seal_keys(&snap, &id)?;
    let current = keys.last().map(|k| k.version);
    Ok(Json(json!({ "org": id, "current": current, "keys": keys })))
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
