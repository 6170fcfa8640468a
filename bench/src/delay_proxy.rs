//! A TCP proxy that puts a fixed round-trip time between a function and a service (the fake Persona, moto's
//! DynamoDB), and logs every HTTP exchange that crosses it, so the round-trip bench can count sequential rounds.
//!
//! The whole round trip is added on the way in (client → service): a chunk the client sends reaches the service
//! `rtt` after it reached the proxy, and answers come straight back. A delay line, not a queue: chunks keep their
//! spacing, so a long body is not delayed twice. A new connection pays one round more before its first byte is
//! forwarded when `handshake` is set (the TCP handshake a real network charges; the client's `connect` returns at
//! once here). Off for moto, which closes every connection after its answer where DynamoDB keeps them open. Blocking
//! sockets and OS threads: `std::thread::sleep` keeps to tens of microseconds, where the async timer rounds up to
//! the next millisecond — a millisecond per round would be most of the overhead this bench is after.
//!
//! An exchange is one request and its answer on one connection (HTTP/1.1, no pipelining: both clients wait for
//! an answer before they send again): it starts with the first client bytes after an answer (or on a fresh
//! connection) and ends with the last answer bytes before the next request. Without the handshake (moto: a
//! connection per request, written to right after the client's connect) a connection's first exchange starts when
//! the connection was accepted: the proxy's own thread starts and upstream dial before it reads are the bench's
//! time, not the client's. With `rtt` zero the proxy only logs: the existing mode times the guard's requests so.

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

impl DelayProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards every connection to `upstream`, `rtt` later.
    pub fn start(upstream: SocketAddr, rtt: Duration, handshake: bool) -> Result<Self> {
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
                let now = Instant::now();
                let accepted = Accepted {
                    handshake_done: if handshake { now + rtt } else { now },
                    first_sent: (!handshake).then_some(now),
                };
                lock(&accept_log).connections += 1;
                let log = Arc::clone(&accept_log);
                let _ = thread::Builder::new()
                    .name("delay-proxy-conn".into())
                    .spawn(move || connection(client, upstream, rtt, accepted, log));
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

/// When a connection was accepted, as its forwarding and its log see it.
#[derive(Clone, Copy)]
struct Accepted {
    /// No chunk is forwarded before it (the handshake's round, when charged).
    handshake_done: Instant,
    /// The first exchange's `sent`, when the client writes right after connecting (no handshake charged).
    first_sent: Option<Instant>,
}

/// Which exchange of the shared log this connection is on, and whether an answer has come since its request.
struct Cursor {
    /// The log's generation and the index in it.
    current: Option<(u64, usize)>,
    answered: bool,
}

fn connection(client: TcpStream, upstream: SocketAddr, rtt: Duration, accepted: Accepted, log: Arc<Mutex<Log>>) {
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
    let handshake_done = accepted.handshake_done;
    let (request_log, request_cursor) = (Arc::clone(&log), Arc::clone(&cursor));
    let reader = thread::spawn(move || {
        let mut client_in = client_in;
        let mut first_sent = accepted.first_sent;
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
                    let sent = first_sent.take().map_or(arrived, |accepted| accepted.min(arrived));
                    log.exchanges.push(Exchange { sent, answered: None, abandoned: None });
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
