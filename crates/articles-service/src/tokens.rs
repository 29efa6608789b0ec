//! The seam between this service and its access tokens: readiness, the count of token
//! requests, and the meaning of errors raised while a token was being attached.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::error::ApiError;

/// What the service needs from its token source besides the HTTP middleware.
#[async_trait]
pub(crate) trait Tokens: Debug + Send + Sync + 'static {
    /// Whether a token can be had now (served from the cache while it is fresh).
    async fn check(&self) -> Result<(), String>;

    /// How many requests were made to the token endpoint so far.
    fn requests_made(&self) -> u64;
}

/// Turns an error of the HTTP stack into an [`ApiError`]: unreachable → 503, timeout → 504,
/// anything else → 502.
pub(crate) fn classify(error: reqwest_middleware::Error) -> ApiError {
    match error {
        reqwest_middleware::Error::Reqwest(e) => classify_reqwest(&e),
        reqwest_middleware::Error::Middleware(e) => {
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

fn classify_reqwest(e: &reqwest::Error) -> ApiError {
    let source = error_sources(e);
    if e.is_timeout() {
        ApiError::UpstreamTimeout(format!("user-schedule-service did not answer in time: {source}"))
    } else if e.is_connect() {
        ApiError::UpstreamUnavailable(format!("user-schedule-service is unreachable: {source}"))
    } else {
        ApiError::UpstreamFailed {
            upstream_status: e.status().map(|s| s.as_u16()),
            detail: format!("calling user-schedule-service failed: {source}"),
        }
    }
}

/// The error and its sources, `: `-separated (reqwest's own message alone says little).
fn error_sources(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
