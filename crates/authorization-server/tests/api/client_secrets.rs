//! AddUserPoolClientSecret, ListUserPoolClientSecrets and DeleteUserPoolClientSecret through
//! the AWS SDK for Rust, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL: shapes, every
//! refusal (each changing nothing), and what the token endpoint accepts after each step.

use aws_sdk_cognitoidentityprovider as cognito;
use serde_json::json;

use crate::helpers::{Options, READ, Stack, TestApp, create_stack, fresh_postgres_database};

async fn token_status(app: &TestApp, client_id: &str, secret: &str) -> (u16, serde_json::Value) {
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((client_id, secret)),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn post_token_status(app: &TestApp, client_id: &str, secret: &str) -> u16 {
    app.token_request(
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
        None,
    )
    .await
    .status()
    .as_u16()
}

async fn secret_ids(sdk: &cognito::Client, s: &Stack) -> Vec<String> {
    let listed = sdk
        .list_user_pool_client_secrets()
        .user_pool_id(&s.pool_id)
        .client_id(&s.client_id)
        .send()
        .await
        .unwrap();
    assert!(listed.next_token().is_none());
    listed
        .client_secrets()
        .iter()
        .map(|d| {
            assert!(
                d.client_secret_value().is_none(),
                "a listing reveals no value"
            );
            d.client_secret_id().unwrap().to_owned()
        })
        .collect()
}

fn exception<E, R>(err: &cognito::error::SdkError<E, R>) -> (String, String)
where
    E: cognito::error::ProvideErrorMetadata,
{
    use cognito::error::ProvideErrorMetadata as _;
    (
        err.code().unwrap().to_owned(),
        err.message().unwrap_or_default().to_owned(),
    )
}

async fn rotation_conforms(database_url: String) {
    let app = TestApp::spawn_with(Options {
        database_url,
        ..Options::default()
    })
    .await;
    let sdk = app.sdk();
    let s = create_stack(&app, &[READ]).await;

    // The client's first secret is listed with Cognito's id format and an epoch date.
    let first_ids = secret_ids(&sdk, &s).await;
    assert_eq!(first_ids.len(), 1);
    let (client_part, time_part) = first_ids[0].split_once("--").unwrap();
    assert_eq!(client_part, s.client_id);
    assert!(time_part.chars().all(|c| c.is_ascii_digit()), "{time_part}");

    // A generated secret comes back with its value, once.
    let added = sdk
        .add_user_pool_client_secret()
        .user_pool_id(&s.pool_id)
        .client_id(&s.client_id)
        .send()
        .await
        .unwrap();
    let descriptor = added.client_secret_descriptor().unwrap();
    let new_secret = descriptor.client_secret_value().unwrap().to_owned();
    let new_id = descriptor.client_secret_id().unwrap().to_owned();
    assert!((24..=64).contains(&new_secret.len()));
    let created = descriptor.client_secret_create_date().unwrap().secs();
    assert!(
        (1_700_000_000..4_000_000_000).contains(&created),
        "{created}"
    );
    assert_ne!(new_secret, s.client_secret);
    assert_eq!(
        secret_ids(&sdk, &s).await,
        [first_ids[0].clone(), new_id.clone()]
    );

    // Both secrets work, with either client authentication method.
    assert_eq!(
        token_status(&app, &s.client_id, &s.client_secret).await.0,
        200
    );
    assert_eq!(token_status(&app, &s.client_id, &new_secret).await.0, 200);
    assert_eq!(
        post_token_status(&app, &s.client_id, &s.client_secret).await,
        200
    );
    assert_eq!(
        post_token_status(&app, &s.client_id, &new_secret).await,
        200
    );
    let wrong = "x".repeat(new_secret.len());
    assert_eq!(token_status(&app, &s.client_id, &wrong).await.0, 401);

    // DescribeUserPoolClient shows the newest secret.
    let described = sdk
        .describe_user_pool_client()
        .user_pool_id(&s.pool_id)
        .client_id(&s.client_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.user_pool_client().unwrap().client_secret(),
        Some(new_secret.as_str())
    );

    // A third secret is refused, and nothing changes.
    let err = sdk
        .add_user_pool_client_secret()
        .user_pool_id(&s.pool_id)
        .client_id(&s.client_id)
        .client_secret("third_secret_that_is_long_enough")
        .send()
        .await
        .unwrap_err();
    assert_eq!(exception(&err).0, "LimitExceededException");
    assert_eq!(secret_ids(&sdk, &s).await.len(), 2);
    assert_eq!(
        token_status(&app, &s.client_id, "third_secret_that_is_long_enough")
            .await
            .0,
        401
    );

    // Unknown secret id, client or pool: ResourceNotFoundException, nothing deleted.
    for (pool, client, secret_id) in [
        (s.pool_id.as_str(), s.client_id.as_str(), "nosuchclient--1"),
        (s.pool_id.as_str(), "nosuchclient", new_id.as_str()),
        (
            "us-east-1_NoSuchPool",
            s.client_id.as_str(),
            new_id.as_str(),
        ),
    ] {
        let err = sdk
            .delete_user_pool_client_secret()
            .user_pool_id(pool)
            .client_id(client)
            .client_secret_id(secret_id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            exception(&err).0,
            "ResourceNotFoundException",
            "{pool} {client} {secret_id}"
        );
    }
    assert_eq!(secret_ids(&sdk, &s).await.len(), 2);

    // Deleting the old secret: refused at once, the new one still accepted.
    sdk.delete_user_pool_client_secret()
        .user_pool_id(&s.pool_id)
        .client_id(&s.client_id)
        .client_secret_id(&first_ids[0])
        .send()
        .await
        .unwrap();
    let (status, body) = token_status(&app, &s.client_id, &s.client_secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(
        post_token_status(&app, &s.client_id, &s.client_secret).await,
        400
    );
    assert_eq!(token_status(&app, &s.client_id, &new_secret).await.0, 200);
    assert_eq!(secret_ids(&sdk, &s).await, std::slice::from_ref(&new_id));

    // The last secret stays.
    let err = sdk
        .delete_user_pool_client_secret()
        .user_pool_id(&s.pool_id)
        .client_id(&s.client_id)
        .client_secret_id(&new_id)
        .send()
        .await
        .unwrap_err();
    let (kind, message) = exception(&err);
    assert_eq!(kind, "InvalidParameterException");
    assert!(message.contains("last secret"), "{message}");
    assert_eq!(token_status(&app, &s.client_id, &new_secret).await.0, 200);

    // A custom secret is stored but its value is not echoed.
    let custom = "Custom_secret+value_0123456789";
    let added = sdk
        .add_user_pool_client_secret()
        .user_pool_id(&s.pool_id)
        .client_id(&s.client_id)
        .client_secret(custom)
        .send()
        .await
        .unwrap();
    assert!(
        added
            .client_secret_descriptor()
            .unwrap()
            .client_secret_value()
            .is_none()
    );
    assert_eq!(token_status(&app, &s.client_id, custom).await.0, 200);
    assert_eq!(token_status(&app, &s.client_id, &new_secret).await.0, 200);
}

#[tokio::test]
async fn rotation_conforms_on_sqlite() {
    rotation_conforms("sqlite::memory:".to_owned()).await;
}

#[tokio::test]
async fn rotation_conforms_on_postgres() {
    let Some(url) = fresh_postgres_database("auth_secrets_test").await else {
        eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL rotation test");
        return;
    };
    rotation_conforms(url).await;
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let sdk = app.sdk();
    let s = create_stack(&app, &[READ]).await;
    for (secret, what) in [
        ("too_short_secret", "shorter than 24"),
        (&*"a".repeat(65), "longer than 64"),
        ("has-a-hyphen-which-is-not-allowed", "outside [\\w+]"),
        ("has a space which is not allowed at all", "outside [\\w+]"),
    ] {
        let err = sdk
            .add_user_pool_client_secret()
            .user_pool_id(&s.pool_id)
            .client_id(&s.client_id)
            .client_secret(secret)
            .send()
            .await
            .unwrap_err();
        let (kind, message) = exception(&err);
        assert_eq!(kind, "InvalidParameterException", "{what}");
        assert!(message.contains("clientSecret"), "{what}: {message}");
    }
    // Unknown pool or client.
    let err = sdk
        .add_user_pool_client_secret()
        .user_pool_id("us-east-1_NoSuchPool")
        .client_id(&s.client_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(exception(&err).0, "ResourceNotFoundException");
    let err = sdk
        .list_user_pool_client_secrets()
        .user_pool_id(&s.pool_id)
        .client_id("nosuchclient")
        .send()
        .await
        .unwrap_err();
    assert_eq!(exception(&err).0, "ResourceNotFoundException");
    // Missing members and unknown members.
    let (kind, _) = app
        .admin_error(
            "DeleteUserPoolClientSecret",
            json!({"UserPoolId": s.pool_id, "ClientId": s.client_id}),
        )
        .await;
    assert_eq!(kind, "InvalidParameterException");
    // An unknown request member (here `ClientSecret` on a listing) is ignored, as Cognito
    // does for members a newer SDK may send; `newer_operations.rs` tests that rule.
    assert_eq!(secret_ids(&sdk, &s).await.len(), 1);
    assert_eq!(
        token_status(&app, &s.client_id, &s.client_secret).await.0,
        200
    );

    // A public client (no secret) cannot be given one, and lists none.
    let public = app
        .admin(
            "CreateUserPoolClient",
            json!({"UserPoolId": s.pool_id, "ClientName": "public"}),
        )
        .await;
    let public_id = public["UserPoolClient"]["ClientId"].as_str().unwrap();
    let err = sdk
        .add_user_pool_client_secret()
        .user_pool_id(&s.pool_id)
        .client_id(public_id)
        .send()
        .await
        .unwrap_err();
    let (kind, message) = exception(&err);
    assert_eq!(kind, "InvalidParameterException");
    assert!(
        message.contains("does not have a client secret"),
        "{message}"
    );
    let listed = sdk
        .list_user_pool_client_secrets()
        .user_pool_id(&s.pool_id)
        .client_id(public_id)
        .send()
        .await
        .unwrap();
    assert!(listed.client_secrets().is_empty());
    let described = app
        .admin(
            "DescribeUserPoolClient",
            json!({"UserPoolId": s.pool_id, "ClientId": public_id}),
        )
        .await;
    assert!(described["UserPoolClient"].get("ClientSecret").is_none());
}

/// Two replicas over one PostgreSQL database: a secret deleted through one is refused by the
/// other within a second (the grant cache keeps an entry at most `MAX_AGE`).
#[tokio::test]
async fn a_deleted_secret_is_refused_by_another_replica_within_a_second() {
    let Some(url) = fresh_postgres_database("auth_replica_test").await else {
        eprintln!("TEST_DATABASE_URL is not set: skipping the replica test");
        return;
    };
    let options = || Options {
        database_url: url.clone(),
        ..Options::default()
    };
    let a = TestApp::spawn_with(options()).await;
    let b = TestApp::spawn_with(options()).await;
    let s = create_stack(&a, &[READ]).await;
    let sdk = a.sdk();
    let old_id = secret_ids(&sdk, &s).await.remove(0);
    let added = sdk
        .add_user_pool_client_secret()
        .user_pool_id(&s.pool_id)
        .client_id(&s.client_id)
        .send()
        .await
        .unwrap();
    let new_secret = added
        .client_secret_descriptor()
        .unwrap()
        .client_secret_value()
        .unwrap()
        .to_owned();
    // Replica B caches the client with both secrets.
    assert_eq!(
        token_status(&b, &s.client_id, &s.client_secret).await.0,
        200
    );
    assert_eq!(token_status(&b, &s.client_id, &new_secret).await.0, 200);

    sdk.delete_user_pool_client_secret()
        .user_pool_id(&s.pool_id)
        .client_id(&s.client_id)
        .client_secret_id(&old_id)
        .send()
        .await
        .unwrap();
    let deleted_at = std::time::Instant::now();
    assert_eq!(
        token_status(&a, &s.client_id, &s.client_secret).await.0,
        401
    );
    // Poll B (no fixed sleep): it must refuse the old secret within a second of the delete.
    loop {
        let (status, _) = token_status(&b, &s.client_id, &s.client_secret).await;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            deleted_at.elapsed() < std::time::Duration::from_secs(1),
            "replica B still accepts the deleted secret after a second"
        );
        tokio::task::yield_now().await;
    }
    assert!(deleted_at.elapsed() < std::time::Duration::from_millis(1100));
    assert_eq!(token_status(&b, &s.client_id, &new_secret).await.0, 200);
}

/// A database made before client secrets had their own table keeps working: the client's
/// one secret becomes its first listed secret.
#[tokio::test]
async fn an_existing_sqlite_database_keeps_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let url = format!("sqlite://{}", db.display());
    // Apply only the migrations before 0003, as an older build did.
    let old_migrations = dir.path().join("migrations");
    std::fs::create_dir(&old_migrations).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for name in ["0001_initial.sql", "0002_key_token_use.sql"] {
        std::fs::copy(source.join(name), old_migrations.join(name)).unwrap();
    }
    {
        use sqlx::ConnectOptions as _;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(old_migrations.as_path())
            .await
            .unwrap()
            .run(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO user_pools VALUES ('us-east-1_Old', 'old', '{}', 1, 1)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO app_clients VALUES \
             ('oldclient', 'us-east-1_Old', 'old', 'old_secret_value_0123456789', $1, \
              1700000000000, 1700000000000)",
        )
        .bind(
            serde_json::to_string(&authorization_server::store::ClientSettings::default()).unwrap(),
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let app = TestApp::spawn_with(Options {
        database_url: url,
        ..Options::default()
    })
    .await;
    let listed = app
        .admin(
            "ListUserPoolClientSecrets",
            json!({"UserPoolId": "us-east-1_Old", "ClientId": "oldclient"}),
        )
        .await;
    assert_eq!(
        listed,
        json!({"ClientSecrets": [{
            "ClientSecretId": "oldclient--1700000000000",
            "ClientSecretCreateDate": 1_700_000_000.0,
        }]})
    );
    let described = app
        .admin(
            "DescribeUserPoolClient",
            json!({"UserPoolId": "us-east-1_Old", "ClientId": "oldclient"}),
        )
        .await;
    assert_eq!(
        described["UserPoolClient"]["ClientSecret"],
        "old_secret_value_0123456789"
    );
}
