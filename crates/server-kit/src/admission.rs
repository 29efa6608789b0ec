//! Bounded admission for routes that wait for a scarce resource — in the services, a
//! connection of the database pool.
//!
//! Without it, under overload every request queues inside the pool: the wait and the
//! memory of the waiting requests grow with the number of callers, and past the pool's
//! acquire timeout (5 s) they all fail together. With it, at most `in_flight` requests run
//! at once (the pool's size: each can have a connection), at most `queue` more wait their
//! turn, in order of arrival, and any request beyond that is answered at once with the
//! service's refusal (a problem document, `503` and `Retry-After`), before any work.
//!
//! Two semaphores make the two bounds:
//!
//! - `admitted` has `in_flight + queue` permits. A request that cannot take one *now*
//!   (`try_acquire`, no waiting) is refused: the refusal is one atomic operation and the
//!   service's response, nearly free;
//! - `running` has `in_flight` permits. An admitted request waits for one of them; tokio's
//!   semaphore is fair (first in, first out), and a permit released while requests wait is
//!   handed to the oldest of them, never to a newcomer, so requests run in arrival order.
//!
//! A request holds both permits until its handler has produced the response. One whose
//! client goes away (or whose request timeout fires) while it waits leaves the queue and
//! frees its place: nothing runs for nobody, and nothing is left behind.
//!
//! ```
//! use axum::{Router, routing::get, response::IntoResponse, http::StatusCode};
//! use server_kit::admission::{Admission, AdmissionLimits};
//!
//! let admission = Admission::new(AdmissionLimits { in_flight: 8, queue: 64 }, || {
//!     (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
//! });
//! let app: Router = Router::new()
//!     .route("/orders", get(|| async { "from the database" }))
//!     .route_layer(admission.layer());
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http;
use axum::response::Response;
use tokio::sync::Semaphore;
use tower::{Layer, Service};

/// How many requests may run, and how many more may wait, before new ones are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Requests that run at once (at least 1). For database-bound routes: the pool's size,
    /// so that every running request can have a connection.
    pub in_flight: usize,
    /// Requests that may wait, in arrival order, for one of the running ones to finish.
    /// 0: a request that cannot run at once is refused.
    pub queue: usize,
}

/// The admission control of a set of routes: clone it to share the bounds, install it with
/// [`Admission::layer`].
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Inner>,
}

struct Inner {
    limits: AdmissionLimits,
    /// `in_flight + queue` permits: a request that cannot take one at once is refused.
    admitted: Semaphore,
    /// `in_flight` permits, handed out first in, first out.
    running: Semaphore,
    /// The service's refusal: its problem document with `503` and `Retry-After`.
    refuse: fn() -> Response,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("limits", &self.inner.limits)
            .field("running", &self.running())
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl Admission {
    /// Admission control with `limits`, answering `refuse()` to a request past them.
    pub fn new(limits: AdmissionLimits, refuse: fn() -> Response) -> Self {
        let in_flight = limits.in_flight.clamp(1, Semaphore::MAX_PERMITS);
        let admitted = in_flight
            .saturating_add(limits.queue)
            .min(Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(Inner {
                limits: AdmissionLimits {
                    in_flight,
                    queue: admitted - in_flight,
                },
                admitted: Semaphore::new(admitted),
                running: Semaphore::new(in_flight),
                refuse,
            }),
        }
    }

    /// The limits in force (`in_flight` at least 1).
    pub fn limits(&self) -> AdmissionLimits {
        self.inner.limits
    }

    /// Requests running now.
    pub fn running(&self) -> usize {
        self.inner.limits.in_flight - self.inner.running.available_permits()
    }

    /// Requests admitted and waiting for their turn now.
    pub fn waiting(&self) -> usize {
        let admitted = self.inner.limits.in_flight + self.inner.limits.queue
            - self.inner.admitted.available_permits();
        admitted.saturating_sub(self.running())
    }

    /// The layer that applies this admission control to the routes it wraps (use
    /// `route_layer`, so that an unknown path is still a 404 and takes no place).
    pub fn layer(&self) -> AdmissionLayer {
        AdmissionLayer {
            admission: self.clone(),
        }
    }
}

/// The [`tower::Layer`] of an [`Admission`].
#[derive(Debug, Clone)]
pub struct AdmissionLayer {
    admission: Admission,
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admit<S>;

    fn layer(&self, inner: S) -> Admit<S> {
        Admit {
            inner,
            admission: self.admission.clone(),
        }
    }
}

/// The service of [`AdmissionLayer`]: runs `S` once admitted, answers the refusal otherwise.
#[derive(Debug, Clone)]
pub struct Admit<S> {
    inner: S,
    admission: Admission,
}

impl<S> Admit<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// The future of [`Admit`]: waiting for a turn, then the wrapped service's response.
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for Admit<S>
where
    S: Service<http::Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone that was made ready is the one that serves the request (tower's
        // usual dance): `self.inner` is left with a fresh clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let admission = self.admission.clone();
        Box::pin(async move {
            let gate = &admission.inner;
            let Ok(_admitted) = gate.admitted.try_acquire() else {
                return Ok((gate.refuse)());
            };
            // Never closed, so `Err` cannot happen; refusing is the safe answer if it did.
            let Ok(_running) = gate.running.acquire().await else {
                return Ok((gate.refuse)());
            };
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use tokio::sync::mpsc;
    use tower::ServiceExt as _;

    use super::*;

    fn busy() -> Response {
        let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    }

    /// A route whose requests, numbered by the path, report when they start and then wait
    /// until the test lets them finish (one `release` permit each).
    fn app(admission: &Admission) -> (Router, mpsc::UnboundedReceiver<u32>, Arc<Semaphore>) {
        let (started, starts) = mpsc::unbounded_channel();
        let release = Arc::new(Semaphore::new(0));
        let gate = release.clone();
        let router = Router::new()
            .route(
                "/work/{n}",
                get(move |axum::extract::Path(n): axum::extract::Path<u32>| {
                    let started = started.clone();
                    let gate = gate.clone();
                    async move {
                        let _ = started.send(n);
                        gate.acquire().await.unwrap().forget();
                        n.to_string()
                    }
                }),
            )
            .route("/free", get(|| async { "free" }))
            .route_layer(admission.layer());
        (router, starts, release)
    }

    fn get_request(path: &str) -> axum::extract::Request {
        axum::extract::Request::get(path)
            .body(Body::empty())
            .unwrap()
    }

    /// Yields until `condition` holds: the requests under test run on other tasks, and
    /// their progress is observed through the admission's counters, not guessed by time.
    async fn until(condition: impl Fn() -> bool) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !condition() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the condition never held");
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_a_request_is_refused_at_once_and_the_others_complete_in_order() {
        let admission = Admission::new(
            AdmissionLimits {
                in_flight: 1,
                queue: 2,
            },
            busy,
        );
        let (router, mut starts, release) = app(&admission);

        let first = tokio::spawn(router.clone().oneshot(get_request("/work/1")));
        assert_eq!(starts.recv().await, Some(1));
        let second = tokio::spawn(router.clone().oneshot(get_request("/work/2")));
        until(|| admission.waiting() == 1).await;
        let third = tokio::spawn(router.clone().oneshot(get_request("/work/3")));
        until(|| admission.waiting() == 2).await;
        assert_eq!((admission.running(), admission.waiting()), (1, 2));

        // Full: the next request is refused without waiting for anything.
        let refused = router
            .clone()
            .oneshot(get_request("/work/4"))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");

        // Released one at a time, the waiting requests start in the order they arrived.
        release.add_permits(1);
        assert_eq!(starts.recv().await, Some(2));
        release.add_permits(1);
        assert_eq!(starts.recv().await, Some(3));
        release.add_permits(1);
        for (request, n) in [(first, "1"), (second, "2"), (third, "3")] {
            let response = request.await.unwrap().unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(body(response).await, n);
        }
        // Every place is free again: nothing was lost or left holding a permit.
        assert_eq!((admission.running(), admission.waiting()), (0, 0));
        let again = tokio::spawn(router.clone().oneshot(get_request("/work/5")));
        assert_eq!(starts.recv().await, Some(5));
        release.add_permits(1);
        assert_eq!(again.await.unwrap().unwrap().status(), StatusCode::OK);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_gives_up_while_waiting_frees_its_place() {
        let admission = Admission::new(
            AdmissionLimits {
                in_flight: 1,
                queue: 1,
            },
            busy,
        );
        let (router, mut starts, release) = app(&admission);

        let first = tokio::spawn(router.clone().oneshot(get_request("/work/1")));
        assert_eq!(starts.recv().await, Some(1));
        let gone = tokio::spawn(router.clone().oneshot(get_request("/work/2")));
        until(|| admission.waiting() == 1).await;
        // The client of the waiting request goes away: its place in the queue is freed.
        gone.abort();
        until(|| admission.waiting() == 0).await;
        let next = tokio::spawn(router.clone().oneshot(get_request("/work/3")));
        until(|| admission.waiting() == 1).await;

        release.add_permits(2);
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        // The request that left never ran; the one after it did.
        assert_eq!(starts.recv().await, Some(3));
        assert_eq!(next.await.unwrap().unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn routes_without_the_layer_are_never_refused() {
        let admission = Admission::new(
            AdmissionLimits {
                in_flight: 1,
                queue: 0,
            },
            busy,
        );
        let (router, mut starts, release) = app(&admission);
        let router = router.merge(Router::new().route("/healthz", get(|| async { "ok" })));

        let first = tokio::spawn(router.clone().oneshot(get_request("/work/1")));
        assert_eq!(starts.recv().await, Some(1));
        let refused = router.clone().oneshot(get_request("/free")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        let health = router
            .clone()
            .oneshot(get_request("/healthz"))
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        release.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    }

    #[test]
    fn limits_are_kept_within_the_semaphore_and_in_flight_is_at_least_one() {
        let admission = Admission::new(
            AdmissionLimits {
                in_flight: 0,
                queue: usize::MAX,
            },
            busy,
        );
        assert_eq!(admission.limits().in_flight, 1);
        assert_eq!(admission.limits().queue, Semaphore::MAX_PERMITS - 1);
    }
}
