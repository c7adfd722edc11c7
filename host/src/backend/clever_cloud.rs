//! Clever Cloud API v2: OAuth1 PLAINTEXT credentials (api.clever-cloud.com)
//! or an API token as a bearer (api-bridge.clever-cloud.com). An app starts
//! with `POST …/applications/{id}/instances` and stops with `DELETE` on the
//! same path; its state is derived from the app and its instances.

use super::api::{ApiClient, ApiError, Auth};
use super::paas::{Platform, RemoteApp};
use super::secret::Secret;
use crate::store::Formation;
use http::HeaderValue;
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;

pub(super) const OAUTH_API_URL: &str = "https://api.clever-cloud.com";
pub(super) const TOKEN_API_URL: &str = "https://api-bridge.clever-cloud.com";
/// Clever Cloud has instances, not process types: the formation is the
/// count of running instances under this key.
pub(super) const INSTANCES: &str = "instances";
const OPERATION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub(super) enum Credentials {
    Bearer(Secret),
    OAuth { consumer_key: Secret, consumer_secret: Secret, token: Secret, token_secret: Secret },
}

pub(super) struct CleverCloud {
    api: ApiClient,
    base: String,
    /// `/v2/self` or `/v2/organisations/{org}`.
    owner: String,
    auth: CleverAuth,
    poll: Duration,
}

impl CleverCloud {
    pub(super) fn new(
        api: ApiClient,
        base: Option<&str>,
        org: Option<&str>,
        credentials: Credentials,
        poll: Duration,
    ) -> Self {
        let default_base = match credentials {
            Credentials::Bearer(_) => TOKEN_API_URL,
            Credentials::OAuth { .. } => OAUTH_API_URL,
        };
        let base = base.unwrap_or(default_base).trim_end_matches('/').to_owned();
        let owner = org.map_or_else(|| "/v2/self".to_owned(), |org| format!("/v2/organisations/{org}"));
        CleverCloud { api, base, owner, auth: CleverAuth(credentials), poll }
    }

    async fn call(&self, call: &str, method: reqwest::Method, path: &str) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}{}{path}", self.base, self.owner);
        self.api
            .send_authed(call, &self.auth, |http, auth| {
                http.request(method.clone(), &url)
                    .header(http::header::AUTHORIZATION, auth.clone())
                    .header(http::header::ACCEPT, "application/json")
            })
            .await
    }

    async fn instances(&self, id: &str) -> Result<Vec<Instance>, ApiError> {
        let response =
            self.call("GET instances", reqwest::Method::GET, &format!("/applications/{id}/instances")).await?;
        self.api.json("GET instances", response).await
    }

    async fn app(&self, id: &str) -> Result<Application, ApiError> {
        let response = self.call("GET application", reqwest::Method::GET, &format!("/applications/{id}")).await?;
        self.api.json("GET application", response).await
    }

    /// Waits until the instances match `up` (some UP, or none left).
    async fn settle(&self, id: &str, up: bool) -> Result<(), ApiError> {
        let deadline = Instant::now() + OPERATION_TIMEOUT;
        loop {
            let instances = self.instances(id).await?;
            let running = instances.iter().filter(|i| i.state == "UP").count();
            if up && running > 0 || !up && instances.iter().all(|i| is_gone(&i.state)) {
                return Ok(());
            }
            if up {
                // A start the platform gave up on shows in the app's state.
                let app = self.app(id).await?;
                if app.state == "SHOULD_BE_DOWN" {
                    return Err(self.api.error(format!("{id}: the start failed (the app is SHOULD_BE_DOWN)")));
                }
            }
            if Instant::now() + self.poll > deadline {
                return Err(self.api.error(format!("{id}: instances not settled after {OPERATION_TIMEOUT:?}")));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

fn is_gone(state: &str) -> bool {
    matches!(state, "STOPPED" | "DELETED" | "FAILED" | "CANCELLED")
}

impl CleverCloud {
    /// `app_<uuid>` is served at `app-<uuid>.cleverapps.io`.
    pub(super) fn default_upstream(&self, id: &str) -> String {
        format!("https://{}.cleverapps.io", id.replace('_', "-"))
    }
}

#[async_trait::async_trait]
impl Platform for CleverCloud {
    async fn list(&self) -> Result<Vec<RemoteApp>, ApiError> {
        let response = self.call("GET applications", reqwest::Method::GET, "/applications").await?;
        let apps: Vec<Application> = self.api.json("GET applications", response).await?;
        Ok(apps
            .into_iter()
            .map(|a| RemoteApp {
                upstream: None,
                running: Some(matches!(a.state.as_str(), "SHOULD_BE_UP" | "WANTS_TO_BE_UP")),
                id: a.id,
                name: a.name,
            })
            .collect())
    }

    async fn formation(&self, id: &str) -> Result<Formation, ApiError> {
        let instances = self.instances(id).await?;
        let running = instances.iter().filter(|i| !is_gone(&i.state)).count() as u32;
        Ok([(INSTANCES.to_owned(), running)].into())
    }

    async fn scale(&self, id: &str, target: &Formation) -> Result<(), ApiError> {
        let up = target.values().any(|n| *n > 0);
        let (call, method) =
            if up { ("POST instances", reqwest::Method::POST) } else { ("DELETE instances", reqwest::Method::DELETE) };
        let response = self.call(call, method, &format!("/applications/{id}/instances")).await?;
        self.api.success(call, response).await?;
        self.settle(id, up).await
    }

    async fn upstream(&self, id: &str) -> Result<String, ApiError> {
        Ok(self.default_upstream(id))
    }

    async fn describe(&self, id: &str) -> Result<String, ApiError> {
        let app = self.app(id).await?;
        let instances = self.instances(id).await?;
        let states: Vec<&str> = instances.iter().map(|i| i.state.as_str()).collect();
        Ok(format!("app {}, instances {states:?}", app.state))
    }
}

struct CleverAuth(Credentials);

#[async_trait::async_trait]
impl Auth for CleverAuth {
    async fn header(&self, api: &ApiClient) -> Result<HeaderValue, ApiError> {
        match &self.0 {
            Credentials::Bearer(token) => token.header("Bearer ").map_err(|e| api.error(e)),
            Credentials::OAuth { consumer_key, consumer_secret, token, token_secret } => {
                let nonce = format!("{:x}", rand_nonce());
                let timestamp = crate::clock::now_ms() / 1000;
                // PLAINTEXT: the signature is the two secrets, encoded and
                // joined by '&' (RFC 5849 §3.4.4), then encoded as a param.
                let signature = format!("{}&{}", encode(consumer_secret.expose()), encode(token_secret.expose()));
                let value = Secret::new(format!(
                    "OAuth oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature_method=\"PLAINTEXT\", \
                     oauth_signature=\"{}\", oauth_timestamp=\"{timestamp}\", oauth_nonce=\"{nonce}\", oauth_version=\"1.0\"",
                    encode(consumer_key.expose()),
                    encode(token.expose()),
                    encode(&signature)
                ));
                value.header("").map_err(|e| api.error(e))
            }
        }
    }
    fn invalidate(&self) {}
}

fn rand_nonce() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(crate::clock::now_ms() as u128);
    (hasher.finish() as u128) << 64 | std::collections::hash_map::RandomState::new().build_hasher().finish() as u128
}

/// Percent-encoding of everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
struct Application {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    state: String,
}
#[derive(Deserialize)]
struct Instance {
    #[serde(default)]
    state: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn oauth_plaintext_signs_with_both_secrets() {
        let retry = super::super::api::RetryPolicy {
            max_retries: 0,
            backoff: Duration::from_millis(1),
            max_wait: Duration::from_secs(1),
        };
        let api = ApiClient::new("clever", 60, retry, Duration::from_secs(1), None).unwrap();
        let auth = CleverAuth(Credentials::OAuth {
            consumer_key: Secret::new("ck".into()),
            consumer_secret: Secret::new("c&s".into()),
            token: Secret::new("tok".into()),
            token_secret: Secret::new("ts".into()),
        });
        let header = auth.header(&api).await.unwrap();
        let clever = CleverCloud::new(
            ApiClient::new("clever", 60, retry, Duration::from_secs(1), None).unwrap(),
            None,
            Some("orga_1"),
            Credentials::Bearer(Secret::new("t".into())),
            Duration::from_secs(1),
        );
        assert_eq!(clever.base, TOKEN_API_URL);
        assert_eq!(clever.owner, "/v2/organisations/orga_1");
        assert_eq!(clever.default_upstream("app_12-ab"), "https://app-12-ab.cleverapps.io");
        assert!(header.is_sensitive());
        let text = header.to_str().unwrap();
        assert!(text.starts_with("OAuth oauth_consumer_key=\"ck\", oauth_token=\"tok\""), "{text}");
        // "c&s" & "ts" → "c%26s&ts" → encoded once more as a param.
        assert!(text.contains("oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"c%2526s%26ts\""), "{text}");
    }

    #[test]
    fn oauth_encoding_keeps_unreserved_only() {
        assert_eq!(encode("a b&c/d~"), "a%20b%26c%2Fd~");
    }
}
