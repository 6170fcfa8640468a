//! End to end: the real release binaries (`cargo build --release -p issue-link -p resume-session`) driven through
//! the Lambda Runtime API with API Gateway events, the Persona key read from moto's Secrets Manager, and every
//! Persona call going through Stoplight Prism validating against Persona's official OpenAPI file (requests), with
//! the fake's own answers validated against the same file (responses).

use std::time::Duration;

use integration_tests::fake_persona::DEFAULT_API_KEY;
use integration_tests::prism::{prism_bin, running_in_ci};
use integration_tests::rig::{http_api_event, Rig};
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess};
use integration_tests::scenarios;
use persona_resume::Function::{IssueLink, ResumeSession};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_binaries_end_to_end() {
    let with_prism = prism_bin().is_some() || running_in_ci();
    if !with_prism {
        eprintln!("NOTE: Prism is not installed (npm ci): running without the request contract check");
    }
    let rig = Rig::binaries(with_prism).await.expect("rig");
    if let Some(prism) = rig.prism() {
        eprintln!("prism: validating proxy at {} (started in {:?})", prism.base_url(), prism.startup_time());
    }

    for (name, scenario) in scenarios::all() {
        eprintln!("scenario (release binaries{}): {name}", if with_prism { ", through Prism" } else { "" });
        let before = rig.prism().map(|prism| prism.child().output().len());
        scenario(&rig).await;
        if let (Some(prism), Some(before)) = (rig.prism(), before) {
            prism.child().output().wait_quiet(Duration::from_millis(300), Duration::from_secs(5)).await;
            let problems = prism.problems_since(before);
            let lines: Vec<&str> = problems.iter().map(|p| p.line.as_str()).collect();
            if scenarios::FAULT_SCENARIOS.contains(&name) {
                // Injected faults are outside Persona's contract on purpose (5xx, hang-ups, garbage): exempt. A
                // request of ours that Prism rejects is never exempt.
                let rejected = |p: &&integration_tests::prism::LoggedProblem| {
                    p.message.contains("UNPROCESSABLE_ENTITY") || p.message.contains("Invalid request")
                };
                assert!(
                    !problems.iter().any(|p| rejected(&p)),
                    "{name}: Prism rejected a request:\n{}",
                    lines.join("\n")
                );
            } else {
                assert!(problems.is_empty(), "{name}: Prism reported:\n{}", lines.join("\n"));
            }
        }
    }
    let after_scenarios = rig.prism().map(|prism| prism.child().output().len());

    logs_carry_no_credentials(&rig).await;
    a_rotated_key_is_picked_up(&rig).await;
    bad_configuration_fails_the_cold_start(&rig).await;

    rig.fake.assert_no_violations();
    integration_tests::our_contract::assert_no_violations();
    if let (Some(prism), Some(after)) = (rig.prism(), after_scenarios) {
        prism.child().output().wait_quiet(Duration::from_millis(300), Duration::from_secs(5)).await;
        let problems = prism.problems_since(after);
        assert!(problems.is_empty(), "Prism reported: {problems:?}");
        eprintln!("prism: every Persona call went through Prism; none broke Persona's contract");
    }
}

/// One JSON object per line, an invocation line per call, and never a key, token or link.
async fn logs_carry_no_credentials(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let template = scenarios::new_template(rig);
    let inquiry = scenarios::seed(rig, &template, "pending", Some("log-user"));
    let link = functions.call(IssueLink, http_api_event(IssueLink, Some(&inquiry.id), Some("log-user"), None)).await;
    let session =
        functions.call(ResumeSession, http_api_event(ResumeSession, Some(&inquiry.id), Some("log-user"), None)).await;
    let credentials = [
        DEFAULT_API_KEY.to_owned(),
        link.str("one_time_link").unwrap().to_owned(),
        link.str("one_time_link_short").unwrap().to_owned(),
        session.str("session_token").unwrap().to_owned(),
    ];
    let Deployment { issue_link, resume_session } = functions_processes(functions);
    for process in [issue_link.as_ref(), resume_session.as_ref()] {
        let stdout = process.stdout_lines();
        let stderr = process.stderr_lines();
        for line in &stdout {
            serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        }
        let invocation = process
            .json_logs()
            .into_iter()
            .find(|l| l["message"] == "invocation")
            .expect("one invocation line per call");
        assert_eq!(invocation["status"], 200);
        assert!(invocation["persona_request_ids"].as_str().is_some_and(|ids| ids.contains("req_")), "{invocation}");
        for credential in &credentials {
            for line in stdout.iter().chain(&stderr) {
                assert!(!line.contains(credential.as_str()), "a credential reached the logs: {line}");
            }
        }
    }
}

struct Deployment {
    issue_link: Box<FunctionProcess>,
    resume_session: Box<FunctionProcess>,
}

fn functions_processes(deployment: integration_tests::rig::Deployment) -> Deployment {
    match deployment {
        integration_tests::rig::Deployment::Binaries { issue_link, resume_session } => {
            Deployment { issue_link, resume_session }
        }
        integration_tests::rig::Deployment::InProcess(_) => unreachable!("the e2e rig runs binaries"),
    }
}

/// The key is rotated in Secrets Manager and Persona stops accepting the old one: the next call re-reads the
/// secret after the 401 and succeeds.
async fn a_rotated_key_is_picked_up(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let template = scenarios::new_template(rig);
    let inquiry = scenarios::seed(rig, &template, "pending", Some("rotating-user"));
    let call =
        || functions.call(ResumeSession, http_api_event(ResumeSession, Some(&inquiry.id), Some("rotating-user"), None));
    assert_eq!(call().await.status, 200);

    let moto = rig.moto().unwrap();
    let rotated = "persona_sandbox_rotated_key_0002";
    moto.put_secret_value(rig.secret_arn().unwrap(), &json!({"api_key": rotated}).to_string()).await.unwrap();
    rig.fake.set_api_keys([rotated]);
    let answer = call().await;
    rig.fake.set_api_keys([DEFAULT_API_KEY]);
    moto.put_secret_value(rig.secret_arn().unwrap(), &json!({"api_key": DEFAULT_API_KEY}).to_string()).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// A bad value fails the cold start with a message naming the variable (and the process never asks for events).
async fn bad_configuration_fails_the_cold_start(rig: &Rig) {
    let moto = rig.moto().unwrap();
    for (variable, value) in [("AUTH_MODE", "none"), ("LINK_EXPIRES_IN_SECONDS", "10"), ("EXPIRE_SUPERSEDED", "yes")] {
        let mut env = moto.function_env();
        env.push(("PERSONA_API_KEY_SECRET_ID".into(), rig.secret_arn().unwrap().to_owned()));
        env.push((variable.into(), value.into()));
        let options = FunctionOptions::new(integration_tests::paths::release_binary("issue-link").unwrap()).envs(env);
        let process = FunctionProcess::spawn_with(options).await.unwrap();
        let failure = process.init_failure(Duration::from_secs(15)).await.unwrap();
        assert!(failure.mentions(variable), "{variable}: {failure:?}");
    }
    // A secret that doesn't exist fails too, naming it.
    let mut env = moto.function_env();
    env.push(("PERSONA_API_KEY_SECRET_ID".into(), "persona-resume/no-such-secret".into()));
    let options = FunctionOptions::new(integration_tests::paths::release_binary("resume-session").unwrap()).envs(env);
    let process = FunctionProcess::spawn_with(options).await.unwrap();
    let failure = process.init_failure(Duration::from_secs(15)).await.unwrap();
    assert!(failure.mentions("persona-resume/no-such-secret"), "{failure:?}");
}
