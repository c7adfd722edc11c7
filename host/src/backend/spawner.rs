//! Spawns the app supervisors from one dedicated thread that lives as long
//! as the gateway.
//!
//! Linux delivers PR_SET_PDEATHSIG when the *thread* that spawned the child
//! exits, not the process. A supervisor spawned from tokio's blocking pool
//! (whose threads come and go) would take its app down at random; spawned
//! from this thread, it dies with the gateway and no sooner.
//!
//! The command carries no `pre_exec`, so std spawns it with posix_spawn
//! (clone with CLONE_VM | CLONE_VFORK, then exec) rather than fork: the cost
//! of a spawn does not grow with the gateway's memory. The supervisor arms
//! its PDEATHSIG itself, after exec.

use std::sync::mpsc;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

type Job = (Command, oneshot::Sender<std::io::Result<Child>>);

#[derive(Clone)]
pub(super) struct Spawner {
    jobs: mpsc::Sender<Job>,
}

impl Spawner {
    pub(super) fn start(runtime: tokio::runtime::Handle) -> std::io::Result<Spawner> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("paastis-spawner".into()).spawn(move || {
            // tokio::process needs the runtime's reactor to reap the child.
            let _guard = runtime.enter();
            while let Ok((mut command, reply)) = rx.recv() {
                let child = command.spawn();
                // Dropped here, with the parent's copies of the child's
                // stdio, before the caller waits on the other ends.
                drop(command);
                let _ = reply.send(child);
            }
        })?;
        Ok(Spawner { jobs: tx })
    }

    pub(super) async fn spawn(&self, command: Command) -> std::io::Result<Child> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send((command, tx)).map_err(|_| std::io::Error::other("the spawner thread has stopped"))?;
        rx.await.map_err(|_| std::io::Error::other("the spawner thread has stopped"))?
    }
}
