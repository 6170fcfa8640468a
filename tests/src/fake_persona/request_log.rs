//! The record of every Persona request the fake saw (control requests are not recorded).

use serde::{Deserialize, Serialize};

use super::model::Endpoint;
use super::util::Millis;

/// One request and what the fake did with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// 1, 2, 3… in arrival order (kept across [`super::FakePersona::clear_requests`]).
    pub seq: u64,
    pub received_at: Millis,
    pub method: String,
    /// As requested (an `/api/v1` prefix is kept).
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The operation it was routed to (`None`: no such route, or refused before routing).
    pub endpoint: Option<Endpoint>,
    pub idempotency_key: Option<String>,
    pub persona_version: Option<String>,
    /// Whether the bearer key was accepted.
    pub authorized: bool,
    /// The request body (lossy UTF-8), `None` when empty.
    pub body: Option<String>,
    /// The status answered; `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
    /// The `Request-Id` answered (none on 401s and drops).
    pub request_id: Option<String>,
    /// The injected fault, if one hit this request.
    pub fault: Option<String>,
    /// Answered from the idempotency store.
    pub replayed: bool,
    /// The answer carried an account object with personal data (name, address, birthdate…).
    #[serde(default)]
    pub personal_data: bool,
    /// Time the fake spent on this request, injected delays included, microseconds.
    pub duration_us: u64,
}

impl RequestRecord {
    /// The decoded query pairs, in order (`filter[reference-id]` → its value).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes()).into_owned().collect()
    }

    /// The decoded value of one query parameter (the first one of that name).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}
