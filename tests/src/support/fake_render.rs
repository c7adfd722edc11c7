//! A fake Render API (api-docs.render.com) under `/v1`: Bearer API keys;
//! `GET /services` as a list of `{cursor, service}` with `limit` (at most
//! 100), `cursor`, `type` and `ownerId`; `GET /services/{id}` with
//! `suspended`, `suspenders` and `serviceDetails {url, numInstances}`;
//! `POST …/suspend`, `…/resume` and `…/scale` answering 202 and taking
//! effect a few polls later, a resume going through a new deploy
//! (`update_in_progress`, then `live`); `GET …/deploys?limit=1` as
//! `{cursor, deploy}`. Every answer carries `Ratelimit-Limit`,
//! `Ratelimit-Remaining` and `Ratelimit-Reset`; a scripted storm answers 429
//! with them (and no Retry-After). Errors are `{"id", "message"}`.

use super::fake_http::{self, Script};
use bytes::Bytes;
use http::Request;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub const OWNER: &str = "tea-paastis0test0owner";

struct Service {
    name: String,
    owner: String,
    suspended: bool,
    suspenders: Vec<String>,
    num_instances: u32,
    url: String,
    /// Polls left before a suspend or resume shows.
    pending: Option<(bool, usize)>,
    /// (id, status, polls left before `live`).
    deploys: Vec<(String, String, usize)>,
}

#[derive(Default)]
struct State {
    /// By `srv-…` id.
    services: BTreeMap<String, Service>,
    /// Polls a suspend, a resume or a deploy takes to show.
    slowness: usize,
    calls: HashMap<String, usize>,
    /// The query of each `GET /services`.
    list_queries: Vec<String>,
    scales: Vec<(String, u32)>,
    /// 429s still to answer, and their `Ratelimit-Reset`.
    storm: Option<(usize, u64)>,
    limited: usize,
}

#[derive(Clone)]
pub struct FakeRender {
    pub addr: SocketAddr,
    token: String,
    state: Arc<Mutex<State>>,
    pub script: Arc<Script>,
}

fn json_of(request: &Request<Bytes>) -> serde_json::Value {
    serde_json::from_slice(request.body()).unwrap_or_default()
}

impl FakeRender {
    pub async fn start(token: &str) -> FakeRender {
        let state = State { slowness: 2, ..State::default() };
        let mut fake = FakeRender {
            addr: "127.0.0.1:1".parse().unwrap(),
            token: token.into(),
            state: Arc::new(Mutex::new(state)),
            script: Arc::new(Script::default()),
        };
        fake.addr = fake_http::serve_fake(&fake, |this, request| async move { this.handle(request).await }).await;
        fake
    }

    /// The `api_url` to configure (Render's base includes `/v1`).
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// A web service whose URL is a fake upstream answering while it runs.
    pub async fn add_service(&self, id: &str, name: &str, num_instances: u32) {
        let state = self.state.clone();
        let key = id.to_owned();
        let running = Arc::new(move || state.lock().unwrap().services.get(&key).is_some_and(|s| !s.suspended));
        let upstream = fake_http::app_upstream(name.to_owned(), running).await;
        self.insert(id, name, num_instances, format!("http://{upstream}"));
    }

    /// A web service with a URL nobody serves (for listings).
    pub fn add_listed_service(&self, id: &str, name: &str) {
        self.insert(id, name, 1, format!("https://{name}.onrender.com"));
    }

    fn insert(&self, id: &str, name: &str, num_instances: u32, url: String) {
        let service = Service {
            name: name.into(),
            owner: OWNER.into(),
            suspended: false,
            suspenders: Vec::new(),
            num_instances,
            url,
            pending: None,
            deploys: vec![(format!("dep-{id}-0"), "live".into(), 0)],
        };
        self.state.lock().unwrap().services.insert(id.into(), service);
    }

    /// Suspends a service from outside the gateway, for these reasons.
    pub fn suspend_by(&self, id: &str, suspenders: &[&str]) {
        let mut state = self.state.lock().unwrap();
        let service = state.services.get_mut(id).expect("known service");
        service.suspended = true;
        service.suspenders = suspenders.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Sets the instance count, as a manual scale from the dashboard would.
    pub fn set_instances(&self, id: &str, n: u32) {
        self.state.lock().unwrap().services.get_mut(id).expect("known service").num_instances = n;
    }

    pub fn is_suspended(&self, id: &str) -> bool {
        self.state.lock().unwrap().services[id].suspended
    }

    pub fn instances(&self, id: &str) -> u32 {
        self.state.lock().unwrap().services[id].num_instances
    }

    /// Calls made, by `METHOD last-path-segment`, such as `POST resume`.
    pub fn calls(&self, call: &str) -> usize {
        self.state.lock().unwrap().calls.get(call).copied().unwrap_or(0)
    }

    pub fn list_queries(&self) -> Vec<String> {
        self.state.lock().unwrap().list_queries.clone()
    }

    /// `POST …/scale` calls, as (service id, numInstances).
    pub fn scales(&self) -> Vec<(String, u32)> {
        self.state.lock().unwrap().scales.clone()
    }

    /// The next `n` calls answer 429 with `Ratelimit-Reset: reset`.
    pub fn storm(&self, n: usize, reset: u64) {
        self.state.lock().unwrap().storm = Some((n, reset));
    }

    /// 429s answered so far.
    pub fn limited(&self) -> usize {
        self.state.lock().unwrap().limited
    }

    async fn handle(&self, request: Request<Bytes>) -> fake_http::FakeResponse {
        if let Some(response) = self.script.fault(&request).await {
            return response;
        }
        let (mut response, reset) = {
            let mut state = self.state.lock().unwrap();
            match state.storm {
                Some((n, reset)) if n > 0 => {
                    state.storm = Some((n - 1, reset));
                    state.limited += 1;
                    (error(429, "rate_limited", "Rate limit has been surpassed"), reset)
                }
                _ => (self.route(&mut state, &request), 60),
            }
        };
        self.script.record(&request, response.status().as_u16());
        let remaining: u64 = if response.status() == 429 { 0 } else { 399 };
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", 400.into());
        headers.insert("ratelimit-remaining", remaining.into());
        headers.insert("ratelimit-reset", reset.into());
        response
    }

    fn route(&self, state: &mut State, request: &Request<Bytes>) -> fake_http::FakeResponse {
        let authorization = request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        if authorization != format!("Bearer {}", self.token) {
            return error(401, "unauthorized", "Authorization information is missing or invalid.");
        }
        let path = request.uri().path().to_owned();
        let query: HashMap<String, String> = request
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let method = request.method().as_str();
        let call = format!("{method} {}", segments.last().unwrap_or(&""));
        *state.calls.entry(call).or_default() += 1;
        let slowness = state.slowness;
        match (method, segments.as_slice()) {
            ("GET", ["v1", "services"]) => {
                state.list_queries.push(request.uri().query().unwrap_or("").to_owned());
                list(state, &query)
            }
            ("GET", ["v1", "services", id]) => match state.services.get_mut(*id) {
                Some(service) => {
                    advance(service);
                    fake_http::json(200, service_json(id, service))
                }
                None => not_found(),
            },
            ("GET", ["v1", "services", id, "deploys"]) => match state.services.get_mut(*id) {
                Some(service) => {
                    let limit = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
                    for deploy in service.deploys.iter_mut() {
                        if deploy.2 > 0 {
                            deploy.2 -= 1;
                        } else if deploy.1 == "update_in_progress" {
                            deploy.1 = "live".into();
                        }
                    }
                    let deploys: Vec<serde_json::Value> = service
                        .deploys
                        .iter()
                        .rev()
                        .take(limit)
                        .map(|(id, status, _)| {
                            serde_json::json!({"cursor": format!("c-{id}"), "deploy": {"id": id, "status": status, "trigger": "service_resumed"}})
                        })
                        .collect();
                    fake_http::json(200, serde_json::Value::Array(deploys))
                }
                None => not_found(),
            },
            ("POST", ["v1", "services", id, "suspend"]) => match state.services.get_mut(*id) {
                Some(service) => {
                    service.pending = Some((true, slowness));
                    fake_http::text(202, String::new())
                }
                None => not_found(),
            },
            ("POST", ["v1", "services", id, "resume"]) => match state.services.get_mut(*id) {
                Some(service) if !service.suspended => error(400, "bad_request", "the service is not suspended"),
                Some(service) => {
                    service.pending = Some((false, slowness));
                    let n = service.deploys.len();
                    service.deploys.push((format!("dep-{id}-{n}"), "update_in_progress".into(), slowness));
                    fake_http::text(202, String::new())
                }
                None => not_found(),
            },
            ("POST", ["v1", "services", id, "scale"]) => {
                let Some(n) = json_of(request)["numInstances"].as_u64() else {
                    return error(400, "bad_request", "numInstances is required");
                };
                match state.services.get_mut(*id) {
                    Some(service) => {
                        service.num_instances = n as u32;
                        state.scales.push(((*id).to_owned(), n as u32));
                        fake_http::text(202, String::new())
                    }
                    None => not_found(),
                }
            }
            _ => not_found(),
        }
    }
}

/// A suspend or resume shows once its polls have passed.
fn advance(service: &mut Service) {
    if let Some((suspend, polls)) = service.pending {
        if polls > 0 {
            service.pending = Some((suspend, polls - 1));
            return;
        }
        service.pending = None;
        service.suspended = suspend;
        service.suspenders = if suspend { vec!["user".into()] } else { Vec::new() };
    }
}

fn list(state: &State, query: &HashMap<String, String>) -> fake_http::FakeResponse {
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return error(400, "bad_request", "limit must be between 1 and 100");
    }
    let after = query.get("cursor").and_then(|c| c.strip_prefix("c-"));
    let services: Vec<serde_json::Value> = state
        .services
        .iter()
        .filter(|(id, _)| after.is_none_or(|after| id.as_str() > after))
        .filter(|(_, s)| query.get("ownerId").is_none_or(|o| *o == s.owner))
        .filter(|_| query.get("type").is_none_or(|t| t == "web_service"))
        .take(limit)
        .map(|(id, s)| serde_json::json!({"cursor": format!("c-{id}"), "service": service_json(id, s)}))
        .collect();
    fake_http::json(200, serde_json::Value::Array(services))
}

fn service_json(id: &str, service: &Service) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "name": service.name,
        "ownerId": service.owner,
        "type": "web_service",
        "slug": service.name,
        "suspended": if service.suspended { "suspended" } else { "not_suspended" },
        "suspenders": service.suspenders,
        "autoDeploy": "yes",
        "serviceDetails": {
            "url": service.url,
            "numInstances": service.num_instances,
            "plan": "starter",
            "region": "frankfurt",
            "runtime": "docker",
        },
    })
}

fn error(status: u16, id: &str, message: &str) -> fake_http::FakeResponse {
    fake_http::json(status, serde_json::json!({"id": id, "message": message}))
}

fn not_found() -> fake_http::FakeResponse {
    error(404, "not_found", "Unable to find the requested resource.")
}
