//! A node refuses a store that is not its own before writing anything (issue 12):
//! an empty file, a missing store where the node has run, a store of another
//! genesis. And a validator whose store is behind its signing mark follows the chain
//! without signing; with no peer to follow it does not start.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use waybill_node::consensus::SigningMark;
use waybill_node::NodeOptions;
use waybill_testkit::{temp_dir, test_genesis, TestChain};
use waybill_types::{sha256, Genesis, Hash, Role, SecretKey};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn setup(label: &str) -> (Genesis, SecretKey) {
    let admin = SecretKey::from_label(&format!("{label} admin"));
    let validator = SecretKey::from_label(&format!("{label} validator"));
    let mut g = test_genesis(
        &[("farm", &[Role::Producer], &["6901234"], &admin)],
        &validator,
    );
    g.chain_id = format!("chain-{label}");
    (g, validator)
}

fn options(dir: &Path, genesis: &Genesis, key: &SecretKey) -> NodeOptions {
    NodeOptions::new(
        dir,
        genesis.clone(),
        key.clone(),
        format!("/ip4/127.0.0.1/tcp/{}", free_port()),
    )
}

fn file_hash(p: &Path) -> Option<Hash> {
    std::fs::read(p).ok().map(|b| sha256(&b))
}

/// A data directory with a store of 2 committed blocks and the commit mark a run
/// of the node leaves.
fn ran_node(label: &str) -> (PathBuf, Genesis, SecretKey) {
    let (genesis, key) = setup(label);
    let dir = temp_dir(label);
    let mut chain = TestChain::open(&dir, genesis.clone(), key.clone(), 100, 1 << 20);
    chain.commit_block().expect("block 1");
    chain.commit_block().expect("block 2");
    let shared = chain.shared();
    let mark = waybill_node::commit_mark::CommitMark::of_head(&shared.store).expect("mark");
    mark.write(&waybill_node::commit_mark::CommitMark::path(&dir))
        .expect("mark written");
    drop(shared);
    chain.close();
    (dir, genesis, key)
}

async fn refused(opts: NodeOptions) -> String {
    match waybill_node::start(opts).await {
        Ok(node) => {
            node.consensus.shutdown().await;
            panic!("the node started")
        }
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_store_file_is_refused_and_left_empty() {
    let (genesis, key) = setup("empty");
    let dir = temp_dir("empty-store");
    let opts = options(&dir, &genesis, &key);
    std::fs::write(opts.store_path(), b"").expect("empty file");
    let err = refused(opts.clone()).await;
    assert!(
        err.contains("0 bytes") && err.contains("waybill restore"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(opts.store_path())
            .expect("still there")
            .len(),
        0
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_store_where_the_node_ran_is_refused_and_not_created() {
    let (dir, genesis, key) = ran_node("missing");
    let opts = options(&dir, &genesis, &key);
    std::fs::remove_file(opts.store_path()).expect("store removed");
    let err = refused(opts.clone()).await;
    assert!(
        err.contains("missing") && err.contains("waybill restore"),
        "{err}"
    );
    assert!(!opts.store_path().exists(), "no new store was created");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_another_genesis_is_refused_and_not_written() {
    let (dir, _, _) = ran_node("foreign");
    // The same directory started with another consortium's genesis and key, after
    // the commit mark of the first one was removed (so the store itself is checked).
    std::fs::remove_file(waybill_node::commit_mark::CommitMark::path(&dir)).expect("rm mark");
    let (other, key) = setup("other");
    let opts = options(&dir, &other, &key);
    let before = file_hash(&opts.store_path());
    let err = refused(opts.clone()).await;
    assert!(
        err.contains("different genesis") && err.contains("waybill restore"),
        "{err}"
    );
    assert_eq!(
        file_hash(&opts.store_path()),
        before,
        "the store is unchanged"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_store_is_refused() {
    let (dir, genesis, key) = ran_node("rollback");
    let mark_path = waybill_node::commit_mark::CommitMark::path(&dir);
    let mut mark = waybill_node::commit_mark::CommitMark::read(&mark_path)
        .expect("reads")
        .expect("mark");
    mark.height += 5; // the node had committed further than this store holds
    mark.write(&mark_path).expect("writes");
    let opts = options(&dir, &genesis, &key);
    let before = file_hash(&opts.store_path());
    let err = refused(opts.clone()).await;
    assert!(
        err.contains("does not hold block") && err.contains("waybill restore"),
        "{err}"
    );
    assert_eq!(file_hash(&opts.store_path()), before);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_behind_its_signing_mark_without_peers_does_not_start() {
    let (dir, genesis, key) = ran_node("solo-behind");
    let opts = options(&dir, &genesis, &key);
    SigningMark {
        height: 9,
        round: 0,
        ..SigningMark::default()
    }
    .write(&opts.signing_mark)
    .expect("mark");
    let err = refused(opts).await;
    assert!(
        err.contains("signed at height 9") && err.contains("no peers"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The store is at height 2, the validator already signed at height 9: it starts
/// as a follower (its engine has no signer) and the signing mark does not move
/// while it works on heights it may already have signed at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_behind_its_signing_mark_follows_without_signing() {
    let (dir, genesis, key) = ran_node("follow");
    let mut opts = options(&dir, &genesis, &key);
    // A peer to follow (nobody listens there: the node just keeps waiting for it).
    opts.peers = vec![format!("/ip4/127.0.0.1/tcp/{}", free_port())];
    let mark = SigningMark {
        height: 9,
        round: 1,
        ..SigningMark::default()
    };
    mark.write(&opts.signing_mark).expect("mark");
    let before = file_hash(&opts.signing_mark);
    let node = waybill_node::start(opts.clone()).await.expect("starts");
    assert!(node.consensus.is_following(), "starts as a follower");
    // The engine is ready at height 3, the one after the store's head, which it
    // works on with no signer at all (a full node, under an address in no validator
    // set); the signing path below the mark refuses in any case (unit tests).
    let deadline = Instant::now() + Duration::from_secs(30);
    while node.consensus.status().height != 3 {
        assert!(
            Instant::now() < deadline,
            "consensus never started height 3"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(node.consensus.is_following());
    assert_eq!(file_hash(&opts.signing_mark), before, "nothing was signed");
    assert_eq!(SigningMark::read(&opts.signing_mark).expect("reads"), mark);
    node.consensus.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
