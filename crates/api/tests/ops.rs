//! Operating a node over HTTP: liveness and readiness (`/healthz`, `/readyz`), the
//! Prometheus exposition at `/metrics` (base units, route templates, reasons, the
//! format's rules), and gzip-compressed answers.

#[allow(dead_code)] // each test binary uses part of the fixtures
mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;
use waybill_types::Role;

#[tokio::test]
async fn healthz_is_alive_and_readyz_names_each_failing_condition() {
    let f = Fixture::new();
    let a = get(&f.app, "/healthz").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["status"], "alive");

    // The test kit's ledger runs no consensus and skipped the start-up verification.
    let a = get(&f.app, "/readyz").await;
    let detail = a.assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    let v = a.json();
    assert_eq!(
        v["failing"],
        json!(["store_verified", "consensus_running", "caught_up"]),
        "{v}"
    );
    for c in ["store_verified", "consensus_running", "caught_up"] {
        assert!(detail.contains(c), "the detail names {c}: {detail}");
    }
    assert_eq!(v["checks"].as_array().map(Vec::len), Some(3), "{v}");

    f.shared.readiness.set_store_verified();
    f.shared
        .readiness
        .hold("demo_loaded", "the demo data is loading")
        .expect("one hold");
    let v = get(&f.app, "/readyz").await.json();
    assert_eq!(
        v["failing"],
        json!(["consensus_running", "caught_up", "demo_loaded"]),
        "{v}"
    );
    assert!(
        v["detail"]
            .as_str()
            .is_some_and(|d| d.contains("the demo data is loading")),
        "{v}"
    );
    f.shared.readiness.release("demo_loaded");
    let v = get(&f.app, "/readyz").await.json();
    assert_eq!(
        v["failing"],
        json!(["consensus_running", "caught_up"]),
        "{v}"
    );

    // A tamper alert makes the store fail its check.
    f.shared.raise_tamper_alert("a test alert".into());
    let v = get(&f.app, "/readyz").await.json();
    assert_eq!(v["failing"][0], "store_verified", "{v}");
    assert!(v["detail"]
        .as_str()
        .is_some_and(|d| d.contains("a test alert")));
    assert_eq!(get(&f.app, "/healthz").await.status, StatusCode::OK);
}

/// One sample line: family name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parse a quoted label value with the format's escapes; the rest of the input.
fn label_value(s: &str) -> Result<(String, &str), String> {
    let s = s.strip_prefix('"').ok_or("label value not quoted")?;
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                other => return Err(format!("bad escape {other:?}")),
            },
            '\n' => return Err("raw newline in a label value".into()),
            c => out.push(c),
        }
    }
    Err("unterminated label value".into())
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..end];
    let mut rest = &line[end..];
    let mut labels = BTreeMap::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        while !rest.starts_with('}') {
            let eq = rest.find('=').ok_or("label without =")?;
            let key = &rest[..eq];
            if !valid_name(key) {
                return Err(format!("bad label name {key}"));
            }
            let (v, r) = label_value(&rest[eq + 1..])?;
            if labels.insert(key.to_string(), v).is_some() {
                return Err(format!("label {key} twice"));
            }
            rest = r.strip_prefix(',').unwrap_or(r);
        }
        rest = &rest[1..];
    }
    let value = rest.trim();
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().map_err(|_| format!("bad value {v}"))?,
    };
    Ok((name.to_string(), labels, value))
}

/// The exposition format's rules that matter to scrapers and `promtool check
/// metrics`: HELP and TYPE before a family's samples, valid names, `_total` on
/// counters only, base units (no `_ms`), escaped label values, no series twice,
/// cumulative histogram buckets ending at `+Inf` = `_count`. Returns the samples.
fn check_exposition(text: &str) -> Vec<Sample> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps = BTreeSet::new();
    let mut samples = Vec::new();
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# HELP ") {
            let (name, help) = h.split_once(' ').expect("HELP has text");
            assert!(!help.trim().is_empty(), "{line}");
            assert!(helps.insert(name.to_string()), "HELP twice: {line}");
            continue;
        }
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').expect("TYPE has a kind");
            assert!(helps.contains(name), "HELP before TYPE: {name}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(valid_name(name), "{name}");
            assert_eq!(
                kind == "counter",
                name.ends_with("_total"),
                "_total on counters only: {name}"
            );
            assert!(
                !name.contains("_ms") && !name.contains("millis"),
                "base units: {name}"
            );
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "{line}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line `{line}`"
        );
        let s = parse_sample(line).unwrap_or_else(|e| panic!("{e}: `{line}`"));
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suf| {
                s.0.strip_suffix(suf)
                    .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(&s.0);
        assert!(types.contains_key(family), "TYPE before samples: {line}");
        assert!(
            seen.insert((s.0.clone(), s.1.clone())),
            "series twice: {line}"
        );
        samples.push(s);
    }
    check_histograms(&types, &samples);
    samples
}

fn check_histograms(types: &BTreeMap<String, String>, samples: &[Sample]) {
    for (family, _) in types.iter().filter(|(_, k)| *k == "histogram") {
        let mut by_series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
        for (name, labels, v) in samples.iter().filter(|s| s.0 == format!("{family}_bucket")) {
            let mut rest = labels.clone();
            let le = rest.remove("le").expect("le on buckets");
            let le: f64 = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("le")
            };
            by_series.entry(rest).or_default().push((le, *v));
            assert!(name.ends_with("_bucket"));
        }
        for (labels, buckets) in by_series {
            assert!(
                buckets
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                "{family} {labels:?}"
            );
            let (le, inf) = *buckets.last().expect("buckets");
            assert!(le.is_infinite(), "{family} ends with +Inf");
            let count = samples
                .iter()
                .find(|s| s.0 == format!("{family}_count") && s.1 == labels)
                .expect("_count");
            assert_eq!(count.2, inf, "{family} +Inf bucket is the count");
        }
    }
}

fn sample<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|(n, l, _)| {
        n == name
            && labels
                .iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
    })
}

#[tokio::test]
async fn metrics_use_base_units_route_templates_and_reason_labels() {
    let mut f = Fixture::new();
    // A refused submission, a rejected transaction, a read of a route with a
    // parameter, and a path no route matches.
    let a = post_json(&f.app, "/v1/tx", &json!({ "tx": "not base64!" })).await;
    a.assert_error(StatusCode::BAD_REQUEST, "malformed_tx");
    let stranger = Signer::new("stranger");
    let stx = f
        .admin2
        .sign(member(stranger.public(), "Stranger", &[Role::Producer]));
    let id = f.submit_ok(&stx).await;
    f.commit();
    f.assert_rejected(&id, "role_not_allowed").await;
    let g = gtin("0690123400001");
    get(&f.app, &format!("/v1/products/{g}")).await;
    get(&f.app, "/no/such/route").await;

    let a = get(&f.app, "/metrics").await;
    assert_eq!(a.status, StatusCode::OK);
    let text = a.text();
    let samples = check_exposition(&text);
    let value = |name: &str, labels: &[(&str, &str)]| {
        sample(&samples, name, labels)
            .unwrap_or_else(|| panic!("{name} {labels:?} in:\n{text}"))
            .2
    };
    let products = [
        ("route", "/v1/products/{gtin}"),
        ("method", "GET"),
        ("status", "404"),
    ];
    assert_eq!(value("waybill_http_requests_total", &products), 1.0);
    assert_eq!(
        value("waybill_http_request_duration_seconds_count", &products),
        1.0
    );
    assert!(!text.contains(&g), "never the raw path: {text}");
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(value("waybill_http_requests_total", &unmatched), 1.0);
    assert!(!text.contains("/no/such/route"));
    assert_eq!(
        value(
            "waybill_http_requests_total",
            &[("route", "/v1/tx"), ("method", "POST"), ("status", "202")]
        ),
        1.0
    );
    assert_eq!(
        value(
            "waybill_txs_refused_at_submit_total",
            &[("reason", "malformed_tx")]
        ),
        1.0
    );
    assert_eq!(
        value(
            "waybill_txs_rejected_total",
            &[("reason", "role_not_allowed")]
        ),
        1.0
    );
    build_commit_and_process_families(&samples);
}

/// The build, the block commits and the process families, in `samples`.
fn build_commit_and_process_families(samples: &[Sample]) {
    let value = |name: &str, labels: &[(&str, &str)]| {
        sample(samples, name, labels)
            .unwrap_or_else(|| panic!("{name} {labels:?} in the samples"))
            .2
    };
    assert_eq!(
        value(
            "waybill_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert_eq!(value("waybill_block_commit_seconds_count", &[]), 1.0);
    // CPU time is counted in clock ticks: a short test may not have used one yet.
    assert!(value("process_cpu_seconds_total", &[]) >= 0.0);
    for family in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(value(family, &[]) > 0.0, "{family}");
    }
}

/// GET `uri` with `headers`; the response's status, headers and raw body.
async fn get_with(
    app: &axum::Router,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut b = Request::builder().method(Method::GET).uri(uri);
    for (k, v) in headers {
        b = b.header(k, *v);
    }
    let resp = app
        .clone()
        .oneshot(b.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

/// Inflate a gzip member (header of 10 bytes, no optional fields; CRC and size
/// checked).
pub fn gunzip(z: &[u8]) -> Vec<u8> {
    assert_eq!(&z[..4], &[0x1f, 0x8b, 8, 0], "gzip, deflate, no flags");
    let n = z.len();
    let raw = miniz_oxide::inflate::decompress_to_vec(&z[10..n - 8]).expect("deflate stream");
    assert_eq!(
        &z[n - 8..n - 4],
        &crc32fast::hash(&raw).to_le_bytes(),
        "CRC-32"
    );
    assert_eq!(&z[n - 4..], &(raw.len() as u32).to_le_bytes(), "ISIZE");
    raw
}

#[tokio::test]
async fn answers_are_gzipped_only_for_clients_that_accept_it() {
    let f = Fixture::new();
    let (status, h, plain) = get_with(&f.app, "/openapi.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(h[header::VARY], "Accept-Encoding");
    let (status, h, zipped) = get_with(
        &f.app,
        "/openapi.json",
        &[(header::ACCEPT_ENCODING, "br, gzip;q=0.8")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
    assert_eq!(h[header::VARY], "Accept-Encoding");
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    assert!(
        zipped.len() * 3 < plain.len(),
        "{} → {}",
        plain.len(),
        zipped.len()
    );
    assert_eq!(gunzip(&zipped), plain, "the same document");
    // Refused by quality zero; small answers and problem documents of a few bytes
    // are sent as they are.
    let (_, h, _) = get_with(
        &f.app,
        "/openapi.json",
        &[(header::ACCEPT_ENCODING, "gzip;q=0")],
    )
    .await;
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    let (status, h, body) =
        get_with(&f.app, "/healthz", &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    let v: Value = serde_json::from_slice(&body).expect("plain JSON");
    assert_eq!(v["status"], "alive");
}
