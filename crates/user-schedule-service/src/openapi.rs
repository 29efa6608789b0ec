//! The OpenAPI document: the exact contract of the service.
//!
//! The shapes come from the handlers' annotations. Every rule the validators enforce
//! (patterns, lengths, bounds, formats, refused members) is added by [`Contract`] from the
//! constants the validators themselves use (domain.rs, routes), and so are the answers
//! every API route can give (401/403 with their challenge, 413/415 on bodies, 500, 503),
//! so the document cannot promise what the service refuses. The tests below check the
//! patterns against the parsers.

use axum::body::Bytes;
use axum::http::Method;
use serde_json::json;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, Object, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};

use crate::domain::{EventId, Notes, Timestamp, Title, UserId};
use crate::error::{PROBLEM_JSON, Problem, ProblemField};
use crate::routes::schedule::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::routes::{API, ops, schedule};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "user-schedule-service",
        description = "Users' schedules behind Cognito scope checks. Reads need \
            `<resource-server>/schedule.read`, writes `<resource-server>/schedule.update` \
            (default resource server `user-schedule-service`). Errors are RFC 9457 \
            problem documents; refusals follow RFC 6750."
    ),
    paths(
        schedule::list_schedule,
        schedule::create_event,
        schedule::get_event,
        schedule::replace_event,
        schedule::delete_event,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi_json,
    ),
    components(schemas(
        schedule::EventBody,
        schedule::EventInput,
        schedule::SchedulePage,
        ops::Health,
        Problem,
        ProblemField
    )),
    modifiers(&BearerAuth, &Contract),
    tags(
        (name = "schedule", description = "Users' events"),
        (name = "operations", description = "Health, readiness, metrics, this document")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A Cognito access token from the client-credentials grant",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, serialised, with each API route's scope (from [`API`], the table the
/// router is built from) spelled for this deployment's resource server.
pub(crate) fn document(resource_server: &str) -> Bytes {
    serde_json::to_vec(&json_document(resource_server))
        .map(Bytes::from)
        .unwrap_or_default()
}

/// The document as JSON, links included.
fn json_document(resource_server: &str) -> serde_json::Value {
    let mut doc = serde_json::to_value(openapi(resource_server)).unwrap_or_default();
    add_links(&mut doc);
    doc
}

fn openapi(resource_server: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for route in API {
        if let Some(operation) = doc
            .paths
            .paths
            .get_mut(route.path)
            .and_then(|item| operation(item, &route.method))
        {
            let scope = route.access.scope(resource_server);
            let has_body = operation.request_body.is_some();
            add_common_answers(operation, &scope, has_body);
            operation.security = Some(vec![SecurityRequirement::new("bearer", [scope])]);
        }
    }
    doc
}

/// The operation of `item` for `method`.
fn operation<'a>(item: &'a mut PathItem, method: &Method) -> Option<&'a mut Operation> {
    match *method {
        Method::GET => item.get.as_mut(),
        Method::POST => item.post.as_mut(),
        Method::PUT => item.put.as_mut(),
        Method::DELETE => item.delete.as_mut(),
        _ => None,
    }
}

// === the rules, from the validators' constants ===

fn string() -> Object {
    Object::with_type(Type::String)
}

/// `user_id`: [`UserId::parse`].
fn user_id() -> Object {
    let mut schema = string();
    schema.min_length = Some(1);
    schema.max_length = Some(UserId::MAX_LEN);
    schema.pattern = Some(UserId::PATTERN.to_owned());
    schema.examples = vec![json!("alice")];
    schema
}

/// `event_id`: [`EventId::parse`].
fn event_id() -> Object {
    let mut schema = string();
    schema.format = Some(SchemaFormat::Custom("uuid".to_owned()));
    schema.pattern = Some(EventId::PATTERN.to_owned());
    schema
}

/// `from`, `to`, `starts_at`, `ends_at`: [`Timestamp::parse`].
fn timestamp() -> Object {
    let mut schema = string();
    schema.format = Some(SchemaFormat::KnownFormat(KnownFormat::DateTime));
    schema.pattern = Some(Timestamp::PATTERN.to_owned());
    schema
}

/// `limit`: `parse_list_query`.
fn limit() -> Object {
    let mut schema = Object::with_type(Type::Integer);
    schema.minimum = Some(1.into());
    schema.maximum = Some(MAX_LIMIT.into());
    schema.default = Some(DEFAULT_LIMIT.into());
    schema
}

/// `title`: [`Title::parse`].
fn title() -> Object {
    let mut schema = string();
    schema.min_length = Some(1);
    schema.max_length = Some(Title::MAX_CHARS);
    schema.pattern = Some(Title::PATTERN.to_owned());
    schema
}

/// `notes`: [`Notes::parse`]; `null` is the same as absent.
fn notes() -> Object {
    let mut schema = string();
    schema.schema_type = SchemaType::Array(vec![Type::String, Type::Null]);
    schema.max_length = Some(Notes::MAX_CHARS);
    schema
}

/// `If-Match` as `if_match` parses it: visible ASCII, a comma-separated list whose
/// elements are empty, `*`, a strong tag `"…"` or a weak one `W/"…`, with spaces or tabs
/// around them.
const IF_MATCH_PATTERN: &str = concat!(
    r#"^[\t ]*(\*|"[\t\x20-\x2B\x2D-\x7E]*"|W/"[\t\x20-\x2B\x2D-\x7E]*)?[\t ]*"#,
    r#"(,[\t ]*(\*|"[\t\x20-\x2B\x2D-\x7E]*"|W/"[\t\x20-\x2B\x2D-\x7E]*)?[\t ]*)*$"#
);

fn if_match() -> Object {
    let mut schema = string();
    schema.pattern = Some(IF_MATCH_PATTERN.to_owned());
    schema
}

/// The schema of a parameter, by name.
fn parameter_schema(name: &str) -> Option<Object> {
    Some(match name {
        "user_id" => user_id(),
        "event_id" => event_id(),
        "from" | "to" => timestamp(),
        "limit" => limit(),
        "If-Match" => if_match(),
        // The cursor is opaque: only one this service issued is accepted (400 otherwise).
        "cursor" => string(),
        _ => return None,
    })
}

// === the answers every API route can give ===

fn problem(description: &str) -> Response {
    let mut response = Response::new(description);
    response.content.insert(
        PROBLEM_JSON.to_owned(),
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
    response
}

fn header(description: &str) -> Header {
    let mut header = Header::new(string());
    header.description = Some(description.to_owned());
    header
}

fn challenge(description: &str) -> Response {
    let mut response = problem(description);
    response.headers.insert(
        "WWW-Authenticate".to_owned(),
        header("The RFC 6750 Bearer challenge: `error` and `error_description` say why"),
    );
    response
}

/// Adds `status` to `operation` unless its annotation already describes it.
fn answer(operation: &mut Operation, status: u16, response: Response) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert(RefOr::T(response));
}

fn add_common_answers(operation: &mut Operation, scope: &str, has_body: bool) {
    // A malformed Authorization header is a 400 with a challenge, on every route.
    if let Some(RefOr::T(bad)) = operation.responses.responses.get_mut("400") {
        bad.headers.insert(
            "WWW-Authenticate".to_owned(),
            header("Present when the Authorization header is malformed (RFC 6750 invalid_request)"),
        );
    }
    answer(
        operation,
        401,
        challenge("No bearer token, or an invalid or expired one (RFC 6750)"),
    );
    answer(
        operation,
        403,
        challenge(&format!(
            "The token lacks the scope {scope} (RFC 6750 insufficient_scope)"
        )),
    );
    if has_body {
        answer(
            operation,
            413,
            problem("The body is larger than the configured limit"),
        );
        answer(
            operation,
            415,
            problem("The body is not sent as Content-Type: application/json"),
        );
    }
    answer(
        operation,
        500,
        problem("An internal failure; x-request-id identifies it in the logs"),
    );
    let mut unavailable = problem(
        "The database is unavailable, too many requests are waiting for it (type \
         urn:s2s:problem:database-busy), or the issuer's signing keys cannot be fetched; \
         try again later",
    );
    unavailable.headers.insert(
        "Retry-After".to_owned(),
        header("Seconds to wait before trying again, when known"),
    );
    answer(operation, 503, unavailable);
}

// === links, for clients and for stateful testing ===

/// A created event can be read, replaced and deleted, with its ETag as `If-Match`.
/// (Written as JSON: utoipa 5.5 serialises `Link::operation_id` as `operation_id`.)
fn add_links(doc: &mut serde_json::Value) {
    let path = json!({
        "path.user_id": "$request.path.user_id",
        "path.event_id": "$response.body#/id",
    });
    let mut guarded = path.clone();
    guarded["header.If-Match"] = json!("$response.header.ETag");
    let link = |operation_id: &str, parameters: &serde_json::Value| json!({"operationId": operation_id, "parameters": parameters});
    doc["paths"]["/users/{user_id}/schedule/events"]["post"]["responses"]["201"]["links"] = json!({
        "GetEvent": link("get_event", &path),
        "ReplaceEvent": link("replace_event", &guarded),
        "DeleteEvent": link("delete_event", &guarded),
        "ListSchedule": link("list_schedule", &json!({"path.user_id": "$request.path.user_id"})),
    });
}

/// Puts the validators' rules and the common answers into the generated document.
struct Contract;

impl Modify for Contract {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for route in API {
            let Some(operation) = doc
                .paths
                .paths
                .get_mut(route.path)
                .and_then(|item| operation(item, &route.method))
            else {
                continue;
            };
            for parameter in operation.parameters.iter_mut().flatten() {
                if let Some(schema) = parameter_schema(&parameter.name) {
                    parameter.schema = Some(RefOr::T(Schema::Object(schema)));
                }
            }
        }
        if let Some(RefOr::T(Schema::Object(input))) = doc
            .components
            .as_mut()
            .and_then(|components| components.schemas.get_mut("EventInput"))
        {
            constrain_event_input(input);
        }
    }
}

/// `EventInput` as `EventDraft::from_json` reads it: the four fields with their rules, the
/// read-only fields of `EventBody` (ignored, whatever their value), and nothing else.
fn constrain_event_input(input: &mut Object) {
    for (name, schema) in [
        ("title", title()),
        ("starts_at", timestamp()),
        ("ends_at", timestamp()),
        ("notes", notes()),
    ] {
        if let Some(RefOr::T(Schema::Object(property))) = input.properties.get_mut(name) {
            property.schema_type = schema.schema_type;
            property.format = schema.format;
            property.pattern = schema.pattern;
            property.min_length = schema.min_length;
            property.max_length = schema.max_length;
        }
    }
    for read_only in ["id", "created_by", "created_at", "updated_at"] {
        let mut any = Object::new();
        any.schema_type = SchemaType::AnyValue;
        any.description =
            Some("Read-only: accepted so a read event can be sent back, and ignored".to_owned());
        input
            .properties
            .insert(read_only.to_owned(), RefOr::T(Schema::Object(any)));
    }
    input.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    input.examples = vec![json!({
        "title": "Standup",
        "starts_at": "2026-01-31T09:00:00Z",
        "ends_at": "2026-01-31T09:15:00+00:00",
        "notes": "Room 4",
    })];
}

#[cfg(test)]
mod tests;
