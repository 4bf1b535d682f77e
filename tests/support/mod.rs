//! Test support: the built binary with an isolated environment, and a real mosquitto per test.
//!
//! `Broker` writes a mosquitto.conf into its own temp dir, listens on a free 127.0.0.1 port,
//! waits until the port accepts connections, and kills the broker on drop (printing its log when
//! the test failed). Backend: `MQTK_TEST_BROKER=local` (default: the `mosquitto` binary on PATH)
//! or `docker` (the `eclipse-mosquitto:2` image with the same config and temp dir mounted at the
//! same path, host networking).

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod amqtt;
pub mod fake_broker;
pub mod proxy;
pub mod subscriber;
pub mod terminal;

/// The mqtk binary under test, with no `MQTK_*` variables and a private HOME and
/// XDG_CONFIG_HOME, so nothing on the developer's machine leaks into a test.
pub fn cmd() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MQTK_") {
            c.env_remove(&k);
        }
    }
    let home = home_dir();
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"));
    c.timeout(Duration::from_secs(120));
    c
}

/// Same as [`cmd`], as a std Command (for children that run in the background).
pub fn std_cmd() -> Command {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MQTK_") {
            c.env_remove(&k);
        }
    }
    let home = home_dir();
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"));
    c
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mqtk"))
}

fn home_dir() -> &'static Path {
    static HOME: OnceLock<TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("temp HOME"))
        .path()
}

/// Adds a user to a mosquitto password file with `mqtk passwd -b` (creating the file for the
/// first user). 1000 PBKDF2 iterations keep tests fast; the default is tested in passwd.rs.
pub fn add_user(file: &Path, user: &str, password: &str) {
    let mut c = cmd();
    c.arg("passwd").args(["-I", "1000"]);
    if !file.exists() {
        c.arg("-c");
    }
    let out = c
        .arg("-b")
        .arg(file)
        .args([user, password])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client id nobody else in this test run uses (two clients with one id kick each other off).
pub fn unique_id(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A topic nobody else in this test run uses.
pub fn unique_topic(prefix: &str) -> String {
    unique_id(&format!("test/{prefix}")).replace('-', "/")
}

/// How to configure a test broker. `Broker::start(BrokerConfig::plain())`.
#[derive(Clone, Default)]
pub struct BrokerConfig {
    /// Lines added to the listener's section (after `listener PORT 127.0.0.1`).
    pub listener_lines: Vec<String>,
    /// Lines added at the end of the config (global settings).
    pub global_lines: Vec<String>,
    pub anonymous: bool,
    pub password_file: Option<PathBuf>,
    pub acl_file: Option<PathBuf>,
    pub persistence: bool,
    /// Environment of the broker process (e.g. `OPENSSL_CONF`).
    pub env: Vec<(String, String)>,
}

impl BrokerConfig {
    /// Anonymous clients allowed, nothing else.
    pub fn plain() -> BrokerConfig {
        BrokerConfig {
            anonymous: true,
            ..Default::default()
        }
    }

    /// Only the users in `password_file` may connect.
    pub fn password(password_file: impl Into<PathBuf>) -> BrokerConfig {
        BrokerConfig {
            password_file: Some(password_file.into()),
            ..Default::default()
        }
    }

    pub fn acl(mut self, acl_file: impl Into<PathBuf>) -> BrokerConfig {
        self.acl_file = Some(acl_file.into());
        self
    }

    pub fn listener_line(mut self, line: impl Into<String>) -> BrokerConfig {
        self.listener_lines.push(line.into());
        self
    }

    /// The settings of the listener block in a mosquitto config file (e.g. one `mqtk certgen`
    /// wrote), minus comments and its own `listener` line: the harness picks the port.
    pub fn listener_from_file(mut self, conf: impl AsRef<Path>) -> BrokerConfig {
        let conf = conf.as_ref();
        let text = fs::read_to_string(conf)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", conf.display()));
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with("listener ") {
                continue;
            }
            self.listener_lines.push(line.to_string());
        }
        self
    }

    pub fn global_line(mut self, line: impl Into<String>) -> BrokerConfig {
        self.global_lines.push(line.into());
        self
    }

    /// Sets an environment variable for the broker process.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> BrokerConfig {
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// Limits the broker to TLS 1.2. mosquitto 2.0's `tls_version tlsv1.2` is a minimum (1.3
    /// still works; `tls_version tlsv1.3` is 1.3 only), so the cap comes from OpenSSL's own
    /// configuration file.
    pub fn tls12_only(self, dir: &Path) -> BrokerConfig {
        let conf = dir.join("openssl-tls12.cnf");
        fs::write(
            &conf,
            "openssl_conf = mqtk_test\n[mqtk_test]\nssl_conf = mqtk_ssl\n\
             [mqtk_ssl]\nsystem_default = mqtk_tls12\n[mqtk_tls12]\nMaxProtocol = TLSv1.2\n",
        )
        .unwrap();
        self.env("OPENSSL_CONF", conf.display().to_string())
    }

    /// Keep sessions and queued messages across a restart (`Broker::restart`).
    pub fn persistent(mut self) -> BrokerConfig {
        self.persistence = true;
        self
    }

    fn render(&self, port: u16, dir: &Path) -> String {
        let mut c = String::new();
        // Started as root, mosquitto drops to user `mosquitto`, which cannot read a private
        // temp dir: stay root.
        c.push_str("user root\n");
        c.push_str("log_dest stderr\nlog_type all\nconnection_messages true\n");
        // The default of 1000 silently drops messages to slow subscribers in bulk tests.
        c.push_str("max_queued_messages 1000000\n");
        if self.persistence {
            c.push_str(&format!(
                "persistence true\npersistence_location {}/\nautosave_interval 1\n",
                dir.display()
            ));
        } else {
            c.push_str("persistence false\n");
        }
        c.push_str(&format!("listener {port} 127.0.0.1\n"));
        c.push_str(&format!("allow_anonymous {}\n", self.anonymous));
        if let Some(p) = &self.password_file {
            c.push_str(&format!("password_file {}\n", p.display()));
        }
        if let Some(a) = &self.acl_file {
            c.push_str(&format!("acl_file {}\n", a.display()));
        }
        for l in &self.listener_lines {
            c.push_str(l);
            c.push('\n');
        }
        for l in &self.global_lines {
            c.push_str(l);
            c.push('\n');
        }
        c
    }
}

/// A running mosquitto on 127.0.0.1, killed on drop.
pub struct Broker {
    pub port: u16,
    pub dir: TempDir,
    config: BrokerConfig,
    child: Option<Child>,
    docker_name: Option<String>,
    log: Arc<Mutex<Vec<u8>>>,
}

enum Backend {
    Local(PathBuf),
    Docker,
}

fn backend() -> Backend {
    match std::env::var("MQTK_TEST_BROKER").as_deref() {
        Ok("docker") => Backend::Docker,
        Ok("local") | Err(_) => Backend::Local(find_mosquitto()),
        Ok(other) => panic!("MQTK_TEST_BROKER must be local or docker, not {other:?}"),
    }
}

fn find_mosquitto() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()]);
    for dir in candidates {
        let p = dir.join("mosquitto");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "no mosquitto broker found: the integration tests need a real one.\n\
         Install it with `sudo apt-get install -y mosquitto mosquitto-clients` \
         (or run them with MQTK_TEST_BROKER=docker and the eclipse-mosquitto:2 image)."
    )
}

/// A port that was free a moment ago. The broker may still lose a race for it; `start` retries.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Broker {
    pub fn start(config: BrokerConfig) -> Broker {
        Broker::start_in(tempfile::tempdir().expect("broker temp dir"), config)
    }

    fn start_in(dir: TempDir, config: BrokerConfig) -> Broker {
        let mut dir = Some(dir);
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let mut b = Broker {
                port: free_port(),
                dir: dir.take().unwrap(),
                config: config.clone(),
                child: None,
                docker_name: None,
                log: Arc::default(),
            };
            match b.spawn() {
                Ok(()) => return b,
                Err(log) => {
                    last_log = log;
                    b.stop();
                    dir = Some(std::mem::replace(&mut b.dir, tempfile::tempdir().unwrap()));
                }
            }
        }
        panic!("mosquitto did not start after 5 attempts:\n{last_log}");
    }

    pub fn conf_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.conf")
    }

    /// Writes the config and starts the broker; Err(log) if it exits or never listens.
    fn spawn(&mut self) -> Result<(), String> {
        let conf = self.conf_path();
        fs::write(&conf, self.config.render(self.port, self.dir.path())).unwrap();
        self.log = Arc::default();
        let mut child = match backend() {
            Backend::Local(bin) => Command::new(bin)
                .envs(self.config.env.iter().map(|(k, v)| (k, v)))
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn mosquitto"),
            Backend::Docker => {
                let name = format!("mqtk-test-{}", unique_id("broker"));
                let d = self.dir.path().display().to_string();
                let child = Command::new("docker")
                    .args(["run", "--rm", "--network", "host", "--name", &name])
                    .args(["-v", &format!("{d}:{d}")])
                    .args(
                        self.config
                            .env
                            .iter()
                            .flat_map(|(k, v)| ["-e".to_string(), format!("{k}={v}")]),
                    )
                    .args(["eclipse-mosquitto:2", "mosquitto", "-c"])
                    .arg(&conf)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn docker (MQTK_TEST_BROKER=docker needs a Docker engine)");
                self.docker_name = Some(name);
                child
            }
        };
        let mut stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                thread::sleep(Duration::from_millis(50));
                return Err(format!("mosquitto exited with {status}:\n{}", self.log()));
            }
            // Another test's broker may hold the same port: only our own log line proves the
            // listener is ours.
            let opened = format!("listen socket on port {}", self.port);
            if self.log().contains(&opened) && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "mosquitto never listened on {}:\n{}",
            self.port,
            self.log()
        ))
    }

    /// Everything the broker logged so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    /// Stops the broker and starts it again on the same port with the same config (sessions
    /// survive when the config is `persistent()`).
    pub fn restart(&mut self) {
        self.stop();
        // The old socket may linger briefly; spawn retries until the port is ours again.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(log) if Instant::now() > deadline => panic!("restart failed:\n{log}"),
                Err(_) => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Sends SIGHUP: mosquitto reloads its password and ACL files.
    pub fn reload(&self) {
        if let Some(child) = &self.child {
            let pid = child.id().to_string();
            let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
            assert!(status.success());
        }
        // mosquitto handles the signal in its main loop, which runs at least once a second.
        wait_for(Duration::from_secs(5), || {
            self.log().contains("Reloading config")
        });
    }

    /// Freezes the broker (SIGSTOP; `docker pause`): its connections stay open, and nothing sent
    /// to it is read or answered until [`Broker::resume`].
    pub fn pause(&self) {
        self.freeze("-STOP", "pause");
    }

    /// Lets a paused broker run again (SIGCONT; `docker unpause`).
    pub fn resume(&self) {
        self.freeze("-CONT", "unpause");
    }

    fn freeze(&self, signal: &str, docker: &str) {
        let status = match (&self.docker_name, &self.child) {
            (Some(name), _) => Command::new("docker").args([docker, name]).status(),
            (None, Some(child)) => Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status(),
            (None, None) => panic!("the broker is not running"),
        };
        assert!(status.unwrap().success(), "{docker} failed");
    }

    /// Stops the broker gracefully (SIGTERM), so a persistent one saves its state.
    pub fn stop(&mut self) {
        if let Some(name) = self.docker_name.take() {
            let _ = Command::new("docker")
                .args(["stop", "-t", "5", &name])
                .status();
        }
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            // A paused broker only acts on the SIGTERM once it runs again.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `-h 127.0.0.1 -p PORT`, the arguments that point a client at this broker.
    pub fn args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
        ]
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!(
                "---- mosquitto log (port {}) ----\n{}",
                self.port,
                self.log()
            );
        }
    }
}

/// Polls `cond` until it holds, or panics after `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// A mosquitto_sub in the background, started with `-d` so we can wait for its SUBACK instead
/// of sleeping; the payload lines it prints are collected.
pub struct MosquittoSub {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl MosquittoSub {
    /// Starts `mosquitto_sub -d <args>` and returns once the broker has acknowledged the
    /// subscription.
    pub fn start(broker: &Broker, args: &[&str]) -> MosquittoSub {
        let port = broker.port.to_string();
        let mut all = vec!["-h", "127.0.0.1", "-p", &port];
        all.extend_from_slice(args);
        MosquittoSub::start_with_args(&all)
    }

    /// Same as [`MosquittoSub::start`], with every argument given (host, port, TLS files...).
    pub fn start_with_args(args: &[&str]) -> MosquittoSub {
        // stdbuf: -d trace lines are printf'ed to a block-buffered pipe otherwise.
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .arg("-d")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mosquitto_sub (apt-get install mosquitto-clients)");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // -d prints libmosquitto's trace lines, all starting with "Client ".
                if line.starts_with("Client ") {
                    if line.contains("received SUBACK")
                        && let Some(r) = ready.take()
                    {
                        let _ = r.send(());
                    }
                    continue;
                }
                if line.starts_with("Subscribed (mid") {
                    continue;
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let sub = MosquittoSub { child, lines: rx };
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("mosquitto_sub did not get a SUBACK");
        sub
    }

    /// Every payload line that arrives until none has for `quiet`.
    pub fn drain(&self, quiet: Duration) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(quiet) {
            out.push(l);
        }
        out
    }

    /// The next `n` payload lines, or panics after `limit`.
    pub fn take(&self, n: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => out.push(l),
                Err(_) => panic!("got {} of {n} lines: {:?}", out.len(), out.last()),
            }
        }
        out
    }
}

impl MosquittoSub {
    /// The next payload line, or `None` when none arrives within `limit`.
    pub fn next_line(&self, limit: Duration) -> Option<String> {
        self.lines.recv_timeout(limit).ok()
    }

    /// Asserts that no payload line arrives within `quiet`.
    pub fn assert_nothing(&self, quiet: Duration) {
        if let Ok(line) = self.lines.recv_timeout(quiet) {
            panic!("expected nothing, got {line:?}");
        }
    }
}

impl Drop for MosquittoSub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Certificates made by `mqtk certgen` in their own temp dir.
pub struct Pki {
    pub dir: TempDir,
}

impl Pki {
    /// Runs `mqtk certgen --out DIR ARGS`; panics if it fails.
    pub fn new(args: &[&str]) -> Pki {
        let dir = tempfile::tempdir().expect("certificate temp dir");
        let out = cmd()
            .arg("certgen")
            .arg("--out")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "certgen {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Pki { dir }
    }

    /// The absolute path of a file certgen wrote, as a string for argv.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn ca(&self) -> String {
        self.path("ca.crt")
    }

    /// The generated mosquitto listener, for `BrokerConfig::listener_from_file`.
    pub fn listener(&self) -> PathBuf {
        self.dir.path().join("mosquitto-tls.conf")
    }

    /// `--cafile CA --cert client-NAME.crt --key client-NAME.key`, for mqtk and mosquitto alike.
    pub fn client_args(&self, name: &str) -> Vec<String> {
        vec![
            "--cafile".into(),
            self.ca(),
            "--cert".into(),
            self.path(&format!("client-{name}.crt")),
            "--key".into(),
            self.path(&format!("client-{name}.key")),
        ]
    }
}

/// Exit code and stderr of a finished command, for assertions.
pub fn status_and_stderr(out: &std::process::Output) -> (Option<i32>, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An `mqtk` child in the background (`sub`, `rr`), its stdout and stderr collected as they come.
pub struct MqtkChild {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

fn collect(mut from: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
    let to = buf.clone();
    thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = from.read(&mut chunk) {
            if n == 0 {
                break;
            }
            to.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

impl MqtkChild {
    /// Starts `mqtk <args>` with stdout and stderr captured.
    pub fn spawn(args: &[&str]) -> MqtkChild {
        let mut child = std_cmd()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mqtk");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        MqtkChild {
            child,
            stdout,
            stderr,
        }
    }

    /// Starts `mqtk <args>` with a pipe as stdin, returned to the test to write to (and drop
    /// for end of input).
    pub fn spawn_with_stdin(args: &[&str]) -> (MqtkChild, ChildStdin) {
        let mut child = std_cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mqtk");
        let stdin = child.stdin.take().unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        (
            MqtkChild {
                child,
                stdout,
                stderr,
            },
            stdin,
        )
    }

    /// Starts `mqtk <args>` with stdout a pipe that nobody reads until the test does: the
    /// read end is returned (its `stdout()` here stays empty).
    pub fn spawn_unread_stdout(args: &[&str]) -> (MqtkChild, ChildStdout) {
        let mut child = std_cmd()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mqtk");
        let stdout = child.stdout.take().unwrap();
        let stderr = collect(child.stderr.take().unwrap());
        (
            MqtkChild {
                child,
                stdout: Arc::default(),
                stderr,
            },
            stdout,
        )
    }

    /// The exit status if it has exited, without waiting.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Starts `mqtk <args> -d` and returns once it has printed "received SUBACK": from then on
    /// the broker delivers to it, so a test can publish without sleeping.
    pub fn subscribed(args: &[&str]) -> MqtkChild {
        let mut all = args.to_vec();
        all.push("-d");
        let c = MqtkChild::spawn(&all);
        c.wait_stderr("received SUBACK", Duration::from_secs(10));
        c
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits until stderr contains `needle`, or panics with what it has.
    pub fn wait_stderr(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on stderr within {limit:?}; stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until stdout holds at least `n` lines and returns them all.
    pub fn wait_lines(&self, n: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.stdout();
            if out.matches('\n').count() >= n {
                return out.lines().map(str::to_string).collect();
            }
            assert!(
                Instant::now() < deadline,
                "{n} lines expected within {limit:?}; stdout:\n{out}\nstderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for the exit (killing it after `limit`, then panicking) and returns the code.
    pub fn wait(&mut self, limit: Duration) -> i32 {
        let status = self.wait_status(limit);
        status
            .code()
            .unwrap_or_else(|| panic!("mqtk died of a signal: {status}"))
    }

    /// Same as [`MqtkChild::wait`], for a child that may die of a signal.
    pub fn wait_status(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                thread::sleep(Duration::from_millis(20));
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "mqtk did not exit within {limit:?}; stdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for MqtkChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `mosquitto_pub -h 127.0.0.1 -p PORT <args>` and asserts it succeeded.
pub fn mosquitto_pub(broker: &Broker, args: &[&str]) {
    let out = Command::new("mosquitto_pub")
        .args(broker.args())
        .args(args)
        .output()
        .expect("mosquitto_pub (apt-get install mosquitto-clients)");
    assert!(
        out.status.success(),
        "mosquitto_pub {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A broker with mosquitto's dynamic-security plugin, which (unlike `acl_file`) refuses
/// SUBSCRIBEs. Anonymous clients may publish anywhere and subscribe nowhere; the user
/// `reader` (password `readerpw`) may subscribe to `allowed/#` only.
pub fn dynsec_broker() -> Broker {
    let plugin = [
        "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
        "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
        "/usr/lib/mosquitto_dynamic_security.so",
        "/usr/local/lib/mosquitto_dynamic_security.so",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("mosquitto_dynamic_security.so not found (Debian's mosquitto package ships it)");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("dynsec.json");
    let ok = Command::new("mosquitto_ctrl")
        .args(["dynsec", "init"])
        .arg(&json)
        .args(["admin", "adminpw"])
        .output()
        .expect("mosquitto_ctrl (apt-get install mosquitto-clients)");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // The plugin's file lives in the broker's own directory, removed with it.
    let broker = Broker::start_in(
        dir,
        BrokerConfig::plain()
            .global_line(format!("plugin {plugin}"))
            .global_line(format!("plugin_opt_config_file {}", json.display())),
    );
    let port = broker.port.to_string();
    for cmd in [
        // Anonymous clients get only what the anonymous group's roles allow.
        &["createRole", "writer"][..],
        &["addRoleACL", "writer", "publishClientSend", "#", "allow"],
        &["createGroup", "anonymous"],
        &["addGroupRole", "anonymous", "writer"],
        &["setAnonymousGroup", "anonymous"],
        &["createClient", "reader", "-p", "readerpw"],
        &["createRole", "reader"],
        &[
            "addRoleACL",
            "reader",
            "subscribePattern",
            "allowed/#",
            "allow",
        ],
        &["addClientRole", "reader", "reader"],
    ] {
        let out = Command::new("mosquitto_ctrl")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-u",
                "admin",
                "-P",
                "adminpw",
            ])
            .arg("dynsec")
            .args(cmd)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mosquitto_ctrl dynsec {cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    broker
}
