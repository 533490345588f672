//! The API over TLS (`--tls-cert`, `--tls-key`): rustls on the `ring` provider. A
//! client that trusts the node's certificate gets the same answers as over plain
//! HTTP; one that does not, or that speaks plain HTTP, gets nothing; a client that
//! never finishes its handshake is cut off like a slow request head; bad certificate
//! or key files are refused with a message naming them.
//!
//! The certificates in `tests/fixtures/tls/` are self-signed P-256 test certificates
//! for 127.0.0.1 and localhost (`other`: another node's), valid until 2126, made with
//! `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
//! -subj "/CN=waybill test node" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost"
//! -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature"
//! -addext "extendedKeyUsage=serverAuth"` (a CA certificate is refused as a server's).

#[allow(dead_code)]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use waybill_api::tls::{acceptor, TlsError};
use waybill_client::{Client, ClientError};

use common::Fixture;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

struct TlsServer {
    addr: std::net::SocketAddr,
    connections: waybill_api::ConnectionCount,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn spawn_tls(f: &Fixture, limits: waybill_api::ServerLimits) -> TlsServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let tls = acceptor(&fixture("node.cert.pem"), &fixture("node.key.pem")).expect("test cert");
    let server = waybill_api::HttpServer::new(listener, f.app.clone(), limits).with_tls(tls);
    let connections = server.connections();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    TlsServer {
        addr,
        connections,
        stop,
        task,
    }
}

impl TlsServer {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within 10 s")
            .expect("server task")
            .expect("server ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trusts_the_certificate_is_served_over_tls() {
    let f = Fixture::new();
    let server = spawn_tls(&f, waybill_api::ServerLimits::default()).await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let client =
        Client::with_trusted_certificates(&url, &fixture("node.cert.pem")).expect("trust file");
    let status = client.get("/v1/status").await.expect("status over TLS");
    assert_eq!(status["chain_id"], f.status_json().await["chain_id"]);
    // The host name in the certificate works too.
    let by_name = Client::with_trusted_certificates(
        &format!("https://localhost:{}", server.addr.port()),
        &fixture("node.cert.pem"),
    )
    .expect("trust file");
    by_name.get("/v1/status").await.expect("status by name");

    // Trusting another certificate, or speaking plain HTTP, gets no answer.
    let stranger =
        Client::with_trusted_certificates(&url, &fixture("other.cert.pem")).expect("trust file");
    let e = stranger
        .get("/v1/status")
        .await
        .expect_err("an untrusted certificate");
    assert!(matches!(e, ClientError::Unreachable { .. }), "{e}");
    let plain = Client::new(&format!("http://127.0.0.1:{}", server.addr.port()));
    assert!(plain.get("/v1/status").await.is_err(), "plain HTTP to TLS");
    // Nor does the system's trust store know the test certificate.
    assert!(Client::new(&url).get("/v1/status").await.is_err());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_finishes_is_cut_off() {
    let f = Fixture::new();
    let limits = waybill_api::ServerLimits {
        header_read_timeout_ms: 300,
        ..waybill_api::ServerLimits::default()
    };
    let server = spawn_tls(&f, limits).await;
    let mut idle = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    idle.write_all(&[0x16, 0x03, 0x01])
        .await
        .expect("half a record");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.connections.get() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a stalled handshake is closed within the header-read timeout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

/// The error of a configuration that must fail.
fn refused(cert: &str, key: &str) -> TlsError {
    match acceptor(&fixture(cert), &fixture(key)) {
        Ok(_) => panic!("{cert} with {key} must be refused"),
        Err(e) => e,
    }
}

#[test]
fn bad_certificate_and_key_files_are_named() {
    let e = refused("no-such.pem", "node.key.pem");
    assert!(
        matches!(
            &e,
            TlsError::File {
                what: "certificate",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("no-such.pem"), "{e}");

    let e = refused("node.key.pem", "node.key.pem");
    assert!(e.to_string().contains("no PEM certificate"), "{e}");

    let e = refused("node.cert.pem", "node.cert.pem");
    assert!(
        matches!(
            &e,
            TlsError::File {
                what: "private key",
                ..
            }
        ),
        "{e}"
    );

    let e = refused("node.cert.pem", "other.key.pem");
    assert!(matches!(&e, TlsError::Config { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("node.cert.pem") && msg.contains("other.key.pem"),
        "{msg}"
    );

    acceptor(&fixture("node.cert.pem"), &fixture("node.key.pem")).expect("the matching pair");
}
