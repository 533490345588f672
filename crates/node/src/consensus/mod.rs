//! Consensus: Malachite (Tendermint BFT) driven through its channel API.
//!
//! [`run`] starts the engine (p2p, write-ahead log, consensus, value sync) and a
//! task that answers the engine's requests with calls to an [`Application`].
//! Blocks travel as signed proposal streams (chunks of at most 64 KiB); votes and
//! certificates carry only block hashes. Precommit signatures are over
//! `waybill_types::block::vote_sign_bytes`, so every certificate Malachite
//! assembles is a [`waybill_types::CommitCertificate`] as it is.
//!
//! ```ignore
//! let handle = consensus::run(ledger, ConsensusConfig::new(home, key, "/ip4/127.0.0.1/tcp/27000")).await?;
//! // status endpoint:
//! let status = handle.status();
//! let peers = handle.peers_count().await?;
//! // main: exit non-zero when consensus halts (e.g. a failed commit)
//! if let Err(e) = handle.stopped().await { tracing::error!("{e:#}"); std::process::exit(1); }
//! ```
//!
//! The application methods are called with `tokio::task::block_in_place`, so the
//! node must run on a multi-threaded Tokio runtime.

pub mod codec;
pub mod context;
mod driver;
mod probe;
pub mod scheme;
pub mod signing;
pub mod streaming;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use bytesize::ByteSize;
use malachitebft_app_channel::app::config::NodeConfig;
use malachitebft_app_channel::app::config::{
    ConsensusConfig as EngineConsensusConfig, P2pConfig, PubSubMaxSizePerTopic, PubSubProtocol,
    ValuePayload, ValueSyncConfig,
};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::LinearTimeouts;
use malachitebft_app_channel::app::types::Keypair;
use malachitebft_app_channel::{
    Channels, ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, NetworkRequest,
    RequestContext, Signer as _, SyncContext, WalContext,
};
use tokio::sync::{mpsc, watch};
use tracing::{error, Instrument};
use waybill_types::{sha256, SecretKey};

use crate::app::Application;

pub use self::codec::{WaybillCodec, SYNC_RESPONSE_BYTES_MAX};
pub use self::context::{Address, BlockValue, Height, ValidatorSet, WaybillContext};
pub use self::probe::{ConsensusProbe, PEER_HEIGHTS_MAX, PEER_HEIGHT_TTL};
pub use self::signing::{
    SignedKind, SigningGuard, SigningMark, SigningMarkError, SigningRefused, WaybillSigner,
    WaybillVerifier,
};

/// Consensus timeouts. Each grows by its `*_delta` per round, up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutConfig {
    /// How long to wait for a proposal.
    pub propose: Duration,
    /// Added to `propose` per round.
    pub propose_delta: Duration,
    /// How long to wait after +2/3 prevotes for different values.
    pub prevote: Duration,
    /// Added to `prevote` per round.
    pub prevote_delta: Duration,
    /// How long to wait after +2/3 precommits for different values.
    pub precommit: Duration,
    /// Added to `precommit` per round.
    pub precommit_delta: Duration,
    /// Upper bound of every timeout.
    pub max: Duration,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        TimeoutConfig {
            propose: Duration::from_secs(2),
            propose_delta: Duration::from_millis(500),
            prevote: Duration::from_millis(500),
            prevote_delta: Duration::from_millis(250),
            precommit: Duration::from_millis(500),
            precommit_delta: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

impl TimeoutConfig {
    /// The engine's timeouts. Round-state rebroadcast starts after one full round.
    pub fn linear(&self) -> LinearTimeouts {
        LinearTimeouts {
            propose: self.propose,
            propose_delta: self.propose_delta,
            prevote: self.prevote,
            prevote_delta: self.prevote_delta,
            precommit: self.precommit,
            precommit_delta: self.precommit_delta,
            rebroadcast: self.propose + self.prevote + self.precommit,
            max_timeout: self.max,
        }
    }
}

/// How consensus messages reach the other validators. Every node of a network must
/// use the same mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PubSubMode {
    /// Send every message straight to every connected peer. Needs every validator
    /// connected to every other (list them all as persistent peers), which is how a
    /// permissioned network is configured; lowest latency, and quiet when a node
    /// runs alone.
    #[default]
    Broadcast,
    /// GossipSub: peers relay messages, so validators need not all be connected to
    /// each other. Logs an error for every message while a node has no peers.
    Gossip,
}

/// How to run consensus.
#[derive(Clone, Debug)]
pub struct ConsensusConfig {
    /// Node home directory; the write-ahead log is `home/consensus/wal`.
    pub home: PathBuf,
    /// The validator key (signs votes, proposals and proposal parts). The p2p
    /// identity is derived from it, so the node's peer id is stable.
    pub validator_key: SecretKey,
    /// p2p listen address, a multiaddr such as `/ip4/127.0.0.1/tcp/27000`.
    pub listen_addr: String,
    /// Peers to stay connected to, multiaddrs such as `/ip4/10.0.0.2/tcp/27000`.
    pub persistent_peers: Vec<String>,
    /// Accept connections only from persistent peers.
    pub persistent_peers_only: bool,
    /// How messages are spread.
    pub pubsub: PubSubMode,
    /// Timeouts.
    pub timeouts: TimeoutConfig,
    /// As proposer with an empty mempool, how long to wait for transactions before
    /// proposing an empty block (bounded by the engine's propose timeout).
    pub empty_block_interval: Duration,
    /// How often to tell peers our height (drives catch-up by value sync).
    pub sync_status_interval: Duration,
    /// Name in logs and metrics; defaults to `waybill-` and the key's short form.
    pub moniker: Option<String>,
    /// Fault injection for tests: make this validator misbehave (equivocate votes and
    /// proposals, …) through Malachite's Byzantine network proxy. Never in production.
    pub byzantine: Option<malachitebft_engine_byzantine::ByzantineConfig>,
    /// The signing mark file (see [`SigningGuard`]); keep it outside the store, so a
    /// lost or restored store does not take it along. Default `home/signing-mark.json`.
    pub signing_mark: PathBuf,
}

impl ConsensusConfig {
    /// A configuration with default timeouts, no peers and a 1 s empty-block interval.
    pub fn new(
        home: impl Into<PathBuf>,
        validator_key: SecretKey,
        listen_addr: impl Into<String>,
    ) -> Self {
        let home = home.into();
        ConsensusConfig {
            signing_mark: home.join("signing-mark.json"),
            home,
            validator_key,
            listen_addr: listen_addr.into(),
            persistent_peers: Vec::new(),
            persistent_peers_only: false,
            pubsub: PubSubMode::default(),
            timeouts: TimeoutConfig::default(),
            empty_block_interval: Duration::from_secs(1),
            sync_status_interval: Duration::from_secs(2),
            moniker: None,
            byzantine: None,
        }
    }

    /// The write-ahead log path.
    pub fn wal_path(&self) -> PathBuf {
        self.home.join("consensus").join("wal")
    }
}

/// Consensus height and round, updated as the engine moves.
#[derive(Debug)]
pub(crate) struct SharedStatus {
    pub(crate) height: AtomicU64,
    pub(crate) round: AtomicI64,
    /// Set by [`ConsensusHandle::shutdown`]: the engine stopping is then expected.
    pub(crate) shutting_down: AtomicBool,
    /// Where shutdown is, for the driver: [`STOP_WAITING`] (a proposer waiting for
    /// transactions stops waiting, so the engine's requests are answered at once), then
    /// [`STOP_DRIVER`] (return once the message in hand is finished).
    pub(crate) stop_driver: watch::Sender<u8>,
}

/// Where consensus is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsensusStatus {
    /// The height being decided.
    pub height: u64,
    /// The current round (`-1` before the first round of the height starts).
    pub round: i64,
}

/// A running consensus engine and its application driver.
pub struct ConsensusHandle {
    status: Arc<SharedStatus>,
    current: Arc<Mutex<CurrentEngine>>,
    supervisor: tokio::task::JoinHandle<()>,
    outcome: watch::Receiver<Option<Result<(), String>>>,
    peer_id: String,
    address: Address,
    peer_heights: Arc<probe::PeerHeights>,
}

/// The engine running now: a follower's is replaced by a validator's once the store
/// is past the signing mark.
struct CurrentEngine {
    net_requests: mpsc::Sender<NetworkRequest>,
    engine: Option<EngineHandle>,
    following: bool,
}

impl std::fmt::Debug for ConsensusHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsensusHandle")
            .field("address", &self.address)
            .field("peer_id", &self.peer_id)
            .field("status", &self.status())
            .finish()
    }
}

impl ConsensusHandle {
    /// Current height and round.
    pub fn status(&self) -> ConsensusStatus {
        ConsensusStatus {
            height: self.status.height.load(Ordering::Relaxed),
            round: self.status.round.load(Ordering::Relaxed),
        }
    }

    /// A read-only view for readiness checks: whether consensus runs, and the
    /// heights peers report.
    pub fn probe(&self) -> ConsensusProbe {
        ConsensusProbe {
            status: self.status.clone(),
            outcome: self.outcome.clone(),
            peer_heights: self.peer_heights.clone(),
        }
    }

    /// This node's libp2p peer id.
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    /// This node's consensus address (its validator key).
    pub fn address(&self) -> Address {
        self.address
    }

    /// Whether this validator follows the chain without signing (its store is behind
    /// its signing mark); it becomes a signing validator once past it.
    pub fn is_following(&self) -> bool {
        self.current
            .lock()
            .expect("the engine lock is never held across a panic")
            .following
    }

    fn net_requests(&self) -> mpsc::Sender<NetworkRequest> {
        self.current
            .lock()
            .expect("the engine lock is never held across a panic")
            .net_requests
            .clone()
    }

    /// Number of connected peers.
    pub async fn peers_count(&self) -> anyhow::Result<usize> {
        let dump = NetworkRequest::dump_state(&self.net_requests())
            .await
            .map_err(|e| anyhow!("network state unavailable: {e}"))?;
        Ok(dump.map_or(0, |d| d.peers.len()))
    }

    /// Keep `metrics`' peer count current (every `every`), until consensus stops.
    pub fn track_peers(&self, metrics: std::sync::Arc<crate::metrics::Metrics>, every: Duration) {
        let current = self.current.clone();
        let status = self.status.clone();
        tokio::spawn(async move {
            loop {
                // Asking a network that is stopping makes the engine log errors.
                if status.shutting_down.load(Ordering::SeqCst) {
                    return;
                }
                let requests = current
                    .lock()
                    .expect("the engine lock is never held across a panic")
                    .net_requests
                    .clone();
                match NetworkRequest::dump_state(&requests).await {
                    Ok(dump) => metrics.set_peers(dump.map_or(0, |d| d.peers.len()) as u64),
                    Err(malachitebft_app_channel::ConsensusRequestError::Closed) => return,
                    Err(_) => {}
                }
                tokio::time::sleep(every).await;
            }
        });
    }

    /// Resolves when consensus stops: `Err` if it halted (a failed commit, a broken
    /// ledger, the engine dying). The node must then exit with a non-zero code.
    pub async fn stopped(&self) -> anyhow::Result<()> {
        let mut rx = self.outcome.clone();
        let outcome = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| anyhow!("consensus driver vanished"))?
            .clone();
        match outcome {
            Some(Err(e)) => Err(anyhow!(e)),
            _ => Ok(()),
        }
    }

    /// Whether consensus has stopped.
    pub fn is_stopped(&self) -> bool {
        self.outcome.borrow().is_some()
    }

    /// Stop the engine, then the driver, each within a bound ([`SHUTDOWN_ACTORS_MS`],
    /// [`SHUTDOWN_DRIVER_MS`]).
    ///
    /// The driver first stops waiting for transactions, so the engine's requests in
    /// flight are answered. The engine is stopped by [`stop_engine`]; then the driver
    /// finishes the message in hand (a commit completes) and returns.
    pub async fn shutdown(mut self) {
        self.status.shutting_down.store(true, Ordering::SeqCst);
        self.status.stop_driver.send_replace(STOP_WAITING);
        let started = std::time::Instant::now();
        let engine = self
            .current
            .lock()
            .expect("the engine lock is never held across a panic")
            .engine
            .take();
        if let Some(engine) = engine {
            stop_engine(engine).await;
        }
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "consensus engine stopped"
        );
        self.status.stop_driver.send_replace(STOP_DRIVER);
        if tokio::time::timeout(
            Duration::from_millis(SHUTDOWN_DRIVER_MS),
            &mut self.supervisor,
        )
        .await
        .is_err()
        {
            tracing::warn!("the consensus driver did not stop in time; aborting it");
            self.supervisor.abort();
        }
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "consensus driver stopped"
        );
    }
}

/// Stop an engine within [`SHUTDOWN_ACTORS_MS`]: its actors one at a time, newest
/// first (sync, consensus, host, WAL, network: each depends only on those started
/// before it), each unlinked from their supervisor first, and then the supervisor.
/// Stopping only the supervisor would kill its children without their clean-up (the
/// sync actor's tickers then log errors against the dead actor), and a supervised
/// child that stops makes the supervisor kill its siblings mid-message (a WAL flush
/// then cannot answer). An actor that does not stop in time is killed.
async fn stop_engine(engine: EngineHandle) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(SHUTDOWN_ACTORS_MS);
    let node = engine.actor.get_cell();
    let mut children = node.get_children();
    // Actor ids grow in spawn order.
    children.sort_by_key(|c| std::cmp::Reverse(c.get_id()));
    for child in children {
        child.unlink(node.clone());
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if child
            .stop_and_wait(Some("shutdown".into()), Some(left))
            .await
            .is_err()
        {
            tracing::warn!(actor = %child.get_id(), "a consensus actor did not stop in time; killing it");
            child.kill();
        }
    }
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if engine
        .actor
        .stop_and_wait(
            Some("shutdown".into()),
            Some(left.max(Duration::from_millis(100))),
        )
        .await
        .is_err()
    {
        engine.actor.kill();
    }
    engine.handle.abort();
}

/// [`SharedStatus::stop_driver`]: shutdown began; stop waiting for transactions.
pub(crate) const STOP_WAITING: u8 = 1;
/// [`SharedStatus::stop_driver`]: the engine stopped; the driver returns.
pub(crate) const STOP_DRIVER: u8 = 2;

/// Longest [`stop_engine`] waits for the engine's actors to stop before it kills
/// those still running.
pub const SHUTDOWN_ACTORS_MS: u64 = 2_000;
/// Longest [`ConsensusHandle::shutdown`] waits for the driver to finish the message
/// in hand.
pub const SHUTDOWN_DRIVER_MS: u64 = 1_000;

struct EngineConfig {
    moniker: String,
    consensus: EngineConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &EngineConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut EngineConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

fn parse_addr(s: &str) -> anyhow::Result<Multiaddr> {
    s.parse()
        .with_context(|| format!("`{s}` is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/27000)"))
}

fn engine_config(cfg: &ConsensusConfig, moniker: String) -> anyhow::Result<EngineConfig> {
    let listen_addr = parse_addr(&cfg.listen_addr)?;
    let text = listen_addr.to_string();
    if !text.contains("/tcp/") && !text.contains("/quic-v1") {
        anyhow::bail!(
            "p2p listen address `{text}` names no TCP or QUIC port (e.g. /ip4/127.0.0.1/tcp/27000)"
        );
    }
    let p2p = P2pConfig {
        listen_addr,
        persistent_peers: cfg
            .persistent_peers
            .iter()
            .map(|p| parse_addr(p))
            .collect::<Result<_, _>>()?,
        persistent_peers_only: cfg.persistent_peers_only,
        // One sync response must hold at least one block of the largest size.
        rpc_max_size: ByteSize::b((SYNC_RESPONSE_BYTES_MAX + 64 * 1024) as u64),
        pubsub_max_size_per_topic: PubSubMaxSizePerTopic {
            proposal_parts: Some(ByteSize::b(codec::PART_MSG_BYTES_MAX as u64 + 1024)),
            ..PubSubMaxSizePerTopic::default()
        },
        protocol: match cfg.pubsub {
            PubSubMode::Broadcast => PubSubProtocol::Broadcast,
            PubSubMode::Gossip => PubSubProtocol::default(),
        },
        ..P2pConfig::default()
    };
    let consensus = EngineConsensusConfig {
        value_payload: ValuePayload::ProposalAndParts,
        p2p,
        ..EngineConsensusConfig::default()
    };

    let value_sync = ValueSyncConfig {
        enabled: true,
        status_update_interval: cfg.sync_status_interval,
        max_response_size: ByteSize::b(SYNC_RESPONSE_BYTES_MAX as u64),
        ..ValueSyncConfig::default()
    };
    Ok(EngineConfig {
        moniker,
        consensus,
        value_sync,
    })
}

/// The libp2p identity key, derived from the validator key (so the peer id is stable
/// across restarts) but never equal to it.
fn network_keypair(key: &SecretKey) -> anyhow::Result<Keypair> {
    let mut material = b"waybill/p2p-identity/v1\0".to_vec();
    material.extend_from_slice(&key.seed());
    let seed = sha256(&material).0;
    Keypair::ed25519_from_bytes(seed).map_err(|e| anyhow!("p2p key: {e}"))
}

/// The address a follower runs its engine under: derived from the validator key, in
/// no validator set, so the engine never asks it to sign.
fn follower_address(key: &SecretKey) -> Address {
    let mut material = b"waybill/follower/v1\0".to_vec();
    material.extend_from_slice(&key.seed());
    Address(SecretKey::from_seed(sha256(&material).0).public())
}

/// The network of a validator that misbehaves on purpose (tests only): it signs
/// conflicting proposals and votes, for a block hash with its last byte flipped.
fn byzantine_network(
    identity: NetworkIdentity,
    config: malachitebft_engine_byzantine::ByzantineConfig,
    signer: &WaybillSigner,
    address: Address,
) -> malachitebft_app_channel::ByzantineContext<WaybillContext, WaybillCodec> {
    malachitebft_app_channel::ByzantineContext {
        identity,
        codec: WaybillCodec,
        config,
        signer: Box::new(signer.clone()),
        address,
        // A conflicting block hash: the real one with its last byte flipped.
        conflicting_value_fn: Some(Box::new(|v: &BlockValue| {
            let mut h = v.block_hash;
            h.0[31] ^= 0xff;
            BlockValue::new(h)
        })),
        conflicting_vote_value_fn: Some(Box::new(|id: Option<&waybill_types::Hash>| {
            let mut h = id.copied().unwrap_or_default();
            h.0[31] ^= 0xff;
            h
        })),
    }
}

/// A validator's network identity: its libp2p key, bound to its validator key by a
/// proof the validator signs.
async fn validator_identity(
    moniker: &str,
    keypair: Keypair,
    address: Address,
    signer: &WaybillSigner,
) -> anyhow::Result<NetworkIdentity> {
    let peer_id = keypair.public().to_peer_id();
    let proof = signer
        .sign_validator_proof(address.0 .0.to_vec(), peer_id.to_bytes())
        .await
        .map_err(|e| anyhow!("signing the validator proof: {e}"))?;
    let proof_bytes = WaybillCodec.encode(&proof)?;
    Ok(NetworkIdentity::new_validator(
        moniker.to_string(),
        keypair,
        address.to_string(),
        proof_bytes,
    ))
}

/// Start a Malachite engine: a validator's (signing through `signer`) or, with
/// `signer = None`, a follower's that verifies and syncs but never signs.
async fn start_engine(
    ctx: &WaybillContext,
    cfg: &ConsensusConfig,
    moniker: &str,
    signer: Option<&WaybillSigner>,
    span: &tracing::Span,
) -> anyhow::Result<(Channels<WaybillContext>, EngineHandle)> {
    let key = &cfg.validator_key;
    let address = Address(key.public());
    let engine_cfg = engine_config(cfg, moniker.to_string())?;
    let keypair = network_keypair(key)?;
    let verifier = Box::new(WaybillVerifier::new(ctx.chain_id().to_string()));
    let wal = WalContext::new(cfg.wal_path(), WaybillCodec);
    let Some(signer) = signer else {
        let identity = NetworkIdentity::new(moniker.to_string(), keypair, None);
        return malachitebft_app_channel::start_engine(
            ctx.clone(),
            engine_cfg,
            wal,
            NetworkContext::new(identity, WaybillCodec),
            ConsensusContext::new_full_node(follower_address(key), verifier),
            SyncContext::new(WaybillCodec),
            RequestContext::new(100),
        )
        .instrument(span.clone())
        .await
        .map_err(|e| anyhow!("starting the consensus engine: {e:#}"));
    };
    let identity = validator_identity(moniker, keypair, address, signer).await?;
    let consensus_ctx =
        ConsensusContext::new_validator(address, verifier, Box::new(signer.clone()));
    match cfg.byzantine.clone() {
        None => {
            malachitebft_app_channel::start_engine(
                ctx.clone(),
                engine_cfg,
                wal,
                NetworkContext::new(identity, WaybillCodec),
                consensus_ctx,
                SyncContext::new(WaybillCodec),
                RequestContext::new(100),
            )
            .instrument(span.clone())
            .await
        }
        Some(config) => {
            tracing::warn!(
                ?config,
                "BYZANTINE fault injection is on: this validator misbehaves on purpose"
            );
            async {
                malachitebft_app_channel::EngineBuilder::new(ctx.clone(), engine_cfg)
                    .with_default_wal(wal)
                    .with_byzantine_network(byzantine_network(identity, config, signer, address))
                    .await?
                    .with_default_sync(SyncContext::new(WaybillCodec))
                    .with_default_consensus(consensus_ctx)
                    .with_default_request(RequestContext::new(100))
                    .build()
                    .await
            }
            .instrument(span.clone())
            .await
        }
    }
    .map_err(|e| anyhow!("starting the consensus engine: {e:#}"))
}

/// Most attempts to start the validator engine after the follower's stopped (its p2p
/// port may take a moment to be released).
const RESTART_ATTEMPTS_MAX: u32 = 40;

/// The height from which this validator may sign again: `None` if its store is not
/// behind its signing mark; else the mark's height (said in the log).
fn sign_from(mark: &SigningMark, committed: u64, cfg: &ConsensusConfig) -> Option<Height> {
    let sign_from = mark
        .must_sync_past(committed)
        .then_some(Height(mark.height));
    if let Some(h) = sign_from {
        tracing::warn!(
            committed,
            mark_height = mark.height,
            mark_round = mark.round,
            mark = %cfg.signing_mark.display(),
            "the store is behind this validator's signing mark: following the chain from peers without signing until height {h} is committed"
        );
    }
    sign_from
}

/// Replace the follower's engine with a signing validator's (retrying while its
/// p2p port is released): the new engine's channels.
async fn restart_as_validator(
    current: &Mutex<CurrentEngine>,
    ctx: &WaybillContext,
    cfg: &ConsensusConfig,
    moniker: &str,
    signer: &WaybillSigner,
    span: &tracing::Span,
) -> anyhow::Result<Channels<WaybillContext>> {
    let old = current
        .lock()
        .expect("the engine lock is never held across a panic")
        .engine
        .take();
    if let Some(old) = old {
        stop_engine(old).await;
    }
    let mut started = None;
    for attempt in 1..=RESTART_ATTEMPTS_MAX {
        match start_engine(ctx, cfg, moniker, Some(signer), span).await {
            Ok(s) => {
                started = Some(Ok(s));
                break;
            }
            Err(e) if attempt < RESTART_ATTEMPTS_MAX => {
                tracing::debug!(attempt, error = %e, "validator engine not started yet; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => started = Some(Err(e)),
        }
    }
    match started {
        Some(Ok((ch, engine))) => {
            let mut cur = current
                .lock()
                .expect("the engine lock is never held across a panic");
            cur.net_requests = ch.net_requests.clone();
            cur.engine = Some(engine);
            cur.following = false;
            drop(cur);
            tracing::info!("consensus restarted as a signing validator");
            Ok(ch)
        }
        Some(Err(e)) => Err(e),
        None => Err(anyhow!("the validator engine did not start")),
    }
}

/// Stop the running engine at once (after the ledger failed: never keep voting).
fn kill_engine(current: &Mutex<CurrentEngine>) {
    if let Some(engine) = current
        .lock()
        .expect("the engine lock is never held across a panic")
        .engine
        .as_ref()
    {
        engine.actor.kill();
    }
}

/// Makes the driver for the application in a role (a new one each time the engine
/// is replaced), with this node's context, address, timeouts and status.
fn driver_factory<A: Application>(
    ctx: &WaybillContext,
    address: Address,
    cfg: &ConsensusConfig,
    status: &Arc<SharedStatus>,
) -> impl Fn(A, driver::Role) -> driver::Driver<A> {
    let ctx = ctx.clone();
    let status = status.clone();
    let timeouts = cfg.timeouts.linear();
    let empty_block_interval = cfg.empty_block_interval;
    move |app: A, role: driver::Role| {
        driver::Driver::new(
            app,
            ctx.clone(),
            address,
            role,
            timeouts,
            empty_block_interval,
            status.clone(),
        )
    }
}

/// What starting a validator engine in place of a follower's needs.
struct EngineSpec {
    ctx: WaybillContext,
    cfg: ConsensusConfig,
    moniker: String,
    signer: WaybillSigner,
    span: tracing::Span,
    /// Where the heights peers report go (read by `/readyz`).
    peer_heights: Arc<probe::PeerHeights>,
}

/// Run the driver until consensus stops: when a follower's store passes its signing
/// mark, restart as a signing validator and go on; when the ledger fails, stop the
/// engine at once and return the failure.
async fn supervise<A: Application>(
    mut driver: driver::Driver<A>,
    mut channels: Channels<WaybillContext>,
    new_driver: impl Fn(A, driver::Role) -> driver::Driver<A>,
    current: Arc<Mutex<CurrentEngine>>,
    status: Arc<SharedStatus>,
    spec: EngineSpec,
) -> anyhow::Result<()> {
    loop {
        let (app, exit) = driver.run(channels).await;
        match exit {
            Ok(driver::DriverExit::PastSigningMark(_))
                if !status.shutting_down.load(Ordering::SeqCst) =>
            {
                let EngineSpec {
                    ctx,
                    cfg,
                    moniker,
                    signer,
                    span,
                    peer_heights,
                } = &spec;
                channels = restart_as_validator(&current, ctx, cfg, moniker, signer, span).await?;
                probe::track_peer_heights(&channels.events, peer_heights.clone(), status.clone());
                driver = new_driver(app, driver::Role::Validator(signer.clone()));
            }
            Ok(_) => return Ok(()),
            Err(e) => {
                error!("{e:#}");
                // Never keep voting after the ledger failed: stop the engine now.
                kill_engine(&current);
                return Err(e);
            }
        }
    }
}

/// The directory of the consensus write-ahead log, made if missing.
fn ensure_wal_dir(cfg: &ConsensusConfig) -> anyhow::Result<()> {
    let wal_path = cfg.wal_path();
    if let Some(dir) = wal_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// The status of consensus before it has started a height.
fn new_status() -> Arc<SharedStatus> {
    Arc::new(SharedStatus {
        height: AtomicU64::new(0),
        round: AtomicI64::new(-1),
        shutting_down: AtomicBool::new(false),
        stop_driver: watch::channel(0).0,
    })
}

/// Start consensus for `app`: the Malachite engine and the task that drives the
/// application. Returns once the engine is listening.
///
/// If the store is behind this validator's signing mark
/// ([`SigningMark::must_sync_past`]), the engine starts as a follower that syncs from
/// peers and signs nothing; once the store has committed the mark's height, it is
/// replaced by a validator engine in the same process.
pub async fn run<A: Application>(app: A, cfg: ConsensusConfig) -> anyhow::Result<ConsensusHandle> {
    let chain_id = app.chain_id();
    let ctx = WaybillContext::new(chain_id.clone());
    let key = cfg.validator_key.clone();
    let address = Address(key.public());
    let moniker = cfg
        .moniker
        .clone()
        .unwrap_or_else(|| format!("waybill-{}", key.public().short()));
    let guard = SigningGuard::open(&cfg.signing_mark)?;
    let signer = WaybillSigner::new(chain_id.clone(), key.clone(), guard.clone());
    let sign_from = sign_from(&guard.mark(), app.committed_height().0, &cfg);
    let keypair = network_keypair(&key)?;
    let peer_id = keypair.public().to_peer_id();

    ensure_wal_dir(&cfg)?;

    let span = tracing::info_span!("consensus", node = %moniker);
    let following = sign_from.is_some();
    let (channels, engine) =
        start_engine(&ctx, &cfg, &moniker, (!following).then_some(&signer), &span).await?;

    let status = new_status();
    let peer_heights = Arc::new(probe::PeerHeights::default());
    probe::track_peer_heights(&channels.events, peer_heights.clone(), status.clone());
    let current = Arc::new(Mutex::new(CurrentEngine {
        net_requests: channels.net_requests.clone(),
        engine: Some(engine),
        following,
    }));
    let new_driver = driver_factory(&ctx, address, &cfg, &status);
    let driver = new_driver(
        app,
        match sign_from {
            Some(sign_from) => driver::Role::Follower { sign_from },
            None => driver::Role::Validator(signer.clone()),
        },
    );
    let (outcome_tx, outcome) = watch::channel(None);
    let supervisor = {
        let (current, status) = (current.clone(), status.clone());
        let spec = EngineSpec {
            ctx,
            cfg,
            moniker,
            signer,
            span: span.clone(),
            peer_heights: peer_heights.clone(),
        };
        tokio::spawn(
            async move {
                let result = supervise(driver, channels, new_driver, current, status, spec).await;
                let _ = outcome_tx.send(Some(result.map_err(|e| format!("{e:#}"))));
            }
            .instrument(span),
        )
    };

    Ok(ConsensusHandle {
        status,
        current,
        supervisor,
        outcome,
        peer_id: peer_id.to_string(),
        address,
        peer_heights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_config_checks_addresses_and_sizes() {
        let key = SecretKey::from_label("cfg");
        let mut cfg = ConsensusConfig::new("/tmp/unused", key.clone(), "/ip4/127.0.0.1/tcp/27000");
        cfg.persistent_peers = vec!["/ip4/127.0.0.1/tcp/27001".into()];
        let ec = engine_config(&cfg, "n".into()).expect("valid config");
        assert_eq!(ec.consensus.p2p.persistent_peers.len(), 1);
        assert!(ec.value_sync.enabled);
        assert!(
            ec.value_sync.max_response_size.as_u64() as usize
                > waybill_types::limits::BLOCK_BYTES_MAX
        );
        assert!(ec.consensus.p2p.rpc_max_size.as_u64() as usize > SYNC_RESPONSE_BYTES_MAX);

        cfg.listen_addr = "/ip4/127.0.0.1".into();
        assert!(engine_config(&cfg, "n".into()).is_err());
        cfg.listen_addr = "127.0.0.1:27000".into();
        assert!(engine_config(&cfg, "n".into()).is_err());
    }

    #[test]
    fn network_key_is_stable_and_not_the_validator_key() {
        let key = SecretKey::from_label("net");
        let a = network_keypair(&key).expect("key").public().to_peer_id();
        let b = network_keypair(&key).expect("key").public().to_peer_id();
        assert_eq!(a, b);
        let same_as_validator = Keypair::ed25519_from_bytes(key.seed())
            .expect("key")
            .public()
            .to_peer_id();
        assert_ne!(a, same_as_validator);
    }
}
