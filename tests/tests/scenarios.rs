//! The behaviour scenarios on the in-process rig: the real handler and service, the fake Persona over real HTTP.
//! (`tests/tests/e2e.rs` runs the same scenarios on the release binaries, behind moto and Prism.)

use integration_tests::rig::Rig;
use integration_tests::scenarios;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_in_process() {
    let rig = Rig::in_process();
    for (name, scenario) in scenarios::all() {
        eprintln!("scenario: {name}");
        scenario(&rig).await;
    }
    rig.fake.assert_no_violations();
    integration_tests::our_contract::assert_no_violations();
}
