//! The orchestration over an in-memory Persona (no HTTP): ownership through accounts, loose list filters, and
//! recreates that never re-verify. The HTTP-level behaviour is covered by the rig in `tests/`.

use std::cell::{Cell, RefCell};

use serde_json::{json, Value};

use super::*;
use crate::domain::ids::AccountId;
use crate::guard::{Limits, MemoryStore, Store};
use crate::persona::calls::UpstreamCall;
use crate::ops::config::{AuthMode, Config};
use crate::persona::model::CreateInquiry;
use crate::persona::model::{
    AccountDocument, AccountList, CreatedDocument, ExpiredDocument, InquiryDocument, InquiryList, OneTimeLinkDocument,
    ResumeDocument,
};

const TEMPLATE: &str = "itmpl_1";
const LATEST: &str = "itmplv_2";

#[derive(Clone)]
struct Stored {
    id: &'static str,
    status: &'static str,
    own_reference: Option<&'static str>,
    account: Option<&'static str>,
    version: &'static str,
    created_at: Option<&'static str>,
    tags: Vec<&'static str>,
}

/// Persona in memory, pessimistic like the rig's fake: `lax` makes every list ignore its filters.
struct MemoryPersona {
    inquiries: RefCell<Vec<Stored>>,
    accounts: Vec<(&'static str, &'static str)>,
    lax: bool,
    calls: RefCell<Vec<Operation>>,
    /// Creates answer 500 this many more times (an incident).
    failing_creates: Cell<u32>,
    /// The version creates give (explicit deploy: not necessarily the latest published one).
    created_version: &'static str,
    /// Resume and link refuse with the session-cap error.
    sessions_used_up: bool,
    creates: Cell<u32>,
    /// The inquiry GET leaves the account out of `included` (the read falls back to `GET /accounts/{id}`).
    accounts_left_out: bool,
    /// `GET /accounts/{id}` answers 500.
    account_reads_fail: bool,
}

impl MemoryPersona {
    fn new(inquiries: Vec<Stored>, accounts: Vec<(&'static str, &'static str)>) -> Self {
        Self {
            inquiries: RefCell::new(inquiries),
            accounts,
            lax: false,
            calls: RefCell::default(),
            failing_creates: Cell::new(0),
            created_version: LATEST,
            sessions_used_up: false,
            creates: Cell::new(0),
            accounts_left_out: false,
            account_reads_fail: false,
        }
    }

    fn session_cap_error() -> UpstreamError {
        let reason = crate::persona::error::PersonaReason {
            title: "Unprocessable entity".into(),
            details: "Inquiry has reached the maximum number of inquiry sessions".into(),
        };
        UpstreamError::Rejected { status: 422, request_id: None, reason: Some(reason) }
    }

    /// Every call is counted in the invocation too, as the transport does (the reservations read that count).
    fn record(&self, inv: &mut Invocation, operation: Operation) {
        self.calls.borrow_mut().push(operation);
        if operation != Operation::CreateInquiry {
            let duration = std::time::Duration::ZERO;
            inv.record(UpstreamCall { operation, status: Some(200), duration, request_id: None });
        }
    }

    fn calls(&self) -> Vec<Operation> {
        self.calls.borrow().clone()
    }

    fn resource(stored: &Stored) -> Value {
        json!({
            "type": "inquiry", "id": stored.id,
            "attributes": {"status": stored.status, "reference-id": stored.own_reference, "redacted-at": null,
                "created-at": stored.created_at, "tags": stored.tags},
            "relationships": {
                "account": {"data": stored.account.map(|id| json!({"type": "account", "id": id}))},
                "template": {"data": {}},
                "reviewer": {"data": {}},
                "inquiry-template": {"data": {"type": "inquiry-template", "id": TEMPLATE}},
                "inquiry-template-version": {"data": {"type": "inquiry-template-version", "id": stored.version}}
            }
        })
    }

    fn find(&self, id: &InquiryId) -> Result<Stored, UpstreamError> {
        let found = self.inquiries.borrow().iter().find(|s| s.id == id.as_str()).cloned();
        found.ok_or(UpstreamError::Rejected { status: 404, request_id: None, reason: None })
    }

    fn doc<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, UpstreamError> {
        Ok(serde_json::from_value(value).expect("the double's documents parse"))
    }
}

impl PersonaPort for MemoryPersona {
    async fn get_inquiry(&self, inv: &mut Invocation, id: &InquiryId) -> Result<InquiryDocument, UpstreamError> {
        self.record(inv, Operation::GetInquiry);
        let stored = self.find(id)?;
        let mut included = vec![json!({"type": "inquiry-template", "id": TEMPLATE,
            "relationships": {"latest-published-version": {"data": {"type": "inquiry-template-version", "id": LATEST}}}})];
        if let (Some(account), false) = (stored.account, self.accounts_left_out) {
            let reference = self.accounts.iter().find(|(id, _)| *id == account).map(|(_, r)| *r);
            included.push(json!({"type": "account", "id": account, "attributes": {"reference-id": reference}}));
        }
        Self::doc(json!({"data": Self::resource(&stored), "included": included}))
    }

    async fn get_account(&self, inv: &mut Invocation, id: &AccountId) -> Result<AccountDocument, UpstreamError> {
        self.record(inv, Operation::GetAccount);
        if self.account_reads_fail {
            return Err(UpstreamError::Rejected { status: 500, request_id: None, reason: None });
        }
        let (id, reference) = self.accounts.iter().find(|(known, _)| *known == id.as_str()).expect("known account");
        Self::doc(json!({"data": {"type": "account", "id": id, "attributes": {"reference-id": reference}}}))
    }

    async fn list_inquiries(&self, inv: &mut Invocation, filter: &ListFilter<'_>) -> Result<InquiryList, UpstreamError> {
        self.record(inv, Operation::ListInquiries);
        let items: Vec<Value> = self
            .inquiries
            .borrow()
            .iter()
            .filter(|s| {
                self.lax
                    || (filter.reference_id.is_none_or(|r| s.own_reference == Some(r))
                        && (filter.account_ids.is_empty()
                            || filter.account_ids.iter().any(|a| s.account == Some(a.as_str()))))
            })
            .map(Self::resource)
            .collect();
        Self::doc(json!({"data": items, "links": {"prev": null, "next": null}}))
    }

    async fn list_accounts(&self, inv: &mut Invocation, reference_id: &str) -> Result<AccountList, UpstreamError> {
        self.record(inv, Operation::ListAccounts);
        let items: Vec<Value> = self
            .accounts
            .iter()
            .filter(|(_, r)| self.lax || *r == reference_id)
            .map(|(id, r)| json!({"type": "account", "id": id, "attributes": {"reference-id": r}}))
            .collect();
        Self::doc(json!({"data": items}))
    }

    async fn create_inquiry(
        &self,
        inv: &mut Invocation,
        body: &CreateInquiry,
        _: KeySequence,
    ) -> Result<CreatedDocument, UpstreamError> {
        self.record(inv, Operation::CreateInquiry);
        let failing = self.failing_creates.get();
        let status = if failing > 0 { 500 } else { 201 };
        let duration = std::time::Duration::ZERO;
        inv.record(UpstreamCall { operation: Operation::CreateInquiry, status: Some(status), duration, request_id: None });
        if failing > 0 {
            self.failing_creates.set(failing - 1);
            return Err(UpstreamError::Unavailable { detail: "create: 500".into(), request_id: Some("req_500".into()) });
        }
        self.creates.set(self.creates.get() + 1);
        let attributes = &body.data.attributes;
        let account = attributes.account_id.clone().map(|id| &*id.leak());
        let stored = Stored {
            id: "inq_created",
            status: "created",
            own_reference: attributes.reference_id.clone().map(|r| &*r.leak()),
            account,
            version: self.created_version,
            created_at: Some("2026-12-06T12:00:00.000Z"),
            tags: attributes.tags.iter().map(|t| &*t.clone().leak()).collect(),
        };
        self.inquiries.borrow_mut().insert(0, stored.clone());
        Self::doc(json!({"data": Self::resource(&stored), "meta": {"session-token": "tok-created"}}))
    }

    async fn resume(
        &self,
        inv: &mut Invocation,
        id: &InquiryId,
        _: KeySequence,
    ) -> Result<ResumeDocument, UpstreamError> {
        self.record(inv, Operation::Resume);
        let stored = self.find(id)?;
        if self.sessions_used_up && stored.id != "inq_created" {
            return Err(Self::session_cap_error());
        }
        Self::doc(json!({"data": Self::resource(&stored), "meta": {"session-token": "tok"}}))
    }

    async fn generate_one_time_link(
        &self,
        inv: &mut Invocation,
        id: &InquiryId,
        _: Option<u32>,
        _: KeySequence,
    ) -> Result<OneTimeLinkDocument, UpstreamError> {
        self.record(inv, Operation::GenerateOneTimeLink);
        let stored = self.find(id)?;
        if self.sessions_used_up && stored.id != "inq_created" {
            return Err(Self::session_cap_error());
        }
        Self::doc(json!({"data": Self::resource(&stored),
            "meta": {"one-time-link": "https://l/1", "one-time-link-short": "https://l/s"}}))
    }

    async fn expire_inquiry(
        &self,
        inv: &mut Invocation,
        id: &InquiryId,
        _: KeySequence,
    ) -> Result<ExpiredDocument, UpstreamError> {
        self.record(inv, Operation::Expire);
        let stored = self.find(id)?;
        Self::doc(json!({"data": Self::resource(&stored)}))
    }
}

fn config() -> Config {
    config_with(&[])
}

fn config_with(overrides: &[(&str, &str)]) -> Config {
    let config = Config::from_lookup(|name| match overrides.iter().find(|(n, _)| *n == name) {
        Some((_, value)) => Some((*value).to_owned()),
        None => match name {
            "PERSONA_API_KEY" => Some("persona_sandbox_test".into()),
            "PERSONA_INQUIRY_TEMPLATE_ID" => Some(TEMPLATE.into()),
            _ => None,
        },
    })
    .unwrap();
    if overrides.is_empty() {
        assert_eq!(config.auth_mode, AuthMode::Jwt);
    }
    config
}

/// The in-process guard store, budgets off unless a test sets them; shared by the requests of one test.
fn guard(limits: Limits) -> Arc<Guard> {
    Arc::new(Guard::new(Store::Memory(MemoryStore::new()), limits))
}

fn user(owner: &str) -> Caller {
    Caller::User(Owner::new(owner).unwrap())
}

fn inquiry(id: &str) -> Target {
    Target::Inquiry(InquiryId::parse(id).unwrap())
}

async fn resolve(
    persona: &MemoryPersona,
    target: Target,
    caller: Caller,
    action: Action,
) -> Result<Resolution, Failure> {
    resolve_with(persona, &guard(Limits::OFF), &config(), target, caller, action).await
}

async fn resolve_with(
    persona: &MemoryPersona,
    guard: &Arc<Guard>,
    config: &Config,
    target: Target,
    caller: Caller,
    action: Action,
) -> Result<Resolution, Failure> {
    let request_id = format!("req-{}", fastrand::u64(..));
    let mut inv = Invocation::new(request_id, std::time::Instant::now() + std::time::Duration::from_secs(5));
    let retry = RetryPolicy { base_backoff: std::time::Duration::from_millis(1), ..RetryPolicy::default() };
    let service = ResumeService { config, persona, guard, retry: &retry };
    service.resolve(&mut inv, &ResumeRequest { target, caller, action }).await
}

fn stored(
    id: &'static str,
    status: &'static str,
    own: Option<&'static str>,
    account: Option<&'static str>,
    version: &'static str,
) -> Stored {
    Stored { id, status, own_reference: own, account, version, created_at: None, tags: Vec::new() }
}

/// Created at minute `minute` of an hour of 2026-12-06.
fn at(mut stored: Stored, minute: u32) -> Stored {
    stored.created_at = Some(format!("2026-12-06T10:{minute:02}:00.000Z").leak());
    stored
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

use Operation::{CreateInquiry as Create, GenerateOneTimeLink, GetAccount, GetInquiry, ListAccounts, ListInquiries, Resume};

#[test]
fn an_account_only_inquiry_belongs_to_its_accounts_user_and_to_nobody_else() {
    run(async {
        let persona = MemoryPersona::new(
            vec![stored("inq_a", "pending", None, Some("act_alice"), LATEST)],
            vec![("act_alice", "alice")],
        );
        let resumed = resolve(&persona, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap();
        assert_eq!(resumed.inquiry_id, "inq_a");
        assert_eq!(resumed.outcome, Outcome::Resumed);
        assert_eq!(persona.calls(), [GetInquiry, Resume], "the account came with the inquiry: no extra call");

        let refused = resolve(&persona, inquiry("inq_a"), user("bob"), Action::Session).await.unwrap_err();
        assert_eq!(refused.error, Error::Refused(Refusal::NotFound));
        let missing = resolve(&persona, inquiry("inq_missing"), user("bob"), Action::Session).await.unwrap_err();
        // Indistinguishable: the same refusal, naming only the id the caller sent.
        assert_eq!(refused.error, missing.error);
        assert_eq!(refused.inquiry_id.as_deref(), Some("inq_a"));
        assert_eq!(missing.inquiry_id.as_deref(), Some("inq_missing"));
    });
}

#[test]
fn when_persona_leaves_the_account_out_the_owner_and_a_stranger_pay_the_same_calls() {
    run(async {
        let stored = || vec![stored("inq_a", "pending", None, Some("act_alice"), LATEST)];
        let persona = MemoryPersona { accounts_left_out: true, ..MemoryPersona::new(stored(), vec![("act_alice", "alice")]) };
        resolve(&persona, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap();
        assert_eq!(persona.calls(), [GetInquiry, GetAccount, Resume]);
        persona.calls.borrow_mut().clear();
        let refused = resolve(&persona, inquiry("inq_a"), user("bob"), Action::Session).await.unwrap_err();
        assert_eq!(refused.error, Error::Refused(Refusal::NotFound));
        assert_eq!(persona.calls(), [GetInquiry, GetAccount], "the read a stranger causes is the owner's read");

        // The account read failing: the same answer whoever asks (the owner can't be told from a stranger).
        let failing = MemoryPersona {
            accounts_left_out: true,
            account_reads_fail: true,
            ..MemoryPersona::new(stored(), vec![("act_alice", "alice")])
        };
        let owner = resolve(&failing, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap_err();
        let stranger = resolve(&failing, inquiry("inq_a"), user("bob"), Action::Session).await.unwrap_err();
        assert!(matches!(owner.error, Error::Upstream(_)), "{:?}", owner.error);
        assert_eq!(format!("{:?}", owner.error), format!("{:?}", stranger.error));
    });
}

#[test]
fn me_finds_an_account_only_user_through_their_account_and_never_trusts_a_filter() {
    run(async {
        let inquiries = vec![
            stored("inq_bob", "pending", Some("bob"), Some("act_bob"), LATEST),
            stored("inq_alice", "pending", None, Some("act_alice"), LATEST),
        ];
        let accounts = vec![("act_bob", "bob"), ("act_alice", "alice"), ("act_alicex", "alice,x")];
        let persona = MemoryPersona::new(inquiries.clone(), accounts.clone());
        let found =
            resolve(&persona, Target::Me, user("alice"), Action::Link { expires_in_seconds: None }).await.unwrap();
        assert_eq!(found.inquiry_id, "inq_alice");
        assert_eq!(persona.calls(), [ListInquiries, ListAccounts, ListInquiries, GetInquiry, GenerateOneTimeLink]);

        // Filters ignored: bob's newer inquiry is listed first everywhere, and is never used or named.
        let lax = MemoryPersona { lax: true, ..MemoryPersona::new(inquiries, accounts) };
        let found = resolve(&lax, Target::Me, user("alice"), Action::Session).await.unwrap();
        assert_eq!(found.inquiry_id, "inq_alice");
        let stranger = resolve(&lax, Target::Me, user("carol"), Action::Session).await.unwrap();
        assert_eq!((stranger.inquiry_id.as_str(), &stranger.outcome), ("inq_created", &Outcome::Created));
    });
}

#[test]
fn me_refuses_a_verified_user_instead_of_creating_another_inquiry() {
    run(async {
        let persona = MemoryPersona::new(
            vec![stored("inq_done", "approved", None, Some("act_a"), LATEST)],
            vec![("act_a", "alice")],
        );
        let refused = resolve(&persona, Target::Me, user("alice"), Action::Session).await.unwrap_err();
        assert_eq!(refused.error, Error::Refused(Refusal::NotResumable(InquiryStatus::Approved)));
        assert_eq!(refused.inquiry_id.as_deref(), Some("inq_done"));
        assert!(!persona.calls().contains(&Create));
    });
}

#[test]
fn a_finished_replacement_is_never_re_verified_and_another_users_is_never_reused() {
    run(async {
        let old = stored("inq_old", "pending", None, Some("act_a"), "itmplv_1");
        let strangers = stored("inq_bobs", "pending", Some("bob"), Some("act_b"), LATEST);
        let done = stored("inq_done", "completed", None, Some("act_a"), LATEST);
        let accounts = vec![("act_a", "alice"), ("act_b", "bob")];

        // Lax: bob's inquiry on the latest version comes first; it is skipped, alice's completed one decides.
        let persona = MemoryPersona {
            lax: true,
            ..MemoryPersona::new(vec![strangers.clone(), done, old.clone()], accounts.clone())
        };
        let refused = resolve(&persona, inquiry("inq_old"), user("alice"), Action::Session).await.unwrap_err();
        assert_eq!(refused.error, Error::Refused(Refusal::NotResumable(InquiryStatus::Completed)));
        assert_eq!(refused.inquiry_id.as_deref(), Some("inq_done"));
        assert_eq!(persona.calls(), [GetInquiry, ListInquiries], "nothing created, nothing resumed");

        // No replacement of hers yet: one is created on her account, bob's is not handed out.
        let persona = MemoryPersona { lax: true, ..MemoryPersona::new(vec![strangers, old], accounts) };
        let recreated = resolve(&persona, inquiry("inq_old"), user("alice"), Action::Session).await.unwrap();
        assert_eq!(recreated.inquiry_id, "inq_created");
        assert_eq!(recreated.outcome.previous_inquiry_id().map(|id| id.as_str()), Some("inq_old"));
        assert_eq!(recreated.access, Access::Session { token: Some("tok-created".into()) });
        assert_eq!(persona.inquiries.borrow()[0].account, Some("act_a"), "the replacement stays on her account");
    });
}

#[test]
fn an_unfinished_replacement_is_reused() {
    run(async {
        let persona = MemoryPersona::new(
            vec![
                stored("inq_new", "expired", None, Some("act_a"), LATEST),
                stored("inq_old", "pending", None, Some("act_a"), "itmplv_1"),
            ],
            vec![("act_a", "alice")],
        );
        let link = resolve(&persona, inquiry("inq_old"), user("alice"), Action::Link { expires_in_seconds: Some(60) })
            .await
            .unwrap();
        assert_eq!(link.inquiry_id, "inq_new");
        assert_eq!(persona.calls(), [GetInquiry, ListInquiries, Resume, GenerateOneTimeLink], "expired: resumed first");
    });
}

#[test]
fn me_merges_both_sources_and_the_newest_decides() {
    run(async {
        // An older pending one with her own reference id, a newer approved one known only through her account.
        let older_pending = at(stored("inq_own", "pending", Some("alice"), None, LATEST), 10);
        let newer_approved = at(stored("inq_acct", "approved", None, Some("act_a"), LATEST), 20);
        let persona = MemoryPersona::new(vec![newer_approved, older_pending], vec![("act_a", "alice")]);
        let refused = resolve(&persona, Target::Me, user("alice"), Action::Session).await.unwrap_err();
        assert_eq!(refused.error, Error::Refused(Refusal::NotResumable(InquiryStatus::Approved)));
        assert_eq!(refused.inquiry_id.as_deref(), Some("inq_acct"), "the newer one decides: not re-verified");
        assert_eq!(persona.creates.get(), 0);

        // The reverse: the newer pending one (account only) is resumed, not the older finished one.
        let older_approved = at(stored("inq_own", "approved", Some("alice"), None, LATEST), 10);
        let newer_pending = at(stored("inq_acct", "pending", None, Some("act_a"), LATEST), 20);
        let persona = MemoryPersona::new(vec![newer_pending, older_approved], vec![("act_a", "alice")]);
        let resumed = resolve(&persona, Target::Me, user("alice"), Action::Session).await.unwrap();
        assert_eq!((resumed.inquiry_id.as_str(), &resumed.outcome), ("inq_acct", &Outcome::Resumed));
    });
}

#[test]
fn a_newer_inquiry_on_any_version_is_the_successor() {
    run(async {
        // Her replacement was approved on v2; v3 (LATEST) is published since; she presents the first one again.
        let old = at(stored("inq_old", "pending", Some("alice"), None, "itmplv_1"), 10);
        let approved_on_v2 = at(stored("inq_v2", "approved", Some("alice"), None, "itmplv_v2"), 20);
        let persona = MemoryPersona::new(vec![approved_on_v2, old.clone()], vec![]);
        let refused = resolve(&persona, inquiry("inq_old"), user("alice"), Action::Session).await.unwrap_err();
        assert_eq!(refused.error, Error::Refused(Refusal::NotResumable(InquiryStatus::Approved)));
        assert_eq!(refused.inquiry_id.as_deref(), Some("inq_v2"));
        assert_eq!(persona.creates.get(), 0, "a verified user is not sent to verify again");

        // Pending on v2 (outdated itself): it is the one replaced — one hop, one create.
        let pending_on_v2 = at(stored("inq_v2", "pending", Some("alice"), None, "itmplv_v2"), 20);
        let persona = MemoryPersona::new(vec![pending_on_v2, old], vec![]);
        let recreated = resolve(&persona, inquiry("inq_old"), user("alice"), Action::Session).await.unwrap();
        assert_eq!(recreated.inquiry_id, "inq_created");
        assert_eq!(recreated.outcome.previous_inquiry_id().map(InquiryId::as_str), Some("inq_old"));
        assert_eq!(persona.creates.get(), 1);
    });
}

#[test]
fn what_creation_gives_is_current_so_there_is_no_chain_of_replacements() {
    run(async {
        // Explicit deploy: creates give a deployed v2 while LATEST is the latest published version.
        let persona = MemoryPersona {
            created_version: "itmplv_deployed",
            ..MemoryPersona::new(vec![at(stored("inq_old", "pending", Some("alice"), None, "itmplv_1"), 10)], vec![])
        };
        let guard = guard(Limits::OFF);
        let config = config();
        let ask = |target: Target| resolve_with(&persona, &guard, &config, target, user("alice"), Action::Session);
        let first = ask(inquiry("inq_old")).await.unwrap();
        assert_eq!((first.inquiry_id.as_str(), first.outcome.as_str()), ("inq_created", "recreated"));
        let new = ask(inquiry("inq_created")).await.unwrap();
        assert_eq!((new.outcome.as_str(), new.template_check), ("resumed", TemplateCheck::Current));
        let me = ask(Target::Me).await.unwrap();
        assert_eq!((me.inquiry_id.as_str(), me.outcome.as_str()), ("inq_created", "resumed"));
        let old_again = ask(inquiry("inq_old")).await.unwrap();
        assert_eq!(old_again.inquiry_id, "inq_created");
        assert_eq!(persona.creates.get(), 1, "exactly one inquiry created");
    });
}

#[test]
fn an_ownerless_inquiry_is_replaced_once_whatever_persona_remembers() {
    run(async {
        // IAM mode: no owner, so no successor search — only the ledger stands between two replacements.
        let persona = MemoryPersona::new(vec![stored("inq_old", "pending", None, None, "itmplv_1")], vec![]);
        let guard = guard(Limits::OFF);
        let config = config_with(&[("AUTH_MODE", "iam")]);
        for _ in 0..3 {
            let answer = resolve_with(&persona, &guard, &config, inquiry("inq_old"), Caller::Trusted, Action::Session)
                .await
                .unwrap();
            assert_eq!((answer.inquiry_id.as_str(), answer.outcome.as_str()), ("inq_created", "recreated"));
        }
        assert_eq!(persona.creates.get(), 1, "the ledger names the replacement: never a second one");
    });
}

#[test]
fn after_an_incident_the_first_request_creates_once_with_few_calls() {
    run(async {
        let persona = MemoryPersona {
            failing_creates: Cell::new(1000),
            ..MemoryPersona::new(vec![stored("inq_old", "pending", Some("alice"), None, "itmplv_1")], vec![])
        };
        let guard = guard(Limits::OFF);
        let config = config();
        let ask = || resolve_with(&persona, &guard, &config, inquiry("inq_old"), user("alice"), Action::Session);
        for _ in 0..5 {
            let failed = ask().await.unwrap_err();
            assert!(matches!(failed.error, Error::Upstream(UpstreamError::Unavailable { .. })), "{failed:?}");
        }
        persona.failing_creates.set(0);
        persona.calls.borrow_mut().clear();
        let recovered = ask().await.unwrap();
        assert_eq!(recovered.inquiry_id, "inq_created");
        assert_eq!(persona.calls(), [GetInquiry, ListInquiries, Create], "one fresh key: no replayed 500 in the way");
        assert_eq!(persona.creates.get(), 1);
    });
}

#[test]
fn budgets_refuse_before_persona_is_called() {
    run(async {
        let persona = MemoryPersona::new(vec![stored("inq_a", "pending", Some("alice"), None, LATEST)], vec![]);
        let limits = Limits { persona_calls_per_minute: 0, requests_per_owner_per_minute: 2, sessions_per_inquiry_per_day: 0 };
        let guard = guard(limits);
        let config = config();
        for _ in 0..2 {
            resolve_with(&persona, &guard, &config, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap();
        }
        persona.calls.borrow_mut().clear();
        let refused =
            resolve_with(&persona, &guard, &config, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap_err();
        assert!(matches!(refused.error, Error::Throttled(Throttle::OwnerRequests { .. })), "{refused:?}");
        assert!(persona.calls().is_empty(), "nothing sent to Persona");
        // Another user is not affected by alice's limit.
        let persona_b = MemoryPersona::new(vec![stored("inq_b", "pending", Some("bob"), None, LATEST)], vec![]);
        resolve_with(&persona_b, &guard, &config, inquiry("inq_b"), user("bob"), Action::Session).await.unwrap();

        let sessions = Limits { persona_calls_per_minute: 0, requests_per_owner_per_minute: 0, sessions_per_inquiry_per_day: 1 };
        let guard = guard_with(sessions);
        resolve_with(&persona, &guard, &config, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap();
        let refused =
            resolve_with(&persona, &guard, &config, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap_err();
        assert!(matches!(refused.error, Error::Throttled(Throttle::InquirySessions { .. })), "{refused:?}");
        assert_eq!(refused.inquiry_id.as_deref(), Some("inq_a"), "the refusal names the inquiry");

        // The deployment's share: a plan of 2 calls fits twice in 4.
        let share = Limits { persona_calls_per_minute: 4, requests_per_owner_per_minute: 0, sessions_per_inquiry_per_day: 0 };
        let guard = guard_with(share);
        for _ in 0..2 {
            resolve_with(&persona, &guard, &config, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap();
        }
        let refused =
            resolve_with(&persona, &guard, &config, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap_err();
        assert!(matches!(refused.error, Error::Throttled(Throttle::PersonaBudget { .. })), "{refused:?}");
    });
}

#[test]
fn me_replacing_its_outdated_newest_reserves_the_create_and_link_before_either() {
    run(async {
        let persona = || MemoryPersona::new(vec![stored("inq_old", "pending", Some("alice"), None, "itmplv_1")], vec![]);
        let link = Action::Link { expires_in_seconds: None };
        let config = config();
        // The two lists and the GET: 3 of the 4 admitted; the create and the link make 5, one over a share of 4.
        let share = |calls| Limits { persona_calls_per_minute: calls, ..Limits::OFF };
        let spent = persona();
        let refused = resolve_with(&spent, &guard_with(share(4)), &config, Target::Me, user("alice"), link)
            .await
            .unwrap_err();
        assert!(matches!(refused.error, Error::Throttled(Throttle::PersonaBudget { .. })), "{refused:?}");
        assert_eq!(refused.inquiry_id.as_deref(), Some("inq_old"), "the refusal names the outdated inquiry");
        assert_eq!(spent.calls(), [ListInquiries, ListAccounts, GetInquiry], "nothing created, no link");

        let room = persona();
        let replaced =
            resolve_with(&room, &guard_with(share(5)), &config, Target::Me, user("alice"), link).await.unwrap();
        assert_eq!((replaced.inquiry_id.as_str(), replaced.outcome.as_str()), ("inq_created", "recreated"));
        assert_eq!(room.calls(), [ListInquiries, ListAccounts, GetInquiry, Create, GenerateOneTimeLink]);
    });
}

fn guard_with(limits: Limits) -> Arc<Guard> {
    guard(limits)
}

#[test]
fn a_used_up_inquiry_is_replaced_only_on_the_configured_error() {
    run(async {
        let capped = || MemoryPersona {
            sessions_used_up: true,
            ..MemoryPersona::new(vec![stored("inq_a", "pending", Some("alice"), None, LATEST)], vec![])
        };
        // Unset: Persona's refusal stays a 409, nothing is replaced on a guess.
        let persona = capped();
        let refused = resolve(&persona, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap_err();
        assert_eq!(refused.error, Error::Upstream(MemoryPersona::session_cap_error()));
        assert_eq!(persona.creates.get(), 0);

        let persona = capped();
        let config = config_with(&[("SESSION_LIMIT_ERROR", "(?i)maximum number of inquiry sessions")]);
        let link = Action::Link { expires_in_seconds: None };
        let replaced =
            resolve_with(&persona, &guard(Limits::OFF), &config, inquiry("inq_a"), user("alice"), link).await.unwrap();
        assert_eq!((replaced.inquiry_id.as_str(), replaced.outcome.as_str()), ("inq_created", "recreated"));
        assert_eq!(replaced.template_check, TemplateCheck::Current, "the check as measured");
        assert_eq!(persona.creates.get(), 1);
    });
}

#[test]
fn a_replacement_reserves_only_the_calls_its_hand_out_needs() {
    run(async {
        // GET and the refused resume (the 2 admitted), then the create, whose own session token is the hand-out:
        // 3 calls in all, so a share of 3 is enough (a link would be a fourth).
        let persona = MemoryPersona {
            sessions_used_up: true,
            ..MemoryPersona::new(vec![stored("inq_a", "pending", Some("alice"), None, LATEST)], vec![])
        };
        let config = config_with(&[("SESSION_LIMIT_ERROR", "(?i)maximum number of inquiry sessions")]);
        let share = guard_with(Limits { persona_calls_per_minute: 3, ..Limits::OFF });
        let replaced =
            resolve_with(&persona, &share, &config, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap();
        assert_eq!((replaced.inquiry_id.as_str(), replaced.outcome.as_str()), ("inq_created", "recreated"));
        assert_eq!(persona.calls(), [GetInquiry, Resume, Create]);
    });
}

#[test]
fn with_a_trusted_tag_a_planted_inquiry_never_decides() {
    run(async {
        let mut real = at(stored("inq_real", "pending", Some("alice"), None, LATEST), 10);
        real.tags = vec!["ours"];
        let planted = at(stored("inq_planted", "approved", Some("alice"), None, LATEST), 20);
        let persona = MemoryPersona::new(vec![planted, real], vec![]);
        let config = config_with(&[("TRUSTED_INQUIRY_TAG", "ours")]);
        let me = resolve_with(&persona, &guard(Limits::OFF), &config, Target::Me, user("alice"), Action::Session)
            .await
            .unwrap();
        assert_eq!((me.inquiry_id.as_str(), me.outcome.as_str()), ("inq_real", "resumed"));

        // A user with only a planted inquiry gets one of ours, tagged.
        let persona = MemoryPersona::new(vec![at(stored("inq_planted", "pending", Some("bob"), None, LATEST), 20)], vec![]);
        let me = resolve_with(&persona, &guard(Limits::OFF), &config, Target::Me, user("bob"), Action::Session)
            .await
            .unwrap();
        assert_eq!((me.inquiry_id.as_str(), me.outcome.as_str()), ("inq_created", "created"));
        assert_eq!(persona.inquiries.borrow()[0].tags, ["ours"]);
    });
}


#[test]
fn a_stranger_who_knows_the_id_cannot_spend_the_owners_sessions() {
    run(async {
        let persona = MemoryPersona::new(vec![stored("inq_a", "pending", Some("alice"), None, LATEST)], vec![]);
        let limits = Limits { sessions_per_inquiry_per_day: 2, ..Limits::OFF };
        let guard = guard(limits);
        let config = config();
        for _ in 0..5 {
            let refused = resolve_with(&persona, &guard, &config, inquiry("inq_a"), user("mallory"), Action::Session)
                .await
                .unwrap_err();
            assert!(
                matches!(refused.error, Error::Refused(Refusal::NotFound) | Error::Throttled(Throttle::InquirySessions { .. })),
                "{refused:?}"
            );
        }
        for _ in 0..2 {
            resolve_with(&persona, &guard, &config, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap();
        }
        let third =
            resolve_with(&persona, &guard, &config, inquiry("inq_a"), user("alice"), Action::Session).await.unwrap_err();
        assert!(matches!(third.error, Error::Throttled(Throttle::InquirySessions { .. })), "{third:?}");
    });
}

#[test]
fn me_counts_the_newest_hand_out_once_while_it_is_read_and_a_create_counts_its_own_session() {
    run(async {
        let sessions = Limits { persona_calls_per_minute: 0, requests_per_owner_per_minute: 0, sessions_per_inquiry_per_day: 2 };
        let config = config();
        // Counted alongside the GET of the newest, once: two hand-outs fit in a budget of two, the third is refused
        // before anything is handed out, naming the inquiry.
        let persona = MemoryPersona::new(vec![stored("inq_a", "pending", Some("alice"), None, LATEST)], vec![]);
        let guard = guard_with(sessions);
        for _ in 0..2 {
            resolve_with(&persona, &guard, &config, Target::Me, user("alice"), Action::Session).await.unwrap();
        }
        persona.calls.borrow_mut().clear();
        let refused = resolve_with(&persona, &guard, &config, Target::Me, user("alice"), Action::Session).await.unwrap_err();
        assert!(matches!(refused.error, Error::Throttled(Throttle::InquirySessions { .. })), "{refused:?}");
        assert_eq!(refused.inquiry_id.as_deref(), Some("inq_a"));
        assert!(!persona.calls().contains(&Resume), "nothing handed out past the budget: {:?}", persona.calls());

        // A first inquiry's session (from its create) is counted on it alongside the answer, never refused: with
        // it, one more hand-out fits in two.
        let persona = MemoryPersona::new(vec![], vec![]);
        let guard = guard_with(sessions);
        let created = resolve_with(&persona, &guard, &config, Target::Me, user("bob"), Action::Session).await.unwrap();
        assert_eq!((created.inquiry_id.as_str(), &created.outcome), ("inq_created", &Outcome::Created));
        resolve_with(&persona, &guard, &config, Target::Me, user("bob"), Action::Session).await.unwrap();
        let refused = resolve_with(&persona, &guard, &config, Target::Me, user("bob"), Action::Session).await.unwrap_err();
        assert!(matches!(refused.error, Error::Throttled(Throttle::InquirySessions { .. })), "{refused:?}");
        assert_eq!(refused.inquiry_id.as_deref(), Some("inq_created"));
    });
}

/// The SDK's futures are large; boxed where the guard's store and the service's steps await them, a request's
/// future stays small, so the deep call chains of a replacement fit a worker thread's stack even unoptimised.
#[test]
fn a_requests_future_stays_small() {
    let persona = MemoryPersona::new(vec![], vec![]);
    let (config, guard) = (config(), guard(Limits::OFF));
    let request = resolve_with(&persona, &guard, &config, Target::Me, user("alice"), Action::Session);
    let size = std::mem::size_of_val(&request);
    assert!(size < 8 * 1024, "a request's future is {size} bytes");
    let admission = crate::guard::Admission { owner: None, inquiry: None, persona_calls: 2 };
    let store = Guard::new(Store::Memory(MemoryStore::new()), Limits::OFF);
    let admit = store.admit(&admission, crate::guard::UnixMillis(0));
    assert!(std::mem::size_of_val(&admit) < 2 * 1024, "an admission's future is {} bytes", std::mem::size_of_val(&admit));
}
