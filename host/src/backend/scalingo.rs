//! Scalingo (developers.scalingo.com): the API token is exchanged for a
//! short-lived bearer at the auth service; apps scale through
//! `POST /v1/apps/{app}/scale`, an asynchronous operation followed through
//! its `Location` until done or errored.

use super::api::{ApiClient, ApiError, Auth};
use super::paas::{Platform, RemoteApp};
use super::secret::Secret;
use crate::store::Formation;
use base64::Engine;
use http::HeaderValue;
use serde::Deserialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

pub(super) const DEFAULT_AUTH_URL: &str = "https://auth.scalingo.com";
pub(super) const DEFAULT_REGION: &str = "osc-fr1";
/// What an exchanged token lasts when it does not say.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The most an operation may take before the gateway gives up on it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub(super) struct Scalingo {
    api: ApiClient,
    base: String,
    region: String,
    auth: BearerExchange,
    poll: Duration,
}

impl Scalingo {
    pub(super) fn new(
        api: ApiClient,
        region: Option<&str>,
        base: Option<&str>,
        auth_url: Option<&str>,
        token: Secret,
        poll: Duration,
    ) -> Scalingo {
        let region = region.unwrap_or(DEFAULT_REGION).to_owned();
        let base =
            base.map_or_else(|| format!("https://api.{region}.scalingo.com"), |b| b.trim_end_matches('/').to_owned());
        let auth_url = auth_url.unwrap_or(DEFAULT_AUTH_URL).trim_end_matches('/').to_owned();
        Scalingo { api, base, region, auth: BearerExchange { token, auth_url, cached: Default::default() }, poll }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, call: &str, url: &str) -> Result<T, ApiError> {
        let response = self
            .api
            .send_authed(call, &self.auth, |http, auth| {
                http.get(url)
                    .header(http::header::AUTHORIZATION, auth.clone())
                    .header(http::header::ACCEPT, "application/json")
            })
            .await?;
        self.api.json(call, response).await
    }

    /// Polls the operation until it is done; an errored operation is an error.
    async fn follow(&self, app: &str, location: &str) -> Result<(), ApiError> {
        let url = if location.starts_with("http") { location.to_owned() } else { format!("{}{location}", self.base) };
        let deadline = Instant::now() + OPERATION_TIMEOUT;
        loop {
            let op: OperationBody = self.get("GET operation", &url).await?;
            match op.operation.status.as_str() {
                "done" => return Ok(()),
                "error" => {
                    return Err(self.api.error(format!(
                        "operation {} on {app} ended in error: {}",
                        op.operation.id,
                        op.operation.error.unwrap_or_else(|| "no detail".into())
                    )));
                }
                status => tracing::debug!(app, status, "operation pending"),
            }
            if Instant::now() + self.poll > deadline {
                return Err(self.api.error(format!("operation on {app} not done after {OPERATION_TIMEOUT:?}")));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

impl Scalingo {
    pub(super) fn default_upstream(&self, app: &str) -> String {
        format!("https://{app}.{}.scalingo.io", self.region)
    }
}

#[async_trait::async_trait]
impl Platform for Scalingo {
    async fn list(&self) -> Result<Vec<RemoteApp>, ApiError> {
        let body: AppsBody = self.get("GET /v1/apps", &format!("{}/v1/apps", self.base)).await?;
        Ok(body
            .apps
            .into_iter()
            .map(|a| RemoteApp {
                upstream: None,
                running: Some(matches!(a.status.as_str(), "running" | "restarting")),
                id: a.name.clone(),
                name: a.name,
            })
            .collect())
    }

    async fn formation(&self, app: &str) -> Result<Formation, ApiError> {
        let body: ContainersBody =
            self.get("GET containers", &format!("{}/v1/apps/{app}/containers", self.base)).await?;
        Ok(body.containers.into_iter().map(|c| (c.name, c.amount)).collect())
    }

    async fn scale(&self, app: &str, target: &Formation) -> Result<(), ApiError> {
        let url = format!("{}/v1/apps/{app}/scale", self.base);
        let containers: Vec<serde_json::Value> =
            target.iter().map(|(name, amount)| serde_json::json!({"name": name, "amount": amount})).collect();
        let body = serde_json::json!({ "containers": containers });
        let response = self
            .api
            .send_authed("POST scale", &self.auth, |http, auth| {
                http.post(&url).header(http::header::AUTHORIZATION, auth.clone()).json(&body)
            })
            .await?;
        let response = self.api.success("POST scale", response).await?;
        let location = response.headers().get(http::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        match location {
            Some(location) => self.follow(app, &location).await,
            // A scale that changes nothing answers without an operation.
            None => Ok(()),
        }
    }

    async fn upstream(&self, app: &str) -> Result<String, ApiError> {
        Ok(self.default_upstream(app))
    }

    async fn describe(&self, app: &str) -> Result<String, ApiError> {
        let formation = self.formation(app).await?;
        let ps: PsBody = self.get("GET ps", &format!("{}/v1/apps/{app}/ps", self.base)).await?;
        let states: Vec<String> = ps.containers.iter().map(|c| format!("{}={}", c.label, c.state)).collect();
        Ok(format!("formation {formation:?}, containers [{}]", states.join(", ")))
    }
}

/// The exchanged bearer, reused until shortly before it expires.
struct BearerExchange {
    token: Secret,
    auth_url: String,
    cached: tokio::sync::Mutex<Option<(HeaderValue, Instant)>>,
}

#[async_trait::async_trait]
impl Auth for BearerExchange {
    async fn header(&self, api: &ApiClient) -> Result<HeaderValue, ApiError> {
        // Held across the exchange: concurrent callers wait for one exchange.
        let mut cached = self.cached.lock().await;
        if let Some((header, refresh_at)) = cached.as_ref()
            && Instant::now() < *refresh_at
        {
            return Ok(header.clone());
        }
        let url = format!("{}/v1/tokens/exchange", self.auth_url);
        let response = api
            .send("POST /v1/tokens/exchange", |http| http.post(&url).basic_auth("", Some(self.token.expose())))
            .await?;
        let body: ExchangeBody = api.json("POST /v1/tokens/exchange", response).await?;
        let bearer = Secret::new(body.token);
        let lifetime = jwt_lifetime(bearer.expose()).unwrap_or(TOKEN_LIFETIME);
        // Refresh with a tenth of the lifetime (at most 5 min) to spare.
        let margin = (lifetime / 10).min(Duration::from_secs(300));
        let header = bearer.header("Bearer ").map_err(|e| api.error(e))?;
        tracing::info!(
            backend = api.backend(),
            lifetime_s = lifetime.as_secs(),
            "API token exchanged for a bearer token"
        );
        *cached = Some((header.clone(), Instant::now() + lifetime.saturating_sub(margin)));
        Ok(header)
    }

    fn invalidate(&self) {
        if let Ok(mut cached) = self.cached.try_lock() {
            *cached = None;
        }
    }
}

/// Time left before a JWT's `exp`, when the token is a JWT.
fn jwt_lifetime(token: &str) -> Option<Duration> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(exp.saturating_sub(now)))
}

#[derive(Deserialize)]
struct ExchangeBody {
    token: String,
}
#[derive(Deserialize)]
struct AppsBody {
    apps: Vec<AppBody>,
}
#[derive(Deserialize)]
struct AppBody {
    name: String,
    #[serde(default)]
    status: String,
}
#[derive(Deserialize)]
struct ContainersBody {
    containers: Vec<ContainerType>,
}
#[derive(Deserialize)]
struct ContainerType {
    name: String,
    amount: u32,
}
#[derive(Deserialize)]
struct PsBody {
    containers: Vec<PsContainer>,
}
#[derive(Deserialize)]
struct PsContainer {
    #[serde(default)]
    label: String,
    #[serde(default)]
    state: String,
}
#[derive(Deserialize)]
struct OperationBody {
    operation: Operation,
}
#[derive(Deserialize)]
struct Operation {
    #[serde(default)]
    id: String,
    status: String,
    error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_picks_the_api_host_and_the_upstream() {
        let retry = super::super::api::RetryPolicy {
            max_retries: 0,
            backoff: Duration::from_millis(1),
            max_wait: Duration::from_secs(1),
        };
        let api = ApiClient::new("s", 60, retry, Duration::from_secs(1), None).unwrap();
        let token = Secret::new("tk".into());
        let scalingo = Scalingo::new(api, Some("osc-secnum-fr1"), None, None, token, Duration::from_secs(1));
        assert_eq!(scalingo.base, "https://api.osc-secnum-fr1.scalingo.com");
        assert_eq!(scalingo.auth.auth_url, "https://auth.scalingo.com");
        assert_eq!(scalingo.default_upstream("shop"), "https://shop.osc-secnum-fr1.scalingo.io");
    }

    #[test]
    fn reads_the_lifetime_of_a_jwt() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{}}}", now + 120));
        let lifetime = jwt_lifetime(&format!("h.{claims}.s")).unwrap();
        assert!(lifetime <= Duration::from_secs(120) && lifetime >= Duration::from_secs(110));
        assert_eq!(jwt_lifetime("opaque"), None);
    }
}
