//! Payloads of the access domain: read grants between organizations.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::PayloadError;
use crate::org::{DataCategory, OrgId};

/// An organization admin lets another organization's members read this
/// organization's data of a category beyond what their roles grant (or stops).
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
pub struct GrantRead {
    /// The organization granted.
    pub org: OrgId,
    /// The category.
    pub category: DataCategory,
    /// Granted or withdrawn.
    pub allowed: bool,
}

impl GrantRead {
    /// Checks that need no state (none).
    pub fn check(&self) -> Result<(), PayloadError> {
        Ok(())
    }
}
