//! The commitment tree (docs/PRIVACY.md "Provable disclosure"): every field a block
//! seals leaves its salted commitment in the block's commitment tree, whose RFC 6962
//! root the header carries (`commit_root`). A recipient who opened the field can then
//! disclose that one value — value, salt, inclusion proof, certified header — to
//! anyone, without the rest of its record.
//!
//! Leaves ([`waybill_types::seal::commitment_leaf`]) are written to state at
//! `COMMIT ‖ height ‖ index` in the order the block stores them (the next free index
//! kept in `META commit_next`), so `verify` re-derives the root from the write set; each
//! field's place is kept at `COMMIT_OF ‖ record ‖ 0x00 ‖ field`.

use waybill_types::hash::Hash;
use waybill_types::merkle;

use crate::exec::{decode_record, encode_record, StateRead, StateReadError, WriteSet, Writes};
use crate::keys;

/// Where a sealed field's commitment is: the block, its index in the block's tree.
pub type Position = (u64, u32);

/// Append the commitments of sealed fields — `(record, field, commitment)` — to block
/// `height`'s tree, within one transaction's writes.
pub(crate) fn append<S: StateRead + ?Sized>(
    state: &S,
    height: u64,
    writes: &mut Writes,
    fields: &[(String, String, Hash)],
) -> Result<(), StateReadError> {
    if fields.is_empty() {
        return Ok(());
    }
    let k = keys::meta("commit_next");
    let mut next = match state.get(&k)? {
        Some(b) => match decode_record::<(u64, u32)>(&k, &b)? {
            (h, n) if h == height => n,
            _ => 0,
        },
        None => 0,
    };
    for (record, field, commitment) in fields {
        let leaf = waybill_types::seal::commitment_leaf(record, field, commitment);
        writes.push((keys::commit(height, next), leaf));
        writes.push((
            keys::commit_of(record, field),
            encode_record(&(height, next)),
        ));
        next = next
            .checked_add(1)
            .expect("a block seals fewer than 2^32 fields (bounded by its bytes)");
    }
    writes.push((k, encode_record(&(height, next))));
    Ok(())
}

/// The RFC 6962 root over the commitment leaves in `writes` for block `height` (the
/// empty root if it seals nothing).
pub fn commit_root(writes: &WriteSet, height: u64) -> Hash {
    crate::open::block_root(writes, &keys::commit_at(height))
}

/// Where the commitment of `field` of `record` is, if the record was sealed.
pub fn position<S: StateRead + ?Sized>(
    state: &S,
    record: &str,
    field: &str,
) -> Result<Option<Position>, StateReadError> {
    let k = keys::commit_of(record, field);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// The leaves of block `height`'s commitment tree, in order.
pub fn leaves<S: crate::exec::StateScan + ?Sized>(
    state: &S,
    height: u64,
) -> Result<Vec<Vec<u8>>, StateReadError> {
    let prefix = keys::commit_at(height);
    Ok(state
        .scan_from(&prefix, &prefix, usize::MAX)?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// The inclusion proof of leaf `index` in block `height`'s commitment tree: the tree
/// size and the sibling hashes, leaf to root.
pub fn inclusion<S: crate::exec::StateScan + ?Sized>(
    state: &S,
    (height, index): Position,
) -> Result<(u64, Vec<merkle::Digest32>), StateReadError> {
    let leaves: Vec<merkle::Digest32> = leaves(state, height)?
        .iter()
        .map(|l| merkle::leaf_hash(l))
        .collect();
    let corrupt = |reason: String| StateReadError::Corrupt {
        key: keys::commit(height, index),
        reason,
    };
    let proof = merkle::inclusion_proof(&leaves, u64::from(index))
        .map_err(|e| corrupt(format!("no inclusion proof: {e}")))?;
    Ok((leaves.len() as u64, proof))
}
