//! What an admin write answers is what Describe answers afterwards: the store keeps every
//! member exactly, including the members it only echoes.

use serde_json::{Value, json};

use crate::helpers::{READ, TestApp, create_stack};

/// `member` of the `key` object of a JSON body.
fn member<'a>(body: &'a Value, key: &str, member: &str) -> &'a Value {
    &body[key][member]
}

#[tokio::test]
async fn echoed_numbers_survive_the_store_exactly() {
    // Found by fuzz/admin_api: serde_json's default float parser may be one unit in the
    // last place off, so a number echoed from the request (parsed once) and the same
    // number read back from the stored JSON text (parsed twice) differed:
    // 3.809786487821053e+180 came back as 3.8097864878210526e+180.
    let raw = "3.809786487821053e+180";
    let exact: f64 = raw.parse().unwrap();
    let app = TestApp::spawn().await;
    let s = create_stack(&app, &[READ]).await;

    let body = format!(
        r#"{{"UserPoolId":"{}","ClientName":"c","GenerateSecret":true,
            "AllowedOAuthFlowsUserPoolClient":true,"AllowedOAuthFlows":["client_credentials"],
            "AllowedOAuthScopes":["{READ}"],"RefreshTokenRotation":{raw},
            "AnalyticsConfiguration":{{"ApplicationId":"a","Ratio":{raw}}}}}"#,
        s.pool_id
    );
    let (status, _, created) = app
        .admin_raw("CreateUserPoolClient", "application/x-amz-json-1.1", body)
        .await;
    assert_eq!(status, 200, "{created}");
    let client_id = member(&created, "UserPoolClient", "ClientId").clone();
    let described = app
        .admin(
            "DescribeUserPoolClient",
            json!({"UserPoolId": s.pool_id, "ClientId": client_id}),
        )
        .await;
    assert_eq!(described, created);
    let rotation = member(&described, "UserPoolClient", "RefreshTokenRotation");
    assert_eq!(rotation.as_f64(), Some(exact));

    let body = format!(r#"{{"PoolName":"p","Policies":{{"Ratio":{raw}}}}}"#);
    let (status, _, created) = app
        .admin_raw("CreateUserPool", "application/x-amz-json-1.1", body)
        .await;
    assert_eq!(status, 200, "{created}");
    let described = app
        .admin(
            "DescribeUserPool",
            json!({"UserPoolId": member(&created, "UserPool", "Id")}),
        )
        .await;
    assert_eq!(described, created);
    assert_eq!(
        member(&described, "UserPool", "Policies")["Ratio"].as_f64(),
        Some(exact)
    );
}
