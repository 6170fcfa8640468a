//! Cold start, first and warm invocation latency, the function's own overhead, and peak RSS, each binary driven
//! through the Lambda Runtime API exactly as Lambda drives it.

use std::time::Duration;

use integration_tests::error::Result;
use integration_tests::fake_persona::FakePersona;
use integration_tests::moto::Moto;
use integration_tests::rig::GUARD_TABLE_NAME;
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess, InvokeOutcome};
use serde_json::Value;

use crate::delay_proxy::{DelayProxy, Exchange};

/// The deadline handed to each invocation.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// One binary under test: how to start it and what to send it.
pub struct Subject<'a> {
    pub name: String,
    pub options: FunctionOptions,
    /// Built per invocation, before the clock starts: API Gateway request ids differ, and the functions get a
    /// freshly seeded inquiry each time (so the fake's documents don't grow with the sessions handed out).
    pub event: Box<dyn Fn() -> Result<Value> + 'a>,
    /// Whether it calls Persona (the floors don't).
    pub calls_persona: bool,
}

/// The services a function calls, as the bench times them: the fake Persona (its request log) and the guard's
/// store, moto's DynamoDB, behind a [`DelayProxy`] of zero delay (its exchange log).
pub struct Services<'a> {
    pub fake: &'a FakePersona,
    pub guard: &'a DelayProxy,
    pub moto: &'a Moto,
}

/// Warm invocations between two emptyings of the guard's table (not timed).
const WARM_PER_TABLE: usize = 100;

/// Deletes the guard's table and makes it again, empty. Moto copies every table on each transaction: its time
/// grows with the items earlier requests left (past the guard's 1 s budget after a few thousand), and its CPU
/// with it, which the function then shares.
pub async fn empty_guard_table(moto: &Moto) -> Result<()> {
    let client = integration_tests::moto::dynamodb_client(&moto.endpoint_url());
    client.delete_table().table_name(GUARD_TABLE_NAME).send().await.map_err(|e| format!("delete_table: {e:?}"))?;
    moto.create_guard_table(GUARD_TABLE_NAME).await
}

/// One invocation: its latency and the part of it spent outside the fake Persona and the guard's store.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub latency: Duration,
    /// Latency minus the fake's own handling time of this invocation's Persona requests and minus the time the
    /// guard's requests were in flight (see [`guard_time`]).
    pub overhead: Duration,
    pub persona_calls: usize,
    pub guard_requests: usize,
    /// Guard requests the function gave up on (moto slower than the guard's operation budget: failed open).
    pub guard_given_up: usize,
}

#[derive(Debug, Default)]
pub struct Measurements {
    /// Spawn → first `next`, one per fresh process.
    pub cold_starts: Vec<Duration>,
    /// The first invocation of each fresh process.
    pub first: Vec<Sample>,
    /// Invocations after the first, on one process.
    pub warm: Vec<Sample>,
    /// VmHWM of the long-running process after the warm run, KiB.
    pub peak_rss_kb: u64,
}

/// The time the guard's store was working for the invocation: the union of its requests' intervals, each from the
/// request's first byte at the proxy to its answer's last (moto's HTTP server and its work, and loopback), or to
/// the function giving up on it (the guard's operation budget: then it fails open). A request still in flight
/// when the invocation answered was not waited for, and counts nothing.
pub fn guard_time(exchanges: &[Exchange]) -> Duration {
    let mut spans: Vec<_> =
        exchanges.iter().filter_map(|e| e.answered.or(e.abandoned).map(|ended| (e.sent, ended))).collect();
    spans.sort_unstable();
    let mut total = Duration::ZERO;
    let mut open: Option<(std::time::Instant, std::time::Instant)> = None;
    for (start, end) in spans {
        open = match open {
            Some((from, to)) if start <= to => Some((from, to.max(end))),
            Some((from, to)) => {
                total += to - from;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    total + open.map_or(Duration::ZERO, |(from, to)| to - from)
}

/// Invokes once and splits the latency: the fake's request log and the guard proxy's exchange log are cleared
/// before, read after (the fake records a request before answering it and the proxy stamps an answer as it
/// passes, so every request this invocation waited for is in them when the response arrives).
pub async fn invoke(process: &FunctionProcess, subject: &Subject<'_>, services: &Services<'_>) -> Result<Sample> {
    let event = (subject.event)()?;
    services.fake.clear_requests();
    services.guard.take();
    let outcome: InvokeOutcome = process.invoke(event, DEADLINE).await?;
    let guard = services.guard.take();
    let http = outcome.http()?;
    if http.status != 200 {
        return Err(format!("{}: expected 200, got {}: {}", subject.name, http.status, http.text()).into());
    }
    let requests = if subject.calls_persona { services.fake.requests() } else { Vec::new() };
    let persona_time = Duration::from_micros(requests.iter().map(|r| r.duration_us).sum());
    let guard_time = guard_time(&guard.exchanges);
    Ok(Sample {
        latency: outcome.latency,
        overhead: outcome.latency.saturating_sub(persona_time + guard_time),
        persona_calls: requests.len(),
        guard_requests: guard.exchanges.len(),
        guard_given_up: guard.exchanges.iter().filter(|e| e.answered.is_none() && e.abandoned.is_some()).count(),
    })
}

/// Cold starts `rounds` fresh processes of every subject, round-robin (so load changes hit all of them alike),
/// each followed by its first invocation; the last process of each subject is kept for the warm run.
pub async fn cold_and_first(
    subjects: &[Subject<'_>],
    services: &Services<'_>,
    rounds: usize,
) -> Result<(Vec<Measurements>, Vec<FunctionProcess>)> {
    let mut results: Vec<Measurements> = subjects.iter().map(|_| Measurements::default()).collect();
    let mut kept = Vec::new();
    for round in 0..rounds {
        for (subject, result) in subjects.iter().zip(results.iter_mut()) {
            let process = FunctionProcess::spawn_with(subject.options.clone()).await?;
            let cold = process.cold_start().await?;
            let first = invoke(&process, subject, services).await?;
            result.cold_starts.push(cold);
            result.first.push(first);
            if round + 1 == rounds {
                kept.push(process);
            } else {
                process.kill().await;
            }
        }
    }
    Ok((results, kept))
}

/// `count` warm invocations on an already-initialised process; then its peak RSS.
pub async fn warm(
    process: &FunctionProcess,
    subject: &Subject<'_>,
    services: &Services<'_>,
    count: usize,
    into: &mut Measurements,
) -> Result<()> {
    into.warm.reserve(count);
    for n in 0..count {
        if n % WARM_PER_TABLE == 0 {
            empty_guard_table(services.moto).await?;
        }
        into.warm.push(invoke(process, subject, services).await?);
    }
    into.peak_rss_kb = process.peak_rss_kb()?;
    Ok(())
}

/// Nearest-rank percentile (`p` in 0..=100) of unsorted values (durations, counts, milliseconds); the default
/// (zero) when there are none.
pub fn percentile<T: Copy + PartialOrd + Default>(values: &[T], p: f64) -> T {
    if values.is_empty() {
        return T::default();
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median<T: Copy + PartialOrd + Default>(values: &[T]) -> T {
    percentile(values, 50.0)
}
