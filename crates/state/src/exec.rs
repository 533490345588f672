//! Block execution over an overlay of writes.

use std::collections::BTreeMap;

use waybill_types::block::TxStatus;
use waybill_types::codec;
use waybill_types::hash::{sha256_parts, Hash};
use waybill_types::{Genesis, Height, Payload, Receipt, SignedTx, TxId};

use crate::trace::StateScan;
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
    /// Its replay id is already in state: the same transaction was committed before.
    #[error("transaction {replay_id} from {signer} was already committed (a replay); to do it again, sign a new transaction (another nonce)")]
    Replayed {
        /// The signer.
        signer: waybill_types::PublicKey,
        /// [`waybill_types::Transaction::replay_id`].
        replay_id: Hash,
    },
    /// Its expiry is not after the block's time.
    #[error("transaction from {signer} expired at {expires_at_ms} ms, not after the block time {block_time_ms} ms; sign it again with a later expiry")]
    Expired {
        /// The signer.
        signer: waybill_types::PublicKey,
        /// The transaction's expiry.
        expires_at_ms: u64,
        /// The block's time.
        block_time_ms: u64,
    },
    /// Its expiry lies further after the block's time than the replay window allows.
    #[error("transaction from {signer} expires at {expires_at_ms} ms, more than {window_ms} ms after the block time {block_time_ms} ms; choose an expiry within the window (is the signer's clock right?)")]
    ExpiryTooFar {
        /// The signer.
        signer: waybill_types::PublicKey,
        /// The transaction's expiry.
        expires_at_ms: u64,
        /// The block's time.
        block_time_ms: u64,
        /// [`waybill_types::limits::TX_EXPIRY_WINDOW_MS_MAX`].
        window_ms: u64,
    },
    /// Fails a stateless rule (wrong chain, bad field).
    #[error("{0}")]
    Stateless(String),
    /// The state could not be read: the node must halt.
    #[error(transparent)]
    State(#[from] StateReadError),
}

impl TxInvalid {
    /// Stable machine code (the API's code for the same refusal at submission).
    pub fn code(&self) -> &'static str {
        match self {
            TxInvalid::UnknownSigner { .. } => "unknown_signer",
            TxInvalid::Replayed { .. } => "replayed_tx",
            TxInvalid::Expired { .. } => "expired_tx",
            TxInvalid::ExpiryTooFar { .. } => "expiry_too_far",
            TxInvalid::Stateless(_) => "invalid_tx",
            TxInvalid::State(_) => "internal",
        }
    }
}

/// A rejection: recorded in the block with a code and message; nothing changes but
/// the transaction's replay id.
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

impl<'a, S: StateScan> Execution<'a, S> {
    /// Start executing a block on `base`: first the work due at the start of every
    /// block, before its transactions — replay ids whose expiry is not after the
    /// block time are removed, oldest first, at most
    /// [`REPLAY_IDS_EXPIRED_PER_BLOCK_MAX`](waybill_types::limits::REPLAY_IDS_EXPIRED_PER_BLOCK_MAX)
    /// (the rest roll over to the next block; an expired transaction is refused by
    /// its expiry whether or not its id is still kept).
    pub fn begin(base: &'a S, ctx: BlockContext) -> Result<Self, StateReadError> {
        let mut ex = Execution::new(base, ctx);
        ex.expire_replay_ids()?;
        Ok(ex)
    }

    fn expire_replay_ids(&mut self) -> Result<(), StateReadError> {
        const CHUNK: usize = 256;
        let max = waybill_types::limits::REPLAY_IDS_EXPIRED_PER_BLOCK_MAX;
        let prefix = [keys::REPLAY];
        let mut start = prefix.to_vec();
        let mut expired = Vec::new();
        'scan: loop {
            let rows = self.base.scan_from(&prefix, &start, CHUNK)?;
            let n_rows = rows.len();
            for (k, _) in rows {
                let expires_at_ms = k
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| StateReadError::Corrupt {
                        key: k.clone(),
                        reason: "replay key shorter than its expiry".into(),
                    })?;
                if expires_at_ms > self.ctx.time_ms || expired.len() >= max {
                    break 'scan;
                }
                start = [k.as_slice(), &[0]].concat();
                expired.push(k);
            }
            if n_rows < CHUNK {
                break;
            }
        }
        for k in expired {
            self.writes.insert(k, None);
        }
        Ok(())
    }
}

impl<'a, S: StateRead> Execution<'a, S> {
    /// Start executing a block on `base` without the start-of-block work (for reads
    /// and tests that apply transactions to a state directly); blocks use
    /// [`Execution::begin`].
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
        let block_time_ms = self.ctx.time_ms;
        let expires_at_ms = stx.tx.expires_at_ms;
        if expires_at_ms <= block_time_ms {
            return Err(TxInvalid::Expired {
                signer,
                expires_at_ms,
                block_time_ms,
            });
        }
        let window_ms = waybill_types::limits::TX_EXPIRY_WINDOW_MS_MAX;
        if expires_at_ms - block_time_ms > window_ms {
            return Err(TxInvalid::ExpiryTooFar {
                signer,
                expires_at_ms,
                block_time_ms,
                window_ms,
            });
        }
        let replay_id = stx.tx.replay_id();
        let replay_key = keys::replay(expires_at_ms, &replay_id);
        if self.get(&replay_key)?.is_some() {
            return Err(TxInvalid::Replayed { signer, replay_id });
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
        // Kept until the expiry passes (see `begin`), whatever the outcome.
        self.put(replay_key, Vec::new());
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

    /// Finish the block: the work due at its end (the subjects whose heads moved are
    /// folded into the heads tree, whose root the header commits to — see
    /// [`crate::open::heads_root`]), then the write set and the receipts, in
    /// transaction order.
    pub fn finish(mut self) -> Result<(WriteSet, Vec<Receipt>), StateReadError> {
        crate::open::update_heads_tree(self.base, &mut self.writes)?;
        Ok((self.writes, self.receipts))
    }
}
