//! The policy's decisions as the gateway carries them out.

use crate::support::{AppBuilder, GatewayBuilder, policies};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

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
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 0);

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
            if gateway.logs_caught_up().await.count("app put to sleep", "hello") > 0 {
                return served;
            }
        }
    };
    let served = crate::support::within(Duration::from_secs(20), "the app sleeps despite monitoring", monitor).await;
    assert!(served > 0, "passive requests are served while the app is awake");
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 1, "no passive request woke the app");
    assert_eq!(client.get("hello.localhost", "/healthz").await.status, 503);
}

/// The uptime-monitor case of the README: a monitor made passive gets the
/// policy's answer (`passive_asleep_status = 200`) while the app sleeps,
/// without waking it, and the app itself while it is awake, without keeping
/// it awake.
pub async fn a_monitor_gets_the_policys_answer_while_the_app_sleeps() {
    let gateway = GatewayBuilder::new()
        .idle_timeout("1s")
        .param("passive_user_agents", r#"["UptimeRobot"]"#)
        .param("passive_asleep_status", "200")
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let client = gateway.client();
    let monitor = || {
        let request = client
            .builder("hello.localhost", "/")
            .header("user-agent", "Mozilla/5.0+(http://www.uptimerobot.com/; UptimeRobot/2.0)")
            .body(crate::support::client::empty())
            .unwrap();
        client.send(request)
    };
    let assert_answered = |response: &crate::support::client::TestResponse, when: &str| {
        assert_eq!(response.status, 200, "{when}: {}", response.text());
        assert_eq!(response.text(), r#"{"status":"asleep","app":"hello"}"#, "{when}");
        assert_eq!(response.headers["x-paastis-answered"], "1", "{when}");
        assert_eq!(response.headers["content-type"], "application/json", "{when}");
        assert_eq!(response.headers["cache-control"], "no-store", "{when}");
    };

    assert_answered(&monitor().await, "asleep at start");
    let logged = gateway.logs.wait_for("request", "hello", WAIT).await;
    assert_eq!(logged["answered"], true, "the access log marks the answer: {logged}");

    let person = client.get("hello.localhost", "/").await;
    assert_eq!(person.status, 200, "{}", person.text());
    let awake = monitor().await;
    assert!(awake.text().starts_with("Hello from hello!"), "awake, the app answers the monitor: {}", awake.text());
    assert!(!awake.headers.contains_key("x-paastis-answered"));

    gateway.logs.wait_for("app put to sleep", "hello", WAIT).await;
    assert_answered(&monitor().await, "asleep again");
    // The answer above came after the sleep: had a monitor's request woken
    // the app, a second wake would be logged by now.
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 1, "only the person woke the app");
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 1);
}

/// `Decision::Answer` with no condition: the policy answers for the app,
/// asleep or awake, and the app never sees those requests nor is woken by
/// them; what the policy forwards reaches the app as usual.
pub async fn a_policy_answers_requests_itself_asleep_or_awake() {
    let gateway = GatewayBuilder::new()
        .policy_file(policies::path(policies::ANSWERS))
        .app(AppBuilder::new("hello"))
        .spawn()
        .await;
    let client = gateway.client();
    let assert_answered = |response: &crate::support::client::TestResponse, when: &str| {
        assert_eq!(response.status, 200, "{when}: {}", response.text());
        assert_eq!(response.text(), r#"{"answered_for":"hello"}"#, "{when}");
        assert_eq!(response.headers["x-policy"], "answers", "{when}");
        assert_eq!(response.headers["set-cookie"], "seen=1", "{when}");
        assert_eq!(response.headers["x-paastis-answered"], "1", "{when}");
    };
    assert_answered(&client.get("hello.localhost", "/").await, "asleep");
    let logged = gateway.logs.wait_for("request", "hello", WAIT).await;
    assert_eq!(logged["answered"], true, "{logged}");
    assert_eq!(logged["status"], 200, "{logged}");
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 0, "an answer wakes nothing");

    let through = client.get("hello.localhost", "/through").await;
    // The demo app's own 404: the request reached the app, woken for it.
    assert_eq!(through.status, 404, "forwarded after a wake: {}", through.text());
    assert_eq!(through.text(), "not found\n");
    assert!(!through.headers.contains_key("x-paastis-answered"));
    assert_answered(&client.get("hello.localhost", "/").await, "awake");
    assert_eq!(gateway.logs_caught_up().await.count("app process started", "hello"), 1);
}

/// What `paastis policy check` says of a policy file it accepts.
async fn checked(policy: &str) -> String {
    let output = crate::support::run_paastis(&["policy", "check", policy]).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// A gateway behind the `old` policy file, with two apps: `hello`, whose
/// `greeting` param is "hi there", and `other`, with no params.
async fn greeted_apps_behind(old: &std::path::Path) -> crate::support::TestGateway {
    GatewayBuilder::new()
        .policy_file(old)
        .app(AppBuilder::new("hello").param("greeting", "\"hi there\""))
        .app(AppBuilder::new("other"))
        .spawn()
        .await
}

/// A policy built before `paastis:policy/answering` existed (only `handler`,
/// from the contract as first released) still loads and decides: the host
/// calls its `handler.on-request`. `policy check` shows which exports a file
/// has.
pub async fn a_policy_built_before_answers_keeps_loading() {
    let old = policies::path(policies::BEFORE_ANSWERS);
    let stdout = checked(policies::BEFORE_ANSWERS).await;
    assert!(stdout.contains("paastis:policy/handler@0.1.0#on-request"), "{stdout}");
    assert!(!stdout.contains("answering"), "{stdout}");
    let new = checked(policies::TEAPOT).await;
    assert!(new.contains("paastis:policy/answering@0.1.0#on-request"), "the SDK exports answering: {new}");

    let gateway = GatewayBuilder::new().policy_file(old).app(AppBuilder::new("hello")).spawn().await;
    let client = gateway.client();
    let refused = client.get("hello.localhost", "/").await;
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert_eq!(refused.text().trim_end(), "built before answers");
    let passive = client
        .send(
            client
                .builder("hello.localhost", "/")
                .header("user-agent", "a monitor")
                .body(crate::support::client::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(passive.status, 503, "passive, and nothing to answer with: {}", passive.text());
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 0);
}

/// A policy built with the SDK of stop 19 exports `answering` and
/// `ticking` but not `requesting`: it keeps loading, and its
/// `answering.on-request` sees the app's params and the request's headers
/// whole (the new export sends params by reference and headers as one
/// string; the old one must not notice).
pub async fn a_policy_built_before_requesting_keeps_answering() {
    let old = policies::path(policies::BEFORE_REQUESTING);
    let stdout = checked(policies::BEFORE_REQUESTING).await;
    assert!(stdout.contains("paastis:policy/answering@0.1.0#on-request"), "{stdout}");
    assert!(!stdout.contains("policy/requesting@"), "{stdout}");
    let new = checked(policies::TEAPOT).await;
    assert!(new.contains("paastis:policy/requesting@0.1.0#on-request"), "the SDK exports requesting: {new}");

    let gateway = greeted_apps_behind(old).await;
    let client = gateway.client();
    for (app, greeting, user_agent) in [("hello", "hi there", "probe/1.0"), ("other", "(none)", "probe/2.0")] {
        let request = client
            .builder(&format!("{app}.localhost"), "/")
            .header("user-agent", user_agent)
            .body(crate::support::client::empty());
        let answered = client.send(request.unwrap()).await;
        assert_eq!(answered.status, 200, "{}", answered.text());
        let expected = format!("built before requesting: app={app} greeting={greeting} user-agent={user_agent}");
        assert_eq!(answered.text(), expected);
    }
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 0, "answered by the policy, not woken");
}

/// A policy built with the SDK of stop 22 exports `requesting` but not
/// `requesting-text`: it keeps loading, and the host calls its
/// `requesting.on-request` (not `answering`'s), with its params by
/// reference (sent whole once per instance, then by number) and every field
/// of the request whole.
pub async fn a_policy_built_before_requesting_text_keeps_answering_through_requesting() {
    let old = policies::path(policies::BEFORE_REQUESTING_TEXT);
    let stdout = checked(policies::BEFORE_REQUESTING_TEXT).await;
    assert!(stdout.contains("paastis:policy/requesting@0.1.0#on-request"), "{stdout}");
    assert!(!stdout.contains("policy/requesting-text@"), "{stdout}");
    let new = checked(policies::TEAPOT).await;
    assert!(new.contains("paastis:policy/requesting-text@0.1.0#on-request"), "the SDK exports it: {new}");

    let gateway = greeted_apps_behind(old).await;
    let client = gateway.client();
    let cases = [
        ("hello", "hi there", "/a/b?x=1&y", "probe/1.0"),
        ("other", "(none)", "/", "probe/2.0"),
        ("hello", "hi there", "/again", "probe/3.0"),
        ("other", "(none)", "/?", "probe/4.0"),
    ];
    for (app, greeting, target, user_agent) in cases {
        let request = client
            .builder(&format!("{app}.localhost"), target)
            .header("user-agent", user_agent)
            .body(crate::support::client::empty());
        let answered = client.send(request.unwrap()).await;
        assert_eq!(answered.status, 200, "{}", answered.text());
        let (path, query) = target.split_once('?').map_or((target, "(none)"), |(p, q)| (p, q));
        let seen = format!("method=GET path={path} query={query} client=127.0.0.1 user-agent={user_agent}");
        let expected = format!("built before requesting-text, via requesting: app={app} greeting={greeting} {seen}");
        assert_eq!(answered.text(), expected);
    }
    assert_eq!(gateway.logs_caught_up().await.count("waking app", "hello"), 0, "answered by the policy, not woken");
}

/// `paastis policy check` loads a file as the gateway would and says what it
/// exports, or refuses it with a reason and a non-zero exit.
pub async fn policy_check_describes_good_files_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good = paastis::testing::INACTIVITY_WASM;
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
    // Created inside this repository (its target dir), the crate depends on
    // the checkout's SDK by a relative path, so it builds offline; elsewhere
    // it names the version and git (the template's unit tests).
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let scratch = workspace.join("target/policy-new");
    std::fs::create_dir_all(&scratch).unwrap();
    let dir = tempfile::tempdir_in(&scratch).unwrap();
    let parent = dir.path().display().to_string();
    let created = crate::support::run_paastis(&["policy", "new", "night-owl", "--dir", &parent]).await;
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let manifest = std::fs::read_to_string(dir.path().join("night-owl/Cargo.toml")).unwrap();
    let relative =
        format!(r#"paastis-sdk = {{ version = "{}", path = "../../../../sdk" }}"#, env!("CARGO_PKG_VERSION"));
    assert!(manifest.contains(&relative), "{manifest}");
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

/// The SDK can be published and built from its package alone: the crate
/// carries the contract its bindings are generated from, its license and
/// README (`cargo publish --dry-run -p paastis-sdk` builds it from there;
/// that needs the crates.io index, so the test checks the file list).
pub async fn the_sdk_packages_with_its_contract_license_and_readme() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let list = tokio::process::Command::new(env!("CARGO"))
        .args(["package", "--list", "--allow-dirty", "--offline", "-p", "paastis-sdk"])
        .current_dir(&workspace)
        .kill_on_drop(true)
        .output();
    let list = crate::support::within(Duration::from_secs(120), "cargo package --list", list).await.expect("run cargo");
    let files = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    for file in ["wit/policy.wit", "LICENSE", "README.md", "src/lib.rs", "src/tz/zone.rs"] {
        assert!(files.lines().any(|l| l == file), "{file} is not in the package: {files}");
    }
    let contract = std::fs::read_to_string(workspace.join("sdk/wit/policy.wit")).expect("sdk/wit/policy.wit");
    assert_eq!(contract, std::fs::read_to_string(workspace.join("wit/policy.wit")).unwrap(), "one contract");
}
