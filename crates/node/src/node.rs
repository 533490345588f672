//! Starting a node: open and check the store, build the ledger, start consensus.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use waybill_store::verify::{verify_recent, verify_stored};
use waybill_store::Store;
use waybill_types::clock::Clock;
use waybill_types::{limits, Genesis, SecretKey};

use crate::commit_mark::{CommitMark, CommitMarkError, COMMIT_MARK_INTERVAL_BLOCKS};
use crate::consensus::{self, ConsensusConfig, ConsensusHandle, SigningMark};
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
    /// The validator's signing mark (see [`crate::consensus::SigningGuard`]). Default
    /// `data_dir/signing-mark.json`; `waybill node` keeps it beside the validator key,
    /// outside the data directory, so a lost or wiped data directory does not take it.
    pub signing_mark: PathBuf,
    /// The wall clock the node and its API read (default: the machine's,
    /// [`waybill_types::clock::system`]).
    pub clock: Arc<dyn Clock>,
    /// Organizations besides its validator's whose private data the node keeps
    /// (`hosts_private_data_for` in `node.json`).
    pub hosted_orgs: Vec<waybill_types::OrgId>,
}

impl NodeOptions {
    /// Options with default limits.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        genesis: Genesis,
        validator_key: SecretKey,
        p2p_listen: impl Into<String>,
    ) -> Self {
        let data_dir = data_dir.into();
        NodeOptions {
            signing_mark: data_dir.join("signing-mark.json"),
            data_dir,
            genesis,
            validator_key,
            p2p_listen: p2p_listen.into(),
            peers: Vec::new(),
            peer_apis: Vec::new(),
            mempool_txs_max: limits::MEMPOOL_TXS_MAX,
            mempool_bytes_max: limits::MEMPOOL_BYTES_MAX,
            startup_verify_blocks: STARTUP_VERIFY_BLOCKS,
            byzantine: None,
            clock: waybill_types::clock::system(),
            hosted_orgs: Vec::new(),
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
    crate::wire_tap::warn_if_enabled();
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
    let (store, committed, mark_path) = open_verified_store(&opts)?;
    check_signing_mark(&opts, committed)?;
    let store = Arc::new(store);
    let metrics = Arc::new(Metrics::default());
    let mempool = Arc::new(Mempool::new(opts.mempool_txs_max, opts.mempool_bytes_max));
    let mut ledger = Ledger::with_clock(
        store,
        opts.genesis.clone(),
        mempool,
        metrics,
        opts.clock.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(f) = std::env::var_os(crate::ledger::HOLD_BLOCKS_ENV) {
        ledger.hold_blocks_while(PathBuf::from(f));
    }
    if let Some(f) = std::env::var_os(crate::ledger::HOLD_COMMITS_ENV) {
        ledger.hold_commits_while(PathBuf::from(f));
    }
    if let Ok(spec) = std::env::var(crate::ledger::KILL_AT_ENV) {
        ledger.kill_at(&spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let shared = ledger.shared();
    shared.readiness.set_store_verified();
    if !opts.peers.is_empty() {
        shared.readiness.expect_peers();
    }
    let mut ccfg = ConsensusConfig::new(
        opts.data_dir.clone(),
        opts.validator_key.clone(),
        opts.p2p_listen.clone(),
    );
    ccfg.persistent_peers = opts.peers.clone();
    ccfg.byzantine = opts.byzantine.clone();
    ccfg.signing_mark = opts.signing_mark.clone();
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
    shared.readiness.attach_consensus(consensus.probe());
    if !opts.peer_apis.is_empty() {
        shared.set_gossip(crate::gossip::start(opts.peer_apis.clone()));
    }
    open_private_store(&shared, &opts)?;
    resume_capture_jobs(&shared);
    spawn_background_verification(shared.clone());
    spawn_commit_marks(shared.clone(), mark_path);
    Ok(RunningNode { shared, consensus })
}

/// Open the private store (`data_dir/private`, docs/PRIVACY.md "Erasure") for the
/// organization that runs this node's validator, if it runs one now.
fn open_private_store(shared: &Arc<Shared>, opts: &NodeOptions) -> anyhow::Result<()> {
    let me = opts.validator_key.public();
    let snap = shared.store.snapshot().context("cannot read the state")?;
    let next = shared.head.borrow().height.next();
    let org = waybill_state::governance::validator_set_at(&snap, next)
        .context("cannot read the validator set")?
        .into_iter()
        .find(|v| v.public_key == me)
        .map(|v| v.org)
        .or_else(|| {
            opts.genesis
                .validators
                .iter()
                .find(|v| v.public_key == me)
                .map(|v| v.org.clone())
        });
    let Some(org) = org else {
        tracing::info!("this node runs no validator yet: it keeps no private data");
        return Ok(());
    };
    let mut orgs = vec![org];
    for o in &opts.hosted_orgs {
        if !orgs.contains(o) {
            orgs.push(o.clone());
        }
    }
    tracing::info!(
        orgs = %orgs.iter().map(waybill_types::OrgId::as_str).collect::<Vec<_>>().join(", "),
        "keeping private data for"
    );
    let store = crate::private::PrivateStore::open(
        opts.data_dir.join("private"),
        orgs,
        opts.validator_key.clone(),
    )
    .context("cannot open the private store")?;
    crate::purger::start(shared, store);
    Ok(())
}

/// Open the store (creating it from genesis the first time), verify its newest
/// blocks and record the commit mark: the store, its committed height, and where
/// the commit mark is kept. A store that fails its checks is refused, loudly.
fn open_verified_store(opts: &NodeOptions) -> anyhow::Result<(Store, u64, PathBuf)> {
    let store_path = opts.store_path();
    check_store(opts)
        .with_context(|| format!("refusing to start on store {}", store_path.display()))?;
    let store = match Store::open(&store_path, &opts.genesis) {
        Ok(store) => store,
        // A page that fails its checksum is tampering or a failing disk: say so, and
        // name the first bad record if the records can still be read.
        Err(e @ waybill_store::StoreError::Damaged { .. }) => {
            let located = Store::open_existing(&store_path)
                .ok()
                .and_then(|(s, _)| verify_stored(&s).err())
                .map(|v| format!("; the first bad record: {v}"))
                .unwrap_or_default();
            anyhow::bail!(
                "TAMPER ALERT: {e}{located}; the node will not serve it. Run `waybill verify --dir` for the full check; restore from a backup or resync from peers"
            );
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot open store {}", store_path.display()))
        }
    };
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
    let mark_path = CommitMark::path(&opts.data_dir);
    CommitMark::of_head(&store)
        .and_then(|m| m.write(&mark_path))
        .context("cannot record the commit mark")?;
    Ok((store, report.to.0, mark_path))
}

/// Refuse to start a validator whose store is behind what it already signed and that
/// has no peers to sync from; with peers, say that it syncs without signing.
fn check_signing_mark(opts: &NodeOptions, committed: u64) -> anyhow::Result<()> {
    let signing_mark = SigningMark::read(&opts.signing_mark)?;
    if signing_mark.must_sync_past(committed) {
        if opts.peers.is_empty() {
            anyhow::bail!(
                "this validator signed at height {} (signing mark {}), but its store has committed only height {committed}, and it has no peers to sync the missing blocks from; signing again below that height could equivocate. Install a newer backup with `waybill restore`, or give it --peer addresses of the consortium's nodes",
                signing_mark.height,
                opts.signing_mark.display()
            );
        }
        tracing::warn!(
            committed,
            signing_mark = signing_mark.height,
            "the store is behind this validator's signing mark: it syncs from its peers and signs nothing until it has committed height {}",
            signing_mark.height
        );
    }
    Ok(())
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
    let now = shared.now_ms();
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

/// Refuse, before anything is written, a store that is not this node's: a missing or
/// empty one where the node has run (the commit mark says so), one of another genesis
/// or format version, or one that does not hold the block the commit mark names.
fn check_store(opts: &NodeOptions) -> anyhow::Result<()> {
    let store_path = opts.store_path();
    let mark_path = CommitMark::path(&opts.data_dir);
    let mark = CommitMark::read(&mark_path)?;
    if let Some(m) = &mark {
        if m.genesis != opts.genesis.hash() {
            return Err(CommitMarkError::OtherChain {
                mark: mark_path.display().to_string(),
                found: m.genesis,
                expected: opts.genesis.hash(),
            }
            .into());
        }
    }
    match std::fs::metadata(&store_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match mark {
            Some(m) if m.height > 0 || opts.data_dir.join("consensus").exists() => {
                Err(CommitMarkError::StoreMissing {
                    store: store_path.display().to_string(),
                    height: m.height,
                    mark: mark_path.display().to_string(),
                    data_dir: opts.data_dir.display().to_string(),
                }
                .into())
            }
            _ => Ok(()),
        },
        Err(e) => Err(e.into()),
        Ok(m) if m.len() == 0 => Err(waybill_store::StoreError::Empty {
            path: store_path.display().to_string(),
        }
        .into()),
        Ok(_) => {
            // Read-only: a foreign or old store is refused without being written.
            let (store, genesis) = Store::open_existing(&store_path)?;
            if genesis.hash() != opts.genesis.hash() {
                return Err(waybill_store::StoreError::GenesisMismatch {
                    path: store_path.display().to_string(),
                    stored: genesis.hash(),
                }
                .into());
            }
            if let Some(m) = mark {
                m.check(&store, &mark_path)?;
            }
            Ok(())
        }
    }
}

/// Keep the commit mark within [`COMMIT_MARK_INTERVAL_BLOCKS`] of the head, off the
/// commit path.
fn spawn_commit_marks(shared: Arc<Shared>, path: PathBuf) {
    let mut commits = shared.commits.subscribe();
    let genesis = shared.genesis.hash();
    tokio::spawn(async move {
        loop {
            let block = match commits.recv().await {
                Ok(b) => b.block,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let height = block.header.height.0;
            if !height.is_multiple_of(COMMIT_MARK_INTERVAL_BLOCKS) {
                continue;
            }
            let mark = CommitMark {
                genesis,
                height,
                block_hash: block.hash(),
            };
            let p = path.clone();
            match tokio::task::spawn_blocking(move || mark.write(&p)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(%e, "cannot update the commit mark"),
                Err(e) => tracing::warn!(%e, "commit mark task failed"),
            }
        }
    });
}

/// Re-check the whole chain now and then, off the commit path. A failure raises the
/// tamper alert, which halts consensus and stops the node from serving.
fn spawn_background_verification(shared: Arc<Shared>) {
    tokio::spawn(async move {
        loop {
            let s = shared.clone();
            let outcome = tokio::task::spawn_blocking(move || verify_stored(&s.store)).await;
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
                // A panic while reading the store is a damaged store too.
                Err(e) if e.is_panic() => {
                    shared.raise_tamper_alert(format!(
                        "store {} could not be read during verification (the read panicked); it is damaged",
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
