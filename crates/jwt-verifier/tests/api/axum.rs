//! RFC 6750 responses of the axum layer, extractor and scope requirement.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use http_body_util::BodyExt;
use jwt_verifier::Claims;
use jwt_verifier::axum::{JwtAuthLayer, RequireScopeLayer};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::*;

async fn whoami(claims: Claims) -> String {
    claims.client_id().to_string()
}

fn router(app: &TestApp) -> Router {
    Router::new()
        .route("/schedule", get(whoami))
        .route_layer(RequireScopeLayer::all_of([READ]))
        .merge(
            Router::new()
                .route("/schedule/edit", get(whoami))
                .route_layer(RequireScopeLayer::any_of([UPDATE, "admin/all"])),
        )
        .merge(Router::new().route("/open", get(whoami)))
        .layer(JwtAuthLayer::new(app.verifier.clone()))
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    content_type: Option<String>,
    body: String,
}

async fn call(router: Router, path: &str, authorization: Option<&str>) -> Answer {
    let mut request = Request::get(path);
    if let Some(a) = authorization {
        request = request.header(header::AUTHORIZATION, a);
    }
    let response = router
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let challenge = header_text(header::WWW_AUTHENTICATE);
    let content_type = header_text(header::CONTENT_TYPE);
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        challenge,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn assert_problem(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/problem+json")
    );
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], "about:blank");
    assert!(body["title"].is_string() && body["detail"].is_string());
}

#[tokio::test]
async fn a_valid_token_with_the_scope_reaches_the_handler() {
    let app = TestApp::spawn().await;
    let answer = call(
        router(&app),
        "/schedule",
        Some(&format!("Bearer {}", app.token())),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, CLIENT);
    // The scheme is case-insensitive.
    let answer = call(
        router(&app),
        "/open",
        Some(&format!("bearer {}", app.token())),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge() {
    let app = TestApp::spawn().await;
    for authorization in [None, Some("Basic dXNlcjpwYXNz")] {
        let answer = call(router(&app), "/schedule", authorization).await;
        assert_problem(&answer, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.challenge.as_deref(), Some("Bearer"));
    }
    let with_realm = Router::new()
        .route("/open", get(whoami))
        .layer(JwtAuthLayer::new(app.verifier.clone()).realm("schedule"));
    let answer = call(with_realm, "/open", None).await;
    assert_eq!(
        answer.challenge.as_deref(),
        Some(r#"Bearer realm="schedule""#)
    );
}

#[tokio::test]
async fn a_malformed_authorization_header_is_400_invalid_request() {
    let app = TestApp::spawn().await;
    for bad in ["Bearer", "Bearer ", "Bearer a b c", "Bearer {json}"] {
        let answer = call(router(&app), "/schedule", Some(bad)).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
        let challenge = answer.challenge.unwrap();
        assert!(
            challenge.starts_with(r#"Bearer error="invalid_request", error_description=""#),
            "{challenge}"
        );
    }
    assert_eq!(app.issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn a_bad_token_is_401_invalid_token_without_echoing_it() {
    let app = TestApp::spawn().await;
    let mut expired = app.claims();
    expired["exp"] = json!(app.now() - 3600);
    let mut id_token = app.claims();
    id_token["token_use"] = json!("id");
    let cases = [
        (
            "garbage.garbage.garbage".to_owned(),
            "the token is malformed",
        ),
        (app.issuer.token(&expired), "the token expired"),
        (
            app.issuer.token(&id_token),
            "the token is not an access token",
        ),
        (
            app.issuer.access_token("someoneelse", [READ]),
            "the token client is not allowed",
        ),
    ];
    for (token, description) in cases {
        let answer = call(router(&app), "/schedule", Some(&format!("Bearer {token}"))).await;
        assert_problem(&answer, StatusCode::UNAUTHORIZED);
        let challenge = answer.challenge.unwrap();
        assert_eq!(
            challenge,
            format!(r#"Bearer error="invalid_token", error_description="{description}""#)
        );
        for part in token.split('.') {
            assert!(!challenge.contains(part) && !answer.body.contains(part));
        }
    }
}

#[tokio::test]
async fn a_missing_scope_is_403_insufficient_scope() {
    let app = TestApp::spawn().await;
    let token = app
        .issuer
        .access_token(CLIENT, ["user-schedule-service/schedule.read-all"]);
    let answer = call(router(&app), "/schedule", Some(&format!("Bearer {token}"))).await;
    assert_problem(&answer, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(&*format!(
            r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope", scope="{READ}""#
        ))
    );

    // any_of: one of the listed scopes is enough.
    let answer = call(
        router(&app),
        "/schedule/edit",
        Some(&format!("Bearer {}", app.token())),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer
            .challenge
            .unwrap()
            .ends_with(&format!(r#"scope="{UPDATE} admin/all""#))
    );
    let token = app.issuer.access_token(CLIENT, ["admin/all"]);
    let answer = call(
        router(&app),
        "/schedule/edit",
        Some(&format!("Bearer {token}")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    // A route without a requirement accepts any verified token.
    let answer = call(router(&app), "/open", Some(&format!("Bearer {token}"))).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreachable_jwks_is_503() {
    let app = TestApp::spawn().await;
    app.issuer.set_available(false);
    let answer = call(
        router(&app),
        "/schedule",
        Some(&format!("Bearer {}", app.token())),
    )
    .await;
    assert_problem(&answer, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.challenge, None);
}

#[tokio::test]
async fn the_extractor_without_the_layer_fails_closed() {
    let app = TestApp::spawn().await;
    let bare = Router::new().route("/open", get(whoami));
    let answer = call(bare, "/open", Some(&format!("Bearer {}", app.token()))).await;
    assert_problem(&answer, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge.as_deref(), Some("Bearer"));

    // So does a scope requirement without the layer.
    let bare = Router::new()
        .route("/schedule", get(|| async { "never" }))
        .route_layer(RequireScopeLayer::all_of([READ]));
    let answer = call(bare, "/schedule", Some(&format!("Bearer {}", app.token()))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn optional_claims_extractor() {
    let app = TestApp::spawn().await;
    async fn maybe(claims: Option<Claims>) -> &'static str {
        if claims.is_some() { "some" } else { "none" }
    }
    let bare = Router::new().route("/", get(maybe));
    assert_eq!(call(bare, "/", None).await.body, "none");
    let layered = Router::new()
        .route("/", get(maybe))
        .layer(JwtAuthLayer::new(app.verifier.clone()));
    assert_eq!(
        call(layered, "/", Some(&format!("Bearer {}", app.token())))
            .await
            .body,
        "some"
    );
}

async fn call_method(router: Router, method: &str, token: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri("/schedule")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    router.oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn require_scope_keeps_the_write_scope_off_get_on_the_same_path() {
    use jwt_verifier::axum::require_scope;
    let app = TestApp::spawn().await;
    let per_method = Router::new()
        .route(
            "/schedule",
            get(require_scope([READ], whoami)).post(require_scope([UPDATE], whoami)),
        )
        .layer(JwtAuthLayer::new(app.verifier.clone()));
    let read_only = app.issuer.access_token(CLIENT, [READ]);
    let write_only = app.issuer.access_token(CLIENT, [UPDATE]);

    // The write scope never leaks onto GET: a read-only token reads...
    assert_eq!(
        call_method(per_method.clone(), "GET", &read_only).await,
        StatusCode::OK
    );
    // ...and cannot write; a write-only token writes and cannot read.
    assert_eq!(
        call_method(per_method.clone(), "POST", &read_only).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call_method(per_method.clone(), "POST", &write_only).await,
        StatusCode::OK
    );
    assert_eq!(
        call_method(per_method, "GET", &write_only).await,
        StatusCode::FORBIDDEN
    );

    // The pitfall this API exists for: `MethodRouter::route_layer` applies the write
    // requirement to GET as well, so a read-only token is refused on GET.
    let naive = Router::new()
        .route(
            "/schedule",
            get(whoami)
                .post(whoami)
                .route_layer(RequireScopeLayer::all_of([UPDATE])),
        )
        .layer(JwtAuthLayer::new(app.verifier.clone()));
    assert_eq!(
        call_method(naive, "GET", &read_only).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_required_claim_value_is_enforced_and_custom_claims_reach_handlers() {
    use jwt_verifier::axum::RequireClaimLayer;

    async fn tenant(claims: Claims) -> Result<String, jwt_verifier::axum::AuthRejection> {
        let tenant: Option<String> = claims.get("tenant")?;
        let tier: Option<u32> = claims.get("tier")?;
        Ok(format!(
            "{} {}",
            tenant.unwrap_or_default(),
            tier.unwrap_or(0)
        ))
    }
    let app = TestApp::spawn().await;
    let router = Router::new()
        .route("/acme", get(tenant))
        .route_layer(RequireClaimLayer::equals("tenant", "acme"))
        .merge(Router::new().route("/any", get(tenant)))
        .layer(JwtAuthLayer::new(app.verifier.clone()));
    let signed = |extra: Value| {
        let mut claims = app.issuer.claims(CLIENT, [READ]);
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.issuer.token(&claims)
    };

    let acme = signed(json!({"tenant": "acme", "tier": 3}));
    let answer = call(router.clone(), "/acme", Some(&format!("Bearer {acme}"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "acme 3");

    for token in [
        signed(json!({"tenant": "globex"})),
        signed(json!({})),
        signed(json!({"tenant": ["acme"]})),
    ] {
        let answer = call(router.clone(), "/acme", Some(&format!("Bearer {token}"))).await;
        assert_problem(&answer, StatusCode::FORBIDDEN);
        assert_eq!(
            answer.challenge.as_deref(),
            Some(
                r#"Bearer error="insufficient_scope", error_description="the token lacks a required claim value""#
            )
        );
        assert!(!answer.body.contains("globex"));
    }
    let answer = call(router.clone(), "/acme", None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);

    // A claim of the wrong type, read with `?` in a handler: 403 as well.
    let wrong = signed(json!({"tenant": "acme", "tier": "gold"}));
    let answer = call(router, "/any", Some(&format!("Bearer {wrong}"))).await;
    assert_problem(&answer, StatusCode::FORBIDDEN);
}
