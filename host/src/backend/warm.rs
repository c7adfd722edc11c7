//! Supervisors started ahead of need, so a wake does not wait for one to
//! start.
//!
//! The supervisor is the `paastis` binary itself: starting it costs some
//! 3.5 ms on this kind of machine (a 200 MB executable: the kernel's and the
//! dynamic loader's page faults and relocations), against 1 ms for a small
//! program. So a few supervisors are started beforehand, each waiting on its
//! socket for the app it will run (`supervisor/launch.rs`), and a wake takes
//! one and sends it its app's command. Each one taken is replaced
//! `REFILL_AFTER` once that wake is over (`Replacement`): started at once,
//! the replacement's own start took the CPU from the app's boot on a small
//! machine (demo app cold-start overhead 3.9 → 3.4 ms in the spawn bench
//! when deferred to the wake's end), and at the wake's end from the requests
//! that waited for the app, proxied right then (one took 0.4–3.9 ms to
//! answer, against 0.5–1.7 ms with the refill 100 ms later).
//!
//! A waiting supervisor is an ordinary child of the gateway, spawned by the
//! same thread as any other (`spawner.rs`): it dies with the gateway
//! (PDEATHSIG), and exits when the gateway drops its socket. It runs no app
//! and holds no port, so the ledger and the sweep after a crash never see it.

use super::spawner::Spawner;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::process::{Child, Command};

/// How many supervisors wait for an app: the next wake and the one after it,
/// before the first is replaced. Each uses no CPU and 1.7 MiB of memory of
/// its own (of 10 MiB of RSS, the rest the binary's pages, shared).
const WARM: usize = 2;

/// How long after its wake a supervisor taken is replaced: the replacement's
/// start (3.5 ms of CPU) would otherwise take a core from the requests that
/// waited for the app, which are proxied right then.
const REFILL_AFTER: Duration = Duration::from_millis(100);

/// How long a supervisor let go at shutdown has to exit (it does at once:
/// its socket closed) before it is killed.
const EXIT_LIMIT: Duration = Duration::from_secs(2);

static SUPERVISOR_EXECUTABLE: OnceLock<PathBuf> = OnceLock::new();

/// Names the `paastis` binary to run as the supervisor, for a gateway that
/// runs inside another program (a bench). By default the supervisor is the
/// running executable, through `/proc/self/exe`, which still works after
/// the file was replaced by an upgrade.
pub fn set_supervisor_executable(path: PathBuf) {
    let _ = SUPERVISOR_EXECUTABLE.set(path);
}

fn supervisor_executable() -> &'static Path {
    SUPERVISOR_EXECUTABLE.get().map_or(Path::new("/proc/self/exe"), PathBuf::as_path)
}

/// A running supervisor that waits for its app's command on `socket`, the
/// other end of its stdin. Its stdout and stderr are pipes, for the app's.
pub(super) struct Idle {
    pub(super) child: Child,
    pub(super) socket: UnixStream,
}

pub(super) struct WarmSupervisors {
    spawner: Spawner,
    runtime: tokio::runtime::Handle,
    pool: Mutex<Pool>,
}

#[derive(Default)]
struct Pool {
    ready: Vec<Idle>,
    /// Being started, to join `ready`.
    starting: usize,
    /// Off until the gateway has a process app: a gateway of PaaS apps only
    /// runs no supervisor at all.
    wanted: bool,
    closed: bool,
}

impl WarmSupervisors {
    pub(super) fn new(spawner: Spawner, runtime: tokio::runtime::Handle) -> Arc<WarmSupervisors> {
        Arc::new(WarmSupervisors { spawner, runtime, pool: Mutex::new(Pool::default()) })
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        // Every change under this lock is a push, a pop or a counter: a
        // panic cannot leave it half done.
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on, keeps `WARM` supervisors waiting. Not in this crate's
    /// unit tests, whose executable is no `paastis`: their gateways start
    /// process apps only where a test names the binary.
    pub(super) fn keep_warm(self: &Arc<Self>) {
        if cfg!(test) && SUPERVISOR_EXECUTABLE.get().is_none() {
            return;
        }
        self.pool().wanted = true;
        self.refill(Duration::ZERO);
    }

    /// A supervisor for an app: a waiting one if there is one alive, else
    /// one started now; and the `Replacement` for the wake to hold.
    pub(super) async fn take(self: &Arc<Self>) -> std::io::Result<(Idle, Replacement)> {
        let waiting = {
            let mut pool = self.pool();
            pool.wanted = true;
            // One that exited while it waited (killed by someone) is reaped
            // here and left behind.
            std::iter::from_fn(|| pool.ready.pop())
                .find_map(|mut idle| matches!(idle.child.try_wait(), Ok(None)).then_some(idle))
        };
        let replacement = Replacement(self.clone());
        match waiting {
            Some(idle) => Ok((idle, replacement)),
            None => Ok((start(&self.spawner).await?, replacement)),
        }
    }

    /// Starts, `after` from now, the supervisors the pool lacks.
    fn refill(self: &Arc<Self>, after: Duration) {
        let missing = {
            let mut pool = self.pool();
            if pool.closed || !pool.wanted {
                return;
            }
            let missing = WARM.saturating_sub(pool.ready.len() + pool.starting);
            pool.starting += missing;
            missing
        };
        for _ in 0..missing {
            let warm = self.clone();
            self.runtime.spawn(async move {
                if !after.is_zero() {
                    tokio::time::sleep(after).await;
                }
                let started = start(&warm.spawner).await;
                let mut pool = warm.pool();
                pool.starting -= 1;
                match started {
                    Ok(idle) if !pool.closed => pool.ready.push(idle),
                    // Dropped: its socket closes, and it exits.
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start a supervisor ahead of need; the next wake starts its own")
                    }
                }
            });
        }
    }

    /// Lets every waiting supervisor go, and starts no more.
    pub(super) async fn shutdown(&self) {
        let ready = {
            let mut pool = self.pool();
            pool.closed = true;
            std::mem::take(&mut pool.ready)
        };
        let exits = ready.into_iter().map(|Idle { mut child, socket }| async move {
            drop(socket);
            if tokio::time::timeout(EXIT_LIMIT, child.wait()).await.is_err() {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        });
        futures_util::future::join_all(exits).await;
    }
}

/// Held by the wake that took a supervisor: dropped once the wake is over
/// (the app answered, or the wake failed), it starts the supervisors that
/// the pool lacks, `REFILL_AFTER` later.
pub(crate) struct Replacement(Arc<WarmSupervisors>);

impl Drop for Replacement {
    fn drop(&mut self) {
        self.0.refill(REFILL_AFTER);
    }
}

/// Starts a supervisor, which then waits for its app's command.
async fn start(spawner: &Spawner) -> std::io::Result<Idle> {
    let (ours, theirs) = UnixStream::pair()?;
    let mut command = Command::new(supervisor_executable());
    command
        .arg("supervise")
        .arg("--parent")
        .arg(std::process::id().to_string())
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a Ctrl-C in the gateway's terminal reaches the
        // gateway only, which then stops the apps in order.
        .process_group(0)
        .kill_on_drop(false);
    let child = spawner.spawn(command).await?;
    Ok(Idle { child, socket: ours })
}
