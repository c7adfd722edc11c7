//! Verified HTTPS towards an upstream: a real rustls server whose
//! certificate a test CA signed, trusted through the extra CA file only.

use super::*;
use http_body_util::{BodyExt, Empty};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::PrivateKeyDer;
use std::net::SocketAddr;

struct TlsApp {
    addr: SocketAddr,
    ca_pem: String,
}

/// Serves "hello over tls" on 127.0.0.1 with a certificate for `localhost`.
async fn tls_app() -> TlsApp {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, &issuer).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::try_from(key.serialize_der()).unwrap())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(Bytes::from(
                        "hello over tls",
                    ))))
                });
                let io = hyper_util::rt::TokioIo::new(tls);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    TlsApp { addr, ca_pem: ca_cert.pem() }
}

async fn get(client: &UpstreamClient, uri: String) -> Result<String, String> {
    let request = http::Request::get(uri).body(Empty::new().map_err(|never| match never {}).boxed()).unwrap();
    let response = client.request(request).await.map_err(|e| crate::error_chain::root_cause(&e))?;
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn https_upstreams_are_verified_against_the_extra_ca() {
    let app = tls_app().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &app.ca_pem).unwrap();
    let uri = format!("https://localhost:{}/", app.addr.port());

    let trusting = Upstream::new(Some(&ca_file), Duration::from_secs(5)).unwrap();
    assert_eq!(get(&trusting.pooled(Duration::from_secs(30)), uri.clone()).await.unwrap(), "hello over tls");
    assert_eq!(get(&trusting.unpooled(), uri.clone()).await.unwrap(), "hello over tls");

    // The webpki roots alone do not know this CA: the handshake is refused.
    let error = get(
        &Upstream::with_roots(super::webpki_roots_store(), Duration::from_secs(5))
            .unwrap()
            .pooled(Duration::from_secs(30)),
        uri,
    )
    .await
    .unwrap_err();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}

#[test]
fn a_bad_ca_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let error = Upstream::new(Some(&missing), Duration::from_secs(5)).err().unwrap().to_string();
    assert!(error.contains("missing.pem"), "{error}");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    let error = Upstream::new(Some(&empty), Duration::from_secs(5)).err().unwrap().to_string();
    assert!(error.contains("no certificate"), "{error}");
}
