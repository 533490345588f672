//! The audit trail: who did what, when, in which transaction and block, indexed by
//! member, organization and product. Every transaction, applied or rejected, leaves
//! an entry for its signer and the signer's organization; applied ones leave one for
//! each product they touched.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_gs1::Gtin;
use waybill_types::block::TxStatus;
use waybill_types::{Height, OrgId, PublicKey, TxId};

use crate::exec::{encode_record, BlockContext};
use crate::keys;

/// Subject kinds in audit keys.
pub mod subject {
    /// A member (public key bytes).
    pub const MEMBER: u8 = b'm';
    /// An organization (id).
    pub const ORG: u8 = b'o';
    /// A product (GTIN-14).
    pub const PRODUCT: u8 = b'p';
}

/// One audit entry.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct AuditEntry {
    /// Block height.
    pub height: Height,
    /// Block time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The transaction.
    pub tx_id: TxId,
    /// Who signed it.
    pub signer: PublicKey,
    /// The signer's organization.
    pub org: Option<OrgId>,
    /// The payload kind, e.g. "capture_epcis".
    pub action: String,
    /// A one-line description.
    pub summary: String,
    /// "applied", or "rejected: <code>".
    pub outcome: String,
}

/// What a transaction did, as the audit trail records it.
pub(crate) struct Action {
    /// The payload kind, e.g. "capture_epcis".
    pub kind: &'static str,
    /// A one-line description ([`crate::dispatch::describe`]).
    pub summary: String,
}

fn entry(
    action: &Action,
    ctx: &BlockContext,
    tx_id: TxId,
    signer: PublicKey,
    org: Option<&OrgId>,
    outcome: String,
) -> Vec<u8> {
    encode_record(&AuditEntry {
        height: ctx.height,
        time_ms: ctx.time_ms,
        tx_id,
        signer,
        org: org.cloned(),
        action: action.kind.to_string(),
        summary: action.summary.clone(),
        outcome,
    })
}

/// Entries for the signer and its organization (every transaction).
pub(crate) fn actor_entries(
    action: &Action,
    ctx: &BlockContext,
    tx_id: TxId,
    signer: PublicKey,
    org: Option<&OrgId>,
    status: &TxStatus,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let outcome = match status {
        TxStatus::Applied => "applied".to_string(),
        TxStatus::Rejected { code, .. } => format!("rejected: {code}"),
    };
    let v = entry(action, ctx, tx_id, signer, org, outcome);
    let mut out = vec![(
        keys::audit(subject::MEMBER, &signer.0, ctx.height.0, &tx_id),
        v.clone(),
    )];
    if let Some(o) = org {
        out.push((
            keys::audit(subject::ORG, o.as_str().as_bytes(), ctx.height.0, &tx_id),
            v,
        ));
    }
    out
}

/// The entry for the product an applied transaction registered (events name
/// theirs through [`capture_product_entry`]).
pub(crate) fn product_entry(
    action: &Action,
    ctx: &BlockContext,
    tx_id: TxId,
    signer: PublicKey,
    org: Option<&OrgId>,
    gtin: &Gtin,
) -> (Vec<u8>, Vec<u8>) {
    (
        keys::audit(
            subject::PRODUCT,
            gtin.as_str().as_bytes(),
            ctx.height.0,
            &tx_id,
        ),
        entry(action, ctx, tx_id, signer, org, "applied".into()),
    )
}

/// Product audit entry for a capture that named `gtin`.
pub(crate) fn capture_product_entry(
    kind: &'static str,
    ctx: &BlockContext,
    tx_id: TxId,
    signer: PublicKey,
    org: &OrgId,
    gtin: &str,
    summary: String,
) -> (Vec<u8>, Vec<u8>) {
    let e = AuditEntry {
        height: ctx.height,
        time_ms: ctx.time_ms,
        tx_id,
        signer,
        org: Some(org.clone()),
        action: kind.to_string(),
        summary,
        outcome: "applied".into(),
    };
    (
        keys::audit(subject::PRODUCT, gtin.as_bytes(), ctx.height.0, &tx_id),
        encode_record(&e),
    )
}
