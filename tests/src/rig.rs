//! The test rig, assembled: a fake Persona and the two functions, either in-process (the real handler, fast) or as
//! the real release binaries behind the Lambda Runtime API, with the key in moto's Secrets Manager and every
//! Persona call going through Prism's validating proxy. The scenarios in [`crate::scenarios`] run on both.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lambda_http::RequestExt;
use persona_resume::ops::config::Config;
use persona_resume::ops::secrets::{ApiKey, KeyStore};
use persona_resume::persona::retry::RetryPolicy;
use persona_resume::{AppState, Function};
use serde_json::{json, Value};

use crate::error::Result;
use crate::fake_persona::{FakeConfig, FakePersona, DEFAULT_API_KEY};
use crate::moto::Moto;
use crate::paths::release_binary;
use crate::prism::Prism;
use crate::runtime_api::{FunctionOptions, FunctionProcess};

/// The deadline each invocation is given (Lambda's timeout in the template is 25 s).
pub const INVOCATION_DEADLINE: Duration = Duration::from_secs(20);

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

enum Backend {
    InProcess,
    Binaries(Box<BinaryBackend>),
}

struct BinaryBackend {
    moto: Moto,
    secret_arn: String,
    prism: Option<Prism>,
}

pub struct Rig {
    pub fake: FakePersona,
    backend: Backend,
}

impl Rig {
    /// The handler in this process, talking to the fake directly.
    pub fn in_process() -> Rig {
        Rig { fake: FakePersona::start(FakeConfig::default()), backend: Backend::InProcess }
    }

    /// The release binaries (`cargo build --release` first), moto holding the key, Prism in front of the fake
    /// (`with_prism`; required when `CI` is set).
    pub async fn binaries(with_prism: bool) -> Result<Rig> {
        let fake = FakePersona::start(FakeConfig::default());
        let (moto, prism) = tokio::join!(Moto::start(), async {
            if with_prism {
                Some(Prism::start(&fake.base_url()).await)
            } else {
                None
            }
        });
        let moto = moto?;
        let prism = prism.transpose()?;
        let secret_arn =
            moto.create_secret("persona-resume/e2e", &json!({"api_key": DEFAULT_API_KEY}).to_string()).await?;
        Ok(Rig { fake, backend: Backend::Binaries(Box::new(BinaryBackend { moto, secret_arn, prism })) })
    }

    pub fn prism(&self) -> Option<&Prism> {
        match &self.backend {
            Backend::Binaries(binaries) => binaries.prism.as_ref(),
            Backend::InProcess => None,
        }
    }

    pub fn moto(&self) -> Option<&Moto> {
        match &self.backend {
            Backend::Binaries(binaries) => Some(&binaries.moto),
            Backend::InProcess => None,
        }
    }

    pub fn secret_arn(&self) -> Option<&str> {
        match &self.backend {
            Backend::Binaries(binaries) => Some(&binaries.secret_arn),
            Backend::InProcess => None,
        }
    }

    /// Where the functions send Persona calls: Prism when it runs, else the fake.
    pub fn persona_base_url(&self) -> String {
        self.prism().map_or_else(|| self.fake.base_url(), Prism::base_url)
    }

    /// Both functions with this configuration (on top of the Persona URL and key).
    pub async fn deploy(&self, env: &[(&str, &str)]) -> Result<Deployment> {
        let base_url = self.persona_base_url();
        match &self.backend {
            Backend::InProcess => {
                let mut vars: Vec<(String, String)> =
                    vec![("PERSONA_API_KEY".into(), DEFAULT_API_KEY.into()), ("PERSONA_API_BASE_URL".into(), base_url)];
                vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
                let config =
                    Config::from_lookup(|name| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()))?;
                let state = AppState::with_keys(
                    config,
                    KeyStore::fixed(ApiKey::new(DEFAULT_API_KEY.into())),
                    RetryPolicy::default(),
                )?;
                Ok(Deployment::InProcess(Box::new(state)))
            }
            Backend::Binaries(binaries) => {
                let BinaryBackend { moto, secret_arn, .. } = binaries.as_ref();
                let mut vars: Vec<(String, String)> = moto.function_env();
                vars.push(("PERSONA_API_KEY_SECRET_ID".into(), secret_arn.clone()));
                vars.push(("PERSONA_API_BASE_URL".into(), base_url));
                vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
                let options = |name: &str| -> Result<FunctionOptions> {
                    Ok(FunctionOptions::new(release_binary(name)?).function_name(name).envs(vars.clone()))
                };
                let (issue_link, resume_session) = tokio::join!(
                    FunctionProcess::spawn_with(options("issue-link")?),
                    FunctionProcess::spawn_with(options("resume-session")?)
                );
                Ok(Deployment::Binaries {
                    issue_link: Box::new(issue_link?),
                    resume_session: Box::new(resume_session?),
                })
            }
        }
    }
}

pub enum Deployment {
    InProcess(Box<AppState>),
    Binaries { issue_link: Box<FunctionProcess>, resume_session: Box<FunctionProcess> },
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

impl Deployment {
    pub async fn call(&self, endpoint: Function, event: Value) -> Answer {
        self.try_call(endpoint, event).await.unwrap_or_else(|e| panic!("invocation failed: {e}"))
    }

    /// Every answer is also checked against our own contract, openapi.yaml (see [`crate::our_contract`]); a
    /// violation is recorded, and the suites end with `our_contract::assert_no_violations()`.
    pub async fn try_call(&self, endpoint: Function, event: Value) -> Result<Answer> {
        let route = crate::our_contract::route_template(endpoint, &event);
        let answer = self.invoke(endpoint, event).await?;
        crate::our_contract::record(&route, &answer);
        Ok(answer)
    }

    async fn invoke(&self, endpoint: Function, event: Value) -> Result<Answer> {
        match self {
            Deployment::InProcess(state) => {
                let request: lambda_http::Request = persona_resume::lambda::event::parse_event(event)?.into();
                let mut context = lambda_http::Context::default();
                context.request_id = format!("in-process-{}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed));
                let deadline = std::time::SystemTime::now() + INVOCATION_DEADLINE;
                context.deadline = deadline.duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
                let response =
                    persona_resume::lambda::handler::handle(state, endpoint, request.with_lambda_context(context))
                        .await?;
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
            Deployment::Binaries { issue_link, resume_session } => {
                let process = match endpoint {
                    Function::IssueLink => issue_link,
                    Function::ResumeSession => resume_session,
                };
                let http = process.invoke(event, INVOCATION_DEADLINE).await?.http()?;
                let headers = http.headers.iter().filter_map(|(k, v)| Some((k.clone(), v.first()?.clone()))).collect();
                Ok(Answer { status: http.status, headers, body: http.json()? })
            }
        }
    }

    /// The JSON log lines the functions wrote (binaries only; in-process logs go to the test's subscriber).
    pub fn json_logs(&self) -> Vec<Value> {
        match self {
            Deployment::InProcess(_) => Vec::new(),
            Deployment::Binaries { issue_link, resume_session } => {
                let mut logs = issue_link.json_logs();
                logs.extend(resume_session.json_logs());
                logs
            }
        }
    }
}

/// Route of a function: `/inquiries/{id}/…` or `/me/…`.
fn route(endpoint: Function, inquiry_id: Option<&str>) -> (String, String) {
    let action = match endpoint {
        Function::IssueLink => "one-time-link",
        Function::ResumeSession => "session",
    };
    match inquiry_id {
        Some(id) => (format!("/inquiries/{{inquiry_id}}/{action}"), format!("/inquiries/{id}/{action}")),
        None => (format!("/me/{action}"), format!("/me/{action}")),
    }
}

/// An HTTP API (payload 2.0) event. `owner` becomes the `sub` claim of a JWT authorizer; `body` is sent as JSON.
pub fn http_api_event(endpoint: Function, inquiry_id: Option<&str>, owner: Option<&str>, body: Option<&str>) -> Value {
    let (route_key, path) = route(endpoint, inquiry_id);
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("POST {route_key}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "rig"},
            "requestId": format!("apigw-{}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed)),
            "routeKey": format!("POST {route_key}"), "stage": "$default", "time": "26/Nov/2026:10:00:00 +0000", "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    if let Some(id) = inquiry_id {
        event["pathParameters"] = json!({"inquiry_id": id});
    }
    if let Some(owner) = owner {
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": {"sub": owner}, "scopes": null}});
    }
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

/// A REST API (payload 1.0) event with Cognito-style claims.
pub fn rest_api_event(endpoint: Function, inquiry_id: Option<&str>, owner: Option<Value>, body: Option<&str>) -> Value {
    let (resource, path) = route(endpoint, inquiry_id);
    let mut event = json!({
        "resource": resource, "path": path, "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": null, "multiValueQueryStringParameters": null,
        "pathParameters": inquiry_id.map(|id| json!({"inquiry_id": id})), "stageVariables": null,
        "requestContext": {"accountId": "123456789012", "apiId": "api", "httpMethod": "POST", "path": format!("/prod{path}"),
            "identity": {"sourceIp": "203.0.113.7"}, "protocol": "HTTP/1.1",
            "requestId": format!("apigw-{}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed)),
            "resourcePath": resource, "stage": "prod"},
        "body": body, "isBase64Encoded": false
    });
    if let Some(owner) = owner {
        event["requestContext"]["authorizer"] = json!({"claims": {"sub": owner}});
    }
    event
}
