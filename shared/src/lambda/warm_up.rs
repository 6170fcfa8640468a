//! First-use costs paid during init instead of by the first caller (bench/optimisations.md, "first-use costs"):
//! one pass of the request path's pure parts over built-in samples — event parsing, the request rules, the
//! Persona document models, the decision, both answer renderers, the EMF document and the JSON log line — so the
//! first invocation doesn't page in and warm that code. Nothing here does I/O but one log line, and nothing is
//! sent to Persona.

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
use crate::persona::model::{InquiryDocument, ResumeDocument};

/// A Persona answer in the shape of its own examples (empty identifier objects included).
const SAMPLE_INQUIRY: &str = r#"{"data": {"type": "inquiry", "id": "inq_WarmUp1",
  "attributes": {"status": "pending", "reference-id": "warm-up", "redacted-at": null},
  "relationships": {"account": {"data": {"type": "account", "id": "act_WarmUp1"}}, "template": {"data": {}},
    "reviewer": {"data": {}}, "inquiry-template": {"data": {"type": "inquiry-template", "id": "itmpl_WarmUp1"}},
    "inquiry-template-version": {"data": {"type": "inquiry-template-version", "id": "itmplv_WarmUp1"}}}},
  "included": [{"type": "inquiry-template", "id": "itmpl_WarmUp1", "attributes": {},
    "relationships": {"latest-published-version": {"data": {"type": "inquiry-template-version", "id": "itmplv_WarmUp1"}}}},
    {"type": "account", "id": "act_WarmUp1", "attributes": {"reference-id": "warm-up"}}]}"#;

pub fn warm_up(state: &AppState, function: Function) {
    let route = match function {
        Function::IssueLink => "one-time-link",
        Function::ResumeSession => "session",
    };
    let path = format!("/inquiries/inq_WarmUp1/{route}");
    let event = json!({
        "version": "2.0", "routeKey": format!("POST /inquiries/{{inquiry_id}}/{route}"), "rawPath": path,
        "rawQueryString": "", "headers": {"content-type": "application/json"},
        "requestContext": {"accountId": "0", "apiId": "warm-up", "domainName": "warm-up", "domainPrefix": "warm-up",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "warm-up"},
            "requestId": "warm-up", "routeKey": "warm-up", "stage": "$default", "time": "", "timeEpoch": 0,
            "authorizer": {"jwt": {"claims": {"sub": "warm-up"}, "scopes": null}}},
        "pathParameters": {"inquiry_id": "inq_WarmUp1"}, "body": "{}", "isBase64Encoded": false
    });
    if let Ok(request) = parse_event(event) {
        let request: lambda_http::Request = request.into();
        let _ = black_box(parse_request(&request, function, state.config.auth_mode, &state.config.owner_claim));
    }
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
    let resumed = SAMPLE_INQUIRY.replacen(r#""included""#, r#""meta": {"session-token": "warm-up"}, "ignored""#, 1);
    let _ = black_box(serde_json::from_str::<ResumeDocument>(&resumed));

    let Ok(inquiry_id) = InquiryId::parse("inq_WarmUp1") else { return };
    let access = match function {
        Function::IssueLink => Access::OneTimeLink { link: "https://warm-up.invalid/".into(), short: None },
        Function::ResumeSession => Access::Session { token: None },
    };
    let resolution = Resolution {
        inquiry_id,
        outcome: Outcome::Resumed,
        template_check: policy::TemplateCheck::Current,
        access,
    };
    black_box(success_response(&resolution, &state.config.hosted_flow_url));
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
    tracing::info!(function = function.function_name(), "initialised");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::config::Config;
    use crate::ops::secrets::{ApiKey, KeyStore};
    use crate::persona::retry::RetryPolicy;

    /// Every sample still parses: a model or rule change that broke one would silently stop warming that code.
    #[test]
    fn the_samples_take_the_paths_they_warm() {
        let config = Config::from_lookup(|name| (name == "PERSONA_API_KEY").then(|| "persona_sandbox_k".into())).unwrap();
        let state = AppState::with_keys(config, KeyStore::fixed(ApiKey::new("persona_sandbox_k".into())), RetryPolicy::default()).unwrap();
        for function in [Function::IssueLink, Function::ResumeSession] {
            warm_up(&state, function);
        }
        let document: InquiryDocument = serde_json::from_str(SAMPLE_INQUIRY).unwrap();
        assert_eq!(document.latest_published_version_id().as_deref(), Some("itmplv_WarmUp1"));
        assert_eq!(document.account_reference_id().as_deref(), Some("warm-up"));
        let resumed = SAMPLE_INQUIRY.replacen(r#""included""#, r#""meta": {"session-token": "warm-up"}, "ignored""#, 1);
        assert!(serde_json::from_str::<ResumeDocument>(&resumed).is_ok());
    }
}
