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
        // Fail closed: a handler that needs a caller never runs without one.
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ApiError::Internal("no verified caller on the request"))
    }
}

/// Placeholder for `jwt_verifier::Verifier` until that crate lands.
pub(crate) mod stub {
    /// Placeholder.
    #[derive(Debug, Clone, Default)]
    pub struct Verifier;
    impl Verifier {
        /// Placeholder.
        pub fn has_keys(&self) -> bool {
            true
        }
    }
}
