//! Bad admin input: Cognito's error shape, a message naming the problem, nothing written.

use serde_json::{Value, json};

use crate::helpers::{READ, TestApp, create_stack};

/// Everything the store holds for a pool, as seen through the API.
async fn snapshot(app: &TestApp, pool_id: &str) -> Value {
    let pools = app.admin("ListUserPools", json!({"MaxResults": 60})).await;
    let clients = app
        .admin("ListUserPoolClients", json!({"UserPoolId": pool_id}))
        .await;
    let mut described = Vec::new();
    for client in clients["UserPoolClients"].as_array().unwrap() {
        described.push(
            app.admin(
                "DescribeUserPoolClient",
                json!({"UserPoolId": pool_id, "ClientId": client["ClientId"]}),
            )
            .await,
        );
    }
    let servers = app
        .admin(
            "ListResourceServers",
            json!({"UserPoolId": pool_id, "MaxResults": 50}),
        )
        .await;
    let pool = app
        .admin("DescribeUserPool", json!({"UserPoolId": pool_id}))
        .await;
    json!({"pools": pools, "clients": described, "servers": servers, "pool": pool})
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let s = create_stack(&app, &[READ]).await;
    let before = snapshot(&app, &s.pool_id).await;
    let pool = s.pool_id.as_str();
    let client = s.client_id.as_str();

    // (operation, body, expected exception, text the message must contain)
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "CreateUserPool",
            json!({}),
            "InvalidParameterException",
            "'poolName'",
        ),
        (
            "CreateUserPool",
            json!({"PoolName": 5}),
            "SerializationException",
            "PoolName",
        ),
        (
            "CreateUserPool",
            json!({"PoolName": "a".repeat(129)}),
            "InvalidParameterException",
            "128",
        ),
        (
            "CreateUserPool",
            json!({"PoolName": "bad/name"}),
            "InvalidParameterException",
            "regular expression",
        ),
        (
            "CreateUserPool",
            json!({"PoolName": "x", "DeletionProtection": "MAYBE"}),
            "InvalidParameterException",
            "enum value set",
        ),
        (
            "CreateUserPool",
            json!({"PoolName": "x", "LambdaConfig": {"PreTokenGeneration": "arn:aws:lambda:x"}}),
            "InvalidParameterException",
            "lambdaConfig.preTokenGeneration",
        ),
        (
            "CreateUserPool",
            json!(["PoolName"]),
            "SerializationException",
            "object",
        ),
        (
            "DescribeUserPool",
            json!({"UserPoolId": "not-a-pool-id"}),
            "InvalidParameterException",
            "'userPoolId'",
        ),
        (
            "ListUserPools",
            json!({}),
            "InvalidParameterException",
            "'maxResults'",
        ),
        (
            "ListUserPools",
            json!({"MaxResults": 61}),
            "InvalidParameterException",
            "60",
        ),
        (
            "ListUserPools",
            json!({"MaxResults": 1, "NextToken": "!!"}),
            "InvalidParameterException",
            "NextToken",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": pool}),
            "InvalidParameterException",
            "'clientName'",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": "us-east-1_Missing00", "ClientName": "c"}),
            "ResourceNotFoundException",
            "does not exist",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": pool, "ClientName": "c", "AllowedOAuthFlows": ["password"]}),
            "InvalidParameterException",
            "'allowedOAuthFlows'",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": pool, "ClientName": "c", "AllowedOAuthFlowsUserPoolClient": true}),
            "InvalidParameterException",
            "AllowedOAuthFlows and AllowedOAuthScopes are required",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": pool, "ClientName": "c", "GenerateSecret": true, "AllowedOAuthFlowsUserPoolClient": true, "AllowedOAuthFlows": ["client_credentials"], "AllowedOAuthScopes": ["openid"]}),
            "InvalidOAuthFlowException",
            "openid",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": pool, "ClientName": "c", "GenerateSecret": true, "ClientSecret": "abcdefghijklmnopqrstuvwxyz"}),
            "InvalidParameterException",
            "GenerateSecret",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": pool, "ClientName": "c", "AccessTokenValidity": 4, "TokenValidityUnits": {"AccessToken": "minutes"}}),
            "InvalidParameterException",
            "token validity",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": pool, "ClientName": "c", "AccessTokenValidity": 2, "TokenValidityUnits": {"AccessToken": "days"}}),
            "InvalidParameterException",
            "token validity",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": pool, "ClientName": "c", "TokenValidityUnits": {"AccessToken": "weeks"}}),
            "InvalidParameterException",
            "accessToken",
        ),
        (
            "CreateUserPoolClient",
            json!({"UserPoolId": pool, "ClientName": "c", "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH"]}),
            "InvalidParameterException",
            "REFRESH_TOKEN_AUTH",
        ),
        (
            "UpdateUserPoolClient",
            json!({"UserPoolId": pool, "ClientId": client, "AllowedOAuthFlowsUserPoolClient": true, "AllowedOAuthFlows": ["client_credentials"], "AllowedOAuthScopes": ["user-schedule-service/nope"]}),
            "ScopeDoesNotExistException",
            "user-schedule-service/nope",
        ),
        (
            "UpdateUserPoolClient",
            json!({"UserPoolId": pool, "ClientId": "26cb2c60kq7nbmas7rbme9b6pp"}),
            "ResourceNotFoundException",
            "26cb2c60kq7nbmas7rbme9b6pp",
        ),
        (
            "DeleteUserPoolClient",
            json!({"UserPoolId": pool, "ClientId": "bad-id"}),
            "InvalidParameterException",
            "'clientId'",
        ),
        (
            "CreateResourceServer",
            json!({"UserPoolId": pool, "Identifier": "user-schedule-service", "Name": "dup"}),
            "InvalidParameterException",
            "already exists",
        ),
        (
            "CreateResourceServer",
            json!({"UserPoolId": pool, "Identifier": "has space", "Name": "x"}),
            "InvalidParameterException",
            "'identifier'",
        ),
        (
            "CreateResourceServer",
            json!({"UserPoolId": pool, "Identifier": "api", "Name": "x", "Scopes": [{"ScopeName": "a/b", "ScopeDescription": "d"}]}),
            "InvalidParameterException",
            "scopeName",
        ),
        (
            "CreateResourceServer",
            json!({"UserPoolId": pool, "Identifier": "api", "Name": "x", "Scopes": [{"ScopeName": "a"}]}),
            "InvalidParameterException",
            "scopeDescription",
        ),
        (
            "CreateResourceServer",
            json!({"UserPoolId": pool, "Identifier": "api", "Name": "x", "Scopes": [{"ScopeName": "a", "ScopeDescription": "d"}, {"ScopeName": "a", "ScopeDescription": "e"}]}),
            "InvalidParameterException",
            "Duplicate",
        ),
        (
            "UpdateResourceServer",
            json!({"UserPoolId": pool, "Identifier": "nope", "Name": "x"}),
            "ResourceNotFoundException",
            "nope",
        ),
        (
            "DeleteResourceServer",
            json!({"UserPoolId": pool, "Identifier": "nope"}),
            "ResourceNotFoundException",
            "nope",
        ),
        (
            "CreateUserPoolDomain",
            json!({"UserPoolId": pool, "Domain": "Upper"}),
            "InvalidParameterException",
            "'domain'",
        ),
        (
            "CreateUserPoolDomain",
            json!({"UserPoolId": pool, "Domain": "x", "CustomDomainConfig": {"CertificateArn": "arn"}}),
            "InvalidParameterException",
            "CustomDomainConfig",
        ),
        (
            "DeleteUserPoolDomain",
            json!({"UserPoolId": pool, "Domain": "no-such-domain"}),
            "InvalidParameterException",
            "No such domain",
        ),
    ];
    for (operation, body, kind, needle) in cases {
        let (got_kind, message) = app.admin_error(operation, body.clone()).await;
        assert_eq!(got_kind, kind, "{operation} {body}: {message}");
        assert!(
            message.contains(needle),
            "{operation} {body}: {message:?} should mention {needle:?}"
        );
    }

    // Transport-level problems.
    let (status, _, body) = app
        .admin_raw(
            "CreateUserPool",
            "application/x-amz-json-1.1",
            "{\"PoolName\": ",
        )
        .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let (status, _, body) = app
        .admin_raw("CreateUserPool", "text/plain", r#"{"PoolName":"x"}"#)
        .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    assert!(body["message"].as_str().unwrap().contains("text/plain"));
    let big = format!(r#"{{"PoolName":"x","Policies":"{}"}}"#, "a".repeat(100_000));
    let (status, _, body) = app
        .admin_raw("CreateUserPool", "application/x-amz-json-1.1", big)
        .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    assert!(body["message"].as_str().unwrap().contains("larger than"));
    let (status, _, body) = app
        .admin_raw("CreateUserPoolX", "application/x-amz-json-1.1", "{}")
        .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("CreateUserPoolX")
    );
    let response = app
        .http
        .post(format!("{}/", app.url))
        .header("content-type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["__type"], "UnknownOperationException");

    assert_eq!(snapshot(&app, &s.pool_id).await, before);
}

#[tokio::test]
async fn describe_unknown_domain_is_empty_and_deletion_protection_holds() {
    let app = TestApp::spawn().await;
    let body = app
        .admin(
            "DescribeUserPoolDomain",
            json!({"Domain": "nobody-has-this"}),
        )
        .await;
    assert_eq!(body, json!({"DomainDescription": {}}));

    let pool = app
        .admin(
            "CreateUserPool",
            json!({"PoolName": "protected", "DeletionProtection": "ACTIVE"}),
        )
        .await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap();
    assert_eq!(pool["UserPool"]["DeletionProtection"], "ACTIVE");
    let created = pool["UserPool"]["CreationDate"].as_f64().unwrap();
    assert!(created > 1.0e9, "epoch seconds: {created}");
    let (kind, message) = app
        .admin_error("DeleteUserPool", json!({"UserPoolId": pool_id}))
        .await;
    assert_eq!(kind, "InvalidParameterException");
    assert!(message.contains("deletion protection"));
    app.admin("DescribeUserPool", json!({"UserPoolId": pool_id}))
        .await;
}
