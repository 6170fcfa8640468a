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
//! the secret is still being read, and the loopback client gets a placeholder key store of its own. With an HTTP
//! proxy in the environment (reqwest honours `HTTP_PROXY` / `ALL_PROXY`, also for 127.0.0.1 unless `NO_PROXY`
//! names it) the warm-up is skipped, so that it never sends anything off the machine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
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

/// The proxy variables reqwest reads from the environment for `http://` URLs.
const PROXY_VARIABLES: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/// What the warm-up achieved (for the init log line and the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmedCalls(pub usize);

/// Runs the calls both functions make on a warm path — get inquiry, generate a one-time link, resume — through
/// `http` against the loopback responder. Returns how many succeeded; never fails, never takes over `budget`.
pub async fn warm_request_path(http: &reqwest::Client, persona_version: &str, budget: Duration) -> WarmedCalls {
    if proxied(|name| std::env::var_os(name)) {
        return WarmedCalls(0);
    }
    // Counted as the calls succeed, so a budget that runs out mid-way still reports what was done. (An atomic, not a
    // `Cell`: init's future stays `Send`.)
    let warmed = AtomicUsize::new(0);
    let _ = tokio::time::timeout(budget, calls(http, persona_version, budget, &warmed)).await;
    WarmedCalls(warmed.load(Ordering::Relaxed))
}

/// Whether reqwest would send an `http://127.0.0.1` request through a proxy taken from the environment (`lookup`).
/// `HTTPS_PROXY` applies to `https://` only; an empty value is unset.
fn proxied(lookup: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    PROXY_VARIABLES.iter().any(|name| lookup(name).is_some_and(|value| !value.is_empty()))
}

/// Aborts the responder (its listener, its connections) however the warm-up ends, its budget running out included.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn calls(http: &reqwest::Client, persona_version: &str, budget: Duration, warmed: &AtomicUsize) {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0").await else { return };
    let Ok(addr) = listener.local_addr() else { return };
    let Ok(base_url) = Url::parse(&format!("http://{addr}/api/v1/")) else { return };
    let Ok(id) = InquiryId::parse(SAMPLE_INQUIRY_ID) else { return };
    let _responder = AbortOnDrop(tokio::spawn(async move {
        // The client's pool keeps one connection for the three calls; any other is served too. Aborting this task
        // drops the set, which aborts the connections' tasks.
        let mut connections = JoinSet::new();
        while let Ok((socket, _)) = listener.accept().await {
            connections.spawn(answer(socket));
        }
    }));
    let keys = KeyStore::fixed(ApiKey::new("warm-up".into()));
    // One attempt per call: a loopback call that fails has nothing to retry for, and must stay within the budget.
    let retry = RetryPolicy { max_attempts_per_call: 1, ..RetryPolicy::default() };
    let Ok(client) = PersonaClient::with_http(http.clone(), &base_url, persona_version, keys, retry) else { return };
    let mut inv = Invocation::new("warm-up".into(), Instant::now() + budget);
    let key = |operation| KeySequence::per_invocation(operation, &id, "warm-up");
    let count = |ok: bool| warmed.fetch_add(usize::from(ok), Ordering::Relaxed);
    count(client.get_inquiry(&mut inv, &id).await.is_ok());
    count(client.generate_one_time_link(&mut inv, &id, None, key(Operation::GenerateOneTimeLink)).await.is_ok());
    count(client.resume(&mut inv, &id, key(Operation::Resume)).await.is_ok());
    // Dropping the responder here closes the loopback connection, so the pool drops it instead of keeping it idle.
}

/// Serves HTTP/1.1 requests on `socket` until the client closes it: the sample document for each path. The
/// client sends bodies with `Content-Length`; anything else (a chunked body, `Expect`) gets one answer and a close.
async fn answer(mut socket: TcpStream) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
            if !read_more(&mut socket, &mut buffer).await? {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let header = |wanted: &str| {
            head.lines().find_map(|line| {
                line.split_once(':').filter(|(name, _)| name.trim().eq_ignore_ascii_case(wanted)).map(|(_, v)| v.trim())
            })
        };
        let unexpected = header("transfer-encoding").is_some() || header("expect").is_some();
        let body_length = header("content-length").and_then(|value| value.parse::<usize>().ok()).unwrap_or(0);
        while !unexpected && buffer.len() < head_end + body_length {
            if !read_more(&mut socket, &mut buffer).await? {
                return Ok(());
            }
        }
        buffer.drain(..(head_end + body_length).min(buffer.len()));
        let path = head.split_whitespace().nth(1).unwrap_or_default();
        let document = if path.contains("/generate-one-time-link") {
            sample_with_meta(r#"{"one-time-link": "https://warm-up.invalid/", "one-time-link-short": null}"#)
        } else if path.contains("/resume") {
            sample_with_meta(r#"{"session-token": "warm-up"}"#)
        } else {
            SAMPLE_INQUIRY.to_owned()
        };
        let close = if unexpected { "connection: close\r\n" } else { "" };
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: warm-up\r\n{close}\r\n{document}",
            document.len()
        );
        socket.write_all(response.as_bytes()).await?;
        if unexpected {
            return Ok(());
        }
    }
}

/// Appends what the socket has to `buffer`; false once the client closed it.
async fn read_more(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 2048];
    let read = socket.read(&mut chunk).await?;
    buffer.extend_from_slice(&chunk[..read]);
    Ok(read > 0)
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

    /// The responder on its own: pipelined requests each get their document; a chunked body gets one answer and
    /// a close (it would otherwise be read as the next request).
    #[tokio::test]
    async fn the_responder_answers_pipelined_requests_and_closes_on_a_chunked_body() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(answer(socket));
            }
        });
        let exchange = |request: &'static str| async move {
            let mut socket = TcpStream::connect(addr).await.unwrap();
            socket.write_all(request.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
            let mut answer = String::new();
            socket.read_to_string(&mut answer).await.unwrap();
            answer
        };
        let pipelined = exchange(
            "GET /api/v1/inquiries/inq_WarmUp1 HTTP/1.1\r\nhost: x\r\n\r\n\
             POST /api/v1/inquiries/inq_WarmUp1/resume HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}",
        )
        .await;
        assert_eq!(pipelined.matches("HTTP/1.1 200 OK").count(), 2, "{pipelined}");
        assert!(pipelined.contains("session-token"), "{pipelined}");
        let chunked = exchange(
            "POST /api/v1/inquiries/inq_WarmUp1/resume HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(chunked.matches("HTTP/1.1 200 OK").count(), 1, "{chunked}");
        assert!(chunked.contains("connection: close"), "{chunked}");
    }

    /// With a proxy for `http://` in the environment the warm-up is skipped (reqwest would route even 127.0.0.1
    /// through it). The decision as a table (setting the process's variables in a test would race other tests).
    #[test]
    fn a_proxy_for_plain_http_skips_the_warm_up() {
        let cases: [(&[(&str, &str)], bool); 7] = [
            (&[], false),
            (&[("HTTP_PROXY", "")], false),
            (&[("HTTPS_PROXY", "http://proxy:3128"), ("https_proxy", "http://proxy:3128")], false),
            (&[("HTTP_PROXY", "http://proxy:3128")], true),
            (&[("http_proxy", "http://proxy:3128")], true),
            (&[("ALL_PROXY", "socks5://proxy:1080")], true),
            (&[("all_proxy", "http://proxy:3128"), ("NO_PROXY", "example.com")], true),
        ];
        for (variables, expected) in cases {
            let lookup = |name: &str| variables.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).into());
            assert_eq!(proxied(lookup), expected, "{variables:?}");
        }
    }

    /// Init's future must stay `Send` (a caller may spawn it on a multi-threaded runtime).
    #[test]
    fn the_warm_up_future_is_send() {
        fn send<T: Send>(_: &T) {}
        let http = reqwest::Client::new();
        send(&warm_request_path(&http, "2025-12-08", WARM_UP_BUDGET));
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
