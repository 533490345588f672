//! What every workload shares: free ports, scratch directories, waiting for commits,
//! repeated runs and the statistics reported (percentiles, medians).

use anyhow::{bail, Context as _};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Longest one measured run may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// The next committed block, or an error: missed notifications, the node gone, or
/// `deadline` passed (`timed_out` says how far the run got).
pub async fn next_commit(
    commits: &mut tokio::sync::broadcast::Receiver<waybill_node::ledger::CommittedBlock>,
    deadline: Instant,
    timed_out: impl FnOnce() -> String,
) -> anyhow::Result<waybill_node::ledger::CommittedBlock> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(remaining, commits.recv()).await {
        Ok(Ok(cb)) => Ok(cb),
        Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
            bail!("benchmark missed {n} commit notifications")
        }
        Ok(Err(e)) => bail!("commit notifications ended: {e}"),
        Err(_) => bail!("{}", timed_out()),
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The `p` quantile (0 to 1) of `sorted`, nearest rank; 0 for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    percentile(&v, 0.5)
}

/// `x` rounded to one decimal.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The median over `runs` of the number at JSON pointer `ptr` (0 where missing).
pub fn median_at(runs: &[Value], ptr: &str) -> f64 {
    median(
        runs.iter()
            .map(|r| r.pointer(ptr).and_then(Value::as_f64).unwrap_or(0.0))
            .collect(),
    )
}

/// `once`, `runs` times in a row (each result printed to stderr unless `json`).
pub async fn repeat_runs<F, Fut>(runs: usize, json: bool, mut once: F) -> anyhow::Result<Vec<Value>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Value>>,
{
    let mut out = Vec::with_capacity(runs);
    for i in 0..runs {
        let r = once()
            .await
            .with_context(|| format!("benchmark run {}", i + 1))?;
        if !json {
            eprintln!("run {}: {r}", i + 1);
        }
        out.push(r);
    }
    Ok(out)
}

/// A fresh scratch directory under the system's temporary directory, unique in this
/// process (the caller removes it when done).
pub fn scratch_dir(tag: &str) -> anyhow::Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("waybill-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)
        .with_context(|| format!("cannot create the scratch directory {}", d.display()))?;
    Ok(d)
}
