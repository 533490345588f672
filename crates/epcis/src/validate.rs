//! Validation of EPCIS 2.0 JSON/JSON-LD documents and events.
//!
//! Two layers:
//! - [`check_schema`]: exactly the rules of the ratified EPCIS 2.0.1 JSON schema (draft-07)
//!   with its string formats enforced (`date-time` per RFC 3339, `uri` per RFC 3986):
//!   EPCISDocument and EPCISQueryDocument, the five event types and extension events,
//!   required fields, types, enumerations, patterns, closed objects and the rule that
//!   extension properties are named by URIs (namespace-prefixed names such as
//!   `example:myField` are URIs).
//! - [`check_waybill_rules`]: Waybill's own rules on top: GS1 check digits and lengths of
//!   the keys in GS1 Digital Link URIs, lengths of the components of EPC URNs, CBV values
//!   that must be CBV terms, and non-negative quantities.
//!
//! Every check collects all problems, each with an RFC 6901 JSON pointer into the input.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use waybill_gs1::digital_link::{uri_unescape, UriComponent};

use crate::cbv::{self, Vocabulary};

/// One reason a document or event is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Problem {
    /// RFC 6901 JSON pointer to the offending value (or to the object missing a property),
    /// e.g. `/epcisBody/eventList/3/readPoint/id`; empty for the whole document.
    pub pointer: String,
    /// Why, naming the field and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "(document): {}", self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

/// The problems of `doc` against the EPCIS 2.0.1 JSON schema, string formats enforced.
///
/// Empty exactly when the schema accepts `doc`. `doc` may be an EPCISDocument, an
/// EPCISQueryDocument or a standalone event (which then needs its own `@context`).
pub fn check_schema(doc: &Value) -> Vec<Problem> {
    let mut s = Schema::default();
    s.root(doc);
    s.out
}

/// The problems of `doc` against Waybill's own rules (see the module documentation).
///
/// Values of the wrong JSON type are left to [`check_schema`].
pub fn check_waybill_rules(doc: &Value) -> Vec<Problem> {
    let mut r = Rules::default();
    r.identifiers(doc, "");
    if let Value::Object(m) = doc {
        match m.get("type").and_then(Value::as_str) {
            Some("EPCISDocument") => {
                r.event_list(doc.pointer("/epcisBody/eventList"), "/epcisBody/eventList")
            }
            Some("EPCISQueryDocument") => r.event_list(
                doc.pointer("/epcisBody/queryResults/resultsBody/eventList"),
                "/epcisBody/queryResults/resultsBody/eventList",
            ),
            Some(_) => r.event(doc, ""),
            None => {}
        }
    }
    r.out
}

/// Both [`check_schema`] and [`check_waybill_rules`]: `Ok` when there is no problem.
pub fn validate_document(doc: &Value) -> Result<(), Vec<Problem>> {
    let mut problems = check_schema(doc);
    problems.extend(check_waybill_rules(doc));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The problems of one event as it stands in a document's `eventList` (no `@context`
/// needed): the schema's rules for its event type and Waybill's rules. `pointer` is the
/// event's own pointer (e.g. `/epcisBody/eventList/3`, or `""`); problems are below it.
pub fn validate_event(event: &Value, pointer: &str) -> Vec<Problem> {
    let mut s = Schema::default();
    s.event(event, pointer);
    let mut r = Rules::default();
    r.identifiers(event, pointer);
    r.event(event, pointer);
    let mut out = s.out;
    out.extend(r.out);
    out
}

/// The problems with the times an event says something happened: `eventTime`,
/// `errorDeclaration.declarationTime` and the sensor `time`, `startTime` and `endTime`
/// must lie from 1970-01-01T00:00:00Z ([`limits::EVENT_TIME_MS_MIN`]) to one day past
/// `now_ms` ([`limits::EVENT_TIME_AHEAD_MS_MAX`]), milliseconds rounded as the Event
/// Hash ID rounds them. The ledger passes the block time; the API's quick check before
/// submitting passes its clock. `recordTime` is not checked: the ledger sets it. Values
/// that are not date-times are left to [`check_schema`]. `pointer` is the event's.
///
/// [`limits::EVENT_TIME_MS_MIN`]: waybill_types::limits::EVENT_TIME_MS_MIN
/// [`limits::EVENT_TIME_AHEAD_MS_MAX`]: waybill_types::limits::EVENT_TIME_AHEAD_MS_MAX
pub fn check_event_times(event: &Value, pointer: &str, now_ms: i64) -> Vec<Problem> {
    use waybill_types::limits::{EVENT_TIME_AHEAD_MS_MAX, EVENT_TIME_MS_MIN};
    let Value::Object(m) = event else {
        return Vec::new();
    };
    let max = now_ms.saturating_add(EVENT_TIME_AHEAD_MS_MAX);
    let mut out = Vec::new();
    let mut check = |v: Option<&Value>, p: String, name: &str| {
        let Some(Value::String(s)) = v else {
            return;
        };
        let Some(ms) = crate::time::parse_ms(s) else {
            return;
        };
        if (EVENT_TIME_MS_MIN..=max).contains(&ms) {
            return;
        }
        let when = if ms < EVENT_TIME_MS_MIN {
            "before"
        } else {
            "after"
        };
        out.push(Problem {
            pointer: p,
            message: format!(
                "`{name}` {} is {when} the allowed range {} to {} (the current time, {}, plus \
                 one day); event times must be real and not in the future",
                show_str(s),
                crate::time::format_ms(EVENT_TIME_MS_MIN),
                crate::time::format_ms(max),
                crate::time::format_ms(now_ms),
            ),
        });
    };
    check(m.get("eventTime"), join(pointer, "eventTime"), "eventTime");
    if let Some(Value::Object(ed)) = m.get("errorDeclaration") {
        let pe = join(pointer, "errorDeclaration");
        check(
            ed.get("declarationTime"),
            join(&pe, "declarationTime"),
            "declarationTime",
        );
    }
    if let Some(Value::Array(elements)) = m.get("sensorElementList") {
        let pl = join(pointer, "sensorElementList");
        for (i, element) in elements.iter().enumerate() {
            let pi = join_index(&pl, i);
            if let Some(Value::Object(md)) = element.get("sensorMetadata") {
                let pm = join(&pi, "sensorMetadata");
                for key in ["time", "startTime", "endTime"] {
                    check(md.get(key), join(&pm, key), key);
                }
            }
            if let Some(Value::Array(reports)) = element.get("sensorReport") {
                let pr = join(&pi, "sensorReport");
                for (j, report) in reports.iter().enumerate() {
                    check(
                        report.get("time"),
                        join(&join_index(&pr, j), "time"),
                        "time",
                    );
                }
            }
        }
    }
    out
}

/// [`check_event_times`] for every event of an EPCISDocument or EPCISQueryDocument.
pub fn check_document_times(doc: &Value, now_ms: i64) -> Vec<Problem> {
    let mut out = Vec::new();
    for list in [
        "/epcisBody/eventList",
        "/epcisBody/queryResults/resultsBody/eventList",
    ] {
        if let Some(Value::Array(events)) = doc.pointer(list) {
            for (i, event) in events.iter().enumerate() {
                out.extend(check_event_times(event, &join_index(list, i), now_ms));
            }
            break;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// JSON pointers and messages

/// `base` extended by the object key `key`, escaped per RFC 6901.
fn join(base: &str, key: &str) -> String {
    let mut p = String::with_capacity(base.len() + key.len() + 1);
    p.push_str(base);
    p.push('/');
    for c in key.chars() {
        match c {
            '~' => p.push_str("~0"),
            '/' => p.push_str("~1"),
            c => p.push(c),
        }
    }
    p
}

/// `base` extended by the array index `i`.
fn join_index(base: &str, i: usize) -> String {
    format!("{base}/{i}")
}

/// The JSON type of `v`, for messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `v` as short JSON text, for messages.
fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() <= 80 {
        text
    } else {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    }
}

/// `s` as a short JSON string, for messages.
fn show_str(s: &str) -> String {
    show(&Value::String(s.to_owned()))
}

// ---------------------------------------------------------------------------------------
// String formats

/// Whether `s` is a URI per RFC 3986 §3 (`scheme ":" hier-part ["?" query] ["#" fragment]`),
/// the JSON Schema `uri` format. Namespace-prefixed names such as `example:field` are URIs.
pub fn is_uri(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(first) = b.first() else {
        return false;
    };
    if !first.is_ascii_alphabetic() {
        return false;
    }
    let mut i = 1;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'+' | b'-' | b'.')) {
        i += 1;
    }
    if b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    if b[i..].starts_with(b"//") {
        i += 2;
        let end = b[i..]
            .iter()
            .position(|c| matches!(c, b'/' | b'?' | b'#'))
            .map_or(b.len(), |n| i + n);
        if !is_authority(&b[i..end]) {
            return false;
        }
        i = end;
    }
    let Some(end) = scan(b, i, PATH) else {
        return false;
    };
    i = end;
    if b.get(i) == Some(&b'?') {
        let Some(end) = scan(b, i + 1, QUERY) else {
            return false;
        };
        i = end;
    }
    if b.get(i) == Some(&b'#') {
        let Some(end) = scan(b, i + 1, QUERY) else {
            return false;
        };
        i = end;
    }
    i == b.len()
}

// Character classes of RFC 3986 as bit sets.
const UNRESERVED_SUB_DELIMS: u8 = 1;
const C_COLON: u8 = 2;
const C_AT: u8 = 4;
const C_SLASH: u8 = 8;
const C_QUESTION: u8 = 16;
const PCHAR: u8 = UNRESERVED_SUB_DELIMS | C_COLON | C_AT;
const PATH: u8 = PCHAR | C_SLASH;
const QUERY: u8 = PATH | C_QUESTION;
const USERINFO: u8 = UNRESERVED_SUB_DELIMS | C_COLON;

fn class(b: u8) -> u8 {
    if b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
    {
        UNRESERVED_SUB_DELIMS
    } else {
        match b {
            b':' => C_COLON,
            b'@' => C_AT,
            b'/' => C_SLASH,
            b'?' => C_QUESTION,
            _ => 0,
        }
    }
}

/// The end of the run from `at` of bytes in `allowed` and percent-encodings; `None` on a
/// broken percent-encoding.
fn scan(b: &[u8], mut at: usize, allowed: u8) -> Option<usize> {
    while let Some(&c) = b.get(at) {
        if class(c) & allowed != 0 {
            at += 1;
        } else if c == b'%' {
            if !b.get(at + 1..at + 3)?.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            at += 3;
        } else {
            break;
        }
    }
    Some(at)
}

/// `authority = [ userinfo "@" ] host [ ":" port ]`.
fn is_authority(a: &[u8]) -> bool {
    let host_port = match a.iter().position(|&c| c == b'@') {
        Some(at) => {
            if scan(a, 0, USERINFO) != Some(at) {
                return false;
            }
            &a[at + 1..]
        }
        None => a,
    };
    let port = if host_port.first() == Some(&b'[') {
        let Some(close) = host_port.iter().position(|&c| c == b']') else {
            return false;
        };
        if !is_ip_literal_inner(&host_port[1..close]) {
            return false;
        }
        &host_port[close + 1..]
    } else {
        let Some(end) = scan(host_port, 0, UNRESERVED_SUB_DELIMS) else {
            return false;
        };
        &host_port[end..]
    };
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// The inside of `IP-literal = "[" ( IPv6address / IPvFuture ) "]"`.
fn is_ip_literal_inner(s: &[u8]) -> bool {
    if let Some(rest) = s.strip_prefix(b"v").or_else(|| s.strip_prefix(b"V")) {
        let hex = rest.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        let Some(tail) = rest[hex..].strip_prefix(b".") else {
            return false;
        };
        return hex > 0
            && !tail.is_empty()
            && tail
                .iter()
                .all(|&c| class(c) & (UNRESERVED_SUB_DELIMS | C_COLON) != 0);
    }
    is_ipv6(s)
}

/// RFC 3986 `IPv6address` (with an optional embedded IPv4 address in the last 32 bits).
fn is_ipv6(s: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(s) else {
        return false;
    };
    // Units of 16 bits on each side of an optional "::".
    fn units(part: &str, last: bool) -> Option<usize> {
        if part.is_empty() {
            return Some(0);
        }
        let groups: Vec<&str> = part.split(':').collect();
        let mut n = 0;
        for (i, g) in groups.iter().enumerate() {
            if last && i + 1 == groups.len() && g.contains('.') {
                if !is_ipv4(g) {
                    return None;
                }
                n += 2;
            } else if (1..=4).contains(&g.len()) && g.bytes().all(|c| c.is_ascii_hexdigit()) {
                n += 1;
            } else {
                return None;
            }
        }
        Some(n)
    }
    match s.split_once("::") {
        Some((head, tail)) => {
            if tail.contains("::") {
                return false;
            }
            match (units(head, false), units(tail, true)) {
                (Some(h), Some(t)) => h + t <= 7,
                _ => false,
            }
        }
        None => units(s, true) == Some(8),
    }
}

/// RFC 3986 `IPv4address`: four `dec-octet`s without leading zeros.
fn is_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Whether `s` is an RFC 3339 `date-time` (the JSON Schema `date-time` format):
/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T` and `Z` in either case, real calendar days,
/// and a leap second (`:60`) only at 23:59 UTC.
pub fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't') {
        return false;
    }
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    // full-date
    let (Some(year), Some(month), Some(day)) = (num(0, 4), num(5, 2), num(8, 2)) else {
        return false;
    };
    if b[4] != b'-' || b[7] != b'-' || !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > days {
        return false;
    }
    // partial-time
    let (Some(hour), Some(minute), Some(second)) = (num(11, 2), num(14, 2), num(17, 2)) else {
        return false;
    };
    if b[13] != b':' || b[16] != b':' || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    // time-offset
    let offset_minutes: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            let (Some(oh), Some(om)) = (num(i + 1, 2), num(i + 4, 2)) else {
                return false;
            };
            if b[i + 3] != b':' || oh > 23 || om > 59 {
                return false;
            }
            let m = i64::from(oh * 60 + om);
            if sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return false,
    };
    if second == 60 {
        let utc = (i64::from(hour * 60 + minute) - offset_minutes).rem_euclid(24 * 60);
        return utc == 23 * 60 + 59;
    }
    true
}

// ---------------------------------------------------------------------------------------
// Patterns of the schema (hand-written equivalents of its regular expressions)

/// `^([+]|[-])((0[0-9]|1[0-3]):([0-5][0-9])|14:00)$`
fn is_time_zone_offset(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
        return false;
    }
    let hh = &b[1..3];
    let mm = &b[4..6];
    (matches!(hh[0], b'0') && hh[1].is_ascii_digit()
        || hh[0] == b'1' && matches!(hh[1], b'0'..=b'3'))
        && matches!(mm[0], b'0'..=b'5')
        && mm[1].is_ascii_digit()
        || &b[1..] == b"14:00"
}

/// `^\d+(\.\d+)*$` (ECMA-262 `\d` is ASCII digits).
fn is_version(s: &str) -> bool {
    s.split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|c| c.is_ascii_digit()))
}

/// `^[A-Z0-9]{2,3}$`
fn is_uom(s: &str) -> bool {
    (2..=3).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// `^[A-Fa-f0-9]+$`
fn is_hex_binary(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// The schema's `vocab-other-uri` pattern: not in the CBV namespaces
/// `^(?!(urn:epcglobal:cbv|https?://ns.gs1.org/cbv/))`.
fn is_outside_cbv_namespace(s: &str) -> bool {
    !(s.starts_with("urn:epcglobal:cbv")
        || s.starts_with("http://ns.gs1.org/cbv/")
        || s.starts_with("https://ns.gs1.org/cbv/"))
}

/// The schema's `vocab-nonGS1WebVoc-uri` pattern: not in the GS1 Web Vocabulary namespace
/// `^(?!(https?://gs1.org/voc/|https?://www.gs1.org/voc/))`.
fn is_outside_gs1_web_voc(s: &str) -> bool {
    !["http://", "https://"].iter().any(|scheme| {
        s.strip_prefix(scheme).is_some_and(|rest| {
            rest.starts_with("gs1.org/voc/") || rest.starts_with("www.gs1.org/voc/")
        })
    })
}

/// JSON Schema equality (used by `uniqueItems`): numbers by value, objects regardless of
/// key order.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------
// The schema

/// Property names common to every event (`common-event-properties`).
const COMMON_EVENT_PROPERTIES: &[&str] = &[
    "@context",
    "type",
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "certificationInfo",
    "errorDeclaration",
];

const DOCUMENT_PROPERTIES: &[&str] = &[
    "@context",
    "id",
    "type",
    "schemaVersion",
    "creationDate",
    "instanceIdentifier",
    "sender",
    "receiver",
    "epcisHeader",
    "epcisBody",
];

const QUERY_DOCUMENT_PROPERTIES: &[&str] = &[
    "@context",
    "id",
    "type",
    "schemaVersion",
    "creationDate",
    "epcisBody",
];

const SENSOR_REPORT_PROPERTIES: &[&str] = &[
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
    "time",
    "microorganism",
    "chemicalSubstance",
    "coordinateReferenceSystem",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
];

const SENSOR_METADATA_PROPERTIES: &[&str] = &[
    "time",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "startTime",
    "endTime",
    "dataProcessingMethod",
    "bizRules",
];

/// The five event types of EPCIS 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Aggregation,
    Association,
    Transaction,
    Transformation,
}

impl Kind {
    fn from_type(t: &str) -> Option<Kind> {
        Some(match t {
            "ObjectEvent" => Kind::Object,
            "AggregationEvent" => Kind::Aggregation,
            "AssociationEvent" => Kind::Association,
            "TransactionEvent" => Kind::Transaction,
            "TransformationEvent" => Kind::Transformation,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Object => "ObjectEvent",
            Kind::Aggregation => "AggregationEvent",
            Kind::Association => "AssociationEvent",
            Kind::Transaction => "TransactionEvent",
            Kind::Transformation => "TransformationEvent",
        }
    }

    /// The property names the type allows besides the common ones.
    fn properties(self) -> &'static [&'static str] {
        match self {
            Kind::Object => &[
                "action",
                "epcList",
                "quantityList",
                "bizStep",
                "disposition",
                "persistentDisposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
                "sourceList",
                "destinationList",
                "sensorElementList",
                "ilmd",
            ],
            Kind::Aggregation | Kind::Association => &[
                "parentID",
                "childEPCs",
                "childQuantityList",
                "action",
                "bizStep",
                "disposition",
                "persistentDisposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
                "sourceList",
                "destinationList",
                "sensorElementList",
            ],
            Kind::Transaction => &[
                "bizTransactionList",
                "parentID",
                "epcList",
                "quantityList",
                "action",
                "bizStep",
                "disposition",
                "persistentDisposition",
                "readPoint",
                "bizLocation",
                "sourceList",
                "destinationList",
                "sensorElementList",
            ],
            Kind::Transformation => &[
                "inputEPCList",
                "inputQuantityList",
                "outputEPCList",
                "outputQuantityList",
                "transformationID",
                "bizStep",
                "disposition",
                "persistentDisposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
                "sourceList",
                "destinationList",
                "sensorElementList",
                "ilmd",
            ],
        }
    }

    /// Required properties besides `type`, `eventTime` and `eventTimeZoneOffset`.
    fn required(self) -> &'static [&'static str] {
        match self {
            Kind::Object | Kind::Aggregation => &["action"],
            Kind::Association => &["action", "parentID"],
            Kind::Transaction => &["bizTransactionList", "action"],
            Kind::Transformation => &[],
        }
    }
}

/// Which URIs the schema accepts besides the enumerated words of a vocabulary.
#[derive(Clone, Copy)]
enum OtherUris {
    /// `vocab-other-uri`: any URI outside the CBV namespaces.
    NotCbv,
    /// `vocab-nonGS1WebVoc-uri`: any URI outside the GS1 Web Vocabulary.
    NotGs1WebVoc,
}

/// A non-empty array.
fn non_empty_array(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Array(a)) if !a.is_empty())
}

#[derive(Default)]
struct Schema {
    out: Vec<Problem>,
}

impl Schema {
    fn push(&mut self, pointer: &str, message: String) {
        self.out.push(Problem {
            pointer: pointer.to_owned(),
            message,
        });
    }

    // --- JSON types and formats ---

    fn object<'v>(&mut self, v: &'v Value, p: &str, what: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            _ => {
                self.push(
                    p,
                    format!("{what} must be an object, found {}", json_type(v)),
                );
                None
            }
        }
    }

    fn array<'v>(&mut self, v: &'v Value, p: &str, what: &str, min: usize) -> Option<&'v [Value]> {
        match v {
            Value::Array(a) => {
                if a.len() < min {
                    self.push(p, format!("{what} must not be empty"));
                }
                Some(a)
            }
            _ => {
                self.push(
                    p,
                    format!("{what} must be an array, found {}", json_type(v)),
                );
                None
            }
        }
    }

    fn string<'v>(&mut self, v: &'v Value, p: &str, what: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            _ => {
                self.push(
                    p,
                    format!("{what} must be a string, found {}", json_type(v)),
                );
                None
            }
        }
    }

    fn uri(&mut self, v: &Value, p: &str, what: &str) {
        if let Some(s) = self.string(v, p, what) {
            if !is_uri(s) {
                self.push(
                    p,
                    format!(
                        "{what} must be a URI (RFC 3986: a scheme, ':' and no spaces or \
                         unescaped special characters), found {}",
                        show_str(s)
                    ),
                );
            }
        }
    }

    fn time(&mut self, v: &Value, p: &str, what: &str) {
        if let Some(s) = self.string(v, p, what) {
            if !is_date_time(s) {
                self.push(
                    p,
                    format!(
                        "{what} must be an RFC 3339 date-time with a time zone \
                         (e.g. 2024-05-01T12:00:00.000Z or ...+02:00), found {}",
                        show_str(s)
                    ),
                );
            }
        }
    }

    fn number(&mut self, v: &Value, p: &str, what: &str) {
        if !v.is_number() {
            self.push(
                p,
                format!("{what} must be a number, found {}", json_type(v)),
            );
        }
    }

    fn uri_array(&mut self, v: &Value, p: &str, what: &str, unique: bool) {
        if let Some(items) = self.array(v, p, what, 0) {
            for (i, item) in items.iter().enumerate() {
                self.uri(item, &join_index(p, i), &format!("each element of {what}"));
            }
            if unique {
                self.unique(items, p, what);
            }
        }
    }

    fn unique(&mut self, items: &[Value], p: &str, what: &str) {
        let mut strings: HashSet<&str> = HashSet::new();
        let mut others: Vec<&Value> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let repeated = match item {
                Value::String(s) => !strings.insert(s),
                other => {
                    let seen = others.iter().any(|o| json_equal(o, other));
                    others.push(other);
                    seen
                }
            };
            if repeated {
                self.push(
                    &join_index(p, i),
                    format!(
                        "{what} must not repeat elements: {} occurs before",
                        show(item)
                    ),
                );
            }
        }
    }

    fn required(&mut self, m: &Map<String, Value>, p: &str, what: &str, keys: &[&str]) {
        for k in keys {
            if !m.contains_key(*k) {
                self.push(p, format!("{what} is missing the required property `{k}`"));
            }
        }
    }

    /// `propertyNames`: one of `allowed`, or a URI (an extension property).
    fn names(&mut self, m: &Map<String, Value>, p: &str, what: &str, allowed: &[&[&str]]) {
        for k in m.keys() {
            if !allowed.iter().any(|list| list.contains(&k.as_str())) && !is_uri(k) {
                self.push(
                    &join(p, k),
                    format!(
                        "`{k}` is not a property of {what}; an extension property must be \
                         named by a URI, e.g. a namespace-prefixed name like `example:{k}`"
                    ),
                );
            }
        }
    }

    /// `additionalProperties: false`.
    fn closed(&mut self, m: &Map<String, Value>, p: &str, what: &str, allowed: &[&str]) {
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                self.push(
                    &join(p, k),
                    format!(
                        "`{k}` is not allowed in {what}, which takes only {}",
                        allowed
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    }

    /// A vocabulary value: one of the vocabulary's words or a URI outside its namespace.
    fn vocabulary(&mut self, v: &Value, p: &str, vocab: &Vocabulary, other: OtherUris) {
        let what = vocab.field;
        let Some(s) = self.string(v, p, what) else {
            return;
        };
        if vocab.term(s).is_some() {
            return;
        }
        let (outside, namespace) = match other {
            OtherUris::NotCbv => (
                is_outside_cbv_namespace(s),
                "urn:epcglobal:cbv… and http(s)://ns.gs1.org/cbv/…",
            ),
            OtherUris::NotGs1WebVoc => (
                is_outside_gs1_web_voc(s),
                "http(s)://gs1.org/voc/… and http(s)://www.gs1.org/voc/…",
            ),
        };
        if !is_uri(s) {
            self.push(
                p,
                format!(
                    "{what} must be a CBV/GS1 term written as its bare word (e.g. `{}`) or a \
                     URI, found {}",
                    vocab.terms.first().copied().unwrap_or_default(),
                    show_str(s)
                ),
            );
        } else if !outside {
            self.push(
                p,
                format!(
                    "{what} {} is a URI in a namespace the schema reserves ({namespace}); \
                     write the standard term as its bare word",
                    show_str(s)
                ),
            );
        }
    }

    fn pattern(&mut self, v: &Value, p: &str, what: &str, ok: fn(&str) -> bool, expect: &str) {
        if let Some(s) = self.string(v, p, what) {
            if !ok(s) {
                self.push(
                    p,
                    format!("{what} must match {expect}, found {}", show_str(s)),
                );
            }
        }
    }

    // --- documents ---

    fn root(&mut self, v: &Value) {
        let Some(m) = self.object(v, "", "an EPCIS document") else {
            return;
        };
        let Some(t) = m.get("type") else {
            self.push(
                "",
                "the document is missing the required property `type` (EPCISDocument, \
                 EPCISQueryDocument or an event type)"
                    .to_owned(),
            );
            return;
        };
        let Some(t) = self.string(t, "/type", "`type`") else {
            return;
        };
        match t {
            "EPCISDocument" => self.epcis_document(m),
            "EPCISQueryDocument" => self.query_document(m),
            _ => {
                self.required(m, "", "a standalone event", &["@context"]);
                self.event_object(m, "", t);
            }
        }
    }

    fn epcis_document(&mut self, m: &Map<String, Value>) {
        let what = "an EPCISDocument";
        self.names(m, "", what, &[DOCUMENT_PROPERTIES]);
        self.required(
            m,
            "",
            what,
            &[
                "@context",
                "type",
                "schemaVersion",
                "creationDate",
                "epcisBody",
            ],
        );
        for (k, v) in m {
            let p = join("", k);
            match k.as_str() {
                "id" => self.uri(v, &p, "`id`"),
                "@context" => self.context(v, &p),
                "schemaVersion" => self.pattern(
                    v,
                    &p,
                    "`schemaVersion`",
                    is_version,
                    "digits separated by dots (e.g. \"2.0\")",
                ),
                "creationDate" => self.time(v, &p, "`creationDate`"),
                "instanceIdentifier" | "sender" | "receiver" => {
                    self.string(v, &p, &format!("`{k}`"));
                }
                "epcisHeader" => self.epcis_header(v, &p),
                "epcisBody" => {
                    if let Some(body) = self.object(v, &p, "`epcisBody`") {
                        self.required(body, &p, "`epcisBody`", &["eventList"]);
                        if let Some(list) = body.get("eventList") {
                            self.event_list(list, &join(&p, "eventList"));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn query_document(&mut self, m: &Map<String, Value>) {
        let what = "an EPCISQueryDocument";
        self.names(m, "", what, &[QUERY_DOCUMENT_PROPERTIES]);
        self.required(m, "", what, &["@context", "type", "epcisBody"]);
        for (k, v) in m {
            let p = join("", k);
            match k.as_str() {
                "id" => self.uri(v, &p, "`id`"),
                "@context" => self.context(v, &p),
                "schemaVersion" => self.pattern(
                    v,
                    &p,
                    "`schemaVersion`",
                    is_version,
                    "digits separated by dots (e.g. \"2.0\")",
                ),
                "creationDate" => self.time(v, &p, "`creationDate`"),
                "epcisBody" => self.query_body(v, &p),
                _ => {}
            }
        }
    }

    fn query_body(&mut self, v: &Value, p: &str) {
        let what = "the query document's `epcisBody`";
        let Some(m) = self.object(v, p, what) else {
            return;
        };
        self.names(m, p, what, &[&["queryResults"]]);
        self.required(m, p, what, &["queryResults"]);
        let Some(results) = m.get("queryResults") else {
            return;
        };
        let p = join(p, "queryResults");
        let what = "`queryResults`";
        let Some(m) = self.object(results, &p, what) else {
            return;
        };
        self.names(
            m,
            &p,
            what,
            &[&["queryName", "subscriptionID", "resultsBody"]],
        );
        self.required(m, &p, what, &["queryName", "resultsBody"]);
        for (k, v) in m {
            let pp = join(&p, k);
            match k.as_str() {
                "queryName" | "subscriptionID" => {
                    self.string(v, &pp, &format!("`{k}`"));
                }
                "resultsBody" => {
                    let what = "`resultsBody`";
                    if let Some(body) = self.object(v, &pp, what) {
                        self.names(body, &pp, what, &[&["eventList", "vocabularyList"]]);
                        self.required(body, &pp, what, &["eventList"]);
                        for (k, v) in body {
                            match k.as_str() {
                                "eventList" => self.event_list(v, &join(&pp, k)),
                                "vocabularyList" => self.vocabulary_list(v, &join(&pp, k)),
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn context(&mut self, v: &Value, p: &str) {
        match v {
            Value::String(_) => self.uri(v, p, "`@context`"),
            Value::Object(_) => {}
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let pi = join_index(p, i);
                    match item {
                        Value::String(_) => self.uri(item, &pi, "each `@context` entry"),
                        Value::Object(_) => {}
                        other => self.push(
                            &pi,
                            format!(
                                "each `@context` entry must be a URI or an object, found {}",
                                json_type(other)
                            ),
                        ),
                    }
                }
                self.unique(items, p, "`@context`");
            }
            other => self.push(
                p,
                format!(
                    "`@context` must be a URI, an object or an array of them, found {}",
                    json_type(other)
                ),
            ),
        }
    }

    fn epcis_header(&mut self, v: &Value, p: &str) {
        let what = "`epcisHeader`";
        let Some(m) = self.object(v, p, what) else {
            return;
        };
        self.names(m, p, what, &[&["epcisMasterData"]]);
        if let Some(md) = m.get("epcisMasterData") {
            let p = join(p, "epcisMasterData");
            if let Some(md) = self.object(md, &p, "`epcisMasterData`") {
                if let Some(list) = md.get("vocabularyList") {
                    self.vocabulary_list(list, &join(&p, "vocabularyList"));
                }
            }
        }
    }

    fn vocabulary_list(&mut self, v: &Value, p: &str) {
        let Some(items) = self.array(v, p, "`vocabularyList`", 0) else {
            return;
        };
        for (i, voc) in items.iter().enumerate() {
            let p = join_index(p, i);
            let what = "a vocabulary";
            let Some(m) = self.object(voc, &p, what) else {
                continue;
            };
            self.required(m, &p, what, &["type"]);
            if let Some(t) = m.get("type") {
                self.uri(t, &join(&p, "type"), "a vocabulary's `type`");
            }
            let Some(elements) = m.get("vocabularyElementList") else {
                continue;
            };
            let p = join(&p, "vocabularyElementList");
            let Some(elements) = self.array(elements, &p, "`vocabularyElementList`", 0) else {
                continue;
            };
            for (j, element) in elements.iter().enumerate() {
                self.vocabulary_element(element, &join_index(&p, j));
            }
        }
    }

    fn vocabulary_element(&mut self, v: &Value, p: &str) {
        let what = "a vocabulary element";
        let Some(m) = self.object(v, p, what) else {
            return;
        };
        self.required(m, p, what, &["id"]);
        for (k, v) in m {
            let pp = join(p, k);
            match k.as_str() {
                "id" => self.uri(v, &pp, "a vocabulary element's `id`"),
                "children" => self.uri_array(v, &pp, "`children`", false),
                "attributes" => {
                    let Some(attrs) = self.array(v, &pp, "`attributes`", 0) else {
                        continue;
                    };
                    for (i, attr) in attrs.iter().enumerate() {
                        let pa = join_index(&pp, i);
                        let what = "an attribute";
                        let Some(a) = self.object(attr, &pa, what) else {
                            continue;
                        };
                        self.required(a, &pa, what, &["id"]);
                        if let Some(id) = a.get("id") {
                            self.uri(id, &join(&pa, "id"), "an attribute's `id`");
                        }
                        if let Some(value) = a.get("attribute") {
                            if !(value.is_number() || value.is_string() || value.is_object()) {
                                self.push(
                                    &join(&pa, "attribute"),
                                    format!(
                                        "an attribute's `attribute` must be a number, a string \
                                         or an object, found {}",
                                        json_type(value)
                                    ),
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    // --- events ---

    fn event_list(&mut self, v: &Value, p: &str) {
        if let Some(events) = self.array(v, p, "`eventList`", 0) {
            for (i, e) in events.iter().enumerate() {
                self.event(e, &join_index(p, i));
            }
        }
    }

    /// An event inside a document (`EPCIS-Document-Event`).
    fn event(&mut self, v: &Value, p: &str) {
        let Some(m) = self.object(v, p, "an event") else {
            return;
        };
        let Some(t) = m.get("type") else {
            self.push(
                p,
                "the event is missing the required property `type` (ObjectEvent, \
                 AggregationEvent, AssociationEvent, TransactionEvent, TransformationEvent \
                 or the URI of an extension event type)"
                    .to_owned(),
            );
            return;
        };
        let Some(t) = self.string(t, &join(p, "type"), "the event `type`") else {
            return;
        };
        self.event_object(m, p, t);
    }

    fn event_object(&mut self, m: &Map<String, Value>, p: &str, t: &str) {
        let kind = Kind::from_type(t);
        let what = kind.map_or("an extension event", Kind::name);
        self.required(m, p, what, &["eventTime", "eventTimeZoneOffset"]);
        match kind {
            Some(k) => {
                self.required(m, p, what, k.required());
                self.names(m, p, what, &[COMMON_EVENT_PROPERTIES, k.properties()]);
            }
            None => {
                if !is_uri(t) {
                    self.push(
                        &join(p, "type"),
                        format!(
                            "event type {} is neither ObjectEvent, AggregationEvent, \
                             AssociationEvent, TransactionEvent, TransformationEvent nor the \
                             URI of an extension event type",
                            show_str(t)
                        ),
                    );
                }
            }
        }
        for (name, v) in m {
            let pp = join(p, name);
            self.common_property(name, v, &pp);
            if let Some(k) = kind {
                self.kind_property(k, name, v, &pp);
            }
        }
        if let Some(k) = kind {
            self.kind_rules(k, m, p);
        }
    }

    fn common_property(&mut self, name: &str, v: &Value, p: &str) {
        match name {
            "@context" => self.context(v, p),
            "eventTime" => self.time(v, p, "`eventTime`"),
            "recordTime" => self.time(v, p, "`recordTime`"),
            "eventTimeZoneOffset" => self.pattern(
                v,
                p,
                "`eventTimeZoneOffset`",
                is_time_zone_offset,
                "±HH:MM between -14:00 and +14:00 (e.g. \"+01:00\")",
            ),
            "eventID" => self.uri(v, p, "`eventID`"),
            "certificationInfo" => self.certification_info(v, p),
            "errorDeclaration" => self.error_declaration(v, p),
            _ => {}
        }
    }

    fn kind_property(&mut self, k: Kind, name: &str, v: &Value, p: &str) {
        use Kind::*;
        let field = format!("`{name}`");
        match (k, name) {
            (Object | Transformation, "persistentDisposition") => self.persistent_disposition(v, p),
            (Object | Transformation, "ilmd") => self.ilmd(v, p),
            (Object, "epcList") | (Transformation, "inputEPCList" | "outputEPCList") => {
                self.uri_array(v, p, &field, true)
            }
            (Transaction, "epcList") | (Aggregation | Association, "childEPCs") => {
                self.uri_array(v, p, &field, false)
            }
            (Object | Transaction, "quantityList")
            | (Transformation, "inputQuantityList" | "outputQuantityList")
            | (Aggregation | Association, "childQuantityList") => self.quantity_list(v, p, &field),
            (Aggregation | Association | Transaction, "parentID")
            | (Transformation, "transformationID") => self.uri(v, p, &field),
            (Object | Aggregation | Association | Transaction, "action") => {
                if let Some(s) = self.string(v, p, "`action`") {
                    if !cbv::ACTIONS.contains(&s) {
                        self.push(
                            p,
                            format!(
                                "`action` must be ADD, OBSERVE or DELETE, found {}",
                                show_str(s)
                            ),
                        );
                    }
                }
            }
            (_, "bizTransactionList") => {
                let min = usize::from(k == Transaction);
                if let Some(items) = self.array(v, p, &field, min) {
                    for (i, item) in items.iter().enumerate() {
                        self.biz_transaction(item, &join_index(p, i));
                    }
                }
            }
            (_, "bizStep") => self.vocabulary(v, p, &cbv::BIZ_STEP, OtherUris::NotCbv),
            (_, "disposition") => self.vocabulary(v, p, &cbv::DISPOSITION, OtherUris::NotCbv),
            (_, "readPoint" | "bizLocation") => {
                if let Some(m) = self.object(v, p, &field) {
                    self.required(m, p, &field, &["id"]);
                    if let Some(id) = m.get("id") {
                        self.uri(id, &join(p, "id"), &format!("the `id` of {field}"));
                    }
                }
            }
            (_, "sourceList") => self.source_dest_list(v, p, "source"),
            (_, "destinationList") => self.source_dest_list(v, p, "destination"),
            (_, "sensorElementList") => {
                if let Some(items) = self.array(v, p, &field, 0) {
                    for (i, item) in items.iter().enumerate() {
                        self.sensor_element(item, &join_index(p, i));
                    }
                }
            }
            _ => {}
        }
    }

    /// The `anyOf` rules of each event type.
    fn kind_rules(&mut self, k: Kind, m: &Map<String, Value>, p: &str) {
        let has = |key: &str| m.contains_key(key);
        let non_empty = |key: &str| non_empty_array(m.get(key));
        // `action` absent satisfies the schema's DELETE branch (absence is reported above).
        let delete = match m.get("action") {
            None => true,
            Some(Value::String(s)) => s == "DELETE",
            Some(_) => false,
        };
        let (ok, expect) = match k {
            Kind::Object => {
                if let (true, Some(Value::String(action))) = (has("ilmd"), m.get("action")) {
                    if action == "OBSERVE" || action == "DELETE" {
                        self.push(
                            &join(p, "ilmd"),
                            format!(
                                "`ilmd` is allowed only in an ObjectEvent with action ADD, \
                                 not {action}"
                            ),
                        );
                    }
                }
                (
                    has("epcList")
                        || non_empty("quantityList")
                        || (non_empty("sensorElementList") && has("readPoint")),
                    "an ObjectEvent needs `epcList`, a non-empty `quantityList`, or a \
                     non-empty `sensorElementList` together with `readPoint`",
                )
            }
            Kind::Aggregation | Kind::Association => (
                non_empty("childEPCs") || non_empty("childQuantityList") || delete,
                "unless its action is DELETE, the event needs a non-empty `childEPCs` or \
                 `childQuantityList`",
            ),
            Kind::Transaction => (
                has("epcList") || non_empty("quantityList") || delete,
                "unless its action is DELETE, a TransactionEvent needs `epcList` or a \
                 non-empty `quantityList`",
            ),
            Kind::Transformation => {
                let input = non_empty("inputEPCList") || non_empty("inputQuantityList");
                let output = non_empty("outputEPCList") || non_empty("outputQuantityList");
                (
                    (input && output) || ((input || output) && has("transformationID")),
                    "a TransformationEvent needs non-empty inputs (`inputEPCList` or \
                     `inputQuantityList`) and outputs (`outputEPCList` or \
                     `outputQuantityList`), or one of them together with `transformationID`",
                )
            }
        };
        if !ok {
            self.push(p, expect.to_owned());
        }
    }

    fn certification_info(&mut self, v: &Value, p: &str) {
        match v {
            Value::String(_) => self.uri(v, p, "`certificationInfo`"),
            Value::Array(_) => self.uri_array(v, p, "`certificationInfo`", false),
            other => self.push(
                p,
                format!(
                    "`certificationInfo` must be a URI or an array of URIs, found {}",
                    json_type(other)
                ),
            ),
        }
    }

    fn error_declaration(&mut self, v: &Value, p: &str) {
        let what = "`errorDeclaration`";
        let Some(m) = self.object(v, p, what) else {
            return;
        };
        self.names(
            m,
            p,
            what,
            &[&["declarationTime", "reason", "correctiveEventIDs"]],
        );
        self.required(m, p, what, &["declarationTime"]);
        for (k, v) in m {
            let pp = join(p, k);
            match k.as_str() {
                "declarationTime" => self.time(v, &pp, "`declarationTime`"),
                "reason" => self.vocabulary(v, &pp, &cbv::ERROR_REASON, OtherUris::NotCbv),
                "correctiveEventIDs" => self.uri_array(v, &pp, "`correctiveEventIDs`", false),
                _ => {}
            }
        }
    }

    fn persistent_disposition(&mut self, v: &Value, p: &str) {
        let what = "`persistentDisposition`";
        let Some(m) = self.object(v, p, what) else {
            return;
        };
        self.closed(m, p, what, &["set", "unset"]);
        if !m.contains_key("set") && !m.contains_key("unset") {
            self.push(p, format!("{what} needs `set` or `unset`"));
        }
        for key in ["set", "unset"] {
            let Some(list) = m.get(key) else {
                continue;
            };
            let pp = join(p, key);
            let field = format!("`persistentDisposition.{key}`");
            if let Some(items) = self.array(list, &pp, &field, 1) {
                for (i, item) in items.iter().enumerate() {
                    self.vocabulary(
                        item,
                        &join_index(&pp, i),
                        &cbv::DISPOSITION,
                        OtherUris::NotCbv,
                    );
                }
                self.unique(items, &pp, &field);
            }
        }
    }

    fn ilmd(&mut self, v: &Value, p: &str) {
        let Some(m) = self.object(v, p, "`ilmd`") else {
            return;
        };
        for k in m.keys() {
            if !is_uri(k) {
                self.push(
                    &join(p, k),
                    format!(
                        "`{k}` in `ilmd` must be named by a URI, e.g. a namespace-prefixed \
                         name like `example:{k}`"
                    ),
                );
            }
        }
    }

    fn quantity_list(&mut self, v: &Value, p: &str, what: &str) {
        let Some(items) = self.array(v, p, what, 0) else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let p = join_index(p, i);
            let what = "a quantity element";
            let Some(m) = self.object(item, &p, what) else {
                continue;
            };
            self.closed(m, &p, what, &["epcClass", "quantity", "uom"]);
            self.required(m, &p, what, &["epcClass"]);
            for (k, v) in m {
                let pp = join(&p, k);
                match k.as_str() {
                    "epcClass" => self.uri(v, &pp, "`epcClass`"),
                    "quantity" => self.number(v, &pp, "`quantity`"),
                    "uom" => self.pattern(
                        v,
                        &pp,
                        "`uom`",
                        is_uom,
                        "a UN/CEFACT Rec. 20 code of 2-3 upper-case letters or digits",
                    ),
                    _ => {}
                }
            }
        }
    }

    fn biz_transaction(&mut self, v: &Value, p: &str) {
        let what = "a business transaction";
        let Some(m) = self.object(v, p, what) else {
            return;
        };
        self.closed(m, p, what, &["type", "bizTransaction"]);
        self.required(m, p, what, &["bizTransaction"]);
        if let Some(t) = m.get("type") {
            self.vocabulary(
                t,
                &join(p, "type"),
                &cbv::BIZ_TRANSACTION_TYPE,
                OtherUris::NotCbv,
            );
        }
        if let Some(id) = m.get("bizTransaction") {
            self.uri(id, &join(p, "bizTransaction"), "`bizTransaction`");
        }
    }

    fn source_dest_list(&mut self, v: &Value, p: &str, key: &str) {
        let list = format!("`{key}List`");
        let Some(items) = self.array(v, p, &list, 0) else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let p = join_index(p, i);
            let what = format!("an element of {list}");
            let Some(m) = self.object(item, &p, &what) else {
                continue;
            };
            self.closed(m, &p, &what, &["type", key]);
            self.required(m, &p, &what, &["type", key]);
            if let Some(t) = m.get("type") {
                self.vocabulary(
                    t,
                    &join(&p, "type"),
                    &cbv::SOURCE_DEST_TYPE,
                    OtherUris::NotCbv,
                );
            }
            if let Some(id) = m.get(key) {
                self.uri(id, &join(&p, key), &format!("`{key}`"));
            }
        }
    }

    fn sensor_element(&mut self, v: &Value, p: &str) {
        let what = "a sensor element";
        let Some(m) = self.object(v, p, what) else {
            return;
        };
        self.names(m, p, what, &[&["sensorMetadata", "sensorReport"]]);
        self.required(m, p, what, &["sensorReport"]);
        if let Some(md) = m.get("sensorMetadata") {
            self.sensor_metadata(md, &join(p, "sensorMetadata"));
        }
        if let Some(reports) = m.get("sensorReport") {
            let p = join(p, "sensorReport");
            if let Some(reports) = self.array(reports, &p, "`sensorReport`", 1) {
                for (i, r) in reports.iter().enumerate() {
                    self.sensor_report(r, &join_index(&p, i));
                }
            }
        }
    }

    fn sensor_metadata(&mut self, v: &Value, p: &str) {
        let what = "`sensorMetadata`";
        let Some(m) = self.object(v, p, what) else {
            return;
        };
        self.names(m, p, what, &[SENSOR_METADATA_PROPERTIES]);
        for (k, v) in m {
            let pp = join(p, k);
            let field = format!("`{k}`");
            match k.as_str() {
                "time" | "startTime" | "endTime" => self.time(v, &pp, &field),
                "deviceID" | "deviceMetadata" | "rawData" | "dataProcessingMethod" | "bizRules" => {
                    self.uri(v, &pp, &field)
                }
                _ => {}
            }
        }
    }

    fn sensor_report(&mut self, v: &Value, p: &str) {
        let what = "a sensor report";
        let Some(m) = self.object(v, p, what) else {
            return;
        };
        self.names(m, p, what, &[SENSOR_REPORT_PROPERTIES]);
        self.required(m, p, what, &["type"]);
        for (k, v) in m {
            let pp = join(p, k);
            let field = format!("`{k}`");
            match k.as_str() {
                "type" => self.vocabulary(v, &pp, &cbv::MEASUREMENT_TYPE, OtherUris::NotGs1WebVoc),
                "exception" => {
                    self.vocabulary(v, &pp, &cbv::SENSOR_ALERT_TYPE, OtherUris::NotGs1WebVoc)
                }
                "component" => self.vocabulary(v, &pp, &cbv::COMPONENT, OtherUris::NotCbv),
                "deviceID"
                | "deviceMetadata"
                | "rawData"
                | "dataProcessingMethod"
                | "bizRules"
                | "microorganism"
                | "chemicalSubstance"
                | "coordinateReferenceSystem"
                | "uriValue" => self.uri(v, &pp, &field),
                "time" => self.time(v, &pp, &field),
                "value" | "minValue" | "maxValue" | "meanValue" | "sDev" | "percRank"
                | "percValue" => self.number(v, &pp, &field),
                "stringValue" | "uom" => {
                    self.string(v, &pp, &field);
                }
                "booleanValue" if !v.is_boolean() => {
                    self.push(
                        &pp,
                        format!("{field} must be a boolean, found {}", json_type(v)),
                    );
                }
                "hexBinaryValue" => self.pattern(
                    v,
                    &pp,
                    &field,
                    is_hex_binary,
                    "hexadecimal digits (at least one)",
                ),
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Waybill's own rules

#[derive(Default)]
struct Rules {
    out: Vec<Problem>,
}

impl Rules {
    fn push(&mut self, pointer: &str, message: String) {
        self.out.push(Problem {
            pointer: pointer.to_owned(),
            message,
        });
    }

    fn event_list(&mut self, list: Option<&Value>, p: &str) {
        if let Some(Value::Array(events)) = list {
            for (i, e) in events.iter().enumerate() {
                self.event(e, &join_index(p, i));
            }
        }
    }

    /// Every string value (not `@context`) that is an EPC URN or a GS1 Digital Link URI.
    fn identifiers(&mut self, v: &Value, p: &str) {
        match v {
            Value::String(s) => {
                let problem = if let Some(rest) = s.strip_prefix("urn:epc:") {
                    epc_urn_problem(rest)
                } else if s.starts_with("https://") || s.starts_with("http://") {
                    digital_link_problem(s)
                } else {
                    None
                };
                if let Some(message) = problem {
                    self.push(p, format!("{}: {message}", show_str(s)));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if matches!(item, Value::String(_) | Value::Array(_) | Value::Object(_)) {
                        self.identifiers(item, &join_index(p, i));
                    }
                }
            }
            Value::Object(m) => {
                for (k, item) in m {
                    if k != "@context"
                        && matches!(item, Value::String(_) | Value::Array(_) | Value::Object(_))
                    {
                        self.identifiers(item, &join(p, k));
                    }
                }
            }
            _ => {}
        }
    }

    /// CBV values and quantities of one event.
    fn event(&mut self, v: &Value, p: &str) {
        let Value::Object(m) = v else {
            return;
        };
        let cbv = cbv::is_cbv_uri as fn(&str) -> bool;
        let gs1 = cbv::is_gs1_voc_uri as fn(&str) -> bool;
        self.term(m.get("bizStep"), &join(p, "bizStep"), &cbv::BIZ_STEP, cbv);
        self.term(
            m.get("disposition"),
            &join(p, "disposition"),
            &cbv::DISPOSITION,
            cbv,
        );
        if let Some(Value::Object(pd)) = m.get("persistentDisposition") {
            let pp = join(p, "persistentDisposition");
            for key in ["set", "unset"] {
                if let Some(Value::Array(items)) = pd.get(key) {
                    let pk = join(&pp, key);
                    for (i, item) in items.iter().enumerate() {
                        self.term(Some(item), &join_index(&pk, i), &cbv::DISPOSITION, cbv);
                    }
                }
            }
        }
        for (list, vocab) in [
            ("bizTransactionList", &cbv::BIZ_TRANSACTION_TYPE),
            ("sourceList", &cbv::SOURCE_DEST_TYPE),
            ("destinationList", &cbv::SOURCE_DEST_TYPE),
        ] {
            if let Some(Value::Array(items)) = m.get(list) {
                let pl = join(p, list);
                for (i, item) in items.iter().enumerate() {
                    let pt = join(&join_index(&pl, i), "type");
                    self.term(item.get("type"), &pt, vocab, cbv);
                }
            }
        }
        if let Some(Value::Object(ed)) = m.get("errorDeclaration") {
            let pr = join(&join(p, "errorDeclaration"), "reason");
            self.term(ed.get("reason"), &pr, &cbv::ERROR_REASON, cbv);
        }
        if let Some(Value::Array(elements)) = m.get("sensorElementList") {
            let pl = join(p, "sensorElementList");
            for (i, element) in elements.iter().enumerate() {
                let Some(Value::Array(reports)) = element.get("sensorReport") else {
                    continue;
                };
                let pr = join(&join_index(&pl, i), "sensorReport");
                for (j, report) in reports.iter().enumerate() {
                    let pj = join_index(&pr, j);
                    for (key, vocab, ns) in [
                        ("type", &cbv::MEASUREMENT_TYPE, gs1),
                        ("exception", &cbv::SENSOR_ALERT_TYPE, gs1),
                        ("component", &cbv::COMPONENT, cbv),
                    ] {
                        self.term(report.get(key), &join(&pj, key), vocab, ns);
                    }
                }
            }
        }
        for list in [
            "quantityList",
            "childQuantityList",
            "inputQuantityList",
            "outputQuantityList",
        ] {
            if let Some(Value::Array(items)) = m.get(list) {
                let pl = join(p, list);
                for (i, item) in items.iter().enumerate() {
                    if let Some(q) = item.get("quantity").and_then(Value::as_f64) {
                        if q < 0.0 {
                            self.push(
                                &join(&join_index(&pl, i), "quantity"),
                                format!("`quantity` must not be negative, found {q}"),
                            );
                        }
                    }
                }
            }
        }
    }

    /// A value written in a vocabulary's namespace (a bare word or one of its URI forms,
    /// or any URI in `namespace`) must be one of its terms.
    fn term(
        &mut self,
        v: Option<&Value>,
        p: &str,
        vocab: &Vocabulary,
        namespace: fn(&str) -> bool,
    ) {
        let Some(Value::String(s)) = v else {
            return;
        };
        if vocab.normalise(s).is_some() || !(vocab.claims(s) || namespace(s)) {
            return;
        }
        self.push(
            p,
            format!(
                "{} {} is not a term of that standard vocabulary (CBV 2.0 / GS1 Web \
                 Vocabulary); use a standard term such as `{}`, or a URI of your own domain \
                 for a private value",
                vocab.field,
                show_str(s),
                vocab.terms.first().copied().unwrap_or_default()
            ),
        );
    }
}

// --- GS1 keys ---

/// A problem with the check digit of the all-digit key `key`, if any.
fn check_digit_problem(name: &str, key: &str) -> Option<String> {
    let (body, last) = key.split_at(key.len().checked_sub(1)?);
    let expected = waybill_gs1::check_digit(body).ok()?;
    (last.as_bytes().first()? - b'0' != expected).then(|| {
        format!("the {name} {key} has a wrong GS1 check digit ({last}, expected {expected})")
    })
}

/// Percent-decoded `s` (a `%` not followed by two hex digits kept as it is; bytes that
/// are not UTF-8 become U+FFFD).
fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&uri_unescape(s, UriComponent::Path)).into_owned()
}

/// GS1 AI encodable character set 82.
fn is_cset82(s: &str) -> bool {
    s.bytes().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'"'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b'-'
                    | b'.'
                    | b'/'
                    | b':'
                    | b';'
                    | b'<'
                    | b'='
                    | b'>'
                    | b'?'
                    | b'_'
            )
    })
}

/// GS1 AI encodable character set 39.
fn is_cset39(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || matches!(c, b'#' | b'-' | b'/'))
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|c| c.is_ascii_digit())
}

/// `value` as `n` digits with a GS1 check digit, then an optional tail of at most
/// `tail_max` characters checked by `tail_ok`.
fn key_problem(
    name: &str,
    value: &str,
    n: usize,
    tail_max: usize,
    tail_ok: fn(&str) -> bool,
) -> Option<String> {
    let head = value.get(..n).filter(|h| all_digits(h));
    let Some(head) = head else {
        return Some(if tail_max == 0 {
            format!("the {name} must be exactly {n} digits, found {value:?}")
        } else {
            format!("the {name} must start with {n} digits, found {value:?}")
        });
    };
    let tail = &value[n..];
    if tail_max == 0 && !tail.is_empty() {
        return Some(format!(
            "the {name} must be exactly {n} digits, found {} characters",
            value.chars().count()
        ));
    }
    if tail.chars().count() > tail_max || !tail_ok(tail) {
        return Some(format!(
            "the {name} {value:?} has an invalid part after its first {n} digits"
        ));
    }
    check_digit_problem(name, head)
}

/// Text of 1 to `max` characters accepted by `ok`.
fn text_problem(name: &str, value: &str, max: usize, ok: fn(&str) -> bool) -> Option<String> {
    let len = value.chars().count();
    if len == 0 || len > max {
        return Some(format!(
            "the {name} must have 1 to {max} characters, found {len}"
        ));
    }
    (!ok(value)).then(|| format!("the {name} {value:?} has characters GS1 does not allow"))
}

/// The problem of a GS1 Digital Link URI's primary key or key qualifier, if any.
fn dl_element_problem(ai: &str, value: &str) -> Option<String> {
    let any = |_: &str| true;
    match ai {
        "00" => key_problem("SSCC (AI 00)", value, 18, 0, any),
        "01" => key_problem("GTIN (AI 01)", value, 14, 0, any),
        "253" => key_problem("GDTI (AI 253)", value, 13, 17, is_cset82),
        "255" => key_problem("GCN (AI 255)", value, 13, 12, all_digits),
        "401" => text_problem("GINC (AI 401)", value, 30, is_cset82),
        "402" => key_problem("GSIN (AI 402)", value, 17, 0, any),
        "414" => key_problem("GLN (AI 414)", value, 13, 0, any),
        "417" => key_problem("party GLN (AI 417)", value, 13, 0, any),
        "8003" => {
            if !value.starts_with('0') {
                return Some(format!(
                    "the GRAI (AI 8003) must start with a 0 digit, found {value:?}"
                ));
            }
            key_problem("GRAI (AI 8003)", &value[1..], 13, 16, is_cset82)
        }
        "8004" => text_problem("GIAI (AI 8004)", value, 30, is_cset82),
        "8006" => {
            if value.len() != 18 || !all_digits(value) {
                return Some(format!(
                    "the ITIP (AI 8006) must be 18 digits (GTIN, piece, total), found {value:?}"
                ));
            }
            key_problem("ITIP (AI 8006)", &value[..14], 14, 0, any)
        }
        "8010" => text_problem("CPID (AI 8010)", value, 30, is_cset39),
        "8013" => text_problem("GMN (AI 8013)", value, 25, is_cset82),
        "8017" | "8018" => key_problem("GSRN (AI 8017/8018)", value, 18, 0, any),
        "10" => text_problem("batch/lot (AI 10)", value, 20, is_cset82),
        "21" => text_problem("serial number (AI 21)", value, 20, is_cset82),
        "22" => text_problem("consumer product variant (AI 22)", value, 20, is_cset82),
        "235" => text_problem("third-party serial (AI 235)", value, 28, is_cset82),
        "254" => text_problem("GLN extension (AI 254)", value, 20, is_cset82),
        "8011" => text_problem("CPID serial (AI 8011)", value, 12, all_digits),
        "8019" => text_problem("SRIN (AI 8019)", value, 10, all_digits),
        _ => None,
    }
}

const DL_PRIMARY_KEYS: &[&str] = &[
    "00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010", "8013",
    "8017", "8018",
];

/// Primary keys whose value starts with digits.
const DL_NUMERIC_KEYS: &[&str] = &[
    "00", "01", "253", "255", "402", "414", "417", "8003", "8006", "8017", "8018",
];

/// The problem of `uri` as a GS1 Digital Link URI (`…/01/{gtin}/21/{serial}`), if it is one.
///
/// The rightmost primary key AI followed by its value and (AI, value) pairs makes the
/// Digital Link; on `id.gs1.org` every path of the form `…/{primary key AI}/{value}[/{AI}/{value}]…` is
/// taken for a Digital Link. On other hosts a numeric primary key must also be followed by
/// at least 8 digits, so that ordinary paths such as `/2024/01/15` are left alone.
fn digital_link_problem(uri: &str) -> Option<String> {
    if !is_uri(uri) {
        return None;
    }
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/')?;
    let gs1_resolver = authority.eq_ignore_ascii_case("id.gs1.org");
    let segments: Vec<&str> = path.split('/').collect();
    let is_ai = |s: &str| (2..=4).contains(&s.len()) && all_digits(s);
    // Like GS1's parsers, take the rightmost primary key: what precedes it is a path stem.
    for (i, seg) in segments.iter().enumerate().rev() {
        if !DL_PRIMARY_KEYS.contains(seg) {
            continue;
        }
        let tail = &segments[i + 1..];
        // The key's value, then pairs of (AI, value).
        if tail.len() % 2 != 1 || !tail[1..].chunks(2).all(|pair| is_ai(pair[0])) {
            continue;
        }
        let leading_digits = tail[0].bytes().take_while(u8::is_ascii_digit).count();
        if !gs1_resolver && DL_NUMERIC_KEYS.contains(seg) && leading_digits < 8 {
            continue;
        }
        let mut elements = vec![(*seg, tail[0])];
        elements.extend(tail[1..].chunks(2).map(|pair| (pair[0], pair[1])));
        return elements.iter().find_map(|(ai, value)| {
            dl_element_problem(ai, &percent_decode(value))
                .map(|m| format!("in this GS1 Digital Link URI, {m}"))
        });
    }
    None
}

/// The problem of the EPC URN `urn:epc:{rest}`, if any: the lengths of its GS1 Company
/// Prefix and reference fields (EPC Tag Data Standard, pure identity and class URIs).
fn epc_urn_problem(rest: &str) -> Option<String> {
    let (class, rest) = rest.split_once(':')?;
    let (scheme, body) = rest.split_once(':')?;
    let pattern = match class {
        "id" => false,
        "class" if scheme == "lgtin" => false,
        "idpat" => true,
        _ => return None,
    };
    // (number of fields, digits of company prefix + reference, or 0 for "at most 30
    // characters", tail check)
    let (fields, total): (usize, usize) = match scheme {
        "sgtin" | "lgtin" | "upui" => (3, 13),
        "sscc" | "gsrn" | "gsrnp" => (2, 17),
        "sgln" | "grai" | "gdti" | "sgcn" => (3, 12),
        "pgln" => (2, 12),
        "gsin" => (2, 16),
        "itip" => (5, 13),
        "giai" | "ginc" => (2, 0),
        "cpi" => (3, 0),
        _ => return None,
    };
    let parts: Vec<&str> = body.split('.').collect();
    let urn = format!("urn:epc:{class}:{scheme}");
    if parts.len() != fields {
        return Some(format!(
            "an {urn} URN has {fields} dot-separated fields, found {}",
            parts.len()
        ));
    }
    let (cp, reference) = (parts[0], parts[1]);
    if pattern && cp == "*" {
        return None;
    }
    if !(6..=12).contains(&cp.len()) || !all_digits(cp) {
        return Some(format!(
            "the GS1 Company Prefix of an {urn} URN must be 6 to 12 digits, found {cp:?}"
        ));
    }
    if pattern && reference == "*" {
        return None;
    }
    if total > 0 {
        if !all_digits(reference) || cp.len() + reference.len() != total {
            return Some(format!(
                "in an {urn} URN, company prefix and the next field must be {total} digits \
                 together, found {cp:?} and {reference:?}"
            ));
        }
    } else {
        let len = cp.len() + percent_decode(reference).chars().count();
        if reference.is_empty() || len > 30 {
            return Some(format!(
                "in an {urn} URN, company prefix and reference must have 7 to 30 characters \
                 together, found {len}"
            ));
        }
    }
    let serial_max = match scheme {
        "sgtin" | "lgtin" | "sgln" | "itip" => 20,
        "grai" => 16,
        "gdti" => 17,
        "upui" => 28,
        "sgcn" | "cpi" => 12,
        _ => return None,
    };
    if scheme == "itip" {
        let (piece, of) = (parts[2], parts[3]);
        if piece.len() != 2 || of.len() != 2 || !all_digits(piece) || !all_digits(of) {
            return Some(format!(
                "the piece and total of an {urn} URN must be two digits each"
            ));
        }
    }
    let serial = parts[fields - 1];
    if pattern && serial == "*" {
        return None;
    }
    let len = percent_decode(serial).chars().count();
    if len == 0 || len > serial_max {
        return Some(format!(
            "the last field of an {urn} URN must have 1 to {serial_max} characters, found {len}"
        ));
    }
    if matches!(scheme, "sgcn" | "cpi") && !all_digits(serial) {
        return Some(format!("the serial of an {urn} URN must be digits"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_format() {
        for ok in [
            "urn:epc:id:sgtin:0614141.107346.2017",
            "https://id.gs1.org/01/09521234543213/21/x",
            "example:field",
            "a:",
            "http://[::1]:8080/x",
            "http://[v1.fe]/",
            "http://user:pw@host:/p?q=1#f/?",
            "mailto:x@y.z",
            "https://h/%20",
        ] {
            assert!(is_uri(ok), "{ok}");
        }
        for bad in [
            "",
            "shipping",
            "1http://x",
            "http://a b",
            "http://x/a b",
            "http://x/%2",
            "http://x/%zz",
            "http://[::1",
            "http://[1:2:3:4:5:6:7:8:9]/",
            "http://a@b@c/",
            "http://h:8a/",
            "http://x/é",
            "http://x/{}",
            "//x",
            "x y:z",
        ] {
            assert!(!is_uri(bad), "{bad}");
        }
    }

    #[test]
    fn date_time_format() {
        for ok in [
            "2024-02-29T00:00:00Z",
            "2023-01-01t00:00:00z",
            "2019-04-02T13:05:00.000+01:00",
            "2016-12-31T23:59:60Z",
            "2017-01-01T00:59:60+01:00",
            "0000-01-01T00:00:00Z",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01 00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00+24:00",
            "2024-1-01T00:00:00Z",
            "2024-01-01",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }

    #[test]
    fn patterns() {
        assert!(is_time_zone_offset("+14:00") && is_time_zone_offset("-13:59"));
        assert!(!is_time_zone_offset("+14:01") && !is_time_zone_offset("+1:00"));
        assert!(is_version("2.0") && !is_version("2.") && !is_version("v2"));
        assert!(is_uom("KGM") && !is_uom("kg") && !is_uom("ABCD"));
        assert!(is_hex_binary("0aF") && !is_hex_binary(""));
    }

    #[test]
    fn gs1_keys() {
        assert!(digital_link_problem("https://id.gs1.org/01/09521234543213/21/x").is_none());
        assert!(digital_link_problem("https://id.gs1.org/01/09521234543214").is_some());
        assert!(digital_link_problem("https://example.com/a/b/414/9506000134307").is_none());
        assert!(digital_link_problem("https://id.gs1.org/01/0952").is_some());
        assert!(digital_link_problem("https://example.com/01/0952").is_none());
        assert!(digital_link_problem("https://example.com/news/2024/01/15").is_none());
        assert!(digital_link_problem("https://example.com/01/095212345432").is_some());
        assert!(epc_urn_problem("id:sgtin:0614141.107346.2017").is_none());
        assert!(epc_urn_problem("id:sgtin:0614141.10734.2017").is_some());
        assert!(epc_urn_problem("idpat:sgtin:4012345.066666.*").is_none());
        assert!(epc_urn_problem("id:sscc:0614141.1234567890").is_none());
        assert!(epc_urn_problem("id:giai:4000001.111").is_none());
    }

    /// Only `%` and two hex digits is an escape. The hand-written decoder this replaced
    /// read `%+1` as the byte 1 (`u8::from_str_radix` takes a sign), so seven of them
    /// passed for a 7-character SGTIN serial; as written they are 21, over the 20 allowed.
    #[test]
    fn malformed_escapes_stay_as_written() {
        assert_eq!(percent_decode("a%41%4a%2F"), "aAJ/");
        assert_eq!(percent_decode("%+1%-1%1%G0%"), "%+1%-1%1%G0%");
        assert_eq!(percent_decode("%E4%B8%AD%FF"), "中\u{FFFD}");
        let serial = "%+1".repeat(7);
        let problem = epc_urn_problem(&format!("id:sgtin:0614141.107346.{serial}"));
        assert_eq!(
            problem.as_deref(),
            Some(
                "the last field of an urn:epc:id:sgtin URN must have 1 to 20 characters, \
                 found 21"
            )
        );
        assert!(
            epc_urn_problem(&format!("id:sgtin:0614141.107346.{}", "%41".repeat(20))).is_none()
        );
    }
}
