//! persona-resume: lets returning users resume the Persona inquiry they started — with a one-time link or a
//! session token — or a fresh one when theirs is pinned to an outdated template version.
//!
//! The folders are the layers (docs/design.md, "Shape"), bottom first; each imports only from those above it in
//! this list:
//! - [`domain`]: the rules as pure types and functions — ids, the caller, its own view of an inquiry, the template
//!   check, the decision.
//! - [`ops`]: configuration, the API key from Secrets Manager, logs and metrics.
//! - [`guard`]: durable state in one DynamoDB table — budgets, the create ledger, the current-version set.
//! - [`persona`]: Persona's API — typed documents and the domain's facts read from them, the port the service
//!   calls, the client over its transport, the retry policy, idempotency keys.
//! - [`app`]: the resume service (locate the inquiry, decide, act) over the Persona port, its errors, cold-start
//!   state.
//! - [`lambda`]: API Gateway in and out — event parsing, request rules, answers, problems, the handler.
//!
//! Each function's `main.rs` is one line: [`serve`] with its [`Function`]. That, with [`AppState`] and
//! [`StartupError`], is the public surface; the layers are public only with the `testing` feature, for the test
//! rig, the fuzz targets and the benchmark (`persona-resume = { features = ["testing"] }`).

/// A layer: private to the binaries, public to the rig with the `testing` feature.
macro_rules! layer {
    ($($name:ident),*) => {$(
        #[cfg(feature = "testing")]
        pub mod $name;
        #[cfg(not(feature = "testing"))]
        mod $name;
    )*};
}

layer!(app, domain, guard, lambda, ops, persona);

pub use app::service::Function;
pub use app::state::{AppState, StartupError};
pub use lambda::serve;
