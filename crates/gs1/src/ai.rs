//! GS1 Application Identifiers (AIs): the table of every AI with its format, and the
//! rules that check AI values and combinations of AIs.
//!
//! The table follows the GS1 General Specifications (section 3, "GS1 Application
//! Identifier definitions"): each AI's data title, the components of its data field
//! (numeric `N`, CSET 82 `X`, CSET 39 `Y` or CSET 64 `Z`, fixed or variable length, with
//! content checks such as the mod-10 check digit), whether it has a predefined length (no
//! FNC1 separator needed after it), the GS1 Digital Link rules (primary keys, their
//! qualifier paths, and which AIs may be URI data attributes), and the pairing rules
//! (AIs that require or exclude others).
//!
//! Element strings are written in bracketed form, `(01)09521234543213(10)ABC`, where a
//! literal `(` in a value is escaped as `\(`; [`element_string`] gives the unbracketed
//! form with `^` standing for FNC1.

use std::fmt;

use crate::percent::check_escapes;
use crate::{verify_check_digit, Gs1Error};

/// The character set of an AI data component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// `N`: digits `0`–`9`.
    Numeric,
    /// `X`: GS1 AI encodable character set 82 (printable ASCII without space, `#`, `$`,
    /// `@`, `[`, `\`, `]`, `^`, `` ` ``, `{`, `|`, `}` and `~`).
    Cset82,
    /// `Y`: GS1 AI encodable character set 39 (`#`, `-`, `/`, digits, upper-case letters).
    Cset39,
    /// `Z`: GS1 AI encodable character set 64 (URL- and file-safe base64: letters,
    /// digits, `-`, `_`, with `=` only as trailing padding).
    Cset64,
}

impl Charset {
    /// The one-letter code the GS1 specifications use: `N`, `X`, `Y` or `Z`.
    pub fn code(self) -> char {
        match self {
            Charset::Numeric => 'N',
            Charset::Cset82 => 'X',
            Charset::Cset39 => 'Y',
            Charset::Cset64 => 'Z',
        }
    }

    /// Whether `c` belongs to the set (ignoring the trailing-only rule for `=` in CSET 64,
    /// which [`validate_value`] applies).
    pub fn contains(self, c: char) -> bool {
        match self {
            Charset::Numeric => c.is_ascii_digit(),
            Charset::Cset82 => {
                c.is_ascii_alphanumeric()
                    || matches!(
                        c,
                        '!' | '"'
                            | '%'
                            | '&'
                            | '\''
                            | '('
                            | ')'
                            | '*'
                            | '+'
                            | ','
                            | '-'
                            | '.'
                            | '/'
                            | ':'
                            | ';'
                            | '<'
                            | '='
                            | '>'
                            | '?'
                            | '_'
                    )
            }
            Charset::Cset39 => {
                c.is_ascii_digit() || c.is_ascii_uppercase() || matches!(c, '#' | '-' | '/')
            }
            Charset::Cset64 => c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='),
        }
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Charset::Numeric => "digits (N)",
            Charset::Cset82 => "GS1 character set 82 (X)",
            Charset::Cset39 => "GS1 character set 39 (Y)",
            Charset::Cset64 => "GS1 character set 64 (Z)",
        })
    }
}

/// A content check applied to one component of an AI value, named as in the GS1 Barcode
/// Syntax Tests.
///
/// Checks that need large external code lists (country, currency and package type
/// codes), coupon structures and GS1 Company Prefix positions are recorded in the table
/// but not enforced: [`Linter::is_enforced`] says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Linter {
    /// GS1 mod-10 check digit in the last position.
    Csum,
    /// GS1 check character pair for alphanumeric keys (GMN, MUDI) in the last two
    /// positions.
    CsumAlpha,
    /// Position of a GS1 Company Prefix starting at the first character (not enforced).
    GcpPos1,
    /// Position of a GS1 Company Prefix starting at the second character (not enforced).
    GcpPos2,
    /// A date `YYMMDD` where the day may be `00` (end of month).
    Yymmd0,
    /// A date `YYMMDD`.
    Yymmdd,
    /// A date `YYYYMMDD`.
    Yyyymmdd,
    /// A time `HHMI`.
    Hhmi,
    /// Hours `HH`, 00–23.
    Hh,
    /// Minutes `MI`, 00–59.
    Mi,
    /// Seconds `SS`, 00–59.
    Ss,
    /// An ISO 3166 numeric country code (not enforced).
    Iso3166,
    /// An ISO 3166 numeric country code or `999` (not enforced).
    Iso3166999,
    /// An ISO 3166 alpha-2 country code (not enforced).
    Iso3166Alpha2,
    /// An ISO 4217 numeric currency code (not enforced).
    Iso4217,
    /// An ISO/IEC 5218 sex code: 0, 1, 2 or 9.
    Iso5218,
    /// An International Bank Account Number with valid mod-97 check digits.
    Iban,
    /// Valid percent-encoding: every `%` is followed by two hex digits.
    Pcenc,
    /// `0` or `1`.
    YesNo,
    /// Only hyphens (the sign of a negative temperature).
    Hyphen,
    /// Not all zeros.
    NonZero,
    /// Only zeros.
    Zero,
    /// Roll winding direction: 0, 1 or 9.
    Winding,
    /// Piece number and total count `PPTT`: 1 ≤ piece ≤ total.
    PieceOfTotal,
    /// No leading zero unless the value is `0`.
    NoZeroPrefix,
    /// At least one character that is not a digit.
    HasNonDigit,
    /// Latitude in ten-millionths of a degree offset by 90°: at most 1800000000.
    Latitude,
    /// Longitude in ten-millionths of a degree offset by 180°: at most 3600000000.
    Longitude,
    /// AIDC media type code (not enforced).
    MediaType,
    /// Position in a sequence `n/m` with 1 ≤ n ≤ m ≤ 9.
    PosInSeqSlash,
    /// Importer index: one character of `-`, `_`, digits or letters.
    ImporterIdx,
    /// UN/ECE Recommendation 21 package type code (not enforced).
    PackageType,
    /// North American coupon code structure (not enforced).
    CouponCode,
    /// Positive offer file coupon code structure (not enforced).
    CouponPosOffer,
}

/// Why a [`Linter`] rejected a component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LintFailure {
    /// A check digit or check character pair does not match the data before it.
    #[error("has check {what} {found}, expected {expected}")]
    CheckMismatch {
        /// `digit` or `characters`.
        what: &'static str,
        /// The check digit or pair the value carries.
        found: String,
        /// The check digit or pair computed from the data.
        expected: String,
    },
    /// Too short to carry a check digit or check character pair.
    #[error("is too short to carry a check {what}")]
    TooShortForCheck {
        /// `digit` or `characters`.
        what: &'static str,
    },
    /// A character that the check does not accept.
    #[error("has {found:?} at position {position}, where only {expected} are allowed")]
    BadCharacter {
        /// The 1-based position in the component.
        position: usize,
        /// The offending character.
        found: char,
        /// What is allowed there.
        expected: &'static str,
    },
    /// Any other content problem, described in words.
    #[error("{0}")]
    Invalid(String),
}

impl Linter {
    /// Every linter, for iteration.
    pub const ALL: &'static [Linter] = &[
        Linter::Csum,
        Linter::CsumAlpha,
        Linter::GcpPos1,
        Linter::GcpPos2,
        Linter::Yymmd0,
        Linter::Yymmdd,
        Linter::Yyyymmdd,
        Linter::Hhmi,
        Linter::Hh,
        Linter::Mi,
        Linter::Ss,
        Linter::Iso3166,
        Linter::Iso3166999,
        Linter::Iso3166Alpha2,
        Linter::Iso4217,
        Linter::Iso5218,
        Linter::Iban,
        Linter::Pcenc,
        Linter::YesNo,
        Linter::Hyphen,
        Linter::NonZero,
        Linter::Zero,
        Linter::Winding,
        Linter::PieceOfTotal,
        Linter::NoZeroPrefix,
        Linter::HasNonDigit,
        Linter::Latitude,
        Linter::Longitude,
        Linter::MediaType,
        Linter::PosInSeqSlash,
        Linter::ImporterIdx,
        Linter::PackageType,
        Linter::CouponCode,
        Linter::CouponPosOffer,
    ];

    /// The name of the check in the GS1 Barcode Syntax Tests, e.g. `csum`, `yymmd0`.
    pub fn name(self) -> &'static str {
        match self {
            Linter::Csum => "csum",
            Linter::CsumAlpha => "csumalpha",
            Linter::GcpPos1 => "gcppos1",
            Linter::GcpPos2 => "gcppos2",
            Linter::Yymmd0 => "yymmd0",
            Linter::Yymmdd => "yymmdd",
            Linter::Yyyymmdd => "yyyymmdd",
            Linter::Hhmi => "hhmi",
            Linter::Hh => "hh",
            Linter::Mi => "mi",
            Linter::Ss => "ss",
            Linter::Iso3166 => "iso3166",
            Linter::Iso3166999 => "iso3166999",
            Linter::Iso3166Alpha2 => "iso3166alpha2",
            Linter::Iso4217 => "iso4217",
            Linter::Iso5218 => "iso5218",
            Linter::Iban => "iban",
            Linter::Pcenc => "pcenc",
            Linter::YesNo => "yesno",
            Linter::Hyphen => "hyphen",
            Linter::NonZero => "nonzero",
            Linter::Zero => "zero",
            Linter::Winding => "winding",
            Linter::PieceOfTotal => "pieceoftotal",
            Linter::NoZeroPrefix => "nozeroprefix",
            Linter::HasNonDigit => "hasnondigit",
            Linter::Latitude => "latitude",
            Linter::Longitude => "longitude",
            Linter::MediaType => "mediatype",
            Linter::PosInSeqSlash => "posinseqslash",
            Linter::ImporterIdx => "importeridx",
            Linter::PackageType => "packagetype",
            Linter::CouponCode => "couponcode",
            Linter::CouponPosOffer => "couponposoffer",
        }
    }

    /// The linter with the given syntax-test name.
    pub fn from_name(name: &str) -> Option<Linter> {
        Linter::ALL.iter().copied().find(|l| l.name() == name)
    }

    /// Whether [`Linter::check`] enforces this rule (`false` for the code-list, coupon
    /// and company-prefix checks, which accept anything).
    pub fn is_enforced(self) -> bool {
        !matches!(
            self,
            Linter::GcpPos1
                | Linter::GcpPos2
                | Linter::Iso3166
                | Linter::Iso3166999
                | Linter::Iso3166Alpha2
                | Linter::Iso4217
                | Linter::MediaType
                | Linter::PackageType
                | Linter::CouponCode
                | Linter::CouponPosOffer
        )
    }

    /// Applies the check to one component of a value (already checked against its
    /// character set and length).
    pub fn check(self, component: &str) -> Result<(), LintFailure> {
        match self {
            Linter::Csum => lint_csum(component),
            Linter::CsumAlpha => lint_csum_alpha(component),
            Linter::Yymmd0 => lint_date(component, false, true),
            Linter::Yymmdd => lint_date(component, false, false),
            Linter::Yyyymmdd => lint_date(component, true, false),
            Linter::Hhmi => {
                let (hh, mi) = split_at_checked(component, 2)?;
                lint_number_range(hh, "hour", 0, 23)?;
                lint_number_range(mi, "minute", 0, 59)
            }
            Linter::Hh => lint_number_range(component, "hour", 0, 23),
            Linter::Mi => lint_number_range(component, "minute", 0, 59),
            Linter::Ss => lint_number_range(component, "second", 0, 59),
            Linter::Iso5218 => lint_one_of(component, &["0", "1", "2", "9"]),
            Linter::Iban => lint_iban(component),
            Linter::Pcenc => lint_pcenc(component),
            Linter::YesNo => lint_one_of(component, &["0", "1"]),
            Linter::Winding => lint_one_of(component, &["0", "1", "9"]),
            Linter::Hyphen => match component.char_indices().find(|&(_, c)| c != '-') {
                Some((i, found)) => Err(LintFailure::BadCharacter {
                    position: i + 1,
                    found,
                    expected: "hyphens",
                }),
                None => Ok(()),
            },
            Linter::NonZero => {
                if component.bytes().all(|b| b == b'0') {
                    Err(LintFailure::Invalid("must not be all zeros".into()))
                } else {
                    Ok(())
                }
            }
            Linter::Zero => match component.char_indices().find(|&(_, c)| c != '0') {
                Some((i, found)) => Err(LintFailure::BadCharacter {
                    position: i + 1,
                    found,
                    expected: "zeros",
                }),
                None => Ok(()),
            },
            Linter::PieceOfTotal => {
                let (piece, total) = split_at_checked(component, component.len() / 2)?;
                let piece = parse_number(piece)?;
                let total = parse_number(total)?;
                if piece == 0 || total == 0 || piece > total {
                    Err(LintFailure::Invalid(format!(
                        "piece {piece} of {total} is not a valid piece number and total \
                         (need 1 <= piece <= total)"
                    )))
                } else {
                    Ok(())
                }
            }
            Linter::NoZeroPrefix => {
                if component.len() > 1 && component.starts_with('0') {
                    Err(LintFailure::Invalid("must not start with 0".into()))
                } else {
                    Ok(())
                }
            }
            Linter::HasNonDigit => {
                if component.bytes().all(|b| b.is_ascii_digit()) {
                    Err(LintFailure::Invalid(
                        "must contain at least one character that is not a digit".into(),
                    ))
                } else {
                    Ok(())
                }
            }
            Linter::Latitude => lint_number_range(component, "latitude", 0, 1_800_000_000),
            Linter::Longitude => lint_number_range(component, "longitude", 0, 3_600_000_000),
            Linter::PosInSeqSlash => {
                let b = component.as_bytes();
                let ok = matches!(b, [n @ b'1'..=b'9', b'/', m @ b'1'..=b'9'] if n <= m);
                if ok {
                    Ok(())
                } else {
                    Err(LintFailure::Invalid(
                        "must be a position in a sequence such as 1/2 (1 <= n <= m <= 9)".into(),
                    ))
                }
            }
            Linter::ImporterIdx => {
                let ok = component.len() == 1
                    && component
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if ok {
                    Ok(())
                } else {
                    Err(LintFailure::Invalid(
                        "must be one importer index character (-, _, digit or letter)".into(),
                    ))
                }
            }
            Linter::GcpPos1
            | Linter::GcpPos2
            | Linter::Iso3166
            | Linter::Iso3166999
            | Linter::Iso3166Alpha2
            | Linter::Iso4217
            | Linter::MediaType
            | Linter::PackageType
            | Linter::CouponCode
            | Linter::CouponPosOffer => Ok(()),
        }
    }
}

impl fmt::Display for Linter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Splits `s` (ASCII) at byte `mid`, or reports it as too short.
fn split_at_checked(s: &str, mid: usize) -> Result<(&str, &str), LintFailure> {
    match (s.get(..mid), s.get(mid..)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(LintFailure::Invalid(format!("`{s}` is too short"))),
    }
}

/// A digit string as a number.
fn parse_number(s: &str) -> Result<u64, LintFailure> {
    if let Some((i, found)) = s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(LintFailure::BadCharacter {
            position: i + 1,
            found,
            expected: "digits",
        });
    }
    s.parse::<u64>()
        .map_err(|_| LintFailure::Invalid(format!("`{s}` is not a number")))
}

fn lint_number_range(s: &str, what: &str, min: u64, max: u64) -> Result<(), LintFailure> {
    let n = parse_number(s)?;
    if n < min || n > max {
        Err(LintFailure::Invalid(format!(
            "{what} {s} is out of range ({min}..={max})"
        )))
    } else {
        Ok(())
    }
}

fn lint_one_of(s: &str, allowed: &[&str]) -> Result<(), LintFailure> {
    if allowed.contains(&s) {
        Ok(())
    } else {
        Err(LintFailure::Invalid(format!(
            "`{s}` is not one of {}",
            allowed.join(", ")
        )))
    }
}

fn lint_csum(s: &str) -> Result<(), LintFailure> {
    match verify_check_digit(s) {
        Ok(()) => Ok(()),
        Err(Gs1Error::CheckDigitMismatch {
            expected, found, ..
        }) => Err(LintFailure::CheckMismatch {
            what: "digit",
            found: found.to_string(),
            expected: expected.to_string(),
        }),
        Err(Gs1Error::NonDigit {
            position, found, ..
        }) => Err(LintFailure::BadCharacter {
            position,
            found,
            expected: "digits",
        }),
        Err(Gs1Error::TooShort { .. } | Gs1Error::WrongLength { .. }) => {
            Err(LintFailure::TooShortForCheck { what: "digit" })
        }
    }
}

/// CSET 82 in the order that gives each character its value 0–81 for the check
/// character pair calculation.
const CSET82_ORDER: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/// The 32 characters a check character can take.
const CSET32: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Prime weights for the check character pair, decreasing from left to right: the last
/// data character takes 2, the one before it 3, and so on.
const CSUM_ALPHA_WEIGHTS: [u32; 23] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
];

/// The GS1 check character pair (General Specifications 7.9.5) of `data`, which must be
/// at most 23 CSET 82 characters.
fn check_character_pair(data: &str) -> Result<[char; 2], LintFailure> {
    let len = data.chars().count();
    if len > CSUM_ALPHA_WEIGHTS.len() {
        return Err(LintFailure::Invalid(
            "has more than 23 characters before the check pair".into(),
        ));
    }
    let mut sum: u32 = 0;
    for (i, c) in data.chars().enumerate() {
        let value = CSET82_ORDER.find(c).ok_or(LintFailure::BadCharacter {
            position: i + 1,
            found: c,
            expected: "GS1 character set 82 characters",
        })?;
        let weight = CSUM_ALPHA_WEIGHTS[len - 1 - i];
        // `value` < 82 and `weight` <= 83: no overflow for 23 terms.
        sum += u32::try_from(value).unwrap_or(0) * weight;
    }
    let sum = (sum % 1021) as usize;
    Ok([char::from(CSET32[sum >> 5]), char::from(CSET32[sum & 31])])
}

fn lint_csum_alpha(s: &str) -> Result<(), LintFailure> {
    if s.len() < 2 {
        return Err(LintFailure::TooShortForCheck { what: "characters" });
    }
    let (data, pair) = split_at_checked(s, s.len() - 2)?;
    let expected = check_character_pair(data)?;
    let expected: String = expected.iter().collect();
    if pair != expected {
        return Err(LintFailure::CheckMismatch {
            what: "characters",
            found: pair.to_owned(),
            expected,
        });
    }
    Ok(())
}

fn days_in_month(year: u64, month: u64, two_digit_year: bool) -> u64 {
    let leap = if two_digit_year {
        // The century is not known; every fourth year is a leap year within the window
        // (current year −49 to +50) the GS1 specifications use.
        year.is_multiple_of(4)
    } else {
        (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
    };
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn lint_date(s: &str, four_digit_year: bool, day_may_be_zero: bool) -> Result<(), LintFailure> {
    let year_len = if four_digit_year { 4 } else { 2 };
    if s.len() != year_len + 4 {
        return Err(LintFailure::Invalid(format!(
            "date `{s}` must have {} digits",
            year_len + 4
        )));
    }
    let (year, rest) = split_at_checked(s, year_len)?;
    let (month, day) = split_at_checked(rest, 2)?;
    let year = parse_number(year)?;
    let month_n = parse_number(month)?;
    let day_n = parse_number(day)?;
    if !(1..=12).contains(&month_n) {
        return Err(LintFailure::Invalid(format!(
            "date `{s}` has month {month}, expected 01 to 12"
        )));
    }
    let max_day = days_in_month(year, month_n, !four_digit_year);
    let min_day = if day_may_be_zero { 0 } else { 1 };
    if day_n < min_day || day_n > max_day {
        return Err(LintFailure::Invalid(format!(
            "date `{s}` has day {day}, expected {min_day:02} to {max_day}"
        )));
    }
    Ok(())
}

fn lint_pcenc(s: &str) -> Result<(), LintFailure> {
    check_escapes(s).map_err(|e| LintFailure::Invalid(e.to_string()))
}

fn lint_iban(s: &str) -> Result<(), LintFailure> {
    let b = s.as_bytes();
    if b.len() < 5 {
        return Err(LintFailure::Invalid(format!("IBAN `{s}` is too short")));
    }
    for (i, &c) in b.iter().enumerate() {
        let ok = match i {
            0 | 1 => c.is_ascii_uppercase(),
            2 | 3 => c.is_ascii_digit(),
            _ => c.is_ascii_digit() || c.is_ascii_uppercase(),
        };
        if !ok {
            return Err(LintFailure::BadCharacter {
                position: i + 1,
                found: char::from(c),
                expected: if i < 2 {
                    "upper-case letters (country code)"
                } else if i < 4 {
                    "digits (check digits)"
                } else {
                    "digits and upper-case letters"
                },
            });
        }
    }
    // Move the first four characters to the end, letters become 10–35, then mod 97.
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    if rem == 1 {
        Ok(())
    } else {
        Err(LintFailure::Invalid(format!(
            "IBAN `{s}` has incorrect check digits"
        )))
    }
}

/// One component of an AI's data field: a character set, a length and content checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// The characters allowed.
    pub charset: Charset,
    /// The fewest characters (equal to `max_len` for a fixed-length component).
    pub min_len: usize,
    /// The most characters.
    pub max_len: usize,
    /// Whether the component may be left out (only at the end of a value).
    pub optional: bool,
    /// The content checks applied to the component.
    pub linters: &'static [Linter],
}

impl Component {
    /// Whether the component has a fixed length.
    pub fn is_fixed(&self) -> bool {
        self.min_len == self.max_len
    }

    const fn lint(mut self, linters: &'static [Linter]) -> Self {
        self.linters = linters;
        self
    }

    const fn opt(mut self) -> Self {
        self.optional = true;
        self
    }
}

impl fmt::Display for Component {
    /// The GS1 notation: `N14`, `X..20`, `[N..12]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = if self.optional { "[" } else { "" };
        let close = if self.optional { "]" } else { "" };
        if self.is_fixed() {
            write!(f, "{open}{}{}{close}", self.charset.code(), self.max_len)
        } else {
            write!(f, "{open}{}..{}{close}", self.charset.code(), self.max_len)
        }
    }
}

const fn fixed(charset: Charset, len: usize) -> Component {
    Component {
        charset,
        min_len: len,
        max_len: len,
        optional: false,
        linters: &[],
    }
}

const fn upto(charset: Charset, max: usize) -> Component {
    Component {
        charset,
        min_len: 1,
        max_len: max,
        optional: false,
        linters: &[],
    }
}

const fn n(len: usize) -> Component {
    fixed(Charset::Numeric, len)
}
const fn nv(max: usize) -> Component {
    upto(Charset::Numeric, max)
}
const fn x(len: usize) -> Component {
    fixed(Charset::Cset82, len)
}
const fn xv(max: usize) -> Component {
    upto(Charset::Cset82, max)
}

/// The definition of one AI, or of a run of AIs (such as 3100–3105) that share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiInfo {
    /// The first AI the entry covers, e.g. `01` or `3100`.
    pub first: &'static str,
    /// The last AI the entry covers (equal to `first` for a single AI), e.g. `3105`.
    pub last: &'static str,
    /// The GS1 data title, e.g. `GTIN`, `BATCH/LOT`, `SERIAL`.
    pub title: &'static str,
    /// The components of the data field, in order.
    pub components: &'static [Component],
    /// Whether an FNC1 separator must follow the value when another element follows,
    /// i.e. the AI is not one of the GS1 predefined-length AIs.
    pub fnc1_required: bool,
    /// Whether the AI may appear as a GS1 Digital Link URI data attribute (query
    /// parameter).
    pub dl_data_attribute: bool,
    /// Whether the AI is a GS1 Digital Link primary key.
    pub dl_primary_key: bool,
    /// For a primary key, the alternative qualifier sequences: each is an ordered list
    /// of optional qualifier AIs, e.g. for GTIN `[["22", "10", "21"], ["235"]]`.
    pub dl_qualifiers: &'static [&'static [&'static str]],
    /// Alternative groups of AIs of which one group must be present with this AI
    /// (`[["01", "21"], ["8006", "21"]]` means (01) with (21), or (8006) with (21)).
    /// An `n` in an entry stands for any digit (`31nn`).
    pub requires: &'static [&'static [&'static str]],
    /// AIs (or `n` patterns such as `310n`) that must not appear with this AI; the AI is
    /// never exclusive of itself.
    pub excludes: &'static [&'static str],
}

impl AiInfo {
    /// Whether the entry covers `ai`.
    pub fn covers(&self, ai: &str) -> bool {
        ai.len() == self.first.len()
            && ai.bytes().all(|b| b.is_ascii_digit())
            && self.first <= ai
            && ai <= self.last
    }

    /// Whether the value carries a GS1 mod-10 check digit (in some component).
    pub fn has_check_digit(&self) -> bool {
        self.components
            .iter()
            .any(|c| c.linters.contains(&Linter::Csum))
    }

    /// The shortest and longest value allowed.
    pub fn length_range(&self) -> (usize, usize) {
        self.components.iter().fold((0, 0), |(min, max), c| {
            (
                if c.optional { min } else { min + c.min_len },
                max + c.max_len,
            )
        })
    }

    /// The format in GS1 notation, e.g. `N13 [X..17]`.
    pub fn format(&self) -> String {
        let parts: Vec<String> = self.components.iter().map(ToString::to_string).collect();
        parts.join(" ")
    }

    /// Checks `value` as the value of `ai` (which this entry must cover) against the
    /// components: character sets, lengths and content checks.
    pub fn validate(&self, ai: &str, value: &str) -> Result<(), AiError> {
        let err_ctx = || (ai.to_owned(), self.title, value.to_owned());
        if value.is_empty() {
            return Err(AiError::EmptyValue {
                ai: ai.to_owned(),
                title: self.title,
            });
        }
        // Every character set is ASCII, so once this passes byte offsets are characters.
        let all_sets_ascii = |c: char| c.is_ascii() && !c.is_ascii_control();
        if let Some((i, found)) = value.chars().enumerate().find(|&(_, c)| !all_sets_ascii(c)) {
            let (ai, title, value) = err_ctx();
            return Err(AiError::InvalidCharacter {
                ai,
                title,
                value,
                position: i + 1,
                found,
                charset: self
                    .components
                    .first()
                    .map_or(Charset::Cset82, |c| c.charset),
            });
        }
        let (min, max) = self.length_range();
        if value.len() > max {
            let (ai, title, value) = err_ctx();
            let len = value.len();
            return Err(AiError::TooLong {
                ai,
                title,
                value,
                len,
                max,
            });
        }
        let mut rest = value;
        let mut offset = 0;
        for component in self.components {
            if rest.is_empty() {
                if component.optional {
                    break;
                }
                let (ai, title, value) = err_ctx();
                let len = value.len();
                return Err(AiError::TooShort {
                    ai,
                    title,
                    value,
                    len,
                    min,
                });
            }
            let take = if component.is_fixed() {
                if rest.len() < component.max_len {
                    let (ai, title, value) = err_ctx();
                    let len = value.len();
                    return Err(AiError::TooShort {
                        ai,
                        title,
                        value,
                        len,
                        min: min.max(offset + component.max_len),
                    });
                }
                component.max_len
            } else {
                rest.len().min(component.max_len)
            };
            let (part, tail) = rest.split_at(take);
            self.validate_component(ai, value, component, part, offset)?;
            offset += take;
            rest = tail;
        }
        if !rest.is_empty() {
            let (ai, title, value) = err_ctx();
            let len = value.len();
            return Err(AiError::TooLong {
                ai,
                title,
                value,
                len,
                max,
            });
        }
        Ok(())
    }

    fn validate_component(
        &self,
        ai: &str,
        value: &str,
        component: &Component,
        part: &str,
        offset: usize,
    ) -> Result<(), AiError> {
        // `part` is ASCII (checked by `validate`), so byte and character positions agree.
        for (i, c) in part.char_indices() {
            let trailing_padding = component.charset == Charset::Cset64
                && c == '='
                && part[i..].bytes().all(|b| b == b'=');
            let padding_misplaced = component.charset == Charset::Cset64 && c == '=';
            if !component.charset.contains(c) || (padding_misplaced && !trailing_padding) {
                return Err(AiError::InvalidCharacter {
                    ai: ai.to_owned(),
                    title: self.title,
                    value: value.to_owned(),
                    position: offset + i + 1,
                    found: c,
                    charset: component.charset,
                });
            }
        }
        for linter in component.linters {
            linter.check(part).map_err(|failure| match failure {
                LintFailure::CheckMismatch {
                    what,
                    found,
                    expected,
                } => AiError::CheckDigit {
                    ai: ai.to_owned(),
                    title: self.title,
                    key: part.to_owned(),
                    what,
                    found,
                    expected,
                },
                failure => AiError::InvalidContent {
                    ai: ai.to_owned(),
                    title: self.title,
                    value: value.to_owned(),
                    component: part.to_owned(),
                    linter: *linter,
                    failure,
                },
            })?;
        }
        Ok(())
    }

    const fn pre(mut self) -> Self {
        self.fnc1_required = false;
        self
    }

    const fn attr(mut self) -> Self {
        self.dl_data_attribute = true;
        self
    }

    const fn key(mut self, qualifiers: &'static [&'static [&'static str]]) -> Self {
        self.dl_primary_key = true;
        self.dl_qualifiers = qualifiers;
        self
    }

    const fn req(mut self, requires: &'static [&'static [&'static str]]) -> Self {
        self.requires = requires;
        self
    }

    const fn ex(mut self, excludes: &'static [&'static str]) -> Self {
        self.excludes = excludes;
        self
    }
}

const fn range(
    first: &'static str,
    last: &'static str,
    title: &'static str,
    components: &'static [Component],
) -> AiInfo {
    AiInfo {
        first,
        last,
        title,
        components,
        fnc1_required: true,
        dl_data_attribute: false,
        dl_primary_key: false,
        dl_qualifiers: &[],
        requires: &[],
        excludes: &[],
    }
}

const fn ai(code: &'static str, title: &'static str, components: &'static [Component]) -> AiInfo {
    range(code, code, title, components)
}

// Frequently used formats and rules.
use Linter::*;
const GTIN_LIKE: &[Component] = &[n(14).lint(&[Csum, GcpPos2])];
const GLN_LIKE: &[Component] = &[n(13).lint(&[Csum, GcpPos1])];
const DATE: &[Component] = &[n(6).lint(&[Yymmd0])];
const MEASURE: &[Component] = &[n(6)];
const X20: &[Component] = &[xv(20)];
const X30: &[Component] = &[xv(30)];
const X35_PCENC: &[Component] = &[xv(35).lint(&[Pcenc])];
const X70_PCENC: &[Component] = &[xv(70).lint(&[Pcenc])];
const YES_NO: &[Component] = &[n(1).lint(&[YesNo])];
const DATE_TIME: &[Component] = &[n(6).lint(&[Yymmd0]), n(4).lint(&[Hhmi])];
const TEMPERATURE: &[Component] = &[n(6), x(1).opt().lint(&[Hyphen])];
const COUNTRY: &[Component] = &[n(3).lint(&[Iso3166])];
const COUNTRIES: &[Component] = &[
    n(3).lint(&[Iso3166]),
    n(3).opt().lint(&[Iso3166]),
    n(3).opt().lint(&[Iso3166]),
    n(3).opt().lint(&[Iso3166]),
    n(3).opt().lint(&[Iso3166]),
];
const PROCESSOR: &[Component] = &[n(3).lint(&[Iso3166999]), xv(27)];
const CERT: &[Component] = &[x(2), xv(28)];
const PIECE_OF_TOTAL: &[Component] = &[n(14).lint(&[Csum, GcpPos2]), n(4).lint(&[PieceOfTotal])];

/// Trade item keys that most product attributes need.
const TRADE: &[&[&str]] = &[&["01"], &["02"], &["03"], &["8006"], &["8026"]];
const GTIN_OR_CONTENT: &[&[&str]] = &[&["01"], &["02"]];
const SSCC_OR_GTIN: &[&[&str]] = &[&["00"], &["01"]];
const GTIN_ONLY: &[&[&str]] = &[&["01"]];
const SSCC_ONLY: &[&[&str]] = &[&["00"]];
const TRADE_ITEM_GTIN: &[&[&str]] = &[&["01"], &["02"], &["03"]];
const GSRN: &[&[&str]] = &[&["8017"], &["8018"]];
const RECIPIENT: &[&[&str]] = &[&["8018"]];
const PRICE_MEASURE: &[&[&str]] = &[&["30"], &["31nn"], &["32nn"], &["35nn"], &["36nn"]];

/// A run of six measurement AIs (the last digit is the decimal point position), all
/// `N6` with a predefined length, allowed as DL attributes, excluding each other.
macro_rules! measure {
    ($first:literal, $last:literal, $title:literal, $req:expr, $ex:literal) => {
        range($first, $last, $title, MEASURE)
            .pre()
            .attr()
            .req($req)
            .ex(&[$ex])
    };
}

/// Every GS1 Application Identifier, in lexical order.
pub static TABLE: &[AiInfo] = &[
    ai("00", "SSCC", &[n(18).lint(&[Csum, GcpPos2])])
        .pre()
        .attr()
        .key(&[]),
    ai("01", "GTIN", GTIN_LIKE)
        .pre()
        .attr()
        .ex(&["255", "37"])
        .key(&[&["22", "10", "21"], &["235"]]),
    ai("02", "CONTENT", GTIN_LIKE)
        .pre()
        .attr()
        .ex(&["01", "03"])
        .req(&[&["37"]]),
    ai("03", "MTO GTIN", GTIN_LIKE)
        .pre()
        .ex(&["01", "02", "37", "235"]),
    ai("10", "BATCH/LOT", X20).attr().req(TRADE),
    ai("11", "PROD DATE", DATE).pre().attr().req(TRADE),
    ai("12", "DUE DATE", DATE).pre().attr().req(&[&["8020"]]),
    ai("13", "PACK DATE", DATE).pre().attr().req(TRADE),
    ai("15", "BEST BEFORE or BEST BY", DATE)
        .pre()
        .attr()
        .req(TRADE),
    ai("16", "SELL BY", DATE).pre().attr().req(TRADE),
    ai("17", "USE BY or EXPIRY", DATE).pre().attr().req(&[
        &["01"],
        &["02"],
        &["03"],
        &["255"],
        &["8006"],
        &["8026"],
    ]),
    ai("20", "VARIANT", &[n(2)]).pre().attr().req(TRADE),
    ai("21", "SERIAL", X20)
        .req(&[&["01"], &["03"], &["8006"]])
        .ex(&["235"]),
    ai("22", "CPV", X20).req(GTIN_ONLY),
    ai("235", "TPX", &[xv(28)]).req(GTIN_ONLY),
    ai("240", "ADDITIONAL ID", X30).attr().req(TRADE),
    ai("241", "CUST. PART No.", X30).attr().req(TRADE),
    ai("242", "MTO VARIANT", &[nv(6)])
        .attr()
        .req(&[&["01"], &["02"], &["8006"], &["8026"]]),
    ai("243", "PCN", X20).attr().req(&[&["01"], &["03"]]),
    ai("250", "SECONDARY SERIAL", X30)
        .attr()
        .req(&[&["01", "21"], &["03", "21"], &["8006", "21"]]),
    ai("251", "REF. TO SOURCE", X30)
        .attr()
        .req(&[&["01"], &["03"], &["8006"]]),
    ai("253", "GDTI", &[n(13).lint(&[Csum, GcpPos1]), xv(17).opt()])
        .attr()
        .key(&[]),
    ai("254", "GLN EXTENSION COMPONENT", X20).req(&[&["414"]]),
    ai("255", "GCN", &[n(13).lint(&[Csum, GcpPos1]), nv(12).opt()])
        .attr()
        .key(&[])
        .ex(&["01", "02", "415", "8006", "8020", "8026"]),
    ai("30", "VAR. COUNT", &[nv(8)]).attr().req(GTIN_OR_CONTENT),
    measure!("3100", "3105", "NET WEIGHT (kg)", GTIN_OR_CONTENT, "310n"),
    measure!("3110", "3115", "LENGTH (m)", GTIN_OR_CONTENT, "311n"),
    measure!("3120", "3125", "WIDTH (m)", GTIN_OR_CONTENT, "312n"),
    measure!("3130", "3135", "HEIGHT (m)", GTIN_OR_CONTENT, "313n"),
    measure!("3140", "3145", "AREA (m²)", GTIN_OR_CONTENT, "314n"),
    measure!("3150", "3155", "NET VOLUME (l)", GTIN_OR_CONTENT, "315n"),
    measure!("3160", "3165", "NET VOLUME (m³)", GTIN_OR_CONTENT, "316n"),
    measure!("3200", "3205", "NET WEIGHT (lb)", GTIN_OR_CONTENT, "320n"),
    measure!("3210", "3215", "LENGTH (in)", GTIN_OR_CONTENT, "321n"),
    measure!("3220", "3225", "LENGTH (ft)", GTIN_OR_CONTENT, "322n"),
    measure!("3230", "3235", "LENGTH (yd)", GTIN_OR_CONTENT, "323n"),
    measure!("3240", "3245", "WIDTH (in)", GTIN_OR_CONTENT, "324n"),
    measure!("3250", "3255", "WIDTH (ft)", GTIN_OR_CONTENT, "325n"),
    measure!("3260", "3265", "WIDTH (yd)", GTIN_OR_CONTENT, "326n"),
    measure!("3270", "3275", "HEIGHT (in)", GTIN_OR_CONTENT, "327n"),
    measure!("3280", "3285", "HEIGHT (ft)", GTIN_OR_CONTENT, "328n"),
    measure!("3290", "3295", "HEIGHT (yd)", GTIN_OR_CONTENT, "329n"),
    measure!("3300", "3305", "GROSS WEIGHT (kg)", SSCC_OR_GTIN, "330n"),
    measure!("3310", "3315", "LENGTH (m), log", SSCC_OR_GTIN, "331n"),
    measure!("3320", "3325", "WIDTH (m), log", SSCC_OR_GTIN, "332n"),
    measure!("3330", "3335", "HEIGHT (m), log", SSCC_OR_GTIN, "333n"),
    measure!("3340", "3345", "AREA (m²), log", SSCC_OR_GTIN, "334n"),
    measure!("3350", "3355", "VOLUME (l), log", SSCC_OR_GTIN, "335n"),
    measure!("3360", "3365", "VOLUME (m³), log", SSCC_OR_GTIN, "336n"),
    measure!("3370", "3375", "KG PER m²", GTIN_ONLY, "337n"),
    measure!("3400", "3405", "GROSS WEIGHT (lb)", SSCC_OR_GTIN, "340n"),
    measure!("3410", "3415", "LENGTH (in), log", SSCC_OR_GTIN, "341n"),
    measure!("3420", "3425", "LENGTH (ft), log", SSCC_OR_GTIN, "342n"),
    measure!("3430", "3435", "LENGTH (yd), log", SSCC_OR_GTIN, "343n"),
    measure!("3440", "3445", "WIDTH (in), log", SSCC_OR_GTIN, "344n"),
    measure!("3450", "3455", "WIDTH (ft), log", SSCC_OR_GTIN, "345n"),
    measure!("3460", "3465", "WIDTH (yd), log", SSCC_OR_GTIN, "346n"),
    measure!("3470", "3475", "HEIGHT (in), log", SSCC_OR_GTIN, "347n"),
    measure!("3480", "3485", "HEIGHT (ft), log", SSCC_OR_GTIN, "348n"),
    measure!("3490", "3495", "HEIGHT (yd), log", SSCC_OR_GTIN, "349n"),
    measure!("3500", "3505", "AREA (in²)", GTIN_OR_CONTENT, "350n"),
    measure!("3510", "3515", "AREA (ft²)", GTIN_OR_CONTENT, "351n"),
    measure!("3520", "3525", "AREA (yd²)", GTIN_OR_CONTENT, "352n"),
    measure!("3530", "3535", "AREA (in²), log", SSCC_OR_GTIN, "353n"),
    measure!("3540", "3545", "AREA (ft²), log", SSCC_OR_GTIN, "354n"),
    measure!("3550", "3555", "AREA (yd²), log", SSCC_OR_GTIN, "355n"),
    measure!(
        "3560",
        "3565",
        "NET WEIGHT (tr oz)",
        GTIN_OR_CONTENT,
        "356n"
    ),
    measure!("3570", "3575", "NET VOLUME (oz)", GTIN_OR_CONTENT, "357n"),
    measure!(
        "3600",
        "3605",
        "NET VOLUME (qt (US))",
        GTIN_OR_CONTENT,
        "360n"
    ),
    measure!("3610", "3615", "NET VOLUME (gal.)", GTIN_OR_CONTENT, "361n"),
    measure!(
        "3620",
        "3625",
        "VOLUME (qt (US)), log",
        SSCC_OR_GTIN,
        "362n"
    ),
    measure!(
        "3630",
        "3635",
        "VOLUME (gal (US)), log",
        SSCC_OR_GTIN,
        "363n"
    ),
    measure!("3640", "3645", "NET VOLUME (in³)", GTIN_OR_CONTENT, "364n"),
    measure!("3650", "3655", "NET VOLUME (ft³)", GTIN_OR_CONTENT, "365n"),
    measure!("3660", "3665", "NET VOLUME (yd³)", GTIN_OR_CONTENT, "366n"),
    measure!("3670", "3675", "VOLUME (in³), log", SSCC_OR_GTIN, "367n"),
    measure!("3680", "3685", "VOLUME (ft³), log", SSCC_OR_GTIN, "368n"),
    measure!("3690", "3695", "VOLUME (yd³), log", SSCC_OR_GTIN, "369n"),
    ai("37", "COUNT", &[nv(8)])
        .attr()
        .req(&[&["00", "02"], &["00", "8026"]]),
    range("3900", "3909", "AMOUNT", &[nv(15)])
        .attr()
        .req(&[&["255"], &["8020"]])
        .ex(&["390n", "391n", "394n", "8111"]),
    range("3910", "3919", "AMOUNT", &[n(3).lint(&[Iso4217]), nv(15)])
        .attr()
        .req(&[&["8020"]])
        .ex(&["391n"]),
    range("3920", "3929", "PRICE", &[nv(15)])
        .attr()
        .req(&[
            &["01", "30"],
            &["01", "31nn"],
            &["01", "32nn"],
            &["01", "35nn"],
            &["01", "36nn"],
        ])
        .ex(&["392n", "393n"]),
    range("3930", "3939", "PRICE", &[n(3).lint(&[Iso4217]), nv(15)])
        .attr()
        .req(PRICE_MEASURE)
        .ex(&["393n"]),
    range("3940", "3943", "PRCNT OFF", &[n(4)])
        .attr()
        .req(&[&["255"]])
        .ex(&["394n", "8111"]),
    range("3950", "3955", "PRICE/UoM", &[n(6)])
        .attr()
        .req(PRICE_MEASURE)
        .ex(&["392n", "393n", "395n", "8005"]),
    ai("400", "ORDER NUMBER", X30).attr(),
    ai("401", "GINC", &[xv(30).lint(&[GcpPos1])])
        .attr()
        .key(&[]),
    ai("402", "GSIN", &[n(17).lint(&[Csum, GcpPos1])])
        .attr()
        .key(&[]),
    ai("403", "ROUTE", X30).attr().req(SSCC_ONLY),
    ai("410", "SHIP TO LOC", GLN_LIKE).pre().attr(),
    ai("411", "BILL TO", GLN_LIKE).pre().attr(),
    ai("412", "PURCHASE FROM", GLN_LIKE).pre().attr(),
    ai("413", "SHIP FOR LOC", GLN_LIKE).pre().attr(),
    ai("414", "LOC No.", GLN_LIKE)
        .pre()
        .attr()
        .key(&[&["254"], &["7040"]]),
    ai("415", "PAY TO", GLN_LIKE)
        .pre()
        .attr()
        .req(&[&["8020"]])
        .key(&[&["8020"]]),
    ai("416", "PROD/SERV LOC", GLN_LIKE).pre().attr(),
    ai("417", "PARTY", GLN_LIKE).pre().attr().key(&[&["7040"]]),
    ai("420", "SHIP TO POST", X20).attr().ex(&["421"]),
    ai("421", "SHIP TO POST", &[n(3).lint(&[Iso3166]), xv(9)])
        .attr()
        .ex(&["4307"]),
    ai("422", "ORIGIN", COUNTRY).attr().req(TRADE).ex(&["426"]),
    ai("423", "COUNTRY - INITIAL PROCESS", COUNTRIES)
        .attr()
        .req(TRADE_ITEM_GTIN)
        .ex(&["426"]),
    ai("424", "COUNTRY - PROCESS", COUNTRY)
        .attr()
        .req(TRADE_ITEM_GTIN)
        .ex(&["426"]),
    ai("425", "COUNTRY - DISASSEMBLY", COUNTRIES)
        .attr()
        .req(TRADE_ITEM_GTIN)
        .ex(&["426"]),
    ai("426", "COUNTRY - FULL PROCESS", COUNTRY)
        .attr()
        .req(TRADE_ITEM_GTIN),
    ai("427", "ORIGIN SUBDIVISION", &[xv(3)]).attr().req(&[
        &["01", "422"],
        &["02", "422"],
        &["03", "422"],
    ]),
    ai("4300", "SHIP TO COMP", X35_PCENC).attr().req(SSCC_ONLY),
    ai("4301", "SHIP TO NAME", X35_PCENC).attr().req(SSCC_ONLY),
    ai("4302", "SHIP TO ADD1", X70_PCENC).attr().req(SSCC_ONLY),
    ai("4303", "SHIP TO ADD2", X70_PCENC)
        .attr()
        .req(&[&["4302"]]),
    ai("4304", "SHIP TO SUB", X70_PCENC).attr().req(SSCC_ONLY),
    ai("4305", "SHIP TO LOC", X70_PCENC).attr().req(SSCC_ONLY),
    ai("4306", "SHIP TO REG", X70_PCENC).attr().req(SSCC_ONLY),
    ai("4307", "SHIP TO COUNTRY", &[x(2).lint(&[Iso3166Alpha2])])
        .attr()
        .req(SSCC_ONLY),
    ai("4308", "SHIP TO PHONE", X30).attr().req(SSCC_ONLY),
    ai(
        "4309",
        "SHIP TO GEO",
        &[n(10).lint(&[Latitude]), n(10).lint(&[Longitude])],
    )
    .attr()
    .req(SSCC_ONLY),
    ai("4310", "RTN TO COMP", X35_PCENC).attr().req(SSCC_ONLY),
    ai("4311", "RTN TO NAME", X35_PCENC).attr().req(SSCC_ONLY),
    ai("4312", "RTN TO ADD1", X70_PCENC).attr().req(SSCC_ONLY),
    ai("4313", "RTN TO ADD2", X70_PCENC)
        .attr()
        .req(&[&["4312"]]),
    ai("4314", "RTN TO SUB", X70_PCENC).attr().req(SSCC_ONLY),
    ai("4315", "RTN TO LOC", X70_PCENC).attr().req(SSCC_ONLY),
    ai("4316", "RTN TO REG", X70_PCENC).attr().req(SSCC_ONLY),
    ai("4317", "RTN TO COUNTRY", &[x(2).lint(&[Iso3166Alpha2])])
        .attr()
        .req(SSCC_ONLY),
    ai("4318", "RTN TO POST", X20).attr().req(SSCC_ONLY),
    ai("4319", "RTN TO PHONE", X30).attr().req(SSCC_ONLY),
    ai("4320", "SRV DESCRIPTION", X35_PCENC)
        .attr()
        .req(SSCC_ONLY),
    ai("4321", "DANGEROUS GOODS", YES_NO).attr().req(SSCC_ONLY),
    ai("4322", "AUTH TO LEAVE", YES_NO).attr().req(SSCC_ONLY),
    ai("4323", "SIG REQUIRED", YES_NO).attr().req(SSCC_ONLY),
    ai("4324", "NOT BEF DEL DT", DATE_TIME)
        .attr()
        .req(SSCC_ONLY),
    ai("4325", "NOT AFT DEL DT", DATE_TIME)
        .attr()
        .req(SSCC_ONLY),
    ai("4326", "REL DATE", &[n(6).lint(&[Yymmdd])])
        .attr()
        .req(SSCC_ONLY),
    ai("4330", "MAX TEMP F.", TEMPERATURE)
        .attr()
        .req(SSCC_ONLY)
        .ex(&["4331"]),
    ai("4331", "MAX TEMP C.", TEMPERATURE)
        .attr()
        .req(SSCC_ONLY)
        .ex(&["4330"]),
    ai("4332", "MIN TEMP F.", TEMPERATURE)
        .attr()
        .req(SSCC_ONLY)
        .ex(&["4333"]),
    ai("4333", "MIN TEMP C.", TEMPERATURE)
        .attr()
        .req(SSCC_ONLY)
        .ex(&["4332"]),
    ai("7001", "NSN", &[n(13)])
        .attr()
        .req(&[&["01"], &["02"], &["8006"], &["8026"]]),
    ai("7002", "MEAT CUT", X30).attr().req(GTIN_OR_CONTENT),
    ai(
        "7003",
        "EXPIRY TIME",
        &[n(6).lint(&[Yymmdd]), n(4).lint(&[Hhmi])],
    )
    .attr()
    .req(TRADE_ITEM_GTIN),
    ai("7004", "ACTIVE POTENCY", &[nv(4)])
        .attr()
        .req(&[&["01", "10"], &["03", "10"]]),
    ai("7005", "CATCH AREA", &[xv(12)])
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7006", "FIRST FREEZE DATE", &[n(6).lint(&[Yymmdd])])
        .attr()
        .req(GTIN_OR_CONTENT),
    ai(
        "7007",
        "HARVEST DATE",
        &[n(6).lint(&[Yymmdd]), n(6).opt().lint(&[Yymmdd])],
    )
    .attr()
    .req(GTIN_OR_CONTENT),
    ai("7008", "AQUATIC SPECIES", &[xv(3)])
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7009", "FISHING GEAR TYPE", &[xv(10)])
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7010", "PROD METHOD", &[xv(2)])
        .attr()
        .req(TRADE_ITEM_GTIN),
    ai(
        "7011",
        "TEST BY DATE",
        &[n(6).lint(&[Yymmdd]), n(4).opt().lint(&[Hhmi])],
    )
    .attr()
    .req(TRADE_ITEM_GTIN),
    ai("7020", "REFURB LOT", X20)
        .attr()
        .req(&[&["01", "416"], &["03", "416"], &["8006", "416"]]),
    ai("7021", "FUNC STAT", X20)
        .attr()
        .req(&[&["01"], &["03"], &["8006"]]),
    ai("7022", "REV STAT", X20)
        .attr()
        .req(&[&["01", "7021"], &["03", "7021"], &["8006", "7021"]]),
    ai("7023", "GIAI - ASSEMBLY", &[xv(30).lint(&[GcpPos1])]).attr(),
    ai("7030", "PROCESSOR # 0", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7031", "PROCESSOR # 1", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7032", "PROCESSOR # 2", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7033", "PROCESSOR # 3", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7034", "PROCESSOR # 4", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7035", "PROCESSOR # 5", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7036", "PROCESSOR # 6", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7037", "PROCESSOR # 7", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7038", "PROCESSOR # 8", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("7039", "PROCESSOR # 9", PROCESSOR)
        .attr()
        .req(GTIN_OR_CONTENT),
    ai(
        "7040",
        "UIC+EXT",
        &[n(1), x(1), x(1), x(1).lint(&[ImporterIdx])],
    ),
    ai("7041", "UFRGT UNIT TYPE", &[xv(4).lint(&[PackageType])]).req(SSCC_ONLY),
    ai("710", "NHRN PZN", X20).attr().req(GTIN_ONLY),
    ai("711", "NHRN CIP", X20).attr().req(GTIN_ONLY),
    ai("712", "NHRN CN", X20).attr().req(GTIN_ONLY),
    ai("713", "NHRN DRN", X20).attr().req(GTIN_ONLY),
    ai("714", "NHRN AIM", X20).attr().req(GTIN_ONLY),
    ai("715", "NHRN NDC", X20).attr().req(GTIN_ONLY),
    ai("716", "NHRN AIC", X20).attr().req(GTIN_ONLY),
    ai("717", "NHRN SRN", X20).attr().req(GTIN_ONLY),
    ai("7230", "CERT # 1", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7231", "CERT # 2", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7232", "CERT # 3", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7233", "CERT # 4", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7234", "CERT # 5", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7235", "CERT # 6", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7236", "CERT # 7", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7237", "CERT # 8", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7238", "CERT # 9", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7239", "CERT # 10", CERT)
        .attr()
        .req(&[&["01"], &["8004"]]),
    ai("7240", "PROTOCOL", X20)
        .attr()
        .req(&[&["01"], &["8006"]])
        .ex(&["03"]),
    ai("7241", "AIDC MEDIA TYPE", &[n(2).lint(&[MediaType])])
        .attr()
        .req(GSRN),
    ai("7242", "VCN", &[xv(25)]).attr().req(GSRN),
    ai("7250", "DOB", &[n(8).lint(&[Yyyymmdd])])
        .attr()
        .req(RECIPIENT)
        .ex(&["7251"]),
    ai(
        "7251",
        "DOB TIME",
        &[n(8).lint(&[Yyyymmdd]), n(4).lint(&[Hhmi])],
    )
    .attr()
    .req(RECIPIENT)
    .ex(&["7250"]),
    ai("7252", "BIO SEX", &[n(1).lint(&[Iso5218])])
        .attr()
        .req(RECIPIENT),
    ai("7253", "FAMILY NAME", &[xv(40).lint(&[Pcenc])])
        .attr()
        .req(GSRN)
        .ex(&["7256", "7259"]),
    ai("7254", "GIVEN NAME", &[xv(40).lint(&[Pcenc])])
        .attr()
        .req(GSRN)
        .ex(&["7256", "7259"]),
    ai("7255", "SUFFIX", &[xv(10)])
        .attr()
        .req(GSRN)
        .ex(&["7256", "7259"]),
    ai("7256", "FULL NAME", &[xv(90).lint(&[Pcenc])])
        .attr()
        .req(GSRN),
    ai("7257", "PERSON ADDR", X70_PCENC).attr().req(RECIPIENT),
    ai("7258", "BIRTH SEQUENCE", &[x(3).lint(&[PosInSeqSlash])])
        .attr()
        .req(&[&["8018", "7259"]]),
    ai("7259", "BABY", &[xv(40).lint(&[Pcenc])])
        .attr()
        .req(RECIPIENT)
        .ex(&["7256"]),
    ai(
        "8001",
        "DIMENSIONS",
        &[
            n(4).lint(&[NonZero]),
            n(5).lint(&[NonZero]),
            n(3).lint(&[NonZero]),
            n(1).lint(&[Winding]),
            n(1),
        ],
    )
    .attr()
    .req(GTIN_ONLY),
    ai("8002", "CMT No.", X20).attr(),
    ai(
        "8003",
        "GRAI",
        &[
            n(1).lint(&[Zero]),
            n(13).lint(&[Csum, GcpPos1]),
            xv(16).opt(),
        ],
    )
    .attr()
    .key(&[]),
    ai("8004", "GIAI", &[xv(30).lint(&[GcpPos1])])
        .attr()
        .key(&[&["7040"]]),
    ai("8005", "PRICE PER UNIT", &[n(6)])
        .attr()
        .req(GTIN_OR_CONTENT),
    ai("8006", "ITIP", PIECE_OF_TOTAL)
        .attr()
        .ex(&["01", "03", "37"])
        .key(&[&["22", "10", "21"]]),
    ai("8007", "IBAN", &[xv(34).lint(&[Iban])])
        .attr()
        .req(&[&["415"]]),
    ai(
        "8008",
        "PROD TIME",
        &[
            n(6).lint(&[Yymmdd]),
            n(2).lint(&[Hh]),
            n(2).opt().lint(&[Mi]),
            n(2).opt().lint(&[Ss]),
        ],
    )
    .attr()
    .req(TRADE_ITEM_GTIN),
    ai("8009", "OPTSEN", &[xv(50)])
        .attr()
        .req(&[&["00"], &["01"], &["03"]]),
    ai(
        "8010",
        "CPID",
        &[upto(Charset::Cset39, 30).lint(&[GcpPos1])],
    )
    .attr()
    .key(&[&["8011"]]),
    ai("8011", "CPID SERIAL", &[nv(12).lint(&[NoZeroPrefix])]).req(&[&["8010"]]),
    ai("8012", "VERSION", X20)
        .attr()
        .req(&[&["01"], &["03"], &["8006"]]),
    ai("8013", "GMN", &[xv(25).lint(&[CsumAlpha, GcpPos1])])
        .attr()
        .key(&[]),
    ai(
        "8014",
        "MUDI",
        &[xv(25).lint(&[CsumAlpha, GcpPos1, HasNonDigit])],
    )
    .req(GTIN_ONLY),
    ai("8017", "GSRN - PROVIDER", &[n(18).lint(&[Csum, GcpPos1])])
        .attr()
        .ex(&["8018"])
        .key(&[&["8019"]]),
    ai("8018", "GSRN - RECIPIENT", &[n(18).lint(&[Csum, GcpPos1])])
        .attr()
        .ex(&["8017"])
        .key(&[&["8019"]]),
    ai("8019", "SRIN", &[nv(10)]).req(GSRN),
    ai("8020", "REF No.", &[xv(25)]).req(&[&["415"]]),
    ai("8026", "ITIP CONTENT", PIECE_OF_TOTAL)
        .attr()
        .req(&[&["37"]])
        .ex(&["02", "03", "8006"]),
    ai("8030", "DIGSIG", &[upto(Charset::Cset64, 90)])
        .attr()
        .req(&[
            &["00"],
            &["01", "21"],
            &["03", "21"],
            &["253"],
            &["255"],
            &["8003"],
            &["8004"],
            &["8006", "21"],
            &["8010", "8011"],
            &["8017"],
            &["8018"],
        ]),
    ai("8040", "IMEI", &[n(15)]).req(&[&["01", "21"]]),
    ai("8041", "IMEI2", &[n(15)]).req(&[&["01", "21", "8040"]]),
    ai("8042", "ESIM", &[n(32)]).req(&[&["01", "21", "8040"]]),
    ai("8043", "PSIM", &[n(18), nv(2).opt()]).req(&[&["01", "21", "8040"]]),
    ai("8110", "", &[xv(70).lint(&[CouponCode])]).attr(),
    ai("8111", "POINTS", &[n(4)]).attr().req(&[&["255"]]),
    ai("8112", "", &[xv(70).lint(&[CouponPosOffer])]).attr(),
    ai("8200", "PRODUCT URL", &[xv(70)]).req(GTIN_ONLY),
    ai("90", "INTERNAL", X30).attr(),
    range("91", "99", "INTERNAL", &[xv(90)]).attr(),
];

/// The most characters a value of an AI not in [`TABLE`] may have (when unknown AIs are
/// permitted).
pub const UNKNOWN_AI_MAX_LEN: usize = 90;

/// How a value of an AI that is not in the table is checked.
const UNKNOWN_AI_INFO: AiInfo = range("", "", "", &[xv(UNKNOWN_AI_MAX_LEN)]);

/// The definition of `ai`, if it is a GS1 Application Identifier in [`TABLE`].
pub fn lookup(ai: &str) -> Option<&'static AiInfo> {
    TABLE.iter().find(|info| info.covers(ai))
}

/// The data title of `ai` (`GTIN` for `01`), if it is known.
pub fn title(ai: &str) -> Option<&'static str> {
    lookup(ai).map(|info| info.title)
}

/// The length every AI starting with the two digits `prefix` has, if any known AI
/// starts with them (all AIs sharing a two-digit prefix have the same length).
pub fn length_for_prefix(prefix: &str) -> Option<usize> {
    let prefix = prefix.get(..2)?;
    TABLE
        .iter()
        .find(|info| info.first.starts_with(prefix))
        .map(|info| info.first.len())
}

/// Checks that `ai` could be an AI that is not in the table: 2 to 4 digits, and the
/// right length for its first two digits if those are shared with known AIs.
pub fn check_unknown_ai_syntax(ai: &str) -> Result<(), AiError> {
    check_ai_syntax(ai)?;
    match length_for_prefix(ai) {
        Some(len) if len != ai.len() => Err(AiError::WrongAiLength {
            ai: ai.to_owned(),
            expected: len,
        }),
        _ => Ok(()),
    }
}

/// Checks that `ai` is 2 to 4 digits.
fn check_ai_syntax(ai: &str) -> Result<(), AiError> {
    if ai.len() < 2 || ai.len() > 4 || !ai.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AiError::MalformedAi { ai: ai.to_owned() });
    }
    Ok(())
}

/// Checks `value` as the value of `ai`: the AI must be known, and the value must match
/// its format (lengths, character sets, check digits and other content checks).
pub fn validate_value(ai: &str, value: &str) -> Result<(), AiError> {
    match lookup(ai) {
        Some(info) => info.validate(ai, value),
        None => {
            check_ai_syntax(ai)?;
            Err(AiError::UnknownAi { ai: ai.to_owned() })
        }
    }
}

/// Checks the value of an AI that is not in the table (when unknown AIs are
/// permitted): 1 to [`UNKNOWN_AI_MAX_LEN`] characters of CSET 82.
pub fn validate_unknown_value(ai: &str, value: &str) -> Result<(), AiError> {
    check_unknown_ai_syntax(ai)?;
    UNKNOWN_AI_INFO.validate(ai, value)
}

/// Checks `value` for `ai`, accepting AIs not in the table (with a CSET 82 value of up
/// to 90 characters) when `permit_unknown_ais` is set.
pub fn validate_element(ai: &str, value: &str, permit_unknown_ais: bool) -> Result<(), AiError> {
    if lookup(ai).is_none() && permit_unknown_ais {
        validate_unknown_value(ai, value)
    } else {
        validate_value(ai, value)
    }
}

/// `AI 01 (GTIN)`, or `AI 89` for an AI without a title.
pub fn describe(ai: &str) -> String {
    match title(ai) {
        Some(t) if !t.is_empty() => format!("AI {ai} ({t})"),
        _ => format!("AI {ai}"),
    }
}

/// Why an AI, a value or a combination of AIs was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AiError {
    /// Not 2 to 4 digits.
    #[error("`{ai}` is not a GS1 Application Identifier: an AI has 2 to 4 digits")]
    MalformedAi {
        /// The rejected AI.
        ai: String,
    },
    /// Well-formed, but not in the table.
    #[error("`{ai}` is not a known GS1 Application Identifier")]
    UnknownAi {
        /// The rejected AI.
        ai: String,
    },
    /// An unknown AI whose length does not match the known AIs with its first two digits.
    #[error("`{ai}` is not a GS1 Application Identifier: AIs starting {} have {expected} digits", &.ai[..2])]
    WrongAiLength {
        /// The rejected AI.
        ai: String,
        /// The number of digits AIs with its prefix have.
        expected: usize,
    },
    /// An empty value.
    #[error("{} has an empty value", describe(.ai))]
    EmptyValue {
        /// The AI.
        ai: String,
        /// Its data title.
        title: &'static str,
    },
    /// Fewer characters than the format needs.
    #[error("{} value `{value}` is too short: {}, at least {min} needed", describe(.ai), characters(*.len))]
    TooShort {
        /// The AI.
        ai: String,
        /// Its data title.
        title: &'static str,
        /// The rejected value.
        value: String,
        /// Its length.
        len: usize,
        /// The length needed.
        min: usize,
    },
    /// More characters than the format allows.
    #[error("{} value `{value}` is too long: {}, at most {max} allowed", describe(.ai), characters(*.len))]
    TooLong {
        /// The AI.
        ai: String,
        /// Its data title.
        title: &'static str,
        /// The rejected value.
        value: String,
        /// Its length.
        len: usize,
        /// The most characters allowed.
        max: usize,
    },
    /// A character outside the component's character set.
    #[error("{} value `{}` has {found:?} at position {position}, which is not in {charset}", describe(.ai), .value.escape_debug())]
    InvalidCharacter {
        /// The AI.
        ai: String,
        /// Its data title.
        title: &'static str,
        /// The rejected value.
        value: String,
        /// 1-based position of the character in the value.
        position: usize,
        /// The offending character.
        found: char,
        /// The character set of that component.
        charset: Charset,
    },
    /// A wrong check digit (or check character pair).
    #[error("{} {key} has check {what} {found}, expected {expected}", title_or_ai(.title, .ai))]
    CheckDigit {
        /// The AI.
        ai: String,
        /// Its data title.
        title: &'static str,
        /// The key (the component carrying the check digit).
        key: String,
        /// `digit` or `characters`.
        what: &'static str,
        /// The check digit the key carries.
        found: String,
        /// The check digit computed from the key.
        expected: String,
    },
    /// A content check failed.
    #[error("{} value `{value}`: `{component}` {failure} ({linter} check)", describe(.ai))]
    InvalidContent {
        /// The AI.
        ai: String,
        /// Its data title.
        title: &'static str,
        /// The whole value.
        value: String,
        /// The component that failed.
        component: String,
        /// The check that failed.
        linter: Linter,
        /// What is wrong.
        failure: LintFailure,
    },
    /// A bracketed element string that cannot be parsed.
    #[error("bracketed element string `{input}`: {problem} (at character {position})")]
    Syntax {
        /// The rejected input.
        input: String,
        /// 1-based character position of the problem.
        position: usize,
        /// What is wrong.
        problem: String,
    },
    /// One AI given twice with different values.
    #[error("{} appears more than once with different values `{first}` and `{second}`", describe(.ai))]
    ConflictingRepeat {
        /// The AI.
        ai: String,
        /// Its first value.
        first: String,
        /// A different later value.
        second: String,
    },
    /// Two AIs that must not be used together.
    #[error("{} must not be used together with {}", describe(.ai), describe(.other))]
    Excluded {
        /// The AI whose rule forbids the pairing.
        ai: String,
        /// The AI it excludes.
        other: String,
    },
    /// An AI without the AIs it requires.
    #[error("{} requires {}", describe(.ai), requirement_text(.requires))]
    MissingRequisite {
        /// The AI.
        ai: String,
        /// Its alternative requirement groups, as in [`AiInfo::requires`].
        requires: &'static [&'static [&'static str]],
    },
    /// A digital signature (AI 8030) with a key that lacks its serial component.
    #[error("AI 8030 (DIGSIG) requires {} to be serialised: its value `{value}` has no serial component", describe(.ai))]
    DigSigUnserialisedKey {
        /// The key AI (253, 255 or 8003).
        ai: String,
        /// Its value.
        value: String,
    },
}

/// `1 character`, `2 characters`.
fn characters(n: usize) -> String {
    if n == 1 {
        String::from("1 character")
    } else {
        format!("{n} characters")
    }
}

fn title_or_ai(title: &str, ai: &str) -> String {
    if title.is_empty() {
        format!("AI {ai}")
    } else {
        title.to_owned()
    }
}

/// Describes an AI or an `n` pattern: `AI 01 (GTIN)`, `AI 31nn`.
fn describe_pattern(pattern: &str) -> String {
    if pattern.contains('n') {
        format!("AI {pattern}")
    } else {
        describe(pattern)
    }
}

/// `AI 01 (GTIN), AI 03 (MTO GTIN) or AI 8006 (ITIP)`; groups joined with `with`.
fn requirement_text(requires: &[&[&str]]) -> String {
    let groups: Vec<String> = requires
        .iter()
        .map(|group| {
            let parts: Vec<String> = group.iter().map(|p| describe_pattern(p)).collect();
            parts.join(" with ")
        })
        .collect();
    match groups.as_slice() {
        [] => String::from("nothing"),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Whether `ai` matches `pattern`, where `n` in the pattern stands for any digit.
pub fn matches_pattern(pattern: &str, ai: &str) -> bool {
    pattern.len() == ai.len()
        && pattern
            .bytes()
            .zip(ai.bytes())
            .all(|(p, a)| p == a || (p == b'n' && a.is_ascii_digit()))
}

/// Checks the rules between the AIs of one message (all the elements on an item):
///
/// 1. an AI given more than once must always have the same value;
/// 2. no AI may appear with one it excludes (e.g. (01) with (02));
/// 3. every AI must have one of its required groups (e.g. (21) needs (01), (03) or
///    (8006));
/// 4. a digital signature (8030) over a GDTI, GCN or GRAI needs that key serialised.
///
/// AIs not in the table take part only as the other side of a rule.
pub fn validate_associations(elements: &[(String, String)]) -> Result<(), AiError> {
    // 1. Repeats.
    for (i, (ai, value)) in elements.iter().enumerate() {
        if let Some((_, other)) = elements[..i].iter().find(|(a, _)| a == ai) {
            if other != value {
                return Err(AiError::ConflictingRepeat {
                    ai: ai.clone(),
                    first: other.clone(),
                    second: value.clone(),
                });
            }
        }
    }
    // 2. Exclusions.
    for (ai, _) in elements {
        let Some(info) = lookup(ai) else { continue };
        for pattern in info.excludes {
            if let Some((other, _)) = elements
                .iter()
                .find(|(other, _)| other != ai && matches_pattern(pattern, other))
            {
                return Err(AiError::Excluded {
                    ai: ai.clone(),
                    other: other.clone(),
                });
            }
        }
    }
    // 3. Requisites.
    let present = |pattern: &str| elements.iter().any(|(a, _)| matches_pattern(pattern, a));
    for (ai, _) in elements {
        let Some(info) = lookup(ai) else { continue };
        if info.requires.is_empty() {
            continue;
        }
        let satisfied = info
            .requires
            .iter()
            .any(|group| group.iter().all(|p| present(p)));
        if !satisfied {
            return Err(AiError::MissingRequisite {
                ai: ai.clone(),
                requires: info.requires,
            });
        }
    }
    // 4. A digital signature needs serialised keys: the optional serial component of
    //    a GDTI, GCN or GRAI must be present.
    if present("8030") {
        for (ai, value) in elements {
            let Some(info) = lookup(ai) else { continue };
            if !matches!(ai.as_str(), "253" | "255" | "8003") {
                continue;
            }
            let (mandatory_len, _) = info.length_range();
            if value.len() <= mandatory_len {
                return Err(AiError::DigSigUnserialisedKey {
                    ai: ai.clone(),
                    value: value.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Parses a bracketed element string such as `(01)09521234543213(10)ABC` into
/// `(AI, value)` pairs, checking every AI is known and every value valid. A `(` inside a
/// value is written `\(`.
pub fn parse_bracketed(input: &str) -> Result<Vec<(String, String)>, AiError> {
    parse_bracketed_with(input, false)
}

/// [`parse_bracketed`], optionally accepting AIs that are not in the table (their values
/// must be 1 to 90 CSET 82 characters).
pub fn parse_bracketed_with(
    input: &str,
    permit_unknown_ais: bool,
) -> Result<Vec<(String, String)>, AiError> {
    let syntax = |position: usize, problem: &str| AiError::Syntax {
        input: input.to_owned(),
        position,
        problem: problem.to_owned(),
    };
    let chars: Vec<char> = input.chars().collect();
    if chars.is_empty() {
        return Err(syntax(1, "empty input, expected `(` and an AI"));
    }
    let mut elements = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '(' {
            return Err(syntax(i + 1, "expected `(` starting an AI"));
        }
        let ai_start = i + 1;
        let Some(close) = chars[ai_start..].iter().position(|&c| c == ')') else {
            return Err(syntax(i + 1, "AI is not closed by `)`"));
        };
        let ai: String = chars[ai_start..ai_start + close].iter().collect();
        if let Some(p) = ai.chars().position(|c| !c.is_ascii_digit()) {
            return Err(syntax(ai_start + p + 1, "AI must be numeric"));
        }
        if ai.len() < 2 {
            return Err(syntax(ai_start, "AI must have at least 2 digits"));
        }
        if ai.len() > 4 {
            return Err(syntax(ai_start, "AI must have at most 4 digits"));
        }
        i = ai_start + close + 1;
        let mut value = String::new();
        while i < chars.len() && chars[i] != '(' {
            if chars[i] == '\\' && chars.get(i + 1) == Some(&'(') {
                value.push('(');
                i += 2;
            } else {
                value.push(chars[i]);
                i += 1;
            }
        }
        validate_element(&ai, &value, permit_unknown_ais)?;
        elements.push((ai, value));
    }
    Ok(elements)
}

/// The bracketed form of `elements`: `(01)09521234543213(10)ABC`, with `(` in values
/// escaped as `\(`.
pub fn bracketed(elements: &[(String, String)]) -> String {
    let mut out = String::new();
    for (ai, value) in elements {
        out.push('(');
        out.push_str(ai);
        out.push(')');
        out.push_str(&value.replace('(', "\\("));
    }
    out
}

/// The unbracketed element string of `elements` as a barcode would carry it, with `^`
/// standing for FNC1: a leading `^`, then each AI and value, with `^` after each value
/// that does not have a predefined length unless it is the last.
pub fn element_string(elements: &[(String, String)]) -> String {
    let mut out = String::from("^");
    for (i, (ai, value)) in elements.iter().enumerate() {
        out.push_str(ai);
        out.push_str(value);
        let fnc1 = lookup(ai).is_none_or(|info| info.fnc1_required);
        if fnc1 && i + 1 < elements.len() {
            out.push('^');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_lexical_order_without_overlaps() {
        for pair in TABLE.windows(2) {
            assert!(
                pair[0].last < pair[1].first,
                "{} then {}",
                pair[0].first,
                pair[1].first
            );
            assert!(pair[0].first <= pair[0].last);
        }
    }

    #[test]
    fn lookup_covers_ranges() {
        assert_eq!(lookup("3103").map(|i| i.title), Some("NET WEIGHT (kg)"));
        assert!(lookup("3106").is_none());
        assert!(lookup("9").is_none());
        assert!(lookup("011").is_none());
        assert_eq!(lookup("95").map(|i| i.title), Some("INTERNAL"));
        let gtin = lookup("01").expect("GTIN");
        assert!(gtin.has_check_digit() && gtin.dl_primary_key && !gtin.fnc1_required);
        assert_eq!(gtin.format(), "N14");
        assert_eq!(lookup("253").expect("GDTI").format(), "N13 [X..17]");
    }

    #[test]
    fn values_are_checked() {
        assert_eq!(validate_value("01", "09521234543213"), Ok(()));
        let err = validate_value("01", "09521234543214").expect_err("check digit");
        assert_eq!(
            err.to_string(),
            "GTIN 09521234543214 has check digit 4, expected 3"
        );
        assert!(matches!(
            validate_value("10", "ABC^"),
            Err(AiError::InvalidCharacter { position: 4, .. })
        ));
        assert!(matches!(
            validate_value("17", "201332"),
            Err(AiError::InvalidContent { .. })
        ));
        assert_eq!(validate_value("17", "240229"), Ok(()));
        assert_eq!(validate_value("15", "240200"), Ok(()));
        assert!(validate_value("16", "240200").is_ok());
        assert!(validate_value("7006", "240200").is_err());
        assert!(matches!(
            validate_value("89", "X"),
            Err(AiError::UnknownAi { .. })
        ));
        assert!(validate_value("8030", "AbC-_==").is_ok());
        assert!(validate_value("8030", "Ab=C").is_err());
    }

    #[test]
    fn gmn_check_character_pair() {
        // The example in the GS1 General Specifications.
        assert_eq!(validate_value("8013", "1987654Ad4X4bL5ttr2310c2K"), Ok(()));
        let err = validate_value("8013", "1987654Ad4X4bL5ttr2310c2L").expect_err("bad pair");
        assert_eq!(
            err.to_string(),
            "GMN 1987654Ad4X4bL5ttr2310c2L has check characters 2L, expected 2K"
        );
    }

    #[test]
    fn iban_check() {
        assert_eq!(Linter::Iban.check("GB82WEST12345698765432"), Ok(()));
        assert!(Linter::Iban.check("GB82WEST12345698765433").is_err());
    }

    #[test]
    fn association_messages() {
        let els = |s: &str| parse_bracketed_with(s, true).expect("parses");
        let err = validate_associations(&els("(21)ABC")).expect_err("needs a key");
        assert_eq!(
            err.to_string(),
            "AI 21 (SERIAL) requires AI 01 (GTIN), AI 03 (MTO GTIN) or AI 8006 (ITIP)"
        );
        let err = validate_associations(&els("(01)09521234543213(250)X")).expect_err("needs 21");
        assert!(
            err.to_string().contains("AI 01 (GTIN) with AI 21 (SERIAL)"),
            "{err}"
        );
    }

    #[test]
    fn element_strings() {
        let els = parse_bracketed("(01)09521234543213(10)AB\\(C(17)201225").expect("parses");
        assert_eq!(els[1].1, "AB(C");
        assert_eq!(element_string(&els), "^010952123454321310AB(C^17201225");
        assert_eq!(bracketed(&els), "(01)09521234543213(10)AB\\(C(17)201225");
    }
}
