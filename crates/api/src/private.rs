//! Erasable fields' private parts (docs/PRIVACY.md "Erasure"): a member delivers the
//! part of a field its record names to a node that keeps private data for one of the
//! field's recipients; a recipient's member reads it back to open the field. Neither
//! is on the chain, and an erased field's part is gone.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use waybill_state::trace::{erasure, wraps};
use waybill_types::seal::{Detached, PrivatePart, SealedField};

use crate::auth::Reader;
use crate::epcis::{readable_by_id, require_member};
use crate::{ApiError, ApiResult, AppState};

/// The routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/sealed/private",
        get(private_part).put(deliver_private_part),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldQuery {
    record: String,
    field: String,
}

/// The detached field `q` names, of a record `reader` may read (an event, or an
/// order: its address at `/ship_to`), with the organization that recorded it and the
/// field's recipients now (sealed for at capture, or added since by
/// `add_seal_wraps`).
fn detached_field<S: waybill_state::exec::StateScan + ?Sized>(
    snap: &S,
    reader: &Reader,
    q: &FieldQuery,
) -> Result<(Detached, waybill_types::OrgId, Vec<waybill_types::OrgId>), ApiError> {
    if let Some((buyer, id)) = waybill_state::orders::parse_order_urn(&q.record) {
        let m = crate::money::member(reader, "a private part")?;
        let readable = waybill_state::orders::load_order(snap, &buyer, &id)?
            .is_some_and(|o| crate::commerce::may_read_order(&m, &o));
        if !readable {
            return Err(ApiError::not_found(
                "unknown_order",
                format!(
                    "buyer {buyer} placed no order `{id}` that {} may read",
                    reader.describe()
                ),
            ));
        }
    } else if readable_by_id(snap, reader, &q.record)?.is_empty() {
        return Err(ApiError::not_found(
            "unknown_event",
            format!("no event with eventID `{}`", q.record),
        ));
    }
    match wraps::find_sealed_field(snap, &q.record, &q.field)? {
        Some((home, SealedField::Detached(d))) => {
            let recipients = wraps::recipient_orgs(snap, &SealedField::Detached(d.clone()))?;
            Ok((d, home.recorder().clone(), recipients))
        }
        Some((_, SealedField::Inline(_))) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_erasable",
            format!(
                "{} in {} is sealed inline (its ciphertext is in the record); only erasable fields have a private part",
                q.field, q.record
            ),
        )),
        None => Err(ApiError::not_found(
            "unknown_sealed_field",
            format!("record `{}` has no sealed field {}", q.record, q.field),
        )),
    }
}

fn erased<S: waybill_state::StateRead + ?Sized>(
    snap: &S,
    q: &FieldQuery,
) -> Result<Option<ApiError>, ApiError> {
    Ok(erasure::load_erasure(snap, &q.record, &q.field)?.map(|e| {
        ApiError::new(
            StatusCode::GONE,
            "erased",
            format!(
                "{} in {} was erased at height {} by `{}` ({}); its private part is purged",
                q.field, q.record, e.height, e.by, e.reason
            ),
        )
    }))
}

/// `PUT /v1/sealed/private?record=ID&field=POINTER` with the part as the body: keep
/// it, if it is the part the record names and this node keeps private data for one of
/// the field's recipients. Sent by a member of the capturing organization or of a
/// recipient.
async fn deliver_private_part(
    State(s): State<AppState>,
    reader: Reader,
    q: Result<Query<FieldQuery>, QueryRejection>,
    body: Bytes,
) -> ApiResult {
    require_member(&reader, "a private part")?;
    let Query(q) = q?;
    let part: PrivatePart = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_private_part",
            format!("the body is not a private part ({{\"wraps\", \"nonce\", \"ct\"}}): {e}"),
        )
    })?;
    let snap = s.store.snapshot()?;
    let (field, capturer, recipients) = detached_field(&snap, &reader, &q)?;
    let org = reader.org().expect("a member (checked above)");
    if *org != capturer && !recipients.contains(org) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_authorized",
            format!(
                "`{org}` neither recorded {} nor is a recipient of {}; it has no part to deliver",
                q.record, q.field
            ),
        ));
    }
    if let Some(e) = erased(&snap, &q)? {
        return Err(e);
    }
    field
        .attach(&part)
        .map_err(|e| ApiError::bad_request("bad_private_part", e.to_string()))?;
    let store = s.private_store().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "not_a_holder",
            "this node keeps no private store",
        )
    })?;
    let ours: Vec<&str> = store
        .holds_for()
        .iter()
        .filter(|o| recipients.contains(o))
        .map(waybill_types::OrgId::as_str)
        .collect();
    if ours.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_a_holder",
            format!(
                "this node keeps private data for {} only; {} in {} is for {}: send it to one of their nodes",
                names(store.holds_for().iter().map(waybill_types::OrgId::as_str)),
                q.field,
                q.record,
                names(recipients.iter().map(waybill_types::OrgId::as_str)),
            ),
        ));
    }
    store
        .put(&q.record, &q.field, &part)
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "record": q.record,
        "field": q.field,
        "private": field.private,
        "kept_for": ours,
    })))
}

fn names<'a>(orgs: impl Iterator<Item = &'a str>) -> String {
    orgs.map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /v1/sealed/private?record=ID&field=POINTER`: the field's private part, to a
/// member of a recipient organization, if this node keeps it; with whether and when it
/// was erased and which nodes recorded their purge.
async fn private_part(
    State(s): State<AppState>,
    reader: Reader,
    q: Result<Query<FieldQuery>, QueryRejection>,
) -> ApiResult {
    require_member(&reader, "a private part")?;
    let Query(q) = q?;
    let snap = s.store.snapshot()?;
    let (field, _, recipients) = detached_field(&snap, &reader, &q)?;
    let org = reader.org().expect("a member (checked above)");
    if !recipients.contains(org) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_recipient",
            format!(
                "`{org}` is not a recipient of {} in {} (it is for {})",
                q.field,
                q.record,
                names(recipients.iter().map(waybill_types::OrgId::as_str))
            ),
        ));
    }
    let purged_by = erasure::purges(&snap, &q.record, &q.field)?;
    if let Some(e) = erased(&snap, &q)? {
        return Err(e.with_extensions(
            json!({ "purged_by": purged_by })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ));
    }
    let part = match s.private_store() {
        Some(store) => store.get(&q.record, &q.field).map_err(ApiError::internal)?,
        None => None,
    };
    let part = part.ok_or_else(|| {
        ApiError::not_found(
            "private_part_not_here",
            format!(
                "this node does not keep the private part of {} in {}; ask a node of {}",
                q.field,
                q.record,
                names(recipients.iter().map(waybill_types::OrgId::as_str))
            ),
        )
    })?;
    Ok(Json(json!({
        "record": q.record,
        "field": q.field,
        "private": field.private,
        "part": part,
    })))
}
