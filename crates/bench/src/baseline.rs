//! The `tx` workload's baseline: a ledger with no HTTP and no consensus engine. It
//! builds a block from the mempool and commits it with a certificate its one
//! validator signs — what a one-validator consensus does once it decides — so the
//! ratio to it shows what the API and consensus cost.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use waybill_node::app::Application as _;
use waybill_node::ledger::{Ledger, Shared};
use waybill_node::mempool::Mempool;
use waybill_node::metrics::Metrics;
use waybill_store::Store;
use waybill_types::limits::{MEMPOOL_BYTES_MAX, MEMPOOL_TXS_MAX};
use waybill_types::{CommitCertificate, CommitSignature, Genesis, Height, SecretKey};

/// A one-validator ledger in a scratch directory, removed on drop.
pub struct SoleValidatorLedger {
    ledger: Ledger,
    validator: SecretKey,
    chain_id: String,
    dir: PathBuf,
}

impl SoleValidatorLedger {
    /// A new ledger from `genesis` in `dir` (which it removes when dropped), with the
    /// largest mempool a node allows; `validator` must be the genesis's only validator.
    pub fn open(dir: &Path, genesis: Genesis, validator: SecretKey) -> anyhow::Result<Self> {
        let store_path = dir.join("waybill.redb");
        let store = Store::open(&store_path, &genesis)
            .with_context(|| format!("cannot open the baseline store {}", store_path.display()))?;
        let chain_id = genesis.chain_id.clone();
        let ledger = Ledger::new(
            Arc::new(store),
            genesis,
            Arc::new(Mempool::new(MEMPOOL_TXS_MAX, MEMPOOL_BYTES_MAX)),
            Arc::new(Metrics::default()),
        )
        .context("the baseline ledger does not start")?;
        Ok(SoleValidatorLedger {
            ledger,
            validator,
            chain_id,
            dir: dir.to_path_buf(),
        })
    }

    /// What the API reads and submits through.
    pub fn shared(&self) -> Arc<Shared> {
        self.ledger.shared()
    }

    /// Build a block from the mempool and commit it with the validator's signature.
    pub fn commit_block(&mut self) -> anyhow::Result<Height> {
        let height = self.ledger.committed_height().next();
        let block = self
            .ledger
            .build_block(height, self.validator.public())
            .with_context(|| format!("the baseline cannot build block {height}"))?;
        let hash = block.hash();
        let signature = CommitSignature::sign(&self.validator, &self.chain_id, height, 0, hash);
        let certificate = CommitCertificate {
            height,
            round: 0,
            block_hash: hash,
            signatures: vec![signature],
        };
        self.ledger
            .commit(hash, certificate)
            .with_context(|| format!("the baseline cannot commit block {height}"))?;
        Ok(height)
    }
}

impl Drop for SoleValidatorLedger {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
