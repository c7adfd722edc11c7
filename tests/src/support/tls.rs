//! A test certificate authority made with rcgen at test time, certificates
//! it issues (written as PEM files for the gateway), and a TLS client that
//! trusts only that CA, for real handshakes over h1 and h2.

use super::client::TestResponse;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

/// A certificate and key on disk, and the certificate's DER to compare a
/// peer's certificate against.
#[derive(Clone)]
pub struct IssuedCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
}

impl IssuedCert {
    /// The `{ cert = ..., key = ... }` TOML inline table.
    pub fn toml(&self) -> String {
        format!("{{ cert = {:?}, key = {:?} }}", self.cert.display().to_string(), self.key.display().to_string())
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Paastis test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa { der: cert.der().clone(), issuer: Issuer::new(params, key) }
    }

    /// Issues a certificate for `names` and writes it to `dir/{stem}.pem`
    /// and `dir/{stem}.key`.
    pub fn issue(&self, names: &[&str], dir: &Path, stem: &str) -> IssuedCert {
        let key = KeyPair::generate().expect("leaf key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let cert = params.signed_by(&key, &self.issuer).expect("leaf certificate");
        let issued = IssuedCert {
            cert: dir.join(format!("{stem}.pem")),
            key: dir.join(format!("{stem}.key")),
            der: cert.der().to_vec(),
        };
        std::fs::write(&issued.cert, cert.pem()).expect("write cert");
        std::fs::write(&issued.key, key.serialize_pem()).expect("write key");
        issued
    }

    /// A client trusting this CA only, offering `alpn`.
    pub fn client(&self, alpn: &[&str]) -> TlsConnector {
        client_trusting(self.der.clone(), alpn)
    }
}

/// A client trusting the certificate in the PEM file `path` only.
pub fn client_trusting_file(path: &Path, alpn: &[&str]) -> TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(path).expect("a PEM certificate");
    client_trusting(der, alpn)
}

fn client_trusting(root: CertificateDer<'static>, alpn: &[&str]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).expect("root into the store");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

/// A verified TLS connection to `addr` for `server_name` (SNI).
pub async fn connect(connector: &TlsConnector, addr: SocketAddr, server_name: &str) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("TCP connect to the HTTPS listener");
    let name = ServerName::try_from(server_name.to_owned()).expect("server name");
    connector.connect(name, tcp).await.expect("TLS handshake")
}

/// What the handshake settled: the ALPN protocol and the server's leaf.
pub fn negotiated(stream: &TlsStream<TcpStream>) -> (Option<String>, Vec<u8>) {
    let (_, session) = stream.get_ref();
    let alpn = session.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
    let leaf = session.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()).unwrap_or_default();
    (alpn, leaf)
}

/// One GET over an established TLS stream, in h2 when ALPN chose it.
pub async fn get(stream: TlsStream<TcpStream>, host: &str, path: &str) -> (TestResponse, http::Version) {
    get_with(stream, host, path, &[]).await
}

/// `get` with these request headers.
pub async fn get_with(
    stream: TlsStream<TcpStream>,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (TestResponse, http::Version) {
    let h2 = negotiated(&stream).0.as_deref() == Some("h2");
    let io = TokioIo::new(stream);
    let request = |version| {
        let uri = if h2 { format!("https://{host}{path}") } else { path.to_owned() };
        let mut builder = http::Request::get(uri).version(version);
        if !h2 {
            builder = builder.header("host", host);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Empty::<Bytes>::new()).expect("request")
    };
    let response = if h2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.expect("h2 handshake");
        tokio::spawn(conn);
        sender.send_request(request(http::Version::HTTP_2)).await.expect("h2 response")
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.expect("h1 handshake");
        tokio::spawn(conn);
        sender.send_request(request(http::Version::HTTP_11)).await.expect("h1 response")
    };
    let version = response.version();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("response body").to_bytes();
    (TestResponse { status: parts.status, headers: parts.headers, body }, version)
}
