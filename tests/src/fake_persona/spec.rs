//! Persona's OpenAPI file the fake serves: which API version, where the file is, and the file itself,
//! parsed once per process and path (the documents start from its examples, the contract check validates
//! against its schemas).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::examples::Examples;

/// Environment variable overriding the location of `openapi-bundled.json` (wins over the version).
pub const SPEC_ENV: &str = "PERSONA_OPENAPI_SPEC";

/// Environment variable choosing the vendored spec version (`2025-12-08` or `2023-01-05`).
pub const SPEC_VERSION_ENV: &str = "FAKE_PERSONA_SPEC_VERSION";

/// The Persona API versions whose OpenAPI file is vendored in `persona-openapi/`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpecVersion {
    #[default]
    #[serde(rename = "2025-12-08")]
    V2025_12_08,
    #[serde(rename = "2023-01-05")]
    V2023_01_05,
}

impl SpecVersion {
    pub const ALL: [SpecVersion; 2] = [SpecVersion::V2025_12_08, SpecVersion::V2023_01_05];

    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V2025_12_08 => "2025-12-08",
            SpecVersion::V2023_01_05 => "2023-01-05",
        }
    }

    /// The vendored `persona-openapi/<version>/openapi-bundled.json`.
    pub fn vendored_path(self) -> PathBuf {
        crate::paths::persona_spec(self.as_str())
    }

    /// [`SPEC_VERSION_ENV`] when set (an unknown value is an error), else the default.
    pub fn from_env() -> Result<SpecVersion, String> {
        match std::env::var(SPEC_VERSION_ENV) {
            Ok(v) if !v.trim().is_empty() => v.parse(),
            _ => Ok(SpecVersion::default()),
        }
    }
}

impl std::str::FromStr for SpecVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<SpecVersion, String> {
        SpecVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == text.trim())
            .ok_or_else(|| format!("unknown Persona spec version {text:?} (known: 2025-12-08, 2023-01-05)"))
    }
}

impl std::fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The file a fake uses: an explicit path, else an explicit version, else [`SPEC_ENV`], else
/// [`SPEC_VERSION_ENV`], else 2025-12-08.
pub fn resolve_spec_path(path: Option<&Path>, version: Option<SpecVersion>) -> Result<PathBuf, String> {
    if let Some(path) = path {
        return Ok(path.to_owned());
    }
    if let Some(version) = version {
        return Ok(version.vendored_path());
    }
    match std::env::var_os(SPEC_ENV) {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Ok(SpecVersion::from_env()?.vendored_path()),
    }
}

/// A parsed OpenAPI 3.1 file.
pub struct Spec {
    pub source: PathBuf,
    pub document: Value,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec").field("source", &self.source).finish_non_exhaustive()
    }
}

impl Spec {
    /// Reads and parses the file (no cache; see [`Spec::cached`]).
    pub fn read(path: &Path) -> Result<Spec, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the Persona OpenAPI spec at {}: {e} (set {SPEC_ENV})", path.display()))?;
        let document: Value =
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        if document.get("openapi").and_then(Value::as_str).is_none_or(|v| !v.starts_with("3.1")) {
            return Err(format!("{} is not an OpenAPI 3.1 document", path.display()));
        }
        Ok(Spec { source: path.to_owned(), document })
    }

    /// The file at `path`, parsed on first use and shared by every fake of the process.
    pub fn cached(path: &Path) -> Result<Arc<Spec>, String> {
        static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Spec>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(spec) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(path) {
            return Ok(Arc::clone(spec));
        }
        // Parsed outside the lock: two first users may both parse; the first insert wins.
        let spec = Arc::new(Spec::read(path)?);
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Arc::clone(cache.entry(path.to_owned()).or_insert(spec)))
    }

    /// The API version the file declares (`info.version`), if it is one we know.
    pub fn version(&self) -> Option<SpecVersion> {
        self.document.pointer("/info/version").and_then(Value::as_str).and_then(|v| v.parse().ok())
    }
}

/// The examples of the file at `path`, taken once per process and path.
pub fn examples_for(path: &Path) -> Result<Arc<Examples>, String> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Examples>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(examples) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(path) {
        return Ok(Arc::clone(examples));
    }
    let spec = Spec::cached(path)?;
    let examples = Arc::new(Examples::from_spec(&spec.document).map_err(|e| format!("{}: {e}", path.display()))?);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    Ok(Arc::clone(cache.entry(path.to_owned()).or_insert(examples)))
}

/// The examples of the spec a default fake serves ([`resolve_spec_path`] without arguments).
pub fn default_examples() -> Result<Arc<Examples>, String> {
    examples_for(&resolve_spec_path(None, None)?)
}
