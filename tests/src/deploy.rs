//! The ways to run Paastis outside a developer's shell: a PaaS (`$PORT`,
//! `$PAASTIS_CONFIG`, `scalingo.json`, `Procfile`) and systemd.

use crate::support::{Logs, TestClient, run_paastis_with_env, spawn_paastis_with_env, within};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// As on Scalingo: no config file, the TOML in `$PAASTIS_CONFIG`, no
/// `server.listen`, and the port in `$PORT`.
pub async fn serve_reads_its_config_from_the_environment_and_listens_on_port() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let config = format!(
        "[server]\ndomain = \"localhost\"\n[store]\npath = {:?}\n[admin]\nenabled = false\n",
        dir.path().join("store").display().to_string()
    );
    let env = [("PAASTIS_CONFIG".to_owned(), config), ("PORT".to_owned(), port.to_string())];
    let (mut child, logs): (_, Logs) = spawn_paastis_with_env(&["serve"], &env);
    let listening = logs.wait_for("listening", "", Duration::from_secs(50)).await;
    assert_eq!(listening["addr"], format!("0.0.0.0:{port}"), "{listening}");
    let client = TestClient::new(SocketAddr::from(([127, 0, 0, 1], port)));
    let response = client.get("nothing.localhost", "/").await;
    assert_eq!(response.status, 404, "{}", response.text());
    child.start_kill().expect("kill");
    within(Duration::from_secs(10), "gateway exit", child.wait()).await.expect("wait");

    // Neither a file nor the variable: a clear usage error.
    let output = run_paastis_with_env(&["serve"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PAASTIS_CONFIG") && stderr.contains("--config"), "{stderr}");
}

/// The one-click manifest asks for Redis and generated secrets, and the
/// config it carries passes `paastis check` as the platform would run it.
pub async fn the_scalingo_manifest_deploys_a_config_that_checks() {
    let text = std::fs::read_to_string(repo_file("scalingo.json")).expect("scalingo.json");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("scalingo.json is JSON");
    let addons = manifest["addons"].as_array().expect("addons");
    assert!(addons.iter().any(|a| a["plan"].as_str().is_some_and(|p| p.starts_with("redis:"))), "{manifest}");
    assert_eq!(manifest["env"]["PAASTIS_ADMIN_TOKEN"]["generator"], "secret");
    assert_eq!(manifest["env"]["SCALINGO_API_TOKEN"]["required"], true);
    assert!(manifest["formation"]["web"]["amount"].as_u64() >= Some(2), "two replicas at least");
    let config = manifest["env"]["PAASTIS_CONFIG"]["value"].as_str().expect("PAASTIS_CONFIG").to_owned();
    assert!(config.contains("SCALINGO_REDIS_URL"), "{config}");
    assert!(config.contains("admin_host ="), "the admin API on the one port: {config}");
    let mut env = vec![
        ("PAASTIS_CONFIG".to_owned(), config),
        ("PORT".to_owned(), "31337".to_owned()),
        ("SCALINGO_API_TOKEN".to_owned(), "tk-us-check".to_owned()),
    ];
    // The admin host needs the token that the manifest generates.
    let output = run_paastis_with_env(&["check"], &env).await;
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(String::from_utf8_lossy(&output.stderr).contains("server.admin_host"));
    env.push(("PAASTIS_ADMIN_TOKEN".to_owned(), "generated-secret".to_owned()));
    let output = run_paastis_with_env(&["check"], &env).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("$PAASTIS_CONFIG: ok"));

    let procfile = std::fs::read_to_string(repo_file("Procfile")).expect("Procfile");
    let web = procfile.lines().find_map(|l| l.strip_prefix("web:")).expect("a web process");
    assert!(web.contains("paastis") && web.contains("serve") && !web.contains("--config"), "{procfile}");
}

/// `deploy/systemd/paastis.service` passes `systemd-analyze verify`
/// (unknown keys and bad values are reported there), with its `ExecStart`
/// pointed at this build.
pub async fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(repo_file("deploy/systemd/paastis.service")).expect("the unit");
    assert!(unit.contains("DynamicUser=yes") && unit.contains("ProtectSystem=strict"), "hardened");
    assert!(unit.contains("StateDirectory=paastis"), "{unit}");
    let exe = std::env::current_exe().expect("test executable");
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("paastis.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/paastis", &exe.display().to_string())).expect("write");
    let verify = tokio::process::Command::new("systemd-analyze").arg("verify").arg(&copy).output();
    let output = match within(Duration::from_secs(30), "systemd-analyze verify", verify).await {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("systemd-analyze is missing: run `scripts/test-deps` (or apt-get install -y systemd)")
        }
        Err(e) => panic!("cannot run systemd-analyze: {e}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let about_unit: Vec<&str> = stderr.lines().filter(|l| l.contains("paastis.service")).collect();
    assert!(about_unit.is_empty(), "systemd-analyze complains: {about_unit:?}");
}

fn yaml(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// `deploy/kubernetes/`: the ConfigMap's `paastis.toml` is a config the
/// gateway accepts (Redis store, a Kubernetes backend), and the Deployment
/// runs two replicas reading that file with the Redis URL from a Secret.
pub async fn the_kubernetes_manifests_carry_a_config_the_gateway_accepts() {
    let config_map = yaml("deploy/kubernetes/configmap.yaml");
    let text = config_map["data"]["paastis.toml"].as_str().expect("data.paastis.toml");
    let config = paastis::Config::parse(text, "deploy/kubernetes/configmap.yaml")
        .unwrap_or_else(|e| panic!("the ConfigMap's config is refused: {e}"));
    let store = format!("{:?}", config.store.backend.get_ref());
    assert!(store.eq_ignore_ascii_case("redis"), "replicas share Redis, not {store}");
    assert_eq!(config.store.url_env.get_ref(), "REDIS_URL", "the variable the Deployment sets");
    assert!(text.contains("kind = \"kubernetes\""), "{text}");

    let deployment = yaml("deploy/kubernetes/deployment.yaml");
    assert!(deployment["spec"]["replicas"].as_u64() >= Some(2), "two replicas at least");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let mount = container["volumeMounts"][0]["mountPath"].as_str().expect("a mounted config");
    let args: Vec<&str> = container["args"].as_array().expect("args").iter().filter_map(|a| a.as_str()).collect();
    assert_eq!(args, ["serve", "--config", &format!("{mount}/paastis.toml")]);
    assert_eq!(pod["volumes"][0]["configMap"]["name"], config_map["metadata"]["name"]);
    let redis = container["env"].as_array().expect("env").iter().find(|e| e["name"] == "REDIS_URL").expect("REDIS_URL");
    assert!(redis["valueFrom"]["secretKeyRef"].is_object(), "the Redis URL comes from a Secret: {redis}");
}
