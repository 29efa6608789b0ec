//! What provisioning writes: the outputs (JSON, no secret) and the client secret (a file
//! only its owner can read, replaced atomically).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use oauth_proto::ClientSecret;

use crate::provision::Outputs;

/// The secret file next to the outputs file: `<dir of out>/client-secret`.
pub(crate) fn default_secret_path(out: &Path) -> PathBuf {
    out.parent().map_or_else(
        || PathBuf::from("client-secret"),
        |dir| dir.join("client-secret"),
    )
}

/// Writes the outputs as pretty JSON, creating the directory.
pub(crate) fn write_outputs(path: &Path, outputs: &Outputs) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let mut json = serde_json::to_string_pretty(outputs).context("cannot encode the outputs")?;
    json.push('\n');
    std::fs::write(path, json)
        .with_context(|| format!("cannot write the outputs to {}", path.display()))
}

/// Writes the secret to a file only its owner can read (mode 0600), atomically: a new
/// file is created with that mode and renamed over the old one.
pub(crate) fn write_secret(path: &Path, secret: &ClientSecret) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "client-secret".to_owned());
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(secret.expose().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(file);
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot write the client secret to {}", path.display()))
}
