//! Standalone fake Persona for local runs: point `PERSONA_API_BASE_URL` at it.
//!
//! ```text
//! fake-persona [--port N] [--seed] [--api-key KEY]... [--rate-limit LIMIT/WINDOW_MS]
//!              [--hide-templates] [--resume-created-conflict] [--lax-filters] [--loose-reference-ids]
//!              [--spec PATH | --spec-version 2025-12-08|2023-01-05] [--no-contract-check]
//! ```
//! Environment (flags win): `FAKE_PERSONA_PORT`, `FAKE_PERSONA_SEED=1`, `FAKE_PERSONA_API_KEYS=k1,k2`,
//! `FAKE_PERSONA_RATE_LIMIT=300/60000`, `PERSONA_OPENAPI_SPEC` (a spec file), `FAKE_PERSONA_SPEC_VERSION`
//! (a vendored spec; default 2025-12-08). Its documents start from that spec's examples and its answers
//! are checked against that spec's schemas.
//! The first stdout line is `listening on http://127.0.0.1:PORT`. Stops on Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use integration_tests::fake_persona::{FakeConfig, FakePersona, RateLimitSettings, SpecVersion, DEFAULT_API_KEY};

const USAGE: &str = "usage: fake-persona [--port N] [--seed] [--api-key KEY]... [--rate-limit LIMIT/WINDOW_MS] \
[--hide-templates] [--resume-created-conflict] [--lax-filters] [--loose-reference-ids] \
[--spec PATH | --spec-version 2025-12-08|2023-01-05] [--no-contract-check]";

fn parse_rate_limit(text: &str) -> Result<RateLimitSettings, String> {
    let (limit, window) =
        text.split_once('/').ok_or_else(|| format!("--rate-limit wants LIMIT/WINDOW_MS, got {text:?}"))?;
    let limit: u32 = limit.trim().parse().map_err(|_| format!("bad rate limit {limit:?}"))?;
    let window_ms: u64 = window.trim().parse().map_err(|_| format!("bad rate window {window:?}"))?;
    if limit == 0 || window_ms == 0 {
        return Err("rate limit and window must be > 0".into());
    }
    Ok(RateLimitSettings { enabled: true, limit, window_ms })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn config_from_args() -> Result<FakeConfig, String> {
    let mut config = FakeConfig::default();
    if let Some(port) = env("FAKE_PERSONA_PORT") {
        config.port = port.parse().map_err(|_| format!("bad FAKE_PERSONA_PORT {port:?}"))?;
    }
    if let Some(seed) = env("FAKE_PERSONA_SEED") {
        config.seed_demo = matches!(seed.to_ascii_lowercase().as_str(), "1" | "true" | "yes");
    }
    if let Some(keys) = env("FAKE_PERSONA_API_KEYS") {
        config.settings.api_keys = keys.split(',').map(str::trim).filter(|k| !k.is_empty()).map(Into::into).collect();
    }
    if let Some(rate) = env("FAKE_PERSONA_RATE_LIMIT") {
        config.settings.rate_limit = parse_rate_limit(&rate)?;
    }
    let mut flag_keys = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value =
            |what: &str| inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{what} needs a value"));
        match name.as_str() {
            "--port" => {
                let v = value("--port")?;
                config.port = v.parse().map_err(|_| format!("bad --port {v:?}"))?;
            }
            "--seed" => config.seed_demo = true,
            "--api-key" => flag_keys.push(value("--api-key")?),
            "--rate-limit" => config.settings.rate_limit = parse_rate_limit(&value("--rate-limit")?)?,
            "--hide-templates" => config.settings.hide_templates = true,
            "--resume-created-conflict" => config.settings.resume_created_conflict = true,
            "--spec" => config.spec_path = Some(PathBuf::from(value("--spec")?)),
            "--spec-version" => config.spec_version = Some(value("--spec-version")?.parse::<SpecVersion>()?),
            "--lax-filters" => config.settings.lax_filters = true,
            "--loose-reference-ids" => config.settings.loose_reference_ids = true,
            "--no-contract-check" => config.contract_check = false,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if !flag_keys.is_empty() {
        config.settings.api_keys = flag_keys;
    }
    if config.settings.api_keys.is_empty() {
        config.settings.api_keys = vec![DEFAULT_API_KEY.into()];
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match config_from_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let seeded = config.seed_demo;
    let fake = match FakePersona::try_start(config) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fake-persona: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", fake.base_url());
    println!("api keys: {}", fake.settings().api_keys.join(", "));
    if seeded {
        // seed_demo replaces the start-up copy with an identical one and reports its ids.
        let seed = fake.seed_demo();
        println!(
            "demo template {} (versions {} old, {} latest), legacy template {}",
            seed.template_id, seed.old_version_id, seed.latest_version_id, seed.legacy_template_id
        );
        for (label, i) in [
            ("pending (current)", &seed.pending),
            ("pending (outdated)", &seed.outdated),
            ("expired", &seed.expired),
            ("completed", &seed.completed),
            ("created", &seed.created),
            ("redacted", &seed.redacted),
            ("legacy", &seed.legacy),
        ] {
            println!("demo inquiry {label}: {} reference-id {}", i.id, i.reference_id);
        }
        let a = &seed.account_only;
        println!(
            "demo inquiry pending (account-only user): {} reference-id null, account {} reference-id {}",
            a.id,
            a.account_id.as_deref().unwrap_or("-"),
            a.reference_id
        );
    }
    println!("persona spec {} ({})", fake.spec_version().map_or("unknown", |v| v.as_str()), fake.spec_path().display());
    match fake.contract() {
        Some(c) => {
            let started = std::time::Instant::now();
            c.warm_up();
            println!("response contract check: on ({}, compiled in {:?})", c.source().display(), started.elapsed());
        }
        None => println!("response contract check: off"),
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-persona: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(integration_tests::process::shutdown_signal());
    let violations = fake.violations().len();
    fake.shutdown();
    if violations > 0 {
        eprintln!("fake-persona: {violations} response(s) broke Persona's contract");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
