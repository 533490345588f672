//! The ledger: executes blocks with the state machine, commits them to the store,
//! keeps the mempool in step and tells waiters what became of their transactions.
//! It is the [`Application`] the consensus driver talks to.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, oneshot, watch};
use waybill_state::{BlockContext, Execution, StateRead, TxInvalid};
use waybill_store::{Head, Store};
use waybill_types::block::{validators_hash, ValidatorInfo, HEADER_VERSION};
use waybill_types::clock::Clock;
use waybill_types::keys::verify_batch;
use waybill_types::{
    limits, merkle, Block, BlockHeader, CommitCertificate, Genesis, Hash, Height, PublicKey,
    Receipt, SignedTx, TxId,
};

use crate::app::{AppError, Application};
use crate::mempool::Mempool;
use crate::metrics::Metrics;

/// Most a proposer's clock may run ahead of ours before we refuse its block, in ms.
pub const CLOCK_DRIFT_MS_MAX: u64 = 10_000;

/// What became of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// Committed at `height` with this receipt.
    Committed {
        /// The block.
        height: Height,
        /// Index in the block.
        index: u32,
        /// The receipt.
        receipt: Receipt,
    },
    /// Left out of every block and removed from the mempool.
    Dropped {
        /// Why.
        reason: String,
    },
}

/// A committed block, announced to subscribers.
#[derive(Clone, Debug)]
pub struct CommittedBlock {
    /// The block.
    pub block: Arc<Block>,
    /// Its receipts.
    pub receipts: Arc<Vec<Receipt>>,
}

/// The parts of the node that the API and the consensus driver share.
pub struct Shared {
    /// The store.
    pub store: Arc<Store>,
    /// The genesis.
    pub genesis: Genesis,
    /// The mempool.
    pub mempool: Arc<Mempool>,
    /// The last committed block.
    pub head: watch::Receiver<Head>,
    /// Committed blocks, as they commit.
    pub commits: broadcast::Sender<CommittedBlock>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// What readiness depends on beyond the ledger (see [`Shared::readiness_checks`]).
    pub readiness: crate::readiness::Readiness,
    /// The node's wall clock: the proposer's block time, the bound on a proposed
    /// block's time, expiries at submission, and (through the API, which shares this)
    /// signed-read windows and document times. Nothing else reads the time.
    pub clock: Arc<dyn Clock>,
    /// Set when verification finds a stored record that does not check out.
    tamper_alert: watch::Sender<Option<String>>,
    waiters: Mutex<HashMap<TxId, Vec<oneshot::Sender<TxOutcome>>>>,
    /// Where transactions submitted by clients are forwarded to peers (multi-node).
    gossip: std::sync::OnceLock<crate::gossip::Outbox>,
    /// The private parts of erasable fields this node keeps (docs/PRIVACY.md).
    private: std::sync::OnceLock<Arc<crate::private::PrivateStore>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shared({})", self.genesis.chain_id)
    }
}

impl Shared {
    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.genesis.chain_id
    }

    /// Now by the node's clock, ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Keep erasable fields' private parts in `store` from now on (set once, at start;
    /// `crate::purger::start` does this and purges); the store, if it was set now.
    pub fn set_private_store(
        &self,
        store: crate::private::PrivateStore,
    ) -> Option<Arc<crate::private::PrivateStore>> {
        let store = Arc::new(store);
        self.private.set(store.clone()).ok().map(|()| store)
    }

    /// The private store, if this node keeps one.
    pub fn private_store(&self) -> Option<&Arc<crate::private::PrivateStore>> {
        self.private.get()
    }

    /// Forward client transactions through `outbox` from now on (set once, at start).
    pub fn set_gossip(&self, outbox: crate::gossip::Outbox) {
        let _ = self.gossip.set(outbox);
    }

    /// Transactions that could not be forwarded to peers (queues full, peers down).
    pub fn gossip_dropped(&self) -> u64 {
        self.gossip.get().map_or(0, |g| g.dropped())
    }

    /// Raise the tamper alert: the node stops serving and halts.
    pub fn raise_tamper_alert(&self, message: String) {
        tracing::error!(%message, "TAMPER ALERT");
        self.tamper_alert.send_replace(Some(message));
    }

    /// The tamper alert, if raised.
    pub fn tamper_alert(&self) -> Option<String> {
        self.tamper_alert.borrow().clone()
    }

    /// Every readiness condition, checked now; the node is ready when all are `ok`.
    pub fn readiness_checks(&self) -> Vec<crate::readiness::Check> {
        self.readiness
            .checks(self.tamper_alert(), self.head.borrow().height.0)
    }

    /// Resolves when the tamper alert is raised, with its message.
    pub async fn tamper_alert_raised(&self) -> String {
        let mut rx = self.tamper_alert.subscribe();
        let raised = rx
            .wait_for(Option::is_some)
            .await
            .map(|v| v.clone().unwrap_or_default());
        match raised {
            Ok(message) => message,
            // The sender lives in `self`; it cannot be dropped while we borrow it.
            Err(_) => std::future::pending().await,
        }
    }

    /// Wait for `id`'s outcome. Register before checking the store so a commit in
    /// between is not missed.
    pub fn watch_tx(&self, id: TxId) -> oneshot::Receiver<TxOutcome> {
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .expect("waiters lock is never held across a panic")
            .entry(id)
            .or_default()
            .push(tx);
        rx
    }

    /// Forget waiters whose receivers are gone (a client gave up).
    pub fn unwatch_tx(&self, id: &TxId) {
        let mut w = self
            .waiters
            .lock()
            .expect("waiters lock is never held across a panic");
        if let Some(v) = w.get_mut(id) {
            v.retain(|s| !s.is_closed());
            if v.is_empty() {
                w.remove(id);
            }
        }
    }

    fn resolve(&self, outcomes: impl IntoIterator<Item = (TxId, TxOutcome)>) {
        let mut w = self
            .waiters
            .lock()
            .expect("waiters lock is never held across a panic");
        if w.is_empty() {
            return;
        }
        for (id, outcome) in outcomes {
            if let Some(senders) = w.remove(&id) {
                for s in senders {
                    let _ = s.send(outcome.clone());
                }
            }
        }
    }
}

/// An executed block waiting for its commit certificate.
struct Executed {
    block: Block,
    tx_ids: Vec<TxId>,
    /// Its write set, derived index rows and receipts.
    out: waybill_state::Executed,
}

/// The ledger (see the module docs).
pub struct Ledger {
    shared: Arc<Shared>,
    head_tx: watch::Sender<Head>,
    executed: HashMap<Hash, Executed>,
    /// Ids of transactions whose signatures were verified in a proposal, with the
    /// proposal's height. Dropped once that height is committed, whether or not the
    /// proposal was the block decided (a proposal that lost its round would otherwise
    /// leave its ids here for good).
    verified: HashMap<TxId, Height>,
    /// Test hook: while this file exists, blocks take no transactions (so a test can
    /// stop the node between accepting a transaction and committing it).
    hold_file: Option<std::path::PathBuf>,
    /// Test hook: while this file exists, decided blocks wait to be committed (so a
    /// test can make a node fall behind its peers).
    hold_commits_file: Option<std::path::PathBuf>,
    /// The height this node expects to propose next, and as whom (consensus says so
    /// before a commit: [`Application::will_propose`]).
    will_propose: Option<(Height, PublicKey)>,
    /// The block built for the next height while the store wrote the decided one.
    prebuilt: Option<Assembled>,
    /// Test hook: abort the process at a point of the commit pipeline.
    kill_at: Option<KillAt>,
}

/// A block assembled from the mempool on some state, not yet remembered or proposed.
struct Assembled {
    executed: Executed,
    /// Transactions the state refused, with code and reason (dropped from the pool
    /// once the state they were refused on is committed).
    dropped: Vec<(TxId, &'static str, String)>,
    built_at: std::time::Instant,
}

/// Oldest a block built ahead may be when it is proposed.
const PREBUILT_AGE_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// A point of the commit pipeline where the test hook [`KILL_AT_ENV`] aborts.
#[derive(Debug)]
struct KillAt {
    point: String,
    /// Aborts on this pass through the point (counting from 1).
    nth: u32,
    passes: std::sync::atomic::AtomicU32,
}

/// The environment variable of a test hook: `POINT:N` aborts the process (no clean-up,
/// like a power cut) the Nth time the commit pipeline passes `POINT`:
/// `commit-built` (the next block is built on the decided one; the decided block may
/// still be being written) or `commit-written` (the decided block is durable; nothing
/// is answered or announced yet).
pub const KILL_AT_ENV: &str = "WAYBILL_TEST_KILL_AT";

/// The environment variable that sets [`Ledger::hold_blocks_while`] at start (tests).
pub const HOLD_BLOCKS_ENV: &str = "WAYBILL_TEST_HOLD_BLOCKS_FILE";

/// The environment variable that sets [`Ledger::hold_commits_while`] at start (tests).
pub const HOLD_COMMITS_ENV: &str = "WAYBILL_TEST_HOLD_COMMITS_FILE";

/// Longest the commit hold stops one commit.
const HOLD_COMMITS_MS_MAX: u64 = 300_000;

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

impl Ledger {
    /// A ledger over an opened store, on the machine's clock.
    pub fn new(
        store: Arc<Store>,
        genesis: Genesis,
        mempool: Arc<Mempool>,
        metrics: Arc<Metrics>,
    ) -> Result<Ledger, AppError> {
        Self::with_clock(
            store,
            genesis,
            mempool,
            metrics,
            waybill_types::clock::system(),
        )
    }

    /// A ledger over an opened store that reads the time from `clock` (tests hold it
    /// still or move it with a [`waybill_types::clock::ManualClock`]).
    pub fn with_clock(
        store: Arc<Store>,
        genesis: Genesis,
        mempool: Arc<Mempool>,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
    ) -> Result<Ledger, AppError> {
        let head = store.head().map_err(internal)?;
        metrics.set_height(head.height.0);
        let (head_tx, head_rx) = watch::channel(head);
        let (commits, _) = broadcast::channel(256);
        let shared = Arc::new(Shared {
            store,
            genesis,
            mempool,
            head: head_rx,
            commits,
            metrics,
            readiness: crate::readiness::Readiness::default(),
            clock,
            waiters: Mutex::new(HashMap::new()),
            tamper_alert: watch::channel(None).0,
            gossip: std::sync::OnceLock::new(),
            private: std::sync::OnceLock::new(),
        });
        Ok(Ledger {
            shared,
            head_tx,
            executed: HashMap::new(),
            verified: HashMap::new(),
            hold_file: None,
            hold_commits_file: None,
            will_propose: None,
            prebuilt: None,
            kill_at: None,
        })
    }

    /// Test hook ([`KILL_AT_ENV`]): abort the process the `nth` time the commit
    /// pipeline passes `point`.
    pub fn kill_at(&mut self, spec: &str) -> Result<(), AppError> {
        let bad = || {
            AppError::Internal(format!(
                "{KILL_AT_ENV}: `{spec}` is not POINT:N with POINT commit-built or commit-written"
            ))
        };
        let (point, nth) = spec.split_once(':').ok_or_else(bad)?;
        if !matches!(point, "commit-built" | "commit-written") {
            return Err(bad());
        }
        let nth: u32 = nth.parse().map_err(|_| bad())?;
        tracing::warn!(
            point,
            nth,
            "TEST HOOK: the process aborts at this commit pipeline point"
        );
        self.kill_at = Some(KillAt {
            point: point.to_string(),
            nth,
            passes: std::sync::atomic::AtomicU32::new(0),
        });
        Ok(())
    }

    fn kill_point(&self, point: &str) {
        let Some(k) = &self.kill_at else { return };
        if k.point == point
            && k.passes.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == k.nth
        {
            eprintln!("TEST HOOK: aborting at {point}");
            std::process::abort();
        }
    }

    /// How many transaction ids are remembered as verified from proposals not yet
    /// decided (bounded by the proposals in flight; tests check nothing leaks).
    pub fn verified_ids(&self) -> usize {
        self.verified.len()
    }

    /// Test hook: while `file` exists, blocks take no transactions from the mempool.
    pub fn hold_blocks_while(&mut self, file: std::path::PathBuf) {
        tracing::warn!(file = %file.display(), "TEST HOOK: blocks take no transactions while this file exists");
        self.hold_file = Some(file);
    }

    /// Test hook: while `file` exists, each decided block waits (at most
    /// [`HOLD_COMMITS_MS_MAX`]) before it is committed.
    pub fn hold_commits_while(&mut self, file: std::path::PathBuf) {
        tracing::warn!(file = %file.display(), "TEST HOOK: decided blocks wait to commit while this file exists");
        self.hold_commits_file = Some(file);
    }

    fn wait_while_commits_held(&self) {
        let Some(f) = &self.hold_commits_file else {
            return;
        };
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_millis(HOLD_COMMITS_MS_MAX);
        while f.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn held(&self) -> bool {
        self.hold_file.as_ref().is_some_and(|f| f.exists())
    }

    /// What the API shares.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    fn head(&self) -> Head {
        self.head_tx.borrow().clone()
    }

    fn context(&self, height: Height, time_ms: u64) -> BlockContext {
        BlockContext {
            chain_id: self.shared.genesis.chain_id.clone(),
            height,
            time_ms,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn header(
        &self,
        head: &Head,
        height: Height,
        time_ms: u64,
        proposer: PublicKey,
        txs_bytes: &[Vec<u8>],
        out: &waybill_state::Executed,
        heads_root: Hash,
        validators_hash: Hash,
    ) -> BlockHeader {
        let state_hash = out.state_hash_after(&head.state_hash);
        let open_root = waybill_state::open::open_root(&out.writes, height.0);
        let commit_root = waybill_state::commitments::commit_root(&out.writes, height.0);
        let leaves: Vec<merkle::Digest32> =
            txs_bytes.iter().map(|b| merkle::leaf_hash(b)).collect();
        BlockHeader {
            version: HEADER_VERSION,
            chain_id: self.shared.genesis.chain_id.clone(),
            height,
            prev_hash: head.block_hash,
            time_ms,
            proposer,
            n_txs: u32::try_from(txs_bytes.len()).expect("bounded by BLOCK_TXS_MAX"),
            tx_root: Hash(merkle::root_from_leaf_hashes(&leaves)),
            open_root,
            heads_root,
            commit_root,
            state_hash,
            validators_hash,
        }
    }

    /// The validator set in force at `height`, from state.
    fn validators_at(&self, height: Height) -> Result<Vec<ValidatorInfo>, AppError> {
        let snap = self.shared.store.snapshot().map_err(internal)?;
        waybill_state::governance::validator_infos_at(&snap, height).map_err(internal)
    }

    fn drop_txs(&self, dropped: Vec<(TxId, &'static str, String)>) {
        if dropped.is_empty() {
            return;
        }
        let ids: HashSet<TxId> = dropped.iter().map(|d| d.0).collect();
        self.shared.mempool.remove(&ids);
        tracing::info!(
            n_dropped = dropped.len(),
            "dropped invalid transactions from the mempool"
        );
        // Capture jobs of dropped transactions read back as failed, with the reason.
        let at_ms = self.shared.now_ms();
        let failures: Vec<(TxId, waybill_store::JobFailure)> = dropped
            .iter()
            .map(|(id, code, reason)| {
                (
                    *id,
                    waybill_store::JobFailure {
                        at_ms,
                        code: (*code).to_string(),
                        reason: format!("dropped before it was committed: {reason}"),
                    },
                )
            })
            .collect();
        if let Err(e) = self.shared.store.fail_capture_jobs(&failures) {
            tracing::error!(%e, "cannot record failed capture jobs");
        }
        self.shared.resolve(
            dropped
                .into_iter()
                .map(|(id, _, reason)| (id, TxOutcome::Dropped { reason })),
        );
    }
}

impl Application for Ledger {
    fn chain_id(&self) -> String {
        self.shared.genesis.chain_id.clone()
    }

    fn committed_height(&self) -> Height {
        self.head().height
    }

    fn history_min_height(&self) -> Height {
        Height(1)
    }

    fn validator_set(&self, height: Height) -> Vec<ValidatorInfo> {
        // An empty set makes the consensus driver halt: a node that cannot read its
        // validator set must not go on.
        self.validators_at(height).unwrap_or_else(|e| {
            tracing::error!(%height, error = %e, "cannot read the validator set");
            Vec::new()
        })
    }

    fn mempool_notify(&self) -> Arc<tokio::sync::Notify> {
        self.shared.mempool.notify()
    }

    fn mempool_len(&self) -> usize {
        if self.held() {
            return 0;
        }
        self.shared.mempool.len()
    }

    fn build_block(&mut self, height: Height, proposer: PublicKey) -> Result<Block, AppError> {
        if let Some(alert) = self.shared.tamper_alert() {
            return Err(AppError::Internal(format!("tamper alert: {alert}")));
        }
        let head = self.head();
        assert_eq!(
            height,
            head.height.next(),
            "consensus asks for the block after the head"
        );
        if let Some(p) = self.prebuilt.take() {
            let h = &p.executed.block.header;
            // Built on the block just committed, for this proposer, recently.
            // Transactions that came during the write go in the next block, itself
            // built during this one's write: building afresh to take them now would
            // put a whole execution back on the critical path (measured: slower
            // blocks, and no lower latency).
            if h.height == height
                && h.prev_hash == head.block_hash
                && h.proposer == proposer
                && p.built_at.elapsed() <= PREBUILT_AGE_MAX
                && !self.held()
            {
                self.shared.metrics.add_prebuilt_block();
                return Ok(self.remember(p));
            }
        }
        let snapshot = self.shared.store.snapshot().map_err(internal)?;
        let mut a = self.assemble(&snapshot, &head, height, proposer, &HashSet::new())?;
        drop(snapshot);
        self.drop_txs(std::mem::take(&mut a.dropped));
        Ok(self.remember(a))
    }

    fn will_propose(&mut self, height: Height, proposer: PublicKey) {
        self.will_propose = Some((height, proposer));
    }

    fn accept_proposal(&mut self, block: Block) -> Result<(), AppError> {
        let hash = block.hash();
        if self.executed.contains_key(&hash) {
            return Ok(());
        }
        let head = self.head();
        self.check_proposal_header(&block, hash, &head)?;
        let tx_ids: Vec<TxId> = block.tx_ids();
        self.check_proposal_signatures(&block, hash, &tx_ids)?;
        let out = self.execute_proposal(&block, hash, &tx_ids, &head)?;
        let height = block.header.height;
        self.verified.extend(tx_ids.iter().map(|id| (*id, height)));
        self.executed.insert(hash, Executed { block, tx_ids, out });
        Ok(())
    }

    fn proposal(&self, block_hash: &Hash) -> Option<Block> {
        self.executed.get(block_hash).map(|e| e.block.clone())
    }

    fn has_proposal(&self, block_hash: &Hash) -> bool {
        self.executed.contains_key(block_hash)
    }

    fn commit(&mut self, block_hash: Hash, certificate: CommitCertificate) -> Result<(), AppError> {
        self.wait_while_commits_held();
        if let Some(alert) = self.shared.tamper_alert() {
            return Err(AppError::Internal(format!("tamper alert: {alert}")));
        }
        let ex = self.executed.remove(&block_hash).ok_or_else(|| {
            AppError::Internal(format!(
                "decided block {block_hash} was never built or received"
            ))
        })?;
        let height = ex.block.header.height;
        // The certificate is checked by consensus; check again: what we store is what proofs carry.
        certificate
            .verify(
                &self.shared.genesis.chain_id,
                height,
                block_hash,
                &self.validators_at(height)?,
            )
            .map_err(|e| AppError::Internal(format!("refusing to store block {height}: {e}")))?;
        // The pipeline: while the store writes and fsyncs this block, build the next
        // one on it (if this node proposes next). Only building overlaps: nothing for
        // the next height is signed or proposed before this returns, and this returns
        // after the block and its certificate are durable; waiters are answered after.
        // The proposer this node will be next, and the committed state to build on.
        let ahead = match self.will_propose.take() {
            Some((h, proposer)) if h == height.next() && !self.held() => {
                Some((proposer, self.shared.store.snapshot().map_err(internal)?))
            }
            _ => None,
        };
        let started = std::time::Instant::now();
        let store = &self.shared.store;
        let (written, prebuilt) = std::thread::scope(|s| {
            let writer =
                s.spawn(|| store.commit_block(&ex.block, &certificate, &ex.out, &ex.tx_ids));
            let prebuilt = ahead
                .as_ref()
                .and_then(|(proposer, base)| self.prebuild(base, &ex, block_hash, *proposer));
            if prebuilt.is_some() {
                self.kill_point("commit-built");
            }
            let written = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (written, prebuilt)
        });
        drop(ahead);
        let head = written.map_err(internal)?;
        self.kill_point("commit-written");
        let commit_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.publish_commit(ex, head, commit_ms);
        if let Some(mut p) = prebuilt {
            // Refused on the state now committed: drop them now.
            self.drop_txs(std::mem::take(&mut p.dropped));
            self.prebuilt = Some(p);
        }
        Ok(())
    }

    fn committed_block(&self, height: Height) -> Option<(Vec<u8>, CommitCertificate)> {
        let bytes = self.shared.store.block_bytes(height).ok()??;
        let cert = self.shared.store.certificate(height).ok()??;
        Some((bytes, cert))
    }
}

/// Building blocks: from the committed state, or ahead on a decided block the store
/// is still writing.
impl Ledger {
    /// Take transactions from the pool (but not those in `exclude`), execute them on
    /// `state` (whose head is `head`) and make the block `height` that `proposer`
    /// proposes. Transactions the state refuses are listed, not yet dropped.
    fn assemble<S: waybill_state::StateScan>(
        &self,
        state: &S,
        head: &Head,
        height: Height,
        proposer: PublicKey,
        exclude: &HashSet<TxId>,
    ) -> Result<Assembled, AppError> {
        let time_ms = self.shared.now_ms().max(head.time_ms + 1);
        let max_bytes = limits::BLOCK_BYTES_MAX - 4096;
        let candidates = if self.held() {
            Vec::new()
        } else {
            self.shared
                .mempool
                .peek_batch_excluding(limits::BLOCK_TXS_MAX, max_bytes, exclude)
        };
        let mut ex = Execution::begin(state, self.context(height, time_ms)).map_err(internal)?;
        let mut txs = Vec::with_capacity(candidates.len());
        let mut tx_ids = Vec::with_capacity(candidates.len());
        let mut txs_bytes = Vec::with_capacity(candidates.len());
        let mut dropped = Vec::new();
        for ptx in candidates {
            match ex.apply(&ptx.tx, ptx.id) {
                Ok(_) => {
                    txs_bytes.push(ptx.tx.encode());
                    tx_ids.push(ptx.id);
                    txs.push((*ptx.tx).clone());
                }
                Err(TxInvalid::State(e)) => return Err(internal(e)),
                Err(e) => dropped.push((ptx.id, e.code(), e.to_string())),
            }
        }
        let out = ex.finish().map_err(internal)?;
        let heads_root = waybill_state::open::heads_root(state, &out.writes).map_err(internal)?;
        let validators =
            waybill_state::governance::validator_infos_at(state, height).map_err(internal)?;
        let header = self.header(
            head,
            height,
            time_ms,
            proposer,
            &txs_bytes,
            &out,
            heads_root,
            validators_hash(&validators),
        );
        Ok(Assembled {
            executed: Executed {
                block: Block { header, txs },
                tx_ids,
                out,
            },
            dropped,
            built_at: std::time::Instant::now(),
        })
    }

    /// Remember a block built here (to commit it when decided) and give it out.
    fn remember(&mut self, a: Assembled) -> Block {
        let block = a.executed.block.clone();
        self.executed.insert(block.hash(), a.executed);
        block
    }

    /// Build the block after `decided` (hash `decided_hash`) on the committed state
    /// `base` with the decided block's writes laid over it, while the store writes it.
    /// `None` if the pool offers nothing new or building fails (the block is then
    /// built the usual way, which reports the failure).
    fn prebuild(
        &self,
        base: &waybill_store::StateSnapshot,
        decided: &Executed,
        decided_hash: Hash,
        proposer: PublicKey,
    ) -> Option<Assembled> {
        let h = &decided.block.header;
        let head = Head {
            height: h.height,
            block_hash: decided_hash,
            state_hash: h.state_hash,
            time_ms: h.time_ms,
        };
        let state = waybill_state::Pending {
            base,
            writes: &decided.out.writes,
        };
        let exclude: HashSet<TxId> = decided.tx_ids.iter().copied().collect();
        match self.assemble(&state, &head, h.height.next(), proposer, &exclude) {
            Ok(a) if !a.executed.block.txs.is_empty() => Some(a),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(height = h.height.next().0, error = %e, "could not build the next block ahead; building it after the commit");
                None
            }
        }
    }
}

/// The steps of checking a proposed block ([`Application::accept_proposal`]) and of
/// publishing a committed one ([`Application::commit`]).
impl Ledger {
    /// The header's height, chain, link, time and validators, and the body's roots.
    fn check_proposal_header(
        &self,
        block: &Block,
        hash: Hash,
        head: &Head,
    ) -> Result<(), AppError> {
        let h = &block.header;
        let invalid = |m: String| invalid_block(hash, h.height, m);
        if h.height != head.height.next() {
            return Err(invalid(format!("expected height {}", head.height.next())));
        }
        if h.chain_id != self.shared.genesis.chain_id {
            return Err(invalid(format!("wrong chain id `{}`", h.chain_id)));
        }
        if h.prev_hash != head.block_hash {
            return Err(invalid(format!(
                "previous hash {} is not our head {}",
                h.prev_hash, head.block_hash
            )));
        }
        if h.time_ms <= head.time_ms
            || h.time_ms > self.shared.now_ms().saturating_add(CLOCK_DRIFT_MS_MAX)
        {
            return Err(invalid(format!(
                "block time {} is not after {} or too far ahead of our clock",
                h.time_ms, head.time_ms
            )));
        }
        if h.validators_hash != validators_hash(&self.validators_at(h.height)?) {
            return Err(invalid(
                "validators hash does not match the validator set".into(),
            ));
        }
        block.check_body().map_err(|e| invalid(e.to_string()))
    }

    /// Signatures: verify in one batch those this node has not verified before.
    fn check_proposal_signatures(
        &self,
        block: &Block,
        hash: Hash,
        tx_ids: &[TxId],
    ) -> Result<(), AppError> {
        let unverified: Vec<_> = block
            .txs
            .iter()
            .zip(tx_ids)
            .filter(|(_, id)| !self.verified.contains_key(id) && !self.shared.mempool.contains(id))
            .map(|(t, _)| (t.tx.signer, t.signed_message(), t.signature))
            .collect();
        verify_batch(&unverified).map_err(|(i, e)| {
            invalid_block(
                hash,
                block.header.height,
                format!("transaction signature {i}: {e}"),
            )
        })
    }

    /// Execute the proposed block on the committed state; what it gives, if that
    /// matches the heads root, state hash and open-tier root its header commits to.
    fn execute_proposal(
        &self,
        block: &Block,
        hash: Hash,
        tx_ids: &[TxId],
        head: &Head,
    ) -> Result<waybill_state::Executed, AppError> {
        let h = &block.header;
        let invalid = |m: String| invalid_block(hash, h.height, m);
        let snapshot = self.shared.store.snapshot().map_err(internal)?;
        let mut ex =
            Execution::begin(&snapshot, self.context(h.height, h.time_ms)).map_err(internal)?;
        for (i, (tx, id)) in block.txs.iter().zip(tx_ids).enumerate() {
            match ex.apply(tx, *id) {
                Ok(_) => {}
                Err(TxInvalid::State(e)) => return Err(internal(e)),
                Err(e) => {
                    return Err(invalid(format!(
                        "transaction {i} ({id}) cannot be in a block: {e}"
                    )))
                }
            }
        }
        let out = ex.finish().map_err(internal)?;
        let writes = &out.writes;
        let heads_root = waybill_state::open::heads_root(&snapshot, writes).map_err(internal)?;
        drop(snapshot);
        if heads_root != h.heads_root {
            return Err(invalid(format!(
                "heads root {} does not match execution {heads_root}",
                h.heads_root
            )));
        }
        let state_hash = out.state_hash_after(&head.state_hash);
        if state_hash != h.state_hash {
            return Err(invalid(format!(
                "state hash {} does not match execution {state_hash}",
                h.state_hash
            )));
        }
        let open_root = waybill_state::open::open_root(writes, h.height.0);
        if open_root != h.open_root {
            return Err(invalid(format!(
                "open-tier root {} does not match execution {open_root}",
                h.open_root
            )));
        }
        let commit_root = waybill_state::commitments::commit_root(writes, h.height.0);
        if commit_root != h.commit_root {
            return Err(invalid(format!(
                "commitment root {} does not match execution {commit_root}",
                h.commit_root
            )));
        }
        Ok(out)
    }

    /// After the store committed `ex` (its new head `head`, in `commit_ms`): forget
    /// what is no longer pending, move the head, count it, answer the waiters and
    /// announce the block.
    fn publish_commit(&mut self, ex: Executed, head: Head, commit_ms: f64) {
        let height = head.height;
        self.executed.retain(|_, e| e.block.header.height > height);
        let ids: HashSet<TxId> = ex.tx_ids.iter().copied().collect();
        self.shared.mempool.remove(&ids);
        // Proposals at this height or below can no longer be decided.
        self.verified.retain(|_, h| *h > height);
        self.head_tx.send_replace(head);
        let m = &self.shared.metrics;
        m.set_height(height.0);
        m.add_committed(ex.tx_ids.len() as u64);
        m.observe_commit_seconds(commit_ms / 1000.0);
        m.observe_finality_seconds(
            self.shared.now_ms().saturating_sub(ex.block.header.time_ms) as f64 / 1000.0,
        );
        for r in &ex.out.receipts {
            if let waybill_types::TxStatus::Rejected { code, .. } = &r.status {
                m.add_rejected(code);
            }
        }
        tracing::debug!(
            height = height.0,
            n_txs = ex.tx_ids.len(),
            commit_ms,
            "committed block"
        );
        let receipts = Arc::new(ex.out.receipts);
        self.shared
            .resolve(
                ex.tx_ids
                    .iter()
                    .zip(receipts.iter())
                    .enumerate()
                    .map(|(i, (id, r))| {
                        (
                            *id,
                            TxOutcome::Committed {
                                height,
                                index: i as u32,
                                receipt: r.clone(),
                            },
                        )
                    }),
            );
        let _ = self.shared.commits.send(CommittedBlock {
            block: Arc::new(ex.block),
            receipts,
        });
    }
}

/// A proposed block is invalid: the peer that sent it is at fault.
fn invalid_block(hash: Hash, height: Height, m: String) -> AppError {
    AppError::InvalidBlock(format!("block {hash} at height {height}: {m}"))
}

/// Stateless checks, signature verification in one batch, then admission to the
/// mempool. One result per input, in order. This is the path every submitted
/// transaction takes, from the API or from a peer.
pub fn submit_batch(shared: &Shared, raw: Vec<Vec<u8>>) -> Vec<Result<TxId, SubmitError>> {
    submit(shared, raw, true)
}

/// As [`submit_batch`], for transactions a peer forwarded: admitted, not forwarded again.
pub fn submit_batch_from_peer(
    shared: &Shared,
    raw: Vec<Vec<u8>>,
) -> Vec<Result<TxId, SubmitError>> {
    submit(shared, raw, false)
}

fn submit(shared: &Shared, raw: Vec<Vec<u8>>, forward: bool) -> Vec<Result<TxId, SubmitError>> {
    let gossip = if forward { shared.gossip.get() } else { None };
    let decoded = decode_and_verify(&raw, shared.chain_id());
    let head_time_ms = shared.head.borrow().time_ms;
    let snapshot = match shared.store.snapshot() {
        Ok(s) => s,
        Err(e) => {
            return raw
                .iter()
                .map(|_| Err(SubmitError::Internal(e.to_string())))
                .collect()
        }
    };
    let out = decoded
        .into_iter()
        .zip(raw)
        .map(|(d, raw_bytes)| {
            let (stx, id, bytes) = d?;
            check_admissible(shared, &snapshot, &stx, id, head_time_ms)?;
            shared
                .mempool
                .admit(crate::mempool::PoolTx {
                    tx: Arc::new(stx),
                    id,
                    bytes,
                })
                .map_err(|e| SubmitError::Admit(e.code(), e.to_string()))?;
            if let Some(g) = gossip {
                g.push(raw_bytes);
            }
            Ok(id)
        })
        .collect();
    shared.metrics.set_mempool(shared.mempool.len() as u64);
    out
}

/// Each submitted transaction decoded and checked without state (chain, sizes,
/// expiry format), then the signatures of all that decoded verified in one batch
/// (one by one only if the batch fails, to name the bad ones): the transaction, its
/// id and its size in bytes, or why it is refused. One result per input, in order.
fn decode_and_verify(
    raw: &[Vec<u8>],
    chain_id: &str,
) -> Vec<Result<(SignedTx, TxId, usize), SubmitError>> {
    let mut decoded: Vec<Result<(SignedTx, TxId, usize), SubmitError>> = raw
        .iter()
        .map(|bytes| {
            let stx = SignedTx::decode(bytes).map_err(|e| SubmitError::Invalid {
                code: "malformed_tx",
                message: e.to_string(),
            })?;
            stx.check_stateless(chain_id)
                .map_err(|e| SubmitError::Invalid {
                    code: "invalid_tx",
                    message: e.to_string(),
                })?;
            Ok((stx, SignedTx::id_of(bytes), bytes.len()))
        })
        .collect();
    // Batch-verify the signatures of everything that decoded.
    let idx: Vec<usize> = decoded
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_ok())
        .map(|(i, _)| i)
        .collect();
    let items: Vec<_> = idx
        .iter()
        .filter_map(|&i| decoded[i].as_ref().ok())
        .map(|(t, _, _)| (t.tx.signer, t.signed_message(), t.signature))
        .collect();
    if verify_batch(&items).is_err() {
        for &i in &idx {
            if let Ok((t, _, _)) = &decoded[i] {
                if let Err(e) = t.verify_signature() {
                    decoded[i] = Err(SubmitError::Invalid {
                        code: "bad_signature",
                        message: e.to_string(),
                    });
                }
            }
        }
    }
    decoded
}

/// What a submitted transaction must pass against the committed state: an active
/// signer, not already committed, an expiry that leaves it a chance, not a replay.
fn check_admissible(
    shared: &Shared,
    snapshot: &waybill_store::StateSnapshot,
    stx: &SignedTx,
    id: TxId,
    head_time_ms: u64,
) -> Result<(), SubmitError> {
    let signer = stx.tx.signer;
    use waybill_state::governance::{signer_standing, SignerStanding};
    let next = shared.head.borrow().height.next();
    let standing = signer_standing(snapshot, &stx.tx.payload, &signer, next)
        .map_err(|e| SubmitError::Internal(e.to_string()))?;
    let refused = |code: &'static str, message: String| SubmitError::Invalid { code, message };
    match standing {
        SignerStanding::Member(m) if m.is_active() => {}
        SignerStanding::Validator(_) => {}
        SignerStanding::Member(_) => {
            return Err(refused(
                "member_revoked",
                format!("signer {signer} was revoked; its transactions are refused"),
            ))
        }
        SignerStanding::NotAValidator => {
            let e = TxInvalid::NotAValidator { signer };
            return Err(refused(e.code(), e.to_string()));
        }
        SignerStanding::Unknown => {
            let e = TxInvalid::UnknownSigner { signer };
            return Err(refused(e.code(), e.to_string()));
        }
    }
    if shared
        .store
        .tx_location(&id)
        .map_err(|e| SubmitError::Internal(e.to_string()))?
        .is_some()
    {
        return Err(SubmitError::Invalid {
            code: "already_committed",
            message: format!("transaction {id} is already committed"),
        });
    }
    check_expiry(stx, head_time_ms, shared.now_ms())?;
    let replay_key = waybill_state::keys::replay(stx.tx.expires_at_ms, &stx.tx.replay_id());
    if snapshot
        .get(&replay_key)
        .map_err(|e| SubmitError::Internal(e.to_string()))?
        .is_some()
    {
        return Err(SubmitError::Invalid { code: "replayed_tx", message: format!("a transaction with the same content, nonce and expiry from {signer} is already committed (a replay); sign a new one with another nonce") });
    }
    Ok(())
}

/// What a transaction would do if it were the next block's only transaction
/// ([`dry_run`]): nothing of it is stored or sent anywhere.
#[derive(Debug)]
pub struct DryRun {
    /// The transaction.
    pub tx_id: TxId,
    /// The height it was tried at (the head's + 1).
    pub height: Height,
    /// Its receipt: applied, or rejected with a code and message.
    pub receipt: waybill_types::Receipt,
    /// The open-tier records it would publish, in order (JSON bytes, without the
    /// `prev` links changing anything: they are as the next block would write them).
    pub published: Vec<Vec<u8>>,
    /// The commitment leaves of the fields it would seal, in order.
    pub sealed: Vec<Vec<u8>>,
}

/// Try one signed transaction on the committed state as if it were the next block's
/// only transaction: the same checks as submission (decoding, signature, signer,
/// expiry, replay), then the contract, on a throwaway overlay. Nothing is stored,
/// admitted to the mempool or gossiped. A member previews what it would publish
/// (`waybill capture --dry-run`).
pub fn dry_run(shared: &Shared, raw: Vec<u8>) -> Result<DryRun, SubmitError> {
    let internal = |e: &dyn std::fmt::Display| SubmitError::Internal(e.to_string());
    let (stx, id, _) = decode_and_verify(&[raw], shared.chain_id())
        .pop()
        .expect("one input, one result")?;
    let snapshot = shared.store.snapshot().map_err(|e| internal(&e))?;
    let head = snapshot.head().map_err(|e| internal(&e))?;
    check_admissible(shared, &snapshot, &stx, id, head.time_ms)?;
    let height = Height(head.height.0 + 1);
    let ctx = BlockContext {
        chain_id: shared.genesis.chain_id.clone(),
        height,
        time_ms: shared.now_ms().max(head.time_ms + 1),
    };
    let mut ex = Execution::begin(&snapshot, ctx).map_err(|e| internal(&e))?;
    let receipt = match ex.apply(&stx, id) {
        Ok(r) => r.clone(),
        Err(TxInvalid::State(e)) => return Err(internal(&e)),
        Err(e) => {
            return Err(SubmitError::Invalid {
                code: e.code(),
                message: e.to_string(),
            })
        }
    };
    let out = ex.finish().map_err(|e| internal(&e))?;
    let rows = |prefix: Vec<u8>| -> Vec<Vec<u8>> {
        out.writes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(_, v)| v.clone())
            .collect()
    };
    Ok(DryRun {
        tx_id: id,
        height,
        receipt,
        published: rows(waybill_state::keys::open_at(height.0)),
        sealed: rows(waybill_state::keys::commit_at(height.0)),
    })
}

/// A submitted transaction's expiry must leave it a chance to be included: after the
/// last block's time and after our clock, and within the replay window of both (a
/// block's time is at least the last one's and at most our clock plus the allowed
/// drift, so a transaction refused here could not be in the next block either).
fn check_expiry(stx: &SignedTx, head_time_ms: u64, now_ms: u64) -> Result<(), SubmitError> {
    let exp = stx.tx.expires_at_ms;
    let earliest_block_ms = head_time_ms.saturating_add(1).max(now_ms);
    if exp <= earliest_block_ms {
        return Err(SubmitError::Invalid {
            code: "expired_tx",
            message: format!(
                "the transaction expired at {exp} ms, not after the next block's time (≥ {earliest_block_ms} ms); sign it again with a later expiry"
            ),
        });
    }
    let window = limits::TX_EXPIRY_WINDOW_MS_MAX;
    if exp - earliest_block_ms > window {
        return Err(SubmitError::Invalid {
            code: "expiry_too_far",
            message: format!(
                "the transaction expires at {exp} ms, more than {window} ms (the replay window) after the next block's time {earliest_block_ms} ms; choose a nearer expiry (is the signer's clock right?)"
            ),
        });
    }
    Ok(())
}

/// Why a submitted transaction was not taken.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// The transaction is wrong.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// The mempool refused it.
    #[error("{1}")]
    Admit(&'static str, String),
    /// The node failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl SubmitError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            SubmitError::Invalid { code, .. } => code,
            SubmitError::Admit(code, _) => code,
            SubmitError::Internal(_) => "internal",
        }
    }
}
