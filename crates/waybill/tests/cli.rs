//! End-to-end tests of the `waybill` binary as a user runs it: init, node, demo,
//! SIGKILL during a stream of commits and restart, verify, tamper detection.
//! Every node binds to 127.0.0.1 on free ports and is killed at the end.

use waybill_types::payload::RegisterMember;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use waybill_client::{Client, KeyFile};
use waybill_types::{Payload, Role, SecretKey, SignedTx};

mod common;

use common::{free_port, http_get, regular_files, Lcg};

const BIN: &str = env!("CARGO_BIN_EXE_waybill");

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("waybill-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn waybill(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("waybill runs")
}

fn init(dir: &Path) -> (String, String) {
    let out = waybill(&["init", "--dir", dir.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let api = format!("127.0.0.1:{}", free_port());
    let p2p = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    // Free ports; the rest of what `init` wrote stays.
    let path = dir.join("node.json");
    let mut nf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("node.json")).expect("JSON");
    nf["api_listen"] = serde_json::json!(api);
    nf["p2p_listen"] = serde_json::json!(p2p);
    std::fs::write(&path, nf.to_string()).expect("node.json");
    (format!("http://{api}"), p2p)
}

/// The organizations `init` wrote admin keys for, sorted.
fn org_ids(dir: &Path) -> Vec<String> {
    let mut orgs: Vec<String> = std::fs::read_dir(dir.join("keys/orgs"))
        .expect("org keys")
        .map(|e| {
            e.expect("entry")
                .file_name()
                .to_string_lossy()
                .trim_end_matches("-admin.json")
                .to_owned()
        })
        .collect();
    orgs.sort();
    orgs
}

fn start_node(dir: &Path) -> Proc {
    start_node_with_env(dir, &[])
}

fn start_node_with_env(dir: &Path, env: &[(&str, &str)]) -> Proc {
    Proc(
        Command::new(BIN)
            .args(["node", "--dir", dir.to_str().expect("utf-8 path")])
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("node.log"))
                    .expect("node log"),
            ))
            .spawn()
            .expect("node starts"),
    )
}

async fn ready(client: &Client) {
    client
        .wait_ready(Duration::from_secs(60))
        .await
        .expect("node answers within 60 s");
}

/// Submit batches of member registrations until `stop`, recording every
/// transaction whose commit was acknowledged.
async fn stream(
    client: Client,
    chain_id: String,
    admin: SecretKey,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<SignedTx> {
    let mut acked = Vec::new();
    let mut seq = 0u64;
    while !*stop.borrow() {
        seq += 1;
        let txs: Vec<SignedTx> = (0..20)
            .map(|i| {
                let p = Payload::RegisterMember(RegisterMember {
                    member: SecretKey::generate().public(),
                    name: format!("crash test member {seq}-{i}"),
                    roles: vec![Role::Producer],
                });
                waybill_client::sign(&admin, &chain_id, p)
            })
            .collect();
        let Ok(results) = client.submit_batch(&txs, true).await else {
            break;
        };
        for (tx, r) in txs.into_iter().zip(results) {
            if r["status"] == "applied" {
                acked.push(tx);
            }
        }
    }
    acked
}

async fn assert_committed(client: &Client, txs: &[SignedTx]) {
    for tx in txs {
        let v = client
            .tx(&tx.id())
            .await
            .unwrap_or_else(|e| panic!("acknowledged transaction {} is missing: {e}", tx.id()));
        assert_eq!(
            v["receipt"]["status"],
            "applied",
            "transaction {} has receipt {}",
            tx.id(),
            v["receipt"]
        );
    }
}

/// Flip one bit of `tx`'s signature wherever it is stored.
fn flip_signature(db: &Path, tx: &SignedTx) {
    let mut bytes = std::fs::read(db).expect("store reads");
    let sig = tx.signature.0;
    let mut n = 0;
    for i in 0..bytes.len().saturating_sub(64) {
        if bytes[i..i + 64] == sig {
            bytes[i + 10] ^= 0x01;
            n += 1;
        }
    }
    assert!(n >= 1, "signature found in the store file");
    std::fs::write(db, bytes).expect("store writes");
}

/// Run `waybill node` on `dir`, expecting it to exit by itself within 60 s; its stderr.
fn run_node_expecting_exit(dir: &Path) -> String {
    let mut child = Command::new(BIN)
        .args(["node", "--dir", dir.to_str().expect("utf-8")])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            assert!(
                !status.success(),
                "a node on a tampered store must exit non-zero"
            );
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("node kept running on a tampered store for 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut err = String::new();
    use std::io::Read as _;
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    err
}

/// The commit pipeline builds the next block while the store writes the decided one.
/// A crash at either of its points — the next block built while the decided one may
/// still be being written, or the decided one durable but nothing answered yet —
/// loses nothing that was acknowledged, and the store verifies after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_inside_the_commit_pipeline_loses_nothing_acknowledged() {
    for point in ["commit-built", "commit-written"] {
        let dir = temp_dir(&format!("pipeline-{point}"));
        let (url, _) = init(&dir);
        let client = Client::new(&url);
        let (_, admin) =
            KeyFile::read(&dir.join("keys/orgs/pujiang-orchard-admin.json")).expect("admin key");
        let mut node =
            start_node_with_env(&dir, &[("WAYBILL_TEST_KILL_AT", &format!("{point}:4"))]);
        ready(&client).await;
        let chain_id = client.chain_id().await.expect("chain id");
        // Several lanes, so the pool holds the next block's transactions while a
        // block commits (else there is nothing to build ahead).
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let lanes: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn(stream(
                    client.clone(),
                    chain_id.clone(),
                    admin.clone(),
                    stop_rx.clone(),
                ))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(status) = node.0.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the node reached {point} four times within 90 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let _ = stop_tx.send(true);
        let mut acked = Vec::new();
        for lane in lanes {
            let got = tokio::time::timeout(Duration::from_secs(90), lane)
                .await
                .expect("lane stops")
                .expect("lane task");
            acked.extend(got);
        }
        assert!(!status.success(), "the node aborted at {point}: {status}");
        let log = std::fs::read_to_string(dir.join("node.log")).expect("node log");
        assert!(
            log.contains(&format!("TEST HOOK: aborting at {point}")),
            "{log}"
        );
        eprintln!("{point}: {} acknowledged before the crash", acked.len());
        {
            let _node = start_node(&dir);
            ready(&client).await;
            assert_committed(&client, &acked).await;
        }
        let out = waybill(&["verify", "--dir", dir.to_str().expect("utf-8")]);
        assert!(
            out.status.success(),
            "verify after a crash at {point}: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_commits_loses_nothing_acknowledged_and_verify_passes() {
    let dir = temp_dir("crash");
    let (url, _) = init(&dir);
    let client = Client::new(&url);
    let (_, admin) =
        KeyFile::read(&dir.join("keys/orgs/pujiang-orchard-admin.json")).expect("admin key");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Lcg(seed);
    let mut acked: Vec<SignedTx> = Vec::new();
    let kills = 10;
    for round in 0..kills {
        let mut node = start_node(&dir);
        ready(&client).await;
        // What was acknowledged just before the last kill is there (the rest is
        // checked in full against the store at the end).
        assert_committed(&client, &acked[acked.len().saturating_sub(300)..]).await;
        let chain_id = client.chain_id().await.expect("chain id");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(stream(client.clone(), chain_id, admin.clone(), stop_rx));
        tokio::time::sleep(Duration::from_millis(300 + rng.next() % 1200)).await;
        // SIGKILL: no chance to flush or clean up.
        node.0.kill().expect("SIGKILL");
        node.0.wait().expect("reaped");
        let _ = stop_tx.send(true);
        let got = tokio::time::timeout(Duration::from_secs(90), task)
            .await
            .expect("stream stops")
            .expect("stream task");
        eprintln!("round {round}: {} acknowledged before the kill", got.len());
        acked.extend(got);
    }
    assert!(
        acked.len() >= 50,
        "the stream committed a meaningful number of transactions ({})",
        acked.len()
    );
    {
        let _node = start_node(&dir);
        ready(&client).await;
        assert_committed(&client, &acked[acked.len().saturating_sub(300)..]).await;
    }
    // Every acknowledged transaction, checked in the stopped node's store.
    {
        let (store, _) = waybill_store::Store::open_existing(&dir.join("data/waybill.redb"))
            .expect("store opens");
        for tx in &acked {
            let loc = store
                .tx_location(&tx.id())
                .expect("index reads")
                .unwrap_or_else(|| panic!("acknowledged {} lost", tx.id()));
            let receipts = store
                .receipts(loc.height)
                .expect("receipts read")
                .expect("receipts stored");
            assert_eq!(
                receipts[loc.index as usize].status,
                waybill_types::TxStatus::Applied
            );
        }
    }
    let out = waybill(&["verify", "--dir", dir.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify after {kills} kills: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("OK"), "{stdout}");

    // Now tamper with one acknowledged transaction's signature inside the store: one
    // in the middle of the chain (older than the start-up check's window). The store
    // is closed cleanly first (a node started and stopped with SIGTERM), so that it
    // opens without redb's repair: the records are read, and the first bad one named.
    {
        let node = start_node(&dir);
        ready(&client).await;
        let status = Command::new("kill")
            .args(["-TERM", &node.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let mut node = node;
        let deadline = Instant::now() + Duration::from_secs(20);
        while node.0.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "the node stops on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let db = dir.join("data/waybill.redb");
    flip_signature(&db, &acked[acked.len() / 2]);
    let out = waybill(&["verify", "--dir", dir.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "verify must fail on a tampered store"
    );
    assert!(
        stderr.contains("TAMPERED")
            && stderr.contains("height ")
            && stderr.contains("transaction "),
        "{stderr}"
    );
    // The node finds it too: at start-up for recent blocks, in the background for
    // older ones; either way it stops with a tamper alert instead of serving.
    let stderr = run_node_expecting_exit(&dir);
    assert!(
        stderr.contains("TAMPER ALERT") && stderr.contains("height "),
        "node must refuse a tampered store: {stderr}"
    );
    // A tampered recent block is refused before anything is served.
    flip_signature(&db, acked.last().expect("acked"));
    let stderr = run_node_expecting_exit(&dir);
    assert!(stderr.contains("TAMPER ALERT"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_loads_once_and_resumes() {
    let demo_steps = common::demo_steps();
    let dir = temp_dir("demo");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let run_demo = || Proc(common::spawn_demo(&dir, &listen, Stdio::piped()));
    let client = Client::new(&url);
    let progress_file = dir.join("demo-progress");
    let wait_loaded = |client: Client| {
        let progress_file = progress_file.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                if let Ok(v) = client.get("/v1/products").await {
                    if v["items"].as_array().is_some_and(|a| a.len() == 6) {
                        // The last demo step captures the garments' shipment.
                        if let Ok(l) = client.get("/v1/products/06912345000017/lots").await {
                            let progress =
                                std::fs::read_to_string(&progress_file).unwrap_or_default();
                            if l["items"].as_array().is_some_and(|a| a.len() == 1)
                                && progress.trim() == demo_steps.to_string()
                            {
                                return;
                            }
                        }
                    }
                }
                assert!(Instant::now() < deadline, "demo data loaded within 90 s");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let first = run_demo();
    wait_loaded(client.clone()).await;
    // Loaded: ready (the store verified, consensus running, no peers to lag behind).
    let readyz = wait_ready_z(&url).await;
    assert_eq!(readyz["status"], "ready", "{readyz}");
    // Its metrics pass `promtool check metrics` (Debian's prometheus package,
    // installed by scripts/install-test-tools.sh).
    promtool_checks(&url).await;
    let members = client
        .get("/v1/orgs/pujiang-orchard/members")
        .await
        .expect("members");
    assert_eq!(
        members["items"].as_array().map(Vec::len),
        Some(3),
        "admin and two members"
    );
    let page = http_get(format!("{url}/"))
        .await
        .expect("explorer")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("Navel oranges"),
        "explorer lists the demo product"
    );
    // The orange's journey, back from one delivered carton, as the regulator sees it.
    let out = Command::new(BIN)
        .args([
            "trace",
            "urn:epc:id:sgtin:6901234.000001.261103015",
            "--as",
            "guo-hua",
            "--dir",
            dir.to_str().expect("utf-8"),
            "--node",
            &url,
        ])
        .output()
        .expect("trace runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "trace: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "made_from → https://id.gs1.org/01/06901234000016/10/PJ2611A",
        "contained_in → https://id.gs1.org/00/",
        "commissioning by pujiang-orchard",
        "inspecting by chengdu-customs",
        "inspecting by hk-customs",
        "fertilizer",
    ] {
        assert!(tree.contains(want), "trace shows `{want}`:\n{tree}");
    }
    // The carton's proof bundle, checked offline against the genesis; a tampered copy
    // is refused, naming the failed check.
    let bundle = dir.join("bundle.json");
    let out = Command::new(BIN)
        .args([
            "proof",
            "https://id.gs1.org/01/06901234000016/21/261103015",
            "--out",
            bundle.to_str().expect("utf-8"),
            "--node",
            &url,
        ])
        .output()
        .expect("proof runs");
    assert!(
        out.status.success(),
        "proof: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let genesis = dir.join("genesis.json");
    let verify_proof = |file: &Path| {
        Command::new(BIN)
            .args([
                "verify-proof",
                file.to_str().expect("utf-8"),
                "--genesis",
                genesis.to_str().expect("utf-8"),
            ])
            .output()
            .expect("verify-proof runs")
    };
    let out = verify_proof(&bundle);
    assert!(
        out.status.success(),
        "verify-proof: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("proof verified"));
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("JSON");
    let ix = b["records"]
        .as_array()
        .expect("records")
        .iter()
        .position(|r| r["proof"].as_array().is_some_and(|p| !p.is_empty()))
        .expect("a record with a proof");
    let proof0 = b["records"][ix]["proof"][0]
        .as_str()
        .expect("a proof hash")
        .to_string();
    let flipped = format!(
        "{}{}",
        if proof0.starts_with('0') { "1" } else { "0" },
        &proof0[1..]
    );
    b["records"][ix]["proof"][0] = serde_json::json!(flipped);
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, b.to_string()).expect("write");
    let out = verify_proof(&tampered);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("inclusion"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The trust root comes from the verifier, never from the bundle: a bundle whose
    // subject link carries its own `wb` fingerprint does not verify without a flag.
    let mut own_wb: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("JSON");
    let fp = own_wb["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_string();
    own_wb["subject"] = serde_json::json!(format!(
        "{}?wb={fp}",
        own_wb["subject"].as_str().expect("subject")
    ));
    let self_vouched = dir.join("self-vouched.json");
    std::fs::write(&self_vouched, own_wb.to_string()).expect("write");
    let no_root = Command::new(BIN)
        .args(["verify-proof", self_vouched.to_str().expect("utf-8")])
        .output()
        .expect("verify-proof runs");
    assert!(!no_root.status.success(), "no trust root, no verification");
    let no_root_bundle = Command::new(BIN)
        .args(["verify-proof", bundle.to_str().expect("utf-8")])
        .output()
        .expect("verify-proof runs");
    assert!(!no_root_bundle.status.success());
    assert!(
        String::from_utf8_lossy(&no_root_bundle.stderr).contains("--fingerprint"),
        "{}",
        String::from_utf8_lossy(&no_root_bundle.stderr)
    );
    // A fingerprint shorter than 32 hex digits is refused; the full one verifies; a
    // saved trust file verifies.
    let with_fp = |fp: &str| {
        Command::new(BIN)
            .args([
                "verify-proof",
                bundle.to_str().expect("utf-8"),
                "--fingerprint",
                fp,
            ])
            .output()
            .expect("verify-proof runs")
    };
    let short = with_fp(&fp[..16]);
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("fingerprint"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    assert!(with_fp(&fp).status.success());
    let trust = dir.join("consortium.trust.json");
    let out = Command::new(BIN)
        .args([
            "trust",
            "--genesis",
            genesis.to_str().expect("utf-8"),
            "--out",
            trust.to_str().expect("utf-8"),
        ])
        .output()
        .expect("trust runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(BIN)
        .args([
            "verify-proof",
            bundle.to_str().expect("utf-8"),
            "--trust",
            trust.to_str().expect("utf-8"),
        ])
        .output()
        .expect("verify-proof runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("complete up to block"));
    // A platform member may not read customs inspections: hidden, and said so.
    let out = Command::new(BIN)
        .args([
            "trace",
            "urn:epc:id:sgtin:6901234.000001.261103015",
            "--as",
            "zhao-lei",
            "--dir",
            dir.to_str().expect("utf-8"),
            "--node",
            &url,
        ])
        .output()
        .expect("trace runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!tree.contains("inspecting by"), "{tree}");
    assert!(tree.contains("not readable by you"), "{tree}");
    demo_sealed_fields_open_only_for_their_recipients(&dir);
    demo_orders_as_the_readme_shows(&dir, &url);
    // The carton's trade unit, master data anyone reads, made 60 kg into 12 cartons.
    let units: serde_json::Value =
        http_get(format!("{url}/v1/products/06901234000016/trade-units"))
            .await
            .expect("trade units answer")
            .json()
            .await
            .expect("JSON");
    assert_eq!(
        (&units["items"][0]["uom"], &units["items"][0]["per_unit"]),
        (&serde_json::json!("KGM"), &serde_json::json!("5")),
        "{units}"
    );
    drop(first);
    // Run again: resumes from disk, loads nothing twice.
    let height_before = {
        let (store, _) =
            waybill_store::Store::open_existing(&dir.join("data/waybill.redb")).expect("store");
        store.head().expect("head").height.0
    };
    let mut second = run_demo();
    wait_loaded(client.clone()).await;
    let members = client
        .get("/v1/orgs/pujiang-orchard/members")
        .await
        .expect("members");
    assert_eq!(
        members["items"].as_array().map(Vec::len),
        Some(3),
        "no duplicated members"
    );
    let status = client.status().await.expect("status");
    assert!(
        status["height"].as_u64().expect("height") >= height_before,
        "resumed, not re-initialized"
    );
    // What the second run prints: read until its closing line (it prints after the
    // data is visible through the API, so reading after a kill would race it).
    let out = read_until_line(
        second.0.stdout.take().expect("stdout"),
        "Ctrl-C stops the node",
        Duration::from_secs(60),
    );
    let _ = second.0.kill();
    assert!(
        out.contains("resumed") && out.contains("already loaded"),
        "second run says it resumed: {out}"
    );
    assert!(
        out.lines().any(|l| l == "demo loaded"),
        "the demo says when its data is loaded: {out}"
    );
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The demo's orders on two platforms sharing one stock, as the README shows them:
/// ShopMart's members see its settled, cancelled, expired and refunded orders; FreshGo
/// sees its own and not ShopMart's; the regulator every account row with its sums;
/// the stock reserved by the import desk's open order; money balanced per currency.
fn demo_orders_as_the_readme_shows(dir: &Path, url: &str) {
    let d = dir.to_str().expect("utf-8");
    let json_of = |args: &[&str]| -> serde_json::Value {
        let out = waybill(&[args, &["--dir", d, "--node", url]].concat());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let states = |v: &serde_json::Value| -> Vec<(String, String)> {
        let mut s: Vec<(String, String)> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|o| {
                (
                    o["id"].as_str().expect("id").to_string(),
                    o["state"].as_str().expect("state").to_string(),
                )
            })
            .collect();
        s.sort();
        s
    };
    let shopmart = json_of(&["orders", "list", "--as", "zhao-lei", "--json"]);
    let want = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        states(&shopmart),
        want(&[
            ("sm-chen-yu-blood", "refunded"),
            ("sm-li-na-0001", "settled"),
            ("sm-li-na-blood", "expired"),
            ("sm-wong-0001", "cancelled"),
            // The import desk's direct order: ShopMart is its buyer.
            ("hk-import-2612-01", "placed"),
        ]),
        "{shopmart}"
    );
    let freshgo = json_of(&["orders", "list", "--as", "lin-xiao", "--json"]);
    assert_eq!(states(&freshgo), want(&[("fg-chen-yu-0001", "settled")]));
    let all = json_of(&["orders", "list", "--as", "guo-hua", "--json"]);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(6), "{all}");
    let accounts = json_of(&["accounts", "list", "--as", "guo-hua", "--json"]);
    let mut per_currency: std::collections::BTreeMap<String, (u128, u128, u128, u128)> =
        Default::default();
    for a in accounts["items"].as_array().expect("items") {
        let n = |f: &str| -> u128 { a[f].as_str().expect(f).parse().expect("decimal") };
        let e = per_currency
            .entry(a["currency"].as_str().expect("currency").to_string())
            .or_default();
        e.0 += n("debits_posted");
        e.1 += n("credits_posted");
        e.2 += n("debits_pending");
        e.3 += n("credits_pending");
    }
    assert_eq!(per_currency.len(), 2, "CNY and HKD: {per_currency:?}");
    for (c, (dp, cp, dq, cq)) in &per_currency {
        assert_eq!((dp, dq), (cp, cq), "{c}: debits equal credits");
    }
    let stock = json_of(&["inventory", "--as", "liu-yang", "--json"]);
    let navel = stock["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["gtin"] == "06901234000016")
        .expect("navel oranges are stocked")
        .clone();
    // Li Na's address: sealed on chain; the carrier opens it, FreshGo (no party to
    // this order, and no recipient) cannot.
    let li_na = waybill(&["keys", "show", &format!("{d}/keys/consumers/li-na.json")]);
    let li_na = String::from_utf8_lossy(&li_na.stdout)
        .split_whitespace()
        .next()
        .expect("li-na's key")
        .to_string();
    let order = json_of(&[
        "orders",
        "show",
        &li_na,
        "sm-li-na-0001",
        "--as",
        "chen-jie",
    ]);
    assert!(order["ship_to"]["wb:sealed"].is_object(), "{order}");
    assert!(!order.to_string().contains("Jinli"), "ciphertext");
    let open_as = |member: &str| -> serde_json::Value {
        let out = waybill_stdin(
            &[
                "open",
                "--key",
                &format!("{d}/keys/members/{member}.json"),
                "--dir",
                d,
                "--node",
                url,
            ],
            &order.to_string(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    assert_eq!(
        open_as("chen-jie")["ship_to"]["address"],
        "Unit 1203, 8 Jinli West Road, Wuhou District, Chengdu 610041"
    );
    assert!(open_as("lin-xiao")["ship_to"]["wb:sealed"].is_object());
    // The address is erasable personal data: the order keeps no ciphertext, the node
    // keeps the private part. Li Na asks ShopMart to erase it: the carrier (no
    // recorder of it) may not; ShopMart does; the part is purged and opens no more.
    assert!(
        order["ship_to"]["wb:sealed"]["private"].is_string(),
        "{order}"
    );
    let urn = format!("urn:waybill:order:{li_na}:sm-li-na-0001");
    let erase = |who: &str| {
        waybill(&[
            "seal",
            "erase",
            "--record",
            &urn,
            "--field",
            "/ship_to",
            "--as",
            who,
            "--reason",
            "Li Na's erasure request",
            "--dir",
            d,
            "--node",
            url,
        ])
    };
    let refused = erase("chen-jie");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not_authorized")
            || String::from_utf8_lossy(&refused.stdout).contains("not_authorized"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let erased = erase("zhao-lei");
    assert!(
        erased.status.success(),
        "{}",
        String::from_utf8_lossy(&erased.stderr)
    );
    let after = waybill_stdin(
        &[
            "open",
            "--key",
            &format!("{d}/keys/members/chen-jie.json"),
            "--dir",
            d,
            "--node",
            url,
        ],
        &order.to_string(),
    );
    let said = String::from_utf8_lossy(&after.stderr);
    assert!(
        !String::from_utf8_lossy(&after.stdout).contains("Jinli") && said.contains("erased"),
        "{said}"
    );
    // 240 counted, 2 + 1 shipped, 20 reserved by the import desk's order; 60 kg
    // received back into stock by an EPCIS event, 12 cartons of 5 kg (the product's
    // trade unit).
    assert_eq!(
        (&navel["on_hand"], &navel["reserved"]),
        (&serde_json::json!(249), &serde_json::json!(20)),
        "{navel}"
    );
}

/// The demo seals customs' inspection report (for customs, the packer and the
/// regulator) and the packer's purchase price (for the packer, the platform and the
/// regulator): the ledger serves ciphertext, each recipient's member opens it with
/// its key file, a party that is no recipient does not — and neither plaintext is
/// anywhere in the demo's directory (store, key files, node files).
fn demo_sealed_fields_open_only_for_their_recipients(dir: &Path) {
    let d = dir.to_str().expect("utf-8");
    let report = "CDC-IR-2611-0071";
    let price = "18640.00";
    let events_as = |who: &str, step: &str| {
        let out = waybill(&[
            "events",
            &format!("EQ_bizStep={step}"),
            "--as",
            who,
            "--dir",
            d,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let open_as = |who: &str, served: &str| {
        let key = dir.join(format!("keys/members/{who}.json"));
        let out = waybill_stdin(
            &["open", "--key", key.to_str().expect("utf-8"), "--dir", d],
            served,
        );
        assert!(
            out.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (step, value, readers, not) in [
        (
            "inspecting",
            report,
            ["sun-li", "wang-fang", "guo-hua"],
            "wong-siu-ming",
        ),
        (
            "shipping",
            price,
            ["liu-yang", "zhao-lei", "guo-hua"],
            "chen-jie",
        ),
    ] {
        for who in readers {
            let served = events_as(who, step);
            assert!(
                served.contains("wb:sealed") && !served.contains(value),
                "{who}: {served}"
            );
            assert!(
                open_as(who, &served).contains(value),
                "{who} opens the {step} field"
            );
        }
        // A member whose organization reads the event but is no recipient.
        let served = events_as(not, step);
        assert!(
            served.contains("wb:sealed") && !served.contains(value),
            "{not}: {served}"
        );
        assert!(
            !open_as(not, &served).contains(value),
            "{not} does not open it"
        );
    }
    demo_price_is_disclosed_as_the_readme_shows(dir);
    let files = regular_files(dir);
    assert!(
        files.iter().any(|f| f.ends_with("waybill.redb")),
        "{files:?}"
    );
    for canary in [report, price, "Chlorpyrifos", "16.00 CNY/kg"] {
        let hits = files_containing(&files, canary);
        assert!(hits.is_empty(), "{canary} in plaintext in {hits:?}");
    }
}

/// The README's disclosure row: the platform discloses the packer's price, anyone
/// verifies it against the genesis.
fn demo_price_is_disclosed_as_the_readme_shows(dir: &Path) {
    let d = dir.to_str().expect("utf-8");
    let elsewhere = temp_dir("demo-disclosure");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let file = elsewhere.join("price.json");
    let key = dir.join("keys/members/zhao-lei.json");
    let out = waybill(&[
        "disclose",
        "--key",
        key.to_str().expect("utf-8"),
        "--record",
        "urn:uuid:4e8d2c6f-1a7b-4c3e-9f5d-8b2a6e0c4d13",
        "--field",
        "/wb:purchasePrice",
        "--out",
        file.to_str().expect("utf-8"),
        "--dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = waybill(&[
        "verify-disclosure",
        file.to_str().expect("utf-8"),
        "--genesis",
        dir.join("genesis.json").to_str().expect("utf-8"),
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("\"amount\":\"18640.00\""),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&elsewhere);
}

/// Those of `files` whose bytes contain `canary`.
fn files_containing(files: &[PathBuf], canary: &str) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| {
            let bytes = std::fs::read(f).expect("read");
            bytes.windows(canary.len()).any(|w| w == canary.as_bytes())
        })
        .cloned()
        .collect()
}

/// Everything `from` prints up to and including the first line containing `last`,
/// or up to `limit` (then whatever came, for the caller's assertion to show).
fn read_until_line(
    from: impl std::io::Read + Send + 'static,
    last: &str,
    limit: Duration,
) -> String {
    use std::io::BufRead as _;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + limit;
    let mut out = String::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
                if line.contains(last) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    out
}

/// `GET /readyz` until it answers 200 (bounded); its body.
async fn wait_ready_z(url: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http_get(format!("{url}/readyz"))
            .await
            .expect("readyz answers");
        let status = r.status();
        let body: serde_json::Value = r.json().await.expect("readyz JSON");
        if status == reqwest::StatusCode::OK {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "not ready within 30 s of loading: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The node's `/metrics` pass `promtool check metrics`; promtool must be installed.
async fn promtool_checks(url: &str) {
    let text = http_get(format!("{url}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    for family in [
        "waybill_build_info",
        "waybill_http_requests_total",
        "waybill_http_request_duration_seconds",
        "process_resident_memory_bytes",
        "waybill_block_commit_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} in:\n{text}"
        );
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (scripts/install-test-tools.sh installs Debian's prometheus package, which has it)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("metrics to promtool");
    let out = child.wait_with_output().expect("promtool finishes");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// While the demo loads its data, the node is not ready and says why; only the
/// demo's own condition fails (the store verified, consensus runs). Blocks take no
/// transactions while `hold` exists, so the load cannot finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_is_not_ready_until_its_data_is_loaded() {
    let dir = temp_dir("demo-not-ready");
    std::fs::create_dir_all(&dir).expect("dir");
    let hold = dir.join("hold-blocks");
    std::fs::write(&hold, b"").expect("hold file");
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let demo = Proc(
        Command::new(BIN)
            .args([
                "demo",
                "--dir",
                dir.to_str().expect("utf-8"),
                "--listen",
                &listen,
            ])
            .env("RUST_LOG", "warn")
            .env("WAYBILL_TEST_HOLD_BLOCKS_FILE", &hold)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Ok(r) = http_get(format!("{url}/readyz")).await {
            let status = r.status();
            let v: serde_json::Value = r.json().await.expect("readyz JSON");
            assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{v}");
            if v["failing"] == serde_json::json!(["demo_loaded"]) {
                break v;
            }
        }
        assert!(Instant::now() < deadline, "the demo's node answers /readyz");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["code"], "not_ready", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("demo_loaded")),
        "{body}"
    );
    let healthz = http_get(format!("{url}/healthz")).await.expect("healthz");
    assert_eq!(
        healthz.status(),
        reqwest::StatusCode::OK,
        "alive all the same"
    );
    drop(demo);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in [
        "init", "node", "demo", "submit", "status", "block", "tx", "verify", "bench",
    ] {
        let out = waybill(&[cmd, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cmd} --help");
        assert!(
            text.contains("Example"),
            "{cmd} --help shows an example:\n{text}"
        );
    }
    for sub in [
        &["keys", "new"][..],
        &["seal-key", "rotate"],
        &["seal-key", "share"],
        &["open"],
        &["capture"],
        &["events"],
        &["trace"],
        &["audit"],
        &["accounts", "list"],
        &["accounts", "show"],
        &["reconcile"],
        &["epcis", "hash-id"],
        &["epcis", "validate"],
        &["dl", "parse"],
        &["dl", "make"],
        &["qr"],
        &["proof"],
        &["verify-proof"],
    ] {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = waybill(&args);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Example"),
            "{sub:?} --help shows an example"
        );
    }
}

#[test]
fn partner_tools_digital_link_epcis_and_qr() {
    // dl parse: elements as JSON; a wrong check digit is refused with the reason.
    let out = waybill(&[
        "dl",
        "parse",
        "https://id.gs1.org/01/06901234000016/10/PJ2611A/21/0001?wb=1f2e",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["01"], "06901234000016");
    assert_eq!(v["10"], "PJ2611A");
    assert_eq!(v["21"], "0001");
    let out = waybill(&["dl", "parse", "https://id.gs1.org/01/06901234000017"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("check digit"));
    // GTIN-8, -12 and -13 are taken and padded to 14 digits, in parse and make.
    for (short, full) in [
        ("12345670", "00000012345670"),
        ("614141000036", "00614141000036"),
        ("6901234000016", "06901234000016"),
    ] {
        let out = waybill(&["dl", "parse", &format!("https://id.gs1.org/01/{short}")]);
        assert!(
            out.status.success(),
            "dl parse {short}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(v["01"], full);
        let out = waybill(&["dl", "make", "--gtin", short]);
        assert!(
            out.status.success(),
            "dl make --gtin {short}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("https://id.gs1.org/01/{full}")
        );
    }
    // dl make: the canonical URI.
    let out = waybill(&[
        "dl",
        "make",
        "--gtin",
        "06901234000016",
        "--lot",
        "PJ26/11",
        "--serial",
        "7",
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "https://id.gs1.org/01/06901234000016/10/PJ26%2F11/21/7"
    );
    // epcis validate / hash-id on a demo document and on a broken copy.
    let doc = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/demo/orange/01-harvest-PJ2611A.jsonld"
    );
    let out = waybill(&["epcis", "validate", doc]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = waybill(&["epcis", "hash-id", doc]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ni:///sha-256;"));
    let dir = temp_dir("tools");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.jsonld");
    let text = std::fs::read_to_string(doc).expect("demo doc");
    std::fs::write(&bad, text.replacen("\"eventTime\"", "\"eventTimeX\"", 1)).expect("write");
    let out = waybill(&["epcis", "validate", bad.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/epcisBody/eventList/0"));
    // qr: a PNG file.
    let png = dir.join("label.png");
    let out = waybill(&[
        "qr",
        "https://id.gs1.org/01/06901234000016/10/PJ2611A",
        "--out",
        png.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success());
    let bytes = std::fs::read(&png).expect("png written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
}

#[test]
fn errors_say_what_to_do() {
    let dir = temp_dir("errors");
    let out = waybill(&["node", "--dir", dir.to_str().expect("utf-8")]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("waybill init"),
        "missing dir suggests init: {e}"
    );
    let out = waybill(&["verify", "--dir", dir.to_str().expect("utf-8")]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no store"));
    let out = waybill(&[
        "status",
        "--node",
        &format!("http://127.0.0.1:{}", free_port()),
    ]);
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("cannot reach the node")
    );
}

/// `waybill node --tls-cert C --tls-key K` serves its API over HTTPS (and says so);
/// one flag without the other, or a key that does not match, is refused before the
/// node starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_serves_https_with_a_certificate_and_key() {
    let dir = temp_dir("tls");
    let (http_url, _) = init(&dir);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/tests/fixtures/tls");
    let cert = fixtures.join("node.cert.pem");
    let key = fixtures.join("node.key.pem");
    let d = dir.to_str().expect("utf-8");

    let out = waybill(&[
        "node",
        "--dir",
        d,
        "--tls-cert",
        cert.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success(), "a certificate without its key");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
    let other_key = fixtures.join("other.key.pem");
    let out = waybill(&[
        "node",
        "--dir",
        d,
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        other_key.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success(), "a key of another certificate");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("other.key.pem"), "{err}");

    let mut node = Proc(
        Command::new(BIN)
            .args([
                "node",
                "--dir",
                d,
                "--tls-cert",
                cert.to_str().expect("utf-8"),
                "--tls-key",
                key.to_str().expect("utf-8"),
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts"),
    );
    let https_url = http_url.replace("http://", "https://");
    let client = Client::with_trusted_certificates(&https_url, &cert).expect("trust file");
    ready(&client).await;
    let status = client.status().await.expect("status over HTTPS");
    assert!(status["height"].as_u64().is_some(), "{status}");
    assert!(
        Client::new(&http_url).status().await.is_err(),
        "no plain HTTP on a TLS port"
    );
    cli_commands_trust_a_private_ca_with_ca(&https_url, &fixtures, &dir);
    let _ = node.0.kill();
    let mut printed = String::new();
    if let Some(mut out) = node.0.stdout.take() {
        use std::io::Read as _;
        let _ = out.read_to_string(&mut printed);
    }
    assert!(printed.contains(&format!("API {https_url}/")), "{printed}");
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CLI's node commands reach an HTTPS node whose certificate a private CA issued
/// when given `--ca FILE`: not without it, nor with another CA, nor with a file
/// that holds no certificate (each refusal names its cause).
fn cli_commands_trust_a_private_ca_with_ca(https_url: &str, fixtures: &Path, dir: &Path) {
    let ca = fixtures.join("node.cert.pem");
    let ca = ca.to_str().expect("utf-8");
    let out = waybill(&["status", "--node", https_url, "--ca", ca]);
    assert!(
        out.status.success(),
        "status --ca: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert!(status["height"].as_u64().is_some(), "{status}");
    // A signed transaction, committed, and the block that holds it.
    let payload = dir.join("member.json");
    let member = SecretKey::from_label("tls member").public().to_hex();
    let p = serde_json::json!({"type": "register_member", "member": member, "name": "TLS", "roles": ["producer"]});
    std::fs::write(&payload, p.to_string()).expect("payload file");
    let admin = dir.join("keys/orgs/pujiang-orchard-admin.json");
    let out = waybill(&[
        "submit",
        "--key",
        admin.to_str().expect("utf-8"),
        payload.to_str().expect("utf-8"),
        "--node",
        https_url,
        "--ca",
        ca,
    ]);
    assert!(
        out.status.success(),
        "submit --ca: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("submit JSON");
    let height = answer["height"]
        .as_u64()
        .expect("committed at a height")
        .to_string();
    let out = waybill(&["block", &height, "--node", https_url, "--ca", ca]);
    assert!(
        out.status.success(),
        "block --ca: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = waybill(&["status", "--node", https_url]);
    assert!(
        !out.status.success(),
        "the system does not trust the private CA"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--ca"), "the refusal suggests --ca: {err}");
    let other = fixtures.join("other.cert.pem");
    let out = waybill(&[
        "status",
        "--node",
        https_url,
        "--ca",
        other.to_str().expect("utf-8"),
    ]);
    assert!(
        !out.status.success(),
        "a CA that did not issue the node's certificate"
    );
    let not_pem = fixtures.join("node.key.pem");
    let out = waybill(&[
        "status",
        "--node",
        https_url,
        "--ca",
        not_pem.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success(), "a file with no certificate");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node.key.pem"), "names the file: {err}");
}

/// `waybill bench` reaches the workloads in `waybill-bench`: a small `tx` run
/// commits every transaction and prints one JSON object with the medians and the
/// ledger-only baseline; a workload that needs one validator refuses `--nodes`.
#[test]
fn bench_runs_a_small_tx_workload_and_prints_json() {
    let out = waybill(&[
        "bench",
        "--txs",
        "200",
        "--members",
        "20",
        "--batch",
        "50",
        "--runs",
        "1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "bench: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("bench --json prints one JSON object");
    assert_eq!(v["txs"], 200, "{v}");
    assert_eq!(v["members"], 20, "{v}");
    assert_eq!(v["runs"], 1, "{v}");
    assert_eq!(v["per_run"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(
        v["tx_per_s_median"].as_f64().is_some_and(|x| x > 0.0),
        "{v}"
    );
    assert!(
        v["baseline_ledger_only_tx_per_s_median"]
            .as_f64()
            .is_some_and(|x| x > 0.0),
        "{v}"
    );

    // Transfers: every transfer of every transaction applied (a rejection fails the
    // run), counted one by one.
    let out = waybill(&[
        "bench",
        "--workload",
        "transfers",
        "--txs",
        "100",
        "--members",
        "20",
        "--transfers-per-tx",
        "15",
        "--runs",
        "1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "bench transfers: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["transfers"], 1_500, "{v}");
    let (per_tx, per_s) = (
        v["tx_per_s_median"].as_f64().expect("tx/s"),
        v["transfers_per_s_median"].as_f64().expect("transfers/s"),
    );
    assert!(per_s > 0.0 && (per_s - 15.0 * per_tx).abs() <= 1.0, "{v}");
    let out = waybill(&[
        "bench",
        "--workload",
        "transfers",
        "--transfers-per-tx",
        "7",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("multiple of 5"), "{err}");

    // Orders: every placement, shipping capture and confirmation applied (a rejection
    // fails the run), each order counted once it is settled.
    let out = waybill(&[
        "bench",
        "--workload",
        "orders",
        "--txs",
        "120",
        "--members",
        "20",
        "--runs",
        "1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "bench orders: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["orders"], 120, "{v}");
    // Two transactions per order and one shipping document per 50 orders of a lane.
    assert!(v["txs"].as_u64() >= Some(243), "{v}");
    assert!(v["orders_per_s_median"].as_f64() > Some(0.0), "{v}");

    let out = waybill(&["bench", "--workload", "epcis", "--nodes", "2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--workload epcis runs on one validator"),
        "{err}"
    );
}

/// `waybill` with `input` on standard input.
fn waybill_stdin(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("waybill runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writes stdin");
    child.wait_with_output().expect("waybill ends")
}

/// Organizations register and rotate encryption keys through the CLI, an admin hands
/// the secrets to a member, and `waybill open` opens exactly what is sealed for the
/// member's organization — an old key version included — leaves a competitor's view
/// sealed, and refuses a field moved to another place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_rotate_encryption_keys_and_members_open_what_is_sealed_for_them() {
    use waybill_types::seal::{seal_at, Place, Recipient, SealPublicKey};
    let dir = temp_dir("seal");
    let (url, _) = init(&dir);
    let _node = start_node(&dir);
    let client = Client::new(&url);
    ready(&client).await;
    let d = dir.to_str().expect("utf-8 path");
    let orgs = org_ids(&dir);
    let (seller, buyer, rival) = (&orgs[0], &orgs[1], &orgs[2]);
    let admin_file = |o: &str| dir.join(format!("keys/orgs/{o}-admin.json"));

    // The seller registers version 1 and rotates to 2; the buyer registers 1.
    for (o, v) in [(seller, 1), (seller, 2), (buyer, 1)] {
        let out = waybill(&[
            "seal-key",
            "rotate",
            "--as",
            &format!("admin:{o}"),
            "--dir",
            d,
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "rotate {o}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&format!("encryption key version {v}")),
            "{text}"
        );
    }
    let keys = client
        .get(&format!("/v1/orgs/{seller}/seal-keys"))
        .await
        .expect("seal keys");
    assert_eq!(keys["current"], 2, "{keys}");
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(2), "{keys}");
    let on_chain = |v: &serde_json::Value| -> SealPublicKey {
        serde_json::from_value(v["key"].clone()).expect("a key")
    };
    let buyer_keys = client
        .get(&format!("/v1/orgs/{buyer}/seal-keys"))
        .await
        .expect("seal keys");
    // The admin's key file holds both versions' secrets, matching the keys on chain.
    let secrets = KeyFile::read_seal_keys(&admin_file(seller)).expect("reads");
    assert_eq!(secrets.len(), 2);
    for (s, k) in secrets.iter().zip(keys["keys"].as_array().expect("list")) {
        assert_eq!(s.secret.public(), on_chain(k));
    }

    // A member of the seller receives the secrets.
    let member = dir.join("seller-member.json");
    KeyFile::write(&member, "seller member", &SecretKey::generate()).expect("key file");
    let m = member.to_str().expect("utf-8");
    let out = waybill(&[
        "seal-key",
        "share",
        "--from",
        admin_file(seller).to_str().expect("utf-8"),
        "--to",
        m,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 encryption secret(s) added"));

    // A price sealed for the seller's old version 1 and the buyer.
    let chain_id = client.chain_id().await.expect("chain id");
    let event_id = "urn:uuid:8d0b5a3e-1f2c-4b6d-9e7f-0a1b2c3d4e5f";
    let mut event = serde_json::json!({
        "type": "ObjectEvent", "eventID": event_id, "wb:purchasePrice": "1250.00 CNY"
    });
    let recipients = [
        Recipient {
            org: waybill_types::OrgId::new(seller).expect("org"),
            kv: 1,
            key: on_chain(&keys["keys"][0]),
        },
        Recipient {
            org: waybill_types::OrgId::new(buyer).expect("org"),
            kv: 1,
            key: on_chain(&buyer_keys["keys"][0]),
        },
    ];
    seal_at(
        &mut event,
        &Place {
            chain_id: &chain_id,
            record: event_id,
            field: "/wb:purchasePrice",
            category: waybill_types::DataCategory::Financial,
        },
        &recipients,
        &mut rand_core::OsRng,
    )
    .expect("seals");
    let doc = serde_json::json!({ "events": [event] }).to_string();
    assert!(!doc.contains("1250.00"));

    let out = waybill_stdin(&["open", "--key", m, "--dir", d], &doc);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let opened: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON out");
    assert_eq!(opened["events"][0]["wb:purchasePrice"], "1250.00 CNY");
    assert!(String::from_utf8_lossy(&out.stderr).contains("opened 1 sealed field"));

    // The rival: no secret at all is an error that says what to do; with its own key
    // it still sees only ciphertext.
    let rival_file = admin_file(rival);
    let r = rival_file.to_str().expect("utf-8");
    let out = waybill_stdin(&["open", "--key", r, "--dir", d], &doc);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no encryption secret"));
    let out = waybill(&[
        "seal-key",
        "rotate",
        "--as",
        &format!("admin:{rival}"),
        "--dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = waybill_stdin(&["open", "--key", r, "--dir", d], &doc);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        !seen.contains("1250.00") && seen.contains("wb:sealed"),
        "{seen}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 sealed for other organizations"));

    // The ciphertext copied to another field does not open, and the exit says so.
    let mut moved: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    moved["events"][0]["wb:salePrice"] = moved["events"][0]["wb:purchasePrice"].clone();
    let out = waybill_stdin(&["open", "--key", m, "--dir", d], &moved.to_string());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/events/0/wb:salePrice") && err.contains("moved"),
        "{err}"
    );

    // Only an admin registers keys.
    let out = waybill(&["seal-key", "rotate", "--as", m, "--dir", d]);
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_seals_and_opens_fields_and_prints_json() {
    let out = waybill(&[
        "bench",
        "--workload",
        "seal",
        "--reps",
        "1",
        "--runs",
        "1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["recipients"], 3);
    assert_eq!(v["reps"], 40);
    for k in [
        "seal_per_s_one_core_median",
        "open_per_s_one_core_median",
        "seal_per_s_all_cores_median",
        "baseline_sign_tx_per_s_one_core_median",
    ] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {v}");
    }
}

/// One commissioning ObjectEvent of the orchard with a purchase price beside it.
fn priced_commissioning_doc(serial: &str, event_id: Option<&str>) -> serde_json::Value {
    let mut event = serde_json::json!({
        "type": "ObjectEvent",
        "eventTime": "2026-11-03T08:00:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "ADD",
        "epcList": [format!("urn:epc:id:sgtin:6901234.000001.{serial}")],
        "bizStep": "commissioning",
        "disposition": "active",
        // Sold to the platform: a party to the event, and a financier (it reads prices).
        "destinationList": [
            {"type": "owning_party", "destination": "urn:epc:id:pgln:6908001.00000"}
        ],
        "wb:purchasePrice": "1250.00 CNY",
    });
    if let Some(id) = event_id {
        event["eventID"] = serde_json::json!(id);
    }
    serde_json::json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                     {"wb": "https://waybill.example/epcis/"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-06T12:00:00.000Z",
        "epcisBody": { "eventList": [event] }
    })
}

/// `waybill capture --seal` seals a field for the capturer's organization, every
/// regulator and a named partner; the ledger stores ciphertext, each of them opens
/// it, a carrier does not; a field sealed to a key version that is no longer
/// current, or for another event, is refused by the contract with `sealed_field`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_seals_fields_for_its_organization_regulators_and_partners() {
    let dir = temp_dir("seal-capture");
    let (url, _) = init(&dir);
    // Debug logs: the canary scan below reads them too.
    let _node = start_node_with_env(&dir, &[("RUST_LOG", "debug")]);
    let client = Client::new(&url);
    ready(&client).await;
    let d = dir.to_str().expect("utf-8 path");
    let admin_file = |o: &str| dir.join(format!("keys/orgs/{o}-admin.json"));
    let doc_file = dir.join("priced.jsonld");
    let f = doc_file.to_str().expect("utf-8");
    let capture = |extra: &[&str]| {
        let mut args = vec!["capture", f, "--as", "admin:pujiang-orchard", "--dir", d];
        args.extend_from_slice(extra);
        waybill(&args)
    };
    std::fs::write(&doc_file, priced_commissioning_doc("S1", None).to_string()).expect("doc");
    let seal_args = ["--seal", "/wb:purchasePrice", "--seal-for", "shopmart"];

    // No key yet: the CLI says who must register one.
    let out = capture(&seal_args);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has registered no encryption key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for o in [
        "pujiang-orchard",
        "sichuan-regulator",
        "shopmart",
        "coldchain-express",
        "chengdu-packing",
    ] {
        let out = waybill(&[
            "seal-key",
            "rotate",
            "--as",
            &format!("admin:{o}"),
            "--dir",
            d,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A dry run shows what the capture would publish and seal; nothing is stored.
    let mut dry = seal_args.to_vec();
    dry.push("--dry-run");
    let out = capture(&dry);
    let preview = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{preview}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        preview.contains("\"publishes\"")
            && preview.contains("\"field\": \"/wb:purchasePrice\"")
            && !preview.contains("1250.00"),
        "{preview}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was stored"));
    let out = waybill(&["events", "--as", "admin:pujiang-orchard", "--dir", d]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("wb:sealed"),
        "the dry run stored nothing"
    );
    let out = capture(&seal_args);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // What the ledger serves is ciphertext; each recipient opens it.
    let served = served_sealed(d, "admin:pujiang-orchard", &[]);
    for o in ["pujiang-orchard", "sichuan-regulator", "shopmart"] {
        assert!(opens_price(d, &admin_file(o), &served), "{o} opens it");
    }
    assert!(
        !opens_price(d, &admin_file("coldchain-express"), &served),
        "the carrier does not"
    );

    // The orchard rotates; a field sealed to its old version 1 is refused.
    let old_keys = client
        .get("/v1/orgs/pujiang-orchard/seal-keys")
        .await
        .expect("keys");
    let out = waybill(&[
        "seal-key",
        "rotate",
        "--as",
        "admin:pujiang-orchard",
        "--dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let chain_id = client.chain_id().await.expect("chain id");
    let stale = |serial: &str, event_id: &str, sealed_for: &str| {
        let mut doc = priced_commissioning_doc(serial, Some(event_id));
        let event = doc.pointer_mut("/epcisBody/eventList/0").expect("event");
        waybill_types::seal::seal_at(
            event,
            &waybill_types::seal::Place {
                chain_id: &chain_id,
                record: sealed_for,
                field: "/wb:purchasePrice",
                category: waybill_types::DataCategory::Financial,
            },
            &[waybill_types::seal::Recipient {
                org: waybill_types::OrgId::new("pujiang-orchard").expect("org"),
                kv: 1,
                key: serde_json::from_value(old_keys["keys"][0]["key"].clone()).expect("key"),
            }],
            &mut rand_core::OsRng,
        )
        .expect("seals");
        doc
    };
    let id = "urn:uuid:3b9f2c1a-5d4e-4f6a-8b7c-9d0e1f2a3b4c";
    std::fs::write(&doc_file, stale("S2", id, id).to_string()).expect("doc");
    let out = capture(&[]);
    assert!(!out.status.success());
    let job = String::from_utf8_lossy(&out.stdout);
    assert!(
        job.contains("sealed_field") && job.contains("current version is 2"),
        "{job}"
    );
    // A field in format 1 (naming its record and pointer as members).
    let mut old_format = stale("S3", id, id);
    old_format["epcisBody"]["eventList"][0]["wb:purchasePrice"]["wb:sealed"]["record"] =
        serde_json::json!(id);
    std::fs::write(&doc_file, old_format.to_string()).expect("doc");
    let out = capture(&[]);
    assert!(!out.status.success());
    let job = String::from_utf8_lossy(&out.stdout);
    assert!(
        job.contains("sealed_field") && job.contains("format 1"),
        "{job}"
    );
    // Sealed for an organization that is no party to the event (the packer, not
    // named in it): the contract refuses the recipient set.
    std::fs::write(&doc_file, priced_commissioning_doc("S4", None).to_string()).expect("doc");
    let out = capture(&[
        "--seal",
        "/wb:purchasePrice",
        "--seal-for",
        "chengdu-packing",
    ]);
    assert!(!out.status.success());
    let job = String::from_utf8_lossy(&out.stdout);
    assert!(
        job.contains("sealed_field") && job.contains("`chengdu-packing`, which is not a party"),
        "{job}"
    );
    a_recipient_is_added_later_and_a_complaint_settled(&dir, &client, &capture).await;
    submit_seals_a_capture_payload(&dir);
    an_erasable_field_is_delivered_opened_and_erased(&dir, &client).await;
    // Canary: the price is nowhere in the node's directory — store, logs, key files —
    // but in the document the orchard wrote there itself.
    let files: Vec<PathBuf> = regular_files(&dir)
        .into_iter()
        .filter(|f| f != &doc_file)
        .collect();
    assert!(files.iter().any(|f| f.ends_with("node.log")), "{files:?}");
    let hits = files_containing(&files, "1250.00");
    assert!(hits.is_empty(), "the sealed price in plaintext in {hits:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `waybill capture --erasable`: a consignee's name and phone are sealed detached —
/// the record holds no ciphertext — and the private part is delivered to the node
/// (it keeps private data for the platform, a recipient). `waybill open` fetches it
/// and the platform reads the name; the carrier does not, until the platform adds it
/// (`waybill seal add-recipient`). `waybill seal erase` by the carrier is refused; by the orchard (the capturer) it is applied: the node purges
/// the part and records the purge, and the field no longer opens.
async fn an_erasable_field_is_delivered_opened_and_erased(dir: &Path, client: &Client) {
    let d = dir.to_str().expect("utf-8 path");
    let admin_file = |o: &str| dir.join(format!("keys/orgs/{o}-admin.json"));
    // Outside the node's directory (the canary scan reads that).
    let elsewhere = temp_dir("erasable");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let record = "urn:uuid:7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f";
    let mut doc = priced_commissioning_doc("E1", Some(record));
    doc["epcisBody"]["eventList"][0]["wb:consignee"] =
        serde_json::json!({"name": "Wang Fang", "phone": "+86 138 0013 8000"});
    // The carrier that will deliver it is a party (not a recipient at capture).
    doc["epcisBody"]["eventList"][0]["destinationList"]
        .as_array_mut()
        .expect("destinations")
        .push(serde_json::json!({"type": "possessing_party", "destination": "urn:epc:id:pgln:6907001.00000"}));
    let doc_file = elsewhere.join("consignee.jsonld");
    std::fs::write(&doc_file, doc.to_string()).expect("doc");
    let out = waybill(&[
        "capture",
        doc_file.to_str().expect("utf-8"),
        "--as",
        "admin:pujiang-orchard",
        "--seal",
        "/wb:purchasePrice",
        "--erasable",
        "/wb:consignee",
        "--seal-for",
        "shopmart",
        "--dir",
        d,
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    // The development node (the platform runs its validator) keeps private data for
    // every organization of the consortium (`hosts_private_data_for` in node.json):
    // the orchard's, which runs no node, too.
    let kept = err
        .lines()
        .find(|l| l.contains("private part kept by"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        kept.contains("\"shopmart\"") && kept.contains("\"pujiang-orchard\""),
        "{kept}"
    );
    let out = waybill(&["events", "--as", "admin:shopmart", "--dir", d]);
    let served = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        served.contains("\"private\"") && !served.contains("Wang Fang"),
        "{served}"
    );
    let open_as = |o: &str| {
        waybill_stdin(
            &[
                "open",
                "--key",
                admin_file(o).to_str().expect("utf-8"),
                "--dir",
                d,
            ],
            &served,
        )
    };
    let out = open_as("shopmart");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Wang Fang"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = open_as("coldchain-express");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Wang Fang"));
    // The carrier assigned after the order: the platform adds it (a wrap on the
    // chain); `waybill open` then fetches the part and the added wrap for it.
    let out = waybill(&[
        "seal",
        "add-recipient",
        "--record",
        record,
        "--field",
        "/wb:consignee",
        "--for",
        "coldchain-express",
        "--as",
        "admin:shopmart",
        "--dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = open_as("coldchain-express");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Wang Fang"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let erase = |who: &str| {
        waybill(&[
            "seal",
            "erase",
            "--record",
            record,
            "--field",
            "/wb:consignee",
            "--as",
            who,
            "--reason",
            "erasure request 2026-118",
            "--dir",
            d,
        ])
    };
    let out = erase("admin:coldchain-express");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not_authorized"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = erase("admin:pujiang-orchard");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The node purges after the block and records the purge in a later one.
    let (_, shop) = KeyFile::read(&admin_file("shopmart")).expect("key");
    let path = format!(
        "/v1/sealed/private?record={}&field=%2Fwb%3Aconsignee",
        record.replace(':', "%3A")
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let e = client.get_as(&path, &shop).await.expect_err("erased");
        assert_eq!(e.code(), Some("erased"), "{e}");
        if private_entries(dir) == 0 && purge_recorded(client, &shop, &path).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not purge and record in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = open_as("shopmart");
    assert!(!out.status.success(), "an erased field does not open");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("erased"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&elsewhere);
}

/// Parts in the node's private store.
fn private_entries(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("data/private"))
        .map(|r| {
            r.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

/// Has a node recorded its purge of the field at `path` (`GET /v1/sealed/private`
/// answers 410 with `purged_by`)?
async fn purge_recorded(client: &Client, key: &SecretKey, path: &str) -> bool {
    let (_, body) = common::get_signed(client.base_url(), key, path)
        .await
        .expect("node answers");
    body["purged_by"].as_array().is_some_and(|p| !p.is_empty())
}

/// `waybill submit --seal` seals the events of a `capture_epcis` payload as `capture
/// --seal` does (previewed first with `--dry-run`); on a payload without events it
/// says why not.
fn submit_seals_a_capture_payload(dir: &Path) {
    let d = dir.to_str().expect("utf-8 path");
    let admin = dir.join("keys/orgs/pujiang-orchard-admin.json");
    // Outside the node's directory (the canary scan reads that).
    let elsewhere = temp_dir("submit-seal");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let payload = elsewhere.join("capture.json");
    let doc = priced_commissioning_doc("S9", None);
    std::fs::write(
        &payload,
        serde_json::json!({ "type": "capture_epcis", "document": doc.to_string() }).to_string(),
    )
    .expect("payload");
    let submit = |file: &Path, extra: &[&str]| {
        let mut args = vec![
            "submit",
            "--key",
            admin.to_str().expect("utf-8"),
            file.to_str().expect("utf-8"),
            "--seal",
            "/wb:purchasePrice",
            "--dir",
            d,
        ];
        args.extend_from_slice(extra);
        waybill(&args)
    };
    let out = submit(&payload, &["--dry-run"]);
    let preview = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success()
            && preview.contains("\"field\": \"/wb:purchasePrice\"")
            && !preview.contains("1250.00"),
        "{preview}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = submit(&payload, &[]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let served = served_sealed(d, "admin:pujiang-orchard", &[]);
    assert!(served.contains("6901234.000001.S9"), "{served}");
    let lot = elsewhere.join("lot.json");
    std::fs::write(
        &lot,
        r#"{"type":"register_lot","gtin":"06901234000016","lot":"L9","origin_gln":null,"produced_on":"2026-11-20","quantity":1,"unit":"kg"}"#,
    )
    .expect("payload");
    let out = submit(&lot, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no field to seal"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&elsewhere);
}

/// `waybill events [ARGS] --as WHO`: what the ledger serves, asserted to carry the
/// sealed price as ciphertext only.
fn served_sealed(d: &str, who: &str, args: &[&str]) -> String {
    let mut all = vec!["events"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--as", who, "--dir", d]);
    let out = waybill(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let served = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        served.contains("wb:sealed") && !served.contains("1250.00"),
        "{served}"
    );
    served
}

/// Does `waybill open --key KEY` open the sealed price in `served`?
fn opens_price(d: &str, key: &Path, served: &str) -> bool {
    let out = waybill_stdin(
        &["open", "--key", key.to_str().expect("utf-8"), "--dir", d],
        served,
    );
    assert!(
        out.status.success(),
        "{}: {}",
        key.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).contains("1250.00 CNY")
}

/// A price sealed for the orchard and the regulator only; the platform it was sold
/// to is added later by the orchard (`waybill seal add-recipient`) and opens it
/// (`waybill open` fetches the added wrap); it complains, the field is flagged until
/// the orchard wraps it again.
async fn a_recipient_is_added_later_and_a_complaint_settled(
    dir: &Path,
    client: &Client,
    capture: &dyn Fn(&[&str]) -> std::process::Output,
) {
    let d = dir.to_str().expect("utf-8 path");
    let record = "urn:uuid:9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
    let doc_file = dir.join("priced.jsonld");
    std::fs::write(
        &doc_file,
        priced_commissioning_doc("S5", Some(record)).to_string(),
    )
    .expect("doc");
    let out = capture(&["--seal", "/wb:purchasePrice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shop_file = dir.join("keys/orgs/shopmart-admin.json");
    let filter = format!("eventID={record}");
    let shop_opens = || {
        let served = served_sealed(d, "admin:shopmart", &[&filter]);
        opens_price(d, &shop_file, &served)
    };
    assert!(!shop_opens(), "not sealed for the platform at capture");
    let add = || {
        waybill(&[
            "seal",
            "add-recipient",
            "--record",
            record,
            "--field",
            "/wb:purchasePrice",
            "--for",
            "shopmart",
            "--as",
            "admin:pujiang-orchard",
            "--dir",
            d,
        ])
    };
    let out = add();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shop_opens(), "the added wrap opens it");
    // A second wrap for a recipient is refused by the contract.
    let out = add();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a recipient already"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The carrier is no recipient: it cannot even open the data key to wrap it.
    let out = waybill(&[
        "seal",
        "add-recipient",
        "--record",
        record,
        "--field",
        "/wb:purchasePrice",
        "--for",
        "coldchain-express",
        "--as",
        "admin:coldchain-express",
        "--dir",
        d,
    ]);
    assert!(!out.status.success());
    // The platform complains; flagged until the orchard wraps again.
    let (_, shop_key) = KeyFile::read(&shop_file).expect("key file");
    let flagged = || async {
        let v = client
            .get_as(
                &format!("/v1/sealed?record={}", record.replace(':', "%3A")),
                &shop_key,
            )
            .await
            .expect("sealed fields");
        v["fields"][0]["flagged"].as_bool().expect("flagged")
    };
    assert!(!flagged().await);
    let out = waybill(&[
        "seal",
        "complain",
        "--record",
        record,
        "--field",
        "/wb:purchasePrice",
        "--as",
        "admin:shopmart",
        "--reason",
        "HPKE open failed with version 1",
        "--dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(flagged().await);
    let out = add();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!flagged().await, "the new wrap settles the complaint");
    assert!(shop_opens());
    a_disclosure_verifies_anywhere_and_fails_on_any_change(dir, record, &shop_file);
}

/// The platform, a recipient, discloses the price (`waybill disclose`): anyone checks
/// it against the genesis (`waybill verify-disclosure`); a changed value, or any
/// changed byte, fails; the carrier, no recipient, cannot disclose it.
fn a_disclosure_verifies_anywhere_and_fails_on_any_change(dir: &Path, record: &str, key: &Path) {
    let d = dir.to_str().expect("utf-8 path");
    // Outside the node's directory (the canary scan reads that).
    let elsewhere = temp_dir("disclosure");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let file = elsewhere.join("price.disclosure.json");
    let f = file.to_str().expect("utf-8");
    let disclose = |key: &Path| {
        waybill(&[
            "disclose",
            "--key",
            key.to_str().expect("utf-8"),
            "--record",
            record,
            "--field",
            "/wb:purchasePrice",
            "--out",
            f,
            "--dir",
            d,
        ])
    };
    let out = disclose(key);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let genesis = dir.join("genesis.json");
    let verify = || {
        let out = waybill(&[
            "verify-disclosure",
            f,
            "--genesis",
            genesis.to_str().expect("utf-8"),
        ]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, said) = verify();
    assert!(
        ok && said.contains("\"1250.00 CNY\"") && said.contains(record),
        "{said}"
    );
    let text = std::fs::read_to_string(&file).expect("disclosure");
    assert!(text.contains("\"value\": \"1250.00 CNY\""), "{text}");
    std::fs::write(&file, text.replace("1250.00 CNY", "1150.00 CNY")).expect("write");
    let (ok, said) = verify();
    assert!(!ok && said.contains("does NOT verify"), "{said}");
    std::fs::write(&file, text.replacen('"', " \"", 1)).expect("write");
    let (ok, said) = verify();
    assert!(!ok && said.contains("byte for byte"), "{said}");
    let carrier = dir.join("keys/orgs/coldchain-express-admin.json");
    let out = disclose(&carrier);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&elsewhere);
}

/// `waybill submit` opens an account; `waybill accounts list --json` and `accounts
/// show` read it back with its sums and balances; another organization's account is
/// refused with a message that names who may read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_opened_listed_and_shown_from_the_command_line() {
    let dir = temp_dir("accounts");
    let (url, _) = init(&dir);
    let _node = start_node(&dir);
    let client = Client::new(&url);
    ready(&client).await;
    let d = dir.to_str().expect("utf-8 path");
    let orgs = org_ids(&dir);
    let (mine, theirs) = (&orgs[0], &orgs[1]);
    let payload = dir.join("open.json");
    std::fs::write(
        &payload,
        serde_json::json!({
            "type": "open_account",
            "account": format!("org:{mine}:CNY:main"),
            "flags": { "debits_must_not_exceed_credits": true }
        })
        .to_string(),
    )
    .expect("payload");
    let key = dir.join(format!("keys/orgs/{mine}-admin.json"));
    let out = waybill(&[
        "submit",
        "--key",
        key.to_str().expect("utf-8"),
        payload.to_str().expect("utf-8"),
        "--dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "submit: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let who = format!("admin:{mine}");
    let out = waybill(&["accounts", "list", "--as", &who, "--json", "--dir", d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    let a = &items[0];
    assert_eq!(a["id"], format!("org:{mine}:CNY:main"));
    assert_eq!(a["currency"], "CNY");
    assert_eq!(a["exponent"], 2);
    for f in [
        "debits_posted",
        "credits_posted",
        "debits_pending",
        "credits_pending",
    ] {
        assert_eq!(a[f], "0", "{f}: {a}");
    }
    assert_eq!(a["flags"]["debits_must_not_exceed_credits"], true);
    let out = waybill(&["accounts", "list", "--as", &who, "--dir", d]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("org:{mine}:CNY:main")) && table.contains("available"),
        "{table}"
    );
    let out = waybill(&[
        "accounts",
        "show",
        &format!("org:{mine}:CNY:main"),
        "--as",
        &who,
        "--dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["balance"]["available"], "0");
    let out = waybill(&[
        "accounts",
        "show",
        &format!("org:{theirs}:CNY:main"),
        "--as",
        &who,
        "--dir",
        d,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("may not read account") && err.contains("regulators"),
        "{err}"
    );
    let out = waybill(&[
        "accounts",
        "show",
        "org:x:CNY:main",
        "--as",
        &who,
        "--dir",
        d,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not an account id"),
        "{err}"
    );
}

/// A payment provider's deposits and a payout, then its statement reconciled: a CSV with
/// a wrong amount, an unknown payment and a repeated line lists exactly those three
/// differences (exit 1); a camt.053 statement of what was booked matches (exit 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_statement_is_reconciled_by_reference() {
    let dir = temp_dir("reconcile");
    let (url, _) = init(&dir);
    let _node = start_node(&dir);
    ready(&Client::new(&url)).await;
    let d = dir.to_str().expect("utf-8 path");
    let consumer = waybill_types::SecretKey::from_label("reconcile-consumer").public();
    let submit = |admin: &str, payload: serde_json::Value| {
        let file = dir.join("payload.json");
        std::fs::write(&file, payload.to_string()).expect("payload");
        let key = dir.join(format!("keys/orgs/{admin}-admin.json"));
        let out = waybill(&[
            "submit",
            "--key",
            key.to_str().expect("utf-8"),
            file.to_str().expect("utf-8"),
            "--dir",
            d,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && text.contains("applied"),
            "{payload}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let wallet = format!("key:{}:CNY:wallet", consumer.to_hex());
    let deposit = |id: &str, account: &str, amount: &str| serde_json::json!({"type": "deposit", "id": id, "account": account, "amount": amount, "reference": id.to_uppercase()});
    submit("sichuan-bank", deposit("bank-001", &wallet, "10000"));
    submit("sichuan-bank", deposit("bank-002", &wallet, "2550"));
    submit(
        "shopmart",
        serde_json::json!({"type": "open_account", "account": "org:shopmart:CNY:main"}),
    );
    submit(
        "sichuan-bank",
        deposit("bank-003", "org:shopmart:CNY:main", "5000"),
    );
    submit(
        "shopmart",
        serde_json::json!({"type": "transfer", "transfers": [{"kind": "pending", "id": "payout-1",
        "debit": "org:shopmart:CNY:main", "credit": "org:sichuan-bank:CNY:settlement", "amount": "2000", "timeout_ms": 3600000}]}),
    );
    let shopmart_admin = waybill_client::KeyFile::read(&dir.join("keys/orgs/shopmart-admin.json"))
        .expect("key")
        .1;
    submit(
        "sichuan-bank",
        serde_json::json!({"type": "transfer", "transfers": [{"kind": "post", "id": "paid-1",
        "pending": {"signer": shopmart_admin.public().to_hex(), "id": "payout-1"}, "reference": "BANK-OUT-1"}]}),
    );

    let csv = dir.join("statement.csv");
    std::fs::write(
        &csv,
        "booking_date,reference,amount,currency,direction\n\
         2026-12-06,BANK-001,100.00,CNY,CRDT\n\
         2026-12-06,BANK-002,25.05,CNY,CRDT\n\
         2026-12-06,BANK-003,50.00,CNY,CRDT\n\
         2026-12-06,\"BANK-OUT-1\",20,CNY,DBIT\n\
         2026-12-06,BANK-999,1.00,CNY,CRDT\n\
         2026-12-06,BANK-001,100.00,CNY,CRDT\n",
    )
    .expect("statement");
    let out = waybill(&[
        "reconcile",
        "--statement",
        csv.to_str().expect("utf-8"),
        "--as",
        "admin:sichuan-bank",
        "--json",
        "--dir",
        d,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "differences exit 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let kinds: Vec<(String, String)> = v["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().expect("kind").to_string(),
                d["reference"].as_str().expect("reference").to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("differs".to_string(), "BANK-002".to_string()),
            ("missing_on_ledger".to_string(), "BANK-999".to_string()),
            ("duplicate_on_statement".to_string(), "BANK-001".to_string()),
        ],
        "{v}"
    );
    assert!(
        v["differences"][0]["detail"]
            .as_str()
            .expect("detail")
            .contains("amount 2505 on the statement, 2550 on the ledger"),
        "{v}"
    );
    assert_eq!(v["matched"], 3, "{v}");

    // camt.053 of what was booked, minus the payout: that one shows as not on the statement.
    let entry = |r: &str, amt: &str, dir: &str| {
        format!("<Ntry><Amt Ccy=\"CNY\">{amt}</Amt><CdtDbtInd>{dir}</CdtDbtInd><BookgDt><Dt>2026-12-06</Dt></BookgDt>\
                 <NtryDtls><TxDtls><Refs><AcctSvcrRef>{r}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>")
    };
    let camt = |entries: &str| {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\
                 <BkToCstmrStmt><GrpHdr><MsgId>S-1</MsgId><CreDtTm>2026-12-06T23:00:00+08:00</CreDtTm></GrpHdr>\
                 <Stmt><Id>S-1</Id><Acct><Id><IBAN>CN0000000000000000</IBAN></Id></Acct>{entries}</Stmt></BkToCstmrStmt></Document>")
    };
    let xml = dir.join("statement.xml");
    let three = [
        entry("BANK-001", "100.00", "CRDT"),
        entry("BANK-002", "25.50", "CRDT"),
        entry("BANK-003", "50", "CRDT"),
    ]
    .concat();
    std::fs::write(&xml, camt(&three)).expect("xml");
    let out = waybill(&[
        "reconcile",
        "--statement",
        xml.to_str().expect("utf-8"),
        "--as",
        "admin:sichuan-bank",
        "--dir",
        d,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("3 of 3 statement lines match")
            && text.contains("missing_on_statement: BANK-OUT-1"),
        "{text}"
    );
    std::fs::write(&xml, camt(&(three + &entry("BANK-OUT-1", "20.00", "DBIT")))).expect("xml");
    let out = waybill(&[
        "reconcile",
        "--statement",
        xml.to_str().expect("utf-8"),
        "--as",
        "admin:sichuan-bank",
        "--dir",
        d,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("4 of 4 statement lines match"), "{text}");
    // Another organization may not read the bank's booked payments.
    let out = waybill(&[
        "reconcile",
        "--statement",
        xml.to_str().expect("utf-8"),
        "--provider",
        "sichuan-bank",
        "--as",
        "admin:shopmart",
        "--dir",
        d,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("booked payments"),
        "{err}"
    );
}
