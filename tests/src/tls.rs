//! TLS termination: real handshakes against a test CA, h1 and h2 through
//! ALPN, SNI among several certificates (wildcards too), reload on change,
//! and the HTTP-to-HTTPS redirect.

use crate::support::tls::{self, TestCa};
use crate::support::{AppBuilder, GatewayBuilder};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

pub async fn h1_and_h2_are_served_over_tls_through_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let cert = ca.issue(&["hello.localhost"], dir.path(), "hello");
    let gateway = GatewayBuilder::new().https(&[&cert]).app(AppBuilder::new("hello")).spawn().await;
    let addr = gateway.https_addrs[0];

    let stream = tls::connect(&ca.client(&["h2", "http/1.1"]), addr, "hello.localhost").await;
    assert_eq!(tls::negotiated(&stream).0.as_deref(), Some("h2"));
    let (response, version) = tls::get(stream, "hello.localhost", "/inspect").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(version, http::Version::HTTP_2);
    let seen = response.json();
    let proto = seen["headers"].as_array().unwrap().iter().find(|h| h[0] == "x-forwarded-proto").map(|h| h[1].clone());
    assert_eq!(proto, Some("https".into()), "{seen}");

    let stream = tls::connect(&ca.client(&["http/1.1"]), addr, "hello.localhost").await;
    assert_eq!(tls::negotiated(&stream).0.as_deref(), Some("http/1.1"));
    let (response, version) = tls::get(stream, "hello.localhost", "/").await;
    assert_eq!(response.status, 200);
    assert_eq!(version, http::Version::HTTP_11);
    assert!(response.text().starts_with("Hello from hello!"), "{}", response.text());

    // Plain HTTP still works beside it, and says so upstream.
    let plain = gateway.client().get("hello.localhost", "/inspect").await;
    assert!(plain.text().contains("\"x-forwarded-proto\",\"http\""), "{}", plain.text());
}

/// An exact name wins over a wildcard whatever the order; a wildcard covers
/// the names one label under it.
pub async fn sni_picks_the_certificate_wildcards_included() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let wildcard = ca.issue(&["*.paastis.test"], dir.path(), "wildcard");
    let alpha = ca.issue(&["alpha.paastis.test"], dir.path(), "alpha");
    let gateway = GatewayBuilder::new()
        .domain("paastis.test")
        .https(&[&wildcard, &alpha])
        .app(AppBuilder::new("alpha"))
        .app(AppBuilder::new("beta"))
        .spawn()
        .await;
    let client = ca.client(&["http/1.1"]);
    let addr = gateway.https_addrs[0];
    for (host, expected) in [("alpha.paastis.test", &alpha), ("beta.paastis.test", &wildcard)] {
        let stream = tls::connect(&client, addr, host).await;
        assert!(tls::negotiated(&stream).1 == expected.der, "{host} got the wrong certificate");
        let (response, _) = tls::get(stream, host, "/").await;
        assert_eq!(response.status, 200, "{host}: {}", response.text());
    }
    // A name no certificate covers fails the handshake.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("other.example.com").unwrap();
    assert!(client.connect(name, tcp).await.is_err());
}

/// Replacing the files swaps the certificate for new handshakes; a
/// connection made before goes on with its session.
pub async fn a_changed_certificate_is_reloaded_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let first = ca.issue(&["hello.localhost"], dir.path(), "live");
    let gateway = GatewayBuilder::new().https(&[&first]).app(AppBuilder::new("hello")).spawn().await;
    let addr = gateway.https_addrs[0];
    let client = ca.client(&["http/1.1"]);

    let old = tls::connect(&client, addr, "hello.localhost").await;
    assert!(tls::negotiated(&old).1 == first.der);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(old)).await.unwrap();
    tokio::spawn(conn);
    let get = || http::Request::get("/").header("host", "hello.localhost").body(Empty::<Bytes>::new()).unwrap();
    let response = sender.send_request(get()).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();

    // Written aside, then renamed over: how cert tools replace files.
    let staged = tempfile::tempdir_in(dir.path()).unwrap();
    let second = ca.issue(&["hello.localhost"], staged.path(), "live");
    std::fs::rename(&second.key, &first.key).unwrap();
    std::fs::rename(&second.cert, &first.cert).unwrap();
    // A reload that saw the new key beside the old certificate is refused
    // (they do not match), so the first one that succeeds has the new pair.
    gateway.logs.wait_for("certificates reloaded", "", WAIT).await;
    // A new client: a resumed session would not show the certificate again.
    let fresh = tls::connect(&ca.client(&["http/1.1"]), addr, "hello.localhost").await;
    assert!(tls::negotiated(&fresh).1 == second.der, "new handshakes get the new certificate");
    let (response, _) = tls::get(fresh, "hello.localhost", "/").await;
    assert_eq!(response.status, 200);

    let response = sender.send_request(get()).await.expect("the old connection still works");
    assert_eq!(response.status(), 200);
}

pub async fn plain_http_can_redirect_to_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let cert = ca.issue(&["hello.localhost"], dir.path(), "hello");
    let gateway = GatewayBuilder::new()
        .https(&[&cert])
        .edge("redirect_http_to_https", "true")
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let response = gateway.client().get("hello.localhost:8080", "/inspect?a=1").await;
    assert_eq!(response.status, 308);
    let port = gateway.https_addrs[0].port();
    assert_eq!(response.headers["location"], format!("https://hello.localhost:{port}/inspect?a=1").as_str());
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 0, "a redirect does not wake the app");
}

/// `paastis demo --tls` makes its certificate at start and serves HTTPS with it.
pub async fn the_demo_serves_https_with_a_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let args = [
        "demo",
        "--tls",
        "--listen",
        "127.0.0.1:0",
        "--tls-listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--data-dir",
        &data,
    ];
    let (_child, logs) = crate::support::spawn_paastis_with_env(&args, &[]);
    let listening = logs.wait_for("listening https", "", WAIT).await;
    let addr: std::net::SocketAddr = listening["addr"].as_str().unwrap().parse().unwrap();
    let cert = dir.path().join("tls").join("demo-cert.pem");
    let client = tls::client_trusting_file(&cert, &["h2", "http/1.1"]);
    let stream = tls::connect(&client, addr, "hello.localhost").await;
    let (response, version) = tls::get(stream, "hello.localhost", "/").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(version, http::Version::HTTP_2);
    assert!(response.text().starts_with("Hello from hello!"), "{}", response.text());
}

/// A certificate that cannot be loaded stops the gateway before it binds,
/// naming the file.
pub async fn a_missing_certificate_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let cert = ca.issue(&["hello.localhost"], dir.path(), "hello");
    let missing = tls::IssuedCert { key: dir.path().join("missing.key"), ..cert };
    let output = GatewayBuilder::new()
        .https(&[&missing])
        .app(AppBuilder::new("hello"))
        .serve_to_exit(Duration::from_secs(30))
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.key"), "{stderr}");
}

/// A certificate for `*.localhost` only cannot serve `app.localhost` (clients
/// refuse a wildcard over one label): the gateway says so at startup.
pub async fn a_wildcard_over_localhost_is_warned_about_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let wildcard = ca.issue(&["*.localhost"], dir.path(), "wildcard");
    let good = ca.issue(&["*.apps.localhost"], dir.path(), "good");
    let gateway = GatewayBuilder::new().https(&[&wildcard, &good]).app(AppBuilder::new("hello")).spawn().await;
    let warned = gateway.logs.wait_for("certificate wildcard directly under a single label: browsers and TLS clients refuse it as they refuse *.com, so it cannot serve app names under it; list the app names (hello.localhost) instead", "", WAIT).await;
    assert_eq!(warned["level"], "WARN", "{warned}");
    assert_eq!(warned["name"], "*.localhost", "{warned}");
    let warnings = gateway.logs_caught_up().await.matching(warned["message"].as_str().unwrap(), |_| true);
    assert_eq!(warnings.len(), 1, "*.apps.localhost is fine: {warnings:?}");
}

/// Without `--data-dir`, the demo keeps its state in the user's own XDG
/// state dir, never in one folder of the system temp dir shared by everyone.
pub async fn the_demo_keeps_its_state_in_the_users_state_dir() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    let env = [("XDG_STATE_HOME".to_owned(), state.display().to_string())];
    let args = ["demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];
    let (_child, logs) = crate::support::spawn_paastis_with_env(&args, &env);
    let told = logs.wait_for("demo state", "", WAIT).await;
    let expected = state.join("paastis").join("demo");
    assert_eq!(told["data_dir"].as_str(), Some(&*expected.display().to_string()));
    logs.wait_for("listening", "", WAIT).await;
    assert!(std::fs::read_dir(&expected).unwrap().next().is_some(), "the store is in {}", expected.display());
}
