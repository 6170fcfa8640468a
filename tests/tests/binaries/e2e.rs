//! End to end beyond the scenarios: what only the release binaries can show — their logs, a key rotated in
//! Secrets Manager, and a cold start that fails on bad configuration.

use std::time::Duration;

use integration_tests::fake_persona::DEFAULT_API_KEY;
use integration_tests::paths::release_binary;
use integration_tests::rig::{http_api_event, ApiVersion, Function, Rig, Upstream};
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess};
use integration_tests::world::World;

/// One JSON object per line, an invocation line per call, and never a key, token or link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_credentials() {
    let Some(rig) = Rig::binaries(ApiVersion::V2025_12_08, "logs_carry_no_credentials").await else { return };
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::with_user(&rig, "log-user");
    let inquiry = w.seed("pending");
    let link = w.link(&functions, &inquiry.id).await;
    let session = w.session(&functions, &inquiry.id).await;
    let credentials = [
        DEFAULT_API_KEY.to_owned(),
        link.str("one_time_link").unwrap().to_owned(),
        link.str("one_time_link_short").unwrap().to_owned(),
        session.str("session_token").unwrap().to_owned(),
    ];
    for function in [Function::IssueLink, Function::ResumeSession] {
        let process = functions.process(function).expect("the release binaries");
        let stdout = process.stdout_lines();
        let stderr = process.stderr_lines();
        for line in &stdout {
            serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        }
        // The invocation line may be written just after the answer is posted: wait for it.
        let invocation = process
            .wait_for_json_log(|l| l["message"] == "invocation", Duration::from_secs(2))
            .await
            .expect("one invocation line per call");
        assert_eq!(invocation["status"], 200);
        assert!(invocation["persona_request_ids"].as_str().is_some_and(|ids| ids.contains("req_")), "{invocation}");
        for credential in &credentials {
            for line in stdout.iter().chain(&stderr) {
                assert!(!line.contains(credential.as_str()), "a credential reached the logs: {line}");
            }
        }
    }
    rig.finish("logs_carry_no_credentials", Upstream::Contract).await;
}

/// At `AWS_LAMBDA_LOG_LEVEL=TRACE` lambda_runtime logs every raw event it receives: the caller's JWT (here in the
/// `authorization` header API Gateway forwards) must still never reach the logs, while our own debug lines do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_carry_no_jwt_and_no_raw_event() {
    let name = "trace_logs_carry_no_jwt_and_no_raw_event";
    let Some(rig) = Rig::binaries(ApiVersion::V2025_12_08, name).await else { return };
    let functions = rig.deploy(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]).await.unwrap();
    let w = World::with_user(&rig, "trace-user");
    let inquiry = w.seed("pending");
    let jwt =
        "eyJhbGciOiJSUzI1NiIsImtpZCI6InRyYWNlIn0.eyJzdWIiOiJ0cmFjZS11c2VyIn0.dHJhY2Utc2lnbmF0dXJlLW9mLXRoZS1jYWxsZXI";
    for function in [Function::IssueLink, Function::ResumeSession] {
        let mut event = http_api_event(function, Some(&inquiry.id), Some(&w.user), None);
        event["headers"]["authorization"] = serde_json::json!(format!("Bearer {jwt}"));
        // A header only the raw event carries (the service never logs headers).
        let marker = format!("raw-event-marker-{}", fastrand::u64(..));
        event["headers"]["x-rig-marker"] = serde_json::json!(marker);
        let answer = functions.call(function, event).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let process = functions.process(function).expect("the release binaries");
        process
            .wait_for_json_log(|l| l["message"] == "invocation", Duration::from_secs(2))
            .await
            .expect("one invocation line per call");
        let lines: Vec<String> = process.stdout_lines().into_iter().chain(process.stderr_lines()).collect();
        for line in &lines {
            assert!(!line.contains(jwt), "the caller's JWT reached the logs at TRACE: {line}");
            assert!(!line.contains(&marker), "the raw event reached the logs at TRACE: {line}");
        }
    }
    rig.finish(name, Upstream::Contract).await;
}

/// The key is rotated in Secrets Manager and Persona stops accepting the old one: the next call re-reads the
/// secret after the 401 and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up() {
    let Some(rig) = Rig::binaries(ApiVersion::V2025_12_08, "a_rotated_key_is_picked_up").await else { return };
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::with_user(&rig, "rotating-user");
    let inquiry = w.seed("pending");
    assert_eq!(w.session(&functions, &inquiry.id).await.status, 200);

    let rotated = "persona_sandbox_rotated_key_0002";
    rig.put_api_key_secret(rotated).await.unwrap();
    rig.fake.set_api_keys([rotated]);
    let answer = w.session(&functions, &inquiry.id).await;
    rig.fake.set_api_keys([DEFAULT_API_KEY]);
    rig.put_api_key_secret(DEFAULT_API_KEY).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The old key's 401 is Persona's documented answer, not a problem.
    rig.finish("a_rotated_key_is_picked_up", Upstream::Contract).await;
}

/// A bad value fails the cold start with a message naming the variable (and the process never asks for events).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_fails_the_cold_start() {
    let name = "bad_configuration_fails_the_cold_start";
    let Some(rig) = Rig::binaries(ApiVersion::V2025_12_08, name).await else { return };
    for (variable, value) in [("AUTH_MODE", "none"), ("LINK_EXPIRES_IN_SECONDS", "10"), ("EXPIRE_SUPERSEDED", "yes")] {
        let mut env = rig.function_env();
        env.push((variable.into(), value.into()));
        let options = FunctionOptions::new(release_binary("issue-link").unwrap()).envs(env);
        let process = FunctionProcess::spawn_with(options).await.unwrap();
        let failure = process.init_failure(Duration::from_secs(15)).await.unwrap();
        assert!(failure.mentions(variable), "{variable}: {failure:?}");
    }
    // The hosted flow URL carries session tokens to browsers: plain http off loopback, or a query naming an
    // inquiry, a token or a template, fails the cold start (docs/design.md, "Security model").
    for unsafe_url in [
        "http://verify.example.com/start",
        "https://verify.example.com/start?session-token=planted",
        "https://verify.example.com/start?inquiry-template-id=itmpl_Other0001",
    ] {
        let mut env = rig.function_env();
        env.push(("PERSONA_HOSTED_FLOW_URL".into(), unsafe_url.into()));
        let options = FunctionOptions::new(release_binary("resume-session").unwrap()).envs(env);
        let process = FunctionProcess::spawn_with(options).await.unwrap();
        let failure = process.init_failure(Duration::from_secs(15)).await.unwrap();
        assert!(failure.mentions("PERSONA_HOSTED_FLOW_URL"), "{unsafe_url}: {failure:?}");
    }
    // A secret that doesn't exist fails too, naming it.
    let mut env = rig.function_env();
    env.push(("PERSONA_API_KEY_SECRET_ID".into(), "persona-resume/no-such-secret".into()));
    let options = FunctionOptions::new(release_binary("resume-session").unwrap()).envs(env);
    let process = FunctionProcess::spawn_with(options).await.unwrap();
    let failure = process.init_failure(Duration::from_secs(15)).await.unwrap();
    assert!(failure.mentions("persona-resume/no-such-secret"), "{failure:?}");
    rig.finish(name, Upstream::Contract).await;
}
