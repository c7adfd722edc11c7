//! Secrets (API tokens) read from the environment. `Secret` never shows its
//! value through Debug or Display, so a stray `{:?}` or error message cannot
//! leak it; the value is reachable only through `expose`, at the header.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Secret {
        Secret(value)
    }

    /// Reads the secret from `var`; the error names the variable, never a value.
    pub(crate) fn from_env(var: &str) -> Result<Secret, String> {
        match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => Ok(Secret(value.trim().to_owned())),
            Ok(_) => Err(format!("environment variable {var} is empty")),
            Err(std::env::VarError::NotPresent) => Err(format!("environment variable {var} is not set")),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("environment variable {var} is not UTF-8")),
        }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// A header value marked sensitive, so HTTP libraries redact it too.
    pub(crate) fn header(&self, prefix: &str) -> Result<http::HeaderValue, String> {
        let mut value = http::HeaderValue::from_str(&format!("{prefix}{}", self.0))
            .map_err(|_| "a credential holds characters not allowed in an HTTP header".to_owned())?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("tk-us-very-secret".into());
        assert!(!format!("{secret:?} {secret}").contains("very-secret"));
        assert_eq!(secret.expose(), "tk-us-very-secret");
        assert!(secret.header("Bearer ").unwrap().is_sensitive());
    }
}
