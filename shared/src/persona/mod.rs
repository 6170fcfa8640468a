//! Persona's API: typed documents, the HTTP client, and its retry policy.

pub mod client;
pub mod error;
pub mod model;
pub mod retry;

pub use client::{ListFilter, PersonaClient};
pub use error::UpstreamError;
