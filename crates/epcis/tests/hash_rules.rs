//! Event Hash ID rules and errors on hand-made events.

use serde_json::{json, Map, Value};
use waybill_epcis::context::Namespaces;
use waybill_epcis::epc::EpcError;
use waybill_epcis::hash_id::{
    declared_ignore_fields, event_hash_id, hash_digest, hash_id_of_pre_hash, pre_hash_string,
    pre_hash_string_ignoring, ExactDocument, HashIdError, EXTENSION_DEPTH_MAX,
};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn base() -> Map<String, Value> {
    object(json!({
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T12:00:00.000Z",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"}
    }))
}

fn with(field: &str, value: Value) -> Map<String, Value> {
    let mut event = base();
    event.insert(field.to_owned(), value);
    event
}

fn ns() -> Namespaces {
    Namespaces::from_context(&json!([
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"example": "https://ns.example.com/epcis/"}
    ]))
}

fn hash(event: &Map<String, Value>) -> String {
    event_hash_id(event, &ns()).unwrap_or_else(|e| panic!("{e}"))
}

fn pre(event: &Map<String, Value>) -> String {
    pre_hash_string(event, &ns()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn equivalent_spellings_hash_alike() {
    let reference = hash(&base());
    for (field, value) in [
        ("bizStep", json!("https://ref.gs1.org/cbv/BizStep-shipping")),
        ("bizStep", json!("urn:epcglobal:cbv:bizstep:shipping")),
        ("bizStep", json!("cbv:BizStep-shipping")),
        ("bizStep", json!("  shipping ")),
        ("eventTime", json!("2024-03-01T13:00:00+01:00")),
        ("eventTime", json!("2024-03-01T11:30:00.0001-00:30")),
        (
            "epcList",
            json!(["https://brand.example/01/10614141073464/21/2017?x=1"]),
        ),
        (
            "readPoint",
            json!({"id": "https://id.gs1.org/gln/0614141007776"}),
        ),
        (
            "readPoint",
            json!({"id": "urn:epc:id:sgln:0614141.00777.0", "rdfs:comment": "ignored"}),
        ),
        ("recordTime", json!("2030-01-01T00:00:00Z")),
        (
            "eventID",
            json!("urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"),
        ),
        (
            "errorDeclaration",
            json!({"declarationTime": "2024-03-02T00:00:00Z", "reason": "incorrect_data"}),
        ),
        ("comment", json!("a note")),
        ("disposition", json!("")),
        ("epcClassList", Value::Null),
        ("bizTransactionList", json!([])),
    ] {
        let event = with(field, value.clone());
        let rendered = pre(&event);
        assert_eq!(hash(&event), reference, "{field} = {value}: {rendered}");
    }
}

#[test]
fn quantities_and_numbers() {
    let quantity = |q: Value| {
        with(
            "quantityList",
            json!([{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": q, "uom": "KGM"}]),
        )
    };
    let reference = pre(&quantity(json!(452)));
    assert!(
        reference.contains(
            "quantityListquantityElementepcClass=https://id.gs1.org/01/04012345123456/10/998877quantity=452uom=KGM"
        ),
        "{reference}"
    );
    for q in [json!(452.0), json!(4.52e2), json!(452u64)] {
        assert_eq!(pre(&quantity(q.clone())), reference, "{q}");
    }
    assert_ne!(pre(&quantity(json!(452.5))), reference);
    // A string is hashed as written, not re-spelled as a number (the pre-hash string
    // is text: the string "452" and the number 452 both read `quantity=452`).
    assert_eq!(pre(&quantity(json!("452"))), reference);
    for q in [json!("452.000"), json!("+452"), json!("4.52e2")] {
        assert_ne!(pre(&quantity(q.clone())), reference, "{q}");
    }
    // Small numbers in plain notation, not `5e-05`.
    assert!(pre(&quantity(json!(0.00005))).contains("quantity=0.00005uom"));
}

/// Numbers beyond what a `u64` or an `f64` holds are hashed in their exact decimal
/// form when the event is read from its text.
#[test]
fn numbers_beyond_u64_and_f64_are_hashed_exactly() {
    let text = |q: &str| {
        format!(
            r#"{{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                             {{"example": "https://ns.example.com/epcis/"}}],
                "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": "2024-03-01T12:00:00Z",
                "epcisBody": {{"eventList": [{{
                  "type": "ObjectEvent", "eventTime": "2024-03-01T12:00:00.000Z",
                  "eventTimeZoneOffset": "+01:00", "action": "OBSERVE",
                  "quantityList": [{{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                                    "quantity": {q}, "uom": "KGM"}}],
                  "example:reading": {q}
                }}]}}}}"#
        )
    };
    let pre_of = |q: &str| {
        let doc = ExactDocument::parse(&text(q)).expect("valid JSON");
        let event = doc.events()[0].as_object().expect("an event").clone();
        doc.pre_hash_string(&event).expect("hashes")
    };
    for (written, exact) in [
        // Beyond u64::MAX (18446744073709551615).
        ("340123450000000000017", "340123450000000000017"),
        ("340123450000000000024", "340123450000000000024"),
        // Beyond f64 precision (17 significant digits).
        ("12345678901234567.25", "12345678901234567.25"),
        ("0.10000000000000000001", "0.10000000000000000001"),
        (
            "1.0000000000000000000000000001e25",
            "10000000000000000000000000.001",
        ),
        ("3.40123450000000000017E20", "340123450000000000017"),
        ("452.000", "452"),
        ("-0.0", "0"),
    ] {
        let pre = pre_of(written);
        assert!(
            pre.contains(&format!("quantity={exact}uom=KGM"))
                && pre.ends_with(&format!("{{https://ns.example.com/epcis/}}reading={exact}")),
            "{written}: {pre}"
        );
    }
    assert_ne!(
        hash_id_of_pre_hash(&pre_of("340123450000000000017")),
        hash_id_of_pre_hash(&pre_of("340123450000000000024"))
    );
    assert_ne!(
        pre_of("0.10000000000000000001"),
        pre_of("0.10000000000000000002")
    );
    // Too far from 1 to write out: refused, not rounded.
    let doc = ExactDocument::parse(&text("1e-500")).expect("valid JSON");
    let event = doc.events()[0].as_object().expect("an event").clone();
    let err = doc.pre_hash_string(&event).expect_err("too many zeros");
    assert!(
        matches!(&err, HashIdError::NumberTooLong { path, .. } if path == "quantityList[0].quantity"),
        "{err}"
    );
}

#[test]
fn lists_are_sorted_and_typed_members_put_type_first() {
    let event = with(
        "bizTransactionList",
        json!([
            {"bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:B", "type": "po"},
            {"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:A"}
        ]),
    );
    assert!(pre(&event).ends_with(
        "bizTransactionListtype=https://ref.gs1.org/cbv/BTT-invbizTransaction=urn:epcglobal:cbv:bt:0614141000005:A\
         type=https://ref.gs1.org/cbv/BTT-pobizTransaction=urn:epcglobal:cbv:bt:0614141000005:B"
    ));
}

#[test]
fn tail_order_follows_the_reference_vectors() {
    let mut event = base();
    event.insert(
        "sourceList".into(),
        json!([{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00000"}]),
    );
    event.insert(
        "ilmd".into(),
        json!({"example:bestBefore": "2025-01-01", "example:grade": "A"}),
    );
    event.insert(
        "example:z".into(),
        json!({"example:b": "2", "example:a": ["1", "0"]}),
    );
    event.insert(
        "sensorElementList".into(),
        json!([{"sensorReport": [{"type": "Temperature", "value": 4.5, "uom": "CEL"}], "example:s": "x"}]),
    );
    let rendered = pre(&event);
    let tail = rendered
        .split_once("readPointid=https://id.gs1.org/414/0614141007776")
        .expect("readPoint")
        .1;
    assert_eq!(
        tail,
        "sensorElementListsensorElementsensorReporttype=https://gs1.org/voc/Temperaturevalue=4.5uom=CEL\
         {https://ns.example.com/epcis/}s=x\
         ilmd{https://ns.example.com/epcis/}bestBefore=2025-01-01{https://ns.example.com/epcis/}grade=A\
         sourceListtype=https://ref.gs1.org/cbv/SDT-owning_partysource=https://id.gs1.org/417/0614141000005\
         {https://ns.example.com/epcis/}z{https://ns.example.com/epcis/}a=0{https://ns.example.com/epcis/}a=1\
         {https://ns.example.com/epcis/}b=2"
    );
}

#[test]
fn event_context_and_ignore_fields() {
    let mut event = with("example:f", json!("v"));
    assert!(pre(&event).ends_with("{https://ns.example.com/epcis/}f=v"));
    event.insert(
        "@context".into(),
        json!({"example": "https://other.example/"}),
    );
    assert!(pre(&event).ends_with("{https://other.example/}f=v"));

    let doc = object(json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                     {"example": "https://ns.example.com/epcis/", "repo": "https://repo.example/"}],
        "repo:ignoreFields": ["example:f", "repo:hash"],
        "epcisBody": {"eventList": []}
    }));
    let doc_ns = Namespaces::from_context(&doc["@context"]);
    let ignored = declared_ignore_fields(&doc, &doc_ns);
    assert_eq!(
        ignored,
        [
            "https://ns.example.com/epcis/f",
            "https://repo.example/hash"
        ]
    );
    let event = with("example:f", json!("v"));
    assert_eq!(
        pre_hash_string_ignoring(&event, &doc_ns, &ignored).expect("hashes"),
        pre_hash_string(&base(), &doc_ns).expect("hashes")
    );
    assert_eq!(
        hash_digest(&base(), &doc_ns)
            .map(hex::encode)
            .expect("hashes"),
        hash(&base())
            .trim_start_matches("ni:///sha-256;")
            .trim_end_matches("?ver=CBV2.0")
    );
}

#[test]
fn errors_say_where() {
    let mut no_type = base();
    no_type.remove("type");
    assert_eq!(
        pre_hash_string(&no_type, &ns()),
        Err(HashIdError::MissingType)
    );

    let err = pre_hash_string(&with("eventTime", json!("2024-03-01T12:00:00")), &ns())
        .expect_err("no offset");
    assert!(
        matches!(&err, HashIdError::Timestamp { path, .. } if path == "eventTime"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "eventTime: timestamp \"2024-03-01T12:00:00\" has no UTC offset (Z or +hh:mm/-hh:mm)"
    );

    let err = pre_hash_string(
        &with(
            "epcList",
            json!(["urn:uuid:1", "https://id.gs1.org/01/10614141073465/21/1"]),
        ),
        &ns(),
    )
    .expect_err("check digit");
    assert!(
        matches!(&err, HashIdError::Identifier { path, source: EpcError::CheckDigit { .. } } if path == "epcList[1]"),
        "{err}"
    );

    // Outside identifier fields a malformed GS1 identifier is hashed as written.
    let lenient = with(
        "bizTransactionList",
        json!([{"type": "po", "bizTransaction": "https://id.gs1.org/253/4012345000055"}]),
    );
    assert!(pre(&lenient).contains("bizTransaction=https://id.gs1.org/253/4012345000055"));

    let err =
        pre_hash_string(&with("epcList", json!("urn:uuid:1")), &ns()).expect_err("not a list");
    assert!(matches!(
        err,
        HashIdError::UnexpectedValue {
            expected: "an array of identifiers",
            ..
        }
    ));
    let err =
        pre_hash_string(&with("readPoint", json!("urn:uuid:1")), &ns()).expect_err("not an object");
    assert_eq!(
        err.to_string(),
        "readPoint: expected an object, found a string"
    );

    let mut deep = json!("leaf");
    for _ in 0..=EXTENSION_DEPTH_MAX {
        deep = json!({ "example:n": deep });
    }
    let err = pre_hash_string(&with("example:n", deep), &ns()).expect_err("too deep");
    assert!(matches!(err, HashIdError::TooDeep { .. }), "{err}");
}

/// Issue 12: two events that differ only in a numeric-looking extension string
/// collided when such strings were canonicalised through a float.
#[test]
fn numeric_strings_stay_strings_weigh_ticket() {
    let a = with("example:weighTicket", json!("340123450000000017"));
    let b = with("example:weighTicket", json!("340123450000000024"));
    assert!(
        pre(&a).ends_with("{https://ns.example.com/epcis/}weighTicket=340123450000000017"),
        "{}",
        pre(&a)
    );
    assert_ne!(pre(&a), pre(&b));
    assert_ne!(hash(&a), hash(&b));
    // A string is hashed as written (trimmed), never re-spelled as a number.
    for (written, rendered) in [
        ("0042", "0042"),
        ("1.50", "1.50"),
        ("+7", "+7"),
        ("1e3", "1e3"),
        (" 12 ", "12"),
    ] {
        let e = with("example:code", json!(written));
        assert!(
            pre(&e).ends_with(&format!("{{https://ns.example.com/epcis/}}code={rendered}")),
            "{written}: {}",
            pre(&e)
        );
    }
}

/// `ignoreFields` (the published vector `epcisDocHavingEventWithIgnoreFields`) leaves
/// out user extension fields only: naming a standard field changes nothing.
#[test]
fn ignore_fields_leave_out_user_extensions_only() {
    let text = |ignore: &str| {
        format!(
            r#"{{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                             {{"example": "https://ns.example.com/epcis/",
                               "repo": "https://repository-x.example.com/"}}],
                "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": "2024-03-01T12:00:00Z",
                "repo:ignoreFields": {ignore},
                "epcisBody": {{"eventList": [{{
                  "type": "ObjectEvent", "eventTime": "2024-03-01T12:00:00.000Z",
                  "eventTimeZoneOffset": "+01:00", "action": "ADD",
                  "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
                  "bizStep": "commissioning",
                  "bizTransactionList": [{{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO-1"}}],
                  "ilmd": {{"cbvmda:lotNumber": "LOT-1"}},
                  "example:captureID": "cc90bbe4",
                  "repo:hash": "ni:///sha-256;00?ver=CBV2.0"
                }}]}}}}"#
        )
    };
    let pre_of = |ignore: &str| {
        let doc = ExactDocument::parse(&text(ignore)).expect("valid JSON");
        let event = doc.events()[0].as_object().expect("an event").clone();
        doc.pre_hash_string(&event).expect("hashes")
    };
    let all = pre_of("[]");
    assert!(
        all.contains("{https://ns.example.com/epcis/}captureID=cc90bbe4"),
        "{all}"
    );
    let without = pre_of(r#"["example:captureID", "repo:hash"]"#);
    assert!(
        !without.contains("captureID") && !without.contains("repository-x"),
        "{without}"
    );
    assert_eq!(
        without,
        pre_of(
            r#"["https://ns.example.com/epcis/captureID", "https://repository-x.example.com/hash"]"#
        ),
        "named by prefix or by full IRI"
    );
    // Standard fields stay in, whatever the document says.
    let standard = pre_of(
        r#"["ilmd", "bizTransactionList", "epcList", "bizStep", "eventTime", "cbvmda:lotNumber", "type"]"#,
    );
    assert_eq!(standard, all);
    assert!(
        standard.contains("ilmd{urn:epcglobal:cbv:mda:}lotNumber=LOT-1"),
        "{standard}"
    );
    assert!(standard.contains("bizTransactionListtype="), "{standard}");
}

/// A sealed field is hashed as its commitment: the same commitment under other
/// ciphertext, nonce or recipients, or detached, hashes alike (and as the bare
/// commitment would); another commitment does not; a malformed seal hashes as it
/// stands.
#[test]
fn a_sealed_field_hashes_as_its_commitment() {
    let commitment = "ab".repeat(32);
    let sealed = |ct: &str, orgs: &[&str], commitment: &str| {
        json!({"wb:sealed": {
            "suite": "waybill-seal/1",
            "category": "financial",
            "wraps": orgs.iter().map(|o| json!({"org": o, "kv": 1, "enc": "AA==", "ct": "AA=="})).collect::<Vec<_>>(),
            "nonce": ct, "ct": ct, "commitment": commitment
        }})
    };
    let a = hash(&with("example:price", sealed("AAAA", &["a"], &commitment)));
    let b = hash(&with(
        "example:price",
        sealed("BBBB", &["a", "b"], &commitment),
    ));
    assert_eq!(a, b, "ciphertext and recipients do not count");
    assert_eq!(
        pre(&with("example:price", sealed("AAAA", &["a"], &commitment))),
        pre(&with("example:price", json!(commitment))),
        "hashed as if the value were the commitment"
    );
    assert_ne!(
        a,
        hash(&with(
            "example:price",
            sealed("AAAA", &["a"], &"cd".repeat(32))
        )),
        "another commitment, another ID"
    );
    // Inside ILMD too.
    let in_ilmd = |c: &str| {
        let mut e = base();
        e.insert(
            "ilmd".into(),
            json!({"example:price": sealed("AAAA", &["a"], c)}),
        );
        hash(&e)
    };
    assert_eq!(in_ilmd(&commitment), {
        let mut e = base();
        e.insert(
            "ilmd".into(),
            json!({"example:price": sealed("ZZZZ", &["q"], &commitment)}),
        );
        hash(&e)
    });
    assert_ne!(in_ilmd(&commitment), in_ilmd(&"cd".repeat(32)));
    // Not a seal (a second member, or no 64-hex commitment): hashed as an object.
    let mut two = sealed("AAAA", &["a"], &commitment);
    two["other"] = json!(1);
    assert_ne!(hash(&with("example:price", two)), a);
    assert_ne!(
        hash(&with("example:price", sealed("AAAA", &["a"], "short"))),
        hash(&with("example:price", sealed("BBBB", &["a"], "short"))),
    );
    // Detached (erasable: the ciphertext kept off the chain, then purged): the same ID
    // as the field sealed inline, so erasing a field changes no Event Hash ID.
    let detached = json!({"wb:sealed": {
        "suite": "waybill-seal/1",
        "category": "financial", "recipients": [{"org": "a", "kv": 1}],
        "private": "ef".repeat(32), "commitment": commitment
    }});
    assert_eq!(hash(&with("example:price", detached)), a);
}
