//! GS1 identifiers as they appear in EPCIS events, canonicalised to the constrained
//! canonical GS1 Digital Link URI that the EPCIS Event Hash ID uses (CBV 2.0 §8.9).
//!
//! [`parse`] accepts
//! - EPC pure identity URNs `urn:epc:id:{sgtin,sscc,sgln,grai,giai,gsrn,gsrnp,gdti,cpi,
//!   sgcn,ginc,gsin,itip,upui,pgln}:…` (they carry no check digit: it is computed here),
//! - EPC class URNs `urn:epc:class:lgtin:…`,
//! - EPC pattern URNs `urn:epc:idpat:{sgtin,sgln,grai,gdti,sgcn,cpi,itip,upui}:…` whose
//!   wildcard, if any, stands only for the serial part,
//! - GS1 Digital Link URIs on any domain and under any path prefix, with numeric or
//!   short-name ("gtin", "lot", …) path segments; check digits are verified.
//!
//! The result keeps only the finest level of identification (`00`, `01`, `01/21`, `01/10`,
//! `01/235`, `253`, `255`, `401`, `402`, `414`, `414/254`, `417`, `8003`, `8004`, `8006`,
//! `8006/21`, `8006/10`, `8010`, `8010/8011`, `8017`, `8018`), on `https://id.gs1.org`,
//! without query string or fragment, GTINs written with 14 digits, and every character
//! other than `A`–`Z a`–`z 0`–`9 - . _ ' ; =` percent-encoded with upper-case hex digits.
//!
//! Anything else — `urn:uuid:…`, `geo:…`, `https://example.com/po/1`, EPC schemes without
//! a GS1 key such as `urn:epc:id:gid:…` — is not a GS1 identifier: it is returned
//! unchanged with [`Identifier::gs1`] false.

use waybill_gs1::digital_link::{uri_unescape_strict, UriComponent};
use waybill_gs1::{check_digit, with_check_digit};

/// The domain of every canonical GS1 Digital Link URI produced here.
pub const CANONICAL_DL_BASE: &str = "https://id.gs1.org";

/// The longest input [`parse`] looks at; longer strings are rejected.
pub const IDENTIFIER_CHARS_MAX: usize = 2048;

/// An identifier read by [`parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    /// The constrained canonical GS1 Digital Link URI for a GS1 identifier; the input,
    /// unchanged, for anything else.
    pub canonical: String,
    /// The GS1 key and key qualifiers the input carried, as (AI, value) pairs in GS1
    /// Digital Link order, values unescaped. A lot next to a serial is listed here even
    /// though [`Identifier::canonical`] drops it. Empty when [`Identifier::gs1`] is false.
    pub elements: Vec<(String, String)>,
    /// Whether the input is a GS1 identifier (an EPC URN with a GS1 key or a GS1 Digital
    /// Link URI).
    pub gs1: bool,
}

impl Identifier {
    /// The value of application identifier `ai`, if the identifier carries it.
    pub fn element(&self, ai: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|(a, _)| a == ai)
            .map(|(_, v)| v.as_str())
    }

    /// The 14-digit GTIN (AI 01) of an SGTIN, LGTIN, UPUI or GTIN.
    pub fn gtin(&self) -> Option<&str> {
        self.element("01")
    }

    /// The batch or lot number (AI 10).
    pub fn lot(&self) -> Option<&str> {
        self.element("10")
    }

    /// The serial number (AI 21) of an SGTIN or ITIP.
    pub fn serial(&self) -> Option<&str> {
        self.element("21")
    }

    /// The 18-digit Serial Shipping Container Code (AI 00).
    pub fn sscc(&self) -> Option<&str> {
        self.element("00")
    }

    /// The 13-digit GLN of a physical location (AI 414) or, failing that, of a party
    /// (AI 417).
    pub fn gln(&self) -> Option<&str> {
        self.element("414").or_else(|| self.element("417"))
    }

    /// The GTIN-level canonical URI `https://id.gs1.org/01/<gtin>` of an identifier that
    /// carries a GTIN (an SGTIN, LGTIN, UPUI or a bare GTIN); `None` otherwise.
    pub fn class_level(&self) -> Option<String> {
        self.gtin()
            .map(|gtin| format!("{CANONICAL_DL_BASE}/01/{gtin}"))
    }
}

/// Why an identifier that looks like a GS1 identifier was rejected. Every variant names
/// the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpcError {
    /// Longer than [`IDENTIFIER_CHARS_MAX`].
    #[error("identifier of {len} characters is longer than the {max} accepted")]
    TooLong {
        /// The length of the input in characters.
        len: usize,
        /// [`IDENTIFIER_CHARS_MAX`].
        max: usize,
    },
    /// An `urn:epc:` URN of a scheme this module does not know.
    #[error("{input}: unknown EPC scheme {scheme:?}")]
    UnknownScheme {
        /// The rejected identifier.
        input: String,
        /// The scheme, e.g. `sgtn`.
        scheme: String,
    },
    /// A URN with the wrong number of dot-separated parts.
    #[error("{input}: expected {expected} dot-separated parts after the scheme, found {found}")]
    PartCount {
        /// The rejected identifier.
        input: String,
        /// How many parts the scheme has.
        expected: usize,
        /// How many the input has.
        found: usize,
    },
    /// A GS1 company prefix that is not 6 to 12 digits.
    #[error("{input}: the GS1 company prefix {prefix:?} must be 6 to 12 digits")]
    CompanyPrefix {
        /// The rejected identifier.
        input: String,
        /// The company prefix part.
        prefix: String,
    },
    /// A part that must be digits has something else.
    #[error("{input}: {part} {value:?} must be digits only")]
    NotDigits {
        /// The rejected identifier.
        input: String,
        /// Which part, e.g. "item reference".
        part: &'static str,
        /// The part's value.
        value: String,
    },
    /// Company prefix and reference together do not have the scheme's fixed length.
    #[error("{input}: company prefix plus {reference} must be {expected} digits, found {found}")]
    KeyDigits {
        /// The rejected identifier.
        input: String,
        /// The name of the reference, e.g. "item reference".
        reference: &'static str,
        /// The number of digits the key needs.
        expected: usize,
        /// The number it has.
        found: usize,
    },
    /// A value longer than its application identifier allows.
    #[error("{input}: {part} {value:?} is longer than {max} characters")]
    ValueTooLong {
        /// The rejected identifier.
        input: String,
        /// Which part, e.g. "serial number".
        part: &'static str,
        /// The unescaped value.
        value: String,
        /// The most characters allowed.
        max: usize,
    },
    /// A required value is empty.
    #[error("{input}: {part} is empty")]
    Empty {
        /// The rejected identifier.
        input: String,
        /// Which part.
        part: &'static str,
    },
    /// A character outside the character set of a GS1 value.
    #[error("{input}: {part} {value:?} has character {found:?}, not allowed in GS1 {charset}")]
    BadCharacter {
        /// The rejected identifier.
        input: String,
        /// Which part.
        part: &'static str,
        /// The unescaped value.
        value: String,
        /// The offending character.
        found: char,
        /// The character set's name, "CSET 82" or "CSET 39".
        charset: &'static str,
    },
    /// A `%` not followed by two hex digits, or an escape that decodes to invalid UTF-8.
    #[error("{input}: malformed percent-escape in {segment:?}")]
    BadEscape {
        /// The rejected identifier.
        input: String,
        /// The escaped text.
        segment: String,
    },
    /// A GS1 key whose check digit is wrong.
    #[error("{input}: {key} {value} has check digit {found}, expected {expected}")]
    CheckDigit {
        /// The rejected identifier.
        input: String,
        /// The key's name, e.g. "GTIN".
        key: &'static str,
        /// The key's digits.
        value: String,
        /// The computed check digit.
        expected: u8,
        /// The check digit the key carries.
        found: u8,
    },
    /// A Digital Link key or qualifier value of the wrong length or form.
    #[error("{input}: {key} value {value:?} must be {expected}")]
    KeyFormat {
        /// The rejected identifier.
        input: String,
        /// The key's name, e.g. "SSCC (AI 00)".
        key: &'static str,
        /// The value.
        value: String,
        /// What the value must be, e.g. "18 digits".
        expected: &'static str,
    },
    /// A Digital Link key qualifier that the primary key does not take, is repeated, or
    /// is combined with one it excludes.
    #[error("{input}: AI {qualifier} is not a key qualifier of AI {key} here")]
    Qualifier {
        /// The rejected identifier.
        input: String,
        /// The primary key's AI.
        key: &'static str,
        /// The offending qualifier's AI.
        qualifier: String,
    },
    /// An EPC pattern whose wildcard covers part of the GS1 key itself.
    #[error("{input}: pattern wildcard must stand only for the serial part")]
    PatternTooBroad {
        /// The rejected identifier.
        input: String,
    },
}

/// Reads an identifier from an EPCIS event and canonicalises it; see the module
/// documentation for what is accepted.
///
/// Strings that are not GS1 identifiers come back unchanged with `gs1: false`; strings
/// that are GS1 identifiers but malformed (wrong lengths, characters or check digits) are
/// errors.
pub fn parse(s: &str) -> Result<Identifier, EpcError> {
    let len = s.chars().count();
    if len > IDENTIFIER_CHARS_MAX {
        return Err(EpcError::TooLong {
            len,
            max: IDENTIFIER_CHARS_MAX,
        });
    }
    if let Some(rest) = s.strip_prefix("urn:epc:id:") {
        return parse_urn(s, UrnKind::Id, rest);
    }
    if let Some(rest) = s.strip_prefix("urn:epc:class:") {
        return parse_urn(s, UrnKind::Class, rest);
    }
    if let Some(rest) = s.strip_prefix("urn:epc:idpat:") {
        return parse_urn(s, UrnKind::Pattern, rest);
    }
    if let Some(path) = http_path(s) {
        if let Some(id) = parse_digital_link(s, path)? {
            return Ok(id);
        }
    }
    Ok(not_gs1(s))
}

fn not_gs1(s: &str) -> Identifier {
    Identifier {
        canonical: s.to_owned(),
        elements: Vec::new(),
        gs1: false,
    }
}

// ---------------------------------------------------------------------------------------
// Application identifiers
// ---------------------------------------------------------------------------------------

/// How a value of an application identifier is checked.
#[derive(Clone, Copy)]
enum Format {
    /// Exactly `n` digits, the last a GS1 check digit.
    DigitsCsum(usize),
    /// A GTIN: 8, 12, 13 or 14 digits with a check digit, normalised to 14.
    Gtin,
    /// `n` digits with a check digit, then up to `max` characters of `tail`.
    CsumThen(usize, usize, Tail),
    /// One to `n` characters of CSET 82.
    Cset82(usize),
    /// One to `n` characters of CSET 39.
    Cset39(usize),
    /// One to `n` digits.
    Digits(usize),
    /// GRAI: `0`, 13 digits with a check digit, then up to 16 characters of CSET 82.
    Grai,
    /// ITIP: a GTIN-14 then piece and total, two digits each.
    Itip,
    /// Exactly 4 characters of CSET 82 (AI 7040).
    Cset82Fixed4,
}

#[derive(Clone, Copy)]
enum Tail {
    Cset82,
    Digits,
}

struct AiInfo {
    ai: &'static str,
    /// The Digital Link short name, if it has one.
    alias: Option<&'static str>,
    /// Name for error messages.
    name: &'static str,
    format: Format,
}

const AIS: &[AiInfo] = &[
    ai("00", Some("sscc"), "SSCC (AI 00)", Format::DigitsCsum(18)),
    ai("01", Some("gtin"), "GTIN (AI 01)", Format::Gtin),
    ai("10", Some("lot"), "batch/lot (AI 10)", Format::Cset82(20)),
    ai("21", Some("ser"), "serial (AI 21)", Format::Cset82(20)),
    ai("22", Some("cpv"), "CPV (AI 22)", Format::Cset82(20)),
    ai("235", Some("tpx"), "TPX (AI 235)", Format::Cset82(28)),
    ai(
        "253",
        Some("gdti"),
        "GDTI (AI 253)",
        Format::CsumThen(13, 17, Tail::Cset82),
    ),
    ai(
        "254",
        Some("glnx"),
        "GLN extension (AI 254)",
        Format::Cset82(20),
    ),
    ai(
        "255",
        Some("gcn"),
        "GCN (AI 255)",
        Format::CsumThen(13, 12, Tail::Digits),
    ),
    ai("401", Some("ginc"), "GINC (AI 401)", Format::Cset82(30)),
    ai("402", Some("gsin"), "GSIN (AI 402)", Format::DigitsCsum(17)),
    ai("414", Some("gln"), "GLN (AI 414)", Format::DigitsCsum(13)),
    ai(
        "417",
        Some("party"),
        "party GLN (AI 417)",
        Format::DigitsCsum(13),
    ),
    ai(
        "7040",
        None,
        "UIC with extension (AI 7040)",
        Format::Cset82Fixed4,
    ),
    ai("8003", Some("grai"), "GRAI (AI 8003)", Format::Grai),
    ai("8004", Some("giai"), "GIAI (AI 8004)", Format::Cset82(30)),
    ai("8006", Some("itip"), "ITIP (AI 8006)", Format::Itip),
    ai("8010", Some("cpid"), "CPID (AI 8010)", Format::Cset39(30)),
    ai(
        "8011",
        Some("cpsn"),
        "CPID serial (AI 8011)",
        Format::Digits(12),
    ),
    ai(
        "8017",
        Some("gsrnp"),
        "GSRN-P (AI 8017)",
        Format::DigitsCsum(18),
    ),
    ai(
        "8018",
        Some("gsrn"),
        "GSRN (AI 8018)",
        Format::DigitsCsum(18),
    ),
    ai("8019", Some("srin"), "SRIN (AI 8019)", Format::Digits(10)),
];

const fn ai(
    ai: &'static str,
    alias: Option<&'static str>,
    name: &'static str,
    format: Format,
) -> AiInfo {
    AiInfo {
        ai,
        alias,
        name,
        format,
    }
}

/// The primary keys a Digital Link path may start with, each with the key qualifier
/// sequences it accepts (each sequence ordered, every member optional).
const PRIMARY_KEYS: &[(&str, &[&[&str]])] = &[
    ("00", &[]),
    ("01", &[&["22", "10", "21"], &["235"]]),
    ("253", &[]),
    ("255", &[]),
    ("401", &[]),
    ("402", &[]),
    ("414", &[&["254"], &["7040"]]),
    ("417", &[&["7040"]]),
    ("8003", &[]),
    ("8004", &[&["7040"]]),
    ("8006", &[&["22", "10", "21"]]),
    ("8010", &[&["8011"]]),
    ("8017", &[&["8019"]]),
    ("8018", &[&["8019"]]),
];

/// The qualifier sequences primary key `ai` accepts (none for a non-key).
fn qualifier_sequences(ai: &str) -> &'static [&'static [&'static str]] {
    PRIMARY_KEYS
        .iter()
        .find(|(k, _)| *k == ai)
        .map_or(&[], |(_, seqs)| *seqs)
}

/// The application identifier a Digital Link path segment names, numeric or short name.
fn ai_of_segment(segment: &str) -> Option<&'static AiInfo> {
    AIS.iter()
        .find(|info| info.ai == segment || info.alias == Some(segment))
}

fn ai_info(code: &str) -> Option<&'static AiInfo> {
    AIS.iter().find(|info| info.ai == code)
}

/// Whether `c` is in GS1 AI encodable character set 82.
fn is_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

/// Whether `c` is in GS1 AI encodable character set 39.
fn is_cset39(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase() || "#-/".contains(c)
}

/// Percent-encodes a value for a canonical Digital Link path segment.
fn dl_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        let c = char::from(b);
        if b.is_ascii_alphanumeric() || "-._';=".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes. `None` on a malformed escape or invalid UTF-8.
fn unescape(text: &str) -> Option<String> {
    let bytes = uri_unescape_strict(text, UriComponent::Path).ok()?;
    String::from_utf8(bytes).ok()
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks the check digit of a digit string of at least two digits.
fn check_csum(input: &str, key: &'static str, digits: &str) -> Result<(), EpcError> {
    if digits.len() < 2 || !all_digits(digits) {
        return Err(EpcError::KeyFormat {
            input: input.to_owned(),
            key,
            value: digits.to_owned(),
            expected: "digits with a check digit",
        });
    }
    let (data, last) = digits.split_at(digits.len() - 1);
    let expected = check_digit(data).map_err(|_| EpcError::KeyFormat {
        input: input.to_owned(),
        key,
        value: digits.to_owned(),
        expected: "digits",
    })?;
    let found = last.as_bytes()[0] - b'0';
    if expected != found {
        return Err(EpcError::CheckDigit {
            input: input.to_owned(),
            key,
            value: digits.to_owned(),
            expected,
            found,
        });
    }
    Ok(())
}

/// Checks the characters of `value` against a character set.
fn check_charset(
    input: &str,
    part: &'static str,
    value: &str,
    charset: &'static str,
    allowed: fn(char) -> bool,
) -> Result<(), EpcError> {
    match value.chars().find(|&c| !allowed(c)) {
        Some(found) => Err(EpcError::BadCharacter {
            input: input.to_owned(),
            part,
            value: value.to_owned(),
            found,
            charset,
        }),
        None => Ok(()),
    }
}

fn check_len(input: &str, part: &'static str, value: &str, max: usize) -> Result<(), EpcError> {
    if value.chars().count() > max {
        return Err(EpcError::ValueTooLong {
            input: input.to_owned(),
            part,
            value: value.to_owned(),
            max,
        });
    }
    Ok(())
}

/// Validates (and for a GTIN, normalises) the unescaped value of an AI.
fn validate_value(input: &str, info: &AiInfo, value: &str) -> Result<String, EpcError> {
    let format_error = |expected: &'static str| EpcError::KeyFormat {
        input: input.to_owned(),
        key: info.name,
        value: value.to_owned(),
        expected,
    };
    if value.is_empty() {
        return Err(EpcError::Empty {
            input: input.to_owned(),
            part: info.name,
        });
    }
    match info.format {
        Format::DigitsCsum(n) => {
            if value.len() != n || !all_digits(value) {
                return Err(format_error(match n {
                    13 => "13 digits",
                    17 => "17 digits",
                    _ => "18 digits",
                }));
            }
            check_csum(input, info.name, value)?;
            Ok(value.to_owned())
        }
        Format::Gtin => {
            if !all_digits(value) || ![8, 12, 13, 14].contains(&value.len()) {
                return Err(format_error("8, 12, 13 or 14 digits"));
            }
            check_csum(input, info.name, value)?;
            Ok(format!("{value:0>14}"))
        }
        Format::CsumThen(n, max, tail) => {
            let key = value.get(..n).filter(|k| all_digits(k));
            let Some(key) = key else {
                return Err(format_error(match tail {
                    Tail::Cset82 => "13 digits then up to 17 characters",
                    Tail::Digits => "13 digits then up to 12 digits",
                }));
            };
            check_csum(input, info.name, key)?;
            let rest = &value[n..];
            check_len(input, info.name, rest, max)?;
            match tail {
                Tail::Cset82 => check_charset(input, info.name, rest, "CSET 82", is_cset82)?,
                Tail::Digits => {
                    if !rest.is_empty() && !all_digits(rest) {
                        return Err(format_error("13 digits then up to 12 digits"));
                    }
                }
            }
            Ok(value.to_owned())
        }
        Format::Cset82(max) => {
            check_len(input, info.name, value, max)?;
            check_charset(input, info.name, value, "CSET 82", is_cset82)?;
            Ok(value.to_owned())
        }
        Format::Cset39(max) => {
            check_len(input, info.name, value, max)?;
            check_charset(input, info.name, value, "CSET 39", is_cset39)?;
            Ok(value.to_owned())
        }
        Format::Digits(max) => {
            if !all_digits(value) {
                return Err(EpcError::NotDigits {
                    input: input.to_owned(),
                    part: info.name,
                    value: value.to_owned(),
                });
            }
            check_len(input, info.name, value, max)?;
            Ok(value.to_owned())
        }
        Format::Grai => {
            let key = value
                .get(..14)
                .filter(|k| all_digits(k) && k.starts_with('0'));
            let Some(key) = key else {
                return Err(format_error("0, 13 digits, then up to 16 characters"));
            };
            check_csum(input, info.name, &key[1..])?;
            let rest = &value[14..];
            check_len(input, info.name, rest, 16)?;
            check_charset(input, info.name, rest, "CSET 82", is_cset82)?;
            Ok(value.to_owned())
        }
        Format::Itip => {
            if value.len() != 18 || !all_digits(value) {
                return Err(format_error("18 digits (GTIN, piece, total)"));
            }
            check_csum(input, info.name, &value[..14])?;
            let piece: u8 = value[14..16].parse().unwrap_or(0);
            let total: u8 = value[16..18].parse().unwrap_or(0);
            if piece == 0 || total == 0 || piece > total {
                return Err(format_error(
                    "a GTIN then piece and total of 01 to 99, piece <= total",
                ));
            }
            Ok(value.to_owned())
        }
        Format::Cset82Fixed4 => {
            if value.chars().count() != 4 {
                return Err(format_error("4 characters"));
            }
            check_charset(input, info.name, value, "CSET 82", is_cset82)?;
            Ok(value.to_owned())
        }
    }
}

// ---------------------------------------------------------------------------------------
// GS1 Digital Link
// ---------------------------------------------------------------------------------------

/// The path of an `http://` or `https://` URI with an authority, without query string
/// and fragment.
fn http_path(s: &str) -> Option<&str> {
    let (scheme, rest) = s.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let rest = &rest[..end];
    let path_start = rest.find('/')?;
    Some(&rest[path_start..])
}

/// Parses the path of an HTTP(S) URI as a GS1 Digital Link. `Ok(None)` when no suffix of
/// the path has the shape primary-key/value[/qualifier/value]*.
fn parse_digital_link(input: &str, path: &str) -> Result<Option<Identifier>, EpcError> {
    let mut segments: Vec<&str> = path.split('/').skip(1).collect();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    let start = (0..segments.len()).find(|&i| {
        (segments.len() - i).is_multiple_of(2)
            && ai_of_segment(segments[i]).is_some_and(|key| {
                let sequences = qualifier_sequences(key.ai);
                segments[i + 2..].iter().step_by(2).all(|q| {
                    ai_of_segment(q)
                        .is_some_and(|q| sequences.iter().any(|seq| seq.contains(&q.ai)))
                }) && PRIMARY_KEYS.iter().any(|(k, _)| *k == key.ai)
            })
    });
    let Some(start) = start else {
        return Ok(None);
    };
    let mut pairs = Vec::new();
    for pair in segments[start..].chunks(2) {
        let info = ai_of_segment(pair[0]).expect("checked when the start was found");
        let raw = unescape(pair[1]).ok_or_else(|| EpcError::BadEscape {
            input: input.to_owned(),
            segment: pair[1].to_owned(),
        })?;
        pairs.push((info, validate_value(input, info, &raw)?));
    }
    let (key, key_value) = pairs.remove(0);
    let sequences = qualifier_sequences(key.ai);
    // Put the qualifiers in the order of the one sequence that holds them all.
    let mut ordered: Vec<(String, String)> = vec![(key.ai.to_owned(), key_value)];
    if !pairs.is_empty() {
        let seq = sequences
            .iter()
            .find(|seq| pairs.iter().all(|(q, _)| seq.contains(&q.ai)));
        let Some(seq) = seq else {
            let bad = pairs
                .iter()
                .find(|(q, _)| !sequences.iter().any(|seq| seq.contains(&q.ai)))
                .unwrap_or(&pairs[0]);
            return Err(EpcError::Qualifier {
                input: input.to_owned(),
                key: key.ai,
                qualifier: bad.0.ai.to_owned(),
            });
        };
        for q in seq.iter() {
            let mut found = pairs.iter().filter(|(info, _)| info.ai == *q);
            if let Some((_, value)) = found.next() {
                if found.next().is_some() {
                    return Err(EpcError::Qualifier {
                        input: input.to_owned(),
                        key: key.ai,
                        qualifier: (*q).to_owned(),
                    });
                }
                ordered.push(((*q).to_owned(), value.clone()));
            }
        }
    }
    Ok(Some(gs1_identifier(ordered)))
}

/// Builds the identifier and its constrained canonical URI from key-first elements.
fn gs1_identifier(elements: Vec<(String, String)>) -> Identifier {
    let key = elements[0].0.as_str();
    let keep: &[&str] = match key {
        "01" => &["21", "10", "235"],
        "8006" => &["21", "10"],
        "414" => &["254"],
        "8010" => &["8011"],
        _ => &[],
    };
    let qualifier = keep
        .iter()
        .find_map(|q| elements.iter().skip(1).find(|(ai, _)| ai == q));
    let mut canonical = format!("{CANONICAL_DL_BASE}/{}/{}", key, dl_escape(&elements[0].1));
    if let Some((ai, value)) = qualifier {
        canonical.push_str(&format!("/{ai}/{}", dl_escape(value)));
    }
    Identifier {
        canonical,
        elements,
        gs1: true,
    }
}

// ---------------------------------------------------------------------------------------
// EPC URNs
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum UrnKind {
    Id,
    Class,
    Pattern,
}

/// EPC schemes without a GS1 key: valid EPCs, but not GS1 identifiers.
const NON_GS1_SCHEMES: &[&str] = &["gid", "usdod", "adi", "bic", "imovn"];

struct Urn<'a> {
    input: &'a str,
    parts: Vec<&'a str>,
    pattern: bool,
}

impl<'a> Urn<'a> {
    fn expect_parts(&self, n: usize) -> Result<(), EpcError> {
        if self.parts.len() != n {
            return Err(EpcError::PartCount {
                input: self.input.to_owned(),
                expected: n,
                found: self.parts.len(),
            });
        }
        Ok(())
    }

    /// Whether part `i` is the pattern wildcard `*`.
    fn is_wild(&self, i: usize) -> bool {
        self.pattern && self.parts[i] == "*"
    }

    /// Rejects a wildcard in any of the parts before `i`.
    fn no_wild_before(&self, i: usize) -> Result<(), EpcError> {
        if self.pattern && self.parts[..i].iter().any(|p| p.contains('*')) {
            return Err(EpcError::PatternTooBroad {
                input: self.input.to_owned(),
            });
        }
        Ok(())
    }

    fn company_prefix(&self) -> Result<&'a str, EpcError> {
        let cp = self.parts[0];
        if !(6..=12).contains(&cp.len()) || !all_digits(cp) {
            return Err(EpcError::CompanyPrefix {
                input: self.input.to_owned(),
                prefix: cp.to_owned(),
            });
        }
        Ok(cp)
    }

    /// Company prefix and the numeric reference in part 1, `total` digits together.
    fn fixed_key(
        &self,
        reference: &'static str,
        total: usize,
    ) -> Result<(&'a str, &'a str), EpcError> {
        let cp = self.company_prefix()?;
        let r = self.parts[1];
        if !r.is_empty() && !all_digits(r) {
            return Err(EpcError::NotDigits {
                input: self.input.to_owned(),
                part: reference,
                value: r.to_owned(),
            });
        }
        if cp.len() + r.len() != total {
            return Err(EpcError::KeyDigits {
                input: self.input.to_owned(),
                reference,
                expected: total,
                found: cp.len() + r.len(),
            });
        }
        Ok((cp, r))
    }

    /// A GTIN-14 from company prefix and item reference (indicator digit first).
    fn gtin(&self) -> Result<String, EpcError> {
        let (cp, item) = self.fixed_key("item reference", 13)?;
        if item.is_empty() {
            return Err(EpcError::KeyDigits {
                input: self.input.to_owned(),
                reference: "item reference",
                expected: 13,
                found: cp.len(),
            });
        }
        self.with_check(&format!("{}{cp}{}", &item[..1], &item[1..]))
    }

    fn with_check(&self, data: &str) -> Result<String, EpcError> {
        with_check_digit(data).map_err(|_| EpcError::NotDigits {
            input: self.input.to_owned(),
            part: "key",
            value: data.to_owned(),
        })
    }

    /// The unescaped text of part `i`, checked against CSET 82 and a length limit.
    fn text(
        &self,
        i: usize,
        part: &'static str,
        max: usize,
        allow_empty: bool,
    ) -> Result<String, EpcError> {
        let raw = self.parts[i];
        let value = unescape(raw).ok_or_else(|| EpcError::BadEscape {
            input: self.input.to_owned(),
            segment: raw.to_owned(),
        })?;
        if value.is_empty() && !allow_empty {
            return Err(EpcError::Empty {
                input: self.input.to_owned(),
                part,
            });
        }
        check_len(self.input, part, &value, max)?;
        check_charset(self.input, part, &value, "CSET 82", is_cset82)?;
        Ok(value)
    }

    /// Part `i` as up to `max` digits (possibly none).
    fn digits(&self, i: usize, part: &'static str, max: usize) -> Result<&'a str, EpcError> {
        let value = self.parts[i];
        if !value.is_empty() && !all_digits(value) {
            return Err(EpcError::NotDigits {
                input: self.input.to_owned(),
                part,
                value: value.to_owned(),
            });
        }
        check_len(self.input, part, value, max)?;
        Ok(value)
    }
}

fn parse_urn(input: &str, kind: UrnKind, rest: &str) -> Result<Identifier, EpcError> {
    let (scheme, body) = rest.split_once(':').unwrap_or((rest, ""));
    if kind == UrnKind::Id && NON_GS1_SCHEMES.contains(&scheme) {
        return Ok(not_gs1(input));
    }
    let urn = Urn {
        input,
        parts: body.split('.').collect(),
        pattern: kind == UrnKind::Pattern,
    };
    let unknown = || EpcError::UnknownScheme {
        input: input.to_owned(),
        scheme: scheme.to_owned(),
    };
    let elements: Vec<(String, String)> = match kind {
        UrnKind::Class => match scheme {
            "lgtin" => {
                urn.expect_parts(3)?;
                let gtin = urn.gtin()?;
                let lot = urn.text(2, "lot", 20, false)?;
                vec![("01".into(), gtin), ("10".into(), lot)]
            }
            _ => return Err(unknown()),
        },
        UrnKind::Id | UrnKind::Pattern => match id_elements(&urn, scheme)? {
            Some(elements) => elements,
            None => return Err(unknown()),
        },
    };
    Ok(gs1_identifier(elements))
}

/// The AI elements of a pure identity or pattern URN body; `None` for an unknown scheme.
fn id_elements(urn: &Urn<'_>, scheme: &str) -> Result<Option<Vec<(String, String)>>, EpcError> {
    let e = |ai: &str, v: String| (ai.to_owned(), v);
    let patternless = |urn: &Urn<'_>| urn.no_wild_before(urn.parts.len());
    Ok(Some(match scheme {
        "sgtin" => {
            urn.expect_parts(3)?;
            urn.no_wild_before(2)?;
            let gtin = urn.gtin()?;
            if urn.is_wild(2) {
                vec![e("01", gtin)]
            } else {
                vec![
                    e("01", gtin),
                    e("21", urn.text(2, "serial number", 20, false)?),
                ]
            }
        }
        "upui" => {
            urn.expect_parts(3)?;
            urn.no_wild_before(2)?;
            let gtin = urn.gtin()?;
            if urn.is_wild(2) {
                vec![e("01", gtin)]
            } else {
                vec![
                    e("01", gtin),
                    e(
                        "235",
                        urn.text(2, "third party controlled serial", 28, false)?,
                    ),
                ]
            }
        }
        "itip" => {
            urn.expect_parts(5)?;
            urn.no_wild_before(4)?;
            let gtin = urn.gtin()?;
            let piece = urn.parts[2];
            let total = urn.parts[3];
            if piece.len() != 2 || total.len() != 2 || !all_digits(piece) || !all_digits(total) {
                return Err(EpcError::NotDigits {
                    input: urn.input.to_owned(),
                    part: "piece and total (two digits each)",
                    value: format!("{piece}.{total}"),
                });
            }
            let itip = format!("{gtin}{piece}{total}");
            let itip = validate_value(
                urn.input,
                ai_info("8006").expect("8006 is in the table"),
                &itip,
            )?;
            if urn.is_wild(4) {
                vec![e("8006", itip)]
            } else {
                vec![
                    e("8006", itip),
                    e("21", urn.text(4, "serial number", 20, false)?),
                ]
            }
        }
        "sscc" => {
            urn.expect_parts(2)?;
            patternless(urn)?;
            let (cp, serial) = urn.fixed_key("serial reference", 17)?;
            let sscc = urn.with_check(&format!("{}{cp}{}", &serial[..1], &serial[1..]))?;
            vec![e("00", sscc)]
        }
        "sgln" => {
            urn.expect_parts(3)?;
            urn.no_wild_before(2)?;
            let (cp, loc) = urn.fixed_key("location reference", 12)?;
            let gln = urn.with_check(&format!("{cp}{loc}"))?;
            if urn.is_wild(2) || urn.parts[2] == "0" {
                vec![e("414", gln)]
            } else {
                vec![
                    e("414", gln),
                    e("254", urn.text(2, "extension", 20, false)?),
                ]
            }
        }
        "pgln" => {
            urn.expect_parts(2)?;
            patternless(urn)?;
            let (cp, party) = urn.fixed_key("party reference", 12)?;
            vec![e("417", urn.with_check(&format!("{cp}{party}"))?)]
        }
        "grai" => {
            urn.expect_parts(3)?;
            urn.no_wild_before(2)?;
            let (cp, asset) = urn.fixed_key("asset type", 12)?;
            let mut grai = urn.with_check(&format!("0{cp}{asset}"))?;
            if !urn.is_wild(2) {
                grai.push_str(&urn.text(2, "serial number", 16, true)?);
            }
            vec![e("8003", grai)]
        }
        "gdti" => {
            urn.expect_parts(3)?;
            urn.no_wild_before(2)?;
            let (cp, doc) = urn.fixed_key("document type", 12)?;
            let mut gdti = urn.with_check(&format!("{cp}{doc}"))?;
            if !urn.is_wild(2) {
                gdti.push_str(&urn.text(2, "serial number", 17, true)?);
            }
            vec![e("253", gdti)]
        }
        "sgcn" => {
            urn.expect_parts(3)?;
            urn.no_wild_before(2)?;
            let (cp, coupon) = urn.fixed_key("coupon reference", 12)?;
            let mut gcn = urn.with_check(&format!("{cp}{coupon}"))?;
            if !urn.is_wild(2) {
                gcn.push_str(urn.digits(2, "serial component", 12)?);
            }
            vec![e("255", gcn)]
        }
        "gsrn" | "gsrnp" => {
            urn.expect_parts(2)?;
            patternless(urn)?;
            let (cp, service) = urn.fixed_key("service reference", 17)?;
            let ai = if scheme == "gsrn" { "8018" } else { "8017" };
            vec![e(ai, urn.with_check(&format!("{cp}{service}"))?)]
        }
        "gsin" => {
            urn.expect_parts(2)?;
            patternless(urn)?;
            let (cp, shipper) = urn.fixed_key("shipper reference", 16)?;
            vec![e("402", urn.with_check(&format!("{cp}{shipper}"))?)]
        }
        "giai" | "ginc" => {
            urn.expect_parts(2)?;
            patternless(urn)?;
            let cp = urn.company_prefix()?;
            let (part, ai) = if scheme == "giai" {
                ("individual asset reference", "8004")
            } else {
                ("consignment reference", "401")
            };
            let reference = urn.text(1, part, 30 - cp.len(), false)?;
            vec![e(ai, format!("{cp}{reference}"))]
        }
        "cpi" => {
            urn.expect_parts(3)?;
            urn.no_wild_before(2)?;
            let cp = urn.company_prefix()?;
            let raw = urn.parts[1];
            let cpref = unescape(raw).ok_or_else(|| EpcError::BadEscape {
                input: urn.input.to_owned(),
                segment: raw.to_owned(),
            })?;
            if cpref.is_empty() {
                return Err(EpcError::Empty {
                    input: urn.input.to_owned(),
                    part: "component/part reference",
                });
            }
            check_len(urn.input, "component/part reference", &cpref, 30 - cp.len())?;
            check_charset(
                urn.input,
                "component/part reference",
                &cpref,
                "CSET 39",
                is_cset39,
            )?;
            let cpid = format!("{cp}{cpref}");
            if urn.is_wild(2) {
                vec![e("8010", cpid)]
            } else {
                let serial = urn.digits(2, "serial number", 12)?;
                if serial.is_empty() {
                    return Err(EpcError::Empty {
                        input: urn.input.to_owned(),
                        part: "serial number",
                    });
                }
                vec![e("8010", cpid), e("8011", serial.to_owned())]
            }
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        match parse(s) {
            Ok(id) => id.canonical,
            Err(e) => panic!("{s} should parse: {e}"),
        }
    }

    #[test]
    fn escaping_keeps_the_unreserved_set() {
        assert_eq!(dl_escape("AZaz09-._';="), "AZaz09-._';=");
        assert_eq!(
            dl_escape("!\"%&()*+,/:<>?"),
            "%21%22%25%26%28%29%2A%2B%2C%2F%3A%3C%3E%3F"
        );
        assert_eq!(unescape("a%2Fb%2f"), Some("a/b/".into()));
        assert_eq!(unescape("a%2"), None);
        assert_eq!(unescape("a%zz"), None);
    }

    #[test]
    fn digital_link_segment_search() {
        assert_eq!(
            canon("https://example.com/some/prefix/01/09780345418913/21/x?linkType=all#frag"),
            "https://id.gs1.org/01/09780345418913/21/x"
        );
        // A path that only looks like an AI path at its end.
        assert_eq!(
            canon("https://example.com/01/abc/414/4012345000115"),
            "https://id.gs1.org/414/4012345000115"
        );
        assert!(!parse("https://example.com/po/12345").expect("not gs1").gs1);
        assert!(!parse("https://example.com/").expect("not gs1").gs1);
        assert!(
            !parse("ftp://example.com/01/09780345418913")
                .expect("not gs1")
                .gs1
        );
    }
}
