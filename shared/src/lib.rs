//! persona-resume: lets returning users resume the Persona inquiry they started — with a one-time link or a
//! session token — or a fresh one when theirs is pinned to an outdated template version.
//!
//! Functional core ([`policy`], [`idempotency`], [`http::request`]) and thin shell ([`persona`] client,
//! [`secrets`], [`handler`]). Each function's `main.rs` only wires [`AppState`] into [`handler::handle`].

pub mod api_key;
pub mod app;
pub mod config;
pub mod error;
pub mod handler;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod invocation;
pub mod persona;
pub mod policy;
pub mod secrets;
pub mod service;
pub mod telemetry;

pub use app::{AppState, StartupError};
pub use error::Error;
pub use service::Endpoint;

/// Shared `main` of both binaries: cold start once, then serve events until Lambda stops the process.
pub async fn serve(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = match AppState::from_env().await {
        Ok(state) => state,
        Err(error) => {
            // Names the variable or the secret; never a value.
            tracing::error!(error = %error, "cold start failed");
            return Err(error.into());
        }
    };
    lambda_http::run(lambda_http::service_fn(|request| handler::handle(&state, endpoint, request))).await
}
