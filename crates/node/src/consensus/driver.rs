//! The loop over Malachite's [`AppMsg`]s: turns consensus requests into
//! [`Application`] calls and replies.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use bytes::Bytes;
use malachitebft_app_channel::app::consensus::{VoteExtensionError, VoteExtensionVerdicts};
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, Context as _, LinearTimeouts, Round, Validity,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use tokio::sync::{mpsc, Notify};
use tracing::{debug, error, info, warn};
use waybill_types::limits::SYNC_BLOCKS_MAX;
use waybill_types::{Block, Hash, Signature};

use super::codec::{to_malachite_certificate, to_waybill_certificate};
use super::context::{
    Address, BlockValue, Height, ProposalInit, ProposalPart, ValidatorSet, WaybillContext,
};
use super::signing::WaybillSigner;
use super::streaming::{stream_id, PartStreams, SignedParts};
use super::SharedStatus;
use crate::app::{AppError, Application};

type Ctx = WaybillContext;

/// Complete proposals for future heights kept until their height starts.
const PENDING_MAX: usize = 16;
/// How far ahead of the current height a complete proposal is kept.
const PENDING_HEIGHTS_AHEAD: u64 = 2;
/// Most proposals remembered per round of the current height.
const KNOWN_PER_ROUND_MAX: usize = 8;

pub(crate) struct Driver<A: Application> {
    app: A,
    ctx: WaybillContext,
    /// Signs proposal streams through the signing guard (`None`: a node that follows
    /// the chain without signing).
    signer: Option<WaybillSigner>,
    me: Address,
    /// Following without signing until the store has committed this height; then the
    /// driver stops with [`DriverExit::PastSigningMark`].
    sign_from: Option<Height>,
    timeouts: LinearTimeouts,
    empty_block_interval: Duration,
    notify: Arc<Notify>,
    status: Arc<SharedStatus>,

    /// The height consensus works on (committed + 1).
    current: Height,
    validator_sets: Option<(Height, ValidatorSet)>,
    streams: PartStreams,
    /// Complete streams for heights not started yet.
    pending: Vec<SignedParts>,
    /// Proposals of the current height, verified and checked, by round.
    known: BTreeMap<u32, Vec<ProposedValue<Ctx>>>,
    /// Blocks of the current height the application has accepted or built.
    accepted: HashSet<Hash>,
    /// The block we built for a round of the current height.
    built: HashMap<u32, Hash>,
    /// Stream header and signature of every proposal of the current height, to re-stream it.
    signed: HashMap<Hash, (ProposalInit, Signature)>,
    /// Decided at this height without having the block: restart the height.
    restart: Option<Height>,
    stream_nonce: u64,
}

/// How this node takes part in consensus.
pub(crate) enum Role {
    /// Proposes and votes, signing through the guarded signer.
    Validator(WaybillSigner),
    /// Follows without signing until the store has committed `sign_from`.
    Follower {
        /// The signing mark's height.
        sign_from: Height,
    },
}

/// Why the driver stopped without an error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DriverExit {
    /// Shut down on request.
    Shutdown,
    /// A follower's store has committed past the signing mark: restart as a validator.
    PastSigningMark(Height),
}

/// The engine's network actor is gone (expected during shutdown only).
#[derive(Debug, thiserror::Error)]
#[error("the consensus network actor stopped")]
struct EngineGone;

/// A failure that must stop the node.
fn halt(what: &str, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("consensus halted: {what}: {e}")
}

impl<A: Application> Driver<A> {
    pub(crate) fn new(
        app: A,
        ctx: WaybillContext,
        me: Address,
        role: Role,
        timeouts: LinearTimeouts,
        empty_block_interval: Duration,
        status: Arc<SharedStatus>,
    ) -> Self {
        let notify = app.mempool_notify();
        let (signer, sign_from) = match role {
            Role::Validator(signer) => (Some(signer), None),
            Role::Follower { sign_from } => (None, Some(sign_from)),
        };
        Driver {
            app,
            ctx,
            signer,
            me,
            sign_from,
            timeouts,
            empty_block_interval,
            notify,
            status,
            current: Height(1),
            validator_sets: None,
            streams: PartStreams::new(),
            pending: Vec::new(),
            known: BTreeMap::new(),
            accepted: HashSet::new(),
            built: HashMap::new(),
            signed: HashMap::new(),
            restart: None,
            stream_nonce: 0,
        }
    }

    /// Run an application method off the async worker (it may block on disk).
    fn call<R>(&mut self, f: impl FnOnce(&mut A) -> R) -> R {
        tokio::task::block_in_place(|| f(&mut self.app))
    }

    fn committed_height(&mut self) -> Height {
        self.call(|a| a.committed_height()).into()
    }

    /// Have the ledger check and execute a block (once per block hash).
    fn accept(&mut self, block: Block, hash: Hash, origin: &str) -> anyhow::Result<Validity> {
        if self.accepted.contains(&hash) {
            return Ok(Validity::Valid);
        }
        let height = block.header.height;
        match self.call(|a| a.accept_proposal(block)) {
            Ok(()) => {
                self.accepted.insert(hash);
                Ok(Validity::Valid)
            }
            Err(AppError::InvalidBlock(e)) => {
                warn!(%height, block = %hash, error = %e, "invalid {origin} block");
                Ok(Validity::Invalid)
            }
            Err(AppError::Internal(e)) => Err(halt(&format!("accept_proposal ({origin})"), e)),
        }
    }

    fn validator_set(&mut self, height: Height) -> anyhow::Result<ValidatorSet> {
        if let Some((h, set)) = &self.validator_sets {
            if *h == height {
                return Ok(set.clone());
            }
        }
        let infos = self.call(|a| a.validator_set(height.into()));
        let set = ValidatorSet::new(&infos)
            .map_err(|e| halt(&format!("validator set of height {height}"), e))?;
        self.validator_sets = Some((height, set.clone()));
        Ok(set)
    }

    fn height_params(&mut self, height: Height) -> anyhow::Result<HeightParams<Ctx>> {
        Ok(HeightParams::new(
            self.validator_set(height)?,
            self.timeouts,
            None,
        ))
    }

    /// Move to `height`: forget everything about lower heights.
    fn enter_height(&mut self, height: Height) {
        if height == self.current {
            return;
        }
        self.current = height;
        self.known.clear();
        self.accepted.clear();
        self.built.clear();
        self.signed.clear();
        self.streams.set_min_height(height);
        self.pending.retain(|p| p.init.height >= height);
        self.status.height.store(height.0, Ordering::Relaxed);
        self.status.round.store(-1, Ordering::Relaxed);
    }

    fn shutting_down(&self) -> bool {
        self.status.shutting_down.load(Ordering::SeqCst)
    }

    /// Drive the engine until it stops. Gives the application back with the exit, so
    /// a follower past its signing mark can be restarted as a validator.
    pub(crate) async fn run(
        mut self,
        mut channels: Channels<Ctx>,
    ) -> (A, anyhow::Result<DriverExit>) {
        let mut stop = self.status.stop_driver.subscribe();
        loop {
            // Between messages only: a message in hand (a commit) is always finished.
            let msg = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s >= super::STOP_DRIVER) => {
                    return (self.app, Ok(DriverExit::Shutdown));
                }
                msg = channels.consensus.recv() => msg,
            };
            let Some(msg) = msg else { break };
            if let Err(e) = self.handle(msg, &channels.network).await {
                if self.shutting_down() && e.downcast_ref::<EngineGone>().is_some() {
                    break;
                }
                return (self.app, Err(e));
            }
            if let Some(mark) = self.sign_from {
                let committed = self.committed_height();
                if committed >= mark && !self.shutting_down() {
                    info!(%committed, "the store is past this validator's signing mark: restarting consensus as a validator");
                    return (self.app, Ok(DriverExit::PastSigningMark(committed)));
                }
            }
        }
        if self.shutting_down() {
            return (self.app, Ok(DriverExit::Shutdown));
        }
        (self.app, Err(anyhow!("the consensus engine stopped")))
    }

    async fn handle(
        &mut self,
        msg: AppMsg<Ctx>,
        network: &mpsc::Sender<NetworkMsg<Ctx>>,
    ) -> anyhow::Result<()> {
        match msg {
            AppMsg::ConsensusReady { reply } => self.consensus_ready(reply)?,
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                debug!(%height, %round, %proposer, ?role, "started round");
                self.started_round(height, round, reply_value).await?;
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                self.get_value(height, round, timeout, reply, network)
                    .await?;
            }
            AppMsg::ExtendVote { reply, .. } => send(reply.send(None), "ExtendVote"),
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => refuse_vote_extensions(extensions, reply),
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                self.restream(height, round, valid_round, address, value_id, network)
                    .await?;
            }
            AppMsg::GetHistoryMinHeight { reply } => self.answer_history_min_height(reply),
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let value = self
                    .received_part(published_by.unwrap_or(from), part)
                    .await?;
                send(reply.send(value), "ReceivedProposalPart");
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => send(reply.send(self.decided(&certificate)?), "Decided"),
            AppMsg::Finalized {
                certificate, reply, ..
            } => send(reply.send(self.finalized(certificate.height)?), "Finalized"),
            AppMsg::GetDecidedValues { range, reply } => self.answer_decided_values(range, reply),
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = self.synced_value(height, round, proposer, &value_bytes)?;
                send(reply.send(outcome), "ProcessSyncedValue");
            }
        }
        Ok(())
    }

    /// `ConsensusReady`: start at the height after the committed one.
    fn consensus_ready(
        &mut self,
        reply: tokio::sync::oneshot::Sender<(Height, HeightParams<Ctx>)>,
    ) -> anyhow::Result<()> {
        let start = self.committed_height().0.saturating_add(1);
        let start = Height(start);
        self.current = Height(0);
        self.enter_height(start);
        let params = self.height_params(start)?;
        info!(height = %start, validators = params.validator_set.validators().len(), "consensus ready");
        send(reply.send((start, params)), "ConsensusReady");
        Ok(())
    }

    /// `StartedRound`: enter the height, process parts that waited for it, and answer
    /// with the values already known for the round.
    async fn started_round(
        &mut self,
        height: Height,
        round: Round,
        reply_value: tokio::sync::oneshot::Sender<Vec<ProposedValue<Ctx>>>,
    ) -> anyhow::Result<()> {
        self.enter_height(height);
        self.status.round.store(round.as_i64(), Ordering::Relaxed);
        self.process_pending().await?;
        let values = round
            .as_u32()
            .and_then(|r| self.known.get(&r))
            .cloned()
            .unwrap_or_default();
        send(reply_value.send(values), "StartedRound");
        Ok(())
    }

    /// `Finalized` at `height`: restart the height if its block never arrived, else
    /// go on after the committed height (which must have reached `height`).
    fn finalized(&mut self, height: Height) -> anyhow::Result<Next<Ctx>> {
        if self.restart == Some(height) {
            self.restart = None;
            warn!(%height, "restarting the height: the decided block was never received");
            return Ok(Next::Restart(height, self.height_params(height)?));
        }
        let committed = self.committed_height();
        if committed < height {
            return Err(halt(
                "finalize",
                format!("height {height} finalized but the ledger is at {committed}"),
            ));
        }
        let next = Height(committed.0 + 1);
        self.enter_height(next);
        Ok(Next::Start(next, self.height_params(next)?))
    }

    /// `GetHistoryMinHeight`: the lowest height whose block is still stored.
    fn answer_history_min_height(&mut self, reply: tokio::sync::oneshot::Sender<Height>) {
        let h: Height = self.call(|a| a.history_min_height()).into();
        send(reply.send(h), "GetHistoryMinHeight");
    }

    /// `GetDecidedValues`: the committed blocks in `range`, at most `SYNC_BLOCKS_MAX`,
    /// stopping at the first one not stored.
    fn answer_decided_values(
        &mut self,
        range: std::ops::RangeInclusive<Height>,
        reply: tokio::sync::oneshot::Sender<Vec<RawDecidedValue<Ctx>>>,
    ) {
        let (start, end) = (range.start().0, range.end().0);
        let end = end.min(start.saturating_add(SYNC_BLOCKS_MAX as u64 - 1));
        let mut values = Vec::new();
        for h in start..=end {
            let Some((bytes, cert)) = self.call(|a| a.committed_block(waybill_types::Height(h)))
            else {
                break;
            };
            values.push(RawDecidedValue::new(
                Bytes::from(bytes),
                to_malachite_certificate(&cert),
            ));
        }
        debug!(start, end, served = values.len(), "serving decided values");
        send(reply.send(values), "GetDecidedValues");
    }

    /// The block to propose at `height` and `round`: the one already built or kept
    /// for this round, else a new one from the mempool (after waiting a while for
    /// transactions); `None` if none can be built this round.
    async fn block_to_propose(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> anyhow::Result<Option<Block>> {
        // Propose the same block again if we already built one for this round — in
        // this run, or before a restart (the signing guard kept the block whose stream
        // it signed, and would sign no other at this round).
        let previous = round.as_u32().and_then(|r| self.built.get(&r).copied());
        let kept = self.kept_proposal(height, round);
        let block = match previous.and_then(|h| self.call(|a| a.proposal(&h))) {
            Some(block) => block,
            None if kept.is_some() => kept.expect("checked just above"),
            None => {
                // Wait for transactions, so an idle chain does not spin out empty
                // blocks, but leave the engine time to propose before its timeout.
                let margin = (timeout / 4).max(Duration::from_millis(200));
                let wait = self
                    .empty_block_interval
                    .min(timeout.saturating_sub(margin));
                self.wait_for_transactions(wait).await;
                let me = self.me.0;
                match self.call(|a| a.build_block(height.into(), me)) {
                    Ok(block) => block,
                    Err(AppError::Internal(e)) => return Err(halt("build_block", e)),
                    Err(AppError::InvalidBlock(e)) => {
                        error!(%height, %round, error = %e, "could not build a block; not proposing this round");
                        return Ok(None);
                    }
                }
            }
        };
        Ok(Some(block))
    }

    async fn get_value(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
        reply: tokio::sync::oneshot::Sender<LocallyProposedValue<Ctx>>,
        network: &mpsc::Sender<NetworkMsg<Ctx>>,
    ) -> anyhow::Result<()> {
        self.enter_height(height);
        let Some(r) = round.as_u32() else {
            warn!(%height, "GetValue for a nil round");
            return Ok(());
        };

        let Some(block) = self.block_to_propose(height, round, timeout).await? else {
            return Ok(());
        };
        let hash = block.hash();
        // Sign the stream first: if the guard refuses (this round already carries
        // another block of ours, signed before a crash), do not propose at all; the
        // round times out and the next one is fresh.
        let init = ProposalInit {
            height,
            round,
            proposer: self.me,
            pol_round: Round::Nil,
        };
        let Some(signer) = self.signer.clone() else {
            warn!(%height, %round, "asked to propose while following without signing");
            return Ok(());
        };
        let block_bytes = block.encode();
        if let Err(e) = signer
            .guard()
            .keep_proposal(height.0, round.as_i64(), &block_bytes)
        {
            return Err(halt("keeping the proposal beside the signing mark", e));
        }
        let parts = match SignedParts::sign_with(
            self.ctx.chain_id(),
            init,
            Bytes::from(block_bytes),
            |msg| signer.sign_parts_bytes(height, round, msg),
        ) {
            Ok(parts) => parts,
            Err(e) => {
                warn!(%height, %round, error = %e, "not proposing this round");
                return Ok(());
            }
        };
        debug!(%height, %round, block = %hash, txs = block.txs.len(), "proposing");
        send(
            reply.send(LocallyProposedValue::new(
                height,
                round,
                BlockValue::new(hash),
            )),
            "GetValue",
        );
        self.built.insert(r, hash);
        self.accepted.insert(hash);
        self.signed
            .insert(hash, (parts.init.clone(), parts.signature));
        self.remember(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer: self.me,
            value: BlockValue::new(hash),
            validity: Validity::Valid,
        });
        self.publish(&parts, network).await
    }

    /// The block this validator signed a proposal stream for at `height`/`round`
    /// before a restart, if it is still a valid proposal (it is handed to the ledger
    /// as a proposal received, so the commit finds it).
    fn kept_proposal(&mut self, height: Height, round: Round) -> Option<Block> {
        let signer = self.signer.clone()?;
        let bytes = signer.guard().kept_proposal(height.0, round.as_i64())?;
        let block = match Block::decode(&bytes) {
            Ok(b) if b.header.height == height.into() => b,
            Ok(_) | Err(_) => {
                warn!(%height, %round, "the kept proposal does not decode as a block of this height");
                return None;
            }
        };
        let copy = block.clone();
        match self.call(|a| a.accept_proposal(copy)) {
            Ok(()) => {
                info!(%height, %round, block = %block.hash(), "proposing again the block signed before the restart");
                Some(block)
            }
            Err(e) => {
                warn!(%height, %round, error = %e, "the block signed before the restart is no longer valid");
                None
            }
        }
    }

    async fn wait_for_transactions(&mut self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        let notify = self.notify.clone();
        let mut stop = self.status.stop_driver.subscribe();
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.call(|a| a.mempool_len()) > 0 {
                return;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => return,
                _ = stop.wait_for(|s| *s >= super::STOP_WAITING) => return,
            }
        }
    }

    async fn publish(
        &mut self,
        parts: &SignedParts,
        network: &mpsc::Sender<NetworkMsg<Ctx>>,
    ) -> anyhow::Result<()> {
        // Once shutdown began the network actor may already be gone, and a part sent
        // to it then makes the engine log an error; nobody would receive it anyway.
        if *self.status.stop_driver.borrow() >= super::STOP_WAITING {
            return Ok(());
        }
        self.stream_nonce += 1;
        let round = parts.init.round.as_u32().unwrap_or(0);
        let id = stream_id(parts.init.height, round, self.stream_nonce);
        for msg in parts.to_messages(id) {
            if network
                .send(NetworkMsg::PublishProposalPart(msg))
                .await
                .is_err()
            {
                return Err(EngineGone.into());
            }
        }
        Ok(())
    }

    async fn restream(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        address: Address,
        value_id: Hash,
        network: &mpsc::Sender<NetworkMsg<Ctx>>,
    ) -> anyhow::Result<()> {
        if height != self.current {
            debug!(%height, "not re-streaming a proposal of another height");
            return Ok(());
        }
        let Some(block) = self.call(|a| a.proposal(&value_id)) else {
            debug!(%height, %round, block = %value_id, "cannot re-stream: block unknown");
            return Ok(());
        };
        let bytes = Bytes::from(block.encode());
        let parts = if address == self.me {
            // Our proposal for this round: sign fresh parts for it.
            let init = ProposalInit {
                height,
                round,
                proposer: self.me,
                pol_round: valid_round,
            };
            let Some(signer) = self.signer.clone() else {
                return Ok(());
            };
            match SignedParts::sign_with(self.ctx.chain_id(), init, bytes, |msg| {
                signer.sign_parts_bytes(height, round, msg)
            }) {
                Ok(parts) => parts,
                Err(e) => {
                    error!(%height, %round, error = %e, "not re-streaming");
                    return Ok(());
                }
            }
        } else if let Some((init, signature)) = self.signed.get(&value_id).cloned() {
            // Someone else's: replay the parts as their proposer signed them.
            SignedParts::with_signature(init, bytes, signature)
        } else {
            debug!(%height, %round, block = %value_id, "cannot re-stream: no signed parts");
            return Ok(());
        };
        debug!(%height, %round, %valid_round, block = %value_id, "re-streaming proposal");
        self.publish(&parts, network).await
    }

    async fn received_part(
        &mut self,
        publisher: PeerId,
        part: StreamMessage<ProposalPart>,
    ) -> anyhow::Result<Option<ProposedValue<Ctx>>> {
        let parts = match self.streams.insert(publisher, part) {
            Ok(Some(parts)) => parts,
            Ok(None) => return Ok(None),
            Err(e) => {
                warn!(%publisher, error = %e, "dropping proposal stream");
                return Ok(None);
            }
        };
        let height = parts.init.height;
        if height < self.current {
            debug!(%height, "dropping proposal for a past height");
            return Ok(None);
        }
        if height > self.current {
            if height.0 > self.current.0 + PENDING_HEIGHTS_AHEAD {
                debug!(%height, current = %self.current, "dropping proposal too far ahead");
                return Ok(None);
            }
            if self.pending.len() >= PENDING_MAX {
                self.pending.remove(0);
            }
            debug!(%height, round = %parts.init.round, "keeping proposal for a future height");
            self.pending.push(parts);
            return Ok(None);
        }
        self.check_proposal(parts)
    }

    async fn process_pending(&mut self) -> anyhow::Result<()> {
        let current = self.current;
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.init.height == current);
        self.pending = later;
        for parts in ready {
            self.check_proposal(parts)?;
        }
        Ok(())
    }

    /// Verify a complete stream of the current height and have the application check
    /// the block. `None` when the stream is not a proposal at all (wrong proposer,
    /// bad signature, undecodable): nobody can be blamed for a vote on it.
    fn check_proposal(&mut self, parts: SignedParts) -> anyhow::Result<Option<ProposedValue<Ctx>>> {
        let init = parts.init.clone();
        let (height, round) = (init.height, init.round);
        let set = self.validator_set(height)?;
        let expected = self.ctx.select_proposer(&set, height, round);
        if expected.address != init.proposer {
            warn!(%height, %round, proposer = %init.proposer, expected = %expected.address, "proposal from the wrong proposer");
            return Ok(None);
        }
        if !parts.verify(self.ctx.chain_id(), &expected.public_key) {
            warn!(%height, %round, proposer = %init.proposer, "proposal with a bad signature");
            return Ok(None);
        }
        let block = match Block::decode(&parts.block_bytes()) {
            Ok(b) => b,
            Err(e) => {
                warn!(%height, %round, proposer = %init.proposer, error = %e, "undecodable proposed block");
                return Ok(None);
            }
        };
        let hash = block.hash();
        let validity = if block.header.height != height.into()
            || block.header.proposer != init.proposer.0
        {
            warn!(%height, %round, block = %hash, "proposed block's header disagrees with its proposal");
            Validity::Invalid
        } else {
            self.accept(block, hash, "proposed")?
        };
        debug!(%height, %round, block = %hash, ?validity, "received proposal");
        self.signed
            .entry(hash)
            .or_insert((init.clone(), parts.signature));
        let value = ProposedValue {
            height,
            round,
            valid_round: init.pol_round,
            proposer: init.proposer,
            value: BlockValue::new(hash),
            validity,
        };
        self.remember(value.clone());
        Ok(Some(value))
    }

    fn remember(&mut self, value: ProposedValue<Ctx>) {
        let Some(r) = value.round.as_u32() else {
            return;
        };
        let entry = self.known.entry(r).or_default();
        if entry.len() < KNOWN_PER_ROUND_MAX && !entry.contains(&value) {
            entry.push(value);
        }
    }

    fn decided(&mut self, certificate: &CommitCertificate<Ctx>) -> anyhow::Result<()> {
        let height = certificate.height;
        let hash = certificate.value_id;
        let committed = self.committed_height();
        if committed >= height {
            debug!(%height, "decision for an already committed height");
            return Ok(());
        }
        if committed.0 + 1 != height.0 {
            return Err(halt(
                "decide",
                format!("decision for height {height} but the ledger is at {committed}"),
            ));
        }
        let cert = to_waybill_certificate(certificate).map_err(|e| halt("decide", e))?;
        if !self.call(|a| a.has_proposal(&hash)) {
            warn!(%height, block = %hash, "decided a block this node does not have");
            self.restart = Some(height);
            return Ok(());
        }
        let n_signatures = cert.signatures.len();
        // If this node proposes the next height's first round (by this height's set;
        // a hint — a changed set only wastes the work), the ledger builds that block
        // while it writes this one.
        let next = Height(height.0 + 1);
        let me = self.me;
        if self
            .validator_set(height)?
            .proposer(next, Round::new(0))
            .address
            == me
        {
            self.call(|a| a.will_propose(next.into(), me.0));
        }
        match self.call(|a| a.commit(hash, cert)) {
            Ok(()) => {
                debug!(%height, round = %certificate.round, block = %hash, signatures = n_signatures, "committed");
                Ok(())
            }
            Err(e) => Err(halt(
                &format!("commit of block {hash} at height {height}"),
                e,
            )),
        }
    }

    fn synced_value(
        &mut self,
        height: Height,
        round: Round,
        proposer: Address,
        bytes: &[u8],
    ) -> anyhow::Result<SyncedValueOutcome<Ctx>> {
        let block = match Block::decode(bytes) {
            Ok(b) => b,
            Err(e) => {
                warn!(%height, error = %e, "undecodable synced block");
                return Ok(SyncedValueOutcome::PeerFault);
            }
        };
        let hash = block.hash();
        let validity = if block.header.height != height.into() {
            warn!(%height, block = %hash, "synced block has the wrong height");
            Validity::Invalid
        } else {
            // If the hash matches the certificate, the engine reports a certified
            // block we consider invalid (a divergence); if not, it blames the peer.
            self.accept(block, hash, "synced")?
        };
        debug!(%height, %round, block = %hash, ?validity, "processed synced block");
        Ok(SyncedValueOutcome::Verdict(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: BlockValue::new(hash),
            validity,
        }))
    }
}

/// `VerifyVoteExtensions`: extensions are disabled, so none is acceptable.
fn refuse_vote_extensions(
    extensions: Vec<(Address, ())>,
    reply: tokio::sync::oneshot::Sender<VoteExtensionVerdicts<Ctx>>,
) {
    let verdicts = extensions
        .into_iter()
        .map(|(addr, _)| (addr, Err(VoteExtensionError::InvalidVoteExtension)))
        .collect();
    send(reply.send(verdicts), "VerifyVoteExtensions");
}

fn send<T>(result: Result<(), T>, what: &str) {
    if result.is_err() {
        debug!("consensus dropped the reply to {what}");
    }
}
