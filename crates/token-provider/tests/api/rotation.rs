//! The secret as a source: a rotated secret is used from the next request on, and an
//! `invalid_client` answer is retried once, at once, when the source has a new secret.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use token_provider::http::{HttpRequest, HttpResponse};
use token_provider::{
    ClientId, ClientSecret, ErrorCode, SecretSourceError, TokenError, TokenProvider,
};

use crate::helpers::{CLIENT_ID, TOKEN_URL, json};

const OLD: &str = "old_secret_0123456789abcdefghij";
const NEW: &str = "new_secret_0123456789abcdefghij";

/// A token endpoint that accepts only the secrets in `accepted`, counting requests.
fn server(
    accepted: Arc<Mutex<Vec<&'static str>>>,
    requests: Arc<AtomicUsize>,
) -> impl Fn(HttpRequest) -> std::future::Ready<Result<HttpResponse, token_provider::HttpError>>
+ Send
+ Sync
+ 'static {
    move |request: HttpRequest| {
        let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
        let header = request.headers()["authorization"]
            .to_str()
            .unwrap()
            .to_owned();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        let (_, secret) = std::str::from_utf8(&decoded)
            .unwrap()
            .split_once(':')
            .unwrap();
        let ok = accepted.lock().unwrap().contains(&secret);
        std::future::ready(Ok(if ok {
            json(
                200,
                &format!(
                    r#"{{"access_token":"token-{n}","expires_in":3600,"token_type":"Bearer"}}"#
                ),
            )
        } else {
            json(401, r#"{"error":"invalid_client"}"#)
        }))
    }
}

fn provider(
    source: impl token_provider::SecretSource,
    accepted: &Arc<Mutex<Vec<&'static str>>>,
    requests: &Arc<AtomicUsize>,
) -> TokenProvider {
    TokenProvider::builder()
        .token_url(TOKEN_URL)
        .client_id(ClientId::parse(CLIENT_ID).unwrap())
        .client_secret_source(source)
        .http_client(server(Arc::clone(accepted), Arc::clone(requests)))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_refused_secret_is_read_again_and_retried_once_when_it_changed() {
    // The server already dropped the old secret; the source gives the old one on its first
    // read and the new one after (the file was rewritten between the two reads).
    let accepted = Arc::new(Mutex::new(vec![NEW]));
    let requests = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let flipping = {
        let reads = Arc::clone(&reads);
        move || {
            let n = reads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, SecretSourceError>(ClientSecret::new(if n == 0 { OLD } else { NEW }))
        }
    };
    let p = provider(flipping, &accepted, &requests);
    assert_eq!(p.token().await.unwrap().secret(), "token-2");
    assert_eq!(requests.load(Ordering::SeqCst), 2, "exactly one retry");
    assert_eq!(reads.load(Ordering::SeqCst), 2);
    // Both requests are counted: the refused one as a failure, the retry as a token.
    let stats = p.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.tokens, 1);
    assert_eq!(stats.failures.oauth, 1);
    assert_eq!(stats.failures.total(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_new_secret_at_the_source_is_used_from_the_next_refresh() {
    let accepted = Arc::new(Mutex::new(vec![OLD, NEW]));
    let requests = Arc::new(AtomicUsize::new(0));
    let current = Arc::new(Mutex::new(OLD));
    let source = {
        let current = Arc::clone(&current);
        move || Ok::<_, SecretSourceError>(ClientSecret::new(*current.lock().unwrap()))
    };
    let p = provider(source, &accepted, &requests);
    assert_eq!(p.token().await.unwrap().secret(), "token-1");
    *current.lock().unwrap() = NEW;
    *accepted.lock().unwrap() = vec![NEW];
    assert_eq!(p.refresh().await.unwrap().secret(), "token-2");
    assert_eq!(requests.load(Ordering::SeqCst), 2, "no refused request");
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_refused_secret_is_not_retried() {
    let accepted = Arc::new(Mutex::new(vec![NEW]));
    let requests = Arc::new(AtomicUsize::new(0));
    let p = provider(ClientSecret::new(OLD), &accepted, &requests);
    let error = p.token().await.unwrap_err();
    assert!(
        matches!(
            error,
            TokenError::Oauth {
                code: ErrorCode::InvalidClient,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "no retry with the same secret"
    );
    assert!(!error.to_string().contains(OLD));
}

#[tokio::test(start_paused = true)]
async fn a_failing_source_is_reported_without_a_request() {
    let accepted = Arc::new(Mutex::new(vec![NEW]));
    let requests = Arc::new(AtomicUsize::new(0));
    let p = provider(
        || {
            Err(SecretSourceError::new(
                "cannot read /run/secret: permission denied",
            ))
        },
        &accepted,
        &requests,
    );
    let error = p.token().await.unwrap_err();
    assert!(matches!(error, TokenError::SecretUnavailable(_)), "{error}");
    assert!(error.to_string().contains("permission denied"), "{error}");
    assert_eq!(requests.load(Ordering::SeqCst), 0);
}
