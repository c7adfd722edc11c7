//! Every backend of the gateway behind one `Backend`: each app goes to the
//! one it names (`process`, or a `[[backends]]` entry), with the hooks run
//! around its starts and stops.

use super::api::{ApiClient, RetryPolicy};
use super::clever_cloud::{CleverCloud, Credentials};
use super::heroku::{self, Heroku};
use super::hooks::{Hook, Hooks};
use super::kubernetes::{self, Kubernetes};
use super::paas::{PaasBackend, Platform};
use super::render::{self, Render};
use super::scalingo::Scalingo;
use super::secret::Secret;
use super::{Backend, BackendError, ProcessBackend, Running};
use crate::config::{AppConfig, BackendConfig, BackendKind, Config, PlatformKind};
use crate::store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) struct Backends {
    process: ProcessBackend,
    paas: BTreeMap<String, Arc<PaasBackend>>,
    hooks: Hooks,
}

impl Backends {
    /// The process backend and one backend per `[[backends]]` entry, with
    /// their secrets read from the environment.
    pub(crate) fn from_config(config: &Config, store: &Store) -> Result<Backends, BackendError> {
        let has_process_apps = config.apps.iter().any(|app| matches!(app.backend, BackendKind::Process));
        let process = ProcessBackend::new(store.clone(), has_process_apps)
            .map_err(|e| BackendError::Setup { name: "process".into(), message: e.to_string() })?;
        let mut paas = BTreeMap::new();
        for (index, backend) in config.backends.iter().enumerate() {
            let platform = platform(backend).map_err(|e| setup_error(config, index, e))?;
            let template = backend.upstream.as_ref().map(|u| u.get_ref().clone());
            let built = PaasBackend::new(backend.name(), platform, store.clone(), template);
            tracing::info!(backend = backend.name(), kind = backend.kind.as_str(), "PaaS backend ready");
            paas.insert(backend.name().to_owned(), Arc::new(built));
        }
        Ok(Backends { process, paas, hooks: Hooks::new(config.hooks.clone()) })
    }

    /// What `from_config` would refuse, without a store or a process
    /// spawner: each backend's credentials are in the environment
    /// (`paastis check`).
    pub(crate) fn check(config: &Config) -> Result<(), BackendError> {
        for (index, backend) in config.backends.iter().enumerate() {
            platform(backend).map_err(|e| setup_error(config, index, e))?;
        }
        Ok(())
    }

    pub(crate) fn paas(&self) -> impl Iterator<Item = &Arc<PaasBackend>> {
        self.paas.values()
    }

    pub(crate) fn get_paas(&self, name: &str) -> Option<&Arc<PaasBackend>> {
        self.paas.get(name)
    }

    fn route(&self, app: &AppConfig) -> Result<&dyn Backend, BackendError> {
        match &app.backend {
            BackendKind::Process => Ok(&self.process),
            BackendKind::Named(name) => match self.paas.get(name) {
                Some(backend) => Ok(backend.as_ref()),
                None => Err(BackendError::Unknown(name.clone())),
            },
        }
    }
}

/// A backend that cannot be built: the config key at fault and why.
struct SetupError {
    key: &'static str,
    message: String,
}

/// Names the backend, and the file, key and line at fault.
fn setup_error(config: &Config, index: usize, e: SetupError) -> BackendError {
    let name = config.backends[index].name().to_owned();
    BackendError::Setup { name, message: config.backend_error(index, e.key, e.message).to_string() }
}

fn platform(config: &BackendConfig) -> Result<Box<dyn Platform>, SetupError> {
    let secret = |key: &'static str, var: Option<&str>| -> Result<Secret, SetupError> {
        match var {
            Some(var) => Secret::from_env(var).map_err(|message| SetupError { key, message }),
            None => Err(SetupError { key, message: "a credential's environment variable is not named".into() }),
        }
    };
    let token_env = config.token_env.as_ref().map(|t| t.get_ref().as_str());
    let retry =
        RetryPolicy { max_retries: config.max_retries, backoff: config.backoff.0, max_wait: config.max_retry_wait.0 };
    let budget = match config.kind {
        PlatformKind::Heroku => Some(heroku::BUDGET),
        PlatformKind::Render => Some(render::BUDGET),
        _ => None,
    };
    let unusable = |e: &dyn std::fmt::Display| SetupError { key: "name", message: e.to_string() };
    let api = || {
        ApiClient::new(config.name(), config.rate_limit(), retry, config.request_timeout.0, budget)
            .map_err(|e| unusable(&e))
    };
    let api_url = config.api_url.as_ref().map(|u| u.get_ref().as_str());
    let poll = config.poll_interval.0;
    Ok(match config.kind {
        PlatformKind::Scalingo => Box::new(Scalingo::new(
            api()?,
            config.region.as_deref(),
            api_url,
            config.auth_url.as_ref().map(|u| u.get_ref().as_str()),
            secret("token_env", token_env)?,
            poll,
        )),
        PlatformKind::Heroku => {
            Box::new(Heroku::new(api()?, api_url, secret("token_env", token_env)?).map_err(|e| unusable(&e))?)
        }
        PlatformKind::CleverCloud => {
            let credentials = match token_env {
                Some(_) => Credentials::Bearer(secret("token_env", token_env)?),
                None => Credentials::OAuth {
                    consumer_key: secret("consumer_key_env", config.consumer_key_env.as_deref())?,
                    consumer_secret: secret("consumer_secret_env", config.consumer_secret_env.as_deref())?,
                    token: secret("oauth_token_env", config.oauth_token_env.as_deref())?,
                    token_secret: secret("oauth_secret_env", config.oauth_secret_env.as_deref())?,
                },
            };
            Box::new(CleverCloud::new(api()?, api_url, config.org.as_deref(), credentials, poll))
        }
        PlatformKind::Render => Box::new(
            Render::new(api()?, api_url, config.owner_id.as_deref(), secret("token_env", token_env)?, poll)
                .map_err(|e| unusable(&e))?,
        ),
        PlatformKind::Kubernetes => kubernetes_platform(config, retry)?,
    })
}

/// A Kubernetes backend: its kubeconfig (or service account) is checked now,
/// the cluster is reached at the first call.
fn kubernetes_platform(config: &BackendConfig, retry: RetryPolicy) -> Result<Box<dyn Platform>, SetupError> {
    let source = match &config.kubeconfig {
        Some(path) => kubernetes::Source::Kubeconfig {
            path: path.get_ref().into(),
            context: config.context.as_ref().map(|c| c.get_ref().clone()),
        },
        None => kubernetes::Source::InCluster,
    };
    source.check().map_err(|message| SetupError { key: "kubeconfig", message })?;
    let namespaces = config.namespaces.as_ref().map(|n| n.get_ref().clone()).unwrap_or_default();
    let selector = config.selector.as_ref().map(|s| s.get_ref().as_str());
    let timeout = config.request_timeout.0;
    Ok(Box::new(Kubernetes::new(config.name(), source, namespaces, selector, config.rate_limit(), retry, timeout)))
}

#[async_trait::async_trait]
impl Backend for Backends {
    async fn start(&self, app: &AppConfig) -> Result<Running, BackendError> {
        let backend = self.route(app)?;
        self.hooks.run(Hook::BeforeStart, app).await;
        let running = backend.start(app).await?;
        self.hooks.run(Hook::AfterStart, app).await;
        Ok(running)
    }

    async fn stop(&self, app: &AppConfig) -> Result<(), BackendError> {
        let backend = self.route(app)?;
        self.hooks.run(Hook::BeforeStop, app).await;
        let result = backend.stop(app).await;
        self.hooks.run(Hook::AfterStop, app).await;
        result
    }

    async fn shutdown(&self) {
        self.process.shutdown().await;
    }

    fn survives_gateway(&self, app: &AppConfig) -> bool {
        self.route(app).is_ok_and(|b| b.survives_gateway(app))
    }
}
