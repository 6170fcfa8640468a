//! Free loopback ports and readiness polling for the servers the rig starts.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use crate::error::Result;

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
///
/// Another process may take it before the caller binds it; servers started by the rig retry on a
/// new port when their start fails. Servers of our own bind `127.0.0.1:0` directly instead.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(listener.local_addr()?.port())
}

/// Polls `url` with GET until it gives any HTTP answer (whatever the status); returns how long that
/// took. `alive` is asked before each attempt: when it returns an error (the server process died),
/// polling stops with that error.
pub async fn wait_for_http(url: &str, timeout: Duration, mut alive: impl FnMut() -> Result<()>) -> Result<Duration> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).no_proxy().build()?;
    let start = Instant::now();
    let mut last_error = String::from("no attempt made");
    while start.elapsed() < timeout {
        alive()?;
        match client.get(url).send().await {
            Ok(_) => return Ok(start.elapsed()),
            Err(e) => last_error = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{url} gave no HTTP answer within {timeout:?} (last error: {last_error})").into())
}
