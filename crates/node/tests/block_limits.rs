//! The proposer never builds a block past the limits: with more transactions
//! waiting than fit, the block holds exactly `BLOCK_TXS_MAX` and the rest wait.

use waybill_types::payload::RegisterMember;

use waybill_client::sign;
use waybill_testkit::{temp_dir, test_genesis, TestChain};
use waybill_types::{limits, Height, Payload, Role, SecretKey, SignedTx};

#[test]
fn a_block_holds_at_most_block_txs_max_transactions() {
    let admin = SecretKey::from_label("limits admin");
    let validator = SecretKey::from_label("limits validator");
    let genesis = test_genesis(
        &[("farm", &[Role::Producer], &["6901234"], &admin)],
        &validator,
    );
    let mut chain = TestChain::open(
        &temp_dir("block-limits"),
        genesis.clone(),
        validator,
        limits::MEMPOOL_TXS_MAX,
        limits::MEMPOOL_BYTES_MAX,
    );
    let shared = chain.shared();
    let n = limits::BLOCK_TXS_MAX + 3;
    // One signer: the admin registers n new members.
    let txs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let p = Payload::RegisterMember(RegisterMember {
                member: SecretKey::from_label(&format!("limits member {i}")).public(),
                name: format!("member {i}"),
                roles: vec![Role::Producer],
            });
            sign(&admin, &genesis.chain_id, p).encode()
        })
        .collect();
    for chunk in txs.chunks(limits::SUBMIT_BATCH_TXS_MAX) {
        for r in waybill_node::ledger::submit_batch(&shared, chunk.to_vec()) {
            r.expect("admitted");
        }
    }
    assert_eq!(shared.mempool.len(), n);
    assert_eq!(chain.commit_block().expect("block 1"), Height(1));
    let b1 = shared
        .store
        .block(Height(1))
        .expect("reads")
        .expect("block 1");
    assert_eq!(b1.txs.len(), limits::BLOCK_TXS_MAX, "exactly the limit");
    assert!(b1.encode().len() <= limits::BLOCK_BYTES_MAX);
    assert_eq!(shared.mempool.len(), 3, "the rest wait for the next block");
    chain.commit_block().expect("block 2");
    let b2 = shared
        .store
        .block(Height(2))
        .expect("reads")
        .expect("block 2");
    assert_eq!(b2.txs.len(), 3);
    assert!(shared.mempool.is_empty());
    let _ = SignedTx::decode(&b2.txs[0].encode()).expect("stored transactions decode");
}
