//! Helpers for the fault, load and abuse tests (`the binaries' fault and hostile tests, and the load test`): invoke a function binary
//! with a deadline of the test's choosing and read back its invocation log line, and a TCP proxy that cuts a
//! Persona answer in the middle (something the fake itself can't do: its drops happen before the first byte).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::rig::{Answer, Deployment, Function};
use crate::runtime_api::{FunctionProcess, InvokeOutcome, InvokeResult};

/// One invocation of a function binary, with what it logged about itself.
#[derive(Debug, Clone)]
pub struct Invoked {
    pub answer: Answer,
    pub outcome: InvokeOutcome,
    /// The function's `"message": "invocation"` log line (fields flattened), if it wrote one.
    pub log: Option<Value>,
    /// From the `invoke` call to the answer, as the caller saw it.
    pub elapsed: Duration,
}

impl Invoked {
    /// `upstream_calls` of the invocation log line.
    pub fn upstream_calls(&self) -> Option<u64> {
        self.log.as_ref()?.get("upstream_calls")?.as_u64()
    }
}

/// The process serving `endpoint` in a deployment of the release binaries.
pub fn process(deployment: &Deployment, function: Function) -> &FunctionProcess {
    deployment.process(function).expect("this helper needs the release binaries (Rig::binaries)")
}

/// Invokes `process` with `event`, telling it the deadline is `deadline` from the hand-off (Lambda's
/// `Lambda-Runtime-Deadline-Ms`), and waits for its invocation log line. Fails when the function posted no
/// response (an invocation error, a crash or a timeout are all failures here: API Gateway would answer 5xx).
pub async fn invoke_with_deadline(process: &FunctionProcess, event: Value, deadline: Duration) -> Result<Invoked> {
    let started = Instant::now();
    let outcome = process.invoke(event, deadline).await?;
    let elapsed = started.elapsed();
    let http = match &outcome.result {
        InvokeResult::Response(_) => outcome.http()?,
        other => return Err(format!("no HTTP answer: {other:?}").into()),
    };
    let headers = http.headers.iter().filter_map(|(k, v)| Some((k.clone(), v.first()?.clone()))).collect();
    let body = if http.body.is_empty() { Value::Null } else { http.json()? };
    let answer = Answer { status: http.status, headers, body };
    // Wait for the invocation line itself: mid-invocation warn lines mention the request id too.
    let is_invocation_line = |line: &Value| {
        line.get("message").and_then(Value::as_str) == Some("invocation")
            && line.to_string().contains(&outcome.request_id)
    };
    let log = process.wait_for_json_log(is_invocation_line, Duration::from_secs(2)).await;
    Ok(Invoked { answer, outcome, log, elapsed })
}

/// A TCP proxy in front of Persona (the fake) that cuts answers short: when a request's head contains `needle`
/// and cuts are left, the answer to it is forwarded only up to its first `keep` bytes, then both connections are
/// closed — a connection dropped mid-response. Everything else passes through. Stops when dropped.
pub struct CuttingProxy {
    addr: std::net::SocketAddr,
    cuts_left: Arc<AtomicUsize>,
    cuts_done: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl CuttingProxy {
    pub async fn start(upstream: std::net::SocketAddr, needle: &str, keep: usize) -> Result<CuttingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let cuts_left = Arc::new(AtomicUsize::new(0));
        let cuts_done = Arc::new(AtomicUsize::new(0));
        let needle = needle.as_bytes().to_vec();
        let (left, done) = (cuts_left.clone(), cuts_done.clone());
        let accept = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let (needle, left, done) = (needle.clone(), left.clone(), done.clone());
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        let _ = pipe(client, server, &needle, keep, &left, &done).await;
                    }
                });
            }
        });
        Ok(CuttingProxy { addr, cuts_left, cuts_done, accept })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cut the next `count` matching answers.
    pub fn arm(&self, count: usize) {
        self.cuts_left.store(count, Ordering::SeqCst);
    }

    /// How many answers were cut so far.
    pub fn cuts_done(&self) -> usize {
        self.cuts_done.load(Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every open connection.
        self.accept.abort();
    }
}

/// Shuttles one keep-alive connection; requests are small and arrive whole, so each read is one request head.
async fn pipe(
    mut client: TcpStream,
    mut server: TcpStream,
    needle: &[u8],
    keep: usize,
    cuts_left: &AtomicUsize,
    cuts_done: &AtomicUsize,
) -> std::io::Result<()> {
    let mut request = vec![0u8; 64 * 1024];
    let mut answer = vec![0u8; 64 * 1024];
    let mut cut_next = false;
    loop {
        tokio::select! {
            read = client.read(&mut request) => {
                let n = read?;
                if n == 0 {
                    return Ok(());
                }
                let matches = request[..n].windows(needle.len()).any(|w| w == needle);
                if matches && cuts_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| c.checked_sub(1)).is_ok() {
                    cut_next = true;
                }
                server.write_all(&request[..n]).await?;
            }
            read = server.read(&mut answer) => {
                let n = read?;
                if n == 0 {
                    return Ok(());
                }
                if cut_next {
                    client.write_all(&answer[..n.min(keep)]).await?;
                    client.flush().await?;
                    cuts_done.fetch_add(1, Ordering::SeqCst);
                    return Ok(()); // both sockets close here, mid-answer
                }
                client.write_all(&answer[..n]).await?;
            }
        }
    }
}

/// Every future polled on this task at once (a burst), their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}
