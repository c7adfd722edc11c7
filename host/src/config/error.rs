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
            line: span.map_or_else(|| line_of_key(text, key), |s| line_of(text, s.start)),
            key: if key.is_empty() { "(top level)".to_owned() } else { key.to_owned() },
            message: message.into(),
        }
    }
}

/// The line where a key such as `policy.tick` or `apps[1].port` is written,
/// for errors found after parsing whose value carries no span; 1 when the
/// key is not written (a default).
fn line_of_key(text: &str, key: &str) -> usize {
    let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
    // `apps[1]` is the second `[[apps]]` table.
    let (table, index) = match table.split_once('[') {
        Some((array, rest)) => (array, rest.trim_end_matches(']').parse::<usize>().ok()),
        None => (table, None),
    };
    let mut current = String::new();
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let array = header.starts_with('[');
            current = header.trim_start_matches('[').split(']').next().unwrap_or("").trim().to_owned();
            if array && current == table {
                seen += 1;
            }
            continue;
        }
        let Some((written, _)) = line.split_once('=') else { continue };
        let written = written.trim().trim_matches('"');
        let in_table = current == table && index.is_none_or(|index| seen == index + 1);
        let dotted = current.is_empty() && index.is_none() && written == key;
        if (in_table && written == name) || dotted {
            return i + 1;
        }
    }
    1
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

#[cfg(test)]
mod tests {
    use super::line_of_key;

    #[test]
    fn a_key_without_a_span_is_found_in_its_table() {
        let text = "[server]\ntick = 1\n[policy]\ndefault = \"x\"\ntick = \"0s\"\n[[apps]]\nport = 1\n[[apps]]\nname = \"b\"\nport = 0\n";
        assert_eq!(line_of_key(text, "policy.tick"), 5);
        assert_eq!(line_of_key(text, "apps[1].port"), 10);
        assert_eq!(line_of_key(text, "apps[0].port"), 7);
        assert_eq!(line_of_key(text, "edge.idle_keep_alive"), 1, "not written: the first line");
    }
}
