//! Heroku Platform API v3 (devcenter.heroku.com/articles/platform-api-reference):
//! a Bearer token, `Accept: application/vnd.heroku+json; version=3`, and the
//! batch `PATCH /apps/{app}/formation` to sleep and wake. Heroku grants 4500
//! calls an hour and reports what is left in `RateLimit-Remaining`.

use super::api::{ApiClient, ApiError, Auth, BudgetHeader};
use super::paas::{Platform, RemoteApp};
use super::secret::Secret;
use crate::store::Formation;
use http::HeaderValue;
use serde::Deserialize;
use std::time::Duration;

pub(super) const DEFAULT_API_URL: &str = "https://api.heroku.com";
pub(super) const ACCEPT: &str = "application/vnd.heroku+json; version=3";
pub(super) const BUDGET: BudgetHeader =
    BudgetHeader { name: "ratelimit-remaining", low: 10, refill: Duration::from_millis(800), reset: None };

pub(super) struct Heroku {
    api: ApiClient,
    base: String,
    auth: StaticBearer,
}

impl Heroku {
    pub(super) fn new(api: ApiClient, base: Option<&str>, token: Secret) -> Result<Heroku, ApiError> {
        let header = token.header("Bearer ").map_err(|e| api.error(e))?;
        let base = base.unwrap_or(DEFAULT_API_URL).trim_end_matches('/').to_owned();
        Ok(Heroku { api, base, auth: StaticBearer(header) })
    }

    async fn call(
        &self,
        call: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}{path}", self.base);
        self.api
            .send_authed(call, &self.auth, |http, auth| {
                let request = http
                    .request(method.clone(), &url)
                    .header(http::header::AUTHORIZATION, auth.clone())
                    .header(http::header::ACCEPT, ACCEPT);
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
    }
}

impl Heroku {
    /// For an app whose `web_url` Heroku does not give. Apps created since
    /// late 2023 have a random suffix in their host, so `web_url` comes
    /// first.
    pub(super) fn default_upstream(&self, app: &str) -> String {
        format!("https://{app}.herokuapp.com")
    }
}

/// `https://blog-1a2b3c4d5e6f.herokuapp.com/` as an upstream (no trailing `/`).
fn upstream_of(web_url: &str) -> String {
    web_url.trim_end_matches('/').to_owned()
}

#[async_trait::async_trait]
impl Platform for Heroku {
    async fn list(&self) -> Result<Vec<RemoteApp>, ApiError> {
        let response = self.call("GET /apps", reqwest::Method::GET, "/apps", None).await?;
        let apps: Vec<AppBody> = self.api.json("GET /apps", response).await?;
        Ok(apps
            .into_iter()
            .map(|a| RemoteApp {
                id: a.name.clone(),
                upstream: a.web_url.as_deref().map(upstream_of),
                name: a.name,
                running: None,
            })
            .collect())
    }

    async fn formation(&self, app: &str) -> Result<Formation, ApiError> {
        let path = format!("/apps/{app}/formation");
        let response = self.call("GET formation", reqwest::Method::GET, &path, None).await?;
        let items: Vec<FormationItem> = self.api.json("GET formation", response).await?;
        Ok(items.into_iter().map(|f| (f.kind, f.quantity)).collect())
    }

    async fn scale(&self, app: &str, target: &Formation) -> Result<(), ApiError> {
        let updates: Vec<serde_json::Value> =
            target.iter().map(|(kind, quantity)| serde_json::json!({"type": kind, "quantity": quantity})).collect();
        let body = serde_json::json!({ "updates": updates });
        let path = format!("/apps/{app}/formation");
        let response = self.call("PATCH formation", reqwest::Method::PATCH, &path, Some(&body)).await?;
        let applied: Vec<FormationItem> = self.api.json("PATCH formation", response).await?;
        // The batch answers with the resulting formation: check it took.
        for item in applied {
            if let Some(wanted) = target.get(&item.kind)
                && *wanted != item.quantity
            {
                return Err(self
                    .api
                    .error(format!("{app}: asked for {wanted} {} dynos, Heroku set {}", item.kind, item.quantity)));
            }
        }
        Ok(())
    }

    /// The app's `web_url` (`GET /apps/{app}`).
    async fn upstream(&self, app: &str) -> Result<String, ApiError> {
        let path = format!("/apps/{app}");
        let response = self.call("GET app", reqwest::Method::GET, &path, None).await?;
        let found: AppBody = self.api.json("GET app", response).await?;
        Ok(found.web_url.as_deref().map_or_else(|| self.default_upstream(app), upstream_of))
    }
}

/// A token that cannot be refreshed: a 401 is retried once, then reported.
struct StaticBearer(HeaderValue);

#[async_trait::async_trait]
impl Auth for StaticBearer {
    async fn header(&self, _api: &ApiClient) -> Result<HeaderValue, ApiError> {
        Ok(self.0.clone())
    }
    fn invalidate(&self) {}
}

#[derive(Deserialize)]
struct AppBody {
    name: String,
    #[serde(default)]
    web_url: Option<String>,
}
#[derive(Deserialize)]
struct FormationItem {
    #[serde(rename = "type")]
    kind: String,
    quantity: u32,
}
