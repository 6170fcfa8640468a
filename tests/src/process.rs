//! Child processes the rig starts (functions, moto, Prism): output captured line by line, exit
//! watched, peak memory measured, and killed when their handle is dropped.
//!
//! No orphans: every child runs in its own process group, which is sent SIGKILL when the handle is
//! dropped (or [`ManagedChild::kill`] is called), and gets `PR_SET_PDEATHSIG = SIGKILL` so that it
//! dies too when the test process dies without running destructors (killed by a CI timeout, Ctrl-C).
//! Children are forked from one long-lived thread, because Linux sends the death signal when the
//! *thread* that forked the child exits, and test threads end before shared fixtures do.
//!
//! Set `TEST_RIG_ECHO=1` to copy every captured line to stderr, prefixed with the child's name.

use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::Result;

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One captured line (without its line ending).
#[derive(Clone, Debug)]
pub struct LogLine {
    pub stream: Stream,
    pub text: String,
    pub at: Instant,
}

/// The captured output of a child, shared with the threads that read its pipes.
#[derive(Clone)]
pub struct OutputLog {
    lines: Arc<Mutex<Vec<LogLine>>>,
    count: Arc<watch::Sender<usize>>,
}

impl Default for OutputLog {
    fn default() -> Self {
        Self { lines: Arc::default(), count: Arc::new(watch::Sender::new(0)) }
    }
}

impl OutputLog {
    fn push(&self, stream: Stream, text: String) {
        let len = {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            lines.push(LogLine { stream, text, at: Instant::now() });
            lines.len()
        };
        self.count.send_replace(len);
    }

    /// All lines so far, both streams, in arrival order.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Number of lines so far (an index for [`OutputLog::lines_since`]).
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing was captured yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lines from index `start` on (e.g. the output of one invocation: take `len()` before it).
    pub fn lines_since(&self, start: usize) -> Vec<LogLine> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.get(start..).map(<[LogLine]>::to_vec).unwrap_or_default()
    }

    /// The text of the lines of one stream.
    pub fn stream(&self, stream: Stream) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().filter(|l| l.stream == stream).map(|l| l.text.clone()).collect()
    }

    /// The stdout lines.
    pub fn stdout(&self) -> Vec<String> {
        self.stream(Stream::Stdout)
    }

    /// The stderr lines.
    pub fn stderr(&self) -> Vec<String> {
        self.stream(Stream::Stderr)
    }

    /// Whether any line (either stream) contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|l| l.text.contains(needle))
    }

    /// Every line as `out| text` / `err| text`, for failure messages.
    pub fn dump(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        for line in lines.iter() {
            text.push_str(match line.stream {
                Stream::Stdout => "out| ",
                Stream::Stderr => "err| ",
            });
            text.push_str(&line.text);
            text.push('\n');
        }
        if text.is_empty() {
            text.push_str("(no output)\n");
        }
        text
    }

    /// Waits until no new line arrived for `quiet` (at most `max`): lets a child's log catch up
    /// with what it already did, since the pipes are read by other threads.
    pub async fn wait_quiet(&self, quiet: Duration, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        let mut changes = self.count.subscribe();
        loop {
            let quiet_until = (tokio::time::Instant::now() + quiet).min(deadline);
            match tokio::time::timeout_at(quiet_until, changes.changed()).await {
                Ok(Ok(())) if tokio::time::Instant::now() < deadline => {}
                _ => return,
            }
        }
    }

    /// Waits until a line (already captured or arriving later) matches `pred`; `None` after `timeout`.
    pub async fn wait_for(&self, pred: impl FnMut(&LogLine) -> bool, timeout: Duration) -> Option<LogLine> {
        self.wait_for_from(0, pred, timeout).await
    }

    /// [`OutputLog::wait_for`] over the lines from index `start` on. `pred` sees each line once, in order.
    pub async fn wait_for_from(
        &self,
        start: usize,
        mut pred: impl FnMut(&LogLine) -> bool,
        timeout: Duration,
    ) -> Option<LogLine> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.count.subscribe();
        let mut seen = start;
        loop {
            {
                let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(line) = lines.get(seen..).unwrap_or_default().iter().find(|l| pred(l)) {
                    return Some(line.clone());
                }
                seen = seen.max(lines.len());
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }
}

/// How a child ended.
#[derive(Clone, Copy, Debug)]
pub struct Exit {
    /// `None` only if the rig could not reap it (someone else did).
    pub status: Option<ExitStatus>,
    /// Peak resident set size over the child's life (`ru_maxrss` of `wait4`), KiB.
    pub max_rss_kb: Option<u64>,
    pub at: Instant,
}

/// A running child process with captured output. Dropping it kills the child's process group.
pub struct ManagedChild {
    name: String,
    pid: u32,
    started_at: Instant,
    output: OutputLog,
    exit: watch::Receiver<Option<Exit>>,
}

impl std::fmt::Debug for ManagedChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedChild").field("name", &self.name).field("pid", &self.pid).finish_non_exhaustive()
    }
}

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Forks `command` on the rig's long-lived spawner thread (see the module docs).
fn spawn_on_keeper_thread(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnJob>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, incoming) = mpsc::channel::<SpawnJob>();
        thread::Builder::new()
            .name("test-rig-spawner".into())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("start the test rig's spawner thread");
        jobs
    });
    let (reply, answer) = mpsc::channel();
    spawner.send((command, reply)).map_err(|_| io::Error::other("the spawner thread is gone"))?;
    answer.recv().map_err(|_| io::Error::other("the spawner thread is gone"))?
}

fn echo_enabled() -> bool {
    std::env::var_os("TEST_RIG_ECHO").is_some_and(|v| !v.is_empty() && v != "0")
}

fn read_lines(name: String, stream: Stream, pipe: impl Read + Send + 'static, output: OutputLog) {
    let echo = echo_enabled();
    let spawned = thread::Builder::new().name(format!("{name}-{stream:?}")).spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if echo {
                        eprintln!("[{name}] {text}");
                    }
                    output.push(stream, text);
                }
            }
        }
    });
    if let Err(e) = spawned {
        eprintln!("test rig: cannot start the reader thread of {stream:?}: {e}");
    }
}

/// Blocks until `pid` exits; its status and peak RSS.
fn wait4_blocking(pid: libc::pid_t) -> (Option<ExitStatus>, Option<u64>) {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data; wait4 writes both out-parameters.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return (Some(ExitStatus::from_raw(status)), u64::try_from(usage.ru_maxrss).ok());
        }
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return (None, None);
        }
    }
}

impl ManagedChild {
    /// Spawns `command` with stdin closed and stdout/stderr captured; `name` labels its output.
    pub fn spawn(name: impl Into<String>, mut command: Command) -> Result<Self> {
        let name = name.into();
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        command.process_group(0);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    return Err(io::Error::other("the test process exited before its child started"));
                }
                Ok(())
            });
        }
        let program = command.get_program().to_string_lossy().into_owned();
        let started_at = Instant::now();
        let mut child =
            spawn_on_keeper_thread(command).map_err(|e| format!("{name}: cannot start `{program}`: {e}"))?;
        let pid = child.id();
        let output = OutputLog::default();
        if let Some(stdout) = child.stdout.take() {
            read_lines(name.clone(), Stream::Stdout, stdout, output.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            read_lines(name.clone(), Stream::Stderr, stderr, output.clone());
        }
        // The waiter thread reaps the child with wait4 (std's Child is never waited on).
        drop(child);
        let (exit_tx, exit) = watch::channel(None);
        let waiter = thread::Builder::new().name(format!("{name}-wait")).spawn(move || {
            let (status, max_rss_kb) = wait4_blocking(pid as libc::pid_t);
            exit_tx.send_replace(Some(Exit { status, max_rss_kb, at: Instant::now() }));
        });
        if let Err(e) = waiter {
            kill_group(pid);
            return Err(format!("{name}: cannot start its waiter thread: {e}").into());
        }
        Ok(Self { name, pid, started_at, output, exit })
    }

    /// The label given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The instant just before the fork.
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// The captured output.
    pub fn output(&self) -> &OutputLog {
        &self.output
    }

    /// How the child ended, if it has.
    pub fn exit(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// Whether the child is still running.
    pub fn is_running(&self) -> bool {
        self.exit().is_none()
    }

    /// Waits for the child to end (forever if it does not).
    pub async fn exited(&self) -> Exit {
        let mut exit = self.exit.clone();
        let result = exit.wait_for(Option::is_some).await.map(|e| *e);
        match result {
            Ok(Some(e)) => e,
            // The waiter thread always sends before it ends; this is only reachable if it panicked.
            _ => Exit { status: None, max_rss_kb: None, at: Instant::now() },
        }
    }

    /// Waits up to `timeout` for the child to end.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<Exit> {
        tokio::time::timeout(timeout, self.exited()).await.ok()
    }

    /// Sends SIGKILL to the child's process group (no-op once it has ended).
    pub fn kill(&self) {
        if self.is_running() {
            kill_group(self.pid);
        }
    }

    /// Kills the child and waits (up to 5 s) until it is reaped.
    pub async fn kill_and_wait(&self) -> Option<Exit> {
        self.kill();
        self.wait_exit(Duration::from_secs(5)).await
    }

    /// Peak resident set size in KiB: `VmHWM` of `/proc/PID/status` while the child runs, `ru_maxrss`
    /// once it has ended.
    pub fn peak_rss_kb(&self) -> Result<u64> {
        self.proc_status_kb("VmHWM")
    }

    /// Current resident set size in KiB (`VmRSS`); fails once the child has ended.
    pub fn rss_kb(&self) -> Result<u64> {
        if self.is_running() {
            if let Ok(kb) = read_proc_status_kb(self.pid, "VmRSS") {
                return Ok(kb);
            }
        }
        Err(format!("{} (pid {}) is not running", self.name, self.pid).into())
    }

    fn proc_status_kb(&self, field: &str) -> Result<u64> {
        if self.is_running() {
            if let Ok(kb) = read_proc_status_kb(self.pid, field) {
                return Ok(kb);
            }
        }
        // Ended (or ending: /proc of a zombie has no memory fields): use what wait4 reported.
        match self.exit().and_then(|e| e.max_rss_kb) {
            Some(kb) => Ok(kb),
            None => Err(format!("{} (pid {}): no {field} available", self.name, self.pid).into()),
        }
    }
}

fn read_proc_status_kb(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let number = rest.trim().trim_end_matches("kB").trim();
            return Ok(number.parse()?);
        }
    }
    Err(format!("/proc/{pid}/status has no {field}").into())
}

fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: plain syscall; the group id is the child's pid (process_group(0)).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        // Only while the child is unreaped: afterwards its pid (= group id) may be reused.
        self.kill();
    }
}

/// Resolves on Ctrl-C or SIGTERM: how the rig's standalone servers (`fake-persona`, `dev-gateway`) stop.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
