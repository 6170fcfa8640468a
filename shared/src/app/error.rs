//! Why a request got no access, in three layers: the request broke a rule, the decision refused it, or Persona
//! failed us. It becomes an HTTP answer in exactly one place, the lambda layer's `problem.rs`; converting one never logs.

use thiserror::Error;

use crate::domain::ids::InquiryId;
use crate::domain::policy::Refusal;
use crate::domain::status::InquiryStatus;
use crate::persona::error::UpstreamError;

/// A request rule was broken (docs/design.md, "Request rules"): nothing was sent to Persona.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("the inquiry id is missing or malformed")]
    InvalidInquiryId,
    /// The text names the rule, never the caller's input.
    #[error("{0}")]
    InvalidBody(&'static str),
    #[error("the request carries no usable owner claim")]
    Unauthenticated,
    #[error("only POST is allowed")]
    MethodNotAllowed,
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("a body must be sent as application/json")]
    UnsupportedMediaType,
}

/// Not now: a budget of the guard is spent, or another invocation is still at work (docs/design.md, "The guard").
/// Each answer carries `Retry-After`; none of them sent anything to Persona that could be lost.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Throttle {
    /// `PERSONA_CALLS_PER_MINUTE`: the deployment's share of Persona's rate limit is spent for this minute.
    #[error("the deployment's share of Persona calls is spent for this minute")]
    PersonaBudget { retry_after_seconds: u64 },
    /// `REQUESTS_PER_OWNER_PER_MINUTE`.
    #[error("too many requests from this user")]
    OwnerRequests { retry_after_seconds: u64 },
    /// `SESSIONS_PER_INQUIRY_PER_DAY`, for the inquiry the failure names.
    #[error("too many sessions handed out for this inquiry today")]
    InquirySessions { retry_after_seconds: u64 },
    /// Another invocation holds this create's claim past our deadline.
    #[error("another request is creating this inquiry")]
    CreationInProgress,
    /// A list was cut short before it showed an inquiry of the user's: "none" can't be told.
    #[error("the user's inquiries could not all be listed")]
    LookupIncomplete,
}

impl Throttle {
    /// A reservation the deployment's share refused (`Invocation::reserve_*` answer the seconds to its window).
    pub(crate) fn persona_budget(retry_after_seconds: u64) -> Self {
        Self::PersonaBudget { retry_after_seconds }
    }

    pub fn retry_after_seconds(&self) -> u64 {
        match self {
            Self::PersonaBudget { retry_after_seconds }
            | Self::OwnerRequests { retry_after_seconds }
            | Self::InquirySessions { retry_after_seconds } => *retry_after_seconds,
            Self::CreationInProgress | Self::LookupIncomplete => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("{}", refusal_text(.0))]
    Refused(Refusal),
    #[error(transparent)]
    Throttled(#[from] Throttle),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

fn refusal_text(refusal: &Refusal) -> String {
    match refusal {
        Refusal::NotFound => "no such inquiry".into(),
        Refusal::Redacted => "the inquiry was redacted".into(),
        Refusal::NotResumable(status) => format!("the inquiry is {} and can't be resumed", status.as_str()),
        Refusal::TemplateCheckUnavailable => "the inquiry's template version could not be checked".into(),
    }
}

impl Error {
    /// The status of the inquiry a refusal is about, when the refusal is about its status.
    pub fn inquiry_status(&self) -> Option<&InquiryStatus> {
        match self {
            Self::Refused(Refusal::NotResumable(status)) => Some(status),
            _ => None,
        }
    }

    pub fn persona_request_id(&self) -> Option<&str> {
        match self {
            Self::Upstream(upstream) => upstream.request_id(),
            _ => None,
        }
    }
}

/// A failed request and the inquiry it was about, when one is known: the inquiry id travels with the error, so a
/// path that fails can't forget to name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: Error,
    pub inquiry_id: Option<InquiryId>,
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Self { error: error.into(), inquiry_id: None }
    }
}

/// Attaches the inquiry a failing step was about.
pub trait About<T> {
    fn about(self, inquiry_id: &InquiryId) -> Result<T, Failure>;
}

impl<T, E: Into<Error>> About<T> for Result<T, E> {
    fn about(self, inquiry_id: &InquiryId) -> Result<T, Failure> {
        self.map_err(|error| Failure { error: error.into(), inquiry_id: Some(inquiry_id.clone()) })
    }
}
