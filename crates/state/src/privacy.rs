//! The privacy domain: organizations' encryption keys, to which sealed fields are
//! wrapped ([`waybill_types::seal`], docs/PRIVACY.md). A key is registered by the
//! organization's admin, versioned from 1, and rotated by registering the next
//! version; every version stays, so fields sealed to an old one can still be opened
//! by whoever holds its secret. The node only stores public keys.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::payload::RegisterSealKey;
use waybill_types::reject::RejectCode;
use waybill_types::seal::{Recipient, SealPublicKey};
use waybill_types::{Height, OrgId};

use crate::exec::{decode_record, encode_record, Execution, StateRead, StateReadError};
use crate::exec::{Call, Contract, HandlerError, Rejection, Writes};
use crate::identity::admin_signer;
use crate::keys;

/// One version of an organization's encryption key.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct SealKey {
    /// The organization.
    pub org: OrgId,
    /// The version (1, 2, …).
    pub version: u32,
    /// The X25519 public key.
    pub key: SealPublicKey,
    /// The height of the block that registered it.
    pub registered_at: Height,
    /// That block's time (ms since the Unix epoch).
    pub registered_at_ms: u64,
}

impl SealKey {
    /// The organization as a recipient of sealed fields, with this key.
    pub fn recipient(&self) -> Recipient {
        Recipient {
            org: self.org.clone(),
            kv: self.version,
            key: self.key,
        }
    }
}

/// The organization's current key version (0 if it has registered none).
pub fn current_seal_key_version<S: StateRead + ?Sized>(
    state: &S,
    org: &OrgId,
) -> Result<u32, StateReadError> {
    let k = keys::seal_key_current(org);
    match state.get(&k)? {
        None => Ok(0),
        Some(bytes) => decode_record(&k, &bytes),
    }
}

/// One version of the organization's key.
pub fn load_seal_key<S: StateRead + ?Sized>(
    state: &S,
    org: &OrgId,
    version: u32,
) -> Result<Option<SealKey>, StateReadError> {
    let k = keys::seal_key(org, version);
    state
        .get(&k)?
        .map(|bytes| decode_record(&k, &bytes))
        .transpose()
}

/// The organization's current key, if it has registered one.
pub fn current_seal_key<S: StateRead + ?Sized>(
    state: &S,
    org: &OrgId,
) -> Result<Option<SealKey>, StateReadError> {
    match current_seal_key_version(state, org)? {
        0 => Ok(None),
        v => load_seal_key(state, org, v)?
            .ok_or_else(|| StateReadError::Corrupt {
                key: keys::seal_key(org, v),
                reason: format!("organization `{org}` is at key version {v}, which is missing"),
            })
            .map(Some),
    }
}

/// Every version of the organization's key, oldest first.
pub fn seal_keys<S: StateRead + ?Sized>(
    state: &S,
    org: &OrgId,
) -> Result<Vec<SealKey>, StateReadError> {
    let current = current_seal_key_version(state, org)?;
    (1..=current)
        .map(|v| {
            load_seal_key(state, org, v)?.ok_or_else(|| StateReadError::Corrupt {
                key: keys::seal_key(org, v),
                reason: format!(
                    "organization `{org}` is at key version {current}; version {v} is missing"
                ),
            })
        })
        .collect()
}

/// An admin registers its organization's next encryption key.
impl Contract for RegisterSealKey {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let (_, org) = admin_signer(ex, call.signer)?;
        let current = current_seal_key_version(ex, &org.id)?;
        let next = current.checked_add(1).ok_or_else(|| {
            Rejection::new(
                RejectCode::Limit,
                "the organization has used every key version",
            )
        })?;
        if self.version != next {
            return Err(Rejection::new(
                RejectCode::SealKeyVersion,
                format!(
                    "`{}` is at encryption key version {current}; register version {next}, not {}",
                    org.id, self.version
                ),
            )
            .into());
        }
        if let Some(old) = seal_keys(ex, &org.id)?.iter().find(|k| k.key == self.key) {
            return Err(Rejection::new(
                RejectCode::Duplicate,
                format!(
                    "this key is already `{}`'s version {}; a rotation needs a new key",
                    org.id, old.version
                ),
            )
            .into());
        }
        let record = SealKey {
            org: org.id.clone(),
            version: self.version,
            key: self.key,
            registered_at: ex.context().height,
            registered_at_ms: ex.context().time_ms,
        };
        Ok(vec![
            (
                keys::seal_key(&org.id, self.version),
                encode_record(&record),
            ),
            (
                keys::seal_key_current(&org.id),
                encode_record(&self.version),
            ),
        ])
    }

    fn describe(&self) -> String {
        format!("registered encryption key version {}", self.version)
    }
}

/// Each wrap's organization has a key, and the wrap is for its current version.
pub fn key_version_problems<S: StateRead + ?Sized>(
    state: &S,
    wraps: &[waybill_types::seal::KeyRef],
    here: &str,
) -> Result<Vec<String>, StateReadError> {
    let mut problems = Vec::new();
    for w in wraps {
        match current_seal_key_version(state, &w.org)? {
            0 => problems.push(format!(
                "{here}: wrapped for `{}`, which has registered no encryption key",
                w.org
            )),
            v if v != w.kv => problems.push(format!(
                "{here}: wrapped for `{}` key version {}, but its current version is {v}; seal it again with version {v}",
                w.org, w.kv
            )),
            _ => {}
        }
    }
    Ok(problems)
}
