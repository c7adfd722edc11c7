//! What the gate remembers and logs of which version serves which app.

use super::builtin::{BUILTIN_POLICIES, wasm};
use super::*;
use std::io;

/// The log lines written while it is the thread's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

async fn gate(apps: usize) -> PolicyGate {
    let mut text = "[server]\nlisten = \"127.0.0.1:0\"\ndomain = \"localhost\"\n".to_owned();
    for i in 0..apps {
        text += &format!("[[apps]]\nname = \"app{i}\"\nbackend = \"process\"\ncommand = [\"true\"]\n");
    }
    let config = Arc::new(Config::parse(&text, "t.toml").unwrap());
    let runtime = PolicyRuntime::new(SandboxLimits::default()).unwrap();
    let mut builtins = Vec::new();
    for name in BUILTIN_POLICIES {
        builtins.push(runtime.load(name, wasm(name).unwrap()).await.unwrap());
    }
    PolicyGate::new(config, builtins, Telemetry::default()).unwrap()
}

fn logged(gate: &PolicyGate) -> String {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt().json().with_writer(logs.clone()).finish();
    tracing::subscriber::with_default(subscriber, || gate.log_serving());
    String::from_utf8(logs.0.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn many_apps_served_by_one_version_are_one_line_and_share_its_name() {
    for (apps, per_app, summaries) in [(SERVED_LINES, SERVED_LINES, 0), (SERVED_LINES + 1, 0, 1)] {
        let gate = gate(apps).await;
        let lines = logged(&gate);
        assert_eq!(lines.matches("\"app served by policy\"").count(), per_app, "{lines}");
        assert_eq!(lines.matches("\"apps served by policy\"").count(), summaries, "{lines}");
        if summaries == 1 {
            assert!(lines.contains(&format!("\"apps\":{apps}")), "{lines}");
        }
        assert_eq!(logged(&gate), "", "nothing changed, nothing logged");

        let serving = gate.serving.lock().unwrap();
        let first = &serving["app0"].version;
        assert!(first.starts_with("inactivity@"), "{first}");
        assert!(serving.values().all(|s| Arc::ptr_eq(&s.version, first)), "one copy of the version for all apps");
    }
}
