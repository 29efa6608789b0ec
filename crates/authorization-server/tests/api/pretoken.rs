//! The pre token generation trigger (`V3_0`) run over HTTP on loopback: each override rule,
//! protected claims, scopes, client metadata, failures, both token paths, and the event's
//! shape checked with the AWS Lambda event types.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsHeader, CognitoEventUserPoolsPreTokenGenRequestV2,
    CognitoEventUserPoolsPreTokenGenResponseV2,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::helpers::{Options, READ, Stack, TestApp, UPDATE, create_stack};

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/pretoken_hook.rs"]
mod example;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:pretoken";

/// What a test hook does with each event.
#[derive(Clone)]
enum Behaviour {
    /// Answers the event with this `response`.
    Respond(Value),
    /// Answers this body as it is.
    Raw(&'static str),
    /// A Lambda function error (`X-Amz-Function-Error`).
    FunctionError(&'static str),
    /// An HTTP status with no body.
    Status(StatusCode),
    /// Never answers.
    Hang,
}

/// A hook on 127.0.0.1:0 that records every event it receives.
struct Hook {
    url: String,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    async fn spawn(behaviour: Behaviour) -> Self {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        let handler = move |axum::Json(mut event): axum::Json<Value>| {
            let behaviour = behaviour.clone();
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().unwrap().push(event.clone());
                match behaviour {
                    Behaviour::Respond(response) => {
                        event["response"] = response;
                        axum::Json(event).into_response()
                    }
                    Behaviour::Raw(body) => body.into_response(),
                    Behaviour::FunctionError(message) => {
                        let mut headers = HeaderMap::new();
                        headers.insert(
                            "x-amz-function-error",
                            HeaderValue::from_static("Unhandled"),
                        );
                        let body = json!({"errorMessage": message, "errorType": "Error"});
                        (headers, axum::Json(body)).into_response()
                    }
                    Behaviour::Status(status) => status.into_response(),
                    Behaviour::Hang => std::future::pending::<Response>().await,
                }
            }
        };
        Self::serve(
            axum::Router::new().route("/invoke", axum::routing::post(handler)),
            events,
            "/invoke",
        )
        .await
    }

    async fn serve(router: axum::Router, events: Arc<Mutex<Vec<Value>>>, path: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { url, events }
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }
}

/// A server whose `ARN` runs at `hook`, and the reference stack with a `V3_0` trigger.
async fn app_with_hook(hook: &Hook, timeout: Option<Duration>) -> (TestApp, Stack) {
    let app = TestApp::spawn_with(Options {
        lambdas: vec![(ARN.to_owned(), hook.url.clone())],
        lambda_timeout: timeout,
        ..Options::default()
    })
    .await;
    let stack = create_stack(&app, &[READ, UPDATE]).await;
    set_trigger(&app, &stack.pool_id, Some("V3_0")).await;
    (app, stack)
}

/// Sets (or with `None` removes) the pool's pre token generation trigger.
async fn set_trigger(app: &TestApp, pool_id: &str, version: Option<&str>) {
    let lambda_config = match version {
        Some(version) => {
            json!({"PreTokenGenerationConfig": {"LambdaVersion": version, "LambdaArn": ARN}})
        }
        None => json!({}),
    };
    app.admin(
        "UpdateUserPool",
        json!({"UserPoolId": pool_id, "LambdaConfig": lambda_config}),
    )
    .await;
}

/// A token from the token endpoint: `(status, body)`.
async fn token(app: &TestApp, stack: &Stack, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    let response = app
        .token_request(&form, Some((&stack.client_id, &stack.client_secret)))
        .await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The payload of a token, after checking its signature against the pool's JWKS.
async fn verified_payload(app: &TestApp, pool_id: &str, token: &str) -> Value {
    let jwks = app.jwks(pool_id).await;
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(&jwk.n, &jwk.e).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}

fn access_token_generation(generation: Value) -> Value {
    let mut response = json!({"claimsAndScopeOverrideDetails": {}});
    response["claimsAndScopeOverrideDetails"]["accessTokenGeneration"] = generation;
    response
}

#[tokio::test]
async fn the_hook_customises_the_token_endpoints_token() {
    let hook = Hook::spawn(Behaviour::Respond(access_token_generation(json!({
        "claimsToAddOrOverride": {
            "tenant": "acme",
            "tier": 3,
            "beta": true,
            "regions": ["eu-west-1", "us-east-1"],
            "limits": {"rps": 10},
            "dropped": "x",
            // Protected: kept as Cognito set them.
            "sub": "someone-else",
            "client_id": "another-client",
            "iss": "https://evil.example",
            "token_use": "id",
            "exp": 1,
            "scope": "everything",
            "cognito:groups": ["admins"],
        },
        "claimsToSuppress": ["dropped", "jti", "version"],
        "scopesToAdd": ["reports/export"],
        "scopesToSuppress": [UPDATE],
    }))))
    .await;
    let (app, stack) = app_with_hook(&hook, None).await;

    let metadata = r#"{"environment":"dev","tenant":"acme"}"#;
    let (status, body) = token(&app, &stack, &[("aws_client_metadata", metadata)]).await;
    assert_eq!(status, 200, "{body}");
    let claims =
        verified_payload(&app, &stack.pool_id, body["access_token"].as_str().unwrap()).await;

    // Added, of every allowed type; suppressed; protected claims unchanged.
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["tier"], 3);
    assert_eq!(claims["beta"], true);
    assert_eq!(claims["regions"], json!(["eu-west-1", "us-east-1"]));
    assert_eq!(claims["limits"], json!({"rps": 10}));
    assert!(claims.get("dropped").is_none());
    assert!(claims.get("cognito:groups").is_none());
    assert_eq!(claims["sub"], stack.client_id.as_str());
    assert_eq!(claims["client_id"], stack.client_id.as_str());
    assert_eq!(
        claims["iss"],
        format!("{}/{}", app.public_url, stack.pool_id).as_str()
    );
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["version"], 2);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() == 36));
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    // The scopes the function added and suppressed are reflected in `scope`.
    assert_eq!(claims["scope"], format!("{READ} reports/export").as_str());

    // The event Cognito sends, with the metadata passed through.
    let events = hook.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["version"], "3");
    assert_eq!(event["triggerSource"], "TokenGeneration_ClientCredentials");
    assert_eq!(event["userPoolId"], stack.pool_id.as_str());
    assert_eq!(event["region"], "us-east-1");
    assert_eq!(event["callerContext"]["clientId"], stack.client_id.as_str());
    assert_eq!(event["request"]["scopes"], json!([READ, UPDATE]));
    assert_eq!(
        event["request"]["clientMetadata"],
        json!({"environment": "dev", "tenant": "acme"})
    );
    assert_eq!(
        event["response"],
        json!({"claimsAndScopeOverrideDetails": null})
    );
}

#[tokio::test]
async fn the_event_parses_with_the_aws_lambda_event_types() {
    let hook = Hook::spawn(Behaviour::Respond(
        json!({"claimsAndScopeOverrideDetails": null}),
    ))
    .await;
    let (app, stack) = app_with_hook(&hook, None).await;
    let (status, _) = token(&app, &stack, &[("aws_client_metadata", r#"{"k":"v"}"#)]).await;
    assert_eq!(status, 200);
    let event = hook.events().remove(0);
    // aws_lambda_events 1.2 has no `TokenGeneration_ClientCredentials` in its trigger-source
    // enum, so the common header is read with the source as a string; the request and the
    // response are its V2 types (V3 adds no member).
    let header: CognitoEventUserPoolsHeader<String> =
        serde_json::from_value(event.clone()).unwrap();
    assert_eq!(
        header.trigger_source.as_deref(),
        Some("TokenGeneration_ClientCredentials")
    );
    assert_eq!(
        header.caller_context.client_id.as_deref(),
        Some(stack.client_id.as_str())
    );
    assert_eq!(header.user_pool_id.as_deref(), Some(stack.pool_id.as_str()));
    let request: CognitoEventUserPoolsPreTokenGenRequestV2 =
        serde_json::from_value(event["request"].clone()).unwrap();
    assert_eq!(request.scopes, [READ, UPDATE]);
    assert_eq!(
        request.client_metadata.get("k").map(String::as_str),
        Some("v")
    );
    assert!(request.user_attributes.is_empty());
    let response: CognitoEventUserPoolsPreTokenGenResponseV2 =
        serde_json::from_value(event["response"].clone()).unwrap();
    assert!(response.claims_and_scope_override_details.is_none());
}

#[tokio::test]
async fn the_example_hook_adds_tenant_and_environment() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let hook = Hook::serve(
        example::router(),
        events,
        "/2015-03-31/functions/function/invocations",
    )
    .await;
    let (app, stack) = app_with_hook(&hook, None).await;
    let (status, body) = token(
        &app,
        &stack,
        &[("aws_client_metadata", r#"{"environment":"staging"}"#)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims =
        verified_payload(&app, &stack.pool_id, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["environment"], "staging");

    // Its answer is a V2/V3 response as the AWS Lambda event types define it.
    let event = serde_json::to_vec(&json!({
        "version": "3",
        "triggerSource": "TokenGeneration_ClientCredentials",
        "callerContext": {"clientId": "c"},
        "request": {"scopes": [READ]},
        "response": {"claimsAndScopeOverrideDetails": null},
    }))
    .unwrap();
    let answer: Value = reqwest::Client::new()
        .post(&hook.url)
        .header("content-type", "application/json")
        .body(event)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response: CognitoEventUserPoolsPreTokenGenResponseV2 =
        serde_json::from_value(answer["response"].clone()).unwrap();
    let generation = response
        .claims_and_scope_override_details
        .unwrap()
        .access_token_generation
        .unwrap();
    assert_eq!(generation.claims_to_add_or_override["tenant"], "acme");
    assert_eq!(generation.claims_to_add_or_override["environment"], "local");
}

#[tokio::test]
async fn get_client_token_runs_the_hook_with_client_metadata() {
    let hook = Hook::spawn(Behaviour::Respond(access_token_generation(json!({
        "claimsToAddOrOverride": {"tenant": "acme"},
        "scopesToSuppress": [UPDATE],
    }))))
    .await;
    let (app, stack) = app_with_hook(&hook, None).await;
    let client = app
        .admin(
            "CreateUserPoolClient",
            json!({
                "UserPoolId": stack.pool_id,
                "ClientName": "sdk-m2m",
                "GenerateSecret": true,
                "ExplicitAuthFlows": ["ALLOW_CLIENT_TOKEN_AUTH"],
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["client_credentials"],
                "AllowedOAuthScopes": [READ, UPDATE],
            }),
        )
        .await;
    let id = client["UserPoolClient"]["ClientId"].as_str().unwrap();
    let secret = client["UserPoolClient"]["ClientSecret"].as_str().unwrap();
    let result = app
        .sdk()
        .get_client_token()
        .client_id(id)
        .secret(secret)
        .client_metadata("environment", "ci")
        .send()
        .await
        .unwrap();
    let token = result
        .client_authentication_result()
        .unwrap()
        .access_token()
        .unwrap()
        .to_owned();
    let claims = verified_payload(&app, &stack.pool_id, &token).await;
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["scope"], READ);
    assert_eq!(claims["client_id"], id);
    let event = hook.events().remove(0);
    assert_eq!(
        event["request"]["clientMetadata"],
        json!({"environment": "ci"})
    );
    assert_eq!(event["callerContext"]["clientId"], id);
}

/// Asserts the token endpoint refuses with `invalid_request` naming `message`, and
/// `GetClientToken` with `exception`; nothing is issued either way.
async fn assert_refused(app: &TestApp, stack: &Stack, exception: &str, message: &str) {
    let (status, body) = token(app, stack, &[]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(body.get("access_token").is_none());
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(message), "{description}");

    let client = app
        .admin(
            "CreateUserPoolClient",
            json!({
                "UserPoolId": stack.pool_id,
                "ClientName": "sdk-m2m",
                "GenerateSecret": true,
                "ExplicitAuthFlows": ["ALLOW_CLIENT_TOKEN_AUTH"],
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["client_credentials"],
                "AllowedOAuthScopes": [READ],
            }),
        )
        .await;
    let err = app
        .sdk()
        .get_client_token()
        .client_id(client["UserPoolClient"]["ClientId"].as_str().unwrap())
        .secret(client["UserPoolClient"]["ClientSecret"].as_str().unwrap())
        .send()
        .await
        .unwrap_err();
    use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata as _;
    let err = err.into_service_error();
    assert_eq!(err.code(), Some(exception), "{err:?}");
    assert!(
        err.message().unwrap_or_default().contains(message),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_function_error_refuses_the_token() {
    let hook = Hook::spawn(Behaviour::FunctionError("tenant unknown")).await;
    let (app, stack) = app_with_hook(&hook, None).await;
    assert_refused(
        &app,
        &stack,
        "UserLambdaValidationException",
        "PreTokenGeneration failed with error tenant unknown.",
    )
    .await;
}

#[tokio::test]
async fn invalid_answers_refuse_the_token() {
    for behaviour in [
        Behaviour::Raw("not json"),
        Behaviour::Respond(access_token_generation(
            json!({"claimsToAddOrOverride": {"a": null}}),
        )),
        Behaviour::Respond(access_token_generation(json!({"scopesToAdd": "one"}))),
    ] {
        let hook = Hook::spawn(behaviour).await;
        let (app, stack) = app_with_hook(&hook, None).await;
        assert_refused(
            &app,
            &stack,
            "InvalidLambdaResponseException",
            "Unrecognizable lambda output",
        )
        .await;
    }
}

#[tokio::test]
async fn an_error_status_or_an_unmapped_arn_refuses_the_token() {
    let hook = Hook::spawn(Behaviour::Status(StatusCode::INTERNAL_SERVER_ERROR)).await;
    let (app, stack) = app_with_hook(&hook, None).await;
    assert_refused(&app, &stack, "UnexpectedLambdaException", "HTTP 500").await;

    let app = TestApp::spawn().await;
    let stack = create_stack(&app, &[READ]).await;
    set_trigger(&app, &stack.pool_id, Some("V3_0")).await;
    assert_refused(
        &app,
        &stack,
        "UnexpectedLambdaException",
        &format!("no local URL for {ARN}"),
    )
    .await;
}

#[tokio::test]
async fn a_hook_that_never_answers_is_tried_three_times_then_refused() {
    let hook = Hook::spawn(Behaviour::Hang).await;
    let (app, stack) = app_with_hook(&hook, Some(Duration::from_millis(100))).await;
    let (status, body) = token(&app, &stack, &[]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("PreTokenGeneration invocation failed due to error Socket timeout"),
        "{body}"
    );
    assert_eq!(hook.events().len(), 3, "three attempts, as Cognito");
}

#[tokio::test]
async fn only_v3_runs_for_client_credentials_and_changes_apply_at_once() {
    let hook = Hook::spawn(Behaviour::Respond(access_token_generation(json!({
        "claimsToAddOrOverride": {"tenant": "acme"},
    }))))
    .await;
    let (app, stack) = app_with_hook(&hook, None).await;
    let (_, body) = token(&app, &stack, &[]).await;
    let claims =
        verified_payload(&app, &stack.pool_id, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["tenant"], "acme");

    // V1_0 and V2_0 events are for user tokens: not invoked for client credentials. Each
    // UpdateUserPool takes effect on the next token (the grant cache is dropped).
    for version in [Some("V1_0"), Some("V2_0"), None] {
        set_trigger(&app, &stack.pool_id, version).await;
        let (status, body) = token(&app, &stack, &[]).await;
        assert_eq!(status, 200);
        let claims =
            verified_payload(&app, &stack.pool_id, body["access_token"].as_str().unwrap()).await;
        assert!(claims.get("tenant").is_none(), "{version:?}: {claims}");
    }
    assert_eq!(hook.events().len(), 1);
    set_trigger(&app, &stack.pool_id, Some("V3_0")).await;
    let (_, body) = token(&app, &stack, &[]).await;
    let claims =
        verified_payload(&app, &stack.pool_id, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["tenant"], "acme");
}

#[tokio::test]
async fn bad_client_metadata_is_refused() {
    let hook = Hook::spawn(Behaviour::Respond(json!({}))).await;
    let (app, stack) = app_with_hook(&hook, None).await;
    for metadata in ["not json", r#"{"n": 1}"#, "[]"] {
        let (status, body) = token(&app, &stack, &[("aws_client_metadata", metadata)]).await;
        assert_eq!(status, 400, "{metadata}: {body}");
        assert_eq!(body["error"], "invalid_request");
    }
    assert!(hook.events().is_empty());
}

#[tokio::test]
async fn lambda_config_is_validated_stored_and_returned() {
    let app = TestApp::spawn().await;
    let config = json!({
        "PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": ARN},
        "PreSignUp": ARN,
        "CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": ARN},
    });
    let (kind, _) = app
        .admin_error(
            "CreateUserPool",
            json!({"PoolName": "lite", "UserPoolTier": "LITE", "LambdaConfig": config}),
        )
        .await;
    assert_eq!(kind, "FeatureUnavailableInTierException");
    let (kind, message) = app
        .admin_error(
            "CreateUserPool",
            json!({"PoolName": "bad", "LambdaConfig": {"PreTokenGenerationConfig": {"LambdaVersion": "V9_0", "LambdaArn": "arn:nope"}}}),
        )
        .await;
    assert_eq!(kind, "InvalidParameterException");
    assert!(
        message.contains("2 validation errors detected"),
        "{message}"
    );

    let created = app
        .admin(
            "CreateUserPool",
            json!({"PoolName": "hooked", "LambdaConfig": config}),
        )
        .await;
    let pool_id = created["UserPool"]["Id"].as_str().unwrap();
    let mut expected = config.clone();
    expected["PreTokenGeneration"] = json!(ARN);
    assert_eq!(created["UserPool"]["LambdaConfig"], expected);
    let described = app
        .admin("DescribeUserPool", json!({"UserPoolId": pool_id}))
        .await;
    assert_eq!(described["UserPool"]["LambdaConfig"], expected);
    let listed = app.admin("ListUserPools", json!({"MaxResults": 10})).await;
    assert_eq!(listed["UserPools"][0]["LambdaConfig"], expected);

    // Moving the pool to LITE while it customises access tokens is refused too.
    let (kind, _) = app
        .admin_error(
            "UpdateUserPool",
            json!({"UserPoolId": pool_id, "UserPoolTier": "LITE", "LambdaConfig": config}),
        )
        .await;
    assert_eq!(kind, "FeatureUnavailableInTierException");
    // UpdateUserPool without LambdaConfig removes the triggers (replace semantics).
    app.admin("UpdateUserPool", json!({"UserPoolId": pool_id}))
        .await;
    let described = app
        .admin("DescribeUserPool", json!({"UserPoolId": pool_id}))
        .await;
    assert_eq!(described["UserPool"]["LambdaConfig"], json!({}));
}
