//! Payloads of the credentials domain: qualifications and the categories that require them.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{check_date, check_text, check_word, PayloadError};
use crate::limits;
use crate::org::OrgId;

/// An inspector or regulator records a supplier's qualification after verifying it.
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
pub struct RecordQualification {
    /// The organization qualified.
    pub org: OrgId,
    /// What kind, e.g. "organic", "food_production_license", "gap".
    pub kind: String,
    /// The issuing body, e.g. "China Organic Certification Center".
    pub issuer: String,
    /// The certificate or licence number (unique per organization).
    pub number: String,
    /// What it covers, e.g. "navel oranges, 120 ha".
    pub scope: String,
    /// First day valid, `YYYY-MM-DD`.
    pub valid_from: String,
    /// Last day valid, `YYYY-MM-DD`.
    pub valid_to: String,
}

impl RecordQualification {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_word("kind", &self.kind)?;
        check_text("issuer", &self.issuer, limits::NAME_BYTES_MAX, true)?;
        check_text("number", &self.number, limits::NAME_BYTES_MAX, true)?;
        check_text("scope", &self.scope, limits::TEXT_BYTES_MAX, true)?;
        check_date("valid_from", &self.valid_from)?;
        check_date("valid_to", &self.valid_to)?;
        if self.valid_to < self.valid_from {
            return Err(PayloadError::Field {
                field: "valid_to",
                reason: format!("{} is before valid_from {}", self.valid_to, self.valid_from),
            });
        }
        Ok(())
    }
}

/// An inspector or regulator revokes a qualification.
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
pub struct RevokeQualification {
    /// The organization.
    pub org: OrgId,
    /// The certificate number.
    pub number: String,
    /// Why.
    pub reason: String,
}

impl RevokeQualification {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_text("number", &self.number, limits::NAME_BYTES_MAX, true)?;
        check_text("reason", &self.reason, limits::TEXT_BYTES_MAX, true)
    }
}

/// A regulator makes (or, with `kind: null`, stops making) a qualification a
/// requirement for producing products of a category.
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
pub struct RequireQualification {
    /// The product category, as registered on products, e.g. "fresh fruit".
    pub product_category: String,
    /// The qualification kind required.
    pub kind: Option<String>,
}

impl RequireQualification {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_text(
            "product_category",
            &self.product_category,
            limits::NAME_BYTES_MAX,
            true,
        )?;
        if let Some(k) = &self.kind {
            check_word("kind", k)?;
        }
        Ok(())
    }
}
