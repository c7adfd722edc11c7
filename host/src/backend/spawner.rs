//! Spawns child processes from one dedicated thread that lives as long as the
//! gateway.
//!
//! Linux delivers PR_SET_PDEATHSIG when the *thread* that forked the child
//! exits, not the process. Spawning from tokio's blocking pool (whose threads
//! come and go) would kill apps at random; spawning from this thread ties each
//! child's life to the gateway's, so `kill -9` of the gateway leaves no app
//! running forever.

use std::sync::mpsc;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

type Job = (Command, oneshot::Sender<std::io::Result<Child>>);

#[derive(Clone)]
pub struct Spawner {
    jobs: mpsc::Sender<Job>,
}

impl Spawner {
    pub fn start(runtime: tokio::runtime::Handle) -> std::io::Result<Spawner> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("paastis-spawner".into()).spawn(move || {
            // tokio::process needs the runtime's reactor to reap the child.
            let _guard = runtime.enter();
            while let Ok((mut command, reply)) = rx.recv() {
                let _ = reply.send(command.spawn());
            }
        })?;
        Ok(Spawner { jobs: tx })
    }

    pub async fn spawn(&self, mut command: Command) -> std::io::Result<Child> {
        let parent = nix::unistd::getpid();
        // SAFETY: the closure runs between fork and exec and only makes
        // async-signal-safe calls (prctl, getppid).
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)?;
                // The gateway may have died between fork and prctl.
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::other("the gateway exited while starting the app"));
                }
                Ok(())
            });
        }
        let (tx, rx) = oneshot::channel();
        self.jobs.send((command, tx)).map_err(|_| std::io::Error::other("the spawner thread has stopped"))?;
        rx.await.map_err(|_| std::io::Error::other("the spawner thread has stopped"))?
    }
}
