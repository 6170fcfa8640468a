//! Builds the four binaries with the release profile, and measures what ships: the stripped binary and the
//! deployment package (the binary zipped as `bootstrap`, as SAM and cargo-lambda package a `provided.al2023`
//! function).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::error::Result;
use integration_tests::paths::{release_binary, workspace_root};

/// The two functions, built together as they are deployed (their own feature set, not the test crate's).
pub const FUNCTIONS: [&str; 2] = ["issue-link", "resume-session"];
/// The floors, from this crate, with the same release profile.
pub const FLOORS: [&str; 2] = ["bare-floor", "secret-floor"];

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn run(mut command: Command, what: &str) -> Result<()> {
    let status = command.status().map_err(|e| format!("{what}: cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("{what} failed ({status})").into());
    }
    Ok(())
}

/// `cargo build --release` of the functions, then of the floors (two invocations: building them together
/// would unify this crate's and the rig's features into the functions).
pub fn build_all() -> Result<Duration> {
    let started = Instant::now();
    let mut functions = Command::new(cargo());
    functions.current_dir(workspace_root()).args(["build", "--release", "-p", FUNCTIONS[0], "-p", FUNCTIONS[1]]);
    run(functions, "building the functions")?;
    let mut floors = Command::new(cargo());
    floors.current_dir(workspace_root()).args([
        "build",
        "--release",
        "-p",
        "bench",
        "--bin",
        FLOORS[0],
        "--bin",
        FLOORS[1],
    ]);
    run(floors, "building the floors")?;
    Ok(started.elapsed())
}

/// What one binary weighs.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub name: String,
    /// After `strip --strip-all` (the release profile strips already; this proves it).
    pub stripped_bytes: u64,
    /// `bootstrap` in a zip (deflate, zip's default level, as the packagers use).
    pub zip_bytes: u64,
}

pub fn measure(name: &str, scratch: &Path) -> Result<Artifact> {
    let path = release_binary(name)?;
    let dir = scratch.join(name);
    std::fs::create_dir_all(&dir)?;
    let bootstrap = dir.join("bootstrap");
    std::fs::copy(&path, &bootstrap)?;
    let strip = Command::new("strip").arg("--strip-all").arg(&bootstrap).status();
    if !matches!(strip, Ok(s) if s.success()) {
        eprintln!("bench: `strip` unavailable or failed; sizing {name} as built (the release profile strips)");
    }
    let stripped_bytes = std::fs::metadata(&bootstrap)?.len();
    let zip = dir.join("package.zip");
    let _ = std::fs::remove_file(&zip);
    let status = Command::new("zip")
        .current_dir(&dir)
        .args(["-q", "-X", "package.zip", "bootstrap"])
        .status()
        .map_err(|e| format!("cannot run `zip` ({e}): install it with `apt-get install -y zip`"))?;
    if !status.success() {
        return Err(format!("zip of {name} failed ({status})").into());
    }
    let zip_bytes = std::fs::metadata(&zip)?.len();
    Ok(Artifact { name: name.to_owned(), stripped_bytes, zip_bytes })
}
