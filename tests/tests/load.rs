//! Load: many simulated Lambda containers (one release-binary process each, behind its own Runtime API) against the
//! fake Persona with Persona's 300 requests/minute limit switched on, on a scaled window (300 per 3 s) so the run
//! stays short. The mix: returning users with current inquiries, expired ones, outdated ones asked for by both
//! functions at once, and concurrent first calls to `/me`. Asserts invariants only, never timings: every request is
//! answered (200, or the documented 429/503/504), none hangs, no duplicate inquiry, at most 8 Persona requests per
//! invocation (the cap), and the calls the invocations logged account for everything the fake saw. The guard runs
//! on moto's table with its budgets off: its windows are real minutes, which a scaled window can't shrink (the
//! share under a burst is the guard scenarios' subject, tests/src/scenarios/guard.rs).
//!
//! Prints the figures; with `LOAD_RESULTS=<path>` also writes them there as Markdown (bench/load-results.md).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::fake_persona::{NewTemplate, SeedInquiry};
use integration_tests::paths::release_binary;
use integration_tests::probe::{invoke_with_deadline, Invoked};
use integration_tests::rig::{http_api_event, process_rig_available, Function as Endpoint, Rig, BUDGETS_OFF};
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess};
use serde_json::Value;
use Endpoint::{IssueLink, ResumeSession};

/// Simulated containers per function.
const CONTAINERS_PER_FUNCTION: usize = 6;
const RATE_LIMIT: u32 = 300;
const RATE_WINDOW: Duration = Duration::from_secs(3);
/// Lambda deadline of each invocation.
const DEADLINE: Duration = Duration::from_secs(10);
/// The cap: at most 8 Persona requests per invocation (docs/design.md, "Call plans and the cap").
const MAX_UPSTREAM_CALLS: u64 = 8;

/// What a request is about, for the duplicate checks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Group {
    Current(String),
    Expired(String),
    Outdated(String),
    FirstCall(String),
}

#[derive(Clone, Debug)]
struct Job {
    endpoint: Endpoint,
    event: Value,
    group: Group,
}

struct Done {
    job: Job,
    invoked: Invoked,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_containers_under_personas_rate_limit() {
    if !process_rig_available("many_containers_under_personas_rate_limit") {
        return;
    }
    let rig = Rig::own_binaries(false).await.expect("the process rig");
    let template = rig.fake.create_template(NewTemplate::default()).unwrap();
    let seed = |status: &str, owner: &str| {
        rig.fake
            .seed_inquiry(SeedInquiry {
                template_id: template.id.clone(),
                status: Some(status.into()),
                reference_id: Some(owner.into()),
                ..SeedInquiry::default()
            })
            .unwrap()
    };

    // The workload.
    let mut jobs: Vec<Job> = Vec::new();
    let both = [IssueLink, ResumeSession];
    let job = |endpoint: Endpoint, id: Option<&str>, owner: &str, group: Group| Job {
        endpoint,
        event: http_api_event(endpoint, id, Some(owner), None),
        group,
    };
    // Outdated inquiries first: publishing a version makes every inquiry seeded before it outdated.
    let mut outdated = Vec::new();
    for i in 0..15 {
        let owner = format!("load-outdated-{i:03}");
        outdated.push((seed(if i % 3 == 0 { "expired" } else { "pending" }, &owner), owner));
    }
    rig.fake.publish_version(&template.id).unwrap();
    for i in 0..40 {
        let owner = format!("load-current-{i:03}");
        let inquiry = seed("pending", &owner);
        for k in 0..5 {
            jobs.push(job(both[k % 2], Some(&inquiry.id), &owner, Group::Current(owner.clone())));
        }
    }
    for i in 0..10 {
        let owner = format!("load-expired-{i:03}");
        let inquiry = seed(if i % 2 == 0 { "expired" } else { "created" }, &owner);
        for k in 0..3 {
            jobs.push(job(both[k % 2], Some(&inquiry.id), &owner, Group::Expired(owner.clone())));
        }
    }
    for (inquiry, owner) in &outdated {
        for k in 0..4 {
            jobs.push(job(both[k % 2], Some(&inquiry.id), owner, Group::Outdated(owner.clone())));
        }
    }
    for i in 0..15 {
        let owner = format!("load-newcomer-{i:03}");
        for k in 0..4 {
            jobs.push(job(both[(k + i) % 2], None, &owner, Group::FirstCall(owner.clone())));
        }
    }
    fastrand::shuffle(&mut jobs);
    let requests = jobs.len();

    // The containers.
    let mut env = rig.function_env();
    env.extend(BUDGETS_OFF.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env.push(("PERSONA_INQUIRY_TEMPLATE_ID".into(), template.id.clone()));
    let mut containers: Vec<(Endpoint, Arc<FunctionProcess>)> = Vec::new();
    for endpoint in both {
        let name = endpoint.function_name();
        let options = FunctionOptions::new(release_binary(name).unwrap()).function_name(name).envs(env.clone());
        for process in FunctionProcess::spawn_many(&options, CONTAINERS_PER_FUNCTION).await.unwrap() {
            process.cold_start().await.unwrap();
            containers.push((endpoint, Arc::new(process)));
        }
    }

    rig.fake.clear_requests();
    rig.fake.set_rate_limit(RATE_LIMIT, RATE_WINDOW);
    let queues: HashMap<&str, Arc<Mutex<VecDeque<Job>>>> = both
        .iter()
        .map(|e| {
            let queue: VecDeque<Job> = jobs.iter().filter(|j| j.endpoint == *e).cloned().collect();
            (e.function_name(), Arc::new(Mutex::new(queue)))
        })
        .collect();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for (endpoint, process) in &containers {
        let queue = queues[endpoint.function_name()].clone();
        let process = process.clone();
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let next = queue.lock().unwrap().pop_front();
                let Some(job) = next else { break };
                let invoked = invoke_with_deadline(&process, job.event.clone(), DEADLINE)
                    .await
                    .unwrap_or_else(|e| panic!("a request was not answered: {e}"));
                done.push(Done { job, invoked });
            }
            done
        });
    }
    let mut results: Vec<Done> = Vec::new();
    while let Some(finished) = workers.join_next().await {
        results.extend(finished.expect("worker"));
    }
    let wall = started.elapsed();
    rig.fake.disable_rate_limit();
    let seen = rig.fake.requests();

    // Invariants.
    assert_eq!(results.len(), requests, "every request was answered");
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    let mut calls: Vec<u64> = Vec::new();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut answers_per_group: HashMap<Group, HashSet<String>> = HashMap::new();
    for Done { job, invoked } in &results {
        let answer = &invoked.answer;
        *by_status.entry(answer.status).or_default() += 1;
        let outcome = answer.str("outcome").or(answer.str("code")).unwrap_or("?").to_owned();
        *by_outcome.entry(outcome).or_default() += 1;
        match answer.status {
            200 => {
                let id = answer.str("inquiry_id").expect("inquiry_id").to_owned();
                answers_per_group.entry(job.group.clone()).or_default().insert(id);
            }
            429 => {
                assert_eq!(answer.body["code"], "persona_rate_limited", "{}", answer.body);
                assert!(answer.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()));
            }
            504 => assert_eq!(answer.body["code"], "persona_timeout", "{}", answer.body),
            // Both functions asked for one replacement while Persona rate-limited its holder past the other's
            // deadline: the other answers "ask again" (the create is in the ledger, nothing lost or duplicated).
            503 => {
                assert_eq!(answer.body["code"], "creation_in_progress", "{}", answer.body);
                assert!(answer.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()));
            }
            other => panic!("undocumented answer under load: {other} {}", answer.body),
        }
        assert!(invoked.outcome.latency < DEADLINE, "answered within the deadline");
        let n = invoked.upstream_calls().unwrap_or_else(|| panic!("no invocation log line: {:?}", invoked.log));
        assert!(n <= MAX_UPSTREAM_CALLS, "{n} upstream calls in one invocation");
        calls.push(n);
        latencies.push(invoked.elapsed);
    }
    let logged_calls: u64 = calls.iter().sum();
    assert!(seen.len() as u64 <= logged_calls, "the fake saw {} requests, the logs count {logged_calls}", seen.len());

    // No duplicates: one replacement per outdated inquiry, one inquiry per newcomer, whatever the concurrency.
    let inquiries = rig.fake.inquiries();
    let count_of = |owner: &str| inquiries.iter().filter(|i| i.reference_id.as_deref() == Some(owner)).count();
    let mut duplicates = 0;
    for (_, owner) in &outdated {
        duplicates += count_of(owner).saturating_sub(2);
    }
    for i in 0..15 {
        duplicates += count_of(&format!("load-newcomer-{i:03}")).saturating_sub(1);
    }
    for i in 0..40 {
        duplicates += count_of(&format!("load-current-{i:03}")).saturating_sub(1);
    }
    for (group, ids) in &answers_per_group {
        assert_eq!(ids.len(), 1, "{group:?} was answered with different inquiries: {ids:?}");
    }
    assert_eq!(duplicates, 0, "duplicate inquiries");
    rig.fake.assert_no_violations();

    // Figures.
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1];
    let rate_limited_upstream = seen.iter().filter(|r| r.status == Some(429)).count();
    let mean = logged_calls as f64 / calls.len() as f64;
    let max = calls.iter().max().copied().unwrap_or(0);
    let statuses = by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect::<Vec<_>>().join(", ");
    let outcomes = by_outcome.iter().map(|(o, n)| format!("{o}: {n}")).collect::<Vec<_>>().join(", ");
    let report = format!(
        "| figure | value |\n|---|---|\n\
         | containers | {containers} ({per} issue-link + {per} resume-session processes) |\n\
         | Persona rate limit | {RATE_LIMIT} requests per {window} s (Persona's 300/min on a 20x scaled window) |\n\
         | invocation deadline | {deadline} s |\n\
         | requests | {requests} |\n\
         | answers by status | {statuses} |\n\
         | answers by outcome | {outcomes} |\n\
         | upstream calls per invocation | mean {mean:.2}, max {max} (budget {MAX_UPSTREAM_CALLS}) |\n\
         | upstream requests | {logged_calls} logged by the functions, {seen} seen by the fake, {rate_limited_upstream} of them answered 429 |\n\
         | latency (invoke to answer) | p50 {p50} ms, p99 {p99} ms, max {pmax} ms |\n\
         | wall time | {wall:.1} s ({throughput:.1} requests/s) |\n\
         | duplicate inquiries | {duplicates} |\n",
        containers = containers.len(),
        per = CONTAINERS_PER_FUNCTION,
        window = RATE_WINDOW.as_secs(),
        deadline = DEADLINE.as_secs(),
        seen = seen.len(),
        p50 = pct(0.50).as_millis(),
        p99 = pct(0.99).as_millis(),
        pmax = pct(1.0).as_millis(),
        wall = wall.as_secs_f64(),
        throughput = requests as f64 / wall.as_secs_f64(),
    );
    eprintln!("{report}");
    if let Some(path) = std::env::var_os("LOAD_RESULTS").filter(|p| !p.is_empty()) {
        let text = format!(
            "# Load results\n\n`LOAD_RESULTS=$PWD/bench/load-results.md cargo test -p integration-tests --test load -- --nocapture`\n\
             (after `cargo build --release -p issue-link -p resume-session`). Workload: 40 returning users with a current\n\
             inquiry (5 requests each), 10 with an expired or created one (3 each), 15 outdated inquiries asked for 4 times\n\
             at once by both functions, 15 newcomers calling `/me` 4 times at once; shuffled, one queue per function.\n\n{report}"
        );
        std::fs::write(&path, text).expect("write LOAD_RESULTS");
    }
    drop(containers);
}
