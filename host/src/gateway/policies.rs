//! A start's policies: the built-in ones, the default policy, the policies
//! directory, then each app's policy asked about the app's params. `paastis
//! check` runs the same, without watching, without the compile cache and
//! with in-memory state.

use super::GatewayError;
use crate::config::{Config, PolicySource, policy_name_of};
use crate::policy::builtin::{BUILTIN_POLICIES, DEFAULT_POLICY};
use crate::policy::watch::PolicyLoader;
use crate::policy::{Entry, KvBackend, Origin, PolicyGate, PolicyRuntime, SandboxLimits};
use crate::telemetry::Telemetry;
use std::collections::HashSet;
use std::sync::Arc;

/// What the policies are built for. A gateway that serves watches the
/// policies directory and keeps their compiled code for its next start; a
/// check (`paastis check`) leaves no watcher and writes nothing.
#[derive(PartialEq)]
pub(super) enum Purpose {
    Serve,
    Check,
}

pub(super) async fn build_policies(
    config: &Arc<Config>,
    purpose: Purpose,
    kv: Arc<dyn KvBackend>,
    telemetry: Telemetry,
) -> Result<(Arc<PolicyGate>, PolicyLoader), GatewayError> {
    let isolation = match config.policy.isolation {
        crate::config::Isolation::Reuse => crate::policy::Isolation::Reuse,
        crate::config::Isolation::PerCall => crate::policy::Isolation::PerCall,
    };
    let limits = SandboxLimits { call_timeout: config.policy.call_timeout.0, isolation, ..SandboxLimits::default() };
    let load_err = |name: &str| {
        let name = name.to_owned();
        move |source| GatewayError::Policy { name, source }
    };
    let compile_cache = if purpose == Purpose::Serve { config.policy.compile_cache_dir() } else { None };
    let runtime = PolicyRuntime::with_kv(limits, kv, compile_cache.as_deref()).map_err(load_err(DEFAULT_POLICY))?;
    let mut builtins = Vec::new();
    for name in BUILTIN_POLICIES {
        let wasm = crate::policy::builtin::wasm(name).unwrap_or_default();
        let policy = runtime.load(name, wasm).await.map_err(load_err(name))?;
        tracing::info!(
            policy = name,
            sha256 = policy.sha256(),
            code = policy.compiled().as_str(),
            "builtin policy ready"
        );
        builtins.push(policy);
    }
    let gate = Arc::new(PolicyGate::new(config.clone(), builtins, telemetry).ok_or(GatewayError::NoBuiltin)?);
    if let PolicySource::File(path) = config.policy.source() {
        let name = policy_name_of(&path);
        let wasm = std::fs::read(&path).map_err(|source| GatewayError::PolicyFile { path: path.clone(), source })?;
        let policy = runtime.load(&name, &wasm).await.map_err(load_err(&name))?;
        gate.install(&name, policy, Origin::File(path));
    }
    let mut loader = PolicyLoader::new(gate.clone(), runtime.clone(), config.policy.dir.clone());
    if purpose == Purpose::Serve {
        loader.start_watching().map_err(GatewayError::Watch)?;
    }
    loader.scan().await;
    crate::policy::require_named_policies(&gate, &runtime, config).await?;
    // One check per policy, of all the apps it serves: a check per app
    // scanned every app for each, quadratic in their number at start.
    let mut by_policy: Vec<(Arc<Entry>, HashSet<&str>)> = Vec::new();
    for app in &config.apps {
        let entry = gate.resolve(app.name());
        match by_policy.iter_mut().find(|(e, _)| Arc::ptr_eq(e, &entry)) {
            Some((_, apps)) => {
                apps.insert(app.name());
            }
            None => by_policy.push((entry, HashSet::from([app.name()]))),
        }
    }
    for (entry, apps) in &by_policy {
        crate::policy::check_config_params(&entry.policy, config, |a| apps.contains(a.name())).await?;
    }
    gate.log_serving();
    Ok((gate, loader))
}
