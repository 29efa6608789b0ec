//! A scripted token endpoint (a closure HTTP client), a clock driven by Tokio's paused
//! time, and small time helpers. Nothing here sleeps for real.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth_proto::time::Clock;
use token_provider::http::{HttpRequest, HttpResponse};
use token_provider::{
    ClientId, ClientSecret, HttpClient, HttpError, TokenProvider, TokenProviderBuilder,
};
use tokio::time::Instant;

pub(crate) const CLIENT_ID: &str = "26cb2c60kq7nbmas7rbme9b6pp";
pub(crate) const SECRET: &str = "13ka4h7u28d9oo44tqpq9djqsfvhvu8rk4d2ighvpu0k8fj1c2r9";
pub(crate) const TOKEN_URL: &str = "https://auth.test.example/oauth2/token";
/// 2026-01-01T00:00:00Z.
pub(crate) const START_UNIX: u64 = 1_767_225_600;

/// What the scripted endpoint answers.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// A token `token-<n>` (n = request number from 1) valid for `expires_in` seconds.
    Token { expires_in: i64 },
    /// This status and JSON body.
    Json(u16, &'static str),
    /// A connection failure.
    Refused,
    /// Never answers.
    Hang,
}

#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// Time since the endpoint was created, on Tokio's clock.
    pub(crate) at: Duration,
    pub(crate) request: Arc<HttpRequest>,
}

/// A token endpoint in memory, shared by the test and the closure the provider calls.
#[derive(Clone)]
pub(crate) struct MockEndpoint {
    reply: Arc<Mutex<Reply>>,
    delay: Arc<Mutex<Duration>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    count: Arc<AtomicUsize>,
    start: Instant,
}

impl MockEndpoint {
    pub(crate) fn new(reply: Reply) -> Self {
        Self {
            reply: Arc::new(Mutex::new(reply)),
            delay: Arc::new(Mutex::new(Duration::ZERO)),
            seen: Arc::default(),
            count: Arc::default(),
            start: Instant::now(),
        }
    }

    /// Every answer takes this long (on Tokio's clock).
    pub(crate) fn with_delay(self, delay: Duration) -> Self {
        *self.delay.lock().unwrap() = delay;
        self
    }

    pub(crate) fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub(crate) fn client(&self) -> impl HttpClient + use<> {
        let endpoint = self.clone();
        move |request: HttpRequest| {
            let endpoint = endpoint.clone();
            async move { endpoint.answer(request).await }
        }
    }

    async fn answer(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen.lock().unwrap().push(Seen {
            at: self.start.elapsed(),
            request: Arc::new(request),
        });
        let reply = self.reply.lock().unwrap().clone();
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match reply {
            Reply::Token { expires_in } => Ok(json(
                200,
                &format!(
                    r#"{{"access_token":"token-{n}","expires_in":{expires_in},"token_type":"Bearer"}}"#
                ),
            )),
            Reply::Json(status, body) => Ok(json(status, body)),
            Reply::Refused => Err(HttpError::connect("connection refused")),
            Reply::Hang => std::future::pending().await,
        }
    }
}

pub(crate) fn json(status: u16, body: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json;charset=UTF-8")
        .body(body.as_bytes().to_vec())
        .unwrap()
}

/// A wall clock that moves with Tokio's (paused) clock, so expiry, timers and backoff
/// all follow `tokio::time::advance`.
#[derive(Debug)]
pub(crate) struct TokioClock {
    base: SystemTime,
    start: Instant,
}

impl TokioClock {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            base: UNIX_EPOCH + Duration::from_secs(START_UNIX),
            start: Instant::now(),
        })
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.base + self.start.elapsed()
    }
}

/// A builder wired to `endpoint` and `clock`, with a fixed jitter seed.
pub(crate) fn builder(endpoint: &MockEndpoint, clock: Arc<dyn Clock>) -> TokenProviderBuilder {
    TokenProvider::builder()
        .token_url(TOKEN_URL)
        .client_id(ClientId::parse(CLIENT_ID).unwrap())
        .client_secret(ClientSecret::new(SECRET))
        .http_client(endpoint.client())
        .clock(clock)
        .jitter_seed(7)
}

/// Lets spawned tasks (timers, refresh drivers, the endpoint) run until they block.
pub(crate) async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

/// Lets `total` of virtual time pass. The runtime's clock is paused, so this returns as
/// soon as every timer due within `total` has fired, in order, and the tasks it woke have
/// run: no real time passes. (`tokio::time::advance` would fire timers that Tokio rounds
/// up to the next millisecond one step late.)
pub(crate) async fn pass(total: Duration) {
    tokio::time::sleep(total).await;
    settle().await;
}

/// Asserts that `actual` is `expected`, give or take Tokio's timer resolution (1 ms).
#[track_caller]
pub(crate) fn assert_near(actual: Duration, expected: Duration) {
    let diff = actual.abs_diff(expected);
    assert!(
        diff <= Duration::from_millis(2),
        "{actual:?} is not {expected:?}"
    );
}

pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
