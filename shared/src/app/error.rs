//! The one error type of a request. It is turned into an HTTP answer in exactly one place:
//! [`crate::lambda::problem`].

use thiserror::Error;

use crate::persona::model::InquiryStatus;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error("the inquiry id is missing or malformed")]
    InvalidInquiryId,
    #[error("{0}")]
    InvalidBody(String),
    #[error("the request carries no usable owner claim")]
    Unauthenticated,
    /// Persona has no such inquiry, the caller does not own it, or `/me` is not configured: one answer for all.
    #[error("no such inquiry")]
    InquiryNotFound,
    #[error("only POST is allowed")]
    MethodNotAllowed,
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("a body must be sent as application/json")]
    UnsupportedMediaType,
    #[error("the inquiry was redacted")]
    InquiryRedacted,
    #[error("the inquiry is {} and can't be resumed", status.as_str())]
    InquiryNotResumable { status: InquiryStatus },
    #[error("the inquiry's template version could not be checked")]
    TemplateCheckUnavailable,
    #[error("Persona is rate limiting this environment")]
    PersonaRateLimited { retry_after_seconds: u64, persona_request_id: Option<String> },
    #[error("{detail}")]
    PersonaError { detail: String, persona_request_id: Option<String> },
    #[error("Persona rejected the configured API key")]
    PersonaAuthFailed { persona_request_id: Option<String> },
    #[error("Persona did not answer in time")]
    PersonaTimeout,
}
