//! The async runtime: for the servers, one worker thread more than there are cores.
//!
//! The authorization server signs tokens on the runtime's threads, as many at once as there
//! are cores (`authorization_server`'s signing turns). With only as many workers as cores,
//! every worker could be signing while new requests sat unread, waiting in the scheduler's
//! queues — outside the signing queue's arrival order and its admission limit. The extra
//! worker keeps reading, answering and refusing requests while the others sign; the kernel
//! shares the cores among them. An operator's `TOKIO_WORKER_THREADS` is kept.

use tokio::runtime::{Builder, Runtime};

/// The variable tokio reads for its number of worker threads.
const WORKER_THREADS: &str = "TOKIO_WORKER_THREADS";

/// The runtime of a command: for the servers (`server`), one worker per core plus one,
/// unless the environment says otherwise; tokio's default (one per core) for the others.
pub(crate) fn build(server: bool) -> std::io::Result<Runtime> {
    let mut builder = Builder::new_multi_thread();
    builder.enable_all();
    if server && std::env::var_os(WORKER_THREADS).is_none() {
        builder.worker_threads(authorization_server::default_concurrent_signatures() + 1);
    }
    builder.build()
}
