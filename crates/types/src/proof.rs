//! Proof bundles: what a consumer needs to check a product's history against the
//! consortium's validators without trusting the node that served it (docs/PROOFS.md).
//!
//! A bundle carries the open-tier records of the history, each with its RFC 6962
//! inclusion proof to a block header's `open_root`; those headers (and the newest,
//! the *anchor*) with their commit certificates; the genesis; and, for every subject
//! of the history (the item, the containers that held it, the lots it was made from,
//! their locations and owners' qualifications, the validator sets), a proof from the
//! anchor header's `heads_root` of the subject's latest record. Every record links to
//! the previous record of each subject it names (`prev`), so a subject's records form
//! a chain back from its head: the bundle proves each chain complete up to the anchor
//! — a node can neither drop a record in the middle nor the last one.
//!
//! [`verify`] checks, in order, and names the first step that fails: `format`, the
//! trust root (`fingerprint` or `genesis`, given by the verifier, never taken from
//! the bundle), `header`, `order` (records by position, each once), `inclusion`,
//! `record`, `validator set`, `certificate`, `anchor`, `heads`, `completeness`
//! (every chain of the history walked from its head, every link present) and
//! `subject` (the history is the one the bundle names, and holds nothing else).
//!
//! Which subjects make up a history is decided by [`walk_history`], used both by the
//! node that builds a bundle and by the verifier (and, line for line, by the browser's
//! `waybill-proof.js`).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::block::{validators_hash, BlockHeader, CommitCertificate, ValidatorInfo};
use crate::hash::{sha256, Hash};
use crate::{codec, limits, merkle, smt, Genesis, Height, PublicKey};

/// The bundle format this build writes and reads. Format 1 (no heads, no links) is no
/// longer read.
pub const PROOF_FORMAT: &str = "waybill-proof/2";
/// Hex characters of the genesis hash used as the consortium fingerprint: 128 bits,
/// so forging a genesis (validator keys of one's own) that matches it is a 2^128
/// second-preimage search; 64 bits would be within reach of a GPU cluster. A shorter
/// fingerprint is refused.
pub const FINGERPRINT_HEX_LEN: usize = 32;
/// Largest bundle accepted, in bytes of JSON.
pub const PROOF_BUNDLE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most records one bundle carries.
pub const PROOF_RECORDS_MAX: usize = 5_000;
/// Most subjects one history walks.
pub const PROOF_SUBJECTS_MAX: usize = 1_000;
/// The subject whose chain holds the validator-set changes.
pub const VALIDATORS_SUBJECT: &str = "validators";
/// The trust file format (`waybill trust`).
pub const TRUST_FORMAT: &str = "waybill-trust/1";

/// A block header with its commit certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// A subject's head at the anchor: where its latest record is (or that it has none),
/// proven from the anchor header's `heads_root`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectHead {
    /// The subject (a canonical identifier, `org:{id}` or `validators`).
    pub subject: String,
    /// `[height, index]` of its latest record, `null` if it has none.
    pub at: Option<[u64; 2]>,
    /// Sibling hashes (hex) from the root down the subject's path.
    pub proof: Vec<String>,
    /// When the path ends at another subject's entry (so this one has none): that
    /// entry's key and value, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<[String; 2]>,
}

/// A proof bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// [`PROOF_FORMAT`].
    pub format: String,
    /// What the bundle is about: a canonical GS1 Digital Link of a product, lot or
    /// item (`https://id.gs1.org/01/{gtin}[/10/{lot}][/21/{serial}]`).
    pub subject: String,
    /// The chain.
    pub chain_id: String,
    /// The genesis, borsh, base64: its SHA-256 is the trust root.
    pub genesis: String,
    /// First [`FINGERPRINT_HEX_LEN`] hex characters of the genesis hash.
    pub fingerprint: String,
    /// The height the histories are proven complete up to: the newest header.
    pub anchor: u64,
    /// Headers with certificates, by height, each once.
    pub headers: Vec<CertifiedHeader>,
    /// The head of every subject of the history, at the anchor.
    pub heads: Vec<SubjectHead>,
    /// The records, by (height, index), each once.
    pub records: Vec<ProvenRecord>,
}

/// The consortium fingerprint: the first hex characters of the genesis hash.
pub fn fingerprint(genesis: &Genesis) -> String {
    genesis.hash().to_string()[..FINGERPRINT_HEX_LEN].to_string()
}

/// A saved trust root (`waybill trust`): the chain and its full genesis hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustFile {
    /// [`TRUST_FORMAT`].
    pub format: String,
    /// The chain.
    pub chain_id: String,
    /// SHA-256 of its genesis (64 hex digits).
    pub genesis_hash: Hash,
}

/// What the verifier trusts, given from outside the bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustRoot {
    /// The consortium fingerprint (from the QR code): at least
    /// [`FINGERPRINT_HEX_LEN`] hex digits of the genesis hash.
    Fingerprint(String),
    /// The genesis itself.
    Genesis(Box<Genesis>),
    /// A saved trust file.
    Trust(TrustFile),
}

/// A verified record.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedRecord {
    /// Block height.
    pub height: u64,
    /// Index in the block's records.
    pub index: u64,
    /// The record.
    pub record: Value,
}

/// What a successful verification established.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The chain.
    pub chain_id: String,
    /// The genesis hash.
    pub genesis_hash: Hash,
    /// Every record, in bundle order.
    pub records: Vec<VerifiedRecord>,
    /// Headers checked.
    pub headers: usize,
    /// The validator keys that signed, over all certificates.
    pub signers: Vec<PublicKey>,
    /// Complete up to this height...
    pub anchor_height: u64,
    /// ...whose block time is this (ms since the Unix epoch).
    pub anchor_time_ms: u64,
    /// The history: every subject walked, with its records' positions (newest first).
    pub history: History,
}

/// The first check that failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{step}: {detail}")]
pub struct ProofError {
    /// Which check: "format", "genesis", "fingerprint", "header", "order", "inclusion",
    /// "record", "validator set", "certificate", "anchor", "heads", "completeness",
    /// "subject".
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

pub(crate) fn b64(step: &'static str, what: &str, s: &str) -> Result<Vec<u8>, ProofError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| err(step, format!("{what} is not base64: {e}")))
}

fn hex32(step: &'static str, what: &str, h: &str) -> Result<[u8; 32], ProofError> {
    hex::decode(h)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| err(step, format!("{what} `{h}` is not 32 bytes of hex")))
}

// ---------------------------------------------------------------------------
// Subjects and the history walk (shared by the node and the verifier).
// ---------------------------------------------------------------------------

/// What a bundle's subject names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// The GTIN (14 digits).
    pub gtin: String,
    /// The lot, as it appears in the canonical link (percent-encoded).
    pub lot: Option<String>,
    /// The serial, as it appears in the canonical link (percent-encoded).
    pub serial: Option<String>,
}

const DL_PREFIX: &str = "https://id.gs1.org/01/";

impl Subject {
    /// Parse a canonical Digital Link `https://id.gs1.org/01/{gtin}[/10/{lot}][/21/{serial}]`
    /// (no query, no other key qualifiers).
    pub fn parse(link: &str) -> Result<Subject, String> {
        let rest = link
            .strip_prefix(DL_PREFIX)
            .ok_or_else(|| format!("`{link}` is not a canonical Digital Link ({DL_PREFIX}…)"))?;
        let mut parts = rest.split('/');
        let gtin = parts.next().unwrap_or("").to_string();
        if gtin.len() != 14 || !gtin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{link}` does not name a 14-digit GTIN"));
        }
        let mut s = Subject {
            gtin,
            lot: None,
            serial: None,
        };
        let rest: Vec<&str> = parts.collect();
        let mut i = 0;
        while i < rest.len() {
            let (ai, value) = (rest[i], rest.get(i + 1).copied().unwrap_or(""));
            if value.is_empty() {
                return Err(format!("`{link}`: AI {ai} has no value"));
            }
            match ai {
                "10" if s.lot.is_none() && s.serial.is_none() => s.lot = Some(value.into()),
                "21" if s.serial.is_none() => s.serial = Some(value.into()),
                _ => return Err(format!("`{link}` is not canonical: unexpected `/{ai}/`")),
            }
            i += 2;
        }
        Ok(s)
    }

    /// The product's identifier, `https://id.gs1.org/01/{gtin}`.
    pub fn product_id(&self) -> String {
        format!("{DL_PREFIX}{}", self.gtin)
    }

    /// The lot's identifier, if it names one.
    pub fn lot_id(&self) -> Option<String> {
        self.lot
            .as_ref()
            .map(|l| format!("{DL_PREFIX}{}/10/{l}", self.gtin))
    }

    /// The item's identifier (as events name it), if it names a serial.
    pub fn item_id(&self) -> Option<String> {
        self.serial
            .as_ref()
            .map(|s| format!("{DL_PREFIX}{}/21/{s}", self.gtin))
    }

    /// The subjects whose histories the bundle must prove: the item, and the lot it
    /// names (or the lot, or — for a product alone — none: its lots are many).
    pub fn roots(&self) -> Vec<String> {
        self.item_id().into_iter().chain(self.lot_id()).collect()
    }
}

/// The GTIN of an identifier `https://id.gs1.org/01/{gtin}…`, if it is one.
pub fn gtin_of(id: &str) -> Option<&str> {
    let g = id.strip_prefix(DL_PREFIX)?.get(..14)?;
    g.bytes().all(|b| b.is_ascii_digit()).then_some(g)
}

/// The location subject `https://id.gs1.org/414/{gln}` of a read point or business
/// location (an SGLN's extension, `/254/…`, dropped), if it is a GLN.
pub fn location_subject(id: &str) -> Option<String> {
    let rest = id.strip_prefix("https://id.gs1.org/414/")?;
    let gln = rest.get(..13)?;
    (gln.bytes().all(|b| b.is_ascii_digit()) && (rest.len() == 13 || rest[13..].starts_with('/')))
        .then(|| format!("https://id.gs1.org/414/{gln}"))
}

/// The subjects a record in `subject`'s chain leads to, going back toward origins:
/// - an event (or inspection) where `subject` is a child → the parent (the pallet or
///   case that held it);
/// - where `subject` is an output of a transformation → its inputs;
/// - where `subject` is commissioned with an ILMD lot → that lot;
/// - its business location and read point → those locations;
/// - a lot's own record → its raw-material lots, its origin location, its owner's
///   qualifications (`org:{owner}`).
pub fn lineage_edges(subject: &str, record: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match record["kind"].as_str() {
        Some("event") | Some("inspection") => {
            let ids: Vec<(&str, &str)> = record["ids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| Some((x["role"].as_str()?, x["id"].as_str()?)))
                        .collect()
                })
                .unwrap_or_default();
            let roles: BTreeSet<&str> = ids
                .iter()
                .filter(|(_, id)| *id == subject)
                .map(|(r, _)| *r)
                .collect();
            let with = |wanted: &[&str], out: &mut Vec<String>| {
                for (r, id) in &ids {
                    if wanted.contains(r) {
                        out.push((*id).to_string());
                    }
                }
            };
            if roles.contains("child") || roles.contains("child_quantity") {
                with(&["parent"], &mut out);
            }
            if roles.contains("output") || roles.contains("output_quantity") {
                with(&["input", "input_quantity"], &mut out);
            }
            if roles.contains("epc") || roles.contains("quantity") {
                with(&["ilmd_lot"], &mut out);
            }
            for field in ["biz_location", "read_point"] {
                if let Some(l) = record[field].as_str().and_then(location_subject) {
                    out.push(l);
                }
            }
        }
        Some("lot") if record["id"].as_str() == Some(subject) => {
            if let Some(ids) = record["raw_material_ids"].as_array() {
                out.extend(ids.iter().filter_map(Value::as_str).map(str::to_string));
            }
            if let Some(gln) = record["origin_gln"].as_str() {
                out.push(format!("https://id.gs1.org/414/{gln}"));
            }
            if let Some(o) = record["owner"].as_str() {
                out.push(format!("org:{o}"));
            }
        }
        _ => {}
    }
    out
}

/// A record's position and its parsed JSON.
pub type PlacedRecord = (u64, u64, Value);

/// Where the history walk gets its facts: the node's state, or a bundle.
pub trait HistorySource {
    /// The source's error.
    type Error;
    /// The position of `subject`'s latest record, if it has any. `Err` if the source
    /// cannot say (a bundle without this subject's head).
    fn head(&mut self, subject: &str) -> Result<Option<(u64, u64)>, WalkError<Self::Error>>;
    /// The record at a position.
    fn record(&mut self, height: u64, index: u64) -> Result<Value, WalkError<Self::Error>>;
    /// The position and record of the product master record of `gtin` (its first
    /// record), if the source has it.
    fn product(&mut self, gtin: &str) -> Result<Option<PlacedRecord>, WalkError<Self::Error>>;
}

/// Why a history could not be walked.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum WalkError<E> {
    /// The source failed.
    #[error("{0}")]
    Source(E),
    /// A subject's head is not known.
    #[error("the head of {subject} is not proven")]
    NoHead {
        /// The subject.
        subject: String,
    },
    /// A record of a chain is missing.
    #[error("record {height}/{index} of the history of {subject} is missing (a gap)")]
    Missing {
        /// The subject whose chain it belongs to.
        subject: String,
        /// Its block.
        height: u64,
        /// Its index.
        index: u64,
    },
    /// A record does not link as a chain must.
    #[error("record {height}/{index} in the history of {subject}: {detail}")]
    BadLink {
        /// The subject.
        subject: String,
        /// Its block.
        height: u64,
        /// Its index.
        index: u64,
        /// What is wrong.
        detail: String,
    },
    /// Over a limit.
    #[error("the history is too large: {0}")]
    TooLarge(String),
}

/// A walked history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Every subject walked, in the order reached, with its records (newest first).
    pub chains: Vec<(String, Vec<(u64, u64)>)>,
    /// Product master records shown with the history, by GTIN.
    pub products: BTreeMap<String, (u64, u64)>,
}

impl History {
    /// Every position the history uses, each once, ascending.
    pub fn positions(&self) -> BTreeSet<(u64, u64)> {
        self.chains
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .chain(self.products.values().copied())
            .collect()
    }
}

/// The `prev` link of `record` for `subject`: `Ok(Some(pos))`, `Ok(None)` for the
/// first record of the subject, `Err` if the record does not name the subject.
fn prev_of(record: &Value, subject: &str) -> Result<Option<(u64, u64)>, String> {
    match record["prev"].get(subject) {
        None => Err(format!("does not name {subject}")),
        Some(Value::Null) => Ok(None),
        Some(v) => {
            let h = v.get(0).and_then(Value::as_u64);
            let i = v.get(1).and_then(Value::as_u64);
            match (h, i, v.as_array().map(Vec::len)) {
                (Some(h), Some(i), Some(2)) => Ok(Some((h, i))),
                _ => Err(format!("its link for {subject} is not [height, index]")),
            }
        }
    }
}

/// Walk the history of `subject` back from its roots: every chain reached through
/// [`lineage_edges`], the owners' qualifications, the validator sets, and the product
/// master records of the GTINs met. The node and the verifier both call this: what
/// the node puts in a bundle is exactly what the verifier asks for.
pub fn walk_history<S: HistorySource>(
    src: &mut S,
    subject: &Subject,
) -> Result<History, WalkError<S::Error>> {
    let mut queue: Vec<String> = subject.roots();
    queue.push(VALIDATORS_SUBJECT.to_string());
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    let mut gtins: Vec<String> = vec![subject.gtin.clone()];
    let mut history = History::default();
    let mut n_records = 0usize;
    let mut qi = 0;
    while qi < queue.len() {
        let s = queue[qi].clone();
        qi += 1;
        if queue.len() > PROOF_SUBJECTS_MAX {
            return Err(WalkError::TooLarge(format!(
                "more than {PROOF_SUBJECTS_MAX} subjects"
            )));
        }
        let mut chain = Vec::new();
        for (pos, rec) in walk_chain(src, &s, &mut n_records)? {
            for t in lineage_edges(&s, &rec) {
                if let Some(g) = gtin_of(&t) {
                    if !gtins.iter().any(|x| x == g) {
                        gtins.push(g.to_string());
                    }
                }
                if seen.insert(t.clone()) {
                    queue.push(t);
                }
            }
            chain.push(pos);
        }
        history.chains.push((s, chain));
        // Product masters of GTINs met so far, and their owners' qualifications.
        while let Some(g) = gtins
            .iter()
            .find(|g| !history.products.contains_key(*g))
            .cloned()
        {
            match src.product(&g)? {
                Some((h, i, rec)) => {
                    history.products.insert(g.clone(), (h, i));
                    if let Some(o) = rec["owner"].as_str() {
                        let t = format!("org:{o}");
                        if seen.insert(t.clone()) {
                            queue.push(t);
                        }
                    }
                }
                None => {
                    // Mark as looked up (position 0/0 is never a record: heights start at 1).
                    history.products.insert(g.clone(), (0, 0));
                }
            }
        }
    }
    history.products.retain(|_, p| p.0 > 0);
    Ok(history)
}

/// A record with its position `(height, index)`.
type PositionedRecord = ((u64, u64), Value);

/// The records of one subject's chain, newest first, from its head along its `prev`
/// links (each strictly older); `n_records` counts records walked against
/// [`PROOF_RECORDS_MAX`].
fn walk_chain<S: HistorySource>(
    src: &mut S,
    s: &str,
    n_records: &mut usize,
) -> Result<Vec<PositionedRecord>, WalkError<S::Error>> {
    let mut chain = Vec::new();
    let mut at = src.head(s)?;
    let mut newer: Option<(u64, u64)> = None;
    while let Some((h, i)) = at {
        if let Some(n) = newer {
            if (h, i) >= n {
                return Err(WalkError::BadLink {
                    subject: s.to_string(),
                    height: n.0,
                    index: n.1,
                    detail: format!("links forward to {h}/{i}"),
                });
            }
        }
        *n_records += 1;
        if *n_records > PROOF_RECORDS_MAX {
            return Err(WalkError::TooLarge(format!(
                "more than {PROOF_RECORDS_MAX} records"
            )));
        }
        let rec = src.record(h, i).map_err(|e| match e {
            WalkError::Missing { .. } => WalkError::Missing {
                subject: s.to_string(),
                height: h,
                index: i,
            },
            other => other,
        })?;
        newer = Some((h, i));
        at = prev_of(&rec, s).map_err(|detail| WalkError::BadLink {
            subject: s.to_string(),
            height: h,
            index: i,
            detail,
        })?;
        chain.push(((h, i), rec));
    }
    Ok(chain)
}

/// The history of the validator sets alone (what a disclosure carries to prove which
/// set signed its header): the `validators` chain from its head.
pub fn walk_validators<S: HistorySource>(src: &mut S) -> Result<History, WalkError<S::Error>> {
    let chain = walk_chain(src, VALIDATORS_SUBJECT, &mut 0)?;
    Ok(History {
        chains: vec![(
            VALIDATORS_SUBJECT.to_string(),
            chain.into_iter().map(|(p, _)| p).collect(),
        )],
        products: BTreeMap::new(),
    })
}

// ---------------------------------------------------------------------------
// Verification.
// ---------------------------------------------------------------------------

/// The validator set published by a `validator_set` record, with its effective height.
fn validator_set_record(v: &Value) -> Option<(u64, Vec<ValidatorInfo>)> {
    if v["kind"] != "validator_set" {
        return None;
    }
    let h = v["effective_height"].as_u64()?;
    let set: Vec<ValidatorInfo> = serde_json::from_value(v["validators"].clone()).ok()?;
    Some((h, set))
}

/// A bundle as a [`HistorySource`]: heads as proven, records as included.
struct BundleSource<'a> {
    heads: &'a BTreeMap<String, Option<(u64, u64)>>,
    records: &'a BTreeMap<(u64, u64), Value>,
}

impl HistorySource for BundleSource<'_> {
    type Error = std::convert::Infallible;
    fn head(&mut self, subject: &str) -> Result<Option<(u64, u64)>, WalkError<Self::Error>> {
        self.heads.get(subject).copied().ok_or(WalkError::NoHead {
            subject: subject.to_string(),
        })
    }
    fn record(&mut self, height: u64, index: u64) -> Result<Value, WalkError<Self::Error>> {
        self.records
            .get(&(height, index))
            .cloned()
            .ok_or(WalkError::Missing {
                subject: String::new(),
                height,
                index,
            })
    }
    fn product(&mut self, gtin: &str) -> Result<Option<PlacedRecord>, WalkError<Self::Error>> {
        let id = format!("{DL_PREFIX}{gtin}");
        Ok(self
            .records
            .iter()
            .find(|(_, r)| {
                r["kind"] == "product"
                    && r["id"] == id.as_str()
                    && r["prev"].get(&id) == Some(&Value::Null)
            })
            .map(|((h, i), r)| (*h, *i, r.clone())))
    }
}

/// Verify `bundle` against a trust root the verifier holds (never one from the
/// bundle itself).
/// The genesis a bundle or disclosure (`what`) carries (`genesis_b64`, for chain
/// `chain_id`), checked against the trust root the verifier holds; with its hash.
pub(crate) fn trusted_genesis(
    what: &str,
    genesis_b64: &str,
    chain_id: &str,
    trust: &TrustRoot,
) -> Result<(Genesis, Hash), ProofError> {
    let genesis_bytes = b64("genesis", "genesis", genesis_b64)?;
    let genesis: Genesis = codec::decode(&genesis_bytes, limits::GENESIS_BYTES_MAX, "genesis")
        .map_err(|e| err("genesis", e.to_string()))?;
    let genesis_hash = sha256(&genesis_bytes);
    match trust {
        TrustRoot::Fingerprint(fp) => {
            let fp = fp.to_ascii_lowercase();
            if fp.len() < FINGERPRINT_HEX_LEN || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(
                    "fingerprint",
                    format!(
                        "`{fp}` is not a consortium fingerprint: at least {FINGERPRINT_HEX_LEN} hex digits of the genesis hash"
                    ),
                ));
            }
            if !genesis_hash.to_string().starts_with(&fp) {
                return Err(err(
                    "fingerprint",
                    format!(
                        "the {what}'s genesis hashes to {genesis_hash}, which does not match the consortium fingerprint {fp}"
                    ),
                ));
            }
        }
        TrustRoot::Genesis(g) => {
            if g.hash() != genesis_hash {
                return Err(err(
                    "genesis",
                    format!(
                        "the {what}'s genesis hashes to {genesis_hash}, the trusted genesis to {}",
                        g.hash()
                    ),
                ));
            }
        }
        TrustRoot::Trust(t) => {
            if t.format != TRUST_FORMAT {
                return Err(err(
                    "genesis",
                    format!("trust file format `{}` is not {TRUST_FORMAT}", t.format),
                ));
            }
            if t.genesis_hash != genesis_hash || t.chain_id != genesis.chain_id {
                return Err(err(
                    "genesis",
                    format!(
                        "the {what}'s genesis ({genesis_hash}, chain `{}`) is not the trusted one ({}, chain `{}`)",
                        genesis.chain_id, t.genesis_hash, t.chain_id
                    ),
                ));
            }
        }
    }
    if genesis.chain_id != chain_id {
        return Err(err(
            "genesis",
            format!(
                "genesis is for chain `{}`, the {what} says `{}`",
                genesis.chain_id, chain_id
            ),
        ));
    }
    Ok((genesis, genesis_hash))
}

/// Headers, each with its certificate, by height.
pub(crate) type Headers = BTreeMap<u64, (BlockHeader, CommitCertificate)>;

/// Headers, each with its certificate, listed by height, each once, all of `chain_id`.
pub(crate) fn decode_headers(
    listed: &[CertifiedHeader],
    chain_id: &str,
) -> Result<Headers, ProofError> {
    let mut headers: BTreeMap<u64, (BlockHeader, CommitCertificate)> = BTreeMap::new();
    for ch in listed {
        if let Some((&last, _)) = headers.last_key_value() {
            if ch.height <= last {
                return Err(err(
                    "header",
                    format!(
                        "headers must be listed by height, each once: {} comes after {last}",
                        ch.height
                    ),
                ));
            }
        }
        let hb = b64("header", "header", &ch.header)?;
        let header: BlockHeader = codec::decode(&hb, 64 * 1024, "header")
            .map_err(|e| err("header", format!("height {}: {e}", ch.height)))?;
        if header.height != Height(ch.height) || header.chain_id != chain_id {
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
        headers.insert(ch.height, (header, cert));
    }
    Ok(headers)
}

/// Records decoded and proven included in their blocks' open tiers.
pub(crate) struct Records {
    pub(crate) decoded: Vec<VerifiedRecord>,
    pub(crate) by_pos: BTreeMap<(u64, u64), Value>,
    pub(crate) leaves: BTreeMap<(u64, u64), merkle::Digest32>,
}

/// Records: by position, each once; each in its block's open tier; JSON with links.
pub(crate) fn decode_records(
    listed: &[ProvenRecord],
    headers: &Headers,
) -> Result<Records, ProofError> {
    let mut decoded = Vec::with_capacity(listed.len());
    let mut by_pos: BTreeMap<(u64, u64), Value> = BTreeMap::new();
    let mut leaves: BTreeMap<(u64, u64), merkle::Digest32> = BTreeMap::new();
    for (i, r) in listed.iter().enumerate() {
        if let Some((&(lh, li), _)) = by_pos.last_key_value() {
            if (r.height, r.index) <= (lh, li) {
                return Err(err(
                    "order",
                    format!(
                        "record {i} ({}/{}) comes after {lh}/{li}: records must be listed by block and index, each once",
                        r.height, r.index
                    ),
                ));
            }
        }
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
            .map(|h| hex32("inclusion", &format!("record {i}: proof hash"), h))
            .collect::<Result<_, _>>()?;
        let leaf = merkle::leaf_hash(&bytes);
        merkle::verify_inclusion(&leaf, r.index, r.tree_size, &proof, &header.open_root.0)
            .map_err(|e| {
                err(
                    "inclusion",
                    format!(
                        "record {i} (height {}, index {}) is not in the block's open-tier tree: {e}",
                        r.height, r.index
                    ),
                )
            })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| err("record", format!("record {i} is not JSON: {e}")))?;
        let links_ok = value["prev"].as_object().is_some_and(|m| {
            m.values().all(|v| {
                v.is_null()
                    || (v.as_array().map(Vec::len) == Some(2)
                        && matches!((v[0].as_u64(), v[1].as_u64()), (Some(h), Some(x)) if (h, x) < (r.height, r.index)))
            })
        });
        if !links_ok {
            return Err(err(
                "record",
                format!(
                    "record {i} ({}/{}) has no `prev` links to earlier records",
                    r.height, r.index
                ),
            ));
        }
        by_pos.insert((r.height, r.index), value.clone());
        leaves.insert((r.height, r.index), leaf);
        decoded.push(VerifiedRecord {
            height: r.height,
            index: r.index,
            record: value,
        });
    }
    Ok(Records {
        decoded,
        by_pos,
        leaves,
    })
}

/// Every header's validator set (genesis, then each change the records publish) and
/// certificate; the keys that signed.
pub(crate) fn check_certificates(
    headers: &Headers,
    decoded: &[VerifiedRecord],
    genesis: &Genesis,
) -> Result<BTreeSet<PublicKey>, ProofError> {
    // Validator sets: genesis, then each published change (from the block after the one
    // that published it, at its effective height).
    let mut changes: BTreeMap<u64, Vec<ValidatorInfo>> = BTreeMap::new();
    for r in decoded {
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
    let mut signers = BTreeSet::new();
    for (h, (header, cert)) in headers {
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
    Ok(signers)
}

/// The subjects' heads, each proven from the anchor header's heads root; a head at a
/// position must be one of `leaves`.
pub(crate) fn check_heads(
    listed: &[SubjectHead],
    anchor: &BlockHeader,
    anchor_height: u64,
    leaves: &BTreeMap<(u64, u64), merkle::Digest32>,
) -> Result<BTreeMap<String, Option<(u64, u64)>>, ProofError> {
    let mut heads: BTreeMap<String, Option<(u64, u64)>> = BTreeMap::new();
    for hd in listed {
        let key = smt::subject_key(&hd.subject);
        let siblings: Vec<smt::Digest32> = hd
            .proof
            .iter()
            .map(|h| hex32("heads", &format!("head of {}: sibling", hd.subject), h))
            .collect::<Result<_, _>>()?;
        let terminal = match (&hd.at, &hd.other) {
            (Some([h, i]), None) => {
                let leaf = leaves.get(&(*h, *i)).ok_or_else(|| {
                    err(
                        "completeness",
                        format!(
                            "the latest record of {} ({h}/{i}) is not in the bundle",
                            hd.subject
                        ),
                    )
                })?;
                let index = u32::try_from(*i).map_err(|_| {
                    err(
                        "heads",
                        format!("head of {}: index {i} too large", hd.subject),
                    )
                })?;
                smt::Terminal::Found(smt::head_value(*h, index, leaf))
            }
            (None, None) => smt::Terminal::Empty,
            (None, Some([k, v])) => smt::Terminal::Other {
                key: hex32("heads", "other key", k)?,
                value: hex32("heads", "other value", v)?,
            },
            (Some(_), Some(_)) => {
                return Err(err(
                    "heads",
                    format!("head of {}: both a position and another entry", hd.subject),
                ))
            }
        };
        smt::verify(
            &anchor.heads_root.0,
            &key,
            &smt::Proof { siblings, terminal },
        )
        .map_err(|e| {
            err(
                "heads",
                format!(
                    "the head of {} is not what block {anchor_height} commits to: {e}",
                    hd.subject
                ),
            )
        })?;
        if heads
            .insert(hd.subject.clone(), hd.at.map(|[h, i]| (h, i)))
            .is_some()
        {
            return Err(err(
                "heads",
                format!("the head of {} is listed twice", hd.subject),
            ));
        }
    }
    Ok(heads)
}

pub fn verify(bundle: &ProofBundle, trust: &TrustRoot) -> Result<Verified, ProofError> {
    if bundle.format != PROOF_FORMAT {
        return Err(err(
            "format",
            format!("bundle format `{}` is not {PROOF_FORMAT}", bundle.format),
        ));
    }
    let (genesis, genesis_hash) =
        trusted_genesis("bundle", &bundle.genesis, &bundle.chain_id, trust)?;
    let headers = decode_headers(&bundle.headers, &genesis.chain_id)?;
    let Records {
        decoded,
        by_pos,
        leaves,
    } = decode_records(&bundle.records, &headers)?;
    let signers = check_certificates(&headers, &decoded, &genesis)?;
    // The anchor: the newest header; the heads are proven from its heads root.
    let (&anchor_height, (anchor, _)) = headers
        .last_key_value()
        .ok_or_else(|| err("anchor", "the bundle has no headers"))?;
    if bundle.anchor != anchor_height {
        return Err(err(
            "anchor",
            format!(
                "the bundle says it is complete up to block {}, but its newest header is {anchor_height}",
                bundle.anchor
            ),
        ));
    }
    let heads = check_heads(&bundle.heads, anchor, anchor_height, &leaves)?;
    // The history: every chain from its head, every link present.
    let subject = Subject::parse(&bundle.subject).map_err(|e| err("subject", e))?;
    let mut src = BundleSource {
        heads: &heads,
        records: &by_pos,
    };
    let history =
        walk_history(&mut src, &subject).map_err(|e| err("completeness", e.to_string()))?;
    check_subject(&subject, &history, &by_pos)?;
    // Nothing else: a record the history does not use, or a head it does not ask for,
    // is someone else's.
    let used = history.positions();
    if let Some(((h, i), r)) = by_pos.iter().find(|(p, _)| !used.contains(p)) {
        return Err(err(
            "subject",
            format!(
                "record {h}/{i} ({}) is not part of the history of {}",
                r["kind"].as_str().unwrap_or("?"),
                bundle.subject
            ),
        ));
    }
    let walked: BTreeSet<&str> = history.chains.iter().map(|(s, _)| s.as_str()).collect();
    if let Some(extra) = heads.keys().find(|s| !walked.contains(s.as_str())) {
        return Err(err(
            "subject",
            format!(
                "the head of {extra} is not part of the history of {}",
                bundle.subject
            ),
        ));
    }
    Ok(Verified {
        chain_id: genesis.chain_id,
        genesis_hash,
        records: decoded,
        headers: headers.len(),
        signers: signers.into_iter().collect(),
        anchor_height,
        anchor_time_ms: anchor.time_ms,
        history,
    })
}

/// The history must be about what the bundle names: the product master record of its
/// GTIN, and — for a lot or an item — a chain with records (an item nothing was ever
/// recorded about has no history to show).
fn check_subject(
    subject: &Subject,
    history: &History,
    records: &BTreeMap<(u64, u64), Value>,
) -> Result<(), ProofError> {
    if !history.products.contains_key(&subject.gtin) {
        return Err(err(
            "subject",
            format!(
                "the bundle proves no product record for GTIN {}",
                subject.gtin
            ),
        ));
    }
    for root in subject.roots() {
        let chain = history
            .chains
            .iter()
            .find(|(s, _)| *s == root)
            .map(|(_, c)| c.as_slice())
            .unwrap_or_default();
        if chain.is_empty() {
            return Err(err(
                "subject",
                format!("nothing is recorded about {root} up to the anchor"),
            ));
        }
        if subject.lot_id().as_deref() == Some(root.as_str()) {
            let first = chain.last().and_then(|p| records.get(p));
            if first.is_none_or(|r| r["kind"] != "lot") {
                return Err(err(
                    "subject",
                    format!("the history of {root} does not start with the lot's record"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_canonical_links_only() {
        let s = Subject::parse("https://id.gs1.org/01/06901234000016/10/PJ2611A/21/7").expect("ok");
        assert_eq!(s.lot.as_deref(), Some("PJ2611A"));
        assert_eq!(
            s.roots(),
            vec![
                "https://id.gs1.org/01/06901234000016/21/7".to_string(),
                "https://id.gs1.org/01/06901234000016/10/PJ2611A".to_string()
            ]
        );
        for bad in [
            "https://id.gs1.org/01/6901234000016",
            "https://example.com/01/06901234000016",
            "https://id.gs1.org/01/06901234000016/21/7/10/L",
            "https://id.gs1.org/01/06901234000016/17/261231",
            "https://id.gs1.org/01/06901234000016/21/",
        ] {
            assert!(Subject::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locations_of_read_points() {
        assert_eq!(
            location_subject("https://id.gs1.org/414/6901234000016/254/3").as_deref(),
            Some("https://id.gs1.org/414/6901234000016")
        );
        assert_eq!(
            location_subject("https://id.gs1.org/414/6901234000016").as_deref(),
            Some("https://id.gs1.org/414/6901234000016")
        );
        assert_eq!(
            location_subject("https://id.gs1.org/414/690123400001"),
            None
        );
        assert_eq!(location_subject("urn:epc:id:sgln:6901234.00001.0"), None);
    }

    #[test]
    fn edges_go_back_toward_origins_only() {
        let carton = "https://id.gs1.org/01/06901234000016/21/1";
        let pallet = "https://id.gs1.org/00/069012340000000018";
        let packing = serde_json::json!({
            "kind": "event", "ids": [
                {"role": "parent", "id": pallet},
                {"role": "child", "id": carton},
            ],
            "biz_location": "https://id.gs1.org/414/6901234000016",
        });
        assert_eq!(
            lineage_edges(carton, &packing),
            vec![
                pallet.to_string(),
                "https://id.gs1.org/414/6901234000016".to_string()
            ]
        );
        // From the pallet's side the same event leads nowhere new but its location.
        assert_eq!(
            lineage_edges(pallet, &packing),
            vec!["https://id.gs1.org/414/6901234000016".to_string()]
        );
        let lot = serde_json::json!({
            "kind": "lot", "id": "https://id.gs1.org/01/06901234000016/10/B",
            "raw_material_ids": ["https://id.gs1.org/01/06901234000023/10/A"],
            "origin_gln": "6901234000016", "owner": "orchard",
        });
        assert_eq!(
            lineage_edges("https://id.gs1.org/01/06901234000016/10/B", &lot),
            vec![
                "https://id.gs1.org/01/06901234000023/10/A".to_string(),
                "https://id.gs1.org/414/6901234000016".to_string(),
                "org:orchard".to_string()
            ]
        );
        // In the raw material's chain, the lot made from it is a forward edge: none.
        assert!(lineage_edges("https://id.gs1.org/01/06901234000023/10/A", &lot).is_empty());
    }
}
