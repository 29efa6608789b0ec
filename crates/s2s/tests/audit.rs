//! `s2s serve authorization-server --audit-log` and `s2s audit`, run as a user runs them:
//! the file is private, holds one event per admin write and token request and never the
//! secret or the token, and `s2s audit -n` shows the last events readably.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const S2S: &str = env!("CARGO_BIN_EXE_s2s");

fn s2s(args: &[&str], dir: &Path) -> Output {
    Command::new(S2S)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove("S2S_AUDIT_LOG")
        .env_remove("S2S_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_audit_log_is_private_secret_free_and_readable_with_s2s_audit() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Path::new(env!("CARGO_MANIFEST_DIR")).join("default-stack.toml");
    let mut child = Command::new(S2S)
        .args(["serve", "authorization-server", "--listen", "127.0.0.1:0"])
        .args(["--data-dir", "data", "--audit-log", "audit.log"])
        .args(["--stack", stack.to_str().unwrap()])
        .current_dir(dir.path())
        .env("RUST_LOG", "off")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // The outputs, printed once the stack is applied, end with a line `}`.
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    while printed.last().map(String::as_str) != Some("}") {
        match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => printed.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("no outputs printed:\n{}", printed.join("\n"));
            }
        }
    }
    let outputs: serde_json::Value = {
        let start = printed.iter().position(|l| l == "{").unwrap();
        serde_json::from_str(&printed[start..].join("\n")).unwrap()
    };
    let client_id = outputs["client_id"].as_str().unwrap();
    let token_url = outputs["token_url"].as_str().unwrap();
    let secret_file = dir.path().join("data/client-secret");
    let secret = std::fs::read_to_string(&secret_file).unwrap();

    // One token issued, one refused (a scope the client is not granted).
    let token_args = [
        "token",
        "--token-url",
        token_url,
        "--client-id",
        client_id,
        "--client-secret-file",
        secret_file.to_str().unwrap(),
    ];
    let out = s2s(&token_args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = answer["access_token"].as_str().unwrap().to_owned();
    let mut refused_args = token_args.to_vec();
    refused_args.extend(["--scope", "user-schedule-service/schedule.update"]);
    let out = s2s(&refused_args, dir.path());
    assert_eq!(out.status.code(), Some(1));

    // SIGTERM: the server stops, and the queued events are written before it exits.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));

    let log = dir.path().join("audit.log");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let content = std::fs::read_to_string(&log).unwrap();
    assert!(!content.contains(secret.trim()), "the secret is in the log");
    assert!(!content.contains(&token), "the token is in the log");
    let events: Vec<serde_json::Value> = content
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CreateUserPool",
            "CreateUserPoolDomain",
            "CreateResourceServer",
            "CreateUserPoolClient",
            "Token_POST",
            "Token_POST"
        ],
        "{content}"
    );
    let jti = events[4]["additionalEventData"]["jti"].as_str().unwrap();

    // `s2s audit -n 2`: the two token requests, readably.
    let out = s2s(&["audit", "--file", "audit.log", "-n", "2"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let shown: Vec<&str> = shown.lines().collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(shown[0].contains("Token_POST"), "{}", shown[0]);
    assert!(
        shown[0].contains(&format!("client={client_id}")),
        "{}",
        shown[0]
    );
    assert!(
        shown[0].ends_with(&format!(
            "issued scopes=user-schedule-service/schedule.read jti={jti}"
        )),
        "{}",
        shown[0]
    );
    assert!(shown[1].contains("refused invalid_scope: "), "{}", shown[1]);
    // The data directory's default file and --json: the events as written.
    std::fs::rename(&log, dir.path().join("data/audit.log")).unwrap();
    let out = s2s(
        &["audit", "--data-dir", "data", "-n", "1", "--json"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let last: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(last, events[5]);
    // A missing file says where the trail comes from.
    let out = s2s(&["audit", "--data-dir", "nowhere"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--audit-log"),
        "{}",
        text(&out.stderr)
    );
}
