//! `[[rules]]`: how PaaS apps are named, which policy and params they get and
//! which apps they wake with them. A rule's `match` is a regex over the
//! platform's app name; `$1`-style groups are substituted in the other keys.

use super::params::ConfigParams;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Regex over the whole platform app name, such as `review-pr(\d+)-front`.
    #[serde(rename = "match")]
    pub pattern: Spanned<String>,
    /// Only apps of this backend; every backend if omitted.
    pub backend: Option<String>,
    /// The app's host label behind the gateway, such as `pr$1`.
    pub name: Option<String>,
    /// The upstream, such as `https://review-pr$1-front.osc-fr1.scalingo.io`.
    pub upstream: Option<String>,
    pub policy: Option<String>,
    /// Apps woken together with this one, by platform or gateway name.
    #[serde(default)]
    pub links: Vec<String>,
    /// What the matched apps cost per hour awake (`savings.hourly_cost` if omitted).
    #[serde(default, deserialize_with = "super::savings::non_negative_opt")]
    pub hourly_cost: Option<f64>,
    /// Containers the matched apps run while awake, for the energy estimate.
    pub containers: Option<u32>,
    #[serde(default)]
    params: ConfigParams,
}

impl RuleConfig {
    pub fn params(&self) -> &crate::policy::model::Params {
        &self.params.values
    }
}
