//! A Kubernetes API server for the tests: kmock's emulator (PyPI `kmock`,
//! extended in `tests/fakes/kube_emulator.py`) run as a child process from
//! the venv `.ci/run` prepares, a kubeconfig pointing at it, and the client
//! calls a test needs to set the scene and to play the controller (which
//! no emulator runs: a test sets `readyReplicas` itself).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

pub const TOKEN: &str = "k8s-5ecret-service-account-token";
const VENV_COMMAND: &str =
    "python3 -m venv target/test-venv && target/test-venv/bin/pip install -r tests/fakes/requirements.txt";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub struct KubeEmulator {
    _child: tokio::process::Child,
    pub base: String,
    dir: tempfile::TempDir,
    http: Client<HttpConnector, Full<Bytes>>,
    token: std::sync::Mutex<String>,
}

impl KubeEmulator {
    /// Starts the emulator; fails with the command that installs it when
    /// the venv is missing.
    pub async fn start() -> KubeEmulator {
        let python = workspace().join("target/test-venv/bin/python");
        assert!(
            python.exists(),
            "the kmock venv is missing ({}); create it with:\n    {VENV_COMMAND}",
            python.display()
        );
        let mut child = tokio::process::Command::new(&python)
            .arg(workspace().join("tests/fakes/kube_emulator.py"))
            .arg(TOKEN)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the Kubernetes emulator");
        let stdout = child.stdout.take().expect("emulator stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let port = crate::support::within(Duration::from_secs(20), "the emulator prints its port", async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("PORT ") {
                    return port.trim().to_owned();
                }
            }
            panic!("the emulator exited before listening; is kmock installed? {VENV_COMMAND}")
        })
        .await;
        let dir = tempfile::tempdir().expect("temp dir");
        let emulator = KubeEmulator {
            _child: child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            http: Client::builder(TokioExecutor::new()).build_http(),
            token: std::sync::Mutex::new(TOKEN.to_owned()),
        };
        std::fs::write(emulator.kubeconfig(), emulator.kubeconfig_text()).expect("write the kubeconfig");
        emulator
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn kubeconfig_text(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kmock\n  cluster:\n    server: {}\n\
             contexts:\n- name: test\n  context:\n    cluster: kmock\n    user: tester\n    namespace: review\n\
             current-context: test\nusers:\n- name: tester\n  user:\n    token: {TOKEN}\n",
            self.base
        )
    }

    /// A `[[backends]]` entry for this cluster.
    pub fn backend(&self, more: &str) -> String {
        format!(
            "[[backends]]\nkind = \"kubernetes\"\nname = \"k8s\"\nkubeconfig = {:?}\ncontext = \"test\"\n\
             backoff = \"20ms\"\nwake_timeout = \"20s\"\n{more}\n",
            self.kubeconfig().display().to_string()
        )
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.token.lock().unwrap().clone();
        let content_type = if method == "PATCH" { "application/merge-patch+json" } else { "application/json" };
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body.map(|b| b.to_string()).unwrap_or_default())))
            .expect("request");
        let response = self.http.request(request).await.expect("emulator answers");
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.expect("emulator body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Creates a workload of the paastis label, at `replicas`, with these
    /// extra annotations, whose pods are labelled `app: <name>`.
    pub async fn create(&self, kind: &str, namespace: &str, name: &str, replicas: u32, annotations: Value) {
        let body = json!({
            "apiVersion": "apps/v1",
            "kind": if kind == "deployments" { "Deployment" } else { "StatefulSet" },
            "metadata": {
                "name": name, "namespace": namespace,
                "labels": {"paastis.io/enabled": "true"},
                "annotations": annotations,
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": []}},
            },
            "status": {},
        });
        let (status, answer) =
            self.call("POST", &format!("/apis/apps/v1/namespaces/{namespace}/{kind}"), Some(body)).await;
        assert!(status < 300, "create {name}: {status} {answer}");
    }

    pub async fn get(&self, namespace: &str, name: &str) -> Value {
        let (status, answer) = self.call("GET", &deployment(namespace, name), None).await;
        assert_eq!(status, 200, "get {name}: {answer}");
        answer
    }

    pub async fn replicas(&self, namespace: &str, name: &str) -> u64 {
        self.get(namespace, name).await["spec"]["replicas"].as_u64().unwrap_or(1)
    }

    /// A change made by hand (kubectl scale): replicas only.
    pub async fn scale_by_hand(&self, namespace: &str, name: &str, replicas: u32) {
        let (status, answer) =
            self.call("PATCH", &deployment(namespace, name), Some(json!({"spec": {"replicas": replicas}}))).await;
        assert_eq!(status, 200, "{answer}");
    }

    /// The next `times` requests of `method` whose path ends with `path`
    /// answer `status` (`/deployments/shop` is the object, not its `/status`,
    /// which `control` patches on its own schedule).
    pub async fn fail(&self, method: &str, path: &str, status: u16, times: u32) {
        let fault = json!({"method": method, "path": path, "status": status, "times": times});
        self.call("POST", "/_control/fault", Some(fault)).await;
    }

    /// Revokes the kubeconfig's token: the server now wants another one.
    pub async fn revoke_token(&self) {
        self.call("POST", "/_control/token", Some(json!({"token": "another-token"}))).await;
        *self.token.lock().unwrap() = "another-token".to_owned();
    }

    /// Requests served, as `METHOD path status`.
    pub async fn log(&self) -> Vec<String> {
        let (_, answer) = self.call("GET", "/_control/log", None).await;
        answer
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {} {}",
                            e["method"].as_str().unwrap_or(""),
                            e["path"].as_str().unwrap_or(""),
                            e["status"]
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Plays a Deployment controller for this workload until the test ends:
    /// the status follows the spec (all replicas ready at once), and the
    /// returned flag says whether a replica serves.
    pub fn control(self: &Arc<Self>, namespace: &str, name: &str) -> Arc<AtomicBool> {
        let serving = Arc::new(AtomicBool::new(false));
        let (this, flag, namespace, name) =
            (Arc::downgrade(self), serving.clone(), namespace.to_owned(), name.to_owned());
        tokio::spawn(async move {
            while let Some(this) = this.upgrade() {
                // Not created yet, or a scripted fault: look again.
                let (status, current) = this.call("GET", &deployment(&namespace, &name), None).await;
                if status != 200 {
                    drop(this);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                let wanted = current["spec"]["replicas"].as_u64().unwrap_or(1);
                let generation = current["metadata"]["generation"].as_u64().unwrap_or(1);
                let status = &current["status"];
                // Pods serve before the status says they are ready.
                flag.store(wanted > 0, Ordering::SeqCst);
                if status["observedGeneration"].as_u64() != Some(generation)
                    || status["replicas"].as_u64() != Some(wanted)
                {
                    let status = json!({"status": {"replicas": wanted, "readyReplicas": wanted, "observedGeneration": generation}});
                    this.call("PATCH", &format!("{}/status", deployment(&namespace, &name)), Some(status)).await;
                }
                drop(this);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        serving
    }
}

fn deployment(namespace: &str, name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
}
