//! A minimal W3C WebDriver client over reqwest, driving Debian's headless Chromium through
//! chromedriver: just what the console tests use (navigate, find, click, type, run a
//! script, screenshot, a DevTools command). A crate such as fantoccini would bring its own
//! HTTP stack; this is a few JSON calls.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key code of Tab.
pub(crate) const TAB: &str = "\u{E004}";

/// chromedriver and one browser session; both end on drop.
pub(crate) struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    base: String,
    _profile: tempfile::TempDir,
}

/// An element reference.
#[derive(Clone)]
pub(crate) struct Element(String);

fn missing(what: &str) -> ! {
    panic!(
        "the console's browser tests need Debian's Chromium and its WebDriver: {what} is \
         missing. Install them with `apt-get install -y --no-install-recommends chromium \
         chromium-driver` (they provide {CHROMIUM} and {CHROMEDRIVER})"
    )
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session with a fresh
    /// profile and a 1280×800 viewport. Panics, saying how to install them, when Chromium
    /// or chromedriver is missing.
    pub(crate) async fn start() -> Self {
        for path in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(path).exists() {
                missing(path);
            }
        }
        let mut driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| missing(&format!("{CHROMEDRIVER} ({e})")));
        // chromedriver says which port it bound once it listens.
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    return rest.trim_end_matches('.').trim().parse::<u16>().unwrap();
                }
            }
            panic!("chromedriver exited before listening")
        })
        .await
        .expect("chromedriver did not start within 30 s");
        // Keep reading its output so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let profile = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused the session: {created}"))
            .to_owned();
        let browser = Self {
            driver,
            http,
            session,
            base,
            _profile: profile,
        };
        // Elements may take a moment to appear after a navigation: find waits up to 5 s.
        browser
            .call(
                "POST",
                "timeouts",
                json!({"implicit": 5000, "pageLoad": 30000}),
            )
            .await;
        browser.viewport(1280, 800, 1.0).await;
        browser
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.base, self.session);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        let value = answer["value"].clone();
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            panic!(
                "WebDriver {method} {path} failed: {error}: {}",
                value["message"]
            );
        }
        value
    }

    /// A DevTools command (chromedriver's `goog/cdp/execute`).
    pub(crate) async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(
            "POST",
            "goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
        .await
    }

    /// The layout viewport in CSS pixels and the device scale (2.0 renders as a 200% zoom).
    pub(crate) async fn viewport(&self, width: u32, height: u32, scale: f64) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": scale, "mobile": false}),
        )
        .await;
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.call("POST", "url", json!({ "url": url })).await;
    }

    /// The first element matching a CSS selector (waiting up to the implicit timeout).
    pub(crate) async fn find(&self, css: &str) -> Element {
        let value = self
            .call(
                "POST",
                "element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        Element(element_id(&value))
    }

    /// Every element matching a CSS selector.
    pub(crate) async fn find_all(&self, css: &str) -> Vec<Element> {
        self.call(
            "POST",
            "elements",
            json!({"using": "css selector", "value": css}),
        )
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Element(element_id(v)))
        .collect()
    }

    /// Finds the link whose text is exactly `text`.
    pub(crate) async fn link(&self, text: &str) -> Element {
        let value = self
            .call(
                "POST",
                "element",
                json!({"using": "link text", "value": text}),
            )
            .await;
        Element(element_id(&value))
    }

    pub(crate) async fn click(&self, element: &Element) {
        self.call("POST", &format!("element/{}/click", element.0), json!({}))
            .await;
    }

    /// Clicks a link or a submit button and returns once the next page has loaded: the
    /// current document is marked, and the click is done when a document without the mark
    /// is complete (polled for at most 10 s).
    pub(crate) async fn click_and_load(&self, element: &Element) {
        self.execute("window.s2sOldPage = true;", json!([])).await;
        self.click(element).await;
        for _ in 0..200 {
            let loaded = self
                .execute(
                    "return window.s2sOldPage === undefined && document.readyState === 'complete';",
                    json!([]),
                )
                .await;
            if loaded == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page within 10 s of the click");
    }

    pub(crate) async fn clear(&self, element: &Element) {
        self.call("POST", &format!("element/{}/clear", element.0), json!({}))
            .await;
    }

    pub(crate) async fn type_into(&self, element: &Element, text: &str) {
        self.call(
            "POST",
            &format!("element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    pub(crate) async fn text(&self, element: &Element) -> String {
        self.call("GET", &format!("element/{}/text", element.0), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A DOM property of the element (`value` of an input).
    pub(crate) async fn property(&self, element: &Element, name: &str) -> Value {
        self.call(
            "GET",
            &format!("element/{}/property/{name}", element.0),
            Value::Null,
        )
        .await
    }

    pub(crate) async fn selected(&self, element: &Element) -> bool {
        self.call(
            "GET",
            &format!("element/{}/selected", element.0),
            Value::Null,
        )
        .await
        .as_bool()
        .unwrap()
    }

    /// Chooses the `<option>` with this value in a `<select>`.
    pub(crate) async fn select(&self, select_css: &str, value: &str) {
        let option = self
            .find(&format!("{select_css} option[value=\"{value}\"]"))
            .await;
        self.click(&option).await;
    }

    /// The page's text.
    pub(crate) async fn body_text(&self) -> String {
        let body = self.find("body").await;
        self.text(&body).await
    }

    /// Runs a script in the page (WebDriver's, not the page's: the page's CSP does not
    /// apply) and returns its value.
    pub(crate) async fn execute(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Presses keys on whatever has the focus.
    pub(crate) async fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.call(
            "POST",
            "actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        )
        .await;
    }

    /// A PNG of the viewport, written to `target/console-screenshots/<name>.png`.
    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.call("GET", "screenshot", Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap())
            .unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Ends the session and chromedriver.
    pub(crate) async fn quit(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
        let _ = self.driver.kill().await;
    }
}

fn element_id(value: &Value) -> String {
    value
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("not an element: {value}"))
        .to_owned()
}
