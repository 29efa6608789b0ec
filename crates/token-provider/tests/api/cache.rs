//! Caching, early refresh and single flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use futures::FutureExt as _;
use oauth_proto::time::ManualClock;

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn hundred_concurrent_callers_at_cold_start_cause_one_request() {
    let endpoint =
        MockEndpoint::new(Reply::Token { expires_in: 3600 }).with_delay(Duration::from_millis(300));
    let provider = builder(&endpoint, TokioClock::new()).build().unwrap();

    let callers: Vec<_> = (0..100)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.token().await })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().secret(), "token-1");
    }

    assert_eq!(endpoint.count(), 1);
    assert_eq!(provider.stats().requests, 1);
    assert_eq!(provider.stats().tokens, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_callers_on_four_threads_cause_one_request() {
    // Real time here: the endpoint answers at once, so this only shows that no
    // interleaving of 1,000 callers on 4 worker threads makes a second request.
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let provider = builder(&endpoint, Arc::new(oauth_proto::time::SystemClock))
        .build()
        .unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(1000));
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let provider = provider.clone();
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                provider.token().await
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().secret(), "token-1");
    }
    assert_eq!(endpoint.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn token_near_expiry_is_refreshed_once_before_it_expires() {
    let endpoint =
        MockEndpoint::new(Reply::Token { expires_in: 3600 }).with_delay(Duration::from_secs(5));
    let provider = builder(&endpoint, TokioClock::new())
        .refresh_share(0.8)
        .refresh_jitter(0.0)
        .build()
        .unwrap();

    // Requested at 0 s, answered at 5 s: expires at 3600 s, replaced at 2880 s.
    let first = provider.token().await.unwrap();
    assert_eq!(first.secret(), "token-1");
    assert_eq!(
        first.expires_at(),
        UNIX_EPOCH + secs(START_UNIX + 3600),
        "expiry counts from when the request was sent"
    );

    pass(secs(2874)).await; // now 2879 s
    assert_eq!(endpoint.count(), 1, "refreshed too early");

    pass(secs(2)).await; // now 2881 s: the timer started the refresh at 2880 s
    assert_eq!(endpoint.count(), 2, "no refresh at 80 % of the lifetime");
    assert_near(endpoint.seen()[1].at, secs(2880));

    // The refresh takes until 2885 s; meanwhile callers get the old token without waiting.
    for _ in 0..3 {
        let token = provider
            .token()
            .now_or_never()
            .expect("token() waited while a valid token was cached")
            .unwrap();
        assert_eq!(token.secret(), "token-1");
        pass(secs(1)).await;
    }
    pass(secs(2)).await; // now 2886 s: the refresh has answered
    let second = provider.token().now_or_never().unwrap().unwrap();
    assert_eq!(second.secret(), "token-2");
    assert_eq!(endpoint.count(), 2);

    // Past the first token's expiry nothing else happens: the next refresh is at
    // 2880 + 2880 s.
    pass(secs(2000)).await;
    assert_eq!(endpoint.count(), 2);
    assert_eq!(provider.stats().requests, 2);
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_refreshes_of_many_instances() {
    let mut refresh_times = Vec::new();
    for seed in 0..20 {
        let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
        let provider = builder(&endpoint, TokioClock::new())
            .jitter_seed(seed)
            .build()
            .unwrap();
        provider.token().await.unwrap();
        // Defaults: 80 % of the lifetime minus up to 10 %.
        pass(secs(2519)).await;
        assert_eq!(endpoint.count(), 1, "seed {seed}: refreshed before 70 %");
        pass(secs(362)).await;
        assert_eq!(endpoint.count(), 2, "seed {seed}: not refreshed by 80 %");
        refresh_times.push(endpoint.seen()[1].at.as_secs());
    }
    refresh_times.sort_unstable();
    refresh_times.dedup();
    assert!(
        refresh_times.len() >= 15,
        "20 instances refreshed at only {} distinct seconds",
        refresh_times.len()
    );
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_calls_over_one_token_lifetime_make_one_request() {
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let provider = builder(&endpoint, TokioClock::new()).build().unwrap();

    // The earliest refresh with the default settings is at 70 % of the lifetime (2520 s):
    // 10,000 calls spread over the first 2,500 s are all served by the first token.
    let waited = AtomicUsize::new(0);
    provider.token().await.unwrap();
    for _ in 1..10_000 {
        tokio::time::advance(Duration::from_millis(250)).await;
        match provider.token().now_or_never() {
            Some(token) => assert_eq!(token.unwrap().secret(), "token-1"),
            None => {
                waited.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    assert_eq!(endpoint.count(), 1);
    assert_eq!(waited.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn refresh_calls_are_coalesced() {
    let endpoint =
        MockEndpoint::new(Reply::Token { expires_in: 3600 }).with_delay(Duration::from_secs(1));
    let provider = builder(&endpoint, TokioClock::new()).build().unwrap();
    let first = provider.token().await.unwrap();

    let refreshes: Vec<_> = (0..50)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.refresh().await })
        })
        .collect();
    for refresh in refreshes {
        assert_eq!(refresh.await.unwrap().unwrap().secret(), "token-2");
    }
    assert_eq!(endpoint.count(), 2);

    // Fifty requests refused with token-1 after token-2 arrived cause no request; refused
    // with token-2, they cause exactly one.
    for _ in 0..50 {
        let token = provider.refresh_rejected(&first).await.unwrap();
        assert_eq!(token.secret(), "token-2");
    }
    assert_eq!(endpoint.count(), 2);
    let second = provider.cached().unwrap();
    let rejected: Vec<_> = (0..50)
        .map(|_| {
            let provider = provider.clone();
            let second = second.clone();
            tokio::spawn(async move { provider.refresh_rejected(&second).await })
        })
        .collect();
    for refresh in rejected {
        assert_eq!(refresh.await.unwrap().unwrap().secret(), "token-3");
    }
    assert_eq!(endpoint.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn cancelled_caller_does_not_cancel_the_refresh() {
    let endpoint =
        MockEndpoint::new(Reply::Token { expires_in: 3600 }).with_delay(Duration::from_secs(2));
    let provider = builder(&endpoint, TokioClock::new()).build().unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(1), provider.token()).await;
    assert!(outcome.is_err(), "the endpoint answers after 2 s");
    pass(secs(2)).await;
    assert_eq!(provider.cached().unwrap().secret(), "token-1");
    assert_eq!(provider.token().await.unwrap().secret(), "token-1");
    assert_eq!(endpoint.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn expiry_follows_the_injected_clock() {
    let clock = ManualClock::at_unix(START_UNIX);
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let provider = builder(&endpoint, Arc::new(clock.clone()))
        .refresh_jitter(0.0)
        .build()
        .unwrap();
    assert!(provider.cached().is_none());
    assert_eq!(provider.token().await.unwrap().secret(), "token-1");
    assert_eq!(provider.cached().unwrap().secret(), "token-1");

    // The wall clock passes the refresh time while Tokio's clock (and so the timer) stands
    // still, as after a suspended host: the next call still returns at once and starts the
    // refresh in the background.
    clock.advance(secs(3000));
    let token = provider.token().now_or_never().unwrap().unwrap();
    assert_eq!(token.secret(), "token-1");
    settle().await;
    assert_eq!(endpoint.count(), 2);
    assert_eq!(provider.cached().unwrap().secret(), "token-2");

    // Past expiry by the wall clock, the token is not handed out any more.
    clock.advance(secs(3600));
    assert!(provider.cached().is_none());
    assert_eq!(provider.token().await.unwrap().secret(), "token-3");
    assert_eq!(endpoint.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn dropped_provider_stops_refreshing() {
    let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
    let provider = builder(&endpoint, TokioClock::new()).build().unwrap();
    provider.token().await.unwrap();
    drop(provider);
    pass(secs(4 * 3600)).await;
    assert_eq!(endpoint.count(), 1);
}
