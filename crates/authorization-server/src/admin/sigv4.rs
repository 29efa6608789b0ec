//! AWS Signature Version 4 verification of admin requests (`Authorization:
//! AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=...,
//! Signature=...`).
//!
//! The canonical request is rebuilt from exactly the headers the client signed, the body
//! is hashed here (never trusted from a header), the signing key and signature come from
//! the `aws-sigv4` crate, and signatures are compared in constant time. The request time
//! (`X-Amz-Date`) must be within 5 minutes of the injected clock (as AWS).
//!
//! Stricter than AWS, so that a captured request cannot be altered or replayed:
//! - `host`, `x-amz-date`, `x-amz-target` (which selects the operation), `content-type`
//!   and every `x-amz-*` header present must be signed (`x-amz-user-agent` excepted: some
//!   SDKs leave it unsigned and it selects nothing);
//! - the `Host` must name this server ([`super::guard`]);
//! - a duplicated `Authorization` or `X-Amz-Date` header is refused;
//! - a write's signature is accepted once: the same signature again within the skew
//!   window (a replayed request) is refused.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use axum::http::{HeaderMap, Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use subtle::ConstantTimeEq;

use super::error::AdminError;
use crate::AdminCredentials;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The signing name of Cognito user pools.
const SERVICE: &str = "cognito-idp";
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);
/// Headers that must be signed whenever a signature is checked.
const REQUIRED_SIGNED: [(&str, &str); 4] = [
    ("host", "Host"),
    ("x-amz-date", "X-Amz-Date"),
    ("x-amz-target", "X-Amz-Target"),
    ("content-type", "Content-Type"),
];
/// How many signatures the replay guard remembers; beyond, signed requests are throttled
/// until older ones leave the skew window (fail closed rather than forget).
const MAX_REMEMBERED: usize = 200_000;

/// Signatures already accepted, each until it leaves the skew window.
#[derive(Debug, Default)]
pub(crate) struct ReplayGuard {
    seen: Mutex<HashMap<String, SystemTime>>,
}

impl ReplayGuard {
    /// Records `signature`, usable until `until`; refuses one already recorded.
    fn first_use(
        &self,
        signature: &str,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<(), AdminError> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, expiry| *expiry > now);
        }
        if seen.get(signature).is_some_and(|expiry| *expiry > now) {
            return Err(AdminError::invalid_signature(
                "Signature already used: this request was replayed; sign every request anew.",
            ));
        }
        if seen.len() >= MAX_REMEMBERED {
            return Err(AdminError {
                kind: "TooManyRequestsException",
                message: "Too many signed requests within 5 minutes.".to_owned(),
                status: axum::http::StatusCode::BAD_REQUEST,
            });
        }
        seen.insert(signature.to_owned(), until);
        Ok(())
    }
}

/// `YYYYMMDDTHHMMSSZ` of a time, as AWS prints it in skew errors.
fn amz_date_of(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const AWS_URI_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn incomplete(message: impl Into<String>) -> AdminError {
    AdminError {
        kind: "IncompleteSignatureException",
        message: message.into(),
        status: axum::http::StatusCode::BAD_REQUEST,
    }
}

struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, AdminError> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|rest| rest.starts_with(' '))
        .ok_or_else(|| incomplete(format!("Authorization header must use {ALGORITHM}")))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(incomplete(format!(
            "Credential must be AKID/YYYYMMDD/region/service/aws4_request, got {:?}",
            credential.chars().take(128).collect::<String>()
        )));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// `YYYYMMDDTHHMMSSZ` → time.
fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let b = value.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> { value.get(range)?.parse().ok() };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    // Non-S3 services encode each segment of the (already encoded) path once more.
    path.split('/')
        .map(|segment| utf8_percent_encode(segment, AWS_URI_ENCODE).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_query(query: Option<&str>) -> String {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let enc = |s: &str| {
                let decoded = percent_decode_str(s).decode_utf8_lossy().into_owned();
                utf8_percent_encode(&decoded, AWS_URI_ENCODE).to_string()
            };
            (enc(k), enc(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The signature the client should have computed.
#[allow(clippy::too_many_arguments)]
fn signature(
    secret: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    auth: &Authorization<'_>,
    amz_date: &str,
    signed_at: SystemTime,
    body: &[u8],
) -> String {
    let mut canonical = String::with_capacity(512);
    canonical.push_str(method.as_str());
    canonical.push('\n');
    canonical.push_str(&canonical_uri(uri.path()));
    canonical.push('\n');
    canonical.push_str(&canonical_query(uri.query()));
    canonical.push('\n');
    for name in &auth.signed_headers {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| canonical_header_value(v.as_bytes()))
            .collect();
        let value = if values.is_empty() && *name == "host" {
            uri.authority()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default()
        } else {
            values.join(",")
        };
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(&value);
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&auth.signed_headers.join(";"));
    canonical.push('\n');
    canonical.push_str(&hex(digest(&SHA256, body).as_ref()));

    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(digest(&SHA256, canonical.as_bytes()).as_ref())
    );
    let key = generate_signing_key(secret, signed_at, auth.region, auth.service);
    calculate_signature(key, string_to_sign.as_bytes())
}

/// Verifies the request's signature; any failure refuses the request.
/// A valid signature, not yet checked against replays.
pub(crate) struct Verified {
    signature: String,
    until: SystemTime,
    now: SystemTime,
}

impl Verified {
    /// Refuses the request if its signature was already used within the skew window.
    /// Called for writes only: SDKs send identical reads signed within the same second,
    /// and a replayed read tells an eavesdropper nothing the original response did not.
    pub(crate) fn first_use(&self, replays: &ReplayGuard) -> Result<(), AdminError> {
        replays.first_use(&self.signature, self.until, self.now)
    }
}

pub(crate) fn verify(
    credentials: &AdminCredentials,
    region: &str,
    now: SystemTime,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Verified, AdminError> {
    for (name, shown) in [
        ("authorization", "Authorization"),
        ("x-amz-date", "X-Amz-Date"),
    ] {
        if headers.get_all(name).iter().nth(1).is_some() {
            return Err(incomplete(format!(
                "The request contains more than one {shown} header."
            )));
        }
    }
    let Some(authorization) = headers.get("authorization") else {
        return Err(AdminError::missing_authentication(
            "Missing Authentication Token",
        ));
    };
    let authorization = authorization
        .to_str()
        .map_err(|_| incomplete("Authorization header is not visible ASCII"))?;
    let auth = parse_authorization(authorization)?;
    if auth.access_key_id != credentials.access_key_id
        || headers.contains_key("x-amz-security-token")
    {
        return Err(AdminError::unrecognized_client());
    }
    if auth.service != SERVICE {
        return Err(AdminError::invalid_signature(format!(
            "Credential should be scoped to correct service: '{SERVICE}'."
        )));
    }
    if auth.region != region {
        return Err(AdminError::invalid_signature(format!(
            "Credential should be scoped to a valid region: this server is region '{region}'."
        )));
    }
    for (name, shown) in REQUIRED_SIGNED {
        if !auth.signed_headers.contains(&name) {
            return Err(incomplete(format!(
                "'{shown}' must be a 'SignedHeader' in the AWS Authorization."
            )));
        }
    }
    if let Some(unsigned) = headers.keys().map(|n| n.as_str()).find(|name| {
        name.starts_with("x-amz-")
            && *name != "x-amz-user-agent"
            && !auth.signed_headers.contains(name)
    }) {
        return Err(incomplete(format!(
            "'{unsigned}' must be a 'SignedHeader' in the AWS Authorization."
        )));
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .filter(|_| auth.signed_headers.contains(&"x-amz-date"))
        .ok_or_else(|| incomplete("'X-Amz-Date' must be present and signed."))?;
    let signed_at = parse_amz_date(amz_date)
        .ok_or_else(|| incomplete(format!("X-Amz-Date {amz_date:?} is not YYYYMMDDTHHMMSSZ")))?;
    if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
        return Err(AdminError::invalid_signature(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP",
        ));
    }
    if signed_at + MAX_SKEW < now {
        return Err(AdminError::invalid_signature(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
            amz_date_of(now - MAX_SKEW),
            amz_date_of(now)
        )));
    }
    if signed_at > now + MAX_SKEW {
        return Err(AdminError::invalid_signature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
            amz_date_of(now + MAX_SKEW),
            amz_date_of(now)
        )));
    }

    let expected = signature(
        credentials.secret_access_key.expose(),
        method,
        uri,
        headers,
        &auth,
        amz_date,
        signed_at,
        body,
    );
    if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(Verified {
            signature: expected,
            until: signed_at + MAX_SKEW,
            now,
        })
    } else {
        Err(AdminError::invalid_signature(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amz_dates() {
        assert_eq!(
            parse_amz_date("20150830T123600Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_440_938_160))
        );
        assert_eq!(parse_amz_date("20150830 123600Z"), None);
        assert_eq!(parse_amz_date("20151330T123600Z"), None);
        for date in ["20150830T123600Z", "20240229T000000Z", "19700101T000000Z"] {
            assert_eq!(amz_date_of(parse_amz_date(date).unwrap()), date);
        }
    }

    /// The AWS SigV4 test suite's `get-vanilla` case, adapted: same key and date, verified
    /// through our canonicalisation.
    #[test]
    fn verifies_the_aws_example_signature() {
        let credentials = AdminCredentials {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: oauth_proto::ClientSecret::new(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
        };
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
                .parse()
                .unwrap(),
        );
        let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let uri: Uri = "/".parse().unwrap();
        let value = headers["authorization"].to_str().unwrap().to_owned();
        let auth = parse_authorization(&value).unwrap();
        assert_eq!(
            signature(
                credentials.secret_access_key.expose(),
                &Method::GET,
                &uri,
                &headers,
                &auth,
                "20150830T123600Z",
                now,
                b""
            ),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        // Service "service" is refused: this server is cognito-idp only.
        let err = verify(
            &credentials,
            "us-east-1",
            now,
            &Method::GET,
            &uri,
            &headers,
            b"",
        )
        .err()
        .unwrap();
        assert_eq!(err.kind, "InvalidSignatureException");
        assert!(err.message.contains("cognito-idp"));
    }
}
