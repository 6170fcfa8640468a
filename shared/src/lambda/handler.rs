//! The Lambda handler both functions share: parse, run the service, render, log one line.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::app::error::Error;
use crate::app::service::{Function, Resolution, ResumeService};
use crate::app::state::AppState;
use crate::lambda::problem::{classify, problem_response};
use crate::lambda::request::parse_request;
use crate::lambda::response::success_response;
use crate::ops::metrics::{self, InvocationMetrics};
use crate::persona::calls::Invocation;

static COLD: AtomicBool = AtomicBool::new(true);

/// Handles one API Gateway request. Never fails: every error is an HTTP answer.
pub async fn handle(
    state: &AppState,
    function: Function,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let started = Instant::now();
    let cold_start = COLD.swap(false, Ordering::Relaxed);
    let context = request.lambda_context_ref();
    let lambda_request_id = context
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .or_else(|| api_gateway_request_id(&request))
        .unwrap_or_else(|| format!("local-{:016x}", fastrand::u64(..)));
    let mut inv = Invocation::with_lambda_deadline(lambda_request_id, context.map(|c| c.deadline()));

    let result = run(state, function, &request, &mut inv).await;
    let response = match &result {
        Ok(resolution) => success_response(resolution, &state.config.hosted_flow_url),
        Err(error) => problem_response(error, inv.inquiry_id.as_deref()),
    };
    log_invocation(function, &inv, &result, response.status().as_u16(), started, cold_start);
    Ok(response)
}

async fn run(
    state: &AppState,
    function: Function,
    request: &Request,
    inv: &mut Invocation,
) -> Result<Resolution, Error> {
    let parsed = parse_request(request, function, state.config.auth_mode, &state.config.owner_claim)?;
    ResumeService { config: &state.config, persona: &state.persona }.resolve(inv, function, &parsed).await
}

fn api_gateway_request_id(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.clone(),
        RequestContext::ApiGatewayV1(context) => context.request_id.clone(),
        _ => None,
    }
    .filter(|id| !id.is_empty())
}

/// One structured log line per invocation (outcome, template check, ids, upstream calls and time; no
/// credentials), and one EMF metrics line.
fn log_invocation(
    function: Function,
    inv: &Invocation,
    result: &Result<Resolution, Error>,
    status: u16,
    started: Instant,
    cold_start: bool,
) {
    let persona_request_ids = inv.request_ids().join(",");
    let upstream_ms = inv.upstream_time().as_secs_f64() * 1000.0;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    // For the metrics an error's outcome is its code; the log line says `outcome: "error"` plus the code.
    let (outcome, template_check) = match result {
        Ok(resolution) => (resolution.outcome.as_str(), resolution.template_check.as_str()),
        Err(error) => (classify(error).1, "none"),
    };
    metrics::emit(&InvocationMetrics {
        function: function.function_name(),
        outcome,
        template_check,
        status,
        cold_start,
        upstream_calls: inv.calls.len(),
        upstream_errors: InvocationMetrics::upstream_errors(inv),
        upstream_ms,
        duration_ms,
    });
    match result {
        Ok(resolution) => tracing::info!(
            function = function.function_name(),
            lambda_request_id = %inv.lambda_request_id,
            status,
            outcome,
            template_check,
            inquiry_id = %resolution.inquiry_id,
            previous_inquiry_id = resolution.previous_inquiry_id.as_deref(),
            superseded_expired = resolution.superseded_expired,
            upstream_calls = inv.calls.len(),
            upstream_ms,
            duration_ms,
            persona_request_ids = %persona_request_ids,
            cold_start,
            "invocation"
        ),
        Err(_) => {
            tracing::info!(
                function = function.function_name(),
                lambda_request_id = %inv.lambda_request_id,
                status,
                outcome = "error",
                error_code = outcome,
                inquiry_id = inv.inquiry_id.as_deref(),
                upstream_calls = inv.calls.len(),
                upstream_ms,
                duration_ms,
                persona_request_ids = %persona_request_ids,
                cold_start,
                "invocation"
            )
        }
    }
}
