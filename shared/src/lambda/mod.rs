//! API Gateway in and out: event parsing, request rules, answers, problems, and the handler both functions share.

#[cfg(any(test, feature = "testing"))]
pub mod api_event;
pub mod event;
pub mod handler;
pub mod problem;
pub mod request;
pub mod response;
pub(crate) mod summary;

use crate::app::service::Function;
use crate::app::state::AppState;
use crate::ops::telemetry;

/// Shared `main` of both binaries: cold start once, then serve events until Lambda stops the process.
pub async fn serve(function: Function) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = match AppState::from_env().await {
        Ok(state) => state,
        Err(error) => {
            // Names the variable or the secret; never a value.
            tracing::error!(error = %error, "cold start failed");
            return Err(error.into());
        }
    };
    tracing::info!(function = function.function_name(), pre_dial = state.pre_dial().as_str(), "initialised");
    let mut adapter =
        lambda_http::Adapter::from(lambda_http::service_fn(|request| handler::handle(&state, function, request)));
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
