//! `--param [LABEL/][APP:]KEY=VALUE`: policy params from the command line.
//! A value is read as a TOML value when it is one (`3`, `true`,
//! `["/health"]`, `"quoted"`), and as text otherwise (`15m`, `Europe/Paris`).

use crate::policy::model::{ParamValue, Params};
use std::collections::BTreeMap;

/// One `--param`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ParamSpec {
    /// Only for the `--policy` with this label.
    pub policy: Option<String>,
    /// Only for this app.
    pub app: Option<String>,
    pub key: String,
    pub value: ParamValue,
}

impl ParamSpec {
    pub(super) fn parse(spec: &str) -> Result<ParamSpec, String> {
        let (scope, value) = spec.split_once('=').ok_or("expected [LABEL/][APP:]KEY=VALUE")?;
        let (policy, rest) = match scope.split_once('/') {
            Some((policy, rest)) => (Some(policy), rest),
            None => (None, scope),
        };
        let (app, key) = match rest.split_once(':') {
            Some((app, key)) => (Some(app), key),
            None => (None, rest),
        };
        let name = |s: &str, what: &str| {
            let s = s.trim();
            if s.is_empty() { Err(format!("the {what} is empty")) } else { Ok(s.to_owned()) }
        };
        Ok(ParamSpec {
            policy: policy.map(|p| name(p, "policy label")).transpose()?,
            app: app.map(|a| name(a, "app").map(|a| a.to_ascii_lowercase())).transpose()?,
            key: name(key, "key")?,
            value: value_of(value)?,
        })
    }

    /// More specific params win: everywhere, then one policy, then one app,
    /// then one app under one policy.
    fn rank(&self) -> u8 {
        u8::from(self.policy.is_some()) + 2 * u8::from(self.app.is_some())
    }
}

fn value_of(text: &str) -> Result<ParamValue, String> {
    let Ok(table) = toml::from_str::<toml::Table>(&format!("v = {text}")) else {
        return Ok(ParamValue::Text(text.to_owned()));
    };
    match table.get("v") {
        Some(toml::Value::String(s)) => Ok(ParamValue::Text(s.clone())),
        Some(toml::Value::Integer(i)) => Ok(ParamValue::Integer(*i)),
        Some(toml::Value::Float(f)) => Ok(ParamValue::Float(*f)),
        Some(toml::Value::Boolean(b)) => Ok(ParamValue::Boolean(*b)),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or("a list param holds strings only"))
            .collect::<Result<_, _>>()
            .map(ParamValue::TextList)
            .map_err(str::to_owned),
        // Dates and tables read as text, as they were written.
        _ => Ok(ParamValue::Text(text.to_owned())),
    }
}

/// The params of `app` under the policy labelled `policy`: `base` (from the
/// config), then the `--param`s that apply, the more specific last.
pub(super) fn merged(base: &Params, specs: &[ParamSpec], policy: &str, app: &str) -> Params {
    let mut merged = base.clone();
    let mut applying: Vec<&ParamSpec> = specs
        .iter()
        .filter(|s| s.policy.as_deref().is_none_or(|p| p == policy) && s.app.as_deref().is_none_or(|a| a == app))
        .collect();
    applying.sort_by_key(|s| s.rank());
    merged.extend(applying.into_iter().map(|s| (s.key.clone(), s.value.clone())));
    merged
}

/// Labels and apps a `--param` names that do not exist: a typo would
/// otherwise be silently ignored.
pub(super) fn check_scopes(
    specs: &[ParamSpec],
    labels: &[String],
    apps: &BTreeMap<String, Params>,
) -> Result<(), String> {
    for spec in specs {
        if let Some(policy) = &spec.policy
            && !labels.contains(policy)
        {
            return Err(format!("--param for policy {policy:?}, but the policies are {labels:?}"));
        }
        if let Some(app) = &spec.app
            && !apps.contains_key(app)
        {
            let known: Vec<&String> = apps.keys().collect();
            return Err(format!("--param for app {app:?}, which the log has no request for (apps: {known:?})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scopes_and_typed_values() {
        let spec = ParamSpec::parse("short/Web:idle_timeout=5m").unwrap();
        assert_eq!(spec.policy.as_deref(), Some("short"));
        assert_eq!(spec.app.as_deref(), Some("web"));
        assert_eq!(spec.value, ParamValue::Text("5m".into()));
        assert_eq!(ParamSpec::parse("n=3").unwrap().value, ParamValue::Integer(3));
        assert_eq!(ParamSpec::parse("on=true").unwrap().value, ParamValue::Boolean(true));
        assert_eq!(ParamSpec::parse("x=1.5").unwrap().value, ParamValue::Float(1.5));
        assert_eq!(
            ParamSpec::parse(r#"p=["/a", "/b"]"#).unwrap().value,
            ParamValue::TextList(vec!["/a".into(), "/b".into()])
        );
        assert_eq!(ParamSpec::parse(r#"tz="Europe/Paris""#).unwrap().value, ParamValue::Text("Europe/Paris".into()));
        assert_eq!(ParamSpec::parse("tz=Europe/Paris").unwrap().value, ParamValue::Text("Europe/Paris".into()));
    }

    #[test]
    fn refuses_malformed_specs() {
        assert!(ParamSpec::parse("idle_timeout").is_err());
        assert!(ParamSpec::parse("=5").is_err());
        assert!(ParamSpec::parse("web:=5").is_err());
        assert!(ParamSpec::parse("p=[1, 2]").unwrap_err().contains("strings"));
    }

    #[test]
    fn the_more_specific_param_wins() {
        let specs: Vec<ParamSpec> = ["t=app", "a/t=policy-app", "t=all", "a/t=policy"]
            .iter()
            .map(|s| {
                ParamSpec::parse(&s.replace("t=app", "web:t=app").replace("a/t=policy-app", "a/web:t=policy-app"))
                    .unwrap()
            })
            .collect();
        let get = |policy, app| match merged(&Params::new(), &specs, policy, app).get("t") {
            Some(ParamValue::Text(s)) => s.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(get("a", "web"), "policy-app");
        assert_eq!(get("b", "web"), "app");
        assert_eq!(get("a", "api"), "policy");
        assert_eq!(get("b", "api"), "all");
    }
}
