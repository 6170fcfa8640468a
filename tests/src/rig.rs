//! The test rig, assembled: a fake Persona and the two functions, either in-process (the real handler, fast) or as
//! the real release binaries behind the Lambda Runtime API, with the key in moto's Secrets Manager and every
//! Persona call going through Prism's validating proxy. The scenarios in [`crate::scenarios`] run on both.
//!
//! This module is also the one place the test crate touches the library's API (configuration, state, handler,
//! event parsing, the function names): when the library renames something, this is what changes.
//!
//! The process rig (fake + moto + Prism) is started once per test binary and per Persona API version, on a runtime
//! of its own that lives as long as the binary ([`Rig::binaries`]), because every `#[tokio::test]` has a runtime
//! that ends with the test. Tests take turns on it (one at a time), each starting from a reset fake, so that what
//! Prism, the fake's contract check and our own contract check report is attributed to the test that caused it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lambda_http::RequestExt;
use persona_resume::app::limits;
use persona_resume::guard::{DynamoStore, Guard, GuardStore, LedgerWrite, MemoryStore, Store, UnixMillis, Written};
use persona_resume::lambda::api_event::ApiEvent;
use persona_resume::ops::config::Config;
use persona_resume::ops::secrets::{ApiKey, KeyStore};
use persona_resume::persona::retry::RetryPolicy;
use persona_resume::AppState;
use serde_json::{json, Value};
use tokio::sync::{Mutex, MutexGuard, OnceCell};

use crate::error::Result;
use crate::fake_persona::{FakeConfig, FakePersona, DEFAULT_API_KEY};
use crate::moto::{moto_server_path, Moto};
use crate::our_contract::Recorder;
use crate::paths::{persona_spec, release_binary};
use crate::prism::{prism_bin, running_in_ci, LoggedProblem, Prism};
use crate::runtime_api::{FunctionOptions, FunctionProcess};

/// Which of the two Lambda functions.
pub use persona_resume::Function;

/// The deadline each invocation is given (Lambda's timeout in the template is 25 s).
pub const INVOCATION_DEADLINE: Duration = Duration::from_secs(20);

/// The Persona API versions the process rig runs against: the spec Prism and the fake load, and the functions'
/// `PERSONA_VERSION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiVersion {
    V2025_12_08,
    V2023_01_05,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V2025_12_08 => "2025-12-08",
            ApiVersion::V2023_01_05 => "2023-01-05",
        }
    }
}

/// What the upstream side of a test may report: Prism's log, judged per test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// Every Persona call and answer within Persona's contract: Prism reports nothing.
    Contract,
    /// The test injects faults (5xx, hang-ups, garbage) that are outside Persona's contract on purpose: Prism's
    /// upstream-error lines are exempt; a request of ours that Prism rejects never is.
    InjectsFaults,
}

/// A function's answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn str(&self, member: &str) -> Option<&str> {
        self.body.get(member).and_then(Value::as_str)
    }
}

/// The long-lived processes of the binaries rig.
struct Processes {
    fake: Arc<FakePersona>,
    moto: Moto,
    secret_arn: String,
    prism: Option<Prism>,
    version: ApiVersion,
}

enum Backend {
    /// The guard's store is the rig's, shared by its deployments like a stack's table.
    InProcess(MemoryStore),
    Binaries(Arc<Processes>),
}

/// One test's view of a rig: the fake, the functions it deploys, and the answers they gave it.
pub struct Rig {
    pub fake: Arc<FakePersona>,
    backend: Backend,
    /// Every answer of this test's deployments, checked against openapi.yaml.
    answers: Arc<Recorder>,
    /// On the shared process rig: this test's turn, and where Prism's log stood when it began.
    turn: Option<Turn>,
}

struct Turn {
    _serial: MutexGuard<'static, ()>,
    prism_mark: usize,
}

/// The runtime the shared process rig was started on and its moto client runs on; it lives as long as the binary.
fn rig_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("shared-rig")
            .enable_all()
            .build()
            .expect("start the shared rig's runtime")
    })
}

/// One test at a time on the shared process rig (both versions: the fault tests measure time).
static TURNS: Mutex<()> = Mutex::const_new(());
static V2025_12_08: OnceCell<std::result::Result<Arc<Processes>, String>> = OnceCell::const_new();
static V2023_01_05: OnceCell<std::result::Result<Arc<Processes>, String>> = OnceCell::const_new();

/// A turn of this test binary's process-level tests to itself, for tests that start processes of their own
/// outside the shared rig (Prism, moto): the shared rig's fault tests measure time, and on a small machine a
/// Prism start-up beside them would be what they measure.
pub async fn exclusive_turn() -> MutexGuard<'static, ()> {
    TURNS.lock().await
}

/// What the process rig needs and is not installed, with how to install it.
fn missing_tools() -> Vec<String> {
    let mut missing = Vec::new();
    if release_binary("issue-link").is_err() || release_binary("resume-session").is_err() {
        missing.push("the release binaries: `cargo build --release -p issue-link -p resume-session`".to_owned());
    }
    if moto_server_path().is_err() {
        missing.push("moto (Secrets Manager): `bash ci/setup-python.sh`".to_owned());
    }
    missing
}

/// Whether a process-level test can run: `false` when a tool is missing, after saying so once per test binary
/// (written past the test harness's output capture, so a plain `cargo test` shows it). Under `CI` a missing tool
/// fails the test instead, so a missing install step can't pass unnoticed.
pub fn process_rig_available(test_name: &str) -> bool {
    let missing = missing_tools();
    if missing.is_empty() {
        return true;
    }
    if running_in_ci() {
        panic!("{test_name} needs {}", missing.join("; and "));
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let message = format!(
            "SKIPPED the process-level tests of this binary ({test_name} and the others): they need {}\n",
            missing.join("; and ")
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), message.as_bytes());
    });
    false
}

/// Prism runs when it is installed, and must under `CI`.
fn with_prism() -> bool {
    let with = prism_bin().is_some() || running_in_ci();
    if !with {
        let note = "NOTE: Prism is not installed (`npm ci` at the repository root): the process rig runs without \
                    the request contract check\n";
        let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
    }
    with
}

impl Processes {
    async fn start(version: ApiVersion, with_prism: bool) -> Result<Processes> {
        let spec = persona_spec(version.as_str());
        let fake =
            Arc::new(FakePersona::try_start(FakeConfig { spec_path: Some(spec.clone()), ..FakeConfig::default() })?);
        let (moto, prism) = tokio::join!(Moto::start(), async {
            match (with_prism, prism_bin()) {
                (true, Some(bin)) => Some(Prism::start_with(bin, spec.clone(), &fake.base_url()).await),
                (true, None) => Some(Err("Prism is not installed: run `npm ci` at the repository root".into())),
                (false, _) => None,
            }
        });
        let moto = moto?;
        let prism = prism.transpose()?;
        if let Some(prism) = &prism {
            eprintln!(
                "prism: validating proxy for Persona {} at {} (started in {:?})",
                version.as_str(),
                prism.base_url(),
                prism.startup_time()
            );
        }
        let secret_arn =
            moto.create_secret("persona-resume/e2e", &json!({"api_key": DEFAULT_API_KEY}).to_string()).await?;
        // The guard on moto's DynamoDB, its table made from template.yaml's definition, as deployed.
        moto.create_guard_table(GUARD_TABLE_NAME).await?;
        Ok(Processes { fake, moto, secret_arn, prism, version })
    }
}

impl Rig {
    /// The handler in this process, talking to a fake of its own directly.
    pub fn in_process() -> Rig {
        Rig {
            fake: Arc::new(FakePersona::start(FakeConfig::default())),
            backend: Backend::InProcess(MemoryStore::new()),
            answers: Arc::default(),
            turn: None,
        }
    }

    /// This test's turn on the shared process rig of `version`: the release binaries, moto holding the key, Prism
    /// in front of the fake (when installed; required under `CI`). The fake starts from a reset. `None` (after
    /// saying why) when the tools are not installed, outside CI.
    pub async fn binaries(version: ApiVersion, test_name: &str) -> Option<Rig> {
        if !process_rig_available(test_name) {
            return None;
        }
        let cell = match version {
            ApiVersion::V2025_12_08 => &V2025_12_08,
            ApiVersion::V2023_01_05 => &V2023_01_05,
        };
        let serial = TURNS.lock().await;
        let processes = cell
            .get_or_init(|| async move {
                let with_prism = with_prism();
                let started = rig_runtime().spawn(Processes::start(version, with_prism));
                match started.await {
                    Ok(started) => started.map(Arc::new).map_err(|e| e.to_string()),
                    Err(e) => Err(format!("the rig's start-up panicked: {e}")),
                }
            })
            .await
            .as_ref()
            .unwrap_or_else(|e| panic!("{test_name}: the process rig did not start: {e}"))
            .clone();
        processes.fake.reset();
        let prism_mark = processes.prism.as_ref().map_or(0, |p| p.child().output().len());
        Some(Rig {
            fake: processes.fake.clone(),
            backend: Backend::Binaries(processes),
            answers: Arc::default(),
            turn: Some(Turn { _serial: serial, prism_mark }),
        })
    }

    /// A process rig of this test's own (the load test: its own fake, moto and, `with_prism`, Prism).
    pub async fn own_binaries(with_prism: bool) -> Result<Rig> {
        let processes = Arc::new(Processes::start(ApiVersion::V2025_12_08, with_prism).await?);
        let fake = processes.fake.clone();
        Ok(Rig { fake, backend: Backend::Binaries(processes), answers: Arc::default(), turn: None })
    }

    fn processes(&self) -> Option<&Processes> {
        match &self.backend {
            Backend::Binaries(processes) => Some(processes),
            Backend::InProcess(_) => None,
        }
    }

    pub fn prism(&self) -> Option<&Prism> {
        self.processes()?.prism.as_ref()
    }

    /// Whether the functions run as release binaries (every deployment on moto's one guard table) rather than
    /// in-process (every deployment on the rig's one in-memory store).
    pub fn runs_binaries(&self) -> bool {
        self.processes().is_some()
    }

    /// Writes `writes` to the ledger entry `item_key` of the guard `functions` run on, as another container
    /// would (on the process rig: a client of its own on moto's table). Each write must hold.
    pub async fn write_ledger(&self, functions: &Deployment, item_key: &str, writes: &[LedgerWrite]) -> Result<()> {
        for write in writes {
            let now = UnixMillis::now();
            let written = match (&self.backend, &functions.functions) {
                (Backend::InProcess(_), Functions::InProcess(state)) => {
                    state.guard_for_tests().store().write_entry(item_key, write, now).await?
                }
                (Backend::Binaries(processes), Functions::Binaries { .. }) => {
                    let client = crate::moto::dynamodb_client(&processes.moto.endpoint_url());
                    let store = DynamoStore::new(client, GUARD_TABLE_NAME).with_budget(Duration::from_secs(10));
                    store.write_entry(item_key, write, now).await?
                }
                _ => return Err("a deployment of another rig".into()),
            };
            if written != Written::Yes {
                return Err(format!("ledger write {write:?} on {item_key}: {written:?}").into());
            }
        }
        Ok(())
    }

    /// The Persona API version the functions are configured for.
    pub fn api_version(&self) -> ApiVersion {
        self.processes().map_or(ApiVersion::V2025_12_08, |p| p.version)
    }

    /// Where the functions send Persona calls: Prism when it runs, else the fake.
    pub fn persona_base_url(&self) -> String {
        self.prism().map_or_else(|| self.fake.base_url(), Prism::base_url)
    }

    /// What a function process needs besides its own configuration: moto, the secret, Persona's URL and version.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let Some(processes) = self.processes() else { return Vec::new() };
        let mut vars = processes.moto.function_env();
        vars.push(("PERSONA_API_KEY_SECRET_ID".into(), processes.secret_arn.clone()));
        vars.push(("PERSONA_API_BASE_URL".into(), self.persona_base_url()));
        vars.push(("PERSONA_VERSION".into(), processes.version.as_str().to_owned()));
        vars.push(("GUARD_TABLE".into(), GUARD_TABLE_NAME.to_owned()));
        vars
    }

    /// Stores a new value of the Persona key secret in moto (a rotation). Runs on the rig's own runtime, where its
    /// client's connections live.
    pub async fn put_api_key_secret(&self, api_key: &str) -> Result<()> {
        let Backend::Binaries(processes) = &self.backend else { return Err("no moto on the in-process rig".into()) };
        let processes = processes.clone();
        let value = json!({"api_key": api_key}).to_string();
        let put = rig_runtime().spawn(async move {
            processes.moto.put_secret_value(&processes.secret_arn, &value).await.map_err(|e| e.to_string())
        });
        put.await.map_err(|e| e.to_string())??;
        Ok(())
    }

    /// Both functions with this configuration (on top of the Persona URL and key; later values win). The guard's
    /// budgets are off unless a scenario sets them: scenarios ask many times in a minute on purpose.
    pub async fn deploy(&self, env: &[(&str, &str)]) -> Result<Deployment> {
        let functions = match &self.backend {
            Backend::InProcess(store) => {
                let mut vars: Vec<(String, String)> = vec![
                    ("PERSONA_API_KEY".into(), DEFAULT_API_KEY.into()),
                    ("PERSONA_API_BASE_URL".into(), self.fake.base_url()),
                ];
                vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
                Functions::InProcess(Box::new(in_process_state_on(&vars, store.clone())?))
            }
            Backend::Binaries(_) => {
                let mut vars = self.function_env();
                vars.extend(BUDGETS_OFF.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
                vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
                let options = |name: &str| -> Result<FunctionOptions> {
                    Ok(FunctionOptions::new(release_binary(name)?).function_name(name).envs(vars.clone()))
                };
                let (issue_link, resume_session) = tokio::join!(
                    FunctionProcess::spawn_with(options("issue-link")?),
                    FunctionProcess::spawn_with(options("resume-session")?)
                );
                Functions::Binaries { issue_link: Box::new(issue_link?), resume_session: Box::new(resume_session?) }
            }
        };
        Ok(Deployment { functions, answers: self.answers.clone() })
    }

    /// Both functions talking to the fake directly, not through Prism: for faults that are outside Persona's
    /// contract on purpose (Prism would answer its own 5xx for them).
    pub async fn deploy_direct(&self, env: &[(&str, &str)]) -> Result<Deployment> {
        let base_url = self.fake.base_url();
        let mut vars = vec![("PERSONA_API_BASE_URL", base_url.as_str())];
        vars.extend_from_slice(env);
        self.deploy(&vars).await
    }

    /// The test's verdict on everything beside its own assertions: the fake answered within Persona's contract,
    /// every answer of ours was within openapi.yaml, and Prism reported nothing `upstream` doesn't allow.
    pub async fn finish(&self, test_name: &str, upstream: Upstream) {
        self.fake.assert_no_violations();
        let served = self.fake.personal_fields_served();
        assert_eq!(served, 0, "{test_name}: the fake served an account's personal fields {served} time(s)");
        let personal: Vec<String> = (self.fake.requests().iter())
            .filter(|r| reads_account_fields_beyond_reference_id(&r.path, r.query.as_deref().unwrap_or_default()))
            .map(|r| format!("{} {}?{}", r.method, r.path, r.query.as_deref().unwrap_or_default()))
            .collect();
        assert!(personal.is_empty(), "{test_name}: account reads without fields[account]=reference-id: {personal:?}");
        if let Err(report) = self.answers.verdict() {
            panic!("{test_name}: {report}");
        }
        if let (Some(prism), Some(turn)) = (self.prism(), &self.turn) {
            prism.child().output().wait_quiet(Duration::from_millis(300), Duration::from_secs(5)).await;
            let problems = prism.problems_since(turn.prism_mark);
            let lines: Vec<&str> = problems.iter().map(|p| p.line.as_str()).collect();
            let rejected =
                |p: &LoggedProblem| p.message.contains("UNPROCESSABLE_ENTITY") || p.message.contains("Invalid request");
            match upstream {
                Upstream::Contract => {
                    assert!(problems.is_empty(), "{test_name}: Prism reported:\n{}", lines.join("\n"))
                }
                Upstream::InjectsFaults => assert!(
                    !problems.iter().any(rejected),
                    "{test_name}: Prism rejected a request:\n{}",
                    lines.join("\n")
                ),
            }
        }
    }

    /// How many answers of this test were checked against openapi.yaml.
    pub fn answers_checked(&self) -> usize {
        self.answers.checked()
    }
}

/// Whether a Persona request reads accounts (`/accounts…`, or `include=account`) without asking for their reference
/// id only (`fields[account]=reference-id`): the functions must never receive a user's personal fields
/// (design.md *Who owns an inquiry*).
fn reads_account_fields_beyond_reference_id(path: &str, query: &str) -> bool {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let includes_account =
        pairs.iter().any(|(k, v)| k == "include" && v.split(',').any(|included| included.trim() == "account"));
    let reads_accounts = path.trim_end_matches('/').split('/').any(|segment| segment == "accounts");
    let sparse = pairs.iter().any(|(k, v)| k == "fields[account]" && v == "reference-id");
    (reads_accounts || includes_account) && !sparse
}

/// The guard's table in the process rig's moto.
pub const GUARD_TABLE_NAME: &str = "persona-resume-guard";

/// The guard's budgets, off: what every deployment of the rig starts from.
pub const BUDGETS_OFF: [(&str, &str); 3] =
    [("PERSONA_CALLS_PER_MINUTE", "0"), ("REQUESTS_PER_OWNER_PER_MINUTE", "0"), ("SESSIONS_PER_INQUIRY_PER_DAY", "0")];

/// The library's state for an in-process deployment, from its environment variables (later values win) and the
/// key held in memory; the guard in memory, its own.
pub fn in_process_state(vars: &[(String, String)]) -> Result<AppState> {
    in_process_state_on(vars, MemoryStore::new())
}

/// [`in_process_state`] on a given guard store (clones share it).
pub fn in_process_state_on(vars: &[(String, String)], store: MemoryStore) -> Result<AppState> {
    // The budgets off unless `vars` set them (the last value of a name wins).
    let budgets_off = BUDGETS_OFF.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let vars: Vec<(String, String)> = budgets_off.chain(vars.iter().cloned()).collect();
    let config = Config::from_lookup(|name| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()))?;
    let key =
        vars.iter().rev().find(|(k, _)| k == "PERSONA_API_KEY").map_or(DEFAULT_API_KEY.to_owned(), |(_, v)| v.clone());
    // The guard in memory, one per deployment like one container's (the process rig runs it on moto's DynamoDB).
    let guard = Guard::new(Store::Memory(store), limits(&config.guard));
    Ok(AppState::with_keys(config, KeyStore::fixed(ApiKey::new(key)), RetryPolicy::default(), guard)?)
}

/// Runs the real handler on a request, as the runtime would: a fresh request id and a deadline attached.
pub async fn handle_in_process(
    state: &AppState,
    function: Function,
    request: lambda_http::Request,
    request_id: String,
) -> Result<lambda_http::Response<lambda_http::Body>> {
    let mut context = lambda_http::Context::default();
    context.request_id = request_id;
    let deadline = std::time::SystemTime::now() + INVOCATION_DEADLINE;
    context.deadline = deadline.duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
    // Boxed: the handler's future nests deeply (handler, service, client, retry loop), and every test awaiting a
    // call would otherwise carry its whole layout (past the compiler's recursion limit).
    Box::pin(persona_resume::lambda::handler::handle(state, function, request.with_lambda_context(context))).await
}

/// Log output kept in memory: give it to [`json_log_subscriber`], read it back with [`CapturedLogs::json_lines`].
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }

    /// Every line written so far, each of which must be one JSON object.
    pub fn json_lines(&self) -> Vec<Value> {
        self.text().lines().map(|line| serde_json::from_str(line).expect("every log line is one JSON object")).collect()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The functions' JSON log format (the subscriber the binaries install), writing to `writer`.
pub fn json_log_subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    persona_resume::ops::telemetry::json_subscriber(writer).finish()
}

enum Functions {
    InProcess(Box<AppState>),
    Binaries { issue_link: Box<FunctionProcess>, resume_session: Box<FunctionProcess> },
}

/// Both functions, deployed with one configuration.
pub struct Deployment {
    functions: Functions,
    answers: Arc<Recorder>,
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

impl Deployment {
    pub async fn call(&self, function: Function, event: Value) -> Answer {
        self.try_call(function, event).await.unwrap_or_else(|e| panic!("invocation failed: {e}"))
    }

    /// Every answer is also checked against our own contract, openapi.yaml (see [`crate::our_contract`]); a
    /// violation is recorded and fails the test in [`Rig::finish`].
    pub async fn try_call(&self, function: Function, event: Value) -> Result<Answer> {
        let route = crate::our_contract::route_template(function, &event);
        let answer = self.invoke(function, event).await?;
        self.answers.record(&route, &answer);
        Ok(answer)
    }

    async fn invoke(&self, function: Function, event: Value) -> Result<Answer> {
        match &self.functions {
            Functions::InProcess(state) => {
                let request: lambda_http::Request = persona_resume::lambda::event::parse_event(event)?.into();
                let request_id = format!("in-process-{}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed));
                let response = handle_in_process(state, function, request, request_id).await?;
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                    .collect();
                Ok(Answer {
                    status: response.status().as_u16(),
                    headers,
                    body: serde_json::from_slice(response.body().as_ref())?,
                })
            }
            Functions::Binaries { .. } => {
                let process = self.process(function).ok_or("no process")?;
                let http = process.invoke(event, INVOCATION_DEADLINE).await?.http()?;
                let headers = http.headers.iter().filter_map(|(k, v)| Some((k.clone(), v.first()?.clone()))).collect();
                Ok(Answer { status: http.status, headers, body: http.json()? })
            }
        }
    }

    /// The process serving `function` (release binaries only).
    pub fn process(&self, function: Function) -> Option<&FunctionProcess> {
        match &self.functions {
            Functions::InProcess(_) => None,
            Functions::Binaries { issue_link, resume_session } => Some(match function {
                Function::IssueLink => issue_link,
                Function::ResumeSession => resume_session,
            }),
        }
    }

    /// The JSON log lines the functions wrote (binaries only; in-process logs go to the test's subscriber).
    pub fn json_logs(&self) -> Vec<Value> {
        [Function::IssueLink, Function::ResumeSession]
            .into_iter()
            .filter_map(|function| self.process(function))
            .flat_map(FunctionProcess::json_logs)
            .collect()
    }
}

/// Route of a function: `/inquiries/{id}/…` or `/me/…`.
fn route(function: Function, inquiry_id: Option<&str>) -> (String, String) {
    let action = match function {
        Function::IssueLink => "one-time-link",
        Function::ResumeSession => "session",
    };
    match inquiry_id {
        Some(id) => (format!("/inquiries/{{inquiry_id}}/{action}"), format!("/inquiries/{id}/{action}")),
        None => (format!("/me/{action}"), format!("/me/{action}")),
    }
}

/// An HTTP API (payload 2.0) event. `owner` becomes the `sub` claim of a JWT authorizer; `body` is sent as JSON.
pub fn http_api_event(function: Function, inquiry_id: Option<&str>, owner: Option<&str>, body: Option<&str>) -> Value {
    let (route, path) = route(function, inquiry_id);
    let event = ApiEvent::http_api("POST", &route, &path);
    let event = event.header("content-type", "application/json").header("host", "api.example.com");
    event_for(event, inquiry_id, owner.map(|owner| json!(owner)), body)
}

/// A REST API (payload 1.0) event with Cognito-style claims.
pub fn rest_api_event(function: Function, inquiry_id: Option<&str>, owner: Option<Value>, body: Option<&str>) -> Value {
    let (route, path) = route(function, inquiry_id);
    event_for(ApiEvent::rest("POST", &route, &path).header("Content-Type", "application/json"), inquiry_id, owner, body)
}

/// The parts both payloads share: a fresh API Gateway request id, the path parameter, `sub`, the body.
fn event_for(mut event: ApiEvent, inquiry_id: Option<&str>, owner: Option<Value>, body: Option<&str>) -> Value {
    event = event.request_id(&format!("apigw-{}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed)));
    if let Some(id) = inquiry_id {
        event = event.inquiry_id(id);
    }
    if let Some(owner) = owner {
        event = event.claims(json!({"sub": owner}));
    }
    if let Some(body) = body {
        event = event.body(body);
    }
    event.build()
}

#[cfg(test)]
mod tests {
    use super::reads_account_fields_beyond_reference_id as beyond;

    #[test]
    fn account_reads_must_ask_for_the_reference_id_only() {
        let cases = [
            ("/inquiries/inq_1", "", false),
            ("/inquiries/inq_1", "include=inquiry-template", false),
            ("/inquiries/inq_1", "include=account", true),
            ("/inquiries/inq_1", "include=inquiry-template,account", true),
            ("/inquiries/inq_1", "include=account&fields%5Baccount%5D=reference-id", false),
            ("/inquiries/inq_1", "include=account&fields[account]=reference-id", false),
            ("/inquiries/inq_1", "include=account&fields%5Baccount%5D=reference-id,name-first", true),
            ("/api/v1/accounts", "filter%5Breference-id%5D=u", true),
            ("/accounts", "filter[reference-id]=u&fields[account]=reference-id", false),
            ("/accounts/act_1", "", true),
            ("/accounts/act_1/", "fields%5Baccount%5D=reference-id", false),
            ("/inquiries", "filter%5Baccount-id%5D=act_1", false),
        ];
        for (path, query, expected) in cases {
            assert_eq!(beyond(path, query), expected, "{path}?{query}");
        }
    }
}
