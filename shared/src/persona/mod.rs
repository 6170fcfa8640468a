//! Persona's API: typed documents, the HTTP client, its retry policy, idempotency keys and the per-invocation
//! call record.

pub mod calls;
pub mod client;
pub mod error;
pub mod error_document;
pub mod idempotency;
pub mod model;
pub mod operation;
pub mod preconnect;
pub mod retry;
pub mod template_version;
mod transport;
pub mod warm_up;

pub use client::{ListFilter, PersonaClient};
pub use error::UpstreamError;
pub use operation::Operation;
