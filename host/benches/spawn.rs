//! Starting process apps, as a bench binary rather than timed assertions in
//! tests:
//! - the cold-start overhead: the first response through the gateway minus
//!   the app's own boot (started bare, polled every 100 µs), for the demo app
//!   and for python's `http.server`, with a few apps configured and with
//!   BENCH_APPS (10,000) configured; each one measured with the gateway's
//!   supervisors ready (`settle_supervisors`);
//! - the cost of a spawn as the gateway grows: the gap between consecutive
//!   app starts while BENCH_WAKES (1,000) apps are woken at once, with
//!   BENCH_APPS configured, and the wall time until all of them answered.
//!
//! Run: `cargo bench -p paastis --bench spawn` with RUST_BACKTRACE unset
//! (knobs: BENCH_APPS, BENCH_WAKES, BENCH_COLD_RUNS). Needs python3.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use paastis::Config;
use paastis::Gateway;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

const EXE: &str = env!("CARGO_BIN_EXE_paastis");

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// The instants at which the gateway logged "app process started".
#[derive(Clone, Default)]
struct Starts(Arc<Mutex<Vec<Instant>>>);

impl Starts {
    fn take(&self) -> Vec<Instant> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Starts {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct IsStart(bool);
        impl tracing::field::Visit for IsStart {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" && format!("{value:?}") == "app process started" {
                    self.0 = true;
                }
            }
        }
        let mut is_start = IsStart(false);
        event.record(&mut is_start);
        if is_start.0 {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(Instant::now());
        }
    }
}

fn demo_command(name: &str) -> String {
    format!("[{EXE:?}, \"demo-app\", \"--name\", {name:?}, \"--port\", \"{{port}}\"]")
}

const PYTHON: &str = "[\"python3\", \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\"]";

/// `demo` demo apps named `demo0`…, and `python` http.server apps `py0`….
fn config(dir: &Path, demo: usize, python: usize) -> Config {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n[store]\npath = {:?}\n[admin]\nenabled = false\n[policy.params]\nidle_timeout = \"1h\"\n",
        dir.join("store").display().to_string()
    );
    for i in 0..demo {
        let name = format!("demo{i}");
        text.push_str(&format!(
            "[[apps]]\nname = {name:?}\nbackend = \"process\"\ncommand = {}\nwake_timeout = \"300s\"\n",
            demo_command(&name)
        ));
    }
    let www = dir.join("www");
    if let Err(e) = std::fs::create_dir_all(&www) {
        panic!("{e}");
    }
    for i in 0..python {
        text.push_str(&format!(
            "[[apps]]\nname = \"py{i}\"\nbackend = \"process\"\ncommand = {PYTHON}\ncwd = {:?}\nwake_timeout = \"60s\"\n",
            www.display().to_string()
        ));
    }
    Config::parse(&text, "<bench>").unwrap_or_else(|e| panic!("bench config: {e}"))
}

async fn first_response(client: &HttpClient, addr: SocketAddr, host: &str) -> Duration {
    let started = Instant::now();
    let request = http::Request::get(format!("http://{addr}/")).header("host", host).body(Empty::new());
    let response = match client.request(request.unwrap_or_else(|e| panic!("{e}"))).await {
        Ok(r) => r,
        Err(e) => panic!("request to {host} failed: {e}"),
    };
    let status = response.status();
    let _ = response.into_body().collect().await;
    if status != 200 {
        panic!("{host}: status {status}");
    }
    started.elapsed()
}

fn free_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("port: {e}"),
    }
}

/// One GET on a fresh connection, blocking; true on a 200.
fn get_ok(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    if stream.write_all(b"GET / HTTP/1.1\r\nHost: bare\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

/// The app's own boot: from spawning it to its first 200, polled every 100 µs.
async fn bare_boot(argv: Vec<String>) -> Duration {
    let joined = tokio::task::spawn_blocking(move || {
        let port = free_port();
        let argv: Vec<String> = argv.iter().map(|a| a.replace("{port}", &port.to_string())).collect();
        let started = Instant::now();
        let mut child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(std::env::temp_dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
        while !get_ok(port) {
            std::thread::sleep(Duration::from_micros(100));
        }
        let elapsed = started.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        elapsed
    });
    joined.await.unwrap_or_else(|e| panic!("{e}"))
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Waits until the gateway (in this process) has its two supervisors
/// started ahead of need, so that neither a bare boot nor a wake shares the
/// CPU with the start of a replacement, as a wake spaced from the last one
/// does not.
fn settle_supervisors() {
    let me = std::process::id().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = processes();
        let waiting = all
            .iter()
            .filter(|(pid, parent, argv)| {
                *parent == me
                    && argv.windows(3).any(|w| w[0] == "supervise" && w[1] == "--parent" && w[2] == me)
                    && !all.iter().any(|(_, parent, _)| parent == pid)
            })
            .count();
        if waiting >= 2 {
            return;
        }
        if Instant::now() > deadline {
            panic!("the gateway has {waiting} supervisors waiting after 10 s, not 2");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every process: its pid, its parent's pid and its command line.
fn processes() -> Vec<(String, String, Vec<String>)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?.to_string();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let parent = stat.rsplit_once(')')?.1.split_ascii_whitespace().nth(1)?.to_owned();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let argv = cmdline.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            Some((pid, parent, argv))
        })
        .collect()
}

/// Cold starts through `gateway`, each on an app not woken before (`demo{first}`…
/// and `py0`…), next to the same apps booted bare; prints the medians.
async fn cold_starts(label: &str, gateway: &Gateway, client: &HttpClient, first_demo: usize, runs: usize) {
    let demo_argv = |name: &str| -> Vec<String> {
        [EXE, "demo-app", "--name", name, "--port", "{port}"].iter().map(|s| s.to_string()).collect()
    };
    let python_argv: Vec<String> =
        ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"].iter().map(|s| s.to_string()).collect();
    let (mut demo, mut demo_bare, mut py, mut py_bare) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        settle_supervisors();
        demo_bare.push(bare_boot(demo_argv("bare")).await);
        settle_supervisors();
        demo.push(first_response(client, gateway.local_addr(), &format!("demo{}.localhost", first_demo + run)).await);
        settle_supervisors();
        py_bare.push(bare_boot(python_argv.clone()).await);
        settle_supervisors();
        py.push(first_response(client, gateway.local_addr(), &format!("py{run}.localhost")).await);
    }
    for (app, through, bare) in [("demo app", demo, demo_bare), ("python http.server", py, py_bare)] {
        let (through, bare) = (median(through), median(bare));
        println!(
            "{label}: cold start of the {app}, median of {runs}: {:.2} ms through the gateway, {:.2} ms bare, overhead {:.2} ms",
            ms(through),
            ms(bare),
            ms(through) - ms(bare)
        );
    }
}

#[tokio::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        panic!("python3 is missing: apt-get install -y python3");
    }
    // The gateway runs in this process; its supervisors are the real binary.
    paastis::testing::set_supervisor_executable(EXE.into());
    let starts = Starts::default();
    if tracing::subscriber::set_global_default(tracing_subscriber::registry().with(starts.clone())).is_err() {
        panic!("cannot install the bench's tracing subscriber");
    }
    let apps = knob("BENCH_APPS", 10_000);
    let wakes = knob("BENCH_WAKES", 1_000).min(apps);
    let runs = knob("BENCH_COLD_RUNS", 15);
    let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build_http();

    {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let gateway = Gateway::start(config(dir.path(), runs, runs)).await.unwrap_or_else(|e| panic!("gateway: {e}"));
        cold_starts(&format!("{} apps configured", 2 * runs), &gateway, &client, 0, runs).await;
        gateway.shutdown().await;
    }

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let gateway = Gateway::start(config(dir.path(), apps, runs)).await.unwrap_or_else(|e| panic!("gateway: {e}"));
    println!("{apps} apps configured: bench process RSS {:.0} MiB", rss_mib());
    // Apps past the ones woken all at once below.
    cold_starts(&format!("{apps} apps configured"), &gateway, &client, wakes, runs).await;

    starts.take();
    let addr = gateway.local_addr();
    let started = Instant::now();
    let requests = (0..wakes).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            let request = http::Request::get(format!("http://{addr}/")).header("host", format!("demo{i}.localhost"));
            match client.request(request.body(Empty::new()).unwrap_or_else(|e| panic!("{e}"))).await {
                Ok(response) => response.status().as_u16(),
                Err(_) => 0,
            }
        })
    });
    let statuses = futures_util::future::join_all(requests.collect::<Vec<_>>()).await;
    let all = started.elapsed();
    let ok = statuses.iter().filter(|s| matches!(s, Ok(200))).count();
    let mut times = starts.take();
    times.sort();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let spread = times.last().zip(times.first()).map(|(last, first)| *last - *first).unwrap_or_default();
    println!(
        "{wakes} apps woken at once with {apps} configured: {ok} answered 200 in {:.2} s; {} starts, {:.2} ms apart on average (median gap {:.3} ms, first to last {:.2} s); bench process RSS {:.0} MiB",
        all.as_secs_f64(),
        times.len(),
        ms(spread) / gaps.len().max(1) as f64,
        ms(if gaps.is_empty() { Duration::ZERO } else { median(gaps) }),
        spread.as_secs_f64(),
        rss_mib()
    );
    let stopping = Instant::now();
    gateway.shutdown().await;
    println!("shutdown with {wakes} apps awake: {:.2} s", stopping.elapsed().as_secs_f64());
}
