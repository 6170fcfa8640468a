//! Persona's API: typed documents and the facts the domain reads from them, the port the service calls, the client
//! over its transport, the retry policy, idempotency keys and the per-invocation call record.

pub mod calls;
pub mod client;
pub mod error;
pub mod error_document;
mod facts;
pub mod idempotency;
pub mod list_filter;
pub mod model;
pub mod operation;
pub mod port;
pub mod preconnect;
pub mod retry;
pub mod template_version;
pub mod transport;

