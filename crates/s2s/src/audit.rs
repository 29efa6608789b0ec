//! The authorization server's audit trail, on the binary's side: opening where it goes
//! (`--audit-log PATH` or `-` for stdout; `s2s up` uses `<data-dir>/audit.log`) and
//! `s2s audit`, which shows the last events readably and can follow new ones.
//!
//! The events themselves (CloudTrail's shape, what is recorded and what is hidden) are the
//! library's: `authorization_server::audit`.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use authorization_server::audit::{AuditLog, AuditWriter, DEFAULT_CAPACITY};
use serde_json::Value;

use crate::cli::AuditArgs;

/// The file name of the trail in a data directory.
pub(crate) const FILE_NAME: &str = "audit.log";

/// How often `s2s audit --follow` looks for new events.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// Starts the trail's writer on `target`: `-` is stdout; anything else a file opened for
/// appending, created readable by its owner only (0600, whatever the umask; an existing
/// file others may read is narrowed to 0600 too, as the database files are).
pub(crate) fn open(target: &Path) -> anyhow::Result<(AuditLog, AuditWriter)> {
    if target == Path::new("-") {
        return Ok(AuditLog::spawn(tokio::io::stdout(), DEFAULT_CAPACITY));
    }
    let file = open_append_private(target)
        .with_context(|| format!("cannot open the audit log {}", target.display()))?;
    Ok(AuditLog::spawn(
        tokio::fs::File::from_std(file),
        DEFAULT_CAPACITY,
    ))
}

fn open_append_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(file)
}

/// `s2s audit`.
pub(crate) async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| args.data_dir.join(FILE_NAME));
    let mut file = std::fs::File::open(&path).with_context(|| {
        format!(
            "cannot read the audit log {} (the authorization server writes it with --audit-log; `s2s up` writes <data-dir>/{FILE_NAME})",
            path.display()
        )
    })?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("cannot read the audit log {}", path.display()))?;
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    let lines: Vec<&str> = text[..complete].lines().collect();
    let start = lines.len().saturating_sub(args.lines);
    for line in &lines[start..] {
        print_line(line, args.json);
    }
    if args.follow {
        follow(
            &path,
            u64::try_from(complete).unwrap_or(u64::MAX),
            args.json,
        )
        .await?;
    }
    Ok(())
}

/// Prints the events appended after `offset` until Ctrl-C; starts over when the file is
/// truncated or replaced by a shorter one.
async fn follow(path: &PathBuf, mut offset: u64, json: bool) -> anyhow::Result<()> {
    let mut pending = String::new();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
        }
        let Ok(mut file) = std::fs::File::open(path) else {
            continue;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < offset {
            offset = 0;
            pending.clear();
        }
        if len == offset {
            continue;
        }
        file.seek(SeekFrom::Start(offset))
            .with_context(|| format!("cannot read the audit log {}", path.display()))?;
        let mut chunk = String::new();
        let read = file
            .read_to_string(&mut chunk)
            .with_context(|| format!("cannot read the audit log {}", path.display()))?;
        offset += u64::try_from(read).unwrap_or(0);
        pending.push_str(&chunk);
        // Only whole lines: the writer may be half-way through one.
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            print_line(line.trim_end(), json);
        }
    }
}

fn print_line(line: &str, json: bool) {
    if line.trim().is_empty() {
        return;
    }
    if json {
        println!("{line}");
        return;
    }
    match serde_json::from_str::<Value>(line) {
        Ok(event) => println!("{}", render(&event)),
        Err(_) => println!("(not an event) {line}"),
    }
}

/// One event on one line: time, event, who it concerns, and the outcome (scopes and
/// `jti` of an issued token, the error of a refusal).
fn render(event: &Value) -> String {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    let time = text("/eventTime").unwrap_or("-");
    let name = text("/eventName").unwrap_or("-");
    let data = "/additionalEventData";
    let mut subject = Vec::new();
    if let Some(client) = text(&format!("{data}/clientId")) {
        subject.push(format!("client={client}"));
    } else if let Some(pool) = text(&format!("{data}/userPoolId")) {
        subject.push(format!("pool={pool}"));
    }
    let source = text("/sourceIPAddress").unwrap_or("-");
    let outcome = match text("/errorCode") {
        Some(code) => format!(
            "refused {code}: {}",
            text("/errorMessage").unwrap_or_default()
        ),
        None => match text(&format!("{data}/jti")) {
            Some(jti) => {
                let scopes: Vec<&str> = event
                    .pointer(&format!("{data}/scopes"))
                    .and_then(Value::as_array)
                    .map(|s| s.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                format!("issued scopes={} jti={jti}", scopes.join(","))
            }
            None => "ok".to_owned(),
        },
    };
    let subject = if subject.is_empty() {
        "-".to_owned()
    } else {
        subject.join(" ")
    };
    format!("{time}  {name:<28} {subject:<40} from {source:<15} {outcome}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_issued_token_shows_client_scopes_and_jti() {
        let event = json!({
            "eventTime": "2026-12-07T01:02:03Z",
            "eventName": "Token_POST",
            "sourceIPAddress": "127.0.0.1",
            "additionalEventData": {
                "clientId": "client-1",
                "jti": "0b5c-jti",
                "scopes": ["rs/read", "rs/update"],
            },
        });
        let line = render(&event);
        assert!(
            line.starts_with("2026-12-07T01:02:03Z  Token_POST "),
            "{line}"
        );
        assert!(line.contains("client=client-1"), "{line}");
        assert!(
            line.ends_with("issued scopes=rs/read,rs/update jti=0b5c-jti"),
            "{line}"
        );
    }

    #[test]
    fn a_refusal_shows_its_error_and_an_admin_write_its_pool() {
        let refused = json!({
            "eventName": "Token_POST",
            "errorCode": "invalid_client",
            "errorMessage": "unknown client or wrong client secret",
        });
        assert!(
            render(&refused)
                .ends_with("refused invalid_client: unknown client or wrong client secret")
        );
        let write = json!({
            "eventName": "CreateResourceServer",
            "additionalEventData": {"userPoolId": "us-east-1_abc"},
        });
        let line = render(&write);
        assert!(line.contains("pool=us-east-1_abc"), "{line}");
        assert!(line.ends_with(" ok"), "{line}");
    }

    #[test]
    fn the_file_is_created_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        drop(open_append_private(&path).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            // An existing file others may read is narrowed, and appended to, not truncated.
            std::fs::write(&path, "kept\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let mut file = open_append_private(&path).unwrap();
            std::io::Write::write_all(&mut file, b"appended\n").unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept\nappended\n");
        }
    }
}
