//! The API's one error type and its body: every error answer is an RFC 9457 problem
//! document (`application/problem+json`):
//!
//! ```json
//! {"type": "about:blank", "title": "Not Found", "status": 404,
//!  "detail": "product 06901234000016 is not registered", "code": "unknown_product"}
//! ```
//!
//! `code` is our stable machine code (an extension member); `detail` says what failed
//! and what to do. 4xx answers name the problem; 5xx answers carry a generic detail,
//! the cause logged. Errors the HTTP stack makes itself (axum's rejections, hyper's
//! automatic answers) are turned into the same shape by [`ensure_problem`] and
//! `server`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// The media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Most bytes of a non-problem error body [`ensure_problem`] reads to quote it as the
/// detail (axum's rejections are one line).
const FOREIGN_ERROR_BODY_BYTES_MAX: usize = 16 * 1024;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code, e.g. `unknown_product`.
    pub code: &'static str,
    /// Human message: what failed and what to do (the problem's `detail`).
    pub message: String,
    /// Extension members of the problem document beyond `code` (e.g. EPCIS
    /// validation's `problems`); they never replace a standard member.
    pub extensions: Option<Map<String, Value>>,
}

impl ApiError {
    /// `status` with `code`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            extensions: None,
        }
    }
    /// This error with extension members in its problem document.
    #[must_use]
    pub fn with_extensions(mut self, extensions: Map<String, Value>) -> ApiError {
        self.extensions = Some(extensions);
        self
    }
    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 500; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error answering a request");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the node's log has the cause",
        )
    }
}

/// The problem type of a code: the EPCIS 2.0 REST binding's exception types for the
/// codes only its capture interface answers, `about:blank` (the status says it all)
/// for the rest; and the matching title.
fn problem_type(code: &str, status: StatusCode) -> (&'static str, &'static str) {
    match code {
        "invalid_epcis" => (
            "epcisException:ValidationException",
            "The EPCIS document is not valid",
        ),
        "document_too_large" | "too_many_events" => (
            "epcisException:CaptureLimitExceededException",
            "The EPCIS document is over a capture limit",
        ),
        _ => ("about:blank", status.canonical_reason().unwrap_or("Error")),
    }
}

/// An RFC 9457 problem document: `type`, `title`, `status`, `detail`, our `code`, and
/// `extensions` (members such as EPCIS validation's `problems`).
pub fn problem_body(
    status: StatusCode,
    code: &str,
    detail: &str,
    extensions: Option<Map<String, Value>>,
) -> Value {
    let (kind, title) = problem_type(code, status);
    let mut doc = json!({
        "type": kind,
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    if let (Value::Object(m), Some(ext)) = (&mut doc, extensions) {
        for (k, v) in ext {
            m.entry(k).or_insert(v);
        }
    }
    doc
}

/// A problem answer (see [`problem_body`]).
pub fn problem_response(
    status: StatusCode,
    code: &str,
    detail: &str,
    extensions: Option<Map<String, Value>>,
) -> Response {
    let body = problem_body(status, code, detail, extensions).to_string();
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

impl ApiError {
    /// 503 `store_damaged`: a stored record could not be read or decoded. The cause is
    /// logged; the response is marked ([`StoreDamaged`]) so the app raises the
    /// tamper alert.
    pub fn store_damaged(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "a request found the store damaged");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            STORE_DAMAGED,
            "the node's store is damaged; it stops serving and its operator is alerted. Ask another node of the consortium",
        )
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
        let mut r = problem_response(self.status, self.code, &self.message, self.extensions);
        if damaged {
            r.extensions_mut().insert(StoreDamaged);
        }
        r
    }
}

/// The code for an error status that did not come with one (an answer made by axum,
/// hyper or a tower layer rather than by our handlers).
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "no_such_route",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        409 => "conflict",
        411 => "length_required",
        413 => "body_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "too_many_requests",
        431 => "headers_too_large",
        500 => "internal",
        501 => "not_implemented",
        503 => "unavailable",
        504 => "timeout",
        s if s >= 500 => "server_error",
        _ => "client_error",
    }
}

/// What to do about an error status that came without a message.
fn hint_for_status(status: StatusCode) -> String {
    let reason = status.canonical_reason().unwrap_or("error");
    match status.as_u16() {
        404 => "no such route; see /openapi.json for the API".into(),
        405 => "this route does not take that HTTP method; see /openapi.json".into(),
        413 => format!(
            "request body is over the limit of {} bytes",
            waybill_types::limits::REQUEST_BODY_BYTES_MAX
        ),
        s if s >= 500 => format!("{reason}; the node's log has the cause"),
        _ => format!("{reason}; see /openapi.json for the API"),
    }
}

/// Middleware: an error answer (4xx, 5xx) that is not already a problem document —
/// one made by axum's extractors or fallbacks or a tower layer — becomes one, its
/// text (if any) kept as the detail. Answers of our handlers pass unchanged.
pub async fn ensure_problem(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(PROBLEM_JSON));
    if is_problem {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, FOREIGN_ERROR_BODY_BYTES_MAX)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .filter(|t| !t.is_empty() && status.is_client_error());
    let detail = text.unwrap_or_else(|| hint_for_status(status));
    let mut out = problem_response(status, code_for_status(status), &detail, None);
    // Keep what the layer said about the connection and the method (Allow,
    // Connection: close, Retry-After), not its body's framing.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

/// The bytes of a complete HTTP/1.1 problem answer, for errors hyper answers itself
/// (a request head it cannot parse or that is over its buffer): the connection
/// closes after it.
pub(crate) fn raw_problem_answer(status: StatusCode, detail: &str) -> Vec<u8> {
    let body = problem_body(status, code_for_status(status), detail, None).to_string();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
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
            J::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "request body is over the limit of {} bytes",
                    waybill_types::limits::REQUEST_BODY_BYTES_MAX
                ),
            ),
            J::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_documents_have_the_rfc_9457_members_and_our_code() {
        let mut ext = Map::new();
        ext.insert(
            "problems".into(),
            json!([{"pointer": "/a", "message": "m"}]),
        );
        ext.insert("status".into(), json!(999));
        let v = problem_body(
            StatusCode::BAD_REQUEST,
            "invalid_epcis",
            "bad doc",
            Some(ext),
        );
        assert_eq!(v["type"], "epcisException:ValidationException");
        assert_eq!(
            v["status"], 400,
            "an extension cannot replace a standard member"
        );
        assert_eq!(v["detail"], "bad doc");
        assert_eq!(v["code"], "invalid_epcis");
        assert_eq!(v["problems"][0]["pointer"], "/a");
        let v = problem_body(StatusCode::NOT_FOUND, "unknown_product", "no", None);
        assert_eq!(v["type"], "about:blank");
        assert_eq!(v["title"], "Not Found");
    }

    #[test]
    fn raw_answers_frame_their_body() {
        let raw = raw_problem_answer(StatusCode::URI_TOO_LONG, "too long");
        let text = String::from_utf8(raw).expect("ASCII");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(v["code"], "uri_too_long");
    }
}
