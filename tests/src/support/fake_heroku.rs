//! A fake Heroku Platform API v3: `Accept: application/vnd.heroku+json;
//! version=3` required, Bearer auth, `GET /apps`, `GET /apps/{app}/formation`
//! and the batch `PATCH /apps/{app}/formation`; every answer carries
//! `RateLimit-Remaining`. Errors use Heroku's `{"id", "message"}` shape.

use super::fake_http::{self, Fault, FormationApp as App, Script};
use super::fake_scalingo::Formation;
use bytes::Bytes;
use http::Request;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const VERSION_3: &str = "application/vnd.heroku+json; version=3";

#[derive(Default)]
struct State {
    apps: BTreeMap<String, App>,
    patches: HashMap<String, usize>,
    remaining: u64,
}

#[derive(Clone)]
pub struct FakeHeroku {
    pub addr: SocketAddr,
    token: String,
    state: Arc<Mutex<State>>,
    pub script: Arc<Script>,
}

impl FakeHeroku {
    pub async fn start(token: &str) -> FakeHeroku {
        let state = Arc::new(Mutex::new(State { remaining: 4500, ..State::default() }));
        let mut fake = FakeHeroku {
            addr: "127.0.0.1:1".parse().unwrap(),
            token: token.into(),
            state,
            script: Arc::new(Script::default()),
        };
        fake.addr = fake_http::serve_fake(&fake, |this, request| async move { this.handle(request).await }).await;
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn add_app(&self, name: &str, formation: Formation) {
        fake_http::add_formation_app(&self.state, |s| &mut s.apps, name, formation).await;
    }

    pub fn formation(&self, name: &str) -> Formation {
        self.state.lock().unwrap().apps[name].formation.clone()
    }

    pub fn patches(&self, name: &str) -> usize {
        self.state.lock().unwrap().patches.get(name).copied().unwrap_or(0)
    }

    /// What `RateLimit-Remaining` says from now on (counting down).
    pub fn set_remaining(&self, remaining: u64) {
        self.state.lock().unwrap().remaining = remaining;
    }

    pub fn fail(&self, fault: Fault) {
        self.script.push(fault);
    }

    async fn handle(&self, request: Request<Bytes>) -> fake_http::FakeResponse {
        if let Some(response) = self.script.fault(&request).await {
            return response;
        }
        let mut response = self.route(&request);
        self.script.record(&request, response.status().as_u16());
        let remaining = {
            let mut state = self.state.lock().unwrap();
            state.remaining = state.remaining.saturating_sub(1);
            state.remaining
        };
        response.headers_mut().insert("ratelimit-remaining", remaining.into());
        response
    }

    fn route(&self, request: &Request<Bytes>) -> fake_http::FakeResponse {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        if header("accept") != VERSION_3 {
            return error(400, "bad_request", "Accept must be application/vnd.heroku+json; version=3");
        }
        if header("authorization") != format!("Bearer {}", self.token) {
            return error(401, "unauthorized", "Invalid credentials provided.");
        }
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut state = self.state.lock().unwrap();
        match (request.method().as_str(), segments.as_slice()) {
            ("GET", ["apps"]) => {
                let apps: Vec<serde_json::Value> = state.apps.iter().map(|(name, app)| app_json(name, app)).collect();
                fake_http::json(200, serde_json::Value::Array(apps))
            }
            ("GET", ["apps", app]) => match state.apps.get(*app) {
                Some(found) => fake_http::json(200, app_json(app, found)),
                None => error(404, "not_found", "Couldn't find that app."),
            },
            ("GET", ["apps", app, "formation"]) => match state.apps.get(*app) {
                Some(found) => fake_http::json(200, formation_json(app, &found.formation)),
                None => error(404, "not_found", "Couldn't find that app."),
            },
            ("PATCH", ["apps", app, "formation"]) => {
                let app = app.to_string();
                let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap_or_default();
                let Some(updates) = body["updates"].as_array() else {
                    return error(422, "invalid_params", "updates is required");
                };
                let Some(found) = state.apps.get_mut(&app) else {
                    return error(404, "not_found", "Couldn't find that app.");
                };
                for update in updates {
                    let (Some(kind), Some(quantity)) = (update["type"].as_str(), update["quantity"].as_u64()) else {
                        return error(422, "invalid_params", "each update needs type and quantity");
                    };
                    if !found.formation.contains_key(kind) {
                        return error(404, "not_found", "Couldn't find that formation.");
                    }
                    found.formation.insert(kind.to_owned(), quantity as u32);
                }
                let answer = formation_json(&app, &found.formation);
                *state.patches.entry(app).or_default() += 1;
                fake_http::json(200, answer)
            }
            _ => error(404, "not_found", "Not found."),
        }
    }
}

fn formation_json(app: &str, formation: &Formation) -> serde_json::Value {
    serde_json::Value::Array(
        formation
            .iter()
            .map(|(kind, quantity)| {
                serde_json::json!({
                    "app": {"name": app},
                    "command": "bin/start",
                    "type": kind,
                    "quantity": quantity,
                    "size": "basic",
                })
            })
            .collect(),
    )
}

fn error(status: u16, id: &str, message: &str) -> fake_http::FakeResponse {
    fake_http::json(status, serde_json::json!({"id": id, "message": message}))
}

/// The app object: its `web_url` is where it serves (the app's local
/// server), as on Heroku, where apps created since late 2023 carry a random
/// suffix (`blog-1a2b3c4d5e6f.herokuapp.com`) that the name does not give.
fn app_json(name: &str, app: &App) -> serde_json::Value {
    serde_json::json!({
        "id": format!("01234567-89ab-cdef-0123-{:012}", name.len()),
        "name": name,
        "web_url": format!("http://{}/", app.upstream),
    })
}
