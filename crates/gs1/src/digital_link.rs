//! GS1 Digital Link URIs: parsing, validation and canonical generation.
//!
//! A GS1 Digital Link URI carries GS1 Application Identifier (AI) data in a web address:
//!
//! ```text
//! https://id.gs1.org/01/09521234543213/10/ABC/21/12345?17=251231&wb=…
//! \________________/\________________/\_____________/ \_______/ \____/
//!        stem          primary key       qualifiers    data     other
//!                                                      attribute attribute
//! ```
//!
//! The path ends with a primary key (an AI such as 01 GTIN or 00 SSCC and its value),
//! optionally followed by the key's qualifiers in the order GS1 defines (for a GTIN:
//! 22, 10, 21, or alternatively 235). Anything before the key is the stem. Query
//! parameters whose names are AIs are data attributes; other query parameters (such as a
//! consortium fingerprint `wb=…`) are kept as they are and can be read with
//! [`DigitalLink::attribute`]. A fragment is ignored.
//!
//! ```
//! use waybill_gs1::digital_link::DigitalLink;
//!
//! let dl = DigitalLink::parse("https://example.com/01/09521234543213/10/ABC?17=251231&wb=f00d")
//!     .expect("valid Digital Link");
//! assert_eq!(dl.gtin(), Some("09521234543213"));
//! assert_eq!(dl.lot(), Some("ABC"));
//! assert_eq!(dl.attribute("wb"), Some("f00d"));
//! assert_eq!(dl.bracketed(), "(01)09521234543213(10)ABC(17)251231");
//! assert_eq!(
//!     dl.to_uri(None),
//!     "https://id.gs1.org/01/09521234543213/10/ABC?17=251231&wb=f00d"
//! );
//! ```

use std::fmt;
use std::str::FromStr;

use crate::ai::{self, describe, AiError, AiInfo};
pub use crate::percent::{
    check_escapes, uri_escape, uri_unescape, uri_unescape_strict, MalformedEscape, UriComponent,
};

/// The stem of canonical GS1 Digital Link URIs.
pub const DEFAULT_STEM: &str = "https://id.gs1.org";

/// Parser and generator settings; [`ParseOptions::default`] is the strict GS1 behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept the deprecated short names for AIs in the path, such as `/gtin/…` for
    /// `/01/…` and `/ser/…` for `/21/…`. Default `false`.
    pub permit_convenience_alphas: bool,
    /// Accept an AI (01) value of 8, 12 or 13 digits (GTIN-8, GTIN-12, GTIN-13) and
    /// left-pad it with zeros to 14. Default `false`.
    pub permit_zero_suppressed_gtin: bool,
    /// Accept well-formed AIs that are not in the table (values of 1 to 90 CSET 82
    /// characters). Default `false`.
    pub permit_unknown_ais: bool,
    /// Even when unknown AIs are permitted, reject them as URI data attributes (query
    /// parameters). Default `true`.
    pub reject_unknown_ai_attributes: bool,
    /// Check the pairing rules between AIs ([`ai::validate_associations`]): required and
    /// excluded combinations. Default `true`.
    pub validate_associations: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            permit_convenience_alphas: false,
            permit_zero_suppressed_gtin: false,
            permit_unknown_ais: false,
            reject_unknown_ai_attributes: true,
            validate_associations: true,
        }
    }
}

/// Why a GS1 Digital Link URI (or AI data for one) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DlError {
    /// An empty string.
    #[error("the URI is empty")]
    Empty,
    /// Not `http://` or `https://` (all lower or all upper case).
    #[error("`{uri}` is not a GS1 Digital Link URI: it must start with http:// or https:// (all lower or all upper case)")]
    Scheme {
        /// The rejected URI.
        uri: String,
    },
    /// A character that is not allowed anywhere in a URI.
    #[error("the URI has {found:?} at position {position}, which is not allowed in a URI (percent-encode it)")]
    InvalidCharacter {
        /// 1-based character position.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// Nothing between the scheme and the path.
    #[error("the URI has no domain name after the scheme")]
    NoDomain,
    /// A domain name with a character domains cannot have.
    #[error("domain `{domain}` contains {found:?}, which is not allowed in a domain name")]
    InvalidDomainCharacter {
        /// The domain (host and port).
        domain: String,
        /// The offending character.
        found: char,
    },
    /// No path after the domain.
    #[error("the URI has no path: a GS1 Digital Link needs a primary key and its value, e.g. /01/09521234543213")]
    NoPathInfo,
    /// A path ending in `/`.
    #[error("URI path `{path}` ends with `/`")]
    TrailingSlash {
        /// The path.
        path: String,
    },
    /// An empty path segment where an AI or a value belongs.
    #[error("URI path `{path}` has an empty segment where an AI or its value belongs")]
    EmptyPathSegment {
        /// The path.
        path: String,
    },
    /// A path segment in AI position that is not an AI.
    #[error("path segment `{segment}` is not a GS1 Application Identifier")]
    NotAnAi {
        /// The segment.
        segment: String,
    },
    /// No primary key AI in the path.
    #[error("URI path `{path}` has no GS1 Digital Link primary key (such as /01/… for a GTIN or /00/… for an SSCC)")]
    NoPrimaryKey {
        /// The path.
        path: String,
    },
    /// Path qualifiers that are not one of the key's qualifier sequences, in order.
    #[error("{} cannot be qualified by {} in the path: {}", describe(.key), ai_list(.qualifiers), allowed_qualifiers(.allowed))]
    InvalidQualifiers {
        /// The primary key AI.
        key: String,
        /// The qualifier AIs found, in path order.
        qualifiers: Vec<String>,
        /// The key's qualifier sequences.
        allowed: &'static [&'static [&'static str]],
    },
    /// A qualifier of the key given as a query parameter.
    #[error("{} is a qualifier of {} and belongs in the URI path, not the query", describe(.ai), describe(.key))]
    QualifierInQuery {
        /// The qualifier AI.
        ai: String,
        /// The primary key AI.
        key: String,
    },
    /// The same AI twice in one URI.
    #[error("{} appears more than once in the URI", describe(.ai))]
    DuplicateAi {
        /// The AI.
        ai: String,
    },
    /// A query parameter with an all-digit name that is not an AI.
    #[error("query parameter `{name}` is numeric but is not a GS1 Application Identifier")]
    NumericNonAiParameter {
        /// The parameter name.
        name: String,
    },
    /// An AI that may not be a URI data attribute (query parameter).
    #[error("{} is not permitted as a GS1 Digital Link data attribute", describe(.ai))]
    NotDataAttribute {
        /// The AI.
        ai: String,
    },
    /// An unknown AI as a data attribute.
    #[error("unknown AI {ai} is not permitted as a GS1 Digital Link data attribute")]
    UnknownAiAttribute {
        /// The AI.
        ai: String,
    },
    /// A value that percent-decodes to contain a NUL byte.
    #[error("{} value contains a percent-encoded NUL (%00)", describe(.ai))]
    NulInValue {
        /// The AI.
        ai: String,
    },
    /// A value that does not percent-decode to UTF-8.
    #[error("{} value is not UTF-8 after percent-decoding", describe(.ai))]
    NotUtf8 {
        /// The AI.
        ai: String,
    },
    /// AI data without a primary key, from which no URI can be made.
    #[error("`{elements}` has no GS1 Digital Link primary key AI (such as 01 GTIN or 00 SSCC), so no URI can be generated")]
    NoPrimaryKeyInData {
        /// The data, bracketed.
        elements: String,
    },
    /// A name that cannot be used for a non-AI query attribute.
    #[error(
        "`{name}` cannot name a non-AI query attribute: it must be non-empty and not all digits"
    )]
    InvalidAttributeName {
        /// The rejected name.
        name: String,
    },
    /// An AI or value problem.
    #[error(transparent)]
    Ai(#[from] AiError),
}

/// `AI 22 (CPV), AI 10 (BATCH/LOT)`.
fn ai_list(ais: &[String]) -> String {
    let parts: Vec<String> = ais.iter().map(|a| describe(a)).collect();
    parts.join(", ")
}

/// `its qualifiers are 22, 10, 21 (in that order, each optional) or 235`.
fn allowed_qualifiers(allowed: &[&[&str]]) -> String {
    if allowed.is_empty() {
        return String::from("it takes no qualifiers");
    }
    let seqs: Vec<String> = allowed.iter().map(|seq| seq.join(", ")).collect();
    format!(
        "its qualifiers are {} (in that order, each optional)",
        seqs.join(" or ")
    )
}

/// The deprecated short names GS1 Digital Link 1.1 allowed in place of path AIs.
const CONVENIENCE_ALPHAS: &[(&str, &str)] = &[
    ("gtin", "01"),
    ("itip", "8006"),
    ("cpv", "22"),
    ("lot", "10"),
    ("ser", "21"),
    ("sscc", "00"),
    ("gln", "414"),
    ("glnx", "254"),
    ("party", "417"),
    ("gdti", "253"),
    ("gcn", "255"),
    ("ginc", "401"),
    ("gsin", "402"),
    ("grai", "8003"),
    ("giai", "8004"),
    ("cpid", "8010"),
    ("cpsn", "8011"),
    ("gmn", "8013"),
    ("gsrnp", "8017"),
    ("gsrn", "8018"),
    ("srin", "8019"),
    ("refno", "8020"),
];

/// Characters allowed anywhere in a URI (RFC 3986 unreserved and reserved, and `%`).
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.'
                | '_'
                | '~'
                | ':'
                | '/'
                | '?'
                | '#'
                | '['
                | ']'
                | '@'
                | '!'
                | '$'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | ';'
                | '='
                | '%'
        )
}

/// Characters allowed in the domain part (names, IPv4, bracketed IPv6, port).
fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']')
}

/// The AI a path segment names: all digits and in the table, or a convenience alpha when
/// those are permitted.
fn path_ai(segment: &str, options: &ParseOptions) -> Option<(String, &'static AiInfo)> {
    if segment.bytes().all(|b| b.is_ascii_digit()) {
        return ai::lookup(segment).map(|info| (segment.to_owned(), info));
    }
    if options.permit_convenience_alphas {
        let (_, code) = CONVENIENCE_ALPHAS
            .iter()
            .find(|(alpha, _)| *alpha == segment)?;
        return ai::lookup(code).map(|info| ((*code).to_owned(), info));
    }
    None
}

/// Percent-decodes the value of `ai`; it must be UTF-8 without NUL.
fn decode_value(raw: &str, component: UriComponent, ai: &str) -> Result<String, DlError> {
    let bytes = uri_unescape(raw, component);
    if bytes.contains(&0) {
        return Err(DlError::NulInValue { ai: ai.to_owned() });
    }
    String::from_utf8(bytes).map_err(|_| DlError::NotUtf8 { ai: ai.to_owned() })
}

/// A GTIN-8, -12 or -13 in AI (01) padded to 14 digits, when permitted.
fn expand_gtin(ai: &str, value: String, options: &ParseOptions) -> String {
    let short = matches!(value.len(), 8 | 12 | 13) && value.bytes().all(|b| b.is_ascii_digit());
    if options.permit_zero_suppressed_gtin && ai == "01" && short {
        format!("{value:0>14}")
    } else {
        value
    }
}

/// Whether `qualifiers` appear in `sequence` in the same order (each at most once).
fn fits_sequence(qualifiers: &[&str], sequence: &[&str]) -> bool {
    let mut rest = sequence.iter();
    qualifiers.iter().all(|q| rest.any(|s| s == q))
}

/// Whether an AI has a predefined length (no FNC1 needed after it); such attributes come
/// first in canonical URIs.
fn has_predefined_length(ai: &str) -> bool {
    ai::lookup(ai).is_some_and(|info| !info.fnc1_required)
}

/// A parsed GS1 Digital Link URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitalLink {
    /// Everything before the primary key: scheme, domain and any leading path, without a
    /// trailing `/` (e.g. `https://example.com/some/stem`).
    pub stem: String,
    /// The AI elements `(AI, value)`: the primary key, then its qualifiers (the path),
    /// then the data attributes (AI query parameters) in URI order.
    pub elements: Vec<(String, String)>,
    /// How many of `elements` are in the path (key and qualifiers).
    path_len: usize,
    /// Query parameters that are not AIs, `(name, value)` in URI order; a parameter
    /// without `=` has an empty value.
    attributes: Vec<(String, String)>,
}

impl DigitalLink {
    /// Parses a GS1 Digital Link URI with the default (strict) settings.
    pub fn parse(uri: &str) -> Result<DigitalLink, DlError> {
        DigitalLink::parse_with(uri, &ParseOptions::default())
    }

    /// Parses a GS1 Digital Link URI: checks the scheme, characters and domain, finds the
    /// primary key (the right-most key AI in the path) and its qualifiers, reads AI query
    /// parameters as data attributes and keeps other query parameters, then validates
    /// every value and (unless disabled) the pairing rules between AIs.
    pub fn parse_with(uri: &str, options: &ParseOptions) -> Result<DigitalLink, DlError> {
        if uri.is_empty() {
            return Err(DlError::Empty);
        }
        let scheme = ["https://", "HTTPS://", "http://", "HTTP://"]
            .into_iter()
            .find(|s| uri.starts_with(s))
            .ok_or_else(|| DlError::Scheme {
                uri: uri.to_owned(),
            })?;
        if let Some((i, found)) = uri.chars().enumerate().find(|&(_, c)| !is_uri_char(c)) {
            return Err(DlError::InvalidCharacter {
                position: i + 1,
                found,
            });
        }
        let rest = &uri[scheme.len()..];
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (rest, query) = match rest.split_once('?') {
            Some((before, query)) => (before, query),
            None => (rest, ""),
        };
        let (domain, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if domain.is_empty() {
            return Err(DlError::NoDomain);
        }
        if let Some(found) = domain.chars().find(|&c| !is_domain_char(c)) {
            return Err(DlError::InvalidDomainCharacter {
                domain: domain.to_owned(),
                found,
            });
        }
        if path.len() <= 1 {
            return Err(DlError::NoPathInfo);
        }
        if path.ends_with('/') {
            return Err(DlError::TrailingSlash {
                path: path.to_owned(),
            });
        }
        let segments: Vec<&str> = path[1..].split('/').collect();

        // Walk the path from the right in (AI, value) pairs until a primary key.
        let mut end = segments.len();
        let mut qualifiers_rev: Vec<(String, &str)> = Vec::new();
        let (key, key_info, key_raw) = loop {
            if end < 2 {
                return Err(DlError::NoPrimaryKey {
                    path: path.to_owned(),
                });
            }
            let (ai_seg, value_seg) = (segments[end - 2], segments[end - 1]);
            if ai_seg.is_empty() || value_seg.is_empty() {
                return Err(DlError::EmptyPathSegment {
                    path: path.to_owned(),
                });
            }
            let Some((code, info)) = path_ai(ai_seg, options) else {
                return Err(if qualifiers_rev.is_empty() {
                    DlError::NotAnAi {
                        segment: ai_seg.to_owned(),
                    }
                } else {
                    DlError::NoPrimaryKey {
                        path: path.to_owned(),
                    }
                });
            };
            end -= 2;
            if info.dl_primary_key {
                break (code, info, value_seg);
            }
            qualifiers_rev.push((code, value_seg));
        };
        let mut stem = format!("{scheme}{domain}");
        for segment in &segments[..end] {
            stem.push('/');
            stem.push_str(segment);
        }

        // The path elements: key, then qualifiers left to right.
        let mut elements: Vec<(String, String)> = Vec::new();
        for (ai, raw) in
            std::iter::once((key.clone(), key_raw)).chain(qualifiers_rev.into_iter().rev())
        {
            let value = expand_gtin(&ai, decode_value(raw, UriComponent::Path, &ai)?, options);
            ai::validate_value(&ai, &value)?;
            elements.push((ai, value));
        }
        let path_len = elements.len();
        let qualifier_ais: Vec<&str> = elements[1..].iter().map(|(a, _)| a.as_str()).collect();
        let sequence: &[&str] = if key_info.dl_qualifiers.is_empty() && qualifier_ais.is_empty() {
            &[]
        } else {
            key_info
                .dl_qualifiers
                .iter()
                .copied()
                .find(|seq| fits_sequence(&qualifier_ais, seq))
                .ok_or_else(|| DlError::InvalidQualifiers {
                    key: key.clone(),
                    qualifiers: qualifier_ais.iter().map(|q| (*q).to_owned()).collect(),
                    allowed: key_info.dl_qualifiers,
                })?
        };
        for (i, (ai, _)) in elements.iter().enumerate() {
            if elements[..i].iter().any(|(a, _)| a == ai) {
                return Err(DlError::DuplicateAi { ai: ai.clone() });
            }
        }

        // The query: AI data attributes and other parameters.
        let mut attributes = Vec::new();
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = param.split_once('=').unwrap_or((param, ""));
            if raw_name.is_empty() || !raw_name.bytes().all(|b| b.is_ascii_digit()) {
                let name = String::from_utf8_lossy(&uri_unescape(raw_name, UriComponent::Query))
                    .into_owned();
                let value = String::from_utf8_lossy(&uri_unescape(raw_value, UriComponent::Query))
                    .into_owned();
                // A name that decodes to digits would be read as an AI once written
                // canonically (digits are never escaped): refuse it here.
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(DlError::NumericNonAiParameter {
                        name: raw_name.to_owned(),
                    });
                }
                if !name.is_empty() {
                    attributes.push((name, value));
                }
                continue;
            }
            let ai = raw_name;
            match ai::lookup(ai) {
                Some(info) => {
                    if sequence.contains(&ai) {
                        return Err(DlError::QualifierInQuery {
                            ai: ai.to_owned(),
                            key: key.clone(),
                        });
                    }
                    if !info.dl_data_attribute {
                        return Err(DlError::NotDataAttribute { ai: ai.to_owned() });
                    }
                    let value = expand_gtin(
                        ai,
                        decode_value(raw_value, UriComponent::Query, ai)?,
                        options,
                    );
                    info.validate(ai, &value)?;
                    if elements.iter().any(|(a, _)| a == ai) {
                        return Err(DlError::DuplicateAi { ai: ai.to_owned() });
                    }
                    elements.push((ai.to_owned(), value));
                }
                None if options.permit_unknown_ais && ai::check_unknown_ai_syntax(ai).is_ok() => {
                    if options.reject_unknown_ai_attributes {
                        return Err(DlError::UnknownAiAttribute { ai: ai.to_owned() });
                    }
                    let value = decode_value(raw_value, UriComponent::Query, ai)?;
                    ai::validate_unknown_value(ai, &value)?;
                    if elements.iter().any(|(a, _)| a == ai) {
                        return Err(DlError::DuplicateAi { ai: ai.to_owned() });
                    }
                    elements.push((ai.to_owned(), value));
                }
                None => {
                    return Err(DlError::NumericNonAiParameter {
                        name: ai.to_owned(),
                    })
                }
            }
        }

        if options.validate_associations {
            ai::validate_associations(&elements)?;
        }
        Ok(DigitalLink {
            stem,
            elements,
            path_len,
            attributes,
        })
    }

    /// Builds a Digital Link from AI data with the default settings; see
    /// [`DigitalLink::from_elements_with`].
    pub fn from_elements(
        elements: &[(String, String)],
        stem: Option<&str>,
    ) -> Result<DigitalLink, DlError> {
        DigitalLink::from_elements_with(elements, stem, &ParseOptions::default())
    }

    /// Builds a Digital Link from AI data in any order: validates every value, drops
    /// exact repeats (a repeat with a different value is an error), checks the pairing
    /// rules, picks the first primary key in the data, puts the key's qualifiers that are
    /// present in the path (choosing the qualifier sequence that covers the most of them,
    /// the first on a tie) and the rest as data attributes in canonical order: those with
    /// a predefined length first, each group in data order.
    ///
    /// `stem` defaults to [`DEFAULT_STEM`]; a trailing `/` is dropped.
    pub fn from_elements_with(
        elements: &[(String, String)],
        stem: Option<&str>,
        options: &ParseOptions,
    ) -> Result<DigitalLink, DlError> {
        let mut unique: Vec<(String, String)> = Vec::with_capacity(elements.len());
        for (ai, value) in elements {
            ai::validate_element(ai, value, options.permit_unknown_ais)?;
            match unique.iter().find(|(a, _)| a == ai) {
                Some((_, seen)) if seen == value => {}
                Some((_, seen)) => {
                    return Err(AiError::ConflictingRepeat {
                        ai: ai.clone(),
                        first: seen.clone(),
                        second: value.clone(),
                    }
                    .into())
                }
                None => unique.push((ai.clone(), value.clone())),
            }
        }
        if options.validate_associations {
            ai::validate_associations(&unique)?;
        }
        let (key_index, key_info) = unique
            .iter()
            .enumerate()
            .find_map(|(i, (a, _))| {
                ai::lookup(a)
                    .filter(|info| info.dl_primary_key)
                    .map(|info| (i, info))
            })
            .ok_or_else(|| DlError::NoPrimaryKeyInData {
                elements: ai::bracketed(elements),
            })?;
        let present = |q: &str| unique.iter().any(|(a, _)| a == q);
        let count = |seq: &[&str]| seq.iter().filter(|q| present(q)).count();
        let mut sequence: &[&str] = key_info.dl_qualifiers.first().copied().unwrap_or(&[]);
        for seq in key_info.dl_qualifiers.iter().skip(1) {
            if count(seq) > count(sequence) {
                sequence = seq;
            }
        }

        let mut path = vec![unique[key_index].clone()];
        for q in sequence {
            if let Some(element) = unique.iter().find(|(a, _)| a == q) {
                path.push(element.clone());
            }
        }
        let mut data_attributes = Vec::new();
        for (i, (ai, value)) in unique.iter().enumerate() {
            if i == key_index || sequence.contains(&ai.as_str()) {
                continue;
            }
            match ai::lookup(ai) {
                Some(info) if !info.dl_data_attribute => {
                    return Err(DlError::NotDataAttribute { ai: ai.clone() })
                }
                None if options.reject_unknown_ai_attributes => {
                    return Err(DlError::UnknownAiAttribute { ai: ai.clone() })
                }
                _ => data_attributes.push((ai.clone(), value.clone())),
            }
        }
        // Canonical order: predefined-length AIs first (stable).
        data_attributes.sort_by_key(|(ai, _)| !has_predefined_length(ai));

        let path_len = path.len();
        path.extend(data_attributes);
        Ok(DigitalLink {
            stem: stem
                .unwrap_or(DEFAULT_STEM)
                .trim_end_matches('/')
                .to_owned(),
            elements: path,
            path_len,
            attributes: Vec::new(),
        })
    }

    /// Parses a bracketed element string such as `(01)09521234543213(10)ABC` into AI data
    /// (every AI known, every value valid).
    pub fn from_bracketed(s: &str) -> Result<Vec<(String, String)>, DlError> {
        Ok(ai::parse_bracketed(s)?)
    }

    /// The canonical URI: `stem` (default [`DEFAULT_STEM`], trailing `/` dropped), the
    /// primary key and its qualifiers as path segments, then the data attributes as
    /// query parameters in canonical order (predefined-length AIs first, otherwise in
    /// element order), then the non-AI query attributes in their original order. Values
    /// are percent-encoded with [`uri_escape`].
    pub fn to_uri(&self, stem: Option<&str>) -> String {
        let mut out = stem
            .unwrap_or(DEFAULT_STEM)
            .trim_end_matches('/')
            .to_owned();
        let path_len = self.path_len.min(self.elements.len());
        let (path, data) = self.elements.split_at(path_len);
        for (ai, value) in path {
            out.push('/');
            out.push_str(ai);
            out.push('/');
            out.push_str(&uri_escape(value, UriComponent::Path));
        }
        let mut query: Vec<String> = Vec::new();
        for predefined in [true, false] {
            for (ai, value) in data {
                if has_predefined_length(ai) == predefined {
                    query.push(format!("{ai}={}", uri_escape(value, UriComponent::Query)));
                }
            }
        }
        for (name, value) in &self.attributes {
            let name = uri_escape(name, UriComponent::Query);
            if value.is_empty() {
                query.push(name);
            } else {
                query.push(format!("{name}={}", uri_escape(value, UriComponent::Query)));
            }
        }
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query.join("&"));
        }
        out
    }

    /// The elements in bracketed form, e.g. `(01)09521234543213(10)ABC` (a `(` in a value
    /// is written `\(`).
    pub fn bracketed(&self) -> String {
        ai::bracketed(&self.elements)
    }

    /// The elements as an unbracketed element string with `^` for FNC1, e.g.
    /// `^010952123454321310ABC`.
    pub fn element_string(&self) -> String {
        ai::element_string(&self.elements)
    }

    /// The primary key `(AI, value)`.
    pub fn key(&self) -> Option<(&str, &str)> {
        (self.path_len > 0)
            .then(|| self.elements.first())
            .flatten()
            .map(|(a, v)| (a.as_str(), v.as_str()))
    }

    /// The key qualifiers from the path, in order.
    pub fn qualifiers(&self) -> &[(String, String)] {
        let path_len = self.path_len.min(self.elements.len());
        self.elements.get(1..path_len).unwrap_or(&[])
    }

    /// The AI data attributes (query parameters that are AIs).
    pub fn data_attributes(&self) -> &[(String, String)] {
        let path_len = self.path_len.min(self.elements.len());
        &self.elements[path_len..]
    }

    /// The value of `ai`, wherever it is (path or query).
    pub fn get(&self, ai: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|(a, _)| a == ai)
            .map(|(_, v)| v.as_str())
    }

    /// The GTIN, AI (01).
    pub fn gtin(&self) -> Option<&str> {
        self.get("01")
    }

    /// The batch or lot number, AI (10).
    pub fn lot(&self) -> Option<&str> {
        self.get("10")
    }

    /// The serial number, AI (21).
    pub fn serial(&self) -> Option<&str> {
        self.get("21")
    }

    /// The SSCC, AI (00).
    pub fn sscc(&self) -> Option<&str> {
        self.get("00")
    }

    /// The GLN of a physical location, AI (414).
    pub fn gln(&self) -> Option<&str> {
        self.get("414")
    }

    /// The value of the non-AI query parameter `name` (first occurrence; `""` for a
    /// parameter without `=`).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All non-AI query parameters `(name, value)`, in URI order.
    pub fn attributes(&self) -> &[(String, String)] {
        &self.attributes
    }

    /// Sets the non-AI query parameter `name` (replacing any with that name); the name
    /// must not be empty or all digits (those are AIs).
    pub fn set_attribute(&mut self, name: &str, value: &str) -> Result<(), DlError> {
        if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DlError::InvalidAttributeName {
                name: name.to_owned(),
            });
        }
        self.attributes.retain(|(n, _)| n != name);
        self.attributes.push((name.to_owned(), value.to_owned()));
        Ok(())
    }
}

impl fmt::Display for DigitalLink {
    /// The canonical URI with this link's own stem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uri(Some(&self.stem)))
    }
}

impl FromStr for DigitalLink {
    type Err = DlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DigitalLink::parse(s)
    }
}

/// The canonical GS1 Digital Link URI for AI data (default settings); see
/// [`DigitalLink::from_elements_with`].
pub fn generate(elements: &[(String, String)], stem: Option<&str>) -> Result<String, DlError> {
    generate_with(elements, stem, &ParseOptions::default())
}

/// [`generate`] with explicit settings.
pub fn generate_with(
    elements: &[(String, String)],
    stem: Option<&str>,
    options: &ParseOptions,
) -> Result<String, DlError> {
    let dl = DigitalLink::from_elements_with(elements, stem, options)?;
    Ok(dl.to_uri(Some(&dl.stem)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, v)| ((*a).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn error_messages_name_the_problem() {
        let err = DigitalLink::parse("https://a/01/09521234543214").expect_err("check digit");
        assert_eq!(
            err.to_string(),
            "GTIN 09521234543214 has check digit 4, expected 3"
        );
        let err = DigitalLink::parse("https://a/01/09521234543213/xx/ABC").expect_err("not AI");
        assert_eq!(
            err.to_string(),
            "path segment `xx` is not a GS1 Application Identifier"
        );
        let err = generate(&pairs(&[("21", "ABC")]), None).expect_err("no key");
        assert_eq!(
            err.to_string(),
            "AI 21 (SERIAL) requires AI 01 (GTIN), AI 03 (MTO GTIN) or AI 8006 (ITIP)"
        );
        let err = DigitalLink::parse("https://a/01/09521234543213/21/X/10/Y").expect_err("order");
        assert_eq!(
            err.to_string(),
            "AI 01 (GTIN) cannot be qualified by AI 21 (SERIAL), AI 10 (BATCH/LOT) in the \
             path: its qualifiers are 22, 10, 21 or 235 (in that order, each optional)"
        );
    }

    #[test]
    fn non_ai_attributes_are_kept() {
        let mut dl =
            DigitalLink::parse("https://example.com/00/006141411234567890?wb=ab%2Bc&x&99=Q")
                .expect("valid");
        assert_eq!(dl.attribute("wb"), Some("ab+c"));
        assert_eq!(dl.attribute("x"), Some(""));
        assert_eq!(dl.attribute("y"), None);
        assert_eq!(dl.sscc(), Some("006141411234567890"));
        assert_eq!(
            dl.to_string(),
            "https://example.com/00/006141411234567890?99=Q&wb=ab%2Bc&x"
        );
        dl.set_attribute("wb", "new value").expect("valid name");
        assert_eq!(
            dl.to_uri(None),
            "https://id.gs1.org/00/006141411234567890?99=Q&x&wb=new+value"
        );
        assert!(dl.set_attribute("17", "x").is_err());
        let again = DigitalLink::parse(&dl.to_string()).expect("round trip");
        assert_eq!(again, dl);
    }

    #[test]
    fn accessors() {
        let dl = DigitalLink::parse("https://a/x/01/09521234543213/10/L1/21/S1?17=251231")
            .expect("valid");
        assert_eq!(dl.stem, "https://a/x");
        assert_eq!(dl.key(), Some(("01", "09521234543213")));
        assert_eq!(
            dl.qualifiers(),
            pairs(&[("10", "L1"), ("21", "S1")]).as_slice()
        );
        assert_eq!(dl.data_attributes(), pairs(&[("17", "251231")]).as_slice());
        assert_eq!(
            (dl.lot(), dl.serial(), dl.gln()),
            (Some("L1"), Some("S1"), None)
        );
        assert_eq!(dl.element_string(), "^010952123454321310L1^21S1^17251231");
    }
}
