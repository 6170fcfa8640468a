//! Lambda-like mode (issue #14): the fake Persona behind TLS (a throwaway CA trusted through `SSL_CERT_FILE`), each
//! function process initialised at full CPU — Lambda gives init burst CPU — then capped at a memory size's CPU
//! share for its invocations, as Lambda does: a cgroup v1 `cpu` controller with `cpu.cfs_quota_us` =
//! memory / 1769 MB of one CPU per 100 ms period (128 MB ≈ 7.2 ms). Each binary is measured with the pre-dial and
//! without it (`PERSONA_RESUME_BENCH_NO_PREDIAL`, bench-only), per memory size: init, first invocation, warm p50
//! and p99, and the ratio first / warm p50.

use std::path::PathBuf;
use std::time::Duration;

use integration_tests::error::Result;
use integration_tests::fake_persona::FakePersona;
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess};
use serde_json::Value;

use crate::measure::{median, percentile, DEADLINE};

/// Lambda gives a function one full vCPU at 1769 MB, proportionally less below.
pub const FULL_VCPU_MB: u32 = 1769;
pub const MEMORY_SIZES: [u32; 3] = [128, 256, 512];
const PERIOD_US: u64 = 100_000;
const CGROUP_ROOT: &str = "/sys/fs/cgroup/cpu";

/// A cgroup v1 `cpu` group with a CFS quota; removed when dropped (after its processes are gone).
pub struct CpuCap {
    dir: PathBuf,
}

impl CpuCap {
    /// The CPU share of a `memory_mb` Lambda: quota = memory / 1769 of the period.
    pub fn for_memory(memory_mb: u32) -> Result<Self> {
        let dir = PathBuf::from(CGROUP_ROOT).join(format!("persona-resume-bench-{}-{memory_mb}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            format!(
                "cannot create {} ({e}): the Lambda-like mode needs root and cgroup v1's cpu controller",
                dir.display()
            )
        })?;
        let quota = PERIOD_US * u64::from(memory_mb) / u64::from(FULL_VCPU_MB);
        std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
        std::fs::write(dir.join("cpu.cfs_quota_us"), quota.max(1000).to_string())?;
        Ok(Self { dir })
    }

    /// Moves the process, all its threads, into the group.
    pub fn add(&self, pid: u32) -> Result<()> {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
            .map_err(|e| format!("cannot move {pid} into {}: {e}", self.dir.display()).into())
    }

    pub fn quota_us(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("cpu.cfs_quota_us")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
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
    pub options: FunctionOptions,
    pub event: &'a dyn Fn() -> Result<Value>,
}

#[derive(Default)]
pub struct Figures {
    pub init: Vec<Duration>,
    pub first: Vec<Duration>,
    pub warm: Vec<Duration>,
}

impl Figures {
    pub fn ratio(&self) -> f64 {
        median(&self.first).as_secs_f64() / median(&self.warm).as_secs_f64().max(1e-9)
    }
}

async fn invoke(process: &FunctionProcess, subject: &Subject<'_>) -> Result<Duration> {
    let outcome = process.invoke((subject.event)()?, DEADLINE).await?;
    let http = outcome.http()?;
    if http.status != 200 {
        return Err(format!("{}: expected 200, got {}: {}", subject.name, http.status, http.text()).into());
    }
    Ok(outcome.latency)
}

/// `rounds` fresh processes: each initialised uncapped, then capped, invoked once (first) and `warm` more times.
pub async fn measure(subject: &Subject<'_>, cap: &CpuCap, rounds: usize, warm: usize) -> Result<Figures> {
    let mut figures = Figures::default();
    for _ in 0..rounds {
        let process = FunctionProcess::spawn_with(subject.options.clone()).await?;
        figures.init.push(process.cold_start().await?);
        cap.add(process.pid())?;
        figures.first.push(invoke(&process, subject).await?);
        for _ in 0..warm {
            figures.warm.push(invoke(&process, subject).await?);
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

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Markdown: one row per memory size × binary × pre-dial, with PASS/FAIL of first ≤ 1.2 × warm p50 at 128 MB.
pub fn render(rows: &[Row], rounds: usize, warm: usize, load_before: &str, load_after: &str) -> String {
    let mut out = String::new();
    out.push_str("## Lambda-like mode: Persona over TLS, CPU capped after init (issue #14)\n\n");
    out.push_str(&format!(
        "Each process initialised at full CPU, then moved into a cgroup v1 `cpu` group with `cpu.cfs_quota_us` = \
         memory / {FULL_VCPU_MB} MB × 100 ms; {rounds} fresh processes per row, each invoked once (first) and \
         {warm} more times (warm). Load average before: {load_before}; after: {load_after}.\n\n"
    ));
    out.push_str("| memory (quota/100 ms) | binary | pre-dial | init p50 | first p50 (min–max) | warm p50 | warm p99 | first / warm p50 | target |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for row in rows {
        let f = &row.figures;
        let (min, max) =
            (f.first.iter().min().copied().unwrap_or_default(), f.first.iter().max().copied().unwrap_or_default());
        let target = match (row.memory_mb, row.predial) {
            (128, true) => {
                if f.ratio() <= 1.2 {
                    "PASS ≤ 1.2"
                } else {
                    "FAIL > 1.2"
                }
            }
            _ => "",
        };
        out.push_str(&format!(
            "| {} MB ({:.1} ms) | {} | {} | {} ms | {} ({}–{}) ms | {} ms | {} ms | {:.2} | {} |\n",
            row.memory_mb,
            row.quota_us as f64 / 1000.0,
            row.name,
            if row.predial { "on" } else { "off" },
            ms(median(&f.init)),
            ms(median(&f.first)),
            ms(min),
            ms(max),
            ms(median(&f.warm)),
            ms(percentile(&f.warm, 99.0)),
            f.ratio(),
            target,
        ));
    }
    out
}

/// For the fake: its CPU is not capped (it stands for Persona, on other machines).
pub fn tls_front(fake: &FakePersona) -> Result<integration_tests::tls::TlsFront> {
    integration_tests::tls::TlsFront::start(fake.addr(), integration_tests::tls::FrontMode::Forward)
}
