//! GS1 Digital Link resolution: `GET /01/{gtin}[/22/…][/10/{lot}][/21/{serial}]`
//! answers a browser with the product's public page and a machine asking for
//! `application/linkset+json` with a linkset (RFC 9264) of what this node offers about
//! the item; `GET /v1/qr` draws a QR code (PNG or SVG) of a link.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use waybill_state::catalog;
use waybill_types::digital_link::DigitalLink;
use waybill_types::gs1::Gtin;

use crate::pages::percent_encode;
use crate::{ApiError, AppState};

/// `GET /01/…`: resolve a GS1 Digital Link.
pub(crate) async fn resolve(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path_q = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let dl = DigitalLink::parse(&format!("https://id.gs1.org{path_q}")).map_err(|e| {
        ApiError::bad_request(
            "bad_digital_link",
            format!("`{path_q}` is not a valid GS1 Digital Link: {e}"),
        )
    })?;
    let gtin: Gtin = dl
        .gtin()
        .ok_or_else(|| ApiError::bad_request("bad_digital_link", "the link names no GTIN (AI 01)"))?
        .parse()
        .map_err(|e: waybill_types::gs1::Gs1Error| {
            ApiError::bad_request("bad_gtin", e.to_string())
        })?;
    let snap = s.store.snapshot()?;
    let product = catalog::load_product(&snap, &gtin)?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_product",
            format!("product {gtin} is not registered on this consortium's ledger"),
        )
    })?;
    if let Some(l) = dl.lot() {
        catalog::load_lot(&snap, &gtin, l)?.ok_or_else(|| {
            ApiError::not_found(
                "unknown_lot",
                format!("lot {l} of product {gtin} is not registered"),
            )
        })?;
    }
    let canonical = dl.to_uri(None);
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let local_path = canonical.trim_start_matches("https://id.gs1.org");
    if accept.contains("application/linkset+json")
        || accept.contains("application/json") && !accept.contains("text/html")
    {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let base = format!("http://{host}");
        let trace_id = percent_encode(&canonical);
        let linkset = json!({ "linkset": [{
            "anchor": canonical,
            "https://gs1.org/voc/pip": [{ "href": format!("{base}{local_path}"), "title": format!("{} — product information", product.name), "type": "text/html", "hreflang": ["en"] }],
            "https://gs1.org/voc/defaultLink": [{ "href": format!("{base}{local_path}"), "title": product.name, "type": "text/html" }],
            "https://gs1.org/voc/traceability": [{ "href": format!("{base}/v1/trace/{trace_id}?direction=back"), "title": "Lineage (members sign the request)", "type": "application/json" }],
            "https://gs1.org/voc/epcis": [{ "href": format!("{base}/epcis/events?MATCH_anyEPC={trace_id}"), "title": "EPCIS events (members sign the request)", "type": "application/ld+json" }],
            "https://gs1.org/voc/masterData": [{ "href": format!("{base}/v1/products/{gtin}"), "title": "Product master data", "type": "application/json" }],
        }]});
        return Ok((
            [(header::CONTENT_TYPE, "application/linkset+json")],
            Json(linkset),
        )
            .into_response());
    }
    drop(snap);
    let base = crate::consumer::base_url(&headers);
    let wb = crate::consumer::clean_fingerprint(
        uri.query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|kv| kv.strip_prefix("wb=")),
    );
    let subject = canonical
        .split('?')
        .next()
        .unwrap_or(&canonical)
        .to_string();
    let local_path = subject.trim_start_matches("https://id.gs1.org").to_string();
    let html = tokio::task::spawn_blocking(move || {
        crate::consumer::page(&s, &subject, &local_path, &base, wb.as_deref())
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((
        [
            (header::VARY, "Accept"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Html(html),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QrQuery {
    link: String,
    format: Option<String>,
    scale: Option<u32>,
}

/// `GET /v1/qr?link=…&format=png|svg&scale=N`.
pub(crate) async fn qr(q: Result<Query<QrQuery>, QueryRejection>) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let opts = waybill_types::qr::QrOptions {
        scale: q.scale.unwrap_or(8),
        ..Default::default()
    };
    let bad = |e: waybill_types::qr::QrError| ApiError::bad_request("bad_qr", e.to_string());
    match q.format.as_deref().unwrap_or("png") {
        "png" => Ok((
            [(header::CONTENT_TYPE, "image/png")],
            waybill_types::qr::png(&q.link, &opts).map_err(bad)?,
        )
            .into_response()),
        "svg" => Ok((
            [(header::CONTENT_TYPE, "image/svg+xml")],
            waybill_types::qr::svg(&q.link, &opts).map_err(bad)?,
        )
            .into_response()),
        other => Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_format",
            message: format!("format must be png or svg, got `{other}`"),
        }),
    }
}
