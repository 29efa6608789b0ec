//! The OpenAPI description, served at `/openapi.json`.

use axum::body::Bytes;
use utoipa::OpenApi;

use crate::domain::{Article, InvalidField, Status};
use crate::error::Problem;
use crate::routes::articles::{ArticlePage, ArticleWrite};
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
    tags(
        (name = "articles", description = "The public CRUD API"),
        (name = "publication", description = "Calls that need user-schedule-service"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

/// The document, serialised (once, when the state is built).
pub(crate) fn document() -> Bytes {
    serde_json::to_vec(&ApiDoc::openapi())
        .map(Bytes::from)
        .unwrap_or_default()
}
