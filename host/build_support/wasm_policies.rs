//! Building policy crates to WebAssembly components from a build script, for
//! `host/build.rs` (the embedded default policy) and `tests/build.rs` (the
//! test policies); each includes this file by path.
//!
//! One nested cargo for `wasm32-wasip2`, in `target/policies`: the outer build
//! holds the lock on the usual target dir. Both callers use the same profile,
//! so the SDK compiled for one is reused by the other.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";

/// The workspace root: the parent of the crate running the build script.
pub fn workspace() -> PathBuf {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or_else(|| panic!("{} has no parent directory", manifest_dir.display())).to_path_buf()
}

pub fn target_dir(workspace: &Path) -> PathBuf {
    workspace.join("target").join("policies")
}

/// Where cargo leaves the component of `package`.
pub fn artifact(target_dir: &Path, package: &str) -> PathBuf {
    target_dir.join(TARGET).join("release").join(format!("{}.wasm", package.replace('-', "_")))
}

pub fn env_var(name: &str) -> OsString {
    env::var_os(name).unwrap_or_else(|| panic!("cargo did not set {name} for the build script"))
}

/// A fresh machine must not need a manual step, so a missing target is
/// installed here rather than reported. `purpose` says why, in the warning.
pub fn ensure_target_installed(purpose: &str) {
    if target_installed() {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup to build {purpose}");
    // RUSTUP_TOOLCHAIN, set by the rustup proxy that started cargo, makes this
    // install into the toolchain doing the build.
    let status = Command::new("rustup").args(["target", "add", TARGET]).status();
    match status {
        Ok(s) if s.success() && target_installed() => {}
        Ok(s) => panic!(
            "`rustup target add {TARGET}` failed ({s}); install the target for this toolchain by hand and build again"
        ),
        Err(e) => panic!(
            "the {TARGET} target is missing and rustup could not be run ({e}); install the target for this toolchain and build again"
        ),
    }
}

fn target_installed() -> bool {
    // The toolchain that builds the host, as cargo told this script.
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    if !out.status.success() {
        return false;
    }
    let sysroot = String::from_utf8_lossy(&out.stdout);
    Path::new(sysroot.trim()).join("lib").join("rustlib").join(TARGET).is_dir()
}

/// Builds `packages` in one nested cargo: one lock, one resolution, shared deps.
pub fn build(workspace: &Path, target_dir: &Path, packages: &[&str], purpose: &str) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace).args(["build", "--locked", "--release", "--target", TARGET]);
    for package in packages {
        cmd.arg("--package").arg(package);
    }
    cmd.arg("--target-dir").arg(target_dir);

    // What the outer cargo set for itself or for this script would leak into
    // the nested build: wrappers (clippy-driver), host rustflags (which may
    // not even be valid for wasm), a redirected target dir, cfgs and
    // features of the host crate. The jobserver (CARGO_MAKEFLAGS) is kept on
    // purpose, so that the nested build shares the outer one's job slots.
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || matches!(
                key,
                "RUSTFLAGS"
                    | "CARGO_ENCODED_RUSTFLAGS"
                    | "CARGO_BUILD_RUSTFLAGS"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "RUSTC_WRAPPER"
                    | "CARGO_BUILD_RUSTC_WRAPPER"
                    | "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER"
                    | "CARGO_TARGET_DIR"
                    | "CARGO_BUILD_TARGET_DIR"
                    | "CARGO_BUILD_TARGET"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_PROFILE_RELEASE_DEBUG"
                    | "CARGO_PROFILE_RELEASE_LTO"
                    | "CARGO_PROFILE_RELEASE_OPT_LEVEL"
                    | "CARGO_PROFILE_RELEASE_CODEGEN_UNITS"
                    | "CARGO_PROFILE_RELEASE_STRIP"
                    | "CARGO_PROFILE_RELEASE_SPLIT_DEBUGINFO"
            )
        {
            cmd.env_remove(key);
        }
    }

    // The gateway compiles these modules at every load: small, optimised,
    // debug-info-free modules compile much faster (the workspace's release
    // profile keeps line tables for the host, which would make them 15x bigger;
    // its split debug info has no meaning for a wasm component).
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_SPLIT_DEBUGINFO", "off")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s");

    let status = cmd.status().unwrap_or_else(|e| panic!("running cargo to build {purpose}: {e}"));
    if !status.success() {
        panic!("building {purpose} for {TARGET} failed ({status}); see the cargo output above");
    }
}
