//! The audit trail: who did what, when, in which transaction and block, indexed by
//! member, organization and product. Every transaction, applied or rejected, leaves
//! an entry for its signer and the signer's organization; applied ones leave one for
//! each product they touched.
//!
//! The trail is a derived index ([`crate::index`]): a row per subject per block lists
//! the transactions (by index in the block) that the subject's trail names; an
//! [`AuditEntry`] is rebuilt from the block, its receipt and the state
//! ([`crate::block::audit_entry`]) when it is read.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::{Height, OrgId, PublicKey, TxId};

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
