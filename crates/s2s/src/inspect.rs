//! `s2s inspect`: what a token says, in human form, and whether its issuer's keys and the
//! claim checks accept it.

use std::io::{Read as _, Write};
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_proto::time::{Clock, SystemClock};
use serde_json::{Map, Value};

use crate::cli::InspectArgs;
use crate::terminal::escape;

/// A JWT split and decoded, not verified.
#[derive(Debug, Clone)]
pub(crate) struct Decoded {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
}

impl Decoded {
    /// Splits `token` into its three parts and decodes the first two as JSON objects.
    pub(crate) fn parse(token: &str) -> anyhow::Result<Self> {
        let mut parts = token.trim().split('.');
        let (Some(header), Some(claims), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            anyhow::bail!("a JWT has three dot-separated parts");
        };
        Ok(Self {
            header: decode_part(header).context("cannot decode the header")?,
            claims: decode_part(claims).context("cannot decode the claims")?,
        })
    }

    /// Prints the header and the claims, times in UTC with their distance from now.
    pub(crate) fn print(&self, clock: &dyn Clock) {
        print!("{}", self.render(clock));
    }

    /// The header and the claims, one per line, times in UTC with their distance from
    /// now. Every name and value is [escaped](terminal::escape): they come from the token.
    pub(crate) fn render(&self, clock: &dyn Clock) -> String {
        let mut out = String::from("header:\n");
        for (key, value) in &self.header {
            out.push_str(&format!(
                "  {}: {}\n",
                escape(key),
                escape(&value.to_string())
            ));
        }
        out.push_str("claims:\n");
        let now = clock.unix_seconds();
        for (key, value) in &self.claims {
            let line = match (key.as_str(), value.as_u64()) {
                ("exp" | "iat" | "auth_time" | "nbf", Some(seconds)) => {
                    let relative = if key == "exp" {
                        if seconds > now {
                            format!("expires in {}", human_duration(seconds - now))
                        } else {
                            format!("expired {} ago", human_duration(now - seconds))
                        }
                    } else if seconds > now {
                        format!("in {}", human_duration(seconds - now))
                    } else {
                        format!("{} ago", human_duration(now - seconds))
                    };
                    format!("  {key}: {seconds} = {} ({relative})", utc(seconds))
                }
                _ => format!("  {}: {}", escape(key), escape(&value.to_string())),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    pub(crate) fn string_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

fn decode_part(part: &str) -> anyhow::Result<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .context("not base64url without padding")?;
    serde_json::from_slice(&bytes).context("not a JSON object")
}

/// A Unix time as `2026-11-27 21:00:00 UTC`.
pub(crate) fn utc(seconds: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    i64::try_from(seconds)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "(out of range)".to_owned())
}

/// `59m 12s`, `3m`, `2h 5m`, `3d 4h`, `12s`: the two largest units.
pub(crate) fn human_duration(seconds: u64) -> String {
    let units = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (size, name) in units {
        let count = rest / size;
        if count > 0 || (parts.is_empty() && size == 1) {
            parts.push(format!("{count}{name}"));
            rest -= count * size;
        }
        if parts.len() == 2 || (!parts.is_empty() && rest == 0) {
            break;
        }
    }
    parts.join(" ")
}

/// `s2s inspect`.
pub(crate) async fn run(args: InspectArgs) -> anyhow::Result<()> {
    let token = if args.token == "-" {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("cannot read the token from standard input")?;
        input.trim().to_owned()
    } else {
        args.token.trim().to_owned()
    };
    let issuer = args
        .issuer
        .as_ref()
        .map(|i| i.as_str().trim_end_matches('/').to_owned());
    if args.allow_insecure_http_issuer {
        eprintln!(
            "warning: --allow-insecure-http-issuer: keys fetched over plain http from another host can be replaced by anyone on the way, so a successful verification proves nothing against them"
        );
    }
    let settings = Settings {
        issuer,
        allow_insecure_http: args.allow_insecure_http_issuer,
        clock: Arc::new(SystemClock),
    };
    let mut stdout = std::io::stdout().lock();
    inspect(&token, &settings, &mut stdout, &mut std::io::stderr())
        .await
        // Error texts may quote the token (a claim, an unknown issuer): escaped too.
        .map_err(|e| anyhow::anyhow!("{}", escape(&format!("{e:#}"))))
}

/// What `inspect` checks the token against.
struct Settings {
    /// `--issuer`; `None`: the token's own `iss`, with a warning.
    issuer: Option<String>,
    allow_insecure_http: bool,
    clock: Arc<dyn Clock>,
}

/// The report on `token`, to `out`, warnings to `warn`. Every string taken from the token
/// is [escaped](terminal::escape) before it is written.
async fn inspect(
    token: &str,
    settings: &Settings,
    out: &mut dyn Write,
    warn: &mut dyn Write,
) -> anyhow::Result<()> {
    let clock = &settings.clock;
    let decoded = Decoded::parse(token).context("this is not a JWT")?;
    write!(out, "{}", decoded.render(clock.as_ref()))?;

    let issuer = match &settings.issuer {
        Some(issuer) => issuer.clone(),
        None => {
            let iss = decoded
                .string_claim("iss")
                .context("the token has no iss claim and no --issuer was given: nothing to verify it against")?
                .to_owned();
            writeln!(
                warn,
                "warning: no --issuer given, so the token is checked against the issuer it names itself ({}). \
                 That proves only that this issuer signed it, not that it is one you trust: pin the issuer with --issuer",
                escape(&iss)
            )?;
            iss
        }
    };
    // The claim checks can all be read off the decoded token, so list every one that
    // fails; the verifier below stops at the first failure and adds the signature.
    let failed = claim_problems(&decoded, &issuer, clock.unix_seconds());
    if !failed.is_empty() {
        writeln!(out, "claim checks that fail:")?;
        for problem in &failed {
            writeln!(out, "  - {}", escape(problem))?;
        }
    }
    writeln!(out, "verification against {}:", escape(&issuer))?;
    let verifier = jwt_verifier::Verifier::builder()
        .issuer(issuer.as_str())
        .allow_any_client_id()
        .allow_insecure_http(settings.allow_insecure_http)
        .clock(clock.clone())
        .build()
        .map_err(|e| anyhow::anyhow!("{}", escape(&e.to_string())))
        .context("invalid verification settings")?;
    match verifier.verify(token).await {
        Ok(_) => {
            writeln!(
                out,
                "  ok: RS256 signature by a key of the issuer's JWKS, iss, exp and token_use=access all check out"
            )?;
            Ok(())
        }
        Err(err) => {
            let why = explain(&err);
            let err = escape(&err.to_string()).into_owned();
            writeln!(out, "  failed: {err}")?;
            writeln!(out, "  why: {why}")?;
            anyhow::bail!("the token does not verify: {err}")
        }
    }
}

/// Every claim check a Cognito access token fails, one line each, from the decoded (not
/// yet verified) token.
fn claim_problems(decoded: &Decoded, issuer: &str, now: u64) -> Vec<String> {
    let mut problems = Vec::new();
    match decoded.header.get("alg").and_then(Value::as_str) {
        Some("RS256") => {}
        other => problems.push(format!(
            "alg is {}, not RS256: Cognito signs with RS256 only",
            other.unwrap_or("missing")
        )),
    }
    match decoded.string_claim("iss") {
        Some(iss) if iss == issuer => {}
        Some(iss) => problems.push(format!(
            "iss is {iss}, not the expected issuer {issuer}: another user pool or server issued it"
        )),
        None => problems.push("iss is missing".to_owned()),
    }
    match decoded.claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp > now => {}
        Some(exp) => problems.push(format!(
            "exp is {}: the token expired {} ago, get a new one",
            utc(exp),
            human_duration(now - exp)
        )),
        None => problems.push("exp is missing: every access token expires".to_owned()),
    }
    match decoded.string_claim("token_use") {
        Some("access") => {}
        other => problems.push(format!(
            "token_use is {}, not access: only access tokens may call an API",
            other.unwrap_or("missing")
        )),
    }
    if decoded.string_claim("client_id").is_none() {
        problems.push("client_id is missing: the caller cannot be identified".to_owned());
    }
    problems
}

/// One line on what a failed check means and what to look at.
fn explain(err: &jwt_verifier::VerifyError) -> &'static str {
    use jwt_verifier::VerifyError as E;
    match err {
        E::TooLarge { .. } => {
            "the token is larger than any Cognito access token: refused before parsing"
        }
        E::Malformed { .. } => {
            "the token is not a well-formed JWT (three base64url parts with JSON header and claims)"
        }
        E::UnsupportedAlgorithm { .. } => {
            "only RS256 is accepted, as Cognito signs; any other alg (including none) is refused"
        }
        E::UnsupportedHeader { .. } => {
            "the header carries a member Cognito never sends (e.g. jku, x5u, crit): keys are never taken from the token itself"
        }
        E::MissingKid => "the header names no kid, so no key of the issuer's JWKS can be chosen",
        E::UnknownIssuer { .. } => {
            "the iss claim names an issuer this verifier does not trust, so its keys are not even fetched"
        }
        E::UnknownKid { .. } => {
            "no key of the issuer's JWKS has this kid: the token was signed by another pool or server, or with a key that has been removed"
        }
        E::InvalidSignature => {
            "the signature does not match the issuer's key: the token was altered or signed by someone else"
        }
        E::MissingClaim { .. } => "a claim every Cognito access token carries is missing",
        E::InvalidClaim { .. } => "a claim has the wrong type or an impossible value",
        E::Expired { .. } => {
            "the token is past its exp: ask the token endpoint for a new one (clients renew before expiry)"
        }
        E::NotYetValid { .. } | E::IssuedInFuture { .. } => {
            "the token is dated in the future: the issuer's clock and this one disagree"
        }
        E::InvalidIssuer => {
            "the iss claim is not the expected issuer: the token comes from another user pool or server"
        }
        E::InvalidClientId { .. } => "the token was issued to an app client that is not allowed",
        E::InvalidTokenUse { .. } => {
            "token_use is not \"access\": an ID token must never be accepted by an API"
        }
        E::InsufficientScope { .. } => "the token lacks a scope the API requires",
        E::JwksUnavailable { .. } => {
            "the issuer's JWKS could not be fetched: check the issuer URL and that the server is up"
        }
        _ => "see the error above",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_says_them() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(12), "12s");
        assert_eq!(human_duration(3552), "59m 12s");
        assert_eq!(human_duration(180), "3m");
        assert_eq!(human_duration(3600 * 2 + 300 + 7), "2h 5m");
        assert_eq!(human_duration(86_400 * 3 + 3600 * 4), "3d 4h");
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_598_183_822), "2020-08-23 11:57:02 UTC");
    }

    #[test]
    fn every_failed_claim_check_is_listed() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"kid":"k","alg":"HS256"}"#);
        let claims = URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://evil.example/p","exp":820,"token_use":"id"}"#);
        let decoded = Decoded::parse(&format!("{header}.{claims}.sig")).unwrap();
        let problems = claim_problems(&decoded, "https://good.example/p", 1000);
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems[0].starts_with("alg is HS256"));
        assert!(problems[1].contains("not the expected issuer https://good.example/p"));
        assert!(problems[2].contains("expired 3m ago"), "{}", problems[2]);
        assert!(problems[3].starts_with("token_use is id"));
        assert!(problems[4].starts_with("client_id is missing"));

        let header = URL_SAFE_NO_PAD.encode(br#"{"kid":"k","alg":"RS256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            br#"{"iss":"https://good.example/p","exp":2000,"token_use":"access","client_id":"c"}"#,
        );
        let decoded = Decoded::parse(&format!("{header}.{claims}.sig")).unwrap();
        assert!(claim_problems(&decoded, "https://good.example/p", 1000).is_empty());
    }

    /// A token whose header and claims carry terminal escapes (clear screen, OSC 52
    /// clipboard write, colour), a C1 CSI, bidi overrides and isolates and a line
    /// separator, in names and values.
    fn hostile_token(iss: &str) -> String {
        let header = serde_json::json!({
            "kid": "k\u{1b}]52;c;ZXZpbA==\u{7}",
            "alg": "RS256",
            "typ": "JWT\u{9b}2J",
        });
        let claims = serde_json::json!({
            "iss": iss,
            "exp": 2000,
            "token_use": "\u{202e}ssecca",
            "client_id": "c\u{2066}x\u{2069}",
            "sub\u{1b}[31m": "a\u{2028}b\u{2029}c\u{7f}\u{85}",
        });
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn assert_escaped(what: &str, text: &str) {
        // Line by line: the line breaks between lines are this program's own.
        for line in text.lines() {
            assert!(
                !line.chars().any(crate::terminal::is_unsafe),
                "{what} prints a control character raw: {line:?}"
            );
        }
    }

    #[tokio::test]
    async fn terminal_escape_in_a_token_is_printed_escaped() {
        /// Unix time 1000, so that `exp` (2000) is in the future.
        #[derive(Debug)]
        struct At1000;
        impl Clock for At1000 {
            fn now(&self) -> std::time::SystemTime {
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000)
            }
        }
        let clock: Arc<dyn Clock> = Arc::new(At1000);
        // Pinned to another issuer: refused as an unknown issuer, with no network call.
        let token = hostile_token("https://evil.example/p\u{1b}[2J\u{9d}0;pwned\u{7}");
        let settings = Settings {
            issuer: Some("https://good.example/p".to_owned()),
            allow_insecure_http: false,
            clock: clock.clone(),
        };
        let (mut out, mut warn) = (Vec::new(), Vec::new());
        let err = inspect(&token, &settings, &mut out, &mut warn)
            .await
            .unwrap_err();
        let out = String::from_utf8(out).unwrap();
        assert_escaped("the report", &out);
        assert_escaped("the error", &format!("{err:#}"));
        // Everything is still there, visibly.
        for shown in [
            "kid: \"k\\u001b]52;c;ZXZpbA==\\u0007\"",
            "typ: \"JWT\\u{9b}2J\"",
            "sub\\u{1b}[31m: \"a\\u{2028}b\\u{2029}c\\u{7f}\\u{85}\"",
            "token_use: \"\\u{202e}ssecca\"",
            "client_id: \"c\\u{2066}x\\u{2069}\"",
            "iss is https://evil.example/p\\u{1b}[2J\\u{9d}0;pwned\\u{7}, not the expected issuer",
            "token_use is \\u{202e}ssecca, not access",
            "failed: unknown issuer",
        ] {
            assert!(out.contains(shown), "{shown:?} not in\n{out}");
        }

        // No --issuer: the warning quotes the token's own iss. Plain http off loopback is
        // refused before any network call.
        let token = hostile_token("http://evil.example/p\u{1b}[2J\u{202e}");
        let settings = Settings {
            issuer: None,
            allow_insecure_http: false,
            clock,
        };
        let (mut out, mut warn) = (Vec::new(), Vec::new());
        let err = inspect(&token, &settings, &mut out, &mut warn)
            .await
            .unwrap_err();
        let warn = String::from_utf8(warn).unwrap();
        assert_escaped("the warning", &warn);
        assert!(warn.contains("p\\u{1b}[2J\\u{202e})"), "{warn}");
        assert_escaped("the report", &String::from_utf8(out).unwrap());
        let err = format!("{err:#}");
        assert_escaped("the error", &err);
        assert!(err.contains("insecure issuer"), "{err}");
    }

    #[test]
    fn decodes_header_and_claims() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"kid":"k","alg":"RS256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"abc","exp":10}"#);
        let decoded = Decoded::parse(&format!("{header}.{claims}.sig")).unwrap();
        assert_eq!(decoded.header["alg"], "RS256");
        assert_eq!(decoded.string_claim("sub"), Some("abc"));
        assert!(Decoded::parse("a.b").is_err());
        assert!(Decoded::parse("a.b.c.d").is_err());
        assert!(Decoded::parse("!!.e30.x").is_err());
    }
}
