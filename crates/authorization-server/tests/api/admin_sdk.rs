//! The real AWS SDK for Rust against the admin API (SigV4 verified).

use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
use aws_sdk_cognitoidentityprovider::types::{
    OAuthFlowType, ResourceServerScopeType, TimeUnitsType, TokenValidityUnitsType,
};

use crate::helpers::{Options, READ, TestApp, verify_token};

fn scope(name: &str, description: &str) -> ResourceServerScopeType {
    ResourceServerScopeType::builder()
        .scope_name(name)
        .scope_description(description)
        .build()
        .unwrap()
}

async fn signed_app() -> TestApp {
    TestApp::spawn_with(Options {
        credentials: true,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn sdk_creates_and_reads_back_the_reference_stack() {
    let app = signed_app().await;
    let sdk = app.sdk();

    let pool = sdk
        .create_user_pool()
        .pool_name("s2s-demo")
        .send()
        .await
        .unwrap();
    let pool = pool.user_pool().unwrap();
    let pool_id = pool.id().unwrap().to_owned();
    assert!(pool_id.starts_with("us-east-1_") && pool_id.len() == "us-east-1_".len() + 9);
    assert_eq!(pool.name(), Some("s2s-demo"));
    assert_eq!(
        pool.arn().unwrap(),
        format!("arn:aws:cognito-idp:us-east-1:000000000000:userpool/{pool_id}")
    );
    assert!(pool.creation_date().is_some());

    sdk.create_user_pool_domain()
        .user_pool_id(&pool_id)
        .domain("s2s-demo")
        .send()
        .await
        .unwrap();
    let rs = sdk
        .create_resource_server()
        .user_pool_id(&pool_id)
        .identifier("user-schedule-service")
        .name("user-schedule-service")
        .scopes(scope("schedule.read", "Read schedules"))
        .scopes(scope("schedule.update", "Update schedules"))
        .send()
        .await
        .unwrap();
    assert_eq!(rs.resource_server().unwrap().scopes().len(), 2);

    let created = sdk
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("articles-service")
        .generate_secret(true)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes(READ)
        .supported_identity_providers("COGNITO")
        .access_token_validity(60)
        .token_validity_units(
            TokenValidityUnitsType::builder()
                .access_token(TimeUnitsType::Minutes)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let client = created.user_pool_client().unwrap();
    let client_id = client.client_id().unwrap().to_owned();
    let secret = client.client_secret().unwrap().to_owned();
    assert_eq!(client_id.len(), 26);
    assert!(
        client_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
    );
    assert_eq!(secret.len(), 52);

    // Read everything back.
    let described = sdk
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.user_pool().unwrap().domain(), Some("s2s-demo"));
    let domain = sdk
        .describe_user_pool_domain()
        .domain("s2s-demo")
        .send()
        .await
        .unwrap();
    let description = domain.domain_description().unwrap();
    assert_eq!(description.user_pool_id(), Some(pool_id.as_str()));
    assert_eq!(description.status().map(|s| s.as_str()), Some("ACTIVE"));
    let rs = sdk
        .describe_resource_server()
        .user_pool_id(&pool_id)
        .identifier("user-schedule-service")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = rs
        .resource_server()
        .unwrap()
        .scopes()
        .iter()
        .map(|s| s.scope_name())
        .collect();
    assert_eq!(names, ["schedule.read", "schedule.update"]);
    let client = sdk
        .describe_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    let client = client.user_pool_client().unwrap();
    assert_eq!(client.client_name(), Some("articles-service"));
    assert_eq!(client.client_secret(), Some(secret.as_str()));
    assert_eq!(
        client.allowed_o_auth_flows(),
        [OAuthFlowType::ClientCredentials]
    );
    assert_eq!(client.allowed_o_auth_scopes(), [READ]);
    assert_eq!(client.access_token_validity(), Some(60));
    assert_eq!(
        client.token_validity_units().and_then(|u| u.access_token()),
        Some(&TimeUnitsType::Minutes)
    );
    assert_eq!(client.refresh_token_validity(), 30);
    assert_eq!(client.allowed_o_auth_flows_user_pool_client(), Some(true));

    let pools = sdk.list_user_pools().max_results(10).send().await.unwrap();
    assert_eq!(pools.user_pools().len(), 1);
    let clients = sdk
        .list_user_pool_clients()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    assert_eq!(clients.user_pool_clients().len(), 1);
    let servers = sdk
        .list_resource_servers()
        .user_pool_id(&pool_id)
        .max_results(10)
        .send()
        .await
        .unwrap();
    assert_eq!(servers.resource_servers().len(), 1);

    // The client gets tokens valid 60 minutes, verified against the served JWKS.
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    verify_token(
        &app,
        &pool_id,
        body["access_token"].as_str().unwrap(),
        &client_id,
        &[READ],
        3600,
    )
    .await;

    // Update resets omitted members, deletes clean up.
    let updated = sdk
        .update_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    let updated = updated.user_pool_client().unwrap();
    assert!(updated.allowed_o_auth_flows().is_empty());
    assert_eq!(updated.access_token_validity(), None);
    assert_eq!(updated.allowed_o_auth_flows_user_pool_client(), Some(false));
    assert_eq!(updated.client_secret(), Some(secret.as_str()));

    sdk.delete_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    sdk.delete_resource_server()
        .user_pool_id(&pool_id)
        .identifier("user-schedule-service")
        .send()
        .await
        .unwrap();
    sdk.delete_user_pool_domain()
        .user_pool_id(&pool_id)
        .domain("s2s-demo")
        .send()
        .await
        .unwrap();
    let gone = sdk
        .describe_user_pool_domain()
        .domain("s2s-demo")
        .send()
        .await
        .unwrap();
    assert!(gone.domain_description().unwrap().user_pool_id().is_none());
    sdk.delete_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    assert!(
        sdk.list_user_pools()
            .max_results(10)
            .send()
            .await
            .unwrap()
            .user_pools()
            .is_empty()
    );
}

#[tokio::test]
async fn sdk_surfaces_cognito_exceptions() {
    let app = signed_app().await;
    let sdk = app.sdk();

    let missing = sdk
        .describe_user_pool()
        .user_pool_id("us-east-1_Missing00")
        .send()
        .await
        .unwrap_err();
    let missing = missing.into_service_error();
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");
    assert_eq!(
        missing.message(),
        Some("User pool us-east-1_Missing00 does not exist.")
    );

    let pool = sdk
        .create_user_pool()
        .pool_name("errors")
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();

    let no_scope = sdk
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("c")
        .generate_secret(true)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes("user-schedule-service/schedule.read")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(no_scope.is_scope_does_not_exist_exception(), "{no_scope:?}");
    assert_eq!(
        no_scope.message(),
        Some("Invalid scope requested: user-schedule-service/schedule.read")
    );

    let no_secret = sdk
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("c")
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes("x/y")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        no_secret.is_invalid_o_auth_flow_exception(),
        "{no_secret:?}"
    );

    let mixed = sdk
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("c")
        .generate_secret(true)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("x/y")
        .callback_urls("https://example.com/cb")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(mixed.is_invalid_o_auth_flow_exception(), "{mixed:?}");

    // 60 without units means 60 hours: out of range.
    let validity = sdk
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("c")
        .access_token_validity(60)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(validity.is_invalid_parameter_exception(), "{validity:?}");
    assert_eq!(
        validity.message(),
        Some("Invalid range for token validity.")
    );

    let bad_name = sdk
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("bad<name>")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad_name.is_invalid_parameter_exception(), "{bad_name:?}");
    assert!(bad_name.message().unwrap().contains("'clientName'"));

    let missing_client = sdk
        .describe_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id("26cb2c60kq7nbmas7rbme9b6pp")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing_client.is_resource_not_found_exception());

    sdk.create_user_pool_domain()
        .user_pool_id(&pool_id)
        .domain("taken")
        .send()
        .await
        .unwrap();
    let other = sdk
        .create_user_pool()
        .pool_name("other")
        .send()
        .await
        .unwrap();
    let other_id = other.user_pool().unwrap().id().unwrap().to_owned();
    let taken = sdk
        .create_user_pool_domain()
        .user_pool_id(&other_id)
        .domain("taken")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(taken.is_invalid_parameter_exception());
    assert_eq!(
        taken.message(),
        Some("Domain already associated with another user pool.")
    );
    let second = sdk
        .create_user_pool_domain()
        .user_pool_id(&pool_id)
        .domain("another")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        second.message(),
        Some("User pool already has a domain configured.")
    );

    let rs = || {
        sdk.create_resource_server()
            .user_pool_id(&pool_id)
            .identifier("api")
            .name("api")
            .scopes(scope("read", "r"))
            .send()
    };
    rs().await.unwrap();
    let duplicate = rs().await.unwrap_err().into_service_error();
    assert!(duplicate.is_invalid_parameter_exception(), "{duplicate:?}");
    let missing_rs = sdk
        .describe_resource_server()
        .user_pool_id(&pool_id)
        .identifier("nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing_rs.is_resource_not_found_exception());

    // Pagination.
    for name in ["p1", "p2", "p3"] {
        sdk.create_user_pool().pool_name(name).send().await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = sdk
            .list_user_pools()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.user_pools().len() <= 2);
        seen.extend(page.user_pools().iter().map(|p| p.id().unwrap().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);
}
