//! Payloads of the governance domain: changes to the consortium by majority.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{check_roles, check_text, PayloadError};
use crate::keys::PublicKey;
use crate::limits;
use crate::org::{OrgId, Role};
use crate::screening::ScreeningRule;

/// An organization admin proposes a change to the consortium; the proposer's
/// organization approves it by proposing.
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
pub struct ProposeGovernance {
    /// What to change.
    pub action: GovernanceAction,
    /// Why, for the record.
    pub reason: String,
}

impl ProposeGovernance {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_text("reason", &self.reason, limits::TEXT_BYTES_MAX, true)?;
        self.action.check()
    }
}

/// An organization admin approves an open proposal. When more than half of the
/// organizations have approved, the action takes effect in the same block.
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
pub struct ApproveGovernance {
    /// The proposal number.
    pub proposal: u64,
}

impl ApproveGovernance {
    /// Checks that need no state (none).
    pub fn check(&self) -> Result<(), PayloadError> {
        Ok(())
    }
}

/// A change to the consortium that needs a majority of organization admins.
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
    /// Replace the open tier's screening rules (`crate::screening`): the next version
    /// is in force from the approving transaction on.
    SetScreeningRules {
        /// The whole new rule set.
        rules: Vec<ScreeningRule>,
    } = 3,
}

impl GovernanceAction {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        match self {
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
                        !(4..=12).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit())
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
                        reason: format!("voting power must be 1 to {}", limits::VOTING_POWER_MAX),
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
            GovernanceAction::SetScreeningRules { rules } => crate::screening::check(rules),
        }
    }
}
