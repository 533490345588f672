//! `GET /v1/proofs/{digital link}`: the proof bundle of a product, lot or item — every
//! open-tier record of its history (the item's, the containers', the lots' it was made
//! from, their locations, the owners' qualifications, the validator sets), each with
//! its inclusion proof, each history's head proven from the newest certified header,
//! and the genesis (docs/PROOFS.md).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use serde_json::Value;
use waybill_state::{catalog, commitments, keys, open, StateRead};
use waybill_store::StateSnapshot;
use waybill_types::disclosure::CommitmentProof;
use waybill_types::proof::{
    fingerprint, walk_history, walk_validators, CertifiedHeader, HistorySource, ProofBundle,
    ProvenRecord, Subject, SubjectHead, WalkError, PROOF_FORMAT,
};
use waybill_types::smt::Terminal;
use waybill_types::{codec, merkle, Height};

use crate::{ApiError, AppState};

/// The proof bundle route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/proofs/{*link}", get(proof_route))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The node's state as a source for the history walk.
struct StateSource<'a> {
    snap: &'a StateSnapshot,
    /// Records read, by position (each read once).
    records: BTreeMap<(u64, u64), Value>,
}

fn source_err(e: impl std::fmt::Display) -> WalkError<String> {
    WalkError::Source(e.to_string())
}

impl HistorySource for StateSource<'_> {
    type Error = String;
    fn head(&mut self, subject: &str) -> Result<Option<(u64, u64)>, WalkError<String>> {
        Ok(open::load_head(self.snap, subject)
            .map_err(source_err)?
            .map(|h| (h.height, u64::from(h.index))))
    }
    fn record(&mut self, height: u64, index: u64) -> Result<Value, WalkError<String>> {
        if let Some(v) = self.records.get(&(height, index)) {
            return Ok(v.clone());
        }
        let i = u32::try_from(index).map_err(source_err)?;
        let bytes = self
            .snap
            .get(&keys::open(height, i))
            .map_err(source_err)?
            .ok_or(WalkError::Missing {
                subject: String::new(),
                height,
                index,
            })?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| source_err(format!("open record {height}/{index} is not JSON: {e}")))?;
        self.records.insert((height, index), v.clone());
        Ok(v)
    }
    fn product(
        &mut self,
        gtin: &str,
    ) -> Result<Option<waybill_types::proof::PlacedRecord>, WalkError<String>> {
        // The master record is the product's first record.
        let prefix = keys::open_of(&format!("https://id.gs1.org/01/{gtin}"));
        let first =
            waybill_state::index::entries_after(self.snap, &prefix, None, 1).map_err(source_err)?;
        let Some(pos) = first.first().map(|&(h, i)| (h, u64::from(i))) else {
            return Ok(None);
        };
        let rec = self.record(pos.0, pos.1)?;
        Ok((rec["kind"] == "product").then_some((pos.0, pos.1, rec)))
    }
}

/// Build the bundle for `subject` (a canonical Digital Link): the walked history
/// (`proof::walk_history`, the same walk the verifier makes), each chain's head proven
/// from the newest header, every record with its inclusion proof.
pub fn build_bundle(s: &AppState, subject: &str) -> Result<ProofBundle, ApiError> {
    build_bundle_with_history(s, subject).map(|(b, _)| b)
}

/// [`build_bundle`], with the history it walked (what the page draws).
pub fn build_bundle_with_history(
    s: &AppState,
    subject: &str,
) -> Result<(ProofBundle, waybill_types::proof::History), ApiError> {
    let snap = s.store.snapshot()?;
    let anchor = snap.head()?.height.0;
    let subj = Subject::parse(subject).map_err(|e| ApiError::bad_request("bad_digital_link", e))?;
    let gtin: waybill_gs1::Gtin = subj
        .gtin
        .parse()
        .map_err(|e: waybill_gs1::Gs1Error| ApiError::bad_request("bad_gtin", e.to_string()))?;
    if catalog::load_product(&snap, &gtin)?.is_none() {
        return Err(ApiError::not_found(
            "unknown_product",
            format!("product {gtin} is not registered"),
        ));
    }
    if anchor == 0 {
        return Err(ApiError::not_found(
            "no_history",
            "the chain has no block yet; nothing can be proven",
        ));
    }
    let mut src = StateSource {
        snap: &snap,
        records: BTreeMap::new(),
    };
    let history = walk_history(&mut src, &subj).map_err(|e| match e {
        WalkError::TooLarge(m) => ApiError::bad_request(
            "too_many_records",
            format!("the history of {subject} is too large for one bundle: {m}"),
        ),
        other => ApiError::internal(format!("walking the history of {subject}: {other}")),
    })?;
    for root in subj.roots() {
        let empty = history
            .chains
            .iter()
            .find(|(s, _)| *s == root)
            .is_none_or(|(_, c)| c.is_empty());
        if empty {
            return Err(ApiError::not_found(
                "unknown_item",
                format!("nothing is recorded about {root}"),
            ));
        }
    }
    let heads = prove_heads(&snap, &history)?;
    let (records, headers) = prove_records(s, &snap, &history, &[anchor])?;
    let bundle = ProofBundle {
        format: PROOF_FORMAT.to_string(),
        subject: subject.to_string(),
        chain_id: s.genesis.chain_id.clone(),
        genesis: b64(&codec::encode(&s.genesis)),
        fingerprint: fingerprint(&s.genesis),
        anchor,
        headers,
        heads,
        records,
    };
    Ok((bundle, history))
}

/// The head of every subject walked, proven from the anchor's heads root.
fn prove_heads(
    snap: &StateSnapshot,
    history: &waybill_types::proof::History,
) -> Result<Vec<SubjectHead>, ApiError> {
    let mut heads = Vec::with_capacity(history.chains.len());
    for (subject_id, chain) in &history.chains {
        let p = open::prove_head(snap, subject_id)?;
        let other = match p.terminal {
            Terminal::Other { key, value } => Some([hex::encode(key), hex::encode(value)]),
            _ => None,
        };
        heads.push(SubjectHead {
            subject: subject_id.clone(),
            at: chain.first().map(|(h, i)| [*h, *i]),
            proof: p.siblings.iter().map(hex::encode).collect(),
            other,
        });
    }
    Ok(heads)
}

/// Every record of the history with its inclusion proof, and the certified header of
/// each block they are in and of the blocks `also` (the anchor's, …).
fn prove_records(
    s: &AppState,
    snap: &StateSnapshot,
    history: &waybill_types::proof::History,
    also: &[u64],
) -> Result<(Vec<ProvenRecord>, Vec<CertifiedHeader>), ApiError> {
    // Proofs, per block; the headers `also` even if they published nothing of these.
    let mut by_height: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (h, i) in history.positions() {
        by_height.entry(h).or_default().push(i);
    }
    for h in also {
        by_height.entry(*h).or_default();
    }
    let mut records = Vec::new();
    let mut headers = Vec::new();
    for (h, indexes) in by_height {
        if !indexes.is_empty() {
            let prefix = keys::open_at(h);
            let rows = snap.scan_from(&prefix, &prefix, usize::MAX)?;
            let leaves: Vec<merkle::Digest32> =
                rows.iter().map(|(_, v)| merkle::leaf_hash(v)).collect();
            for i in indexes {
                let Some((_, bytes)) = usize::try_from(i).ok().and_then(|i| rows.get(i)) else {
                    return Err(ApiError::internal(format!(
                        "open record {h}/{i} is missing"
                    )));
                };
                let proof = merkle::inclusion_proof(&leaves, i).map_err(ApiError::internal)?;
                records.push(ProvenRecord {
                    height: h,
                    index: i,
                    tree_size: leaves.len() as u64,
                    record: b64(bytes),
                    proof: proof.iter().map(hex::encode).collect(),
                });
            }
        }
        let block = s
            .store
            .block(Height(h))?
            .ok_or_else(|| ApiError::internal(format!("block {h} missing")))?;
        let cert = s
            .store
            .certificate(Height(h))?
            .ok_or_else(|| ApiError::internal(format!("certificate {h} missing")))?;
        headers.push(CertifiedHeader {
            height: h,
            header: b64(&codec::encode(&block.header)),
            certificate: b64(&codec::encode(&cert)),
        });
    }
    Ok((records, headers))
}

/// The proof of a sealed field's commitment (docs/PRIVACY.md "Provable disclosure"):
/// its leaf's inclusion proof in the sealing block's commitment tree, that block's
/// certified header, and the validator sets' chain proven complete up to the newest
/// header (the anchor), so a verifier knows who had to sign. `None`: the field was
/// never sealed in a stored record.
pub(crate) fn commitment_proof(
    s: &AppState,
    snap: &StateSnapshot,
    record: &str,
    field: &str,
) -> Result<Option<CommitmentProof>, ApiError> {
    let Some((height, index)) = commitments::position(snap, record, field)? else {
        return Ok(None);
    };
    let leaf = snap.get(&keys::commit(height, index))?.ok_or_else(|| {
        ApiError::internal(format!("commitment leaf {height}/{index} is missing"))
    })?;
    let commitment = leaf
        .len()
        .checked_sub(32)
        .and_then(|at| <[u8; 32]>::try_from(&leaf[at..]).ok())
        .ok_or_else(|| ApiError::internal(format!("commitment leaf {height}/{index} is short")))?;
    let (tree_size, proof) = commitments::inclusion(snap, (height, index))?;
    let anchor = snap.head()?.height.0;
    let mut src = StateSource {
        snap,
        records: BTreeMap::new(),
    };
    let history = walk_validators(&mut src)
        .map_err(|e| ApiError::internal(format!("walking the validator sets' chain: {e}")))?;
    let mut heads = prove_heads(snap, &history)?;
    let (validator_records, headers) = prove_records(s, snap, &history, &[height, anchor])?;
    Ok(Some(CommitmentProof {
        chain_id: s.genesis.chain_id.clone(),
        genesis: b64(&codec::encode(&s.genesis)),
        record: record.to_owned(),
        field: field.to_owned(),
        commitment: waybill_types::Hash(commitment),
        height,
        index: u64::from(index),
        tree_size,
        proof: proof.iter().map(hex::encode).collect(),
        headers,
        validator_records,
        validators_head: heads.remove(0),
    }))
}

/// `GET /v1/proofs/{*link}`: `link` is a Digital Link URI, percent-encoded as one
/// segment (`https%3A%2F%2Fid.gs1.org%2F01%2F…`), or its path as it is
/// (`01/{gtin}/10/{lot}/21/{serial}`). The path is read raw, so its values are
/// percent-decoded once, by the Digital Link parser.
pub(crate) async fn proof_route(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let raw = uri.path().strip_prefix("/v1/proofs/").unwrap_or_default();
    let lower = raw.to_ascii_lowercase();
    let link = if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
        // One encoded segment: decode it once; what it holds is itself a URI.
        let bytes = waybill_gs1::digital_link::uri_unescape(
            raw,
            waybill_gs1::digital_link::UriComponent::Path,
        );
        String::from_utf8(bytes).map_err(|_| {
            ApiError::bad_request(
                "bad_digital_link",
                format!("`{raw}` does not percent-decode to UTF-8"),
            )
        })?
    } else {
        let q = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        format!("https://id.gs1.org/{}{q}", raw.trim_start_matches('/'))
    };
    let dl = crate::links::parse_link(&link)?;
    crate::links::check_known(&s, &dl)?;
    let subject = crate::links::canonical_item(&dl)?;
    let subject = subject.split('?').next().unwrap_or(&subject).to_string();
    let s2 = s.clone();
    let bundle = tokio::task::spawn_blocking(move || build_bundle(&s2, &subject))
        .await
        .map_err(ApiError::internal)??;
    let body = serde_json::to_vec(&bundle).map_err(ApiError::internal)?;
    let mut resp = crate::etag::tagged(&headers, "application/json", body);
    // Any page may fetch a bundle: the data is public and the reader verifies it
    // (an independently hosted verifier can check any node's answer).
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(resp)
}
