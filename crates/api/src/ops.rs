//! What operators and tools read: `/healthz` (the process answers), `/readyz` (the
//! node is ready to serve: `waybill_node::readiness`), `/metrics` (Prometheus) and
//! `/openapi.json`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Map, Value};

use crate::metrics::HttpMetrics;
use crate::{openapi_document, ApiError, AppState};

/// The operations routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

/// `GET /healthz`: 200 while the process serves requests, whatever its state.
async fn healthz() -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "status": "alive" })))
}

/// `GET /readyz`: 200 with every check when the node is ready; else 503
/// `not_ready`, naming the conditions that fail, with every check.
async fn readyz(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let checks = s.readiness_checks();
    let listed = serde_json::to_value(&checks).map_err(ApiError::internal)?;
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{} ({})", c.condition, c.detail))
        .collect();
    if failing.is_empty() {
        return Ok(Json(json!({ "status": "ready", "checks": listed })));
    }
    let mut ext = Map::new();
    ext.insert(
        "failing".into(),
        json!(checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.condition)
            .collect::<Vec<_>>()),
    );
    ext.insert("checks".into(), listed);
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        format!("the node is not ready: {}", failing.join("; ")),
    )
    .with_extensions(ext))
}

async fn openapi() -> Result<Response, ApiError> {
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        openapi_document(),
    )
        .into_response())
}

async fn metrics(
    State(s): State<AppState>,
    Extension(http): Extension<Arc<HttpMetrics>>,
) -> Result<Response, ApiError> {
    let mut body = s.metrics.render(s.mempool.len() as u64);
    http.render(&mut body);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}
