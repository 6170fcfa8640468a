//! The fake's state: inquiry templates and their published versions, inquiries with their sessions and
//! one-time links, and the knobs tests turn (settings). Pure data plus the state transitions Persona
//! performs; no HTTP here.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::util::{base64url, now_ms, random_id, Millis, DAY_MS};

/// The Persona operations the fake serves (one per OpenAPI operation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /inquiries/{inquiry-id}`
    Get,
    /// `GET /inquiries`
    List,
    /// `POST /inquiries`
    Create,
    /// `POST /inquiries/{inquiry-id}/resume`
    Resume,
    /// `POST /inquiries/{inquiry-id}/generate-one-time-link`
    Link,
    /// `POST /inquiries/{inquiry-id}/expire`
    Expire,
    /// `GET /accounts`
    AccountList,
    /// `GET /accounts/{account-id}`
    AccountGet,
}

impl Endpoint {
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Get,
        Endpoint::List,
        Endpoint::Create,
        Endpoint::Resume,
        Endpoint::Link,
        Endpoint::Expire,
        Endpoint::AccountList,
        Endpoint::AccountGet,
    ];

    /// The OpenAPI path and method of this operation.
    pub fn spec_path_and_method(self) -> (&'static str, &'static str) {
        match self {
            Endpoint::Get => ("/inquiries/{inquiry-id}", "get"),
            Endpoint::List => ("/inquiries", "get"),
            Endpoint::Create => ("/inquiries", "post"),
            Endpoint::Resume => ("/inquiries/{inquiry-id}/resume", "post"),
            Endpoint::Link => ("/inquiries/{inquiry-id}/generate-one-time-link", "post"),
            Endpoint::Expire => ("/inquiries/{inquiry-id}/expire", "post"),
            Endpoint::AccountList => ("/accounts", "get"),
            Endpoint::AccountGet => ("/accounts/{account-id}", "get"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Get => "get",
            Endpoint::List => "list",
            Endpoint::Create => "create",
            Endpoint::Resume => "resume",
            Endpoint::Link => "link",
            Endpoint::Expire => "expire",
            Endpoint::AccountList => "account_list",
            Endpoint::AccountGet => "account_get",
        }
    }
}

/// Statuses from which an inquiry can still be worked on (resumed, linked, expired).
pub fn is_open_status(status: &str) -> bool {
    matches!(status, "created" | "pending" | "expired")
}

/// An inquiry template. Dynamic-flow templates (`itmpl_`) have published versions (`itmplv_`), oldest
/// first; legacy templates (`tmpl_`) have none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub status: String,
    pub legacy: bool,
    pub versions: Vec<String>,
    /// Explicit deploy (API 2026-09-29): the published version creates are routed to, when it is not the latest
    /// published one. `None`: creates get the latest published version.
    #[serde(default)]
    pub deployed_version: Option<String>,
}

impl Template {
    /// The latest published version, if any.
    pub fn latest_published_version(&self) -> Option<&str> {
        self.versions.last().map(String::as_str)
    }

    /// The version `POST /inquiries` with `inquiry-template-id` gives: the deployed one, else the latest published.
    pub fn creation_version(&self) -> Option<&str> {
        self.deployed_version.as_deref().or_else(|| self.latest_published_version())
    }
}

/// How a session was handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A session token (create with auto-create-inquiry-session, or resume).
    Token,
    /// A session behind a one-time link.
    Link,
}

/// An inquiry session (`iqse_…`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub kind: SessionKind,
    /// The JWT-shaped session token (for link sessions too; never shown for those).
    pub token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    /// Set by a test (the user opened the flow with it): resume no longer reuses it.
    pub used: bool,
    /// Set when the inquiry is expired.
    pub invalidated: bool,
    /// The one-time link, for link sessions.
    pub one_time_link: Option<String>,
    pub one_time_link_short: Option<String>,
}

impl Session {
    /// Valid = not invalidated and not past its expiry.
    pub fn is_valid(&self, now: Millis) -> bool {
        !self.invalidated && self.expires_at > now
    }
}

/// An inquiry, with everything the fake tracks about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inquiry {
    pub id: String,
    pub status: String,
    pub reference_id: Option<String>,
    pub account_id: Option<String>,
    /// `itmpl_…` for dynamic-flow inquiries.
    pub template_id: Option<String>,
    /// The `itmplv_…` this inquiry is pinned to.
    pub template_version_id: Option<String>,
    /// `tmpl_…` for legacy inquiries.
    pub legacy_template_id: Option<String>,
    pub note: Option<String>,
    pub tags: Vec<String>,
    /// Already in response form: `{"name-first": {"type": "string", "value": "Jane"}}`.
    pub fields: Map<String, Value>,
    pub redirect_uri: Option<String>,
    pub creator: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub started_at: Option<Millis>,
    pub expires_at: Option<Millis>,
    pub completed_at: Option<Millis>,
    pub failed_at: Option<Millis>,
    pub marked_for_review_at: Option<Millis>,
    pub decisioned_at: Option<Millis>,
    pub expired_at: Option<Millis>,
    pub redacted_at: Option<Millis>,
    pub sessions: Vec<Session>,
    /// Creation order, for newest-first listing among equal `created_at`.
    pub seq: u64,
}

impl Inquiry {
    pub fn is_redacted(&self) -> bool {
        self.redacted_at.is_some()
    }

    /// Valid one-time links handed out for this inquiry.
    pub fn valid_links(&self, now: Millis) -> impl Iterator<Item = &Session> {
        self.sessions.iter().filter(move |s| s.kind == SessionKind::Link && s.is_valid(now))
    }

    /// Sets the status and the timestamps that go with it, like Persona's state machine would.
    pub fn set_status(&mut self, status: &str, now: Millis) {
        self.status = status.to_owned();
        self.updated_at = now;
        match status {
            "created" => {}
            "pending" => {
                self.started_at.get_or_insert(now);
                self.expired_at = None;
            }
            "expired" => {
                self.expired_at = Some(now);
                for s in &mut self.sessions {
                    s.invalidated = true;
                }
            }
            "completed" => {
                self.started_at.get_or_insert(now);
                self.completed_at = Some(now);
            }
            "failed" => {
                self.started_at.get_or_insert(now);
                self.failed_at = Some(now);
            }
            "needs_review" => {
                self.started_at.get_or_insert(now);
                self.completed_at.get_or_insert(now);
                self.marked_for_review_at = Some(now);
            }
            "approved" | "declined" => {
                self.started_at.get_or_insert(now);
                self.completed_at.get_or_insert(now);
                self.decisioned_at = Some(now);
            }
            _ => {}
        }
    }

    /// Deletes the personal data, as `DELETE /inquiries/{id}` does.
    pub fn redact(&mut self, now: Millis) {
        self.redacted_at = Some(now);
        self.updated_at = now;
        self.fields.clear();
        self.note = None;
        for s in &mut self.sessions {
            s.invalidated = true;
        }
    }
}

/// A Persona account (`act_…`): the company's user, named by its `reference-id`, holding the user's
/// personal data in `fields` (which the functions must never fetch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub reference_id: Option<String>,
    /// Personal data in Persona's response form; `None` = the spec example's (a full name, address,
    /// birthdate and identification numbers), `Some(empty)` = none.
    pub fields: Option<Map<String, Value>>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Creation order, for newest-first listing among equal `created_at`.
    pub seq: u64,
}

impl Account {
    /// Whether a reference-id filter value selects this account: exact match, or (loose) case-insensitive.
    pub fn has_reference(&self, wanted: &str, loose: bool) -> bool {
        self.reference_id.as_deref().is_some_and(|r| reference_matches(r, wanted, loose))
    }
}

/// `actual` against one filter value: exact, or case-insensitive when `loose`.
pub fn reference_matches(actual: &str, wanted: &str, loose: bool) -> bool {
    if loose {
        actual.to_lowercase() == wanted.to_lowercase()
    } else {
        actual == wanted
    }
}

/// Rate limiting: `limit` requests per `window_ms`, refused with 429 only when `enabled`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub limit: u32,
    pub window_ms: u64,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings { enabled: false, limit: 300, window_ms: 60_000 }
    }
}

/// Behaviour switches, settable at run time (`PUT /_control/settings` or [`super::FakePersona::update_settings`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Leave the inquiry template out of `included`, as Persona does for sandbox keys.
    pub hide_templates: bool,
    /// Answer 409 to `resume` on a `created` inquiry (default: 200 with a session token).
    pub resume_created_conflict: bool,
    /// The API keys accepted in `Authorization: Bearer …`.
    pub api_keys: Vec<String>,
    pub rate_limit: RateLimitSettings,
    /// Base of the one-time links handed out.
    pub link_base_url: String,
    /// Base of the short one-time links handed out.
    pub short_link_base_url: String,
    /// List endpoints ignore every filter and return everything of their type, newest first (page size and
    /// cursors still apply): proves a client never trusts a filter.
    pub lax_filters: bool,
    /// `filter[reference-id]` matches case-insensitively, and on `GET /inquiries` also splits on commas
    /// (as the accounts filter does by contract): a loosened filter.
    pub loose_reference_ids: bool,
    /// Inquiry sessions an inquiry may have (Persona: 25 by default; every one-time link and every resume that
    /// can't reuse a session makes one); past it, 422 [`SESSION_CAP_DETAILS`]. `0`: no cap.
    pub sessions_per_inquiry: u32,
}

/// Persona's default cap on an inquiry's sessions (`POST /inquiry-sessions`: "By default, we only allow up to 25
/// sessions per Inquiry").
pub const DEFAULT_SESSIONS_PER_INQUIRY: u32 = 25;

/// The `details` of the fake's refusal once the cap is reached. Persona's answer is documented nowhere (the spec
/// states the cap on `POST /inquiry-sessions` only, and that operation's 4xx are the shared ones): the fake answers
/// 422 "Unprocessable entity", the status Persona uses for a request that is well-formed but not allowed on this
/// resource, within the 422 schema of resume and generate-one-time-link (`title`, `details`).
pub const SESSION_CAP_DETAILS: &str = "Inquiry has reached the maximum number of inquiry sessions";

/// The key a default fake accepts.
pub const DEFAULT_API_KEY: &str = "persona_sandbox_fake_key_0001";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hide_templates: false,
            resume_created_conflict: false,
            api_keys: vec![DEFAULT_API_KEY.to_owned()],
            rate_limit: RateLimitSettings::default(),
            link_base_url: "https://inquiry.withpersona.com/verify".to_owned(),
            short_link_base_url: "https://perso.na/verify".to_owned(),
            lax_filters: false,
            loose_reference_ids: false,
            sessions_per_inquiry: DEFAULT_SESSIONS_PER_INQUIRY,
        }
    }
}

/// A template to create (`POST /_control/templates`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewTemplate {
    /// Defaults to a random `itmpl_…` (or `tmpl_…` when `legacy`).
    pub id: Option<String>,
    pub name: Option<String>,
    /// How many versions to publish at once (dynamic templates; default 1, 0 = nothing published).
    pub versions: Option<u32>,
    /// Explicit version ids, oldest first (overrides `versions`).
    pub version_ids: Option<Vec<String>>,
    /// A legacy 2.0 template (`tmpl_…`) without versions.
    pub legacy: bool,
}

/// An inquiry to plant (`POST /_control/inquiries`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedInquiry {
    /// Defaults to a random `inq_…`.
    pub id: Option<String>,
    /// `itmpl_…` or legacy `tmpl_…`; required.
    pub template_id: String,
    /// Pinned version; defaults to the template's latest published one.
    pub template_version_id: Option<String>,
    /// Any string, unknown statuses included (default `created`).
    pub status: Option<String>,
    /// The inquiry's own `reference-id`. Unless `no_account` (or an account is named below), the inquiry
    /// also joins the account with this reference id, creating it if none, as a create with the deprecated
    /// attribute does.
    pub reference_id: Option<String>,
    /// The account it belongs to (`act_…`); created (with `account_reference_id`, else `reference_id`, as
    /// its reference id) when there is none with that id.
    pub account_id: Option<String>,
    /// Joins the account with this reference id (creating it if none), as
    /// `meta.auto-create-account-reference-id` does; leave `reference_id` unset for an inquiry whose own
    /// reference id is null (an account-only user).
    pub account_reference_id: Option<String>,
    /// No account at all, even with a `reference_id`.
    pub no_account: bool,
    pub note: Option<String>,
    pub redacted: bool,
    /// Creation time (epoch ms); defaults to now.
    pub created_at: Option<Millis>,
    /// Response-form fields, or plain `{"name-first": "Jane"}` values.
    pub fields: Option<Map<String, Value>>,
    /// Tag names (default none).
    pub tags: Vec<String>,
    /// `creator` (default `API`).
    pub creator: Option<String>,
}

/// An inquiry a browser created through Persona's embedded or hosted flow (`POST /_control/inquiries/from-browser`):
/// the template id and whatever `reference-id` the page passed, attached (as Persona does) to the account with
/// that reference id, created if none; no tag, since only our creates carry one. What an attacker who knows a
/// user's id can plant.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrowserInquiry {
    pub template_id: String,
    pub reference_id: String,
    /// Default `created` (an attacker may also finish it: `approved`, `declined`…).
    pub status: Option<String>,
    /// Creation time (epoch ms); defaults to now.
    pub created_at: Option<Millis>,
}

impl BrowserInquiry {
    /// The seed that plants it.
    pub fn into_seed(self) -> SeedInquiry {
        SeedInquiry {
            template_id: self.template_id,
            status: self.status,
            reference_id: Some(self.reference_id.clone()),
            account_reference_id: Some(self.reference_id),
            created_at: self.created_at,
            creator: Some("Embedded flow".to_owned()),
            ..SeedInquiry::default()
        }
    }
}

/// An account to plant (`POST /_control/accounts`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedAccount {
    /// Defaults to a random `act_…`.
    pub id: Option<String>,
    pub reference_id: Option<String>,
    /// Personal data in Persona's response form (`{"birthdate": {"type": "date", "value": "1994-12-30"}}`);
    /// default: the spec example's; `{}`: none.
    pub fields: Option<Map<String, Value>>,
    /// Creation time (epoch ms); defaults to now.
    pub created_at: Option<Millis>,
}

/// Why a control operation was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelError {
    NotFound(String),
    Invalid(String),
    Conflict(String),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::NotFound(m) => write!(f, "not found: {m}"),
            ModelError::Invalid(m) => write!(f, "invalid: {m}"),
            ModelError::Conflict(m) => write!(f, "conflict: {m}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// Converts request-form fields (`"name-first": "Jane"`) to response form
/// (`"name-first": {"type": "string", "value": "Jane"}`); values already in response form are kept.
pub fn fields_to_response_form(input: &Map<String, Value>) -> Map<String, Value> {
    input
        .iter()
        .map(|(key, value)| {
            let converted = match value {
                Value::Object(o) if o.contains_key("type") && o.contains_key("value") => value.clone(),
                Value::String(_) | Value::Null => {
                    let kind = if key == "birthdate" { "date" } else { "string" };
                    serde_json::json!({"type": kind, "value": value})
                }
                Value::Bool(_) => serde_json::json!({"type": "boolean", "value": value}),
                Value::Number(_) => serde_json::json!({"type": "number", "value": value}),
                Value::Array(_) => serde_json::json!({"type": "array", "value": value}),
                Value::Object(_) => serde_json::json!({"type": "hash", "value": value}),
            };
            (key.clone(), converted)
        })
        .collect()
}

/// Templates, inquiries and accounts.
#[derive(Debug, Default)]
pub struct Store {
    pub templates: BTreeMap<String, Template>,
    /// version id -> template id
    pub versions: HashMap<String, String>,
    pub inquiries: HashMap<String, Inquiry>,
    pub accounts: HashMap<String, Account>,
    next_seq: u64,
}

/// Token lifetime of an unused session (Persona: 24 hours by default).
pub const SESSION_TTL_MS: Millis = DAY_MS;

impl Store {
    pub fn clear(&mut self) {
        *self = Store::default();
    }

    pub fn create_template(&mut self, spec: NewTemplate) -> Result<Template, ModelError> {
        let prefix = if spec.legacy { "tmpl_" } else { "itmpl_" };
        let id = spec.id.unwrap_or_else(|| random_id(prefix, 24));
        if !id.starts_with(prefix) {
            return Err(ModelError::Invalid(format!("template id must start with {prefix}")));
        }
        if self.templates.contains_key(&id) {
            return Err(ModelError::Conflict(format!("template {id} exists")));
        }
        let versions = if spec.legacy {
            Vec::new()
        } else if let Some(ids) = spec.version_ids {
            ids
        } else {
            (0..spec.versions.unwrap_or(1)).map(|_| random_id("itmplv_", 24)).collect()
        };
        for v in &versions {
            if !v.starts_with("itmplv_") || self.versions.contains_key(v) {
                return Err(ModelError::Invalid(format!("bad or duplicate version id {v}")));
            }
        }
        for v in &versions {
            self.versions.insert(v.clone(), id.clone());
        }
        let template = Template {
            name: spec.name.unwrap_or_else(|| format!("Fake template {id}")),
            id: id.clone(),
            status: "active".to_owned(),
            legacy: spec.legacy,
            versions,
            deployed_version: None,
        };
        self.templates.insert(id, template.clone());
        Ok(template)
    }

    /// Publishes a new version; every inquiry pinned to an older one becomes outdated.
    pub fn publish_version(&mut self, template_id: &str, version_id: Option<String>) -> Result<String, ModelError> {
        let template = self
            .templates
            .get_mut(template_id)
            .ok_or_else(|| ModelError::NotFound(format!("template {template_id}")))?;
        if template.legacy {
            return Err(ModelError::Invalid("legacy templates have no versions".to_owned()));
        }
        let version = version_id.unwrap_or_else(|| random_id("itmplv_", 24));
        if !version.starts_with("itmplv_") || self.versions.contains_key(&version) {
            return Err(ModelError::Invalid(format!("bad or duplicate version id {version}")));
        }
        template.versions.push(version.clone());
        self.versions.insert(version.clone(), template_id.to_owned());
        Ok(version)
    }

    /// Explicit deploy: routes the template's creates to `version` (one of its published versions), or back to the
    /// latest published one (`None`). Publishing later doesn't move a deployed version.
    pub fn deploy_version(&mut self, template_id: &str, version: Option<String>) -> Result<Template, ModelError> {
        let template = self
            .templates
            .get_mut(template_id)
            .ok_or_else(|| ModelError::NotFound(format!("template {template_id}")))?;
        if let Some(v) = &version {
            if !template.versions.contains(v) {
                return Err(ModelError::Invalid(format!("{v} is not a published version of {template_id}")));
            }
        }
        template.deployed_version = version;
        Ok(template.clone())
    }

    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A fresh inquiry (status `created`) on a template, pinned to `version` (dynamic) or legacy.
    pub fn new_inquiry(&mut self, template: &Template, version: Option<String>, now: Millis) -> Inquiry {
        let seq = self.next_seq();
        Inquiry {
            id: random_id("inq_", 24),
            status: "created".to_owned(),
            reference_id: None,
            account_id: None,
            template_id: (!template.legacy).then(|| template.id.clone()),
            template_version_id: version,
            legacy_template_id: template.legacy.then(|| template.id.clone()),
            note: None,
            tags: Vec::new(),
            fields: Map::new(),
            redirect_uri: None,
            creator: "API".to_owned(),
            created_at: now,
            updated_at: now,
            started_at: None,
            expires_at: Some(now + DAY_MS),
            completed_at: None,
            failed_at: None,
            marked_for_review_at: None,
            decisioned_at: None,
            expired_at: None,
            redacted_at: None,
            sessions: Vec::new(),
            seq,
        }
    }

    pub fn seed_inquiry(&mut self, seed: SeedInquiry) -> Result<Inquiry, ModelError> {
        let template = self
            .templates
            .get(&seed.template_id)
            .cloned()
            .ok_or_else(|| ModelError::NotFound(format!("template {}", seed.template_id)))?;
        let version = match seed.template_version_id {
            Some(v) => {
                if self.versions.get(&v) != Some(&template.id) {
                    return Err(ModelError::Invalid(format!("{v} is not a version of {}", template.id)));
                }
                Some(v)
            }
            None => template.latest_published_version().map(str::to_owned),
        };
        let created_at = seed.created_at.unwrap_or_else(now_ms);
        let mut inquiry = self.new_inquiry(&template, version, created_at);
        if let Some(id) = seed.id {
            if !id.starts_with("inq_") || self.inquiries.contains_key(&id) {
                return Err(ModelError::Invalid(format!("bad or duplicate inquiry id {id}")));
            }
            inquiry.id = id;
        }
        inquiry.account_id = match (seed.account_id, seed.account_reference_id) {
            (Some(id), reference) => {
                if !self.accounts.contains_key(&id) {
                    let reference = reference.or_else(|| seed.reference_id.clone());
                    let account =
                        SeedAccount { id: Some(id.clone()), reference_id: reference, ..SeedAccount::default() };
                    self.seed_account(account)?;
                }
                Some(id)
            }
            (None, Some(reference)) => Some(self.join_account(&reference, created_at)),
            (None, None) if !seed.no_account => {
                seed.reference_id.as_deref().filter(|r| !r.is_empty()).map(|r| self.join_account(r, created_at))
            }
            (None, None) => None,
        };
        inquiry.reference_id = seed.reference_id;
        inquiry.note = seed.note;
        inquiry.tags = seed.tags;
        if let Some(creator) = seed.creator {
            inquiry.creator = creator;
        }
        if let Some(fields) = seed.fields {
            inquiry.fields = fields_to_response_form(&fields);
        }
        let status = seed.status.unwrap_or_else(|| "created".to_owned());
        if status != "created" {
            inquiry.set_status(&status, created_at);
        }
        if seed.redacted {
            inquiry.redact(created_at);
        }
        self.inquiries.insert(inquiry.id.clone(), inquiry.clone());
        Ok(inquiry)
    }

    pub fn seed_account(&mut self, seed: SeedAccount) -> Result<Account, ModelError> {
        let id = seed.id.unwrap_or_else(|| random_id("act_", 24));
        if !id.starts_with("act_") || self.accounts.contains_key(&id) {
            return Err(ModelError::Invalid(format!("bad or duplicate account id {id}")));
        }
        let created_at = seed.created_at.unwrap_or_else(now_ms);
        let seq = self.next_seq();
        let account = Account {
            id: id.clone(),
            reference_id: seed.reference_id,
            fields: seed.fields,
            created_at,
            updated_at: created_at,
            seq,
        };
        self.accounts.insert(id, account.clone());
        Ok(account)
    }

    /// The oldest account whose reference id is exactly `reference`.
    pub fn account_with_reference(&self, reference: &str) -> Option<&Account> {
        self.accounts
            .values()
            .filter(|a| a.reference_id.as_deref() == Some(reference))
            .min_by_key(|a| (a.created_at, a.seq))
    }

    /// The id of the account with this reference id, created (holding the example's personal data) when
    /// there is none and `create`: what Persona does for `meta.auto-create-account-reference-id` and for
    /// the deprecated `reference-id` attribute (`meta.auto-create-account: false` turns creating off).
    pub fn join_account_if(&mut self, reference: &str, create: bool, now: Millis) -> Option<String> {
        if let Some(account) = self.account_with_reference(reference) {
            return Some(account.id.clone());
        }
        create.then(|| self.join_account(reference, now))
    }

    /// Like [`Store::join_account_if`], always creating.
    pub fn join_account(&mut self, reference: &str, now: Millis) -> String {
        if let Some(account) = self.account_with_reference(reference) {
            return account.id.clone();
        }
        let id = loop {
            let id = random_id("act_", 24);
            if !self.accounts.contains_key(&id) {
                break id;
            }
        };
        let seq = self.next_seq();
        let account = Account {
            id: id.clone(),
            reference_id: Some(reference.to_owned()),
            fields: None,
            created_at: now,
            updated_at: now,
            seq,
        };
        self.accounts.insert(id.clone(), account);
        id
    }

    /// All accounts, newest first.
    pub fn accounts_newest_first(&self) -> Vec<&Account> {
        let mut all: Vec<&Account> = self.accounts.values().collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.seq.cmp(&a.seq)));
        all
    }

    /// Inserts an inquiry built by [`Store::new_inquiry`].
    pub fn insert(&mut self, inquiry: Inquiry) {
        self.inquiries.insert(inquiry.id.clone(), inquiry);
    }

    /// All inquiries, newest first.
    pub fn newest_first(&self) -> Vec<&Inquiry> {
        let mut all: Vec<&Inquiry> = self.inquiries.values().collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.seq.cmp(&a.seq)));
        all
    }

    /// Whether the inquiry's pinned version differs from its template's latest published one.
    pub fn is_outdated(&self, inquiry: &Inquiry) -> Option<bool> {
        let template = self.templates.get(inquiry.template_id.as_ref()?)?;
        let latest = template.latest_published_version()?;
        Some(inquiry.template_version_id.as_deref()? != latest)
    }
}

/// A fresh session on `inquiry` (token or link).
pub fn new_session(inquiry_id: &str, kind: SessionKind, settings: &Settings, now: Millis, ttl_ms: Millis) -> Session {
    let id = random_id("iqse_", 24);
    let header = base64url(br#"{"alg":"HS256"}"#);
    let claims = serde_json::json!({
        "sub": id, "aud": "persona-verify", "iss": "fake-persona", "inq": inquiry_id,
        "iat": now / 1000, "nbf": now / 1000, "exp": (now + ttl_ms) / 1000, "jti": random_id("", 32),
    });
    let payload = base64url(claims.to_string().as_bytes());
    let signature = base64url(random_id("", 32).as_bytes());
    let (one_time_link, one_time_link_short) = if kind == SessionKind::Link {
        let code = random_id("", 20);
        let short = random_id("", 10);
        (
            Some(format!("{}?code=us1-{code}", settings.link_base_url)),
            Some(format!("{}?code={short}", settings.short_link_base_url)),
        )
    } else {
        (None, None)
    };
    Session {
        id,
        kind,
        token: format!("{header}.{payload}.{signature}"),
        created_at: now,
        expires_at: now + ttl_ms,
        used: false,
        invalidated: false,
        one_time_link,
        one_time_link_short,
    }
}
