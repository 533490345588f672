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
use waybill_types::{Hash, PublicKey, SecretKey, Signature};

use super::context::{Height, Proposal, Vote, WaybillContext};

/// Ed25519 over Waybill's key and signature types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaybillSigningScheme;

/// Bytes that are not a key or signature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemeDecodeError {
    /// Wrong length.
    #[error("expected {expected} bytes, got {actual}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// Not a curve point.
    #[error("not a valid Ed25519 public key")]
    InvalidKey,
}

impl SigningScheme for WaybillSigningScheme {
    type DecodingError = SchemeDecodeError;
    type Signature = Signature;
    type PublicKey = PublicKey;
    type PrivateKey = SecretKey;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, SchemeDecodeError> {
        let arr: [u8; 64] = bytes.try_into().map_err(|_| SchemeDecodeError::Length {
            expected: 64,
            actual: bytes.len(),
        })?;
        Ok(Signature(arr))
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, SchemeDecodeError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SchemeDecodeError::Length {
            expected: 32,
            actual: bytes.len(),
        })?;
        let key = PublicKey(arr);
        key.verifying_key()
            .map_err(|_| SchemeDecodeError::InvalidKey)?;
        Ok(key)
    }

    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_vec()
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

/// Signs consensus messages with the validator key.
#[derive(Clone, Debug)]
pub struct WaybillSigner {
    chain_id: String,
    key: SecretKey,
}

impl WaybillSigner {
    /// A signer for `chain_id` with `key`.
    pub fn new(chain_id: impl Into<String>, key: SecretKey) -> Self {
        WaybillSigner {
            chain_id: chain_id.into(),
            key,
        }
    }
}

#[async_trait]
impl Signer<WaybillContext> for WaybillSigner {
    async fn sign_vote(
        &self,
        vote: Vote,
    ) -> Result<SignedMessage<WaybillContext, Vote>, SigningError> {
        let signature = self
            .key
            .sign(domain::VOTE, &vote_bytes(&self.chain_id, &vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<WaybillContext, Proposal>, SigningError> {
        let signature = self
            .key
            .sign(domain::PROPOSAL, &proposal_bytes(&self.chain_id, &proposal));
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

    #[tokio::test]
    async fn precommit_signatures_make_waybill_certificates() {
        let chain = "test-chain";
        let key = SecretKey::from_label("validator");
        let me = Address(key.public());
        let ctx = WaybillContext::new(chain);
        let signer = WaybillSigner::new(chain, key.clone());
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
        let signer = WaybillSigner::new(chain, key.clone());
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
