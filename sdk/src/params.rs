//! Typed access to the params a policy receives from the gateway config,
//! with errors that name the param and quote what was found, because the
//! person reading them is the one editing the config.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::time::parse_duration;

/// One value from the config.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    TextList(Vec<String>),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Text(s) => write!(f, "{s:?}"),
            ParamValue::Integer(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Boolean(b) => write!(f, "{b}"),
            ParamValue::TextList(items) => f.debug_list().entries(items).finish(),
        }
    }
}

macro_rules! from_scalar {
    ($($t:ty => $variant:ident($conv:expr)),* $(,)?) => {
        $(impl From<$t> for ParamValue {
            fn from(v: $t) -> Self {
                ParamValue::$variant($conv(v))
            }
        })*
    };
}

from_scalar! {
    String => Text(|v| v),
    &str => Text(str::to_owned),
    i64 => Integer(|v| v),
    i32 => Integer(i64::from),
    u32 => Integer(i64::from),
    f64 => Float(|v| v),
    bool => Boolean(|v| v),
    Vec<String> => TextList(|v| v),
    Vec<&str> => TextList(|v: Vec<&str>| v.into_iter().map(str::to_owned).collect()),
    &[&str] => TextList(|v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect()),
}

impl<const N: usize> From<[&str; N]> for ParamValue {
    fn from(items: [&str; N]) -> Self {
        ParamValue::TextList(items.iter().map(|s| (*s).to_owned()).collect())
    }
}

/// A param that is missing or does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    name: String,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    Missing,
    Mismatch { expected: &'static str, found: String },
}

impl ParamError {
    pub fn missing(name: &str) -> Self {
        ParamError { name: name.to_owned(), problem: Problem::Missing }
    }

    /// `expected` completes "expected ...", e.g. `a duration such as "15m"`.
    pub fn mismatch(name: &str, expected: &'static str, found: &ParamValue) -> Self {
        ParamError { name: name.to_owned(), problem: Problem::Mismatch { expected, found: found.to_string() } }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Missing => write!(f, "param {:?} is required but not set", self.name),
            Problem::Mismatch { expected, found } => {
                write!(f, "param {:?}: expected {expected}, got {found}", self.name)
            }
        }
    }
}

impl std::error::Error for ParamError {}

const DURATION: &str = "a duration such as \"15m\", \"90s\" or a number of seconds";
const TEXT: &str = "a string";
const TEXT_LIST: &str = "a list of strings";
const BOOL: &str = "true or false";
const INTEGER: &str = "an integer";
const NUMBER: &str = "a number";

/// The params for one app: the app's own over the policy's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(BTreeMap<String, ParamValue>);

impl Params {
    pub fn new() -> Self {
        Params::default()
    }

    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<ParamValue>) {
        self.0.insert(name.into(), value.into());
    }

    fn required(&self, name: &str) -> Result<&ParamValue, ParamError> {
        self.get(name).ok_or_else(|| ParamError::missing(name))
    }

    /// A duration: text in humantime syntax (`"15m"`, `"1h30m"`), or a
    /// non-negative number of seconds (as text or as a number).
    pub fn duration(&self, name: &str) -> Result<Duration, ParamError> {
        let value = self.required(name)?;
        let parsed = match value {
            ParamValue::Text(s) => parse_duration(s),
            ParamValue::Integer(i) => u64::try_from(*i).ok().map(Duration::from_secs),
            ParamValue::Float(x) => Duration::try_from_secs_f64(*x).ok(),
            ParamValue::Boolean(_) | ParamValue::TextList(_) => None,
        };
        parsed.ok_or_else(|| ParamError::mismatch(name, DURATION, value))
    }

    /// Like [`Params::duration`], with `default` when the param is not set.
    /// A param that is set but malformed is still an error: silently using
    /// the default would hide a typo in the config.
    pub fn duration_or(&self, name: &str, default: Duration) -> Result<Duration, ParamError> {
        if self.contains(name) { self.duration(name) } else { Ok(default) }
    }

    pub fn text(&self, name: &str) -> Result<&str, ParamError> {
        match self.required(name)? {
            ParamValue::Text(s) => Ok(s),
            other => Err(ParamError::mismatch(name, TEXT, other)),
        }
    }

    pub fn text_or<'a>(&'a self, name: &str, default: &'a str) -> Result<&'a str, ParamError> {
        if self.contains(name) { self.text(name) } else { Ok(default) }
    }

    /// A list of strings; a single string counts as a list of one, which is
    /// what someone who configures one path usually writes.
    pub fn string_list(&self, name: &str) -> Result<Vec<String>, ParamError> {
        match self.required(name)? {
            ParamValue::TextList(items) => Ok(items.clone()),
            ParamValue::Text(s) => Ok(vec![s.clone()]),
            other => Err(ParamError::mismatch(name, TEXT_LIST, other)),
        }
    }

    pub fn string_list_or(&self, name: &str, default: &[&str]) -> Result<Vec<String>, ParamError> {
        if self.contains(name) { self.string_list(name) } else { Ok(default.iter().map(|s| (*s).to_owned()).collect()) }
    }

    /// A boolean; the text `"true"`/`"false"` is accepted too, since env-var
    /// driven configs often can only produce strings.
    pub fn bool(&self, name: &str) -> Result<bool, ParamError> {
        let value = self.required(name)?;
        match value {
            ParamValue::Boolean(b) => Ok(*b),
            ParamValue::Text(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            ParamValue::Text(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            other => Err(ParamError::mismatch(name, BOOL, other)),
        }
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ParamError> {
        if self.contains(name) { self.bool(name) } else { Ok(default) }
    }

    pub fn integer(&self, name: &str) -> Result<i64, ParamError> {
        let value = self.required(name)?;
        match value {
            ParamValue::Integer(i) => Ok(*i),
            ParamValue::Text(s) => s.trim().parse().map_err(|_| ParamError::mismatch(name, INTEGER, value)),
            other => Err(ParamError::mismatch(name, INTEGER, other)),
        }
    }

    pub fn integer_or(&self, name: &str, default: i64) -> Result<i64, ParamError> {
        if self.contains(name) { self.integer(name) } else { Ok(default) }
    }

    /// A number; integers are accepted, as TOML writes `2` and `2.0`
    /// differently but authors mean the same.
    pub fn float(&self, name: &str) -> Result<f64, ParamError> {
        let value = self.required(name)?;
        match value {
            ParamValue::Float(x) => Ok(*x),
            #[allow(clippy::cast_precision_loss)]
            ParamValue::Integer(i) => Ok(*i as f64),
            ParamValue::Text(s) => s.trim().parse().map_err(|_| ParamError::mismatch(name, NUMBER, value)),
            other => Err(ParamError::mismatch(name, NUMBER, other)),
        }
    }

    pub fn float_or(&self, name: &str, default: f64) -> Result<f64, ParamError> {
        if self.contains(name) { self.float(name) } else { Ok(default) }
    }
}

impl<K: Into<String>, V: Into<ParamValue>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Params(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        [
            ("timeout", ParamValue::from("2m")),
            ("secs", ParamValue::from(90)),
            ("bad", ParamValue::from("abc")),
            ("neg", ParamValue::from(-3)),
            ("paths", ParamValue::from(["/health", "/ping*"])),
            ("one", ParamValue::from("/only")),
            ("flag", ParamValue::from(true)),
            ("flag_text", ParamValue::from("FALSE")),
            ("ratio", ParamValue::from(2)),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn durations() {
        let p = params();
        assert_eq!(p.duration("timeout"), Ok(Duration::from_secs(120)));
        assert_eq!(p.duration("secs"), Ok(Duration::from_secs(90)));
        assert_eq!(p.duration_or("absent", Duration::from_secs(7)), Ok(Duration::from_secs(7)));
        assert_eq!(
            p.duration("bad").map_err(|e| e.to_string()),
            Err(format!("param \"bad\": expected {DURATION}, got \"abc\""))
        );
        assert!(p.duration("neg").is_err());
        assert!(p.duration_or("bad", Duration::ZERO).is_err());
        assert_eq!(
            p.duration("absent").map_err(|e| e.to_string()),
            Err("param \"absent\" is required but not set".to_owned())
        );
    }

    #[test]
    fn lists_text_and_flags() {
        let p = params();
        assert_eq!(p.string_list("paths").map(|l| l.len()), Ok(2));
        assert_eq!(p.string_list("one"), Ok(vec!["/only".to_owned()]));
        assert_eq!(p.string_list_or("absent", &["x"]), Ok(vec!["x".to_owned()]));
        assert!(p.string_list("flag").is_err());
        assert_eq!(p.text("one"), Ok("/only"));
        assert_eq!(p.text_or("absent", "d"), Ok("d"));
        assert_eq!(
            p.text("paths").map_err(|e| e.to_string()),
            Err("param \"paths\": expected a string, got [\"/health\", \"/ping*\"]".to_owned())
        );
        assert_eq!(p.bool("flag"), Ok(true));
        assert_eq!(p.bool("flag_text"), Ok(false));
        assert_eq!(p.bool_or("absent", true), Ok(true));
        assert!(p.bool("one").is_err());
        assert_eq!(p.integer("secs"), Ok(90));
        assert_eq!(p.float("ratio"), Ok(2.0));
        assert_eq!(p.integer_or("absent", 4), Ok(4));
    }
}
