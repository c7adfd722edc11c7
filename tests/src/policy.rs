//! The policy's decisions as the gateway carries them out.

use crate::support::{AppBuilder, GatewayBuilder};
use std::time::Duration;

/// Passive requests (health checks, monitors) are served while the app is
/// awake but neither keep it awake nor wake it.
pub async fn forward_without_counting_leaves_activity_untouched() {
    let gateway = GatewayBuilder::new()
        .idle_timeout("1s")
        .param("passive_paths", r#"["/healthz"]"#)
        .param("passive_user_agents", r#"["UptimeRobot"]"#)
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let client = gateway.client();

    let asleep = client.get("hello.localhost", "/healthz").await;
    assert_eq!(asleep.status, 503, "a passive request does not wake: {}", asleep.text());
    assert_eq!(gateway.logs.count("waking app", "hello"), 0);

    assert_eq!(client.get("hello.localhost", "/").await.status, 200);
    // A stream of passive requests, each well inside the idle timeout: had
    // they counted, the app would never sleep.
    let monitor = async {
        let mut served = 0;
        loop {
            let request = client
                .builder("hello.localhost", "/")
                .header("user-agent", "Mozilla/5.0 (compatible; UptimeRobot/2.0)")
                .body(crate::support::client::empty())
                .unwrap();
            if client.send(request).await.status == 200 {
                served += 1;
            }
            let _ = client.get("hello.localhost", "/healthz").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            if gateway.logs.count("app put to sleep", "hello") > 0 {
                return served;
            }
        }
    };
    let served = crate::support::within(Duration::from_secs(20), "the app sleeps despite monitoring", monitor).await;
    assert!(served > 0, "passive requests are served while the app is awake");
    assert_eq!(gateway.logs.count("waking app", "hello"), 1, "no passive request woke the app");
    assert_eq!(client.get("hello.localhost", "/healthz").await.status, 503);
}

/// `paastis policy check` loads a file as the gateway would and says what it
/// exports, or refuses it with a reason and a non-zero exit.
pub async fn policy_check_describes_good_files_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good = paastis::policy::INACTIVITY_WASM;
    let cases: [(&str, &[u8]); 5] = [
        ("good.wasm", good),
        ("garbage.wasm", b"this is not webassembly"),
        ("empty.wasm", b""),
        ("truncated.wasm", &good[..good.len() / 2]),
        // A valid core module, but not a component.
        ("core.wasm", b"\0asm\x01\0\0\0"),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let output = crate::support::run_paastis(&["policy", "check", &path.display().to_string()]).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if name == "good.wasm" {
            assert!(output.status.success(), "{stderr}");
            assert!(stdout.contains("paastis:policy/handler@0.1.0#on-request"), "{stdout}");
            assert!(stdout.contains("paastis:policy/handler@0.1.0#on-tick"), "{stdout}");
            assert!(!stdout.contains("#app"), "types are not listed as exports: {stdout}");
        } else {
            assert_eq!(output.status.code(), Some(2), "{name}: {stdout}{stderr}");
            assert!(stderr.contains(name) && stderr.contains("refused"), "{name}: {stderr}");
        }
    }
}

/// `paastis policy new` gives a crate that builds to a component the gateway
/// accepts, as it is.
pub async fn policy_new_scaffolds_a_crate_that_builds() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().display().to_string();
    let created = crate::support::run_paastis(&["policy", "new", "night-owl", "--dir", &parent]).await;
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    // Shares the target dir of the workspace's own policy builds, so the SDK
    // and wit-bindgen are already compiled for wasm32-wasip2.
    let targets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/policies");
    let build = tokio::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2", "--offline", "--quiet"])
        .current_dir(dir.path().join("night-owl"))
        .env("CARGO_TARGET_DIR", &targets)
        .kill_on_drop(true)
        .output();
    let build = crate::support::within(std::time::Duration::from_secs(240), "the new policy to build", build)
        .await
        .expect("run cargo");
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let wasm = targets.join("wasm32-wasip2/release/night_owl.wasm");
    let check = crate::support::run_paastis(&["policy", "check", &wasm.display().to_string()]).await;
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(stdout.contains("paastis:policy/handler@0.1.0#on-tick"), "{stdout}");
}
