//! A fake Clever Cloud API v2 (bearer API tokens, as on api-bridge): the
//! user's applications under `/v2/self/applications`, with `state`
//! SHOULD_BE_UP/SHOULD_BE_DOWN; `POST …/instances` starts an app,
//! `DELETE …/instances` stops it; `GET …/instances` lists them with their
//! state.

use super::fake_http::{self, Script};
use bytes::Bytes;
use http::Request;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

struct App {
    name: String,
    up: bool,
    upstream: SocketAddr,
}

#[derive(Default)]
struct State {
    /// By `app_…` id.
    apps: BTreeMap<String, App>,
    starts: HashMap<String, usize>,
}

#[derive(Clone)]
pub struct FakeCleverCloud {
    pub addr: SocketAddr,
    token: String,
    state: Arc<Mutex<State>>,
    pub script: Arc<Script>,
}

impl FakeCleverCloud {
    pub async fn start(token: &str) -> FakeCleverCloud {
        let mut fake = FakeCleverCloud {
            addr: "127.0.0.1:1".parse().unwrap(),
            token: token.into(),
            state: Arc::default(),
            script: Arc::new(Script::default()),
        };
        fake.addr = fake_http::serve_fake(&fake, |this, request| async move { this.handle(request).await }).await;
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn add_app(&self, id: &str, name: &str, up: bool) {
        let state = self.state.clone();
        let key = id.to_owned();
        let running = Arc::new(move || state.lock().unwrap().apps.get(&key).is_some_and(|a| a.up));
        let upstream = fake_http::app_upstream(name.to_owned(), running).await;
        self.state.lock().unwrap().apps.insert(id.into(), App { name: name.into(), up, upstream });
    }

    pub fn upstream(&self, id: &str) -> String {
        format!("http://{}", self.state.lock().unwrap().apps[id].upstream)
    }

    pub fn is_up(&self, id: &str) -> bool {
        self.state.lock().unwrap().apps[id].up
    }

    pub fn starts(&self, id: &str) -> usize {
        self.state.lock().unwrap().starts.get(id).copied().unwrap_or(0)
    }

    async fn handle(&self, request: Request<Bytes>) -> fake_http::FakeResponse {
        if let Some(response) = self.script.fault(&request).await {
            return response;
        }
        let response = self.route(&request);
        self.script.record(&request, response.status().as_u16());
        response
    }

    fn route(&self, request: &Request<Bytes>) -> fake_http::FakeResponse {
        let auth = request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        if auth != format!("Bearer {}", self.token) {
            return error(401, "Not authorized");
        }
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut state = self.state.lock().unwrap();
        match (request.method().as_str(), segments.as_slice()) {
            ("GET", ["v2", "self", "applications"]) => {
                let apps: Vec<serde_json::Value> = state.apps.iter().map(|(id, app)| app_json(id, app)).collect();
                fake_http::json(200, serde_json::Value::Array(apps))
            }
            ("GET", ["v2", "self", "applications", id]) => match state.apps.get(*id) {
                Some(app) => fake_http::json(200, app_json(id, app)),
                None => error(404, "Application not found"),
            },
            ("GET", ["v2", "self", "applications", id, "instances"]) => match state.apps.get(*id) {
                Some(app) if app.up => fake_http::json(
                    200,
                    serde_json::json!([{
                        "id": "instance-1", "appId": id, "state": "UP", "flavor": {"name": "XS"}, "commit": "abc",
                    }]),
                ),
                Some(_) => fake_http::json(200, serde_json::json!([])),
                None => error(404, "Application not found"),
            },
            ("POST", ["v2", "self", "applications", id, "instances"]) => {
                let id = id.to_string();
                let Some(app) = state.apps.get_mut(&id) else { return error(404, "Application not found") };
                app.up = true;
                *state.starts.entry(id).or_default() += 1;
                fake_http::json(
                    200,
                    serde_json::json!({
                        "id": 200, "type": "success", "message": "The application has successfully been queued for redeploy.",
                        "deploymentId": "deployment_1",
                    }),
                )
            }
            ("DELETE", ["v2", "self", "applications", id, "instances"]) => {
                let Some(app) = state.apps.get_mut(*id) else { return error(404, "Application not found") };
                app.up = false;
                fake_http::json(
                    200,
                    serde_json::json!({
                        "id": 200, "type": "success", "message": "The application has been stopped.",
                    }),
                )
            }
            _ => error(404, "Not found"),
        }
    }
}

fn app_json(id: &str, app: &App) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "name": app.name,
        "state": if app.up { "SHOULD_BE_UP" } else { "SHOULD_BE_DOWN" },
        "vhosts": [{"fqdn": format!("{}.cleverapps.io", id.replace('_', "-"))}],
        "instance": {"type": "node", "minInstances": 1, "maxInstances": 1},
    })
}

fn error(status: u16, message: &str) -> fake_http::FakeResponse {
    fake_http::json(status, serde_json::json!({"id": status, "message": message, "type": "error"}))
}
