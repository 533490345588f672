//! The Waybill SDK: key files, building and signing transactions, and an HTTP
//! client for a node's API. The CLI is built on it; so can any integration.

pub mod keyfile;

use waybill_types::payload::CaptureEpcis;

use base64::Engine as _;
use serde_json::{json, Value};
use std::time::Duration;
use waybill_types::tx::TX_VERSION;
use waybill_types::{Hash, Payload, SecretKey, SignedTx, Transaction};

pub use keyfile::{KeyFile, KeyFileError};

/// How long after signing a transaction signed by [`sign`] may still be included in a
/// block: 10 minutes. Within it a lost answer can be retried with the same bytes (the
/// ledger takes a transaction once); after it the transaction is void.
pub const TX_EXPIRY_MS_DEFAULT: u64 = 10 * 60 * 1000;

/// Milliseconds since the Unix epoch by this machine's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The `Authorization` header of a request signed by member `key` now
/// (`Waybill key=…, ts=…, sig=…` over `METHOD\npath?query\ntimestamp`).
pub fn signed_request(key: &SecretKey, method: &str, path_and_query: &str) -> String {
    waybill_types::keys::read_authorization(key, method, path_and_query, now_ms())
}

/// Sign `payload` as `key` for `chain_id`: a random nonce, valid for
/// [`TX_EXPIRY_MS_DEFAULT`] from now. Needs nothing from a node, so any number of
/// processes can sign with one key at once.
pub fn sign(key: &SecretKey, chain_id: &str, payload: Payload) -> SignedTx {
    sign_with(
        key,
        chain_id,
        waybill_types::tx::random_nonce(),
        now_ms().saturating_add(TX_EXPIRY_MS_DEFAULT),
        payload,
    )
}

/// Sign `payload` with a chosen nonce and expiry (block time, ms since the Unix
/// epoch; at most `limits::TX_EXPIRY_WINDOW_MS_MAX` after the block that includes it).
pub fn sign_with(
    key: &SecretKey,
    chain_id: &str,
    nonce: u64,
    expires_at_ms: u64,
    payload: Payload,
) -> SignedTx {
    Transaction {
        version: TX_VERSION,
        chain_id: chain_id.to_string(),
        signer: key.public(),
        nonce,
        expires_at_ms,
        payload,
    }
    .sign(key)
}

/// A request to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Could not reach the node.
    #[error(
        "cannot reach the node at {url}: {source}; is `waybill node` running there?{}",
        https_hint(url)
    )]
    Unreachable {
        /// The URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The node answered with an error.
    #[error("node answered {status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable code.
        code: String,
        /// Message.
        message: String,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer from {url}: {reason}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The certificates to trust for an `https://` node could not be read.
    #[error("cannot use the TLS certificates in {path}: {reason}")]
    TrustedCertificates {
        /// The PEM file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// For an `https://` node: how to trust a certificate the system does not.
fn https_hint(url: &str) -> &'static str {
    if url.starts_with("https://") {
        " (if a private CA issued its certificate, or it is self-signed, trust that PEM file: `--ca FILE` on the command line, `Client::with_trusted_certificates` in the SDK)"
    } else {
        ""
    }
}

impl ClientError {
    /// The API's error code, if the node answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The error a node answered: an RFC 9457 problem document (`code` is our stable
/// machine code, `detail` the message; EPCIS validation adds `problems`, one per JSON
/// pointer). A body that is not one (a proxy's page) is quoted.
fn api_error(status: u16, body: Option<Value>, text: &str) -> ClientError {
    let Some(body) = body.filter(|b| b["code"].is_string()) else {
        let quoted: String = text.trim().chars().take(300).collect();
        return ClientError::Api {
            status,
            code: "unknown".into(),
            message: if quoted.is_empty() {
                "(no body)".into()
            } else {
                quoted
            },
        };
    };
    let code = body["code"].as_str().unwrap_or("unknown").to_string();
    let mut message = body["detail"]
        .as_str()
        .or_else(|| body["title"].as_str())
        .unwrap_or("")
        .to_string();
    if let Some(problems) = body["problems"].as_array() {
        for p in problems {
            message.push_str(&format!(
                "\n  {}: {}",
                p["pointer"].as_str().unwrap_or(""),
                p["message"].as_str().unwrap_or("")
            ));
        }
    }
    ClientError::Api {
        status,
        code,
        message,
    }
}

/// An HTTP client for one node.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

/// TLS for `https://` nodes runs on rustls' `ring` provider, installed as the process
/// default once (a no-op if the process installed one already). Call it before
/// building a `reqwest` client of your own: reqwest is built without a provider of
/// its own (no C toolchain) and panics without one.
pub fn ensure_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn http_builder() -> reqwest::ClientBuilder {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(70))
        .pool_max_idle_per_host(64)
}

impl Client {
    /// A client for the node at `base_url`, e.g. `http://127.0.0.1:8080`; an
    /// `https://` node must present a certificate the system trusts.
    pub fn new(base_url: &str) -> Client {
        let http = http_builder()
            .build()
            .expect("a reqwest client with a timeout and the system's roots always builds");
        Client {
            base: base_url.trim_end_matches('/').to_string(),
            http,
        }
    }

    /// A client for the `https://` node at `base_url` that trusts only the
    /// certificates in the PEM file `trusted` (a private CA, or the node's own
    /// self-signed certificate).
    pub fn with_trusted_certificates(
        base_url: &str,
        trusted: &std::path::Path,
    ) -> Result<Client, ClientError> {
        let err = |reason: String| ClientError::TrustedCertificates {
            path: trusted.display().to_string(),
            reason,
        };
        let pem = std::fs::read(trusted).map_err(|e| err(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| err(e.to_string()))?;
        if certs.is_empty() {
            return Err(err("holds no PEM certificate".into()));
        }
        let http = http_builder()
            .tls_certs_only(certs)
            .build()
            .map_err(|e| err(e.to_string()))?;
        Ok(Client {
            base: base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// The node's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(u16, Value), ClientError> {
        let (status, _, body) = self.send_full(req, url).await?;
        Ok((status, body))
    }

    async fn send_full(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(u16, reqwest::header::HeaderMap, Value), ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.map_err(|e| ClientError::Protocol {
            url: url.to_string(),
            reason: format!("cannot read the body: {e}"),
        })?;
        let body: Result<Value, _> = serde_json::from_str(&text);
        if status >= 400 {
            return Err(api_error(status, body.ok(), &text));
        }
        let body = body.map_err(|e| ClientError::Protocol {
            url: url.to_string(),
            reason: format!("body is not JSON: {e}"),
        })?;
        Ok((status, headers, body))
    }

    /// GET a path such as `/v1/status`, as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        let url = format!("{}{}", self.base, path);
        Ok(self.send(self.http.get(&url), &url).await?.1)
    }

    /// GET a path as member `key`: the request carries a read signature
    /// (`Authorization: Waybill key=…, ts=…, sig=…`).
    pub async fn get_as(&self, path: &str, key: &SecretKey) -> Result<Value, ClientError> {
        let url = format!("{}{}", self.base, path);
        let auth = signed_request(key, "GET", path);
        Ok(self
            .send(self.http.get(&url).header("authorization", auth), &url)
            .await?
            .1)
    }

    /// PUT `body` (JSON) to a path as member `key` (a signed request, as [`Client::get_as`]).
    pub async fn put_json_as(
        &self,
        path: &str,
        key: &SecretKey,
        body: &Value,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{}", self.base, path);
        let auth = signed_request(key, "PUT", path);
        Ok(self
            .send(
                self.http.put(&url).header("authorization", auth).json(body),
                &url,
            )
            .await?
            .1)
    }

    /// GET one page of a list as member `key`: the body and, when more remain, the
    /// path and query of the next page (from `Link: <…>; rel="next"`).
    pub async fn get_page_as(
        &self,
        path: &str,
        key: &SecretKey,
    ) -> Result<(Value, Option<String>), ClientError> {
        let url = format!("{}{}", self.base, path);
        let auth = signed_request(key, "GET", path);
        let (_, headers, body) = self
            .send_full(self.http.get(&url).header("authorization", auth), &url)
            .await?;
        let next = headers
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find(|l| l.contains("rel=\"next\""))
            .and_then(|l| Some(l.split_once('<')?.1.split_once('>')?.0.trim().to_string()));
        Ok((body, next))
    }

    /// Capture an EPCIS document as member `key` through `POST /epcis/capture`: the
    /// document is sent as it is, with the member's signature over the capture
    /// transaction in headers (`Waybill-Signer`, `Waybill-Nonce`, `Waybill-Expires`,
    /// `Waybill-Signature`). With `wait`, returns the finished capture job.
    pub async fn capture(
        &self,
        key: &SecretKey,
        chain_id: &str,
        document: String,
        wait: bool,
    ) -> Result<Value, ClientError> {
        let stx = sign(
            key,
            chain_id,
            Payload::CaptureEpcis(CaptureEpcis {
                document: document.clone(),
            }),
        );
        self.capture_signed(&stx, wait).await
    }

    /// Send a capture transaction signed beforehand (offline, or by another process)
    /// through `POST /epcis/capture`; its payload must be `capture_epcis`.
    pub async fn capture_signed(&self, stx: &SignedTx, wait: bool) -> Result<Value, ClientError> {
        let Payload::CaptureEpcis(CaptureEpcis { document }) = &stx.tx.payload else {
            return Err(ClientError::Protocol {
                url: format!("{}/epcis/capture", self.base),
                reason: format!(
                    "a capture carries a capture_epcis transaction, not {}",
                    stx.tx.payload.kind()
                ),
            });
        };
        let document = document.clone();
        let key_hex = stx.tx.signer.to_hex();
        let url = format!(
            "{}/epcis/capture{}",
            self.base,
            if wait {
                "?wait=true&timeout_ms=30000"
            } else {
                ""
            }
        );
        let req = self
            .http
            .post(&url)
            .header("content-type", "application/ld+json")
            .header("waybill-signer", key_hex)
            .header("waybill-nonce", stx.tx.nonce.to_string())
            .header("waybill-expires", stx.tx.expires_at_ms.to_string())
            .header("waybill-signature", hex::encode(stx.signature.0))
            .body(document);
        Ok(self.send(req, &url).await?.1)
    }

    /// The node's status.
    pub async fn status(&self) -> Result<Value, ClientError> {
        self.get("/v1/status").await
    }

    /// The chain id.
    pub async fn chain_id(&self) -> Result<String, ClientError> {
        let s = self.status().await?;
        s["chain_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Protocol {
                url: format!("{}/v1/status", self.base),
                reason: "no chain_id".into(),
            })
    }

    /// Submit one transaction; with `wait`, answer once it is committed (or dropped).
    pub async fn submit(&self, tx: &SignedTx, wait: bool) -> Result<Value, ClientError> {
        let url = format!("{}/v1/tx?wait={wait}", self.base);
        let body = json!({ "tx": base64::engine::general_purpose::STANDARD.encode(tx.encode()) });
        Ok(self.send(self.http.post(&url).json(&body), &url).await?.1)
    }

    /// What one transaction would do as the next block's only transaction
    /// (`POST /v1/tx/dry-run`): nothing is stored.
    pub async fn dry_run(&self, tx: &SignedTx) -> Result<Value, ClientError> {
        let url = format!("{}/v1/tx/dry-run", self.base);
        let body = json!({ "tx": base64::engine::general_purpose::STANDARD.encode(tx.encode()) });
        Ok(self.send(self.http.post(&url).json(&body), &url).await?.1)
    }

    /// Submit many transactions in one request; one result per transaction.
    pub async fn submit_batch(
        &self,
        txs: &[SignedTx],
        wait: bool,
    ) -> Result<Vec<Value>, ClientError> {
        let url = format!("{}/v1/txs?wait={wait}", self.base);
        let enc: Vec<String> = txs
            .iter()
            .map(|t| base64::engine::general_purpose::STANDARD.encode(t.encode()))
            .collect();
        let (_, body) = self
            .send(self.http.post(&url).json(&json!({ "txs": enc })), &url)
            .await?;
        body["results"]
            .as_array()
            .cloned()
            .ok_or_else(|| ClientError::Protocol {
                url,
                reason: "no results array".into(),
            })
    }

    /// A transaction by id.
    pub async fn tx(&self, id: &Hash) -> Result<Value, ClientError> {
        self.get(&format!("/v1/txs/{id}")).await
    }

    /// A block by height.
    pub async fn block(&self, height: u64) -> Result<Value, ClientError> {
        self.get(&format!("/v1/blocks/{height}")).await
    }

    /// Wait until the node answers its status, up to `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Value, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.status().await {
                Ok(v) => return Ok(v),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}
