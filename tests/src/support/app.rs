//! An `[[apps]]` entry, by default the built-in demo app.

pub struct AppBuilder {
    pub name: String,
    boot_delay: String,
    stop_delay: String,
    wake_timeout: String,
    stop_grace: String,
    ready_path: String,
    command: Option<Vec<String>>,
    policy: Option<String>,
    params: Vec<(String, String)>,
    /// More keys of the app's entry (`hourly_cost`, `containers`), as TOML literals.
    keys: Vec<(String, String)>,
    waiting_page: Option<bool>,
}

impl AppBuilder {
    pub fn new(name: &str) -> AppBuilder {
        AppBuilder {
            name: name.into(),
            boot_delay: "0s".into(),
            stop_delay: "0s".into(),
            wake_timeout: "20s".into(),
            stop_grace: "5s".into(),
            ready_path: "/".into(),
            command: None,
            policy: None,
            params: Vec::new(),
            keys: Vec::new(),
            waiting_page: None,
        }
    }

    pub fn boot_delay(mut self, d: &str) -> Self {
        self.boot_delay = d.into();
        self
    }
    pub fn stop_delay(mut self, d: &str) -> Self {
        self.stop_delay = d.into();
        self
    }
    pub fn wake_timeout(mut self, d: &str) -> Self {
        self.wake_timeout = d.into();
        self
    }
    pub fn stop_grace(mut self, d: &str) -> Self {
        self.stop_grace = d.into();
        self
    }
    /// This app's own policy, by name.
    pub fn policy(mut self, name: &str) -> Self {
        self.policy = Some(name.into());
        self
    }
    pub fn command(mut self, argv: &[&str]) -> Self {
        self.command = Some(argv.iter().map(|s| s.to_string()).collect());
        self
    }
    /// Whether browsers get the waiting page while this app wakes.
    pub fn waiting_page(mut self, on: bool) -> Self {
        self.waiting_page = Some(on);
        self
    }
    /// A per-app policy param; `value` is a TOML literal.
    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// A key of the app's entry; `value` is a TOML literal.
    pub fn key(mut self, key: &str, value: &str) -> Self {
        self.keys.push((key.into(), value.into()));
        self
    }

    pub(super) fn toml(&self) -> String {
        let exe = std::env::current_exe().expect("test executable path");
        let command = self.command.clone().unwrap_or_else(|| {
            vec![
                exe.display().to_string(),
                "demo-app".into(),
                "--name".into(),
                self.name.clone(),
                "--port".into(),
                "{port}".into(),
                "--boot-delay".into(),
                self.boot_delay.clone(),
                "--stop-delay".into(),
                self.stop_delay.clone(),
            ]
        });
        let command: Vec<String> = command.iter().map(|a| format!("{a:?}")).collect();
        let mut toml = format!(
            "[[apps]]\nname = {:?}\nbackend = \"process\"\ncommand = [{}]\nready_path = {:?}\nwake_timeout = {:?}\nstop_grace = {:?}\n",
            self.name,
            command.join(", "),
            self.ready_path,
            self.wake_timeout,
            self.stop_grace
        );
        for (k, v) in &self.keys {
            toml.push_str(&format!("{k} = {v}\n"));
        }
        if let Some(policy) = &self.policy {
            toml.push_str(&format!("policy = {policy:?}\n"));
        }
        if let Some(on) = self.waiting_page {
            toml.push_str(&format!("waiting_page = {on}\n"));
        }
        if !self.params.is_empty() {
            toml.push_str("[apps.params]\n");
            for (k, v) in &self.params {
                toml.push_str(&format!("{k} = {v}\n"));
            }
        }
        toml
    }
}
