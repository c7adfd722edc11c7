//! The one way the gateway talks to apps: plain http, or https with verified
//! certificates (the webpki roots plus an optional extra CA file). The proxy
//! and the readiness probe share the connector, so an app that answers the
//! probe answers the proxy too; and the proxy's pool, to which the probe
//! that found an app ready leaves its connection for the first request.

use bytes::Bytes;
use hedged::HedgedConnector;
use http_body_util::combinators::BoxBody;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Request bodies sent upstream: the client's, or nothing (probes). The
/// error is boxed so the proxy's watched body can fail with its own reasons
/// (a stalled client), not only hyper's.
pub(crate) type UpstreamBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;
pub(crate) use client::{SendError, Spare, UpstreamClient, request_target};
pub(crate) use pool::PooledBody;

/// TCP, hedged, then TLS for https upstreams.
type Connector = HttpsConnector<HedgedConnector>;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot read the upstream CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("cannot set up TLS towards upstreams: {0}")]
    Tls(#[from] rustls::Error),
}

/// How long an upstream connection stays open, idle, for the next request.
const PROXY_IDLE: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(crate) struct Upstream {
    connector: Connector,
    /// The proxy's idle connections, shared by every listener's proxy and
    /// by the readiness probe, which leaves its last connection there.
    proxy_pool: Arc<pool::Pool>,
}

impl Upstream {
    pub(crate) fn new(ca_file: Option<&Path>, connect_timeout: Duration) -> Result<Upstream, UpstreamError> {
        let mut roots = webpki_roots_store();
        if let Some(path) = ca_file {
            let bad = |reason: String| UpstreamError::CaFile { path: path.to_owned(), reason };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no certificate in it".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| bad(e.to_string()))?;
            }
        }
        Upstream::with_roots(roots, connect_timeout)
    }

    fn with_roots(roots: RootCertStore, connect_timeout: Duration) -> Result<Upstream, UpstreamError> {
        // The provider is named rather than taken from the process default,
        // so another crate enabling a second provider changes nothing here.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        // HTTP/1.1 only: upgrades (WebSockets) need it, and apps speak it.
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(HedgedConnector::new(http));
        Ok(Upstream { connector, proxy_pool: pool::Pool::new(PROXY_IDLE) })
    }

    /// The proxy's client: its connections are kept `PROXY_IDLE` for reuse,
    /// in the pool the readiness probe hands its connections to.
    pub(crate) fn proxying(&self) -> UpstreamClient {
        UpstreamClient::new(self.connector.clone(), Some(self.proxy_pool.clone()))
    }

    /// A client with a pool of its own.
    #[cfg(test)]
    pub(crate) fn pooled(&self, idle: Duration) -> UpstreamClient {
        UpstreamClient::new(self.connector.clone(), Some(pool::Pool::new(idle)))
    }

    /// A client that never reuses a connection.
    #[cfg(test)]
    pub(crate) fn unpooled(&self) -> UpstreamClient {
        UpstreamClient::new(self.connector.clone(), None)
    }
}

fn webpki_roots_store() -> RootCertStore {
    RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// The upstream's URI with a request's path and query.
pub(crate) fn join_uri(upstream: &http::Uri, path_and_query: &str) -> Result<http::Uri, String> {
    let mut parts = upstream.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().map_err(|e| format!("bad path {path_and_query:?}: {e}"))?);
    http::Uri::from_parts(parts).map_err(|e| e.to_string())
}

/// Whether a client error is the upstream taking too long to connect (a
/// 504) rather than refusing or failing (a 502).
pub(crate) fn is_connect_timeout(e: &SendError) -> bool {
    crate::error_chain::chain(e)
        .any(|err| err.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut))
}

mod client;
mod hedged;
mod pool;

#[cfg(test)]
mod pool_tests;
#[cfg(test)]
mod tests;
