//! Client-side rate limiting: at most `limit` calls in any sliding window,
//! plus a pause a platform can ask for through its headers (Heroku's
//! RateLimit-Remaining). Callers wait their turn instead of earning a 429.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub(crate) struct Limiter {
    limit: usize,
    window: Duration,
    state: Mutex<State>,
    /// The latest pause's end, readable without queueing behind `acquire`.
    paused: std::sync::Mutex<Option<Instant>>,
}

struct State {
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl Limiter {
    pub(crate) fn per_minute(limit: u32) -> Limiter {
        Limiter::new(limit, Duration::from_secs(60))
    }

    pub(crate) fn new(limit: u32, window: Duration) -> Limiter {
        Limiter {
            limit: limit.max(1) as usize,
            window,
            state: Mutex::new(State { sent: VecDeque::new(), paused_until: None }),
            paused: std::sync::Mutex::new(None),
        }
    }

    /// Waits until a call may be sent, and counts it. Holding the lock while
    /// waiting keeps callers in order.
    pub(crate) async fn acquire(&self) {
        let mut state = self.state.lock().await;
        if let Some(until) = state.paused_until.take() {
            tokio::time::sleep_until(until).await;
        }
        loop {
            let now = Instant::now();
            while state.sent.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                state.sent.pop_front();
            }
            if state.sent.len() < self.limit {
                state.sent.push_back(now);
                return;
            }
            let Some(oldest) = state.sent.front().copied() else { continue };
            tokio::time::sleep_until(oldest + self.window).await;
        }
    }

    /// Delays the next call by `delay` (the platform said its budget is low).
    pub(crate) async fn pause(&self, delay: Duration) {
        let until = Instant::now() + delay;
        {
            let mut paused = self.paused.lock().unwrap_or_else(|p| p.into_inner());
            *paused = Some(paused.map_or(until, |u| u.max(until)));
        }
        let mut state = self.state.lock().await;
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }

    /// How long the current pause still lasts.
    pub(crate) fn pause_left(&self) -> Option<Duration> {
        let paused = *self.paused.lock().unwrap_or_else(|p| p.into_inner());
        paused.map(|until| until.saturating_duration_since(Instant::now())).filter(|left| !left.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_call_over_the_limit_waits_for_the_window() {
        let window = Duration::from_millis(200);
        let limiter = Limiter::new(2, window);
        let start = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        limiter.acquire().await;
        // A lower bound only: the third call cannot go before the window.
        assert!(start.elapsed() >= window);
    }
}
