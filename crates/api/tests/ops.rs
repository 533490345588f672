//! Operating a node over HTTP: liveness and readiness (`/healthz`, `/readyz`).

#[allow(dead_code)] // each test binary uses part of the fixtures
mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

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
