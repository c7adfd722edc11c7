//! Builds the test policies in `tests/policies` to WebAssembly components and
//! hands their paths to the tests as `TEST_POLICY_<NAME>` (read with `env!`),
//! such as `TEST_POLICY_SPIN` for `tests/policies/spin`.

#[path = "../host/build_support/wasm_policies.rs"]
mod wasm_policies;

/// Directory names under `tests/policies`; each crate is named
/// `paastis-test-policy-<dir>`.
const POLICIES: &[&str] = &[
    "teapot",
    "spin",
    "memory-bomb",
    "panicky",
    "armed",
    "wrong-world",
    "before-answers",
    "before-requesting",
    "before-requesting-text",
    "answers",
];
/// Example policies of the workspace (`policies/<dir>`) the tests also run,
/// handed over the same way; each crate is named `paastis-policy-<dir>`.
const EXAMPLES: &[&str] = &["office-hours", "nights-weekends"];

fn main() {
    let workspace = wasm_policies::workspace();
    println!("cargo:rerun-if-changed=build.rs");
    for input in [
        "tests/policies",
        "policies/office-hours",
        "policies/nights-weekends",
        "wit",
        "sdk/src",
        "sdk/Cargo.toml",
        "host/build_support",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }

    wasm_policies::ensure_target_installed("the test policies");
    let target_dir = wasm_policies::target_dir(&workspace);
    let mut packages: Vec<String> = POLICIES.iter().map(|dir| format!("paastis-test-policy-{dir}")).collect();
    packages.extend(EXAMPLES.iter().map(|dir| format!("paastis-policy-{dir}")));
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    wasm_policies::build(&workspace, &target_dir, &packages, "the test policies");

    for (dir, package) in POLICIES.iter().chain(EXAMPLES).zip(&packages) {
        let built = wasm_policies::artifact(&target_dir, package);
        if !built.is_file() {
            panic!("cargo reported success but {} is missing", built.display());
        }
        let var = format!("TEST_POLICY_{}", dir.to_uppercase().replace('-', "_"));
        println!("cargo:rustc-env={var}={}", built.display());
    }
}
