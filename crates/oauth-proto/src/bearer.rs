//! `WWW-Authenticate: Bearer` challenges (RFC 6750 §3): reading them from any
//! `WWW-Authenticate` value and writing them.
//!
//! A header value may hold several challenges of several schemes, comma-separated
//! (RFC 9110 §11.6.1): `Basic realm="x", Bearer error="invalid_token", scope="a b"`.
//! [`parse_challenges`] splits a value into [`Challenge`]s of any scheme;
//! [`BearerChallenge`] reads the RFC 6750 parameters of the `Bearer` ones and renders a
//! challenge with every value quoted and escaped.
//!
//! Reading is lenient where servers are sloppy and never fails: an unquoted value may
//! hold characters a token may not (`scope=svc/a`), and at the first syntax error the
//! rest of the value is ignored, keeping what was read before it.

use std::fmt;

/// An error code of RFC 6750 §3.1, or an extension code a server sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BearerErrorCode {
    /// `invalid_request`: the request is malformed (answered with 400).
    InvalidRequest,
    /// `invalid_token`: the token is expired, revoked, malformed or invalid (401).
    InvalidToken,
    /// `insufficient_scope`: the token lacks a scope the request needs (403).
    InsufficientScope,
    /// Any other code.
    Other(String),
}

impl BearerErrorCode {
    /// The code as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::Other(code) => code,
        }
    }
}

impl From<&str> for BearerErrorCode {
    fn from(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for BearerErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One challenge of a `WWW-Authenticate` value, of any scheme (RFC 9110 §11.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as sent (`Bearer`, `basic`, …); compare it case-insensitively.
    pub scheme: String,
    /// The token68 that follows the scheme instead of parameters, if any.
    pub token68: Option<String>,
    /// The auth-params in order, quotes and escapes removed; names as sent.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Whether the scheme is `scheme` (case-insensitive, RFC 9110 §11.1).
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of parameter `name` (case-insensitive), the first if repeated.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The challenges of one `WWW-Authenticate` value, in order (RFC 9110 §11.6.1).
///
/// Never fails: at the first syntax error the rest of the value is ignored.
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut reader = Reader { rest: value };
    let mut challenges = Vec::new();
    // `None` once the value ends or cannot be read further.
    while let Some(challenge) = reader.challenge() {
        let done = challenge.1;
        challenges.push(challenge.0);
        if done {
            break;
        }
    }
    challenges
}

/// The parameters of an RFC 6750 `Bearer` challenge.
///
/// [`Display`](fmt::Display) renders it as a `WWW-Authenticate` value: `Bearer`, then
/// `realm`, `error`, `error_description`, `error_uri` and `scope` as far as they are set,
/// each quoted with `"` and `\` escaped, e.g.
/// `Bearer realm="api", error="insufficient_scope", scope="svc/read"`. A value holding a
/// control character other than tab renders to a string that is not a valid header
/// value (`http::HeaderValue` refuses it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `realm`: the protection space.
    pub realm: Option<String>,
    /// `error`: why the request was refused; absent when no credentials were sent.
    pub error: Option<BearerErrorCode>,
    /// `error_description`: a human-readable explanation.
    pub error_description: Option<String>,
    /// `error_uri`: a page that explains the error.
    pub error_uri: Option<String>,
    /// `scope`: the space-separated scopes the resource needs.
    pub scope: Option<String>,
}

impl BearerChallenge {
    /// The first `Bearer` challenge of a `WWW-Authenticate` value, if any.
    pub fn parse(value: &str) -> Option<Self> {
        parse_challenges(value)
            .iter()
            .find_map(Self::from_challenge)
    }

    /// Every `Bearer` challenge of the `WWW-Authenticate` values of one response, in order.
    pub fn from_header_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Self> {
        values
            .into_iter()
            .flat_map(parse_challenges)
            .filter_map(|challenge| Self::from_challenge(&challenge))
            .collect()
    }

    /// The RFC 6750 parameters of `challenge` if its scheme is `Bearer`. Other
    /// parameters and a token68 are ignored; a repeated parameter counts once, first.
    pub fn from_challenge(challenge: &Challenge) -> Option<Self> {
        if !challenge.is_scheme("Bearer") {
            return None;
        }
        let param = |name| challenge.param(name).map(str::to_owned);
        Some(Self {
            realm: param("realm"),
            error: challenge.param("error").map(BearerErrorCode::from),
            error_description: param("error_description"),
            error_uri: param("error_uri"),
            scope: param("scope"),
        })
    }

    /// The scopes of the `scope` parameter, in order.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split_ascii_whitespace()
    }
}

impl fmt::Display for BearerChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer")?;
        let params = [
            ("realm", self.realm.as_deref()),
            ("error", self.error.as_ref().map(BearerErrorCode::as_str)),
            ("error_description", self.error_description.as_deref()),
            ("error_uri", self.error_uri.as_deref()),
            ("scope", self.scope.as_deref()),
        ];
        let mut separator = " ";
        for (name, value) in params {
            if let Some(value) = value {
                write!(f, "{separator}{name}=\"")?;
                for c in value.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")?;
                separator = ", ";
            }
        }
        Ok(())
    }
}

/// A cursor over a `WWW-Authenticate` value.
struct Reader<'a> {
    rest: &'a str,
}

impl<'a> Reader<'a> {
    /// The next challenge and whether reading must stop after it (end or syntax error);
    /// `None` when no further challenge starts.
    fn challenge(&mut self) -> Option<(Challenge, bool)> {
        self.skip_list_separators();
        let scheme = self.token()?;
        let mut challenge = Challenge {
            scheme: scheme.to_owned(),
            ..Challenge::default()
        };
        let had_space = self.skip_whitespace();
        if self.at_end() {
            return Some((challenge, true));
        }
        if self.rest.starts_with(',') {
            return Some((challenge, false));
        }
        if !had_space {
            return Some((challenge, true));
        }
        if let Some(token68) = self.token68() {
            challenge.token68 = Some(token68.to_owned());
            return Some((challenge, self.at_end()));
        }
        loop {
            let Some((name, value)) = self.param() else {
                return Some((challenge, true));
            };
            challenge.params.push((name.to_owned(), value));
            self.skip_whitespace();
            if self.at_end() {
                return Some((challenge, true));
            }
            if !self.rest.starts_with(',') {
                return Some((challenge, true));
            }
            self.skip_list_separators();
            if self.at_end() {
                return Some((challenge, true));
            }
            // After a comma comes another parameter (`name =`) or the next challenge.
            if !self.param_follows() {
                return Some((challenge, false));
            }
        }
    }

    fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    /// Skips spaces and tabs; whether there were any.
    fn skip_whitespace(&mut self) -> bool {
        let before = self.rest.len();
        self.rest = self.rest.trim_start_matches([' ', '\t']);
        self.rest.len() != before
    }

    /// Skips whitespace and commas: empty list elements are allowed (RFC 9110 §5.6.1).
    fn skip_list_separators(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t', ',']);
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let end = self.rest.find(|c| !keep(c)).unwrap_or(self.rest.len());
        let (taken, rest) = self.rest.split_at(end);
        self.rest = rest;
        taken
    }

    /// A token (RFC 9110 §5.6.2), or `None` without consuming anything.
    fn token(&mut self) -> Option<&'a str> {
        Some(self.take_while(is_tchar)).filter(|t| !t.is_empty())
    }

    /// A token68 that makes up the rest of the challenge (`abc==` then `,` or the end).
    fn token68(&mut self) -> Option<&'a str> {
        let body = self
            .rest
            .find(|c| !is_token68_char(c))
            .unwrap_or(self.rest.len());
        if body == 0 {
            return None;
        }
        let padded = body
            + self.rest[body..]
                .find(|c| c != '=')
                .unwrap_or(self.rest.len() - body);
        let after = self.rest[padded..].trim_start_matches([' ', '\t']);
        if !(after.is_empty() || after.starts_with(',')) {
            return None;
        }
        let (token68, rest) = self.rest.split_at(padded);
        self.rest = rest;
        Some(token68)
    }

    /// Whether the next list element is a parameter (`name` BWS `=`).
    fn param_follows(&self) -> bool {
        let after_name = self.rest.trim_start_matches(is_tchar);
        after_name.len() != self.rest.len()
            && after_name.trim_start_matches([' ', '\t']).starts_with('=')
    }

    /// `name BWS "=" BWS value`, the value a quoted-string or an unquoted run.
    fn param(&mut self) -> Option<(&'a str, String)> {
        let name = self.take_while(is_tchar);
        if name.is_empty() {
            return None;
        }
        self.skip_whitespace();
        self.rest = self.rest.strip_prefix('=')?;
        self.skip_whitespace();
        let value = if let Some(quoted) = self.rest.strip_prefix('"') {
            self.rest = quoted;
            self.quoted_rest()?
        } else {
            // Lenient: a token may not hold `/`, yet servers send `scope=svc/read`.
            let value = self.take_while(is_unquoted_char);
            if value.is_empty() {
                return None;
            }
            value.to_owned()
        };
        Some((name, value))
    }

    /// The rest of a quoted-string after its opening quote, unescaped (RFC 9110 §5.6.4).
    fn quoted_rest(&mut self) -> Option<String> {
        let mut value = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return Some(value);
                }
                '\\' => {
                    let (_, escaped) = chars.next()?;
                    if !is_quotable(escaped) {
                        return None;
                    }
                    value.push(escaped);
                }
                c if is_quotable(c) => value.push(c),
                _ => return None,
            }
        }
        None
    }
}

/// tchar of RFC 9110 §5.6.2.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The characters of a token68 before its `=` padding (RFC 9110 §11.2).
fn is_token68_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/".contains(c)
}

/// What a quoted-string may hold, directly or escaped: tab, space, visible ASCII and
/// (obs-text) anything beyond ASCII.
fn is_quotable(c: char) -> bool {
    c == '\t' || c == ' ' || c.is_ascii_graphic() || !c.is_ascii()
}

/// The characters of an unquoted value, leniently: anything visible but the separators.
fn is_unquoted_char(c: char) -> bool {
    is_quotable(c) && !matches!(c, ' ' | '\t' | ',' | '"' | '\\')
}

#[cfg(test)]
mod tests;
