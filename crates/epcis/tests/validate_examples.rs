//! Every official EPCIS 2.0 JSON example is valid: schema rules and Waybill's rules.

mod validate_common;

use serde_json::Value;
use waybill_epcis::validate::{check_schema, validate_document, validate_event};

#[test]
fn every_example_validates() {
    let examples = validate_common::examples();
    assert_eq!(examples.len(), validate_common::EXAMPLE_COUNT);
    let mut failures = Vec::new();
    let mut events = 0;
    for (name, doc) in &examples {
        if let Err(problems) = validate_document(doc) {
            for p in problems {
                failures.push(format!("{name}: {p}"));
            }
        }
        let list = doc
            .pointer("/epcisBody/eventList")
            .or_else(|| doc.pointer("/epcisBody/queryResults/resultsBody/eventList"))
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{name}: no eventList"));
        for (i, event) in list.iter().enumerate() {
            events += 1;
            for p in validate_event(event, &format!("/epcisBody/eventList/{i}")) {
                failures.push(format!("{name} (event alone): {p}"));
            }
        }
    }
    println!("{} examples, {events} events validated", examples.len());
    assert_eq!(events, 56, "the README counts 56 events");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn standalone_events_need_their_context() {
    for (name, doc) in validate_common::examples() {
        let context = doc.get("@context").cloned().unwrap_or(Value::Null);
        let Some(list) = doc
            .pointer("/epcisBody/eventList")
            .and_then(Value::as_array)
        else {
            continue;
        };
        for event in list {
            let mut alone = event.clone();
            if let Value::Object(m) = &mut alone {
                m.shift_remove("@context");
            }
            assert!(
                !check_schema(&alone).is_empty(),
                "{name}: an event at the root without @context passed"
            );
            if let Value::Object(m) = &mut alone {
                m.insert("@context".to_owned(), context.clone());
            }
            assert_eq!(check_schema(&alone), vec![], "{name}");
        }
    }
}
