//! Prometheus metrics, rendered by hand in the text exposition format (a handful
//! of counters and gauges do not justify a metrics crate).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Buckets of the commit-time and finality-latency histograms, in ms.
const BUCKETS_MS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS_MS.len()],
    sum: f64,
    n: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.n += 1;
    }
    fn render(&self, name: &str, help: &str, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", self.counts[i]);
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
            self.n, self.sum, self.n
        );
    }
}

/// The node's metrics.
#[derive(Default)]
pub struct Metrics {
    height: AtomicU64,
    txs_committed: AtomicU64,
    mempool_txs: AtomicU64,
    peers: AtomicU64,
    txs_rejected_at_submit: AtomicU64,
    commit_ms: Mutex<Histogram>,
    finality_ms: Mutex<Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metrics(height={})", self.height.load(Ordering::Relaxed))
    }
}

impl Metrics {
    /// Set the committed height.
    pub fn set_height(&self, h: u64) {
        self.height.store(h, Ordering::Relaxed);
    }
    /// Count committed transactions.
    pub fn add_committed(&self, n: u64) {
        self.txs_committed.fetch_add(n, Ordering::Relaxed);
    }
    /// Set the mempool size.
    pub fn set_mempool(&self, n: u64) {
        self.mempool_txs.store(n, Ordering::Relaxed);
    }
    /// Set the number of connected peers.
    pub fn set_peers(&self, n: u64) {
        self.peers.store(n, Ordering::Relaxed);
    }
    /// Count a transaction refused at submission.
    pub fn add_rejected_at_submit(&self, n: u64) {
        self.txs_rejected_at_submit.fetch_add(n, Ordering::Relaxed);
    }
    /// Record how long a block's storage commit took.
    pub fn observe_commit_ms(&self, ms: f64) {
        self.commit_ms
            .lock()
            .expect("metrics lock is never held across a panic")
            .observe(ms);
    }
    /// Record how long after its proposal (block time) a block was committed here.
    pub fn observe_finality_ms(&self, ms: f64) {
        self.finality_ms
            .lock()
            .expect("metrics lock is never held across a panic")
            .observe(ms);
    }
    /// Committed transactions so far.
    pub fn txs_committed(&self) -> u64 {
        self.txs_committed.load(Ordering::Relaxed)
    }
    /// Connected peers.
    pub fn peers(&self) -> u64 {
        self.peers.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, mempool_txs: u64) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, v: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        };
        gauge(
            &mut out,
            "waybill_height",
            "Height of the last committed block.",
            "gauge",
            self.height.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "waybill_txs_committed_total",
            "Transactions committed since start.",
            "counter",
            self.txs_committed(),
        );
        gauge(
            &mut out,
            "waybill_mempool_txs",
            "Transactions waiting in the mempool.",
            "gauge",
            mempool_txs,
        );
        gauge(
            &mut out,
            "waybill_peers",
            "Connected consensus peers.",
            "gauge",
            self.peers(),
        );
        gauge(
            &mut out,
            "waybill_txs_refused_at_submit_total",
            "Transactions refused at submission (malformed, bad signature, bad sequence, busy).",
            "counter",
            self.txs_rejected_at_submit.load(Ordering::Relaxed),
        );
        self.commit_ms
            .lock()
            .expect("metrics lock is never held across a panic")
            .render(
                "waybill_block_commit_ms",
                "Time to commit a block to storage, ms.",
                &mut out,
            );
        self.finality_ms
            .lock()
            .expect("metrics lock is never held across a panic")
            .render(
                "waybill_finality_ms",
                "Time from a block's proposal (its block time) to its commit on this node, ms.",
                &mut out,
            );
        out
    }
}
