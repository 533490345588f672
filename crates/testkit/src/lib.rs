//! `waybill-testkit`: a ledger without consensus, for tests that need committed blocks
//! on demand: build a block from the mempool and commit it with a certificate signed
//! by the (only) validator's key — exactly what a one-validator consensus does,
//! minus the engine. Also a test genesis and unique temporary directories.
//!
//! Only tests use it (a `[dev-dependencies]` entry of the crates whose tests need
//! it): it panics where a test should fail, and no library crate exposes it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use waybill_store::Store;
use waybill_types::clock::Clock;
use waybill_types::{
    CommitCertificate, CommitSignature, Genesis, GenesisOrganization, GenesisValidator, Height,
    OrgId, Role, SecretKey,
};

use waybill_node::app::{AppError, Application};
use waybill_node::ledger::{Ledger, Shared};
use waybill_node::mempool::Mempool;
use waybill_node::metrics::Metrics;

/// A one-validator ledger in a temporary directory.
pub struct TestChain {
    /// The ledger.
    pub ledger: Ledger,
    /// The validator key.
    pub validator: SecretKey,
    /// Further validator keys this chain signs with once governance adds them.
    pub extra_signers: Vec<SecretKey>,
    /// The genesis.
    pub genesis: Genesis,
    /// The directory (removed on drop).
    pub dir: PathBuf,
}

impl std::fmt::Debug for TestChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestChain({})", self.dir.display())
    }
}

/// An organization for [`test_genesis`]: id, roles, company prefixes, admin key.
pub type TestOrg<'a> = (&'a str, &'a [Role], &'a [&'a str], &'a SecretKey);

/// A genesis with the given organizations and one validator run by the first.
pub fn test_genesis(orgs: &[TestOrg<'_>], validator: &SecretKey) -> Genesis {
    Genesis {
        chain_id: "waybill-test".into(),
        genesis_time_ms: 1_700_000_000_000,
        organizations: orgs
            .iter()
            .map(|(id, roles, prefixes, admin)| GenesisOrganization {
                id: OrgId::new(id).expect("test org ids are valid"),
                name: format!("{id} (test)"),
                admin: admin.public(),
                roles: roles.to_vec(),
                company_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            })
            .collect(),
        validators: vec![GenesisValidator {
            org: OrgId::new(orgs[0].0).expect("test org ids are valid"),
            public_key: validator.public(),
            voting_power: 1,
        }],
    }
}

/// A unique temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("waybill-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir can be created");
    d
}

impl TestChain {
    /// A new chain from `genesis` in a fresh temporary directory.
    pub fn new(genesis: Genesis, validator: SecretKey) -> TestChain {
        let dir = temp_dir("testchain");
        Self::open(&dir, genesis, validator, 10_000, 1 << 30)
    }

    /// A new chain whose ledger (and the API over it) reads the time from `clock`:
    /// a [`waybill_types::clock::ManualClock`] sets each block's time and moves
    /// deadlines when the test says.
    pub fn with_clock(genesis: Genesis, validator: SecretKey, clock: Arc<dyn Clock>) -> TestChain {
        let dir = temp_dir("testchain");
        Self::open_with_clock(&dir, genesis, validator, 10_000, 1 << 30, clock)
    }

    /// A chain in `dir` (reopened if it exists) with mempool limits.
    pub fn open(
        dir: &Path,
        genesis: Genesis,
        validator: SecretKey,
        mempool_txs: usize,
        mempool_bytes: usize,
    ) -> TestChain {
        let clock = waybill_types::clock::system();
        Self::open_with_clock(dir, genesis, validator, mempool_txs, mempool_bytes, clock)
    }

    fn open_with_clock(
        dir: &Path,
        genesis: Genesis,
        validator: SecretKey,
        mempool_txs: usize,
        mempool_bytes: usize,
        clock: Arc<dyn Clock>,
    ) -> TestChain {
        let store = Store::open(&dir.join("waybill.redb"), &genesis).expect("test store opens");
        let ledger = Ledger::with_clock(
            Arc::new(store),
            genesis.clone(),
            Arc::new(Mempool::new(mempool_txs, mempool_bytes)),
            Arc::new(Metrics::default()),
            clock,
        )
        .expect("ledger starts");
        TestChain {
            ledger,
            validator,
            extra_signers: Vec::new(),
            genesis,
            dir: dir.to_path_buf(),
        }
    }

    /// Close the ledger and keep the directory (for tests that reopen or tamper with it).
    pub fn close(mut self) -> PathBuf {
        std::mem::take(&mut self.dir)
    }

    /// What the API reads.
    pub fn shared(&self) -> Arc<Shared> {
        self.ledger.shared()
    }

    /// Build a block from the mempool and commit it. Returns its height.
    pub fn commit_block(&mut self) -> Result<Height, AppError> {
        let height = self.ledger.committed_height().next();
        let block = self.ledger.build_block(height, self.validator.public())?;
        let hash = block.hash();
        // Every key of the set in force at this height that this chain holds signs.
        let set = self.ledger.validator_set(height);
        let signatures = std::iter::once(&self.validator)
            .chain(&self.extra_signers)
            .filter(|k| set.iter().any(|v| v.public_key == k.public()))
            .map(|k| CommitSignature::sign(k, &self.genesis.chain_id, height, 0, hash))
            .collect();
        self.ledger.commit(
            hash,
            CommitCertificate {
                height,
                round: 0,
                block_hash: hash,
                signatures,
            },
        )?;
        Ok(height)
    }
}

impl Drop for TestChain {
    fn drop(&mut self) {
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
