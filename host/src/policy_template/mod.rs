//! `paastis policy new NAME`: a policy crate that builds as it is, with an
//! example policy and native tests, ready for `cargo build --release --target
//! wasm32-wasip2`.

use std::path::{Path, PathBuf};

const CARGO_TOML: &str = include_str!("files/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("files/lib.rs.tmpl");
const README: &str = include_str!("files/README.md.tmpl");

/// Where this binary was built from; a binary built from the repository
/// points new policies at its own SDK, so they build offline and in step.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
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

/// Creates `parent/name/` and returns its path.
pub fn scaffold(name: &str, parent: &Path, sdk: Option<&Path>) -> Result<PathBuf, TemplateError> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(TemplateError::Name(name.to_owned()));
    }
    let root = parent.join(name);
    if root.exists() {
        return Err(TemplateError::Exists(root));
    }
    let sdk_dependency = match sdk.map(Path::to_path_buf).or_else(built_sdk) {
        Some(path) => format!("paastis-sdk = {{ path = {:?} }}", path.display().to_string()),
        None => format!("paastis-sdk = \"{}\"", env!("CARGO_PKG_VERSION")),
    };
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

fn built_sdk() -> Option<PathBuf> {
    let path = Path::new(BUILT_SDK);
    path.join("Cargo.toml").is_file().then(|| path.canonicalize().unwrap_or_else(|_| path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"night-owl\"") && manifest.contains("paastis-sdk"), "{manifest}");
    }
}
