//! Builds the default policy (`policies/inactivity`) to a WebAssembly
//! component and leaves it at `$OUT_DIR/inactivity.wasm`, where
//! `policy::INACTIVITY_WASM` embeds it, so the gateway binary carries a
//! working policy without any file next to it.
//!
//! The policy is built by a nested cargo for `wasm32-wasip2`, in its own target
//! directory: the outer build holds the lock on the usual one.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PACKAGE: &str = "paastis-policy-inactivity";
const ARTIFACT: &str = "paastis_policy_inactivity.wasm";

fn main() {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .unwrap_or_else(|| panic!("{} has no parent directory", manifest_dir.display()))
        .to_path_buf();
    let out_dir = PathBuf::from(env_var("OUT_DIR"));

    for input in [
        "wit",
        "sdk/src",
        "sdk/Cargo.toml",
        "policies/inactivity/src",
        "policies/inactivity/Cargo.toml",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }

    ensure_target_installed();

    let target_dir = workspace.join("target").join("policies");
    build_policy(&workspace, &target_dir);

    let built = target_dir.join(TARGET).join("release").join(ARTIFACT);
    let embedded = out_dir.join("inactivity.wasm");
    if let Err(e) = std::fs::copy(&built, &embedded) {
        panic!("copying {} to {}: {e}", built.display(), embedded.display());
    }
}

fn env_var(name: &str) -> OsString {
    env::var_os(name).unwrap_or_else(|| panic!("cargo did not set {name} for the build script"))
}

/// The toolchain that builds the host, as cargo told this script.
fn rustc() -> OsString {
    env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
}

/// A fresh machine must not need a manual step, so a missing target is
/// installed here rather than reported.
fn ensure_target_installed() {
    if target_installed() {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup to build the default policy");
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
    let Ok(out) = Command::new(rustc()).args(["--print", "sysroot"]).output() else {
        return false;
    };
    if !out.status.success() {
        return false;
    }
    let sysroot = String::from_utf8_lossy(&out.stdout);
    Path::new(sysroot.trim()).join("lib").join("rustlib").join(TARGET).is_dir()
}

fn build_policy(workspace: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--package", PACKAGE, "--release", "--target", TARGET])
        .arg("--target-dir")
        .arg(target_dir);

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
            )
        {
            cmd.env_remove(key);
        }
    }

    // The gateway compiles this module at every start: a small, optimised,
    // debug-info-free module compiles much faster (the workspace's release
    // profile keeps line tables for the host, which would make it 15x bigger).
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s");

    let status = cmd.status().unwrap_or_else(|e| panic!("running cargo for the default policy: {e}"));
    if !status.success() {
        panic!("building the default policy ({PACKAGE}) for {TARGET} failed ({status}); see the cargo output above");
    }
}
