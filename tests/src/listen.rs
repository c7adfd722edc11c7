//! `server.listen` takes a list: browsers try `[::1]` first for
//! `*.localhost`, so a local gateway listens on both loopbacks.

use crate::support::{AppBuilder, GatewayBuilder, Logs, TestClient, spawn_paastis_with_env};
use std::net::SocketAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn ipv6_loopback() {
    std::net::TcpListener::bind("[::1]:0")
        .expect("these tests need the IPv6 loopback: enable it with `sysctl -w net.ipv6.conf.lo.disable_ipv6=0`");
}

/// The addresses of the first `n` "listening" lines.
async fn listening(logs: &Logs, n: usize) -> Vec<SocketAddr> {
    let mut addrs = Vec::new();
    for nth in 1..=n {
        let line = logs.wait_for_nth("listening", "", nth, WAIT).await;
        addrs.push(line["addr"].as_str().and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("{line}")));
    }
    addrs
}

async fn hello_on(addr: SocketAddr) {
    let response = TestClient::new(addr).get("hello.localhost", "/").await;
    assert_eq!(response.status, 200, "on {addr}: {}", response.text());
    assert!(response.text().starts_with("Hello from hello!"), "{}", response.text());
}

pub async fn the_gateway_serves_on_every_address_of_a_listen_list() {
    ipv6_loopback();
    let gateway = GatewayBuilder::new().listen(&["127.0.0.1:0", "[::1]:0"]).app(AppBuilder::new("hello")).spawn().await;
    let addrs = listening(&gateway.logs, 2).await;
    assert!(addrs[0].ip().is_loopback() && addrs[0].is_ipv4(), "{addrs:?}");
    assert!(addrs[1].ip().is_loopback() && addrs[1].is_ipv6(), "{addrs:?}");
    for addr in addrs {
        hello_on(addr).await;
    }
}

/// `paastis demo` listens on both loopbacks (its default, checked by a unit
/// test of the command line; here on ephemeral ports).
pub async fn the_demo_listens_on_both_loopbacks() {
    ipv6_loopback();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let args = [
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--listen",
        "[::1]:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--data-dir",
        &data,
    ];
    let (_child, logs) = spawn_paastis_with_env(&args, &[]);
    let addrs = listening(&logs, 2).await;
    assert!(addrs[1].is_ipv6(), "{addrs:?}");
    for addr in addrs {
        hello_on(addr).await;
    }
}
