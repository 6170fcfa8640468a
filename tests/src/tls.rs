//! A TLS front for a plain-HTTP server of the rig (the fake Persona): a throwaway CA and a certificate for
//! 127.0.0.1 made with `rcgen`, TLS terminated with rustls, bytes forwarded to the upstream over TCP. The
//! functions trust the CA through `SSL_CERT_FILE` (their rustls roots come from `rustls-native-certs`, which
//! reads it), so they talk to the fake as they talk to Persona: DNS-free, but with a real TCP + TLS handshake.
//!
//! [`FrontMode::CloseFirstAfterHandshake`] closes the first connection right after its handshake (a server that
//! dropped an idle connection while Lambda froze the function); every connection is counted.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontMode {
    /// Every connection is forwarded.
    Forward,
    /// The first connection is closed (TLS close_notify, then FIN) right after its handshake.
    CloseFirstAfterHandshake,
}

/// A throwaway CA, its PEM file and a server certificate for 127.0.0.1 signed by it. Fronts started with the same
/// identity are trusted by a process that read the CA file once.
pub struct TlsIdentity {
    ca_file: PathBuf,
    acceptor: TlsAcceptor,
}

impl TlsIdentity {
    /// The CA's PEM goes to a fresh file in the temporary directory ([`TlsIdentity::ca_file`]).
    pub fn new() -> Result<Arc<Self>> {
        let ca = rcgen::KeyPair::generate()?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "persona-resume test CA");
        let ca_cert = ca_params.self_signed(&ca)?;
        let issuer = rcgen::Issuer::new(ca_params, ca);

        let key = rcgen::KeyPair::generate()?;
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        let cert = params.signed_by(&key, &issuer)?;

        let ca_file =
            std::env::temp_dir().join(format!("persona-resume-ca-{}-{}.pem", std::process::id(), fastrand::u64(..)));
        std::fs::write(&ca_file, ca_cert.pem())?;

        // The provider named, not taken from crate features: a build that also enables ring must not panic.
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
        Ok(Arc::new(Self { ca_file, acceptor: TlsAcceptor::from(Arc::new(config)) }))
    }

    /// The CA's certificate (PEM): the value for `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }
}

impl Drop for TlsIdentity {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

/// A running TLS front; stops when dropped.
pub struct TlsFront {
    addr: SocketAddr,
    identity: Arc<TlsIdentity>,
    accepted: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TlsFront {
    /// A front with its own identity on a free port of 127.0.0.1, forwarding to `upstream`.
    pub fn start(upstream: SocketAddr, mode: FrontMode) -> Result<Self> {
        Self::serve(TlsIdentity::new()?, 0, upstream, mode)
    }

    /// A front with `identity` on `port` of 127.0.0.1 (0: a free one), e.g. one a function was pointed at before
    /// anything listened there.
    pub fn serve(identity: Arc<TlsIdentity>, port: u16, upstream: SocketAddr, mode: FrontMode) -> Result<Self> {
        let acceptor = identity.acceptor.clone();
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let counter = accepted.clone();
        std::thread::Builder::new().name("tls-front".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("listener");
                let serve = async {
                    loop {
                        let Ok((socket, _)) = listener.accept().await else { continue };
                        let _ = socket.set_nodelay(true);
                        let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        let close = mode == FrontMode::CloseFirstAfterHandshake && number == 1;
                        tokio::spawn(forward(acceptor.clone(), socket, upstream, close));
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stopped => {}
                }
            });
        })?;
        Ok(Self { addr, identity, accepted, _stop: stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (the upstream's, e.g. the fake's `http://127.0.0.1:PORT/api/v1`) with this front's scheme and port.
    pub fn url_for(&self, url: &str) -> Result<String> {
        let mut url = url::Url::parse(url)?;
        url.set_scheme("https").map_err(|()| "cannot set https")?;
        url.set_host(Some("127.0.0.1"))?;
        url.set_port(Some(self.addr.port())).map_err(|()| "cannot set the port")?;
        Ok(url.to_string().trim_end_matches('/').to_owned())
    }

    /// The CA's certificate (PEM): the value for `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> &Path {
        self.identity.ca_file()
    }

    /// TCP connections accepted so far (including handshakes that failed).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn forward(acceptor: TlsAcceptor, socket: TcpStream, upstream: SocketAddr, close: bool) {
    let Ok(mut tls) = acceptor.accept(socket).await else { return };
    if close {
        use tokio::io::AsyncWriteExt;
        let _ = tls.shutdown().await;
        return;
    }
    let Ok(mut plain) = TcpStream::connect(upstream).await else { return };
    let _ = plain.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
}
