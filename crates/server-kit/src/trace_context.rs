//! W3C Trace Context (`traceparent`, `tracestate`) across the servers' HTTP hops.
//!
//! The servers emit `tracing` spans; when the binary installs the OpenTelemetry bridge
//! (`tracing-opentelemetry`), each span becomes an OpenTelemetry span and these helpers
//! carry its context over HTTP: [`continue_trace`] makes a request's span the child of
//! the caller's, [`inject_current`] writes the current span's context into an outgoing
//! request. Without the bridge, spans have no OpenTelemetry context: both are no-ops
//! (extraction is skipped unless the request carries `traceparent`).
//!
//! Both use OpenTelemetry's process-wide propagator, which the binary sets to W3C Trace
//! Context when it turns traces on (until then it is a no-op). [`layer`] is the bridge
//! itself, configured as the binary uses it (and as the tests check it).

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{Tracer, TracerProvider};
use tracing::{Level, Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

/// The `tracing` layer that turns the servers' spans into OpenTelemetry spans of a tracer
/// of `provider`, with its own filter (see [`exported`]) whatever the logs' level.
///
/// Lean spans: no busy/idle timings, thread or source-location attributes. A span's
/// parent is the current `tracing` span (OpenTelemetry's thread-local context is not
/// activated): the servers' code carries spans into spawned tasks with
/// `tracing::Instrument`, and that alone must decide the tree.
pub fn layer<S, P>(provider: &P) -> impl Layer<S> + use<S, P>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    P: TracerProvider,
    P::Tracer: Tracer + Send + Sync + 'static,
    <P::Tracer as Tracer>::Span: Send + Sync,
{
    EXPORTING.store(true, Ordering::Relaxed);
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("s2s"))
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_context_activation(false)
        .with_filter(filter_fn(exported))
}

/// Whether [`layer`] was built: spans are exported, so [`name`] names them.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Names `span` and sets its kind (`server`, `client`, `internal`) for OpenTelemetry, by
/// recording its `otel.name` and `otel.kind` fields (declared `Empty`), only when spans
/// are exported: otherwise they would only clutter the logs.
pub fn name(span: &tracing::Span, kind: &'static str, name: impl Display) {
    if EXPORTING.load(Ordering::Relaxed) {
        span.record("otel.kind", kind);
        span.record("otel.name", tracing::field::display(name));
    }
}

/// What becomes part of a trace: every span of this project's crates, at any level (the
/// token and verification spans are `debug`, off in the logs), and warnings and errors
/// from anywhere, as events of the span they happen in. Dependencies' spans and the
/// `info` logs (the request log repeats the span's status) stay out: each event costs
/// the exporter about as much as a span.
pub fn exported(metadata: &Metadata<'_>) -> bool {
    const OURS: [&str; 6] = [
        "server_kit",
        "authorization_server",
        "user_schedule_service",
        "articles_service",
        "token_provider",
        "jwt_verifier",
    ];
    if metadata.is_span() {
        OURS.iter()
            .any(|crate_| metadata.target().starts_with(crate_))
    } else {
        *metadata.level() <= Level::WARN
    }
}

/// The header that carries the caller's trace and span ids.
pub const TRACEPARENT: &str = "traceparent";

/// Makes `span` (a request's span) continue the trace of the caller, when the request
/// carries a valid `traceparent`. An invalid one is ignored: the span starts a new trace.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    if !headers.contains_key(TRACEPARENT) {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Fails only when no OpenTelemetry layer is installed: then there is nothing to link.
    let _ = span.set_parent(parent);
}

/// Writes the current span's trace context into `headers` (`traceparent`, and
/// `tracestate` when the trace has one). Writes nothing when the current span has no
/// OpenTelemetry context.
pub fn inject_current(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
