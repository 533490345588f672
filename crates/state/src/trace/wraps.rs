//! Sealed fields after capture (docs/PRIVACY.md): who may be a recipient (the rule
//! the capture contract and re-wrapping share), recipients added later by re-wrapping
//! a field's data key ([`AddSealWraps`]), and complaints of wraps that do not open
//! ([`ComplainSealWrap`]).
//!
//! A sealed field is found by its record id (the event's eventID; the event of the
//! organization that first captured under it) and its pointer. Added wraps are kept
//! beside the event, not in it — the event stays exactly as captured, with its Event
//! Hash ID: `SEAL_WRAP ‖ record ‖ 0x00 ‖ field ‖ 0x00 ‖ org` → [`AddedWrap`]. A
//! complaint is `SEAL_COMPLAINT ‖ record ‖ 0x00 ‖ field ‖ 0x00 ‖ org` →
//! [`WrapComplaint`]; a later wrap for that organization settles it (the record
//! stays, marked settled).

use std::collections::{BTreeMap, BTreeSet};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use serde_json::Value;
use waybill_types::payload::{AddSealWraps, ComplainSealWrap};
use waybill_types::reject::RejectCode;
use waybill_types::seal::{KeyRef, Sealed, SealedField, Wrap};
use waybill_types::{DataCategory, Height, OrgId, PublicKey};

use super::{load_event, EventRecord};
use crate::exec::{decode_record, encode_record, Execution, StateRead, StateReadError};
use crate::exec::{Call, Contract, HandlerError, Rejection, Writes};
use crate::identity::{active_signer, load_org};
use crate::keys;
use crate::parties::{is_party_to_event, named_in, PartyResolver};

/// The record a sealed field belongs to, as the recipient rule sees it.
pub struct SealedRecord<'r> {
    /// The capturing organization.
    pub capturer: &'r OrgId,
    /// GLN-bearing identifiers it names ([`named_in`]).
    pub named: Vec<&'r str>,
    /// The identifiers it names.
    pub ids: Vec<&'r str>,
}

/// The recipient rule: one message (prefixed `here`) for each of `orgs` that may not
/// be a recipient of a field of `category` in `rec` — a recipient is the capturer's
/// organization, a regulator, or a party to the record whose roles (or a grant from
/// the capturer) read the category — and, with `all_regulators`, for each regulator
/// `orgs` leaves out. Organizations that are not members are left to the key check.
pub fn recipient_problems<S: StateRead + ?Sized>(
    state: &S,
    resolver: &mut PartyResolver,
    rec: &SealedRecord<'_>,
    category: DataCategory,
    orgs: &BTreeSet<&OrgId>,
    all_regulators: bool,
    here: &str,
) -> Result<Vec<String>, StateReadError> {
    let mut problems = Vec::new();
    let regulators = resolver.regulators(state)?;
    if all_regulators {
        for r in regulators.iter().filter(|r| !orgs.contains(r)) {
            problems.push(format!(
                "{here}: not sealed for regulator `{r}`; every regulator is a recipient of sealed data"
            ));
        }
    }
    let named = resolver.event_parties(state, rec.capturer, rec.named.iter().copied())?;
    for &org in orgs {
        if org == rec.capturer || regulators.contains(org) {
            continue;
        }
        let Some(o) = load_org(state, org)? else {
            continue;
        };
        let party = named.contains(org)
            || is_party_to_event(state, rec.capturer, rec.ids.iter().copied(), org)?;
        if !party {
            problems.push(format!(
                "{here}: sealed for `{org}`, which is not a party to this event (not named in its locations, sources or destinations, nor a party to what it names)"
            ));
        } else if !crate::access::org_may_read(state, &o, rec.capturer, category)? {
            problems.push(format!(
                "{here}: sealed for `{org}`, whose roles do not read {} data (and `{}` granted it none)",
                category.name(),
                rec.capturer
            ));
        }
    }
    Ok(problems)
}

pub use crate::privacy::key_version_problems;

/// A wrap added after capture.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct AddedWrap {
    /// The wrap (its organization inside).
    pub wrap: Wrap,
    /// The organization whose member added it.
    pub by: OrgId,
    /// The member.
    pub signer: PublicKey,
    /// The height it was added at.
    pub height: Height,
}

/// A recipient's complaint that its wrap does not open.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct WrapComplaint {
    /// The complaining organization.
    pub org: OrgId,
    /// The member who filed it.
    pub signer: PublicKey,
    /// Why.
    pub reason: String,
    /// The height it was filed at.
    pub height: Height,
    /// The height a new wrap for the organization settled it, if one has.
    pub settled_at: Option<Height>,
}

impl WrapComplaint {
    /// Still waiting for a new wrap.
    pub fn is_open(&self) -> bool {
        self.settled_at.is_none()
    }
}

/// What is recorded about one sealed field after capture.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldAfterCapture {
    /// Wraps added, by organization.
    pub added_wraps: Vec<AddedWrap>,
    /// Complaints, by organization.
    pub complaints: Vec<WrapComplaint>,
}

impl FieldAfterCapture {
    /// Flagged: a complaint waits for a new wrap.
    pub fn flagged(&self) -> bool {
        self.complaints.iter().any(WrapComplaint::is_open)
    }
}

/// What holds a sealed field: an event (found by its eventID), or an order (its
/// delivery address at `/ship_to`, found by the order's URN).
#[derive(Clone, Debug)]
pub enum SealedHome {
    /// The event of the organization that first captured under the eventID.
    Event(EventRecord),
    /// The order.
    Order(Box<crate::orders::Order>),
}

impl SealedHome {
    /// The organization that recorded the field, which erases it on its subject's
    /// request: the event's capturer; for an order, the platform the buyer bought on
    /// (the seller, for direct trade).
    pub fn recorder(&self) -> &OrgId {
        match self {
            SealedHome::Event(rec) => &rec.org,
            SealedHome::Order(o) => o.platform.as_ref().unwrap_or(&o.seller),
        }
    }
}

/// The sealed field at `field` of the event holding `record` (its first capturer's,
/// not an error declaration), with the event, if it is whole (not detached).
pub fn find_sealed<S: StateRead + ?Sized>(
    state: &S,
    record: &str,
    field: &str,
) -> Result<Option<(SealedHome, Sealed)>, StateReadError> {
    Ok(match find_sealed_field(state, record, field)? {
        Some((home, SealedField::Inline(s))) => Some((home, s)),
        _ => None,
    })
}

/// The sealed field at `field` of `record`, whole or detached, with what holds it:
/// the event captured under that eventID (its first capturer's, not an error
/// declaration), or the order of that URN (`urn:waybill:order:<buyer>:<id>`, its
/// address at `/ship_to`).
pub fn find_sealed_field<S: StateRead + ?Sized>(
    state: &S,
    record: &str,
    field: &str,
) -> Result<Option<(SealedHome, SealedField)>, StateReadError> {
    // An order's address; else (no such order or field) an event captured under that
    // id, whatever it looks like.
    if let Some((buyer, id)) = crate::orders::parse_order_urn(record) {
        if let Some(o) = crate::orders::load_order(state, &buyer, &id)? {
            let found = match (&o.ship_to, field) {
                (Some(text), "/ship_to") => serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| SealedField::from_json(&v, record, field)),
                _ => None,
            };
            if let Some(Ok(s)) = found {
                return Ok(Some((SealedHome::Order(Box::new(o)), s)));
            }
        }
    }
    let k = keys::event_id(record);
    let seqs: Vec<u64> = match state.get(&k)? {
        Some(b) => decode_record(&k, &b)?,
        None => return Ok(None),
    };
    for seq in seqs {
        let Some(rec) = load_event(state, seq)? else {
            continue;
        };
        if rec.error_declaration {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(&rec.json) else {
            return Ok(None);
        };
        let found = v
            .pointer(field)
            .and_then(|slot| SealedField::from_json(slot, record, field));
        return Ok(match found {
            Some(Ok(s)) => Some((SealedHome::Event(rec), s)),
            _ => None,
        });
    }
    Ok(None)
}

/// The wraps added to, and complaints about, one sealed field.
pub fn field_after_capture<S: crate::exec::StateScan + ?Sized>(
    state: &S,
    record: &str,
    field: &str,
) -> Result<FieldAfterCapture, StateReadError> {
    let mut out = FieldAfterCapture::default();
    let prefix = keys::seal_wrap(record, field, None);
    for (k, v) in state.scan_from(&prefix, &prefix, usize::MAX)? {
        out.added_wraps.push(decode_record(&k, &v)?);
    }
    let prefix = keys::seal_complaint(record, field, None);
    for (k, v) in state.scan_from(&prefix, &prefix, usize::MAX)? {
        out.complaints.push(decode_record(&k, &v)?);
    }
    Ok(out)
}

fn load_added<S: StateRead + ?Sized>(
    state: &S,
    record: &str,
    field: &str,
    org: &OrgId,
) -> Result<Option<AddedWrap>, StateReadError> {
    let k = keys::seal_wrap(record, field, Some(org));
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

fn load_complaint<S: StateRead + ?Sized>(
    state: &S,
    record: &str,
    field: &str,
    org: &OrgId,
) -> Result<Option<WrapComplaint>, StateReadError> {
    let k = keys::seal_complaint(record, field, Some(org));
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// Is `org` a recipient of the field: wrapped for at capture, or added since?
fn is_recipient<S: StateRead + ?Sized>(
    state: &S,
    sealed: &SealedField,
    org: &OrgId,
) -> Result<bool, StateReadError> {
    Ok(sealed.recipients().iter().any(|r| &r.org == org)
        || load_added(state, sealed.record(), sealed.field(), org)?.is_some())
}

/// The field's recipient organizations now: those it was sealed for at capture, then
/// those added since (`add_seal_wraps`), each once.
pub fn recipient_orgs<S: crate::exec::StateScan + ?Sized>(
    state: &S,
    sealed: &SealedField,
) -> Result<Vec<OrgId>, StateReadError> {
    let mut orgs: Vec<OrgId> = sealed.recipients().into_iter().map(|r| r.org).collect();
    for a in field_after_capture(state, sealed.record(), sealed.field())?.added_wraps {
        if !orgs.contains(&a.wrap.org) {
            orgs.push(a.wrap.org);
        }
    }
    Ok(orgs)
}

/// The sealed field a payload names (inline or erasable), or `sealed_field` saying
/// there is none. An erasable field's added wraps are on the chain like an inline
/// one's: a wrap without the purged private part opens nothing.
fn sealed_named<S: StateRead>(
    ex: &Execution<S>,
    record: &str,
    field: &str,
) -> Result<(SealedHome, SealedField), HandlerError> {
    match find_sealed_field(ex, record, field)? {
        Some(found) => Ok(found),
        None => Err(Rejection::new(
            RejectCode::SealedField,
            format!("no sealed field {field} in a record {record} (an event captured with that eventID, or an order's URN with /ship_to)"),
        )
        .into()),
    }
}

/// The open complaints of the organizations `wraps` are for, by organization.
fn open_complaints<S: StateRead + ?Sized>(
    state: &S,
    sealed: &SealedField,
    wraps: &[Wrap],
) -> Result<BTreeMap<OrgId, WrapComplaint>, StateReadError> {
    let mut out = BTreeMap::new();
    for w in wraps {
        if let Some(c) = load_complaint(state, sealed.record(), sealed.field(), &w.org)? {
            if c.is_open() {
                out.insert(w.org.clone(), c);
            }
        }
    }
    Ok(out)
}

/// Why `wraps` may not be added to `sealed` (a field of `rec`): an organization that
/// is a recipient already (and has no open complaint), a key version that is not
/// current, an organization the recipient rule does not allow.
fn new_wrap_problems<S: StateRead>(
    ex: &Execution<S>,
    home: &SealedHome,
    sealed: &SealedField,
    wraps: &[Wrap],
    complaints: &BTreeMap<OrgId, WrapComplaint>,
) -> Result<Vec<String>, StateReadError> {
    let (record, field) = (sealed.record(), sealed.field());
    let here = format!("{record} {field}");
    let mut problems = Vec::new();
    if ex.get(&keys::seal_erased(record, field))?.is_some() {
        problems.push(format!(
            "{here}: the field was erased; its private part is purged, so a new wrap would open nothing"
        ));
    }
    for w in wraps {
        if is_recipient(ex, sealed, &w.org)? && !complaints.contains_key(&w.org) {
            problems.push(format!(
                "{here}: `{}` is a recipient already (a recipient with a wrap that does not open complains first)",
                w.org
            ));
        }
    }
    let refs: Vec<KeyRef> = wraps
        .iter()
        .map(|w| KeyRef {
            org: w.org.clone(),
            kv: w.kv,
        })
        .collect();
    problems.extend(key_version_problems(ex, &refs, &here)?);
    let orgs: BTreeSet<&OrgId> = wraps.iter().map(|w| &w.org).collect();
    let rec = match home {
        SealedHome::Event(rec) => rec,
        SealedHome::Order(o) => {
            // An order's address is for its parties and regulators only.
            let regulators = PartyResolver::new().regulators(ex)?;
            let parties = o.parties();
            for org in orgs {
                if !parties.contains(&org) && !regulators.contains(org) {
                    problems.push(format!(
                        "{here}: `{org}` is no party to the order (its seller, platform, carrier or buying organization) nor a regulator"
                    ));
                }
            }
            return Ok(problems);
        }
    };
    let view = SealedRecord {
        capturer: &rec.org,
        named: named_in(
            rec.read_point.as_deref(),
            rec.biz_location.as_deref(),
            &rec.sources,
            &rec.destinations,
        )
        .collect(),
        ids: rec.ids.iter().map(|(_, id)| id.as_str()).collect(),
    };
    problems.extend(recipient_problems(
        ex,
        &mut PartyResolver::new(),
        &view,
        sealed.category(),
        &orgs,
        false,
        &here,
    )?);
    Ok(problems)
}

/// A recipient adds recipients.
impl Contract for AddSealWraps {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let member = active_signer(ex, call.signer)?;
        let (home, sealed) = sealed_named(ex, &self.record, &self.field)?;
        if !is_recipient(ex, &sealed, &member.org)? {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!(
                    "`{}` is not a recipient of {} in {}; only a recipient holds the data key to wrap",
                    member.org, self.field, self.record
                ),
            )
            .into());
        }
        let mut complaints = open_complaints(ex, &sealed, &self.wraps)?;
        let problems = new_wrap_problems(ex, &home, &sealed, &self.wraps, &complaints)?;
        if !problems.is_empty() {
            return Err(Rejection::new(RejectCode::SealedField, problems.join("; ")).into());
        }
        let height = ex.context().height;
        let mut writes = Vec::new();
        for w in &self.wraps {
            writes.push((
                keys::seal_wrap(&self.record, &self.field, Some(&w.org)),
                encode_record(&AddedWrap {
                    wrap: w.clone(),
                    by: member.org.clone(),
                    signer: call.signer,
                    height,
                }),
            ));
            if let Some(mut c) = complaints.remove(&w.org) {
                c.settled_at = Some(height);
                writes.push((
                    keys::seal_complaint(&self.record, &self.field, Some(&w.org)),
                    encode_record(&c),
                ));
            }
        }
        Ok(writes)
    }

    fn describe(&self) -> String {
        let orgs: Vec<&str> = self.wraps.iter().map(|w| w.org.as_str()).collect();
        format!(
            "wrapped {} of {} for {}",
            self.field,
            self.record,
            orgs.join(", ")
        )
    }
}

/// A recipient complains that its wrap does not open.
impl Contract for ComplainSealWrap {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let member = active_signer(ex, call.signer)?;
        let (_, sealed) = sealed_named(ex, &self.record, &self.field)?;
        if !is_recipient(ex, &sealed, &member.org)? {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!(
                    "`{}` is not a recipient of {} in {}; it has no wrap to complain of",
                    member.org, self.field, self.record
                ),
            )
            .into());
        }
        if load_complaint(ex, &self.record, &self.field, &member.org)?.is_some_and(|c| c.is_open())
        {
            return Err(Rejection::new(
                RejectCode::Duplicate,
                format!(
                    "`{}` has complained of {} in {} already; it waits for a new wrap",
                    member.org, self.field, self.record
                ),
            )
            .into());
        }
        Ok(vec![(
            keys::seal_complaint(&self.record, &self.field, Some(&member.org)),
            encode_record(&WrapComplaint {
                org: member.org.clone(),
                signer: call.signer,
                reason: self.reason.clone(),
                height: ex.context().height,
                settled_at: None,
            }),
        )])
    }

    fn describe(&self) -> String {
        format!(
            "complained that its wrap of {} in {} does not open",
            self.field, self.record
        )
    }
}
