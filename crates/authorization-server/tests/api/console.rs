//! The operator console over plain HTTP (the browser walkthrough is in `crates/e2e`):
//! security headers and cookie, CSRF and Origin/Host checks on every post, changes through
//! the admin operations (refusals shown with the API's message, nothing changed), a
//! secret's value shown once, sign-in with the admin credentials, and the token activity.

use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::json;

use crate::helpers::{
    ACCESS_KEY_ID, Options, READ, SECRET_ACCESS_KEY, Stack, TestApp, UPDATE, create_stack,
};

/// A browser-like client: no redirects followed, cookies by hand.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// GETs a page with the session cookie; returns the status, the `Set-Cookie` session (if
/// any) and the body.
async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = client().get(format!("{}{path}", app.url));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let set = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    (status, set, response.text().await.unwrap())
}

/// The CSRF token in a page's forms.
fn csrf(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    page[start..].split('"').next().unwrap().to_owned()
}

async fn post(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
    origin: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut request = client()
        .post(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .form(form);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    (status, location, response.text().await.unwrap())
}

async fn scopes_of(app: &TestApp, stack: &Stack) -> Vec<String> {
    let described = app
        .admin(
            "DescribeUserPoolClient",
            json!({"UserPoolId": stack.pool_id, "ClientId": stack.client_id}),
        )
        .await;
    serde_json::from_value(described["UserPoolClient"]["AllowedOAuthScopes"].clone()).unwrap()
}

#[tokio::test]
async fn pages_are_served_with_a_strict_policy_and_a_strict_cookie() {
    let app = TestApp::spawn().await;
    let stack = create_stack(&app, &[READ]).await;
    let response = client()
        .get(format!("{}/console", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    let policy = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.starts_with("default-src 'self'; script-src 'self'"));
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    let cookie = headers[SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Strict"),
        "{cookie}"
    );
    assert!(cookie.contains("Path=/console"));
    let page = response.text().await.unwrap();
    assert!(page.contains(&stack.pool_id));
    assert!(!page.contains("<script>"), "no inline script");

    // The client's page never shows its secret.
    let (status, _, page) = get(
        &app,
        &format!(
            "/console/pools/{}/clients/{}",
            stack.pool_id, stack.client_id
        ),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page.contains(UPDATE),
        "every scope of the pool is a checkbox"
    );
    assert!(!page.contains(&stack.client_secret));

    // Text from the store is escaped.
    app.admin(
        "CreateResourceServer",
        json!({
            "UserPoolId": stack.pool_id,
            "Identifier": "evil",
            "Name": "evil",
            "Scopes": [{"ScopeName": "x", "ScopeDescription": "<script>alert(1)</script>"}],
        }),
    )
    .await;
    let (_, _, page) = get(
        &app,
        &format!("/console/pools/{}/resource-servers", stack.pool_id),
        None,
    )
    .await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"));
}

#[tokio::test]
async fn a_grant_needs_the_session_csrf_token_and_the_server_origin() {
    let app = TestApp::spawn().await;
    let stack = create_stack(&app, &[READ]).await;
    let page_path = format!(
        "/console/pools/{}/clients/{}",
        stack.pool_id, stack.client_id
    );
    let (_, cookie, page) = get(&app, &page_path, None).await;
    let cookie = cookie.unwrap();
    let token = csrf(&page);
    let action = format!("{page_path}/scopes");
    let grant = [("scope", READ), ("scope", UPDATE)];

    // No token, a wrong token, no session, another origin, another Host: all refused.
    let (status, _, body) = post(&app, &action, &cookie, &grant, None).await;
    assert_eq!(status, 403);
    assert!(body.contains("CSRF token is missing"));
    let mut wrong = grant.to_vec();
    wrong.push(("csrf", "0000"));
    assert_eq!(post(&app, &action, &cookie, &wrong, None).await.0, 403);
    let mut good = grant.to_vec();
    good.push(("csrf", &token));
    assert_eq!(
        post(&app, &action, "s2s_console=forged", &good, None)
            .await
            .0,
        403
    );
    assert_eq!(
        post(&app, &action, &cookie, &good, Some("http://evil.example"))
            .await
            .0,
        403
    );
    let rebound = client()
        .post(format!("{}{action}", app.url))
        .header("host", "evil.example")
        .header("cookie", &cookie)
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rebound.status(),
        403,
        "DNS rebinding: Host must name this server"
    );
    assert_eq!(scopes_of(&app, &stack).await, [READ]);

    // With the token (and the server's own origin): granted, then back to the page.
    let (status, location, _) = post(&app, &action, &cookie, &good, Some(&app.url)).await;
    assert_eq!(status, 303);
    assert_eq!(location.unwrap(), page_path);
    assert_eq!(scopes_of(&app, &stack).await, [READ, UPDATE]);
    let (_, _, page) = get(&app, &page_path, Some(&cookie)).await;
    assert!(page.contains("Scopes saved"));
    let token_response = app
        .token_request(
            &[("grant_type", "client_credentials"), ("scope", UPDATE)],
            Some((&stack.client_id, &stack.client_secret)),
        )
        .await;
    assert_eq!(token_response.status(), 200, "the grant is in effect");
}

#[tokio::test]
async fn invalid_changes_show_the_api_message_and_change_nothing() {
    let app = TestApp::spawn().await;
    let stack = create_stack(&app, &[READ]).await;
    let page_path = format!(
        "/console/pools/{}/clients/{}",
        stack.pool_id, stack.client_id
    );
    let (_, cookie, page) = get(&app, &page_path, None).await;
    let cookie = cookie.unwrap();
    let token = csrf(&page);

    let validity = format!("{page_path}/validity");
    let (status, _, body) = post(
        &app,
        &validity,
        &cookie,
        &[
            ("csrf", &token),
            ("access_token_validity", "2"),
            ("unit", "days"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidParameterException: Invalid range for token validity."));
    let (status, _, body) = post(
        &app,
        &validity,
        &cookie,
        &[
            ("csrf", &token),
            ("access_token_validity", "0"),
            ("unit", "minutes"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("1 validation error detected"), "{body}");
    let (status, _, body) = post(
        &app,
        &format!("{page_path}/scopes"),
        &cookie,
        &[("csrf", &token), ("scope", "user-schedule-service/nope")],
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("ScopeDoesNotExistException"), "{body}");
    let described = app
        .admin(
            "DescribeUserPoolClient",
            json!({"UserPoolId": stack.pool_id, "ClientId": stack.client_id}),
        )
        .await;
    assert_eq!(described["UserPoolClient"]["AccessTokenValidity"], 60);
    assert_eq!(scopes_of(&app, &stack).await, [READ]);

    // A valid change keeps the rest of the configuration (UpdateUserPoolClient replaces).
    let (status, _, _) = post(
        &app,
        &validity,
        &cookie,
        &[
            ("csrf", &token),
            ("access_token_validity", "2"),
            ("unit", "hours"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 303);
    let described = app
        .admin(
            "DescribeUserPoolClient",
            json!({"UserPoolId": stack.pool_id, "ClientId": stack.client_id}),
        )
        .await;
    let client = &described["UserPoolClient"];
    assert_eq!(client["AccessTokenValidity"], 2);
    assert_eq!(client["TokenValidityUnits"]["AccessToken"], "hours");
    assert_eq!(client["AllowedOAuthFlows"], json!(["client_credentials"]));
    assert_eq!(client["AllowedOAuthScopes"], json!([READ]));
    assert_eq!(client["ClientSecret"], stack.client_secret.as_str());
}

#[tokio::test]
async fn a_new_secret_is_shown_once_and_a_key_rotation_adds_a_signing_key() {
    let app = TestApp::spawn().await;
    let stack = create_stack(&app, &[READ]).await;
    let page_path = format!(
        "/console/pools/{}/clients/{}",
        stack.pool_id, stack.client_id
    );
    let (_, cookie, page) = get(&app, &page_path, None).await;
    let cookie = cookie.unwrap();
    let token = csrf(&page);

    let (status, _, body) = post(
        &app,
        &format!("{page_path}/secrets"),
        &cookie,
        &[("csrf", &token)],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let needle = "id=\"new-secret\" type=\"text\" readonly value=\"";
    let start = body.find(needle).unwrap() + needle.len();
    let value = body[start..].split('"').next().unwrap().to_owned();
    assert_eq!(value.len(), 52);
    assert_eq!(
        app.token_request(
            &[("grant_type", "client_credentials")],
            Some((&stack.client_id, &value)),
        )
        .await
        .status(),
        200
    );
    let (_, _, page) = get(&app, &page_path, Some(&cookie)).await;
    assert!(!page.contains(&value), "shown once");
    assert!(!page.contains(&stack.client_secret));
    // A third secret is refused with the API's LimitExceededException.
    let (status, _, body) = post(
        &app,
        &format!("{page_path}/secrets"),
        &cookie,
        &[("csrf", &token)],
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("LimitExceededException"));

    let before = app.jwks(&stack.pool_id).await.keys.len();
    let (status, location, _) = post(
        &app,
        &format!("/console/pools/{}/keys/rotate", stack.pool_id),
        &cookie,
        &[("csrf", &token)],
        None,
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        location.unwrap(),
        format!("/console/pools/{}", stack.pool_id)
    );
    let jwks = app.jwks(&stack.pool_id).await;
    assert_eq!(jwks.keys.len(), before + 1);
    let (_, _, page) = get(&app, &location_page(&stack), Some(&cookie)).await;
    assert!(page.contains("Signing key rotated"));
    // The newest key signs: its kid is in the rotation notice and on the signing row.
    let signing = page
        .split("<tr class=\"signing\"><td><code class=\"kid\">")
        .nth(1)
        .unwrap();
    let kid = signing.split('<').next().unwrap();
    assert!(jwks.keys.iter().any(|k| k.kid == kid));
    assert!(page.contains(&format!("Signing key rotated: {kid} signs")));
}

fn location_page(stack: &Stack) -> String {
    format!("/console/pools/{}", stack.pool_id)
}

#[tokio::test]
async fn with_admin_credentials_the_console_needs_a_sign_in() {
    let app = TestApp::spawn_with(Options {
        credentials: true,
        ..Options::default()
    })
    .await;
    let (status, cookie, _) = get(&app, "/console", None).await;
    assert_eq!(status, 303);
    let anonymous = cookie.unwrap();
    let (status, _, page) = get(&app, "/console/login", Some(&anonymous)).await;
    assert_eq!(status, 200);
    let token = csrf(&page);

    // A post of the anonymous session is refused; a wrong secret too.
    assert_eq!(
        post(&app, "/console/logout", &anonymous, &[("csrf", "x")], None)
            .await
            .0,
        403
    );
    let (status, _, body) = post(
        &app,
        "/console/login",
        &anonymous,
        &[
            ("csrf", &token),
            ("access_key_id", ACCESS_KEY_ID),
            ("secret_access_key", "wrong"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert!(body.contains("is wrong"));
    assert_eq!(get(&app, "/console", Some(&anonymous)).await.0, 303);

    // The right key: a new session id (the anonymous one is gone).
    let response = client()
        .post(format!("{}/console/login", app.url))
        .header("cookie", &anonymous)
        .form(&[
            ("csrf", token.as_str()),
            ("access_key_id", ACCESS_KEY_ID),
            ("secret_access_key", SECRET_ACCESS_KEY),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let signed_in = response.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(signed_in, anonymous);
    let (status, _, page) = get(&app, "/console", Some(&signed_in)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Sign out"));
    assert_eq!(get(&app, "/console", Some(&anonymous)).await.0, 303);

    // Sign out: the session is forgotten.
    let token = csrf(&page);
    let (status, location, _) = post(
        &app,
        "/console/logout",
        &signed_in,
        &[("csrf", &token)],
        None,
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location.unwrap(), "/console/login");
    assert_eq!(get(&app, "/console", Some(&signed_in)).await.0, 303);
}

#[tokio::test]
async fn token_activity_lists_issued_and_refused_requests() {
    let app = TestApp::spawn().await;
    let stack = create_stack(&app, &[READ]).await;
    let issued = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&stack.client_id, &stack.client_secret)),
        )
        .await;
    assert_eq!(issued.status(), 200);
    let refused = app
        .token_request(
            &[("grant_type", "client_credentials"), ("scope", UPDATE)],
            Some((&stack.client_id, &stack.client_secret)),
        )
        .await;
    assert_eq!(refused.status(), 400);
    let (status, _, page) = get(&app, "/console/activity", None).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("refused: <code>invalid_scope</code>"),
        "{page}"
    );
    assert!(
        page.contains(&format!("<td><code>{READ}</code></td>")),
        "{page}"
    );
    assert!(page.contains(">articles-service</a>"));
    assert!(page.contains("1 issued, 1 refused"));
    assert!(!page.contains(&stack.client_secret));
}
