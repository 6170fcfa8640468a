//! Test support: Persona documents in the shapes of the official spec, and a client wired to a wiremock server.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use persona_resume::ops::config::Config;
use persona_resume::ops::secrets::{ApiKey, KeyStore};
use persona_resume::persona::calls::Invocation;
use persona_resume::persona::client::PersonaClient;
use persona_resume::persona::retry::RetryPolicy;
use persona_resume::persona::transport::{http_client, Transport};
use serde_json::{json, Value};

pub const API_KEY: &str = "persona_sandbox_test_key_0123456789";

/// An inquiry resource with every attribute the spec marks required.
pub fn inquiry(id: &str, status: &str, reference_id: Option<&str>, version: &str) -> Value {
    json!({
        "type": "inquiry",
        "id": id,
        "attributes": {
            "status": status, "reference-id": reference_id, "note": null, "behaviors": {}, "tags": [],
            "creator": "API", "reviewer-comment": null, "created-at": "2026-11-01T10:00:00.000Z",
            "updated-at": "2026-11-01T10:00:00.000Z", "started-at": null, "expires-at": null, "completed-at": null,
            "failed-at": null, "marked-for-review-at": null, "decisioned-at": null, "expired-at": null,
            "redacted-at": null, "previous-step-name": null, "next-step-name": null, "fields": {}
        },
        "relationships": {
            "account": {"data": {"type": "account", "id": "act_Test1"}},
            "inquiry-template": {"data": {"type": "inquiry-template", "id": "itmpl_Test1"}},
            "inquiry-template-version": {"data": {"type": "inquiry-template-version", "id": version}},
            "template": {"data": null}
        }
    })
}

pub fn template(latest_version: &str) -> Value {
    json!({"type": "inquiry-template", "id": "itmpl_Test1", "attributes": {"name": "KYC", "status": "active"},
           "relationships": {"latest-published-version": {"data": {"type": "inquiry-template-version", "id": latest_version}}}})
}

/// `GET /inquiries/{id}?include=inquiry-template`
pub fn inquiry_document(inquiry: Value, latest_version: &str) -> Value {
    json!({"data": inquiry, "included": [template(latest_version)]})
}

pub fn resume_document(inquiry: Value, token: &str) -> Value {
    json!({"data": inquiry, "meta": {"session-token": token}})
}

pub fn link_document(inquiry: Value, link: &str) -> Value {
    json!({"data": inquiry, "meta": {"one-time-link": link, "one-time-link-short": format!("{link}-short")}})
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts_per_call: 4,
        max_requests_per_invocation: 12,
        attempt_timeout: Duration::from_millis(500),
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        min_attempt_time: Duration::from_millis(10),
    }
}

pub fn config(base_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: Vec<(String, String)> =
        vec![("PERSONA_API_KEY".into(), API_KEY.into()), ("PERSONA_API_BASE_URL".into(), base_url.into())];
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Config::from_lookup(|name| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap()
}

/// The client as cold start builds it (without the pre-dial), over `keys`.
pub fn client_with_keys(config: &Config, keys: KeyStore) -> PersonaClient {
    let http = http_client(None).unwrap();
    PersonaClient::new(
        Transport::new(http, &config.persona_api_base_url, &config.persona_version, keys, fast_retry()).unwrap(),
    )
}

pub fn client(base_url: &str, extra: &[(&str, &str)]) -> PersonaClient {
    client_with_keys(&config(base_url, extra), KeyStore::fixed(ApiKey::new(API_KEY.into())))
}

pub fn invocation(budget: Duration) -> Invocation {
    Invocation::new("req-test-1".into(), Instant::now() + budget)
}
