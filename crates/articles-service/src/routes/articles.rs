//! `/articles[/{id}]`: the public CRUD API.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::{ArticlePath, JsonBody, QueryPairs};
use crate::AppState;
use crate::domain::{
    Article, ArticleId, ArticleInput, AuthorId, Body, Cursor, InvalidField, PageRequest, Status,
    Title, parse_timestamp,
};
use crate::error::{ApiError, Problem};

/// The default page size of `GET /articles`.
pub(crate) const DEFAULT_LIMIT: u32 = 20;
/// The largest page size of `GET /articles`.
pub(crate) const MAX_LIMIT: u32 = 100;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/articles", get(list_articles).post(create_article))
        .route(
            "/articles/{id}",
            get(get_article).put(replace_article).delete(delete_article),
        )
}

/// The body of `POST /articles` and `PUT /articles/{id}` (documentation only: the handlers
/// validate field by field so that every error is reported at once). The rules of each
/// field, and the read-only members accepted and ignored, are put into the document by
/// openapi.rs, from the validators' constants.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Only its schema is used.
pub(crate) struct ArticleWrite {
    /// 1 to 200 characters, not only whitespace, no control characters.
    title: String,
    /// Up to 100,000 characters.
    body: String,
    /// The author's user id in user-schedule-service: 1 to 64 of `[A-Za-z0-9._-]`, not
    /// `.` or `..`.
    author_id: String,
    /// When to publish (RFC 3339), or null.
    #[schema(format = DateTime)]
    publish_at: Option<String>,
    /// `draft` (default), `scheduled` or `published`.
    status: Option<Status>,
}

/// One page of articles.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ArticlePage {
    /// The articles, oldest first.
    articles: Vec<Article>,
    /// Pass as `cursor` to get the next page; null on the last page.
    next_cursor: Option<String>,
}

/// The query of `GET /articles`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only its schema is used.
pub(crate) struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only articles with this status.
    status: Option<Status>,
}

/// Fields the service sets; a client may send them back (e.g. `PUT` what it `GET`), and
/// they are ignored.
pub(crate) const READ_ONLY: &[&str] = &["id", "created_at", "updated_at", "schedule_event_id"];

/// The members a client writes.
pub(crate) const WRITABLE: &[&str] = &["title", "body", "author_id", "publish_at", "status"];

/// Validates a write body, reporting every bad field at once.
pub(crate) fn parse_input(body: &Map<String, Value>) -> Result<ArticleInput, ApiError> {
    let mut errors = Vec::new();
    let mut string = |name: &str, required: bool| -> Option<String> {
        match body.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) if !required => None,
            None | Some(Value::Null) => {
                errors.push(InvalidField::new(name, "is required"));
                None
            }
            Some(_) => {
                errors.push(InvalidField::new(name, "must be a string"));
                None
            }
        }
    };
    let title = string("title", true);
    let text = string("body", true);
    let author_id = string("author_id", true);
    let publish_at = string("publish_at", false);
    let status = string("status", false);

    let title = title.and_then(|t| Title::parse(&t).map_err(|e| errors.push(e)).ok());
    let text = text.and_then(|b| Body::parse(&b).map_err(|e| errors.push(e)).ok());
    let author_id = author_id.and_then(|a| AuthorId::parse(&a).map_err(|e| errors.push(e)).ok());
    let publish_at = match publish_at {
        Some(raw) => match parse_timestamp(&raw, "publish_at") {
            Ok(t) => Some(Some(t)),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => Some(None),
    };
    let status = match status {
        Some(raw) => Status::parse(&raw, "status")
            .map_err(|e| errors.push(e))
            .ok(),
        None => Some(Status::Draft),
    };
    for name in body.keys() {
        if !WRITABLE.contains(&name.as_str()) && !READ_ONLY.contains(&name.as_str()) {
            errors.push(InvalidField::new(
                name.chars().take(64).collect::<String>(),
                "is not a field of an article",
            ));
        }
    }
    match (title, text, author_id, publish_at, status) {
        (Some(title), Some(body), Some(author_id), Some(publish_at), Some(status))
            if errors.is_empty() =>
        {
            Ok(ArticleInput {
                title,
                body,
                author_id,
                publish_at,
                status,
            })
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

pub(crate) fn parse_page(query: &QueryPairs) -> Result<PageRequest, ApiError> {
    query.only(&["limit", "cursor", "status"])?;
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => {
            let n: i64 = raw.parse().map_err(|_| ApiError::BadRequest {
                detail: format!(
                    "limit {:?} is not an integer",
                    raw.chars().take(32).collect::<String>()
                ),
                errors: vec![InvalidField::new("limit", "must be an integer")],
            })?;
            if !(1..=i64::from(MAX_LIMIT)).contains(&n) {
                return Err(ApiError::Validation(vec![InvalidField::new(
                    "limit",
                    format!("must be between 1 and {MAX_LIMIT}, got {n}"),
                )]));
            }
            n as u32
        }
    };
    let after = match query.get("cursor") {
        None | Some("") => None,
        Some(raw) => Some(Cursor::parse(raw).map_err(|e| ApiError::BadRequest {
            detail: e.to_string(),
            errors: vec![e],
        })?),
    };
    let status = query
        .get("status")
        .map(|raw| Status::parse(raw, "status"))
        .transpose()
        .map_err(|e| ApiError::Validation(vec![e]))?;
    Ok(PageRequest {
        limit,
        after,
        status,
    })
}

/// List articles, oldest first, one page at a time.
#[utoipa::path(
    get, path = "/articles", tag = "articles",
    params(ListQuery),
    responses(
        (status = 200, description = "One page", body = ArticlePage),
        (status = 400, description = "A limit that is not an integer, a cursor this service did not return, or an unknown or repeated parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A limit out of range, or an unknown status", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_articles(
    State(state): State<AppState>,
    query: QueryPairs,
) -> Result<Json<ArticlePage>, ApiError> {
    let page = parse_page(&query)?;
    let found = state.inner.store.list(&page).await?;
    Ok(Json(ArticlePage {
        articles: found.articles,
        next_cursor: found.next.map(|c| c.encode()),
    }))
}

/// Create an article.
#[utoipa::path(
    post, path = "/articles", tag = "articles",
    request_body = ArticleWrite,
    responses(
        (status = 201, description = "Created", body = Article, headers(
            ("Location" = String, description = "The article's URL"),
        )),
        (status = 400, description = "Malformed JSON, or not an object", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown members (every one is named)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_article(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let input = parse_input(&body)?;
    let article = input.into_article(ArticleId::random(), state.now());
    state.inner.store.insert(&article).await?;
    let location = format!("/articles/{}", article.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(article),
    )
        .into_response())
}

/// Read an article.
#[utoipa::path(
    get, path = "/articles/{id}", tag = "articles",
    params(("id" = String, Path, description = "The article's id (a UUID)")),
    responses(
        (status = 200, description = "The article", body = Article),
        (status = 400, description = "A path that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such article", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_article(
    State(state): State<AppState>,
    ArticlePath(id): ArticlePath,
) -> Result<Json<Article>, ApiError> {
    state
        .inner
        .store
        .get(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::ArticleNotFound(id.to_string()))
}

/// Replace an article's fields (all of them: an absent `publish_at` clears it).
#[utoipa::path(
    put, path = "/articles/{id}", tag = "articles",
    params(("id" = String, Path, description = "The article's id (a UUID)")),
    request_body = ArticleWrite,
    responses(
        (status = 200, description = "The article as replaced", body = Article),
        (status = 400, description = "Malformed JSON, not an object, or a path that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown members (every one is named)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn replace_article(
    State(state): State<AppState>,
    ArticlePath(id): ArticlePath,
    JsonBody(body): JsonBody,
) -> Result<Json<Article>, ApiError> {
    let input = parse_input(&body)?;
    state
        .inner
        .store
        .replace(id, &input, state.now())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::ArticleNotFound(id.to_string()))
}

/// Delete an article. (An event already booked in the author's schedule stays there.)
#[utoipa::path(
    delete, path = "/articles/{id}", tag = "articles",
    params(("id" = String, Path, description = "The article's id (a UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A path that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such article", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete_article(
    State(state): State<AppState>,
    ArticlePath(id): ArticlePath,
) -> Result<StatusCode, ApiError> {
    if state.inner.store.delete(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::ArticleNotFound(id.to_string()))
    }
}
