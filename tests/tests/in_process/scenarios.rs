//! Every scenario of `integration_tests::scenarios`, one test each, on the in-process rig (a fake of its own).

use integration_tests::scenarios;

macro_rules! in_process {
    ($name:ident, $upstream:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            scenarios::run_in_process(stringify!($name), |rig| Box::pin(scenarios::$name(rig))).await;
        }
    };
}

integration_tests::for_each_scenario!(in_process);

/// Issue 19's scenarios (`cargo test -p integration-tests --test in_process right_inquiry`).
mod right_inquiry {
    use integration_tests::scenarios;

    integration_tests::for_each_right_inquiry_scenario!(in_process);
    in_process!(explicit_deploy_on_api_2026_09_29, Contract);
}

mod guard {
    use integration_tests::scenarios;

    integration_tests::for_each_guard_scenario!(in_process);
    // Not here: `for_each_process_guard_scenario!` needs two processes on one guard table, or a table that is
    // missing or unreachable (tests/tests/binaries/scenarios.rs); in-process deployments share one in-memory store.
}
