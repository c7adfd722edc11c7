//! The HTTP layer every PaaS backend shares: reqwest over rustls, a client
//! side rate limit, retries of 429/5xx/timeouts with backoff that honours
//! Retry-After, and a token refresh on 401. The only place (with the
//! platforms beside it) that names reqwest.

mod limiter;
mod retry;

pub(crate) use limiter::Limiter;
pub(crate) use retry::{RetryPolicy, retryable};

use crate::error_chain::causes;
use http::HeaderValue;
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{backend}: {call} answered {status}: {message}")]
    Status { backend: String, call: String, status: u16, message: String },
    #[error("{backend}: {call} failed: {message}")]
    Transport { backend: String, call: String, message: String },
    #[error("{backend}: {call}: the API asks to wait {wait:?}, more than max_retry_wait")]
    TooLong { backend: String, call: String, wait: Duration },
    #[error("{backend}: {call}: unexpected answer: {message}")]
    Decode { backend: String, call: String, message: String },
    #[error("{backend}: {message}")]
    Other { backend: String, message: String },
}

impl ApiError {
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Credentials that give an Authorization header, refreshed on demand.
#[async_trait::async_trait]
pub(crate) trait Auth: Send + Sync {
    async fn header(&self, api: &ApiClient) -> Result<HeaderValue, ApiError>;
    /// The platform refused the header: the next call gets a fresh one.
    fn invalidate(&self);
}

/// How a platform reports its remaining call budget.
#[derive(Clone, Copy)]
pub(crate) struct BudgetHeader {
    pub name: &'static str,
    /// Below this many calls left, slow down.
    pub low: u64,
    /// The platform's refill period for one call.
    pub refill: Duration,
    /// The header that says when the window resets (Render's
    /// `Ratelimit-Reset`): a low budget then waits for it, and a 429
    /// without Retry-After too.
    pub reset: Option<&'static str>,
}

/// TLS for the platforms' APIs: the system's roots through the platform's
/// verifier, as reqwest would choose, but on ring named here: installing
/// ring as the process default would let whichever crate installs first
/// decide for every TLS config in the process (ARCHITECTURE: "TLS configs
/// name the ring provider explicitly").
fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth())
}

pub(crate) struct ApiClient {
    http: reqwest::Client,
    backend: String,
    limiter: Limiter,
    retry: RetryPolicy,
    budget: Option<BudgetHeader>,
}

impl ApiClient {
    pub(crate) fn new(
        backend: &str,
        per_minute: u32,
        retry: RetryPolicy,
        timeout: Duration,
        budget: Option<BudgetHeader>,
    ) -> Result<ApiClient, ApiError> {
        let tls = tls_config().map_err(|e| ApiError::Other { backend: backend.to_owned(), message: e.to_string() })?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("paastis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Other { backend: backend.to_owned(), message: causes(&e) })?;
        Ok(ApiClient { http, backend: backend.to_owned(), limiter: Limiter::per_minute(per_minute), retry, budget })
    }

    pub(crate) fn backend(&self) -> &str {
        &self.backend
    }

    /// Sends the request `build` makes (once per attempt), retrying what is
    /// worth retrying. Any other answer, success or not, is returned.
    pub(crate) async fn send(
        &self,
        call: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        let mut retry = 0;
        loop {
            // The platform asked everyone to wait longer than we would for
            // one call: fail now rather than send what it will refuse.
            if let Some(wait) = self.limiter.pause_left()
                && wait > self.retry.max_wait
            {
                return Err(ApiError::TooLong { backend: self.backend.clone(), call: call.to_owned(), wait });
            }
            self.limiter.acquire().await;
            let (failure, retry_after) = match build(&self.http).send().await {
                Ok(response) => {
                    self.note_budget(&response).await;
                    let status = response.status().as_u16();
                    if !retry::retryable(status) {
                        return Ok(response);
                    }
                    let retry_after = self.retry_after(&response);
                    if status == 429
                        && let Some(wait) = retry_after
                    {
                        // Everyone waits, not only this call: no storm of
                        // calls the platform will refuse anyway.
                        self.limiter.pause(wait).await;
                    }
                    let message = error_message(response).await;
                    let err = ApiError::Status {
                        backend: self.backend.clone(),
                        call: call.to_owned(),
                        status,
                        message: message.clone(),
                    };
                    (err, retry_after)
                }
                Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => {
                    let err = ApiError::Transport {
                        backend: self.backend.clone(),
                        call: call.to_owned(),
                        message: causes(&e),
                    };
                    (err, None)
                }
                Err(e) => {
                    return Err(ApiError::Transport {
                        backend: self.backend.clone(),
                        call: call.to_owned(),
                        message: causes(&e),
                    });
                }
            };
            if retry >= self.retry.max_retries {
                return Err(failure);
            }
            let Some(delay) = self.retry.delay(retry, retry_after) else {
                return Err(ApiError::TooLong {
                    backend: self.backend.clone(),
                    call: call.to_owned(),
                    wait: retry_after.unwrap_or_default(),
                });
            };
            tracing::warn!(
                backend = %self.backend,
                call,
                error = %failure,
                retry_in_ms = delay.as_millis() as u64,
                retry_after = retry_after.is_some(),
                "API call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// `send` with credentials: a 401 invalidates them and the call is made
    /// once more with fresh ones.
    pub(crate) async fn send_authed(
        &self,
        call: &str,
        auth: &dyn Auth,
        build: impl Fn(&reqwest::Client, &HeaderValue) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        let mut refreshed = false;
        loop {
            let header = auth.header(self).await?;
            let response = self.send(call, |http| build(http, &header)).await?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && !refreshed {
                tracing::info!(backend = %self.backend, call, "API credentials refused (expired?); refreshing");
                auth.invalidate();
                refreshed = true;
                continue;
            }
            return Ok(response);
        }
    }

    /// The JSON body of a successful answer; any other status is an error
    /// carrying the platform's message.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        call: &str,
        response: reqwest::Response,
    ) -> Result<T, ApiError> {
        let response = self.success(call, response).await?;
        let bytes = response.bytes().await.map_err(|e| ApiError::Transport {
            backend: self.backend.clone(),
            call: call.to_owned(),
            message: causes(&e),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            backend: self.backend.clone(),
            call: call.to_owned(),
            message: e.to_string(),
        })
    }

    /// The answer if it is a success, else an error with its message.
    pub(crate) async fn success(&self, call: &str, response: reqwest::Response) -> Result<reqwest::Response, ApiError> {
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        Err(ApiError::Status {
            backend: self.backend.clone(),
            call: call.to_owned(),
            status,
            message: error_message(response).await,
        })
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> ApiError {
        ApiError::Other { backend: self.backend.clone(), message: message.into() }
    }

    /// How long the platform asks to wait: Retry-After, else on a 429 the
    /// budget's reset header.
    fn retry_after(&self, response: &reqwest::Response) -> Option<Duration> {
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
        header(http::header::RETRY_AFTER.as_str()).and_then(retry::parse_retry_after).or_else(|| {
            let reset = self.budget?.reset?;
            (response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS)
                .then(|| header(reset).and_then(retry::parse_reset))
                .flatten()
        })
    }

    async fn note_budget(&self, response: &reqwest::Response) {
        let Some(budget) = self.budget else { return };
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
        let remaining = header(budget.name).and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(remaining) = remaining
            && remaining < budget.low
        {
            let until_reset = budget.reset.and_then(header).and_then(retry::parse_reset);
            let delay = match until_reset {
                Some(reset) if remaining == 0 => reset,
                _ => budget.refill.saturating_mul((budget.low - remaining) as u32),
            };
            tracing::info!(backend = %self.backend, remaining, delay_ms = delay.as_millis() as u64, "API budget low; slowing down");
            self.limiter.pause(delay).await;
        }
    }
}

/// The platform's own error text, short: the body's `message`/`error` field
/// when it is JSON, else the body's start.
async fn error_message(response: reqwest::Response) -> String {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let from_json = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| {
        ["message", "error", "error_description"]
            .iter()
            .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))
            .or_else(|| v.get("errors").map(|e| e.to_string()))
    });
    let mut message = from_json.unwrap_or(text);
    if message.trim().is_empty() {
        message = status.canonical_reason().unwrap_or("no message").to_owned();
    }
    message.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_api_tls_config_uses_ring_whatever_the_process_default() {
        let tls = super::tls_config().unwrap();
        let ring = rustls::crypto::ring::default_provider();
        let names = |p: &rustls::crypto::CryptoProvider| {
            p.cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect::<Vec<_>>()
        };
        assert_eq!(names(tls.crypto_provider()), names(&ring));
    }
}
