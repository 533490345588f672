//! GS1 identification keys: GTIN, GLN and SSCC, each validated by its GS1 mod-10 check
//! digit.
//!
//! The check digit is computed over the data digits with weights 3, 1, 3, 1, … counted
//! from the right-most data digit; it is the amount that brings the weighted sum up to a
//! multiple of ten. Because the weights are counted from the right, left-padding with
//! zeros does not change it, which is what lets every GTIN be written in 14 digits.
//!
//! All keys serialize as their digit strings: with serde (JSON at the API edge) any
//! accepted form is read and normalized; with borsh (the canonical, hashed encoding) only
//! the normalized form is accepted, so that each key has exactly one encoding.

use std::fmt;
use std::str::FromStr;

/// Which kind of GS1 value an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Gs1Kind {
    /// A Global Trade Item Number.
    Gtin,
    /// A Global Location Number.
    Gln,
    /// A Serial Shipping Container Code.
    Sscc,
    /// A bare digit string given to [`check_digit`], [`with_check_digit`] or
    /// [`verify_check_digit`].
    Digits,
}

impl fmt::Display for Gs1Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Gs1Kind::Gtin => "GTIN",
            Gs1Kind::Gln => "GLN",
            Gs1Kind::Sscc => "SSCC",
            Gs1Kind::Digits => "digit string",
        })
    }
}

/// Why a GS1 value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Gs1Error {
    /// A character other than `0`–`9`.
    #[error("{kind} {value:?} has non-digit character {found:?} at position {position}")]
    NonDigit {
        /// What the value was meant to be.
        kind: Gs1Kind,
        /// The rejected value.
        value: String,
        /// The 1-based character position of the first non-digit.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// A key that does not have one of the allowed lengths.
    #[error("{kind} {value:?} has {len} digits, expected {}", lengths_text(.expected_lens))]
    WrongLength {
        /// What the value was meant to be.
        kind: Gs1Kind,
        /// The rejected value.
        value: String,
        /// The number of digits it has.
        len: usize,
        /// The numbers of digits this kind of key may have.
        expected_lens: &'static [usize],
    },
    /// Too few digits to carry or compute a check digit.
    #[error("{kind} {value:?} has {len} digits, at least {min} are needed for a check digit")]
    TooShort {
        /// What the value was meant to be.
        kind: Gs1Kind,
        /// The rejected value.
        value: String,
        /// The number of digits it has.
        len: usize,
        /// The fewest digits accepted.
        min: usize,
    },
    /// The last digit is not the check digit of the digits before it.
    #[error("{kind} {value:?} has check digit {found}, expected {expected}")]
    CheckDigitMismatch {
        /// What the value was meant to be.
        kind: Gs1Kind,
        /// The rejected value.
        value: String,
        /// The check digit computed from the data digits.
        expected: u8,
        /// The check digit the value carries.
        found: u8,
    },
}

/// "8, 12, 13 or 14" for an error message.
fn lengths_text(lens: &[usize]) -> String {
    match lens {
        [] => String::from("none"),
        [only] => only.to_string(),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(ToString::to_string).collect();
            format!("{} or {last}", init.join(", "))
        }
    }
}

/// Rejects the first character that is not an ASCII digit.
fn ensure_digits(kind: Gs1Kind, value: &str) -> Result<(), Gs1Error> {
    match value.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, found)) => Err(Gs1Error::NonDigit {
            kind,
            value: value.to_owned(),
            position: i + 1,
            found,
        }),
        None => Ok(()),
    }
}

/// The GS1 mod-10 check digit of `digits`, which must be ASCII digits (unchecked here).
fn mod10(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let digit = u32::from(b - b'0');
            if i % 2 == 0 {
                3 * digit
            } else {
                digit
            }
        })
        // Reduce as we go so arbitrarily long inputs cannot overflow.
        .fold(0, |acc, weighted| (acc + weighted) % 10);
    // `sum` is below 10, so the result is a single digit.
    ((10 - sum) % 10) as u8
}

/// The GS1 mod-10 check digit of the data digits `digits` (everything except the check
/// digit), weights 3, 1, 3, … from the right.
pub fn check_digit(digits: &str) -> Result<u8, Gs1Error> {
    ensure_digits(Gs1Kind::Digits, digits)?;
    if digits.is_empty() {
        return Err(Gs1Error::TooShort {
            kind: Gs1Kind::Digits,
            value: String::new(),
            len: 0,
            min: 1,
        });
    }
    Ok(mod10(digits))
}

/// `data_digits` followed by their GS1 check digit.
pub fn with_check_digit(data_digits: &str) -> Result<String, Gs1Error> {
    let digit = check_digit(data_digits)?;
    let mut out = String::with_capacity(data_digits.len() + 1);
    out.push_str(data_digits);
    out.push(char::from(b'0' + digit));
    Ok(out)
}

/// Checks that the last digit of `digits` is the GS1 check digit of the ones before it.
///
/// At least two digits are needed: one data digit and the check digit.
pub fn verify_check_digit(digits: &str) -> Result<(), Gs1Error> {
    check_key(Gs1Kind::Digits, digits)
}

/// Validates a key of any length: digits only, at least two of them, correct check digit.
fn check_key(kind: Gs1Kind, value: &str) -> Result<(), Gs1Error> {
    ensure_digits(kind, value)?;
    // All ASCII digits from here on, so byte positions are character positions.
    let (data, last) = match value.as_bytes() {
        [data @ .., last] if !data.is_empty() => (&value[..data.len()], *last),
        _ => {
            return Err(Gs1Error::TooShort {
                kind,
                value: value.to_owned(),
                len: value.len(),
                min: 2,
            })
        }
    };
    let expected = mod10(data);
    let found = last - b'0';
    if expected != found {
        return Err(Gs1Error::CheckDigitMismatch {
            kind,
            value: value.to_owned(),
            expected,
            found,
        });
    }
    Ok(())
}

/// Validates a key that must have one of `lens` digits and a correct check digit.
fn check_fixed(kind: Gs1Kind, value: &str, lens: &'static [usize]) -> Result<(), Gs1Error> {
    ensure_digits(kind, value)?;
    if !lens.contains(&value.len()) {
        return Err(Gs1Error::WrongLength {
            kind,
            value: value.to_owned(),
            len: value.len(),
            expected_lens: lens,
        });
    }
    check_key(kind, value)
}

/// Implements `as_str`, `Display`, serde (as a string, via `FromStr`) and borsh (as a
/// string, canonical form only) for a digit-string key.
macro_rules! digit_string_key {
    ($ty:ident, $digits:literal, $what:literal) => {
        /// As serde writes it: the normalized digit string.
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": concat!("^[0-9]{", $digits, "}$"),
                    "description": $what,
                })
            }
        }

        impl $ty {
            /// The normalized digit string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl borsh::BorshSerialize for $ty {
            fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
                borsh::BorshSerialize::serialize(&self.0, writer)
            }
        }

        impl borsh::BorshDeserialize for $ty {
            fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
                let text = String::deserialize_reader(reader)?;
                let key: $ty = text
                    .parse()
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                if key.0 != text {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{} {text:?} is not in canonical form {:?}",
                            stringify!($ty).to_uppercase(),
                            key.0
                        ),
                    ));
                }
                Ok(key)
            }
        }
    };
}

/// The digit counts a GTIN may be written with: GTIN-8, GTIN-12 (UPC-A), GTIN-13, GTIN-14.
const GTIN_LENS: &[usize] = &[8, 12, 13, 14];
/// The normalized length of a GTIN.
const GTIN_NORMALIZED_LEN: usize = 14;

/// A Global Trade Item Number, normalized to 14 digits.
///
/// Parsed from 8, 12, 13 or 14 digits with a valid check digit; shorter forms are
/// left-padded with zeros.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gtin(String);

impl Gtin {
    /// Whether the GS1 company prefix `prefix` owns this GTIN: the GTIN-13 form (the
    /// 14-digit form without its leading indicator digit) starts with `prefix`.
    ///
    /// An empty prefix or one with non-digits matches nothing.
    pub fn company_prefix_matches(&self, prefix: &str) -> bool {
        !prefix.is_empty()
            && prefix.bytes().all(|b| b.is_ascii_digit())
            && self
                .0
                .get(1..)
                .is_some_and(|gtin13| gtin13.starts_with(prefix))
    }
}

impl FromStr for Gtin {
    type Err = Gs1Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_fixed(Gs1Kind::Gtin, s, GTIN_LENS)?;
        Ok(Gtin(format!("{s:0>GTIN_NORMALIZED_LEN$}")))
    }
}

digit_string_key!(Gtin, 14, "A GTIN, normalized to 14 digits");

/// A Global Location Number: 13 digits with a valid check digit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gln(String);

impl FromStr for Gln {
    type Err = Gs1Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_fixed(Gs1Kind::Gln, s, &[13])?;
        Ok(Gln(s.to_owned()))
    }
}

digit_string_key!(Gln, 13, "A GLN: 13 digits");

/// A Serial Shipping Container Code: 18 digits with a valid check digit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sscc(String);

impl FromStr for Sscc {
    type Err = Gs1Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_fixed(Gs1Kind::Sscc, s, &[18])?;
        Ok(Sscc(s.to_owned()))
    }
}

digit_string_key!(Sscc, 18, "An SSCC: 18 digits");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_of_known_keys() {
        assert_eq!(check_digit("400638133393"), Ok(1));
        assert_eq!(check_digit("03600029145"), Ok(2));
        assert_eq!(check_digit("9638507"), Ok(4));
        assert_eq!(check_digit("00614141123456789"), Ok(0));
        assert_eq!(check_digit("061414100000"), Ok(5));
        assert_eq!(check_digit("0"), Ok(0));
        assert_eq!(check_digit("1"), Ok(7));
        assert_eq!(
            with_check_digit("0061414100001"),
            Ok("00614141000012".into())
        );
    }

    #[test]
    fn check_digit_rejects_bad_input() {
        assert_eq!(
            check_digit(""),
            Err(Gs1Error::TooShort {
                kind: Gs1Kind::Digits,
                value: String::new(),
                len: 0,
                min: 1
            })
        );
        assert_eq!(
            check_digit("12a4"),
            Err(Gs1Error::NonDigit {
                kind: Gs1Kind::Digits,
                value: "12a4".into(),
                position: 3,
                found: 'a'
            })
        );
        // Non-ASCII digits are not digits.
        assert!(matches!(
            check_digit("12\u{0663}"),
            Err(Gs1Error::NonDigit { position: 3, .. })
        ));
    }

    #[test]
    fn long_inputs_do_not_overflow() {
        let nines = "9".repeat(1_000_000);
        assert_eq!(check_digit(&nines), Ok(0));
    }

    #[test]
    fn gtin_normalizes_every_form() {
        for (input, normalized) in [
            ("96385074", "00000096385074"),
            ("036000291452", "00036000291452"),
            ("4006381333931", "04006381333931"),
            ("10614141000019", "10614141000019"),
        ] {
            let gtin: Gtin = input.parse().expect("valid GTIN");
            assert_eq!(gtin.as_str(), normalized);
            assert_eq!(gtin.to_string(), normalized);
            let again: Gtin = normalized.parse().expect("normalized form is valid");
            assert_eq!(again, gtin);
        }
    }

    #[test]
    fn gtin_rejections_name_value_and_problem() {
        let err = "4006381333932"
            .parse::<Gtin>()
            .expect_err("bad check digit");
        assert_eq!(
            err,
            Gs1Error::CheckDigitMismatch {
                kind: Gs1Kind::Gtin,
                value: "4006381333932".into(),
                expected: 1,
                found: 2
            }
        );
        assert_eq!(
            err.to_string(),
            "GTIN \"4006381333932\" has check digit 2, expected 1"
        );
        let err = "123456789".parse::<Gtin>().expect_err("9 digits");
        assert_eq!(
            err.to_string(),
            "GTIN \"123456789\" has 9 digits, expected 8, 12, 13 or 14"
        );
        let err = "40063813339-1".parse::<Gtin>().expect_err("dash");
        assert_eq!(
            err.to_string(),
            "GTIN \"40063813339-1\" has non-digit character '-' at position 12"
        );
        assert!(" 4006381333931".parse::<Gtin>().is_err());
        assert!("".parse::<Gtin>().is_err());
    }

    #[test]
    fn company_prefix_uses_the_gtin13_form() {
        let gtin: Gtin = "10614141000019".parse().expect("valid GTIN-14");
        assert!(gtin.company_prefix_matches("0614141"));
        assert!(!gtin.company_prefix_matches("1061414"));
        assert!(!gtin.company_prefix_matches("0614142"));
        assert!(!gtin.company_prefix_matches(""));
        assert!(!gtin.company_prefix_matches("0614x41"));
        let upc: Gtin = "036000291452".parse().expect("valid GTIN-12");
        assert!(upc.company_prefix_matches("0036000"));
        assert!(!upc.company_prefix_matches("036000"));
        let gtin13: Gtin = "4006381333931".parse().expect("valid GTIN-13");
        assert!(gtin13.company_prefix_matches("4006381"));
        assert!(gtin13.company_prefix_matches("4006381333931"));
        assert!(!gtin13.company_prefix_matches("40063813339310"));
    }

    #[test]
    fn gln_and_sscc() {
        let gln: Gln = "0614141000005".parse().expect("valid GLN");
        assert_eq!(gln.as_str(), "0614141000005");
        assert_eq!(
            "0614141000006".parse::<Gln>(),
            Err(Gs1Error::CheckDigitMismatch {
                kind: Gs1Kind::Gln,
                value: "0614141000006".into(),
                expected: 5,
                found: 6
            })
        );
        assert!(matches!(
            "614141000005".parse::<Gln>(),
            Err(Gs1Error::WrongLength { len: 12, .. })
        ));
        let sscc: Sscc = "006141411234567890".parse().expect("valid SSCC");
        assert_eq!(sscc.to_string(), "006141411234567890");
        assert!(matches!(
            "06141411234567890".parse::<Sscc>(),
            Err(Gs1Error::WrongLength { len: 17, .. })
        ));
        assert!(matches!(
            "006141411234567891".parse::<Sscc>(),
            Err(Gs1Error::CheckDigitMismatch {
                expected: 0,
                found: 1,
                ..
            })
        ));
    }

    #[test]
    fn verify_check_digit_needs_two_digits() {
        assert_eq!(verify_check_digit("17"), Ok(()));
        assert!(matches!(
            verify_check_digit("7"),
            Err(Gs1Error::TooShort { len: 1, min: 2, .. })
        ));
        assert!(matches!(
            verify_check_digit(""),
            Err(Gs1Error::TooShort { len: 0, .. })
        ));
    }

    #[test]
    fn serde_round_trips_and_normalizes() {
        let gtin: Gtin = serde_json::from_str("\"4006381333931\"").expect("valid GTIN");
        assert_eq!(gtin.as_str(), "04006381333931");
        assert_eq!(
            serde_json::to_string(&gtin).expect("serializes"),
            "\"04006381333931\""
        );
        let err = serde_json::from_str::<Gtin>("\"4006381333932\"").expect_err("bad digit");
        assert!(err.to_string().contains("expected 1"), "{err}");
        assert!(serde_json::from_str::<Gtin>("4006381333931").is_err());
        let sscc: Sscc = serde_json::from_str("\"006141411234567890\"").expect("valid SSCC");
        assert_eq!(
            serde_json::to_string(&sscc).expect("serializes"),
            "\"006141411234567890\""
        );
        let gln: Gln = serde_json::from_str("\"0614141000005\"").expect("valid GLN");
        assert_eq!(gln.as_str(), "0614141000005");
    }

    #[test]
    fn borsh_is_a_string_and_canonical() {
        let gtin: Gtin = "4006381333931".parse().expect("valid GTIN");
        let bytes = borsh::to_vec(&gtin).expect("serializes");
        assert_eq!(bytes, borsh::to_vec("04006381333931").expect("serializes"));
        assert_eq!(borsh::from_slice::<Gtin>(&bytes).expect("decodes"), gtin);

        // The 13-digit form is valid text but not the canonical encoding.
        let short = borsh::to_vec("4006381333931").expect("serializes");
        let err = borsh::from_slice::<Gtin>(&short).expect_err("non-canonical");
        assert!(err.to_string().contains("canonical"), "{err}");
        let bad = borsh::to_vec("04006381333932").expect("serializes");
        assert!(borsh::from_slice::<Gtin>(&bad).is_err());

        let sscc: Sscc = "006141411234567890".parse().expect("valid SSCC");
        let bytes = borsh::to_vec(&sscc).expect("serializes");
        assert_eq!(borsh::from_slice::<Sscc>(&bytes).expect("decodes"), sscc);
        let gln: Gln = "0614141000005".parse().expect("valid GLN");
        let bytes = borsh::to_vec(&gln).expect("serializes");
        assert_eq!(borsh::from_slice::<Gln>(&bytes).expect("decodes"), gln);
    }

    #[test]
    fn ordering_is_numeric_for_normalized_gtins() {
        let small: Gtin = "96385074".parse().expect("valid GTIN-8");
        let large: Gtin = "4006381333931".parse().expect("valid GTIN-13");
        assert!(small < large);
    }
}
