//! Serving HTTP/1.1 on a listener so that clients cannot exhaust the server:
//! - at most [`Limits::max_connections`] connections at once, so a flood cannot take
//!   every file descriptor; at the cap a newcomer takes the place of the connection
//!   idle the longest (no request in progress), and is refused only when every
//!   connection is busy, so silent connections cannot lock other clients out;
//! - a client must send a request's headers within [`Limits::header_timeout`] of
//!   connecting or of its previous answer, so slow or idle connections are closed
//!   (hyper's header read timeout, which also bounds keep-alive idleness);
//! - a request body must keep coming: a gap of [`Limits::body_idle_timeout`] between
//!   its pieces fails it (`body::IdleTimeout`), so a trickled or stalled body is cut off;
//! - request heads are at most [`Limits::max_header_bytes`]; a larger one gets 431;
//! - with [`Limits::half_close`], a client that half-closes its side after sending a
//!   request (as `nc` does) still gets its answer;
//! - on shutdown no new connection is taken and open ones finish their current
//!   request, for at most [`Limits::shutdown_grace`].

mod body;
mod idle;

pub use body::{BodyTimeout, IdleTimeout};

use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The client's address, in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// How long a newcomer at the cap waits for an evicted connection's place.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// hyper's smallest read buffer; a head limit below it is raised to it.
const MIN_BUF: usize = 8192;

/// What one listener allows its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// The longest gap allowed between two pieces of a request body.
    pub body_idle_timeout: Duration,
    /// The largest request head (request line and headers) read.
    pub max_header_bytes: usize,
    pub shutdown_grace: Duration,
    /// Answer a client that closed its sending side. Off, a request whose client went
    /// away is dropped at once, which long polls want (nothing waits for a gone agent).
    pub half_close: bool,
}

impl Default for Limits {
    /// Half-closed clients answered; 4096 connections (well under this machine's 20,000 descriptors, and nginx's
    /// default of 512 per worker × workers), 20 s for headers (hyper's default is 30 s,
    /// nginx's `client_header_timeout` 60 s; AWS SDKs send headers at once), 30 s
    /// between body pieces (nginx's `client_body_timeout` is 60 s), 64 KiB of head
    /// (nginx reads 1 KiB, then up to 4 × 8 KiB), 10 s to drain.
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_timeout: Duration::from_secs(20),
            body_idle_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(10),
            half_close: true,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = Arc::new(idle::Connections::default());
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_BUF))
        .half_close(limits.half_close)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: wait a
                // moment instead of spinning, and keep serving.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            // At the cap: the longest-idle connection makes room, if there is one.
            Err(_) if connections.evict_longest_idle() => {
                match tokio::time::timeout(EVICTION_WAIT, permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        tracing::debug!(%peer, "connection refused: no room made in time");
                        continue;
                    }
                }
            }
            Err(_) => {
                tracing::debug!(%peer, limit = limits.max_connections, "connection refused: every connection is busy");
                drop(stream);
                continue;
            }
        };
        let tracked = connections.track();
        let close = tracked.close.clone();
        let tracked = Arc::new(tracked);
        let idle = limits.body_idle_timeout;
        let app = app.clone().map_request(move |req: Request<Incoming>| {
            let mut req = req.map(|body| axum::body::Body::new(IdleTimeout::new(body, idle)));
            req.extensions_mut().insert(PeerAddr(peer));
            req
        });
        let app = tower::service_fn(move |req: Request<Incoming>| {
            let busy = tracked.busy();
            let call = app.clone().oneshot(req);
            async move {
                // Busy until the whole answer has gone out.
                let answer = call.await?;
                Ok::<_, std::convert::Infallible>(
                    answer.map(|inner| axum::body::Body::new(body::Holding { inner, _guard: busy })),
                )
            }
        });
        let service = TowerToHyperService::new(app);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            tokio::select! {
                ended = connection => {
                    if let Err(e) = ended {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                _ = close.notified() => tracing::debug!(%peer, "idle connection closed to make room"),
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace = ?limits.shutdown_grace, "connections still open after the shutdown grace; closing them");
    }
    Ok(())
}
