//! The audit trail: one JSON line per token request (issued or refused, at the token
//! endpoint and through `GetClientToken`) and per admin write, shaped like the events
//! Amazon Cognito sends to AWS CloudTrail (`eventName` `Token_POST` for the token endpoint,
//! the operation's name for the API; `docs/cognito-notes.md`, "Audit events").
//!
//! Recording is off the request's path: a handler builds a small record (strings it
//! already has, the time, the claims part of an issued token) and offers it to a bounded
//! queue; a writer task ([`AuditLog::spawn`]) turns records into
//! JSON, redacts, and writes them in batches. A full queue drops the event and counts it
//! (`authorization_server_audit_events_dropped_total`, [`AuditLog::dropped`]) instead of
//! making the token endpoint wait for a disk.
//!
//! Never written: a client secret, an access token, an `Authorization` header. Request and
//! response members whose name holds a secret or a token are replaced by
//! `HIDDEN_DUE_TO_SECURITY_REASONS`, as CloudTrail does. An issued token is represented by
//! its `jti`, scopes and lifetime, read from its claims; its signature never leaves the
//! handler, so what sits in the queue is not a usable token either.
//!
//! The library opens no file: the caller passes any [`tokio::io::AsyncWrite`] (`s2s` opens
//! the append-only, mode-0600 file, or stdout).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use tokio::sync::{Notify, mpsc};

use crate::AppState;
use crate::admin::AdminOperation;
use crate::admin::error::AdminError;
use crate::token::Refusal;

/// What CloudTrail writes in place of a sensitive value.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// The `eventSource` of every event: Cognito user pools'.
pub const EVENT_SOURCE: &str = "cognito-idp.amazonaws.com";

/// The `eventName` of a token endpoint request, as Cognito names it in CloudTrail.
pub const TOKEN_EVENT: &str = "Token_POST";

/// Events the queue holds by default before it drops new ones ([`AuditLog::spawn`]).
pub const DEFAULT_CAPACITY: usize = 8192;

/// Records written per write call at most: a burst becomes one write and one flush.
const BATCH: usize = 256;

/// Longest `User-Agent` kept, in characters.
const MAX_USER_AGENT: usize = 256;

/// The sending end of the audit trail, set in [`crate::Config::audit`]. Cloning is cheap;
/// all clones feed the same writer.
#[derive(Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

struct Shared {
    tx: mpsc::Sender<Record>,
    /// Events lost: queue full, or a failed write.
    dropped: AtomicU64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// The writer task of an [`AuditLog`]: [`AuditWriter::finish`] writes what is queued and
/// stops it. Dropped without `finish`, the task goes on until every [`AuditLog`] clone is
/// gone.
#[derive(Debug)]
pub struct AuditWriter {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl AuditLog {
    /// Starts the writer task on `writer` (one JSON object per line, flushed after each
    /// batch) with a queue of `capacity` events (at least 1; [`DEFAULT_CAPACITY`] is a
    /// good default). Needs a Tokio runtime.
    pub fn spawn<W>(writer: W, capacity: usize) -> (Self, AuditWriter)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let shared = Arc::new(Shared {
            tx,
            dropped: AtomicU64::new(0),
        });
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(write_records(
            writer,
            rx,
            Arc::clone(&stop),
            Arc::clone(&shared),
        ));
        (Self { shared }, AuditWriter { stop, task })
    }

    /// How many events were lost so far: the queue was full, or writing failed.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Queues `record` without waiting; a full queue drops it and counts it.
    fn record(&self, record: Record) {
        if self.shared.tx.try_send(record).is_err() {
            self.lost(1);
        }
    }

    fn lost(&self, count: u64) {
        self.shared.dropped.fetch_add(count, Ordering::Relaxed);
        metrics::counter!("authorization_server_audit_events_dropped_total").increment(count);
    }
}

impl AuditWriter {
    /// Writes every event queued so far, flushes, and stops the writer task. Events
    /// recorded afterwards are dropped (and counted).
    pub async fn finish(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }
}

/// Who sent a request, and from where: what an event says about its caller. Read from
/// the request only when the audit trail is on.
#[derive(Debug, Default)]
pub(crate) struct Origin {
    source_ip: Option<String>,
    user_agent: Option<String>,
    /// `x-request-id`, set by `server_kit::layers::instrument` (the logs' request id).
    request_id: Option<String>,
    /// The access key id of a SigV4 `Authorization` header (not a secret; CloudTrail
    /// records it as `userIdentity.accessKeyId`).
    access_key_id: Option<String>,
    /// The client id of an HTTP Basic `Authorization` header (the password is never read).
    basic_client_id: Option<String>,
    /// The operation of `X-Amz-Target`, if it names one.
    operation: Option<AdminOperation>,
}

impl FromRequestParts<AppState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config().audit.is_none() {
            return Ok(Self::default());
        }
        let headers = &parts.headers;
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let authorization = text(header::AUTHORIZATION.as_str()).unwrap_or_default();
        Ok(Self {
            source_ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string()),
            user_agent: text(header::USER_AGENT.as_str())
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
            request_id: text(server_kit::layers::REQUEST_ID).map(str::to_owned),
            access_key_id: sigv4_access_key_id(authorization),
            basic_client_id: basic_client_id(authorization),
            operation: text("x-amz-target")
                .and_then(|t| t.strip_prefix("AWSCognitoIdentityProviderService."))
                .and_then(AdminOperation::parse),
        })
    }
}

/// `AKID` of `AWS4-HMAC-SHA256 Credential=AKID/20261207/…`.
fn sigv4_access_key_id(authorization: &str) -> Option<String> {
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256")?;
    let credential = rest
        .split([',', ' '])
        .find_map(|p| p.strip_prefix("Credential="))?;
    let id = credential.split('/').next()?;
    (!id.is_empty() && id.len() <= 128).then(|| id.to_owned())
}

/// The user half of `Basic base64(client_id:secret)`; the secret is dropped at once.
fn basic_client_id(authorization: &str) -> Option<String> {
    let (scheme, encoded) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let id = decoded.split(|&b| b == b':').next()?;
    let id = std::str::from_utf8(id).ok()?;
    (!id.is_empty() && id.len() <= 128).then(|| id.to_owned())
}

/// One event before it is rendered: what the handler knew, nothing it had to compute.
pub(crate) struct Record {
    time: SystemTime,
    region: String,
    request_id: Option<String>,
    origin: Origin,
    kind: Kind,
}

enum Kind {
    /// `POST /oauth2/token`.
    Token { status: u16, outcome: TokenOutcome },
    /// An admin write, or `GetClientToken`.
    Admin {
        operation: AdminOperation,
        /// The request body as received (secrets are redacted when rendered).
        request: bytes::Bytes,
        /// The answer, with any access token already cut down to its claims.
        result: Result<Value, (&'static str, String)>,
        /// The claims part of the token `GetClientToken` issued.
        claims: Option<String>,
    },
}

enum TokenOutcome {
    /// The claims part (base64url) of the issued token: no header, no signature.
    Issued {
        claims: String,
        expires_in: i64,
    },
    Refused {
        code: String,
        description: String,
    },
}

/// The token endpoint's hook: records the outcome of one request, if the trail is on.
pub(crate) fn token_request(
    state: &AppState,
    origin: Origin,
    outcome: Result<&oauth_proto::TokenResponse, &Refusal>,
) {
    let Some(audit) = &state.config().audit else {
        return;
    };
    let (status, outcome) = match outcome {
        Ok(token) => (
            200,
            TokenOutcome::Issued {
                claims: claims_part(&token.access_token),
                expires_in: token.expires_in,
            },
        ),
        Err(refusal) => (
            refusal.status.as_u16(),
            TokenOutcome::Refused {
                code: refusal.code.as_str().to_owned(),
                description: refusal.description.clone(),
            },
        ),
    };
    audit.record(Record {
        time: state.clock().now(),
        region: state.config().region.clone(),
        request_id: origin.request_id.clone(),
        origin,
        kind: Kind::Token { status, outcome },
    });
}

/// The admin API's hook: records a write or a `GetClientToken` call (answered or
/// refused), if the trail is on. Reads are not recorded.
pub(crate) fn admin_request(
    state: &AppState,
    origin: Origin,
    request_id: &str,
    body: &bytes::Bytes,
    result: &Result<Value, AdminError>,
) {
    let Some(audit) = &state.config().audit else {
        return;
    };
    let Some(operation) = origin.operation else {
        return;
    };
    let token_call = operation == AdminOperation::GetClientToken;
    if operation.is_read_only() && !token_call {
        return;
    }
    let mut claims = None;
    let result = match result {
        Ok(value) => {
            let mut value = value.clone();
            if let Some(token) = value
                .pointer_mut("/ClientAuthenticationResult/AccessToken")
                .filter(|_| token_call)
            {
                claims = token.as_str().map(claims_part);
                *token = Value::String(HIDDEN.to_owned());
            }
            Ok(value)
        }
        Err(error) => Err((error.kind, error.message.clone())),
    };
    audit.record(Record {
        time: state.clock().now(),
        region: state.config().region.clone(),
        request_id: Some(request_id.to_owned()),
        origin,
        kind: Kind::Admin {
            operation,
            request: body.clone(),
            result,
            claims,
        },
    });
}

/// The middle part of a JWT: its claims, without the signature that makes it usable.
fn claims_part(token: &str) -> String {
    token.split('.').nth(1).unwrap_or_default().to_owned()
}

// === The writer task ===

async fn write_records<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::Receiver<Record>,
    stop: Arc<Notify>,
    shared: Arc<Shared>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut buffer = Vec::new();
    loop {
        let stopping = tokio::select! {
            biased;
            received = rx.recv_many(&mut batch, BATCH) => received == 0,
            () = stop.notified() => {
                rx.close();
                while let Ok(record) = rx.try_recv() {
                    batch.push(record);
                }
                true
            }
        };
        buffer.clear();
        let count = batch.len() as u64;
        for record in batch.drain(..) {
            if serde_json::to_writer(&mut buffer, &record.render()).is_ok() {
                buffer.push(b'\n');
            }
        }
        if !buffer.is_empty() {
            let written = async {
                writer.write_all(&buffer).await?;
                writer.flush().await
            }
            .await;
            if let Err(error) = written {
                shared.dropped.fetch_add(count, Ordering::Relaxed);
                tracing::error!(%error, events = count, "cannot write the audit log");
            }
        }
        if stopping {
            return;
        }
    }
}

/// One event as written: CloudTrail's field names and order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    event_version: &'static str,
    user_identity: Value,
    event_time: String,
    event_source: &'static str,
    event_name: &'static str,
    aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<String>,
    user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    request_parameters: Value,
    response_elements: Value,
    additional_event_data: Value,
    #[serde(rename = "requestID")]
    request_id: Option<String>,
    #[serde(rename = "eventID")]
    event_id: String,
    read_only: bool,
    event_type: &'static str,
    management_event: bool,
    event_category: &'static str,
}

impl Record {
    fn render(self) -> Event {
        let Record {
            time,
            region,
            request_id,
            origin,
            kind,
        } = self;
        let user_identity = match &origin.access_key_id {
            Some(id) => json!({"type": "IAMUser", "accessKeyId": id}),
            None => json!({"type": "Unknown"}),
        };
        let mut event = Event {
            event_version: "1.08",
            user_identity,
            event_time: event_time(time),
            event_source: EVENT_SOURCE,
            event_name: TOKEN_EVENT,
            aws_region: region,
            source_ip_address: origin.source_ip,
            user_agent: origin.user_agent,
            error_code: None,
            error_message: None,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            additional_event_data: Value::Null,
            request_id,
            event_id: crate::ids::uuid_v4().unwrap_or_default(),
            read_only: false,
            event_type: "AwsServiceEvent",
            management_event: true,
            event_category: "Management",
        };
        match kind {
            Kind::Token { status, outcome } => {
                // Cognito's Token_POST: parameters in additionalEventData, arrays of strings
                // as in a parsed form; no requestParameters or responseElements.
                let mut data = Map::new();
                data.insert("responseParameters".to_owned(), json!({ "status": status }));
                let mut parameters = Map::new();
                match outcome {
                    TokenOutcome::Issued { claims, expires_in } => {
                        let issued = Issued::read(&claims);
                        parameters.insert("grant_type".to_owned(), json!(["client_credentials"]));
                        if let Some(client_id) = &issued.client_id {
                            parameters.insert("client_id".to_owned(), json!([client_id]));
                        }
                        issued.insert_into(&mut data);
                        data.insert("expiresIn".to_owned(), json!(expires_in));
                    }
                    TokenOutcome::Refused { code, description } => {
                        if let Some(client_id) = &origin.basic_client_id {
                            parameters.insert("client_id".to_owned(), json!([client_id]));
                            data.insert("clientId".to_owned(), json!(client_id));
                        }
                        event.error_code = Some(code);
                        event.error_message = Some(description);
                    }
                }
                data.insert("requestParameters".to_owned(), Value::Object(parameters));
                event.additional_event_data = Value::Object(data);
            }
            Kind::Admin {
                operation,
                request,
                result,
                claims,
            } => {
                event.event_name = operation.name();
                event.event_type = "AwsApiCall";
                event.read_only = operation.is_read_only();
                let request: Value = serde_json::from_slice(&request).unwrap_or(Value::Null);
                event.request_parameters = cloudtrail_members(&request, None);
                let mut data = Map::new();
                match result {
                    Ok(response) => {
                        event.response_elements = cloudtrail_members(&response, None);
                    }
                    Err((code, message)) => {
                        event.error_code = Some(code.to_owned());
                        event.error_message = Some(message);
                    }
                }
                if let Some(pool) = subject(&event, "userPoolId", &["/userPool/id"]) {
                    data.insert("userPoolId".to_owned(), pool);
                }
                if let Some(client) = subject(&event, "clientId", &["/userPoolClient/clientId"]) {
                    data.insert("clientId".to_owned(), client);
                }
                if let Some(claims) = claims {
                    Issued::read(&claims).insert_into(&mut data);
                }
                if !data.is_empty() {
                    event.additional_event_data = Value::Object(data);
                }
            }
        }
        event
    }
}

/// The user pool or client an admin event is about: a request member, else where the
/// response of a create names it.
fn subject(event: &Event, member: &str, response_paths: &[&str]) -> Option<Value> {
    event
        .request_parameters
        .get(member)
        .filter(|v| v.is_string())
        .or_else(|| {
            response_paths
                .iter()
                .find_map(|path| event.response_elements.pointer(path))
        })
        .cloned()
}

/// What an event says about an issued token: from its claims, never the token.
#[derive(Default)]
struct Issued {
    jti: Option<String>,
    scopes: Vec<String>,
    client_id: Option<String>,
    user_pool_id: Option<String>,
}

impl Issued {
    fn read(claims: &str) -> Self {
        let Some(claims) = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        else {
            return Self::default();
        };
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        Self {
            jti: text("jti"),
            scopes: text("scope")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            client_id: text("client_id"),
            // The issuer is `<public url>/<userPoolId>`.
            user_pool_id: text("iss").and_then(|iss| iss.rsplit('/').next().map(str::to_owned)),
        }
    }

    fn insert_into(self, data: &mut Map<String, Value>) {
        if let Some(pool) = self.user_pool_id {
            data.insert("userPoolId".to_owned(), json!(pool));
        }
        if let Some(client) = self.client_id {
            data.insert("clientId".to_owned(), json!(client));
        }
        if let Some(jti) = self.jti {
            data.insert("jti".to_owned(), json!(jti));
        }
        data.insert("scopes".to_owned(), json!(self.scopes));
    }
}

/// `value` with CloudTrail's member names (`UserPoolId` → `userPoolId`) and every
/// sensitive member's value replaced by [`HIDDEN`].
fn cloudtrail_members(value: &Value, parent: Option<&str>) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, member)| {
                    let value = if sensitive(name, parent) && !member.is_null() {
                        Value::String(HIDDEN.to_owned())
                    } else {
                        cloudtrail_members(member, Some(name))
                    };
                    (lower_camel(name), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| cloudtrail_members(item, parent))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Members that hold a secret or a token: any `…Secret…` that is not an id, a date or a
/// flag (`ClientSecretId`, `ClientSecretCreateDate`, `GenerateSecret` stay), and the tokens
/// of `RevokeToken` and `GetClientToken` (not the unit names of `TokenValidityUnits`).
fn sensitive(name: &str, parent: Option<&str>) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.contains("secret") {
        return !(lower.ends_with("id")
            || lower.ends_with("date")
            || lower.starts_with("generate"));
    }
    matches!(
        lower.as_str(),
        "token" | "accesstoken" | "idtoken" | "refreshtoken"
    ) && parent != Some("TokenValidityUnits")
}

fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// CloudTrail's `eventTime`: UTC, to the second (`2026-12-07T01:02:03Z`).
fn event_time(time: SystemTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from(time)
        .format(format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_tokens_are_hidden_and_names_are_cloudtrail_s() {
        let request = json!({
            "UserPoolId": "us-east-1_abc",
            "ClientId": "client",
            "ClientSecret": "s3cret",
            "Secret": "s3cret",
            "Token": "eyJ...",
            "GenerateSecret": true,
            "ClientSecretId": "id",
            "TokenValidityUnits": {"AccessToken": "minutes"},
            "ClientAuthenticationResult": {"AccessToken": "eyJ...", "ExpiresIn": 3600},
        });
        let shown = cloudtrail_members(&request, None);
        assert_eq!(shown["userPoolId"], "us-east-1_abc");
        assert_eq!(shown["clientId"], "client");
        assert_eq!(shown["clientSecret"], HIDDEN);
        assert_eq!(shown["secret"], HIDDEN);
        assert_eq!(shown["token"], HIDDEN);
        assert_eq!(shown["generateSecret"], true);
        assert_eq!(shown["clientSecretId"], "id");
        assert_eq!(shown["tokenValidityUnits"]["accessToken"], "minutes");
        assert_eq!(shown["clientAuthenticationResult"]["accessToken"], HIDDEN);
        assert_eq!(shown["clientAuthenticationResult"]["expiresIn"], 3600);
        assert!(!shown.to_string().contains("s3cret"));
        assert!(!shown.to_string().contains("eyJ"));
    }

    #[test]
    fn origin_keeps_the_basic_user_and_the_access_key_id_only() {
        let basic = base64::engine::general_purpose::STANDARD.encode("client-1:s3cret");
        assert_eq!(
            basic_client_id(&format!("Basic {basic}")).as_deref(),
            Some("client-1")
        );
        assert_eq!(basic_client_id("Bearer abc"), None);
        assert_eq!(
            sigv4_access_key_id(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=abc"
            )
            .as_deref(),
            Some("AKIDEXAMPLE")
        );
    }

    #[test]
    fn event_time_is_utc_to_the_second() {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_796_605_323_456);
        assert_eq!(event_time(time), "2026-12-07T01:02:03Z");
    }
}
