//! One logical Persona call on the wire: build the request, perform it, record it, and execute what the retry
//! policy ([`crate::persona::retry::next`]) decides. Everything this module decides itself is pure and small:
//! classifying an answer into an [`Attempt`], reading a 403's reason, the body cap. The endpoints are the
//! client's (`client.rs`), over this.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::ops::secrets::{ApiKey, KeyStore};
use crate::persona::calls::{Invocation, UpstreamCall};
use crate::persona::error::{PersonaReason, UpstreamError};
use crate::persona::idempotency::KeySequence;
use crate::persona::operation::Operation;
use crate::persona::preconnect::PreDial;
use crate::persona::retry::{next, Action, Attempt, Final, Forbidden, Key, Keys, RetryPolicy, RetryState};

const USER_AGENT: &str = concat!("persona-resume/", env!("CARGO_PKG_VERSION"));

/// The largest answer body read from Persona. Persona's documents are a few KiB; a function has 128 MB, so a
/// broken or hostile upstream must not make it buffer without bound.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A raw answer before parsing.
pub(crate) struct Answer {
    body: Bytes,
    request_id: Option<String>,
}

/// One performed attempt: how it ended, and what came back (an empty body when nothing did).
struct Performed {
    attempt: Attempt,
    answer: Answer,
}

/// The HTTP client (root certificates read and parsed: the costly, blocking part, so a cold start builds it on a
/// blocking thread while the secret is read). With a [`PreDial`], its connector can open the first connection
/// during init (`preconnect.rs`).
pub fn http_client(predial: Option<&PreDial>) -> Result<reqwest::Client, String> {
    let builder = match predial {
        Some(predial) => reqwest::Client::builder().connector_layer(predial.layer()),
        None => reqwest::Client::builder(),
    };
    builder
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(3))
        // Persona closes idle connections; Lambda may freeze us for longer. A stale connection shows up as a
        // connection error, which is retried with the same idempotency key.
        .pool_idle_timeout(Duration::from_secs(50))
        .tcp_nodelay(true)
        // Never follow a redirect with our bearer key.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("could not build the HTTP client: {e}"))
}

/// Where and how Persona is called: one `reqwest` client (keep-alive, rustls) built at cold start, the base URL,
/// the API version, the key and the retry policy.
pub struct Transport {
    http: reqwest::Client,
    /// Always ends with `/`, so joining keeps its path (`…/api/v1/` + `inquiries`).
    base_url: Url,
    persona_version: HeaderValue,
    keys: KeyStore,
    retry: RetryPolicy,
}

impl Transport {
    /// A transport over an HTTP client from [`http_client`].
    pub fn new(
        http: reqwest::Client,
        base_url: &Url,
        persona_version: &str,
        keys: KeyStore,
        retry: RetryPolicy,
    ) -> Result<Self, String> {
        let mut base_url = base_url.clone();
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let persona_version =
            HeaderValue::from_str(persona_version).map_err(|_| "PERSONA_VERSION is not a valid header value")?;
        Ok(Self { http, base_url, persona_version, keys, retry })
    }

    /// The base URL with `segments` appended, each percent-encoded as one path segment.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut().expect("validated http(s) base URL").pop_if_empty().extend(segments);
        url
    }

    /// Sends one logical call, retrying within the invocation's deadline as [`crate::persona::retry`] decides.
    pub(crate) async fn send(
        &self,
        inv: &mut Invocation,
        operation: Operation,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        mut keys: Option<KeySequence>,
    ) -> Result<Answer, UpstreamError> {
        let mut state = RetryState::new(operation, Keys::of(operation, keys.is_some(), keys.as_ref().is_some_and(KeySequence::is_held_in_ledger)));
        loop {
            let remaining = inv.remaining();
            if !self.retry.may_start(remaining, inv.calls_made()) {
                return Err(state.last_failure().clone());
            }
            inv.reserve_call()
                .await
                .map_err(|retry_after_seconds| UpstreamError::BudgetExhausted { retry_after_seconds })?;
            let api_key = self.keys.current();
            let request = self.request(&method, &url, &api_key, body.as_deref(), keys.as_ref());
            let Performed { mut attempt, answer } = self.perform(inv, operation, request, remaining).await;
            let (key, wait) = loop {
                match next(&self.retry, &mut state, attempt, inv.remaining(), inv.calls_made(), fastrand::f64()) {
                    Action::Succeed => return Ok(answer),
                    Action::GiveUp(failure) => return Err(failure),
                    Action::RereadKey => {
                        attempt = Attempt::KeyReread { changed: self.reread_key(inv, operation, &api_key).await }
                    }
                    Action::Retry { key, wait } => break (key, wait),
                }
            };
            if let (Key::Next, Some(keys)) = (key, keys.as_mut()) {
                keys.advance();
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn request(
        &self,
        method: &Method,
        url: &Url,
        api_key: &ApiKey,
        body: Option<&[u8]>,
        keys: Option<&KeySequence>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(api_key.expose())
            .header("Persona-Version", self.persona_version.clone())
            .header(ACCEPT, "application/json");
        if let Some(keys) = keys {
            request = request.header("Idempotency-Key", keys.current());
        }
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.to_vec());
        }
        request
    }

    /// Performs one attempt within `remaining`, records it in the invocation and logs it.
    async fn perform(
        &self,
        inv: &mut Invocation,
        operation: Operation,
        request: reqwest::RequestBuilder,
        remaining: Duration,
    ) -> Performed {
        let started = Instant::now();
        let outcome = tokio::time::timeout(remaining.min(self.retry.attempt_timeout), async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = read_capped(response, MAX_BODY_BYTES).await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        })
        .await;
        let duration = started.elapsed();
        let (status, performed) = match outcome {
            Err(_elapsed) => (None, lost(UpstreamError::Timeout)),
            Ok(Err(error)) => {
                let detail = describe_transport_error(&error);
                (None, lost(UpstreamError::Unavailable { detail, request_id: None }))
            }
            Ok(Ok((status, headers, body))) => (Some(status.as_u16()), classify(status, &headers, body)),
        };
        let request_id = performed.answer.request_id.clone();
        inv.record(UpstreamCall { operation, status, duration, request_id });
        self.log_attempt(inv, operation, status, duration, &performed.attempt);
        performed
    }

    /// One line per attempt; warnings for the ones that will be retried or fail (the invocation's span carries the
    /// Lambda request id).
    fn log_attempt(
        &self,
        inv: &Invocation,
        operation: Operation,
        status: Option<u16>,
        duration: Duration,
        attempt: &Attempt,
    ) {
        let operation = operation.as_str();
        let attempt_number = inv.calls_made();
        let elapsed_ms = duration.as_millis() as u64;
        let persona_request_id = inv.calls.last().and_then(|call| call.request_id.as_deref());
        match attempt {
            Attempt::Lost(error) => tracing::warn!(
                operation,
                attempt_number,
                elapsed_ms,
                error = %error,
                "persona call got no answer"
            ),
            Attempt::ServerError { status, .. } => tracing::warn!(
                operation,
                attempt_number,
                status,
                persona_request_id,
                "persona server error"
            ),
            Attempt::RateLimited { reset, .. } => tracing::warn!(
                operation,
                attempt_number,
                reset_s = reset.map(|r| r.as_secs()),
                persona_request_id,
                "persona rate limited"
            ),
            Attempt::Unauthorized { .. } | Attempt::Final(Final::Forbidden { reason: Forbidden::Key, .. }) => tracing::warn!(
                operation,
                status,
                persona_request_id,
                key_source = %self.keys.describe(),
                "Persona refused the API key: check that the key in {} is valid for this environment and rotate it if needed",
                self.keys.describe()
            ),
            Attempt::Final(Final::Forbidden { reason: Forbidden::Quota, .. }) => tracing::warn!(
                operation,
                persona_request_id,
                "Persona refused the call: a quota of the Persona account is used up; ask Persona support to raise it"
            ),
            Attempt::Final(Final::Oversized { status, .. }) => tracing::warn!(
                operation,
                status,
                persona_request_id,
                limit_bytes = MAX_BODY_BYTES,
                "persona answer too large"
            ),
            Attempt::Success | Attempt::Final(Final::Rejected { .. }) | Attempt::KeyReread { .. } => tracing::debug!(
                operation,
                attempt_number,
                status,
                elapsed_ms,
                persona_request_id,
                "persona call"
            ),
        }
    }

    /// Re-reads the secret after a 401, within the invocation's remaining time (less one attempt's minimum, so
    /// a retry can still follow); true when another key is now current.
    async fn reread_key(&self, inv: &Invocation, operation: Operation, rejected: &ApiKey) -> bool {
        let operation = operation.as_str();
        let within = inv.remaining().saturating_sub(self.retry.min_attempt_time);
        match tokio::time::timeout(within, self.keys.reread_after_rejection(rejected)).await {
            Ok(Ok(changed)) => {
                if changed {
                    tracing::warn!(operation, "retrying with the rotated Persona API key");
                }
                changed
            }
            Ok(Err(error)) => {
                tracing::warn!(operation, error = %error, "could not re-read the Persona API key");
                false
            }
            Err(_elapsed) => {
                tracing::warn!(
                    operation,
                    within_ms = within.as_millis() as u64,
                    "re-reading the Persona API key took longer than the invocation has left"
                );
                false
            }
        }
    }
}

fn lost(error: UpstreamError) -> Performed {
    Performed { attempt: Attempt::Lost(error), answer: Answer { body: Bytes::new(), request_id: None } }
}

/// Reads a body of at most `cap` bytes; `None` when it is larger (checked against `Content-Length` first, then
/// while streaming, since a chunked answer has none).
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Option<Bytes>, reqwest::Error> {
    if response.content_length().is_some_and(|length| length > cap as u64) {
        return Ok(None);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// What an answer means for the retry policy.
fn classify(status: StatusCode, headers: &HeaderMap, body: Option<Bytes>) -> Performed {
    let request_id = header_str(headers, "request-id").map(str::to_owned);
    let Some(body) = body else {
        let attempt = Attempt::Final(Final::Oversized { status: status.as_u16(), request_id: request_id.clone() });
        return Performed { attempt, answer: Answer { body: Bytes::new(), request_id } };
    };
    let attempt = match status {
        _ if status.is_success() => Attempt::Success,
        StatusCode::UNAUTHORIZED => Attempt::Unauthorized { request_id: request_id.clone() },
        StatusCode::FORBIDDEN => Attempt::Final(Final::Forbidden { reason: forbidden_reason(&body), request_id: request_id.clone() }),
        StatusCode::TOO_MANY_REQUESTS => {
            Attempt::RateLimited { reset: rate_limit_reset(headers), request_id: request_id.clone() }
        }
        _ if status.is_server_error() => {
            Attempt::ServerError { status: status.as_u16(), request_id: request_id.clone() }
        }
        _ => Attempt::Final(Final::Rejected {
            status: status.as_u16(),
            request_id: request_id.clone(),
            reason: PersonaReason::from_body(&body),
        }),
    };
    Performed { attempt, answer: Answer { body, request_id } }
}

/// A 403 is a quota when Persona says so (`errors[].title` "Quota exceeded", or a `details` naming a quota);
/// anything else — including a body we can't read — is our key's problem, the safe default for the operator.
fn forbidden_reason(body: &[u8]) -> Forbidden {
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        title: Option<String>,
        details: Option<String>,
    }
    let says_quota = |text: &Option<String>| text.as_deref().is_some_and(|t| t.to_ascii_lowercase().contains("quota"));
    match serde_json::from_slice::<Errors>(body) {
        Ok(doc) if doc.errors.iter().any(|e| says_quota(&e.title) || says_quota(&e.details)) => Forbidden::Quota,
        _ => Forbidden::Key,
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|value| !value.is_empty())
}

/// `RateLimit-Reset`: seconds until the window resets (clamped by the retry policy).
fn rate_limit_reset(headers: &HeaderMap) -> Option<Duration> {
    header_str(headers, "ratelimit-reset").and_then(|raw| raw.parse::<u64>().ok()).map(Duration::from_secs)
}

fn describe_transport_error(error: &reqwest::Error) -> String {
    // reqwest's own message names the URL, whose query may hold a reference id: only the cause is kept.
    let kind = if error.is_connect() {
        "could not connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "the answer was cut off"
    } else {
        "the connection failed"
    };
    match std::error::Error::source(error) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_owned(),
    }
}

/// Parses a 2xx body. The error names the position and kind only: serde's messages can quote values, and those
/// values may be tokens or links.
pub(crate) fn parse<T: DeserializeOwned>(operation: Operation, answer: Answer) -> Result<T, UpstreamError> {
    serde_json::from_slice(&answer.body).map_err(|error| {
        let detail = match error.classify() {
            serde_json::error::Category::Data => {
                format!("{operation}: the document lacks a required member or has one of the wrong type (line {}, column {})", error.line(), error.column())
            }
            _ => format!("{operation}: the answer is not JSON (line {}, column {})", error.line(), error.column()),
        };
        UpstreamError::Malformed { detail, request_id: answer.request_id }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_is_a_quota_only_when_persona_says_so() {
        let table: [(&str, Forbidden); 7] = [
            (
                r#"{"errors":[{"title":"Quota exceeded","details":"You have hit your create_verification quota limit"}]}"#,
                Forbidden::Quota,
            ),
            (r#"{"errors":[{"title":"Forbidden","details":"You have hit your QUOTA limit"}]}"#, Forbidden::Quota),
            (
                r#"{"errors":[{"title":"Forbidden","details":"IP address is not permitted access to current environment"}]}"#,
                Forbidden::Key,
            ),
            (r#"{"errors":[{"title":"Forbidden"}]}"#, Forbidden::Key),
            (r#"{"errors":[]}"#, Forbidden::Key),
            ("<html>forbidden</html>", Forbidden::Key),
            ("", Forbidden::Key),
        ];
        for (body, expected) in table {
            assert_eq!(forbidden_reason(body.as_bytes()), expected, "{body}");
        }
    }

    #[test]
    fn answers_are_classified_for_the_policy() {
        let mut headers = HeaderMap::new();
        headers.insert("request-id", HeaderValue::from_static("req_1"));
        headers.insert("ratelimit-reset", HeaderValue::from_static(" 7 "));
        let rid = Some("req_1".to_owned());
        let table = [
            (200, Attempt::Success),
            (201, Attempt::Success),
            (401, Attempt::Unauthorized { request_id: rid.clone() }),
            (403, Attempt::Final(Final::Forbidden { reason: Forbidden::Key, request_id: rid.clone() })),
            (429, Attempt::RateLimited { reset: Some(Duration::from_secs(7)), request_id: rid.clone() }),
            (500, Attempt::ServerError { status: 500, request_id: rid.clone() }),
            (404, Attempt::Final(Final::Rejected { status: 404, request_id: rid.clone(), reason: None })),
            (302, Attempt::Final(Final::Rejected { status: 302, request_id: rid.clone(), reason: None })),
        ];
        for (status, expected) in table {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(classify(status, &headers, Some(Bytes::new())).attempt, expected, "{status}");
        }
        assert_eq!(
            classify(StatusCode::OK, &headers, None).attempt,
            Attempt::Final(Final::Oversized { status: 200, request_id: rid })
        );
        let bare = classify(StatusCode::BAD_GATEWAY, &HeaderMap::new(), Some(Bytes::new()));
        assert_eq!(bare.attempt, Attempt::ServerError { status: 502, request_id: None });
    }
}
