//! The EPCIS Event Hash ID (CBV 2.0 §8.9): a canonical pre-hash string of an event,
//! hashed with SHA-256 and written `ni:///sha-256;<hex>?ver=CBV2.0`.
//!
//! The pre-hash string is `eventType=…` followed by the event's fields in the canonical
//! property order, each as `name=value` (a parent contributes its name, then its
//! children), without separators:
//!
//! 1. `eventTime`, `eventTimeZoneOffset`, `certificationInfo`, `epcList`, `parentID`,
//!    `inputEPCList`, `childEPCs`, `quantityList`, `childQuantityList`,
//!    `inputQuantityList`, `outputEPCList`, `outputQuantityList`, `action`,
//!    `transformationID`, `bizStep`, `disposition`, `persistentDisposition` (`set`,
//!    `unset`), `readPoint` (`id`), `bizLocation` (`id`), `sensorElementList`
//!    (`sensorElement`: `sensorMetadata`, then its `sensorReport`s);
//! 2. then `bizTransactionList`, `sourceList`, `destinationList`, `ilmd` and the user
//!    extensions, each rendered as a string and all of them sorted together. This is
//!    where the reference implementation that produced the published test vectors
//!    differs from the property table of the algorithm notes (which puts these lists
//!    before `sensorElementList` and `sourceList` before `destinationList`); the vectors
//!    are followed.
//!
//! Values are canonicalised: surrounding whitespace trimmed; compact IRIs expanded with
//! the [`Namespaces`] in force; `urn:epcglobal:cbv:{bizstep,disp,btt,sdt,er}:x` written
//! as CBV web URIs; bare CBV words expanded by field (`bizStep` → `BizStep-x`,
//! `disposition`/`set`/`unset` → `Disp-x`, business transaction type → `BTT-x`,
//! source/destination type → `SDT-x`, sensor `component` → `Comp-x`, all under
//! `https://ref.gs1.org/cbv/`; sensor `type` and `exception` under
//! `https://gs1.org/voc/`); JSON numbers in their exact decimal form (plain notation,
//! no exponent, no `+`, no leading or trailing zeros: `4.520e2` → `452`, and
//! `340123450000000000017` as it is, beyond what a `u64` or an `f64` holds); booleans
//! as `true`/`false`; a string stays a string, even one that looks like a number
//! (`"0042"`, `"340123450000000017"` are hashed as written, trimmed); GS1 identifiers as
//! constrained canonical
//! GS1 Digital Link URIs ([`crate::epc`]); timestamps of `eventTime` and the sensor
//! `time`/`startTime`/`endTime` in UTC with milliseconds, rounded half up. Lists are
//! sorted by the strings of their members; a business transaction, source or
//! destination renders `type=…` before its value.
//!
//! User extensions render as `{namespace}local=value` (a nested object as
//! `{namespace}local` followed by its sorted children; an array as one entry per
//! member); those at event level are sorted into the tail above, those inside
//! `readPoint`, `bizLocation`, `sensorElement`, `sensorMetadata` and `sensorReport` go
//! sorted after their parent's standard fields, and `ilmd` holds only such entries.
//! A null value counts as absent; an empty string or object leaves just the name.
//!
//! A sealed field (Waybill's extension, docs/PRIVACY.md: an object whose only member is
//! `wb:sealed`, holding a 64-hex-digit `commitment`) is hashed as if its value were that
//! commitment — `{namespace}local=<hex>` — so an event's Event Hash ID commits to its
//! sealed values through their salted commitments and does not depend on the
//! ciphertext, nonces or recipients. Re-sealing the same value (a fresh salt) gives a
//! new ID; dedupe of sealed events is by this ID and by the eventID every sealed event
//! carries.
//!
//! Not hashed: `type` (written as `eventType`), `eventID`, `recordTime`,
//! `errorDeclaration`, JSON-LD keywords (`@context`, …) and comments (`comment`,
//! `rdfs:comment`); and the user extension fields a document lists in its
//! `ignoreFields` (a document-level key of that local name in any namespace, as in the
//! published vector `epcisDocHavingEventWithIgnoreFields`). `ignoreFields` never removes
//! a standard EPCIS field (`epcList`, `ilmd`, `bizTransactionList`, …).
//!
//! Numbers are only exact when the JSON text is read here: [`ExactDocument`] (and
//! [`json::parse`]) keep each number's text, while the functions that take a
//! `serde_json` value hash the number that value holds (a `u64`, `i64` or the `f64`
//! nearest to what was written). The ledger hashes from the text.
//!
//! Identifiers in `epcList`, `inputEPCList`, `outputEPCList`, `childEPCs`, `parentID`,
//! `epcClass`, `readPoint`/`bizLocation` `id`, `source` and `destination` that look like
//! GS1 identifiers but are malformed (for example a wrong check digit) make the hash an
//! error; anywhere else such a value is hashed as written.

pub mod json;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::context::Namespaces;
use crate::epc::{self, EpcError};
use json::{Json, JsonError, JsonObject};

/// The CBV version that names this algorithm in the hash ID.
pub const HASH_ID_VERSION: &str = "CBV2.0";

/// How deeply user extension elements may nest before the event is rejected.
pub const EXTENSION_DEPTH_MAX: usize = 32;

/// The most zeros the exact decimal form of a number may add to the digits written
/// (`1e400` needs 400; every finite `f64` needs fewer than 330).
pub const DECIMAL_ZEROS_MAX: usize = 400;

/// Why no Event Hash ID could be computed for an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashIdError {
    /// The event has no `type` string naming its event type.
    #[error("event has no \"type\" string; it must name the event type, e.g. \"ObjectEvent\"")]
    MissingType,
    /// A field holds a JSON value of the wrong kind.
    #[error("{path}: expected {expected}, found {found}")]
    UnexpectedValue {
        /// Where in the event, e.g. `epcList[2]`.
        path: String,
        /// What the field must hold.
        expected: &'static str,
        /// What it holds.
        found: &'static str,
    },
    /// A malformed GS1 identifier in an identifier field.
    #[error("{path}: {source}")]
    Identifier {
        /// Where in the event.
        path: String,
        /// What is wrong with the identifier.
        source: EpcError,
    },
    /// A timestamp that is not an RFC 3339 / `xsd:dateTimeStamp` date-time with offset.
    #[error("{path}: timestamp {value:?} {problem}")]
    Timestamp {
        /// Where in the event.
        path: String,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A number whose exact decimal form needs more than [`DECIMAL_ZEROS_MAX`] zeros.
    #[error("{path}: number {literal} is too far from 1 to write out exactly (more than {max} zeros); write it as a string")]
    NumberTooLong {
        /// Where in the event.
        path: String,
        /// The number as written (at most 40 characters of it).
        literal: String,
        /// [`DECIMAL_ZEROS_MAX`].
        max: usize,
    },
    /// User extensions nested deeper than [`EXTENSION_DEPTH_MAX`].
    #[error("{path}: user extensions nest deeper than {max} levels")]
    TooDeep {
        /// Where in the event.
        path: String,
        /// [`EXTENSION_DEPTH_MAX`].
        max: usize,
    },
}

/// The canonical pre-hash string of `event` under the namespaces `ns` (merged with the
/// event's own `@context`, if any). Numbers are those `event` holds; see
/// [`ExactDocument`] for numbers exactly as written.
pub fn pre_hash_string(event: &Map<String, Value>, ns: &Namespaces) -> Result<String, HashIdError> {
    pre_hash_string_ignoring(event, ns, &[])
}

/// As [`pre_hash_string`], leaving out the user extension fields named in `ignored`,
/// each either exactly as the event's key is written or as the full IRI it expands to
/// (see [`declared_ignore_fields`]).
pub fn pre_hash_string_ignoring(
    event: &Map<String, Value>,
    ns: &Namespaces,
    ignored: &[String],
) -> Result<String, HashIdError> {
    exact_pre_hash_string(&JsonObject::from(event), ns, ignored)
}

/// The canonical pre-hash string of an event read with [`json::parse`] (numbers exactly
/// as written), under the document's namespaces `ns` (merged with the event's own
/// `@context`), leaving out the user extension fields named in `ignored`.
pub fn exact_pre_hash_string(
    event: &JsonObject,
    ns: &Namespaces,
    ignored: &[String],
) -> Result<String, HashIdError> {
    let ns = match event.get("@context") {
        Some(context) => ns.with_context(&context.to_value()),
        None => ns.clone(),
    };
    Renderer { ns: &ns }.event(event, ignored)
}

/// The SHA-256 digest of the event's pre-hash string.
pub fn hash_digest(event: &Map<String, Value>, ns: &Namespaces) -> Result<[u8; 32], HashIdError> {
    Ok(digest_of_pre_hash(&pre_hash_string(event, ns)?))
}

/// The EPCIS Event Hash ID of `event`: `ni:///sha-256;<hex>?ver=CBV2.0`.
pub fn event_hash_id(event: &Map<String, Value>, ns: &Namespaces) -> Result<String, HashIdError> {
    Ok(hash_id_of_pre_hash(&pre_hash_string(event, ns)?))
}

/// An EPCIS document (`EPCISDocument` or `EPCISQueryDocument`) read from its JSON text
/// for hashing its events: numbers exactly as written, the document's `@context`
/// prefixes and its `ignoreFields` in force. This is how the ledger hashes.
#[derive(Debug, Clone)]
pub struct ExactDocument {
    root: Json,
    ns: Namespaces,
    ignored: Vec<String>,
}

/// Where an EPCIS document keeps its events (RFC 6901 pointers), in the order looked at.
pub const EVENT_LIST_POINTERS: [&str; 2] = [
    "/epcisBody/eventList",
    "/epcisBody/queryResults/resultsBody/eventList",
];

impl ExactDocument {
    /// Read a document from its JSON text.
    pub fn parse(text: &str) -> Result<ExactDocument, JsonError> {
        let root = json::parse(text)?;
        let ns = Namespaces::from_context(
            &root
                .as_object()
                .and_then(|m| m.get("@context"))
                .map(Json::to_value)
                .unwrap_or(Value::Null),
        );
        let ignored = match &root {
            Json::Object(map) => exact_ignore_fields(map, &ns),
            _ => Vec::new(),
        };
        Ok(ExactDocument { root, ns, ignored })
    }

    /// The whole document.
    pub fn root(&self) -> &Json {
        &self.root
    }

    /// The document's namespaces (its `@context` on top of the standard prefixes).
    pub fn namespaces(&self) -> &Namespaces {
        &self.ns
    }

    /// The user extension fields the document's `ignoreFields` leaves out of every
    /// event's hash, as full IRIs where their prefix is known.
    pub fn ignored_fields(&self) -> &[String] {
        &self.ignored
    }

    /// The events, from the first of [`EVENT_LIST_POINTERS`] that holds an array
    /// (empty if none does).
    pub fn events(&self) -> &[Json] {
        EVENT_LIST_POINTERS
            .iter()
            .find_map(|p| match self.root.pointer(p) {
                Some(Json::Array(items)) => Some(items.as_slice()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The canonical pre-hash string of one of its events.
    pub fn pre_hash_string(&self, event: &JsonObject) -> Result<String, HashIdError> {
        exact_pre_hash_string(event, &self.ns, &self.ignored)
    }

    /// The SHA-256 digest of one of its events' pre-hash string.
    pub fn hash_digest(&self, event: &JsonObject) -> Result<[u8; 32], HashIdError> {
        Ok(digest_of_pre_hash(&self.pre_hash_string(event)?))
    }

    /// The Event Hash ID of one of its events.
    pub fn event_hash_id(&self, event: &JsonObject) -> Result<String, HashIdError> {
        Ok(hash_id_of_pre_hash(&self.pre_hash_string(event)?))
    }
}

/// The SHA-256 digest of a pre-hash string's UTF-8 bytes.
pub fn digest_of_pre_hash(pre_hash: &str) -> [u8; 32] {
    Sha256::digest(pre_hash.as_bytes()).into()
}

/// The Event Hash ID (`ni:///sha-256;<hex>?ver=CBV2.0`) of a pre-hash string.
pub fn hash_id_of_pre_hash(pre_hash: &str) -> String {
    format!(
        "ni:///sha-256;{}?ver={HASH_ID_VERSION}",
        hex::encode(digest_of_pre_hash(pre_hash))
    )
}

/// The fields a document asks to leave out of its events' hashes: the string members
/// of a document-level key whose local name is `ignoreFields` (in any namespace; for a
/// query document, also inside `epcisBody.queryResults`), each expanded to a full IRI
/// where its prefix is known. Pass them to [`pre_hash_string_ignoring`];
/// [`ExactDocument`] honours them itself.
pub fn declared_ignore_fields(document: &Map<String, Value>, ns: &Namespaces) -> Vec<String> {
    exact_ignore_fields(&JsonObject::from(document), ns)
}

fn exact_ignore_fields(document: &JsonObject, ns: &Namespaces) -> Vec<String> {
    let mut out = Vec::new();
    let query_results = document
        .get("epcisBody")
        .and_then(Json::as_object)
        .and_then(|b| b.get("queryResults"))
        .and_then(Json::as_object);
    for map in std::iter::once(document).chain(query_results) {
        for (key, value) in map.iter() {
            let is_ignore_key = ns
                .expand(key)
                .is_some_and(|(_, local)| local == "ignoreFields");
            if !is_ignore_key {
                continue;
            }
            let names = match value {
                Json::Array(items) => items.iter().filter_map(Json::as_str).collect(),
                Json::String(s) => vec![s.as_str()],
                _ => Vec::new(),
            };
            for name in names {
                let full = ns
                    .expand(name)
                    .map(|(iri, local)| format!("{iri}{local}"))
                    .unwrap_or_else(|| name.to_owned());
                if !out.contains(&full) {
                    out.push(full);
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

/// What a standard field holds and how it is canonicalised.
#[derive(Clone, Copy)]
enum Kind {
    /// A scalar, canonicalised generically.
    Plain,
    /// A scalar or an array of scalars, each rendered as its own `name=value`.
    PlainOrList,
    /// A timestamp.
    Time,
    /// A scalar from a CBV vocabulary with bare-word expansion.
    Vocab(&'static str),
    /// An identifier that must be well-formed if it is a GS1 identifier.
    StrictId,
    /// A list of EPCs.
    EpcList,
    /// A list of quantity elements.
    QuantityList,
    /// `persistentDisposition`.
    PersistentDisposition,
    /// `readPoint` / `bizLocation`.
    Location,
    /// `sensorElementList`.
    SensorElementList,
}

const BIZ_STEP: &str = "https://ref.gs1.org/cbv/BizStep-";
const DISP: &str = "https://ref.gs1.org/cbv/Disp-";
const BTT: &str = "https://ref.gs1.org/cbv/BTT-";
const SDT: &str = "https://ref.gs1.org/cbv/SDT-";
const COMP: &str = "https://ref.gs1.org/cbv/Comp-";
const GS1_VOC: &str = "https://gs1.org/voc/";

/// CBV 1.x URN vocabulary prefixes and their CBV 2.0 web URI equivalents.
const CBV_URNS: &[(&str, &str)] = &[
    ("urn:epcglobal:cbv:bizstep:", BIZ_STEP),
    ("urn:epcglobal:cbv:disp:", DISP),
    ("urn:epcglobal:cbv:btt:", BTT),
    ("urn:epcglobal:cbv:sdt:", SDT),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
];

/// The event-level fields in canonical order.
const EVENT_FIELDS: &[(&str, Kind)] = &[
    ("eventTime", Kind::Time),
    ("eventTimeZoneOffset", Kind::Plain),
    ("certificationInfo", Kind::PlainOrList),
    ("epcList", Kind::EpcList),
    ("parentID", Kind::StrictId),
    ("inputEPCList", Kind::EpcList),
    ("childEPCs", Kind::EpcList),
    ("quantityList", Kind::QuantityList),
    ("childQuantityList", Kind::QuantityList),
    ("inputQuantityList", Kind::QuantityList),
    ("outputEPCList", Kind::EpcList),
    ("outputQuantityList", Kind::QuantityList),
    ("action", Kind::Plain),
    ("transformationID", Kind::Plain),
    ("bizStep", Kind::Vocab(BIZ_STEP)),
    ("disposition", Kind::Vocab(DISP)),
    ("persistentDisposition", Kind::PersistentDisposition),
    ("readPoint", Kind::Location),
    ("bizLocation", Kind::Location),
    ("sensorElementList", Kind::SensorElementList),
];

/// Event-level keys that are never hashed (besides JSON-LD keywords and comments).
const EVENT_IGNORED: &[&str] = &["type", "eventID", "recordTime", "errorDeclaration"];

const QUANTITY_FIELDS: &[(&str, Kind)] = &[
    ("epcClass", Kind::StrictId),
    ("quantity", Kind::Plain),
    ("uom", Kind::Plain),
];

const SENSOR_METADATA_FIELDS: &[(&str, Kind)] = &[
    ("time", Kind::Time),
    ("startTime", Kind::Time),
    ("endTime", Kind::Time),
    ("deviceID", Kind::Plain),
    ("deviceMetadata", Kind::Plain),
    ("rawData", Kind::Plain),
    ("dataProcessingMethod", Kind::Plain),
    ("bizRules", Kind::Plain),
];

const SENSOR_REPORT_FIELDS: &[(&str, Kind)] = &[
    ("type", Kind::Vocab(GS1_VOC)),
    ("exception", Kind::Vocab(GS1_VOC)),
    ("deviceID", Kind::Plain),
    ("deviceMetadata", Kind::Plain),
    ("rawData", Kind::Plain),
    ("dataProcessingMethod", Kind::Plain),
    ("time", Kind::Time),
    ("microorganism", Kind::Plain),
    ("chemicalSubstance", Kind::Plain),
    ("value", Kind::Plain),
    ("component", Kind::Vocab(COMP)),
    ("stringValue", Kind::Plain),
    ("booleanValue", Kind::Plain),
    ("hexBinaryValue", Kind::Plain),
    ("uriValue", Kind::Plain),
    ("minValue", Kind::Plain),
    ("maxValue", Kind::Plain),
    ("meanValue", Kind::Plain),
    ("sDev", Kind::Plain),
    ("percRank", Kind::Plain),
    ("percValue", Kind::Plain),
    ("uom", Kind::Plain),
    ("coordinateReferenceSystem", Kind::Plain),
];

const LOCATION_FIELDS: &[(&str, Kind)] = &[("id", Kind::StrictId)];

const PERSISTENT_DISPOSITION_FIELDS: &[(&str, Kind)] =
    &[("set", Kind::Vocab(DISP)), ("unset", Kind::Vocab(DISP))];

/// A typed list at event level: list name, member value field, its kind, type vocabulary.
const TYPED_LISTS: &[(&str, &str, Kind, &str)] = &[
    ("bizTransactionList", "bizTransaction", Kind::Plain, BTT),
    ("sourceList", "source", Kind::StrictId, SDT),
    ("destinationList", "destination", Kind::StrictId, SDT),
];

const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";

fn kind_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn unexpected(path: &str, expected: &'static str, value: &Json) -> HashIdError {
    HashIdError::UnexpectedValue {
        path: path.to_owned(),
        expected,
        found: kind_name(value),
    }
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

struct Renderer<'a> {
    ns: &'a Namespaces,
}

impl Renderer<'_> {
    fn event(&self, event: &JsonObject, ignored: &[String]) -> Result<String, HashIdError> {
        let event_type = match event.get("type") {
            Some(Json::String(t)) if !t.trim().is_empty() => t.trim(),
            _ => return Err(HashIdError::MissingType),
        };
        let mut out = format!("eventType={event_type}");
        for (name, kind) in EVENT_FIELDS {
            if let Some(value) = event.get(name) {
                out.push_str(&self.field(name, *kind, value, name)?);
            }
        }
        let mut tail = Vec::new();
        for (key, value) in event.iter() {
            if EVENT_FIELDS.iter().any(|(name, _)| *name == key)
                || EVENT_IGNORED.contains(&key)
                || self.is_ignorable(key)
            {
                continue;
            }
            if let Some((_, member, kind, vocab)) =
                TYPED_LISTS.iter().find(|(list, ..)| *list == key)
            {
                let rendered = self.typed_list(key, member, *kind, vocab, value)?;
                tail.extend(rendered);
            } else if key == "ilmd" {
                tail.extend(self.ilmd(value)?);
            } else if !self.is_listed(key, ignored) {
                // Only user extensions can be left out by `ignoreFields`.
                tail.extend(self.extension(key, value, 0, key)?);
            }
        }
        tail.sort();
        out.extend(tail);
        Ok(out)
    }

    /// JSON-LD keywords and comments, which are never hashed.
    fn is_ignorable(&self, key: &str) -> bool {
        key.starts_with('@')
            || key == "comment"
            || self
                .ns
                .expand(key)
                .is_some_and(|(ns, local)| ns == RDFS && local == "comment")
    }

    fn is_listed(&self, key: &str, ignored: &[String]) -> bool {
        if ignored.is_empty() {
            return false;
        }
        let full = self
            .ns
            .expand(key)
            .map(|(ns, local)| format!("{ns}{local}"));
        ignored
            .iter()
            .any(|name| name == key || full.as_deref() == Some(name.as_str()))
    }

    /// A standard field rendered with its name, or "" when it has no content.
    fn field(
        &self,
        name: &str,
        kind: Kind,
        value: &Json,
        path: &str,
    ) -> Result<String, HashIdError> {
        match kind {
            Kind::Plain | Kind::Time | Kind::Vocab(_) | Kind::StrictId => {
                if matches!(value, Json::Array(_)) {
                    return Err(unexpected(path, "a single value", value));
                }
                Ok(self
                    .scalar(kind, value, path)?
                    .map(|v| format!("{name}={v}"))
                    .unwrap_or_default())
            }
            Kind::PlainOrList => {
                let mut parts = Vec::new();
                for (i, item) in as_items(value).iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    if let Some(v) = self.scalar(Kind::Plain, item, &item_path)? {
                        parts.push(format!("{name}={v}"));
                    }
                }
                parts.sort();
                Ok(parts.concat())
            }
            Kind::EpcList => {
                let Json::Array(items) = value else {
                    return Err(unexpected(path, "an array of identifiers", value));
                };
                let mut parts = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    if !matches!(item, Json::String(_)) {
                        return Err(unexpected(&item_path, "an identifier string", item));
                    }
                    if let Some(v) = self.scalar(Kind::StrictId, item, &item_path)? {
                        parts.push(format!("epc={v}"));
                    }
                }
                Ok(with_name(name, parts))
            }
            Kind::QuantityList => {
                let Json::Array(items) = value else {
                    return Err(unexpected(path, "an array of quantity elements", value));
                };
                let mut parts = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    let body = self.object(item, QUANTITY_FIELDS, &item_path)?;
                    if !body.is_empty() {
                        parts.push(format!("quantityElement{body}"));
                    }
                }
                Ok(with_name(name, parts))
            }
            Kind::PersistentDisposition => {
                let body = self.object(value, PERSISTENT_DISPOSITION_FIELDS, path)?;
                Ok(if body.is_empty() {
                    body
                } else {
                    format!("{name}{body}")
                })
            }
            Kind::Location => {
                let body = self.object(value, LOCATION_FIELDS, path)?;
                Ok(if body.is_empty() {
                    body
                } else {
                    format!("{name}{body}")
                })
            }
            Kind::SensorElementList => {
                let Json::Array(items) = value else {
                    return Err(unexpected(path, "an array of sensor elements", value));
                };
                let mut parts = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let body = self.sensor_element(item, &format!("{path}[{i}]"))?;
                    if !body.is_empty() {
                        parts.push(format!("sensorElement{body}"));
                    }
                }
                Ok(with_name(name, parts))
            }
        }
    }

    /// The fields of an object in the order of `fields`, each list-valued field's members
    /// sorted, then its other members (user extensions) sorted.
    fn object(
        &self,
        value: &Json,
        fields: &[(&str, Kind)],
        path: &str,
    ) -> Result<String, HashIdError> {
        let Json::Object(map) = value else {
            return Err(unexpected(path, "an object", value));
        };
        let mut out = String::new();
        for (name, kind) in fields {
            let Some(field_value) = map.get(name) else {
                continue;
            };
            let field_path = child_path(path, name);
            let mut parts = Vec::new();
            for (i, item) in as_items(field_value).iter().enumerate() {
                let item_path = if matches!(field_value, Json::Array(_)) {
                    format!("{field_path}[{i}]")
                } else {
                    field_path.clone()
                };
                if let Some(v) = self.scalar(*kind, item, &item_path)? {
                    parts.push(format!("{name}={v}"));
                }
            }
            parts.sort();
            out.extend(parts);
        }
        out.extend(self.extras(map, fields, path)?);
        Ok(out)
    }

    /// The members of `map` not in `fields`, rendered as user extensions and sorted.
    fn extras(
        &self,
        map: &JsonObject,
        fields: &[(&str, Kind)],
        path: &str,
    ) -> Result<Vec<String>, HashIdError> {
        let mut extras = Vec::new();
        for (key, value) in map.iter() {
            if fields.iter().any(|(name, _)| *name == key) || self.is_ignorable(key) {
                continue;
            }
            extras.extend(self.extension(key, value, 1, &child_path(path, key))?);
        }
        extras.sort();
        Ok(extras)
    }

    fn sensor_element(&self, value: &Json, path: &str) -> Result<String, HashIdError> {
        let Json::Object(map) = value else {
            return Err(unexpected(path, "a sensor element object", value));
        };
        let mut out = String::new();
        if let Some(metadata) = map.get("sensorMetadata") {
            let body = self.object(
                metadata,
                SENSOR_METADATA_FIELDS,
                &child_path(path, "sensorMetadata"),
            )?;
            if !body.is_empty() {
                out.push_str("sensorMetadata");
                out.push_str(&body);
            }
        }
        if let Some(reports) = map.get("sensorReport") {
            let reports_path = child_path(path, "sensorReport");
            let mut parts = Vec::new();
            for (i, report) in as_items(reports).iter().enumerate() {
                let body = self.object(
                    report,
                    SENSOR_REPORT_FIELDS,
                    &format!("{reports_path}[{i}]"),
                )?;
                if !body.is_empty() {
                    parts.push(format!("sensorReport{body}"));
                }
            }
            parts.sort();
            out.extend(parts);
        }
        const ELEMENT_FIELDS: &[(&str, Kind)] = &[
            ("sensorMetadata", Kind::Plain),
            ("sensorReport", Kind::Plain),
        ];
        out.extend(self.extras(map, ELEMENT_FIELDS, path)?);
        Ok(out)
    }

    fn typed_list(
        &self,
        name: &str,
        member: &str,
        kind: Kind,
        vocab: &'static str,
        value: &Json,
    ) -> Result<Option<String>, HashIdError> {
        let Json::Array(items) = value else {
            return Err(unexpected(name, "an array", value));
        };
        let fields = [("type", Kind::Vocab(vocab)), (member, kind)];
        let mut parts = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let body = self.object(item, &fields, &format!("{name}[{i}]"))?;
            if !body.is_empty() {
                parts.push(body);
            }
        }
        let rendered = with_name(name, parts);
        Ok((!rendered.is_empty()).then_some(rendered))
    }

    fn ilmd(&self, value: &Json) -> Result<Option<String>, HashIdError> {
        let Json::Object(map) = value else {
            return Err(unexpected("ilmd", "an object", value));
        };
        let parts = self.extras(map, &[], "ilmd")?;
        Ok((!parts.is_empty()).then(|| format!("ilmd{}", parts.concat())))
    }

    /// A user extension element (or unknown field): one string per value, an array
    /// giving one per member.
    fn extension(
        &self,
        key: &str,
        value: &Json,
        depth: usize,
        path: &str,
    ) -> Result<Vec<String>, HashIdError> {
        if depth > EXTENSION_DEPTH_MAX {
            return Err(HashIdError::TooDeep {
                path: path.to_owned(),
                max: EXTENSION_DEPTH_MAX,
            });
        }
        let name = match self.ns.expand(key) {
            Some((ns, local)) => format!("{{{ns}}}{local}"),
            None => key.to_owned(),
        };
        match value {
            // JSON-LD drops null values: the element is absent.
            Json::Null => Ok(Vec::new()),
            Json::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.extend(self.extension(key, item, depth + 1, &format!("{path}[{i}]"))?);
                }
                Ok(out)
            }
            Json::Object(map) => {
                // A sealed field counts as its commitment (docs/PRIVACY.md): the Event
                // Hash ID does not change with the encryption's randomness or the
                // recipients, and commits to the value through the salted commitment.
                if let Some(commitment) = sealed_commitment(map) {
                    return Ok(vec![format!("{name}={commitment}")]);
                }
                let mut children = Vec::new();
                for (child_key, child) in map.iter() {
                    if self.is_ignorable(child_key) {
                        continue;
                    }
                    children.extend(self.extension(
                        child_key,
                        child,
                        depth + 1,
                        &child_path(path, child_key),
                    )?);
                }
                children.sort();
                Ok(vec![format!("{name}{}", children.concat())])
            }
            scalar => Ok(vec![match self.scalar(Kind::Plain, scalar, path)? {
                Some(v) => format!("{name}={v}"),
                None => name,
            }]),
        }
    }

    /// The canonical text of a scalar; `None` for null or an empty string.
    fn scalar(&self, kind: Kind, value: &Json, path: &str) -> Result<Option<String>, HashIdError> {
        let text = match value {
            Json::Null => return Ok(None),
            Json::Bool(b) => return Ok(Some(b.to_string())),
            Json::Number(n) => {
                return n.exact_decimal(DECIMAL_ZEROS_MAX).map(Some).ok_or_else(|| {
                    HashIdError::NumberTooLong {
                        path: path.to_owned(),
                        literal: n.literal().chars().take(40).collect(),
                        max: DECIMAL_ZEROS_MAX,
                    }
                })
            }
            Json::String(s) => s.trim(),
            Json::Array(_) | Json::Object(_) => {
                return Err(unexpected(path, "a single value", value))
            }
        };
        if text.is_empty() {
            return Ok(None);
        }
        if let Kind::Time = kind {
            return canonical_timestamp(text)
                .map(Some)
                .map_err(|problem| HashIdError::Timestamp {
                    path: path.to_owned(),
                    value: text.to_owned(),
                    problem,
                });
        }
        let expanded = self.ns.expand_curie(text);
        let text = expanded.as_deref().unwrap_or(text);
        for (urn, web) in CBV_URNS {
            if let Some(word) = text.strip_prefix(urn) {
                return Ok(Some(format!("{web}{word}")));
            }
        }
        if let Kind::Vocab(base) = kind {
            if is_bare_word(text) {
                return Ok(Some(format!("{base}{text}")));
            }
        }
        match epc::parse(text) {
            Ok(id) => Ok(Some(id.canonical)),
            Err(source) => match kind {
                Kind::StrictId => Err(HashIdError::Identifier {
                    path: path.to_owned(),
                    source,
                }),
                _ => Ok(Some(text.to_owned())),
            },
        }
    }
}

/// `name` followed by the sorted parts, or "" when there are none.
/// The commitment of a sealed field (`{"wb:sealed": {…, "commitment": HEX}}`, the
/// object's only member), as its 64 lowercase hex digits; `None` for any other object
/// (a malformed seal hashes as it stands, and capture refuses it).
fn sealed_commitment(map: &JsonObject) -> Option<&str> {
    if map.len() != 1 {
        return None;
    }
    let Some(Json::Object(sealed)) = map.get(waybill_types::seal::SEALED) else {
        return None;
    };
    sealed
        .get("commitment")
        .and_then(Json::as_str)
        .filter(|c| c.len() == 64 && c.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn with_name(name: &str, mut parts: Vec<String>) -> String {
    if parts.is_empty() {
        return String::new();
    }
    parts.sort();
    format!("{name}{}", parts.concat())
}

/// The members of an array, or the value itself as a one-member list.
fn as_items(value: &Json) -> Vec<&Json> {
    match value {
        Json::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// A CBV bare word: no scheme separator, no path, no whitespace.
fn is_bare_word(text: &str) -> bool {
    !text.is_empty() && !text.contains([':', '/']) && !text.chars().any(char::is_whitespace)
}

// ---------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------

use crate::time::{civil_from_days, days_from_civil, days_in_month};

/// An RFC 3339 / `xsd:dateTimeStamp` date-time in UTC with exactly three fractional
/// digits (`YYYY-MM-DDThh:mm:ss.sssZ`), the third rounded up when the fourth is 5 to 9.
fn canonical_timestamp(text: &str) -> Result<String, &'static str> {
    const SHAPE: &str = "is not of the form YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)";
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Result<i64, &'static str> {
        let part = b.get(range).ok_or(SHAPE)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(SHAPE);
        }
        Ok(part.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let sep = |i: usize, allowed: &[u8]| -> Result<(), &'static str> {
        match b.get(i) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err(SHAPE),
        }
    };
    let year = number(0..4)?;
    sep(4, b"-")?;
    let month = number(5..7)?;
    sep(7, b"-")?;
    let day = number(8..10)?;
    sep(10, b"Tt")?;
    let hour = number(11..13)?;
    sep(13, b":")?;
    let minute = number(14..16)?;
    sep(16, b":")?;
    let second = number(17..19)?;
    let mut i = 19;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let fraction = &b[start..i];
        if fraction.is_empty() {
            return Err(SHAPE);
        }
        for k in 0..3 {
            millis = millis * 10 + fraction.get(k).map_or(0, |d| i64::from(d - b'0'));
        }
        if fraction.get(3).is_some_and(|d| *d >= b'5') {
            millis += 1;
        }
    }
    let offset_minutes = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            let hours = number(i + 1..i + 3)?;
            sep(i + 3, b":")?;
            let minutes = number(i + 4..i + 6)?;
            if hours > 14 || minutes > 59 || (hours == 14 && minutes > 0) {
                return Err("has a UTC offset outside -14:00 to +14:00");
            }
            let total = hours * 60 + minutes;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        None => return Err("has no UTC offset (Z or +hh:mm/-hh:mm)"),
        _ => return Err(SHAPE),
    };
    if year == 0 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err("has no such date");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("has no such time of day");
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_minutes * 60;
    let total_ms = seconds * 1000 + millis;
    let days = total_ms.div_euclid(86_400_000);
    let ms_of_day = total_ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return Err("falls outside years 0001 to 9999 in UTC");
    }
    Ok(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_go_to_utc_milliseconds() {
        for (input, expected) in [
            ("2020-03-04T11:00:30.000+01:00", "2020-03-04T10:00:30.000Z"),
            (
                "2022-02-16T20:33:31.116000-06:00",
                "2022-02-17T02:33:31.116Z",
            ),
            ("2023-02-02T11:04:03.1415Z", "2023-02-02T11:04:03.142Z"),
            ("2023-02-02T11:04:03.1414Z", "2023-02-02T11:04:03.141Z"),
            ("2023-02-12T11:04:03.1007Z", "2023-02-12T11:04:03.101Z"),
            ("2019-10-21T14:45:00Z", "2019-10-21T14:45:00.000Z"),
            ("2022-02-17T11:30:47.0Z", "2022-02-17T11:30:47.000Z"),
            // Rounding carries into the next day, month and year.
            ("2023-12-31T23:59:59.9995Z", "2024-01-01T00:00:00.000Z"),
            ("2024-02-29T00:30:00+01:00", "2024-02-28T23:30:00.000Z"),
            ("2000-02-29T12:00:00-14:00", "2000-03-01T02:00:00.000Z"),
            ("1970-01-01T00:00:00.5Z", "1970-01-01T00:00:00.500Z"),
            ("1601-01-01T00:00:00+00:30", "1600-12-31T23:30:00.000Z"),
        ] {
            assert_eq!(
                canonical_timestamp(input).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
        for bad in [
            "2020-03-04T11:00:30",
            "2020-03-04 11:00:30Z",
            "2020-03-04T11:00:30.Z",
            "2020-02-30T11:00:30Z",
            "2021-02-29T11:00:30Z",
            "2020-03-04T24:00:00Z",
            "2020-03-04T11:00:60Z",
            "2020-03-04T11:00:30+15:00",
            "2020-03-04T11:00:30+0100",
            "0001-01-01T00:00:00+01:00",
            "2020-3-04T11:00:30Z",
            "2020-03-04T11:00:30Zjunk",
            "",
        ] {
            assert!(
                canonical_timestamp(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-719_162, -1, 0, 1, 59, 10_956, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
