//! What operators and tools read: `/metrics` (Prometheus) and `/openapi.json`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::{ApiError, AppState, OPENAPI_JSON};

/// The operations routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

async fn openapi() -> Result<Response, ApiError> {
    Ok(([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response())
}

async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let body = s.metrics.render(s.mempool.len() as u64);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}
