//! EPCIS capture, the write path: a captured document is one transaction; every
//! event in it is checked (schema, CBV, check digits, event times from 1970 to a day
//! past the block time, the capturer's write authority for the event's data
//! category, the business location, required qualifications, its eventID) and
//! stored, or the whole document is rejected with each offending event and field
//! named by a JSON pointer. See the parent module for eventID ownership and
//! duplicates.

use std::collections::{BTreeMap, BTreeSet};
use waybill_types::reject::RejectCode;

use serde_json::Value;
use waybill_epcis::hash_id::ExactDocument;
use waybill_epcis::model::{summarize, EventSummary, IdRole};
use waybill_types::gs1::Gln;
use waybill_types::payload::CaptureEpcis;
use waybill_types::{limits, OrgId};

use super::{
    category_of, document_events, event_count, load_event, named_digest, CaptureRecord,
    CapturedEvent, EventRecord,
};
use crate::access::{may_correct_others, may_write};
use crate::audit;
use crate::catalog::{check_location_use, load_product};
use crate::exec::{
    decode_record, encode_record, Call, Contract, Execution, HandlerError, Rejection, StateRead,
    StateReadError, Writes,
};
use crate::identity::active_signer;
use crate::keys;

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

/// The payload kind of a capture, as the audit trail names it ([`waybill_types::Payload::kind`]).
const CAPTURE_KIND: &str = "capture_epcis";

/// A capture's rejection code when every refused event was refused for its eventID: it
/// is another's (or, for an error declaration, it names another organization's event).
const EVENT_ID_TAKEN: RejectCode = RejectCode::EventIdTaken;
/// A capture's rejection code for any other problem (and for a mix of problems).
const INVALID_EPCIS: RejectCode = RejectCode::InvalidEpcis;

fn reject_problems(code: RejectCode, what: &str, problems: &[String]) -> HandlerError {
    let shown: Vec<&str> = problems.iter().take(20).map(String::as_str).collect();
    let more = problems.len().saturating_sub(shown.len());
    let mut msg = format!("{what}: {}", shown.join("; "));
    if more > 0 {
        msg.push_str(&format!("; and {more} more"));
    }
    Rejection::new(code, msg).into()
}

/// Capture an EPCIS document: all events or none.
impl Contract for CaptureEpcis {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let tx_id = call.tx_id;
        let document = self.document.as_str();
        let m = active_signer(ex, signer)?;
        let doc: Value = serde_json::from_str(document).map_err(|e| {
            Rejection::new(
                RejectCode::MalformedJson,
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
                RejectCode::TooManyEvents,
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
                RejectCode::MalformedJson,
                format!("the EPCIS document is not valid JSON: {e}"),
            )
        })?;
        let exact_events = exact.events();
        if exact_events.len() != events.len() {
            return Err(Rejection::new(
                RejectCode::MalformedJson,
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
        let mut problems: Vec<(usize, RejectCode, String)> = Vec::new();
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
                            if let Err(r) = check_location_use(ex, &gln, &m.org)? {
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
                    .ok_or_else(|| StateReadError::Corrupt {
                        key: keys::org(&rec.org),
                        reason: format!("the capturer's organization `{}` is missing", rec.org),
                    })?
                    .name;
                org_names.insert(rec.org.to_string(), name);
            }
            let org_name = org_names
                .get(rec.org.as_str())
                .map(String::as_str)
                .expect("the name was looked up just above");
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
        let new = captured.iter().filter(|c| !c.duplicate).count();
        for g in touched_gtins {
            writes.push(audit::capture_product_entry(
                CAPTURE_KIND,
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
                context: serde_json::to_string(&context)
                    .expect("a JSON value always serializes (its map keys are strings)"),
                events: captured,
            }),
        ));
        Ok(writes)
    }

    fn describe(&self) -> String {
        format!("captured an EPCIS document ({} bytes)", self.document.len())
    }
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
