//! `waybill bench`: committed signed transactions per second and commit latency.
//!
//! Each run starts a fresh one-validator node (Malachite, redb, the HTTP API) in a
//! temporary directory, registers many members, then measures: every member signs lot
//! registrations (signed before the clock starts), lanes of HTTP requests submit them
//! in batches, and each transaction's latency runs from its batch being sent to its
//! block being committed. The baseline, measured in the same invocation, drives the
//! same transactions through the ledger alone (admission with batch signature
//! verification, execution, redb commit) without HTTP or consensus: the ratio shows
//! what the API and consensus cost.

use waybill_types::payload::{RegisterLot, RegisterMember, RegisterProduct};

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use waybill_client::{Client, KeyFile};
use waybill_gs1::{with_check_digit, Gtin};
use waybill_server::serve::{self, Listen};
use waybill_server::Home;
use waybill_types::{
    GenesisOrganization, OrgId, Payload, Role, SecretKey, SignedTx, TxId, TxStatus,
};

use crate::baseline::SoleValidatorLedger;
use crate::measure::{
    free_port, median, next_commit, percentile, round1, scratch_dir, RUN_TIMEOUT,
};
use crate::workload::{bench_genesis, Workload};
pub use crate::workload::{TxBenchOptions, ORDERS_PER_CAPTURE};

/// Retries of a batch refused as busy.
const BUSY_RETRIES_MAX: usize = 500;

fn workload(o: &TxBenchOptions, n_validators: usize) -> anyhow::Result<Workload> {
    if o.transfers_per_tx > 0 {
        return transfer_workload(o, n_validators);
    }
    if o.orders {
        return crate::orders::order_workload(o, n_validators);
    }
    let admin = SecretKey::generate();
    let validators: Vec<SecretKey> = (0..n_validators).map(|_| SecretKey::generate()).collect();
    let org = OrgId::new("bench-farm")?;
    let genesis = bench_genesis(
        vec![GenesisOrganization {
            id: org.clone(),
            name: "Benchmark Farm".into(),
            admin: admin.public(),
            roles: vec![Role::Producer],
            company_prefixes: vec!["6900001".into()],
        }],
        &validators,
    )?;
    let chain_id = genesis.chain_id.clone();
    let members: Vec<SecretKey> = (0..o.n_members).map(|_| SecretKey::generate()).collect();
    let gtin: Gtin = with_check_digit("0690000100001")?.parse()?;
    let mut setup: Vec<SignedTx> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let p = Payload::RegisterMember(RegisterMember {
                member: m.public(),
                name: format!("bench member {i}"),
                roles: vec![Role::Producer],
            });
            waybill_client::sign(&admin, &chain_id, p)
        })
        .collect();
    setup.push(waybill_client::sign(
        &admin,
        &chain_id,
        Payload::RegisterProduct(RegisterProduct {
            gtin: gtin.clone(),
            name: "Benchmark oranges".into(),
            brand: "Bench".into(),
            category: "fresh fruit".into(),
            origin_country: "CN".into(),
        }),
    ));
    let per_member = o.n_txs / o.n_members;
    let n_lanes = o.concurrency.max(1);
    let mut lanes: Vec<Vec<SignedTx>> = vec![Vec::new(); n_lanes];
    for s in 1..=per_member as u64 {
        for (i, m) in members.iter().enumerate() {
            let p = Payload::RegisterLot(RegisterLot {
                gtin: gtin.clone(),
                lot: format!("B{i}-{s}"),
                origin_gln: None,
                produced_on: "2026-11-21".into(),
                quantity: 1,
                unit: "kg".into(),
                inputs: vec![],
                raw_materials: vec![],
                claims: vec![],
            });
            lanes[i % n_lanes].push(waybill_client::sign(m, &chain_id, p));
        }
    }
    Ok(Workload {
        genesis,
        validators,
        setup: vec![setup],
        lanes,
        n_txs: per_member * o.n_members,
        n_orders: 0,
        tick: None,
    })
}

/// Transfers: one organization with an account per member (no overdraft), funded by a
/// payment provider's deposits; every measured transaction carries
/// `o.transfers_per_tx` transfers from the member's account to the next member's, in
/// groups of five that succeed together: a single-phase transfer; a pending one posted
/// in part; a pending one voided.
fn transfer_workload(o: &TxBenchOptions, n_validators: usize) -> anyhow::Result<Workload> {
    use waybill_types::money::{AccountId, Amount, Currency};
    use waybill_types::payload::money::{AccountFlags, TransferRef, TransferSpec};
    use waybill_types::payload::{Deposit, OpenAccount, Transfers};
    if !o.transfers_per_tx.is_multiple_of(5)
        || o.transfers_per_tx > waybill_types::limits::TRANSFERS_PER_TX_MAX
    {
        bail!(
            "--transfers-per-tx must be a multiple of 5 up to {} (groups of single, pending, post, pending, void)",
            waybill_types::limits::TRANSFERS_PER_TX_MAX
        );
    }
    let admin = SecretKey::generate();
    let bank = SecretKey::generate();
    let validators: Vec<SecretKey> = (0..n_validators).map(|_| SecretKey::generate()).collect();
    let org = OrgId::new("bench-shop")?;
    let genesis = bench_genesis(
        vec![
            GenesisOrganization {
                id: org.clone(),
                name: "Benchmark Shop".into(),
                admin: admin.public(),
                roles: vec![Role::Platform, Role::Financier],
                company_prefixes: vec![],
            },
            GenesisOrganization {
                id: OrgId::new("bench-bank")?,
                name: "Benchmark Bank".into(),
                admin: bank.public(),
                roles: vec![Role::PaymentProvider],
                company_prefixes: vec![],
            },
        ],
        &validators,
    )?;
    let chain_id = genesis.chain_id.clone();
    let cny = Currency::new("CNY")?;
    let members: Vec<SecretKey> = (0..o.n_members).map(|_| SecretKey::generate()).collect();
    let account = |i: usize| AccountId::org(&org, cny, &format!("a{i}"));
    let sign = |k: &SecretKey, p: Payload| waybill_client::sign(k, &chain_id, p);
    let register: Vec<SignedTx> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            sign(
                &admin,
                Payload::RegisterMember(RegisterMember {
                    member: m.public(),
                    name: format!("bench cashier {i}"),
                    roles: vec![Role::Financier],
                }),
            )
        })
        .collect();
    let open: Vec<SignedTx> = (0..o.n_members)
        .map(|i| {
            sign(
                &admin,
                Payload::OpenAccount(OpenAccount {
                    account: account(i),
                    flags: AccountFlags {
                        debits_must_not_exceed_credits: true,
                        ..AccountFlags::default()
                    },
                }),
            )
        })
        .collect();
    let fund: Vec<SignedTx> = (0..o.n_members)
        .map(|i| {
            sign(
                &bank,
                Payload::Deposit(Deposit {
                    id: format!("fund-{i}"),
                    account: account(i),
                    amount: Amount(1_000_000_000_000),
                    reference: format!("BENCH-FUND-{i}"),
                }),
            )
        })
        .collect();
    let per_member = o.n_txs / o.n_members;
    let n_lanes = o.concurrency.max(1);
    let mut lanes: Vec<Vec<SignedTx>> = vec![Vec::new(); n_lanes];
    for s in 0..per_member {
        for (i, m) in members.iter().enumerate() {
            let (from, to) = (account(i), account((i + 1) % o.n_members));
            let mut transfers = Vec::with_capacity(o.transfers_per_tx);
            for g in 0..o.transfers_per_tx / 5 {
                let id = |k: &str| format!("s{s}-g{g}-{k}");
                let pending_of = |k: &str| TransferRef {
                    signer: m.public(),
                    id: id(k),
                };
                transfers.extend([
                    TransferSpec::Single {
                        id: id("single"),
                        debit: from.clone(),
                        credit: to.clone(),
                        amount: Amount(3),
                        reference: None,
                    },
                    TransferSpec::Pending {
                        id: id("escrow"),
                        debit: from.clone(),
                        credit: to.clone(),
                        amount: Amount(5),
                        timeout_ms: 3_600_000,
                        reference: None,
                    },
                    TransferSpec::Post {
                        id: id("post"),
                        pending: pending_of("escrow"),
                        amount: Some(Amount(4)),
                        reference: None,
                    },
                    TransferSpec::Pending {
                        id: id("hold"),
                        debit: from.clone(),
                        credit: to.clone(),
                        amount: Amount(7),
                        timeout_ms: 3_600_000,
                        reference: None,
                    },
                    TransferSpec::Void {
                        id: id("void"),
                        pending: pending_of("hold"),
                    },
                ]);
            }
            lanes[i % n_lanes].push(sign(m, Payload::Transfer(Transfers { transfers })));
        }
    }
    Ok(Workload {
        genesis,
        validators,
        setup: vec![register, open, fund],
        lanes,
        n_txs: per_member * o.n_members,
        n_orders: 0,
        tick: None,
    })
}

/// Submit `txs` in batches, in order; busy refusals are retried after a pause.
async fn submit_lane(
    client: Client,
    txs: Vec<SignedTx>,
    batch: usize,
    sent_at: Arc<std::sync::Mutex<HashMap<TxId, Instant>>>,
    lane_rate_tx_per_s: f64,
) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let mut sent = 0usize;
    for chunk in txs.chunks(batch.max(1)) {
        if lane_rate_tx_per_s > 0.0 {
            // Open-loop pacing: this batch goes out when the lane's schedule says so.
            let due = started + Duration::from_secs_f64(sent as f64 / lane_rate_tx_per_s);
            tokio::time::sleep_until(due).await;
        }
        sent += chunk.len();
        {
            let now = Instant::now();
            let mut m = sent_at.lock().expect("bench lock is never poisoned");
            for t in chunk {
                m.insert(t.id(), now);
            }
        }
        // Refused as busy: resend after a pause.
        let mut pending: Vec<SignedTx> = chunk.to_vec();
        for attempt in 0..BUSY_RETRIES_MAX {
            let results = client.submit_batch(&pending, false).await?;
            let mut again = Vec::new();
            for (tx, r) in pending.iter().zip(&results) {
                match r["error"]["code"].as_str() {
                    None => {}
                    Some("busy") => again.push(tx.clone()),
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

/// One measured run through HTTP and consensus on `o.n_nodes` validators (each a
/// full node in this process, with its own store, ports and API; lanes submit to the
/// nodes in turn; latency is measured to the commit on node 0).
async fn run_network(o: &TxBenchOptions) -> anyhow::Result<Value> {
    let n_nodes = o.n_nodes.max(1);
    let w = workload(o, n_nodes)?;
    let api_ports: Vec<u16> = (0..n_nodes)
        .map(|_| free_port())
        .collect::<anyhow::Result<_>>()?;
    let p2p_ports: Vec<u16> = (0..n_nodes)
        .map(|_| free_port())
        .collect::<anyhow::Result<_>>()?;
    let mut dirs = Vec::new();
    let mut served = Vec::new();
    for i in 0..n_nodes {
        let dir = scratch_dir("bench")?;
        let home = Home::new(&dir);
        KeyFile::write(&home.validator_key(), "bench validator", &w.validators[i])?;
        std::fs::write(home.genesis_path(), serde_json::to_string(&w.genesis)?)?;
        let others: Vec<usize> = (0..n_nodes).filter(|j| *j != i).collect();
        let listen = Listen {
            api: format!("127.0.0.1:{}", api_ports[i]),
            p2p: format!("/ip4/127.0.0.1/tcp/{}", p2p_ports[i]),
            peers: others
                .iter()
                .map(|j| format!("/ip4/127.0.0.1/tcp/{}", p2p_ports[*j]))
                .collect(),
            peer_apis: others
                .iter()
                .map(|j| format!("http://127.0.0.1:{}", api_ports[*j]))
                .collect(),
            byzantine: None,
            tls: None,
        };
        served.push(
            serve::start(&home, listen)
                .await
                .with_context(|| format!("starting benchmark node {i}"))?,
        );
        dirs.push(dir);
    }
    let shared = served[0].node.shared.clone();
    let clients: Vec<Client> = served
        .iter()
        .map(|s| Client::new(&format!("http://{}", s.api_addr)))
        .collect();
    let client = clients[0].clone();
    for chunk in w.setup.iter().flat_map(|phase| phase.chunks(1000)) {
        let results = client.submit_batch(chunk, true).await?;
        if let Some(bad) = results.iter().find(|r| r["status"] != "applied") {
            bail!("benchmark setup failed: {bad}");
        }
    }
    // Every node has the setup before the clock starts.
    let setup_height = shared.head.borrow().height.0;
    for s in &served {
        let mut head = s.node.shared.head.clone();
        tokio::time::timeout(RUN_TIMEOUT, head.wait_for(|h| h.height.0 >= setup_height))
            .await
            .context("a benchmark node did not catch up with the setup")?
            .context("node stopped")?;
    }
    let n_txs = w.n_txs;
    let sent_at = Arc::new(std::sync::Mutex::new(HashMap::with_capacity(n_txs)));
    let mut commits = shared.commits.subscribe();
    let start_height = shared.head.borrow().height.0;
    let started = Instant::now();
    let tasks: Vec<_> = w
        .lanes
        .into_iter()
        .enumerate()
        .map(|(i, txs)| {
            let lane_rate = o.rate_tx_per_s as f64 / o.concurrency.max(1) as f64;
            tokio::spawn(submit_lane(
                clients[i % n_nodes].clone(),
                txs,
                o.batch,
                sent_at.clone(),
                lane_rate,
            ))
        })
        .collect();
    let mut latencies_ms = Vec::with_capacity(n_txs);
    let mut n_rejected = 0usize;
    // (seconds since the start, transactions committed by then), at each block.
    let mut progress: Vec<(f64, usize)> = Vec::new();
    while latencies_ms.len() < n_txs {
        let cb = next_commit(&mut commits, started + RUN_TIMEOUT, || {
            format!(
                "run timed out with {} of {n_txs} committed",
                latencies_ms.len()
            )
        })
        .await?;
        let now = Instant::now();
        let sent = sent_at.lock().expect("bench lock is never poisoned");
        for r in cb.receipts.iter() {
            if let Some(t0) = sent.get(&r.tx_id) {
                latencies_ms.push(now.duration_since(*t0).as_secs_f64() * 1000.0);
                n_rejected += usize::from(matches!(r.status, TxStatus::Rejected { .. }));
            }
        }
        progress.push((
            now.duration_since(started).as_secs_f64(),
            latencies_ms.len(),
        ));
    }
    // Orders settle at the start of the next block (zero return window): it counts.
    if let Some(tick) = &w.tick {
        let r = client.submit(tick, false).await?;
        if r["status"] != "accepted" {
            bail!("the settlement tick was refused: {r}");
        }
        next_commit(&mut commits, started + RUN_TIMEOUT, || {
            "the settlement block never came".to_string()
        })
        .await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    for t in tasks {
        t.await.context("submit task")??;
    }
    let n_blocks = shared.head.borrow().height.0 - start_height;
    drop(shared);
    for s in served {
        s.run_shutdown().await;
    }
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    if n_rejected > 0 {
        bail!("{n_rejected} benchmark transactions were rejected");
    }
    latencies_ms.sort_by(|a, b| a.total_cmp(b));
    let mut out = json!({
        "tx_per_s": (n_txs as f64 / elapsed).round(),
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "latency_ms_p50": round1(percentile(&latencies_ms, 0.5)),
        "latency_ms_p99": round1(percentile(&latencies_ms, 0.99)),
        "blocks": n_blocks,
        "txs": n_txs,
    });
    if w.n_orders > 0 {
        out["orders_per_s"] = json!((w.n_orders as f64 / elapsed).round());
    }
    if n_txs >= 2 * SEGMENT_TXS {
        let (first, last) = first_and_last_segment(&progress, n_txs);
        out["first_100k_tx_per_s"] = json!(first.round());
        out["last_100k_tx_per_s"] = json!(last.round());
    }
    Ok(out)
}

/// The segments a long run compares: its first and its last 100,000 transactions.
const SEGMENT_TXS: usize = 100_000;

/// Throughput over the first and over the last [`SEGMENT_TXS`] committed, from the
/// run's progress (time, committed) at each block: from the start to the first block
/// that reached the first segment's end, and from the last block before the last
/// segment began to the end (block granularity).
fn first_and_last_segment(progress: &[(f64, usize)], n_txs: usize) -> (f64, f64) {
    let at = |pred: &dyn Fn(usize) -> bool| progress.iter().find(|(_, n)| pred(*n)).copied();
    let (t_first, n_first) = at(&|n| n >= SEGMENT_TXS).unwrap_or((f64::NAN, 0));
    let (t_before_last, n_before_last) = progress
        .iter()
        .rev()
        .find(|(_, n)| *n <= n_txs - SEGMENT_TXS)
        .copied()
        .unwrap_or((0.0, 0));
    let (t_end, _) = progress.last().copied().unwrap_or((f64::NAN, 0));
    (
        n_first as f64 / t_first,
        (n_txs - n_before_last) as f64 / (t_end - t_before_last),
    )
}

/// The baseline: the same transactions through the ledger alone (no HTTP, no consensus).
fn run_ledger(o: &TxBenchOptions) -> anyhow::Result<f64> {
    let w = workload(o, 1)?;
    let mut chain = SoleValidatorLedger::open(
        &scratch_dir("bench-baseline")?,
        w.genesis.clone(),
        w.validators[0].clone(),
    )?;
    let shared = chain.shared();
    for chunk in w.setup.iter().flat_map(|phase| phase.chunks(1000)) {
        for r in waybill_node::ledger::submit_batch(
            &shared,
            chunk.iter().map(SignedTx::encode).collect(),
        ) {
            r.map_err(|e| anyhow::anyhow!("baseline setup refused: {e}"))?;
        }
        chain.commit_block()?;
    }
    // Same order the lanes would interleave: round-robin over lanes, batch by batch.
    let mut batches = Vec::new();
    let lane_batches: Vec<Vec<&[SignedTx]>> = w
        .lanes
        .iter()
        .map(|l| l.chunks(o.batch.max(1)).collect())
        .collect();
    let longest = lane_batches.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for lb in &lane_batches {
            if let Some(b) = lb.get(i) {
                batches.push(b.iter().map(SignedTx::encode).collect::<Vec<_>>());
            }
        }
    }
    let started = Instant::now();
    for b in batches {
        // Long runs hold more transactions than a mempool takes: commit blocks first
        // while two blocks' worth are waiting.
        while shared.mempool.len() >= 2 * waybill_types::limits::BLOCK_TXS_MAX {
            chain.commit_block()?;
        }
        for r in waybill_node::ledger::submit_batch(&shared, b) {
            r.map_err(|e| anyhow::anyhow!("baseline transaction refused: {e}"))?;
        }
    }
    while !shared.mempool.is_empty() {
        chain.commit_block()?;
    }
    Ok(w.n_txs as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(o: TxBenchOptions) -> anyhow::Result<()> {
    if o.n_members == 0 || o.n_txs < o.n_members {
        bail!("--txs must be at least --members, and --members at least 1");
    }
    if o.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if o.orders {
        crate::orders::check(&o)?;
    }
    let mut runs = Vec::new();
    let mut baselines = Vec::new();
    for i in 0..o.runs {
        let r = run_network(&o)
            .await
            .with_context(|| format!("benchmark run {}", i + 1))?;
        if !o.json {
            eprintln!("run {}: {r}", i + 1);
        }
        runs.push(r);
        let b = tokio::task::block_in_place(|| run_ledger(&o)).context("baseline run")?;
        if !o.json {
            eprintln!("baseline {}: {:.0} tx/s", i + 1, b);
        }
        baselines.push(b);
    }
    let col = |k: &str| {
        runs.iter()
            .map(|r| r[k].as_f64().unwrap_or(0.0))
            .collect::<Vec<f64>>()
    };
    let tps = median(col("tx_per_s"));
    let baseline = median(baselines.clone());
    let n_txs = if o.orders {
        runs.first().and_then(|r| r["txs"].as_u64()).unwrap_or(0) as usize
    } else {
        (o.n_txs / o.n_members) * o.n_members
    };
    let mut result = json!({
        "benchmark": if o.orders {
            "complete orders over HTTP: placed from a signed intent (escrow), shipped by an EPCIS event, confirmed delivered by the buyer, settled at the next block"
        } else if o.transfers_per_tx > 0 {
            "committed signed transfers over HTTP (every single, pending, post and void counts one)"
        } else {
            "committed signed transactions (lot registrations) over HTTP"
        },
        "validators": o.n_nodes.max(1),
        "offered_rate_tx_per_s": if o.rate_tx_per_s == 0 { json!("unlimited") } else { json!(o.rate_tx_per_s) },
        "txs": n_txs,
        "members": o.n_members,
        "batch": o.batch,
        "concurrency": o.concurrency.max(1),
        "runs": o.runs,
        "tx_per_s_median": tps,
        "latency_ms_p50_median": round1(median(col("latency_ms_p50"))),
        "latency_ms_p99_median": round1(median(col("latency_ms_p99"))),
        "baseline_ledger_only_tx_per_s_median": baseline.round(),
        "ratio_to_baseline": (tps / baseline * 100.0).round() / 100.0,
        "per_run": runs,
        "baseline_per_run": baselines.iter().map(|b| b.round()).collect::<Vec<_>>(),
    });
    let k = o.transfers_per_tx as f64;
    if o.transfers_per_tx > 0 {
        result["transfers_per_tx"] = json!(o.transfers_per_tx);
        result["transfers"] = json!(n_txs * o.transfers_per_tx);
        result["transfers_per_s_median"] = json!((tps * k).round());
        result["baseline_ledger_only_transfers_per_s_median"] = json!((baseline * k).round());
    }
    if o.orders {
        let n_orders = (o.n_txs / o.n_members) * o.n_members;
        let orders_per_s = median(col("orders_per_s"));
        result["orders"] = json!(n_orders);
        result["orders_per_s_median"] = json!(orders_per_s.round());
        // Each order is two transactions and 1/ORDERS_PER_CAPTURE of a capture.
        let tx_per_order = 2.0 + 1.0 / ORDERS_PER_CAPTURE as f64;
        result["baseline_ledger_only_orders_per_s_median"] =
            json!((baseline / tx_per_order).round());
    }
    if o.json {
        println!("{result}");
    } else if o.orders {
        println!(
            "{} complete orders (placed, shipped by an EPCIS event, delivered, settled) from {} buyers: median {} orders/s \
over {} runs; commit latency p50 {} ms, p99 {} ms; ledger-only baseline {} orders/s (ratio {})",
            result["orders"], o.n_members, result["orders_per_s_median"], o.runs,
            result["latency_ms_p50_median"], result["latency_ms_p99_median"],
            result["baseline_ledger_only_orders_per_s_median"], result["ratio_to_baseline"]
        );
    } else if o.transfers_per_tx > 0 {
        println!(
            "committed {} signed transfers in {n_txs} transactions of {} from {} members: median {:.0} transfers/s \
over {} runs; commit latency p50 {} ms, p99 {} ms; ledger-only baseline {:.0} transfers/s (ratio {})",
            n_txs * o.transfers_per_tx,
            o.transfers_per_tx,
            o.n_members,
            tps * k,
            o.runs,
            result["latency_ms_p50_median"],
            result["latency_ms_p99_median"],
            baseline * k,
            result["ratio_to_baseline"]
        );
    } else {
        println!(
            "committed {n_txs} signed transactions from {} members: median {tps:.0} tx/s over {} runs; \
commit latency p50 {} ms, p99 {} ms; ledger-only baseline {baseline:.0} tx/s (ratio {})",
            o.n_members, o.runs, result["latency_ms_p50_median"], result["latency_ms_p99_median"], result["ratio_to_baseline"]
        );
    }
    Ok(())
}
