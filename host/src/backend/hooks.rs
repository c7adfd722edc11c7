//! Hooks: shell commands run before and after an app's start and stop, with
//! `PAASTIS_APP`, `PAASTIS_BACKEND` and `PAASTIS_HOOK` in their environment.
//! A hook that fails or outlives its timeout is logged and killed; it never
//! fails the start or stop it surrounds.

use crate::config::{AppConfig, HooksConfig};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Hook {
    BeforeStart,
    AfterStart,
    BeforeStop,
    AfterStop,
}

impl Hook {
    fn name(self) -> &'static str {
        match self {
            Hook::BeforeStart => "before_start",
            Hook::AfterStart => "after_start",
            Hook::BeforeStop => "before_stop",
            Hook::AfterStop => "after_stop",
        }
    }
}

#[derive(Clone, Default)]
pub(crate) struct Hooks {
    config: HooksConfig,
}

impl Hooks {
    pub(crate) fn new(config: HooksConfig) -> Hooks {
        Hooks { config }
    }

    fn command(&self, hook: Hook) -> Option<&str> {
        match hook {
            Hook::BeforeStart => self.config.before_start.as_deref(),
            Hook::AfterStart => self.config.after_start.as_deref(),
            Hook::BeforeStop => self.config.before_stop.as_deref(),
            Hook::AfterStop => self.config.after_stop.as_deref(),
        }
    }

    pub(crate) async fn run(&self, hook: Hook, app: &AppConfig) {
        let Some(script) = self.command(hook) else { return };
        let backend = app.backend.name();
        match run_shell(script, hook, app.name(), backend, self.config.timeout.0).await {
            Ok(()) => tracing::info!(app = app.name(), backend, hook = hook.name(), "hook ran"),
            Err(reason) => tracing::warn!(app = app.name(), backend, hook = hook.name(), %reason, "hook failed"),
        }
    }
}

async fn run_shell(script: &str, hook: Hook, app: &str, backend: &str, timeout: Duration) -> Result<(), String> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .env("PAASTIS_APP", app)
        .env("PAASTIS_BACKEND", backend)
        .env("PAASTIS_HOOK", hook.name())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills what the script started too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run /bin/sh: {e}"))?;
    let group = child.id().map(|pid| nix::unistd::Pid::from_raw(pid as i32));
    let stderr = child.stderr.take();
    let output = async {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            use tokio::io::AsyncReadExt;
            let _ = (&mut stderr).take(2048).read_to_string(&mut text).await;
        }
        let status = child.wait().await;
        (status, text)
    };
    match tokio::time::timeout(timeout, output).await {
        Err(_) => {
            if let Some(group) = group {
                // ESRCH: already gone, which is what we want.
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            }
            Err(format!("still running after {timeout:?}; killed"))
        }
        Ok((Err(e), _)) => Err(format!("lost track of the hook: {e}")),
        Ok((Ok(status), _)) if status.success() => Ok(()),
        Ok((Ok(status), stderr)) => Err(format!("{status}: {}", stderr.trim())),
    }
}
