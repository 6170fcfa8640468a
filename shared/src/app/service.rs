//! The resume service, as the product reads: **locate** the inquiry (the path's, or the caller's newest for `/me`)
//! and check who owns it, **decide** (docs/design.md's table, [`crate::domain::policy`]), **act** (resume, link,
//! or find/create a successor). Both functions run this same code; they differ only in the [`Action`].

use crate::app::error::{About, Error, Failure, RequestError};
use crate::domain::ids::InquiryId;
use crate::domain::inquiry::InquiryFacts;
use crate::domain::owner::{Caller, Owner};
use crate::domain::policy::{self, Decision, KnownAccounts, Refusal, Successor, TemplateCheck, TemplateFacts};
use crate::domain::status::InquiryStatus;
use crate::ops::config::Config;
use crate::persona::calls::Invocation;
use crate::persona::error::UpstreamError;
use crate::persona::idempotency::KeySequence;
use crate::persona::list_filter::ListFilter;
use crate::persona::model::{CreateInquiry, CreateInquiryAttributes, Inquiry, InquiryDocument, InquiryList};
use crate::persona::operation::Operation;
use crate::persona::port::PersonaPort;

/// Which Lambda function is running: they share everything but the access they hand out.
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

/// What the caller wants to open the flow with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// issue-link: a one-time link, with the caller's lifetime if given (else `LINK_EXPIRES_IN_SECONDS`, else
    /// the template's).
    Link { expires_in_seconds: Option<u32> },
    /// resume-session: a session token.
    Session,
}

/// A request that passed every request rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeRequest {
    pub target: Target,
    pub caller: Caller,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The caller's inquiry (or the user's newest) was resumed.
    Resumed,
    /// It was outdated: the answer is about its successor.
    Recreated {
        previous: InquiryId,
        /// With `EXPIRE_SUPERSEDED`: whether the replaced inquiry was expired (reported, never fatal).
        superseded_expired: Option<bool>,
    },
    /// `/me` only: the user had no inquiry.
    Created,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Resumed => "resumed",
            Self::Recreated { .. } => "recreated",
            Self::Created => "created",
        }
    }

    pub fn previous_inquiry_id(&self) -> Option<&InquiryId> {
        match self {
            Self::Recreated { previous, .. } => Some(previous),
            _ => None,
        }
    }

    pub fn superseded_expired(&self) -> Option<bool> {
        match self {
            Self::Recreated { superseded_expired, .. } => *superseded_expired,
            _ => None,
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
    pub template_check: TemplateCheck,
    pub access: Access,
}

/// Page size of the lists we read: the owner's newest inquiries are on the first page (checked locally, so a
/// loose filter can only cost us a page, never hand out another user's inquiry).
const LIST_PAGE_SIZE: u8 = 20;

pub struct ResumeService<'a, P> {
    pub config: &'a Config,
    pub persona: &'a P,
}

impl<P: PersonaPort> ResumeService<'_, P> {
    pub async fn resolve(&self, inv: &mut Invocation, request: &ResumeRequest) -> Result<Resolution, Failure> {
        Resolver { config: self.config, persona: self.persona, inv, action: request.action }
            .resolve(&request.target, &request.caller)
            .await
    }
}

/// One request's work: the service's dependencies plus this invocation's calls and action, so the steps below take
/// only what differs between them.
struct Resolver<'a, 'i, P> {
    config: &'a Config,
    persona: &'a P,
    inv: &'i mut Invocation,
    action: Action,
}

/// An inquiry we read with its template and account, and the user it belongs to.
struct Located {
    /// Kept for the diagnosis of an unavailable template check.
    document: InquiryDocument,
    inquiry: InquiryFacts,
    /// The account's reference id, when the inquiry names an account and we could read it.
    account_reference: Option<String>,
    owner: Option<String>,
}

impl<P: PersonaPort> Resolver<'_, '_, P> {
    async fn resolve(&mut self, target: &Target, caller: &Caller) -> Result<Resolution, Failure> {
        match target {
            Target::Inquiry(inquiry_id) => {
                let located = self.read(inquiry_id).await?;
                if let Caller::User(owner) = caller {
                    // Same answer as a missing inquiry: a caller can't probe for other users' ids.
                    if !policy::is_owned_by(located.owner.as_deref(), owner) {
                        return Err(Refusal::NotFound).about(inquiry_id);
                    }
                }
                self.decide_and_act(located).await
            }
            Target::Me => {
                let Caller::User(owner) = caller else {
                    return Err(RequestError::Unauthenticated.into());
                };
                let template_id = self.config.inquiry_template_id.as_deref().ok_or(Refusal::NotFound)?;
                match self.newest_owned(owner, template_id).await? {
                    Some(inquiry_id) => {
                        let located = self.read(&inquiry_id).await?;
                        // The list was checked already; the full document is checked again, and a mismatch names
                        // nothing.
                        if !policy::is_owned_by(located.owner.as_deref(), owner) {
                            return Err(Refusal::NotFound.into());
                        }
                        self.decide_and_act(located).await
                    }
                    None => self.create_first(owner, template_id).await,
                }
            }
        }
    }

    /// The inquiry with its template and account; its owner from its own reference id, else its account's (read
    /// from `included`, or fetched when Persona left the account out).
    async fn read(&mut self, inquiry_id: &InquiryId) -> Result<Located, Failure> {
        let document = self.persona.get_inquiry(self.inv, inquiry_id).await.map_err(about_inquiry).about(inquiry_id)?;
        let inquiry = InquiryFacts::from(&document.data);
        let mut account_reference = document.account_reference_id();
        if inquiry.reference_id.is_none() && account_reference.is_none() {
            if let Some(account_id) = &inquiry.account_id {
                let account = self.persona.get_account(self.inv, account_id).await.map_err(about_inquiry);
                account_reference = account.about(inquiry_id)?.data.reference_id().map(str::to_owned);
            }
        }
        let owner = policy::owner_of(inquiry.reference_id.as_deref(), account_reference.as_deref()).map(str::to_owned);
        Ok(Located { document, inquiry, account_reference, owner })
    }

    /// `/me` (docs/design.md, "Returning users"): the user's newest owned inquiry on the template — first by the
    /// cheap reference-id filter, then through the accounts whose reference id is exactly theirs.
    async fn newest_owned(&mut self, owner: &Owner, template_id: &str) -> Result<Option<InquiryId>, Failure> {
        let by_reference = ListFilter {
            reference_id: Some(owner.as_str()),
            inquiry_template_id: Some(template_id),
            page_size: LIST_PAGE_SIZE,
            ..ListFilter::default()
        };
        let page = self.list(&by_reference).await?;
        let nobody = KnownAccounts::default();
        if let Some(found) = first_owned(&page, &nobody, owner) {
            return Ok(Some(found));
        }

        let mut accounts = KnownAccounts::default();
        let listed = self.persona.list_accounts(self.inv, owner.as_str()).await.map_err(Error::from)?;
        for account in listed.data {
            // Persona splits comma lists and may fold: only an exact reference id makes an account theirs.
            if let (Some(id), true) = (&account.id, account.reference_id() == Some(owner.as_str())) {
                accounts.add(id.clone(), account.reference_id());
            }
        }
        if accounts.is_empty() {
            return Ok(None);
        }
        let by_account = ListFilter {
            account_ids: accounts.ids().collect(),
            inquiry_template_id: Some(template_id),
            page_size: LIST_PAGE_SIZE,
            ..ListFilter::default()
        };
        let page = self.list(&by_account).await?;
        Ok(first_owned(&page, &accounts, owner))
    }

    async fn list(&mut self, filter: &ListFilter<'_>) -> Result<InquiryList, Error> {
        let page = self.persona.list_inquiries(self.inv, filter).await?;
        if page.unreadable_items > 0 {
            tracing::warn!(
                unreadable_items = page.unreadable_items,
                "Persona listed inquiries we could not read; they were skipped"
            );
        }
        Ok(page)
    }

    async fn decide_and_act(&mut self, located: Located) -> Result<Resolution, Failure> {
        let Located { document, inquiry, account_reference, owner } = located;
        let template = TemplateFacts::from(&document);
        let template_check = policy::check_template(&inquiry, &template);
        if template_check == TemplateCheck::Unavailable {
            tracing::warn!(
                inquiry_id = %inquiry.id,
                pinned_version_known = inquiry.pinned_version_id.is_some(),
                template_returned = document.template_returned(),
                legacy_template = document.data.is_legacy(),
                policy = ?self.config.template_check_unavailable,
                "template version check unavailable"
            );
        }
        let decision = policy::decide(&inquiry, &template, self.config.template_check_unavailable).about(&inquiry.id)?;
        match decision {
            Decision::Resume => {
                let access = self.hand_out(&inquiry.id, &inquiry.status, None).await?;
                Ok(Resolution { inquiry_id: inquiry.id, outcome: Outcome::Resumed, template_check, access })
            }
            Decision::Recreate { latest_version } => {
                self.recreate(&inquiry, owner.as_deref(), account_reference.as_deref(), &latest_version).await
            }
        }
    }

    /// Replaces an outdated inquiry without ever duplicating it or re-verifying its user (docs/design.md,
    /// "Recreate"): the owner's newest inquiry on the latest version decides; only when there is none is one
    /// created, under the deterministic `recreate:` key sequence (both functions send the same body, so they
    /// converge).
    async fn recreate(
        &mut self,
        outdated: &InquiryFacts,
        owner: Option<&str>,
        account_reference: Option<&str>,
        latest_version: &str,
    ) -> Result<Resolution, Failure> {
        let template_id = outdated
            .template_id
            .as_deref()
            .ok_or(UpstreamError::Malformed {
                detail: "the outdated inquiry names no inquiry template".into(),
                request_id: None,
            })
            .about(&outdated.id)?;

        let mut successor = None;
        if let Some(owner) = owner {
            let mut accounts = KnownAccounts::default();
            let filter = match &outdated.account_id {
                Some(account_id) => {
                    accounts.add(account_id.clone(), account_reference);
                    ListFilter {
                        account_ids: vec![account_id],
                        inquiry_template_id: Some(template_id),
                        page_size: LIST_PAGE_SIZE,
                        ..ListFilter::default()
                    }
                }
                None => ListFilter {
                    reference_id: Some(owner),
                    inquiry_template_id: Some(template_id),
                    page_size: LIST_PAGE_SIZE,
                    ..ListFilter::default()
                },
            };
            let page = self.list(&filter).await.about(&outdated.id)?;
            let candidates: Vec<InquiryFacts> = page.data.iter().map(InquiryFacts::from).collect();
            let owned = candidates.iter().filter(|candidate| policy::listed_owner(candidate, &accounts) == Some(owner));
            match policy::choose_successor(owned, &outdated.id, template_id, latest_version) {
                Successor::Reuse(found) => successor = Some((found.id.clone(), found.status.clone())),
                Successor::Refuse { inquiry, refusal } => return Err(refusal).about(&inquiry.id),
                Successor::Create => {}
            }
        }

        let (new_id, new_status, session_token) = match successor {
            Some((id, status)) => (id, status, None),
            None => {
                let body = CreateInquiry::new(
                    CreateInquiryAttributes {
                        inquiry_template_id: template_id.to_owned(),
                        reference_id: outdated.reference_id.clone(),
                        account_id: outdated.account_id.as_ref().map(|id| id.to_string()),
                        redirect_uri: self.config.redirect_uri.clone(),
                    },
                    None,
                );
                let keys = KeySequence::recreate(&outdated.id, latest_version, &body);
                let created = self.persona.create_inquiry(self.inv, &body, keys).await.about(&outdated.id)?;
                (created.data.id, created.data.attributes.status, created.meta.session_token)
            }
        };

        let access = self.hand_out(&new_id, &new_status, session_token).await?;
        let superseded_expired = if self.config.expire_superseded && outdated.status != InquiryStatus::Expired {
            Some(self.expire_superseded(&outdated.id).await)
        } else {
            None
        };
        Ok(Resolution {
            inquiry_id: new_id,
            outcome: Outcome::Recreated { previous: outdated.id.clone(), superseded_expired },
            template_check: TemplateCheck::Outdated,
            access,
        })
    }

    /// `/me` for a user with no inquiry yet: one is created for them, tied to their account the way Persona
    /// recommends, under a key every first call shares.
    async fn create_first(&mut self, owner: &Owner, template_id: &str) -> Result<Resolution, Failure> {
        let body = CreateInquiry::new(
            CreateInquiryAttributes {
                inquiry_template_id: template_id.to_owned(),
                reference_id: Some(owner.as_str().to_owned()),
                account_id: None,
                redirect_uri: self.config.redirect_uri.clone(),
            },
            Some(owner.as_str().to_owned()),
        );
        let keys = KeySequence::create(template_id, owner, &body);
        let created = self.persona.create_inquiry(self.inv, &body, keys).await.map_err(Error::from)?;
        let status = created.data.attributes.status;
        let access = self.hand_out(&created.data.id, &status, created.meta.session_token).await?;
        Ok(Resolution {
            inquiry_id: created.data.id,
            outcome: Outcome::Created,
            template_check: TemplateCheck::Current,
            access,
        })
    }

    /// The last step, the only one where the two functions differ.
    async fn hand_out(
        &mut self,
        inquiry_id: &InquiryId,
        status: &InquiryStatus,
        session_token_from_create: Option<String>,
    ) -> Result<Access, Failure> {
        let about_this = |error: UpstreamError| about_status(error, status);
        match self.action {
            Action::Session => {
                if let Some(token) = session_token_from_create {
                    return Ok(Access::Session { token: Some(token) });
                }
                let keys = self.inv.keys_for(Operation::Resume, inquiry_id);
                match self.persona.resume(self.inv, inquiry_id, keys).await {
                    Ok(resumed) => {
                        same_inquiry(&resumed.data, inquiry_id).about(inquiry_id)?;
                        Ok(Access::Session { token: Some(resumed.meta.session_token) })
                    }
                    // Persona loads a created (not yet started) inquiry without a token.
                    Err(e) if e.is_status(409) && status == &InquiryStatus::Created => {
                        Ok(Access::Session { token: None })
                    }
                    Err(e) => Err(about_this(e)).about(inquiry_id),
                }
            }
            Action::Link { expires_in_seconds } => {
                // Persona refuses links for expired inquiries: those are resumed first.
                if status == &InquiryStatus::Expired {
                    let keys = self.inv.keys_for(Operation::Resume, inquiry_id);
                    self.persona.resume(self.inv, inquiry_id, keys).await.map_err(about_this).about(inquiry_id)?;
                }
                let expires = expires_in_seconds.or(self.config.link_expires_in_seconds);
                let keys = self.inv.keys_for(Operation::GenerateOneTimeLink, inquiry_id);
                let generated = self
                    .persona
                    .generate_one_time_link(self.inv, inquiry_id, expires, keys)
                    .await
                    .map_err(about_this)
                    .about(inquiry_id)?;
                same_inquiry(&generated.data, inquiry_id).about(inquiry_id)?;
                Ok(Access::OneTimeLink {
                    link: generated.meta.one_time_link,
                    short: generated.meta.one_time_link_short,
                })
            }
        }
    }

    /// Expires a replaced inquiry; a failure is logged (here, once) and reported, never fatal.
    async fn expire_superseded(&mut self, inquiry_id: &InquiryId) -> bool {
        // Per invocation (docs/design.md, "Idempotency keys"): a replayed answer would report an expiry this
        // invocation did not do.
        let keys = self.inv.keys_for(Operation::Expire, inquiry_id);
        match self.persona.expire_inquiry(self.inv, inquiry_id, keys).await.and_then(|expired| same_inquiry(&expired.data, inquiry_id)) {
            Ok(()) => true,
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

/// A credential is only handed out for the inquiry we asked about: an answer about another inquiry is a broken
/// contract, never something to pass on.
fn same_inquiry(answered: &Inquiry, asked: &InquiryId) -> Result<(), UpstreamError> {
    if &answered.id == asked {
        Ok(())
    } else {
        Err(UpstreamError::Malformed { detail: format!("Persona answered about {} instead", answered.id), request_id: None })
    }
}

/// The newest listed inquiry the caller owns; items that aren't theirs are skipped, never named.
fn first_owned(page: &InquiryList, accounts: &KnownAccounts, owner: &Owner) -> Option<InquiryId> {
    page.data
        .iter()
        .map(InquiryFacts::from)
        .find(|item| policy::is_owned_by(policy::listed_owner(item, accounts), owner))
        .map(|item| item.id)
}

/// An upstream failure of a call about one inquiry: Persona's 404 is ours.
fn about_inquiry(error: UpstreamError) -> Error {
    match error {
        UpstreamError::Rejected { status: 404, .. } => Refusal::NotFound.into(),
        other => other.into(),
    }
}

/// An upstream failure of a call on an inquiry whose status we know: a 409 means it changed under us (finished or
/// redacted since we read it).
fn about_status(error: UpstreamError, known_status: &InquiryStatus) -> Error {
    match error {
        UpstreamError::Rejected { status: 409, .. } => Refusal::NotResumable(known_status.clone()).into(),
        other => about_inquiry(other),
    }
}

#[cfg(test)]
mod tests;
