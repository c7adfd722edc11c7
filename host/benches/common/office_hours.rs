//! Builds `policies/office-hours` to a component for the benches, with the
//! same size-tuned profile as the embedded policy (see host/build.rs).

use std::path::PathBuf;

pub fn build() -> PathBuf {
    let workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let target_dir = workspace.join("target/policies");
    let status = std::process::Command::new(env!("CARGO"))
        .current_dir(&workspace)
        .args(["build", "--quiet", "--locked", "--release", "--target", "wasm32-wasip2"])
        .args(["-p", "paastis-policy-office-hours", "--target-dir"])
        .arg(&target_dir)
        .args(["--config", "profile.release.debug=false", "--config", "profile.release.lto=true"])
        .args(["--config", "profile.release.opt-level=\"s\"", "--config", "profile.release.codegen-units=1"])
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status();
    match status {
        Ok(s) if s.success() => target_dir.join("wasm32-wasip2/release/paastis_policy_office_hours.wasm"),
        other => panic!("building office-hours failed: {other:?}"),
    }
}
