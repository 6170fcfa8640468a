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
// Read by the typed parsing tests and the rig's fake only: the functions need no part of a version's deployments
// (what "latest" means is learnt from creates, docs/design.md), they only must not choke on them (`model.rs`'s
// lenient `included`), so the binaries don't carry this code.
#[cfg(any(test, feature = "testing"))]
pub mod template_version;
pub mod transport;

