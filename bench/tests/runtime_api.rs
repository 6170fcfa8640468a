//! The rig's Lambda Runtime API server and `FunctionProcess` harness, driven with the real
//! `bare-floor` binary (a minimal `lambda_http` function) and with raw HTTP.
//!
//! `BARE_FLOOR_BIN` overrides the binary (e.g. `target/release/bare-floor` to measure the release
//! build's cold start); the numbers are printed (`cargo test ... -- --nocapture`).

use std::path::PathBuf;
use std::time::Duration;

use integration_tests::error::Result;
use integration_tests::runtime_api::{
    binary_in_profile, release_binary, FunctionOptions, FunctionProcess, InvokeResult, RuntimeApi,
};
use persona_resume::lambda::api_event::ApiEvent;
use serde_json::{json, Value};

fn bare_floor() -> PathBuf {
    std::env::var_os("BARE_FLOOR_BIN")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_bare-floor")))
}

/// An API Gateway HTTP API (payload 2.0) event, as Lambda receives it.
fn http_api_event(method: &str, path: &str, query: &str, body: Option<&str>) -> Value {
    let event = ApiEvent::http_api(method, "/inquiries/{inquiry_id}/session", path)
        .inquiry_id("inq_123")
        .header("content-type", "application/json")
        .header("host", "abc123.execute-api.us-east-1.amazonaws.com")
        .query(query)
        .time_epoch_ms(1_764_118_800_000);
    match body {
        Some(body) => event.body(body),
        None => event,
    }
    .build()
}

#[tokio::test]
async fn cold_start_then_sequential_invocations_on_one_process() -> Result<()> {
    let options = FunctionOptions::new(bare_floor()).function_name("bare-floor").memory_mb(256);
    let function = FunctionProcess::spawn_with(options.clone()).await?;
    let cold_start = function.cold_start().await?;
    assert!(cold_start > Duration::ZERO && cold_start < Duration::from_secs(10), "{cold_start:?}");

    let mut latencies = Vec::new();
    for i in 0..5 {
        let path = format!("/inquiries/inq_{i}/session");
        let outcome = function.invoke(http_api_event("POST", &path, "", None), Duration::from_secs(3)).await?;
        let http = outcome.http()?;
        assert_eq!(http.status, 200, "{outcome:?}");
        assert_eq!(http.header("Content-Type"), Some("application/json"));
        let body = http.json()?;
        assert_eq!(body["ok"], true);
        assert_eq!(body["path"], path);
        assert_eq!(body["method"], "POST");
        // The function saw the request id, deadline, ARN and trace id the runtime API sent.
        assert_eq!(body["request_id"], outcome.request_id.as_str());
        assert_eq!(body["deadline_ms"].as_u64(), Some(outcome.deadline_ms));
        let remaining = body["remaining_ms"].as_u64().expect("remaining_ms");
        assert!(remaining > 2_000 && remaining <= 3_000, "remaining_ms {remaining}");
        assert_eq!(body["invoked_function_arn"], "arn:aws:lambda:us-east-1:123456789012:function:bare-floor");
        assert!(body["xray_trace_id"].as_str().is_some_and(|t| t.starts_with("Root=1-")), "{body}");
        // Its stdout JSON log line for this invocation was captured.
        let logs = function.wait_for_json_logs_mentioning(&outcome.request_id, Duration::from_secs(2)).await;
        assert_eq!(logs.len(), 1, "{:?}", function.stdout_lines());
        assert_eq!(logs[0]["message"], "bare-floor invoked");
        latencies.push(outcome.latency);
    }
    // One `next` per invocation, plus the one now waiting (which may still be on its way).
    for _ in 0..100 {
        if function.runtime_api().next_calls() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(function.runtime_api().next_calls(), 6);
    let rss = function.peak_rss_kb()?;
    assert!(rss > 100, "peak RSS {rss} KiB");
    println!(
        "bare-floor ({}): cold start {cold_start:?}, latencies {latencies:?}, peak RSS {rss} KiB",
        bare_floor().display()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_processes_at_once_and_no_orphans() -> Result<()> {
    let options = FunctionOptions::new(bare_floor());
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..4 {
        let options = options.clone();
        tasks.spawn(async move {
            let function = FunctionProcess::spawn_with(options).await?;
            let cold_start = function.cold_start().await?;
            for i in 0..3 {
                let path = format!("/inquiries/inq_{n}x{i}/session");
                let outcome = function.invoke(http_api_event("POST", &path, "", None), Duration::from_secs(3)).await?;
                assert_eq!(outcome.http()?.status, 200);
            }
            Result::<_>::Ok((function.pid(), cold_start))
        });
    }
    let mut pids = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (pid, cold_start) = done??;
        println!("process {pid}: cold start {cold_start:?}");
        pids.push(pid);
    }
    assert_eq!(pids.len(), 4);
    // Every FunctionProcess was dropped at the end of its task: all processes are gone (and reaped).
    for pid in pids {
        let mut gone = false;
        for _ in 0..100 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone, "process {pid} outlived its FunctionProcess");
    }
    Ok(())
}

#[tokio::test]
async fn handler_error_is_reported_and_the_process_keeps_serving() -> Result<()> {
    let function = FunctionProcess::spawn(bare_floor(), [("RUST_BACKTRACE", "0")]).await?;
    let outcome = function.invoke(http_api_event("POST", "/x", "fail=1", None), Duration::from_secs(3)).await?;
    let report = outcome.error_report().unwrap_or_else(|| panic!("expected an error report: {outcome:?}"));
    assert!(report.error_message.contains("failure requested"), "{report:?}");
    assert!(!report.error_type.is_empty(), "{report:?}");
    let next = function.invoke(http_api_event("POST", "/y", "", None), Duration::from_secs(3)).await?;
    assert_eq!(next.http()?.status, 200);
    Ok(())
}

#[tokio::test]
async fn missing_the_deadline_times_out_and_kills_the_process() -> Result<()> {
    let options = FunctionOptions::new(bare_floor()).timeout_grace(Duration::from_millis(300));
    let function = FunctionProcess::spawn_with(options).await?;
    function.cold_start().await?;
    let outcome =
        function.invoke(http_api_event("POST", "/slow", "sleep_ms=3000", None), Duration::from_millis(500)).await?;
    assert!(matches!(outcome.result, InvokeResult::TimedOut), "{outcome:?}");
    assert!(outcome.latency >= Duration::from_millis(800) && outcome.latency < Duration::from_secs(3));
    // Like Lambda, the harness killed the environment.
    let after = function.invoke(http_api_event("POST", "/x", "", None), Duration::from_secs(1)).await?;
    assert!(matches!(after.result, InvokeResult::Crashed(_)), "{after:?}");
    assert!(function.exit_status().is_some());
    Ok(())
}

#[tokio::test]
async fn a_process_that_exits_mid_invocation_is_reported_as_crashed() -> Result<()> {
    let function = FunctionProcess::spawn(bare_floor(), std::iter::empty::<(String, String)>()).await?;
    let outcome = function.invoke(http_api_event("POST", "/x", "exit=3", None), Duration::from_secs(3)).await?;
    match outcome.result {
        InvokeResult::Crashed(Some(status)) => assert_eq!(status.code(), Some(3)),
        other => panic!("expected a crash with status 3, got {other:?}"),
    }
    // The peak RSS is still known after the exit (from wait4).
    assert!(function.peak_rss_kb()? > 100);
    Ok(())
}

#[tokio::test]
async fn init_failure_reports_the_message_and_exit_status() -> Result<()> {
    let function = FunctionProcess::spawn(bare_floor(), [("BARE_FLOOR_FAIL_INIT", "1")]).await?;
    let failure = function.init_failure(Duration::from_secs(30)).await?;
    let report = failure.report.as_ref().expect("the init error was posted to /runtime/init/error");
    assert_eq!(report.error_type, "Runtime.InitError");
    assert_eq!(report.header_error_type.as_deref(), Some("Runtime.InitError"));
    assert!(report.error_message.contains("BARE_FLOOR_FAIL_INIT"), "{report:?}");
    assert_eq!(failure.exit_status.and_then(|s| s.code()), Some(1), "{failure:?}");
    assert!(!failure.killed_by_harness);
    assert!(failure.mentions("BARE_FLOOR_FAIL_INIT"));
    // `main` returned the error: the Rust runtime printed it on stderr.
    assert!(failure.stderr.iter().any(|l| l.contains("BARE_FLOOR_FAIL_INIT")), "{failure:?}");
    // And cold_start says why it never came.
    let err = function.cold_start().await.expect_err("no cold start after a failed init").to_string();
    assert!(err.contains("exited") && err.contains("Runtime.InitError"), "{err}");
    Ok(())
}

#[tokio::test]
async fn init_failure_rejects_a_healthy_function() -> Result<()> {
    let function = FunctionProcess::spawn(bare_floor(), std::iter::empty::<(String, String)>()).await?;
    let err = function.init_failure(Duration::from_secs(30)).await.expect_err("init succeeded").to_string();
    assert!(err.contains("did not fail its init"), "{err}");
    Ok(())
}

#[tokio::test]
async fn function_environment_is_lambdas_not_the_test_processs() -> Result<()> {
    // A child that is not a Lambda function: `env` prints its environment and exits.
    let options = FunctionOptions::new("/usr/bin/env")
        .function_name("env-probe")
        .env("CALLER_VAR", "x")
        .envs([("ENV_PROBE", "1")]);
    let function = FunctionProcess::spawn_with(options).await?;
    let failure = function.init_failure(Duration::from_secs(10)).await?;
    let vars: Vec<&str> = failure.stdout.iter().map(String::as_str).collect();
    for expected in [
        "AWS_LAMBDA_FUNCTION_NAME=env-probe",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
        "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
        "AWS_LAMBDA_LOG_FORMAT=JSON",
        "AWS_REGION=us-east-1",
        "CALLER_VAR=x",
        "ENV_PROBE=1",
    ] {
        assert!(vars.contains(&expected), "{expected} missing from {vars:?}");
    }
    let api = vars.iter().find_map(|v| v.strip_prefix("AWS_LAMBDA_RUNTIME_API=")).expect("runtime API set");
    assert_eq!(api, function.runtime_api().host_port());
    assert!(!vars.iter().any(|v| v.starts_with("CARGO_")), "the test's environment leaked: {vars:?}");
    Ok(())
}

/// The protocol itself, driven by hand like a custom runtime would.
#[tokio::test]
async fn runtime_api_protocol_by_hand() -> Result<()> {
    let api = RuntimeApi::start("arn:aws:lambda:us-east-1:123456789012:function:manual").await?;
    let base = format!("http://{}/2018-06-01/runtime", api.host_port());
    let http = reqwest::Client::builder().no_proxy().build()?;

    // An unknown request id is refused.
    let bogus = http.post(format!("{base}/invocation/nope/response")).body("{}").send().await?;
    assert_eq!(bogus.status().as_u16(), 400);

    let runtime = {
        let http = http.clone();
        let base = base.clone();
        tokio::spawn(async move {
            let next = http.get(format!("{base}/invocation/next")).send().await?;
            assert_eq!(next.status().as_u16(), 200);
            let header = |name: &str| next.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let request_id = header("Lambda-Runtime-Aws-Request-Id").expect("request id");
            let deadline_ms: u64 = header("Lambda-Runtime-Deadline-Ms").expect("deadline").parse()?;
            let arn = header("Lambda-Runtime-Invoked-Function-Arn").expect("arn");
            let trace = header("Lambda-Runtime-Trace-Id").expect("trace id");
            let event = json_body(next).await?;
            let reply = json!({"echo": event, "deadline_ms": deadline_ms, "arn": arn, "trace": trace});
            let posted =
                http.post(format!("{base}/invocation/{request_id}/response")).body(reply.to_string()).send().await?;
            assert_eq!(posted.status().as_u16(), 202);
            // Answering twice is refused.
            let again = http.post(format!("{base}/invocation/{request_id}/response")).body("{}").send().await?;
            assert_eq!(again.status().as_u16(), 400);
            // Init is over: an init error now is refused.
            let late = http.post(format!("{base}/init/error")).body("{}").send().await?;
            assert_eq!(late.status().as_u16(), 403);
            Result::<_>::Ok(request_id)
        })
    };
    let outcome = api.invoke(&json!({"hello": "world"}), Duration::from_secs(2), Duration::from_secs(1)).await?;
    let request_id = runtime.await??;
    assert_eq!(outcome.request_id, request_id);
    assert_eq!(request_id.len(), 36);
    assert_eq!(&request_id[14..15], "4", "a v4 UUID: {request_id}");
    let response = outcome.response()?;
    assert_eq!(response["echo"], json!({"hello": "world"}));
    assert_eq!(response["deadline_ms"].as_u64(), Some(outcome.deadline_ms));
    assert_eq!(response["arn"], "arn:aws:lambda:us-east-1:123456789012:function:manual");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
    assert!(outcome.deadline_ms > now_ms && outcome.deadline_ms <= now_ms + 2_000);
    Ok(())
}

async fn json_body(response: reqwest::Response) -> Result<Value> {
    Ok(serde_json::from_slice(&response.bytes().await?)?)
}

#[test]
fn binary_paths_name_the_build_command_when_missing() {
    let err = release_binary("no-such-function").expect_err("not built").to_string();
    assert!(err.contains("cargo build --release --bin no-such-function"), "{err}");
    assert!(err.contains("/release/no-such-function"), "{err}");
    // The test binary's own bin target is where cargo put it.
    let this = binary_in_profile("bare-floor", "debug");
    if let Ok(path) = this {
        assert!(path.ends_with("debug/bare-floor"));
    }
}
