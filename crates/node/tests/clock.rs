//! Time enters the node through its injected clock: the proposer's block time, the
//! bound a validator puts on a proposed block's time, and a submission's expiry all
//! follow a `ManualClock` that the test holds still or moves.

use std::sync::Arc;

use waybill_node::app::{AppError, Application};
use waybill_node::ledger::{submit_batch, CLOCK_DRIFT_MS_MAX};
use waybill_testkit::{test_genesis, TestChain};
use waybill_types::clock::{Clock, ManualClock};
use waybill_types::payload::RegisterMember;
use waybill_types::{Genesis, Height, Payload, Role, SecretKey, SignedTx};

/// 2033-05-18, years away from any machine's clock while these tests run: a time
/// read from the system clock instead of the injected one cannot match it.
const T0_MS: u64 = 2_000_000_000_000;

fn keys() -> (SecretKey, SecretKey) {
    (
        SecretKey::from_label("clock admin"),
        SecretKey::from_label("clock validator"),
    )
}

fn genesis() -> Genesis {
    let (admin, validator) = keys();
    test_genesis(
        &[("farm", &[Role::Producer], &["6901234"], &admin)],
        &validator,
    )
}

/// A one-validator chain whose ledger reads `clock`.
fn chain_on(clock: &ManualClock) -> TestChain {
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    TestChain::with_clock(genesis(), keys().1, shared)
}

fn block_time_ms(chain: &TestChain, h: Height) -> u64 {
    chain
        .shared()
        .store
        .block(h)
        .expect("the store reads")
        .expect("the block is committed")
        .header
        .time_ms
}

/// The admin registers a new member, nonce `nonce`, expiring at `expires_at_ms`.
fn registration(nonce: u64, expires_at_ms: u64) -> SignedTx {
    let (admin, _) = keys();
    let p = Payload::RegisterMember(RegisterMember {
        member: SecretKey::from_label(&format!("clock member {nonce}")).public(),
        name: format!("member {nonce}"),
        roles: vec![Role::Producer],
    });
    waybill_client::sign_with(&admin, &genesis().chain_id, nonce, expires_at_ms, p)
}

#[test]
fn the_proposer_takes_block_time_from_its_clock_and_never_before_the_last_block() {
    let clock = ManualClock::at(T0_MS);
    let mut chain = chain_on(&clock);
    let h1 = chain.commit_block().expect("block 1");
    assert_eq!(block_time_ms(&chain, h1), T0_MS, "the clock's time");
    // The clock stands still: each block is 1 ms after the last.
    let h2 = chain.commit_block().expect("block 2");
    assert_eq!(block_time_ms(&chain, h2), T0_MS + 1);
    let h3 = chain.commit_block().expect("block 3");
    assert_eq!(block_time_ms(&chain, h3), T0_MS + 2);
    // The clock moves on: the block follows it.
    clock.advance(5_000);
    let h4 = chain.commit_block().expect("block 4");
    assert_eq!(block_time_ms(&chain, h4), T0_MS + 5_000);
}

#[test]
fn a_proposal_beyond_the_validators_clock_plus_drift_is_refused() {
    let proposer_clock = ManualClock::at(T0_MS + CLOCK_DRIFT_MS_MAX + 1);
    let validator_clock = ManualClock::at(T0_MS);
    let mut proposer = chain_on(&proposer_clock);
    let mut validator = chain_on(&validator_clock);
    let block = proposer
        .ledger
        .build_block(Height(1), keys().1.public())
        .expect("the proposer builds block 1");
    assert_eq!(block.header.time_ms, T0_MS + CLOCK_DRIFT_MS_MAX + 1);

    match validator.ledger.accept_proposal(block.clone()) {
        Err(AppError::InvalidBlock(m)) => assert!(
            m.contains("too far ahead of our clock")
                && m.contains(&block.header.time_ms.to_string()),
            "the refusal names the time: {m}"
        ),
        other => panic!("1 ms past the drift allowed, the proposal is refused: {other:?}"),
    }
    assert!(validator.ledger.proposal(&block.hash()).is_none());

    // Within the drift of the validator's clock, the same block is accepted.
    validator_clock.advance(1);
    validator
        .ledger
        .accept_proposal(block.clone())
        .expect("exactly at the drift allowed, the proposal is accepted");
    assert!(validator.ledger.proposal(&block.hash()).is_some());
}

#[test]
fn a_submission_is_refused_once_the_clock_passes_its_expiry() {
    let clock = ManualClock::at(T0_MS);
    let chain = chain_on(&clock);
    let shared = chain.shared();
    let expires_at_ms = T0_MS + 60_000;

    let before = submit_batch(&shared, vec![registration(1, expires_at_ms).encode()]);
    assert!(
        matches!(before.as_slice(), [Ok(_)]),
        "a minute before its expiry, the transaction is admitted: {before:?}"
    );
    // The same expiry, a fresh nonce: refused once the clock reaches the expiry.
    clock.advance(60_000);
    let after = submit_batch(&shared, vec![registration(2, expires_at_ms).encode()]);
    match after.as_slice() {
        [Err(e)] => {
            assert_eq!(e.code(), "expired_tx", "{e}");
            assert!(e.to_string().contains(&expires_at_ms.to_string()), "{e}");
        }
        other => panic!("at its expiry, the transaction is refused: {other:?}"),
    }
    assert_eq!(shared.mempool.len(), 1, "only the first waits");
}

#[test]
fn a_waiting_transaction_whose_expiry_the_clock_passes_is_left_out_of_the_block() {
    let clock = ManualClock::at(T0_MS);
    let mut chain = chain_on(&clock);
    let shared = chain.shared();
    let stx = registration(1, T0_MS + 60_000);
    let admitted = submit_batch(&shared, vec![stx.encode()]);
    assert!(matches!(admitted.as_slice(), [Ok(_)]), "{admitted:?}");
    clock.advance(60_000);
    let h = chain.commit_block().expect("block 1");
    let block = shared.store.block(h).expect("reads").expect("block 1");
    assert_eq!(block.header.time_ms, T0_MS + 60_000);
    assert!(block.txs.is_empty(), "the expired transaction is not in it");
    assert!(shared.mempool.is_empty(), "and it left the mempool");
    assert!(shared
        .store
        .tx_location(&stx.id())
        .expect("reads")
        .is_none());
}

/// The crates that serve a node read the time only through its clock: no
/// `SystemTime::now` (nor `UNIX_EPOCH` arithmetic) in their sources. `Instant`, for
/// timeouts and latencies, is no contract time and stays allowed.
#[test]
fn no_wall_clock_reads_outside_the_clock() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for krate in ["node", "api", "state", "store"] {
        let mut dirs = vec![crates.join(krate).join("src")];
        while let Some(dir) = dirs.pop() {
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
            for entry in entries {
                let path = entry.expect("a directory entry reads").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("a source file reads");
                    for (i, line) in text.lines().enumerate() {
                        if line.contains("SystemTime") || line.contains("UNIX_EPOCH") {
                            found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                        }
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "read the time through the node's clock (`Shared::now_ms`, waybill_types::clock), not the system's:\n{}",
        found.join("\n")
    );
}

/// A validator remembers which transactions of a proposal it verified, so that it
/// does not verify them again; a proposal that is not decided (its round lost) must
/// not leave those ids behind once its height is committed.
#[test]
fn a_proposal_that_is_not_decided_leaves_no_verified_ids_behind() {
    let clock = ManualClock::at(T0_MS);
    let mut proposer = chain_on(&clock);
    let mut validator = chain_on(&clock);
    let txs: Vec<Vec<u8>> = (1..=3)
        .map(|n| registration(n, T0_MS + 60_000).encode())
        .collect();
    for r in submit_batch(&proposer.shared(), txs) {
        r.expect("admitted at the proposer");
    }
    clock.advance(1_000);
    let lost = proposer
        .ledger
        .build_block(Height(1), keys().1.public())
        .expect("the proposer builds block 1");
    assert_eq!(lost.txs.len(), 3);
    validator
        .ledger
        .accept_proposal(lost)
        .expect("the validator accepts the proposal");
    assert_eq!(
        validator.ledger.verified_ids(),
        3,
        "verified once, remembered"
    );
    // Another block is decided at height 1 (here: the validator's own, empty).
    assert_eq!(
        validator.commit_block().expect("block 1 commits"),
        Height(1)
    );
    assert_eq!(
        validator.ledger.verified_ids(),
        0,
        "the lost proposal's ids are dropped with its height"
    );
}
