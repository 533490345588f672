//! The operator channel: a Unix socket in the node directory (`operator.sock`, mode
//! 0600) through which the node's operator asks the running node for work that needs
//! the node itself — today, a backup taken inside one read transaction of the node's
//! store, so the copy is exactly the state after one committed block while blocks keep
//! committing.
//!
//! Only the operator reaches it: the socket file is readable and writable by the
//! node's OS user alone, and each connection's peer credentials are checked against
//! the socket's owner (root may also connect). Nothing on it is reachable from the
//! network, and no key or secret crosses it.
//!
//! The protocol is one JSON line each way: a [`Request`], then a [`Reply`].

use serde::{Deserialize, Serialize};
use std::io::{BufRead as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
use waybill_node::Shared;

/// The socket's file name inside the node directory.
pub const SOCKET_NAME: &str = "operator.sock";
/// Longest request line the node reads.
pub const REQUEST_BYTES_MAX: u64 = 4_096;
/// How long the node waits for a connected client's request line.
const REQUEST_WAIT: Duration = Duration::from_secs(10);
/// How long a client waits for the node's answer (a backup of a large store takes a
/// while: it is one copy of every table).
pub const REPLY_WAIT: Duration = Duration::from_secs(3_600);

/// What the operator asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Write a backup of the store to `out` (an absolute path that does not exist),
    /// from one read transaction.
    Backup { out: PathBuf },
}

/// What the node answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    /// The backup is written (whole, fsynced): the chain's head it holds.
    BackedUp {
        height: u64,
        block_hash: String,
        bytes: u64,
    },
    /// The request was not carried out, and why.
    Refused { error: String },
}

/// Why a client could not get an answer from a node.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// No node listens on the socket (no socket file, or a stale one).
    #[error("no node is running on {path} ({source})")]
    NoNode {
        path: String,
        source: std::io::Error,
    },
    /// The node was reached, but the exchange failed.
    #[error("the operator channel {path} failed: {reason}")]
    Failed { path: String, reason: String },
}

/// The open operator channel of a running node; closed (socket file removed) by
/// [`OperatorChannel::close`] or when dropped.
#[derive(Debug)]
pub struct OperatorChannel {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl OperatorChannel {
    /// Listen on `path` for the operator of the node whose state is `shared`. A stale
    /// socket file (no node answers on it) is replaced; a live one is refused, since
    /// another node runs on this directory.
    pub fn open(path: &Path, shared: Arc<Shared>) -> anyhow::Result<OperatorChannel> {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "another node answers on {}; is a node already running on this directory?",
                path.display()
            );
        }
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot remove the stale socket {}: {e}", path.display()),
        }
        let listener = tokio::net::UnixListener::bind(path)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| anyhow::anyhow!("cannot restrict {} to its owner: {e}", path.display()))?;
        let owner = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
            .uid();
        let task = tokio::spawn(accept_loop(listener, owner, shared));
        tracing::info!(socket = %path.display(), "operator channel open");
        Ok(OperatorChannel {
            path: path.to_path_buf(),
            task,
        })
    }

    /// Stop answering and remove the socket file.
    pub fn close(self) {
        // Drop does the work.
    }
}

impl Drop for OperatorChannel {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept_loop(listener: tokio::net::UnixListener, owner: u32, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_one(stream, owner, shared.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "operator channel: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_one(stream: tokio::net::UnixStream, owner: u32, shared: Arc<Shared>) {
    let reply = match stream.peer_cred() {
        Ok(c) if c.uid() == owner || c.uid() == 0 => None,
        Ok(c) => Some(refused(format!(
            "uid {} is not the node's operator (uid {owner}); connect as the user that runs the node",
            c.uid()
        ))),
        Err(e) => Some(refused(format!("cannot read the caller's credentials: {e}"))),
    };
    let (read, mut write) = stream.into_split();
    let reply = match reply {
        Some(r) => r,
        None => match read_request(read).await {
            Ok(req) => carry_out(req, &shared).await,
            Err(e) => refused(e),
        },
    };
    let mut line = serde_json::to_vec(&reply).expect("a reply serializes");
    line.push(b'\n');
    if let Err(e) = write.write_all(&line).await {
        tracing::warn!(error = %e, "operator channel: cannot answer");
    }
}

fn refused(error: String) -> Reply {
    tracing::warn!(%error, "operator request refused");
    Reply::Refused { error }
}

async fn read_request(read: tokio::net::unix::OwnedReadHalf) -> Result<Request, String> {
    let mut line = String::new();
    let mut limited =
        tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, REQUEST_BYTES_MAX + 1));
    match tokio::time::timeout(REQUEST_WAIT, limited.read_line(&mut line)).await {
        Err(_) => return Err(format!("no request within {} s", REQUEST_WAIT.as_secs())),
        Ok(Err(e)) => return Err(format!("cannot read the request: {e}")),
        Ok(Ok(_)) => {}
    }
    if line.len() as u64 > REQUEST_BYTES_MAX {
        return Err(format!(
            "request longer than {REQUEST_BYTES_MAX} bytes; send one JSON line"
        ));
    }
    serde_json::from_str(line.trim_end()).map_err(|e| {
        format!("malformed request ({e}); send one JSON line such as {{\"op\":\"backup\",\"out\":\"/abs/path\"}}")
    })
}

async fn carry_out(req: Request, shared: &Arc<Shared>) -> Reply {
    match req {
        Request::Backup { out } => {
            if let Err(e) = check_backup_target(&out) {
                return refused(e);
            }
            let store = shared.store.clone();
            let target = out.clone();
            match tokio::task::spawn_blocking(move || store.backup_to(&target)).await {
                Ok(Ok(head)) => {
                    let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
                    tracing::info!(out = %out.display(), height = head.height.0, bytes, "backup written");
                    Reply::BackedUp {
                        height: head.height.0,
                        block_hash: head.block_hash.to_string(),
                        bytes,
                    }
                }
                Ok(Err(e)) => refused(format!("cannot write the backup {}: {e}", out.display())),
                Err(e) => refused(format!("the backup task failed: {e}")),
            }
        }
    }
}

fn check_backup_target(out: &Path) -> Result<(), String> {
    if !out.is_absolute() {
        return Err(format!(
            "backup path {} is relative; the node resolves nothing against its own directory, send an absolute path",
            out.display()
        ));
    }
    if out.exists() {
        return Err(format!(
            "{} already exists; refusing to overwrite it",
            out.display()
        ));
    }
    match out.parent() {
        Some(dir) if dir.is_dir() => Ok(()),
        _ => Err(format!("the directory of {} does not exist", out.display())),
    }
}

/// Ask the node listening on `socket` and wait (at most `wait`) for its answer.
pub fn ask(socket: &Path, req: &Request, wait: Duration) -> Result<Reply, ChannelError> {
    let path = socket.display().to_string();
    let failed = |reason: String| ChannelError::Failed {
        path: path.clone(),
        reason,
    };
    let mut stream = match std::os::unix::net::UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ChannelError::NoNode {
                path: path.clone(),
                source: e,
            })
        }
        Err(e) => return Err(failed(format!("cannot connect: {e}"))),
    };
    stream
        .set_read_timeout(Some(wait))
        .map_err(|e| failed(e.to_string()))?;
    let mut line = serde_json::to_vec(req).expect("a request serializes");
    line.push(b'\n');
    stream
        .write_all(&line)
        .map_err(|e| failed(format!("cannot send the request: {e}")))?;
    let mut answer = String::new();
    std::io::BufReader::new(std::io::Read::take(&stream, REQUEST_BYTES_MAX * 16))
        .read_line(&mut answer)
        .map_err(|e| failed(format!("no answer: {e}")))?;
    serde_json::from_str(answer.trim_end()).map_err(|e| {
        failed(format!(
            "malformed answer ({e}): {}",
            answer.chars().take(200).collect::<String>()
        ))
    })
}
