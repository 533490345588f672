//! GS1 Digital Link resolution (GS1-Conformant Resolver behaviour) for the primary
//! keys this ledger knows: `GET /01/{gtin}[/22/…][/10/{lot}][/21/{serial}]` (trade
//! items), `/00/{sscc}` (logistic units), `/414/{gln}[/254/…]` (locations) and
//! `/8004/{giai}` (assets).
//!
//! - A link is parsed with GS1's rules ([`parse_link`]): a GTIN-8, -12 or -13 is
//!   padded to 14 digits; values are percent-decoded as
//!   [`waybill_gs1::digital_link::uri_unescape`] does; an unknown AI is refused by
//!   name.
//! - An item the ledger does not know (a product, lot or location not registered; a
//!   serial, SSCC or GIAI that no event names) answers 404, whatever was asked.
//! - `linkType=all`, or an `Accept` that asks for `application/linkset+json` (or JSON
//!   and not HTML), answers the item's linkset (RFC 9264); `linkType=gs1:X` (or the
//!   full `https://gs1.org/voc/X`) answers 307 to that link, or 404 naming the types
//!   there are; otherwise a trade item answers its consumer page, a location 307 to
//!   its master data, and an SSCC or GIAI (whose links all need a member's signature)
//!   its linkset.
//! - Every answer carries `Link` (the item's links and its linkset), `Vary: Accept`
//!   and `Access-Control-Allow-Origin: *`, so a page on any site can resolve links.
//!
//! `GET /v1/qr` draws a QR code (PNG or SVG) of a link.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use waybill_gs1::digital_link::DigitalLink;
use waybill_gs1::Gtin;
use waybill_state::catalog;

use crate::links::{canonical_item, check_known, parse_link};
use crate::pages::percent_encode;
use crate::{ApiError, AppState};

/// The vocabulary of GS1 link types; `gs1:pip` is `https://gs1.org/voc/pip`.
/// The Digital Link resolver's routes (one per primary key it resolves, open to
/// pages on any origin) and the QR code route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/01/{*link}", get(resolve))
        .route("/00/{*link}", get(resolve))
        .route("/414/{*link}", get(resolve))
        .route("/8004/{*link}", get(resolve))
        .route_layer(axum::middleware::map_response(cors))
        .route("/v1/qr", get(qr))
}

const GS1_VOC: &str = "https://gs1.org/voc/";

/// One link of an item's linkset.
struct Link {
    /// Link type, short form (`pip` for `https://gs1.org/voc/pip`).
    rel: &'static str,
    href: String,
    title: String,
    media_type: &'static str,
}

/// The links this node offers about an item, the default link first when there is
/// one.
fn links_of(
    s: &AppState,
    dl: &DigitalLink,
    anchor: &str,
    base: &str,
) -> Result<Vec<Link>, ApiError> {
    let (key, value) = dl.key().unwrap_or(("", ""));
    let local_path = anchor.trim_start_matches(waybill_gs1::digital_link::DEFAULT_STEM);
    let local_path = local_path.split('?').next().unwrap_or(local_path);
    let trace_id = percent_encode(anchor);
    let signed = |rel, href: String, title: &str, media_type| Link {
        rel,
        href,
        title: format!("{title} (members sign the request)"),
        media_type,
    };
    let mut links = match key {
        "01" => trade_item_links(s, value, &format!("{base}{local_path}"), base)?,
        "414" => ["defaultLink", "masterData"]
            .into_iter()
            .map(|rel| Link {
                rel,
                href: format!("{base}/v1/locations/{value}"),
                title: "Location master data".into(),
                media_type: "application/json",
            })
            .collect(),
        _ => Vec::new(),
    };
    if key != "414" {
        links.push(signed(
            "traceability",
            format!("{base}/v1/trace/{trace_id}?direction=back"),
            "Lineage",
            "application/json",
        ));
    }
    links.push(signed(
        "epcis",
        format!("{base}/epcis/events?MATCH_anyEPC={trace_id}"),
        "EPCIS events",
        "application/ld+json",
    ));
    Ok(links)
}

/// A trade item's own links: its page (the default) and its product's master data.
fn trade_item_links(
    s: &AppState,
    gtin: &str,
    page: &str,
    base: &str,
) -> Result<Vec<Link>, ApiError> {
    let gtin: Gtin = gtin
        .parse()
        .map_err(|e: waybill_gs1::Gs1Error| ApiError::bad_request("bad_gtin", e.to_string()))?;
    let name = catalog::load_product(&s.store.snapshot()?, &gtin)?
        .map(|p| p.name)
        .unwrap_or_default();
    Ok(vec![
        Link {
            rel: "defaultLink",
            href: page.to_string(),
            title: name.clone(),
            media_type: "text/html",
        },
        Link {
            rel: "pip",
            href: page.to_string(),
            title: format!("{name} — product information and history"),
            media_type: "text/html",
        },
        Link {
            rel: "masterData",
            href: format!("{base}/v1/products/{gtin}"),
            title: "Product master data".into(),
            media_type: "application/json",
        },
    ])
}

/// The linkset document (RFC 9264 §4.2, GS1 resolver profile).
fn linkset(anchor: &str, links: &[Link]) -> Value {
    let mut set = Map::new();
    set.insert("anchor".into(), json!(anchor));
    for l in links {
        let entry = json!({ "href": l.href, "title": l.title, "type": l.media_type });
        match set
            .entry(format!("{GS1_VOC}{}", l.rel))
            .or_insert_with(|| json!([]))
        {
            Value::Array(a) => a.push(entry),
            other => *other = json!([entry]),
        }
    }
    json!({ "linkset": [Value::Object(set)] })
}

/// The `Link` header: every link, and the linkset itself.
fn link_header(links: &[Link], linkset_href: &str) -> Option<HeaderValue> {
    let mut parts: Vec<String> = links
        .iter()
        .map(|l| {
            format!(
                "<{}>; rel=\"{GS1_VOC}{}\"; type=\"{}\"",
                l.href, l.rel, l.media_type
            )
        })
        .collect();
    parts.push(format!(
        "<{linkset_href}>; rel=\"linkset\"; type=\"application/linkset+json\""
    ));
    HeaderValue::from_str(&parts.join(", ")).ok()
}

/// `linkType` as a short GS1 type (`gs1:pip` and `https://gs1.org/voc/pip` are `pip`);
/// `all` stays `all`.
fn short_link_type(t: &str) -> &str {
    t.strip_prefix("gs1:")
        .or_else(|| t.strip_prefix(GS1_VOC))
        .unwrap_or(t)
}

/// Does the client ask for the linkset rather than a page?
fn wants_linkset(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/linkset+json")
        || accept.contains("application/json") && !accept.contains("text/html")
}

/// `GET /01/…`, `/00/…`, `/414/…`, `/8004/…`: resolve a GS1 Digital Link.
pub(crate) async fn resolve(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path_q = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let dl = parse_link(&format!("https://id.gs1.org{path_q}"))?;
    check_known(&s, &dl)?;
    let anchor = canonical_item(&dl)?;
    let base = crate::consumer::base_url(&headers);
    let local_path = anchor
        .trim_start_matches(waybill_gs1::digital_link::DEFAULT_STEM)
        .to_string();
    let links = links_of(&s, &dl, &anchor, &base)?;
    let linkset_href = format!(
        "{base}{local_path}{}linkType=all",
        if local_path.contains('?') { "&" } else { "?" }
    );
    let wb = crate::consumer::clean_fingerprint(dl.attribute("wb"));
    let with_headers = |mut resp: Response| -> Response {
        let h = resp.headers_mut();
        if let Some(v) = link_header(&links, &linkset_href) {
            h.insert(header::LINK, v);
        }
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
        resp
    };
    let linkset_answer = || {
        (
            [(header::CONTENT_TYPE, "application/linkset+json")],
            linkset(&anchor, &links).to_string(),
        )
            .into_response()
    };
    let (key, _) = dl.key().unwrap_or(("", ""));
    match dl.attribute("linkType").map(short_link_type) {
        Some("all") => return Ok(with_headers(linkset_answer())),
        Some(t) => {
            let href = link_of_type(&links, t, &anchor, wb.as_deref())?;
            return Ok(with_headers(redirect(&href)?));
        }
        None => {}
    }
    if wants_linkset(&headers) || key == "00" || key == "8004" {
        return Ok(with_headers(linkset_answer()));
    }
    if key == "414" {
        let default = links
            .iter()
            .find(|l| l.rel == "defaultLink")
            .map(|l| l.href.clone())
            .unwrap_or_default();
        return Ok(with_headers(redirect(&default)?));
    }
    // A trade item: its consumer page.
    let subject = anchor.split('?').next().unwrap_or(&anchor).to_string();
    let page_path = subject
        .trim_start_matches(waybill_gs1::digital_link::DEFAULT_STEM)
        .to_string();
    let html = tokio::task::spawn_blocking(move || {
        crate::consumer::page(&s, &subject, &page_path, &base, wb.as_deref())
    })
    .await
    .map_err(ApiError::internal)??;
    let resp = crate::etag::tagged(&headers, "text/html; charset=utf-8", html.into_bytes());
    Ok(with_headers(resp))
}

/// Where `linkType=t` leads: the link of that type (a page link carries the scanned
/// consortium fingerprint `wb` on); 404 naming the types there are if none.
fn link_of_type(
    links: &[Link],
    t: &str,
    anchor: &str,
    wb: Option<&str>,
) -> Result<String, ApiError> {
    let Some(link) = links.iter().find(|l| l.rel == t) else {
        let there: Vec<String> = links.iter().map(|l| format!("gs1:{}", l.rel)).collect();
        return Err(ApiError::not_found(
            "no_such_link_type",
            format!(
                "{anchor} has no link of type `{t}`; it has {} (or linkType=all for the linkset)",
                there.join(", ")
            ),
        ));
    };
    let mut href = link.href.clone();
    if link.media_type == "text/html" {
        if let Some(w) = wb {
            href.push_str(if href.contains('?') { "&wb=" } else { "?wb=" });
            href.push_str(w);
        }
    }
    Ok(href)
}

/// A 307 to `href`.
fn redirect(href: &str) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(href).map_err(ApiError::internal)?;
    let mut resp = StatusCode::TEMPORARY_REDIRECT.into_response();
    resp.headers_mut().insert(header::LOCATION, location);
    Ok(resp)
}

/// Middleware for the resolver's routes: any page may resolve a link (and read why
/// one did not resolve).
pub(crate) async fn cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Link, Location"),
    );
    resp
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
    let opts = waybill_gs1::qr::QrOptions {
        scale: q.scale.unwrap_or(8),
        ..Default::default()
    };
    let bad = |e: waybill_gs1::qr::QrError| ApiError::bad_request("bad_qr", e.to_string());
    match q.format.as_deref().unwrap_or("png") {
        "png" => Ok((
            [(header::CONTENT_TYPE, "image/png")],
            waybill_gs1::qr::png(&q.link, &opts).map_err(bad)?,
        )
            .into_response()),
        "svg" => Ok((
            [(header::CONTENT_TYPE, "image/svg+xml")],
            waybill_gs1::qr::svg(&q.link, &opts).map_err(bad)?,
        )
            .into_response()),
        other => Err(ApiError::bad_request(
            "bad_format",
            format!("format must be png or svg, got `{other}`"),
        )),
    }
}
