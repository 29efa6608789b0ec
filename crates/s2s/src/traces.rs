//! OpenTelemetry traces for `s2s up` and `s2s serve`, off unless an OTLP endpoint is
//! given: the servers' `tracing` spans are exported over OTLP/HTTP (protobuf) through
//! the `tracing-opentelemetry` bridge, and W3C Trace Context is set as the propagator,
//! so a trace crosses articles-service → token endpoint → user-schedule-service.
//!
//! Off, nothing of this is installed: no layer, no exporter thread, and the propagator
//! stays OpenTelemetry's no-op.

use anyhow::Context as _;
use clap::Args;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// Where traces go; both flags also read the standard OpenTelemetry variables.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct TraceArgs {
    /// Export trace spans to this OpenTelemetry collector's OTLP/HTTP endpoint (protobuf),
    /// e.g. http://127.0.0.1:4318: spans are posted to <URL>/v1/traces. [default: no
    /// traces]
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    pub(crate) otlp_endpoint: Option<url::Url>,

    /// The `service.name` of the exported spans. [default: the server's name for serve,
    /// `s2s` for up, whose spans name their server in the `server` attribute]
    #[arg(long, env = "OTEL_SERVICE_NAME", value_name = "NAME")]
    pub(crate) service_name: Option<String>,
}

/// The running exporter; dropping it flushes the spans not yet sent (at most a few
/// seconds, the exporter's timeout). Built before, and dropped after, the async runtime:
/// the exporter's HTTP client is a blocking one on its own thread.
pub(crate) struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Starts the exporter when `args` name an endpoint; `None` when traces are off.
    pub(crate) fn start(args: &TraceArgs, default_service: &str) -> anyhow::Result<Option<Self>> {
        let Some(endpoint) = &args.otlp_endpoint else {
            return Ok(None);
        };
        // OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL; traces have their path.
        let traces_url = format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(&traces_url)
            .build()
            .with_context(|| format!("cannot set up the OTLP exporter for {traces_url}"))?;
        let service = args.service_name.as_deref().unwrap_or(default_service);
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(service.to_owned())
                    .build(),
            )
            .build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing::debug!(%traces_url, service, "exporting traces");
        Ok(Some(Self { provider }))
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans for this exporter.
    pub(crate) fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        server_kit::trace_context::layer(&self.provider)
    }
}

impl Drop for Traces {
    fn drop(&mut self) {
        if let Err(err) = self.provider.shutdown() {
            // The logging subscriber may be gone by now: stderr directly.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("warning: traces not all exported: {err}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_endpoint_means_no_traces() {
        let traces = Traces::start(&TraceArgs::default(), "s2s").unwrap();
        assert!(traces.is_none());
    }
}
