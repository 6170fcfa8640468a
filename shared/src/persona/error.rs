//! What can go wrong talking to Persona, before it is given a meaning by the service.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpstreamError {
    /// A 4xx answer the caller has to interpret (404, 409, 400, 422, ...).
    #[error("Persona answered {status}")]
    Rejected { status: u16, request_id: Option<String> },
    /// Persona kept answering 429 and waiting for the window to reset would pass the deadline.
    #[error("Persona rate limit: retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64, request_id: Option<String> },
    /// 401 (after one re-read of the secret) or 403.
    #[error("Persona refused the API key ({status})")]
    Unauthorized { status: u16, request_id: Option<String> },
    /// 5xx answers or connection failures until the retry budget ran out.
    #[error("Persona unavailable: {detail}")]
    Unavailable { detail: String, request_id: Option<String> },
    /// A 2xx answer whose body is not the document we expected.
    #[error("unexpected answer from Persona: {detail}")]
    Malformed { detail: String, request_id: Option<String> },
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
            Self::Timeout => None,
        }
    }

    pub fn is_status(&self, wanted: u16) -> bool {
        matches!(self, Self::Rejected { status, .. } if *status == wanted)
    }
}
