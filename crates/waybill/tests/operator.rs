//! Operator edges of the `waybill` binary: SIGTERM and SIGINT stop a node within 5 s
//! without an ERROR line, idle or busy; `demo --listen` moves every port it uses (two
//! demos side by side) and refuses a port that is taken; commands that talk to a node
//! read its address from `--dir`'s `node.json`; list commands page through
//! everything or say that more remains. Every process binds 127.0.0.1 on free ports
//! and is killed at the end.

use waybill_types::payload::RegisterMember;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt as _;
use waybill_client::{Client, KeyFile};
use waybill_types::{Payload, Role, SecretKey};

mod common;
use common::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_waybill");
/// How long a node may take to stop after SIGTERM or SIGINT.
const STOP_BOUND: Duration = Duration::from_secs(5);

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("waybill-op-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// An EPCIS document with one commissioning ObjectEvent on day `i` of November 2026,
/// for the item with serial `{prefix}{i}`.
fn commissioning_doc(i: u32, prefix: &str) -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-06T12:00:00.000Z",
        "epcisBody": { "eventList": [{
            "type": "ObjectEvent",
            "eventTime": format!("2026-11-0{i}T08:00:00.000+08:00"),
            "eventTimeZoneOffset": "+08:00",
            "action": "ADD",
            "epcList": [format!("urn:epc:id:sgtin:6901234.000001.{prefix}{i}")],
            "bizStep": "commissioning",
            "disposition": "active",
        }]}
    })
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

fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `waybill init --dir DIR` with the API and p2p on free ports; the API's URL.
fn init(dir: &Path) -> String {
    let out = waybill(&["init", "--dir", utf8(dir)]);
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let api = format!("127.0.0.1:{}", free_port());
    let p2p = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    let nf = json!({ "api_listen": api, "p2p_listen": p2p, "peers": [] });
    std::fs::write(dir.join("node.json"), nf.to_string()).expect("node.json");
    format!("http://{api}")
}

/// `waybill node --dir DIR`, logging at info level to `log`.
fn start_node(dir: &Path, log: &Path) -> Proc {
    let file = std::fs::File::create(log).expect("log file");
    Proc(
        Command::new(BIN)
            .args(["node", "--dir", utf8(dir)])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
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

/// Send `signal` (`TERM`, `INT`) to `p` with kill(1) and wait (bounded) for it to
/// exit; how long it took.
fn stop_with(p: &mut Proc, signal: &str) -> Duration {
    let sent = Instant::now();
    let status = Command::new("kill")
        .args([format!("-{signal}"), p.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "SIG{signal} sent");
    let deadline = sent + STOP_BOUND * 4;
    loop {
        if let Some(status) = p.0.try_wait().expect("try_wait") {
            assert!(
                status.success(),
                "the node exits 0 when asked to stop: {status}"
            );
            return sent.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "the node still runs {:?} after SIG{signal}",
            deadline - sent
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lines of `log` at ERROR level (or panics).
fn error_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .expect("log")
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("panicked"))
        .map(str::to_string)
        .collect()
}

/// Keep the node busy until `stop`: status reads, registrations committed with
/// `wait=true`, an idle kept-alive connection and a client that never finishes its
/// request head.
async fn keep_busy(url: String, dir: PathBuf, stop: tokio::sync::watch::Receiver<bool>) {
    let client = Client::new(&url);
    let chain_id = client.chain_id().await.expect("chain id");
    let (_, admin) =
        KeyFile::read(&dir.join("keys/orgs/pujiang-orchard-admin.json")).expect("admin key");
    let addr = url.trim_start_matches("http://").to_string();
    let mut idle = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    idle.write_all(b"GET /v1/status HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .expect("write");
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow.write_all(b"GET /v1/status HTTP/1.1\r\nx-slow: ")
        .await
        .expect("write");
    let reads = {
        let client = client.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !*stop.borrow() {
                let _ = client.status().await;
            }
        })
    };
    let mut round = 0u64;
    while !*stop.borrow() {
        round += 1;
        let txs: Vec<_> = (0..10)
            .map(|i| {
                waybill_client::sign(
                    &admin,
                    &chain_id,
                    Payload::RegisterMember(RegisterMember {
                        member: SecretKey::generate().public(),
                        name: format!("busy member {round}-{i}"),
                        roles: vec![Role::Producer],
                    }),
                )
            })
            .collect();
        if client.submit_batch(&txs, true).await.is_err() {
            break;
        }
    }
    let _ = reads.await;
    drop((idle, slow));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_stop_the_node_within_5_s_without_errors_idle_or_busy() {
    let dir = temp_dir("stop");
    let url = init(&dir);
    let client = Client::new(&url);
    for (signal, name) in [("TERM", "SIGTERM"), ("INT", "SIGINT")] {
        for busy in [false, true] {
            let log = dir.join(format!("node-{name}-{busy}.log"));
            let mut node = start_node(&dir, &log);
            ready(&client).await;
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let load = busy.then(|| tokio::spawn(keep_busy(url.clone(), dir.clone(), stop_rx)));
            if busy {
                // Wait until the load has committed something, so requests are in flight.
                let h0 = client.status().await.expect("status")["height"]
                    .as_u64()
                    .expect("height");
                let deadline = Instant::now() + Duration::from_secs(30);
                while client.status().await.expect("status")["height"]
                    .as_u64()
                    .expect("height")
                    < h0 + 2
                {
                    assert!(Instant::now() < deadline, "the load commits blocks");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            let took = stop_with(&mut node, signal);
            let _ = stop_tx.send(true);
            if let Some(l) = load {
                let _ = l.await;
            }
            eprintln!("{name}, busy {busy}: stopped in {took:?}");
            assert!(
                took < STOP_BOUND,
                "{name} ({}): the node took {took:?} to stop",
                if busy { "busy" } else { "idle" }
            );
            let errors = error_lines(&log);
            assert!(
                errors.is_empty(),
                "{name} ({}): ERROR lines in the node's log:\n{}",
                if busy { "busy" } else { "idle" },
                errors.join("\n")
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `waybill demo --dir DIR --listen ADDR [extra…]`, its log in DIR.log.
fn spawn_demo(dir: &Path, listen: &str, extra: &[&str]) -> Proc {
    let log = std::fs::File::create(dir.with_extension("log")).expect("log");
    let mut args = vec!["demo", "--dir", utf8(dir), "--listen", listen];
    args.extend_from_slice(extra);
    Proc(
        Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("demo starts"),
    )
}

/// The TCP port of a `/ip4/…/tcp/PORT` multiaddr.
fn tcp_port(multiaddr: &str) -> u16 {
    multiaddr
        .rsplit_once("/tcp/")
        .and_then(|(_, p)| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("`{multiaddr}` names no TCP port"))
}

fn node_file(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("node.json")).expect("node.json"))
        .expect("node.json is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demos_side_by_side_each_use_their_own_ports() {
    let (a, b) = (temp_dir("demo-a"), temp_dir("demo-b"));
    let (pa, pb) = (free_port(), free_port());
    let _demo_a = spawn_demo(&a, &format!("127.0.0.1:{pa}"), &[]);
    let _demo_b = spawn_demo(&b, &format!("127.0.0.1:{pb}"), &[]);
    let (ca, cb) = (
        Client::new(&format!("http://127.0.0.1:{pa}")),
        Client::new(&format!("http://127.0.0.1:{pb}")),
    );
    ready(&ca).await;
    ready(&cb).await;
    // Two consortia, each finalizing its own blocks.
    let (sa, sb) = (ca.status().await.expect("a"), cb.status().await.expect("b"));
    assert_ne!(sa["genesis_hash"], sb["genesis_hash"]);
    let (na, nb) = (node_file(&a), node_file(&b));
    let (p2p_a, p2p_b) = (
        tcp_port(na["p2p_listen"].as_str().expect("p2p_listen")),
        tcp_port(nb["p2p_listen"].as_str().expect("p2p_listen")),
    );
    assert_ne!(p2p_a, p2p_b, "the demos' p2p ports differ: {na} {nb}");
    for (p, which) in [(p2p_a, "a"), (p2p_b, "b")] {
        assert_ne!(p, 27000, "demo {which} moved its p2p port off the default");
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", p)).is_err(),
            "demo {which}'s p2p port {p} (node.json) is the one it listens on"
        );
    }
    assert_eq!(na["api_listen"], format!("127.0.0.1:{pa}"));
    // A third demo told to take a's p2p port refuses, naming it, instead of sharing it.
    let c = temp_dir("demo-c");
    let taken = format!("/ip4/127.0.0.1/tcp/{p2p_a}");
    let out = Command::new(BIN)
        .args([
            "demo",
            "--dir",
            utf8(&c),
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--p2p-listen",
            &taken,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("demo runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a taken p2p port is refused");
    assert!(
        err.contains(&p2p_a.to_string()) && err.contains("in use"),
        "the refusal names the port: {err}"
    );
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_read_the_node_address_from_dir_and_lists_page_through_everything() {
    let dir = temp_dir("cli-dir");
    let url = init(&dir);
    let log = dir.join("node.log");
    let _node = start_node(&dir, &log);
    let client = Client::new(&url);
    ready(&client).await;
    let d = utf8(&dir);

    // status, block, tx: no --node, the address comes from DIR/node.json.
    let out = waybill(&["status", "--dir", d]);
    assert!(
        out.status.success(),
        "status --dir: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["chain_id"], "waybill-dev");
    // --node overrides the directory's address.
    let elsewhere = format!("http://127.0.0.1:{}", free_port());
    let out = waybill(&["status", "--dir", d, "--node", &elsewhere]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&elsewhere));
    // A directory without node.json says what to do.
    let empty = temp_dir("cli-empty");
    std::fs::create_dir_all(&empty).expect("dir");
    let out = waybill(&["status", "--dir", utf8(&empty)]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("node.json") && e.contains("--node"),
        "{e}"
    );

    // Five events captured by the orchard's admin, in five documents.
    let (_, admin) =
        KeyFile::read(&dir.join("keys/orgs/pujiang-orchard-admin.json")).expect("admin key");
    let chain_id = client.chain_id().await.expect("chain id");
    for i in 1..=5 {
        let doc = commissioning_doc(i, "P");
        let job = client
            .capture(&admin, &chain_id, doc.to_string(), true)
            .await
            .expect("capture");
        assert_eq!(job["success"], true, "{job}");
    }
    let block = waybill(&["block", "1", "--dir", d]);
    assert!(block.status.success(), "block --dir");
    let as_admin = ["--as", "admin:pujiang-orchard", "--dir", d];

    // events: every page, two at a time.
    let mut args = vec!["events", "--page-size", "2"];
    args.extend_from_slice(&as_admin);
    let out = waybill(&args);
    assert!(
        out.status.success(),
        "events: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let events = v["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .expect("eventList");
    assert_eq!(events.len(), 5, "all five events over three pages: {v}");
    // With a cap, it says that more remain and how to get them.
    let mut args = vec!["events", "--page-size", "2", "--max", "3"];
    args.extend_from_slice(&as_admin);
    let out = waybill(&args);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        v["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("more remain"), "{e}");

    // audit: the organization's trail, every page.
    let n_total = {
        let mut args = vec!["audit", "--org", "pujiang-orchard", "--page-size", "1000"];
        args.extend_from_slice(&as_admin);
        let out = waybill(&args);
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v["items"].as_array().expect("items").len()
    };
    assert!(n_total >= 5, "five captures are on the trail");
    let mut args = vec!["audit", "--org", "pujiang-orchard", "--page-size", "2"];
    args.extend_from_slice(&as_admin);
    let out = waybill(&args);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(n_total));
    assert_eq!(v["next_after"], Value::Null, "nothing remains: {v}");
    let mut args = vec![
        "audit",
        "--org",
        "pujiang-orchard",
        "--page-size",
        "2",
        "--max",
        "3",
    ];
    args.extend_from_slice(&as_admin);
    let out = waybill(&args);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(3));
    assert!(v["next_after"].is_string(), "the cursor to go on from: {v}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("more remain"));

    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

/// `waybill node --dir DIR` with `WAYBILL_TEST_HOLD_BLOCKS_FILE=hold`: while `hold`
/// exists, blocks take no transactions, so accepted captures wait in the window
/// between 202 and commit.
fn start_node_holding(dir: &Path, log: &Path, hold: &Path) -> Proc {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Proc(
        Command::new(BIN)
            .args(["node", "--dir", utf8(dir)])
            .env("RUST_LOG", "info")
            .env("WAYBILL_TEST_HOLD_BLOCKS_FILE", hold)
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("node starts"),
    )
}

/// `waybill capture-job ID --as … --dir D` as JSON, and whether it exited 0.
fn capture_job(dir: &Path, id: &str, who: &str) -> (Value, bool) {
    let out = waybill(&["capture-job", id, "--as", who, "--dir", utf8(dir)]);
    let job = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "capture-job prints JSON: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (job, out.status.success())
}

/// Captures accepted (202) but not yet committed survive a SIGKILL: after the restart
/// the node resubmits them and their jobs finish with success; one whose expiry passed
/// while the node was down fails, naming the reason. Every job keeps its createdAt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_captures_survive_a_kill_before_commit() {
    let dir = temp_dir("jobs-kill");
    let url = init(&dir);
    let log = dir.join("node.log");
    let hold = dir.join("hold-blocks");
    std::fs::write(&hold, b"").expect("hold file");
    let mut node = start_node_holding(&dir, &log, &hold);
    let client = Client::new(&url);
    ready(&client).await;
    let d = utf8(&dir);
    let who = "admin:pujiang-orchard";

    let capture = |i: u32, extra: &[&str]| -> String {
        let doc = commissioning_doc(i, "K");
        let file = dir.join(format!("doc-{i}.jsonld"));
        std::fs::write(&file, doc.to_string()).expect("doc");
        let mut args = vec!["capture", utf8(&file), "--as", who, "--dir", d, "--no-wait"];
        args.extend_from_slice(extra);
        let out = waybill(&args);
        assert!(
            out.status.success(),
            "capture {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(v["createdAt"].is_string(), "202 names createdAt: {v}");
        v["captureID"].as_str().expect("captureID").to_string()
    };
    let lasting: Vec<String> = (1..=3).map(|i| capture(i, &[])).collect();
    let expiring = capture(4, &["--expires-in", "2"]);
    let expires_by = Instant::now() + Duration::from_secs(2);

    // Accepted, running, readable by the submitter's organization only.
    let mut created = Vec::new();
    for id in lasting.iter().chain([&expiring]) {
        let (job, ok) = capture_job(&dir, id, who);
        assert!(ok, "{job}");
        assert_eq!(job["running"], true, "held, not committed: {job}");
        created.push(job["createdAt"].clone());
    }
    let out = waybill(&[
        "capture-job",
        &lasting[0],
        "--as",
        "admin:coldchain-express",
        "--dir",
        d,
    ]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && out.stdout.is_empty() && e.contains("403"),
        "another organization reads no job: {e}"
    );

    // SIGKILL inside the window between 202 and commit.
    node.0.kill().expect("SIGKILL");
    node.0.wait().expect("reaped");
    while Instant::now() < expires_by + Duration::from_millis(500) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::remove_file(&hold).expect("release the hold");
    let _node = start_node_holding(&dir, &log, &hold);
    ready(&client).await;

    // Every job finishes: the three with success, the expired one failed, naming it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finished = Vec::new();
    for (i, id) in lasting.iter().chain([&expiring]).enumerate() {
        let job = loop {
            let (job, _) = capture_job(&dir, id, who);
            if job["running"] == false {
                break job;
            }
            assert!(Instant::now() < deadline, "job {id} still running: {job}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(job["createdAt"], created[i], "createdAt survives: {job}");
        assert!(job["finishedAt"].is_string(), "{job}");
        finished.push(job);
    }
    for job in &finished[..3] {
        assert_eq!(job["success"], true, "resubmitted and committed: {job}");
        assert!(job["height"].as_u64().is_some_and(|h| h > 0), "{job}");
    }
    let failed = &finished[3];
    assert_eq!(failed["success"], false, "{failed}");
    assert_eq!(failed["errors"][0]["type"], "expired_tx", "{failed}");
    let (_, ok) = capture_job(&dir, &expiring, who);
    assert!(!ok, "capture-job exits 1 for a failed job");
    // The three events are on the chain, once each.
    let out = waybill(&["events", "--as", who, "--dir", d]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let events = v["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .expect("eventList");
    assert_eq!(events.len(), 3, "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One JSON line to the node's operator socket, and its one-line answer.
fn ask_raw(socket: &Path, line: &str) -> Value {
    use std::io::{BufRead as _, Write as _};
    let mut s = std::os::unix::net::UnixStream::connect(socket).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(line.as_bytes()).expect("writes");
    let mut answer = String::new();
    std::io::BufReader::new(&s)
        .read_line(&mut answer)
        .expect("answers");
    serde_json::from_str(&answer).expect("a JSON answer")
}

/// Issue 13: `waybill backup` of a running, busy node goes through its operator
/// channel (a socket only its user may open) and the node takes the copy inside one
/// read transaction; the copy restores into a new directory that verifies. Malformed
/// or unsafe requests are refused with a reason; the socket goes when the node stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_node_backs_itself_up_through_its_operator_channel() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("backup");
    let url = init(&dir);
    let client = Client::new(&url);
    let log = dir.join("node.log");
    let mut node = start_node(&dir, &log);
    ready(&client).await;
    let socket = dir.join("operator.sock");
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "only the node's user may open it");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let load = tokio::spawn(keep_busy(url.clone(), dir.clone(), stop_rx));
    let h0 = client.status().await.expect("status")["height"]
        .as_u64()
        .expect("height");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.status().await.expect("status")["height"].as_u64() < Some(h0 + 3) {
        assert!(Instant::now() < deadline, "the load commits blocks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = dir.join("busy.redb");
    let o = waybill(&["backup", "--dir", utf8(&dir), "--out", utf8(&out)]);
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(said.contains("taken by the running node"), "{said}");
    let _ = stop_tx.send(true);
    let _ = load.await;

    for (line, expect) in [
        ("not json\n", "malformed request"),
        (
            "{\"op\":\"backup\",\"out\":\"relative.redb\"}\n",
            "relative",
        ),
        (
            &format!("{{\"op\":\"backup\",\"out\":{:?}}}\n", utf8(&out)),
            "already exists",
        ),
        ("{\"op\":\"delete_everything\"}\n", "malformed request"),
    ] {
        let answer = ask_raw(&socket, line);
        assert_eq!(answer["outcome"], "refused", "{line}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| e.contains(expect)),
            "{line}: {answer}"
        );
    }
    assert!(client.status().await.is_ok(), "the node serves on");

    stop_with(&mut node, "TERM");
    assert!(!socket.exists(), "the socket goes with the node");
    let restored = temp_dir("backup-restored");
    let o = waybill(&["restore", utf8(&out), "--dir", utf8(&restored)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = waybill(&["verify", "--dir", utf8(&restored)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A stopped node is backed up by reading its store directly.
    let cold = dir.join("cold.redb");
    let o = waybill(&["backup", "--dir", utf8(&dir), "--out", utf8(&cold)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("read from the store directly"));
    for d in [dir, restored] {
        let _ = std::fs::remove_dir_all(d);
    }
}
