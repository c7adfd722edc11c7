//! A stranger listening on an app's port is never taken for the app.

use crate::support::{AppBuilder, GatewayBuilder, free_port, wait_pid_gone};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(20);

/// An HTTP server of the test's own that answers 200 to anything and keeps
/// the request heads it got.
struct Impostor {
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Impostor {
    async fn listen(port: u16) -> Impostor {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind the impostor");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let kept = heads.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    kept.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nimpostor")
                        .await;
                });
            }
        });
        Impostor { heads, task }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for Impostor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn assert_clear_503(response: &crate::support::TestResponse, port: u16) {
    assert_eq!(response.status, 503, "{}", response.text());
    assert!(response.headers.contains_key("retry-after"));
    let body = response.text();
    assert!(body.contains(&format!("port {port}")) && body.contains("in use by another process"), "{body}");
    assert!(!body.contains("impostor"), "{body}");
}

pub async fn an_impostor_on_the_port_gets_no_traffic_and_the_client_a_clear_503() {
    let (early, late) = (free_port(), free_port());
    let gateway = GatewayBuilder::new()
        .app(AppBuilder::new("early").key("port", &early.to_string()))
        .app(AppBuilder::new("late").key("port", &late.to_string()).boot_delay("3s"))
        .spawn()
        .await;
    let client = gateway.client();

    // Already there when the app would start: the app is not even started.
    let impostor = Impostor::listen(early).await;
    assert_clear_503(&client.get("early.localhost", "/for-the-app-only").await, early);
    assert!(impostor.heads().is_empty(), "{:?}", impostor.heads());
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "early"), 0);

    // Arrives while the app boots: it answers the readiness probe, which
    // sees that the socket is not the app's.
    let request = tokio::spawn({
        let client = client.clone();
        async move { client.get("late.localhost", "/for-the-app-only").await }
    });
    let pid = gateway.app_pid("late", 1).await;
    let impostor = Impostor::listen(late).await;
    assert_clear_503(&request.await.unwrap(), late);
    // The probe's bare connects, which come before its GET, send nothing.
    let heads: Vec<String> = impostor.heads().into_iter().filter(|head| !head.is_empty()).collect();
    assert!(!heads.is_empty(), "the probe reached the impostor");
    for head in heads {
        assert!(head.starts_with("GET / ") && head.contains("paastis-readiness"), "only probes: {head}");
    }
    // The app, which could not have bound its port, is not left behind.
    wait_pid_gone(pid, WAIT).await;
}
