//! The API's one error type: 4xx with a stable machine code and a message that
//! says what to do; 5xx with a generic message, the cause logged.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code, e.g. `unknown_product`.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

impl ApiError {
    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }
    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code,
            message: message.into(),
        }
    }
    /// 500; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error answering a request");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; the node's log has the cause".into(),
        }
    }
}

impl ApiError {
    /// 503 `store_damaged`: a stored record could not be read or decoded. The cause is
    /// logged; the response is marked ([`StoreDamaged`]) so the app raises the
    /// tamper alert.
    pub fn store_damaged(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "a request found the store damaged");
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: STORE_DAMAGED,
            message: "the node's store is damaged; it stops serving and its operator is alerted. Ask another node of the consortium".into(),
        }
    }
}

/// The code of [`ApiError::store_damaged`].
pub const STORE_DAMAGED: &str = "store_damaged";

/// Marks a response that found the store damaged (read by the app's alert layer).
#[derive(Clone, Copy, Debug)]
pub struct StoreDamaged;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let damaged = self.code == STORE_DAMAGED;
        let mut r = (
            self.status,
            Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response();
        if damaged {
            r.extensions_mut().insert(StoreDamaged);
        }
        r
    }
}

impl From<waybill_store::StoreError> for ApiError {
    fn from(e: waybill_store::StoreError) -> Self {
        ApiError::store_damaged(e)
    }
}

impl From<waybill_state::StateReadError> for ApiError {
    fn from(e: waybill_state::StateReadError) -> Self {
        ApiError::store_damaged(e)
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as J;
        match r {
            J::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "body_too_large",
                message: format!(
                    "request body is over the limit of {} bytes",
                    waybill_types::limits::REQUEST_BODY_BYTES_MAX
                ),
            },
            J::MissingJsonContentType(_) => ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "unsupported_media_type",
                message: "send the body as JSON with `Content-Type: application/json`".into(),
            },
            other => ApiError::bad_request("malformed_json", other.body_text()),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request("bad_query", r.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad_request("bad_path", r.body_text())
    }
}
