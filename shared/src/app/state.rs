//! Cold-start state: configuration, the API key and one HTTP client, built once per Lambda container.

use std::sync::atomic::{AtomicBool, Ordering};

use thiserror::Error;

use crate::ops::config::{Config, ConfigError};
use crate::ops::secrets::{KeyStore, SecretError};
use crate::persona::client::PersonaClient;
use crate::persona::preconnect::{DialOutcome, PreDial, DIAL_BUDGET};
use crate::persona::retry::RetryPolicy;
use crate::persona::transport::{http_client, Transport};

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
    config: Config,
    persona: PersonaClient,
    /// Whether init opened the connection to Persona for the first call (its log line says so).
    pre_dial: DialOutcome,
    /// True until the first invocation of this container took it (the `ColdStart` metric).
    cold: AtomicBool,
}

impl AppState {
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn persona(&self) -> &PersonaClient {
        &self.persona
    }

    pub(crate) fn pre_dial(&self) -> DialOutcome {
        self.pre_dial
    }

    /// Whether this is the container's first invocation; later calls answer false.
    pub fn take_cold_start(&self) -> bool {
        self.cold.swap(false, Ordering::Relaxed)
    }

    /// Everything expensive, once: configuration, the secret, the HTTP client.
    pub async fn from_env() -> Result<Self, StartupError> {
        Self::from_config(Config::from_env()?).await
    }

    /// The secret read (network) and the HTTP client (root certificates from disk, parsed: CPU; then DNS, TCP and
    /// TLS to Persona, `persona/preconnect.rs`) don't depend on each other, so they overlap: the client is built on
    /// a blocking thread and dials Persona while the secret is read. A dial that fails or runs past its budget only
    /// means the first call dials itself, as it would without it.
    pub async fn from_config(config: Config) -> Result<Self, StartupError> {
        let predial = PreDial::new();
        let layer = predial.clone();
        let http = tokio::task::spawn_blocking(move || http_client(Some(&layer)));
        let connect = async {
            let http = http.await.map_err(|e| StartupError::Client(format!("could not build the HTTP client: {e}")))?;
            let http = http.map_err(StartupError::Client)?;
            let pre_dial = predial.dial(&http, &config.persona_api_base_url, DIAL_BUDGET).await;
            Ok::<_, StartupError>((http, pre_dial))
        };
        let (keys, http) = tokio::join!(KeyStore::load(&config.api_key_source), connect);
        // A bad secret is reported first, as before the overlap.
        let keys = keys?;
        let (http, pre_dial) = http?;
        let transport =
            Transport::new(http, &config.persona_api_base_url, &config.persona_version, keys, RetryPolicy::default())
                .map_err(StartupError::Client)?;
        let persona = PersonaClient::new(transport);
        Ok(Self { config, persona, pre_dial, cold: AtomicBool::new(true) })
    }

    /// For tests and callers that bring their own key store or retry policy.
    pub fn with_keys(config: Config, keys: KeyStore, retry: RetryPolicy) -> Result<Self, StartupError> {
        let http = http_client(None).map_err(StartupError::Client)?;
        let transport = Transport::new(http, &config.persona_api_base_url, &config.persona_version, keys, retry)
            .map_err(StartupError::Client)?;
        let persona = PersonaClient::new(transport);
        Ok(Self { config, persona, pre_dial: DialOutcome::Off, cold: AtomicBool::new(true) })
    }
}
