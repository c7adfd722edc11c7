//! Whether the tick works. A tick that fails puts no app to sleep, which is
//! the gateway's core job, so a failure is an alert: an ERROR line and a
//! `tick_failed` event when a policy's ticks start failing, and the alert on
//! `/healthz` until a tick of that policy succeeds again (then an INFO line
//! and a `tick_recovered` event). The WARN line of each failed call stays.

use crate::clock::now_ms;
use crate::policy::model::Timestamp;
use crate::telemetry::{EventBus, EventKind};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

/// What fails when the tick itself fails (a panic), rather than a policy.
pub(crate) const THE_TICK: &str = "*";

/// One policy whose ticks fail, as `/healthz` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct TickAlert {
    /// The policy whose ticks fail (`*`: the tick itself).
    pub policy: String,
    /// When its first failed tick of this run of failures happened.
    pub since: Timestamp,
    pub failed_ticks: u64,
    pub last_error: String,
}

#[derive(Default)]
pub(crate) struct TickHealth {
    failing: Mutex<BTreeMap<String, TickAlert>>,
}

impl TickHealth {
    pub(crate) fn failed(&self, policy: &str, error: &str, events: &EventBus) {
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(alert) = failing.get_mut(policy) {
            alert.failed_ticks += 1;
            alert.last_error = error.to_owned();
            return;
        }
        tracing::error!(
            policy,
            error,
            "the tick is failing: the apps of this policy are not put to sleep or woken until it works again"
        );
        let alert =
            TickAlert { policy: policy.to_owned(), since: now_ms(), failed_ticks: 1, last_error: error.to_owned() };
        failing.insert(policy.to_owned(), alert);
        events.emit(None, EventKind::TickFailed { policy: policy.to_owned(), error: error.to_owned() });
    }

    pub(crate) fn succeeded(&self, policy: &str, events: &EventBus) {
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(alert) = failing.remove(policy) {
            tracing::info!(policy, failed_ticks = alert.failed_ticks, "the tick works again");
            events.emit(None, EventKind::TickRecovered { policy: policy.to_owned(), failed_ticks: alert.failed_ticks });
        }
    }

    /// Clears the alerts of policies that serve none of the apps any more
    /// (reverted or removed): their apps moved to a policy whose ticks are
    /// judged on their own.
    pub(crate) fn forget_all_but(&self, serving: &HashSet<&str>, events: &EventBus) {
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<String> =
            failing.keys().filter(|p| p.as_str() != THE_TICK && !serving.contains(p.as_str())).cloned().collect();
        for policy in gone {
            if let Some(alert) = failing.remove(&policy) {
                tracing::info!(policy, failed_ticks = alert.failed_ticks, "the failing policy serves no app any more");
                events.emit(None, EventKind::TickRecovered { policy, failed_ticks: alert.failed_ticks });
            }
        }
    }

    /// The policies whose ticks fail now.
    pub(crate) fn alerts(&self) -> Vec<TickAlert> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_of_failures_raises_one_alert_until_a_success() {
        let events = EventBus::default();
        let mut seen = events.subscribe();
        let health = TickHealth::default();
        health.failed("p", "first", &events);
        health.failed("p", "second", &events);
        let alerts = health.alerts();
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].failed_ticks, alerts[0].last_error.as_str()), (2, "second"));
        health.succeeded("p", &events);
        health.succeeded("p", &events);
        assert!(health.alerts().is_empty());
        let kinds = [seen.recv().await.map(|e| e.kind).ok(), seen.recv().await.map(|e| e.kind).ok()];
        assert_eq!(
            kinds,
            [
                Some(EventKind::TickFailed { policy: "p".into(), error: "first".into() }),
                Some(EventKind::TickRecovered { policy: "p".into(), failed_ticks: 2 }),
            ]
        );
        assert!(seen.try_recv().is_err(), "one event per transition");
    }

    #[test]
    fn a_policy_that_serves_nothing_any_more_is_no_alert() {
        let events = EventBus::default();
        let health = TickHealth::default();
        health.failed("reverted", "boom", &events);
        health.failed("kept", "boom", &events);
        health.failed(THE_TICK, "panic", &events);
        health.forget_all_but(&HashSet::from(["kept", "other"]), &events);
        let left: Vec<String> = health.alerts().into_iter().map(|a| a.policy).collect();
        assert_eq!(left, [THE_TICK.to_owned(), "kept".to_owned()]);
    }
}
