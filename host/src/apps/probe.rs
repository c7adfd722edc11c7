//! Readiness: the app is ready when its `ready_path` answers over HTTP or
//! HTTPS (verified, through the shared upstream connector), and, for a
//! backend that can tell, the socket that answered is the app's own: an
//! answer from a stranger on the app's port fails the wake at once.
//!
//! The poll waits a hundredth of the time spent so far, within bounds: an
//! app is so seen within 1% of its own boot time (2 ms for a 200 ms python
//! boot, where a geometric back-off had reached 25 ms), and one that boots
//! for 10 s is probed some 560 times. The floor is 250 µs for each wake
//! being polled at the time (a refused connect on loopback costs some
//! 20 µs), so a lone wake sees its app within 250 µs of binding, and the
//! polls of a herd of wakes never make more than 4,000 attempts a second in
//! all before their back-off does; the ceiling is 50 ms.

use super::fine_timer::FineTimer;
use crate::backend::{ListenerOwner, NotOwned};
use crate::upstream::{Upstream, UpstreamClient};
use http_body_util::{BodyExt, Empty};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The floor of the retry delay for each wake being polled.
const MIN_RETRY: Duration = Duration::from_micros(250);
// Low enough that a slow-booting app is seen within 50 ms of binding;
// a refused connect costs next to nothing.
const MAX_RETRY: Duration = Duration::from_millis(50);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    /// Still no good answer at the deadline: the last attempt's failure.
    #[error("{0}")]
    NotReady(String),
    /// Something answered, but not the app.
    #[error(transparent)]
    NotOwned(#[from] NotOwned),
}

#[derive(Clone)]
pub(crate) struct Prober {
    client: UpstreamClient,
}

impl Prober {
    pub(crate) fn new(upstream: &Upstream) -> Prober {
        // Probes must never reuse a connection to a previous incarnation of
        // the app, so no pooling.
        Prober { client: upstream.unpooled() }
    }

    /// Polls until the app answers or `deadline` passes. With an `owner`,
    /// an answer counts only from the app's own listener.
    pub(crate) async fn wait_ready(
        &self,
        upstream: &http::Uri,
        ready_path: &str,
        deadline: Instant,
        owner: Option<&ListenerOwner>,
    ) -> Result<(), ProbeError> {
        let uri = crate::upstream::join_uri(upstream, ready_path).map_err(ProbeError::NotReady)?;
        let started = Instant::now();
        let polling = Polling::start();
        let mut timer = FineTimer::default();
        loop {
            let last = match self.probe_once(&uri).await {
                Ok(()) => {
                    if let Some(owner) = owner {
                        owner.verify().await?;
                    }
                    return Ok(());
                }
                Err(e) => e,
            };
            let delay = retry_delay(started.elapsed(), polling.wakes());
            if Instant::now() + delay >= deadline {
                return Err(ProbeError::NotReady(last));
            }
            timer.sleep(delay).await;
        }
    }

    async fn probe_once(&self, uri: &http::Uri) -> Result<(), String> {
        let request = http::Request::get(uri.clone())
            .header(http::header::USER_AGENT, "paastis-readiness")
            .body(Empty::new().map_err(|never| match never {}).boxed())
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(ATTEMPT_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("no answer on {uri} within {ATTEMPT_TIMEOUT:?}"))?
            .map_err(|e| format!("no answer on {uri}: {}", crate::error_chain::root_cause(&e)))?;
        // A gateway-ish "not yet" status means the app's own front is up but
        // the app is not; anything else is the app answering.
        match response.status().as_u16() {
            502..=504 => Err(format!("{uri} answered {}", response.status())),
            _ => Ok(()),
        }
    }
}

/// How long to wait before the next attempt, `waited` into the wake, with
/// `wakes` polled at the time.
fn retry_delay(waited: Duration, wakes: usize) -> Duration {
    let floor = MIN_RETRY.saturating_mul(u32::try_from(wakes).unwrap_or(u32::MAX)).min(MAX_RETRY);
    (waited / 100).clamp(floor, MAX_RETRY)
}

/// The wakes whose readiness is being polled, across the gateway.
static POLLING: AtomicUsize = AtomicUsize::new(0);

/// Counts one wake in `POLLING` while it lives (cancelled or not).
struct Polling;

impl Polling {
    fn start() -> Polling {
        POLLING.fetch_add(1, Ordering::Relaxed);
        Polling
    }

    fn wakes(&self) -> usize {
        POLLING.load(Ordering::Relaxed).max(1)
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        POLLING.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_delay_is_a_hundredth_of_the_wait_within_250_us_a_wake_and_50_ms() {
        let (ms, us) = (Duration::from_millis, Duration::from_micros);
        // Alone.
        assert_eq!(retry_delay(ms(0), 1), us(250));
        assert_eq!(retry_delay(ms(25), 1), us(250));
        assert_eq!(retry_delay(ms(100), 1), ms(1));
        assert_eq!(retry_delay(ms(2_000), 1), ms(20));
        assert_eq!(retry_delay(ms(60_000), 1), ms(50));
        // In a herd, the floor rises with the wakes polled, to the ceiling.
        assert_eq!(retry_delay(ms(0), 4), ms(1));
        assert_eq!(retry_delay(ms(2_000), 40), ms(20));
        assert_eq!(retry_delay(ms(0), 1_000), ms(50));
        assert_eq!(retry_delay(ms(0), usize::MAX), ms(50));
    }
}
