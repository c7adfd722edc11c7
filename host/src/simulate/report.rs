//! What a simulation found: a table for people (one column group per policy,
//! side by side) and the same as JSON for machines.

use super::agents::AgentCounts;
use super::counts::Counts;
use super::reader::LineCounts;
use crate::savings::Savings;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub log: String,
    /// RFC 3339, UTC.
    pub from: String,
    pub to: String,
    pub hours: f64,
    pub tick_secs: f64,
    pub wake_secs: f64,
    /// "awake" or "asleep": how every app starts.
    pub start: &'static str,
    pub currency: String,
    pub lines: LineCounts,
    pub policies: Vec<PolicyReport>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PolicyReport {
    pub label: String,
    pub source: String,
    pub sha256: String,
    pub ticks: u64,
    pub policy_errors: u64,
    pub first_error: Option<String>,
    pub apps: Vec<AppReport>,
    pub total: AppReport,
    /// Per user agent, the requests answered without the app (answers,
    /// refusals, 503s to passive requests), most first.
    pub user_agents: Vec<AgentCounts>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct AppReport {
    pub app: String,
    #[serde(flatten)]
    pub counts: Counts,
    #[serde(flatten)]
    pub savings: Savings,
}

impl AppReport {
    pub(crate) fn total(apps: &[AppReport]) -> AppReport {
        let mut counts = Counts::default();
        for app in apps {
            let c = &app.counts;
            counts.requests += c.requests;
            counts.forwarded += c.forwarded;
            counts.passive += c.passive;
            counts.passive_unserved += c.passive_unserved;
            counts.refused += c.refused;
            counts.answered += c.answered;
            counts.cold_starts += c.cold_starts;
            counts.sleeps += c.sleeps;
            counts.wakes += c.wakes;
            counts.policy_wakes += c.policy_wakes;
        }
        AppReport { app: "total".into(), counts, savings: Savings::total(apps.iter().map(|a| &a.savings)) }
    }
}

impl Report {
    pub(crate) fn json(&self) -> String {
        // A report is plain data: serializing it cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} to {} ({:.1} h), {} requests; tick {}s, wake {}s, apps start {}",
            self.log, self.from, self.to, self.hours, self.lines.requests, self.tick_secs, self.wake_secs, self.start
        );
        for policy in &self.policies {
            let _ = write!(out, "policy {}: {}", policy.label, policy.source);
            if policy.policy_errors > 0 {
                let _ = write!(
                    out,
                    " ({} failed calls, handled as the gateway does; first: {})",
                    policy.policy_errors,
                    policy.first_error.as_deref().unwrap_or("")
                );
            }
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.grid());
        for policy in &self.policies {
            out.push_str(&agents_table(policy));
        }
        out
    }

    fn grid(&self) -> String {
        let metrics: [Metric; 8] = [
            ("sleeps", |a| a.counts.sleeps.to_string()),
            ("cold starts", |a| a.counts.cold_starts.to_string()),
            ("refused", |a| a.counts.refused.to_string()),
            ("h asleep", |a| format!("{:.2}", a.savings.hours_asleep)),
            ("h awake", |a| format!("{:.2}", a.savings.hours_awake)),
            ("saved", |a| format!("{:.2}", a.savings.cost_saved)),
            ("kWh saved", |a| format!("{:.3}", a.savings.energy_saved_kwh)),
            ("kg CO2 saved", |a| format!("{:.3}", a.savings.co2_saved_g / 1000.0)),
        ];
        let mut groups = vec![String::new()];
        let mut header = vec!["app".to_owned()];
        for policy in &self.policies {
            groups.push(policy.label.clone());
            groups.extend(std::iter::repeat_n(String::new(), metrics.len() - 1));
            header.extend(metrics.iter().map(|(name, _)| match *name {
                "saved" => format!("{} saved", self.currency),
                name => name.to_owned(),
            }));
        }
        let mut rows = vec![groups, header];
        let apps = self.policies.first().map_or(0, |p| p.apps.len());
        for i in 0..=apps {
            let pick = |p: &PolicyReport| if i < apps { p.apps[i].clone() } else { p.total.clone() };
            let mut row = vec![self.policies.first().map(|p| pick(p).app).unwrap_or_default()];
            for policy in &self.policies {
                let app = pick(policy);
                row.extend(metrics.iter().map(|(_, value)| value(&app)));
            }
            rows.push(row);
        }
        render(&rows, metrics.len())
    }
}

/// User agents listed in the table; `--format json` has them all.
const AGENTS_SHOWN: usize = 10;
/// Longer user agents are cut in the table.
const AGENT_WIDTH: usize = 60;

/// "policy LABEL: requests answered without the app, by user agent", then
/// one row per agent; nothing when no request was.
fn agents_table(policy: &PolicyReport) -> String {
    if policy.user_agents.is_empty() {
        return String::new();
    }
    let mut rows = vec![vec![
        "user agent".to_owned(),
        "answered".to_owned(),
        "refused".to_owned(),
        "503 asleep".to_owned(),
        "of requests".to_owned(),
    ]];
    for agent in policy.user_agents.iter().take(AGENTS_SHOWN) {
        let mut name: String = agent.user_agent.chars().take(AGENT_WIDTH).collect();
        if agent.user_agent.chars().count() > AGENT_WIDTH {
            name.push_str("...");
        }
        rows.push(vec![
            name,
            agent.answered.to_string(),
            agent.refused.to_string(),
            agent.unserved.to_string(),
            agent.requests.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = format!("\npolicy {}: requests answered without the app, by user agent\n", policy.label);
    for row in &rows {
        let mut line = format!("{:<w$}", row[0], w = widths[0]);
        for (cell, width) in row.iter().zip(&widths).skip(1) {
            let _ = write!(line, "  {cell:>width$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let more = policy.user_agents.len().saturating_sub(AGENTS_SHOWN);
    if more > 0 {
        let _ = writeln!(out, "... and {more} more user agents (--format json lists them all)");
    }
    out
}

/// A column of the table: its header and how to read it off an app.
type Metric = (&'static str, fn(&AppReport) -> String);

/// Columns right-aligned but the first, `|` between column groups, and the
/// first row (the policy labels) written across its group.
fn render(rows: &[Vec<String>], group: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width = |c: usize| rows.iter().skip(1).filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0);
    let mut widths: Vec<usize> = (0..columns).map(width).collect();
    // A label wider than its group widens the group's last column.
    for start in (1..columns).step_by(group.max(1)) {
        let end = (start + group).min(columns);
        let span = widths[start..end].iter().sum::<usize>() + 2 * (end - start - 1);
        let label = rows[0].get(start).map_or(0, |s| s.chars().count());
        if label > span {
            widths[end - 1] += label - span;
        }
    }
    let mut out = String::new();
    for (r, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 && (c - 1) % group == 0 {
                line.push_str(" | ");
            } else if c > 0 {
                if r == 0 {
                    continue;
                }
                line.push_str("  ");
            }
            let _ = if r == 0 && c > 0 {
                let end = (c + group).min(columns);
                let span = widths[c..end].iter().sum::<usize>() + 2 * (end - c - 1);
                write!(line, "{cell:<span$}")
            } else if c == 0 {
                write!(line, "{cell:<w$}", w = widths[c])
            } else {
                write!(line, "{cell:>w$}", w = widths[c])
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if r == 1 || r + 2 == rows.len() {
            out.push_str(&"-".repeat(line.trim_end().chars().count()));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn groups_sit_side_by_side_under_their_labels() {
        let rows = vec![
            row(&["", "a-rather-long-label", "", "b", ""]),
            row(&["app", "sleeps", "h", "sleeps", "h"]),
            row(&["web", "3", "1.40", "12", "0.65"]),
            row(&["total", "3", "1.40", "12", "0.65"]),
        ];
        let table = render(&rows, 2);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "      | a-rather-long-label | b");
        assert_eq!(lines[1], "app   | sleeps            h | sleeps     h");
        assert!(lines[2].chars().all(|c| c == '-'));
        assert_eq!(lines[3], "web   |      3         1.40 |     12  0.65");
        assert_eq!(lines[5], "total |      3         1.40 |     12  0.65");
    }
}
