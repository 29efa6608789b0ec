//! The client secret (and the token) never show in Debug, Display, errors or logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use token_provider::{ClientAuth, TokenError};
use tracing_subscriber::fmt::MakeWriter;

use crate::helpers::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn assert_clean(what: &str, text: &str) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    for needle in [
        SECRET,
        &SECRET[..16],
        &basic,
        &basic[..20],
        "token-1",
        "token-2",
    ] {
        assert!(!text.contains(needle), "{what} shows {needle:?}: {text}");
    }
}

#[tokio::test(start_paused = true)]
async fn secret_never_appears_in_debug_display_errors_or_logs() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    for auth in [ClientAuth::Basic, ClientAuth::Post] {
        let endpoint = MockEndpoint::new(Reply::Token { expires_in: 3600 });
        let builder = builder(&endpoint, TokioClock::new()).auth(auth);
        assert_clean("builder Debug", &format!("{builder:?}"));
        let provider = builder.max_attempts(2).build().unwrap();

        let token = provider.token().await.unwrap();
        assert_eq!(token.secret(), "token-1", "the test must see real tokens");
        // The request did carry the secret, so the checks below are meaningful.
        let request = &endpoint.seen()[0].request;
        let sent = format!(
            "{} {}",
            String::from_utf8_lossy(request.body()),
            request
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        );
        assert!(
            sent.contains(SECRET)
                || sent.contains(
                    &base64::engine::general_purpose::STANDARD
                        .encode(format!("{CLIENT_ID}:{SECRET}"))
                ),
            "{sent}"
        );
        assert_clean("request Debug", &format!("{request:?}"));
        assert_clean("provider Debug", &format!("{provider:?}"));
        assert_clean("token Debug", &format!("{token:?}"));
        assert_clean("token Display", &format!("{token}"));
        assert_clean("stats Debug", &format!("{:?}", provider.stats()));

        let mut errors: Vec<TokenError> = Vec::new();
        for reply in [
            Reply::Json(400, r#"{"error":"invalid_client"}"#),
            Reply::Json(503, r#"{"access_token":"token-2"}"#),
            Reply::Json(
                200,
                r#"{"access_token":"token-2","expires_in":0,"token_type":"Bearer"}"#,
            ),
            Reply::Json(
                200,
                r#"{"access_token":"token-2","expires_in":60,"token_type":"token-2"}"#,
            ),
            Reply::Refused,
        ] {
            endpoint.set(reply);
            let refreshed = provider.refresh().await;
            errors.push(refreshed.unwrap_err());
            // Leave the failure backoff so the next refresh makes a request.
            pass(secs(120)).await;
        }
        for error in &errors {
            assert_clean("error Display", &error.to_string());
            assert_clean("error Debug", &format!("{error:?}"));
        }
    }

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("obtained an access token"),
        "nothing was logged: {logs}"
    );
    assert!(
        logs.contains("invalid_client"),
        "failures were not logged: {logs}"
    );
    assert_clean("logs", &logs);
}
