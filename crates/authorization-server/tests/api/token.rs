//! The token endpoint, each issued token verified with `jsonwebtoken` against the JWKS.

use std::sync::Arc;
use std::time::Duration;

use oauth_proto::time::{Clock, ManualClock, SystemClock};
use serde_json::{Value, json};

use crate::helpers::{Options, READ, Stack, TestApp, UPDATE, create_stack, verify_token};

async fn error_of(response: reqwest::Response) -> (u16, String, reqwest::header::HeaderMap) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json;charset=UTF-8");
    assert_eq!(headers["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_owned(), headers)
}

async fn token_of(response: reqwest::Response) -> (String, Value) {
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json;charset=UTF-8");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(headers["x-amz-cognito-request-id"].len(), 36);
    let body: Value = response.json().await.unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        3,
        "only access_token, expires_in, token_type: {body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    (body["access_token"].as_str().unwrap().to_owned(), body)
}

async fn stack(app: &TestApp) -> Stack {
    create_stack(app, &[READ, UPDATE]).await
}

#[tokio::test]
async fn basic_auth_without_scope_grants_every_allowed_scope() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, &s.client_secret)),
        )
        .await;
    let (token, _) = token_of(response).await;
    verify_token(
        &app,
        &s.pool_id,
        &token,
        &s.client_id,
        &[READ, UPDATE],
        3600,
    )
    .await;
}

#[tokio::test]
async fn post_auth_with_a_subset_grants_the_subset() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    let response = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &s.client_id),
                ("client_secret", &s.client_secret),
                ("scope", UPDATE),
            ],
            None,
        )
        .await;
    let (token, _) = token_of(response).await;
    verify_token(&app, &s.pool_id, &token, &s.client_id, &[UPDATE], 3600).await;
}

#[tokio::test]
async fn basic_auth_with_client_id_in_the_body_is_accepted() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    let response = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &s.client_id),
                ("scope", READ),
            ],
            Some((&s.client_id, &s.client_secret)),
        )
        .await;
    let (token, _) = token_of(response).await;
    verify_token(&app, &s.pool_id, &token, &s.client_id, &[READ], 3600).await;
}

#[tokio::test]
async fn a_scope_not_allowed_is_invalid_scope() {
    let app = TestApp::spawn().await;
    let s = create_stack(&app, &[READ]).await;
    for scope in [
        UPDATE,
        "user-schedule-service/schedule.read user-schedule-service/schedule.update",
        "other/x",
    ] {
        let response = app
            .token_request(
                &[("grant_type", "client_credentials"), ("scope", scope)],
                Some((&s.client_id, &s.client_secret)),
            )
            .await;
        let (status, error, _) = error_of(response).await;
        assert_eq!((status, error.as_str()), (400, "invalid_scope"), "{scope}");
    }
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_are_invalid_client() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    // Basic: 401 with WWW-Authenticate (RFC 6749 §5.2).
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, "wrong-secret")),
        )
        .await;
    let (status, error, headers) = error_of(response).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some(("7m2k9q4r1t6v8b3n5c0d2f4g6h", &s.client_secret)),
        )
        .await;
    assert_eq!(error_of(response).await.1, "invalid_client");
    // Body credentials: 400, as Cognito documents.
    let response = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &s.client_id),
                ("client_secret", "nope"),
            ],
            None,
        )
        .await;
    let (status, error, headers) = error_of(response).await;
    assert_eq!((status, error.as_str()), (400, "invalid_client"));
    assert!(!headers.contains_key("www-authenticate"));
    let response = app
        .token_request(&[("grant_type", "client_credentials")], None)
        .await;
    assert_eq!(error_of(response).await.1, "invalid_client");
}

#[tokio::test]
async fn other_grant_types_are_unsupported() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    for grant in ["password", "authorization_code", "refresh_token"] {
        let response = app
            .token_request(
                &[("grant_type", grant)],
                Some((&s.client_id, &s.client_secret)),
            )
            .await;
        let (status, error, _) = error_of(response).await;
        assert_eq!(
            (status, error.as_str()),
            (400, "unsupported_grant_type"),
            "{grant}"
        );
    }
    let response = app
        .token_request(&[("scope", READ)], Some((&s.client_id, &s.client_secret)))
        .await;
    assert_eq!(error_of(response).await.1, "invalid_request");
}

#[tokio::test]
async fn a_pool_without_domain_issues_nothing() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    let pool = app
        .admin("DescribeUserPool", json!({"UserPoolId": s.pool_id}))
        .await;
    let domain = pool["UserPool"]["Domain"].as_str().unwrap().to_owned();
    app.admin(
        "DeleteUserPoolDomain",
        json!({"UserPoolId": s.pool_id, "Domain": domain}),
    )
    .await;
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, &s.client_secret)),
        )
        .await;
    let (status, error, _) = error_of(response).await;
    assert_eq!((status, error.as_str()), (400, "unauthorized_client"));
}

#[tokio::test]
async fn a_client_without_client_credentials_is_unauthorized() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    let client = app
        .admin(
            "CreateUserPoolClient",
            json!({
                "UserPoolId": s.pool_id,
                "ClientName": "web",
                "GenerateSecret": true,
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["code"],
                "AllowedOAuthScopes": ["openid"],
                "CallbackURLs": ["https://example.com/cb"],
            }),
        )
        .await;
    let id = client["UserPoolClient"]["ClientId"].as_str().unwrap();
    let secret = client["UserPoolClient"]["ClientSecret"].as_str().unwrap();
    let response = app
        .token_request(&[("grant_type", "client_credentials")], Some((id, secret)))
        .await;
    let (status, error, _) = error_of(response).await;
    assert_eq!((status, error.as_str()), (400, "unauthorized_client"));
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    let url = format!("{}/oauth2/token", app.url);
    // A repeated parameter.
    let response = app
        .http
        .post(&url)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&scope={READ}&scope={UPDATE}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.1, "invalid_request");
    // Not a form.
    let response = app
        .http
        .post(&url)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.1, "invalid_request");
    // Too large.
    let response = app
        .http
        .post(&url)
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&pad={}",
            "a".repeat(100_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.1, "invalid_request");
    // Wrong method.
    let response = app.http.get(&url).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    let (status, error, _) = error_of(response).await;
    assert_eq!((status, error.as_str()), (405, "invalid_request"));
    // Secret both in the header and in the body.
    let response = app
        .token_request(
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", &s.client_secret),
            ],
            Some((&s.client_id, &s.client_secret)),
        )
        .await;
    assert_eq!(error_of(response).await.1, "invalid_request");
}

#[tokio::test]
async fn deleted_scopes_are_left_out_from_the_next_token() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    let request = || {
        app.token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, &s.client_secret)),
        )
    };
    let (token, _) = token_of(request().await).await;
    verify_token(
        &app,
        &s.pool_id,
        &token,
        &s.client_id,
        &[READ, UPDATE],
        3600,
    )
    .await;
    app.admin(
        "UpdateResourceServer",
        json!({
            "UserPoolId": s.pool_id,
            "Identifier": "user-schedule-service",
            "Name": "user-schedule-service",
            "Scopes": [{"ScopeName": "schedule.read", "ScopeDescription": "Read schedules"}],
        }),
    )
    .await;
    let (token, _) = token_of(request().await).await;
    verify_token(&app, &s.pool_id, &token, &s.client_id, &[READ], 3600).await;
}

/// Each server keeps what it knows of a client for at most a second, so a change made
/// through another replica over the same database takes effect within that time.
#[tokio::test]
async fn a_change_through_another_replica_takes_effect_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let clock = ManualClock::new(SystemClock.now());
    let options = || Options {
        database_url: database_url.clone(),
        clock: Arc::new(clock.clone()),
        ..Options::default()
    };
    let first = TestApp::spawn_with(options()).await;
    let second = TestApp::spawn_with(options()).await;
    let s = stack(&first).await;
    let request = || {
        first.token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, &s.client_secret)),
        )
    };
    token_of(request().await).await;

    second
        .admin(
            "DeleteUserPoolClient",
            json!({"UserPoolId": s.pool_id, "ClientId": s.client_id}),
        )
        .await;
    clock.advance(Duration::from_secs(1));
    let (status, error, _) = error_of(request().await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
}

/// `s2s keys rotate` writes the key into the database, not through the server: a running
/// server signs with it once its cached grant is a second old.
#[tokio::test]
async fn a_key_rotated_in_the_database_signs_within_a_second() {
    let clock = ManualClock::new(SystemClock.now());
    let app = TestApp::spawn_with(Options {
        clock: Arc::new(clock.clone()),
        ..Options::default()
    })
    .await;
    let s = stack(&app).await;
    let kid_of_new_token = || async {
        let (token, _) = token_of(
            app.token_request(
                &[("grant_type", "client_credentials")],
                Some((&s.client_id, &s.client_secret)),
            )
            .await,
        )
        .await;
        jsonwebtoken::decode_header(&token).unwrap().kid.unwrap()
    };
    let before = kid_of_new_token().await;

    let rotated = authorization_server::rotate_signing_key(
        app.state.store().as_ref(),
        &s.pool_id,
        1_900_000_000_000,
    )
    .await
    .unwrap()
    .unwrap();
    assert_ne!(rotated, before);
    clock.advance(Duration::from_secs(1));
    assert_eq!(kid_of_new_token().await, rotated);
    assert!(
        authorization_server::rotate_signing_key(
            app.state.store().as_ref(),
            "us-east-1_Missing00",
            0
        )
        .await
        .unwrap()
        .is_none()
    );
}

#[tokio::test]
async fn validity_follows_the_client_and_jwks_and_discovery_are_served() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    app.admin(
        "UpdateUserPoolClient",
        json!({
            "UserPoolId": s.pool_id,
            "ClientId": s.client_id,
            "AllowedOAuthFlowsUserPoolClient": true,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthScopes": [READ],
            "AccessTokenValidity": 5,
            "TokenValidityUnits": {"AccessToken": "minutes"},
        }),
    )
    .await;
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, &s.client_secret)),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 300);
    verify_token(
        &app,
        &s.pool_id,
        body["access_token"].as_str().unwrap(),
        &s.client_id,
        &[READ],
        300,
    )
    .await;

    let jwks: Value = app
        .http
        .get(format!("{}/{}/.well-known/jwks.json", app.url, s.pool_id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // As Cognito: two keys per pool, one for access tokens, one for ID tokens; the token's
    // key is not the first one listed, so only a verifier that matches `kid` accepts it.
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{jwks}");
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);
    let header = jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), keys[1]["kid"].as_str());
    for key in keys {
        let members: Vec<&String> = key.as_object().unwrap().keys().collect();
        assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(key["e"], "AQAB");
        assert_eq!(key["n"].as_str().unwrap().len(), 342);
        assert_eq!(key["kid"].as_str().unwrap().len(), 44);
    }

    let discovery: Value = app
        .http
        .get(format!(
            "{}/{}/.well-known/openid-configuration",
            app.url, s.pool_id
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], format!("{}/{}", app.url, s.pool_id));
    assert_eq!(
        discovery["token_endpoint"],
        format!("{}/oauth2/token", app.url)
    );
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/{}/.well-known/jwks.json", app.url, s.pool_id)
    );
    assert_eq!(
        discovery["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );

    for path in [
        "us-east-1_Missing00/.well-known/jwks.json",
        "us-east-1_Missing00/.well-known/openid-configuration",
    ] {
        let status = app
            .http
            .get(format!("{}/{path}", app.url))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn rotation_signs_with_the_new_key_and_keeps_the_old_one() {
    let app = TestApp::spawn().await;
    let s = stack(&app).await;
    let basic = Some((s.client_id.as_str(), s.client_secret.as_str()));
    let (old_token, _) = token_of(
        app.token_request(&[("grant_type", "client_credentials")], basic)
            .await,
    )
    .await;
    let new_kid = app
        .state
        .rotate_signing_key(&s.pool_id)
        .await
        .unwrap()
        .unwrap();
    let (new_token, _) = token_of(
        app.token_request(&[("grant_type", "client_credentials")], basic)
            .await,
    )
    .await;
    let jwks = app.jwks(&s.pool_id).await;
    assert_eq!(
        jwks.keys.len(),
        3,
        "the new key and the pool's two first keys"
    );
    assert_eq!(jwks.keys[0].kid, new_kid);
    let kid_of = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    assert_eq!(kid_of(&new_token), new_kid);
    // Newest first: the new key, the ID-token key (never used), the first access-token key.
    assert_eq!(kid_of(&old_token), jwks.keys[2].kid);
    verify_token(
        &app,
        &s.pool_id,
        &old_token,
        &s.client_id,
        &[READ, UPDATE],
        3600,
    )
    .await;
    let claims = verify_token(
        &app,
        &s.pool_id,
        &new_token,
        &s.client_id,
        &[READ, UPDATE],
        3600,
    )
    .await;
    assert!(claims.is_object());
    let header = jsonwebtoken::decode_header(&new_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    assert!(
        app.state
            .rotate_signing_key("us-east-1_Missing00")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_test_util_server_provisions_the_reference_stack() {
    let server = authorization_server::test_util::TestServer::spawn(std::sync::Arc::new(
        oauth_proto::time::SystemClock,
    ))
    .await
    .unwrap();
    let stack = server.create_stack().await.unwrap();
    assert_eq!(stack.issuer, format!("{}/{}", server.url(), stack.pool_id));
    let response = reqwest::Client::new()
        .post(&stack.token_url)
        .basic_auth(stack.client_id.as_str(), Some(stack.client_secret.expose()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 3600);
    let error = server
        .admin(
            "DescribeUserPool",
            json!({"UserPoolId": "us-east-1_Missing00"}),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().starts_with("ResourceNotFoundException"));
}

#[tokio::test]
async fn metrics_health_and_request_ids_are_served() {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();
    let app = TestApp::spawn_with(crate::helpers::Options {
        metrics: Some(handle),
        ..crate::helpers::Options::default()
    })
    .await;
    let s = stack(&app).await;
    let basic = Some((s.client_id.as_str(), s.client_secret.as_str()));
    token_of(
        app.token_request(&[("grant_type", "client_credentials")], basic)
            .await,
    )
    .await;
    let refused = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, "wrong")),
        )
        .await;
    assert_eq!(refused.status(), 401);
    let response = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("authorization_server_tokens_issued_total"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"authorization_server_token_requests_refused_total{error="invalid_client"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"authorization_server_admin_requests_total{operation="CreateUserPool",outcome="ok"}"#
        ),
        "{text}"
    );

    let response = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn the_root_names_the_endpoints() {
    let app = TestApp::spawn().await;
    let response = app.http.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for endpoint in [
        "POST /oauth2/token",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "GET  /metrics",
        "admin API",
    ] {
        assert!(text.contains(endpoint), "{endpoint} missing from:\n{text}");
    }
}
