//! The narrow interface between the consensus engine and the rest of the node.
//!
//! The consensus driver (`consensus`) knows nothing about transactions, state or
//! storage: it asks an [`Application`] to build, check and commit blocks. The
//! node's [`crate::ledger::Ledger`] implements it.

use std::sync::Arc;
use waybill_types::block::ValidatorInfo;
use waybill_types::{Block, CommitCertificate, Hash, Height, PublicKey};

/// Why the application refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The block is invalid: the peer that sent it is at fault. Consensus votes nil.
    #[error("invalid block: {0}")]
    InvalidBlock(String),
    /// Something failed locally (storage). The node must stop rather than diverge.
    #[error("local failure: {0}")]
    Internal(String),
}

/// What consensus needs from the ledger.
///
/// Methods are synchronous and may take milliseconds (block execution, a redb
/// commit); the driver calls them with `tokio::task::block_in_place`.
pub trait Application: Send + 'static {
    /// The chain id.
    fn chain_id(&self) -> String;
    /// The highest committed height (0 before the first block).
    fn committed_height(&self) -> Height;
    /// The lowest height whose block and certificate are still stored (1 unless pruned).
    fn history_min_height(&self) -> Height;
    /// The validator set that finalizes `height`, sorted by public key.
    fn validator_set(&self, height: Height) -> Vec<ValidatorInfo>;
    /// Wakes when transactions arrive in the mempool.
    fn mempool_notify(&self) -> Arc<tokio::sync::Notify>;
    /// Transactions waiting in the mempool.
    fn mempool_len(&self) -> usize;
    /// As proposer: build, execute and remember a block for `height` from the mempool.
    fn build_block(&mut self, height: Height, proposer: PublicKey) -> Result<Block, AppError>;
    /// Consensus expects this node to propose `height` (the one after the block it is
    /// about to commit) as `proposer`: the application may build that block while it
    /// writes the decided one. A hint only; `build_block` is still asked for it.
    fn will_propose(&mut self, _height: Height, _proposer: PublicKey) {}
    /// As validator: check and execute a block proposed by another validator, and
    /// remember it. `InvalidBlock` if anything is wrong with it.
    fn accept_proposal(&mut self, block: Block) -> Result<(), AppError>;
    /// A block this node built or accepted and has not yet committed.
    fn proposal(&self, block_hash: &Hash) -> Option<Block>;
    /// Whether [`Application::proposal`] has the block (without copying it).
    fn has_proposal(&self, block_hash: &Hash) -> bool {
        self.proposal(block_hash).is_some()
    }
    /// Commit the block `block_hash` (built or accepted before) with its certificate.
    fn commit(&mut self, block_hash: Hash, certificate: CommitCertificate) -> Result<(), AppError>;
    /// A committed block's canonical bytes and certificate, for peers that sync.
    fn committed_block(&self, height: Height) -> Option<(Vec<u8>, CommitCertificate)>;
}
