//! Who may change articles: the write routes' bearer-token check, and the rule that keeps
//! them from being served anonymously to a network.
//!
//! The articles API is public by design, and on loopback (`s2s up`, a developer's machine)
//! every route stays anonymous. On any other listener, the write routes — every request
//! whose method is not safe (RFC 9110 §9.2.1): `POST /articles`, `PUT` and `DELETE
//! /articles/{id}`, `POST /articles/{id}/publication` — need a bearer token of the
//! configured issuer carrying the write scope ([`WRITE_SCOPE`] by default), checked by
//! `jwt-verifier` with its RFC 6750 answers (401 with a `WWW-Authenticate: Bearer`
//! challenge, 403 `insufficient_scope`). Reads stay anonymous. Deciding by method rather
//! than by a list of routes means a write route added later is protected without anyone
//! remembering to list it.
//!
//! [`check_listener`] is what [`serve`](crate::serve) runs before it accepts anything: a
//! non-loopback listener with neither [`Config::write_auth`](crate::Config::write_auth)
//! nor [`Config::allow_anonymous_writes`](crate::Config::allow_anonymous_writes) is
//! refused, so a library user cannot open the write routes to a network by omission.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use jwt_verifier::Verifier;
use jwt_verifier::axum::{JwtAuthLayer, RequireScopeLayer};
use tower::{Layer as _, ServiceExt as _};

use crate::Config;

/// The scope the write routes require by default: scope `articles.write` of the resource
/// server `articles-service`, as Cognito puts it in an access token.
pub const WRITE_SCOPE: &str = "articles-service/articles.write";

/// How the write routes check their callers: a verifier (issuer, accepted app clients)
/// and the scope every write needs.
#[derive(Clone, Debug)]
pub struct WriteAuth {
    auth: JwtAuthLayer,
    scope: RequireScopeLayer,
    required: String,
}

impl WriteAuth {
    /// Writes need a token that `verifier` accepts and that carries [`WRITE_SCOPE`].
    pub fn new(verifier: Verifier) -> Self {
        Self::with_scope(verifier, WRITE_SCOPE)
    }

    /// Writes need a token that `verifier` accepts and that carries `scope` (e.g.
    /// `<resource-server>/articles.write` for another resource server identifier).
    pub fn with_scope(verifier: Verifier, scope: impl Into<String>) -> Self {
        let required = scope.into();
        Self {
            auth: JwtAuthLayer::new(verifier),
            scope: RequireScopeLayer::all_of([required.clone()]),
            required,
        }
    }

    /// The scope every write needs.
    pub fn scope(&self) -> &str {
        &self.required
    }
}

/// Why [`serve`](crate::serve) refused a listener.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// A non-loopback listener with anonymous write routes, not asked for.
    #[error(
        "refusing to serve the write routes anonymously on {addr}: anyone who can reach it could create, change and delete articles. Configure write auth (Config::write_auth; `s2s serve articles-service` does it off loopback, with the issuer of its own tokens and scope {WRITE_SCOPE}), or opt in with Config::allow_anonymous_writes (--allow-anonymous-writes)"
    )]
    AnonymousWrites {
        /// The listener's address.
        addr: SocketAddr,
    },
}

/// Refuses a non-loopback `addr` when writes would be anonymous without the explicit
/// opt-in. Loopback listeners are always accepted: that is the local, anonymous use.
pub(crate) fn check_listener(config: &Config, addr: SocketAddr) -> Result<(), ListenError> {
    if addr.ip().is_loopback() || config.write_auth.is_some() || config.allow_anonymous_writes {
        Ok(())
    } else {
        Err(ListenError::AnonymousWrites { addr })
    }
}

/// The middleware on the API routes: safe methods pass, every other one goes through
/// `jwt-verifier`'s layers (verify the bearer token, then require the scope).
pub(crate) async fn require_token_for_writes(
    State(auth): State<WriteAuth>,
    request: Request,
    next: Next,
) -> Response {
    if request.method().is_safe() {
        return next.run(request).await;
    }
    let handler = tower::service_fn(move |request: Request| {
        let next = next.clone();
        async move { Ok::<_, Infallible>(next.run(request).await) }
    });
    let checked = auth.auth.layer(auth.scope.layer(handler));
    match checked.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
