//! Before the gateway serves, and in `paastis check`: every policy the config
//! names must be loaded. A policy that is missing, or whose file was refused,
//! is a config error naming the key and line that asks for it and why, never
//! a silent fallback to the default policy. (At runtime a policy that goes
//! missing is a fallback, made loud by the gate: see `PolicyGate::serving`.)

use super::{PolicyGate, check_config_params};
use crate::config::{AppConfig, Config, ConfigError, PolicySource};
use crate::policy::PolicyRuntime;
use std::path::Path;

/// The first policy the config names that is not loaded, as a config error.
pub(crate) async fn require_named_policies(
    gate: &PolicyGate,
    runtime: &PolicyRuntime,
    config: &Config,
) -> Result<(), ConfigError> {
    let default = config.policy.default_name();
    if let PolicySource::Dir(name) = config.policy.source()
        && !gate.has(&name)
    {
        let serves = |app: &AppConfig| app.policy().is_none_or(|wanted| wanted == name);
        let why = why_not_loaded(&name, runtime, config, serves).await?;
        return Err(config.default_policy_error(&why));
    }
    for (index, app) in config.apps.iter().enumerate() {
        let Some(wanted) = app.policy().filter(|wanted| !gate.has(wanted)) else { continue };
        let serves = |a: &AppConfig| a.policy() == Some(wanted) || (a.policy().is_none() && wanted == default);
        let why = why_not_loaded(wanted, runtime, config, serves).await?;
        return Err(config.app_policy_error(index, &why));
    }
    for (index, rule) in config.rules.iter().enumerate() {
        // A name made from the match (`policy = "pr$1"`) is known only once
        // an app matches; discovery makes that one loud at runtime.
        let Some(wanted) = rule.policy.as_deref().filter(|p| !p.contains('$') && !gate.has(p)) else { continue };
        let why = why_not_loaded(wanted, runtime, config, |a: &AppConfig| a.policy() == Some(wanted)).await?;
        return Err(config.rule_policy_error(index, &why));
    }
    Ok(())
}

/// Why policy `name` is not loaded, worked out again from its file: absent,
/// refused by the runtime (with the reason), or refusing the params of the
/// apps it would serve (then that is the error, pointing at the param).
async fn why_not_loaded(
    name: &str,
    runtime: &PolicyRuntime,
    config: &Config,
    serves: impl Fn(&AppConfig) -> bool,
) -> Result<String, ConfigError> {
    let builtins = crate::policy::builtin::BUILTIN_POLICIES.join(", ");
    let Some(dir) = &config.policy.dir else {
        return Ok(format!("unknown policy {name:?}: not a built-in ({builtins}), and there is no policy.dir"));
    };
    let path = dir.join(format!("{name}.wasm"));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(format!(
                "unknown policy {name:?}: not a built-in ({builtins}), and {} has no {name}.wasm{}",
                dir.display(),
                available(dir)
            ));
        }
        Err(e) => return Ok(format!("policy {name:?}: cannot read {}: {e}", path.display())),
    };
    let policy = match runtime.load(name, &bytes).await {
        Ok(policy) => policy,
        Err(e) => return Ok(format!("policy {name:?} in {} is refused: {e}", path.display())),
    };
    check_config_params(&policy, config, serves).await?;
    // It loads now: it changed since the directory was read.
    Ok(format!("policy {name:?} in {} was refused when the directory was read (see the log)", path.display()))
}

/// " (it holds a.wasm, b.wasm)", or " (it holds no .wasm file)".
fn available(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".wasm") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    if names.is_empty() { " (it holds no .wasm file)".to_owned() } else { format!(" (it holds {})", names.join(", ")) }
}
