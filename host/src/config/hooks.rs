//! `[hooks]`: shell commands run around starts and stops. They see
//! `PAASTIS_APP`, `PAASTIS_BACKEND` and `PAASTIS_HOOK` in their environment.

use super::ConfigDuration;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    pub before_start: Option<String>,
    pub after_start: Option<String>,
    pub before_stop: Option<String>,
    pub after_stop: Option<String>,
    /// A hook still running after this is killed (and logged).
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
}

fn default_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(30)
}

impl Default for HooksConfig {
    fn default() -> Self {
        HooksConfig {
            before_start: None,
            after_start: None,
            before_stop: None,
            after_stop: None,
            timeout: default_timeout(),
        }
    }
}
