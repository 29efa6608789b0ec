//! Console sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie scoped to
//! `/console`, and per session a CSRF token that every form carries.
//!
//! Every visitor gets a session on the first page (so that even the sign-in form and the
//! forms of the credential-less loopback mode carry a CSRF token). With admin credentials
//! configured, a session is signed in by the admin access key id and secret; signing in
//! replaces the session id (no session fixation) and signing out forgets it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::http::{HeaderMap, header};

use crate::AppState;

/// The cookie's name.
pub(crate) const COOKIE: &str = "s2s_console";
/// How long a session lasts after its creation or sign-in.
const TTL_MS: i64 = 8 * 3600 * 1000;
/// Sessions kept at most; beyond, the oldest is dropped (a flood of cookie-less requests
/// cannot grow memory).
const MAX_SESSIONS: usize = 1024;

/// One session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) csrf: String,
    pub(crate) signed_in: bool,
    expires_ms: i64,
    /// A notice to show on the next page (after a redirect), shown once.
    flash: Option<String>,
}

/// The sessions of this server (in memory: a restart signs everybody out).
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(crate::ids::base32hex(&bytes))
}

/// Constant-time equality of two strings (through SHA-256 digests, so lengths do not leak).
pub(crate) fn same_secret(expected: &str, presented: &str) -> bool {
    use aws_lc_rs::digest::{SHA256, digest};
    use subtle::ConstantTimeEq as _;
    let expected = digest(&SHA256, expected.as_bytes());
    let presented = digest(&SHA256, presented.as_bytes());
    expected.as_ref().ct_eq(presented.as_ref()).into()
}

/// The session id of the request's cookie.
fn cookie_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

impl Sessions {
    /// The live session named by the request's cookie.
    pub(crate) fn current(&self, state: &AppState, headers: &HeaderMap) -> Option<Session> {
        let id = cookie_id(headers)?;
        let now = state.now_ms();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(id) {
            Some(session) if session.expires_ms > now => Some(session.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// A new session, signed in or not.
    pub(crate) fn create(&self, state: &AppState, signed_in: bool) -> Option<Session> {
        let session = Session {
            id: random_token()?,
            csrf: random_token()?,
            signed_in,
            expires_ms: state.now_ms() + TTL_MS,
            flash: None,
        };
        let now = state.now_ms();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, s| s.expires_ms > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .values()
                .min_by_key(|s| s.expires_ms)
                .map(|s| s.id.clone())
        {
            map.remove(&oldest);
        }
        map.insert(session.id.clone(), session.clone());
        Some(session)
    }

    /// Forgets a session (sign-out, or the anonymous session replaced at sign-in).
    pub(crate) fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// Leaves a notice for the session's next page.
    pub(crate) fn set_flash(&self, id: &str, message: String) {
        if let Some(session) = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(id)
        {
            session.flash = Some(message);
        }
    }

    /// Takes the session's notice, if any.
    pub(crate) fn take_flash(&self, id: &str) -> Option<String> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(id)
            .and_then(|s| s.flash.take())
    }
}

/// The `Set-Cookie` value for a session (`Secure` when the public URL is HTTPS).
pub(crate) fn set_cookie(state: &AppState, session: &Session) -> String {
    let secure = if state.config().public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict{secure}",
        session.id
    )
}

/// The `Set-Cookie` value that deletes the cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; s2s_console=abc; b=2".parse().unwrap());
        assert_eq!(cookie_id(&headers), Some("abc"));
        assert!(same_secret("x", "x"));
        assert!(!same_secret("x", "xy"));
    }
}
