//! Disclosures (docs/PRIVACY.md "Provable disclosure"): one sealed field's value,
//! shown to someone outside its recipients, with what proves it is the value the
//! chain committed to — without the rest of its record and without trusting whoever
//! hands it over.
//!
//! A disclosure carries the value and its salt; the field's leaf in its block's
//! commitment tree (record id, field pointer, commitment) with the RFC 6962 inclusion
//! proof to that block header's `commit_root`; the header with its commit certificate;
//! and, so the verifier knows which validators had to sign it, the chain of
//! validator-set records up to a newer *anchor* header, proven complete from the
//! anchor's `heads_root` like a proof bundle's (docs/PROOFS.md). The genesis is in the
//! file; the verifier's trust root (genesis, fingerprint or trust file) is not.
//!
//! [`verify_text`] checks, in order, and names the first step that fails: `format`
//! (including that the file is exactly as written: any changed byte fails), the trust
//! root, `header`, `record`, `inclusion` (of the validator-set records), `validator
//! set`, `certificate`, `anchor`, `heads`, `completeness` (the validators' chain),
//! `commitment` (the value and salt hash to the commitment) and `disclosure` (the
//! commitment is in the block's commitment tree).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::Hash;
use crate::merkle;
use crate::proof::{
    check_certificates, check_heads, decode_headers, decode_records, trusted_genesis,
    CertifiedHeader, ProofError, ProvenRecord, Records, SubjectHead, TrustRoot, VALIDATORS_SUBJECT,
};
use crate::PublicKey;

/// The disclosure format this build writes and reads.
pub const DISCLOSURE_FORMAT: &str = "waybill-disclosure/1";
/// Largest disclosure accepted, in bytes of JSON.
pub const DISCLOSURE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Where a sealed field's commitment stands on chain, proven: what a node serves to
/// whoever may read the record (`GET /v1/sealed/proof`), and what a disclosure adds
/// the value and salt to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitmentProof {
    /// The chain.
    pub chain_id: String,
    /// The genesis, borsh, base64.
    pub genesis: String,
    /// The record the field belongs to (an EPCIS event's eventID).
    pub record: String,
    /// The field's JSON pointer inside the record.
    pub field: String,
    /// `SHA-256(salt ‖ JCS(value))`.
    pub commitment: Hash,
    /// The block that sealed it.
    pub height: u64,
    /// The leaf's index in the block's commitment tree.
    pub index: u64,
    /// How many leaves the block's commitment tree has.
    pub tree_size: u64,
    /// The inclusion proof: sibling hashes, hex, leaf to root.
    pub proof: Vec<String>,
    /// Certified headers, by height: the sealing block's, the blocks' that published
    /// validator-set changes, and the anchor's (the newest).
    pub headers: Vec<CertifiedHeader>,
    /// The validator-set records up to the anchor, with their inclusion proofs.
    pub validator_records: Vec<ProvenRecord>,
    /// The head of the `validators` chain at the anchor.
    pub validators_head: SubjectHead,
}

/// A disclosed field: its value and salt, and the proof of its commitment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// [`DISCLOSURE_FORMAT`].
    pub format: String,
    /// The value, as sealed.
    pub value: Value,
    /// Its salt, 32 bytes, hex.
    pub salt: String,
    /// The commitment, proven.
    pub proven: CommitmentProof,
}

/// What a disclosure established.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedDisclosure {
    /// The chain.
    pub chain_id: String,
    /// The genesis hash.
    pub genesis_hash: Hash,
    /// The record.
    pub record: String,
    /// The field.
    pub field: String,
    /// The value.
    pub value: Value,
    /// The block that sealed it...
    pub height: u64,
    /// ...at this block time (ms since the Unix epoch).
    pub time_ms: u64,
    /// The validator keys that signed the sealing block's header.
    pub signers: Vec<PublicKey>,
}

fn err(step: &'static str, detail: impl Into<String>) -> ProofError {
    ProofError {
        step,
        detail: detail.into(),
    }
}

impl CommitmentProof {
    /// The genesis it carries (decoded, not trusted: a verifier's trust root is its
    /// own).
    pub fn genesis(&self) -> Result<crate::Genesis, ProofError> {
        let bytes = crate::proof::b64("genesis", "genesis", &self.genesis)?;
        crate::codec::decode(&bytes, crate::limits::GENESIS_BYTES_MAX, "genesis")
            .map_err(|e| err("genesis", e.to_string()))
    }
}

impl Disclosure {
    /// The file text: pretty JSON and a newline, the one form [`verify_text`] accepts.
    pub fn to_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a disclosure is plain JSON");
        s.push('\n');
        s
    }
}

/// Verify a disclosure file's text against a trust root the verifier holds.
pub fn verify_text(text: &[u8], trust: &TrustRoot) -> Result<VerifiedDisclosure, ProofError> {
    if text.len() > DISCLOSURE_BYTES_MAX {
        return Err(err(
            "format",
            format!(
                "the file has {} bytes, more than a disclosure's {DISCLOSURE_BYTES_MAX}",
                text.len()
            ),
        ));
    }
    let d: Disclosure = serde_json::from_slice(text)
        .map_err(|e| err("format", format!("not a disclosure: {e}")))?;
    if d.to_text().as_bytes() != text {
        return Err(err(
            "format",
            "the file is not byte for byte as written (a disclosure is checked whole: any changed byte fails)",
        ));
    }
    verify(&d, trust)
}

/// Verify a disclosure against a trust root the verifier holds (never one from the
/// disclosure itself).
pub fn verify(d: &Disclosure, trust: &TrustRoot) -> Result<VerifiedDisclosure, ProofError> {
    if d.format != DISCLOSURE_FORMAT {
        return Err(err(
            "format",
            format!(
                "disclosure format `{}` is not {DISCLOSURE_FORMAT}",
                d.format
            ),
        ));
    }
    let (value, salt) = (&d.value, &d.salt);
    let d = &d.proven;
    let (genesis, genesis_hash) = trusted_genesis("disclosure", &d.genesis, &d.chain_id, trust)?;
    let headers = decode_headers(&d.headers, &genesis.chain_id)?;
    let Records {
        decoded,
        by_pos,
        leaves,
    } = decode_records(&d.validator_records, &headers)?;
    check_certificates(&headers, &decoded, &genesis)?;
    let (&anchor_height, (anchor, _)) = headers
        .last_key_value()
        .ok_or_else(|| err("anchor", "the disclosure has no headers"))?;
    if d.validators_head.subject != VALIDATORS_SUBJECT {
        return Err(err(
            "heads",
            format!(
                "the head given is of {}, not of {VALIDATORS_SUBJECT}",
                d.validators_head.subject
            ),
        ));
    }
    let heads = check_heads(
        std::slice::from_ref(&d.validators_head),
        anchor,
        anchor_height,
        &leaves,
    )?;
    // The validators' chain, complete from its head: every record a link of it, each
    // a validator-set record, and nothing else.
    let mut at = heads.get(VALIDATORS_SUBJECT).copied().flatten();
    let mut walked = 0usize;
    while let Some(pos) = at {
        let rec = by_pos.get(&pos).ok_or_else(|| {
            err(
                "completeness",
                format!(
                    "validator-set record {}/{} is not in the disclosure",
                    pos.0, pos.1
                ),
            )
        })?;
        if rec["kind"] != "validator_set" {
            return Err(err(
                "completeness",
                format!("record {}/{} is not a validator-set record", pos.0, pos.1),
            ));
        }
        walked += 1;
        at = match &rec["prev"][VALIDATORS_SUBJECT] {
            Value::Null => None,
            v => match (v[0].as_u64(), v[1].as_u64()) {
                (Some(h), Some(i)) => Some((h, i)),
                _ => {
                    return Err(err(
                        "completeness",
                        format!(
                            "record {}/{} has no link to the previous validator set",
                            pos.0, pos.1
                        ),
                    ))
                }
            },
        };
    }
    if walked != by_pos.len() {
        return Err(err(
            "completeness",
            "the disclosure carries records that are not on the validators' chain",
        ));
    }
    // The value, its salt, its commitment.
    let salt: [u8; 32] = hex::decode(salt)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| err("commitment", "the salt is not 32 bytes of hex"))?;
    if !crate::seal::matches_commitment(&d.commitment, value, &salt) {
        return Err(err(
            "commitment",
            format!(
                "SHA-256(salt ‖ JCS(value)) is not the commitment {}: the value or salt was changed",
                d.commitment
            ),
        ));
    }
    // The commitment is in the sealing block's tree.
    let (header, cert) = headers.get(&d.height).ok_or_else(|| {
        err(
            "disclosure",
            format!(
                "the header of block {}, which sealed the field, is not in the disclosure",
                d.height
            ),
        )
    })?;
    let proof: Vec<merkle::Digest32> = d
        .proof
        .iter()
        .map(|h| {
            hex::decode(h)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| {
                    err(
                        "disclosure",
                        format!("proof hash `{h}` is not 32 bytes of hex"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let leaf = merkle::leaf_hash(&crate::seal::commitment_leaf(
        &d.record,
        &d.field,
        &d.commitment,
    ));
    merkle::verify_inclusion(&leaf, d.index, d.tree_size, &proof, &header.commit_root.0).map_err(
        |e| {
            err(
                "disclosure",
                format!(
                    "{} of {} with commitment {} is not in block {}'s commitment tree: {e}",
                    d.field, d.record, d.commitment, d.height
                ),
            )
        },
    )?;
    Ok(VerifiedDisclosure {
        chain_id: genesis.chain_id,
        genesis_hash,
        record: d.record.clone(),
        field: d.field.clone(),
        value: value.clone(),
        height: d.height,
        time_ms: header.time_ms,
        signers: cert.signatures.iter().map(|s| s.validator).collect(),
    })
}
