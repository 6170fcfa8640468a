//! The one place where [`Error`] becomes an HTTP answer: RFC 9457 `application/problem+json`.

use lambda_http::http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::app::error::{Error, Failure, RequestError, Throttle};
use crate::domain::policy::Refusal;
use crate::domain::status::InquiryStatus;
use crate::persona::error::UpstreamError;

pub const PROBLEM_TYPE_PREFIX: &str = "urn:persona-resume:problem:";

/// Status, code, fixed title and fixed public detail of an error (docs/design.md, "Errors"). The public detail
/// never names an operation, a serde position or a transport cause: those go to the invocation's log line.
impl Error {
    pub fn status(&self) -> StatusCode {
        self.kind().0
    }

    pub fn code(&self) -> &'static str {
        self.kind().1
    }

    pub fn title(&self) -> &'static str {
        self.kind().2
    }

    /// What the caller reads in `detail`.
    pub fn public_detail(&self) -> String {
        match self {
            // Our own words about the caller's request (never its content).
            Error::Request(RequestError::InvalidBody(rule)) => (*rule).to_owned(),
            Error::Request(other) => other.to_string(),
            Error::Refused(_) | Error::Throttled(_) => self.to_string(),
            Error::Upstream(upstream) => match upstream {
                UpstreamError::RateLimited { .. } => "Persona is rate limiting this environment; retry later.",
                UpstreamError::BudgetExhausted { .. } => {
                    "The deployment's share of Persona calls is spent for this minute; retry later."
                }
                UpstreamError::Unauthorized { .. } => "The service could not authenticate to Persona.",
                UpstreamError::Timeout => "Persona did not answer in time.",
                _ => "Persona returned an error or an answer the service could not use.",
            }
            .to_owned(),
        }
    }

    /// `Retry-After` for a 429 (Persona's reset window, or the guard's next window) or a 503.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Error::Upstream(UpstreamError::RateLimited { retry_after_seconds, .. })
            | Error::Upstream(UpstreamError::BudgetExhausted { retry_after_seconds }) => Some(*retry_after_seconds),
            Error::Throttled(throttle) => Some(throttle.retry_after_seconds()),
            _ => None,
        }
    }

    fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Error::Request(request) => match request {
                RequestError::InvalidInquiryId => (StatusCode::BAD_REQUEST, "invalid_inquiry_id", "Invalid inquiry id"),
                RequestError::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body", "Invalid request body"),
                RequestError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", "Unauthenticated"),
                RequestError::MethodNotAllowed => {
                    (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed")
                }
                RequestError::BodyTooLarge { .. } => {
                    (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "Request body too large")
                }
                RequestError::UnsupportedMediaType => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
                }
            },
            Error::Refused(refusal) => match refusal {
                Refusal::NotFound => (StatusCode::NOT_FOUND, "inquiry_not_found", "Inquiry not found"),
                Refusal::Redacted => (StatusCode::CONFLICT, "inquiry_redacted", "Inquiry redacted"),
                Refusal::NotResumable(_) => (StatusCode::CONFLICT, "inquiry_not_resumable", "Inquiry not resumable"),
                Refusal::TemplateCheckUnavailable => {
                    (StatusCode::CONFLICT, "template_check_unavailable", "Template version check unavailable")
                }
            },
            Error::Throttled(throttle) => match throttle {
                Throttle::PersonaBudget { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "persona_budget_exhausted", "Persona budget exhausted")
                }
                Throttle::OwnerRequests { .. } | Throttle::InquirySessions { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", "Too many requests")
                }
                Throttle::CreationInProgress => {
                    (StatusCode::SERVICE_UNAVAILABLE, "creation_in_progress", "Creation in progress")
                }
                Throttle::LookupIncomplete => (StatusCode::SERVICE_UNAVAILABLE, "lookup_incomplete", "Lookup incomplete"),
            },
            Error::Upstream(upstream) => match upstream {
                // The deployment's share ran out between two calls: nothing more was sent.
                UpstreamError::BudgetExhausted { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "persona_budget_exhausted", "Persona budget exhausted")
                }
                UpstreamError::RateLimited { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "persona_rate_limited", "Persona rate limit reached")
                }
                UpstreamError::Unauthorized { .. } => {
                    (StatusCode::BAD_GATEWAY, "persona_auth_failed", "Persona authentication failed")
                }
                UpstreamError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "persona_timeout", "Persona timeout"),
                _ => (StatusCode::BAD_GATEWAY, "persona_error", "Persona error"),
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    problem_type: String,
    title: &'static str,
    status: u16,
    detail: String,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    inquiry_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inquiry_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    persona_request_id: Option<&'a str>,
}

/// Renders a failure, naming the inquiry it was about when one is known.
pub fn problem_response(failure: &Failure) -> Response<Body> {
    let error = &failure.error;
    let status = error.status();
    let code = error.code();
    let problem = Problem {
        problem_type: format!("{PROBLEM_TYPE_PREFIX}{code}"),
        title: error.title(),
        status: status.as_u16(),
        detail: error.public_detail(),
        code,
        inquiry_id: failure.inquiry_id.as_deref(),
        inquiry_status: error.inquiry_status().map(InquiryStatus::as_str),
        persona_request_id: error.persona_request_id(),
    };
    let mut builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/problem+json")
        .header(CACHE_CONTROL, "no-store");
    if matches!(error, Error::Request(RequestError::MethodNotAllowed)) {
        builder = builder.header(ALLOW, "POST");
    }
    if let Some(seconds) = error.retry_after_seconds() {
        builder = builder.header(RETRY_AFTER, seconds.to_string());
    }
    builder
        .body(Body::Text(serde_json::to_string(&problem).expect("plain struct serializes")))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::InquiryId;

    fn body(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    fn about(error: impl Into<Error>, inquiry_id: Option<&str>) -> Failure {
        Failure { error: error.into(), inquiry_id: inquiry_id.map(|id| InquiryId::parse(id).unwrap()) }
    }

    #[test]
    fn every_error_has_its_status_code_and_a_fixed_public_detail() {
        let malformed = UpstreamError::Malformed {
            detail: "get-inquiry: the document lacks a required member (line 1, column 723)".into(),
            request_id: Some("req_1".into()),
        };
        let table: Vec<(Error, u16, &str)> = vec![
            (RequestError::InvalidInquiryId.into(), 400, "invalid_inquiry_id"),
            (RequestError::InvalidBody("x").into(), 400, "invalid_body"),
            (RequestError::Unauthenticated.into(), 401, "unauthenticated"),
            (Refusal::NotFound.into(), 404, "inquiry_not_found"),
            (RequestError::MethodNotAllowed.into(), 405, "method_not_allowed"),
            (RequestError::BodyTooLarge { limit: 8192 }.into(), 413, "body_too_large"),
            (RequestError::UnsupportedMediaType.into(), 415, "unsupported_media_type"),
            (Refusal::Redacted.into(), 409, "inquiry_redacted"),
            (Refusal::NotResumable(InquiryStatus::Completed).into(), 409, "inquiry_not_resumable"),
            (Refusal::TemplateCheckUnavailable.into(), 409, "template_check_unavailable"),
            (
                UpstreamError::RateLimited { retry_after_seconds: 7, request_id: None }.into(),
                429,
                "persona_rate_limited",
            ),
            (malformed.into(), 502, "persona_error"),
            (UpstreamError::Rejected { status: 422, request_id: None, reason: None }.into(), 502, "persona_error"),
            (
                UpstreamError::Unavailable {
                    detail: "create-inquiry: could not connect: tcp connect error".into(),
                    request_id: None,
                }
                .into(),
                502,
                "persona_error",
            ),
            (UpstreamError::Unauthorized { status: 401, request_id: None }.into(), 502, "persona_auth_failed"),
            (UpstreamError::Timeout.into(), 504, "persona_timeout"),
            (Throttle::PersonaBudget { retry_after_seconds: 3 }.into(), 429, "persona_budget_exhausted"),
            (UpstreamError::BudgetExhausted { retry_after_seconds: 3 }.into(), 429, "persona_budget_exhausted"),
            (Throttle::OwnerRequests { retry_after_seconds: 3 }.into(), 429, "too_many_requests"),
            (Throttle::InquirySessions { retry_after_seconds: 3 }.into(), 429, "too_many_requests"),
            (Throttle::CreationInProgress.into(), 503, "creation_in_progress"),
            (Throttle::LookupIncomplete.into(), 503, "lookup_incomplete"),
        ];
        for (error, status, code) in table {
            let response = problem_response(&about(error.clone(), Some("inq_abc")));
            assert_eq!(response.status().as_u16(), status, "{code}");
            assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
            let json = body(&response);
            assert_eq!(json["code"], code);
            assert_eq!(json["status"], status);
            assert_eq!(json["type"], format!("urn:persona-resume:problem:{code}"));
            assert!(json["title"].as_str().is_some_and(|t| !t.is_empty()));
            let detail = json["detail"].as_str().unwrap();
            assert!(!detail.is_empty());
            for internal in ["get-inquiry", "create-inquiry", "line 1", "column", "tcp", "connect", "422"] {
                assert!(!detail.contains(internal), "{code}: the public detail leaks {internal:?}: {detail}");
            }
        }
    }

    #[test]
    fn members_and_headers_where_known() {
        let not_resumable = problem_response(&about(Refusal::NotResumable(InquiryStatus::Approved), Some("inq_abc")));
        let json = body(&not_resumable);
        assert_eq!(json["inquiry_status"], "approved");
        assert_eq!(json["inquiry_id"], "inq_abc");

        let limited = problem_response(&about(
            UpstreamError::RateLimited { retry_after_seconds: 12, request_id: Some("req_1".into()) },
            None,
        ));
        assert_eq!(limited.headers()[RETRY_AFTER], "12");
        assert_eq!(body(&limited)["persona_request_id"], "req_1");
        assert!(body(&limited).get("inquiry_id").is_none());

        assert_eq!(problem_response(&about(RequestError::MethodNotAllowed, None)).headers()[ALLOW], "POST");
        let retry_after = |error: Error| problem_response(&about(error, None)).headers()[RETRY_AFTER].clone();
        assert_eq!(retry_after(Throttle::OwnerRequests { retry_after_seconds: 41 }.into()), "41");
        assert_eq!(retry_after(UpstreamError::BudgetExhausted { retry_after_seconds: 9 }.into()), "9");
        assert_eq!(retry_after(Throttle::CreationInProgress.into()), "1");
        assert_eq!(retry_after(Throttle::LookupIncomplete.into()), "1");
        let auth = body(&problem_response(&about(UpstreamError::Unauthorized { status: 401, request_id: None }, None)));
        assert!(!auth["detail"].as_str().unwrap().contains("key"), "the detail says nothing about the key");
    }
}
