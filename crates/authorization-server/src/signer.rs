//! The signing stage: every RSA signature of the token endpoint and of `GetClientToken` is
//! made here, on a few dedicated threads fed by one bounded first-in, first-out queue.
//!
//! Why not sign in the connection's task: an RSA-2048 signature is ~150 µs of CPU, the
//! largest part of a token by far. Made inline, it is CPU work the tokio scheduler hands out
//! by its own rules — a task woken by I/O takes the worker's LIFO slot, the newest wakes are
//! served first, overflowing tasks wait in the global queue — so with more callers than
//! cores some callers waited a second while others were served in milliseconds (p99 1,000 ms
//! against p50 60 ms at 512 connections, BENCHMARKS.md). Here the order is the order of
//! arrival: the queue is a FIFO channel, whichever thread is free takes the oldest job, and
//! the answer wakes its request through a oneshot channel.
//!
//! Admission: the queue holds at most `capacity` jobs. A job that does not fit is refused at
//! once ([`Busy`]) — the caller answers a retryable refusal — instead of letting the wait,
//! and the memory of waiting requests, grow without bound. A job whose caller has gone (the
//! client closed the connection, the request timed out) is skipped: no signature is made
//! for nobody.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::keys::SigningKey;

/// Jobs the queue holds by default (`--signing-queue`): at ~6,000 signatures a second on
/// two cores, a full queue is a wait of under 100 ms, and a waiting request costs a few
/// kilobytes.
pub const DEFAULT_QUEUE: usize = 512;

/// Signing threads by default (`--signing-threads`): one per core the process may use.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// One unit of work: it runs on a signing thread and sends its own result.
type Job = Box<dyn FnOnce() + Send>;

/// The queue was full: the job was not accepted and will not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy;

/// Why a token was not signed.
#[derive(Debug)]
pub(crate) enum SignError {
    /// Too many requests are waiting for a signature: refuse, retryably.
    Busy,
    /// Signing failed (an internal error).
    Failed(StoreError),
}

/// The FIFO queue and its threads. Dropping it (with the last `AppState`) closes the queue;
/// the threads finish the jobs already queued and exit.
pub(crate) struct Stage {
    jobs: SyncSender<Job>,
    /// Threads actually started: with none, jobs run on the caller's thread.
    threads: usize,
    capacity: usize,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage")
            .field("threads", &self.threads)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Stage {
    /// A queue of `capacity` jobs (at least 1) served by `threads` threads. With no
    /// threads, every job runs at once on the caller's thread: no queue, no admission
    /// control — how tokens were signed before this stage, kept to compare the two.
    pub(crate) fn new(threads: usize, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(capacity);
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        for index in 0..threads {
            let queue = Arc::clone(&queue);
            match std::thread::Builder::new()
                .name(format!("signer-{index}"))
                .spawn(move || serve(&queue))
            {
                Ok(_) => started += 1,
                Err(error) => tracing::error!(%error, "cannot start a signing thread"),
            }
        }
        Self {
            jobs,
            threads: started,
            capacity,
        }
    }

    /// Queues `job` behind every job queued before it, or refuses it at once if the queue
    /// is full.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Busy> {
        if self.threads == 0 {
            // None asked for, or none could be started: sign inline rather than never.
            job();
            return Ok(());
        }
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            // Disconnected cannot happen while `self` holds the sender and a thread the
            // receiver; if every thread died, refusing is the safe answer.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }

    /// Signs `claims` with `key` on a signing thread, in turn.
    pub(crate) async fn sign(
        &self,
        key: Arc<SigningKey>,
        claims: impl serde::Serialize + Send + 'static,
    ) -> Result<String, SignError> {
        let (reply, signature) = oneshot::channel();
        self.submit(Box::new(move || {
            // The caller gave up (connection closed, request timed out): skip the work.
            if !reply.is_closed() {
                let _ = reply.send(key.sign_jwt(&claims));
            }
        }))
        .map_err(|Busy| SignError::Busy)?;
        match signature.await {
            Ok(result) => result.map_err(SignError::Failed),
            Err(_) => Err(SignError::Failed(StoreError::Internal(
                "the signing thread dropped the job".to_owned(),
            ))),
        }
    }
}

/// A signing thread: takes the oldest job, runs it, until the queue is closed.
fn serve(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held while waiting, so the threads take turns at the queue's head;
        // it is released before the job runs.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = next else { return };
        // A panicking job loses its own answer (its caller sees an internal error), not
        // the thread.
        if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a signing job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;

    use super::*;

    /// A job that blocks its thread until `release` is dropped or sent to, and says on
    /// `started` that it is running.
    fn blocker(started: mpsc::Sender<()>, release: Receiver<()>) -> Job {
        Box::new(move || {
            let _ = started.send(());
            let _ = release.recv();
        })
    }

    #[test]
    fn jobs_run_in_the_order_they_were_submitted() {
        let stage = Stage::new(1, 64);
        let (started_tx, started) = channel();
        let (release, release_rx) = channel();
        stage.submit(blocker(started_tx, release_rx)).unwrap();
        started.recv().unwrap(); // the only thread is now busy: the rest queue up
        let (done_tx, done) = channel();
        for index in 0..50 {
            let done_tx = done_tx.clone();
            stage
                .submit(Box::new(move || done_tx.send(index).unwrap()))
                .unwrap();
        }
        drop(done_tx);
        release.send(()).unwrap();
        let order: Vec<i32> = done.iter().collect();
        assert_eq!(order, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_queue_refuses_at_once_and_runs_nothing_it_refused() {
        let stage = Stage::new(1, 3);
        let (started_tx, started) = channel();
        let (release, release_rx) = channel();
        stage.submit(blocker(started_tx, release_rx)).unwrap();
        started.recv().unwrap();
        let (done_tx, done) = channel();
        for index in 0..3 {
            let done_tx = done_tx.clone();
            stage
                .submit(Box::new(move || done_tx.send(index).unwrap()))
                .unwrap();
        }
        let refused = {
            let done_tx = done_tx.clone();
            stage.submit(Box::new(move || done_tx.send(99).unwrap()))
        };
        assert_eq!(refused, Err(Busy));
        drop(done_tx);
        release.send(()).unwrap();
        assert_eq!(done.iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    /// Every thread of a stage busy and its queue full, until released.
    struct Hold {
        release: Vec<mpsc::Sender<()>>,
        /// One message per queued filler job, when it has run.
        drained: Receiver<()>,
        queued: usize,
    }

    impl Hold {
        /// Lets the threads go and waits until the queue is empty again.
        fn release(self) {
            drop(self.release);
            for _ in 0..self.queued {
                self.drained.recv().unwrap();
            }
        }
    }

    fn hold(stage: &Stage) -> Hold {
        let (started_tx, started) = channel();
        let mut release = Vec::new();
        for _ in 0..stage.threads {
            let (release_tx, release_rx) = channel();
            stage
                .submit(blocker(started_tx.clone(), release_rx))
                .unwrap();
            release.push(release_tx);
        }
        for _ in 0..stage.threads {
            started.recv().unwrap();
        }
        let (drained_tx, drained) = channel();
        let mut queued = 0;
        loop {
            let drained_tx = drained_tx.clone();
            let filler = Box::new(move || drained_tx.send(()).unwrap());
            if stage.submit(filler).is_err() {
                break;
            }
            queued += 1;
        }
        assert_eq!(queued, stage.capacity);
        Hold {
            release,
            drained,
            queued,
        }
    }

    #[tokio::test]
    async fn a_full_stage_refuses_token_requests_retryably_and_issues_nothing() {
        let server = crate::test_util::TestServer::spawn(Arc::new(oauth_proto::time::SystemClock))
            .await
            .unwrap();
        let stack = server.create_stack().await.unwrap();
        let client = server
            .admin(
                "CreateUserPoolClient",
                serde_json::json!({
                    "UserPoolId": stack.pool_id,
                    "ClientName": "sdk-m2m",
                    "GenerateSecret": true,
                    "ExplicitAuthFlows": ["ALLOW_CLIENT_TOKEN_AUTH"],
                    "AllowedOAuthFlowsUserPoolClient": true,
                    "AllowedOAuthFlows": ["client_credentials"],
                    "AllowedOAuthScopes": ["user-schedule-service/schedule.read"],
                }),
            )
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let token_request = || {
            http.post(&stack.token_url)
                .basic_auth(stack.client_id.as_str(), Some(stack.client_secret.expose()))
                .form(&[("grant_type", "client_credentials")])
                .send()
        };
        let get_client_token = || {
            http.post(format!("{}/", server.url()))
                .header(
                    "x-amz-target",
                    "AWSCognitoIdentityProviderService.GetClientToken",
                )
                .header("content-type", "application/x-amz-json-1.1")
                .body(
                    serde_json::json!({
                        "ClientId": client["UserPoolClient"]["ClientId"],
                        "Secret": client["UserPoolClient"]["ClientSecret"],
                    })
                    .to_string(),
                )
                .send()
        };

        let held = hold(server.state().signer());
        let refused = token_request().await.unwrap();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(refused.headers()["cache-control"], "no-store");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(body.get("access_token").is_none(), "{body}");
        let refused = get_client_token().await.unwrap();
        assert_eq!(refused.status(), 400);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["__type"], "TooManyRequestsException", "{body}");
        assert!(body.get("ClientAuthenticationResult").is_none(), "{body}");

        held.release();
        let issued = token_request().await.unwrap();
        assert_eq!(issued.status(), 200);
        let body: serde_json::Value = issued.json().await.unwrap();
        assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
        let issued = get_client_token().await.unwrap();
        assert_eq!(issued.status(), 200);
    }

    #[test]
    fn a_panicking_job_does_not_stop_its_thread() {
        let stage = Stage::new(1, 8);
        stage.submit(Box::new(|| panic!("boom"))).unwrap();
        let (done_tx, done) = channel();
        stage
            .submit(Box::new(move || done_tx.send(1).unwrap()))
            .unwrap();
        assert_eq!(done.recv().unwrap(), 1);
    }
}
