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
