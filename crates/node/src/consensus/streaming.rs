//! Proposal streaming: a block's canonical bytes cut into chunks between an `Init`
//! and a signed `Fin`, and the bounded reassembly of streams received from peers.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use sha2::{Digest, Sha256};
use waybill_types::keys::domain;
use waybill_types::limits::BLOCK_BYTES_MAX;
use waybill_types::{Hash, PublicKey, SecretKey, Signature};

use super::context::{Height, ProposalInit, ProposalPart};
use super::signing::parts_bytes;

/// Largest data chunk of a proposal stream, in bytes.
pub const CHUNK_BYTES_MAX: usize = 64 * 1024;
/// Most parts in one stream: `Init`, the data chunks of the largest block, `Fin`.
const PARTS_MAX: u64 = (BLOCK_BYTES_MAX / CHUNK_BYTES_MAX) as u64 + 1 + 2;
/// Most streams being reassembled at once.
const STREAMS_MAX: usize = 32;
/// Most streams being reassembled at once from one publisher.
const STREAMS_PER_PUBLISHER_MAX: usize = 4;
/// Most chunk bytes held across all streams being reassembled.
const BUFFERED_BYTES_MAX: usize = 4 * BLOCK_BYTES_MAX;

/// Hash over the data chunks, in order, each prefixed with its length (u32 LE).
pub fn data_hash(chunks: &[Bytes]) -> Hash {
    let mut h = Sha256::new();
    for c in chunks {
        h.update((c.len() as u32).to_le_bytes());
        h.update(c);
    }
    Hash(h.finalize().into())
}

/// A complete, signed proposal stream (not yet verified when received).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedParts {
    /// The stream header.
    pub init: ProposalInit,
    /// The block bytes, in chunks.
    pub chunks: Vec<Bytes>,
    /// The proposer's signature.
    pub signature: Signature,
}

impl SignedParts {
    /// Cut `block_bytes` into chunks and sign them as the proposer named in `init`.
    pub fn sign(chain_id: &str, key: &SecretKey, init: ProposalInit, block_bytes: Bytes) -> Self {
        let chunks = split(block_bytes);
        let signature = key.sign(
            domain::PROPOSAL_PART,
            &Self::sign_bytes(chain_id, &init, &chunks),
        );
        SignedParts {
            init,
            chunks,
            signature,
        }
    }

    /// As [`SignedParts::sign`], with the `Fin` signature made by `sign` over the
    /// bytes [`parts_bytes`] gives (the validator's guarded signer); its refusal is
    /// passed on.
    pub fn sign_with<E>(
        chain_id: &str,
        init: ProposalInit,
        block_bytes: Bytes,
        sign: impl FnOnce(&[u8]) -> Result<Signature, E>,
    ) -> Result<Self, E> {
        let chunks = split(block_bytes);
        let signature = sign(&Self::sign_bytes(chain_id, &init, &chunks))?;
        Ok(SignedParts {
            init,
            chunks,
            signature,
        })
    }

    /// Rebuild the parts of a stream whose signature we already hold (re-streaming a
    /// proposal: chunking is deterministic, so the signature still covers them).
    pub fn with_signature(init: ProposalInit, block_bytes: Bytes, signature: Signature) -> Self {
        SignedParts {
            init,
            chunks: split(block_bytes),
            signature,
        }
    }

    fn sign_bytes(chain_id: &str, init: &ProposalInit, chunks: &[Bytes]) -> Vec<u8> {
        parts_bytes(
            chain_id,
            init.height,
            init.round,
            init.proposer.0,
            init.pol_round,
            data_hash(chunks),
        )
    }

    /// Whether `proposer_key` signed these parts.
    pub fn verify(&self, chain_id: &str, proposer_key: &PublicKey) -> bool {
        let msg = Self::sign_bytes(chain_id, &self.init, &self.chunks);
        proposer_key
            .verify(domain::PROPOSAL_PART, &msg, &self.signature)
            .is_ok()
    }

    /// The block bytes.
    pub fn block_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.chunks.iter().map(Bytes::len).sum());
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        out
    }

    /// The stream messages that publish these parts.
    pub fn to_messages(&self, stream_id: StreamId) -> Vec<StreamMessage<ProposalPart>> {
        let parts = std::iter::once(ProposalPart::Init(self.init.clone()))
            .chain(self.chunks.iter().cloned().map(ProposalPart::Data))
            .chain(std::iter::once(ProposalPart::Fin(self.signature)));
        let mut msgs: Vec<StreamMessage<ProposalPart>> = parts
            .enumerate()
            .map(|(i, p)| StreamMessage::new(stream_id.clone(), i as u64, StreamContent::Data(p)))
            .collect();
        msgs.push(StreamMessage::new(
            stream_id,
            msgs.len() as u64,
            StreamContent::Fin,
        ));
        msgs
    }
}

fn split(bytes: Bytes) -> Vec<Bytes> {
    let mut chunks = Vec::with_capacity(bytes.len().div_ceil(CHUNK_BYTES_MAX));
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rest.len().min(CHUNK_BYTES_MAX);
        chunks.push(rest.split_to(n));
    }
    chunks
}

/// A stream id for a proposal we publish: height, round and a per-node counter, so
/// that re-streams never collide with an earlier stream of ours.
pub fn stream_id(height: Height, round: u32, nonce: u64) -> StreamId {
    let mut b = Vec::with_capacity(20);
    b.extend_from_slice(&height.0.to_be_bytes());
    b.extend_from_slice(&round.to_be_bytes());
    b.extend_from_slice(&nonce.to_be_bytes());
    StreamId::new(Bytes::from(b))
}

/// Why a stream was dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    /// Sequence past the longest possible stream.
    #[error("sequence {0} is past the longest possible proposal stream")]
    TooLong(u64),
    /// The parts do not form `Init, Data.., Fin`.
    #[error("malformed proposal stream: {0}")]
    Malformed(&'static str),
    /// More data than the largest block.
    #[error("proposal stream carries more than {BLOCK_BYTES_MAX} bytes")]
    TooLarge,
}

#[derive(Debug)]
struct Partial {
    /// Creation order, for eviction.
    order: u64,
    height: Option<Height>,
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
    bytes: usize,
}

/// Reassembles proposal streams from peers, within fixed memory bounds: streams of
/// stale heights are dropped, and the oldest streams are evicted when too many are
/// open (overall or from one publisher) or hold too many bytes.
#[derive(Debug, Default)]
pub struct PartStreams {
    streams: HashMap<(PeerId, StreamId), Partial>,
    next_order: u64,
    buffered: usize,
    min_height: Height,
}

impl PartStreams {
    /// No streams.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget streams for heights below `height`, and ignore them from now on.
    pub fn set_min_height(&mut self, height: Height) {
        self.min_height = height;
        let stale: Vec<_> = self
            .streams
            .iter()
            .filter(|(_, s)| s.height.is_some_and(|h| h < height))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.remove(&k);
        }
    }

    /// Number of streams being reassembled.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream is being reassembled.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    fn remove(&mut self, key: &(PeerId, StreamId)) -> Option<Partial> {
        let s = self.streams.remove(key)?;
        self.buffered -= s.bytes;
        Some(s)
    }

    fn evict_oldest(&mut self, publisher: Option<PeerId>, keep: &(PeerId, StreamId)) {
        let oldest = self
            .streams
            .iter()
            .filter(|(k, _)| *k != keep && publisher.is_none_or(|p| k.0 == p))
            .min_by_key(|(_, s)| s.order)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.remove(&k);
        }
    }

    /// Add a message from `publisher`'s stream. Returns the complete stream once its
    /// last message is in.
    pub fn insert(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Result<Option<SignedParts>, StreamError> {
        let key = (publisher, msg.stream_id.clone());
        let result = self.insert_inner(&key, msg);
        if result.is_err() {
            self.remove(&key);
        }
        result
    }

    /// Start buffering the new stream `key`, first evicting the oldest of its
    /// publisher's streams, and then the oldest of all, when either is at its limit.
    fn open_stream(&mut self, key: &(PeerId, StreamId)) {
        let from_publisher = self.streams.keys().filter(|k| k.0 == key.0).count();
        if from_publisher >= STREAMS_PER_PUBLISHER_MAX {
            self.evict_oldest(Some(key.0), key);
        }
        if self.streams.len() >= STREAMS_MAX {
            self.evict_oldest(None, key);
        }
        let order = self.next_order;
        self.next_order += 1;
        self.streams.insert(
            key.clone(),
            Partial {
                order,
                height: None,
                parts: BTreeMap::new(),
                end: None,
                bytes: 0,
            },
        );
    }

    fn insert_inner(
        &mut self,
        key: &(PeerId, StreamId),
        msg: StreamMessage<ProposalPart>,
    ) -> Result<Option<SignedParts>, StreamError> {
        let seq = msg.sequence;
        if seq > PARTS_MAX {
            return Err(StreamError::TooLong(seq));
        }
        if let StreamContent::Data(ProposalPart::Init(init)) = &msg.content {
            if init.height < self.min_height {
                return Ok(None);
            }
        }
        if !self.streams.contains_key(key) {
            self.open_stream(key);
        }
        let Some(stream) = self.streams.get_mut(key) else {
            return Ok(None);
        };

        let mut added = 0;
        match msg.content {
            StreamContent::Fin => {
                if stream.end.is_some_and(|e| e != seq) {
                    return Err(StreamError::Malformed("two ends"));
                }
                if stream
                    .parts
                    .keys()
                    .next_back()
                    .is_some_and(|last| *last >= seq)
                {
                    return Err(StreamError::Malformed("part after the end"));
                }
                stream.end = Some(seq);
            }
            StreamContent::Data(part) => {
                if stream.end.is_some_and(|e| seq >= e) {
                    return Err(StreamError::Malformed("part after the end"));
                }
                if stream.parts.contains_key(&seq) {
                    return Ok(None); // duplicate delivery
                }
                match &part {
                    ProposalPart::Init(init) if seq == 0 => stream.height = Some(init.height),
                    ProposalPart::Init(_) => return Err(StreamError::Malformed("init not first")),
                    _ if seq == 0 => return Err(StreamError::Malformed("first part is not init")),
                    ProposalPart::Data(d) => {
                        if stream.bytes + d.len() > BLOCK_BYTES_MAX {
                            return Err(StreamError::TooLarge);
                        }
                        added = d.len();
                    }
                    ProposalPart::Fin(_) => {}
                }
                stream.bytes += added;
                stream.parts.insert(seq, part);
            }
        }
        self.buffered += added;

        let complete = stream.end.is_some_and(|e| stream.parts.len() as u64 == e);
        if complete {
            let stream = self.remove(key).map(|s| s.parts).unwrap_or_default();
            return assemble(stream).map(Some);
        }
        while self.buffered > BUFFERED_BYTES_MAX && self.streams.len() > 1 {
            self.evict_oldest(None, key);
        }
        Ok(None)
    }
}

fn assemble(parts: BTreeMap<u64, ProposalPart>) -> Result<SignedParts, StreamError> {
    let mut it = parts.into_values();
    let Some(ProposalPart::Init(init)) = it.next() else {
        return Err(StreamError::Malformed("first part is not init"));
    };
    let mut chunks = Vec::new();
    let mut signature = None;
    for p in it {
        match p {
            ProposalPart::Data(d) if signature.is_none() => chunks.push(d),
            ProposalPart::Fin(s) if signature.is_none() => signature = Some(s),
            _ => return Err(StreamError::Malformed("parts after fin, or a second init")),
        }
    }
    let signature = signature.ok_or(StreamError::Malformed("no fin part"))?;
    Ok(SignedParts {
        init,
        chunks,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_peer(i: u8) -> PeerId {
        let kp = malachitebft_app_channel::app::types::Keypair::ed25519_from_bytes([i; 32])
            .expect("key");
        PeerId::from_bytes(&kp.public().to_peer_id().to_bytes()).expect("peer id")
    }
    use crate::consensus::context::Address;
    use malachitebft_app_channel::app::types::core::Round;

    fn signed(height: u64, len: usize) -> (SecretKey, SignedParts) {
        let key = SecretKey::from_label("proposer");
        let init = ProposalInit {
            height: Height(height),
            round: Round::new(0),
            proposer: Address(key.public()),
            pol_round: Round::Nil,
        };
        let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let parts = SignedParts::sign("chain", &key, init, Bytes::from(bytes));
        (key, parts)
    }

    #[test]
    fn reassembles_out_of_order_and_verifies() {
        let (key, parts) = signed(5, 3 * CHUNK_BYTES_MAX + 10);
        assert_eq!(parts.chunks.len(), 4);
        let mut msgs = parts.to_messages(stream_id(Height(5), 0, 1));
        msgs.reverse();
        let peer = test_peer(1);
        let mut streams = PartStreams::new();
        let mut done = None;
        for m in msgs {
            if let Some(p) = streams.insert(peer, m).expect("valid stream") {
                done = Some(p);
            }
        }
        let done = done.expect("complete");
        assert_eq!(done, parts);
        assert!(done.verify("chain", &key.public()));
        assert!(!done.verify("other", &key.public()));
        assert!(streams.is_empty());
        assert_eq!(streams.buffered, 0);
    }

    #[test]
    fn tampered_chunk_fails_verification() {
        let (key, mut parts) = signed(1, 1000);
        parts.chunks[0] = Bytes::from_static(b"evil");
        assert!(!parts.verify("chain", &key.public()));
    }

    #[test]
    fn stale_and_malformed_streams_are_dropped() {
        let (_, parts) = signed(2, 100);
        let mut streams = PartStreams::new();
        streams.set_min_height(Height(3));
        for m in parts.to_messages(stream_id(Height(2), 0, 0)) {
            let _ = streams.insert(test_peer(2), m);
        }
        assert!(streams.streams.values().all(|s| s.height.is_none()));

        let mut streams = PartStreams::new();
        let bad = StreamMessage::new(
            stream_id(Height(2), 0, 0),
            0,
            StreamContent::Data(ProposalPart::Data(Bytes::from_static(b"x"))),
        );
        assert!(streams.insert(test_peer(3), bad).is_err());
        assert!(streams.is_empty());
        let far = StreamMessage::new(
            stream_id(Height(2), 0, 0),
            PARTS_MAX + 1,
            StreamContent::Fin,
        );
        assert!(streams.insert(test_peer(4), far).is_err());
    }

    #[test]
    fn one_publisher_cannot_hold_many_streams() {
        let peer = test_peer(5);
        let mut streams = PartStreams::new();
        for nonce in 0..20 {
            let m = StreamMessage::new(
                stream_id(Height(1), 0, nonce),
                1,
                StreamContent::Data(ProposalPart::Data(Bytes::from_static(b"x"))),
            );
            streams.insert(peer, m).expect("ok");
        }
        assert_eq!(streams.len(), STREAMS_PER_PUBLISHER_MAX);
        assert_eq!(streams.buffered, STREAMS_PER_PUBLISHER_MAX);
    }
}
