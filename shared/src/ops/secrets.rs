//! The Persona API key, in one place: the value that never appears in logs ([`ApiKey`]), where it comes from
//! ([`ApiKeySource`], parsed from the configuration), and the store that loads it from Secrets Manager at cold
//! start and re-reads it when Persona rejects it (rotation) ([`KeyStore`]).

use std::fmt;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use thiserror::Error;

#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The raw key, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where the Persona API key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum ApiKeySource {
    SecretsManager {
        secret_id: String,
    },
    /// `PERSONA_API_KEY`: local development only.
    Environment(ApiKey),
}

impl fmt::Debug for ApiKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretsManager { secret_id } => {
                f.debug_struct("SecretsManager").field("secret_id", secret_id).finish()
            }
            Self::Environment(_) => f.write_str("Environment(<redacted>)"),
        }
    }
}

/// Later re-reads after a rejected key are at most this frequent, so a dead key can't hammer Secrets Manager.
pub const REREAD_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("could not read secret {secret_id}: {reason}")]
    Unreadable { secret_id: String, reason: String },
    #[error("secret {secret_id} {reason}")]
    Malformed { secret_id: String, reason: &'static str },
}

/// Extracts the key from a SecretString: the raw key, or JSON `{"api_key": "..."}`.
pub fn parse_secret_string(secret: &str) -> Result<ApiKey, &'static str> {
    let trimmed = secret.trim();
    if trimmed.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct KeyDocument {
            api_key: Option<serde_json::Value>,
        }
        let doc: KeyDocument = serde_json::from_str(trimmed).map_err(|_| "is JSON but not an object")?;
        match doc.api_key {
            Some(serde_json::Value::String(key)) if !key.trim().is_empty() => Ok(ApiKey::new(key.trim().to_owned())),
            Some(_) => Err("has an api_key that is not a non-empty string"),
            None => Err("is a JSON object without an api_key member"),
        }
    } else if trimmed.is_empty() {
        Err("is empty")
    } else {
        Ok(ApiKey::new(trimmed.to_owned()))
    }
}

enum Origin {
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
    /// `PERSONA_API_KEY`: nothing to re-read.
    Environment,
}

/// The current key and how to refresh it.
pub struct KeyStore {
    current: RwLock<ApiKey>,
    origin: Origin,
    last_reread: Mutex<Option<Instant>>,
}

impl KeyStore {
    /// Loads the key once, at cold start (Secrets Manager through the AWS configuration init loaded once for
    /// every AWS client; `None` only when nothing needs AWS).
    pub async fn load(source: &ApiKeySource, aws: Option<&aws_config::SdkConfig>) -> Result<Self, SecretError> {
        match (source, aws) {
            (ApiKeySource::Environment(key), _) => Ok(Self::fixed(key.clone())),
            (ApiKeySource::SecretsManager { secret_id }, Some(aws)) => {
                Self::from_secrets_manager(aws_sdk_secretsmanager::Client::new(aws), secret_id).await
            }
            (ApiKeySource::SecretsManager { secret_id }, None) => {
                let aws = aws_config::load_from_env().await;
                Self::from_secrets_manager(aws_sdk_secretsmanager::Client::new(&aws), secret_id).await
            }
        }
    }

    /// Loads the key from `secret_id` through a given Secrets Manager client (tests point one at a stub).
    pub async fn from_secrets_manager(
        client: aws_sdk_secretsmanager::Client,
        secret_id: &str,
    ) -> Result<Self, SecretError> {
        let key = fetch(&client, secret_id).await?;
        Ok(Self {
            current: RwLock::new(key),
            origin: Origin::SecretsManager { client, secret_id: secret_id.to_owned() },
            last_reread: Mutex::new(None),
        })
    }

    /// A key that never changes (local development, tests).
    pub fn fixed(key: ApiKey) -> Self {
        Self { current: RwLock::new(key), origin: Origin::Environment, last_reread: Mutex::new(None) }
    }

    pub fn current(&self) -> ApiKey {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Called after Persona rejected `rejected` with a 401. Re-reads the secret (the first time at once, later at
    /// most once per [`REREAD_INTERVAL`]) and returns true when a different key is now current.
    pub async fn reread_after_rejection(&self, rejected: &ApiKey) -> Result<bool, SecretError> {
        let Origin::SecretsManager { client, secret_id } = &self.origin else {
            return Ok(false);
        };
        if self.current() != *rejected {
            return Ok(true); // Someone already rotated it in this process.
        }
        {
            let mut last = self.last_reread.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| at.elapsed() < REREAD_INTERVAL) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        let fresh = fetch(client, secret_id).await?;
        let changed = fresh != *rejected;
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(changed)
    }

    /// The secret id, for actionable error messages (never the key).
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::SecretsManager { secret_id, .. } => format!("secret {secret_id}"),
            Origin::Environment => "PERSONA_API_KEY".to_owned(),
        }
    }
}

async fn fetch(client: &aws_sdk_secretsmanager::Client, secret_id: &str) -> Result<ApiKey, SecretError> {
    let output =
        client.get_secret_value().secret_id(secret_id).send().await.map_err(|error| SecretError::Unreadable {
            secret_id: secret_id.to_owned(),
            reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&error).to_string(),
        })?;
    let secret = output
        .secret_string()
        .ok_or(SecretError::Malformed { secret_id: secret_id.to_owned(), reason: "has no SecretString" })?;
    parse_secret_string(secret).map_err(|reason| SecretError::Malformed { secret_id: secret_id.to_owned(), reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_key() {
        let key = ApiKey::new("persona_sandbox_secret".into());
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert_eq!(key.expose(), "persona_sandbox_secret");
        let source = ApiKeySource::Environment(key);
        assert_eq!(format!("{source:?}"), "Environment(<redacted>)");
    }

    #[test]
    fn secret_string_forms() {
        assert_eq!(parse_secret_string("persona_sandbox_abc").unwrap().expose(), "persona_sandbox_abc");
        assert_eq!(parse_secret_string("  persona_sandbox_abc\n").unwrap().expose(), "persona_sandbox_abc");
        assert_eq!(
            parse_secret_string(r#"{"api_key": "persona_production_x"}"#).unwrap().expose(),
            "persona_production_x"
        );
        assert_eq!(parse_secret_string(r#"{"api_key": "k", "other": 1}"#).unwrap().expose(), "k");
        for bad in ["", "   ", "{}", r#"{"api_key": ""}"#, r#"{"api_key": 5}"#, r#"{"key": "x"}"#, "{not json"] {
            assert!(parse_secret_string(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_fixed_key_is_never_reread() {
        let store = KeyStore::fixed(ApiKey::new("k".into()));
        assert!(!store.reread_after_rejection(&ApiKey::new("k".into())).await.unwrap());
        assert_eq!(store.describe(), "PERSONA_API_KEY");
    }
}
