//! Asking a policy whether it accepts the params of the apps it will serve,
//! before it serves them: at startup, by `paastis check`, and before a new
//! version is swapped in.

use crate::clock::now_ms;
use crate::config::{AppConfig, Config, ConfigError};
use crate::policy::model::{AppState, AppView, Params, RequestView, Timestamp};
use crate::policy::{LoadedPolicy, PolicyError};

/// One app as a params check shows it to a policy. `key` names it to the
/// caller (an index into the config, an app name).
pub(crate) struct ParamsProbe<K> {
    pub key: K,
    pub name: String,
    pub params: Params,
    /// The Host of the plain request shown to the policy.
    pub host: String,
}

/// Shows the policy each app, awake and idle for ages, on a tick and with a
/// plain request to it, at `now`, without acting on the answers. The one
/// check of startup, `paastis check`, a policy upload and `paastis
/// simulate`: the first app whose params the policy refuses, and why.
pub(crate) async fn check_params<K>(
    policy: &LoadedPolicy,
    apps: impl IntoIterator<Item = ParamsProbe<K>>,
    now: Timestamp,
) -> Result<(), (K, PolicyError)> {
    // The answers are not acted on, so neither is any state written.
    let policy = &policy.with_scratch_kv();
    for app in apps {
        let view = AppView {
            name: app.name,
            state: AppState::Awake,
            state_since: 0,
            last_activity: None,
            in_flight: 0,
            params: app.params.into(),
        };
        let probe = RequestView {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: [("host", app.host)].into_iter().collect(),
            client_addr: "127.0.0.1".into(),
        };
        let tick = policy.on_tick(now, std::slice::from_ref(&view)).await.map(|_| ());
        let checked = match tick {
            Ok(()) => policy.on_request(now, &view, &probe).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            return Err((app.key, e));
        }
    }
    Ok(())
}

/// `check_params` for the apps of `config` that `apps` selects, now; a
/// refusal is a config error at the app's params.
pub(crate) async fn check_config_params(
    policy: &LoadedPolicy,
    config: &Config,
    apps: impl Fn(&AppConfig) -> bool,
) -> Result<(), ConfigError> {
    // Collected first: an iterator of closures held across the policy's
    // awaits would make the future not Send.
    let probes: Vec<_> = config
        .apps
        .iter()
        .enumerate()
        .filter(|(_, a)| apps(a))
        .map(|(index, app)| ParamsProbe {
            key: index,
            name: app.name().to_owned(),
            params: app.params(&config.policy),
            host: format!("{}.{}", app.name(), config.server.domain),
        })
        .collect();
    check_params(policy, probes, now_ms()).await.map_err(|(index, e)| config.params_error(index, &e.to_string()))
}
