//! The admin API, `POST /` (AWS JSON 1.1), with a fuzzed `X-Amz-Target` (a real
//! operation most of the time), content type and JSON body.
//!
//! The server is provisioned once (see `s2s_fuzz::Server`) and rebuilt every
//! `RESET_EVERY` inputs, so inputs see the state earlier inputs left (that is the point:
//! a client updated by one input is used by the next) but the database stays small. A
//! finding may therefore need the inputs before it; the targets print the operation and
//! body of every failure.
//!
//! Invariants:
//! - no panic (the router's `CatchPanicLayer` would turn one into a 500) and never a 5xx;
//! - every answer has `Content-Type: application/x-amz-json-1.1` and `x-amzn-requestid`;
//!   a 200 is a JSON object; every error is a 400 JSON object with `__type` and
//!   `message` strings and an `x-amzn-errortype` header equal to `__type`;
//! - what a successful Create/Update returns is what Describe returns afterwards (the
//!   store round trip keeps every member);
//! - after every successful write, the token endpoint (for every provisioned client)
//!   and the pool's JWKS still answer without a 5xx.
#![no_main]

use std::cell::RefCell;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use s2s_fuzz::{FuzzJson, FuzzKey, OPERATIONS, Server, TARGET_PREFIX, call, runtime, tally};
use serde_json::{Map, Value, json};

const RESET_EVERY: u64 = 2_000;

/// Successful `CreateUserPool` calls allowed per reset. Each one generates two RSA-2048
/// keys (about 0.1 s); unbounded, they took two thirds of the run time. Once the budget
/// is spent, `CreateUserPool` inputs are skipped until the next reset.
const POOL_BUDGET: u64 = 8;

/// Every member name of the implemented operations' requests.
const MEMBERS: &[&str] = &[
    "UserPoolId",
    "ClientId",
    "ClientName",
    "GenerateSecret",
    "ClientSecret",
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "AccessToken",
    "IdToken",
    "RefreshToken",
    "ReadAttributes",
    "WriteAttributes",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "DefaultRedirectURI",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "AnalyticsConfiguration",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData",
    "AuthSessionValidity",
    "RefreshTokenRotation",
    "PoolName",
    "DeletionProtection",
    "UserPoolTier",
    "UserPoolTags",
    "LambdaConfig",
    "Schema",
    "Policies",
    "MfaConfiguration",
    "AdminCreateUserConfig",
    "MaxResults",
    "NextToken",
    "ClientType",
    "Identifier",
    "Name",
    "Scopes",
    "ScopeName",
    "ScopeDescription",
    "Domain",
    "CustomDomainConfig",
    "ManagedLoginVersion",
];

struct Harness {
    rt: tokio::runtime::Runtime,
    server: Server,
    runs: u64,
    pools_created: u64,
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

#[derive(Debug, Arbitrary)]
enum TargetPick {
    Known(u8),
    /// A known operation name without the service prefix, or with another one.
    Unprefixed(u8),
    Raw(Vec<u8>),
    Missing,
}

#[derive(Debug, Arbitrary)]
enum ContentType {
    Correct,
    WithCharset,
    Raw(Vec<u8>),
    Missing,
}

#[derive(Debug, Arbitrary)]
enum BodyPick {
    /// A valid request of the operation (real ids) with members set or removed.
    Template(Vec<(FuzzKey, Option<FuzzJson>)>),
    /// An object of fuzzed members.
    Members(Vec<(FuzzKey, FuzzJson)>),
    Json(FuzzJson),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    target: TargetPick,
    content_type: ContentType,
    body: BodyPick,
}

/// A valid request body of `operation` against the provisioned server.
fn template(server: &Server, operation: &str) -> Value {
    let pool = &server.pool_id;
    let cc = &server.clients[0].client_id;
    let rs = &server.identifiers[0];
    match operation {
        "CreateUserPool" => json!({"PoolName": "p"}),
        "DescribeUserPool" => json!({"UserPoolId": pool}),
        // Pool A is protected; pool B can go (until the next reset).
        "DeleteUserPool" => json!({"UserPoolId": server.pool_without_domain}),
        "ListUserPools" => json!({"MaxResults": 60}),
        "CreateUserPoolClient" => json!({
            "UserPoolId": pool, "ClientName": "c", "GenerateSecret": true,
            "AllowedOAuthFlowsUserPoolClient": true,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthScopes": [server.scopes[0]],
        }),
        "UpdateUserPoolClient" => json!({
            "UserPoolId": pool, "ClientId": cc,
            "AllowedOAuthFlowsUserPoolClient": true,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthScopes": [server.scopes[0], server.scopes[1]],
        }),
        "DescribeUserPoolClient" | "DeleteUserPoolClient" => {
            json!({"UserPoolId": pool, "ClientId": cc})
        }
        "ListUserPoolClients" | "ListResourceServers" => json!({"UserPoolId": pool}),
        "CreateResourceServer" | "UpdateResourceServer" => json!({
            "UserPoolId": pool, "Identifier": rs, "Name": "n",
            "Scopes": [{"ScopeName": "schedule.read", "ScopeDescription": "d"}],
        }),
        "DescribeResourceServer" | "DeleteResourceServer" => {
            json!({"UserPoolId": pool, "Identifier": rs})
        }
        "CreateUserPoolDomain" => json!({"UserPoolId": pool, "Domain": "another-domain"}),
        "DescribeUserPoolDomain" => json!({"Domain": server.domain}),
        "DeleteUserPoolDomain" => json!({"UserPoolId": pool, "Domain": server.domain}),
        _ => json!({}),
    }
}

fn admin_request(
    target: Option<&[u8]>,
    content_type: Option<&[u8]>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut request = Request::post("/");
    if let Some(t) = target
        && let Ok(value) = header::HeaderValue::from_bytes(t)
    {
        request = request.header("x-amz-target", value);
    }
    if let Some(ct) = content_type
        && let Ok(value) = header::HeaderValue::from_bytes(ct)
    {
        request = request.header(header::CONTENT_TYPE, value);
    }
    request.body(Body::from(body)).expect("a valid request")
}

/// Checks the shape of an admin answer and returns its JSON body.
fn check_admin(
    status: StatusCode,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    what: &str,
) -> Value {
    assert!(
        !status.is_server_error(),
        "{status} for {what}: {}",
        String::from_utf8_lossy(body)
    );
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/x-amz-json-1.1"),
        "{what}"
    );
    assert!(headers.contains_key("x-amzn-requestid"), "{what}");
    let json: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "{status} for {what}: not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    });
    assert!(json.is_object(), "{status} for {what}: {json}");
    if status != StatusCode::OK {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {json}");
        let kind = json["__type"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no __type: {json}"));
        assert!(json["message"].is_string(), "{what}: no message: {json}");
        assert_eq!(
            headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok()),
            Some(kind),
            "{what}"
        );
    }
    json
}

async fn admin(server: &Server, operation: &str, body: &Value) -> (StatusCode, Value) {
    let target = format!("{TARGET_PREFIX}{operation}");
    let request = admin_request(
        Some(target.as_bytes()),
        Some(b"application/x-amz-json-1.1"),
        body.to_string().into_bytes(),
    );
    let (status, headers, bytes) = call(&server.router, request).await;
    let json = check_admin(status, &headers, &bytes, &format!("{operation} {body}"));
    (status, json)
}

/// After a successful write: what Describe returns equals what the write returned.
async fn check_round_trip(server: &Server, operation: &str, out: &Value, what: &str) {
    let (describe, key, ids): (&str, &str, &[&str]) = match operation {
        "CreateUserPool" => ("DescribeUserPool", "UserPool", &["Id"]),
        "CreateUserPoolClient" | "UpdateUserPoolClient" => (
            "DescribeUserPoolClient",
            "UserPoolClient",
            &["UserPoolId", "ClientId"],
        ),
        "CreateResourceServer" | "UpdateResourceServer" => (
            "DescribeResourceServer",
            "ResourceServer",
            &["UserPoolId", "Identifier"],
        ),
        _ => return,
    };
    let written = &out[key];
    let mut request = Map::new();
    for id in ids {
        let name = if *id == "Id" { "UserPoolId" } else { id };
        request.insert(name.to_owned(), written[*id].clone());
    }
    let (status, described) = admin(server, describe, &Value::Object(request)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{describe} after {what}: {described}"
    );
    let mut described = described[key].clone();
    if operation == "CreateUserPool" {
        // A new pool has no domain; Describe would add `Domain` if it had one.
        assert!(described.get("Domain").is_none(), "{described}");
    }
    if let (Some(w), Some(d)) = (written.as_object(), described.as_object_mut()) {
        for (k, v) in w {
            assert_eq!(
                d.get(k),
                Some(v),
                "member {k} changed in the store after {what}"
            );
        }
        d.retain(|k, _| !w.contains_key(k));
        assert!(d.is_empty(), "{describe} adds members {d:?} after {what}");
    }
}

/// After a successful write: the token endpoint and the JWKS still answer.
async fn check_dependents(server: &Server, what: &str) {
    for client in &server.clients {
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            client.client_id,
            client.secret.as_deref().unwrap_or("x")
        );
        let request = Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let (status, _, bytes) = call(&server.router, request).await;
        assert!(
            !status.is_server_error(),
            "token endpoint {status} after {what}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let json: Value = serde_json::from_slice(&bytes).expect("token answer is JSON");
        if status != StatusCode::OK {
            assert!(json["error"].is_string(), "{json}");
        }
    }
    for pool in [&server.pool_id, &server.pool_without_domain] {
        for path in ["jwks.json", "openid-configuration"] {
            let request = Request::get(format!("/{pool}/.well-known/{path}"))
                .body(Body::empty())
                .unwrap();
            let (status, _, bytes) = call(&server.router, request).await;
            assert!(
                !status.is_server_error(),
                "{path} {status} after {what}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

fn run(h: &mut Harness, input: &Input) {
    let server = &h.server;
    let strings = server.interesting_strings();
    let operation: Option<&str> = match &input.target {
        TargetPick::Known(i) | TargetPick::Unprefixed(i) => {
            Some(OPERATIONS[*i as usize % OPERATIONS.len()])
        }
        _ => None,
    };
    if operation == Some("CreateUserPool") && h.pools_created >= POOL_BUDGET {
        return;
    }
    let target: Option<Vec<u8>> = match &input.target {
        TargetPick::Known(_) => Some(format!("{TARGET_PREFIX}{}", operation.unwrap()).into_bytes()),
        TargetPick::Unprefixed(_) => Some(operation.unwrap().as_bytes().to_vec()),
        TargetPick::Raw(raw) => Some(raw.clone()),
        TargetPick::Missing => None,
    };
    let content_type: Option<&[u8]> = match &input.content_type {
        ContentType::Correct => Some(b"application/x-amz-json-1.1"),
        ContentType::WithCharset => Some(b"application/x-amz-json-1.1; charset=utf-8"),
        ContentType::Raw(raw) => Some(raw),
        ContentType::Missing => None,
    };
    let body: Vec<u8> = match &input.body {
        BodyPick::Template(edits) => {
            let mut value = template(server, operation.unwrap_or(""));
            if let Value::Object(map) = &mut value {
                for (key, edit) in edits {
                    let key = key.to_key(MEMBERS);
                    match edit {
                        Some(v) => {
                            map.insert(key, v.to_value(&strings, MEMBERS));
                        }
                        None => {
                            map.remove(&key);
                        }
                    }
                }
            }
            value.to_string().into_bytes()
        }
        BodyPick::Members(members) => {
            let mut map = Map::new();
            for (k, v) in members {
                map.insert(k.to_key(MEMBERS), v.to_value(&strings, MEMBERS));
            }
            Value::Object(map).to_string().into_bytes()
        }
        BodyPick::Json(v) => v.to_value(&strings, MEMBERS).to_string().into_bytes(),
        BodyPick::Raw(raw) => raw.clone(),
    };
    let what = format!(
        "{:?} {}",
        target.as_deref().map(String::from_utf8_lossy),
        String::from_utf8_lossy(&body)
    );
    let request = admin_request(target.as_deref(), content_type, body);
    let started = std::time::Instant::now();
    let mut created = false;
    h.rt.block_on(async {
        let (status, headers, bytes) = call(&server.router, request).await;
        let out = check_admin(status, &headers, &bytes, &what);
        let outcome = out["__type"].as_str().unwrap_or("ok");
        tally(
            &format!(
                "{} {outcome}",
                operation
                    .filter(|_| matches!(input.target, TargetPick::Known(_)))
                    .unwrap_or("-")
            ),
            started.elapsed(),
        );
        let valid_target = matches!(input.target, TargetPick::Known(_));
        if status == StatusCode::OK {
            assert!(valid_target, "200 for an unknown target: {what}");
            let operation = operation.unwrap();
            if operation == "CreateUserPool" {
                created = true;
            }
            check_round_trip(server, operation, &out, &what).await;
            if !operation.starts_with("Describe") && !operation.starts_with("List") {
                check_dependents(server, &what).await;
            }
        }
    });
    if created {
        h.pools_created += 1;
    }
}

fuzz_target!(|input: Input| {
    HARNESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let reset = slot.as_ref().is_none_or(|h| h.runs >= RESET_EVERY);
        if reset {
            let rt = match slot.take() {
                None => runtime(),
                Some(old) => {
                    // Drop the old store inside its runtime, then reuse the runtime.
                    let _guard = old.rt.enter();
                    drop(old.server);
                    drop(_guard);
                    old.rt
                }
            };
            let server = rt.block_on(Server::start());
            *slot = Some(Harness {
                rt,
                server,
                runs: 0,
                pools_created: 0,
            });
        }
        let h = slot.as_mut().unwrap();
        h.runs += 1;
        run(h, &input);
    });
});
