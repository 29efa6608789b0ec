//! The client secret of a running service as a [`token_provider::SecretSource`]: a file
//! (`--client-secret-file`) is read again before each token request, so a secret written
//! there by `s2s secrets rotate` (renamed into place or rewritten in place) is used from
//! the next request on, without a restart. A secret from the flag or the environment
//! (`--client-secret`, `S2S_CLIENT_SECRET`) is fixed for the life of the process.

use std::path::PathBuf;

use oauth_proto::ClientSecret;
use token_provider::{SecretSource, SecretSourceError};

/// The secret given on the command line: a file, or a fixed value.
#[derive(Debug, Clone)]
pub(crate) enum CliSecret {
    /// `--client-secret-file`: read again before each token request.
    File(FileSecret),
    /// `--client-secret` or `S2S_CLIENT_SECRET`.
    Fixed(ClientSecret),
}

impl SecretSource for CliSecret {
    fn current(&self) -> Result<ClientSecret, SecretSourceError> {
        match self {
            Self::File(file) => file.current(),
            Self::Fixed(secret) => Ok(secret.clone()),
        }
    }
}

/// Reads the secret from a file at every call (a token request, so rarely): surrounding
/// whitespace is trimmed; a missing, unreadable or empty file is an error that names the
/// path but never the content.
#[derive(Debug, Clone)]
pub(crate) struct FileSecret {
    path: PathBuf,
}

impl FileSecret {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl SecretSource for FileSecret {
    fn current(&self) -> Result<ClientSecret, SecretSourceError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| {
            SecretSourceError::new(format!(
                "cannot read the client secret from {}: {e}",
                self.path.display()
            ))
        })?;
        let secret = text.trim();
        if secret.is_empty() {
            return Err(SecretSourceError::new(format!(
                "the client secret file {} is empty",
                self.path.display()
            )));
        }
        Ok(ClientSecret::new(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_file_gives_the_new_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client-secret");
        std::fs::write(&path, "first_secret\n").unwrap();
        let source = FileSecret::new(path.clone());
        assert_eq!(source.current().unwrap().expose(), "first_secret");
        // Rewritten in place.
        std::fs::write(&path, "second_secret\n").unwrap();
        assert_eq!(source.current().unwrap().expose(), "second_secret");
        // Replaced atomically, as `s2s secrets rotate` does.
        crate::output_files::write_secret(&path, &ClientSecret::new("third_secret")).unwrap();
        assert_eq!(source.current().unwrap().expose(), "third_secret");
        std::fs::write(&path, "  \n").unwrap();
        let error = source.current().unwrap_err().to_string();
        assert!(error.contains("is empty"), "{error}");
        std::fs::remove_file(&path).unwrap();
        assert!(source.current().is_err());
    }
}
