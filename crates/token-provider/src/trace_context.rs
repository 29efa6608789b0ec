//! With the `opentelemetry` feature: the token request carries the caller's trace
//! context, so the authorization server's span joins the caller's trace.

use opentelemetry::propagation::Injector;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Writes the current span's context into `headers` with OpenTelemetry's process-wide
/// propagator (set it to W3C Trace Context with
/// `opentelemetry::global::set_text_map_propagator`; until then it writes nothing).
pub(crate) fn inject_current(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
