//! Serving the API and the pages: plain HTTP on loopback, TLS (rustls)
//! elsewhere, with bounds a misbehaving client cannot push past: a
//! connection limit in total and per client address, and a timeout for
//! request headers (a client that opens connections and sends nothing
//! holds none of them for long).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Bounds of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_per_client: usize,
    /// A request's headers must arrive within this.
    pub header_timeout: Duration,
    /// Time in-flight requests get to finish at shutdown.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_per_client: 128,
            header_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(5),
        }
    }
}

/// A TLS certificate and key, loaded.
#[derive(Debug, Clone)]
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the certificate (DER), `AB:CD:...`: what a tablet checks.
    pub fingerprint: String,
}

/// SHA-256 of a certificate, as browsers show it.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Tls {
    /// Load a certificate chain and its key (PEM files).
    pub fn load(cert: &Path, key: &Path) -> io::Result<Tls> {
        let bad = |what: &Path, e: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", what.display()),
            )
        };
        let certs: Vec<_> =
            rustls_pemfile::certs(&mut io::BufReader::new(std::fs::File::open(cert)?))
                .collect::<Result<_, _>>()
                .map_err(|e| bad(cert, e.to_string()))?;
        let first = certs
            .first()
            .ok_or_else(|| bad(cert, "holds no certificate".into()))?;
        let fingerprint = fingerprint(first.as_ref());
        let key_der =
            rustls_pemfile::private_key(&mut io::BufReader::new(std::fs::File::open(key)?))
                .map_err(|e| bad(key, e.to_string()))?
                .ok_or_else(|| bad(key, "holds no private key".into()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(cert, e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key_der)
            .map_err(|e| bad(cert, e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            fingerprint,
        })
    }
}

/// Open connections per client address.
#[derive(Debug, Default, Clone)]
struct PerClient(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One open connection of a client; dropping it frees the slot.
struct Slot(PerClient, IpAddr);

impl PerClient {
    fn take(&self, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = m.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot(self.clone(), ip))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = (self.0)
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// Serve `state`'s router on `listener` until `shutdown`, over TLS if given.
pub async fn serve_with(
    listener: TcpListener,
    router: axum::Router,
    shutdown: CancellationToken,
    tls: Option<Tls>,
    limits: Limits,
) -> io::Result<()> {
    let acceptor = tls.map(|t| TlsAcceptor::from(t.config));
    let total = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let per_client = PerClient::default();
    let mut connections = JoinSet::new();
    loop {
        let (tcp, remote) = tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            tracing::debug!(%remote, "connection refused: the node holds its maximum");
            continue;
        };
        let Some(slot) = per_client.take(remote.ip(), limits.max_per_client) else {
            tracing::debug!(%remote, "connection refused: that client holds its maximum");
            continue;
        };
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(remote));
                req
            });
        let acceptor = acceptor.clone();
        let header_timeout = limits.header_timeout;
        let stop = shutdown.clone();
        connections.spawn(async move {
            let _held = (permit, slot);
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let service = TowerToHyperService::new(service);
            let result = match acceptor {
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await
                    {
                        Ok(Ok(s)) => s,
                        _ => return,
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    tokio::select! {
                        r = conn => r,
                        () = stop.cancelled() => Ok(()),
                    }
                }
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                    tokio::select! {
                        r = conn => r,
                        () = stop.cancelled() => Ok(()),
                    }
                }
            };
            if let Err(e) = result {
                tracing::trace!(error = %e, "connection ended");
            }
        });
    }
    // Let requests in flight finish, briefly.
    let _ = tokio::time::timeout(limits.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
    Ok(())
}
