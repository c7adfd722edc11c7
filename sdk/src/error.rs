//! The error a policy returns; the host logs it, counts a policy failure and
//! falls back (forward and count a request; no action on a tick).

use std::fmt;

use crate::params::ParamError;

/// Why a call failed, in words for the person reading the gateway's log.
/// Return it with `?`: param errors, strings and `kv` errors convert to it.
///
/// ```
/// use paastis_sdk::PolicyError;
///
/// fn pick(apps: &[&str]) -> Result<String, PolicyError> {
///     apps.first().map(|a| a.to_string()).ok_or_else(|| PolicyError::new("no app to pick"))
/// }
/// assert_eq!(pick(&[]).unwrap_err().to_string(), "no app to pick");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(String);

impl PolicyError {
    /// An error with this message.
    ///
    /// ```
    /// assert_eq!(paastis_sdk::PolicyError::new("boom").message(), "boom");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        PolicyError(message.into())
    }

    /// The message, as the gateway will log it.
    ///
    /// ```
    /// let e: paastis_sdk::PolicyError = "no schedule".into();
    /// assert_eq!(e.message(), "no schedule");
    /// ```
    pub fn message(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_message(self) -> String {
        self.0
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

impl From<ParamError> for PolicyError {
    fn from(e: ParamError) -> Self {
        PolicyError(e.to_string())
    }
}

impl From<String> for PolicyError {
    fn from(message: String) -> Self {
        PolicyError(message)
    }
}

impl From<&str> for PolicyError {
    fn from(message: &str) -> Self {
        PolicyError(message.to_owned())
    }
}
