//! Replays a log against one policy on a simulated clock.
//!
//! Events happen in time order: a wake that is due, then the ticks before a
//! request, then the request; a tick at the very millisecond of a request
//! comes after it. Ticks fall on multiples of the tick interval since the
//! epoch, and each passes its exact time as `now`, so calendar policies
//! (office hours) see the same instants as a gateway ticking at that rate.

use super::agents::{AgentCounts, Agents, Outcome as AgentOutcome};
use super::hit::Hit;
use super::machine::{Counts, Served, SimApp};
use super::reader::{AppRule, LogReader};
use crate::policy::LoadedPolicy;
use crate::policy::model::{Params, RequestDecision, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

/// What every replay of one log shares.
#[derive(Debug, Clone)]
pub struct Clock {
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
pub struct AppOutcome {
    pub name: String,
    pub counts: Counts,
    pub asleep: Duration,
    pub awake: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
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

pub async fn replay(policy: &LoadedPolicy, apps: &BTreeMap<String, Params>, clock: &Clock) -> std::io::Result<Outcome> {
    let tick_ms = u64::try_from(clock.tick.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut replay = Replay {
        policy,
        clock,
        apps: apps
            .iter()
            .map(|(name, params)| SimApp::new(name.clone(), params.clone(), clock.start_awake, clock.start))
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
        .map(|mut app| {
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
            RequestDecision::ForwardPassive => passive_outcome(app.passive(false)),
            RequestDecision::ForwardPassiveOr(_) => passive_outcome(app.passive(true)),
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

fn passive_outcome(served: Served) -> AgentOutcome {
    match served {
        Served::ByApp => AgentOutcome::App,
        Served::Answered => AgentOutcome::Answered,
        Served::Unserved => AgentOutcome::Unserved,
    }
}
