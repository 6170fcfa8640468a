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

mod guard {
    use integration_tests::scenarios;

    integration_tests::for_each_guard_scenario!(in_process);
    // Not here: `for_each_process_guard_scenario!` needs two processes on one guard table, or a deployment's own
    // table; each in-process deployment has an in-memory guard of its own (tests/tests/binaries/scenarios.rs).
}
