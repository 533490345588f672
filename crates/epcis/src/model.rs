//! What the ledger indexes of an EPCIS event: its type, time, business step and
//! disposition, where, the identifiers it names and in which role, business
//! transactions, sources and destinations, and whether it declares an error.
//!
//! Identifiers are canonicalised ([`crate::epc::parse`]) so that an EPC URN and the
//! Digital Link of the same object meet in one index entry.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{cbv, epc};

/// How an identifier appears in an event.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum IdRole {
    /// In `epcList`.
    Epc = 0,
    /// The `parentID`.
    Parent = 1,
    /// In `childEPCs`.
    Child = 2,
    /// In `inputEPCList`.
    Input = 3,
    /// In `outputEPCList`.
    Output = 4,
    /// A class in `quantityList`.
    Quantity = 5,
    /// A class in `childQuantityList`.
    ChildQuantity = 6,
    /// A class in `inputQuantityList`.
    InputQuantity = 7,
    /// A class in `outputQuantityList`.
    OutputQuantity = 8,
    /// The lot that the event's ILMD assigns to the objects it commissions.
    IlmdLot = 9,
}

impl IdRole {
    /// From its byte.
    pub fn from_u8(b: u8) -> Option<IdRole> {
        use IdRole::*;
        Some(match b {
            0 => Epc,
            1 => Parent,
            2 => Child,
            3 => Input,
            4 => Output,
            5 => Quantity,
            6 => ChildQuantity,
            7 => InputQuantity,
            8 => OutputQuantity,
            9 => IlmdLot,
            _ => return None,
        })
    }
}

/// The indexed facts of one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct EventSummary {
    /// `ObjectEvent`, `AggregationEvent`, `TransactionEvent`, `TransformationEvent` or
    /// `AssociationEvent`.
    pub event_type: String,
    /// `ADD`, `OBSERVE` or `DELETE` (none for transformations).
    pub action: Option<String>,
    /// eventTime in ms since the Unix epoch (UTC).
    pub event_time_ms: i64,
    /// The eventTime as written.
    pub event_time: String,
    /// The declared eventID, if any.
    pub event_id: Option<String>,
    /// The business step: the bare CBV word if it is one, else the URI as written.
    pub biz_step: Option<String>,
    /// The disposition: the bare CBV word if it is one, else the URI.
    pub disposition: Option<String>,
    /// readPoint id, canonical.
    pub read_point: Option<String>,
    /// bizLocation id, canonical.
    pub biz_location: Option<String>,
    /// The GLN of the bizLocation, if it is a GS1 location.
    pub biz_location_gln: Option<String>,
    /// Identifiers named, canonical, with their role.
    pub ids: Vec<(IdRole, String)>,
    /// Business transactions: (type as bare CBV word or URI, or empty; id).
    pub biz_transactions: Vec<(String, String)>,
    /// Sources: (type, id).
    pub sources: Vec<(String, String)>,
    /// Destinations: (type, id).
    pub destinations: Vec<(String, String)>,
    /// Whether the event declares an earlier event (same eventID) erroneous.
    pub error_declaration: bool,
}

/// An identifier in an event could not be understood.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{pointer}: {message}")]
pub struct ModelError {
    /// JSON pointer of the field.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

fn canon(v: &str, pointer: String) -> Result<String, ModelError> {
    epc::parse(v).map(|i| i.canonical).map_err(|e| ModelError {
        pointer,
        message: e.to_string(),
    })
}

fn str_at<'a>(e: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    e.get(k).and_then(Value::as_str)
}

/// The canonical identifier of lot `lot` of the 14-digit GTIN `gtin`: the same string
/// [`epc::parse`] gives for its LGTIN or Digital Link, so that a lot assigned by an ILMD
/// `lotNumber` and the same lot named as a class meet in one index entry. A lot
/// number that is not a valid GS1 lot is kept percent-encoded.
pub fn lot_identifier(gtin: &str, lot: &str) -> String {
    let dl = format!(
        "{}/01/{gtin}/10/{}",
        epc::CANONICAL_DL_BASE,
        waybill_gs1::digital_link::uri_escape(lot, waybill_gs1::digital_link::UriComponent::Path)
    );
    epc::parse(&dl).map(|i| i.canonical).unwrap_or(dl)
}

/// Summarise a (validated) event at JSON pointer `ptr`.
pub fn summarize(e: &Map<String, Value>, ptr: &str) -> Result<EventSummary, ModelError> {
    let event_type = str_at(e, "type").unwrap_or_default().to_string();
    let event_time = str_at(e, "eventTime").unwrap_or_default().to_string();
    let event_time_ms = crate::time::parse_ms(&event_time).ok_or_else(|| ModelError {
        pointer: format!("{ptr}/eventTime"),
        message: format!("`{event_time}` is not a date-time with a time zone"),
    })?;
    let mut ids = Vec::new();
    let lists = [
        ("epcList", IdRole::Epc),
        ("childEPCs", IdRole::Child),
        ("inputEPCList", IdRole::Input),
        ("outputEPCList", IdRole::Output),
    ];
    for (field, role) in lists {
        if let Some(Value::Array(a)) = e.get(field) {
            for (i, v) in a.iter().enumerate() {
                if let Some(s) = v.as_str() {
                    ids.push((role, canon(s, format!("{ptr}/{field}/{i}"))?));
                }
            }
        }
    }
    if let Some(p) = str_at(e, "parentID") {
        ids.push((IdRole::Parent, canon(p, format!("{ptr}/parentID"))?));
    }
    let qlists = [
        ("quantityList", IdRole::Quantity),
        ("childQuantityList", IdRole::ChildQuantity),
        ("inputQuantityList", IdRole::InputQuantity),
        ("outputQuantityList", IdRole::OutputQuantity),
    ];
    for (field, role) in qlists {
        if let Some(Value::Array(a)) = e.get(field) {
            for (i, q) in a.iter().enumerate() {
                if let Some(c) = q.get("epcClass").and_then(Value::as_str) {
                    ids.push((role, canon(c, format!("{ptr}/{field}/{i}/epcClass"))?));
                }
            }
        }
    }
    // The lot that commissioning assigns: ILMD lotNumber on serialised GTINs.
    if let Some(Value::Object(ilmd)) = e.get("ilmd") {
        let lot = ilmd.iter().find_map(|(k, v)| {
            let local = k.rsplit([':', '#', '/', '-']).next().unwrap_or(k);
            (local == "lotNumber").then(|| v.as_str()).flatten()
        });
        if let Some(lot) = lot {
            let mut lots = Vec::new();
            for (role, id) in &ids {
                if matches!(role, IdRole::Epc | IdRole::Output) {
                    if let Ok(ident) = epc::parse(id) {
                        if let Some(g) = ident.gtin() {
                            let l = lot_identifier(g, lot);
                            if !lots.contains(&l) {
                                lots.push(l);
                            }
                        }
                    }
                }
            }
            ids.extend(lots.into_iter().map(|l| (IdRole::IlmdLot, l)));
        }
    }
    let read_point = match e
        .get("readPoint")
        .and_then(|r| r.get("id"))
        .and_then(Value::as_str)
    {
        Some(s) => Some(canon(s, format!("{ptr}/readPoint/id"))?),
        None => None,
    };
    let (biz_location, biz_location_gln) = match e
        .get("bizLocation")
        .and_then(|r| r.get("id"))
        .and_then(Value::as_str)
    {
        Some(s) => {
            let ident = epc::parse(s).map_err(|err| ModelError {
                pointer: format!("{ptr}/bizLocation/id"),
                message: err.to_string(),
            })?;
            let gln = ident.gln().map(str::to_string);
            (Some(ident.canonical), gln)
        }
        None => (None, None),
    };
    let pairs = |field: &str, id_key: &str, norm: fn(&str) -> Option<&'static str>| {
        let mut out = Vec::new();
        if let Some(Value::Array(a)) = e.get(field) {
            for x in a {
                let id = x.get(id_key).and_then(Value::as_str).unwrap_or_default();
                let ty = x.get("type").and_then(Value::as_str).unwrap_or_default();
                let ty = norm(ty)
                    .map(str::to_string)
                    .unwrap_or_else(|| ty.to_string());
                let id = epc::parse(id)
                    .map(|i| i.canonical)
                    .unwrap_or_else(|_| id.to_string());
                out.push((ty, id));
            }
        }
        out
    };
    let biz_transactions = pairs(
        "bizTransactionList",
        "bizTransaction",
        cbv::biz_transaction_type,
    );
    let sources = pairs("sourceList", "source", cbv::source_dest_type);
    let destinations = pairs("destinationList", "destination", cbv::source_dest_type);
    let vocab = |k: &str, norm: fn(&str) -> Option<&'static str>| {
        str_at(e, k).map(|s| norm(s).map(str::to_string).unwrap_or_else(|| s.to_string()))
    };
    Ok(EventSummary {
        event_type,
        action: str_at(e, "action").map(str::to_string),
        event_time_ms,
        event_time,
        event_id: str_at(e, "eventID").map(str::to_string),
        biz_step: vocab("bizStep", cbv::bizstep),
        disposition: vocab("disposition", cbv::disposition),
        read_point,
        biz_location,
        biz_location_gln,
        ids,
        biz_transactions,
        sources,
        destinations,
        error_declaration: e.get("errorDeclaration").is_some(),
    })
}
