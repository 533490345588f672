//! Block execution over an overlay of writes.

use std::collections::BTreeMap;

use waybill_types::block::TxStatus;
use waybill_types::codec;
use waybill_types::hash::{sha256_parts, Hash};
use waybill_types::{Genesis, Height, Payload, Receipt, SignedTx, TxId};

use crate::{audit, catalog, credentials, identity, keys, trace};

/// Reads committed state. Implemented by the store over a redb snapshot.
pub trait StateRead {
    /// The value at `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError>;
}

/// State could not be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StateReadError {
    /// The store failed.
    #[error("state store failed: {0}")]
    Store(String),
    /// A stored record does not decode.
    #[error("state record at key {} is corrupt: {reason}", hex_key(.key))]
    Corrupt {
        /// The key.
        key: Vec<u8>,
        /// The decoder's reason.
        reason: String,
    },
}

fn hex_key(k: &[u8]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

/// An in-memory map is a state too (tests, `waybill verify` replay).
impl StateRead for BTreeMap<Vec<u8>, Vec<u8>> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError> {
        Ok(BTreeMap::get(self, key).cloned())
    }
}

/// A block's writes, ordered by key; `None` deletes.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The digest of a write set: SHA-256 of its canonical encoding as an ordered list.
pub fn write_set_digest(writes: &WriteSet) -> Hash {
    let list: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = writes.iter().collect();
    waybill_types::sha256(&codec::encode(&list))
}

/// `state_hash(h) = SHA-256(state_hash(h-1) ‖ digest(writes(h)))`.
pub fn next_state_hash(prev: &Hash, writes: &WriteSet) -> Hash {
    sha256_parts(&[&prev.0, &write_set_digest(writes).0])
}

/// The state hash at height 0: `SHA-256(genesis hash ‖ digest(genesis writes))`.
pub fn genesis_state_hash(genesis: &Genesis, writes: &WriteSet) -> Hash {
    next_state_hash(&genesis.hash(), writes)
}

/// The writes that genesis makes: organizations, their admins as members, the
/// genesis hash.
pub fn apply_genesis(genesis: &Genesis) -> WriteSet {
    let mut w = WriteSet::new();
    identity::genesis_writes(genesis, &mut w);
    crate::governance::genesis_writes(genesis, &mut w);
    w.insert(keys::genesis_hash(), Some(genesis.hash().0.to_vec()));
    w
}

/// What a block's transactions execute in.
#[derive(Clone, Debug)]
pub struct BlockContext {
    /// The chain.
    pub chain_id: String,
    /// The block's height.
    pub height: Height,
    /// The block's time, ms since the Unix epoch.
    pub time_ms: u64,
}

/// A transaction that cannot be part of a block at all (unlike a rejected one,
/// which is recorded with its reason). A proposer leaves it out; a validator
/// refuses a block that contains it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TxInvalid {
    /// The signer is not a registered member.
    #[error(
        "signer {signer} is not a registered member; ask an organization admin to register the key"
    )]
    UnknownSigner {
        /// The signer.
        signer: waybill_types::PublicKey,
    },
    /// Already used.
    #[error("sequence number {got} was already used by {signer}; the next one is {expected}")]
    Replayed {
        /// The signer.
        signer: waybill_types::PublicKey,
        /// The next valid number.
        expected: u64,
        /// The number in the transaction.
        got: u64,
    },
    /// Skips ahead.
    #[error("sequence number {got} from {signer} is out of order; the next one is {expected}")]
    OutOfOrder {
        /// The signer.
        signer: waybill_types::PublicKey,
        /// The next valid number.
        expected: u64,
        /// The number in the transaction.
        got: u64,
    },
    /// Fails a stateless rule (wrong chain, bad field).
    #[error("{0}")]
    Stateless(String),
    /// The state could not be read: the node must halt.
    #[error(transparent)]
    State(#[from] StateReadError),
}

/// A rejection: recorded in the block with a code and message; nothing changes but
/// the signer's sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Stable machine code.
    pub code: &'static str,
    /// What was wrong and what to do.
    pub message: String,
}

impl Rejection {
    /// A rejection with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Rejection {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

/// The writes a domain handler asks for, applied only if it succeeds.
pub(crate) type Writes = Vec<(Vec<u8>, Vec<u8>)>;

/// A handler failed: either the transaction is rejected, or the state could not be read.
#[derive(Debug)]
pub(crate) enum HandlerError {
    Reject(Rejection),
    State(StateReadError),
}

impl From<StateReadError> for HandlerError {
    fn from(e: StateReadError) -> Self {
        HandlerError::State(e)
    }
}

impl From<Rejection> for HandlerError {
    fn from(r: Rejection) -> Self {
        HandlerError::Reject(r)
    }
}

/// A block being executed: committed state below, this block's writes on top.
pub struct Execution<'a, S: StateRead> {
    base: &'a S,
    ctx: BlockContext,
    writes: WriteSet,
    receipts: Vec<Receipt>,
}

impl<'a, S: StateRead> Execution<'a, S> {
    /// Start executing a block on `base`.
    pub fn new(base: &'a S, ctx: BlockContext) -> Self {
        Execution {
            base,
            ctx,
            writes: WriteSet::new(),
            receipts: Vec::new(),
        }
    }

    /// The block context.
    pub fn context(&self) -> &BlockContext {
        &self.ctx
    }

    /// Read through this block's writes to committed state.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    /// Apply one transaction whose signature was already verified. `Ok` with the
    /// receipt if it belongs in the block (applied or rejected); `Err` if it cannot
    /// be in a block at all, in which case nothing was written.
    pub fn apply(&mut self, stx: &SignedTx, tx_id: TxId) -> Result<&Receipt, TxInvalid> {
        stx.check_stateless(&self.ctx.chain_id)
            .map_err(|e| TxInvalid::Stateless(e.to_string()))?;
        let signer = stx.tx.signer;
        if self.get(&keys::member(&signer))?.is_none() {
            return Err(TxInvalid::UnknownSigner { signer });
        }
        let last = self.last_seq(&signer)?;
        let expected = last.checked_add(1).ok_or(TxInvalid::Stateless(
            "sequence number space exhausted".into(),
        ))?;
        if stx.tx.seq < expected {
            return Err(TxInvalid::Replayed {
                signer,
                expected,
                got: stx.tx.seq,
            });
        }
        if stx.tx.seq > expected {
            return Err(TxInvalid::OutOfOrder {
                signer,
                expected,
                got: stx.tx.seq,
            });
        }
        // Handlers only read and return their writes; a rejection writes nothing.
        // The signer's organization as it was before the transaction.
        let org = identity::load_member(self, &signer)?.map(|m| m.org);
        let status = match self.dispatch(stx, tx_id) {
            Ok(writes) => {
                for (k, v) in writes {
                    self.put(k, v);
                }
                for (k, v) in
                    audit::product_entries(&stx.tx.payload, &self.ctx, tx_id, signer, org.as_ref())
                {
                    self.put(k, v);
                }
                TxStatus::Applied
            }
            Err(HandlerError::Reject(r)) => TxStatus::Rejected {
                code: r.code.to_string(),
                message: r.message,
            },
            Err(HandlerError::State(e)) => return Err(TxInvalid::State(e)),
        };
        self.put(keys::seq(&signer), stx.tx.seq.to_le_bytes().to_vec());
        for (k, v) in audit::actor_entries(
            &stx.tx.payload,
            &self.ctx,
            tx_id,
            signer,
            org.as_ref(),
            &status,
        ) {
            self.put(k, v);
        }
        self.receipts.push(Receipt { tx_id, status });
        Ok(self.receipts.last().expect("a receipt was just pushed"))
    }

    /// The last sequence number `signer` used (0 if none).
    pub fn last_seq(&self, signer: &waybill_types::PublicKey) -> Result<u64, StateReadError> {
        let key = keys::seq(signer);
        match self.get(&key)? {
            None => Ok(0),
            Some(b) => {
                let arr: [u8; 8] =
                    b.as_slice()
                        .try_into()
                        .map_err(|_| StateReadError::Corrupt {
                            key: key.clone(),
                            reason: format!("sequence number is {} bytes, expected 8", b.len()),
                        })?;
                Ok(u64::from_le_bytes(arr))
            }
        }
    }

    fn dispatch(&self, stx: &SignedTx, tx_id: TxId) -> Result<Writes, HandlerError> {
        let signer = stx.tx.signer;
        match &stx.tx.payload {
            Payload::RegisterMember {
                member,
                name,
                roles,
            } => identity::register_member(self, signer, *member, name, roles),
            Payload::SetMemberRoles { member, roles } => {
                identity::set_roles(self, signer, *member, roles)
            }
            Payload::RevokeMember { member, reason } => {
                identity::revoke_member(self, signer, *member, reason)
            }
            Payload::RegisterProduct {
                gtin,
                name,
                brand,
                category,
                origin_country,
            } => catalog::register_product(
                self,
                signer,
                tx_id,
                catalog::NewProduct {
                    gtin,
                    name,
                    brand,
                    category,
                    origin_country,
                },
            ),
            Payload::RegisterLot {
                gtin,
                lot,
                origin_gln,
                produced_on,
                quantity,
                unit,
                inputs,
                raw_materials,
                claims,
            } => catalog::register_lot(
                self,
                signer,
                tx_id,
                catalog::NewLot {
                    gtin,
                    lot,
                    origin_gln: origin_gln.as_ref(),
                    produced_on,
                    quantity: *quantity,
                    unit,
                    inputs,
                    raw_materials,
                    claims,
                },
            ),
            Payload::ProposeGovernance { action, reason } => {
                crate::governance::propose(self, signer, action, reason)
            }
            Payload::ApproveGovernance { proposal } => {
                crate::governance::approve(self, signer, *proposal)
            }
            Payload::RegisterLocation {
                gln,
                name,
                kind,
                address,
                country,
                latitude,
                longitude,
            } => catalog::register_location(
                self,
                signer,
                tx_id,
                catalog::NewLocation {
                    gln,
                    name,
                    kind,
                    address,
                    country,
                    latitude: latitude.as_ref(),
                    longitude: longitude.as_ref(),
                },
            ),
            Payload::SetLocationDelegate { gln, org, allowed } => {
                catalog::set_delegate(self, signer, gln, org, *allowed)
            }
            Payload::RecordQualification {
                org,
                kind,
                issuer,
                number,
                scope,
                valid_from,
                valid_to,
            } => credentials::record(
                self,
                signer,
                tx_id,
                credentials::NewQualification {
                    org,
                    kind,
                    issuer,
                    number,
                    scope,
                    valid_from,
                    valid_to,
                },
            ),
            Payload::RevokeQualification {
                org,
                number,
                reason,
            } => credentials::revoke(self, signer, org, number, reason),
            Payload::RequireQualification {
                product_category,
                kind,
            } => credentials::set_requirement(self, signer, product_category, kind.as_deref()),
            Payload::GrantRead {
                org,
                category,
                allowed,
            } => crate::access::grant_read(self, signer, org, *category, *allowed),
            Payload::CaptureEpcis { document } => trace::capture(self, signer, tx_id, document),
        }
    }

    /// Finish: the write set and the receipts, in transaction order.
    pub fn finish(self) -> (WriteSet, Vec<Receipt>) {
        (self.writes, self.receipts)
    }
}
