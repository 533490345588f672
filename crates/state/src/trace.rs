//! Traceability: EPCIS 2.0 events captured on the ledger, their indexes, and the
//! lineage walk (trace back to origins, forward to every place a lot reached).
//!
//! A captured document is one transaction: every event in it is checked (schema,
//! CBV, check digits, event times from 1970 to a day past the block time, the
//! capturer's write authority for the event's data category, the business location,
//! required qualifications, its eventID) and stored, or the whole document is rejected
//! with each offending event and field named by a JSON pointer.
//!
//! Events are hashed (EPCIS Event Hash ID) from the document's text, numbers exactly
//! as written and the document's `ignoreFields` honoured, and stored as written. An
//! eventID belongs to the organization that first captured an event under it (block
//! order decides within a block): the same organization sending the same event again
//! (same Event Hash ID) is a duplicate, skipped and reported; any other event under a
//! taken eventID is refused (`event_id_taken`). Re-sent events without an eventID are
//! found by their Event Hash ID and not stored twice. An error declaration (same
//! eventID, or the same Event Hash ID for an event without one, with
//! `errorDeclaration`) is stored and marks the event it corrects; it is the capturing
//! organization's to make, or a regulator's (`access::may_correct_others`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use serde_json::Value;
use waybill_epcis::hash_id::ExactDocument;
use waybill_epcis::model::{summarize, EventSummary, IdRole};
use waybill_gs1::Gln;
use waybill_types::{limits, DataCategory, Height, OrgId, Payload, PublicKey, Role, TxId};

use crate::access::{may_correct_others, may_write};
use crate::catalog::{check_location_use, load_product};
use crate::exec::{HandlerError, Rejection, Writes};
use crate::identity::active_signer;
use crate::{audit, decode_record, encode_record, keys, Execution, StateRead, StateReadError};

/// Rows of a key range scan.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// A state that can also list keys by prefix (the store's snapshot; a map in tests).
pub trait StateScan: StateRead {
    /// Up to `max` entries with key prefix `prefix` and key `>= start`, in key order.
    fn scan_from(&self, prefix: &[u8], start: &[u8], max: usize) -> Result<Rows, StateReadError>;
}

impl StateScan for BTreeMap<Vec<u8>, Vec<u8>> {
    fn scan_from(&self, prefix: &[u8], start: &[u8], max: usize) -> Result<Rows, StateReadError> {
        Ok(self
            .range(start.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(max)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// A stored event: its indexed facts, who captured it, and its JSON as captured.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct EventRecord {
    /// Capture order, from 1.
    pub seq: u64,
    /// EPCIS Event Hash ID digest (SHA-256 of the canonical pre-hash string).
    #[serde(serialize_with = "ser_hex")]
    pub hash: [u8; 32],
    /// Event type.
    pub event_type: String,
    /// Action.
    pub action: Option<String>,
    /// eventTime, ms since the Unix epoch.
    pub event_time_ms: i64,
    /// eventTime as written.
    pub event_time: String,
    /// Declared eventID.
    pub event_id: Option<String>,
    /// Business step (bare CBV word or URI).
    pub biz_step: Option<String>,
    /// Disposition (bare CBV word or URI).
    pub disposition: Option<String>,
    /// readPoint, canonical.
    pub read_point: Option<String>,
    /// bizLocation, canonical.
    pub biz_location: Option<String>,
    /// Identifiers and their role (role byte, canonical id).
    pub ids: Vec<(u8, String)>,
    /// Business transactions (type, id).
    pub biz_transactions: Vec<(String, String)>,
    /// Sources (type, id).
    pub sources: Vec<(String, String)>,
    /// Destinations (type, id).
    pub destinations: Vec<(String, String)>,
    /// Whether this event is an error declaration.
    pub error_declaration: bool,
    /// The seq of the error declaration that corrected this event, if any.
    pub corrected_by: Option<u64>,
    /// Its open-tier record (height, index), if it was published.
    pub open: Option<(u64, u32)>,
    /// Data category (decides who may read it).
    pub category: DataCategory,
    /// The capturing organization.
    pub org: OrgId,
    /// The capturing member.
    pub signer: PublicKey,
    /// The capture transaction.
    pub tx_id: TxId,
    /// Block height.
    pub height: Height,
    /// recordTime: the block time, ms.
    pub record_time_ms: u64,
    /// The event as captured (compact JSON).
    pub json: String,
}

fn ser_hex<S: serde::Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(h))
}

impl EventRecord {
    /// The EPCIS Event Hash ID as an `ni:` URI.
    pub fn hash_id(&self) -> String {
        format!("ni:///sha-256;{}?ver=CBV2.0", hex::encode(self.hash))
    }
    /// Identifiers with their roles.
    pub fn roles(&self) -> impl Iterator<Item = (IdRole, &str)> {
        self.ids
            .iter()
            .filter_map(|(r, id)| IdRole::from_u8(*r).map(|r| (r, id.as_str())))
    }
}

/// What a capture stored: per event, its seq and whether it was a re-sent duplicate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct CaptureRecord {
    /// The capturing organization.
    pub org: OrgId,
    /// The capturing member.
    pub signer: PublicKey,
    /// The document's `@context`, as JSON (used to export the events).
    pub context: String,
    /// Per event in document order: its seq, and whether it was already stored.
    pub events: Vec<CapturedEvent>,
}

/// One event of a capture.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct CapturedEvent {
    /// The stored event's seq (the earlier one for a duplicate).
    pub seq: u64,
    /// Re-sent: the same event (same Event Hash ID) was already stored.
    pub duplicate: bool,
    /// Its Event Hash ID.
    pub hash_id: String,
}

/// The data category of an event, from its business step; events without a
/// recognised step take the first category the capturer may write.
pub fn category_of(biz_step: Option<&str>, roles: &[Role]) -> DataCategory {
    use DataCategory::*;
    let by_step = biz_step.and_then(|s| {
        Some(match s {
            "commissioning"
            | "decommissioning"
            | "creating_class_instance"
            | "assembling"
            | "disassembling"
            | "encoding"
            | "packing"
            | "unpacking"
            | "repackaging"
            | "destroying"
            | "killing"
            | "repairing"
            | "replacing"
            | "installing"
            | "removing"
            | "sorting" => Production,
            "shipping" | "receiving" | "arriving" | "departing" | "loading" | "unloading"
            | "transporting" | "staging_outbound" | "storing" | "stocking" | "picking"
            | "accepting" | "collecting" | "consigning" | "cycle_counting" | "stock_taking"
            | "entering_exiting" | "void_shipping" | "reserving" | "holding"
            | "sensor_reporting" => Transport,
            "inspecting" | "sampling" => CustomsQuality,
            "retail_selling" => PlatformTransactions,
            _ => return None,
        })
    });
    by_step.unwrap_or_else(|| {
        [Production, Transport, CustomsQuality, PlatformTransactions]
            .into_iter()
            .find(|c| roles.iter().any(|r| may_write(*r, *c)))
            .unwrap_or(Production)
    })
}

/// The number of events stored so far.
pub fn event_count<S: StateRead + ?Sized>(state: &S) -> Result<u64, StateReadError> {
    let k = keys::meta("event_count");
    Ok(state
        .get(&k)?
        .map(|b| decode_record(&k, &b))
        .transpose()?
        .unwrap_or(0))
}

/// Load an event by seq.
pub fn load_event<S: StateRead + ?Sized>(
    state: &S,
    seq: u64,
) -> Result<Option<EventRecord>, StateReadError> {
    let k = keys::event(seq);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// Load a capture record.
pub fn load_capture<S: StateRead + ?Sized>(
    state: &S,
    tx_id: &TxId,
) -> Result<Option<CaptureRecord>, StateReadError> {
    let k = keys::capture(tx_id);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// The seqs of events with this eventID (an original and its error declarations),
/// or, for an `ni:` Event Hash ID, the event with that hash.
pub fn events_by_id<S: StateScan + ?Sized>(
    state: &S,
    event_id: &str,
) -> Result<Vec<u64>, StateReadError> {
    let k = keys::event_id(event_id);
    let mut out: Vec<u64> = state
        .get(&k)?
        .map(|b| decode_record(&k, &b))
        .transpose()?
        .unwrap_or_default();
    if let Some(d) = named_digest(event_id) {
        for decl in [false, true] {
            let k = keys::event_hash(&d, decl);
            if let Some(b) = state.get(&k)? {
                let seq: u64 = decode_record(&k, &b)?;
                if !out.contains(&seq) {
                    out.push(seq);
                }
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The Event Hash ID digest an `ni:///sha-256;…` eventID names, if it is one.
fn named_digest(event_id: &str) -> Option<[u8; 32]> {
    let hex_digest = event_id
        .strip_prefix("ni:///sha-256;")
        .and_then(|r| r.split('?').next())?;
    <[u8; 32]>::try_from(hex::decode(hex_digest).ok()?.as_slice()).ok()
}

/// What a capture has decided so far, before its writes exist.
#[derive(Default)]
struct Pending {
    /// Event Hash ID (and whether a declaration) → seq, for events stored by this
    /// document.
    hashes: BTreeMap<([u8; 32], bool), u64>,
    /// eventID → seqs, as they will be written.
    ids: BTreeMap<String, Vec<u64>>,
    /// Events stored by this document.
    records: BTreeMap<u64, EventRecord>,
}

/// The seq stored under an Event Hash ID, by this document or before it.
fn stored_hash<S: StateRead>(
    ex: &Execution<S>,
    pending: &Pending,
    digest: &[u8; 32],
    declaration: bool,
) -> Result<Option<u64>, StateReadError> {
    if let Some(seq) = pending.hashes.get(&(*digest, declaration)) {
        return Ok(Some(*seq));
    }
    let k = keys::event_hash(digest, declaration);
    ex.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// The stored events (not error declarations) that hold `event_id`: those captured
/// with it, and, for an `ni:` Event Hash ID, the event with that hash (which is
/// exported with it as its eventID).
fn holders_of<S: StateRead>(
    ex: &Execution<S>,
    pending: &Pending,
    event_id: &str,
) -> Result<Vec<EventRecord>, StateReadError> {
    let mut seqs = event_id_list(ex, &pending.ids, event_id)?;
    if let Some(digest) = named_digest(event_id) {
        if let Some(seq) = stored_hash(ex, pending, &digest, false)? {
            if !seqs.contains(&seq) {
                seqs.push(seq);
            }
        }
    }
    let mut out = Vec::new();
    for seq in seqs {
        let rec = match pending.records.get(&seq) {
            Some(r) => Some(r.clone()),
            None => load_event(ex, seq)?,
        };
        if let Some(rec) = rec.filter(|r| !r.error_declaration) {
            out.push(rec);
        }
    }
    Ok(out)
}

/// `a`, `b` and `c` as "`a`, `b`, `c`".
fn quoted_orgs(recs: &[EventRecord]) -> String {
    let orgs: BTreeSet<&str> = recs.iter().map(|r| r.org.as_str()).collect();
    orgs.into_iter()
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn event_id_list<S: StateRead>(
    ex: &Execution<S>,
    pending: &BTreeMap<String, Vec<u64>>,
    eid: &str,
) -> Result<Vec<u64>, StateReadError> {
    if let Some(l) = pending.get(eid) {
        return Ok(l.clone());
    }
    let k = keys::event_id(eid);
    Ok(ex
        .get(&k)?
        .map(|b| decode_record(&k, &b))
        .transpose()?
        .unwrap_or_default())
}

fn seq_suffix(k: &[u8]) -> Result<u64, StateReadError> {
    k.len()
        .checked_sub(8)
        .and_then(|i| k.get(i..))
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StateReadError::Corrupt {
            key: k.to_vec(),
            reason: "index key without a seq".into(),
        })
}

/// The events that name `canonical_id`, with the role it has in each, in capture order.
pub fn events_naming<S: StateScan + ?Sized>(
    state: &S,
    canonical_id: &str,
    max: usize,
) -> Result<Vec<(u64, IdRole)>, StateReadError> {
    let prefix = keys::events_of(canonical_id);
    state
        .scan_from(&prefix, &prefix, max)?
        .into_iter()
        .filter(|(k, _)| k.len() == prefix.len() + 8)
        .map(|(k, v)| {
            let seq = seq_suffix(&k)?;
            let role = v
                .first()
                .copied()
                .and_then(IdRole::from_u8)
                .ok_or_else(|| StateReadError::Corrupt {
                    key: k.clone(),
                    reason: "unknown identifier role".into(),
                })?;
            Ok((seq, role))
        })
        .collect()
}

/// A capture's rejection code when every refused event was refused for its eventID: it
/// is another's (or, for an error declaration, it names another organization's event).
const EVENT_ID_TAKEN: &str = "event_id_taken";
/// A capture's rejection code for any other problem (and for a mix of problems).
const INVALID_EPCIS: &str = "invalid_epcis";

fn reject_problems(code: &'static str, what: &str, problems: &[String]) -> HandlerError {
    let shown: Vec<&str> = problems.iter().take(20).map(String::as_str).collect();
    let more = problems.len().saturating_sub(shown.len());
    let mut msg = format!("{what}: {}", shown.join("; "));
    if more > 0 {
        msg.push_str(&format!("; and {more} more"));
    }
    Rejection::new(code, msg).into()
}

/// The events of an EPCIS document (`EPCISDocument` or `EPCISQueryDocument`) and the
/// JSON pointer of the list.
pub fn document_events(doc: &Value) -> (Option<&Vec<Value>>, &'static str) {
    if let Some(Value::Array(a)) = doc.pointer("/epcisBody/eventList") {
        return (Some(a), "/epcisBody/eventList");
    }
    if let Some(Value::Array(a)) = doc.pointer("/epcisBody/queryResults/resultsBody/eventList") {
        return (Some(a), "/epcisBody/queryResults/resultsBody/eventList");
    }
    (None, "/epcisBody/eventList")
}

/// Capture an EPCIS document: all events or none.
pub(crate) fn capture<S: StateRead>(
    ex: &Execution<S>,
    signer: PublicKey,
    tx_id: TxId,
    document: &str,
) -> Result<Writes, HandlerError> {
    let m = active_signer(ex, signer)?;
    let doc: Value = serde_json::from_str(document).map_err(|e| {
        Rejection::new(
            "malformed_json",
            format!("the EPCIS document is not valid JSON: {e}"),
        )
    })?;
    if let Err(problems) = waybill_epcis::validate::validate_document(&doc) {
        let p: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        return Err(reject_problems(
            INVALID_EPCIS,
            "the EPCIS document is not valid",
            &p,
        ));
    }
    let (events, list_ptr) = document_events(&doc);
    let events = events.map(Vec::as_slice).unwrap_or_default();
    if events.is_empty() {
        return Err(Rejection::new(
            INVALID_EPCIS,
            format!("{list_ptr}: the document has no events"),
        )
        .into());
    }
    if events.len() > limits::EPCIS_EVENTS_MAX {
        return Err(Rejection::new(
            "too_many_events",
            format!(
                "{list_ptr}: {} events, over the limit of {} per document; split it",
                events.len(),
                limits::EPCIS_EVENTS_MAX
            ),
        )
        .into());
    }
    // The same text read for hashing and storing: numbers exactly as written, the
    // document's `ignoreFields` in force. Both readers accept the same texts, so the
    // event lists match; should they not, the document is refused, never misread.
    let exact = ExactDocument::parse(document).map_err(|e| {
        Rejection::new(
            "malformed_json",
            format!("the EPCIS document is not valid JSON: {e}"),
        )
    })?;
    let exact_events = exact.events();
    if exact_events.len() != events.len() {
        return Err(Rejection::new(
            "malformed_json",
            format!(
                "{list_ptr}: {} events read for validation but {} for hashing; the JSON is ambiguous",
                events.len(),
                exact_events.len()
            ),
        )
        .into());
    }
    let context = doc.get("@context").cloned().unwrap_or(Value::Null);
    let ctx = ex.context().clone();
    let now_ms = i64::try_from(ctx.time_ms).unwrap_or(i64::MAX);
    // Why events are refused: (event index, rejection code, reason).
    let mut problems: Vec<(usize, &'static str, String)> = Vec::new();
    let mut writes: Writes = Vec::new();
    let mut count = event_count(ex)?;
    let mut captured = Vec::with_capacity(events.len());
    let mut pending = Pending::default();
    let mut corrected: BTreeMap<u64, EventRecord> = BTreeMap::new();
    let mut touched_gtins: BTreeSet<String> = BTreeSet::new();
    let mut id_entries: Vec<(String, u64, IdRole)> = Vec::new();
    let mut readings: BTreeMap<u64, crate::open::SensorData> = BTreeMap::new();
    for (i, ev) in events.iter().enumerate() {
        let ptr = format!("{list_ptr}/{i}");
        let (Some(obj), Some(exact_obj)) = (ev.as_object(), exact_events[i].as_object()) else {
            problems.push((
                i,
                INVALID_EPCIS,
                format!("{ptr}: an event must be a JSON object"),
            ));
            continue;
        };
        let digest = match exact.hash_digest(exact_obj) {
            Ok(d) => d,
            Err(e) => {
                problems.push((
                    i,
                    INVALID_EPCIS,
                    format!("{ptr}: cannot compute the Event Hash ID: {e}"),
                ));
                continue;
            }
        };
        let times = waybill_epcis::validate::check_event_times(ev, &ptr, now_ms);
        if !times.is_empty() {
            problems.extend(times.iter().map(|p| (i, INVALID_EPCIS, p.to_string())));
            continue;
        }
        let s = match summarize(obj, &ptr) {
            Ok(s) => s,
            Err(e) => {
                problems.push((i, INVALID_EPCIS, e.to_string()));
                continue;
            }
        };
        let category = category_of(s.biz_step.as_deref(), &m.roles);
        let writes_category = m.roles.iter().any(|r| may_write(*r, category));
        let corrects_others =
            s.error_declaration && m.roles.iter().any(|r| may_correct_others(*r, category));
        if !writes_category && !corrects_others {
            let roles: Vec<&str> = m.roles.iter().map(|r| r.name()).collect();
            problems.push((
                i,
                INVALID_EPCIS,
                format!(
                    "{ptr}/bizStep: {} (roles: {}) may not write {} data{}",
                    signer,
                    roles.join(", "),
                    category.name(),
                    s.biz_step
                        .as_deref()
                        .map(|b| format!(" such as a `{b}` event"))
                        .unwrap_or_default()
                ),
            ));
            continue;
        }
        // An error declaration records no new fact, only withdraws one: the rules for
        // where and what may be recorded apply to the event it corrects.
        if !s.error_declaration {
            if let Some(gln) = &s.biz_location_gln {
                match gln.parse::<Gln>() {
                    Ok(gln) => {
                        if let Err(r) = check_location_use(ex, &gln, &m.org) {
                            problems.push((
                                i,
                                INVALID_EPCIS,
                                format!("{ptr}/bizLocation/id: {}", r.message),
                            ));
                            continue;
                        }
                    }
                    Err(e) => {
                        problems.push((i, INVALID_EPCIS, format!("{ptr}/bizLocation/id: {e}")));
                        continue;
                    }
                }
            }
            if s.biz_step.as_deref() == Some("commissioning")
                && s.action.as_deref() != Some("DELETE")
            {
                if let Some(e) = check_commissioning(ex, &s, &m.org, &ptr)? {
                    problems.push((i, INVALID_EPCIS, e));
                    continue;
                }
            }
        }
        for (_, id) in &s.ids {
            if let Some(g) = gtin_in(id) {
                touched_gtins.insert(g.to_string());
            }
        }
        let hash_id = format!("ni:///sha-256;{}?ver=CBV2.0", hex::encode(digest));
        // The events an error declaration corrects: by eventID, or, for an event
        // captured without one, by its Event Hash ID (which leaves `errorDeclaration`
        // out). Decided before duplicates, so that re-sending another's declaration
        // is refused like sending it.
        let mut corrects: Vec<u64> = Vec::new();
        if s.error_declaration {
            let originals = match s.event_id.as_deref() {
                Some(eid) => holders_of(ex, &pending, eid)?,
                None => match stored_hash(ex, &pending, &digest, false)? {
                    Some(seq) => match pending.records.get(&seq) {
                        Some(r) => vec![r.clone()],
                        None => load_event(ex, seq)?.into_iter().collect(),
                    },
                    None => Vec::new(),
                },
            };
            if originals.is_empty() {
                problems.push((i, INVALID_EPCIS, match s.event_id.as_deref() {
                    Some(eid) => format!("{ptr}/eventID: the error declaration names eventID `{eid}`, but no event with that eventID is recorded"),
                    None => format!("{ptr}/errorDeclaration: the error declaration has no eventID and no event with its Event Hash ID {hash_id} is recorded"),
                }));
                continue;
            }
            corrects = originals
                .iter()
                .filter(|o| {
                    o.org == m.org || m.roles.iter().any(|r| may_correct_others(*r, o.category))
                })
                .map(|o| o.seq)
                .collect();
            if corrects.is_empty() {
                let what = s
                    .event_id
                    .as_deref()
                    .map(|e| format!("eventID `{e}`"))
                    .unwrap_or_else(|| format!("Event Hash ID {hash_id}"));
                problems.push((i, EVENT_ID_TAKEN, format!("{ptr}/eventID: the error declaration names {what}, whose event was captured by {}; only the capturing organization (or a regulator) declares an event in error", quoted_orgs(&originals))));
                continue;
            }
        } else if let Some(eid) = s.event_id.as_deref() {
            // An eventID is its first capturer's: the same event again from the same
            // organization is a duplicate; anything else under it is refused.
            let holders = holders_of(ex, &pending, eid)?;
            if let Some(same) = holders.iter().find(|h| h.org == m.org && h.hash == digest) {
                captured.push(CapturedEvent {
                    seq: same.seq,
                    duplicate: true,
                    hash_id,
                });
                continue;
            }
            if !holders.is_empty() {
                let held: Vec<String> = holders.iter().map(EventRecord::hash_id).collect();
                problems.push((i, EVENT_ID_TAKEN, format!(
                    "{ptr}/eventID: eventID `{eid}` is taken: {} captured event {} under it; this event (Event Hash ID {hash_id}) needs an eventID of its own, or, to correct that event, an error declaration by its capturer",
                    quoted_orgs(&holders),
                    held.join(", ")
                )));
                continue;
            }
        }
        let key = (digest, s.error_declaration);
        if let Some(seq) = stored_hash(ex, &pending, &digest, s.error_declaration)? {
            captured.push(CapturedEvent {
                seq,
                duplicate: true,
                hash_id,
            });
            continue;
        }
        count += 1;
        let seq = count;
        for o in corrects {
            let rec = match corrected.remove(&o) {
                Some(r) => Some(r),
                None => match pending.records.get(&o) {
                    Some(r) => Some(r.clone()),
                    None => load_event(ex, o)?,
                },
            };
            if let Some(mut rec) = rec {
                rec.corrected_by = Some(seq);
                corrected.insert(o, rec);
            }
        }
        let rec = EventRecord {
            seq,
            hash: digest,
            event_type: s.event_type.clone(),
            action: s.action.clone(),
            event_time_ms: s.event_time_ms,
            event_time: s.event_time.clone(),
            event_id: s.event_id.clone(),
            biz_step: s.biz_step.clone(),
            disposition: s.disposition.clone(),
            read_point: s.read_point.clone(),
            biz_location: s.biz_location.clone(),
            ids: s.ids.iter().map(|(r, id)| (*r as u8, id.clone())).collect(),
            biz_transactions: s.biz_transactions.clone(),
            sources: s.sources.clone(),
            destinations: s.destinations.clone(),
            error_declaration: s.error_declaration,
            corrected_by: None,
            open: None,
            category,
            org: m.org.clone(),
            signer,
            tx_id,
            height: ctx.height,
            record_time_ms: ctx.time_ms,
            // As written: numbers keep their digits, so the exported event hashes to
            // the same ID.
            json: exact_events[i].to_json_string(),
        };
        pending.hashes.insert(key, seq);
        writes.push((
            keys::event_hash(&digest, s.error_declaration),
            encode_record(&seq),
        ));
        if let Some(eid) = &s.event_id {
            let mut list = event_id_list(ex, &pending.ids, eid)?;
            list.push(seq);
            pending.ids.insert(eid.clone(), list);
        }
        for (role, id) in &s.ids {
            id_entries.push((id.clone(), seq, *role));
        }
        readings.insert(seq, crate::open::screen_sensor_data(obj));
        pending.records.insert(seq, rec);
        captured.push(CapturedEvent {
            seq,
            duplicate: false,
            hash_id,
        });
    }
    if !problems.is_empty() {
        let code = if problems.iter().all(|(_, c, _)| *c == EVENT_ID_TAKEN) {
            EVENT_ID_TAKEN
        } else {
            INVALID_EPCIS
        };
        let refused: BTreeSet<usize> = problems.iter().map(|(i, _, _)| *i).collect();
        let messages: Vec<String> = problems.into_iter().map(|(_, _, p)| p).collect();
        return Err(reject_problems(
            code,
            &format!(
                "{} of {} events refused, nothing was stored",
                refused.len(),
                events.len()
            ),
            &messages,
        ));
    }
    let mut pending_records = pending.records;
    let pending_ids = pending.ids;
    // One index entry per (identifier, event); the first role wins.
    let mut seen = BTreeSet::new();
    for (id, seq, role) in id_entries {
        if seen.insert((id.clone(), seq)) {
            let k = [keys::events_of(&id).as_slice(), &seq.to_be_bytes()].concat();
            writes.push((k, vec![role as u8]));
        }
    }
    for (seq, rec) in corrected {
        pending_records.insert(seq, rec);
    }
    // The open tier: consumer-relevant events (production, transport, customs and
    // quality outcomes) are published, screened; corrections are published too.
    let mut publisher = crate::open::Publisher::new(ex, ctx.height.0)?;
    let mut org_names: BTreeMap<String, String> = BTreeMap::new();
    for c in captured.iter().filter(|c| !c.duplicate) {
        let Some(rec) = pending_records.get(&c.seq) else {
            continue;
        };
        if rec.error_declaration {
            let corrects: Vec<String> = pending_records
                .values()
                .filter(|o| o.corrected_by == Some(c.seq))
                .map(EventRecord::hash_id)
                .collect();
            let ids: Vec<String> = rec.ids.iter().map(|(_, i)| i.clone()).collect();
            let index = publisher.publish(
                &mut writes,
                &crate::open::OpenRecord::Correction {
                    hash_id: rec.hash_id(),
                    corrects: &corrects,
                    declared_by: rec.org.as_str(),
                    source: rec.hash_id(),
                },
                &ids,
            )?;
            if let Some(r) = pending_records.get_mut(&c.seq) {
                r.open = Some((ctx.height.0, index));
            }
            continue;
        }
        let Some(form) = crate::open::open_form(rec.category) else {
            continue;
        };
        let ids: Vec<String> = rec.ids.iter().map(|(_, i)| i.clone()).collect();
        let sensor = readings.remove(&c.seq).unwrap_or_default();
        if !org_names.contains_key(rec.org.as_str()) {
            let name = crate::identity::load_org(ex, &rec.org)?
                .map(|o| o.name)
                .unwrap_or_else(|| rec.org.to_string());
            org_names.insert(rec.org.to_string(), name);
        }
        let org_name = org_names
            .get(rec.org.as_str())
            .map(String::as_str)
            .unwrap_or("");
        let ids_roles = || {
            rec.roles()
                .map(|(r, i)| crate::open::RoleId { role: r, id: i })
                .collect()
        };
        // Customs and quality events are published as their outcome only (the
        // authority matrix keeps the reports on the consortium tier).
        let record = if form == crate::open::OpenForm::Outcome {
            crate::open::OpenRecord::Inspection {
                hash_id: rec.hash_id(),
                event_type: &rec.event_type,
                event_time: &rec.event_time,
                biz_step: rec.biz_step.as_deref(),
                outcome: rec.disposition.as_deref(),
                biz_location: rec.biz_location.as_deref(),
                ids: ids_roles(),
                org: rec.org.as_str(),
                org_name,
                source: rec.hash_id(),
            }
        } else {
            crate::open::OpenRecord::Event {
                hash_id: rec.hash_id(),
                event_type: &rec.event_type,
                action: rec.action.as_deref(),
                event_time: &rec.event_time,
                biz_step: rec.biz_step.as_deref(),
                disposition: rec.disposition.as_deref(),
                read_point: rec.read_point.as_deref(),
                biz_location: rec.biz_location.as_deref(),
                ids: ids_roles(),
                org: rec.org.as_str(),
                org_name,
                readings: &sensor.readings,
                allowed_range: sensor.allowed_range.as_ref(),
                source: rec.hash_id(),
            }
        };
        let index = publisher.publish(&mut writes, &record, &ids)?;
        if let Some(r) = pending_records.get_mut(&c.seq) {
            r.open = Some((ctx.height.0, index));
        }
    }
    publisher.finish(&mut writes);
    for (seq, rec) in pending_records {
        writes.push((keys::event(seq), encode_record(&rec)));
    }
    for (eid, list) in pending_ids {
        writes.push((keys::event_id(&eid), encode_record(&list)));
    }
    let payload_kind = Payload::CaptureEpcis {
        document: String::new(),
    };
    let new = captured.iter().filter(|c| !c.duplicate).count();
    for g in touched_gtins {
        writes.push(audit::capture_product_entry(
            &payload_kind,
            &ctx,
            tx_id,
            signer,
            &m.org,
            &g,
            format!("captured {new} EPCIS event(s) naming {g}"),
        ));
    }
    writes.push((keys::meta("event_count"), encode_record(&count)));
    writes.push((
        keys::capture(&tx_id),
        encode_record(&CaptureRecord {
            org: m.org,
            signer,
            context: serde_json::to_string(&context).unwrap_or_else(|_| "null".into()),
            events: captured,
        }),
    ));
    Ok(writes)
}

/// The GTIN in a canonical Digital Link, if any.
fn gtin_in(id: &str) -> Option<&str> {
    id.strip_prefix("https://id.gs1.org/01/")
        .map(|r| r.split('/').next().unwrap_or(r))
}

fn check_commissioning<S: StateRead>(
    ex: &Execution<S>,
    s: &EventSummary,
    org: &OrgId,
    ptr: &str,
) -> Result<Option<String>, StateReadError> {
    let mut gtins: BTreeSet<&str> = BTreeSet::new();
    for (role, id) in &s.ids {
        if matches!(
            role,
            IdRole::Epc | IdRole::Quantity | IdRole::Output | IdRole::OutputQuantity
        ) {
            if let Some(g) = gtin_in(id) {
                gtins.insert(g);
            }
        }
    }
    for g in gtins {
        let Ok(gtin) = g.parse() else { continue };
        let Some(product) = load_product(ex, &gtin)? else {
            continue;
        };
        if let Some(kind) = crate::credentials::requirement(ex, &product.category)? {
            let what = format!("commissioning {g} ({})", product.category);
            match crate::credentials::require_valid(ex, org, &kind, &what) {
                Ok(()) => {}
                Err(HandlerError::Reject(r)) => {
                    return Ok(Some(format!("{ptr}/bizStep: {}", r.message)))
                }
                Err(HandlerError::State(e)) => return Err(e),
            }
        }
    }
    Ok(None)
}

/// Which way to walk the lineage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Back to origins: inputs, containers it travelled in, its lot.
    Back,
    /// Forward to everything it became or reached: outputs, containers, instances.
    Forward,
}

/// An identifier reached by the walk, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceNode {
    /// Canonical identifier.
    pub id: String,
    /// Steps from the start.
    pub depth: u32,
    /// The identifier it was reached from (none for the start).
    pub from: Option<String>,
    /// How: "made_from", "made_into", "contained_in", "contains", "packed_into",
    /// "of_lot", "instance", "raw_material".
    pub relation: Option<&'static str>,
    /// The event that links them (none for master data links).
    pub via_event: Option<u64>,
}

/// The result of a walk.
#[derive(Clone, Debug, Serialize)]
pub struct Lineage {
    /// The direction walked.
    pub direction: Direction,
    /// Identifiers reached, in the order reached (the start first).
    pub nodes: Vec<TraceNode>,
    /// The events on the way, by eventTime.
    pub events: Vec<EventRecord>,
    /// Events skipped because the reader may not read them.
    pub hidden_events: u64,
    /// Events skipped because an error declaration corrected them.
    pub corrected_events: u64,
    /// Whether a limit cut the walk short.
    pub truncated: bool,
}

/// Most events one walk visits.
pub const TRACE_EVENTS_MAX: usize = 20_000;
/// Most identifiers one walk visits.
pub const TRACE_NODES_MAX: usize = 20_000;

/// Walk the lineage of `start` (a canonical identifier). `visible` decides which
/// events the reader may see; edges are followed only through visible events, so the
/// walk reveals nothing the reader could not read.
pub fn walk<S: StateScan + ?Sized>(
    state: &S,
    start: &str,
    direction: Direction,
    visible: &mut dyn FnMut(&EventRecord) -> Result<bool, StateReadError>,
) -> Result<Lineage, StateReadError> {
    let mut nodes: Vec<TraceNode> = Vec::new();
    let mut seen_ids: BTreeSet<String> = BTreeSet::new();
    let mut events: BTreeMap<u64, Rc<EventRecord>> = BTreeMap::new();
    let mut looked_at: BTreeSet<u64> = BTreeSet::new();
    let mut hidden = BTreeSet::new();
    let mut corrected = BTreeSet::new();
    let mut truncated = false;
    // (id, window lo, window hi, node index)
    let mut queue: VecDeque<(String, i64, i64, usize)> = VecDeque::new();
    seen_ids.insert(start.to_string());
    nodes.push(TraceNode {
        id: start.to_string(),
        depth: 0,
        from: None,
        relation: None,
        via_event: None,
    });
    queue.push_back((start.to_string(), i64::MIN, i64::MAX, 0));
    let mut cache: BTreeMap<u64, Option<Rc<EventRecord>>> = BTreeMap::new();
    let mut deletes_cache: BTreeMap<String, Deletes> = BTreeMap::new();
    while let Some((id, lo, hi, node_ix)) = queue.pop_front() {
        let depth = nodes[node_ix].depth;
        let mut push = |nodes: &mut Vec<TraceNode>,
                        queue: &mut VecDeque<(String, i64, i64, usize)>,
                        next: &str,
                        relation: &'static str,
                        via: Option<u64>,
                        lo: i64,
                        hi: i64| {
            if seen_ids.len() >= TRACE_NODES_MAX {
                return false;
            }
            if seen_ids.insert(next.to_string()) {
                nodes.push(TraceNode {
                    id: next.to_string(),
                    depth: depth + 1,
                    from: Some(id.clone()),
                    relation: Some(relation),
                    via_event: via,
                });
                queue.push_back((next.to_string(), lo, hi, nodes.len() - 1));
            }
            true
        };
        let named = events_naming(state, &id, TRACE_EVENTS_MAX)?;
        for (seq, role) in named {
            if looked_at.len() >= TRACE_EVENTS_MAX {
                truncated = true;
                break;
            }
            looked_at.insert(seq);
            let rec = match cache.get(&seq) {
                Some(r) => r.clone(),
                None => {
                    let r = load_event(state, seq)?.map(Rc::new);
                    cache.insert(seq, r.clone());
                    r
                }
            };
            let Some(rec) = rec else { continue };
            if rec.event_time_ms < lo || rec.event_time_ms >= hi {
                continue;
            }
            if !visible(&rec)? {
                hidden.insert(seq);
                continue;
            }
            if rec.corrected_by.is_some() || rec.error_declaration {
                corrected.insert(seq);
                continue;
            }
            let t = rec.event_time_ms;
            let is_transformation = rec.event_type == "TransformationEvent";
            let action = rec.action.as_deref();
            let with_role = |want: &[IdRole]| -> Vec<String> {
                rec.roles()
                    .filter(|(r, _)| want.contains(r))
                    .map(|(_, i)| i.to_string())
                    .collect()
            };
            let mut ok = true;
            match direction {
                Direction::Back => {
                    if matches!(role, IdRole::Output | IdRole::OutputQuantity) && is_transformation
                    {
                        for next in with_role(&[IdRole::Input, IdRole::InputQuantity]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &next,
                                "made_from",
                                Some(seq),
                                i64::MIN,
                                t.saturating_add(1),
                            );
                        }
                    }
                    if matches!(role, IdRole::Output | IdRole::OutputQuantity)
                        && !is_transformation
                        && action == Some("ADD")
                    {
                        // Objects made by an ObjectEvent ADD with inputs are rare; nothing to follow.
                    }
                    if matches!(role, IdRole::Child | IdRole::ChildQuantity)
                        && action == Some("ADD")
                    {
                        for parent in with_role(&[IdRole::Parent]) {
                            let until =
                                aggregation_end(state, &mut deletes_cache, &id, &parent, t)?;
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &parent,
                                "contained_in",
                                Some(seq),
                                t,
                                until,
                            );
                        }
                    }
                    if matches!(role, IdRole::Epc | IdRole::Output) {
                        for lot in with_role(&[IdRole::IlmdLot]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &lot,
                                "of_lot",
                                Some(seq),
                                i64::MIN,
                                i64::MAX,
                            );
                        }
                    }
                    if role == IdRole::Parent && node_ix == 0 && action != Some("DELETE") {
                        for child in with_role(&[IdRole::Child, IdRole::ChildQuantity]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &child,
                                "contains",
                                Some(seq),
                                i64::MIN,
                                i64::MAX,
                            );
                        }
                    }
                }
                Direction::Forward => {
                    if matches!(role, IdRole::Input | IdRole::InputQuantity) && is_transformation {
                        for next in with_role(&[IdRole::Output, IdRole::OutputQuantity]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &next,
                                "made_into",
                                Some(seq),
                                t,
                                i64::MAX,
                            );
                        }
                    }
                    if matches!(role, IdRole::Child | IdRole::ChildQuantity)
                        && action == Some("ADD")
                    {
                        for parent in with_role(&[IdRole::Parent]) {
                            let until =
                                aggregation_end(state, &mut deletes_cache, &id, &parent, t)?;
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &parent,
                                "packed_into",
                                Some(seq),
                                t,
                                until,
                            );
                        }
                    }
                    if role == IdRole::IlmdLot {
                        for item in with_role(&[IdRole::Epc, IdRole::Output]) {
                            ok &= push(
                                &mut nodes,
                                &mut queue,
                                &item,
                                "instance",
                                Some(seq),
                                t,
                                i64::MAX,
                            );
                        }
                    }
                }
            }
            if !ok {
                truncated = true;
            }
            events.insert(seq, rec);
        }
        // Master data: a lot's raw-material lots.
        if direction == Direction::Back {
            if let Some((g, l)) = lot_of(&id) {
                if let Ok(gtin) = g.parse() {
                    if let Some(lot) = crate::catalog::load_lot(state, &gtin, &l)? {
                        for r in lot.raw_materials {
                            let next = format!("https://id.gs1.org/01/{}/10/{}", r.gtin, r.lot);
                            if !push(
                                &mut nodes,
                                &mut queue,
                                &next,
                                "raw_material",
                                None,
                                i64::MIN,
                                i64::MAX,
                            ) {
                                truncated = true;
                            }
                        }
                    }
                }
            }
        }
    }
    drop(cache);
    let mut events: Vec<EventRecord> = events
        .into_values()
        .map(|r| Rc::try_unwrap(r).unwrap_or_else(|r| (*r).clone()))
        .collect();
    events.sort_by_key(|e| (e.event_time_ms, e.seq));
    Ok(Lineage {
        direction,
        nodes,
        events,
        hidden_events: hidden.len() as u64,
        corrected_events: corrected.len() as u64,
        truncated,
    })
}

/// The aggregation DELETEs that name `parent`: (time, children named; empty = all).
type Deletes = Vec<(i64, Vec<String>)>;

/// When `child` left `parent`: the first aggregation DELETE after `from` that names
/// both, or that empties the parent; `i64::MAX` if it never did. A parent's DELETEs
/// are read once per walk (`cache`).
fn aggregation_end<S: StateScan + ?Sized>(
    state: &S,
    cache: &mut BTreeMap<String, Deletes>,
    child: &str,
    parent: &str,
    from: i64,
) -> Result<i64, StateReadError> {
    if !cache.contains_key(parent) {
        let mut deletes = Vec::new();
        for (seq, role) in events_naming(state, parent, TRACE_EVENTS_MAX)? {
            if role != IdRole::Parent {
                continue;
            }
            let Some(rec) = load_event(state, seq)? else {
                continue;
            };
            if rec.event_type != "AggregationEvent"
                || rec.action.as_deref() != Some("DELETE")
                || rec.corrected_by.is_some()
            {
                continue;
            }
            let children = rec
                .roles()
                .filter(|(r, _)| matches!(r, IdRole::Child | IdRole::ChildQuantity))
                .map(|(_, i)| i.to_string())
                .collect();
            deletes.push((rec.event_time_ms, children));
        }
        cache.insert(parent.to_string(), deletes);
    }
    let mut end = i64::MAX;
    for (t, children) in cache.get(parent).into_iter().flatten() {
        if *t > from && (children.is_empty() || children.iter().any(|c| c == child)) {
            end = end.min(*t);
        }
    }
    Ok(end)
}

/// (GTIN, lot) of a canonical lot identifier `https://id.gs1.org/01/<gtin>/10/<lot>`.
pub fn lot_of(id: &str) -> Option<(String, String)> {
    let rest = id.strip_prefix("https://id.gs1.org/01/")?;
    let (g, rest) = rest.split_once('/')?;
    let lot = rest.strip_prefix("10/")?;
    if lot.contains('/') {
        return None;
    }
    Some((g.to_string(), percent_decode(lot)))
}

fn percent_decode(s: &str) -> String {
    let bytes =
        waybill_gs1::digital_link::uri_unescape(s, waybill_gs1::digital_link::UriComponent::Path);
    String::from_utf8_lossy(&bytes).into_owned()
}
