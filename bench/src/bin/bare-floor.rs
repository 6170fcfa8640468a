//! `bare-floor`: the smallest useful `lambda_http` function, the floor of the cold-start benchmark
//! and the function the test rig's own tests run through its Runtime API server.
//!
//! It answers every request `200` with JSON describing what it was given (request id, deadline and
//! time left from `Context`, function ARN, trace id, method, path) and prints one JSON log line per
//! invocation on stdout. Query parameters, for the rig's tests: `sleep_ms=N` waits N ms first,
//! `fail=1` returns a handler error (an invocation error report), `exit=N` exits with status N.
//! With `BARE_FLOOR_FAIL_INIT` set to a non-empty value it fails its init instead: it reports to the
//! Runtime API's `/runtime/init/error` and exits with status 1, naming the variable.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};
use serde_json::json;

async fn handler(request: Request) -> Result<Response<Body>, Error> {
    let context = request.lambda_context();
    let query = request.query_string_parameters();
    if let Some(ms) = query.first("sleep_ms").and_then(|v| v.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(code) = query.first("exit").and_then(|v| v.parse::<i32>().ok()) {
        std::process::exit(code);
    }
    if query.first("fail").is_some() {
        return Err("bare-floor: failure requested by the `fail` query parameter".into());
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let log = json!({
        "level": "INFO",
        "message": "bare-floor invoked",
        "requestId": context.request_id,
        "path": request.uri().path(),
    });
    println!("{log}");
    let body = json!({
        "ok": true,
        "request_id": context.request_id,
        "deadline_ms": context.deadline,
        "remaining_ms": context.deadline.saturating_sub(now_ms),
        "invoked_function_arn": context.invoked_function_arn,
        "xray_trace_id": context.xray_trace_id,
        "method": request.method().as_str(),
        "path": request.uri().path(),
    });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::from(body.to_string()))?)
}

/// Posts an init error the way the Runtime API expects (plain HTTP/1.1 over loopback).
fn report_init_error(runtime_api: &str, error_type: &str, message: &str) -> std::io::Result<()> {
    let body = json!({"errorType": error_type, "errorMessage": message}).to_string();
    let mut stream = TcpStream::connect(runtime_api)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {runtime_api}\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    if std::env::var_os("BARE_FLOOR_FAIL_INIT").is_some_and(|v| !v.is_empty()) {
        let message = "invalid configuration: BARE_FLOOR_FAIL_INIT is set";
        println!("{}", json!({"level": "ERROR", "message": message}));
        if let Ok(runtime_api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
            if let Err(e) = report_init_error(&runtime_api, "Runtime.InitError", message) {
                eprintln!("bare-floor: could not report the init error: {e}");
            }
        }
        return Err(message.into());
    }
    lambda_http::run(service_fn(handler)).await
}
