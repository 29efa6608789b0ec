//! The HTTP seam: [`HttpClient`] sends one request to the token endpoint.
//!
//! As in oauth2-rs `endpoint.rs`, the trait is implemented for closures, so tests (and
//! callers with their own stack) pass `move |request| async move { … }`; with the
//! `reqwest` feature, [`ReqwestClient`] is the default.
//!
//! The provider applies its own request timeout around [`HttpClient::execute`] and never
//! follows redirects: a 3xx answer is an error. An implementation must not follow them
//! either (the request carries the client secret).

use std::future::Future;
use std::pin::Pin;

use crate::error::HttpError;

/// A request to the token endpoint: method, URL, headers and the form body.
pub type HttpRequest = http::Request<Vec<u8>>;

/// The token endpoint's answer with its whole body.
pub type HttpResponse = http::Response<Vec<u8>>;

/// The boxed future an [`HttpClient`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one HTTP request and reads the whole answer.
///
/// Implemented for every `Fn(HttpRequest) -> impl Future<Output = Result<HttpResponse,
/// HttpError>>`:
///
/// ```
/// use token_provider::http::{HttpClient, HttpRequest, HttpResponse};
/// use token_provider::HttpError;
///
/// fn assert_client(_: impl HttpClient) {}
/// assert_client(|_request: HttpRequest| async move {
///     let body = br#"{"access_token":"t","expires_in":3600,"token_type":"Bearer"}"#;
///     Ok::<_, HttpError>(HttpResponse::new(body.to_vec()))
/// });
/// ```
pub trait HttpClient: Send + Sync + 'static {
    /// Sends `request`; transport failures are errors, any HTTP status is an `Ok`.
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>>;
}

impl<F, Fut> HttpClient for F
where
    F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, HttpError>> + Send + 'static,
{
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin((self)(request))
    }
}

#[cfg(feature = "reqwest")]
pub use self::reqwest_client::ReqwestClient;

#[cfg(feature = "reqwest")]
mod reqwest_client {
    use super::*;
    use crate::error::{BuildError, HttpErrorKind};

    /// Answers larger than this are refused: a token response is well under 8 KiB.
    const MAX_BODY: usize = 64 * 1024;

    /// A [`reqwest::Client`] with redirects disabled, as an [`HttpClient`].
    #[derive(Debug, Clone)]
    pub struct ReqwestClient {
        client: reqwest::Client,
    }

    impl ReqwestClient {
        /// A client with reqwest's defaults (rustls, system proxy settings) and redirects
        /// disabled.
        pub fn new() -> Result<Self, BuildError> {
            Self::from_builder(reqwest::Client::builder())
        }

        /// A client from your own builder (proxy, root certificates, …); redirects are
        /// disabled whatever the builder said.
        pub fn from_builder(builder: reqwest::ClientBuilder) -> Result<Self, BuildError> {
            let client = builder
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| BuildError::HttpClient(e.without_url().to_string()))?;
            Ok(Self { client })
        }
    }

    fn transport(error: reqwest::Error) -> HttpError {
        let kind = if error.is_connect() {
            HttpErrorKind::Connect
        } else if error.is_timeout() {
            HttpErrorKind::Timeout
        } else {
            HttpErrorKind::Other
        };
        HttpError::new(kind, error.without_url())
    }

    impl HttpClient for ReqwestClient {
        fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
            Box::pin(async move {
                let request = reqwest::Request::try_from(request).map_err(transport)?;
                let mut response = self.client.execute(request).await.map_err(transport)?;
                let mut answer = http::Response::builder()
                    .status(response.status())
                    .version(response.version());
                if let Some(headers) = answer.headers_mut() {
                    *headers = std::mem::take(response.headers_mut());
                }
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(transport)? {
                    if body.len() + chunk.len() > MAX_BODY {
                        return Err(HttpError::other(format!(
                            "token endpoint answer exceeds {MAX_BODY} bytes"
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                answer.body(body).map_err(HttpError::other)
            })
        }
    }
}
