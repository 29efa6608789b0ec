//! What a route requires of verified claims: [`ScopePolicy`] (scopes) and [`ClaimPolicy`]
//! (the value of another claim).

use std::fmt;

use oauth_proto::Scopes;
use serde_json::Value;

use crate::{Claims, VerifyError};

/// A value a claim must have: one of a list, compared as JSON (`"acme"` is not `["acme"]`
/// and `1` is not `"1"`). A token without the claim does not satisfy it (fail closed).
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimPolicy {
    claim: String,
    allowed: Vec<Value>,
}

impl ClaimPolicy {
    /// The claim must equal `value`.
    pub fn equals(claim: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::one_of(claim, [value])
    }

    /// The claim must equal one of `values` (none: never satisfied).
    pub fn one_of<I, V>(claim: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        Self {
            claim: claim.into(),
            allowed: values.into_iter().map(Into::into).collect(),
        }
    }

    /// The claim this policy reads.
    pub fn claim(&self) -> &str {
        &self.claim
    }

    /// Checks `claims`, answering [`VerifyError::ClaimMismatch`] on failure.
    pub fn check(&self, claims: &Claims) -> Result<(), VerifyError> {
        let value: Option<Value> = claims.get(&self.claim).ok().flatten();
        match value {
            Some(value) if self.allowed.contains(&value) => Ok(()),
            _ => Err(VerifyError::ClaimMismatch {
                claim: VerifyError::clip(&self.claim),
            }),
        }
    }
}

impl fmt::Debug for ClaimPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimPolicy({:?} one of {:?})", self.claim, self.allowed)
    }
}

/// Which scopes a request needs: all of a list, or any one of it.
///
/// Scopes are Cognito strings `<resource-server-identifier>/<scope-name>`, compared whole
/// (the identifier may itself contain `/`, so no prefix or suffix matching is done).
/// `all_of([])` always passes; `any_of([])` never does (fail closed).
#[derive(Clone, PartialEq, Eq)]
pub struct ScopePolicy {
    mode: Mode,
    scopes: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    AllOf,
    AnyOf,
}

impl ScopePolicy {
    /// Requires every scope of `scopes`.
    pub fn all_of<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            mode: Mode::AllOf,
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }

    /// Requires at least one scope of `scopes`.
    pub fn any_of<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            mode: Mode::AnyOf,
            scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }

    /// A policy that accepts any verified token (`all_of([])`).
    pub fn none() -> Self {
        Self::all_of(Vec::<String>::new())
    }

    /// Whether `granted` satisfies this policy.
    pub fn is_satisfied_by(&self, granted: &Scopes) -> bool {
        let has = |want: &String| granted.iter().any(|g| g.as_str() == want);
        match self.mode {
            Mode::AllOf => self.scopes.iter().all(has),
            Mode::AnyOf => self.scopes.iter().any(has),
        }
    }

    /// The required scopes, space-separated, as in an RFC 6750 `scope` attribute.
    pub fn required(&self) -> String {
        self.scopes.join(" ")
    }

    /// Checks `claims`, answering [`VerifyError::InsufficientScope`] on failure.
    pub fn check(&self, claims: &Claims) -> Result<(), VerifyError> {
        if self.is_satisfied_by(claims.scopes()) {
            Ok(())
        } else {
            Err(VerifyError::InsufficientScope {
                policy: self.to_string(),
                required: self.required(),
            })
        }
    }
}

impl Default for ScopePolicy {
    fn default() -> Self {
        Self::none()
    }
}

impl fmt::Display for ScopePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::AllOf => "all of",
            Mode::AnyOf => "any of",
        };
        write!(f, "{mode} {:?}", self.required())
    }
}

impl fmt::Debug for ScopePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopePolicy({self})")
    }
}
