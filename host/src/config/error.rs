//! Config errors that point at the file, the key and the line.

use std::ops::Range;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config error in {file}, line {line}, key `{key}`: {message}")]
    Invalid { file: String, line: usize, key: String, message: String },
}

impl ConfigError {
    pub(crate) fn at(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            file: file.to_owned(),
            line: span.map_or(1, |s| line_of(text, s.start)),
            key: if key.is_empty() { "(top level)".to_owned() } else { key.to_owned() },
            message: message.into(),
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Deserializes with the path of the failing key tracked, so the error can
/// name `apps[2].wake_timeout` rather than only a position.
pub(super) fn deserialize<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::at(file, text, e.span(), "", e.message()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut key = e.path().to_string();
        if key == "." {
            key.clear();
        }
        let inner = e.inner();
        let message = inner.message().to_owned();
        // Some serde paths stop at the parent table of an unknown key; name
        // the key itself.
        if let Some(unknown) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .filter(|unknown| !key.ends_with(unknown))
        {
            key = if key.is_empty() { unknown.to_owned() } else { format!("{key}.{unknown}") };
        }
        ConfigError::at(file, text, inner.span(), &key, message)
    })
}
