//! Signing in turns: every RSA signature of the token endpoint and of `GetClientToken` is
//! made when its request's turn comes, in arrival order, a few at a time.
//!
//! Why turns: an RSA-2048 signature is ~300 µs of CPU, the largest part of a token by far.
//! Made whenever its request's task happens to run, it is CPU work the tokio scheduler hands
//! out by its own rules — a task woken by I/O takes the worker's LIFO slot, the newest wakes
//! are served first, overflowing tasks wait in the global queue — so with more callers than
//! cores some callers waited a second while others were served in milliseconds (p99
//! 1,000 ms against p50 60 ms at 512 connections, BENCHMARKS.md). Here a request does its
//! cheap part (form, client, secret, claims) in its own task, then waits for a turn in one
//! first-in, first-out queue (tokio's semaphore, which is fair) and signs in its own task,
//! on the runtime's thread, as soon as its turn comes. There are as many turns as cores.
//!
//! Why not dedicated signing threads fed by a channel (this module's first design): each
//! token then crossed threads twice, and the wake-ups (futex, reschedule IPIs) cost a tenth
//! of a token's CPU (BENCHMARKS.md, "Overload").
//!
//! Admission: at most `capacity` requests wait for a turn. One that does not fit is refused
//! at once ([`SignError::Busy`]) — the caller answers a retryable refusal — instead of
//! letting the wait, and the memory of waiting requests, grow without bound. A request
//! whose caller goes away while it waits (the client closed the connection, the request
//! timed out) leaves the queue: no signature is made for nobody.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use tokio::sync::Semaphore;

use crate::error::StoreError;
use crate::keys::SigningKey;

/// Requests that may wait for a turn by default (`--signing-queue`): at ~6,000 signatures a
/// second on two cores, a full queue is a wait of under 100 ms, and a waiting request costs
/// a few kilobytes.
pub const DEFAULT_QUEUE: usize = 512;

/// Signatures made at once by default (`--concurrent-signatures`): one per core the process
/// may use.
pub fn default_turns() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Why a token was not signed.
#[derive(Debug)]
pub(crate) enum SignError {
    /// Too many requests are waiting for a turn: refuse, retryably.
    Busy,
    /// Signing failed (an internal error).
    Failed(StoreError),
}

/// The turns and the queue of requests waiting for one.
#[derive(Debug)]
pub(crate) struct Signer {
    /// `None`: every request signs at once, with no queue and no admission control.
    turns: Option<Semaphore>,
    /// Requests waiting for a turn.
    waiting: AtomicUsize,
    capacity: usize,
}

impl Signer {
    /// `turns` signatures at once (0: no turns — every request signs at once, with no queue
    /// and no admission control: how tokens were signed before, kept to compare the two),
    /// and at most `capacity` requests (at least 1) waiting for a turn.
    pub(crate) fn new(turns: usize, capacity: usize) -> Self {
        Self {
            turns: (turns > 0).then(|| Semaphore::new(turns)),
            waiting: AtomicUsize::new(0),
            capacity: capacity.max(1),
        }
    }

    /// Signs `claims` with `key` when this request's turn comes, or refuses at once if too
    /// many requests are already waiting.
    pub(crate) async fn sign(
        &self,
        key: &SigningKey,
        claims: &impl Serialize,
    ) -> Result<String, SignError> {
        let Some(turns) = &self.turns else {
            return key.sign_jwt(claims).map_err(SignError::Failed);
        };
        let _turn = {
            let _waiting = self.join_queue().ok_or(SignError::Busy)?;
            turns.acquire().await.map_err(|_| {
                SignError::Failed(StoreError::Internal(
                    "the signing turns are closed".to_owned(),
                ))
            })?
        };
        // Synchronous: the turn is held exactly as long as the signature takes.
        key.sign_jwt(claims).map_err(SignError::Failed)
    }

    /// A place in the queue, or `None` when it is full.
    fn join_queue(&self) -> Option<Waiting<'_>> {
        let joined = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting < self.capacity).then_some(waiting + 1)
            })
            .is_ok();
        // `then`, not `then_some`: a `Waiting` made and dropped would give back a place
        // that was never taken.
        joined.then(|| Waiting(&self.waiting))
    }
}

/// A request's place in the queue, given back when it gets its turn or goes away.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::keys::{KeyCache, generate};
    use crate::store::KeyUse;

    fn key() -> Arc<SigningKey> {
        let record = generate("us-east-1_abcdefghi", 0, KeyUse::Access).unwrap();
        KeyCache::default().get(&record).unwrap()
    }

    /// Claims that write their number down when they are signed (serialized, just before
    /// the signature).
    struct Numbered {
        number: usize,
        signed: Arc<Mutex<Vec<usize>>>,
    }

    impl Serialize for Numbered {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            self.signed.lock().unwrap().push(self.number);
            serializer.serialize_u64(self.number as u64)
        }
    }

    fn numbered(number: usize, signed: &Arc<Mutex<Vec<usize>>>) -> Numbered {
        Numbered {
            number,
            signed: Arc::clone(signed),
        }
    }

    /// Spawns `request`, a request for a signature, and waits until it is queued.
    async fn queue<T: Send + 'static>(
        signer: &Signer,
        request: impl Future<Output = T> + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        let waiting = signer.waiting.load(Ordering::Acquire);
        let request = tokio::spawn(request);
        while signer.waiting.load(Ordering::Acquire) == waiting {
            tokio::task::yield_now().await;
        }
        request
    }

    /// Queues a request of `signer` signing claims numbered `number`.
    async fn queue_numbered(
        signer: &Arc<Signer>,
        key: &Arc<SigningKey>,
        number: usize,
        signed: &Arc<Mutex<Vec<usize>>>,
    ) -> tokio::task::JoinHandle<Result<String, SignError>> {
        let (owned, key, claims) = (
            Arc::clone(signer),
            Arc::clone(key),
            numbered(number, signed),
        );
        queue(signer, async move { owned.sign(&key, &claims).await }).await
    }

    #[tokio::test]
    async fn turns_are_given_in_arrival_order() {
        let (signer, key) = (Arc::new(Signer::new(1, 64)), key());
        let signed = Arc::new(Mutex::new(Vec::new()));
        let held = signer.turns.as_ref().unwrap().acquire().await.unwrap();
        let mut requests = Vec::new();
        for number in 0..20 {
            requests.push(queue_numbered(&signer, &key, number, &signed).await);
        }
        assert!(signed.lock().unwrap().is_empty(), "signed without a turn");
        drop(held);
        for request in requests {
            assert_eq!(request.await.unwrap().unwrap().split('.').count(), 3);
        }
        assert_eq!(*signed.lock().unwrap(), (0..20).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_signs_nothing_it_refused() {
        let (signer, key) = (Arc::new(Signer::new(1, 3)), key());
        let signed = Arc::new(Mutex::new(Vec::new()));
        let held = signer.turns.as_ref().unwrap().acquire().await.unwrap();
        let mut requests = Vec::new();
        for number in 0..3 {
            requests.push(queue_numbered(&signer, &key, number, &signed).await);
        }
        assert!(matches!(
            signer.sign(&key, &numbered(99, &signed)).await,
            Err(SignError::Busy)
        ));
        drop(held);
        for request in requests {
            request.await.unwrap().unwrap();
        }
        assert_eq!(*signed.lock().unwrap(), vec![0, 1, 2]);
    }

    #[tokio::test]
    async fn a_request_that_goes_away_leaves_the_queue_and_signs_nothing() {
        let (signer, key) = (Arc::new(Signer::new(1, 2)), key());
        let signed = Arc::new(Mutex::new(Vec::new()));
        let held = signer.turns.as_ref().unwrap().acquire().await.unwrap();
        let gone = queue_numbered(&signer, &key, 0, &signed).await;
        let full = queue_numbered(&signer, &key, 1, &signed).await;
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
        // Its place is free again: a third request fits.
        let third = queue_numbered(&signer, &key, 2, &signed).await;
        drop(held);
        full.await.unwrap().unwrap();
        third.await.unwrap().unwrap();
        assert_eq!(*signed.lock().unwrap(), vec![1, 2]);
        assert_eq!(signer.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn without_turns_every_request_signs_at_once() {
        let (signer, key) = (Signer::new(0, 1), key());
        let signed = Arc::new(Mutex::new(Vec::new()));
        for number in 0..3 {
            signer.sign(&key, &numbered(number, &signed)).await.unwrap();
        }
        assert_eq!(*signed.lock().unwrap(), vec![0, 1, 2]);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_token_requests_retryably_and_issues_nothing() {
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

        // Every turn taken, and the queue filled with requests waiting for one.
        let state = server.state().clone();
        let signer = state.signer();
        let turns = signer.turns.as_ref().unwrap();
        let held = turns
            .acquire_many(u32::try_from(turns.available_permits()).unwrap())
            .await
            .unwrap();
        let (key, signed) = (key(), Arc::new(Mutex::new(Vec::new())));
        let mut waiting = Vec::new();
        while signer.waiting.load(Ordering::Acquire) < signer.capacity {
            let (state, key) = (state.clone(), Arc::clone(&key));
            let claims = numbered(waiting.len(), &signed);
            waiting.push(
                queue(
                    signer,
                    async move { state.signer().sign(&key, &claims).await },
                )
                .await,
            );
        }

        let refused = token_request().await.unwrap();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(refused.headers()["cache-control"], "no-store");
        // The connection is closed: a caller that ignores Retry-After cannot re-ask at once.
        assert_eq!(refused.headers()["connection"], "close");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(body.get("access_token").is_none(), "{body}");
        let refused = get_client_token().await.unwrap();
        assert_eq!(refused.status(), 400);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["__type"], "TooManyRequestsException", "{body}");
        assert!(body.get("ClientAuthenticationResult").is_none(), "{body}");

        drop(held);
        for request in waiting {
            request.await.unwrap().unwrap();
        }
        assert_eq!(signed.lock().unwrap().len(), signer.capacity);
        let issued = token_request().await.unwrap();
        assert_eq!(issued.status(), 200);
        let body: serde_json::Value = issued.json().await.unwrap();
        assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
        let issued = get_client_token().await.unwrap();
        assert_eq!(issued.status(), 200);
    }
}
