//! Stoplight Prism as a validating proxy in front of the (fake) Persona API, loaded with Persona's
//! OpenAPI file: `prism proxy <spec> <upstream> --errors -p <port> -h 127.0.0.1`.
//!
//! Install: `npm ci` at the repository root (`package.json` pins `@stoplight/prism-cli`). The
//! executable is `PRISM_BIN` if set, else `<repo>/node_modules/.bin/prism`. The spec is
//! `PERSONA_OPENAPI_SPEC` if set, else the vendored `<repo>/persona-openapi/2025-12-08/openapi-bundled.json`.
//!
//! What Prism does with `--errors` (observed with prism-cli 5.14.2 on this spec):
//! - a request that breaks the contract is answered by Prism itself, never forwarded:
//!   `422 application/problem+json` with `type` `https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY`,
//!   `title` `Invalid request` and a `validation` list of `{location, severity, code, message}`
//!   (see [`validation_rejection`]); a request without `Authorization: Bearer` gets `401`
//!   (`#UNAUTHORIZED`), an unknown path `404` (`#NO_PATH_MATCHED_ERROR`), an unreachable upstream
//!   `500` (`type` `FetchError`). Each is logged as
//!   `[HTTP SERVER] post /inquiries/x/resume ✖  error     Request terminated with error: <type>: <title>`
//!   — the `validation` details are only in the answer, not in the log (see [`Prism::problems`]);
//! - a *response* that breaks the contract is passed through unchanged and nothing is logged, so
//!   responses need their own check.
//!
//! Prism forwards the request path appended to the upstream URL's path: with upstream
//! `http://127.0.0.1:P/api/v1`, `POST <prism>/inquiries/inq_1/resume` reaches
//! `http://127.0.0.1:P/api/v1/inquiries/inq_1/resume`. Point the functions' `PERSONA_API_BASE_URL`
//! at [`Prism::base_url`].

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::Result;
use crate::paths::{persona_spec, workspace_root};
use crate::ports::free_port;
use crate::process::ManagedChild;

/// The Persona API version whose spec the rig loads by default.
pub const PERSONA_API_VERSION: &str = "2025-12-08";

/// The Prism executable: `PRISM_BIN` if set (it must exist), else `<repo>/node_modules/.bin/prism`
/// if installed, else `None`.
pub fn prism_bin() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PRISM_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let local = workspace_root().join("node_modules/.bin/prism");
    local.is_file().then_some(local)
}

/// Persona's bundled OpenAPI file (`PERSONA_OPENAPI_SPEC` overrides).
pub fn openapi_spec() -> PathBuf {
    if let Some(path) = std::env::var_os("PERSONA_OPENAPI_SPEC").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    persona_spec(PERSONA_API_VERSION)
}

/// Whether the `CI` variable is set (to anything but empty, `0` or `false`).
pub fn running_in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// For tests that need Prism: its executable, or `None` after printing why the test is skipped.
/// Panics instead of skipping when `CI` is set, so a missing install step fails CI.
pub fn prism_or_skip(test_name: &str) -> Option<PathBuf> {
    match prism_bin() {
        Some(bin) => Some(bin),
        None if running_in_ci() => {
            panic!("{test_name}: Prism is not installed (run `npm ci` at the repository root or set PRISM_BIN)")
        }
        None => {
            eprintln!(
                "SKIPPED {test_name}: Prism is not installed (run `npm ci` at the repository root or set PRISM_BIN)"
            );
            None
        }
    }
}

/// One entry of a Prism `validation` list.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    /// e.g. `["body", "meta"]`, `["header", "persona-version"]` (empty when Prism gives none).
    pub location: Vec<String>,
    pub severity: String,
    /// A JSON-schema keyword (`additionalProperties`, `enum`, `required`) or an HTTP status (`415`).
    pub code: String,
    pub message: String,
}

/// Prism's answer to a request that breaks the contract.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidationRejection {
    pub title: String,
    pub detail: String,
    pub violations: Vec<Violation>,
}

/// The `type` of a problem document Prism generated itself (`https://stoplight.io/prism/errors#...`,
/// or `FetchError` when the upstream could not be reached), `None` for anything else.
pub fn prism_problem_type(body: &[u8]) -> Option<String> {
    let body: Value = serde_json::from_slice(body).ok()?;
    let kind = body.get("type")?.as_str()?;
    (kind.starts_with("https://stoplight.io/prism/errors#") || kind == "FetchError").then(|| kind.to_owned())
}

/// Reads Prism's rejection of a bad request: status 422, `type` ending in `#UNPROCESSABLE_ENTITY`,
/// and its `validation` list. `None` for any other answer.
pub fn validation_rejection(status: u16, body: &[u8]) -> Option<ValidationRejection> {
    if status != 422 {
        return None;
    }
    let body: Value = serde_json::from_slice(body).ok()?;
    if !body.get("type")?.as_str()?.ends_with("#UNPROCESSABLE_ENTITY") {
        return None;
    }
    let text = |v: &Value, key: &str| match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let violations = body
        .get("validation")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| Violation {
            location: v
                .get("location")
                .and_then(Value::as_array)
                .map(|l| l.iter().map(|p| p.as_str().map(str::to_owned).unwrap_or_else(|| p.to_string())).collect())
                .unwrap_or_default(),
            severity: text(v, "severity"),
            code: text(v, "code"),
            message: text(v, "message"),
        })
        .collect();
    Some(ValidationRejection { title: text(&body, "title"), detail: text(&body, "detail"), violations })
}

/// A problem Prism logged (an `✖ error` or `⚠ warning` line).
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedProblem {
    /// `error` or `warning`.
    pub level: String,
    /// Lower-case, as Prism logs it (`post`), when the line names a request.
    pub method: Option<String>,
    pub path: Option<String>,
    /// The text after the level (e.g. `Request terminated with error: https://...#UNPROCESSABLE_ENTITY: Invalid request`).
    pub message: String,
    /// The whole line.
    pub line: String,
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads one line of Prism's log as a problem, if it is one.
pub fn parse_logged_problem(line: &str) -> Option<LoggedProblem> {
    let clean = strip_ansi(line);
    let (marker, level) = if clean.contains('✖') {
        ('✖', "error")
    } else if clean.contains('⚠') {
        ('⚠', "warning")
    } else {
        return None;
    };
    let (before, after) = clean.split_once(marker)?;
    let after = after.trim_start();
    let message = after.strip_prefix(level).unwrap_or(after).trim().to_owned();
    let (method, path) = match before.split_once("[HTTP SERVER]") {
        Some((_, request)) => {
            let mut words = request.split_whitespace();
            (words.next().map(str::to_owned), words.next().map(str::to_owned))
        }
        None => (None, None),
    };
    Some(LoggedProblem { level: level.to_owned(), method, path, message, line: clean })
}

/// A running Prism proxy (killed on drop).
pub struct Prism {
    child: ManagedChild,
    port: u16,
    upstream: String,
    spec: PathBuf,
    startup: Duration,
}

impl std::fmt::Debug for Prism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prism").field("base_url", &self.base_url()).field("upstream", &self.upstream).finish()
    }
}

impl Prism {
    /// Starts Prism (found by [`prism_bin`]) on [`openapi_spec`] in front of `upstream`.
    pub async fn start(upstream: &str) -> Result<Self> {
        let bin = prism_bin().ok_or("Prism is not installed: run `npm ci` at the repository root, or set PRISM_BIN")?;
        Self::start_with(bin, openapi_spec(), upstream).await
    }

    /// Starts `bin proxy <spec> <upstream> --errors -p <free port> -h 127.0.0.1` and waits for its
    /// "Prism is listening" line (up to `PRISM_START_TIMEOUT_SECS`, default 180 s: loading this
    /// 3 MB spec takes ~8 s on an idle machine, ~30 s while cargo builds).
    pub async fn start_with(bin: PathBuf, spec: PathBuf, upstream: &str) -> Result<Self> {
        if !bin.is_file() {
            return Err(format!("Prism executable {} does not exist", bin.display()).into());
        }
        if !spec.is_file() {
            return Err(format!("OpenAPI spec {} does not exist (set PERSONA_OPENAPI_SPEC)", spec.display()).into());
        }
        let timeout = std::env::var("PRISM_START_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(180));
        let mut last_error = None;
        for _attempt in 0..3 {
            let port = free_port()?;
            let mut command = Command::new(&bin);
            command.arg("proxy").arg(&spec).arg(upstream);
            command.args(["--errors", "-p", &port.to_string(), "-h", "127.0.0.1"]);
            // No colours, no update checks.
            command.env("NO_COLOR", "1").env("FORCE_COLOR", "0").env("NO_UPDATE_NOTIFIER", "1");
            let started = Instant::now();
            let child = ManagedChild::spawn("prism", command)?;
            let listening = child.output().wait_for(|l| l.text.contains("Prism is listening on"), timeout);
            tokio::select! {
                line = listening => match line {
                    Some(_) => {
                        return Ok(Self { child, port, upstream: upstream.to_owned(), spec, startup: started.elapsed() });
                    }
                    None => return Err(format!(
                        "Prism did not start listening within {timeout:?}; output:\n{}", child.output().dump()
                    ).into()),
                },
                exit = child.exited() => {
                    // Most likely the port was taken in the meantime: try another one.
                    last_error = Some(format!(
                        "Prism exited ({:?}) while starting; output:\n{}", exit.status, child.output().dump()
                    ));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| "Prism did not start".into()).into())
    }

    /// `http://127.0.0.1:PORT` — the functions' `PERSONA_API_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    pub fn spec(&self) -> &PathBuf {
        &self.spec
    }

    /// From spawn to "Prism is listening".
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The Prism process (full output, exit).
    pub fn child(&self) -> &ManagedChild {
        &self.child
    }

    /// Every problem Prism logged since it started listening (rejected requests, upstream failures,
    /// warnings).
    pub fn problems(&self) -> Vec<LoggedProblem> {
        self.problems_since(0)
    }

    /// Problems logged from output line `start` on (take `child().output().len()` before a step).
    pub fn problems_since(&self, start: usize) -> Vec<LoggedProblem> {
        self.child.output().lines_since(start).iter().filter_map(|l| parse_logged_problem(&l.text)).collect()
    }

    /// Waits until at least `count` problems were logged from output line `start` on (Prism logs a
    /// rejection around the time it answers, and its pipe is read by another thread), up to
    /// `timeout`; returns those logged by then.
    pub async fn wait_for_problems(&self, start: usize, count: usize, timeout: Duration) -> Vec<LoggedProblem> {
        let mut seen = 0;
        let _ = self
            .child
            .output()
            .wait_for_from(
                start,
                |line| {
                    if parse_logged_problem(&line.text).is_some() {
                        seen += 1;
                    }
                    seen >= count
                },
                timeout,
            )
            .await;
        self.problems_since(start)
    }

    /// [`Prism::check_no_problems`] after Prism's log has been quiet for 300 ms (at most 5 s), so a
    /// rejection logged just after its answer is not missed. Prefer this one at the end of a test.
    pub async fn check_no_problems_settled(&self) -> Result<()> {
        self.child.output().wait_quiet(Duration::from_millis(300), Duration::from_secs(5)).await;
        self.check_no_problems()
    }

    /// Fails, listing them, if Prism logged any problem so far (see [`Prism::check_no_problems_settled`]).
    pub fn check_no_problems(&self) -> Result<()> {
        let problems = self.problems();
        if problems.is_empty() {
            return Ok(());
        }
        let lines: Vec<&str> = problems.iter().map(|p| p.line.as_str()).collect();
        Err(format!("Prism reported {} problem(s):\n{}", problems.len(), lines.join("\n")).into())
    }
}
