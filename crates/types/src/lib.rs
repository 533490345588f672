//! Waybill's vocabulary: hashes, keys and signatures, the canonical codec,
//! transactions, blocks, genesis and the limits that bound them all. GS1 identifiers
//! live in `waybill-gs1`.
//!
//! Everything that is hashed or signed in Waybill is encoded with [`codec`] (borsh,
//! decoded with a byte limit); JSON appears only at the API edge.

pub mod block;
pub mod clock;
pub mod codec;
pub mod disclosure;
pub mod genesis;
pub mod hash;
pub mod jcs;
pub mod keys;
pub mod limits;
pub mod merkle;
pub mod money;
pub mod org;
pub mod payload;
pub mod proof;
pub mod reject;
pub mod screening;
pub mod seal;
pub mod signed_request;
pub mod smt;
pub mod tx;

pub use block::{Block, BlockHeader, CommitCertificate, CommitSignature, Receipt, TxStatus};
pub use genesis::{Genesis, GenesisOrganization, GenesisValidator};
pub use hash::{sha256, Hash};
pub use keys::{PublicKey, SecretKey, Signature};
pub use org::{DataCategory, OrgId, Role};
pub use payload::{GovernanceAction, LotInput, LotRef, Payload};
pub use tx::{SignedTx, Transaction, TxId};

/// A block height. Height 0 is genesis; the first block is height 1.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct Height(pub u64);

impl Height {
    /// The next height.
    pub fn next(self) -> Height {
        Height(
            self.0
                .checked_add(1)
                .expect("height overflow is unreachable in practice"),
        )
    }
}

impl std::fmt::Display for Height {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
