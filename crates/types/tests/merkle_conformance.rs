//! Runs every RFC 6962 / RFC 9162 vector in `shared/conformance/merkle` through
//! `waybill_types::merkle`, and checks the 8-leaf reference tree.
//!
//! The vector counts are pinned: a missing or moved directory fails the test instead of
//! silently checking nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;
use waybill_types::merkle::{
    consistency_proof, digest_from_slice, empty_root, inclusion_proof, leaf_hash,
    root_from_leaf_hashes, verify_consistency, verify_inclusion, Digest32, MerkleError,
};

/// Files under `testdata/inclusion/` (README: 98 inclusion vectors).
const INCLUSION_VECTORS: usize = 98;
/// Files under `testdata/consistency/` (README: 98 consistency vectors).
const CONSISTENCY_VECTORS: usize = 98;
/// Valid (`wantErr: false`) vectors whose proofs match the ones generated for the
/// reference tree: the `happy-path` vector of each numbered directory.
const CROSS_CHECKED_INCLUSION: usize = 5;
/// As [`CROSS_CHECKED_INCLUSION`], for consistency.
const CROSS_CHECKED_CONSISTENCY: usize = 5;

/// Vectors marked `wantErr: false` upstream that carry hashes which are not 32 bytes.
/// The suite's policy ("hashes that are not 32 bytes are errors") wins: they must be
/// rejected with [`MerkleError::WrongDigestLength`]. The upstream verifier only compares
/// the two roots byte for byte when the sizes are equal, so it accepts 12-byte roots.
const REJECTED_BY_LENGTH_POLICY: &[&str] =
    &["consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"];

fn merkle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/merkle")
}

/// Every `.json` file under `dir`, recursively, sorted.
fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read vector directory {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

/// The vectors of one kind, as (path relative to `testdata/`, parsed JSON), sorted by path.
fn load_vectors(kind: &str) -> Vec<(String, Value)> {
    let testdata = merkle_dir().join("testdata");
    let mut files = Vec::new();
    json_files(&testdata.join(kind), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let name = path
                .strip_prefix(&testdata)
                .expect("vector files are under testdata/")
                .to_string_lossy()
                .replace('\\', "/");
            (name, json)
        })
        .collect()
}

fn field<'a>(name: &str, v: &'a Value, key: &str) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("{name}: field {key:?} is missing"))
}

fn base64_bytes(name: &str, v: &Value) -> Vec<u8> {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("{name}: expected a base64 string, got {v}"));
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("{name}: {text:?} is not base64: {e}"))
}

fn u64_field(name: &str, v: &Value, key: &str) -> u64 {
    let value = field(name, v, key);
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: field {key:?} is not a u64: {value}"))
}

fn want_err(name: &str, v: &Value) -> bool {
    let value = field(name, v, "wantErr");
    value
        .as_bool()
        .unwrap_or_else(|| panic!("{name}: wantErr is not a bool: {value}"))
}

/// A single base64 hash field, as raw bytes of whatever length it has.
fn hash_field(name: &str, v: &Value, key: &str) -> Vec<u8> {
    base64_bytes(name, field(name, v, key))
}

/// The `proof` field as raw byte strings; `null` is the empty proof.
fn proof_field(name: &str, v: &Value) -> Vec<Vec<u8>> {
    match field(name, v, "proof") {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(|h| base64_bytes(name, h)).collect(),
        other => panic!("{name}: proof is neither null nor an array: {other}"),
    }
}

/// Every hash a vector carries, for the length-policy bookkeeping.
fn all_hashes(name: &str, v: &Value, keys: &[&str]) -> Vec<Vec<u8>> {
    let mut hashes: Vec<Vec<u8>> = keys.iter().map(|k| hash_field(name, v, k)).collect();
    hashes.extend(proof_field(name, v));
    hashes
}

fn digests(list: &[Vec<u8>]) -> Result<Vec<Digest32>, MerkleError> {
    list.iter().map(|bytes| digest_from_slice(bytes)).collect()
}

fn run_inclusion(name: &str, v: &Value) -> Result<(), MerkleError> {
    let leaf = digest_from_slice(&hash_field(name, v, "leafHash"))?;
    let root = digest_from_slice(&hash_field(name, v, "root"))?;
    let proof = digests(&proof_field(name, v))?;
    verify_inclusion(
        &leaf,
        u64_field(name, v, "leafIdx"),
        u64_field(name, v, "treeSize"),
        &proof,
        &root,
    )
}

fn run_consistency(name: &str, v: &Value) -> Result<(), MerkleError> {
    let old_root = digest_from_slice(&hash_field(name, v, "root1"))?;
    let new_root = digest_from_slice(&hash_field(name, v, "root2"))?;
    let proof = digests(&proof_field(name, v))?;
    verify_consistency(
        u64_field(name, v, "size1"),
        u64_field(name, v, "size2"),
        &proof,
        &old_root,
        &new_root,
    )
}

fn variant_name(e: &MerkleError) -> String {
    format!("{e:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Runs every vector of one kind and returns the tally of outcomes.
fn run_all(
    kind: &str,
    expected_count: usize,
    hash_keys: &[&str],
    run: fn(&str, &Value) -> Result<(), MerkleError>,
) -> BTreeMap<String, usize> {
    let vectors = load_vectors(kind);
    assert_eq!(
        vectors.len(),
        expected_count,
        "expected {expected_count} {kind} vectors under {}",
        merkle_dir().display()
    );
    let mut failures = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut overridden = Vec::new();
    for (name, v) in &vectors {
        let upstream_want_err = want_err(name, v);
        let has_odd_hash = all_hashes(name, v, hash_keys).iter().any(|h| h.len() != 32);
        let overridden_here = REJECTED_BY_LENGTH_POLICY.contains(&name.as_str());
        if !upstream_want_err && has_odd_hash {
            if overridden_here {
                overridden.push(name.clone());
            } else {
                failures.push(format!(
                    "{name}: valid upstream but carries a non-32-byte hash; \
                     add it to REJECTED_BY_LENGTH_POLICY if that is intended"
                ));
            }
        }
        let result = run(name, v);
        let outcome = match &result {
            Ok(()) => "accepted".to_owned(),
            Err(e) => variant_name(e),
        };
        *tally.entry(outcome).or_default() += 1;
        match (upstream_want_err || overridden_here, result) {
            (false, Err(e)) => failures.push(format!("{name}: valid vector rejected: {e}")),
            (true, Ok(())) => failures.push(format!("{name}: invalid vector accepted")),
            (true, Err(e))
                if overridden_here && !matches!(e, MerkleError::WrongDigestLength { .. }) =>
            {
                failures.push(format!("{name}: expected a hash-length error, got {e}"))
            }
            _ => {}
        }
    }
    let listed_here: Vec<String> = REJECTED_BY_LENGTH_POLICY
        .iter()
        .filter(|n| n.starts_with(&format!("{kind}/")))
        .map(|n| (*n).to_owned())
        .collect();
    assert_eq!(
        overridden, listed_here,
        "REJECTED_BY_LENGTH_POLICY is out of date for {kind}"
    );
    eprintln!("{kind}: {} vectors, outcomes {tally:?}", vectors.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    tally
}

#[test]
fn every_inclusion_vector() {
    let tally = run_all(
        "inclusion",
        INCLUSION_VECTORS,
        &["leafHash", "root"],
        run_inclusion,
    );
    assert_eq!(tally.values().sum::<usize>(), INCLUSION_VECTORS);
}

#[test]
fn every_consistency_vector() {
    let tally = run_all(
        "consistency",
        CONSISTENCY_VECTORS,
        &["root1", "root2"],
        run_consistency,
    );
    assert_eq!(tally.values().sum::<usize>(), CONSISTENCY_VECTORS);
}

/// The reference tree: leaf hashes and roots for sizes 0..=8.
struct ReferenceTree {
    leaves: Vec<Digest32>,
    roots: Vec<Digest32>,
}

fn hex_digest(what: &str, v: &Value) -> Digest32 {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected a hex string, got {v}"));
    let bytes = hex::decode(text).unwrap_or_else(|e| panic!("{what}: {text:?} is not hex: {e}"));
    digest_from_slice(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn b64_digest(what: &str, v: &Value) -> Digest32 {
    digest_from_slice(&base64_bytes(what, v)).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn array<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("reference tree: {key:?} is not an array"))
}

fn object<'a>(v: &'a Value, key: &str) -> &'a serde_json::Map<String, Value> {
    v.get(key)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("reference tree: {key:?} is not an object"))
}

fn reference_tree() -> ReferenceTree {
    let path = merkle_dir().join("rfc6962-reference-tree.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("reference tree is JSON");

    let inputs = array(&json, "leaf_inputs_hex");
    let hashes_hex = array(&json, "leaf_hashes_hex");
    let hashes_b64 = array(&json, "leaf_hashes_b64");
    assert_eq!(inputs.len(), 8, "the reference tree has 8 leaves");
    assert_eq!(hashes_hex.len(), 8);
    assert_eq!(hashes_b64.len(), 8);
    let mut leaves = Vec::new();
    for (i, ((input, hex), b64)) in inputs.iter().zip(hashes_hex).zip(hashes_b64).enumerate() {
        let what = format!("leaf {i}");
        let data = hex::decode(input.as_str().expect("leaf inputs are hex strings"))
            .unwrap_or_else(|e| panic!("{what}: input is not hex: {e}"));
        let expected = hex_digest(&what, hex);
        assert_eq!(
            b64_digest(&what, b64),
            expected,
            "{what}: hex and base64 differ"
        );
        assert_eq!(leaf_hash(&data), expected, "{what}: leaf hash");
        leaves.push(expected);
    }

    let roots_hex = object(&json, "root_hashes_by_tree_size_hex");
    let roots_b64 = object(&json, "root_hashes_by_tree_size_b64");
    assert_eq!(roots_hex.len(), 9, "roots for sizes 0..=8");
    assert_eq!(roots_b64.len(), 9, "roots for sizes 0..=8");
    let roots = (0..=8usize)
        .map(|n| {
            let what = format!("root of size {n}");
            let key = n.to_string();
            let hex = roots_hex
                .get(&key)
                .unwrap_or_else(|| panic!("{what} missing"));
            let b64 = roots_b64
                .get(&key)
                .unwrap_or_else(|| panic!("{what} missing"));
            let expected = hex_digest(&what, hex);
            assert_eq!(
                b64_digest(&what, b64),
                expected,
                "{what}: hex and base64 differ"
            );
            expected
        })
        .collect();
    ReferenceTree { leaves, roots }
}

#[test]
fn reference_tree_roots_for_sizes_0_to_8() {
    let tree = reference_tree();
    assert_eq!(root_from_leaf_hashes(&[]), empty_root());
    for n in 0..=8 {
        assert_eq!(
            root_from_leaf_hashes(&tree.leaves[..n]),
            tree.roots[n],
            "root of the first {n} leaves"
        );
    }
}

#[test]
fn reference_tree_generated_proofs_verify() {
    let tree = reference_tree();
    let mut inclusion_checked = 0;
    let mut consistency_checked = 0;
    for n in 1..=8usize {
        let size = n as u64;
        for i in 0..n {
            let index = i as u64;
            let proof = inclusion_proof(&tree.leaves[..n], index)
                .unwrap_or_else(|e| panic!("inclusion proof {i} in {n}: {e}"));
            verify_inclusion(&tree.leaves[i], index, size, &proof, &tree.roots[n])
                .unwrap_or_else(|e| panic!("inclusion proof {i} in {n}: {e}"));
            if n > 1 {
                // The same proof must not prove the neighbouring leaf.
                let other = (i + 1) % n;
                assert!(
                    verify_inclusion(&tree.leaves[other], index, size, &proof, &tree.roots[n])
                        .is_err(),
                    "inclusion proof {i} in {n} also proves leaf {other}"
                );
            }
            inclusion_checked += 1;
        }
        for m in 1..=n {
            let proof = consistency_proof(&tree.leaves[..n], m as u64)
                .unwrap_or_else(|e| panic!("consistency proof {m} -> {n}: {e}"));
            verify_consistency(m as u64, size, &proof, &tree.roots[m], &tree.roots[n])
                .unwrap_or_else(|e| panic!("consistency proof {m} -> {n}: {e}"));
            consistency_checked += 1;
        }
        assert_eq!(
            consistency_proof(&tree.leaves[..n], 0),
            Err(MerkleError::EmptyOldTree { new_size: size })
        );
    }
    assert_eq!(inclusion_checked, 36);
    assert_eq!(consistency_checked, 36);
}

/// The happy-path vectors are proofs over the reference tree: the proofs we generate must
/// be the same hashes in the same order.
#[test]
fn generated_proofs_match_the_vectors() {
    let tree = reference_tree();
    let mut inclusion_matched = 0;
    for (name, v) in load_vectors("inclusion") {
        if want_err(&name, &v) {
            continue;
        }
        let size = u64_field(&name, &v, "treeSize");
        let index = u64_field(&name, &v, "leafIdx");
        let (Ok(n), Ok(i)) = (usize::try_from(size), usize::try_from(index)) else {
            continue;
        };
        let root = hash_field(&name, &v, "root");
        let leaf = hash_field(&name, &v, "leafHash");
        if n > 8 || i >= n || root != tree.roots[n] || leaf != tree.leaves[i] {
            continue;
        }
        let expected = digests(&proof_field(&name, &v)).expect("valid vectors have 32-byte hashes");
        let generated = inclusion_proof(&tree.leaves[..n], index).expect("index is in range");
        assert_eq!(generated, expected, "{name}");
        inclusion_matched += 1;
    }
    assert_eq!(inclusion_matched, CROSS_CHECKED_INCLUSION);

    let mut consistency_matched = 0;
    for (name, v) in load_vectors("consistency") {
        if want_err(&name, &v) {
            continue;
        }
        let old_size = u64_field(&name, &v, "size1");
        let new_size = u64_field(&name, &v, "size2");
        let (Ok(m), Ok(n)) = (usize::try_from(old_size), usize::try_from(new_size)) else {
            continue;
        };
        if n > 8 || m > n {
            continue;
        }
        let old_root = hash_field(&name, &v, "root1");
        let new_root = hash_field(&name, &v, "root2");
        if old_root != tree.roots[m] || new_root != tree.roots[n] {
            continue;
        }
        let expected = digests(&proof_field(&name, &v)).expect("valid vectors have 32-byte hashes");
        let generated = consistency_proof(&tree.leaves[..n], old_size).expect("sizes are valid");
        assert_eq!(generated, expected, "{name}");
        consistency_matched += 1;
    }
    assert_eq!(consistency_matched, CROSS_CHECKED_CONSISTENCY);
}
