//! Helpers shared by the end-to-end test binaries.

pub mod webdriver;

/// Small deterministic PRNG for fault schedules (the tests print the seed, so a
/// failure can be replayed).
#[allow(dead_code)] // not every test binary that includes `common` uses it
pub struct Lcg(pub u64);

#[allow(dead_code)]
impl Lcg {
    /// The next pseudo-random number.
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// `n` consecutive free TCP ports on 127.0.0.1 (each bound, then released), the first
/// returned: below the kernel's ephemeral range (32768 and up on Linux), so that no
/// outgoing connection's source port takes one before a node binds it, and never one
/// handed out before in this process (a test's API and p2p ports never overlap).
#[allow(dead_code)]
pub fn free_port_block(n: usize) -> u16 {
    const LOW: u32 = 20_000;
    const HIGH: u32 = 32_000;
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let n = u16::try_from(n).expect("a small block");
    let mut rng = Lcg(u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64));
    for _ in 0..500 {
        let first = (LOW + (rng.next() % u64::from(HIGH - LOW)) as u32) as u16;
        if (first..first + n).any(|p| given.contains(&p)) {
            continue;
        }
        let held: Vec<_> = (first..first + n)
            .map(|p| std::net::TcpListener::bind(("127.0.0.1", p)))
            .collect();
        if held.iter().all(Result::is_ok) {
            given.extend(first..first + n);
            return first;
        }
    }
    panic!("no block of {n} free ports between {LOW} and {HIGH}");
}

/// A free TCP port on 127.0.0.1 ([`free_port_block`] of one).
#[allow(dead_code)]
pub fn free_port() -> u16 {
    free_port_block(1)
}

/// `waybill demo --dir DIR --listen ADDR`, as the README starts it (warnings only on
/// its log, which is dropped; `stdout` as given).
#[allow(dead_code)]
pub fn spawn_demo(
    dir: &std::path::Path,
    listen: &str,
    stdout: std::process::Stdio,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_waybill"))
        .args([
            "demo",
            "--dir",
            dir.to_str().expect("utf-8"),
            "--listen",
            listen,
        ])
        .env("RUST_LOG", "warn")
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("demo starts")
}

/// `reqwest::get` with the TLS provider reqwest needs installed first (reqwest is
/// built without one of its own).
#[allow(dead_code)]
pub async fn http_get(url: String) -> reqwest::Result<reqwest::Response> {
    waybill_client::ensure_crypto_provider();
    reqwest::get(url).await
}

/// Every regular file under `dir` (a node's control socket is no file to read).
#[allow(dead_code)] // not every test binary that includes `common` uses it
pub fn regular_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).expect("dir").flatten() {
            let (path, kind) = (e.path(), e.file_type().expect("file type"));
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                files.push(path);
            }
        }
    }
    files
}

/// GET `base``path` as member `key` (a signed request): the status and the JSON body
/// (`null` if it is not JSON) — error bodies included, with their extension members.
#[allow(dead_code)]
pub async fn get_signed(
    base: &str,
    key: &waybill_types::SecretKey,
    path: &str,
) -> reqwest::Result<(u16, serde_json::Value)> {
    let answer = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header(
            "authorization",
            waybill_client::signed_request(key, "GET", path),
        )
        .send()
        .await?;
    let status = answer.status().as_u16();
    Ok((status, answer.json().await.unwrap_or_default()))
}

/// The number of steps of the embedded demo manifest (`demo-progress` reaches it
/// when the demo is loaded).
#[allow(dead_code)]
pub fn demo_steps() -> usize {
    let m: serde_json::Value = serde_json::from_str(include_str!("../../demo/manifest.json"))
        .expect("the demo manifest is JSON");
    m["steps"].as_array().expect("steps").len()
}
