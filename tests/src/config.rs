//! Bad config is refused with the file, the key and the line.

use crate::support::run_paastis;

async fn serve_error(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let output = run_paastis(&["serve", "--config", &path.display().to_string()]).await;
    assert_eq!(output.status.code(), Some(2), "a config error exits 2");
    (String::from_utf8_lossy(&output.stderr).into_owned(), path.display().to_string())
}

const GOOD: &str = r#"[server]
listen = "127.0.0.1:0"
domain = "localhost"

[policy]
default = "inactivity"
tick = "1s"
[policy.params]
idle_timeout = "15m"

[[apps]]
name = "hello"
backend = "process"
command = ["python3", "-m", "http.server", "{port}"]
port = 9001
ready_path = "/"
wake_timeout = "60s"
"#;

pub async fn a_config_error_names_the_file_the_key_and_the_line() {
    let (stderr, file) = serve_error(&GOOD.replace("\"60s\"", "\"60 parsecs\"")).await;
    assert!(stderr.contains(&file), "{stderr}");
    assert!(stderr.contains("line 17"), "{stderr}");
    assert!(stderr.contains("apps[0].wake_timeout"), "{stderr}");

    let (stderr, _) = serve_error(&GOOD.replace("port = 9001", "port = 9001\nprot = 1")).await;
    assert!(stderr.contains("line 16") && stderr.contains("apps[0].prot"), "{stderr}");
    assert!(stderr.contains("unknown field"), "{stderr}");

    let (stderr, _) = serve_error(&GOOD.replace("default = \"inactivity\"", "default = \"nope\"")).await;
    assert!(stderr.contains("line 6") && stderr.contains("policy.default"), "{stderr}");
}

pub async fn the_issue_example_config_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paastis.toml");
    std::fs::write(&path, GOOD).unwrap();
    let output = run_paastis(&["check", "--config", &path.display().to_string()]).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// The policy, not the gateway, knows its params: it is asked at startup, and
/// its refusal points at the param's line.
pub async fn a_param_the_policy_refuses_is_a_config_error_with_its_line() {
    let text = GOOD.replace("wake_timeout = \"60s\"", "wake_timeout = \"60s\"\n[apps.params]\nidle_timeout = \"soon\"");
    let (stderr, file) = serve_error(&text).await;
    assert!(stderr.contains(&file), "{stderr}");
    assert!(stderr.contains("line 19") && stderr.contains("apps[0].params.idle_timeout"), "{stderr}");
    assert!(stderr.contains("soon"), "{stderr}");
}

/// A PaaS backend whose token variable is not set is refused by `paastis
/// check` as by `serve`, naming the variable and never a value.
pub async fn a_backend_without_its_token_is_refused_by_check_and_serve() {
    let text = format!(
        "{GOOD}\n[[backends]]\nkind = \"scalingo\"\nname = \"scalingo\"\ntoken_env = \"PAASTIS_TEST_TOKEN_NEVER_SET\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paastis.toml");
    std::fs::write(&path, text).unwrap();
    for command in ["check", "serve"] {
        let output = run_paastis(&[command, "--config", &path.display().to_string()]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{command} accepted a backend without its token");
        assert!(stderr.contains("PAASTIS_TEST_TOKEN_NEVER_SET is not set"), "{command}: {stderr}");
        assert!(stderr.contains("backend scalingo"), "{command}: {stderr}");
    }
}

/// `paastis check` refuses what `serve` refuses: the proxy and the admin
/// API on one port, a `policy.dir` that is not there, an app on port 0.
pub async fn check_refuses_what_serve_refuses() {
    let port = crate::support::free_port();
    let shared = GOOD.replace("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""))
        + &format!("\n[admin]\nlisten = \"127.0.0.1:{port}\"\n");
    let no_dir = GOOD.replace("tick = \"1s\"", "tick = \"1s\"\ndir = \"/nonexistent/paastis-policies\"");
    let port_zero = GOOD.replace("port = 9001", "port = 0");
    let cases = [
        (shared, vec!["admin.listen", "each listener needs its own port"]),
        (no_dir, vec!["policy.dir /nonexistent/paastis-policies is not a directory"]),
        (port_zero, vec!["line 15", "apps[0].port", "omit it"]),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case{i}.toml"));
        std::fs::write(&path, text).unwrap();
        for command in ["check", "serve"] {
            let output = run_paastis(&[command, "--config", &path.display().to_string()]).await;
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{command} accepted case {i}: {stderr}");
            for fragment in expected {
                assert!(stderr.contains(fragment), "{command}, case {i}: {stderr}");
            }
        }
    }
}

/// An error found after parsing (a value with no position of its own)
/// points at the key's own line, not at line 1.
pub async fn a_zero_tick_points_at_its_line() {
    let (stderr, _) = serve_error(&GOOD.replace("tick = \"1s\"", "tick = \"0s\"")).await;
    assert!(stderr.contains("line 7") && stderr.contains("policy.tick"), "{stderr}");
}

/// `check` (and `serve`) with a policy dir holding office-hours as
/// `nights-weekends.wasm`, and `app_policy` for `apps[0]`.
async fn check_with_policy(app_policy: &str, params: &str) -> (std::process::Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::copy(crate::support::policies::OFFICE_HOURS, policies.join("nights-weekends.wasm")).unwrap();
    let text = GOOD.replace("tick = \"1s\"", "tick = \"1s\"\ndir = \"policies\"").replace(
        "wake_timeout = \"60s\"",
        &format!("wake_timeout = \"60s\"\npolicy = \"{app_policy}\"\n[apps.params]\n{params}"),
    );
    let path = dir.path().join("paastis.toml");
    std::fs::write(&path, text).unwrap();
    let output = run_paastis(&["check", "--config", &path.display().to_string()]).await;
    if !output.status.success() {
        let serve = run_paastis(&["serve", "--config", &path.display().to_string()]).await;
        assert_eq!(serve.status.code(), output.status.code(), "serve refuses what check refuses");
        // The error line, not whatever log line the writer flushed last.
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let said = stderr.lines().rfind(|line| line.starts_with("paastis: ")).unwrap_or_default().to_owned();
        assert!(!said.is_empty(), "check says why it refuses: {stderr}");
        assert!(String::from_utf8_lossy(&serve.stderr).contains(&said), "serve says it too: {said}");
    }
    (output, path.display().to_string())
}

/// A per-app policy that cannot be found, or that refuses its params, is a
/// config error with the file, the key and the line (exit 2), as the same
/// mistake on the default policy is: never a silent fallback to `inactivity`.
pub async fn a_per_app_policy_missing_or_refusing_its_params_is_a_config_error() {
    let (output, file) = check_with_policy("nights-weekend", "timezone = \"Europe/Paris\"").await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&file) && stderr.contains("line 19") && stderr.contains("apps[0].policy"), "{stderr}");
    assert!(stderr.contains("has no nights-weekend.wasm (it holds nights-weekends.wasm)"), "{stderr}");

    let (output, _) = check_with_policy("nights-weekends", "timezone = \"Asia/Tokio\"").await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 21") && stderr.contains("apps[0].params.timezone"), "{stderr}");
    assert!(stderr.contains("unknown time zone") && stderr.contains("Asia/Tokio"), "{stderr}");

    let (output, _) = check_with_policy("nights-weekends", "timezone = \"Asia/Tokyo\"").await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
