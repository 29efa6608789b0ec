//! A local authorization server compatible with Amazon Cognito for the client-credentials flow.
