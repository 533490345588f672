//! Smoke test of the browser test harness: headless Chromium through
//! chromedriver (`common::webdriver`) against a page served by axum. Checks
//! the WebCrypto the web UI relies on (Ed25519, SHA-256), that JavaScript can
//! be switched off, mobile emulation, and screenshots.
//!
//! Needs `chromium` and `chromedriver` (./scripts/install-test-tools.sh); a
//! missing tool fails the test.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use common::webdriver::{Browser, Options};
use serde_json::json;
use tokio::task::JoinHandle;

const PAGE: &str = r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Waybill browser smoke</title>
<!-- Long unbroken text (the hex digest) would make a phone lay out wider
     than the device and zoom out, so window.innerWidth would not be the
     device width. -->
<style>body { font-family: sans-serif; overflow-wrap: anywhere; }</style>
</head>
<body>
<h1>Waybill browser smoke</h1>
<p>status: <span id="status">script not run</span></p>
<p>ed25519 verify: <span id="ed25519"></span></p>
<p>ed25519 verify (tampered): <span id="tampered"></span></p>
<p>signature bytes: <span id="siglen"></span></p>
<p>sha256("abc"): <span id="sha256"></span></p>
<script>
(async () => {
  const set = (id, text) => { document.getElementById(id).textContent = text; };
  set("status", "running");
  try {
    const enc = new TextEncoder();
    const key = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    const msg = enc.encode("waybill shipment 42");
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, msg);
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key.publicKey, sig, msg);
    const bad = await crypto.subtle.verify(
      { name: "Ed25519" }, key.publicKey, sig, enc.encode("waybill shipment 43"));
    const digest = await crypto.subtle.digest("SHA-256", enc.encode("abc"));
    const hex = Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
    set("ed25519", String(ok));
    set("tampered", String(bad));
    set("siglen", String(sig.byteLength));
    set("sha256", hex);
    set("status", "done");
  } catch (e) {
    set("status", "error: " + e);
  }
})();
</script>
</body>
</html>
"#;

/// Serves [`PAGE`] at `/` on a free port; abort the handle to stop.
async fn serve() -> (String, JoinHandle<()>) {
    let app = Router::new().route("/", get(|| async { Html(PAGE) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("axum serve");
    });
    (format!("http://{addr}/"), task)
}

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-artifacts")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webcrypto_ed25519_and_sha256_and_screenshot() {
    let (url, server) = serve().await;
    let browser = Browser::start(Options::default())
        .await
        .expect("start the browser");
    browser.goto(&url).await.expect("open the page");

    let status = browser
        .wait_for(
            "const s = document.getElementById('status').textContent; \
             return (s === 'done' || s.startsWith('error')) ? s : null;",
            Duration::from_secs(15),
        )
        .await
        .expect("the page script finishes");
    assert_eq!(
        status,
        json!("done"),
        "page text: {:?}",
        browser.page_text().await
    );

    let results = browser
        .execute(
            "const t = id => document.getElementById(id).textContent; \
             return { ed25519: t('ed25519'), tampered: t('tampered'), \
                      siglen: t('siglen'), sha256: t('sha256') };",
            json!([]),
        )
        .await
        .expect("read the results");
    assert_eq!(
        results["ed25519"], "true",
        "Ed25519 verification: {results}"
    );
    assert_eq!(
        results["tampered"], "false",
        "tampered message must not verify: {results}"
    );
    assert_eq!(
        results["siglen"], "64",
        "Ed25519 signature length: {results}"
    );
    assert_eq!(
        results["sha256"], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "SHA-256 of abc: {results}"
    );

    let text = browser.page_text().await.expect("page text");
    assert!(text.contains("status: done"), "page text: {text}");

    let shot = artifact("browser-smoke.png");
    let _ = std::fs::remove_file(&shot);
    browser.screenshot(&shot).await.expect("screenshot");
    let png = std::fs::read(&shot).expect("read the screenshot back");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG ({} bytes)",
        shot.display(),
        png.len()
    );

    drop(browser);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_off_leaves_the_page_as_served() {
    let (url, server) = serve().await;
    let browser = Browser::start(Options {
        javascript: false,
        ..Options::default()
    })
    .await
    .expect("start the browser");
    browser.goto(&url).await.expect("open the page");

    // Give a script that could run the time to do so.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = browser
        .execute(
            "return document.getElementById('status').textContent;",
            json!([]),
        )
        .await
        .expect("read the status");
    assert_eq!(
        status,
        json!("script not run"),
        "the page script ran with JavaScript off"
    );
    let text = browser.page_text().await.expect("page text");
    assert!(text.contains("status: script not run"), "page text: {text}");

    drop(browser);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobile_emulation_sets_the_viewport() {
    let (url, server) = serve().await;
    let browser = Browser::start(Options {
        mobile: true,
        width: 390,
        height: 844,
        ..Options::default()
    })
    .await
    .expect("start the browser");
    browser.goto(&url).await.expect("open the page");

    // The page script runs on the phone too; measure once it has filled
    // the page.
    browser
        .wait_for(
            "return document.getElementById('status').textContent === 'done';",
            Duration::from_secs(15),
        )
        .await
        .expect("the page script finishes on mobile");

    let seen = browser
        .execute(
            "return { width: window.innerWidth, ratio: window.devicePixelRatio, \
                      ua: navigator.userAgent, touch: navigator.maxTouchPoints };",
            json!([]),
        )
        .await
        .expect("read the viewport");
    assert_eq!(seen["width"], json!(390), "window.innerWidth: {seen}");
    assert_eq!(seen["ratio"], json!(3), "devicePixelRatio: {seen}");
    let ua = seen["ua"].as_str().unwrap_or_default();
    assert!(
        ua.contains("Android") && ua.contains("Mobile"),
        "user agent: {ua}"
    );
    assert!(
        seen["touch"].as_u64().unwrap_or(0) > 0,
        "maxTouchPoints: {seen}"
    );

    drop(browser);
    server.abort();
}
