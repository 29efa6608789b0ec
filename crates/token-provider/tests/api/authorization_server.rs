//! Against the real `authorization-server` router, in process over loopback HTTP, with the
//! pool, domain, resource server and client provisioned through the AWS SDK.

use std::sync::Arc;
use std::time::Duration;

use authorization_server::{AppState, Config, router, serve, store};
use aws_sdk_cognitoidentityprovider as cognito;
use cognito::types::{OAuthFlowType, ResourceServerScopeType};
use futures::FutureExt as _;
use oauth_proto::time::{Clock, ManualClock};
use token_provider::{
    ClientAuth, ClientId, ClientSecret, ErrorCode, Scopes, TokenError, TokenProvider,
};
use tokio::sync::oneshot;

const READ: &str = "user-schedule-service/schedule.read";
const UPDATE: &str = "user-schedule-service/schedule.update";

struct Server {
    url: String,
    _shutdown: oneshot::Sender<()>,
}

async fn spawn_server(clock: ManualClock) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let store = store::connect("sqlite::memory:").await.unwrap();
    let state = AppState::new(Config::new(url.clone()), store, Arc::new(clock));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), router(state), async move {
        let _ = rx.await;
    }));
    Server { url, _shutdown: tx }
}

fn sdk(url: &str) -> cognito::Client {
    let config = cognito::Config::builder()
        .behavior_version(cognito::config::BehaviorVersion::latest())
        .region(cognito::config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .endpoint_url(url)
        .build();
    cognito::Client::from_conf(config)
}

fn scope(name: &str) -> ResourceServerScopeType {
    ResourceServerScopeType::builder()
        .scope_name(name)
        .scope_description(name)
        .build()
        .unwrap()
}

struct Client {
    pool_id: String,
    client_id: String,
    secret: String,
}

/// Pool, domain, resource server `user-schedule-service` with two scopes, and a
/// client-credentials client allowed `schedule.read` only.
async fn provision(sdk: &cognito::Client) -> Client {
    let pool = sdk
        .create_user_pool()
        .pool_name("token-provider-test")
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    sdk.create_user_pool_domain()
        .user_pool_id(&pool_id)
        .domain("token-provider-test")
        .send()
        .await
        .unwrap();
    sdk.create_resource_server()
        .user_pool_id(&pool_id)
        .identifier("user-schedule-service")
        .name("user-schedule-service")
        .scopes(scope("schedule.read"))
        .scopes(scope("schedule.update"))
        .send()
        .await
        .unwrap();
    let client = sdk
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("articles-service")
        .generate_secret(true)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes(READ)
        .send()
        .await
        .unwrap();
    let client = client.user_pool_client().unwrap();
    Client {
        pool_id,
        client_id: client.client_id().unwrap().to_owned(),
        secret: client.client_secret().unwrap().to_owned(),
    }
}

fn builder_for(
    server: &Server,
    client: &Client,
    secret: &str,
    auth: ClientAuth,
    clock: &ManualClock,
) -> token_provider::TokenProviderBuilder {
    TokenProvider::builder()
        .token_url(format!("{}/oauth2/token", server.url))
        .client_id(ClientId::parse(&client.client_id).unwrap())
        .client_secret(ClientSecret::new(secret))
        .auth(auth)
        .clock(Arc::new(clock.clone()))
        .refresh_jitter(0.0)
        .max_attempts(1)
}

fn scopes(list: &str) -> Scopes {
    list.parse().unwrap()
}

/// The scopes a token carries, in any order.
#[track_caller]
fn assert_scopes(token: &token_provider::AccessToken, expected: &str) {
    let expected = scopes(expected);
    let got = token.scopes().expect("the token has no scope claim");
    assert!(
        got.contains_all(&expected) && expected.contains_all(got),
        "{got:?} is not {expected:?}"
    );
}

#[tokio::test]
async fn tokens_from_the_authorization_server_with_both_auth_methods() {
    let clock = ManualClock::at_unix(crate::helpers::START_UNIX);
    let server = spawn_server(clock.clone()).await;
    let sdk = sdk(&server.url);
    let client = provision(&sdk).await;

    for auth in [ClientAuth::Basic, ClientAuth::Post] {
        let provider = builder_for(&server, &client, &client.secret, auth, &clock)
            .build()
            .unwrap();
        let token = provider.token().await.unwrap();
        assert_scopes(&token, READ);
        assert_eq!(
            token.expires_at(),
            clock.now() + Duration::from_secs(3600),
            "{auth:?}: Cognito's default validity is one hour"
        );
        assert_eq!(provider.stats().requests, 1);

        let wrong = builder_for(&server, &client, "not-the-secret", auth, &clock)
            .build()
            .unwrap();
        let error = wrong.token().await.unwrap_err();
        assert_eq!(
            error.oauth_code(),
            Some(&ErrorCode::InvalidClient),
            "{auth:?}: {error:?}"
        );
        assert!(matches!(error, TokenError::Oauth { .. }));
    }

    // A scope the client is not allowed.
    let greedy = builder_for(&server, &client, &client.secret, ClientAuth::Basic, &clock)
        .scopes(scopes(UPDATE))
        .build()
        .unwrap();
    let error = greedy.token().await.unwrap_err();
    assert_eq!(
        error.oauth_code(),
        Some(&ErrorCode::InvalidScope),
        "{error:?}"
    );
}

#[tokio::test]
async fn scope_granted_later_appears_after_the_next_refresh() {
    let clock = ManualClock::at_unix(crate::helpers::START_UNIX);
    let server = spawn_server(clock.clone()).await;
    let sdk = sdk(&server.url);
    let client = provision(&sdk).await;
    let provider = builder_for(&server, &client, &client.secret, ClientAuth::Basic, &clock)
        .build()
        .unwrap();
    let first = provider.token().await.unwrap();
    assert_scopes(&first, READ);

    // UpdateUserPoolClient replaces the whole client: send every OAuth setting again.
    sdk.update_user_pool_client()
        .user_pool_id(&client.pool_id)
        .client_id(&client.client_id)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_scopes(READ)
        .allowed_o_auth_scopes(UPDATE)
        .send()
        .await
        .unwrap();

    // The cached token is still served as it is: no request per call.
    assert_scopes(&provider.token().await.unwrap(), READ);
    assert_eq!(provider.stats().requests, 1);

    // 50 minutes later the refresh is due: the next call still returns the cached token
    // at once and starts the refresh in the background; joining it gives the new token.
    clock.advance(Duration::from_secs(50 * 60));
    let during = provider.token().now_or_never().unwrap().unwrap();
    assert_scopes(&during, READ);
    let refreshed = provider.refresh().await.unwrap();
    assert_scopes(&refreshed, &format!("{READ} {UPDATE}"));
    assert_eq!(provider.token().await.unwrap().secret(), refreshed.secret());
    assert_eq!(provider.stats().requests, 2, "the refresh was not shared");
}
