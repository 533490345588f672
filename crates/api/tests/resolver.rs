//! The GS1 Digital Link resolver as a GS1-conformant client meets it: the keys it
//! resolves (GTIN, SSCC, GLN, GIAI), zero-suppressed GTINs, percent-decoding, unknown
//! AIs, unknown items (404 whatever was asked), `linkType`, the `Link` and `Vary`
//! headers and CORS. Requests go through `waybill_api::app(..)` with `oneshot`.

#[allow(dead_code)]
mod common;

use waybill_types::payload::{CaptureEpcis, RegisterLocation};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;
use waybill_types::{Payload, Role};

use common::{gtin, Answer, Fixture, Signer};

/// The producer's registered product: GTIN-14 `0` + a GTIN-13.
fn product_gtin() -> String {
    gtin("0690123400001")
}
/// The producer's pallet (an SSCC named by an event) and another one (named by none).
fn sscc(serial_ref: &str) -> String {
    waybill_gs1::with_check_digit(&format!("06901234{serial_ref}")).expect("17 digits")
}
/// An asset of the producer, as it appears in a link (`/` percent-encoded).
const GIAI: &str = "6901234TOOL%2F7";

struct Resolver {
    f: Fixture,
    gln: String,
}

async fn resolver() -> Resolver {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    let g = product_gtin();
    let gln = waybill_gs1::with_check_digit("690123400001").expect("12 digits");
    for p in [
        common::product(&g, "Navel oranges"),
        common::lot(&g, "L1"),
        common::lot(&g, "A/B-1"),
        Payload::RegisterLocation(RegisterLocation {
            gln: gln.parse().expect("GLN"),
            name: "Pujiang orchard".into(),
            kind: "farm".into(),
            address: "Pujiang".into(),
            country: "CN".into(),
            latitude: None,
            longitude: None,
        }),
    ] {
        let stx = f.admin1.sign(p);
        let id = f.submit_ok(&stx).await;
        f.commit();
        f.assert_applied(&id).await;
    }
    // One event names a serial item, a pallet and an asset.
    let doc = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-06T12:00:00.000Z",
        "epcisBody": { "eventList": [{
            "type": "ObjectEvent",
            "eventTime": "2026-11-02T08:00:00.000+08:00",
            "eventTimeZoneOffset": "+08:00",
            "action": "ADD",
            "epcList": [
                format!("https://id.gs1.org/01/{g}/21/S1"),
                format!("https://id.gs1.org/01/{g}/21/A%2FB"),
                format!("https://id.gs1.org/00/{}", sscc("000000001")),
                format!("https://id.gs1.org/8004/{GIAI}"),
            ],
            "bizStep": "commissioning",
            "disposition": "active",
        }]}
    });
    let stx = producer.sign(Payload::CaptureEpcis(CaptureEpcis {
        document: doc.to_string(),
    }));
    let id = f.submit_ok(&stx).await;
    f.commit();
    f.assert_applied(&id).await;
    Resolver { f, gln }
}

/// GET `uri` with `accept`; the answer and its headers.
async fn fetch(app: &Router, uri: &str, accept: &str) -> (Answer, HeaderMap) {
    fetch_from(app, "shop.example:8080", uri, accept).await
}

/// GET `uri` with `accept` from `host` (the `Host` header); the answer and its headers.
async fn fetch_from(app: &Router, host: &str, uri: &str, accept: &str) -> (Answer, HeaderMap) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::HOST, host)
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let headers = resp.headers().clone();
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII").to_string());
    (
        Answer {
            status,
            content_type,
            body,
        },
        headers,
    )
}

const HTML: &str = "text/html,application/xhtml+xml,*/*;q=0.8";
const LINKSET: &str = "application/linkset+json";

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .map(|v| v.to_str().expect("ASCII"))
        .unwrap_or_else(|| panic!("header {name} missing: {h:?}"))
}

#[tokio::test]
async fn trade_items_resolve_with_short_gtins_and_unknown_serials_are_404() {
    let r = resolver().await;
    let app = &r.f.app;
    let g = product_gtin();
    let g13 = &g[1..];

    // A GTIN-13 is padded to 14 digits: the linkset's anchor is canonical.
    let (a, h) = fetch(app, &format!("/01/{g13}/10/L1"), LINKSET).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.content_type.as_deref(), Some(LINKSET));
    let v = a.json();
    assert_eq!(
        v["linkset"][0]["anchor"],
        format!("https://id.gs1.org/01/{g}/10/L1")
    );
    assert!(v["linkset"][0]["https://gs1.org/voc/pip"].is_array(), "{v}");
    assert!(header(&h, "vary").contains("Accept"));
    assert_eq!(header(&h, "access-control-allow-origin"), "*");
    let link = header(&h, "link");
    assert!(
        link.contains("rel=\"linkset\"") && link.contains("rel=\"https://gs1.org/voc/pip\""),
        "{link}"
    );
    // GTIN-8 and GTIN-12 are accepted and padded (these products are not registered).
    for (short, full) in [
        ("12345670", "00000012345670"),
        ("614141000036", "00614141000036"),
    ] {
        let (a, _) = fetch(app, &format!("/01/{short}"), HTML).await;
        let msg = a.assert_error(StatusCode::NOT_FOUND, "unknown_product");
        assert!(msg.contains(full), "{msg}");
    }

    // A browser gets the page of a known serial; an unknown serial is 404, not a page.
    let (a, h) = fetch(app, &format!("/01/{g}/21/S1"), HTML).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(a.text().contains("Navel oranges"));
    assert!(header(&h, "vary").contains("Accept"));
    assert_eq!(header(&h, "access-control-allow-origin"), "*");
    for accept in [HTML, LINKSET] {
        let (a, h) = fetch(app, &format!("/01/{g}/21/NOT-MADE"), accept).await;
        let msg = a.assert_error(StatusCode::NOT_FOUND, "unknown_item");
        assert!(msg.contains("NOT-MADE"), "{msg}");
        assert_eq!(
            header(&h, "access-control-allow-origin"),
            "*",
            "a page elsewhere can read why"
        );
    }
    // The same holds for the proof bundle of that serial.
    common::get(app, &format!("/v1/proofs/01/{g}/21/NOT-MADE"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_item");

    values_are_percent_decoded_once_and_unknown_ais_refused(app, &g).await;
}

async fn values_are_percent_decoded_once_and_unknown_ais_refused(app: &Router, g: &str) {
    // Percent-decoding: `%2F` in a serial or lot is a slash in the value, decoded once.
    let (a, _) = fetch(app, &format!("/01/{g}/21/A%2FB"), LINKSET).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(
        a.json()["linkset"][0]["anchor"],
        format!("https://id.gs1.org/01/{g}/21/A%2FB")
    );
    let (a, _) = fetch(app, &format!("/01/{g}/10/A%2FB-1"), LINKSET).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = common::get(app, &format!("/v1/proofs/01/{g}/21/A%2FB")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(
        a.json()["subject"],
        format!("https://id.gs1.org/01/{g}/21/A%2FB"),
        "the path form is decoded once, like the resolver"
    );
    // `%` not followed by two hex digits stays as it is (uri_unescape): a serial `5%`.
    let (a, _) = fetch(app, &format!("/01/{g}/21/5%"), LINKSET).await;
    a.assert_error(StatusCode::NOT_FOUND, "unknown_item");
    // Bytes that are not UTF-8 after decoding are refused by name.
    let (a, _) = fetch(app, &format!("/01/{g}/21/%FF"), LINKSET).await;
    let msg = a.assert_error(StatusCode::BAD_REQUEST, "bad_digital_link");
    assert!(msg.contains("UTF-8"), "{msg}");

    // Unknown AIs are refused by name, in the path and in the query.
    let (a, _) = fetch(app, &format!("/01/{g}/23/X"), HTML).await;
    let msg = a.assert_error(StatusCode::BAD_REQUEST, "bad_digital_link");
    assert!(msg.contains("`23`"), "{msg}");
    let (a, _) = fetch(app, &format!("/01/{g}?9876=X"), HTML).await;
    let msg = a.assert_error(StatusCode::BAD_REQUEST, "bad_digital_link");
    assert!(msg.contains("9876"), "{msg}");
}

#[tokio::test]
async fn sscc_gln_and_giai_resolve_or_answer_404() {
    let r = resolver().await;
    let app = &r.f.app;

    // SSCC: named by an event, its linkset (its links need a signature, so no page).
    for accept in [HTML, LINKSET] {
        let (a, h) = fetch(app, &format!("/00/{}", sscc("000000001")), accept).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(a.content_type.as_deref(), Some(LINKSET));
        let v = a.json();
        assert_eq!(
            v["linkset"][0]["anchor"],
            format!("https://id.gs1.org/00/{}", sscc("000000001"))
        );
        assert!(
            v["linkset"][0]["https://gs1.org/voc/traceability"].is_array(),
            "{v}"
        );
        assert_eq!(header(&h, "access-control-allow-origin"), "*");
        assert!(header(&h, "link").contains("rel=\"linkset\""));
    }
    let unknown = sscc("000000002");
    let (a, _) = fetch(app, &format!("/00/{unknown}"), LINKSET).await;
    let msg = a.assert_error(StatusCode::NOT_FOUND, "unknown_sscc");
    assert!(msg.contains(&unknown), "{msg}");
    let mut bad_check = unknown.clone();
    let last = bad_check.pop().expect("digit");
    bad_check.push(if last == '9' {
        '0'
    } else {
        char::from(last as u8 + 1)
    });
    let (a, _) = fetch(app, &format!("/00/{bad_check}"), LINKSET).await;
    a.assert_error(StatusCode::BAD_REQUEST, "bad_digital_link");

    // GIAI, with a percent-encoded character.
    let (a, _) = fetch(app, &format!("/8004/{GIAI}"), LINKSET).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(
        a.json()["linkset"][0]["anchor"],
        format!("https://id.gs1.org/8004/{GIAI}")
    );
    let (a, _) = fetch(app, "/8004/6901234NOPE", HTML).await;
    let msg = a.assert_error(StatusCode::NOT_FOUND, "unknown_giai");
    assert!(msg.contains("6901234NOPE"), "{msg}");

    // GLN: a registered location; a browser goes to its master data.
    let (a, h) = fetch(app, &format!("/414/{}", r.gln), HTML).await;
    assert_eq!(a.status, StatusCode::TEMPORARY_REDIRECT, "{}", a.text());
    assert_eq!(
        header(&h, "location"),
        format!("http://shop.example:8080/v1/locations/{}", r.gln)
    );
    let (a, _) = fetch(app, &format!("/414/{}", r.gln), LINKSET).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.json()["linkset"][0]["https://gs1.org/voc/masterData"].is_array());
    let other = waybill_gs1::with_check_digit("690123400099").expect("GLN");
    let (a, _) = fetch(app, &format!("/414/{other}"), HTML).await;
    a.assert_error(StatusCode::NOT_FOUND, "unknown_location");
}

#[tokio::test]
async fn link_type_redirects_to_one_link_or_answers_the_linkset() {
    let r = resolver().await;
    let app = &r.f.app;
    let g = product_gtin();

    // One link of the type: 307 to it, with Link and Vary.
    let (a, h) = fetch(app, &format!("/01/{g}?linkType=gs1:masterData"), HTML).await;
    assert_eq!(a.status, StatusCode::TEMPORARY_REDIRECT, "{}", a.text());
    assert_eq!(
        header(&h, "location"),
        format!("http://shop.example:8080/v1/products/{g}")
    );
    assert!(header(&h, "link").contains("rel=\"linkset\""));
    assert!(header(&h, "vary").contains("Accept"));
    assert_eq!(header(&h, "access-control-allow-origin"), "*");
    // The full URI of the type works the same.
    let (a, h) = fetch(
        app,
        &format!("/01/{g}/10/L1?linkType=https%3A%2F%2Fgs1.org%2Fvoc%2Fpip"),
        HTML,
    )
    .await;
    assert_eq!(a.status, StatusCode::TEMPORARY_REDIRECT, "{}", a.text());
    assert_eq!(
        header(&h, "location"),
        format!("http://shop.example:8080/01/{g}/10/L1")
    );
    // linkType=all: the linkset, whatever the Accept header.
    let (a, _) = fetch(app, &format!("/01/{g}?linkType=all"), HTML).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.content_type.as_deref(), Some(LINKSET));
    // A type the item does not have: 404 naming those it has.
    let (a, _) = fetch(app, &format!("/01/{g}?linkType=gs1:recipeInfo"), HTML).await;
    let msg = a.assert_error(StatusCode::NOT_FOUND, "no_such_link_type");
    assert!(
        msg.contains("recipeInfo") && msg.contains("gs1:pip"),
        "{msg}"
    );
    // Unknown items are 404 before any link type is considered.
    let (a, _) = fetch(app, &format!("/01/{g}/21/NOT-MADE?linkType=all"), HTML).await;
    a.assert_error(StatusCode::NOT_FOUND, "unknown_item");
}

/// A page's QR code encodes its link on this node, which starts with the request's
/// `Host`: a host so long that the link does not fit a QR code is refused with an
/// error that says so (never a page with an empty QR code); a host that fits draws it.
#[tokio::test]
async fn a_page_whose_link_cannot_be_a_qr_code_is_refused_naming_the_cause() {
    let r = resolver().await;
    let app = &r.f.app;
    let g = product_gtin();
    let long_host = format!("{}.example", "a".repeat(waybill_gs1::qr::QR_TEXT_BYTES_MAX));
    for uri in [format!("/01/{g}/21/S1"), "/labels".to_string()] {
        let (a, _) = fetch_from(app, "shop.example:8080", &uri, HTML).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text());
        assert!(a.text().contains("<svg"), "{uri}: the QR code is drawn");
        let (a, _) = fetch_from(app, &long_host, &uri, HTML).await;
        let msg = a.assert_error(StatusCode::BAD_REQUEST, "link_too_long");
        assert!(
            msg.contains("Host") && msg.contains(&waybill_gs1::qr::QR_TEXT_BYTES_MAX.to_string()),
            "{uri}: names the Host header and the limit: {msg}"
        );
    }
}
