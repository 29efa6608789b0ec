//! Graceful shutdown: Ctrl-C or SIGTERM stops accepting connections and lets in-flight
//! requests finish.

use std::sync::Arc;

use tokio::sync::watch;

/// A signal every server of the process can wait on.
#[derive(Debug, Clone)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

/// Starts a shutdown from inside the process (e.g. when one of several servers fails).
#[derive(Debug, Clone)]
pub(crate) struct Trigger(Arc<watch::Sender<bool>>);

impl Trigger {
    /// Asks every waiter to stop. Idempotent.
    pub(crate) fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Starts listening for Ctrl-C and SIGTERM.
    pub(crate) fn on_signals() -> Self {
        Self::on_signals_with_trigger().0
    }

    /// Like [`Shutdown::on_signals`], plus a [`Trigger`] to stop without a signal.
    pub(crate) fn on_signals_with_trigger() -> (Self, Trigger) {
        let (tx, rx) = watch::channel(false);
        let trigger = Trigger(Arc::new(tx));
        let on_signal = trigger.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            on_signal.fire();
        });
        (Self(rx), trigger)
    }

    /// Resolves once shutdown has been asked for.
    pub(crate) async fn wait(mut self) {
        // An error means the sender is gone, which also means: stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
