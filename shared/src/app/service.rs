//! The resume service, as the product reads: **admit** the request (one guard round trip: the caller's and the
//! inquiry's limits, the deployment's share of Persona calls), **locate** the inquiry (the path's, or the caller's
//! newest for `/me`) and check who owns it, **decide** (docs/design.md's table, [`crate::domain::policy`]), **act**
//! (resume, link, or find/create a replacement, exactly once through the guard's ledger). Both functions run this
//! same code; they differ only in the [`Action`].

use std::sync::Arc;

use crate::app::creation::{self, Created, LedgerRead, PendingRecord};
use crate::app::error::{About, Error, Failure, RequestError, Throttle};
use crate::app::guard_session::GuardSession;
use crate::app::lookup::{self, ListedInquiries};
use crate::domain::ids::InquiryId;
use crate::domain::inquiry::InquiryFacts;
use crate::domain::lookup::{self as domain_lookup, Counting, Listed, Newest, Successor as LookupSuccessor};
use crate::domain::owner::{Caller, Owner};
use crate::domain::policy::{self, Decision, KnownAccounts, Refusal, TemplateCheck, TemplateFacts};
use crate::domain::status::InquiryStatus;
use crate::guard::budget::Admission;
use crate::guard::ledger::{Entry, EntryState, LedgerKey};
use crate::guard::Guard;
use crate::ops::config::Config;
use crate::persona::calls::{CallGate, Invocation};
use crate::persona::error::UpstreamError;
use crate::persona::idempotency::KeySequence;
use crate::persona::list_filter::ListFilter;
use crate::persona::model::{CreateInquiry, CreateInquiryAttributes, CreatedDocument, Inquiry};
use crate::persona::operation::Operation;
use crate::persona::port::PersonaPort;
use crate::persona::retry::RetryPolicy;

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

/// The Persona calls a request reserves before its first one (docs/design.md, "Call plans and the cap"): the
/// typical plan of its route. Calls beyond it (an expired inquiry's resume, a replacement, a retry) reserve more
/// before they are sent.
pub fn admitted_calls(target: &Target, action: Action) -> u32 {
    match (target, action) {
        // GET, then resume or link.
        (Target::Inquiry(_), _) => 2,
        // The lists, the GET of the newest and its hand-out.
        (Target::Me, _) => 4,
    }
}

/// A replacement's whole plan: GET, successor list, create, and a link (the create's own session token serves
/// resume-session).
fn replacement_calls(action: Action) -> u32 {
    match action {
        Action::Session => 3,
        Action::Link { .. } => 4,
    }
}

/// A create and the hand-out after it: the create's own session token serves resume-session; a link is one more.
fn create_and_hand_out_calls(action: Action) -> usize {
    match action {
        Action::Session => 1,
        Action::Link { .. } => 2,
    }
}

/// What the template check asks the guard for beside the version set, for an inquiry it may find outdated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Beside {
    /// A successor that is outdated itself: replaced with its entry unread.
    Nothing,
    /// The replacement's ledger entry (its calls are reserved beside the successor list).
    Entry,
    /// `/me`'s newest: the entry, and the create and hand-out reserved.
    EntryAndCalls,
}

/// The template check, and what was asked for beside it.
struct Checked {
    template_check: TemplateCheck,
    /// The replacement's ledger entry; `None`: not read.
    ledger_entry: Option<LedgerRead>,
    /// `/me`'s newest: the create and hand-out reserved (`Ok` when nothing had to be).
    replacement_reserved: Result<(), Throttle>,
}

/// What a hand-out came to.
enum HandOut {
    Access(Access),
    /// Persona refused a session because the inquiry's sessions are used up (`SESSION_LIMIT_ERROR`).
    SessionCapReached,
}

pub struct ResumeService<'a, P> {
    pub config: &'a Config,
    pub persona: &'a P,
    pub guard: &'a Arc<Guard>,
    pub retry: &'a RetryPolicy,
}

impl<P: PersonaPort> ResumeService<'_, P> {
    pub async fn resolve(&self, inv: &mut Invocation, request: &ResumeRequest) -> Result<Resolution, Failure> {
        let guard = GuardSession::new(Arc::clone(self.guard));
        let mut resolver = Resolver {
            config: self.config,
            persona: self.persona,
            guard: &guard,
            retry: self.retry,
            inv,
            action: request.action,
            caller: &request.caller,
            counted_newest: None,
        };
        let result = resolver.resolve(&request.target).await;
        if !guard.is_up() {
            resolver.inv.note_guard_unavailable();
        }
        result
    }
}

/// One request's work: the service's dependencies plus this invocation's calls, action and caller, so the steps
/// below take only what differs between them.
struct Resolver<'a, 'i, P> {
    config: &'a Config,
    persona: &'a P,
    guard: &'a Arc<GuardSession>,
    retry: &'a RetryPolicy,
    inv: &'i mut Invocation,
    action: Action,
    caller: &'a Caller,
    /// `/me`'s newest inquiry and its hand-out's count, taken while it was read (a round trip saved): the hand-out
    /// on that inquiry uses this answer instead of counting again.
    counted_newest: Option<(InquiryId, Result<(), Throttle>)>,
}

/// An inquiry we read with its template and account, and the user it belongs to.
struct Located {
    inquiry: InquiryFacts,
    template: TemplateFacts,
    /// The account's reference id, when the inquiry names an account and we could read it.
    account_reference: Option<String>,
    owner: Option<String>,
    /// For the diagnosis of an unavailable template check.
    template_returned: bool,
    legacy_template: bool,
}

/// How the inquiry that decides was found: it tells whether its hand-out was counted at admission and whether an
/// outdated one needs a successor search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// The caller presented it by id.
    Presented,
    /// `/me`'s lookup found it as the user's newest: its lists held every newer inquiry already.
    Newest,
    /// A successor search or the ledger named it.
    Successor,
}

impl<'a, P: PersonaPort> Resolver<'a, '_, P> {
    async fn resolve(&mut self, target: &Target) -> Result<Resolution, Failure> {
        let owner = match self.caller {
            Caller::User(owner) => Some(owner),
            Caller::Trusted => None,
        };
        if *target == Target::Me {
            if owner.is_none() {
                return Err(RequestError::Unauthenticated.into());
            }
            if self.config.inquiry_template_id.is_none() {
                return Err(Refusal::NotFound.into());
            }
        }
        let presented = match target {
            Target::Inquiry(inquiry_id) => Some(inquiry_id),
            Target::Me => None,
        };
        // One guard round trip before Persona: the owner's request, the presented inquiry's session, the plan.
        let plan = admitted_calls(target, self.action);
        let admission = Admission { owner, inquiry: presented, persona_calls: plan };
        let admitted = self.guard.admit(&admission, self.inv).await;
        match presented {
            Some(inquiry_id) => admitted.about(inquiry_id)?,
            None => admitted?,
        }
        self.inv.gate_calls(Arc::clone(self.guard) as Arc<dyn CallGate>, plan);

        match (target, owner) {
            (Target::Inquiry(inquiry_id), _) => {
                let located = self.read(inquiry_id).await?;
                if let Some(owner) = owner {
                    // Same answer as a missing inquiry: a caller can't probe for other users' ids.
                    if !policy::is_owned_by(located.owner.as_deref(), owner) {
                        return Err(Refusal::NotFound).about(inquiry_id);
                    }
                }
                Box::pin(self.decide_and_act(located, Found::Presented, None)).await
            }
            (Target::Me, Some(owner)) => Box::pin(self.me(owner)).await,
            (Target::Me, None) => Err(RequestError::Unauthenticated.into()),
        }
    }

    /// The inquiry with its template and account; its owner from its own reference id, else its account's (read
    /// from `included`, or fetched when Persona left the account out).
    async fn read(&mut self, inquiry_id: &InquiryId) -> Result<Located, Failure> {
        let document = self.persona.get_inquiry(self.inv, inquiry_id).await.map_err(about_inquiry).about(inquiry_id)?;
        let inquiry = InquiryFacts::from(&document.data);
        if &inquiry.id != inquiry_id {
            return Err(wrong_inquiry(&inquiry.id)).about(inquiry_id);
        }
        let mut account_reference = document.account_reference_id();
        if inquiry.reference_id.is_none() && account_reference.is_none() {
            if let Some(account_id) = &inquiry.account_id {
                let account = self.persona.get_account(self.inv, account_id).await.map_err(about_inquiry);
                account_reference = account.about(inquiry_id)?.data.reference_id().map(str::to_owned);
            }
        }
        let owner = policy::owner_of(inquiry.reference_id.as_deref(), account_reference.as_deref()).map(str::to_owned);
        let template = TemplateFacts::from(&document);
        let (template_returned, legacy_template) = (document.template_returned(), document.data.is_legacy());
        Ok(Located { inquiry, template, account_reference, owner, template_returned, legacy_template })
    }

    /// The template check with what creation gave: the guard's set is read only when the latest published
    /// version alone calls the inquiry outdated, and what a replacement needs first is asked for beside it (the
    /// same round trip, not one more once it is outdated; `beside`). Read and reserved even when the set then says
    /// current: a request beside another costs no time, and a reservation that goes unused is not refunded.
    async fn check(&self, inquiry: &InquiryFacts, template: &mut TemplateFacts, beside: Beside) -> Checked {
        let check = policy::check_template(inquiry, template);
        let Some(template_id) = inquiry.template_id.as_deref().filter(|_| check == TemplateCheck::Outdated) else {
            return Checked { template_check: check, ledger_entry: None, replacement_reserved: Ok(()) };
        };
        let key = LedgerKey::Recreate { outdated: &inquiry.id };
        let entry = async { if beside == Beside::Nothing { None } else { Some(self.guard.ledger_entry(&key).await) } };
        let calls = async {
            if beside == Beside::EntryAndCalls {
                self.reserve_create_and_hand_out().await
            } else {
                Ok(())
            }
        };
        let (versions, ledger_entry, replacement_reserved) =
            tokio::join!(self.guard.current_versions(template_id), entry, calls);
        template.created_recently = versions;
        Checked { template_check: policy::check_template(inquiry, template), ledger_entry, replacement_reserved }
    }

    /// Reserves what a create and its hand-out still need beyond the invocation's reservation — nothing, and no
    /// round trip, when the admitted plan covers them. Beside the read of the create's ledger entry, wherever
    /// that read happens (with `/me`'s lists, the template check, or just before the create).
    async fn reserve_create_and_hand_out(&self) -> Result<(), Throttle> {
        let through = self.inv.calls_made() + create_and_hand_out_calls(self.action);
        let through = u32::try_from(through).unwrap_or(u32::MAX);
        self.inv.reserve_up_to(through).await.map_err(Throttle::persona_budget)
    }

    /// `/me` (docs/design.md, "Returning users"): both sources merged — the user's own reference id, and their
    /// accounts — and the newest counted inquiry by `created-at` decides; none: one is created for them.
    async fn me(&mut self, owner: &Owner) -> Result<Resolution, Failure> {
        let template_id = self.config.inquiry_template_id.as_deref().ok_or(Refusal::NotFound)?;
        let trusted_tag = self.config.trusted_inquiry_tag.as_deref();
        let by_reference_filter = ListFilter {
            reference_id: Some(owner.as_str()),
            inquiry_template_id: Some(template_id),
            ..ListFilter::default()
        };
        let no_accounts = KnownAccounts::default();
        let owned_by_reference = Counting::for_user(owner, &no_accounts, trusted_tag);

        // Round 1: the reference list and the account lookup don't depend on each other; nor does the ledger
        // entry of this user's first inquiry, read beside them (a create then has no read of its own).
        let (mut reference_branch, mut accounts_branch) = (self.inv.branch(), self.inv.branch());
        let first_inquiry = LedgerKey::FirstInquiry { template_id, owner };
        let (by_reference, listed_accounts, first_inquiry_entry) = tokio::join!(
            lookup::read_list(self.persona, &mut reference_branch, &by_reference_filter, |item| {
                owned_by_reference.counts(item)
            }),
            self.persona.list_accounts(&mut accounts_branch, owner.as_str()),
            self.guard.ledger_entry(&first_inquiry),
        );
        self.inv.join(reference_branch);
        self.inv.join(accounts_branch);
        let by_reference = by_reference.map_err(Error::from)?;
        let mut accounts = KnownAccounts::default();
        for account in listed_accounts.map_err(Error::from)?.data {
            // Persona splits comma lists and may fold: only an exact reference id makes an account theirs.
            if let (Some(id), true) = (&account.id, account.reference_id() == Some(owner.as_str())) {
                accounts.add(id.clone(), account.reference_id());
            }
        }

        // Round 2: the inquiries of their accounts.
        let counting = Counting::for_user(owner, &accounts, trusted_tag);
        let by_account = if accounts.is_empty() {
            ListedInquiries { items: Vec::new(), complete: true }
        } else {
            let filter = ListFilter {
                account_ids: accounts.ids().collect(),
                inquiry_template_id: Some(template_id),
                ..ListFilter::default()
            };
            lookup::read_list(self.persona, self.inv, &filter, |item| counting.counts(item)).await.map_err(Error::from)?
        };

        let lists = [
            Listed { items: &by_reference.items, complete: by_reference.complete },
            Listed { items: &by_account.items, complete: by_account.complete },
        ];
        match domain_lookup::newest(&lists, &counting) {
            Newest::Incomplete => Err(Throttle::LookupIncomplete.into()),
            Newest::None => Box::pin(self.create_first(owner, template_id, first_inquiry_entry)).await,
            Newest::Found(newest) => {
                let newest = newest.clone();
                Box::pin(self.hand_out_newest(newest)).await
            }
        }
    }

    /// `/me`'s newest inquiry, read again (its template's latest version and its owner from the full document),
    /// its hand-out counted meanwhile: 4 sequential rounds for a found user.
    async fn hand_out_newest(&mut self, newest: InquiryFacts) -> Result<Resolution, Failure> {
        let (guard, counting, caller) = (self.guard, self.inv.branch(), self.caller_owner());
        // The GET and the hand-out after it; reserved (beyond the admitted plan, when the lists took more calls)
        // while the GET runs, like the count.
        let through_the_hand_out = u32::try_from(self.inv.calls_made() + 2).unwrap_or(u32::MAX);
        let reserving = self.inv.branch();
        let (located, counted, reserved) = tokio::join!(
            self.read(&newest.id),
            guard.count_session(&newest.id, caller, &counting),
            reserving.reserve_up_to(through_the_hand_out),
        );
        reserved.map_err(Throttle::persona_budget).about(&newest.id)?;
        self.counted_newest = Some((newest.id.clone(), counted));
        let located = located?;
        // The list was checked already; the full document is checked again, and a mismatch names nothing.
        if !self.owns(located.owner.as_deref()) {
            return Err(Refusal::NotFound.into());
        }
        self.decide_and_act(located, Found::Newest, None).await
    }

    /// The caller's owner claim; `None` for a trusted backend (IAM).
    fn caller_owner(&self) -> Option<&'a Owner> {
        match self.caller {
            Caller::User(owner) => Some(owner),
            Caller::Trusted => None,
        }
    }

    fn owns(&self, inquiry_owner: Option<&str>) -> bool {
        match self.caller {
            Caller::User(owner) => policy::is_owned_by(inquiry_owner, owner),
            Caller::Trusted => true,
        }
    }

    /// The decision table, then its action. `previous`: the inquiry the caller presented when this one replaces
    /// it (the answer says `recreated`).
    async fn decide_and_act(
        &mut self,
        located: Located,
        found: Found,
        previous: Option<&InquiryId>,
    ) -> Result<Resolution, Failure> {
        let Located { inquiry, mut template, account_reference, owner, template_returned, legacy_template } = located;
        // An inquiry found outdated is replaced through its ledger entry: read beside the check (a successor that is
        // outdated itself goes to `replace` with the entry unread). `/me`'s newest has no successor list to
        // reserve beside: its create and hand-out are reserved beside the check too.
        let beside = match (previous, found) {
            (Some(_), _) => Beside::Nothing,
            (None, Found::Newest) => Beside::EntryAndCalls,
            (None, _) => Beside::Entry,
        };
        let Checked { template_check, ledger_entry, replacement_reserved } =
            self.check(&inquiry, &mut template, beside).await;
        if template_check == TemplateCheck::Unavailable {
            tracing::warn!(
                inquiry_id = %inquiry.id,
                pinned_version_known = inquiry.pinned_version_id.is_some(),
                template_returned,
                legacy_template,
                policy = ?self.config.template_check_unavailable,
                "template version check unavailable"
            );
        }
        let decision = policy::decide(&inquiry, &template, self.config.template_check_unavailable).about(&inquiry.id)?;
        match (decision, previous) {
            (Decision::Resume, _) => {
                let counted = found == Found::Presented;
                match self.hand_out(&inquiry, counted, None).await? {
                    HandOut::Access(access) => {
                        let outcome = match previous {
                            Some(previous) => Outcome::Recreated { previous: previous.clone(), superseded_expired: None },
                            None => Outcome::Resumed,
                        };
                        let template_check = if previous.is_some() { TemplateCheck::Outdated } else { template_check };
                        Ok(Resolution { inquiry_id: inquiry.id, outcome, template_check, access })
                    }
                    // Its sessions are used up: replaced through its ledger entry; the user continues on the new one.
                    HandOut::SessionCapReached => {
                        let previous = previous.cloned().unwrap_or_else(|| inquiry.id.clone());
                        let replaced = Box::pin(self.replace(&inquiry, &previous, None)).await?;
                        Ok(Resolution { template_check, ..replaced })
                    }
                }
            }
            // One hop: a successor that is outdated itself is the inquiry that gets replaced.
            (Decision::Recreate { .. }, Some(previous)) => {
                let previous = previous.clone();
                Box::pin(self.replace(&inquiry, &previous, None)).await
            }
            (Decision::Recreate { .. }, None) if found == Found::Presented => {
                let (owner, account_reference) = (owner.as_deref(), account_reference.as_deref());
                Box::pin(self.recreate(&inquiry, &template, owner, account_reference, ledger_entry)).await
            }
            // `/me`'s lists held every newer inquiry already: no successor search.
            (Decision::Recreate { .. }, None) => {
                let previous = inquiry.id.clone();
                replacement_reserved.about(&inquiry.id)?;
                Box::pin(self.replace(&inquiry, &previous, ledger_entry)).await
            }
        }
    }

    /// An outdated inquiry the caller presented (docs/design.md, "Recreate"): its ledger entry, when it names a
    /// replacement, decides first; else the owner's newest inquiry on the template created after it, whatever its
    /// version; only when there is none is it replaced.
    async fn recreate(
        &mut self,
        outdated: &InquiryFacts,
        template: &TemplateFacts,
        owner: Option<&str>,
        account_reference: Option<&str>,
        prefetched: Option<LedgerRead>,
    ) -> Result<Resolution, Failure> {
        let template_id = template_of(outdated).about(&outdated.id)?;
        // The replacement's calls in one reservation, beside the ledger read; or, when the entry came with the
        // template check, beside the successor list (within the admitted plan: GET and one more) or alone.
        let ledger_key = LedgerKey::Recreate { outdated: &outdated.id };
        let plan = replacement_calls(self.action);
        let (entry, reservation_due) = match prefetched {
            Some(entry) => (entry, true),
            None => {
                let (entry, reserved) =
                    tokio::join!(self.guard.ledger_entry(&ledger_key), self.inv.reserve_up_to(plan));
                reserved
                    .map_err(Throttle::persona_budget)
                    .about(&outdated.id)?;
                (entry, false)
            }
        };
        if let Some(Some(Entry { state: EntryState::Done { inquiry_id, .. }, .. })) = &entry {
            return Box::pin(self.follow(inquiry_id, &outdated.id)).await;
        }

        if let Some(owner) = owner {
            let mut accounts = KnownAccounts::default();
            let filter = match &outdated.account_id {
                Some(account_id) => {
                    accounts.add(account_id.clone(), account_reference);
                    ListFilter {
                        account_ids: vec![account_id],
                        inquiry_template_id: Some(template_id),
                        ..ListFilter::default()
                    }
                }
                None => ListFilter {
                    reference_id: Some(owner),
                    inquiry_template_id: Some(template_id),
                    ..ListFilter::default()
                },
            };
            let counting =
                Counting { owner, accounts: &accounts, trusted_tag: self.config.trusted_inquiry_tag.as_deref() };
            let reserving = self.inv.branch();
            let reservation = async { if reservation_due { reserving.reserve_up_to(plan).await } else { Ok(()) } };
            let list = lookup::read_list(self.persona, self.inv, &filter, |item| counting.counts(item) && item.id != outdated.id);
            let (listed, reserved) = tokio::join!(list, reservation);
            reserved
                .map_err(Throttle::persona_budget)
                .about(&outdated.id)?;
            let listed = listed.about(&outdated.id)?;
            let list = Listed { items: &listed.items, complete: listed.complete };
            match domain_lookup::successor(&list, &counting, outdated) {
                LookupSuccessor::Refuse { inquiry, refusal } => return Err(refusal).about(&inquiry.id),
                LookupSuccessor::Incomplete => return Err(Throttle::LookupIncomplete).about(&outdated.id),
                LookupSuccessor::Found(successor) => {
                    let successor = successor.clone();
                    // Same template: the outdated inquiry's read told its latest published version.
                    let located = Located {
                        owner: Some(owner.to_owned()),
                        account_reference: account_reference.map(str::to_owned),
                        inquiry: successor,
                        template: template.clone(),
                        template_returned: true,
                        legacy_template: false,
                    };
                    // Boxed: deciding may lead back here (an async call cycle needs one indirection).
                    return Box::pin(self.decide_and_act(located, Found::Successor, Some(&outdated.id))).await;
                }
                LookupSuccessor::None => {}
            }
        }
        // No list to reserve beside (no owner): the reservation is a round trip of its own.
        if reservation_due && owner.is_none() {
            self.inv
                .reserve_up_to(plan)
                .await
                .map_err(Throttle::persona_budget)
                .about(&outdated.id)?;
        }
        let previous = outdated.id.clone();
        // The entry read above is the create's first look: no second read (and the create's calls are reserved).
        Box::pin(self.replace(outdated, &previous, Some(entry))).await
    }

    /// The inquiry the ledger names as a replacement decides the same way as a successor (read again: it may have
    /// been approved since), owner still checked.
    async fn follow(&mut self, replacement: &InquiryId, previous: &InquiryId) -> Result<Resolution, Failure> {
        let located = self.read(replacement).await?;
        if !self.owns(located.owner.as_deref()) {
            return Err(Refusal::NotFound).about(previous);
        }
        Box::pin(self.decide_and_act(located, Found::Successor, Some(previous))).await
    }

    /// Creates the replacement of `outdated` through its ledger entry (once, ever) and hands it out. `prefetched`:
    /// the entry read in an earlier round, with the create's calls reserved; `None`: both here, side by side.
    async fn replace(
        &mut self,
        outdated: &InquiryFacts,
        previous: &InquiryId,
        prefetched: Option<LedgerRead>,
    ) -> Result<Resolution, Failure> {
        let template_id = template_of(outdated).about(&outdated.id)?.to_owned();
        let body = CreateInquiry::new(
            CreateInquiryAttributes {
                inquiry_template_id: template_id.clone(),
                reference_id: outdated.reference_id.clone(),
                account_id: outdated.account_id.as_ref().map(|id| id.to_string()),
                redirect_uri: self.config.redirect_uri.clone(),
                tags: self.config.trusted_inquiry_tag.iter().cloned().collect(),
            },
            None,
        );
        let keys = KeySequence::recreate(&outdated.id, &body);
        let key = LedgerKey::Recreate { outdated: &outdated.id };
        let first_look = match prefetched {
            Some(entry) => entry,
            None => {
                let (entry, reserved) = tokio::join!(self.guard.ledger_entry(&key), self.reserve_create_and_hand_out());
                reserved.about(&outdated.id)?;
                entry
            }
        };
        let create = creation::create_once(self.persona, self.guard, self.inv, key, &body, keys, self.retry, first_look);
        let created = Box::pin(create).await.about(&outdated.id)?;
        let (new_id, access) = match created {
            Created::New(created, pending) => self.hand_out_created(&template_id, *created, pending, &key).await?,
            // Another invocation created it: read it again, it may be finished already (never re-verified).
            Created::Recorded(replacement) => {
                let located = self.read(&replacement).await?;
                let inquiry = located.inquiry;
                if inquiry.redacted {
                    return Err(Refusal::Redacted).about(&inquiry.id);
                }
                if !inquiry.status.is_resumable() {
                    return Err(Refusal::NotResumable(inquiry.status.clone())).about(&inquiry.id);
                }
                let access = self.hand_out_new(&inquiry, None).await?;
                (inquiry.id, access)
            }
        };
        let superseded_expired = if self.config.expire_superseded && outdated.status != InquiryStatus::Expired {
            self.expire_superseded(&outdated.id).await
        } else {
            None
        };
        Ok(Resolution {
            inquiry_id: new_id,
            outcome: Outcome::Recreated { previous: previous.clone(), superseded_expired },
            template_check: TemplateCheck::Outdated,
            access,
        })
    }

    /// `/me` for a user with no inquiry yet: one is created for them (once, through the ledger), tied to their
    /// account the way Persona recommends.
    async fn create_first(
        &mut self,
        owner: &Owner,
        template_id: &str,
        first_look: LedgerRead,
    ) -> Result<Resolution, Failure> {
        let body = CreateInquiry::new(
            CreateInquiryAttributes {
                inquiry_template_id: template_id.to_owned(),
                reference_id: Some(owner.as_str().to_owned()),
                account_id: None,
                redirect_uri: self.config.redirect_uri.clone(),
                tags: self.config.trusted_inquiry_tag.iter().cloned().collect(),
            },
            Some(owner.as_str().to_owned()),
        );
        let keys = KeySequence::create(template_id, owner, &body);
        let key = LedgerKey::FirstInquiry { template_id, owner };
        self.reserve_create_and_hand_out().await?;
        let create =
            creation::create_once(self.persona, self.guard, self.inv, key, &body, keys, self.retry, first_look);
        match Box::pin(create).await? {
            Created::New(created, pending) => {
                let (inquiry_id, access) = self.hand_out_created(template_id, *created, pending, &key).await?;
                Ok(Resolution { inquiry_id, outcome: Outcome::Created, template_check: TemplateCheck::Current, access })
            }
            // Created by an earlier request whose inquiry the lists don't show yet: it decides like a found one.
            Created::Recorded(first) => {
                let located = self.read(&first).await?;
                if !self.owns(located.owner.as_deref()) {
                    return Err(Refusal::NotFound.into());
                }
                self.decide_and_act(located, Found::Newest, None).await
            }
        }
    }

    /// After this invocation's create: the ledger's record, the learned version and the hand-out, which don't
    /// wait for each other.
    async fn hand_out_created(
        &mut self,
        template_id: &str,
        created: CreatedDocument,
        pending: Option<PendingRecord>,
        key: &LedgerKey<'_>,
    ) -> Result<(InquiryId, Access), Failure> {
        let new = InquiryFacts::from(&created.data);
        let latest = created.latest_published_version_id();
        let (guard, recording) = (self.guard, self.inv.branch());
        let (access, (), ()) = tokio::join!(
            self.hand_out_new(&new, created.meta.session_token),
            learn_version(guard, template_id, &new, latest.as_deref()),
            creation::record_created(guard, key, pending, &recording),
        );
        Ok((new.id, access?))
    }

    /// The last step, the only one where the two functions differ. `counted`: the hand-out was counted at
    /// admission (the presented inquiry); `/me`'s newest was counted while it was read; otherwise it is counted
    /// here first. A created inquiry (with a session token from its create) is counted alongside the hand-out but
    /// never refused: its session exists already.
    async fn hand_out(
        &mut self,
        inquiry: &InquiryFacts,
        counted: bool,
        session_token_from_create: Option<String>,
    ) -> Result<HandOut, Failure> {
        let inquiry_id = &inquiry.id;
        let status = &inquiry.status;
        let (guard, counting, caller) = (self.guard, self.inv.branch(), self.caller_owner());
        // A created inquiry's session exists already: its count never refuses, so it goes alongside the hand-out.
        let created = session_token_from_create.is_some();
        let counted_already = match self.counted_newest.take() {
            Some((newest, session)) if &newest == inquiry_id => Some(session),
            _ => None,
        };
        if let Some(session) = counted_already {
            session.about(inquiry_id)?;
        } else if !counted && !created {
            guard.count_session(inquiry_id, caller, &counting).await.about(inquiry_id)?;
        }
        let count_alongside = async {
            if !counted && created {
                // Never refused (above): only counted.
                let _ = guard.count_session(inquiry_id, caller, &counting).await;
            }
        };
        let hand_out = async {
            match self.action {
                Action::Session => match session_token_from_create {
                    Some(token) => Ok(Access::Session { token: Some(token) }),
                    None => self.session(inquiry_id, status).await,
                },
                Action::Link { expires_in_seconds } => self.link(inquiry_id, status, expires_in_seconds).await,
            }
        };
        let ((), result) = tokio::join!(count_alongside, hand_out);
        match result {
            Ok(access) => Ok(HandOut::Access(access)),
            Err(error) if self.is_session_cap(&error) => Ok(HandOut::SessionCapReached),
            Err(error) => Err(about_status(error, status)).about(inquiry_id),
        }
    }

    /// A hand-out on an inquiry that can't have used up its sessions (just created, or found as a replacement).
    async fn hand_out_new(
        &mut self,
        inquiry: &InquiryFacts,
        session_token_from_create: Option<String>,
    ) -> Result<Access, Failure> {
        match self.hand_out(inquiry, false, session_token_from_create).await? {
            HandOut::Access(access) => Ok(access),
            HandOut::SessionCapReached => Err(Refusal::NotResumable(inquiry.status.clone())).about(&inquiry.id),
        }
    }

    async fn session(&mut self, inquiry_id: &InquiryId, status: &InquiryStatus) -> Result<Access, UpstreamError> {
        let keys = self.inv.keys_for(Operation::Resume, inquiry_id);
        match self.persona.resume(self.inv, inquiry_id, keys).await {
            Ok(resumed) => {
                same_inquiry(&resumed.data, inquiry_id)?;
                Ok(Access::Session { token: Some(resumed.meta.session_token) })
            }
            // Persona loads a created (not yet started) inquiry without a token.
            Err(e) if e.is_status(409) && status == &InquiryStatus::Created => Ok(Access::Session { token: None }),
            Err(e) => Err(e),
        }
    }

    async fn link(
        &mut self,
        inquiry_id: &InquiryId,
        status: &InquiryStatus,
        expires_in_seconds: Option<u32>,
    ) -> Result<Access, UpstreamError> {
        // Persona refuses links for expired inquiries: those are resumed first, and the link's call (beyond the
        // admitted plan) is reserved while the resume is under way instead of after it.
        if status == &InquiryStatus::Expired {
            let keys = self.inv.keys_for(Operation::Resume, inquiry_id);
            let reserving = self.inv.branch();
            // This call and the link after it.
            let through_the_link = u32::try_from(self.inv.calls_made() + 2).unwrap_or(u32::MAX);
            let (resumed, reserved) = tokio::join!(
                self.persona.resume(self.inv, inquiry_id, keys),
                reserving.reserve_up_to(through_the_link),
            );
            resumed?;
            reserved.map_err(|retry_after_seconds| UpstreamError::BudgetExhausted { retry_after_seconds })?;
        }
        let expires = expires_in_seconds.or(self.config.link_expires_in_seconds);
        let keys = self.inv.keys_for(Operation::GenerateOneTimeLink, inquiry_id);
        let generated = self.persona.generate_one_time_link(self.inv, inquiry_id, expires, keys).await?;
        same_inquiry(&generated.data, inquiry_id)?;
        Ok(Access::OneTimeLink { link: generated.meta.one_time_link, short: generated.meta.one_time_link_short })
    }

    /// Persona's refusal of a session because the inquiry's 25 sessions are used up, as `SESSION_LIMIT_ERROR`
    /// recognises it (Persona documents no text for it). Every refused hand-out logs Persona's error title, so an
    /// operator can set the pattern from what production shows.
    fn is_session_cap(&self, error: &UpstreamError) -> bool {
        let UpstreamError::Rejected { status, reason, .. } = error else { return false };
        let title = reason.as_ref().map_or("", |reason| reason.title.as_str());
        tracing::warn!(status, persona_error_title = title, "Persona refused the hand-out");
        match (&self.config.guard.session_limit_error, reason) {
            (Some(pattern), Some(reason)) => pattern.matches(&reason.title, &reason.details),
            _ => false,
        }
    }

    /// Expires a replaced inquiry when the cap leaves room; a failure is logged (here, once) and reported, never
    /// fatal. The key is this invocation's: a replayed old answer can't claim it was expired now.
    async fn expire_superseded(&mut self, inquiry_id: &InquiryId) -> Option<bool> {
        if self.inv.calls_made() >= self.retry.max_requests_per_invocation {
            return None;
        }
        let keys = self.inv.keys_for(Operation::Expire, inquiry_id);
        let expired = self.persona.expire_inquiry(self.inv, inquiry_id, keys).await;
        match expired.and_then(|expired| same_inquiry(&expired.data, inquiry_id)) {
            Ok(()) => Some(true),
            Err(error) => {
                tracing::warn!(
                    superseded_inquiry_id = %inquiry_id,
                    error = %error,
                    persona_request_id = error.request_id(),
                    "could not expire the superseded inquiry"
                );
                Some(false)
            }
        }
    }
}

/// A create returned `created`'s version: current for this template for the next hour, in every container,
/// while the template publishes nothing newer than `latest_published` (what was latest when it was made). Written
/// alongside the new inquiry's hand-out: nothing in it waits for the other.
async fn learn_version(guard: &GuardSession, template_id: &str, created: &InquiryFacts, latest_published: Option<&str>) {
    if let Some(version) = &created.pinned_version_id {
        let entry = policy::created_version(version, latest_published);
        guard.remember_version(template_id, &entry).await;
    }
}

fn template_of(inquiry: &InquiryFacts) -> Result<&str, UpstreamError> {
    inquiry.template_id.as_deref().ok_or(UpstreamError::Malformed {
        detail: "the outdated inquiry names no inquiry template".into(),
        request_id: None,
    })
}

fn wrong_inquiry(answered: &InquiryId) -> UpstreamError {
    UpstreamError::Malformed { detail: format!("Persona answered about {answered} instead"), request_id: None }
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
