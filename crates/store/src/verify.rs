//! Tamper detection: re-check every hash link, transaction root, signature, commit
//! certificate and state commitment, and name the first record that is wrong.

use std::collections::BTreeMap;

use waybill_state::{BlockContext, Execution, WriteSet};
use waybill_types::block::{validators_hash, BlockHeader, ValidatorInfo};
use waybill_types::keys::verify_batch;
use waybill_types::{Block, Genesis, Hash, Height, SignedTx};

use crate::{Rows, Store, StoreError};

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// First height checked.
    pub from: Height,
    /// Last height checked (the head).
    pub to: Height,
    /// Transactions checked.
    pub n_txs: u64,
    /// Whether every block was re-executed from genesis and the stored state compared.
    pub replayed: bool,
    /// Number of state entries compared (full mode).
    pub n_state_entries: usize,
    /// The head's state hash.
    pub state_hash: Hash,
}

/// The first thing found wrong.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A record at a height is wrong.
    #[error("height {height}, {record}: {reason}")]
    Bad {
        /// The height.
        height: u64,
        /// Which record: "block header", "transaction 3 (id …)", "commit certificate", …
        record: String,
        /// What is wrong.
        reason: String,
    },
    /// The store itself could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VerifyError {
    /// The height where verification failed, if it is about a record.
    pub fn height(&self) -> Option<u64> {
        match self {
            VerifyError::Bad { height, .. } => Some(*height),
            VerifyError::Store(StoreError::Corrupt { height, .. }) => Some(*height),
            VerifyError::Store(_) => None,
        }
    }
}

fn bad(height: u64, record: impl Into<String>, reason: impl Into<String>) -> VerifyError {
    VerifyError::Bad {
        height,
        record: record.into(),
        reason: reason.into(),
    }
}

/// The validator set in force at `height`, as the stored state records it.
pub fn validator_set_at(store: &Store, height: Height) -> Result<Vec<ValidatorInfo>, VerifyError> {
    let snap = store.snapshot()?;
    waybill_state::governance::validator_infos_at(&snap, height)
        .map_err(|e| bad(height.0, "validator set", e.to_string()))
}

/// Check one block against its predecessor's header facts, without executing it.
fn check_block(
    store: &Store,
    genesis: &Genesis,
    height: Height,
    prev_hash: Hash,
    prev_time_ms: u64,
    prev_state_hash: Hash,
    vs: &[ValidatorInfo],
) -> Result<(Block, WriteSet), VerifyError> {
    let block = read_block(store, height)?;
    check_header_links(&block.header, genesis, height, prev_hash, prev_time_ms)?;
    check_block_txs(store, &block, height)?;
    if block.header.validators_hash != validators_hash(vs) {
        return Err(bad(
            height.0,
            "block header",
            "validators hash does not match the validator set in force",
        ));
    }
    let cert = store
        .certificate(height)
        .map_err(|e| bad(height.0, "commit certificate", e.to_string()))?
        .ok_or_else(|| bad(height.0, "commit certificate", "missing"))?;
    cert.verify(&genesis.chain_id, height, block.hash(), vs)
        .map_err(|e| bad(height.0, "commit certificate", e.to_string()))?;
    let (ws, receipts) = read_block_records(store, &block, height)?;
    check_header_roots(store, &block.header, (&ws, &receipts), prev_state_hash)?;
    Ok((block, ws))
}

/// The stored block at `height`, decoded.
fn read_block(store: &Store, height: Height) -> Result<Block, VerifyError> {
    let h = height.0;
    let bytes = store
        .block_bytes(height)?
        .ok_or_else(|| bad(h, "block", "missing"))?;
    waybill_types::codec::decode(&bytes, waybill_types::limits::BLOCK_BYTES_MAX, "block")
        .map_err(|e| bad(h, "block", format!("does not decode: {e}")))
}

/// The header's height, chain id, link to the previous block and time.
fn check_header_links(
    hd: &BlockHeader,
    genesis: &Genesis,
    height: Height,
    prev_hash: Hash,
    prev_time_ms: u64,
) -> Result<(), VerifyError> {
    let h = height.0;
    if hd.height != height {
        return Err(bad(h, "block header", format!("says height {}", hd.height)));
    }
    if hd.chain_id != genesis.chain_id {
        return Err(bad(
            h,
            "block header",
            format!("chain id `{}` is not `{}`", hd.chain_id, genesis.chain_id),
        ));
    }
    if hd.prev_hash != prev_hash {
        return Err(bad(
            h,
            "block header",
            format!(
                "previous hash {} does not match block {} hash {prev_hash}",
                hd.prev_hash,
                h - 1
            ),
        ));
    }
    if hd.time_ms <= prev_time_ms {
        return Err(bad(
            h,
            "block header",
            format!(
                "time {} is not after the previous block's {prev_time_ms}",
                hd.time_ms
            ),
        ));
    }
    Ok(())
}

/// The block's transactions: signatures first, so a flipped byte names its
/// transaction; then each where the transaction index says; then the body's roots.
fn check_block_txs(store: &Store, block: &Block, height: Height) -> Result<(), VerifyError> {
    let h = height.0;
    let encoded: Vec<Vec<u8>> = block.txs.iter().map(SignedTx::encode).collect();
    let items: Vec<_> = block
        .txs
        .iter()
        .map(|t| (t.tx.signer, t.signed_message(), t.signature))
        .collect();
    if let Err((i, e)) = verify_batch(&items) {
        let id = SignedTx::id_of(&encoded[i]);
        return Err(bad(h, format!("transaction {i} (id {id})"), e.to_string()));
    }
    for (i, bytes) in encoded.iter().enumerate() {
        let id = SignedTx::id_of(bytes);
        match store.tx_location(&id)? {
            Some(loc) if loc.height == height && loc.index as usize == i => {}
            other => {
                return Err(bad(
                    h,
                    format!("transaction {i} (id {id})"),
                    format!("is not where the transaction index says ({other:?}); the transaction was altered"),
                ))
            }
        }
    }
    block
        .check_body()
        .map_err(|e| bad(h, "block body", e.to_string()))
}

/// The block's write set and receipts, after checking that it and one receipt per
/// transaction are stored.
fn read_block_records(
    store: &Store,
    block: &Block,
    height: Height,
) -> Result<(WriteSet, Vec<waybill_types::Receipt>), VerifyError> {
    let h = height.0;
    let ws = store
        .write_set(height)
        .map_err(|e| bad(h, "write set", e.to_string()))?
        .ok_or_else(|| bad(h, "write set", "missing"))?;
    let receipts = store
        .receipts(height)
        .map_err(|e| bad(h, "receipts", e.to_string()))?
        .ok_or_else(|| bad(h, "receipts", "missing"))?;
    if receipts.len() != block.txs.len() {
        return Err(bad(
            h,
            "receipts",
            format!(
                "{} receipts for {} transactions",
                receipts.len(),
                block.txs.len()
            ),
        ));
    }
    Ok((ws, receipts))
}

/// The state hash, open-tier root and heads root the header commits to, against the
/// write set and receipts (and, for the heads root of a block that moved no head,
/// the previous block's).
fn check_header_roots(
    store: &Store,
    hd: &BlockHeader,
    (ws, receipts): (&WriteSet, &[waybill_types::Receipt]),
    prev_state_hash: Hash,
) -> Result<(), VerifyError> {
    let h = hd.height.0;
    let state_hash = waybill_state::next_state_hash(&prev_state_hash, ws, receipts);
    if state_hash != hd.state_hash {
        return Err(bad(
            h,
            "write set or receipts",
            format!(
                "gives state hash {state_hash}, header commits to {}",
                hd.state_hash
            ),
        ));
    }
    let open_root = waybill_state::open::open_root(ws, h);
    if open_root != hd.open_root {
        return Err(bad(
            h,
            "open-tier root",
            format!(
                "the write set's open records give {open_root}, header commits to {}",
                hd.open_root
            ),
        ));
    }
    let commit_root = waybill_state::commitments::commit_root(ws, h);
    if commit_root != hd.commit_root {
        return Err(bad(
            h,
            "commitment root",
            format!(
                "the write set's commitments give {commit_root}, header commits to {}",
                hd.commit_root
            ),
        ));
    }
    // The heads tree's root: written by this block if it moved a head, else the
    // previous block's.
    let heads_root = match waybill_state::open::heads_root_written(ws) {
        Some(r) => r,
        None if h == 1 => Hash(waybill_types::smt::EMPTY),
        None => {
            store
                .block(Height(h - 1))?
                .ok_or_else(|| bad(h - 1, "block", "missing"))?
                .header
                .heads_root
        }
    };
    if heads_root != hd.heads_root {
        return Err(bad(
            h,
            "heads root",
            format!(
                "the write set's heads tree gives {heads_root}, header commits to {}",
                hd.heads_root
            ),
        ));
    }
    Ok(())
}

/// Verify the newest `last_n` blocks (hash links, roots, signatures, certificates,
/// write-set digests, receipts) — the start-up check. `last_n = u64::MAX` checks all
/// blocks without re-executing them.
pub fn verify_recent(store: &Store, last_n: u64) -> Result<VerifyReport, VerifyError> {
    walk(store, last_n, None)
}

/// Verify every record of every table without re-executing a block — the node's
/// background check: every block as in [`verify_recent`], the transaction index
/// entry by entry, and the stored state against genesis plus every stored write set
/// (each write set being bound to its header's state hash). A damaged page anywhere
/// in the data is read here and named by the first height it touches.
pub fn verify_stored(store: &Store) -> Result<VerifyReport, VerifyError> {
    let genesis = store.genesis()?.ok_or(StoreError::NoGenesis {
        path: store.path().to_string(),
    })?;
    let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    apply_writes(&mut state, &waybill_state::apply_genesis(&genesis));
    let mut report = walk(store, u64::MAX, Some(&mut state))?;
    check_tx_index(store, report.to, report.n_txs)?;
    report.n_state_entries = compare_state(store, &state, report.to)?;
    Ok(report)
}

fn walk(
    store: &Store,
    last_n: u64,
    mut fold: Option<&mut BTreeMap<Vec<u8>, Vec<u8>>>,
) -> Result<VerifyReport, VerifyError> {
    let genesis = store.genesis()?.ok_or(StoreError::NoGenesis {
        path: store.path().to_string(),
    })?;
    let head = store.head()?;
    let from = Height(
        head.height
            .0
            .saturating_sub(last_n.saturating_sub(1))
            .max(1),
    );
    let (mut prev_hash, mut prev_time, mut prev_state) = if from.0 <= 1 {
        (
            Hash::ZERO,
            genesis.genesis_time_ms,
            store.genesis_state_hash()?,
        )
    } else {
        let p = Height(from.0 - 1);
        let b = store
            .block(p)?
            .ok_or_else(|| bad(p.0, "block", "missing"))?;
        (b.hash(), b.header.time_ms, b.header.state_hash)
    };
    let mut n_txs = 0u64;
    for h in from.0..=head.height.0 {
        let vs = validator_set_at(store, Height(h))?;
        let (block, ws) = check_block(
            store,
            &genesis,
            Height(h),
            prev_hash,
            prev_time,
            prev_state,
            &vs,
        )?;
        if let Some(state) = fold.as_deref_mut() {
            apply_writes(state, &ws);
        }
        n_txs += block.txs.len() as u64;
        prev_hash = block.hash();
        prev_time = block.header.time_ms;
        prev_state = block.header.state_hash;
    }
    check_head(store, head.height, prev_hash, prev_state)?;
    Ok(VerifyReport {
        from,
        to: head.height,
        n_txs,
        replayed: false,
        n_state_entries: 0,
        state_hash: prev_state,
    })
}

fn check_head(
    store: &Store,
    height: Height,
    block_hash: Hash,
    state_hash: Hash,
) -> Result<(), VerifyError> {
    let head = store.head()?;
    // A running node may have committed more blocks since the check began: then the
    // head is newer than what was checked, which is no inconsistency (the next check
    // covers it). A head *behind* the checked blocks, or a different head at the same
    // height, is.
    if head.height > height {
        return Ok(());
    }
    if head.height < height
        || (head.height.0 > 0 && (head.block_hash != block_hash || head.state_hash != state_hash))
    {
        return Err(bad(
            height.0,
            "head record",
            "does not match the last block",
        ));
    }
    Ok(())
}

/// Verify everything: every block as in [`verify_recent`], plus re-execution of
/// every transaction from genesis (write sets and receipts must match what is
/// stored), plus a comparison of the replayed state with the stored state.
pub fn verify_full(store: &Store) -> Result<VerifyReport, VerifyError> {
    let genesis = store.genesis()?.ok_or(StoreError::NoGenesis {
        path: store.path().to_string(),
    })?;
    let head = store.head()?;
    let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let genesis_writes = waybill_state::apply_genesis(&genesis);
    let mut prev_state = waybill_state::genesis_state_hash(&genesis, &genesis_writes);
    if prev_state != store.genesis_state_hash()? {
        return Err(bad(
            0,
            "genesis",
            "stored genesis state hash does not match the genesis file",
        ));
    }
    apply_writes(&mut state, &genesis_writes);
    let mut prev_hash = Hash::ZERO;
    let mut prev_time = genesis.genesis_time_ms;
    let mut n_txs = 0u64;
    let mut index = waybill_state::index::Index::new();
    for h in 1..=head.height.0 {
        let height = Height(h);
        // The validator set comes from the replayed state, not the stored one.
        let replayed_vs = waybill_state::governance::validator_infos_at(&state, height)
            .map_err(|e| bad(h, "validator set", e.to_string()))?;
        let (block, stored_ws) = check_block(
            store,
            &genesis,
            height,
            prev_hash,
            prev_time,
            prev_state,
            &replayed_vs,
        )?;
        let ex = replay_block(store, &state, &genesis.chain_id, &block, &stored_ws)?;
        apply_writes(&mut state, &ex.writes);
        index.extend(ex.index);
        n_txs += block.txs.len() as u64;
        prev_hash = block.hash();
        prev_time = block.header.time_ms;
        prev_state = block.header.state_hash;
    }
    check_head(store, head.height, prev_hash, prev_state)?;
    check_tx_index(store, head.height, n_txs)?;
    let n_state_entries = compare_state(store, &state, head.height)?;
    compare_index(store, &index, head.height)?;
    Ok(VerifyReport {
        from: Height(1),
        to: head.height,
        n_txs,
        replayed: true,
        n_state_entries,
        state_hash: prev_state,
    })
}

/// Execute `block` on the replayed `state` and check that it gives the stored write
/// set and receipts; what the replay gave.
fn replay_block(
    store: &Store,
    state: &BTreeMap<Vec<u8>, Vec<u8>>,
    chain_id: &str,
    block: &Block,
    stored_ws: &WriteSet,
) -> Result<waybill_state::Executed, VerifyError> {
    let height = block.header.height;
    let h = height.0;
    let ctx = BlockContext {
        chain_id: chain_id.to_string(),
        height,
        time_ms: block.header.time_ms,
    };
    let mut ex = Execution::begin(state, ctx)
        .map_err(|e| bad(h, "state", format!("cannot be read: {e}")))?;
    for (i, tx) in block.txs.iter().enumerate() {
        ex.apply(tx, tx.id()).map_err(|e| {
            bad(
                h,
                format!("transaction {i} (id {})", tx.id()),
                format!("cannot be in a block: {e}"),
            )
        })?;
    }
    let executed = ex
        .finish()
        .map_err(|e| bad(h, "state", format!("cannot be read: {e}")))?;
    let (ws, receipts) = (&executed.writes, &executed.receipts);
    if ws != stored_ws {
        let first = first_difference(ws, stored_ws);
        return Err(bad(
            h,
            "write set",
            format!("re-execution gives different writes (first at key {first})"),
        ));
    }
    let stored_receipts = store
        .receipts(height)?
        .ok_or_else(|| bad(h, "receipts", "missing"))?;
    if let Some(i) = (0..receipts.len().max(stored_receipts.len()))
        .find(|&i| receipts.get(i) != stored_receipts.get(i))
    {
        return Err(bad(
            h,
            format!("receipt {i}"),
            "does not match re-execution",
        ));
    }
    Ok(executed)
}

/// Every transaction index entry must be one the blocks put there: each block's
/// transactions were looked up by id in [`check_block`], so equal counts mean no
/// entry is extra. Reading the whole table also reads every page it lives in.
fn check_tx_index(store: &Store, head: Height, n_txs: u64) -> Result<(), VerifyError> {
    let (now, entries) = store
        .tx_index_entries()
        .map_err(|e| bad(head.0, "transaction index", e.to_string()))?;
    if let Some((id, loc)) = entries.iter().find(|(_, loc)| loc.height > now.height) {
        return Err(bad(
            loc.height.0,
            format!("transaction index entry {id}"),
            format!("points past the head (height {})", now.height),
        ));
    }
    // Blocks committed since the walk began are the next check's business.
    let checked = entries.iter().filter(|(_, loc)| loc.height <= head).count();
    if checked as u64 != n_txs {
        return Err(bad(
            head.0,
            "transaction index",
            format!("has {} entries for {n_txs} transactions in blocks", checked),
        ));
    }
    Ok(())
}

/// Compare the stored state with the expected one, entry by entry; the number of
/// entries compared.
fn compare_state(
    store: &Store,
    expected: &BTreeMap<Vec<u8>, Vec<u8>>,
    head: Height,
) -> Result<usize, VerifyError> {
    let (now, stored) = store
        .state_entries_at_head()
        .map_err(|e| bad(head.0, "state", e.to_string()))?;
    // Blocks committed since the walk began: add their stored write sets (the next
    // check binds them to their headers).
    let mut newer;
    let expected = if now.height > head {
        newer = expected.clone();
        for h in head.0 + 1..=now.height.0 {
            let ws = store
                .write_set(Height(h))
                .map_err(|e| bad(h, "write set", e.to_string()))?
                .ok_or_else(|| bad(h, "write set", "missing"))?;
            apply_writes(&mut newer, &ws);
        }
        &newer
    } else {
        expected
    };
    compare_entries(head, "state", &stored, expected)?;
    Ok(stored.len())
}

/// Compare the stored derived index ([`waybill_state::index`]) with the one the
/// replay derived from the chain, row by row (rows of blocks committed since the
/// walk began are left to the next check).
fn compare_index(
    store: &Store,
    expected: &waybill_state::index::Index,
    head: Height,
) -> Result<(), VerifyError> {
    let (_, stored) = store
        .index_entries_at_head()
        .map_err(|e| bad(head.0, "derived index", e.to_string()))?;
    let stored: Rows = stored
        .into_iter()
        .filter(|(k, _)| waybill_state::index::row_key_height(k).is_some_and(|h| h <= head.0))
        .collect();
    compare_entries(head, "derived index", &stored, expected)
}

/// Compare `stored` rows with `expected`, naming the first that differs.
fn compare_entries(
    head: Height,
    what: &str,
    stored: &Rows,
    expected: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<(), VerifyError> {
    let mut replayed = expected.iter();
    for (i, (k, v)) in stored.iter().enumerate() {
        match replayed.next() {
            Some((rk, rv)) if rk == k && rv == v => {}
            Some((rk, _)) => {
                let key = if rk == k { k } else { rk.min(k) };
                return Err(bad(
                    head.0,
                    format!("{what} entry {i} (key {})", hex(key)),
                    format!("does not match the replayed {what}"),
                ));
            }
            None => {
                return Err(bad(
                    head.0,
                    format!("{what} entry {i} (key {})", hex(k)),
                    format!("is not in the replayed {what}"),
                ))
            }
        }
    }
    if let Some((k, _)) = replayed.next() {
        return Err(bad(
            head.0,
            format!("{what} key {}", hex(k)),
            format!("is missing from the stored {what}"),
        ));
    }
    Ok(())
}

fn apply_writes(state: &mut BTreeMap<Vec<u8>, Vec<u8>>, ws: &WriteSet) {
    for (k, v) in ws {
        match v {
            Some(v) => state.insert(k.clone(), v.clone()),
            None => state.remove(k),
        };
    }
}

fn first_difference(a: &WriteSet, b: &WriteSet) -> String {
    let keys: std::collections::BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .find(|k| a.get(*k) != b.get(*k))
        .map(|k| hex(k))
        .unwrap_or_default()
}

fn hex(k: &[u8]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}
