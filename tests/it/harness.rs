//! `TestApp::spawn()`: the real server in-process with a temp data dir and a manual clock, and
//! helpers for the real binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::app::{self, App, Paths};
use supportd::clock::{Clock, ManualClock};
use supportd::config::Config;
use supportd::domain::Email;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub paths: Paths,
    pub admin_password: String,
    pub addr: SocketAddr,
    /// The running server's shared state (for background jobs a test drives by hand).
    pub state: supportd::app::AppState,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_prepared(|_| {}, adjust).await
    }

    /// Like `spawn_with`, with `prepare` run on the initialized data directory before the
    /// server opens it (load data, leave work behind as a crash would).
    pub async fn spawn_prepared(prepare: impl FnOnce(&Paths), adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let paths = Paths { config_file: data_dir.join("config.toml"), data_dir };
        let clock = Arc::new(ManualClock::starting_now());
        let admin = Email::parse("admin@localhost").expect("email");
        let init = app::initialize(&paths, &admin, clock.now_ms()).expect("initialize");
        let admin_password = init.admin.expect("first admin").1;
        prepare(&paths);
        let mut config = Config::default();
        config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        adjust(&mut config);
        let app = App::build(config, paths.clone(), clock.clone()).await.expect("build");
        let addr = app.local_addr().expect("addr");
        let state = app.state();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
        Self {
            base: format!("http://{addr}"),
            client,
            clock,
            paths,
            admin_password,
            addr,
            state,
            _dir: dir,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Starts the graceful stop; the returned handle resolves when the server has stopped.
    pub fn begin_shutdown(&mut self) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.take().expect("server still running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn login_response(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login request")
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let resp = self.login_response(email, password).await;
        assert_eq!(resp.status(), StatusCode::OK, "login of {email}");
        let body: Value = resp.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin@localhost", &self.admin_password).await
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.expect("get")
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(token).json(body).send().await.expect("post")
    }

    /// Creates a user through the API; returns (id, password).
    pub async fn create_user(&self, admin_token: &str, email: &str, role: &str) -> (i64, String) {
        let password = format!("pw-{email}-long-enough");
        let resp = self
            .post(admin_token, "/api/v1/users", &json!({ "email": email, "role": role, "password": password }))
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "create {email}");
        let body: Value = resp.json().await.expect("json");
        (body["user"]["id"].as_i64().expect("id"), password)
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.paths.db()).expect("open db")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asserts the API error shape and returns the code.
pub async fn error_code(resp: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(resp.status(), status, "status");
    let body: Value = resp.json().await.expect("error body is JSON");
    let message = body["error"]["message"].as_str().expect("error.message");
    assert!(!message.is_empty());
    body["error"]["code"].as_str().expect("error.code").to_owned()
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_supportd")
}

/// Runs the binary with `data_dir`, feeding `stdin`.
pub fn run_cli(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run_cli_env(data_dir, args, &[], stdin)
}

/// `run_cli` with extra environment variables.
pub fn run_cli_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("SUPPORTD_DATA_DIR", data_dir)
        .env_remove("SUPPORTD_CONFIG")
        .env_remove("SUPPORTD_LISTEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn supportd");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        // A command that exits without reading its input closes the pipe first: not an error.
        if let Err(e) = pipe.write_all(text.as_bytes())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            panic!("write stdin: {e}");
        }
    }
    drop(pipe);
    child.wait_with_output().expect("wait")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The generated admin password printed by `init`/`serve`.
pub fn printed_password(text: &str) -> Option<String> {
    text.lines().find_map(|l| l.trim().strip_prefix("password:").map(|p| p.trim().to_owned()))
}

/// A `supportd serve` process on an ephemeral port.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub first_output: String,
}

impl Server {
    pub fn start(data_dir: &Path) -> Self {
        Self::start_env(data_dir, &[])
    }

    pub fn start_env(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("SUPPORTD_DATA_DIR", data_dir)
            .env("SUPPORTD_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn serve");
        let out = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(out);
        let mut seen = String::new();
        let base = loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read stdout");
            assert!(n > 0, "supportd exited before listening; printed: {seen}");
            seen.push_str(&line);
            if let Some(url) = line.trim().strip_prefix("supportd listening on ") {
                break url.to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        Self { child, base, first_output: seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL: the process dies at once, as in a crash or power loss.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (waits up to 15 s).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success();
        assert!(ok, "kill -TERM failed");
        for _ in 0..150 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("supportd did not stop within 15 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn temp_data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    (dir, data)
}

/// A server built on an existing data directory (restarts keep its files and clock).
pub struct Running {
    pub base: String,
    pub addr: SocketAddr,
    /// The plain-HTTP redirect listener, when configured.
    pub redirect: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    pub async fn start(config: Config, paths: &Paths, clock: Arc<ManualClock>) -> Self {
        Self::try_start(config, paths, clock).await.expect("build")
    }

    pub async fn try_start(config: Config, paths: &Paths, clock: Arc<ManualClock>) -> anyhow::Result<Self> {
        let app = App::build(config, paths.clone(), clock).await?;
        let (addr, redirect) = (app.local_addr()?, app.redirect_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        Ok(Self { base: format!("http://{addr}"), addr, redirect, stop: Some(stop), server: Some(server) })
    }

    /// Stops gracefully and waits (the database is checkpointed).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("join").expect("clean stop");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A new data directory initialized at the clock's time; returns (temp dir, paths, admin password).
pub fn init_data_dir(clock: &ManualClock) -> (tempfile::TempDir, Paths, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let paths = Paths { config_file: data_dir.join("config.toml"), data_dir };
    let admin = Email::parse("admin@localhost").expect("email");
    let init = app::initialize(&paths, &admin, clock.now_ms()).expect("initialize");
    (dir, paths, init.admin.expect("first admin").1)
}

/// Polls `check` every 100 ms for up to `secs` seconds.
pub async fn eventually<T>(secs: u64, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` every 50 ms for up to `secs` seconds, on a thread that may block (tests that
/// drive a real `supportd` process). The one fixed pause of the synchronous tests.
pub fn eventually_blocking<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        #[expect(clippy::disallowed_methods, reason = "the polling interval of a synchronous test")]
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the server has nothing left in hand: every inbox row processed, and no outbox row
/// being sent or due to be (replies kept for the `api` channel's caller and rows parked outside
/// a messaging window aside). What a test checks after this cannot change by waiting longer.
pub fn settled(db: &rusqlite::Connection) -> bool {
    let busy: i64 = db
        .query_row(
            "SELECT (SELECT COUNT(*) FROM inbox WHERE status = 'pending')
                  + (SELECT COUNT(*) FROM outbox WHERE status = 'sending'
                       OR (status = 'queued' AND channel <> 'api' AND delivery IS NOT 'parked'))",
            [],
            |r| r.get(0),
        )
        .unwrap_or(1);
    busy == 0
}

/// Waits until the database at `db` is [`settled`] (the real process's).
pub fn settle_blocking(db: &std::path::Path) {
    eventually_blocking(20, "the inbox processed and the outbox delivered", || {
        rusqlite::Connection::open(db).ok().filter(settled).map(|_| ())
    });
}

impl TestApp {
    /// Waits until the server has processed every inbox row and sent every due reply.
    pub async fn settle(&self) {
        eventually(20, "the inbox processed and the outbox delivered", async || settled(&self.db()).then_some(()))
            .await;
    }
}

/// Moves the test clock half a second every 50 ms, so retry times and schedules come due
/// while a test waits for their effects (abort the handle to stop).
pub fn tick(clock: Arc<ManualClock>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            clock.advance(Duration::from_millis(500));
        }
    })
}
