//! The connection to Persona opened during init, without an API request (issue #14).
//!
//! At the CPU share of a 128 MB Lambda the first request's TCP + TLS handshake costs ten times a warm call. Init
//! runs at full CPU, so the handshake belongs there. reqwest has no "pre-connect", and its connector's request
//! type is sealed, so the only way to reach the real connector (DNS, TCP, TLS, the client's own roots and ALPN) is
//! a request. Hence a tower layer over the connector ([`PreDial::layer`], via `ClientBuilder::connector_layer`):
//! - [`PreDial::dial`] sends one request at init while the layer is *catching*; the layer lets that request's
//!   connect run, keeps the established connection and fails the connect, so hyper writes no byte of HTTP
//!   (nothing reaches Persona: no log entry, no rate-limit budget);
//! - the next connect (the first real call) gets the kept connection instead of dialing, and hyper pools it as
//!   usual afterwards.
//!
//! Alternatives rejected: a real request at init (spends Persona's budget, visible to Prism); a hand-made
//! rustls session (reqwest cannot adopt it); our own hyper client (drops reqwest, which the mission names).
//!
//! Never worse than without it: the dial has its own short budget; a failed or late dial leaves nothing kept and
//! the first call dials as before; a kept connection that is too old, or that the server closed while Lambda
//! froze us (EOF or unexpected bytes on a non-blocking read), is dropped at hand-over and a fresh one is dialed —
//! before any byte of the request is written, so it is not a retry and cannot create twice.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use url::Url;

/// Longest a pre-dial may run during init. Resolving, connecting and a TLS handshake at init's full CPU take
/// tens of milliseconds to a nearby region; a dial slower than this is abandoned (the first call dials instead).
pub const DIAL_BUDGET: Duration = Duration::from_millis(300);

/// A kept connection older than this is not handed over: it matches the client's `pool_idle_timeout`, so the
/// pre-dialed connection is never trusted longer than a pooled one would be.
pub const MAX_KEPT_AGE: Duration = Duration::from_secs(50);

/// Error of the init-time request's connect once its connection is kept. Never seen by a caller.
#[derive(Debug, thiserror::Error)]
#[error("connection kept for the first call")]
pub struct Kept;

enum Slot {
    /// Connects pass through (before a dial, after a dial failed, after the kept connection was used).
    Pass,
    /// The next connect is the init-time dial: keep its connection.
    Catching,
    /// The dial's connect is under way; other connects (none are expected) pass through.
    Dialing,
    /// A connection for the next connect.
    Holding { conn: Box<dyn Any + Send>, since: Instant },
}

/// Shared by the layer inside the client and the code that dials at init.
#[derive(Clone)]
pub struct PreDial {
    slot: Arc<Mutex<Slot>>,
}

/// What a dial achieved (for the init log line and the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialOutcome {
    /// A connection is held for the first call.
    Kept,
    /// The connect failed (DNS, refused, TLS): the first call dials.
    Failed,
    /// The budget ran out: the dial was abandoned.
    TimedOut,
    /// Not done: state built without it (tests feeding events straight into the handler).
    Off,
}

impl DialOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kept => "kept",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Off => "off",
        }
    }
}

impl Default for PreDial {
    fn default() -> Self {
        Self::new()
    }
}

impl PreDial {
    pub fn new() -> Self {
        Self { slot: Arc::new(Mutex::new(Slot::Pass)) }
    }

    /// The tower layer to give `reqwest::ClientBuilder::connector_layer`.
    pub fn layer(&self) -> PreDialLayer {
        PreDialLayer { slot: self.slot.clone() }
    }

    /// Opens the connection to `base_url`'s host through `http` (a client built with [`PreDial::layer`]) and
    /// keeps it for the next request. Sends nothing to the server; takes at most `budget`.
    pub async fn dial(&self, http: &reqwest::Client, base_url: &Url, budget: Duration) -> DialOutcome {
        *self.lock() = Slot::Catching;
        // The method and path are never sent: the connect fails once the connection is kept.
        let attempt = tokio::time::timeout(budget, http.head(base_url.clone()).send()).await;
        let mut slot = self.lock();
        let outcome = match (&*slot, attempt) {
            (Slot::Holding { .. }, _) => DialOutcome::Kept,
            (_, Err(_elapsed)) => DialOutcome::TimedOut,
            (_, Ok(_)) => DialOutcome::Failed,
        };
        if matches!(*slot, Slot::Catching | Slot::Dialing) {
            *slot = Slot::Pass;
        }
        outcome
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        lock(&self.slot)
    }
}

fn lock(slot: &Mutex<Slot>) -> std::sync::MutexGuard<'_, Slot> {
    // The slot holds no invariant a panic could break halfway.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone)]
pub struct PreDialLayer {
    slot: Arc<Mutex<Slot>>,
}

impl<S> tower_layer::Layer<S> for PreDialLayer {
    type Service = PreDialService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PreDialService { inner, slot: self.slot.clone() }
    }
}

/// The connector wrapped by [`PreDialLayer`]. Generic over reqwest's sealed request and connection types.
#[derive(Clone)]
pub struct PreDialService<S> {
    inner: S,
    slot: Arc<Mutex<Slot>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, Req> tower_service::Service<Req> for PreDialService<S>
where
    S: tower_service::Service<Req>,
    S::Future: Send + 'static,
    S::Response: hyper::rt::Read + Unpin + Send + 'static,
    S::Error: From<Kept> + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // Which connect is the dial's is decided when it starts, not when it finishes: a connect hyper started
        // earlier (a pool race) and finishing during the dial is never kept.
        let (taken, catch) = {
            let mut slot = lock(&self.slot);
            match std::mem::replace(&mut *slot, Slot::Pass) {
                Slot::Holding { conn, since } => (conn.downcast::<S::Response>().ok().map(|conn| (*conn, since)), false),
                Slot::Catching => {
                    *slot = Slot::Dialing;
                    (None, true)
                }
                Slot::Dialing => {
                    *slot = Slot::Dialing;
                    (None, false)
                }
                Slot::Pass => (None, false),
            }
        };
        if let Some((mut conn, since)) = taken {
            if since.elapsed() < MAX_KEPT_AGE && is_open(&mut conn) {
                return Box::pin(async move { Ok(conn) });
            }
            // Too old, or closed while we were frozen: dial afresh, nothing was written on it.
        }
        let slot = self.slot.clone();
        let connect = self.inner.call(request);
        Box::pin(async move {
            let conn = connect.await?;
            let mut slot = lock(&slot);
            if catch && matches!(*slot, Slot::Dialing) {
                *slot = Slot::Holding { conn: Box::new(conn), since: Instant::now() };
                return Err(Kept.into());
            }
            Ok(conn)
        })
    }
}

/// Whether an idle connection is still usable: a non-blocking read must find nothing to read. EOF, an error
/// (a TLS close alert, a reset) or unsolicited bytes mean the server is done with it. TLS 1.3 session tickets
/// are consumed by rustls inside the read and leave it pending.
fn is_open<C: hyper::rt::Read + Unpin>(conn: &mut C) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    let mut buf = hyper::rt::ReadBuf::uninit(&mut byte);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    Pin::new(conn).poll_read(&mut cx, buf.unfilled()).is_pending()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn is_holding(predial: &PreDial) -> bool {
        matches!(*predial.lock(), Slot::Holding { .. })
    }

    fn client(predial: &PreDial) -> reqwest::Client {
        reqwest::Client::builder().connector_layer(predial.layer()).build().unwrap()
    }

    /// A plain-HTTP server that answers every request with 204 and counts connections and requests.
    async fn server(close_first_after: Option<Duration>) -> (Url, Arc<Mutex<(usize, usize)>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/api/v1/", listener.local_addr().unwrap())).unwrap();
        let counts = Arc::new(Mutex::new((0, 0)));
        let seen = counts.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let first = {
                    let mut counts = seen.lock().unwrap();
                    counts.0 += 1;
                    counts.0 == 1
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    if let (true, Some(after)) = (first, close_first_after) {
                        tokio::time::sleep(after).await;
                        return;
                    }
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        seen.lock().unwrap().1 += 1;
                        let answer = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
                        if socket.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, counts)
    }

    #[tokio::test]
    async fn the_kept_connection_serves_the_first_call_and_the_dial_sends_nothing() {
        let (url, counts) = server(None).await;
        let predial = PreDial::new();
        let http = client(&predial);
        assert_eq!(predial.dial(&http, &url, DIAL_BUDGET).await, DialOutcome::Kept);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*counts.lock().unwrap(), (1, 0), "one connection, no request");
        assert_eq!(http.get(url.clone()).send().await.unwrap().status(), 204);
        assert_eq!(http.get(url).send().await.unwrap().status(), 204);
        assert_eq!(*counts.lock().unwrap(), (1, 2), "both calls on the pre-dialed connection");
    }

    #[tokio::test]
    async fn a_refused_dial_keeps_nothing_and_the_first_call_dials() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let predial = PreDial::new();
        let http = client(&predial);
        assert_eq!(predial.dial(&http, &url, DIAL_BUDGET).await, DialOutcome::Failed);
        assert!(!is_holding(&predial));
        // Later connects pass through (and fail here as they would without the layer).
        assert!(http.get(url).send().await.unwrap_err().is_connect());
    }

    #[tokio::test]
    async fn a_slow_dial_is_abandoned_within_its_budget() {
        // A listener that accepts TCP (the kernel does) but never answers the TLS ClientHello.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("https://{}/", listener.local_addr().unwrap())).unwrap();
        let predial = PreDial::new();
        let http = client(&predial);
        let started = Instant::now();
        assert_eq!(predial.dial(&http, &url, Duration::from_millis(100)).await, DialOutcome::TimedOut);
        assert!(started.elapsed() < Duration::from_millis(600), "{:?}", started.elapsed());
        assert!(!is_holding(&predial));
        drop(listener);
    }

    #[tokio::test]
    async fn a_connection_closed_while_frozen_is_replaced_before_anything_is_written() {
        let (url, counts) = server(Some(Duration::ZERO)).await;
        let predial = PreDial::new();
        let http = client(&predial);
        assert_eq!(predial.dial(&http, &url, DIAL_BUDGET).await, DialOutcome::Kept);
        tokio::time::sleep(Duration::from_millis(50)).await; // the server closes the first connection meanwhile
        assert_eq!(http.get(url).send().await.unwrap().status(), 204);
        assert_eq!(*counts.lock().unwrap(), (2, 1), "one reconnect, one request");
    }

    #[tokio::test]
    async fn without_a_dial_the_layer_passes_connects_through() {
        let (url, counts) = server(None).await;
        let predial = PreDial::new();
        let http = client(&predial);
        assert_eq!(http.get(url).send().await.unwrap().status(), 204);
        assert_eq!(*counts.lock().unwrap(), (1, 1));
    }

    /// A connection that is always open and idle.
    #[derive(Debug)]
    struct IdleConn(u32);

    impl hyper::rt::Read for IdleConn {
        fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: hyper::rt::ReadBufCursor<'_>) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }
    }

    /// A connector whose connect `n` finishes when the test sends on its channel.
    struct Gated(Vec<Option<tokio::sync::oneshot::Receiver<()>>>);

    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    impl tower_service::Service<usize> for Gated {
        type Response = IdleConn;
        type Error = BoxError;
        type Future = BoxFuture<Result<IdleConn, BoxError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, n: usize) -> Self::Future {
            let gate = self.0[n].take();
            Box::pin(async move {
                if let Some(gate) = gate {
                    let _ = gate.await;
                }
                Ok(IdleConn(n as u32))
            })
        }
    }

    /// A connect that started before the dial and finishes during it (hyper may race a pool checkout against a
    /// connect) is passed through, not kept: only the connect that started while catching is the dial's.
    #[tokio::test]
    async fn only_the_connect_started_by_the_dial_is_kept() {
        use tower_layer::Layer;
        use tower_service::Service;
        let predial = PreDial::new();
        let (gates, receivers): (Vec<_>, Vec<_>) = (0..3).map(|_| tokio::sync::oneshot::channel()).unzip();
        let mut connector = predial.layer().layer(Gated(receivers.into_iter().map(Some).collect()));
        let earlier = tokio::spawn(connector.call(0));
        *predial.lock() = Slot::Catching;
        let dial = tokio::spawn(connector.call(1));
        let mut gates = gates.into_iter();
        gates.next().unwrap().send(()).unwrap();
        assert_eq!(earlier.await.unwrap().unwrap().0, 0, "the earlier connect is its caller's");
        assert!(!is_holding(&predial));
        gates.next().unwrap().send(()).unwrap();
        assert!(dial.await.unwrap().unwrap_err().is::<Kept>(), "the dial's connect is kept");
        assert!(is_holding(&predial));
        assert_eq!(connector.call(2).await.unwrap().0, 1, "the next connect gets the kept connection");
    }
}
