//! HTTP routes, one file per resource, and the extractors that turn malformed requests
//! into problem documents.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use crate::domain::{ArticleId, InvalidField};
use crate::error::ApiError;

pub(crate) mod articles;
pub(crate) mod ops;
pub(crate) mod publication;

/// A JSON body, any shape; handlers validate it field by field.
pub(crate) struct JsonBody(pub(crate) serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(|rejection| match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
                JsonRejection::BytesRejection(e)
                    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::PayloadTooLarge
                }
                other => ApiError::BadRequest {
                    detail: format!("the body is not valid JSON: {}", other.body_text()),
                    errors: Vec::new(),
                },
            })?;
        match value {
            serde_json::Value::Object(map) => Ok(Self(map)),
            _ => Err(ApiError::BadRequest {
                detail: "the body must be a JSON object".to_owned(),
                errors: Vec::new(),
            }),
        }
    }
}

/// The query string as name/value pairs, each name at most once.
pub(crate) struct QueryPairs(pub(crate) Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|e: QueryRejection| ApiError::BadRequest {
                    detail: format!("the query string is malformed: {}", e.body_text()),
                    errors: Vec::new(),
                })?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(ApiError::BadRequest {
                    detail: format!("query parameter {name:?} is given more than once"),
                    errors: vec![InvalidField::new(name.clone(), "is given more than once")],
                });
            }
        }
        Ok(Self(pairs))
    }
}

impl QueryPairs {
    /// Refuses any parameter not in `known` (a typo should not be silently ignored).
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        let unknown: Vec<InvalidField> = self
            .0
            .iter()
            .filter(|(name, _)| !known.contains(&name.as_str()))
            .map(|(name, _)| {
                InvalidField::new(
                    name.chars().take(64).collect::<String>(),
                    format!(
                        "is not a parameter of this route (known: {})",
                        known.join(", ")
                    ),
                )
            })
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ApiError::BadRequest {
                detail: "the query string has unknown parameters".to_owned(),
                errors: unknown,
            })
        }
    }

    /// The value of `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The `{id}` path segment of an article route. An id that is not a UUID names no
/// article: 404.
pub(crate) struct ArticlePath(pub(crate) ArticleId);

impl<S: Send + Sync> FromRequestParts<S> for ArticlePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e: PathRejection| ApiError::BadRequest {
                    detail: format!("the path is malformed: {}", e.body_text()),
                    errors: Vec::new(),
                })?;
        ArticleId::parse(&raw)
            .map(Self)
            .map_err(|_| ApiError::ArticleNotFound(raw.chars().take(64).collect()))
    }
}
