//! EPCIS Event Hash IDs against the published vectors and the GS1 example documents,
//! read at run time from the shared conformance directory.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use waybill_epcis::context::Namespaces;
use waybill_epcis::hash_id::{
    declared_ignore_fields, event_hash_id, hash_id_of_pre_hash, pre_hash_string,
    pre_hash_string_ignoring,
};

const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance");

fn conformance(rel: &str) -> PathBuf {
    Path::new(CONFORMANCE).join(rel)
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The events of an EPCIS document or query document.
fn events(doc: &Value) -> Vec<Map<String, Value>> {
    let body = &doc["epcisBody"];
    let list = if let Some(list) = body.get("eventList") {
        list.clone()
    } else if let Some(list) = body.pointer("/queryResults/resultsBody/eventList") {
        list.clone()
    } else if let Some(event) = body.get("event") {
        Value::Array(vec![event.clone()])
    } else {
        panic!("document has no events");
    };
    list.as_array()
        .expect("eventList is an array")
        .iter()
        .map(|e| e.as_object().expect("event is an object").clone())
        .collect()
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// A readable account of where two pre-hash strings part ways.
fn diff(expected: &str, actual: &str) -> String {
    let common = expected
        .char_indices()
        .zip(actual.chars())
        .find(|((_, a), b)| a != b)
        .map(|((i, _), _)| i)
        .unwrap_or_else(|| expected.len().min(actual.len()));
    let from = expected[..common]
        .char_indices()
        .rev()
        .nth(60)
        .map_or(0, |(i, _)| i);
    let tail = |s: &str| {
        s.get(common..)
            .unwrap_or("")
            .chars()
            .take(120)
            .collect::<String>()
    };
    format!(
        "  differ at byte {common}, after …{}\n    expected: {}\n    actual:   {}",
        &expected[from..common],
        tail(expected),
        tail(actual)
    )
}

#[test]
fn every_vector_reproduces_its_pre_hash_and_hash() {
    let dir = conformance("epcis/event-hash-id");
    let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonld"))
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 15,
        "expected the 15 vector files, found {}",
        inputs.len()
    );

    let mut failures = Vec::new();
    let mut inconsistent = Vec::new();
    let mut n_events = 0;
    for input in &inputs {
        let name = input
            .file_stem()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let doc = read_json(input);
        let ns = Namespaces::from_context(&doc["@context"]);
        let ignored = declared_ignore_fields(doc.as_object().expect("document object"), &ns);
        let expected_hashes = lines(&input.with_extension("hashes"));
        let expected_pre = lines(&input.with_extension("prehashes"));
        let events = events(&doc);
        assert_eq!(
            events.len(),
            expected_hashes.len(),
            "{name}: events vs .hashes lines"
        );
        assert_eq!(
            events.len(),
            expected_pre.len(),
            "{name}: events vs .prehashes lines"
        );
        for (i, event) in events.iter().enumerate() {
            n_events += 1;
            let pre = match pre_hash_string_ignoring(event, &ns, &ignored) {
                Ok(pre) => pre,
                Err(e) => {
                    failures.push(format!("{name}[{i}]: error {e}"));
                    continue;
                }
            };
            let hash = hash_id_of_pre_hash(&pre);
            // A vector line whose pre-hash does not hash to its own hash line is damaged
            // (upstream ships two such lines); only its hash line is authoritative.
            let vector_consistent = hash_id_of_pre_hash(&expected_pre[i]) == expected_hashes[i];
            if !vector_consistent {
                inconsistent.push(format!("{name}[{i}]"));
            } else if pre != expected_pre[i] {
                failures.push(format!(
                    "{name}[{i}]: pre-hash differs\n{}",
                    diff(&expected_pre[i], &pre)
                ));
            }
            if hash != expected_hashes[i] {
                failures.push(format!(
                    "{name}[{i}]: hash {hash}, expected {}\n  our pre-hash: {pre}",
                    expected_hashes[i]
                ));
            }
        }
    }
    if !inconsistent.is_empty() {
        eprintln!("vector pre-hash lines that do not match their own hash (checked by hash only): {inconsistent:?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {n_events} events failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every event of the 47 GS1 example documents, with its document's namespaces.
fn example_events() -> Vec<(String, Namespaces, Map<String, Value>)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "jsonld") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&conformance("epcis/examples/JSON"), &mut files);
    files.sort();
    assert_eq!(files.len(), 47, "the GS1 example documents");
    let mut out = Vec::new();
    for file in files {
        let doc = read_json(&file);
        let ns = Namespaces::from_context(&doc["@context"]);
        let name = file
            .strip_prefix(CONFORMANCE)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (i, event) in events(&doc).into_iter().enumerate() {
            out.push((format!("{name}[{i}]"), ns.clone(), event));
        }
    }
    out
}

#[test]
fn every_example_event_has_a_hash_id() {
    let events = example_events();
    assert_eq!(events.len(), 56, "events in the GS1 examples");
    let mut failures = Vec::new();
    for (name, ns, event) in &events {
        match event_hash_id(event, ns) {
            Ok(id) => {
                assert!(
                    id.starts_with("ni:///sha-256;") && id.ends_with("?ver=CBV2.0"),
                    "{id}"
                );
                assert_eq!(id.len(), "ni:///sha-256;".len() + 64 + "?ver=CBV2.0".len());
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The value with every object's keys in reverse order and every array reversed
/// (except `@context`, whose order is meaningful).
fn shuffled(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .rev()
                .map(|(k, v)| {
                    let v = if k == "@context" {
                        v.clone()
                    } else {
                        shuffled(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().rev().map(shuffled).collect()),
        other => other.clone(),
    }
}

#[test]
fn hashes_ignore_key_order_list_order_and_whitespace() {
    for (name, ns, event) in example_events() {
        let original = event_hash_id(&event, &ns).expect("hashes");
        let reordered = shuffled(&Value::Object(event.clone()));
        for text in [
            serde_json::to_string(&reordered).expect("serializes"),
            serde_json::to_string_pretty(&reordered).expect("serializes"),
            serde_json::to_string_pretty(&event)
                .expect("serializes")
                .replace('\n', "\n\t  "),
        ] {
            let reparsed: Map<String, Value> = serde_json::from_str(&text).expect("reparses");
            assert_eq!(
                event_hash_id(&reparsed, &ns).expect("hashes"),
                original,
                "{name}"
            );
        }
    }
}

/// Whether a path leads into a part of the event that the hash leaves out.
fn not_hashed(path: &[String]) -> bool {
    path.first().is_some_and(|k| {
        ["eventID", "recordTime", "errorDeclaration", "@context"].contains(&k.as_str())
    }) || path.iter().any(|k| k == "rdfs:comment" || k == "comment")
}

/// The paths (object keys and array indices) of every scalar leaf.
fn leaves(value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Null => {}
        _ => out.push(path.clone()),
    }
}

fn leaf_mut<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match v {
        Value::Object(map) => map.get_mut(step).expect("key exists"),
        Value::Array(items) => &mut items[step.parse::<usize>().expect("index")],
        _ => panic!("path goes through a scalar"),
    })
}

/// Different values to try in place of `value`; some may make the event invalid.
fn mutations(value: &Value) -> Vec<Value> {
    match value {
        Value::Bool(b) => vec![Value::Bool(!b)],
        Value::Number(n) => vec![serde_json::json!(n.as_f64().expect("finite") + 1.0)],
        Value::String(s) => {
            let mut out = vec![Value::String(format!("{s}9"))];
            if let Some(i) = s.find(|c: char| c.is_ascii_digit()) {
                let d = s.as_bytes()[i] - b'0';
                let mut bumped = s.clone();
                bumped.replace_range(i..=i, &((d + 1) % 10).to_string());
                out.push(Value::String(bumped));
            }
            out.push(Value::String("urn:example:mutated".into()));
            out
        }
        _ => Vec::new(),
    }
}

#[test]
fn changing_any_hashed_value_changes_the_hash() {
    let mut checked = 0;
    for (name, ns, event) in example_events() {
        let original = event_hash_id(&event, &ns).expect("hashes");
        let event = Value::Object(event);
        let mut paths = Vec::new();
        leaves(&event, &mut Vec::new(), &mut paths);
        for path in paths.iter().filter(|p| !not_hashed(p)) {
            let old = leaf_mut(&mut event.clone(), path).clone();
            let changed = mutations(&old).into_iter().any(|new| {
                let mut mutated = event.clone();
                *leaf_mut(&mut mutated, path) = new;
                let map = mutated.as_object().expect("object");
                event_hash_id(map, &ns).is_ok_and(|h| h != original)
            });
            assert!(
                changed,
                "{name}: changing {} ({old}) never changed the hash",
                path.join(".")
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} values checked");
}

#[test]
fn pre_hash_of_a_minimal_event() {
    let event: Map<String, Value> = serde_json::from_str(
        r#"{"type": "ObjectEvent", "eventTime": "2024-01-01T00:00:00+00:00",
            "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
            "epcList": [], "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
            "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"}}"#,
    )
    .expect("valid JSON");
    assert_eq!(
        pre_hash_string(&event, &Namespaces::standard()).expect("hashes"),
        "eventType=ObjectEventeventTime=2024-01-01T00:00:00.000ZeventTimeZoneOffset=+00:00\
         action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shipping\
         readPointid=https://id.gs1.org/414/0614141007776"
    );
}
