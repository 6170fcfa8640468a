//! Where things are: the workspace, its target directory, the release binaries, Persona's vendored OpenAPI files.

use std::path::{Path, PathBuf};

use crate::error::Result;

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent directory").to_path_buf()
}

/// Persona's OpenAPI versions vendored in the repository (`persona-openapi/<version>/`).
pub const PERSONA_SPEC_VERSIONS: [&str; 2] = ["2025-12-08", "2023-01-05"];

/// Persona's bundled OpenAPI file of one API version, vendored at `<repo>/persona-openapi/<version>/`.
pub fn persona_spec(version: &str) -> PathBuf {
    workspace_root().join("persona-openapi").join(version).join("openapi-bundled.json")
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to the workspace root), else the
/// one the running test binary was built into (`<target>/<profile>/deps/<test>`), else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() { dir } else { workspace_root().join(dir) };
    }
    if let Some(dir) = target_dir_of_current_exe() {
        return dir;
    }
    workspace_root().join("target")
}

/// `<target>` (or `<target>/<triple>`) from a test or bench binary at `<target>/<profile>/deps/<name>`.
fn target_dir_of_current_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    if deps.file_name()? != "deps" {
        return None;
    }
    Some(deps.parent()?.parent()?.to_path_buf())
}

/// The path of a release binary of the workspace, `<target>/release/<name>`, e.g.
/// `release_binary("issue-link")`. Fails with the command to build it when it is not there.
pub fn release_binary(name: &str) -> Result<PathBuf> {
    binary_in_profile(name, "release")
}

/// Like [`release_binary`] for any profile directory (`"debug"`, `"release"`, a custom profile).
pub fn binary_in_profile(name: &str, profile: &str) -> Result<PathBuf> {
    let path = target_dir().join(profile).join(name);
    if path.is_file() {
        return Ok(path);
    }
    let flag = match profile {
        "debug" => String::new(),
        "release" => " --release".to_owned(),
        other => format!(" --profile {other}"),
    };
    Err(format!(
        "binary `{name}` not found at {}: build it first with `cargo build{flag} --bin {name}` \
         (from {})",
        path.display(),
        workspace_root().display()
    )
    .into())
}
