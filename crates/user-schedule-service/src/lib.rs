//! The resource server: users' schedules behind Cognito scope checks.
