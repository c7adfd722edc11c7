//! Replays a log against one policy on a simulated clock.
//!
//! Events happen in time order: a wake that is due, then the ticks before a
//! request, then the request; a tick at the very millisecond of a request
//! comes after it. Ticks fall on multiples of the tick interval since the
//! epoch, and each passes its exact time as `now`, so calendar policies
//! (office hours) see the same instants as a gateway ticking at that rate.
//!
//! Each app is the gateway's own `apps::Machine`, driven with the log's
//! timestamps: a stop takes no time and a wake takes the configured wake
//! time (no wake fails, and a request takes no time).

use super::agents::{AgentCounts, Agents, Outcome as AgentOutcome};
use super::counts::Counts;
use super::hit::Hit;
use super::reader::{AppRule, LogReader};
use crate::apps::{Ask, Effect, Machine, OnRequest, Request};
use crate::policy::LoadedPolicy;
use crate::policy::model::{AppView, Params, RequestDecision, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

/// What every replay of one log shares.
#[derive(Debug, Clone)]
pub(super) struct Clock {
    pub log: PathBuf,
    pub rule: AppRule,
    /// The first request of the log.
    pub start: Timestamp,
    /// The last request, or later with `--until`.
    pub end: Timestamp,
    pub tick: Duration,
    pub wake: Duration,
    pub start_awake: bool,
    /// `policy.call_on_request = false`: every request is forwarded.
    pub call_on_request: bool,
    /// Hosts are shown to the policy as `APP.DOMAIN` when the log has none.
    pub domain: Option<String>,
}

/// One app's result.
#[derive(Debug, Clone)]
pub(super) struct AppOutcome {
    pub name: String,
    pub counts: Counts,
    pub asleep: Duration,
    pub awake: Duration,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Outcome {
    pub apps: Vec<AppOutcome>,
    /// Calls that failed; the simulation then does what the gateway does
    /// (forward the request, take no action on the tick).
    pub policy_errors: u64,
    pub first_error: Option<String>,
    pub ticks: u64,
    /// Per user agent, requests answered without the app.
    pub agents: Vec<AgentCounts>,
}

struct Replay<'a> {
    policy: &'a LoadedPolicy,
    clock: &'a Clock,
    apps: Vec<SimApp>,
    index: HashMap<String, usize>,
    next_tick: Timestamp,
    tick_ms: u64,
    outcome: Outcome,
    agents: Agents,
}

pub(super) async fn replay(
    policy: &LoadedPolicy,
    apps: &BTreeMap<String, Params>,
    clock: &Clock,
) -> std::io::Result<Outcome> {
    let tick_ms = u64::try_from(clock.tick.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut replay = Replay {
        policy,
        clock,
        apps: apps
            .iter()
            .map(|(name, params)| SimApp::new(name.clone(), params.clone().into(), clock.start_awake, clock.start))
            .collect(),
        index: apps.keys().enumerate().map(|(i, name)| (name.clone(), i)).collect(),
        next_tick: clock.start.div_ceil(tick_ms).saturating_mul(tick_ms),
        tick_ms,
        outcome: Outcome::default(),
        agents: Agents::default(),
    };
    let mut reader = LogReader::open(&clock.log, clock.rule.clone())?;
    while let Some(hit) = reader.next_hit()? {
        replay.advance(hit.at.min(clock.end)).await;
        replay.request(&hit).await;
    }
    replay.advance(clock.end).await;
    let Replay { apps, mut outcome, agents, .. } = replay;
    outcome.agents = agents.report();
    outcome.apps = apps
        .into_iter()
        .map(|app| {
            let (asleep, awake) = app.close(clock.end);
            AppOutcome { name: app.name, counts: app.counts, asleep, awake }
        })
        .collect();
    Ok(outcome)
}

impl Replay<'_> {
    /// Runs the ticks before `to` and the wakes due by then.
    async fn advance(&mut self, to: Timestamp) {
        while self.next_tick < to {
            let now = self.next_tick;
            self.settle(now);
            self.tick(now).await;
            self.next_tick = now.saturating_add(self.tick_ms);
        }
        self.settle(to);
    }

    fn settle(&mut self, now: Timestamp) {
        for app in &mut self.apps {
            app.settle(now);
        }
    }

    async fn tick(&mut self, now: Timestamp) {
        self.outcome.ticks += 1;
        let views: Vec<_> = self.apps.iter().map(SimApp::view).collect();
        match self.policy.on_tick(now, &views).await {
            Ok(plan) => {
                for name in &plan.sleep {
                    if let Some(&i) = self.index.get(name) {
                        self.apps[i].sleep(now);
                    }
                }
                for name in &plan.wake {
                    if let Some(&i) = self.index.get(name) {
                        self.apps[i].policy_wake(now, self.clock.wake);
                    }
                }
            }
            Err(e) => self.failed(e),
        }
    }

    async fn request(&mut self, hit: &Hit) {
        let Some(&i) = self.index.get(&hit.app) else {
            return;
        };
        self.apps[i].counts.requests += 1;
        let decision = if self.clock.call_on_request {
            let host = match &self.clock.domain {
                Some(domain) => format!("{}.{domain}", hit.app),
                None => hit.app.clone(),
            };
            match self.policy.on_request(hit.at, &self.apps[i].view(), &hit.view(&host)).await {
                Ok(decision) => decision,
                Err(e) => {
                    self.failed(e);
                    RequestDecision::Forward
                }
            }
        } else {
            RequestDecision::Forward
        };
        let app = &mut self.apps[i];
        let served = match decision {
            RequestDecision::Forward => {
                app.forward(hit.at, self.clock.wake);
                AgentOutcome::App
            }
            RequestDecision::ForwardPassive => app.passive(hit.at, false),
            RequestDecision::ForwardPassiveOr(_) => app.passive(hit.at, true),
            RequestDecision::Refuse(_) => {
                app.counts.refused += 1;
                AgentOutcome::Refused
            }
            RequestDecision::Answer(_) => {
                app.counts.answered += 1;
                AgentOutcome::Answered
            }
        };
        self.agents.record(hit.user_agent.as_deref(), served);
    }

    fn failed(&mut self, error: crate::policy::PolicyError) {
        self.outcome.policy_errors += 1;
        self.outcome.first_error.get_or_insert_with(|| error.to_string());
    }
}

/// One app on the simulated clock.
#[derive(Debug)]
struct SimApp {
    name: String,
    params: std::sync::Arc<Params>,
    machine: Machine,
    /// When a starting app becomes awake.
    ready_at: Option<Timestamp>,
    /// Kept beside the machine, as the gateway's `App` keeps it.
    last_activity: Option<Timestamp>,
    counts: Counts,
}

/// Where a simulated app "answers": the machine serves requests to an
/// upstream, which the simulation never calls.
fn nowhere() -> http::Uri {
    http::Uri::from_static("http://simulated.invalid")
}

/// A request as the machine sees it: nothing waits on a cap here.
fn look(ask: Ask) -> Request {
    Request { ask, waiting_on: None, has_slot: false, max_waiting: u32::MAX }
}

impl SimApp {
    /// `awake` false: the app starts asleep; true: found running at `at`.
    fn new(name: String, params: std::sync::Arc<Params>, awake: bool, at: Timestamp) -> SimApp {
        let mut machine = Machine::restore(None, at);
        if awake {
            machine.adopt(nowhere(), at);
        }
        SimApp { name, params, machine, ready_at: None, last_activity: None, counts: Counts::default() }
    }

    fn view(&self) -> AppView {
        AppView {
            name: self.name.clone(),
            state: self.machine.state(),
            state_since: self.machine.since(),
            last_activity: self.last_activity,
            in_flight: 0,
            params: self.params.clone(),
        }
    }

    /// A request the policy forwards as activity: it touches the app and
    /// wakes it if asleep. Returns whether it met a cold start.
    fn forward(&mut self, at: Timestamp, wake: Duration) -> bool {
        self.counts.forwarded += 1;
        self.last_activity = Some(at);
        let cold = match self.machine.on_request(look(Ask::Wake), at) {
            // Served at once: it ends as it begins.
            OnRequest::Serve { .. } => {
                self.machine.request_done();
                false
            }
            OnRequest::Wait { took_slot, effect, .. } => {
                if took_slot {
                    self.machine.release_wait_slot();
                }
                if let Effect::StartWake { .. } = effect {
                    self.started_wake(at, wake);
                }
                true
            }
            // No wake fails here, no cap is met, and the request counts.
            OnRequest::WakeFailed { .. } | OnRequest::Overloaded { .. } | OnRequest::Unserved => false,
        };
        if cold {
            self.counts.cold_starts += 1;
        }
        cold
    }

    /// A passive request: served only by an awake app, never waking it;
    /// otherwise answered by the policy (`answer`) or with a 503.
    fn passive(&mut self, at: Timestamp, answer: bool) -> AgentOutcome {
        if let OnRequest::Serve { .. } = self.machine.on_request(look(Ask::Passive), at) {
            self.machine.request_done();
            self.counts.passive += 1;
            AgentOutcome::App
        } else if answer {
            self.counts.answered += 1;
            AgentOutcome::Answered
        } else {
            self.counts.passive_unserved += 1;
            AgentOutcome::Unserved
        }
    }

    /// A wake asked by the policy on a tick; only an asleep app wakes.
    fn policy_wake(&mut self, at: Timestamp, wake: Duration) {
        if let Effect::StartWake { .. } = self.machine.begin_wake(at) {
            self.counts.policy_wakes += 1;
            self.started_wake(at, wake);
        }
    }

    /// A sleep asked by the policy on a tick; only an awake app sleeps (the
    /// gateway does not stop an app in the middle of its wake). The stop
    /// takes no time.
    fn sleep(&mut self, at: Timestamp) {
        if self.machine.begin_stop(at) == Effect::Stop {
            self.counts.sleeps += 1;
            self.machine.stopped(at);
        }
    }

    /// Finishes a wake that is due by `now`, at the time it was due.
    fn settle(&mut self, now: Timestamp) {
        if let Some(ready) = self.ready_at.filter(|ready| *ready <= now) {
            self.ready_at = None;
            self.machine.woken(nowhere(), ready);
        }
    }

    /// Time asleep and awake up to `end`, a starting app counting as awake
    /// as in the gateway (the platform bills a booting container).
    fn close(&self, end: Timestamp) -> (Duration, Duration) {
        let (asleep, awake) = self.machine.totals(end);
        (Duration::from_millis(asleep), Duration::from_millis(awake))
    }

    fn started_wake(&mut self, at: Timestamp, wake: Duration) {
        self.counts.wakes += 1;
        if wake.is_zero() {
            self.machine.woken(nowhere(), at);
        } else {
            self.ready_at = Some(at.saturating_add(u64::try_from(wake.as_millis()).unwrap_or(u64::MAX)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::AppState;

    const WAKE: Duration = Duration::from_secs(5);

    fn app(awake: bool) -> SimApp {
        SimApp::new("web".into(), Params::new().into(), awake, 0)
    }

    #[test]
    fn a_request_wakes_an_asleep_app_and_requests_during_the_wake_are_cold_too() {
        let mut app = app(false);
        assert!(app.forward(10_000, WAKE));
        assert_eq!(app.view().state, AppState::Starting);
        assert!(app.forward(14_999, WAKE));
        app.settle(15_000);
        assert_eq!((app.view().state, app.view().state_since), (AppState::Awake, 15_000));
        assert!(!app.forward(15_000, WAKE));
        assert_eq!((app.counts.cold_starts, app.counts.wakes), (2, 1));
        // 10 s asleep, then 5 s starting and 5 s awake, both billed.
        assert_eq!(app.close(20_000), (Duration::from_secs(10), Duration::from_secs(10)));
    }

    #[test]
    fn sleeps_count_only_from_awake_and_time_adds_up() {
        let mut app = app(true);
        app.sleep(60_000);
        app.sleep(61_000);
        assert_eq!(app.counts.sleeps, 1);
        assert_eq!(app.passive(61_000, false), AgentOutcome::Unserved);
        assert_eq!(app.counts.passive_unserved, 1);
        assert_eq!(app.passive(61_000, true), AgentOutcome::Answered);
        assert_eq!(app.counts.answered, 1);
        app.policy_wake(120_000, Duration::ZERO);
        assert_eq!((app.counts.wakes, app.counts.policy_wakes, app.counts.cold_starts), (1, 1, 0));
        assert_eq!(app.close(180_000), (Duration::from_secs(60), Duration::from_secs(120)));
        assert_eq!(app.passive(180_000, false), AgentOutcome::App);
        assert_eq!(app.counts.passive, 1);
    }
}
