//! A sparse Merkle tree over 256-bit keys: the authenticated map from each subject
//! (product, lot, item, container, location, organization) to its latest open-tier
//! record, whose root every block header carries (`heads_root`), so that a proof
//! bundle can show a history is complete, not only correct (docs/PROOFS.md).
//!
//! Shape (a "compact" sparse Merkle tree):
//! - the empty subtree hashes to [`EMPTY`] (32 zero bytes);
//! - a subtree holding exactly one entry is that entry's leaf, wherever it sits:
//!   `leaf = SHA-256(0x00 ‖ key ‖ value)`;
//! - a subtree holding two or more entries is an internal node,
//!   `node = SHA-256(0x01 ‖ left ‖ right)`, left for key bit 0 at its depth (bits
//!   counted from the most significant bit of key byte 0).
//!
//! So the root is a function of the set of entries alone. A proof of an entry (or of
//! a key's absence) is the list of sibling hashes from the root down to where the key's
//! path ends: at its leaf, at an empty subtree, or at another key's leaf.
//!
//! Nodes are stored by position `(depth, path)` through [`NodeStore`]; an update of
//! a batch of entries reads and rewrites only the nodes on their paths.

use crate::hash::{sha256_parts, Hash};

/// A 32-byte digest.
pub type Digest32 = [u8; 32];

/// The hash of an empty subtree.
pub const EMPTY: Digest32 = [0; 32];

/// Deepest position: a 256-bit key has 256 bits.
pub const DEPTH_MAX: usize = 256;

/// The key of a subject id: `SHA-256("waybill/subject/v1\0" ‖ id)`.
pub fn subject_key(id: &str) -> Digest32 {
    sha256_parts(&[b"waybill/subject/v1\0", id.as_bytes()]).0
}

/// The value the heads tree keeps for a subject whose latest open-tier record is at
/// `(height, index)` with leaf hash `leaf`:
/// `SHA-256("waybill/head/v1\0" ‖ height (u64 BE) ‖ index (u32 BE) ‖ leaf)`.
pub fn head_value(height: u64, index: u32, leaf: &Digest32) -> Digest32 {
    sha256_parts(&[
        b"waybill/head/v1\0",
        &height.to_be_bytes(),
        &index.to_be_bytes(),
        leaf,
    ])
    .0
}

/// `SHA-256(0x00 ‖ key ‖ value)`.
pub fn leaf_hash(key: &Digest32, value: &Digest32) -> Digest32 {
    sha256_parts(&[&[0x00], key, value]).0
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Digest32, right: &Digest32) -> Digest32 {
    sha256_parts(&[&[0x01], left, right]).0
}

/// Bit `i` of `key` (0 = most significant bit of byte 0).
pub fn bit(key: &Digest32, i: usize) -> bool {
    key[i / 8] & (0x80 >> (i % 8)) != 0
}

/// The first `depth` bits of `key`, the rest zero: the path of its position at `depth`.
pub fn path(key: &Digest32, depth: usize) -> Digest32 {
    let mut p = [0u8; 32];
    let full = depth / 8;
    p[..full].copy_from_slice(&key[..full]);
    if !depth.is_multiple_of(8) {
        p[full] = key[full] & (0xffu8 << (8 - depth % 8));
    }
    p
}

/// A stored node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// The one entry of its subtree.
    Leaf {
        /// Its key.
        key: Digest32,
        /// Its value.
        value: Digest32,
    },
    /// Two or more entries below.
    Internal {
        /// Hash of the bit-0 child.
        left: Digest32,
        /// Hash of the bit-1 child.
        right: Digest32,
    },
}

impl Node {
    /// Its hash.
    pub fn hash(&self) -> Digest32 {
        match self {
            Node::Leaf { key, value } => leaf_hash(key, value),
            Node::Internal { left, right } => node_hash(left, right),
        }
    }

    /// 65 bytes: a tag (0 leaf, 1 internal) and two digests.
    pub fn encode(&self) -> Vec<u8> {
        let (tag, a, b) = match self {
            Node::Leaf { key, value } => (0u8, key, value),
            Node::Internal { left, right } => (1u8, left, right),
        };
        [&[tag][..], a, b].concat()
    }

    /// The inverse of [`Node::encode`].
    pub fn decode(bytes: &[u8]) -> Option<Node> {
        if bytes.len() != 65 {
            return None;
        }
        let a: Digest32 = bytes[1..33].try_into().ok()?;
        let b: Digest32 = bytes[33..65].try_into().ok()?;
        match bytes[0] {
            0 => Some(Node::Leaf { key: a, value: b }),
            1 => Some(Node::Internal { left: a, right: b }),
            _ => None,
        }
    }
}

/// Where nodes live. `get` reads the node at `(depth, path)`; `put` writes (or, with
/// `None`, removes) one. Implemented by the state machine over its state.
pub trait NodeStore {
    /// The store's error.
    type Error;
    /// The node at a position, if any.
    fn get(&self, depth: usize, path: &Digest32) -> Result<Option<Node>, Self::Error>;
    /// Write a node at a position.
    fn put(&mut self, depth: usize, path: &Digest32, node: Option<Node>);
}

/// The root hash of the tree in `store`.
pub fn root<S: NodeStore>(store: &S) -> Result<Digest32, S::Error> {
    Ok(store.get(0, &EMPTY)?.map_or(EMPTY, |n| n.hash()))
}

/// Set each `(key, value)` of `updates` (sorted by key, each key once) and return the
/// new root. Entries are never removed.
pub fn update<S: NodeStore>(
    store: &mut S,
    updates: &[(Digest32, Digest32)],
) -> Result<Digest32, S::Error> {
    assert!(
        updates.windows(2).all(|w| w[0].0 < w[1].0),
        "smt::update takes keys sorted and distinct"
    );
    update_at(store, 0, &EMPTY, updates)
}

fn update_at<S: NodeStore>(
    store: &mut S,
    depth: usize,
    at: &Digest32,
    updates: &[(Digest32, Digest32)],
) -> Result<Digest32, S::Error> {
    let existing = store.get(depth, at)?;
    if updates.is_empty() {
        return Ok(existing.map_or(EMPTY, |n| n.hash()));
    }
    assert!(depth < DEPTH_MAX, "two distinct keys differ before bit 256");
    let node = match existing {
        None if updates.len() == 1 => Node::Leaf {
            key: updates[0].0,
            value: updates[0].1,
        },
        None => split(store, depth, updates)?,
        Some(Node::Leaf { key, value }) => {
            // The leaf here joins the updates (unless one of them replaces it) and
            // moves down with them if they are more than one.
            let mut all = updates.to_vec();
            if let Err(i) = all.binary_search_by(|(k, _)| k.cmp(&key)) {
                all.insert(i, (key, value));
            }
            if all.len() == 1 {
                Node::Leaf {
                    key: all[0].0,
                    value: all[0].1,
                }
            } else {
                split(store, depth, &all)?
            }
        }
        Some(Node::Internal { left, right }) => {
            let n_left = updates.partition_point(|(k, _)| !bit(k, depth));
            let (l, r) = updates.split_at(n_left);
            let left = if l.is_empty() {
                left
            } else {
                update_at(store, depth + 1, &path(&l[0].0, depth + 1), l)?
            };
            let right = if r.is_empty() {
                right
            } else {
                update_at(store, depth + 1, &path(&r[0].0, depth + 1), r)?
            };
            Node::Internal { left, right }
        }
    };
    store.put(depth, at, Some(node));
    Ok(node.hash())
}

/// An internal node at `depth` over `entries` (two or more, all on one path, none
/// stored below yet).
fn split<S: NodeStore>(
    store: &mut S,
    depth: usize,
    entries: &[(Digest32, Digest32)],
) -> Result<Node, S::Error> {
    debug_assert!(entries.len() >= 2);
    let n_left = entries.partition_point(|(k, _)| !bit(k, depth));
    let (l, r) = entries.split_at(n_left);
    let child = |store: &mut S, side: &[(Digest32, Digest32)]| -> Result<Digest32, S::Error> {
        if side.is_empty() {
            Ok(EMPTY)
        } else {
            update_at(store, depth + 1, &path(&side[0].0, depth + 1), side)
        }
    };
    let left = child(store, l)?;
    let right = child(store, r)?;
    Ok(Node::Internal { left, right })
}

/// Where a key's path ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// At the key's own leaf, with this value.
    Found(Digest32),
    /// At an empty subtree: the key is absent.
    Empty,
    /// At another key's leaf: the key is absent.
    Other {
        /// That key.
        key: Digest32,
        /// Its value.
        value: Digest32,
    },
}

/// A proof for one key: sibling hashes from the root down, and where the path ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// `siblings[i]` is the sibling at depth `i + 1` on the key's path.
    pub siblings: Vec<Digest32>,
    /// Where the path ends.
    pub terminal: Terminal,
}

/// The proof for `key` in the tree in `store`.
pub fn prove<S: NodeStore>(store: &S, key: &Digest32) -> Result<Proof, S::Error> {
    let mut siblings = Vec::new();
    let mut depth = 0;
    loop {
        let terminal = match store.get(depth, &path(key, depth))? {
            None => Terminal::Empty,
            Some(Node::Leaf { key: k, value }) if k == *key => Terminal::Found(value),
            Some(Node::Leaf { key: k, value }) => Terminal::Other { key: k, value },
            Some(Node::Internal { left, right }) => {
                let (toward, sibling) = if bit(key, depth) {
                    (right, left)
                } else {
                    (left, right)
                };
                siblings.push(sibling);
                depth += 1;
                if toward == EMPTY {
                    return Ok(Proof {
                        siblings,
                        terminal: Terminal::Empty,
                    });
                }
                continue;
            }
        };
        return Ok(Proof { siblings, terminal });
    }
}

/// Why a proof does not check.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SmtError {
    /// More siblings than key bits.
    #[error("proof has {0} siblings, more than the {DEPTH_MAX} bits of a key")]
    TooDeep(usize),
    /// The other leaf is not on the key's path, or is the key itself.
    #[error("the leaf that ends the path is not a different key on the same path")]
    BadTerminal,
    /// The root computed differs.
    #[error("proof computes root {computed}, not the expected {expected}")]
    RootMismatch {
        /// Computed.
        computed: Hash,
        /// Expected.
        expected: Hash,
    },
}

/// Check `proof` for `key` against `root`; on success, the key's value (`None`: absent).
pub fn verify(
    root: &Digest32,
    key: &Digest32,
    proof: &Proof,
) -> Result<Option<Digest32>, SmtError> {
    let depth = proof.siblings.len();
    if depth > DEPTH_MAX {
        return Err(SmtError::TooDeep(depth));
    }
    let (mut h, value) = match &proof.terminal {
        Terminal::Found(v) => (leaf_hash(key, v), Some(*v)),
        Terminal::Empty => (EMPTY, None),
        Terminal::Other { key: k, value } => {
            if k == key || path(k, depth) != path(key, depth) {
                return Err(SmtError::BadTerminal);
            }
            (leaf_hash(k, value), None)
        }
    };
    for i in (0..depth).rev() {
        let s = &proof.siblings[i];
        h = if bit(key, i) {
            node_hash(s, &h)
        } else {
            node_hash(&h, s)
        };
    }
    if h != *root {
        return Err(SmtError::RootMismatch {
            computed: Hash(h),
            expected: Hash(*root),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default, Clone)]
    struct Mem(BTreeMap<(usize, Digest32), Node>);

    impl NodeStore for Mem {
        type Error = std::convert::Infallible;
        fn get(&self, depth: usize, path: &Digest32) -> Result<Option<Node>, Self::Error> {
            Ok(self.0.get(&(depth, *path)).copied())
        }
        fn put(&mut self, depth: usize, path: &Digest32, node: Option<Node>) {
            match node {
                Some(n) => self.0.insert((depth, *path), n),
                None => self.0.remove(&(depth, *path)),
            };
        }
    }

    fn key(i: u32) -> Digest32 {
        crate::hash::sha256(&i.to_be_bytes()).0
    }

    /// The root by definition, from the entries alone (no stored nodes).
    fn reference_root(entries: &BTreeMap<Digest32, Digest32>, depth: usize) -> Digest32 {
        match entries.len() {
            0 => EMPTY,
            1 => {
                let (k, v) = entries.iter().next().expect("one");
                leaf_hash(k, v)
            }
            _ => {
                let (l, r): (BTreeMap<_, _>, BTreeMap<_, _>) =
                    entries.iter().partition(|(k, _)| !bit(k, depth));
                node_hash(
                    &reference_root(&l, depth + 1),
                    &reference_root(&r, depth + 1),
                )
            }
        }
    }

    fn ok<T>(r: Result<T, std::convert::Infallible>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => match e {},
        }
    }

    #[test]
    fn batches_give_the_root_of_the_set_whatever_the_order() {
        let mut model = BTreeMap::new();
        let mut mem = Mem::default();
        assert_eq!(ok(root(&mem)), EMPTY);
        let mut one_by_one = Mem::default();
        for round in 0..20u32 {
            let mut batch: Vec<(Digest32, Digest32)> = (0..(round % 7 + 1))
                .map(|j| (key((round * 13 + j * 7) % 60), key(1000 + round * 10 + j)))
                .collect();
            batch.sort();
            batch.dedup_by(|a, b| a.0 == b.0);
            for (k, v) in &batch {
                model.insert(*k, *v);
                ok(update(&mut one_by_one, &[(*k, *v)]));
            }
            let r = ok(update(&mut mem, &batch));
            assert_eq!(r, reference_root(&model, 0), "round {round}");
            assert_eq!(ok(root(&one_by_one)), r, "one at a time, round {round}");
            for (k, v) in &model {
                let p = ok(prove(&mem, k));
                assert_eq!(verify(&r, k, &p), Ok(Some(*v)));
            }
            for absent in 100..110 {
                let k = key(absent);
                let p = ok(prove(&mem, &k));
                assert_eq!(verify(&r, &k, &p), Ok(None), "absent {absent}");
            }
        }
        // Nothing stale: every stored node is reachable from the root.
        let mut reachable = 0;
        let mut stack = vec![(0usize, EMPTY)];
        while let Some((d, p)) = stack.pop() {
            if let Some(Node::Internal { left, right }) = ok(mem.get(d, &p)) {
                for (bit_set, h) in [(false, left), (true, right)] {
                    if h != EMPTY {
                        let mut child = p;
                        if bit_set {
                            child[d / 8] |= 0x80 >> (d % 8);
                        }
                        stack.push((d + 1, child));
                    }
                }
            }
            reachable += 1;
        }
        assert_eq!(reachable, mem.0.len(), "no stale nodes");
    }

    #[test]
    fn wrong_values_siblings_and_terminals_fail() {
        let mut mem = Mem::default();
        let mut batch: Vec<_> = (0..50).map(|i| (key(i), key(500 + i))).collect();
        batch.sort();
        let r = ok(update(&mut mem, &batch));
        let k = batch[7].0;
        let p = ok(prove(&mem, &k));
        assert!(matches!(p.terminal, Terminal::Found(_)));
        let mut bad = p.clone();
        bad.terminal = Terminal::Found(key(9999));
        assert!(matches!(
            verify(&r, &k, &bad),
            Err(SmtError::RootMismatch { .. })
        ));
        let mut bad = p.clone();
        bad.siblings[0][0] ^= 1;
        assert!(verify(&r, &k, &bad).is_err());
        // Claiming absence of a present key with an empty end, or another leaf.
        let mut bad = p.clone();
        bad.terminal = Terminal::Empty;
        assert!(verify(&r, &k, &bad).is_err());
        let other = batch[8];
        let bad = Proof {
            siblings: p.siblings.clone(),
            terminal: Terminal::Other {
                key: other.0,
                value: other.1,
            },
        };
        assert!(verify(&r, &k, &bad).is_err());
        // A shorter or longer path does not check either.
        let mut bad = p.clone();
        bad.siblings.pop();
        assert!(verify(&r, &k, &bad).is_err());
        let mut bad = p;
        bad.siblings.push(EMPTY);
        assert!(verify(&r, &k, &bad).is_err());
    }

    #[test]
    fn node_encoding_round_trips() {
        for n in [
            Node::Leaf {
                key: key(1),
                value: key(2),
            },
            Node::Internal {
                left: key(3),
                right: EMPTY,
            },
        ] {
            assert_eq!(Node::decode(&n.encode()), Some(n));
        }
        assert_eq!(Node::decode(&[2; 65]), None);
        assert_eq!(Node::decode(&[0; 64]), None);
    }

    #[test]
    fn path_masks_the_bits_below_the_depth() {
        let k = [0xff; 32];
        assert_eq!(path(&k, 0), [0; 32]);
        let p = path(&k, 11);
        assert_eq!(p[0], 0xff);
        assert_eq!(p[1], 0xe0);
        assert!(p[2..].iter().all(|b| *b == 0));
        assert_eq!(path(&k, 256), k);
    }
}
