//! The OpenAPI description, served at `/openapi.json`: the exact contract of the service.
//!
//! The shapes come from the handlers' annotations. Every rule the validators enforce
//! (patterns, lengths, bounds, formats, refused members) is added by [`Contract`] from the
//! constants the validators themselves use (domain.rs, routes), and so are the answers
//! every API route can give (500, the database's 503, 413/415 on bodies, the optional
//! bearer token of writes), so the document cannot promise what the service refuses.
//! The tests below check the patterns against the parsers.

use axum::body::Bytes;
use serde_json::json;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, Object, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};

use crate::domain::{
    Article, ArticleId, AuthorId, Body, InvalidField, Status, TIMESTAMP_PATTERN, Title,
};
use crate::error::{PROBLEM_JSON, Problem};
use crate::routes::articles::{ArticlePage, ArticleWrite, DEFAULT_LIMIT, MAX_LIMIT, READ_ONLY};
use crate::routes::ops::Health;
use crate::routes::publication::AuthorSchedule;
use crate::schedule::ScheduleEvent;

/// The OpenAPI document of articles-service.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "articles-service",
        description = "The company's articles API. Two routes call user-schedule-service with \
                       this service's own OAuth 2.0 client-credentials token. Errors are \
                       RFC 9457 problem documents (application/problem+json)."
    ),
    paths(
        crate::routes::articles::list_articles,
        crate::routes::articles::create_article,
        crate::routes::articles::get_article,
        crate::routes::articles::replace_article,
        crate::routes::articles::delete_article,
        crate::routes::publication::get_author_schedule,
        crate::routes::publication::book_publication,
        crate::routes::ops::healthz,
        crate::routes::ops::readyz,
        crate::routes::ops::metrics,
        crate::routes::ops::openapi_json,
    ),
    components(schemas(
        Article, ArticleWrite, ArticlePage, Status, Problem, InvalidField, AuthorSchedule,
        ScheduleEvent, Health
    )),
    modifiers(&Contract),
    tags(
        (name = "articles", description = "The public CRUD API"),
        (name = "publication", description = "Calls that need user-schedule-service"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

/// The document, serialised (once, when the state is built).
pub(crate) fn document() -> Bytes {
    serde_json::to_vec(&json_document())
        .map(Bytes::from)
        .unwrap_or_default()
}

/// The document as JSON, links included.
fn json_document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    add_links(&mut doc);
    doc
}

// === the rules, from the validators' constants ===

fn string() -> Object {
    Object::with_type(Type::String)
}

/// `{id}`: [`ArticleId::parse`] (any other text names no article: 404).
fn article_id() -> Object {
    let mut schema = string();
    schema.format = Some(SchemaFormat::KnownFormat(KnownFormat::Uuid));
    schema.pattern = Some(ArticleId::PATTERN.to_owned());
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

/// `body`: [`Body::parse`].
fn body() -> Object {
    let mut schema = string();
    schema.max_length = Some(Body::MAX_CHARS);
    schema
}

/// `author_id`: [`AuthorId::parse`].
fn author_id() -> Object {
    let mut schema = string();
    schema.min_length = Some(1);
    schema.max_length = Some(AuthorId::MAX_LEN);
    schema.pattern = Some(AuthorId::PATTERN.to_owned());
    schema
}

/// `publish_at`: [`parse_timestamp`](crate::domain::parse_timestamp).
fn timestamp() -> Object {
    let mut schema = string();
    schema.format = Some(SchemaFormat::KnownFormat(KnownFormat::DateTime));
    schema.pattern = Some(TIMESTAMP_PATTERN.to_owned());
    schema
}

/// `limit`: `parse_page`.
fn limit() -> Object {
    let mut schema = Object::with_type(Type::Integer);
    schema.minimum = Some(1.into());
    schema.maximum = Some(MAX_LIMIT.into());
    schema.default = Some(DEFAULT_LIMIT.into());
    schema
}

/// Applies `rule`'s constraints to the property `name` of `object`, keeping its
/// description.
fn constrain(object: &mut Object, name: &str, rule: Object) {
    if let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(name) {
        property.schema_type = rule.schema_type;
        property.format = rule.format;
        property.pattern = rule.pattern;
        property.min_length = rule.min_length;
        property.max_length = rule.max_length;
    }
}

/// `ArticleWrite` as `parse_input` reads it, and `Article` as it is served.
fn constrain_schemas(doc: &mut utoipa::openapi::OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for name in ["ArticleWrite", "Article"] {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) else {
            continue;
        };
        constrain(object, "title", title());
        constrain(object, "body", body());
        constrain(object, "author_id", author_id());
        if name == "Article" {
            constrain(object, "id", article_id());
            continue;
        }
        // Null is the same as absent: no publication date.
        let mut publish_at = timestamp();
        publish_at.schema_type = SchemaType::Array(vec![Type::String, Type::Null]);
        constrain(object, "publish_at", publish_at);
        // Read-only members a client may send back are ignored; anything else is refused.
        for read_only in READ_ONLY {
            let mut any = Object::new();
            any.schema_type = SchemaType::AnyValue;
            any.description = Some(
                "Read-only: accepted so a read article can be sent back, and ignored".to_owned(),
            );
            object
                .properties
                .insert((*read_only).to_owned(), RefOr::T(Schema::Object(any)));
        }
        object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        object.examples = vec![json!({
            "title": "Tokens without users",
            "body": "Client credentials in practice.",
            "author_id": "alice",
            "publish_at": "2030-01-07T09:00:00Z",
            "status": "draft",
        })];
    }
}

/// The schema of a parameter, by name.
fn parameter_schema(name: &str) -> Option<Object> {
    Some(match name {
        "id" => article_id(),
        "limit" => limit(),
        // The cursor is opaque: only one this service returned is accepted (400 otherwise);
        // an empty one is the first page.
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

/// The database can be unavailable on every API route; on the publication routes a 503
/// may also be user-schedule-service's. The `/articles` routes (`admitted`) also refuse
/// with a 503 when too many requests already wait for the database.
fn database_unavailable(operation: &mut Operation, admitted: bool) {
    const DATABASE: &str = "The database is unavailable; try again later";
    const BUSY: &str = "The database is unavailable, or too many requests are waiting for it \
        (type urn:s2s:articles-service:problem:database-busy); try again later";
    let database = if admitted { BUSY } else { DATABASE };
    let entry = operation
        .responses
        .responses
        .entry("503".to_owned())
        .or_insert_with(|| RefOr::T(problem(database)));
    if let RefOr::T(response) = entry {
        if response.description != database {
            response.description =
                format!("{}; or the database is unavailable", response.description);
        }
        response.headers.insert(
            "Retry-After".to_owned(),
            header("Seconds to wait before trying again, when known"),
        );
    }
}

fn add_common_answers(operation: &mut Operation, write: bool, admitted: bool) {
    if write {
        // Writes need a bearer token when the service listens beyond loopback.
        operation.security = Some(vec![
            SecurityRequirement::default(),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
        answer(
            operation,
            401,
            challenge(
                "No bearer token, or an invalid or expired one, where writes need one (RFC 6750)",
            ),
        );
        answer(
            operation,
            403,
            challenge("The token lacks the scope writes need (RFC 6750 insufficient_scope)"),
        );
    }
    if operation.request_body.is_some() {
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
        problem("An internal failure; the request id identifies it in the logs"),
    );
    database_unavailable(operation, admitted);
}

// === links, for clients and for stateful testing ===

/// A created article can be read, replaced, deleted, and its publication booked.
/// (Written as JSON: utoipa 5.5 serialises `Link::operation_id` as `operation_id`.)
fn add_links(doc: &mut serde_json::Value) {
    let link = |operation_id: &str| json!({"operationId": operation_id, "parameters": {"path.id": "$response.body#/id"}});
    doc["paths"]["/articles"]["post"]["responses"]["201"]["links"] = json!({
        "GetArticle": link("get_article"),
        "ReplaceArticle": link("replace_article"),
        "DeleteArticle": link("delete_article"),
        "GetAuthorSchedule": link("get_author_schedule"),
        "BookPublication": link("book_publication"),
    });
}

/// Puts the validators' rules and the common answers into the generated document.
struct Contract;

impl Modify for Contract {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    Http::builder()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "An access token; required for writes only when the service \
                             listens beyond loopback",
                        ))
                        .build(),
                ),
            );
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/articles") {
                continue;
            }
            // The routes behind the admission control (see `router`).
            let admitted = path == "/articles" || path == "/articles/{id}";
            let reads = [item.get.as_mut()]
                .into_iter()
                .flatten()
                .map(|o| (o, false));
            let writes = [item.post.as_mut(), item.put.as_mut(), item.delete.as_mut()]
                .into_iter()
                .flatten()
                .map(|o| (o, true));
            for (operation, write) in reads.chain(writes) {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let Some(schema) = parameter_schema(&parameter.name) {
                        parameter.schema = Some(RefOr::T(Schema::Object(schema)));
                    }
                }
                add_common_answers(operation, write, admitted);
            }
        }
        constrain_schemas(doc);
    }
}

#[cfg(test)]
mod tests;
