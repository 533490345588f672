//! Running a node with its HTTP API until Ctrl-C (or SIGTERM), or until consensus halts.

use anyhow::Context as _;
use std::net::SocketAddr;
use waybill_client::KeyFile;
use waybill_node::{NodeOptions, RunningNode};

use crate::home::Home;

/// Where the node listens.
pub struct Listen {
    pub api: String,
    pub p2p: String,
    pub peers: Vec<String>,
    pub peer_apis: Vec<String>,
    /// Fault injection for tests only.
    pub byzantine: Option<waybill_node::ByzantineConfig>,
}

/// A running node and its API server.
pub struct Served {
    pub node: RunningNode,
    pub api_addr: SocketAddr,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Stop the API server and consensus.
    pub async fn run_shutdown(self) {
        self.server.abort();
        self.node.consensus.shutdown().await;
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
        self.server.abort();
        self.node.consensus.shutdown().await;
        outcome
    }
}

/// Start the node in `home` and its API.
pub async fn start(home: &Home, listen: Listen) -> anyhow::Result<Served> {
    let genesis = home.read_genesis()?;
    let (_, validator_key) = KeyFile::read(&home.validator_key())
        .with_context(|| format!("cannot read the validator key of {}", home.dir.display()))?;
    let mut opts = NodeOptions::new(home.data_dir(), genesis, validator_key, listen.p2p.clone());
    opts.peers = listen.peers;
    opts.peer_apis = listen.peer_apis;
    opts.byzantine = listen.byzantine;
    opts.signing_mark = home.signing_mark();
    // Bind the API first so a busy port fails fast, before consensus starts.
    let listener = tokio::net::TcpListener::bind(&listen.api)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for the API; is another node running? pass --listen",
                listen.api
            )
        })?;
    let api_addr = listener.local_addr().context("listener address")?;
    let node = waybill_node::start(opts).await?;
    let app = waybill_api::app(node.shared.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    tracing::info!(%api_addr, p2p = %listen.p2p, "node started");
    Ok(Served {
        node,
        api_addr,
        server,
    })
}
