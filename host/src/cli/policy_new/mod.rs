//! `paastis policy new NAME`: a policy crate that builds as it is, with an
//! example policy and native tests, ready for `cargo build --release --target
//! wasm32-wasip2`. The crate stands on its own, so it can be moved, put in a
//! repository of its own and shared: it depends on `paastis-sdk` by version
//! and this project's git repository, or, when it is created inside a
//! checkout of this repository, by a path relative to itself.

use std::path::{Component, Path, PathBuf};

const CARGO_TOML: &str = include_str!("files/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("files/lib.rs.tmpl");
const README: &str = include_str!("files/README.md.tmpl");

/// Where the SDK is published until it is on crates.io.
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");
const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, thiserror::Error)]
pub(super) enum TemplateError {
    #[error("{0:?} is not a policy name: use lowercase letters, digits and '-', starting with a letter")]
    Name(String),
    #[error("{0} already exists; choose another name or directory")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Creates `parent/name/` and returns its path. `sdk` is an explicit SDK
/// directory to depend on by path (`--sdk`).
pub(super) fn scaffold(name: &str, parent: &Path, sdk: Option<&Path>) -> Result<PathBuf, TemplateError> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(TemplateError::Name(name.to_owned()));
    }
    let root = parent.join(name);
    if root.exists() {
        return Err(TemplateError::Exists(root));
    }
    std::fs::create_dir_all(&root).map_err(|source| TemplateError::Write { path: root.clone(), source })?;
    let sdk_dependency = sdk_dependency(&root, sdk);
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate_name}}", &name.replace('-', "_"))
            .replace("{{sdk_dependency}}", &sdk_dependency)
    };
    let write = |relative: &str, contents: String| {
        let path = root.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| TemplateError::Write { path: dir.to_owned(), source })?;
        }
        std::fs::write(&path, contents).map_err(|source| TemplateError::Write { path, source })
    };
    write("Cargo.toml", fill(CARGO_TOML))?;
    write("src/lib.rs", fill(LIB_RS))?;
    write("README.md", fill(README))?;
    write(".gitignore", "target/\n".to_owned())?;
    Ok(root)
}

/// The `paastis-sdk = ...` line: always the version, so the crate can be
/// published; plus where to find it: `--sdk`, else the checkout the crate
/// sits in (a relative path, so the checkout can move), else the git
/// repository.
fn sdk_dependency(root: &Path, sdk: Option<&Path>) -> String {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let path = match sdk {
        Some(sdk) => Some(sdk.canonicalize().unwrap_or_else(|_| sdk.to_owned())),
        None => enclosing_checkout(&root).map(|checkout| relative_to(&root, &checkout).join("sdk")),
    };
    match path {
        Some(path) => {
            let path = path.display().to_string();
            format!("paastis-sdk = {{ version = \"{SDK_VERSION}\", path = {path:?} }}")
        }
        None => format!("paastis-sdk = {{ version = \"{SDK_VERSION}\", git = \"{REPOSITORY}\" }}"),
    }
}

/// The nearest ancestor of `dir` that is a checkout of this repository: it
/// holds the SDK's crate and the contract.
fn enclosing_checkout(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().skip(1).find(|a| is_checkout(a)).map(Path::to_owned)
}

fn is_checkout(dir: &Path) -> bool {
    let manifest = std::fs::read_to_string(dir.join("sdk/Cargo.toml")).unwrap_or_default();
    dir.join("wit/policy.wit").is_file() && manifest.lines().any(|l| l.trim() == r#"name = "paastis-sdk""#)
}

/// `../..` from `dir` up to its ancestor `ancestor`.
fn relative_to(dir: &Path, ancestor: &Path) -> PathBuf {
    let depth = dir
        .strip_prefix(ancestor)
        .map_or(0, |rest| rest.components().filter(|c| matches!(c, Component::Normal(_))).count());
    std::iter::repeat_n("..", depth).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(root: &Path) -> String {
        std::fs::read_to_string(root.join("Cargo.toml")).unwrap()
    }

    #[test]
    fn refuses_bad_names_and_existing_directories() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "Caps", "1st", "with space", "../escape"] {
            assert!(matches!(scaffold(bad, dir.path(), None), Err(TemplateError::Name(_))), "{bad:?}");
        }
        scaffold("ok", dir.path(), None).unwrap();
        assert!(matches!(scaffold("ok", dir.path(), None), Err(TemplateError::Exists(_))));
    }

    #[test]
    fn fills_every_placeholder() {
        let dir = tempfile::tempdir().unwrap();
        let root = scaffold("night-owl", dir.path(), None).unwrap();
        for file in ["Cargo.toml", "src/lib.rs", "README.md"] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            assert!(!text.contains("{{"), "{file}: {text}");
        }
        assert!(manifest(&root).contains("name = \"night-owl\""), "{}", manifest(&root));
    }

    /// Anywhere but in a checkout, the crate names no path: it can be moved
    /// and shared as it is.
    #[test]
    fn outside_a_checkout_the_sdk_comes_by_version_and_git() {
        let dir = tempfile::tempdir().unwrap();
        let root = scaffold("night-owl", dir.path(), None).unwrap();
        let expected =
            format!("paastis-sdk = {{ version = \"{SDK_VERSION}\", git = \"https://github.com/paastis/paastis\" }}");
        assert!(manifest(&root).contains(&expected), "{}", manifest(&root));
        assert!(!manifest(&root).contains("path ="), "{}", manifest(&root));
    }

    /// Inside a checkout, the SDK of the checkout, by a relative path, so
    /// the checkout may move; the version stays, for publishing.
    #[test]
    fn inside_a_checkout_the_sdk_comes_by_a_relative_path() {
        let checkout = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(checkout.path().join("sdk")).unwrap();
        std::fs::create_dir_all(checkout.path().join("wit")).unwrap();
        std::fs::write(checkout.path().join("sdk/Cargo.toml"), "[package]\nname = \"paastis-sdk\"\n").unwrap();
        std::fs::write(checkout.path().join("wit/policy.wit"), "").unwrap();
        let parent = checkout.path().join("policies/mine");
        std::fs::create_dir_all(&parent).unwrap();
        let root = scaffold("night-owl", &parent, None).unwrap();
        let expected = format!("paastis-sdk = {{ version = \"{SDK_VERSION}\", path = \"../../../sdk\" }}");
        assert!(manifest(&root).contains(&expected), "{}", manifest(&root));
    }

    #[test]
    fn an_explicit_sdk_is_used_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = dir.path().join("my-sdk");
        std::fs::create_dir_all(&sdk).unwrap();
        let root = scaffold("night-owl", dir.path(), Some(&sdk)).unwrap();
        let sdk = sdk.canonicalize().unwrap().display().to_string();
        assert!(manifest(&root).contains(&format!("path = {sdk:?}")), "{}", manifest(&root));
    }
}
