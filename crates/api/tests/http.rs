//! The API over real sockets, as a client on the network meets it: every error the
//! HTTP stack makes itself (hyper's parse errors, limits, axum's rejections and
//! fallbacks) is an RFC 9457 problem document; a huge `Content-Length` is refused
//! before any body is read; slow and idle clients are cut off.
//!
//! Each test starts the server on 127.0.0.1:0 and talks raw HTTP/1.1 over a TCP
//! socket, with every read bounded.

#[allow(dead_code)]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use common::Fixture;

/// Longest any single exchange may take before the test fails.
const EXCHANGE_BOUND: Duration = Duration::from_secs(10);

/// An answer read off the socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Assert an RFC 9457 problem document with `status` and `code`; returns it.
    #[track_caller]
    fn assert_problem(&self, status: u16, code: &str) -> Value {
        let text = String::from_utf8_lossy(&self.body).into_owned();
        assert_eq!(self.status, status, "status; body {text}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{status} `{code}` is a problem document; body {text}"
        );
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("problem body is not JSON ({e}): {text}"));
        assert_eq!(v["status"], status, "{v}");
        assert_eq!(v["code"], code, "{v}");
        assert!(v["type"].is_string() && v["title"].is_string(), "{v}");
        assert!(
            v["detail"].as_str().is_some_and(|d| !d.trim().is_empty()),
            "{v}"
        );
        v
    }
}

/// Parse one answer from `buf` if it is complete (head and `content-length` body).
fn parse_answer(buf: &[u8]) -> Option<Raw> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().expect("numeric content-length"))
        .unwrap_or(0);
    let body = buf.get(end + 4..end + 4 + len)?.to_vec();
    Some(Raw {
        status,
        headers,
        body,
    })
}

/// Write `request` (a write that fails because the server already answered and
/// closed is fine) and read one answer, bounded.
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> Raw {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        wr
    });
    let mut buf = Vec::new();
    let answer = tokio::time::timeout(EXCHANGE_BOUND, async {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(a) = parse_answer(&buf) {
                return a;
            }
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    return parse_answer(&buf).unwrap_or_else(|| {
                        panic!(
                            "connection closed without a complete answer: {:?}",
                            String::from_utf8_lossy(&buf)
                        )
                    })
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no answer within {EXCHANGE_BOUND:?}; got {:?}",
            String::from_utf8_lossy(&buf)
        )
    });
    writer.abort();
    answer
}

fn get_request(target: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nhost: test\r\n{extra_headers}\r\n").into_bytes()
}

/// Wait until the server closes `stream` (EOF or reset), bounded; panics otherwise.
async fn closed_within(stream: &mut TcpStream, bound: Duration, what: &str) {
    let mut chunk = [0u8; 4096];
    let outcome = tokio::time::timeout(bound, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "{what}: the server kept the connection open for {bound:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_made_by_the_http_stack_are_problem_documents_on_the_wire() {
    let f = Fixture::new();
    let server = common::spawn_server(f.app.clone(), waybill_api::ServerLimits::default()).await;
    let addr = server.addr;

    fallbacks_rejections_and_targets_on_the_wire(addr).await;
    heads_and_bodies_on_the_wire(addr).await;
    server.stop().await;
}

async fn fallbacks_rejections_and_targets_on_the_wire(addr: std::net::SocketAddr) {
    // Fallbacks and axum's own rejections.
    exchange(addr, get_request("/nope", ""))
        .await
        .assert_problem(404, "no_such_route");
    exchange(
        addr,
        b"DELETE /v1/status HTTP/1.1\r\nhost: t\r\n\r\n".to_vec(),
    )
    .await
    .assert_problem(405, "method_not_allowed");
    // A percent-encoding that does not decode to UTF-8, in a path parameter.
    exchange(addr, get_request("/v1/proofs/01/%FF%FE", ""))
        .await
        .assert_problem(400, "bad_digital_link");
    exchange(addr, get_request("/v1/products/%FF", ""))
        .await
        .assert_problem(400, "bad_path");
    exchange(addr, get_request("/v1/blocks?limit=many", ""))
        .await
        .assert_problem(400, "bad_query");

    // Request targets: over our limit, and over hyper's own (64 KiB).
    let long = format!(
        "/v1/status?pad={}",
        "a".repeat(waybill_types::limits::REQUEST_TARGET_BYTES_MAX)
    );
    let v = exchange(addr, get_request(&long, ""))
        .await
        .assert_problem(414, "uri_too_long");
    assert!(
        v["detail"].as_str().is_some_and(
            |d| d.contains(&waybill_types::limits::REQUEST_TARGET_BYTES_MAX.to_string())
        ),
        "the detail names the limit: {v}"
    );
    let huge = format!("/v1/status?pad={}", "a".repeat(70_000));
    exchange(addr, get_request(&huge, ""))
        .await
        .assert_problem(414, "uri_too_long");
    // At the limit the request is served.
    let at = format!(
        "/v1/status?pad={}",
        "a".repeat(waybill_types::limits::REQUEST_TARGET_BYTES_MAX - "/v1/status?pad=".len())
    );
    assert_ne!(exchange(addr, get_request(&at, "")).await.status, 414);
}

async fn heads_and_bodies_on_the_wire(addr: std::net::SocketAddr) {
    // Header fields: over our byte limit, over hyper's buffer, and too many.
    let big = format!(
        "x-pad: {}\r\n",
        "b".repeat(waybill_types::limits::REQUEST_HEADER_BYTES_MAX)
    );
    exchange(addr, get_request("/v1/status", &big))
        .await
        .assert_problem(431, "headers_too_large");
    let enormous = format!("x-pad: {}\r\n", "b".repeat(600_000));
    exchange(addr, get_request("/v1/status", &enormous))
        .await
        .assert_problem(431, "headers_too_large");
    let many: String = (0..waybill_types::limits::REQUEST_HEADERS_MAX + 1)
        .map(|i| format!("x-h{i}: v\r\n"))
        .collect();
    exchange(addr, get_request("/v1/status", &many))
        .await
        .assert_problem(431, "headers_too_large");
    let very_many: String = (0..1_000).map(|i| format!("x-h{i}: v\r\n")).collect();
    exchange(addr, get_request("/v1/status", &very_many))
        .await
        .assert_problem(431, "headers_too_large");

    // A request hyper cannot parse at all.
    exchange(addr, b"NOT AN HTTP REQUEST\r\n\r\n".to_vec())
        .await
        .assert_problem(400, "bad_request");
    exchange(
        addr,
        b"GET /v1/status HTTP/1.1\r\nbad header\r\n\r\n".to_vec(),
    )
    .await
    .assert_problem(400, "bad_request");

    // A chunked body that grows past the body limit.
    let chunk = vec![b'x'; 1024 * 1024];
    let mut req = b"POST /v1/tx HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..(waybill_types::limits::REQUEST_BODY_BYTES_MAX / chunk.len() + 1) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(&chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    exchange(addr, req)
        .await
        .assert_problem(413, "body_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_content_length_is_refused_before_the_body_is_read() {
    let f = Fixture::new();
    let server = common::spawn_server(f.app.clone(), waybill_api::ServerLimits::default()).await;
    for (route, ct) in [
        ("/v1/tx", "application/json"),
        ("/v1/txs", "application/json"),
        ("/epcis/capture", "application/ld+json"),
    ] {
        // Announce 1 TB, send nothing: the answer must come without waiting for the body.
        let req = format!(
            "POST {route} HTTP/1.1\r\nhost: t\r\ncontent-type: {ct}\r\ncontent-length: 1000000000000\r\n\r\n"
        );
        let a = exchange(server.addr, req.into_bytes()).await;
        let v = a.assert_problem(413, "body_too_large");
        assert!(
            v["detail"]
                .as_str()
                .is_some_and(|d| d.contains("1000000000000")),
            "the detail names the announced length: {v}"
        );
        assert_eq!(a.header("connection"), Some("close"), "{route}");
    }
    // One byte over the limit is refused the same way; at the limit the body is read.
    let over = waybill_types::limits::REQUEST_BODY_BYTES_MAX + 1;
    let req = format!(
        "POST /v1/tx HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: {over}\r\n\r\n"
    );
    exchange(server.addr, req.into_bytes())
        .await
        .assert_problem(413, "body_too_large");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_connections_are_closed() {
    let f = Fixture::new();
    let limits = waybill_api::ServerLimits {
        header_read_timeout_ms: 300,
        ..Default::default()
    };
    let server = common::spawn_server(f.app.clone(), limits).await;

    // A client that trickles its request head, one byte at a time, never finishing.
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    let trickle = tokio::time::timeout(EXCHANGE_BOUND, async {
        for b in b"GET /v1/status HTTP/1.1\r\nx-slow: ".iter().cycle() {
            if slow.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        trickle.is_ok(),
        "a client trickling its headers was served for {EXCHANGE_BOUND:?}"
    );

    // A client that connects and says nothing.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    closed_within(&mut silent, EXCHANGE_BOUND, "silent client").await;

    // A keep-alive client that goes idle after its answer.
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    idle.write_all(&get_request("/v1/status", ""))
        .await
        .expect("write");
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    while parse_answer(&got).is_none() {
        let n = tokio::time::timeout(EXCHANGE_BOUND, idle.read(&mut buf))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(parse_answer(&got).expect("answer").status, 200);
    closed_within(&mut idle, EXCHANGE_BOUND, "idle keep-alive client").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped() {
    let f = Fixture::new();
    let limits = waybill_api::ServerLimits {
        write_stall_timeout_ms: 300,
        ..Default::default()
    };
    let server = common::spawn_server(f.app.clone(), limits).await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    // Many pipelined requests whose answers (the OpenAPI document, 400 times: far more
    // than socket buffers hold) are never read.
    let mut pipelined = Vec::new();
    for _ in 0..400 {
        pipelined.extend_from_slice(&get_request("/openapi.json", ""));
    }
    let (_rd, mut wr) = stream.into_split();
    let _ = tokio::time::timeout(EXCHANGE_BOUND, wr.write_all(&pipelined)).await;
    // The server gives up on the connection instead of holding it forever.
    let deadline = tokio::time::Instant::now() + EXCHANGE_BOUND;
    while server.open_connections() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a client that reads nothing kept its connection for {EXCHANGE_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}
