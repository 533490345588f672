//! Consensus end to end with an in-memory application: one validator, then four
//! validators in one process. Everything binds to 127.0.0.1 and is bounded in time.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use waybill_node::app::{AppError, Application};
use waybill_node::consensus::{self, ConsensusConfig, ConsensusHandle, PubSubMode};
use waybill_types::block::{tx_root, validators_hash, BlockHeader, ValidatorInfo, HEADER_VERSION};
use waybill_types::{Block, CommitCertificate, Hash, Height, PublicKey, SecretKey};

const CHAIN: &str = "waybill-consensus-test";

#[derive(Default)]
struct Inner {
    committed: Vec<(Block, CommitCertificate)>,
    proposals: HashMap<Hash, Block>,
    /// When the oldest waiting "transaction" was submitted.
    submitted_at: Option<Instant>,
    /// Submission-to-commit time of each block that carried a submission.
    latencies: Vec<Duration>,
    /// Make the commit of this height fail with an internal error.
    fail_commit_at: Option<u64>,
    carrying: Option<(Hash, Option<Instant>)>,
}

/// A small but real ledger: blocks chained by `prev_hash`, correct transaction
/// roots (of zero transactions), validator-set hashes and increasing times.
#[derive(Clone)]
struct MemApp {
    validators: Vec<ValidatorInfo>,
    inner: Arc<Mutex<Inner>>,
    notify: Arc<Notify>,
    /// Stand-in for mempool transactions: a count that `build_block` drains.
    waiting: Arc<AtomicUsize>,
}

impl MemApp {
    fn new(validators: Vec<ValidatorInfo>) -> Self {
        MemApp {
            validators,
            inner: Arc::default(),
            notify: Arc::new(Notify::new()),
            waiting: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("lock")
    }

    fn height(&self) -> u64 {
        self.lock().committed.len() as u64
    }

    fn committed(&self) -> Vec<(Block, CommitCertificate)> {
        self.lock().committed.clone()
    }

    fn submit(&self) {
        self.lock().submitted_at.get_or_insert_with(Instant::now);
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    fn header_for(&self, inner: &Inner, height: Height, proposer: PublicKey) -> BlockHeader {
        let (prev_hash, prev_time) = inner
            .committed
            .last()
            .map_or((Hash::ZERO, 0), |(b, _)| (b.hash(), b.header.time_ms));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        BlockHeader {
            version: HEADER_VERSION,
            chain_id: CHAIN.to_string(),
            height,
            prev_hash,
            time_ms: now.max(prev_time + 1),
            proposer,
            n_txs: 0,
            tx_root: tx_root(std::iter::empty()),
            open_root: tx_root(std::iter::empty()),
            heads_root: Hash(waybill_types::smt::EMPTY),
            commit_root: Hash(waybill_types::merkle::empty_root()),
            state_hash: prev_hash,
            validators_hash: validators_hash(&self.validators),
        }
    }
}

impl Application for MemApp {
    fn chain_id(&self) -> String {
        CHAIN.to_string()
    }

    fn committed_height(&self) -> Height {
        Height(self.height())
    }

    fn history_min_height(&self) -> Height {
        Height(1)
    }

    fn validator_set(&self, _height: Height) -> Vec<ValidatorInfo> {
        self.validators.clone()
    }

    fn mempool_notify(&self) -> Arc<Notify> {
        self.notify.clone()
    }

    fn mempool_len(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    fn build_block(&mut self, height: Height, proposer: PublicKey) -> Result<Block, AppError> {
        let mut inner = self.lock();
        let carried = self.waiting.swap(0, Ordering::SeqCst) > 0;
        if height.0 != inner.committed.len() as u64 + 1 {
            return Err(AppError::Internal(format!(
                "asked to build height {height}"
            )));
        }
        let block = Block {
            header: self.header_for(&inner, height, proposer),
            txs: vec![],
        };
        inner.proposals.insert(block.hash(), block.clone());
        if carried {
            // The "transactions" are in this block: time its commit.
            let submitted_at = inner.submitted_at.take();
            inner.carrying = Some((block.hash(), submitted_at));
        }
        Ok(block)
    }

    fn accept_proposal(&mut self, block: Block) -> Result<(), AppError> {
        block
            .check_body()
            .map_err(|e| AppError::InvalidBlock(e.to_string()))?;
        let mut inner = self.lock();
        let h = &block.header;
        let (prev_hash, prev_time) = inner
            .committed
            .last()
            .map_or((Hash::ZERO, 0), |(b, _)| (b.hash(), b.header.time_ms));
        let fail = |what: &str| {
            Err(AppError::InvalidBlock(format!(
                "{what} at height {}",
                h.height
            )))
        };
        if h.chain_id != CHAIN {
            return fail("wrong chain");
        }
        if h.height.0 != inner.committed.len() as u64 + 1 {
            return fail("wrong height");
        }
        if h.prev_hash != prev_hash || h.time_ms <= prev_time {
            return fail("wrong parent");
        }
        if h.validators_hash != validators_hash(&self.validators) {
            return fail("wrong validators");
        }
        inner.proposals.insert(block.hash(), block);
        Ok(())
    }

    fn proposal(&self, block_hash: &Hash) -> Option<Block> {
        self.lock().proposals.get(block_hash).cloned()
    }

    fn commit(&mut self, block_hash: Hash, certificate: CommitCertificate) -> Result<(), AppError> {
        let mut inner = self.lock();
        let block =
            inner.proposals.get(&block_hash).cloned().ok_or_else(|| {
                AppError::Internal(format!("commit of unknown block {block_hash}"))
            })?;
        if block.header.height.0 != inner.committed.len() as u64 + 1 {
            return Err(AppError::Internal("commit out of order".into()));
        }
        if inner.fail_commit_at == Some(block.header.height.0) {
            return Err(AppError::Internal("disk full".into()));
        }
        if let Some((hash, Some(t0))) = inner.carrying.take() {
            if hash == block_hash {
                inner.latencies.push(t0.elapsed());
            }
        }
        inner.committed.push((block, certificate));
        inner.proposals.clear();
        Ok(())
    }

    fn committed_block(&self, height: Height) -> Option<(Vec<u8>, CommitCertificate)> {
        let inner = self.lock();
        let i = usize::try_from(height.0).ok()?.checked_sub(1)?;
        inner.committed.get(i).map(|(b, c)| (b.encode(), c.clone()))
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

fn temp_home(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("waybill-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Poll `cond` every 10 ms until it holds or `limit` passes.
async fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn verify_chain(app: &MemApp, up_to: u64) {
    let chain = app.committed();
    assert!(chain.len() as u64 >= up_to);
    let mut prev = Hash::ZERO;
    for (i, (block, cert)) in chain.iter().take(up_to as usize).enumerate() {
        let height = Height(i as u64 + 1);
        assert_eq!(block.header.height, height);
        assert_eq!(block.header.prev_hash, prev);
        cert.verify(CHAIN, height, block.hash(), &app.validators)
            .unwrap_or_else(|e| panic!("certificate of height {height}: {e}"));
        prev = block.hash();
    }
}

async fn shutdown_all(handles: Vec<ConsensusHandle>) {
    for h in handles {
        assert!(!h.is_stopped(), "consensus halted");
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_validator_commits_blocks() {
    init_tracing();
    let key = SecretKey::from_label("single-validator");
    let validators = vec![ValidatorInfo {
        public_key: key.public(),
        voting_power: 10,
    }];
    let app = MemApp::new(validators);
    let home = temp_home("single");
    let mut cfg = ConsensusConfig::new(&home, key, "/ip4/127.0.0.1/tcp/0");
    cfg.empty_block_interval = Duration::from_millis(400);

    let started = Instant::now();
    let handle = consensus::run(app.clone(), cfg)
        .await
        .expect("consensus starts");

    transactions_wake_the_proposer(&app, &handle).await;
    let latencies = app.lock().latencies.clone();
    println!(
        "single validator: {} heights in {:?}; submit->commit latencies {latencies:?}",
        app.height(),
        started.elapsed()
    );
    verify_chain(&app, 3);
    assert!(latencies.len() >= 3, "too few timed blocks: {latencies:?}");
    assert!(
        latencies.iter().all(|l| *l < Duration::from_millis(200)),
        "slow commits: {latencies:?}"
    );

    idle_blocks_come_no_faster_than_the_interval(&app).await;
    verify_chain(&app, app.height());

    assert_eq!(handle.peers_count().await.expect("peers"), 0);
    shutdown_all(vec![handle]).await;
    let _ = std::fs::remove_dir_all(home);
}

/// Transactions arriving wake the proposer: submit five times, each committed in the
/// next block (the latencies submit -> commit are recorded in the app).
async fn transactions_wake_the_proposer(app: &MemApp, handle: &ConsensusHandle) {
    for _ in 0..5 {
        let h = app.height();
        wait_until(
            Duration::from_secs(30),
            "consensus to start the next height",
            || handle.status().height > h,
        )
        .await;
        app.submit();
        wait_until(
            Duration::from_secs(30),
            &format!("a block after height {h}"),
            || app.height() > h && app.lock().submitted_at.is_none(),
        )
        .await;
    }
    wait_until(
        Duration::from_secs(30),
        "the submissions to be committed",
        || app.lock().carrying.is_none(),
    )
    .await;
}

/// Idle: empty blocks come no faster than the empty-block interval.
async fn idle_blocks_come_no_faster_than_the_interval(app: &MemApp) {
    let h0 = app.height();
    wait_until(Duration::from_secs(30), "an idle block", || {
        app.height() > h0
    })
    .await;
    let t_idle = Instant::now();
    let h1 = app.height();
    wait_until(Duration::from_secs(30), "a second idle block", || {
        app.height() > h1
    })
    .await;
    let idle_gap = t_idle.elapsed();
    println!("single validator: idle block interval {idle_gap:?}");
    assert!(
        idle_gap >= Duration::from_millis(300),
        "idle blocks too fast: {idle_gap:?}"
    );
}

struct Net {
    keys: Vec<SecretKey>,
    validators: Vec<ValidatorInfo>,
    addrs: Vec<String>,
    home: PathBuf,
    mode: PubSubMode,
}

impl Net {
    fn new(tag: &str, n: usize, mode: PubSubMode) -> Net {
        let keys: Vec<SecretKey> = (0..n)
            .map(|i| SecretKey::from_label(&format!("{tag}-{i}")))
            .collect();
        let mut validators: Vec<ValidatorInfo> = keys
            .iter()
            .map(|k| ValidatorInfo {
                public_key: k.public(),
                voting_power: 10,
            })
            .collect();
        validators.sort_by_key(|v| v.public_key);
        let addrs = (0..n)
            .map(|_| format!("/ip4/127.0.0.1/tcp/{}", free_port()))
            .collect();
        Net {
            keys,
            validators,
            addrs,
            home: temp_home(tag),
            mode,
        }
    }

    async fn start(&self, i: usize, app: &MemApp) -> ConsensusHandle {
        let mut cfg = ConsensusConfig::new(
            self.home.join(format!("node{i}")),
            self.keys[i].clone(),
            self.addrs[i].clone(),
        );
        cfg.persistent_peers = self
            .addrs
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, a)| a.clone())
            .collect();
        cfg.pubsub = self.mode;
        cfg.empty_block_interval = Duration::from_millis(200);
        cfg.timeouts.propose = Duration::from_millis(800);
        cfg.sync_status_interval = Duration::from_millis(500);
        cfg.moniker = Some(format!("node{i}"));
        consensus::run(app.clone(), cfg)
            .await
            .expect("consensus starts")
    }
}

async fn four_validators_reach_height_3(mode: PubSubMode) {
    init_tracing();
    let net = Net::new(&format!("four-{mode:?}"), 4, mode);
    let apps: Vec<MemApp> = (0..4)
        .map(|_| MemApp::new(net.validators.clone()))
        .collect();
    let mut handles = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        handles.push(net.start(i, app).await);
    }

    let started = Instant::now();
    wait_until(
        Duration::from_secs(60),
        "all four validators at height 3",
        || apps.iter().all(|a| a.height() >= 3),
    )
    .await;
    println!(
        "four validators ({mode:?}): height 3 on all nodes after {:?}",
        started.elapsed()
    );

    let reference: Vec<Hash> = apps[0]
        .committed()
        .iter()
        .take(3)
        .map(|(b, _)| b.hash())
        .collect();
    for app in &apps {
        let hashes: Vec<Hash> = app
            .committed()
            .iter()
            .take(3)
            .map(|(b, _)| b.hash())
            .collect();
        assert_eq!(hashes, reference, "nodes disagree");
        verify_chain(app, 3);
    }
    for h in &handles {
        assert!(h.peers_count().await.expect("peers") >= 1);
    }
    shutdown_all(handles).await;
    let _ = std::fs::remove_dir_all(&net.home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn four_validators_agree() {
    four_validators_reach_height_3(PubSubMode::Broadcast).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn four_validators_agree_over_gossip() {
    four_validators_reach_height_3(PubSubMode::Gossip).await;
}

/// A validator that was down catches up by value sync (and write-ahead-log replay)
/// when it comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn stopped_validator_catches_up() {
    init_tracing();
    let net = Net::new("catch-up", 4, PubSubMode::Broadcast);
    let apps: Vec<MemApp> = (0..4)
        .map(|_| MemApp::new(net.validators.clone()))
        .collect();
    let mut handles = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        handles.push(Some(net.start(i, app).await));
    }
    wait_until(Duration::from_secs(60), "height 2", || {
        apps.iter().all(|a| a.height() >= 2)
    })
    .await;

    if let Some(h) = handles[3].take() {
        h.shutdown().await;
    }
    let down_at = apps[3].height();
    wait_until(Duration::from_secs(60), "three validators to go on", || {
        apps[..3].iter().all(|a| a.height() >= down_at + 5)
    })
    .await;

    let t0 = Instant::now();
    handles[3] = Some(net.start(3, &apps[3]).await);
    let target = apps[0].height();
    wait_until(
        Duration::from_secs(60),
        "the restarted validator to catch up",
        || apps[3].height() >= target,
    )
    .await;
    println!(
        "restarted validator: {down_at} -> {target} in {:?}",
        t0.elapsed()
    );

    let n = apps.iter().map(MemApp::height).min().unwrap_or(0);
    let reference: Vec<Hash> = apps[0]
        .committed()
        .iter()
        .take(n as usize)
        .map(|(b, _)| b.hash())
        .collect();
    for app in &apps {
        let hashes: Vec<Hash> = app
            .committed()
            .iter()
            .take(n as usize)
            .map(|(b, _)| b.hash())
            .collect();
        assert_eq!(hashes, reference, "nodes disagree");
        verify_chain(app, n);
    }
    shutdown_all(handles.into_iter().flatten().collect()).await;
    let _ = std::fs::remove_dir_all(&net.home);
}

/// A commit that fails inside the ledger halts consensus: `stopped()` reports the
/// error and no further block is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_commit_halts() {
    init_tracing();
    let key = SecretKey::from_label("halting-validator");
    let validators = vec![ValidatorInfo {
        public_key: key.public(),
        voting_power: 1,
    }];
    let app = MemApp::new(validators);
    app.lock().fail_commit_at = Some(2);
    let home = temp_home("halt");
    let mut cfg = ConsensusConfig::new(&home, key, "/ip4/127.0.0.1/tcp/0");
    cfg.empty_block_interval = Duration::from_millis(50);
    let handle = consensus::run(app.clone(), cfg)
        .await
        .expect("consensus starts");

    let outcome = tokio::time::timeout(Duration::from_secs(30), handle.stopped())
        .await
        .expect("consensus halts in time");
    let err = outcome.expect_err("a failed commit is an error");
    assert!(err.to_string().contains("disk full"), "{err:#}");
    assert!(handle.is_stopped());
    assert_eq!(app.height(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.height(), 1, "no block after the failed commit");
    handle.shutdown().await;
    let _ = std::fs::remove_dir_all(home);
}
