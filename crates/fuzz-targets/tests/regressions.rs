//! Every fuzz target over its seeds and over every input that once made it fail:
//! the committed seeds (`fuzz/seeds/<target>/`), the conformance data it reads
//! (`../shared/conformance`: the GS1 EPCIS examples, the Digital Link vectors), the
//! seeds generated here, and the regressions (`fuzz/regressions/<target>/`, one file
//! per crash or hang `scripts/fuzz.sh` found, kept after the fix). A target that
//! panics fails this test, naming the input.

use std::path::{Path, PathBuf};

use waybill_fuzz_targets::{corpus, files_in, generated_seeds, TARGETS};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn conformance() -> PathBuf {
    let dir = repo().join("../shared/conformance");
    assert!(
        dir.is_dir(),
        "{} is missing: the fuzz regression test reads the conformance data from it",
        dir.display()
    );
    dir
}

fn target(name: &str) -> fn(&[u8]) {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no target {name}"))
}

fn run(name: &str, label: &str, data: &[u8]) {
    let f = target(name);
    let outcome = std::panic::catch_unwind(|| f(data));
    assert!(outcome.is_ok(), "fuzz target {name} panicked on {label}");
}

#[test]
fn every_target_survives_its_seeds_and_past_crashes() {
    for (name, _) in TARGETS {
        let inputs = corpus(&repo(), &conformance(), name);
        assert!(!inputs.is_empty(), "target {name} has no seeds");
        for (label, data) in &inputs {
            run(name, label, data);
            // Cut short, every seed is another input a stranger can send.
            run(name, label, &data[..data.len() / 2]);
        }
        eprintln!("{name}: {} inputs", inputs.len());
    }
}

/// The seeds are valid inputs, so the targets' properties are exercised, not just
/// their refusals: the generated transactions and block decode, the committed proof
/// bundles verify against the committed genesis.
#[test]
fn seeds_reach_past_the_decoders() {
    use waybill_types::proof::{verify, ProofBundle, TrustRoot};
    for (name, data) in generated_seeds() {
        match name {
            "tx_decode" => {
                waybill_types::tx::SignedTx::decode(&data).expect("a generated tx decodes");
            }
            "block_decode" => {
                waybill_types::Block::decode(&data).expect("the generated block decodes");
            }
            "sealed_field" => {
                use waybill_types::seal::{sealed_fields, PrivatePart, SealedField};
                let v: serde_json::Value = serde_json::from_slice(&data).expect("JSON");
                let fields = sealed_fields(&v, v["eventID"].as_str().unwrap_or_default());
                assert_eq!(fields.len(), 3, "three sealed fields");
                for (at, f) in fields {
                    match f.unwrap_or_else(|e| panic!("{at}: {e}")) {
                        SealedField::Inline(s) => s.check_form().expect("good form"),
                        SealedField::Detached(d) => {
                            let part: PrivatePart =
                                serde_json::from_value(v["part"].clone()).expect("a part");
                            d.attach(&part).expect("its part attaches");
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let genesis: waybill_types::Genesis = serde_json::from_slice(
        &std::fs::read(repo().join("fuzz/seeds/proof-genesis.json")).expect("genesis"),
    )
    .expect("genesis JSON");
    let bundles = files_in(&repo().join("fuzz/seeds/proof_verify"));
    assert!(bundles.len() >= 2, "proof seeds are committed");
    for p in bundles {
        let bundle: ProofBundle =
            serde_json::from_slice(&std::fs::read(&p).expect("reads")).expect("a bundle");
        verify(&bundle, &TrustRoot::Genesis(Box::new(genesis.clone())))
            .unwrap_or_else(|e| panic!("{} does not verify: {e}", p.display()));
    }
    let disclosures = files_in(&repo().join("fuzz/seeds/disclosure_verify"));
    assert!(!disclosures.is_empty(), "disclosure seeds are committed");
    for p in disclosures {
        waybill_types::disclosure::verify_text(
            &std::fs::read(&p).expect("reads"),
            &TrustRoot::Genesis(Box::new(genesis.clone())),
        )
        .unwrap_or_else(|e| panic!("{} does not verify: {e}", p.display()));
    }
}
