//! Transaction gossip: transactions that clients submit to this node are forwarded,
//! in batches, to every peer's API (`POST /v1/txs?gossip=true`), so that whichever
//! validator proposes next has them. Transactions that arrive by gossip are not
//! forwarded again; peers de-duplicate by transaction id.
//!
//! Bounded everywhere: one queue of transactions, one queue of batches per peer; when
//! a queue is full the newest batch is dropped for that peer (the transaction is still
//! in this node's mempool and will be proposed by this node in its turn).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

/// Transactions waiting to be batched.
pub const GOSSIP_QUEUE_TXS_MAX: usize = 100_000;
/// Batches waiting per peer.
pub const GOSSIP_PEER_BATCHES_MAX: usize = 64;
/// Most transactions in one gossip batch.
pub const GOSSIP_BATCH_TXS_MAX: usize = 1_000;
/// Most transaction bytes in one forwarded batch: base64 of this stays well under the
/// peer's request body limit, even with 1 MiB EPCIS captures.
pub const GOSSIP_BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;
/// How long a batch waits to fill.
pub const GOSSIP_BATCH_WAIT: Duration = Duration::from_millis(5);
/// Longest a forward to one peer may take.
pub const GOSSIP_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The sending side, held by [`crate::Shared`].
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Vec<u8>>,
    dropped: Arc<AtomicU64>,
}

impl Outbox {
    /// Queue an admitted transaction's bytes for forwarding; dropped if the queue is full.
    pub fn push(&self, bytes: Vec<u8>) {
        if self.tx.try_send(bytes).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Transactions not forwarded because a queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Start forwarding to `peer_apis` (base URLs such as `http://10.0.0.2:8080`).
pub fn start(peer_apis: Vec<String>) -> Outbox {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(GOSSIP_QUEUE_TXS_MAX);
    let dropped = Arc::new(AtomicU64::new(0));
    let peers: Vec<mpsc::Sender<Arc<Vec<String>>>> = peer_apis
        .into_iter()
        .map(|url| spawn_peer(url, dropped.clone()))
        .collect();
    tokio::spawn(async move {
        let mut carried: Option<Vec<u8>> = None;
        loop {
            let first = match carried.take() {
                Some(b) => b,
                None => match rx.recv().await {
                    Some(b) => b,
                    None => break,
                },
            };
            let mut bytes = first.len();
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + GOSSIP_BATCH_WAIT;
            while batch.len() < GOSSIP_BATCH_TXS_MAX {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(b)) if bytes + b.len() > GOSSIP_BATCH_BYTES_MAX => {
                        carried = Some(b);
                        break;
                    }
                    Ok(Some(b)) => {
                        bytes += b.len();
                        batch.push(b);
                    }
                    _ => break,
                }
            }
            use base64::Engine as _;
            let encoded: Arc<Vec<String>> = Arc::new(
                batch
                    .iter()
                    .map(|b| {
                        crate::wire_tap::record(b);
                        base64::engine::general_purpose::STANDARD.encode(b)
                    })
                    .collect(),
            );
            for p in &peers {
                if p.try_send(encoded.clone()).is_err() {
                    tracing::debug!("gossip queue to a peer is full; dropping a batch for it");
                }
            }
        }
    });
    Outbox { tx, dropped }
}

fn spawn_peer(url: String, dropped: Arc<AtomicU64>) -> mpsc::Sender<Arc<Vec<String>>> {
    let (tx, mut rx) = mpsc::channel::<Arc<Vec<String>>>(GOSSIP_PEER_BATCHES_MAX);
    let endpoint = format!("{}/v1/txs?gossip=true", url.trim_end_matches('/'));
    tokio::spawn(async move {
        // reqwest is built without a TLS provider of its own: the SDK installs
        // rustls' `ring` one, process-wide, once.
        waybill_client::ensure_crypto_provider();
        let http = match reqwest::Client::builder()
            .timeout(GOSSIP_REQUEST_TIMEOUT)
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(%e, "cannot build the gossip HTTP client; gossip to {endpoint} is off");
                return;
            }
        };
        let mut failing = false;
        while let Some(batch) = rx.recv().await {
            let body = serde_json::json!({ "txs": &*batch });
            match http.post(&endpoint).json(&body).send().await {
                Ok(r) if r.status().is_success() => {
                    if failing {
                        tracing::info!(peer = %endpoint, "gossip to peer works again");
                        failing = false;
                    }
                }
                Ok(r) => {
                    tracing::warn!(peer = %endpoint, status = %r.status(), "peer refused a gossip batch");
                }
                Err(e) => {
                    dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if !failing {
                        tracing::warn!(peer = %endpoint, error = %e, "gossip to peer failed; will keep trying");
                        failing = true;
                    }
                }
            }
        }
    });
    tx
}
