//! The hostile raw events of `integration_tests::hostile` on the release binaries: every one answered over HTTP
//! (no invocation error, no crash), the processes still alive afterwards.

use std::time::Duration;

use integration_tests::hostile::{cases, run, targets, Case, USER};
use integration_tests::rig::{
    http_api_event, ApiVersion,
    Function::{IssueLink, ResumeSession},
    Rig, Upstream,
};
use integration_tests::runtime_api::InvokeResult;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_raw_events_on_the_release_binaries() {
    let name = "hostile_raw_events_on_the_release_binaries";
    let Some(rig) = Rig::binaries(ApiVersion::V2025_12_08, name).await else { return };
    let targets = targets(&rig);
    let functions = rig.deploy_direct(&[]).await.unwrap();
    let selected: Vec<Case> = cases(&targets)
        .into_iter()
        .filter(|c| {
            ["claim", "base64", "header", "host", "query", "NUL", "\\0", "1 MiB", "10,000", "REST id", "method GET"]
                .iter()
                .any(|needle| c.name.contains(needle))
        })
        .collect();
    assert!(selected.len() > 30, "{}", selected.len());
    let count = run(&rig, &functions, selected).await;
    eprintln!("{count} hostile raw events on the release binaries, none answered 5xx");

    // Events that are not API Gateway events at all: an invocation error, never a crash.
    for function in [IssueLink, ResumeSession] {
        let process = functions.process(function).expect("the release binaries");
        let outcome = process.invoke(json!({"hello": "world"}), Duration::from_secs(5)).await.unwrap();
        assert!(matches!(outcome.result, InvokeResult::Error(_)), "{:?}", outcome.result);
    }
    for function in [IssueLink, ResumeSession] {
        let process = functions.process(function).expect("the release binaries");
        assert!(process.exit_status().is_none(), "{} is still running", function.function_name());
        let answer = functions.call(function, http_api_event(function, Some(&targets.mine.id), Some(USER), None)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    rig.finish(name, Upstream::Contract).await;
}
