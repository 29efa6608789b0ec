//! The seam between this service and its access tokens: readiness, the count of token
//! requests, and the meaning of errors raised while a token was being attached.

use std::fmt::Debug;

use async_trait::async_trait;
use token_provider::{HttpErrorKind, TokenError, TokenProvider};

use crate::error::ApiError;

/// What the service needs from its token source besides the HTTP middleware.
#[async_trait]
pub(crate) trait Tokens: Debug + Send + Sync + 'static {
    /// Whether a token can be had now (served from the cache while it is fresh).
    async fn check(&self) -> Result<(), String>;

    /// How many requests were made to the token endpoint so far.
    fn requests_made(&self) -> u64;
}

#[async_trait]
impl Tokens for TokenProvider {
    async fn check(&self) -> Result<(), String> {
        // Served from the provider's cache while the token is fresh: no request per probe.
        self.token().await.map(|_| ()).map_err(|e| e.to_string())
    }

    fn requests_made(&self) -> u64 {
        self.stats().requests
    }
}

/// Turns an error of the HTTP stack into an [`ApiError`]: unreachable → 503, timeout → 504,
/// a token endpoint refusal → 502 naming the OAuth error code, anything else → 502.
pub(crate) fn classify(error: reqwest_middleware::Error) -> ApiError {
    match error {
        reqwest_middleware::Error::Reqwest(e) => classify_reqwest(&e),
        reqwest_middleware::Error::Middleware(e) => {
            if let Some(e) = e.downcast_ref::<TokenError>() {
                return classify_token_error(e);
            }
            if let Some(e) = e.chain().find_map(|c| c.downcast_ref::<reqwest::Error>()) {
                return classify_reqwest(e);
            }
            ApiError::UpstreamFailed {
                upstream_status: None,
                detail: format!("calling user-schedule-service failed: {e:#}"),
            }
        }
    }
}

/// What a failure to get a token means for the caller of this service.
pub(crate) fn classify_token_error(error: &TokenError) -> ApiError {
    match error {
        TokenError::Oauth {
            code, description, ..
        } => ApiError::TokenRefused {
            code: code.as_str().to_owned(),
            description: description.clone(),
        },
        TokenError::Unavailable { last, .. } | TokenError::Expired { last, .. }
            if last.oauth_code().is_some() =>
        {
            classify_token_error(last)
        }
        TokenError::Transport(e) if e.kind() == HttpErrorKind::Connect => {
            ApiError::UpstreamUnavailable(format!("the token endpoint is unreachable: {error}"))
        }
        TokenError::Transport(e) if e.kind() == HttpErrorKind::Timeout => {
            ApiError::UpstreamTimeout(format!(
                "the token endpoint did not answer in time: {error}"
            ))
        }
        TokenError::Timeout(_) => ApiError::UpstreamTimeout(format!(
            "the token endpoint did not answer in time: {error}"
        )),
        TokenError::Unavailable { last, .. } | TokenError::Expired { last, .. }
            if last.is_transient() =>
        {
            match classify_token_error(last) {
                ApiError::UpstreamTimeout(_) => ApiError::UpstreamTimeout(format!(
                    "the token endpoint did not answer in time: {error}"
                )),
                _ => ApiError::UpstreamUnavailable(format!("no access token can be had: {error}")),
            }
        }
        other => ApiError::UpstreamFailed {
            upstream_status: None,
            detail: format!("no access token can be had: {other}"),
        },
    }
}

fn classify_reqwest(e: &reqwest::Error) -> ApiError {
    let source = server_kit::errors::error_chain(e);
    if e.is_timeout() {
        ApiError::UpstreamTimeout(format!(
            "user-schedule-service did not answer in time: {source}"
        ))
    } else if e.is_connect() {
        ApiError::UpstreamUnavailable(format!("user-schedule-service is unreachable: {source}"))
    } else {
        ApiError::UpstreamFailed {
            upstream_status: e.status().map(|s| s.as_u16()),
            detail: format!("calling user-schedule-service failed: {source}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth_proto::ErrorCode;
    use token_provider::HttpError;

    #[test]
    fn token_refusals_name_the_oauth_code() {
        let refused = TokenError::Oauth {
            code: ErrorCode::InvalidScope,
            description: Some("no such scope".to_owned()),
            status: 400,
        };
        let ApiError::TokenRefused { code, description } = classify_token_error(&refused) else {
            panic!("not a refusal");
        };
        assert_eq!(code, "invalid_scope");
        assert_eq!(description.as_deref(), Some("no such scope"));

        let wrapped = TokenError::Unavailable {
            attempts: 1,
            last: Box::new(refused),
        };
        assert!(matches!(
            classify_token_error(&wrapped),
            ApiError::TokenRefused { .. }
        ));
        let through_middleware = reqwest_middleware::Error::middleware(wrapped.clone());
        assert!(matches!(
            classify(through_middleware),
            ApiError::TokenRefused { .. }
        ));
    }

    #[test]
    fn token_endpoint_outages_are_503_or_504() {
        let down = TokenError::Transport(HttpError::connect("connection refused"));
        assert!(matches!(
            classify_token_error(&down),
            ApiError::UpstreamUnavailable(_)
        ));
        let retried = TokenError::Unavailable {
            attempts: 3,
            last: Box::new(down),
        };
        assert!(matches!(
            classify_token_error(&retried),
            ApiError::UpstreamUnavailable(_)
        ));
        let slow = TokenError::Timeout(std::time::Duration::from_secs(5));
        assert!(matches!(
            classify_token_error(&slow),
            ApiError::UpstreamTimeout(_)
        ));
    }
}
