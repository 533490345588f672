//! Wire and write-ahead-log encodings of consensus messages: borsh over mirror
//! structs of our own, decoded with a byte limit per message kind (and refusing
//! trailing bytes). One codec type serves the WAL, the consensus gossip and sync.

use std::ops::RangeInclusive;

use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;
use malachitebft_app_channel::app::consensus::LivenessMsg;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal,
    PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg};
use malachitebft_sync::{ValueRequest, ValueResponse};
use waybill_types::{limits, Hash, PublicKey, Signature};

use super::context::{
    Address, BlockValue, Height, Proposal, ProposalInit, ProposalPart, Vote, WaybillContext,
};
use super::streaming::CHUNK_BYTES_MAX;

type Ctx = WaybillContext;

/// Largest consensus gossip message (votes, proposals, certificates for up to
/// `VALIDATORS_MAX` validators), in bytes.
pub const CONSENSUS_MSG_BYTES_MAX: usize = 1024 * 1024;
/// Largest proposal part message, in bytes: one chunk and a little framing.
pub const PART_MSG_BYTES_MAX: usize = CHUNK_BYTES_MAX + 4096;
/// Largest sync response, in bytes: always room for one block of the largest size
/// with its certificate.
pub const SYNC_RESPONSE_BYTES_MAX: usize = 2 * limits::BLOCK_BYTES_MAX + 1024 * 1024;
/// Largest small control message (status, requests, validator proofs), in bytes.
const SMALL_MSG_BYTES_MAX: usize = 4096;
/// Longest stream id, in bytes.
const STREAM_ID_BYTES_MAX: usize = 64;

/// A message that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Too large or malformed.
    #[error(transparent)]
    Codec(#[from] waybill_types::codec::CodecError),
    /// Decoded, but a field is out of range.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
}

fn invalid(what: &'static str, reason: impl Into<String>) -> WireError {
    WireError::Invalid {
        what,
        reason: reason.into(),
    }
}

/// The codec for every consensus encoding (WAL, gossip, sync).
#[derive(Clone, Copy, Debug, Default)]
pub struct WaybillCodec;

// ----- mirror types -----

fn round_to_wire(r: Round) -> i64 {
    r.as_i64()
}

fn round_from_wire(r: i64, what: &'static str) -> Result<Round, WireError> {
    match r {
        -1 => Ok(Round::Nil),
        0..=0xFFFF_FFFF => Ok(Round::new(r as u32)),
        _ => Err(invalid(what, format!("round {r} out of range"))),
    }
}

fn defined_round(r: i64, what: &'static str) -> Result<Round, WireError> {
    match round_from_wire(r, what)? {
        Round::Nil => Err(invalid(what, "round must not be nil")),
        round => Ok(round),
    }
}

fn vote_type_to_wire(t: VoteType) -> u8 {
    match t {
        VoteType::Prevote => 0,
        VoteType::Precommit => 1,
    }
}

fn vote_type_from_wire(t: u8) -> Result<VoteType, WireError> {
    match t {
        0 => Ok(VoteType::Prevote),
        1 => Ok(VoteType::Precommit),
        _ => Err(invalid("vote", format!("unknown vote type {t}"))),
    }
}

fn nil_or_val_to_wire(v: &NilOrVal<Hash>) -> Option<Hash> {
    match v {
        NilOrVal::Nil => None,
        NilOrVal::Val(h) => Some(*h),
    }
}

fn nil_or_val_from_wire(v: Option<Hash>) -> NilOrVal<Hash> {
    v.map_or(NilOrVal::Nil, NilOrVal::Val)
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireVote {
    vote_type: u8,
    height: u64,
    round: i64,
    value: Option<Hash>,
    validator: PublicKey,
    /// Signature of the (empty) extension, if any.
    extension: Option<Signature>,
}

impl WireVote {
    fn from_vote(v: &Vote) -> Self {
        WireVote {
            vote_type: vote_type_to_wire(v.vote_type),
            height: v.height.0,
            round: round_to_wire(v.round),
            value: nil_or_val_to_wire(&v.value),
            validator: v.validator.0,
            extension: v.extension.as_ref().map(|e| e.signature),
        }
    }

    fn into_vote(self) -> Result<Vote, WireError> {
        Ok(Vote {
            vote_type: vote_type_from_wire(self.vote_type)?,
            height: Height(self.height),
            round: defined_round(self.round, "vote")?,
            value: nil_or_val_from_wire(self.value),
            validator: Address(self.validator),
            extension: self
                .extension
                .map(|signature| SignedMessage::new((), signature)),
        })
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireProposal {
    height: u64,
    round: i64,
    block_hash: Hash,
    pol_round: i64,
    proposer: PublicKey,
}

impl WireProposal {
    fn from_proposal(p: &Proposal) -> Self {
        WireProposal {
            height: p.height.0,
            round: round_to_wire(p.round),
            block_hash: p.value.block_hash,
            pol_round: round_to_wire(p.pol_round),
            proposer: p.proposer.0,
        }
    }

    fn into_proposal(self) -> Result<Proposal, WireError> {
        Ok(Proposal {
            height: Height(self.height),
            round: defined_round(self.round, "proposal")?,
            value: BlockValue::new(self.block_hash),
            pol_round: round_from_wire(self.pol_round, "proposal")?,
            proposer: Address(self.proposer),
        })
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireSignedMsg {
    Vote(WireVote, Signature),
    Proposal(WireProposal, Signature),
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WirePolkaCertificate {
    height: u64,
    round: i64,
    block_hash: Hash,
    signatures: Vec<(PublicKey, Signature)>,
}

impl WirePolkaCertificate {
    fn from_cert(c: &PolkaCertificate<Ctx>) -> Self {
        WirePolkaCertificate {
            height: c.height.0,
            round: round_to_wire(c.round),
            block_hash: c.value_id,
            signatures: c
                .polka_signatures
                .iter()
                .map(|s| (s.address.0, s.signature))
                .collect(),
        }
    }

    fn into_cert(self) -> Result<PolkaCertificate<Ctx>, WireError> {
        check_count(self.signatures.len(), "polka certificate")?;
        Ok(PolkaCertificate {
            height: Height(self.height),
            round: defined_round(self.round, "polka certificate")?,
            value_id: self.block_hash,
            polka_signatures: self
                .signatures
                .into_iter()
                .map(|(a, s)| PolkaSignature::new(Address(a), s))
                .collect(),
        })
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRoundSignature {
    vote_type: u8,
    value: Option<Hash>,
    validator: PublicKey,
    signature: Signature,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireRoundCertificate {
    height: u64,
    round: i64,
    /// 0 skip, 1 precommit.
    cert_type: u8,
    signatures: Vec<WireRoundSignature>,
}

impl WireRoundCertificate {
    fn from_cert(c: &RoundCertificate<Ctx>) -> Self {
        WireRoundCertificate {
            height: c.height.0,
            round: round_to_wire(c.round),
            cert_type: match c.cert_type {
                RoundCertificateType::Skip => 0,
                RoundCertificateType::Precommit => 1,
            },
            signatures: c
                .round_signatures
                .iter()
                .map(|s| WireRoundSignature {
                    vote_type: vote_type_to_wire(s.vote_type),
                    value: nil_or_val_to_wire(&s.value_id),
                    validator: s.address.0,
                    signature: s.signature,
                })
                .collect(),
        }
    }

    fn into_cert(self) -> Result<RoundCertificate<Ctx>, WireError> {
        check_count(self.signatures.len(), "round certificate")?;
        let cert_type = match self.cert_type {
            0 => RoundCertificateType::Skip,
            1 => RoundCertificateType::Precommit,
            t => return Err(invalid("round certificate", format!("unknown type {t}"))),
        };
        let round_signatures = self
            .signatures
            .into_iter()
            .map(|s| {
                Ok(RoundSignature::new(
                    vote_type_from_wire(s.vote_type)?,
                    nil_or_val_from_wire(s.value),
                    Address(s.validator),
                    s.signature,
                ))
            })
            .collect::<Result<Vec<_>, WireError>>()?;
        Ok(RoundCertificate {
            height: Height(self.height),
            round: defined_round(self.round, "round certificate")?,
            cert_type,
            round_signatures,
        })
    }
}

fn check_count(n: usize, what: &'static str) -> Result<(), WireError> {
    if n > limits::VALIDATORS_MAX {
        return Err(invalid(
            what,
            format!(
                "{n} signatures, more than {} validators",
                limits::VALIDATORS_MAX
            ),
        ));
    }
    Ok(())
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireLiveness {
    Vote(WireVote, Signature),
    Polka(WirePolkaCertificate),
    SkipRound(WireRoundCertificate),
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WirePart {
    Init {
        height: u64,
        round: i64,
        proposer: PublicKey,
        pol_round: i64,
    },
    Data(Vec<u8>),
    Fin(Signature),
}

impl WirePart {
    fn from_part(p: &ProposalPart) -> Self {
        match p {
            ProposalPart::Init(i) => WirePart::Init {
                height: i.height.0,
                round: round_to_wire(i.round),
                proposer: i.proposer.0,
                pol_round: round_to_wire(i.pol_round),
            },
            ProposalPart::Data(d) => WirePart::Data(d.to_vec()),
            ProposalPart::Fin(s) => WirePart::Fin(*s),
        }
    }

    fn into_part(self) -> Result<ProposalPart, WireError> {
        Ok(match self {
            WirePart::Init {
                height,
                round,
                proposer,
                pol_round,
            } => ProposalPart::Init(ProposalInit {
                height: Height(height),
                round: defined_round(round, "proposal part")?,
                proposer: Address(proposer),
                pol_round: round_from_wire(pol_round, "proposal part")?,
            }),
            WirePart::Data(d) => {
                if d.len() > CHUNK_BYTES_MAX {
                    return Err(invalid(
                        "proposal part",
                        format!("chunk of {} bytes", d.len()),
                    ));
                }
                ProposalPart::Data(Bytes::from(d))
            }
            WirePart::Fin(s) => ProposalPart::Fin(s),
        })
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireStreamMessage {
    stream_id: Vec<u8>,
    sequence: u64,
    /// `None` marks the end of the stream.
    content: Option<WirePart>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireValidatorProof {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Signature,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireStatus {
    peer_id: Vec<u8>,
    tip_height: u64,
    history_min_height: u64,
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireRequest {
    Values { start: u64, end: u64 },
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireCommitSignature {
    validator: PublicKey,
    signature: Signature,
    extension: Option<Signature>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireExtendedCertificate {
    height: u64,
    round: i64,
    block_hash: Hash,
    signatures: Vec<WireCommitSignature>,
}

impl WireExtendedCertificate {
    fn from_cert(c: &ExtendedCommitCertificate<Ctx>) -> Self {
        WireExtendedCertificate {
            height: c.height.0,
            round: round_to_wire(c.round),
            block_hash: c.value_id,
            signatures: c
                .commit_signatures
                .iter()
                .map(|s| WireCommitSignature {
                    validator: s.address.0,
                    signature: s.signature,
                    extension: s.extension.as_ref().map(|e| e.signature),
                })
                .collect(),
        }
    }

    fn into_cert(self) -> Result<ExtendedCommitCertificate<Ctx>, WireError> {
        check_count(self.signatures.len(), "commit certificate")?;
        Ok(ExtendedCommitCertificate {
            height: Height(self.height),
            round: defined_round(self.round, "commit certificate")?,
            value_id: self.block_hash,
            commit_signatures: self
                .signatures
                .into_iter()
                .map(|s| {
                    ExtendedCommitSignature::new(
                        Address(s.validator),
                        s.signature,
                        s.extension.map(|sig| SignedMessage::new((), sig)),
                    )
                })
                .collect(),
        })
    }
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireDecidedValue {
    value_bytes: Vec<u8>,
    certificate: WireExtendedCertificate,
}

#[derive(BorshSerialize, BorshDeserialize)]
enum WireResponse {
    Values {
        start_height: u64,
        values: Vec<WireDecidedValue>,
    },
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireProposedValue {
    height: u64,
    round: i64,
    valid_round: i64,
    proposer: PublicKey,
    block_hash: Hash,
    valid: bool,
}

fn encode<T: BorshSerialize>(t: &T) -> Bytes {
    let bytes = waybill_types::codec::encode(t);
    crate::wire_tap::record(&bytes);
    Bytes::from(bytes)
}

fn decode<T: BorshDeserialize>(
    bytes: &[u8],
    max: usize,
    what: &'static str,
) -> Result<T, WireError> {
    crate::wire_tap::record(bytes);
    Ok(waybill_types::codec::decode(bytes, max, what)?)
}

fn peer_id_from_wire(bytes: &[u8]) -> Result<PeerId, WireError> {
    PeerId::from_bytes(bytes).map_err(|e| invalid("peer id", e.to_string()))
}

// ----- codec impls -----

impl Codec<ProposalPart> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<ProposalPart, WireError> {
        decode::<WirePart>(&bytes, PART_MSG_BYTES_MAX, "proposal part")?.into_part()
    }

    fn encode(&self, msg: &ProposalPart) -> Result<Bytes, WireError> {
        Ok(encode(&WirePart::from_part(msg)))
    }
}

impl Codec<StreamMessage<ProposalPart>> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<StreamMessage<ProposalPart>, WireError> {
        let w: WireStreamMessage = decode(&bytes, PART_MSG_BYTES_MAX, "proposal stream message")?;
        if w.stream_id.len() > STREAM_ID_BYTES_MAX {
            return Err(invalid("proposal stream message", "stream id too long"));
        }
        let content = match w.content {
            None => StreamContent::Fin,
            Some(p) => StreamContent::Data(p.into_part()?),
        };
        Ok(StreamMessage::new(
            StreamId::new(Bytes::from(w.stream_id)),
            w.sequence,
            content,
        ))
    }

    fn encode(&self, msg: &StreamMessage<ProposalPart>) -> Result<Bytes, WireError> {
        let content = match &msg.content {
            StreamContent::Fin => None,
            StreamContent::Data(p) => Some(WirePart::from_part(p)),
        };
        Ok(encode(&WireStreamMessage {
            stream_id: msg.stream_id.to_bytes().to_vec(),
            sequence: msg.sequence,
            content,
        }))
    }
}

impl Codec<SignedConsensusMsg<Ctx>> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<SignedConsensusMsg<Ctx>, WireError> {
        Ok(
            match decode::<WireSignedMsg>(&bytes, CONSENSUS_MSG_BYTES_MAX, "consensus message")? {
                WireSignedMsg::Vote(v, s) => {
                    SignedConsensusMsg::Vote(SignedMessage::new(v.into_vote()?, s))
                }
                WireSignedMsg::Proposal(p, s) => {
                    SignedConsensusMsg::Proposal(SignedMessage::new(p.into_proposal()?, s))
                }
            },
        )
    }

    fn encode(&self, msg: &SignedConsensusMsg<Ctx>) -> Result<Bytes, WireError> {
        Ok(encode(&match msg {
            SignedConsensusMsg::Vote(v) => {
                WireSignedMsg::Vote(WireVote::from_vote(&v.message), v.signature)
            }
            SignedConsensusMsg::Proposal(p) => {
                WireSignedMsg::Proposal(WireProposal::from_proposal(&p.message), p.signature)
            }
        }))
    }
}

impl Codec<LivenessMsg<Ctx>> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<LivenessMsg<Ctx>, WireError> {
        Ok(
            match decode::<WireLiveness>(&bytes, CONSENSUS_MSG_BYTES_MAX, "liveness message")? {
                WireLiveness::Vote(v, s) => {
                    LivenessMsg::Vote(SignedMessage::new(v.into_vote()?, s))
                }
                WireLiveness::Polka(c) => LivenessMsg::PolkaCertificate(c.into_cert()?),
                WireLiveness::SkipRound(c) => LivenessMsg::SkipRoundCertificate(c.into_cert()?),
            },
        )
    }

    fn encode(&self, msg: &LivenessMsg<Ctx>) -> Result<Bytes, WireError> {
        Ok(encode(&match msg {
            LivenessMsg::Vote(v) => {
                WireLiveness::Vote(WireVote::from_vote(&v.message), v.signature)
            }
            LivenessMsg::PolkaCertificate(c) => {
                WireLiveness::Polka(WirePolkaCertificate::from_cert(c))
            }
            LivenessMsg::SkipRoundCertificate(c) => {
                WireLiveness::SkipRound(WireRoundCertificate::from_cert(c))
            }
        }))
    }
}

impl Codec<ValidatorProof<Ctx>> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<Ctx>, WireError> {
        let w: WireValidatorProof = decode(&bytes, SMALL_MSG_BYTES_MAX, "validator proof")?;
        Ok(ValidatorProof::new(w.public_key, w.peer_id, w.signature))
    }

    fn encode(&self, msg: &ValidatorProof<Ctx>) -> Result<Bytes, WireError> {
        Ok(encode(&WireValidatorProof {
            public_key: msg.public_key.clone(),
            peer_id: msg.peer_id.clone(),
            signature: msg.signature,
        }))
    }
}

impl Codec<Status<Ctx>> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<Status<Ctx>, WireError> {
        let w: WireStatus = decode(&bytes, SMALL_MSG_BYTES_MAX, "sync status")?;
        Ok(Status {
            peer_id: peer_id_from_wire(&w.peer_id)?,
            tip_height: Height(w.tip_height),
            history_min_height: Height(w.history_min_height),
        })
    }

    fn encode(&self, msg: &Status<Ctx>) -> Result<Bytes, WireError> {
        Ok(encode(&WireStatus {
            peer_id: msg.peer_id.to_bytes(),
            tip_height: msg.tip_height.0,
            history_min_height: msg.history_min_height.0,
        }))
    }
}

impl Codec<Request<Ctx>> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<Request<Ctx>, WireError> {
        let WireRequest::Values { start, end } =
            decode(&bytes, SMALL_MSG_BYTES_MAX, "sync request")?;
        let range: RangeInclusive<Height> = Height(start)..=Height(end);
        Ok(Request::ValueRequest(ValueRequest::new(range)))
    }

    fn encode(&self, msg: &Request<Ctx>) -> Result<Bytes, WireError> {
        let Request::ValueRequest(r) = msg;
        Ok(encode(&WireRequest::Values {
            start: r.range.start().0,
            end: r.range.end().0,
        }))
    }
}

fn response_to_wire(msg: &Response<Ctx>) -> WireResponse {
    let Response::ValueResponse(r) = msg;
    WireResponse::Values {
        start_height: r.start_height.0,
        values: r
            .values
            .iter()
            .map(|v| WireDecidedValue {
                value_bytes: v.value_bytes.to_vec(),
                certificate: WireExtendedCertificate::from_cert(&v.certificate),
            })
            .collect(),
    }
}

impl Codec<Response<Ctx>> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<Response<Ctx>, WireError> {
        let WireResponse::Values {
            start_height,
            values,
        } = decode(&bytes, SYNC_RESPONSE_BYTES_MAX, "sync response")?;
        if values.len() > limits::SYNC_BLOCKS_MAX {
            return Err(invalid("sync response", format!("{} values", values.len())));
        }
        let values = values
            .into_iter()
            .map(|v| {
                Ok(RawDecidedValue::new(
                    Bytes::from(v.value_bytes),
                    v.certificate.into_cert()?,
                ))
            })
            .collect::<Result<Vec<_>, WireError>>()?;
        Ok(Response::ValueResponse(ValueResponse::new(
            Height(start_height),
            values,
        )))
    }

    fn encode(&self, msg: &Response<Ctx>) -> Result<Bytes, WireError> {
        Ok(encode(&response_to_wire(msg)))
    }
}

impl HasEncodedLen<Response<Ctx>> for WaybillCodec {
    fn encoded_len(&self, msg: &Response<Ctx>) -> Result<usize, WireError> {
        // Exact, without building the encoding: borsh framing is fixed-size.
        let Response::ValueResponse(r) = msg;
        let per_value = |v: &RawDecidedValue<Ctx>| {
            let sigs = v
                .certificate
                .commit_signatures
                .iter()
                .map(|s| 32 + 64 + 1 + if s.extension.is_some() { 64 } else { 0 });
            4 + v.value_bytes.len() + (8 + 8 + 32 + 4 + sigs.sum::<usize>())
        };
        Ok(1 + 8 + 4 + r.values.iter().map(per_value).sum::<usize>())
    }
}

impl Codec<ProposedValue<Ctx>> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<ProposedValue<Ctx>, WireError> {
        let w: WireProposedValue = decode(&bytes, SMALL_MSG_BYTES_MAX, "proposed value")?;
        Ok(ProposedValue {
            height: Height(w.height),
            round: defined_round(w.round, "proposed value")?,
            valid_round: round_from_wire(w.valid_round, "proposed value")?,
            proposer: Address(w.proposer),
            value: BlockValue::new(w.block_hash),
            validity: Validity::from_bool(w.valid),
        })
    }

    fn encode(&self, msg: &ProposedValue<Ctx>) -> Result<Bytes, WireError> {
        Ok(encode(&WireProposedValue {
            height: msg.height.0,
            round: round_to_wire(msg.round),
            valid_round: round_to_wire(msg.valid_round),
            proposer: msg.proposer.0,
            block_hash: msg.value.block_hash,
            valid: msg.validity.is_valid(),
        }))
    }
}

impl Codec<PolkaCertificate<Ctx>> for WaybillCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<PolkaCertificate<Ctx>, WireError> {
        decode::<WirePolkaCertificate>(&bytes, CONSENSUS_MSG_BYTES_MAX, "polka certificate")?
            .into_cert()
    }

    fn encode(&self, msg: &PolkaCertificate<Ctx>) -> Result<Bytes, WireError> {
        Ok(encode(&WirePolkaCertificate::from_cert(msg)))
    }
}

/// Convert a Malachite commit certificate to Waybill's (for `Application::commit`).
pub fn to_waybill_certificate(
    cert: &CommitCertificate<Ctx>,
) -> Result<waybill_types::CommitCertificate, WireError> {
    let round = cert
        .round
        .as_u32()
        .ok_or_else(|| invalid("commit certificate", "nil round"))?;
    Ok(waybill_types::CommitCertificate {
        height: cert.height.into(),
        round,
        block_hash: cert.value_id,
        signatures: cert
            .commit_signatures
            .iter()
            .map(|s| waybill_types::CommitSignature {
                validator: s.address.0,
                signature: s.signature,
            })
            .collect(),
    })
}

/// Convert a stored Waybill certificate to what Malachite's sync serves.
pub fn to_malachite_certificate(
    cert: &waybill_types::CommitCertificate,
) -> ExtendedCommitCertificate<Ctx> {
    ExtendedCommitCertificate {
        height: cert.height.into(),
        round: Round::new(cert.round),
        value_id: cert.block_hash,
        commit_signatures: cert
            .signatures
            .iter()
            .map(|s| ExtendedCommitSignature::new(Address(s.validator), s.signature, None))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_peer(i: u8) -> PeerId {
        let kp = malachitebft_app_channel::app::types::Keypair::ed25519_from_bytes([i; 32])
            .expect("key");
        PeerId::from_bytes(&kp.public().to_peer_id().to_bytes()).expect("peer id")
    }
    use waybill_types::{sha256, SecretKey};

    fn round_trip<T>(msg: T)
    where
        T: PartialEq + std::fmt::Debug,
        WaybillCodec: Codec<T>,
        <WaybillCodec as Codec<T>>::Error: std::fmt::Debug,
    {
        let bytes = WaybillCodec.encode(&msg).expect("encode");
        let back: T = WaybillCodec.decode(bytes).expect("decode");
        assert_eq!(back, msg);
    }

    fn key(label: &str) -> PublicKey {
        SecretKey::from_label(label).public()
    }

    #[test]
    fn messages_round_trip() {
        let sig = Signature([7; 64]);
        let vote = Vote {
            vote_type: VoteType::Precommit,
            height: Height(3),
            round: Round::new(1),
            value: NilOrVal::Val(sha256(b"b")),
            validator: Address(key("a")),
            extension: None,
        };
        round_trip(SignedConsensusMsg::<Ctx>::Vote(SignedMessage::new(
            vote.clone(),
            sig,
        )));
        let proposal = Proposal {
            height: Height(3),
            round: Round::new(0),
            value: BlockValue::new(sha256(b"b")),
            pol_round: Round::Nil,
            proposer: Address(key("a")),
        };
        round_trip(SignedConsensusMsg::<Ctx>::Proposal(SignedMessage::new(
            proposal, sig,
        )));
        round_trip(LivenessMsg::<Ctx>::Vote(SignedMessage::new(vote, sig)));
        round_trip(StreamMessage::new(
            StreamId::new(Bytes::from_static(b"id")),
            1,
            StreamContent::Data(ProposalPart::Data(Bytes::from_static(b"chunk"))),
        ));
        round_trip(StreamMessage::<ProposalPart>::new(
            StreamId::new(Bytes::from_static(b"id")),
            2,
            StreamContent::Fin,
        ));
        round_trip(ProposalPart::Init(ProposalInit {
            height: Height(9),
            round: Round::new(4),
            proposer: Address(key("p")),
            pol_round: Round::new(2),
        }));
        round_trip(Status::<Ctx> {
            peer_id: test_peer(1),
            tip_height: Height(10),
            history_min_height: Height(1),
        });
        round_trip(Request::<Ctx>::ValueRequest(ValueRequest::new(
            Height(2)..=Height(5),
        )));
        let cert = ExtendedCommitCertificate::<Ctx> {
            height: Height(2),
            round: Round::new(0),
            value_id: sha256(b"v"),
            commit_signatures: vec![ExtendedCommitSignature::new(Address(key("a")), sig, None)],
        };
        let response = Response::<Ctx>::ValueResponse(ValueResponse::new(
            Height(2),
            vec![RawDecidedValue::new(Bytes::from_static(b"block"), cert)],
        ));
        let len = WaybillCodec.encoded_len(&response).expect("len");
        assert_eq!(len, WaybillCodec.encode(&response).expect("encode").len());
        round_trip(response);
    }

    #[test]
    fn oversized_and_trailing_input_is_refused() {
        let big = Bytes::from(vec![0u8; PART_MSG_BYTES_MAX + 1]);
        assert!(Codec::<ProposalPart>::decode(&WaybillCodec, big).is_err());
        let mut bytes = WaybillCodec
            .encode(&ProposalPart::Fin(Signature([1; 64])))
            .expect("encode")
            .to_vec();
        bytes.push(0);
        assert!(Codec::<ProposalPart>::decode(&WaybillCodec, Bytes::from(bytes)).is_err());
        let chunk = WirePart::Data(vec![0; CHUNK_BYTES_MAX + 1]);
        assert!(Codec::<ProposalPart>::decode(&WaybillCodec, encode(&chunk)).is_err());
    }
}
