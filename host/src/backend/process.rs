//! The `process` backend: an app is a local command, run under its own
//! supervisor (`supervisor/`), which owns the app's process group and every
//! process below it, and ends them all when told to, when the app's first
//! process ends, or when the gateway dies.
//!
//! The gateway talks to each supervisor over a socket that is the
//! supervisor's stdin: the supervisor reports the app's pid, its exit and a
//! SIGKILL; the gateway stops it with SIGTERM (through a pidfd, so never
//! another process) and knows the app is gone when the supervisor exits.
//!
//! Each running app's supervisor and process group are recorded in the
//! store (`ledger.rs`) until the supervisor exits, for the sweep that the
//! next start runs after a crash (`sweep.rs`).

use super::ledger::Ledger;
use super::listener::ListenerOwner;
use super::output;
use super::pidfd::PidFd;
use super::ports::{PortLease, PortLeases, ensure_free};
use super::procfs;
use super::spawner::Spawner;
use super::supervisor::{Launch, Report};
use super::warm::{Idle, WarmSupervisors};
use super::{Backend, BackendError, Running};
use crate::config::AppConfig;
use crate::store::{ProcessId, Store};
use nix::sys::signal::Signal;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::sync::{oneshot, watch};

/// Beyond `stop_grace`: the supervisor's own bound on processes that resist
/// SIGKILL, and then some.
const STOP_MARGIN: Duration = Duration::from_secs(10);

/// A running app, as the gateway holds it.
struct Supervised {
    /// The supervisor; SIGTERM asks it to stop the app.
    supervisor: PidFd,
    /// The app's first process, and its start time.
    app: (i32, u64),
    grace: Duration,
    /// True once the supervisor exited: every process of the app is gone.
    done: watch::Receiver<bool>,
    /// The port picked for it, given to no other app while this is kept.
    _port: Option<PortLease>,
}

pub(crate) struct ProcessBackend {
    warm: Arc<WarmSupervisors>,
    children: Mutex<HashMap<String, Supervised>>,
    ports: PortLeases,
    ledger: Ledger,
}

impl ProcessBackend {
    /// Records each running app's processes in `store`. With `keep_warm`
    /// (the config has process apps), supervisors wait for the first wakes
    /// from now on; otherwise from the first start on.
    pub(crate) fn new(store: Store, keep_warm: bool) -> std::io::Result<ProcessBackend> {
        let runtime = tokio::runtime::Handle::current();
        let warm = WarmSupervisors::new(Spawner::start(runtime.clone())?, runtime);
        if keep_warm {
            warm.keep_warm();
        }
        Ok(ProcessBackend {
            warm,
            children: Mutex::new(HashMap::new()),
            ports: PortLeases::default(),
            ledger: Ledger::new(store),
        })
    }

    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<String, Supervised>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is a single insert or remove), so poison is moot.
        self.children.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn stop_child(name: &str, child: Supervised) -> Result<(), BackendError> {
        let mut done = child.done;
        if *done.borrow() {
            return Ok(());
        }
        // The supervisor sends SIGTERM on to the app, SIGKILL after the
        // grace period (and reports it), and exits when nothing is left.
        if let Err(e) = child.supervisor.signal(Signal::SIGTERM) {
            tracing::warn!(app = name, error = %e, "cannot signal the app's supervisor");
        }
        let limit = child.grace + STOP_MARGIN;
        if tokio::time::timeout(limit, done.wait_for(|done| *done)).await.is_ok() {
            return Ok(());
        }
        // Never seen: the supervisor is stuck. Take it and the app down hard.
        let _ = child.supervisor.signal(Signal::SIGKILL);
        kill_app_group(child.app);
        Err(BackendError::Stop(format!("{name}'s supervisor did not finish within {limit:?}")))
    }
}

/// SIGKILL to the app's process group, if its leader is still the process
/// we started (a pid, and so a group id, can be reused once it exits).
fn kill_app_group((pid, start_time): (i32, u64)) {
    if let Ok(Some(_leader)) = PidFd::open_verified(pid, start_time) {
        // While `_leader` is open and alive, the group id cannot be reused.
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
}

type Reports = Lines<BufReader<UnixStream>>;

/// A supervisor's reports are a few short lines over the process's life; the
/// reader lives as long as the process, so its buffer stays small (tokio's
/// default is 8 KiB per awake app). A longer line is still read whole.
const REPORT_BUFFER: usize = 256;

async fn next_report(reports: &mut Reports) -> Option<Report> {
    loop {
        match reports.next_line().await {
            Ok(Some(line)) => match Report::parse(&line) {
                Some(report) => return Some(report),
                None => tracing::warn!(line, "unknown report from an app supervisor"),
            },
            Ok(None) | Err(_) => return None,
        }
    }
}

#[async_trait::async_trait]
impl Backend for ProcessBackend {
    async fn start(&self, app: &AppConfig) -> Result<Running, BackendError> {
        let name = app.name().to_owned();
        // A previous run that is still around (it exited badly, or a stop
        // raced) must be gone, all of it, before the next one starts.
        let previous = self.children().remove(&name);
        if let Some(previous) = previous {
            Self::stop_child(&name, previous).await?;
        }
        let (port, lease) = match app.port {
            Some(port) => {
                ensure_free(port)?;
                (port, None)
            }
            None => {
                let lease = self.ports.pick()?;
                (lease.port(), Some(lease))
            }
        };
        let port_text = port.to_string();
        let argv: Vec<String> = app.command().iter().map(|a| a.replace("{port}", &port_text)).collect();
        let Some(program) = argv.first().cloned() else {
            return Err(BackendError::Spawn { program: String::new(), message: "empty command".into() });
        };
        let spawn_error = |message: String| BackendError::Spawn { program: program.clone(), message };
        let (Idle { child: mut supervisor, socket: ours }, replacement) =
            self.warm.take().await.map_err(|e| spawn_error(e.to_string()))?;
        let supervisor_pid = supervisor.id().ok_or_else(|| spawn_error("the supervisor exited at once".into()))?;
        // An unreaped child: its pid cannot have been reused yet.
        let handle = PidFd::open(supervisor_pid as i32).map_err(|e| spawn_error(e.to_string()))?;
        let tail = output::forward(&name, supervisor.stdout.take(), supervisor.stderr.take());
        ours.set_nonblocking(true).map_err(|e| spawn_error(e.to_string()))?;
        let mut ours = UnixStream::from_std(ours).map_err(|e| spawn_error(e.to_string()))?;
        let mut env = vec![("PORT".to_owned(), port_text.clone())];
        env.extend(app.env.iter().map(|(k, v)| (k.clone(), v.replace("{port}", &port_text))));
        let launch = Launch { command: argv, env, cwd: app.cwd.clone(), grace_ms: app.stop_grace.0.as_millis() as u64 };
        if let Err(e) = ours.write_all(&launch.to_line()).await {
            // Its socket is broken: it exits, if it has not already.
            let _ = supervisor.start_kill();
            return Err(spawn_error(format!("cannot send the command to its supervisor: {e}")));
        }
        let mut reports = BufReader::with_capacity(REPORT_BUFFER, ours).lines();
        let (pid, start_time) = match next_report(&mut reports).await {
            Some(Report::Started { pid, start_time }) => (pid, start_time),
            Some(Report::SpawnFailed(message)) => {
                let _ = supervisor.wait().await;
                return Err(spawn_error(message));
            }
            other => {
                let status = supervisor.wait().await.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                return Err(spawn_error(format!("its supervisor ended without starting it ({status}, {other:?})")));
            }
        };
        tracing::info!(app = %name, pid, supervisor = supervisor_pid, port, "app process started");
        // An unreaped child: its /proc entry is still the supervisor's.
        let supervisor_id = ProcessId {
            pid: supervisor_pid as i32,
            start_time: procfs::start_time(supervisor_pid as i32).unwrap_or(0),
        };
        self.ledger.record(&name, supervisor_id, ProcessId { pid, start_time });

        let (done_tx, done_rx) = watch::channel(false);
        let (exited_tx, exited_rx) = oneshot::channel();
        let grace = app.stop_grace.0;
        let watched = name.clone();
        let ledger = self.ledger.clone();
        tokio::spawn(async move {
            let mut exited_tx = Some(exited_tx);
            while let Some(report) = next_report(&mut reports).await {
                match report {
                    Report::Exited(status) => {
                        if let Some(tx) = exited_tx.take() {
                            let _ = tx.send(format!("process {pid} exited ({status})"));
                        }
                    }
                    Report::Killing => {
                        tracing::warn!(app = %watched, grace = ?grace, "app ignored SIGTERM; sending SIGKILL");
                    }
                    Report::Stuck(left) => {
                        tracing::error!(app = %watched, left, "app processes survived SIGKILL");
                    }
                    Report::Started { .. } | Report::SpawnFailed(_) => {}
                }
            }
            let status = supervisor.wait().await;
            if let Some(tx) = exited_tx.take() {
                // The supervisor died before the app: it was killed. What it
                // supervised is taken down as well as can be.
                let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                tracing::error!(app = %watched, pid, %status, "the app's supervisor ended unexpectedly");
                kill_app_group((pid, start_time));
                let _ = tx.send(format!("the supervisor of process {pid} ended unexpectedly ({status})"));
            }
            // Queued before `done`, which the next start of this app waits
            // for: its record is written after this is forgotten.
            ledger.forget(&watched);
            let _ = done_tx.send(true);
        });
        self.children().insert(
            name,
            Supervised { supervisor: handle, app: (pid, start_time), grace, done: done_rx, _port: lease },
        );
        let upstream =
            http::Uri::try_from(format!("http://127.0.0.1:{port}")).map_err(|e| BackendError::Port(e.to_string()))?;
        let owner = ListenerOwner { port, leader: pid, root: supervisor_pid as i32 };
        Ok(Running {
            upstream,
            exited: Some(exited_rx),
            owner: Some(owner),
            output: Some(tail),
            replacement: Some(replacement),
        })
    }

    async fn stop(&self, app: &AppConfig) -> Result<(), BackendError> {
        let child = self.children().remove(app.name());
        match child {
            Some(child) => Self::stop_child(app.name(), child).await,
            None => Ok(()),
        }
    }

    async fn shutdown(&self) {
        self.warm.shutdown().await;
        let children: Vec<(String, Supervised)> = self.children().drain().collect();
        let stops = children.into_iter().map(|(name, child)| async move {
            if let Err(e) = Self::stop_child(&name, child).await {
                tracing::warn!(app = %name, error = %e, "stop at shutdown failed");
            }
        });
        futures_util::future::join_all(stops).await;
        // Each supervisor's exit queued its record's forgetting.
        self.ledger.settle().await;
    }
}
