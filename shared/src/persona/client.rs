//! The Persona HTTP client: I/O and nothing else. One `reqwest` client (keep-alive, rustls) built at cold start;
//! every call is versioned, authenticated, retried within the invocation's deadline, and recorded.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::domain::ids::InquiryId;
use crate::ops::secrets::KeyStore;
use crate::persona::calls::{Invocation, UpstreamCall};
use crate::persona::error::UpstreamError;
use crate::persona::idempotency::KeySequence;
use crate::persona::model::{
    CreateInquiry, CreatedDocument, ExpiredDocument, InquiryDocument, InquiryList, OneTimeLinkDocument,
    OneTimeLinkRequest, OneTimeLinkRequestMeta, ResumeDocument,
};
use crate::persona::operation::Operation;
use crate::persona::preconnect::PreDial;
use crate::persona::retry::RetryPolicy;

const USER_AGENT: &str = concat!("persona-resume/", env!("CARGO_PKG_VERSION"));

/// Filters of `GET /inquiries`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub reference_id: Option<&'a str>,
    pub inquiry_template_id: Option<&'a str>,
    /// Comma-separated statuses, e.g. `created,pending,expired`.
    pub statuses: Option<&'a str>,
    pub page_size: u8,
}

pub struct PersonaClient {
    http: reqwest::Client,
    /// Always ends with `/`, so joining keeps its path (`…/api/v1/` + `inquiries`).
    base_url: Url,
    persona_version: HeaderValue,
    keys: KeyStore,
    retry: RetryPolicy,
}

/// A raw answer before parsing.
struct Answer {
    body: bytes::Bytes,
    request_id: Option<String>,
}

impl PersonaClient {
    pub fn new(base_url: &Url, persona_version: &str, keys: KeyStore, retry: RetryPolicy) -> Result<Self, String> {
        Self::with_http(Self::http_client(None)?, base_url, persona_version, keys, retry)
    }

    /// The HTTP client alone: the costly part of [`PersonaClient::new`] (it reads and parses the platform's root
    /// certificates), and blocking, so a cold start can build it on a blocking thread while the secret is read.
    /// With a [`PreDial`], its connector can open the first connection during init (`preconnect.rs`).
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

    /// A client around an HTTP client from [`PersonaClient::http_client`].
    pub fn with_http(
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

    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut().expect("validated http(s) base URL").pop_if_empty().extend(segments);
        url
    }

    /// `GET /inquiries/{id}?include=inquiry-template`
    pub async fn get_inquiry(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
    ) -> Result<InquiryDocument, UpstreamError> {
        let mut url = self.url(&["inquiries", inquiry_id.as_str()]);
        url.query_pairs_mut().append_pair("include", "inquiry-template");
        let answer = self.send(inv, Operation::GetInquiry, Method::GET, url, None, None).await?;
        parse(Operation::GetInquiry, answer)
    }

    /// `GET /inquiries` with filters, newest first (one page).
    pub async fn list_inquiries(
        &self,
        inv: &mut Invocation,
        filter: &ListFilter<'_>,
    ) -> Result<InquiryList, UpstreamError> {
        let mut url = self.url(&["inquiries"]);
        {
            let mut query = url.query_pairs_mut();
            if let Some(reference_id) = filter.reference_id {
                query.append_pair("filter[reference-id]", reference_id);
            }
            if let Some(template_id) = filter.inquiry_template_id {
                query.append_pair("filter[inquiry-template-id]", template_id);
            }
            if let Some(statuses) = filter.statuses {
                query.append_pair("filter[status]", statuses);
            }
            query.append_pair("page[size]", &filter.page_size.clamp(1, 100).to_string());
        }
        let answer = self.send(inv, Operation::ListInquiries, Method::GET, url, None, None).await?;
        parse(Operation::ListInquiries, answer)
    }

    /// `POST /inquiries/{id}/resume` — no request body (the spec defines none).
    pub async fn resume(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
        keys: KeySequence,
    ) -> Result<ResumeDocument, UpstreamError> {
        let url = self.url(&["inquiries", inquiry_id.as_str(), "resume"]);
        let answer = self.send(inv, Operation::Resume, Method::POST, url, None, Some(keys)).await?;
        parse(Operation::Resume, answer)
    }

    /// `POST /inquiries/{id}/generate-one-time-link`, with a body only when an expiry is chosen.
    pub async fn generate_one_time_link(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
        expires_in_seconds: Option<u32>,
        keys: KeySequence,
    ) -> Result<OneTimeLinkDocument, UpstreamError> {
        let url = self.url(&["inquiries", inquiry_id.as_str(), "generate-one-time-link"]);
        let body = expires_in_seconds
            .map(|seconds| OneTimeLinkRequest { meta: OneTimeLinkRequestMeta { expires_in_seconds: seconds } });
        let body = body.map(|b| serde_json::to_vec(&b).expect("plain struct serializes"));
        let answer = self.send(inv, Operation::GenerateOneTimeLink, Method::POST, url, body, Some(keys)).await?;
        parse(Operation::GenerateOneTimeLink, answer)
    }

    /// `POST /inquiries`
    pub async fn create_inquiry(
        &self,
        inv: &mut Invocation,
        body: &CreateInquiry,
        keys: KeySequence,
    ) -> Result<CreatedDocument, UpstreamError> {
        let url = self.url(&["inquiries"]);
        let body = serde_json::to_vec(body).expect("plain struct serializes");
        let answer = self.send(inv, Operation::CreateInquiry, Method::POST, url, Some(body), Some(keys)).await?;
        parse(Operation::CreateInquiry, answer)
    }

    /// `POST /inquiries/{id}/expire`
    pub async fn expire_inquiry(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
        keys: KeySequence,
    ) -> Result<ExpiredDocument, UpstreamError> {
        let url = self.url(&["inquiries", inquiry_id.as_str(), "expire"]);
        let answer = self.send(inv, Operation::Expire, Method::POST, url, None, Some(keys)).await?;
        parse(Operation::Expire, answer)
    }

    /// Sends one logical call, retrying within the invocation's deadline:
    /// - no answer (timeout, connection error): same idempotency key, after a backoff;
    /// - 5xx: Persona would replay it to the same key, so the next key of the sequence, after a backoff (a 5xx
    ///   without Persona's `Request-Id` is first retried with the same key);
    /// - 429: wait for `RateLimit-Reset` when that fits before the deadline, else give up with its value;
    /// - 401: re-read the secret once (rotation) and retry at once if the key changed.
    async fn send(
        &self,
        inv: &mut Invocation,
        operation: Operation,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        mut keys: Option<KeySequence>,
    ) -> Result<Answer, UpstreamError> {
        let mut attempt: u32 = 0;
        let mut reread_key = false;
        let mut anonymous_5xx_on_key = false;
        let mut last_failure = UpstreamError::Timeout;
        loop {
            attempt += 1;
            let remaining = inv.remaining();
            if remaining < self.retry.min_attempt_time || inv.calls.len() >= self.retry.max_requests_per_invocation {
                return Err(last_failure);
            }
            let api_key = self.keys.current();
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(api_key.expose())
                .header("Persona-Version", self.persona_version.clone())
                .header(ACCEPT, "application/json");
            if let Some(keys) = &keys {
                request = request.header("Idempotency-Key", keys.current());
            }
            if let Some(body) = &body {
                request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
            }

            let started = Instant::now();
            let outcome = tokio::time::timeout(remaining.min(self.retry.attempt_timeout), async {
                let response = request.send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            })
            .await;
            let duration = started.elapsed();

            let answer = match outcome {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(error)) => {
                    Err(UpstreamError::Unavailable { detail: describe_transport_error(&error), request_id: None })
                }
                Err(_elapsed) => Err(UpstreamError::Timeout),
            };
            let (status, headers, body_bytes) = match answer {
                Ok(answer) => answer,
                // A lost answer (timeout, connection error): the same key is retried.
                Err(failure) => {
                    inv.record(UpstreamCall { operation, status: None, duration, request_id: None });
                    tracing::warn!(
                        operation = operation.as_str(),
                        attempt,
                        elapsed_ms = duration.as_millis() as u64,
                        error = %failure,
                        "persona call got no answer"
                    );
                    last_failure = failure;
                    if !self.pause_before_retry(inv, attempt, None).await {
                        return Err(last_failure);
                    }
                    continue;
                }
            };

            let request_id = header_str(&headers, "request-id").map(str::to_owned);
            inv.record(UpstreamCall {
                operation,
                status: Some(status.as_u16()),
                duration,
                request_id: request_id.clone(),
            });
            tracing::debug!(
                operation = operation.as_str(),
                attempt,
                status = status.as_u16(),
                elapsed_ms = duration.as_millis() as u64,
                persona_request_id = request_id.as_deref(),
                "persona call"
            );

            if status.is_success() {
                return Ok(Answer { body: body_bytes, request_id });
            }
            match status {
                StatusCode::UNAUTHORIZED if !reread_key => {
                    reread_key = true;
                    match self.keys.reread_after_rejection(&api_key).await {
                        Ok(true) => {
                            tracing::warn!(
                                operation = operation.as_str(),
                                "persona rejected the API key; retrying with the rotated key"
                            );
                            continue;
                        }
                        Ok(false) => {}
                        Err(error) => {
                            tracing::error!(operation = operation.as_str(), error = %error, "could not re-read the Persona API key")
                        }
                    }
                    return Err(self.unauthorized(operation, status, request_id));
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(self.unauthorized(operation, status, request_id));
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let reset = rate_limit_reset(&headers);
                    last_failure = UpstreamError::RateLimited {
                        retry_after_seconds: reset.map_or(1, |r| r.as_secs().max(1)),
                        request_id,
                    };
                    tracing::warn!(
                        operation = operation.as_str(),
                        attempt,
                        reset_s = reset.map(|r| r.as_secs()),
                        "persona rate limited"
                    );
                    // 429 answers are never stored under the key: retry the same one.
                    if !self.pause_before_retry(inv, attempt, reset).await {
                        return Err(last_failure);
                    }
                }
                _ if status.is_server_error() => {
                    tracing::warn!(
                        operation = operation.as_str(),
                        attempt,
                        status = status.as_u16(),
                        "persona server error"
                    );
                    // Persona stores a 5xx under the key and stamps it with a Request-Id: the next key of the
                    // sequence is needed. A 5xx without one came from something in front of Persona (a proxy or
                    // load balancer that lost the answer) and may hide a committed request: it is retried once
                    // with the same key, like a lost answer; a second one moves on.
                    let stored_by_persona = request_id.is_some();
                    last_failure = UpstreamError::Unavailable {
                        detail: format!("{operation}: Persona answered {status}"),
                        request_id,
                    };
                    if let Some(keys) = keys.as_mut() {
                        if stored_by_persona || anonymous_5xx_on_key {
                            keys.advance();
                            anonymous_5xx_on_key = false;
                        } else {
                            anonymous_5xx_on_key = true;
                        }
                    }
                    if !self.pause_before_retry(inv, attempt, None).await {
                        return Err(last_failure);
                    }
                }
                _ => return Err(UpstreamError::Rejected { status: status.as_u16(), request_id }),
            }
        }
    }

    fn unauthorized(&self, operation: Operation, status: StatusCode, request_id: Option<String>) -> UpstreamError {
        tracing::error!(
            operation = operation.as_str(),
            status = status.as_u16(),
            persona_request_id = request_id.as_deref(),
            key_source = %self.keys.describe(),
            "Persona refused the API key: check that the key in {} is valid for this environment and rotate it if needed",
            self.keys.describe()
        );
        UpstreamError::Unauthorized { status: status.as_u16(), request_id }
    }

    /// Sleeps before the next attempt when one more fits; false when the call should give up now.
    async fn pause_before_retry(&self, inv: &Invocation, attempt: u32, wait_at_least: Option<Duration>) -> bool {
        if attempt >= self.retry.max_attempts_per_call {
            return false;
        }
        let jitter = self.retry.backoff(attempt, fastrand::f64());
        let wait = match wait_at_least {
            // Spread the clients that all saw the same reset a little.
            Some(reset) => reset + jitter / 4,
            None => jitter,
        };
        if wait + self.retry.min_attempt_time > inv.remaining() {
            return false;
        }
        tokio::time::sleep(wait).await;
        true
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|value| !value.is_empty())
}

/// `RateLimit-Reset`: seconds until the window resets.
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
fn parse<T: DeserializeOwned>(operation: Operation, answer: Answer) -> Result<T, UpstreamError> {
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
