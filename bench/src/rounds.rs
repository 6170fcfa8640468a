//! The round-trip bench (issue 17 item 5): what users feel. The fake Persona answers every call `persona_rtt`
//! after it was sent and moto's DynamoDB (the guard's store) `guard_rtt` after, each behind a
//! [`DelayProxy`]; the release binaries are driven through the Lambda Runtime API. For every decision-table row
//! (and the guard's refusals) it reports the end-to-end p50/p99 over N warm invocations next to the sequential
//! Persona and guard rounds it took — the longest chain of exchanges each sent after the previous one's answer,
//! from the proxies' logs — the minimum its call plan allows (docs/design.md, "Call plans and the cap", "One
//! guard round trip before Persona"), and the overhead beyond the rounds (p50 − rounds × RTT).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use integration_tests::error::Result;
use integration_tests::fake_persona::{Endpoint as Op, FakePersona, NewTemplate, SeedInquiry, Template};
use integration_tests::moto::Moto;
use integration_tests::paths::release_binary;
use integration_tests::rig::{http_api_event, GUARD_TABLE_NAME};
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess};
use persona_resume::Function;
use serde_json::Value;

use crate::delay_proxy::{socket_addr, DelayProxy, Exchange, Link};
use crate::measure::{empty_guard_table, median, percentile, DEADLINE};

pub struct Settings {
    pub persona_rtt: Duration,
    pub guard_rtt: Duration,
    /// Measured invocations per row and function (after one that is not measured).
    pub runs: usize,
    /// Only the rows whose `row (function)` contains this (`--rounds-only`; the report then has only them).
    pub only: Option<String>,
}

/// Sequential round trips: Persona's and the guard's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rounds {
    pub persona: u32,
    pub guard: u32,
}

impl Rounds {
    fn time(self, s: &Settings) -> Duration {
        s.persona_rtt * self.persona + s.guard_rtt * self.guard
    }
}

/// One request to a function, and (for the owner limit) one sent before it, not measured, that spends the budget.
struct Prepared {
    event: Value,
    prime: Option<Value>,
}

/// One row of the table for one function.
struct Target<'a> {
    row: &'static str,
    function: Function,
    process: &'a FunctionProcess,
    /// The status and the `outcome` (200) or `code` (problem) expected.
    expect: (u16, &'static str),
    minimum: Rounds,
    prepare: Box<dyn Fn() -> Result<Prepared> + 'a>,
}

/// What one invocation took.
struct Sample {
    latency: Duration,
    rounds: Rounds,
    /// Latency less the measured time of the exchanges on the critical chain: the function's own time.
    own: Duration,
    persona_calls: usize,
    guard_calls: usize,
    /// Connections to Persona opened during the invocation (each pays a handshake round).
    connections: usize,
    /// Connections to the guard's proxy opened during the invocation (the rest reused pooled ones).
    guard_connections: usize,
    ops: Vec<Op>,
}

pub struct Line {
    row: &'static str,
    function: &'static str,
    answer: String,
    minimum: Rounds,
    samples: Vec<Sample>,
}

/// The longest chain of exchanges, each sent after the one before it was answered, weighted by its service's
/// round-trip time: the sequential rounds the invocation waited for. Unanswered exchanges (still in flight when
/// the invocation answered) were not waited for.
/// With them, the time those exchanges took as measured (the round trips plus moto's and the fake's own work).
pub fn critical_rounds(persona: &[Exchange], guard: &[Exchange], s: &Settings) -> (Rounds, Duration) {
    let mut all: Vec<(Instant, Instant, bool)> = persona
        .iter()
        .map(|e| (e, true))
        .chain(guard.iter().map(|e| (e, false)))
        .filter_map(|(e, is_persona)| e.answered.map(|answered| (e.sent, answered, is_persona)))
        .collect();
    all.sort_by_key(|(_, answered, _)| *answered);
    // best[i]: the heaviest chain ending with exchange i, as (weight, rounds, measured time).
    let mut best: Vec<(Duration, Rounds, Duration)> = Vec::with_capacity(all.len());
    for (i, (sent, answered, is_persona)) in all.iter().enumerate() {
        let before = (0..i).filter(|&j| all[j].1 <= *sent).map(|j| best[j]).max_by_key(|(weight, _, _)| *weight);
        let (weight, mut rounds, took) = before.unwrap_or_default();
        let own = if *is_persona { s.persona_rtt } else { s.guard_rtt };
        if *is_persona {
            rounds.persona += 1;
        } else {
            rounds.guard += 1;
        }
        best.push((weight + own, rounds, took + (*answered - *sent)));
    }
    best.into_iter().max_by_key(|(weight, _, _)| *weight).map(|(_, rounds, took)| (rounds, took)).unwrap_or_default()
}

/// The proxies, the fake and the three deployments (defaults; an owner limit of 1; a Persona share of 1).
pub struct Bench<'a> {
    settings: &'a Settings,
    fake: &'a FakePersona,
    persona: DelayProxy,
    guard: DelayProxy,
}

fn answer_of(status: u16, body: &Value) -> String {
    let member = if status == 200 { "outcome" } else { "code" };
    body.get(member).and_then(Value::as_str).unwrap_or("?").to_owned()
}

impl Bench<'_> {
    /// A row with a priming request is tried again when the budget's window turned between the two requests.
    async fn invoke(&self, target: &Target<'_>) -> Result<Sample> {
        for _ in 0..2 {
            match self.invoke_once(target).await? {
                Some(sample) => return Ok(sample),
                None => eprintln!("bench: {}: a new budget window began between the two requests; again", target.row),
            }
        }
        Err(format!("{}: the budget was not spent twice in a row", target.row).into())
    }

    async fn invoke_once(&self, target: &Target<'_>) -> Result<Option<Sample>> {
        let prepared = (target.prepare)()?;
        let primed = prepared.prime.is_some();
        if let Some(prime) = prepared.prime {
            let answer = target.process.invoke(prime, DEADLINE).await?.http()?;
            // 429: the budget was spent already (the share is the deployment's, whoever spent it).
            if answer.status != 200 && answer.status != 429 {
                return Err(
                    format!("{}: the first request answered {}: {}", target.row, answer.status, answer.text()).into()
                );
            }
        }
        self.persona.take();
        self.guard.take();
        self.fake.clear_requests();
        let outcome = target.process.invoke(prepared.event, DEADLINE).await?;
        let (persona, guard) = (self.persona.take(), self.guard.take());
        let http = outcome.http()?;
        let answer = answer_of(http.status, &http.json()?);
        // Limits pass when the guard fails open: such a run would time nothing this bench means to time.
        let failed_open = target.process.json_logs_mentioning("guard unavailable");
        if let Some(first) = failed_open.first() {
            return Err(format!(
                "{} ({}): the guard failed open ({} log lines; the first's error: {})",
                target.row,
                target.function.function_name(),
                failed_open.len(),
                first.get("error").unwrap_or(first)
            )
            .into());
        }
        if primed && http.status == 200 && target.expect.0 == 429 {
            return Ok(None);
        }
        if (http.status, answer.as_str()) != target.expect {
            return Err(format!(
                "{} ({}): expected {} {}, got {} {answer}",
                target.row,
                target.function.function_name(),
                target.expect.0,
                target.expect.1,
                http.status
            )
            .into());
        }
        let (rounds, chain) = critical_rounds(&persona.exchanges, &guard.exchanges, self.settings);
        Ok(Some(Sample {
            latency: outcome.latency,
            rounds,
            own: outcome.latency.saturating_sub(chain),
            persona_calls: persona.exchanges.len(),
            guard_calls: guard.exchanges.len(),
            connections: persona.connections,
            guard_connections: guard.connections,
            ops: self.fake.requests().iter().filter_map(|r| r.endpoint).collect(),
        }))
    }

    /// One unmeasured invocation (connections for concurrent calls get opened), then `runs` measured.
    async fn measure(&self, target: &Target<'_>) -> Result<Line> {
        self.invoke(target).await?;
        let mut samples = Vec::with_capacity(self.settings.runs);
        for _ in 0..self.settings.runs {
            samples.push(self.invoke(target).await?);
        }
        Ok(Line {
            row: target.row,
            function: target.function.function_name(),
            answer: format!("{} {}", target.expect.0, target.expect.1),
            minimum: target.minimum,
            samples,
        })
    }
}

fn fresh_owner() -> String {
    format!("bench-user-{:016x}", fastrand::u64(..))
}

fn seed(fake: &FakePersona, template: &Template, status: &str, owner: &str, redacted: bool) -> Result<String> {
    Ok(fake
        .seed_inquiry(SeedInquiry {
            template_id: template.id.clone(),
            status: Some(status.to_owned()),
            reference_id: Some(owner.to_owned()),
            redacted,
            ..SeedInquiry::default()
        })?
        .id)
}

/// `host:port` of an `http://host:port` URL.
/// Runs the round-trip bench; returns the Markdown report.
pub async fn run(settings: &Settings, moto: &Moto, fake: &FakePersona, secret_arn: &str) -> Result<String> {
    let load_before = crate::report::loadavg();
    let started = Instant::now();
    let bench = Bench {
        settings,
        fake,
        persona: DelayProxy::start(fake.addr(), settings.persona_rtt, Link::Tcp)?,
        guard: DelayProxy::start(socket_addr(&moto.endpoint_url())?, settings.guard_rtt, Link::KeepAlive)?,
    };
    let templates = Templates::new(fake, settings.runs + 1)?;

    let mut env: Vec<(String, String)> =
        moto.function_env().into_iter().filter(|(name, _)| name != "AWS_ENDPOINT_URL").collect();
    env.extend([
        ("AWS_ENDPOINT_URL".to_owned(), bench.guard.url_for(&moto.endpoint_url())?),
        ("PERSONA_API_KEY_SECRET_ID".to_owned(), secret_arn.to_owned()),
        ("PERSONA_API_BASE_URL".to_owned(), bench.persona.url_for(&fake.base_url())?),
        ("GUARD_TABLE".to_owned(), GUARD_TABLE_NAME.to_owned()),
        ("PERSONA_INQUIRY_TEMPLATE_ID".to_owned(), templates.me.id.clone()),
        // Every request is admitted through the guard's one write, the share included (high: the bench's own
        // traffic must not spend it); the owner and session budgets keep their defaults (a fresh owner and
        // inquiry per request).
        ("PERSONA_CALLS_PER_MINUTE".to_owned(), "1000000".to_owned()),
    ]);
    let spawn = |name: &str, extra: &[(&str, &str)]| -> Result<FunctionOptions> {
        let extra = extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Ok(FunctionOptions::new(release_binary(name)?).function_name(name).envs(env.clone()).envs(extra))
    };
    let mut processes = Vec::new();
    for extra in [&[][..], &[("REQUESTS_PER_OWNER_PER_MINUTE", "1")][..], &[("PERSONA_CALLS_PER_MINUTE", "2")][..]] {
        for name in crate::build::FUNCTIONS {
            let process = FunctionProcess::spawn_with(spawn(name, extra)?).await?;
            process.cold_start().await?;
            processes.push(process);
        }
    }
    let [il, rs, owner_il, owner_rs, share_il, share_rs] = &processes[..] else { unreachable!("six processes") };

    let targets = targets(fake, &templates, [il, rs, owner_il, owner_rs, share_il, share_rs]);
    let mut lines = Vec::new();
    for target in &targets {
        let name = format!("{} ({})", target.row, target.function.function_name());
        if settings.only.as_ref().is_some_and(|only| !name.contains(only.as_str())) {
            continue;
        }
        eprintln!("bench: rounds: {name}");
        // Moto copies every table on each transaction: its time grows with the items earlier rows left, past the
        // guard's 1 s budget by the last rows. Each row starts on an empty table (nothing carries across rows).
        empty_guard_table(moto).await?;
        lines.push(bench.measure(target).await?);
    }
    drop(targets);
    for process in &processes {
        process.kill().await;
    }
    Ok(render(settings, &lines, &load_before, &crate::report::loadavg(), started.elapsed()))
}

/// The templates the rows seed on. The outdated rows' inquiries are seeded first, then a version is published.
struct Templates {
    current: Template,
    /// `PERSONA_INQUIRY_TEMPLATE_ID` of the deployments.
    me: Template,
    outdated_inquiries: Mutex<BTreeMap<&'static str, Vec<String>>>,
    outdated_owners: Mutex<BTreeMap<&'static str, Vec<String>>>,
}

impl Templates {
    fn new(fake: &FakePersona, per_target: usize) -> Result<Self> {
        let current = fake.create_template(NewTemplate { versions: Some(1), ..NewTemplate::default() })?;
        let me = fake.create_template(NewTemplate { versions: Some(1), ..NewTemplate::default() })?;
        let to_outdate = fake.create_template(NewTemplate { versions: Some(1), ..NewTemplate::default() })?;
        let (mut inquiries, mut owners) = (BTreeMap::new(), BTreeMap::new());
        for function in crate::build::FUNCTIONS {
            let mut ids = Vec::new();
            let mut users = Vec::new();
            for _ in 0..per_target {
                ids.push(seed(fake, &to_outdate, "pending", &fresh_owner(), false)?);
                let user = fresh_owner();
                seed(fake, &me, "pending", &user, false)?;
                users.push(user);
            }
            inquiries.insert(function, ids);
            owners.insert(function, users);
        }
        fake.publish_version(&to_outdate.id)?;
        fake.publish_version(&me.id)?;
        Ok(Self { current, me, outdated_inquiries: Mutex::new(inquiries), outdated_owners: Mutex::new(owners) })
    }

    fn take(pool: &Mutex<BTreeMap<&'static str, Vec<String>>>, function: Function) -> Result<String> {
        let mut pool = pool.lock().map_err(|_| "pool poisoned")?;
        let left = pool.get_mut(function.function_name()).ok_or("no pool")?;
        left.pop().ok_or_else(|| "the seeded outdated inquiries ran out".into())
    }
}

const fn r(persona: u32, guard: u32) -> Rounds {
    Rounds { persona, guard }
}

/// Every row, for both functions: `[issue-link, resume-session]` of the default deployment, then of the one with
/// an owner limit of 1, then of the one with a Persona share of 1.
fn targets<'a>(fake: &'a FakePersona, t: &'a Templates, p: [&'a FunctionProcess; 6]) -> Vec<Target<'a>> {
    use Function::{IssueLink as IL, ResumeSession as RS};
    let presented = move |template: &'a Template, status: &'static str, redacted: bool, function: Function| {
        Box::new(move || -> Result<Prepared> {
            let owner = fresh_owner();
            let id = seed(fake, template, status, &owner, redacted)?;
            Ok(Prepared { event: http_api_event(function, Some(&id), Some(&owner), None), prime: None })
        }) as Box<dyn Fn() -> Result<Prepared> + 'a>
    };
    let me_user = move |status: Option<&'static str>, function: Function| {
        Box::new(move || -> Result<Prepared> {
            let owner = fresh_owner();
            if let Some(status) = status {
                seed(fake, &t.me, status, &owner, false)?;
            }
            Ok(Prepared { event: http_api_event(function, None, Some(&owner), None), prime: None })
        }) as Box<dyn Fn() -> Result<Prepared> + 'a>
    };
    let outdated = move |function: Function| {
        Box::new(move || -> Result<Prepared> {
            let id = Templates::take(&t.outdated_inquiries, function)?;
            let owner = fake.inquiry(&id).and_then(|inquiry| inquiry.reference_id).ok_or("seeded without an owner")?;
            Ok(Prepared { event: http_api_event(function, Some(&id), Some(&owner), None), prime: None })
        }) as Box<dyn Fn() -> Result<Prepared> + 'a>
    };
    let me_outdated = move |function: Function| {
        Box::new(move || -> Result<Prepared> {
            let owner = Templates::take(&t.outdated_owners, function)?;
            Ok(Prepared { event: http_api_event(function, None, Some(&owner), None), prime: None })
        }) as Box<dyn Fn() -> Result<Prepared> + 'a>
    };
    // The same owner twice: the first request spends the owner's budget of 1 (or the share of 2 calls), the
    // second is measured.
    let twice = move |function: Function| {
        Box::new(move || -> Result<Prepared> {
            let owner = fresh_owner();
            let id = seed(fake, &t.current, "pending", &owner, false)?;
            let event = http_api_event(function, Some(&id), Some(&owner), None);
            Ok(Prepared { event: event.clone(), prime: Some(event) })
        }) as Box<dyn Fn() -> Result<Prepared> + 'a>
    };
    let [il, rs, owner_il, owner_rs, share_il, share_rs] = p;
    let row =
        |row, function, process, expect, minimum, prepare| Target { row, function, process, expect, minimum, prepare };
    let c = &t.current;
    vec![
        row("pending", IL, il, (200, "resumed"), r(2, 1), presented(c, "pending", false, IL)),
        row("pending", RS, rs, (200, "resumed"), r(2, 1), presented(c, "pending", false, RS)),
        row("created", IL, il, (200, "resumed"), r(2, 1), presented(c, "created", false, IL)),
        row("created", RS, rs, (200, "resumed"), r(2, 1), presented(c, "created", false, RS)),
        row("expired", IL, il, (200, "resumed"), r(3, 1), presented(c, "expired", false, IL)),
        row("expired", RS, rs, (200, "resumed"), r(2, 1), presented(c, "expired", false, RS)),
        row("outdated → replacement", IL, il, (200, "recreated"), r(4, 3), outdated(IL)),
        row("outdated → replacement", RS, rs, (200, "recreated"), r(3, 4), outdated(RS)),
        row("finished → 409", IL, il, (409, "inquiry_not_resumable"), r(1, 1), presented(c, "completed", false, IL)),
        row("finished → 409", RS, rs, (409, "inquiry_not_resumable"), r(1, 1), presented(c, "completed", false, RS)),
        row("redacted → 409", IL, il, (409, "inquiry_redacted"), r(1, 1), presented(c, "pending", true, IL)),
        row("redacted → 409", RS, rs, (409, "inquiry_redacted"), r(1, 1), presented(c, "pending", true, RS)),
        row("/me found (pending)", IL, il, (200, "resumed"), r(4, 1), me_user(Some("pending"), IL)),
        row("/me found (pending)", RS, rs, (200, "resumed"), r(4, 1), me_user(Some("pending"), RS)),
        row("/me first visit → created", IL, il, (200, "created"), r(3, 2), me_user(None, IL)),
        row("/me first visit → created", RS, rs, (200, "created"), r(2, 3), me_user(None, RS)),
        row("/me outdated → replacement", IL, il, (200, "recreated"), r(5, 3), me_outdated(IL)),
        row("/me outdated → replacement", RS, rs, (200, "recreated"), r(4, 4), me_outdated(RS)),
        row("owner limit → 429", IL, owner_il, (429, "too_many_requests"), r(0, 1), twice(IL)),
        row("owner limit → 429", RS, owner_rs, (429, "too_many_requests"), r(0, 1), twice(RS)),
        row("Persona share → 429", IL, share_il, (429, "persona_budget_exhausted"), r(0, 1), twice(IL)),
        row("Persona share → 429", RS, share_rs, (429, "persona_budget_exhausted"), r(0, 1), twice(RS)),
    ]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// The rounds most runs took, and whether any run took others.
fn usual_rounds(samples: &[Sample]) -> (Rounds, bool) {
    let mut counts: BTreeMap<Rounds, usize> = BTreeMap::new();
    for sample in samples {
        *counts.entry(sample.rounds).or_default() += 1;
    }
    let usual = counts.iter().max_by_key(|(_, n)| **n).map(|(rounds, _)| *rounds).unwrap_or_default();
    (usual, counts.len() > 1)
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Get => "GET",
        Op::List => "list",
        Op::Create => "create",
        Op::Resume => "resume",
        Op::Link => "link",
        Op::Expire => "expire",
        Op::AccountList => "accounts",
        Op::AccountGet => "account",
    }
}

/// The most common value of `f` over the samples.
fn usual<T: Ord + Clone>(samples: &[Sample], f: impl Fn(&Sample) -> T) -> T {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for sample in samples {
        *counts.entry(f(sample)).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(value, _)| value).expect("at least one sample")
}

pub const OVERHEAD_TARGET: Duration = Duration::from_millis(5);

pub fn render(s: &Settings, lines: &[Line], load_before: &str, load_after: &str, took: Duration) -> String {
    let mut out = String::new();
    out.push_str("## Round trips: what users feel (issue 17 item 5)\n\n");
    out.push_str(&format!(
        "`cargo run --profile rig -p bench --bin bench -- rounds`: every Persona call answered {} ms after it was \
         sent and every guard (moto DynamoDB) request {} ms after, each through a delaying proxy (Persona's: TCP, \
         a new connection pays one round more; moto's: connections kept open, as DynamoDB does); the release binaries driven through the Lambda Runtime API, warm, one \
         unmeasured invocation then N = {} per row and function, a fresh inquiry or user each. Rounds: the longest \
         chain of requests each sent after the previous one's answer (from the proxies' logs), as Persona + \
         guard rounds; minimum: what the call plan allows (docs/design.md, \"Call plans and the cap\", \"One guard \
         round trip before Persona\"). Overhead = p50 − rounds × RTT; target: rounds at the minimum and overhead \
         ≤ {} ms. Each row starts on an empty guard table (moto copies every table on each transaction, so its \
         time grows with the items earlier rows left). Load average before: {load_before}; after: {load_after}; {:.0} s.\n\n",
        s.persona_rtt.as_millis(),
        s.guard_rtt.as_millis(),
        s.runs,
        OVERHEAD_TARGET.as_millis(),
        took.as_secs_f64(),
    ));
    out.push_str(
        "| row | function | answer | p50 | p99 | rounds P + G | minimum P + G | rounds × RTT | overhead p50 | \
         function's own p50 | Persona calls | guard requests | target |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for line in lines {
        let latencies: Vec<Duration> = line.samples.iter().map(|s| s.latency).collect();
        let p50 = median(&latencies);
        let (rounds, varied) = usual_rounds(&line.samples);
        let rounds_time = rounds.time(s);
        let overhead = p50.as_secs_f64() * 1000.0 - rounds_time.as_secs_f64() * 1000.0;
        let own = median(&line.samples.iter().map(|s| s.own).collect::<Vec<_>>());
        let at_minimum = rounds.persona <= line.minimum.persona && rounds.guard <= line.minimum.guard;
        let target = match (at_minimum, own <= OVERHEAD_TARGET) {
            (true, true) => "PASS".to_owned(),
            (false, true) => "FAIL: rounds".to_owned(),
            (true, false) => "FAIL: overhead".to_owned(),
            (false, false) => "FAIL: rounds, overhead".to_owned(),
        };
        let ops = usual(&line.samples, |s| s.ops.iter().map(|op| op_name(*op)).collect::<Vec<_>>().join(" → "));
        out.push_str(&format!(
            "| {} | {} | {} | {} ms | {} ms | {} + {}{} | {} + {} | {} ms | {:.1} ms | {} ms | {} ({}) | {} | {} |\n",
            line.row,
            line.function,
            line.answer,
            ms(p50),
            ms(percentile(&latencies, 99.0)),
            rounds.persona,
            rounds.guard,
            if varied { " (varied)" } else { "" },
            line.minimum.persona,
            line.minimum.guard,
            ms(rounds_time),
            overhead,
            ms(own),
            usual(&line.samples, |s| s.persona_calls),
            if ops.is_empty() { "none".to_owned() } else { ops },
            usual(&line.samples, |s| s.guard_calls),
            target,
        ));
    }
    let opened: usize = lines.iter().flat_map(|l| &l.samples).map(|s| s.connections).sum();
    let guard_opened: usize = lines.iter().flat_map(|l| &l.samples).map(|s| s.guard_connections).sum();
    let guard_requests: usize = lines.iter().flat_map(|l| &l.samples).map(|s| s.guard_calls).sum();
    out.push_str(&format!(
        "\nOverhead p50 is p50 − rounds × RTT: it holds moto's and the fake's own time too (moto, in Python, takes \
         milliseconds per DynamoDB request). The function's own p50 is, per invocation, the latency less the measured \
         time of the exchanges on its critical chain (the round trips with moto's and the fake's work): the \
         overhead target (≤ {} ms) is judged on it. New connections to Persona opened during the measured \
         invocations (each pays one round more): {opened}. Moto answers HTTP/1.0 and closes every connection after \
         its answer; DynamoDB keeps them open, so the guard's proxy does on moto's behalf (HTTP/1.1 to the function, \
         a connection of its own to moto per request): connections the functions opened to it during the measured \
         invocations: {guard_opened} for {guard_requests} guard requests.\n",
        OVERHEAD_TARGET.as_millis()
    ));
    out
}
