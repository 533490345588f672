//! Derived indexes: rows that only help readers find things — the audit trail by
//! member, organization and product, and the open-tier records by identifier. No
//! transaction reads them, so they are not part of the hashed state: a block's
//! execution returns them beside its write set ([`crate::block::Executed::index`]),
//! the store keeps them in their own table in the same write transaction as the block,
//! and `waybill verify --full` re-derives them from the chain and compares.
//!
//! One row per subject per block: `prefix ‖ height (u64 BE)` → the entries the block
//! adds for that subject, each a u32 (big endian), in block order. The prefix is the
//! subject's key prefix ([`crate::keys::audit_of`], [`crate::keys::open_of`]); an
//! audit entry is the index of a transaction in its block, an open-tier entry the
//! index of a record among the block's records. A subject written by 20,000
//! transactions of one block is one row, not 20,000.

use crate::exec::{Rows, StateRead, StateReadError, StateScan};

pub use crate::exec::Index;
pub use crate::keys::{index_row as row_key, is_derived};

/// The hashed state and its derived index read as one: derived keys
/// ([`is_derived`]) from the index, every other key from the state — what a reader
/// that walks both needs (the lineage walk reads events from the state and the
/// identifier → events rows from the index). A store snapshot routes the same way.
#[derive(Clone, Copy, Debug)]
pub struct ReadView<'a, S: ?Sized, I: ?Sized> {
    /// The hashed state.
    pub state: &'a S,
    /// Its derived index.
    pub index: &'a I,
}

impl<S: StateRead + ?Sized, I: StateRead + ?Sized> StateRead for ReadView<'_, S, I> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError> {
        if is_derived(key) {
            self.index.get(key)
        } else {
            self.state.get(key)
        }
    }
}

impl<S: StateScan + ?Sized, I: StateScan + ?Sized> StateScan for ReadView<'_, S, I> {
    fn scan_from(&self, prefix: &[u8], start: &[u8], max: usize) -> Result<Rows, StateReadError> {
        if is_derived(prefix) {
            self.index.scan_from(prefix, start, max)
        } else {
            self.state.scan_from(prefix, start, max)
        }
    }
}

/// Size of an audit or open-tier entry (a u32, big endian).
pub const U32_ENTRY: usize = 4;

/// The height of a row stored under `prefix`, and its value checked to be a
/// non-empty list of `entry_size`-byte entries.
fn row_height(
    prefix: &[u8],
    key: &[u8],
    value: &[u8],
    entry_size: usize,
) -> Result<u64, StateReadError> {
    let corrupt = |reason: String| StateReadError::Corrupt {
        key: key.to_vec(),
        reason,
    };
    let height = key
        .strip_prefix(prefix)
        .filter(|h| h.len() == 8)
        .and_then(|_| row_key_height(key))
        .ok_or_else(|| corrupt("an index row's key is its prefix and a height".into()))?;
    if value.is_empty() || !value.len().is_multiple_of(entry_size) {
        return Err(corrupt(format!(
            "an index row lists one or more entries of {entry_size} bytes"
        )));
    }
    Ok(height)
}

/// The block height a derived row's key ends with ([`row_key`]).
pub fn row_key_height(key: &[u8]) -> Option<u64> {
    let at = key.len().checked_sub(8)?;
    <[u8; 8]>::try_from(&key[at..]).ok().map(u64::from_be_bytes)
}

fn u32_entry(e: &[u8]) -> u32 {
    u32::from_be_bytes([e[0], e[1], e[2], e[3]])
}

/// Walk the entries (`entry_size` bytes each) of `prefix`'s rows from block
/// `from_height` on, in block order, handing each with its block's height to
/// `visit` until it returns `false`. The one paging loop every reader of the
/// derived index uses; a malformed row is an error naming its key.
pub fn visit_entries<S, F>(
    index: &S,
    prefix: &[u8],
    entry_size: usize,
    from_height: u64,
    mut visit: F,
) -> Result<(), StateReadError>
where
    S: StateScan + ?Sized,
    F: FnMut(u64, &[u8]) -> Result<bool, StateReadError>,
{
    const PAGE: usize = 64;
    let mut start = row_key(prefix, from_height);
    loop {
        let rows: Rows = index.scan_from(prefix, &start, PAGE)?;
        for (k, v) in &rows {
            let height = row_height(prefix, k, v, entry_size)?;
            for e in v.chunks_exact(entry_size) {
                if !visit(height, e)? {
                    return Ok(());
                }
            }
        }
        match rows.last() {
            Some((k, _)) if rows.len() == PAGE => start = [k.as_slice(), &[0]].concat(),
            _ => return Ok(()),
        }
    }
}

/// Up to `max` (height, entry) pairs of `prefix`'s u32 rows that come after
/// `after` (from the start when `None`), in block order — a page of an index.
pub fn entries_after<S: StateScan + ?Sized>(
    index: &S,
    prefix: &[u8],
    after: Option<(u64, u32)>,
    max: usize,
) -> Result<Vec<(u64, u32)>, StateReadError> {
    let mut out = Vec::new();
    if max == 0 {
        return Ok(out);
    }
    let from = after.map_or(0, |(h, _)| h);
    visit_entries(index, prefix, U32_ENTRY, from, |h, e| {
        let place = (h, u32_entry(e));
        if after.is_none_or(|a| place > a) {
            out.push(place);
        }
        Ok(out.len() < max)
    })?;
    Ok(out)
}

/// Every (height, entry) of `prefix`'s u32 rows, oldest first.
pub fn all_entries<S: StateScan + ?Sized>(
    index: &S,
    prefix: &[u8],
) -> Result<Vec<(u64, u32)>, StateReadError> {
    entries_after(index, prefix, None, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One decoded row: the block and the entries it added.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Row {
        height: u64,
        entries: Vec<u32>,
    }

    fn decode_row(prefix: &[u8], key: &[u8], value: &[u8]) -> Result<Row, StateReadError> {
        let height = row_height(prefix, key, value, U32_ENTRY)?;
        let entries = value.chunks_exact(U32_ENTRY).map(u32_entry).collect();
        Ok(Row { height, entries })
    }

    #[test]
    fn a_row_lists_a_subjects_entries_of_one_block_once_each() {
        let push = |ix: &mut Index, h: u64, e: u32| {
            crate::exec::index_push(ix, b"\x18p", h, &e.to_be_bytes());
        };
        let mut ix = Index::new();
        push(&mut ix, 7, 3);
        push(&mut ix, 7, 3);
        push(&mut ix, 7, 9);
        push(&mut ix, 8, 0);
        let rows: Vec<Row> = ix
            .iter()
            .map(|(k, v)| decode_row(b"\x18p", k, v).expect("decodes"))
            .collect();
        assert_eq!(
            rows,
            vec![
                Row {
                    height: 7,
                    entries: vec![3, 9]
                },
                Row {
                    height: 8,
                    entries: vec![0]
                }
            ]
        );
        assert_eq!(
            all_entries(&ix, b"\x18p").expect("reads"),
            vec![(7, 3), (7, 9), (8, 0)]
        );
        // A page starts after its cursor, inside a row or at the next one.
        assert_eq!(
            entries_after(&ix, b"\x18p", Some((7, 3)), 1).expect("reads"),
            vec![(7, 9)]
        );
        assert_eq!(
            entries_after(&ix, b"\x18p", Some((7, 9)), 5).expect("reads"),
            vec![(8, 0)]
        );
        assert!(entries_after(&ix, b"\x18p", Some((8, 0)), 5)
            .expect("reads")
            .is_empty());
        assert!(decode_row(b"\x18p", &row_key(b"\x18p", 1), &[0, 0, 1]).is_err());
        assert!(decode_row(b"\x18p", b"\x18p\x00", &[0, 0, 0, 1]).is_err());
    }
}
