//! The store conformance suite, run on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

use std::sync::Arc;

use authorization_server::StoreError;
use authorization_server::store::{
    self, ClientRecord, ClientSettings, DomainRecord, KeyUse, ResourceServerRecord,
    ResourceServerScope, SigningKeyRecord, Store, UserPoolRecord,
};
use authorization_server::store::{LambdaConfig, PreTokenGenerationConfig};
use oauth_proto::ClientSecret;

fn pool(id: &str) -> UserPoolRecord {
    let mut settings = serde_json::Map::new();
    settings.insert("DeletionProtection".to_owned(), "INACTIVE".into());
    UserPoolRecord {
        id: id.to_owned(),
        name: format!("name of {id}"),
        settings,
        lambda_config: LambdaConfig::default(),
        created_ms: 1_700_000_000_123,
        modified_ms: 1_700_000_000_456,
    }
}

fn key(pool_id: &str, kid: &str, created_ms: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        pool_id: pool_id.to_owned(),
        kid: kid.to_owned(),
        pkcs8: vec![1, 2, 3, kid.len() as u8],
        n: format!("n-{kid}"),
        e: "AQAB".to_owned(),
        created_ms,
        token_use: KeyUse::Access,
    }
}

fn id_key(pool_id: &str, kid: &str, created_ms: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        token_use: KeyUse::Id,
        ..key(pool_id, kid, created_ms)
    }
}

fn client(pool_id: &str, client_id: &str, secret: Option<&str>) -> ClientRecord {
    ClientRecord {
        pool_id: pool_id.to_owned(),
        client_id: client_id.to_owned(),
        name: "articles-service".to_owned(),
        secret: secret.map(ClientSecret::new),
        settings: ClientSettings {
            allowed_oauth_flows_user_pool_client: true,
            allowed_oauth_flows: Some(vec!["client_credentials".to_owned()]),
            allowed_oauth_scopes: Some(vec!["rs/read".to_owned()]),
            access_token_validity: Some(60),
            ..ClientSettings::default()
        },
        created_ms: 1,
        modified_ms: 2,
    }
}

fn server(pool_id: &str, identifier: &str) -> ResourceServerRecord {
    ResourceServerRecord {
        pool_id: pool_id.to_owned(),
        identifier: identifier.to_owned(),
        name: identifier.to_owned(),
        scopes: vec![ResourceServerScope {
            scope_name: "read".to_owned(),
            scope_description: "Read".to_owned(),
        }],
    }
}

/// Every store must pass this.
async fn conformance(store: Arc<dyn Store>) {
    // Pools and keys.
    let (a, b) = ("us-east-1_AAAAAAAAA", "us-east-1_BBBBBBBBB");
    store
        .create_user_pool(&pool(b), &[key(b, "kid-b1", 10)])
        .await
        .unwrap();
    store
        .create_user_pool(&pool(a), &[id_key(a, "kid-a0", 10), key(a, "kid-a1", 10)])
        .await
        .unwrap();
    assert_eq!(store.user_pool(a).await.unwrap(), Some(pool(a)));
    assert_eq!(store.user_pool("us-east-1_missing00").await.unwrap(), None);
    let err = store
        .create_user_pool(&pool(a), &[key(a, "kid-a9", 10)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        store
            .signing_keys(a)
            .await
            .unwrap()
            .iter()
            .all(|k| k.kid != "kid-a9"),
        "the failed create wrote nothing"
    );
    let ids: Vec<String> = store
        .list_user_pools(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, [a, b]);
    let page: Vec<String> = store
        .list_user_pools(None, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(page, [a]);
    let page: Vec<String> = store
        .list_user_pools(Some(a), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(page, [b]);

    store.add_signing_key(&key(a, "kid-a2", 20)).await.unwrap();
    store
        .add_signing_key(&id_key(a, "kid-a3", 30))
        .await
        .unwrap();
    let keys = store.signing_keys(a).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["kid-a3", "kid-a2", "kid-a1", "kid-a0"]
    );
    assert_eq!(keys[0], id_key(a, "kid-a3", 30));
    assert_eq!(keys[1], key(a, "kid-a2", 20));

    // Clients.
    store
        .create_client(&client(a, "client1", Some("secret-1")))
        .await
        .unwrap();
    store
        .create_client(&client(a, "client0", None))
        .await
        .unwrap();
    let err = store
        .create_client(&client(b, "client1", None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "client ids are unique across pools: {err:?}"
    );
    let got = store.client("client1").await.unwrap().unwrap();
    assert_eq!(got.pool_id, a);
    assert!(got.secret.as_ref().unwrap().matches("secret-1"));
    assert_eq!(got.settings, client(a, "client1", None).settings);
    assert!(
        store
            .client("client0")
            .await
            .unwrap()
            .unwrap()
            .secret
            .is_none()
    );
    let listed: Vec<String> = store
        .list_clients(a, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(listed, ["client0", "client1"]);
    let listed: Vec<String> = store
        .list_clients(a, Some("client0"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(listed, ["client1"]);
    assert!(store.list_clients(b, None, 10).await.unwrap().is_empty());

    let mut updated = client(a, "client1", None);
    updated.name = "renamed".to_owned();
    updated.settings = ClientSettings::default();
    updated.modified_ms = 99;
    assert!(store.update_client(&updated).await.unwrap());
    let got = store.client("client1").await.unwrap().unwrap();
    assert_eq!((got.name.as_str(), got.modified_ms), ("renamed", 99));
    assert_eq!(got.settings, ClientSettings::default());
    assert!(
        got.secret.unwrap().matches("secret-1"),
        "update keeps the secret"
    );
    assert!(
        !store
            .update_client(&client(b, "client1", None))
            .await
            .unwrap(),
        "wrong pool"
    );
    assert!(!store.delete_client(b, "client1").await.unwrap());
    let context = store.token_context("client1").await.unwrap().unwrap();
    assert_eq!(context.client.client_id, "client1");
    assert!(!context.pool_has_domain);
    assert_eq!(
        context.signing_kid.as_deref(),
        Some("kid-a2"),
        "the newest access-token key signs, not a newer ID-token key"
    );
    assert_eq!(context.pre_token_generation, None);
    // The pool's pre token generation trigger reaches the token endpoint with the client,
    // and the other triggers are kept as given.
    let mut with_trigger = store.user_pool(a).await.unwrap().unwrap();
    let trigger = PreTokenGenerationConfig {
        lambda_version: "V3_0".to_owned(),
        lambda_arn: "arn:aws:lambda:us-east-1:123456789012:function:hook".to_owned(),
    };
    with_trigger.lambda_config = LambdaConfig {
        pre_token_generation: Some(trigger.clone()),
        other: serde_json::json!({"PreSignUp": "arn:aws:lambda:us-east-1:123456789012:function:x"})
            .as_object()
            .unwrap()
            .clone(),
    };
    assert!(store.update_user_pool(&with_trigger).await.unwrap());
    assert_eq!(
        store.user_pool(a).await.unwrap().unwrap().lambda_config,
        with_trigger.lambda_config
    );
    let context = store.token_context("client1").await.unwrap().unwrap();
    assert_eq!(context.pre_token_generation, Some(trigger));
    assert!(store.token_context("nobody").await.unwrap().is_none());
    assert!(store.delete_client(a, "client0").await.unwrap());
    assert!(store.client("client0").await.unwrap().is_none());

    // Resource servers.
    store
        .create_resource_server(&server(a, "rs"))
        .await
        .unwrap();
    store
        .create_resource_server(&server(a, "https://api.example.com"))
        .await
        .unwrap();
    store
        .create_resource_server(&server(b, "rs"))
        .await
        .unwrap();
    let err = store
        .create_resource_server(&server(a, "rs"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.resource_server(a, "rs").await.unwrap(),
        Some(server(a, "rs"))
    );
    let listed: Vec<String> = store
        .list_resource_servers(a, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.identifier)
        .collect();
    assert_eq!(listed, ["https://api.example.com", "rs"]);
    let mut changed = server(a, "rs");
    changed.scopes.clear();
    changed.name = "changed".to_owned();
    assert!(store.update_resource_server(&changed).await.unwrap());
    assert_eq!(store.resource_server(a, "rs").await.unwrap(), Some(changed));
    assert!(
        !store
            .update_resource_server(&server(a, "nope"))
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_resource_server(a, "https://api.example.com")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_resource_server(a, "https://api.example.com")
            .await
            .unwrap()
    );

    // Domains.
    let domain = |d: &str, p: &str| DomainRecord {
        domain: d.to_owned(),
        pool_id: p.to_owned(),
        created_ms: 5,
        managed_login_version: None,
    };
    store.create_domain(&domain("auth-a", a)).await.unwrap();
    assert!(
        matches!(
            store.create_domain(&domain("auth-a", b)).await.unwrap_err(),
            StoreError::Conflict(_)
        ),
        "domains are global"
    );
    assert!(
        matches!(
            store
                .create_domain(&domain("auth-a2", a))
                .await
                .unwrap_err(),
            StoreError::Conflict(_)
        ),
        "one domain per pool"
    );
    // UpdateUserPoolDomain: only the managed-login version changes, only for its pool.
    let mut managed = domain("auth-a", a);
    managed.managed_login_version = Some(2);
    assert!(store.update_domain(&managed).await.unwrap());
    assert_eq!(store.domain("auth-a").await.unwrap(), Some(managed.clone()));
    managed.pool_id = b.to_owned();
    assert!(!store.update_domain(&managed).await.unwrap());
    assert!(store.update_domain(&domain("auth-a", a)).await.unwrap());
    // UpdateUserPool: name, settings and modification time; an unknown pool is false.
    let mut pool = store.user_pool(a).await.unwrap().unwrap();
    pool.name = "renamed".to_owned();
    pool.settings
        .insert("UserPoolTags".to_owned(), serde_json::json!({"k": "v"}));
    pool.modified_ms += 1;
    assert!(store.update_user_pool(&pool).await.unwrap());
    assert_eq!(store.user_pool(a).await.unwrap(), Some(pool.clone()));
    pool.id = "us-east-1_nosuchpool".to_owned();
    assert!(!store.update_user_pool(&pool).await.unwrap());
    assert_eq!(
        store.domain("auth-a").await.unwrap(),
        Some(domain("auth-a", a))
    );
    assert_eq!(
        store.domain_of_pool(a).await.unwrap(),
        Some(domain("auth-a", a))
    );
    assert_eq!(store.domain_of_pool(b).await.unwrap(), None);
    assert!(
        store
            .token_context("client1")
            .await
            .unwrap()
            .unwrap()
            .pool_has_domain
    );
    assert!(!store.delete_domain(b, "auth-a").await.unwrap());
    assert!(store.delete_domain(a, "auth-a").await.unwrap());
    store.create_domain(&domain("auth-a", b)).await.unwrap();
    store
        .create_domain(&domain("auth-a-again", a))
        .await
        .unwrap();

    // Deleting a pool deletes what hangs off it, and nothing of other pools.
    assert!(store.delete_user_pool(a).await.unwrap());
    assert!(!store.delete_user_pool(a).await.unwrap());
    assert!(store.user_pool(a).await.unwrap().is_none());
    assert!(store.signing_keys(a).await.unwrap().is_empty());
    assert!(store.client("client1").await.unwrap().is_none());
    assert!(
        store
            .list_resource_servers(a, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.domain("auth-a-again").await.unwrap().is_none());
    assert_eq!(store.signing_keys(b).await.unwrap().len(), 1);
    assert!(store.resource_server(b, "rs").await.unwrap().is_some());
    assert_eq!(
        store.domain_of_pool(b).await.unwrap().unwrap().domain,
        "auth-a"
    );
}

#[tokio::test]
async fn sqlite_in_memory_conforms() {
    conformance(store::connect("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_file_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    conformance(store::connect(&url).await.unwrap()).await;
    let missing_dir = format!("sqlite://{}", dir.path().join("no/such/dir/x.db").display());
    assert!(store::connect(&missing_dir).await.is_err());
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_leaking_passwords() {
    let err = store::connect("mysql://root:hunter2@localhost/db")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn postgres_conforms() {
    let Some(url) = crate::helpers::fresh_postgres_database("authorization_server_test").await
    else {
        eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL conformance suite");
        return;
    };
    let store = store::connect(&url).await.unwrap();
    conformance(store).await;
}
