//! The `process` backend: an app is a local child process.
//!
//! Each app runs in its own process group so that a stop reaches the whole
//! tree it started, and so that a Ctrl-C in the gateway's terminal reaches the
//! gateway only, which then stops the apps in order.

use super::spawner::Spawner;
use super::{Backend, BackendError, Running, output};
use crate::config::AppConfig;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::{oneshot, watch};

struct Child {
    pgid: Pid,
    grace: Duration,
    /// `Some(description)` once the process has exited.
    exit: watch::Receiver<Option<String>>,
}

pub struct ProcessBackend {
    spawner: Spawner,
    children: Mutex<HashMap<String, Child>>,
}

impl ProcessBackend {
    pub fn new() -> std::io::Result<ProcessBackend> {
        Ok(ProcessBackend {
            spawner: Spawner::start(tokio::runtime::Handle::current())?,
            children: Mutex::new(HashMap::new()),
        })
    }

    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<String, Child>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is a single insert or remove), so poison is moot.
        self.children.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn stop_child(name: &str, child: Child) -> Result<(), BackendError> {
        let (mut exit, grace) = (child.exit, child.grace);
        if exit.borrow().is_some() {
            return Ok(());
        }
        signal_group(child.pgid, Signal::SIGTERM);
        // A closed channel also means the watcher saw the exit.
        let exited = tokio::time::timeout(grace, exit.wait_for(Option::is_some)).await.is_ok();
        if !exited {
            tracing::warn!(app = name, grace = ?grace, "app ignored SIGTERM; sending SIGKILL");
            signal_group(child.pgid, Signal::SIGKILL);
            // SIGKILL cannot be ignored; the bound only guards against a
            // zombie we somehow fail to reap.
            tokio::time::timeout(Duration::from_secs(5), exit.wait_for(Option::is_some))
                .await
                .map_err(|_| BackendError::Stop(format!("{name} did not exit after SIGKILL")))?
                .map_err(|_| BackendError::Stop(format!("lost track of {name}'s exit")))?;
        }
        Ok(())
    }
}

fn signal_group(pgid: Pid, signal: Signal) {
    // ESRCH means the group is already gone, which is what we want.
    if let Err(e) = killpg(pgid, signal)
        && e != nix::errno::Errno::ESRCH
    {
        tracing::warn!(pgid = pgid.as_raw(), ?signal, error = %e, "cannot signal app process group");
    }
}

/// A port the app can bind. The OS picks a free one; the app binds it a moment
/// later, the usual and unavoidable race of ephemeral port hand-off.
fn free_port() -> Result<u16, BackendError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| BackendError::Port(e.to_string()))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| BackendError::Port(e.to_string()))
}

#[async_trait::async_trait]
impl Backend for ProcessBackend {
    async fn start(&self, app: &AppConfig) -> Result<Running, BackendError> {
        let name = app.name().to_owned();
        // A previous process that is still around (it exited badly, or a stop
        // raced) must not hold the port.
        let previous = self.children().remove(&name);
        if let Some(previous) = previous {
            Self::stop_child(&name, previous).await?;
        }
        let port = match app.port {
            Some(port) => port,
            None => free_port()?,
        };
        let port_text = port.to_string();
        let argv: Vec<String> = app.command().iter().map(|a| a.replace("{port}", &port_text)).collect();
        let Some((program, args)) = argv.split_first() else {
            return Err(BackendError::Spawn { program: String::new(), message: "empty command".into() });
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .env("PORT", &port_text)
            .envs(app.env.iter().map(|(k, v)| (k, v.replace("{port}", &port_text))))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        if let Some(cwd) = &app.cwd {
            command.current_dir(cwd);
        }
        let mut child = self
            .spawner
            .spawn(command)
            .await
            .map_err(|e| BackendError::Spawn { program: program.clone(), message: e.to_string() })?;
        let pid = child
            .id()
            .ok_or_else(|| BackendError::Spawn { program: program.clone(), message: "exited immediately".into() })?;
        if let Some(stdout) = child.stdout.take() {
            output::forward(name.clone(), "stdout", stdout);
        }
        if let Some(stderr) = child.stderr.take() {
            output::forward(name.clone(), "stderr", stderr);
        }
        tracing::info!(app = %name, pid, port, "app process started");

        let (exit_tx, exit_rx) = watch::channel(None);
        let (exited_tx, exited_rx) = oneshot::channel();
        tokio::spawn(async move {
            let description = match child.wait().await {
                Ok(status) => format!("process {pid} exited ({status})"),
                Err(e) => format!("lost track of process {pid}: {e}"),
            };
            let _ = exit_tx.send(Some(description.clone()));
            let _ = exited_tx.send(description);
        });
        let pgid = Pid::from_raw(pid as i32);
        self.children().insert(name, Child { pgid, grace: app.stop_grace.0, exit: exit_rx });
        let upstream =
            http::Uri::try_from(format!("http://127.0.0.1:{port}")).map_err(|e| BackendError::Port(e.to_string()))?;
        Ok(Running { upstream, exited: Some(exited_rx) })
    }

    async fn stop(&self, app: &AppConfig) -> Result<(), BackendError> {
        let child = self.children().remove(app.name());
        match child {
            Some(child) => Self::stop_child(app.name(), child).await,
            None => Ok(()),
        }
    }

    async fn shutdown(&self) {
        let children: Vec<(String, Child)> = self.children().drain().collect();
        let stops = children.into_iter().map(|(name, child)| async move {
            if let Err(e) = Self::stop_child(&name, child).await {
                tracing::warn!(app = %name, error = %e, "stop at shutdown failed");
            }
        });
        futures_util::future::join_all(stops).await;
    }
}
