//! The control API under `/_control/` (JSON, no auth): what the in-process handle's methods do, for the
//! standalone binary and out-of-process tests. Control requests are not recorded in the request log.
//!
//! | route | does |
//! |---|---|
//! | `GET /health` | `{"ok": true}` |
//! | `POST /reset` `{"seed_demo": bool}` | back to a fresh fake (optionally with the demo data) |
//! | `POST /seed` | plants the demo data, answers its ids |
//! | `GET/POST /templates`, `GET /templates/{id}`, `POST /templates/{id}/versions` `{"id"?}` | templates |
//! | `GET /inquiries[?reference_id=]`, `POST /inquiries` (a `SeedInquiry`), `GET /inquiries/{id}` | inquiries |
//! | `POST /inquiries/{id}/status` `{"status"}`, `…/redact`, `…/use-sessions` | transitions |
//! | `GET /accounts`, `POST /accounts` (a `SeedAccount`), `GET /accounts/{id}` | accounts |
//! | `GET /personal-fields` | `{"served": N}`: answers that carried an account's personal data |
//! | `GET /idempotency` | `[{"key", "status"}]`: stored answers by key |
//! | `DELETE /idempotency` | Persona forgot every key (its 24-hour window passed) |
//! | `POST /templates/{id}/deploy` `{"version_id": "itmplv_…" \| null}` | explicit deploy: creates get that version (null: the latest published) |
//! | `POST /inquiries/from-browser` (a `BrowserInquiry`) | an inquiry created by a browser flow: any reference id, its account, no tag |
//! | `GET /settings`, `PUT/PATCH /settings` (partial, e.g. `{"lax_filters": true}`) | switches |
//! | `GET/POST/DELETE /faults` | fault queue (`{"endpoint": "create", "kind": "status", "status": 500, "count": 4}`) |
//! | `GET /requests[?since=SEQ]`, `DELETE /requests` | request log |
//! | `GET/DELETE /violations` | contract violations |

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::Deserialize;
use serde_json::{json, Value};

use super::faults::Fault;
use super::model::{BrowserInquiry, Inquiry, ModelError, NewTemplate, SeedAccount, SeedInquiry, Store};
use super::seed::seed_demo;
use super::server::{json_response, Body};
use super::state::Shared;

/// An inquiry as the control API shows it: the model plus whether it is outdated.
pub fn inquiry_view(store: &Store, inquiry: &Inquiry) -> Value {
    let mut view = serde_json::to_value(inquiry).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut view {
        map.insert("outdated".into(), json!(store.is_outdated(inquiry)));
    }
    view
}

fn error(status: u16, message: &str) -> http::Response<Body> {
    json_response(status, &json!({"error": message}), &HeaderMap::new())
}

/// A refused control request.
#[derive(Debug)]
struct ControlError {
    status: u16,
    message: String,
}

impl ControlError {
    fn new(status: u16, message: impl Into<String>) -> ControlError {
        ControlError { status, message: message.into() }
    }
}

fn model_error(e: &ModelError) -> ControlError {
    let status = match e {
        ModelError::NotFound(_) => 404,
        ModelError::Invalid(_) => 400,
        ModelError::Conflict(_) => 409,
    };
    ControlError::new(status, e.to_string())
}

fn ok(status: u16, body: &Value) -> http::Response<Body> {
    json_response(status, body, &HeaderMap::new())
}

/// `200` with the object, else `404` naming what was not found.
fn found(what: &str, id: &str, object: Option<Value>) -> http::Response<Body> {
    match object {
        Some(body) => ok(200, &body),
        None => error(404, &format!("{what} {id} not found")),
    }
}

/// Parses a JSON body; an empty body reads as `{}`.
fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ControlError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    serde_json::from_slice(text).map_err(|e| ControlError::new(400, format!("bad JSON body: {e}")))
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ResetBody {
    seed_demo: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct PublishBody {
    id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct DeployBody {
    version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FaultsBody {
    One(Fault),
    Many(Vec<Fault>),
}

/// Handles `/_control/...`.
pub fn handle(shared: &Shared, method: &Method, path: &str, query: Option<&str>, body: &Bytes) -> http::Response<Body> {
    match respond(shared, method, path, query, body) {
        Ok(r) => r,
        Err(e) => error(e.status, &e.message),
    }
}

type Reply = Result<http::Response<Body>, ControlError>;

fn respond(shared: &Shared, method: &Method, path: &str, query: Option<&str>, body: &Bytes) -> Reply {
    let rest = path.trim_start_matches("/_control").trim_matches('/');
    let segments: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
    let mut state = shared.lock();
    let reply = match (method, segments.as_slice()) {
        (&Method::GET, ["health"]) => ok(200, &json!({"ok": true})),
        (&Method::POST, ["reset"]) => {
            let b: ResetBody = parse(body)?;
            state.reset();
            if b.seed_demo {
                let seed = seed_demo(&mut state.store).map_err(|e| model_error(&e))?;
                ok(200, &json!({"ok": true, "seed": seed}))
            } else {
                ok(200, &json!({"ok": true}))
            }
        }
        (&Method::POST, ["seed"]) => {
            let seed = seed_demo(&mut state.store).map_err(|e| model_error(&e))?;
            ok(200, &json!(seed))
        }
        (&Method::GET, ["templates"]) => {
            let all: Vec<_> = state.store.templates.values().cloned().collect();
            ok(200, &json!(all))
        }
        (&Method::POST, ["templates"]) => {
            let spec: NewTemplate = parse(body)?;
            let t = state.store.create_template(spec).map_err(|e| model_error(&e))?;
            ok(201, &json!(t))
        }
        (&Method::GET, ["templates", id]) => found("template", id, state.store.templates.get(*id).map(|t| json!(t))),
        (&Method::POST, ["templates", id, "versions"]) => {
            let b: PublishBody = parse(body)?;
            let version = state.store.publish_version(id, b.id).map_err(|e| model_error(&e))?;
            let template = state.store.templates.get(*id).cloned();
            ok(201, &json!({"template_id": id, "version_id": version, "template": template}))
        }
        (&Method::POST, ["templates", id, "deploy"]) => {
            let b: DeployBody = parse(body)?;
            let template = state.store.deploy_version(id, b.version_id).map_err(|e| model_error(&e))?;
            ok(200, &json!(template))
        }
        (&Method::POST, ["inquiries", "from-browser"]) => {
            let planted: BrowserInquiry = parse(body)?;
            let inquiry = state.store.seed_inquiry(planted.into_seed()).map_err(|e| model_error(&e))?;
            ok(201, &inquiry_view(&state.store, &inquiry))
        }
        (&Method::GET, ["inquiries"]) => {
            let reference = query.and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "reference_id")
                    .map(|(_, v)| v.into_owned())
            });
            let views: Vec<Value> = state
                .store
                .newest_first()
                .into_iter()
                .filter(|i| reference.as_ref().is_none_or(|r| i.reference_id.as_ref() == Some(r)))
                .map(|i| inquiry_view(&state.store, i))
                .collect();
            ok(200, &json!(views))
        }
        (&Method::POST, ["inquiries"]) => {
            let seed: SeedInquiry = parse(body)?;
            let inquiry = state.store.seed_inquiry(seed).map_err(|e| model_error(&e))?;
            ok(201, &inquiry_view(&state.store, &inquiry))
        }
        (&Method::GET, ["inquiries", id]) => {
            found("inquiry", id, state.store.inquiries.get(*id).map(|i| inquiry_view(&state.store, i)))
        }
        (&Method::POST, ["inquiries", id, action]) => {
            let result = match *action {
                "status" => {
                    let b: StatusBody = parse(body)?;
                    state.set_inquiry_status(id, &b.status)
                }
                "redact" => state.redact_inquiry(id),
                "use-sessions" => state.mark_sessions_used(id),
                other => return Err(ControlError::new(404, format!("no control action {other}"))),
            };
            let inquiry = result.map_err(|e| model_error(&e))?;
            ok(200, &inquiry_view(&state.store, &inquiry))
        }
        (&Method::GET, ["accounts"]) => {
            let all: Vec<_> = state.store.accounts_newest_first().into_iter().cloned().collect();
            ok(200, &json!(all))
        }
        (&Method::POST, ["accounts"]) => {
            let seed: SeedAccount = parse(body)?;
            let account = state.store.seed_account(seed).map_err(|e| model_error(&e))?;
            ok(201, &json!(account))
        }
        (&Method::GET, ["accounts", id]) => found("account", id, state.store.accounts.get(*id).map(|a| json!(a))),
        (&Method::GET, ["personal-fields"]) => ok(200, &json!({"served": state.personal_fields_served})),
        (&Method::GET, ["idempotency"]) => {
            let keys: Vec<Value> = state
                .idempotency
                .statuses()
                .into_iter()
                .map(|(key, status)| json!({"key": key, "status": status}))
                .collect();
            ok(200, &json!(keys))
        }
        (&Method::DELETE, ["idempotency"]) => {
            state.idempotency.clear();
            ok(200, &json!([]))
        }
        (&Method::GET, ["settings"]) => ok(200, &json!(state.settings)),
        (&Method::PUT | &Method::PATCH, ["settings"]) => {
            let patch: Value = parse(body)?;
            let settings = state.patch_settings(&patch).map_err(|e| model_error(&e))?;
            ok(200, &json!(settings))
        }
        (&Method::GET, ["faults"]) => ok(200, &json!(state.faults.pending())),
        (&Method::POST, ["faults"]) => {
            let faults = match parse::<FaultsBody>(body)? {
                FaultsBody::One(f) => vec![f],
                FaultsBody::Many(v) => v,
            };
            for fault in faults {
                state.add_fault(fault).map_err(|e| model_error(&e))?;
            }
            ok(200, &json!(state.faults.pending()))
        }
        (&Method::DELETE, ["faults"]) => {
            state.faults.clear();
            ok(200, &json!([]))
        }
        (&Method::GET, ["requests"]) => {
            let since: u64 = query
                .and_then(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "since")
                        .and_then(|(_, v)| v.parse().ok())
                })
                .unwrap_or(0);
            let records: Vec<_> = state.log.iter().filter(|r| r.seq > since).cloned().collect();
            ok(200, &json!(records))
        }
        (&Method::DELETE, ["requests"]) => {
            state.log.clear();
            ok(200, &json!([]))
        }
        (&Method::GET, ["violations"]) => ok(200, &json!(state.violations)),
        (&Method::DELETE, ["violations"]) => {
            state.violations.clear();
            ok(200, &json!([]))
        }
        _ => error(404, &format!("no control route {method} {path}")),
    };
    Ok(reply)
}
