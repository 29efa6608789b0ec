//! Replays the calls of Terraform's AWS provider (`hashicorp/terraform-provider-aws`,
//! `internal/service/cognitoidp/`) for `aws_cognito_user_pool`, `aws_cognito_resource_server`,
//! `aws_cognito_user_pool_client` and `aws_cognito_user_pool_domain` — create, read, plan
//! refresh, import, update, destroy — with the AWS SDK for Rust (SigV4 signed), on SQLite
//! and (with `TEST_DATABASE_URL`) PostgreSQL, asserting each response field the provider
//! reads. The sequence is listed in `crates/authorization-server/docs/cognito-notes.md`.

use aws_sdk_cognitoidentityprovider as cognito;
use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
use aws_sdk_cognitoidentityprovider::types::{
    DeletionProtectionType, DomainStatusType, OAuthFlowType, PasswordPolicyType,
    ResourceServerScopeType, SoftwareTokenMfaConfigType, UserPoolMfaType, UserPoolPolicyType,
};

use crate::helpers::{Options, TestApp};

async fn replay_on(database_url: String) {
    let app = TestApp::spawn_with(Options {
        database_url,
        credentials: true,
        ..Options::default()
    })
    .await;
    let sdk = app.sdk();
    let pool_id = user_pool_create_and_read(&sdk).await;
    let domain = domain_lifecycle_until_update(&sdk, &pool_id).await;
    resource_server_lifecycle(&sdk, &pool_id).await;
    client_lifecycle(&sdk, &pool_id).await;
    user_pool_update(&sdk, &pool_id).await;
    destroy(&sdk, &pool_id, &domain).await;
    app.stop().await;
}

/// `resourceUserPoolRead`: DescribeUserPool then GetUserPoolMfaConfig; the fields it reads.
async fn read_user_pool(sdk: &cognito::Client, pool_id: &str) -> cognito::types::UserPoolType {
    let pool = sdk
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    // Dereferenced without a nil check by the provider.
    assert!(pool.policies().unwrap().password_policy().is_some());
    assert!(pool.admin_create_user_config().is_some());
    assert!(
        pool.arn()
            .unwrap()
            .ends_with(&format!(":userpool/{pool_id}"))
    );
    assert!(pool.creation_date().is_some() && pool.last_modified_date().is_some());
    assert_eq!(pool.estimated_number_of_users(), 0);
    assert!(pool.lambda_config().is_some());
    let mfa = sdk
        .get_user_pool_mfa_config()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap();
    assert_eq!(mfa.mfa_configuration(), pool.mfa_configuration());
    pool
}

async fn user_pool_create_and_read(sdk: &cognito::Client) -> String {
    // resourceUserPoolCreate: CreateUserPool with the tags, then (mfa_configuration ON)
    // SetUserPoolMfaConfig, then the read.
    let created = sdk
        .create_user_pool()
        .pool_name("tf-pool")
        .user_pool_tags("team", "identity")
        .send()
        .await
        .unwrap();
    let pool_id = created.user_pool().unwrap().id().unwrap().to_owned();
    sdk.set_user_pool_mfa_config()
        .user_pool_id(&pool_id)
        .mfa_configuration(UserPoolMfaType::On)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .send()
        .await
        .unwrap();
    let pool = read_user_pool(sdk, &pool_id).await;
    // Cognito's defaults for a pool created with only a name (and tags).
    let password = pool.policies().unwrap().password_policy().unwrap();
    assert_eq!(password.minimum_length(), Some(8));
    assert!(password.require_uppercase() && password.require_lowercase());
    assert!(password.require_numbers() && password.require_symbols());
    assert_eq!(password.temporary_password_validity_days(), 7);
    assert!(
        !pool
            .admin_create_user_config()
            .unwrap()
            .allow_admin_create_user_only()
    );
    let recovery = pool
        .account_recovery_setting()
        .unwrap()
        .recovery_mechanisms();
    assert_eq!(recovery.len(), 2);
    assert_eq!(
        pool.deletion_protection(),
        Some(&DeletionProtectionType::Inactive)
    );
    assert_eq!(pool.mfa_configuration(), Some(&UserPoolMfaType::On));
    assert_eq!(pool.user_pool_tags().unwrap()["team"], "identity");
    let mfa = sdk
        .get_user_pool_mfa_config()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    assert!(mfa.software_token_mfa_configuration().unwrap().enabled());
    // `terraform plan` refreshes and `terraform import` reads by id: the same calls.
    let again = read_user_pool(sdk, &pool_id).await;
    assert_eq!(again, pool);
    pool_id
}

/// resourceUserPoolDomainCreate/Read/Update (prefix domain, managed login).
async fn domain_lifecycle_until_update(sdk: &cognito::Client, pool_id: &str) -> String {
    let domain = format!("tf-{}", pool_id.rsplit('_').next().unwrap().to_lowercase());
    let created = sdk
        .create_user_pool_domain()
        .domain(&domain)
        .user_pool_id(pool_id)
        .managed_login_version(1)
        .send()
        .await
        .unwrap();
    assert_eq!(created.managed_login_version(), Some(1));
    // waitUserPoolDomainCreated polls until Status is ACTIVE; the read follows.
    let read = |sdk: cognito::Client, domain: String| async move {
        sdk.describe_user_pool_domain()
            .domain(domain)
            .send()
            .await
            .unwrap()
            .domain_description
            .unwrap()
    };
    let description = read(sdk.clone(), domain.clone()).await;
    assert_eq!(description.status(), Some(&DomainStatusType::Active));
    assert_eq!(description.user_pool_id(), Some(pool_id));
    assert_eq!(description.domain(), Some(domain.as_str()));
    assert_eq!(description.aws_account_id(), Some("000000000000"));
    assert!(description.cloud_front_distribution().is_some());
    assert!(description.s3_bucket().is_some());
    assert!(description.version().is_some());
    assert_eq!(description.managed_login_version(), Some(1));
    assert!(description.custom_domain_config().is_none());
    // The pool now names its domain.
    let pool = read_user_pool(sdk, pool_id).await;
    assert_eq!(pool.domain(), Some(domain.as_str()));
    // Update: managed login version 2, then the read.
    let updated = sdk
        .update_user_pool_domain()
        .domain(&domain)
        .user_pool_id(pool_id)
        .managed_login_version(2)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.managed_login_version(), Some(2));
    let description = read(sdk.clone(), domain.clone()).await;
    assert_eq!(description.managed_login_version(), Some(2));
    assert_eq!(description.status(), Some(&DomainStatusType::Active));
    domain
}

fn scope(name: &str) -> ResourceServerScopeType {
    ResourceServerScopeType::builder()
        .scope_name(name)
        .scope_description(name)
        .build()
        .unwrap()
}

/// resourceResourceServerCreate/Read/Update/Delete; import id `pool|identifier`.
async fn resource_server_lifecycle(sdk: &cognito::Client, pool_id: &str) {
    sdk.create_resource_server()
        .user_pool_id(pool_id)
        .identifier("https://api.example.com")
        .name("api")
        .scopes(scope("read"))
        .send()
        .await
        .unwrap();
    for _ in 0..2 {
        let read = sdk
            .describe_resource_server()
            .user_pool_id(pool_id)
            .identifier("https://api.example.com")
            .send()
            .await
            .unwrap();
        let server = read.resource_server().unwrap();
        assert_eq!(server.name(), Some("api"));
        assert_eq!(server.user_pool_id(), Some(pool_id));
        assert_eq!(server.scopes().len(), 1);
    }
    sdk.update_resource_server()
        .user_pool_id(pool_id)
        .identifier("https://api.example.com")
        .name("api")
        .scopes(scope("read"))
        .scopes(scope("write"))
        .send()
        .await
        .unwrap();
    let read = sdk
        .describe_resource_server()
        .user_pool_id(pool_id)
        .identifier("https://api.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(read.resource_server().unwrap().scopes().len(), 2);
}

/// resourceUserPoolClientCreate/Read/Update; import id `pool/client`.
async fn client_lifecycle(sdk: &cognito::Client, pool_id: &str) {
    let created = sdk
        .create_user_pool_client()
        .user_pool_id(pool_id)
        .client_name("tf-client")
        .generate_secret(true)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes("https://api.example.com/read")
        .send()
        .await
        .unwrap();
    let client_id = created
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_owned();
    let read = sdk
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    let client = read.user_pool_client().unwrap();
    assert!(client.client_secret().is_some());
    assert_eq!(
        client.allowed_o_auth_flows(),
        &[OAuthFlowType::ClientCredentials]
    );
    assert!(client.enable_token_revocation().unwrap_or(false));
    sdk.update_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(&client_id)
        .client_name("tf-client")
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes("https://api.example.com/write")
        .send()
        .await
        .unwrap();
    let read = sdk
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        read.user_pool_client().unwrap().allowed_o_auth_scopes(),
        &["https://api.example.com/write".to_owned()]
    );
    sdk.delete_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
}

/// resourceUserPoolUpdate: SetUserPoolMfaConfig, UpdateUserPool with every configured
/// member (no tags), then the tags through TagResource/UntagResource, then the read.
async fn user_pool_update(sdk: &cognito::Client, pool_id: &str) {
    let before = read_user_pool(sdk, pool_id).await;
    sdk.set_user_pool_mfa_config()
        .user_pool_id(pool_id)
        .mfa_configuration(UserPoolMfaType::Off)
        .send()
        .await
        .unwrap();
    sdk.update_user_pool()
        .user_pool_id(pool_id)
        .deletion_protection(DeletionProtectionType::Active)
        .mfa_configuration(UserPoolMfaType::Off)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(PasswordPolicyType::builder().minimum_length(12).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = before.arn().unwrap();
    sdk.tag_resource()
        .resource_arn(arn)
        .tags("env", "ci")
        .send()
        .await
        .unwrap();
    sdk.untag_resource()
        .resource_arn(arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let after = read_user_pool(sdk, pool_id).await;
    assert_eq!(after.mfa_configuration(), Some(&UserPoolMfaType::Off));
    assert_eq!(
        after.deletion_protection(),
        Some(&DeletionProtectionType::Active)
    );
    let password = after.policies().unwrap().password_policy().unwrap();
    assert_eq!(password.minimum_length(), Some(12));
    // Left out of this UpdateUserPool, so back to its default.
    assert!(!password.require_symbols());
    let tags = after.user_pool_tags().unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags["env"], "ci");
    let listed = sdk
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.tags(), Some(tags));
    assert_eq!(after.name(), before.name());
    assert_eq!(after.creation_date(), before.creation_date());
}

/// `terraform destroy`: dependants first, then the pool; the pool is protected until
/// DeletionProtection is turned off, and refused while its domain exists.
async fn destroy(sdk: &cognito::Client, pool_id: &str, domain: &str) {
    let refused = sdk
        .delete_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("InvalidParameterException"));
    assert!(refused.message().unwrap().contains("deletion protection"));
    sdk.update_user_pool()
        .user_pool_id(pool_id)
        .deletion_protection(DeletionProtectionType::Inactive)
        .send()
        .await
        .unwrap();
    let refused = sdk
        .delete_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.message(),
        Some(
            "User pool cannot be deleted. It has a domain configured that should be deleted first."
        )
    );
    sdk.delete_resource_server()
        .user_pool_id(pool_id)
        .identifier("https://api.example.com")
        .send()
        .await
        .unwrap();
    sdk.delete_user_pool_domain()
        .domain(domain)
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap();
    // waitUserPoolDomainDeleted: the description comes back empty (no Status).
    let gone = sdk
        .describe_user_pool_domain()
        .domain(domain)
        .send()
        .await
        .unwrap();
    assert!(gone.domain_description().unwrap().status().is_none());
    sdk.delete_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap();
    // A refresh after the pool is gone: ResourceNotFoundException removes it from state.
    let missing = sdk
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn terraform_replay_on_sqlite() {
    replay_on("sqlite::memory:".to_owned()).await;
}

#[tokio::test]
async fn terraform_replay_on_postgres() {
    let Some(url) = crate::helpers::fresh_postgres_database("authorization_server_tf").await else {
        eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL replay");
        return;
    };
    replay_on(url).await;
}
