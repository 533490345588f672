//! Erasure of personal data (docs/PRIVACY.md "Erasure"). An erasable sealed field is
//! detached: its record keeps where it is, for whom, its commitment and the SHA-256 of
//! its private part, which only the recipients' nodes keep, off the chain. The record
//! is an event (its eventID) or an order (its URN; the buyer's address at
//! `/ship_to`). Erasing it ([`EraseSealed`], by the organization that recorded it —
//! the event's capturer, the order's platform or, in direct trade, its seller — on its
//! subject's request, or by a regulator) tells every node to purge that part; each node that purged records so
//! ([`RecordPurge`], signed by its validator key). Nothing on the chain changes or
//! disappears, so every block still verifies.
//!
//! State: `SEAL_ERASED ‖ record ‖ 0 ‖ field ‖ 0` → [`Erasure`];
//! `SEAL_PURGED ‖ record ‖ 0 ‖ field ‖ 0 ‖ validator key` → [`Purge`].

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::payload::{EraseSealed, RecordPurge};
use waybill_types::reject::RejectCode;
use waybill_types::seal::SealedField;
use waybill_types::{Height, OrgId, PublicKey, Role};

use super::wraps::find_sealed_field;
use crate::exec::{decode_record, encode_record, Execution, StateRead, StateReadError, StateScan};
use crate::exec::{Call, Contract, HandlerError, Rejection, Writes};
use crate::identity::active_signer;
use crate::keys;

/// A field's erasure.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Erasure {
    /// The organization whose member erased it.
    pub by: OrgId,
    /// The member.
    pub signer: PublicKey,
    /// Why.
    pub reason: String,
    /// The height it was erased at.
    pub height: Height,
}

/// A node's record that it purged an erased field's private part.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Purge {
    /// The node's validator key.
    pub validator: PublicKey,
    /// The organization that runs it.
    pub org: OrgId,
    /// The height the purge was recorded at.
    pub height: Height,
}

/// The erasure of `field` of `record`, if it was erased.
pub fn load_erasure<S: StateRead + ?Sized>(
    state: &S,
    record: &str,
    field: &str,
) -> Result<Option<Erasure>, StateReadError> {
    let k = keys::seal_erased(record, field);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// The purges recorded for `field` of `record`, by validator key.
pub fn purges<S: StateScan + ?Sized>(
    state: &S,
    record: &str,
    field: &str,
) -> Result<Vec<Purge>, StateReadError> {
    let prefix = keys::seal_purged(record, field, None);
    state
        .scan_from(&prefix, &prefix, usize::MAX)?
        .into_iter()
        .map(|(k, v)| decode_record(&k, &v))
        .collect()
}

/// The capturing organization (or a regulator) erases a detached field.
impl Contract for EraseSealed {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let member = active_signer(ex, call.signer)?;
        let (home, field) = find_sealed_field(ex, &self.record, &self.field)?.ok_or_else(|| {
            Rejection::new(
                RejectCode::SealedField,
                format!(
                    "no sealed field {} in a record {} (an event captured with that eventID, or an order's URN with /ship_to)",
                    self.field, self.record
                ),
            )
        })?;
        if matches!(field, SealedField::Inline(_)) {
            return Err(Rejection::new(
                RejectCode::SealedField,
                format!(
                    "{} in {} was sealed inline: its ciphertext is in the block and cannot be erased; seal personal data as erasable (capture --erasable)",
                    self.field, self.record
                ),
            )
            .into());
        }
        if member.org != *home.recorder() && !member.roles.contains(&Role::Regulator) {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!(
                    "`{}` neither recorded {} (captured the event; for an order, is its platform, or its seller in direct trade) nor is a regulator; the recorder erases on its subject's request",
                    member.org, self.record
                ),
            )
            .into());
        }
        if let Some(e) = load_erasure(ex, &self.record, &self.field)? {
            return Err(Rejection::new(
                RejectCode::Duplicate,
                format!(
                    "{} in {} was erased at height {} already",
                    self.field, self.record, e.height
                ),
            )
            .into());
        }
        Ok(vec![(
            keys::seal_erased(&self.record, &self.field),
            encode_record(&Erasure {
                by: member.org,
                signer: call.signer,
                reason: self.reason.clone(),
                height: ex.context().height,
            }),
        )])
    }

    fn describe(&self) -> String {
        format!("erased {} in {}", self.field, self.record)
    }
}

/// A validator's node records that it purged an erased field.
impl Contract for RecordPurge {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let height = ex.context().height;
        let validator = crate::governance::validator_set_at(ex, height)?
            .into_iter()
            .find(|v| v.public_key == call.signer)
            .ok_or_else(|| {
                Rejection::new(
                    RejectCode::NotAuthorized,
                    format!(
                        "{} is no validator at height {height}; a purge is recorded by a node's validator key",
                        call.signer
                    ),
                )
            })?;
        if load_erasure(ex, &self.record, &self.field)?.is_none() {
            return Err(Rejection::new(
                RejectCode::SealedField,
                format!(
                    "{} in {} was not erased; there is no purge to record",
                    self.field, self.record
                ),
            )
            .into());
        }
        let k = keys::seal_purged(&self.record, &self.field, Some(&call.signer));
        if ex.get(&k)?.is_some() {
            return Err(Rejection::new(
                RejectCode::Duplicate,
                format!(
                    "the purge of {} in {} by {} is recorded already",
                    self.field, self.record, call.signer
                ),
            )
            .into());
        }
        Ok(vec![(
            k,
            encode_record(&Purge {
                validator: call.signer,
                org: validator.org,
                height,
            }),
        )])
    }

    fn describe(&self) -> String {
        format!("recorded its purge of {} in {}", self.field, self.record)
    }
}
