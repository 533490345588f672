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

/// One decoded row: the block and the entries it added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The block.
    pub height: u64,
    /// Its entries, in block order.
    pub entries: Vec<u32>,
}

/// Decode a row stored under `prefix`.
pub fn decode_row(prefix: &[u8], key: &[u8], value: &[u8]) -> Result<Row, StateReadError> {
    let corrupt = |reason: &str| StateReadError::Corrupt {
        key: key.to_vec(),
        reason: reason.to_string(),
    };
    let height = key
        .strip_prefix(prefix)
        .and_then(|h| <[u8; 8]>::try_from(h).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| corrupt("an index row's key is its prefix and a height"))?;
    if value.is_empty() || !value.len().is_multiple_of(4) {
        return Err(corrupt("an index row lists one or more u32 entries"));
    }
    let entries = value
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Row { height, entries })
}

/// Up to `max` rows of `prefix` from block `from_height` on, in block order.
pub fn rows_from<S: StateScan + ?Sized>(
    index: &S,
    prefix: &[u8],
    from_height: u64,
    max: usize,
) -> Result<Vec<Row>, StateReadError> {
    let start = row_key(prefix, from_height);
    let rows: Rows = index.scan_from(prefix, &start, max)?;
    rows.iter().map(|(k, v)| decode_row(prefix, k, v)).collect()
}

/// Every (height, entry) of `prefix`, oldest first.
pub fn all_entries<S: StateScan + ?Sized>(
    index: &S,
    prefix: &[u8],
) -> Result<Vec<(u64, u32)>, StateReadError> {
    const CHUNK: usize = 512;
    let mut out = Vec::new();
    let mut from = 0u64;
    loop {
        let rows = rows_from(index, prefix, from, CHUNK)?;
        let n = rows.len();
        for r in &rows {
            out.extend(r.entries.iter().map(|e| (r.height, *e)));
        }
        match rows.last() {
            Some(last) if n == CHUNK => from = last.height + 1,
            _ => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(decode_row(b"\x18p", &row_key(b"\x18p", 1), &[0, 0, 1]).is_err());
        assert!(decode_row(b"\x18p", b"\x18p\x00", &[0, 0, 0, 1]).is_err());
    }
}
