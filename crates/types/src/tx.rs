//! Transactions: what a member signs and the ledger orders.
//!
//! A [`Transaction`] is `{version, chain_id, signer, nonce, expires_at_ms, payload}`;
//! a [`SignedTx`] adds the signer's Ed25519 signature over `domain::TX ‖ encode(tx)`.
//! Its id is the SHA-256 of the encoded signed transaction.
//!
//! Replay protection (DESIGN "Transaction"): no per-signer sequence. Each transaction
//! carries a client-chosen `nonce` and an expiry in block time; the ledger keeps its
//! [`Transaction::replay_id`] in consensus state until the expiry passes and refuses
//! it a second time. So one key can sign from several processes at once, offline,
//! without asking a node for anything.

use crate::codec::{self, CodecError};
use crate::hash::{sha256, Hash};
use crate::keys::{domain, KeyError, PublicKey, SecretKey, Signature};
use crate::limits;
use crate::payload::{Payload, PayloadError};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A transaction id: SHA-256 of the encoded signed transaction.
pub type TxId = Hash;

/// The transaction format version this build writes and reads. Version 1 carried a
/// strict per-signer sequence number instead of `nonce` and `expires_at_ms`; it is
/// no longer read.
pub const TX_VERSION: u8 = 2;

/// An unsigned transaction.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct Transaction {
    /// Format version, [`TX_VERSION`].
    pub version: u8,
    /// The chain this transaction is for; a transaction for another chain is refused.
    pub chain_id: String,
    /// The member who signs.
    pub signer: PublicKey,
    /// Chosen by the client to tell apart transactions with the same content (the
    /// SDK takes 64 random bits). Two transactions with the same content, nonce and
    /// expiry are the same transaction: the second is a replay.
    pub nonce: u64,
    /// Block time (ms since the Unix epoch) from which on this transaction can no
    /// longer be included: a block at time `t` takes it only if
    /// `t < expires_at_ms <= t + TX_EXPIRY_WINDOW_MS_MAX`.
    pub expires_at_ms: u64,
    /// What to do.
    pub payload: Payload,
}

/// A signed transaction, as submitted, gossiped and stored.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct SignedTx {
    /// The transaction.
    pub tx: Transaction,
    /// Ed25519 signature by `tx.signer` over `domain::TX ‖ encode(tx)`.
    pub signature: Signature,
}

/// Why a signed transaction is not acceptable, before any state is consulted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxError {
    /// The bytes could not be decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Unknown format version.
    #[error("transaction version {found} is not supported; this node reads version {TX_VERSION}")]
    Version {
        /// The version found.
        found: u8,
    },
    /// Signed for another chain.
    #[error("transaction is for chain `{found}` but this node runs chain `{expected}`")]
    WrongChain {
        /// The chain id in the transaction.
        found: String,
        /// This node's chain id.
        expected: String,
    },
    /// No expiry.
    #[error("expires_at_ms must be set: a block time in ms after which the transaction is void")]
    NoExpiry,
    /// The signature does not verify.
    #[error("bad signature: {0}")]
    Signature(KeyError),
    /// A payload field is invalid.
    #[error("invalid {kind}: {source}")]
    Payload {
        /// The payload kind.
        kind: &'static str,
        /// The field error.
        source: PayloadError,
    },
}

/// 64 random bits from the operating system, for [`Transaction::nonce`].
pub fn random_nonce() -> u64 {
    use rand_core::RngCore as _;
    rand_core::OsRng.next_u64()
}

impl Transaction {
    /// The replay id: SHA-256 of the exact bytes the signature covers
    /// (`domain::TX ‖ encode(tx)`). It does not depend on the signature, so no
    /// second signature over the same content can pass as a new transaction.
    pub fn replay_id(&self) -> Hash {
        crate::hash::sha256_parts(&[domain::TX, &codec::encode(self)])
    }

    /// Sign with `key`. The caller sets `signer` to `key.public()`.
    pub fn sign(self, key: &SecretKey) -> SignedTx {
        let signature = key.sign(domain::TX, &codec::encode(&self));
        SignedTx {
            tx: self,
            signature,
        }
    }
}

impl SignedTx {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decode from canonical bytes, bounded by [`limits::TX_BYTES_MAX`].
    pub fn decode(bytes: &[u8]) -> Result<SignedTx, TxError> {
        let stx: SignedTx = codec::decode(bytes, limits::TX_BYTES_MAX, "transaction")?;
        if stx.tx.version != TX_VERSION {
            return Err(TxError::Version {
                found: stx.tx.version,
            });
        }
        Ok(stx)
    }

    /// The id of already-encoded bytes.
    pub fn id_of(bytes: &[u8]) -> TxId {
        sha256(bytes)
    }

    /// The id: SHA-256 of the canonical bytes.
    pub fn id(&self) -> TxId {
        sha256(&self.encode())
    }

    /// The bytes the signature covers (domain prefix included).
    pub fn signed_message(&self) -> Vec<u8> {
        let mut m = domain::TX.to_vec();
        m.extend_from_slice(&codec::encode(&self.tx));
        m
    }

    /// Stateless checks except the signature: chain, expiry set, payload fields.
    /// (Whether the expiry suits a block's time is checked against that block.)
    pub fn check_stateless(&self, chain_id: &str) -> Result<(), TxError> {
        if self.tx.chain_id != chain_id {
            return Err(TxError::WrongChain {
                found: self.tx.chain_id.clone(),
                expected: chain_id.to_string(),
            });
        }
        if self.tx.expires_at_ms == 0 {
            return Err(TxError::NoExpiry);
        }
        self.tx.payload.check().map_err(|source| TxError::Payload {
            kind: self.tx.payload.kind(),
            source,
        })
    }

    /// Verify the signature alone (use [`crate::keys::verify_batch`] for many).
    pub fn verify_signature(&self) -> Result<(), TxError> {
        self.tx
            .signer
            .verify(domain::TX, &codec::encode(&self.tx), &self.signature)
            .map_err(TxError::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::RevokeMember;

    fn sample(nonce: u64) -> SignedTx {
        let key = SecretKey::from_label("member");
        Transaction {
            version: TX_VERSION,
            chain_id: "test".into(),
            signer: key.public(),
            nonce,
            expires_at_ms: 1_800_000_000_000,
            payload: Payload::RevokeMember(RevokeMember {
                member: key.public(),
                reason: "left".into(),
            }),
        }
        .sign(&key)
    }

    #[test]
    fn round_trip_and_id() {
        let stx = sample(1);
        let bytes = stx.encode();
        let back = SignedTx::decode(&bytes).expect("decodes");
        assert_eq!(back, stx);
        assert_eq!(back.id(), SignedTx::id_of(&bytes));
        assert!(back.verify_signature().is_ok());
    }

    #[test]
    fn any_flipped_byte_breaks_signature_or_decoding() {
        let bytes = sample(7).encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let ok = SignedTx::decode(&b)
                .map(|s| s.verify_signature().is_ok())
                .unwrap_or(false);
            assert!(!ok, "flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn replay_id_ignores_the_signature_and_covers_every_field() {
        let stx = sample(1);
        let mut other = stx.clone();
        other.signature = Signature([7; 64]);
        assert_eq!(stx.tx.replay_id(), other.tx.replay_id());
        assert_ne!(stx.tx.replay_id(), sample(2).tx.replay_id(), "nonce");
        let mut later = stx.tx.clone();
        later.expires_at_ms += 1;
        assert_ne!(stx.tx.replay_id(), later.replay_id(), "expiry");
        assert_eq!(
            stx.tx.replay_id(),
            crate::hash::sha256(&stx.signed_message())
        );
    }

    #[test]
    fn zero_expiry_refused_statelessly() {
        let mut stx = sample(1);
        stx.tx.expires_at_ms = 0;
        assert_eq!(stx.check_stateless("test"), Err(TxError::NoExpiry));
        assert!(sample(1).check_stateless("test").is_ok());
    }

    #[test]
    fn version_1_is_no_longer_read() {
        let mut stx = sample(1);
        stx.tx.version = 1;
        assert_eq!(
            SignedTx::decode(&stx.encode()),
            Err(TxError::Version { found: 1 })
        );
    }

    #[test]
    fn trailing_bytes_and_oversize_rejected() {
        let mut bytes = sample(1).encode();
        bytes.push(0);
        assert!(SignedTx::decode(&bytes).is_err());
        let big = vec![0u8; limits::TX_BYTES_MAX + 1];
        assert!(matches!(
            SignedTx::decode(&big),
            Err(TxError::Codec(CodecError::TooLarge { .. }))
        ));
    }
}
