//! `GET /metrics`. prometheus-client writes OpenMetrics text; a scraper
//! that asks for it (Prometheus does) gets it as is. Anyone else (curl, a
//! classic parser) gets the Prometheus 0.0.4 text format, which differs only
//! in naming a counter's family with its `_total` suffix and in having no
//! `# EOF` or `# UNIT` lines.

use super::AdminState;
use super::respond::{AdminBody, with_type};
use crate::policy::model::AppState;
use crate::telemetry::metrics::StateLabels;
use http::{HeaderMap, Response, StatusCode, header};
use std::collections::HashSet;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) fn scrape(state: &AdminState, headers: &HeaderMap) -> Response<AdminBody> {
    let metrics = &state.telemetry.metrics;
    for s in [AppState::Asleep, AppState::Starting, AppState::Awake, AppState::Stopping] {
        let count = state.apps.iter().filter(|app| app.state() == s).count();
        metrics.apps_by_state.get_or_create(&StateLabels { state: s.as_str() }).set(count as i64);
    }
    let text = metrics.encode();
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    if wants_openmetrics {
        with_type(StatusCode::OK, text, OPENMETRICS)
    } else {
        with_type(StatusCode::OK, to_classic(&text), CLASSIC)
    }
}

/// OpenMetrics text to the Prometheus 0.0.4 text format.
fn to_classic(text: &str) -> String {
    let counters: HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_with_their_total_suffix() {
        let open = "# HELP x_requests Requests.\n# TYPE x_requests counter\nx_requests_total{a=\"b\"} 1\n\
                    # HELP x_apps Apps.\n# TYPE x_apps gauge\nx_apps 2\n# EOF\n";
        let classic = to_classic(open);
        assert_eq!(
            classic,
            "# HELP x_requests_total Requests.\n# TYPE x_requests_total counter\nx_requests_total{a=\"b\"} 1\n\
             # HELP x_apps Apps.\n# TYPE x_apps gauge\nx_apps 2\n"
        );
    }
}
