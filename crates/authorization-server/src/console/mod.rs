//! The operator console at `/console`: server-rendered HTML pages over the same store and
//! the same admin operations as the admin API — user pools, a pool's keys (with rotation),
//! resource servers and scopes, app clients (scope grants, token validity, client secrets)
//! and the token endpoint's recent activity.
//!
//! Rules that keep it no more powerful than the API:
//! - every change is an admin operation run through [`crate::admin::dispatch`] with the
//!   request the API would get, so the API's validation and exceptions apply and are shown
//!   inline (key rotation, which Cognito has no operation for, is
//!   [`AppState::rotate_signing_key`], as `s2s keys rotate`);
//! - without admin credentials (loopback only, like the admin API) it is open; with them,
//!   one signs in with the admin access key id and secret;
//! - every form carries the session's CSRF token, and every post passes the admin API's
//!   `Host`/`Origin` guard, with `Origin` (and `Sec-Fetch-Site`) checked in both modes;
//! - no client secret is ever shown but once, in the answer that created it;
//! - no inline script or style: `Content-Security-Policy: default-src 'self'`.

// The checks before a page or a change return the response to send instead (a redirect
// to sign in, a refusal page): the `Err` of those results is a whole `Response` on purpose.
#![allow(clippy::result_large_err)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;

mod actions;
pub(crate) mod activity;
mod client_page;
mod html;
mod pages;
mod session;

use html::{Layout, Notice};
use session::Session;

/// The console's state in [`AppState`]: sessions and recent token activity.
#[derive(Debug, Default)]
pub(crate) struct Console {
    pub(crate) sessions: session::Sessions,
    pub(crate) activity: activity::Activity,
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's routes, all under `/console`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(pages::pools))
        .route("/console/", get(|| async { see_other("/console") }))
        .route("/console/login", get(pages::sign_in).post(actions::sign_in))
        .route("/console/logout", post(actions::sign_out))
        .route("/console/activity", get(pages::activity))
        .route("/console/pools/{pool_id}", get(pages::pool))
        .route(
            "/console/pools/{pool_id}/keys/rotate",
            post(actions::rotate_key),
        )
        .route(
            "/console/pools/{pool_id}/resource-servers",
            get(pages::resource_servers),
        )
        .route("/console/pools/{pool_id}/clients", get(pages::clients))
        .route(
            "/console/pools/{pool_id}/clients/{client_id}",
            get(client_page::client),
        )
        .route(
            "/console/pools/{pool_id}/clients/{client_id}/scopes",
            post(actions::update_scopes),
        )
        .route(
            "/console/pools/{pool_id}/clients/{client_id}/validity",
            post(actions::update_validity),
        )
        .route(
            "/console/pools/{pool_id}/clients/{client_id}/secrets",
            post(actions::add_secret),
        )
        .route(
            "/console/pools/{pool_id}/clients/{client_id}/secrets/delete",
            post(actions::delete_secret),
        )
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/static/console.js", get(script))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: under it Chromium sends `Origin: null` with the console's own
        // form posts, which the Origin check must refuse.
        (header::REFERRER_POLICY, "same-origin"),
        // Pages may carry a secret shown once: never stored by a browser or a proxy.
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/console.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/console.js"),
    )
        .into_response()
}

/// `303 See Other` to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A page request's session: the cookie's, or a new one (then `set_cookie` is sent).
pub(crate) struct Visit {
    pub(crate) session: Session,
    set_cookie: Option<String>,
}

impl Visit {
    /// The CSRF token for the sign-out form, when there is something to sign out of.
    fn sign_out_csrf(&self, state: &AppState) -> Option<&str> {
        state
            .config()
            .admin_credentials
            .is_some()
            .then_some(self.session.csrf.as_str())
    }

    /// The page as a response: the layout, the session's cookie when new.
    #[allow(clippy::too_many_arguments)] // The parts of one page, each named at the call.
    pub(crate) fn render(
        &self,
        state: &AppState,
        status: StatusCode,
        title: &str,
        crumbs: &[(String, String)],
        pool_nav: Option<(&str, &str)>,
        notice: Option<Notice>,
        body: &str,
    ) -> Response {
        let notice = notice.or_else(|| {
            state
                .console()
                .sessions
                .take_flash(&self.session.id)
                .map(Notice::Done)
        });
        let page = html::page(
            &Layout {
                title,
                crumbs,
                pool_nav,
                sign_out_csrf: self.sign_out_csrf(state),
                notice,
            },
            body,
        );
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response();
        self.attach_cookie(&mut response);
        response
    }

    fn attach_cookie(&self, response: &mut Response) {
        if let Some(value) = self
            .set_cookie
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

/// The session of a page request, created when missing; with admin credentials
/// configured, a redirect to the sign-in page unless signed in.
pub(crate) fn visit(state: &AppState, headers: &HeaderMap) -> Result<Visit, Response> {
    let sessions = &state.console().sessions;
    let visit = match sessions.current(state, headers) {
        Some(session) => Visit {
            session,
            set_cookie: None,
        },
        None => {
            let open = state.config().admin_credentials.is_none();
            let session = sessions
                .create(state, open)
                .ok_or_else(|| refused(StatusCode::INTERNAL_SERVER_ERROR, "no random numbers"))?;
            Visit {
                set_cookie: Some(session::set_cookie(state, &session)),
                session,
            }
        }
    };
    if state.config().admin_credentials.is_some() && !visit.session.signed_in {
        let mut response = see_other("/console/login");
        visit.attach_cookie(&mut response);
        return Err(response);
    }
    Ok(visit)
}

/// A posted form: `application/x-www-form-urlencoded` pairs, in order.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (checkboxes).
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Checks a post before it runs: the admin API's `Host`/`Origin` guard, a same-origin
/// browser request, the session cookie, the form's CSRF token and — with admin
/// credentials — a signed-in session. Returns the session and the form.
pub(crate) async fn check_post(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    body: Body,
    require_sign_in: bool,
) -> Result<(Session, Form), Response> {
    crate::admin::guard::check(state.config(), headers, uri)
        .and_then(|()| crate::admin::guard::check_origin(state.config(), headers, uri))
        .map_err(|e| refused(StatusCode::FORBIDDEN, &e.message))?;
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "cross-site form posts are refused",
        ));
    }
    let body = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| refused(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"))?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| refused(StatusCode::BAD_REQUEST, "the form is not URL-encoded"))?;
    let form = Form(pairs);
    let session = state
        .console()
        .sessions
        .current(state, headers)
        .ok_or_else(|| {
            refused(
                StatusCode::FORBIDDEN,
                "no console session (it expired, or cookies are off): reload the page and try again",
            )
        })?;
    let csrf_ok = form
        .get("csrf")
        .is_some_and(|token| session::same_secret(&session.csrf, token));
    if !csrf_ok {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or does not match this session: nothing was \
             changed; reload the page and try again",
        ));
    }
    if require_sign_in && state.config().admin_credentials.is_some() && !session.signed_in {
        return Err(refused(StatusCode::FORBIDDEN, "sign in first"));
    }
    Ok((session, form))
}

/// A refusal before anything ran: a minimal page saying why.
pub(crate) fn refused(status: StatusCode, message: &str) -> Response {
    let page = html::page(
        &Layout {
            title: "Request refused",
            crumbs: &[],
            pool_nav: None,
            sign_out_csrf: None,
            notice: Some(Notice::Refused(message.to_owned())),
        },
        "<p><a href=\"/console\">Back to the console</a></p>",
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}
