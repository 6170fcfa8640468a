//! Cold-start state: configuration, the API key and one HTTP client, built once per Lambda container.

use std::sync::atomic::{AtomicBool, Ordering};

use thiserror::Error;

use crate::ops::config::{Config, ConfigError};
use crate::ops::secrets::{KeyStore, SecretError};
use crate::persona::retry::RetryPolicy;
use crate::persona::PersonaClient;

#[derive(Debug, Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Client(String),
}

pub struct AppState {
    pub config: Config,
    pub persona: PersonaClient,
    /// True until the first invocation of this container took it (the `ColdStart` metric).
    cold: AtomicBool,
}

impl AppState {
    /// Whether this is the container's first invocation; later calls answer false.
    pub fn take_cold_start(&self) -> bool {
        self.cold.swap(false, Ordering::Relaxed)
    }

    /// Everything expensive, once: configuration, the secret, the HTTP client.
    pub async fn from_env() -> Result<Self, StartupError> {
        Self::from_config(Config::from_env()?).await
    }

    /// The secret read (network) and the HTTP client build (root certificates from disk, parsed: CPU) don't
    /// depend on each other, so they overlap: the client is built on a blocking thread meanwhile.
    pub async fn from_config(config: Config) -> Result<Self, StartupError> {
        let http = tokio::task::spawn_blocking(PersonaClient::http_client);
        let keys = KeyStore::load(&config.api_key_source).await?;
        let http = http.await.map_err(|e| StartupError::Client(format!("could not build the HTTP client: {e}")))?;
        let persona = PersonaClient::with_http(
            http.map_err(StartupError::Client)?,
            &config.persona_api_base_url,
            &config.persona_version,
            keys,
            RetryPolicy::default(),
        )
        .map_err(StartupError::Client)?;
        Ok(Self { config, persona, cold: AtomicBool::new(true) })
    }

    /// For tests and callers that bring their own key store or retry policy.
    pub fn with_keys(config: Config, keys: KeyStore, retry: RetryPolicy) -> Result<Self, StartupError> {
        let persona = PersonaClient::new(&config.persona_api_base_url, &config.persona_version, keys, retry)
            .map_err(StartupError::Client)?;
        Ok(Self { config, persona, cold: AtomicBool::new(true) })
    }
}
