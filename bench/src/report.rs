//! The markdown report: the machine, the numbers, the targets.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use crate::build::Artifact;
use crate::calls::Row;
use crate::measure::{median, percentile, Measurements, Sample, Subject};

pub struct Run {
    pub label: Option<String>,
    pub build_time: Option<Duration>,
    pub runtime: Duration,
    pub load_before: String,
    pub load_after: String,
    pub cold_rounds: usize,
    pub warm_count: usize,
}

/// Targets of issue #6.
const COLD_VS_SECRET_FLOOR: f64 = 1.25;
const FIRST_VS_WARM_P50: f64 = 1.2;
const OVERHEAD_P99: Duration = Duration::from_millis(1);
const PEAK_RSS_BYTES: u64 = 30 * 1000 * 1000;
const BINARY_BYTES: u64 = 8 * 1000 * 1000;

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `/proc/loadavg`'s three averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

fn latencies(samples: &[Sample]) -> Vec<Duration> {
    samples.iter().map(|s| s.latency).collect()
}

fn overheads(samples: &[Sample]) -> Vec<Duration> {
    samples.iter().map(|s| s.overhead).collect()
}

/// The release profile knobs overridden through the environment (how the optimisation runs were made).
fn profile_overrides() -> Vec<String> {
    let mut vars: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("CARGO_PROFILE_RELEASE_") || k == "RUSTFLAGS")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    vars
}

pub fn render(
    run: &Run,
    subjects: &[Subject],
    results: &[Measurements],
    artifacts: &[Artifact],
    rows: &[Row],
) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# persona-resume benchmark\n");
    if let Some(label) = &run.label {
        let _ = writeln!(w, "Variant: **{label}**\n");
    }
    let _ = writeln!(w, "Command: `cargo run --profile rig -p bench --bin bench`\n");
    let _ = writeln!(w, "| machine | |\n|---|---|");
    let _ = writeln!(w, "| date | {} |", command_line("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"]));
    let _ = writeln!(w, "| nproc | {} |", command_line("nproc", &[]));
    let _ = writeln!(w, "| CPU | {} |", cpu_model());
    let _ = writeln!(w, "| rustc | {} |", command_line("rustc", &["--version"]));
    let _ = writeln!(w, "| load average (1, 5, 15 min) before / after | {} / {} |", run.load_before, run.load_after);
    let overrides = profile_overrides();
    let profile = if overrides.is_empty() { "as in Cargo.toml".to_owned() } else { overrides.join(" ") };
    let _ = writeln!(w, "| release profile | {profile} |");
    if let Some(build) = run.build_time {
        let _ = writeln!(w, "| build (both cargo invocations) | {:.0?} |", build);
    }
    let _ = writeln!(
        w,
        "| measuring | {:.1} s; {} cold starts per binary (round-robin), {} warm invocations per binary |",
        (run.runtime - run.build_time.unwrap_or_default()).as_secs_f64(),
        run.cold_rounds,
        run.warm_count
    );
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "| binary | cold start p50 (min–max) | first invocation p50 | warm p50 | warm p99 | overhead p50 | overhead p99 | \
         Persona calls / invocation | guard requests / invocation | peak RSS | stripped binary | zip package |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for ((subject, m), artifact) in subjects.iter().zip(results).zip(artifacts) {
        let cold = &m.cold_starts;
        let min = cold.iter().min().copied().unwrap_or_default();
        let max = cold.iter().max().copied().unwrap_or_default();
        let calls = m.warm.first().map_or(0, |s| s.persona_calls);
        let guard_requests = median(&m.warm.iter().map(|s| s.guard_requests).collect::<Vec<_>>());
        let _ = writeln!(
            w,
            "| {} | {} ({}–{}) | {} | {} | {} | {} | {} | {} | {} | {} | {} ({} B) | {} |",
            subject.name,
            ms(median(cold)),
            ms(min),
            ms(max),
            ms(median(&latencies(&m.first))),
            ms(median(&latencies(&m.warm))),
            ms(percentile(&latencies(&m.warm), 99.0)),
            ms(median(&overheads(&m.warm))),
            ms(percentile(&overheads(&m.warm), 99.0)),
            calls,
            guard_requests,
            mb(m.peak_rss_kb * 1024),
            mb(artifact.stripped_bytes),
            artifact.stripped_bytes,
            mb(artifact.zip_bytes),
        );
    }
    let _ = writeln!(
        w,
        "\nCold start: process spawn → its first Runtime API `next` (the functions and `secret-floor` read the secret \
         from moto). Latency: event handed over → response received by the Runtime API. Overhead: latency minus the \
         fake Persona's own handling time of that invocation's requests (its request log, cleared per invocation) \
         and minus the guard store's time: the functions (and the floors, for their secret read) reach moto through \
         a proxy of zero added delay that logs every request and keeps their connections open as DynamoDB does \
         (moto closes each after one answer), and the union of the intervals from a guard request's first byte at \
         the proxy to its answer's last, or to the function giving up on it (the guard's 1 s operation budget, \
         then it fails open; seen when moto's answer can't be delivered), is subtracted (moto's HTTP server and \
         work, in Python, and loopback; on this path the guard's admission write precedes the Persona calls, so \
         the two never overlap); a request still in flight when the function answered counts nothing. \
         For the floors, the latency. The guard's table is emptied (untimed) before every 100 warm invocations: moto \
         copies every table on each transaction, so its time and CPU grow with the items left by earlier requests \
         (past the guard's 1 s budget after a few thousand). The first invocation of each fresh process is not among \
         the warm ones. The \
         function's own work, with the round trips' count, is in [results-rounds.md](results-rounds.md).\n"
    );

    for (subject, m) in subjects.iter().zip(results) {
        let given_up: usize = m.first.iter().chain(&m.warm).map(|s| s.guard_given_up).sum();
        if given_up > 0 {
            let _ = writeln!(
                w,
                "{}: {given_up} guard requests outlived the guard's operation budget (moto slower than 1 s) and \
                 failed open.\n",
                subject.name
            );
        }
    }
    let _ = writeln!(w, "## Targets\n");
    let find = |name: &str| subjects.iter().position(|s| s.name == name);
    let secret_floor = find("secret-floor").map(|i| median(&results[i].cold_starts));
    let mut all = true;
    for name in ["issue-link", "resume-session"] {
        let Some(i) = find(name) else { continue };
        let m = &results[i];
        let cold = median(&m.cold_starts);
        if let Some(floor) = secret_floor {
            let ratio = cold.as_secs_f64() / floor.as_secs_f64();
            all &= ratio <= COLD_VS_SECRET_FLOOR;
            let _ = writeln!(
                w,
                "- {} {name}: cold start {} = {ratio:.2} × secret floor {} (target ≤ {COLD_VS_SECRET_FLOOR})",
                pass(ratio <= COLD_VS_SECRET_FLOOR),
                ms(cold),
                ms(floor)
            );
        }
        let first = median(&latencies(&m.first));
        let warm = median(&latencies(&m.warm));
        let ratio = first.as_secs_f64() / warm.as_secs_f64();
        all &= ratio <= FIRST_VS_WARM_P50;
        let _ = writeln!(
            w,
            "- {} {name}: first invocation {} = {ratio:.2} × warm p50 {} (target ≤ {FIRST_VS_WARM_P50})",
            pass(ratio <= FIRST_VS_WARM_P50),
            ms(first),
            ms(warm)
        );
        let overhead = percentile(&overheads(&m.warm), 99.0);
        all &= overhead <= OVERHEAD_P99;
        let _ =
            writeln!(w, "- {} {name}: overhead p99 {} (target ≤ 1 ms)", pass(overhead <= OVERHEAD_P99), ms(overhead));
        let rss = m.peak_rss_kb * 1024;
        all &= rss <= PEAK_RSS_BYTES;
        let _ = writeln!(w, "- {} {name}: peak RSS {} (target ≤ 30 MB)", pass(rss <= PEAK_RSS_BYTES), mb(rss));
        if let Some(a) = artifacts.iter().find(|a| a.name == name) {
            all &= a.stripped_bytes <= BINARY_BYTES;
            let _ = writeln!(
                w,
                "- {} {name}: stripped binary {} (target ≤ 8 MB, x86_64)",
                pass(a.stripped_bytes <= BINARY_BYTES),
                mb(a.stripped_bytes)
            );
        }
    }
    let calls_ok = rows.iter().all(|r| r.checks.iter().all(|c| c.pass()));
    all &= calls_ok;
    let _ = writeln!(w, "- {} Persona calls at the minimum for every decision-table row (below)", pass(calls_ok));
    let _ = writeln!(w, "\nAll targets: **{}**\n", pass(all));

    let _ = writeln!(w, "## Persona calls per request\n");
    let _ = writeln!(w, "| case | function | calls | expected (minimum) | answer | | why this is the minimum |");
    let _ = writeln!(w, "|---|---|---|---|---|---|---|");
    for row in rows {
        for check in &row.checks {
            let ops = |ops: &[integration_tests::fake_persona::Endpoint]| {
                ops.iter().map(|o| format!("{o:?}").to_lowercase()).collect::<Vec<_>>().join(" + ")
            };
            let _ = writeln!(
                w,
                "| {} | {} | {} ({}) | {} ({}) | {} | {} | {} |",
                row.case,
                check.function,
                check.actual.len(),
                ops(&check.actual),
                check.expected.len(),
                ops(&check.expected),
                check.answer,
                pass(check.pass()),
                row.minimum
            );
        }
    }
    out
}
