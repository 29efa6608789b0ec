//! The defences `serve_with` puts up against slow and hostile clients, each attacked over
//! real TCP on loopback, on tokio's paused clock (hyper's `TokioTimer` honours it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use server_kit::ServeConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

const HOUR: Duration = Duration::from_secs(3600);

/// Limits long enough not to interfere with the one a test attacks.
fn lenient() -> ServeConfig {
    ServeConfig {
        header_read_timeout: HOUR,
        request_timeout: HOUR,
        idle_timeout: HOUR,
        max_connections: 100,
    }
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(config: ServeConfig, router: Router) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server_kit::serve_with("test", config, listener, router, async {
            let _ = stopped.await;
        })
        .await
    });
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

fn hello() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

/// Reads until the peer closes, returning what was read; a reset counts as closed. A peer
/// that keeps the connection open for a minute fails the test.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut received));
    assert!(
        closed.await.is_ok(),
        "still open after a minute: {received:?}"
    );
    received
}

/// Reads one response to `GET /` whose body is `body`, leaving the connection open.
async fn read_response_ending_with(stream: &mut TcpStream, body: &str) -> String {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 1024];
    while !received.ends_with(body.as_bytes()) {
        let read = stream.read(&mut buffer).await.unwrap();
        assert_ne!(read, 0, "closed before the response: {received:?}");
        received.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8(received).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_half_sent_request_head_is_dropped_after_the_header_read_timeout() {
    let config = ServeConfig {
        header_read_timeout: Duration::from_secs(2),
        ..lenient()
    };
    let server = start(config, hello()).await;
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nx-slow: ")
        .await
        .unwrap();

    let started = Instant::now();
    let received = read_until_closed(&mut client).await;
    let waited = started.elapsed();

    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );
    // hyper answers a header timeout by closing, or with a 408: never with the route.
    assert!(!String::from_utf8_lossy(&received).contains("hello"));
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let config = ServeConfig {
        idle_timeout: Duration::from_secs(1),
        ..lenient()
    };
    let server = start(config, hello()).await;
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let response = read_response_ending_with(&mut client, "hello").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let started = Instant::now();
    let rest = read_until_closed(&mut client).await;
    let waited = started.elapsed();

    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_connection_beyond_the_cap_is_refused_at_once_with_a_503() {
    let config = ServeConfig {
        max_connections: 1,
        ..lenient()
    };
    let server = start(config, hello()).await;
    // Holds the only slot: connected, sending nothing.
    let _first = TcpStream::connect(server.addr).await.unwrap();

    let mut second = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let received = read_until_closed(&mut second).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused after {:?}",
        started.elapsed()
    );

    let response = String::from_utf8(received).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{response}"
    );
    assert!(response.contains("retry-after: 1\r\n"), "{response}");
}

#[tokio::test(start_paused = true)]
async fn a_request_in_flight_is_answered_before_shutdown_completes() {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let router = {
        let (entered, release) = (Arc::clone(&entered), Arc::clone(&release));
        Router::new().route(
            "/",
            get(move || async move {
                entered.notify_one();
                release.notified().await;
                "drained"
            }),
        )
    };
    let mut server = start(lenient(), router).await;
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    entered.notified().await;

    server.stop.take().unwrap().send(()).unwrap();
    let still_serving = tokio::time::timeout(Duration::from_secs(60), &mut server.task).await;
    assert!(
        still_serving.is_err(),
        "serve returned with a request in flight"
    );

    release.notify_one();
    let response = read_response_ending_with(&mut client, "drained").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.task.await.unwrap().unwrap();
}
