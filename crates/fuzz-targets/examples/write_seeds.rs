//! Write every target's seed corpus (see `waybill_fuzz_targets::corpus`) into
//! `OUT/<target>/`, one file per input: the starting corpus of `scripts/fuzz.sh`.
//!
//! Usage: cargo run -p waybill-fuzz-targets --example write_seeds -- OUT

use std::path::{Path, PathBuf};

fn main() -> Result<(), String> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: write_seeds OUT")?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let conformance = repo.join("../shared/conformance");
    if !conformance.is_dir() {
        return Err(format!("{} is missing", conformance.display()));
    }
    for (name, _) in waybill_fuzz_targets::TARGETS {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let inputs = waybill_fuzz_targets::corpus(&repo, &conformance, name);
        for (i, (_, data)) in inputs.iter().enumerate() {
            let file = dir.join(format!("seed-{i:05}"));
            std::fs::write(&file, data).map_err(|e| format!("{}: {e}", file.display()))?;
        }
        println!("{name}: {} seeds in {}", inputs.len(), dir.display());
    }
    Ok(())
}
