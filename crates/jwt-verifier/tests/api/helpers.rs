//! Shared fixtures: a test issuer, a manual clock and a verifier wired to both.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_verifier::test_util::TestIssuer;
use jwt_verifier::{Clock, ManualClock};
use jwt_verifier::{Verifier, VerifierBuilder};
use serde_json::Value;

/// A Cognito-shaped app client id.
pub(crate) const CLIENT: &str = "7m2k9q4r1t6v8b3n5c0d2f4g6h";
pub(crate) const READ: &str = "user-schedule-service/schedule.read";
pub(crate) const UPDATE: &str = "user-schedule-service/schedule.update";
/// 2026-01-01T00:00:00Z.
pub(crate) const START: u64 = 1_767_225_600;
pub(crate) const COOLDOWN: Duration = Duration::from_secs(30);
pub(crate) const REFRESH: Duration = Duration::from_secs(600);

pub(crate) struct TestApp {
    pub(crate) issuer: TestIssuer,
    pub(crate) clock: ManualClock,
    pub(crate) verifier: Verifier,
}

impl TestApp {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(|b| b).await
    }

    /// A verifier for one test issuer and [`CLIENT`], customised by `configure`.
    pub(crate) async fn spawn_with(
        configure: impl FnOnce(VerifierBuilder) -> VerifierBuilder,
    ) -> Self {
        let clock = ManualClock::at_unix(START);
        let issuer = TestIssuer::start_with_clock(Arc::new(clock.clone())).await;
        let builder = Verifier::builder()
            .issuer(issuer.issuer())
            .client_id(CLIENT)
            .clock(Arc::new(clock.clone()) as Arc<dyn Clock>)
            .jwks_cooldown(COOLDOWN)
            .jwks_refresh_interval(REFRESH);
        let verifier = configure(builder).build().unwrap();
        Self {
            issuer,
            clock,
            verifier,
        }
    }

    /// A valid token for [`CLIENT`] with the read scope.
    pub(crate) fn token(&self) -> String {
        self.issuer.access_token(CLIENT, [READ])
    }

    /// Valid claims for [`CLIENT`] with the read scope, to edit.
    pub(crate) fn claims(&self) -> Value {
        self.issuer.claims(CLIENT, [READ])
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.unix_seconds()
    }
}

/// Splits a token into its three decoded parts.
pub(crate) fn split(token: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut p = token.split('.');
    let mut next = || URL_SAFE_NO_PAD.decode(p.next().unwrap()).unwrap();
    (next(), next(), next())
}

/// Builds a token from raw parts.
pub(crate) fn join(header: &[u8], payload: &[u8], signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}
