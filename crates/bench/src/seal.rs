//! `waybill bench --workload seal`: sealing and opening a field (docs/PRIVACY.md),
//! per core and on every core, against the cost of what a client already does for
//! each transaction — signing it with Ed25519 — measured in the same run.
//!
//! A sealed field here is a price (`{"amount": "1250.00", "currency": "CNY"}`) sealed
//! for `recipients` organizations (default 3: seller, buyer, regulator): one
//! ChaCha20-Poly1305 encryption and one HPKE wrap (an X25519 key generation and
//! Diffie-Hellman) per recipient. Opening is one HPKE unwrap and one decryption.

use std::time::Instant;

use anyhow::Context as _;
use serde_json::{json, Value};
use waybill_types::seal::{seal, OrgSecret, Place, Recipient, SealSecretKey, Sealed};
use waybill_types::{DataCategory, OrgId, SecretKey};

use crate::measure::median_at;

/// What one invocation measures.
#[derive(Clone, Debug)]
pub struct SealBenchOptions {
    /// Seals (and opens, and signatures) timed per run.
    pub reps: usize,
    /// Organizations each field is sealed for.
    pub recipients: usize,
    /// Measured runs (medians are reported).
    pub runs: usize,
    /// One JSON object instead of text.
    pub json: bool,
}

const CHAIN: &str = "waybill-bench";
const RECORD: &str = "urn:uuid:6f1a8c1e-0c1b-4e0a-9f5b-1d2c3b4a5e6f";

fn place() -> Place<'static> {
    Place {
        chain_id: CHAIN,
        record: RECORD,
        field: "/wb:purchasePrice",
        category: DataCategory::Financial,
    }
}

fn per_s(n: usize, started: Instant) -> f64 {
    (n as f64 / started.elapsed().as_secs_f64()).round()
}

fn seal_n(n: usize, value: &Value, to: &[Recipient]) -> anyhow::Result<Vec<Sealed>> {
    (0..n)
        .map(|_| seal(&place(), value, to, &mut rand_core::OsRng).context("sealing"))
        .collect()
}

fn run_once(o: &SealBenchOptions) -> anyhow::Result<Value> {
    let value = json!({"amount": "1250.00", "currency": "CNY"});
    let (secrets, recipients): (Vec<OrgSecret>, Vec<Recipient>) = (0..o.recipients.max(1))
        .map(|i| {
            let org = OrgId::new(&format!("org-{i}"))?;
            let (secret, key) = SealSecretKey::generate(&mut rand_core::OsRng);
            Ok((
                OrgSecret {
                    org: org.clone(),
                    kv: 1,
                    secret,
                },
                Recipient { org, kv: 1, key },
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .unzip();

    let started = Instant::now();
    let sealed = seal_n(o.reps, &value, &recipients)?;
    let seal_one = per_s(o.reps, started);

    let keys = &secrets[..1];
    let started = Instant::now();
    for s in &sealed {
        let opened = s.open(CHAIN, keys).context("opening")?;
        anyhow::ensure!(opened.value == value, "opened a different value");
    }
    let open_one = per_s(o.reps, started);

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cores)
            .map(|_| scope.spawn(|| seal_n(o.reps, &value, &recipients).map(|v| v.len())))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a sealing thread panicked"))?
            })
            .sum::<anyhow::Result<usize>>()
    })?;
    let seal_all = per_s(o.reps * cores, started);

    // Baseline: signing a transaction, what a client does for every one it sends.
    let key = SecretKey::generate();
    let tx = waybill_client::sign_with(
        &key,
        CHAIN,
        1,
        u64::MAX,
        waybill_types::Payload::RegisterSealKey(waybill_types::payload::RegisterSealKey {
            version: 1,
            key: recipients[0].key,
        }),
    );
    let started = Instant::now();
    for i in 0..o.reps {
        let mut t = tx.tx.clone();
        t.nonce = i as u64;
        std::hint::black_box(t.sign(&key));
    }
    let sign_one = per_s(o.reps, started);

    Ok(json!({
        "seal_per_s_one_core": seal_one,
        "open_per_s_one_core": open_one,
        "seal_per_s_all_cores": seal_all,
        "cores": cores,
        "baseline_sign_tx_per_s_one_core": sign_one,
    }))
}

/// Run the benchmark and print its figures.
pub fn run(o: SealBenchOptions) -> anyhow::Result<()> {
    let runs: Vec<Value> = (0..o.runs.max(1))
        .map(|_| run_once(&o))
        .collect::<anyhow::Result<_>>()?;
    let seal_one = median_at(&runs, "/seal_per_s_one_core");
    let open_one = median_at(&runs, "/open_per_s_one_core");
    let seal_all = median_at(&runs, "/seal_per_s_all_cores");
    let sign_one = median_at(&runs, "/baseline_sign_tx_per_s_one_core");
    let out = json!({
        "benchmark": "sealing and opening a field (HPKE X25519 wraps, ChaCha20-Poly1305)",
        "recipients": o.recipients.max(1),
        "reps": o.reps,
        "runs": runs.len(),
        "seal_per_s_one_core_median": seal_one,
        "open_per_s_one_core_median": open_one,
        "seal_per_s_all_cores_median": seal_all,
        "baseline_sign_tx_per_s_one_core_median": sign_one,
        "seal_cost_in_signatures": ((sign_one / seal_one) * 100.0).round() / 100.0,
        "open_cost_in_signatures": ((sign_one / open_one) * 100.0).round() / 100.0,
        "per_run": runs,
    });
    if o.json {
        println!("{out}");
    } else {
        println!(
            "sealing a field for {} organizations: {seal_one} seals/s on one core, {seal_all} on all cores; opening: {open_one}/s on one core\n\
             baseline, signing a transaction: {sign_one}/s on one core — a seal costs {} signatures, an open {}",
            o.recipients.max(1),
            out["seal_cost_in_signatures"],
            out["open_cost_in_signatures"],
        );
    }
    Ok(())
}
