//! A stand-in for a Cognito user pool in tests: an RSA-2048 key pair (aws-lc-rs), its
//! JWKS served on `127.0.0.1:0`, key rotation, and tokens with any claims.
//!
//! ```
//! use jwt_verifier::test_util::TestIssuer;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let issuer = TestIssuer::start().await;
//! let token = issuer.access_token("client1", ["orders/read"]);
//! assert_eq!(token.split('.').count(), 3);
//! let old = issuer.kid();
//! let new = issuer.rotate();      // `new` signs from now on; `old` is still published
//! issuer.remove_key(&old);        // now it is not
//! assert_ne!(old, new);
//! # }
//! ```

// A test helper: failing loudly on an impossible error (key generation, a local bind)
// is what a test wants.
#![allow(clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use oauth_proto::time::{Clock, SystemClock};
use oauth_proto::{Jwk, Jwks};
use serde::Serialize;
use serde_json::{Value, json};

/// The user pool id in [`TestIssuer::issuer`] URLs.
pub const POOL_ID: &str = "eu-west-1_TestPool1";

struct Key {
    kid: String,
    pair: RsaKeyPair,
    jwk: Jwk,
}

impl Key {
    fn generate() -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("generate an RSA-2048 key");
        let public = pair.public_key();
        // Cognito-style kid: standard base64 of the SHA-256 of the public key.
        let kid = STANDARD.encode(digest::digest(&digest::SHA256, public.as_ref()));
        let components = PublicKeyComponents::<Vec<u8>>::from(public);
        let jwk = Jwk {
            alg: Some("RS256".to_owned()),
            e: URL_SAFE_NO_PAD.encode(&components.e),
            kid: kid.clone(),
            kty: "RSA".to_owned(),
            n: URL_SAFE_NO_PAD.encode(&components.n),
            use_: Some("sig".to_owned()),
        };
        Self { kid, pair, jwk }
    }
}

struct Keys {
    signing: Arc<Key>,
    published: Vec<Arc<Key>>,
}

struct Shared {
    keys: Mutex<Keys>,
    fetches: AtomicUsize,
    available: AtomicBool,
    /// While `true`, JWKS requests are counted and then wait (to overlap fetches).
    hold: tokio::sync::watch::Sender<bool>,
    fetch_seen: tokio::sync::Notify,
}

impl Shared {
    fn keys(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A local token issuer. Dropping it stops its JWKS server.
pub struct TestIssuer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    clock: Arc<dyn Clock>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer())
            .finish_non_exhaustive()
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestIssuer {
    /// Generates a key and serves its JWKS on `127.0.0.1:0`. Token times use the
    /// system clock.
    pub async fn start() -> Self {
        Self::start_with_clock(Arc::new(SystemClock)).await
    }

    /// Like [`TestIssuer::start`], with token times (`iat`, `exp`) from `clock`.
    pub async fn start_with_clock(clock: Arc<dyn Clock>) -> Self {
        let key = Arc::new(Key::generate());
        let (hold, _) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            keys: Mutex::new(Keys {
                signing: Arc::clone(&key),
                published: vec![key],
            }),
            fetches: AtomicUsize::new(0),
            available: AtomicBool::new(true),
            hold,
            fetch_seen: tokio::sync::Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let router = Router::new()
            .route(
                &format!("/{POOL_ID}/.well-known/jwks.json"),
                get(serve_jwks),
            )
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            shared,
            addr,
            clock,
            server,
        }
    }

    /// The issuer URL, `http://127.0.0.1:<port>/eu-west-1_TestPool1`, as tokens carry it
    /// in `iss`.
    pub fn issuer(&self) -> String {
        format!("http://{}/{POOL_ID}", self.addr)
    }

    /// The JWKS URL, `<issuer>/.well-known/jwks.json`.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer())
    }

    /// The `kid` of the current signing key.
    pub fn kid(&self) -> String {
        self.shared.keys().signing.kid.clone()
    }

    /// The public JWK of the current signing key.
    pub fn public_jwk(&self) -> Jwk {
        self.shared.keys().signing.jwk.clone()
    }

    /// The JWK Set currently served.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .shared
                .keys()
                .published
                .iter()
                .map(|k| k.jwk.clone())
                .collect(),
        }
    }

    /// Generates a new key, publishes it and signs with it from now on; the old key stays
    /// published until [`remove_key`](Self::remove_key). Returns the new `kid`.
    pub fn rotate(&self) -> String {
        let key = Arc::new(Key::generate());
        let kid = key.kid.clone();
        let mut keys = self.shared.keys();
        keys.published.push(Arc::clone(&key));
        keys.signing = key;
        kid
    }

    /// Stops publishing the key `kid` (it can still sign, to test that its tokens are
    /// refused).
    pub fn remove_key(&self, kid: &str) {
        self.shared.keys().published.retain(|k| k.kid != kid);
    }

    /// How many JWKS requests were received.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` JWKS requests were received.
    pub async fn wait_for_fetches(&self, n: usize) {
        loop {
            let seen = self.shared.fetch_seen.notified();
            if self.jwks_fetches() >= n {
                return;
            }
            seen.await;
        }
    }

    /// `false` makes the JWKS endpoint answer 503 (an outage); `true` restores it.
    pub fn set_available(&self, available: bool) {
        self.shared.available.store(available, Ordering::SeqCst);
    }

    /// `true` makes JWKS requests wait (after being counted) until set back to `false`,
    /// so tests can hold a fetch in flight.
    pub fn hold_jwks(&self, hold: bool) {
        self.shared.hold.send_replace(hold);
    }

    /// Valid Cognito-shaped access-token claims (the ten claims of cognito-compat §3.2):
    /// `iat` now, `exp` in one hour. Edit the value to build invalid tokens.
    pub fn claims<I, S>(&self, client_id: &str, scopes: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let now = self.clock.unix_seconds();
        let scope = scopes
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let jti = uuid_v4();
        json!({
            "sub": client_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": now,
            "iss": self.issuer(),
            "exp": now + 3600,
            "iat": now,
            "version": 2,
            "jti": jti,
            "client_id": client_id,
        })
    }

    /// A valid access token for `client_id` with `scopes`, expiring in one hour.
    pub fn access_token<I, S>(&self, client_id: &str, scopes: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.token(&self.claims(client_id, scopes))
    }

    /// Signs `claims` (any serialisable value, e.g. a `serde_json::Value` or an
    /// [`AccessTokenClaims`](crate::AccessTokenClaims)) with the current key, header
    /// `{"kid": <kid>, "alg": "RS256"}`.
    pub fn token(&self, claims: &impl Serialize) -> String {
        let header = json!({"kid": self.kid(), "alg": "RS256"});
        self.token_with_header(&header, claims)
    }

    /// Signs `claims` with the current key under any `header` (its `alg` is not used to
    /// choose the algorithm: the signature is always RS256).
    pub fn token_with_header(&self, header: &Value, claims: &impl Serialize) -> String {
        let payload = serde_json::to_vec(claims).expect("serialise claims");
        let header = serde_json::to_vec(header).expect("serialise header");
        self.sign_parts(&header, &payload)
    }

    /// Signs raw header and payload bytes (no JSON check) with the current key.
    pub fn sign_parts(&self, header: &[u8], payload: &[u8]) -> String {
        let key = Arc::clone(&self.shared.keys().signing);
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut signature = vec![0u8; key.pair.public_modulus_len()];
        key.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .expect("RS256 signing");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// A random UUID v4, the shape of Cognito's `jti`.
fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("random bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

async fn serve_jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    shared.fetch_seen.notify_waiters();
    let mut hold = shared.hold.subscribe();
    // Ends when `hold` is false; an error means the issuer is gone: answer anyway.
    let _ = hold.wait_for(|held| !*held).await;
    if !shared.available.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "jwks unavailable").into_response();
    }
    let jwks = Jwks {
        keys: shared
            .keys()
            .published
            .iter()
            .map(|k| k.jwk.clone())
            .collect(),
    };
    axum::Json(jwks).into_response()
}
