//! First-use costs paid during init instead of by the first caller (bench/optimisations.md, "first-use costs"):
//! one pass of the request path's pure parts over built-in samples — event parsing, `lambda_http`'s request and
//! response conversion (its text-body decoding runs `encoding_rs`, whose first use probes the CPU's features:
//! ~70 µs of `cpuid` under a hypervisor, measured), the request rules, the decision over the sample inquiry, both
//! answer renderers, the EMF document and the JSON log line — so the first invocation doesn't page in and warm
//! that code. Nothing here does I/O but one log line, and nothing is sent to Persona. The Persona client's own
//! path, the answers' models included, is warmed earlier, over loopback, while the secret is read
//! (`persona/warm_up.rs`).

use std::hint::black_box;

use serde_json::json;

use crate::app::error::Failure;
use crate::app::service::{Access, Function, Outcome, Resolution};
use crate::app::state::AppState;
use crate::domain::ids::InquiryId;
use crate::domain::policy::{self, Refusal};
use crate::lambda::event::parse_event;
use crate::lambda::problem::problem_response;
use crate::lambda::request::parse_request;
use crate::lambda::response::success_response;
use crate::ops::metrics::InvocationMetrics;
use crate::persona::model::InquiryDocument;
use crate::persona::warm_up::{SAMPLE_INQUIRY, SAMPLE_INQUIRY_ID};

/// An HTTP API event for `function` on the sample inquiry, with a JWT owner.
fn sample_event(function: Function) -> serde_json::Value {
    let route = match function {
        Function::IssueLink => "one-time-link",
        Function::ResumeSession => "session",
    };
    let path = format!("/inquiries/{SAMPLE_INQUIRY_ID}/{route}");
    json!({
        "version": "2.0", "routeKey": format!("POST /inquiries/{{inquiry_id}}/{route}"), "rawPath": path,
        "rawQueryString": "", "headers": {"content-type": "application/json"},
        "requestContext": {"accountId": "0", "apiId": "warm-up", "domainName": "warm-up", "domainPrefix": "warm-up",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "warm-up"},
            "requestId": "warm-up", "routeKey": "warm-up", "stage": "$default", "time": "", "timeEpoch": 0,
            "authorizer": {"jwt": {"claims": {"sub": "warm-up"}, "scopes": null}}},
        "pathParameters": {"inquiry_id": SAMPLE_INQUIRY_ID}, "body": "{}", "isBase64Encoded": false
    })
}

/// What `function` would answer for the sample inquiry.
fn sample_resolution(function: Function) -> Option<Resolution> {
    let access = match function {
        Function::IssueLink => Access::OneTimeLink { link: "https://warm-up.invalid/".into(), short: None },
        Function::ResumeSession => Access::Session { token: None },
    };
    Some(Resolution {
        inquiry_id: InquiryId::parse(SAMPLE_INQUIRY_ID).ok()?,
        outcome: Outcome::Resumed,
        template_check: policy::TemplateCheck::Current,
        access,
    })
}

pub async fn warm_up(state: &AppState, function: Function) {
    let Some(resolution) = sample_resolution(function) else { return };
    black_box(through_the_adapter(state, function, sample_event(function), &resolution).await);
    if let Ok(document) = serde_json::from_str::<InquiryDocument>(SAMPLE_INQUIRY) {
        let latest = document.latest_published_version_id();
        let inquiry = &document.data;
        let _ = black_box(policy::decide(
            inquiry.status(),
            inquiry.is_redacted(),
            inquiry.template_version_id(),
            latest.as_deref(),
            state.config.template_check_unavailable,
        ));
        black_box(document.account_reference_id());
    }

    black_box(problem_response(&Failure::from(Refusal::NotFound)));
    let metrics = InvocationMetrics {
        function: function.function_name(),
        outcome: "resumed",
        template_check: "current",
        status: 200,
        cold_start: true,
        upstream_calls: 0,
        upstream_errors: 0,
        upstream_ms: 0.0,
        duration_ms: 0.0,
    };
    black_box(metrics.to_emf(0).to_string());
    // The first JSON log line (the subscriber's buffers and formatting code): a useful one for operators anyway.
    tracing::info!(
        function = function.function_name(),
        warmed_calls = state.head_start.warmed_calls.0,
        pre_dial = state.head_start.pre_dial.as_str(),
        "initialised"
    );
}

/// `lambda_http`'s adapter as `serve` builds it, over a handler that answers from the sample instead of asking
/// Persona, and the serialization the runtime then applies to the adapter's answer. (Another instantiation of the
/// adapter's generic code; what the first real answer then finds warm is the code it shares — event conversion,
/// body decoding with `encoding_rs`, response serialization.) The answer's JSON, if every step worked.
async fn through_the_adapter(
    state: &AppState,
    function: Function,
    event: serde_json::Value,
    resolution: &Resolution,
) -> Option<Vec<u8>> {
    use lambda_http::Service;
    let request = parse_event(event).ok()?;
    let mut adapter = lambda_http::Adapter::from(lambda_http::service_fn(|request: lambda_http::Request| {
        let _ = black_box(parse_request(&request, function, state.config.auth_mode, &state.config.owner_claim));
        let answer = success_response(resolution, &state.config.hosted_flow_url);
        async move { Ok::<_, lambda_http::Error>(answer) }
    }));
    let context = lambda_http::Context::default();
    let answer = adapter.call(lambda_http::LambdaEvent::new(request, context)).await.ok()?;
    serde_json::to_vec(&answer).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::model::ResumeDocument;
    use crate::persona::warm_up::sample_with_meta;
    use crate::ops::config::Config;
    use crate::ops::secrets::{ApiKey, KeyStore};
    use crate::persona::retry::RetryPolicy;

    /// Every sample still parses: a model or rule change that broke one would silently stop warming that code.
    #[tokio::test]
    async fn the_samples_take_the_paths_they_warm() {
        let config = Config::from_lookup(|name| (name == "PERSONA_API_KEY").then(|| "persona_sandbox_k".into())).unwrap();
        let state = AppState::with_keys(config, KeyStore::fixed(ApiKey::new("persona_sandbox_k".into())), RetryPolicy::default()).unwrap();
        for function in [Function::IssueLink, Function::ResumeSession] {
            warm_up(&state, function).await;
            let resolution = sample_resolution(function).unwrap();
            let answer = through_the_adapter(&state, function, sample_event(function), &resolution).await.unwrap();
            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            assert_eq!(answer["statusCode"], 200, "{answer}");
            assert!(answer["body"].as_str().unwrap().contains(SAMPLE_INQUIRY_ID), "{answer}");
            let request = parse_event(sample_event(function)).unwrap().into();
            assert!(parse_request(&request, function, state.config.auth_mode, &state.config.owner_claim).is_ok());
        }
        let document: InquiryDocument = serde_json::from_str(SAMPLE_INQUIRY).unwrap();
        assert_eq!(document.latest_published_version_id().as_deref(), Some("itmplv_WarmUp1"));
        assert_eq!(document.account_reference_id().as_deref(), Some("warm-up"));
        let resumed = sample_with_meta(r#"{"session-token": "warm-up"}"#);
        assert!(serde_json::from_str::<ResumeDocument>(&resumed).is_ok());
    }
}
