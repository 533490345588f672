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

pub mod capture;
pub mod erasure;
pub mod lineage;
pub mod wraps;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use serde_json::Value;
use waybill_epcis::model::IdRole;
use waybill_types::{DataCategory, Height, OrgId, PublicKey, Role, TxId};

use crate::access::may_write;
use crate::exec::{decode_record, StateRead, StateReadError, StateScan};
use crate::keys;

/// A stored event: its indexed facts, who captured it, and its JSON as captured.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct EventRecord {
    /// Capture order, from 1.
    pub seq: u64,
    /// EPCIS Event Hash ID digest (SHA-256 of the canonical pre-hash string).
    #[serde(serialize_with = "ser_hex")]
    #[schemars(with = "waybill_types::Hash")]
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
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
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
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct CapturedEvent {
    /// The stored event's seq (the earlier one for a duplicate).
    pub seq: u64,
    /// Re-sent: the same event (same Event Hash ID) was already stored.
    pub duplicate: bool,
    /// Its Event Hash ID.
    pub hash_id: String,
}

/// May `reader` read the consortium record `rec`? Scoped by relationship as well as
/// role (docs/PRIVACY.md, "Who reads what"):
/// - its own organization's records, always;
/// - a record whose capturer granted the reader's organization its category;
/// - otherwise, only if one of the reader's roles reads the category (regulators
///   read every category), and the reader's organization is a regulator or customs
///   authority, or a party to the record ([`crate::parties`]: its capturer, a party
///   to an identifier it names, the owner of its product) — or, with `holds`, the
///   record lies on the custody chain of something the organization holds (a walk
///   back from an identifier it is a party to: the history of what it received).
///
/// A competitor of the same role that never held the goods reads nothing.
pub fn may_read_event<S: StateRead + ?Sized>(
    state: &S,
    reader: &crate::identity::Member,
    rec: &EventRecord,
    holds: bool,
) -> Result<bool, StateReadError> {
    if !reader.is_active() {
        return Ok(false);
    }
    if reader.org == rec.org || crate::access::granted(state, &rec.org, &reader.org, rec.category)?
    {
        return Ok(true);
    }
    if !reader
        .roles
        .iter()
        .any(|r| crate::access::may_read(*r, rec.category))
    {
        return Ok(false);
    }
    if holds
        || reader
            .roles
            .iter()
            .any(|r| matches!(r, Role::Regulator | Role::Customs))
    {
        return Ok(true);
    }
    crate::parties::is_party_to_event(
        state,
        &rec.org,
        rec.ids.iter().map(|(_, id)| id.as_str()),
        &reader.org,
    )
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
pub(crate) fn named_digest(event_id: &str) -> Option<[u8; 32]> {
    let hex_digest = event_id
        .strip_prefix("ni:///sha-256;")
        .and_then(|r| r.split('?').next())?;
    <[u8; 32]>::try_from(hex::decode(hex_digest).ok()?.as_slice()).ok()
}

/// The events that name `canonical_id`, with the role it has in each, in capture
/// order (at most `max`). Read from the derived identifier → events index
/// ([`crate::index`]): pass a state that serves it (a store snapshot, or an
/// [`crate::index::ReadView`]).
pub fn events_naming<S: StateScan + ?Sized>(
    state: &S,
    canonical_id: &str,
    max: usize,
) -> Result<Vec<(u64, IdRole)>, StateReadError> {
    let prefix = keys::events_of(canonical_id);
    let mut out = Vec::new();
    if max == 0 {
        return Ok(out);
    }
    crate::index::visit_entries(state, &prefix, 9, 0, |_, e| {
        let corrupt = |reason: &str| StateReadError::Corrupt {
            key: prefix.clone(),
            reason: reason.into(),
        };
        let seq = u64::from_be_bytes(e[..8].try_into().map_err(|_| corrupt("seq"))?);
        let role = IdRole::from_u8(e[8]).ok_or_else(|| corrupt("unknown identifier role"))?;
        out.push((seq, role));
        Ok(out.len() < max)
    })?;
    Ok(out)
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
