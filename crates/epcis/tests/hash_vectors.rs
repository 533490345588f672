//! EPCIS Event Hash IDs against the published vectors and the GS1 example documents,
//! read at run time from the shared conformance directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use waybill_epcis::context::Namespaces;
use waybill_epcis::hash_id::json::{self, Json, JsonNumber};
use waybill_epcis::hash_id::{
    declared_ignore_fields, event_hash_id, hash_id_of_pre_hash, pre_hash_string,
    pre_hash_string_ignoring, ExactDocument,
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
        // The ledger's way: from the text, numbers as written, `ignoreFields` honoured.
        let exact = ExactDocument::parse(&fs::read_to_string(input).expect("read"))
            .expect("the vector is JSON");
        assert_eq!(exact.ignored_fields(), ignored.as_slice(), "{name}");
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
            let exact_event = exact.events()[i].as_object().expect("an event");
            assert_eq!(
                exact.pre_hash_string(exact_event).as_ref(),
                Ok(&pre),
                "{name}[{i}]: from the text"
            );
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

// ---------------------------------------------------------------------------------------
// Property: the ID changes exactly when the canonical pre-hash string does, every
// change of a hashed value changes it, and the algorithm's equivalences keep it.
// ---------------------------------------------------------------------------------------

/// A small deterministic generator (SplitMix64), so that a failure replays from its
/// seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "a choice among none");
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

/// One step of a path into a JSON value.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn json_at_mut<'a>(value: &'a mut Json, path: &[Step]) -> &'a mut Json {
    path.iter().fold(value, |v, step| match (v, step) {
        (Json::Object(m), Step::Key(k)) => m.get_mut(k).expect("key exists"),
        (Json::Array(items), Step::Index(i)) => &mut items[*i],
        _ => panic!("the path does not fit the value"),
    })
}

fn show(path: &[Step]) -> String {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether the algorithm leaves this path out of the hash (the examples declare no
/// `ignoreFields`).
fn path_not_hashed(path: &[Step]) -> bool {
    fn key(s: &Step) -> Option<&str> {
        match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        }
    }
    path.first()
        .and_then(key)
        .is_some_and(|k| ["eventID", "recordTime", "errorDeclaration"].contains(&k))
        || path
            .iter()
            .filter_map(key)
            .any(|k| k.starts_with('@') || k == "comment" || k == "rdfs:comment")
}

/// Every path below `value` (scalars, arrays and objects), parents before children.
fn json_paths(value: &Json, path: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, Json)>) {
    out.push((path.clone(), value.clone()));
    match value {
        Json::Object(m) => {
            for (k, v) in m.iter() {
                if k == "@context" {
                    continue;
                }
                path.push(Step::Key(k.to_owned()));
                json_paths(v, path, out);
                path.pop();
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                json_paths(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A string of 18 digits (an SSCC-like weigh ticket number).
fn digits(rng: &mut Rng, n: usize) -> String {
    let mut s: String = (0..n)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect();
    if s.starts_with('0') {
        s.replace_range(0..1, "3");
    }
    s
}

/// `s` with its digit at `i` changed.
fn other_digit(s: &str, i: usize, rng: &mut Rng) -> String {
    let d = s.as_bytes()[i] - b'0';
    let new = (d + 1 + rng.below(9) as u8) % 10;
    let mut out = s.to_owned();
    out.replace_range(i..=i, &new.to_string());
    out
}

/// Another literal for the same number: exponent shifted, zeros added.
fn respelled(exact: &str, rng: &mut Rng) -> String {
    let (sign, body) = match exact.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", exact),
    };
    if body == "0" {
        return rng.pick(&["0.0", "-0", "0e7", "-0.000E-3"]).to_string();
    }
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let all = format!("{int}{frac}");
    // value = significant × 10^scale (leading zeros of `all` carry no value)
    let significant = all.trim_start_matches('0');
    let scale = -(frac.len() as i64);
    match rng.below(3) {
        0 => format!("{sign}{significant}e{scale}"),
        1 => {
            let (first, rest) = significant.split_at(1);
            let exp = scale + rest.len() as i64;
            let rest = if rest.is_empty() { "0" } else { rest };
            format!("{sign}{first}.{rest}000E{exp:+}")
        }
        _ => {
            if frac.is_empty() {
                format!("{sign}{int}.000")
            } else {
                format!("{sign}{int}.{frac}0")
            }
        }
    }
}

/// The same instant as `text`, written with another offset and a fraction that rounds
/// to the same millisecond.
fn same_instant(text: &str, rng: &mut Rng) -> Option<String> {
    let ms = waybill_epcis::time::parse_ms(text)?;
    let offset_min: i64 = match rng.below(4) {
        0 => 0,
        1 => *rng.pick(&[-840, -600, -330, -60, 60, 330, 345, 480, 840]),
        _ => rng.below(1681) as i64 - 840,
    };
    // Write `ms` itself, or 1 ms earlier with a 4th digit that rounds up.
    let (written_ms, tail) = match rng.below(4) {
        0 => (ms, String::new()),
        1 => (ms, rng.pick(&["0", "4", "49999", "0001"]).to_string()),
        2 => (ms - 1, rng.pick(&["5", "9", "50", "999"]).to_string()),
        _ => (ms, "NOFRACTION".to_owned()),
    };
    let local = written_ms + offset_min * 60_000;
    let days = local.div_euclid(86_400_000);
    let of_day = local.rem_euclid(86_400_000);
    let (y, m, d) = waybill_epcis::time::civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60
    );
    let millis = of_day % 1000;
    if tail == "NOFRACTION" {
        if millis != 0 {
            out.push_str(&format!(".{millis:03}"));
        }
    } else {
        out.push_str(&format!(".{millis:03}{tail}"));
    }
    if offset_min == 0 && rng.coin() {
        out.push('Z');
    } else {
        let sign = if offset_min < 0 { '-' } else { '+' };
        let a = offset_min.abs();
        out.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
    }
    Some(out)
}

/// The CBV spellings of a bizStep or disposition term, if `value` is one of them.
fn vocab_spellings(field: &str, value: &str) -> Option<Vec<String>> {
    let (web, urn) = match field {
        "bizStep" => ("BizStep-", "urn:epcglobal:cbv:bizstep:"),
        "disposition" => ("Disp-", "urn:epcglobal:cbv:disp:"),
        _ => return None,
    };
    let word = value
        .strip_prefix(&format!("https://ref.gs1.org/cbv/{web}"))
        .or_else(|| value.strip_prefix(urn))
        .or_else(|| value.strip_prefix(&format!("cbv:{web}")))
        .unwrap_or(value);
    if word.is_empty() || word.contains([':', '/']) {
        return None;
    }
    Some(vec![
        word.to_owned(),
        format!("https://ref.gs1.org/cbv/{web}{word}"),
        format!("{urn}{word}"),
        format!("cbv:{web}{word}"),
    ])
}

/// What a mutation is expected to do to the pre-hash string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    Change,
    Keep,
}

/// The kinds of mutation, each with its expected effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A hashed string gets a leading `Q`.
    PrefixString,
    /// A hashed number changes value (often beyond 17 significant digits).
    ChangeNumber,
    /// A hashed boolean flips.
    FlipBool,
    /// Two events differing only in one digit of an 18-digit numeric extension string.
    NumericStrings,
    /// Two events differing only in an extension number beyond `u64`.
    HugeNumbers,
    /// A string gets leading and trailing whitespace.
    PadWhitespace,
    /// An array's members or an object's members in another order.
    Reorder,
    /// A timestamp written in another offset, its fraction rounding to the same ms.
    SameInstant,
    /// eventID or recordTime added, changed or removed.
    EventIdRecordTime,
    /// A bizStep or disposition in another CBV spelling.
    VocabSpelling,
    /// A number written another way (exponent, zeros).
    RespellNumber,
}

impl Kind {
    const ALL: [Kind; 11] = [
        Kind::PrefixString,
        Kind::ChangeNumber,
        Kind::FlipBool,
        Kind::NumericStrings,
        Kind::HugeNumbers,
        Kind::PadWhitespace,
        Kind::Reorder,
        Kind::SameInstant,
        Kind::EventIdRecordTime,
        Kind::VocabSpelling,
        Kind::RespellNumber,
    ];
    fn expect(self) -> Expect {
        match self {
            Kind::PrefixString
            | Kind::ChangeNumber
            | Kind::FlipBool
            | Kind::NumericStrings
            | Kind::HugeNumbers => Expect::Change,
            _ => Expect::Keep,
        }
    }
}

/// The two events to compare for `kind` (the first `None` for the example itself), or
/// `None` when the event offers no place for it.
fn mutate(kind: Kind, event: &Json, rng: &mut Rng) -> Option<(Option<Json>, Json, String)> {
    let mut paths = Vec::new();
    json_paths(event, &mut Vec::new(), &mut paths);
    let hashed: Vec<&(Vec<Step>, Json)> =
        paths.iter().filter(|(p, _)| !path_not_hashed(p)).collect();
    let mut changed = event.clone();
    let extension = "https://ns.example.com/epcis/weighTicket";
    let put = |e: &mut Json, v: Json| {
        if let Json::Object(m) = e {
            m.insert(extension, v);
        }
    };
    let what = match kind {
        Kind::PrefixString | Kind::PadWhitespace => {
            let strings: Vec<_> = hashed
                .iter()
                .filter(|(_, v)| matches!(v, Json::String(_)))
                .collect();
            if strings.is_empty() {
                return None;
            }
            let (path, value) = *rng.pick(strings.as_slice());
            let s = value.as_str()?;
            let new = if kind == Kind::PrefixString {
                format!("Q{s}")
            } else {
                let pad = |rng: &mut Rng| {
                    (0..1 + rng.below(3))
                        .map(|_| *rng.pick(&[' ', '\t', '\n', '\r']))
                        .collect::<String>()
                };
                format!("{}{s}{}", pad(rng), pad(rng))
            };
            *json_at_mut(&mut changed, path) = Json::String(new.clone());
            format!("{} = {new:?}", show(path))
        }
        Kind::ChangeNumber | Kind::RespellNumber => {
            let numbers: Vec<_> = hashed
                .iter()
                .filter(|(_, v)| matches!(v, Json::Number(_)))
                .collect();
            if numbers.is_empty() {
                return None;
            }
            let (path, value) = *rng.pick(numbers.as_slice());
            let Json::Number(n) = value else { return None };
            let exact = n.exact_decimal(400)?;
            let literal = if kind == Kind::RespellNumber {
                respelled(&exact, rng)
            } else if rng.coin() {
                // Beyond what an f64 holds.
                let tail = format!("{}{}", "0".repeat(17), 1 + rng.below(9));
                if exact.contains('.') {
                    format!("{exact}{tail}")
                } else {
                    format!("{exact}.{tail}")
                }
            } else if exact == "0" {
                "1".to_owned()
            } else if let Some(positive) = exact.strip_prefix('-') {
                positive.to_owned()
            } else {
                format!("-{exact}")
            };
            let number = JsonNumber::new(&literal).expect("a number literal");
            *json_at_mut(&mut changed, path) = Json::Number(number);
            format!("{} = {} (was {})", show(path), literal, n.literal())
        }
        Kind::FlipBool => {
            let bools: Vec<_> = hashed
                .iter()
                .filter(|(_, v)| matches!(v, Json::Bool(_)))
                .collect();
            if bools.is_empty() {
                return None;
            }
            let (path, value) = *rng.pick(bools.as_slice());
            let Json::Bool(b) = value else { return None };
            *json_at_mut(&mut changed, path) = Json::Bool(!b);
            show(path)
        }
        Kind::NumericStrings => {
            let a = digits(rng, 18);
            // Mostly a digit past the 15th, which an f64 cannot tell apart.
            let i = if rng.below(4) == 0 {
                rng.below(18)
            } else {
                15 + rng.below(3)
            };
            let b = other_digit(&a, i, rng);
            let mut first = event.clone();
            put(&mut first, Json::String(a.clone()));
            put(&mut changed, Json::String(b.clone()));
            return Some((Some(first), changed, format!("weighTicket {a:?} vs {b:?}")));
        }
        Kind::HugeNumbers => {
            let n = 20 + rng.below(20);
            let a = digits(rng, n);
            let i = 17 + rng.below(a.len() - 17);
            let b = other_digit(&a, i, rng);
            let mut first = event.clone();
            put(
                &mut first,
                Json::Number(JsonNumber::new(&a).expect("digits")),
            );
            put(
                &mut changed,
                Json::Number(JsonNumber::new(&b).expect("digits")),
            );
            return Some((Some(first), changed, format!("weighTicket {a} vs {b}")));
        }
        Kind::Reorder => {
            let containers: Vec<_> = paths
                .iter()
                .filter(|(_, v)| match v {
                    Json::Array(items) => items.len() > 1,
                    Json::Object(m) => m.len() > 1,
                    _ => false,
                })
                .collect();
            let (path, _) = *rng.pick(containers.as_slice());
            match json_at_mut(&mut changed, path) {
                Json::Array(items) => {
                    for i in (1..items.len()).rev() {
                        let j = rng.below(i + 1);
                        items.swap(i, j);
                    }
                }
                Json::Object(m) => {
                    let mut order: Vec<usize> = (0..m.len()).collect();
                    for i in (1..order.len()).rev() {
                        let j = rng.below(i + 1);
                        order.swap(i, j);
                    }
                    m.reorder(&order);
                }
                _ => return None,
            }
            format!("reordered {}", show(path))
        }
        Kind::SameInstant => {
            let times: Vec<_> = hashed
                .iter()
                .filter(|(p, v)| {
                    let last = match p.last() {
                        Some(Step::Key(k)) => k.as_str(),
                        _ => return false,
                    };
                    matches!(v, Json::String(_))
                        && (p.len() == 1 && last == "eventTime"
                            || p.iter()
                                .any(|s| matches!(s, Step::Key(k) if k == "sensorElementList"))
                                && ["time", "startTime", "endTime"].contains(&last))
                })
                .collect();
            if times.is_empty() {
                return None;
            }
            let (path, value) = *rng.pick(times.as_slice());
            let new = same_instant(value.as_str()?, rng)?;
            *json_at_mut(&mut changed, path) = Json::String(new.clone());
            format!("{} = {new} (was {})", show(path), value.as_str()?)
        }
        Kind::EventIdRecordTime => {
            let Json::Object(m) = &mut changed else {
                return None;
            };
            let field = *rng.pick(&["eventID", "recordTime"]);
            if m.get(field).is_some() && rng.coin() {
                m.remove(field);
                format!("without {field}")
            } else {
                let value = if field == "eventID" {
                    format!(
                        "urn:uuid:{:08x}-0000-4000-8000-{:012x}",
                        rng.next() as u32,
                        rng.next() >> 16
                    )
                } else {
                    same_instant("2024-05-06T07:08:09.123Z", rng)?
                };
                m.insert(field, Json::String(value.clone()));
                format!("{field} = {value}")
            }
        }
        Kind::VocabSpelling => {
            let Json::Object(m) = &mut changed else {
                return None;
            };
            let field = *rng.pick(&["bizStep", "disposition"]);
            let spellings = vocab_spellings(field, m.get(field)?.as_str()?)?;
            let new = rng.pick(&spellings).clone();
            m.insert(field, Json::String(new.clone()));
            format!("{field} = {new}")
        }
    };
    Some((None, changed, what))
}

/// The pre-hash string and ID of `event`, read back from its JSON text (compact or
/// indented, at random) as the ledger reads it.
fn pre_and_id(doc: &ExactDocument, event: &Json, rng: &mut Rng) -> Option<(String, String)> {
    let text = if rng.coin() {
        event.to_json_string()
    } else {
        event.to_json_string_pretty()
    };
    let reread = json::parse(&text).expect("our JSON reads back");
    assert_eq!(&reread, event, "JSON text round trip");
    let pre = doc.pre_hash_string(reread.as_object()?).ok()?;
    let id = hash_id_of_pre_hash(&pre);
    Some((pre, id))
}

#[test]
fn the_id_changes_exactly_when_the_canonical_pre_hash_changes() {
    // More cases: WAYBILL_HASH_CASES=1000000 (scripts/long-checks.sh); another seed:
    // WAYBILL_HASH_SEED=n.
    let cases: usize = std::env::var("WAYBILL_HASH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("WAYBILL_HASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_0012);
    let mut rng = Rng(seed);

    let mut files = Vec::new();
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
    walk(&conformance("epcis/examples/JSON"), &mut files);
    files.sort();
    assert_eq!(files.len(), 47, "the GS1 example documents");
    let mut examples: Vec<(String, ExactDocument, Json)> = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("read");
        let doc = ExactDocument::parse(&text).expect("the example is JSON");
        for (i, event) in doc.events().iter().enumerate() {
            examples.push((
                format!("{}[{i}]", file.display()),
                doc.clone(),
                event.clone(),
            ));
        }
    }
    assert_eq!(examples.len(), 56);

    // Each example's own pre-hash string and ID, read from its text.
    let originals: Vec<(String, String)> = examples
        .iter()
        .map(|(name, doc, event)| {
            pre_and_id(doc, event, &mut rng).unwrap_or_else(|| panic!("{name} hashes"))
        })
        .collect();
    let mut done: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut attempts = 0;
    let mut checked = 0;
    while checked < cases {
        attempts += 1;
        assert!(
            attempts < 20 * cases,
            "too few mutations apply ({checked} of {attempts})"
        );
        let example = rng.below(examples.len());
        let (name, doc, event) = &examples[example];
        let kind = *rng.pick(&Kind::ALL);
        let Some((a, b, what)) = mutate(kind, event, &mut rng) else {
            continue;
        };
        let first = match a {
            None => Some(originals[example].clone()),
            Some(a) => pre_and_id(doc, &a, &mut rng),
        };
        // A mutation that makes the event unhashable (a broken identifier, a string
        // where a timestamp belongs) says nothing about equality; try another.
        let (Some((pre_a, id_a)), Some((pre_b, id_b))) = (first, pre_and_id(doc, &b, &mut rng))
        else {
            continue;
        };
        assert_eq!(
            pre_a != pre_b,
            id_a != id_b,
            "{name}: {what}: the ID must change exactly when the pre-hash does"
        );
        let expected = kind.expect();
        let got = if pre_a == pre_b {
            Expect::Keep
        } else {
            Expect::Change
        };
        assert_eq!(
            got, expected,
            "{name}: {kind:?} {what}\n  before: {pre_a}\n  after:  {pre_b}"
        );
        *done.entry(kind).or_default() += 1;
        checked += 1;
    }
    for kind in Kind::ALL {
        let n = done.get(&kind).copied().unwrap_or(0);
        assert!(
            n >= cases / 100,
            "{kind:?}: only {n} of {cases} cases (seed {seed}); {done:?}"
        );
    }
}
