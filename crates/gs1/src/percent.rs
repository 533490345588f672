//! Percent-encoding of URI path segments and query components, on the
//! `percent-encoding` crate: the one encoder and decoder Waybill uses, re-exported
//! from [`crate::digital_link`].

use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Every byte but the RFC 3986 unreserved characters `A`–`Z a`–`z 0`–`9 - . _ ~`.
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Which part of a URI a string is escaped for or unescaped from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UriComponent {
    /// A path segment: `+` is a literal plus, a space is `%20`.
    Path,
    /// A query parameter name or value: `+` stands for a space.
    Query,
}

/// A `%` that does not start an escape: it is not followed by two hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`%` at position {} is not followed by two hex digits", .index + 1)]
pub struct MalformedEscape {
    /// Byte index of the `%` (0-based; the message counts from 1).
    pub index: usize,
}

/// Percent-encodes `input` for a URI path segment or query component: every byte other
/// than the unreserved characters `A`–`Z`, `a`–`z`, `0`–`9`, `-`, `.`, `_` and `~`
/// becomes `%XX` (upper-case hex), except that in a query a space becomes `+`.
pub fn uri_escape(input: &str, component: UriComponent) -> String {
    let escaped = utf8_percent_encode(input, RESERVED).to_string();
    match component {
        UriComponent::Path => escaped,
        // Every `%` of the output starts an escape, so `%20` can only be a space.
        UriComponent::Query => escaped.replace("%20", "+"),
    }
}

/// Decodes percent-encoding: each `%XX` with two hex digits (either case) becomes that
/// byte, and in a query `+` becomes a space. A `%` not followed by two hex digits is kept
/// as it is (GS1's reference behaviour; [`uri_unescape_strict`] refuses it). Returns
/// bytes, since `%XX` can produce any byte (including ones that are not UTF-8, and NUL).
pub fn uri_unescape(input: &str, component: UriComponent) -> Vec<u8> {
    match component {
        UriComponent::Path => percent_decode(input.as_bytes()).collect(),
        // A literal `+` is a space; an escaped one (`%2B`) is decoded after, so stays `+`.
        UriComponent::Query => percent_decode(input.replace('+', " ").as_bytes()).collect(),
    }
}

/// The first `%` in `input` not followed by two hex digits, if any.
///
/// # Errors
///
/// [`MalformedEscape`] with the `%`'s byte index.
pub fn check_escapes(input: &str) -> Result<(), MalformedEscape> {
    let b = input.as_bytes();
    let is_hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    match b
        .iter()
        .enumerate()
        .filter(|(_, &c)| c == b'%')
        .find(|&(i, _)| !(is_hex(i + 1) && is_hex(i + 2)))
    {
        Some((index, _)) => Err(MalformedEscape { index }),
        None => Ok(()),
    }
}

/// [`uri_unescape`] of text whose every `%` starts an escape.
///
/// # Errors
///
/// [`MalformedEscape`] for the first `%` not followed by two hex digits.
pub fn uri_unescape_strict(
    input: &str,
    component: UriComponent,
) -> Result<Vec<u8>, MalformedEscape> {
    check_escapes(input)?;
    Ok(uri_unescape(input, component))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_decoding_refuses_what_lenient_decoding_keeps() {
        for (input, index, lenient) in [
            ("%", 0, "%"),
            ("ab%4", 2, "ab%4"),
            ("%41%4g", 3, "A%4g"),
            ("%+1", 0, "%+1"),
            ("%-1", 0, "%-1"),
            ("%%41", 0, "%A"),
            ("%é1", 0, "%é1"),
        ] {
            assert_eq!(
                uri_unescape_strict(input, UriComponent::Path),
                Err(MalformedEscape { index }),
                "{input}"
            );
            assert_eq!(
                uri_unescape(input, UriComponent::Path),
                lenient.as_bytes(),
                "{input}"
            );
        }
        assert_eq!(
            MalformedEscape { index: 2 }.to_string(),
            "`%` at position 3 is not followed by two hex digits"
        );
        assert_eq!(
            uri_unescape_strict("a%41+%2B%e4%b8%ad", UriComponent::Query),
            Ok("aA +中".as_bytes().to_vec())
        );
        assert_eq!(
            uri_unescape_strict("a%41+%2B", UriComponent::Path),
            Ok(b"aA++".to_vec())
        );
    }

    #[test]
    fn query_escaping_writes_a_space_as_plus() {
        assert_eq!(uri_escape("a b+%20", UriComponent::Query), "a+b%2B%2520");
        assert_eq!(uri_escape("a b+%20", UriComponent::Path), "a%20b%2B%2520");
        assert_eq!(uri_escape("中~", UriComponent::Path), "%E4%B8%AD~");
    }
}
