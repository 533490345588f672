//! GS1 Digital Link resolution: `GET /01/{gtin}[/22/…][/10/{lot}][/21/{serial}]`
//! answers a browser with the product's public page and a machine asking for
//! `application/linkset+json` with a linkset (RFC 9264) of what this node offers about
//! the item; `GET /v1/qr` draws a QR code (PNG or SVG) of a link.

use std::fmt::Write as _;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use waybill_state::{catalog, credentials, identity};
use waybill_types::digital_link::DigitalLink;
use waybill_types::gs1::Gtin;

use crate::pages::{esc, percent_encode};
use crate::{now_ms, ApiError, AppState};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:42rem;margin:0 auto;padding:1rem;line-height:1.5;color:#1d2a1d;font-size:1.05rem}\
h1{color:#c25e00;font-size:1.5rem;margin:.2rem 0}dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem .8rem}dt{color:#667}dd{margin:0;overflow-wrap:anywhere}\
.card{border:1px solid #e3e3e3;border-radius:.6rem;padding:.6rem 1rem;margin:.8rem 0}.muted{color:#667;font-size:.9rem}.qr svg{width:9rem;height:9rem}\
code{overflow-wrap:anywhere;font-size:.85rem}ul{padding-left:1.2rem}";

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
    let lot = match dl.lot() {
        Some(l) => Some(catalog::load_lot(&snap, &gtin, l)?.ok_or_else(|| {
            ApiError::not_found(
                "unknown_lot",
                format!("lot {l} of product {gtin} is not registered"),
            )
        })?),
        None => None,
    };
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
    let org = identity::load_org(&snap, &product.owner)?;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>\
<title>{name}</title><style>{STYLE}</style></head><body><p class=muted>Waybill · {chain}</p><h1>{name}</h1><p>{brand} · {cat} · origin {cc}</p>\
<div class=card><dl><dt>GTIN</dt><dd>{gtin}</dd>",
        name = esc(&product.name),
        chain = esc(s.chain_id()),
        brand = esc(&product.brand),
        cat = esc(&product.category),
        cc = esc(&product.origin_country),
    );
    if let Some(l) = dl.lot() {
        let _ = write!(h, "<dt>Lot</dt><dd>{}</dd>", esc(l));
    }
    if let Some(sr) = dl.serial() {
        let _ = write!(h, "<dt>Serial</dt><dd>{}</dd>", esc(sr));
    }
    let _ = write!(
        h,
        "<dt>Made by</dt><dd>{}</dd></dl></div>",
        esc(org
            .as_ref()
            .map(|o| o.name.as_str())
            .unwrap_or(product.owner.as_str()))
    );
    if let Some(l) = &lot {
        let origin = match &l.origin_gln {
            Some(g) => catalog::load_location(&snap, g)?,
            None => None,
        };
        let _ = write!(h, "<div class=card><h2>Lot {}</h2><dl><dt>Harvested / made</dt><dd>{}</dd><dt>Quantity</dt><dd>{} {}</dd>", esc(&l.lot), esc(&l.produced_on), l.quantity, esc(&l.unit));
        if let Some(o) = origin {
            let coords = match (&o.latitude, &o.longitude) {
                (Some(a), Some(b)) => format!(" <span class=muted>({a}, {b})</span>"),
                _ => String::new(),
            };
            let _ = write!(
                h,
                "<dt>Origin</dt><dd>{} — {}{}</dd>",
                esc(&o.name),
                esc(&o.address),
                coords
            );
        }
        if !l.claims.is_empty() {
            let _ = write!(h, "<dt>Claims</dt><dd>{}</dd>", esc(&l.claims.join(", ")));
        }
        h.push_str("</dl>");
        if !l.inputs.is_empty() {
            h.push_str("<h3>Inputs</h3><ul>");
            for i in &l.inputs {
                let _ = write!(
                    h,
                    "<li>{}: {} {} {}</li>",
                    esc(&i.kind),
                    esc(&i.name),
                    esc(&i.amount),
                    i.applied_on
                        .as_deref()
                        .map(|d| format!("<span class=muted>({})</span>", esc(d)))
                        .unwrap_or_default()
                );
            }
            h.push_str("</ul>");
        }
        if !l.raw_materials.is_empty() {
            h.push_str("<h3>Made from</h3><ul>");
            for r in &l.raw_materials {
                let _ = write!(
                    h,
                    "<li><a href=/01/{g}/10/{lp}>lot {l} of {g}</a></li>",
                    g = r.gtin,
                    lp = percent_encode(&r.lot),
                    l = esc(&r.lot)
                );
            }
            h.push_str("</ul>");
        }
        h.push_str("</div>");
    }
    // The producer's qualifications, with today's status.
    let today = credentials::date_of_ms(now_ms());
    let prefix = waybill_state::keys::qualifications_of(&product.owner);
    let quals = snap.scan_prefix(&prefix, 50)?;
    if !quals.is_empty() {
        h.push_str("<div class=card><h2>Certificates</h2><ul>");
        for (k, v) in quals {
            let q: credentials::Qualification = waybill_state::decode_record(&k, &v)?;
            let _ = write!(
                h,
                "<li><b>{kind}</b> {num} — {issuer}, {from} to {to} <span class=muted>({status}; verified by {by})</span></li>",
                kind = esc(&q.kind),
                num = esc(&q.number),
                issuer = esc(&q.issuer),
                from = esc(&q.valid_from),
                to = esc(&q.valid_to),
                status = q.status_on(&today),
                by = esc(q.verified_by_org.as_str())
            );
        }
        h.push_str("</ul></div>");
    }
    // The QR code's link carries the consortium fingerprint (`wb`): the trust root a
    // phone checks proofs against (docs/PROOFS.md).
    let qr_link = format!(
        "{canonical}?wb={}",
        waybill_types::proof::fingerprint(&s.genesis)
    );
    let qr = waybill_types::qr::svg(&qr_link, &waybill_types::qr::QrOptions::default())
        .unwrap_or_default();
    let _ = write!(
        h,
        "<div class=card qr><div class=qr>{qr}</div><p class=muted>GS1 Digital Link <code>{c}</code></p><p class=muted><a href='/v1/proofs/{pl}'>Proof bundle</a> — check it offline with <code>waybill verify-proof</code></p></div>\
<p class=muted>Members of the consortium see the full lineage at <code>/v1/trace/…</code> (signed requests). <a href='{lp}' type=application/linkset+json>Linkset</a></p></body></html>",
        c = esc(&qr_link),
        lp = esc(local_path),
        pl = esc(local_path.trim_start_matches('/')),
    );
    Ok(([(header::VARY, "Accept")], Html(h)).into_response())
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
