//! Builds the test policies in `tests/policies` to WebAssembly components and
//! hands their paths to the tests as `TEST_POLICY_<NAME>` (read with `env!`),
//! such as `TEST_POLICY_SPIN` for `tests/policies/spin`.
//!
//! Like `host/build.rs`: one nested cargo for `wasm32-wasip2`, in
//! `target/policies` (the outer build holds the lock on the usual target dir),
//! with the same profile, so the SDK compiled for the built-in policy is
//! reused and only these tiny crates are compiled.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Directory names under `tests/policies`; each crate is named
/// `paastis-test-policy-<dir>`.
const POLICIES: &[&str] = &["teapot", "spin", "memory-bomb", "panicky", "armed", "wrong-world"];

fn main() {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .unwrap_or_else(|| panic!("{} has no parent directory", manifest_dir.display()))
        .to_path_buf();

    println!("cargo:rerun-if-changed=build.rs");
    for input in ["tests/policies", "wit", "sdk/src", "sdk/Cargo.toml", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }

    ensure_target_installed();

    let target_dir = workspace.join("target").join("policies");
    build_policies(&workspace, &target_dir);

    for dir in POLICIES {
        let artifact = format!("{}.wasm", package(dir).replace('-', "_"));
        let built = target_dir.join(TARGET).join("release").join(artifact);
        if !built.is_file() {
            panic!("cargo reported success but {} is missing", built.display());
        }
        let var = format!("TEST_POLICY_{}", dir.to_uppercase().replace('-', "_"));
        println!("cargo:rustc-env={var}={}", built.display());
    }
}

fn package(dir: &str) -> String {
    format!("paastis-test-policy-{dir}")
}

fn env_var(name: &str) -> OsString {
    env::var_os(name).unwrap_or_else(|| panic!("cargo did not set {name} for the build script"))
}

fn rustc() -> OsString {
    env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
}

/// A fresh machine must not need a manual step (see host/build.rs).
fn ensure_target_installed() {
    if target_installed() {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup to build the test policies");
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

/// All of them in one nested cargo: one lock, one resolution, shared deps.
fn build_policies(workspace: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace).args(["build", "--locked", "--release", "--target", TARGET]);
    for dir in POLICIES {
        cmd.arg("--package").arg(package(dir));
    }
    cmd.arg("--target-dir").arg(target_dir);

    // What the outer cargo set for itself or for this script would leak into
    // the nested build (see host/build.rs). The jobserver is kept on purpose.
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

    // The same profile as the built-in policy's, so the SDK and wit-bindgen
    // built for it are reused, and the gateway compiles small modules fast.
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s");

    let status = cmd.status().unwrap_or_else(|e| panic!("running cargo for the test policies: {e}"));
    if !status.success() {
        panic!("building the test policies for {TARGET} failed ({status}); see the cargo output above");
    }
}
