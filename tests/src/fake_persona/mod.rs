//! A stateful fake of Persona's inquiry and account API, for local runs and tests.
//!
//! It serves, at the root (and under `/api/v1`), `GET /inquiries/{id}`, `GET /inquiries`,
//! `POST /inquiries`, `POST /inquiries/{id}/resume`, `POST /inquiries/{id}/generate-one-time-link`,
//! `POST /inquiries/{id}/expire`, `GET /accounts` and `GET /accounts/{id}` with Persona's rules: bearer-key
//! auth (401 without `Request-Id`), `Request-Id` and `RateLimit-*` headers, idempotency keys that replay the
//! first answer (5xx included), a configurable rate limit, injected faults (statuses, delays, malformed
//! bodies, dropped connections before or after the work), and a control API under `/_control/`
//! (routes in `control.rs`).
//!
//! **Documented shapes.** It serves one of Persona's vendored OpenAPI files (`spec_version`/`spec_path`;
//! `PERSONA_OPENAPI_SPEC` or `FAKE_PERSONA_SPEC_VERSION`; default 2025-12-08). Every document starts from
//! that file's example for the operation (`examples.rs`, `documents.rs`): empty identifier objects
//! (`"template": {"data": {}}`, `"reviewer": {"data": {}}`), the full attribute set, the example's other
//! relationships and extra `included` objects, with the fake's state in what it models. Every JSON
//! document it answers (fault answers excepted) is checked against that file's response schema;
//! violations are recorded ([`FakePersona::violations`]) and printed to stderr.
//!
//! **Accounts, pessimistically** (docs/persona-api.md "Accounts"). An account (`act_…`) has a reference id
//! and the user's personal data (by default the spec example's name, address, birthdate, identification
//! numbers). `POST /inquiries`: `attributes.account-id` joins that account (404 if unknown) and wins;
//! else `meta.auto-create-account-reference-id` joins (or creates) the account with that reference id;
//! else the deprecated `attributes.reference-id` does. Only the attribute fills the inquiry's own
//! `reference-id` — with the meta field alone it stays null; with both, the meta field picks the account
//! and the attribute stays the inquiry's own. `meta.auto-create-account: false` joins only an existing
//! account. `GET /accounts?filter[reference-id]=a,b` is a comma list (any, exact match); `include=account`
//! (never by default) adds the account to `included`; `fields[account]=…` is honoured on every account
//! object. [`FakePersona::personal_fields_served`] counts the answers that carried an account's personal
//! data. Switches: `lax_filters` (lists ignore every filter), `loose_reference_ids` (case-insensitive,
//! comma-splitting reference-id filters).
//!
//! **Issue 19 controls.** `Persona-Version: 2026-09-29` answers carry template versions with `live`,
//! `version-tag` and `deployments` (`api_2026.rs`; exempt from the contract check: no bundle exists offline);
//! [`FakePersona::deploy_version`] routes a template's creates to a deployed version other than the latest
//! published one; `tags` given on create (or planted) are stored and returned (the spec has no tag filter on the
//! list: `filter[tags]` is refused); [`FakePersona::forget_idempotency_keys`]; the 25-sessions-per-inquiry cap
//! (`Settings::sessions_per_inquiry`, a 422 once reached); [`FakePersona::plant_browser_inquiry`].
//!
//! ```no_run
//! use integration_tests::fake_persona::{FakeConfig, FakePersona};
//! let fake = FakePersona::start(FakeConfig::default());
//! let seed = fake.seed_demo();
//! println!("{} {}", fake.base_url(), seed.pending.id);
//! fake.assert_no_violations();
//! ```

pub mod api_2026;
pub mod contract;
pub mod control;
pub mod documents;
pub mod examples;
pub mod faults;
pub mod handlers;
pub mod hosted_flow;
pub mod idempotency;
pub mod model;
pub mod rate_limit;
pub mod request_log;
pub mod seed;
pub mod server;
pub mod spec;
pub mod state;
pub mod util;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use contract::{default_spec_path, ContractChecker, ContractViolation, SPEC_ENV};
pub use examples::Examples;
pub use faults::{Fault, FaultKind};
pub use model::{
    Account, BrowserInquiry, Endpoint, Inquiry, ModelError, NewTemplate, RateLimitSettings, SeedAccount, SeedInquiry,
    Session, SessionKind, Settings, Template, DEFAULT_API_KEY, DEFAULT_SESSIONS_PER_INQUIRY, SESSION_CAP_DETAILS,
};
pub use request_log::RequestRecord;
pub use seed::{DemoInquiry, DemoSeed};
pub use spec::{SpecVersion, SPEC_VERSION_ENV};

use state::Shared;

/// How to start a fake.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Start-up settings (API keys, rate limit, switches); `reset` returns to these.
    pub settings: Settings,
    /// Plant the demo data ([`DemoSeed`]) at start.
    pub seed_demo: bool,
    /// Validate every answered document against Persona's OpenAPI file (default true).
    pub contract_check: bool,
    /// The OpenAPI file its documents start from and its answers are checked against; wins over
    /// `spec_version`. Default: [`default_spec_path`].
    pub spec_path: Option<PathBuf>,
    /// The vendored spec of this Persona API version (`persona-openapi/<version>/`). Default: the
    /// `PERSONA_OPENAPI_SPEC` file, else `FAKE_PERSONA_SPEC_VERSION`, else 2025-12-08.
    pub spec_version: Option<SpecVersion>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            port: 0,
            settings: Settings::default(),
            seed_demo: false,
            contract_check: true,
            spec_path: None,
            spec_version: None,
        }
    }
}

/// A running fake Persona. It runs on its own thread (with its own Tokio runtime), so it works from
/// sync and async tests alike, and stops when dropped or on [`FakePersona::shutdown`].
#[derive(Debug)]
pub struct FakePersona {
    addr: SocketAddr,
    spec_path: PathBuf,
    shared: Arc<Shared>,
    shutdown: tokio::sync::watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl FakePersona {
    /// Starts a fake; panics if it cannot (port taken, spec missing): a test can't go on without it.
    pub fn start(config: FakeConfig) -> FakePersona {
        FakePersona::try_start(config).unwrap_or_else(|e| panic!("fake Persona failed to start: {e}"))
    }

    /// Starts a fake, or says why it could not.
    pub fn try_start(config: FakeConfig) -> Result<FakePersona, String> {
        let spec_path = spec::resolve_spec_path(config.spec_path.as_deref(), config.spec_version)?;
        let examples = spec::examples_for(&spec_path)?;
        let contract = if config.contract_check { Some(ContractChecker::cached(&spec_path)?) } else { None };
        let shared = Arc::new(Shared::new(config.settings, contract, examples));
        if config.seed_demo {
            seed::seed_demo(&mut shared.lock().store).map_err(|e| e.to_string())?;
        }
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .map_err(|e| format!("cannot bind 127.0.0.1:{}: {e}", config.port))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-persona-worker")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build a Tokio runtime: {e}"))?;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let server_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("fake-persona".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => server::run(listener, server_shared, shutdown_rx).await,
                        Err(e) => eprintln!("fake-persona: cannot use the listener: {e}"),
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(|e| format!("cannot spawn the server thread: {e}"))?;
        Ok(FakePersona { addr, spec_path, shared, shutdown, thread: Some(thread) })
    }

    /// `http://127.0.0.1:PORT` (use as `PERSONA_API_BASE_URL`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first accepted API key.
    pub fn api_key(&self) -> String {
        self.shared.lock().settings.api_keys.first().cloned().unwrap_or_else(|| DEFAULT_API_KEY.to_owned())
    }

    /// The OpenAPI file the fake serves (documents and contract check).
    pub fn spec_path(&self) -> &std::path::Path {
        &self.spec_path
    }

    /// The Persona API version of the file it serves (`info.version`), when known.
    pub fn spec_version(&self) -> Option<SpecVersion> {
        spec::Spec::cached(&self.spec_path).ok().and_then(|s| s.version())
    }

    /// The spec examples its documents start from.
    pub fn examples(&self) -> Arc<Examples> {
        Arc::clone(&self.shared.examples)
    }

    /// The contract checker in use, if the check is on.
    pub fn contract(&self) -> Option<Arc<ContractChecker>> {
        self.shared.contract.clone()
    }

    /// Back to a fresh fake: no data, faults, idempotency keys, log or violations; start-up settings.
    pub fn reset(&self) {
        self.shared.lock().reset();
    }

    /// Plants the demo data (fixed ids), replacing earlier copies of it.
    pub fn seed_demo(&self) -> DemoSeed {
        seed::seed_demo(&mut self.shared.lock().store)
            .unwrap_or_else(|e| panic!("demo seed collides with planted data: {e}"))
    }

    pub fn create_template(&self, template: NewTemplate) -> Result<Template, ModelError> {
        self.shared.lock().store.create_template(template)
    }

    /// Publishes a new version of a template (its existing inquiries become outdated); returns its id.
    pub fn publish_version(&self, template_id: &str) -> Result<String, ModelError> {
        self.shared.lock().store.publish_version(template_id, None)
    }

    /// Explicit deploy (API 2026-09-29): the template's creates get `version` (one of its published versions)
    /// instead of the latest published one; `None` routes them back to the latest.
    pub fn deploy_version(&self, template_id: &str, version: Option<&str>) -> Result<Template, ModelError> {
        self.shared.lock().store.deploy_version(template_id, version.map(str::to_owned))
    }

    pub fn template(&self, id: &str) -> Option<Template> {
        self.shared.lock().store.templates.get(id).cloned()
    }

    pub fn seed_inquiry(&self, seed: SeedInquiry) -> Result<Inquiry, ModelError> {
        self.shared.lock().store.seed_inquiry(seed)
    }

    /// Plants an inquiry as Persona's embedded or hosted flow creates it from a browser: any reference id, joined
    /// to that reference id's account, no tag ([`BrowserInquiry`]).
    pub fn plant_browser_inquiry(&self, planted: BrowserInquiry) -> Result<Inquiry, ModelError> {
        self.shared.lock().store.seed_inquiry(planted.into_seed())
    }

    pub fn inquiry(&self, id: &str) -> Option<Inquiry> {
        self.shared.lock().store.inquiries.get(id).cloned()
    }

    /// Every inquiry, newest first (to count duplicates).
    pub fn inquiries(&self) -> Vec<Inquiry> {
        self.shared.lock().store.newest_first().into_iter().cloned().collect()
    }

    /// Whether the inquiry is pinned to an older version than its template's latest (None: undecidable).
    pub fn is_outdated(&self, id: &str) -> Option<bool> {
        let state = self.shared.lock();
        let inquiry = state.store.inquiries.get(id)?;
        state.store.is_outdated(inquiry)
    }

    pub fn set_inquiry_status(&self, id: &str, status: &str) -> Result<Inquiry, ModelError> {
        self.shared.lock().set_inquiry_status(id, status)
    }

    pub fn redact_inquiry(&self, id: &str) -> Result<Inquiry, ModelError> {
        self.shared.lock().redact_inquiry(id)
    }

    /// Marks the inquiry's session tokens used, so the next resume creates a new one.
    pub fn mark_sessions_used(&self, id: &str) -> Result<Inquiry, ModelError> {
        self.shared.lock().mark_sessions_used(id)
    }

    /// Plants an account (default: random id, the spec example's personal fields).
    pub fn seed_account(&self, seed: SeedAccount) -> Result<Account, ModelError> {
        self.shared.lock().store.seed_account(seed)
    }

    pub fn account(&self, id: &str) -> Option<Account> {
        self.shared.lock().store.accounts.get(id).cloned()
    }

    /// Every account, newest first.
    pub fn accounts(&self) -> Vec<Account> {
        self.shared.lock().store.accounts_newest_first().into_iter().cloned().collect()
    }

    /// The account an inquiry belongs to, if any.
    pub fn account_of(&self, inquiry_id: &str) -> Option<Account> {
        let state = self.shared.lock();
        let account_id = state.store.inquiries.get(inquiry_id)?.account_id.clone()?;
        state.store.accounts.get(&account_id).cloned()
    }

    /// Lax filters on (`true`): list endpoints ignore every filter and answer everything of their type.
    pub fn set_lax_filters(&self, lax: bool) {
        self.update_settings(|s| s.lax_filters = lax);
    }

    /// Loose reference ids on (`true`): `filter[reference-id]` matches case-insensitively (and splits on
    /// commas on the inquiry list too).
    pub fn set_loose_reference_ids(&self, loose: bool) {
        self.update_settings(|s| s.loose_reference_ids = loose);
    }

    /// How many answers carried an account object with personal data (name, address, birthdate,
    /// identification numbers…) since start or reset: a client that only asks `fields[account]=reference-id`
    /// keeps this at 0.
    pub fn personal_fields_served(&self) -> usize {
        self.shared.lock().personal_fields_served
    }

    /// A Persona incident: the next `count` requests to `endpoint` answer `status` without doing the work,
    /// and each answer is stored under its (fresh) idempotency key and replayed for that key later, as
    /// Persona does. After `count` requests the incident is over; keys that saw it keep replaying it.
    pub fn start_incident(&self, endpoint: Endpoint, status: u16, count: u32) {
        self.add_fault(Fault::new(endpoint, FaultKind::Status { status }).times(count));
    }

    /// The idempotency keys holding a stored answer, with that answer's status (sorted by key).
    pub fn stored_answers(&self) -> Vec<(String, u16)> {
        self.shared.lock().idempotency.statuses()
    }

    /// Persona forgot every idempotency key (its 24-hour window passed): a key sent again is processed afresh.
    pub fn forget_idempotency_keys(&self) {
        self.shared.lock().idempotency.clear();
    }

    /// Persona's cap on an inquiry's sessions (default 25; `0`: none).
    pub fn set_sessions_per_inquiry(&self, cap: u32) {
        self.update_settings(|s| s.sessions_per_inquiry = cap);
    }

    pub fn settings(&self) -> Settings {
        self.shared.lock().settings.clone()
    }

    /// Changes settings at run time; a changed rate limit starts a fresh window.
    pub fn update_settings(&self, f: impl FnOnce(&mut Settings)) -> Settings {
        self.shared.lock().update_settings(f)
    }

    /// Replaces the accepted API keys (key rotation).
    pub fn set_api_keys<I, K>(&self, keys: I)
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
        self.update_settings(|s| s.api_keys = keys);
    }

    /// Turns the rate limit on: `limit` requests per `window`.
    pub fn set_rate_limit(&self, limit: u32, window: Duration) {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        self.update_settings(|s| s.rate_limit = RateLimitSettings { enabled: true, limit: limit.max(1), window_ms });
    }

    pub fn disable_rate_limit(&self) {
        self.update_settings(|s| s.rate_limit.enabled = false);
    }

    /// Queues a fault.
    pub fn add_fault(&self, fault: Fault) {
        if let Err(e) = self.shared.lock().add_fault(fault) {
            panic!("bad fault: {e}");
        }
    }

    /// Faults not used up yet.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.lock().faults.pending()
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The request log (Persona requests only, oldest first).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// Responses that broke Persona's contract.
    pub fn violations(&self) -> Vec<ContractViolation> {
        self.shared.lock().violations.clone()
    }

    pub fn clear_violations(&self) {
        self.shared.lock().violations.clear();
    }

    /// Panics with the details when any answered document broke the contract.
    #[track_caller]
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "fake Persona answered {} document(s) that break Persona's OpenAPI contract:\n{:#?}",
            violations.len(),
            violations
        );
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakePersona {
    fn drop(&mut self) {
        self.stop();
    }
}
