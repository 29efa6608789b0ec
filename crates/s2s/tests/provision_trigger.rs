//! `s2s provision` on an existing pool whose `[user_pool.pre_token_generation]` changed:
//! none → A → A → B → none → none, against a running `s2s serve authorization-server`.
//! After each run the pool is read back with the AWS SDK's `DescribeUserPool`: the trigger
//! is what the stack asks, every other setting of the pool (including settings the stack
//! does not know, and another Lambda trigger) is as it was, and a repeated run changes
//! nothing, not even `LastModifiedDate`. A token taken after each run shows that the
//! running server calls the function the pool now names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, reason = "each test binary uses a part of the helpers")]
mod support;

use std::path::Path;

use aws_sdk_cognitoidentityprovider as cognito;
use axum::Json;
use axum::routing::post;
use cognito::types::{
    LambdaConfigType, PasswordPolicyType, PreTokenGenerationLambdaVersionType,
    PreTokenGenerationVersionConfigType, UserPoolPolicyType, UserPoolType,
};
use serde_json::{Value, json};
use support::{Served, reference_stack, s2s, text};

const ARN_A: &str = "arn:aws:lambda:us-east-1:000000000000:function:tenant-a";
const ARN_B: &str = "arn:aws:lambda:us-east-1:000000000000:function:tenant-b";
/// A trigger the stack does not manage; provisioning must keep it.
const ARN_SIGN_UP: &str = "arn:aws:lambda:us-east-1:000000000000:function:pre-sign-up";

/// A pre token generation function on loopback that adds `tenant = <tenant>`.
async fn hook(tenant: &'static str) -> String {
    let router = axum::Router::new().route(
        "/",
        post(move |Json(mut event): Json<Value>| async move {
            event["response"] = json!({"claimsAndScopeOverrideDetails": {
                "accessTokenGeneration": {"claimsToAddOrOverride": {"tenant": tenant}},
            }});
            Json(event)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// The reference stack with the pre token generation trigger `arn`, or without one.
fn write_stack(dir: &Path, file: &str, arn: Option<&str>) {
    let reference = std::fs::read_to_string(reference_stack()).unwrap();
    let commented = "# [user_pool.pre_token_generation]\n# lambda_arn = \"arn:aws:lambda:us-east-1:000000000000:function:pretoken\"\n";
    assert!(reference.contains(commented), "the reference stack changed");
    let stack = match arn {
        Some(arn) => reference.replace(
            commented,
            &format!("[user_pool.pre_token_generation]\nlambda_arn = \"{arn}\"\n"),
        ),
        None => reference,
    };
    std::fs::write(dir.join(file), stack).unwrap();
}

fn v3(arn: &str) -> PreTokenGenerationVersionConfigType {
    PreTokenGenerationVersionConfigType::builder()
        .lambda_version(PreTokenGenerationLambdaVersionType::V30)
        .lambda_arn(arn)
        .build()
        .unwrap()
}

async fn describe(client: &cognito::Client, pool_id: &str) -> UserPoolType {
    client
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .unwrap()
        .user_pool()
        .cloned()
        .unwrap()
}

/// The pool without what a trigger change may change.
fn besides_the_trigger(pool: &UserPoolType) -> UserPoolType {
    let mut pool = pool.clone();
    pool.last_modified_date = None;
    if let Some(config) = pool.lambda_config.as_mut() {
        config.pre_token_generation_config = None;
        config.pre_token_generation = None;
    }
    pool
}

/// The `tenant` claim of an access token from the running server (`None`: no such claim).
async fn tenant_claim(token_url: &str, client_id: &str, secret: &str) -> Option<String> {
    use base64::Engine as _;
    let answer: Value = reqwest::Client::new()
        .post(token_url)
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["tenant"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_updates_an_existing_pools_pre_token_trigger_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let hook_a = hook("a").await;
    let hook_b = hook("b").await;
    write_stack(dir.path(), "none.toml", None);
    write_stack(dir.path(), "a.toml", Some(ARN_A));
    write_stack(dir.path(), "b.toml", Some(ARN_B));

    // The server creates the pool without a trigger (its `--stack`); it knows both functions.
    let lambda_a = format!("{ARN_A}={hook_a}");
    let lambda_b = format!("{ARN_B}={hook_b}");
    let mut served = Served::start_with_stack(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "data",
            "--stack",
            "none.toml",
            "--lambda",
            &lambda_a,
            "--lambda",
            &lambda_b,
        ],
        &[],
    );
    let printed = served.printed_outputs();
    let pool_id = printed["user_pool_id"].as_str().unwrap().to_owned();
    let client_id = printed["client_id"].as_str().unwrap().to_owned();
    let token_url = printed["token_url"].as_str().unwrap().to_owned();
    let endpoint = token_url.trim_end_matches("/oauth2/token").to_owned();
    let secret = std::fs::read_to_string(dir.path().join("data/client-secret")).unwrap();
    let secret = secret.trim();

    // The real SDK against the local server (unsigned admin API on loopback).
    let sdk = cognito::Client::from_conf(
        cognito::Config::builder()
            .behavior_version(cognito::config::BehaviorVersion::latest())
            .region(cognito::config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(cognito::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build(),
    );

    // Settings the stack says nothing about, which an update must carry over:
    // UpdateUserPool resets every member it is not given.
    sdk.update_user_pool()
        .user_pool_id(&pool_id)
        .lambda_config(LambdaConfigType::builder().pre_sign_up(ARN_SIGN_UP).build())
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(12)
                        .require_symbols(false)
                        .build(),
                )
                .build(),
        )
        .deletion_protection(cognito::types::DeletionProtectionType::Active)
        .email_verification_subject("Your code")
        .user_pool_tags("team", "identity")
        .send()
        .await
        .unwrap();
    let start = describe(&sdk, &pool_id).await;
    assert_eq!(
        start.lambda_config().and_then(|c| c.pre_sign_up()),
        Some(ARN_SIGN_UP)
    );
    assert_eq!(
        start.deletion_protection().map(|d| d.as_str()),
        Some("ACTIVE")
    );
    let settings = besides_the_trigger(&start);
    assert_eq!(tenant_claim(&token_url, &client_id, secret).await, None);

    let provision = |stack: &str| {
        let out = s2s(
            &[
                "provision",
                "--stack",
                stack,
                "--endpoint-url",
                &endpoint,
                "--out",
                "host/outputs.json",
            ],
            dir.path(),
        );
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        stdout
    };
    let pool_line = format!("user pool s2s-demo ({pool_id})");

    let mut previous = start;
    for (stack, want, tenant) in [
        ("a.toml", Some(ARN_A), Some("a")),
        ("a.toml", Some(ARN_A), Some("a")),
        ("b.toml", Some(ARN_B), Some("b")),
        ("none.toml", None, None),
        ("none.toml", None, None),
    ] {
        let changes = previous
            .lambda_config()
            .and_then(|c| c.pre_token_generation_config())
            != want.map(v3).as_ref();
        let stdout = provision(stack);
        let pool = describe(&sdk, &pool_id).await;
        let config = pool.lambda_config().unwrap();
        assert_eq!(
            config.pre_token_generation_config(),
            want.map(v3).as_ref(),
            "{stack}: {stdout}"
        );
        // The legacy member names the same function, as Cognito returns it.
        assert_eq!(config.pre_token_generation(), want, "{stack}");
        assert_eq!(besides_the_trigger(&pool), settings, "{stack}: {stdout}");
        if changes {
            assert!(
                stdout.contains(&format!("{pool_line}: updated")),
                "{stack}: {stdout}"
            );
            assert!(stdout.contains("1 change(s) applied"), "{stack}: {stdout}");
        } else {
            assert!(stdout.contains("nothing changed"), "{stack}: {stdout}");
            assert_eq!(pool, previous, "{stack}: a no-op must not write the pool");
        }
        // The same pool, client and secret.
        assert_eq!(outputs_at(dir.path())["client_id"], client_id.as_str());
        assert_eq!(
            tenant_claim(&token_url, &client_id, secret)
                .await
                .as_deref(),
            tenant,
            "{stack}"
        );
        previous = pool;
    }
    assert_eq!(served.terminate(), Some(0));
}

/// What provision wrote to `host/outputs.json`.
fn outputs_at(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("host/outputs.json")).unwrap()).unwrap()
}
