//! The AWS Lambda Runtime API (`2018-06-01`), served locally, and a harness that runs a real function
//! binary against it the way Lambda does.
//!
//! Protocol (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>):
//! - `GET /2018-06-01/runtime/invocation/next` long-polls; the answer is the event, with
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (epoch ms),
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` (at most 6 MiB, else 413 and the invocation
//!   fails with `Function.ResponseSizeTooLarge`), `POST .../invocation/{id}/error`;
//! - `POST /2018-06-01/runtime/init/error`.
//!
//! One [`RuntimeApi`] serves one execution environment: [`FunctionProcess`] starts one per process,
//! so a load test simulating N Lambda containers runs N `FunctionProcess`es side by side.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::process::{ManagedChild, OutputLog, Stream};

pub use crate::paths::{binary_in_profile, release_binary};

/// Largest response payload Lambda accepts for a buffered (request-response) invocation.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;
/// The account id in the ARNs the rig makes up.
pub const ACCOUNT_ID: &str = "123456789012";

const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

/// An error report a function posted (`/invocation/{id}/error` or `/init/error`).
#[derive(Clone, Debug)]
pub struct ErrorReport {
    /// `errorType` of the body, else the `Lambda-Runtime-Function-Error-Type` header.
    pub error_type: String,
    /// `errorMessage` of the body (empty if none).
    pub error_message: String,
    /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
    pub header_error_type: Option<String>,
    /// The body as posted (JSON, or a JSON string holding non-JSON text).
    pub body: Value,
}

impl ErrorReport {
    fn from_post(headers: &HeaderMap, body: &[u8]) -> Self {
        let header_error_type = headers.get(ERROR_TYPE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body: Value =
            serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        Self {
            error_type: field("errorType").or_else(|| header_error_type.clone()).unwrap_or_default(),
            error_message: field("errorMessage").unwrap_or_default(),
            header_error_type,
            body,
        }
    }
}

/// What became of an invocation.
#[derive(Clone, Debug)]
pub enum InvokeResult {
    /// The function posted a response; the payload as JSON (for `lambda_http`, the API Gateway
    /// proxy response: see [`InvokeOutcome::http`]).
    Response(Value),
    /// The function posted an invocation error.
    Error(ErrorReport),
    /// No answer by the deadline plus the harness's grace: [`FunctionProcess`] then kills the process,
    /// as Lambda does.
    TimedOut,
    /// The process ended before answering.
    Crashed(Option<ExitStatus>),
}

/// The outcome of one invocation.
#[derive(Clone, Debug)]
pub struct InvokeOutcome {
    /// `Lambda-Runtime-Aws-Request-Id` (a UUID).
    pub request_id: String,
    pub result: InvokeResult,
    /// From handing the event to the function (its `next` request answered) to its response or
    /// error arriving; for [`InvokeResult::TimedOut`], to the moment the harness gave up.
    pub latency: Duration,
    /// From the `invoke` call to the hand-off (time the function was busy or still initialising).
    pub queued: Duration,
    /// The `Lambda-Runtime-Deadline-Ms` sent (epoch ms; 0 if never handed over).
    pub deadline_ms: u64,
}

impl InvokeOutcome {
    /// The response payload, or an error describing what happened instead.
    pub fn response(&self) -> Result<&Value> {
        match &self.result {
            InvokeResult::Response(value) => Ok(value),
            other => Err(format!("invocation {} did not answer with a response: {other:?}", self.request_id).into()),
        }
    }

    /// The error report, when the function reported one.
    pub fn error_report(&self) -> Option<&ErrorReport> {
        match &self.result {
            InvokeResult::Error(report) => Some(report),
            _ => None,
        }
    }

    /// The response read as an API Gateway proxy response (payload 1.0 or 2.0).
    pub fn http(&self) -> Result<HttpResponse> {
        HttpResponse::from_proxy_response(self.response()?)
    }
}

/// An API Gateway proxy integration response, as `lambda_http` returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    /// Lower-cased header names; `headers` and `multiValueHeaders` merged.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The body, base64-decoded when `isBase64Encoded`.
    pub body: Vec<u8>,
    /// Payload 2.0 `cookies`.
    pub cookies: Vec<String>,
}

impl HttpResponse {
    /// Reads `{"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}`.
    pub fn from_proxy_response(payload: &Value) -> Result<Self> {
        let status = payload
            .get("statusCode")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| format!("not an API Gateway proxy response (no statusCode): {payload}"))?;
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(multi) = payload.get("multiValueHeaders").and_then(Value::as_object) {
            for (name, values) in multi {
                let values = values.as_array().into_iter().flatten().filter_map(Value::as_str);
                headers.entry(name.to_ascii_lowercase()).or_default().extend(values.map(str::to_owned));
            }
        }
        if let Some(single) = payload.get("headers").and_then(Value::as_object) {
            for (name, value) in single {
                let entry = headers.entry(name.to_ascii_lowercase()).or_default();
                if let Some(value) = value.as_str() {
                    if !entry.iter().any(|v| v == value) {
                        entry.push(value.to_owned());
                    }
                }
            }
        }
        let text = payload.get("body").and_then(Value::as_str).unwrap_or_default();
        let body = if payload.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
            base64::engine::general_purpose::STANDARD.decode(text)?
        } else {
            text.as_bytes().to_vec()
        };
        let cookies = payload
            .get("cookies")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Self { status, headers, body, cookies })
    }

    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).and_then(|v| v.first()).map(String::as_str)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|e| format!("body is not JSON ({e}): {}", self.text()).into())
    }
}

struct Queued {
    request_id: String,
    event: Bytes,
    deadline: Duration,
    trace_id: String,
    handed: oneshot::Sender<Handed>,
    reply: oneshot::Sender<Reply>,
}

struct Handed {
    at: Instant,
    deadline_ms: u64,
}

enum Reply {
    Response(Bytes, Instant),
    Error(ErrorReport, Instant),
}

struct Shared {
    function_arn: String,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    first_next: watch::Sender<Option<Instant>>,
    next_calls: AtomicU64,
    init_error: watch::Sender<Option<ErrorReport>>,
    closed: watch::Sender<bool>,
}

/// A Lambda Runtime API server on 127.0.0.1 (a free port), serving one execution environment.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Queued>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts the server on the current tokio runtime. `function_arn` is sent as
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub async fn start(function_arn: impl Into<String>) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let addr = listener.local_addr()?;
        let (queue, incoming) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: function_arn.into(),
            queue: tokio::sync::Mutex::new(incoming),
            pending: Mutex::default(),
            first_next: watch::Sender::new(None),
            next_calls: AtomicU64::new(0),
            init_error: watch::Sender::new(None),
            closed: watch::Sender::new(false),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route("/2018-06-01/runtime/invocation/{request_id}/response", post(invocation_response))
            .route("/2018-06-01/runtime/invocation/{request_id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"errorType": "NotFound"}))) })
            .layer(DefaultBodyLimit::max(MAX_RESPONSE_BYTES + 1024 * 1024))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("test rig: runtime API server stopped: {e}");
            }
        });
        Ok(Self { addr, shared, queue, server })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`127.0.0.1:PORT`).
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an event, if it has.
    pub fn first_next_at(&self) -> Option<Instant> {
        *self.shared.first_next.borrow()
    }

    /// How many `next` requests arrived so far.
    pub fn next_calls(&self) -> u64 {
        self.shared.next_calls.load(Ordering::Relaxed)
    }

    /// The init error the function reported, if any.
    pub fn init_error(&self) -> Option<ErrorReport> {
        self.shared.init_error.borrow().clone()
    }

    /// Waits for the first `next` request; its instant.
    pub async fn wait_first_next(&self) -> Instant {
        let mut first = self.shared.first_next.subscribe();
        let at = first.wait_for(Option::is_some).await.ok().and_then(|at| *at);
        match at {
            Some(at) => at,
            None => std::future::pending().await,
        }
    }

    /// Waits for an init error report.
    pub async fn wait_init_error(&self) -> ErrorReport {
        let mut reported = self.shared.init_error.subscribe();
        let report = reported.wait_for(Option::is_some).await.ok().and_then(|r| r.clone());
        match report {
            Some(report) => report,
            None => std::future::pending().await,
        }
    }

    /// Queues `event` for the function and waits for the answer: up to `deadline + grace` after the
    /// hand-off (the function is told the deadline), without a bound on the wait for the hand-off.
    /// Use [`FunctionProcess::invoke`] when the rig runs the process.
    pub async fn invoke(&self, event: &Value, deadline: Duration, grace: Duration) -> Result<InvokeOutcome> {
        self.invoke_while(event, deadline, grace, Duration::MAX, std::future::pending()).await
    }

    /// [`RuntimeApi::invoke`] that gives up when `died` resolves (the process ended) or the hand-off
    /// does not happen within `handoff_timeout`.
    async fn invoke_while(
        &self,
        event: &Value,
        deadline: Duration,
        grace: Duration,
        handoff_timeout: Duration,
        died: impl Future<Output = Option<ExitStatus>>,
    ) -> Result<InvokeOutcome> {
        let request_id = uuid_v4();
        let (handed_tx, handed_rx) = oneshot::channel();
        let (reply_tx, reply_rx) = oneshot::channel();
        let invoked_at = Instant::now();
        self.queue
            .send(Queued {
                request_id: request_id.clone(),
                event: Bytes::from(serde_json::to_vec(event)?),
                deadline,
                trace_id: trace_id(),
                handed: handed_tx,
                reply: reply_tx,
            })
            .map_err(|_| "the runtime API server is closed")?;
        tokio::pin!(died);
        let outcome = |result, latency, queued, deadline_ms| InvokeOutcome {
            request_id: request_id.clone(),
            result,
            latency,
            queued,
            deadline_ms,
        };
        let handoff_limit = tokio::time::sleep(handoff_timeout.min(Duration::from_secs(24 * 3600)));
        let handed = tokio::select! {
            handed = handed_rx => handed.map_err(|_| format!(
                "event {request_id} was lost: the function's `next` request went away before it was answered"
            ))?,
            status = &mut died => {
                return Ok(outcome(InvokeResult::Crashed(status), Duration::ZERO, invoked_at.elapsed(), 0));
            }
            () = handoff_limit => {
                return Err(format!(
                    "the function did not ask for event {request_id} within {handoff_timeout:?}"
                ).into());
            }
        };
        let queued = handed.at.duration_since(invoked_at);
        let limit = tokio::time::Instant::from_std(handed.at + deadline + grace);
        let result = tokio::select! {
            reply = reply_rx => match reply {
                Ok(Reply::Response(body, at)) => {
                    let value = serde_json::from_slice(&body).map_err(|e| format!(
                        "response of {request_id} is not JSON ({e}): {}", String::from_utf8_lossy(&body)
                    ))?;
                    return Ok(outcome(InvokeResult::Response(value), at.duration_since(handed.at), queued, handed.deadline_ms));
                }
                Ok(Reply::Error(report, at)) => {
                    return Ok(outcome(InvokeResult::Error(report), at.duration_since(handed.at), queued, handed.deadline_ms));
                }
                Err(_) => return Err("the runtime API server closed during the invocation".into()),
            },
            status = &mut died => InvokeResult::Crashed(status),
            () = tokio::time::sleep_until(limit) => InvokeResult::TimedOut,
        };
        self.shared.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&request_id);
        Ok(outcome(result, handed.at.elapsed(), queued, handed.deadline_ms))
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.closed.send_replace(true);
        self.server.abort();
    }
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (status, Json(json!({"errorMessage": message, "errorType": error_type}))).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, Json(json!({"status": "OK"}))).into_response()
}

async fn next_invocation(State(shared): State<Arc<Shared>>) -> Response {
    shared.next_calls.fetch_add(1, Ordering::Relaxed);
    shared.first_next.send_if_modified(|first| {
        if first.is_none() {
            *first = Some(Instant::now());
            true
        } else {
            false
        }
    });
    let mut closed = shared.closed.subscribe();
    let shutting_down = async move {
        let _ = closed.wait_for(|closed| *closed).await;
    };
    tokio::pin!(shutting_down);
    let mut queue = tokio::select! {
        queue = shared.queue.lock() => queue,
        () = &mut shutting_down => return runtime_error(StatusCode::GONE, "ShuttingDown", "runtime API closed"),
    };
    loop {
        let queued = tokio::select! {
            queued = queue.recv() => queued,
            () = &mut shutting_down => None,
        };
        let Some(queued) = queued else {
            return runtime_error(StatusCode::GONE, "ShuttingDown", "runtime API closed");
        };
        if queued.handed.is_closed() {
            continue; // the caller gave up on it before it was handed over
        }
        let at = Instant::now();
        let deadline_ms = epoch_ms(SystemTime::now() + queued.deadline);
        shared.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(queued.request_id.clone(), queued.reply);
        let _ = queued.handed.send(Handed { at, deadline_ms });
        let mut response = Response::new(axum::body::Body::from(queued.event));
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set("content-type", "application/json");
        set("lambda-runtime-aws-request-id", &queued.request_id);
        set("lambda-runtime-deadline-ms", &deadline_ms.to_string());
        set("lambda-runtime-invoked-function-arn", &shared.function_arn);
        set("lambda-runtime-trace-id", &queued.trace_id);
        return response;
    }
}

async fn invocation_response(
    State(shared): State<Arc<Shared>>,
    UrlPath(request_id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let Some(reply) = shared.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&request_id) else {
        return runtime_error(StatusCode::BAD_REQUEST, "InvalidRequestID", "unknown or finished request id");
    };
    let now = Instant::now();
    if body.len() > MAX_RESPONSE_BYTES {
        let message = format!("Response payload size ({} bytes) exceeded maximum allowed payload size", body.len());
        let report = ErrorReport {
            error_type: "Function.ResponseSizeTooLarge".into(),
            error_message: message.clone(),
            header_error_type: None,
            body: json!({"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}),
        };
        let _ = reply.send(Reply::Error(report, now));
        return runtime_error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", &message);
    }
    let _ = reply.send(Reply::Response(body, now));
    accepted()
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    UrlPath(request_id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(reply) = shared.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&request_id) else {
        return runtime_error(StatusCode::BAD_REQUEST, "InvalidRequestID", "unknown or finished request id");
    };
    let _ = reply.send(Reply::Error(ErrorReport::from_post(&headers, &body), Instant::now()));
    accepted()
}

async fn init_error(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if shared.first_next.borrow().is_some() {
        return runtime_error(StatusCode::FORBIDDEN, "InvalidStateTransition", "init already finished");
    }
    shared.init_error.send_replace(Some(ErrorReport::from_post(&headers, &body)));
    accepted()
}

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A random version-4 UUID, as Lambda's request ids.
pub fn uuid_v4() -> String {
    let bits = fastrand::u128(..);
    let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// An X-Ray trace header like Lambda's: `Root=1-<epoch hex>-<96 bits>;Parent=<64 bits>;Sampled=0`.
fn trace_id() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let root = fastrand::u128(..) & ((1u128 << 96) - 1);
    format!("Root=1-{secs:08x}-{root:024x};Parent={:016x};Sampled=0", fastrand::u64(..))
}

/// How to run a function binary. [`FunctionOptions::new`] gives Lambda's defaults for a 128 MB
/// function in us-east-1.
#[derive(Clone, Debug)]
pub struct FunctionOptions {
    pub binary: PathBuf,
    /// `AWS_LAMBDA_FUNCTION_NAME` (default: the binary's file name).
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (default 128).
    pub memory_mb: u32,
    /// `AWS_LAMBDA_FUNCTION_VERSION` (default `$LATEST`).
    pub version: String,
    /// `AWS_REGION` and `AWS_DEFAULT_REGION` (default `us-east-1`).
    pub region: String,
    /// Caller-given variables, applied after (so overriding) the Lambda ones.
    pub env: Vec<(String, String)>,
    /// Inherit the test process's environment (default `false`: a clean environment like Lambda's,
    /// so a developer's `AWS_PROFILE` or `PERSONA_API_KEY` cannot leak into a run).
    pub inherit_env: bool,
    /// How long past the deadline an invocation may take before it counts as timed out (default 2 s).
    pub timeout_grace: Duration,
    /// Longest wait for the process to ask for its first event or for an event hand-off (default 60 s).
    pub ready_timeout: Duration,
}

impl FunctionOptions {
    /// Lambda's defaults for `binary`.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        let binary = binary.into();
        let function_name = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Self {
            binary,
            function_name,
            memory_mb: 128,
            version: "$LATEST".into(),
            region: "us-east-1".into(),
            env: Vec::new(),
            inherit_env: false,
            timeout_grace: Duration::from_secs(2),
            ready_timeout: Duration::from_secs(60),
        }
    }

    /// Adds one environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Adds environment variables.
    pub fn envs<K: Into<String>, V: Into<String>>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self {
        self.env.extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = name.into();
        self
    }

    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = memory_mb;
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    pub fn inherit_env(mut self, inherit: bool) -> Self {
        self.inherit_env = inherit;
        self
    }

    pub fn timeout_grace(mut self, grace: Duration) -> Self {
        self.timeout_grace = grace;
        self
    }

    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// `arn:aws:lambda:<region>:123456789012:function:<name>`.
    pub fn function_arn(&self) -> String {
        format!("arn:aws:lambda:{}:{ACCOUNT_ID}:function:{}", self.region, self.function_name)
    }
}

/// How an init failed.
#[derive(Clone, Debug)]
pub struct InitFailure {
    /// What the function posted to `/runtime/init/error`, if it did.
    pub report: Option<ErrorReport>,
    /// The exit status (`None` if it could not be reaped).
    pub exit_status: Option<ExitStatus>,
    /// Whether the harness had to kill it (it reported an init error but did not exit within 2 s;
    /// Lambda would have killed it too).
    pub killed_by_harness: bool,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl InitFailure {
    /// Whether the report, stdout or stderr mentions `needle` (e.g. the name of a bad variable).
    pub fn mentions(&self, needle: &str) -> bool {
        let in_report =
            self.report.as_ref().is_some_and(|r| r.error_message.contains(needle) || r.error_type.contains(needle));
        in_report || self.stdout.iter().chain(&self.stderr).any(|l| l.contains(needle))
    }
}

/// A function binary running against its own [`RuntimeApi`], like one Lambda execution environment.
/// Dropping it kills the process.
pub struct FunctionProcess {
    // Field order is drop order: the process is killed before its runtime API closes.
    child: ManagedChild,
    api: RuntimeApi,
    options: FunctionOptions,
    invocations: AtomicU64,
}

impl std::fmt::Debug for FunctionProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionProcess")
            .field("function", &self.options.function_name)
            .field("pid", &self.child.pid())
            .field("runtime_api", &self.api.addr)
            .finish_non_exhaustive()
    }
}

impl FunctionProcess {
    /// Spawns `binary` with Lambda's environment plus `env`.
    pub async fn spawn<K, V>(binary: impl AsRef<Path>, env: impl IntoIterator<Item = (K, V)>) -> Result<Self>
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self::spawn_with(FunctionOptions::new(binary.as_ref()).envs(env)).await
    }

    /// Spawns a function as `options` say.
    pub async fn spawn_with(options: FunctionOptions) -> Result<Self> {
        if !options.binary.is_file() {
            return Err(format!("function binary {} does not exist", options.binary.display()).into());
        }
        let api = RuntimeApi::start(options.function_arn()).await?;
        let mut command = Command::new(&options.binary);
        if !options.inherit_env {
            command.env_clear();
        }
        let task_root = options.binary.parent().unwrap_or_else(|| Path::new("/"));
        command.current_dir(task_root);
        let name = &options.function_name;
        let stream = format!("{}/[{}]{:032x}", today(), options.version, fastrand::u128(..));
        let lambda_env = [
            ("AWS_LAMBDA_RUNTIME_API", api.host_port()),
            ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", options.memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", options.version.clone()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_REGION", options.region.clone()),
            ("AWS_DEFAULT_REGION", options.region.clone()),
            ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
            ("LAMBDA_RUNTIME_DIR", task_root.display().to_string()),
            ("_HANDLER", "bootstrap".into()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
            ("LANG", "en_US.UTF-8".into()),
            ("TZ", ":UTC".into()),
        ];
        command.envs(lambda_env);
        command.envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let child = ManagedChild::spawn(name.clone(), command)?;
        Ok(Self { options, api, child, invocations: AtomicU64::new(0) })
    }

    /// Spawns `count` processes of the same function (one per simulated execution environment).
    pub async fn spawn_many(options: &FunctionOptions, count: usize) -> Result<Vec<Self>> {
        let mut processes = Vec::with_capacity(count);
        for _ in 0..count {
            processes.push(Self::spawn_with(options.clone()).await?);
        }
        Ok(processes)
    }

    /// Time from spawn to the first `next` request (waits for it, up to `ready_timeout`). Fails
    /// with the captured output when the process exits first.
    pub async fn cold_start(&self) -> Result<Duration> {
        let timeout = self.options.ready_timeout;
        tokio::select! {
            at = self.api.wait_first_next() => Ok(at.duration_since(self.child.started_at())),
            exit = self.child.exited() => Err(format!(
                "{} exited ({}) before asking for its first event{}; output:\n{}",
                self.options.function_name,
                describe_status(exit.status),
                self.api.init_error().map(|r| format!(" (init error reported: {r:?})")).unwrap_or_default(),
                self.child.output().dump(),
            ).into()),
            () = tokio::time::sleep(timeout) => Err(format!(
                "{} did not ask for its first event within {timeout:?}; output:\n{}",
                self.options.function_name, self.child.output().dump(),
            ).into()),
        }
    }

    /// Invokes the function with `event`, telling it the deadline is `deadline` from the hand-off.
    /// Waits for the answer up to the deadline plus `timeout_grace`; on a timeout the process is
    /// killed (as Lambda does), so later invocations report [`InvokeResult::Crashed`].
    pub async fn invoke(&self, event: Value, deadline: Duration) -> Result<InvokeOutcome> {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let died = async { self.child.exited().await.status };
        let outcome = self
            .api
            .invoke_while(&event, deadline, self.options.timeout_grace, self.options.ready_timeout, died)
            .await
            .map_err(|e| format!("{e}; output of {}:\n{}", self.options.function_name, self.child.output().dump()))?;
        if matches!(outcome.result, InvokeResult::TimedOut) {
            self.child.kill();
        }
        Ok(outcome)
    }

    /// Waits for the process to fail its init: it exits, or reports to `/runtime/init/error` (then it
    /// gets 2 s to exit before it is killed). Fails if it asks for an event instead (init succeeded)
    /// or nothing happens within `timeout`.
    pub async fn init_failure(&self, timeout: Duration) -> Result<InitFailure> {
        let name = &self.options.function_name;
        let mut killed_by_harness = false;
        let exit = tokio::select! {
            exit = self.child.exited() => exit,
            _ = self.api.wait_init_error() => match self.child.wait_exit(Duration::from_secs(2)).await {
                Some(exit) => exit,
                None => {
                    killed_by_harness = true;
                    self.child.kill_and_wait().await.ok_or_else(|| format!("{name} could not be killed"))?
                }
            },
            _ = self.api.wait_first_next() => return Err(format!(
                "{name} did not fail its init: it asked for an event; output:\n{}", self.child.output().dump()
            ).into()),
            () = tokio::time::sleep(timeout) => return Err(format!(
                "{name} neither failed nor finished its init within {timeout:?}; output:\n{}",
                self.child.output().dump()
            ).into()),
        };
        // The reader threads may still be draining the pipes: give them a moment to reach EOF.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(InitFailure {
            report: self.api.init_error(),
            exit_status: exit.status,
            killed_by_harness,
            stdout: self.child.output().stdout(),
            stderr: self.child.output().stderr(),
        })
    }

    /// Peak resident set size in KiB (`VmHWM`; after exit, the kernel's `ru_maxrss`).
    pub fn peak_rss_kb(&self) -> Result<u64> {
        self.child.peak_rss_kb()
    }

    /// Current resident set size in KiB (`VmRSS`).
    pub fn rss_kb(&self) -> Result<u64> {
        self.child.rss_kb()
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    pub fn options(&self) -> &FunctionOptions {
        &self.options
    }

    pub fn runtime_api(&self) -> &RuntimeApi {
        &self.api
    }

    /// The process handle (exit status, raw output).
    pub fn child(&self) -> &ManagedChild {
        &self.child
    }

    /// Everything captured from stdout and stderr.
    pub fn output(&self) -> &OutputLog {
        self.child.output()
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.child.output().stdout()
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.child.output().stderr()
    }

    /// The stdout lines that are JSON objects (the function's structured log).
    pub fn json_logs(&self) -> Vec<Value> {
        self.stdout_lines().iter().filter_map(|l| parse_json_object(l)).collect()
    }

    /// The JSON log lines whose text contains `needle` (e.g. an invocation's request id).
    pub fn json_logs_mentioning(&self, needle: &str) -> Vec<Value> {
        self.stdout_lines().iter().filter(|l| l.contains(needle)).filter_map(|l| parse_json_object(l)).collect()
    }

    /// The JSON log lines mentioning `needle`, after waiting up to `timeout` for the first one: the
    /// pipe is read by another thread, so a line written just before the response may arrive just
    /// after it. Empty if none arrived in time.
    pub async fn wait_for_json_logs_mentioning(&self, needle: &str, timeout: Duration) -> Vec<Value> {
        let found = self
            .child
            .output()
            .wait_for(
                |l| l.stream == Stream::Stdout && l.text.contains(needle) && parse_json_object(&l.text).is_some(),
                timeout,
            )
            .await;
        if found.is_none() {
            return Vec::new();
        }
        self.json_logs_mentioning(needle)
    }

    /// Waits until a JSON log line on stdout satisfies `pred`.
    pub async fn wait_for_json_log(&self, mut pred: impl FnMut(&Value) -> bool, timeout: Duration) -> Option<Value> {
        let line = self
            .child
            .output()
            .wait_for(|l| l.stream == Stream::Stdout && parse_json_object(&l.text).is_some_and(|v| pred(&v)), timeout)
            .await?;
        parse_json_object(&line.text)
    }

    /// How many invocations were started on this process.
    pub fn invocation_count(&self) -> u64 {
        self.invocations.load(Ordering::Relaxed)
    }

    /// The exit status, if the process has ended.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.child.exit().and_then(|e| e.status)
    }

    /// Kills the process and waits until it is reaped.
    pub async fn kill(&self) -> Option<ExitStatus> {
        self.child.kill_and_wait().await.and_then(|e| e.status)
    }
}

fn parse_json_object(line: &str) -> Option<Value> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    serde_json::from_str::<Value>(line).ok().filter(Value::is_object)
}

fn describe_status(status: Option<ExitStatus>) -> String {
    status.map(|s| s.to_string()).unwrap_or_else(|| "status unknown".into())
}

/// `YYYY/MM/DD` (UTC) for the log stream name.
fn today() -> String {
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() / 86_400).unwrap_or(0) as i64;
    let (year, month, day) = crate::fake_persona::util::civil_from_days(days);
    format!("{year:04}/{month:02}/{day:02}")
}
