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
//! Context when it turns traces on (until then it is a no-op).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

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
