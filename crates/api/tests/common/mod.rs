//! Fixtures for the API integration tests: a one-validator [`TestChain`] with two
//! organizations, the router over it, signers that track their sequence numbers,
//! and small helpers to send requests and read answers.

use waybill_types::payload::{CaptureEpcis, RegisterLot, RegisterMember, RegisterProduct};

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;
use waybill_gs1::{with_check_digit, Gtin};
use waybill_node::Shared;
use waybill_testkit::{temp_dir, test_genesis, TestChain};
use waybill_types::{Payload, PublicKey, Role, SecretKey, SignedTx};

/// The producer organization's id.
pub const ORCHARD: &str = "pujiang-orchard";
/// The carrier/warehouse organization's id.
pub const COLDCHAIN: &str = "coldchain-express";
/// The producer organization's GS1 company prefix.
pub const PREFIX: &str = "6901234";

/// An answer, fully read.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (panics with the body text if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}); status {}: {}",
                self.status,
                self.text()
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Assert the status and an RFC 9457 problem document (`application/problem+json`
    /// with `type`, `title`, `status`, `detail` and our stable `code`) with `code`;
    /// returns the detail.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "expected {status} `{code}`, got body {}",
            self.text()
        );
        assert_eq!(
            self.content_type.as_deref(),
            Some(waybill_api::PROBLEM_JSON),
            "error answers are problem documents; body {}",
            self.text()
        );
        let v = self.json();
        assert_eq!(error_code(&v), code, "error code; body {v}");
        assert_eq!(v["status"], status.as_u16(), "problem status; body {v}");
        assert!(
            v["type"].as_str().is_some_and(|t| !t.is_empty())
                && v["title"].as_str().is_some_and(|t| !t.is_empty()),
            "problem type and title: {v}"
        );
        let detail = v["detail"]
            .as_str()
            .expect("detail is a string")
            .to_string();
        assert!(!detail.trim().is_empty(), "detail is not empty: {v}");
        detail
    }
}

/// The stable machine code of an error body (a problem document's `code`).
pub fn error_code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

/// The detail (human message) of an error body.
pub fn error_detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or("")
}

/// Send `req` through the router (a fresh clone, as a server would per connection).
pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router's error type is Infallible");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ASCII header").to_string());
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes()
        .to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

/// A request with an optional content type.
pub fn request(
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(body.into()).expect("request builds")
}

/// GET `uri`.
pub async fn get(app: &Router, uri: &str) -> Answer {
    send(app, request(Method::GET, uri, None, Body::empty())).await
}

/// Assert a 200 JSON answer and return its JSON.
#[track_caller]
pub fn ok_json(a: &Answer) -> Value {
    assert_eq!(a.status, StatusCode::OK, "body: {}", a.text());
    assert!(
        a.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json")),
        "content type {:?}",
        a.content_type
    );
    a.json()
}

/// GET `uri` expecting 200 JSON.
pub async fn get_ok(app: &Router, uri: &str) -> Value {
    let a = get(app, uri).await;
    assert_eq!(a.status, StatusCode::OK, "GET {uri}: {}", a.text());
    ok_json(&a)
}

/// POST raw bytes with a content type.
pub async fn post_raw(
    app: &Router,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    send(app, request(Method::POST, uri, content_type, body)).await
}

/// POST JSON.
pub async fn post_json(app: &Router, uri: &str, body: &Value) -> Answer {
    post_raw(
        app,
        uri,
        Some("application/json"),
        serde_json::to_vec(body).expect("JSON encodes"),
    )
    .await
}

/// Standard base64.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode standard base64.
pub fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("valid base64")
}

/// The expiry every test transaction carries: an hour after the test process
/// started (so that signing the same payload with the same nonce gives the same
/// transaction throughout a test).
pub fn test_expiry_ms() -> u64 {
    static EXPIRY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *EXPIRY.get_or_init(|| waybill_client::now_ms() + 3_600_000)
}

/// A key that signs transactions, numbering its nonces 1, 2, 3, …
pub struct Signer {
    /// The key.
    pub key: SecretKey,
    /// The nonce the next [`Signer::sign`] uses.
    pub next_nonce: u64,
}

impl Signer {
    /// A deterministic key from `label`, first nonce 1.
    pub fn new(label: &str) -> Signer {
        Signer {
            key: SecretKey::from_label(label),
            next_nonce: 1,
        }
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    /// The public key, hex.
    pub fn hex(&self) -> String {
        self.key.public().to_hex()
    }

    /// Sign `payload` with the next nonce and advance it.
    pub fn sign(&mut self, payload: Payload) -> SignedTx {
        let stx = self.sign_nonce(self.next_nonce, payload);
        self.next_nonce += 1;
        stx
    }

    /// Sign with an explicit nonce (and [`test_expiry_ms`]); the counter does not
    /// move. The same nonce and payload give the same transaction.
    pub fn sign_nonce(&self, nonce: u64, payload: Payload) -> SignedTx {
        waybill_client::sign_with(&self.key, CHAIN_ID, nonce, test_expiry_ms(), payload)
    }
}

/// The chain id [`test_genesis`] uses.
pub const CHAIN_ID: &str = "waybill-test";

/// A GTIN under the producer's prefix (or any other): the 13 data digits plus the
/// check digit.
pub fn gtin(data13: &str) -> String {
    with_check_digit(data13).expect("13 data digits")
}

/// Parse a GTIN string.
pub fn parse_gtin(g: &str) -> Gtin {
    g.parse().expect("valid GTIN")
}

/// A `register_member` payload.
pub fn member(key: PublicKey, name: &str, roles: &[Role]) -> Payload {
    Payload::RegisterMember(RegisterMember {
        member: key,
        name: name.to_string(),
        roles: roles.to_vec(),
    })
}

/// A `register_product` payload.
pub fn product(g: &str, name: &str) -> Payload {
    Payload::RegisterProduct(RegisterProduct {
        gtin: parse_gtin(g),
        name: name.to_string(),
        brand: "Pujiang".into(),
        category: "fresh fruit".into(),
        origin_country: "CN".into(),
    })
}

/// A `register_lot` payload.
pub fn lot(g: &str, lot: &str) -> Payload {
    Payload::RegisterLot(RegisterLot {
        gtin: parse_gtin(g),
        lot: lot.to_string(),
        origin_gln: None,
        produced_on: "2026-11-02".into(),
        quantity: 500,
        unit: "kg".into(),
        inputs: vec![],
        raw_materials: vec![],
        claims: vec![],
    })
}

/// The JSON body of a single submission.
pub fn tx_body(stx: &SignedTx) -> Value {
    serde_json::json!({ "tx": b64(&stx.encode()) })
}

/// What must not change when a submission is refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Status {
    /// Committed height.
    pub height: u64,
    /// State hash at that height.
    pub state_hash: String,
    /// Latest block hash.
    pub latest_block_hash: String,
    /// Transactions waiting.
    pub mempool_txs: u64,
}

/// A chain with two organizations and the router over it.
pub struct Fixture {
    /// The ledger.
    pub chain: TestChain,
    /// What the API reads.
    pub shared: Arc<Shared>,
    /// The router.
    pub app: Router,
    /// Admin of [`ORCHARD`] (roles: producer; prefix [`PREFIX`]).
    pub admin1: Signer,
    /// Admin of [`COLDCHAIN`] (roles: carrier, warehouse; no prefixes).
    pub admin2: Signer,
    /// The validator's key.
    pub validator: PublicKey,
}

impl Fixture {
    /// A fixture with the default mempool.
    pub fn new() -> Fixture {
        Self::build(None)
    }

    /// A fixture whose mempool holds at most `txs` transactions.
    pub fn with_mempool(txs: usize) -> Fixture {
        Self::build(Some(txs))
    }

    fn build(mempool_txs: Option<usize>) -> Fixture {
        let admin1 = Signer::new("admin-pujiang-orchard");
        let admin2 = Signer::new("admin-coldchain-express");
        let validator = SecretKey::from_label("validator-1");
        let genesis = test_genesis(
            &[
                (ORCHARD, &[Role::Producer], &[PREFIX], &admin1.key),
                (
                    COLDCHAIN,
                    &[Role::Carrier, Role::Warehouse],
                    &[],
                    &admin2.key,
                ),
            ],
            &validator,
        );
        assert_eq!(genesis.chain_id, CHAIN_ID);
        let validator_pub = validator.public();
        let chain = match mempool_txs {
            None => TestChain::new(genesis, validator),
            Some(n) => TestChain::open(&temp_dir("api-mempool"), genesis, validator, n, 1 << 30),
        };
        let shared = chain.shared();
        let app = waybill_api::app(shared.clone());
        Fixture {
            chain,
            shared,
            app,
            admin1,
            admin2,
            validator: validator_pub,
        }
    }

    /// POST /v1/tx (no wait).
    pub async fn submit(&self, stx: &SignedTx) -> Answer {
        post_json(&self.app, "/v1/tx", &tx_body(stx)).await
    }

    /// POST /v1/tx, assert 202 accepted; returns the id.
    pub async fn submit_ok(&self, stx: &SignedTx) -> String {
        let a = self.submit(stx).await;
        assert_eq!(
            a.status,
            StatusCode::ACCEPTED,
            "submission refused: {}",
            a.text()
        );
        let v = a.json();
        assert_eq!(v["status"], "accepted", "{v}");
        let id = v["tx_id"].as_str().expect("tx_id is a string").to_string();
        assert_eq!(
            id,
            stx.id().to_hex(),
            "tx_id is the SHA-256 of the canonical bytes"
        );
        id
    }

    /// Commit a block from the mempool; returns its height.
    pub fn commit(&mut self) -> u64 {
        self.chain.commit_block().expect("block commits").0
    }

    /// GET /v1/status.
    pub async fn status_json(&self) -> Value {
        get_ok(&self.app, "/v1/status").await
    }

    /// The parts of /v1/status a refused submission must not change.
    pub async fn status(&self) -> Status {
        let v = self.status_json().await;
        Status {
            height: v["height"].as_u64().expect("height"),
            state_hash: v["state_hash"].as_str().expect("state_hash").to_string(),
            latest_block_hash: v["latest_block_hash"]
                .as_str()
                .expect("latest_block_hash")
                .to_string(),
            mempool_txs: v["mempool_txs"].as_u64().expect("mempool_txs"),
        }
    }

    /// A counter or gauge from /metrics (a labelled one summed over its series).
    pub async fn metric(&self, name: &str) -> u64 {
        let a = get(&self.app, "/metrics").await;
        assert_eq!(a.status, StatusCode::OK);
        metric_value(&a.text(), name)
    }

    /// Admin 1 registers `m` with `roles`, committed in a block of its own.
    pub async fn register_orchard_member(
        &mut self,
        m: &Signer,
        name: &str,
        roles: &[Role],
    ) -> String {
        let stx = self.admin1.sign(member(m.public(), name, roles));
        let id = self.submit_ok(&stx).await;
        self.commit();
        self.assert_applied(&id).await;
        id
    }

    /// Admin 2 registers `m` with `roles`, committed in a block of its own.
    pub async fn register_coldchain_member(
        &mut self,
        m: &Signer,
        name: &str,
        roles: &[Role],
    ) -> String {
        let stx = self.admin2.sign(member(m.public(), name, roles));
        let id = self.submit_ok(&stx).await;
        self.commit();
        self.assert_applied(&id).await;
        id
    }

    /// GET /v1/txs/{id}, assert committed and applied; returns the view.
    pub async fn assert_applied(&self, id: &str) -> Value {
        let v = get_ok(&self.app, &format!("/v1/txs/{id}")).await;
        assert_eq!(v["receipt"]["status"], "applied", "{v}");
        v
    }

    /// GET /v1/txs/{id}, assert committed and rejected with `code`; returns the view.
    pub async fn assert_rejected(&self, id: &str, code: &str) -> Value {
        let v = get_ok(&self.app, &format!("/v1/txs/{id}")).await;
        assert_eq!(v["receipt"]["status"], "rejected", "{v}");
        assert_eq!(v["receipt"]["code"], code, "{v}");
        assert!(
            v["receipt"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
        assert!(
            v["height"].as_u64().is_some(),
            "a rejected transaction is still committed: {v}"
        );
        v
    }
}

/// The value of sample `name` in a Prometheus text exposition (a labelled family: the
/// sum over its series).
pub fn metric_value(text: &str, name: &str) -> u64 {
    let family_declared = text.lines().any(|l| {
        l.strip_prefix("# TYPE ")
            .and_then(|t| t.split_once(' '))
            .is_some_and(|(n, _)| n == name)
    });
    let values: Vec<u64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let n = series.split('{').next()?;
            (n == name).then(|| v.trim().parse().expect("integer sample"))
        })
        .collect();
    assert!(
        family_declared || !values.is_empty(),
        "metric {name} missing from:\n{text}"
    );
    // A labelled family: the sum over its series (none yet is 0).
    values.iter().sum()
}

/// A server on 127.0.0.1 over a router, as `waybill node` runs one.
pub struct TestServer {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    connections: waybill_api::ConnectionCount,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.connections.get()
    }

    /// Stop it and wait until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(std::time::Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within 10 s")
            .expect("server task")
            .expect("server ran");
    }
}

/// Serve `app` with `limits` on a free port of 127.0.0.1.
pub async fn spawn_server(app: Router, limits: waybill_api::ServerLimits) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let server = waybill_api::HttpServer::new(listener, app, limits);
    let connections = server.connections();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        connections,
        stop,
        task,
    }
}

/// `POST /epcis/capture{query}` of `body`, signed by `key` with nonce `nonce` (and
/// the tests' fixed expiry).
pub fn capture_request(key: &SecretKey, nonce: u64, body: &str, query: &str) -> Request<Body> {
    capture_request_until(key, nonce, test_expiry_ms(), body, query)
}

pub fn capture_request_until(
    key: &SecretKey,
    nonce: u64,
    expires_at_ms: u64,
    body: &str,
    query: &str,
) -> Request<Body> {
    let stx = waybill_client::sign_with(
        key,
        CHAIN_ID,
        nonce,
        expires_at_ms,
        Payload::CaptureEpcis(CaptureEpcis {
            document: body.to_string(),
        }),
    );
    Request::builder()
        .method(Method::POST)
        .uri(format!("/epcis/capture{query}"))
        .header(header::CONTENT_TYPE, "application/ld+json")
        .header("waybill-signer", key.public().to_hex())
        .header("waybill-nonce", nonce.to_string())
        .header("waybill-expires", expires_at_ms.to_string())
        .header("waybill-signature", hex::encode(stx.signature.0))
        .body(Body::from(body.to_string()))
        .expect("request builds")
}
