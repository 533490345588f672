//! `waybill bench --workload consumer`: the consumer page behind a QR code and its
//! proof bundle, for a product with a 200-event public history — served by the node,
//! and verified in a browser.
//!
//! Each run starts a fresh one-validator node (Malachite, redb, the HTTP API) in a
//! temporary directory with five organizations — a farm, a packing plant, a carrier, a
//! distribution centre and customs — their members, sites, products and lots, then
//! captures (`POST /epcis/capture`, signed by each organization's member, one capture
//! committed before the next is sent) the history of one serialised carton: the lot
//! harvested at the farm, received at the plant and transformed into cartons; the
//! carton packed on a pallet, inspected by export customs, staged and shipped; a
//! reefer journey of 190 hourly transporting/arriving/departing events on the pallet,
//! each with four to six temperature readings and the declared allowed range (by
//! default one capture per hour, as a truck's telematics would post them, so each hour
//! is its own block and the bundle carries one certified header per hour); the arrival,
//! import inspection, receiving and unpacking at the distribution centre; the carton
//! stored, picked, shipped, carried and handed to the customer. None of that is timed.
//!
//! The bundle is fetched once and checked: its `event` records must be the whole
//! history (at least 200), and it must verify (`waybill_types::proof::verify`) against
//! the consortium fingerprint. Then:
//!
//! 1. At the node: `GET /01/{gtin}/21/{serial}?wb={fingerprint}` (the page, which
//!    embeds the bundle) and `GET /v1/proofs/01/{gtin}/21/{serial}` (the bundle alone),
//!    each timed from the request written to the last byte of the answer read, on a
//!    kept-alive connection. Baselines in the same run: `proofs::build_bundle` in
//!    process on the node's state (what both answers start with), and `GET /v1/status`
//!    on the same connection (the HTTP floor).
//! 2. In a browser: headless Chromium loads the page (a fresh profile each time) and
//!    its scripts verify the bundle with WebCrypto; the dumped DOM must show the badge
//!    `data-state="verified"`, and `<body data-verify-ms>` is the time the page took
//!    from parsing the bundle to drawing the verified history.

use anyhow::{bail, ensure, Context as _};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use waybill_client::Client;
use waybill_types::proof::{self, ProofBundle};

use crate::epcis::{
    bt, carton_out, check_job, document, giai, lot_into_cartons, merge, ms, object_event,
    pallet_in, pallet_out, sensor_log, setup, sgln, site, sscc, start_node, stats, trace_carton,
    Kind, RawHttp, CARRIER, CUSTOMS, MIN, TRACE_T0_MS,
};
use crate::measure::{median, median_at, repeat_runs, round1, scratch_dir};

/// What `waybill bench --workload consumer` runs.
pub struct ConsumerBenchOptions {
    /// Timed requests per URL per run.
    pub reps: usize,
    /// Browser loads of the page per run.
    pub browser_loads: usize,
    /// Hourly journey events per captured document (1: one capture, one block, per hour).
    pub journey_doc_events: usize,
    pub runs: usize,
    pub json: bool,
}

/// Hours of the reefer journey (one event each).
const JOURNEY_HOURS: usize = 190;
/// Cartons the lot becomes, all on the one pallet.
const CARTONS: usize = 48;
/// The carton whose page is measured.
const SUBJECT: usize = 7;
const PALLET_SERIAL: u64 = 8_000_000_001;
/// The public history must have at least this many events.
const HISTORY_EVENTS_MIN: usize = 200;
/// The documents' creationDate: after the last event (12 days after the harvest).
const CREATED_MS: i64 = TRACE_T0_MS + 12 * 86_400_000;
/// Untimed requests before the timed ones.
const WARMUP: usize = 3;
/// Longest one browser load may take before Chromium is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);
/// Virtual time Chromium gives the page's scripts before it dumps the DOM.
const VIRTUAL_TIME_BUDGET_MS: u32 = 15_000;

/// A customs inspection of `pallet` at customs site `site_no`.
fn inspection(t: i64, pallet: &str, site_no: u32, result: &str) -> Value {
    object_event(
        t,
        ["OBSERVE", "inspecting", "conformant"],
        &[pallet.to_string()],
        (
            &sgln(CUSTOMS, site_no, "1"),
            Some(&site(Kind::Customs, site_no)),
        ),
        json!({ "wb:result": result }),
    )
}

/// The reefer journey of `pallet` by truck, departing at `t`: a departure, an event
/// an hour for [`JOURNEY_HOURS`] hours (stops every two days: arriving, then departing
/// an hour later), each with the last hour's readings (four to six, temperature and
/// humidity) and the allowed temperature range, and the arrival at the carrier's
/// second site. The carrier's events.
fn journey(pallet: &str, t: i64) -> Vec<Value> {
    let pal = [pallet.to_string()];
    let truck = giai(Kind::Carrier, "TRK0900");
    let allowed = json!({ "wb:allowedTemperature": { "wb:min": 2, "wb:max": 8, "wb:uom": "CEL" } });
    let mut out = Vec::with_capacity(JOURNEY_HOURS + 2);
    let mut x = json!({ "bizTransactionList": [
        { "type": "bol", "bizTransaction": bt(Kind::Carrier, "BOL-C0001") }
    ]});
    merge(&mut x, allowed.clone());
    out.push(object_event(
        t,
        ["OBSERVE", "departing", "in_transit"],
        &pal,
        (&truck, Some(&site(Kind::Carrier, 1))),
        x,
    ));
    for h in 1..=JOURNEY_HOURS {
        let th = t + h as i64 * 60 * MIN;
        let step = match h % 48 {
            0 => "arriving",
            1 if h > 1 => "departing",
            _ => "transporting",
        };
        let n = 4 + h % 3;
        let mut x = sensor_log(
            th - 60 * MIN,
            (n, 60 * MIN / n as i64),
            &giai(Kind::Carrier, "TL40117"),
            h as u64,
        );
        merge(&mut x, allowed.clone());
        out.push(object_event(
            th,
            ["OBSERVE", step, "in_transit"],
            &pal,
            (&truck, None),
            x,
        ));
    }
    out.push(object_event(
        t + (JOURNEY_HOURS as i64 + 1) * 60 * MIN,
        ["OBSERVE", "arriving", "in_transit"],
        &pal,
        (&sgln(CARRIER, 2, "1"), Some(&site(Kind::Carrier, 2))),
        allowed,
    ));
    out
}

/// The carton's history as captures, in order: `(capturer, events)`.
fn history(journey_doc_events: usize) -> Vec<(Kind, Vec<Value>)> {
    let t = TRACE_T0_MS;
    let cartons: Vec<String> = (0..CARTONS).map(trace_carton).collect();
    let pallet = sscc(PALLET_SERIAL);
    let (harvest, plant) = lot_into_cartons(t, &cartons);
    let tp = t + 450 * MIN;
    let [packed, staged, shipped] = pallet_out(0, &pallet, &cartons, tp);
    let mut out = vec![
        (Kind::Farm, vec![harvest]),
        (Kind::Packer, Vec::from(plant)),
        (Kind::Packer, vec![packed]),
        (
            Kind::Customs,
            vec![inspection(
                tp + 20 * MIN,
                &pallet,
                1,
                "released for export; seal applied",
            )],
        ),
        (Kind::Packer, vec![staged, shipped]),
    ];
    let trip = journey(&pallet, tp + 90 * MIN);
    let arrived = tp + 90 * MIN + (JOURNEY_HOURS as i64 + 1) * 60 * MIN;
    out.extend(
        trip.chunks(journey_doc_events.max(1))
            .map(|c| (Kind::Carrier, c.to_vec())),
    );
    out.push((
        Kind::Customs,
        vec![inspection(arrived + 30 * MIN, &pallet, 2, "import cleared")],
    ));
    let unpacked = arrived + 120 * MIN;
    out.push((
        Kind::Dc,
        Vec::from(pallet_in(0, &pallet, &cartons, unpacked - 60 * MIN)),
    ));
    let (at_dc, by_carrier) = carton_out(SUBJECT, unpacked + 60 * MIN);
    out.push((Kind::Dc, Vec::from(at_dc)));
    out.push((Kind::Carrier, Vec::from(by_carrier)));
    out
}

/// Capture the history, each document committed before the next is sent: the number
/// of events and of captures.
async fn capture_history(
    client: &Client,
    tracers: &HashMap<Kind, waybill_types::SecretKey>,
    chain_id: &str,
    journey_doc_events: usize,
) -> anyhow::Result<(usize, usize)> {
    let captures = history(journey_doc_events);
    let n_captures = captures.len();
    let mut n_events = 0;
    for (kind, events) in captures {
        let n = events.len();
        let key = tracers
            .get(&kind)
            .with_context(|| format!("no member of {}", kind.org()))?;
        let job = client
            .capture(key, chain_id, document(CREATED_MS, events), true)
            .await
            .with_context(|| format!("capturing the carton's history as {}", kind.org()))?;
        check_job(&job, n)?;
        n_events += n;
    }
    Ok((n_events, n_captures))
}

/// `GET path` `1 + reps` times on `raw` (the first, and [`WARMUP`] more, untimed); every
/// answer must be 200 with the same body length. The timings (ms) and the body.
async fn time_get(
    raw: &mut RawHttp,
    path: &str,
    reps: usize,
) -> anyhow::Result<(Vec<f64>, Vec<u8>)> {
    let (status, first) = raw.get(path, None).await?;
    ensure!(
        status == 200,
        "GET {path} answered {status}: {}",
        String::from_utf8_lossy(&first[..first.len().min(300)])
    );
    let mut times = Vec::with_capacity(reps);
    for i in 0..WARMUP + reps {
        let t = Instant::now();
        let (status, body) = raw.get(path, None).await?;
        let elapsed = ms(t.elapsed());
        ensure!(
            status == 200 && body.len() == first.len(),
            "GET {path} changed: {status}, {} bytes instead of {}",
            body.len(),
            first.len()
        );
        if i >= WARMUP {
            times.push(elapsed);
        }
    }
    Ok((times, first))
}

// ---------- the browser ----------

/// The Chromium (or Chrome) executable on `PATH`.
fn chromium() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let exe = dir.join(name);
            if exe.is_file() {
                return Ok(exe);
            }
        }
    }
    bail!(
        "the consumer workload verifies the page in a headless browser, and no chromium, \
chromium-browser or google-chrome is on PATH; run ./scripts/install-test-tools.sh \
(or `apt-get install chromium`)"
    )
}

/// The value of attribute `name` in the start tag of the element that carries `marker`
/// (e.g. `id="badge"`) in `dom`, and the text up to that element's first closing tag.
fn element<'a>(dom: &'a str, marker: &str, name: &str) -> Option<(Option<&'a str>, String)> {
    let at = dom.find(marker)?;
    let open = dom[..=at].rfind('<')?;
    let close = at + dom[at..].find('>')?;
    let tag = &dom[open..close];
    let needle = format!("{name}=\"");
    let value = tag.find(&needle).and_then(|i| {
        let v = &tag[i + needle.len()..];
        v.find('"').map(|j| &v[..j])
    });
    let inner = &dom[close + 1..];
    let inner = &inner[..inner.find("</div>").unwrap_or(inner.len())];
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some((value, text.split_whitespace().collect::<Vec<_>>().join(" ")))
}

/// Kill Chromium's process group (it was started as its leader), through the `kill`
/// command (the workspace forbids `unsafe`). Harmless if the group is gone.
fn kill_group(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(std::process::Stdio::null())
        .status();
}

/// Load `url` in headless Chromium with a fresh profile; the page must end verified.
/// `(data-verify-ms, wall-clock ms of the whole browser run)`.
async fn browser_load(exe: &std::path::Path, url: &str) -> anyhow::Result<(f64, f64)> {
    let profile = scratch_dir("bench-chromium")?;
    let started = Instant::now();
    let child = tokio::process::Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            &format!("--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}"),
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            url,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let pgid = child.id();
    let out = tokio::time::timeout(BROWSER_TIMEOUT, child.wait_with_output()).await;
    let wall = ms(started.elapsed());
    // Whatever happened, nothing of this browser outlives the load.
    if let Some(g) = pgid {
        kill_group(g);
    }
    let _ = std::fs::remove_dir_all(&profile);
    let out = match out {
        Ok(r) => r.context("waiting for chromium")?,
        Err(_) => bail!(
            "chromium did not finish loading {url} within {} s; killed",
            BROWSER_TIMEOUT.as_secs()
        ),
    };
    let dom = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail = |s: &str| s.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
    let Some((state, text)) = element(&dom, "id=\"badge\"", "data-state") else {
        bail!(
            "chromium ({}) dumped no page with a badge for {url}; its stderr ends: {}",
            out.status,
            tail(&stderr)
        );
    };
    ensure!(
        state == Some("verified"),
        "the page was not verified in the browser: badge data-state {state:?}, text `{text}`"
    );
    let verify_ms: f64 = element(&dom, "<body", "data-verify-ms")
        .and_then(|(v, _)| v)
        .context("the verified page has no data-verify-ms on <body>")?
        .parse()
        .context("data-verify-ms is not a number")?;
    Ok((verify_ms, wall))
}

// ---------- one run ----------

async fn run_once(o: &ConsumerBenchOptions, exe: &std::path::Path) -> anyhow::Result<Value> {
    let kinds = [
        Kind::Farm,
        Kind::Packer,
        Kind::Carrier,
        Kind::Dc,
        Kind::Customs,
    ];
    let s = setup("waybill-bench-consumer", &kinds, 0, false)?;
    let (served, dir) = start_node(&s, "bench-consumer").await?;
    let result = measure(o, exe, &s, &served).await;
    served.run_shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
    result
}

async fn measure(
    o: &ConsumerBenchOptions,
    exe: &std::path::Path,
    s: &crate::epcis::Setup,
    served: &waybill_server::Served,
) -> anyhow::Result<Value> {
    let shared = served.node.shared.clone();
    let client = Client::new(&format!("http://{}", served.api_addr));
    let setup_started = Instant::now();
    let (n_events, n_captures) = capture_history(
        &client,
        &s.tracers,
        &s.genesis.chain_id,
        o.journey_doc_events,
    )
    .await?;
    let setup_s = setup_started.elapsed().as_secs_f64();
    let height = shared.head.borrow().height.0;

    let subject = waybill_api::epcis::canonical_id(&trace_carton(SUBJECT))
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let local = subject
        .strip_prefix("https://id.gs1.org")
        .context("the carton's Digital Link")?
        .to_string();
    let fp = proof::fingerprint(&s.genesis);
    let page_path = format!("{local}?wb={fp}");
    let bundle_path = format!("/v1/proofs{local}");

    // The bundle, checked once.
    let mut raw = RawHttp::connect(served.api_addr).await?;
    let (bundle_ms, bundle_body) = time_get(&mut raw, &bundle_path, o.reps).await?;
    let bundle: ProofBundle =
        serde_json::from_slice(&bundle_body).context("the proof bundle is not a bundle")?;
    let verified = proof::verify(&bundle, &proof::TrustRoot::Fingerprint(fp.clone()))
        .map_err(|e| anyhow::anyhow!("the served proof bundle does not verify: {e}"))?;
    let mut by_kind: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &verified.records {
        *by_kind
            .entry(r.record["kind"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    // Customs and quality events are published as inspection outcomes (the open
    // tier's matrix row); both are records of the history's events.
    let event_records = by_kind.get("event").copied().unwrap_or(0)
        + by_kind.get("inspection").copied().unwrap_or(0);
    ensure!(
        event_records >= HISTORY_EVENTS_MIN && event_records == n_events,
        "the bundle carries {event_records} event records; the carton's history has {n_events} \
events, and at least {HISTORY_EVENTS_MIN} are wanted"
    );
    ensure!(
        bundle.subject == subject,
        "the bundle is about {}, not {subject}",
        bundle.subject
    );

    // The page.
    let (page_ms, page_body) = time_get(&mut raw, &page_path, o.reps).await?;
    let page = String::from_utf8_lossy(&page_body);
    ensure!(
        page.contains("id=wb-bundle") && page.contains("/assets/consumer.js"),
        "the consumer page carries no bundle or no script"
    );
    // The HTTP floor on the same connection.
    let (status_ms, _) = time_get(&mut raw, "/v1/status", o.reps).await?;
    drop(raw);

    // In process: what both answers start with.
    let (build_ms, serialize_ms) = tokio::task::block_in_place(|| {
        let (mut build, mut ser) = (Vec::new(), Vec::new());
        for _ in 0..WARMUP + o.reps {
            let t = Instant::now();
            let b = waybill_api::proofs::build_bundle(&shared, &subject)
                .map_err(|e| anyhow::anyhow!("build_bundle: {}", e.message))?;
            build.push(ms(t.elapsed()));
            let t = Instant::now();
            std::hint::black_box(serde_json::to_vec(&b)?);
            ser.push(ms(t.elapsed()));
        }
        anyhow::Ok((build.split_off(WARMUP), ser.split_off(WARMUP)))
    })?;

    // In the browser.
    let url = format!("http://{}{page_path}", served.api_addr);
    let mut verify = Vec::with_capacity(o.browser_loads);
    let mut wall = Vec::with_capacity(o.browser_loads);
    for _ in 0..o.browser_loads {
        let (v, w) = browser_load(exe, &url).await?;
        verify.push(v);
        wall.push(w);
    }

    let (page_p50, page_p99) = stats(page_ms);
    let (bundle_p50, bundle_p99) = stats(bundle_ms);
    let (status_p50, status_p99) = stats(status_ms);
    let (build_p50, build_p99) = stats(build_ms);
    let (ser_p50, _) = stats(serialize_ms);
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    Ok(json!({
        "subject": subject,
        "page_url": url,
        "history_events": n_events,
        "captures": n_captures,
        "height": height,
        "setup_capture_s": round1(setup_s),
        "records": bundle.records.len(),
        "event_records": event_records,
        "records_by_kind": by_kind,
        "headers": bundle.headers.len(),
        "bundle_bytes": bundle_body.len(),
        "page_bytes": page_body.len(),
        "page_ms_p50": r3(page_p50),
        "page_ms_p99": r3(page_p99),
        "bundle_ms_p50": r3(bundle_p50),
        "bundle_ms_p99": r3(bundle_p99),
        "status_ms_p50": r3(status_p50),
        "status_ms_p99": r3(status_p99),
        "build_bundle_ms_p50": r3(build_p50),
        "build_bundle_ms_p99": r3(build_p99),
        "serialize_bundle_ms_p50": r3(ser_p50),
        "browser_verify_ms": verify,
        "browser_verify_ms_p50": median(verify.clone()),
        "browser_verify_ms_max": verify.iter().copied().fold(0.0, f64::max),
        "browser_wall_ms_p50": round1(median(wall.clone())),
        "browser_wall_ms_max": round1(wall.iter().copied().fold(0.0, f64::max)),
    }))
}

pub async fn run(o: ConsumerBenchOptions) -> anyhow::Result<()> {
    if o.reps == 0 || o.browser_loads == 0 || o.runs == 0 || o.journey_doc_events == 0 {
        bail!("--reps, --browser-loads, --runs and --doc-events must be at least 1");
    }
    if o.journey_doc_events > waybill_types::limits::EPCIS_EVENTS_MAX {
        bail!(
            "--doc-events must be 1-{}",
            waybill_types::limits::EPCIS_EVENTS_MAX
        );
    }
    let exe = chromium()?;
    let runs = repeat_runs(o.runs, o.json, || run_once(&o, &exe)).await?;
    let col = |k: &str| median_at(&runs, &format!("/{k}"));
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let build = col("build_bundle_ms_p50");
    let max_verify = runs
        .iter()
        .filter_map(|r| r["browser_verify_ms_max"].as_f64())
        .fold(0.0, f64::max);
    let first = &runs[0];
    let result = json!({
        "benchmark": "consumer page (GET /01/…?wb=) and proof bundle (GET /v1/proofs/…) of a 200-event product on one validator, and its verification in headless Chromium",
        "validators": 1,
        "runs": o.runs,
        "reps": o.reps,
        "browser_loads": o.browser_loads,
        "journey_events_per_capture": o.journey_doc_events,
        "browser": exe.display().to_string(),
        "subject": first["subject"],
        "history_events": first["history_events"],
        "captures": first["captures"],
        "records": first["records"],
        "event_records": first["event_records"],
        "records_by_kind": first["records_by_kind"],
        "headers": first["headers"],
        "bundle_bytes": first["bundle_bytes"],
        "page_bytes": first["page_bytes"],
        "page_ms_p50_median": r3(col("page_ms_p50")),
        "page_ms_p99_median": r3(col("page_ms_p99")),
        "bundle_ms_p50_median": r3(col("bundle_ms_p50")),
        "bundle_ms_p99_median": r3(col("bundle_ms_p99")),
        "status_ms_p50_median": r3(col("status_ms_p50")),
        "baseline_build_bundle_ms_p50_median": r3(build),
        "baseline_build_bundle_ms_p99_median": r3(col("build_bundle_ms_p99")),
        "serialize_bundle_ms_p50_median": r3(col("serialize_bundle_ms_p50")),
        "ratio_page_to_build_bundle": round1(col("page_ms_p50") / build),
        "ratio_bundle_to_build_bundle": round1(col("bundle_ms_p50") / build),
        "browser_verify_ms_p50_median": col("browser_verify_ms_p50"),
        "browser_verify_ms_max": max_verify,
        "browser_wall_ms_p50_median": round1(col("browser_wall_ms_p50")),
        "per_run": runs,
    });
    if o.json {
        println!("{result}");
    } else {
        let r = &result;
        println!(
            "carton {}: {} events in its history ({} captures), bundle of {} records ({} events) under {} headers, {} bytes; page {} bytes",
            r["subject"], r["history_events"], r["captures"], r["records"], r["event_records"],
            r["headers"], r["bundle_bytes"], r["page_bytes"]
        );
        println!(
            "at the node, medians of {} runs of {} requests: page p50 {} ms, p99 {} ms; bundle p50 {} ms, p99 {} ms; \
GET /v1/status p50 {} ms; in-process build_bundle baseline p50 {} ms (page/baseline {}, bundle/baseline {}; serialising the bundle {} ms)",
            o.runs, o.reps, r["page_ms_p50_median"], r["page_ms_p99_median"], r["bundle_ms_p50_median"],
            r["bundle_ms_p99_median"], r["status_ms_p50_median"], r["baseline_build_bundle_ms_p50_median"],
            r["ratio_page_to_build_bundle"], r["ratio_bundle_to_build_bundle"], r["serialize_bundle_ms_p50_median"]
        );
        println!(
            "in the browser ({} loads per run): verification p50 {} ms (median over runs), max {} ms; whole headless Chromium run p50 {} ms",
            o.browser_loads, r["browser_verify_ms_p50_median"], r["browser_verify_ms_max"], r["browser_wall_ms_p50_median"]
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::element;

    #[test]
    fn reads_the_badge_and_the_timing_from_a_dumped_dom() {
        let dom = r#"<html><head></head><body data-verify-ms="57"><header><h1 id="title">Product history</h1></header><div id="badge" class="badge verified" data-state="verified" role="status"><strong>✔ Verified</strong><span class="why">217 records in 202 blocks</span></div><main></main></body></html>"#;
        let (state, text) = element(dom, "id=\"badge\"", "data-state").expect("badge");
        assert_eq!(state, Some("verified"));
        assert_eq!(text, "✔ Verified 217 records in 202 blocks");
        let (ms, _) = element(dom, "<body", "data-verify-ms").expect("body");
        assert_eq!(ms, Some("57"));
        assert_eq!(element(dom, "id=\"nothing\"", "x"), None);
        let (none, _) = element(dom, "<main", "data-state").expect("main");
        assert_eq!(none, None);
    }
}
