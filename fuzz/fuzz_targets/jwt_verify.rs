//! `jwt_verifier::Verifier::verify` on attacker-controlled tokens.
//!
//! Set-up, once per process: a `TestIssuer` (its JWKS served on 127.0.0.1 from the same
//! single-threaded runtime), a verifier and a second one with the verified-token cache,
//! both on a fixed manual clock and hydrated up front. JWKS cooldown and refresh interval
//! are ten years, so after the one permitted unknown-`kid` refetch no input causes
//! network I/O.
//!
//! Inputs:
//! - `Raw`: any string as a token;
//! - `Mutated`: a valid token with byte edits and truncation;
//! - `Parts`: arbitrary header and payload bytes, validly signed (reaches the JSON and
//!   claim checks behind a good signature);
//! - `Edited`: a valid header and Cognito claims with members replaced, removed or
//!   added, then signed (or not).
//!
//! Invariants:
//! - no panic;
//! - an accepted token has `iss` = the issuer, `token_use` = `access`, the allowed
//!   `client_id`, and `exp`/`iat` within the leeway of the clock;
//! - for `Edited` with a valid signature: the verdict equals an independent oracle of the
//!   documented rules (crate docs of `jwt-verifier`), and the claims equal the ones sent;
//! - no malleability: a changed signature is never accepted, and a `Mutated` token is
//!   accepted only if it is the issued token unchanged;
//! - the cached verifier agrees with the uncached one, on first and repeated use;
//! - a scope policy passes exactly when the claims satisfy it.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_verifier::test_util::TestIssuer;
use jwt_verifier::{Claims, ScopePolicy, Verifier, VerifyError};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use oauth_proto::time::ManualClock;
use oauth_proto::{ClientId, Scopes};
use s2s_fuzz::{FuzzJson, NOW, runtime, tally};
use serde_json::{Map, Value, json};

const CLIENT_ID: &str = "fuzzclient";
const LEEWAY: u64 = 30;
/// Below the default 8 KiB so that inputs (libFuzzer's default `-max_len` is 4096) reach it.
const MAX_TOKEN_BYTES: usize = 2 * 1024;
const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 86_400);
/// A second trusted issuer whose JWKS is unreachable (the discard port refuses at once).
const OTHER_ISSUER: &str = "http://127.0.0.1:9/eu-west-1_Other";
const SCOPES: &[&str] = &["rs/read", "rs/write", "https://api.example.com/x/y", "a"];

struct Harness {
    rt: tokio::runtime::Runtime,
    issuer: TestIssuer,
    plain: Verifier,
    cached: Verifier,
    /// The issuer's published `kid` (the signing key).
    kid: String,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let rt = runtime();
        let clock = Arc::new(ManualClock::at_unix(NOW));
        let issuer = rt.block_on(TestIssuer::start_with_clock(clock.clone()));
        let build = |cache: bool| {
            let mut b = Verifier::builder()
                .issuer(issuer.issuer())
                .issuer(OTHER_ISSUER)
                .client_id(CLIENT_ID)
                .client_id("second_client")
                .leeway(Duration::from_secs(LEEWAY))
                .clock(clock.clone())
                .jwks_cooldown(TEN_YEARS)
                .jwks_refresh_interval(TEN_YEARS)
                .max_token_bytes(MAX_TOKEN_BYTES);
            if cache {
                b = b.token_cache(16);
            }
            b.build().expect("build a verifier")
        };
        let plain = build(false);
        let cached = build(true);
        // Only the first issuer is reachable; the second one's fetch is refused at once
        // and not retried within the cooldown (hydrate reports it; ignored).
        let _ = rt.block_on(plain.hydrate());
        let _ = rt.block_on(cached.hydrate());
        let kid = issuer.kid();
        Harness {
            rt,
            issuer,
            plain,
            cached,
            kid,
        }
    })
}

#[derive(Debug, Arbitrary)]
enum SigMode {
    Valid,
    /// Flip one bit of the signature.
    Flip(u16),
    /// Keep only this many bytes.
    Truncate(u16),
    Raw(Vec<u8>),
    Empty,
}

/// A claim or header value: JSON, or a number near the harness clock.
#[derive(Debug, Arbitrary)]
enum Val {
    Json(FuzzJson),
    NowPlus(i32),
    NowPlusFrac(i16, u8),
}

#[derive(Debug, Arbitrary)]
enum Edit {
    Set(u8, Val),
    Remove(u8),
    AddRaw(String, Val),
}

#[derive(Debug, Arbitrary)]
enum PolicyPick {
    None,
    AllOf(Vec<u8>),
    AnyOf(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Input {
    Raw(String),
    Mutated {
        edits: Vec<(u16, u8)>,
        truncate: Option<u16>,
    },
    Parts {
        header: Vec<u8>,
        payload: Vec<u8>,
        sig: SigMode,
    },
    Edited {
        header: Vec<Edit>,
        claims: Vec<Edit>,
        sig: SigMode,
        policy: PolicyPick,
    },
}

const HEADER_KEYS: &[&str] = &["alg", "kid", "typ", "jwk", "jku", "x5u", "x5c", "crit"];
const CLAIM_KEYS: &[&str] = &[
    "sub",
    "token_use",
    "scope",
    "auth_time",
    "iss",
    "exp",
    "iat",
    "version",
    "jti",
    "client_id",
    "nbf",
    "aud",
];

fn strings(h: &Harness) -> Vec<String> {
    let mut out: Vec<String> = [
        "RS256",
        "HS256",
        "none",
        "rs256",
        "access",
        "id",
        CLIENT_ID,
        "second_client",
        "other_client",
        "rs/read rs/write",
        "rs/read",
        "a  rs/read",
        "bad\"scope",
        "",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    out.push(h.issuer.issuer());
    out.push(format!("{}/", h.issuer.issuer()));
    out.push(OTHER_ISSUER.to_owned());
    out.push(h.kid.clone());
    out
}

fn value(v: &Val, strings: &[String]) -> Value {
    match v {
        Val::Json(j) => j.to_value(strings, CLAIM_KEYS),
        Val::NowPlus(d) => json!(i64::try_from(NOW).unwrap() + i64::from(*d)),
        Val::NowPlusFrac(d, f) => {
            json!(NOW as f64 + f64::from(*d) + f64::from(*f) / 256.0)
        }
    }
}

fn apply(map: &mut Map<String, Value>, edits: &[Edit], keys: &[&str], strings: &[String]) {
    for edit in edits {
        match edit {
            Edit::Set(k, v) => {
                map.insert(keys[*k as usize % keys.len()].to_owned(), value(v, strings));
            }
            Edit::Remove(k) => {
                map.remove(keys[*k as usize % keys.len()]);
            }
            Edit::AddRaw(k, v) => {
                map.insert(k.clone(), value(v, strings));
            }
        }
    }
}

fn with_signature(signed: &str, sig: &SigMode) -> String {
    let (input, signature) = signed.rsplit_once('.').expect("three parts");
    let mut bytes = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("base64url signature");
    match sig {
        SigMode::Valid => return signed.to_owned(),
        SigMode::Flip(bit) => {
            let i = *bit as usize % (bytes.len() * 8);
            bytes[i / 8] ^= 1 << (i % 8);
        }
        SigMode::Truncate(n) => bytes.truncate(*n as usize),
        SigMode::Raw(raw) => bytes.clone_from(raw),
        SigMode::Empty => bytes.clear(),
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// RFC 7519 NumericDate as the crate docs define it: a non-negative JSON number,
/// fractions truncated. `Err` = wrong type or value.
fn numeric_date(v: Option<&Value>) -> Result<Option<u64>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(u))
            } else if let Some(f) = n.as_f64()
                && f >= 0.0
                && f < 1.8e19
            {
                Ok(Some(f.trunc() as u64))
            } else {
                Err(())
            }
        }
        Some(_) => Err(()),
    }
}

/// The expected verdict for a validly signed token with `header` and `claims`.
fn oracle(
    h: &Harness,
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> Result<(), String> {
    let now = NOW;
    if header.get("alg") != Some(&json!("RS256")) {
        return Err("alg".into());
    }
    for k in ["jwk", "jku", "x5u", "x5c", "crit"] {
        // A `null` member is read as absent.
        if header.get(k).is_some_and(|v| !v.is_null()) {
            return Err(format!("header {k}"));
        }
    }
    match header.get("kid") {
        Some(Value::String(k)) if *k == h.kid => {}
        Some(Value::String(k)) if !k.is_empty() => return Err("unknown kid".into()),
        _ => return Err("missing kid".into()),
    }
    match claims.get("iss") {
        Some(Value::String(iss)) if *iss == h.issuer.issuer() => {}
        _ => return Err("iss".into()),
    }
    let exp = numeric_date(claims.get("exp"))
        .map_err(|()| "exp type")?
        .ok_or("no exp")?;
    if now >= exp.saturating_add(LEEWAY) {
        return Err("expired".into());
    }
    if let Some(nbf) = numeric_date(claims.get("nbf")).map_err(|()| "nbf type")?
        && nbf > now + LEEWAY
    {
        return Err("nbf".into());
    }
    let iat = numeric_date(claims.get("iat"))
        .map_err(|()| "iat type")?
        .ok_or("no iat")?;
    if iat > now + LEEWAY {
        return Err("iat".into());
    }
    if claims.get("token_use") != Some(&json!("access")) {
        return Err("token_use".into());
    }
    match claims.get("client_id") {
        Some(Value::String(c)) if c == CLIENT_ID || c == "second_client" => {}
        _ => return Err("client_id".into()),
    }
    match claims.get("scope") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            s.parse::<Scopes>().map_err(|_| "scope")?;
        }
        Some(_) => return Err("scope type".into()),
    }
    numeric_date(claims.get("auth_time")).map_err(|()| "auth_time")?;
    match claims.get("version") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v <= u64::from(u32::MAX)) => {}
        Some(_) => return Err("version".into()),
    }
    for k in ["sub", "jti"] {
        match claims.get(k) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => return Err(k.into()),
        }
    }
    Ok(())
}

/// What holds for every accepted token, whatever the input.
fn check_accepted(h: &Harness, claims: &Claims) {
    assert_eq!(claims.iss, h.issuer.issuer());
    assert_eq!(claims.token_use, oauth_proto::TokenUse::Access);
    assert!(
        [CLIENT_ID, "second_client"].contains(&claims.client_id().as_str()),
        "{claims:?}"
    );
    assert!(ClientId::parse(claims.client_id().as_str()).is_ok());
    assert!(NOW < claims.exp.saturating_add(LEEWAY), "{claims:?}");
    assert!(claims.iat <= NOW + LEEWAY, "{claims:?}");
}

fn same(a: &Result<Claims, VerifyError>, b: &Result<Claims, VerifyError>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a.reason() == b.reason(),
        _ => false,
    }
}

fn policy(pick: &PolicyPick) -> ScopePolicy {
    let names = |v: &[u8]| -> Vec<String> {
        v.iter()
            .map(|i| SCOPES[*i as usize % SCOPES.len()].to_owned())
            .collect()
    };
    match pick {
        PolicyPick::None => ScopePolicy::none(),
        PolicyPick::AllOf(v) => ScopePolicy::all_of(names(v)),
        PolicyPick::AnyOf(v) => ScopePolicy::any_of(names(v)),
    }
}

fn verify_all(
    h: &Harness,
    mode: &str,
    token: &str,
    pick: &PolicyPick,
) -> Result<Claims, VerifyError> {
    let started = std::time::Instant::now();
    let plain = h.rt.block_on(h.plain.verify(token));
    let verdict = plain.as_ref().map_or_else(VerifyError::reason, |_| "ok");
    tally(&format!("{mode} {verdict}"), started.elapsed());
    let cached1 = h.rt.block_on(h.cached.verify(token));
    let cached2 = h.rt.block_on(h.cached.verify(token));
    assert!(
        same(&plain, &cached1),
        "cache differs: {plain:?} vs {cached1:?}"
    );
    assert!(
        same(&plain, &cached2),
        "cache hit differs: {plain:?} vs {cached2:?}"
    );
    if token.len() > MAX_TOKEN_BYTES {
        assert!(
            matches!(plain, Err(VerifyError::TooLarge { .. })),
            "{plain:?}"
        );
    }
    if let Ok(claims) = &plain {
        check_accepted(h, claims);
        let policy = policy(pick);
        let with = h.rt.block_on(h.plain.verify_with(token, &policy));
        let cached = h.rt.block_on(h.cached.verify_with(token, &policy));
        let satisfied = policy.is_satisfied_by(claims.scopes());
        assert_eq!(with.is_ok(), satisfied, "{with:?}");
        assert_eq!(cached.is_ok(), satisfied, "{cached:?}");
        if !satisfied {
            assert!(matches!(with, Err(VerifyError::InsufficientScope { .. })));
        }
    }
    plain
}

fuzz_target!(|input: Input| {
    let h = harness();
    let strings = strings(h);
    match input {
        Input::Raw(token) => {
            let _ = verify_all(h, "raw", &token, &PolicyPick::None);
        }
        Input::Mutated { edits, truncate } => {
            let original = h.issuer.access_token(CLIENT_ID, ["rs/read"]);
            let mut bytes = original.clone().into_bytes();
            for (pos, b) in edits {
                let i = pos as usize % bytes.len();
                bytes[i] = b;
            }
            if let Some(n) = truncate {
                bytes.truncate(n as usize);
            }
            let token = String::from_utf8_lossy(&bytes);
            let result = verify_all(h, "mutated", &token, &PolicyPick::None);
            // No malleability: any other string than the issued token is refused
            // (base64url must be canonical, RS256 signatures are unique).
            assert!(
                result.is_err() || token == original,
                "accepted a changed token {token:?} (issued {original:?})"
            );
        }
        Input::Parts {
            header,
            payload,
            sig,
        } => {
            let token = with_signature(&h.issuer.sign_parts(&header, &payload), &sig);
            let _ = verify_all(h, "parts", &token, &PolicyPick::None);
        }
        Input::Edited {
            header: header_edits,
            claims: claim_edits,
            sig,
            policy,
        } => {
            let mut header = Map::new();
            header.insert("kid".into(), json!(h.kid));
            header.insert("alg".into(), json!("RS256"));
            apply(&mut header, &header_edits, HEADER_KEYS, &strings);
            let Value::Object(mut claims) = h.issuer.claims(CLIENT_ID, ["rs/read", "rs/write"])
            else {
                unreachable!()
            };
            apply(&mut claims, &claim_edits, CLAIM_KEYS, &strings);
            let signed = h
                .issuer
                .token_with_header(&Value::Object(header.clone()), &claims);
            let token = with_signature(&signed, &sig);
            let result = verify_all(h, "edited", &token, &policy);
            if token.len() > MAX_TOKEN_BYTES {
                return;
            }
            if !matches!(sig, SigMode::Valid) && token != signed {
                if let Ok(c) = &result {
                    panic!("accepted a token with a changed signature: {c:?}");
                }
                return;
            }
            let expected = oracle(h, &header, &claims);
            match (&expected, &result) {
                (Ok(()), Ok(c)) => {
                    assert_eq!(c.client_id().as_str(), claims["client_id"]);
                    assert_eq!(Some(c.exp), numeric_date(claims.get("exp")).unwrap(), "exp");
                    assert_eq!(Some(c.iat), numeric_date(claims.get("iat")).unwrap(), "iat");
                    let scope = claims
                        .get("scope")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    assert_eq!(c.scopes(), &scope.parse::<Scopes>().unwrap());
                }
                (Err(_), Err(_)) => {}
                _ => panic!(
                    "verdict {result:?} but the documented rules say {expected:?}\nheader {header:?}\nclaims {claims:?}"
                ),
            }
        }
    }
});
