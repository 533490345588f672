//! Signatures for consensus messages, over Waybill's own domain-separated encodings.
//!
//! * votes: `domain::VOTE ‖ block::vote_sign_bytes(..)` — exactly what
//!   [`waybill_types::CommitCertificate::verify`] checks, so the certificates
//!   Malachite assembles from precommits are Waybill certificates as they are;
//! * proposals: `domain::PROPOSAL ‖ borsh(chain_id, height, round, block_hash, pol_round, proposer)`;
//! * proposal parts: `domain::PROPOSAL_PART ‖ borsh(chain_id, height, round, proposer, pol_round, data_hash)`;
//! * vote extensions (unused): `domain::EXTENSION ‖ borsh(chain_id, height, round, block_hash, validator)`;
//! * validator proofs (binding a libp2p peer id to a validator key): Malachite's
//!   canonical `ValidatorProof::signing_bytes`, without prefix, as its protocol
//!   requires (it starts with `PoV`, which no Waybill domain does).
//!
//! Verification is strict Ed25519 (`PublicKey::verify`).
//!
//! Every vote, proposal and proposal-stream signature goes through one
//! [`SigningGuard`], which keeps the validator's *signing mark* — the last height and
//! round it signed at, and a digest of each message it signed there — in a small file
//! outside the store, fsynced before the signature is returned. It refuses to sign at
//! a lower height or round than the mark, or a message different from the one already
//! signed for the same height, round and kind, so a validator restarted on an older
//! store (a restored backup, a lost store) cannot equivocate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use borsh::BorshSerialize;
use malachitebft_app_channel::app::types::core::{
    NilOrVal, Round, SignedMessage, SigningScheme, ValidatorProof, VoteExtensionScope, VoteType,
};
use malachitebft_app_channel::{Signer, Verifier};
use malachitebft_signing::{Error as SigningError, VerificationResult};
use waybill_types::block::vote_sign_bytes;
use waybill_types::codec;
use waybill_types::keys::domain;
use waybill_types::{sha256, Hash, PublicKey, SecretKey, Signature};

use super::context::{Height, Proposal, Vote, WaybillContext};
pub use super::scheme::{SchemeDecodeError, WaybillSigningScheme};

/// What kind of consensus message is signed (at most one of each per height and round).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignedKind {
    /// A proposal (the block hash it proposes).
    Proposal,
    /// The `Fin` signature of a proposal stream (the block's bytes).
    ProposalParts,
    /// A prevote.
    Prevote,
    /// A precommit.
    Precommit,
}

impl SignedKind {
    fn name(self) -> &'static str {
        match self {
            SignedKind::Proposal => "proposal",
            SignedKind::ProposalParts => "proposal_parts",
            SignedKind::Prevote => "prevote",
            SignedKind::Precommit => "precommit",
        }
    }
}

/// The signing mark file: the last height and round this validator signed at, and
/// what it signed there. `resync` is set by `waybill restore` and by a refused
/// signature: the node then does not sign until its store has committed `height`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningMark {
    /// Last height signed at (0: never signed).
    pub height: u64,
    /// Last round signed at, within `height`.
    pub round: i64,
    /// Kind → SHA-256 of the bytes signed at (`height`, `round`).
    #[serde(default)]
    pub signed: BTreeMap<String, Hash>,
    /// Do not sign again until the store has committed `height`.
    #[serde(default)]
    pub resync: bool,
}

impl SigningMark {
    /// Read the mark at `path`; a missing file is the mark of a validator that never
    /// signed.
    pub fn read(path: &Path) -> Result<SigningMark, SigningMarkError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SigningMarkError::Malformed {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SigningMark::default()),
            Err(e) => Err(SigningMarkError::Io {
                path: path.display().to_string(),
                source: e,
            }),
        }
    }

    /// Write the mark to `path` durably: a temporary file, fsynced, renamed over the
    /// old one, and the directory fsynced.
    pub fn write(&self, path: &Path) -> Result<(), SigningMarkError> {
        let io = |e| SigningMarkError::Io {
            path: path.display().to_string(),
            source: e,
        };
        let tmp = path.with_extension("tmp");
        let json = serde_json::to_vec_pretty(self).expect("a signing mark always serializes");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&json).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }

    /// Whether a node whose store has committed `committed` must follow the chain
    /// without signing: its store is more than one height behind the mark (the mark's
    /// height was reached on a store it no longer has), or the mark asks for a resync.
    /// At `committed + 1 == height` it resumes the height it was working on, which the
    /// consensus write-ahead log and the per-message check of [`SigningGuard`] cover.
    pub fn must_sync_past(&self, committed: u64) -> bool {
        committed.saturating_add(1) < self.height || (self.resync && committed < self.height)
    }
}

/// The signing mark file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SigningMarkError {
    /// Not JSON of the right shape.
    #[error("signing mark {path} is malformed ({reason}); it records what this validator last signed and must not be guessed: restore it from a backup of the node directory, or, if you are sure this key never signed past the store's head, delete it")]
    Malformed {
        /// The file.
        path: String,
        /// The parse error.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("signing mark {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Why a signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum SigningRefused {
    /// Below the mark.
    #[error("refusing to sign a {kind} at height {height} round {round}: this validator already signed at height {mark_height} round {mark_round} (signing mark {path}); signing now could equivocate. The node must sync past height {mark_height} first")]
    Behind {
        /// What.
        kind: &'static str,
        /// Requested height.
        height: u64,
        /// Requested round.
        round: i64,
        /// The mark's height.
        mark_height: u64,
        /// The mark's round.
        mark_round: i64,
        /// The mark file.
        path: String,
    },
    /// A different message of the same kind at the mark.
    #[error("refusing to sign a second, different {kind} at height {height} round {round} (signing mark {path}): that would be equivocation")]
    Conflict {
        /// What.
        kind: &'static str,
        /// Height.
        height: u64,
        /// Round.
        round: i64,
        /// The mark file.
        path: String,
    },
    /// The mark could not be made durable, so nothing is signed.
    #[error(transparent)]
    Mark(#[from] SigningMarkError),
}

/// The one gate every consensus signature of this validator passes (see the module
/// docs). Cloning shares the gate.
#[derive(Clone, Debug)]
pub struct SigningGuard {
    inner: Arc<GuardInner>,
}

#[derive(Debug)]
struct GuardInner {
    path: PathBuf,
    mark: Mutex<SigningMark>,
}

impl SigningGuard {
    /// The guard over the mark file at `path` (read now; created at the first signature).
    pub fn open(path: impl Into<PathBuf>) -> Result<SigningGuard, SigningMarkError> {
        let path = path.into();
        let mark = SigningMark::read(&path)?;
        Ok(SigningGuard {
            inner: Arc::new(GuardInner {
                path,
                mark: Mutex::new(mark),
            }),
        })
    }

    /// The mark file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The file that keeps the block of the last proposal stream signed (beside the
    /// mark: `signing-mark.proposal`), so that a proposer restarted before the block
    /// committed proposes the same block again rather than a different one it may not
    /// sign.
    pub fn proposal_path(&self) -> PathBuf {
        self.inner.path.with_extension("proposal")
    }

    /// Keep `block` as the proposal at `height`/`round`, durably, unless a proposal
    /// stream is already signed there (the block kept is then that one's). Call before
    /// signing the stream.
    pub fn keep_proposal(&self, height: u64, round: i64, block: &[u8]) -> std::io::Result<()> {
        let mark = self
            .inner
            .mark
            .lock()
            .expect("the signing mark lock is never held across a panic");
        let at_mark = (height, round) == (mark.height, mark.round);
        if (height, round) < (mark.height, mark.round)
            || (at_mark && mark.signed.contains_key(SignedKind::ProposalParts.name()))
        {
            return Ok(());
        }
        let path = self.proposal_path();
        let tmp = path.with_extension("proposal-tmp");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&height.to_be_bytes())?;
            f.write_all(&round.to_be_bytes())?;
            f.write_all(block)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)
        // The mark written next (by `permit`) fsyncs the directory.
    }

    /// The block kept by [`SigningGuard::keep_proposal`] for `height`/`round`, if the
    /// mark records a proposal stream signed there.
    pub fn kept_proposal(&self, height: u64, round: i64) -> Option<Vec<u8>> {
        let mark = self.mark();
        if (height, round) != (mark.height, mark.round)
            || !mark.signed.contains_key(SignedKind::ProposalParts.name())
        {
            return None;
        }
        let bytes = std::fs::read(self.proposal_path()).ok()?;
        let (h, rest) = bytes.split_first_chunk::<8>()?;
        let (r, block) = rest.split_first_chunk::<8>()?;
        (u64::from_be_bytes(*h) == height && i64::from_be_bytes(*r) == round)
            .then(|| block.to_vec())
    }

    /// The current mark.
    pub fn mark(&self) -> SigningMark {
        self.inner
            .mark
            .lock()
            .expect("the signing mark lock is never held across a panic")
            .clone()
    }

    /// Allow signing `msg` as a `kind` at `height`/`round`, recording it in the mark
    /// file (fsynced) first; or refuse. The caller signs only after `Ok`.
    pub fn permit(
        &self,
        kind: SignedKind,
        height: u64,
        round: i64,
        msg: &[u8],
    ) -> Result<(), SigningRefused> {
        let digest = sha256(msg);
        let path = self.inner.path.display().to_string();
        let mut mark = self
            .inner
            .mark
            .lock()
            .expect("the signing mark lock is never held across a panic");
        let next = match (height, round).cmp(&(mark.height, mark.round)) {
            std::cmp::Ordering::Less => {
                let refused = SigningRefused::Behind {
                    kind: kind.name(),
                    height,
                    round,
                    mark_height: mark.height,
                    mark_round: mark.round,
                    path,
                };
                self.refused(&mut mark, kind, &refused);
                return Err(refused);
            }
            std::cmp::Ordering::Equal => match mark.signed.get(kind.name()) {
                Some(d) if *d == digest => return Ok(()),
                Some(_) => {
                    let refused = SigningRefused::Conflict {
                        kind: kind.name(),
                        height,
                        round,
                        path,
                    };
                    self.refused(&mut mark, kind, &refused);
                    return Err(refused);
                }
                None => {
                    let mut m = mark.clone();
                    m.signed.insert(kind.name().to_string(), digest);
                    m
                }
            },
            std::cmp::Ordering::Greater => SigningMark {
                height,
                round,
                signed: BTreeMap::from([(kind.name().to_string(), digest)]),
                resync: false,
            },
        };
        next.write(&self.inner.path)?;
        *mark = next;
        Ok(())
    }

    /// A refused vote or proposal halts consensus; make the next start follow the
    /// chain until it is past the mark instead of refusing again. A refused proposal
    /// stream does not: the driver then just does not propose in that round.
    fn refused(&self, mark: &mut SigningMark, kind: SignedKind, why: &SigningRefused) {
        if kind == SignedKind::ProposalParts {
            tracing::warn!(%why, "signing refused: not proposing this round");
            return;
        }
        tracing::error!(%why, "SIGNING REFUSED");
        if !mark.resync {
            let mut m = mark.clone();
            m.resync = true;
            match m.write(&self.inner.path) {
                Ok(()) => *mark = m,
                Err(e) => {
                    tracing::error!(%e, "cannot record the resync request in the signing mark")
                }
            }
        }
    }
}

/// The bytes (without domain) a vote signature covers.
pub fn vote_bytes(chain_id: &str, vote: &Vote) -> Vec<u8> {
    let block_hash = match vote.value {
        NilOrVal::Nil => None,
        NilOrVal::Val(h) => Some(h),
    };
    vote_sign_bytes(
        chain_id,
        vote.vote_type == VoteType::Precommit,
        vote.height.0,
        vote.round.as_i64(),
        block_hash,
        vote.validator.0,
    )
}

#[derive(BorshSerialize)]
struct ProposalSignBytes<'a> {
    chain_id: &'a str,
    height: u64,
    round: i64,
    block_hash: Hash,
    pol_round: i64,
    proposer: PublicKey,
}

/// The bytes (without domain) a proposal signature covers.
pub fn proposal_bytes(chain_id: &str, p: &Proposal) -> Vec<u8> {
    codec::encode(&ProposalSignBytes {
        chain_id,
        height: p.height.0,
        round: p.round.as_i64(),
        block_hash: p.value.block_hash,
        pol_round: p.pol_round.as_i64(),
        proposer: p.proposer.0,
    })
}

#[derive(BorshSerialize)]
struct PartsSignBytes<'a> {
    chain_id: &'a str,
    height: u64,
    round: i64,
    proposer: PublicKey,
    pol_round: i64,
    data_hash: Hash,
}

/// The bytes (without domain) the `Fin` signature of a proposal stream covers.
/// `data_hash` is [`super::streaming::data_hash`] of the chunks.
pub fn parts_bytes(
    chain_id: &str,
    height: Height,
    round: Round,
    proposer: PublicKey,
    pol_round: Round,
    data_hash: Hash,
) -> Vec<u8> {
    codec::encode(&PartsSignBytes {
        chain_id,
        height: height.0,
        round: round.as_i64(),
        proposer,
        pol_round: pol_round.as_i64(),
        data_hash,
    })
}

#[derive(BorshSerialize)]
struct ExtensionSignBytes<'a> {
    chain_id: &'a str,
    height: u64,
    round: i64,
    block_hash: Hash,
    validator: PublicKey,
}

fn extension_bytes(chain_id: &str, scope: &VoteExtensionScope<WaybillContext>) -> Vec<u8> {
    codec::encode(&ExtensionSignBytes {
        chain_id,
        height: scope.height.0,
        round: scope.round.as_i64(),
        block_hash: scope.value_id,
        validator: scope.validator_address.0,
    })
}

fn result(ok: bool) -> Result<VerificationResult, SigningError> {
    Ok(VerificationResult::from_bool(ok))
}

/// Verifies consensus signatures for one chain.
#[derive(Clone, Debug)]
pub struct WaybillVerifier {
    chain_id: String,
}

impl WaybillVerifier {
    /// A verifier for `chain_id`.
    pub fn new(chain_id: impl Into<String>) -> Self {
        WaybillVerifier {
            chain_id: chain_id.into(),
        }
    }
}

#[async_trait]
impl Verifier<WaybillContext> for WaybillVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        result(
            public_key
                .verify(domain::VOTE, &vote_bytes(&self.chain_id, vote), signature)
                .is_ok(),
        )
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        let msg = proposal_bytes(&self.chain_id, proposal);
        result(public_key.verify(domain::PROPOSAL, &msg, signature).is_ok())
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<WaybillContext>,
        _extension: &(),
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        let msg = extension_bytes(&self.chain_id, scope);
        result(
            public_key
                .verify(domain::EXTENSION, &msg, signature)
                .is_ok(),
        )
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<WaybillContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(key) = WaybillSigningScheme::decode_public_key(&proof.public_key) else {
            return result(false);
        };
        result(key.verify(b"", &proof.preimage(), &proof.signature).is_ok())
    }
}

/// Signs consensus messages with the validator key, each through the [`SigningGuard`].
#[derive(Clone, Debug)]
pub struct WaybillSigner {
    chain_id: String,
    key: SecretKey,
    guard: SigningGuard,
}

impl WaybillSigner {
    /// A signer for `chain_id` with `key`, gated by `guard`.
    pub fn new(chain_id: impl Into<String>, key: SecretKey, guard: SigningGuard) -> Self {
        WaybillSigner {
            chain_id: chain_id.into(),
            key,
            guard,
        }
    }

    /// The guard.
    pub fn guard(&self) -> &SigningGuard {
        &self.guard
    }

    /// Sign a vote, if the guard allows it.
    pub fn sign_vote_bytes(&self, vote: &Vote) -> Result<Signature, SigningRefused> {
        let msg = vote_bytes(&self.chain_id, vote);
        let kind = match vote.vote_type {
            VoteType::Prevote => SignedKind::Prevote,
            VoteType::Precommit => SignedKind::Precommit,
        };
        self.guard
            .permit(kind, vote.height.0, vote.round.as_i64(), &msg)?;
        Ok(self.key.sign(domain::VOTE, &msg))
    }

    /// Sign a proposal, if the guard allows it.
    pub fn sign_proposal_bytes(&self, proposal: &Proposal) -> Result<Signature, SigningRefused> {
        let msg = proposal_bytes(&self.chain_id, proposal);
        self.guard.permit(
            SignedKind::Proposal,
            proposal.height.0,
            proposal.round.as_i64(),
            &msg,
        )?;
        Ok(self.key.sign(domain::PROPOSAL, &msg))
    }

    /// Sign the `Fin` of a proposal stream (`msg` from [`parts_bytes`]), if the guard
    /// allows it.
    pub fn sign_parts_bytes(
        &self,
        height: Height,
        round: Round,
        msg: &[u8],
    ) -> Result<Signature, SigningRefused> {
        self.guard
            .permit(SignedKind::ProposalParts, height.0, round.as_i64(), msg)?;
        Ok(self.key.sign(domain::PROPOSAL_PART, msg))
    }
}

fn refused(e: SigningRefused) -> SigningError {
    SigningError::from_source(e)
}

#[async_trait]
impl Signer<WaybillContext> for WaybillSigner {
    async fn sign_vote(
        &self,
        vote: Vote,
    ) -> Result<SignedMessage<WaybillContext, Vote>, SigningError> {
        let signature = self.sign_vote_bytes(&vote).map_err(refused)?;
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<WaybillContext, Proposal>, SigningError> {
        let signature = self.sign_proposal_bytes(&proposal).map_err(refused)?;
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<WaybillContext>,
        extension: (),
    ) -> Result<SignedMessage<WaybillContext, ()>, SigningError> {
        let signature = self
            .key
            .sign(domain::EXTENSION, &extension_bytes(&self.chain_id, &scope));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<WaybillContext>, SigningError> {
        let preimage = ValidatorProof::<WaybillContext>::signing_bytes(&public_key, &peer_id);
        let signature = self.key.sign(b"", &preimage);
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::context::{Address, BlockValue};
    use malachitebft_app_channel::app::types::core::Context as _;
    use waybill_types::block::{CommitCertificate, CommitSignature, ValidatorInfo};
    use waybill_types::sha256;

    /// A fresh directory for one test's signing mark.
    fn temp_dir(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("waybill-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("the temporary directory can be created");
        d
    }

    fn test_guard(tag: &str) -> SigningGuard {
        let dir = temp_dir(&format!("signing-{tag}"));
        SigningGuard::open(dir.join("signing-mark.json")).expect("a new mark")
    }

    fn prevote(ctx: &WaybillContext, h: u64, r: u32, v: Option<Hash>, me: Address) -> Vote {
        ctx.new_prevote(
            Height(h),
            Round::new(r),
            v.map_or(NilOrVal::Nil, NilOrVal::Val),
            me,
        )
    }

    /// A proposer restarted before its block committed gets that block back (the one
    /// whose stream it signed), and only for that height and round; a second block
    /// offered at the same round does not replace it.
    #[test]
    fn the_block_of_a_signed_proposal_stream_is_kept_for_its_round() {
        let guard = test_guard("kept");
        assert_eq!(guard.kept_proposal(5, 0), None, "nothing signed yet");
        guard.keep_proposal(5, 0, b"block A").expect("kept");
        assert_eq!(guard.kept_proposal(5, 0), None, "not signed yet");
        guard
            .permit(SignedKind::ProposalParts, 5, 0, b"parts of A")
            .expect("first stream at (5, 0)");
        assert_eq!(guard.kept_proposal(5, 0).as_deref(), Some(&b"block A"[..]));
        // A restart reads the same mark and file.
        let again = SigningGuard::open(guard.path()).expect("reopened");
        assert_eq!(again.kept_proposal(5, 0).as_deref(), Some(&b"block A"[..]));
        assert_eq!(again.kept_proposal(5, 1), None);
        assert_eq!(again.kept_proposal(6, 0), None);
        // Another block at the same round is neither kept nor signed.
        again.keep_proposal(5, 0, b"block B").expect("no-op");
        assert_eq!(again.kept_proposal(5, 0).as_deref(), Some(&b"block A"[..]));
        assert!(again
            .permit(SignedKind::ProposalParts, 5, 0, b"parts of B")
            .is_err());
        // The next round keeps its own block.
        again.keep_proposal(5, 1, b"block C").expect("kept");
        again
            .permit(SignedKind::ProposalParts, 5, 1, b"parts of C")
            .expect("a new round");
        assert_eq!(again.kept_proposal(5, 1).as_deref(), Some(&b"block C"[..]));
        assert_eq!(again.kept_proposal(5, 0), None);
    }

    /// The signing path refuses what could equivocate: a lower height or round than
    /// the mark, or a different message of the same kind at the mark. The mark is on
    /// disk before a signature is returned, and a refusal asks the next start to sync.
    #[tokio::test]
    async fn the_guard_refuses_to_sign_behind_or_against_its_mark() {
        let chain = "guard";
        let key = SecretKey::from_label("guard validator");
        let me = Address(key.public());
        let ctx = WaybillContext::new(chain);
        let guard = test_guard("guard");
        let path = guard.path().to_path_buf();
        let signer = WaybillSigner::new(chain, key.clone(), guard.clone());
        let b = sha256(b"block b");

        let v = prevote(&ctx, 5, 1, Some(b), me);
        signer.sign_vote(v.clone()).await.expect("first prevote");
        let on_disk = SigningMark::read(&path).expect("mark on disk");
        assert_eq!((on_disk.height, on_disk.round), (5, 1));
        assert!(on_disk.signed.contains_key("prevote"));
        // The same vote again (a replay) is the same signature: allowed.
        signer.sign_vote(v).await.expect("same prevote again");
        // A nil prevote at the same height and round: equivocation.
        let err = signer
            .sign_vote_bytes(&prevote(&ctx, 5, 1, None, me))
            .expect_err("conflicting prevote refused");
        assert!(matches!(err, SigningRefused::Conflict { .. }), "{err}");
        // A precommit at the same round is another kind: allowed.
        let pc = ctx.new_precommit(Height(5), Round::new(1), NilOrVal::Val(b), me);
        signer.sign_vote(pc).await.expect("precommit");
        // Lower round, lower height: refused, as the engine sees it too.
        for (h, r) in [(5, 0), (4, 3), (1, 0)] {
            let err = signer
                .sign_vote_bytes(&prevote(&ctx, h, r, Some(b), me))
                .expect_err("behind the mark");
            assert!(matches!(err, SigningRefused::Behind { .. }), "{err}");
        }
        assert!(signer
            .sign_vote(prevote(&ctx, 4, 0, Some(b), me))
            .await
            .is_err());
        // The refusal is recorded: the next start follows the chain past height 5.
        let m = SigningMark::read(&path).expect("reads");
        assert!(m.resync && m.must_sync_past(4) && !m.must_sync_past(5));
        // A later height signs again and clears the request.
        signer
            .sign_vote(prevote(&ctx, 6, 0, Some(b), me))
            .await
            .expect("next height");
        let m = SigningMark::read(&path).expect("reads");
        assert_eq!((m.height, m.round, m.resync), (6, 0, false));
    }

    #[test]
    fn a_store_more_than_one_height_behind_the_mark_must_sync() {
        let m = SigningMark {
            height: 10,
            round: 2,
            ..SigningMark::default()
        };
        assert!(m.must_sync_past(0));
        assert!(m.must_sync_past(8));
        // Resuming the height it was working on (a crash-restart) is not behind.
        assert!(!m.must_sync_past(9));
        assert!(!m.must_sync_past(10));
        assert!(!SigningMark::default().must_sync_past(0));
    }

    #[tokio::test]
    async fn precommit_signatures_make_waybill_certificates() {
        let chain = "test-chain";
        let key = SecretKey::from_label("validator");
        let me = Address(key.public());
        let ctx = WaybillContext::new(chain);
        let signer = WaybillSigner::new(chain, key.clone(), test_guard("certs"));
        let block_hash = sha256(b"block");
        let vote = ctx.new_precommit(Height(7), Round::new(2), NilOrVal::Val(block_hash), me);
        let signed = signer.sign_vote(vote.clone()).await.expect("sign");
        let verifier = WaybillVerifier::new(chain);
        let ok = verifier
            .verify_signed_vote(&vote, &signed.signature, &key.public())
            .await
            .expect("verify");
        assert!(ok.is_valid());

        let cert = CommitCertificate {
            height: waybill_types::Height(7),
            round: 2,
            block_hash,
            signatures: vec![CommitSignature {
                validator: key.public(),
                signature: signed.signature,
            }],
        };
        let set = [ValidatorInfo {
            public_key: key.public(),
            voting_power: 1,
        }];
        cert.verify(chain, waybill_types::Height(7), block_hash, &set)
            .expect("certificate verifies");
        assert!(cert
            .verify("other-chain", waybill_types::Height(7), block_hash, &set)
            .is_err());
    }

    #[tokio::test]
    async fn proposal_and_proof_signatures_verify_and_are_domain_separated() {
        let chain = "c";
        let key = SecretKey::from_label("p");
        let signer = WaybillSigner::new(chain, key.clone(), test_guard("proposal"));
        let verifier = WaybillVerifier::new(chain);
        let p = Proposal {
            height: Height(1),
            round: Round::new(0),
            value: BlockValue::new(sha256(b"x")),
            pol_round: Round::Nil,
            proposer: Address(key.public()),
        };
        let signed = signer.sign_proposal(p.clone()).await.expect("sign");
        let ok = verifier
            .verify_signed_proposal(&p, &signed.signature, &key.public())
            .await
            .expect("verify");
        assert!(ok.is_valid());
        let mut other = p.clone();
        other.round = Round::new(1);
        let bad = verifier
            .verify_signed_proposal(&other, &signed.signature, &key.public())
            .await
            .expect("verify");
        assert!(bad.is_invalid());

        let proof = signer
            .sign_validator_proof(key.public().0.to_vec(), vec![1, 2, 3])
            .await
            .expect("proof");
        assert!(verifier
            .verify_validator_proof(&proof)
            .await
            .expect("verify")
            .is_valid());
        let mut forged = proof.clone();
        forged.peer_id = vec![9];
        assert!(verifier
            .verify_validator_proof(&forged)
            .await
            .expect("verify")
            .is_invalid());
    }
}
