//! Behaviour scenarios, written once against the contract of design.md and run as individually named tests on
//! both rigs: in-process (fast, `tests/tests/in_process`) and the release binaries behind the Runtime API, moto and
//! Prism, once per Persona API version (`tests/tests/binaries`). [`for_each_scenario!`] is the list; each entry
//! names a scenario and what Prism may report while it runs ([`Upstream`]). Each scenario plants its own world.
//!
//! `cargo test -p integration-tests outdated_inquiry` runs one scenario on every rig.

mod accounts;
mod faults;
mod guard;
mod recreate;
mod refusals;
mod resume;
mod returning;
mod right_inquiry;

pub use accounts::*;
pub use faults::*;
pub use guard::*;
pub use recreate::*;
pub use refusals::*;
pub use resume::*;
pub use returning::*;
pub use right_inquiry::*;

use crate::rig::{ApiVersion, Rig, Upstream};

pub type ScenarioFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;
pub type Scenario = for<'a> fn(&'a Rig) -> ScenarioFuture<'a>;

/// Calls `$test!(name, Upstream variant)` for every scenario. `InjectsFaults`: the scenario injects answers outside
/// Persona's contract on purpose (Prism's upstream-error lines are exempt, and the 2023-01-05 pass leaves it out).
#[macro_export]
macro_rules! for_each_scenario {
    ($test:ident) => {
        $test!(pending_current_inquiry_is_resumed, Contract);
        $test!(created_inquiry, Contract);
        $test!(expired_inquiry_is_resumed_then_linked, Contract);
        $test!(outdated_inquiry_is_recreated_exactly_once, Contract);
        $test!(recreate_without_reference_id_converges_by_key, Contract);
        $test!(superseded_inquiry_is_expired_when_asked, InjectsFaults);
        $test!(template_check_unavailable, Contract);
        $test!(finished_and_redacted_inquiries_are_refused, Contract);
        $test!(only_the_owner_gets_access, Contract);
        $test!(bad_requests_never_reach_persona, Contract);
        $test!(returning_users_without_an_inquiry_id, Contract);
        $test!(persona_faults_end_in_documented_answers, InjectsFaults);
        // design.md *Recreate* and *Idempotency keys* (issue #11).
        $test!(finished_replacement_is_refused_on_the_old_id, Contract);
        $test!(a_changed_redirect_uri_starts_a_fresh_key, InjectsFaults);
        $test!(stored_5xx_on_create_never_lock_a_user_out, InjectsFaults);
        // design.md *Who owns an inquiry* and *Returning users*: users are Persona accounts (issue #11).
        $test!(account_only_user_resumes_links_and_recreates, Contract);
        $test!(me_finds_users_through_their_accounts, Contract);
        $test!(lax_filters_never_hand_out_another_users_inquiry, Contract);
    };
}

/// As [`for_each_scenario!`], for issue 19's scenarios (design.md *Returning users*, *Recreate*, *What "latest"
/// means*, `TRUSTED_INQUIRY_TAG`, *Idempotency keys*): the rigs run them in a module `right_inquiry`, so
/// `cargo test -p integration-tests right_inquiry` runs them all. The 2026-09-29 scenario is not in this list: no
/// Prism bundle exists for that version, so each rig names it itself (the process rig runs it without Prism).
#[macro_export]
macro_rules! for_each_right_inquiry_scenario {
    ($test:ident) => {
        $test!(me_the_newest_decides_wherever_it_was_found, Contract);
        $test!(approved_replacement_on_an_older_version_is_never_re_verified, Contract);
        $test!(explicit_deploy_creates_exactly_once, Contract);
        $test!(planted_inquiries_never_decide, Contract);
        $test!(a_planted_flood_is_never_read_as_none, Contract);
        $test!(superseded_expired_is_this_invocations, InjectsFaults);
        $test!(a_foreign_account_only_inquiry_costs_what_a_missing_one_costs, Contract);
    };
}

/// The guard's scenarios (design.md *The guard (durable state)*, issue #18), on both rigs, listed like
/// [`for_each_scenario!`]; each rig's test file runs them in a module `guard` (`cargo test … guard`).
#[macro_export]
macro_rules! for_each_guard_scenario {
    ($test:ident) => {
        $test!(a_long_create_incident_then_recovery_creates_once, InjectsFaults);
        $test!(a_dead_holders_create_is_taken_over_with_the_same_key, Contract);
        $test!(an_ownerless_inquiry_is_replaced_once_after_persona_forgets_its_keys, Contract);
        $test!(the_deployments_share_caps_persona_calls_under_a_burst, Contract);
        $test!(per_owner_and_per_inquiry_limits_answer_429, Contract);
        $test!(the_session_cap_is_replaced_only_when_recognised, Contract);
        $test!(at_most_eight_persona_calls_per_invocation_on_a_bad_day, InjectsFaults);
    };
}

/// The guard's scenarios that need what only the process rig has, run by `tests/tests/binaries/scenarios.rs`
/// alone (in its module `guard`): two processes sharing moto's guard table, and a deployment's table
/// that is missing or unreachable (the in-process rig's deployments share one in-memory store and have no table).
#[macro_export]
macro_rules! for_each_process_guard_scenario {
    ($test:ident) => {
        $test!(concurrent_first_calls_on_two_processes_create_one_inquiry, Contract);
        $test!(a_missing_table_or_dynamodb_down_fails_open, Contract);
    };
}

/// One scenario on the in-process rig (a fake of its own).
pub async fn run_in_process(name: &str, scenario: Scenario) {
    let rig = Rig::in_process();
    scenario(&rig).await;
    finish(&rig, name, Upstream::Contract).await;
}

/// One scenario on the shared release-binaries rig of `version`; skipped (with the reason) when the tools are not
/// installed outside CI.
pub async fn run_on_binaries(version: ApiVersion, name: &str, upstream: Upstream, scenario: Scenario) {
    let Some(rig) = Rig::binaries(version, name).await else { return };
    scenario(&rig).await;
    finish(&rig, name, upstream).await;
}

async fn finish(rig: &Rig, name: &str, upstream: Upstream) {
    rig.finish(name, upstream).await;
    assert!(rig.answers_checked() > 0, "{name}: no answer was checked against openapi.yaml: is the rig recording?");
}
