//! Integration tests of the HTTP API over a real ledger: a one-validator
//! `TestChain` commits blocks on demand (no consensus engine), and every request
//! goes through `waybill_api::app(..)` with `oneshot`, as a server would send it.

#[allow(dead_code)] // each test binary uses part of the fixtures
mod common;

use waybill_types::payload::{RegisterProduct, RevokeMember};

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use waybill_types::{limits, Block, CommitCertificate, Hash, Height, Role, SignedTx, Transaction};

use common::*;

// ---------------------------------------------------------------------------
// 1. Happy path
// ---------------------------------------------------------------------------

#[tokio::test]
async fn happy_path_member_product_lot_and_every_read() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");

    // The admin registers a member: accepted, waiting in the mempool.
    let reg = f.admin1.sign(member(
        producer.public(),
        "Li Wei, harvest lead",
        &[Role::Producer],
    ));
    let reg_id = f.submit_ok(&reg).await;
    assert_eq!(
        get_ok(&f.app, &format!("/v1/txs/{reg_id}")).await,
        json!({ "tx_id": reg_id, "status": "pending" })
    );
    assert_eq!(f.status().await.mempool_txs, 1);
    assert_eq!(f.commit(), 1);
    assert_eq!(f.status().await.mempool_txs, 0);

    // The committed transaction: where, what, its receipt and its canonical bytes.
    let block1 = get_ok(&f.app, "/v1/blocks/1").await;
    committed_tx_view(&f, &producer, &reg_id, reg.clone(), &block1).await;
    member_views(&f, &producer).await;
    // The member registers a product and a lot of it, in one block.
    let g = gtin("0690123400001");
    assert_eq!(g.len(), 14);
    let p = producer.sign(product(&g, "Navel oranges, 5 kg carton"));
    let l = producer.sign(lot(&g, "L2026-11"));
    let p_id = f.submit_ok(&p).await;
    let l_id = f.submit_ok(&l).await;
    assert_eq!(f.commit(), 2);
    f.assert_applied(&p_id).await;
    f.assert_applied(&l_id).await;
    let block2 = get_ok(&f.app, "/v1/blocks/2").await;
    let time2 = block2["header"]["time_ms"].as_u64().expect("time_ms");

    product_and_lot_views(&f, &producer, &g, time2, &p_id, &l_id).await;
    org_views(&f, &producer).await;
    let (h2, h2_hash) = block_view(&f, &block1, &block2).await;
    block_txs_and_status(&f, &block2, (&p_id, &l_id), (&p, &l), &h2, h2_hash, time2).await;
}

async fn committed_tx_view(
    f: &Fixture,
    producer: &Signer,
    reg_id: &str,
    reg: SignedTx,
    block1: &Value,
) {
    let v = get_ok(&f.app, &format!("/v1/txs/{reg_id}")).await;
    assert_eq!(v["id"], reg_id);
    assert_eq!(v["height"], 1);
    assert_eq!(v["index"], 0);
    assert_eq!(v["block_hash"], block1["hash"]);
    assert_eq!(v["signer"], f.admin1.hex());
    assert_eq!(v["nonce"], 1);
    assert_eq!(v["expires_at_ms"], common::test_expiry_ms());
    assert_eq!(v["chain_id"], CHAIN_ID);
    assert_eq!(
        v["payload"],
        json!({ "type": "register_member", "member": producer.hex(), "name": "Li Wei, harvest lead", "roles": ["producer"] })
    );
    assert_eq!(v["signature"], reg.signature.to_hex());
    assert_eq!(
        v["receipt"],
        json!({ "tx_id": reg_id, "status": "applied" })
    );
    let bytes = unb64(v["bytes_base64"].as_str().expect("bytes_base64"));
    assert_eq!(
        waybill_types::sha256(&bytes).to_hex(),
        reg_id,
        "the id is the SHA-256 of the canonical bytes"
    );
    assert_eq!(
        SignedTx::decode(&bytes).expect("canonical bytes decode"),
        reg
    );
}

async fn member_views(f: &Fixture, producer: &Signer) {
    // The new member.
    let m = get_ok(&f.app, &format!("/v1/members/{}", producer.hex())).await;
    assert_eq!(m["key"], producer.hex());
    assert_eq!(m["org"], ORCHARD);
    assert_eq!(m["name"], "Li Wei, harvest lead");
    assert_eq!(m["roles"], json!(["producer"]));
    assert_eq!(m["admin"], false);
    assert_eq!(m["status"], "active");
    assert_eq!(m["registered_at"], 1);
    assert_eq!(m["registered_by"], f.admin1.hex());
    let a = get_ok(&f.app, &format!("/v1/members/{}", f.admin1.hex())).await;
    assert_eq!(a["admin"], true);
    assert_eq!(a["org"], ORCHARD);
    assert_eq!(a["registered_at"], 0);
}

async fn product_and_lot_views(
    f: &Fixture,
    producer: &Signer,
    g: &str,
    time2: u64,
    p_id: &str,
    l_id: &str,
) {
    // Products: the list, by GTIN-14 and by its GTIN-13 form.
    let products = get_ok(&f.app, "/v1/products").await;
    assert_eq!(products["next_after"], Value::Null);
    let items = products["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{products}");
    let expected_product = json!({
        "gtin": g,
        "name": "Navel oranges, 5 kg carton",
        "brand": "Pujiang",
        "category": "fresh fruit",
        "origin_country": "CN",
        "owner": ORCHARD,
        "registered_by": producer.hex(),
        "registered_at": 2,
        "registered_time_ms": time2,
        "tx_id": p_id,
    });
    assert_eq!(items[0], expected_product);
    assert_eq!(
        get_ok(&f.app, &format!("/v1/products/{g}")).await,
        expected_product
    );
    assert_eq!(
        get_ok(&f.app, &format!("/v1/products/{}", &g[1..])).await,
        expected_product,
        "GTIN-13 form normalizes"
    );

    // Lots.
    let expected_lot = json!({
        "gtin": g,
        "lot": "L2026-11",
        "origin_gln": null,
        "produced_on": "2026-11-02",
        "quantity": 500,
        "unit": "kg",
        "inputs": [],
        "raw_materials": [],
        "claims": [],
        "owner": ORCHARD,
        "registered_by": producer.hex(),
        "registered_at": 2,
        "registered_time_ms": time2,
        "tx_id": l_id,
    });
    let lots = get_ok(&f.app, &format!("/v1/products/{g}/lots")).await;
    assert_eq!(
        lots,
        json!({ "items": [expected_lot.clone()], "next_after": null })
    );
    assert_eq!(
        get_ok(&f.app, &format!("/v1/lots/{g}/L2026-11")).await,
        expected_lot
    );
    get(&f.app, &format!("/v1/lots/{g}/L2026-12"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_lot");
}

async fn org_views(f: &Fixture, producer: &Signer) {
    // Organizations (key order) and their members.
    let orgs = get_ok(&f.app, "/v1/orgs").await;
    assert_eq!(orgs["next_after"], Value::Null);
    let ids: Vec<&str> = orgs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [COLDCHAIN, ORCHARD]);
    let orchard = json!({
        "id": ORCHARD,
        "name": format!("{ORCHARD} (test)"),
        "admin": f.admin1.hex(),
        "roles": ["producer"],
        "company_prefixes": [PREFIX],
        "joined_at": 0,
    });
    assert_eq!(orgs["items"][1], orchard);
    assert_eq!(
        get_ok(&f.app, &format!("/v1/orgs/{ORCHARD}")).await,
        orchard
    );
    let coldchain = get_ok(&f.app, &format!("/v1/orgs/{COLDCHAIN}")).await;
    assert_eq!(
        coldchain["roles"],
        json!(["warehouse", "carrier"]),
        "roles are stored in role order"
    );
    assert_eq!(coldchain["company_prefixes"], json!([]));
    let members = get_ok(&f.app, &format!("/v1/orgs/{ORCHARD}/members")).await;
    let keys: BTreeSet<&str> = members["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["key"].as_str().expect("key"))
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([f.admin1.hex().as_str(), producer.hex().as_str()])
    );
    for m in members["items"].as_array().expect("items") {
        assert_eq!(m["org"], ORCHARD);
    }
    let cc_members = get_ok(&f.app, &format!("/v1/orgs/{COLDCHAIN}/members")).await;
    assert_eq!(cc_members["items"].as_array().expect("items").len(), 1);
    assert_eq!(cc_members["items"][0]["key"], f.admin2.hex());
}

async fn block_view(f: &Fixture, block1: &Value, block2: &Value) -> (String, Hash) {
    // The block: header, certificate, transactions with receipts, canonical bytes.
    assert_eq!(block2["height"], 2);
    let h2 = block2["hash"].as_str().expect("hash").to_string();
    let header = &block2["header"];
    assert_eq!(header["version"], waybill_types::block::HEADER_VERSION);
    assert_eq!(header["chain_id"], CHAIN_ID);
    assert_eq!(header["height"], 2);
    assert_eq!(header["prev_hash"], block1["hash"]);
    assert_eq!(header["n_txs"], 2);
    assert_eq!(header["proposer"], f.validator.to_hex());
    assert_eq!(
        block1["header"]["prev_hash"],
        Hash::ZERO.to_hex(),
        "block 1's parent is the zero hash"
    );
    let cert = &block2["certificate"];
    assert_eq!(cert["height"], 2);
    assert_eq!(cert["round"], 0);
    assert_eq!(cert["block_hash"], h2);
    assert_eq!(cert["signatures"].as_array().expect("signatures").len(), 1);
    assert_eq!(cert["signatures"][0]["validator"], f.validator.to_hex());
    let cert: CommitCertificate =
        serde_json::from_value(cert.clone()).expect("certificate JSON parses");
    let h2_hash: Hash = h2.parse().expect("hash parses");
    cert.verify(
        CHAIN_ID,
        Height(2),
        h2_hash,
        &f.chain.genesis.validator_set(),
    )
    .expect("the served certificate verifies against the genesis validators");
    (h2, h2_hash)
}

async fn block_txs_and_status(
    f: &Fixture,
    block2: &Value,
    (p_id, l_id): (&str, &str),
    (p, l): (&SignedTx, &SignedTx),
    h2: &str,
    h2_hash: Hash,
    time2: u64,
) {
    let header = &block2["header"];
    let txs = block2["txs"].as_array().expect("txs");
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0]["id"], p_id);
    assert_eq!(txs[1]["id"], l_id);
    assert_eq!(
        txs[0]["receipt"],
        json!({ "tx_id": p_id, "status": "applied" })
    );
    assert_eq!(
        txs[1]["receipt"],
        json!({ "tx_id": l_id, "status": "applied" })
    );
    assert_eq!(txs[1]["payload"]["type"], "register_lot");
    assert_eq!(txs[1]["payload"]["lot"], "L2026-11");
    let block_bytes = unb64(block2["bytes_base64"].as_str().expect("bytes_base64"));
    let block = Block::decode(&block_bytes).expect("block bytes decode and check");
    assert_eq!(
        block.hash(),
        h2_hash,
        "served bytes hash to the served block hash"
    );
    assert_eq!(block.txs, vec![p.clone(), l.clone()]);
    assert_eq!(
        serde_json::to_value(&block.header).expect("header JSON"),
        *header
    );

    // Status agrees with the newest block.
    let s = f.status_json().await;
    assert_eq!(s["chain_id"], CHAIN_ID);
    assert_eq!(s["genesis_hash"], f.chain.genesis.hash().to_hex());
    assert_eq!(s["height"], 2);
    assert_eq!(s["latest_block_hash"], h2);
    assert_eq!(s["state_hash"], header["state_hash"]);
    assert_eq!(s["latest_block_time_ms"], time2);
    assert_eq!(s["mempool_txs"], 0);
    assert_eq!(s["txs_committed_since_start"], 3);
    assert_eq!(
        s["validators"],
        json!([{ "public_key": f.validator.to_hex(), "voting_power": 1, "org": "pujiang-orchard" }])
    );
    assert!(s["version"].as_str().is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn blocks_are_listed_newest_first_with_paging() {
    let mut f = Fixture::new();
    let producer = Signer::new("li-wei");
    // Block 1 carries a transaction; blocks 2-4 are empty.
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    for want in 2..=4 {
        assert_eq!(f.commit(), want);
    }
    let mut hashes = Vec::new();
    for h in 1..=4 {
        hashes.push(get_ok(&f.app, &format!("/v1/blocks/{h}")).await["hash"].clone());
    }

    let all = get_ok(&f.app, "/v1/blocks").await;
    assert_eq!(all["next_after"], Value::Null);
    let items = all["items"].as_array().expect("items");
    let heights: Vec<u64> = items
        .iter()
        .map(|i| i["height"].as_u64().expect("height"))
        .collect();
    assert_eq!(heights, [4, 3, 2, 1]);
    for i in items {
        let h = i["height"].as_u64().expect("height") as usize;
        assert_eq!(i["hash"], hashes[h - 1]);
        assert_eq!(i["n_txs"], if h == 1 { 1 } else { 0 });
        assert_eq!(i["proposer"], f.validator.to_hex());
        assert!(i["time_ms"].as_u64().is_some());
    }

    block_pages_and_cursors(&f).await;
}

async fn block_pages_and_cursors(f: &Fixture) {
    let page1 = get_ok(&f.app, "/v1/blocks?limit=3").await;
    let heights: Vec<u64> = page1["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["height"].as_u64().expect("h"))
        .collect();
    assert_eq!(heights, [4, 3, 2]);
    assert_eq!(page1["next_after"], "2");
    let page2 = get_ok(&f.app, "/v1/blocks?after=2&limit=3").await;
    let heights: Vec<u64> = page2["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["height"].as_u64().expect("h"))
        .collect();
    assert_eq!(heights, [1]);
    assert_eq!(page2["next_after"], Value::Null);

    // Exactly a page's worth: no cursor.
    let exact = get_ok(&f.app, "/v1/blocks?after=3&limit=2").await;
    assert_eq!(exact["items"].as_array().expect("items").len(), 2);
    assert_eq!(exact["next_after"], Value::Null);
    // Below the first block: nothing.
    assert_eq!(
        get_ok(&f.app, "/v1/blocks?after=1").await,
        json!({ "items": [], "next_after": null })
    );
    // A cursor above the head starts at the head.
    assert_eq!(
        get_ok(&f.app, "/v1/blocks?after=100&limit=1").await["items"][0]["height"],
        4
    );
    // limit=0 is raised to 1.
    assert_eq!(
        get_ok(&f.app, "/v1/blocks?limit=0").await["items"]
            .as_array()
            .expect("items")
            .len(),
        1
    );

    get(&f.app, "/v1/blocks?after=two")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_cursor");
    get(&f.app, "/v1/blocks?limit=many")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_query");
    get(&f.app, "/v1/blocks?page=2")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_query");
}

#[tokio::test]
async fn lists_of_orgs_products_and_lots_page_with_cursors() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    let gtins: Vec<String> = ["0690123400001", "0690123400002", "0690123400003"]
        .iter()
        .map(|d| gtin(d))
        .collect();
    for (i, g) in gtins.iter().enumerate() {
        f.submit_ok(&producer.sign(product(g, &format!("Product {i}"))))
            .await;
    }
    for lot_no in ["A1", "A2", "A3"] {
        f.submit_ok(&producer.sign(lot(&gtins[0], lot_no))).await;
    }
    f.commit();

    // Organizations, one per page.
    let p1 = get_ok(&f.app, "/v1/orgs?limit=1").await;
    assert_eq!(p1["items"].as_array().expect("items").len(), 1);
    assert_eq!(p1["items"][0]["id"], COLDCHAIN);
    let cursor = p1["next_after"]
        .as_str()
        .expect("a cursor when more remain")
        .to_string();
    let p2 = get_ok(&f.app, &format!("/v1/orgs?limit=1&after={cursor}")).await;
    assert_eq!(p2["items"].as_array().expect("items").len(), 1);
    assert_eq!(p2["items"][0]["id"], ORCHARD);
    assert_eq!(p2["next_after"], Value::Null);

    // Products, two per page: every product exactly once, in GTIN order.
    let mut seen = Vec::new();
    let mut uri = "/v1/products?limit=2".to_string();
    let mut pages = 0;
    loop {
        let page = get_ok(&f.app, &uri).await;
        pages += 1;
        for p in page["items"].as_array().expect("items") {
            seen.push(p["gtin"].as_str().expect("gtin").to_string());
        }
        match page["next_after"].as_str() {
            Some(c) => uri = format!("/v1/products?limit=2&after={c}"),
            None => break,
        }
        assert!(pages < 10, "paging does not terminate");
    }
    assert_eq!(pages, 2);
    assert_eq!(seen, gtins);

    lot_pages_and_bad_cursors(&f, &gtins).await;
}

async fn lot_pages_and_bad_cursors(f: &Fixture, gtins: &[String]) {
    // Lots of one product, two per page.
    let l1 = get_ok(&f.app, &format!("/v1/products/{}/lots?limit=2", gtins[0])).await;
    let lots1: Vec<&str> = l1["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| l["lot"].as_str().expect("lot"))
        .collect();
    assert_eq!(lots1, ["A1", "A2"]);
    let c = l1["next_after"].as_str().expect("cursor");
    let l2 = get_ok(
        &f.app,
        &format!("/v1/products/{}/lots?limit=2&after={c}", gtins[0]),
    )
    .await;
    assert_eq!(
        l2,
        json!({ "items": [l2["items"][0].clone()], "next_after": null })
    );
    assert_eq!(l2["items"][0]["lot"], "A3");
    // Another product has no lots.
    assert_eq!(
        get_ok(&f.app, &format!("/v1/products/{}/lots", gtins[1])).await,
        json!({ "items": [], "next_after": null })
    );

    get(&f.app, "/v1/products?after=xyz1")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_cursor");
    get(&f.app, "/v1/products?after=abc")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_cursor");
    get(&f.app, "/v1/orgs?limit=-1")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_query");
}

// ---------------------------------------------------------------------------
// 2. Rejections recorded in blocks
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rejections_are_committed_with_reason_codes_and_change_nothing_else() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    let mut carrier = Signer::new("zhang-driver");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    f.register_coldchain_member(&carrier, "Zhang, driver", &[Role::Carrier])
        .await;
    let g = gtin("0690123400001");
    let p_id = f
        .submit_ok(&producer.sign(product(&g, "Navel oranges")))
        .await;
    let l_id = f.submit_ok(&producer.sign(lot(&g, "L1"))).await;
    assert_eq!(f.commit(), 3);
    f.assert_applied(&p_id).await;
    f.assert_applied(&l_id).await;
    let products_before = get_ok(&f.app, "/v1/products").await;

    let outside = gtin("0692000000001");
    let unknown = gtin("0690123400002");
    let stranger = Signer::new("stranger");
    let cases = vec![
        (carrier.sign(lot(&g, "C1")), "not_authorized"),
        (
            producer.sign(product(&outside, "Someone else's")),
            "prefix_not_owned",
        ),
        (producer.sign(lot(&unknown, "U1")), "unknown_product"),
        (
            producer.sign(member(stranger.public(), "Stranger", &[Role::Producer])),
            "not_admin",
        ),
        (
            f.admin2
                .sign(member(stranger.public(), "Stranger", &[Role::Producer])),
            "role_not_allowed",
        ),
        (
            producer.sign(product(&g, "Navel oranges again")),
            "duplicate",
        ),
        (producer.sign(lot(&g, "L1")), "duplicate"),
        (
            f.admin1
                .sign(member(producer.public(), "Li Wei again", &[Role::Producer])),
            "already_registered",
        ),
    ];
    let mut ids = Vec::new();
    for (stx, _) in &cases {
        ids.push(f.submit_ok(stx).await);
    }
    assert_eq!(f.commit(), 4);

    for ((_, code), id) in cases.iter().zip(&ids) {
        let v = f.assert_rejected(id, code).await;
        assert_eq!(v["height"], 4);
    }
    block_records_the_rejections(&f, &cases, &ids).await;
    nothing_else_changed(
        &f,
        &products_before,
        [&g, &outside, &unknown],
        &l_id,
        (&stranger, &producer),
    )
    .await;
    // A rejected transaction is committed: resubmitting it is refused as such.
    let again = f.submit(&cases[0].0).await;
    again.assert_error(StatusCode::CONFLICT, "already_committed");
}

async fn block_records_the_rejections(f: &Fixture, cases: &[(SignedTx, &str)], ids: &[String]) {
    // The block records them in order with the same receipts.
    let block = get_ok(&f.app, "/v1/blocks/4").await;
    let txs = block["txs"].as_array().expect("txs");
    assert_eq!(txs.len(), cases.len());
    for (i, ((_, code), id)) in cases.iter().zip(ids).enumerate() {
        assert_eq!(txs[i]["id"], *id);
        assert_eq!(txs[i]["receipt"]["status"], "rejected");
        assert_eq!(txs[i]["receipt"]["code"], *code);
        assert_eq!(txs[i]["receipt"]["tx_id"], *id);
    }
}

async fn nothing_else_changed(
    f: &Fixture,
    products_before: &Value,
    [g, outside, unknown]: [&str; 3],
    l_id: &str,
    (stranger, producer): (&Signer, &Signer),
) {
    // Nothing changed but sequence numbers.
    assert_eq!(get_ok(&f.app, "/v1/products").await, *products_before);
    assert_eq!(
        get_ok(&f.app, &format!("/v1/products/{g}")).await["name"],
        "Navel oranges"
    );
    get(&f.app, &format!("/v1/products/{outside}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_product");
    get(&f.app, &format!("/v1/products/{unknown}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_product");
    get(&f.app, &format!("/v1/lots/{g}/C1"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_lot");
    assert_eq!(
        get_ok(&f.app, &format!("/v1/lots/{g}/L1")).await["tx_id"],
        l_id
    );
    get(&f.app, &format!("/v1/members/{}", stranger.hex()))
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_member");
    assert_eq!(
        get_ok(&f.app, &format!("/v1/members/{}", producer.hex())).await["name"],
        "Li Wei"
    );
}

#[tokio::test]
async fn revoked_member_is_rejected_in_blocks_and_refused_at_submission() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;

    // Revocation and a transaction of the member, in one block: the member's
    // transaction executes after the revocation and is rejected.
    let revoke = f
        .admin1
        .sign(waybill_types::Payload::RevokeMember(RevokeMember {
            member: producer.public(),
            reason: "left the company".into(),
        }));
    let revoke_id = f.submit_ok(&revoke).await;
    let late = producer.sign(product(&gtin("0690123400001"), "Late product"));
    let late_id = f.submit_ok(&late).await;
    assert_eq!(f.commit(), 2);
    f.assert_applied(&revoke_id).await;
    f.assert_rejected(&late_id, "member_revoked").await;

    let m = get_ok(&f.app, &format!("/v1/members/{}", producer.hex())).await;
    assert_eq!(m["status"], "revoked");
    assert_eq!(m["at"], 2);
    assert_eq!(m["reason"], "left the company");

    // From now on the member's transactions are refused at the door.
    let before = f.status().await;
    let next = producer.sign(product(&gtin("0690123400002"), "Another"));
    f.submit(&next)
        .await
        .assert_error(StatusCode::FORBIDDEN, "member_revoked");
    assert_eq!(f.status().await, before);
    // A revoked member cannot be revoked twice (recorded as a rejection).
    let twice = f
        .admin1
        .sign(waybill_types::Payload::RevokeMember(RevokeMember {
            member: producer.public(),
            reason: "again".into(),
        }));
    let twice_id = f.submit_ok(&twice).await;
    f.commit();
    f.assert_rejected(&twice_id, "member_revoked").await;
}

// ---------------------------------------------------------------------------
// 3. Submission errors
// ---------------------------------------------------------------------------

/// Assert a refused submission: status, code, and that nothing observable changed.
async fn refused(f: &Fixture, before: &Status, a: Answer, status: StatusCode, code: &str) {
    a.assert_error(status, code);
    assert_eq!(
        f.status().await,
        *before,
        "a refused submission (`{code}`) changed the node's status"
    );
}

#[tokio::test]
async fn submission_errors_have_status_codes_and_change_nothing() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    let reg_id = f
        .register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    let reg = f
        .admin1
        .sign_nonce(1, member(producer.public(), "Li Wei", &[Role::Producer]));
    assert_eq!(reg.id().to_hex(), reg_id, "re-signing is deterministic");
    // One transaction waits in the mempool throughout.
    let pending = producer.sign(product(&gtin("0690123400001"), "Navel oranges"));
    let pending_id = f.submit_ok(&pending).await;
    let before = f.status().await;
    assert_eq!(before.mempool_txs, 1);
    assert_eq!(before.height, 1);
    let refused_before = f.metric("waybill_txs_refused_at_submit_total").await;
    let mut refused_at_submit = 0;

    let next = || producer.sign_nonce(2, product(&gtin("0690123400002"), "Mandarins"));
    let valid_body = tx_body(&next());

    refused_before_decoding(&f, &before, &valid_body, refused_before).await;
    refused_at_submit += not_transactions(&f, &before, &producer, &next()).await;
    signed_wrongly(
        &f,
        &before,
        &producer,
        &next(),
        (&reg, &pending),
        (refused_before, refused_at_submit),
    )
    .await;
    // None of it disturbed the mempool: the next transaction is taken and both commit.
    let next_tx = next();
    let next_id = f.submit_ok(&next_tx).await;
    assert_eq!(f.commit(), 2);
    let v1 = f.assert_applied(&pending_id).await;
    let v2 = f.assert_applied(&next_id).await;
    assert_eq!(
        (v1["index"].clone(), v2["index"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(get_ok(&f.app, "/v1/blocks/2").await["header"]["n_txs"], 2);
}

async fn refused_before_decoding(
    f: &Fixture,
    before: &Status,
    valid_body: &Value,
    refused_before: u64,
) {
    let app = f.app.clone();
    // Malformed JSON, wrong content type, wrong shape.
    refused(
        f,
        before,
        post_raw(
            &app,
            "/v1/tx",
            Some("application/json"),
            b"{\"tx\": ".to_vec(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    refused(
        f,
        before,
        post_raw(&app, "/v1/tx", Some("application/json"), b"[1,2]".to_vec()).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    let valid_bytes = serde_json::to_vec(valid_body).expect("json");
    refused(
        f,
        before,
        post_raw(&app, "/v1/tx", Some("text/plain"), valid_bytes.clone()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    refused(
        f,
        before,
        post_raw(&app, "/v1/tx", None, valid_bytes.clone()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    refused_for_their_shape(f, before, valid_body, refused_before).await;
}

async fn refused_for_their_shape(
    f: &Fixture,
    before: &Status,
    valid_body: &Value,
    refused_before: u64,
) {
    let app = f.app.clone();
    let mut extra = valid_body.clone();
    extra["wait"] = json!(true);
    refused(
        f,
        before,
        post_json(&app, "/v1/tx", &extra).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    refused(
        f,
        before,
        post_json(&app, "/v1/tx", &json!({})).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    refused(
        f,
        before,
        post_json(&app, "/v1/tx", &json!({ "tx": 5 })).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    refused(
        f,
        before,
        post_json(&app, "/v1/tx?wait=perhaps", valid_body).await,
        StatusCode::BAD_REQUEST,
        "bad_query",
    )
    .await;
    refused(
        f,
        before,
        post_json(&app, "/v1/tx?sync=1", valid_body).await,
        StatusCode::BAD_REQUEST,
        "bad_query",
    )
    .await;
    refused(
        f,
        before,
        post_json(&app, "/v1/txs", &json!({ "txs": [], "x": 1 })).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert_eq!(
        f.metric("waybill_txs_refused_at_submit_total").await,
        refused_before,
        "refused before decoding: not counted"
    );
}

async fn not_transactions(
    f: &Fixture,
    before: &Status,
    producer: &Signer,
    next_tx: &SignedTx,
) -> u64 {
    let app = f.app.clone();
    let mut refused_at_submit = 0;
    // Not a transaction.
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "invalid base64",
            json!({ "tx": "not base64!" }),
            StatusCode::BAD_REQUEST,
            "malformed_tx",
        ),
        (
            "bytes that do not decode",
            json!({ "tx": b64(&[1, 2, 3]) }),
            StatusCode::BAD_REQUEST,
            "malformed_tx",
        ),
        (
            "empty",
            json!({ "tx": "" }),
            StatusCode::BAD_REQUEST,
            "malformed_tx",
        ),
        (
            "trailing byte",
            json!({ "tx": b64(&[next_tx.encode(), vec![0]].concat()) }),
            StatusCode::BAD_REQUEST,
            "malformed_tx",
        ),
        (
            "unknown version",
            tx_body(
                &Transaction {
                    version: 1,
                    chain_id: CHAIN_ID.into(),
                    signer: producer.public(),
                    nonce: 2,
                    expires_at_ms: common::test_expiry_ms(),
                    payload: product(&gtin("0690123400002"), "x"),
                }
                .sign(&producer.key),
            ),
            StatusCode::BAD_REQUEST,
            "malformed_tx",
        ),
    ];
    for (what, body, status, code) in cases {
        let a = post_json(&app, "/v1/tx", &body).await;
        assert_eq!(a.status, status, "{what}: {}", a.text());
        refused(f, before, a, status, code).await;
        refused_at_submit += 1;
    }

    refused_at_submit
}

async fn signed_wrongly(
    f: &Fixture,
    before: &Status,
    producer: &Signer,
    next_tx: &SignedTx,
    (reg, pending): (&SignedTx, &SignedTx),
    (refused_before, refused_at_submit): (u64, u64),
) {
    // Signed wrongly or for the wrong chain.
    let mut flipped = next_tx.encode();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    let mut forged = next_tx.clone();
    forged.signature = Signer::new("stranger")
        .sign_nonce(2, product(&gtin("0690123400002"), "Mandarins"))
        .signature;
    let wrong_chain = waybill_client::sign_with(
        &producer.key,
        "another-chain",
        2,
        common::test_expiry_ms(),
        product(&gtin("0690123400002"), "Mandarins"),
    );
    let with_expiry = |expires_at_ms: u64| {
        waybill_client::sign_with(
            &producer.key,
            CHAIN_ID,
            2,
            expires_at_ms,
            product(&gtin("0690123400002"), "Mandarins"),
        )
    };
    let no_expiry = with_expiry(0);
    let expired = with_expiry(waybill_client::now_ms() - 1);
    let too_far = with_expiry(
        waybill_client::now_ms() + waybill_types::limits::TX_EXPIRY_WINDOW_MS_MAX + 60_000,
    );
    let bad_field = producer.sign_nonce(
        2,
        waybill_types::Payload::RegisterProduct(RegisterProduct {
            gtin: parse_gtin(&gtin("0690123400002")),
            name: "Mandarins".into(),
            brand: "Pujiang".into(),
            category: "fruit".into(),
            origin_country: "cn".into(),
        }),
    );
    let unknown_signer =
        Signer::new("nobody").sign_nonce(1, product(&gtin("0690123400002"), "Mandarins"));
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({ "tx": b64(&flipped) }),
            StatusCode::BAD_REQUEST,
            "bad_signature",
        ),
        (tx_body(&forged), StatusCode::BAD_REQUEST, "bad_signature"),
        (tx_body(&wrong_chain), StatusCode::BAD_REQUEST, "invalid_tx"),
        (tx_body(&no_expiry), StatusCode::BAD_REQUEST, "invalid_tx"),
        (tx_body(&expired), StatusCode::BAD_REQUEST, "expired_tx"),
        (tx_body(&too_far), StatusCode::BAD_REQUEST, "expiry_too_far"),
        (tx_body(&bad_field), StatusCode::BAD_REQUEST, "invalid_tx"),
        (
            tx_body(&unknown_signer),
            StatusCode::FORBIDDEN,
            "unknown_signer",
        ),
        // The exact committed transaction again.
        (tx_body(reg), StatusCode::CONFLICT, "already_committed"),
        // The waiting transaction again.
        (tx_body(pending), StatusCode::CONFLICT, "duplicate"),
    ];
    each_is_refused_and_counted(f, before, cases, (refused_before, refused_at_submit)).await;
}

async fn each_is_refused_and_counted(
    f: &Fixture,
    before: &Status,
    cases: Vec<(Value, StatusCode, &str)>,
    (refused_before, mut refused_at_submit): (u64, u64),
) {
    let app = f.app.clone();
    for (body, status, code) in cases {
        let a = post_json(&app, "/v1/tx", &body).await;
        refused(f, before, a, status, code).await;
        refused_at_submit += 1;
    }
    assert_eq!(
        f.metric("waybill_txs_refused_at_submit_total").await,
        refused_before + refused_at_submit,
        "each refused transaction is counted once"
    );
}

#[tokio::test]
async fn batch_submission_answers_one_result_per_transaction_in_order() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;

    let a = producer.sign(product(&gtin("0690123400001"), "A"));
    let b = producer.sign(product(&gtin("0690123400002"), "B"));
    let mut bad_sig = producer
        .sign_nonce(3, product(&gtin("0690123400003"), "C"))
        .encode();
    let n = bad_sig.len();
    bad_sig[n - 10] ^= 0x40;
    let stranger = Signer::new("nobody").sign_nonce(1, product(&gtin("0690123400003"), "C"));
    let body = json!({ "txs": [
        b64(&a.encode()),
        b64(&bad_sig),
        b64(&a.encode()),
        "%%%",
        b64(&b.encode()),
        b64(&stranger.encode()),
    ]});
    let ans = post_json(&f.app, "/v1/txs", &body).await;
    let v = ok_json(&ans);
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 6, "{v}");
    assert_eq!(
        results[0],
        json!({ "tx_id": a.id().to_hex(), "status": "accepted" })
    );
    assert_eq!(results[1]["error"]["code"], "bad_signature");
    assert_eq!(results[2]["error"]["code"], "duplicate");
    assert_eq!(results[3]["error"]["code"], "malformed_tx");
    assert_eq!(
        results[4],
        json!({ "tx_id": b.id().to_hex(), "status": "accepted" })
    );
    assert_eq!(results[5]["error"]["code"], "unknown_signer");
    for r in [&results[1], &results[2], &results[3], &results[5]] {
        assert!(
            r["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{r}"
        );
    }
    assert_eq!(f.status().await.mempool_txs, 2);
    f.commit();
    let va = f.assert_applied(&a.id().to_hex()).await;
    let vb = f.assert_applied(&b.id().to_hex()).await;
    assert_eq!(
        (va["index"].clone(), vb["index"].clone()),
        (json!(0), json!(1))
    );

    // An empty batch is fine and does nothing.
    let before = f.status().await;
    assert_eq!(
        ok_json(&post_json(&f.app, "/v1/txs", &json!({ "txs": [] })).await),
        json!({ "results": [] })
    );
    assert_eq!(f.status().await, before);
}

// ---------------------------------------------------------------------------
// 4. Limits
// ---------------------------------------------------------------------------

/// `prefix` padded with JSON whitespace to exactly `len` bytes.
fn padded_json(prefix: &str, len: usize) -> Vec<u8> {
    let mut b = prefix.as_bytes().to_vec();
    assert!(b.len() <= len);
    b.resize(len, b' ');
    b
}

#[tokio::test]
async fn request_body_at_the_limit_is_read_and_one_byte_more_is_413() {
    let f = Fixture::new();
    let before = f.status().await;
    let max = limits::REQUEST_BODY_BYTES_MAX;

    // Exactly the limit: read and parsed (valid JSON padded with whitespace).
    let at = post_raw(
        &f.app,
        "/v1/txs",
        Some("application/json"),
        padded_json(r#"{"txs":[]}"#, max),
    )
    .await;
    assert_eq!(
        ok_json(&at),
        json!({ "results": [] }),
        "a body of exactly {max} bytes is read"
    );
    // Exactly the limit but not JSON: refused for what it is, not for its size.
    let mut junk = padded_json("", max);
    junk[0] = b'{';
    let at_junk = post_raw(&f.app, "/v1/tx", Some("application/json"), junk).await;
    at_junk.assert_error(StatusCode::BAD_REQUEST, "malformed_json");

    // One byte more.
    for uri in ["/v1/txs", "/v1/tx"] {
        let body = if uri == "/v1/txs" {
            padded_json(r#"{"txs":[]}"#, max + 1)
        } else {
            padded_json(r#"{"tx":""}"#, max + 1)
        };
        let over = post_raw(&f.app, uri, Some("application/json"), body).await;
        refused(
            &f,
            &before,
            over,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        )
        .await;
    }
}

#[tokio::test]
async fn batch_of_the_maximum_count_is_taken_and_one_more_is_413() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    let valid = producer.sign(product(&gtin("0690123400001"), "Navel oranges"));
    let before = f.status().await;
    let refused_before = f.metric("waybill_txs_refused_at_submit_total").await;

    // One past the limit: refused as a whole before anything is decoded, so even the
    // valid transaction in it is not taken.
    let mut txs = vec![json!("!"); limits::SUBMIT_BATCH_TXS_MAX];
    txs.push(json!(b64(&valid.encode())));
    let over = post_json(&f.app, "/v1/txs", &json!({ "txs": txs })).await;
    refused(
        &f,
        &before,
        over,
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
    )
    .await;
    assert_eq!(
        f.metric("waybill_txs_refused_at_submit_total").await,
        refused_before
    );

    // Exactly the limit: every entry gets its own answer.
    let mut txs = vec![json!("!"); limits::SUBMIT_BATCH_TXS_MAX - 1];
    txs.push(json!(b64(&valid.encode())));
    let at = post_json(&f.app, "/v1/txs", &json!({ "txs": txs })).await;
    let v = ok_json(&at);
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), limits::SUBMIT_BATCH_TXS_MAX);
    assert!(results[..limits::SUBMIT_BATCH_TXS_MAX - 1]
        .iter()
        .all(|r| r["error"]["code"] == "malformed_tx"));
    assert_eq!(
        results[limits::SUBMIT_BATCH_TXS_MAX - 1],
        json!({ "tx_id": valid.id().to_hex(), "status": "accepted" })
    );
    assert_eq!(f.status().await.mempool_txs, 1);
    assert_eq!(
        f.metric("waybill_txs_refused_at_submit_total").await,
        refused_before + limits::SUBMIT_BATCH_TXS_MAX as u64 - 1
    );
    f.commit();
    f.assert_applied(&valid.id().to_hex()).await;
}

/// Base64 of `n` zero bytes in a single submission.
async fn submit_zeros(f: &Fixture, n: usize) -> Answer {
    post_json(&f.app, "/v1/tx", &json!({ "tx": b64(&vec![0u8; n]) })).await
}

#[tokio::test]
async fn transaction_at_the_size_limit_is_decoded_and_well_past_it_is_413() {
    let f = Fixture::new();
    let before = f.status().await;
    // Exactly TX_BYTES_MAX bytes: not refused for its size, but for not decoding.
    let at = submit_zeros(&f, limits::TX_BYTES_MAX).await;
    let msg = at.assert_error(StatusCode::BAD_REQUEST, "malformed_tx");
    assert!(!msg.contains("over the limit"), "{msg}");
    // Far enough past it for the base64 length check: 413.
    for n in [limits::TX_BYTES_MAX + 3, limits::TX_BYTES_MAX * 2] {
        refused(
            &f,
            &before,
            submit_zeros(&f, n).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "tx_too_large",
        )
        .await;
    }
    // In a batch, the same limit is reported per entry.
    let v = ok_json(
        &post_json(
            &f.app,
            "/v1/txs",
            &json!({ "txs": [b64(&vec![0u8; limits::TX_BYTES_MAX + 3])] }),
        )
        .await,
    );
    assert_eq!(v["results"][0]["error"]["code"], "tx_too_large");
    assert_eq!(f.status().await, before);
}

#[tokio::test]
async fn transaction_one_byte_past_the_size_limit_is_413_tx_too_large() {
    let f = Fixture::new();
    let before = f.status().await;
    for n in [limits::TX_BYTES_MAX + 1, limits::TX_BYTES_MAX + 2] {
        refused(
            &f,
            &before,
            submit_zeros(&f, n).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "tx_too_large",
        )
        .await;
    }
}

#[tokio::test]
async fn full_mempool_answers_busy_until_a_block_commits() {
    let mut f = Fixture::with_mempool(3);
    let mut pickers: Vec<Signer> = (0..4)
        .map(|i| Signer::new(&format!("picker-{i}")))
        .collect();
    // Register the four members: three fill the mempool exactly, the fourth waits.
    let regs: Vec<SignedTx> = pickers
        .iter()
        .map(|p| {
            f.admin1
                .sign(member(p.public(), "Picker", &[Role::Producer]))
        })
        .collect();
    for r in &regs[..3] {
        f.submit_ok(r).await;
    }
    let before = f.status().await;
    assert_eq!(before.mempool_txs, 3);
    refused(
        &f,
        &before,
        f.submit(&regs[3]).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
    )
    .await;
    f.commit();
    f.submit_ok(&regs[3]).await;
    f.commit();
    for p in &pickers {
        assert_eq!(
            get_ok(&f.app, &format!("/v1/members/{}", p.hex())).await["status"],
            "active"
        );
    }

    // Four registered members each submit one transaction: the fourth is busy.
    let txs: Vec<SignedTx> = pickers
        .iter_mut()
        .enumerate()
        .map(|(i, p)| {
            p.sign(product(
                &gtin(&format!("069012340001{i}")),
                &format!("Product {i}"),
            ))
        })
        .collect();
    for t in &txs[..3] {
        f.submit_ok(t).await;
    }
    let before = f.status().await;
    let busy = f.submit(&txs[3]).await;
    refused(&f, &before, busy, StatusCode::SERVICE_UNAVAILABLE, "busy").await;
    // Also through the batch endpoint, per entry.
    let v = ok_json(
        &post_json(
            &f.app,
            "/v1/txs",
            &json!({ "txs": [b64(&txs[3].encode())] }),
        )
        .await,
    );
    assert_eq!(v["results"][0]["error"]["code"], "busy");
    assert_eq!(f.status().await, before);

    // A block makes room; the refused transaction was never committed and is taken now.
    let h = f.commit();
    for t in &txs[..3] {
        assert_eq!(f.assert_applied(&t.id().to_hex()).await["height"], h);
    }
    get(&f.app, &format!("/v1/txs/{}", txs[3].id()))
        .await
        .assert_error(StatusCode::NOT_FOUND, "unknown_tx");
    let id = f.submit_ok(&txs[3]).await;
    f.commit();
    f.assert_applied(&id).await;
}

// ---------------------------------------------------------------------------
// wait=true
// ---------------------------------------------------------------------------

#[tokio::test]
async fn wait_true_answers_pending_when_nothing_commits_in_time() {
    let mut f = Fixture::new();
    let stx = f.admin1.sign(member(
        Signer::new("li-wei").public(),
        "Li Wei",
        &[Role::Producer],
    ));
    let id = stx.id().to_hex();
    let a = post_json(&f.app, "/v1/tx?wait=true&timeout_ms=20", &tx_body(&stx)).await;
    let v = ok_json(&a);
    assert_eq!(v["tx_id"], id);
    assert_eq!(v["status"], "pending");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("/v1/txs/")),
        "{v}"
    );
    assert_eq!(
        get_ok(&f.app, &format!("/v1/txs/{id}")).await["status"],
        "pending"
    );
    f.commit();
    f.assert_applied(&id).await;
    post_json(&f.app, "/v1/tx?wait=true&timeout_ms=20", &tx_body(&stx))
        .await
        .assert_error(StatusCode::CONFLICT, "already_committed");
}

/// Wait until the mempool holds `n` transactions.
async fn mempool_reaches(f: &Fixture, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while f.shared.mempool.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "submission never reached the mempool"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_true_answers_with_the_receipt_once_committed() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    let g = gtin("0690123400001");

    // Applied: the request is answered when the block commits.
    let p = producer.sign(product(&g, "Navel oranges"));
    let req = request(
        Method::POST,
        "/v1/tx?wait=true&timeout_ms=30000",
        Some("application/json"),
        serde_json::to_vec(&tx_body(&p)).expect("json"),
    );
    let app = f.app.clone();
    let waiting = tokio::spawn(async move { send(&app, req).await });
    mempool_reaches(&f, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "wait=true answered before the commit"
    );
    let h = f.commit();
    let a = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("answered after the commit")
        .expect("no panic");
    assert_eq!(
        ok_json(&a),
        json!({ "tx_id": p.id().to_hex(), "height": h, "index": 0, "status": "applied" })
    );

    // Rejected, through the batch endpoint with another transaction.
    let dup = producer.sign(product(&g, "Again"));
    let l = producer.sign(lot(&g, "L1"));
    let body = json!({ "txs": [b64(&dup.encode()), b64(&l.encode())] });
    let req = request(
        Method::POST,
        "/v1/txs?wait=true&timeout_ms=30000",
        Some("application/json"),
        serde_json::to_vec(&body).expect("json"),
    );
    let app = f.app.clone();
    let waiting = tokio::spawn(async move { send(&app, req).await });
    mempool_reaches(&f, 2).await;
    let h = f.commit();
    let a = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("answered after the commit")
        .expect("no panic");
    let v = ok_json(&a);
    let r = v["results"].as_array().expect("results");
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["tx_id"], dup.id().to_hex());
    assert_eq!(r[0]["height"], h);
    assert_eq!(r[0]["index"], 0);
    assert_eq!(r[0]["status"], "rejected");
    assert_eq!(r[0]["reason"]["code"], "duplicate");
    assert!(r[0]["reason"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert_eq!(
        r[1],
        json!({ "tx_id": l.id().to_hex(), "height": h, "index": 1, "status": "applied" })
    );
}

#[tokio::test(start_paused = true)]
async fn batch_wait_is_bounded_and_reports_admitted_transactions() {
    let mut f = Fixture::new();
    let txs: Vec<SignedTx> = (0..3)
        .map(|i| {
            f.admin1.sign(member(
                Signer::new(&format!("m{i}")).public(),
                "M",
                &[Role::Producer],
            ))
        })
        .collect();
    let body = json!({ "txs": txs.iter().map(|t| b64(&t.encode())).collect::<Vec<_>>() });
    // Nothing commits: each transaction should be reported as pending within the
    // documented maximum wait, not lost behind a request timeout.
    let a = post_json(&f.app, "/v1/txs?wait=true&timeout_ms=30000", &body).await;
    assert_eq!(f.shared.mempool.len(), 3, "all three were admitted");
    let v = ok_json(&a);
    let r = v["results"].as_array().expect("results");
    for (t, r) in txs.iter().zip(r) {
        assert_eq!(r["tx_id"], t.id().to_hex());
        assert_eq!(r["status"], "pending");
    }
    f.commit();
}

// ---------------------------------------------------------------------------
// 5. Read errors
// ---------------------------------------------------------------------------

#[tokio::test]
async fn read_errors_have_status_codes_and_json_bodies() {
    let mut f = Fixture::new();
    f.register_orchard_member(&Signer::new("li-wei"), "Li Wei", &[Role::Producer])
        .await;
    let app = &f.app;
    let good = gtin("0690123400001");
    let mut bad = good.clone();
    let last = bad.pop().expect("digit");
    bad.push(if last == '9' {
        '0'
    } else {
        char::from(last as u8 + 1)
    });
    let unknown_key = Signer::new("nobody").hex();
    let unknown_tx = waybill_types::sha256(b"never submitted").to_hex();

    let mut cases = catalog_read_errors(&good, &bad);
    cases.extend(chain_read_errors(&unknown_tx));
    cases.extend(vec![
        ("/v1/nope".into(), StatusCode::NOT_FOUND, "no_such_route"),
        (
            "/v1/status/extra".into(),
            StatusCode::NOT_FOUND,
            "no_such_route",
        ),
        ("/v2/status".into(), StatusCode::NOT_FOUND, "no_such_route"),
        ("/v1/members/zz".into(), StatusCode::BAD_REQUEST, "bad_key"),
        (
            format!("/v1/members/{}", &unknown_key[2..]),
            StatusCode::BAD_REQUEST,
            "bad_key",
        ),
        (
            format!("/v1/members/{unknown_key}"),
            StatusCode::NOT_FOUND,
            "unknown_member",
        ),
        (
            "/v1/orgs/no-such-org".into(),
            StatusCode::NOT_FOUND,
            "unknown_org",
        ),
        (
            "/v1/orgs/no-such-org/members".into(),
            StatusCode::NOT_FOUND,
            "unknown_org",
        ),
        (
            "/v1/orgs/Not_An_Id".into(),
            StatusCode::BAD_REQUEST,
            "bad_org_id",
        ),
        ("/v1/orgs/x".into(), StatusCode::BAD_REQUEST, "bad_org_id"),
    ]);
    for (uri, status, code) in cases {
        let a = get(app, &uri).await;
        assert_eq!(a.status, status, "GET {uri}: {}", a.text());
        a.assert_error(status, code);
    }
}

/// The read errors of blocks and transactions: (URI, status, code).
fn chain_read_errors(unknown_tx: &str) -> Vec<(String, StatusCode, &'static str)> {
    vec![
        (
            "/v1/blocks/2".into(),
            StatusCode::NOT_FOUND,
            "unknown_block",
        ),
        (
            "/v1/blocks/0".into(),
            StatusCode::NOT_FOUND,
            "unknown_block",
        ),
        (
            "/v1/blocks/18446744073709551615".into(),
            StatusCode::NOT_FOUND,
            "unknown_block",
        ),
        (
            "/v1/blocks/abc".into(),
            StatusCode::BAD_REQUEST,
            "bad_height",
        ),
        (
            "/v1/blocks/-1".into(),
            StatusCode::BAD_REQUEST,
            "bad_height",
        ),
        (
            "/v1/blocks/1.0".into(),
            StatusCode::BAD_REQUEST,
            "bad_height",
        ),
        (
            "/v1/blocks/18446744073709551616".into(),
            StatusCode::BAD_REQUEST,
            "bad_height",
        ),
        ("/v1/txs/xyz".into(), StatusCode::BAD_REQUEST, "bad_tx_id"),
        (
            format!("/v1/txs/{}", &unknown_tx[1..]),
            StatusCode::BAD_REQUEST,
            "bad_tx_id",
        ),
        (
            format!("/v1/txs/{unknown_tx}"),
            StatusCode::NOT_FOUND,
            "unknown_tx",
        ),
    ]
}

/// The read errors of products and lots: (URI, status, code).
fn catalog_read_errors(good: &str, bad: &str) -> Vec<(String, StatusCode, &'static str)> {
    vec![
        (
            format!("/v1/products/{good}"),
            StatusCode::NOT_FOUND,
            "unknown_product",
        ),
        (
            format!("/v1/products/{bad}"),
            StatusCode::BAD_REQUEST,
            "bad_gtin",
        ),
        (
            "/v1/products/12345".into(),
            StatusCode::BAD_REQUEST,
            "bad_gtin",
        ),
        (
            "/v1/products/abcdefgh".into(),
            StatusCode::BAD_REQUEST,
            "bad_gtin",
        ),
        (
            format!("/v1/products/{good}/lots"),
            StatusCode::NOT_FOUND,
            "unknown_product",
        ),
        (
            format!("/v1/products/{bad}/lots"),
            StatusCode::BAD_REQUEST,
            "bad_gtin",
        ),
        (
            format!("/v1/lots/{good}/L1"),
            StatusCode::NOT_FOUND,
            "unknown_lot",
        ),
        (
            format!("/v1/lots/{bad}/L1"),
            StatusCode::BAD_REQUEST,
            "bad_gtin",
        ),
    ]
}

#[tokio::test]
async fn wrong_method_on_a_known_path_answers_a_json_error() {
    let f = Fixture::new();
    for (method, uri) in [
        (Method::GET, "/v1/tx"),
        (Method::POST, "/v1/status"),
        (Method::DELETE, "/v1/blocks"),
    ] {
        let a = send(
            &f.app,
            request(method.clone(), uri, None, axum::body::Body::empty()),
        )
        .await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        a.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
}

#[tokio::test]
async fn non_ascii_cursor_is_a_bad_cursor_not_a_panic() {
    let f = Fixture::new();
    for uri in ["/v1/products?after=a%C3%A9b", "/v1/orgs?after=a%C3%A9b"] {
        let app = f.app.clone();
        let req = request(Method::GET, uri, None, axum::body::Body::empty());
        let joined = tokio::spawn(async move { send(&app, req).await }).await;
        let a = joined.unwrap_or_else(|e| panic!("GET {uri} panicked in the handler: {e}"));
        a.assert_error(StatusCode::BAD_REQUEST, "bad_cursor");
    }
}

#[tokio::test]
async fn lots_with_url_special_characters_are_readable_percent_encoded() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    let g = gtin("0690123400001");
    f.submit_ok(&producer.sign(product(&g, "Navel oranges")))
        .await;
    f.submit_ok(&producer.sign(lot(&g, "A/1"))).await;
    f.submit_ok(&producer.sign(lot(&g, "50%+1"))).await;
    f.commit();
    assert_eq!(
        get_ok(&f.app, &format!("/v1/lots/{g}/A%2F1")).await["lot"],
        "A/1"
    );
    assert_eq!(
        get_ok(&f.app, &format!("/v1/lots/{g}/50%25%2B1")).await["lot"],
        "50%+1"
    );
    get(&f.app, &format!("/v1/lots/{g}/A/1"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "no_such_route");
}

// ---------------------------------------------------------------------------
// 6. OpenAPI
// ---------------------------------------------------------------------------

/// Every rejection code, with its meaning, is in the OpenAPI document, generated
/// from the Rust type.
#[tokio::test]
async fn openapi_lists_every_reject_code() {
    let f = Fixture::new();
    let doc = ok_json(&get(&f.app, "/openapi.json").await);
    // Every rejection code, with its meaning, generated from the Rust type.
    let listed: Vec<(&str, &str)> = doc["components"]["schemas"]["RejectCode"]["oneOf"]
        .as_array()
        .expect("RejectCode is listed")
        .iter()
        .map(|c| {
            (
                c["const"].as_str().expect("code"),
                c["description"].as_str().expect("meaning"),
            )
        })
        .collect();
    let want: Vec<(&str, &str)> = waybill_types::reject::RejectCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.meaning()))
        .collect();
    assert_eq!(listed, want);
}

#[tokio::test]
async fn openapi_document_and_routes_agree_both_ways() {
    let f = Fixture::new();
    let a = get(&f.app, "/openapi.json").await;
    let doc = ok_json(&a);
    assert_eq!(
        a.text(),
        waybill_api::openapi_document(),
        "served as generated"
    );
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");

    let in_doc: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .expect("path item is an object")
                .keys()
                .filter(|m| {
                    [
                        "get", "put", "post", "delete", "patch", "head", "options", "trace",
                    ]
                    .contains(&m.as_str())
                })
                .map(move |m| (m.clone(), p.clone()))
        })
        .collect();
    let in_routes: BTreeSet<(String, String)> = waybill_api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        in_routes.len(),
        waybill_api::ROUTES.len(),
        "ROUTES lists each route once"
    );
    let missing: Vec<_> = in_routes.difference(&in_doc).collect();
    assert!(
        missing.is_empty(),
        "routes missing from openapi.json: {missing:?}"
    );
    let extra: Vec<_> = in_doc.difference(&in_routes).collect();
    assert!(
        extra.is_empty(),
        "openapi.json documents routes the API does not have: {extra:?}"
    );

    // Every documented path parameter is declared.
    for (p, ops) in paths {
        let names: BTreeSet<&str> = p
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (m, op) in ops.as_object().expect("object") {
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|x| x["in"] == "path")
                        .filter_map(|x| x["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, names, "{m} {p}: path parameters");
        }
    }
}

#[tokio::test]
async fn every_listed_route_is_served() {
    let mut f = Fixture::new();
    f.register_orchard_member(&Signer::new("li-wei"), "Li Wei", &[Role::Producer])
        .await;
    let g = gtin("0690123400001");
    for (m, p) in waybill_api::ROUTES {
        let uri = p
            .replace(
                "{id}",
                if p.starts_with("/v1/txs") {
                    "00"
                } else {
                    ORCHARD
                },
            )
            .replace("{height}", "1")
            .replace("{key}", &f.admin1.hex())
            .replace("{gtin}", &g)
            .replace("{lot}", "L1");
        let method: Method = m.to_uppercase().parse().expect("method");
        let body = if method == Method::POST {
            serde_json::to_vec(&json!({})).expect("json")
        } else {
            Vec::new()
        };
        let a = send(
            &f.app,
            request(method.clone(), &uri, Some("application/json"), body),
        )
        .await;
        assert_ne!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{m} {uri}");
        if a.status == StatusCode::NOT_FOUND {
            assert_ne!(
                common::error_code(&a.json()),
                "no_such_route",
                "{m} {uri} is in ROUTES but not routed"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 7. Metrics
// ---------------------------------------------------------------------------

#[tokio::test]
async fn metrics_report_height_commits_and_mempool() {
    let mut f = Fixture::new();
    assert_eq!(f.metric("waybill_height").await, 0);
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    f.commit();
    f.submit_ok(&producer.sign(product(&gtin("0690123400001"), "Navel oranges")))
        .await;

    let a = get(&f.app, "/metrics").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        a.content_type
    );
    let text = a.text();
    assert!(text.contains("# TYPE waybill_height gauge"), "{text}");
    assert_eq!(metric_value(&text, "waybill_height"), 2);
    assert_eq!(
        metric_value(&text, "waybill_height"),
        f.status().await.height
    );
    assert_eq!(metric_value(&text, "waybill_txs_committed_total"), 1);
    assert_eq!(metric_value(&text, "waybill_mempool_txs"), 1);
    assert_eq!(metric_value(&text, "waybill_block_commit_seconds_count"), 2);
    f.commit();
    assert_eq!(f.metric("waybill_height").await, 3);
    assert_eq!(f.metric("waybill_txs_committed_total").await, 2);
    assert_eq!(f.metric("waybill_mempool_txs").await, 0);
}

// ---------------------------------------------------------------------------
// 8. Explorer page
// ---------------------------------------------------------------------------

#[tokio::test]
async fn explorer_page_shows_the_chain_and_escapes_names() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(
        &producer,
        "<script>alert('member')</script>",
        &[Role::Producer],
    )
    .await;
    let g1 = gtin("0690123400001");
    let g2 = gtin("0690123400002");
    f.submit_ok(&producer.sign(product(&g1, "Navel oranges, 5 kg carton")))
        .await;
    f.submit_ok(&producer.sign(product(&g2, "<script>alert(1)</script>")))
        .await;
    f.submit_ok(&producer.sign(lot(&g1, "<L&1>"))).await;
    f.commit();

    let a = get(&f.app, "/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        a.content_type
    );
    let html = a.text();
    assert!(
        html.contains("Navel oranges, 5 kg carton"),
        "the registered product is listed"
    );
    assert!(html.contains(&g1) && html.contains(&g2));
    assert!(
        html.contains(&format!("{ORCHARD} (test)")),
        "organizations are listed"
    );
    assert!(html.contains(CHAIN_ID));
    assert!(html.contains("height <b>2</b>"), "the head height is shown");
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "a product name is not injected as HTML"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "it is escaped instead"
    );
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "no script element at all"
    );
    assert!(!html.contains("<L&1>"), "lot numbers are escaped too");
    assert!(html.contains("&lt;L&amp;1&gt;"));
    let block2 = get_ok(&f.app, "/v1/blocks/2").await;
    assert!(
        html.contains(block2["hash"].as_str().expect("hash")),
        "latest blocks are listed"
    );
}

#[tokio::test]
async fn explorer_lot_links_reach_the_lot() {
    let mut f = Fixture::new();
    let mut producer = Signer::new("li-wei");
    f.register_orchard_member(&producer, "Li Wei", &[Role::Producer])
        .await;
    let g = gtin("0690123400001");
    f.submit_ok(&producer.sign(product(&g, "Navel oranges")))
        .await;
    f.submit_ok(&producer.sign(lot(&g, "A/1"))).await;
    f.commit();
    let html = get(&f.app, "/").await.text();
    let start = html.find("href=/v1/lots/").expect("a lot link") + "href=".len();
    let end = start + html[start..].find('>').expect("end of tag");
    let href = html[start..end]
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let a = get(&f.app, &href).await;
    assert_eq!(a.status, StatusCode::OK, "link {href}: {}", a.text());
    assert_eq!(a.json()["lot"], "A/1");
}
