//! What several resources' handlers share: path parameters parsed into our types and
//! cursor pages. (Time enters the API through the node's clock, `Shared::now_ms`.)

use axum::Json;
use serde::Deserialize;
use serde_json::json;
use waybill_gs1::Gtin;
use waybill_node::Shared;
use waybill_types::{limits, OrgId, PublicKey};

use crate::{ApiError, ApiResult};

/// A page of a list: `?after=CURSOR&limit=N`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Page {
    /// Start after this cursor (exclusive) — a height for blocks, a key for lists.
    pub(crate) after: Option<String>,
    limit: Option<usize>,
}

impl Page {
    /// Items on the page: `limit`, 100 by default, at most [`limits::PAGE_ITEMS_MAX`].
    pub(crate) fn limit(&self) -> usize {
        self.limit.unwrap_or(100).clamp(1, limits::PAGE_ITEMS_MAX)
    }
}

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
