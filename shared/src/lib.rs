//! persona-resume: lets returning users resume the Persona inquiry they started — with a one-time link or a
//! session token — or a fresh one when theirs is pinned to an outdated template version.
//!
//! Functional core ([`policy`], [`idempotency`], [`http::request`]) and thin shell ([`persona`] client,
//! [`secrets`], [`handler`]). Each function's `main.rs` only wires [`AppState`] into [`handler::handle`].

pub mod api_key;
pub mod app;
pub mod config;
pub mod error;
pub mod event;
pub mod handler;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod invocation;
pub mod metrics;
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
    let mut adapter =
        lambda_http::Adapter::from(lambda_http::service_fn(|request| handler::handle(&state, endpoint, request)));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<serde_json::Value>| {
            use lambda_http::Service;
            let call = event::parse_event(event.payload)
                .map(|request| adapter.call(lambda_http::LambdaEvent::new(request, event.context)));
            async move {
                match call {
                    Ok(response) => response.await,
                    // Not an API Gateway event: no HTTP answer is possible, report an invocation error. Only the
                    // position: serde's message may quote the payload, which can hold personal data.
                    Err(error) => Err(lambda_http::Error::from(format!(
                        "not an API Gateway proxy event (line {}, column {})",
                        error.line(),
                        error.column()
                    ))),
                }
            }
        },
    ))
    .await
}
