//! How much CPU one TLS handshake costs the functions' HTTP client (reqwest 0.13 + rustls 0.23) with each of
//! rustls' crypto providers, the one this binary was built with (feature `aws-lc-rs` or `ring`).
//!
//! ```text
//! tls-providers serve CERT.pem KEY.pem        # a TLS 1.3/1.2 HTTP server on 127.0.0.1 (prints its port)
//! tls-providers connect URL ROUNDS            # ROUNDS requests on fresh connections, ROUNDS on one kept
//! ```
//!
//! `connect` trusts the server through `SSL_CERT_FILE`, as the functions do, and prints one line: the CPU this
//! process used per request on a fresh connection (TCP + handshake + request) and on a kept one (request only),
//! their difference (the handshake), and the mean wall time of each — run it inside a CPU-capped cgroup to see
//! the handshake at a Lambda's CPU share (`run.sh`). CPU is the sum over the process's threads of
//! `/proc/self/task/*/schedstat` (ns on a CPU). The server is always run from the aws-lc-rs build, so it offers
//! every key exchange either client may prefer (X25519MLKEM768 included, as Persona's edge may).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
const PROVIDER: &str = "aws-lc-rs";
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
const PROVIDER: &str = "ring";
#[cfg(not(any(all(feature = "aws-lc-rs", not(feature = "ring")), all(feature = "ring", not(feature = "aws-lc-rs")))))]
compile_error!("build with exactly one of the features `aws-lc-rs` and `ring`");

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn provider() -> rustls::crypto::CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    return rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(feature = "ring")]
    return rustls::crypto::ring::default_provider();
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _ = provider().install_default();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["serve", cert, key] => serve(cert, key),
        ["connect", url, rounds] => connect(url, rounds.parse::<u32>()?.max(1)),
        _ => Err("usage: tls-providers serve CERT.pem KEY.pem | connect URL ROUNDS".into()),
    }
}

/// One thread per connection; answers every request head with a tiny 200, keeping the connection open.
fn serve(cert: &str, key: &str) -> Result<()> {
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<std::result::Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let (Ok(stream), config) = (stream, config.clone()) else { continue };
        // As Persona's edge would: no Nagle delay on the handshake's flights.
        let _ = stream.set_nodelay(true);
        std::thread::spawn(move || {
            let Ok(conn) = rustls::ServerConnection::new(config) else { return };
            let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
            let mut line = String::new();
            let mut reported = false;
            loop {
                line.clear();
                match tls.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == "\r\n" => {
                        if !reported {
                            report_negotiated(&tls.get_ref().conn);
                            reported = true;
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";
                        if tls.get_mut().write_all(answer).and_then(|()| tls.get_mut().flush()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                }
            }
        });
    }
    Ok(())
}

/// Prints each (protocol, key exchange) the server negotiates, once: which exchange each client preferred.
fn report_negotiated(conn: &rustls::ServerConnection) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let what =
        format!("{:?} {:?}", conn.protocol_version(), conn.negotiated_key_exchange_group().map(|group| group.name()));
    let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !seen.contains(&what) {
        eprintln!("serve: negotiated {what}");
        seen.push(what);
    }
}

fn cpu_time() -> Duration {
    let nanos = std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
                .filter_map(|stat| stat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()))
                .sum()
        })
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// CPU and mean wall time per request of `rounds` requests through `client`.
async fn requests(client: &reqwest::Client, url: &str, rounds: u32) -> Result<(Duration, Duration)> {
    let (cpu, wall) = (cpu_time(), Instant::now());
    for _ in 0..rounds {
        let response = client.get(url).send().await?;
        if !response.status().is_success() {
            return Err(format!("{url}: {}", response.status()).into());
        }
        response.bytes().await?;
    }
    Ok((cpu_time().saturating_sub(cpu) / rounds, wall.elapsed() / rounds))
}

#[tokio::main(flavor = "current_thread")]
async fn connect(url: &str, rounds: u32) -> Result<()> {
    // No idle connection is kept: every request dials and shakes hands.
    let fresh = reqwest::Client::builder().tcp_nodelay(true).pool_max_idle_per_host(0).build()?;
    let kept = reqwest::Client::builder().tcp_nodelay(true).build()?;
    // Warm both (code paths, the kept connection), then measure.
    requests(&fresh, url, 3).await?;
    requests(&kept, url, 3).await?;
    let (fresh_cpu, fresh_wall) = requests(&fresh, url, rounds).await?;
    let (kept_cpu, kept_wall) = requests(&kept, url, rounds).await?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "provider={PROVIDER} rounds={rounds} fresh_cpu_ms={:.3} kept_cpu_ms={:.3} handshake_cpu_ms={:.3} \
         fresh_wall_ms={:.3} kept_wall_ms={:.3}",
        ms(fresh_cpu),
        ms(kept_cpu),
        ms(fresh_cpu.saturating_sub(kept_cpu)),
        ms(fresh_wall),
        ms(kept_wall),
    );
    Ok(())
}
