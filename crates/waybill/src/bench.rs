//! `waybill bench`: a fresh one-validator chain in a temporary directory, many
//! members signing lot registrations, submitted over HTTP in batches; reports
//! committed transactions per second and commit latency (submit → committed).

use anyhow::{bail, Context as _};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use waybill_client::{Client, KeyFile};
use waybill_types::gs1::{with_check_digit, Gtin};
use waybill_types::{
    Genesis, GenesisOrganization, GenesisValidator, OrgId, Payload, Role, SecretKey, SignedTx,
    TxStatus,
};

use crate::home::Home;
use crate::serve::{self, Listen};

pub struct BenchOptions {
    pub n_txs: usize,
    pub n_members: usize,
    pub batch: usize,
    pub concurrency: usize,
    pub json: bool,
}

/// Retries of a batch refused as busy.
const BUSY_RETRIES_MAX: usize = 500;

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Submit `txs` in batches, one lane after another, failing on any refusal.
async fn submit_lane(
    client: Client,
    txs: Vec<SignedTx>,
    batch: usize,
    sent_at: Arc<std::sync::Mutex<HashMap<waybill_types::TxId, Instant>>>,
) -> anyhow::Result<()> {
    for chunk in txs.chunks(batch.max(1)) {
        {
            let now = Instant::now();
            let mut m = sent_at.lock().expect("bench lock");
            for t in chunk {
                m.insert(t.id(), now);
            }
        }
        // A full mempool answers "busy": resend what was refused as busy (and what
        // was then out of order behind it), in order, after a pause. Bounded.
        let mut pending: Vec<SignedTx> = chunk.to_vec();
        for attempt in 0..BUSY_RETRIES_MAX {
            let results = client.submit_batch(&pending, false).await?;
            let mut again = Vec::new();
            for (tx, r) in pending.iter().zip(&results) {
                match r["error"]["code"].as_str() {
                    None => {}
                    Some("busy") | Some("out_of_order_seq") => again.push(tx.clone()),
                    Some(_) => bail!("a benchmark transaction was refused: {r}"),
                }
            }
            if again.is_empty() {
                break;
            }
            if attempt + 1 == BUSY_RETRIES_MAX {
                bail!("mempool still full after {BUSY_RETRIES_MAX} retries; lower --txs or --concurrency");
            }
            pending = again;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

pub async fn run(o: BenchOptions) -> anyhow::Result<()> {
    if o.n_members == 0 || o.n_txs < o.n_members {
        bail!("--txs must be at least --members, and --members at least 1");
    }
    let dir = std::env::temp_dir().join(format!(
        "waybill-bench-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let home = Home::new(&dir);
    let admin = SecretKey::generate();
    let validator = SecretKey::generate();
    KeyFile::write(&home.validator_key(), "bench validator", &validator)?;
    let genesis = Genesis {
        chain_id: "waybill-bench".into(),
        genesis_time_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64,
        organizations: vec![GenesisOrganization {
            id: OrgId::new("bench-farm")?,
            name: "Benchmark Farm".into(),
            admin: admin.public(),
            roles: vec![Role::Producer],
            company_prefixes: vec!["6900001".into()],
        }],
        validators: vec![GenesisValidator {
            org: OrgId::new("bench-farm")?,
            public_key: validator.public(),
            voting_power: 1,
        }],
    };
    std::fs::write(home.genesis_path(), serde_json::to_string(&genesis)?)?;
    let listen = Listen {
        api: "127.0.0.1:0".into(),
        p2p: format!("/ip4/127.0.0.1/tcp/{}", free_port()?),
        peers: vec![],
    };
    let served = serve::start(&home, listen)
        .await
        .context("starting the benchmark node")?;
    let shared = served.node.shared.clone();
    let client = Client::new(&format!("http://{}", served.api_addr));
    let chain_id = genesis.chain_id.clone();

    // Setup (not timed): register the members and one product.
    let members: Vec<SecretKey> = (0..o.n_members).map(|_| SecretKey::generate()).collect();
    let gtin: Gtin = with_check_digit("0690000100001")?.parse()?;
    let mut setup: Vec<SignedTx> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let p = Payload::RegisterMember {
                member: m.public(),
                name: format!("bench member {i}"),
                roles: vec![Role::Producer],
            };
            waybill_client::sign(&admin, &chain_id, i as u64 + 1, p)
        })
        .collect();
    setup.push(waybill_client::sign(
        &admin,
        &chain_id,
        o.n_members as u64 + 1,
        Payload::RegisterProduct {
            gtin: gtin.clone(),
            name: "Benchmark oranges".into(),
            brand: "Bench".into(),
            category: "fresh fruit".into(),
            origin_country: "CN".into(),
        },
    ));
    for chunk in setup.chunks(1000) {
        let results = client.submit_batch(chunk, true).await?;
        if let Some(bad) = results.iter().find(|r| r["status"] != "applied") {
            bail!("benchmark setup failed: {bad}");
        }
    }

    // Sign everything before the clock starts: the benchmark measures the node.
    let per_member = o.n_txs / o.n_members;
    let n_txs = per_member * o.n_members;
    let lanes = o.concurrency.max(1);
    let mut lane_txs: Vec<Vec<SignedTx>> = vec![Vec::new(); lanes];
    for s in 1..=per_member as u64 {
        for (i, m) in members.iter().enumerate() {
            let p = Payload::RegisterLot {
                gtin: gtin.clone(),
                lot: format!("B{i}-{s}"),
                origin_gln: None,
                produced_on: "2026-11-21".into(),
                quantity: 1,
                unit: "kg".into(),
            };
            lane_txs[i % lanes].push(waybill_client::sign(m, &chain_id, s, p));
        }
    }

    let sent_at = Arc::new(std::sync::Mutex::new(HashMap::with_capacity(n_txs)));
    let mut commits = shared.commits.subscribe();
    let start_height = shared.head.borrow().height.0;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for txs in lane_txs {
        tasks.push(tokio::spawn(submit_lane(
            client.clone(),
            txs,
            o.batch,
            sent_at.clone(),
        )));
    }
    let mut latencies_ms = Vec::with_capacity(n_txs);
    let mut n_rejected = 0usize;
    let deadline = started + Duration::from_secs(600);
    while latencies_ms.len() < n_txs {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let cb = match tokio::time::timeout(remaining, commits.recv()).await {
            Ok(Ok(cb)) => cb,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                bail!("benchmark missed {n} commit notifications")
            }
            Ok(Err(e)) => bail!("commit notifications ended: {e}"),
            Err(_) => bail!(
                "benchmark timed out after 600 s with {} of {n_txs} committed",
                latencies_ms.len()
            ),
        };
        let now = Instant::now();
        let sent = sent_at.lock().expect("bench lock");
        for (tx, r) in cb.block.txs.iter().zip(cb.receipts.iter()) {
            if let Some(t0) = sent.get(&r.tx_id) {
                latencies_ms.push(now.duration_since(*t0).as_secs_f64() * 1000.0);
                if matches!(r.status, TxStatus::Rejected { .. }) {
                    n_rejected += 1;
                }
            }
            let _ = tx;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    for t in tasks {
        t.await.context("submit task")??;
    }
    let end_height = shared.head.borrow().height.0;
    latencies_ms.sort_by(|a, b| a.total_cmp(b));
    let tps = n_txs as f64 / elapsed;
    let n_blocks = end_height - start_height;
    let result = json!({
        "benchmark": "committed signed transactions, one validator",
        "txs": n_txs,
        "members": o.n_members,
        "batch": o.batch,
        "concurrency": lanes,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "tx_per_s": tps.round(),
        "latency_ms_p50": (percentile(&latencies_ms, 0.5) * 10.0).round() / 10.0,
        "latency_ms_p99": (percentile(&latencies_ms, 0.99) * 10.0).round() / 10.0,
        "latency_ms_max": (latencies_ms.last().copied().unwrap_or(0.0) * 10.0).round() / 10.0,
        "blocks": n_blocks,
        "txs_per_block_mean": (n_txs as u64).checked_div(n_blocks).unwrap_or(0),
        "rejected": n_rejected,
    });
    served.run_shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    if n_rejected > 0 {
        bail!("{n_rejected} benchmark transactions were rejected: {result}");
    }
    if o.json {
        println!("{result}");
    } else {
        println!(
            "committed {n_txs} signed transactions from {} members in {:.2} s: {:.0} tx/s; commit latency p50 {} ms, p99 {} ms; {} blocks",
            o.n_members, elapsed, tps, result["latency_ms_p50"], result["latency_ms_p99"], n_blocks
        );
    }
    Ok(())
}
