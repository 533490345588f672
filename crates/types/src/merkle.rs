//! RFC 6962 / RFC 9162 Merkle trees over SHA-256.
//!
//! * leaf hash: `SHA-256(0x00 || data)`
//! * interior node: `SHA-256(0x01 || left || right)`
//! * root of the empty tree: `SHA-256("")`
//!
//! A tree of `n > 1` leaves is split at the largest power of two strictly less than `n`
//! (RFC 6962 §2.1, RFC 9162 §2.1.1). Proof generation follows RFC 9162 §2.1.3.1 (`PATH`)
//! and §2.1.4.1 (`PROOF`/`SUBPROOF`); verification follows §2.1.3.2 and §2.1.4.2, with an
//! exact proof-length check before any hashing and a hard cap of [`PROOF_HASHES_MAX`]
//! proof hashes.
//!
//! Policy beyond the RFC: consistency proofs from an empty tree are rejected, even `0 → 0`.

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Digest32 = [u8; 32];

/// The most hashes a verifier accepts in one inclusion or consistency proof.
///
/// An inclusion proof in a tree of at most `2^64 - 1` leaves has at most 64 hashes, and so
/// does any consistency proof between trees of fewer than `2^63` leaves; longer proofs are
/// rejected before any hashing is done.
pub const PROOF_HASHES_MAX: usize = 64;

/// Domain-separation prefix of a leaf hash.
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash.
const NODE_PREFIX: u8 = 0x01;

/// Why a Merkle proof could not be generated or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// A hash was not exactly 32 bytes long.
    #[error("hash must be 32 bytes, got {len_bytes} bytes")]
    WrongDigestLength {
        /// The length of the rejected hash.
        len_bytes: usize,
    },
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is out of range for a tree of {tree_size} leaves")]
    IndexOutOfRange {
        /// The rejected leaf index.
        index: u64,
        /// The number of leaves in the tree.
        tree_size: u64,
    },
    /// The proof has more hashes than any proof this verifier accepts.
    #[error("proof has {len} hashes, more than the maximum of {max}")]
    ProofTooLong {
        /// The number of hashes in the proof.
        len: usize,
        /// The limit, [`PROOF_HASHES_MAX`].
        max: usize,
    },
    /// The proof does not have the number of hashes the tree sizes call for.
    #[error("proof has {len} hashes, but these tree sizes need exactly {expected}")]
    WrongProofLength {
        /// The number of hashes in the proof.
        len: usize,
        /// The number of hashes the RFC 9162 algorithm consumes for these sizes.
        expected: usize,
    },
    /// The root recomputed from an inclusion proof is not the expected root.
    #[error("inclusion proof yields root {}, expected root {}", hex32(.computed), hex32(.expected))]
    RootMismatch {
        /// The root recomputed from the leaf hash and the proof.
        computed: Digest32,
        /// The root the caller trusts.
        expected: Digest32,
    },
    /// A consistency proof was requested or offered from the empty tree.
    #[error(
        "consistency proofs from the empty tree are not accepted (old size 0, new size {new_size})"
    )]
    EmptyOldTree {
        /// The size of the newer tree.
        new_size: u64,
    },
    /// The "old" tree is larger than the "new" one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeExceedsNewSize {
        /// The size of the older tree.
        old_size: u64,
        /// The size of the newer tree.
        new_size: u64,
    },
    /// Two trees of the same size have different roots.
    #[error("trees of equal size {tree_size} have different roots {} and {}", hex32(.old_root), hex32(.new_root))]
    EqualSizeRootsDiffer {
        /// The common tree size.
        tree_size: u64,
        /// The root of the older tree.
        old_root: Digest32,
        /// The root of the newer tree.
        new_root: Digest32,
    },
    /// The old root recomputed from a consistency proof is not the expected old root.
    #[error("consistency proof yields old root {}, expected {}", hex32(.computed), hex32(.expected))]
    OldRootMismatch {
        /// The old root recomputed from the proof.
        computed: Digest32,
        /// The old root the caller trusts.
        expected: Digest32,
    },
    /// The new root recomputed from a consistency proof is not the expected new root.
    #[error("consistency proof yields new root {}, expected {}", hex32(.computed), hex32(.expected))]
    NewRootMismatch {
        /// The new root recomputed from the proof.
        computed: Digest32,
        /// The new root the caller trusts.
        expected: Digest32,
    },
}

/// Lower-case hex of a digest, for error messages.
fn hex32(digest: &Digest32) -> String {
    use std::fmt::Write as _;
    digest
        .iter()
        .fold(String::with_capacity(64), |mut out, byte| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// Converts a byte slice to a [`Digest32`], rejecting any length other than 32.
pub fn digest_from_slice(bytes: &[u8]) -> Result<Digest32, MerkleError> {
    Digest32::try_from(bytes).map_err(|_| MerkleError::WrongDigestLength {
        len_bytes: bytes.len(),
    })
}

/// The RFC 6962 leaf hash `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Digest32 {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The RFC 6962 interior node hash `SHA-256(0x01 || left || right)`.
pub fn node_hash(l: &Digest32, r: &Digest32) -> Digest32 {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(l);
    hasher.update(r);
    hasher.finalize().into()
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Digest32 {
    Sha256::digest([]).into()
}

/// The Merkle tree hash (RFC 6962 `MTH`) of a list of leaf hashes.
///
/// Runs in O(n) hashing and O(log n) memory: completed perfect subtrees are merged like a
/// binary counter, and the remaining subtrees are folded right to left, which is exactly
/// the split-at-the-largest-power-of-two shape of `MTH`.
pub fn root_from_leaf_hashes(leaves: &[Digest32]) -> Digest32 {
    // Each entry is the root of a perfect subtree and its height; heights strictly
    // decrease from bottom to top, so at most 64 entries are ever held.
    let mut stack: Vec<(Digest32, u32)> = Vec::with_capacity(64);
    for leaf in leaves {
        let mut hash = *leaf;
        let mut height = 0u32;
        while let Some(&(left, left_height)) = stack.last() {
            if left_height != height {
                break;
            }
            stack.pop();
            hash = node_hash(&left, &hash);
            height += 1;
        }
        stack.push((hash, height));
    }
    let mut iter = stack.iter().rev();
    match iter.next() {
        None => empty_root(),
        Some(&(last, _)) => iter.fold(last, |right, (left, _)| node_hash(left, &right)),
    }
}

/// The largest power of two strictly less than `n`; `n` must be at least 2.
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2, "split_point needs at least two leaves, got {n}");
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// A `usize` as a `u64`; lossless on every target Rust supports with 64-bit or smaller
/// pointers.
fn len_u64(len: usize) -> u64 {
    u64::try_from(len).expect("usize is at most 64 bits wide on supported targets")
}

/// The RFC 9162 inclusion proof (`PATH`) of leaf `index` in the tree of `leaves`.
///
/// The proof lists sibling hashes from the leaf upwards, as verifiers expect.
pub fn inclusion_proof(leaves: &[Digest32], index: u64) -> Result<Vec<Digest32>, MerkleError> {
    let tree_size = len_u64(leaves.len());
    let out_of_range = MerkleError::IndexOutOfRange { index, tree_size };
    let target = usize::try_from(index).map_err(|_| out_of_range.clone())?;
    if target >= leaves.len() {
        return Err(out_of_range);
    }
    let mut path = Vec::new();
    let (mut lo, mut hi) = (0usize, leaves.len());
    while hi - lo > 1 {
        let mid = lo + split_point(hi - lo);
        if target < mid {
            path.push(root_from_leaf_hashes(&leaves[mid..hi]));
            hi = mid;
        } else {
            path.push(root_from_leaf_hashes(&leaves[lo..mid]));
            lo = mid;
        }
    }
    // Collected from the root downwards; PATH lists them from the leaf upwards.
    path.reverse();
    Ok(path)
}

/// Number of proof hashes an RFC 9162 inclusion proof for `index` in a tree whose last
/// index is `last_index` has: the hashes below the point where the paths to `index` and to
/// the last leaf diverge, plus one per left sibling on the right border above it.
fn inclusion_proof_len(index: u64, last_index: u64) -> usize {
    let inner = u64::BITS - (index ^ last_index).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    // Both terms are at most 64.
    (inner + border) as usize
}

/// Rejects proofs longer than [`PROOF_HASHES_MAX`] or of a length other than `expected`.
fn check_proof_len(len: usize, expected: usize) -> Result<(), MerkleError> {
    if len > PROOF_HASHES_MAX {
        return Err(MerkleError::ProofTooLong {
            len,
            max: PROOF_HASHES_MAX,
        });
    }
    if len != expected {
        return Err(MerkleError::WrongProofLength { len, expected });
    }
    Ok(())
}

/// Verifies an RFC 9162 §2.1.3.2 inclusion proof of `leaf_hash` at `index` in the tree of
/// `tree_size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Digest32,
    index: u64,
    tree_size: u64,
    proof: &[Digest32],
    root: &Digest32,
) -> Result<(), MerkleError> {
    if index >= tree_size {
        return Err(MerkleError::IndexOutOfRange { index, tree_size });
    }
    let mut node_index = index;
    let mut last_index = tree_size - 1;
    let expected_len = inclusion_proof_len(node_index, last_index);
    check_proof_len(proof.len(), expected_len)?;

    let mut computed = *leaf_hash;
    for sibling in proof {
        if last_index == 0 {
            // Unreachable after the length check; kept so the loop never walks off the root.
            return Err(MerkleError::WrongProofLength {
                len: proof.len(),
                expected: expected_len,
            });
        }
        if node_index & 1 == 1 || node_index == last_index {
            computed = node_hash(sibling, &computed);
            // A left child on the right border: climb past levels where it has no sibling.
            while node_index & 1 == 0 && node_index != 0 {
                node_index >>= 1;
                last_index >>= 1;
            }
        } else {
            computed = node_hash(&computed, sibling);
        }
        node_index >>= 1;
        last_index >>= 1;
    }
    if computed != *root {
        return Err(MerkleError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// The RFC 9162 consistency proof (`PROOF`) that the tree of the first `old_size` leaves
/// is a prefix of the tree of all `leaves`.
///
/// `old_size == leaves.len()` gives the empty proof; `old_size == 0` is rejected
/// ([`MerkleError::EmptyOldTree`]), as is `old_size > leaves.len()`.
pub fn consistency_proof(leaves: &[Digest32], old_size: u64) -> Result<Vec<Digest32>, MerkleError> {
    let new_size = len_u64(leaves.len());
    if old_size > new_size {
        return Err(MerkleError::OldSizeExceedsNewSize { old_size, new_size });
    }
    if old_size == 0 {
        return Err(MerkleError::EmptyOldTree { new_size });
    }
    let mut old_len =
        usize::try_from(old_size).expect("old_size is at most leaves.len(), which is a usize");

    // SUBPROOF(m, D[lo:hi], complete), unrolled: `old_len` is m relative to `lo`, and
    // `complete` says whether D[lo:lo+m] is a subtree whose root the verifier already has.
    let mut proof = Vec::new();
    let (mut lo, mut hi) = (0usize, leaves.len());
    let mut complete = true;
    loop {
        if old_len == hi - lo {
            if !complete {
                proof.push(root_from_leaf_hashes(&leaves[lo..hi]));
            }
            break;
        }
        let mid = lo + split_point(hi - lo);
        if lo + old_len <= mid {
            proof.push(root_from_leaf_hashes(&leaves[mid..hi]));
            hi = mid;
        } else {
            proof.push(root_from_leaf_hashes(&leaves[lo..mid]));
            old_len -= mid - lo;
            lo = mid;
            complete = false;
        }
    }
    // Collected from the root downwards; PROOF lists the deepest hash first.
    proof.reverse();
    Ok(proof)
}

/// Verifies an RFC 9162 §2.1.4.2 consistency proof between the tree of `old_size` leaves
/// with root `old_root` and the tree of `new_size` leaves with root `new_root`.
///
/// Equal sizes need an empty proof and equal roots. Proofs from the empty tree are
/// rejected, even `0 → 0`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Digest32],
    old_root: &Digest32,
    new_root: &Digest32,
) -> Result<(), MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::OldSizeExceedsNewSize { old_size, new_size });
    }
    if old_size == 0 {
        return Err(MerkleError::EmptyOldTree { new_size });
    }
    if old_size == new_size {
        check_proof_len(proof.len(), 0)?;
        if old_root != new_root {
            return Err(MerkleError::EqualSizeRootsDiffer {
                tree_size: old_size,
                old_root: *old_root,
                new_root: *new_root,
            });
        }
        return Ok(());
    }

    // Skip the levels where the old tree's last leaf is a right child: the old tree's
    // right-most complete subtree starts above them.
    let shift = old_size.trailing_zeros();
    let mut node_index = (old_size - 1) >> shift;
    let mut last_index = (new_size - 1) >> shift;
    // When the old tree is a perfect tree its root is the seed; otherwise the seed is the
    // first proof hash.
    let old_is_perfect = node_index == 0;
    let expected_len = usize::from(!old_is_perfect) + inclusion_proof_len(node_index, last_index);
    check_proof_len(proof.len(), expected_len)?;
    let length_error = MerkleError::WrongProofLength {
        len: proof.len(),
        expected: expected_len,
    };

    let (seed, rest) = if old_is_perfect {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            // Unreachable after the length check: a non-perfect old tree needs a seed.
            None => return Err(length_error),
        }
    };
    let mut old_computed = seed;
    let mut new_computed = seed;
    for sibling in rest {
        if last_index == 0 {
            // Unreachable after the length check; kept so the loop never walks off the root.
            return Err(length_error);
        }
        if node_index & 1 == 1 || node_index == last_index {
            old_computed = node_hash(sibling, &old_computed);
            new_computed = node_hash(sibling, &new_computed);
            while node_index & 1 == 0 && node_index != 0 {
                node_index >>= 1;
                last_index >>= 1;
            }
        } else {
            new_computed = node_hash(&new_computed, sibling);
        }
        node_index >>= 1;
        last_index >>= 1;
    }
    if old_computed != *old_root {
        return Err(MerkleError::OldRootMismatch {
            computed: old_computed,
            expected: *old_root,
        });
    }
    if new_computed != *new_root {
        return Err(MerkleError::NewRootMismatch {
            computed: new_computed,
            expected: *new_root,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 `MTH`, written recursively straight from the definition.
    fn mth_reference(leaves: &[Digest32]) -> Digest32 {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n);
                node_hash(&mth_reference(&leaves[..k]), &mth_reference(&leaves[k..]))
            }
        }
    }

    /// RFC 9162 `PATH`, recursively from the definition.
    fn path_reference(m: usize, leaves: &[Digest32]) -> Vec<Digest32> {
        if leaves.len() <= 1 {
            return Vec::new();
        }
        let k = split_point(leaves.len());
        if m < k {
            let mut p = path_reference(m, &leaves[..k]);
            p.push(mth_reference(&leaves[k..]));
            p
        } else {
            let mut p = path_reference(m - k, &leaves[k..]);
            p.push(mth_reference(&leaves[..k]));
            p
        }
    }

    /// RFC 9162 `SUBPROOF`, recursively from the definition.
    fn subproof_reference(m: usize, leaves: &[Digest32], complete: bool) -> Vec<Digest32> {
        let n = leaves.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![mth_reference(leaves)]
            };
        }
        let k = split_point(n);
        if m <= k {
            let mut p = subproof_reference(m, &leaves[..k], complete);
            p.push(mth_reference(&leaves[k..]));
            p
        } else {
            let mut p = subproof_reference(m - k, &leaves[k..], false);
            p.push(mth_reference(&leaves[..k]));
            p
        }
    }

    fn leaves(n: usize) -> Vec<Digest32> {
        (0..n)
            .map(|i| leaf_hash(&len_u64(i).to_be_bytes()))
            .collect()
    }

    fn flip(mut d: Digest32) -> Digest32 {
        d[7] ^= 0x10;
        d
    }

    #[test]
    fn primitives_match_known_values() {
        assert_eq!(
            hex32(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex32(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let l0 = leaf_hash(b"");
        let l1 = leaf_hash(&[0x00]);
        assert_eq!(
            hex32(&node_hash(&l0, &l1)),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        );
        assert_eq!(root_from_leaf_hashes(&[]), empty_root());
        assert_eq!(root_from_leaf_hashes(&[l1]), l1);
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)] {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn iterative_root_matches_recursive_definition() {
        let all = leaves(300);
        for n in 0..=all.len() {
            assert_eq!(
                root_from_leaf_hashes(&all[..n]),
                mth_reference(&all[..n]),
                "n = {n}"
            );
        }
    }

    #[test]
    fn root_of_many_leaves_needs_no_deep_recursion() {
        let all = leaves(100_000);
        assert_eq!(root_from_leaf_hashes(&all), mth_reference(&all));
    }

    #[test]
    fn inclusion_proofs_match_definition_and_verify() {
        let all = leaves(70);
        for n in 1..=all.len() {
            let tree = &all[..n];
            let root = root_from_leaf_hashes(tree);
            for i in 0..n {
                let index = len_u64(i);
                let size = len_u64(n);
                let proof = inclusion_proof(tree, index).expect("index is in range");
                assert_eq!(proof, path_reference(i, tree), "n = {n}, i = {i}");
                assert_eq!(proof.len(), inclusion_proof_len(index, size - 1));
                verify_inclusion(&tree[i], index, size, &proof, &root)
                    .unwrap_or_else(|e| panic!("n = {n}, i = {i}: {e}"));
                // A wrong leaf, a wrong root and a tampered proof are rejected.
                assert!(matches!(
                    verify_inclusion(&flip(tree[i]), index, size, &proof, &root),
                    Err(MerkleError::RootMismatch { .. })
                ));
                assert!(matches!(
                    verify_inclusion(&tree[i], index, size, &proof, &flip(root)),
                    Err(MerkleError::RootMismatch { .. })
                ));
                for j in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[j] = flip(bad[j]);
                    assert!(verify_inclusion(&tree[i], index, size, &bad, &root).is_err());
                }
                // One hash more or fewer is a length error, not a hashing failure.
                let mut longer = proof.clone();
                longer.push(root);
                assert_eq!(
                    verify_inclusion(&tree[i], index, size, &longer, &root),
                    Err(MerkleError::WrongProofLength {
                        len: proof.len() + 1,
                        expected: proof.len()
                    })
                );
                if !proof.is_empty() {
                    assert!(matches!(
                        verify_inclusion(&tree[i], index, size, &proof[1..], &root),
                        Err(MerkleError::WrongProofLength { .. })
                    ));
                }
            }
        }
    }

    #[test]
    fn inclusion_rejects_out_of_range_indices() {
        let all = leaves(5);
        assert_eq!(
            inclusion_proof(&all, 5),
            Err(MerkleError::IndexOutOfRange {
                index: 5,
                tree_size: 5
            })
        );
        assert_eq!(
            inclusion_proof(&[], 0),
            Err(MerkleError::IndexOutOfRange {
                index: 0,
                tree_size: 0
            })
        );
        assert_eq!(
            inclusion_proof(&all, u64::MAX),
            Err(MerkleError::IndexOutOfRange {
                index: u64::MAX,
                tree_size: 5
            })
        );
        let root = root_from_leaf_hashes(&all);
        assert_eq!(
            verify_inclusion(&all[0], 0, 0, &[], &empty_root()),
            Err(MerkleError::IndexOutOfRange {
                index: 0,
                tree_size: 0
            })
        );
        assert_eq!(
            verify_inclusion(&all[0], u64::MAX, 5, &[], &root),
            Err(MerkleError::IndexOutOfRange {
                index: u64::MAX,
                tree_size: 5
            })
        );
    }

    #[test]
    fn overlong_proofs_are_rejected_before_hashing() {
        let proof = vec![[0u8; 32]; PROOF_HASHES_MAX + 1];
        assert_eq!(
            verify_inclusion(&[0; 32], 0, u64::MAX, &proof, &[0; 32]),
            Err(MerkleError::ProofTooLong {
                len: PROOF_HASHES_MAX + 1,
                max: PROOF_HASHES_MAX
            })
        );
        assert_eq!(
            verify_consistency(3, u64::MAX, &proof, &[0; 32], &[0; 32]),
            Err(MerkleError::ProofTooLong {
                len: PROOF_HASHES_MAX + 1,
                max: PROOF_HASHES_MAX
            })
        );
    }

    #[test]
    fn largest_trees_have_proofs_within_the_limit() {
        assert_eq!(inclusion_proof_len(0, u64::MAX - 1), 64);
        assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX - 1), 63);
        assert_eq!(inclusion_proof_len(0, 0), 0);
    }

    #[test]
    fn consistency_proofs_match_definition_and_verify() {
        let all = leaves(40);
        for n in 1..=all.len() {
            let tree = &all[..n];
            let new_root = root_from_leaf_hashes(tree);
            let new_size = len_u64(n);
            for m in 1..=n {
                let old_size = len_u64(m);
                let old_root = root_from_leaf_hashes(&tree[..m]);
                let proof = consistency_proof(tree, old_size).expect("sizes are valid");
                assert_eq!(proof, subproof_reference(m, tree, true), "{m} -> {n}");
                verify_consistency(old_size, new_size, &proof, &old_root, &new_root)
                    .unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
                if m == n {
                    assert!(proof.is_empty());
                    continue;
                }
                // A perfect old tree's root seeds the computation, so a wrong one shows up
                // in the recomputed new root instead.
                let err =
                    verify_consistency(old_size, new_size, &proof, &flip(old_root), &new_root)
                        .expect_err("a wrong old root is rejected");
                if m.is_power_of_two() {
                    assert!(
                        matches!(err, MerkleError::NewRootMismatch { .. }),
                        "{m} -> {n}: {err:?}"
                    );
                } else {
                    assert!(
                        matches!(err, MerkleError::OldRootMismatch { .. }),
                        "{m} -> {n}: {err:?}"
                    );
                }
                assert!(matches!(
                    verify_consistency(old_size, new_size, &proof, &old_root, &flip(new_root)),
                    Err(MerkleError::NewRootMismatch { .. })
                ));
                for j in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[j] = flip(bad[j]);
                    assert!(
                        verify_consistency(old_size, new_size, &bad, &old_root, &new_root).is_err(),
                        "{m} -> {n}, tampered hash {j}"
                    );
                }
                assert!(matches!(
                    verify_consistency(old_size, new_size, &proof[1..], &old_root, &new_root),
                    Err(MerkleError::WrongProofLength { .. })
                ));
                let mut longer = proof.clone();
                longer.push(new_root);
                assert!(matches!(
                    verify_consistency(old_size, new_size, &longer, &old_root, &new_root),
                    Err(MerkleError::WrongProofLength { .. })
                ));
            }
        }
    }

    #[test]
    fn consistency_policy_edges() {
        let all = leaves(4);
        let root = root_from_leaf_hashes(&all);
        let e = empty_root();
        assert_eq!(
            consistency_proof(&all, 0),
            Err(MerkleError::EmptyOldTree { new_size: 4 })
        );
        assert_eq!(
            consistency_proof(&all, 5),
            Err(MerkleError::OldSizeExceedsNewSize {
                old_size: 5,
                new_size: 4
            })
        );
        assert_eq!(
            consistency_proof(&[], 0),
            Err(MerkleError::EmptyOldTree { new_size: 0 })
        );
        assert_eq!(
            verify_consistency(0, 0, &[], &e, &e),
            Err(MerkleError::EmptyOldTree { new_size: 0 })
        );
        assert_eq!(
            verify_consistency(0, 4, &[], &e, &root),
            Err(MerkleError::EmptyOldTree { new_size: 4 })
        );
        assert_eq!(
            verify_consistency(2, 1, &[], &root, &root),
            Err(MerkleError::OldSizeExceedsNewSize {
                old_size: 2,
                new_size: 1
            })
        );
        assert_eq!(
            verify_consistency(4, 4, &[root], &root, &root),
            Err(MerkleError::WrongProofLength {
                len: 1,
                expected: 0
            })
        );
        assert_eq!(
            verify_consistency(4, 4, &[], &root, &e),
            Err(MerkleError::EqualSizeRootsDiffer {
                tree_size: 4,
                old_root: root,
                new_root: e
            })
        );
        assert_eq!(verify_consistency(4, 4, &[], &root, &root), Ok(()));
        // A non-perfect old tree needs its seed hash in the proof: 3 -> 4 takes
        // leaf 2, leaf 3 and the root of leaves 0..2.
        assert_eq!(
            verify_consistency(3, 4, &[], &root, &root),
            Err(MerkleError::WrongProofLength {
                len: 0,
                expected: 3
            })
        );
    }

    #[test]
    fn digest_from_slice_checks_length() {
        assert_eq!(digest_from_slice(&[7; 32]), Ok([7; 32]));
        for len in [0, 9, 31, 33, 64] {
            assert_eq!(
                digest_from_slice(&vec![0; len]),
                Err(MerkleError::WrongDigestLength { len_bytes: len })
            );
        }
    }

    #[test]
    fn errors_name_the_values() {
        let e = MerkleError::IndexOutOfRange {
            index: 9,
            tree_size: 3,
        };
        assert_eq!(
            e.to_string(),
            "leaf index 9 is out of range for a tree of 3 leaves"
        );
        let e = MerkleError::RootMismatch {
            computed: [0; 32],
            expected: [0xff; 32],
        };
        assert!(e.to_string().contains(&"ff".repeat(32)), "{e}");
    }
}
