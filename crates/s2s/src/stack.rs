//! `stack.toml`: the user pool, its domain, resource servers and app client, as code.
//!
//! The file is parsed with `deny_unknown_fields` and validated as a whole before anything
//! is created, so a typo or an out-of-range value never leaves a half-provisioned pool.
//! Every error names the file, the line and the problem.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use anyhow::Context as _;
use authorization_server::TimeUnit;
use authorization_server::validity::ACCESS_TOKEN_LIFETIMES;
use serde::Deserialize;
use toml::Spanned;

/// The reference stack shipped with the binary, used by `s2s up` when no `stack.toml`
/// is found in the current directory. It is the crate's own file, not the repository's
/// `stack.toml`: that one is the user's to edit, and editing it must change no build and
/// no test.
pub(crate) const REFERENCE: &str = include_str!("../default-stack.toml");

/// A parsed, validated stack.
#[derive(Debug, Clone)]
pub(crate) struct Stack {
    pub(crate) user_pool: UserPool,
    pub(crate) resource_servers: Vec<ResourceServer>,
    pub(crate) app_client: AppClient,
}

/// The user pool and its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserPool {
    pub(crate) name: String,
    pub(crate) domain: String,
    /// `[user_pool.pre_token_generation]`: the `V3_0` trigger that customises its M2M
    /// access tokens.
    pub(crate) pre_token_generation: Option<PreTokenGeneration>,
}

/// The pool's pre token generation function (`LambdaVersion` `V3_0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreTokenGeneration {
    /// The function's ARN, set as the pool's `PreTokenGenerationConfig.LambdaArn`.
    pub(crate) lambda_arn: String,
    /// Where `s2s up` reaches the function locally (`--lambda ARN=URL` of the server);
    /// ignored by `s2s provision`.
    pub(crate) local_url: Option<String>,
}

/// A resource server and the scopes it defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceServer {
    pub(crate) identifier: String,
    pub(crate) name: String,
    /// `(name, description)` pairs.
    pub(crate) scopes: Vec<(String, String)>,
}

/// The confidential app client that uses the client-credentials grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppClient {
    pub(crate) name: String,
    /// Full scope strings, `<resource-server-identifier>/<scope-name>`.
    pub(crate) allowed_oauth_scopes: Vec<String>,
    pub(crate) access_token_validity: i32,
    pub(crate) token_validity_units: TimeUnit,
}

#[cfg(test)]
impl AppClient {
    /// The access-token lifetime.
    pub(crate) fn access_token_lifetime(&self) -> Option<std::time::Duration> {
        self.token_validity_units
            .duration(i64::from(self.access_token_validity))
    }
}

// === The file as written ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStack {
    user_pool: RawUserPool,
    #[serde(default)]
    resource_server: Vec<RawResourceServer>,
    app_client: RawAppClient,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUserPool {
    name: Spanned<String>,
    domain: Spanned<String>,
    pre_token_generation: Option<RawPreTokenGeneration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreTokenGeneration {
    lambda_arn: Spanned<String>,
    local_url: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResourceServer {
    identifier: Spanned<String>,
    name: Spanned<String>,
    scopes: Spanned<Vec<RawScope>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    name: Spanned<String>,
    description: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppClient {
    name: Spanned<String>,
    generate_secret: Spanned<bool>,
    allowed_oauth_flows: Spanned<Vec<String>>,
    allowed_oauth_scopes: Spanned<Vec<Spanned<String>>>,
    access_token_validity: Spanned<i64>,
    token_validity_units: Spanned<TimeUnit>,
}

/// One problem in a stack file, located by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// Every problem found in a stack file.
#[derive(Debug)]
pub(crate) struct StackError {
    pub(crate) file: String,
    pub(crate) problems: Vec<Problem>,
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}: {}", self.file, problem.line, problem.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for StackError {}

/// Reads and validates the stack file at `path`.
pub(crate) fn load(path: &Path) -> anyhow::Result<Stack> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the stack file {}", path.display()))?;
    Ok(parse(&path.display().to_string(), &text)?)
}

/// Parses and validates a stack; `file` names it in errors.
pub(crate) fn parse(file: &str, text: &str) -> Result<Stack, StackError> {
    let fail = |problems| StackError {
        file: file.to_owned(),
        problems,
    };
    let raw: RawStack = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(err) => {
            let line = err.span().map_or(1, |span| line_of(text, span.start));
            return Err(fail(vec![Problem {
                line,
                message: err.message().trim_end().to_owned(),
            }]));
        }
    };
    let mut checker = Checker {
        text,
        problems: Vec::new(),
    };
    let stack = checker.check(raw);
    if checker.problems.is_empty() {
        Ok(stack)
    } else {
        checker.problems.sort_by_key(|p| p.line);
        Err(fail(checker.problems))
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, span: Range<usize>, message: String) {
        self.problems.push(Problem {
            line: line_of(self.text, span.start),
            message,
        });
    }

    /// Cognito's `[\w\s+=,.@-]+` name pattern with a length limit; `\w` is ASCII, as the
    /// admin API reads it, so a name this accepts is never refused later by the server.
    fn name(&mut self, what: &str, value: &Spanned<String>, max: usize) {
        let raw = value.get_ref();
        let ok = !raw.is_empty()
            && raw.chars().count() <= max
            && raw.chars().all(|c| {
                c.is_ascii_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c)
            });
        if !ok {
            self.problem(
                value.span(),
                format!(
                    "{what} {raw:?} is not valid: use 1 to {max} ASCII letters, digits, spaces or + = , . @ - _"
                ),
            );
        }
    }

    /// `[user_pool.pre_token_generation]`: a Lambda ARN (Cognito's `ArnType`, function
    /// ARNs only) and an optional http(s) URL.
    fn pre_token_generation(&mut self, raw: RawPreTokenGeneration) -> PreTokenGeneration {
        let arn = raw.lambda_arn.get_ref();
        let segment = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=/,.@-".contains(c))
        };
        let parts: Vec<&str> = arn.split(':').collect();
        let valid = (7..=8).contains(&parts.len())
            && parts[0] == "arn"
            && parts[2] == "lambda"
            && parts[5] == "function"
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && parts.iter().all(|p| segment(p))
            && (20..=2048).contains(&arn.len());
        if !valid {
            self.problem(
                raw.lambda_arn.span(),
                format!(
                    "user_pool.pre_token_generation.lambda_arn {arn:?} is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)"
                ),
            );
        }
        let local_url = raw.local_url.map(|url| {
            let ok = url::Url::parse(url.get_ref())
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                self.problem(
                    url.span(),
                    format!(
                        "user_pool.pre_token_generation.local_url {:?} is not an http(s) URL",
                        url.get_ref()
                    ),
                );
            }
            url.into_inner()
        });
        PreTokenGeneration {
            lambda_arn: raw.lambda_arn.into_inner(),
            local_url,
        }
    }

    fn check(&mut self, raw: RawStack) -> Stack {
        self.name("user_pool.name", &raw.user_pool.name, 128);
        let domain = raw.user_pool.domain.get_ref();
        if !valid_domain_prefix(domain) {
            self.problem(
                raw.user_pool.domain.span(),
                format!(
                    "user_pool.domain {domain:?} is not a valid domain prefix: use 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen"
                ),
            );
        }

        let pre_token_generation = raw
            .user_pool
            .pre_token_generation
            .map(|hook| self.pre_token_generation(hook));

        let mut defined_scopes = Vec::new();
        let mut resource_servers = Vec::new();
        let mut identifiers: Vec<String> = Vec::new();
        for server in raw.resource_server {
            let identifier = server.identifier.get_ref().clone();
            if identifier.is_empty()
                || identifier.len() > 256
                || !identifier.bytes().all(scope_byte)
            {
                self.problem(
                    server.identifier.span(),
                    format!(
                        "resource_server.identifier {identifier:?} is not valid: use 1 to 256 printable ASCII characters other than space, '\"' and '\\'"
                    ),
                );
            }
            if identifiers.contains(&identifier) {
                self.problem(
                    server.identifier.span(),
                    format!("resource server {identifier:?} is defined twice"),
                );
            }
            identifiers.push(identifier.clone());
            self.name("resource_server.name", &server.name, 256);
            if server.scopes.get_ref().is_empty() {
                self.problem(
                    server.scopes.span(),
                    format!("resource server {identifier:?} defines no scopes"),
                );
            }
            let mut scopes: Vec<(String, String)> = Vec::new();
            for scope in server.scopes.into_inner() {
                let name = scope.name.get_ref().clone();
                if name.is_empty()
                    || name.len() > 256
                    || !name.bytes().all(|b| scope_byte(b) && b != b'/')
                {
                    self.problem(
                        scope.name.span(),
                        format!(
                            "scope name {name:?} is not valid: use 1 to 256 printable ASCII characters other than space, '/', '\"' and '\\'"
                        ),
                    );
                }
                if scopes.iter().any(|(n, _)| *n == name) {
                    self.problem(
                        scope.name.span(),
                        format!(
                            "scope {name:?} is defined twice in resource server {identifier:?}"
                        ),
                    );
                }
                let description = scope.description.get_ref().clone();
                if description.is_empty() || description.chars().count() > 256 {
                    self.problem(
                        scope.description.span(),
                        format!("the description of scope {name:?} must be 1 to 256 characters"),
                    );
                }
                defined_scopes.push(format!("{identifier}/{name}"));
                scopes.push((name, description));
            }
            resource_servers.push(ResourceServer {
                identifier,
                name: server.name.into_inner(),
                scopes,
            });
        }

        let client = raw.app_client;
        self.name("app_client.name", &client.name, 128);
        if !*client.generate_secret.get_ref() {
            self.problem(
                client.generate_secret.span(),
                "app_client.generate_secret must be true: the client-credentials grant needs a confidential client (one with a secret)".to_owned(),
            );
        }
        if client.allowed_oauth_flows.get_ref().as_slice() != ["client_credentials"] {
            self.problem(
                client.allowed_oauth_flows.span(),
                format!(
                    "app_client.allowed_oauth_flows must be [\"client_credentials\"] (Cognito allows no other flow beside it), found {:?}",
                    client.allowed_oauth_flows.get_ref()
                ),
            );
        }
        if client.allowed_oauth_scopes.get_ref().is_empty() {
            self.problem(
                client.allowed_oauth_scopes.span(),
                "app_client.allowed_oauth_scopes is empty: a client-credentials client needs at least one scope".to_owned(),
            );
        }
        let mut allowed = Vec::new();
        for scope in client.allowed_oauth_scopes.into_inner() {
            let value = scope.get_ref().clone();
            if !defined_scopes.contains(&value) {
                let hint = if defined_scopes.is_empty() {
                    "no resource server defines any scope".to_owned()
                } else {
                    format!("defined scopes: {}", defined_scopes.join(", "))
                };
                self.problem(
                    scope.span(),
                    format!("scope {value:?} is not defined by any resource server ({hint})"),
                );
            }
            if !allowed.contains(&value) {
                allowed.push(value);
            }
        }
        let unit = *client.token_validity_units.get_ref();
        let validity = *client.access_token_validity.get_ref();
        let in_range = unit
            .duration(validity)
            .is_some_and(|lifetime| ACCESS_TOKEN_LIFETIMES.contains(&lifetime));
        if !in_range {
            self.problem(
                client.access_token_validity.span(),
                format!(
                    "app_client.access_token_validity {validity} {} is out of range: access tokens live from 5 minutes to 1 day",
                    unit.as_str()
                ),
            );
        }
        Stack {
            user_pool: UserPool {
                name: raw.user_pool.name.into_inner(),
                domain: raw.user_pool.domain.into_inner(),
                pre_token_generation,
            },
            resource_servers,
            app_client: AppClient {
                name: client.name.into_inner(),
                allowed_oauth_scopes: allowed,
                access_token_validity: i32::try_from(validity).unwrap_or(i32::MAX),
                token_validity_units: unit,
            },
        }
    }
}

/// RFC 6749 scope characters, which Cognito also uses for resource-server identifiers.
fn scope_byte(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

/// Cognito's prefix-domain pattern `^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$`.
fn valid_domain_prefix(domain: &str) -> bool {
    let bytes = domain.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> StackError {
        parse("stack.toml", text).unwrap_err()
    }

    #[test]
    fn the_reference_stack_is_valid() {
        let stack = parse("stack.toml", REFERENCE).unwrap();
        assert_eq!(stack.user_pool.name, "s2s-demo");
        assert_eq!(stack.resource_servers.len(), 1);
        assert_eq!(
            stack.resource_servers[0].identifier,
            "user-schedule-service"
        );
        assert_eq!(
            stack.app_client.allowed_oauth_scopes,
            ["user-schedule-service/schedule.read"]
        );
        assert_eq!(
            stack.app_client.access_token_lifetime(),
            Some(std::time::Duration::from_secs(3600))
        );
    }

    #[test]
    fn a_pre_token_generation_trigger_is_read_and_checked() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:pretoken";
        let text = REFERENCE.replace(
            "# [user_pool.pre_token_generation]\n# lambda_arn = \"arn:aws:lambda:us-east-1:000000000000:function:pretoken\"\n# local_url",
            "[user_pool.pre_token_generation]\nlambda_arn = \"arn:aws:lambda:us-east-1:000000000000:function:pretoken\"\nlocal_url",
        );
        assert_ne!(text, REFERENCE);
        let stack = parse("stack.toml", &text).unwrap();
        assert_eq!(
            stack.user_pool.pre_token_generation,
            Some(PreTokenGeneration {
                lambda_arn: arn.to_owned(),
                local_url: Some("http://127.0.0.1:9300/".to_owned()),
            })
        );
        assert_eq!(
            parse("stack.toml", REFERENCE)
                .unwrap()
                .user_pool
                .pre_token_generation,
            None
        );
        let bad = text
            .replace(arn, "arn:aws:s3:::bucket")
            .replace("http://127.0.0.1:9300/", "ftp://x");
        let msg = err(&bad).to_string();
        assert!(msg.contains("is not a Lambda function ARN"), "{msg}");
        assert!(msg.contains("is not an http(s) URL"), "{msg}");
    }

    #[test]
    fn unknown_key_names_the_key_and_the_line() {
        let text = REFERENCE.replace(
            "generate_secret = true",
            "generate_secret = true\ncolour = \"blue\"",
        );
        let line = text.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
        let e = err(&text);
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("stack.toml:{line}: ")), "{msg}");
        assert!(msg.contains("unknown field `colour`"), "{msg}");
    }

    #[test]
    fn names_are_ascii_as_the_admin_api_reads_them() {
        let text = REFERENCE.replace("name = \"s2s-demo\"", "name = \"s2s-d\u{e9}mo\"");
        assert_ne!(text, REFERENCE);
        let msg = err(&text).to_string();
        assert!(
            msg.contains("user_pool.name \"s2s-d\u{e9}mo\" is not valid"),
            "{msg}"
        );
        let ok = REFERENCE.replace("name = \"s2s-demo\"", "name = \"s2s demo+1=a,b.c@d_e\"");
        assert!(parse("stack.toml", &ok).is_ok());
    }

    #[test]
    fn missing_field_is_named() {
        let text: String = REFERENCE
            .lines()
            .filter(|l| !l.starts_with("domain"))
            .collect::<Vec<_>>()
            .join("\n");
        let msg = err(&text).to_string();
        assert!(msg.contains("missing field `domain`"), "{msg}");
        assert!(msg.starts_with("stack.toml:"), "{msg}");
    }

    #[test]
    fn undefined_scope_is_refused_with_its_line() {
        let text = REFERENCE.replace(
            "allowed_oauth_scopes = [\"user-schedule-service/schedule.read\"]",
            "allowed_oauth_scopes = [\"user-schedule-service/schedule.delete\"]",
        );
        let line = text
            .lines()
            .position(|l| l.contains("schedule.delete"))
            .unwrap()
            + 1;
        let e = err(&text);
        assert_eq!(e.problems.len(), 1, "{e}");
        assert_eq!(e.problems[0].line, line);
        assert!(
            e.problems[0].message.contains(
                "\"user-schedule-service/schedule.delete\" is not defined by any resource server"
            ),
            "{e}"
        );
    }

    #[test]
    fn validity_out_of_range_is_refused() {
        for (value, units) in [
            ("4", "minutes"),
            ("2", "days"),
            ("0", "minutes"),
            ("90000", "seconds"),
        ] {
            let text = REFERENCE
                .replace(
                    "access_token_validity = 60",
                    &format!("access_token_validity = {value}"),
                )
                .replace(
                    "token_validity_units = \"minutes\"",
                    &format!("token_validity_units = \"{units}\""),
                );
            let msg = err(&text).to_string();
            assert!(msg.contains("out of range"), "{value} {units}: {msg}");
        }
        let text = REFERENCE
            .replace("access_token_validity = 60", "access_token_validity = 1")
            .replace(
                "token_validity_units = \"minutes\"",
                "token_validity_units = \"days\"",
            );
        assert!(parse("stack.toml", &text).is_ok());
    }

    #[test]
    fn every_problem_is_reported_together() {
        let text = REFERENCE
            .replace("generate_secret = true", "generate_secret = false")
            .replace("name = \"s2s-demo\"", "name = \"s2s/demo\"");
        let e = err(&text);
        assert_eq!(e.problems.len(), 2, "{e}");
        assert!(e.problems[0].line < e.problems[1].line);
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let e = err("[user_pool]\nname = \"x\"\ndomain = \n");
        assert_eq!(e.problems[0].line, 3, "{e}");
    }

    #[test]
    fn domain_prefix_pattern() {
        assert!(valid_domain_prefix("s2s-demo-local"));
        assert!(valid_domain_prefix("a"));
        assert!(!valid_domain_prefix("-a"));
        assert!(!valid_domain_prefix("a-"));
        assert!(!valid_domain_prefix("Demo"));
        assert!(!valid_domain_prefix(&"a".repeat(64)));
    }
}
