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

use super::{Origin, PolicyGate, check_config_params};
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

pub(crate) struct PolicyLoader {
    core: Arc<Core>,
    watch: Option<Watch>,
}

/// What the watcher and the admin upload share: one validation and swap
/// path, serialized so an upload and the watcher's view of the file it
/// wrote never load the same version twice.
struct Core {
    gate: Arc<PolicyGate>,
    runtime: PolicyRuntime,
    dir: Option<PathBuf>,
    serial: tokio::sync::Mutex<()>,
}

/// Installs uploaded policies (`PUT /policies/{name}` on the admin API)
/// through the same steps as the directory, then persists them into it.
#[derive(Clone)]
pub(crate) struct PolicyUploader {
    core: Arc<Core>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    #[error("{0:?} is not a policy name (letters, digits, '-' and '_', at most 64)")]
    BadName(String),
    #[error("no policy.dir is configured: an uploaded policy would not survive a restart, so uploads are refused")]
    NoDir,
    #[error("{0}")]
    Refused(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The outcome of an accepted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Uploaded {
    Installed {
        sha256: String,
        path: PathBuf,
    },
    /// The same bytes were already serving and on disk; nothing changed.
    Unchanged {
        sha256: String,
        path: PathBuf,
    },
    /// The same bytes were already serving, but the file in the directory
    /// differed (a broken copy, refused while this version kept serving):
    /// the file now holds them, so a restart serves this version too.
    Repaired {
        sha256: String,
        path: PathBuf,
    },
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
    pub(crate) fn new(gate: Arc<PolicyGate>, runtime: PolicyRuntime, dir: Option<PathBuf>) -> PolicyLoader {
        let core = Arc::new(Core { gate, runtime, dir, serial: tokio::sync::Mutex::new(()) });
        PolicyLoader { core, watch: None }
    }

    /// A handle for uploads, valid while the gateway runs.
    pub(crate) fn uploader(&self) -> PolicyUploader {
        PolicyUploader { core: self.core.clone() }
    }

    /// Starts watching the directory and SIGHUP; events queue until `spawn`.
    pub(crate) fn start_watching(&mut self) -> Result<(), WatchError> {
        let hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).map_err(WatchError::Signal)?;
        let (tx, events) = mpsc::unbounded_channel();
        let debouncer = match &self.core.dir {
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
    pub(crate) async fn scan(&self) {
        self.core.scan().await
    }

    /// Brings one file's policy up to date with the file.
    pub(crate) async fn sync(&self, path: &Path) {
        self.core.sync(path).await
    }

    /// Acts on the watched events and SIGHUP until the task is dropped.
    pub(crate) fn spawn(mut self) -> Result<tokio::task::JoinHandle<()>, WatchError> {
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
                    Some(()) = hangup.recv() => match &self.core.dir {
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

impl Core {
    /// Loads every policy file in the directory, and drops the ones gone.
    pub(crate) async fn scan(&self) {
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
    pub(crate) async fn sync(&self, path: &Path) {
        let _serial = self.serial.lock().await;
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
        match self.validate(&name, &bytes).await {
            Ok(policy) => self.gate.install(&name, policy, Origin::Dir(path.to_owned())),
            Err(e) => self.refused(&name, path, &e),
        }
    }

    /// Compiles and smoke-calls the component, then asks it about the params
    /// of the apps it would serve: every step a policy passes before serving.
    async fn validate(&self, name: &str, bytes: &[u8]) -> Result<crate::policy::LoadedPolicy, String> {
        let policy = self.runtime.load(name, bytes).await.map_err(|e| e.to_string())?;
        let gate = &self.gate;
        let default = gate.config().policy.default_name();
        let serves = |app: &crate::config::AppConfig| match app.policy() {
            Some(wanted) => wanted == name || (!gate.has(wanted) && name == default),
            None => name == default,
        };
        check_config_params(&policy, gate.config(), serves).await.map_err(|e| e.to_string())?;
        Ok(policy)
    }

    fn refused(&self, name: &str, path: &Path, error: &dyn std::fmt::Display) {
        match self.gate.loaded_version(name).filter(|_| self.gate.has(name)) {
            Some(previous) => tracing::warn!(
                policy = name,
                path = %path.display(),
                error = %error,
                previous,
                "policy refused; the previous version keeps serving"
            ),
            None => tracing::warn!(
                policy = name,
                path = %path.display(),
                error = %error,
                "policy refused; no version of it is loaded, its apps stay on their fallback"
            ),
        }
        let kind = GatewayEvent::PolicyRefused { policy: name.to_owned(), reason: error.to_string() };
        self.gate.emit(None, kind);
    }
}

impl PolicyUploader {
    /// Validates `bytes` as policy `name` exactly as a file dropped in the
    /// directory would be; on success writes it into the directory (a temp
    /// file renamed into place, so the watcher never sees it half-written)
    /// and swaps it in. The watcher then finds the version already loaded
    /// and does nothing. A refused upload changes nothing, on disk or in
    /// memory, and is logged and emitted like a refused file.
    pub(crate) async fn upload(&self, name: &str, bytes: &[u8]) -> Result<Uploaded, UploadError> {
        let core = &self.core;
        if !is_policy_name(name) {
            return Err(UploadError::BadName(name.to_owned()));
        }
        let Some(dir) = &core.dir else { return Err(UploadError::NoDir) };
        let path = dir.join(format!("{name}.wasm"));
        let _serial = core.serial.lock().await;
        let sha256 = hex::encode(Sha256::digest(bytes));
        if core.gate.loaded_version(name).as_deref() == Some(sha256.as_str())
            && core.gate.has(name)
            && core.gate.names_from_dir().iter().any(|n| n == name)
        {
            // Serving is not enough: what a restart loads is the file.
            if std::fs::read(&path).is_ok_and(|on_disk| on_disk == bytes) {
                return Ok(Uploaded::Unchanged { sha256, path });
            }
            write_atomically(dir, &path, name, bytes)
                .map_err(|source| UploadError::Write { path: path.clone(), source })?;
            tracing::info!(policy = name, sha256, path = %path.display(), "policy file repaired from an upload of the version serving");
            return Ok(Uploaded::Repaired { sha256, path });
        }
        let policy = match core.validate(name, bytes).await {
            Ok(policy) => policy,
            Err(reason) => {
                core.refused(name, Path::new("(admin upload)"), &reason);
                return Err(UploadError::Refused(reason));
            }
        };
        write_atomically(dir, &path, name, bytes)
            .map_err(|source| UploadError::Write { path: path.clone(), source })?;
        core.gate.install(name, policy, Origin::Dir(path.clone()));
        Ok(Uploaded::Installed { sha256, path })
    }
}

fn write_atomically(dir: &Path, path: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    // A dot-file without the .wasm extension: the watcher ignores it.
    let aside = dir.join(format!(".{name}.upload-{}", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&aside)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&aside, path)?;
        // The rename itself is durable once the directory is synced.
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&aside);
    }
    written
}

fn is_policy_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_wasm(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
        && path.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.'))
}
