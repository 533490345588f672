//! Tamper detection: change one byte of a stored transaction, header, certificate
//! or state record in the redb file; `verify` must name the height and record.

use waybill_types::payload::{RegisterLot, RegisterMember, RegisterProduct, RevokeMember};

use std::path::Path;

use waybill_client::sign;
use waybill_gs1::with_check_digit;
use waybill_node::Shared;
use waybill_store::verify::{verify_full, verify_recent};
use waybill_store::Store;
use waybill_testkit::{test_genesis, TestChain};
use waybill_types::{codec, Genesis, Height, Payload, Role, SecretKey, SignedTx};

/// A chain of 3 blocks with a few transactions each; returns its directory and genesis.
fn build_chain() -> (std::path::PathBuf, Genesis, Vec<SignedTx>) {
    let admin = SecretKey::from_label("tamper admin");
    let validator = SecretKey::from_label("tamper validator");
    let genesis = test_genesis(
        &[("farm", &[Role::Producer], &["6901234"], &admin)],
        &validator,
    );
    let mut chain = TestChain::new(genesis.clone(), validator);
    let shared = chain.shared();
    let members: Vec<SecretKey> = (0..4)
        .map(|i| SecretKey::from_label(&format!("tamper member {i}")))
        .collect();
    let gtin: waybill_gs1::Gtin = with_check_digit("0690123400001")
        .expect("digits")
        .parse()
        .expect("gtin");
    let chain_id = genesis.chain_id.clone();
    let blocks = [
        member_registrations(&admin, &chain_id, &members),
        a_product_and_a_revocation(&chain_id, &members, &gtin),
        three_lots(&chain_id, &members, &gtin),
    ];
    let mut all = Vec::new();
    for (i, txs) in blocks.into_iter().enumerate() {
        submit(&shared, &txs);
        chain
            .commit_block()
            .unwrap_or_else(|e| panic!("block {} commits: {e}", i + 1));
        all.extend(txs);
    }
    drop(shared);
    (chain.close(), genesis, all)
}

/// Submit `txs`, each admitted.
fn submit(shared: &Shared, txs: &[SignedTx]) {
    let raw = txs.iter().map(SignedTx::encode).collect();
    for r in waybill_node::ledger::submit_batch(shared, raw) {
        r.expect("test transaction is admitted");
    }
}

/// Block 1: the admin registers the members.
fn member_registrations(admin: &SecretKey, chain_id: &str, members: &[SecretKey]) -> Vec<SignedTx> {
    members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            sign(
                admin,
                chain_id,
                Payload::RegisterMember(RegisterMember {
                    member: m.public(),
                    name: format!("m{i}"),
                    roles: vec![Role::Producer],
                }),
            )
        })
        .collect()
}

/// Block 2: a product, and a revocation a member may not make (rejected).
fn a_product_and_a_revocation(
    chain_id: &str,
    members: &[SecretKey],
    gtin: &waybill_gs1::Gtin,
) -> Vec<SignedTx> {
    vec![
        sign(
            &members[0],
            chain_id,
            Payload::RegisterProduct(RegisterProduct {
                gtin: gtin.clone(),
                name: "Navel oranges".into(),
                brand: "Pujiang".into(),
                category: "fruit".into(),
                origin_country: "CN".into(),
            }),
        ),
        sign(
            &members[1],
            chain_id,
            Payload::RevokeMember(RevokeMember {
                member: members[2].public(),
                reason: "not an admin".into(),
            }),
        ),
    ]
}

/// Block 3: three members register a lot each.
fn three_lots(chain_id: &str, members: &[SecretKey], gtin: &waybill_gs1::Gtin) -> Vec<SignedTx> {
    (1..4)
        .map(|i| {
            sign(
                &members[i],
                chain_id,
                Payload::RegisterLot(RegisterLot {
                    gtin: gtin.clone(),
                    lot: format!("LOT{i}"),
                    origin_gln: None,
                    produced_on: "2026-11-02".into(),
                    quantity: 100 + i as u64,
                    unit: "kg".into(),
                    inputs: vec![],
                    raw_materials: vec![],
                    claims: vec![],
                }),
            )
        })
        .collect()
}

/// Flip one bit in every occurrence of `needle` in the file, at `offset` within it.
fn flip_in_file(path: &Path, needle: &[u8], offset: usize) -> usize {
    let mut bytes = std::fs::read(path).expect("store file reads");
    let mut n = 0;
    let mut i = 0;
    while i + needle.len() <= bytes.len() {
        if &bytes[i..i + needle.len()] == needle {
            bytes[i + offset] ^= 0x04;
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    std::fs::write(path, bytes).expect("store file writes");
    n
}

fn db(dir: &Path) -> std::path::PathBuf {
    dir.join("waybill.redb")
}

#[test]
fn intact_chain_verifies() {
    let (dir, genesis, txs) = build_chain();
    let (store, g) = Store::open_existing(&db(&dir)).expect("opens");
    assert_eq!(g, genesis);
    let full = verify_full(&store).expect("intact chain verifies");
    assert_eq!(full.to, Height(3));
    assert_eq!(full.n_txs, txs.len() as u64);
    assert!(full.replayed && full.n_state_entries > 0);
    let quick = verify_recent(&store, 2).expect("recent blocks verify");
    assert_eq!((quick.from, quick.to), (Height(2), Height(3)));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn flipped_byte_in_a_stored_transaction_is_named() {
    let (dir, _, txs) = build_chain();
    // Block 2's second transaction (index 1): flip a byte inside its signature.
    let target = &txs[5];
    let n = flip_in_file(&db(&dir), &target.signature.0, 17);
    assert!(n >= 1, "the signature bytes are in the file");
    let (store, _) = Store::open_existing(&db(&dir)).expect("opens");
    let err = verify_full(&store)
        .expect_err("tampering is detected")
        .to_string();
    assert!(
        err.contains("height 2") && err.contains("transaction 1"),
        "names height and record: {err}"
    );
    let err = verify_recent(&store, 10)
        .expect_err("start-up check detects it too")
        .to_string();
    assert!(err.contains("height 2"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn flipped_byte_in_a_payload_is_named() {
    let (dir, _, txs) = build_chain();
    // Block 3, first transaction: change the lot number's last character.
    let target = &txs[6];
    let enc = codec::encode(&target.tx);
    let lot = b"LOT1";
    let pos = enc
        .windows(lot.len())
        .position(|w| w == lot)
        .expect("lot in encoding");
    let n = flip_in_file(&db(&dir), &enc, pos + 3);
    assert!(n >= 1);
    let (store, _) = Store::open_existing(&db(&dir)).expect("opens");
    let err = verify_full(&store)
        .expect_err("tampering is detected")
        .to_string();
    assert!(
        err.contains("height 3") && err.contains("transaction 0"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn flipped_byte_in_a_header_is_named() {
    let (dir, genesis, _) = build_chain();
    let header = {
        let store = Store::open(&db(&dir), &genesis).expect("opens");
        store
            .block(Height(2))
            .expect("reads")
            .expect("block 2")
            .header
    };
    let enc = codec::encode(&header);
    // Flip a byte of the state hash (the header's last-but-one field).
    let n = flip_in_file(&db(&dir), &enc, enc.len() - 40);
    assert!(n >= 1);
    let (store, _) = Store::open_existing(&db(&dir)).expect("opens");
    let err = verify_full(&store)
        .expect_err("tampering is detected")
        .to_string();
    assert!(err.contains("height 2"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn flipped_byte_in_a_certificate_is_named() {
    let (dir, genesis, _) = build_chain();
    let cert = {
        let store = Store::open(&db(&dir), &genesis).expect("opens");
        store
            .certificate(Height(3))
            .expect("reads")
            .expect("certificate 3")
    };
    let n = flip_in_file(&db(&dir), &cert.signatures[0].signature.0, 5);
    assert!(n >= 1);
    let (store, _) = Store::open_existing(&db(&dir)).expect("opens");
    let err = verify_full(&store)
        .expect_err("tampering is detected")
        .to_string();
    assert!(
        err.contains("height 3") && err.contains("commit certificate"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn flipped_byte_in_the_state_is_named() {
    let (dir, genesis, _) = build_chain();
    let lot = {
        let store = Store::open(&db(&dir), &genesis).expect("opens");
        let snap = store.snapshot().expect("snapshot");
        let gtin: waybill_gs1::Gtin = with_check_digit("0690123400001")
            .expect("digits")
            .parse()
            .expect("gtin");
        let l = waybill_state::catalog::load_lot(&snap, &gtin, "LOT2")
            .expect("reads")
            .expect("lot exists");
        waybill_state::encode_record(&l)
    };
    // Change the quantity (8 bytes little endian, 102 → something else) in the state table.
    let qty = 102u64.to_le_bytes();
    let pos = lot
        .windows(8)
        .position(|w| w == qty)
        .expect("quantity in record");
    let n = flip_in_file(&db(&dir), &lot, pos);
    assert!(n >= 1);
    let (store, _) = Store::open_existing(&db(&dir)).expect("opens");
    let err = verify_full(&store)
        .expect_err("tampering is detected")
        .to_string();
    assert!(
        err.contains("state entry") || err.contains("write set"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The audit trail is a derived index, not hashed state: a row moved to another
/// block (one bit of its key's height flipped) leaves every hash intact, and
/// `verify --full`, which re-derives the index from the chain, names it.
#[test]
fn flipped_byte_in_the_derived_index_is_named() {
    let (dir, _, txs) = build_chain();
    let lot_signer = txs.last().expect("a lot registration").tx.signer;
    let row = waybill_state::keys::index_row(
        &waybill_state::keys::audit_of(waybill_state::audit::subject::MEMBER, &lot_signer.0),
        3,
    );
    let n = flip_in_file(&db(&dir), &row, row.len() - 1);
    assert_eq!(n, 1, "the row is stored once");
    let (store, _) = Store::open_existing(&db(&dir)).expect("opens");
    verify_recent(&store, 3).expect("no hashed record changed");
    let err = verify_full(&store)
        .expect_err("tampering is detected")
        .to_string();
    assert!(err.contains("derived index"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Regression: the background check ran while blocks were being committed and took
/// the newer head for a mismatch ("head record does not match the last block"),
/// raising a false tamper alert that halted a healthy node.
#[test]
fn verification_during_commits_is_not_a_tamper_alert() {
    let admin = SecretKey::from_label("race admin");
    let validator = SecretKey::from_label("race validator");
    let genesis = test_genesis(
        &[("farm", &[Role::Producer], &["6901234"], &admin)],
        &validator,
    );
    let mut chain = TestChain::new(genesis.clone(), validator);
    let shared = chain.shared();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checker = {
        let shared = shared.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                verify_recent(&shared.store, u64::MAX).expect("no false alarm while committing");
                n += 1;
            }
            n
        })
    };
    for i in 0..200u64 {
        let p = Payload::RegisterMember(RegisterMember {
            member: SecretKey::from_label(&format!("race member {i}")).public(),
            name: format!("m{i}"),
            roles: vec![Role::Producer],
        });
        for r in waybill_node::ledger::submit_batch(
            &shared,
            vec![sign(&admin, &genesis.chain_id, p).encode()],
        ) {
            r.expect("admitted");
        }
        chain.commit_block().expect("commits");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let n_checks = checker.join().expect("checker thread");
    assert!(n_checks > 0);
}
