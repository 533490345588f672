#![allow(dead_code)]
//! A small W3C WebDriver client for browser tests: Debian's `chromium` driven
//! by its `chromedriver` (packages `chromium` and `chromium-driver`, installed
//! by `./scripts/install-test-tools.sh`).
//!
//! A [`Browser`] owns one `chromedriver` child process on a free 127.0.0.1
//! port, one WebDriver session (one headless Chromium) and a fresh profile
//! directory. Dropping it ends the session, kills whatever is left of the
//! process tree and removes the profile, so a test never leaves processes
//! behind, even when it panics.
//!
//! A missing tool is an error, never a skip: [`Browser::start`] fails with a
//! message that says to run `./scripts/install-test-tools.sh`.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};

/// Timeout of every HTTP request to chromedriver.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long chromedriver may take to answer `GET /status` with `ready: true`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Page-load and script timeouts asked of the session (below [`HTTP_TIMEOUT`],
/// so a slow page is reported by WebDriver rather than as an HTTP timeout).
const SESSION_TIMEOUT_MS: u64 = 30_000;
/// A current Android Chrome user agent (Chrome's reduced UA form).
const ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/148.0.0.0 Mobile Safari/537.36";

/// How to start the browser.
#[derive(Clone, Debug)]
pub struct Options {
    /// Emulate a phone: device metrics `width`x`height` at pixel ratio 3,
    /// touch, and an Android Chrome user agent. Pages need
    /// `<meta name="viewport" content="width=device-width">` for
    /// `window.innerWidth` to equal `width` (otherwise Chrome lays out at 980).
    pub mobile: bool,
    /// Run page scripts. When false, the content setting blocks the page's
    /// JavaScript; [`Browser::execute`] still works (it runs via DevTools).
    pub javascript: bool,
    /// Window (or emulated device) width in CSS pixels.
    pub width: u32,
    /// Window (or emulated device) height in CSS pixels. On the desktop this
    /// is the window's height: headless Chromium still reserves room for its
    /// (invisible) toolbars, so the viewport is shorter (1280x900 gives a
    /// 1280x761 viewport with Chromium 148).
    pub height: u32,
    /// Chromium `--host-resolver-rules`, e.g. `MAP waybill.test 127.0.0.1`: reach a
    /// local server under a name that is not `localhost`, as a phone on the network
    /// would (such an `http://` page is not a secure context).
    pub host_rules: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mobile: false,
            javascript: true,
            width: 1280,
            height: 900,
            host_rules: None,
        }
    }
}

/// One headless Chromium session behind its own chromedriver.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    base: String,
    port: u16,
    /// Empty until the session exists.
    session: String,
    driver: Option<Child>,
    /// Holds `profile/` (Chromium's user data dir), `chromedriver.log` and
    /// `xdg-config/` (Chromium's crash database).
    dir: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a session. Fails (naming the fix) when
    /// `chromium` or `chromedriver` is not on PATH.
    pub async fn start(opts: Options) -> Result<Browser, String> {
        let chromium = which("chromium");
        let chromedriver = which("chromedriver");
        let missing: Vec<&str> = [("chromium", &chromium), ("chromedriver", &chromedriver)]
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(n, _)| *n)
            .collect();
        let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
            return Err(format!(
                "{} not found on PATH: run ./scripts/install-test-tools.sh \
                 (installs the Debian packages chromium and chromium-driver)",
                missing.join(" and ")
            ));
        };

        let dir = fresh_temp_dir()?;
        let profile = dir.join("profile");
        waybill_client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .no_proxy()
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        // From here on, an early return drops `browser`, which cleans up.
        let mut browser = Browser {
            http,
            base: String::new(),
            port: 0,
            session: String::new(),
            driver: None,
            dir,
        };
        std::fs::create_dir(&profile)
            .map_err(|e| format!("creating {}: {e}", profile.display()))?;

        // The free port may be taken between probing and chromedriver's bind
        // (chromedriver then exits): try another, within one time bound.
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match browser.spawn_driver(&chromedriver, deadline).await {
                Ok(()) => break,
                Err(e) => {
                    browser.kill_driver();
                    if attempts >= 3 || Instant::now() >= deadline {
                        return Err(e);
                    }
                }
            }
        }

        let caps = capabilities(&opts, &chromium, &profile);
        let started = Instant::now();
        let resp = browser
            .request(Method::POST, "/session", Some(caps))
            .await
            .map_err(|e| {
                format!(
                    "creating the session ({}): {e}\n{}",
                    chromium.display(),
                    browser.log_tail()
                )
            })?;
        browser.session = resp["sessionId"]
            .as_str()
            .ok_or_else(|| format!("new session response has no sessionId: {resp}"))?
            .to_string();
        if opts.mobile {
            // Chromium 148 quirk: under load, the first document loaded after
            // the session starts can miss part of the touch emulation
            // (navigator.maxTouchPoints is 0 while 'ontouchstart' exists).
            // Later documents are fine, so spend the first one on about:blank.
            browser
                .goto("about:blank")
                .await
                .map_err(|e| format!("warming up mobile emulation: {e}"))?;
        }
        if started.elapsed() > Duration::from_secs(10) {
            eprintln!("webdriver: Chromium took {:?} to start", started.elapsed());
        }
        Ok(browser)
    }

    /// Spawns chromedriver on a free port and waits until `/status` says ready.
    async fn spawn_driver(&mut self, chromedriver: &Path, deadline: Instant) -> Result<(), String> {
        let port = free_port()?;
        let log_path = self.dir.join("chromedriver.log");
        let log =
            File::create(&log_path).map_err(|e| format!("creating {}: {e}", log_path.display()))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("cloning {}: {e}", log_path.display()))?;
        // Chromium keeps its crash database under $XDG_CONFIG_HOME/chromium
        // (default ~/.config), whatever --user-data-dir says: point it into
        // our directory so a test writes nothing to $HOME.
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .env("XDG_CONFIG_HOME", self.dir.join("xdg-config"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", chromedriver.display()))?;
        self.driver = Some(child);
        self.port = port;
        self.base = format!("http://127.0.0.1:{port}");

        loop {
            if let Some(child) = self.driver.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "chromedriver exited before it was ready ({status})\n{}",
                        self.log_tail()
                    ));
                }
            }
            let status = self
                .http
                .get(format!("{}/status", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            let last = match status {
                Ok(r) => match r.json::<Value>().await {
                    Ok(v) if v["value"]["ready"] == json!(true) => return Ok(()),
                    Ok(v) => format!("not ready: {v}"),
                    Err(e) => format!("bad /status body: {e}"),
                },
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "chromedriver on port {port} not ready within {READY_TIMEOUT:?} ({last})\n{}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of chromedriver's output, for error messages.
    fn log_tail(&self) -> String {
        let path = self.dir.join("chromedriver.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("chromedriver log ({}):\n{tail}", path.display())
    }

    /// A command of this session: `path` is relative to `/session/{id}`.
    async fn command(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.session);
        self.request(method, &path, body).await
    }

    /// One WebDriver request; returns the response's `value`, or an error
    /// naming the WebDriver error and its message.
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let what = format!("WebDriver {method} {path}");
        let resp = req.send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("{what}: reading the body: {e}"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{what}: HTTP {status}, body is not JSON ({e}): {}",
                truncate(&text, 500)
            )
        })?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            let message = value.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(format!("{what}: HTTP {status}: {error}: {message}"));
        }
        if !status.is_success() {
            return Err(format!("{what}: HTTP {status}: {}", truncate(&text, 500)));
        }
        Ok(value)
    }

    /// Navigates and waits for the page's load event. Fails when Chromium
    /// ends up on its own error page (chromedriver reports some network
    /// errors, such as a refused port, as a successful navigation).
    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.command(Method::POST, "/url", Some(json!({ "url": url })))
            .await?;
        let error_page = self
            .execute(
                "return location.href.startsWith('chrome-error://') \
                 ? (document.body ? document.body.innerText : '') : null;",
                json!([]),
            )
            .await?;
        match error_page.as_str() {
            Some(text) => Err(format!(
                "navigating to {url}: Chromium shows its error page: {}",
                truncate(&text.replace('\n', " "), 500)
            )),
            None => Ok(()),
        }
    }

    /// Runs `script` as the body of a function (use `return`) and returns its
    /// result. `args` is the argument array (`arguments[0]`, ...); `null`
    /// means none, and a non-array value is passed as the single argument.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        let args = match args {
            Value::Array(a) => Value::Array(a),
            Value::Null => json!([]),
            other => json!([other]),
        };
        self.command(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Polls `script` (a function body, as for [`execute`](Self::execute))
    /// every 100 ms until it returns something other than `null` or `false`,
    /// and returns that. Script errors count as "not yet". Fails after
    /// `timeout` with the last value and the page's title and URL.
    pub async fn wait_for(&self, script: &str, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let attempt = tokio::time::timeout(
                remaining.max(Duration::from_secs(1)),
                self.execute(script, json!([])),
            )
            .await;
            let last = match attempt {
                Ok(Ok(v)) if !(v.is_null() || v == json!(false)) => return Ok(v),
                Ok(Ok(v)) => v.to_string(),
                Ok(Err(e)) => format!("error: {e}"),
                Err(_) => "script still running at the deadline".to_string(),
            };
            if Instant::now() >= deadline {
                let probe = self.execute("return [document.title, location.href];", json!([]));
                let page = match tokio::time::timeout(Duration::from_secs(5), probe).await {
                    Ok(Ok(v)) => format!("title {} at {}", v[0], v[1]),
                    Ok(Err(e)) => format!("page unknown ({e})"),
                    Err(_) => "page unknown (busy: a script is still running)".to_string(),
                };
                return Err(format!(
                    "timed out after {timeout:?} waiting for `{}`: last value {}; {page}",
                    truncate(script, 300),
                    truncate(&last, 1000)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100).min(remaining)).await;
        }
    }

    /// Saves a PNG screenshot of the viewport, creating parent directories.
    pub async fn screenshot(&self, path: &Path) -> Result<(), String> {
        let value = self.command(Method::GET, "/screenshot", None).await?;
        let b64 = value.as_str().ok_or_else(|| {
            format!(
                "screenshot value is not a string: {}",
                truncate(&value.to_string(), 200)
            )
        })?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("screenshot is not base64: {e}"))?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        tokio::fs::write(path, png)
            .await
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// The page's visible text (`document.body.innerText`).
    pub async fn page_text(&self) -> Result<String, String> {
        let v = self
            .execute(
                "return document.body ? document.body.innerText : '';",
                json!([]),
            )
            .await?;
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("innerText is not a string: {v}"))
    }

    /// Kills chromedriver (if running) and reaps it.
    fn kill_driver(&mut self) {
        if let Some(mut child) = self.driver.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // 1. End the session: chromedriver quits Chromium and reaps it.
        if !self.session.is_empty() && self.driver.is_some() {
            delete_session_blocking(self.port, &self.session);
        }
        // 2. Safety net: SIGKILL whatever is left of Chromium, that is every
        //    process below chromedriver (killing chromedriver alone would
        //    orphan Chromium) and every process using our profile directory.
        if let Some(child) = &self.driver {
            let mut pids = descendants(child.id());
            for pid in using_dir(&self.dir) {
                if !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
            if !pids.is_empty() {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .args(pids.iter().map(u32::to_string))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // 3. chromedriver itself.
        self.kill_driver();
        // 4. The profile and the log.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The Chrome options for `opts`.
fn capabilities(opts: &Options, chromium: &Path, profile: &Path) -> Value {
    let mut chrome = json!({
        "binary": chromium.to_string_lossy(),
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            format!("--window-size={},{}", opts.width, opts.height),
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    if let (Some(rules), Some(args)) = (&opts.host_rules, chrome["args"].as_array_mut()) {
        args.push(json!(format!("--host-resolver-rules={rules}")));
    }
    if opts.mobile {
        chrome["mobileEmulation"] = json!({
            "deviceMetrics": {
                "width": opts.width,
                "height": opts.height,
                "pixelRatio": 3.0,
                "mobile": true,
                "touch": true,
            },
            "userAgent": ANDROID_UA,
        });
    }
    if !opts.javascript {
        chrome["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
    }
    json!({
        "capabilities": {
            "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": chrome,
                "timeouts": {
                    "implicit": 0,
                    "pageLoad": SESSION_TIMEOUT_MS,
                    "script": SESSION_TIMEOUT_MS,
                },
            }
        }
    })
}

/// `name`'s path when it is an executable file on PATH.
fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("probing a free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("probing a free port: {e}"))
}

/// A new, empty, private directory under the system temp dir.
fn fresh_temp_dir() -> Result<PathBuf, String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "waybill-webdriver-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

/// `DELETE /session/{id}` without an async runtime (for `Drop`), bounded by
/// short timeouts. chromedriver answers once Chromium has quit.
fn delete_session_blocking(port: u16, session: &str) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // The answer comes after Chromium exits; its headers are enough.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
}

/// (pid, parent pid) of every process, from /proc (Linux).
fn process_table() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let e = e.ok()?;
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and parens.
            let rest = &stat[stat.rfind(')')? + 1..];
            let mut fields = rest.split_whitespace();
            let state = fields.next()?;
            let ppid: u32 = fields.next()?.parse().ok()?;
            (state != "Z").then_some((pid, ppid))
        })
        .collect()
}

/// Every live process below `root`.
fn descendants(root: u32) -> Vec<u32> {
    let table = process_table();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &table {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// Live processes whose command line mentions a path inside `dir` (our
/// profile or crash database).
fn using_dir(dir: &Path) -> Vec<u32> {
    let needle = format!("{}/", dir.display());
    process_table()
        .into_iter()
        .filter(|&(pid, _)| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .map(|(pid, _)| pid)
        .collect()
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
