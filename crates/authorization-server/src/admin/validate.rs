//! Request parsing and model validation with AWS's wording: members are checked against
//! the Cognito service model (length, pattern, enum, range, required) and violations are
//! reported together as `N validation error(s) detected: Value ... at 'member' failed to
//! satisfy constraint: ...`, with lowerCamelCase member names.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::AdminError;
use crate::validity::TimeUnit;

/// Parses an AWS JSON 1.1 body into `T`, ignoring members not in `allowed`.
///
/// - not JSON / not an object → `SerializationException`;
/// - a member of the wrong type → `SerializationException` naming the member;
/// - an unknown member is dropped (logged at debug), as AWS JSON services do: members the
///   server models are still validated, so a request that means something else is still
///   refused.
pub(crate) fn parse<T: DeserializeOwned>(
    body: &[u8],
    operation: &str,
    allowed: &[&str],
) -> Result<(T, Map<String, Value>), AdminError> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            AdminError::serialization(format!("the request body is not valid JSON: {e}"))
        })?
    };
    let Value::Object(object) = value else {
        return Err(AdminError::serialization(
            "the request body must be a JSON object",
        ));
    };
    // AWS JSON services ignore members outside their model, so that a newer SDK (which
    // may send members this server does not know yet) keeps working.
    let mut object = object;
    object.retain(|member, _| {
        let known = allowed.contains(&member.as_str());
        if !known {
            let shown: String = member.chars().take(64).collect();
            tracing::debug!(operation, member = %shown, "ignoring a request member this server does not model");
        }
        known
    });
    let typed = serde_path_to_error::deserialize(Value::Object(object.clone())).map_err(|e| {
        let path = e.path().to_string();
        AdminError::serialization(format!(
            "invalid value for member '{path}' of the {operation} request: {}",
            e.inner()
        ))
    })?;
    Ok((typed, object))
}

/// lowerCamelCase of a PascalCase member path (`TokenValidityUnits.AccessToken` →
/// `tokenValidityUnits.accessToken`), as AWS validation messages spell it.
fn camel(member: &str) -> String {
    member
        .split('.')
        .map(|segment| {
            let mut chars = segment.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(".")
}

/// Shows a value in a message, capped so a huge value cannot flood a response or a log.
fn shown(value: &str) -> String {
    let capped: String = value.chars().take(128).collect();
    if capped.len() < value.len() {
        format!("{capped}...")
    } else {
        capped
    }
}

/// A character class of the Cognito model.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pattern {
    /// `[\w\s+=,.@-]+` (pool, client and resource-server names).
    Name,
    /// `[\w-]+_[0-9a-zA-Z]+` (user pool id).
    UserPoolId,
    /// `[\w+]+` (client id, client secret).
    WordPlus,
    /// `[\x21\x23-\x5B\x5D-\x7E]+` (resource-server identifier, OAuth scope).
    ScopeLike,
    /// `[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]+` (scope name: as above without `/`).
    ScopeName,
    /// `^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$` (domain prefix).
    Domain,
    /// `[\p{L}\p{M}\p{S}\p{N}\p{P}\s*]+` (descriptions: printable text).
    Text,
    /// `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$` (tag keys and values).
    Tag,
    /// `arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?`
    /// (the model's `ArnType`: Lambda functions, KMS keys).
    Arn,
}

impl Pattern {
    fn regex(self) -> &'static str {
        match self {
            Self::Name => r"[\w\s+=,.@-]+",
            Self::UserPoolId => r"[\w-]+_[0-9a-zA-Z]+",
            Self::WordPlus => r"[\w+]+",
            Self::ScopeLike => r"[\x21\x23-\x5B\x5D-\x7E]+",
            Self::ScopeName => r"[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]+",
            Self::Domain => r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$",
            Self::Text => r"[\p{L}\p{M}\p{S}\p{N}\p{P}\s*]+",
            Self::Tag => r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$",
            Self::Arn => {
                r"arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?"
            }
        }
    }

    fn matches(self, value: &str) -> bool {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let scope_like =
            |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
        if let Self::Tag = self {
            // The only pattern that matches the empty string (a tag value may be empty).
            return value
                .chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c));
        }
        !value.is_empty()
            && match self {
                Self::Name => value
                    .chars()
                    .all(|c| word(c) || c.is_whitespace() || "+=,.@-".contains(c)),
                Self::UserPoolId => value.rsplit_once('_').is_some_and(|(region, suffix)| {
                    !region.is_empty()
                        && !suffix.is_empty()
                        && region.chars().all(|c| word(c) || c == '-')
                        && suffix.chars().all(|c| c.is_ascii_alphanumeric())
                }),
                Self::WordPlus => value.chars().all(|c| word(c) || c == '+'),
                Self::ScopeLike => value.bytes().all(scope_like),
                Self::ScopeName => value.bytes().all(|b| b != b'/' && scope_like(b)),
                Self::Domain => {
                    let bytes = value.as_bytes();
                    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
                    bytes.len() <= 63
                        && bytes.first().is_some_and(edge)
                        && bytes.last().is_some_and(edge)
                        && bytes.iter().all(|b| edge(b) || *b == b'-')
                }
                Self::Text => value.chars().all(|c| !c.is_control() || c.is_whitespace()),
                Self::Tag => true,
                Self::Arn => {
                    // No segment class contains `:`, so the pattern is six to eight
                    // `:`-separated segments: `arn`, partition, service, region (may be
                    // empty), account (digits), resource and up to two qualifiers.
                    let class = |s: &str| {
                        !s.is_empty() && s.chars().all(|c| word(c) || "+=/,.@-".contains(c))
                    };
                    let parts: Vec<&str> = value.split(':').collect();
                    (6..=8).contains(&parts.len())
                        && parts[0] == "arn"
                        && class(parts[1])
                        && class(parts[2])
                        && (parts[3].is_empty() || class(parts[3]))
                        && !parts[4].is_empty()
                        && parts[4].bytes().all(|b| b.is_ascii_digit())
                        && parts[5..].iter().all(|p| class(p))
                }
            }
    }
}

/// Members whose values are sensitive in the Cognito model.
const SENSITIVE: &[&str] = &["ClientId", "ClientSecret"];

/// Collected violations of one request.
#[derive(Debug, Default)]
pub(crate) struct Violations(Vec<String>);

impl Violations {
    fn push(&mut self, value: &str, member: &str, constraint: &str) {
        let member = camel(member);
        self.0.push(if value == "at" {
            format!("Value at '{member}' failed to satisfy constraint: {constraint}")
        } else {
            format!("Value {value} at '{member}' failed to satisfy constraint: {constraint}")
        });
    }

    /// The member is present.
    pub(crate) fn required<'a, T>(&mut self, value: &'a Option<T>, member: &str) -> Option<&'a T> {
        if value.is_none() {
            self.push("null", member, "Member must not be null");
        }
        value.as_ref()
    }

    /// A string member's length and pattern.
    pub(crate) fn string(
        &mut self,
        value: &str,
        member: &str,
        min: usize,
        max: usize,
        pattern: Pattern,
    ) {
        // Values of sensitive members (the model's ClientId and ClientSecret) are never
        // echoed, as AWS does.
        let quoted = if SENSITIVE.contains(&member) {
            "at".to_owned()
        } else {
            format!("'{}'", shown(value))
        };
        let len = value.chars().count();
        if len < min {
            self.push(
                &quoted,
                member,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.push(
                &quoted,
                member,
                &format!("Member must have length less than or equal to {max}"),
            );
        } else if !pattern.matches(value) {
            self.push(
                &quoted,
                member,
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    pattern.regex()
                ),
            );
        }
    }

    /// An optional string member.
    pub(crate) fn opt_string(
        &mut self,
        value: &Option<String>,
        member: &str,
        min: usize,
        max: usize,
        pattern: Pattern,
    ) {
        if let Some(value) = value {
            self.string(value, member, min, max, pattern);
        }
    }

    /// A string member from an enum.
    pub(crate) fn one_of(&mut self, value: &Option<String>, member: &str, allowed: &[&str]) {
        if let Some(value) = value
            && !allowed.contains(&value.as_str())
        {
            self.push(
                &format!("'{}'", shown(value)),
                member,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// A unit of `TokenValidityUnits`: one of Cognito's names, read as a [`TimeUnit`].
    pub(crate) fn time_unit(&mut self, value: &Option<String>, member: &str) -> Option<TimeUnit> {
        self.one_of(value, member, &TimeUnit::NAMES);
        value.as_deref().and_then(|name| TimeUnit::parse(name).ok())
    }

    /// Every element of a list member from an enum, and its size.
    pub(crate) fn list_of(
        &mut self,
        values: &Option<Vec<String>>,
        member: &str,
        max_len: usize,
        allowed: &[&str],
    ) {
        let Some(values) = values else { return };
        if values.len() > max_len {
            self.push(
                &list_shown(values),
                member,
                &format!("Member must have length less than or equal to {max_len}"),
            );
        } else if values.iter().any(|v| !allowed.contains(&v.as_str())) {
            self.push(
                &list_shown(values),
                member,
                &format!(
                    "Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// A list of strings: its size, and each element's length and pattern.
    pub(crate) fn list(
        &mut self,
        values: &Option<Vec<String>>,
        member: &str,
        max_len: usize,
        min: usize,
        max: usize,
        pattern: Pattern,
    ) {
        let Some(values) = values else { return };
        if values.len() > max_len {
            self.push(
                &list_shown(values),
                member,
                &format!("Member must have length less than or equal to {max_len}"),
            );
            return;
        }
        for value in values {
            let len = value.chars().count();
            if len < min || len > max || !pattern.matches(value) {
                self.push(
                    &list_shown(values),
                    member,
                    &format!(
                        "Member must satisfy constraint: [Member must have length less than or equal to {max}, \
                         Member must have length greater than or equal to {min}, \
                         Member must satisfy regular expression pattern: {}]",
                        pattern.regex()
                    ),
                );
                return;
            }
        }
    }

    /// An integer member's range.
    pub(crate) fn range(&mut self, value: Option<i64>, member: &str, min: i64, max: i64) {
        let Some(value) = value else { return };
        if value < min {
            self.push(
                &format!("'{value}'"),
                member,
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if value > max {
            self.push(
                &format!("'{value}'"),
                member,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// `Ok` when nothing was violated, else one `InvalidParameterException` listing all.
    pub(crate) fn finish(self) -> Result<(), AdminError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(AdminError::invalid_parameter(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(AdminError::invalid_parameter(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

fn list_shown(values: &[String]) -> String {
    let items: Vec<String> = values.iter().take(10).map(|v| shown(v)).collect();
    let more = if values.len() > 10 { ", ..." } else { "" };
    format!("'[{}{more}]'", items.join(", "))
}

/// Encodes the last key of a page as an opaque `NextToken`.
pub(crate) fn next_token(last_key: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_key)
}

/// Decodes a `NextToken` made by [`next_token`].
pub(crate) fn after_key(token: Option<&str>) -> Result<Option<String>, AdminError> {
    use base64::Engine as _;
    let Some(token) = token else { return Ok(None) };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(Some)
        .ok_or_else(|| AdminError::invalid_parameter("The NextToken is invalid: it was not returned by a previous list call of this server."))
}

/// Splits a page fetched with `limit + 1` rows into the page and its `NextToken`.
pub(crate) fn page<T>(
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> &str,
) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if rows.len() > limit {
        rows.truncate(limit);
        let token = rows.last().map(|last| next_token(key(last)));
        (rows, token)
    } else {
        (rows, None)
    }
}

/// Unix milliseconds as AWS's epoch-seconds timestamp with millisecond fraction.
pub(crate) fn timestamp(ms: i64) -> Value {
    #[allow(clippy::cast_precision_loss)] // Milliseconds since 1970 fit in 53 bits.
    let seconds = ms as f64 / 1000.0;
    serde_json::Number::from_f64(seconds).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_the_model() {
        assert!(Pattern::UserPoolId.matches("us-east-1_4ygzD9mcV"));
        assert!(!Pattern::UserPoolId.matches("us-east-1"));
        assert!(!Pattern::UserPoolId.matches("us-east-1_ab/c"));
        assert!(Pattern::Domain.matches("s2s-demo"));
        assert!(!Pattern::Domain.matches("-s2s"));
        assert!(!Pattern::Domain.matches("S2S"));
        assert!(Pattern::ScopeLike.matches("https://api.example.com/a"));
        assert!(!Pattern::ScopeName.matches("a/b"));
        assert!(!Pattern::Name.matches("a<b"));
    }

    #[test]
    fn messages_use_aws_wording() {
        let mut v = Violations::default();
        v.required(&None::<String>, "PoolName");
        v.string("a<b", "ClientName", 1, 128, Pattern::Name);
        v.string("short", "ClientSecret", 24, 64, Pattern::WordPlus);
        let err = v.finish().unwrap_err();
        assert_eq!(err.kind, "InvalidParameterException");
        assert!(!err.message.contains("short"), "{}", err.message);
        assert!(
            err.message.contains("Value at 'clientSecret' failed"),
            "{}",
            err.message
        );
        assert!(err.message.starts_with("3 validation errors detected: Value null at 'poolName' failed to satisfy constraint: Member must not be null; Value 'a<b' at 'clientName'"), "{}", err.message);
    }

    #[test]
    fn timestamps_have_millis() {
        assert_eq!(timestamp(1_689_885_426_107).to_string(), "1689885426.107");
    }
}
