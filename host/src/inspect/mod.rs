//! `paastis inspect`: what the store remembers, shown as the next gateway
//! will restore it, as JSON: epoch milliseconds for scripts, with RFC 3339
//! times and a `summary` line for people ("asleep since
//! 2026-11-30T01:00:12Z, 3h 12m; last request ..."). Reads only: a damaged sled store is reported
//! (with what `serve` will do about it), never moved.
//!
//! With sled, every app restarts asleep: its process did not outlive the
//! gateway, and a PaaS app still running is adopted again by discovery. So
//! `state` is what the gateway will restore and `recorded_state` what the
//! store says (an app recorded awake was awake when the gateway stopped or
//! crashed). With Redis the records are the cluster's shared view: PaaS apps
//! keep their state (the replicas share it); process apps restart asleep.

mod human;

use crate::config::{BackendKind, Config, ConfigError};
use crate::policy::model::AppState;
use crate::store::{AppRecord, Store, StoreError};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// Where to find the store.
pub(crate) enum Target {
    /// A sled directory (`--store`).
    Sled(PathBuf),
    /// The `[store]` of a config file (`--config`): sled or Redis.
    Config(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum InspectError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const AFTER_DAMAGE: &str = "the next `paastis serve` moves this store to <path>.corrupt-<time> and starts a fresh \
     one: every app starts asleep, discovery adopts running PaaS apps again, a PaaS app whose saved formation is \
     lost wakes with 1 web (with a warning), and policy state and the event history start empty";
const RESTARTS_ASLEEP: &str = "apps recorded awake restart asleep: their processes did not outlive the gateway, \
     and discovery adopts PaaS apps that still run";

pub(crate) async fn inspect(target: Target) -> Result<Value, InspectError> {
    let (store, process_apps) = match target {
        Target::Sled(path) => match Store::open(&path) {
            Ok(store) => (store, None),
            Err(StoreError::Damaged { path, damage }) => return Ok(damaged(&path, &damage)),
            Err(e) => return Err(e.into()),
        },
        Target::Config(file) => {
            let config = Config::load(&file)?;
            let process: HashSet<String> =
                config.apps.iter().filter(|a| a.backend == BackendKind::Process).map(|a| a.name().to_owned()).collect();
            let store = if config.store.is_redis() {
                Store::connect(&config.store).await?
            } else {
                match Store::open(&config.store.path) {
                    Ok(store) => store,
                    Err(StoreError::Damaged { path, damage }) => return Ok(damaged(&path, &damage)),
                    Err(e) => return Err(e.into()),
                }
            };
            (store, Some(process))
        }
    };
    let records: BTreeMap<String, AppRecord> = store.load_apps().await?.into_iter().collect();
    let shared = store.is_shared();
    let mut restarted_asleep = false;
    let now = human::now();
    let apps: BTreeMap<String, Value> = records
        .into_iter()
        .map(|(name, record)| {
            // Only a shared store's PaaS apps keep their recorded state.
            let local = !shared || process_apps.as_ref().is_some_and(|p| p.contains(&name));
            let restored = if local { AppState::Asleep } else { record.state };
            restarted_asleep |= restored != record.state;
            let mut shown = serde_json::to_value(&record).unwrap_or_default();
            shown["state"] = json!(restored.as_str());
            shown["recorded_state"] = json!(record.state.as_str());
            // For people: the same times as RFC 3339, and how long ago.
            shown["state_since_at"] = json!(human::rfc3339(record.state_since));
            if let Some(at) = record.last_activity {
                shown["last_activity_at"] = json!(human::rfc3339(at));
            }
            shown["summary"] =
                json!(human::summary(record.state.as_str(), record.state_since, record.last_activity, now));
            (name, shown)
        })
        .collect();
    let formations = store.load_formations().await?;
    let mut notes = Vec::new();
    if restarted_asleep {
        notes.push(RESTARTS_ASLEEP);
    }
    Ok(json!({
        "store": { "backend": store.kind(), "location": store.location(), "status": "ok" },
        "apps": apps,
        "formations": formations,
        "notes": notes,
    }))
}

fn damaged(path: &std::path::Path, damage: &str) -> Value {
    json!({
        "store": { "backend": "sled", "location": path.display().to_string(), "status": "damaged", "damage": damage },
        "apps": {},
        "formations": {},
        "notes": [AFTER_DAMAGE],
    })
}
