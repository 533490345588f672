//! Responses are gzip-compressed when the client accepts it (`Accept-Encoding`):
//! pages, JSON and scripts of at least [`COMPRESS_BYTES_MIN`], already built in memory.
//! Gzip (RFC 1952) is written here around `miniz_oxide`'s deflate and `crc32fast`,
//! both already in the tree, rather than a streaming compression stack.
//!
//! A compressed answer is a different representation: it carries
//! `Content-Encoding: gzip`, `Vary: Accept-Encoding`, and its strong `ETag` gets the
//! suffix [`GZIP_ETAG_SUFFIX`] (which `etag::matches` accepts back).

use axum::body::{Body, HttpBody as _};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Smaller bodies are sent as they are (gzip's framing would outweigh the gain).
pub const COMPRESS_BYTES_MIN: usize = 1024;
/// Larger bodies are sent as they are (bounded memory and time per answer).
pub const COMPRESS_BYTES_MAX: usize = 16 * 1024 * 1024;
/// The deflate level (6: zlib's default balance of size and speed).
const DEFLATE_LEVEL: u8 = 6;
/// Appended inside the quotes of a strong `ETag` of a gzip-compressed answer.
pub const GZIP_ETAG_SUFFIX: &str = "-gzip";

/// Whether an `Accept-Encoding` header accepts gzip (`gzip`, `x-gzip` or `*`, with a
/// non-zero quality).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding == "gzip" || coding == "x-gzip" || coding == "*") && !q_zero
        })
}

/// Whether a media type is worth compressing: text, JSON, JavaScript, SVG.
fn compressible(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct.starts_with("text/")
        || ct == "application/json"
        || ct.ends_with("+json")
        || ct == "application/javascript"
        || ct == "image/svg+xml"
}

/// `data` as a gzip member (RFC 1952): header, deflate stream, CRC-32, size mod 2^32.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown).
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, DEFLATE_LEVEL));
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    // ISIZE is the input size modulo 2^32 by definition.
    out.extend_from_slice(&((data.len() & 0xffff_ffff) as u32).to_le_bytes());
    out
}

/// Middleware: gzip the answer when the request accepts it and the answer is a
/// compressible body of a known size within the bounds.
pub(crate) async fn gzip_answers(req: Request, next: Next) -> Response {
    let accepts = accepts_gzip(req.headers());
    let resp = next.run(req).await;
    let eligible = compressible(resp.headers())
        && !resp.headers().contains_key(header::CONTENT_ENCODING)
        && resp.status() != StatusCode::NO_CONTENT
        && resp.status() != StatusCode::NOT_MODIFIED;
    if !eligible {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let size = body
        .size_hint()
        .exact()
        .and_then(|n| usize::try_from(n).ok());
    let in_bounds = size.is_some_and(|n| (COMPRESS_BYTES_MIN..=COMPRESS_BYTES_MAX).contains(&n));
    if !accepts || !in_bounds {
        return Response::from_parts(parts, body);
    }
    // The size is exact and within COMPRESS_BYTES_MAX, so this reads the whole body.
    let bytes = match axum::body::to_bytes(body, COMPRESS_BYTES_MAX).await {
        Ok(b) => b,
        Err(e) => {
            return crate::ApiError::internal(format!("reading an answer to compress it: {e}"))
                .into_response()
        }
    };
    let zipped = gzip(&bytes);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    if let Some(tag) = parts
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            if let Ok(v) = HeaderValue::from_str(&format!("\"{inner}{GZIP_ETAG_SUFFIX}\"")) {
                parts.headers.insert(header::ETAG, v);
            }
        }
    }
    Response::from_parts(parts, Body::from(zipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(v).expect("value"),
        );
        h
    }

    #[test]
    fn accept_encoding_is_read_with_qualities() {
        assert!(accepts_gzip(&accept("gzip, deflate, br")));
        assert!(accepts_gzip(&accept("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&accept("*")));
        assert!(!accepts_gzip(&accept("gzip;q=0")));
        assert!(!accepts_gzip(&accept("br, identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn gzip_members_inflate_to_the_input() {
        let data = "the orange's journey ".repeat(200);
        let z = gzip(data.as_bytes());
        assert_eq!(&z[..3], &[0x1f, 0x8b, 8]);
        let n = z.len();
        let raw = miniz_oxide::inflate::decompress_to_vec(&z[10..n - 8]).expect("deflate stream");
        assert_eq!(raw, data.as_bytes());
        assert_eq!(
            &z[n - 8..n - 4],
            &crc32fast::hash(data.as_bytes()).to_le_bytes()
        );
        assert_eq!(&z[n - 4..], &(data.len() as u32).to_le_bytes());
        assert!(z.len() < data.len() / 10);
    }
}
