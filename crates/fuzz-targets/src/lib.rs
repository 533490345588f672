//! The fuzz targets: one function per decoder or verifier that takes bytes from a
//! stranger. Each must return for every input, never panic, and keep the properties
//! it asserts (a decoded value encodes back to the same bytes; a canonical form reads
//! back as itself). `fuzz/` (cargo-fuzz, libFuzzer) calls them with generated inputs;
//! `tests/regressions.rs` calls them with every seed and every input that once
//! crashed (`fuzz/regressions/<target>/`), in CI.

use waybill_types::payload::{CaptureEpcis, RegisterMember};

use std::path::{Path, PathBuf};

use serde_json::Value;
use waybill_epcis::hash_id::ExactDocument;
use waybill_gs1::digital_link::{uri_unescape, DigitalLink, UriComponent};
use waybill_types::block::{Block, CommitCertificate};
use waybill_types::codec;
use waybill_types::proof::{self, ProofBundle, TrustRoot};
use waybill_types::signed_request::{parse_capture_headers, parse_read_authorization};
use waybill_types::tx::SignedTx;
use waybill_types::Genesis;

/// A fuzz target: any bytes in, returns or panics.
pub type Target = fn(&[u8]);

/// The targets, by name (the names of `fuzz/fuzz_targets/*.rs`).
pub const TARGETS: [(&str, Target); 8] = [
    ("tx_decode", tx_decode),
    ("block_decode", block_decode),
    ("epcis_capture", epcis_capture),
    ("digital_link", digital_link),
    ("proof_verify", proof_verify),
    ("disclosure_verify", disclosure_verify),
    ("sealed_field", sealed_field),
    ("signed_request", signed_request),
];

/// A transaction as it arrives at `POST /v1/tx(s)` and over p2p: decoded, its id and
/// signature checked, its payload checked; a decoded transaction encodes back to
/// exactly the bytes it came from (one encoding per transaction, so one id).
pub fn tx_decode(data: &[u8]) {
    let Ok(stx) = SignedTx::decode(data) else {
        return;
    };
    assert_eq!(
        stx.encode(),
        data,
        "a decoded transaction re-encodes to its bytes"
    );
    assert_eq!(stx.id(), SignedTx::id_of(data));
    let _ = stx.verify_signature();
    let _ = stx.tx.payload.check();
    let _ = serde_json::to_string(&stx.tx.payload);
}

/// A block and a commit certificate as a peer sends them: decoded, hashed,
/// re-encoded to the same bytes.
pub fn block_decode(data: &[u8]) {
    if let Ok(block) = Block::decode(data) {
        assert_eq!(
            block.encode(),
            data,
            "a decoded block re-encodes to its bytes"
        );
        let _ = block.hash();
        for stx in &block.txs {
            let _ = stx.verify_signature();
        }
    }
    if let Ok(cert) = codec::decode::<CommitCertificate>(data, data.len(), "certificate") {
        assert_eq!(
            codec::encode(&cert),
            data,
            "a decoded certificate re-encodes"
        );
    }
}

/// An EPCIS document as `POST /epcis/capture` reads it: JSON, the schema and our
/// rules, the event times, and every event's Event Hash ID from the exact text.
pub fn epcis_capture(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = serde_json::from_str::<Value>(text) else {
        // The exact reader must refuse what serde_json refuses.
        assert!(
            ExactDocument::parse(text).is_err(),
            "the hash-ID reader accepts JSON that serde_json refuses"
        );
        return;
    };
    let _ = waybill_epcis::validate::validate_document(&doc);
    let _ = waybill_epcis::validate::check_document_times(&doc, 1_790_000_000_000);
    let exact = ExactDocument::parse(text).expect("the hash-ID reader accepts valid JSON");
    for event in exact.events() {
        if let Some(obj) = event.as_object() {
            if let Ok(id) = exact.event_hash_id(obj) {
                assert!(id.starts_with("ni:///sha-256;"), "{id}");
            }
        }
    }
}

/// A GS1 Digital Link URI (the resolver, the consumer page, `dl parse`): parsed; its
/// canonical form parses back to the same elements and is its own canonical form.
pub fn digital_link(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = uri_unescape(text, UriComponent::Path);
    let _ = uri_unescape(text, UriComponent::Query);
    let Ok(dl) = DigitalLink::parse(text) else {
        return;
    };
    let canonical = dl.to_uri(None);
    let again = DigitalLink::parse(&canonical)
        .unwrap_or_else(|e| panic!("canonical `{canonical}` of `{text}` does not parse: {e}"));
    assert_eq!(again.to_uri(None), canonical, "canonical form is stable");
}

/// The consortium the proof seeds were made with (`fuzz/seeds/proof_verify/`).
const PROOF_GENESIS: &str = include_str!("../../../fuzz/seeds/proof-genesis.json");

/// A proof bundle from an untrusted node, verified against the consortium's genesis
/// (a trust root the verifier holds): any outcome but a panic.
pub fn proof_verify(data: &[u8]) {
    let Ok(bundle) = serde_json::from_slice::<ProofBundle>(data) else {
        return;
    };
    let genesis: Genesis = serde_json::from_str(PROOF_GENESIS).expect("the seed genesis reads");
    let _ = proof::verify(&bundle, &TrustRoot::Genesis(Box::new(genesis)));
    let fingerprint = "0".repeat(proof::FINGERPRINT_HEX_LEN);
    let _ = proof::verify(&bundle, &TrustRoot::Fingerprint(fingerprint));
}

/// A disclosure of a sealed field handed over by anyone (`waybill verify-disclosure`),
/// verified against the consortium's genesis: any outcome but a panic; one that
/// verifies was written exactly as the file reads.
pub fn disclosure_verify(data: &[u8]) {
    use waybill_types::disclosure;
    let genesis: Genesis = serde_json::from_str(PROOF_GENESIS).expect("the seed genesis reads");
    if disclosure::verify_text(data, &TrustRoot::Genesis(Box::new(genesis))).is_ok() {
        let d: disclosure::Disclosure =
            serde_json::from_slice(data).expect("a verified disclosure parses");
        assert_eq!(d.to_text().as_bytes(), data, "verified, so as written");
    }
    if let Ok(d) = serde_json::from_slice::<disclosure::Disclosure>(data) {
        let fingerprint = "0".repeat(proof::FINGERPRINT_HEX_LEN);
        let _ = disclosure::verify(&d, &TrustRoot::Fingerprint(fingerprint));
    }
}

/// Sealed fields as a captured event carries them, and a private part as `PUT
/// /v1/sealed/private` takes it (`{"part": …}` beside them): every sealed field in the
/// JSON is read (form, recipients, commitment); a whole one of good form detaches and
/// re-attaches to exactly itself, and its part attaches to no other field; a detached
/// one takes the given part only if the part hashes to what it names.
pub fn sealed_field(data: &[u8]) {
    use waybill_types::seal::{sealed_fields, PrivatePart, SealedField};
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let given = serde_json::from_value::<PrivatePart>(v["part"].clone()).ok();
    let mut detached = Vec::new();
    let record = v["eventID"].as_str().unwrap_or_default();
    for (_, found) in sealed_fields(&v, record) {
        let Ok(field) = found else { continue };
        let _ = (field.recipients(), field.commitment(), field.category());
        match field {
            SealedField::Inline(s) => {
                if s.check_form().is_ok() {
                    let (d, part) = s.clone().detach();
                    assert_eq!(
                        d.attach(&part).ok().as_ref(),
                        Some(&s),
                        "a field detached re-attaches to itself"
                    );
                    detached.push((d, part));
                }
            }
            SealedField::Detached(d) => {
                if let Some(part) = &given {
                    if let Ok(whole) = d.attach(part) {
                        assert_eq!(part.hash(), d.private, "attached, so the named part");
                        assert!(whole.check_form().is_ok());
                    }
                }
            }
        }
    }
    for (i, (d, _)) in detached.iter().enumerate() {
        for (j, (_, part)) in detached.iter().enumerate() {
            if i != j && part.hash() != d.private {
                assert!(
                    d.attach(part).is_err(),
                    "another field's part does not attach"
                );
            }
        }
    }
}

/// Signed-request headers: the first line an `Authorization` value, verified over a
/// fixed request; the next four the capture headers.
pub fn signed_request(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let auth = lines.next().unwrap_or_default();
    if let Ok(a) = parse_read_authorization(auth) {
        let _ = a.verify("GET", "/epcis/events?perPage=10");
    }
    let values: Vec<&str> = lines.take(4).collect();
    let _ = parse_capture_headers(|name| {
        let i = waybill_types::signed_request::CAPTURE_HEADERS
            .iter()
            .position(|h| *h == name)?;
        values
            .get(i)
            .map(|v| if v.is_ascii() { Ok(*v) } else { Err(()) })
    });
}

/// Seeds made here (valid inputs the conformance data has none of): signed
/// transactions and a block holding them, signed-request headers. By target name.
pub fn generated_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use waybill_types::block::{tx_root, BlockHeader, HEADER_VERSION};
    use waybill_types::keys::read_authorization;
    use waybill_types::tx::{Transaction, TX_VERSION};
    use waybill_types::{Hash, Height, Payload, Role, SecretKey};

    let key = SecretKey::from_label("fuzz seed signer");
    let member = SecretKey::from_label("fuzz seed member").public();
    let tx = |nonce: u64, payload: Payload| {
        Transaction {
            version: TX_VERSION,
            chain_id: "waybill-dev".into(),
            signer: key.public(),
            nonce,
            expires_at_ms: 1_800_000_000_000,
            payload,
        }
        .sign(&key)
    };
    let txs = vec![
        tx(
            1,
            Payload::RegisterMember(RegisterMember {
                member,
                name: "Li Wei, harvest team lead".into(),
                roles: vec![Role::Producer],
            }),
        ),
        tx(
            2,
            Payload::CaptureEpcis(CaptureEpcis {
                document: r#"{"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-11-06T12:00:00.000Z","epcisBody":{"eventList":[{"type":"ObjectEvent","eventTime":"2026-11-01T08:00:00.000+08:00","eventTimeZoneOffset":"+08:00","action":"ADD","epcList":["urn:epc:id:sgtin:6901234.000001.1"],"bizStep":"commissioning"}]}}"#.into(),
            }),
        ),
    ];
    let mut seeds: Vec<(&'static str, Vec<u8>)> =
        txs.iter().map(|t| ("tx_decode", t.encode())).collect();
    let encoded: Vec<Vec<u8>> = txs.iter().map(SignedTx::encode).collect();
    let block = Block {
        header: BlockHeader {
            version: HEADER_VERSION,
            chain_id: "waybill-dev".into(),
            height: Height(7),
            prev_hash: Hash([7; 32]),
            time_ms: 1_790_000_000_000,
            proposer: key.public(),
            n_txs: u32::try_from(txs.len()).expect("two"),
            tx_root: tx_root(encoded.iter().map(Vec::as_slice)),
            open_root: Hash([1; 32]),
            heads_root: Hash([2; 32]),
            commit_root: Hash([3; 32]),
            state_hash: Hash([3; 32]),
            validators_hash: Hash([4; 32]),
        },
        txs,
    };
    seeds.push(("block_decode", block.encode()));
    let auth = read_authorization(&key, "GET", "/epcis/events?perPage=10", 1_790_000_000_000);
    let capture = format!(
        "{auth}\n{}\n42\n1790000600000\n{}",
        key.public().to_hex(),
        "ab".repeat(64)
    );
    seeds.push(("signed_request", capture.into_bytes()));
    seeds.extend(sealed_seeds());
    seeds
}

/// An event with two prices sealed for two organizations, and a detached consignee
/// with its private part beside it (`{"part": …}`).
fn sealed_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use waybill_types::seal::{seal_at, Place, Recipient, SealSecretKey, Sealed};
    use waybill_types::{DataCategory, OrgId};
    let record = "urn:uuid:6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f";
    let to: Vec<Recipient> = ["pujiang-orchard", "sichuan-regulator"]
        .iter()
        .zip(1u8..)
        .map(|(o, i)| Recipient {
            org: OrgId::new(o).expect("an organization id"),
            kv: 1,
            key: SealSecretKey([i; 32]).public(),
        })
        .collect();
    let mut event = serde_json::json!({
        "eventID": record,
        "wb:price": {"amount": "12.50", "currency": "CNY"},
        "wb:cost": {"amount": "9.10", "currency": "CNY"},
        "wb:consignee": {"name": "Wang Fang", "phone": "+86 138 0013 8000"},
    });
    // A fixed RNG: the seeds are the same every run.
    let mut rng =
        <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(7);
    for (field, category) in [
        ("/wb:price", DataCategory::Financial),
        ("/wb:cost", DataCategory::Financial),
        ("/wb:consignee", DataCategory::PlatformTransactions),
    ] {
        let place = Place {
            chain_id: "waybill-dev",
            record,
            field,
            category,
        };
        seal_at(&mut event, &place, &to, &mut rng).expect("seals");
    }
    let whole = Sealed::from_json(&event["wb:consignee"], record, "/wb:consignee")
        .expect("sealed")
        .expect("well formed");
    let (detached, part) = whole.detach();
    let inline = event.to_string().into_bytes();
    event["wb:consignee"] = detached.to_json();
    event["part"] = serde_json::to_value(part).expect("a part is JSON");
    vec![
        ("sealed_field", inline),
        ("sealed_field", event.to_string().into_bytes()),
    ]
}

/// Every file under `dir`, in path order (none if it does not exist).
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_in(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The inputs of target `name`, labelled: the committed seeds and regressions under
/// `repo/fuzz/`, for EPCIS and Digital Link the conformance data under `conformance`,
/// and [`generated_seeds`].
pub fn corpus(repo: &Path, conformance: &Path, name: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = files_in(&repo.join("fuzz/seeds").join(name));
    files.extend(files_in(&repo.join("fuzz/regressions").join(name)));
    let mut out: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).expect("reads");
            (p.display().to_string(), data)
        })
        .collect();
    let conf = conformance;
    match name {
        "epcis_capture" => {
            for p in files_in(&conf.join("epcis/examples"))
                .into_iter()
                .chain(files_in(&conf.join("epcis/event-hash-id")))
                .filter(|p| p.extension().is_some_and(|e| e == "jsonld" || e == "json"))
            {
                let data = std::fs::read(&p).expect("reads");
                out.push((p.display().to_string(), data));
            }
        }
        "digital_link" => {
            for file in [
                "dl_parse_uri.jsonl",
                "uri_unescape.jsonl",
                "dl_generate_uri.jsonl",
            ] {
                let text = std::fs::read_to_string(conf.join("digital-link").join(file))
                    .expect("the Digital Link vectors read");
                for (i, line) in text.lines().enumerate() {
                    let v: serde_json::Value = serde_json::from_str(line).expect("JSON lines");
                    for key in ["uri", "input", "expected_uri"] {
                        if let Some(s) = v[key].as_str() {
                            out.push((format!("{file}:{} {key}", i + 1), s.as_bytes().to_vec()));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    for (i, (n, data)) in generated_seeds().into_iter().enumerate() {
        if n == name {
            out.push((format!("generated seed {i}"), data));
        }
    }
    out
}
