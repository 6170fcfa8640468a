//! A Persona response body, read as every document the client parses, then through the pure decision core: the
//! template check, the decision table (both policies), the link steps, ownership and the successor pick, and the
//! success answer built from it. Nothing may panic; malformed bodies must be plain errors.
//!
//! And a body that Persona's contract allows must be read: the input is validated against the response schema of
//! each endpoint, in both vendored API versions (the validators of `shared/tests/spec/openapi.rs`, compiled once);
//! if a schema accepts it and the endpoint's model refuses it (or a list drops one of its items as unreadable),
//! that is a crash. The one refusal the schemas can't express is an id that isn't of Persona's form (`inq_`/`act_`
//! + letters and digits: our ids go into upstream URL paths, so they are checked where they enter), so inputs with
//! such an id are only required not to panic.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use persona_resume::app::service::{Access, Outcome, Resolution};
use persona_resume::domain::ids::{AccountId, InquiryId};
use persona_resume::domain::inquiry::InquiryFacts;
use persona_resume::domain::lookup::{self, Counting, Listed, Newest, Successor};
use persona_resume::domain::policy::{self, KnownAccounts, TemplateCheck, TemplateFacts, UnavailablePolicy};
use persona_resume::lambda::response::success_response;
use persona_resume::persona::model::{
    AccountDocument, AccountList, CreatedDocument, ExpiredDocument, Inquiry, InquiryDocument, InquiryList,
    OneTimeLinkDocument, ResumeDocument,
};
use serde_json::Value;

// The repository's own library crate (`<repo>/shared`), not anything beside the checkout; the extra `.` segment
// keeps a plain-text search for the team folder from mistaking it for one.
#[path = "../.././shared/tests/spec/openapi.rs"]
#[allow(dead_code)]
mod openapi;

/// The endpoints whose answers are read, as (name, method, path) of the spec.
const ENDPOINTS: [(&str, &str, &str); 8] = [
    ("get", "get", "/inquiries/{inquiry-id}"),
    ("list", "get", "/inquiries"),
    ("resume", "post", "/inquiries/{inquiry-id}/resume"),
    ("link", "post", "/inquiries/{inquiry-id}/generate-one-time-link"),
    ("create", "post", "/inquiries"),
    ("expire", "post", "/inquiries/{inquiry-id}/expire"),
    ("account", "get", "/accounts/{account-id}"),
    ("accounts", "get", "/accounts"),
];

/// Every 2xx response-schema validator of one endpoint, over both API versions.
struct Schemas {
    by_endpoint: Vec<(&'static str, Vec<jsonschema::Validator>)>,
}

impl Schemas {
    fn load() -> Schemas {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let specs: Vec<openapi::Spec> = openapi::VERSIONS
            .iter()
            .map(|version| openapi::Spec::load(&root, version).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let by_endpoint = ENDPOINTS
            .iter()
            .map(|&(name, method, path)| {
                let validators = specs
                    .iter()
                    .flat_map(|spec| {
                        spec.success_statuses(path, method).into_iter().filter_map(move |status| {
                            let pointer = spec.response_schema_pointer(path, method, status)?;
                            Some(spec.validator(&pointer).unwrap_or_else(|e| panic!("{e}")))
                        })
                    })
                    .collect::<Vec<_>>();
                assert!(!validators.is_empty(), "no response schema for {method} {path}");
                (name, validators)
            })
            .collect();
        Schemas { by_endpoint }
    }

    /// Does some version's schema of `endpoint` accept `document`?
    fn allows(&self, endpoint: &str, document: &Value) -> bool {
        self.by_endpoint
            .iter()
            .find(|(name, _)| *name == endpoint)
            .is_some_and(|(_, validators)| validators.iter().any(|v| v.is_valid(document)))
    }
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(Schemas::load)
}

/// No id in the primary data is of the wrong form (a string id must be an inquiry or account id; an absent id is
/// the schema's business, not excused here).
fn ids_are_personas(document: &Value) -> bool {
    let valid = |resource: &Value| match resource.get("id") {
        Some(Value::String(id)) => InquiryId::parse(id).is_ok() || AccountId::parse(id).is_ok(),
        _ => true,
    };
    match document.get("data") {
        Some(Value::Array(items)) => items.iter().all(valid),
        Some(resource) => valid(resource),
        None => true,
    }
}

/// Must the model read `document` as the answer of `endpoint`?
fn contract_allows(endpoint: &str, document: Option<&Value>) -> bool {
    document.is_some_and(|document| ids_are_personas(document) && schemas().allows(endpoint, document))
}

/// Parses `data` with `T`; a schema-valid document that fails is a crash.
fn read<T: serde::de::DeserializeOwned>(endpoint: &str, data: &[u8], document: Option<&Value>) -> Option<T> {
    let parsed = serde_json::from_slice::<T>(data);
    if let Err(error) = &parsed {
        if contract_allows(endpoint, document) {
            panic!("{endpoint}: a document the schema accepts fails to parse: {error}");
        }
    }
    parsed.ok()
}

/// A list that dropped items of a schema-valid page as unreadable is a crash too.
fn assert_all_read(endpoint: &str, unreadable_items: usize, document: Option<&Value>) {
    if unreadable_items > 0 && contract_allows(endpoint, document) {
        panic!("{endpoint}: {unreadable_items} item(s) of a page the schema accepts were dropped as unreadable");
    }
}

fn decide_all(inquiry: &Inquiry, latest: Option<&str>) {
    let facts = InquiryFacts::from(inquiry);
    let template = TemplateFacts { latest_published_version: latest.map(str::to_owned), created_recently: Vec::new() };
    let check = policy::check_template(&facts, &template);
    if check == TemplateCheck::Current {
        assert_eq!(facts.pinned_version_id.as_deref(), latest);
    }
    for when_unavailable in [UnavailablePolicy::Resume, UnavailablePolicy::Reject] {
        if let Ok(decision) = policy::decide(&facts, &template, when_unavailable) {
            assert!(!facts.redacted && facts.status.is_resumable(), "{decision:?} for a refused inquiry");
        }
    }
    let _ = inquiry.is_legacy();
    if let Some(reference) = inquiry.reference_id() {
        assert_eq!(policy::owner_of(Some(reference), Some("other")), Some(reference), "the own reference id wins");
    }
}

fn render(inquiry_id: &InquiryId, access: Access) {
    let base = url::Url::parse("https://inquiry.withpersona.com/verify?x=1").expect("static URL");
    let resolution = Resolution {
        inquiry_id: inquiry_id.clone(),
        outcome: Outcome::Resumed,
        template_check: TemplateCheck::Current,
        access,
    };
    let response = success_response(&resolution, &base);
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).expect("the answer is JSON");
    assert_eq!(body["inquiry_id"].as_str(), Some(inquiry_id.as_str()));
}

fuzz_target!(|data: &[u8]| {
    // The schema oracle only applies to JSON; everything else must merely fail cleanly.
    // A document whose objects repeat a member name is ambiguous JSON (RFC 8259: names SHOULD be unique; a `Value`
    // keeps the last, our models refuse it with a clear error): outside the contract, not a crash.
    let document = serde_json::from_slice::<Value>(data)
        .ok()
        .filter(|_| persona_resume::lambda::request::has_unique_members(data));
    let document = document.as_ref();
    if let Some(read) = read::<InquiryDocument>("get", data, document) {
        let latest = read.latest_published_version_id();
        decide_all(&read.data, latest.as_deref());
        let account_reference = read.account_reference_id();
        let owner = policy::owner_of(read.data.reference_id(), account_reference.as_deref());
        assert!(owner.is_none_or(|o| !o.is_empty()), "an empty owner");
        let _ = read.template_returned();
    }
    if let Some(list) = read::<InquiryList>("list", data, document) {
        assert_all_read("list", list.unreadable_items, document);
        for inquiry in &list.data {
            decide_all(inquiry, None);
        }
        let facts: Vec<InquiryFacts> = list.data.iter().map(InquiryFacts::from).collect();
        let nobody = KnownAccounts::default();
        for inquiry in &facts {
            let Some(owner) = inquiry.reference_id.as_deref() else { continue };
            let counting = Counting { owner, accounts: &nobody, trusted_tag: None };
            let listed = Listed { items: &facts, complete: true };
            if let Newest::Found(newest) = lookup::newest(&[listed], &counting) {
                assert!(counting.counts(newest), "the newest is the owner's");
            }
            match lookup::successor(&listed, &counting, inquiry) {
                Successor::Found(successor) => {
                    assert!(successor.status.is_resumable() && !successor.redacted);
                    assert_ne!(successor.id, inquiry.id);
                }
                Successor::Refuse { inquiry: successor, .. } => assert_ne!(successor.id, inquiry.id),
                Successor::None | Successor::Incomplete => {}
            }
        }
    }
    if let Some(account) = read::<AccountDocument>("account", data, document) {
        if let Some(id) = &account.data.id {
            let mut known = KnownAccounts::default();
            known.add(id.clone(), account.data.reference_id());
            assert_eq!(known.reference_id(id), account.data.reference_id());
        }
    }
    if let Some(accounts) = read::<AccountList>("accounts", data, document) {
        assert_all_read("accounts", accounts.unreadable_items, document);
        let mut known = KnownAccounts::default();
        for account in &accounts.data {
            if let Some(id) = &account.id {
                known.add(id.clone(), account.reference_id());
            }
        }
    }
    if let Some(resumed) = read::<ResumeDocument>("resume", data, document) {
        render(&resumed.data.id, Access::Session { token: Some(resumed.meta.session_token) });
    }
    if let Some(linked) = read::<OneTimeLinkDocument>("link", data, document) {
        let access = Access::OneTimeLink { link: linked.meta.one_time_link, short: linked.meta.one_time_link_short };
        render(&linked.data.id, access);
    }
    if let Some(created) = read::<CreatedDocument>("create", data, document) {
        decide_all(&created.data, None);
        render(&created.data.id, Access::Session { token: created.meta.session_token });
    }
    if let Some(expired) = read::<ExpiredDocument>("expire", data, document) {
        decide_all(&expired.data, None);
    }
});
