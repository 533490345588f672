//! The signatures a stranger can put in HTTP headers, parsed in one place (the API
//! uses these, and the fuzz targets drive them):
//!
//! - signed reads: `Authorization: Waybill key=<hex>, ts=<ms>, sig=<hex>`, a signature
//!   over `METHOD\npath?query\nts` in the domain [`domain::READ`];
//! - signed captures: `Waybill-Signer`, `Waybill-Nonce`, `Waybill-Expires` and
//!   `Waybill-Signature`, the member's signature over the capture transaction.
//!
//! Parsing checks form only; whether the key is a member, and whether the time is
//! near the node's clock, is the caller's to decide.

use crate::keys::{domain, read_message};
use crate::{PublicKey, Signature};

/// Why a signed-request header was refused. `code` is the API's stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HeaderError {
    /// Stable machine code (`unauthorized`, `unsigned_capture`, `bad_header`,
    /// `bad_key`, `bad_signature`).
    pub code: &'static str,
    /// What is wrong, naming the header.
    pub message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> HeaderError {
    HeaderError {
        code,
        message: message.into(),
    }
}

/// The scheme every read signature uses.
pub const READ_SCHEME: &str = "Waybill";

/// A parsed `Authorization: Waybill …` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadAuthorization {
    /// The reader's key.
    pub key: PublicKey,
    /// When it signed, ms since the Unix epoch.
    pub ts_ms: u64,
    /// Its signature.
    pub signature: Signature,
}

fn signature_hex(text: &str, what: &str, code: &'static str) -> Result<Signature, HeaderError> {
    let bytes: [u8; 64] = hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            err(
                code,
                format!("{what} must be 128 hex digits (an Ed25519 signature)"),
            )
        })?;
    Ok(Signature(bytes))
}

/// Parse an `Authorization` header value of the `Waybill` scheme. Every part is
/// `name=value`; `key`, `ts` and `sig` are required, each once; nothing else is
/// allowed.
pub fn parse_read_authorization(value: &str) -> Result<ReadAuthorization, HeaderError> {
    let unauthorized = |m: String| err("unauthorized", m);
    let rest = value
        .strip_prefix(READ_SCHEME)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| {
            unauthorized(
                "the Authorization header must be `Waybill key=<hex>, ts=<ms>, sig=<hex>`".into(),
            )
        })?;
    let (mut key, mut ts, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        let (k, v) = part.split_once('=').ok_or_else(|| {
            unauthorized(format!("Authorization part `{part}` is not name=value"))
        })?;
        let slot = match k {
            "key" => &mut key,
            "ts" => &mut ts,
            "sig" => &mut sig,
            other => {
                return Err(unauthorized(format!(
                    "unknown Authorization part `{other}`"
                )))
            }
        };
        if slot.replace(v).is_some() {
            return Err(unauthorized(format!(
                "Authorization part `{k}` is given twice"
            )));
        }
    }
    let (Some(key), Some(ts), Some(sig)) = (key, ts, sig) else {
        return Err(unauthorized(
            "the Authorization header needs key, ts and sig".into(),
        ));
    };
    let key = PublicKey::from_hex(key).map_err(|e| unauthorized(format!("key: {e}")))?;
    let ts_ms: u64 = ts
        .parse()
        .map_err(|_| unauthorized(format!("ts `{ts}` is not a time in ms")))?;
    let signature = signature_hex(sig, "sig", "unauthorized")?;
    Ok(ReadAuthorization {
        key,
        ts_ms,
        signature,
    })
}

impl ReadAuthorization {
    /// Check the signature over `METHOD\npath?query\nts`.
    pub fn verify(&self, method: &str, path_and_query: &str) -> Result<(), HeaderError> {
        self.key
            .verify(
                domain::READ,
                &read_message(method, path_and_query, self.ts_ms),
                &self.signature,
            )
            .map_err(|_| {
                err(
                    "unauthorized",
                    format!(
                        "the signature does not verify for {} over `{method} {path_and_query}` at {}",
                        self.key, self.ts_ms
                    ),
                )
            })
    }
}

/// The capture headers, in the order a client sends them.
pub const CAPTURE_HEADERS: [&str; 4] = [
    "waybill-signer",
    "waybill-nonce",
    "waybill-expires",
    "waybill-signature",
];

/// A capture's signature from its headers: who signed, the transaction's nonce and
/// expiry, and the signature (checked later, over the transaction they rebuild).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureSignature {
    /// The capturing member.
    pub signer: PublicKey,
    /// The transaction's nonce.
    pub nonce: u64,
    /// Its expiry, ms since the Unix epoch.
    pub expires_at_ms: u64,
    /// The signature over the transaction.
    pub signature: Signature,
}

/// Parse the capture headers. `header(name)` answers a header's value (lowercase
/// name): `None` if absent, `Some(Err(()))` if it is not visible ASCII.
pub fn parse_capture_headers<'a>(
    header: impl Fn(&str) -> Option<Result<&'a str, ()>>,
) -> Result<CaptureSignature, HeaderError> {
    let get = |name: &str| -> Result<&'a str, HeaderError> {
        match header(name) {
            None => Err(err(
                "unsigned_capture",
                format!("capture needs the headers Waybill-Signer, Waybill-Nonce, Waybill-Expires and Waybill-Signature (the member's signature over the capture transaction); `{name}` is missing — `waybill capture` does this for you"),
            )),
            Some(Err(())) => Err(err("bad_header", format!("header `{name}` is not ASCII"))),
            Some(Ok(v)) => Ok(v),
        }
    };
    let number = |name: &str, what: &str| -> Result<u64, HeaderError> {
        let text = get(name)?;
        text.parse().map_err(|_| {
            err(
                "bad_header",
                format!("header `{name}` `{text}` is not {what}"),
            )
        })
    };
    let signer = PublicKey::from_hex(get("waybill-signer")?)
        .map_err(|e| err("bad_key", format!("Waybill-Signer: {e}")))?;
    let nonce = number("waybill-nonce", "a decimal u64 nonce")?;
    let expires_at_ms = number(
        "waybill-expires",
        "an expiry in ms since the Unix epoch (decimal)",
    )?;
    let signature = signature_hex(
        get("waybill-signature")?,
        "Waybill-Signature",
        "bad_signature",
    )?;
    Ok(CaptureSignature {
        signer,
        nonce,
        expires_at_ms,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::read_authorization;
    use crate::SecretKey;

    #[test]
    fn a_signed_read_parses_and_verifies_and_nothing_else_does() {
        let key = SecretKey::from_label("reader");
        let value = read_authorization(&key, "GET", "/epcis/events?x=1", 1_700_000_000_000);
        let a = parse_read_authorization(&value).expect("parses");
        assert_eq!(a.key, key.public());
        assert_eq!(a.ts_ms, 1_700_000_000_000);
        a.verify("GET", "/epcis/events?x=1").expect("verifies");
        assert!(a.verify("GET", "/epcis/events?x=2").is_err());
        let twice = format!("{value}, ts=1");
        assert!(parse_read_authorization(&twice)
            .expect_err("twice")
            .message
            .contains("twice"));
        for bad in ["", "Waybill", "Bearer x", "Waybill key=00", "Waybill a=b"] {
            let e = parse_read_authorization(bad).expect_err(bad);
            assert_eq!(e.code, "unauthorized", "{bad}");
        }
    }

    #[test]
    fn capture_headers_name_what_is_missing_or_wrong() {
        let key = SecretKey::from_label("capturer").public().to_hex();
        let sig = "ab".repeat(64);
        let full = |name: &str| -> Option<Result<&str, ()>> {
            match name {
                "waybill-signer" => Some(Ok(key.as_str())),
                "waybill-nonce" => Some(Ok("7")),
                "waybill-expires" => Some(Ok("1700000000000")),
                "waybill-signature" => Some(Ok(sig.as_str())),
                _ => None,
            }
        };
        let c = parse_capture_headers(full).expect("parses");
        assert_eq!((c.nonce, c.expires_at_ms), (7, 1_700_000_000_000));
        for missing in CAPTURE_HEADERS {
            let e = parse_capture_headers(|n| if n == missing { None } else { full(n) })
                .expect_err(missing);
            assert_eq!(e.code, "unsigned_capture");
            assert!(e.message.contains(missing), "{e}");
        }
        let e = parse_capture_headers(|n| {
            if n == "waybill-nonce" {
                Some(Ok("-1"))
            } else {
                full(n)
            }
        })
        .expect_err("negative nonce");
        assert_eq!(e.code, "bad_header");
    }
}
