//! Lambda-like mode (issue #14): the fake Persona behind TLS (a throwaway CA trusted through `SSL_CERT_FILE`), each
//! function process initialised at full CPU — Lambda gives init burst CPU — then capped at a memory size's CPU
//! share for its invocations, as Lambda does: a cgroup v1 `cpu` controller with `cpu.cfs_quota_us` =
//! memory / 1769 MB of one CPU per 100 ms period (128 MB ≈ 7.2 ms). Each binary is measured with the pre-dial and
//! without it (see [`Front`]), per memory size: init, first invocation, warm p50
//! and p99 (back to back), warm after 100 ms idle, and the ratios — and, because under a CFS quota an invocation
//! runs at full speed until the period's quota is spent, the CPU time each invocation used (all the process's
//! threads, from `/proc/<pid>/task/*/schedstat`), its minor page faults, how many invocations were throttled (the
//! group's `cpu.stat`) and the function's own account of its time (its log line).

use std::path::PathBuf;
use std::time::Duration;

use std::net::SocketAddr;
use std::sync::Arc;

use integration_tests::error::Result;
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess};
use integration_tests::tls::{FrontMode, TlsFront, TlsIdentity};
use serde_json::Value;

use crate::measure::{median, percentile, DEADLINE};

/// Lambda gives a function one full vCPU at 1769 MB, proportionally less below.
pub const FULL_VCPU_MB: u32 = 1769;
pub const MEMORY_SIZES: [u32; 3] = [128, 256, 512];
const PERIOD_US: u64 = 100_000;
const CGROUP_ROOT: &str = "/sys/fs/cgroup/cpu";

/// The CFS quota per 100 ms period of a `memory_mb` Lambda's CPU share (at least the kernel's 1 ms minimum).
pub fn quota_us(memory_mb: u32) -> u64 {
    (PERIOD_US * u64::from(memory_mb) / u64::from(FULL_VCPU_MB)).max(1000)
}

/// A cgroup v1 `cpu` group with a CFS quota; removed when dropped (after its processes are gone).
pub struct CpuCap {
    dir: PathBuf,
}

impl CpuCap {
    /// The CPU share of a `memory_mb` Lambda: quota = memory / 1769 of the period. A new group each time: a
    /// group that an earlier process left throttled would throttle the next one's first invocation (Lambda
    /// starts each environment with its own quota).
    pub fn for_memory(memory_mb: u32) -> Result<Self> {
        static GROUPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = GROUPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            PathBuf::from(CGROUP_ROOT).join(format!("persona-resume-bench-{}-{memory_mb}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            format!(
                "cannot create {} ({e}): the Lambda-like mode needs root and cgroup v1's cpu controller",
                dir.display()
            )
        })?;
        std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
        std::fs::write(dir.join("cpu.cfs_quota_us"), quota_us(memory_mb).to_string())?;
        Ok(Self { dir })
    }

    /// Moves the process, all its threads, into the group.
    pub fn add(&self, pid: u32) -> Result<()> {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
            .map_err(|e| format!("cannot move {pid} into {}: {e}", self.dir.display()).into())
    }

    /// Periods in which the group ran out of quota so far (`nr_throttled` of `cpu.stat`).
    pub fn throttled_periods(&self) -> u64 {
        let stat = std::fs::read_to_string(self.dir.join("cpu.stat")).unwrap_or_default();
        stat.lines()
            .find_map(|line| line.strip_prefix("nr_throttled "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for CpuCap {
    fn drop(&mut self) {
        // Only succeeds once its processes have exited; a leftover empty group is harmless.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One binary in one configuration.
pub struct Subject<'a> {
    pub name: String,
    /// Everything but `PERSONA_API_BASE_URL` and `SSL_CERT_FILE`, which come from the [`Front`].
    pub options: FunctionOptions,
    pub front: Front,
    pub event: &'a dyn Fn() -> Result<Value>,
}

/// The fake Persona behind TLS, a front of its own for each process (so that "the first connection" is that
/// process's).
///
/// "Without the pre-dial" is made by the server, not by a switch in the function: a production binary reads no
/// bench-only setting. The front closes the process's first connection (the init-time dial's) right after the
/// TLS handshake, so the first invocation finds the kept connection closed and dials afresh, as a function without
/// the pre-dial does (plus one non-blocking read of the dead socket).
pub struct Front {
    pub identity: Arc<TlsIdentity>,
    /// The fake Persona's address and base URL.
    pub upstream: SocketAddr,
    pub base_url: String,
    pub predial: bool,
}

impl Front {
    /// `options` pointed at a fresh front, and that front (to keep running while the process lives).
    fn start(&self, options: &FunctionOptions) -> Result<(FunctionOptions, TlsFront)> {
        let mode = if self.predial { FrontMode::Forward } else { FrontMode::CloseFirstAfterHandshake };
        let front = TlsFront::serve(self.identity.clone(), 0, self.upstream, mode)?;
        let options = options
            .clone()
            .env("PERSONA_API_BASE_URL", front.url_for(&self.base_url)?)
            .env("SSL_CERT_FILE", front.ca_file().display().to_string());
        Ok((options, front))
    }
}

/// Pause before each "after idle" invocation: requests that arrive apart, as most do on a real function.
pub const IDLE_GAP: Duration = Duration::from_millis(100);

/// What a set of invocations cost, one entry per invocation.
#[derive(Default)]
pub struct Series {
    pub latency: Vec<Duration>,
    /// CPU time of the process (all threads) during the invocation.
    pub cpu: Vec<Duration>,
    /// Minor page faults of the process during the invocation (first touches of code and heap).
    pub faults: Vec<u64>,
    /// The function's own account (its log line): `duration_ms`, and of it `upstream_ms` (waiting for Persona).
    pub reported: Vec<(f64, f64)>,
    /// Invocations during which the group was throttled.
    pub throttled: usize,
}

impl Series {
    fn push(&mut self, invocation: Invocation) {
        self.latency.push(invocation.latency);
        self.cpu.push(invocation.cpu);
        self.faults.push(invocation.faults);
        self.throttled += usize::from(invocation.throttled);
    }
}

#[derive(Default)]
pub struct Figures {
    pub init: Vec<Duration>,
    /// Each process's first invocation.
    pub first: Series,
    /// Back to back after the first (caches and branch predictors as hot as they get).
    pub warm: Series,
    /// Then each after [`IDLE_GAP`] of idleness.
    pub idle: Series,
}

impl Figures {
    /// First / warm p50: the target.
    pub fn ratio(&self) -> f64 {
        median(&self.first.latency).as_secs_f64() / median(&self.warm.latency).as_secs_f64().max(1e-9)
    }

    /// First / warm-after-idle p50.
    pub fn idle_ratio(&self) -> f64 {
        median(&self.first.latency).as_secs_f64() / median(&self.idle.latency).as_secs_f64().max(1e-9)
    }
}

/// CPU time used so far by all threads of `pid` (the first field of each thread's `schedstat`: ns on a CPU).
/// A thread that exits takes its time with it: tokio's blocking-pool thread (the client build at init) exits after
/// 10 s idle, later than a process of this mode lives (about a second after init).
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Duration::ZERO };
    let nanos = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()))
        .sum();
    Duration::from_nanos(nanos)
}

/// Minor page faults of the whole process so far (field 10 of `/proc/<pid>/stat`; the comm field, in
/// parentheses, may hold spaces, so fields are counted after its closing parenthesis).
fn minor_faults(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    after_comm.split_whitespace().nth(7).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// One invocation: its latency, the CPU and page faults it cost, and whether the group was throttled meanwhile.
struct Invocation {
    latency: Duration,
    cpu: Duration,
    faults: u64,
    throttled: bool,
}

async fn invoke(process: &FunctionProcess, subject: &Subject<'_>, cap: &CpuCap) -> Result<Invocation> {
    let event = (subject.event)()?;
    let (cpu_before, faults_before, throttled_before) =
        (cpu_time(process.pid()), minor_faults(process.pid()), cap.throttled_periods());
    let outcome = process.invoke(event, DEADLINE).await?;
    let cpu = cpu_time(process.pid()).saturating_sub(cpu_before);
    let faults = minor_faults(process.pid()).saturating_sub(faults_before);
    let throttled = cap.throttled_periods() > throttled_before;
    let http = outcome.http()?;
    if http.status != 200 {
        return Err(format!("{}: expected 200, got {}: {}", subject.name, http.status, http.text()).into());
    }
    Ok(Invocation { latency: outcome.latency, cpu, faults, throttled })
}

/// `rounds` fresh processes: each initialised uncapped, then capped in a group of its own, invoked once (first),
/// `warm` more times back to back, then `idle` more times each after [`IDLE_GAP`].
pub async fn measure(
    subject: &Subject<'_>,
    memory_mb: u32,
    rounds: usize,
    warm: usize,
    idle: usize,
) -> Result<Figures> {
    let mut figures = Figures::default();
    for _ in 0..rounds {
        let cap = &CpuCap::for_memory(memory_mb)?;
        let (options, _front) = subject.front.start(&subject.options)?;
        let process = FunctionProcess::spawn_with(options).await?;
        figures.init.push(process.cold_start().await?);
        cap.add(process.pid())?;
        figures.first.push(invoke(&process, subject, cap).await?);
        for _ in 0..warm {
            figures.warm.push(invoke(&process, subject, cap).await?);
        }
        for _ in 0..idle {
            tokio::time::sleep(IDLE_GAP).await;
            figures.idle.push(invoke(&process, subject, cap).await?);
        }
        // The function's log lines, in invocation order (the last may still be on its way through the pipe).
        let mut reported = Vec::new();
        for _ in 0..100 {
            reported = process
                .json_logs()
                .into_iter()
                .filter(|line| line["message"] == "invocation")
                .map(|line| (line["duration_ms"].as_f64().unwrap_or(0.0), line["upstream_ms"].as_f64().unwrap_or(0.0)))
                .collect::<Vec<_>>();
            if reported.len() >= 1 + warm + idle {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if reported.len() == 1 + warm + idle {
            figures.first.reported.push(reported[0]);
            figures.warm.reported.extend_from_slice(&reported[1..=warm]);
            figures.idle.reported.extend_from_slice(&reported[1 + warm..]);
        }
        process.kill().await;
    }
    Ok(figures)
}

pub struct Row {
    pub memory_mb: u32,
    pub quota_us: u64,
    pub name: String,
    pub predial: bool,
    pub figures: Figures,
}

/// The median of one of the function's own figures, or "n/a" when its log lines were not all read.
fn reported(series: &Series, figure: fn(&(f64, f64)) -> f64) -> String {
    let values: Vec<f64> = series.reported.iter().map(figure).collect();
    if values.is_empty() {
        return "n/a".into();
    }
    format!("{:.2}", median(&values))
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Markdown: per memory size × binary × pre-dial, the latencies (with PASS/FAIL of first ≤ 1.2 × warm p50 at
/// 128 MB, pre-dial on), then what the invocations cost.
pub fn render(rows: &[Row], rounds: usize, warm: usize, idle: usize, load_before: &str, load_after: &str) -> String {
    let mut out = String::new();
    out.push_str("## Lambda-like mode: Persona over TLS, CPU capped after init (issue #14)\n\n");
    out.push_str(
        "What users feel, Persona and the guard's table at a round-trip time each, row by row: \
         [results-rounds.md](results-rounds.md). Cold start against the floors, and the warm overhead less both \
         Persona's and the guard store's own time: [results.md](results.md).\n\n",
    );
    out.push_str(&format!(
        "Each process initialised at full CPU, then moved into a cgroup v1 `cpu` group of its own with \
         `cpu.cfs_quota_us` = memory / {FULL_VCPU_MB} MB × 100 ms; {rounds} fresh processes per row, each invoked \
         once (first), {warm} more times back to back (warm), then {idle} more times each after {} ms idle \
         (idle). Load average before: {load_before}; after: {load_after}.\n\n",
        IDLE_GAP.as_millis()
    ));
    out.push_str(
        "| memory (quota/100 ms) | binary | pre-dial | init p50 | first p50 (min–max) | warm p50 | warm p99 | \
         first / warm p50 | target | idle p50 | first / idle p50 |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for row in rows {
        let f = &row.figures;
        let first = &f.first.latency;
        let (min, max) =
            (first.iter().min().copied().unwrap_or_default(), first.iter().max().copied().unwrap_or_default());
        let target = match (row.memory_mb, row.predial, f.ratio() <= 1.2) {
            (128, true, true) => "PASS ≤ 1.2",
            (128, true, false) => "FAIL > 1.2",
            _ => "",
        };
        out.push_str(&format!(
            "| {} MB ({:.1} ms) | {} | {} | {} ms | {} ({}–{}) ms | {} ms | {} ms | {:.2} | {} | {} ms | {:.2} |\n",
            row.memory_mb,
            row.quota_us as f64 / 1000.0,
            row.name,
            if row.predial { "on" } else { "off" },
            ms(median(&f.init)),
            ms(median(first)),
            ms(min),
            ms(max),
            ms(median(&f.warm.latency)),
            ms(percentile(&f.warm.latency, 99.0)),
            f.ratio(),
            target,
            ms(median(&f.idle.latency)),
            f.idle_ratio(),
        ));
    }
    out.push_str(
        "\nWhat the invocations cost, first / warm / idle (p50): CPU time of the process (all threads), minor page \
         faults, invocations during which the group was throttled, and the function's own account of its duration and of the time \
         it waited for Persona (its log line).\n\n",
    );
    out.push_str("| memory | binary | pre-dial | CPU | minor faults | throttled | duration in the function | of it waiting for Persona |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for row in rows {
        let series = [&row.figures.first, &row.figures.warm, &row.figures.idle];
        let join = |cell: &dyn Fn(&Series) -> String| series.iter().map(|s| cell(s)).collect::<Vec<_>>().join(" / ");
        out.push_str(&format!(
            "| {} MB | {} | {} | {} ms | {} | {} | {} ms | {} ms |\n",
            row.memory_mb,
            row.name,
            if row.predial { "on" } else { "off" },
            join(&|s| ms(median(&s.cpu))),
            join(&|s| median(&s.faults).to_string()),
            join(&|s| format!("{}/{}", s.throttled, s.latency.len())),
            join(&|s| reported(s, |r| r.0)),
            join(&|s| reported(s, |r| r.1)),
        ));
    }
    out
}
