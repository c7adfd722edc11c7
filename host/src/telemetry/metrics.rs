//! Prometheus metrics, in the text exposition format. Labels are bounded:
//! `app` is always a known app (or `-` for requests that matched none), so a
//! client sending random Host headers cannot grow the registry.

use super::striped_histogram::StripedHistogram;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// The `app` label of a request that reached no app.
pub(crate) const NO_APP: &str = "-";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub app: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct AppLabels {
    pub app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PhaseLabels {
    /// `request` or `tick`.
    pub phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PolicyFailureLabels {
    pub policy: String,
    pub phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StateLabels {
    pub state: &'static str,
}

pub(crate) struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub wake_duration: Family<AppLabels, Histogram>,
    /// Striped: its request series is observed on every request, by every
    /// worker thread (see `striped_histogram`).
    pub policy_call_duration: Family<PhaseLabels, StripedHistogram>,
    pub policy_failures: Family<PolicyFailureLabels, Counter>,
    /// Set from the apps just before each scrape.
    pub apps_by_state: Family<StateLabels, Gauge>,
    /// 1 while the shared store (Redis) does not answer.
    pub store_degraded: Gauge,
    /// 1 while this replica holds the leader lease (always, with sled).
    pub leader: Gauge,
    /// The two series of `policy_call_duration`, resolved once: the request
    /// phase is recorded on every request.
    request_calls: StripedHistogram,
    tick_calls: StripedHistogram,
    /// Wall time of a whole tick, every policy and batch together.
    tick_duration: Histogram,
}

/// The request counters of one app by status, resolved from the family once
/// per status and then shared, rather than looked up by hashing a freshly
/// allocated label set on every request.
#[derive(Default)]
pub(crate) struct RequestCounters {
    by_status: arc_swap::ArcSwap<Vec<(u16, Counter)>>,
}

impl RequestCounters {
    pub(crate) fn inc(&self, metrics: &Metrics, app: &str, status: u16) {
        if let Some((_, counter)) = self.by_status.load().iter().find(|(s, _)| *s == status) {
            counter.inc();
            return;
        }
        let counter = metrics.requests.get_or_create(&RequestLabels { app: app.to_owned(), status }).clone();
        counter.inc();
        self.by_status.rcu(|known| {
            let mut known = Vec::clone(known);
            if !known.iter().any(|(s, _)| *s == status) {
                known.push((status, counter.clone()));
            }
            Arc::new(known)
        });
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("paastis");
        let requests = Family::<RequestLabels, Counter>::default();
        // 10 ms .. ~80 s: a local process wakes in milliseconds, a PaaS app in tens of seconds.
        let wake_duration =
            Family::<AppLabels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 2.0, 14)));
        // 1 µs .. ~65 ms: a warm call takes a few microseconds (the goal is
        // 2), so the first buckets must tell 1, 2, 4 and 8 µs apart; the CPU
        // budget is milliseconds.
        let policy_call_duration = Family::<PhaseLabels, StripedHistogram>::new_with_constructor(|| {
            StripedHistogram::new(exponential_buckets(0.000_001, 2.0, 17))
        });
        let policy_failures = Family::<PolicyFailureLabels, Counter>::default();
        let apps_by_state = Family::<StateLabels, Gauge>::default();
        registry.register("requests", "Requests answered, by app and status", requests.clone());
        registry.register("wake_duration_seconds", "Time from wake to ready", wake_duration.clone());
        registry.register("policy_call_duration_seconds", "Policy call time, by phase", policy_call_duration.clone());
        registry.register("policy_failures", "Failed policy calls, by policy and phase", policy_failures.clone());
        registry.register("apps", "Apps by state", apps_by_state.clone());
        let store_degraded = Gauge::default();
        let leader = Gauge::default();
        registry.register("store_degraded", "1 while the shared store does not answer", store_degraded.clone());
        registry.register("leader", "1 while this replica holds the leader lease", leader.clone());
        // 100 µs .. ~1.6 s.
        let tick_duration = Histogram::new(exponential_buckets(0.000_1, 2.0, 15));
        registry.register("tick_duration_seconds", "Wall time of a whole tick", tick_duration.clone());
        let request_calls = policy_call_duration.get_or_create(&PhaseLabels { phase: "request" }).clone();
        let tick_calls = policy_call_duration.get_or_create(&PhaseLabels { phase: "tick" }).clone();
        Metrics {
            registry,
            requests,
            wake_duration,
            policy_call_duration,
            policy_failures,
            apps_by_state,
            store_degraded,
            leader,
            request_calls,
            tick_calls,
            tick_duration,
        }
    }
}

impl Metrics {
    pub(crate) fn woken(&self, app: &str, took: Duration) {
        self.wake_duration.get_or_create(&AppLabels { app: app.to_owned() }).observe(took.as_secs_f64());
    }

    pub(crate) fn policy_call(&self, phase: &'static str, took: Duration) {
        match phase {
            "request" => self.request_calls.observe(took.as_secs_f64()),
            "tick" => self.tick_calls.observe(took.as_secs_f64()),
            phase => self.policy_call_duration.get_or_create(&PhaseLabels { phase }).observe(took.as_secs_f64()),
        }
    }

    pub(crate) fn tick(&self, took: Duration) {
        self.tick_duration.observe(took.as_secs_f64());
    }

    pub(crate) fn policy_failed(&self, policy: &str, phase: &'static str) {
        self.policy_failures.get_or_create(&PolicyFailureLabels { policy: policy.to_owned(), phase }).inc();
    }

    /// The registry in Prometheus text format.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_recorded_values() {
        let metrics = Metrics::default();
        let hello = RequestCounters::default();
        hello.inc(&metrics, "hello", 200);
        hello.inc(&metrics, "hello", 200);
        metrics.woken("hello", Duration::from_millis(30));
        metrics.policy_failed("teapot", "request");
        let counters = RequestCounters::default();
        for status in [200, 404, 200] {
            counters.inc(&metrics, "other", status);
        }
        metrics.policy_call("request", Duration::from_micros(2));
        metrics.tick(Duration::from_millis(3));
        let text = metrics.encode();
        assert!(text.contains(r#"paastis_requests_total{app="other",status="200"} 2"#), "{text}");
        assert!(text.contains(r#"paastis_requests_total{app="other",status="404"} 1"#), "{text}");
        assert!(text.contains(r#"paastis_policy_call_duration_seconds_count{phase="request"} 1"#), "{text}");
        assert!(text.contains("paastis_tick_duration_seconds_count 1"), "{text}");
        assert!(text.contains(r#"paastis_requests_total{app="hello",status="200"} 2"#), "{text}");
        assert!(text.contains(r#"paastis_wake_duration_seconds_count{app="hello"} 1"#), "{text}");
        assert!(text.contains(r#"paastis_policy_failures_total{policy="teapot",phase="request"} 1"#), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
