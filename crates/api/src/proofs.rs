//! `GET /v1/proofs/{digital link}`: the proof bundle of a product, lot or item — the
//! open-tier records a consumer is shown (product, lots, origin and event locations,
//! the producer's qualifications, the screened events of its history, validator-set
//! changes), each with its inclusion proof, the certified headers, and the genesis.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use base64::Engine as _;
use waybill_state::trace::{self, Direction, StateScan};
use waybill_state::{catalog, keys};
use waybill_types::digital_link::DigitalLink;
use waybill_types::proof::{fingerprint, CertifiedHeader, ProofBundle, ProvenRecord, PROOF_FORMAT};
use waybill_types::{codec, merkle, Height};

use crate::{ApiError, AppState};

/// Most records one bundle carries.
pub const PROOF_RECORDS_MAX: usize = 5_000;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Open-tier record positions naming `id` (newest last).
fn open_positions<S: StateScan + ?Sized>(state: &S, id: &str) -> Result<Vec<(u64, u32)>, ApiError> {
    let prefix = keys::open_of(id);
    let rows = state.scan_from(&prefix, &prefix, PROOF_RECORDS_MAX)?;
    Ok(rows
        .into_iter()
        .filter(|(k, _)| k.len() == prefix.len() + 12)
        .filter_map(|(k, _)| {
            let h = u64::from_be_bytes(k[prefix.len()..prefix.len() + 8].try_into().ok()?);
            let i = u32::from_be_bytes(k[prefix.len() + 8..].try_into().ok()?);
            Some((h, i))
        })
        .collect())
}

/// Build the bundle for `subject` (a canonical Digital Link).
pub fn build_bundle(s: &AppState, subject: &str) -> Result<ProofBundle, ApiError> {
    let snap = s.store.snapshot()?;
    let dl = DigitalLink::parse(subject)
        .map_err(|e| ApiError::bad_request("bad_digital_link", format!("`{subject}`: {e}")))?;
    let gtin: waybill_types::gs1::Gtin = dl
        .gtin()
        .ok_or_else(|| ApiError::bad_request("bad_digital_link", "the link names no GTIN (AI 01)"))?
        .parse()
        .map_err(|e: waybill_types::gs1::Gs1Error| {
            ApiError::bad_request("bad_gtin", e.to_string())
        })?;
    let product = catalog::load_product(&snap, &gtin)?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_product",
            format!("product {gtin} is not registered"),
        )
    })?;
    let mut wanted: BTreeSet<(u64, u32)> = BTreeSet::new();
    let take_latest = |positions: Vec<(u64, u32)>, wanted: &mut BTreeSet<(u64, u32)>| {
        if let Some(p) = positions.last() {
            wanted.insert(*p);
        }
    };
    // The product's master-data record is the first that names it (lots name it too).
    if let Some(p) = open_positions(&snap, &catalog::product_id(&gtin))?.first() {
        wanted.insert(*p);
    }
    // The public history: the lineage through published events only.
    let lineage = {
        let mut vis = |r: &trace::EventRecord| Ok(r.open.is_some());
        trace::walk(&snap, subject, Direction::Back, &mut vis)?
    };
    let mut locations: BTreeSet<String> = BTreeSet::new();
    let mut orgs: BTreeSet<String> = BTreeSet::from([product.owner.to_string()]);
    for e in &lineage.events {
        if let Some(p) = e.open {
            wanted.insert(p);
        }
        if let Some(l) = &e.biz_location {
            locations.insert(l.clone());
        }
    }
    for n in &lineage.nodes {
        if let Some((g, l)) = trace::lot_of(&n.id) {
            let positions = open_positions(&snap, &n.id)?;
            // The lot's master-data record is the one that names it first.
            if let Some(p) = positions.first() {
                wanted.insert(*p);
            }
            if let Ok(g) = g.parse() {
                if let Some(lot) = catalog::load_lot(&snap, &g, &l)? {
                    if let Some(o) = &lot.origin_gln {
                        locations.insert(catalog::location_id(o));
                    }
                    orgs.insert(lot.owner.to_string());
                }
            }
        }
    }
    for l in &locations {
        take_latest(open_positions(&snap, l)?, &mut wanted);
    }
    for o in &orgs {
        for p in open_positions(&snap, &format!("org:{o}"))? {
            wanted.insert(p);
        }
    }
    for p in open_positions(&snap, "validators")? {
        wanted.insert(p);
    }
    if wanted.len() > PROOF_RECORDS_MAX {
        return Err(ApiError::bad_request(
            "too_many_records",
            format!(
                "the history of {subject} has {} records, over {PROOF_RECORDS_MAX}",
                wanted.len()
            ),
        ));
    }
    // Proofs, per block.
    let mut by_height: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for (h, i) in wanted {
        by_height.entry(h).or_default().push(i);
    }
    let mut records = Vec::new();
    let mut headers = Vec::new();
    for (h, indexes) in by_height {
        let prefix = keys::open_at(h);
        let rows = snap.scan_from(&prefix, &prefix, usize::MAX)?;
        let leaves: Vec<merkle::Digest32> =
            rows.iter().map(|(_, v)| merkle::leaf_hash(v)).collect();
        for i in indexes {
            let Some((_, bytes)) = rows.get(i as usize) else {
                return Err(ApiError::internal(format!(
                    "open record {h}/{i} is missing"
                )));
            };
            let proof =
                merkle::inclusion_proof(&leaves, u64::from(i)).map_err(ApiError::internal)?;
            records.push(ProvenRecord {
                height: h,
                index: u64::from(i),
                tree_size: leaves.len() as u64,
                record: b64(bytes),
                proof: proof.iter().map(hex::encode).collect(),
            });
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
    Ok(ProofBundle {
        format: PROOF_FORMAT.to_string(),
        subject: subject.to_string(),
        chain_id: s.genesis.chain_id.clone(),
        genesis: b64(&codec::encode(&s.genesis)),
        fingerprint: fingerprint(&s.genesis),
        headers,
        records,
    })
}

/// `GET /v1/proofs/{*link}`: `link` is a Digital Link URI, percent-encoded as one
/// segment (`https%3A%2F%2Fid.gs1.org%2F01%2F…`), or its path as it is
/// (`01/{gtin}/10/{lot}/21/{serial}`). The path is read raw, so its values are
/// percent-decoded once, by the Digital Link parser.
pub(crate) async fn proof_route(
    State(s): State<AppState>,
    uri: Uri,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let raw = uri.path().strip_prefix("/v1/proofs/").unwrap_or_default();
    let lower = raw.to_ascii_lowercase();
    let link = if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
        // One encoded segment: decode it once; what it holds is itself a URI.
        let bytes = waybill_types::digital_link::uri_unescape(
            raw,
            waybill_types::digital_link::UriComponent::Path,
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
    let dl = crate::resolver::parse_link(&link)?;
    crate::resolver::check_known(&s, &dl)?;
    let subject = crate::resolver::canonical_item(&dl)?;
    let subject = subject.split('?').next().unwrap_or(&subject).to_string();
    let s2 = s.clone();
    let bundle = tokio::task::spawn_blocking(move || build_bundle(&s2, &subject))
        .await
        .map_err(ApiError::internal)??;
    // Any page may fetch a bundle: the data is public and the reader verifies it
    // (an independently hosted verifier can check any node's answer).
    Ok((
        [(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        Json(bundle),
    ))
}
