//! A fake Scalingo, after developers.scalingo.com: the token exchange
//! (`POST /v1/tokens/exchange`, Basic auth with an empty user and the API
//! token as password, answering a JWT), Bearer auth on the API, apps,
//! containers (formation), ps, and scale operations followed through their
//! `Location`. Errors use Scalingo's shapes: 401 `{"error": …}`, 404,
//! 422 `{"errors": …}`.

use super::fake_http::{self, Fault, FormationApp as App, Script};
use base64::Engine;
use bytes::Bytes;
use http::Request;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub type Formation = BTreeMap<String, u32>;

struct Operation {
    app: String,
    target: Formation,
    polls_left: u32,
    done: bool,
}

#[derive(Default)]
struct State {
    apps: BTreeMap<String, App>,
    bearers: HashSet<String>,
    exchanges: usize,
    operations: HashMap<u64, Operation>,
    next_op: u64,
    scale_calls: HashMap<String, usize>,
    /// Polls an operation stays `running` before `done`.
    op_polls: u32,
    token_lifetime: Duration,
}

#[derive(Clone)]
pub struct FakeScalingo {
    pub addr: SocketAddr,
    pub api_token: String,
    state: Arc<Mutex<State>>,
    pub script: Arc<Script>,
}

pub fn formation(pairs: &[(&str, u32)]) -> Formation {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

impl FakeScalingo {
    pub async fn start(api_token: &str) -> FakeScalingo {
        let state = Arc::new(Mutex::new(State { token_lifetime: Duration::from_secs(3600), ..State::default() }));
        let script = Arc::new(Script::default());
        let mut fake =
            FakeScalingo { addr: "127.0.0.1:1".parse().unwrap(), api_token: api_token.into(), state, script };
        fake.addr = fake_http::serve_fake(&fake, |this, request| async move { this.handle(request).await }).await;
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds an app with this formation, served on its own upstream.
    pub async fn add_app(&self, name: &str, formation: Formation) {
        fake_http::add_formation_app(&self.state, |s| &mut s.apps, name, formation).await;
    }

    pub fn upstream(&self, name: &str) -> String {
        format!("http://{}", self.state.lock().unwrap().apps[name].upstream)
    }

    pub fn formation(&self, name: &str) -> Formation {
        self.state.lock().unwrap().apps[name].formation.clone()
    }

    pub fn scale_calls(&self, name: &str) -> usize {
        self.state.lock().unwrap().scale_calls.get(name).copied().unwrap_or(0)
    }

    pub fn exchanges(&self) -> usize {
        self.state.lock().unwrap().exchanges
    }

    /// How long the bearers issued from now on last (their JWT `exp`).
    pub fn token_lifetime(&self, lifetime: Duration) {
        self.state.lock().unwrap().token_lifetime = lifetime;
    }

    /// Every bearer issued so far stops working (expired mid-run).
    pub fn expire_tokens(&self) {
        self.state.lock().unwrap().bearers.clear();
    }

    /// Operations stay `running` for this many polls (a slow operation).
    pub fn slow_operations(&self, polls: u32) {
        self.state.lock().unwrap().op_polls = polls;
    }

    /// Every running operation finishes, as Scalingo's do whether or not
    /// anyone polls them (their caller may be dead).
    pub fn finish_operations(&self) {
        let mut state = self.state.lock().unwrap();
        let finished: Vec<(String, Formation)> = state
            .operations
            .values_mut()
            .filter(|op| !op.done)
            .map(|op| {
                op.done = true;
                (op.app.clone(), op.target.clone())
            })
            .collect();
        state.op_polls = 0;
        for (name, target) in finished {
            if let Some(app) = state.apps.get_mut(&name) {
                app.formation = target;
            }
        }
    }

    pub fn fail(&self, fault: Fault) {
        self.script.push(fault);
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
        let path = request.uri().path().to_owned();
        let method = request.method().as_str().to_owned();
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        if method == "POST" && path == "/v1/tokens/exchange" {
            return self.exchange(&header("authorization"));
        }
        let bearer = header("authorization").strip_prefix("Bearer ").map(str::to_owned);
        let mut state = self.state.lock().unwrap();
        if !bearer.is_some_and(|b| state.bearers.contains(&b)) {
            return fake_http::json(401, serde_json::json!({"error": "You are not authorized to do this operation"}));
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "apps"]) => {
                let apps: Vec<serde_json::Value> = state
                    .apps
                    .iter()
                    .map(|(name, app)| {
                        let running = app.formation.values().any(|n| *n > 0);
                        serde_json::json!({
                            "id": format!("5f{:x}", name.len()),
                            "name": name,
                            "region": "osc-fr1",
                            "status": if running { "running" } else { "stopped" },
                            "url": format!("https://{name}.osc-fr1.scalingo.io"),
                        })
                    })
                    .collect();
                fake_http::json(200, serde_json::json!({ "apps": apps }))
            }
            ("GET", ["v1", "apps", app, "containers"]) => match state.apps.get(*app) {
                Some(app) => {
                    let containers: Vec<serde_json::Value> = app
                        .formation
                        .iter()
                        .map(|(name, amount)| serde_json::json!({"name": name, "amount": amount, "size": "M"}))
                        .collect();
                    fake_http::json(200, serde_json::json!({ "containers": containers }))
                }
                None => not_found(),
            },
            ("GET", ["v1", "apps", app, "ps"]) => match state.apps.get(*app) {
                Some(app) => {
                    let mut containers = Vec::new();
                    for (kind, amount) in &app.formation {
                        for i in 1..=*amount {
                            containers.push(serde_json::json!({
                                "id": format!("ct-{kind}-{i}"),
                                "label": format!("{kind}-{i}"),
                                "type": kind,
                                "type_index": i,
                                "state": "running",
                            }));
                        }
                    }
                    fake_http::json(200, serde_json::json!({ "containers": containers }))
                }
                None => not_found(),
            },
            ("POST", ["v1", "apps", app, "scale"]) => {
                let app = app.to_string();
                let Some(current) = state.apps.get(&app).map(|a| a.formation.clone()) else { return not_found() };
                if state.operations.values().any(|op| op.app == app && !op.done) {
                    return fake_http::json(422, serde_json::json!({"errors": {"app": ["is already scaling"]}}));
                }
                let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap_or_default();
                let Some(items) = body["containers"].as_array() else {
                    return fake_http::json(422, serde_json::json!({"errors": {"containers": ["is missing"]}}));
                };
                let mut target = current.clone();
                for item in items {
                    let (Some(name), Some(amount)) = (item["name"].as_str(), item["amount"].as_u64()) else {
                        return fake_http::json(422, serde_json::json!({"errors": {"containers": ["invalid"]}}));
                    };
                    if !current.contains_key(name) {
                        return fake_http::json(
                            422,
                            serde_json::json!({"errors": {"containers": [format!("{name} does not exist")]}}),
                        );
                    }
                    target.insert(name.to_owned(), amount as u32);
                }
                *state.scale_calls.entry(app.clone()).or_default() += 1;
                state.next_op += 1;
                let id = state.next_op;
                let polls_left = state.op_polls;
                state.operations.insert(id, Operation { app: app.clone(), target, polls_left, done: false });
                let mut response = fake_http::json(202, serde_json::json!({ "containers": items }));
                // Absolute, as Scalingo answers it.
                let host = request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
                let location = format!("http://{host}/v1/apps/{app}/operations/op-{id}");
                response.headers_mut().insert("location", location.parse().expect("location"));
                response
            }
            ("GET", ["v1", "apps", app, "operations", id]) => {
                let Some(id) = id.strip_prefix("op-").and_then(|i| i.parse::<u64>().ok()) else { return not_found() };
                let Some(op) = state.operations.get_mut(&id) else { return not_found() };
                if op.app != *app {
                    return not_found();
                }
                let status = if op.done {
                    "done"
                } else if op.polls_left > 0 {
                    op.polls_left -= 1;
                    "running"
                } else {
                    op.done = true;
                    let (name, target) = (op.app.clone(), op.target.clone());
                    if let Some(app) = state.apps.get_mut(&name) {
                        app.formation = target;
                    }
                    "done"
                };
                fake_http::json(
                    200,
                    serde_json::json!({"operation": {
                        "id": format!("op-{id}"), "type": "scale", "status": status, "error": null,
                        "created_at": "2026-01-01T00:00:00.000Z",
                    }}),
                )
            }
            _ => not_found(),
        }
    }

    fn exchange(&self, authorization: &str) -> fake_http::FakeResponse {
        let expected = base64::engine::general_purpose::STANDARD.encode(format!(":{}", self.api_token));
        if authorization != format!("Basic {expected}") {
            return fake_http::json(401, serde_json::json!({"error": "invalid token"}));
        }
        let mut state = self.state.lock().unwrap();
        state.exchanges += 1;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let exp = now + state.token_lifetime.as_secs();
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = format!(
            "{}.{}.{}",
            engine.encode(r#"{"alg":"HS512","typ":"JWT"}"#),
            engine.encode(format!(r#"{{"exp":{exp},"iss":"Scalingo","n":{}}}"#, state.exchanges)),
            engine.encode("signature")
        );
        state.bearers.insert(jwt.clone());
        fake_http::json(200, serde_json::json!({ "token": jwt }))
    }
}

fn not_found() -> fake_http::FakeResponse {
    fake_http::json(404, serde_json::json!({"error": "not found"}))
}
