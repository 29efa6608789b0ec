//! Rotating the client secret with no failed call (issue #11), with the real processes.
//!
//! - Under load: the authorization server, user-schedule-service and articles-service
//!   (`s2s serve`, its secret read from `--client-secret-file`), several callers on
//!   `GET /articles/{id}/author-schedule` while `s2s secrets rotate` runs, and a token
//!   refresh that carries the old secret held until the old secret is deleted: no call
//!   fails and the token endpoint sees exactly the planned requests.
//! - Its other paths under `s2s up`, with the command its summary prints: `--keep-old`,
//!   resuming an interrupted rotation, and the last secret, which cannot be deleted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, reason = "each test binary uses a part of the helpers")]
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::post;
use base64::Engine as _;
use tokio::sync::{mpsc, watch};

use support::{S2S, Served, Service, Up, metric, outputs, reference_stack, s2s, text};

/// How long the test waits for a step of the plan before it fails: only reached when the
/// behaviour under test is broken.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the proxy holds the deletion of the old secret for what must follow it at once
/// (more calls answered, the refused refresh retried): well under [`STEP_TIMEOUT`], so that
/// a rotation that never gets there still ends and the test names what was missing.
const HOLD_TIMEOUT: Duration = Duration::from_secs(15);

/// The lifetimes (`expires_in`, seconds) the proxy gives the tokens it passes on, in
/// order. token-provider replaces a token of lifetime L (under two minutes: its one-minute
/// margin caps the refresh at half the lifetime) L/2 after requesting it, so:
/// 1. the first token (articles-service's readiness) is refreshed 6 s later, with the old
///    secret; that refresh is held during the rotation, while the token is still valid
///    for 6 s more;
/// 2. the token of the retry with the new secret is refreshed 1 s later, with the new
///    secret;
/// 3. that token lasts an hour: nothing more is requested.
const LIFETIMES: [u64; 3] = [12, 2, 3600];

/// Concurrent callers of articles-service.
const CALLERS: usize = 4;

/// What the proxy reports to the test.
#[derive(Debug)]
enum Event {
    /// A refresh carrying the old secret is held until the old secret is deleted.
    Held,
    /// The n-th token request was answered.
    Answered(usize),
}

#[derive(Default)]
struct Seen {
    /// Each token request in order: the secret it carried and the status it got.
    requests: Vec<(String, u16)>,
    /// Tokens passed on.
    tokens: usize,
    /// Whether the held refresh was retried with another secret while the call that
    /// deleted the old secret had not returned yet.
    retried_before_delete_returned: Option<bool>,
}

/// The test's stand-in for the authorization server's address (token endpoint and admin
/// API): it passes everything on, shortens the tokens' lifetimes, and orders the worst
/// case of a rotation, a token request with the old secret that reaches the server just
/// after the old secret was deleted, while the rotation has not finished.
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    old_secret: String,
    /// Calls answered by articles-service so far.
    calls: Arc<watch::Sender<u64>>,
    seen: Mutex<Seen>,
    old_deleted: watch::Sender<bool>,
    other_secret_sent: watch::Sender<bool>,
    events: mpsc::UnboundedSender<Event>,
}

impl Proxy {
    /// Starts the proxy in front of `upstream`; its base URL.
    async fn start(self: &Arc<Self>) -> String {
        let app = Router::new()
            .route("/oauth2/token", post(token))
            .fallback(admin)
            .with_state(Arc::clone(self));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    /// Sends the request on, unchanged but for the host.
    async fn forward(&self, path: &str, headers: &HeaderMap, body: Bytes) -> (StatusCode, Bytes) {
        let mut headers = headers.clone();
        headers.remove(header::HOST);
        headers.remove(header::CONTENT_LENGTH);
        let response = self
            .http
            .post(format!("{}{path}", self.upstream))
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status(), response.bytes().await.unwrap())
    }
}

/// The secret of an HTTP Basic `Authorization` header (token-provider's default).
fn basic_secret(headers: &HeaderMap) -> String {
    let value = headers[header::AUTHORIZATION].to_str().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.strip_prefix("Basic ").unwrap())
        .unwrap();
    let (_, secret) = std::str::from_utf8(&decoded)
        .unwrap()
        .split_once(':')
        .unwrap();
    secret.to_owned()
}

/// `POST /oauth2/token`.
async fn token(State(proxy): State<Arc<Proxy>>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = basic_secret(&headers);
    let refresh = proxy.seen.lock().unwrap().tokens > 0;
    if secret == proxy.old_secret && refresh && !*proxy.old_deleted.borrow() {
        // The worst case: this secret was read before the rotation, and reaches the
        // server only once the rotation has deleted it.
        proxy.events.send(Event::Held).unwrap();
        let mut deleted = proxy.old_deleted.subscribe();
        deleted.wait_for(|deleted| *deleted).await.unwrap();
    }
    if secret != proxy.old_secret {
        proxy.other_secret_sent.send_replace(true);
    }
    let (status, mut body) = proxy.forward("/oauth2/token", &headers, body).await;
    let answered = {
        let mut seen = proxy.seen.lock().unwrap();
        if status == StatusCode::OK {
            let lifetime = LIFETIMES.get(seen.tokens).copied().unwrap_or(3600);
            seen.tokens += 1;
            let mut json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            json["expires_in"] = lifetime.into();
            body = serde_json::to_vec(&json).unwrap().into();
        }
        seen.requests.push((secret, status.as_u16()));
        seen.requests.len()
    };
    proxy.events.send(Event::Answered(answered)).unwrap();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The admin API (`POST /`): passed on; a deletion of a secret also releases the held
/// refresh, and returns only once that refresh was retried with another secret.
async fn admin(State(proxy): State<Arc<Proxy>>, headers: HeaderMap, body: Bytes) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, body) = proxy.forward("/", &headers, body).await;
    if operation.ends_with(".DeleteUserPoolClientSecret") && status.is_success() {
        // The old secret is refused from now on, and the refresh that carries it is still
        // held: articles-service keeps answering with the token it has.
        let more_calls = 2 * CALLERS as u64;
        let target = *proxy.calls.borrow() + more_calls;
        let mut calls = proxy.calls.subscribe();
        let served = tokio::time::timeout(HOLD_TIMEOUT, calls.wait_for(|calls| *calls >= target))
            .await
            .is_ok();
        assert!(served, "articles-service stopped answering");
        proxy.old_deleted.send_replace(true);
        // The refused refresh must be retried with the secret the file holds now, before
        // the rotation ends (a rotation that wrote the file only after this deletion
        // returned would leave the service without a valid secret).
        let mut sent = proxy.other_secret_sent.subscribe();
        let retried = tokio::time::timeout(HOLD_TIMEOUT, sent.wait_for(|sent| *sent))
            .await
            .is_ok();
        proxy.seen.lock().unwrap().retried_before_delete_returned = Some(retried);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body,
    )
        .into_response()
}

/// Callers of `GET /articles/{id}/author-schedule`, each one call at a time, until told
/// to stop.
struct Load {
    url: String,
    http: reqwest::Client,
    calls: Arc<watch::Sender<u64>>,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Load {
    async fn caller(self: Arc<Self>) {
        // After the stop, a few more calls: the last token is in use too.
        let mut after_stop = 0;
        while after_stop < 3 {
            if self.stop.load(Ordering::SeqCst) {
                after_stop += 1;
            }
            match self.http.get(&self.url).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    self.failures
                        .lock()
                        .unwrap()
                        .push(format!("{status}: {body}"));
                }
                Err(error) => self.failures.lock().unwrap().push(error.to_string()),
            }
            self.calls.send_modify(|calls| *calls += 1);
        }
    }
}

/// Receives events until one matches; fails after [`STEP_TIMEOUT`].
async fn expect(
    events: &mut mpsc::UnboundedReceiver<Event>,
    what: &str,
    done: impl Fn(&Event) -> bool,
) {
    let found = tokio::time::timeout(STEP_TIMEOUT, async {
        while let Some(event) = events.recv().await {
            if done(&event) {
                return;
            }
        }
        panic!("the proxy stopped");
    })
    .await;
    assert!(found.is_ok(), "{what}");
}

fn read_secret(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

async fn get_text(http: &reqwest::Client, url: &str) -> String {
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

/// A token request straight to the authorization server: the status and the body.
async fn token_request(
    http: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    secret: &str,
) -> (u16, String) {
    let response = http
        .post(token_url)
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Creates an article by alice; its id.
async fn create_article(http: &reqwest::Client, articles: &str) -> String {
    let response = http
        .post(format!("{articles}/articles"))
        .json(&serde_json::json!({
            "title": "Tokens without users",
            "body": "Client credentials in practice.",
            "author_id": "alice",
            "publish_at": "2030-01-07T09:00:00Z",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let article: serde_json::Value = response.json().await.unwrap();
    article["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_under_load_fails_no_call_and_makes_exactly_the_planned_token_requests() {
    let dir = tempfile::tempdir().unwrap();
    let stack = reference_stack();
    let mut auth = Served::start_with_stack(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "data",
            "--stack",
            stack.to_str().unwrap(),
        ],
        &[],
    );
    let printed = auth.printed_outputs();
    let field = |name: &str| printed[name].as_str().unwrap().to_owned();
    let (issuer, client_id, pool_id, token_url) = (
        field("issuer"),
        field("client_id"),
        field("user_pool_id"),
        field("token_url"),
    );
    let auth_url = token_url.strip_suffix("/oauth2/token").unwrap().to_owned();
    let secret_file = dir.path().join("data/client-secret");
    let old = read_secret(&secret_file);

    let calls = Arc::new(watch::Sender::new(0_u64));
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let proxy = Arc::new(Proxy {
        upstream: auth_url.clone(),
        http: reqwest::Client::new(),
        old_secret: old.clone(),
        calls: Arc::clone(&calls),
        seen: Mutex::default(),
        old_deleted: watch::Sender::new(false),
        other_secret_sent: watch::Sender::new(false),
        events: events_tx,
    });
    let proxy_url = proxy.start().await;

    let mut schedules = Service::start(
        dir.path(),
        "user-schedule-service",
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "data",
            "--issuer",
            &issuer,
            "--client-id",
            &client_id,
        ],
    );
    let proxied_token_url = format!("{proxy_url}/oauth2/token");
    let mut articles = Service::start(
        dir.path(),
        "articles-service",
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "data",
            "--token-url",
            &proxied_token_url,
            "--client-id",
            &client_id,
            "--client-secret-file",
            "data/client-secret",
            "--schedules-url",
            &schedules.url,
        ],
    );
    let http = reqwest::Client::new();
    get_text(&http, &format!("{}/readyz", schedules.url)).await;
    // Ready means a token: the first token request.
    get_text(&http, &format!("{}/readyz", articles.url)).await;
    let article = create_article(&http, &articles.url).await;

    let load = Arc::new(Load {
        url: format!("{}/articles/{article}/author-schedule", articles.url),
        http: http.clone(),
        calls: Arc::clone(&calls),
        failures: Mutex::default(),
        stop: AtomicBool::new(false),
    });
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| tokio::spawn(Arc::clone(&load).caller()))
        .collect();

    // The first token's refresh, with the old secret, is held: now rotate.
    expect(&mut events, "the first token was never refreshed", |e| {
        matches!(e, Event::Held)
    })
    .await;
    let calls_before_rotation = *calls.borrow();
    let rotation = tokio::process::Command::new(S2S)
        .args(["secrets", "rotate", "--endpoint-url", &proxy_url])
        .args(["--pool-id", &pool_id, "--client-id", &client_id])
        .args(["--secret-file", "data/client-secret"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output();
    let out = tokio::time::timeout(STEP_TIMEOUT, rotation)
        .await
        .expect("s2s secrets rotate did not finish")
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for step in [
        "1/3 added secret",
        "2/3 wrote the new secret",
        "3/3 deleted secret",
        "done:",
    ] {
        assert!(stdout.contains(step), "{step} missing from:\n{stdout}");
    }
    let new = read_secret(&secret_file);
    assert_ne!(new, old);
    assert!(!dir.path().join("data/client-secret.next").exists());
    assert_eq!(
        proxy.seen.lock().unwrap().retried_before_delete_returned,
        Some(true),
        "the refresh refused for the old secret was not retried with the new one before the rotation ended"
    );

    // The new secret's token is refreshed once more; then the load stops.
    expect(
        &mut events,
        "the planned token requests did not all happen",
        |e| matches!(e, Event::Answered(n) if *n >= 4),
    )
    .await;
    load.stop.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.await.unwrap();
    }
    let failures = load.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "failed calls: {failures:#?}");
    let total_calls = *calls.borrow();
    assert!(
        total_calls > calls_before_rotation + 2 * CALLERS as u64,
        "the load ran during the rotation: {calls_before_rotation} calls before, {total_calls} in all"
    );

    // Exactly the plan: the first token, its refresh refused for the old secret, the
    // immediate retry with the new one, and the next scheduled refresh.
    let seen = proxy.seen.lock().unwrap().requests.clone();
    let expected = [
        (old.clone(), 200),
        (old.clone(), 401),
        (new.clone(), 200),
        (new.clone(), 200),
    ];
    let name = |secret: &str| {
        if secret == old {
            "old"
        } else if secret == new {
            "new"
        } else {
            "other"
        }
    };
    let named = |requests: &[(String, u16)]| -> Vec<(&'static str, u16)> {
        requests
            .iter()
            .map(|(s, status)| (name(s), *status))
            .collect()
    };
    assert_eq!(
        named(&seen),
        named(&expected),
        "token requests (secret, status)"
    );

    // What the server issued and what articles-service counted agree with the plan.
    let auth_metrics = get_text(&http, &format!("{auth_url}/metrics")).await;
    assert_eq!(
        metric(
            &auth_metrics,
            "authorization_server_tokens_issued_total",
            &[]
        ),
        3.0,
        "{auth_metrics}"
    );
    assert_eq!(
        metric(
            &auth_metrics,
            "authorization_server_token_requests_refused_total",
            &[r#"error="invalid_client""#]
        ),
        1.0,
        "{auth_metrics}"
    );
    let articles_metrics = get_text(&http, &format!("{}/metrics", articles.url)).await;
    assert_eq!(
        metric(&articles_metrics, "token_provider_requests_total", &[]),
        4.0,
        "{articles_metrics}"
    );
    assert_eq!(
        metric(
            &articles_metrics,
            "token_provider_failures_total",
            &[r#"kind="oauth""#]
        ),
        1.0,
        "{articles_metrics}"
    );
    assert_eq!(
        metric(&articles_metrics, "token_provider_failures_total", &[]),
        1.0,
        "{articles_metrics}"
    );

    // Afterwards the old secret is refused and the new one accepted.
    let (status, body) = token_request(&http, &token_url, &client_id, &old).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_client"), "{body}");
    let (status, body) = token_request(&http, &token_url, &client_id, &new).await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(articles.terminate(), Some(0));
    assert_eq!(schedules.terminate(), Some(0));
    assert_eq!(auth.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_old_resuming_and_the_last_secret_with_the_rotation_up_prints() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(dir.path(), &[]);
    let outputs = outputs(dir.path());
    let token_url = outputs["token_url"].as_str().unwrap().to_owned();
    let client_id = outputs["client_id"].as_str().unwrap().to_owned();
    let pool_id = outputs["user_pool_id"].as_str().unwrap().to_owned();
    let auth = up.url("authorization-server");
    let articles = up.url("articles-service");
    let secret_file = dir.path().join("data/client-secret");
    let pending = dir.path().join("data/client-secret.next");
    let http = reqwest::Client::new();

    // The rotation command of the summary, as printed.
    let printed: Vec<String> = up
        .stdout
        .iter()
        .find(|l| l.contains(" secrets rotate "))
        .unwrap_or_else(|| panic!("no rotate command in:\n{}", up.stdout.join("\n")))
        .split_whitespace()
        .skip_while(|word| *word != "secrets")
        .map(|word| word.trim_end_matches(')').to_owned())
        .collect();
    let rotate = |extra: &[&str]| {
        let mut args: Vec<&str> = printed.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        let out = s2s(&args, dir.path());
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        stdout
    };
    let target = [
        "--endpoint-url",
        auth.as_str(),
        "--pool-id",
        pool_id.as_str(),
        "--client-id",
        client_id.as_str(),
    ];
    let secrets = |command: &str, extra: &[&str]| {
        s2s(
            &[&["secrets", command][..], &target, extra].concat(),
            dir.path(),
        )
    };
    let listed = || -> Vec<String> {
        let out = secrets("list", &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect()
    };
    let status_with = |secret: String| {
        let (http, token_url, client_id) = (http.clone(), token_url.clone(), client_id.clone());
        async move {
            token_request(&http, &token_url, &client_id, &secret)
                .await
                .0
        }
    };

    let first = read_secret(&secret_file);
    let first_ids = listed();
    assert_eq!(first_ids.len(), 1, "{first_ids:?}");

    // --keep-old: the file holds the new secret, and both are accepted.
    let stdout = rotate(&["--keep-old"]);
    assert!(stdout.contains("3/3 skipped (--keep-old)"), "{stdout}");
    let second = read_secret(&secret_file);
    assert_ne!(second, first);
    let ids = listed();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids[0], first_ids[0]);
    assert_eq!(status_with(first.clone()).await, 200);
    assert_eq!(status_with(second.clone()).await, 200);

    // Run again without it: only the deletion was left.
    let stdout = rotate(&[]);
    assert!(stdout.contains("1/3 skipped"), "{stdout}");
    assert!(stdout.contains("2/3 already done"), "{stdout}");
    assert!(
        stdout.contains(&format!("3/3 deleted secret {}", first_ids[0])),
        "{stdout}"
    );
    assert_eq!(listed(), [ids[1].clone()]);
    assert_eq!(read_secret(&secret_file), second);
    assert_eq!(status_with(first).await, 401);
    assert_eq!(status_with(second.clone()).await, 200);

    // Interrupted after the new secret was added, before the file was written: the value
    // waits in client-secret.next (`secrets add --secret-out` leaves exactly that).
    let out = secrets("add", &["--secret-out", "data/client-secret.next"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let third = read_secret(&pending);
    let stdout = rotate(&[]);
    assert!(
        stdout.contains("resuming: found the new secret in data/client-secret.next"),
        "{stdout}"
    );
    assert!(stdout.contains("1/3 already done"), "{stdout}");
    assert!(stdout.contains("2/3 wrote the new secret"), "{stdout}");
    assert!(
        stdout.contains(&format!("3/3 deleted secret {}", ids[1])),
        "{stdout}"
    );
    assert_eq!(read_secret(&secret_file), third);
    assert!(!pending.exists());
    assert_eq!(listed().len(), 1);
    assert_eq!(status_with(second).await, 401);
    assert_eq!(status_with(third.clone()).await, 200);

    // Interrupted before the new secret reached the server: it is only in the file.
    let fourth = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";
    std::fs::write(&pending, fourth).unwrap();
    let stdout = rotate(&[]);
    assert!(stdout.contains("resuming"), "{stdout}");
    assert!(stdout.contains("1/3 added secret"), "{stdout}");
    assert_eq!(read_secret(&secret_file), fourth);
    assert!(!pending.exists());
    assert_eq!(status_with(third).await, 401);
    assert_eq!(status_with(fourth.to_owned()).await, 200);

    // The last secret cannot be deleted.
    let last = listed();
    assert_eq!(last.len(), 1);
    let out = secrets("delete", &["--secret-id", &last[0]]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is the last secret") && stderr.contains("cannot be deleted"),
        "{stderr}"
    );
    assert_eq!(listed(), last);
    assert_eq!(status_with(fourth.to_owned()).await, 200);

    // articles-service reads the file: the token it requests next (a refused scope makes
    // it replace its token at once) is requested with the current secret, not refused.
    let article = create_article(&http, &articles).await;
    let publication = http
        .post(format!("{articles}/articles/{article}/publication"))
        .send()
        .await
        .unwrap();
    assert_eq!(publication.status(), 502);
    let problem = publication.text().await.unwrap();
    assert!(
        problem.contains("user-schedule-service/schedule.update"),
        "{problem}"
    );
    let articles_metrics = get_text(&http, &format!("{articles}/metrics")).await;
    assert_eq!(
        metric(&articles_metrics, "token_provider_requests_total", &[]),
        2.0,
        "readiness and the replacement: {articles_metrics}"
    );
    assert_eq!(
        metric(&articles_metrics, "token_provider_failures_total", &[]),
        0.0,
        "{articles_metrics}"
    );
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
}
