//! A node serving a damaged store: a request that reads a record that no longer
//! decodes answers 503 `store_damaged` (not 500) and raises the tamper alert.
//! Regression (issue 12): such queries answered 500 and nobody was alerted.

use waybill_types::payload::RegisterMember;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use waybill_client::sign;
use waybill_node::metrics::Metrics;
use waybill_node::{Ledger, Mempool};
use waybill_store::Store;
use waybill_testkit::{test_genesis, TestChain};
use waybill_types::{Height, Payload, Role, SecretKey};

#[tokio::test]
async fn a_damaged_record_answers_503_and_raises_the_tamper_alert() {
    let admin = SecretKey::from_label("damage admin");
    let validator = SecretKey::from_label("damage validator");
    let genesis = test_genesis(
        &[("farm", &[Role::Producer], &["6901234"], &admin)],
        &validator,
    );
    let (block2, dir, path) = two_blocks_closed(&genesis, &admin, validator).await;
    // Damage block 2 on disk: its chain id's length prefix now claims 16 MiB.
    let prefix = &block2[..1 + 4 + genesis.chain_id.len() + 8];
    let mut bytes = std::fs::read(&path).expect("reads");
    let at = bytes
        .windows(prefix.len())
        .position(|w| w == prefix)
        .expect("block 2 is in the file");
    bytes[at + 1 + 2] = 0xff;
    std::fs::write(&path, bytes).expect("writes");

    let (store, _) = Store::open_existing(&path).expect("opens read-only");
    let ledger = Ledger::new(
        Arc::new(store),
        genesis,
        Arc::new(Mempool::new(100, 1 << 20)),
        Arc::new(Metrics::default()),
    )
    .expect("ledger");
    let shared = ledger.shared();
    let app = waybill_api::app(shared.clone());

    let ok = app
        .clone()
        .oneshot(
            Request::get("/v1/blocks/1")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answers");
    assert_eq!(ok.status(), StatusCode::OK, "block 1 is intact");
    assert!(shared.tamper_alert().is_none());

    let resp = app
        .oneshot(
            Request::get("/v1/blocks/2")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answers");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
    assert_eq!(v["code"], "store_damaged", "{v}");
    let alert = shared.tamper_alert().expect("the tamper alert is raised");
    assert!(alert.contains("damaged"), "{alert}");
    let _ = std::fs::remove_dir_all(dir);
}

async fn two_blocks_closed(
    genesis: &waybill_types::Genesis,
    admin: &SecretKey,
    validator: SecretKey,
) -> (Vec<u8>, std::path::PathBuf, std::path::PathBuf) {
    let mut chain = TestChain::new(genesis.clone(), validator);
    let shared = chain.shared();
    for seq in 1..=2u64 {
        let tx = sign(
            admin,
            &genesis.chain_id,
            Payload::RegisterMember(RegisterMember {
                member: SecretKey::from_label(&format!("damage member {seq}")).public(),
                name: format!("m{seq}"),
                roles: vec![Role::Producer],
            }),
        );
        for r in waybill_node::ledger::submit_batch(&shared, vec![tx.encode()]) {
            r.expect("admitted");
        }
        chain.commit_block().expect("commits");
    }
    let block2 = shared
        .store
        .block_bytes(Height(2))
        .expect("reads")
        .expect("block 2");
    drop(shared);
    let dir = chain.close();
    let path = dir.join("waybill.redb");

    (block2, dir, path)
}
