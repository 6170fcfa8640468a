//! `bench`: is persona-resume fast and small? One command (README, "Benchmark"):
//!
//! ```sh
//! cargo run --profile rig -p bench --bin bench
//! ```
//!
//! builds both functions and two floors with the release profile — `bare-floor` (a `lambda_http` hello world)
//! and `secret-floor` (that plus one Secrets Manager read at cold start) — then drives each binary through the
//! Lambda Runtime API with moto holding the secret and the fake Persona answering, and reports cold start,
//! first and warm invocation latency, the function's own overhead (latency minus the fake's handling time of
//! that invocation's calls and the time its guard requests were in flight to moto, logged by a proxy of zero
//! delay), peak RSS, binary and package size, and Persona calls per decision-table row, with
//! PASS/FAIL against the targets of issue #6. The table goes to stdout and `bench/results.md`.
//!
//! Flags: `--no-build` (measure what is in `target/release`), `--cold N` (fresh processes per binary, default
//! 10), `--warm N` (warm invocations per binary, default 1500), `--out PATH`, `--label TEXT` (a note in the
//! results, e.g. the profile variant being tried).
//!
//! Then the Lambda-like mode (`lambda.rs`): Persona over TLS, each process capped at a memory size's CPU share
//! after its init, with and without the pre-dial, into `bench/results-lambda.md` (`--lambda-out PATH`).
//! `--mode existing|lambda|rounds|all` (default all), `--lambda-rounds N` (fresh processes per row, default 5),
//! `--lambda-warm N` (back-to-back warm invocations per process, default 40), `--lambda-idle N` (then invocations
//! each after 100 ms idle, default 5), `--lambda-memory MB,MB` (default 128,256,512).
//! The Lambda-like mode needs root and cgroup v1's `cpu` controller (`/sys/fs/cgroup/cpu`).
//!
//! Then the round-trip mode (`rounds.rs`, `bench rounds` or `--mode rounds` alone): the fake Persona and moto's
//! DynamoDB each behind a delaying proxy, every decision-table row and the guard's refusals timed end to end next
//! to the sequential Persona and guard rounds they took, into `bench/results-rounds.md` (`--rounds-out PATH`).
//! `--persona-rtt MS` (default 60), `--guard-rtt MS` (default 5), `--rounds-runs N` (per row and function,
//! default 20), `--rounds-only TEXT` (only the rows whose `row (function)` contains it, e.g. `outdated`).
//!
//! Every mode runs the functions with `GUARD_TABLE` set (the table in moto, made from template.yaml), as deployed.

mod build;
mod calls;
mod delay_proxy;
mod lambda;
mod measure;
mod report;
mod rounds;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use integration_tests::error::Result;
use integration_tests::fake_persona::{FakeConfig, FakePersona, SeedInquiry, DEFAULT_API_KEY};
use integration_tests::moto::Moto;
use integration_tests::paths::{release_binary, workspace_root};
use integration_tests::rig::{http_api_event, GUARD_TABLE_NAME};
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess};
use persona_resume::Function;
use serde_json::json;

use crate::delay_proxy::{socket_addr, DelayProxy, Link};
use crate::measure::Subject;

struct Args {
    build: bool,
    cold: usize,
    warm: usize,
    out: PathBuf,
    label: Option<String>,
    existing: bool,
    lambda: bool,
    lambda_rounds: usize,
    lambda_warm: usize,
    lambda_idle: usize,
    lambda_memory: Vec<u32>,
    lambda_out: PathBuf,
    rounds: bool,
    rounds_settings: rounds::Settings,
    rounds_out: PathBuf,
}

fn args() -> Result<Args> {
    let mut args = Args {
        build: true,
        cold: 10,
        warm: 1500,
        out: workspace_root().join("bench/results.md"),
        label: None,
        existing: true,
        lambda: true,
        lambda_rounds: 5,
        lambda_warm: 40,
        lambda_idle: 5,
        lambda_memory: lambda::MEMORY_SIZES.to_vec(),
        lambda_out: workspace_root().join("bench/results-lambda.md"),
        rounds: true,
        rounds_settings: rounds::Settings {
            persona_rtt: Duration::from_millis(60),
            guard_rtt: Duration::from_millis(5),
            runs: 20,
            only: None,
        },
        rounds_out: workspace_root().join("bench/results-rounds.md"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--no-build" => args.build = false,
            "--cold" => args.cold = value("--cold")?.parse::<usize>()?.max(1),
            "--warm" => args.warm = value("--warm")?.parse::<usize>()?.max(1),
            "--out" => args.out = PathBuf::from(value("--out")?),
            "--label" => args.label = Some(value("--label")?),
            "--mode" => {
                let mode = value("--mode")?;
                (args.existing, args.lambda, args.rounds) = match mode.as_str() {
                    "all" => (true, true, true),
                    "existing" => (true, false, false),
                    "lambda" => (false, true, false),
                    "rounds" => (false, false, true),
                    other => return Err(format!("--mode {other:?}: all, existing, lambda or rounds").into()),
                };
            }
            // `bench rounds`: the round-trip bench alone.
            "rounds" => (args.existing, args.lambda, args.rounds) = (false, false, true),
            "--persona-rtt" => args.rounds_settings.persona_rtt = millis(&value("--persona-rtt")?)?,
            "--guard-rtt" => args.rounds_settings.guard_rtt = millis(&value("--guard-rtt")?)?,
            "--rounds-runs" => args.rounds_settings.runs = value("--rounds-runs")?.parse::<usize>()?.max(1),
            "--rounds-only" => args.rounds_settings.only = Some(value("--rounds-only")?),
            "--rounds-out" => args.rounds_out = PathBuf::from(value("--rounds-out")?),
            "--lambda-rounds" => args.lambda_rounds = value("--lambda-rounds")?.parse::<usize>()?.max(1),
            "--lambda-warm" => args.lambda_warm = value("--lambda-warm")?.parse::<usize>()?.max(1),
            "--lambda-idle" => args.lambda_idle = value("--lambda-idle")?.parse::<usize>()?.max(1),
            "--lambda-memory" => {
                args.lambda_memory = value("--lambda-memory")?
                    .split(',')
                    .map(|mb| mb.trim().parse::<u32>().map_err(|e| format!("--lambda-memory {mb:?}: {e}")))
                    .collect::<std::result::Result<_, _>>()?;
            }
            "--lambda-out" => args.lambda_out = PathBuf::from(value("--lambda-out")?),
            "-h" | "--help" => {
                println!(
                    "usage: bench [rounds] [--no-build] [--cold N] [--warm N] [--out PATH] [--label TEXT] \
                     [--mode all|existing|lambda|rounds] [--lambda-rounds N] [--lambda-warm N] [--lambda-idle N] \
                     [--lambda-memory MB,MB] [--lambda-out PATH] [--persona-rtt MS] [--guard-rtt MS] [--rounds-runs N] \
                     [--rounds-only TEXT] [--rounds-out PATH]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    Ok(args)
}

/// Whole milliseconds, as the round-trip flags take them.
fn millis(value: &str) -> Result<Duration> {
    Ok(Duration::from_millis(value.parse::<u64>().map_err(|e| format!("{value:?}: {e}"))?))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = args()?;
    let started = Instant::now();
    let load_before = report::loadavg();
    let build_time = if args.build { Some(build::build_all()?) } else { None };

    let scratch = std::env::temp_dir().join(format!("persona-resume-bench-{}", std::process::id()));
    let names = [build::FUNCTIONS[0], build::FUNCTIONS[1], build::FLOORS[0], build::FLOORS[1]];
    let artifacts = match args.existing {
        true => names.iter().map(|name| build::measure(name, &scratch)).collect::<Result<Vec<_>>>()?,
        false => Vec::new(),
    };
    let _ = std::fs::remove_dir_all(&scratch);

    eprintln!("bench: starting moto and the fake Persona");
    let moto = Moto::start().await?;
    let secret_arn =
        moto.create_secret("persona-resume/bench", &json!({"api_key": DEFAULT_API_KEY}).to_string()).await?;
    // The guard's table, as deployed: the functions run with GUARD_TABLE set, as the template always sets it.
    moto.create_guard_table(GUARD_TABLE_NAME).await?;
    // The responses' contract is the e2e suite's business; here the fake should cost as little as it can.
    let fake = FakePersona::start(FakeConfig { contract_check: false, ..FakeConfig::default() });
    if args.rounds {
        eprintln!("bench: round trips ({} runs per row and function)", args.rounds_settings.runs);
        let text = rounds::run(&args.rounds_settings, &moto, &fake, &secret_arn).await?;
        println!("{text}");
        std::fs::write(&args.rounds_out, &text)?;
        eprintln!("bench: written to {}", args.rounds_out.display());
    }
    let current = calls::current_template(&fake)?;
    let owner = "bench-user-hot";
    let pending = || -> Result<String> {
        let seed = SeedInquiry {
            template_id: current.id.clone(),
            status: Some("pending".into()),
            reference_id: Some(owner.into()),
            ..SeedInquiry::default()
        };
        Ok(fake.seed_inquiry(seed)?.id)
    };

    let mut env = moto.function_env();
    env.push(("PERSONA_API_KEY_SECRET_ID".into(), secret_arn));
    env.push(("PERSONA_API_BASE_URL".into(), fake.base_url()));
    env.push(("GUARD_TABLE".into(), GUARD_TABLE_NAME.into()));
    // The guard's admission write on every request, but no owner limit: the warm runs repeat one owner.
    env.push(("REQUESTS_PER_OWNER_PER_MINUTE".into(), "0".into()));
    env.push(("PERSONA_CALLS_PER_MINUTE".into(), "1000000".into()));
    if args.lambda {
        lambda_like(&args, &fake, &env, &pending, owner).await?;
    }
    if !args.existing {
        return Ok(());
    }

    // The guard's store timed like Persona: the functions reach moto through a proxy of zero delay that logs every
    // request (the floors' secret read goes through it too, so the cold starts compare alike) and keeps their
    // connections open, as DynamoDB does.
    let guard = DelayProxy::start(socket_addr(&moto.endpoint_url())?, Duration::ZERO, Link::KeepAlive)?;
    for (name, value) in &mut env {
        if name == "AWS_ENDPOINT_URL" {
            *value = guard.url_for(&moto.endpoint_url())?;
        }
    }
    let services = measure::Services { fake: &fake, guard: &guard, moto: &moto };
    let options = |name: &str, extra: &[(&str, &str)]| -> Result<FunctionOptions> {
        let extra = extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Ok(FunctionOptions::new(release_binary(name)?).function_name(name).envs(env.clone()).envs(extra))
    };

    let subject = |name: &str, endpoint: Function, calls_persona: bool| -> Result<Subject<'_>> {
        let pending = &pending;
        Ok(Subject {
            name: name.to_owned(),
            options: options(name, &[])?,
            event: Box::new(move || {
                let id = if calls_persona { pending()? } else { "inq_FloorsCallNobody".to_owned() };
                Ok(http_api_event(endpoint, Some(&id), Some(owner), None))
            }),
            calls_persona,
        })
    };
    let subjects = vec![
        subject("issue-link", Function::IssueLink, true)?,
        subject("resume-session", Function::ResumeSession, true)?,
        subject("bare-floor", Function::IssueLink, false)?,
        subject("secret-floor", Function::IssueLink, false)?,
    ];

    eprintln!("bench: {} cold starts per binary", args.cold);
    let (mut results, kept) = measure::cold_and_first(&subjects, &services, args.cold).await?;
    for ((process, subject), result) in kept.iter().zip(&subjects).zip(results.iter_mut()) {
        eprintln!("bench: {} warm invocations of {}", args.warm, subject.name);
        measure::warm(process, subject, &services, args.warm, result).await?;
    }

    eprintln!("bench: Persona calls per decision-table row");
    let me_env = [("PERSONA_INQUIRY_TEMPLATE_ID", current.id.as_str()), ("TEMPLATE_CHECK_UNAVAILABLE", "reject")];
    let me_issue_link = FunctionProcess::spawn_with(options("issue-link", &me_env)?).await?;
    let me_resume_session = FunctionProcess::spawn_with(options("resume-session", &me_env)?).await?;
    me_issue_link.cold_start().await?;
    me_resume_session.cold_start().await?;
    let functions = calls::Functions {
        issue_link: &kept[0],
        resume_session: &kept[1],
        me_issue_link: &me_issue_link,
        me_resume_session: &me_resume_session,
    };
    let rows = calls::decision_table(&fake, &functions, &current).await?;

    let load_after = report::loadavg();
    let run = report::Run {
        label: args.label,
        build_time,
        runtime: started.elapsed(),
        load_before,
        load_after,
        cold_rounds: args.cold,
        warm_count: args.warm,
    };
    let text = report::render(&run, &subjects, &results, &artifacts, &rows);
    println!("{text}");
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &text)?;
    eprintln!("bench: written to {} in {:.0?}", args.out.display(), started.elapsed());
    drop(kept);
    Ok(())
}

/// The Lambda-like mode: both functions, per memory size, with and without the pre-dial.
async fn lambda_like(
    args: &Args,
    fake: &FakePersona,
    env: &[(String, String)],
    pending: &dyn Fn() -> Result<String>,
    owner: &str,
) -> Result<()> {
    // Without root or cgroup v1's cpu controller, `--mode all` still runs the existing mode.
    if let (Err(error), true) = (lambda::CpuCap::for_memory(lambda::MEMORY_SIZES[0]), args.existing) {
        eprintln!("bench: NOTE: skipping the Lambda-like mode: {error}");
        return Ok(());
    }
    let load_before = report::loadavg();
    // For the fake: its CPU is not capped (it stands for Persona, on other machines).
    let identity = integration_tests::tls::TlsIdentity::new()?;
    let mut rows = Vec::new();
    for &memory_mb in &args.lambda_memory {
        for (name, function) in
            [(build::FUNCTIONS[0], Function::IssueLink), (build::FUNCTIONS[1], Function::ResumeSession)]
        {
            for predial in [true, false] {
                let event = move || -> Result<serde_json::Value> {
                    Ok(http_api_event(function, Some(&pending()?), Some(owner), None))
                };
                let options = FunctionOptions::new(release_binary(name)?)
                    .function_name(name)
                    .memory_mb(memory_mb)
                    .envs(env.iter().cloned());
                let front = lambda::Front {
                    identity: identity.clone(),
                    upstream: fake.addr(),
                    base_url: fake.base_url(),
                    predial,
                };
                let subject = lambda::Subject { name: name.to_owned(), options, front, event: &event };
                eprintln!("bench: lambda-like {memory_mb} MB, {name}, pre-dial {}", if predial { "on" } else { "off" });
                let figures =
                    lambda::measure(&subject, memory_mb, args.lambda_rounds, args.lambda_warm, args.lambda_idle)
                        .await?;
                rows.push(lambda::Row {
                    memory_mb,
                    quota_us: lambda::quota_us(memory_mb),
                    name: name.to_owned(),
                    predial,
                    figures,
                });
            }
        }
    }
    let text =
        lambda::render(&rows, args.lambda_rounds, args.lambda_warm, args.lambda_idle, &load_before, &report::loadavg());
    println!("{text}");
    std::fs::write(&args.lambda_out, &text)?;
    eprintln!("bench: written to {}", args.lambda_out.display());
    Ok(())
}
