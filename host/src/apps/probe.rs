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
//!
//! A cold start waits for all of it, so the last steps overlap: the check of
//! whose listener it is runs beside the GET that finds the app ready, and
//! that GET's connection, its answer read, is left in the proxy's pool, so
//! the request that woke the app does not wait for a new one to be accepted.

use super::fine_timer::FineTimer;
use crate::backend::{ListenerOwner, NotOwned};
use crate::upstream::{Spare, Upstream, UpstreamClient};
use http_body::Body as _;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The floor of the retry delay for each wake being polled.
const MIN_RETRY: Duration = Duration::from_micros(250);
// Low enough that a slow-booting app is seen within 50 ms of binding;
// a refused connect costs next to nothing.
const MAX_RETRY: Duration = Duration::from_millis(50);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest answer to a probe whose connection is kept for the proxy.
const SPARE_BODY_LIMIT: u64 = 64 * 1024;
/// How long the rest of that answer may take to come.
const SPARE_BODY_WAIT: Duration = Duration::from_millis(100);

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
    /// The proxy's client: each attempt goes on a connection of its own
    /// (`send_fresh`: never a pooled one, which could reach a previous
    /// incarnation of the app), and the attempt that found the app ready
    /// leaves its connection in the pool (`adopt`).
    client: UpstreamClient,
}

impl Prober {
    pub(crate) fn new(upstream: &Upstream) -> Prober {
        Prober { client: upstream.proxying() }
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
            let attempt = match owner {
                Some(owner) => self.probe_owned(&uri, owner).await,
                None => self.probe_once(&uri).await.map_err(Attempt::Failed),
            };
            let last = match attempt {
                Ok(spare) => {
                    if let Some(spare) = spare {
                        self.client.adopt(spare);
                    }
                    return Ok(());
                }
                Err(Attempt::Failed(e)) => e,
                Err(Attempt::NotOwned(e)) => return Err(e.into()),
            };
            let delay = retry_delay(started.elapsed(), polling.wakes());
            if Instant::now() + delay >= deadline {
                return Err(ProbeError::NotReady(last));
            }
            timer.sleep(delay).await;
        }
    }

    /// An attempt on an app whose listener can be checked. Nothing is asked
    /// of it until its port takes a connection (a refused one costs less than
    /// a request through the client); then the answer and the check of whose
    /// socket listens go side by side, since each costs a fraction of a
    /// millisecond (the check: a netlink dump and the app's fds in /proc) and
    /// a cold start waits for both. A check that could not vouch for the
    /// port is made again once the answer is in, as a check alone always was.
    async fn probe_owned(&self, uri: &http::Uri, owner: &ListenerOwner) -> Result<Option<Spare>, Attempt> {
        owner.accepts(ATTEMPT_TIMEOUT).await.map_err(|e| Attempt::Failed(format!("no answer on {uri}: {e}")))?;
        let (answer, checked) = tokio::join!(self.probe_once(uri), owner.verify());
        let spare = answer.map_err(Attempt::Failed)?;
        match checked {
            Ok(()) => Ok(spare),
            Err(_) => owner.verify().await.map(|()| spare).map_err(Attempt::NotOwned),
        }
    }

    /// One GET of the ready path, on a connection of its own; when the app
    /// is ready, that connection, if it can serve the next request.
    async fn probe_once(&self, uri: &http::Uri) -> Result<Option<Spare>, String> {
        let request = http::Request::get(crate::upstream::request_target(uri, false))
            .header(http::header::USER_AGENT, "paastis-readiness")
            .body(Empty::new().map_err(|never| match never {}).boxed())
            .map_err(|e| e.to_string())?;
        let (response, spare) = tokio::time::timeout(ATTEMPT_TIMEOUT, self.client.send_fresh(uri, request))
            .await
            .map_err(|_| format!("no answer on {uri} within {ATTEMPT_TIMEOUT:?}"))?
            .map_err(|e| format!("no answer on {uri}: {}", crate::error_chain::root_cause(&e)))?;
        // A gateway-ish "not yet" status means the app's own front is up but
        // the app is not; anything else is the app answering.
        match response.status().as_u16() {
            502..=504 => Err(format!("{uri} answered {}", response.status())),
            _ => Ok(read_whole(response.into_body()).await.then_some(spare)),
        }
    }
}

/// Reads a probe's answer to its end, so that its connection can carry
/// another request: only a body of a known, small length, for a little
/// while. Any other (a stream on the ready path) is dropped with its
/// connection, and the wake goes on all the same.
async fn read_whole(body: Incoming) -> bool {
    if body.size_hint().exact().is_none_or(|length| length > SPARE_BODY_LIMIT) {
        return false;
    }
    matches!(tokio::time::timeout(SPARE_BODY_WAIT, body.collect()).await, Ok(Ok(_)))
}

/// Why one attempt did not find the app ready.
enum Attempt {
    /// Not yet: the next attempt may succeed.
    Failed(String),
    /// Something answered, but not the app: the wake fails.
    NotOwned(NotOwned),
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
    use std::io::{BufRead, BufReader, Write};
    use std::sync::mpsc;

    const DEADLINE: Duration = Duration::from_secs(5);

    /// An app on 127.0.0.1 that answers `ok` to every request, and says
    /// for each the number of the connection it came on and its user agent.
    fn app() -> (u16, mpsc::Receiver<(usize, String)>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for (nth, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    let mut agent = String::new();
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
                        if let Some(value) = line.to_ascii_lowercase().strip_prefix("user-agent:") {
                            agent = value.trim().to_owned();
                        }
                        if line == "\r\n" {
                            let _ = tx.send((nth, std::mem::take(&mut agent)));
                            if writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").is_err() {
                                return;
                            }
                        }
                        line.clear();
                    }
                });
            }
        });
        (port, rx)
    }

    /// The probe that finds the app ready (its listener checked, as for a
    /// process app) leaves its connection to the proxy, whose first request
    /// goes on it.
    #[tokio::test]
    async fn the_first_request_after_a_wake_goes_on_the_probes_connection() {
        let (port, requests) = app();
        let upstream = crate::upstream::Upstream::new(None, DEADLINE).unwrap();
        let uri: http::Uri = format!("http://127.0.0.1:{port}").parse().unwrap();
        let owner = ListenerOwner::this_process(port);
        let prober = Prober::new(&upstream);
        let ready = prober.wait_ready(&uri, "/health", Instant::now() + DEADLINE, Some(&owner));
        tokio::time::timeout(DEADLINE, ready).await.unwrap().unwrap();
        let request = http::Request::get(format!("http://127.0.0.1:{port}/"))
            .header(http::header::USER_AGENT, "the first request")
            .body(Empty::new().map_err(|never| match never {}).boxed())
            .unwrap();
        let response = tokio::time::timeout(DEADLINE, upstream.proxying().request(request)).await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        let seen: Vec<(usize, String)> = requests.try_iter().collect();
        let on = |agent: &str| seen.iter().find(|(_, a)| a == agent).map(|(nth, _)| *nth);
        assert!(on("paastis-readiness").is_some(), "{seen:?}");
        assert_eq!(on("the first request"), on("paastis-readiness"), "{seen:?}");
    }

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
