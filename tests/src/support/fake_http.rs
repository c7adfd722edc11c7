//! Plumbing shared by the fake PaaS APIs: a hyper server on 127.0.0.1:0
//! whose handler sees whole requests, scriptable faults, a request journal,
//! and per-app upstreams that answer only while their app runs.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub type FakeResponse = Response<Full<Bytes>>;
pub type Handler = Arc<dyn Fn(Request<Bytes>) -> Pin<Box<dyn Future<Output = FakeResponse> + Send>> + Send + Sync>;

/// Serves a fake API held by clones: each request goes to `handle` with a
/// clone of `fake`.
pub async fn serve_fake<T, F, Fut>(fake: &T, handle: F) -> SocketAddr
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T, Request<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = FakeResponse> + Send + 'static,
{
    let fake = fake.clone();
    let handler: Handler = Arc::new(move |request| Box::pin(handle(fake.clone(), request)));
    serve(handler).await
}

/// An app of a formation-based platform (Scalingo, Heroku): container
/// amounts per type, and an upstream that answers while any is above zero.
pub struct FormationApp {
    pub formation: std::collections::BTreeMap<String, u32>,
    pub upstream: SocketAddr,
}

/// Adds a formation app to a fake's state; `apps` finds the app map in it.
pub async fn add_formation_app<S: Send + 'static>(
    state: &Arc<Mutex<S>>,
    apps: fn(&mut S) -> &mut std::collections::BTreeMap<String, FormationApp>,
    name: &str,
    formation: std::collections::BTreeMap<String, u32>,
) {
    let watched = state.clone();
    let app = name.to_owned();
    let running = Arc::new(move || {
        let mut state = watched.lock().unwrap();
        apps(&mut state).get(&app).is_some_and(|a| a.formation.values().any(|n| *n > 0))
    });
    let upstream = app_upstream(name.to_owned(), running).await;
    apps(&mut state.lock().unwrap()).insert(name.into(), FormationApp { formation, upstream });
}

/// Serves `handler` on a fresh loopback port until the runtime ends.
pub async fn serve(handler: Handler) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake server");
    let addr = listener.local_addr().expect("fake server address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let handler = handler.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        Ok::<_, Infallible>(handler(Request::from_parts(parts, body)).await)
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    addr
}

pub fn json(status: u16, value: serde_json::Value) -> FakeResponse {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("fake response")
}

pub fn text(status: u16, body: String) -> FakeResponse {
    Response::builder().status(status).body(Full::new(Bytes::from(body))).expect("fake response")
}

/// A scripted failure: the next `times` calls matching method and path
/// fragment answer `status` (with Retry-After when given), or stall.
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: &'static str,
    pub path_contains: String,
    pub status: u16,
    pub retry_after: Option<u64>,
    pub times: usize,
    /// Held this long before answering (a slow API).
    pub delay: Duration,
}

impl Fault {
    pub fn new(method: &'static str, path_contains: &str, status: u16) -> Fault {
        Fault {
            method,
            path_contains: path_contains.into(),
            status,
            retry_after: None,
            times: 1,
            delay: Duration::ZERO,
        }
    }
    pub fn retry_after(mut self, secs: u64) -> Fault {
        self.retry_after = Some(secs);
        self
    }
    /// Held this long before answering; with status 0 the call then goes on
    /// normally (a slow answer rather than an error).
    pub fn delay(mut self, delay: Duration) -> Fault {
        self.delay = delay;
        self
    }
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }
}

/// One request the fake saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: String,
    pub accept: String,
    pub status: u16,
}

#[derive(Default)]
pub struct Script {
    faults: Mutex<VecDeque<Fault>>,
    journal: Mutex<Vec<Seen>>,
}

impl Script {
    pub fn push(&self, fault: Fault) {
        self.faults.lock().unwrap().push_back(fault);
    }

    /// The fault for this request, if one is scripted; counts it down.
    pub fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap();
        let index = faults.iter().position(|f| f.method == method && path.contains(&f.path_contains))?;
        let fault = faults[index].clone();
        faults[index].times -= 1;
        if faults[index].times == 0 {
            faults.remove(index);
        }
        Some(fault)
    }

    pub fn clear(&self) {
        self.faults.lock().unwrap().clear();
    }

    pub fn record(&self, request: &Request<Bytes>, status: u16) {
        let header =
            |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        self.journal.lock().unwrap().push(Seen {
            method: request.method().as_str().to_owned(),
            path: request.uri().path().to_owned(),
            authorization: header("authorization"),
            accept: header("accept"),
            status,
        });
    }

    pub fn journal(&self) -> Vec<Seen> {
        self.journal.lock().unwrap().clone()
    }

    /// Requests with this method whose path ends with `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.journal().iter().filter(|s| s.method == method && s.path.ends_with(suffix)).count()
    }

    /// Applies the scripted fault for this request, if any.
    pub async fn fault(&self, request: &Request<Bytes>) -> Option<FakeResponse> {
        let fault = self.take(request.method().as_str(), request.uri().path())?;
        tokio::time::sleep(fault.delay).await;
        if fault.status == 0 {
            return None;
        }
        let mut response =
            json(fault.status, serde_json::json!({"error": "scripted failure", "message": "scripted failure"}));
        if let Some(secs) = fault.retry_after {
            response.headers_mut().insert("retry-after", secs.into());
        }
        self.record(request, fault.status);
        Some(response)
    }
}

/// An app's public host: 200 "Hello from NAME" while `running()` says so,
/// else 503 as a platform's router answers for a stopped app.
pub async fn app_upstream(name: String, running: Arc<dyn Fn() -> bool + Send + Sync>) -> SocketAddr {
    let handler: Handler = Arc::new(move |_request| {
        let (name, running) = (name.clone(), running.clone());
        Box::pin(async move {
            if running() {
                text(200, format!("Hello from {name}!"))
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE.as_u16(), format!("{name} is stopped"))
            }
        })
    });
    serve(handler).await
}
