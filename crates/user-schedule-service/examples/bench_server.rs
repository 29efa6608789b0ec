//! The benchmark's server: one process, one state, two listeners on loopback — the real
//! router (token verification and scope checks) and the same router with verification
//! switched off (feature `bench`). Tokens come from jwt-verifier's `TestIssuer`, so no
//! outside network is involved.
//!
//! Usage: `bench_server [--token-cache N] [--events N]`. Prints one line
//! `READY auth=URL noauth=URL token=TOKEN pid=PID` and serves until stdin closes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use jwt_verifier::Verifier;
use jwt_verifier::test_util::TestIssuer;
use metrics_exporter_prometheus::PrometheusBuilder;
use oauth_proto::time::{Clock, SystemClock};
use tokio::io::AsyncReadExt;
use user_schedule_service::domain::{Event, EventDraft, EventId, Timestamp, Title, UserId};
use user_schedule_service::{AppState, Config, store};

const CLIENT_ID: &str = "benchclient";
const USER: &str = "bench-user";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse::<usize>().expect("a number"))
    };
    let token_cache = arg("--token-cache").unwrap_or(0);
    let events = arg("--events").unwrap_or(10);

    let issuer = TestIssuer::start().await;
    let mut builder = Verifier::builder()
        .issuer(issuer.issuer())
        .client_id(CLIENT_ID);
    if token_cache > 0 {
        builder = builder.token_cache(token_cache);
    }
    let verifier = builder.build().expect("verifier");
    verifier.hydrate().await.expect("JWKS");

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = store::connect(&url).await.expect("store");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = Timestamp::from_system_time(clock.now()).expect("now");
    for i in 0..events {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let start = 1_767_225_600_000_000_000 + i as i64 * 3_600_000_000_000;
        store
            .create_event(&Event {
                id: EventId::from_random_bytes(id),
                user_id: UserId::parse(USER).unwrap(),
                draft: EventDraft {
                    title: Title::parse(&format!("Event number {i}")).unwrap(),
                    starts_at: Timestamp::from_unix_nanos(start),
                    ends_at: Timestamp::from_unix_nanos(start + 1_800_000_000_000),
                    notes: None,
                },
                created_by: CLIENT_ID.to_owned(),
                created_at: now,
                updated_at: now,
                version: 1,
            })
            .await
            .expect("seed");
    }

    // As in production, a Prometheus recorder is installed and every request recorded.
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("recorder");
    let config = Config {
        metrics: Some(metrics),
        ..Config::default()
    };
    // The cost of verification alone, measured in isolation (CPU-bound, one thread).
    let token = issuer.access_token(CLIENT_ID, ["user-schedule-service/schedule.read"]);
    let rounds = 2000;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        verifier.verify(&token).await.expect("valid token");
    }
    let verify_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);

    let state = AppState::new(config, store, verifier, clock);
    let auth = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let noauth = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let auth_addr = auth.local_addr().unwrap();
    let noauth_addr = noauth.local_addr().unwrap();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let servers = [
        tokio::spawn(user_schedule_service::serve(
            auth,
            user_schedule_service::router(state.clone()),
            wait(stopped.clone()),
        )),
        tokio::spawn(user_schedule_service::serve(
            noauth,
            user_schedule_service::router_without_auth_for_benchmarks(state),
            wait(stopped),
        )),
    ];

    println!(
        "READY auth=http://{auth_addr}/users/{USER}/schedule noauth=http://{noauth_addr}/users/{USER}/schedule token={token} pid={} verify_us={verify_us:.1}",
        std::process::id()
    );

    // Serve until the driver closes our stdin.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    stop.send_replace(true);
    for server in servers {
        server.await.unwrap().unwrap();
    }
}
