//! Where the client secret comes from: a [`SecretSource`] is asked for the current secret
//! before each token request, so a rotated secret (`s2s secrets rotate`) is used from the
//! next request on without a restart.
//!
//! A [`ClientSecret`] is itself a source (a fixed secret). Sources that read a file or the
//! environment live with the caller (in this workspace, the `s2s` binary), since this
//! library does no file or environment I/O; implement the trait for a secret store.

use oauth_proto::ClientSecret;

/// The source of the client secret. Called before every token request (once per refresh,
/// not per API call), and once more after an `invalid_client` refusal: when the secret it
/// then returns differs from the refused one, the provider retries once at once.
pub trait SecretSource: Send + Sync + 'static {
    /// The current secret. The error message must not contain the secret.
    fn current(&self) -> Result<ClientSecret, SecretSourceError>;
}

/// Why a [`SecretSource`] could not give a secret (e.g. the file is unreadable).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SecretSourceError(String);

impl SecretSourceError {
    /// An error with this message (which must not contain the secret).
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A fixed secret.
impl SecretSource for ClientSecret {
    fn current(&self) -> Result<ClientSecret, SecretSourceError> {
        Ok(self.clone())
    }
}

impl<F> SecretSource for F
where
    F: Fn() -> Result<ClientSecret, SecretSourceError> + Send + Sync + 'static,
{
    fn current(&self) -> Result<ClientSecret, SecretSourceError> {
        self()
    }
}
