//! The client's request path run once during init, over loopback (issue #14, "first-use costs"): the first real
//! call then finds reqwest's and hyper's request, pool and connection code, our transport, retry and call log,
//! and the document models already run (paged in, caches and allocator warm) instead of paying for them at the
//! CPU share of a small Lambda. Measured: bench/optimisations.md, "First-use costs".
//!
//! The requests go to a responder on 127.0.0.1 inside this process, answering Persona-shaped sample documents;
//! nothing is sent to Persona (no log entry there, no rate-limit budget). It runs through the same
//! `reqwest::Client` as the real calls, before the pre-dial ([`super::preconnect`]): that layer hands its kept
//! connection to the *next* connect, whatever its host, so nothing may connect between the dial and the first call.
//! Best effort, bounded by its own budget: a failure only means the first call warms the code itself (a call
//! that fails logs as any call would, with `lambda_request_id` "warm-up"). The real API key is never used here:
//! the secret is still being read, and the loopback client gets a placeholder key store of its own.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::app::port::PersonaPort;
use crate::domain::ids::InquiryId;
use crate::ops::secrets::{ApiKey, KeyStore};
use crate::persona::calls::Invocation;
use crate::persona::idempotency::KeySequence;
use crate::persona::retry::RetryPolicy;
use crate::persona::{Operation, PersonaClient};

/// Longest the warm-up may take: at init's full CPU it takes about a millisecond.
pub const WARM_UP_BUDGET: Duration = Duration::from_millis(100);

/// The sample inquiry's id, in the documents below.
pub const SAMPLE_INQUIRY_ID: &str = "inq_WarmUp1";

/// A Persona answer in the shape of its own examples (empty identifier objects included).
pub const SAMPLE_INQUIRY: &str = r#"{"data": {"type": "inquiry", "id": "inq_WarmUp1",
  "attributes": {"status": "pending", "reference-id": "warm-up", "redacted-at": null},
  "relationships": {"account": {"data": {"type": "account", "id": "act_WarmUp1"}}, "template": {"data": {}},
    "reviewer": {"data": {}}, "inquiry-template": {"data": {"type": "inquiry-template", "id": "itmpl_WarmUp1"}},
    "inquiry-template-version": {"data": {"type": "inquiry-template-version", "id": "itmplv_WarmUp1"}}}},
  "included": [{"type": "inquiry-template", "id": "itmpl_WarmUp1", "attributes": {},
    "relationships": {"latest-published-version": {"data": {"type": "inquiry-template-version", "id": "itmplv_WarmUp1"}}}},
    {"type": "account", "id": "act_WarmUp1", "attributes": {"reference-id": "warm-up"}}]}"#;

/// The sample inquiry with `meta` (resume: a session token; link: a one-time link) in place of `included`.
pub fn sample_with_meta(meta: &str) -> String {
    let cut = SAMPLE_INQUIRY.find(r#""included""#).unwrap_or(SAMPLE_INQUIRY.len() - 1);
    format!("{}\"meta\": {meta}}}", &SAMPLE_INQUIRY[..cut])
}

/// What the warm-up achieved (for the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmedCalls(pub usize);

/// Runs the calls both functions make on a warm path — get inquiry, generate a one-time link, resume — through
/// `http` against the loopback responder. Returns how many succeeded; never fails, never takes over `budget`.
pub async fn warm_request_path(http: &reqwest::Client, persona_version: &str, budget: Duration) -> WarmedCalls {
    tokio::time::timeout(budget, calls(http, persona_version, budget)).await.unwrap_or(WarmedCalls(0))
}

async fn calls(http: &reqwest::Client, persona_version: &str, budget: Duration) -> WarmedCalls {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0").await else { return WarmedCalls(0) };
    let Ok(addr) = listener.local_addr() else { return WarmedCalls(0) };
    let Ok(base_url) = Url::parse(&format!("http://{addr}/api/v1/")) else { return WarmedCalls(0) };
    let Ok(id) = InquiryId::parse(SAMPLE_INQUIRY_ID) else { return WarmedCalls(0) };
    let responder = tokio::spawn(async move {
        // One connection: the client's pool keeps it for the three calls.
        if let Ok((socket, _)) = listener.accept().await {
            let _ = answer(socket).await;
        }
    });
    let keys = KeyStore::fixed(ApiKey::new("warm-up".into()));
    let Ok(client) = PersonaClient::with_http(http.clone(), &base_url, persona_version, keys, RetryPolicy::default())
    else {
        responder.abort();
        return WarmedCalls(0);
    };
    let mut inv = Invocation::new("warm-up".into(), Instant::now() + budget);
    let key = |operation| KeySequence::per_invocation(operation, &id, "warm-up");
    let mut warmed = 0;
    warmed += usize::from(client.get_inquiry(&mut inv, &id).await.is_ok());
    let link = client.generate_one_time_link(&mut inv, &id, None, key(Operation::GenerateOneTimeLink)).await;
    warmed += usize::from(link.is_ok());
    warmed += usize::from(client.resume(&mut inv, &id, key(Operation::Resume)).await.is_ok());
    // Closing our end of the loopback connection: the pool drops it instead of keeping it idle.
    drop(client);
    responder.abort();
    WarmedCalls(warmed)
}

/// Serves HTTP/1.1 requests on `socket` until the client closes it: the sample document for each path.
async fn answer(mut socket: TcpStream) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 2048];
            let read = socket.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let body_length = head
            .lines()
            .find_map(|line| line.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("content-length")))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + body_length {
            let mut chunk = [0u8; 2048];
            let read = socket.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..read]);
        }
        buffer.drain(..head_end + body_length);
        let path = head.split_whitespace().nth(1).unwrap_or_default();
        let document = if path.contains("/generate-one-time-link") {
            sample_with_meta(r#"{"one-time-link": "https://warm-up.invalid/", "one-time-link-short": null}"#)
        } else if path.contains("/resume") {
            sample_with_meta(r#"{"session-token": "warm-up"}"#)
        } else {
            SAMPLE_INQUIRY.to_owned()
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: warm-up\r\n\r\n{document}",
            document.len()
        );
        socket.write_all(response.as_bytes()).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::model::{InquiryDocument, OneTimeLinkDocument, ResumeDocument};
    use crate::persona::preconnect::PreDial;

    #[test]
    fn the_samples_are_the_documents_the_client_expects() {
        let inquiry: InquiryDocument = serde_json::from_str(SAMPLE_INQUIRY).unwrap();
        assert_eq!(inquiry.data.id.as_str(), SAMPLE_INQUIRY_ID);
        let link = sample_with_meta(r#"{"one-time-link": "https://warm-up.invalid/"}"#);
        assert!(serde_json::from_str::<OneTimeLinkDocument>(&link).is_ok(), "{link}");
        let resumed = sample_with_meta(r#"{"session-token": "warm-up"}"#);
        assert!(serde_json::from_str::<ResumeDocument>(&resumed).is_ok(), "{resumed}");
    }

    /// All three calls succeed through the functions' own HTTP client (with the pre-dial layer), in budget, and
    /// leave the layer as they found it: nothing kept, so the dial that follows keeps Persona's connection.
    #[tokio::test]
    async fn every_call_of_the_warm_path_succeeds_over_loopback() {
        let predial = PreDial::new();
        let http = PersonaClient::http_client(Some(&predial)).unwrap();
        let started = Instant::now();
        assert_eq!(warm_request_path(&http, "2025-12-08", WARM_UP_BUDGET).await, WarmedCalls(3));
        assert!(started.elapsed() < WARM_UP_BUDGET);
        assert!(!predial.is_holding());
    }

    /// A budget too short to finish gives up quietly.
    #[tokio::test]
    async fn an_exhausted_budget_gives_up_quietly() {
        let http = PersonaClient::http_client(None).unwrap();
        let started = Instant::now();
        let warmed = warm_request_path(&http, "2025-12-08", Duration::from_nanos(1)).await;
        assert!(warmed.0 < 3);
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
