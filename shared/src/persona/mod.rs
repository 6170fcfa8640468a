//! Persona's API: typed documents, the HTTP client, its retry policy, idempotency keys and the per-invocation
//! call record.

pub mod calls;
pub mod client;
pub mod error;
pub mod idempotency;
pub mod model;
pub mod operation;
pub mod preconnect;
pub mod retry;
mod transport;

pub use client::{ListFilter, PersonaClient};
pub use error::UpstreamError;
pub use operation::Operation;
