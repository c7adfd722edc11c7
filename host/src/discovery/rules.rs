//! `[[rules]]` applied: the first rule whose regex matches the whole platform
//! app name gives the app's host label, upstream, policy, params and links,
//! with `$1`, `${1}` or `${name}` replaced by the regex's groups.

use crate::config::RuleConfig;
use crate::policy::model::{ParamValue, Params};
use regex::Regex;

pub(crate) struct Rules {
    rules: Vec<(Regex, RuleConfig)>,
}

/// What a rule says about one app, groups substituted.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Applied {
    pub name: Option<String>,
    pub upstream: Option<String>,
    pub policy: Option<String>,
    pub links: Vec<String>,
    pub params: Params,
    pub hourly_cost: Option<f64>,
    pub containers: Option<u32>,
}

impl Rules {
    /// The rules of the config; a regex was already checked when the config
    /// was loaded, so one that does not compile here is skipped.
    pub(crate) fn new(config: &[RuleConfig]) -> Rules {
        let rules = config
            .iter()
            .filter_map(|rule| {
                let regex = Regex::new(&format!("^(?:{})$", rule.pattern.get_ref())).ok()?;
                Some((regex, rule.clone()))
            })
            .collect();
        Rules { rules }
    }

    /// The first rule for `backend` that matches the platform name `remote`.
    pub(crate) fn apply(&self, backend: &str, remote: &str) -> Option<Applied> {
        let (regex, rule) = self
            .rules
            .iter()
            .find(|(regex, rule)| rule.backend.as_deref().is_none_or(|b| b == backend) && regex.is_match(remote))?;
        let captures = regex.captures(remote)?;
        let expand = |template: &str| {
            let mut out = String::new();
            captures.expand(template, &mut out);
            out
        };
        let params = rule
            .params()
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    ParamValue::Text(t) => ParamValue::Text(expand(t)),
                    ParamValue::TextList(l) => ParamValue::TextList(l.iter().map(|t| expand(t)).collect()),
                    other => other.clone(),
                };
                (k.clone(), v)
            })
            .collect();
        Some(Applied {
            name: rule.name.as_deref().map(expand),
            upstream: rule.upstream.as_deref().map(expand),
            policy: rule.policy.as_deref().map(expand),
            links: rule.links.iter().map(|l| expand(l)).collect(),
            params,
            hourly_cost: rule.hourly_cost,
            containers: rule.containers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(toml_text: &str) -> Rules {
        #[derive(serde::Deserialize)]
        struct File {
            rules: Vec<RuleConfig>,
        }
        let file: File = toml::from_str(toml_text).unwrap();
        Rules::new(&file.rules)
    }

    #[test]
    fn groups_are_substituted_in_names_links_and_params() {
        let rules = rules(
            r#"
            [[rules]]
            match = 'review-pr(\d+)-front'
            name = "pr$1"
            links = ["review-pr$1-back"]
            policy = "office-hours"
            params = { label = "PR ${1}", idle_timeout = "5m" }
            "#,
        );
        let applied = rules.apply("scalingo", "review-pr42-front").unwrap();
        assert_eq!(applied.name.as_deref(), Some("pr42"));
        assert_eq!(applied.links, vec!["review-pr42-back".to_owned()]);
        assert_eq!(applied.policy.as_deref(), Some("office-hours"));
        assert_eq!(applied.params["label"], ParamValue::Text("PR 42".into()));
        assert!(rules.apply("scalingo", "review-pr42-front-old").is_none(), "the whole name must match");
        assert!(rules.apply("scalingo", "api").is_none());
    }

    #[test]
    fn a_rule_prices_the_apps_it_matches() {
        let rules = rules("[[rules]]\nmatch = 'review-.*'\nhourly_cost = 0.03\ncontainers = 2\n");
        let applied = rules.apply("scalingo", "review-7").unwrap();
        assert_eq!((applied.hourly_cost, applied.containers), (Some(0.03), Some(2)));
        let unpriced = self::rules("[[rules]]\nmatch = 'x'\n").apply("heroku", "x").unwrap();
        assert_eq!((unpriced.hourly_cost, unpriced.containers), (None, None));
    }

    #[test]
    fn a_rule_can_be_limited_to_one_backend() {
        let rules = rules("[[rules]]\nmatch = 'x-(.*)'\nbackend = 'heroku'\nname = '$1'\n");
        assert!(rules.apply("scalingo", "x-a").is_none());
        assert_eq!(rules.apply("heroku", "x-a").unwrap().name.as_deref(), Some("a"));
    }
}
