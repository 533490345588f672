//! Differential test of `check_schema` against the EPCIS 2.0.1 JSON schema run by a real
//! draft-07 validator (the `jsonschema` crate, string formats enforced).
//!
//! A deterministic corpus of mutants is derived from the official examples: every key
//! deleted, values replaced by other JSON types, date-times, URIs, enumerations, patterns
//! and numbers pushed to their edges, properties added where the schema forbids or allows
//! them, arrays emptied or given duplicates, event types swapped, events standing alone.
//! For every mutant `check_schema(m).is_empty()` must equal the validator's verdict.

#![recursion_limit = "256"]

mod validate_common;

use std::time::Instant;

use serde_json::{json, Map, Value};
use waybill_epcis::validate::check_schema;

/// splitmix64: a small deterministic generator, so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `k` distinct elements of `xs` (all of them if `k >= xs.len()`), in a random order.
    fn sample<T: Clone>(&mut self, xs: &[T], k: usize) -> Vec<T> {
        let mut idx: Vec<usize> = (0..xs.len()).collect();
        for i in (1..idx.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        idx.into_iter().take(k).map(|i| xs[i].clone()).collect()
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Every node of `v` as (pointer, key in its parent object if any).
fn nodes(v: &Value, pointer: &str, key: Option<&str>, out: &mut Vec<(String, Option<String>)>) {
    out.push((pointer.to_owned(), key.map(str::to_owned)));
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                nodes(x, &format!("{pointer}/{}", escape(k)), Some(k), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                // Array elements inherit the array's key: they are its values.
                nodes(x, &format!("{pointer}/{i}"), key, out);
            }
        }
        _ => {}
    }
}

fn replaced(doc: &Value, pointer: &str, new: Value) -> Value {
    let mut m = doc.clone();
    if let Some(slot) = m.pointer_mut(pointer) {
        *slot = new;
    }
    m
}

fn edited(doc: &Value, pointer: &str, f: impl FnOnce(&mut Value)) -> Value {
    let mut m = doc.clone();
    if let Some(slot) = m.pointer_mut(pointer) {
        f(slot);
    }
    m
}

const DATE_TIMES: &[&str] = &[
    "2024-02-29T10:00:00Z",
    "2023-02-29T10:00:00Z",
    "2024-02-30T10:00:00Z",
    "2024-04-31T10:00:00.000+02:00",
    "2024-13-01T10:00:00Z",
    "2024-00-10T10:00:00Z",
    "2024-01-00T10:00:00Z",
    "2024-01-01T10:00:00",
    "2024-01-01T10:00:00.123",
    "2024-01-01t10:00:00z",
    "2024-01-01 10:00:00Z",
    "2024-01-01T10:00Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T23:60:00Z",
    "2016-12-31T23:59:60Z",
    "2016-12-31T23:59:60.5Z",
    "2017-01-01T00:59:60+01:00",
    "2016-12-31T22:59:60-01:00",
    "2016-12-31T23:59:60+01:00",
    "2024-01-01T12:00:60Z",
    "2024-01-01T10:00:00.Z",
    "2024-01-01T10:00:00,5Z",
    "2024-01-01T10:00:00.123456789+14:00",
    "2024-01-01T10:00:00+24:00",
    "2024-01-01T10:00:00+23:59",
    "2024-01-01T10:00:00+01:60",
    "2024-01-01T10:00:00+0100",
    "2024-01-01T10:00:00+01",
    "2024-1-01T10:00:00Z",
    "20240101T100000Z",
    "0000-01-01T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z",
    "2024-01-01T10:00:00ZZ",
    " 2024-01-01T10:00:00Z",
    "2024-01-01",
    "",
];

const OFFSETS: &[&str] = &[
    "+14:00",
    "-14:00",
    "+14:01",
    "-13:59",
    "+13:60",
    "+00:00",
    "-00:00",
    "+1:00",
    "01:00",
    "Z",
    "+05:30",
    "+15:00",
    "+01:00 ",
    "\u{2212}01:00",
];

const URIS: &[&str] = &[
    "http://[::1]/x",
    "http://[::1/x",
    "http://[1:2:3:4:5:6:7:8]:80/",
    "http://[1:2:3:4:5:6:7:8:9]/",
    "http://[::ffff:192.0.2.1]/",
    "http://[::ffff:192.0.2.256]/",
    "http://[v7.abc:d]/",
    "http://[fe80::1%25eth0]/",
    "http://[1:2:3:4:5:6:7::8]/",
    "http://[::ffff:192.0.2.01]/",
    "http://[::]/",
    "http://[1::2::3]/",
    "http://[12345::]/",
    "http://[v.x]/",
    "http://[vG.x]/",
    "http://[V1.x]/",
    "http://[v1.]/",
    "http://[::1]x/",
    "http://host:80a/",
    "http://host:/",
    "http://:80/",
    "http:///x",
    "http://h/p?q=a b",
    "http://h/p?q=[x]",
    "urn:x:%C3%A9",
    "http://user@host:8080/path?q#f",
    "http://a@b@c/",
    "http://exa mple.com/",
    "http://example.com/a|b",
    "http://example.com/a\\b",
    "http://example.com/{x}",
    "http://example.com/#a#b",
    "http://example.com/%4",
    "http://example.com/%41",
    "http://example.com/caf\u{e9}",
    "HTTP://EXAMPLE.COM/",
    "mailto:someone@example.com",
    "urn:epc:id:sgtin:0614141.107346.2017",
    "example:x",
    "a:",
    "1a:b",
    "a_b:c",
    ":x",
    "//example.com/x",
    "/relative/path",
    "relative",
    "",
];

const VOCABULARY_VALUES: &[&str] = &[
    "shipping",
    "Shipping",
    "in_transit",
    "owning_party",
    "po",
    "incorrect_data",
    "latitude",
    "Temperature",
    "ALARM_CONDITION",
    "not_a_term",
    "urn:epcglobal:cbv:bizstep:shipping",
    "urn:epcglobal:cbvx",
    "https://ns.gs1.org/cbv/BizStep-shipping",
    "http://ns.gs1.org/cbv/Disp-active",
    "https://ref.gs1.org/cbv/BizStep-shipping",
    "https://gs1.org/voc/Temperature",
    "http://www.gs1.org/voc/ALARM_CONDITION",
    "gs1:Temperature",
    "cbv:BizStep-shipping",
    "https://example.com/vocab/x",
    "ex ample:x",
    "",
];

const EVENT_TYPES: &[&str] = &[
    "ObjectEvent",
    "AggregationEvent",
    "AssociationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "objectEvent",
    "Event",
    "urn:example:ext:Event",
    "https://example.com/MyEvent",
    "EPCISDocument",
    "",
];

const ACTIONS: &[&str] = &["ADD", "OBSERVE", "DELETE", "add", "UPDATE", " ADD", ""];

const UOMS: &[&str] = &["KGM", "A93", "kg", "K", "KGMS", "C3", "K M", ""];

const VERSIONS: &[&str] = &[
    "2",
    "2.0.1",
    "2.",
    ".2",
    "v2",
    "2..0",
    "",
    "2.0\n",
    "2.\u{0660}",
];

const HEX: &[&str] = &["", "0a", "0G", "ABCDEF0123456789", " 0a"];

/// Values of other JSON types, to replace any node with.
fn other_types() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(7),
        json!(-2.5),
        json!("text"),
        json!("https://example.com/x"),
        json!([]),
        json!(["urn:example:x"]),
        json!({}),
        json!({"id": "urn:example:x"}),
    ]
}

/// Keys to add to objects: non-URI names (forbidden where `propertyNames` applies or
/// `additionalProperties` is false) and URI names (extensions).
const EXTRA_KEYS: &[&str] = &[
    "foo",
    "example:foo",
    "ex ample:foo",
    "1ex:foo",
    "@id",
    "urn:example:foo",
    "https://example.com/foo",
    "type",
    "id",
    "quantity",
    "set",
];

/// Known property names, to add with plausible values next to others.
fn known_properties() -> Vec<(&'static str, Value)> {
    vec![
        ("ilmd", json!({"example:lot": "1"})),
        ("ilmd", json!({"lot": "1"})),
        ("persistentDisposition", json!({"set": ["active"]})),
        ("persistentDisposition", json!({"unset": []})),
        ("persistentDisposition", json!({"set": ["active"], "x": 1})),
        ("persistentDisposition", json!({})),
        ("epcList", json!([])),
        ("epcList", json!(["urn:example:a", "urn:example:a"])),
        ("childEPCs", json!([])),
        ("quantityList", json!([])),
        (
            "quantityList",
            json!([{"epcClass": "urn:example:c", "quantity": -1}]),
        ),
        (
            "sensorElementList",
            json!([{"sensorReport": [{"type": "Temperature"}]}]),
        ),
        ("readPoint", json!({"id": "urn:example:rp", "extra": 1})),
        ("action", json!("ADD")),
        ("transformationID", json!("urn:example:t")),
        ("parentID", json!("urn:example:p")),
        ("bizTransactionList", json!([])),
        ("certificationInfo", json!("https://example.com/cert")),
        (
            "certificationInfo",
            json!(["https://example.com/cert", "x y"]),
        ),
        ("certificationInfo", json!(5)),
        (
            "errorDeclaration",
            json!({"declarationTime": "2024-01-01T00:00:00Z"}),
        ),
        ("errorDeclaration", json!({"reason": "did_not_occur"})),
        (
            "@context",
            json!(["https://example.com/ctx", "https://example.com/ctx"]),
        ),
        ("@context", json!([{"a": "b"}, {"a": "b"}])),
        ("@context", json!([["x"]])),
        ("@context", json!(5)),
        ("recordTime", json!("2024-01-01T00:00:00Z")),
        ("eventID", json!("ni:///sha-256;abc?ver=CBV2.0")),
        ("eventID", json!("not an id")),
    ]
}

struct Corpus<'a> {
    validator: &'a jsonschema::Validator,
    total: usize,
    schema_valid: usize,
    disagreements: Vec<String>,
}

impl Corpus<'_> {
    fn check(&mut self, source: &str, what: &str, doc: &Value) {
        self.total += 1;
        let theirs = self.validator.is_valid(doc);
        let ours = check_schema(doc);
        if theirs {
            self.schema_valid += 1;
        }
        if ours.is_empty() != theirs {
            let their_errors: Vec<String> = self
                .validator
                .iter_errors(doc)
                .take(3)
                .map(|e| format!("{} ({})", e.instance_path(), e))
                .collect();
            let our_problems: Vec<String> = ours.iter().take(3).map(|p| p.to_string()).collect();
            self.disagreements.push(format!(
                "{source}: {what}\n    schema valid: {theirs}; ours: {our_problems:?}\n    \
                 schema errors: {their_errors:?}"
            ));
        }
    }

    fn mutate(&mut self, source: &str, doc: &Value, rng: &mut Rng) {
        self.check(source, "unchanged", doc);
        let mut all = Vec::new();
        nodes(doc, "", None, &mut all);
        for (pointer, key) in &all {
            let Some(value) = doc.pointer(pointer) else {
                continue;
            };
            let key = key.as_deref().unwrap_or("");
            let in_array = pointer
                .rsplit('/')
                .next()
                .is_some_and(|last| last.bytes().all(|c| c.is_ascii_digit()) && !last.is_empty());

            // Delete the node (object members; array elements too).
            if !pointer.is_empty() {
                let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", ""));
                let last = last.replace("~1", "/").replace("~0", "~");
                let m = edited(doc, parent, |p| match p {
                    Value::Object(o) => {
                        o.shift_remove(&last);
                    }
                    Value::Array(a) => {
                        if let Ok(i) = last.parse::<usize>() {
                            if i < a.len() {
                                a.remove(i);
                            }
                        }
                    }
                    _ => {}
                });
                self.check(source, &format!("delete {pointer}"), &m);
            }

            // Other JSON types.
            for new in rng.sample(&other_types(), 2) {
                let m = replaced(doc, pointer, new.clone());
                self.check(source, &format!("{pointer} := {new}"), &m);
            }

            // Strings pushed to the edges of their format, pattern or enumeration.
            if let Value::String(s) = value {
                let pool: &[&str] = match key {
                    "eventTime" | "recordTime" | "creationDate" | "declarationTime" | "time"
                    | "startTime" | "endTime" => DATE_TIMES,
                    "eventTimeZoneOffset" => OFFSETS,
                    "action" => ACTIONS,
                    "uom" => UOMS,
                    "schemaVersion" => VERSIONS,
                    "hexBinaryValue" => HEX,
                    "bizStep" | "disposition" | "reason" | "component" | "exception" | "set"
                    | "unset" => VOCABULARY_VALUES,
                    "type" if pointer.ends_with("/type") && !in_array => {
                        if pointer.matches('/').count() <= 4 {
                            EVENT_TYPES
                        } else {
                            VOCABULARY_VALUES
                        }
                    }
                    _ if s.contains(':') => URIS,
                    _ => &[],
                };
                for new in rng.sample(pool, 4) {
                    let m = replaced(doc, pointer, json!(new));
                    self.check(source, &format!("{pointer} := {new:?}"), &m);
                }
                if s.contains(':') {
                    for (what, new) in [
                        ("space inserted", s.replacen(':', ": ", 1)),
                        (
                            "scheme removed",
                            s.split_once(':').map_or(String::new(), |x| x.1.to_owned()),
                        ),
                        ("bad escape appended", format!("{s}%G1")),
                        ("non-ASCII appended", format!("{s}\u{fc}")),
                        ("quote appended", format!("{s}\"")),
                    ] {
                        let m = replaced(doc, pointer, json!(new));
                        self.check(source, &format!("{pointer}: {what}"), &m);
                    }
                }
            }

            // Numbers: negative, zero, huge, as a string.
            if let Value::Number(n) = value {
                for new in [json!(-1), json!(0), json!(1.5e300), json!(n.to_string())] {
                    let m = replaced(doc, pointer, new.clone());
                    self.check(source, &format!("{pointer} := {new}"), &m);
                }
            }

            // Arrays: emptied, first element repeated, a foreign element appended.
            if let Value::Array(a) = value {
                let m = replaced(doc, pointer, json!([]));
                self.check(source, &format!("{pointer} emptied"), &m);
                if let Some(first) = a.first() {
                    let mut longer = a.clone();
                    longer.push(first.clone());
                    let m = replaced(doc, pointer, Value::Array(longer));
                    self.check(source, &format!("{pointer} first element repeated"), &m);
                }
                let mut longer = a.clone();
                longer.push(json!(42));
                let m = replaced(doc, pointer, Value::Array(longer));
                self.check(source, &format!("{pointer} number appended"), &m);
            }

            // Objects: extra keys (forbidden or extension), known properties added.
            if let Value::Object(o) = value {
                for extra in rng.sample(EXTRA_KEYS, 3) {
                    if o.contains_key(extra) {
                        continue;
                    }
                    let m = edited(doc, pointer, |v| {
                        if let Value::Object(o) = v {
                            o.insert(extra.to_owned(), json!("urn:example:v"));
                        }
                    });
                    self.check(source, &format!("{pointer} + key {extra:?}"), &m);
                }
                let is_event = o.contains_key("eventTime");
                if is_event {
                    for (k, v) in rng.sample(&known_properties(), 6) {
                        let m = edited(doc, pointer, |e| {
                            if let Value::Object(o) = e {
                                o.insert(k.to_owned(), v.clone());
                            }
                        });
                        self.check(source, &format!("{pointer}/{k} := {v}"), &m);
                    }
                    for t in EVENT_TYPES {
                        let m = replaced(doc, &format!("{pointer}/type"), json!(t));
                        self.check(source, &format!("{pointer}/type := {t:?}"), &m);
                    }
                }
            }
        }
    }
}

/// Hand-made seed documents for what no example has: an `epcisHeader` with master data,
/// a query document with a `vocabularyList`, every optional event field, DELETE events
/// without children, extension events and extension properties at every level.
fn seeds() -> Vec<(String, Value)> {
    let context = json!([
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"example": "https://example.com/ns/"}
    ]);
    let vocabulary_list = json!([
        {
            "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
            "vocabularyElementList": [
                {
                    "id": "urn:epc:id:sgln:4012345.00001.0",
                    "attributes": [
                        {"id": "urn:epcglobal:cbv:mda#name", "attribute": "Warehouse 1"},
                        {"id": "urn:epcglobal:cbv:mda#latitude", "attribute": 50.1},
                        {"id": "example:address", "attribute": {"street": "Main St 1"}},
                        {"id": "example:flag"}
                    ],
                    "children": ["urn:epc:id:sgln:4012345.00001.1"],
                    "example:elementExt": true
                }
            ],
            "example:vocabularyExt": 1
        },
        {"type": "urn:epcglobal:epcis:vtype:ReadPoint", "vocabularyElementList": []},
        {"type": "urn:epcglobal:epcis:vtype:EPCClass"}
    ]);
    let object_event = json!({
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T10:00:00.123+01:00",
        "recordTime": "2024-03-01T10:00:01Z",
        "eventTimeZoneOffset": "+01:00",
        "eventID": "ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69?ver=CBV2.0",
        "certificationInfo": ["https://example.com/cert/1", "https://example.com/cert/2"],
        "errorDeclaration": {
            "declarationTime": "2024-03-02T10:00:00Z",
            "reason": "incorrect_data",
            "correctiveEventIDs": ["urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"],
            "example:why": "typo"
        },
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1", "https://id.gs1.org/01/04012345111118/21/2"],
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:4012345.011111.4444", "quantity": 10, "uom": "KGM"},
            {"epcClass": "https://id.gs1.org/01/04012345111118/10/L1", "quantity": 2.5}
        ],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "persistentDisposition": {"set": ["completeness_verified"], "unset": ["completeness_inferred"]},
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0", "example:rpExt": 1},
        "bizLocation": {"id": "urn:epc:id:sgln:4012345.00002.0"},
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:1"}],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"}],
        "destinationList": [{"type": "location", "destination": "urn:epc:id:sgln:4012345.00003.0"}],
        "sensorElementList": [
            {
                "sensorMetadata": {
                    "time": "2024-03-01T09:00:00Z",
                    "startTime": "2024-03-01T08:00:00Z",
                    "endTime": "2024-03-01T09:00:00Z",
                    "deviceID": "urn:epc:id:giai:4000001.111",
                    "deviceMetadata": "https://example.com/device/1",
                    "rawData": "https://example.com/raw/1",
                    "dataProcessingMethod": "https://example.com/method",
                    "bizRules": "https://example.com/rules",
                    "example:metaExt": "x"
                },
                "sensorReport": [
                    {
                        "type": "Temperature",
                        "exception": "ALARM_CONDITION",
                        "deviceID": "urn:epc:id:giai:4000001.111",
                        "deviceMetadata": "https://example.com/device/1",
                        "rawData": "https://example.com/raw/1",
                        "dataProcessingMethod": "https://example.com/method",
                        "bizRules": "https://example.com/rules",
                        "time": "2024-03-01T09:00:00Z",
                        "microorganism": "https://www.ncbi.nlm.nih.gov/taxonomy/1336",
                        "chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN-UGDNZRGBSA-N",
                        "coordinateReferenceSystem": "http://www.opengis.net/def/crs/EPSG/0/4979",
                        "value": 5.5,
                        "component": "x",
                        "stringValue": "ok",
                        "booleanValue": false,
                        "hexBinaryValue": "0A1b",
                        "uriValue": "https://example.com/v",
                        "minValue": 1,
                        "maxValue": 9,
                        "meanValue": 5,
                        "sDev": 0.5,
                        "percRank": 50,
                        "percValue": 5,
                        "uom": "CEL",
                        "example:reportExt": {"a": [1]}
                    }
                ],
                "example:elementExt": 1
            }
        ],
        "ilmd": {"example:bestBefore": "2025-01-01", "https://example.com/ns/lot": {"a": 1}},
        "example:eventExt": {"nested": ["x", 1]}
    });
    let other_events = json!([
        {"type": "AggregationEvent", "eventTime": "2024-03-01T10:00:00Z",
         "eventTimeZoneOffset": "+00:00", "action": "DELETE", "parentID": "urn:epc:id:sscc:4012345.0000000001",
         "persistentDisposition": "anything goes here"},
        {"type": "AssociationEvent", "eventTime": "2024-03-01T10:00:00Z",
         "eventTimeZoneOffset": "-05:00", "action": "ADD", "parentID": "urn:epc:id:grai:4012345.55555.1",
         "childQuantityList": [{"epcClass": "urn:epc:idpat:sgtin:4012345.011111.*", "quantity": 1}]},
        {"type": "TransactionEvent", "eventTime": "2024-03-01T10:00:00Z",
         "eventTimeZoneOffset": "+14:00", "action": "DELETE",
         "bizTransactionList": [{"bizTransaction": "urn:example:bt:1"}]},
        {"type": "TransactionEvent", "eventTime": "2024-03-01T10:00:00Z",
         "eventTimeZoneOffset": "+14:00", "action": "ADD", "epcList": ["urn:example:a", "urn:example:a"],
         "bizTransactionList": [{"type": "https://example.com/btt/x", "bizTransaction": "urn:example:bt:1"}]},
        {"type": "TransformationEvent", "eventTime": "2024-03-01T10:00:00Z",
         "eventTimeZoneOffset": "-14:00", "transformationID": "urn:example:t:1",
         "inputEPCList": ["urn:epc:id:sgtin:4012345.011111.1"]},
        {"type": "https://example.com/events/Inspection", "eventTime": "2024-03-01T10:00:00Z",
         "eventTimeZoneOffset": "+00:00", "whatever": [1, {"b": null}], "action": 42}
    ]);
    let mut events = vec![object_event];
    events.extend(other_events.as_array().cloned().unwrap_or_default());
    vec![
        (
            "seed: document with master data".to_owned(),
            json!({
                "@context": context,
                "type": "EPCISDocument",
                "schemaVersion": "2.0",
                "creationDate": "2024-03-01T10:00:00Z",
                "id": "urn:uuid:6d2b9e1c-8c8e-4f0e-9a36-1f7c6f0e2b11",
                "instanceIdentifier": "1234",
                "sender": "urn:epc:id:pgln:4012345.00000",
                "receiver": "urn:epc:id:pgln:4012345.00001",
                "example:documentExt": {"a": 1},
                "epcisHeader": {
                    "epcisMasterData": {"vocabularyList": vocabulary_list, "example:mdExt": 1},
                    "example:headerExt": "x"
                },
                "epcisBody": {"eventList": events, "example:bodyExt": 1}
            }),
        ),
        (
            "seed: query document".to_owned(),
            json!({
                "@context": context,
                "type": "EPCISQueryDocument",
                "schemaVersion": "2.0",
                "creationDate": "2024-03-01T10:00:00Z",
                "epcisBody": {
                    "queryResults": {
                        "queryName": "SimpleEventQuery",
                        "subscriptionID": "sub-1",
                        "resultsBody": {"eventList": [], "vocabularyList": vocabulary_list}
                    }
                }
            }),
        ),
    ]
}

/// The events of `doc` as standalone documents, with the document's `@context`.
fn standalone_events(doc: &Value) -> Vec<Value> {
    let context = doc.get("@context").cloned().unwrap_or(Value::Null);
    doc.pointer("/epcisBody/eventList")
        .and_then(Value::as_array)
        .map(|events| {
            events
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    if let Value::Object(m) = &mut e {
                        m.insert("@context".to_owned(), context.clone());
                    }
                    e
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn check_schema_agrees_with_the_schema() {
    let schema = validate_common::schema();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the EPCIS schema does not compile: {e}"));
    // The validator really enforces the formats (and the schema's lookahead patterns).
    let (_, first) = &validate_common::examples()[0];
    for (pointer, value, valid) in [
        ("/creationDate", "2024-02-30T10:00:00Z", false),
        ("/creationDate", "2024-02-29t10:00:00z", true),
        ("/creationDate", "2016-12-31T23:59:60Z", true),
        ("/creationDate", "2016-12-31T12:59:60Z", false),
        ("/epcisBody/eventList/0/eventID", "urn:uuid:x y", false),
        ("/epcisBody/eventList/0/eventID", "no-scheme", false),
        (
            "/epcisBody/eventList/0/bizStep",
            "urn:epcglobal:cbv:bizstep:shipping",
            false,
        ),
        (
            "/epcisBody/eventList/0/bizStep",
            "https://ref.gs1.org/cbv/BizStep-shipping",
            true,
        ),
    ] {
        let m = replaced(first, pointer, json!(value));
        assert!(m.pointer(pointer).is_some(), "{pointer}");
        assert_eq!(
            validator.is_valid(&m),
            valid,
            "validator: {pointer} := {value:?}"
        );
        assert_eq!(
            check_schema(&m).is_empty(),
            valid,
            "check_schema: {pointer} := {value:?}"
        );
    }
    let mut corpus = Corpus {
        validator: &validator,
        total: 0,
        schema_valid: 0,
        disagreements: Vec::new(),
    };
    let mut rng = Rng(0x5EED_E9C1_5000_0001);
    let started = Instant::now();
    let mut examples = validate_common::examples();
    assert_eq!(examples.len(), validate_common::EXAMPLE_COUNT);
    examples.extend(seeds());
    for (name, doc) in &examples {
        corpus.mutate(name, doc, &mut rng);
        for (i, event) in standalone_events(doc).iter().enumerate() {
            let source = format!("{name} event {i} standalone");
            corpus.check(&source, "unchanged", event);
            if let Value::Object(m) = event {
                for k in m.keys() {
                    let mut e: Map<String, Value> = m.clone();
                    e.shift_remove(k);
                    corpus.check(&source, &format!("delete /{k}"), &Value::Object(e));
                }
            }
        }
    }
    // Whole-document edge cases.
    for doc in [
        json!(null),
        json!([]),
        json!({}),
        json!({"type": 5}),
        json!({"type": "EPCISDocument"}),
        json!({"type": "EPCISQueryDocument", "@context": [], "epcisBody": {}}),
        json!({"type": "urn:example:Event", "@context": {}, "eventTime": "2024-01-01T00:00:00Z",
               "eventTimeZoneOffset": "+00:00", "anything": [1, 2]}),
        json!({"type": "Custom", "@context": {}, "eventTime": "2024-01-01T00:00:00Z",
               "eventTimeZoneOffset": "+00:00"}),
    ] {
        corpus.check("hand-made", &doc.to_string(), &doc);
    }
    let elapsed = started.elapsed();
    let agree = corpus.total - corpus.disagreements.len();
    println!(
        "{} mutants ({} valid per the schema, {} invalid); check_schema agrees on {agree}; \
         {:.1} s",
        corpus.total,
        corpus.schema_valid,
        corpus.total - corpus.schema_valid,
        elapsed.as_secs_f64()
    );
    assert!(
        corpus.total > 5_000,
        "the corpus shrank to {}",
        corpus.total
    );
    assert!(
        corpus.disagreements.is_empty(),
        "{} disagreements, the first ones:\n{}",
        corpus.disagreements.len(),
        corpus
            .disagreements
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
