//! Every file in `events/` goes through `parse_event` (what the functions run on each payload) and the real handler, with the Persona
//! client pointed at the fake Persona (demo seed), and must produce the status written down for it in
//! `events/expected.json`. The same run captures the JSON logs and proves no credential reaches them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use integration_tests::fake_persona::{FakeConfig, FakePersona};
use integration_tests::rig::{handle_in_process, in_process_state, json_log_subscriber, CapturedLogs, Function};
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    events: BTreeMap<String, Expected>,
}

#[derive(Deserialize)]
struct Expected {
    function: String,
    status: u16,
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// The functions' configuration for the events: the fake's demo seed, its `/me` template.
fn env_for(fake: &FakePersona) -> Vec<(String, String)> {
    vec![
        ("PERSONA_API_KEY".into(), fake.api_key()),
        ("PERSONA_API_BASE_URL".into(), fake.base_url()),
        ("PERSONA_INQUIRY_TEMPLATE_ID".into(), "itmpl_DemoTemplate0001".to_owned()),
    ]
}

#[tokio::test]
async fn every_event_file_produces_its_documented_status_and_no_credential_is_logged() {
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("expected.json")).unwrap()).unwrap();

    // Every event file is listed, and every listed file exists.
    let mut on_disk = Vec::new();
    for function in ["issue-link", "resume-session"] {
        for entry in std::fs::read_dir(events_dir().join(function)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            on_disk.push(format!("{function}/{name}"));
        }
    }
    on_disk.sort();
    assert_eq!(on_disk, manifest.events.keys().cloned().collect::<Vec<_>>(), "events/expected.json is out of date");

    let fake = FakePersona::start(FakeConfig { seed_demo: true, ..FakeConfig::default() });
    let state = in_process_state(&env_for(&fake)).unwrap();
    let logs = CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(json_log_subscriber(logs.clone()));

    let mut credentials = vec![fake.api_key()];
    let mut mismatches = Vec::new();
    let mut context_counter = 1..;
    for (file, expected) in &manifest.events {
        let endpoint = match expected.function.as_str() {
            "issue-link" => Function::IssueLink,
            "resume-session" => Function::ResumeSession,
            other => panic!("{file}: unknown function {other}"),
        };
        let raw = std::fs::read_to_string(events_dir().join(file)).unwrap();
        let payload: serde_json::Value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
        let request: lambda_http::Request = persona_resume::lambda::event::parse_event(payload)
            .unwrap_or_else(|e| panic!("{file}: not an event: {e}"))
            .into();
        // What the runtime attaches: a fresh request id per invocation (the link and resume keys use it) and a deadline.
        let request_id = format!("events-test-{}", context_counter.next().unwrap());
        let response = handle_in_process(&state, endpoint, request, request_id).await.unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref())
            .unwrap_or_else(|e| panic!("{file}: the body is not JSON: {e}"));
        if status != expected.status {
            mismatches.push(format!("{file}: expected {}, got {status}: {body}", expected.status));
        }
        assert_eq!(response.headers()["cache-control"], "no-store", "{file}");
        if status == 200 {
            assert_eq!(response.headers()["content-type"], "application/json", "{file}");
            for member in ["session_token", "one_time_link", "one_time_link_short"] {
                if let Some(value) = body[member].as_str() {
                    credentials.push(value.to_owned());
                }
            }
        } else {
            assert_eq!(response.headers()["content-type"], "application/problem+json", "{file}");
            assert_eq!(body["status"], status, "{file}");
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    fake.assert_no_violations();

    let output = logs.text();
    let invocation_lines: Vec<serde_json::Value> =
        logs.json_lines().into_iter().filter(|line| line["message"] == "invocation").collect();
    assert_eq!(invocation_lines.len(), manifest.events.len(), "one invocation line per event");
    for line in &invocation_lines {
        for field in ["function", "status", "outcome", "upstream_calls", "upstream_ms", "persona_request_ids"] {
            assert!(line.get(field).is_some(), "{field} missing from {line}");
        }
    }
    assert!(invocation_lines.iter().any(|l| l["template_check"] == "outdated"));
    assert!(credentials.len() > 10, "the run handed out links and tokens");
    for credential in &credentials {
        // Tokens also appear URL-encoded inside hosted flow URLs: check the raw value.
        assert!(!output.contains(credential.as_str()), "a credential reached the logs: {credential}");
    }
}

/// A line written in the middle of an invocation (here the template check's warning) carries the invocation's
/// request id and function from its span, without any log event naming them; a line after it carries none.
#[tokio::test]
async fn a_line_written_mid_invocation_carries_the_request_id_of_its_invocation() {
    let fake = FakePersona::start(FakeConfig { seed_demo: true, ..FakeConfig::default() });
    let mut env = env_for(&fake);
    env.push(("AUTH_MODE".into(), "iam".into()));
    let state = in_process_state(&env).unwrap();
    let logs = CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(json_log_subscriber(logs.clone()));

    // The legacy demo inquiry has no template version: the check is unavailable, which is logged as a warning.
    for request_id in ["span-test-1", "span-test-2"] {
        let event =
            integration_tests::rig::http_api_event(Function::ResumeSession, Some("inq_DemoLegacy0001"), None, None);
        let request = persona_resume::lambda::event::parse_event(event).unwrap().into();
        handle_in_process(&state, Function::ResumeSession, request, request_id.to_owned()).await.unwrap();
    }
    tracing::warn!("after the invocations");

    let lines = logs.json_lines();
    let warnings: Vec<&serde_json::Value> =
        lines.iter().filter(|line| line["message"] == "template version check unavailable").collect();
    assert_eq!(warnings.len(), 2, "{lines:#?}");
    for (warning, request_id) in warnings.iter().zip(["span-test-1", "span-test-2"]) {
        assert_eq!(warning["level"], "WARN", "{warning}");
        assert_eq!(warning["span"]["lambda_request_id"], request_id, "{warning}");
        assert_eq!(warning["span"]["function"], "resume-session", "{warning}");
        assert!(warning.get("lambda_request_id").is_none(), "written by hand: {warning}");
    }
    let summaries: Vec<&serde_json::Value> = lines.iter().filter(|line| line["message"] == "invocation").collect();
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[1]["span"]["lambda_request_id"], "span-test-2");
    let after = lines.iter().find(|line| line["message"] == "after the invocations").unwrap();
    assert!(after.get("span").is_none(), "the span ends with its invocation: {after}");
}
