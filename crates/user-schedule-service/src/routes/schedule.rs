//! `/users/{user_id}/schedule…`: list, create, read, replace and delete events.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::domain::{Event, EventDraft, EventId, FieldError, Timestamp, UserId};
use crate::error::{ApiError, Problem};
use crate::store::{ListQuery, StoreError};

/// Events per page when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u32 = 50;
/// The largest `limit` accepted.
pub(crate) const MAX_LIMIT: u32 = 200;

/// An event as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct EventBody {
    /// The event's id (a UUID).
    #[schema(format = "uuid")]
    id: String,
    /// 1 to 200 characters.
    title: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    starts_at: String,
    /// RFC 3339, UTC; after `starts_at`.
    #[schema(format = DateTime)]
    ends_at: String,
    /// Up to 4000 characters; absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    /// The client id of the caller that created the event.
    created_by: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    created_at: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    updated_at: String,
}

impl From<&Event> for EventBody {
    fn from(event: &Event) -> Self {
        Self {
            id: event.id.to_string(),
            title: event.draft.title.as_str().to_owned(),
            starts_at: event.draft.starts_at.to_string(),
            ends_at: event.draft.ends_at.to_string(),
            notes: event.draft.notes.as_ref().map(|n| n.as_str().to_owned()),
            created_by: event.created_by.clone(),
            created_at: event.created_at.to_string(),
            updated_at: event.updated_at.to_string(),
        }
    }
}

/// What `POST` and `PUT` take. Read-only fields of [`EventBody`] may be echoed back and
/// are ignored; other unknown fields are refused (422). The rules of each field are put
/// into the document by openapi.rs, from the validators' constants.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only: bodies are validated by `EventDraft::from_json`.
pub(crate) struct EventInput {
    /// 1 to 200 characters, not only whitespace.
    title: String,
    /// RFC 3339 with an offset (converted to UTC).
    #[schema(format = DateTime)]
    starts_at: String,
    /// RFC 3339 with an offset; must be after `starts_at`.
    #[schema(format = DateTime)]
    ends_at: String,
    /// Up to 4000 characters.
    notes: Option<String>,
}

/// One page of a schedule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct SchedulePage {
    /// Events in `(starts_at, id)` order.
    events: Vec<EventBody>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// Path of the schedule routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct UserPath {
    /// 1 to 64 characters of `[A-Za-z0-9._-]`.
    user_id: String,
}

/// Path of the single-event routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct EventPath {
    /// 1 to 64 characters of `[A-Za-z0-9._-]`.
    user_id: String,
    /// The event's UUID.
    event_id: String,
}

/// Query of the list route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documentation only: parsed by `parse_list_query`.
pub(crate) struct ListParams {
    /// RFC 3339: only events that end after this time.
    from: Option<String>,
    /// RFC 3339: only events that start before this time.
    to: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

// === extraction helpers ===

fn path_error(rejection: &PathRejection) -> ApiError {
    ApiError::BadRequest {
        detail: format!("malformed path: {}", rejection.body_text()),
        errors: Vec::new(),
    }
}

fn user_from_path(path: Result<Path<UserPath>, PathRejection>) -> Result<UserId, ApiError> {
    let Path(path) = path.map_err(|r| path_error(&r))?;
    UserId::parse(&path.user_id).map_err(ApiError::bad_field)
}

fn event_from_path(
    path: Result<Path<EventPath>, PathRejection>,
) -> Result<(UserId, EventId), ApiError> {
    let Path(path) = path.map_err(|r| path_error(&r))?;
    let user = UserId::parse(&path.user_id).map_err(ApiError::bad_field)?;
    let event = EventId::parse(&path.event_id).map_err(ApiError::bad_field)?;
    Ok((user, event))
}

/// Turns a JSON body into a draft: 415 without a JSON content type, 413 when too large,
/// 400 when it is not a JSON object, 422 naming every invalid field.
fn draft_from_body(
    state: &AppState,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<EventDraft, ApiError> {
    let Json(value) = body.map_err(|rejection| match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(state.config().body_limit)
        }
        other => ApiError::BadRequest {
            detail: format!("the body is not valid JSON: {}", other.body_text()),
            errors: vec![FieldError::new("body", "must be a JSON object")],
        },
    })?;
    let serde_json::Value::Object(object) = value else {
        return Err(ApiError::BadRequest {
            detail: "the body must be a JSON object".to_owned(),
            errors: vec![FieldError::new("body", "must be a JSON object")],
        });
    };
    EventDraft::from_json(&object).map_err(ApiError::Invalid)
}

/// `If-Match`: `None` for no header or `*`, otherwise the versions the caller accepts
/// (empty when no strong tag of ours is listed, which can never match).
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<Vec<i64>>, ApiError> {
    let mut versions = Vec::new();
    let mut any = false;
    let mut seen = false;
    for value in headers.get_all(header::IF_MATCH) {
        seen = true;
        let text = value.to_str().map_err(|_| {
            ApiError::bad_field(FieldError::new("If-Match", "must be visible ASCII"))
        })?;
        for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if tag == "*" {
                any = true;
            } else if let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                // A strong tag we never issued cannot match; it is not an error.
                if let Ok(version) = inner.parse::<i64>() {
                    versions.push(version);
                }
            } else if !tag.starts_with("W/\"") {
                return Err(ApiError::bad_field(FieldError::new(
                    "If-Match",
                    "must be * or a list of entity tags",
                )));
            }
        }
    }
    Ok(if !seen || any { None } else { Some(versions) })
}

/// Resolves an `If-Match` list to the one version the store must see, reading the event
/// when the list has several candidates. An empty list maps to a version that never
/// exists, so the store answers 412 (or 404 for a missing event).
async fn expected_version(
    state: &AppState,
    user: &UserId,
    id: EventId,
    accepted: Option<Vec<i64>>,
) -> Result<Option<i64>, ApiError> {
    let Some(accepted) = accepted else {
        return Ok(None);
    };
    match accepted.as_slice() {
        [] => Ok(Some(0)),
        [one] => Ok(Some(*one)),
        many => {
            let current = state.store().get_event(user, id).await?.version;
            Ok(Some(if many.contains(&current) { current } else { 0 }))
        }
    }
}

fn with_etag(mut response: Response, event: &Event) -> Response {
    if let Ok(etag) = HeaderValue::from_str(&event.etag()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

pub(crate) fn encode_cursor(event: &Event) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}:{}",
        event.draft.starts_at.unix_nanos(),
        event.id
    ))
}

fn decode_cursor(raw: &str) -> Result<(Timestamp, EventId), FieldError> {
    let bad = || FieldError::new("cursor", "is not a cursor this service issued");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (nanos, id) = text.split_once(':').ok_or_else(bad)?;
    let nanos: i64 = nanos.parse().map_err(|_| bad())?;
    let id = EventId::parse(id).map_err(|_| bad())?;
    Ok((Timestamp::from_unix_nanos(nanos), id))
}

pub(crate) fn parse_list_query(
    params: &HashMap<String, String>,
) -> Result<ListQuery, Vec<FieldError>> {
    let mut errors = Vec::new();
    let from = params.get("from").and_then(|raw| {
        Timestamp::parse("from", raw)
            .map_err(|e| errors.push(e))
            .ok()
    });
    let to = params
        .get("to")
        .and_then(|raw| Timestamp::parse("to", raw).map_err(|e| errors.push(e)).ok());
    if let (Some(from), Some(to)) = (from, to)
        && to <= from
    {
        errors.push(FieldError::new("to", "must be after from"));
    }
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                errors.push(FieldError::new("limit", "must be an integer from 1 to 200"));
                DEFAULT_LIMIT
            }
        },
    };
    let after = params
        .get("cursor")
        .and_then(|raw| decode_cursor(raw).map_err(|e| errors.push(e)).ok());
    if errors.is_empty() {
        Ok(ListQuery {
            from,
            to,
            after,
            limit,
        })
    } else {
        Err(errors)
    }
}

// === handlers ===

/// A user's events in time order, one page at a time; a user with no events has an
/// empty schedule.
#[utoipa::path(
    get,
    path = "/users/{user_id}/schedule",
    tag = "schedule",
    params(UserPath, ListParams),
    responses(
        (status = 200, description = "One page of events", body = SchedulePage),
        (status = 400, description = "A malformed user_id, from, to or limit, to not after from, or a cursor this service did not issue", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_schedule(
    State(state): State<AppState>,
    path: Result<Path<UserPath>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let user = user_from_path(path)?;
    let Query(params) = query.map_err(|r| ApiError::BadRequest {
        detail: format!("malformed query string: {}", r.body_text()),
        errors: Vec::new(),
    })?;
    let mut query = parse_list_query(&params).map_err(|errors| ApiError::BadRequest {
        detail: format!(
            "invalid query parameters: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        errors,
    })?;
    let limit = query.limit as usize;
    // One more than asked tells whether there is a next page.
    query.limit += 1;
    // A user with no events has an empty schedule, not a missing one: callers need not
    // tell "unknown user" from "nothing booked".
    let mut events = match state.store().list_events(&user, &query).await {
        Err(StoreError::UnknownUser(_)) => Vec::new(),
        other => other?,
    };
    let next_cursor = if events.len() > limit {
        events.truncate(limit);
        events.last().map(encode_cursor)
    } else {
        None
    };
    Ok(Json(SchedulePage {
        events: events.iter().map(EventBody::from).collect(),
        next_cursor,
    })
    .into_response())
}

/// Creates an event; the user becomes known with their first one.
#[utoipa::path(
    post,
    path = "/users/{user_id}/schedule/events",
    tag = "schedule",
    params(UserPath),
    request_body = EventInput,
    responses(
        (status = 201, description = "Created", body = EventBody, headers(
            ("Location" = String, description = "The event's URL"),
            ("ETag" = String, description = "The event's version, for If-Match"),
        )),
        (status = 400, description = "Malformed JSON, not an object, or a malformed user_id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field values (every one is named), or ends_at not after starts_at", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_event(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<UserPath>, PathRejection>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let user = user_from_path(path)?;
    let draft = draft_from_body(&state, body)?;
    let now = state.now()?;
    let event = Event {
        id: state.new_event_id()?,
        user_id: user,
        draft,
        created_by: caller.client_id,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    state.store().create_event(&event).await?;
    let location = format!("/users/{}/schedule/events/{}", event.user_id, event.id);
    let mut response = (StatusCode::CREATED, Json(EventBody::from(&event))).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(with_etag(response, &event))
}

/// One event.
#[utoipa::path(
    get,
    path = "/users/{user_id}/schedule/events/{event_id}",
    tag = "schedule",
    params(EventPath),
    responses(
        (status = 200, description = "The event", body = EventBody, headers(
            ("ETag" = String, description = "The event's version, for If-Match"),
        )),
        (status = 400, description = "A malformed user_id or event_id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown user or event", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_event(
    State(state): State<AppState>,
    path: Result<Path<EventPath>, PathRejection>,
) -> Result<Response, ApiError> {
    let (user, id) = event_from_path(path)?;
    let event = state.store().get_event(&user, id).await?;
    Ok(with_etag(
        Json(EventBody::from(&event)).into_response(),
        &event,
    ))
}

/// Replaces an event's title, times and notes. With `If-Match`, only if it is unchanged.
#[utoipa::path(
    put,
    path = "/users/{user_id}/schedule/events/{event_id}",
    tag = "schedule",
    params(EventPath, ("If-Match" = Option<String>, Header, description = "An ETag from a previous read, or *")),
    request_body = EventInput,
    responses(
        (status = 200, description = "Replaced", body = EventBody, headers(
            ("ETag" = String, description = "The event's new version"),
        )),
        (status = 400, description = "Malformed JSON, not an object, a malformed user_id, event_id or If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown user or event", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current ETag", body = Problem, content_type = "application/problem+json", headers(
            ("ETag" = String, description = "The event's current version"),
        )),
        (status = 422, description = "Invalid field values (every one is named), or ends_at not after starts_at", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn replace_event(
    State(state): State<AppState>,
    path: Result<Path<EventPath>, PathRejection>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (user, id) = event_from_path(path)?;
    let accepted = if_match(&headers)?;
    let draft = draft_from_body(&state, body)?;
    let expected = expected_version(&state, &user, id, accepted).await?;
    let now = state.now()?;
    let event = state
        .store()
        .replace_event(&user, id, &draft, now, expected)
        .await?;
    Ok(with_etag(
        Json(EventBody::from(&event)).into_response(),
        &event,
    ))
}

/// Deletes an event. With `If-Match`, only if it is unchanged.
#[utoipa::path(
    delete,
    path = "/users/{user_id}/schedule/events/{event_id}",
    tag = "schedule",
    params(EventPath, ("If-Match" = Option<String>, Header, description = "An ETag from a previous read, or *")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A malformed user_id, event_id or If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown user or event", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match the current ETag", body = Problem, content_type = "application/problem+json", headers(
            ("ETag" = String, description = "The event's current version"),
        )),
    )
)]
pub(crate) async fn delete_event(
    State(state): State<AppState>,
    path: Result<Path<EventPath>, PathRejection>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (user, id) = event_from_path(path)?;
    let accepted = if_match(&headers)?;
    let expected = expected_version(&state, &user, id, accepted).await?;
    state.store().delete_event(&user, id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_forms() {
        let mut headers = HeaderMap::new();
        assert_eq!(if_match(&headers).unwrap(), None);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"3\""));
        assert_eq!(if_match(&headers).unwrap(), Some(vec![3]));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"3\", \"4\""));
        assert_eq!(if_match(&headers).unwrap(), Some(vec![3, 4]));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(if_match(&headers).unwrap(), None);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("W/\"3\""));
        assert_eq!(if_match(&headers).unwrap(), Some(vec![]));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("3"));
        assert!(if_match(&headers).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let id = EventId::from_random_bytes([7; 16]);
        let raw = URL_SAFE_NO_PAD.encode(format!("-5:{id}"));
        assert_eq!(
            decode_cursor(&raw).unwrap(),
            (Timestamp::from_unix_nanos(-5), id)
        );
        assert!(decode_cursor("!!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("5")).is_err());
    }

    #[test]
    fn list_query_limits() {
        let params = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(parse_list_query(&params(&[])).unwrap().limit, 50);
        assert_eq!(
            parse_list_query(&params(&[("limit", "200")]))
                .unwrap()
                .limit,
            200
        );
        assert!(parse_list_query(&params(&[("limit", "201")])).is_err());
        assert!(parse_list_query(&params(&[("limit", "0")])).is_err());
        let errors = parse_list_query(&params(&[
            ("from", "2026-01-02T00:00:00Z"),
            ("to", "2026-01-01T00:00:00Z"),
        ]))
        .unwrap_err();
        assert_eq!(errors[0].field, "to");
    }
}
