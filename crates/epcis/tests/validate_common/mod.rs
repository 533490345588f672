//! Shared by the `validate_*` test binaries: where the conformance material is, and the
//! EPCIS examples and schema read from it at run time.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `shared/conformance` beside the project root.
pub const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance");

/// Number of example documents the conformance README promises.
pub const EXAMPLE_COUNT: usize = 47;

/// Reads and parses a JSON file, panicking with the path on failure.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The EPCIS 2.0.1 JSON schema.
pub fn schema() -> Value {
    read_json(&Path::new(CONFORMANCE).join("epcis/schema/epcis-json-schema.json"))
}

/// Every `*.jsonld` example under `epcis/examples/JSON`, as (relative path, document),
/// sorted by path so that everything derived from them is deterministic.
pub fn examples() -> Vec<(String, Value)> {
    let root = Path::new(CONFORMANCE).join("epcis/examples/JSON");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let name = f
                .strip_prefix(&root)
                .map_or_else(|_| f.display().to_string(), |r| r.display().to_string());
            let doc = read_json(&f);
            (name, doc)
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|x| x == "jsonld") {
            out.push(path);
        }
    }
}
