//! A TCP proxy that puts a fixed round-trip time between a function and a service (the fake Persona, moto's
//! DynamoDB), and logs every HTTP exchange that crosses it, so the round-trip bench can count sequential rounds.
//!
//! The whole round trip is added on the way in (client → service): a chunk the client sends reaches the service
//! `rtt` after it reached the proxy, and answers come straight back. A delay line, not a queue: chunks keep their
//! spacing, so a long body is not delayed twice. A new connection pays one round more before its first byte is
//! forwarded (the TCP handshake a real network charges; the client's `connect` returns at once here). Moto, which
//! closes every connection after its answer where DynamoDB keeps them open, is reached through
//! [`Link::KeepAlive`] instead. Blocking sockets and OS threads: `std::thread::sleep` keeps to tens of
//! microseconds, where the async timer rounds up to the next millisecond — a millisecond per round would be most
//! of the overhead this bench is after.
//!
//! An exchange is one request and its answer on one connection (HTTP/1.1, no pipelining: both clients wait for
//! an answer before they send again): it starts with the first client bytes after an answer (or on a fresh
//! connection) and ends with the last answer bytes before the next request. With `rtt` zero the proxy only logs:
//! the existing mode times the guard's requests so.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use integration_tests::error::Result;

/// One request and its answer, as the proxy saw them.
#[derive(Clone, Copy, Debug)]
pub struct Exchange {
    /// When the request's first bytes reached the proxy (the client sent it).
    pub sent: Instant,
    /// When the answer's last bytes left the proxy (the client got it); `None`: no answer yet.
    pub answered: Option<Instant>,
    /// When the client closed the connection with no answer yet: it gave up waiting (its own timeout).
    pub abandoned: Option<Instant>,
}

#[derive(Default)]
struct Log {
    exchanges: Vec<Exchange>,
    /// Bumped by every take, so that an exchange begun before it is not confused with a new one at its index.
    generation: u64,
    /// Connections accepted since the log was last taken.
    connections: usize,
}

pub struct DelayProxy {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
}

/// What crossed the proxy between two [`DelayProxy::take`]s.
#[derive(Default, Debug)]
pub struct Taken {
    pub exchanges: Vec<Exchange>,
    pub connections: usize,
}

/// The address a `http://host:port` URL names (the service a proxy stands in front of).
pub fn socket_addr(url: &str) -> Result<SocketAddr> {
    let url = url::Url::parse(url)?;
    let host = url.host_str().ok_or("no host")?;
    let port = url.port_or_known_default().ok_or("no port")?;
    Ok(format!("{host}:{port}").parse()?)
}

/// How the proxy carries a client's connection to the service.
#[derive(Clone, Copy, Debug)]
pub enum Link {
    /// Bytes through as they come, one upstream connection per client connection (the fake Persona keeps its
    /// connections open, as Persona does); a new connection pays one round more (its handshake).
    Tcp,
    /// For moto, which answers HTTP/1.0 and closes every connection after one answer, one connection at a time
    /// (the rig runs it serially): the proxy keeps the client's connection open the way DynamoDB does (HTTP/1.1
    /// keep-alive) and sends each request to moto on a connection of its own. Without it the functions open and
    /// close a connection per guard request — about a seventh of their CPU in a profile of the replacement rows,
    /// a cost production (connections pooled and reused) doesn't pay.
    KeepAlive,
}

impl DelayProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards every connection to `upstream`, `rtt` later.
    pub fn start(upstream: SocketAddr, rtt: Duration, link: Link) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_log, accept_stop) = (Arc::clone(&log), Arc::clone(&stop));
        thread::Builder::new().name(format!("delay-proxy-{}", addr.port())).spawn(move || {
            for client in listener.incoming() {
                if accept_stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = client else { continue };
                lock(&accept_log).connections += 1;
                let log = Arc::clone(&accept_log);
                let _ = match link {
                    Link::Tcp => {
                        let handshake_done = Instant::now() + rtt;
                        thread::Builder::new()
                            .name("delay-proxy-conn".into())
                            .spawn(move || connection(client, upstream, rtt, handshake_done, log))
                    }
                    Link::KeepAlive => thread::Builder::new()
                        .name("delay-proxy-http".into())
                        .spawn(move || keep_alive_connection(client, upstream, rtt, &log)),
                };
            }
        })?;
        Ok(Self { addr, log, stop })
    }

    /// `http://127.0.0.1:<port>` followed by `url`'s path: `url`, reached through the proxy.
    pub fn url_for(&self, url: &str) -> Result<String> {
        let mut url = url::Url::parse(url)?;
        url.set_host(Some("127.0.0.1"))?;
        url.set_port(Some(self.addr.port())).map_err(|()| "cannot set the port")?;
        Ok(url.to_string().trim_end_matches('/').to_owned())
    }

    /// Everything logged since the last call, and a fresh log.
    pub fn take(&self) -> Taken {
        let mut log = lock(&self.log);
        let generation = log.generation + 1;
        let taken = std::mem::replace(&mut *log, Log { generation, ..Log::default() });
        Taken { exchanges: taken.exchanges, connections: taken.connections }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        // Wakes the accept loop so that it sees the flag; open connections end with their peers.
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn lock(log: &Mutex<Log>) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Which exchange of the shared log this connection is on, and whether an answer has come since its request.
struct Cursor {
    /// The log's generation and the index in it.
    current: Option<(u64, usize)>,
    answered: bool,
}

/// A client connection carried byte for byte ([`Link::Tcp`]); no chunk is forwarded before `handshake_done`.
fn connection(client: TcpStream, upstream: SocketAddr, rtt: Duration, handshake_done: Instant, log: Arc<Mutex<Log>>) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (Ok(client_in), Ok(server_out), Ok(server_in), Ok(client_out)) =
        (client.try_clone(), server.try_clone(), server.try_clone(), client.try_clone())
    else {
        return;
    };
    let cursor = Arc::new(Mutex::new(Cursor { current: None, answered: true }));

    // Client → service: a reader stamps each chunk, a writer forwards it at its due time.
    let (due, delayed) = mpsc::channel::<(Instant, Vec<u8>)>();
    let (request_log, request_cursor) = (Arc::clone(&log), Arc::clone(&cursor));
    let reader = thread::spawn(move || {
        let mut client_in = client_in;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match client_in.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let arrived = Instant::now();
            {
                let mut cursor = lock_cursor(&request_cursor);
                if cursor.answered {
                    let mut log = lock(&request_log);
                    log.exchanges.push(Exchange { sent: arrived, answered: None, abandoned: None });
                    cursor.current = Some((log.generation, log.exchanges.len() - 1));
                    cursor.answered = false;
                }
            }
            if due.send((arrived.max(handshake_done) + rtt, buffer[..n].to_vec())).is_err() {
                break;
            }
        }
        // The client closed its side: a request it sent and got no answer to, it gave up on.
        let cursor = lock_cursor(&request_cursor);
        if let (false, Some((generation, index))) = (cursor.answered, cursor.current) {
            let mut log = lock(&request_log);
            if log.generation == generation {
                if let Some(exchange) = log.exchanges.get_mut(index) {
                    exchange.abandoned = Some(Instant::now());
                }
            }
        }
    });
    let writer = thread::spawn(move || {
        let mut server_out = server_out;
        for (at, bytes) in delayed {
            let now = Instant::now();
            if at > now {
                thread::sleep(at - now);
            }
            if server_out.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = server_out.shutdown(Shutdown::Write);
    });

    // Service → client: straight through, stamping the exchange's answer.
    let mut server_in = server_in;
    let mut client_out = client_out;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match server_in.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if client_out.write_all(&buffer[..n]).is_err() {
            break;
        }
        let left = Instant::now();
        let mut cursor = lock_cursor(&cursor);
        cursor.answered = true;
        if let Some((generation, index)) = cursor.current {
            let mut log = lock(&log);
            // The log may have been taken since this exchange began: then it belongs to nobody.
            if log.generation == generation {
                if let Some(exchange) = log.exchanges.get_mut(index) {
                    exchange.answered = Some(left);
                }
            }
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = (reader.join(), writer.join());
}

fn lock_cursor(cursor: &Mutex<Cursor>) -> std::sync::MutexGuard<'_, Cursor> {
    cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A client connection kept open on moto's behalf ([`Link::KeepAlive`]): each request read whole, logged from its
/// first byte, sent to moto `rtt` after that on a fresh connection, and its answer given back as HTTP/1.1 without
/// moto's `Connection: close`.
fn keep_alive_connection(client: TcpStream, upstream: SocketAddr, rtt: Duration, log: &Mutex<Log>) {
    let _ = client.set_nodelay(true);
    let Ok(client_in) = client.try_clone() else { return };
    let mut client_in = std::io::BufReader::new(client_in);
    let mut client_out = client;
    // One request after another (no pipelining: the client waits for each answer).
    while let Some((sent, request)) = read_message(&mut client_in) {
        let index = {
            let mut log = lock(log);
            log.exchanges.push(Exchange { sent, answered: None, abandoned: None });
            (log.generation, log.exchanges.len() - 1)
        };
        let due = sent + rtt;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let Some(answer) = exchange_with(upstream, &request) else { break };
        let Some(answer) = as_keep_alive(&answer) else { break };
        let delivered = client_out.write_all(&answer).is_ok();
        let now = Instant::now();
        let mut log = lock(log);
        if log.generation == index.0 {
            if let Some(exchange) = log.exchanges.get_mut(index.1) {
                // A client that closed meanwhile gave up waiting (known here only once the answer can't be given).
                if delivered {
                    exchange.answered = Some(now);
                } else {
                    exchange.abandoned = Some(now);
                }
            }
        }
        if !delivered {
            break;
        }
    }
    let _ = client_out.shutdown(Shutdown::Both);
}

/// One HTTP/1.1 request (head and a `Content-Length` body) and when its first byte arrived; `None` at the end.
fn read_message(input: &mut std::io::BufReader<TcpStream>) -> Option<(Instant, Vec<u8>)> {
    use std::io::BufRead;
    if input.fill_buf().ok()?.is_empty() {
        return None;
    }
    let first_byte = Instant::now();
    let mut message = Vec::new();
    loop {
        let before = message.len();
        if input.read_until(b'\n', &mut message).ok()? == 0 {
            return None;
        }
        if message[before..] == *b"\r\n" {
            break;
        }
    }
    let head = message.len();
    message.resize(head + content_length(&message).unwrap_or(0), 0);
    input.read_exact(&mut message[head..]).ok()?;
    Some((first_byte, message))
}

/// Sends `request` to `upstream` on a new connection and reads its answer, head and `Content-Length` body (not
/// to moto's close, which comes ≈10 ms after the body).
fn exchange_with(upstream: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).ok()?;
    let _ = server.set_nodelay(true);
    server.write_all(request).ok()?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let mut body_end = None;
    while body_end.is_none_or(|end| answer.len() < end) {
        let n = server.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        answer.extend_from_slice(&buffer[..n]);
        if body_end.is_none() {
            if let Some(head_end) = answer.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) {
                body_end = Some(head_end + content_length(&answer[..head_end])?);
            }
        }
    }
    Some(answer)
}

/// The `Content-Length` of an HTTP head.
fn content_length(head: &[u8]) -> Option<usize> {
    String::from_utf8_lossy(head).split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
    })
}

/// moto's HTTP/1.0 answer as DynamoDB would send it on a kept connection: HTTP/1.1, no `Connection: close`; its
/// body must have a `Content-Length` (moto's do), or the client could not tell where it ends.
fn as_keep_alive(answer: &[u8]) -> Option<Vec<u8>> {
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&answer[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.strip_prefix("HTTP/1.0 ").or_else(|| status_line.strip_prefix("HTTP/1.1 "))?;
    let mut rewritten = format!("HTTP/1.1 {status}\r\n");
    let mut has_length = false;
    for line in lines.filter(|line| !line.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        has_length |= name == "content-length";
        if name != "connection" {
            rewritten.push_str(line);
            rewritten.push_str("\r\n");
        }
    }
    if !has_length {
        return None;
    }
    rewritten.push_str("\r\n");
    let mut bytes = rewritten.into_bytes();
    bytes.extend_from_slice(&answer[head_end..]);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// moto's way: HTTP/1.0, one answer per connection, the close well after the body.
    fn http10_service(close_after: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for connection in listener.incoming() {
                let Ok(mut connection) = connection else { continue };
                thread::spawn(move || {
                    let mut reader = std::io::BufReader::new(connection.try_clone().unwrap());
                    let Some((_, request)) = read_message(&mut reader) else { return };
                    let body = format!("{{\"request_bytes\":{}}}", request.len());
                    let _ = write!(
                        connection,
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    thread::sleep(close_after);
                });
            }
        });
        addr
    }

    #[test]
    fn a_kept_connection_carries_one_request_after_another_each_a_round_trip_later() {
        let rtt = Duration::from_millis(30);
        let proxy = DelayProxy::start(http10_service(Duration::from_secs(2)), rtt, Link::KeepAlive).unwrap();
        let client = TcpStream::connect(proxy.addr).unwrap();
        let mut answers = std::io::BufReader::new(client.try_clone().unwrap());
        let mut client = client;
        for body in ["{}", "{\"a\":1}"] {
            let request = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            let started = Instant::now();
            client.write_all(request.as_bytes()).unwrap();
            let (_, answer) = read_message(&mut answers).expect("an answer on the same connection");
            let took = started.elapsed();
            let answer = String::from_utf8(answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(!answer.to_ascii_lowercase().contains("connection:"), "moto's close is not passed on: {answer}");
            assert!(
                answer.ends_with(&format!("{{\"request_bytes\":{}}}", request.len())),
                "the whole request: {answer}"
            );
            // Read by its length: not held until the service closes (2 s), nor answered before the round trip.
            assert!(took >= rtt && took < Duration::from_secs(1), "{took:?}");
        }
        let taken = proxy.take();
        assert_eq!(taken.connections, 1, "one client connection for both");
        assert_eq!(taken.exchanges.len(), 2);
        for exchange in &taken.exchanges {
            assert!(exchange.answered.is_some_and(|answered| answered - exchange.sent >= rtt), "{exchange:?}");
        }
    }

    #[test]
    fn an_answer_without_a_length_cannot_be_kept_open() {
        assert_eq!(as_keep_alive(b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n{}"), None);
        let kept = as_keep_alive(b"HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
        assert_eq!(kept.as_deref(), Some(&b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"[..]));
    }
}
