//! The genesis file: the founding organizations, their admin keys and the validators.

use crate::block::{validators_hash, ValidatorInfo};
use crate::codec;

use crate::hash::{sha256, Hash};
use crate::keys::PublicKey;
use crate::limits;
use crate::org::{OrgId, Role};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A founding organization.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct GenesisOrganization {
    /// Its id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// The admin key: the organization's certificate authority for members.
    pub admin: PublicKey,
    /// The roles the organization may grant its members.
    pub roles: Vec<Role>,
    /// GS1 company prefixes it owns (products under them are its to register).
    #[serde(default)]
    pub company_prefixes: Vec<String>,
}

/// A founding validator.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// The organization that runs it.
    pub org: OrgId,
    /// Its consensus key.
    pub public_key: PublicKey,
    /// Voting power.
    pub voting_power: u64,
}

/// The genesis of a consortium.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain id every transaction must carry.
    pub chain_id: String,
    /// Genesis time, ms since the Unix epoch; the first block is later.
    pub genesis_time_ms: u64,
    /// Founding organizations.
    pub organizations: Vec<GenesisOrganization>,
    /// Founding validators.
    pub validators: Vec<GenesisValidator>,
}

/// A genesis that cannot start a chain.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenesisError {
    /// The named rule is broken.
    #[error("invalid genesis: {0}")]
    Invalid(String),
}

impl Genesis {
    /// SHA-256 of the canonical encoding: the consortium's fingerprint.
    pub fn hash(&self) -> Hash {
        sha256(&codec::encode(self))
    }

    /// Validators sorted by key, as consensus and certificates use them.
    pub fn validator_set(&self) -> Vec<ValidatorInfo> {
        let mut v: Vec<ValidatorInfo> = self
            .validators
            .iter()
            .map(|g| ValidatorInfo {
                public_key: g.public_key,
                voting_power: g.voting_power,
            })
            .collect();
        v.sort_by_key(|v| v.public_key);
        v
    }

    /// Hash of [`Genesis::validator_set`].
    pub fn validators_hash(&self) -> Hash {
        validators_hash(&self.validator_set())
    }

    /// Check every rule a genesis must satisfy.
    pub fn check(&self) -> Result<(), GenesisError> {
        let bad = |m: String| Err(GenesisError::Invalid(m));
        if self.chain_id.is_empty() || self.chain_id.len() > limits::CHAIN_ID_BYTES_MAX {
            return bad(format!(
                "chain_id must be 1-{} bytes",
                limits::CHAIN_ID_BYTES_MAX
            ));
        }
        if self.organizations.is_empty() || self.organizations.len() > limits::GENESIS_ORGS_MAX {
            return bad(format!(
                "needs 1-{} organizations",
                limits::GENESIS_ORGS_MAX
            ));
        }
        if self.validators.is_empty() || self.validators.len() > limits::VALIDATORS_MAX {
            return bad(format!("needs 1-{} validators", limits::VALIDATORS_MAX));
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut admins = std::collections::BTreeSet::new();
        let mut prefixes = std::collections::BTreeSet::new();
        for o in &self.organizations {
            if !ids.insert(o.id.clone()) {
                return bad(format!("organization `{}` appears twice", o.id));
            }
            if !admins.insert(o.admin) {
                return bad(format!(
                    "admin key {} is used by two organizations",
                    o.admin
                ));
            }
            if o.roles.is_empty() {
                return bad(format!("organization `{}` has no roles", o.id));
            }
            if o.company_prefixes.len() > limits::COMPANY_PREFIXES_MAX {
                return bad(format!(
                    "organization `{}` has too many company prefixes",
                    o.id
                ));
            }
            for p in &o.company_prefixes {
                if !(4..=12).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return bad(format!(
                        "organization `{}`: company prefix `{p}` must be 4-12 digits",
                        o.id
                    ));
                }
                if let Some(other) = prefixes
                    .iter()
                    .find(|q: &&String| q.starts_with(p.as_str()) || p.starts_with(q.as_str()))
                {
                    return bad(format!(
                        "company prefix `{p}` overlaps `{other}`: GS1 company prefixes never nest, so one GTIN would have two owners"
                    ));
                }
                prefixes.insert(p.clone());
            }
        }
        let mut keys = std::collections::BTreeSet::new();
        let mut total: u64 = 0;
        for v in &self.validators {
            if !ids.contains(&v.org) {
                return bad(format!(
                    "validator {} names unknown organization `{}`",
                    v.public_key, v.org
                ));
            }
            if !keys.insert(v.public_key) {
                return bad(format!("validator key {} appears twice", v.public_key));
            }
            if v.voting_power == 0 || v.voting_power > limits::VOTING_POWER_MAX {
                return bad(format!(
                    "validator {} has voting power {}; it must be 1 to {}",
                    v.public_key,
                    v.voting_power,
                    limits::VOTING_POWER_MAX
                ));
            }
            total = total
                .checked_add(v.voting_power)
                .ok_or(GenesisError::Invalid("voting power overflows".into()))?;
        }
        Ok(())
    }
}
