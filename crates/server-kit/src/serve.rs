//! Serving a router until shutdown.

use std::future::Future;

use axum::Router;

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting
/// connections and waits for the requests in flight to finish (graceful shutdown).
///
/// The caller binds the listener (port 0 in tests), so it knows the address before the
/// first request; the address is logged at `info` with `service` as the message.
pub async fn serve(
    service: &'static str,
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, service, "{service} listening");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
