//! The HTTP routes, one module per resource.

pub(crate) mod ops;
pub(crate) mod schedule;
