//! The operations newer tools call: UpdateUserPool, MFA config, tags, UpdateUserPoolDomain,
//! GetClientToken, RevokeToken and `POST /oauth2/revoke` — answers, refusals (each leaving
//! the state as it was) and unknown request members.

use serde_json::{Value, json};

use crate::helpers::{Options, READ, TestApp, create_stack, verify_token};

/// What the API shows of a pool: description, MFA config, tags, domain.
async fn pool_state(app: &TestApp, pool_id: &str) -> Value {
    let pool = app
        .admin("DescribeUserPool", json!({"UserPoolId": pool_id}))
        .await;
    let arn = pool["UserPool"]["Arn"].clone();
    let domain = pool["UserPool"]["Domain"].clone();
    json!({
        "pool": pool,
        "mfa": app.admin("GetUserPoolMfaConfig", json!({"UserPoolId": pool_id})).await,
        "tags": app.admin("ListTagsForResource", json!({"ResourceArn": arn})).await,
        "domain": app.admin("DescribeUserPoolDomain", json!({"Domain": domain})).await,
    })
}

#[tokio::test]
async fn describe_user_pool_returns_cognito_defaults() {
    let app = TestApp::spawn().await;
    let pool = app
        .admin("CreateUserPool", json!({"PoolName": "only-a-name"}))
        .await;
    let id = pool["UserPool"]["Id"].as_str().unwrap();
    let described = &app
        .admin("DescribeUserPool", json!({"UserPoolId": id}))
        .await["UserPool"];
    assert_eq!(
        described["Policies"]["PasswordPolicy"],
        json!({"MinimumLength": 8, "RequireUppercase": true, "RequireLowercase": true,
               "RequireNumbers": true, "RequireSymbols": true, "TemporaryPasswordValidityDays": 7})
    );
    assert_eq!(
        described["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        false
    );
    assert_eq!(
        described["AccountRecoverySetting"]["RecoveryMechanisms"][0]["Name"],
        "verified_email"
    );
    assert_eq!(described["MfaConfiguration"], "OFF");
    assert_eq!(described["EstimatedNumberOfUsers"], 0);
    assert_eq!(described["DeletionProtection"], "INACTIVE");
    assert_eq!(described["UserPoolTags"], json!({}));
    assert!(described["CreationDate"].is_number());
    // The create answer carries the same defaults.
    assert_eq!(pool["UserPool"]["Policies"], described["Policies"]);
    // A partial Policies keeps the defaults of the policies left out.
    let pool = app
        .admin(
            "CreateUserPool",
            json!({"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": 10}}}),
        )
        .await;
    assert_eq!(
        pool["UserPool"]["Policies"]["PasswordPolicy"],
        json!({"MinimumLength": 10})
    );
    assert!(pool["UserPool"]["Policies"]["SignInPolicy"].is_object());
}

#[tokio::test]
async fn update_user_pool_resets_omitted_members_and_keeps_tags() {
    let app = TestApp::spawn().await;
    let pool = app
        .admin(
            "CreateUserPool",
            json!({"PoolName": "p", "UserPoolTags": {"a": "1"}, "UserPoolTier": "PLUS",
                   "EmailVerificationSubject": "hello", "UsernameAttributes": ["email"]}),
        )
        .await;
    let id = pool["UserPool"]["Id"].as_str().unwrap();
    app.admin(
        "UpdateUserPool",
        json!({"UserPoolId": id, "SmsVerificationMessage": "code {####}"}),
    )
    .await;
    let described = &app
        .admin("DescribeUserPool", json!({"UserPoolId": id}))
        .await["UserPool"];
    assert!(described.get("EmailVerificationSubject").is_none());
    assert_eq!(described["SmsVerificationMessage"], "code {####}");
    assert_eq!(described["UserPoolTags"], json!({"a": "1"}));
    assert_eq!(described["UserPoolTier"], "PLUS");
    assert_eq!(described["UsernameAttributes"], json!(["email"]));
    assert_eq!(described["Name"], "p");
    // Renaming and replacing the tags.
    app.admin(
        "UpdateUserPool",
        json!({"UserPoolId": id, "PoolName": "renamed", "UserPoolTags": {"b": "2"}}),
    )
    .await;
    let described = &app
        .admin("DescribeUserPool", json!({"UserPoolId": id}))
        .await["UserPool"];
    assert_eq!(described["Name"], "renamed");
    assert_eq!(described["UserPoolTags"], json!({"b": "2"}));
}

#[tokio::test]
async fn refusals_leave_the_pool_as_it_was() {
    let app = TestApp::spawn().await;
    let s = create_stack(&app, &[READ]).await;
    let pool = s.pool_id.as_str();
    let before = pool_state(&app, pool).await;
    let arn = before["pool"]["UserPool"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let domain = before["pool"]["UserPool"]["Domain"]
        .as_str()
        .unwrap()
        .to_owned();
    let too_many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let missing = "us-east-1_000000000";
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "UpdateUserPool",
            json!({}),
            "InvalidParameterException",
            "'userPoolId'",
        ),
        (
            "UpdateUserPool",
            json!({"UserPoolId": missing}),
            "ResourceNotFoundException",
            missing,
        ),
        (
            "UpdateUserPool",
            json!({"UserPoolId": pool, "DeletionProtection": "MAYBE"}),
            "InvalidParameterException",
            "enum value set",
        ),
        (
            "UpdateUserPool",
            json!({"UserPoolId": pool, "UserPoolTags": too_many}),
            "InvalidParameterException",
            "50",
        ),
        (
            "UpdateUserPool",
            json!({"UserPoolId": pool, "LambdaConfig": {"PreSignUp": "arn:aws:lambda:x"}}),
            "InvalidParameterException",
            "lambdaConfig.preSignUp",
        ),
        (
            "SetUserPoolMfaConfig",
            json!({"UserPoolId": pool, "MfaConfiguration": "OFF",
                   "SoftwareTokenMfaConfiguration": {"Enabled": true}}),
            "InvalidParameterException",
            "can't turn off MFA and configure an MFA together",
        ),
        (
            "SetUserPoolMfaConfig",
            json!({"UserPoolId": pool, "MfaConfiguration": "ON"}),
            "InvalidParameterException",
            "at least one MFA type",
        ),
        (
            "GetUserPoolMfaConfig",
            json!({"UserPoolId": missing}),
            "ResourceNotFoundException",
            missing,
        ),
        (
            "TagResource",
            json!({"ResourceArn": arn, "Tags": too_many}),
            "InvalidParameterException",
            "50",
        ),
        (
            "TagResource",
            json!({"ResourceArn": arn, "Tags": {"bad<key>": "v"}}),
            "InvalidParameterException",
            "regular expression",
        ),
        (
            "TagResource",
            json!({"ResourceArn": "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_000000000",
                   "Tags": {"a": "b"}}),
            "ResourceNotFoundException",
            "does not exist",
        ),
        (
            "UntagResource",
            json!({"ResourceArn": "arn:aws:s3:::a-bucket-of-mine", "TagKeys": ["a"]}),
            "InvalidParameterException",
            "ResourceArn",
        ),
        (
            "ListTagsForResource",
            json!({}),
            "InvalidParameterException",
            "'resourceArn'",
        ),
        (
            "UpdateUserPoolDomain",
            json!({"UserPoolId": pool, "Domain": domain, "ManagedLoginVersion": 3}),
            "InvalidParameterException",
            "less than or equal to 2",
        ),
        (
            "UpdateUserPoolDomain",
            json!({"UserPoolId": pool, "Domain": "not-this-pools", "ManagedLoginVersion": 2}),
            "InvalidParameterException",
            "No such domain",
        ),
        (
            "UpdateUserPoolDomain",
            json!({"UserPoolId": pool, "Domain": domain,
                   "CustomDomainConfig": {"CertificateArn": "arn:aws:acm:us-east-1:1:certificate/x"}}),
            "InvalidParameterException",
            "CustomDomainConfig",
        ),
        (
            "DeleteUserPool",
            json!({"UserPoolId": pool}),
            "InvalidParameterException",
            "It has a domain configured that should be deleted first.",
        ),
    ];
    for (operation, body, kind, needle) in cases {
        let (got_kind, message) = app.admin_error(operation, body.clone()).await;
        assert_eq!(got_kind, kind, "{operation} {body}: {message}");
        assert!(
            message.contains(needle),
            "{operation} {body}: {message:?} lacks {needle:?}"
        );
        assert_eq!(
            pool_state(&app, pool).await,
            before,
            "{operation} {body} changed state"
        );
    }
}

#[tokio::test]
async fn mfa_config_is_stored_and_returned() {
    let app = TestApp::spawn().await;
    let pool = app.admin("CreateUserPool", json!({"PoolName": "p"})).await;
    let id = pool["UserPool"]["Id"].as_str().unwrap();
    assert_eq!(
        app.admin("GetUserPoolMfaConfig", json!({"UserPoolId": id}))
            .await,
        json!({"MfaConfiguration": "OFF"})
    );
    let set = app
        .admin(
            "SetUserPoolMfaConfig",
            json!({"UserPoolId": id, "MfaConfiguration": "OPTIONAL",
                   "SoftwareTokenMfaConfiguration": {"Enabled": true},
                   "WebAuthnConfiguration": {"UserVerification": "preferred"}}),
        )
        .await;
    let got = app
        .admin("GetUserPoolMfaConfig", json!({"UserPoolId": id}))
        .await;
    assert_eq!(set, got);
    assert_eq!(got["MfaConfiguration"], "OPTIONAL");
    assert_eq!(got["SoftwareTokenMfaConfiguration"]["Enabled"], true);
    let described = app
        .admin("DescribeUserPool", json!({"UserPoolId": id}))
        .await;
    assert_eq!(described["UserPool"]["MfaConfiguration"], "OPTIONAL");
    assert!(
        described["UserPool"]
            .get("SoftwareTokenMfaConfiguration")
            .is_none()
    );
}

#[tokio::test]
async fn tags_are_the_pools_user_pool_tags() {
    let app = TestApp::spawn().await;
    let pool = app
        .admin(
            "CreateUserPool",
            json!({"PoolName": "p", "UserPoolTags": {"a": "1"}}),
        )
        .await;
    let id = pool["UserPool"]["Id"].as_str().unwrap();
    let arn = pool["UserPool"]["Arn"].as_str().unwrap();
    let modified = pool["UserPool"]["LastModifiedDate"].clone();
    app.admin(
        "TagResource",
        json!({"ResourceArn": arn, "Tags": {"b": "2", "a": "3", "e": ""}}),
    )
    .await;
    app.admin(
        "UntagResource",
        json!({"ResourceArn": arn, "TagKeys": ["b", "absent"]}),
    )
    .await;
    let listed = app
        .admin("ListTagsForResource", json!({"ResourceArn": arn}))
        .await;
    assert_eq!(listed, json!({"Tags": {"a": "3", "e": ""}}));
    let described = app
        .admin("DescribeUserPool", json!({"UserPoolId": id}))
        .await;
    assert_eq!(described["UserPool"]["UserPoolTags"], listed["Tags"]);
    assert_eq!(described["UserPool"]["LastModifiedDate"], modified);
}

#[tokio::test]
async fn unknown_request_members_are_ignored() {
    let app = TestApp::spawn().await;
    let pool = app
        .admin(
            "CreateUserPool",
            json!({"PoolName": "p", "AMemberFromANewerSdk": {"x": 1}}),
        )
        .await;
    let id = pool["UserPool"]["Id"].as_str().unwrap();
    let described = app
        .admin("DescribeUserPool", json!({"UserPoolId": id, "Extra": true}))
        .await;
    assert!(described["UserPool"].get("AMemberFromANewerSdk").is_none());
    // Members the server models are still checked.
    let (kind, _) = app
        .admin_error("CreateUserPool", json!({"PoolName": 5, "Extra": 1}))
        .await;
    assert_eq!(kind, "SerializationException");
}

/// A client for GetClientToken: a secret, only `ALLOW_CLIENT_TOKEN_AUTH`, and its scopes
/// configured as for the client-credentials grant.
pub(crate) async fn token_auth_client(
    app: &TestApp,
    pool_id: &str,
    scopes: &[&str],
) -> (String, String) {
    let client = app
        .admin(
            "CreateUserPoolClient",
            json!({
                "UserPoolId": pool_id,
                "ClientName": "sdk-m2m",
                "GenerateSecret": true,
                "ExplicitAuthFlows": ["ALLOW_CLIENT_TOKEN_AUTH"],
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["client_credentials"],
                "AllowedOAuthScopes": scopes,
                "AccessTokenValidity": 30,
                "TokenValidityUnits": {"AccessToken": "minutes"},
            }),
        )
        .await;
    (
        client["UserPoolClient"]["ClientId"]
            .as_str()
            .unwrap()
            .to_owned(),
        client["UserPoolClient"]["ClientSecret"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

#[tokio::test]
async fn get_client_token_issues_the_token_endpoints_token_unsigned() {
    // Admin credentials are configured, yet GetClientToken needs no signature.
    let app = TestApp::spawn_with(Options {
        credentials: true,
        ..Options::default()
    })
    .await;
    let sdk = app.sdk();
    let pool_id = sdk
        .create_user_pool()
        .pool_name("no-domain")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    sdk.create_resource_server()
        .user_pool_id(&pool_id)
        .identifier("user-schedule-service")
        .name("user-schedule-service")
        .scopes(
            aws_sdk_cognitoidentityprovider::types::ResourceServerScopeType::builder()
                .scope_name("schedule.read")
                .scope_description("read")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (client_id, secret) = {
        let created = sdk
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("sdk-m2m")
            .generate_secret(true)
            .explicit_auth_flows("ALLOW_CLIENT_TOKEN_AUTH".into())
            .allowed_o_auth_flows_user_pool_client(true)
            .allowed_o_auth_flows(
                aws_sdk_cognitoidentityprovider::types::OAuthFlowType::ClientCredentials,
            )
            .allowed_o_auth_scopes(READ)
            .access_token_validity(30)
            .token_validity_units(
                aws_sdk_cognitoidentityprovider::types::TokenValidityUnitsType::builder()
                    .access_token(aws_sdk_cognitoidentityprovider::types::TimeUnitsType::Minutes)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let client = created.user_pool_client.unwrap();
        (client.client_id.unwrap(), client.client_secret.unwrap())
    };
    // Through the SDK (the pool has no domain: no token endpoint, yet a token).
    let result = sdk
        .get_client_token()
        .client_id(&client_id)
        .secret(&secret)
        .send()
        .await
        .unwrap();
    let result = result.client_authentication_result().unwrap();
    assert_eq!(result.token_type(), Some("Bearer"));
    assert_eq!(result.expires_in(), 1800);
    let claims = verify_token(
        &app,
        &pool_id,
        result.access_token().unwrap(),
        &client_id,
        &[READ],
        1800,
    )
    .await;
    assert_eq!(claims["token_use"], "access");
    // Unsigned, raw.
    let (status, _, body) = app
        .admin_raw(
            "GetClientToken",
            "application/x-amz-json-1.1",
            json!({"ClientId": client_id, "Secret": secret, "Scopes": [READ],
                   "ClientMetadata": {"k": "v"}})
            .to_string(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["ClientAuthenticationResult"]["AccessToken"].is_string());
    // Other operations still need the signature.
    let (status, _, body) = app
        .admin_raw(
            "DescribeUserPool",
            "application/x-amz-json-1.1",
            json!({"UserPoolId": pool_id}).to_string(),
        )
        .await;
    assert_eq!(status, 400);
    assert_ne!(body["__type"], "ResourceNotFoundException");
}

#[tokio::test]
async fn get_client_token_refusals() {
    let app = TestApp::spawn().await;
    let s = create_stack(&app, &[READ]).await;
    let (client_id, secret) = token_auth_client(&app, &s.pool_id, &[READ]).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"ClientId": client_id, "Secret": "wrong"}),
            "NotAuthorizedException",
            "Unable to verify secret",
        ),
        (
            json!({"ClientId": "0123456789abcdefghijklmnop", "Secret": secret}),
            "ResourceNotFoundException",
            "does not exist",
        ),
        (
            // The stack's client has client_credentials but not ALLOW_CLIENT_TOKEN_AUTH.
            json!({"ClientId": s.client_id, "Secret": s.client_secret}),
            "NotAuthorizedException",
            "ALLOW_CLIENT_TOKEN_AUTH",
        ),
        (
            json!({"ClientId": client_id, "Secret": secret,
                   "Scopes": ["user-schedule-service/schedule.update"]}),
            "InvalidParameterException",
            "not allowed",
        ),
        (
            json!({"ClientId": client_id}),
            "InvalidParameterException",
            "'secret'",
        ),
    ];
    for (body, kind, needle) in cases {
        let (got, message) = app.admin_error("GetClientToken", body.clone()).await;
        assert_eq!(got, kind, "{body}: {message}");
        assert!(message.contains(needle), "{body}: {message:?}");
        assert!(!message.contains(&secret));
    }
    // A user flow next to ALLOW_CLIENT_TOKEN_AUTH is refused at creation.
    let (kind, _) = app
        .admin_error(
            "CreateUserPoolClient",
            json!({"UserPoolId": s.pool_id, "ClientName": "mixed", "GenerateSecret": true,
                   "ExplicitAuthFlows": ["ALLOW_CLIENT_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]}),
        )
        .await;
    assert_eq!(kind, "InvalidParameterException");
}

#[tokio::test]
async fn access_tokens_cannot_be_revoked_as_in_cognito() {
    let app = TestApp::spawn().await;
    let s = create_stack(&app, &[READ]).await;
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&s.client_id, &s.client_secret)),
        )
        .await;
    let token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = |form: Vec<(&'static str, String)>, basic: Option<(String, String)>| {
        let mut request = app
            .http
            .post(format!("{}/oauth2/revoke", app.url))
            .form(&form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send()
    };
    let creds = Some((s.client_id.clone(), s.client_secret.clone()));
    let response = revoke(vec![("token", token.clone())], creds.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_token_type");
    // An unknown token: nothing to revoke, 200 (RFC 7009 §2.2).
    let response = revoke(vec![("token", "not-a-token".to_owned())], creds.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // No token: invalid_request; wrong secret: 401 invalid_client.
    let response = revoke(vec![], creds.clone()).await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let response = revoke(
        vec![("token", token.clone())],
        Some((s.client_id.clone(), "wrong".to_owned())),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    // The token still works for the token endpoint's issuer: verify it.
    verify_token(&app, &s.pool_id, &token, &s.client_id, &[READ], 3600).await;

    // RevokeToken, unsigned, with Cognito's exceptions.
    let (kind, _) = app
        .admin_error(
            "RevokeToken",
            json!({"Token": token, "ClientId": s.client_id, "ClientSecret": s.client_secret}),
        )
        .await;
    assert_eq!(kind, "UnsupportedTokenTypeException");
    let (kind, _) = app
        .admin_error(
            "RevokeToken",
            json!({"Token": token, "ClientId": s.client_id, "ClientSecret": "wrong"}),
        )
        .await;
    assert_eq!(kind, "NotAuthorizedException");
    let ok = app
        .admin(
            "RevokeToken",
            json!({"Token": "opaque", "ClientId": s.client_id, "ClientSecret": s.client_secret}),
        )
        .await;
    assert_eq!(ok, json!({}));
}

async fn certificate_of(app: &TestApp, pool_id: &str) -> String {
    app.admin("GetSigningCertificate", json!({"UserPoolId": pool_id}))
        .await["Certificate"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `(tag, content, rest)` of one DER TLV.
fn der(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        short if short < 0x80 => (usize::from(short), 2),
        long => {
            let n = usize::from(long & 0x7f);
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        }
    };
    (tag, &input[header..header + len], &input[header + len..])
}

#[tokio::test]
async fn signing_certificate_is_self_signed_and_survives_a_restart() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let options = || Options {
        database_url: database_url.clone(),
        ..Options::default()
    };
    let first = TestApp::spawn_with(options()).await;
    let pool = first
        .admin("CreateUserPool", json!({"PoolName": "p"}))
        .await;
    let id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let certificate = certificate_of(&first, &id).await;
    assert_eq!(certificate_of(&first, &id).await, certificate);
    first.stop().await;
    let second = TestApp::spawn_with(options()).await;
    assert_eq!(certificate_of(&second, &id).await, certificate);

    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }.
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&certificate)
        .unwrap();
    let (tag, body, rest) = der(&bytes);
    assert_eq!((tag, rest.len()), (0x30, 0));
    let (_, _, after_tbs) = der(body);
    let tbs_der = &body[..body.len() - after_tbs.len()];
    let (_, _, after_alg) = der(after_tbs);
    let (tag, bits, _) = der(after_alg);
    assert_eq!((tag, bits[0]), (0x03, 0));
    // The subject names the pool, and the public key is the pool's first published key.
    let text = String::from_utf8_lossy(tbs_der);
    assert!(text.contains(&id));
    let jwks = second.jwks(&id).await;
    let signed_by_a_published_key = jwks.keys.iter().any(|jwk| {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key = aws_lc_rs::signature::RsaPublicKeyComponents {
            n: URL_SAFE_NO_PAD.decode(&jwk.n).unwrap(),
            e: URL_SAFE_NO_PAD.decode(&jwk.e).unwrap(),
        };
        key.verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            tbs_der,
            &bits[1..],
        )
        .is_ok()
    });
    assert!(signed_by_a_published_key);
    let (kind, _) = second
        .admin_error(
            "GetSigningCertificate",
            json!({"UserPoolId": "us-east-1_000000000"}),
        )
        .await;
    assert_eq!(kind, "ResourceNotFoundException");
}

#[tokio::test]
async fn app_clients_stop_at_cognitos_quota() {
    use authorization_server::store::{ClientRecord, ClientSettings};
    let app = TestApp::spawn().await;
    let pool = app.admin("CreateUserPool", json!({"PoolName": "p"})).await;
    let id = pool["UserPool"]["Id"].as_str().unwrap();
    // 999 clients straight into the store, the 1,000th through the API.
    for i in 0..999 {
        let client = ClientRecord {
            pool_id: id.to_owned(),
            client_id: format!("{i:026}"),
            name: format!("c{i}"),
            secret: None,
            settings: ClientSettings::default(),
            created_ms: 0,
            modified_ms: 0,
        };
        app.state.store().create_client(&client).await.unwrap();
    }
    let create = json!({"UserPoolId": id, "ClientName": "last"});
    app.admin("CreateUserPoolClient", create.clone()).await;
    let (kind, message) = app.admin_error("CreateUserPoolClient", create).await;
    assert_eq!(kind, "LimitExceededException");
    assert!(message.contains("1000"), "{message}");
    let listed = app
        .admin(
            "ListUserPoolClients",
            json!({"UserPoolId": id, "MaxResults": 60}),
        )
        .await;
    assert_eq!(listed["UserPoolClients"].as_array().unwrap().len(), 60);
    let count = app
        .state
        .store()
        .list_clients(id, None, 2_000)
        .await
        .unwrap()
        .len();
    assert_eq!(count, 1_000);
}
