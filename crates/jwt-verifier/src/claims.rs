//! Verified claims and the claim checks that run after the signature.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use oauth_proto::{AccessTokenClaims, ClientId, Scopes, TokenUse};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::VerifyError;
use crate::token::RawClaims;

/// The claims of a verified Cognito access token.
///
/// Dereferences to [`AccessTokenClaims`] (`client_id`, `scope`, `exp`, `jti`, …); cloning is cheap (an `Arc`).
/// Claims beyond Cognito's ten — those a pre token generation trigger added, such as a
/// `tenant` — are read with [`Claims::get`], [`Claims::deserialize`] or
/// [`Claims::custom_claims`]; they are covered by the signature like every other claim.
/// With the `axum` feature this is also an extractor (see the crate docs).
///
/// ```
/// use jwt_verifier::Claims;
/// use oauth_proto::{AccessTokenClaims, ClientId, TokenUse};
/// use serde_json::json;
///
/// # fn main() -> Result<(), jwt_verifier::VerifyError> {
/// # let standard = AccessTokenClaims {
/// #     sub: "c1".into(), token_use: TokenUse::Access, scope: Default::default(),
/// #     auth_time: 0, iss: "https://issuer".into(), exp: 1, iat: 0, version: 2,
/// #     jti: "j".into(), client_id: ClientId::parse("c1").unwrap(),
/// # };
/// let custom = json!({"tenant": "acme", "limits": {"rps": 10}});
/// let claims = Claims::new(standard, custom.as_object().cloned().unwrap_or_default());
///
/// let tenant: Option<String> = claims.get("tenant")?;
/// assert_eq!(tenant.as_deref(), Some("acme"));
/// assert_eq!(claims.get::<String>("missing")?, None);
/// assert!(claims.get::<u64>("tenant").is_err(), "present but not a number");
///
/// #[derive(serde::Deserialize)]
/// struct Caller { client_id: String, tenant: String, limits: Limits }
/// #[derive(serde::Deserialize)]
/// struct Limits { rps: u32 }
/// let caller: Caller = claims.deserialize()?;
/// assert_eq!((caller.client_id.as_str(), caller.tenant.as_str(), caller.limits.rps), ("c1", "acme", 10));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Claims(Arc<Verified>);

#[derive(PartialEq, Eq)]
struct Verified {
    standard: AccessTokenClaims,
    custom: Map<String, Value>,
}

impl Claims {
    /// Claims made of Cognito's ten and `custom` ones (for tests and for callers that
    /// verify tokens themselves; [`Verifier`](crate::Verifier) builds them otherwise).
    /// A custom claim named like one of the ten is ignored: the typed value is the one read.
    pub fn new(standard: AccessTokenClaims, mut custom: Map<String, Value>) -> Self {
        for name in STANDARD_CLAIMS {
            custom.remove(*name);
        }
        Self(Arc::new(Verified { standard, custom }))
    }

    /// The app client the token was issued to (`client_id`).
    pub fn client_id(&self) -> &ClientId {
        &self.0.standard.client_id
    }

    /// The granted scopes (`scope`).
    pub fn scopes(&self) -> &Scopes {
        &self.0.standard.scope
    }

    /// Whether the token carries `scope`, compared whole: `a/read` does not match
    /// `a/read-all`, `a/rea` or `b/read`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.standard.scope.iter().any(|s| s.as_str() == scope)
    }

    /// The verified claims Cognito always sets.
    pub fn access_token_claims(&self) -> &AccessTokenClaims {
        &self.0.standard
    }

    /// The claims beyond Cognito's ten (and `nbf`), as JSON: e.g. those a pre token
    /// generation trigger added. Empty for an unmodified Cognito token.
    pub fn custom_claims(&self) -> &Map<String, Value> {
        &self.0.custom
    }

    /// The claim `name` deserialised into `T`: `Ok(None)` when the token has no such claim,
    /// [`VerifyError::ClaimType`] when it has one that is not a `T`. Works for custom
    /// claims and for Cognito's own (`claims.get::<String>("client_id")`).
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, VerifyError> {
        let value = match self.0.custom.get(name) {
            Some(value) => value.clone(),
            None if STANDARD_CLAIMS.contains(&name) => {
                self.standard_json()?.remove(name).unwrap_or(Value::Null)
            }
            None => return Ok(None),
        };
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| VerifyError::ClaimType {
                claim: VerifyError::clip(name),
                reason: e.to_string(),
            })
    }

    /// Every claim — Cognito's and the custom ones — deserialised into `T`, e.g. a struct
    /// with the fields a handler needs (unknown claims are ignored unless `T` denies them).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, VerifyError> {
        let mut all = self.standard_json()?;
        all.extend(self.0.custom.iter().map(|(k, v)| (k.clone(), v.clone())));
        serde_json::from_value(Value::Object(all)).map_err(|e| VerifyError::ClaimType {
            claim: "*".to_owned(),
            reason: e.to_string(),
        })
    }

    fn standard_json(&self) -> Result<Map<String, Value>, VerifyError> {
        match serde_json::to_value(&self.0.standard) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) | Err(_) => Err(VerifyError::InvalidClaim("*")),
        }
    }

    /// Takes the claims Cognito always sets out (clones them if this `Claims` is shared).
    pub fn into_inner(self) -> AccessTokenClaims {
        match Arc::try_unwrap(self.0) {
            Ok(verified) => verified.standard,
            Err(shared) => shared.standard.clone(),
        }
    }
}

/// The claims [`AccessTokenClaims`] holds (the custom map never shadows them).
const STANDARD_CLAIMS: &[&str] = &[
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
];

impl Deref for Claims {
    type Target = AccessTokenClaims;
    fn deref(&self) -> &AccessTokenClaims {
        &self.0.standard
    }
}

impl From<AccessTokenClaims> for Claims {
    fn from(claims: AccessTokenClaims) -> Self {
        Self::new(claims, Map::new())
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("standard", &self.0.standard)
            .field("custom", &self.0.custom)
            .finish()
    }
}

/// What the claim checks compare against.
#[derive(Debug)]
pub(crate) struct ClaimRules {
    /// `None`: any client id is accepted (configured explicitly).
    pub(crate) client_ids: Option<Vec<String>>,
    pub(crate) leeway: u64,
}

/// Reads a NumericDate (RFC 7519 §2): a JSON number, possibly fractional, not negative.
fn numeric_date(value: Option<&Value>, name: &'static str) -> Result<Option<u64>, VerifyError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let Value::Number(n) = value else {
        return Err(VerifyError::InvalidClaim(name));
    };
    if let Some(u) = n.as_u64() {
        return Ok(Some(u));
    }
    match n.as_f64() {
        // Truncation is the point: NumericDate may carry fractions of a second.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(f) if (0.0..1.8e19).contains(&f) => Ok(Some(f as u64)),
        _ => Err(VerifyError::InvalidClaim(name)),
    }
}

fn string_claim(value: Option<Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Runs every claim check, in order, on claims whose signature has verified, and
/// builds the typed claims. `issuer` is the configured issuer whose key verified.
pub(crate) fn validate(
    raw: RawClaims,
    issuer: &str,
    rules: &ClaimRules,
    now: u64,
) -> Result<Claims, VerifyError> {
    let leeway = rules.leeway;

    let exp = numeric_date(raw.exp.as_ref(), "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(VerifyError::Expired { exp, now, leeway });
    }
    if let Some(nbf) = numeric_date(raw.nbf.as_ref(), "nbf")?
        && nbf > now.saturating_add(leeway)
    {
        return Err(VerifyError::NotYetValid { nbf, now });
    }
    let iat = numeric_date(raw.iat.as_ref(), "iat")?.ok_or(VerifyError::MissingClaim("iat"))?;
    if iat > now.saturating_add(leeway) {
        return Err(VerifyError::IssuedInFuture { iat, now });
    }

    // The issuer was chosen by this very claim before the signature check; comparing
    // again keeps the check local and explicit.
    match raw.iss.as_ref() {
        Some(Value::String(iss)) if iss == issuer => {}
        _ => return Err(VerifyError::InvalidIssuer),
    }

    match raw.token_use.as_ref() {
        Some(Value::String(u)) if u == "access" => {}
        Some(Value::String(u)) => return Err(VerifyError::InvalidTokenUse(VerifyError::clip(u))),
        Some(_) => return Err(VerifyError::InvalidTokenUse("<not a string>".into())),
        None => return Err(VerifyError::InvalidTokenUse("<missing>".into())),
    }

    let client_id = match raw.client_id {
        Some(Value::String(id)) => id,
        Some(_) => return Err(VerifyError::InvalidClientId("<not a string>".into())),
        None => return Err(VerifyError::InvalidClientId("<missing>".into())),
    };
    if let Some(allowed) = &rules.client_ids
        && !allowed.contains(&client_id)
    {
        return Err(VerifyError::InvalidClientId(VerifyError::clip(&client_id)));
    }
    let client_id = ClientId::parse(&client_id)
        .map_err(|_| VerifyError::InvalidClientId(VerifyError::clip(&client_id)))?;

    // Cognito omits `scope` when none was granted; that is an empty list.
    let scope: Scopes = match raw.scope {
        None => Scopes::default(),
        Some(Value::String(s)) => s.parse().map_err(|_| VerifyError::InvalidClaim("scope"))?,
        Some(_) => return Err(VerifyError::InvalidClaim("scope")),
    };

    // Informational claims: checked for type, defaulted the way Cognito fills them.
    let auth_time = numeric_date(raw.auth_time.as_ref(), "auth_time")?.unwrap_or(iat);
    let version = match raw.version {
        None => 2,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(VerifyError::InvalidClaim("version"))?,
        Some(_) => return Err(VerifyError::InvalidClaim("version")),
    };
    let sub = match raw.sub {
        None => client_id.as_str().to_owned(),
        v => string_claim(v).ok_or(VerifyError::InvalidClaim("sub"))?,
    };
    let jti = match raw.jti {
        None => String::new(),
        v => string_claim(v).ok_or(VerifyError::InvalidClaim("jti"))?,
    };

    let standard = AccessTokenClaims {
        sub,
        token_use: TokenUse::Access,
        scope,
        auth_time,
        iss: issuer.to_owned(),
        exp,
        iat,
        version,
        jti,
        client_id,
    };
    Ok(Claims::new(standard, raw.other))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClaimPolicy, ScopePolicy};
    use serde_json::json;

    fn raw(v: Value) -> RawClaims {
        serde_json::from_value(v).unwrap()
    }

    fn rules() -> ClaimRules {
        ClaimRules {
            client_ids: Some(vec!["client1".into()]),
            leeway: 60,
        }
    }

    fn good() -> Value {
        json!({
            "sub": "client1", "token_use": "access", "scope": "rs/read rs/write",
            "auth_time": 1000, "iss": "https://issuer", "exp": 2000, "iat": 1000,
            "version": 2, "jti": "j", "client_id": "client1"
        })
    }

    fn with(key: &str, value: Value) -> RawClaims {
        let mut v = good();
        v[key] = value;
        raw(v)
    }

    fn without(key: &str) -> RawClaims {
        let mut v = good();
        v.as_object_mut().unwrap().remove(key);
        raw(v)
    }

    #[test]
    fn accepts_cognito_claims() {
        let c = validate(raw(good()), "https://issuer", &rules(), 1500).unwrap();
        assert_eq!(c.client_id.as_str(), "client1");
        assert_eq!(c.scope.len(), 2);
    }

    #[test]
    fn leeway_applies_to_exp_nbf_and_iat() {
        let r = rules();
        assert!(validate(raw(good()), "https://issuer", &r, 2059).is_ok());
        assert!(matches!(
            validate(raw(good()), "https://issuer", &r, 2060),
            Err(VerifyError::Expired { exp: 2000, .. })
        ));
        assert!(validate(with("nbf", json!(1560)), "https://issuer", &r, 1500).is_ok());
        assert!(matches!(
            validate(with("nbf", json!(1561)), "https://issuer", &r, 1500),
            Err(VerifyError::NotYetValid { nbf: 1561, .. })
        ));
        assert!(matches!(
            validate(with("iat", json!(1561)), "https://issuer", &r, 1500),
            Err(VerifyError::IssuedInFuture { iat: 1561, .. })
        ));
    }

    #[test]
    fn exp_must_be_a_present_number() {
        let r = rules();
        assert!(matches!(
            validate(without("exp"), "https://issuer", &r, 1500),
            Err(VerifyError::MissingClaim("exp"))
        ));
        // `null` reads as absent.
        assert!(matches!(
            validate(with("exp", json!(null)), "https://issuer", &r, 1500),
            Err(VerifyError::MissingClaim("exp"))
        ));
        for bad in [json!("2000"), json!(-5), json!(true), json!([2000])] {
            assert!(
                matches!(
                    validate(with("exp", bad.clone()), "https://issuer", &r, 1500),
                    Err(VerifyError::InvalidClaim("exp"))
                ),
                "{bad}"
            );
        }
        assert!(validate(with("exp", json!(2000.5)), "https://issuer", &r, 1500).is_ok());
        assert!(matches!(
            validate(with("nbf", json!("0")), "https://issuer", &r, 1500),
            Err(VerifyError::InvalidClaim("nbf"))
        ));
    }

    #[test]
    fn token_use_client_id_and_issuer_are_checked() {
        let r = rules();
        assert!(matches!(
            validate(with("token_use", json!("id")), "https://issuer", &r, 1500),
            Err(VerifyError::InvalidTokenUse(u)) if u == "id"
        ));
        assert!(matches!(
            validate(without("token_use"), "https://issuer", &r, 1500),
            Err(VerifyError::InvalidTokenUse(_))
        ));
        assert!(matches!(
            validate(with("client_id", json!("other")), "https://issuer", &r, 1500),
            Err(VerifyError::InvalidClientId(c)) if c == "other"
        ));
        assert!(matches!(
            validate(raw(good()), "https://other", &r, 1500),
            Err(VerifyError::InvalidIssuer)
        ));
        let any = ClaimRules {
            client_ids: None,
            leeway: 0,
        };
        assert!(
            validate(
                with("client_id", json!("other")),
                "https://issuer",
                &any,
                1500
            )
            .is_ok()
        );
        assert!(matches!(
            validate(
                with("client_id", json!("bad id")),
                "https://issuer",
                &any,
                1500
            ),
            Err(VerifyError::InvalidClientId(_))
        ));
    }

    #[test]
    fn scope_policy_compares_whole_strings() {
        let claims: Claims = validate(
            with(
                "scope",
                json!(
                    "https://api.example.com/v1/schedule.read user-schedule-service/schedule.read"
                ),
            ),
            "https://issuer",
            &rules(),
            1500,
        )
        .unwrap();
        let ok = ScopePolicy::all_of(["user-schedule-service/schedule.read"]);
        assert!(ok.check(&claims).is_ok());
        for look_alike in [
            "user-schedule-service/schedule.read-all",
            "user-schedule-service/schedule",
            "user-schedule-service/schedule.rea",
            "other-service/schedule.read",
            "schedule.read",
            "v1/schedule.read",
            "https://api.example.com/v1",
        ] {
            assert!(!claims.has_scope(look_alike), "{look_alike}");
            let p = ScopePolicy::all_of([look_alike]);
            assert!(matches!(
                p.check(&claims),
                Err(VerifyError::InsufficientScope { required, .. }) if required == look_alike
            ));
        }
        assert!(claims.has_scope("https://api.example.com/v1/schedule.read"));
        assert!(
            ScopePolicy::any_of(["x/y", "user-schedule-service/schedule.read"])
                .check(&claims)
                .is_ok()
        );
        assert!(
            ScopePolicy::all_of(["x/y", "user-schedule-service/schedule.read"])
                .check(&claims)
                .is_err()
        );
        assert!(
            ScopePolicy::any_of(Vec::<String>::new())
                .check(&claims)
                .is_err()
        );
        assert!(ScopePolicy::none().check(&claims).is_ok());
    }

    #[test]
    fn custom_claims_are_kept_typed_and_never_shadow_cognitos() {
        let mut v = good();
        v["tenant"] = json!("acme");
        v["limits"] = json!({"rps": 10});
        v["nbf"] = json!(1000);
        let claims = validate(raw(v), "https://issuer", &rules(), 1500).unwrap();
        assert_eq!(
            Value::Object(claims.custom_claims().clone()),
            json!({"tenant": "acme", "limits": {"rps": 10}})
        );
        assert_eq!(
            claims.get::<String>("tenant").unwrap().as_deref(),
            Some("acme")
        );
        assert_eq!(
            claims.get::<String>("client_id").unwrap().as_deref(),
            Some("client1")
        );
        assert_eq!(claims.get::<String>("absent").unwrap(), None);
        assert!(matches!(
            claims.get::<u32>("tenant"),
            Err(VerifyError::ClaimType { claim, .. }) if claim == "tenant"
        ));
        #[derive(serde::Deserialize)]
        struct Limits {
            rps: u32,
        }
        #[derive(serde::Deserialize)]
        struct Caller {
            client_id: String,
            tenant: String,
            limits: Limits,
        }
        let caller: Caller = claims.deserialize().unwrap();
        assert_eq!(caller.client_id, "client1");
        assert_eq!(caller.tenant, "acme");
        assert_eq!(caller.limits.rps, 10);
        assert!(claims.deserialize::<Limits>().is_err());

        let forged = Claims::new(
            claims.access_token_claims().clone(),
            json!({"client_id": "other"}).as_object().unwrap().clone(),
        );
        assert_eq!(
            forged.get::<String>("client_id").unwrap().as_deref(),
            Some("client1")
        );
    }

    #[test]
    fn claim_policy_compares_json_values_and_fails_closed() {
        let mut v = good();
        v["tenant"] = json!("acme");
        v["tier"] = json!(3);
        let claims = validate(raw(v), "https://issuer", &rules(), 1500).unwrap();
        assert!(ClaimPolicy::equals("tenant", "acme").check(&claims).is_ok());
        assert!(
            ClaimPolicy::one_of("tenant", ["x", "acme"])
                .check(&claims)
                .is_ok()
        );
        assert!(ClaimPolicy::equals("tier", 3).check(&claims).is_ok());
        for policy in [
            ClaimPolicy::equals("tenant", "other"),
            ClaimPolicy::equals("tier", "3"),
            ClaimPolicy::equals("missing", "acme"),
            ClaimPolicy::one_of("tenant", Vec::<String>::new()),
        ] {
            assert!(
                matches!(
                    policy.check(&claims),
                    Err(VerifyError::ClaimMismatch { .. })
                ),
                "{policy:?}"
            );
        }
    }
}
