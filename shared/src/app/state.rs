//! Cold-start state: configuration, the API key, one HTTP client and the guard, built once per Lambda container.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use thiserror::Error;

use crate::guard::{self, Guard, Limits};
use crate::ops::config::{Config, ConfigError, GuardConfig};
use crate::ops::secrets::ApiKeySource;
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
    guard: Arc<Guard>,
    retry: RetryPolicy,
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

    pub(crate) fn guard(&self) -> &Arc<Guard> {
        &self.guard
    }

    /// The deployment's guard, for the test rig: a scenario plants ledger state in it, as another container would.
    #[cfg(feature = "testing")]
    pub fn guard_for_tests(&self) -> &Guard {
        &self.guard
    }

    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.retry
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

    /// The secret read (network), the guard's client, and the HTTP client (root certificates from disk, parsed:
    /// CPU; then DNS, TCP and TLS to Persona, `persona/preconnect.rs`) don't depend on each other, so they overlap.
    /// The HTTP client is started first, on a blocking thread: the AWS configuration's loader reads the same
    /// certificates for the SDK on this thread meanwhile, so the two reads share the machine's cores instead of the
    /// HTTP client's read competing with the secret read that follows (cold start 1.25–1.37 → 1.08–1.19 × the
    /// secret floor over alternating runs, bench/optimisations.md). A dial that fails or runs past its budget only
    /// means the first call dials itself, as it would without it.
    pub async fn from_config(config: Config) -> Result<Self, StartupError> {
        let predial = PreDial::new();
        let layer = predial.clone();
        let http = tokio::task::spawn_blocking(move || http_client(Some(&layer)));
        // The AWS configuration (region, credentials) once, for every AWS client — only when one is needed.
        let needs_aws =
            matches!(config.api_key_source, ApiKeySource::SecretsManager { .. }) || config.guard.table.is_some();
        let aws = if needs_aws { Some(aws_config::load_from_env().await) } else { None };
        let connect = async {
            let http = http.await.map_err(|e| StartupError::Client(format!("could not build the HTTP client: {e}")))?;
            let http = http.map_err(StartupError::Client)?;
            let pre_dial = predial.dial(&http, &config.persona_api_base_url, DIAL_BUDGET).await;
            Ok::<_, StartupError>((http, pre_dial))
        };
        let guard = async {
            match &aws {
                Some(aws) => guard::connect(aws, config.guard.table.as_deref(), limits(&config.guard)).await,
                None => guard::connect(&aws_config::SdkConfig::builder().build(), None, limits(&config.guard)).await,
            }
        };
        let (keys, http, guard) = tokio::join!(KeyStore::load(&config.api_key_source, aws.as_ref()), connect, guard);
        // A bad secret is reported first, as before the overlap.
        let keys = keys?;
        let (http, pre_dial) = http?;
        let transport =
            Transport::new(http, &config.persona_api_base_url, &config.persona_version, keys, RetryPolicy::default())
                .map_err(StartupError::Client)?;
        let persona = PersonaClient::new(transport);
        guard.open_in_background();
        let (guard, retry) = (Arc::new(guard), RetryPolicy::default());
        Ok(Self { config, persona, guard, retry, pre_dial, cold: AtomicBool::new(true) })
    }

    /// For tests and callers that bring their own key store, retry policy and guard (the in-process store, or
    /// one over moto's DynamoDB).
    pub fn with_keys(config: Config, keys: KeyStore, retry: RetryPolicy, guard: Guard) -> Result<Self, StartupError> {
        let http = http_client(None).map_err(StartupError::Client)?;
        let transport =
            Transport::new(http, &config.persona_api_base_url, &config.persona_version, keys, retry.clone())
                .map_err(StartupError::Client)?;
        let persona = PersonaClient::new(transport);
        let guard = Arc::new(guard);
        Ok(Self { config, persona, guard, retry, pre_dial: DialOutcome::Off, cold: AtomicBool::new(true) })
    }
}

/// The guard's budgets as configured (`0` = off).
pub fn limits(config: &GuardConfig) -> Limits {
    Limits {
        persona_calls_per_minute: config.persona_calls_per_minute,
        requests_per_owner_per_minute: config.requests_per_owner_per_minute,
        sessions_per_inquiry_per_day: config.sessions_per_inquiry_per_day,
    }
}
