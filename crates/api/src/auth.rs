//! Authenticated reads. A member signs `METHOD\npath?query\ntimestamp_ms` with its key
//! (domain `waybill/read/v1`) and sends
//! `Authorization: Waybill key=<hex>, ts=<ms>, sig=<hex>`. No passwords, nothing
//! stored on the node; a signature is good for [`READ_SIGNATURE_MAX_AGE_MS`] either
//! side of the node's clock. Requests without the header read as anonymous.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use waybill_state::identity::{load_member, Member};
use waybill_state::trace::{may_read_event, EventRecord};
use waybill_state::{StateRead, StateReadError};
use waybill_types::signed_request::parse_read_authorization;
use waybill_types::OrgId;

use crate::{ApiError, AppState};

/// How far a read signature's timestamp may be from the node's clock.
pub const READ_SIGNATURE_MAX_AGE_MS: u64 = 300_000;

/// Who is reading.
#[derive(Clone, Debug)]
pub enum Reader {
    /// No credentials: public data only.
    Anonymous,
    /// An active member, authenticated by its signature.
    Member(Member),
}

impl Reader {
    /// May this reader read the consortium record `rec`
    /// ([`waybill_state::trace::may_read_event`]: by role and relationship; `holds`
    /// when `rec` lies on a walk back from something the reader's organization
    /// holds)?
    pub fn may_read_event<S: StateRead + ?Sized>(
        &self,
        state: &S,
        rec: &EventRecord,
        holds: bool,
    ) -> Result<bool, StateReadError> {
        match self {
            Reader::Anonymous => Ok(false),
            Reader::Member(m) => may_read_event(state, m, rec, holds),
        }
    }

    /// The reader's organization, if it is a member.
    pub fn org(&self) -> Option<&OrgId> {
        match self {
            Reader::Anonymous => None,
            Reader::Member(m) => Some(&m.org),
        }
    }

    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Reader::Anonymous => "an anonymous reader (send a signed Authorization header)".into(),
            Reader::Member(m) => format!(
                "member {} of `{}` (roles: {})",
                m.key,
                m.org,
                m.roles
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// Parse and check an `Authorization: Waybill …` header value.
pub fn authenticate(
    s: &AppState,
    method: &str,
    path_and_query: &str,
    value: &str,
) -> Result<Reader, ApiError> {
    let auth = parse_read_authorization(value).map_err(|e| unauthorized(e.message))?;
    let (key, ts) = (auth.key, auth.ts_ms);
    let now = s.now_ms();
    if now.abs_diff(ts) > READ_SIGNATURE_MAX_AGE_MS {
        return Err(unauthorized(format!(
            "the signature's time {ts} is more than {} s from the node's clock ({now}); sign each request afresh",
            READ_SIGNATURE_MAX_AGE_MS / 1000
        )));
    }
    auth.verify(method, path_and_query)
        .map_err(|e| unauthorized(e.message))?;
    let snap = s.store.snapshot()?;
    let m = load_member(&snap, &key)?
        .ok_or_else(|| unauthorized(format!("{key} is not a registered member")))?;
    if !m.is_active() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "member_revoked",
            format!("{key} was revoked and may no longer read"),
        ));
    }
    Ok(Reader::Member(m))
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Reader::Anonymous);
        };
        let v = v
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not ASCII"))?;
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        authenticate(s, parts.method.as_str(), pq, v)
    }
}
