//! The connection to Persona opened during init (issue #14), through the real release binaries
//! (`cargo build --release -p issue-link -p resume-session`) against the fake Persona behind a TLS front whose
//! throwaway CA the functions trust through `SSL_CERT_FILE`: one TLS connection and no request at init, the first
//! call served on it; and never worse when the dial is refused, hangs, or its connection is closed before use.
//! The init line reports what init did for the first call: the dial's outcome.

use std::time::Duration;

use integration_tests::fake_persona::{FakeConfig, FakePersona, SeedInquiry};
use integration_tests::rig::http_api_event;
use integration_tests::runtime_api::{release_binary, FunctionOptions, FunctionProcess};
use integration_tests::tls::{FrontMode, TlsFront, TlsIdentity};
use persona_resume::persona::preconnect::DIAL_BUDGET;
use persona_resume::Function;

const OWNER: &str = "predial-user";

fn fake() -> FakePersona {
    FakePersona::start(FakeConfig::default())
}

fn pending_inquiry(fake: &FakePersona) -> String {
    let template = fake.create_template(integration_tests::fake_persona::NewTemplate::default()).expect("template");
    let seed = SeedInquiry {
        template_id: template.id,
        status: Some("pending".into()),
        reference_id: Some(OWNER.into()),
        ..SeedInquiry::default()
    };
    fake.seed_inquiry(seed).expect("inquiry").id
}

/// `resume-session` pointed at `base_url`, trusting `ca_file`, with the key in the environment (no moto needed).
async fn function(fake: &FakePersona, base_url: &str, ca_file: &std::path::Path) -> FunctionProcess {
    let options = FunctionOptions::new(release_binary("resume-session").expect("release binary"))
        .env("PERSONA_API_KEY", fake.api_key())
        .env("PERSONA_API_BASE_URL", base_url)
        .env("SSL_CERT_FILE", ca_file.display().to_string())
        .env("AWS_REGION", "us-east-1");
    FunctionProcess::spawn_with(options).await.expect("spawn")
}

/// The "initialised" log line's account of the pre-dial.
async fn pre_dial(process: &FunctionProcess) -> String {
    let line = process
        .wait_for_json_log(|line| line["message"] == "initialised", Duration::from_secs(5))
        .await
        .expect("the initialised line");
    line["pre_dial"].as_str().unwrap_or_default().to_owned()
}

/// Invokes once with a freshly seeded inquiry; the answer must be 200 and each Persona call made at most once.
async fn resume_once(process: &FunctionProcess, fake: &FakePersona) {
    let id = pending_inquiry(fake);
    fake.clear_requests();
    let event = http_api_event(Function::ResumeSession, Some(&id), Some(OWNER), None);
    let outcome = process.invoke(event, Duration::from_secs(20)).await.expect("invoke");
    let http = outcome.http().expect("http answer");
    assert_eq!(http.status, 200, "{}", http.text());
    let calls: Vec<String> = fake.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    let mut unique = calls.clone();
    unique.dedup();
    assert_eq!(calls, unique, "no call repeated (never a second create)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_opens_one_tls_connection_without_a_request_and_the_first_call_uses_it() {
    let fake = fake();
    let front = TlsFront::start(fake.addr(), FrontMode::Forward).unwrap();
    let process = function(&fake, &front.url_for(&fake.base_url()).unwrap(), front.ca_file()).await;
    process.cold_start().await.expect("cold start");
    assert_eq!(front.accepted(), 1, "one connection opened during init");
    assert!(fake.requests().is_empty(), "no request during init: {:?}", fake.requests());
    assert_eq!(pre_dial(&process).await, "kept");
    resume_once(&process, &fake).await;
    resume_once(&process, &fake).await;
    assert_eq!(front.accepted(), 1, "both invocations on the pre-dialed connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_after_the_handshake_costs_one_reconnect_and_no_error() {
    let fake = fake();
    let front = TlsFront::start(fake.addr(), FrontMode::CloseFirstAfterHandshake).unwrap();
    let process = function(&fake, &front.url_for(&fake.base_url()).unwrap(), front.ca_file()).await;
    process.cold_start().await.expect("cold start");
    tokio::time::sleep(Duration::from_millis(100)).await; // "frozen" while the server closes it
    resume_once(&process, &fake).await;
    assert_eq!(front.accepted(), 2, "one reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_dial_fails_neither_init_nor_the_first_call() {
    let fake = fake();
    let identity = TlsIdentity::new().unwrap();
    let port = integration_tests::ports::free_port().unwrap();
    // Nothing listens yet: the pre-dial is refused.
    let process = function(&fake, &format!("https://127.0.0.1:{port}/api/v1"), identity.ca_file()).await;
    process.cold_start().await.expect("cold start despite the refused dial");
    assert_eq!(pre_dial(&process).await, "failed");
    let front = TlsFront::serve(identity, port, fake.addr(), FrontMode::Forward).unwrap();
    resume_once(&process, &fake).await;
    assert_eq!(front.accepted(), 1, "the first call dialed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_handshake_delays_init_by_its_budget_at_most() {
    let fake = fake();
    let identity = TlsIdentity::new().unwrap();
    // The kernel completes the TCP handshake; nobody ever answers the TLS ClientHello.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let process = function(&fake, &format!("https://127.0.0.1:{port}/api/v1"), identity.ca_file()).await;
    let cold = process.cold_start().await.expect("cold start despite the hanging dial");
    assert!(cold < DIAL_BUDGET + Duration::from_secs(1), "init took {cold:?}");
    assert_eq!(pre_dial(&process).await, "timed_out");
    drop(silent);
    let front = TlsFront::serve(identity, port, fake.addr(), FrontMode::Forward).unwrap();
    resume_once(&process, &fake).await;
    assert_eq!(front.accepted(), 1, "the first call dialed");
}
