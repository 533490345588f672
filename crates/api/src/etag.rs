//! Strong `ETag`s from the content hash, and `If-None-Match` revalidation: a phone
//! re-scanning a QR code gets 304 with no body when its copy of the page (or proof
//! bundle) is current. Used by the consumer page and the proof bundles.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::compress::GZIP_ETAG_SUFFIX;

/// The strong entity tag of `body`: the first 128 bits of its SHA-256, in hex, quoted.
pub fn strong_etag(body: &[u8]) -> String {
    let h = waybill_types::sha256(body);
    format!("\"{}\"", hex::encode(&h.0[..16]))
}

/// Whether `If-None-Match` in `headers` matches `etag` (weak comparison, RFC 9110
/// §13.1.2: `W/` is ignored; `*` matches; our gzip variant's tag matches too).
pub fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| {
            let t = t.strip_prefix("W/").unwrap_or(t);
            let t = t
                .strip_suffix(&format!("{GZIP_ETAG_SUFFIX}\""))
                .map(|s| format!("{s}\""))
                .unwrap_or_else(|| t.to_string());
            t == "*" || t == etag
        })
}

/// `body` as `content_type` with its strong `ETag` and `Cache-Control: no-cache` (so
/// a client revalidates before reusing it); 304 with no body when the request's
/// `If-None-Match` names it.
pub fn tagged(req_headers: &HeaderMap, content_type: &'static str, body: Vec<u8>) -> Response {
    let etag = strong_etag(&body);
    let tag = HeaderValue::from_str(&etag).expect("a quoted hex string is a valid header value");
    let no_cache = HeaderValue::from_static("no-cache");
    if matches(req_headers, &etag) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        resp.headers_mut().insert(header::ETAG, tag);
        resp.headers_mut().insert(header::CACHE_CONTROL, no_cache);
        return resp;
    }
    let mut resp = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    resp.headers_mut().insert(header::ETAG, tag);
    resp.headers_mut().insert(header::CACHE_CONTROL, no_cache);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inm(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(v).expect("value"),
        );
        h
    }

    #[test]
    fn if_none_match_uses_the_weak_comparison() {
        let tag = strong_etag(b"page");
        assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() == 34);
        assert!(matches(&inm(&tag), &tag));
        assert!(matches(&inm(&format!("W/{tag}")), &tag));
        assert!(matches(&inm(&format!("\"x\", {tag}")), &tag));
        assert!(matches(&inm("*"), &tag));
        let gz = format!("{}{GZIP_ETAG_SUFFIX}\"", &tag[..tag.len() - 1]);
        assert!(matches(&inm(&gz), &tag), "the gzip variant's tag");
        assert!(!matches(&inm(&strong_etag(b"other")), &tag));
        assert!(!matches(&HeaderMap::new(), &tag));
    }
}
