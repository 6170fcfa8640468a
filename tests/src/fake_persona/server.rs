//! The HTTP side: a raw hyper HTTP/1.1 server (so a fault can really drop the TCP connection) and the
//! request pipeline around the endpoint handlers:
//! auth (401, no Request-Id) → rate limit (429) → route → fault → idempotency → handler → contract check
//! → request log.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use super::contract::ContractViolation;
use super::control;
use super::documents::{carries_personal_account_data, error_doc, unauthorized_doc};
use super::faults::FaultKind;
use super::handlers::{handle, ApiRequest};
use super::idempotency::{BodyPrint, Fingerprint, Lookup, StoredAnswer};
use super::model::Endpoint;
use super::rate_limit::RateDecision;
use super::request_log::RequestRecord;
use super::state::Shared;
use super::util::{now_ms, random_id};

/// Request bodies above this are refused.
pub const MAX_BODY_BYTES: usize = 1 << 20;

pub type Body = Full<Bytes>;

/// Accepts connections until `shutdown` flips.
pub async fn run(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                Err(e) => {
                    eprintln!("fake-persona: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Serves one connection; a `drop` fault notifies `kill`, which drops the connection (and its socket)
/// without an answer.
async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let kill = Arc::new(Notify::new());
    let service_kill = Arc::clone(&kill);
    let service = service_fn(move |req: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        let kill = Arc::clone(&service_kill);
        async move { Ok::<_, Infallible>(handle_request(shared, req, kill).await) }
    });
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
}

async fn handle_request(shared: Arc<Shared>, req: Request<Incoming>, kill: Arc<Notify>) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return json_response(
                413,
                &error_doc("Payload Too Large", Some("Request body too large")),
                &HeaderMap::new(),
            )
        }
    };
    let path = parts.uri.path().to_owned();
    if path == "/_control" || path.starts_with("/_control/") {
        return control::handle(&shared, &parts.method, &path, parts.uri.query(), &body);
    }
    if let Some(page) = super::hosted_flow::handle(&shared, &parts.method, &path, parts.uri.query()) {
        return page;
    }
    match persona(&shared, &parts.method, &parts.headers, &path, parts.uri.query(), body, started).await {
        Some(response) => response,
        None => {
            kill.notify_one();
            std::future::pending::<Response<Body>>().await
        }
    }
}

/// Maps a request path (with or without Persona's `/api/v1` prefix) to an operation and the id in the
/// path (an inquiry's, or an account's for `GET /accounts/{id}`).
pub fn route<'p>(method: &Method, path: &'p str) -> Option<(Endpoint, Option<&'p str>)> {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["accounts"]) => Some((Endpoint::AccountList, None)),
        (&Method::GET, ["accounts", id]) if !id.is_empty() => Some((Endpoint::AccountGet, Some(id))),
        (&Method::GET, ["inquiries"]) => Some((Endpoint::List, None)),
        (&Method::POST, ["inquiries"]) => Some((Endpoint::Create, None)),
        (&Method::GET, ["inquiries", id]) if !id.is_empty() => Some((Endpoint::Get, Some(id))),
        (&Method::POST, ["inquiries", id, action]) if !id.is_empty() => {
            let endpoint = match *action {
                "resume" => Endpoint::Resume,
                "generate-one-time-link" => Endpoint::Link,
                "expire" => Endpoint::Expire,
                _ => return None,
            };
            Some((endpoint, Some(id)))
        }
        _ => None,
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn bearer_key(headers: &HeaderMap) -> Option<String> {
    let value = header_str(headers, "authorization")?;
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim().to_owned())
}

/// Headers of every authenticated answer.
fn persona_headers(request_id: &str, rate: &RateDecision) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    put("request-id", request_id.to_owned());
    put("ratelimit-limit", rate.limit.to_string());
    put("ratelimit-remaining", rate.remaining.to_string());
    put("ratelimit-reset", rate.reset_secs.to_string());
    put("persona-environment-id", "env_FakePersonaEnvironment01".to_owned());
    put("persona-organization-id", "org_FakePersonaOrganization1".to_owned());
    h
}

fn raw_response(status: u16, body: Bytes, headers: &HeaderMap) -> Response<Body> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().extend(headers.clone());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

pub fn json_response(status: u16, body: &Value, headers: &HeaderMap) -> Response<Body> {
    raw_response(status, Bytes::from(body.to_string()), headers)
}

fn fault_status_doc(status: u16) -> Value {
    let title = match status {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service unavailable",
        504 => "Gateway Timeout",
        403 => "Quota exceeded",
        _ => "Error",
    };
    error_doc(title, Some("Injected by fake Persona"))
}

const DEFAULT_MALFORMED: &str = r#"{"data": {"type": "inquiry", "id": "inq_Trunc"#;

/// Strips a member the spec requires, for the `break_contract` fault.
fn break_contract(body: &mut Value) {
    if let Some(Value::Object(meta)) = body.get_mut("meta") {
        if meta.remove("session-token").is_none() {
            if let Some(first) = meta.keys().next().cloned() {
                meta.remove(&first);
            }
        }
        return;
    }
    // An inquiry (or the first list item) loses its required `status`; an account, whose schema requires
    // nothing, gains an attribute it does not allow.
    let attributes = match body.get("data") {
        Some(Value::Array(_)) => body.pointer_mut("/data/0/attributes"),
        _ => body.pointer_mut("/data/attributes"),
    };
    match attributes {
        Some(Value::Object(attributes)) => {
            if attributes.remove("status").is_none() {
                attributes.insert("x-broken-by-fake".into(), Value::Bool(true));
            }
        }
        _ => {
            if let Value::Object(doc) = body {
                doc.remove("links");
            }
        }
    }
}

/// The answer the pipeline settled on.
struct Settled {
    status: u16,
    body: Bytes,
    /// The document to check against the contract (`None`: exempt or not JSON).
    checked: Option<Value>,
    replayed: bool,
    drop_after: bool,
}

/// Runs the Persona pipeline. `None` = drop the connection without answering.
#[allow(clippy::too_many_arguments)]
async fn persona(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
    body: Bytes,
    started: Instant,
) -> Option<Response<Body>> {
    let idempotency_key = header_str(headers, "idempotency-key");
    let persona_version = header_str(headers, "persona-version");
    let mut record = RequestRecord {
        seq: 0,
        received_at: now_ms(),
        method: method.to_string(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        endpoint: None,
        idempotency_key: idempotency_key.clone(),
        persona_version: header_str(headers, "persona-version"),
        authorized: false,
        body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body[..body.len().min(65_536)]).into_owned()),
        status: None,
        request_id: None,
        fault: None,
        replayed: false,
        personal_data: false,
        duration_us: 0,
    };
    let elapsed_us = |started: Instant| u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let query_pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();

    // Auth, rate limit, routing and the fault: decided before the idempotency layer.
    let (request_id, rate_headers, endpoint, inquiry_id, fault) = {
        let mut state = shared.lock();
        let key = bearer_key(headers);
        if !key.is_some_and(|k| state.settings.api_keys.contains(&k)) {
            record.status = Some(401);
            record.duration_us = elapsed_us(started);
            state.record(record);
            return Some(json_response(401, &unauthorized_doc(), &HeaderMap::new()));
        }
        record.authorized = true;
        let rate_settings = state.settings.rate_limit.clone();
        let rate = state.rate.check(&rate_settings, Instant::now());
        let request_id = random_id("req_", 27);
        let out_headers = persona_headers(&request_id, &rate);
        record.request_id = Some(request_id.clone());
        if !rate.allowed {
            record.status = Some(429);
            record.duration_us = elapsed_us(started);
            state.record(record);
            let details = format!(
                "You have hit your rate limit of {} requests / {} s.",
                rate_settings.limit,
                rate_settings.window_ms.div_ceil(1000)
            );
            return Some(json_response(429, &error_doc("Rate limit exceeded", Some(&details)), &out_headers));
        }
        let Some((endpoint, inquiry_id)) = route(method, path) else {
            record.status = Some(404);
            record.duration_us = elapsed_us(started);
            state.record(record);
            let details = format!("No route matches {method} {path}");
            return Some(json_response(404, &error_doc("Not Found", Some(&details)), &out_headers));
        };
        let fault = state.faults.take(endpoint);
        (request_id, out_headers, endpoint, inquiry_id.map(str::to_owned), fault)
    };
    record.endpoint = Some(endpoint);
    record.fault = fault.as_ref().map(|f| f.name().to_owned());

    match &fault {
        Some(FaultKind::Delay { delay_ms }) => tokio::time::sleep(Duration::from_millis(*delay_ms)).await,
        Some(FaultKind::Drop) => {
            record.duration_us = elapsed_us(started);
            shared.lock().record(record);
            return None;
        }
        _ => {}
    }

    let is_post = method == Method::POST;
    let fingerprint = Fingerprint {
        method: method.to_string(),
        path: path.strip_prefix("/api/v1").unwrap_or(path).to_owned(),
        query: query.unwrap_or("").to_owned(),
        body: BodyPrint::of(&body),
    };
    let settled = {
        let mut state = shared.lock();
        let key = idempotency_key.as_ref().filter(|_| is_post);
        let lookup = key.map(|k| state.idempotency.lookup(k, &fingerprint));
        let fresh = matches!(lookup, None | Some(Lookup::Fresh));
        let store_if_fresh = |state: &mut super::state::State, status: u16, body: &Bytes, from_fault: bool| {
            if let (Some(k), true) = (key, fresh) {
                let answer = StoredAnswer { status, body: body.clone(), from_fault };
                state.idempotency.store(k.clone(), fingerprint.clone(), answer);
            }
        };
        match (&fault, lookup) {
            (Some(FaultKind::Status { status }), _) => {
                let bytes = Bytes::from(fault_status_doc(*status).to_string());
                store_if_fresh(&mut state, *status, &bytes, true);
                Settled { status: *status, body: bytes, checked: None, replayed: false, drop_after: false }
            }
            (Some(FaultKind::Malformed { body: custom }), _) => {
                let bytes = Bytes::from(custom.clone().unwrap_or_else(|| DEFAULT_MALFORMED.to_owned()));
                store_if_fresh(&mut state, 200, &bytes, true);
                Settled { status: 200, body: bytes, checked: None, replayed: false, drop_after: false }
            }
            (_, Some(Lookup::Mismatch)) => {
                let doc = error_doc(
                    "Conflict",
                    Some("Idempotency-Key has already been used with different request parameters"),
                );
                Settled {
                    status: 409,
                    body: Bytes::from(doc.to_string()),
                    checked: Some(doc),
                    replayed: false,
                    drop_after: matches!(fault, Some(FaultKind::DropAfterCommit)),
                }
            }
            (_, Some(Lookup::Replay(stored))) => Settled {
                status: stored.status,
                checked: if stored.from_fault { None } else { serde_json::from_slice(&stored.body).ok() },
                body: stored.body,
                replayed: true,
                drop_after: matches!(fault, Some(FaultKind::DropAfterCommit)),
            },
            (_, None | Some(Lookup::Fresh)) => {
                let request = ApiRequest {
                    endpoint,
                    inquiry_id: inquiry_id.as_deref(),
                    query: &query_pairs,
                    body: &body,
                    persona_version: persona_version.as_deref(),
                };
                let settings = state.settings.clone();
                let mut answer = handle(&mut state.store, &settings, &shared.examples, &request);
                if matches!(fault, Some(FaultKind::BreakContract)) {
                    break_contract(&mut answer.body);
                }
                let bytes = Bytes::from(answer.body.to_string());
                store_if_fresh(&mut state, answer.status, &bytes, false);
                Settled {
                    status: answer.status,
                    body: bytes,
                    checked: Some(answer.body),
                    replayed: false,
                    drop_after: matches!(fault, Some(FaultKind::DropAfterCommit)),
                }
            }
        }
    };

    // API 2026-09-29 has no bundle to check against (api_2026.rs): its answers are exempt.
    let checked = settled.checked.as_ref().filter(|_| !super::api_2026::wants(persona_version.as_deref()));
    let violation = match (&shared.contract, checked) {
        (Some(contract), Some(doc)) => contract.check(endpoint, settled.status, doc).err().map(|errors| {
            let v = ContractViolation {
                method: method.to_string(),
                path: path.to_owned(),
                operation: endpoint,
                status: settled.status,
                request_id: Some(request_id.clone()),
                errors,
            };
            eprintln!(
                "fake-persona: CONTRACT VIOLATION {} {} -> {} ({}): {}",
                v.method,
                v.path,
                v.status,
                v.request_id.as_deref().unwrap_or("-"),
                v.errors.join("; ")
            );
            v
        }),
        _ => None,
    };

    let personal = settled.checked.as_ref().is_some_and(carries_personal_account_data);
    record.personal_data = personal;
    record.replayed = settled.replayed;
    record.status = (!settled.drop_after).then_some(settled.status);
    record.duration_us = elapsed_us(started);
    {
        let mut state = shared.lock();
        if let Some(v) = violation {
            state.violations.push(v);
        }
        if personal {
            state.personal_fields_served += 1;
        }
        state.record(record);
    }
    if settled.drop_after {
        return None;
    }
    Some(raw_response(settled.status, settled.body, &rate_headers))
}
