//! Payloads of the privacy domain: organizations' encryption keys for sealed fields
//! ([`crate::seal`], docs/PRIVACY.md).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::PayloadError;
use crate::seal::SealPublicKey;

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
