//! A four-organization consortium as real processes on 127.0.0.1: transactions sent
//! to any node are finalized; one node SIGKILLed → the other three go on, and it
//! catches up when restarted; two stopped → no block is finalized and nothing forks,
//! and finality resumes when they return; a node whose data directory was deleted
//! resyncs from its peers and `waybill verify` passes. Every wait is bounded.

use waybill_types::payload::{ApproveGovernance, ProposeGovernance, RegisterMember};

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use waybill_client::{Client, KeyFile};
use waybill_types::{Payload, Role, SecretKey, SignedTx};

mod common;

use common::{free_port_block, http_get, regular_files, Lcg};

const BIN: &str = env!("CARGO_BIN_EXE_waybill");
const N: usize = 4;

/// The tests here each run four node processes; on two cores they take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Node {
    dir: PathBuf,
    child: Option<Child>,
    client: Client,
}

impl Node {
    fn start(&mut self) {
        self.start_with(&[]);
    }
    fn start_with(&mut self, extra_args: &[&str]) {
        self.start_with_env(extra_args, &[]);
    }
    fn start_with_env(&mut self, extra_args: &[&str], env: &[(&str, &std::path::Path)]) {
        assert!(self.child.is_none(), "node already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("node.log"))
            .expect("log file");
        self.child = Some(
            Command::new(BIN)
                .args(["node", "--dir"])
                .arg(&self.dir)
                .args(extra_args)
                .env("RUST_LOG", "warn,waybill_node=info")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("node starts"),
        );
    }
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        // A failing test's panic message says what it waited for; the nodes' logs say
        // why it did not happen (CI keeps only the test's output).
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!(
                "--- last lines of {}/node.log ---\n{tail}",
                self.dir.display()
            );
        }
    }
}

async fn height(c: &Client) -> Option<u64> {
    c.status().await.ok().and_then(|s| s["height"].as_u64())
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn block_hash(c: &Client, h: u64) -> Option<String> {
    c.block(h)
        .await
        .ok()
        .and_then(|b| b["hash"].as_str().map(str::to_string))
}

/// Every node has the same block hash (and so header and state hash) at every height
/// up to `h`.
async fn assert_same_chain(nodes: &[&Node], h: u64) {
    for height in (1..=h)
        .rev()
        .step_by(((h / 40) as usize).max(1))
        .chain(std::iter::once(h))
    {
        let mut hashes = Vec::new();
        for n in nodes {
            hashes.push(
                block_hash(&n.client, height)
                    .await
                    .unwrap_or_else(|| panic!("{} has block {height}", n.dir.display())),
            );
        }
        assert!(
            hashes.windows(2).all(|w| w[0] == w[1]),
            "fork at height {height}: {hashes:?}"
        );
    }
}

struct Member {
    key: SecretKey,
    /// Transactions signed so far (names the members it registers).
    n: u64,
}

/// Register a fresh member through `via`, signed by `admin`; wait for the receipt.
async fn register(via: &Client, chain_id: &str, admin: &mut Member) -> SignedTx {
    admin.n += 1;
    let p = Payload::RegisterMember(RegisterMember {
        member: SecretKey::generate().public(),
        name: format!("member {}", admin.n),
        roles: vec![Role::Processor],
    });
    // No sequence to keep: the previous transaction may still be committing on
    // another node, this one is independent of it.
    let tx = waybill_client::sign(&admin.key, chain_id, p);
    let v = via
        .submit(&tx, true)
        .await
        .unwrap_or_else(|e| panic!("submission to {} failed: {e}", via.base_url()));
    assert_eq!(v["status"], "applied", "{v}");
    tx
}

/// A four-node testnet in a fresh directory, all nodes started and answering.
async fn testnet(tag: &str) -> (PathBuf, Vec<Node>) {
    let (root, api, _) = layout(tag);
    let nodes = start_all(&root, api).await;
    (root, nodes)
}

/// A four-node testnet laid out (keys, genesis, node.json) in a fresh directory,
/// not started: its directory and the first API and p2p ports.
fn layout(tag: &str) -> (PathBuf, u16, u16) {
    let root =
        std::env::temp_dir().join(format!("waybill-consortium-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let api = free_port_block(N);
    let p2p = free_port_block(N);
    let out = Command::new(BIN)
        .args(["testnet", "--init-only", "--nodes", "4", "--dir"])
        .arg(&root)
        .args([
            "--api-port",
            &api.to_string(),
            "--p2p-port",
            &p2p.to_string(),
        ])
        .output()
        .expect("testnet --init-only");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (root, api, p2p)
}

/// Start the four nodes of `root` and wait until each answers.
async fn start_all(root: &std::path::Path, api: u16) -> Vec<Node> {
    start_all_with_env(root, api, |_| Vec::new()).await
}

/// [`start_all`], node `i` with the environment `env(i)`.
async fn start_all_with_env(
    root: &std::path::Path,
    api: u16,
    env: impl Fn(usize) -> Vec<(&'static str, PathBuf)>,
) -> Vec<Node> {
    let mut nodes: Vec<Node> = (0..N)
        .map(|i| Node {
            dir: root.join(format!("node{i}")),
            child: None,
            client: Client::new(&format!("http://127.0.0.1:{}", api + i as u16)),
        })
        .collect();
    for (i, n) in nodes.iter_mut().enumerate() {
        let vars = env(i);
        let vars: Vec<(&str, &std::path::Path)> =
            vars.iter().map(|(k, v)| (*k, v.as_path())).collect();
        n.start_with_env(&[], &vars);
    }
    for n in &nodes {
        n.client
            .wait_ready(Duration::from_secs(60))
            .await
            .expect("node answers");
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_survive_a_crash_a_halt_and_data_loss() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (root, mut nodes) = testnet("faults").await;
    let chain_id = nodes[0].client.chain_id().await.expect("chain id");
    let (_, admin_key) = KeyFile::read(&root.join("node1/keys/orgs/chengdu-packing-admin.json"))
        .expect("admin key of org 1");
    let mut admin = Member {
        key: admin_key,
        n: 0,
    };
    wait_until(
        "all four finalize blocks together",
        Duration::from_secs(60),
        || async {
            let mut ok = true;
            for n in &nodes {
                ok &= height(&n.client).await.is_some_and(|h| h >= 2);
            }
            ok
        },
    )
    .await;

    // A transaction submitted to each node is gossiped and finalized.
    let mut txs = Vec::new();
    for n in &nodes {
        txs.push(register(&n.client, &chain_id, &mut admin).await);
    }
    for tx in &txs {
        for n in &nodes {
            let id = tx.id();
            wait_until(
                "every node has every transaction",
                Duration::from_secs(30),
                || async {
                    n.client
                        .tx(&id)
                        .await
                        .is_ok_and(|v| v["receipt"]["status"] == "applied")
                },
            )
            .await;
        }
    }

    // 1. One of four SIGKILLed: the other three keep finalizing.
    nodes[3].kill();
    let before = height(&nodes[0].client).await.expect("height");
    for n in &nodes[..3] {
        register(&n.client, &chain_id, &mut admin).await;
    }
    wait_until(
        "three of four keep finalizing",
        Duration::from_secs(60),
        || async {
            height(&nodes[0].client)
                .await
                .is_some_and(|h| h >= before + 3)
        },
    )
    .await;
    // Restarted, it catches up to the same head.
    nodes[3].start();
    let target = height(&nodes[0].client).await.expect("height");
    wait_until(
        "the restarted node catches up",
        Duration::from_secs(90),
        || async { height(&nodes[3].client).await.is_some_and(|h| h >= target) },
    )
    .await;
    assert_same_chain(&nodes.iter().collect::<Vec<_>>(), target).await;

    // 2. Two of four stopped: no block is finalized, nothing forks.
    nodes[2].kill();
    nodes[3].kill();
    tokio::time::sleep(Duration::from_secs(2)).await; // let any in-flight height settle
    let stalled = height(&nodes[0].client).await.expect("height");
    let pending_tx = {
        admin.n += 1;
        let p = Payload::RegisterMember(RegisterMember {
            member: SecretKey::generate().public(),
            name: "during the halt".into(),
            roles: vec![Role::Processor],
        });
        let tx = waybill_client::sign(&admin.key, &chain_id, p);
        let v = nodes[0]
            .client
            .submit(&tx, false)
            .await
            .expect("accepted into the mempool");
        assert_eq!(v["status"], "accepted");
        tx
    };
    tokio::time::sleep(Duration::from_secs(6)).await;
    for n in &nodes[..2] {
        let h = height(&n.client).await.expect("height");
        assert!(
            h <= stalled + 1,
            "{} finalized past {stalled} with only half the power: {h}",
            n.dir.display()
        );
    }
    let stalled = height(&nodes[0].client).await.expect("height");
    assert_eq!(
        height(&nodes[1].client).await,
        Some(stalled),
        "the two live nodes agree while halted"
    );
    // Restored: finality resumes and the waiting transaction commits.
    nodes[2].start();
    nodes[3].start();
    let id = pending_tx.id();
    wait_until(
        "finality resumes and the pending transaction commits",
        Duration::from_secs(120),
        || async {
            nodes[0]
                .client
                .tx(&id)
                .await
                .is_ok_and(|v| v["receipt"]["status"] == "applied")
        },
    )
    .await;

    // 3. A node's data directory deleted while it is down: it resyncs from its peers.
    nodes[1].kill();
    std::fs::remove_dir_all(nodes[1].dir.join("data")).expect("data dir deleted");
    register(&nodes[0].client, &chain_id, &mut admin).await;
    nodes[1].start();
    let target = height(&nodes[0].client).await.expect("height");
    wait_until(
        "the emptied node resyncs from genesis",
        Duration::from_secs(120),
        || async { height(&nodes[1].client).await.is_some_and(|h| h >= target) },
    )
    .await;
    assert_same_chain(&nodes.iter().collect::<Vec<_>>(), target).await;
    nodes[1].kill();
    let out = Command::new(BIN)
        .args(["verify", "--dir"])
        .arg(&nodes[1].dir)
        .output()
        .expect("verify runs");
    assert!(
        out.status.success(),
        "verify of the resynced node: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for n in nodes.iter_mut() {
        n.kill();
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Submit batches from every organization's admin to the nodes in turn until
/// `stop`; keep every transaction whose commit was acknowledged.
async fn steady_load(
    clients: Vec<Client>,
    chain_id: String,
    admins: Vec<SecretKey>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<SignedTx> {
    let mut acked = Vec::new();
    let mut turn = 0usize;
    while !*stop.borrow() {
        turn += 1;
        let client = &clients[turn % clients.len()];
        let admin = &admins[turn % admins.len()];
        let txs: Vec<SignedTx> = (0..10)
            .map(|i| {
                let p = Payload::RegisterMember(RegisterMember {
                    member: SecretKey::generate().public(),
                    name: format!("load {turn}-{i}"),
                    roles: vec![Role::Processor],
                });
                waybill_client::sign(admin, &chain_id, p)
            })
            .collect();
        match client.submit_batch(&txs, true).await {
            Ok(results) => {
                for (tx, r) in txs.into_iter().zip(results) {
                    if r["status"] == "applied" {
                        acked.push(tx);
                    }
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sigkills_under_load_lose_nothing_and_never_fork() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (root, mut nodes) = testnet("chaos").await;
    let chain_id = nodes[0].client.chain_id().await.expect("chain id");
    // The packing plant's admin registers processors, through every node in turn.
    let admins: Vec<SecretKey> = ["node1/keys/orgs/chengdu-packing-admin.json"]
        .iter()
        .map(|p| KeyFile::read(&root.join(p)).expect("admin key").1)
        .collect();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    eprintln!("chaos seed {seed}");
    let mut rng = Lcg(seed);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let load = tokio::spawn(steady_load(
        nodes.iter().map(|n| n.client.clone()).collect(),
        chain_id,
        admins,
        stop_rx,
    ));
    let started = Instant::now();
    let mut kills = 0;
    while started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(2_000 + rng.next() % 3_000)).await;
        let victim = (rng.next() % N as u64) as usize;
        nodes[victim].kill();
        kills += 1;
        tokio::time::sleep(Duration::from_millis(1_000 + rng.next() % 3_000)).await;
        nodes[victim].start();
    }
    let _ = stop_tx.send(true);
    let acked = tokio::time::timeout(Duration::from_secs(60), load)
        .await
        .expect("load stops")
        .expect("load task");
    eprintln!(
        "{kills} SIGKILLs in 60 s; {} transactions acknowledged",
        acked.len()
    );
    assert!(kills >= 8, "at least eight kills ({kills})");
    assert!(
        acked.len() >= 100,
        "the load kept committing ({} acknowledged)",
        acked.len()
    );
    // All four converge on one head.
    let mut target = 0;
    for n in &nodes {
        target = target.max(height(&n.client).await.unwrap_or(0));
    }
    for n in &nodes {
        wait_until(
            "every node reaches the same head",
            Duration::from_secs(120),
            || async { height(&n.client).await.is_some_and(|h| h >= target) },
        )
        .await;
    }
    for n in nodes.iter_mut() {
        n.kill();
    }
    // Every acknowledged transaction is on every node, and every chain is identical.
    let stores: Vec<waybill_store::Store> = nodes
        .iter()
        .map(|n| {
            waybill_store::Store::open_existing(&n.dir.join("data/waybill.redb"))
                .expect("store opens")
                .0
        })
        .collect();
    for (i, store) in stores.iter().enumerate() {
        for tx in &acked {
            let loc = store.tx_location(&tx.id()).expect("index reads");
            assert!(
                loc.is_some(),
                "node{i} lacks acknowledged transaction {}",
                tx.id()
            );
        }
    }
    let common = stores
        .iter()
        .map(|s| s.head().expect("head").height.0)
        .min()
        .expect("four stores");
    assert!(common >= target, "every store holds the common head");
    for h in 1..=common {
        let hashes: Vec<_> = stores
            .iter()
            .map(|s| {
                s.block(waybill_types::Height(h))
                    .expect("reads")
                    .expect("block")
                    .hash()
            })
            .collect();
        assert!(
            hashes.windows(2).all(|w| w[0] == w[1]),
            "fork at height {h}"
        );
    }
    drop(stores);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_organization_admitted_by_majority_runs_a_validator_that_votes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (root, mut nodes) = testnet("governance").await;
    let chain_id = nodes[0].client.chain_id().await.expect("chain id");
    // A fifth node, with a key no genesis knows: it follows the chain.
    let dir4 = root.join("node4");
    std::fs::create_dir_all(dir4.join("keys")).expect("dir");
    std::fs::copy(root.join("genesis.json"), dir4.join("genesis.json")).expect("genesis");
    let v4 = SecretKey::generate();
    KeyFile::write(&dir4.join("keys/validator.json"), "customs validator", &v4).expect("key");
    let api4 = free_port_block(1);
    let p2p4 = free_port_block(1);
    let peer_p2p: Vec<String> = (0..N)
        .map(|i| {
            let nf: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(root.join(format!("node{i}/node.json")))
                    .expect("node.json"),
            )
            .expect("json");
            nf["p2p_listen"].as_str().expect("p2p").to_string()
        })
        .collect();
    let nf = serde_json::json!({
        "api_listen": format!("127.0.0.1:{api4}"),
        "p2p_listen": format!("/ip4/127.0.0.1/tcp/{p2p4}"),
        "peers": peer_p2p,
        "peer_apis": nodes.iter().map(|n| n.client.base_url().to_string()).collect::<Vec<_>>(),
    });
    std::fs::write(dir4.join("node.json"), nf.to_string()).expect("node.json");
    nodes.push(Node {
        dir: dir4,
        child: None,
        client: Client::new(&format!("http://127.0.0.1:{api4}")),
    });
    nodes[4].start();
    nodes[4]
        .client
        .wait_ready(Duration::from_secs(60))
        .await
        .expect("fifth node answers");

    // Three of four organizations approve admitting customs with that validator.
    let admin_of = |i: usize, org: &str| {
        KeyFile::read(&root.join(format!("node{i}/keys/orgs/{org}-admin.json")))
            .expect("admin")
            .1
    };
    let admins = [
        admin_of(0, "pujiang-orchard"),
        admin_of(1, "chengdu-packing"),
        admin_of(2, "coldchain-express"),
    ];
    let customs_admin = SecretKey::generate();
    let propose = Payload::ProposeGovernance(ProposeGovernance {
        action: waybill_types::GovernanceAction::AdmitOrganization {
            id: waybill_types::OrgId::new("chengdu-customs").expect("id"),
            name: "Chengdu Customs District".into(),
            admin: customs_admin.public(),
            roles: vec![Role::Customs, Role::Inspector],
            company_prefixes: vec![],
            validator: Some((v4.public(), 1)),
        },
        reason: "customs joins and runs a validator".into(),
    });
    let mut executed_at = 0;
    for (i, admin) in admins.iter().enumerate() {
        let payload = if i == 0 {
            propose.clone()
        } else {
            Payload::ApproveGovernance(ApproveGovernance { proposal: 1 })
        };
        let client = &nodes[i].client;
        let v = client
            .submit(&waybill_client::sign(admin, &chain_id, payload), true)
            .await
            .expect("submitted");
        assert_eq!(v["status"], "applied", "{v}");
        executed_at = v["height"].as_u64().expect("height");
    }
    // Node 4 follows the chain: it may not have committed the last approval yet.
    wait_until(
        "node 4 has the block that executed the proposal",
        Duration::from_secs(30),
        || async {
            height(&nodes[4].client)
                .await
                .is_some_and(|h| h >= executed_at)
        },
    )
    .await;
    let p = nodes[4]
        .client
        .get("/v1/governance/proposals/1")
        .await
        .expect("proposal");
    assert_eq!(p["status"], "executed", "{p}");
    let effective = executed_at + waybill_state::governance::VALIDATOR_CHANGE_DELAY_BLOCKS;
    wait_until(
        "the new validator set takes effect",
        Duration::from_secs(60),
        || async {
            height(&nodes[4].client)
                .await
                .is_some_and(|h| h > effective)
        },
    )
    .await;
    let vals = nodes[4]
        .client
        .get("/v1/validators")
        .await
        .expect("validators");
    assert_eq!(vals["in_force"].as_array().map(Vec::len), Some(5), "{vals}");

    // With five validators, four must sign: kill a founder; the chain only goes on
    // because the new validator votes.
    nodes[0].kill();
    let h0 = height(&nodes[1].client).await.expect("height");
    wait_until(
        "four of five keep finalizing",
        Duration::from_secs(60),
        || async { height(&nodes[1].client).await.is_some_and(|h| h >= h0 + 3) },
    )
    .await;
    let h = height(&nodes[1].client).await.expect("height");
    wait_until("node 4 has that block", Duration::from_secs(30), || async {
        height(&nodes[4].client).await.is_some_and(|n| n >= h)
    })
    .await;
    let block = nodes[4].client.block(h).await.expect("block");
    let signers: Vec<&str> = block["certificate"]["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .filter_map(|s| s["validator"].as_str())
        .collect();
    assert!(
        signers.contains(&v4.public().to_hex().as_str()),
        "the admitted validator signs: {signers:?}"
    );
    for n in nodes.iter_mut() {
        n.kill();
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// A TCP proxy the test can cut and heal: `open = false` drops every connection
/// through it and refuses new ones.
struct Proxy {
    open: tokio::sync::watch::Sender<bool>,
    port: u16,
}

async fn proxy(to_port: u16) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("proxy binds");
    let port = listener.local_addr().expect("addr").port();
    let (open, open_rx) = tokio::sync::watch::channel(true);
    tokio::spawn(async move {
        loop {
            let Ok((inbound, _)) = listener.accept().await else {
                return;
            };
            if !*open_rx.borrow() {
                drop(inbound);
                continue;
            }
            let mut rx = open_rx.clone();
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", to_port)).await
                else {
                    return;
                };
                let (mut ri, mut wi) = inbound.into_split();
                let (mut ro, mut wo) = outbound.into_split();
                tokio::select! {
                    _ = tokio::io::copy(&mut ri, &mut wo) => {}
                    _ = tokio::io::copy(&mut ro, &mut wi) => {}
                    _ = rx.wait_for(|o| !*o) => {}
                }
            });
        }
    });
    Proxy { open, port }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_two_partition_stops_finality_and_heals_into_one_chain() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (root, api, p2p) = layout("partition");
    // Every node reaches every other only through a proxy the test controls
    // (discovery is off: nodes dial only their configured peers). No API gossip.
    let mut proxies = std::collections::HashMap::new();
    for i in 0..N {
        let mut peers = Vec::new();
        for j in (0..N).filter(|j| *j != i) {
            let px = proxy(p2p + j as u16).await;
            peers.push(format!("/ip4/127.0.0.1/tcp/{}", px.port));
            proxies.insert((i, j), px);
        }
        let nf = serde_json::json!({
            "api_listen": format!("127.0.0.1:{}", api + i as u16),
            "p2p_listen": format!("/ip4/127.0.0.1/tcp/{}", p2p + i as u16),
            "peers": peers,
            "peer_apis": [],
        });
        std::fs::write(root.join(format!("node{i}/node.json")), nf.to_string()).expect("node.json");
    }
    let mut nodes = start_all(&root, api).await;
    for n in &nodes {
        wait_until(
            "the four finalize together",
            Duration::from_secs(60),
            || async { height(&n.client).await.is_some_and(|h| h >= 3) },
        )
        .await;
    }
    // Split {0,1} | {2,3}.
    let cross = |i: usize, j: usize| (i < 2) != (j < 2);
    for ((i, j), px) in &proxies {
        if cross(*i, *j) {
            px.open.send_replace(false);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // an in-flight height may complete
    let mut split = Vec::new();
    for n in &nodes {
        split.push(height(&n.client).await.expect("height"));
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    for (i, n) in nodes.iter().enumerate() {
        let h = height(&n.client).await.expect("height");
        assert!(
            h <= split[i] + 1,
            "node{i} finalized from {} to {h} while split two and two",
            split[i]
        );
    }
    // Heal: finality resumes, one chain.
    for px in proxies.values() {
        px.open.send_replace(true);
    }
    let max_split = *split.iter().max().expect("four");
    for n in &nodes {
        wait_until(
            "finality resumes after healing",
            Duration::from_secs(120),
            || async { height(&n.client).await.is_some_and(|h| h >= max_split + 3) },
        )
        .await;
    }
    assert_same_chain(&nodes.iter().collect::<Vec<_>>(), max_split + 3).await;
    for n in nodes.iter_mut() {
        n.kill();
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testnet_stops_cleanly_on_ctrl_c_and_resumes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let root =
        std::env::temp_dir().join(format!("waybill-consortium-ctrlc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let api = free_port_block(2);
    let p2p = free_port_block(2);
    let run = || {
        Command::new(BIN)
            .args(["testnet", "--nodes", "2", "--dir"])
            .arg(&root)
            .args([
                "--api-port",
                &api.to_string(),
                "--p2p-port",
                &p2p.to_string(),
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("testnet starts")
    };
    let clients: Vec<Client> = (0..2)
        .map(|i| Client::new(&format!("http://127.0.0.1:{}", api + i)))
        .collect();
    let interrupt_and_wait = |mut child: Child| -> String {
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = child.try_wait().expect("try_wait") {
                assert!(s.success(), "testnet exits 0 on Ctrl-C, got {s}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "testnet stopped within 30 s of Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut out = String::new();
        use std::io::Read as _;
        let _ = child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out);
        out
    };
    let first = run();
    for c in &clients {
        c.wait_ready(Duration::from_secs(60))
            .await
            .expect("node answers");
        wait_until("the two finalize", Duration::from_secs(60), || async {
            height(c).await.is_some_and(|h| h >= 3)
        })
        .await;
    }
    let before = height(&clients[0]).await.expect("height");
    let out = interrupt_and_wait(first);
    assert!(out.contains("(new)"), "{out}");
    for c in &clients {
        assert!(
            c.status().await.is_err(),
            "every node process stopped with the testnet"
        );
    }
    let second = run();
    for c in &clients {
        c.wait_ready(Duration::from_secs(60))
            .await
            .expect("node answers again");
        wait_until(
            "it resumes past the old head",
            Duration::from_secs(60),
            || async { height(c).await.is_some_and(|h| h > before) },
        )
        .await;
    }
    assert_eq!(
        block_hash(&clients[0], before).await,
        block_hash(&clients[1], before).await,
        "the same chain, resumed from disk"
    );
    let out = interrupt_and_wait(second);
    assert!(out.contains("(resumed)"), "{out}");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_equivocating_validator_neither_forks_nor_stalls_the_others() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (root, mut nodes) = testnet("byzantine").await;
    let chain_id = nodes[0].client.chain_id().await.expect("chain id");
    // Node 3 turns Byzantine: it sends conflicting votes and conflicting proposals.
    nodes[3].kill();
    nodes[3].start_with(&["--byzantine", "equivocate"]);
    nodes[3]
        .client
        .wait_ready(Duration::from_secs(60))
        .await
        .expect("byzantine node answers");
    let log = std::fs::read_to_string(nodes[3].dir.join("node.log")).expect("node log");
    assert!(
        log.contains("BYZANTINE fault injection is on"),
        "node 3 runs the Byzantine proxy"
    );
    let (_, admin_key) =
        KeyFile::read(&root.join("node1/keys/orgs/chengdu-packing-admin.json")).expect("admin key");
    let mut admin = Member {
        key: admin_key,
        n: 0,
    };
    let h0 = height(&nodes[0].client).await.expect("height");
    // The honest three keep finalizing, transactions included, for 20 s.
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(20) {
        register(&nodes[n % 3].client, &chain_id, &mut admin).await;
        n += 1;
    }
    let h = height(&nodes[0].client).await.expect("height");
    assert!(
        h >= h0 + 10,
        "honest nodes kept finalizing with an equivocating validator: {h0} -> {h}"
    );
    assert!(n >= 10, "transactions kept committing ({n})");
    for n in &nodes[..3] {
        wait_until(
            "honest nodes agree on the head",
            Duration::from_secs(30),
            || async { height(&n.client).await.is_some_and(|x| x >= h) },
        )
        .await;
    }
    assert_same_chain(&nodes[..3].iter().collect::<Vec<_>>(), h).await;
    // Nothing it sent made the Byzantine node's own store diverge either.
    if height(&nodes[3].client).await.is_some_and(|x| x >= h) {
        assert_same_chain(&nodes.iter().collect::<Vec<_>>(), h).await;
    }
    for n in nodes.iter_mut() {
        n.kill();
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn signing_mark_height(node: &Node) -> u64 {
    std::fs::read(node.dir.join("signing-mark.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["height"].as_u64())
        .unwrap_or(0)
}

/// Issues 12 and 13: a validator's backup, taken by the running node under load
/// through its operator channel, restored into a new directory (its key and signing
/// mark brought along) after the validator signed past it: the restored node serves the
/// backup's height with the same block hash, catches up from its peers, signs nothing
/// until it is past its mark, and then signs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_restored_from_an_old_backup_catches_up_without_equivocating() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (root, mut nodes) = testnet("restore").await;
    wait_until("all four finalize", Duration::from_secs(60), || async {
        let mut ok = true;
        for n in &nodes {
            ok &= height(&n.client).await.is_some_and(|h| h >= 2);
        }
        ok
    })
    .await;
    // A backup of node 3's store, taken while it runs and transactions commit.
    let (stop_load, load) = light_load(nodes[0].client.clone(), &root);
    let under_load: u64 = std::env::var("WAYBILL_RESTORE_LOAD_BLOCKS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(0);
    let h0 = height(&nodes[0].client).await.expect("height");
    wait_until(
        "the load commits blocks before the backup",
        Duration::from_secs(30 + 2 * under_load),
        || async {
            height(&nodes[3].client)
                .await
                .is_some_and(|h| h >= h0 + under_load)
        },
    )
    .await;
    let backup = root.join("node3-backup.redb");
    let out = Command::new(BIN)
        .args(["backup", "--dir"])
        .arg(&nodes[3].dir)
        .arg("--out")
        .arg(&backup)
        .output()
        .expect("backup runs");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("taken by the running node"), "{said}");
    let backed_up: u64 = said
        .split("at height ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the height in: {said}"));
    let _ = stop_load.send(true);
    let _ = load.await;
    wait_until(
        "the chain moves past the backup",
        Duration::from_secs(30),
        || async {
            height(&nodes[0].client)
                .await
                .is_some_and(|h| h >= backed_up + 4)
        },
    )
    .await;
    nodes[3].kill();
    let mark = signing_mark_height(&nodes[3]);
    assert!(mark > backed_up, "node 3 signed past its backup ({mark})");
    let restored = restore_into_new_dir(&nodes[3].dir, &backup, &root.join("node3-restored"));
    nodes[3].dir = restored;
    nodes[3].start();
    wait_until(
        "the restored node serves the backup's height",
        Duration::from_secs(30),
        || async {
            height(&nodes[3].client)
                .await
                .is_some_and(|h| h >= backed_up)
        },
    )
    .await;
    assert_eq!(
        block_hash(&nodes[3].client, backed_up).await,
        block_hash(&nodes[0].client, backed_up).await,
        "the same block at the backup's height"
    );
    let target = height(&nodes[0].client).await.expect("height");
    wait_until(
        "the restored node catches up",
        Duration::from_secs(60),
        || async { height(&nodes[3].client).await.is_some_and(|h| h >= target) },
    )
    .await;
    wait_until(
        "the restored node signs again, past its mark",
        Duration::from_secs(60),
        || async { signing_mark_height(&nodes[3]) > mark },
    )
    .await;
    let child = nodes[3].child.as_mut().expect("running");
    assert!(
        child.try_wait().expect("wait").is_none(),
        "node 3 kept running"
    );
    let log = std::fs::read_to_string(nodes[3].dir.join("node.log")).expect("log");
    assert!(log.contains("following the chain"), "it followed first");
    assert!(
        !log.contains("SIGNING REFUSED"),
        "it was never asked to equivocate"
    );
    let h = height(&nodes[0].client).await.expect("height");
    assert_same_chain(&nodes.iter().collect::<Vec<_>>(), h.min(target)).await;
    for n in nodes.iter_mut() {
        n.kill();
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Registrations submitted to `client` until told to stop, in batches of
/// `WAYBILL_RESTORE_LOAD_BATCH` (default 1: a light load for CI;
/// `scripts/long-checks.sh` runs this test with batches of 500, which saturates four
/// nodes on one machine).
fn light_load(
    client: Client,
    root: &std::path::Path,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (_, admin) = KeyFile::read(&root.join("node1/keys/orgs/chengdu-packing-admin.json"))
        .expect("admin key of org 1");
    let task = tokio::spawn(async move {
        let chain_id = client.chain_id().await.expect("chain id");
        let batch: u64 = std::env::var("WAYBILL_RESTORE_LOAD_BATCH")
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(1);
        let mut i = 0u64;
        while !*stopped.borrow() {
            let txs: Vec<SignedTx> = (0..batch)
                .map(|_| {
                    i += 1;
                    waybill_client::sign(
                        &admin,
                        &chain_id,
                        Payload::RegisterMember(RegisterMember {
                            member: SecretKey::generate().public(),
                            name: format!("member {i} registered during a backup"),
                            roles: vec![Role::Producer],
                        }),
                    )
                })
                .collect();
            if client.submit_batch(&txs, false).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (stop, task)
}

/// `waybill restore BACKUP --dir NEW` for the validator of `old`: its key, its signing
/// mark and its node.json's addresses and peers. The new directory.
fn restore_into_new_dir(
    old: &std::path::Path,
    backup: &std::path::Path,
    new: &std::path::Path,
) -> PathBuf {
    let nf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(old.join("node.json")).expect("node.json"))
            .expect("json");
    let mut cmd = Command::new(BIN);
    cmd.arg("restore")
        .arg(backup)
        .arg("--dir")
        .arg(new)
        .arg("--key")
        .arg(old.join("keys/validator.json"))
        .arg("--signing-mark")
        .arg(old.join("signing-mark.json"))
        .args(["--listen", nf["api_listen"].as_str().expect("api_listen")])
        .args([
            "--p2p-listen",
            nf["p2p_listen"].as_str().expect("p2p_listen"),
        ]);
    for p in nf["peers"].as_array().expect("peers") {
        cmd.args(["--peer", p.as_str().expect("peer")]);
    }
    for p in nf["peer_apis"].as_array().into_iter().flatten() {
        cmd.args(["--peer-api", p.as_str().expect("peer api")]);
    }
    let out = cmd.output().expect("restore runs");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("Prepared"), "{said}");
    assert!(said.contains("signs nothing until"), "{said}");
    new.to_path_buf()
}

/// `GET /readyz` of a node: its status code and body (`None` if it does not answer).
async fn readyz(c: &Client) -> Option<(u16, serde_json::Value)> {
    let r = http_get(format!("{}/readyz", c.base_url())).await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.ok()?))
}

/// Ready validators answer /readyz 200; one that falls more than two heights behind
/// its peers (its commits held by a test hook while the other three go on) answers
/// 503 naming `caught_up`, and 200 again once it has caught up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_behind_its_peers_is_not_ready_until_it_catches_up() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (root, api, _) = layout("lagging");
    let hold = root.join("hold-commits");
    let mut nodes: Vec<Node> = (0..N)
        .map(|i| Node {
            dir: root.join(format!("node{i}")),
            child: None,
            client: Client::new(&format!("http://127.0.0.1:{}", api + i as u16)),
        })
        .collect();
    for (i, n) in nodes.iter_mut().enumerate() {
        if i == 3 {
            n.start_with_env(&[], &[("WAYBILL_TEST_HOLD_COMMITS_FILE", &hold)]);
        } else {
            n.start();
        }
    }
    for n in &nodes {
        wait_until("every node is ready", Duration::from_secs(60), || async {
            readyz(&n.client).await.is_some_and(|(s, _)| s == 200)
        })
        .await;
    }
    // Node 3 stops committing; the other three finalize on without it.
    std::fs::write(&hold, b"").expect("hold file");
    let held_at = height(&nodes[3].client).await.expect("height");
    wait_until(
        "the others get 4 heights ahead",
        Duration::from_secs(60),
        || async {
            height(&nodes[0].client)
                .await
                .is_some_and(|h| h >= held_at + 4)
        },
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Some((503, body)) = readyz(&nodes[3].client).await {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "node 3 says it is behind within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(body["code"], "not_ready", "{body}");
    assert_eq!(body["failing"], serde_json::json!(["caught_up"]), "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("caught_up")),
        "{body}"
    );
    assert_eq!(
        readyz(&nodes[0].client).await.map(|(s, _)| s),
        Some(200),
        "the others stay ready"
    );
    // Released, it syncs and is ready again.
    std::fs::remove_file(&hold).expect("release the hold");
    wait_until(
        "node 3 catches up and is ready",
        Duration::from_secs(60),
        || async {
            readyz(&nodes[3].client)
                .await
                .is_some_and(|(s, _)| s == 200)
        },
    )
    .await;
    for n in nodes.iter_mut() {
        n.kill();
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// The canary scan of what nodes tell each other (docs/PRIVACY.md): four nodes tap
/// the plaintext of every consensus, sync, WAL and gossip message
/// (`WAYBILL_WIRE_TAP`; on the network it is Noise- or TLS-encrypted); the orchard
/// captures an event whose price is sealed for itself. Every node's tap carries the
/// sealed capture (it travelled to every node), and no tap, store or log holds the
/// price in plaintext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_plaintext_is_in_no_consensus_sync_or_gossip_message() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (root, api, _) = layout("wiretap");
    let taps: Vec<PathBuf> = (0..N).map(|i| root.join(format!("tap{i}.bin"))).collect();
    let mut nodes =
        start_all_with_env(&root, api, |i| vec![("WAYBILL_WIRE_TAP", taps[i].clone())]).await;
    let node0 = root.join("node0");
    let d = node0.to_str().expect("utf-8");
    let cli = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cli(&[
        "seal-key",
        "rotate",
        "--as",
        "admin:pujiang-orchard",
        "--dir",
        d,
    ]);
    let canary = "CANARY-5e1d 1250.00 CNY";
    let doc = root.join("priced.jsonld");
    std::fs::write(
        &doc,
        serde_json::json!({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                         {"wb": "https://waybill.example/epcis/"}],
            "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-11-06T12:00:00.000Z",
            "epcisBody": {"eventList": [{
                "type": "ObjectEvent",
                "eventTime": "2026-11-03T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
                "action": "ADD", "epcList": ["urn:epc:id:sgtin:6901234.000001.T1"],
                "bizStep": "commissioning", "disposition": "active",
                "wb:purchasePrice": canary
            }]}
        })
        .to_string(),
    )
    .expect("doc");
    cli(&[
        "capture",
        doc.to_str().expect("utf-8"),
        "--as",
        "admin:pujiang-orchard",
        "--seal",
        "/wb:purchasePrice",
        "--dir",
        d,
    ]);
    let h = height(&nodes[0].client).await.expect("height");
    wait_until(
        "every node has the capture's block",
        Duration::from_secs(60),
        || async {
            let mut ok = true;
            for n in &nodes {
                ok &= height(&n.client).await.is_some_and(|x| x >= h);
            }
            ok
        },
    )
    .await;
    for n in &mut nodes {
        n.kill();
    }
    let has = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    for (i, tap) in taps.iter().enumerate() {
        let bytes = std::fs::read(tap).expect("tap file");
        assert!(
            has(&bytes, b"wb:sealed"),
            "node {i}'s tap ({} bytes) never carried the sealed capture",
            bytes.len()
        );
        assert!(
            !has(&bytes, b"CANARY-5e1d"),
            "node {i}'s wire carries the price"
        );
    }
    let hits: Vec<PathBuf> = regular_files(&root)
        .into_iter()
        .filter(|f| f != &doc)
        .filter(|f| has(&std::fs::read(f).unwrap_or_default(), b"CANARY-5e1d"))
        .collect();
    assert!(hits.is_empty(), "the price in plaintext in {hits:?}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Erasable personal data across four organizations' nodes (docs/PRIVACY.md
/// "Erasure"): the orchard captures an event whose consignee is sealed erasable for
/// itself and the platform; the private part goes to the orchard's node and the
/// platform's (the packer's node, asked too, keeps data for no recipient and refuses
/// it). The packer's and the carrier's nodes hold neither the plaintext nor the
/// ciphertext. Erased by the orchard, both holders purge and each records its purge on
/// the chain; the chain verifies on a node that never held the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasable_data_is_kept_by_recipients_nodes_only_and_each_purges_it() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (root, api, _) = layout("erasure");
    let mut nodes = start_all(&root, api).await;
    let dir = |i: usize| root.join(format!("node{i}"));
    let d0 = dir(0);
    let d0 = d0.to_str().expect("utf-8");
    let cli = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    cli(&[
        "seal-key",
        "rotate",
        "--as",
        "admin:pujiang-orchard",
        "--dir",
        d0,
    ]);
    let d3 = dir(3);
    cli(&[
        "seal-key",
        "rotate",
        "--as",
        "admin:shopmart",
        "--dir",
        d3.to_str().expect("utf-8"),
    ]);
    let record = "urn:uuid:8d9e0f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a";
    let canary = "Wang Fang CANARY-7f3a";
    let doc = root.join("consignee.jsonld");
    std::fs::write(
        &doc,
        serde_json::json!({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                         {"wb": "https://waybill.example/epcis/"}],
            "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-11-06T12:00:00.000Z",
            "epcisBody": {"eventList": [{
                "type": "ObjectEvent", "eventID": record,
                "eventTime": "2026-11-03T08:00:00.000+08:00", "eventTimeZoneOffset": "+08:00",
                "action": "ADD", "epcList": ["urn:epc:id:sgtin:6901234.000001.E1"],
                "bizStep": "commissioning", "disposition": "active",
                "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:6908001.00000"}],
                "wb:consignee": {"name": canary, "phone": "+86 138 0013 8000"}
            }]}
        })
        .to_string(),
    )
    .expect("doc");
    let url = |i: usize| format!("http://127.0.0.1:{}", api + i as u16);
    let said = cli(&[
        "capture",
        doc.to_str().expect("utf-8"),
        "--as",
        "admin:pujiang-orchard",
        "--erasable",
        "/wb:consignee",
        "--seal-for",
        "shopmart",
        "--deliver-to",
        &url(1),
        "--deliver-to",
        &url(3),
        "--dir",
        d0,
    ]);
    assert!(
        said.contains("keeps private data for `chengdu-packing` only"),
        "{said}"
    );
    let entries = |i: usize| -> Vec<PathBuf> {
        std::fs::read_dir(dir(i).join("data/private"))
            .map(|r| {
                r.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        (entries(0).len(), entries(3).len()),
        (1, 1),
        "the recipients' nodes keep it"
    );
    assert_eq!(
        (entries(1).len(), entries(2).len()),
        (0, 0),
        "the others do not"
    );
    // The ciphertext (a canary of its own) and the plaintext are in no file of the
    // packer's or the carrier's node.
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&entries(0)[0]).expect("entry")).expect("json");
    let ct = kept["part"]["ct"].as_str().expect("ciphertext").to_owned();
    for i in [1, 2] {
        for f in regular_files(&dir(i)) {
            let bytes = std::fs::read(&f).unwrap_or_default();
            let has = |n: &[u8]| bytes.windows(n.len()).any(|w| w == n);
            assert!(
                !has(ct.as_bytes()) && !has(canary.as_bytes()),
                "{}",
                f.display()
            );
        }
    }
    cli(&[
        "seal",
        "erase",
        "--record",
        record,
        "--field",
        "/wb:consignee",
        "--as",
        "admin:pujiang-orchard",
        "--reason",
        "erasure request 2026-118",
        "--dir",
        d0,
    ]);
    let (_, shop) = KeyFile::read(&d3.join("keys/orgs/shopmart-admin.json")).expect("key");
    let path = format!(
        "/v1/sealed/private?record={}&field=%2Fwb%3Aconsignee",
        record.replace(':', "%3A")
    );
    wait_until(
        "both holders purge and record their purges",
        Duration::from_secs(60),
        || async {
            let Ok((status, body)) = common::get_signed(&url(3), &shop, &path).await else {
                return false;
            };
            assert_eq!(status, 410, "{body}");
            let orgs: Vec<&str> = body["purged_by"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["org"].as_str())
                .collect();
            entries(0).is_empty()
                && entries(3).is_empty()
                && orgs.contains(&"pujiang-orchard")
                && orgs.contains(&"shopmart")
        },
    )
    .await;
    for n in &mut nodes {
        n.kill();
    }
    let out = Command::new(BIN)
        .args(["verify", "--dir"])
        .arg(dir(2))
        .output()
        .expect("verify runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&root);
}
