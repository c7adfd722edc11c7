//! Graceful shutdown of connections and tunnels: first asked to finish what
//! they are doing (draining), then, past the grace period, cut.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Serving,
    /// Finish in-flight requests, take no new ones.
    Draining,
    /// The grace period is over: drop everything.
    Cut,
}

/// Hands out tokens to connections and tunnels, and drives the shutdown.
/// Cloning it does not count as something to wait for; a token does.
#[derive(Clone)]
pub(crate) struct Drain {
    tx: Arc<watch::Sender<Phase>>,
}

impl Default for Drain {
    fn default() -> Self {
        Drain { tx: Arc::new(watch::channel(Phase::Serving).0) }
    }
}

impl Drain {
    /// Held by whatever must be waited for at shutdown.
    pub(crate) fn token(&self) -> DrainToken {
        DrainToken { rx: self.tx.subscribe() }
    }

    /// Asks every token holder to finish, waits up to `grace` for them all
    /// to be gone, then cuts the rest. Returns how many were cut (0 or "some").
    pub(crate) async fn drain(&self, grace: Duration) -> bool {
        self.tx.send_replace(Phase::Draining);
        if tokio::time::timeout(grace, self.tx.closed()).await.is_ok() {
            return true;
        }
        self.tx.send_replace(Phase::Cut);
        // Cut holders drop at their next poll; this only bounds a stuck one.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.tx.closed()).await;
        false
    }
}

pub(crate) struct DrainToken {
    rx: watch::Receiver<Phase>,
}

impl DrainToken {
    /// Resolves once the phase is at least `phase`.
    pub(crate) async fn reached(&mut self, phase: Phase) {
        let rank = |p: Phase| p as u8;
        // An error means the gateway is gone: treat it as cut.
        let _ = self.rx.wait_for(|p| rank(*p) >= rank(phase)).await;
    }
}
