//! The pre token generation trigger (`V3_0`) for client-credentials tokens, run locally.
//!
//! Cognito invokes a pool's `PreTokenGenerationConfig` function, when its `LambdaVersion` is
//! `V3_0`, before it signs a machine-to-machine access token (`POST /oauth2/token` and
//! `GetClientToken`). This server does the same over HTTP: [`crate::Config::lambda_endpoints`]
//! maps each function ARN to a URL, and the server POSTs Cognito's event there and reads
//! the function's answer. Any HTTP handler serves, including the AWS Lambda Runtime
//! Interface Emulator (`…/2015-03-31/functions/function/invocations`), so a real Lambda
//! image answers unchanged.
//!
//! What the answer may change (`response.claimsAndScopeOverrideDetails.accessTokenGeneration`,
//! rules in `docs/cognito-notes.md`, "Pre token generation"):
//! - `claimsToAddOrOverride` adds claims; values are strings, numbers, booleans, arrays of
//!   those, or JSON objects — anything else (`null`, nested arrays) is an invalid answer;
//! - `claimsToSuppress` removes claims; a claim both added and suppressed is suppressed;
//! - the claims Cognito protects ([`PROTECTED_CLAIMS`], and every `cognito:` claim) are
//!   never changed: an answer that names them is applied without them;
//! - `scopesToAdd` and `scopesToSuppress` change the `scope` claim (suppression wins);
//! - `idTokenGeneration` and `groupOverrideDetails` have nothing to apply to in a
//!   client-credentials token and are ignored.
//!
//! Failures refuse the token, as in Cognito (nothing is issued): a function error
//! (`X-Amz-Function-Error`) → `UserLambdaValidationException`; no answer within
//! [`crate::Config::lambda_timeout`] (Cognito's fixed 5 s, three attempts), a connection
//! failure, a non-2xx status or an ARN without a configured URL →
//! `UnexpectedLambdaException`; an answer that is not the event's JSON shape →
//! `InvalidLambdaResponseException`.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use oauth_proto::{AccessTokenClaims, Scope, Scopes};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::AppState;
use crate::grants::Grant;

/// `clientMetadata` of the event: `aws_client_metadata` at the token endpoint,
/// `ClientMetadata` of `GetClientToken`.
pub(crate) type ClientMetadata = BTreeMap<String, String>;

/// How many times an invocation that timed out or could not connect is tried (Cognito:
/// "After three unsuccessful attempts, the function times out").
pub(crate) const ATTEMPTS: u32 = 3;

/// Cognito's limit on one invocation; it cannot be changed in Cognito.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read, in bytes (Lambda's synchronous response payload limit).
const MAX_ANSWER_BYTES: usize = 6 * 1024 * 1024;

/// Claims a function cannot add, change or suppress in an access token: the ten claims
/// Cognito sets for client credentials (`scope` only through `scopesToAdd` and
/// `scopesToSuppress`) and the other reserved ones of the Cognito developer guide.
/// Every claim starting with `cognito:` is protected too.
pub(crate) const PROTECTED_CLAIMS: &[&str] = &[
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
    "username",
    "event_id",
    "origin_jti",
    "acr",
    "amr",
    "aud",
    "azp",
    "at_hash",
    "c_hash",
    "nbf",
    "nonce",
    "identities",
];

/// Whether the function may not touch `claim`.
pub(crate) fn is_protected(claim: &str) -> bool {
    PROTECTED_CLAIMS.contains(&claim) || claim.starts_with("cognito:")
}

/// A failed invocation; the token request is refused with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HookError {
    /// The function itself failed (`X-Amz-Function-Error`).
    #[error("PreTokenGeneration failed with error {0}.")]
    Function(String),
    /// The function could not be invoked or did not answer in time.
    #[error("PreTokenGeneration invocation failed due to error {0}.")]
    Invocation(String),
    /// The answer is not a pre token generation event.
    #[error("Unrecognizable lambda output: {0}")]
    InvalidResponse(String),
}

impl HookError {
    /// The admin API exception Cognito names it with.
    pub(crate) fn exception(&self) -> &'static str {
        match self {
            Self::Function(_) => "UserLambdaValidationException",
            Self::Invocation(_) => "UnexpectedLambdaException",
            Self::InvalidResponse(_) => "InvalidLambdaResponseException",
        }
    }
}

/// The claims of a customised token: Cognito's ten (with the scopes the function left) and
/// the claims it added.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CustomisedClaims {
    pub(crate) standard: AccessTokenClaims,
    pub(crate) added: Map<String, Value>,
}

impl Serialize for CustomisedClaims {
    /// The standard claims, then the added ones, in one JSON object.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Most tokens add nothing: they skip serde's `flatten`, which encodes through a
        // map and buffers each field first (a third of the claims' encoding cost, on the
        // path of every token). The JSON is the same.
        if self.added.is_empty() {
            return self.standard.serialize(serializer);
        }
        #[derive(Serialize)]
        struct Flat<'a> {
            #[serde(flatten)]
            standard: &'a AccessTokenClaims,
            #[serde(flatten)]
            added: &'a Map<String, Value>,
        }
        Flat {
            standard: &self.standard,
            added: &self.added,
        }
        .serialize(serializer)
    }
}

/// Invokes functions over HTTP: the configured endpoints and one HTTP client, made on
/// first use (a server without triggers never builds one).
#[derive(Debug)]
pub(crate) struct Invoker {
    endpoints: BTreeMap<String, String>,
    timeout: Duration,
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl Invoker {
    pub(crate) fn new(endpoints: BTreeMap<String, String>, timeout: Duration) -> Self {
        Self {
            endpoints,
            timeout,
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<&reqwest::Client, HookError> {
        self.client
            .get_or_init(|| {
                // No proxy from the environment (only `s2s` reads it) and no redirects: the
                // event goes to the configured URL or nowhere.
                reqwest::Client::builder()
                    .no_proxy()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| HookError::Invocation(format!("no HTTP client: {e}")))
    }

    /// POSTs `event` to the function's URL and returns the answer's JSON, trying again
    /// (up to [`ATTEMPTS`]) when it times out or cannot connect.
    async fn invoke(&self, arn: &str, event: &Value) -> Result<Value, HookError> {
        let url = self.endpoints.get(arn).ok_or_else(|| {
            HookError::Invocation(format!(
                "ResourceNotFoundException (no local URL for {arn}: start the server with \
                 --lambda {arn}=URL)"
            ))
        })?;
        let client = self.client()?;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let sent = client
                .post(url)
                .timeout(self.timeout)
                .json(event)
                .send()
                .await;
            match sent {
                Ok(response) => return read_answer(response, self.timeout).await,
                Err(e) if e.is_timeout() || e.is_connect() => {
                    tracing::warn!(%url, attempt, error = %e, "pre token generation function did not answer");
                    last = if e.is_timeout() {
                        "Socket timeout while invoking Lambda function".to_owned()
                    } else {
                        format!("connection to the function failed ({url})")
                    };
                }
                Err(e) => return Err(HookError::Invocation(e.to_string())),
            }
        }
        Err(HookError::Invocation(last))
    }
}

/// Reads the function's answer: a function error, a status, or the event JSON.
async fn read_answer(response: reqwest::Response, timeout: Duration) -> Result<Value, HookError> {
    let status = response.status();
    let function_error = response.headers().contains_key("x-amz-function-error");
    let body = tokio::time::timeout(timeout, read_limited(response))
        .await
        .map_err(|_| {
            HookError::Invocation("Socket timeout while invoking Lambda function".to_owned())
        })??;
    if function_error {
        // Lambda's error payload: {"errorMessage": ..., "errorType": ...}.
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "Unhandled".to_owned());
        return Err(HookError::Function(message));
    }
    if !status.is_success() {
        return Err(HookError::Invocation(format!(
            "the function's endpoint answered HTTP {}",
            status.as_u16()
        )));
    }
    serde_json::from_slice(&body).map_err(|e| HookError::InvalidResponse(format!("not JSON: {e}")))
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, HookError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HookError::Invocation(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(HookError::InvalidResponse(format!(
                "the answer is larger than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The V3 event Cognito sends for a client-credentials token (developer guide, "Pre token
/// generation Lambda trigger", client credentials example).
pub(crate) fn event(
    region: &str,
    pool_id: &str,
    client_id: &str,
    scopes: &Scopes,
    metadata: &ClientMetadata,
) -> Value {
    serde_json::json!({
        "version": "3",
        "triggerSource": "TokenGeneration_ClientCredentials",
        "region": region,
        "userPoolId": pool_id,
        "userName": "ClientCredentials",
        "callerContext": {
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": client_id,
        },
        "request": {
            "userAttributes": {},
            "groupConfiguration": null,
            "scopes": scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
            "clientMetadata": metadata,
        },
        "response": {
            "claimsAndScopeOverrideDetails": null,
        },
    })
}

/// What the answer asks of the access token.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessTokenGeneration {
    #[serde(default)]
    claims_to_add_or_override: Option<Map<String, Value>>,
    #[serde(default)]
    claims_to_suppress: Option<Vec<String>>,
    #[serde(default)]
    scopes_to_add: Option<Vec<String>>,
    #[serde(default)]
    scopes_to_suppress: Option<Vec<String>>,
}

/// The answer's `response.claimsAndScopeOverrideDetails.accessTokenGeneration`, if any.
fn access_token_generation(answer: &Value) -> Result<AccessTokenGeneration, HookError> {
    let Value::Object(answer) = answer else {
        return Err(HookError::InvalidResponse(
            "the answer is not a JSON object".to_owned(),
        ));
    };
    let details = match answer.get("response") {
        None | Some(Value::Null) => return Ok(AccessTokenGeneration::default()),
        Some(Value::Object(response)) => response.get("claimsAndScopeOverrideDetails"),
        Some(_) => {
            return Err(HookError::InvalidResponse(
                "response is not an object".to_owned(),
            ));
        }
    };
    let generation = match details {
        None | Some(Value::Null) => return Ok(AccessTokenGeneration::default()),
        Some(Value::Object(details)) => details.get("accessTokenGeneration"),
        Some(_) => {
            return Err(HookError::InvalidResponse(
                "claimsAndScopeOverrideDetails is not an object".to_owned(),
            ));
        }
    };
    match generation {
        None | Some(Value::Null) => Ok(AccessTokenGeneration::default()),
        Some(value) => serde_path_to_error::deserialize(value.clone()).map_err(|e| {
            HookError::InvalidResponse(format!("accessTokenGeneration.{}: {}", e.path(), e.inner()))
        }),
    }
}

/// A claim value Cognito accepts: a string, number or boolean, an array of those, or a
/// JSON object.
fn allowed_value(value: &Value) -> bool {
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    match value {
        Value::Array(items) => items.iter().all(scalar),
        Value::Object(_) => true,
        other => scalar(other),
    }
}

/// Applies an answer to the claims: the rules of the module docs.
pub(crate) fn apply(
    mut standard: AccessTokenClaims,
    answer: &Value,
) -> Result<CustomisedClaims, HookError> {
    let generation = access_token_generation(answer)?;
    let suppressed = generation.claims_to_suppress.unwrap_or_default();
    let mut added = Map::new();
    for (claim, value) in generation.claims_to_add_or_override.unwrap_or_default() {
        if !allowed_value(&value) {
            return Err(HookError::InvalidResponse(format!(
                "the value of claim {claim:?} is not a string, number, boolean, array of \
                 those, or JSON object"
            )));
        }
        if is_protected(&claim) {
            tracing::debug!(%claim, "pre token generation: a protected claim is kept as it was");
            continue;
        }
        if !suppressed.contains(&claim) {
            added.insert(claim, value);
        }
    }
    let parse = |list: Option<Vec<String>>, member: &str| {
        list.unwrap_or_default()
            .into_iter()
            .map(|s| {
                Scope::parse(&s).map_err(|e| HookError::InvalidResponse(format!("{member}: {e}")))
            })
            .collect::<Result<Vec<Scope>, HookError>>()
    };
    let to_add = parse(generation.scopes_to_add, "scopesToAdd")?;
    let to_suppress = parse(generation.scopes_to_suppress, "scopesToSuppress")?;
    if !to_add.is_empty() || !to_suppress.is_empty() {
        standard.scope = standard
            .scope
            .iter()
            .cloned()
            .chain(to_add)
            .filter(|s| !to_suppress.contains(s))
            .collect();
    }
    Ok(CustomisedClaims { standard, added })
}

/// The hook step of the token issuance: runs the pool's `V3_0` trigger, if it has one, on
/// the claims about to be signed. Without a trigger the claims are returned unchanged.
pub(crate) async fn customise(
    state: &AppState,
    grant: &Grant,
    claims: AccessTokenClaims,
    metadata: &ClientMetadata,
) -> Result<CustomisedClaims, HookError> {
    let unchanged = |standard| CustomisedClaims {
        standard,
        added: Map::new(),
    };
    let Some(trigger) = grant
        .context
        .pre_token_generation
        .as_ref()
        .filter(|t| t.runs_for_client_credentials())
    else {
        return Ok(unchanged(claims));
    };
    let client = &grant.context.client;
    let region = client.pool_id.split('_').next().unwrap_or_default();
    let event = event(
        region,
        &client.pool_id,
        &client.client_id,
        &claims.scope,
        metadata,
    );
    let started = Instant::now();
    let outcome = state
        .hooks()
        .invoke(&trigger.lambda_arn, &event)
        .await
        .and_then(|answer| apply(claims, &answer));
    let label = match &outcome {
        Ok(_) => "ok",
        Err(e) => e.exception(),
    };
    metrics::histogram!("authorization_server_pretoken_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("authorization_server_pretoken_invocations_total", "outcome" => label)
        .increment(1);
    if let Err(e) = &outcome {
        tracing::info!(arn = %trigger.lambda_arn, error = %e, "pre token generation refused the token");
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth_proto::{ClientId, TokenUse};
    use serde_json::json;

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            sub: "client1".to_owned(),
            token_use: TokenUse::Access,
            scope: "rs/read rs/write".parse().unwrap(),
            auth_time: 10,
            iss: "http://127.0.0.1/us-east-1_AAAAAAAAA".to_owned(),
            exp: 3610,
            iat: 10,
            version: 2,
            jti: "id".to_owned(),
            client_id: ClientId::parse("client1").unwrap(),
        }
    }

    fn answer(generation: Value) -> Value {
        let mut answer = json!({"response": {"claimsAndScopeOverrideDetails": {}}});
        answer["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"] = generation;
        answer
    }

    #[test]
    fn customised_claims_encode_as_one_object_in_claim_order() {
        let standard = serde_json::to_string(&claims()).unwrap();
        let unchanged = CustomisedClaims {
            standard: claims(),
            added: Map::new(),
        };
        assert_eq!(serde_json::to_string(&unchanged).unwrap(), standard);
        let mut added = Map::new();
        added.insert("tenant".to_owned(), json!("acme"));
        added.insert("n".to_owned(), json!(3));
        let customised = CustomisedClaims {
            standard: claims(),
            added,
        };
        let expected = format!(
            "{},\"n\":3,\"tenant\":\"acme\"}}",
            standard.strip_suffix('}').unwrap()
        );
        assert_eq!(serde_json::to_string(&customised).unwrap(), expected);
    }

    #[test]
    fn no_details_means_no_change() {
        for answer in [
            json!({}),
            json!({"response": null}),
            json!({"response": {"claimsAndScopeOverrideDetails": null}}),
            json!({"response": {"claimsAndScopeOverrideDetails": {"idTokenGeneration": {}}}}),
        ] {
            let out = apply(claims(), &answer).unwrap();
            assert_eq!(out.standard, claims());
            assert!(out.added.is_empty());
        }
    }

    #[test]
    fn adds_overrides_and_suppresses_claims_but_never_protected_ones() {
        let out = apply(
            claims(),
            &answer(json!({
                "claimsToAddOrOverride": {
                    "tenant": "acme", "n": 3, "flag": true, "list": ["a", 1, false],
                    "obj": {"k": [1, {"x": null}]}, "gone": "x",
                    "sub": "someone-else", "client_id": "other", "cognito:groups": "admins",
                },
                "claimsToSuppress": ["gone", "iss", "exp"],
            })),
        )
        .unwrap();
        assert_eq!(out.standard, claims(), "protected claims are unchanged");
        assert_eq!(
            Value::Object(out.added),
            json!({"tenant": "acme", "n": 3, "flag": true, "list": ["a", 1, false], "obj": {"k": [1, {"x": null}]}})
        );
    }

    #[test]
    fn refuses_values_cognito_does_not_allow() {
        for bad in [json!(null), json!([[1]]), json!([{"a": 1}]), json!([null])] {
            let err = apply(
                claims(),
                &answer(json!({"claimsToAddOrOverride": {"c": bad}})),
            )
            .unwrap_err();
            assert_eq!(err.exception(), "InvalidLambdaResponseException");
        }
        for bad in [json!("text"), json!([1]), json!({"response": 3})] {
            assert!(apply(claims(), &bad).is_err(), "{bad}");
        }
        let err = apply(claims(), &answer(json!({"scopesToAdd": ["has space"]}))).unwrap_err();
        assert_eq!(err.exception(), "InvalidLambdaResponseException");
    }

    #[test]
    fn scopes_are_added_and_suppressed_suppression_winning() {
        let out = apply(
            claims(),
            &answer(json!({
                "scopesToAdd": ["rs/admin", "rs/read", "rs/both"],
                "scopesToSuppress": ["rs/write", "rs/both"],
            })),
        )
        .unwrap();
        assert_eq!(out.standard.scope.to_string(), "rs/read rs/admin");
    }

    #[test]
    fn the_event_has_cognitos_shape() {
        let metadata = ClientMetadata::from([("environment".to_owned(), "dev".to_owned())]);
        let scopes: Scopes = "rs/read".parse().unwrap();
        let event = event(
            "us-east-1",
            "us-east-1_AAAAAAAAA",
            "client1",
            &scopes,
            &metadata,
        );
        assert_eq!(
            event,
            json!({
                "version": "3",
                "triggerSource": "TokenGeneration_ClientCredentials",
                "region": "us-east-1",
                "userPoolId": "us-east-1_AAAAAAAAA",
                "userName": "ClientCredentials",
                "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client1"},
                "request": {
                    "userAttributes": {},
                    "groupConfiguration": null,
                    "scopes": ["rs/read"],
                    "clientMetadata": {"environment": "dev"},
                },
                "response": {"claimsAndScopeOverrideDetails": null},
            })
        );
    }
}
