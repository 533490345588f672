//! Proof bundles: what a consumer needs to check a product's history against the
//! consortium's validators without trusting the node that served it (docs/PROOFS.md).
//!
//! A bundle carries the open-tier records shown to the consumer, each with its RFC 6962
//! inclusion proof to a block header's `open_root`; those headers (shared between
//! records) with their commit certificates; and the genesis, whose hash is the trust
//! root (the QR code's `wb` fingerprint). Validator sets after genesis are themselves
//! open-tier records (`validator_set`), certified by the set before them.
//!
//! [`verify`] checks, in order: the genesis against the fingerprint, every header's
//! validator set and certificate (> 2/3 of the voting power), every record's inclusion;
//! it names the first step that fails.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::block::{validators_hash, BlockHeader, CommitCertificate, ValidatorInfo};
use crate::hash::sha256;
use crate::{codec, limits, merkle, Genesis, Height, PublicKey};

/// The bundle format this build writes and reads.
pub const PROOF_FORMAT: &str = "waybill-proof/1";
/// Hex characters of the genesis hash used as the consortium fingerprint: 128 bits,
/// so forging a genesis (validator keys of one's own) that matches it is a 2^128
/// second-preimage search; 64 bits would be within reach of a GPU cluster.
pub const FINGERPRINT_HEX_LEN: usize = 32;
/// Largest bundle accepted, in bytes of JSON.
pub const PROOF_BUNDLE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// A block header with its commit certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertifiedHeader {
    /// Height.
    pub height: u64,
    /// The header, borsh, base64.
    pub header: String,
    /// The commit certificate, borsh, base64.
    pub certificate: String,
}

/// An open-tier record with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenRecord {
    /// The block that published it.
    pub height: u64,
    /// Its index among the block's records.
    pub index: u64,
    /// How many records the block published.
    pub tree_size: u64,
    /// The record's bytes (JSON text), base64.
    pub record: String,
    /// The inclusion proof: sibling hashes, hex, leaf to root.
    pub proof: Vec<String>,
}

/// A proof bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// [`PROOF_FORMAT`].
    pub format: String,
    /// What the bundle is about (a canonical GS1 Digital Link).
    pub subject: String,
    /// The chain.
    pub chain_id: String,
    /// The genesis, borsh, base64: its SHA-256 is the trust root.
    pub genesis: String,
    /// First [`FINGERPRINT_HEX_LEN`] hex characters of the genesis hash.
    pub fingerprint: String,
    /// Headers with certificates, by height, each once.
    pub headers: Vec<CertifiedHeader>,
    /// The records.
    pub records: Vec<ProvenRecord>,
}

/// The consortium fingerprint: the first hex characters of the genesis hash.
pub fn fingerprint(genesis: &Genesis) -> String {
    genesis.hash().to_string()[..FINGERPRINT_HEX_LEN].to_string()
}

/// A verified record.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedRecord {
    /// Block height.
    pub height: u64,
    /// Index in the block's records.
    pub index: u64,
    /// The record.
    pub record: serde_json::Value,
}

/// What a successful verification established.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The chain.
    pub chain_id: String,
    /// The genesis hash.
    pub genesis_hash: crate::Hash,
    /// Every record, in bundle order.
    pub records: Vec<VerifiedRecord>,
    /// Headers checked.
    pub headers: usize,
    /// The validator keys that signed, over all certificates.
    pub signers: Vec<PublicKey>,
}

/// The first check that failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{step}: {detail}")]
pub struct ProofError {
    /// Which check: "format", "genesis", "fingerprint", "header", "validator set",
    /// "certificate", "record", "inclusion", "subject".
    pub step: &'static str,
    /// What was wrong.
    pub detail: String,
}

fn err(step: &'static str, detail: impl Into<String>) -> ProofError {
    ProofError {
        step,
        detail: detail.into(),
    }
}

fn b64(step: &'static str, what: &str, s: &str) -> Result<Vec<u8>, ProofError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| err(step, format!("{what} is not base64: {e}")))
}

/// The validator set published by a `validator_set` record, with its effective height.
fn validator_set_record(v: &serde_json::Value) -> Option<(u64, Vec<ValidatorInfo>)> {
    if v["kind"] != "validator_set" {
        return None;
    }
    let h = v["effective_height"].as_u64()?;
    let set: Vec<ValidatorInfo> = serde_json::from_value(v["validators"].clone()).ok()?;
    Some((h, set))
}

/// The proven records must be about what the bundle says it is about: the product
/// record of the subject's GTIN, the record of its lot, and an event naming its serial
/// (otherwise a node could pass off another product's genuine history).
fn check_subject(subject: &str, records: &[VerifiedRecord]) -> Result<(), ProofError> {
    let dl = crate::digital_link::DigitalLink::parse(subject)
        .map_err(|e| err("subject", format!("`{subject}` is not a Digital Link: {e}")))?;
    let gtin = dl
        .gtin()
        .ok_or_else(|| err("subject", format!("`{subject}` names no GTIN")))?;
    let of_kind = |k: &'static str| {
        records
            .iter()
            .map(|r| &r.record)
            .filter(move |r| r["kind"] == k)
    };
    if !of_kind("product").any(|r| r["gtin"] == gtin) {
        return Err(err(
            "subject",
            format!("the bundle proves no product record for GTIN {gtin}"),
        ));
    }
    if let Some(lot) = dl.lot() {
        if !of_kind("lot").any(|r| r["gtin"] == gtin && r["lot"] == lot) {
            return Err(err(
                "subject",
                format!("the bundle proves no record of lot {lot} of {gtin}"),
            ));
        }
    }
    if let Some(serial) = dl.serial() {
        let id = dl.to_uri(None);
        let id = id.split('?').next().unwrap_or(&id);
        let named = of_kind("event").any(|r| {
            r["ids"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|x| x["id"] == id))
        });
        if !named {
            return Err(err(
                "subject",
                format!("no proven event names serial {serial} ({id})"),
            ));
        }
    }
    Ok(())
}

/// Verify `bundle` against a trust root: the expected genesis hash prefix
/// (`fingerprint`, from the QR code) and/or a full genesis the verifier holds.
pub fn verify(
    bundle: &ProofBundle,
    fingerprint_hex: Option<&str>,
    trusted_genesis: Option<&Genesis>,
) -> Result<Verified, ProofError> {
    if bundle.format != PROOF_FORMAT {
        return Err(err(
            "format",
            format!("bundle format `{}` is not {PROOF_FORMAT}", bundle.format),
        ));
    }
    if fingerprint_hex.is_none() && trusted_genesis.is_none() {
        return Err(err(
            "fingerprint",
            "no trust root: give the consortium fingerprint (from the QR code) or its genesis",
        ));
    }
    let genesis_bytes = b64("genesis", "genesis", &bundle.genesis)?;
    let genesis: Genesis = codec::decode(&genesis_bytes, limits::GENESIS_BYTES_MAX, "genesis")
        .map_err(|e| err("genesis", e.to_string()))?;
    let genesis_hash = sha256(&genesis_bytes);
    if let Some(fp) = fingerprint_hex {
        let fp = fp.to_ascii_lowercase();
        if fp.len() < 8 || !genesis_hash.to_string().starts_with(&fp) {
            return Err(err(
                "fingerprint",
                format!(
                    "the bundle's genesis hashes to {genesis_hash}, which does not match the consortium fingerprint {fp}"
                ),
            ));
        }
    }
    if let Some(g) = trusted_genesis {
        if g.hash() != genesis_hash {
            return Err(err(
                "genesis",
                format!(
                    "the bundle's genesis hashes to {genesis_hash}, the trusted genesis to {}",
                    g.hash()
                ),
            ));
        }
    }
    if genesis.chain_id != bundle.chain_id {
        return Err(err(
            "genesis",
            format!(
                "genesis is for chain `{}`, the bundle says `{}`",
                genesis.chain_id, bundle.chain_id
            ),
        ));
    }
    // Headers, each with its certificate, in height order.
    let mut headers: BTreeMap<u64, (BlockHeader, CommitCertificate)> = BTreeMap::new();
    for ch in &bundle.headers {
        let hb = b64("header", "header", &ch.header)?;
        let header: BlockHeader = codec::decode(&hb, 64 * 1024, "header")
            .map_err(|e| err("header", format!("height {}: {e}", ch.height)))?;
        if header.height != Height(ch.height) || header.chain_id != genesis.chain_id {
            return Err(err(
                "header",
                format!(
                    "header listed at height {} is for height {} of chain `{}`",
                    ch.height, header.height, header.chain_id
                ),
            ));
        }
        let cb = b64("certificate", "certificate", &ch.certificate)?;
        let cert: CommitCertificate =
            codec::decode(&cb, limits::CERTIFICATE_BYTES_MAX, "certificate")
                .map_err(|e| err("certificate", format!("height {}: {e}", ch.height)))?;
        if headers.insert(ch.height, (header, cert)).is_some() {
            return Err(err(
                "header",
                format!("height {} is listed twice", ch.height),
            ));
        }
    }
    // Records: decode and check inclusion; validator-set records are applied as their
    // blocks are reached.
    let mut decoded = Vec::with_capacity(bundle.records.len());
    for (i, r) in bundle.records.iter().enumerate() {
        let bytes = b64("record", &format!("record {i}"), &r.record)?;
        let (header, _) = headers.get(&r.height).ok_or_else(|| {
            err(
                "record",
                format!(
                    "record {i} cites height {}, whose header is not in the bundle",
                    r.height
                ),
            )
        })?;
        let proof: Vec<merkle::Digest32> = r
            .proof
            .iter()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                    .ok_or_else(|| {
                        err(
                            "inclusion",
                            format!("record {i}: proof hash `{h}` is not 32 bytes of hex"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        merkle::verify_inclusion(
            &merkle::leaf_hash(&bytes),
            r.index,
            r.tree_size,
            &proof,
            &header.open_root.0,
        )
        .map_err(|e| {
            err(
                "inclusion",
                format!(
                    "record {i} (height {}, index {}) is not in the block's open-tier tree: {e}",
                    r.height, r.index
                ),
            )
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| err("record", format!("record {i} is not JSON: {e}")))?;
        decoded.push(VerifiedRecord {
            height: r.height,
            index: r.index,
            record: value,
        });
    }
    // Validator sets: genesis, then each published change (from the block after the one
    // that published it, at its effective height).
    let mut changes: BTreeMap<u64, Vec<ValidatorInfo>> = BTreeMap::new();
    for r in &decoded {
        if let Some((eff, set)) = validator_set_record(&r.record) {
            if eff <= r.height {
                return Err(err(
                    "validator set",
                    format!(
                        "a validator set published at height {} claims to take effect at {eff}",
                        r.height
                    ),
                ));
            }
            changes.insert(eff, set);
        }
    }
    let genesis_set = genesis.validator_set();
    let mut signers = std::collections::BTreeSet::new();
    for (h, (header, cert)) in &headers {
        let set = changes
            .range(..=*h)
            .next_back()
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| genesis_set.clone());
        if header.validators_hash != validators_hash(&set) {
            return Err(err(
                "validator set",
                format!(
                    "header {h} names validator set {}, but the set in force from genesis and the published changes hashes to {}",
                    header.validators_hash,
                    validators_hash(&set)
                ),
            ));
        }
        cert.verify(&genesis.chain_id, Height(*h), header.hash(), &set)
            .map_err(|e| err("certificate", e.to_string()))?;
        signers.extend(cert.signatures.iter().map(|s| s.validator));
    }
    check_subject(&bundle.subject, &decoded)?;
    Ok(Verified {
        chain_id: genesis.chain_id,
        genesis_hash,
        records: decoded,
        headers: headers.len(),
        signers: signers.into_iter().collect(),
    })
}
