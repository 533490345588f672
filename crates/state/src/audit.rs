//! The audit trail: who did what, when, in which transaction and block, indexed by
//! member, organization and product. Every transaction, applied or rejected, leaves
//! an entry for its signer and the signer's organization; applied ones leave one for
//! each product they touched.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::block::TxStatus;
use waybill_types::{Height, OrgId, Payload, PublicKey, TxId};

use crate::{encode_record, keys, BlockContext};

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
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
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

/// A one-line description of a payload for the audit trail.
pub fn describe(p: &Payload) -> String {
    match p {
        Payload::RegisterMember {
            member,
            name,
            roles,
        } => format!(
            "registered member {member} ({name}) with roles {}",
            roles
                .iter()
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Payload::SetMemberRoles { member, roles } => format!(
            "set roles of {member} to {}",
            roles
                .iter()
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Payload::RevokeMember { member, reason } => format!("revoked member {member}: {reason}"),
        Payload::RegisterProduct { gtin, name, .. } => {
            format!("registered product {gtin} ({name})")
        }
        Payload::RegisterLot { gtin, lot, .. } => format!("registered lot {lot} of {gtin}"),
        Payload::ProposeGovernance { action, .. } => format!("proposed {action:?}"),
        Payload::ApproveGovernance { proposal } => format!("approved proposal {proposal}"),
        Payload::RegisterLocation { gln, name, .. } => {
            format!("registered location {gln} ({name})")
        }
        Payload::SetLocationDelegate { gln, org, allowed } => format!(
            "{} `{org}` to capture at {gln}",
            if *allowed {
                "delegated"
            } else {
                "withdrew delegation from"
            }
        ),
        Payload::RecordQualification {
            org, kind, number, ..
        } => {
            format!("recorded `{kind}` qualification {number} of `{org}`")
        }
        Payload::RevokeQualification {
            org,
            number,
            reason,
        } => {
            format!("revoked qualification {number} of `{org}`: {reason}")
        }
        Payload::RequireQualification {
            product_category,
            kind,
        } => match kind {
            Some(k) => format!("required `{k}` for products of `{product_category}`"),
            None => format!("dropped the requirement for products of `{product_category}`"),
        },
        Payload::GrantRead {
            org,
            category,
            allowed,
        } => format!(
            "{} `{org}` reading {} data",
            if *allowed { "granted" } else { "withdrew from" },
            category.name()
        ),
        Payload::CaptureEpcis { document } => {
            format!("captured an EPCIS document ({} bytes)", document.len())
        }
    }
}

fn entry(
    p: &Payload,
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
        action: p.kind().to_string(),
        summary: describe(p),
        outcome,
    })
}

/// Entries for the signer and its organization (every transaction).
pub(crate) fn actor_entries(
    p: &Payload,
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
    let v = entry(p, ctx, tx_id, signer, org, outcome);
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

/// Entries for the products an applied transaction touched (events name theirs
/// through [`crate::trace`]).
pub(crate) fn product_entries(
    p: &Payload,
    ctx: &BlockContext,
    tx_id: TxId,
    signer: PublicKey,
    org: Option<&OrgId>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let gtin = match p {
        Payload::RegisterProduct { gtin, .. } | Payload::RegisterLot { gtin, .. } => gtin,
        _ => return Vec::new(),
    };
    vec![(
        keys::audit(
            subject::PRODUCT,
            gtin.as_str().as_bytes(),
            ctx.height.0,
            &tx_id,
        ),
        entry(p, ctx, tx_id, signer, org, "applied".into()),
    )]
}

/// Product audit entry for a capture that named `gtin`.
pub(crate) fn capture_product_entry(
    p: &Payload,
    ctx: &BlockContext,
    tx_id: TxId,
    signer: PublicKey,
    org: &OrgId,
    gtin: &str,
    summary: String,
) -> (Vec<u8>, Vec<u8>) {
    let mut e = AuditEntry {
        height: ctx.height,
        time_ms: ctx.time_ms,
        tx_id,
        signer,
        org: Some(org.clone()),
        action: p.kind().to_string(),
        summary: describe(p),
        outcome: "applied".into(),
    };
    e.summary = summary;
    (
        keys::audit(subject::PRODUCT, gtin.as_bytes(), ctx.height.0, &tx_id),
        encode_record(&e),
    )
}
