//! EPCIS capture, the write path: a captured document is one transaction; every
//! event in it is checked (schema, CBV, check digits, event times from 1970 to a day
//! past the block time, the capturer's write authority for the event's data
//! category, the business location, required qualifications, its eventID) and
//! stored, or the whole document is rejected with each offending event and field
//! named by a JSON pointer. See the parent module for eventID ownership and
//! duplicates.

use std::collections::{BTreeMap, BTreeSet};
use waybill_types::reject::RejectCode;

use serde_json::{Map, Value};
use waybill_epcis::hash_id::json::{Json, JsonObject};
use waybill_epcis::hash_id::ExactDocument;
use waybill_epcis::model::{summarize, EventSummary, IdRole};
use waybill_gs1::Gln;
use waybill_types::payload::CaptureEpcis;
use waybill_types::screening::{self, ScreeningRule};
use waybill_types::{limits, DataCategory, Hash, OrgId};

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
use crate::identity::{active_signer, Member};
use crate::inventory::StockBook;
use crate::keys;
use crate::parties::{named_in, Custody, PartyResolver};
use crate::stock_events::CaptureStock;

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

/// The code of an event refused for its eventID: it is another's (or, for an error
/// declaration, it names another organization's event).
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
        let member = active_signer(ex, call.signer)?;
        let doc = Document::read(&self.document)?;
        let mut run = CaptureRun::new(ex, call, member, &doc)?;
        for event_idx in 0..run.events.len() {
            run.take_event(event_idx)?;
        }
        run.reject_refused()?;
        Ok(run.into_writes()?)
    }

    fn describe(&self) -> String {
        format!("captured an EPCIS document ({} bytes)", self.document.len())
    }
}

/// The rejection of a document that is not JSON (to either reader).
fn not_json(e: impl std::fmt::Display) -> Rejection {
    Rejection::new(
        RejectCode::MalformedJson,
        format!("the EPCIS document is not valid JSON: {e}"),
    )
}

/// A document read for capture: valid, with 1 to [`limits::EPCIS_EVENTS_MAX`] events,
/// read twice from the same text (as JSON values for checking, exactly for hashing and
/// storing) with the same event list.
struct Document {
    /// The document as JSON values: validated, summarized.
    json: Value,
    /// The same text read exactly: numbers as written, the document's
    /// `ignoreFields` in force.
    exact: ExactDocument,
    /// The JSON pointer of the event list.
    list_ptr: &'static str,
}

impl Document {
    /// Read and validate `text`; a document that is not JSON, breaks the schema or the
    /// ledger's rules, has no events or too many, is rejected whole.
    fn read(text: &str) -> Result<Document, HandlerError> {
        let json: Value = serde_json::from_str(text).map_err(not_json)?;
        if let Err(problems) = waybill_epcis::validate::validate_document(&json) {
            let p: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return Err(reject_problems(
                INVALID_EPCIS,
                "the EPCIS document is not valid",
                &p,
            ));
        }
        let (events, list_ptr) = document_events(&json);
        let n_events = events.map_or(0, Vec::len);
        if n_events == 0 {
            return Err(Rejection::new(
                INVALID_EPCIS,
                format!("{list_ptr}: the document has no events"),
            )
            .into());
        }
        if n_events > limits::EPCIS_EVENTS_MAX {
            return Err(Rejection::new(
                RejectCode::TooManyEvents,
                format!(
                    "{list_ptr}: {n_events} events, over the limit of {} per document; split it",
                    limits::EPCIS_EVENTS_MAX
                ),
            )
            .into());
        }
        // The same text read for hashing and storing: numbers exactly as written, the
        // document's `ignoreFields` in force. Both readers accept the same texts, so the
        // event lists match; should they not, the document is refused, never misread.
        let exact = ExactDocument::parse(text).map_err(not_json)?;
        if exact.events().len() != n_events {
            return Err(Rejection::new(
                RejectCode::MalformedJson,
                format!(
                    "{list_ptr}: {n_events} events read for validation but {} for hashing; the JSON is ambiguous",
                    exact.events().len()
                ),
            )
            .into());
        }
        Ok(Document {
            json,
            exact,
            list_ptr,
        })
    }

    /// The events as JSON values (as many as [`ExactDocument::events`]).
    fn events(&self) -> &[Value] {
        document_events(&self.json)
            .0
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The document's `@context`, as JSON (stored to export the events).
    fn context_json(&self) -> String {
        let context = self.json.get("@context").cloned().unwrap_or(Value::Null);
        serde_json::to_string(&context)
            .expect("a JSON value always serializes (its map keys are strings)")
    }
}

/// One event of the document, in both readings.
struct EventText<'d> {
    /// As a JSON value (checked, summarized, screened for sensor data).
    value: &'d Value,
    object: &'d Map<String, Value>,
    /// As written (hashed, stored).
    exact: &'d Json,
    exact_object: &'d JsonObject,
}

/// Why an event was not taken: it is refused (the capture goes on with the next
/// event, so that one rejection names every problem), or state could not be read (a
/// fault: the block halts).
enum NotTaken {
    /// The problems, each with its rejection code.
    Refused(Vec<(RejectCode, String)>),
    State(StateReadError),
}

impl NotTaken {
    /// Refused as invalid EPCIS, for `message`.
    fn invalid(message: String) -> NotTaken {
        NotTaken::Refused(vec![(INVALID_EPCIS, message)])
    }
}

impl From<StateReadError> for NotTaken {
    fn from(e: StateReadError) -> Self {
        NotTaken::State(e)
    }
}

/// What becomes of an event that passed its checks.
enum Taken<'d> {
    /// The same event is stored already (before, or earlier in this document).
    Duplicate(CapturedEvent),
    /// A new event, stored under the next seq.
    New(NewEvent<'d>),
}

/// An event to be stored, with what its checks decided.
struct NewEvent<'d> {
    /// Its place in the document's event list.
    index: usize,
    text: EventText<'d>,
    summary: EventSummary,
    /// The Event Hash ID's digest, and the ID as an `ni:` URI.
    digest: [u8; 32],
    hash_id: String,
    category: DataCategory,
    /// For an error declaration, the seqs of the events it corrects (empty otherwise).
    corrects: Vec<u64>,
    /// Its sealed fields: (record, field, commitment).
    commitments: Vec<(String, String, Hash)>,
}

/// One capture in progress: the document, the capturer, and what has been decided
/// so far, event by event, before anything is written.
struct CaptureRun<'a, 'd, S: StateRead> {
    ex: &'a Execution<'a, S>,
    call: Call,
    member: Member,
    /// The block time, in ms as event times are (the latest time an event may lie a
    /// day past).
    now_ms: i64,
    doc: &'d Document,
    events: &'d [Value],
    /// The number of events stored before this capture.
    count_before: u64,
    /// The number of events stored, counting this capture's so far (the last seq).
    count: u64,
    /// Why events are refused: (event index, rejection code, reason).
    problems: Vec<(usize, RejectCode, String)>,
    pending: Pending,
    /// Per event in document order: its seq and whether it was a duplicate.
    captured: Vec<CapturedEvent>,
    /// Events marked corrected by this capture's error declarations.
    corrected: BTreeMap<u64, EventRecord>,
    /// GTINs the events name (each gets an audit entry).
    touched_gtins: BTreeSet<String>,
    /// (identifier, seq, role) of every identifier of the stored events.
    id_entries: Vec<(String, u64, IdRole)>,
    /// The sensor data screened from each stored event, for the open tier.
    readings: BTreeMap<u64, crate::open::SensorData>,
    /// Writes decided while taking the events (the Event Hash ID index).
    writes: Writes,
    /// Who the events make parties to what ([`crate::parties`]).
    resolver: PartyResolver,
    /// Parties and containers' contents the stored events change.
    custody: Custody,
    /// The sealed fields of the stored events, for the block's commitment tree.
    commitments: Vec<(String, String, Hash)>,
    /// The stored events that name a business transaction (orders may move).
    order_events: Vec<crate::orders::OrderEvent>,
    /// The stock the stored events move ([`crate::stock_events`], and orders').
    stock: CaptureStock<'a, Execution<'a, S>>,
}

impl<'a, 'd, S: StateRead> CaptureRun<'a, 'd, S> {
    fn new(
        ex: &'a Execution<'a, S>,
        call: Call,
        member: Member,
        doc: &'d Document,
    ) -> Result<Self, StateReadError> {
        let events = doc.events();
        let count = event_count(ex)?;
        Ok(CaptureRun {
            ex,
            call,
            member,
            now_ms: i64::try_from(ex.context().time_ms).unwrap_or(i64::MAX),
            doc,
            events,
            count_before: count,
            count,
            problems: Vec::new(),
            pending: Pending::default(),
            captured: Vec::with_capacity(events.len()),
            corrected: BTreeMap::new(),
            touched_gtins: BTreeSet::new(),
            id_entries: Vec::new(),
            readings: BTreeMap::new(),
            writes: Vec::new(),
            resolver: PartyResolver::new(),
            custody: Custody::default(),
            commitments: Vec::new(),
            order_events: Vec::new(),
            stock: CaptureStock::new(StockBook::new(
                ex,
                ex.context().height,
                ex.context().time_ms,
            )),
        })
    }

    /// Check event `event_idx` and store it, count it as a duplicate, or note why it
    /// is refused.
    fn take_event(&mut self, event_idx: usize) -> Result<(), StateReadError> {
        match self.examine(event_idx) {
            Ok(Taken::Duplicate(c)) => self.captured.push(c),
            Ok(Taken::New(e)) => self.store(e)?,
            Err(NotTaken::Refused(problems)) => self.problems.extend(
                problems
                    .into_iter()
                    .map(|(code, message)| (event_idx, code, message)),
            ),
            Err(NotTaken::State(e)) => return Err(e),
        }
        Ok(())
    }

    /// The checks of one event, in order (the first that fails names the problem):
    /// its form and hash, its times, its summary, the capturer's write authority, and,
    /// for a new fact, its location and commissioning; then whether it corrects,
    /// repeats or may not use its eventID.
    fn examine(&mut self, event_idx: usize) -> Result<Taken<'d>, NotTaken> {
        let ptr = format!("{}/{event_idx}", self.doc.list_ptr);
        let text = self.event_text(event_idx, &ptr)?;
        let digest = self.doc.exact.hash_digest(text.exact_object).map_err(|e| {
            NotTaken::invalid(format!("{ptr}: cannot compute the Event Hash ID: {e}"))
        })?;
        self.check_times(text.value, &ptr)?;
        let summary = summarize(text.object, &ptr).map_err(|e| NotTaken::invalid(e.to_string()))?;
        let category = self.check_write_authority(&summary, &ptr)?;
        let commitments = self.check_sealed(text.value, &summary, &ptr)?;
        // An error declaration records no new fact, only withdraws one: the rules for
        // where and what may be recorded apply to the event it corrects.
        if !summary.error_declaration {
            self.check_location(&summary, &ptr)?;
            self.check_commissioning(&summary, &ptr)?;
        }
        for (_, id) in &summary.ids {
            if let Some(g) = gtin_in(id) {
                self.touched_gtins.insert(g.to_string());
            }
        }
        let hash_id = format!("ni:///sha-256;{}?ver=CBV2.0", hex::encode(digest));
        // Corrections are decided before duplicates, so that re-sending another's
        // declaration is refused like sending it.
        let corrects = if summary.error_declaration {
            self.corrected_events(&summary, &digest, &hash_id, &ptr)?
        } else {
            if let Some(seq) = self.same_event_under_event_id(&summary, &digest, &hash_id, &ptr)? {
                return Ok(duplicate(seq, hash_id));
            }
            Vec::new()
        };
        if let Some(seq) = stored_hash(self.ex, &self.pending, &digest, summary.error_declaration)?
        {
            return Ok(duplicate(seq, hash_id));
        }
        Ok(Taken::New(NewEvent {
            index: event_idx,
            text,
            summary,
            digest,
            hash_id,
            category,
            corrects,
            commitments,
        }))
    }

    /// Event `event_idx` in both readings; refused unless it is a JSON object.
    fn event_text(&self, event_idx: usize, ptr: &str) -> Result<EventText<'d>, NotTaken> {
        let doc: &'d Document = self.doc;
        let events: &'d [Value] = self.events;
        let value = &events[event_idx];
        let exact = &doc.exact.events()[event_idx];
        let (Some(object), Some(exact_object)) = (value.as_object(), exact.as_object()) else {
            return Err(NotTaken::invalid(format!(
                "{ptr}: an event must be a JSON object"
            )));
        };
        Ok(EventText {
            value,
            object,
            exact,
            exact_object,
        })
    }

    /// Event times from 1970 to a day past the block time.
    fn check_times(&self, event: &Value, ptr: &str) -> Result<(), NotTaken> {
        let times = waybill_epcis::validate::check_event_times(event, ptr, self.now_ms);
        if times.is_empty() {
            return Ok(());
        }
        Err(NotTaken::Refused(
            times
                .iter()
                .map(|p| (INVALID_EPCIS, p.to_string()))
                .collect(),
        ))
    }

    /// The event's data category, if the capturer may write it (or, for an error
    /// declaration, correct others' events of it).
    fn check_write_authority(&self, s: &EventSummary, ptr: &str) -> Result<DataCategory, NotTaken> {
        let roles = &self.member.roles;
        let category = category_of(s.biz_step.as_deref(), roles);
        let writes_category = roles.iter().any(|r| may_write(*r, category));
        let corrects_others =
            s.error_declaration && roles.iter().any(|r| may_correct_others(*r, category));
        if writes_category || corrects_others {
            return Ok(category);
        }
        let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
        Err(NotTaken::invalid(format!(
            "{ptr}/bizStep: {} (roles: {}) may not write {} data{}",
            self.call.signer,
            names.join(", "),
            category.name(),
            s.biz_step
                .as_deref()
                .map(|b| format!(" such as a `{b}` event"))
                .unwrap_or_default()
        )))
    }

    /// Sealed fields (docs/PRIVACY.md): each well formed, in an event with an eventID
    /// (the record id its associated data binds, with the pointer where it stands)
    /// and wrapped for the key each recipient organization has current at this block
    /// — a wrap for an older version, or for an organization with no key, is refused
    /// so the sender seals again.
    fn check_sealed(
        &mut self,
        event: &Value,
        s: &EventSummary,
        ptr: &str,
    ) -> Result<Vec<(String, String, Hash)>, NotTaken> {
        let event_id = event.get("eventID").and_then(Value::as_str);
        let fields = waybill_types::seal::sealed_fields(event, event_id.unwrap_or_default());
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        if event_id.is_none() {
            return Err(NotTaken::Refused(vec![(
                RejectCode::SealedField,
                format!(
                    "{ptr}{}: an event with a sealed field needs an eventID (urn:uuid:…), the record id it is sealed for",
                    fields[0].0
                ),
            )]));
        }
        let mut commitments = Vec::with_capacity(fields.len());
        let mut problems = Vec::new();
        for (at, found) in fields {
            let here = format!("{ptr}{at}");
            let sealed = match found {
                Ok(s) => s,
                Err(e) => {
                    problems.push(format!("{here}: {e}"));
                    continue;
                }
            };
            let recipients = sealed.recipients();
            self.check_recipients(&sealed, &recipients, s, &here, &mut problems)?;
            problems.extend(super::wraps::key_version_problems(
                self.ex,
                &recipients,
                &here,
            )?);
            commitments.push((
                sealed.record().to_owned(),
                sealed.field().to_owned(),
                *sealed.commitment(),
            ));
        }
        if problems.is_empty() {
            return Ok(commitments);
        }
        Err(NotTaken::Refused(
            problems
                .into_iter()
                .map(|p| (RejectCode::SealedField, p))
                .collect(),
        ))
    }

    /// The recipient rule (docs/PRIVACY.md, [`super::wraps::recipient_problems`]): a
    /// sealed field is wrapped for every regulator, and for no organization beyond
    /// the capturer's own, the regulators and the event's parties whose roles (or a
    /// grant from the capturer) read the field's category. A regulator with no
    /// encryption key blocks sealing until it registers one: sealed data the
    /// regulators cannot audit is refused.
    fn check_recipients(
        &mut self,
        sealed: &waybill_types::seal::SealedField,
        recipients: &[waybill_types::seal::KeyRef],
        s: &EventSummary,
        here: &str,
        problems: &mut Vec<String>,
    ) -> Result<(), StateReadError> {
        let rec = super::wraps::SealedRecord {
            capturer: &self.member.org,
            named: named_in(
                s.read_point.as_deref(),
                s.biz_location.as_deref(),
                &s.sources,
                &s.destinations,
            )
            .collect(),
            ids: s.ids.iter().map(|(_, id)| id.as_str()).collect(),
        };
        let orgs: BTreeSet<&OrgId> = recipients.iter().map(|w| &w.org).collect();
        problems.extend(super::wraps::recipient_problems(
            self.ex,
            &mut self.resolver,
            &rec,
            sealed.category(),
            &orgs,
            true,
            here,
        )?);
        Ok(())
    }

    /// The business location, if any, is registered and the capturer's to use.
    fn check_location(&self, s: &EventSummary, ptr: &str) -> Result<(), NotTaken> {
        let Some(gln) = &s.biz_location_gln else {
            return Ok(());
        };
        match gln.parse::<Gln>() {
            Ok(gln) => match check_location_use(self.ex, &gln, &self.member.org)? {
                Ok(()) => Ok(()),
                Err(r) => Err(NotTaken::invalid(format!(
                    "{ptr}/bizLocation/id: {}",
                    r.message
                ))),
            },
            Err(e) => Err(NotTaken::invalid(format!("{ptr}/bizLocation/id: {e}"))),
        }
    }

    /// Commissioning (other than a DELETE) needs the qualifications the products'
    /// categories require.
    fn check_commissioning(&self, s: &EventSummary, ptr: &str) -> Result<(), NotTaken> {
        if s.biz_step.as_deref() != Some("commissioning") || s.action.as_deref() == Some("DELETE") {
            return Ok(());
        }
        match check_commissioning(self.ex, s, &self.member.org, ptr)? {
            Some(problem) => Err(NotTaken::invalid(problem)),
            None => Ok(()),
        }
    }

    /// The seqs of the events an error declaration corrects: by eventID, or, for an
    /// event captured without one, by its Event Hash ID (which leaves
    /// `errorDeclaration` out). Refused if no such event is recorded, or if none of
    /// them is the capturer's to correct.
    fn corrected_events(
        &self,
        s: &EventSummary,
        digest: &[u8; 32],
        hash_id: &str,
        ptr: &str,
    ) -> Result<Vec<u64>, NotTaken> {
        let originals = self.declared_originals(s, digest)?;
        if originals.is_empty() {
            return Err(NotTaken::invalid(match s.event_id.as_deref() {
                Some(eid) => format!("{ptr}/eventID: the error declaration names eventID `{eid}`, but no event with that eventID is recorded"),
                None => format!("{ptr}/errorDeclaration: the error declaration has no eventID and no event with its Event Hash ID {hash_id} is recorded"),
            }));
        }
        let m = &self.member;
        let corrects: Vec<u64> = originals
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
            return Err(NotTaken::Refused(vec![(EVENT_ID_TAKEN, format!("{ptr}/eventID: the error declaration names {what}, whose event was captured by {}; only the capturing organization (or a regulator) declares an event in error", quoted_orgs(&originals)))]));
        }
        Ok(corrects)
    }

    /// The stored events an error declaration names: the holders of its eventID, or
    /// the event (not a declaration) with its Event Hash ID.
    fn declared_originals(
        &self,
        s: &EventSummary,
        digest: &[u8; 32],
    ) -> Result<Vec<EventRecord>, StateReadError> {
        if let Some(eid) = s.event_id.as_deref() {
            return holders_of(self.ex, &self.pending, eid);
        }
        Ok(match stored_hash(self.ex, &self.pending, digest, false)? {
            Some(seq) => match self.pending.records.get(&seq) {
                Some(r) => vec![r.clone()],
                None => load_event(self.ex, seq)?.into_iter().collect(),
            },
            None => Vec::new(),
        })
    }

    /// An eventID is its first capturer's: the same event again from the same
    /// organization is a duplicate (its seq); anything else under it is refused.
    fn same_event_under_event_id(
        &self,
        s: &EventSummary,
        digest: &[u8; 32],
        hash_id: &str,
        ptr: &str,
    ) -> Result<Option<u64>, NotTaken> {
        let Some(eid) = s.event_id.as_deref() else {
            return Ok(None);
        };
        let holders = holders_of(self.ex, &self.pending, eid)?;
        if let Some(same) = holders
            .iter()
            .find(|h| h.org == self.member.org && h.hash == *digest)
        {
            return Ok(Some(same.seq));
        }
        if holders.is_empty() {
            return Ok(None);
        }
        let held: Vec<String> = holders.iter().map(EventRecord::hash_id).collect();
        Err(NotTaken::Refused(vec![(EVENT_ID_TAKEN, format!(
            "{ptr}/eventID: eventID `{eid}` is taken: {} captured event {} under it; this event (Event Hash ID {hash_id}) needs an eventID of its own, or, to correct that event, an error declaration by its capturer",
            quoted_orgs(&holders),
            held.join(", ")
        ))]))
    }

    /// Store a new event under the next seq: its record, its Event Hash ID and eventID
    /// entries, its identifiers to index and its sensor data to publish; mark the
    /// events it corrects.
    fn store(&mut self, e: NewEvent<'d>) -> Result<(), StateReadError> {
        self.count += 1;
        let seq = self.count;
        self.mark_corrected(&e.corrects, seq)?;
        let rec = self.event_record(&e, seq);
        let declaration = e.summary.error_declaration;
        let previous = self.pending.hashes.insert((e.digest, declaration), seq);
        assert!(
            previous.is_none(),
            "a stored Event Hash ID is a duplicate, never stored twice"
        );
        self.writes.push((
            keys::event_hash(&e.digest, declaration),
            encode_record(&seq),
        ));
        if let Some(eid) = &e.summary.event_id {
            let mut list = event_id_list(self.ex, &self.pending.ids, eid)?;
            list.push(seq);
            self.pending.ids.insert(eid.clone(), list);
        }
        for (role, id) in &e.summary.ids {
            self.id_entries.push((id.clone(), seq, *role));
        }
        if !e.summary.error_declaration {
            self.custody
                .record_event(self.ex, &mut self.resolver, &self.member.org, &e.summary)?;
            let moved = self.stock.on_event(
                &mut self.custody,
                &self.member.org,
                &e.summary,
                e.text.exact_object,
                &format!("{}/{}", self.doc.list_ptr, e.index),
            )?;
            self.problems.extend(
                moved
                    .into_iter()
                    .map(|(code, message)| (e.index, code, message)),
            );
            // An error declaration withdraws a fact; its fields are the corrected
            // event's, committed to when that was stored.
            self.commitments.extend(e.commitments);
            if !e.summary.biz_transactions.is_empty() {
                self.order_events.push(crate::orders::OrderEvent {
                    seq,
                    biz_step: e.summary.biz_step.clone(),
                    biz_transactions: e.summary.biz_transactions.clone(),
                });
            }
        }
        self.readings
            .insert(seq, crate::open::screen_sensor_data(e.text.object));
        self.pending.records.insert(seq, rec);
        self.captured.push(CapturedEvent {
            seq,
            duplicate: false,
            hash_id: e.hash_id,
        });
        Ok(())
    }

    /// Mark the events `corrects` as corrected by the declaration stored as `seq`.
    fn mark_corrected(&mut self, corrects: &[u64], seq: u64) -> Result<(), StateReadError> {
        for &o in corrects {
            let rec = match self.corrected.remove(&o) {
                Some(r) => Some(r),
                None => match self.pending.records.get(&o) {
                    Some(r) => Some(r.clone()),
                    None => load_event(self.ex, o)?,
                },
            };
            if let Some(mut rec) = rec {
                rec.corrected_by = Some(seq);
                self.corrected.insert(o, rec);
            }
        }
        Ok(())
    }

    /// The stored record of a new event.
    fn event_record(&self, e: &NewEvent<'d>, seq: u64) -> EventRecord {
        let s = &e.summary;
        let ctx = self.ex.context();
        EventRecord {
            seq,
            hash: e.digest,
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
            category: e.category,
            org: self.member.org.clone(),
            signer: self.call.signer,
            tx_id: self.call.tx_id,
            height: ctx.height,
            record_time_ms: ctx.time_ms,
            // As written: numbers keep their digits, so the exported event hashes to
            // the same ID.
            json: e.text.exact.to_json_string(),
        }
    }

    /// If any event was refused, the rejection that names every problem: nothing is
    /// stored.
    fn reject_refused(&mut self) -> Result<(), HandlerError> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let problems = std::mem::take(&mut self.problems);
        // One kind of problem names the capture's code (every event refused for its
        // eventID: `event_id_taken`; for its sealed fields: `sealed_field`); a mix is
        // `invalid_epcis`.
        let first = problems[0].1;
        let code = if problems.iter().all(|(_, c, _)| *c == first) {
            first
        } else {
            INVALID_EPCIS
        };
        let refused: BTreeSet<usize> = problems.iter().map(|(i, _, _)| *i).collect();
        assert!(
            refused.len() <= self.events.len(),
            "only the document's events are refused"
        );
        let messages: Vec<String> = problems.into_iter().map(|(_, _, p)| p).collect();
        Err(reject_problems(
            code,
            &format!(
                "{} of {} events refused, nothing was stored",
                refused.len(),
                self.events.len()
            ),
            &messages,
        ))
    }

    /// Every event was taken: the writes, in order: Event Hash IDs, identifier index,
    /// open tier, event records, eventIDs, audit entries, new parties, the event count
    /// and the capture record.
    fn into_writes(mut self) -> Result<Writes, StateReadError> {
        let n_new = self.captured.iter().filter(|c| !c.duplicate).count();
        assert_eq!(
            self.captured.len(),
            self.events.len(),
            "every event is stored or a duplicate"
        );
        assert_eq!(
            self.count,
            self.count_before + n_new as u64,
            "the event count grows by the events stored"
        );
        assert_eq!(
            self.pending.records.len(),
            n_new,
            "one record per event stored"
        );
        let Pending { records, ids, .. } = std::mem::take(&mut self.pending);
        self.index_identifiers();
        let mut records = records;
        records.append(&mut self.corrected);
        // Orders the events ship or deliver: their writes, and the delivered ones'
        // sales for the open tier.
        let (mut order_writes, delivered) = crate::orders::on_events(
            self.ex,
            &self.member.org,
            &self.order_events,
            &mut self.stock.book,
        )?;
        order_writes.extend(self.stock.book.take_writes()?);
        self.publish_open_tier(&mut records, &delivered)?;
        for (seq, rec) in records {
            self.writes.push((keys::event(seq), encode_record(&rec)));
        }
        for (eid, list) in ids {
            self.writes
                .push((keys::event_id(&eid), encode_record(&list)));
        }
        self.audit_products();
        self.writes
            .extend(std::mem::take(&mut self.custody).into_writes());
        crate::commitments::append(
            self.ex,
            self.ex.context().height.0,
            &mut self.writes,
            &self.commitments,
        )?;
        self.writes.extend(order_writes);
        self.writes
            .push((keys::meta("event_count"), encode_record(&self.count)));
        self.writes.push((
            keys::capture(&self.call.tx_id),
            encode_record(&CaptureRecord {
                org: self.member.org,
                signer: self.call.signer,
                context: self.doc.context_json(),
                events: self.captured,
            }),
        ));
        Ok(self.writes)
    }

    /// One index entry per (identifier, event); the first role wins.
    fn index_identifiers(&mut self) {
        let mut seen = BTreeSet::new();
        for (id, seq, role) in std::mem::take(&mut self.id_entries) {
            if seen.insert((id.clone(), seq)) {
                // A derived index row (crate::index): the block adds (seq, role) to
                // the identifier's row.
                let entry = [&seq.to_be_bytes()[..], &[role as u8]].concat();
                self.writes.push((keys::events_of(&id), entry));
            }
        }
    }

    /// The open tier: consumer-relevant events (production, transport, customs and
    /// quality outcomes) are published, screened; corrections are published too. Each
    /// published record's place is kept in its event record.
    fn publish_open_tier(
        &mut self,
        records: &mut BTreeMap<u64, EventRecord>,
        delivered: &[crate::orders::Order],
    ) -> Result<(), StateReadError> {
        let ex = self.ex;
        let height = ex.context().height.0;
        let mut publisher = crate::open::Publisher::new(ex, height)?;
        let mut org_names: BTreeMap<String, String> = BTreeMap::new();
        // The screening rules in force (crate::screening), read once per capture.
        let mut rules: Option<Vec<ScreeningRule>> = None;
        for c in self.captured.iter().filter(|c| !c.duplicate) {
            let Some(rec) = records.get(&c.seq) else {
                continue;
            };
            let index = if rec.error_declaration {
                publish_correction(&mut publisher, &mut self.writes, rec, records)?
            } else {
                let rules = match &mut rules {
                    Some(r) => r,
                    None => rules.insert(crate::screening::in_force(ex)?.rules),
                };
                let event_type = screening::EventType::parse(&rec.event_type);
                let Some(rule) = screening::rule_for(rules, rec.category, event_type)
                    .filter(|r| r.publish != screening::Publish::Nothing)
                else {
                    continue;
                };
                let sensor = self.readings.remove(&c.seq).unwrap_or_default();
                let org_name = org_name(ex, &mut org_names, &rec.org)?;
                let record = open_event(rec, rule, org_name, &sensor);
                let ids: Vec<String> = rec.ids.iter().map(|(_, i)| i.clone()).collect();
                publisher.publish(&mut self.writes, &record, &ids)?
            };
            if let Some(r) = records.get_mut(&c.seq) {
                r.open = Some((height, index));
            }
        }
        for o in delivered {
            crate::orders::publish_sales(ex, &mut publisher, &mut self.writes, o, self.call.tx_id)?;
        }
        publisher.finish(&mut self.writes);
        Ok(())
    }

    /// An audit entry for each product (GTIN) the events name: a derived index row
    /// naming this transaction ([`crate::index`]).
    fn audit_products(&mut self) {
        for g in &self.touched_gtins {
            self.writes.push((
                keys::audit_of(audit::subject::PRODUCT, g.as_bytes()),
                Vec::new(),
            ));
        }
    }
}

/// An event already stored as `seq`.
fn duplicate<'d>(seq: u64, hash_id: String) -> Taken<'d> {
    Taken::Duplicate(CapturedEvent {
        seq,
        duplicate: true,
        hash_id,
    })
}

/// Publish the correction `rec` (an error declaration) naming the events it corrects
/// (among `records`); its open-tier index.
fn publish_correction<R: StateRead + ?Sized>(
    publisher: &mut crate::open::Publisher<'_, R>,
    writes: &mut Writes,
    rec: &EventRecord,
    records: &BTreeMap<u64, EventRecord>,
) -> Result<u32, StateReadError> {
    let corrects: Vec<String> = records
        .values()
        .filter(|o| o.corrected_by == Some(rec.seq))
        .map(EventRecord::hash_id)
        .collect();
    let ids: Vec<String> = rec.ids.iter().map(|(_, i)| i.clone()).collect();
    publisher.publish(
        writes,
        &crate::open::OpenRecord::Correction {
            hash_id: rec.hash_id(),
            corrects: &corrects,
            declared_by: rec.org.as_str(),
            source: rec.hash_id(),
        },
        &ids,
    )
}

/// The name of organization `org`, read once per capture (`names`).
fn org_name<'n, S: StateRead>(
    ex: &Execution<S>,
    names: &'n mut BTreeMap<String, String>,
    org: &OrgId,
) -> Result<&'n str, StateReadError> {
    if !names.contains_key(org.as_str()) {
        let name = crate::identity::load_org(ex, org)?
            .ok_or_else(|| StateReadError::Corrupt {
                key: keys::org(org),
                reason: format!("the capturer's organization `{org}` is missing"),
            })?
            .name;
        names.insert(org.to_string(), name);
    }
    Ok(names
        .get(org.as_str())
        .map(String::as_str)
        .expect("the name was looked up just above"))
}

/// The open-tier record of a stored event under `rule` (one that publishes): its
/// outcome only (under version 1, customs and quality events: the authority matrix
/// keeps the reports on the consortium tier), or the event screened; either way with
/// only the optional fields the rule lists (the others `null` or empty).
fn open_event<'r>(
    rec: &'r EventRecord,
    rule: &ScreeningRule,
    org_name: &'r str,
    sensor: &'r crate::open::SensorData,
) -> crate::open::OpenRecord<'r> {
    use screening::ScreenedField as F;
    let ids_roles = || {
        rec.roles()
            .map(|(r, i)| crate::open::RoleId { role: r, id: i })
            .collect()
    };
    let field = |f: F, v: &'r Option<String>| v.as_deref().filter(|_| rule.publishes(f));
    if rule.publish == screening::Publish::Outcome {
        return crate::open::OpenRecord::Inspection {
            hash_id: rec.hash_id(),
            event_type: &rec.event_type,
            event_time: &rec.event_time,
            biz_step: rec.biz_step.as_deref(),
            outcome: field(F::Disposition, &rec.disposition),
            biz_location: field(F::BizLocation, &rec.biz_location),
            ids: ids_roles(),
            org: rec.org.as_str(),
            org_name,
            source: rec.hash_id(),
        };
    }
    crate::open::OpenRecord::Event {
        hash_id: rec.hash_id(),
        event_type: &rec.event_type,
        action: field(F::Action, &rec.action),
        event_time: &rec.event_time,
        biz_step: rec.biz_step.as_deref(),
        disposition: field(F::Disposition, &rec.disposition),
        read_point: field(F::ReadPoint, &rec.read_point),
        biz_location: field(F::BizLocation, &rec.biz_location),
        ids: ids_roles(),
        org: rec.org.as_str(),
        org_name,
        readings: if rule.publishes(F::Readings) {
            &sensor.readings
        } else {
            &[]
        },
        allowed_range: sensor
            .allowed_range
            .as_ref()
            .filter(|_| rule.publishes(F::AllowedRange)),
        source: rec.hash_id(),
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
