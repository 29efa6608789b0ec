//! The client service: the articles API, calling user-schedule-service with its own token.
