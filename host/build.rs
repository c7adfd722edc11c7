//! Builds the default policy (`policies/inactivity`) to a WebAssembly
//! component and leaves it at `$OUT_DIR/inactivity.wasm`, where
//! `policy::builtin::INACTIVITY_WASM` embeds it, so the gateway binary carries a
//! working policy without any file next to it.

#[path = "build_support/wasm_policies.rs"]
mod wasm_policies;

use std::path::PathBuf;

const PACKAGE: &str = "paastis-policy-inactivity";

fn main() {
    let workspace = wasm_policies::workspace();
    let out_dir = PathBuf::from(wasm_policies::env_var("OUT_DIR"));
    for input in [
        "wit",
        "sdk/src",
        "sdk/Cargo.toml",
        "policies/inactivity/src",
        "policies/inactivity/Cargo.toml",
        "host/build_support",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }

    wasm_policies::ensure_target_installed("the default policy");
    let target_dir = wasm_policies::target_dir(&workspace);
    wasm_policies::build(&workspace, &target_dir, &[PACKAGE], "the default policy");

    let built = wasm_policies::artifact(&target_dir, PACKAGE);
    let embedded = out_dir.join("inactivity.wasm");
    if let Err(e) = std::fs::copy(&built, &embedded) {
        panic!("copying {} to {}: {e}", built.display(), embedded.display());
    }
}
