//! The CBV tables of `waybill_epcis::cbv` are exactly the vocabularies of
//! `shared/conformance/epcis/cbv-vocabulary.json` and the enumerations of the EPCIS 2.0.1
//! JSON schema, and every term round-trips through its URI forms.

mod validate_common;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use waybill_epcis::cbv::{self, Vocabulary};

fn strings(v: Option<&Value>, what: &str) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{what}: not an array"))
        .iter()
        .map(|x| {
            x.as_str()
                .unwrap_or_else(|| panic!("{what}: {x} is not a string"))
                .to_owned()
        })
        .collect()
}

fn table(terms: &[&str]) -> BTreeSet<String> {
    let set: BTreeSet<String> = terms.iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(set.len(), terms.len(), "a table repeats a term");
    set
}

/// (name in cbv-vocabulary.json, name in the schema's definitions, table)
fn tables() -> Vec<(&'static str, &'static str, &'static [&'static str])> {
    vec![
        ("bizStep", "bizStep", cbv::BIZ_STEPS),
        ("disposition", "disposition", cbv::DISPOSITIONS),
        (
            "bizTransactionType",
            "bizTransaction-type",
            cbv::BIZ_TRANSACTION_TYPES,
        ),
        ("sourceDestType", "source-dest-type", cbv::SOURCE_DEST_TYPES),
        ("errorReason", "error-reason", cbv::ERROR_REASONS),
        ("measurementType", "measurementType", cbv::MEASUREMENT_TYPES),
        (
            "sensorAlertType",
            "sensorAlertType",
            cbv::SENSOR_ALERT_TYPES,
        ),
        ("component", "component", cbv::COMPONENTS),
        ("action", "action", cbv::ACTIONS),
    ]
}

#[test]
fn tables_equal_the_vocabulary_file() {
    let file = validate_common::read_json(
        &Path::new(validate_common::CONFORMANCE).join("epcis/cbv-vocabulary.json"),
    );
    let vocabularies = file
        .get("vocabularies")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("cbv-vocabulary.json has no `vocabularies` object"));
    let ours: BTreeSet<&str> = tables().iter().map(|v| v.0).collect();
    let theirs: BTreeSet<&str> = vocabularies.keys().map(String::as_str).collect();
    assert_eq!(ours, theirs, "vocabularies covered");
    for (name, _, terms) in tables() {
        let entry = &vocabularies[name];
        let expected = strings(entry.get("values"), name);
        assert_eq!(table(terms), expected, "{name}");
        assert_eq!(
            entry.get("count").and_then(Value::as_u64),
            Some(terms.len() as u64),
            "{name} count"
        );
    }
    for (name, vocab) in [
        ("bizStep", cbv::BIZ_STEP),
        ("disposition", cbv::DISPOSITION),
        ("bizTransactionType", cbv::BIZ_TRANSACTION_TYPE),
        ("sourceDestType", cbv::SOURCE_DEST_TYPE),
        ("errorReason", cbv::ERROR_REASON),
    ] {
        let entry = &vocabularies[name];
        assert_eq!(
            entry.get("web_uri_prefix").and_then(Value::as_str),
            Some(vocab.web_base),
            "{name} web URI prefix"
        );
        assert_eq!(
            entry.get("urn_prefix").and_then(Value::as_str),
            vocab.urn_base,
            "{name} URN prefix"
        );
    }
}

#[test]
fn tables_equal_the_schema_enumerations() {
    let schema = validate_common::schema();
    for (_, definition, terms) in tables() {
        let def = &schema["definitions"][definition];
        // Either {"enum": [...]} directly or anyOf [other URI, {"enum": [...]}].
        let enumeration = def.get("enum").or_else(|| {
            def.get("anyOf")
                .and_then(Value::as_array)
                .and_then(|alts| alts.iter().find_map(|a| a.get("enum")))
        });
        assert_eq!(
            table(terms),
            strings(enumeration, definition),
            "{definition}"
        );
    }
}

/// A lookup function of `cbv`.
type Lookup = fn(&str) -> Option<&'static str>;

#[test]
fn every_term_round_trips_through_its_uri_forms() {
    let lookups: [(Vocabulary, Lookup); 8] = [
        (cbv::BIZ_STEP, cbv::bizstep),
        (cbv::DISPOSITION, cbv::disposition),
        (cbv::BIZ_TRANSACTION_TYPE, cbv::biz_transaction_type),
        (cbv::SOURCE_DEST_TYPE, cbv::source_dest_type),
        (cbv::ERROR_REASON, cbv::error_reason),
        (cbv::COMPONENT, cbv::component),
        (cbv::MEASUREMENT_TYPE, cbv::measurement_type),
        (cbv::SENSOR_ALERT_TYPE, cbv::sensor_alert_type),
    ];
    let mut checked = 0;
    for (vocab, lookup) in lookups {
        for term in vocab.terms {
            assert_eq!(lookup(term), Some(*term));
            let web = vocab
                .web_uri(term)
                .unwrap_or_else(|| panic!("{term}: no web URI"));
            assert_eq!(lookup(&web), Some(*term), "{web}");
            assert_eq!(lookup(&format!("{}{term}", vocab.curie_base)), Some(*term));
            if let Some(urn) = vocab.urn(term) {
                assert_eq!(lookup(&urn), Some(*term), "{urn}");
                assert!(cbv::is_cbv_uri(&urn));
            }
            assert_eq!(lookup(&format!("{term}x")), None);
            assert_eq!(
                lookup(&term.to_uppercase()).is_some(),
                *term == term.to_uppercase()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 41 + 33 + 13 + 3 + 2 + 14 + 72 + 2);
    // A term of one vocabulary is not a term of another.
    assert_eq!(cbv::bizstep("https://ref.gs1.org/cbv/Disp-active"), None);
    assert_eq!(cbv::disposition("urn:epcglobal:cbv:bizstep:shipping"), None);
    assert_eq!(cbv::bizstep("https://example.com/BizStep-shipping"), None);
}
