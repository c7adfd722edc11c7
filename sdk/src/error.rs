//! The error a policy returns; the host logs it, counts a policy failure and
//! falls back (forward and count a request; no action on a tick).

use std::fmt;

use crate::params::ParamError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(String);

impl PolicyError {
    pub fn new(message: impl Into<String>) -> Self {
        PolicyError(message.into())
    }

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
