//! Transactions: what a member signs and the ledger orders.
//!
//! A [`Transaction`] is `{version, chain_id, signer, nonce, expires_at_ms, payload}`;
//! a [`SignedTx`] adds the signer's Ed25519 signature over `domain::TX ‖ encode(tx)`.
//! Its id is the SHA-256 of the encoded signed transaction.
//!
//! Replay protection (DESIGN "Transaction"): no per-signer sequence. Each transaction
//! carries a client-chosen `nonce` and an expiry in block time; the ledger keeps its
//! [`Transaction::replay_id`] in consensus state until the expiry passes and refuses
//! it a second time. So one key can sign from several processes at once, offline,
//! without asking a node for anything.

use crate::codec::{self, CodecError};
use crate::hash::{sha256, Hash};
use crate::keys::{domain, KeyError, PublicKey, SecretKey, Signature};
use crate::limits;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use waybill_gs1::{Gln, Gtin};

/// A transaction id: SHA-256 of the encoded signed transaction.
pub type TxId = Hash;

/// The transaction format version this build writes and reads. Version 1 carried a
/// strict per-signer sequence number instead of `nonce` and `expires_at_ms`; it is
/// no longer read.
pub const TX_VERSION: u8 = 2;

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
}

impl Role {
    /// Every role, in order.
    pub const ALL: [Role; 10] = [
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

/// An input applied to or used in a lot: a fertilizer, a pesticide, a feed, a material.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LotInput {
    /// What kind of input, e.g. "fertilizer", "pesticide", "material".
    pub kind: String,
    /// Its name, e.g. "Organic compost (cow manure)".
    pub name: String,
    /// How much, as written on the record, e.g. "2 t/ha".
    #[serde(default)]
    pub amount: String,
    /// When it was applied, `YYYY-MM-DD`.
    #[serde(default)]
    pub applied_on: Option<String>,
}

/// A reference to a lot of a product.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LotRef {
    /// The product.
    pub gtin: Gtin,
    /// The lot number.
    pub lot: String,
}

/// What a transaction asks the ledger to do. JSON form: `{"type": "register_lot", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Payload {
    /// An organization admin registers a member of its organization.
    RegisterMember {
        /// The new member's public key.
        member: PublicKey,
        /// A display name, e.g. "Li Wei, harvest team lead".
        name: String,
        /// Roles granted; each must be among the organization's roles.
        roles: Vec<Role>,
    } = 0,
    /// An organization admin replaces a member's roles.
    SetMemberRoles {
        /// The member.
        member: PublicKey,
        /// The new roles.
        roles: Vec<Role>,
    } = 1,
    /// An organization admin revokes a member: its later transactions are refused.
    RevokeMember {
        /// The member.
        member: PublicKey,
        /// Why, for the audit trail.
        reason: String,
    } = 2,
    /// Register a product (trade item) under a company prefix the organization owns.
    RegisterProduct {
        /// The GTIN.
        gtin: Gtin,
        /// Name, e.g. "Navel oranges, 5 kg carton".
        name: String,
        /// Brand.
        brand: String,
        /// Category, e.g. "fresh fruit".
        category: String,
        /// Country of origin, ISO 3166-1 alpha-2 (e.g. "CN").
        origin_country: String,
    } = 3,
    /// Register a lot (batch) of a product the organization owns.
    RegisterLot {
        /// The product's GTIN.
        gtin: Gtin,
        /// The lot number (GS1 AI 10): 1-20 characters.
        lot: String,
        /// Where it was harvested or produced.
        origin_gln: Option<Gln>,
        /// Harvest or production date, `YYYY-MM-DD`.
        produced_on: String,
        /// Quantity in `unit`.
        quantity: u64,
        /// Unit of `quantity`, e.g. "kg" or "carton".
        unit: String,
        /// Inputs used: fertilizers, pesticides, materials.
        #[serde(default)]
        inputs: Vec<LotInput>,
        /// Lots of raw material it was made from.
        #[serde(default)]
        raw_materials: Vec<LotRef>,
        /// Claims such as "organic"; each needs the matching valid qualification.
        #[serde(default)]
        claims: Vec<String>,
    } = 4,
    /// An organization admin proposes a change to the consortium; the proposer's
    /// organization approves it by proposing.
    ProposeGovernance {
        /// What to change.
        action: GovernanceAction,
        /// Why, for the record.
        reason: String,
    } = 5,
    /// An organization admin approves an open proposal. When more than half of the
    /// organizations have approved, the action takes effect in the same block.
    ApproveGovernance {
        /// The proposal number.
        proposal: u64,
    } = 6,
    /// Register a location (GLN) under a company prefix the organization owns.
    RegisterLocation {
        /// The GLN.
        gln: Gln,
        /// Name, e.g. "Pujiang orchard, block 3".
        name: String,
        /// What it is: "farm", "plant", "warehouse", "customs office", "store", ...
        kind: String,
        /// Postal address.
        address: String,
        /// Country, ISO 3166-1 alpha-2.
        country: String,
        /// Latitude in decimal degrees, e.g. "30.4521" (text, to stay exact).
        #[serde(default)]
        latitude: Option<String>,
        /// Longitude in decimal degrees, e.g. "103.5043".
        #[serde(default)]
        longitude: Option<String>,
    } = 7,
    /// The owner of a location lets another organization capture events there (or
    /// withdraws that).
    SetLocationDelegate {
        /// The location.
        gln: Gln,
        /// The organization.
        org: OrgId,
        /// Allowed or not.
        allowed: bool,
    } = 8,
    /// An inspector or regulator records a supplier's qualification after verifying it.
    RecordQualification {
        /// The organization qualified.
        org: OrgId,
        /// What kind, e.g. "organic", "food_production_license", "gap".
        kind: String,
        /// The issuing body, e.g. "China Organic Certification Center".
        issuer: String,
        /// The certificate or licence number (unique per organization).
        number: String,
        /// What it covers, e.g. "navel oranges, 120 ha".
        scope: String,
        /// First day valid, `YYYY-MM-DD`.
        valid_from: String,
        /// Last day valid, `YYYY-MM-DD`.
        valid_to: String,
    } = 9,
    /// An inspector or regulator revokes a qualification.
    RevokeQualification {
        /// The organization.
        org: OrgId,
        /// The certificate number.
        number: String,
        /// Why.
        reason: String,
    } = 10,
    /// A regulator makes (or, with `kind: null`, stops making) a qualification a
    /// requirement for producing products of a category.
    RequireQualification {
        /// The product category, as registered on products, e.g. "fresh fruit".
        product_category: String,
        /// The qualification kind required.
        kind: Option<String>,
    } = 11,
    /// An organization admin lets another organization's members read this
    /// organization's data of a category beyond what their roles grant (or stops).
    GrantRead {
        /// The organization granted.
        org: OrgId,
        /// The category.
        category: DataCategory,
        /// Granted or withdrawn.
        allowed: bool,
    } = 12,
    /// Capture a GS1 EPCIS 2.0 document (JSON/JSON-LD): all its events or none.
    CaptureEpcis {
        /// The document, as JSON text.
        document: String,
    } = 13,
}

/// A change to the consortium that needs a majority of organization admins.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum GovernanceAction {
    /// Admit a new organization, optionally with a validator.
    AdmitOrganization {
        /// Its id.
        id: OrgId,
        /// Display name.
        name: String,
        /// Its admin key.
        admin: PublicKey,
        /// Roles it may grant its members.
        roles: Vec<Role>,
        /// GS1 company prefixes it owns.
        company_prefixes: Vec<String>,
        /// Its validator key and voting power, if it runs a validator.
        validator: Option<(PublicKey, u64)>,
    } = 0,
    /// Add a validator for an existing organization, or change its voting power.
    SetValidator {
        /// The organization that runs it.
        org: OrgId,
        /// Its consensus key.
        public_key: PublicKey,
        /// Its voting power (at least 1).
        voting_power: u64,
    } = 1,
    /// Remove a validator.
    RemoveValidator {
        /// Its consensus key.
        public_key: PublicKey,
    } = 2,
}

impl Payload {
    /// The snake_case name of this kind of payload.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::RegisterMember { .. } => "register_member",
            Payload::SetMemberRoles { .. } => "set_member_roles",
            Payload::RevokeMember { .. } => "revoke_member",
            Payload::RegisterProduct { .. } => "register_product",
            Payload::RegisterLot { .. } => "register_lot",
            Payload::ProposeGovernance { .. } => "propose_governance",
            Payload::ApproveGovernance { .. } => "approve_governance",
            Payload::RegisterLocation { .. } => "register_location",
            Payload::SetLocationDelegate { .. } => "set_location_delegate",
            Payload::RecordQualification { .. } => "record_qualification",
            Payload::RevokeQualification { .. } => "revoke_qualification",
            Payload::RequireQualification { .. } => "require_qualification",
            Payload::GrantRead { .. } => "grant_read",
            Payload::CaptureEpcis { .. } => "capture_epcis",
        }
    }

    /// Checks that need no state: lengths, formats, counts.
    pub fn check(&self) -> Result<(), PayloadError> {
        match self {
            Payload::RegisterMember { name, roles, .. } => {
                check_text("name", name, limits::NAME_BYTES_MAX, true)?;
                check_roles(roles)
            }
            Payload::SetMemberRoles { roles, .. } => check_roles(roles),
            Payload::RevokeMember { reason, .. } => {
                check_text("reason", reason, limits::TEXT_BYTES_MAX, true)
            }
            Payload::RegisterProduct {
                name,
                brand,
                category,
                origin_country,
                ..
            } => {
                check_text("name", name, limits::NAME_BYTES_MAX, true)?;
                check_text("brand", brand, limits::NAME_BYTES_MAX, true)?;
                check_text("category", category, limits::NAME_BYTES_MAX, true)?;
                if origin_country.len() != 2
                    || !origin_country.bytes().all(|b| b.is_ascii_uppercase())
                {
                    return Err(PayloadError::Field {
                        field: "origin_country",
                        reason: format!(
                            "`{origin_country}` is not an ISO 3166-1 alpha-2 code such as CN"
                        ),
                    });
                }
                Ok(())
            }
            Payload::RegisterLot {
                lot,
                produced_on,
                unit,
                quantity,
                inputs,
                raw_materials,
                claims,
                ..
            } => {
                check_lot(lot)?;
                check_date("produced_on", produced_on)?;
                check_text("unit", unit, limits::NAME_BYTES_MAX, true)?;
                for (field, n) in [
                    ("inputs", inputs.len()),
                    ("raw_materials", raw_materials.len()),
                    ("claims", claims.len()),
                ] {
                    if n > limits::LOT_LIST_MAX {
                        return Err(PayloadError::Field {
                            field,
                            reason: format!(
                                "lists {n} items, over the limit of {}",
                                limits::LOT_LIST_MAX
                            ),
                        });
                    }
                }
                for i in inputs {
                    check_text("inputs.kind", &i.kind, limits::NAME_BYTES_MAX, true)?;
                    check_text("inputs.name", &i.name, limits::NAME_BYTES_MAX, true)?;
                    check_text("inputs.amount", &i.amount, limits::NAME_BYTES_MAX, false)?;
                    if let Some(d) = &i.applied_on {
                        check_date("inputs.applied_on", d)?;
                    }
                }
                for r in raw_materials {
                    check_lot(&r.lot)?;
                }
                for c in claims {
                    check_word("claims", c)?;
                }
                if *quantity == 0 {
                    return Err(PayloadError::Field {
                        field: "quantity",
                        reason: "must be at least 1".into(),
                    });
                }
                Ok(())
            }
            Payload::ProposeGovernance { action, reason } => {
                check_text("reason", reason, limits::TEXT_BYTES_MAX, true)?;
                match action {
                    GovernanceAction::AdmitOrganization {
                        name,
                        roles,
                        company_prefixes,
                        validator,
                        ..
                    } => {
                        check_text("name", name, limits::NAME_BYTES_MAX, true)?;
                        check_roles(roles)?;
                        if company_prefixes.len() > limits::COMPANY_PREFIXES_MAX
                            || company_prefixes.iter().any(|p| {
                                !(4..=12).contains(&p.len())
                                    || !p.bytes().all(|b| b.is_ascii_digit())
                            })
                        {
                            return Err(PayloadError::Field {
                                field: "company_prefixes",
                                reason: format!(
                                    "at most {} prefixes of 4-12 digits each",
                                    limits::COMPANY_PREFIXES_MAX
                                ),
                            });
                        }
                        if validator.is_some_and(|(_, p)| p == 0 || p > limits::VOTING_POWER_MAX) {
                            return Err(PayloadError::Field {
                                field: "validator",
                                reason: format!(
                                    "voting power must be 1 to {}",
                                    limits::VOTING_POWER_MAX
                                ),
                            });
                        }
                        Ok(())
                    }
                    GovernanceAction::SetValidator { voting_power, .. } => {
                        if *voting_power == 0 || *voting_power > limits::VOTING_POWER_MAX {
                            return Err(PayloadError::Field {
                                field: "voting_power",
                                reason: format!("must be 1 to {}", limits::VOTING_POWER_MAX),
                            });
                        }
                        Ok(())
                    }
                    GovernanceAction::RemoveValidator { .. } => Ok(()),
                }
            }
            Payload::ApproveGovernance { .. } => Ok(()),
            Payload::RegisterLocation {
                name,
                kind,
                address,
                country,
                latitude,
                longitude,
                ..
            } => {
                check_text("name", name, limits::NAME_BYTES_MAX, true)?;
                check_text("kind", kind, limits::NAME_BYTES_MAX, true)?;
                check_text("address", address, limits::TEXT_BYTES_MAX, true)?;
                check_country("country", country)?;
                if let Some(l) = latitude {
                    check_degrees("latitude", l, 90)?;
                }
                if let Some(l) = longitude {
                    check_degrees("longitude", l, 180)?;
                }
                Ok(())
            }
            Payload::SetLocationDelegate { .. } => Ok(()),
            Payload::RecordQualification {
                kind,
                issuer,
                number,
                scope,
                valid_from,
                valid_to,
                ..
            } => {
                check_word("kind", kind)?;
                check_text("issuer", issuer, limits::NAME_BYTES_MAX, true)?;
                check_text("number", number, limits::NAME_BYTES_MAX, true)?;
                check_text("scope", scope, limits::TEXT_BYTES_MAX, true)?;
                check_date("valid_from", valid_from)?;
                check_date("valid_to", valid_to)?;
                if valid_to < valid_from {
                    return Err(PayloadError::Field {
                        field: "valid_to",
                        reason: format!("{valid_to} is before valid_from {valid_from}"),
                    });
                }
                Ok(())
            }
            Payload::RevokeQualification { number, reason, .. } => {
                check_text("number", number, limits::NAME_BYTES_MAX, true)?;
                check_text("reason", reason, limits::TEXT_BYTES_MAX, true)
            }
            Payload::RequireQualification {
                product_category,
                kind,
            } => {
                check_text(
                    "product_category",
                    product_category,
                    limits::NAME_BYTES_MAX,
                    true,
                )?;
                if let Some(k) = kind {
                    check_word("kind", k)?;
                }
                Ok(())
            }
            Payload::GrantRead { .. } => Ok(()),
            Payload::CaptureEpcis { document } => {
                if document.len() > limits::EPCIS_DOCUMENT_BYTES_MAX {
                    return Err(PayloadError::Field {
                        field: "document",
                        reason: format!(
                            "is {} bytes, over the limit of {} for one EPCIS document; split it",
                            document.len(),
                            limits::EPCIS_DOCUMENT_BYTES_MAX
                        ),
                    });
                }
                Ok(())
            }
        }
    }
}

/// A short machine word: 1-64 characters of `a-z`, `0-9`, `_` and `-`.
fn check_word(field: &'static str, s: &str) -> Result<(), PayloadError> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PayloadError::Field {
            field,
            reason: format!("`{s}` must be 1-64 characters of a-z, 0-9, '_' and '-', e.g. organic"),
        })
    }
}

fn check_country(field: &'static str, s: &str) -> Result<(), PayloadError> {
    if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(PayloadError::Field {
            field,
            reason: format!("`{s}` is not an ISO 3166-1 alpha-2 code such as CN"),
        });
    }
    Ok(())
}

/// Decimal degrees as text: optional '-', up to 3 integer digits, up to 7 decimals,
/// within ±`max`.
fn check_degrees(field: &'static str, s: &str, max: u32) -> Result<(), PayloadError> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let ok = (1..=3).contains(&int.len())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 7
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(body.contains('.') && frac.is_empty())
        && int
            .parse::<u32>()
            .is_ok_and(|v| v < max || (v == max && frac.bytes().all(|b| b == b'0')));
    if ok {
        Ok(())
    } else {
        Err(PayloadError::Field {
            field,
            reason: format!("`{s}` is not decimal degrees within ±{max}, e.g. 30.4521"),
        })
    }
}

/// A payload field that breaks a stateless rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    /// The field named is invalid.
    #[error("field `{field}`: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

fn check_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<(), PayloadError> {
    if required && s.trim().is_empty() {
        return Err(PayloadError::Field {
            field,
            reason: "must not be empty".into(),
        });
    }
    if s.len() > max {
        return Err(PayloadError::Field {
            field,
            reason: format!("is {} bytes, over the limit of {max}", s.len()),
        });
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(PayloadError::Field {
            field,
            reason: "must not contain control characters".into(),
        });
    }
    Ok(())
}

fn check_roles(roles: &[Role]) -> Result<(), PayloadError> {
    if roles.is_empty() || roles.len() > limits::ROLES_MAX {
        return Err(PayloadError::Field {
            field: "roles",
            reason: format!(
                "must list 1 to {} roles, got {}",
                limits::ROLES_MAX,
                roles.len()
            ),
        });
    }
    let mut sorted = roles.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != roles.len() {
        return Err(PayloadError::Field {
            field: "roles",
            reason: "lists a role twice".into(),
        });
    }
    Ok(())
}

/// GS1 AI (10) lot: 1–20 characters of GS1 character set 82 (printable ASCII minus a few).
fn check_lot(lot: &str) -> Result<(), PayloadError> {
    let ok_char = |b: u8| b.is_ascii_alphanumeric() || b"!\"%&'()*+,-./:;<=>?_".contains(&b);
    if lot.is_empty() || lot.len() > 20 || !lot.bytes().all(ok_char) {
        return Err(PayloadError::Field {
            field: "lot",
            reason: format!(
                "`{lot}` is not a GS1 lot number: 1-20 characters of GS1 character set 82"
            ),
        });
    }
    Ok(())
}

fn check_date(field: &'static str, s: &str) -> Result<(), PayloadError> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10);
    let (m, d) = if ok {
        (
            s[5..7].parse::<u32>().unwrap_or(0),
            s[8..10].parse::<u32>().unwrap_or(0),
        )
    } else {
        (0, 0)
    };
    if !ok || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(PayloadError::Field {
            field,
            reason: format!("`{s}` is not a date in the form YYYY-MM-DD"),
        });
    }
    Ok(())
}

/// An unsigned transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transaction {
    /// Format version, [`TX_VERSION`].
    pub version: u8,
    /// The chain this transaction is for; a transaction for another chain is refused.
    pub chain_id: String,
    /// The member who signs.
    pub signer: PublicKey,
    /// Chosen by the client to tell apart transactions with the same content (the
    /// SDK takes 64 random bits). Two transactions with the same content, nonce and
    /// expiry are the same transaction: the second is a replay.
    pub nonce: u64,
    /// Block time (ms since the Unix epoch) from which on this transaction can no
    /// longer be included: a block at time `t` takes it only if
    /// `t < expires_at_ms <= t + TX_EXPIRY_WINDOW_MS_MAX`.
    pub expires_at_ms: u64,
    /// What to do.
    pub payload: Payload,
}

/// A signed transaction, as submitted, gossiped and stored.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedTx {
    /// The transaction.
    pub tx: Transaction,
    /// Ed25519 signature by `tx.signer` over `domain::TX ‖ encode(tx)`.
    pub signature: Signature,
}

/// Why a signed transaction is not acceptable, before any state is consulted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxError {
    /// The bytes could not be decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Unknown format version.
    #[error("transaction version {found} is not supported; this node reads version {TX_VERSION}")]
    Version {
        /// The version found.
        found: u8,
    },
    /// Signed for another chain.
    #[error("transaction is for chain `{found}` but this node runs chain `{expected}`")]
    WrongChain {
        /// The chain id in the transaction.
        found: String,
        /// This node's chain id.
        expected: String,
    },
    /// No expiry.
    #[error("expires_at_ms must be set: a block time in ms after which the transaction is void")]
    NoExpiry,
    /// The signature does not verify.
    #[error("bad signature: {0}")]
    Signature(KeyError),
    /// A payload field is invalid.
    #[error("invalid {kind}: {source}")]
    Payload {
        /// The payload kind.
        kind: &'static str,
        /// The field error.
        source: PayloadError,
    },
}

/// 64 random bits from the operating system, for [`Transaction::nonce`].
pub fn random_nonce() -> u64 {
    use rand_core::RngCore as _;
    rand_core::OsRng.next_u64()
}

impl Transaction {
    /// The replay id: SHA-256 of the exact bytes the signature covers
    /// (`domain::TX ‖ encode(tx)`). It does not depend on the signature, so no
    /// second signature over the same content can pass as a new transaction.
    pub fn replay_id(&self) -> Hash {
        crate::hash::sha256_parts(&[domain::TX, &codec::encode(self)])
    }

    /// Sign with `key`. The caller sets `signer` to `key.public()`.
    pub fn sign(self, key: &SecretKey) -> SignedTx {
        let signature = key.sign(domain::TX, &codec::encode(&self));
        SignedTx {
            tx: self,
            signature,
        }
    }
}

impl SignedTx {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decode from canonical bytes, bounded by [`limits::TX_BYTES_MAX`].
    pub fn decode(bytes: &[u8]) -> Result<SignedTx, TxError> {
        let stx: SignedTx = codec::decode(bytes, limits::TX_BYTES_MAX, "transaction")?;
        if stx.tx.version != TX_VERSION {
            return Err(TxError::Version {
                found: stx.tx.version,
            });
        }
        Ok(stx)
    }

    /// The id of already-encoded bytes.
    pub fn id_of(bytes: &[u8]) -> TxId {
        sha256(bytes)
    }

    /// The id: SHA-256 of the canonical bytes.
    pub fn id(&self) -> TxId {
        sha256(&self.encode())
    }

    /// The bytes the signature covers (domain prefix included).
    pub fn signed_message(&self) -> Vec<u8> {
        let mut m = domain::TX.to_vec();
        m.extend_from_slice(&codec::encode(&self.tx));
        m
    }

    /// Stateless checks except the signature: chain, expiry set, payload fields.
    /// (Whether the expiry suits a block's time is checked against that block.)
    pub fn check_stateless(&self, chain_id: &str) -> Result<(), TxError> {
        if self.tx.chain_id != chain_id {
            return Err(TxError::WrongChain {
                found: self.tx.chain_id.clone(),
                expected: chain_id.to_string(),
            });
        }
        if self.tx.expires_at_ms == 0 {
            return Err(TxError::NoExpiry);
        }
        self.tx.payload.check().map_err(|source| TxError::Payload {
            kind: self.tx.payload.kind(),
            source,
        })
    }

    /// Verify the signature alone (use [`crate::keys::verify_batch`] for many).
    pub fn verify_signature(&self) -> Result<(), TxError> {
        self.tx
            .signer
            .verify(domain::TX, &codec::encode(&self.tx), &self.signature)
            .map_err(TxError::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(nonce: u64) -> SignedTx {
        let key = SecretKey::from_label("member");
        Transaction {
            version: TX_VERSION,
            chain_id: "test".into(),
            signer: key.public(),
            nonce,
            expires_at_ms: 1_800_000_000_000,
            payload: Payload::RevokeMember {
                member: key.public(),
                reason: "left".into(),
            },
        }
        .sign(&key)
    }

    #[test]
    fn round_trip_and_id() {
        let stx = sample(1);
        let bytes = stx.encode();
        let back = SignedTx::decode(&bytes).expect("decodes");
        assert_eq!(back, stx);
        assert_eq!(back.id(), SignedTx::id_of(&bytes));
        assert!(back.verify_signature().is_ok());
    }

    #[test]
    fn any_flipped_byte_breaks_signature_or_decoding() {
        let bytes = sample(7).encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let ok = SignedTx::decode(&b)
                .map(|s| s.verify_signature().is_ok())
                .unwrap_or(false);
            assert!(!ok, "flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn replay_id_ignores_the_signature_and_covers_every_field() {
        let stx = sample(1);
        let mut other = stx.clone();
        other.signature = Signature([7; 64]);
        assert_eq!(stx.tx.replay_id(), other.tx.replay_id());
        assert_ne!(stx.tx.replay_id(), sample(2).tx.replay_id(), "nonce");
        let mut later = stx.tx.clone();
        later.expires_at_ms += 1;
        assert_ne!(stx.tx.replay_id(), later.replay_id(), "expiry");
        assert_eq!(
            stx.tx.replay_id(),
            crate::hash::sha256(&stx.signed_message())
        );
    }

    #[test]
    fn zero_expiry_refused_statelessly() {
        let mut stx = sample(1);
        stx.tx.expires_at_ms = 0;
        assert_eq!(stx.check_stateless("test"), Err(TxError::NoExpiry));
        assert!(sample(1).check_stateless("test").is_ok());
    }

    #[test]
    fn version_1_is_no_longer_read() {
        let mut stx = sample(1);
        stx.tx.version = 1;
        assert_eq!(
            SignedTx::decode(&stx.encode()),
            Err(TxError::Version { found: 1 })
        );
    }

    #[test]
    fn trailing_bytes_and_oversize_rejected() {
        let mut bytes = sample(1).encode();
        bytes.push(0);
        assert!(SignedTx::decode(&bytes).is_err());
        let big = vec![0u8; limits::TX_BYTES_MAX + 1];
        assert!(matches!(
            SignedTx::decode(&big),
            Err(TxError::Codec(CodecError::TooLarge { .. }))
        ));
    }

    #[test]
    fn payload_json_shape() {
        let p: Payload = serde_json::from_str(
            r#"{"type":"register_lot","gtin":"06901234000016","lot":"L1","origin_gln":null,"produced_on":"2026-11-02","quantity":5,"unit":"kg"}"#,
        )
        .expect("parses");
        assert_eq!(p.kind(), "register_lot");
        assert!(p.check().is_ok());
    }

    #[test]
    fn dates_checked() {
        assert!(check_date("d", "2026-02-30").is_ok());
        assert!(check_date("d", "2026-13-01").is_err());
        assert!(check_date("d", "26-1-1").is_err());
    }
}
