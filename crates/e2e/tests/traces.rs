//! OpenTelemetry traces across the flow, collected in memory: the three servers in one
//! process over real loopback HTTP, their `tracing` spans bridged to OpenTelemetry as the
//! `s2s` binary does (`tracing-opentelemetry`, W3C Trace Context propagator).
//!
//! - One call to articles-service on a cold token cache is one trace: articles-service's
//!   request span → the token call and request → the authorization server's span, and →
//!   the client span → user-schedule-service's span → the token verification, each
//!   linked to its parent; no attribute or event holds the secret or a token.
//! - Each server continues a trace its caller started (`traceparent`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Shared with the other test binaries; this one uses a part of them.
#[allow(dead_code)]
mod helpers;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use oauth_proto::time::{Clock, SystemClock};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The process-wide exporter every test of this binary reads (the servers' tasks run on
/// the runtime's worker threads: only a global subscriber sees their spans). Tests tell
/// their spans apart by trace id.
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    &EXPORTER
        .get_or_init(|| {
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            // The binary's layer and filter, beside a log layer as in the binary.
            let logs = tracing_subscriber::fmt::layer()
                .with_writer(std::io::sink)
                .with_filter(tracing_subscriber::EnvFilter::new("info"));
            tracing_subscriber::registry()
                .with(logs)
                .with(server_kit::trace_context::layer(&provider))
                .init();
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            (exporter, provider)
        })
        .0
}

/// The finished spans of trace `trace` once `done` holds for them. A server's span ends
/// when its response body has been sent, which may be just after the client read it:
/// this waits for the spans, up to 10 s, instead of assuming they are there.
async fn spans_of(trace: TraceId, done: impl Fn(&[SpanData]) -> bool) -> Vec<SpanData> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans: Vec<SpanData> = exporter()
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace)
            .collect();
        if done(&spans) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "the trace's spans never all ended; got: {:#?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// The request span of `server`, if `spans` hold it.
fn server_span<'a>(spans: &'a [SpanData], server: &str) -> Option<&'a SpanData> {
    spans
        .iter()
        .find(|s| attribute(s, "server").as_deref() == Some(server))
}

/// The names of `span`'s ancestors within `spans`, nearest first.
fn ancestors(spans: &[SpanData], span: &SpanData) -> Vec<String> {
    let mut names = Vec::new();
    let mut parent = span.parent_span_id;
    while parent != SpanId::INVALID {
        let Some(next) = spans.iter().find(|s| s.span_context.span_id() == parent) else {
            break;
        };
        names.push(next.name.to_string());
        parent = next.parent_span_id;
    }
    names
}

fn child_named<'a>(spans: &'a [SpanData], parent: &SpanData, name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.parent_span_id == parent.span_context.span_id() && s.name == name)
        .unwrap_or_else(|| panic!("no span {name} under {}", parent.name))
}

/// The three servers on a fresh data directory, provisioned, with a new token provider.
struct Stack {
    auth: helpers::Running,
    schedules: helpers::Running,
    articles: helpers::Running,
    provisioned: helpers::Provisioned,
    token_url: String,
}

async fn stack(data: &std::path::Path) -> Stack {
    exporter();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let auth =
        helpers::authorization_server(data, "127.0.0.1:0".parse().unwrap(), clock.clone()).await;
    let provisioned = helpers::provision(&helpers::sdk(&auth.url)).await;
    let issuer = format!("{}/{}", auth.url, provisioned.pool_id);
    let token_url = format!("{}/oauth2/token", auth.url);
    let schedules =
        helpers::user_schedule_service(data, &issuer, &provisioned.client_id, clock.clone()).await;
    let articles =
        helpers::articles_service(data, &token_url, &provisioned, &schedules.url, clock).await;
    Stack {
        auth,
        schedules,
        articles,
        provisioned,
        token_url,
    }
}

/// The trace of articles-service's request span for `path`, once that span has ended.
async fn articles_trace(path: &str) -> TraceId {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = exporter()
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .find(|s| {
                attribute(s, "server").as_deref() == Some("articles-service")
                    && attribute(s, "path").as_deref() == Some(path)
            });
        if let Some(span) = found {
            return span.span_context.trace_id();
        }
        assert!(
            Instant::now() < deadline,
            "articles-service's span never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_through_articles_service_is_one_trace_across_the_three_servers() {
    // A fresh stack: the first schedule call finds articles-service's token cache cold.
    let data = tempfile::tempdir().unwrap();
    let Stack {
        auth,
        schedules,
        articles,
        provisioned,
        token_url,
    } = stack(data.path()).await;

    let http = reqwest::Client::new();
    let article: serde_json::Value = http
        .post(format!("{}/articles", articles.url))
        .json(&json!({
            "title": "Traces without guesswork",
            "body": "One call, three servers.",
            "author_id": "alice",
            "publish_at": "2030-01-07T09:00:00Z",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = article["id"].as_str().unwrap();
    let response = http
        .get(format!("{}/articles/{id}/author-schedule", articles.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let path = format!("/articles/{id}/author-schedule");

    // The trace is the one of articles-service's span for this path.
    let trace = articles_trace(&path).await;
    let spans = spans_of(trace, |spans| {
        ["authorization-server", "user-schedule-service"]
            .iter()
            .all(|server| server_span(spans, server).is_some())
    })
    .await;

    // The root: articles-service's request span, a server span named by its route.
    let root = server_span(&spans, "articles-service").unwrap();
    assert_eq!(
        root.parent_span_id,
        SpanId::INVALID,
        "articles-service starts the trace"
    );
    assert_eq!(root.name, "GET /articles/{id}/author-schedule");
    assert_eq!(root.span_kind, opentelemetry::trace::SpanKind::Server);
    assert_eq!(attribute(root, "status").as_deref(), Some("200"));

    // articles-service → token endpoint: the call for a token (cold: it started the
    // refresh), the refresh, the HTTP request, and the server's span as its remote child.
    let token_span = server_span(&spans, "authorization-server").unwrap();
    assert_eq!(
        attribute(token_span, "route").as_deref(),
        Some("/oauth2/token")
    );
    assert!(
        token_span.parent_span_is_remote,
        "the token request carried traceparent"
    );
    let chain = ancestors(&spans, token_span);
    assert_eq!(
        chain,
        [
            "token.request",
            "token.refresh",
            "token.acquire",
            "GET /articles/{id}/author-schedule"
        ],
        "the token endpoint's span hangs under the call that needed the token"
    );
    let acquire = spans.iter().find(|s| s.name == "token.acquire").unwrap();
    assert_eq!(attribute(acquire, "outcome").as_deref(), Some("refreshed"));
    let request = spans.iter().find(|s| s.name == "token.request").unwrap();
    assert_eq!(attribute(request, "status").as_deref(), Some("200"));
    assert_eq!(request.span_kind, opentelemetry::trace::SpanKind::Client);

    // articles-service → user-schedule-service: a client span, the server's span as its
    // remote child, and the token's verification inside it.
    let schedule_span = server_span(&spans, "user-schedule-service").unwrap();
    assert!(schedule_span.parent_span_is_remote);
    assert_eq!(
        attribute(schedule_span, "route").as_deref(),
        Some("/users/{user_id}/schedule")
    );
    let chain = ancestors(&spans, schedule_span);
    assert_eq!(chain.len(), 2, "client span, then the root: {chain:?}");
    assert_eq!(chain[1], "GET /articles/{id}/author-schedule");
    let client = spans
        .iter()
        .find(|s| s.span_context.span_id() == schedule_span.parent_span_id)
        .unwrap();
    assert_eq!(client.span_kind, opentelemetry::trace::SpanKind::Client);
    assert_eq!(attribute(client, "status").as_deref(), Some("200"));
    let verify = child_named(&spans, schedule_span, "jwt.verify");
    assert_eq!(attribute(verify, "refusal"), None, "the token was accepted");

    // Nothing in the trace holds the secret or a token (a JWT starts `eyJ`), nor an
    // `Authorization` header's value.
    let token = helpers::token_provider(&token_url, &provisioned, Arc::new(SystemClock))
        .token()
        .await
        .unwrap();
    for span in &spans {
        let values = span
            .attributes
            .iter()
            .chain(span.events.iter().flat_map(|e| e.attributes.iter()))
            .map(|kv| format!("{}={}", kv.key, kv.value.as_str()))
            .chain(span.events.iter().map(|e| e.name.to_string()))
            .chain(std::iter::once(span.name.to_string()));
        for value in values {
            assert!(
                !value.contains(&provisioned.secret),
                "{}: {value}",
                span.name
            );
            assert!(!value.contains("eyJ"), "{}: {value}", span.name);
            assert!(
                !value.contains(&token.secret()[..40]),
                "{}: {value}",
                span.name
            );
            let lower = value.to_ascii_lowercase();
            assert!(
                !lower.contains("bearer ") && !lower.contains("basic "),
                "{value}"
            );
        }
    }

    // Every admin call is `POST /`: its span is named by the operation.
    assert!(
        exporter()
            .get_finished_spans()
            .unwrap()
            .iter()
            .any(|s| s.name == "POST / CreateUserPoolClient"),
        "the admin API's spans name their operation"
    );

    // A publication runs in a task of its own (it must finish if the caller goes away):
    // its calls still belong to the request's trace. The client lacks `schedule.update`:
    // user-schedule-service refuses (403), a new token is tried once, refused again.
    let response = http
        .post(format!("{}/articles/{id}/publication", articles.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let path = format!("/articles/{id}/publication");
    let trace = articles_trace(&path).await;
    let spans = spans_of(trace, |spans| {
        spans
            .iter()
            .filter(|s| attribute(s, "status").as_deref() == Some("403"))
            .count()
            >= 4
    })
    .await;
    let upstream: Vec<&SpanData> = spans
        .iter()
        .filter(|s| attribute(s, "server").as_deref() == Some("user-schedule-service"))
        .collect();
    let refused = upstream
        .iter()
        .filter(|s| attribute(s, "status").as_deref() == Some("403"))
        .count();
    assert_eq!(refused, 2, "the booking and its one retry with a new token");
    for span in upstream {
        assert_eq!(
            ancestors(&spans, span).last().map(String::as_str),
            Some("POST /articles/{id}/publication")
        );
    }

    articles.stop().await;
    schedules.stop().await;
    auth.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_server_continues_the_callers_trace() {
    let data = tempfile::tempdir().unwrap();
    let Stack {
        auth,
        schedules,
        articles,
        ..
    } = stack(data.path()).await;

    let http = reqwest::Client::new();
    let calls = [
        ("authorization-server", format!("{}/healthz", auth.url)),
        (
            "user-schedule-service",
            format!("{}/users/alice/schedule", schedules.url),
        ),
        ("articles-service", format!("{}/articles", articles.url)),
    ];
    for (n, (server, url)) in calls.iter().enumerate() {
        // A caller's trace and span, different for each call.
        let trace = format!("4bf92f3577b34da6a3ce929d0e0e47{n:02x}");
        let parent = format!("00f067aa0ba902{n:02x}");
        let response = http
            .get(url)
            .header("traceparent", format!("00-{trace}-{parent}-01"))
            .header("tracestate", "vendor=opaque")
            .send()
            .await
            .unwrap();
        // Refused (401, no token) or not: the span continues the trace either way.
        assert!(
            response.status().as_u16() < 500,
            "{server}: {}",
            response.status()
        );
        let trace = TraceId::from_hex(&trace).unwrap();
        let spans = spans_of(trace, |spans| server_span(spans, server).is_some()).await;
        let span = server_span(&spans, server).unwrap();
        assert_eq!(
            span.parent_span_id,
            SpanId::from_hex(&parent).unwrap(),
            "{server}"
        );
        assert!(span.parent_span_is_remote, "{server}");
        assert_eq!(
            span.span_context.trace_state().get("vendor"),
            Some("opaque"),
            "{server} keeps the caller's tracestate"
        );
    }

    // A malformed traceparent is ignored: the request is served in a trace of its own.
    let response = http
        .get(format!("{}/healthz", auth.url))
        .header("traceparent", "00-not-a-trace-01")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    articles.stop().await;
    schedules.stop().await;
    auth.stop().await;
}
