//! Blocks, their headers, commit certificates and receipts.

use crate::codec::{self, CodecError};
use crate::hash::{sha256, Hash};
use crate::keys::{domain, PublicKey, Signature};
use crate::tx::{SignedTx, TxId};
use crate::{limits, merkle, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The block header format version this build writes and reads. Version 2 added
/// `heads_root`, version 3 `commit_root`; older versions are no longer read.
pub const HEADER_VERSION: u8 = 3;

/// A block header. Its hash (SHA-256 of its canonical encoding) names the block.
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
pub struct BlockHeader {
    /// Format version, [`HEADER_VERSION`].
    pub version: u8,
    /// The chain.
    pub chain_id: String,
    /// This block's height (the first block is 1).
    pub height: Height,
    /// Hash of the previous header; [`Hash::ZERO`] for height 1.
    pub prev_hash: Hash,
    /// Block time, milliseconds since the Unix epoch, strictly increasing.
    pub time_ms: u64,
    /// The validator that proposed the block.
    pub proposer: PublicKey,
    /// Number of transactions.
    pub n_txs: u32,
    /// RFC 6962 Merkle root over the transactions' canonical bytes.
    pub tx_root: Hash,
    /// RFC 6962 Merkle root of the open-tier records published by this block
    /// (the empty tree until screening exists).
    pub open_root: Hash,
    /// Root of the sparse Merkle tree (`smt`) from each subject (product, lot, item,
    /// container, location, organization, `validators`) to its latest open-tier
    /// record, after this block: what lets a proof show a history is complete.
    pub heads_root: Hash,
    /// RFC 6962 Merkle root over the commitments of the fields this block sealed
    /// (leaves [`crate::seal::commitment_leaf`], in the order the block stored them):
    /// what lets one sealed field be disclosed and proven without the rest of its
    /// record.
    pub commit_root: Hash,
    /// `SHA-256(state_hash(h-1) ‖ digest of this block's ordered write set)`.
    pub state_hash: Hash,
    /// Hash of the validator set that finalizes this block.
    pub validators_hash: Hash,
}

impl BlockHeader {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        sha256(&codec::encode(self))
    }
}

/// A block: header and transactions.
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
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in order.
    pub txs: Vec<SignedTx>,
}

/// A block whose parts disagree with each other.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockError {
    /// Could not decode.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Header version.
    #[error(
        "block header version {found} is not supported; this node reads version {HEADER_VERSION}"
    )]
    Version {
        /// The version found.
        found: u8,
    },
    /// Count mismatch.
    #[error("block {height}: header says {declared} transactions, body has {actual}")]
    TxCount {
        /// Height.
        height: Height,
        /// From the header.
        declared: u32,
        /// In the body.
        actual: usize,
    },
    /// Root mismatch.
    #[error("block {height}: transaction Merkle root {computed} does not match header {declared}")]
    TxRoot {
        /// Height.
        height: Height,
        /// From the header.
        declared: Hash,
        /// Recomputed.
        computed: Hash,
    },
    /// Too many transactions.
    #[error("block {height} has {n_txs} transactions, over the limit of {max}")]
    TooManyTxs {
        /// Height.
        height: Height,
        /// Count.
        n_txs: usize,
        /// Limit.
        max: usize,
    },
}

/// Merkle leaf hash of one transaction's canonical bytes.
pub fn tx_leaf(tx_bytes: &[u8]) -> Hash {
    Hash(merkle::leaf_hash(tx_bytes))
}

/// RFC 6962 root over transactions' canonical bytes.
pub fn tx_root<'a>(tx_bytes: impl Iterator<Item = &'a [u8]>) -> Hash {
    let leaves: Vec<merkle::Digest32> = tx_bytes.map(merkle::leaf_hash).collect();
    Hash(merkle::root_from_leaf_hashes(&leaves))
}

impl Block {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decode, bounded by [`limits::BLOCK_BYTES_MAX`], and check the body against the header.
    pub fn decode(bytes: &[u8]) -> Result<Block, BlockError> {
        let block: Block = codec::decode(bytes, limits::BLOCK_BYTES_MAX, "block")?;
        block.check_body()?;
        Ok(block)
    }

    /// The block hash.
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// The transaction ids, in order.
    pub fn tx_ids(&self) -> Vec<TxId> {
        self.txs.iter().map(SignedTx::id).collect()
    }

    /// Check version, count and transaction root against the header.
    pub fn check_body(&self) -> Result<(), BlockError> {
        let h = &self.header;
        if h.version != HEADER_VERSION {
            return Err(BlockError::Version { found: h.version });
        }
        if self.txs.len() > limits::BLOCK_TXS_MAX {
            return Err(BlockError::TooManyTxs {
                height: h.height,
                n_txs: self.txs.len(),
                max: limits::BLOCK_TXS_MAX,
            });
        }
        if self.txs.len() != h.n_txs as usize {
            return Err(BlockError::TxCount {
                height: h.height,
                declared: h.n_txs,
                actual: self.txs.len(),
            });
        }
        let encoded: Vec<Vec<u8>> = self.txs.iter().map(SignedTx::encode).collect();
        let computed = tx_root(encoded.iter().map(Vec::as_slice));
        if computed != h.tx_root {
            return Err(BlockError::TxRoot {
                height: h.height,
                declared: h.tx_root,
                computed,
            });
        }
        Ok(())
    }
}

/// One validator's precommit signature in a commit certificate.
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
pub struct CommitSignature {
    /// The validator.
    pub validator: PublicKey,
    /// Its signature over [`precommit_sign_bytes`].
    pub signature: Signature,
}

impl CommitSignature {
    /// `key`'s precommit signature for `block_hash` at `height` and `round`.
    pub fn sign(
        key: &crate::SecretKey,
        chain_id: &str,
        height: Height,
        round: u32,
        block_hash: Hash,
    ) -> CommitSignature {
        let msg = precommit_sign_bytes(chain_id, height, round, block_hash, key.public());
        CommitSignature {
            validator: key.public(),
            signature: key.sign(domain::VOTE, &msg),
        }
    }
}

/// Proof that a block was finalized: precommits from validators holding more than
/// two thirds of the voting power.
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
pub struct CommitCertificate {
    /// The height.
    pub height: Height,
    /// The consensus round in which it was decided.
    pub round: u32,
    /// The finalized block's hash.
    pub block_hash: Hash,
    /// The precommit signatures.
    pub signatures: Vec<CommitSignature>,
}

/// What a validator signs when it precommits a block. Kept here, outside the
/// consensus engine, so that anyone can check a certificate.
#[derive(BorshSerialize)]
struct VoteSignBytes<'a> {
    chain_id: &'a str,
    /// 0 prevote, 1 precommit.
    vote_type: u8,
    height: u64,
    round: i64,
    /// `None` for a nil vote.
    block_hash: Option<Hash>,
    validator: PublicKey,
}

/// The exact bytes (without domain prefix) a vote signature covers.
pub fn vote_sign_bytes(
    chain_id: &str,
    precommit: bool,
    height: u64,
    round: i64,
    block_hash: Option<Hash>,
    validator: PublicKey,
) -> Vec<u8> {
    codec::encode(&VoteSignBytes {
        chain_id,
        vote_type: u8::from(precommit),
        height,
        round,
        block_hash,
        validator,
    })
}

/// The bytes a precommit for `block_hash` covers.
pub fn precommit_sign_bytes(
    chain_id: &str,
    height: Height,
    round: u32,
    block_hash: Hash,
    validator: PublicKey,
) -> Vec<u8> {
    vote_sign_bytes(
        chain_id,
        true,
        height.0,
        i64::from(round),
        Some(block_hash),
        validator,
    )
}

/// A validator and its voting power.
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
pub struct ValidatorInfo {
    /// Its consensus key.
    pub public_key: PublicKey,
    /// Its voting power.
    pub voting_power: u64,
}

/// Hash of a validator set (in the order given, which is sorted by key).
pub fn validators_hash(validators: &[ValidatorInfo]) -> Hash {
    sha256(&codec::encode(&validators.to_vec()))
}

/// Why a certificate does not prove finality.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    /// Wrong height or block.
    #[error("certificate is for height {cert_height} block {cert_block}, expected height {height} block {block}")]
    WrongBlock {
        /// Certificate height.
        cert_height: Height,
        /// Certificate block.
        cert_block: Hash,
        /// Expected height.
        height: Height,
        /// Expected block.
        block: Hash,
    },
    /// Signer not in the set.
    #[error(
        "certificate for height {height} has a signature by {validator}, which is not a validator"
    )]
    UnknownValidator {
        /// Height.
        height: Height,
        /// Signer.
        validator: PublicKey,
    },
    /// Two signatures by one validator.
    #[error("certificate for height {height} has two signatures by {validator}")]
    Duplicate {
        /// Height.
        height: Height,
        /// Signer.
        validator: PublicKey,
    },
    /// A signature does not verify.
    #[error("certificate for height {height}: signature by validator {validator} does not verify")]
    BadSignature {
        /// Height.
        height: Height,
        /// Signer.
        validator: PublicKey,
    },
    /// The validator set's powers do not add up in u64 (a set no node can use).
    #[error("the validator set of height {height} has a total voting power that overflows")]
    PowerOverflow {
        /// The height.
        height: Height,
    },
    /// Not enough power.
    #[error("certificate for height {height} carries {signed} of {total} voting power; more than two thirds is needed")]
    Insufficient {
        /// Height.
        height: Height,
        /// Power that signed.
        signed: u64,
        /// Total power.
        total: u64,
    },
}

impl CommitCertificate {
    /// Check that more than 2/3 of `validators`' power signed a precommit for
    /// `block_hash` at `height`.
    pub fn verify(
        &self,
        chain_id: &str,
        height: Height,
        block_hash: Hash,
        validators: &[ValidatorInfo],
    ) -> Result<(), CertificateError> {
        if self.height != height || self.block_hash != block_hash {
            return Err(CertificateError::WrongBlock {
                cert_height: self.height,
                cert_block: self.block_hash,
                height,
                block: block_hash,
            });
        }
        let overflow = CertificateError::PowerOverflow { height };
        let total: u64 = validators
            .iter()
            .try_fold(0u64, |acc, v| acc.checked_add(v.voting_power))
            .ok_or(overflow)?;
        let mut seen = std::collections::BTreeSet::new();
        let mut signed: u64 = 0;
        for cs in &self.signatures {
            let v = validators
                .iter()
                .find(|v| v.public_key == cs.validator)
                .ok_or(CertificateError::UnknownValidator {
                    height,
                    validator: cs.validator,
                })?;
            if !seen.insert(cs.validator) {
                return Err(CertificateError::Duplicate {
                    height,
                    validator: cs.validator,
                });
            }
            let msg = precommit_sign_bytes(chain_id, height, self.round, block_hash, cs.validator);
            cs.validator
                .verify(domain::VOTE, &msg, &cs.signature)
                .map_err(|_| CertificateError::BadSignature {
                    height,
                    validator: cs.validator,
                })?;
            signed = signed
                .checked_add(v.voting_power)
                .ok_or(CertificateError::PowerOverflow { height })?;
        }
        // signed > 2/3 total  <=>  3*signed > 2*total
        if u128::from(signed) * 3 <= u128::from(total) * 2 {
            return Err(CertificateError::Insufficient {
                height,
                signed,
                total,
            });
        }
        Ok(())
    }
}

/// The outcome of one transaction in a committed block.
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
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// Applied.
    Applied,
    /// Ordered and recorded, but refused by the state machine; nothing changed
    /// except that the transaction's replay id is kept (it cannot be taken again).
    Rejected {
        /// Stable machine code, e.g. `not_authorized`.
        code: String,
        /// What was wrong and what to do.
        message: String,
    },
}

/// A transaction's receipt.
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
pub struct Receipt {
    /// The transaction.
    pub tx_id: TxId,
    /// What happened.
    #[serde(flatten)]
    pub status: TxStatus,
}
