//! Payloads of the privacy domain: organizations' encryption keys for sealed fields
//! ([`crate::seal`], docs/PRIVACY.md).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::PayloadError;
use crate::seal::{SealPublicKey, Wrap};

/// An organization admin registers the organization's next encryption key (X25519):
/// version 1 first, then each rotation the next number. Fields are sealed to the key
/// current at the block that carries them; older versions stay on chain so that what
/// was sealed to them can still be opened with the old secret.
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
pub struct RegisterSealKey {
    /// The key's version: the organization's current version + 1 (1 for the first).
    pub version: u32,
    /// The public key, 64 hex characters.
    pub key: SealPublicKey,
}

impl RegisterSealKey {
    /// Stateless checks: a version from 1, and not the all-zero key (every HPKE
    /// encapsulation to it fails).
    pub fn check(&self) -> Result<(), PayloadError> {
        if self.version == 0 {
            return Err(PayloadError::Field {
                field: "version",
                reason: "versions start at 1".into(),
            });
        }
        if self.key.0 == [0; 32] {
            return Err(PayloadError::Field {
                field: "key",
                reason: "the all-zero key is not a usable X25519 public key".into(),
            });
        }
        Ok(())
    }
}

/// The longest record id (an EPCIS eventID) or field pointer a privacy payload names.
pub const SEALED_NAME_CHARS_MAX: usize = 1024;
/// The most wraps one [`AddSealWraps`] adds.
pub const ADDED_WRAPS_MAX: usize = 64;

fn check_sealed_names(record: &str, field: &str) -> Result<(), PayloadError> {
    for (name, v) in [("record", record), ("field", field)] {
        if v.is_empty() || v.chars().count() > SEALED_NAME_CHARS_MAX || v.contains('\0') {
            return Err(PayloadError::Field {
                field: name,
                reason: format!(
                    "1 to {SEALED_NAME_CHARS_MAX} characters, no NUL (the record's id, e.g. an eventID; the field's JSON pointer)"
                ),
            });
        }
    }
    if !field.starts_with('/') {
        return Err(PayloadError::Field {
            field: "field",
            reason: "a JSON pointer inside the record, starting with /".into(),
        });
    }
    Ok(())
}

/// A member of an organization that is a recipient of a sealed field adds recipients:
/// its client opened the field's data key and wrapped it again for each new
/// organization's current key (e.g. the carrier assigned after an order), or for a
/// recipient whose wrap does not open (which settles that organization's complaint).
/// The contract checks each new organization against the recipient rule
/// (docs/PRIVACY.md) and its key version; it cannot check that the wrap opens — the
/// new recipient complains if it does not ([`ComplainSealWrap`]).
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
pub struct AddSealWraps {
    /// The record the field belongs to (an EPCIS event's eventID, or an order's URN).
    pub record: String,
    /// The field's JSON pointer inside the record.
    pub field: String,
    /// The new wraps, one per organization.
    pub wraps: Vec<Wrap>,
}

impl AddSealWraps {
    /// Stateless checks: names, 1 to [`ADDED_WRAPS_MAX`] wraps, one per organization.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_sealed_names(&self.record, &self.field)?;
        if self.wraps.is_empty() || self.wraps.len() > ADDED_WRAPS_MAX {
            return Err(PayloadError::Field {
                field: "wraps",
                reason: format!("1 to {ADDED_WRAPS_MAX} wraps"),
            });
        }
        for (i, w) in self.wraps.iter().enumerate() {
            if self.wraps[..i].iter().any(|o| o.org == w.org) {
                return Err(PayloadError::Field {
                    field: "wraps",
                    reason: format!("two wraps for `{}`", w.org),
                });
            }
            if w.kv == 0 {
                return Err(PayloadError::Field {
                    field: "wraps",
                    reason: "key versions start at 1".into(),
                });
            }
        }
        Ok(())
    }
}

/// A member of a recipient organization says the organization's wrap of a sealed
/// field does not open with its secret. The field is flagged (shown with the record)
/// until a recipient wraps it again for the organization ([`AddSealWraps`]).
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
pub struct ComplainSealWrap {
    /// The record the field belongs to (an EPCIS event's eventID, or an order's URN).
    pub record: String,
    /// The field's JSON pointer inside the record.
    pub field: String,
    /// What went wrong, for the sender (e.g. the error opening gave).
    pub reason: String,
}

impl ComplainSealWrap {
    /// Stateless checks: names and a reason of 1 to 500 characters.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_sealed_names(&self.record, &self.field)?;
        super::check_text("reason", &self.reason, 500, true)
    }
}

/// Erase an erasable (detached) sealed field — personal data — on its subject's
/// request: every node that keeps its private part purges it and records so
/// ([`RecordPurge`]). The record keeps the field's commitment and the hash of what was
/// purged, so the chain still verifies. Signed by a member of the organization that
/// captured the record, or by a regulator.
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
pub struct EraseSealed {
    /// The record the field belongs to (an EPCIS event's eventID, or an order's URN).
    pub record: String,
    /// The field's JSON pointer inside the record.
    pub field: String,
    /// Why, for the record (e.g. "erasure request 2026-118 under PIPL art. 47").
    pub reason: String,
}

impl EraseSealed {
    /// Stateless checks: names and a reason of 1 to 500 characters.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_sealed_names(&self.record, &self.field)?;
        super::check_text("reason", &self.reason, 500, true)
    }
}

/// A node records that it purged an erased field's private part from its private
/// store. Signed by the node's validator key (the one payload a validator key signs).
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
pub struct RecordPurge {
    /// The record the field belongs to.
    pub record: String,
    /// The field's JSON pointer inside the record.
    pub field: String,
}

impl RecordPurge {
    /// Stateless checks: names.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_sealed_names(&self.record, &self.field)
    }
}
