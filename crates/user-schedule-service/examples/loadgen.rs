//! The benchmark's load generator: keep-alive HTTP/1.1 GETs with N concurrent
//! connections, alternating rounds against two URLs so both see the same machine noise.
//!
//! Usage: `loadgen --auth URL --noauth URL --token TOKEN [--concurrency 32]
//! [--requests 20000] [--rounds 5]`. Prints per-round figures, then the medians and
//! the auth overhead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// CPU time (user + system) the process has used, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Requests/s, and the server's CPU microseconds per request when its pid is known.
async fn run(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    concurrency: usize,
    requests: usize,
    server: Option<u32>,
) -> (f64, Option<f64>) {
    let cpu_before = cpu_ticks(server);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_owned();
        let token = token.map(|t| format!("Bearer {t}"));
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let mut request = client.get(&url);
                if let Some(auth) = &token {
                    request = request.header("authorization", auth);
                }
                let response = request.send().await.expect("request");
                assert_eq!(response.status(), 200, "unexpected status");
                let _ = response.bytes().await.expect("body");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let rps = requests as f64 / started.elapsed().as_secs_f64();
    let cpu = cpu_ticks(server)
        .zip(cpu_before)
        .map(|(after, before)| (after - before) as f64 * 10_000.0 / requests as f64);
    (rps, cpu)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let auth_url = arg("--auth").expect("--auth URL");
    let noauth_url = arg("--noauth").expect("--noauth URL");
    let token = arg("--token").expect("--token TOKEN");
    let concurrency: usize = arg("--concurrency").map_or(32, |v| v.parse().unwrap());
    let requests: usize = arg("--requests").map_or(20_000, |v| v.parse().unwrap());
    let rounds: usize = arg("--rounds").map_or(5, |v| v.parse().unwrap());
    let server: Option<u32> = arg("--server-pid").map(|v| v.parse().unwrap());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    // Warm-up: open the connections and fill caches on both servers.
    let warm = requests / 10;
    run(&client, &auth_url, Some(&token), concurrency, warm, None).await;
    run(&client, &noauth_url, None, concurrency, warm, None).await;

    let (mut with_auth, mut without) = (Vec::new(), Vec::new());
    let (mut cpu_auth, mut cpu_noauth) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        // Alternate which goes first so neither always gets the warmer machine.
        let authed = || {
            run(
                &client,
                &auth_url,
                Some(&token),
                concurrency,
                requests,
                server,
            )
        };
        let open = || run(&client, &noauth_url, None, concurrency, requests, server);
        let (a, n) = if round % 2 == 1 {
            let a = authed().await;
            (a, open().await)
        } else {
            let n = open().await;
            (authed().await, n)
        };
        let cpu = match (a.1, n.1) {
            (Some(ca), Some(cn)) => {
                cpu_auth.push(ca);
                cpu_noauth.push(cn);
                format!(" (server CPU {ca:.0} vs {cn:.0} us/request)")
            }
            _ => String::new(),
        };
        println!(
            "round {round}: authenticated {:.0} req/s, unauthenticated {:.0} req/s{cpu}",
            a.0, n.0
        );
        with_auth.push(a.0);
        without.push(n.0);
    }
    let a = median(&mut with_auth);
    let n = median(&mut without);
    println!("median authenticated:   {a:.0} req/s");
    println!("median unauthenticated: {n:.0} req/s");
    println!("ratio authenticated/unauthenticated: {:.3}", a / n);
    println!("auth overhead: {:.1}% of throughput", (1.0 - a / n) * 100.0);
    if !cpu_auth.is_empty() {
        let ca = median(&mut cpu_auth);
        let cn = median(&mut cpu_noauth);
        println!(
            "median server CPU per request: authenticated {ca:.0} us, unauthenticated {cn:.0} us ({:+.1}%)",
            (ca / cn - 1.0) * 100.0
        );
    }
}
