//! Starting a node: open and check the store, build the ledger, start consensus.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use waybill_store::verify::verify_recent;
use waybill_store::Store;
use waybill_types::{limits, Genesis, SecretKey};

use crate::consensus::{self, ConsensusConfig, ConsensusHandle};
use crate::ledger::{Ledger, Shared};
use crate::mempool::Mempool;
use crate::metrics::Metrics;

/// Blocks re-checked at start-up, before serving (hash links, roots, signatures,
/// certificates, write sets).
pub const STARTUP_VERIFY_BLOCKS: u64 = 1_000;
/// With a single validator, how long an idle proposer waits for transactions before
/// proposing an empty block.
pub const SOLO_EMPTY_BLOCK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// How often the whole chain is re-checked in the background (it is also checked
/// once right after start-up).
pub const BACKGROUND_VERIFY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// What a node needs to run.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The node's data directory: the store is `data_dir/waybill.redb`, the
    /// consensus write-ahead log `data_dir/consensus/wal`.
    pub data_dir: PathBuf,
    /// The consortium's genesis.
    pub genesis: Genesis,
    /// This node's validator key.
    pub validator_key: SecretKey,
    /// p2p listen multiaddr, e.g. `/ip4/127.0.0.1/tcp/27000`.
    pub p2p_listen: String,
    /// Peers' p2p multiaddrs.
    pub peers: Vec<String>,
    /// Peers' API base URLs, to which client transactions are gossiped.
    pub peer_apis: Vec<String>,
    /// Mempool transaction limit (capped by [`limits::MEMPOOL_TXS_MAX`]).
    pub mempool_txs_max: usize,
    /// Mempool byte limit (capped by [`limits::MEMPOOL_BYTES_MAX`]).
    pub mempool_bytes_max: usize,
    /// Blocks checked at start-up.
    pub startup_verify_blocks: u64,
    /// Fault injection for tests (see [`crate::consensus::ConsensusConfig::byzantine`]).
    pub byzantine: Option<malachitebft_engine_byzantine::ByzantineConfig>,
}

impl NodeOptions {
    /// Options with default limits.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        genesis: Genesis,
        validator_key: SecretKey,
        p2p_listen: impl Into<String>,
    ) -> Self {
        NodeOptions {
            data_dir: data_dir.into(),
            genesis,
            validator_key,
            p2p_listen: p2p_listen.into(),
            peers: Vec::new(),
            peer_apis: Vec::new(),
            mempool_txs_max: limits::MEMPOOL_TXS_MAX,
            mempool_bytes_max: limits::MEMPOOL_BYTES_MAX,
            startup_verify_blocks: STARTUP_VERIFY_BLOCKS,
            byzantine: None,
        }
    }

    /// The store's path.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("waybill.redb")
    }
}

/// A running node.
pub struct RunningNode {
    /// What the API reads.
    pub shared: Arc<Shared>,
    /// The consensus engine.
    pub consensus: ConsensusHandle,
}

impl std::fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RunningNode({:?})", self.shared)
    }
}

/// Open the store (creating it from genesis the first time), verify its newest
/// blocks, and start consensus. Refuses to start on a store that fails verification.
pub async fn start(opts: NodeOptions) -> anyhow::Result<RunningNode> {
    opts.genesis.check().context("genesis is invalid")?;
    if !opts
        .genesis
        .validators
        .iter()
        .any(|v| v.public_key == opts.validator_key.public())
    {
        // Not a founding validator: the node follows the chain and votes from the
        // height at which governance adds its key, if it ever does.
        tracing::info!(
            key = %opts.validator_key.public(),
            "this node's key is not in the genesis validator set; it follows the chain and votes once governance adds it"
        );
    }
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("cannot create data directory {}", opts.data_dir.display()))?;
    let store_path = opts.store_path();
    let store = Store::open(&store_path, &opts.genesis)
        .with_context(|| format!("cannot open store {}", store_path.display()))?;
    let report = verify_recent(&store, opts.startup_verify_blocks).map_err(|e| {
        anyhow::anyhow!(
            "TAMPER ALERT: store {} failed verification and will not be served: {e}. Run `waybill verify --dir` for the full check; restore from a backup or resync from peers",
            store_path.display()
        )
    })?;
    tracing::info!(
        from = report.from.0,
        to = report.to.0,
        n_txs = report.n_txs,
        "start-up verification passed"
    );
    let store = Arc::new(store);
    let metrics = Arc::new(Metrics::default());
    let mempool = Arc::new(Mempool::new(opts.mempool_txs_max, opts.mempool_bytes_max));
    let mut ledger = Ledger::new(store, opts.genesis.clone(), mempool, metrics)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(f) = std::env::var_os(crate::ledger::HOLD_BLOCKS_ENV) {
        ledger.hold_blocks_while(PathBuf::from(f));
    }
    let shared = ledger.shared();
    let mut ccfg = ConsensusConfig::new(
        opts.data_dir.clone(),
        opts.validator_key.clone(),
        opts.p2p_listen.clone(),
    );
    ccfg.persistent_peers = opts.peers.clone();
    ccfg.byzantine = opts.byzantine.clone();
    if opts.genesis.validators.len() == 1 {
        // One validator is always its own proposer: a long propose timeout costs
        // nothing, and an idle chain then adds one empty block per
        // `SOLO_EMPTY_BLOCK_INTERVAL` instead of one a second.
        ccfg.timeouts.propose = SOLO_EMPTY_BLOCK_INTERVAL + std::time::Duration::from_secs(3);
        ccfg.empty_block_interval = SOLO_EMPTY_BLOCK_INTERVAL;
    }
    let consensus = consensus::run(ledger, ccfg)
        .await
        .context("cannot start consensus")?;
    consensus.track_peers(shared.metrics.clone(), std::time::Duration::from_secs(2));
    if !opts.peer_apis.is_empty() {
        shared.set_gossip(crate::gossip::start(opts.peer_apis.clone()));
    }
    resume_capture_jobs(&shared);
    spawn_background_verification(shared.clone());
    Ok(RunningNode { shared, consensus })
}

/// Capture jobs accepted before a restart whose transactions are not committed go back
/// into the mempool; those that can no longer commit (expired, a revoked signer)
/// record why.
fn resume_capture_jobs(shared: &Shared) {
    let open = match shared.store.open_capture_jobs() {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(%e, "cannot read capture jobs to resume");
            return;
        }
    };
    let mut committed = Vec::new();
    let mut resubmit = Vec::new();
    for (id, job) in open {
        match shared.store.tx_location(&id) {
            Ok(Some(_)) => committed.push(id),
            Ok(None) => resubmit.push((id, job.tx)),
            Err(e) => tracing::error!(%e, %id, "cannot look up a capture job's transaction"),
        }
    }
    if let Err(e) = shared.store.settle_capture_jobs(&committed) {
        tracing::warn!(%e, "cannot settle committed capture jobs");
    }
    if resubmit.is_empty() {
        return;
    }
    let (ids, txs): (Vec<_>, Vec<_>) = resubmit.into_iter().unzip();
    let results = crate::ledger::submit_batch(shared, txs);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut failed = Vec::new();
    let mut resumed = 0;
    for (id, r) in ids.into_iter().zip(results) {
        match r {
            Ok(_) => resumed += 1,
            Err(e) if e.code() == "duplicate" || e.code() == "already_committed" => resumed += 1,
            Err(e) => failed.push((
                id,
                waybill_store::JobFailure {
                    at_ms: now,
                    code: e.code().to_string(),
                    reason: format!("could not be resubmitted after a restart: {e}"),
                },
            )),
        }
    }
    tracing::info!(
        resumed,
        n_failed = failed.len(),
        "capture jobs resumed after a restart"
    );
    if let Err(e) = shared.store.fail_capture_jobs(&failed) {
        tracing::error!(%e, "cannot record failed capture jobs");
    }
}

/// Re-check the whole chain now and then, off the commit path. A failure raises the
/// tamper alert, which halts consensus and stops the node from serving.
fn spawn_background_verification(shared: Arc<Shared>) {
    tokio::spawn(async move {
        loop {
            let s = shared.clone();
            let outcome =
                tokio::task::spawn_blocking(move || verify_recent(&s.store, u64::MAX)).await;
            match outcome {
                Ok(Ok(report)) => {
                    tracing::info!(
                        to = report.to.0,
                        n_txs = report.n_txs,
                        "background verification passed"
                    )
                }
                Ok(Err(e)) => {
                    shared.raise_tamper_alert(format!(
                        "store {} failed verification: {e}",
                        shared.store.path()
                    ));
                    return;
                }
                Err(e) => tracing::warn!(%e, "background verification task failed to run"),
            }
            tokio::time::sleep(BACKGROUND_VERIFY_INTERVAL).await;
        }
    });
}
