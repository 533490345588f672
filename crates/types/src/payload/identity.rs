//! Payloads of the identity domain: members of organizations and their roles.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{check_roles, check_text, PayloadError};
use crate::keys::PublicKey;
use crate::limits;
use crate::org::Role;

/// An organization admin registers a member of its organization.
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
pub struct RegisterMember {
    /// The new member's public key.
    pub member: PublicKey,
    /// A display name, e.g. "Li Wei, harvest team lead".
    pub name: String,
    /// Roles granted; each must be among the organization's roles.
    pub roles: Vec<Role>,
}

impl RegisterMember {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_text("name", &self.name, limits::NAME_BYTES_MAX, true)?;
        check_roles(&self.roles)
    }
}

/// An organization admin replaces a member's roles.
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
pub struct SetMemberRoles {
    /// The member.
    pub member: PublicKey,
    /// The new roles.
    pub roles: Vec<Role>,
}

impl SetMemberRoles {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_roles(&self.roles)
    }
}

/// An organization admin revokes a member: its later transactions are refused.
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
pub struct RevokeMember {
    /// The member.
    pub member: PublicKey,
    /// Why, for the audit trail.
    pub reason: String,
}

impl RevokeMember {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_text("reason", &self.reason, limits::TEXT_BYTES_MAX, true)
    }
}
