//! The orchestration over an in-memory Persona (no HTTP): ownership through accounts, loose list filters, and
//! recreates that never re-verify. The HTTP-level behaviour is covered by the rig in `tests/`.

use std::cell::RefCell;

use serde_json::{json, Value};

use super::*;
use crate::domain::ids::AccountId;
use crate::ops::config::{AuthMode, Config};
use crate::persona::model::CreateInquiry;
use crate::persona::model::{
    AccountDocument, AccountList, CreatedDocument, ExpiredDocument, OneTimeLinkDocument, ResumeDocument,
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
}

/// Persona in memory, pessimistic like the rig's fake: `lax` makes every list ignore its filters.
struct MemoryPersona {
    inquiries: RefCell<Vec<Stored>>,
    accounts: Vec<(&'static str, &'static str)>,
    lax: bool,
    calls: RefCell<Vec<Operation>>,
}

impl MemoryPersona {
    fn new(inquiries: Vec<Stored>, accounts: Vec<(&'static str, &'static str)>) -> Self {
        Self { inquiries: RefCell::new(inquiries), accounts, lax: false, calls: RefCell::default() }
    }

    fn record(&self, operation: Operation) {
        self.calls.borrow_mut().push(operation);
    }

    fn calls(&self) -> Vec<Operation> {
        self.calls.borrow().clone()
    }

    fn resource(stored: &Stored) -> Value {
        json!({
            "type": "inquiry", "id": stored.id,
            "attributes": {"status": stored.status, "reference-id": stored.own_reference, "redacted-at": null},
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
    async fn get_inquiry(&self, _: &mut Invocation, id: &InquiryId) -> Result<InquiryDocument, UpstreamError> {
        self.record(Operation::GetInquiry);
        let stored = self.find(id)?;
        let mut included = vec![json!({"type": "inquiry-template", "id": TEMPLATE,
            "relationships": {"latest-published-version": {"data": {"type": "inquiry-template-version", "id": LATEST}}}})];
        if let Some(account) = stored.account {
            let reference = self.accounts.iter().find(|(id, _)| *id == account).map(|(_, r)| *r);
            included.push(json!({"type": "account", "id": account, "attributes": {"reference-id": reference}}));
        }
        Self::doc(json!({"data": Self::resource(&stored), "included": included}))
    }

    async fn get_account(&self, _: &mut Invocation, id: &AccountId) -> Result<AccountDocument, UpstreamError> {
        self.record(Operation::GetAccount);
        let (id, reference) = self.accounts.iter().find(|(known, _)| *known == id.as_str()).expect("known account");
        Self::doc(json!({"data": {"type": "account", "id": id, "attributes": {"reference-id": reference}}}))
    }

    async fn list_inquiries(&self, _: &mut Invocation, filter: &ListFilter<'_>) -> Result<InquiryList, UpstreamError> {
        self.record(Operation::ListInquiries);
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

    async fn list_accounts(&self, _: &mut Invocation, reference_id: &str) -> Result<AccountList, UpstreamError> {
        self.record(Operation::ListAccounts);
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
        _: &mut Invocation,
        body: &CreateInquiry,
        _: KeySequence,
    ) -> Result<CreatedDocument, UpstreamError> {
        self.record(Operation::CreateInquiry);
        let attributes = &body.data.attributes;
        let account = attributes.account_id.clone().map(|id| &*id.leak());
        let stored = Stored {
            id: "inq_created",
            status: "created",
            own_reference: attributes.reference_id.clone().map(|r| &*r.leak()),
            account,
            version: LATEST,
        };
        self.inquiries.borrow_mut().insert(0, stored.clone());
        Self::doc(json!({"data": Self::resource(&stored), "meta": {"session-token": "tok-created"}}))
    }

    async fn resume(
        &self,
        _: &mut Invocation,
        id: &InquiryId,
        _: KeySequence,
    ) -> Result<ResumeDocument, UpstreamError> {
        self.record(Operation::Resume);
        let stored = self.find(id)?;
        Self::doc(json!({"data": Self::resource(&stored), "meta": {"session-token": "tok"}}))
    }

    async fn generate_one_time_link(
        &self,
        _: &mut Invocation,
        id: &InquiryId,
        _: Option<u32>,
        _: KeySequence,
    ) -> Result<OneTimeLinkDocument, UpstreamError> {
        self.record(Operation::GenerateOneTimeLink);
        let stored = self.find(id)?;
        Self::doc(json!({"data": Self::resource(&stored),
            "meta": {"one-time-link": "https://l/1", "one-time-link-short": "https://l/s"}}))
    }

    async fn expire_inquiry(
        &self,
        _: &mut Invocation,
        id: &InquiryId,
        _: KeySequence,
    ) -> Result<ExpiredDocument, UpstreamError> {
        self.record(Operation::Expire);
        let stored = self.find(id)?;
        Self::doc(json!({"data": Self::resource(&stored)}))
    }
}

fn config() -> Config {
    let config = Config::from_lookup(|name| match name {
        "PERSONA_API_KEY" => Some("persona_sandbox_test".into()),
        "PERSONA_INQUIRY_TEMPLATE_ID" => Some(TEMPLATE.into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(config.auth_mode, AuthMode::Jwt);
    config
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
    let config = config();
    let mut inv = Invocation::new("req-1".into(), std::time::Instant::now() + std::time::Duration::from_secs(5));
    ResumeService { config: &config, persona }.resolve(&mut inv, &ResumeRequest { target, caller, action }).await
}

fn stored(
    id: &'static str,
    status: &'static str,
    own: Option<&'static str>,
    account: Option<&'static str>,
    version: &'static str,
) -> Stored {
    Stored { id, status, own_reference: own, account, version }
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

use Operation::{CreateInquiry as Create, GenerateOneTimeLink, GetInquiry, ListAccounts, ListInquiries, Resume};

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
