//! The hash-ID code's own JSON reader (`hash_id::json`) against `serde_json`: on the 47
//! GS1 example documents and seeded byte-level mutations of them, it accepts exactly
//! the texts `serde_json` accepts (except numbers beyond the range of an `f64`, which
//! only it can hold), reads the same values, and never panics.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use waybill_epcis::hash_id::json::{self, Json};

const EXAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/epcis/examples/JSON"
);

fn texts() -> Vec<(String, String)> {
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
    walk(Path::new(EXAMPLES), &mut files);
    files.sort();
    assert_eq!(files.len(), 47, "the GS1 example documents");
    files
        .into_iter()
        .map(|f| {
            let text = fs::read_to_string(&f).expect("read");
            (f.display().to_string(), text)
        })
        .collect()
}

/// SplitMix64: a failure replays from its seed.
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
        (self.next() % n as u64) as usize
    }
}

/// The two readers agree on `text`.
fn agree(name: &str, text: &str) {
    let ours = json::parse(text);
    let theirs = serde_json::from_str::<Value>(text);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => {
            assert_eq!(&a.to_value(), b, "{name}: the same values");
            assert_eq!(
                json::parse(&a.to_json_string()).as_ref(),
                Ok(a),
                "{name}: written and read back"
            );
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) if e.to_string().contains("number out of range") => {}
        _ => panic!("{name}: ours {ours:?}, serde_json {theirs:?}\n{text}"),
    }
}

#[test]
fn reads_what_serde_json_reads() {
    let texts = texts();
    for (name, text) in &texts {
        agree(name, text);
        let doc = json::parse(text).expect("an example is JSON");
        assert!(matches!(doc, Json::Object(_)), "{name}");
    }
    // Seeded mutations: a character deleted, repeated or replaced by one that matters
    // to the grammar.
    const ALPHABET: &[&str] = &[
        "{", "}", "[", "]", ",", ":", "\"", "\\", "-", "+", ".", "e", "E", "0", "1", "9", " ",
        "\n", "\t", "\u{1}", "n", "t", "f", "u", "\\u", "\\ud83d", "\\ude00", "é", "1e400",
    ];
    let cases: usize = std::env::var("WAYBILL_JSON_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let mut rng = Rng(0x5EED_0050);
    for case in 0..cases {
        let (name, text) = &texts[rng.below(texts.len())];
        let mut mutated = text.clone();
        for _ in 0..1 + rng.below(3) {
            let mut at = rng.below(mutated.len().max(1));
            while !mutated.is_char_boundary(at) {
                at -= 1;
            }
            let end = mutated[at..]
                .char_indices()
                .nth(1)
                .map_or(mutated.len(), |(i, _)| at + i);
            match rng.below(3) {
                0 => mutated.replace_range(at..end, ""),
                1 => {
                    let c = mutated[at..end].to_owned();
                    mutated.insert_str(at, &c);
                }
                _ => {
                    let with = ALPHABET[rng.below(ALPHABET.len())];
                    mutated.replace_range(at..end, with);
                }
            }
        }
        agree(&format!("{name} mutation {case}"), &mutated);
    }
}
