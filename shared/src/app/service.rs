//! The resume service: fetches the inquiry, applies the decision of [`crate::domain::policy`], and performs the calls it
//! asks for. Both functions run this same code; they differ only in the last step (a link or a session).

use crate::app::error::Error;
use crate::domain::ids::InquiryId;
use crate::domain::policy::{self, Decision, Refusal, Step, TemplateCheck};
use crate::ops::config::{AuthMode, Config};
use crate::persona::calls::Invocation;
use crate::persona::idempotency::KeySequence;
use crate::persona::model::{CreateInquiry, CreateInquiryAttributes, Inquiry, InquiryDocument, InquiryStatus};
use crate::persona::Operation;
use crate::persona::{ListFilter, PersonaClient, UpstreamError};

/// Which function is asking: they share everything but the access they hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    IssueLink,
    ResumeSession,
}

impl Function {
    pub fn function_name(self) -> &'static str {
        match self {
            Self::IssueLink => "issue-link",
            Self::ResumeSession => "resume-session",
        }
    }
}

/// Whose inquiry the request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/inquiries/{inquiry_id}/…`
    Inquiry(InquiryId),
    /// `/me/…`: the caller's newest inquiry on the configured template.
    Me,
}

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeRequest {
    pub target: Target,
    /// The owner claim (JWT mode); `None` for trusted IAM callers.
    pub owner: Option<String>,
    /// issue-link only.
    pub link_expires_in_seconds: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Resumed,
    Recreated,
    Created,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resumed => "resumed",
            Self::Recreated => "recreated",
            Self::Created => "created",
        }
    }
}

/// What the caller gets to open the flow. Holds credentials: never logged.
#[derive(Clone, PartialEq, Eq)]
pub enum Access {
    OneTimeLink {
        link: String,
        short: Option<String>,
    },
    /// `None` only for a created inquiry Persona would not resume (it loads without a token).
    Session {
        token: Option<String>,
    },
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OneTimeLink { .. } => f.write_str("OneTimeLink(<redacted>)"),
            Self::Session { token } => write!(f, "Session({})", if token.is_some() { "<redacted>" } else { "none" }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub inquiry_id: InquiryId,
    pub outcome: Outcome,
    pub previous_inquiry_id: Option<InquiryId>,
    pub template_check: TemplateCheck,
    pub access: Access,
    /// With `EXPIRE_SUPERSEDED`: whether the replaced inquiry was expired (reported, never fatal).
    pub superseded_expired: Option<bool>,
}

/// Page size of the successor lookup: the successor, when there is one, is among the user's newest inquiries.
const SUCCESSOR_PAGE_SIZE: u8 = 10;
const RESUMABLE_STATUSES: &str = "created,pending,expired";

pub struct ResumeService<'a> {
    pub config: &'a Config,
    pub persona: &'a PersonaClient,
}

impl ResumeService<'_> {
    pub async fn resolve(
        &self,
        inv: &mut Invocation,
        function: Function,
        request: &ResumeRequest,
    ) -> Result<Resolution, Error> {
        let document = match &request.target {
            Target::Inquiry(inquiry_id) => {
                inv.inquiry_id = Some(inquiry_id.clone());
                let document = self.persona.get_inquiry(inv, inquiry_id).await.map_err(|e| on_inquiry(e, None))?;
                if self.config.auth_mode == AuthMode::Jwt {
                    // Same answer as a missing inquiry: a caller can't probe for other users' ids.
                    let owner = request.owner.as_deref().ok_or(Error::Unauthenticated)?;
                    if !policy::is_owned_by(document.data.reference_id(), owner) {
                        return Err(Error::InquiryNotFound);
                    }
                }
                document
            }
            Target::Me => {
                let owner = match (self.config.auth_mode, request.owner.as_deref()) {
                    (AuthMode::Jwt, Some(owner)) => owner,
                    _ => return Err(Error::Unauthenticated),
                };
                let template_id = self.config.inquiry_template_id.as_deref().ok_or(Error::InquiryNotFound)?;
                let newest = self
                    .persona
                    .list_inquiries(
                        inv,
                        &ListFilter {
                            reference_id: Some(owner),
                            inquiry_template_id: Some(template_id),
                            statuses: None,
                            page_size: 1,
                        },
                    )
                    .await
                    .map_err(|e| on_inquiry(e, None))?
                    .data
                    .into_iter()
                    .next();
                let Some(newest) = newest else {
                    return self.create_first_inquiry(inv, function, request, template_id, owner).await;
                };
                inv.inquiry_id = Some(newest.id.clone());
                let document = self.persona.get_inquiry(inv, &newest.id).await.map_err(|e| on_inquiry(e, None))?;
                if !policy::is_owned_by(document.data.reference_id(), owner) {
                    return Err(Error::InquiryNotFound);
                }
                document
            }
        };
        self.decide_and_act(inv, function, request, document).await
    }

    async fn decide_and_act(
        &self,
        inv: &mut Invocation,
        function: Function,
        request: &ResumeRequest,
        document: InquiryDocument,
    ) -> Result<Resolution, Error> {
        let latest_version = document.latest_published_version_id().map(str::to_owned);
        let inquiry = document.data;
        let template_check = policy::check_template(inquiry.template_version_id(), latest_version.as_deref());
        if template_check == TemplateCheck::Unavailable {
            tracing::warn!(
                inquiry_id = %inquiry.id,
                pinned_version_known = inquiry.template_version_id().is_some(),
                template_returned = document.included.iter().any(|r| r.kind == "inquiry-template"),
                legacy_template = inquiry.is_legacy(),
                policy = ?self.config.template_check_unavailable,
                "template version check unavailable"
            );
        }
        let decision = policy::decide(
            inquiry.status(),
            inquiry.is_redacted(),
            template_check,
            self.config.template_check_unavailable,
        )
        .map_err(|refusal| match refusal {
            Refusal::Redacted => Error::InquiryRedacted,
            Refusal::NotResumable(status) => Error::InquiryNotResumable { status },
            Refusal::TemplateCheckUnavailable => Error::TemplateCheckUnavailable,
        })?;

        match (decision, latest_version) {
            (Decision::Recreate, Some(latest_version)) => {
                self.recreate(inv, function, request, &inquiry, &latest_version).await
            }
            // `Recreate` implies both versions are known; a resume otherwise.
            _ => {
                let access = self.hand_out(inv, function, request, &inquiry.id, inquiry.status(), None).await?;
                Ok(Resolution {
                    inquiry_id: inquiry.id,
                    outcome: Outcome::Resumed,
                    previous_inquiry_id: None,
                    template_check,
                    access,
                    superseded_expired: None,
                })
            }
        }
    }

    /// Replaces an outdated inquiry without ever duplicating it: reuse a successor, else create under the
    /// deterministic `recreate:` key sequence (both functions send the same body, so they converge).
    async fn recreate(
        &self,
        inv: &mut Invocation,
        function: Function,
        request: &ResumeRequest,
        outdated: &Inquiry,
        latest_version: &str,
    ) -> Result<Resolution, Error> {
        let template_id = outdated.inquiry_template_id().ok_or_else(|| Error::PersonaError {
            detail: "the outdated inquiry names no inquiry template".into(),
            persona_request_id: None,
        })?;

        let mut successor = None;
        if let Some(reference_id) = outdated.reference_id() {
            let candidates = self
                .persona
                .list_inquiries(
                    inv,
                    &ListFilter {
                        reference_id: Some(reference_id),
                        inquiry_template_id: Some(template_id),
                        statuses: Some(RESUMABLE_STATUSES),
                        page_size: SUCCESSOR_PAGE_SIZE,
                    },
                )
                .await
                .map_err(|e| on_inquiry(e, None))?;
            successor = policy::pick_successor(&candidates.data, &outdated.id, latest_version)
                .map(|found| (found.id.clone(), found.status().clone()));
        }

        let (new_id, new_status, session_token) = match successor {
            Some((id, status)) => (id, status, None),
            None => {
                let body = CreateInquiry::new(CreateInquiryAttributes {
                    inquiry_template_id: template_id.to_owned(),
                    reference_id: outdated.reference_id().map(str::to_owned),
                    account_id: outdated.account_id().map(str::to_owned),
                    redirect_uri: self.config.redirect_uri.clone(),
                });
                let created = self
                    .persona
                    .create_inquiry(inv, &body, KeySequence::recreate(&outdated.id, latest_version))
                    .await
                    .map_err(on_create)?;
                (created.data.id, created.data.attributes.status, created.meta.session_token)
            }
        };
        let previous = outdated.id.clone();
        inv.inquiry_id = Some(new_id.clone());

        let access = self.hand_out(inv, function, request, &new_id, &new_status, session_token).await?;
        let superseded_expired = if self.config.expire_superseded && outdated.status() != &InquiryStatus::Expired {
            Some(self.expire_superseded(inv, &previous, latest_version).await)
        } else {
            None
        };
        Ok(Resolution {
            inquiry_id: new_id,
            outcome: Outcome::Recreated,
            previous_inquiry_id: Some(previous),
            template_check: TemplateCheck::Outdated,
            access,
            superseded_expired,
        })
    }

    /// `/me` for a user with no inquiry yet: one is created for them, under a key every first call shares.
    async fn create_first_inquiry(
        &self,
        inv: &mut Invocation,
        function: Function,
        request: &ResumeRequest,
        template_id: &str,
        owner: &str,
    ) -> Result<Resolution, Error> {
        let body = CreateInquiry::new(CreateInquiryAttributes {
            inquiry_template_id: template_id.to_owned(),
            reference_id: Some(owner.to_owned()),
            account_id: None,
            redirect_uri: self.config.redirect_uri.clone(),
        });
        let created = self
            .persona
            .create_inquiry(inv, &body, KeySequence::create(template_id, owner))
            .await
            .map_err(on_create)?;
        inv.inquiry_id = Some(created.data.id.clone());
        let status = created.data.attributes.status;
        let access =
            self.hand_out(inv, function, request, &created.data.id, &status, created.meta.session_token).await?;
        Ok(Resolution {
            inquiry_id: created.data.id,
            outcome: Outcome::Created,
            previous_inquiry_id: None,
            template_check: TemplateCheck::Current,
            access,
            superseded_expired: None,
        })
    }

    /// The last step, the only one where the two functions differ.
    async fn hand_out(
        &self,
        inv: &mut Invocation,
        function: Function,
        request: &ResumeRequest,
        inquiry_id: &InquiryId,
        status: &InquiryStatus,
        session_token_from_create: Option<String>,
    ) -> Result<Access, Error> {
        match function {
            Function::ResumeSession => {
                if let Some(token) = session_token_from_create {
                    return Ok(Access::Session { token: Some(token) });
                }
                let keys = KeySequence::per_invocation(Operation::Resume, inquiry_id, &inv.lambda_request_id);
                match self.persona.resume(inv, inquiry_id, keys).await {
                    Ok(resumed) => Ok(Access::Session { token: Some(resumed.meta.session_token) }),
                    // Persona loads a created (not yet started) inquiry without a token.
                    Err(e) if e.is_status(409) && status == &InquiryStatus::Created => {
                        Ok(Access::Session { token: None })
                    }
                    Err(e) => Err(on_inquiry(e, Some(status))),
                }
            }
            Function::IssueLink => {
                let expires = request.link_expires_in_seconds.or(self.config.link_expires_in_seconds);
                let mut link = None;
                for step in policy::link_steps(status) {
                    match step {
                        Step::Resume => {
                            let keys =
                                KeySequence::per_invocation(Operation::Resume, inquiry_id, &inv.lambda_request_id);
                            self.persona
                                .resume(inv, inquiry_id, keys)
                                .await
                                .map_err(|e| on_inquiry(e, Some(status)))?;
                        }
                        Step::GenerateLink => {
                            let keys = KeySequence::per_invocation(
                                Operation::GenerateOneTimeLink,
                                inquiry_id,
                                &inv.lambda_request_id,
                            );
                            let generated = self
                                .persona
                                .generate_one_time_link(inv, inquiry_id, expires, keys)
                                .await
                                .map_err(|e| on_inquiry(e, Some(status)))?;
                            link = Some(Access::OneTimeLink {
                                link: generated.meta.one_time_link,
                                short: generated.meta.one_time_link_short,
                            });
                        }
                    }
                }
                link.ok_or_else(|| Error::PersonaError {
                    detail: "no link was generated".into(),
                    persona_request_id: None,
                })
            }
        }
    }

    /// Expires a replaced inquiry; a failure is logged and reported, never fatal.
    async fn expire_superseded(&self, inv: &mut Invocation, inquiry_id: &InquiryId, latest_version: &str) -> bool {
        match self.persona.expire_inquiry(inv, inquiry_id, KeySequence::expire(inquiry_id, latest_version)).await {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(
                    superseded_inquiry_id = %inquiry_id,
                    error = %error,
                    persona_request_id = error.request_id(),
                    "could not expire the superseded inquiry"
                );
                false
            }
        }
    }
}

/// Gives a failed create its meaning. Any 4xx there is ours to fix, not the caller's: an unknown template (404), or
/// the same idempotency key with another body (409; e.g. `PERSONA_REDIRECT_URI` changed while a key was live).
fn on_create(error: UpstreamError) -> Error {
    match error {
        UpstreamError::Rejected { status, request_id } => {
            tracing::error!(
                status,
                persona_request_id = request_id.as_deref(),
                "Persona refused to create the inquiry"
            );
            Error::PersonaError {
                detail: format!("Persona refused to create the inquiry ({status})"),
                persona_request_id: request_id,
            }
        }
        other => on_inquiry(other, None),
    }
}

/// Gives an upstream failure its meaning for a call about one inquiry.
fn on_inquiry(error: UpstreamError, known_status: Option<&InquiryStatus>) -> Error {
    match error {
        UpstreamError::Rejected { status: 404, .. } => Error::InquiryNotFound,
        // The inquiry changed under us (finished or redacted since we read it).
        UpstreamError::Rejected { status: 409, .. } => Error::InquiryNotResumable {
            status: known_status.cloned().unwrap_or_else(|| InquiryStatus::Other("unknown".into())),
        },
        UpstreamError::Rejected { status, request_id } => {
            // Persona refused a request we built: a bug on our side or an API change. Loud, but not echoed.
            tracing::error!(status, persona_request_id = request_id.as_deref(), "Persona rejected our request");
            Error::PersonaError {
                detail: format!("Persona rejected the request ({status})"),
                persona_request_id: request_id,
            }
        }
        UpstreamError::RateLimited { retry_after_seconds, request_id } => {
            Error::PersonaRateLimited { retry_after_seconds, persona_request_id: request_id }
        }
        UpstreamError::Unauthorized { request_id, .. } => Error::PersonaAuthFailed { persona_request_id: request_id },
        UpstreamError::Unavailable { detail, request_id } | UpstreamError::Malformed { detail, request_id } => {
            Error::PersonaError { detail, persona_request_id: request_id }
        }
        UpstreamError::Timeout => Error::PersonaTimeout,
    }
}
