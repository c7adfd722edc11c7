//! `paastis policy check FILE.wasm`: loads a file exactly as the gateway
//! would (compile, contract check, smoke call in a throwaway sandbox) and
//! says what it is, or why it is refused.

use crate::policy::{LoadedPolicy, PolicyError, PolicyRuntime, SandboxLimits};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub(super) enum CheckError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is refused: {source}")]
    Refused {
        path: String,
        #[source]
        source: PolicyError,
    },
}

pub(super) async fn check(path: &Path) -> Result<(LoadedPolicy, usize), CheckError> {
    let shown = path.display().to_string();
    let wasm = std::fs::read(path).map_err(|source| CheckError::Read { path: shown.clone(), source })?;
    let name = path.file_stem().map_or_else(|| shown.clone(), |s| s.to_string_lossy().into_owned());
    let refused = |source| CheckError::Refused { path: shown.clone(), source };
    let runtime = PolicyRuntime::new(SandboxLimits::default()).map_err(refused)?;
    let policy = runtime.load(&name, &wasm).await.map_err(refused)?;
    Ok((policy, wasm.len()))
}

/// The report printed for a file that passes.
pub(super) fn report(path: &Path, policy: &LoadedPolicy, size: usize) -> String {
    let interface = policy.interface();
    let mut out = format!(
        "{}: ok, a paastis:policy component\n  name:    {}\n  size:    {size} bytes\n  sha256:  {}\n  exports:\n",
        path.display(),
        policy.name(),
        policy.sha256()
    );
    for export in &interface.exports {
        out.push_str(&format!("    {export}\n"));
    }
    out.push_str("  imports:\n");
    for import in &interface.imports {
        out.push_str(&format!("    {import}\n"));
    }
    out
}
