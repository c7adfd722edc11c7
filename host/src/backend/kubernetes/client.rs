//! The kube client, built by hand so that its TLS names the ring provider:
//! kube's own builder calls `rustls::ClientConfig::builder()`, which takes
//! the process-default provider. The stack is kube's documented custom
//! client: base URI, credentials (tokens, exec plugins, refreshed by kube)
//! and extra headers over hyper, with connect/read/write timeouts.

use kube::client::ConfigExt;
use kube::config::{KubeConfigOptions, Kubeconfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::ExposeSecret;
use std::path::Path;
use std::sync::Arc;

/// Where the cluster's address and credentials come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A kubeconfig file, and the context to use (its current one if none).
    Kubeconfig { path: std::path::PathBuf, context: Option<String> },
    /// The pod's service account (`KUBERNETES_SERVICE_HOST`, the token and
    /// CA under `/var/run/secrets/kubernetes.io/serviceaccount`).
    InCluster,
}

impl Source {
    /// What `paastis check` can verify without the network: the file
    /// parses and has the context, or the pod's environment is there.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self {
            Source::Kubeconfig { path, context } => {
                let kubeconfig = read(path)?;
                if let Some(context) = context
                    && !kubeconfig.contexts.iter().any(|c| &c.name == context)
                {
                    return Err(format!("{} has no context {context:?}", path.display()));
                }
                Ok(())
            }
            Source::InCluster => kube::Config::incluster()
                .map(drop)
                .map_err(|e| format!("not running in a cluster ({e}); set `kubeconfig`")),
        }
    }

    pub(crate) async fn connect(&self) -> Result<kube::Client, String> {
        let config = match self {
            Source::Kubeconfig { path, context } => {
                let options = KubeConfigOptions { context: context.clone(), ..KubeConfigOptions::default() };
                kube::Config::from_custom_kubeconfig(read(path)?, &options)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            Source::InCluster => kube::Config::incluster().map_err(|e| format!("in-cluster config: {e}"))?,
        };
        build(config)
    }
}

fn read(path: &Path) -> Result<Kubeconfig, String> {
    if !path.exists() {
        return Err(format!("{} does not exist", path.display()));
    }
    Kubeconfig::read_from(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn build(config: kube::Config) -> Result<kube::Client, String> {
    let tls = tls_config(&config)?;
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(config.connect_timeout);
    let mut https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = rustls::pki_types::ServerName::try_from(name.clone())
            .map_err(|e| format!("tls-server-name {name:?}: {e}"))?;
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let mut connector = hyper_timeout::TimeoutConnector::new(https.enable_http1().wrap_connector(http));
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let http_client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, kube::client::Body>(connector);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer().map_err(|e| format!("credentials: {e}"))?)
        .layer(config.extra_headers_layer().map_err(|e| format!("headers: {e}"))?)
        .map_err(tower::BoxError::from)
        .service(http_client);
    Ok(kube::Client::new(service, config.default_namespace))
}

/// TLS towards the API server with ring, its CA (else the webpki roots) and
/// the kubeconfig's client certificate if any.
fn tls_config(config: &kube::Config) -> Result<rustls::ClientConfig, String> {
    if config.accept_invalid_certs {
        return Err("insecure-skip-tls-verify is not supported: give the cluster's CA".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    match &config.root_cert {
        Some(certs) => {
            for der in certs {
                roots.add(CertificateDer::from(der.clone())).map_err(|e| format!("cluster CA: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = builder.with_root_certificates(roots);
    match identity(&config.auth_info)? {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| format!("client certificate: {e}")),
        None => Ok(builder.with_no_client_auth()),
    }
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn identity(auth: &kube::config::AuthInfo) -> Result<Option<Identity>, String> {
    let cert = load(auth.client_certificate_data.as_deref(), auth.client_certificate.as_deref())?;
    let key_data = auth.client_key_data.as_ref().map(|k| k.expose_secret().to_owned());
    let key = load(key_data.as_deref(), auth.client_key.as_deref())?;
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        _ => return Err("a client certificate needs both its certificate and its key".into()),
    };
    let chain = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("client certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| format!("client key: {e}"))?;
    Ok(Some((chain, key)))
}

/// Base64 data, else a file.
fn load(data: Option<&str>, file: Option<&str>) -> Result<Option<Vec<u8>>, String> {
    use base64::Engine;
    match (data, file) {
        (Some(data), _) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(Some)
            .map_err(|e| format!("bad base64 in the kubeconfig: {e}")),
        (None, Some(file)) => std::fs::read(file).map(Some).map_err(|e| format!("{file}: {e}")),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_config_uses_ring_whatever_the_process_default() {
        let config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
        let tls = tls_config(&config).unwrap();
        let ring = rustls::crypto::ring::default_provider();
        let names = |p: &rustls::crypto::CryptoProvider| {
            p.cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect::<Vec<_>>()
        };
        assert_eq!(names(tls.crypto_provider()), names(&ring));
    }

    #[test]
    fn a_missing_kubeconfig_is_named() {
        let source = Source::Kubeconfig { path: "/nonexistent/kubeconfig".into(), context: None };
        assert_eq!(source.check().unwrap_err(), "/nonexistent/kubeconfig does not exist");
    }
}
