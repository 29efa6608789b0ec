//! Who is calling: the verified client, as the handlers see it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The verified caller of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The `client_id` claim of the caller's access token.
    pub(crate) client_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Verified claims put there by `JwtAuthLayer`; the benchmark router (feature
        // `bench`) inserts a `Caller` directly. Fail closed: a handler that needs a
        // caller never runs without one.
        if let Some(claims) = parts.extensions.get::<jwt_verifier::Claims>() {
            return Ok(Self {
                client_id: claims.client_id().as_str().to_owned(),
            });
        }
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ApiError::Internal("no verified caller on the request"))
    }
}
