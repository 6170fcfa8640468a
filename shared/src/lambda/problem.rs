//! The one place where [`Error`] becomes an HTTP answer: RFC 9457 `application/problem+json`.

use lambda_http::http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::app::error::Error;

pub const PROBLEM_TYPE_PREFIX: &str = "urn:persona-resume:problem:";

/// Status, code and fixed title of every error (design.md, "Errors").
pub fn classify(error: &Error) -> (StatusCode, &'static str, &'static str) {
    match error {
        Error::InvalidInquiryId => (StatusCode::BAD_REQUEST, "invalid_inquiry_id", "Invalid inquiry id"),
        Error::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body", "Invalid request body"),
        Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", "Unauthenticated"),
        Error::InquiryNotFound => (StatusCode::NOT_FOUND, "inquiry_not_found", "Inquiry not found"),
        Error::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed"),
        Error::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "Request body too large"),
        Error::UnsupportedMediaType => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
        }
        Error::InquiryRedacted => (StatusCode::CONFLICT, "inquiry_redacted", "Inquiry redacted"),
        Error::InquiryNotResumable { .. } => (StatusCode::CONFLICT, "inquiry_not_resumable", "Inquiry not resumable"),
        Error::TemplateCheckUnavailable => {
            (StatusCode::CONFLICT, "template_check_unavailable", "Template version check unavailable")
        }
        Error::PersonaRateLimited { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, "persona_rate_limited", "Persona rate limit reached")
        }
        Error::PersonaError { .. } => (StatusCode::BAD_GATEWAY, "persona_error", "Persona error"),
        Error::PersonaAuthFailed { .. } => {
            (StatusCode::BAD_GATEWAY, "persona_auth_failed", "Persona authentication failed")
        }
        Error::PersonaTimeout => (StatusCode::GATEWAY_TIMEOUT, "persona_timeout", "Persona timeout"),
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

/// Renders an error. `inquiry_id` is the (validated) inquiry the request was about, when known.
pub fn problem_response(error: &Error, inquiry_id: Option<&str>) -> Response<Body> {
    let (status, code, title) = classify(error);
    let detail = match error {
        // Our key problem is the operator's to fix; the caller learns only that the service is misconfigured.
        Error::PersonaAuthFailed { .. } => "The service could not authenticate to Persona.".to_owned(),
        other => other.to_string(),
    };
    let (inquiry_status, persona_request_id) = match error {
        Error::InquiryNotResumable { status } => (Some(status.as_str()), None),
        Error::PersonaRateLimited { persona_request_id, .. }
        | Error::PersonaError { persona_request_id, .. }
        | Error::PersonaAuthFailed { persona_request_id } => (None, persona_request_id.as_deref()),
        _ => (None, None),
    };
    let inquiry_id = match error {
        // The id was not valid: never echo caller input.
        Error::InvalidInquiryId => None,
        _ => inquiry_id,
    };
    let problem = Problem {
        problem_type: format!("{PROBLEM_TYPE_PREFIX}{code}"),
        title,
        status: status.as_u16(),
        detail,
        code,
        inquiry_id,
        inquiry_status,
        persona_request_id,
    };
    let mut builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/problem+json")
        .header(CACHE_CONTROL, "no-store");
    match error {
        Error::MethodNotAllowed => builder = builder.header(ALLOW, "POST"),
        Error::PersonaRateLimited { retry_after_seconds, .. } => {
            builder = builder.header(RETRY_AFTER, retry_after_seconds.to_string())
        }
        _ => {}
    }
    builder
        .body(Body::Text(serde_json::to_string(&problem).expect("plain struct serializes")))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::model::InquiryStatus;

    fn body(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn every_error_has_its_status_and_code() {
        let table: Vec<(Error, u16, &str)> = vec![
            (Error::InvalidInquiryId, 400, "invalid_inquiry_id"),
            (Error::InvalidBody("x".into()), 400, "invalid_body"),
            (Error::Unauthenticated, 401, "unauthenticated"),
            (Error::InquiryNotFound, 404, "inquiry_not_found"),
            (Error::MethodNotAllowed, 405, "method_not_allowed"),
            (Error::BodyTooLarge { limit: 8192 }, 413, "body_too_large"),
            (Error::UnsupportedMediaType, 415, "unsupported_media_type"),
            (Error::InquiryRedacted, 409, "inquiry_redacted"),
            (Error::InquiryNotResumable { status: InquiryStatus::Completed }, 409, "inquiry_not_resumable"),
            (Error::TemplateCheckUnavailable, 409, "template_check_unavailable"),
            (
                Error::PersonaRateLimited { retry_after_seconds: 7, persona_request_id: None },
                429,
                "persona_rate_limited",
            ),
            (Error::PersonaError { detail: "d".into(), persona_request_id: None }, 502, "persona_error"),
            (Error::PersonaAuthFailed { persona_request_id: None }, 502, "persona_auth_failed"),
            (Error::PersonaTimeout, 504, "persona_timeout"),
        ];
        for (error, status, code) in table {
            let response = problem_response(&error, Some("inq_abc"));
            assert_eq!(response.status().as_u16(), status, "{code}");
            assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
            let json = body(&response);
            assert_eq!(json["code"], code);
            assert_eq!(json["status"], status);
            assert_eq!(json["type"], format!("urn:persona-resume:problem:{code}"));
            assert!(json["title"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(json["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }

    #[test]
    fn members_and_headers_where_known() {
        let not_resumable =
            problem_response(&Error::InquiryNotResumable { status: InquiryStatus::Approved }, Some("inq_abc"));
        let json = body(&not_resumable);
        assert_eq!(json["inquiry_status"], "approved");
        assert_eq!(json["inquiry_id"], "inq_abc");

        let limited = problem_response(
            &Error::PersonaRateLimited { retry_after_seconds: 12, persona_request_id: Some("req_1".into()) },
            None,
        );
        assert_eq!(limited.headers()[RETRY_AFTER], "12");
        assert_eq!(body(&limited)["persona_request_id"], "req_1");

        assert_eq!(problem_response(&Error::MethodNotAllowed, None).headers()[ALLOW], "POST");
        assert!(body(&problem_response(&Error::InvalidInquiryId, Some("inq_../x"))).get("inquiry_id").is_none());
        let auth = body(&problem_response(&Error::PersonaAuthFailed { persona_request_id: None }, None));
        assert!(!auth["detail"].as_str().unwrap().contains("key"), "the detail says nothing about the key");
    }
}
