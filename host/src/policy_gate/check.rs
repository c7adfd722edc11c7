//! Asking a policy whether it accepts the params of the apps it will serve,
//! before it serves them: at startup, by `paastis check`, and before a new
//! version is swapped in.

use crate::clock::now_ms;
use crate::config::{AppConfig, Config, ConfigError};
use crate::policy::LoadedPolicy;
use crate::policy::model::{AppState, AppView, RequestView};

/// Shows the policy each app in `apps` (indices into the config), awake and
/// idle for ages, and a plain request to it, without acting on the answers.
pub async fn check_params(
    policy: &LoadedPolicy,
    config: &Config,
    apps: impl Fn(&AppConfig) -> bool,
) -> Result<(), ConfigError> {
    // The answers are not acted on, so neither is any state written.
    let policy = &policy.with_scratch_kv();
    let now = now_ms();
    for (index, app) in config.apps.iter().enumerate().filter(|(_, a)| apps(a)) {
        let view = AppView {
            name: app.name().to_owned(),
            state: AppState::Awake,
            state_since: 0,
            last_activity: None,
            in_flight: 0,
            params: app.params(&config.policy),
        };
        let probe = RequestView {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: vec![("host".into(), format!("{}.{}", app.name(), config.server.domain))],
            client_addr: "127.0.0.1".into(),
        };
        let tick = policy.on_tick(now, std::slice::from_ref(&view)).await.map(|_| ());
        let checked = match tick {
            Ok(()) => policy.on_request(now, &view, &probe).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            return Err(config.params_error(index, &e.to_string()));
        }
    }
    Ok(())
}
