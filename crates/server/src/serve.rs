//! Running a node with its HTTP API until Ctrl-C (or SIGTERM), or until consensus halts.

use anyhow::Context as _;
use std::net::SocketAddr;
use std::time::Duration;
use waybill_client::KeyFile;
use waybill_node::{NodeOptions, RunningNode};

use crate::home::Home;

/// The API's TLS certificate chain and private key (PEM files).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Where the node listens.
pub struct Listen {
    pub api: String,
    pub p2p: String,
    pub peers: Vec<String>,
    pub peer_apis: Vec<String>,
    /// Fault injection for tests only.
    pub byzantine: Option<waybill_node::ByzantineConfig>,
    /// Serve the API over TLS (plain HTTP without).
    pub tls: Option<TlsFiles>,
}

/// A running node and its API server.
pub struct Served {
    pub node: RunningNode,
    pub api_addr: SocketAddr,
    /// The API's base URL: `http://ADDR`, or `https://ADDR` with TLS.
    pub api_url: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    stop_api: tokio::sync::oneshot::Sender<()>,
    /// The operator channel (`operator.sock`), if it could be opened.
    operator: Option<crate::operator::OperatorChannel>,
}

/// Longest the API server may take to stop: its grace for answers in progress and a
/// margin for closing connections.
const API_STOP_MS_MAX: u64 = waybill_api::SHUTDOWN_GRACE_MS + 500;

impl Served {
    /// Stop the API server (answers in progress get its shutdown grace) and consensus,
    /// at the same time; each is bounded, so this returns within a few seconds.
    pub async fn run_shutdown(self) {
        let Served {
            node,
            server,
            stop_api,
            operator,
            ..
        } = self;
        if let Some(channel) = operator {
            channel.close();
        }
        let _ = stop_api.send(());
        let api = async move {
            match tokio::time::timeout(Duration::from_millis(API_STOP_MS_MAX), server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    tracing::warn!(error = %e, "the API server stopped with an error")
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "the API server task failed"),
                Err(_) => tracing::warn!("the API server did not stop in time; dropping it"),
            }
        };
        tokio::join!(api, node.consensus.shutdown());
    }

    /// Run until Ctrl-C / SIGTERM (Ok) or until consensus or the server fails (Err).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install the SIGTERM handler")?;
        let outcome = tokio::select! {
            _ = tokio::signal::ctrl_c() => { eprintln!("\nstopping (Ctrl-C)…"); Ok(()) }
            _ = term.recv() => { eprintln!("stopping (SIGTERM)…"); Ok(()) }
            alert = self.node.shared.tamper_alert_raised() => Err(anyhow::anyhow!("TAMPER ALERT: {alert}; the node stops serving. Run `waybill verify --dir` for the full check; restore from a backup or resync from peers")),
            r = self.node.consensus.stopped() => Err(r.err().unwrap_or_else(|| anyhow::anyhow!("consensus stopped"))).context("consensus halted; the node stops rather than diverge"),
        };
        self.run_shutdown().await;
        outcome
    }
}

/// The TCP socket address of a `/ip4/…/tcp/PORT` or `/ip6/…/tcp/PORT` multiaddr with a
/// port other than 0 (what can be checked before libp2p binds it).
fn p2p_tcp_addr(multiaddr: &str) -> Option<SocketAddr> {
    let parts: Vec<&str> = multiaddr.split('/').collect();
    match parts.as_slice() {
        ["", "ip4" | "ip6", ip, "tcp", port, ..] => {
            let ip: std::net::IpAddr = ip.parse().ok()?;
            let port: u16 = port.parse().ok()?;
            (port != 0).then_some(SocketAddr::new(ip, port))
        }
        _ => None,
    }
}

/// Refuse a p2p address whose TCP port another process holds: two nodes on one port
/// would not both be reachable, and libp2p would not say so.
pub fn check_p2p_port_free(multiaddr: &str) -> anyhow::Result<()> {
    let Some(addr) = p2p_tcp_addr(multiaddr) else {
        return Ok(());
    };
    std::net::TcpListener::bind(addr).map(drop).map_err(|e| {
        anyhow::anyhow!(
            "p2p port {} ({multiaddr}) is in use by another process ({e}): is another node or demo running? pass --p2p-listen /ip4/{}/tcp/PORT",
            addr.port(),
            addr.ip()
        )
    })
}

/// Start the node in `home` and its API.
pub async fn start(home: &Home, listen: Listen) -> anyhow::Result<Served> {
    start_holding(home, listen, &[]).await
}

/// [`start`], with readiness held back (`/readyz` answers 503 naming each) until each
/// of `holds` — a condition and what it awaits — is released on
/// `node.shared.readiness`. They are set before the API serves its first request.
pub async fn start_holding(
    home: &Home,
    listen: Listen,
    holds: &[(&'static str, &str)],
) -> anyhow::Result<Served> {
    let genesis = home.read_genesis()?;
    let (_, validator_key) = KeyFile::read(&home.validator_key())
        .with_context(|| format!("cannot read the validator key of {}", home.dir.display()))?;
    let mut opts = NodeOptions::new(home.data_dir(), genesis, validator_key, listen.p2p.clone());
    opts.peers = listen.peers;
    opts.peer_apis = listen.peer_apis;
    opts.byzantine = listen.byzantine;
    opts.signing_mark = home.signing_mark();
    if home.node_file().exists() {
        opts.hosted_orgs = home.read_node_file()?.hosts_private_data_for;
    }
    // Bind the API first and check the p2p port, so a busy port fails fast, before
    // consensus starts.
    let listener = tokio::net::TcpListener::bind(&listen.api)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for the API; is another node running? pass --listen",
                listen.api
            )
        })?;
    let api_addr = listener.local_addr().context("listener address")?;
    let tls = listen
        .tls
        .as_ref()
        .map(|t| waybill_api::tls::acceptor(&t.cert, &t.key))
        .transpose()?;
    check_p2p_port_free(&listen.p2p)?;
    let node = waybill_node::start(opts).await?;
    for (condition, awaiting) in holds {
        node.shared.readiness.hold(condition, *awaiting)?;
    }
    let operator = open_operator_channel(home, &node);
    let app = waybill_api::app(node.shared.clone());
    let (stop_api, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server =
        waybill_api::HttpServer::new(listener, app, waybill_api::ServerLimits::default());
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(acceptor) = tls {
        server = server.with_tls(acceptor);
    }
    let server = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    tracing::info!(%api_addr, p2p = %listen.p2p, "node started");
    Ok(Served {
        node,
        api_addr,
        api_url: format!("{scheme}://{api_addr}"),
        server,
        stop_api,
        operator,
    })
}

/// The node's operator channel; a node whose channel cannot open (e.g. a directory
/// path too long for a Unix socket) still runs, and says how to back it up instead.
fn open_operator_channel(
    home: &Home,
    node: &RunningNode,
) -> Option<crate::operator::OperatorChannel> {
    let path = home.operator_socket();
    match crate::operator::OperatorChannel::open(&path, node.shared.clone()) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "no operator channel: `waybill backup` will read the store directly");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2p_addresses_that_can_be_checked() {
        assert_eq!(
            p2p_tcp_addr("/ip4/127.0.0.1/tcp/27000"),
            Some("127.0.0.1:27000".parse().expect("addr"))
        );
        assert_eq!(
            p2p_tcp_addr("/ip6/::1/tcp/27001/p2p/x"),
            Some("[::1]:27001".parse().expect("addr"))
        );
        assert_eq!(p2p_tcp_addr("/ip4/127.0.0.1/tcp/0"), None);
        assert_eq!(p2p_tcp_addr("/dns4/node.example/tcp/27000"), None);
        assert_eq!(p2p_tcp_addr("/ip4/127.0.0.1/udp/27000/quic-v1"), None);
    }

    #[test]
    fn a_taken_p2p_port_is_refused_by_number() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = held.local_addr().expect("addr").port();
        let e = check_p2p_port_free(&format!("/ip4/127.0.0.1/tcp/{port}")).expect_err("taken");
        assert!(e.to_string().contains(&port.to_string()) && e.to_string().contains("in use"));
        drop(held);
        check_p2p_port_free(&format!("/ip4/127.0.0.1/tcp/{port}")).expect("free again");
    }
}
