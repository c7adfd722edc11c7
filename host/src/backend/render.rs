//! Render's public API (api-docs.render.com): a Bearer API key, services
//! listed with cursor pagination, `POST /services/{id}/suspend` to sleep and
//! `/resume` to wake (both 202, asynchronous), `POST /services/{id}/scale` for
//! the instance count. Every answer carries `Ratelimit-Remaining` and
//! `Ratelimit-Reset`; a 429 is retried after the reset.
//!
//! The formation is one entry, `instances`: `serviceDetails.numInstances`, or
//! 0 while suspended. Render also suspends services itself (billing, admin,
//! a crash loop…), and lists why in `suspenders`: the gateway resumes a
//! service only when the sole suspender is `user` and the gateway's own sleep
//! suspended it (a size it saved, forgotten at each wake).

use super::api::{ApiClient, ApiError, Auth, BudgetHeader};
use super::paas::{Platform, RemoteApp, SavedSize};
use super::secret::Secret;
use crate::store::Formation;
use http::HeaderValue;
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

pub(super) const DEFAULT_API_URL: &str = "https://api.render.com/v1";
/// The one "process type" of a Render service.
pub(super) const INSTANCES: &str = "instances";
/// Render documents `limit` up to 100.
const PAGE: usize = 100;
/// Longest a suspend, a resume or a deploy is followed.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub(super) const BUDGET: BudgetHeader = BudgetHeader {
    name: "ratelimit-remaining",
    low: 5,
    refill: Duration::from_millis(600),
    reset: Some("ratelimit-reset"),
};

pub(super) struct Render {
    api: ApiClient,
    base: String,
    owner_id: Option<String>,
    auth: Bearer,
    poll: Duration,
}

impl Render {
    pub(super) fn new(
        api: ApiClient,
        base: Option<&str>,
        owner_id: Option<&str>,
        token: Secret,
        poll: Duration,
    ) -> Result<Render, ApiError> {
        let header = token.header("Bearer ").map_err(|e| api.error(e))?;
        let base = base.unwrap_or(DEFAULT_API_URL).trim_end_matches('/').to_owned();
        Ok(Render { api, base, owner_id: owner_id.map(str::to_owned), auth: Bearer(header), poll })
    }

    async fn call(
        &self,
        call: &str,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, ApiError> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query)
            .map_err(|e| self.api.error(format!("bad API URL: {e}")))?;
        self.api
            .send_authed(call, &self.auth, |http, auth| {
                let request = http
                    .request(method.clone(), url.clone())
                    .header(http::header::AUTHORIZATION, auth.clone())
                    .header(http::header::ACCEPT, "application/json");
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
    }

    async fn service(&self, id: &str) -> Result<Service, ApiError> {
        let response = self.call("GET service", reqwest::Method::GET, &format!("/services/{id}"), &[], None).await?;
        self.api.json("GET service", response).await
    }

    async fn post(&self, call: &str, path: &str, body: Option<&serde_json::Value>) -> Result<(), ApiError> {
        let response = self.call(call, reqwest::Method::POST, path, &[], body).await?;
        self.api.success(call, response).await.map(drop)
    }

    /// Polls the service until `done` says so.
    async fn follow_service(&self, id: &str, what: &str, done: impl Fn(&Service) -> bool) -> Result<Service, ApiError> {
        let deadline = Instant::now() + OPERATION_TIMEOUT;
        loop {
            let service = self.service(id).await?;
            if done(&service) {
                return Ok(service);
            }
            if Instant::now() + self.poll > deadline {
                return Err(self.api.error(format!("{id}: not {what} after {OPERATION_TIMEOUT:?}")));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Polls the latest deploy until it is live; a failed one is an error.
    async fn follow_deploy(&self, id: &str) -> Result<(), ApiError> {
        let deadline = Instant::now() + OPERATION_TIMEOUT;
        let path = format!("/services/{id}/deploys");
        loop {
            let response = self.call("GET deploys", reqwest::Method::GET, &path, &[("limit", "1")], None).await?;
            let deploys: Vec<DeployWithCursor> = self.api.json("GET deploys", response).await?;
            let Some(latest) = deploys.into_iter().next() else {
                // Never deployed through Render's pipeline: nothing to wait for.
                return Ok(());
            };
            match deploy_state(&latest.deploy.status) {
                DeployState::Live => return Ok(()),
                DeployState::Failed => {
                    return Err(self.api.error(format!(
                        "{id}: the deploy {} after the resume ended {}",
                        latest.deploy.id, latest.deploy.status
                    )));
                }
                DeployState::Pending => {}
            }
            if Instant::now() + self.poll > deadline {
                return Err(self.api.error(format!("{id}: deploy not live after {OPERATION_TIMEOUT:?}")));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn suspend(&self, id: &str) -> Result<(), ApiError> {
        self.post("POST suspend", &format!("/services/{id}/suspend"), None).await?;
        self.follow_service(id, "suspended", Service::is_suspended).await.map(drop)
    }

    /// Sets the instance count unless Render's autoscaling owns it.
    async fn restore_instances(&self, service: &Service, wanted: u32) -> Result<(), ApiError> {
        let details = &service.service_details;
        if details.num_instances.unwrap_or(1) == wanted {
            return Ok(());
        }
        if details.autoscaling.as_ref().is_some_and(|a| a.enabled) {
            tracing::info!(service = %service.id, wanted, "autoscaling is on; Render sets the instance count");
            return Ok(());
        }
        tracing::info!(service = %service.id, wanted, "restoring the instance count");
        let body = serde_json::json!({ "numInstances": wanted });
        self.post("POST scale", &format!("/services/{}/scale", service.id), Some(&body)).await
    }
}

/// Why a suspended service must stay so, or `None` when the gateway may
/// resume it: only `user` suspended it, and that user was the gateway.
pub(super) fn refusal(suspenders: &[String], slept_by_gateway: bool) -> Option<String> {
    let others: Vec<&str> = suspenders.iter().map(String::as_str).filter(|s| *s != "user").collect();
    if !others.is_empty() {
        return Some(format!(
            "suspended by {} (suspenders {suspenders:?}); Paastis resumes only the services it suspended itself",
            others.join(" and ")
        ));
    }
    if !slept_by_gateway {
        return Some("suspended by a user outside Paastis (from the dashboard or the API); resume it there".to_owned());
    }
    None
}

#[async_trait::async_trait]
impl Platform for Render {
    async fn list(&self) -> Result<Vec<RemoteApp>, ApiError> {
        let mut apps = Vec::new();
        let mut cursor: Option<String> = None;
        let limit = PAGE.to_string();
        loop {
            let mut query = vec![("limit", limit.as_str()), ("type", "web_service")];
            if let Some(owner) = &self.owner_id {
                query.push(("ownerId", owner));
            }
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor));
            }
            let response = self.call("GET services", reqwest::Method::GET, "/services", &query, None).await?;
            let page: Vec<ServiceWithCursor> = self.api.json("GET services", response).await?;
            let full = page.len() >= PAGE;
            let next = page.last().map(|p| p.cursor.clone());
            apps.extend(page.into_iter().map(|p| RemoteApp {
                running: Some(!p.service.is_suspended()),
                upstream: p.service.service_details.url.clone().filter(|u| !u.is_empty()),
                id: p.service.id,
                name: p.service.name,
            }));
            match next {
                Some(next) if full && cursor.as_ref() != Some(&next) => cursor = Some(next),
                _ => return Ok(apps),
            }
        }
    }

    async fn formation(&self, id: &str) -> Result<Formation, ApiError> {
        let service = self.service(id).await?;
        let running = if service.is_suspended() { 0 } else { service.service_details.num_instances.unwrap_or(1) };
        Ok([(INSTANCES.to_owned(), running)].into())
    }

    async fn scale(&self, id: &str, target: &Formation) -> Result<(), ApiError> {
        if target.values().all(|n| *n == 0) { self.suspend(id).await } else { self.wake(id, target, false).await }
    }

    async fn upstream(&self, id: &str) -> Result<String, ApiError> {
        let service = self.service(id).await?;
        service.service_details.url.filter(|u| !u.is_empty()).ok_or_else(|| {
            self.api.error(format!("{id}: the service has no URL (not a web service?); set `upstream` for it"))
        })
    }

    async fn describe(&self, id: &str) -> Result<String, ApiError> {
        let service = self.service(id).await?;
        Ok(format!(
            "{}, suspenders {:?}, numInstances {:?}",
            service.suspended, service.suspenders, service.service_details.num_instances
        ))
    }

    fn saved_size(&self) -> SavedSize {
        SavedSize::StoreUntilWake
    }

    async fn wake(&self, id: &str, target: &Formation, slept_by_gateway: bool) -> Result<(), ApiError> {
        let wanted = target.get(INSTANCES).copied().unwrap_or(1).max(1);
        let mut service = self.service(id).await?;
        if service.is_suspended() {
            if let Some(why) = refusal(&service.suspenders, slept_by_gateway) {
                return Err(self.api.error(format!("{} ({id}) is {why}", service.name)));
            }
            self.post("POST resume", &format!("/services/{id}/resume"), None).await?;
            service = self.follow_service(id, "resumed", |s| !s.is_suspended()).await?;
            self.follow_deploy(id).await?;
        }
        self.restore_instances(&service, wanted).await
    }

    async fn sleep(&self, id: &str, _current: &Formation) -> Result<(), ApiError> {
        self.suspend(id).await
    }
}

/// An API key cannot be refreshed: a 401 is retried once, then reported.
struct Bearer(HeaderValue);

#[async_trait::async_trait]
impl Auth for Bearer {
    async fn header(&self, _api: &ApiClient) -> Result<HeaderValue, ApiError> {
        Ok(self.0.clone())
    }
    fn invalidate(&self) {}
}

#[derive(Deserialize)]
struct ServiceWithCursor {
    cursor: String,
    service: Service,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Service {
    id: String,
    #[serde(default)]
    name: String,
    /// `suspended` or `not_suspended`.
    #[serde(default)]
    suspended: String,
    #[serde(default)]
    suspenders: Vec<String>,
    #[serde(default)]
    service_details: ServiceDetails,
}

impl Service {
    fn is_suspended(&self) -> bool {
        self.suspended == "suspended"
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ServiceDetails {
    url: Option<String>,
    num_instances: Option<u32>,
    autoscaling: Option<Autoscaling>,
}

#[derive(Deserialize)]
struct Autoscaling {
    #[serde(default)]
    enabled: bool,
}

#[derive(Deserialize)]
struct DeployWithCursor {
    deploy: Deploy,
}

#[derive(Deserialize)]
struct Deploy {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: String,
}

#[derive(Debug, PartialEq)]
enum DeployState {
    Live,
    Failed,
    Pending,
}

/// Render's deploy statuses: created, queued, build_in_progress,
/// update_in_progress, pre_deploy_in_progress (pending); live; deactivated,
/// build_failed, update_failed, pre_deploy_failed, canceled (ended).
fn deploy_state(status: &str) -> DeployState {
    match status {
        "live" => DeployState::Live,
        "deactivated" | "build_failed" | "update_failed" | "pre_deploy_failed" | "canceled" => DeployState::Failed,
        _ => DeployState::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_its_own_user_suspension_is_resumed() {
        assert_eq!(refusal(&names(&["user"]), true), None);
        let billing = refusal(&names(&["billing"]), true).unwrap();
        assert!(billing.starts_with("suspended by billing"), "{billing}");
        let both = refusal(&names(&["user", "admin"]), true).unwrap();
        assert!(both.starts_with("suspended by admin"), "{both}");
        let manual = refusal(&names(&["user"]), false).unwrap();
        assert!(manual.contains("outside Paastis"), "{manual}");
    }

    #[test]
    fn deploy_statuses() {
        assert_eq!(deploy_state("live"), DeployState::Live);
        assert_eq!(deploy_state("update_in_progress"), DeployState::Pending);
        assert_eq!(deploy_state("build_failed"), DeployState::Failed);
        assert_eq!(deploy_state("something_new"), DeployState::Pending);
    }
}
