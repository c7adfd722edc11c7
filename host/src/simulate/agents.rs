//! Per user agent, the requests that would have been answered without the
//! app: the policy's own answers, its refusals, and the 503s that passive
//! requests met while the app slept. An uptime monitor made passive shows up
//! here with its 503s, and with a policy that answers it, with answers
//! instead: what the person it pages cares about.

use serde::Serialize;
use std::collections::BTreeMap;

/// Distinct user agents tallied; the rest are counted together, so that a
/// log with a million random agents cannot exhaust memory.
const MAX_AGENTS: usize = 1_000;
/// The entry of the agents past `MAX_AGENTS`.
const OTHERS: &str = "(other user agents)";
/// Requests without a User-Agent.
const NONE: &str = "(none)";

/// What happened to one request, as far as this report cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The app served it (or would have, after a wake).
    App,
    Answered,
    Refused,
    /// A passive request met the app asleep: the gateway's 503.
    Unserved,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct AgentCounts {
    pub user_agent: String,
    /// Requests from this agent, all outcomes.
    pub requests: u64,
    pub answered: u64,
    pub refused: u64,
    /// 503s to passive requests while the app was not awake.
    pub unserved: u64,
}

impl AgentCounts {
    pub(crate) fn without_app(&self) -> u64 {
        self.answered + self.refused + self.unserved
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Agents {
    by_agent: BTreeMap<String, AgentCounts>,
}

impl Agents {
    pub(super) fn record(&mut self, agent: Option<&str>, outcome: Outcome) {
        let agent = agent.filter(|a| !a.is_empty()).unwrap_or(NONE);
        let key = if self.by_agent.contains_key(agent) || self.by_agent.len() < MAX_AGENTS { agent } else { OTHERS };
        let counts = self
            .by_agent
            .entry(key.to_owned())
            .or_insert_with(|| AgentCounts { user_agent: key.to_owned(), ..AgentCounts::default() });
        counts.requests += 1;
        match outcome {
            Outcome::App => {}
            Outcome::Answered => counts.answered += 1,
            Outcome::Refused => counts.refused += 1,
            Outcome::Unserved => counts.unserved += 1,
        }
    }

    /// The agents with at least one request answered without the app, most
    /// such requests first.
    pub(super) fn report(self) -> Vec<AgentCounts> {
        let mut agents: Vec<AgentCounts> = self.by_agent.into_values().filter(|a| a.without_app() > 0).collect();
        agents.sort_by(|a, b| b.without_app().cmp(&a.without_app()).then_with(|| a.user_agent.cmp(&b.user_agent)));
        agents
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_ranked_by_requests_answered_without_the_app() {
        let mut agents = Agents::default();
        for _ in 0..3 {
            agents.record(Some("UptimeRobot/2.0"), Outcome::Unserved);
        }
        agents.record(Some("UptimeRobot/2.0"), Outcome::App);
        agents.record(Some("Firefox"), Outcome::App);
        agents.record(None, Outcome::Refused);
        let report = agents.report();
        assert_eq!(report.len(), 2, "an agent the app served entirely is not listed: {report:?}");
        assert_eq!((report[0].user_agent.as_str(), report[0].requests, report[0].unserved), ("UptimeRobot/2.0", 4, 3));
        assert_eq!((report[1].user_agent.as_str(), report[1].refused), ("(none)", 1));
    }

    #[test]
    fn past_the_cap_agents_are_counted_together() {
        let mut agents = Agents::default();
        for i in 0..MAX_AGENTS + 5 {
            agents.record(Some(&format!("bot-{i}")), Outcome::Answered);
        }
        let report = agents.report();
        assert_eq!(report.len(), MAX_AGENTS + 1);
        assert_eq!(report[0].user_agent, OTHERS);
        assert_eq!(report[0].answered, 5);
    }
}
