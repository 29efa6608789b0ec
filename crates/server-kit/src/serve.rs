//! Serving a router until shutdown, with the defences against slow and hostile clients.
//!
//! `axum::serve` has no header-read timeout, so connections are driven here with hyper's
//! HTTP/1 server directly:
//!
//! - **header-read timeout**: hyper closes a connection whose request head is not complete
//!   in time. Its timer starts as soon as the connection waits for a request, so it also
//!   bounds a keep-alive connection's wait for the next one;
//! - **request timeout**: a request (reading its body included, since handlers read it)
//!   that has not been answered in time gets `408 Request Timeout`;
//! - **idle timeout**: a keep-alive connection with no request in flight is closed once it
//!   has been idle that long;
//! - **connection cap**: past `max_connections`, a new connection is answered
//!   `503 Service Unavailable` with `Retry-After` and closed at once, never left hanging.
//!
//! On shutdown the listener stops accepting, every connection is told to finish its request
//! in flight and close, and `serve` returns once all of them have.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower_http::timeout::TimeoutLayer;

/// Limits that keep slow or hostile clients from holding a server's connections.
///
/// The defaults suit a local server used by a handful of services; every field is
/// configurable from the `s2s` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// How long a client may take to send a request's head (request line and headers),
    /// counted from when the connection starts waiting for it. Default: 10 s.
    pub header_read_timeout: Duration,
    /// How long a request may take, from its head to the response, reading the body
    /// included; past it the client gets `408 Request Timeout`. Default: 30 s.
    pub request_timeout: Duration,
    /// How long a keep-alive connection may wait, with no request in flight, for its next
    /// request (the header-read timeout also applies if shorter). Default: 5 s.
    pub idle_timeout: Duration,
    /// How many connections are served at once; past it new connections get
    /// `503 Service Unavailable` and are closed. Default: 1024.
    pub max_connections: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            max_connections: 1024,
        }
    }
}

/// What a connection past the cap reads before it is closed: a complete response, so the
/// client sees a retryable refusal rather than a reset.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    retry-after: 1\r\n\
    connection: close\r\n\
    content-length: 0\r\n\r\n";

/// How long writing [`REFUSAL`] may take: a client that does not read it is dropped.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The accept queue [`bind`] asks for: connections the kernel has accepted and the server
/// not yet. Linux caps it at `net.core.somaxconn` (4096 by default since 5.4).
const BACKLOG: u32 = 4096;

/// Binds a TCP listener on `addr` (`SO_REUSEADDR` set, as `tokio::net::TcpListener::bind`
/// does) with an accept queue of 4,096 connections, for [`serve_with`]. Call it within a
/// Tokio runtime.
///
/// Tokio's own `bind` gets the standard library's 128. When more callers than that connect
/// at once (2,048 callers, each refused while the server is at its limit and reconnecting
/// at once) the queue overflows, the kernel drops the last packet of their handshakes, and
/// each such caller waits for a retransmission (one second, then three) before its request
/// is even read: measured, about 9,000 overflows in ten seconds, and requests that timed
/// out although the server answered every request it read in time (BENCHMARKS.md).
///
/// # Errors
///
/// The socket's errors: the address in use, not available, or not permitted.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `router` on `listener` with [`ServeConfig::default`] until `shutdown` completes;
/// see [`serve_with`].
pub async fn serve(
    service: &'static str,
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(service, ServeConfig::default(), listener, router, shutdown).await
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting
/// connections and waits for the requests in flight to finish (graceful shutdown).
///
/// The caller binds the listener (port 0 in tests), so it knows the address before the
/// first request; the address is logged at `info` with `service` as the message.
pub async fn serve_with(
    service: &'static str,
    config: ServeConfig,
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, service, "{service} listening");
    }
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    let http = Arc::new(http);

    // One permit per connection served; shutdown waits until all of them are back.
    let max_connections = config.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Per-connection failures (reset before accept, out of descriptors): keep
                // serving the others, without spinning.
                Err(error) => {
                    tracing::warn!(service, %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(service, %peer, max_connections, "connection refused: at the cap");
            tokio::spawn(refuse(stream));
            continue;
        };
        let connection = serve_connection(
            Arc::clone(&http),
            stream,
            peer,
            router.clone(),
            config.clone(),
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            connection.await;
            drop(permit);
        });
    }

    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it has closed: getting all of them back means
    // every request in flight has been answered.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _drained = permits.acquire_many(all).await;
    Ok(())
}

/// Answers a connection past the cap with [`REFUSAL`] and closes it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves one connection until the client closes it, it times out, or shutdown asks it to
/// finish its request in flight and close.
async fn serve_connection(
    http: Arc<hyper::server::conn::http1::Builder>,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    router: Router,
    config: ServeConfig,
    mut stop: watch::Receiver<bool>,
) {
    let idle_timeout = config.idle_timeout;
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = Arc::clone(&activity);
        tower::ServiceBuilder::new()
            .map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                activity.start();
                crate::head::own_head(&mut request);
                // The peer address, for handlers that need it (the token endpoint's
                // per-address rate limit, the audit trail), as axum's `ConnectInfo`.
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            })
            // Here rather than with `Router::layer`, which would box a clone of every
            // route for each request.
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                config.request_timeout,
            ))
            .service(router)
    };
    let tracked = {
        let activity = Arc::clone(&activity);
        tower::ServiceExt::map_future(service, move |future| {
            let activity = Arc::clone(&activity);
            async move {
                let response = future.await;
                activity.finish();
                response
            }
        })
    };
    let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(tracked));
    let mut connection = pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection closed with an error");
                }
                return;
            }
            () = activity.idle_for(idle_timeout), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            changed = stop.changed(), if !closing => {
                // A closed channel means `serve_with` is gone: stop as on shutdown.
                let _ = changed;
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Requests in flight on one connection and when the last one finished: what the idle
/// timeout watches.
struct Activity {
    in_flight: AtomicUsize,
    last_finished: std::sync::Mutex<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last_finished: std::sync::Mutex::new(Instant::now()),
        }
    }

    fn start(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    fn finish(&self) {
        if let Ok(mut last) = self.last_finished.lock() {
            *last = Instant::now();
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    fn last_finished(&self) -> Instant {
        self.last_finished
            .lock()
            .map_or_else(|poisoned| *poisoned.into_inner(), |last| *last)
    }

    /// Completes once the connection has had no request in flight for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let deadline = self.last_finished() + timeout;
            tokio::time::sleep_until(deadline).await;
            if self.in_flight.load(Ordering::SeqCst) == 0
                && self.last_finished() + timeout <= Instant::now()
            {
                return;
            }
            if self.in_flight.load(Ordering::SeqCst) > 0 {
                // A request is running: look again one timeout later rather than spin.
                tokio::time::sleep(timeout).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listener's accept queue as the kernel reports it: for a listening socket, `ss`
    /// shows the backlog in its Send-Q column.
    fn backlog(port: u16) -> u32 {
        let out = std::process::Command::new("ss")
            .args(["-ltnH", &format!("sport = :{port}")])
            .output()
            .expect("`ss` (iproute2) reads the listener's backlog");
        let out = String::from_utf8(out.stdout).unwrap();
        let fields: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(fields.first(), Some(&"LISTEN"), "{out}");
        fields[2].parse().unwrap()
    }

    #[tokio::test]
    async fn bind_asks_for_a_deeper_accept_queue_than_tokio() {
        let ours = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let tokio = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            backlog(ours.local_addr().unwrap().port()),
            BACKLOG.min(somaxconn)
        );
        // 128 (the Rust standard library's choice, which Tokio's `bind` goes through).
        assert!(backlog(tokio.local_addr().unwrap().port()) < BACKLOG.min(somaxconn));
    }
}
