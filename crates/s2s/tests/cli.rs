//! The real `s2s` binary, run as a user runs it: stack errors, `s2s up` on free ports with
//! its printed URLs called, `provision` against the running server, `token`, `inspect`,
//! a port already in use, and a graceful stop on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, reason = "each test binary uses a part of the helpers")]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::{S2S, Served, Up, outputs, reference_stack, s2s, text};

#[test]
fn stack_errors_name_file_line_and_problem_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reference = std::fs::read_to_string(reference_stack()).unwrap();
    let bad = reference.replace(
        "generate_secret = true",
        "generate_secret = true\ncolour = \"blue\"",
    );
    let line = bad.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    // Port 9 (discard) on loopback: if the stack were not refused first, the admin call
    // would fail with a connection error instead.
    let out = s2s(
        &[
            "provision",
            "--stack",
            "bad.toml",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("bad.toml:{line}: unknown field `colour`")),
        "{stderr}"
    );
    assert!(!stderr.contains("dispatch failure"), "{stderr}");
    assert!(!dir.path().join(".s2s").exists());

    let out = s2s(&["provision", "--no-such-flag"], dir.path());
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_the_flow_and_a_second_up_reuses_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(dir.path(), &[]);
    let auth = up.url("authorization-server");
    let articles = up.url("articles-service");
    let schedules = up.url("user-schedule-service");
    let first = outputs(dir.path());
    let client_id = first["client_id"].as_str().unwrap().to_owned();
    let secret_path = dir.path().join("data/client-secret");
    let secret = std::fs::read_to_string(&secret_path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        !up.stdout.iter().any(|l| l.contains(secret.trim())),
        "the summary must not print the secret"
    );
    assert_eq!(
        first["issuer"],
        format!("{auth}/{}", first["user_pool_id"].as_str().unwrap())
    );
    assert_eq!(first["token_url"], format!("{auth}/oauth2/token"));

    // The curl of the summary, as reqwest: Basic auth, form body.
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{auth}/oauth2/token"))
        .basic_auth(&client_id, Some(secret.trim()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "user-schedule-service/schedule.read"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);

    // The resource server accepts it for a read: past the token check, alice's schedule
    // is empty (200); without the token the same call is refused (401).
    let read = http
        .get(format!("{schedules}/users/alice/schedule"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let anonymous = http
        .get(format!("{schedules}/users/alice/schedule"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The article calls of the summary.
    let article: serde_json::Value = http
        .post(format!("{articles}/articles"))
        .json(&serde_json::json!({
            "title": "Tokens without users",
            "body": "Client credentials in practice.",
            "author_id": "alice",
            "publish_at": "2030-01-07T09:00:00Z",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = article["id"].as_str().unwrap();
    let schedule = http
        .get(format!("{articles}/articles/{id}/author-schedule"))
        .send()
        .await
        .unwrap();
    assert_eq!(schedule.status(), 200);
    let publication = http
        .post(format!("{articles}/articles/{id}/publication"))
        .send()
        .await
        .unwrap();
    assert_eq!(publication.status(), 502);
    let problem = publication.text().await.unwrap();
    assert!(
        problem.contains("user-schedule-service/schedule.update"),
        "{problem}"
    );

    // Each server's /metrics holds its own series only: a Prometheus scraping all three
    // counts each request once.
    let metrics = |url: String| {
        let http = http.clone();
        async move {
            let response = http.get(format!("{url}/metrics")).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    let auth_metrics = metrics(auth.clone()).await;
    let schedules_metrics = metrics(schedules.clone()).await;
    let articles_metrics = metrics(articles.clone()).await;
    let owns = |text: &str, own: &[&str], others: &[&str]| {
        for series in own {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
        for series in others {
            assert!(
                !text.contains(series),
                "{series} does not belong in:\n{text}"
            );
        }
    };
    let auth_series = "authorization_server_tokens_issued_total";
    let schedules_series = r#"service="user-schedule-service""#;
    let verifier_series = "jwt_verifier_rejections_total";
    let articles_series = r#"service="articles-service""#;
    let provider_series = "token_provider_requests_total";
    owns(
        &auth_metrics,
        &[auth_series],
        &[
            schedules_series,
            verifier_series,
            articles_series,
            provider_series,
        ],
    );
    owns(
        &schedules_metrics,
        &[schedules_series, verifier_series],
        &[auth_series, articles_series, provider_series],
    );
    owns(
        &articles_metrics,
        &[articles_series, provider_series],
        &[auth_series, schedules_series, verifier_series],
    );

    // `s2s token` and `s2s inspect` against the same server.
    let secret_arg = secret_path.to_str().unwrap();
    let token_url = format!("{auth}/oauth2/token");
    let out = s2s(
        &[
            "token",
            "--token-url",
            &token_url,
            "--client-id",
            &client_id,
            "--client-secret-file",
            secret_arg,
            "--auth",
            "post",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(printed["access_token"].as_str().unwrap().starts_with("eyJ"));
    let out = s2s(
        &[
            "token",
            "--token-url",
            &token_url,
            "--client-id",
            &client_id,
            "--client-secret-file",
            secret_arg,
            "--scope",
            "user-schedule-service/schedule.update",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("invalid_scope"),
        "{}",
        text(&out.stdout)
    );

    let issuer = first["issuer"].as_str().unwrap();
    let out = s2s(&["inspect", &access_token, "--issuer", issuer], dir.path());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("expires in 59m") || stdout.contains("expires in 1h"),
        "{stdout}"
    );
    assert!(stdout.contains("ok:"), "{stdout}");
    let out = s2s(&["inspect", &access_token], dir.path());
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("warning: no --issuer"),
        "{}",
        text(&out.stderr)
    );
    let out = s2s(
        &[
            "inspect",
            &access_token,
            "--issuer",
            &format!("{auth}/us-east-1_Nobody"),
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a token from another issuer fails"
    );
    let mut tampered = access_token.clone();
    tampered.pop();
    tampered.push(if access_token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    let out = s2s(&["inspect", &tampered, "--issuer", issuer], dir.path());
    assert_eq!(out.status.code(), Some(1), "a tampered signature fails");

    // `s2s provision` against the running server: nothing to do.
    let stack = reference_stack();
    let stack = stack.to_str().unwrap();
    let provision = |stack: &str| {
        s2s(
            &[
                "provision",
                "--stack",
                stack,
                "--endpoint-url",
                &auth,
                "--out",
                "data/outputs.json",
            ],
            dir.path(),
        )
    };
    let out = provision(stack);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("nothing changed"), "{stdout}");
    assert!(
        !stdout.contains(secret.trim()),
        "the secret is printed only on request"
    );

    // A stack that grants schedule.update updates the client in place.
    let granted = std::fs::read_to_string(reference_stack()).unwrap().replace(
        "allowed_oauth_scopes = [\"user-schedule-service/schedule.read\"]",
        "allowed_oauth_scopes = [\"user-schedule-service/schedule.read\", \"user-schedule-service/schedule.update\"]",
    );
    std::fs::write(dir.path().join("granted.toml"), granted).unwrap();
    let out = provision("granted.toml");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "app client articles-service ({client_id}): updated"
        )),
        "{stdout}"
    );
    assert_eq!(outputs(dir.path())["client_id"], client_id.as_str());
    assert_eq!(std::fs::read_to_string(&secret_path).unwrap(), secret);
    let out = provision("granted.toml");
    assert!(
        text(&out.stdout).contains("nothing changed"),
        "{}",
        text(&out.stdout)
    );

    // A refused step says which step failed and what already exists: a second pool that
    // asks for the first pool's domain prefix is created, then stopped at the domain.
    let clash = std::fs::read_to_string(reference_stack())
        .unwrap()
        .replace("name = \"s2s-demo\"", "name = \"s2s-other\"");
    std::fs::write(dir.path().join("clash.toml"), clash).unwrap();
    let out = provision("clash.toml");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("provisioning stopped at step \"domain s2s-demo-local\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("already in place: user pool s2s-other ("),
        "{stderr}"
    );
    assert!(stderr.contains("belongs to another user pool"), "{stderr}");

    let (code, rest) = up.terminate();
    assert_eq!(code, Some(0), "SIGTERM stops s2s up cleanly: {rest:?}");

    // A second `up` on the same data dir: same pool, client and secret, and the keys too
    // (the new server's JWKS still holds the key that signed the first token).
    let mut up = Up::start(dir.path(), &[]);
    let second = outputs(dir.path());
    assert_eq!(second["user_pool_id"], first["user_pool_id"]);
    assert_eq!(second["client_id"], first["client_id"]);
    assert_eq!(std::fs::read_to_string(&secret_path).unwrap(), secret);
    let kid = {
        use base64::Engine as _;
        let header = access_token.split('.').next().unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    let jwks: serde_json::Value = http
        .get(second["jwks_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str()),
        "{jwks}"
    );
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn a_port_in_use_names_the_port_and_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let stack = reference_stack();
    let out = s2s(
        &[
            "up",
            "--stack",
            stack.to_str().unwrap(),
            "--data-dir",
            "data",
            "--auth-port",
            &port,
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("port {port}")), "{stderr}");
    assert!(stderr.contains("authorization-server"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_up_on_a_running_data_dir_is_refused_before_it_binds_or_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(dir.path(), &[]);
    let outputs_before = std::fs::read(dir.path().join("data/outputs.json")).unwrap();
    let files_before = listing(&dir.path().join("data"));
    // A port in use: had the second `up` bound before checking the lock, it would fail on
    // the port instead.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let stack = reference_stack();
    let out = s2s(
        &[
            "up",
            "--stack",
            stack.to_str().unwrap(),
            "--data-dir",
            "data",
            "--auth-port",
            &port,
            "--schedules-port",
            "0",
            "--articles-port",
            "0",
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the data directory data is in use by another `s2s up` (process {})",
            up.child.id()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(&port), "{stderr}");
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    assert_eq!(
        std::fs::read(dir.path().join("data/outputs.json")).unwrap(),
        outputs_before
    );
    assert_eq!(listing(&dir.path().join("data")), files_before);

    // The first one still serves, and its stop releases the directory.
    let health = reqwest::get(format!("{}/healthz", up.url("authorization-server")))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
    assert!(!dir.path().join("data/up.lock").exists());
    let up = Up::start(dir.path(), &[]);
    drop(up);
}

/// The names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_up_whose_last_port_is_taken_leaves_the_data_dir_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let stack = reference_stack();
    let up = || {
        s2s(
            &[
                "up",
                "--stack",
                stack.to_str().unwrap(),
                "--data-dir",
                "data",
                "--auth-port",
                "0",
                "--schedules-port",
                "0",
                "--articles-port",
                &port,
            ],
            dir.path(),
        )
    };

    // In an empty directory: no data directory is left behind.
    let out = up();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot start the articles-service: port {port} is already in use"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--articles-port"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("data").exists());

    // Over the files of an earlier run: the same files, untouched.
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let earlier = r#"{"issuer": "http://127.0.0.1:9229/us-east-1_Earlier00"}"#;
    std::fs::write(dir.path().join("data/outputs.json"), earlier).unwrap();
    let out = up();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/outputs.json")).unwrap(),
        earlier
    );
    assert_eq!(listing(&dir.path().join("data")), ["outputs.json"]);
}

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// A token from the server `up` runs, as the summary's curl asks for it.
async fn token_from(up: &Up, dir: &Path) -> String {
    let outputs = outputs(dir);
    let secret = std::fs::read_to_string(dir.join("data/client-secret")).unwrap();
    let token: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth2/token", up.url("authorization-server")))
        .basic_auth(outputs["client_id"].as_str().unwrap(), Some(secret.trim()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_lists_and_rotates_a_pools_keys_and_the_new_key_signs() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(dir.path(), &[]);
    let old_kid = kid_of(&token_from(&up, dir.path()).await);
    let pool = outputs(dir.path())["user_pool_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));

    let keys = |command: &str, pool: &str, data_dir: &str| {
        s2s(
            &["keys", command, "--pool-id", pool, "--data-dir", data_dir],
            dir.path(),
        )
    };
    let line_of = |stdout: &str, kid: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(kid))
            .unwrap_or_else(|| panic!("no line for {kid} in:\n{stdout}"))
            .to_owned()
    };

    // A new pool: the access-token key that signed, and the ID-token key.
    let out = keys("list", &pool, "data");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("2 keys"), "{stdout}");
    assert!(
        line_of(&stdout, &old_kid).contains("signs new tokens"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("for ID tokens").count(), 1, "{stdout}");

    let out = keys("rotate", &pool, "data");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let new_kid = stdout
        .split_whitespace()
        .nth(3)
        .unwrap_or_else(|| panic!("no kid in:\n{stdout}"))
        .to_owned();
    assert!(
        stdout.starts_with(&format!(
            "added access-token key {new_kid} to user pool {pool}"
        )),
        "{stdout}"
    );
    let out = keys("list", &pool, "data");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("3 keys"), "{stdout}");
    assert!(
        line_of(&stdout, &new_kid).contains("signs new tokens"),
        "{stdout}"
    );
    assert!(line_of(&stdout, &old_kid).contains("retired"), "{stdout}");

    // Refusals name the problem and create nothing.
    let out = keys("rotate", "us-east-1_Nobody000", "data");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("user pool us-east-1_Nobody000 does not exist"),
        "{}",
        text(&out.stderr)
    );
    let out = keys("list", &pool, "elsewhere");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no authorization server database"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("elsewhere").exists());

    // The next start signs with the new key and still publishes the old one.
    let mut up = Up::start(dir.path(), &[]);
    assert_eq!(kid_of(&token_from(&up, dir.path()).await), new_kid);
    let jwks: serde_json::Value = reqwest::get(format!(
        "{}/{pool}/.well-known/jwks.json",
        up.url("authorization-server")
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 3, "{jwks}");
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
}

/// The README's refused stacks ship as files under `examples/`, and fail as it shows.
#[test]
fn the_readme_example_stacks_fail_with_their_lines() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let dir = tempfile::tempdir().unwrap();
    let refuse = |name: &str| {
        let path = examples.join(name);
        let out = s2s(
            &[
                "provision",
                "--stack",
                path.to_str().unwrap(),
                "--endpoint-url",
                "http://127.0.0.1:9",
            ],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(1));
        text(&out.stderr)
    };
    let stderr = refuse("stack-typo.toml");
    assert!(stderr.contains("unknown field `secret`"), "{stderr}");
    let stderr = refuse("stack-bad-scope.toml");
    assert!(
        stderr.contains("\"user-schedule-service/schedule.write\" is not defined"),
        "{stderr}"
    );
    assert!(stderr.contains("60 days is out of range"), "{stderr}");
    assert!(!dir.path().join(".s2s").exists());
}

/// `s2s token` against printed outputs and a secret file; the access token.
fn token_with(outputs: &serde_json::Value, secret_file: &Path, dir: &Path) -> String {
    let out = s2s(
        &[
            "token",
            "--token-url",
            outputs["token_url"].as_str().unwrap(),
            "--client-id",
            outputs["client_id"].as_str().unwrap(),
            "--client-secret-file",
            secret_file.to_str().unwrap(),
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn serve_with_a_stack_provisions_it_with_the_admin_credentials_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let stack = reference_stack();
    let admin = [("S2S_ADMIN_SECRET_ACCESS_KEY", "ci-admin-secret")];
    let mut served = Served::start_with_stack(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "data",
            "--admin-access-key-id",
            "ci-admin",
            "--stack",
            stack.to_str().unwrap(),
        ],
        &admin,
    );
    let printed = served.printed_outputs();
    let stdout = served.stdout.join("\n");
    assert!(
        stdout.contains("user pool s2s-demo (") && stdout.contains("): created"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("ci-admin-secret"),
        "no admin secret printed"
    );
    // The outputs are written to the data directory, and the secret next to them, 0600,
    // and never printed.
    assert_eq!(outputs(dir.path()), printed);
    let secret_file = dir.path().join("data/client-secret");
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(
        !stdout.contains(secret.trim()),
        "the client secret is not printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let endpoint = printed["token_url"]
        .as_str()
        .unwrap()
        .trim_end_matches("/oauth2/token")
        .to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    // The server was provisioned with the admin credentials: an admin client that has
    // them finds everything in place; one with other credentials is refused.
    let provision_as = |key: &str, secret: &str| {
        Command::new(S2S)
            .args(["provision", "--stack", stack.to_str().unwrap()])
            .args(["--endpoint-url", &endpoint, "--out", "host/outputs.json"])
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = provision_as("ci-admin", "ci-admin-secret");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("nothing changed"), "{stdout}");
    let out = provision_as("ci-admin", "not-the-secret");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));

    // A client gets a token that verifies against the printed issuer.
    let token = token_with(&printed, &secret_file, dir.path());
    let out = s2s(
        &[
            "inspect",
            &token,
            "--issuer",
            printed["issuer"].as_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(served.terminate(), Some(0));
}

#[test]
fn an_unsigned_admin_api_off_loopback_needs_allow_unauthenticated_admin() {
    let dir = tempfile::tempdir().unwrap();
    let out = s2s(
        &[
            "serve",
            "authorization-server",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
            "data",
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:")
            && stderr.contains("without admin credentials"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-unauthenticated-admin"), "{stderr}");

    // With the flag it serves, and its default public URL is loopback, not 0.0.0.0.
    let stack = reference_stack();
    let mut served = Served::start_with_stack(
        dir.path(),
        &[
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
            "data",
            "--allow-unauthenticated-admin",
            "--stack",
            stack.to_str().unwrap(),
            "--out",
            "ci/outputs.json",
        ],
        &[],
    );
    let printed = served.printed_outputs();
    let issuer = printed["issuer"].as_str().unwrap();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    let token = token_with(&printed, &dir.path().join("ci/client-secret"), dir.path());
    let out = s2s(&["inspect", &token, "--issuer", issuer], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(served.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_via_get_client_token_needs_no_domain_route() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), &[]);
    let auth = up.url("authorization-server");
    let pool_id = outputs(dir.path())["user_pool_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A client for the GetClientToken API (admin API unsigned: loopback, no credentials).
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{auth}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            "AWSCognitoIdentityProviderService.CreateUserPoolClient",
        )
        .body(
            serde_json::json!({
                "UserPoolId": pool_id,
                "ClientName": "sdk-m2m",
                "GenerateSecret": true,
                "ExplicitAuthFlows": ["ALLOW_CLIENT_TOKEN_AUTH"],
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["client_credentials"],
                "AllowedOAuthScopes": ["user-schedule-service/schedule.read"],
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = &created["UserPoolClient"];
    let client_id = client["ClientId"].as_str().unwrap();
    let secret = client["ClientSecret"].as_str().unwrap();
    let api = format!("{auth}/");
    let base = [
        "token",
        "--via",
        "get-client-token",
        "--token-url",
        api.as_str(),
        "--client-id",
        client_id,
    ];
    let output = s2s(
        &[&base[..], &["--client-secret", secret, "--decode"]].concat(),
        dir.path(),
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("schedule.read"), "{stdout}");
    assert!(!stdout.contains(secret));
    let refused = s2s(
        &[&base[..], &["--client-secret", "wrong"]].concat(),
        dir.path(),
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("NotAuthorizedException"),
        "{}",
        text(&refused.stderr)
    );
}
