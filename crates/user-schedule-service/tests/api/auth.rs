//! Every route × {no token, malformed header, invalid token, only schedule.read, only
//! schedule.update, both}: status and `WWW-Authenticate`, with tokens from
//! jwt-verifier's `TestIssuer`.

use axum::http::{Method, StatusCode, header};
use jwt_verifier::test_util::TestIssuer;
use serde_json::{Value, json};

use crate::helpers::{CLIENT_ID, READ, TestApp, UPDATE, event_body};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Read,
    Update,
}

#[derive(Debug, Clone, Copy)]
struct Route {
    method: &'static str,
    need: Need,
    success: StatusCode,
}

const ROUTES: [Route; 5] = [
    Route {
        method: "list",
        need: Need::Read,
        success: StatusCode::OK,
    },
    Route {
        method: "create",
        need: Need::Update,
        success: StatusCode::CREATED,
    },
    Route {
        method: "get",
        need: Need::Read,
        success: StatusCode::OK,
    },
    Route {
        method: "replace",
        need: Need::Update,
        success: StatusCode::OK,
    },
    Route {
        method: "delete",
        need: Need::Update,
        success: StatusCode::NO_CONTENT,
    },
];

/// Sends `route` for a fresh event of alice's with `authorization`.
async fn call(
    app: &TestApp,
    route: Route,
    authorization: Option<&str>,
) -> crate::helpers::TestResponse {
    // Set up with the default token (both scopes).
    let created = app.create_event("alice", &event_body("fixture", 9)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    let (method, uri, body): (Method, String, Option<Value>) = match route.method {
        "list" => (Method::GET, "/users/alice/schedule".to_owned(), None),
        "create" => (
            Method::POST,
            "/users/alice/schedule/events".to_owned(),
            Some(event_body("new", 10)),
        ),
        "get" => (
            Method::GET,
            format!("/users/alice/schedule/events/{id}"),
            None,
        ),
        "replace" => (
            Method::PUT,
            format!("/users/alice/schedule/events/{id}"),
            Some(event_body("replaced", 11)),
        ),
        "delete" => (
            Method::DELETE,
            format!("/users/alice/schedule/events/{id}"),
            None,
        ),
        other => panic!("unknown route {other}"),
    };
    let mut request = app.request(method, &uri, body.as_ref());
    request.headers_mut().remove(header::AUTHORIZATION);
    if let Some(auth) = authorization {
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, auth.parse().unwrap());
    }
    app.send(request).await
}

fn challenge(response: &crate::helpers::TestResponse) -> &str {
    response
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("no WWW-Authenticate: {} {}", response.status, response.text))
}

#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge() {
    let app = TestApp::spawn().await;
    for route in ROUTES {
        let response = call(&app, route, None).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{route:?}");
        assert_eq!(challenge(&response), "Bearer", "{route:?}");
        // Another scheme counts as no bearer token.
        let response = call(&app, route, Some("Basic YWxpY2U6c2VjcmV0")).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{route:?}");
        assert_eq!(challenge(&response), "Bearer", "{route:?}");
    }
}

#[tokio::test]
async fn malformed_header_is_400_invalid_request() {
    let app = TestApp::spawn().await;
    for route in ROUTES {
        for header in ["Bearer", "Bearer ", "Bearer a b"] {
            let response = call(&app, route, Some(header)).await;
            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{route:?} {header:?}"
            );
            assert!(
                challenge(&response).starts_with("Bearer error=\"invalid_request\""),
                "{route:?} {header:?}: {}",
                challenge(&response)
            );
        }
    }
}

#[tokio::test]
async fn invalid_tokens_are_401_invalid_token() {
    let app = TestApp::spawn().await;
    let stranger = TestIssuer::start().await;
    let mut expired = app.issuer.claims(CLIENT_ID, [READ, UPDATE]);
    expired["exp"] = json!(1_000);
    expired["iat"] = json!(900);
    expired["auth_time"] = json!(900);
    let invalid = [
        "not.a.jwt".to_owned(),
        // Signed by a key the verifier does not trust (another issuer).
        stranger.access_token(CLIENT_ID, [READ, UPDATE]),
        // A client the verifier does not allow.
        app.issuer.access_token("someoneelse", [READ, UPDATE]),
        app.issuer.token(&expired),
    ];
    for route in ROUTES {
        for token in &invalid {
            let response = call(&app, route, Some(&format!("Bearer {token}"))).await;
            assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{route:?}");
            let challenge = challenge(&response);
            assert!(
                challenge.starts_with("Bearer error=\"invalid_token\""),
                "{route:?}: {challenge}"
            );
            assert!(
                !challenge.contains(token.as_str()),
                "the token is never echoed"
            );
        }
    }
}

async fn check_scopes(scopes: &[&str]) {
    let app = TestApp::spawn().await;
    let token = format!(
        "Bearer {}",
        app.issuer.access_token(CLIENT_ID, scopes.iter().copied())
    );
    for route in ROUTES {
        let needed = match route.need {
            Need::Read => READ,
            Need::Update => UPDATE,
        };
        let response = call(&app, route, Some(&token)).await;
        if scopes.contains(&needed) {
            assert_eq!(
                response.status, route.success,
                "{route:?} {scopes:?}: {}",
                response.text
            );
            assert_eq!(response.header("www-authenticate"), None);
        } else {
            assert_eq!(
                response.status,
                StatusCode::FORBIDDEN,
                "{route:?} {scopes:?}"
            );
            let challenge = challenge(&response);
            assert!(
                challenge.starts_with("Bearer error=\"insufficient_scope\""),
                "{challenge}"
            );
            assert!(
                challenge.contains(&format!("scope=\"{needed}\"")),
                "{challenge}"
            );
        }
    }
}

#[tokio::test]
async fn only_read_scope_reads_and_is_refused_writes() {
    check_scopes(&[READ]).await;
}

#[tokio::test]
async fn only_update_scope_writes_and_is_refused_reads() {
    check_scopes(&[UPDATE]).await;
}

#[tokio::test]
async fn both_scopes_do_everything() {
    check_scopes(&[READ, UPDATE]).await;
}

#[tokio::test]
async fn refused_writes_change_nothing() {
    let app = TestApp::spawn().await;
    let read_only = format!("Bearer {}", app.issuer.access_token(CLIENT_ID, [READ]));
    let created = app.create_event("alice", &event_body("keep", 1)).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let mut reader = TestApp {
        authorization: Some(read_only),
        ..app
    };
    assert_eq!(
        reader.create_event("bob", &event_body("x", 1)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        reader
            .replace_event("alice", &id, &event_body("x", 1), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        reader.delete_event("alice", &id, None).await.status,
        StatusCode::FORBIDDEN
    );
    let after = reader.get_event("alice", &id).await;
    assert_eq!(after.body, created.body);
    assert_eq!(reader.list_schedule("bob", "").await.status, StatusCode::OK);
    reader.authorization = None;
    assert_eq!(
        reader.get_event("alice", &id).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_custom_resource_server_changes_the_scopes() {
    let config = user_schedule_service::Config {
        resource_server: "https://schedules.example.com".to_owned(),
        ..Default::default()
    };
    let mut app = TestApp::spawn_with(config).await;
    // The default scopes no longer grant anything.
    let response = app.list_schedule("alice", "").await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(
        challenge(&response).contains("scope=\"https://schedules.example.com/schedule.read\""),
        "{}",
        challenge(&response)
    );
    app.authorization = Some(format!(
        "Bearer {}",
        app.issuer.access_token(
            CLIENT_ID,
            [
                "https://schedules.example.com/schedule.read",
                "https://schedules.example.com/schedule.update"
            ]
        )
    ));
    assert_eq!(
        app.create_event("alice", &event_body("x", 1)).await.status,
        StatusCode::CREATED
    );
    let doc = app.get("/openapi.json").await;
    assert_eq!(
        doc.body["paths"]["/users/{user_id}/schedule"]["get"]["security"][0]["bearer"][0],
        "https://schedules.example.com/schedule.read"
    );
}

#[tokio::test]
async fn operations_endpoints_need_no_token() {
    let mut app = TestApp::spawn().await;
    app.authorization = None;
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(app.get(path).await.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn readyz_is_503_until_the_issuer_keys_load() {
    let issuer = TestIssuer::start().await;
    issuer.set_available(false);
    let verifier = jwt_verifier::Verifier::builder()
        .issuer(issuer.issuer())
        .client_id(CLIENT_ID)
        .build()
        .unwrap();
    let store = user_schedule_service::store::connect("sqlite::memory:")
        .await
        .unwrap();
    let state = user_schedule_service::AppState::new(
        Default::default(),
        store,
        verifier.clone(),
        std::sync::Arc::new(oauth_proto::time::SystemClock),
    );
    let app = TestApp {
        router: user_schedule_service::router(state),
        ..TestApp::spawn().await
    };
    let response = app.get("/readyz").await;
    let problem = response.problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("issuer signing keys"),
        "{problem}"
    );
    assert!(!verifier.has_keys());
    // The probe itself fetches the keys once the issuer answers: no token is needed.
    issuer.set_available(true);
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    assert!(verifier.has_keys());
}
