//! Who takes part: organizations' ids, the roles their members hold, and the
//! categories of data the authority matrix speaks of.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// An organization's id: 2–40 characters of `a-z`, `0-9` and `-`, e.g. `sichuan-orchard`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, Serialize)]
#[serde(transparent)]
pub struct OrgId(String);

/// An id that does not follow the rules for organization ids.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{input}` is not a valid organization id: use 2-40 characters a-z, 0-9 and '-'")]
pub struct OrgIdError {
    /// The rejected input, truncated.
    pub input: String,
}

impl OrgId {
    /// Validate and wrap.
    pub fn new(s: &str) -> Result<OrgId, OrgIdError> {
        let ok = (2..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(OrgId(s.to_string()))
        } else {
            Err(OrgIdError {
                input: s.chars().take(60).collect(),
            })
        }
    }
    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OrgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl BorshDeserialize for OrgId {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let s = String::deserialize_reader(reader)?;
        OrgId::new(&s)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
    }
}

/// As serde writes it: the id text, 2 to 40 of `a-z`, `0-9` and `-`.
impl schemars::JsonSchema for OrgId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OrgId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[a-z0-9-]{2,40}$",
            "description": "An organization id: 2 to 40 of a-z, 0-9 and -",
        })
    }
}

impl<'de> Deserialize<'de> for OrgId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        OrgId::new(&s).map_err(serde::de::Error::custom)
    }
}

/// What a member may do. Each role grants write and read authority per data category.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Role {
    /// Farms and factories: record harvests and production.
    Producer = 0,
    /// Packing plants and processors.
    Processor = 1,
    /// Warehouses: storage in and out.
    Warehouse = 2,
    /// Carriers: transport.
    Carrier = 3,
    /// E-commerce platforms: sales.
    Platform = 4,
    /// Customs authorities.
    Customs = 5,
    /// Quality inspectors.
    Inspector = 6,
    /// Regulators: read everything.
    Regulator = 7,
    /// Banks and other financiers.
    Financier = 8,
    /// Consumers.
    Consumer = 9,
    /// Payment providers (banks, gateways): money enters and leaves the ledger only
    /// through their deposits and payouts.
    PaymentProvider = 10,
}

impl Role {
    /// Every role, in order.
    pub const ALL: [Role; 11] = [
        Role::Producer,
        Role::Processor,
        Role::Warehouse,
        Role::Carrier,
        Role::Platform,
        Role::Customs,
        Role::Inspector,
        Role::Regulator,
        Role::Financier,
        Role::Consumer,
        Role::PaymentProvider,
    ];
    /// The snake_case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Processor => "processor",
            Role::Warehouse => "warehouse",
            Role::Carrier => "carrier",
            Role::Platform => "platform",
            Role::Customs => "customs",
            Role::Inspector => "inspector",
            Role::Regulator => "regulator",
            Role::Financier => "financier",
            Role::Consumer => "consumer",
            Role::PaymentProvider => "payment_provider",
        }
    }
}

/// A category of data, each with its own write and read authority per role.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum DataCategory {
    /// Products, lots, harvests, production and processing.
    Production = 0,
    /// Sales platform transactions: orders, returns, reviews.
    PlatformTransactions = 1,
    /// Customs declarations and quality-control inspections.
    CustomsQuality = 2,
    /// Transport and storage: shipments, legs, readings.
    Transport = 3,
    /// Payments, accounts, financing.
    Financial = 4,
}

impl DataCategory {
    /// Every category.
    pub const ALL: [DataCategory; 5] = [
        DataCategory::Production,
        DataCategory::PlatformTransactions,
        DataCategory::CustomsQuality,
        DataCategory::Transport,
        DataCategory::Financial,
    ];
    /// The snake_case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            DataCategory::Production => "production",
            DataCategory::PlatformTransactions => "platform_transactions",
            DataCategory::CustomsQuality => "customs_quality",
            DataCategory::Transport => "transport",
            DataCategory::Financial => "financial",
        }
    }
}
