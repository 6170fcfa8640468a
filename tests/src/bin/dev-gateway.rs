//! The local API Gateway of `make dev` (see `integration_tests::dev_gateway`).
//!
//! ```text
//! dev-gateway serve [--port 9001] [--functions http://127.0.0.1:9002] [--fake-persona-port 9000 | --no-fake]
//!                   [--no-guard] [--web DIR] [--key FILE]
//! dev-gateway token SUB [--port 9001] [--key FILE] [--ttl SECONDS]
//! ```
//! `serve` starts the fake Persona (demo data, alice and bob, the hosted-flow stand-in) unless `--no-fake`,
//! and moto's DynamoDB with the guard's table created from template.yaml's definition unless `--no-guard`
//! (moto from `<repo>/.venv`, `ci/setup-python.sh`; its line `guard: GUARD_TABLE=… AWS_ENDPOINT_URL=…` gives
//! what the functions need), then the gateway; its last stdout line after set-up is
//! `listening on http://127.0.0.1:PORT`.
//! `token` prints a token of the same issuer (the key file is shared: `<repo>/target/dev/issuer-key.pem`).
//! Environment (flags win): `GATEWAY_PORT`, `WATCH_PORT`, `FAKE_PERSONA_PORT`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use integration_tests::dev_gateway::demo::{self, DEMO_USERS};
use integration_tests::dev_gateway::issuer::{Issuer, IssuerIdentity, TOKEN_TTL_SECONDS};
use integration_tests::dev_gateway::server::{app, serve, valid_subject, GatewayConfig};
use integration_tests::dev_gateway::{dev_issuer_url, DEV_AUDIENCE};
use integration_tests::fake_persona::{FakeConfig, FakePersona};
use integration_tests::moto::Moto;
use integration_tests::paths::workspace_root;
use integration_tests::rig::GUARD_TABLE_NAME;

const USAGE: &str = "usage: dev-gateway serve [--port N] [--functions URL] [--fake-persona-port N | --no-fake] \
[--no-guard] [--web DIR] [--key FILE]\n       dev-gateway token SUB [--port N] [--key FILE] [--ttl SECONDS]";

struct Options {
    port: u16,
    functions_url: String,
    fake_port: Option<u16>,
    guard: bool,
    web_root: PathBuf,
    key_file: PathBuf,
    ttl: u64,
    subject: Option<String>,
}

fn env_port(name: &str, default: u16) -> Result<u16, String> {
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        Some(v) => v.parse().map_err(|_| format!("bad {name} {v:?}")),
        None => Ok(default),
    }
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let watch_port = env_port("WATCH_PORT", 9002)?;
    let mut options = Options {
        port: env_port("GATEWAY_PORT", 9001)?,
        functions_url: format!("http://127.0.0.1:{watch_port}"),
        fake_port: Some(env_port("FAKE_PERSONA_PORT", 9000)?),
        guard: true,
        web_root: workspace_root().join("examples").join("web"),
        key_file: workspace_root().join("target").join("dev").join("issuer-key.pem"),
        ttl: TOKEN_TTL_SECONDS,
        subject: None,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{what} needs a value"));
        match arg.as_str() {
            "--port" => options.port = value("--port")?.parse().map_err(|_| "bad --port".to_owned())?,
            "--functions" => options.functions_url = value("--functions")?,
            "--fake-persona-port" => {
                options.fake_port = Some(value("--fake-persona-port")?.parse().map_err(|_| "bad port".to_owned())?)
            }
            "--no-fake" => options.fake_port = None,
            "--no-guard" => options.guard = false,
            "--web" => options.web_root = PathBuf::from(value("--web")?),
            "--key" => options.key_file = PathBuf::from(value("--key")?),
            "--ttl" => options.ttl = value("--ttl")?.parse().map_err(|_| "bad --ttl".to_owned())?,
            "-h" | "--help" => return Err(USAGE.into()),
            other if !other.starts_with('-') && options.subject.is_none() => options.subject = Some(other.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn issuer(options: &Options) -> Result<Issuer, String> {
    let identity = IssuerIdentity { issuer: dev_issuer_url(options.port), audience: DEV_AUDIENCE.into() };
    Issuer::load_or_create(&options.key_file, identity)
}

fn token(options: &Options) -> Result<(), String> {
    let sub = options.subject.as_deref().ok_or("token needs a subject: dev-gateway token alice")?;
    valid_subject(sub)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    println!("{}", issuer(options)?.token(sub, now, options.ttl)?);
    Ok(())
}

fn run_server(options: &Options) -> Result<(), String> {
    let issuer = issuer(options)?;
    // Kept alive for as long as the gateway runs.
    let _fake = match options.fake_port {
        Some(port) => {
            let fake = FakePersona::try_start(FakeConfig { port, ..FakeConfig::default() })?;
            // Its links and hosted flow URL point at its own stand-in pages (hosted_flow.rs).
            let flow = format!("http://localhost:{}/verify", fake.addr().port());
            fake.update_settings(|s| {
                s.link_base_url = flow.clone();
                s.short_link_base_url = flow.clone();
            });
            demo::seed(&fake)?;
            println!("fake Persona on {} (hosted flow stand-in {flow})", fake.base_url());
            let users: Vec<String> = DEMO_USERS.iter().map(|u| format!("{} ({})", u.sub, u.inquiry_id)).collect();
            println!("demo users: {}; any other name signs in without an inquiry", users.join(", "));
            Some(fake)
        }
        None => None,
    };
    let identity = issuer.identity().clone();
    let config = GatewayConfig {
        functions_url: options.functions_url.clone(),
        web_root: options.web_root.clone(),
        persona_custom_host: options.fake_port.map(|p| format!("localhost:{p}")),
        // Longer than API Gateway's 30 s: after a code change, watch rebuilds the function before it answers.
        invoke_timeout: Duration::from_secs(300),
    };
    let router = app(config, issuer)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build a Tokio runtime: {e}"))?;
    runtime.block_on(async {
        // Kept alive (moto is killed on drop) for as long as the gateway runs.
        let _moto = if options.guard { Some(start_guard_table().await?) } else { None };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|e| format!("cannot bind 127.0.0.1:{}: {e}", options.port))?;
        println!(
            "issuer {} (audience {}, JWKS {}/.well-known/jwks.json)",
            identity.issuer, identity.audience, identity.issuer
        );
        println!("functions through cargo lambda watch at {}", options.functions_url);
        println!("listening on http://127.0.0.1:{}", options.port);
        tokio::select! {
            served = serve(listener, router) => served.map_err(|e| format!("gateway stopped: {e}")),
            _ = integration_tests::process::shutdown_signal() => Ok(()),
        }
    })
}

/// moto's DynamoDB (one request at a time, as in the rig) with the guard's table created from template.yaml;
/// prints what the functions need to use it.
async fn start_guard_table() -> Result<Moto, String> {
    let moto = Moto::start().await.map_err(|e| format!("moto for the guard table: {e}"))?;
    moto.create_guard_table(GUARD_TABLE_NAME).await.map_err(|e| format!("the guard table: {e}"))?;
    println!("guard: GUARD_TABLE={GUARD_TABLE_NAME} AWS_ENDPOINT_URL={}", moto.endpoint_url());
    Ok(moto)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let result = parse(args).and_then(|options| match command.as_deref() {
        Some("serve") => run_server(&options),
        Some("token") => token(&options),
        _ => Err(USAGE.into()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dev-gateway: {e}");
            ExitCode::from(2)
        }
    }
}
