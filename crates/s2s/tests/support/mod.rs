//! What the tests of the real `s2s` binary share: running it to completion, and running
//! its servers (`s2s up`, `s2s serve <role>`) until they are ready, stopping them with
//! SIGTERM, and killing them when a test fails.

use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) const S2S: &str = env!("CARGO_BIN_EXE_s2s");

/// How long a server gets to print what the test waits for.
const STARTUP: Duration = Duration::from_secs(120);

/// The crate's own copy of the reference stack (the one built into the binary): the
/// repository's `stack.toml` is the user's to edit, so no test reads it.
pub(crate) fn reference_stack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("default-stack.toml")
}

/// Runs `s2s args…` in `dir` to completion, without AWS credentials.
pub(crate) fn s2s(args: &[&str], dir: &Path) -> Output {
    Command::new(S2S)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The outputs `s2s up` wrote to `<dir>/data/outputs.json`.
pub(crate) fn outputs(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("data/outputs.json")).unwrap()).unwrap()
}

/// The lines of a child's pipe, read on a thread of their own so that the child never
/// blocks on a full pipe.
fn read_lines(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Reads `lines` into `seen` until `done(seen)` holds; panics after [`STARTUP`].
fn read_until(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) {
    while !done(seen) {
        match lines.recv_timeout(STARTUP) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("{what}:\n{}", seen.join("\n")),
        }
    }
}

/// SIGTERM to `child`, then its exit code.
fn terminate(child: &mut Child) -> Option<i32> {
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    child.wait().unwrap().code()
}

/// A failed test must not leave a server running (it would also hold the test runner's
/// output pipe open).
fn kill(child: &mut Child) {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A running `s2s up`, stopped with SIGTERM when dropped.
pub(crate) struct Up {
    pub(crate) child: Child,
    lines: mpsc::Receiver<String>,
    pub(crate) stdout: Vec<String>,
}

impl Up {
    /// Starts `s2s up` in `dir` on free ports with the reference stack and data dir `data`,
    /// and waits for its whole summary.
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Self {
        let stack = reference_stack();
        let mut args = vec![
            "up",
            "--stack",
            stack.to_str().unwrap(),
            "--data-dir",
            "data",
            "--auth-port",
            "0",
            "--articles-port",
            "0",
            "--schedules-port",
            "0",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(S2S)
            .args(&args)
            .current_dir(dir)
            .env("RUST_LOG", "off")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = read_lines(child.stdout.take().unwrap());
        let mut up = Self {
            child,
            lines,
            stdout: Vec::new(),
        };
        // The summary ends with the grant instructions; wait for the whole of it.
        read_until(
            &up.lines,
            &mut up.stdout,
            "s2s up printed no summary",
            |seen| seen.iter().any(|l| l.contains("AccessToken=")),
        );
        up
    }

    /// The URL printed after `role` in the summary table.
    pub(crate) fn url(&self, role: &str) -> String {
        let line = self
            .stdout
            .iter()
            .find(|l| l.trim_start().starts_with(role))
            .unwrap_or_else(|| panic!("no {role} line in:\n{}", self.stdout.join("\n")));
        line.split_whitespace().nth(1).unwrap().to_owned()
    }

    /// Stops it with SIGTERM: its exit code and what it printed after the summary.
    pub(crate) fn terminate(&mut self) -> (Option<i32>, Vec<String>) {
        let code = terminate(&mut self.child);
        let rest: Vec<String> = self.lines.try_iter().collect();
        (code, rest)
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// A running `s2s serve authorization-server`, stopped with SIGTERM when dropped.
pub(crate) struct Served {
    child: Child,
    pub(crate) stdout: Vec<String>,
}

impl Served {
    /// Starts the server with `args` and `env` and waits for the outputs it prints after
    /// provisioning its stack (the JSON object that ends with a line `}`).
    pub(crate) fn start_with_stack(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(S2S);
        command
            .args(["serve", "authorization-server"])
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "off")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let lines = read_lines(child.stdout.take().unwrap());
        let mut served = Self {
            child,
            stdout: Vec::new(),
        };
        read_until(&lines, &mut served.stdout, "no outputs printed", |seen| {
            seen.last().map(String::as_str) == Some("}")
        });
        served
    }

    /// The outputs JSON it printed.
    pub(crate) fn printed_outputs(&self) -> serde_json::Value {
        let start = self.stdout.iter().position(|l| l == "{").unwrap();
        serde_json::from_str(&self.stdout[start..].join("\n")).unwrap()
    }

    pub(crate) fn terminate(&mut self) -> Option<i32> {
        terminate(&mut self.child)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// A running `s2s serve user-schedule-service` or `s2s serve articles-service`, killed
/// when dropped.
pub(crate) struct Service {
    child: Child,
    /// `http://<the address it bound>`.
    pub(crate) url: String,
}

impl Service {
    /// Starts `s2s serve <role> args…` in `dir` (give `--listen 127.0.0.1:0`) and waits
    /// for the address it logs once bound: from then on it answers (connections wait in
    /// the listen queue until it serves).
    pub(crate) fn start(dir: &Path, role: &str, args: &[&str]) -> Self {
        let mut child = Command::new(S2S)
            .args(["--log-format", "json", "serve", role])
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "s2s=info")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = read_lines(child.stderr.take().unwrap());
        let listening = |line: &str| {
            let event: serde_json::Value = serde_json::from_str(line).ok()?;
            (event["message"] == "listening")
                .then(|| event["listen"].as_str().map(str::to_owned))
                .flatten()
        };
        let mut seen = Vec::new();
        read_until(
            &lines,
            &mut seen,
            &format!("the {role} did not start"),
            |seen| seen.last().is_some_and(|l| listening(l).is_some()),
        );
        let address = seen.last().and_then(|l| listening(l)).unwrap();
        // Keep draining its log, so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.iter().for_each(drop));
        Self {
            child,
            url: format!("http://{address}"),
        }
    }

    pub(crate) fn terminate(&mut self) -> Option<i32> {
        terminate(&mut self.child)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// The sum of a Prometheus counter's series in `text` whose labels contain every one of
/// `labels` (e.g. `error="invalid_client"`); 0 when there is none.
pub(crate) fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?;
            let labelled = rest.is_empty() || rest.starts_with('{');
            (labelled && labels.iter().all(|l| rest.contains(l)))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}
