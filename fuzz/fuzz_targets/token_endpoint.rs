//! `POST /oauth2/token` with a fuzzed method, content type, `Authorization` header and
//! form body, against a server provisioned once (see `s2s_fuzz::Server`).
//!
//! Invariants:
//! - no panic (the router's `CatchPanicLayer` would turn one into a 500) and never a 5xx;
//! - every answer is JSON with `Cache-Control: no-store`; every non-200 answer is an
//!   object with an `error` string (RFC 6749 §5.2), a 401 carries `WWW-Authenticate`;
//! - a 200 is a Bearer token response, only for a client that issues tokens and that
//!   presented its own secret, and the token's claims name that client, its pool and
//!   only scopes it is allowed and that still exist;
//! - the plain, correct request for the client-credentials client succeeds.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use s2s_fuzz::{KnownClient, NOW, PUBLIC_URL, Server, call, runtime, tally};
use serde_json::Value;

struct Harness {
    rt: tokio::runtime::Runtime,
    server: Server,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let rt = runtime();
        let server = rt.block_on(Server::start());
        Harness { rt, server }
    })
}

#[derive(Debug, Arbitrary)]
enum MethodPick {
    Post,
    Get,
    Put,
    Other(u8),
}

#[derive(Debug, Arbitrary)]
enum ContentType {
    Form,
    FormWithCharset,
    FormUpperCase,
    Json,
    Missing,
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum ClientPick {
    Known(u8),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum SecretPick {
    /// The secret of the picked client (or of another known client).
    Of(u8),
    Raw(String),
    /// The right secret with something appended.
    Suffixed(u8, String),
}

#[derive(Debug, Arbitrary)]
enum Auth {
    None,
    Basic {
        scheme: SchemePick,
        client: ClientPick,
        secret: SecretPick,
    },
    /// `Basic <base64 of arbitrary bytes>`.
    BasicBytes(Vec<u8>),
    /// Any header value bytes.
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum SchemePick {
    Basic,
    Lower,
    Bearer,
    ExtraSpaces,
}

#[derive(Debug, Arbitrary)]
enum ParamName {
    GrantType,
    ClientId,
    ClientSecret,
    Scope,
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum ParamValue {
    ClientCredentials,
    Client(ClientPick),
    Secret(SecretPick),
    /// Space-joined picks from the harness's scopes.
    Scopes(Vec<u8>),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum FormBody {
    Params(Vec<(ParamName, ParamValue)>),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    method: MethodPick,
    content_type: ContentType,
    auth: Auth,
    body: FormBody,
}

fn client<'a>(server: &'a Server, pick: &ClientPick) -> (String, Option<&'a KnownClient>) {
    match pick {
        ClientPick::Known(i) => {
            let c = &server.clients[*i as usize % server.clients.len()];
            (c.client_id.clone(), Some(c))
        }
        ClientPick::Raw(s) => (s.clone(), None),
    }
}

fn secret(server: &Server, of: Option<&KnownClient>, pick: &SecretPick) -> String {
    let known = |i: u8| {
        of.and_then(|c| c.secret.clone())
            .or_else(|| {
                server.clients[i as usize % server.clients.len()]
                    .secret
                    .clone()
            })
            .unwrap_or_default()
    };
    match pick {
        SecretPick::Of(i) => known(*i),
        SecretPick::Raw(s) => s.clone(),
        SecretPick::Suffixed(i, s) => format!("{}{s}", known(*i)),
    }
}

fn scopes(server: &Server, picks: &[u8]) -> String {
    picks
        .iter()
        .map(|i| server.scopes[*i as usize % server.scopes.len()].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn build(server: &Server, input: &Input) -> (Request<Body>, Vec<u8>) {
    let method = match input.method {
        MethodPick::Post => Method::POST,
        MethodPick::Get => Method::GET,
        MethodPick::Put => Method::PUT,
        MethodPick::Other(n) => match n % 4 {
            0 => Method::DELETE,
            1 => Method::PATCH,
            2 => Method::OPTIONS,
            _ => Method::HEAD,
        },
    };
    let mut request = Request::builder().method(method).uri("/oauth2/token");
    let content_type: Option<Vec<u8>> = match &input.content_type {
        ContentType::Form => Some(b"application/x-www-form-urlencoded".to_vec()),
        ContentType::FormWithCharset => {
            Some(b"application/x-www-form-urlencoded; charset=UTF-8".to_vec())
        }
        ContentType::FormUpperCase => Some(b"Application/X-WWW-Form-Urlencoded".to_vec()),
        ContentType::Json => Some(b"application/json".to_vec()),
        ContentType::Missing => None,
        ContentType::Raw(v) => Some(v.clone()),
    };
    if let Some(ct) = content_type
        && let Ok(value) = header::HeaderValue::from_bytes(&ct)
    {
        request = request.header(header::CONTENT_TYPE, value);
    }
    let authorization: Option<Vec<u8>> = match &input.auth {
        Auth::None => None,
        Auth::Basic {
            scheme,
            client: pick,
            secret: secret_pick,
        } => {
            let (id, known) = client(server, pick);
            let secret = secret(server, known, secret_pick);
            let encoded = STANDARD.encode(format!("{id}:{secret}"));
            Some(
                match scheme {
                    SchemePick::Basic => format!("Basic {encoded}"),
                    SchemePick::Lower => format!("basic {encoded}"),
                    SchemePick::Bearer => format!("Bearer {encoded}"),
                    SchemePick::ExtraSpaces => format!("Basic   {encoded}  "),
                }
                .into_bytes(),
            )
        }
        Auth::BasicBytes(bytes) => Some(format!("Basic {}", STANDARD.encode(bytes)).into_bytes()),
        Auth::Raw(bytes) => Some(bytes.clone()),
    };
    if let Some(auth) = authorization
        && let Ok(value) = header::HeaderValue::from_bytes(&auth)
    {
        request = request.header(header::AUTHORIZATION, value);
    }
    let body = match &input.body {
        FormBody::Raw(bytes) => bytes.clone(),
        FormBody::Params(params) => {
            let mut last_client = None;
            let pairs: Vec<(String, String)> = params
                .iter()
                .map(|(name, value)| {
                    let name = match name {
                        ParamName::GrantType => "grant_type".to_owned(),
                        ParamName::ClientId => "client_id".to_owned(),
                        ParamName::ClientSecret => "client_secret".to_owned(),
                        ParamName::Scope => "scope".to_owned(),
                        ParamName::Raw(s) => s.clone(),
                    };
                    let value = match value {
                        ParamValue::ClientCredentials => "client_credentials".to_owned(),
                        ParamValue::Client(pick) => {
                            let (id, known) = client(server, pick);
                            last_client = known;
                            id
                        }
                        ParamValue::Secret(pick) => secret(server, last_client, pick),
                        ParamValue::Scopes(picks) => scopes(server, picks),
                        ParamValue::Raw(s) => s.clone(),
                    };
                    (name, value)
                })
                .collect();
            serde_urlencoded::to_string(&pairs)
                .unwrap_or_default()
                .into_bytes()
        }
    };
    let request = request
        .body(Body::from(body.clone()))
        .expect("a valid request");
    (request, body)
}

/// The client id and secret the request really carried, decoded the way a correct
/// server reads them: `None` if it carried no single, consistent pair.
fn presented_credentials(request: &Request<Body>, form: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(auth) = request.headers().get(header::AUTHORIZATION)
        && let Ok(auth) = auth.to_str()
        && let Some((_, encoded)) = auth.split_once(' ')
        && let Ok(bytes) = STANDARD.decode(encoded.trim())
        && let Ok(text) = String::from_utf8(bytes)
    {
        out.push(text);
    }
    let get = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    if let (Some(id), Some(secret)) = (get("client_id"), get("client_secret")) {
        out.push(format!("{id}:{secret}"));
    }
    out
}

fn check(server: &Server, request: Request<Body>, form_bytes: &[u8]) {
    let method = request.method().clone();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(form_bytes).unwrap_or_default();
    let presented = presented_credentials(&request, &form);
    let h = harness();
    let started = std::time::Instant::now();
    let (status, headers, body) = h.rt.block_on(call(&server.router, request));
    let outcome = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "token".to_owned());
    tally(&format!("{status} {outcome}"), started.elapsed());

    assert!(
        !status.is_server_error(),
        "{status} from the token endpoint: {}",
        String::from_utf8_lossy(&body)
    );
    if method == Method::HEAD {
        return;
    }
    assert_eq!(
        headers
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "{status}: every token-endpoint answer is no-store"
    );
    let json: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{status}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    if status != StatusCode::OK {
        assert!(
            json.get("error").is_some_and(Value::is_string),
            "{status}: error body without an `error` string: {json}"
        );
        if status == StatusCode::UNAUTHORIZED {
            assert!(
                headers.contains_key(header::WWW_AUTHENTICATE),
                "401 without WWW-Authenticate"
            );
        }
        return;
    }

    // A token was issued: to whom, and with what?
    assert_eq!(json["token_type"], "Bearer", "{json}");
    let token = json["access_token"].as_str().expect("access_token");
    let payload = token.split('.').nth(1).expect("a JWS");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let client_id = claims["client_id"].as_str().expect("client_id claim");
    let client = server
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
        .unwrap_or_else(|| panic!("token for an unknown client {client_id}"));
    assert!(
        client.issues_tokens,
        "token for {client_id}, which must not get one"
    );
    let expected = format!(
        "{client_id}:{}",
        client.secret.as_deref().unwrap_or_default()
    );
    assert!(
        presented.contains(&expected),
        "token issued without the client's secret: {presented:?}"
    );
    assert_eq!(claims["iss"], format!("{PUBLIC_URL}/{}", client.pool_id));
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["iat"], NOW);
    assert_eq!(json["expires_in"], 3600);
    assert_eq!(claims["exp"], NOW + 3600);
    let scope = claims["scope"].as_str().expect("scope claim");
    assert!(!scope.is_empty());
    for s in scope.split(' ') {
        assert!(
            client.active_scopes.iter().any(|a| a == s),
            "token carries scope {s:?}, not active for {client_id}"
        );
    }
}

fuzz_target!(|input: Input| {
    let h = harness();
    let server = &h.server;

    // Sanity: the well-formed request works (catches a harness that rotted).
    static SANITY: OnceLock<()> = OnceLock::new();
    SANITY.get_or_init(|| {
        let cc = &server.clients[0];
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            cc.client_id,
            cc.secret.as_deref().unwrap_or_default()
        );
        let request = Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let (status, _, body) = h.rt.block_on(call(&server.router, request));
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    });

    let (request, body) = build(server, &input);
    check(server, request, &body);
});
