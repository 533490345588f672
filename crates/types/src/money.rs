//! Money's vocabulary: currencies (ISO 4217 codes with their minor-unit exponents),
//! amounts (unsigned integers of a currency's minor unit, decimal strings in JSON —
//! never floats), and account ids.
//!
//! An amount of `12345` in `CNY` (exponent 2) is ¥123.45; in `JPY` (exponent 0) it is
//! ¥12,345. The ledger never converts an amount between units: a currency's exponent
//! is for display and for FX, where rates are exact decimals.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::keys::PublicKey;
use crate::org::OrgId;

/// ISO 4217 List One (active codes, 2025), each with its minor-unit exponent. Metals,
/// testing codes and "no currency" (XAU, XTS, XXX…) have no minor unit and are not
/// money here.
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// A currency: an ISO 4217 alphabetic code from List One (e.g. `CNY`, `USD`, `JPY`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The currency with ISO 4217 code `code`, if List One has it.
    pub fn new(code: &str) -> Result<Currency, MoneyError> {
        let bytes: [u8; 3] = code
            .as_bytes()
            .try_into()
            .map_err(|_| MoneyError::UnknownCurrency(code.chars().take(16).collect()))?;
        if ISO_4217
            .binary_search_by(|(c, _)| c.as_bytes().cmp(&bytes[..]))
            .is_err()
        {
            return Err(MoneyError::UnknownCurrency(code.to_string()));
        }
        Ok(Currency(bytes))
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a currency code is ASCII")
    }

    /// The minor-unit exponent: 2 for CNY (fen), 0 for JPY, 3 for KWD.
    pub fn exponent(&self) -> u8 {
        let i = ISO_4217
            .binary_search_by(|(c, _)| c.as_bytes().cmp(&self.0[..]))
            .expect("a currency is built only from List One");
        ISO_4217[i].1
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        Currency::new(&s).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Currency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Currency".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Z]{3}$",
            "description": "An ISO 4217 currency code of List One, e.g. CNY",
        })
    }
}

/// An amount of money: a whole number of a currency's minor unit (fen, cents), up to
/// 2^128 − 1. JSON: a decimal string without sign, point or leading zeros (`"12345"`),
/// since JSON numbers are doubles in most readers.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct Amount(pub u128);

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` below zero.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Amount {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Amount, MoneyError> {
        let digits = !s.is_empty() && s.len() <= 39 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits || (s.len() > 1 && s.starts_with('0')) {
            return Err(MoneyError::Amount(s.chars().take(48).collect()));
        }
        s.parse::<u128>()
            .map(Amount)
            .map_err(|_| MoneyError::Amount(s.chars().take(48).collect()))
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Amount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(0|[1-9][0-9]{0,38})$",
            "description": "Whole minor units of the currency (fen, cents) as a decimal string",
        })
    }
}

/// An exchange rate: how many units of the quote currency one unit of the base
/// currency buys, as an exact decimal (`"7.2345"`; at most 18 decimals, more than
/// zero). Kept as `mantissa / 10^scale`, never a float.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct Rate {
    /// The digits without the point.
    pub mantissa: u128,
    /// How many of them are decimals.
    pub scale: u8,
}

impl Rate {
    /// Most decimals a rate has.
    pub const SCALE_MAX: u8 = 18;

    /// More than zero, with at most [`Rate::SCALE_MAX`] decimals: what its text form
    /// allows. A rate decoded from binary is checked with this (borsh takes any
    /// mantissa and scale).
    pub fn is_well_formed(&self) -> bool {
        self.mantissa > 0 && self.scale <= Rate::SCALE_MAX
    }

    /// `amount` minor units of a currency with exponent `from_exp` converted at this
    /// rate to minor units of one with exponent `to_exp`, rounded half to even; `None`
    /// if a product passes 2^128 − 1.
    pub fn convert(&self, amount: Amount, from_exp: u8, to_exp: u8) -> Option<Amount> {
        let num = amount
            .0
            .checked_mul(self.mantissa)?
            .checked_mul(10u128.checked_pow(u32::from(to_exp))?)?;
        let den = 10u128.checked_pow(u32::from(self.scale) + u32::from(from_exp))?;
        let (q, r) = (num / den, num % den);
        // r < den ≤ 10^22, so 2r cannot overflow.
        let up = match (2 * r).cmp(&den) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => q % 2 == 1,
            std::cmp::Ordering::Less => false,
        };
        q.checked_add(u128::from(up)).map(Amount)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = format!(
            "{:0>width$}",
            self.mantissa,
            width = usize::from(self.scale) + 1
        );
        let (int, frac) = digits.split_at(digits.len() - usize::from(self.scale));
        if frac.is_empty() {
            f.write_str(int)
        } else {
            write!(f, "{int}.{frac}")
        }
    }
}

impl FromStr for Rate {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Rate, MoneyError> {
        let bad = || MoneyError::Rate(s.chars().take(48).collect());
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty()
            || !digits(int)
            || !digits(frac)
            || (s.contains('.') && frac.is_empty())
            || (int.len() > 1 && int.starts_with('0'))
            || frac.len() > usize::from(Rate::SCALE_MAX)
        {
            return Err(bad());
        }
        let mantissa: u128 = format!("{int}{frac}").parse().map_err(|_| bad())?;
        if mantissa == 0 {
            return Err(bad());
        }
        Ok(Rate {
            mantissa,
            scale: u8::try_from(frac.len()).map_err(|_| bad())?,
        })
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(0|[1-9][0-9]*)(\\.[0-9]{1,18})?$",
            "description": "An exact decimal more than zero, at most 18 decimals (e.g. 7.2345): an exchange rate's units of the quote currency per unit of the base currency, or a trade unit's quantity of its unit of measure",
        })
    }
}

/// Who owns an account: an organization, or a key (a consumer's; its account opens
/// with a payment provider's first deposit for that key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum AccountOwner {
    /// An organization of the consortium.
    Org(OrgId) = 0,
    /// A key that need not be a member (a consumer's).
    Key(PublicKey) = 1,
}

/// An account: its owner, currency and a name the owner chose (`main`, `escrow`,
/// `settlement`…; 1-64 of a-z, 0-9, `_`, `-`). Text form `org:<org>:<CUR>:<name>` or
/// `key:<64 hex>:<CUR>:<name>`, e.g. `org:shopmart:CNY:main`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct AccountId {
    /// The owner.
    pub owner: AccountOwner,
    /// The currency; every transfer on the account is in it.
    pub currency: Currency,
    /// The owner's name for it.
    pub name: String,
}

/// The name of a payment provider's account through which money enters and leaves
/// the ledger (one per currency, opened by the provider's first deposit).
pub const SETTLEMENT_ACCOUNT: &str = "settlement";

impl AccountId {
    /// An organization's account.
    pub fn org(org: &OrgId, currency: Currency, name: &str) -> AccountId {
        AccountId {
            owner: AccountOwner::Org(org.clone()),
            currency,
            name: name.to_string(),
        }
    }

    /// The organization that owns it, if an organization does.
    pub fn org_owner(&self) -> Option<&OrgId> {
        match &self.owner {
            AccountOwner::Org(o) => Some(o),
            AccountOwner::Key(_) => None,
        }
    }

    /// Is `name` a valid account name?
    pub fn valid_name(name: &str) -> bool {
        (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.owner {
            AccountOwner::Org(o) => write!(f, "org:{o}")?,
            AccountOwner::Key(k) => write!(f, "key:{}", k.to_hex())?,
        }
        write!(f, ":{}:{}", self.currency, self.name)
    }
}

impl FromStr for AccountId {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<AccountId, MoneyError> {
        let bad = || MoneyError::AccountId(s.chars().take(160).collect());
        let mut parts = s.split(':');
        let (Some(kind), Some(owner), Some(cur), Some(name), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let owner = match kind {
            "org" => AccountOwner::Org(OrgId::new(owner).map_err(|_| bad())?),
            "key" => AccountOwner::Key(PublicKey::from_hex(owner).map_err(|_| bad())?),
            _ => return Err(bad()),
        };
        if !AccountId::valid_name(name) {
            return Err(bad());
        }
        Ok(AccountId {
            owner,
            currency: Currency::new(cur)?,
            name: name.to_string(),
        })
    }
}

impl Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for AccountId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AccountId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(org:[a-z0-9-]{2,40}|key:[0-9a-f]{64}):[A-Z]{3}:[a-z0-9_-]{1,64}$",
            "description": "An account: org:<org>:<currency>:<name> or key:<public key hex>:<currency>:<name>",
        })
    }
}

/// A money value that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    /// Not an ISO 4217 List One code.
    #[error("`{0}` is not an ISO 4217 currency code (List One), e.g. CNY, USD, EUR, JPY")]
    UnknownCurrency(String),
    /// Not a decimal string of a u128.
    #[error("`{0}` is not an amount: whole minor units as a decimal string without sign, point or leading zeros, at most 2^128-1, e.g. \"12345\"")]
    Amount(String),
    /// Not an exchange rate.
    #[error("`{0}` is not an exchange rate: a decimal more than zero with at most 18 decimals, without sign or exponent, e.g. \"7.2345\"")]
    Rate(String),
    /// Not an account id.
    #[error("`{0}` is not an account id: org:<org>:<currency>:<name> or key:<64 hex>:<currency>:<name>, e.g. org:shopmart:CNY:main")]
    AccountId(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_currency_table_is_sorted_and_known_exponents_are_right() {
        assert!(
            ISO_4217.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no repeats"
        );
        for (code, exp) in [("CNY", 2), ("USD", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)] {
            assert_eq!(
                Currency::new(code).expect("valid test value").exponent(),
                exp,
                "{code}"
            );
        }
        for bad in ["", "cny", "XAU", "XXX", "CNYY", "€", "ZZZ"] {
            assert!(Currency::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn amounts_are_decimal_strings_that_fit_u128() {
        assert_eq!("0".parse::<Amount>(), Ok(Amount(0)));
        assert_eq!(
            u128::MAX.to_string().parse::<Amount>(),
            Ok(Amount(u128::MAX))
        );
        for bad in [
            "",
            "-1",
            "01",
            "1.5",
            "1e3",
            " 1",
            "340282366920938463463374607431768211456",
        ] {
            assert!(bad.parse::<Amount>().is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&Amount(12345)).expect("valid test value");
        assert_eq!(json, "\"12345\"");
        assert!(
            serde_json::from_str::<Amount>("12345").is_err(),
            "a JSON number is refused"
        );
    }

    #[test]
    fn rates_are_exact_decimals_and_convert_half_to_even() {
        for (text, m, sc) in [
            ("7.2345", 72_345, 4),
            ("1", 1, 0),
            ("0.5", 5, 1),
            ("150.25", 15_025, 2),
        ] {
            let r: Rate = text.parse().expect("valid test value");
            assert_eq!((r.mantissa, r.scale), (m, sc), "{text}");
            assert_eq!(r.to_string(), text);
        }
        for bad in [
            "",
            "0",
            "0.000",
            "-1",
            "1.",
            ".5",
            "01.5",
            "1e3",
            "1.0000000000000000001",
            " 1",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?}");
        }
        let rate = |t: &str| t.parse::<Rate>().expect("valid test value");
        // 100.00 USD at 7.2345 CNY/USD: 723.45 CNY.
        assert_eq!(
            rate("7.2345").convert(Amount(10_000), 2, 2),
            Some(Amount(72_345))
        );
        // Half to even: 1.5 → 2, 2.5 → 2, 0.5 → 0; above half rounds up.
        assert_eq!(rate("0.5").convert(Amount(3), 2, 2), Some(Amount(2)));
        assert_eq!(rate("0.5").convert(Amount(5), 2, 2), Some(Amount(2)));
        assert_eq!(rate("0.5").convert(Amount(1), 2, 2), Some(Amount(0)));
        assert_eq!(rate("0.5").convert(Amount(7), 2, 2), Some(Amount(4)));
        // Exponents: 0.01 USD at 150.25 JPY/USD is 1.5025 yen → 2; 0.02 USD → 3.005 → 3.
        assert_eq!(rate("150.25").convert(Amount(1), 2, 0), Some(Amount(2)));
        assert_eq!(rate("150.25").convert(Amount(2), 2, 0), Some(Amount(3)));
        // 1 KWD (1000 fils) at 3.25 USD/KWD: 325 cents.
        assert_eq!(rate("3.25").convert(Amount(1_000), 3, 2), Some(Amount(325)));
        assert_eq!(
            rate("2").convert(Amount(u128::MAX), 2, 2),
            None,
            "overflow is None"
        );
    }

    #[test]
    fn account_ids_round_trip_through_text() {
        let pk = PublicKey([7; 32]);
        for s in [
            "org:shopmart:CNY:main".to_string(),
            format!("key:{}:USD:wallet", pk.to_hex()),
        ] {
            let id: AccountId = s.parse().expect("valid test value");
            assert_eq!(id.to_string(), s);
        }
        for bad in [
            "org:shopmart:CNY",
            "org:shopmart:CNY:main:x",
            "org:Shop:CNY:main",
            "bank:x1:CNY:main",
            "org:shopmart:XXX:main",
            "org:shopmart:CNY:Main",
            "key:abcd:CNY:main",
        ] {
            assert!(bad.parse::<AccountId>().is_err(), "{bad}");
        }
    }
}
