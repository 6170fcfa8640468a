//! What can go wrong talking to Persona, before it is given a meaning by the service.
//!
//! Converting or displaying an error never logs: the transport logs each attempt, the handler logs the
//! outcome once. `Display` is operator-facing (it may name the operation and what to check) and is never a
//! public answer's text.

use thiserror::Error;

/// What Persona said in a refusal's error body (its first item). Read to recognise one refusal (the session cap,
/// `SESSION_LIMIT_ERROR`); only the title is ever logged — details may quote what was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonaReason {
    pub title: String,
    pub details: String,
}

impl PersonaReason {
    /// The first item of an error body, when it says anything.
    pub fn from_body(body: &[u8]) -> Option<Self> {
        let document = crate::persona::error_document::ErrorDocument::parse(body);
        let item = document.errors.into_iter().next()?;
        let reason = Self { title: item.title.unwrap_or_default(), details: item.details.unwrap_or_default() };
        (!reason.title.is_empty() || !reason.details.is_empty()).then_some(reason)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpstreamError {
    /// A 4xx answer the caller has to interpret (404, 409, 400, 422, ...).
    #[error("Persona answered {status}")]
    Rejected { status: u16, request_id: Option<String>, reason: Option<PersonaReason> },
    /// Persona kept answering 429 and waiting for the window to reset would pass the deadline.
    #[error("Persona rate limit: retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64, request_id: Option<String> },
    /// 401 (after one re-read of the secret) or a 403 that is not a quota.
    #[error("Persona refused the API key ({status}): check that the key is valid for this environment and rotate it if needed")]
    Unauthorized { status: u16, request_id: Option<String> },
    /// 5xx answers or connection failures until the retry budget ran out; or a 403 for a used-up quota.
    #[error("Persona unavailable: {detail}")]
    Unavailable { detail: String, request_id: Option<String> },
    /// A 2xx answer whose body is not the document we expected.
    #[error("unexpected answer from Persona: {detail}")]
    Malformed { detail: String, request_id: Option<String> },
    /// The deployment's share of Persona calls (the guard) had no room for one more call: it was not sent.
    #[error("the deployment's Persona call budget is spent: retry after {retry_after_seconds} s")]
    BudgetExhausted { retry_after_seconds: u64 },
    /// No answer within the invocation's deadline.
    #[error("no answer from Persona before the deadline")]
    Timeout,
}

impl UpstreamError {
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Rejected { request_id, .. }
            | Self::RateLimited { request_id, .. }
            | Self::Unauthorized { request_id, .. }
            | Self::Unavailable { request_id, .. }
            | Self::Malformed { request_id, .. } => request_id.as_deref(),
            Self::Timeout | Self::BudgetExhausted { .. } => None,
        }
    }

    pub fn is_status(&self, wanted: u16) -> bool {
        matches!(self, Self::Rejected { status, .. } if *status == wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_data() {
        let rid = || Some("req_1".to_owned());
        let table = [
            (UpstreamError::Rejected { status: 404, request_id: rid(), reason: None }, Some("req_1")),
            (UpstreamError::RateLimited { retry_after_seconds: 3, request_id: rid() }, Some("req_1")),
            (UpstreamError::Unauthorized { status: 403, request_id: None }, None),
            (UpstreamError::Unavailable { detail: "resume: Persona answered 500".into(), request_id: rid() }, Some("req_1")),
            (UpstreamError::Malformed { detail: "x".into(), request_id: None }, None),
            (UpstreamError::Timeout, None),
        ];
        for (error, request_id) in table {
            assert_eq!(error.request_id(), request_id, "{error:?}");
        }
        let body = br#"{"errors": [{"title": "Session limit reached", "details": "at most 25"}, {"title": "x"}]}"#;
        let reason = PersonaReason::from_body(body).unwrap();
        assert_eq!((reason.title.as_str(), reason.details.as_str()), ("Session limit reached", "at most 25"));
        assert_eq!(PersonaReason::from_body(b"<html>"), None);
        assert_eq!(PersonaReason::from_body(br#"{"errors": [{}]}"#), None);
        // The operator's text (the invocation line's `error_detail`) names the operation.
        let unavailable = UpstreamError::Unavailable { detail: "resume: Persona answered 500".into(), request_id: None };
        assert!(unavailable.to_string().contains("resume"));
    }
}
