//! How many client connections a listener group holds at once, and what
//! its accept loops do at the limit. With no slot free a loop stops
//! accepting, so new connections wait in the kernel's listen backlog rather
//! than take a file descriptor the gateway may not have; an accept that
//! fails for want of descriptors (EMFILE, ENFILE) pauses the loop for
//! `PAUSE` instead of spinning. Either logs one warning per episode, and at
//! most one a minute whatever the episodes: never one per attempt.
//!
//! The proxy's default (`edge.max_connections`) comes from RLIMIT_NOFILE,
//! whose soft limit is raised to the hard limit at start. Each proxied
//! connection may hold an upstream socket too, and the store, listeners,
//! policy files, app pipes and the admin API's own connections keep a
//! reserve: `(open files - RESERVED_FDS - admin connections) / 2`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Descriptors kept out of the proxy's share for everything but client and
/// upstream sockets: the store's files, listeners, policy files and their
/// watcher, app processes' pipes and sockets, the log.
pub(crate) const RESERVED_FDS: u64 = 256;
/// The default never goes below this, however low the open files limit.
const MIN_DEFAULT: usize = 16;
/// How long an accept loop pauses after running out of descriptors.
const PAUSE: Duration = Duration::from_millis(100);
/// At most one warning of each kind per this long.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// Linux refuses an RLIMIT_NOFILE above `fs.nr_open`, whose default this is.
const NR_OPEN_DEFAULT: u64 = 1 << 20;

/// `edge.max_connections` when the config does not set it.
pub(crate) fn default_max_connections(open_files: u64, admin_connections: usize) -> usize {
    let spare = open_files.saturating_sub(RESERVED_FDS + admin_connections as u64);
    usize::try_from(spare / 2).unwrap_or(usize::MAX).max(MIN_DEFAULT)
}

/// Raises the soft limit on open files to the hard limit (as most servers
/// do: the soft default of 1024 is for select()-era programs), and returns
/// the soft limit in force. Apps started afterwards inherit it.
pub(crate) fn raise_open_files_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open files limit (RLIMIT_NOFILE)");
            return None;
        }
    };
    let target = if hard == libc::RLIM_INFINITY { NR_OPEN_DEFAULT } else { hard };
    if soft >= target {
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, target, hard) {
        Ok(()) => {
            tracing::info!(from = soft, to = target, "raised the open files limit (RLIMIT_NOFILE) to its hard limit");
            Some(target)
        }
        Err(e) => {
            tracing::warn!(soft, hard, error = %e, "cannot raise the open files limit (RLIMIT_NOFILE); keeping it");
            Some(soft)
        }
    }
}

/// The connection slots of one listener group (the proxy's listeners, or
/// the admin API's), shared by its accept loops.
pub(crate) struct ConnectionLimit {
    /// `proxy` or `admin`, for the log.
    group: &'static str,
    max: usize,
    slots: Arc<Semaphore>,
    full: Mutex<Throttle>,
    out_of_fds: Mutex<Throttle>,
}

/// One accept loop's side of an out-of-descriptors episode.
#[derive(Default)]
pub(crate) struct AcceptErrors {
    failing: bool,
}

impl AcceptErrors {
    /// An accept went through: an episode, if any, is over.
    pub(crate) fn succeeded(&mut self) {
        self.failing = false;
    }
}

impl ConnectionLimit {
    pub(crate) fn new(group: &'static str, max: usize) -> Arc<ConnectionLimit> {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(ConnectionLimit {
            group,
            max,
            slots: Arc::new(Semaphore::new(max)),
            full: Mutex::default(),
            out_of_fds: Mutex::default(),
        })
    }

    /// A slot for the next connection, taken before accepting it; at the
    /// limit, waits for a connection to close.
    pub(crate) async fn acquire(&self) -> OwnedSemaphorePermit {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return slot;
        }
        if let Some(unwarned) = hit(&self.full) {
            tracing::warn!(
                listener = self.group,
                max_connections = self.max,
                unwarned_episodes = unwarned,
                "connection limit reached: new connections wait in the listen backlog until one closes"
            );
        }
        match self.slots.clone().acquire_owned().await {
            Ok(slot) => slot,
            // The semaphore is never closed.
            Err(_) => std::future::pending().await,
        }
    }

    /// After a failed accept: pauses the loop (a retry at once would fail
    /// the same way), and warns at the start of an out-of-descriptors
    /// episode.
    pub(crate) async fn accept_failed(&self, loop_errors: &mut AcceptErrors, error: &std::io::Error) {
        let exhausted =
            matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM));
        if !exhausted {
            tracing::debug!(listener = self.group, error = %error, "accept failed");
        } else if !std::mem::replace(&mut loop_errors.failing, true)
            && let Some(unwarned) = hit(&self.out_of_fds)
        {
            tracing::warn!(
                listener = self.group,
                error = %error,
                pause = ?PAUSE,
                unwarned_episodes = unwarned,
                "accept failed: out of file descriptors; accepting pauses between attempts until one is free"
            );
        }
        tokio::time::sleep(PAUSE).await;
    }
}

fn hit(throttle: &Mutex<Throttle>) -> Option<u64> {
    throttle.lock().unwrap_or_else(PoisonError::into_inner).hit(Instant::now())
}

/// One warning per `WARN_EVERY`, counting the episodes it kept quiet.
#[derive(Default)]
struct Throttle {
    warned_at: Option<Instant>,
    unwarned: u64,
}

impl Throttle {
    /// Whether an episode starting `now` is warned about; if so, how many
    /// went unwarned since the last warning.
    fn hit(&mut self, now: Instant) -> Option<u64> {
        match self.warned_at {
            Some(at) if now.saturating_duration_since(at) < WARN_EVERY => {
                self.unwarned += 1;
                None
            }
            _ => {
                self.warned_at = Some(now);
                Some(std::mem::take(&mut self.unwarned))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_leaves_a_reserve_and_halves_the_rest_for_upstream_sockets() {
        // The common soft limit: (1024 - 256 - 64) / 2.
        assert_eq!(default_max_connections(1024, 64), 352);
        assert_eq!(default_max_connections(1 << 20, 64), ((1 << 20) - 320) / 2);
        // A limit too low for the reserve still serves a few connections.
        assert_eq!(default_max_connections(100, 64), MIN_DEFAULT);
        assert_eq!(default_max_connections(0, 0), MIN_DEFAULT);
    }

    #[test]
    fn episodes_are_warned_at_most_once_a_minute_with_the_count_of_the_quiet_ones() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        assert_eq!(throttle.hit(start), Some(0));
        for s in 1..=10 {
            assert_eq!(throttle.hit(start + Duration::from_secs(s)), None);
        }
        assert_eq!(throttle.hit(start + WARN_EVERY), Some(10));
        assert_eq!(throttle.hit(start + WARN_EVERY + Duration::from_secs(1)), None);
    }

    #[tokio::test]
    async fn running_out_of_descriptors_pauses_each_attempt_and_warns_once() {
        let limit = ConnectionLimit::new("proxy", 4);
        let mut errors = AcceptErrors::default();
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let started = Instant::now();
        for _ in 0..5 {
            limit.accept_failed(&mut errors, &emfile).await;
        }
        // Each attempt pauses: no busy loop (a lower bound, not a speed check).
        assert!(started.elapsed() >= PAUSE * 5);
        // One episode, warned once (no quiet hit counted within it); the
        // next episode within the minute is quiet.
        let warned = limit.out_of_fds.lock().unwrap().warned_at.is_some();
        assert!(warned && limit.out_of_fds.lock().unwrap().unwarned == 0);
        errors.succeeded();
        limit.accept_failed(&mut errors, &emfile).await;
        assert_eq!(limit.out_of_fds.lock().unwrap().unwarned, 1);
    }

    #[tokio::test]
    async fn at_the_limit_a_slot_waits_for_a_connection_to_close() {
        let limit = ConnectionLimit::new("proxy", 2);
        let first = limit.acquire().await;
        let _second = limit.acquire().await;
        let waiting = tokio::spawn({
            let limit = limit.clone();
            async move { limit.acquire().await }
        });
        // The third warns, then waits until a slot comes back.
        let warned = async {
            while limit.full.lock().unwrap().warned_at.is_none() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), warned).await.expect("the waiting accept warns");
        assert!(!waiting.is_finished());
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(10), waiting).await;
        assert!(matches!(third, Ok(Ok(_))), "a freed slot goes to the waiting accept");
    }
}
