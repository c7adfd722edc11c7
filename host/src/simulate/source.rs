//! `--policy [LABEL=]POLICY`: a built-in policy by name or a component file,
//! under a label that names its column in the report.

use crate::config::{PolicySource, policy_name_of};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct PolicySpec {
    pub label: String,
    /// The built-in name or the path, as given.
    pub source: String,
    pub wasm: Vec<u8>,
}

impl PolicySpec {
    /// `dir` is the config's `policy.dir`, where a bare name that is not
    /// built in is looked for as `NAME.wasm`.
    pub(super) fn parse(spec: &str, dir: Option<&std::path::Path>) -> Result<PolicySpec, String> {
        let (label, source) = match spec.split_once('=') {
            Some((label, source)) if is_label(label) => (Some(label.to_owned()), source),
            _ => (None, spec),
        };
        let (name, wasm) = match PolicySource::of(source) {
            PolicySource::Builtin(name) => {
                let wasm = crate::policy::builtin::wasm(&name).unwrap_or_default().to_vec();
                (name, wasm)
            }
            PolicySource::File(path) => (policy_name_of(&path), read(&path)?),
            PolicySource::Dir(name) => match dir {
                Some(dir) => (name.clone(), read(&dir.join(format!("{name}.wasm")))?),
                None => {
                    let builtins = crate::policy::builtin::BUILTIN_POLICIES.join(", ");
                    return Err(format!("{name:?} is neither a built-in policy ({builtins}) nor a .wasm file"));
                }
            },
        };
        Ok(PolicySpec { label: label.unwrap_or(name), source: source.to_owned(), wasm })
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", PathBuf::from(path).display()))
}

/// Labels are short names: letters, digits, `-`, `_` and `.`.
pub(super) fn is_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_builtin_by_name_with_or_without_label() {
        let plain = PolicySpec::parse("inactivity", None).unwrap();
        assert_eq!(
            (plain.label.as_str(), plain.wasm.as_slice()),
            ("inactivity", crate::policy::builtin::INACTIVITY_WASM)
        );
        assert_eq!(PolicySpec::parse("short=inactivity", None).unwrap().label, "short");
    }

    #[test]
    fn a_file_is_labelled_by_its_stem_and_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("office-hours.wasm");
        std::fs::write(&path, b"\0asm").unwrap();
        let spec = PolicySpec::parse(&path.display().to_string(), None).unwrap();
        assert_eq!((spec.label.as_str(), spec.wasm.as_slice()), ("office-hours", b"\0asm".as_slice()));
        let missing = PolicySpec::parse("x=/nowhere/p.wasm", None).unwrap_err();
        assert!(missing.contains("cannot read /nowhere/p.wasm"), "{missing}");
        assert!(PolicySpec::parse("nightly", None).unwrap_err().contains("neither a built-in"));
        let from_dir = PolicySpec::parse("office-hours", Some(dir.path())).unwrap();
        assert_eq!(from_dir.label, "office-hours");
    }
}
