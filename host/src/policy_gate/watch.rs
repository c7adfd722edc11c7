//! The watched policies directory. A new or changed `NAME.wasm` is:
//! 1. read once the file has been quiet for a moment (a copy in progress
//!    keeps producing events);
//! 2. compiled and validated against the contract, then smoke-called in a
//!    throwaway sandbox (`PolicyRuntime::load`);
//! 3. asked whether it accepts the params of the apps it will serve;
//! 4. swapped in atomically.
//!
//! A file that fails any step (a half-written one included) is refused with
//! one log line and the previous version keeps serving. A deleted file's apps
//! fall back to the default policy. SIGHUP re-reads the whole directory.

use super::{Origin, PolicyGate, check_params};
use crate::config::policy_name_of;
use crate::policy::PolicyRuntime;
use crate::telemetry::EventKind as GatewayEvent;
use notify::RecommendedWatcher;
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a file must be quiet before it is read.
const QUIET: Duration = Duration::from_millis(150);

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch the policies directory {dir}: {message}")]
    Watch { dir: PathBuf, message: String },
    #[error("cannot handle SIGHUP: {0}")]
    Signal(std::io::Error),
}

pub struct PolicyLoader {
    gate: Arc<PolicyGate>,
    runtime: PolicyRuntime,
    dir: Option<PathBuf>,
    watch: Option<Watch>,
}

/// The live watch: created before the first scan, so that no file can land
/// unseen between the scan and the watch.
struct Watch {
    events: mpsc::UnboundedReceiver<DebounceEventResult>,
    hangup: tokio::signal::unix::Signal,
    /// Dropping it stops the watch.
    _debouncer: Option<Debouncer<RecommendedWatcher, RecommendedCache>>,
}

impl PolicyLoader {
    pub fn new(gate: Arc<PolicyGate>, runtime: PolicyRuntime, dir: Option<PathBuf>) -> PolicyLoader {
        PolicyLoader { gate, runtime, dir, watch: None }
    }

    /// Starts watching the directory and SIGHUP; events queue until `spawn`.
    pub fn start_watching(&mut self) -> Result<(), WatchError> {
        let hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).map_err(WatchError::Signal)?;
        let (tx, events) = mpsc::unbounded_channel();
        let debouncer = match &self.dir {
            Some(dir) => {
                let watch_err = |e: notify::Error| WatchError::Watch { dir: dir.clone(), message: e.to_string() };
                let mut debouncer = new_debouncer(QUIET, None, move |events| {
                    let _ = tx.send(events);
                })
                .map_err(watch_err)?;
                debouncer.watch(dir, RecursiveMode::NonRecursive).map_err(watch_err)?;
                tracing::info!(dir = %dir.display(), "watching the policies directory");
                Some(debouncer)
            }
            None => None,
        };
        self.watch = Some(Watch { events, hangup, _debouncer: debouncer });
        Ok(())
    }

    /// Loads every policy file in the directory, and drops the ones gone.
    pub async fn scan(&self) {
        let Some(dir) = &self.dir else { return };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::error!(dir = %dir.display(), error = %e, "cannot read the policies directory");
                return;
            }
        };
        let files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| is_wasm(p)).collect();
        for path in &files {
            self.sync(path).await;
        }
        for name in self.gate.names_from_dir() {
            if !files.iter().any(|p| policy_name_of(p) == name) {
                self.gate.remove(&name);
            }
        }
    }

    /// Brings one file's policy up to date with the file.
    pub async fn sync(&self, path: &Path) {
        let name = policy_name_of(path);
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.gate.names_from_dir().contains(&name) {
                    self.gate.remove(&name);
                }
                return;
            }
            Err(e) => return self.refused(&name, path, &e),
        };
        // Editors and copies touch files without changing them.
        if self.gate.loaded_version(&name).as_deref() == Some(hex::encode(Sha256::digest(&bytes)).as_str()) {
            return;
        }
        let policy = match self.runtime.load(&name, &bytes).await {
            Ok(policy) => policy,
            Err(e) => return self.refused(&name, path, &e),
        };
        let gate = &self.gate;
        let default = gate.config().policy.default_name();
        let serves = |app: &crate::config::AppConfig| match app.policy() {
            Some(wanted) => wanted == name || (!gate.has(wanted) && name == default),
            None => name == default,
        };
        if let Err(e) = check_params(&policy, gate.config(), serves).await {
            return self.refused(&name, path, &e);
        }
        gate.install(&name, policy, Origin::Dir(path.to_owned()));
    }

    fn refused(&self, name: &str, path: &Path, error: &dyn std::fmt::Display) {
        tracing::warn!(policy = name, path = %path.display(), error = %error, "policy refused; the previous version keeps serving");
        let kind = GatewayEvent::PolicyRefused { policy: name.to_owned(), reason: error.to_string() };
        self.gate.telemetry().events.emit(None, kind);
    }

    /// Acts on the watched events and SIGHUP until the task is dropped.
    pub fn spawn(mut self) -> Result<tokio::task::JoinHandle<()>, WatchError> {
        if self.watch.is_none() {
            self.start_watching()?;
        }
        let Some(Watch { mut events, mut hangup, _debouncer: debouncer }) = self.watch.take() else {
            return Err(WatchError::Signal(std::io::Error::other("the watch did not start")));
        };
        Ok(tokio::spawn(async move {
            // Named here so the task owns it: the watch lives as long as the task.
            let _debouncer = debouncer;
            loop {
                tokio::select! {
                    Some(events) = events.recv() => match events {
                        Ok(events) => {
                            // Reading a file is an access event: reacting to
                            // those would make every read trigger another.
                            let changes = events.into_iter().filter(|e| !matches!(e.kind, EventKind::Access(_)));
                            let mut paths: Vec<PathBuf> =
                                changes.flat_map(|e| e.event.paths).filter(|p| is_wasm(p)).collect();
                            paths.sort();
                            paths.dedup();
                            for path in paths {
                                self.sync(&path).await;
                            }
                        }
                        Err(errors) => {
                            for e in errors {
                                tracing::warn!(error = %e, "policies directory watch error; SIGHUP rescans");
                            }
                        }
                    },
                    Some(()) = hangup.recv() => match &self.dir {
                        Some(dir) => {
                            tracing::info!(dir = %dir.display(), "SIGHUP: re-reading the policies directory");
                            self.scan().await;
                        }
                        None => tracing::info!("SIGHUP: no policy.dir to re-read"),
                    },
                }
            }
        }))
    }
}

fn is_wasm(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
        && path.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.'))
}
