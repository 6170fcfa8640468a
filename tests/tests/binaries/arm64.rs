//! The artifacts we deploy, booted: the aarch64 `bootstrap`s that `sam build` produced for the template's default
//! architecture (arm64) run under `qemu-aarch64` against the Lambda Runtime API driver, read the Persona key from
//! moto's Secrets Manager and call the fake Persona; one invocation each answers 200.
//!
//! Run by `bash ci/check-artifacts.sh` (`cargo test --workspace --test binaries -- arm64::`) (after `sam build` and the hash comparison), which sets `ARM64_BOOT=1`:
//! then a missing piece fails the test. Without it the test only says how to run it (a plain `cargo test` on a
//! machine without qemu passes). Needs Debian's `qemu-user` and `libc6-arm64-cross` (the aarch64 glibc that
//! `-L /usr/aarch64-linux-gnu` points qemu at). `ARM64_BUILD_DIR` overrides where the bootstraps are
//! (default `<repo>/.aws-sam/build`, laid out `<LogicalId>/bootstrap`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use integration_tests::fake_persona::{FakeConfig, FakePersona, NewTemplate, SeedInquiry, DEFAULT_API_KEY};
use integration_tests::moto::Moto;
use integration_tests::paths::workspace_root;
use integration_tests::rig::{http_api_event, INVOCATION_DEADLINE};
use integration_tests::runtime_api::{FunctionOptions, FunctionProcess};
use persona_resume::Function::{self, IssueLink, ResumeSession};
use serde_json::json;

/// Where Debian's libc6-arm64-cross puts the aarch64 loader and glibc.
const SYSROOT: &str = "/usr/aarch64-linux-gnu";
/// ELF `e_machine` of AArch64.
const EM_AARCH64: u16 = 183;

struct Artifact {
    function: Function,
    name: &'static str,
    logical_id: &'static str,
    /// The member of the 200 answer that only this function returns.
    member: &'static str,
}

const FUNCTIONS: [Artifact; 2] = [
    Artifact { function: IssueLink, name: "issue-link", logical_id: "IssueLinkFunction", member: "one_time_link" },
    Artifact {
        function: ResumeSession,
        name: "resume-session",
        logical_id: "ResumeSessionFunction",
        member: "session_token",
    },
];

fn build_dir() -> PathBuf {
    std::env::var_os("ARM64_BUILD_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".aws-sam").join("build"))
}

fn qemu() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("qemu-aarch64")).find(|p| p.is_file())
}

fn elf_machine(path: &Path) -> Option<u16> {
    let head = std::fs::read(path).ok()?;
    (head.len() > 20 && head.starts_with(b"\x7fELF")).then(|| u16::from_le_bytes([head[18], head[19]]))
}

/// What is missing to boot the arm64 artifacts, if anything.
fn missing() -> Vec<String> {
    let mut missing = Vec::new();
    if qemu().is_none() {
        missing.push("qemu-aarch64 on PATH (apt-get install qemu-user)".to_owned());
    }
    if !Path::new(SYSROOT).join("lib").is_dir() {
        missing.push(format!("{SYSROOT} (apt-get install libc6-arm64-cross)"));
    }
    for f in &FUNCTIONS {
        let bootstrap = build_dir().join(f.logical_id).join("bootstrap");
        match elf_machine(&bootstrap) {
            Some(EM_AARCH64) => {}
            Some(other) => missing.push(format!("{} is an ELF for machine {other}, not aarch64", bootstrap.display())),
            None => missing.push(format!("{} (sam build)", bootstrap.display())),
        }
    }
    missing
}

/// A `bootstrap` that runs the real one under qemu: the Runtime API driver starts it like any function binary
/// (with Lambda's clean environment), so nothing in the rig needs to know about emulation.
fn qemu_wrapper(dir: &Path, bootstrap: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let qemu = qemu().expect("checked by missing()");
    let wrapper = dir.join("bootstrap");
    let script = format!("#!/bin/sh\nexec '{}' -L '{SYSROOT}' '{}' \"$@\"\n", qemu.display(), bootstrap.display());
    std::fs::write(&wrapper, script).expect("write the qemu wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod the qemu wrapper");
    wrapper
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm64_bootstraps_answer_200_under_qemu() {
    if !std::env::var("ARM64_BOOT").is_ok_and(|v| v == "1") {
        eprintln!("NOTE: arm64 boot test skipped: run `bash ci/check-artifacts.sh` (sam build, then this test)");
        return;
    }
    let missing = missing();
    assert!(
        missing.is_empty(),
        "ARM64_BOOT=1 but cannot boot the arm64 artifacts; missing:\n  {}",
        missing.join("\n  ")
    );

    let fake = FakePersona::start(FakeConfig::default());
    let template = fake.create_template(NewTemplate { versions: Some(1), ..NewTemplate::default() }).expect("template");
    let moto = Moto::start().await.expect("moto");
    let secret_arn = moto
        .create_secret("persona-resume/arm64", &json!({"api_key": DEFAULT_API_KEY}).to_string())
        .await
        .expect("secret");
    let wrappers = tempdir();

    for f in &FUNCTIONS {
        let owner = format!("arm64-{}", f.name);
        let inquiry = fake
            .seed_inquiry(SeedInquiry {
                template_id: template.id.clone(),
                status: Some("pending".into()),
                reference_id: Some(owner.clone()),
                ..SeedInquiry::default()
            })
            .expect("seed");
        let bootstrap = build_dir().join(f.logical_id).join("bootstrap");
        let dir = wrappers.join(f.name);
        std::fs::create_dir_all(&dir).expect("wrapper dir");
        let mut env = moto.function_env();
        env.push(("PERSONA_API_KEY_SECRET_ID".into(), secret_arn.clone()));
        env.push(("PERSONA_API_BASE_URL".into(), fake.base_url()));
        let options = FunctionOptions::new(qemu_wrapper(&dir, &bootstrap)).function_name(f.name).envs(env);

        let started = Instant::now();
        let process = FunctionProcess::spawn_with(options).await.expect("spawn under qemu");
        let cold = process.cold_start().await.expect("the aarch64 bootstrap asks for its first event");
        let event = http_api_event(f.function, Some(&inquiry.id), Some(&owner), None);
        let answer = process.invoke(event, INVOCATION_DEADLINE).await.expect("invoke").http().expect("proxy response");
        let body = answer.json().unwrap_or_default();
        assert_eq!(
            answer.status,
            200,
            "{} (aarch64) answered {}: {}\n{}",
            f.name,
            answer.status,
            answer.text(),
            process.output().dump()
        );
        assert_eq!(body["inquiry_id"], json!(inquiry.id), "{}: {body}", f.name);
        assert!(body[f.member].as_str().is_some_and(|v| !v.is_empty()), "{}: no {} in {body}", f.name, f.member);
        eprintln!(
            "{} (aarch64, {} bytes) under qemu: cold start {cold:?}, 200 in {:?} total",
            f.name,
            std::fs::metadata(&bootstrap).map(|m| m.len()).unwrap_or(0),
            started.elapsed()
        );
        let _ = process.kill().await;
    }
    fake.assert_no_violations();
    let _ = std::fs::remove_dir_all(&wrappers);
}

/// A fresh directory for the wrappers (removed at the end of the test).
fn tempdir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("persona-resume-arm64-{}-{:08x}", std::process::id(), fastrand::u32(..)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
