//! The audit trail: one CloudTrail-shaped event per token request and admin write, with
//! no secret and no token in it, and a token endpoint that never waits for the writer.

use authorization_server::audit::{AuditLog, DEFAULT_CAPACITY, HIDDEN};
use serde_json::{Value, json};

use crate::helpers::{Options, READ, TestApp, UPDATE, create_stack};

/// A server whose trail goes to a file; `finish` stops both and returns the events.
struct Audited {
    app: TestApp,
    writer: authorization_server::audit::AuditWriter,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Audited {
    async fn spawn() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .unwrap();
        let (audit, writer) = AuditLog::spawn(file, DEFAULT_CAPACITY);
        let app = TestApp::spawn_with(Options {
            audit: Some(audit),
            ..Options::default()
        })
        .await;
        Self {
            app,
            writer,
            path,
            _dir: dir,
        }
    }

    /// Stops the server, writes what is queued, and returns the file's text and events.
    async fn finish(self) -> (String, Vec<Value>) {
        self.app.stop().await;
        self.writer.finish().await;
        let text = std::fs::read_to_string(&self.path).unwrap();
        let events = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        (text, events)
    }
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["eventName"] == name).collect()
}

#[tokio::test]
async fn token_requests_and_admin_writes_are_recorded_without_secrets_or_tokens() {
    let audited = Audited::spawn().await;
    let app = &audited.app;
    let stack = create_stack(app, &[READ]).await;
    // A read is not recorded.
    app.admin("DescribeUserPool", json!({"UserPoolId": stack.pool_id}))
        .await;

    // Issued.
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&stack.client_id, &stack.client_secret)),
        )
        .await;
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims =
        crate::helpers::verify_token(app, &stack.pool_id, &token, &stack.client_id, &[READ], 3600)
            .await;
    // Refused: a scope the client is not allowed, then a wrong secret.
    let response = app
        .token_request(
            &[("grant_type", "client_credentials"), ("scope", UPDATE)],
            Some((&stack.client_id, &stack.client_secret)),
        )
        .await;
    assert_eq!(response.status(), 400);
    let response = app
        .token_request(
            &[("grant_type", "client_credentials")],
            Some((&stack.client_id, "wrong-secret")),
        )
        .await;
    assert_eq!(response.status(), 401);
    // GetClientToken with the real secret, refused (the client lacks the flow): the
    // secret is in the request body and must not reach the log.
    let (kind, _) = app
        .admin_error(
            "GetClientToken",
            json!({"ClientId": stack.client_id, "Secret": stack.client_secret}),
        )
        .await;
    assert_eq!(kind, "NotAuthorizedException");

    let (text, events) = audited.finish().await;

    // Never a secret, never the token (nor its signature).
    assert!(!text.contains(&stack.client_secret), "secret in the log");
    assert!(!text.contains(&token), "token in the log");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!text.contains(signature), "token signature in the log");
    assert!(!text.to_ascii_lowercase().contains("authorization"));

    // Every event has CloudTrail's envelope.
    for event in &events {
        assert_eq!(event["eventVersion"], "1.08");
        assert_eq!(event["eventSource"], "cognito-idp.amazonaws.com");
        assert_eq!(event["awsRegion"], "us-east-1");
        assert_eq!(event["sourceIPAddress"], "127.0.0.1");
        assert_eq!(event["eventID"].as_str().unwrap().len(), 36);
        assert!(event["requestID"].is_string(), "{event}");
        let time = event["eventTime"].as_str().unwrap();
        assert!(time.ends_with('Z') && time.len() == 20, "{time}");
    }

    // The admin writes, each with its operation and pool; no read.
    assert!(named(&events, "DescribeUserPool").is_empty());
    let created = named(&events, "CreateUserPool");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["eventType"], "AwsApiCall");
    assert_eq!(created[0]["readOnly"], false);
    assert_eq!(created[0]["requestParameters"]["poolName"], "s2s-demo");
    assert_eq!(
        created[0]["additionalEventData"]["userPoolId"],
        stack.pool_id
    );
    let client = named(&events, "CreateUserPoolClient");
    assert_eq!(client.len(), 1);
    assert_eq!(client[0]["requestParameters"]["userPoolId"], stack.pool_id);
    assert_eq!(
        client[0]["responseElements"]["userPoolClient"]["clientSecret"],
        HIDDEN
    );
    assert_eq!(
        client[0]["additionalEventData"]["clientId"],
        stack.client_id
    );
    for name in ["CreateUserPoolDomain", "CreateResourceServer"] {
        let event = named(&events, name);
        assert_eq!(event.len(), 1, "{name}");
        assert_eq!(event[0]["additionalEventData"]["userPoolId"], stack.pool_id);
    }

    // The token requests.
    let tokens = named(&events, "Token_POST");
    assert_eq!(tokens.len(), 3);
    let issued = tokens[0];
    assert_eq!(issued["eventType"], "AwsServiceEvent");
    assert!(issued.get("errorCode").is_none());
    let data = &issued["additionalEventData"];
    assert_eq!(data["jti"], claims["jti"]);
    assert_eq!(data["clientId"], stack.client_id);
    assert_eq!(data["userPoolId"], stack.pool_id);
    assert_eq!(data["scopes"], json!([READ]));
    assert_eq!(data["expiresIn"], 3600);
    assert_eq!(data["responseParameters"]["status"], 200);
    assert_eq!(
        data["requestParameters"]["grant_type"],
        json!(["client_credentials"])
    );
    let scope = tokens[1];
    assert_eq!(scope["errorCode"], "invalid_scope");
    assert!(scope["errorMessage"].as_str().unwrap().contains(UPDATE));
    assert_eq!(scope["additionalEventData"]["clientId"], stack.client_id);
    assert_eq!(
        scope["additionalEventData"]["responseParameters"]["status"],
        400
    );
    assert!(scope["additionalEventData"].get("jti").is_none());
    let client = tokens[2];
    assert_eq!(client["errorCode"], "invalid_client");
    assert_eq!(client["additionalEventData"]["clientId"], stack.client_id);

    let get_token = named(&events, "GetClientToken");
    assert_eq!(get_token.len(), 1);
    assert_eq!(get_token[0]["errorCode"], "NotAuthorizedException");
    assert_eq!(get_token[0]["requestParameters"]["secret"], HIDDEN);
    assert_eq!(
        get_token[0]["requestParameters"]["clientId"],
        stack.client_id
    );
}

#[tokio::test]
async fn get_client_token_event_carries_the_jti_and_scopes_not_the_token() {
    let audited = Audited::spawn().await;
    let app = &audited.app;
    let stack = create_stack(app, &[READ]).await;
    let created = app
        .admin(
            "CreateUserPoolClient",
            json!({
                "UserPoolId": stack.pool_id,
                "ClientName": "sdk-m2m",
                "GenerateSecret": true,
                "ExplicitAuthFlows": ["ALLOW_CLIENT_TOKEN_AUTH"],
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["client_credentials"],
                "AllowedOAuthScopes": [READ],
            }),
        )
        .await;
    let client_id = created["UserPoolClient"]["ClientId"].as_str().unwrap();
    let secret = created["UserPoolClient"]["ClientSecret"].as_str().unwrap();
    let answer = app
        .admin(
            "GetClientToken",
            json!({"ClientId": client_id, "Secret": secret}),
        )
        .await;
    let token = answer["ClientAuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let (text, events) = audited.finish().await;
    assert!(!text.contains(&token));
    assert!(!text.contains(token.rsplit('.').next().unwrap()));
    assert!(!text.contains(secret));
    let event = named(&events, "GetClientToken");
    assert_eq!(event.len(), 1);
    let data = &event[0]["additionalEventData"];
    assert_eq!(data["clientId"], client_id);
    assert_eq!(data["userPoolId"], stack.pool_id);
    assert_eq!(data["scopes"], json!([READ]));
    assert_eq!(data["jti"].as_str().unwrap().len(), 36);
    assert_eq!(
        event[0]["responseElements"]["clientAuthenticationResult"]["accessToken"],
        HIDDEN
    );
}

#[tokio::test]
async fn a_stuck_writer_drops_events_and_never_holds_up_the_token_endpoint() {
    // A writer whose reader never reads: the first write blocks forever, so the queue
    // (one event) fills and every later event must be dropped, not waited for.
    let (stuck, _never_read) = tokio::io::duplex(1);
    let (audit, _writer) = AuditLog::spawn(stuck, 1);
    let app = TestApp::spawn_with(Options {
        audit: Some(audit.clone()),
        ..Options::default()
    })
    .await;
    let stack = create_stack(&app, &[READ]).await;
    for _ in 0..5 {
        let response = app
            .token_request(
                &[("grant_type", "client_credentials")],
                Some((&stack.client_id, &stack.client_secret)),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    // Four admin writes and five tokens: at most one in the writer's hands and one queued.
    assert!(audit.dropped() >= 7, "dropped {}", audit.dropped());
}
