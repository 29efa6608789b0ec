//! Process-wide logging and metrics, set up once by the binary (libraries only emit).

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use anyhow::Context as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::cli::LogFormat;
use crate::traces::Traces;

/// Logs go to stderr so that commands printing results (`s2s token`) keep stdout clean.
/// `default_level` applies when RUST_LOG is not set: `info` for the servers, `warn` for
/// one-shot commands whose output is the point.
///
/// With `traces`, spans are also exported, under their own filter (see
/// [`crate::traces`]): RUST_LOG filters the logs only.
pub(crate) fn init(
    format: LogFormat,
    default_level: &str,
    traces: Option<&Traces>,
) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file or a CI log gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let logs = match format {
        LogFormat::Human => logs.boxed(),
        LogFormat::Json => logs.json().flatten_event(true).boxed(),
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces.map(Traces::layer))
        .try_init()
        .map_err(|err| anyhow::anyhow!("{err}"))
        .context("cannot set up logging")
}

/// The process-wide Prometheus recorder of `s2s serve`, which runs one server, installed on
/// first use. (`s2s up` gives each of its servers its own: [`ServerMetrics`].)
pub(crate) fn metrics_handle() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    keep_up(handle.clone());
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// How often a recorder's histogram samples are folded into its summaries.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the recorder's upkeep every [`UPKEEP_INTERVAL`] for as long as the runtime runs.
/// A histogram keeps every sample recorded until the next upkeep or scrape; recorders
/// built by hand (ours) get no upkeep task of their own, so without this a server nobody
/// scrapes grew by 8 bytes per request, without bound (hundreds of MiB an hour at full
/// load).
fn keep_up(handle: PrometheusHandle) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            handle.run_upkeep();
        }
    });
}

/// One server's own Prometheus recorder, for `s2s up`, which runs three servers in one
/// process: with a single process-wide recorder each `/metrics` would serve all three
/// servers' series, and a Prometheus scraping the three endpoints would count everything
/// three times.
///
/// The recorder is made current, thread-locally, for every poll of the server's request
/// futures ([`ServerMetrics::scope_router`]) and of its startup ([`ServerMetrics::scope`]).
/// Work a server hands to a task of its own (`tokio::spawn`) runs outside that scope and
/// records into the process-wide recorder: only articles-service's token provider does
/// that (its token refreshes), so `s2s up` installs articles-service's recorder as the
/// process-wide one ([`ServerMetrics::install_as_fallback`]).
#[derive(Clone)]
pub(crate) struct ServerMetrics {
    recorder: std::sync::Arc<PrometheusRecorder>,
}

impl ServerMetrics {
    /// A recorder, with its upkeep running on the current runtime.
    pub(crate) fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        keep_up(recorder.handle());
        Self {
            recorder: std::sync::Arc::new(recorder),
        }
    }

    /// What the server renders at `/metrics`.
    pub(crate) fn handle(&self) -> PrometheusHandle {
        self.recorder.handle()
    }

    /// Makes this the recorder of whatever runs outside every server's scope.
    pub(crate) fn install_as_fallback(&self) -> anyhow::Result<()> {
        metrics::set_global_recorder(std::sync::Arc::clone(&self.recorder))
            .map_err(|err| anyhow::anyhow!("{err}"))
            .context("cannot install the metrics recorder")
    }

    /// `future`, recording into this server's recorder.
    pub(crate) fn scope<F: Future>(&self, future: F) -> Scoped<Pin<Box<F>>> {
        Scoped {
            recorder: std::sync::Arc::clone(&self.recorder),
            inner: Box::pin(future),
        }
    }

    /// `router`, each request recording into this server's recorder: the outermost layer,
    /// so the server's own metrics middleware runs inside it. A tower layer rather than
    /// `axum::middleware::from_fn`, which boxed a clone of the router and a future holding
    /// the request for every request.
    pub(crate) fn scope_router(&self, router: axum::Router) -> axum::Router {
        router.layer(ScopeLayer {
            recorder: std::sync::Arc::clone(&self.recorder),
        })
    }
}

/// The layer of [`ServerMetrics::scope_router`].
#[derive(Clone)]
struct ScopeLayer {
    recorder: std::sync::Arc<PrometheusRecorder>,
}

impl<S> tower::Layer<S> for ScopeLayer {
    type Service = ScopeService<S>;

    fn layer(&self, inner: S) -> ScopeService<S> {
        ScopeService {
            inner,
            recorder: std::sync::Arc::clone(&self.recorder),
        }
    }
}

/// The service of [`ScopeLayer`]: calls and polls `S` with the server's recorder current.
#[derive(Clone)]
struct ScopeService<S> {
    inner: S,
    recorder: std::sync::Arc<PrometheusRecorder>,
}

impl<S, R> tower::Service<R> for ScopeService<S>
where
    S: tower::Service<R>,
    S::Future: Unpin,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Scoped<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        let inner = &mut self.inner;
        metrics::with_local_recorder(&*self.recorder, || inner.poll_ready(cx))
    }

    fn call(&mut self, request: R) -> Scoped<S::Future> {
        let inner = &mut self.inner;
        let future = metrics::with_local_recorder(&*self.recorder, || inner.call(request));
        Scoped {
            recorder: std::sync::Arc::clone(&self.recorder),
            inner: future,
        }
    }
}

/// A future that polls its inner future with a recorder made current (see
/// [`ServerMetrics`]).
pub(crate) struct Scoped<F> {
    recorder: std::sync::Arc<PrometheusRecorder>,
    inner: F,
}

impl<F: Future + Unpin> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        metrics::with_local_recorder(&*this.recorder, || Pin::new(&mut this.inner).poll(cx))
    }
}
