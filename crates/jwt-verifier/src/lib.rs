//! Verify Amazon Cognito access tokens: JWKS cache, claim checks, scope policy, axum layer.
