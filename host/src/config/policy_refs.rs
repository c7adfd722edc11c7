//! Config errors about the policies a config names (`policy.default`, an
//! app's `policy`, a rule's `policy`), found once the policies are loaded:
//! they point at the key and line that names the policy, like every other
//! config error.

use super::error::ConfigError;
use super::schema::Config;

impl Config {
    /// `policy.default` names a policy that is not loaded.
    pub fn default_policy_error(&self, message: &str) -> ConfigError {
        let (file, text) = self.source_text();
        let span = Some(self.policy.default.span()).filter(|s| !s.is_empty());
        ConfigError::at(file, text, span, "policy.default", message)
    }

    /// `apps[index].policy` names a policy that is not loaded. An app whose
    /// policy came from a rule has no `policy` key of its own: the error
    /// then points at the app.
    pub fn app_policy_error(&self, index: usize, message: &str) -> ConfigError {
        let (file, text) = self.source_text();
        let app = self.apps.get(index);
        let own = app.and_then(|a| a.policy.as_ref()).map(|p| p.span()).filter(|s| !s.is_empty());
        let span = own.clone().or_else(|| app.map(|a| a.name.span()));
        let key = if own.is_some() { format!("apps[{index}].policy") } else { format!("apps[{index}]") };
        ConfigError::at(file, text, span, &key, message)
    }

    /// `rules[index].policy` names a policy that is not loaded; the line is
    /// the rule's `match`.
    pub fn rule_policy_error(&self, index: usize, message: &str) -> ConfigError {
        let (file, text) = self.source_text();
        let span = self.rules.get(index).map(|r| r.pattern.span());
        ConfigError::at(file, text, span, &format!("rules[{index}].policy"), message)
    }

    fn source_text(&self) -> (&str, &str) {
        self.source.as_deref().map_or(("<config>", ""), |s| (s.file.as_str(), s.text.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
[server]
listen = "127.0.0.1:0"
domain = "localhost"

[policy]
dir = "policies"

[[apps]]
name = "web"
backend = "process"
command = ["true"]
policy = "nights-weekends"
"#;

    #[test]
    fn an_app_policy_error_names_the_key_and_its_line() {
        let config = Config::parse(TEXT, "paastis.toml").unwrap();
        let error = config.app_policy_error(0, "not found").to_string();
        assert_eq!(error, "config error in paastis.toml, line 13, key `apps[0].policy`: not found");
    }
}
