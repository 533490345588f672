//! What every domain module shares: reading state, the block context, the overlay a
//! block executes in, rejections, and the [`Contract`] trait each payload implements.
//! This module imports no domain module (a test keeps the crate free of import
//! cycles); the block driver ([`crate::block`]) and the dispatch
//! ([`crate::dispatch`]) sit above the domains.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use waybill_gs1::Gtin;
use waybill_types::codec;
use waybill_types::hash::{sha256_parts, Hash};
use waybill_types::reject::RejectCode;
use waybill_types::{Genesis, Height, PublicKey, Receipt, TxId};

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

/// A committed state with a decided block's write set laid over it: the hashed
/// state after that block, readable before the store has written it (the node
/// builds its next block on this while the store writes the decided one). A write
/// set holds final values, not changes, so laying it over the state before or after
/// the store wrote it reads the same. Derived keys ([`crate::keys::is_derived`])
/// are not part of a write set; reading one here is a bug.
#[derive(Clone, Copy, Debug)]
pub struct Pending<'a, S: ?Sized> {
    /// The committed state.
    pub base: &'a S,
    /// The decided block's writes.
    pub writes: &'a WriteSet,
}

impl<S: StateRead + ?Sized> StateRead for Pending<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError> {
        assert!(
            !crate::keys::is_derived(key),
            "a pending block's state has no derived index"
        );
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }
}

impl<S: StateScan + ?Sized> StateScan for Pending<'_, S> {
    /// The base's rows merged with the writes in key order: a written key shows its
    /// new value, a deleted one is left out.
    fn scan_from(&self, prefix: &[u8], start: &[u8], max: usize) -> Result<Rows, StateReadError> {
        assert!(
            !crate::keys::is_derived(prefix),
            "a pending block's state has no derived index"
        );
        let mut out: Rows = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        let mut writes = self
            .writes
            .range(start.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .peekable();
        let mut from = start.to_vec();
        loop {
            let page = self.base.scan_from(prefix, &from, max)?;
            let more = page.len() == max;
            if let Some((k, _)) = page.last() {
                from = [k.as_slice(), &[0]].concat();
            }
            for (k, v) in page {
                // Written keys before this one, then this one as written or as stored.
                while let Some((wk, wv)) = writes.next_if(|(wk, _)| wk.as_slice() < k.as_slice()) {
                    if let Some(wv) = wv {
                        out.push((wk.clone(), wv.clone()));
                    }
                    if out.len() >= max {
                        return Ok(out);
                    }
                }
                match writes.next_if(|(wk, _)| wk.as_slice() == k.as_slice()) {
                    Some((_, Some(wv))) => out.push((k, wv.clone())),
                    Some((_, None)) => {}
                    None => out.push((k, v)),
                }
                if out.len() >= max {
                    return Ok(out);
                }
            }
            if !more {
                break;
            }
        }
        for (wk, wv) in writes {
            if let Some(wv) = wv {
                out.push((wk.clone(), wv.clone()));
                if out.len() >= max {
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// The digest of a write set: SHA-256 of its canonical encoding as an ordered list
/// (streamed into the hasher; [`encode_write_set`] gives the same bytes).
pub fn write_set_digest(writes: &WriteSet) -> Hash {
    waybill_types::hash::sha256_encoded(&WriteList(writes))
}

/// The canonical encoding of a write set: borsh of the ordered list of
/// `(key, Option<value>)`, as stored beside each block.
pub fn encode_write_set(writes: &WriteSet) -> Vec<u8> {
    codec::encode(&WriteList(writes))
}

/// A write set encoded as the list its digest and its stored form are defined on
/// (u32 length, then each pair), without collecting the list first.
struct WriteList<'a>(&'a WriteSet);

impl BorshSerialize for WriteList<'_> {
    fn serialize<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        let n = u32::try_from(self.0.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        n.serialize(w)?;
        for pair in self.0.iter() {
            pair.serialize(w)?;
        }
        Ok(())
    }
}

/// The digest of a block's outcomes: SHA-256 of the canonical encoding of the list of
/// (transaction id, rejection code or none), in block order. Codes, not messages: a
/// message is prose that may be reworded without changing what happened.
pub fn outcomes_digest(receipts: &[Receipt]) -> Hash {
    let list: Vec<(&TxId, Option<&str>)> = receipts
        .iter()
        .map(|r| {
            let code = match &r.status {
                waybill_types::TxStatus::Applied => None,
                waybill_types::TxStatus::Rejected { code, .. } => Some(code.as_str()),
            };
            (&r.tx_id, code)
        })
        .collect();
    waybill_types::hash::sha256_encoded(&list)
}

/// `state_hash(h) = SHA-256(state_hash(h-1) ‖ digest(writes(h)) ‖ outcomes(h))`: the
/// hashed state and which of the block's transactions were rejected, and why (the
/// audit trail, which shows outcomes, is a derived index outside the state).
pub fn next_state_hash(prev: &Hash, writes: &WriteSet, receipts: &[Receipt]) -> Hash {
    state_hash_from_digest(prev, &write_set_digest(writes), receipts)
}

/// [`next_state_hash`] from the write set's digest.
pub(crate) fn state_hash_from_digest(
    prev: &Hash,
    writes_digest: &Hash,
    receipts: &[Receipt],
) -> Hash {
    sha256_parts(&[&prev.0, &writes_digest.0, &outcomes_digest(receipts).0])
}

/// The state hash at height 0: `SHA-256(genesis hash ‖ digest(genesis writes))`.
pub fn genesis_state_hash(genesis: &Genesis, writes: &WriteSet) -> Hash {
    sha256_parts(&[&genesis.hash().0, &write_set_digest(writes).0])
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
    /// A `record_purge` signed by a key outside the validator set at the block's height.
    #[error(
        "a record_purge is signed by a validator's key; {signer} is no validator at this height"
    )]
    NotAValidator {
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
            TxInvalid::UnknownSigner { .. } | TxInvalid::NotAValidator { .. } => "unknown_signer",
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
    /// Why, as a stable code.
    pub code: RejectCode,
    /// What was wrong and what to do.
    pub message: String,
}

impl Rejection {
    /// A rejection with `code` and `message`.
    pub fn new(code: RejectCode, message: impl Into<String>) -> Rejection {
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
    pub(crate) base: &'a S,
    /// Values read from `base` during this block (`base` is one committed snapshot,
    /// so they cannot change under it). Consulted after `writes`, so a record the
    /// block changed is read as changed. A member signing 20 transactions of a block
    /// is read from the store once, not 60 times.
    read_cache: std::cell::RefCell<std::collections::HashMap<Vec<u8>, Option<Vec<u8>>>>,
    pub(crate) ctx: BlockContext,
    pub(crate) writes: WriteSet,
    /// The block's derived index rows ([`crate::index`]), not hashed.
    pub(crate) index: Index,
    pub(crate) receipts: Vec<Receipt>,
}

impl<'a, S: StateRead> Execution<'a, S> {
    /// Start executing a block on `base` without the start-of-block work (for reads
    /// and tests that apply transactions to a state directly); blocks use
    /// [`Execution::begin`].
    pub fn new(base: &'a S, ctx: BlockContext) -> Self {
        Execution {
            base,
            read_cache: Default::default(),
            ctx,
            writes: WriteSet::new(),
            index: Index::new(),
            receipts: Vec::new(),
        }
    }

    /// The block context.
    pub fn context(&self) -> &BlockContext {
        &self.ctx
    }

    /// Read through this block's writes to committed state.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError> {
        assert!(
            !crate::keys::is_derived(key),
            "execution reads only the hashed state, never a derived index"
        );
        if let Some(v) = self.writes.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.read_cache.borrow().get(key) {
            return Ok(v.clone());
        }
        let v = self.base.get(key)?;
        self.read_cache.borrow_mut().insert(key.to_vec(), v.clone());
        Ok(v)
    }

    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        assert!(
            !crate::keys::is_derived(&key),
            "derived index rows are not state (crate::index)"
        );
        self.writes.insert(key, Some(value));
    }

    /// Add `entry` to the derived index row of `prefix` for this block.
    pub(crate) fn index_push(&mut self, prefix: &[u8], entry: &[u8]) {
        index_push(&mut self.index, prefix, self.ctx.height.0, entry);
    }
}

/// A block's derived index rows ([`crate::index`]), key → entries (u32 BE each).
pub type Index = BTreeMap<Vec<u8>, Vec<u8>>;

/// Add `entry` to the derived row of `prefix` at `height` (an entry equal to the
/// row's last is not repeated: a transaction naming a subject twice is listed once).
/// A row's entries all have one size, set by its kind (u32 for the audit trail and
/// the open-tier index, seq and role for the identifier → events index).
pub(crate) fn index_push(index: &mut Index, prefix: &[u8], height: u64, entry: &[u8]) {
    let row = index
        .entry(crate::keys::index_row(prefix, height))
        .or_default();
    if !row.ends_with(entry) {
        row.extend_from_slice(entry);
    }
}

/// Rows of a key range scan.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// A state that can also list keys by prefix (the store's snapshot; a map in tests).
pub trait StateScan: StateRead {
    /// Up to `max` entries with key prefix `prefix` and key `>= start`, in key order.
    fn scan_from(&self, prefix: &[u8], start: &[u8], max: usize) -> Result<Rows, StateReadError>;
}

impl StateScan for BTreeMap<Vec<u8>, Vec<u8>> {
    fn scan_from(&self, prefix: &[u8], start: &[u8], max: usize) -> Result<Rows, StateReadError> {
        Ok(self
            .range(start.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(max)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// Decode a record stored in state. Records are written only by this crate, so a
/// record that does not decode means the store was corrupted.
pub fn decode_record<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, StateReadError> {
    borsh::from_slice(bytes).map_err(|e| StateReadError::Corrupt {
        key: key.to_vec(),
        reason: e.to_string(),
    })
}

/// Encode a record for state.
pub fn encode_record<T: BorshSerialize>(value: &T) -> Vec<u8> {
    waybill_types::codec::encode(value)
}

/// Who sent the transaction being executed, and what kind it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    /// The signer (a registered member; its signature was verified).
    pub signer: PublicKey,
    /// The transaction's id.
    pub tx_id: TxId,
}

/// What executes one kind of payload: a domain module implements it for each payload
/// struct it owns, and [`crate::dispatch`] routes to it. See `docs/CONTRACTS.md`.
pub(crate) trait Contract {
    /// Check the payload against state and return the writes it asks for (a handler
    /// only reads; the block applies the writes if it succeeds, and none if it fails).
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError>;

    /// One line for the audit trail.
    fn describe(&self) -> String;

    /// The product whose audit trail records the transaction when it applies.
    fn audited_product(&self) -> Option<&Gtin> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pending block's state reads and scans as the state with its writes applied,
    /// whatever the page size (checked against that state built out in full).
    #[test]
    fn a_pending_block_reads_and_scans_as_its_state_applied() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        for case in 0..200 {
            let mut base = BTreeMap::new();
            let mut writes = WriteSet::new();
            for _ in 0..(next() % 40) {
                let k = vec![b'p', (next() % 3) as u8, (next() % 16) as u8];
                base.insert(k, vec![(next() % 256) as u8]);
            }
            for _ in 0..(next() % 40) {
                let k = vec![b'p', (next() % 3) as u8, (next() % 16) as u8];
                let v = (next() % 3 != 0).then(|| vec![(next() % 256) as u8]);
                writes.insert(k, v);
            }
            let mut applied = base.clone();
            for (k, v) in &writes {
                match v {
                    Some(v) => applied.insert(k.clone(), v.clone()),
                    None => applied.remove(k),
                };
            }
            let pending = Pending {
                base: &base,
                writes: &writes,
            };
            for k in applied.keys().chain(writes.keys()) {
                assert_eq!(
                    pending.get(k).expect("reads"),
                    applied.get(k).cloned(),
                    "case {case}"
                );
            }
            let prefix = [b'p', (next() % 3) as u8];
            let start = [b'p', prefix[1], (next() % 16) as u8];
            for max in [1, 2, 3, 7, 100] {
                assert_eq!(
                    pending.scan_from(&prefix, &start, max).expect("scans"),
                    applied.scan_from(&prefix, &start, max).expect("scans"),
                    "case {case}, max {max}"
                );
            }
        }
    }
}
