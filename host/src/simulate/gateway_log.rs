//! The gateway's own log (`paastis serve --log-format json`): one JSON object
//! per line. Each proxied request is a line with `target` `paastis::access`
//! and `message` `request`, written when the answer is sent:
//!
//! ```json
//! {"timestamp":"2026-11-24T04:06:10.830289Z","level":"INFO","message":"request","app":"hello",
//!  "method":"GET","path":"/","status":200,"client":"127.0.0.1","user_agent":"curl/8",
//!  "cold_start":true,"ms":"27.1","target":"paastis::access"}
//! ```
//!
//! Fields may also be nested under `fields` (tracing-subscriber's json
//! without `flatten_event`). Every other line is some other event.

use crate::policy::model::Timestamp;
use serde_json::Value;

const ACCESS_TARGET: &str = "paastis::access";
/// The app of requests that named no app (`telemetry::metrics::NO_APP`).
const NO_APP: &str = crate::telemetry::metrics::NO_APP;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct AccessLine {
    /// When the request arrived: the line's time less the time it took.
    pub at: Timestamp,
    pub app: String,
    pub method: String,
    pub target: String,
    pub client: String,
    pub user_agent: Option<String>,
}

/// What one JSON line is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum JsonLine {
    Request(AccessLine),
    /// A request for no app (an unknown host) or a line about something else.
    Other,
}

pub(super) fn parse(line: &str) -> Result<JsonLine, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Err("not a JSON object".into());
    };
    let fields = object.get("fields").and_then(Value::as_object).unwrap_or(object);
    let text = |key: &str| fields.get(key).or_else(|| object.get(key)).and_then(Value::as_str);
    if text("target") != Some(ACCESS_TARGET) || text("message") != Some("request") {
        return Ok(JsonLine::Other);
    }
    let app = text("app").ok_or("an access line without \"app\"")?;
    if app == NO_APP {
        return Ok(JsonLine::Other);
    }
    let stamp = text("timestamp").ok_or("an access line without \"timestamp\"")?;
    let logged = stamp
        .parse::<jiff::Timestamp>()
        .map_err(|e| format!("the timestamp {stamp:?} is not RFC 3339: {e}"))?
        .as_millisecond();
    let logged = Timestamp::try_from(logged).map_err(|_| format!("the timestamp {stamp:?} is before 1970"))?;
    // `ms` is a string ("27.1") in the gateway's log; accept a number too.
    let took = match fields.get("ms") {
        Some(Value::String(s)) => s.parse::<f64>().ok(),
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    }
    .filter(|ms| ms.is_finite() && *ms >= 0.0)
    .unwrap_or(0.0);
    Ok(JsonLine::Request(AccessLine {
        at: logged.saturating_sub(took.round() as u64),
        app: app.to_owned(),
        method: text("method").unwrap_or("GET").to_owned(),
        target: text("path").unwrap_or("/").to_owned(),
        client: text("client").unwrap_or("").to_owned(),
        user_agent: text("user_agent").filter(|ua| !ua.is_empty()).map(str::to_owned),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_access_line_and_dates_it_at_arrival() {
        let line = r#"{"timestamp":"2026-11-24T04:06:10.830289Z","level":"INFO","message":"request","app":"hello","method":"GET","path":"/x?y=1","status":200,"client":"127.0.0.1","user_agent":"Mozilla/5 test","cold_start":true,"ms":"27.1","target":"paastis::access"}"#;
        let JsonLine::Request(access) = parse(line).unwrap() else { panic!("not a request") };
        assert_eq!(access.at, 1_795_493_170_830 - 27);
        assert_eq!(access.app, "hello");
        assert_eq!(access.target, "/x?y=1");
        assert_eq!(access.user_agent.as_deref(), Some("Mozilla/5 test"));
    }

    #[test]
    fn reads_nested_fields() {
        let line = r#"{"timestamp":"2026-11-24T04:06:10Z","level":"INFO","fields":{"message":"request","app":"a","method":"POST","path":"/","ms":3},"target":"paastis::access"}"#;
        let JsonLine::Request(access) = parse(line).unwrap() else { panic!("not a request") };
        assert_eq!((access.method.as_str(), access.at), ("POST", 1_795_493_170_000 - 3));
    }

    #[test]
    fn other_events_and_unknown_hosts_are_not_requests() {
        let listening = r#"{"timestamp":"2026-11-24T04:06:07Z","level":"INFO","message":"listening","addr":"127.0.0.1:1","target":"paastis::gateway"}"#;
        assert_eq!(parse(listening).unwrap(), JsonLine::Other);
        let unknown =
            r#"{"timestamp":"2026-11-24T04:06:07Z","message":"request","app":"-","target":"paastis::access"}"#;
        assert_eq!(parse(unknown).unwrap(), JsonLine::Other);
    }

    #[test]
    fn refuses_broken_lines() {
        assert!(parse("{not json").unwrap_err().contains("not JSON"));
        let undated = r#"{"message":"request","app":"a","target":"paastis::access"}"#;
        assert!(parse(undated).unwrap_err().contains("timestamp"));
    }
}
