//! The endpoints we call, each with the model that reads its answer, and the check that a document read by that
//! model means what the raw JSON says: the members the decision needs are read from the document by JSON pointer
//! (the oracle, independent of the model), and the decision taken on the model's reading must be the one the
//! document implies.

use persona_resume::domain::ids::AccountId;
use persona_resume::domain::inquiry::InquiryFacts;
use persona_resume::domain::lookup::{self, Counting, Listed};
use persona_resume::domain::policy::{
    self, Decision, KnownAccounts, Refusal, TemplateCheck, TemplateFacts, UnavailablePolicy,
};
use persona_resume::persona::model::{
    Account, AccountDocument, AccountList, CreatedDocument, ExpiredDocument, Inquiry, InquiryDocument, InquiryList,
    OneTimeLinkDocument, ResumeDocument,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An endpoint of Persona's API we call, and how its answer is read and checked.
pub struct Endpoint {
    /// Short name, used in reports and seed file names.
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    /// Parses `document` with the endpoint's model and checks it against the oracle; what it implies (the decision
    /// for each inquiry, whether each account names its user).
    pub check: fn(&Value) -> Result<Vec<String>, Failure>,
}

/// The endpoint → model table. A new endpoint we call gets a row here.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint { name: "get-inquiry", method: "get", path: "/inquiries/{inquiry-id}", check: check_get },
    Endpoint { name: "list-inquiries", method: "get", path: "/inquiries", check: check_list },
    Endpoint { name: "resume", method: "post", path: "/inquiries/{inquiry-id}/resume", check: check_resume },
    Endpoint {
        name: "one-time-link",
        method: "post",
        path: "/inquiries/{inquiry-id}/generate-one-time-link",
        check: check_link,
    },
    Endpoint { name: "create", method: "post", path: "/inquiries", check: check_create },
    Endpoint { name: "expire", method: "post", path: "/inquiries/{inquiry-id}/expire", check: check_expire },
    Endpoint { name: "get-account", method: "get", path: "/accounts/{account-id}", check: check_get_account },
    Endpoint { name: "list-accounts", method: "get", path: "/accounts", check: check_list_accounts },
];

/// Why a document failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The model refused the document: serde's message.
    Parse(String),
    /// The model read something other than the document says, or the decision is not the implied one.
    Mismatch(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Parse(e) => write!(f, "parse error: {e}"),
            Failure::Mismatch(e) => write!(f, "mismatch: {e}"),
        }
    }
}

/// What a document implies for one inquiry: its status, the template check and whether it may be resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implied {
    pub status: String,
    pub check: TemplateCheck,
    pub resumable: bool,
}

impl std::fmt::Display for Implied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.resumable { "resumable" } else { "refused" };
        write!(f, "{}/{} -> {verdict}", self.status, self.check.as_str())
    }
}

fn parse<T: DeserializeOwned>(document: &Value) -> Result<T, Failure> {
    serde_json::from_value(document.clone()).map_err(|e| Failure::Parse(e.to_string()))
}

/// A non-empty string at `pointer` (an identifier without a usable id reads as absent).
fn raw_str<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, read: T, raw: T) -> Result<(), Failure> {
    if read == raw {
        Ok(())
    } else {
        Err(Failure::Mismatch(format!("{what}: the model read {read:?}, the document says {raw:?}")))
    }
}

/// The latest published version of the inquiry's own template, read from `included` of the raw document.
fn raw_latest_version(document: &Value) -> Option<&str> {
    let template = raw_str(document, "/data/relationships/inquiry-template/data/id")?;
    document.get("included")?.as_array()?.iter().find_map(|resource| {
        let is_it = resource.get("type").and_then(Value::as_str) == Some("inquiry-template")
            && resource.get("id").and_then(Value::as_str) == Some(template);
        if is_it {
            raw_str(resource, "/relationships/latest-published-version/data/id")
        } else {
            None
        }
    })
}

/// The reference id of the inquiry's account, read from `included` of the raw document.
fn raw_account_reference(document: &Value) -> Option<&str> {
    let account = raw_str(document, "/data/relationships/account/data/id")?;
    document.get("included")?.as_array()?.iter().find_map(|resource| {
        let is_it = resource.get("type").and_then(Value::as_str) == Some("account")
            && resource.get("id").and_then(Value::as_str) == Some(account);
        if is_it {
            raw_str(resource, "/attributes/reference-id")
        } else {
            None
        }
    })
}

/// Checks one inquiry read by the model against its raw JSON, then runs the decision under both policies.
fn check_inquiry(
    raw: &Value,
    inquiry: &Inquiry,
    latest: Option<&str>,
    raw_latest: Option<&str>,
) -> Result<Implied, Failure> {
    expect_eq("id", Some(inquiry.id.as_str()), raw_str(raw, "/id"))?;
    let status = raw_str(raw, "/attributes/status").unwrap_or_default();
    expect_eq("status", inquiry.status().as_str(), status)?;
    let redacted = raw.pointer("/attributes/redacted-at").is_some_and(|v| !v.is_null());
    expect_eq("redacted", inquiry.is_redacted(), redacted)?;
    expect_eq("reference id", inquiry.reference_id(), raw_str(raw, "/attributes/reference-id"))?;
    expect_eq("account", inquiry.account_id().as_deref(), raw_str(raw, "/relationships/account/data/id"))?;
    expect_eq("template", inquiry.inquiry_template_id(), raw_str(raw, "/relationships/inquiry-template/data/id"))?;
    let pinned = raw_str(raw, "/relationships/inquiry-template-version/data/id");
    expect_eq("pinned version", inquiry.template_version_id(), pinned)?;
    expect_eq("legacy", inquiry.is_legacy(), raw_str(raw, "/relationships/template/data/id").is_some())?;
    expect_eq("latest published version", latest, raw_latest)?;

    let implied_check = match (pinned, raw_latest) {
        (Some(p), Some(l)) if p == l => TemplateCheck::Current,
        (Some(_), Some(_)) => TemplateCheck::Outdated,
        _ => TemplateCheck::Unavailable,
    };
    let facts = InquiryFacts::from(inquiry);
    let template = TemplateFacts { latest_published_version: latest.map(str::to_owned), created_recently: Vec::new() };
    let check = policy::check_template(&facts, &template);
    expect_eq("template check", check, implied_check)?;
    let resumable = !redacted && matches!(status, "created" | "pending" | "expired");
    for when_unavailable in [UnavailablePolicy::Resume, UnavailablePolicy::Reject] {
        let decided = policy::decide(&facts, &template, when_unavailable);
        let expected = if redacted {
            Err(Refusal::Redacted)
        } else if !resumable {
            Err(Refusal::NotResumable(inquiry.status().clone()))
        } else {
            match (implied_check, when_unavailable) {
                (TemplateCheck::Outdated, _) => {
                    Ok(Decision::Recreate { latest_version: raw_latest.unwrap_or_default().to_owned() })
                }
                (TemplateCheck::Unavailable, UnavailablePolicy::Reject) => Err(Refusal::TemplateCheckUnavailable),
                _ => Ok(Decision::Resume),
            }
        };
        expect_eq(&format!("decision ({when_unavailable:?})"), decided, expected)?;
    }
    Ok(Implied { status: status.to_owned(), check, resumable })
}

fn primary(document: &Value) -> &Value {
    document.get("data").unwrap_or(&Value::Null)
}

/// One inquiry's check, as its summary line.
fn one(implied: Implied) -> Vec<String> {
    vec![implied.to_string()]
}

fn check_get(document: &Value) -> Result<Vec<String>, Failure> {
    let read: InquiryDocument = parse(document)?;
    let latest = read.latest_published_version_id();
    let implied = check_inquiry(primary(document), &read.data, latest.as_deref(), raw_latest_version(document))?;
    let raw_account_reference = raw_account_reference(document);
    expect_eq("account reference id", read.account_reference_id().as_deref(), raw_account_reference)?;
    let raw_owner = raw_str(document, "/data/attributes/reference-id").or(raw_account_reference);
    let account_reference = read.account_reference_id();
    expect_eq("owner", policy::owner_of(read.data.reference_id(), account_reference.as_deref()), raw_owner)?;
    Ok(one(implied))
}

fn raw_items(document: &Value) -> &[Value] {
    primary(document).as_array().map(Vec::as_slice).unwrap_or_default()
}

fn check_list(document: &Value) -> Result<Vec<String>, Failure> {
    let read: InquiryList = parse(document)?;
    let raw_items = raw_items(document);
    // A schema-valid item must be read, not dropped as unreadable.
    expect_eq("unreadable items", read.unreadable_items, 0)?;
    expect_eq("list length", read.data.len(), raw_items.len())?;
    let implied = read
        .data
        .iter()
        .zip(raw_items)
        .map(|(inquiry, raw)| check_inquiry(raw, inquiry, None, None).map(|i| i.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    // The lookup rules run over every list the decision may see: each item's own reference id makes it its
    // owner's, and the newest and the successor search never fail on a schema-valid list.
    let facts: Vec<InquiryFacts> = read.data.iter().map(InquiryFacts::from).collect();
    let nobody = KnownAccounts::default();
    for inquiry in &facts {
        let Some(owner) = inquiry.reference_id.as_deref() else { continue };
        let counting = Counting { owner, accounts: &nobody, trusted_tag: None };
        expect_eq("counted for its own reference id", counting.counts(inquiry), true)?;
        let list = Listed { items: &facts, complete: true };
        let _ = lookup::newest(&[list], &counting);
        let _ = lookup::successor(&list, &counting, inquiry);
    }
    Ok(implied)
}

/// Checks one account read by the model against its raw JSON; its summary line.
fn check_account(raw: &Value, account: &Account) -> Result<String, Failure> {
    // An id of the wrong form reads as none (it could not be looked up by).
    let raw_id = raw_str(raw, "/id").filter(|id| AccountId::parse(id).is_ok());
    expect_eq("account id", account.id.as_deref(), raw_id)?;
    let reference = raw_str(raw, "/attributes/reference-id");
    expect_eq("account reference id", account.reference_id(), reference)?;
    if let Some(id) = &account.id {
        let mut known = KnownAccounts::default();
        known.add(id.clone(), account.reference_id());
        expect_eq("known account", known.reference_id(id), reference)?;
    }
    Ok(format!("account {}", if reference.is_some() { "names its user" } else { "names no user" }))
}

fn check_get_account(document: &Value) -> Result<Vec<String>, Failure> {
    let read: AccountDocument = parse(document)?;
    Ok(vec![check_account(primary(document), &read.data)?])
}

fn check_list_accounts(document: &Value) -> Result<Vec<String>, Failure> {
    let read: AccountList = parse(document)?;
    let raw_items = raw_items(document);
    expect_eq("unreadable items", read.unreadable_items, 0)?;
    expect_eq("list length", read.data.len(), raw_items.len())?;
    read.data.iter().zip(raw_items).map(|(account, raw)| check_account(raw, account)).collect()
}

fn check_resume(document: &Value) -> Result<Vec<String>, Failure> {
    let read: ResumeDocument = parse(document)?;
    expect_eq("session token", Some(read.meta.session_token.as_str()), raw_str(document, "/meta/session-token"))?;
    Ok(one(check_inquiry(primary(document), &read.data, None, None)?))
}

fn check_link(document: &Value) -> Result<Vec<String>, Failure> {
    let read: OneTimeLinkDocument = parse(document)?;
    expect_eq("one-time link", Some(read.meta.one_time_link.as_str()), raw_str(document, "/meta/one-time-link"))?;
    expect_eq(
        "short one-time link",
        read.meta.one_time_link_short.as_deref(),
        document.pointer("/meta/one-time-link-short").and_then(Value::as_str),
    )?;
    Ok(one(check_inquiry(primary(document), &read.data, None, None)?))
}

fn check_create(document: &Value) -> Result<Vec<String>, Failure> {
    let read: CreatedDocument = parse(document)?;
    expect_eq(
        "session token",
        read.meta.session_token.as_deref(),
        document.pointer("/meta/session-token").and_then(Value::as_str),
    )?;
    Ok(one(check_inquiry(primary(document), &read.data, None, None)?))
}

fn check_expire(document: &Value) -> Result<Vec<String>, Failure> {
    let read: ExpiredDocument = parse(document)?;
    Ok(one(check_inquiry(primary(document), &read.data, None, None)?))
}
