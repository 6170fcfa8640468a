//! Configuration from the environment, parsed once at cold start.
//!
//! Rules (docs/design.md, "Configuration"): an empty value means unset; booleans are `true`/`false`/`1`/`0` in any
//! case; a bad value fails the cold start with a message naming the variable.

use thiserror::Error;
use url::Url;

use crate::ops::secrets::{ApiKey, ApiKeySource};

pub const DEFAULT_PERSONA_API_BASE_URL: &str = "https://api.withpersona.com/api/v1";
pub const DEFAULT_PERSONA_VERSION: &str = "2025-12-08";
pub const DEFAULT_PERSONA_HOSTED_FLOW_URL: &str = "https://inquiry.withpersona.com/verify";
pub const DEFAULT_OWNER_CLAIM: &str = "sub";

/// Bounds of a one-time link's lifetime: one minute to seven days.
pub const LINK_EXPIRY_RANGE: std::ops::RangeInclusive<u32> = 60..=604_800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Callers come through a JWT authorizer; they must own the inquiry.
    Jwt,
    /// Callers are trusted backends signed with IAM; no ownership check.
    Iam,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnavailablePolicy {
    /// Resume as if the template version were current (logged and reported).
    Resume,
    /// Refuse with 409 `template_check_unavailable`.
    Reject,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub api_key_source: ApiKeySource,
    pub persona_api_base_url: Url,
    pub persona_version: String,
    pub hosted_flow_url: Url,
    pub inquiry_template_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub link_expires_in_seconds: Option<u32>,
    pub auth_mode: AuthMode,
    pub owner_claim: String,
    pub template_check_unavailable: UnavailablePolicy,
    pub expire_superseded: bool,
    pub guard: GuardConfig,
}

// ---------------------------------------------------------------------------------------------------- guard
// The guard's variables (docs/design.md, "The guard (durable state)"), parsed apart from the rest.

pub const DEFAULT_PERSONA_CALLS_PER_MINUTE: u32 = 240;
pub const DEFAULT_REQUESTS_PER_OWNER_PER_MINUTE: u32 = 10;
pub const DEFAULT_SESSIONS_PER_INQUIRY_PER_DAY: u32 = 10;

/// The guard's table and budgets; a budget of `0` is off.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// `GUARD_TABLE`: unset = the in-process store (one warning at init).
    pub table: Option<String>,
    pub persona_calls_per_minute: u32,
    pub requests_per_owner_per_minute: u32,
    pub sessions_per_inquiry_per_day: u32,
    /// `SESSION_LIMIT_ERROR`: identifies Persona's "session cap reached" refusal; unset = never replace on it.
    pub session_limit_error: Option<SessionLimitPattern>,
}

/// A regular expression (`regex-lite` syntax; `(?i)` for any case) matched against Persona's error as
/// `"{title}: {details}"`. Persona documents no text for this refusal, so the operator sets it from what
/// production logs show.
#[derive(Clone)]
pub struct SessionLimitPattern(regex_lite::Regex);

impl SessionLimitPattern {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        regex_lite::Regex::new(pattern).map(Self).map_err(|e| e.to_string())
    }

    /// Whether Persona's error (its title and details) is the session-cap refusal.
    pub fn matches(&self, title: &str, details: &str) -> bool {
        self.0.is_match(&format!("{title}: {details}"))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Debug for SessionLimitPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SessionLimitPattern").field(&self.0.as_str()).finish()
    }
}

impl GuardConfig {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let budget = |variable: &'static str, default: u32| match get(variable) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u32>()
                .map_err(|_| ConfigError::new(variable, "must be a whole number (0 turns it off)")),
        };
        let session_limit_error = match get("SESSION_LIMIT_ERROR") {
            None => None,
            Some(raw) => Some(
                SessionLimitPattern::parse(&raw)
                    .map_err(|e| ConfigError::new("SESSION_LIMIT_ERROR", format!("is not a regular expression ({e})")))?,
            ),
        };
        Ok(Self {
            table: get("GUARD_TABLE"),
            persona_calls_per_minute: budget("PERSONA_CALLS_PER_MINUTE", DEFAULT_PERSONA_CALLS_PER_MINUTE)?,
            requests_per_owner_per_minute: budget(
                "REQUESTS_PER_OWNER_PER_MINUTE",
                DEFAULT_REQUESTS_PER_OWNER_PER_MINUTE,
            )?,
            sessions_per_inquiry_per_day: budget("SESSIONS_PER_INQUIRY_PER_DAY", DEFAULT_SESSIONS_PER_INQUIRY_PER_DAY)?,
            session_limit_error,
        })
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self { variable, problem: problem.into() }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses configuration from any variable lookup (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());

        let api_key_source = match (get("PERSONA_API_KEY_SECRET_ID"), get("PERSONA_API_KEY")) {
            (Some(secret_id), _) => ApiKeySource::SecretsManager { secret_id },
            (None, Some(key)) => ApiKeySource::Environment(ApiKey::new(key.trim().to_owned())),
            (None, None) => {
                return Err(ConfigError::new(
                    "PERSONA_API_KEY_SECRET_ID",
                    "is required (or PERSONA_API_KEY for local development)",
                ))
            }
        };

        let persona_api_base_url = parse_persona_api_base_url(
            get("PERSONA_API_BASE_URL").as_deref().unwrap_or(DEFAULT_PERSONA_API_BASE_URL),
        )?;
        let hosted_flow_url = parse_http_url(
            "PERSONA_HOSTED_FLOW_URL",
            get("PERSONA_HOSTED_FLOW_URL").as_deref().unwrap_or(DEFAULT_PERSONA_HOSTED_FLOW_URL),
        )?;

        let persona_version = get("PERSONA_VERSION").unwrap_or_else(|| DEFAULT_PERSONA_VERSION.to_owned());
        if !persona_version.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ConfigError::new("PERSONA_VERSION", "must look like 2025-12-08"));
        }

        let inquiry_template_id = get("PERSONA_INQUIRY_TEMPLATE_ID");
        if let Some(id) = &inquiry_template_id {
            if !crate::domain::ids::is_valid_id(id, "itmpl_") {
                return Err(ConfigError::new(
                    "PERSONA_INQUIRY_TEMPLATE_ID",
                    "must be an inquiry template id (itmpl_...)",
                ));
            }
        }

        let redirect_uri = get("PERSONA_REDIRECT_URI");
        if let Some(uri) = &redirect_uri {
            Url::parse(uri).map_err(|e| ConfigError::new("PERSONA_REDIRECT_URI", format!("is not a URL ({e})")))?;
        }

        let link_expires_in_seconds = match get("LINK_EXPIRES_IN_SECONDS") {
            None => None,
            Some(raw) => {
                Some(raw.parse::<u32>().ok().filter(|n| LINK_EXPIRY_RANGE.contains(n)).ok_or_else(|| {
                    ConfigError::new("LINK_EXPIRES_IN_SECONDS", "must be an integer from 60 to 604800")
                })?)
            }
        };

        let auth_mode = match get("AUTH_MODE").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("jwt") => AuthMode::Jwt,
            Some("iam") => AuthMode::Iam,
            Some(_) => return Err(ConfigError::new("AUTH_MODE", "must be jwt or iam")),
        };

        let owner_claim = get("OWNER_CLAIM").unwrap_or_else(|| DEFAULT_OWNER_CLAIM.to_owned());

        let template_check_unavailable =
            match get("TEMPLATE_CHECK_UNAVAILABLE").map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("resume") => UnavailablePolicy::Resume,
                Some("reject") => UnavailablePolicy::Reject,
                Some(_) => return Err(ConfigError::new("TEMPLATE_CHECK_UNAVAILABLE", "must be resume or reject")),
            };

        let expire_superseded = match get("EXPIRE_SUPERSEDED") {
            None => false,
            Some(raw) => {
                parse_bool(&raw).ok_or_else(|| ConfigError::new("EXPIRE_SUPERSEDED", "must be true, false, 1 or 0"))?
            }
        };

        let guard = GuardConfig::from_lookup(get)?;

        Ok(Self {
            api_key_source,
            persona_api_base_url,
            persona_version,
            hosted_flow_url,
            inquiry_template_id,
            redirect_uri,
            link_expires_in_seconds,
            auth_mode,
            owner_claim,
            template_check_unavailable,
            expire_superseded,
            guard,
        })
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn parse_http_url(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::new(variable, format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") || url.cannot_be_a_base() || url.host().is_none() {
        return Err(ConfigError::new(variable, "must be an http(s) URL"));
    }
    Ok(url)
}

/// The bearer key travels with every call to this URL: plain http only where it cannot leave the machine.
fn parse_persona_api_base_url(raw: &str) -> Result<Url, ConfigError> {
    let url = parse_http_url("PERSONA_API_BASE_URL", raw)?;
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(ConfigError::new(
            "PERSONA_API_BASE_URL",
            "must be an https URL (http only for 127.0.0.0/8, ::1 or localhost)",
        ));
    }
    Ok(url)
}

/// Whether `url` names this machine: `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![("PERSONA_API_KEY_SECRET_ID", "persona/api-key")]
    }

    #[test]
    fn defaults_match_the_design_table() {
        let config = parse(&minimal()).unwrap();
        assert_eq!(config.api_key_source, ApiKeySource::SecretsManager { secret_id: "persona/api-key".into() });
        assert_eq!(config.persona_api_base_url.as_str(), DEFAULT_PERSONA_API_BASE_URL);
        assert_eq!(config.persona_version, "2025-12-08");
        assert_eq!(config.hosted_flow_url.as_str(), DEFAULT_PERSONA_HOSTED_FLOW_URL);
        assert_eq!(config.inquiry_template_id, None);
        assert_eq!(config.redirect_uri, None);
        assert_eq!(config.link_expires_in_seconds, None);
        assert_eq!(config.auth_mode, AuthMode::Jwt);
        assert_eq!(config.owner_claim, "sub");
        assert_eq!(config.template_check_unavailable, UnavailablePolicy::Resume);
        assert!(!config.expire_superseded);
        assert_eq!(config.guard.table, None);
        assert_eq!(config.guard.persona_calls_per_minute, 240);
        assert_eq!(config.guard.requests_per_owner_per_minute, 10);
        assert_eq!(config.guard.sessions_per_inquiry_per_day, 10);
        assert!(config.guard.session_limit_error.is_none());
    }

    #[test]
    fn empty_values_mean_unset() {
        let mut vars = minimal();
        for name in [
            "PERSONA_API_KEY",
            "PERSONA_API_BASE_URL",
            "PERSONA_VERSION",
            "PERSONA_HOSTED_FLOW_URL",
            "PERSONA_INQUIRY_TEMPLATE_ID",
            "PERSONA_REDIRECT_URI",
            "LINK_EXPIRES_IN_SECONDS",
            "AUTH_MODE",
            "OWNER_CLAIM",
            "TEMPLATE_CHECK_UNAVAILABLE",
            "EXPIRE_SUPERSEDED",
            "GUARD_TABLE",
            "PERSONA_CALLS_PER_MINUTE",
            "REQUESTS_PER_OWNER_PER_MINUTE",
            "SESSIONS_PER_INQUIRY_PER_DAY",
            "SESSION_LIMIT_ERROR",
        ] {
            vars.push((name, ""));
        }
        let config = parse(&vars).unwrap();
        assert_eq!(config.persona_version, "2025-12-08");
        assert_eq!(config.auth_mode, AuthMode::Jwt);
        assert_eq!(config.guard.table, None);
        assert_eq!(config.guard.persona_calls_per_minute, 240);
        assert!(config.guard.session_limit_error.is_none());
        assert!(parse(&[("PERSONA_API_KEY_SECRET_ID", "")]).is_err());
    }

    #[test]
    fn secret_id_wins_over_a_local_key_and_a_local_key_is_accepted_alone() {
        let both = parse(&[("PERSONA_API_KEY_SECRET_ID", "s"), ("PERSONA_API_KEY", "k")]).unwrap();
        assert!(matches!(both.api_key_source, ApiKeySource::SecretsManager { .. }));
        let local = parse(&[("PERSONA_API_KEY", "persona_sandbox_abc")]).unwrap();
        assert!(matches!(local.api_key_source, ApiKeySource::Environment(_)));
        assert!(!format!("{local:?}").contains("persona_sandbox_abc"), "the key must not appear in Debug output");
    }

    #[test]
    fn parses_every_variable() {
        let mut vars = minimal();
        vars.extend([
            ("PERSONA_API_BASE_URL", "http://127.0.0.1:9000/api/v1/"),
            ("PERSONA_VERSION", "2023-01-05"),
            ("PERSONA_HOSTED_FLOW_URL", "https://verify.example.com/start?theme=dark"),
            ("PERSONA_INQUIRY_TEMPLATE_ID", "itmpl_abc123"),
            ("PERSONA_REDIRECT_URI", "https://app.example.com/done"),
            ("LINK_EXPIRES_IN_SECONDS", "3600"),
            ("AUTH_MODE", "IAM"),
            ("OWNER_CLAIM", "custom:user_id"),
            ("TEMPLATE_CHECK_UNAVAILABLE", "Reject"),
            ("EXPIRE_SUPERSEDED", "TRUE"),
        ]);
        let config = parse(&vars).unwrap();
        assert_eq!(config.persona_api_base_url.as_str(), "http://127.0.0.1:9000/api/v1/");
        assert_eq!(config.persona_version, "2023-01-05");
        assert_eq!(config.inquiry_template_id.as_deref(), Some("itmpl_abc123"));
        assert_eq!(config.redirect_uri.as_deref(), Some("https://app.example.com/done"));
        assert_eq!(config.link_expires_in_seconds, Some(3600));
        assert_eq!(config.auth_mode, AuthMode::Iam);
        assert_eq!(config.owner_claim, "custom:user_id");
        assert_eq!(config.template_check_unavailable, UnavailablePolicy::Reject);
        assert!(config.expire_superseded);
    }

    #[test]
    fn booleans_accept_the_four_spellings_in_any_case() {
        for (raw, expected) in [("true", true), ("1", true), ("False", false), ("0", false), ("TRUE", true)] {
            let mut vars = minimal();
            vars.push(("EXPIRE_SUPERSEDED", raw));
            assert_eq!(parse(&vars).unwrap().expire_superseded, expected, "{raw}");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases = [
            ("PERSONA_API_BASE_URL", "not a url"),
            ("PERSONA_API_BASE_URL", "ftp://example.com"),
            ("PERSONA_HOSTED_FLOW_URL", "mailto:x@example.com"),
            ("PERSONA_VERSION", "2025/12/08"),
            ("PERSONA_INQUIRY_TEMPLATE_ID", "tmpl_legacy"),
            ("PERSONA_REDIRECT_URI", "::nope"),
            ("LINK_EXPIRES_IN_SECONDS", "59"),
            ("LINK_EXPIRES_IN_SECONDS", "604801"),
            ("LINK_EXPIRES_IN_SECONDS", "60.5"),
            ("LINK_EXPIRES_IN_SECONDS", "-60"),
            ("AUTH_MODE", "none"),
            ("TEMPLATE_CHECK_UNAVAILABLE", "ignore"),
            ("EXPIRE_SUPERSEDED", "yes"),
            ("PERSONA_CALLS_PER_MINUTE", "-1"),
            ("PERSONA_CALLS_PER_MINUTE", "240.5"),
            ("REQUESTS_PER_OWNER_PER_MINUTE", "ten"),
            ("SESSIONS_PER_INQUIRY_PER_DAY", "99999999999"),
            ("SESSION_LIMIT_ERROR", "(unclosed"),
        ];
        for (variable, value) in cases {
            let mut vars = minimal();
            vars.push((variable, value));
            let error = parse(&vars).expect_err(value);
            assert_eq!(error.variable, variable, "{value}");
            assert!(error.to_string().contains(variable));
        }
    }

    #[test]
    fn guard_variables_parse_and_zero_turns_a_budget_off() {
        let mut vars = minimal();
        vars.extend([
            ("GUARD_TABLE", "persona-resume-GuardTable-ABC"),
            ("PERSONA_CALLS_PER_MINUTE", "20"),
            ("REQUESTS_PER_OWNER_PER_MINUTE", "0"),
            ("SESSIONS_PER_INQUIRY_PER_DAY", "2"),
            ("SESSION_LIMIT_ERROR", "(?i)session.*(limit|reached)"),
        ]);
        let guard = parse(&vars).unwrap().guard;
        assert_eq!(guard.table.as_deref(), Some("persona-resume-GuardTable-ABC"));
        assert_eq!(
            (guard.persona_calls_per_minute, guard.requests_per_owner_per_minute, guard.sessions_per_inquiry_per_day),
            (20, 0, 2)
        );
        let pattern = guard.session_limit_error.unwrap();
        // (title, details, matches)
        let table = [
            ("Unprocessable entity", "Maximum number of Sessions reached", true),
            ("Conflict", "Inquiry session limit exceeded", true),
            ("Conflict", "Inquiry already redacted", false),
            ("Unprocessable entity", "Invalid confirmation code", false),
        ];
        for (title, details, expected) in table {
            assert_eq!(pattern.matches(title, details), expected, "{title}: {details}");
        }
        assert!(format!("{pattern:?}").contains("(?i)session"));
    }

    #[test]
    fn plain_http_reaches_persona_only_on_loopback() {
        let table = [
            ("https://api.withpersona.com/api/v1", true),
            ("https://203.0.113.5/api/v1", true),
            ("http://127.0.0.1:9000/api/v1", true),
            ("http://127.8.9.10:9000", true),
            ("http://localhost:9000", true),
            ("http://LOCALHOST:9000", true),
            ("http://[::1]:9000/api/v1", true),
            ("http://api.withpersona.com/api/v1", false),
            ("http://10.0.0.5:9000", false),
            ("http://[::2]:9000", false),
            ("http://localhost.example.com", false),
            ("http://128.0.0.1", false),
        ];
        for (url, accepted) in table {
            let mut vars = minimal();
            vars.push(("PERSONA_API_BASE_URL", url));
            match parse(&vars) {
                Ok(_) => assert!(accepted, "{url} must be refused"),
                Err(error) => {
                    assert!(!accepted, "{url} must be accepted: {error}");
                    assert_eq!(error.variable, "PERSONA_API_BASE_URL");
                }
            }
        }
        // The hosted flow URL is handed to users and carries no key: any http(s) host.
        let mut vars = minimal();
        vars.push(("PERSONA_HOSTED_FLOW_URL", "http://verify.example.com/start"));
        assert!(parse(&vars).is_ok());
    }

    #[test]
    fn link_expiry_bounds_are_inclusive() {
        for raw in ["60", "604800"] {
            let mut vars = minimal();
            vars.push(("LINK_EXPIRES_IN_SECONDS", raw));
            assert!(parse(&vars).is_ok(), "{raw}");
        }
    }
}
