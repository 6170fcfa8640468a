//! Cold start, first and warm invocation latency, the function's own overhead, and peak RSS, each binary driven
//! through the Lambda Runtime API exactly as Lambda drives it.

use std::time::Duration;

use integration_tests::error::Result;
use integration_tests::fake_persona::FakePersona;
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess, InvokeOutcome};
use serde_json::Value;

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

/// One invocation: its latency and the part of it spent outside the fake Persona.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub latency: Duration,
    /// Latency minus the fake's own handling time of this invocation's Persona requests.
    pub overhead: Duration,
    pub persona_calls: usize,
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

/// Invokes once and splits the latency: the fake's request log is cleared before, read after (it records a
/// request before answering it, so every call of this invocation is in it when the response arrives).
pub async fn invoke(process: &FunctionProcess, subject: &Subject<'_>, fake: &FakePersona) -> Result<Sample> {
    let event = (subject.event)()?;
    fake.clear_requests();
    let outcome: InvokeOutcome = process.invoke(event, DEADLINE).await?;
    let http = outcome.http()?;
    if http.status != 200 {
        return Err(format!("{}: expected 200, got {}: {}", subject.name, http.status, http.text()).into());
    }
    let requests = if subject.calls_persona { fake.requests() } else { Vec::new() };
    let persona_time = Duration::from_micros(requests.iter().map(|r| r.duration_us).sum());
    Ok(Sample {
        latency: outcome.latency,
        overhead: outcome.latency.saturating_sub(persona_time),
        persona_calls: requests.len(),
    })
}

/// Cold starts `rounds` fresh processes of every subject, round-robin (so load changes hit all of them alike),
/// each followed by its first invocation; the last process of each subject is kept for the warm run.
pub async fn cold_and_first(
    subjects: &[Subject<'_>],
    fake: &FakePersona,
    rounds: usize,
) -> Result<(Vec<Measurements>, Vec<FunctionProcess>)> {
    let mut results: Vec<Measurements> = subjects.iter().map(|_| Measurements::default()).collect();
    let mut kept = Vec::new();
    for round in 0..rounds {
        for (subject, result) in subjects.iter().zip(results.iter_mut()) {
            let process = FunctionProcess::spawn_with(subject.options.clone()).await?;
            let cold = process.cold_start().await?;
            let first = invoke(&process, subject, fake).await?;
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
    fake: &FakePersona,
    count: usize,
    into: &mut Measurements,
) -> Result<()> {
    into.warm.reserve(count);
    for _ in 0..count {
        into.warm.push(invoke(process, subject, fake).await?);
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
