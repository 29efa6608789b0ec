//! Protocol strings as newtypes, so a client id cannot be passed where a scope is meant
//! and a secret cannot reach a log.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// A value that does not have the form its protocol field requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {problem}")]
pub struct InvalidValue {
    what: &'static str,
    value: String,
    problem: &'static str,
}

impl InvalidValue {
    fn new(what: &'static str, value: &str, problem: &'static str) -> Self {
        // The value is echoed so the caller sees what was wrong; cap it so an attacker
        // cannot make us log megabytes.
        let value = value.chars().take(64).collect();
        Self {
            what,
            value,
            problem,
        }
    }

    /// What kind of value was refused, e.g. `"scope"`.
    pub fn what(&self) -> &'static str {
        self.what
    }
}

/// An app client id (Cognito: 26 lowercase alphanumerics; the model allows `[\w+]+`, 1–128).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// Accepts Cognito's model pattern `[\w+]+`, 1 to 128 characters. `\w` is ASCII
    /// (`[A-Za-z0-9_]`), as in the service's regular expressions and the local server's
    /// admin API: a non-ASCII letter is refused.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() || raw.len() > 128 {
            return Err(InvalidValue::new(
                "client id",
                raw,
                "must be 1 to 128 characters",
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'+')
        {
            return Err(InvalidValue::new(
                "client id",
                raw,
                "may contain only ASCII letters, digits, '_' and '+'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = InvalidValue;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

impl FromStr for ClientId {
    type Err = InvalidValue;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One scope token (RFC 6749 §3.3: `1*( %x21 / %x23-5B / %x5D-7E )`).
///
/// Cognito custom scopes are `<resource-server-identifier>/<scope-name>`; the identifier
/// may itself contain `/` (it may be a URL), so scopes are always compared whole.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

impl Scope {
    /// Accepts one RFC 6749 scope token of at most 512 characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() || raw.len() > 512 {
            return Err(InvalidValue::new(
                "scope",
                raw,
                "must be 1 to 512 characters",
            ));
        }
        if !raw
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        {
            return Err(InvalidValue::new(
                "scope",
                raw,
                "may contain only printable ASCII other than space, '\"' and '\\'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The scope as it appears in a token's `scope` claim.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = InvalidValue;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> Self {
        scope.0
    }
}

impl FromStr for Scope {
    type Err = InvalidValue;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A space-separated list of scopes, as in the `scope` request parameter and claim.
///
/// Order is kept as given (Cognito echoes scopes in its own order; nothing may depend on
/// it) and duplicates are dropped.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Whether `scope` is in the list, compared whole.
    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.contains(scope)
    }

    /// Whether every scope of `other` is in this list.
    pub fn contains_all(&self, other: &Scopes) -> bool {
        other.iter().all(|s| self.contains(s))
    }

    /// The scopes in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Scope> {
        self.0.iter()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many scopes the list holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut out = Vec::new();
        for scope in iter {
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        Self(out)
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromStr for Scopes {
    type Err = InvalidValue;
    /// Splits on spaces; runs of spaces are tolerated, as Cognito does.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        raw.split(' ')
            .filter(|s| !s.is_empty())
            .map(Scope::parse)
            .collect()
    }
}

impl TryFrom<String> for Scopes {
    type Error = InvalidValue;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl From<Scopes> for String {
    fn from(scopes: Scopes) -> Self {
        scopes.to_string()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

/// An app client secret. `Debug` and `Display` never show it; compare with
/// [`ClientSecret::matches`], which takes constant time.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret. No format is imposed here: Cognito generates 52 characters and
    /// accepts custom secrets of 24 to 64 `[\w+]` characters, which the admin API checks.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented secret.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn secret_never_prints() {
        let secret = ClientSecret::new("13ka4h7u28d9oo44tqpq9djqsfvhvu8rk4d2ighvpu0k8fj1c2r9");
        assert!(!format!("{secret:?}").contains("13ka"));
        assert!(!format!("{secret}").contains("13ka"));
        assert!(secret.matches("13ka4h7u28d9oo44tqpq9djqsfvhvu8rk4d2ighvpu0k8fj1c2r9"));
        assert!(!secret.matches("13ka4h7u28d9oo44tqpq9djqsfvhvu8rk4d2ighvpu0k8fj1c2r"));
        assert!(!secret.matches(""));
    }

    #[test]
    fn scopes_compare_whole() {
        let granted: Scopes = "user-schedule-service/schedule.read-all https://api.example.com/a/b"
            .parse()
            .unwrap();
        assert!(!granted.contains(&Scope::parse("user-schedule-service/schedule.read").unwrap()));
        assert!(granted.contains(&Scope::parse("https://api.example.com/a/b").unwrap()));
        assert!(!granted.contains(&Scope::parse("https://api.example.com/a").unwrap()));
    }

    #[test]
    fn scopes_refuse_quotes_and_backslashes() {
        assert!("a\"b".parse::<Scopes>().is_err());
        assert!("a\\b".parse::<Scopes>().is_err());
        assert!("a\tb".parse::<Scopes>().is_err());
        assert_eq!("  a   b a ".parse::<Scopes>().unwrap().to_string(), "a b");
    }

    #[test]
    fn client_id_pattern() {
        assert!(ClientId::parse("26cb2c60kq7nbmas7rbme9b6pp").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("a-b").is_err());
        assert!(ClientId::parse(&"a".repeat(129)).is_err());
        assert!(ClientId::parse(&"a".repeat(128)).is_ok());
        assert!(ClientId::parse("a_b+C9").is_ok());
    }

    #[test]
    fn client_id_word_characters_are_ascii() {
        // Found by fuzz/oauth_proto: `char::is_alphanumeric` let in any Unicode letter or
        // digit ("Ү", "é", "٣"), which Cognito's `[\w+]+` and the admin API refuse.
        for raw in ["\u{4ae}", "client\u{e9}", "\u{663}", "abc\u{ff21}"] {
            let err = ClientId::parse(raw).unwrap_err();
            assert_eq!(err.what(), "client id");
            let json = serde_json::to_string(raw).unwrap();
            assert!(serde_json::from_str::<ClientId>(&json).is_err(), "{raw:?}");
        }
    }

    proptest! {
        #[test]
        fn scopes_round_trip(raw in "[!#-\\[\\]-~]{1,20}( [!#-\\[\\]-~]{1,20}){0,5}") {
            let scopes: Scopes = raw.parse().unwrap();
            let again: Scopes = scopes.to_string().parse().unwrap();
            prop_assert_eq!(scopes, again);
        }

        #[test]
        fn scope_parse_never_panics(raw in ".*") {
            let _ = raw.parse::<Scopes>();
            let _ = ClientId::parse(&raw);
        }
    }
}
