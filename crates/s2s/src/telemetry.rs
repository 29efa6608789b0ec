//! Process-wide logging and metrics, set up once by the binary (libraries only emit).

use std::sync::OnceLock;

use anyhow::Context as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Logs go to stderr so that commands printing results (`s2s token`) keep stdout clean.
/// `default_level` applies when RUST_LOG is not set: `info` for the servers, `warn` for
/// one-shot commands whose output is the point.
pub(crate) fn init_logging(format: LogFormat, default_level: &str) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file or a CI log gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result
        .map_err(|err| anyhow::anyhow!("{err}"))
        .context("cannot set up logging")
}

/// The Prometheus recorder, installed on first use; every server of the process renders
/// the same handle at `/metrics`.
pub(crate) fn metrics_handle() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}
