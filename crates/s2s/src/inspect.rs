//! `s2s inspect`: what a token says, in human form, and whether its issuer's keys and the
//! claim checks accept it.

use std::io::Read as _;
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_proto::time::{Clock, SystemClock};
use serde_json::{Map, Value};

use crate::cli::InspectArgs;

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
        println!("header:");
        for (key, value) in &self.header {
            println!("  {key}: {value}");
        }
        println!("claims:");
        let now = clock.unix_seconds();
        for (key, value) in &self.claims {
            match (key.as_str(), value.as_u64()) {
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
                    println!("  {key}: {seconds} = {} ({relative})", utc(seconds));
                }
                _ => println!("  {key}: {value}"),
            }
        }
    }

    fn string_claim(&self, name: &str) -> Option<&str> {
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
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let decoded = Decoded::parse(&token).context("this is not a JWT")?;
    decoded.print(clock.as_ref());

    let issuer = match &args.issuer {
        Some(issuer) => issuer.as_str().trim_end_matches('/').to_owned(),
        None => {
            let iss = decoded
                .string_claim("iss")
                .context("the token has no iss claim and no --issuer was given: nothing to verify it against")?
                .to_owned();
            eprintln!(
                "warning: no --issuer given, so the token is checked against the issuer it names itself ({iss}). \
                 That proves only that this issuer signed it, not that it is one you trust: pin the issuer with --issuer"
            );
            iss
        }
    };
    // The claim checks can all be read off the decoded token, so list every one that
    // fails; the verifier below stops at the first failure and adds the signature.
    let failed = claim_problems(&decoded, &issuer, clock.unix_seconds());
    if !failed.is_empty() {
        println!("claim checks that fail:");
        for problem in &failed {
            println!("  - {problem}");
        }
    }
    println!("verification against {issuer}:");
    let verifier = jwt_verifier::Verifier::builder()
        .issuer(issuer.as_str())
        .allow_any_client_id()
        .clock(clock)
        .build()
        .context("invalid verification settings")?;
    match verifier.verify(&token).await {
        Ok(_) => {
            println!(
                "  ok: RS256 signature by a key of the issuer's JWKS, iss, exp and token_use=access all check out"
            );
            Ok(())
        }
        Err(err) => {
            println!("  failed: {err}");
            println!("  why: {}", explain(&err));
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
