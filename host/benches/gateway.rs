//! Gateway figures on this machine, as a bench binary rather than timed
//! assertions in tests:
//! - requests per second through the gateway, with and without the policy
//!   call, next to the app served directly;
//! - the cold-start overhead: time to the first response through the gateway
//!   minus the demo app's own time to its first response when started bare.
//!
//! - requests per second with `office-hours` serving the app;
//! - the time from a policy file landing in `policy.dir` to its behaviour
//!   being seen by a client.
//!
//! - HTTPS requests per second with keep-alive (TLS 1.3, HTTP/1.1), next to
//!   plain HTTP through the same gateway.
//!
//! Run: `cargo bench -p paastis --bench gateway` (knobs: BENCH_SECS,
//! BENCH_CONCURRENCY, BENCH_COLD_RUNS).

#[path = "common/office_hours.rs"]
mod office_hours;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use paastis::Config;
use paastis::Gateway;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_paastis");

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A gateway config with a policies directory beside the store; `app_extra`
/// goes at the end of the app's entry (a `policy = ...`, its params).
fn config(store: &std::path::Path, call_on_request: bool, app_extra: &str) -> Config {
    match Config::parse(&config_text(store, call_on_request, app_extra), "<bench>") {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

fn config_text(store: &std::path::Path, call_on_request: bool, app_extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
domain = "localhost"
[store]
path = {store:?}
[admin]
listen = "127.0.0.1:0"
[policy]
call_on_request = {call_on_request}
dir = {dir:?}
[policy.params]
idle_timeout = "1h"
[[apps]]
name = "hello"
backend = "process"
command = [{EXE:?}, "demo-app", "--name", "hello", "--port", "{{port}}"]
{app_extra}
"#,
        store = store.join("store").display().to_string(),
        dir = store.display().to_string(),
    )
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

async fn get(client: &HttpClient, uri: &str, host: &str) -> Result<(), String> {
    let request = http::Request::get(uri).header("host", host).body(Empty::new()).map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    response.into_body().collect().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("status {status}"));
    }
    Ok(())
}

/// Closed-loop load: `concurrency` keep-alive clients for `secs`.
async fn load(uri: String, host: &'static str, concurrency: u64, secs: u64) -> f64 {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let until = Instant::now() + Duration::from_secs(secs);
    let workers = (0..concurrency).map(|_| {
        let (client, uri) = (client.clone(), uri.clone());
        tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                if get(&client, &uri, host).await.is_ok() {
                    done += 1;
                }
            }
            done
        })
    });
    let started = Instant::now();
    let mut total = 0;
    for worker in workers.collect::<Vec<_>>() {
        total += worker.await.unwrap_or(0);
    }
    total as f64 / started.elapsed().as_secs_f64()
}

async fn start_gateway(call_on_request: bool) -> (Gateway, tempfile::TempDir) {
    start_gateway_with(call_on_request, "", None).await
}

/// `policies`: files to put in the policies directory before the start.
async fn start_gateway_with(
    call_on_request: bool,
    app_extra: &str,
    policies: Option<(&str, &[u8])>,
) -> (Gateway, tempfile::TempDir) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    };
    if let Some((name, wasm)) = policies
        && let Err(e) = std::fs::write(dir.path().join(format!("{name}.wasm")), wasm)
    {
        panic!("policy file: {e}");
    }
    match Gateway::start(config(dir.path(), call_on_request, app_extra)).await {
        Ok(g) => (g, dir),
        Err(e) => panic!("gateway: {e}"),
    }
}

async fn first_response(client: &HttpClient, addr: SocketAddr) -> Duration {
    let started = Instant::now();
    if let Err(e) = get(client, &format!("http://{addr}/"), "hello.localhost").await {
        panic!("cold request failed: {e}");
    }
    started.elapsed()
}

/// The demo app started bare: spawn to first answered request, polling as
/// fast as a client reasonably can (every 1 ms).
async fn bare_boot(client: &HttpClient) -> Duration {
    let started = Instant::now();
    let (_uri, mut child) = bare_app(client).await;
    let elapsed = started.elapsed();
    let _ = child.kill().await;
    elapsed
}

/// Starts the demo app on a free port and waits until it answers; the
/// process is killed when the returned child is dropped.
async fn bare_app(client: &HttpClient) -> (String, tokio::process::Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
    let port = port.unwrap_or_else(|e| panic!("port: {e}"));
    let child = tokio::process::Command::new(EXE)
        .args(["demo-app", "--name", "hello", "--port", &port.to_string()])
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn demo app: {e}"));
    let uri = format!("http://127.0.0.1:{port}/");
    while get(client, &uri, "hello").await.is_err() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (uri, child)
}

/// Resident memory of this process (the in-process gateway plus the load
/// generator), from /proc.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Lands office-hours (closed, refusing) in the policies directory and times
/// until a client gets its 503; removes it and times until the default
/// serves again.
async fn swap_times(client: &HttpClient, office_hours: &[u8]) {
    let closed = "policy = \"office-hours\"\n[apps.params]\ntimezone = \"UTC\"\ndays = \"Mon-Sun\"\nopen = \"00:00\"\nclose = \"00:01\"\noff_hours = \"refuse\"";
    let (gateway, dir) = start_gateway_with(true, closed, None).await;
    let uri = format!("http://{}/", gateway.local_addr());
    let status = |client: &HttpClient| {
        let (client, uri) = (client.clone(), uri.clone());
        async move {
            let request = http::Request::get(&uri).header("host", "hello.localhost").body(Empty::new());
            let request = request.unwrap_or_else(|e| panic!("request: {e}"));
            match client.request(request).await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            }
        }
    };
    let file = dir.path().join("office-hours.wasm");
    let mut landed = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let aside = dir.path().join(".office-hours.partial");
        if let Err(e) = std::fs::write(&aside, office_hours).and_then(|()| std::fs::rename(&aside, &file)) {
            panic!("landing the policy: {e}");
        }
        while status(client).await != 503 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        landed.push(started.elapsed());
        let _ = std::fs::remove_file(&file);
        while status(client).await != 200 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    println!("policy file landing to taking effect, median of 5: {:.0} ms", ms(median(landed)));
    gateway.shutdown().await;
}

/// A gateway with an HTTPS listener whose certificate a fresh CA signed, and
/// a keep-alive client trusting that CA.
async fn https_vs_http(concurrency: u64, secs: u64) {
    use hyper_util::client::legacy::connect::Connect;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let ca_cert = ca_params.self_signed(&ca_key).unwrap_or_else(|e| panic!("{e}"));
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let cert = rcgen::CertificateParams::new(vec!["hello.localhost".to_owned(), "127.0.0.1".to_owned()])
        .and_then(|p| p.signed_by(&key, &issuer))
        .unwrap_or_else(|e| panic!("{e}"));
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&key_file, key.serialize_pem()).unwrap_or_else(|e| panic!("{e}"));
    let https = format!(
        "[edge]\n[[edge.https]]\nlisten = \"127.0.0.1:0\"\ncerts = [{{ cert = {:?}, key = {:?} }}]\n",
        cert_file.display().to_string(),
        key_file.display().to_string()
    );
    let mut text = config_text(dir.path(), true, "");
    text = text.replacen("[[apps]]", &format!("{https}\n[[apps]]"), 1);
    let gateway = match Gateway::start(Config::parse(&text, "<bench>").unwrap_or_else(|e| panic!("{e}"))).await {
        Ok(g) => g,
        Err(e) => panic!("gateway: {e}"),
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).unwrap_or_else(|e| panic!("{e}"));
    let tls =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("{e}"))
            .with_root_certificates(roots)
            .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(http);

    async fn run<C: Connect + Clone + Send + Sync + 'static>(
        client: Client<C, Empty<Bytes>>,
        uri: String,
        concurrency: u64,
        secs: u64,
    ) -> f64 {
        let until = Instant::now() + Duration::from_secs(secs);
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (client, uri) = (client.clone(), uri.clone());
                tokio::spawn(async move {
                    let mut done = 0u64;
                    while Instant::now() < until {
                        let request = http::Request::get(&uri).header("host", "hello.localhost").body(Empty::new());
                        let Ok(request) = request else { continue };
                        if let Ok(response) = client.request(request).await
                            && response.status() == 200
                            && response.into_body().collect().await.is_ok()
                        {
                            done += 1;
                        }
                    }
                    done
                })
            })
            .collect();
        let started = Instant::now();
        let mut total = 0;
        for worker in workers {
            total += worker.await.unwrap_or(0);
        }
        total as f64 / started.elapsed().as_secs_f64()
    }
    let https_port = gateway.https_addrs()[0].port();
    let plain_port = gateway.local_addr().port();
    let _ = first_response(&Client::builder(TokioExecutor::new()).build_http(), gateway.local_addr()).await;
    let https_client = Client::builder(TokioExecutor::new()).build(connector);
    // One request first, so a broken setup says why instead of 0 req/s.
    let probe = http::Request::get(format!("https://127.0.0.1:{https_port}/"))
        .header("host", "hello.localhost")
        .body(Empty::new())
        .unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = https_client.request(probe).await {
        panic!("HTTPS request failed: {e:?}");
    }
    let https_rps = run(https_client, format!("https://127.0.0.1:{https_port}/"), concurrency, secs).await;
    let http_client = Client::builder(TokioExecutor::new()).build_http();
    let http_rps = run(http_client, format!("http://127.0.0.1:{plain_port}/"), concurrency, secs).await;
    println!(
        "keep-alive through the same gateway ({concurrency} connections, {secs} s): HTTPS (TLS 1.3, HTTP/1.1) {https_rps:.0} req/s, plain HTTP {http_rps:.0} req/s"
    );
    gateway.shutdown().await;
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too. Only run
    // when asked to bench, so the test suite stays fast.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // The gateway runs in this process; its app supervisors are the real binary.
    paastis::testing::set_supervisor_executable(EXE.into());
    let secs = knob("BENCH_SECS", 5);
    let concurrency = knob("BENCH_CONCURRENCY", 32);
    let cold_runs = knob("BENCH_COLD_RUNS", 10);
    let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build_http();
    if std::env::var_os("BENCH_ONLY_HTTPS").is_some() {
        https_vs_http(concurrency, secs).await;
        return;
    }

    let mut cold = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..cold_runs {
        bare.push(bare_boot(&client).await);
        let (gateway, _dir) = start_gateway(true).await;
        cold.push(first_response(&client, gateway.local_addr()).await);
        gateway.shutdown().await;
    }
    let (cold, bare) = (median(cold), median(bare));
    println!(
        "cold start, median of {cold_runs}: {:.1} ms through the gateway, {:.1} ms bare app boot, overhead {:.1} ms",
        ms(cold),
        ms(bare),
        ms(cold) - ms(bare)
    );

    {
        let (uri, _app) = bare_app(&client).await;
        let rps = load(uri, "hello", concurrency, secs).await;
        println!("the demo app directly, no gateway: {rps:.0} req/s ({concurrency} connections, {secs} s)");
    }
    let office_hours = std::fs::read(office_hours::build()).unwrap_or_else(|e| panic!("office-hours: {e}"));
    {
        // Open around the clock, so every request is forwarded.
        let open = "policy = \"office-hours\"\n[apps.params]\ntimezone = \"Europe/Paris\"\nopen = \"00:00\"\nclose = \"00:00\"\ndays = \"Mon-Sun\"";
        let (gateway, _dir) = start_gateway_with(true, open, Some(("office-hours", &office_hours))).await;
        let _ = first_response(&client, gateway.local_addr()).await;
        let rps = load(format!("http://{}/", gateway.local_addr()), "hello.localhost", concurrency, secs).await;
        println!(
            "through the gateway with office-hours serving the app: {rps:.0} req/s ({concurrency} connections, {secs} s)"
        );
        gateway.shutdown().await;
    }
    swap_times(&client, &office_hours).await;
    https_vs_http(concurrency, secs).await;

    for call_on_request in [true, false] {
        let (gateway, _dir) = start_gateway(call_on_request).await;
        let uri = format!("http://{}/", gateway.local_addr());
        let _ = first_response(&client, gateway.local_addr()).await;
        let rps = load(uri, "hello.localhost", concurrency, secs).await;
        let label = if call_on_request { "with the policy call" } else { "without the policy call" };
        println!(
            "through the gateway {label}: {rps:.0} req/s ({concurrency} connections, {secs} s); bench process RSS {:.0} MiB",
            rss_mib()
        );
        gateway.shutdown().await;
    }
}
