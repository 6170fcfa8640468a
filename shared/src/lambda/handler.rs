//! The Lambda handler both functions share: parse, run the service, render, log one line.

use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

use crate::app::error::Failure;
use crate::app::service::{Function, Resolution, ResumeService};
use crate::app::state::AppState;
use crate::lambda::problem::problem_response;
use crate::lambda::request::parse_request;
use crate::lambda::response::success_response;
use crate::lambda::summary::InvocationSummary;
use crate::persona::calls::Invocation;

/// Handles one API Gateway request. Never fails: every error is an HTTP answer.
pub async fn handle(
    state: &AppState,
    function: Function,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let cold_start = state.take_cold_start();
    let context = request.lambda_context_ref();
    let lambda_request_id = context
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .or_else(|| api_gateway_request_id(&request))
        .unwrap_or_else(|| format!("local-{:016x}", fastrand::u64(..)));
    // Every line of this invocation carries the request id and the function from this span (the JSON formatter
    // writes the current span): never written by hand, and ids only. At error level, so that it is entered
    // whatever level the logs are filtered to.
    let span = tracing::error_span!(
        "invocation",
        lambda_request_id = %lambda_request_id,
        function = function.function_name()
    );
    let mut inv = Invocation::with_lambda_deadline(lambda_request_id, context.map(|c| c.deadline()));

    async {
        let result = run(state, function, &request, &mut inv).await;
        let response = match &result {
            Ok(resolution) => success_response(resolution, &state.config().hosted_flow_url),
            Err(failure) => problem_response(failure),
        };
        InvocationSummary::new(function, &inv, &result, response.status().as_u16(), started, cold_start).emit();
        Ok(response)
    }
    .instrument(span)
    .await
}

async fn run(
    state: &AppState,
    function: Function,
    request: &Request,
    inv: &mut Invocation,
) -> Result<Resolution, Failure> {
    let config = state.config();
    let parsed = parse_request(request, function, config.auth_mode, &config.owner_claim)?;
    let service = ResumeService {
        config,
        persona: state.persona(),
        guard: state.guard(),
        retry: state.retry(),
    };
    service.resolve(inv, &parsed).await
}

fn api_gateway_request_id(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.clone(),
        RequestContext::ApiGatewayV1(context) => context.request_id.clone(),
        _ => None,
    }
    .filter(|id| !id.is_empty())
}
