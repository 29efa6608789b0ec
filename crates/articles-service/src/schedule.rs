//! The client of user-schedule-service: the two calls this service makes, with every
//! failure turned into an [`ApiError`] that says whose fault it was.

use std::time::Duration;

use bytes::Bytes;
use oauth_proto::BearerChallenge;
use reqwest::{StatusCode, Url, header};
use reqwest_middleware::ClientWithMiddleware;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::AuthorId;
use crate::error::ApiError;

/// The longest schedule listing followed, in pages, so a misbehaving upstream cannot keep
/// a request busy forever.
const MAX_PAGES: usize = 20;

/// One event of a user's schedule, as user-schedule-service serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) struct ScheduleEvent {
    /// The event's id in user-schedule-service.
    pub(crate) id: String,
    /// What the event is.
    pub(crate) title: String,
    /// When it starts (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub(crate) starts_at: OffsetDateTime,
    /// When it ends (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub(crate) ends_at: OffsetDateTime,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) notes: Option<String>,
    /// Who created it (a user id or an app client id).
    pub(crate) created_by: String,
    /// When it was created (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub(crate) created_at: OffsetDateTime,
    /// When it last changed (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub(crate) updated_at: OffsetDateTime,
}

/// The body of `POST /users/{user_id}/schedule/events`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NewEvent {
    pub(crate) title: String,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) ends_at: OffsetDateTime,
}

#[derive(Debug, Deserialize)]
struct EventPage {
    events: Vec<ScheduleEvent>,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// Calls user-schedule-service through a client that attaches this service's token.
#[derive(Debug, Clone)]
pub(crate) struct ScheduleClient {
    http: ClientWithMiddleware,
    base: Url,
    timeout: Duration,
    classify: fn(reqwest_middleware::Error) -> ApiError,
}

impl ScheduleClient {
    /// `classify` turns an error of the HTTP stack (including the token middleware) into an
    /// [`ApiError`].
    pub(crate) fn new(
        http: ClientWithMiddleware,
        base: Url,
        timeout: Duration,
        classify: fn(reqwest_middleware::Error) -> ApiError,
    ) -> Self {
        Self {
            http,
            base,
            timeout,
            classify,
        }
    }

    /// `{base}/users/{user}/schedule[/events]`.
    fn url(&self, user: &AuthorId, events: bool) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .push("users")
                .push(user.as_str())
                .push("schedule");
            if events {
                segments.push("events");
            }
        }
        url
    }

    /// The user's events in `[from, to)`, following pagination.
    pub(crate) async fn list_events(
        &self,
        user: &AuthorId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<ScheduleEvent>, ApiError> {
        let (from, to) = (rfc3339(from), rfc3339(to));
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = self.url(user, false);
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("from", &from).append_pair("to", &to);
                if let Some(cursor) = &cursor {
                    query.append_pair("cursor", cursor);
                }
            }
            let request = self.http.get(url);
            let (status, body) = self.call(request).await?;
            match status {
                StatusCode::OK => {
                    let page: EventPage = decode(status, &body)?;
                    events.extend(page.events);
                    match page.next_cursor {
                        Some(next) if !next.is_empty() => cursor = Some(next),
                        _ => return Ok(events),
                    }
                }
                other => return Err(unexpected(other, &body)),
            }
        }
        Err(ApiError::UpstreamFailed {
            upstream_status: Some(200),
            detail: format!(
                "user-schedule-service listed more than {MAX_PAGES} pages of events for {user}"
            ),
        })
    }

    /// Books an event in the user's schedule and returns it.
    pub(crate) async fn create_event(
        &self,
        user: &AuthorId,
        event: &NewEvent,
    ) -> Result<ScheduleEvent, ApiError> {
        let body = serde_json::to_vec(event).map_err(|e| ApiError::UpstreamFailed {
            upstream_status: None,
            detail: format!("cannot encode the event: {e}"),
        })?;
        let request = self
            .http
            .post(self.url(user, true))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        let (status, body) = self.call(request).await?;
        if status.is_success() {
            decode(status, &body)
        } else {
            Err(unexpected(status, &body))
        }
    }

    /// Sends a request and reads the whole answer within the timeout. 401 and 403 become
    /// [`ApiError::UpstreamRefused`]; every other status is returned to the caller.
    async fn call(
        &self,
        request: reqwest_middleware::RequestBuilder,
    ) -> Result<(StatusCode, Bytes), ApiError> {
        let exchange = async {
            let response = request.send().await.map_err(self.classify)?;
            let status = response.status();
            let challenges = BearerChallenge::from_header_values(
                response
                    .headers()
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            );
            let body = response
                .bytes()
                .await
                .map_err(|e| (self.classify)(reqwest_middleware::Error::Reqwest(e)))?;
            Ok::<_, ApiError>((status, challenges, body))
        };
        let outcome = tokio::time::timeout(self.timeout, exchange).await;
        let (status, challenges, body) = match outcome {
            Err(_elapsed) => {
                record("timeout");
                return Err(ApiError::UpstreamTimeout(format!(
                    "user-schedule-service did not answer within {:?}",
                    self.timeout
                )));
            }
            Ok(Err(error)) => {
                record(match &error {
                    ApiError::UpstreamTimeout(_) => "timeout",
                    ApiError::UpstreamUnavailable(_) => "unreachable",
                    _ => "error",
                });
                return Err(error);
            }
            Ok(Ok(answer)) => answer,
        };
        record(status.as_str());
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(refused(status, challenges.first()));
        }
        Ok((status, body))
    }
}

fn record(status: &str) {
    metrics::counter!("upstream_requests_total", "status" => status.to_owned()).increment(1);
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(status: StatusCode, body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::UpstreamFailed {
        upstream_status: Some(status.as_u16()),
        detail: format!(
            "user-schedule-service answered {status} with a body this service cannot read: {e}"
        ),
    })
}

fn unexpected(status: StatusCode, body: &Bytes) -> ApiError {
    // The upstream's problem document, if any, says why; pass its detail on.
    let why = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("detail")
                .or_else(|| v.get("title"))
                .and_then(|d| d.as_str().map(|s| s.chars().take(300).collect::<String>()))
        });
    let detail = match why {
        Some(why) => format!("user-schedule-service answered {status}: {why}"),
        None => format!("user-schedule-service answered {status}"),
    };
    ApiError::UpstreamFailed {
        upstream_status: Some(status.as_u16()),
        detail,
    }
}

/// Explains a 401 or 403 from its RFC 6750 `WWW-Authenticate` challenge.
fn refused(status: StatusCode, challenge: Option<&BearerChallenge>) -> ApiError {
    let error = challenge
        .and_then(|c| c.error.as_ref())
        .map(ToString::to_string);
    let scope = challenge
        .and_then(|c| c.scope.clone())
        .filter(|s| !s.is_empty());
    let detail = if status == StatusCode::FORBIDDEN {
        match &scope {
            Some(scope) => format!("this service lacks scope {scope}"),
            None => "this service lacks a scope the call needs".to_owned(),
        }
    } else {
        match &error {
            Some(code) => format!("it does not accept this service's access token ({code})"),
            None => "it wants an access token and got none it accepts".to_owned(),
        }
    };
    ApiError::UpstreamRefused {
        upstream_status: status.as_u16(),
        missing_scope: if status == StatusCode::FORBIDDEN {
            scope
        } else {
            None
        },
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusal for an answer with `status` and the `WWW-Authenticate` value `raw`.
    fn refused_with(status: StatusCode, raw: &str) -> ApiError {
        refused(status, BearerChallenge::parse(raw).as_ref())
    }

    #[test]
    fn a_403_names_the_missing_scope() {
        let err = refused_with(
            StatusCode::FORBIDDEN,
            r#"Bearer error="insufficient_scope", scope="user-schedule-service/schedule.update""#,
        );
        assert_eq!(
            err.to_string(),
            "user-schedule-service refused: this service lacks scope user-schedule-service/schedule.update"
        );
        let ApiError::UpstreamRefused {
            upstream_status,
            missing_scope,
            ..
        } = err
        else {
            panic!("not a refusal")
        };
        assert_eq!(upstream_status, 403);
        assert_eq!(
            missing_scope.as_deref(),
            Some("user-schedule-service/schedule.update")
        );
    }

    #[test]
    fn a_401_names_the_token_problem() {
        let err = refused_with(
            StatusCode::UNAUTHORIZED,
            r#"Bearer error="invalid_token", error_description="expired""#,
        );
        assert!(err.to_string().contains("invalid_token"), "{err}");
        assert!(matches!(
            err,
            ApiError::UpstreamRefused {
                upstream_status: 401,
                missing_scope: None,
                ..
            }
        ));
    }

    #[test]
    fn urls_keep_the_base_path() {
        let client = ScheduleClient::new(
            reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build(),
            Url::parse("http://127.0.0.1:8082/api/").unwrap(),
            Duration::from_secs(1),
            |e| ApiError::UpstreamUnavailable(e.to_string()),
        );
        let user = AuthorId::parse("alice").unwrap();
        assert_eq!(
            client.url(&user, true).as_str(),
            "http://127.0.0.1:8082/api/users/alice/schedule/events"
        );
        let client = ScheduleClient {
            base: Url::parse("http://h").unwrap(),
            ..client
        };
        assert_eq!(
            client.url(&user, false).as_str(),
            "http://h/users/alice/schedule"
        );
    }
}
