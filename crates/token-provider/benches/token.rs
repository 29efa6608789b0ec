//! Benchmarks of the token provider.
//!
//! - `token() cached`: the hot path, a call served from the cache (target: under 1 µs);
//! - before Criterion runs, counts of token requests made while 10,000 calls are served
//!   (target: exactly 1 over one token's life), measured in paused Tokio time with an
//!   in-memory token endpoint.
//!
//! `cargo bench -p token-provider --bench token`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::Criterion;
use futures::FutureExt as _;
use oauth_proto::time::Clock;
use token_provider::http::{HttpRequest, HttpResponse};
use token_provider::{ClientId, ClientSecret, HttpError, TokenProvider};

/// A wall clock that follows Tokio's (paused) clock.
#[derive(Debug)]
struct TokioClock {
    base: SystemTime,
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.base + self.start.elapsed()
    }
}

/// A provider whose token endpoint is in memory and counts requests.
fn provider(clock: Arc<dyn Clock>) -> (TokenProvider, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let provider = TokenProvider::builder()
        .token_url("https://auth.bench.example/oauth2/token")
        .client_id(ClientId::parse("26cb2c60kq7nbmas7rbme9b6pp").unwrap())
        .client_secret(ClientSecret::new("bench-secret"))
        .clock(clock)
        .http_client(move |_request: HttpRequest| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                let body = format!(
                    r#"{{"access_token":"token-{n}","expires_in":3600,"token_type":"Bearer"}}"#
                );
                Ok::<_, HttpError>(HttpResponse::new(body.into_bytes()))
            }
        })
        .build()
        .unwrap();
    (provider, requests)
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

fn tokio_clock() -> Arc<dyn Clock> {
    Arc::new(TokioClock {
        base: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
        start: tokio::time::Instant::now(),
    })
}

/// Serves `calls` calls spread evenly over `span` of virtual time; returns the token
/// requests made and how many calls had to wait.
fn spread_calls(calls: u32, span: Duration) -> (usize, usize) {
    paused_runtime().block_on(async {
        let (provider, requests) = provider(tokio_clock());
        let gap = span / calls;
        let mut waited = 0;
        for _ in 0..calls {
            match provider.token().now_or_never() {
                Some(token) => {
                    black_box(token.unwrap());
                }
                None => {
                    waited += 1;
                    provider.token().await.unwrap();
                }
            }
            tokio::time::advance(gap).await;
        }
        (requests.load(Ordering::SeqCst), waited)
    })
}

fn concurrent_cold_start(callers: usize) -> usize {
    paused_runtime().block_on(async {
        let (provider, requests) = provider(tokio_clock());
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let provider = provider.clone();
                tokio::spawn(async move { provider.token().await.unwrap() })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        requests.load(Ordering::SeqCst)
    })
}

fn count_requests() {
    println!("token requests while 10,000 calls are served (paused time, in-memory endpoint):");
    // With the default settings the first token is replaced between 70 % and 80 % of its
    // lifetime (2,520–2,880 s of 3,600 s).
    let (requests, waited) = spread_calls(10_000, Duration::from_secs(2_500));
    println!(
        "  over the first token's service life (0-2,500 s): {requests} request(s), {waited} call(s) waited"
    );
    let (requests, waited) = spread_calls(10_000, Duration::from_secs(3_600));
    println!(
        "  over the whole validity of the first token (0-3,600 s): {requests} request(s) \
         (one early background refresh), {waited} call(s) waited"
    );
    let requests = concurrent_cold_start(10_000);
    println!("  10,000 concurrent callers at cold start: {requests} request(s)");
}

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _context = runtime.enter();
    let (provider, requests) = provider(Arc::new(oauth_proto::time::SystemClock));
    runtime.block_on(provider.token()).unwrap();

    c.bench_function("token() cached", |b| {
        b.iter(|| {
            // Completes without awaiting anything when the token is cached.
            black_box(provider.token().now_or_never().unwrap().unwrap());
        });
    });
    c.bench_function("token() cached, via block_on", |b| {
        b.iter(|| black_box(runtime.block_on(provider.token()).unwrap()));
    });
    c.bench_function("cached()", |b| {
        b.iter(|| black_box(provider.cached().unwrap()));
    });
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

fn main() {
    count_requests();
    let mut criterion = Criterion::default().configure_from_args();
    hot_path(&mut criterion);
    criterion.final_summary();
}
