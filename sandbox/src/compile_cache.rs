//! Compiled policies kept on disk, so that a restart (or a swap back to a
//! version seen before) loads machine code instead of running Cranelift:
//! starts are faster, and a gateway that never compiles keeps the compiler's
//! tens of MiB of code and heap out of its memory. It is wasmtime's own cache
//! (`wasmtime::Cache`): entries are keyed by the policy's bytes, the engine's
//! settings and wasmtime's version, written atomically, compressed, and
//! trimmed by its worker thread.
//!
//! What is cached is native code the gateway will run, so the directory must
//! be writable only by the gateway's user, like its binary: it is created
//! with mode 0700, and one that others may write is refused. A cache that
//! cannot be used is never fatal: the gateway compiles, as it would without.
//! A damaged entry is found by wasmtime when it fails to decompress or to
//! deserialize, and the policy is compiled again (and the entry rewritten).

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wasmtime::{Cache, CacheConfig, Config};

/// Why a cache directory is not used (the caller logs it and goes on).
#[derive(Debug, thiserror::Error)]
pub enum CompileCacheError {
    #[error("cannot create the policy compile cache {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error(
        "the policy compile cache {path} is writable by other users (mode {mode:o}): it holds code the gateway runs"
    )]
    Shared { path: PathBuf, mode: u32 },
    #[error("cannot use the policy compile cache {path}: {detail}")]
    Wasmtime { path: PathBuf, detail: String },
}

/// Turns wasmtime's cache on in `config`, in `dir`; the returned handle
/// counts its hits.
pub(crate) fn enable(config: &mut Config, dir: &Path) -> Result<Cache, CompileCacheError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| CompileCacheError::Create { path: dir.to_owned(), source })?;
    let mode = std::fs::metadata(dir)
        .map_err(|source| CompileCacheError::Create { path: dir.to_owned(), source })?
        .permissions()
        .mode();
    if mode & 0o022 != 0 {
        return Err(CompileCacheError::Shared { path: dir.to_owned(), mode: mode & 0o7777 });
    }
    let mut cache_config = CacheConfig::new();
    cache_config.with_directory(dir);
    let cache = Cache::new(cache_config)
        .map_err(|e| CompileCacheError::Wasmtime { path: dir.to_owned(), detail: format!("{e:#}") })?;
    config.cache(Some(cache.clone()));
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use crate::guest_wat as guest;
    use crate::{Compiled, MemoryKv, PolicyRuntime, SandboxLimits};
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::sync::Arc;

    /// A fresh runtime, as a restarted gateway has, on the cache in `dir`.
    fn restarted(dir: &Path) -> PolicyRuntime {
        match PolicyRuntime::with_kv(SandboxLimits::default(), Arc::new(MemoryKv::default()), Some(dir)) {
            Ok(runtime) => runtime,
            Err(e) => panic!("{e}"),
        }
    }

    async fn loaded(runtime: &PolicyRuntime, wasm: &[u8]) -> Compiled {
        match runtime.load("cached", wasm).await {
            // The smoke call ran: the code, wherever it came from, works.
            Ok(policy) => policy.compiled(),
            Err(e) => panic!("{e}"),
        }
    }

    fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        let mut todo = vec![dir.to_owned()];
        while let Some(d) = todo.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    todo.push(path);
                } else if path.extension().is_none()
                    && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    found.push(path);
                }
            }
        }
        found
    }

    #[tokio::test]
    async fn a_restart_reads_the_code_and_a_damaged_entry_is_compiled_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("policies");
        let wasm = guest::well_behaved();
        assert_eq!(loaded(&restarted(&cache), &wasm).await, Compiled::Now);
        assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(loaded(&restarted(&cache), &wasm).await, Compiled::FromCache);
        // Another policy is another entry.
        assert_eq!(loaded(&restarted(&cache), &guest::counts_its_calls()).await, Compiled::Now);

        let written = entries(&cache);
        assert_eq!(written.len(), 2, "{written:?}");
        for entry in &written {
            std::fs::write(entry, b"not what wasmtime wrote").unwrap();
        }
        assert_eq!(loaded(&restarted(&cache), &wasm).await, Compiled::Now);
        assert_eq!(loaded(&restarted(&cache), &wasm).await, Compiled::FromCache, "the entry was written again");
    }

    #[tokio::test]
    async fn a_directory_others_may_write_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = super::enable(&mut wasmtime::Config::new(), dir.path()).err().map(|e| e.to_string());
        assert_eq!(
            err,
            Some(format!(
                "the policy compile cache {} is writable by other users (mode 777): it holds code the gateway runs",
                dir.path().display()
            ))
        );
        // The runtime goes on without it.
        let wasm = guest::well_behaved();
        assert_eq!(loaded(&restarted(dir.path()), &wasm).await, Compiled::Now);
        assert_eq!(loaded(&restarted(dir.path()), &wasm).await, Compiled::Now);
        assert!(entries(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn a_directory_that_cannot_be_made_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let wasm = guest::well_behaved();
        assert_eq!(loaded(&restarted(&file.join("cache")), &wasm).await, Compiled::Now);
    }
}
