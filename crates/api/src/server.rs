//! The HTTP/1.1 server around the router, with the limits a node on a network needs:
//!
//! - a request head must arrive within [`HEADER_READ_TIMEOUT_MS`] of the server
//!   starting to wait for it — on a new connection or on a kept-alive one that went
//!   idle after its last answer — or the connection is closed (slow-loris clients);
//! - a client that reads nothing of its answer for [`WRITE_STALL_TIMEOUT_MS`] is
//!   dropped;
//! - at most [`limits::CONNECTIONS_MAX`] connections are open; more wait in the
//!   listen backlog;
//! - request targets, header fields and announced bodies over their limits are
//!   refused with a problem document before anything else reads them
//!   ([`request_limits`]); what hyper refuses itself (a head it cannot parse or that
//!   overflows its buffer) is answered with a problem document too, not hyper's empty
//!   body;
//! - shutdown stops accepting, lets answers in progress finish for up to
//!   [`SHUTDOWN_GRACE_MS`], then drops what is left;
//! - with TLS ([`HttpServer::with_tls`]), the handshake must finish within the
//!   header-read timeout too, and everything above applies inside the TLS stream.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use waybill_types::limits;

use crate::error::{problem_response, raw_problem_answer};

/// Longest wait for a complete request head, from when the server starts waiting for
/// it (a new connection, or a kept-alive one after its last answer).
pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Longest a client may leave its answer unread (no byte taken) before it is dropped.
pub const WRITE_STALL_TIMEOUT_MS: u64 = 30_000;
/// Longest shutdown waits for answers in progress.
pub const SHUTDOWN_GRACE_MS: u64 = 2_000;
/// After the server closes a connection, how long and how much it reads and discards
/// of what the client still sends, so the close does not reset the connection before
/// the client has read the last answer.
const LINGER_MS: u64 = 1_000;
const LINGER_BYTES_MAX: usize = 1024 * 1024;
/// Header fields hyper parses; our own limit ([`limits::REQUEST_HEADERS_MAX`]) is
/// lower so that [`request_limits`] answers first and names it.
const PARSED_HEADERS_MAX: usize = limits::REQUEST_HEADERS_MAX * 4;
/// Pause after an accept error that is not about one connection (out of file
/// descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE_MS: u64 = 100;

/// The server's limits; [`ServerLimits::default`] is the named constants. A
/// configuration may lower each, never raise it: values over the constant are
/// clamped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// See [`HEADER_READ_TIMEOUT_MS`].
    pub header_read_timeout_ms: u64,
    /// See [`WRITE_STALL_TIMEOUT_MS`].
    pub write_stall_timeout_ms: u64,
    /// See [`limits::CONNECTIONS_MAX`].
    pub connections_max: usize,
    /// See [`SHUTDOWN_GRACE_MS`].
    pub shutdown_grace_ms: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout_ms: HEADER_READ_TIMEOUT_MS,
            write_stall_timeout_ms: WRITE_STALL_TIMEOUT_MS,
            connections_max: limits::CONNECTIONS_MAX,
            shutdown_grace_ms: SHUTDOWN_GRACE_MS,
        }
    }
}

impl ServerLimits {
    fn clamped(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout_ms: self.header_read_timeout_ms.clamp(1, HEADER_READ_TIMEOUT_MS),
            write_stall_timeout_ms: self.write_stall_timeout_ms.clamp(1, WRITE_STALL_TIMEOUT_MS),
            connections_max: self.connections_max.clamp(1, limits::CONNECTIONS_MAX),
            shutdown_grace_ms: self.shutdown_grace_ms.min(SHUTDOWN_GRACE_MS),
        }
    }
}

/// How many connections a server has open.
#[derive(Clone, Debug, Default)]
pub struct ConnectionCount(Arc<AtomicUsize>);

impl ConnectionCount {
    /// Open now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn open(&self) -> OpenConnection {
        self.0.fetch_add(1, Ordering::SeqCst);
        OpenConnection(self.clone())
    }
}

/// Counts one connection while it lives.
struct OpenConnection(ConnectionCount);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The API's HTTP/1.1 server (see the module documentation).
pub struct HttpServer {
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    connections: ConnectionCount,
    tls: Option<TlsAcceptor>,
}

impl HttpServer {
    /// A server for `app` on `listener`.
    pub fn new(listener: TcpListener, app: Router, limits: ServerLimits) -> HttpServer {
        HttpServer {
            listener,
            app,
            limits: limits.clamped(),
            connections: ConnectionCount::default(),
            tls: None,
        }
    }

    /// Serve HTTPS: every connection first completes a TLS handshake with `acceptor`
    /// (see [`crate::tls::acceptor`]).
    pub fn with_tls(mut self, acceptor: TlsAcceptor) -> HttpServer {
        self.tls = Some(acceptor);
        self
    }

    /// Its open-connection count.
    pub fn connections(&self) -> ConnectionCount {
        self.connections.clone()
    }

    /// Serve until `shutdown` completes; then stop accepting, give answers in
    /// progress up to `shutdown_grace_ms` and return.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> io::Result<()> {
        let HttpServer {
            listener,
            app,
            limits,
            connections,
            tls,
        } = self;
        let permits = Arc::new(tokio::sync::Semaphore::new(limits.connections_max));
        let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            // Reap finished connections, so the set holds only live ones.
            while tasks.try_join_next().is_some() {}
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                p = permits.clone().acquire_owned() => {
                    p.expect("the connection semaphore is never closed")
                }
            };
            let stream = tokio::select! {
                _ = &mut shutdown => break,
                r = listener.accept() => match r {
                    Ok((stream, _peer)) => stream,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot accept an HTTP connection; retrying");
                        tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
                        continue;
                    }
                },
            };
            let open = connections.open();
            tasks.spawn(accept_connection(
                stream,
                tls.clone(),
                app.clone(),
                limits.clone(),
                closing_rx.clone(),
                (permit, open),
            ));
        }
        drop(listener);
        let _ = closing_tx.send(true);
        let grace = tokio::time::sleep(Duration::from_millis(limits.shutdown_grace_ms));
        tokio::pin!(grace);
        loop {
            tokio::select! {
                next = tasks.join_next() => if next.is_none() { break },
                _ = &mut grace => {
                    tracing::info!(n_connections = tasks.len(), "closing HTTP connections still busy after the shutdown grace");
                    tasks.shutdown().await;
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Errors about one connection (the client went away before it was accepted).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Take a connection: the TLS handshake first if the server has TLS (bounded by the
/// header-read timeout, like a request head), then HTTP.
async fn accept_connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: ServerLimits,
    closing: tokio::sync::watch::Receiver<bool>,
    held: (tokio::sync::OwnedSemaphorePermit, OpenConnection),
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        return serve_connection(stream, app, limits, closing, held).await;
    };
    let timeout = Duration::from_millis(limits.header_read_timeout_ms);
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls_stream)) => serve_connection(tls_stream, app, limits, closing, held).await,
        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(
            timeout_ms = limits.header_read_timeout_ms,
            "TLS handshake did not finish in time"
        ),
    }
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    app: Router,
    limits: ServerLimits,
    mut closing: tokio::sync::watch::Receiver<bool>,
    _held: (tokio::sync::OwnedSemaphorePermit, OpenConnection),
) {
    let io = TokioIo::new(GuardedIo::new(
        stream,
        Duration::from_millis(limits.write_stall_timeout_ms),
    ));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .max_headers(PARSED_HEADERS_MAX)
        .keep_alive(true);
    let conn = builder.serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(conn);
    let mut closing_seen = *closing.borrow();
    if closing_seen {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                }
                break;
            }
            changed = closing.changed(), if !closing_seen => {
                closing_seen = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// An answer being written in place of hyper's own.
struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    /// The length of hyper's buffer, reported as written once ours is.
    replaces: usize,
}

/// The connection's socket as hyper sees it: drops a client that reads nothing for
/// `write_stall`, writes problem documents in place of hyper's empty automatic error
/// answers, and lingers on close.
struct GuardedIo<S> {
    inner: S,
    write_stall: Duration,
    stall: Option<Pin<Box<Sleep>>>,
    replacement: Option<Replacement>,
    write_shut: bool,
    linger: Option<Pin<Box<Sleep>>>,
    lingered_bytes: usize,
}

impl<S: AsyncWrite + Unpin> GuardedIo<S> {
    fn new(inner: S, write_stall: Duration) -> GuardedIo<S> {
        GuardedIo {
            inner,
            write_stall,
            stall: None,
            replacement: None,
            write_shut: false,
            linger: None,
            lingered_bytes: 0,
        }
    }

    /// Write to the socket; a write that stays blocked for `write_stall` fails.
    fn poll_socket_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.stall = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let stall = self.write_stall;
                let timer = self
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
                if timer.as_mut().poll(cx).is_ready() {
                    self.stall = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the client read nothing of its answer for {} ms",
                            stall.as_millis()
                        ),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

/// hyper answers a request head it cannot take (unparseable, a target over 64 KiB, a
/// head over its buffer, too many fields) with a bare head: a 400, 414 or 431 status
/// line, `content-length: 0`, a date and nothing else. Our answers always carry a
/// content type, so such a head is hyper's; the problem document to send instead.
fn replace_automatic_answer(buf: &[u8]) -> Option<Vec<u8>> {
    if !buf.ends_with(b"\r\n\r\n") || buf.len() > 1024 {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?;
    let rest = head
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| head.strip_prefix("HTTP/1.0 "))?;
    let status = StatusCode::from_u16(rest.get(..3)?.parse().ok()?).ok()?;
    let lower = head.to_ascii_lowercase();
    if lower.contains("\r\ncontent-type:") || !lower.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let detail = match status.as_u16() {
        400 => {
            "the request is not valid HTTP/1.1: its request line or a header field cannot be parsed"
                .to_string()
        }
        414 => format!(
            "the request target is over the limit of {} bytes",
            limits::REQUEST_TARGET_BYTES_MAX
        ),
        431 => format!(
            "the request's header fields are over the limit of {} bytes or {} fields",
            limits::REQUEST_HEADER_BYTES_MAX,
            limits::REQUEST_HEADERS_MAX
        ),
        _ => return None,
    };
    Some(raw_problem_answer(status, &detail))
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for GuardedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_none() {
            match replace_automatic_answer(buf) {
                Some(bytes) => {
                    this.replacement = Some(Replacement {
                        bytes,
                        written: 0,
                        replaces: buf.len(),
                    })
                }
                None => return this.poll_socket_write(cx, buf),
            }
        }
        loop {
            let Some(r) = this.replacement.as_ref() else {
                unreachable!("a replacement is being written")
            };
            if r.written == r.bytes.len() {
                let replaces = r.replaces;
                this.replacement = None;
                return Poll::Ready(Ok(replaces));
            }
            let rest = r.bytes[r.written..].to_vec();
            let n = ready!(this.poll_socket_write(cx, &rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if let Some(r) = this.replacement.as_mut() {
                r.written += n;
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Close the write side, then read and discard what the client still sends (up to
    /// `LINGER_BYTES_MAX`, for up to `LINGER_MS`): closing a socket with unread input
    /// resets the connection, and a reset can destroy the answer before the client
    /// reads it.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.write_shut {
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.write_shut = true;
            this.linger = Some(Box::pin(tokio::time::sleep(Duration::from_millis(
                LINGER_MS,
            ))));
        }
        let mut scratch = [0u8; 4096];
        loop {
            let mut rb = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    this.lingered_bytes += rb.filled().len();
                    if this.lingered_bytes > LINGER_BYTES_MAX {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => {
                    let done = this
                        .linger
                        .as_mut()
                        .is_none_or(|t| t.as_mut().poll(cx).is_ready());
                    return if done {
                        Poll::Ready(Ok(()))
                    } else {
                        Poll::Pending
                    };
                }
            }
        }
    }
}

/// Middleware: refuse, before anything reads them, a request target over
/// [`limits::REQUEST_TARGET_BYTES_MAX`] (414), header fields over
/// [`limits::REQUEST_HEADER_BYTES_MAX`] or [`limits::REQUEST_HEADERS_MAX`] (431), and
/// a `Content-Length` over [`limits::REQUEST_BODY_BYTES_MAX`] (413, at once: the body
/// is not awaited, and the connection closes).
pub(crate) async fn request_limits(req: Request, next: Next) -> Response {
    let target_bytes = req
        .uri()
        .path_and_query()
        .map_or(req.uri().path().len(), |p| p.as_str().len());
    if target_bytes > limits::REQUEST_TARGET_BYTES_MAX {
        return problem_response(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            &format!(
                "the request target is {target_bytes} bytes, over the limit of {} bytes; send long data in a body",
                limits::REQUEST_TARGET_BYTES_MAX
            ),
            None,
        );
    }
    let n_headers = req.headers().len();
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.as_bytes().len() + 4)
        .sum();
    if n_headers > limits::REQUEST_HEADERS_MAX || header_bytes > limits::REQUEST_HEADER_BYTES_MAX {
        return problem_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            &format!(
                "the request has {n_headers} header fields of {header_bytes} bytes; the limits are {} fields and {} bytes",
                limits::REQUEST_HEADERS_MAX,
                limits::REQUEST_HEADER_BYTES_MAX
            ),
            None,
        );
    }
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > limits::REQUEST_BODY_BYTES_MAX as u64) {
        let mut resp = problem_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!(
                "the request announces a body of {n} bytes (Content-Length), over the limit of {} bytes; nothing was read",
                limits::REQUEST_BODY_BYTES_MAX
            ),
            None,
        );
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return resp;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_s_bare_error_heads_are_replaced() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n";
        let out = replace_automatic_answer(bare).expect("replaced");
        assert!(out.starts_with(b"HTTP/1.1 431 "));
        assert!(String::from_utf8_lossy(&out).contains("application/problem+json"));
        // Ours carry a content type; other statuses and partial heads are left alone.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n";
        assert!(replace_automatic_answer(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replace_automatic_answer(ok).is_none());
        assert!(replace_automatic_answer(&bare[..20]).is_none());
    }

    #[test]
    fn configured_limits_are_clamped_to_the_constants() {
        let l = ServerLimits {
            header_read_timeout_ms: u64::MAX,
            write_stall_timeout_ms: 0,
            connections_max: usize::MAX,
            shutdown_grace_ms: u64::MAX,
        }
        .clamped();
        assert_eq!(l.header_read_timeout_ms, HEADER_READ_TIMEOUT_MS);
        assert_eq!(l.write_stall_timeout_ms, 1);
        assert_eq!(l.connections_max, limits::CONNECTIONS_MAX);
        assert_eq!(l.shutdown_grace_ms, SHUTDOWN_GRACE_MS);
    }
}
