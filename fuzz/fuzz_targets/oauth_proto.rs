//! The parsers of `oauth-proto`: `Scope`, `Scopes`, `ClientId` from strings, and
//! `serde_json` (and, for the token request, `serde_urlencoded`) into its public types.
//!
//! Invariants:
//! - no panic;
//! - an accepted `Scope`/`ClientId` is the input unchanged and meets its documented form
//!   (RFC 6749 §3.3 scope token of 1 to 512 bytes; `[\w+]`, 1 to 128);
//! - `Scopes`: parse → `Display` → parse gives the same list, without duplicates or
//!   empty scopes, and every space-separated token of the input is in it;
//! - every type that parses serializes, and parse → serialize → parse is stable (equal
//!   values, or equal JSON for types without `PartialEq`);
//! - `Debug` (and `Display`) of `ClientSecret`, and `Debug` of a token request or
//!   response, do not depend on the secret or the token.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use oauth_proto::{
    AccessTokenClaims, ClientId, ClientSecret, ErrorCode, ErrorResponse, Jwk, Jwks,
    ProviderMetadata, Scope, Scopes, TokenRequest, TokenResponse, TokenType, TokenUse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON round trip for a type with `PartialEq`.
fn round_trip<T>(data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let Ok(first) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let json = serde_json::to_string(&first).expect("a parsed value serializes");
    let second: T = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("re-parse of {json} failed: {e}; first {first:?}"));
    assert_eq!(first, second, "round trip changed the value via {json}");
    assert_eq!(serde_json::to_string(&second).unwrap(), json);
}

/// JSON round trip for a type without `PartialEq`: compare the JSON.
fn round_trip_json<T>(data: &[u8]) -> Option<T>
where
    T: DeserializeOwned + Serialize,
{
    let first = serde_json::from_slice::<T>(data).ok()?;
    let json = serde_json::to_string(&first).expect("a parsed value serializes");
    let second: T =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("re-parse of {json} failed: {e}"));
    assert_eq!(serde_json::to_string(&second).unwrap(), json);
    Some(first)
}

fn is_scope_byte(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

fn strings(s: &str) {
    match Scope::parse(s) {
        Ok(scope) => {
            assert_eq!(scope.as_str(), s);
            assert!((1..=512).contains(&s.len()));
            assert!(s.bytes().all(is_scope_byte), "{s:?}");
            assert_eq!(scope.to_string(), s);
            assert_eq!(s.parse::<Scope>().as_ref(), Ok(&scope));
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        }
        Err(e) => {
            assert_eq!(e.what(), "scope");
            assert!(!e.to_string().is_empty());
            let json = serde_json::to_string(s).unwrap();
            assert!(serde_json::from_str::<Scope>(&json).is_err());
        }
    }

    match s.parse::<Scopes>() {
        Ok(scopes) => {
            let shown = scopes.to_string();
            let again: Scopes = shown.parse().expect("Display output parses");
            assert_eq!(again, scopes);
            assert_eq!(again.to_string(), shown);
            let mut seen = std::collections::HashSet::new();
            for scope in &scopes {
                assert!(!scope.as_str().is_empty());
                assert!(seen.insert(scope.as_str()), "duplicate {scope:?}");
            }
            for token in s.split(' ').filter(|t| !t.is_empty()) {
                assert!(
                    scopes.iter().any(|x| x.as_str() == token),
                    "{token:?} of {s:?} lost"
                );
            }
            assert_eq!(scopes.len(), seen.len());
            assert!(scopes.contains_all(&again));
            let json = serde_json::to_string(&scopes).unwrap();
            assert_eq!(serde_json::from_str::<Scopes>(&json).unwrap(), scopes);
            assert_eq!(String::from(scopes.clone()), shown);
        }
        Err(e) => {
            assert_eq!(e.what(), "scope");
            // Some space-separated token must be invalid on its own.
            assert!(
                s.split(' ')
                    .filter(|t| !t.is_empty())
                    .any(|t| Scope::parse(t).is_err()),
                "Scopes refused {s:?} but every token is a valid scope"
            );
        }
    }

    match ClientId::parse(s) {
        Ok(id) => {
            assert_eq!(id.as_str(), s);
            // Cognito's model pattern `[\w+]+`, 1 to 128 characters; `\w` is ASCII
            // (`[a-zA-Z0-9_]`), as the admin API's validation reads it too.
            assert!((1..=128).contains(&s.len()));
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+'),
                "ClientId accepted {s:?}"
            );
            assert_eq!(id.to_string(), s);
            assert_eq!(format!("{id:?}"), format!("{s:?}"));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<ClientId>(&json).unwrap(), id);
        }
        Err(e) => {
            assert_eq!(e.what(), "client id");
            let json = serde_json::to_string(s).unwrap();
            assert!(serde_json::from_str::<ClientId>(&json).is_err());
        }
    }

    let secret = ClientSecret::new(s);
    assert!(secret.matches(s));
    assert!(!secret.matches(&format!("{s}x")));
    // Debug and Display do not depend on the secret at all.
    let other = ClientSecret::new("another secret");
    assert_eq!(format!("{secret:?}"), format!("{other:?}"));
    assert_eq!(format!("{secret}"), format!("{other}"));

    let code = ErrorCode::from(s);
    assert_eq!(code.as_str(), s);
    assert_eq!(ErrorCode::from(code.as_str()), code);
}

fn json(data: &[u8]) {
    round_trip::<AccessTokenClaims>(data);
    round_trip::<ErrorResponse>(data);
    round_trip::<ErrorCode>(data);
    round_trip::<Jwk>(data);
    round_trip::<Jwks>(data);
    round_trip::<ProviderMetadata>(data);
    round_trip::<TokenResponse>(data);
    round_trip::<TokenType>(data);
    round_trip::<TokenUse>(data);
    round_trip::<Scopes>(data);
    round_trip::<Scope>(data);
    round_trip::<ClientId>(data);

    if let Ok(response) = serde_json::from_slice::<TokenResponse>(data) {
        let mut other = response.clone();
        other.access_token = "another token".to_owned();
        assert_eq!(format!("{response:?}"), format!("{other:?}"));
    }
    if let Some(request) = round_trip_json::<TokenRequest>(data) {
        let TokenRequest::ClientCredentials {
            scope, client_id, ..
        } = request.clone();
        let other = TokenRequest::ClientCredentials {
            scope,
            client_id,
            client_secret: Some("another secret".to_owned()),
        };
        let TokenRequest::ClientCredentials { client_secret, .. } = &request;
        if client_secret.is_some() {
            assert_eq!(format!("{request:?}"), format!("{other:?}"));
        }
    }
    if let Ok(claims) = serde_json::from_slice::<AccessTokenClaims>(data) {
        // The typed fields are valid by construction.
        assert!(ClientId::parse(claims.client_id.as_str()).is_ok());
        for scope in &claims.scope {
            assert!(Scope::parse(scope.as_str()).is_ok());
        }
    }
}

/// A token request as a form body (`application/x-www-form-urlencoded`).
fn form(data: &[u8]) {
    let Ok(first) = serde_urlencoded::from_bytes::<TokenRequest>(data) else {
        return;
    };
    let encoded = serde_urlencoded::to_string(&first).expect("a parsed request encodes");
    let second: TokenRequest = serde_urlencoded::from_str(&encoded)
        .unwrap_or_else(|e| panic!("re-parse of {encoded} failed: {e}"));
    assert_eq!(serde_urlencoded::to_string(&second).unwrap(), encoded);
    assert!(
        encoded.starts_with("grant_type=client_credentials"),
        "{encoded}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                strings(s);
            }
        }
        1 => json(rest),
        _ => form(rest),
    }
});
