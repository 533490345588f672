//! Problems point at the right place (RFC 6901 pointers), all of them are collected, and
//! Waybill's own rules catch what the schema lets through.

use serde_json::{json, Value};
use waybill_epcis::validate::{
    check_schema, check_waybill_rules, validate_document, validate_event, Problem,
};

fn event(n: u32) -> Value {
    json!({
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T10:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [format!("urn:epc:id:sgtin:4012345.011111.{n}")],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:4012345.011111.L1", "quantity": 3, "uom": "KGM"},
            {"epcClass": "https://id.gs1.org/01/04012345111118/10/L2", "quantity": 0}
        ],
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:example:po:1"}],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"}]
    })
}

fn document() -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T10:00:00Z",
        "epcisBody": {"eventList": [event(1), event(2), event(3)]}
    })
}

fn with(pointer: &str, value: Value) -> Value {
    let mut doc = document();
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the test document")) = value;
    doc
}

fn pointers(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.pointer.as_str()).collect()
}

#[test]
fn the_base_document_is_valid() {
    assert_eq!(validate_document(&document()), Ok(()));
}

#[test]
fn a_bad_read_point_id_in_event_2() {
    let doc = with("/epcisBody/eventList/2/readPoint/id", json!("not a uri"));
    let problems = check_schema(&doc);
    assert_eq!(pointers(&problems), ["/epcisBody/eventList/2/readPoint/id"]);
    assert!(problems[0].message.contains("URI"), "{}", problems[0]);
    assert!(problems[0].message.contains("readPoint"), "{}", problems[0]);
    assert_eq!(
        problems[0].to_string(),
        format!(
            "/epcisBody/eventList/2/readPoint/id: {}",
            problems[0].message
        )
    );
}

#[test]
fn pointers_for_common_mistakes() {
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "/epcisBody/eventList/0/eventTime",
            json!("2024-02-30T10:00:00Z"),
            "/epcisBody/eventList/0/eventTime",
            "eventTime",
        ),
        (
            "/epcisBody/eventList/1/eventTimeZoneOffset",
            json!("+1:00"),
            "/epcisBody/eventList/1/eventTimeZoneOffset",
            "eventTimeZoneOffset",
        ),
        (
            "/epcisBody/eventList/1/quantityList/0/uom",
            json!("kg"),
            "/epcisBody/eventList/1/quantityList/0/uom",
            "uom",
        ),
        (
            "/epcisBody/eventList/0/action",
            json!("UPDATE"),
            "/epcisBody/eventList/0/action",
            "action",
        ),
        (
            "/epcisBody/eventList/2/bizStep",
            json!("urn:epcglobal:cbv:bizstep:shipping"),
            "/epcisBody/eventList/2/bizStep",
            "bizStep",
        ),
        (
            "/epcisBody/eventList/0/sourceList/0/type",
            json!("owner"),
            "/epcisBody/eventList/0/sourceList/0/type",
            "source/destination type",
        ),
        (
            "/creationDate",
            json!("2024-03-01T10:00:00"),
            "/creationDate",
            "creationDate",
        ),
        (
            "/epcisBody/eventList/1/type",
            json!("Event"),
            "/epcisBody/eventList/1/type",
            "event type",
        ),
        (
            "/epcisBody/eventList/0/quantityList/0/quantity",
            json!("3"),
            "/epcisBody/eventList/0/quantityList/0/quantity",
            "quantity",
        ),
    ];
    for (at, value, expected, field) in cases {
        let problems = check_schema(&with(at, value.clone()));
        assert_eq!(
            pointers(&problems),
            [expected],
            "{at} := {value}: {problems:?}"
        );
        assert!(
            problems[0].message.contains(field),
            "{at}: message does not name {field}: {}",
            problems[0].message
        );
    }
}

#[test]
fn missing_and_extra_properties() {
    let mut doc = document();
    let e1 = doc
        .pointer_mut("/epcisBody/eventList/1")
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no event 1"));
    e1.shift_remove("eventTime");
    e1.insert("a/b~c".to_owned(), json!(1));
    e1.insert("example:ok".to_owned(), json!(1));
    let q = doc
        .pointer_mut("/epcisBody/eventList/0/quantityList/1")
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no quantity element"));
    q.insert("example:notHere".to_owned(), json!(1));
    let problems = check_schema(&doc);
    assert_eq!(
        pointers(&problems),
        [
            "/epcisBody/eventList/0/quantityList/1/example:notHere",
            "/epcisBody/eventList/1",
            "/epcisBody/eventList/1/a~1b~0c",
        ],
        "{problems:#?}"
    );
    assert!(problems[1].message.contains("`eventTime`"));
}

#[test]
fn all_problems_are_collected() {
    let mut doc = with(
        "/epcisBody/eventList/0/epcList",
        json!(["urn:x:a", "urn:x:b", "urn:x:a"]),
    );
    *doc.pointer_mut("/schemaVersion")
        .unwrap_or_else(|| panic!()) = json!("v2");
    *doc.pointer_mut("/epcisBody/eventList/2/action")
        .unwrap_or_else(|| panic!()) = json!("ADD");
    doc.pointer_mut("/epcisBody/eventList/2")
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!())
        .insert("ilmd".to_owned(), json!({"lot": "1"}));
    let problems = check_schema(&doc);
    assert_eq!(
        pointers(&problems),
        [
            "/schemaVersion",
            "/epcisBody/eventList/0/epcList/2",
            "/epcisBody/eventList/2/ilmd/lot",
        ],
        "{problems:#?}"
    );
}

#[test]
fn event_rules_that_span_properties() {
    let mut doc = document();
    let e0 = doc
        .pointer_mut("/epcisBody/eventList/0")
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!());
    e0.insert("ilmd".to_owned(), json!({"example:lot": "1"}));
    e0.shift_remove("epcList");
    e0.insert("quantityList".to_owned(), json!([]));
    let problems = check_schema(&doc);
    assert_eq!(
        pointers(&problems),
        ["/epcisBody/eventList/0/ilmd", "/epcisBody/eventList/0"],
        "{problems:#?}"
    );
    assert!(problems[0].message.contains("ADD"));
    assert!(problems[1].message.contains("epcList"));
}

#[test]
fn validate_event_reports_below_the_given_pointer() {
    let mut e = event(7);
    e["readPoint"]["id"] = json!("bad id");
    e["epcList"] = json!(["urn:epc:id:sgtin:4012345.01111.7"]);
    let problems = validate_event(&e, "/events/9");
    assert_eq!(
        pointers(&problems),
        ["/events/9/readPoint/id", "/events/9/epcList/0"],
        "{problems:#?}"
    );
    // No @context needed for an event inside a document; a standalone document needs it.
    assert!(validate_event(&event(1), "").is_empty());
    assert_eq!(pointers(&check_schema(&event(1))), [""]);
}

#[test]
fn problems_serialize_as_pointer_and_message() {
    let p = Problem {
        pointer: "/a/0".to_owned(),
        message: "why".to_owned(),
    };
    assert_eq!(
        serde_json::to_value(&p).unwrap_or_default(),
        json!({"pointer": "/a/0", "message": "why"})
    );
    assert_eq!(p.to_string(), "/a/0: why");
}

// --- Waybill's own rules ---

/// `doc` passes the schema and breaks exactly Waybill's rules at `expected`.
fn waybill_only(doc: &Value, expected: &[&str]) -> Vec<Problem> {
    assert_eq!(check_schema(doc), vec![], "the schema should accept it");
    let problems = check_waybill_rules(doc);
    assert_eq!(pointers(&problems), expected, "{problems:#?}");
    let all = validate_document(doc).err().unwrap_or_default();
    assert_eq!(all, problems);
    problems
}

#[test]
fn wrong_check_digits_in_digital_link_uris() {
    let p = waybill_only(
        &with(
            "/epcisBody/eventList/0/epcList/0",
            json!("https://id.gs1.org/01/09521234543214/21/x"),
        ),
        &["/epcisBody/eventList/0/epcList/0"],
    );
    assert!(p[0].message.contains("check digit"), "{}", p[0]);
    assert!(p[0].message.contains("expected 3"), "{}", p[0]);
    waybill_only(
        &with(
            "/epcisBody/eventList/1/readPoint/id",
            json!("https://example.com/loc/414/9506000134308"),
        ),
        &["/epcisBody/eventList/1/readPoint/id"],
    );
    waybill_only(
        &with(
            "/epcisBody/eventList/2/epcList/0",
            json!("https://id.gs1.org/00/106141412345678901"),
        ),
        &["/epcisBody/eventList/2/epcList/0"],
    );
    // 13-digit GTIN (zero-suppressed) is not accepted in a Digital Link URI.
    waybill_only(
        &with(
            "/epcisBody/eventList/2/epcList/0",
            json!("https://id.gs1.org/01/9521234543213"),
        ),
        &["/epcisBody/eventList/2/epcList/0"],
    );
    // Correct keys pass, wherever the URI is.
    for ok in [
        "https://id.gs1.org/01/09521234543213/21/x",
        "https://brand.example.com/some/path/01/09521234543213/10/ABC",
        "https://id.gs1.org/00/106141412345678908",
        "https://id.gs1.org/414/9506000134307/254/1",
        "https://id.gs1.org/8003/040123450007718765",
        "https://example.com/01/not-a-digital-link/extra",
        "https://example.com/01/not-a-digital-link",
        "https://example.com/archive/2024/01/15",
    ] {
        let doc = with("/epcisBody/eventList/0/epcList/0", json!(ok));
        assert_eq!(validate_document(&doc), Ok(()), "{ok}");
    }
}

#[test]
fn epc_urn_component_lengths() {
    for bad in [
        "urn:epc:id:sgtin:4012345.01111.1",
        "urn:epc:id:sgtin:4012345.011111",
        "urn:epc:id:sscc:4012345.000000001",
        "urn:epc:id:sgln:4012345.0001.0",
        "urn:epc:id:sgtin:12345.0111111.1",
        "urn:epc:id:sgtin:4012345.011111.123456789012345678901",
        "urn:epc:id:giai:4012345.1234567890123456789012345",
    ] {
        let doc = with("/epcisBody/eventList/1/epcList/0", json!(bad));
        waybill_only(&doc, &["/epcisBody/eventList/1/epcList/0"]);
    }
    waybill_only(
        &with(
            "/epcisBody/eventList/1/quantityList/0/epcClass",
            json!("urn:epc:class:lgtin:4012345.0111111.L1"),
        ),
        &["/epcisBody/eventList/1/quantityList/0/epcClass"],
    );
}

#[test]
fn cbv_values_must_be_cbv_terms() {
    let cases = [
        (
            "/epcisBody/eventList/0/bizStep",
            "https://ref.gs1.org/cbv/BizStep-shiping",
        ),
        ("/epcisBody/eventList/0/bizStep", "cbv:BizStep-shiping"),
        (
            "/epcisBody/eventList/0/bizStep",
            "https://ref.gs1.org/cbv/Disp-in_transit",
        ),
        ("/epcisBody/eventList/1/disposition", "cbv:Disp-intransit"),
        (
            "/epcisBody/eventList/2/bizTransactionList/0/type",
            "https://ref.gs1.org/cbv/BTT-order",
        ),
        (
            "/epcisBody/eventList/2/sourceList/0/type",
            "https://ref.gs1.org/cbv/SDT-owner",
        ),
    ];
    for (at, value) in cases {
        let p = waybill_only(&with(at, json!(value)), &[at]);
        assert!(p[0].message.contains(value), "{}", p[0]);
    }
    // A bare word outside the vocabulary: the schema's enumeration and our rule both say so.
    let doc = with("/epcisBody/eventList/0/bizStep", json!("shiping"));
    assert_eq!(
        pointers(&check_schema(&doc)),
        ["/epcisBody/eventList/0/bizStep"]
    );
    assert_eq!(
        pointers(&check_waybill_rules(&doc)),
        ["/epcisBody/eventList/0/bizStep"]
    );
    // Standard terms in any form and private URIs of other domains pass.
    for (at, value) in [
        (
            "/epcisBody/eventList/0/bizStep",
            "https://ref.gs1.org/cbv/BizStep-receiving",
        ),
        (
            "/epcisBody/eventList/0/bizStep",
            "https://example.com/bizstep/counting",
        ),
        (
            "/epcisBody/eventList/0/bizStep",
            "urn:example:bizstep:counting",
        ),
        ("/epcisBody/eventList/1/disposition", "cbv:Disp-active"),
        (
            "/epcisBody/eventList/2/bizTransactionList/0/type",
            "urn:example:btt:contract",
        ),
    ] {
        assert_eq!(
            validate_document(&with(at, json!(value))),
            Ok(()),
            "{at} := {value}"
        );
    }
}

#[test]
fn error_reasons_and_sensor_vocabularies() {
    let mut doc = document();
    let e0 = doc
        .pointer_mut("/epcisBody/eventList/0")
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!());
    e0.insert(
        "errorDeclaration".to_owned(),
        json!({"declarationTime": "2024-03-02T00:00:00Z", "reason": "https://ref.gs1.org/cbv/ER-typo"}),
    );
    e0.insert(
        "sensorElementList".to_owned(),
        json!([{"sensorReport": [
            {"type": "gs1:Temprature", "value": 1},
            {"type": "gs1:Temperature", "exception": "gs1:ALARM", "component": "cbv:Comp-w"},
            {"type": "example:MyType", "component": "example:w"}
        ]}]),
    );
    waybill_only(
        &doc,
        &[
            "/epcisBody/eventList/0/errorDeclaration/reason",
            "/epcisBody/eventList/0/sensorElementList/0/sensorReport/0/type",
            "/epcisBody/eventList/0/sensorElementList/0/sensorReport/1/exception",
            "/epcisBody/eventList/0/sensorElementList/0/sensorReport/1/component",
        ],
    );
}

#[test]
fn quantities_are_not_negative() {
    let p = waybill_only(
        &with(
            "/epcisBody/eventList/2/quantityList/1/quantity",
            json!(-0.5),
        ),
        &["/epcisBody/eventList/2/quantityList/1/quantity"],
    );
    assert!(p[0].message.contains("negative"));
}

#[test]
fn digital_link_vectors_that_gs1_accepts_pass_our_rules() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/digital-link/dl_parse_uri.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (mut accepted, mut rejected, mut flagged) = (0, 0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let uri = v["uri"].as_str().unwrap_or_default();
        let default_options = v["options"].as_object().is_some_and(|o| o.is_empty());
        if !default_options {
            continue;
        }
        let mut doc = document();
        doc["epcisBody"]["eventList"][0]["example:link"] = json!(uri);
        let problems = check_waybill_rules(&doc);
        if v["valid"].as_bool() == Some(true) {
            accepted += 1;
            assert_eq!(problems, vec![], "{uri} is a valid Digital Link URI");
        } else {
            rejected += 1;
            flagged += usize::from(!problems.is_empty());
        }
    }
    println!(
        "{accepted} valid Digital Link URIs pass; {flagged} of {rejected} invalid ones are \
         flagged (the others fail on syntax the EPCIS rules do not check)"
    );
    assert!(accepted > 40, "only {accepted} valid vectors");
    assert!(flagged > 0);
}

/// Event times lie from 1970-01-01 to one day past the current time: at each limit and
/// one millisecond past it.
#[test]
fn event_times_from_1970_to_one_day_ahead() {
    use waybill_epcis::validate::{check_document_times, check_event_times};
    // 2024-03-01T09:00:00Z, the base document's eventTime.
    let now: i64 = 1_709_283_600_000;
    assert_eq!(check_document_times(&document(), now), []);
    let day = 86_400_000;
    let at = |time: &str| with("/epcisBody/eventList/1/eventTime", json!(time));
    for ok in [
        "2024-03-02T09:00:00.000Z",
        "2024-03-02T10:00:00.000+01:00",
        "2024-03-02T09:00:00.0004Z",
        "1970-01-01T00:00:00Z",
        "1970-01-01T01:00:00+01:00",
        "1969-12-31T23:59:59.9995Z",
    ] {
        assert_eq!(check_document_times(&at(ok), now), [], "{ok}");
    }
    for (bad, when) in [
        ("2024-03-02T09:00:00.001Z", "after"),
        ("2024-03-02T09:00:00.0005Z", "after"),
        ("2024-03-02T10:00:00.001+01:00", "after"),
        ("2030-01-01T00:00:00Z", "after"),
        ("1969-12-31T23:59:59.999Z", "before"),
        ("1970-01-01T00:59:59.999+01:00", "before"),
        ("0001-01-01T00:00:00Z", "before"),
    ] {
        let problems = check_document_times(&at(bad), now);
        assert_eq!(
            pointers(&problems),
            ["/epcisBody/eventList/1/eventTime"],
            "{bad}"
        );
        let message = &problems[0].message;
        for needle in [
            bad,
            when,
            "1970-01-01T00:00:00.000Z to 2024-03-02T09:00:00.000Z",
            "2024-03-01T09:00:00.000Z",
        ] {
            assert!(
                message.contains(needle),
                "{bad}: `{needle}` missing from {message}"
            );
        }
    }
    // Declaration and sensor times too; recordTime is the ledger's to set.
    let mut e = event(1);
    e["recordTime"] = json!("2099-01-01T00:00:00Z");
    e["errorDeclaration"] = json!({"declarationTime": "2024-03-03T00:00:00Z"});
    e["sensorElementList"] = json!([{
        "sensorMetadata": {"time": "1960-01-01T00:00:00Z", "startTime": "2024-03-01T00:00:00Z",
                           "endTime": "2024-03-09T00:00:00Z"},
        "sensorReport": [{"type": "Temperature", "value": 4, "uom": "CEL"},
                         {"type": "Temperature", "value": 5, "uom": "CEL", "time": "2024-03-05T00:00:00Z"}]
    }]);
    assert_eq!(
        pointers(&check_event_times(&e, "/e", now)),
        [
            "/e/errorDeclaration/declarationTime",
            "/e/sensorElementList/0/sensorMetadata/time",
            "/e/sensorElementList/0/sensorMetadata/endTime",
            "/e/sensorElementList/0/sensorReport/1/time",
        ]
    );
    assert_eq!(
        check_event_times(&e, "/e", now + 7 * day).len(),
        1,
        "only 1960 is left"
    );
    // Not a date-time: the schema's problem, not this one's.
    assert_eq!(
        check_event_times(&json!({"eventTime": "soon"}), "", now),
        []
    );
}
