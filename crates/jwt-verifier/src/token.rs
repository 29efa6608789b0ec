//! Splitting and decoding a compact JWS (RFC 7515 §7.1) without trusting any of it.
//!
//! Nothing here checks a signature or a claim value: [`parse`] only establishes the
//! shape (three base64url parts, JSON objects), the algorithm and the key id, and reads
//! the claims into loosely typed fields so the checks after the signature can report a
//! precise error.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::VerifyError;

/// The JOSE header members we read. `serde` rejects duplicate members, so a header
/// cannot smuggle a second `alg`.
#[derive(Deserialize)]
struct Header {
    alg: Option<Value>,
    kid: Option<Value>,
    jwk: Option<IgnoredAny>,
    jku: Option<IgnoredAny>,
    x5u: Option<IgnoredAny>,
    x5c: Option<IgnoredAny>,
    crit: Option<IgnoredAny>,
}

/// The claims as sent: every field is kept as raw JSON so its type is checked only
/// after the signature verified.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawClaims {
    pub(crate) iss: Option<Value>,
    pub(crate) exp: Option<Value>,
    pub(crate) nbf: Option<Value>,
    pub(crate) iat: Option<Value>,
    pub(crate) token_use: Option<Value>,
    pub(crate) client_id: Option<Value>,
    pub(crate) scope: Option<Value>,
    pub(crate) sub: Option<Value>,
    pub(crate) auth_time: Option<Value>,
    pub(crate) version: Option<Value>,
    pub(crate) jti: Option<Value>,
    /// Every other claim (those a pre token generation trigger added), for
    /// [`Claims::custom_claims`](crate::Claims::custom_claims).
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, Value>,
}

/// A token split and decoded, nothing verified yet.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    /// The header's `kid`.
    pub(crate) kid: String,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub(crate) signing_input: &'a [u8],
    /// The decoded signature.
    pub(crate) signature: Vec<u8>,
    /// The decoded claims, unverified.
    pub(crate) claims: RawClaims,
}

/// Splits and decodes `token`. Checks, in order: three parts, header JSON, `alg`,
/// header-supplied keys, `kid`, payload JSON, signature encoding.
pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, VerifyError> {
    let mut parts = token.splitn(4, '.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed("expected three dot-separated parts"));
    };

    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| VerifyError::Malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|_| VerifyError::Malformed("header is not a JSON object"))?;

    match header.alg {
        Some(Value::String(alg)) if alg == "RS256" => {}
        Some(Value::String(alg)) => {
            return Err(VerifyError::UnsupportedAlgorithm(VerifyError::clip(&alg)));
        }
        Some(_) => return Err(VerifyError::UnsupportedAlgorithm("<not a string>".into())),
        None => return Err(VerifyError::UnsupportedAlgorithm("<missing>".into())),
    }
    for (present, name) in [
        (header.jwk.is_some(), "jwk"),
        (header.jku.is_some(), "jku"),
        (header.x5u.is_some(), "x5u"),
        (header.x5c.is_some(), "x5c"),
        (header.crit.is_some(), "crit"),
    ] {
        if present {
            return Err(VerifyError::UnsupportedHeader(name));
        }
    }
    let kid = match header.kid {
        Some(Value::String(kid)) if !kid.is_empty() => kid,
        _ => return Err(VerifyError::MissingKid),
    };

    let payload_json = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| VerifyError::Malformed("payload is not base64url"))?;
    let claims: RawClaims = serde_json::from_slice(&payload_json)
        .map_err(|_| VerifyError::Malformed("payload is not a JSON object"))?;

    if signature_b64.is_empty() {
        return Err(VerifyError::Malformed("signature is empty"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| VerifyError::Malformed("signature is not base64url"))?;

    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Parsed {
        kid,
        signing_input,
        signature,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str, sig: &str) -> String {
        format!("{}.{}.{sig}", b64(header), b64(payload))
    }

    #[test]
    fn splits_a_well_formed_token() {
        let t = token(r#"{"kid":"k1","alg":"RS256"}"#, r#"{"iss":"x"}"#, "AAAA");
        let p = parse(&t).unwrap();
        assert_eq!(p.kid, "k1");
        assert_eq!(p.signature, vec![0, 0, 0]);
        assert_eq!(p.claims.iss, Some(Value::String("x".into())));
        assert_eq!(p.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    #[test]
    fn refuses_wrong_part_counts() {
        for t in ["", "a", "a.b", "a.b.c.d", "...."] {
            assert!(matches!(parse(t), Err(VerifyError::Malformed(_))), "{t}");
        }
    }

    #[test]
    fn refuses_padding_and_standard_base64() {
        let good = token(r#"{"kid":"k","alg":"RS256"}"#, "{}", "AAAA");
        let padded = good.replacen('.', "=.", 1);
        assert!(matches!(parse(&padded), Err(VerifyError::Malformed(_))));
        let plus = format!("{}.{}.AA+A", b64(r#"{"kid":"k","alg":"RS256"}"#), b64("{}"));
        assert!(matches!(parse(&plus), Err(VerifyError::Malformed(_))));
    }

    #[test]
    fn refuses_duplicate_alg() {
        let t = token(r#"{"kid":"k","alg":"RS256","alg":"none"}"#, "{}", "AAAA");
        assert!(matches!(parse(&t), Err(VerifyError::Malformed(_))));
    }

    #[test]
    fn alg_is_checked_before_the_signature_encoding() {
        let t = token(r#"{"alg":"none"}"#, "{}", "");
        assert!(matches!(parse(&t), Err(VerifyError::UnsupportedAlgorithm(a)) if a == "none"));
        let t = token(r#"{"kid":"k","alg":"HS256"}"#, "{}", "AAAA");
        assert!(matches!(parse(&t), Err(VerifyError::UnsupportedAlgorithm(a)) if a == "HS256"));
        let t = token(r#"{"kid":"k","alg":"rs256"}"#, "{}", "AAAA");
        assert!(matches!(
            parse(&t),
            Err(VerifyError::UnsupportedAlgorithm(_))
        ));
        let t = token(r#"{"kid":"k"}"#, "{}", "AAAA");
        assert!(matches!(
            parse(&t),
            Err(VerifyError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn refuses_header_supplied_keys() {
        for (member, name) in [
            (r#""jwk":{"kty":"RSA"}"#, "jwk"),
            (r#""jku":"https://evil.example/jwks""#, "jku"),
            (r#""x5u":"https://evil.example/c""#, "x5u"),
            (r#""x5c":["AAAA"]"#, "x5c"),
            (r#""crit":["exp"]"#, "crit"),
        ] {
            let t = token(
                &format!(r#"{{"kid":"k","alg":"RS256",{member}}}"#),
                "{}",
                "AAAA",
            );
            assert!(
                matches!(parse(&t), Err(VerifyError::UnsupportedHeader(n)) if n == name),
                "{member}"
            );
        }
    }

    #[test]
    fn refuses_missing_or_empty_kid() {
        for h in [
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"RS256","kid":""}"#,
            r#"{"alg":"RS256","kid":7}"#,
        ] {
            assert!(matches!(
                parse(&token(h, "{}", "AAAA")),
                Err(VerifyError::MissingKid)
            ));
        }
    }

    #[test]
    fn refuses_non_object_payload_and_empty_signature() {
        let h = r#"{"kid":"k","alg":"RS256"}"#;
        for p in ["[]", "1", "\"x\"", "{", r#"{"exp":1,"exp":2}"#] {
            assert!(
                matches!(parse(&token(h, p, "AAAA")), Err(VerifyError::Malformed(_))),
                "{p}"
            );
        }
        assert!(matches!(
            parse(&token(h, "{}", "")),
            Err(VerifyError::Malformed(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_panics_on_arbitrary_strings(s in ".{0,300}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_dotted_base64ish_input(
            a in "[A-Za-z0-9_=+/-]{0,80}",
            b in "[A-Za-z0-9_=+/-]{0,80}",
            c in "[A-Za-z0-9_=+/-]{0,80}",
        ) {
            let _ = parse(&format!("{a}.{b}.{c}"));
        }

        #[test]
        fn never_panics_on_arbitrary_json_parts(
            header in proptest::collection::vec(any::<u8>(), 0..120),
            payload in proptest::collection::vec(any::<u8>(), 0..200),
            sig in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let t = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(&header),
                URL_SAFE_NO_PAD.encode(&payload),
                URL_SAFE_NO_PAD.encode(&sig),
            );
            let _ = parse(&t);
        }

        #[test]
        fn round_trips_any_kid(kid in "[ -~]{1,60}") {
            let header = serde_json::json!({"kid": kid, "alg": "RS256"}).to_string();
            let t = token(&header, "{}", "AAAA");
            prop_assert_eq!(parse(&t).unwrap().kid, kid);
        }
    }
}
