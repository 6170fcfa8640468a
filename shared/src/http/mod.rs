//! The HTTP contract of design.md: request rules in, JSON or problem+json out.

pub mod problem;
pub mod request;
pub mod response;
