//! Prometheus metrics, rendered by hand in the text exposition format (version 0.0.4):
//! a handful of counters, gauges and histograms do not justify a metrics crate.
//!
//! Units are base units, last in the name (`_seconds`, `_bytes`); counters end in
//! `_total`; every family has `# HELP` and `# TYPE`; label values are escaped
//! ([`escape_label_value`]). [`Families`] holds labelled series with a bound on how
//! many there may be; [`Histogram`] buckets observations in seconds. The API adds its
//! HTTP families with the same parts; [`process_metrics`] reads `/proc/self`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Buckets of the duration histograms, in seconds.
pub const DURATION_BUCKETS_SECONDS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Most series one labelled family keeps; observations for more label sets are
/// counted under the label value [`OVERFLOW_LABEL`].
pub const SERIES_PER_FAMILY_MAX: usize = 512;

/// The label value that stands for every label set past [`SERIES_PER_FAMILY_MAX`].
pub const OVERFLOW_LABEL: &str = "other";

/// A label value escaped for the text format: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `{a="x",b="y"}` for `names` and `values` (empty for no labels).
pub fn label_set(names: &[&str], values: &[String]) -> String {
    assert_eq!(names.len(), values.len(), "one value per label name");
    if names.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape_label_value(v)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// `# HELP` and `# TYPE` of a family (`help` must be one line).
pub fn write_header(out: &mut String, name: &str, help: &str, kind: &str) {
    assert!(!help.contains('\n'), "HELP of {name} is one line");
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A histogram over [`DURATION_BUCKETS_SECONDS`].
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    counts: [u64; DURATION_BUCKETS_SECONDS.len()],
    sum: f64,
    n: u64,
}

impl Histogram {
    /// Count an observation of `v` seconds.
    pub fn observe(&mut self, v: f64) {
        for (i, b) in DURATION_BUCKETS_SECONDS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.n += 1;
    }

    /// The samples of series `labels` (a [`label_set`] without braces, or empty).
    pub fn render_series(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in DURATION_BUCKETS_SECONDS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.n);
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{braces} {}\n{name}_count{braces} {}",
            self.sum, self.n
        );
    }
}

/// Labelled series of one family, at most [`SERIES_PER_FAMILY_MAX`].
#[derive(Debug)]
pub struct Families<T> {
    series: Mutex<BTreeMap<Vec<String>, T>>,
}

impl<T> Default for Families<T> {
    fn default() -> Self {
        Families {
            series: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<T: Default + Clone> Families<T> {
    /// Update the series of `values` with `f` (past the bound, the overflow series).
    pub fn update(&self, values: Vec<String>, f: impl FnOnce(&mut T)) {
        let mut m = self
            .series
            .lock()
            .expect("metrics lock is never held across a panic");
        let key = if m.len() >= SERIES_PER_FAMILY_MAX && !m.contains_key(&values) {
            vec![OVERFLOW_LABEL.to_string(); values.len()]
        } else {
            values
        };
        f(m.entry(key).or_default());
    }

    /// Every series, in label order.
    pub fn snapshot(&self) -> Vec<(Vec<String>, T)> {
        self.series
            .lock()
            .expect("metrics lock is never held across a panic")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Render a labelled counter family.
pub fn render_counters(
    out: &mut String,
    name: &str,
    help: &str,
    label_names: &[&str],
    f: &Families<u64>,
) {
    write_header(out, name, help, "counter");
    for (values, v) in f.snapshot() {
        let _ = writeln!(out, "{name}{} {v}", label_set(label_names, &values));
    }
}

/// The node's metrics.
#[derive(Default)]
pub struct Metrics {
    height: AtomicU64,
    txs_committed: AtomicU64,
    blocks_built_ahead: AtomicU64,
    mempool_txs: AtomicU64,
    peers: AtomicU64,
    refused_at_submit: Families<u64>,
    rejected: Families<u64>,
    commit_seconds: Mutex<Histogram>,
    finality_seconds: Mutex<Histogram>,
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
    /// Count a block proposed as it was built ahead, during the previous commit.
    pub fn add_prebuilt_block(&self) {
        self.blocks_built_ahead.fetch_add(1, Ordering::Relaxed);
    }
    /// Blocks proposed as built ahead so far.
    pub fn blocks_built_ahead(&self) -> u64 {
        self.blocks_built_ahead.load(Ordering::Relaxed)
    }
    /// Set the mempool size.
    pub fn set_mempool(&self, n: u64) {
        self.mempool_txs.store(n, Ordering::Relaxed);
    }
    /// Set the number of connected peers.
    pub fn set_peers(&self, n: u64) {
        self.peers.store(n, Ordering::Relaxed);
    }
    /// Count a transaction refused at submission, by its stable code.
    pub fn add_refused_at_submit(&self, reason: &str) {
        self.refused_at_submit
            .update(vec![reason.to_string()], |v| *v += 1);
    }
    /// Count a committed transaction whose receipt rejects it, by its stable code.
    pub fn add_rejected(&self, reason: &str) {
        self.rejected.update(vec![reason.to_string()], |v| *v += 1);
    }
    /// Record how long a block's storage commit took, in seconds.
    pub fn observe_commit_seconds(&self, seconds: f64) {
        self.commit_seconds
            .lock()
            .expect("metrics lock is never held across a panic")
            .observe(seconds);
    }
    /// Record how long after its proposal (block time) a block was committed here,
    /// in seconds.
    pub fn observe_finality_seconds(&self, seconds: f64) {
        self.finality_seconds
            .lock()
            .expect("metrics lock is never held across a panic")
            .observe(seconds);
    }
    /// Committed transactions so far.
    pub fn txs_committed(&self) -> u64 {
        self.txs_committed.load(Ordering::Relaxed)
    }
    /// Connected peers.
    pub fn peers(&self) -> u64 {
        self.peers.load(Ordering::Relaxed)
    }

    /// The node's families in the Prometheus text exposition, with the build and
    /// process families.
    pub fn render(&self, mempool_txs: u64) -> String {
        let mut out = String::new();
        let mut one = |name: &str, help: &str, kind: &str, v: u64| {
            write_header(&mut out, name, help, kind);
            let _ = writeln!(out, "{name} {v}");
        };
        one(
            "waybill_height",
            "Height of the last committed block.",
            "gauge",
            self.height.load(Ordering::Relaxed),
        );
        one(
            "waybill_txs_committed_total",
            "Transactions committed since start.",
            "counter",
            self.txs_committed(),
        );
        one(
            "waybill_blocks_built_ahead_total",
            "Blocks proposed as built during the previous block's commit (the pipeline).",
            "counter",
            self.blocks_built_ahead(),
        );
        one(
            "waybill_mempool_txs",
            "Transactions waiting in the mempool.",
            "gauge",
            mempool_txs,
        );
        one(
            "waybill_peers",
            "Connected consensus peers.",
            "gauge",
            self.peers(),
        );
        self.render_outcomes(&mut out);
        self.render_histograms(&mut out);
        render_build_info(&mut out);
        process_metrics(&mut out);
        out
    }

    fn render_outcomes(&self, out: &mut String) {
        render_counters(
            out,
            "waybill_txs_refused_at_submit_total",
            "Transactions refused at submission (never in a block), by stable code.",
            &["reason"],
            &self.refused_at_submit,
        );
        render_counters(
            out,
            "waybill_txs_rejected_total",
            "Transactions committed with a rejected receipt since start, by stable code.",
            &["reason"],
            &self.rejected,
        );
    }

    fn render_histograms(&self, out: &mut String) {
        let name = "waybill_block_commit_seconds";
        write_header(out, name, "Time to commit a block to storage.", "histogram");
        self.commit_seconds
            .lock()
            .expect("metrics lock is never held across a panic")
            .render_series(name, "", out);
        let name = "waybill_finality_seconds";
        write_header(
            out,
            name,
            "Time from a block's proposal (its block time) to its commit on this node.",
            "histogram",
        );
        self.finality_seconds
            .lock()
            .expect("metrics lock is never held across a panic")
            .render_series(name, "", out);
    }
}

/// `waybill_build_info{version="…",commit="…"} 1` (the commit when the build set
/// `WAYBILL_GIT_COMMIT`).
fn render_build_info(out: &mut String) {
    write_header(
        out,
        "waybill_build_info",
        "The running build: its version (and commit, when known). Always 1.",
        "gauge",
    );
    let mut names = vec!["version"];
    let mut values = vec![env!("CARGO_PKG_VERSION").to_string()];
    if let Some(commit) = option_env!("WAYBILL_GIT_COMMIT") {
        names.push("commit");
        values.push(commit.to_string());
    }
    let _ = writeln!(out, "waybill_build_info{} 1", label_set(&names, &values));
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on the Linux
/// architectures we run on; the kernel converts to it whatever its internal rate).
const USER_HZ: f64 = 100.0;

/// Most entries of `/proc/self/fd` counted (a bound on the read, far above any
/// connection limit).
const FDS_COUNTED_MAX: usize = 1 << 20;

/// The standard process families, read from `/proc/self` (Linux): CPU seconds,
/// resident and virtual memory bytes, open and maximum file descriptors, start time.
/// Families that cannot be read (another OS) are left out.
pub fn process_metrics(out: &mut String) {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .as_deref()
        .and_then(|s| s.rsplit_once(')'))
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let mut put = |name: &str, help: &str, kind: &str, v: Option<f64>| {
        if let Some(v) = v {
            write_header(out, name, help, kind);
            let _ = writeln!(out, "{name} {v}");
        }
    };
    // stat fields (proc(5)): 14 utime, 15 stime, 22 starttime (ticks), 23 vsize (bytes).
    let cpu = field(14).zip(field(15)).map(|(u, s)| (u + s) / USER_HZ);
    put(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        "counter",
        cpu,
    );
    let status = std::fs::read_to_string("/proc/self/status").ok();
    let rss = status
        .as_deref()
        .and_then(|s| status_kib(s, "VmRSS:"))
        .map(|k| k * 1024.0);
    put(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        "gauge",
        rss,
    );
    put(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        "gauge",
        field(23),
    );
    let fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.take(FDS_COUNTED_MAX).count() as f64);
    put(
        "process_open_fds",
        "Number of open file descriptors.",
        "gauge",
        fds,
    );
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| max_open_files(&l));
    put(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        "gauge",
        max_fds,
    );
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    let start = boot.zip(field(22)).map(|(b, t)| b + t / USER_HZ);
    put(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        "gauge",
        start,
    );
}

/// A `/proc/self/status` line `KEY: N kB`, as N.
fn status_kib(status: &str, key: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<f64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            escape_label_value(
                r#"a"b\c
d"#
            ),
            r#"a\"b\\c\nd"#
        );
        assert_eq!(
            label_set(&["route", "status"], &["/x/{id}".into(), "200".into()]),
            r#"{route="/x/{id}",status="200"}"#
        );
    }

    #[test]
    fn families_are_bounded() {
        let f: Families<u64> = Families::default();
        for i in 0..SERIES_PER_FAMILY_MAX + 10 {
            f.update(vec![format!("r{i}")], |v| *v += 1);
        }
        let s = f.snapshot();
        assert_eq!(s.len(), SERIES_PER_FAMILY_MAX + 1);
        let other = s
            .iter()
            .find(|(k, _)| k[0] == OVERFLOW_LABEL)
            .expect("overflow");
        assert_eq!(other.1, 10);
    }

    #[test]
    fn process_families_are_read_on_linux() {
        let mut out = String::new();
        process_metrics(&mut out);
        if cfg!(target_os = "linux") {
            for f in [
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_open_fds",
                "process_max_fds",
                "process_start_time_seconds",
            ] {
                assert!(out.contains(&format!("# TYPE {f} ")), "{f} in:\n{out}");
            }
        }
    }
}
