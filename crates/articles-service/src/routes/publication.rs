//! The two routes that call user-schedule-service with this service's own token:
//! `GET /articles/{id}/author-schedule` and `POST /articles/{id}/publication`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use time::OffsetDateTime;
use tracing::Instrument as _;
use utoipa::ToSchema;
use uuid::Uuid;

use super::ArticlePath;
use crate::AppState;
use crate::domain::{Article, ArticleId, InvalidField, Title};
use crate::error::{ApiError, Problem};
use crate::schedule::{NewEvent, ScheduleEvent};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/articles/{id}/author-schedule", get(get_author_schedule))
        .route("/articles/{id}/publication", post(book_publication))
}

/// The author's events around an article's publication.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuthorSchedule {
    /// The author.
    author_id: String,
    /// Start of the window (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    from: OffsetDateTime,
    /// End of the window (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    to: OffsetDateTime,
    /// The author's events in the window, as user-schedule-service lists them.
    events: Vec<ScheduleEvent>,
}

async fn load(state: &AppState, id: ArticleId) -> Result<Article, ApiError> {
    state
        .inner
        .store
        .get(id)
        .await?
        .ok_or_else(|| ApiError::ArticleNotFound(id.to_string()))
}

fn shift(t: OffsetDateTime, by: Duration, forward: bool) -> Result<OffsetDateTime, ApiError> {
    let by = time::Duration::try_from(by).ok();
    by.and_then(|by| {
        if forward {
            t.checked_add(by)
        } else {
            t.checked_sub(by)
        }
    })
    .ok_or_else(|| {
        ApiError::Validation(vec![InvalidField::new(
            "publish_at",
            "is too far from today to compute a schedule window",
        )])
    })
}

/// The author's schedule around the article's `publish_at` (± the configured window,
/// 7 days by default) or, without one, over the next 14 days. Needs scope
/// `user-schedule-service/schedule.read`.
#[utoipa::path(
    get, path = "/articles/{id}/author-schedule", tag = "publication",
    params(("id" = String, Path, description = "The article's id (a UUID)")),
    responses(
        (status = 200, description = "The author's events in the window", body = AuthorSchedule),
        (status = 400, description = "A path that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The article's publish_at is too far from today for a window", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "user-schedule-service or the token endpoint refused", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "user-schedule-service unreachable", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "user-schedule-service timed out", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_author_schedule(
    State(state): State<AppState>,
    ArticlePath(id): ArticlePath,
) -> Result<Json<AuthorSchedule>, ApiError> {
    let article = load(&state, id).await?;
    let config = &state.inner.config;
    let (from, to) = match article.publish_at {
        Some(at) => (
            shift(at, config.schedule_window, false)?,
            shift(at, config.schedule_window, true)?,
        ),
        None => {
            let now = state.now();
            (now, shift(now, config.schedule_lookahead, true)?)
        }
    };
    let events = state
        .inner
        .schedules
        .list_events(&article.author_id, from, to)
        .await?;
    Ok(Json(AuthorSchedule {
        author_id: article.author_id.to_string(),
        from,
        to,
        events,
    }))
}

/// The title of the publication event: `Publish: <title>`, cut to 200 characters.
pub(crate) fn event_title(title: &Title) -> String {
    format!("Publish: {}", title.as_str())
        .chars()
        .take(Title::MAX_CHARS)
        .collect()
}

/// Book the article's publication in the author's schedule: an event "Publish: <title>"
/// at `publish_at`, 30 minutes long. Needs scope `user-schedule-service/schedule.update`.
/// Stores the event id and sets the status to `scheduled`. Booking twice books nothing:
/// an article already booked is returned with 200, and so is one whose event an earlier,
/// failed attempt left in the author's schedule (found there and recorded).
#[utoipa::path(
    post, path = "/articles/{id}/publication", tag = "publication",
    params(("id" = String, Path, description = "The article's id (a UUID)")),
    responses(
        (status = 201, description = "Booked now", body = Article),
        (status = 200, description = "Already booked (here or found upstream); nothing was booked", body = Article),
        (status = 400, description = "A path that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such article", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another request is booking it right now", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The article has no publish_at, or one too far from today", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "user-schedule-service or the token endpoint refused; the article is unchanged", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "user-schedule-service unreachable; the article is unchanged", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "user-schedule-service timed out; the article is unchanged", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn book_publication(
    State(state): State<AppState>,
    ArticlePath(id): ArticlePath,
) -> Result<Response, ApiError> {
    let article = load(&state, id).await?;
    if article.schedule_event_id.is_some() {
        return Ok((StatusCode::OK, Json(article)).into_response());
    }
    // Run the booking to its end even if the client goes away, so that a claim taken is
    // always completed or released, never left to go stale with an event booked. In the
    // request's span: its logs and trace spans stay the request's.
    let task = tokio::spawn(book(state, article).instrument(tracing::Span::current()));
    match task.await {
        Ok(result) => result,
        Err(join_error) => Err(ApiError::UpstreamFailed {
            upstream_status: None,
            detail: format!("the booking task failed: {join_error}"),
        }),
    }
}

async fn book(state: AppState, article: Article) -> Result<Response, ApiError> {
    let store = &state.inner.store;
    let config = &state.inner.config;
    // Refuse before claiming what cannot be booked anyway.
    publication_event(&article, config.publication_length)?;

    let claim = Uuid::new_v4();
    let now = state.now();
    // A claim older than the longest a booking can take belongs to a crashed process.
    let stale_before = shift(
        now,
        config.upstream_timeout + Duration::from_secs(60),
        false,
    )?;
    if !store
        .claim_publication(article.id, claim, now, stale_before)
        .await?
    {
        return match store.get(article.id).await? {
            None => Err(ApiError::ArticleNotFound(article.id.to_string())),
            Some(booked) if booked.schedule_event_id.is_some() => {
                Ok((StatusCode::OK, Json(booked)).into_response())
            }
            Some(_) => Err(ApiError::PublicationInProgress(article.id)),
        };
    }
    // Book what the article says now that the claim is held (a PUT may have come between).
    let fresh = match store.get(article.id).await {
        Ok(Some(fresh)) => publication_event(&fresh, config.publication_length).map(|e| (fresh, e)),
        Ok(None) => Err(ApiError::ArticleNotFound(article.id.to_string())),
        Err(error) => Err(error.into()),
    };
    let (article, event) = match fresh {
        Ok(fresh) => fresh,
        Err(error) => {
            release(&state, article.id, claim).await;
            return Err(error);
        }
    };

    let booked = match find_or_book(&state, &article, &event).await {
        Ok(booked) => booked,
        Err(error) => {
            release(&state, article.id, claim).await;
            return Err(error);
        }
    };
    // 201 when this call booked the event; 200 when it found it already booked by an
    // earlier attempt whose answer was lost.
    let status = match booked {
        Booking::New(_) => StatusCode::CREATED,
        Booking::Found(_) => StatusCode::OK,
    };
    let booked = match booked {
        Booking::New(event) | Booking::Found(event) => event,
    };

    match store
        .complete_publication(article.id, claim, &booked.id, state.now())
        .await
    {
        Ok(Some(scheduled)) => Ok((status, Json(scheduled)).into_response()),
        Ok(None) => {
            // Deleted meanwhile (a claim is only taken over after it went stale).
            tracing::warn!(article = %article.id, event = %booked.id, "event booked but the article is gone");
            Err(ApiError::ArticleNotFound(article.id.to_string()))
        }
        Err(error) => {
            tracing::error!(article = %article.id, event = %booked.id, "event booked but not recorded");
            release(&state, article.id, claim).await;
            Err(error.into())
        }
    }
}

/// The event that publishes `article`; 422 without a `publish_at`.
fn publication_event(article: &Article, length: Duration) -> Result<NewEvent, ApiError> {
    let Some(publish_at) = article.publish_at else {
        return Err(ApiError::Validation(vec![InvalidField::new(
            "publish_at",
            "is required to book the publication: set it with PUT /articles/{id} first",
        )]));
    };
    Ok(NewEvent {
        title: event_title(&article.title),
        starts_at: publish_at,
        ends_at: shift(publish_at, length, true)?,
    })
}

/// Drops a claim after a failed booking; if even that fails, the claim expires by itself.
async fn release(state: &AppState, id: ArticleId, claim: Uuid) {
    if let Err(error) = state.inner.store.release_publication(id, claim).await {
        tracing::error!(article = %id, error = %error, "cannot release the publication claim; it expires on its own");
    }
}

enum Booking {
    New(ScheduleEvent),
    Found(ScheduleEvent),
}

/// Books the event, unless an earlier attempt already did: an attempt whose answer was
/// lost (a timeout after user-schedule-service stored the event) would otherwise leave
/// a second event behind on retry. The check reads the author's schedule over the
/// publication slot and takes an event with the same title, start and end. Without
/// `schedule.read` (403) the check is skipped and the event is booked.
async fn find_or_book(
    state: &AppState,
    article: &Article,
    event: &NewEvent,
) -> Result<Booking, ApiError> {
    let schedules = &state.inner.schedules;
    match schedules
        .list_events(&article.author_id, event.starts_at, event.ends_at)
        .await
    {
        Ok(existing) => {
            if let Some(found) = existing.into_iter().find(|e| {
                e.title == event.title
                    && e.starts_at == event.starts_at
                    && e.ends_at == event.ends_at
            }) {
                tracing::info!(article = %article.id, event = %found.id, "publication already booked upstream");
                return Ok(Booking::Found(found));
            }
        }
        Err(ApiError::UpstreamRefused {
            upstream_status: 403,
            ..
        }) => {}
        Err(other) => return Err(other),
    }
    schedules
        .create_event(&article.author_id, event)
        .await
        .map(Booking::New)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_title_is_capped() {
        let short = Title::parse("Spring launch").unwrap();
        assert_eq!(event_title(&short), "Publish: Spring launch");
        let long = Title::parse(&"x".repeat(200)).unwrap();
        let title = event_title(&long);
        assert_eq!(title.chars().count(), 200);
        assert!(title.starts_with("Publish: xxx"));
    }
}
