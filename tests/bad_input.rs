//! Bad input, one table per command: every invalid invocation or input ends with one error line
//! `mqtk <cmd>: error: ...` (plus at most a hint line) and the documented exit code, before
//! anything reaches the broker or the disk.
//!
//! Each table runs against its own mosquitto with a `mosquitto_sub -t '#'` watcher started
//! first, in a fixture directory of files (password files, certificates, profiles, a directory,
//! a FIFO, hard links, a sparse 256 MiB file). After every row: no new connection in the broker
//! log and no file in the fixture changed (content, size, mode, mtime, new or removed files).
//! The positive control at the end of each table, a valid invocation in the same harness, shows
//! that the watcher, the log and the fixture snapshot do see a command that gets through.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::hash::{DefaultHasher, Hasher};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Broker, BrokerConfig, MosquittoSub, free_port, std_cmd};

/// Rows that fail today because of a defect in code outside the input paths (the `-F` parser's
/// messages, the connection-flag checks). They run against a port with no broker, their outcome is
/// printed and not asserted, and one that passes fails the test: the list only shrinks.
const KNOWN_WRONG: &[(&str, &str)] = &[];

/// Where a row's stdin comes from.
#[derive(Clone, Copy)]
enum Input {
    Null,
    Bytes(&'static [u8]),
    /// A fixture path opened for reading (a directory works: `< /some/dir`).
    Path(&'static str),
    /// A fixture file opened for writing only (`0>>file`).
    WriteOnly(&'static str),
    /// `yes |`: a pipe that never ends.
    Endless,
}

struct Row {
    args: &'static [&'static str],
    env: Vec<(&'static str, &'static str)>,
    input: Input,
    code: i32,
    /// Each must appear in the error line.
    text: &'static [&'static str],
    /// None may appear anywhere in stderr.
    hide: &'static [&'static str],
    /// Run under `ulimit -v` so that reading without bound fails instead of eating the machine.
    capped: bool,
}

fn row(args: &'static [&'static str], code: i32, text: &'static [&'static str]) -> Row {
    Row {
        args,
        env: Vec::new(),
        input: Input::Null,
        code,
        text,
        hide: &[],
        capped: false,
    }
}

impl Row {
    fn env(mut self, key: &'static str, value: &'static str) -> Row {
        self.env.push((key, value));
        self
    }

    fn stdin(mut self, input: Input) -> Row {
        self.input = input;
        self
    }

    fn hide(mut self, secrets: &'static [&'static str]) -> Row {
        self.hide = secrets;
        self
    }

    fn capped(mut self) -> Row {
        self.capped = true;
        self
    }

    /// How the row is named in failures and in `KNOWN_WRONG` (control characters escaped).
    fn id(&self, cmd: &str) -> String {
        let mut id = format!("{cmd} {}", self.args.join(" "))
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>();
        for (k, v) in &self.env {
            id.push_str(&format!(" [{k}={v}]"));
        }
        match self.input {
            Input::Null => {}
            Input::Bytes(b) => id.push_str(&format!(" < {:?}", String::from_utf8_lossy(b))),
            Input::Path(p) => id.push_str(&format!(" < {p}")),
            Input::WriteOnly(p) => id.push_str(&format!(" 0>> {p}")),
            Input::Endless => id.insert_str(0, "yes | "),
        }
        id
    }
}

/// Virtual memory allowed to a `capped` row: a payload at the MQTT limit (256 MiB, in a
/// buffer that may double while it grows) fits; reading an endless input does not.
const VMEM_KB: u32 = 800_000;

/// What a valid invocation in the same harness must do.
enum Effect {
    /// The watcher receives this `topic payload` line.
    Watcher(&'static str),
    /// The broker log shows one more connection.
    Connection,
    /// Something in the fixture changes.
    FileChange,
}

struct Control {
    args: &'static [&'static str],
    input: Input,
    code: i32,
    effect: Effect,
}

fn positive(args: &'static [&'static str], code: i32, effect: Effect) -> Control {
    Control {
        args,
        input: Input::Null,
        code,
        effect,
    }
}

/// The files every table runs among.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let write = |name: &str, bytes: &[u8]| fs::write(p.join(name), bytes).unwrap();
        write("empty", b"");
        write("text", b"hello");
        write("wo", b"");
        write("secret.pw", b"s3cret\n");
        write(
            "garbage.pem",
            b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
        );
        fs::create_dir(p.join("d")).unwrap();
        // One byte over any payload MQTT can carry; sparse, so it costs no disk.
        fs::File::create(p.join("big.bin"))
            .unwrap()
            .set_len(268_435_456)
            .unwrap();
        crate::support::add_user(&p.join("pw"), "alice", "alicepw");
        write("corrupt", b"alice:$7$12$bad\n");
        write("hostile", b"bob:$7$4294967295$c2Rmc2Rmc2Rmc2Rm$aGFzaA==\n");
        write(
            "argon",
            b"alice:$argon2id$v=19$m=4294967295,t=1,p=1$c3Nzc3Nzc3Nzc3Nzc3Nzcw$aGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGg\n",
        );
        write("emptyuser", b":pw\n");
        write(
            "fleet-bad.toml",
            b"[[group]]\nname = \"a\"\ndevices = 2\nbogus =\n",
        );
        write(
            "fleet-unknown.toml",
            b"[[group]]\nname = \"a\"\ndevices = 2\ncolour = \"red\"\n",
        );
        write("nopw", b"alice:\n");
        fs::copy(p.join("pw"), p.join("linked")).unwrap();
        fs::hard_link(p.join("linked"), p.join("linked2")).unwrap();
        let st = Command::new("mkfifo").arg(p.join("fifo")).status().unwrap();
        assert!(st.success(), "mkfifo");
        for (name, client) in [("pki1", "a"), ("pki2", "b")] {
            let out = std_cmd()
                .args(["certgen", "--client", client, "--out"])
                .arg(p.join(name))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        fs::create_dir_all(p.join("xdg/mqtk")).unwrap();
        write(
            "xdg/mqtk/config.toml",
            br#"[profile.badport]
port = "abc"

[profile.bigport]
port = 70000

[profile.unknown]
colour = "blue"

[profile.arr]
host = ["a", "b"]

[profile.prop]
property = "connect"

[profile.leak]
url = "mqtt://u:topsecret@127.0.0.1:0/a"
"#,
        );
        fs::create_dir_all(p.join("badtoml/mqtk")).unwrap();
        write("badtoml/mqtk/config.toml", b"not toml [\n");
        Fixture { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every entry under the fixture: type, size, mode, mtime, and a hash of the content of
    /// regular files up to 1 MiB (the sparse big file is judged by its metadata).
    fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut all = BTreeMap::new();
        let mut dirs = vec![self.path().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::symlink_metadata(&path).unwrap();
                let mut what = format!(
                    "{:?} len {} mode {:o} mtime {}.{} ino {}",
                    meta.file_type(),
                    meta.len(),
                    meta.mode(),
                    meta.mtime(),
                    meta.mtime_nsec(),
                    meta.ino()
                );
                if meta.is_dir() {
                    dirs.push(path.clone());
                } else if meta.is_file() && meta.len() <= 1 << 20 {
                    let mut h = DefaultHasher::new();
                    h.write(&fs::read(&path).unwrap());
                    what.push_str(&format!(" hash {:x}", h.finish()));
                }
                all.insert(path.strip_prefix(self.path()).unwrap().to_path_buf(), what);
            }
        }
        all
    }
}

fn diff(before: &BTreeMap<PathBuf, String>, after: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let mut changes = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => changes.push(format!("{} removed", path.display())),
            Some(now) if now != was => {
                changes.push(format!("{} changed: {was} -> {now}", path.display()))
            }
            _ => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        changes.push(format!("{} appeared", path.display()));
    }
    changes
}

/// The broker and its watcher, for the commands that talk to one.
struct Watched {
    broker: Broker,
    watcher: MosquittoSub,
}

impl Watched {
    fn start() -> Watched {
        let broker = Broker::start(BrokerConfig::plain());
        let watcher = MosquittoSub::start(&broker, &["-t", "#", "-v"]);
        Watched { broker, watcher }
    }

    fn connections(&self) -> usize {
        self.broker.log().matches("New connection from").count()
    }
}

/// Expands the placeholders of one table argument: `{B}` (a whole argument) becomes
/// `-h 127.0.0.1 -p PORT`; inside an argument `{port}`, `{fx}` (the fixture directory), `{lb}` and
/// `{rb}` (braces), `{xff}`
/// (the byte 0xFF, not UTF-8) and `{N*c}` (c repeated N times).
fn expand(arg: &str, port: u16, fx: &Path) -> Vec<OsString> {
    if arg == "{B}" {
        return ["-h", "127.0.0.1", "-p", &port.to_string()]
            .into_iter()
            .map(OsString::from)
            .collect();
    }
    let mut out: Vec<u8> = Vec::new();
    let mut rest = arg;
    while let Some(start) = rest.find('{') {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let end = start + rest[start..].find('}').expect("unclosed {");
        let name = &rest[start + 1..end];
        match name {
            "port" => out.extend_from_slice(port.to_string().as_bytes()),
            "fx" => out.extend_from_slice(fx.as_os_str().as_encoded_bytes()),
            "xff" => out.push(0xFF),
            "lb" => out.push(b'{'),
            "rb" => out.push(b'}'),
            _ => {
                let (n, c) = name.split_once('*').expect("unknown placeholder");
                out.extend(c.as_bytes().repeat(n.parse().unwrap()));
            }
        }
        rest = &rest[end + 1..];
    }
    out.extend_from_slice(rest.as_bytes());
    vec![OsString::from_vec(out)]
}

struct Outcome {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `mqtk <cmd> <row>` in the fixture directory, with stdout and stderr in files (so a
/// process that hangs cannot block a pipe), killed after 30 s.
fn run(cmd: &str, row: &Row, port: u16, fx: &Fixture) -> Outcome {
    let mut args: Vec<OsString> = vec![cmd.into()];
    for a in row.args {
        args.extend(expand(a, port, fx.path()));
    }
    let base = std_cmd();
    let mut c = if row.capped {
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(format!("ulimit -v {VMEM_KB} && exec \"$0\" \"$@\""))
            .arg(base.get_program());
        sh
    } else {
        Command::new(base.get_program())
    };
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    // The profiles of the fixture, unless the row points elsewhere.
    c.env("XDG_CONFIG_HOME", fx.path().join("xdg"));
    for (k, v) in &row.env {
        c.env(k, expand(v, port, fx.path()).remove(0));
    }
    let out_dir = tempfile::tempdir().unwrap();
    let stdout_path = out_dir.path().join("stdout");
    let stderr_path = out_dir.path().join("stderr");
    let mut feeder: Option<Child> = None;
    let stdin = match row.input {
        Input::Null => Stdio::null(),
        Input::Bytes(b) => {
            let p = out_dir.path().join("stdin");
            fs::write(&p, b).unwrap();
            Stdio::from(fs::File::open(p).unwrap())
        }
        Input::Path(p) => Stdio::from(fs::File::open(fx.path().join(p)).unwrap()),
        Input::WriteOnly(p) => Stdio::from(
            fs::OpenOptions::new()
                .append(true)
                .open(fx.path().join(p))
                .unwrap(),
        ),
        Input::Endless => {
            let mut yes = Command::new("yes")
                .stdout(Stdio::piped())
                .stdin(Stdio::null())
                .spawn()
                .expect("yes");
            let out = yes.stdout.take().unwrap();
            feeder = Some(yes);
            Stdio::from(out)
        }
    };
    let mut child = c
        .args(&args)
        .current_dir(fx.path())
        .stdin(stdin)
        .stdout(fs::File::create(&stdout_path).unwrap())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("spawn mqtk");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if let Some(mut yes) = feeder {
        let _ = yes.kill();
        let _ = yes.wait();
    }
    Outcome {
        code: status.and_then(|s| s.code()),
        stdout: fs::read(&stdout_path).unwrap(),
        stderr: String::from_utf8_lossy(&fs::read(&stderr_path).unwrap()).into_owned(),
    }
}

/// Exit code, stdout empty, and stderr: warnings aside, one `mqtk <cmd>: error: ` line with
/// every expected text, then at most one `  hint: ` line; no secret anywhere.
fn check(cmd: &str, row: &Row, out: &Outcome) -> Result<(), String> {
    let mut problems = Vec::new();
    if out.code != Some(row.code) {
        problems.push(format!("exit {:?}, expected {}", out.code, row.code));
    }
    if !out.stdout.is_empty() {
        problems.push(format!(
            "stdout not empty: {:?}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let warning = format!("mqtk {cmd}: warning: ");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with(&warning))
        .collect();
    let prefix = format!("mqtk {cmd}: error: ");
    match lines.as_slice() {
        [error] | [error, _] if error.starts_with(&prefix) => {
            for t in row.text {
                if !error.contains(t) {
                    problems.push(format!("the error line lacks {t:?}"));
                }
            }
        }
        _ => problems.push("stderr is not one error line".into()),
    }
    if let [_, hint] = lines.as_slice()
        && !hint.starts_with("  hint: ")
    {
        problems.push(format!("second line is not a hint: {hint:?}"));
    }
    for s in row.hide {
        if out.stderr.contains(s) {
            problems.push(format!("stderr shows the secret {s:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n    stderr: {:?}",
            problems.join("; "),
            out.stderr
        ))
    }
}

/// Runs a table, then its positive control; panics listing every row that failed.
fn run_table(cmd: &str, rows: Vec<Row>, control: Control, watched: Option<&Watched>) {
    let fx = Fixture::new();
    let port = watched.map_or(0, |w| w.broker.port);
    // Rows known to be wrong point at a port nobody listens on: they cannot disturb the
    // broker-side checks whatever they do.
    let dead_port = free_port();
    let mut failures = Vec::new();
    let mut known = Vec::new();
    let base_connections = watched.map(Watched::connections);
    let mut seen_connections = base_connections.unwrap_or(0);
    let mut before = fx.snapshot();
    let mut checked = 0;
    let ids: Vec<String> = rows.iter().map(|r| r.id(cmd)).collect();
    for (i, id) in ids.iter().enumerate() {
        assert!(!ids[..i].contains(id), "two rows are {id}");
    }
    for (row, id) in rows.iter().zip(&ids) {
        let known_wrong = KNOWN_WRONG.iter().find(|(k, _)| k == id);
        let out = run(
            cmd,
            row,
            if known_wrong.is_some() {
                dead_port
            } else {
                port
            },
            &fx,
        );
        let mut problems = Vec::new();
        if let Err(e) = check(cmd, row, &out) {
            problems.push(e);
        }
        if let Some(w) = watched
            && known_wrong.is_none()
            && w.connections() != seen_connections
        {
            problems.push("it connected to the broker".into());
            seen_connections = w.connections();
        }
        let after = fx.snapshot();
        let changed = diff(&before, &after);
        if !changed.is_empty() {
            problems.push(format!("it changed files: {changed:?}"));
            before = after;
        }
        let result = if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n    "))
        };
        match (result, known_wrong) {
            (Ok(()), None) => checked += 1,
            (Err(e), None) => failures.push(format!("{id}\n    {e}")),
            (Err(e), Some((_, why))) => known.push(format!("{id}\n    ({why}) {e}")),
            (Ok(()), Some(_)) => {
                failures.push(format!("{id}\n    passes now: remove it from KNOWN_WRONG"))
            }
        }
    }
    for k in &known {
        eprintln!("KNOWN_WRONG, not asserted: {k}");
    }

    // The positive control: a valid command gets through, and the checks above see it.
    let control_row = row(control.args, control.code, &[]).stdin(control.input);
    let out = run(cmd, &control_row, port, &fx);
    if out.code != Some(control.code) {
        failures.push(format!(
            "positive control {}: exit {:?}, expected {}; stderr: {:?}",
            control_row.id(cmd),
            out.code,
            control.code,
            out.stderr
        ));
    }
    match control.effect {
        Effect::Watcher(line) => {
            let w = watched.expect("a broker");
            // The first line the watcher got: nothing from the rows came before it.
            let got = w.watcher.take(1, Duration::from_secs(10));
            if got != [line] {
                failures.push(format!(
                    "the watcher got {got:?} before the control's {line:?}"
                ));
            }
        }
        Effect::Connection => {
            let w = watched.expect("a broker");
            let base = base_connections.unwrap();
            crate::support::wait_for(Duration::from_secs(5), || w.connections() > base);
        }
        Effect::FileChange => {
            if diff(&before, &fx.snapshot()).is_empty() {
                failures.push("the control changed no file: the snapshot sees nothing".into());
            }
        }
    }
    // The broker logs in order: once the control's connection is in the log, so is any
    // connection a row made, even one the check after that row was too early to see.
    if let (Some(w), Some(base)) = (watched, base_connections)
        && w.connections() != base + 1
    {
        failures.push(format!(
            "{} connections in the broker log besides the control's:\n{}",
            w.connections() - base - 1,
            w.broker.log()
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs of `mqtk {cmd}` misbehaved:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    eprintln!(
        "mqtk {cmd}: {checked} bad inputs refused as expected, {} known wrong",
        known.len()
    );
}

#[test]
fn every_known_wrong_row_is_in_a_table() {
    let tables = [
        ("pub", pub_rows()),
        ("sub", sub_rows()),
        ("rr", rr_rows()),
        ("passwd", passwd_rows()),
        ("certgen", certgen_rows()),
        ("sim", sim_rows()),
    ];
    let ids: Vec<String> = tables
        .iter()
        .flat_map(|(cmd, rows)| rows.iter().map(|r| r.id(cmd)))
        .collect();
    for (id, _) in KNOWN_WRONG {
        assert!(
            ids.iter().any(|i| i == id),
            "KNOWN_WRONG names no row: {id}"
        );
    }
}

#[test]
fn pub_bad_inputs() {
    let w = Watched::start();
    let control = positive(
        &["{B}", "-t", "control/pub", "-m", "through"],
        0,
        Effect::Watcher("control/pub through"),
    );
    run_table("pub", pub_rows(), control, Some(&w));
}

#[test]
fn sub_bad_inputs() {
    let w = Watched::start();
    let control = positive(&["{B}", "-t", "control/sub", "-E"], 0, Effect::Connection);
    run_table("sub", sub_rows(), control, Some(&w));
}

#[test]
fn rr_bad_inputs() {
    let w = Watched::start();
    // No responder: the request reaches the watcher, and rr times out.
    let control = positive(
        &[
            "{B}",
            "-t",
            "control/rr",
            "-e",
            "control/reply",
            "-m",
            "through",
            "-W",
            "1",
        ],
        27,
        Effect::Watcher("control/rr through"),
    );
    run_table("rr", rr_rows(), control, Some(&w));
}

#[test]
fn sim_bad_inputs() {
    let w = Watched::start();
    let control = positive(
        &[
            "{B}",
            "--devices",
            "1",
            "--count",
            "1",
            "--interval",
            "100ms",
            "--prefix",
            "control",
            "--quiet",
        ],
        0,
        Effect::Connection,
    );
    run_table("sim", sim_rows(), control, Some(&w));
}

#[test]
fn passwd_bad_inputs() {
    let control = positive(
        &["-b", "-I", "1000", "pw", "carol", "carolpw"],
        0,
        Effect::FileChange,
    );
    run_table("passwd", passwd_rows(), control, None);
}

#[test]
fn certgen_bad_inputs() {
    let control = positive(&["--out", "fresh"], 0, Effect::FileChange);
    run_table("certgen", certgen_rows(), control, None);
}

/// `-f /dev/zero` and `yes | mqtk pub -s` (and rr) stop reading one byte past the MQTT limit:
/// exit 2 with the limit in the message, under a virtual-memory cap that reading on would
/// break ("out of memory"), and nothing reaches the broker.
#[test]
fn endless_input_stops_at_the_mqtt_limit() {
    let w = Watched::start();
    let rows = vec![
        row(
            &["{B}", "-t", "a", "-f", "/dev/zero"],
            2,
            &["over the MQTT limit"],
        )
        .capped(),
        row(&["{B}", "-t", "a", "-s"], 2, &["over the MQTT limit"])
            .stdin(Input::Endless)
            .capped(),
    ];
    let control = positive(
        &["{B}", "-t", "control/pub", "-m", "through"],
        0,
        Effect::Watcher("control/pub through"),
    );
    run_table("pub", rows, control, Some(&w));
    let rows = vec![
        row(
            &["{B}", "-t", "a", "-e", "r", "-f", "/dev/zero"],
            2,
            &["over the MQTT limit"],
        )
        .capped(),
        row(
            &["{B}", "-t", "a", "-e", "r", "-s"],
            2,
            &["over the MQTT limit"],
        )
        .stdin(Input::Endless)
        .capped(),
    ];
    let control = positive(
        &[
            "{B}",
            "-t",
            "control/rr",
            "-e",
            "r",
            "-m",
            "through",
            "-W",
            "1",
        ],
        27,
        Effect::Watcher("control/rr through"),
    );
    run_table("rr", rows, control, Some(&w));
}

/// A stdin that cannot be read (a directory, a descriptor open for writing only) is exit 2
/// before connecting, also for `pub -l`, which reads stdin only once connected.
#[test]
fn unreadable_stdin_is_refused_before_connecting() {
    let w = Watched::start();
    let rows = vec![
        row(
            &["{B}", "-t", "a", "-l"],
            2,
            &["cannot read stdin (it is a directory)"],
        )
        .stdin(Input::Path("d")),
        row(
            &["{B}", "-t", "a", "-s"],
            2,
            &["cannot read stdin (it is a directory)"],
        )
        .stdin(Input::Path("d")),
        row(
            &["{B}", "-t", "a", "-l"],
            2,
            &["cannot read stdin (it is open for writing only)"],
        )
        .stdin(Input::WriteOnly("wo")),
        row(
            &["{B}", "-t", "a", "-s"],
            2,
            &["cannot read stdin (it is open for writing only)"],
        )
        .stdin(Input::WriteOnly("wo")),
    ];
    // The same reads of a readable stdin get through: the fixture's `hello`.
    let control = Control {
        input: Input::Path("text"),
        ..positive(
            &["{B}", "-t", "control/pub", "-l"],
            0,
            Effect::Watcher("control/pub hello"),
        )
    };
    run_table("pub", rows, control, Some(&w));
    let rows = vec![
        row(
            &["{B}", "-t", "a", "-e", "r", "-s"],
            2,
            &["cannot read stdin (it is a directory)"],
        )
        .stdin(Input::Path("d")),
        row(
            &["{B}", "-t", "a", "-e", "r", "-s"],
            2,
            &["cannot read stdin (it is open for writing only)"],
        )
        .stdin(Input::WriteOnly("wo")),
    ];
    let control = Control {
        input: Input::Path("text"),
        ..positive(
            &["{B}", "-t", "control/rr", "-e", "r", "-s", "-W", "1"],
            27,
            Effect::Watcher("control/rr hello"),
        )
    };
    run_table("rr", rows, control, Some(&w));
}

// The tables. One row per line reads best, so rustfmt leaves them alone.

#[rustfmt::skip]
fn pub_rows() -> Vec<Row> {
    vec![
        // Topics.
        row(&["{B}", "-m", "x"], 2, &["no topic"]),
        row(&["{B}", "-t", "a/+", "-m", "x"], 2, &["invalid topic", "wildcard"]),
        row(&["{B}", "-t", "a/#", "-m", "x"], 2, &["invalid topic", "wildcard"]),
        row(&["{B}", "-t", "", "-m", "x"], 2, &["the topic is empty"]),
        row(&["{B}", "-t", "caf{xff}", "-m", "x"], 2, &["invalid UTF-8"]),
        row(&["{B}", "-t", "{65536*a}", "-m", "x"], 2, &["65536 bytes", "65535"]),
        row(&["{B}", "-m", "x"], 2, &["UTF-8"]).env("MQTK_TOPIC", "{xff}"),
        // Flags and values.
        row(&["{B}", "-t", "a", "-m", "x", "-q", "3"], 2, &["'--qos <QOS>'"]),
        row(&["{B}", "-t", "a", "-m", "x", "-q", "one"], 2, &["'--qos <QOS>'"]),
        row(&["{B}", "-t", "a", "-m", "x"], 2, &["MQTK_QOS"]).env("MQTK_QOS", "7"),
        row(&["{B}", "-t", "a", "-m", "x", "-m", "y"], 2, &["multiple times"]),
        row(&["{B}", "-t", "a", "-m", "x", "-f", "empty"], 2, &["cannot be used with"]),
        row(&["{B}", "-t", "a"], 2, &["required arguments"]),
        row(&["{B}", "-t", "a", "-l", "--repeat", "2"], 2, &["cannot be used with"]),
        row(&["{B}", "-t", "a", "-m", "x", "--repeat", "0"], 2, &["'--repeat <N>'"]),
        row(&["{B}", "-t", "a", "-m", "x", "--repeat-delay", "-1"], 2, &["'--repeat-delay <SECS>'"]),
        row(&["{B}", "-t", "a", "-m", "x", "--repeat-delay", "1e300"], 2, &["'--repeat-delay <SECS>'"]),
        row(&["{B}", "-t", "a", "-m", "x", "--repeat-delay", "nan"], 2, &["'--repeat-delay <SECS>'"]),
        row(&["{B}", "-t", "a", "-m", "x", "--reconnect-timeout", "inf"], 2, &["'--reconnect-timeout <SECS>'"]),
        row(&["-h", "127.0.0.1", "-p", "0", "-t", "a", "-m", "x"], 2, &["'--port <PORT>'"]),
        row(&["-h", "127.0.0.1", "-p", "65536", "-t", "a", "-m", "x"], 2, &["'--port <PORT>'"]),
        row(&["-h", "127.0.0.1", "-t", "a", "-m", "x"], 2, &["MQTK_PORT"]).env("MQTK_PORT", "abc"),
        row(&["-h", "", "-p", "{port}", "-t", "a", "-m", "x"], 2, &["the broker host is empty"]),
        row(&["{B}", "-t", "a", "-m", "x", "-k", "1"], 2, &["'--keepalive <SECS>'"]),
        row(&["{B}", "-t", "a", "-m", "x", "-k", "70000"], 2, &["'--keepalive <SECS>'"]),
        row(&["{B}", "-t", "a", "-m", "x", "-V", "31"], 2, &["MQTT 3.1 is not supported"]),
        row(&["{B}", "-t", "a", "-m", "x", "-V", "4"], 2, &["expected 311 or 5"]),
        row(&["{B}", "-t", "a", "-m", "x", "-c"], 2, &["-c needs a fixed client id"]),
        row(&["{B}", "-t", "a", "-m", "x", "-i", "{65536*i}"], 2, &["client id", "65535"]),
        row(&["{B}", "-t", "a", "-m", "x", "-i", "a", "-I", "b"], 2, &["cannot be used with"]),
        row(&["{B}", "-t", "a", "-m", "x", "-x", "5"], 2, &["needs MQTT v5"]),
        row(&["{B}", "-t", "a", "-m", "x", "-V", "5", "-x", "-2"], 2, &["'--session-expiry <SECS>'"]),
        row(&["{B}", "-t", "a", "-m", "x", "-M", "0"], 2, &["'--max-inflight <N>'"]),
        row(&["{B}", "-t", "a", "-m", "x", "-d", "-d"], 2, &["multiple times"]),
        row(&["{B}", "-t", "a", "-m", "x", "--bogus"], 2, &["'--bogus'"]),
        // Payload sources (endless and unreadable stdin: the two tests after the tables).
        row(&["{B}", "-t", "a", "-f", "nonexistent"], 2, &["cannot read nonexistent", "No such file"]),
        row(&["{B}", "-t", "a", "-f", "d"], 2, &["cannot read d (it is a directory)"]),
        row(&["{B}", "-t", "a", "-f", "/proc/self/mem"], 2, &["cannot read /proc/self/mem"]),
        row(&["{B}", "-t", "a", "-f", "big.bin"], 2, &["over the MQTT limit", "268435456 bytes"]),
        row(&["{B}", "-t", "a", "-s"], 2, &["stdin was empty", "-n"]).stdin(Input::Path("empty")),
        // URLs.
        row(&["-L", "http://127.0.0.1:{port}/a", "-m", "x"], 2, &["the scheme must be"]),
        row(&["-L", "mqtt://127.0.0.1:99999/a", "-m", "x"], 2, &["invalid URL", "port"]),
        row(&["-L", "mqtt://u:topsecret@127.0.0.1:99999/a", "-m", "x"], 2, &["invalid URL", "port"]).hide(&["topsecret"]),
        row(&["-m", "x"], 2, &["invalid URL", "port"])
            .env("MQTK_URL", "mqtt://alice:sekrit-pw-1@127.0.0.1:189100/x")
            .hide(&["sekrit-pw-1"]),
        row(&["-L", "mqtt://:{port}/a", "-m", "x"], 2, &["the host is empty"]),
        row(&["-L", "mqtt://u%ff:p@127.0.0.1:{port}/a", "-m", "x"], 2, &["not valid UTF-8"]),
        row(&["-L", "mqtt://127.0.0.1:{port}/a/+", "-m", "x"], 2, &["wildcard"]),
        row(&["-L", "not a url", "-m", "x"], 2, &["invalid URL"]),
        row(&["-L", "mqtt://h h:{port}/a", "-m", "x"], 2, &["h h"]),
        // -D properties.
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "nosuch", "x"], 2, &["not a property of PUBLISH"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "subscribe", "subscription-identifier", "1"], 2, &["not used by this command"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "connect", "maximum-packet-size", "0"], 2, &["at least 1"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "connect", "receive-maximum", "0"], 2, &["at least 1"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "connect", "receive-maximum", "70000"], 2, &["not a number from 0 to 65535"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "message-expiry-interval", "x"], 2, &["is not a number"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "content-type", "{65536*c}"], 2, &["65536 bytes", "at most 65535"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "user-property", "k"], 2, &["takes a NAME and a VALUE"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "user-property", "{65536*k}", "v"], 2, &["65536 bytes"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "connect", "user-property", "k", "{65536*v}"], 2, &["65536 bytes"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "topic-alias", "0"], 2, &["at least 1"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "payload-format-indicator", "2"], 2, &["from 0 to 1"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "response-topic", "a/+"], 2, &["wildcard"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "subscription-identifier", "1"], 2, &["only brokers set it"]),
        row(&["{B}", "-V", "5", "-t", "a", "-m", "x", "-D", "will", "content-type", "x"], 2, &["needs --will-topic"]),
        row(&["{B}", "-V", "311", "-t", "a", "-m", "x", "-D", "publish", "content-type", "x"], 2, &["need MQTT v5"]),
        // Credentials and the Will.
        row(&["{B}", "-t", "a", "-m", "x", "-P", "pw"], 2, &["without a user name"]),
        row(&["{B}", "-t", "a", "-m", "x", "--password-file", "secret.pw"], 2, &["without a user name"]).hide(&["s3cret"]),
        row(&["{B}", "-t", "a", "-m", "x", "-u", "u", "-P"], 2, &["cannot prompt for the password"]),
        row(&["{B}", "-t", "a", "-m", "x", "-u", "u", "--password-file", "nonexistent"], 2, &["cannot read the password file nonexistent"]),
        row(&["{B}", "-t", "a", "-m", "x", "-u", "u", "--password-file", "d"], 2, &["cannot read the password file d"]),
        row(&["{B}", "-t", "a", "-m", "x", "-u", "u", "--password-file", "/proc/self/mem"], 2, &["cannot read the password file"]),
        row(&["{B}", "-t", "a", "-m", "x", "-u", "{xff}"], 2, &["invalid UTF-8"]),
        row(&["{B}", "-t", "a", "-m", "x", "-u", "{65536*u}"], 2, &["65535"]),
        row(&["{B}", "-t", "a", "-m", "x", "-u", "u", "-P", "{65536*p}"], 2, &["65535"]).hide(&["pppppppp"]),
        row(&["{B}", "-t", "a", "-m", "x", "--will-topic", "w/+", "--will-payload", "x"], 2, &["invalid will topic"]),
        row(&["{B}", "-t", "a", "-m", "x", "--will-topic", "{65536*w}"], 2, &["invalid will topic", "65535"]),
        row(&["{B}", "-t", "a", "-m", "x", "--will-topic", "w", "--will-payload", "{65536*p}"], 2, &["65535"]),
        row(&["{B}", "-t", "a", "-m", "x", "--will-payload", "x"], 2, &["--will-topic"]),
        row(&["{B}", "-t", "a", "-m", "x", "--will-topic", "w", "--will-qos", "3"], 2, &["'--will-qos <QOS>'"]),
        // TLS files.
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "nonexistent"], 2, &["cannot read the CA file nonexistent"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "d"], 2, &["cannot read the CA file d"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "empty"], 2, &["holds no PEM certificate"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "garbage.pem"], 2, &["no usable CA certificate"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "/proc/self/mem"], 2, &["cannot read the CA file"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "pki1/ca.crt", "--cert", "pki1/client-a.crt"], 2, &["--cert needs --key"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "pki1/ca.crt", "--key", "pki1/client-a.key"], 2, &["--key needs --cert"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "pki1/ca.crt", "--cert", "pki1/client-a.crt", "--key", "pki2/client-b.key"], 2, &["do not match"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "pki1/ca.crt", "--cert", "pki1/ca.key", "--key", "pki1/client-a.key"], 2, &["holds no PEM certificate"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "pki1/ca.crt", "--cert", "d", "--key", "pki1/client-a.key"], 2, &["cannot read the certificate d"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "pki1/ca.crt", "--cert", "pki1/client-a.crt", "--key", "garbage.pem"], 2, &["no PEM private key"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "pki1/ca.crt", "--cert", "pki1/client-a.crt", "--key", "pki1/client-a.crt"], 2, &["no PEM private key"]),
        row(&["{B}", "-t", "a", "-m", "x", "--capath", "nonexistent"], 2, &["is not a directory"]),
        row(&["{B}", "-t", "a", "-m", "x", "--capath", "empty"], 2, &["is not a directory"]),
        row(&["{B}", "-t", "a", "-m", "x", "--cafile", "pki1/ca.crt", "--tls-version", "tlsv1.1"], 2, &["'--tls-version <VERSION>'"]),
        // Transports.
        row(&["{B}", "-t", "a", "-m", "x", "--unix", "d"], 2, &["--unix cannot be combined"]),
        row(&["{B}", "-t", "a", "-m", "x", "--ws-path", "x"], 2, &["--ws-path needs"]),
        // Profiles (the fixture's xdg/mqtk/config.toml).
        row(&["{B}", "-t", "a", "-m", "x", "--profile", "nosuch"], 2, &["no [profile.nosuch] table"]),
        row(&["{B}", "-t", "a", "-m", "x", "--profile", "unknown"], 2, &["\"colour\"", "[profile.unknown]", "not a connection flag"]),
        row(&["-p", "{port}", "-t", "a", "-m", "x", "--profile", "arr"], 2, &["[profile.arr]", "must be a string"]),
        row(&["{B}", "-t", "a", "-m", "x", "--profile", "x"], 2, &["config.toml"]).env("XDG_CONFIG_HOME", "{fx}/badtoml"),
        row(&["{B}", "-t", "a", "-m", "x", "--profile", "x"], 2, &["--profile x: cannot read"]).env("XDG_CONFIG_HOME", "{fx}/d"),
        row(&["-h", "127.0.0.1", "-t", "a", "-m", "x", "--profile", "badport"], 2, &["badport", "config.toml"]),
        row(&["-h", "127.0.0.1", "-t", "a", "-m", "x", "--profile", "bigport"], 2, &["bigport", "config.toml"]),
        row(&["{B}", "-t", "a", "-m", "x", "--profile", "prop"], 2, &["prop", "config.toml"]),
        row(&["-t", "a", "-m", "x", "--profile", "leak"], 2, &["invalid URL", "port"]).hide(&["topsecret"]),
    ]
}

#[rustfmt::skip]
fn sub_rows() -> Vec<Row> {
    vec![
        // Filters.
        row(&["{B}"], 2, &["no topic"]),
        row(&["{B}", "-t", ""], 2, &["the topic filter is empty"]),
        row(&["{B}", "-t", "a/#/b"], 2, &["'#' must be the whole last level"]),
        row(&["{B}", "-t", "a/b#"], 2, &["'#' must be the whole last level"]),
        row(&["{B}", "-t", "a+"], 2, &["'+' must be a whole level"]),
        row(&["{B}", "-t", "$share/g+/a"], 2, &["'+' must be a whole level"]),
        row(&["{B}", "-t", "ok", "-t", "a/#/b"], 2, &["a/#/b"]),
        row(&["{B}", "-t", "caf{xff}"], 2, &["invalid UTF-8"]),
        row(&["{B}", "-t", "{65536*a}"], 2, &["65536 bytes", "65535"]),
        row(&["{B}", "-t", "a", "-T", "a/#/b"], 2, &["invalid filter (-T)"]),
        row(&["{B}", "-t", "a", "-U", "a#"], 2, &["invalid unsubscribe filter (-U)"]),
        row(&["-L", "mqtt://127.0.0.1:{port}/a/#/b"], 2, &["'#' must be the whole last level"]),
        // Flags and values.
        row(&["{B}", "-t", "a", "-q", "3"], 2, &["'--qos <QOS>'"]),
        row(&["{B}", "-t", "a"], 2, &["MQTK_QOS"]).env("MQTK_QOS", "3"),
        row(&["{B}", "-t", "a", "-C", "0"], 2, &["invalid value '0'"]),
        row(&["{B}", "-t", "a", "-C", "x"], 2, &["invalid value 'x'"]),
        row(&["{B}", "-t", "a", "-W", "0"], 2, &["'-W <SECS>'"]),
        row(&["{B}", "-t", "a", "-W", "nan"], 2, &["'-W <SECS>'"]),
        row(&["{B}", "-t", "a", "--retained-only", "-R"], 2, &["cannot be used with"]),
        row(&["{B}", "-t", "a", "--pretty"], 2, &["--pretty indents JSON"]),
        row(&["{B}", "-t", "a", "-V", "311", "--no-local"], 2, &["--no-local", "MQTT v5"]),
        row(&["{B}", "-t", "a", "-V", "311", "--retain-as-published"], 2, &["--retain-as-published", "MQTT v5"]),
        row(&["{B}", "-t", "a", "-V", "311", "-x", "5"], 2, &["needs MQTT v5"]),
        row(&["{B}", "-t", "a", "-k", "4"], 2, &["'--keepalive <SECS>'"]),
        row(&["{B}", "-t", "a", "-N", "-v", "x"], 2, &["unexpected argument 'x'"]),
        // Output formats.
        row(&["{B}", "-t", "a", "-F", "%"], 2, &["incomplete format specifier"]),
        row(&["{B}", "-t", "a", "-F", "%z"], 2, &["invalid format specifier 'z'"]),
        row(&["{B}", "-t", "a", "-F", "%-"], 2, &["incomplete format specifier"]),
        row(&["{B}", "-t", "a", "-F", "@"], 2, &["incomplete time specifier"]),
        row(&["{B}", "-t", "a", "-F", "\\"], 2, &["incomplete escape specifier"]),
        row(&["{B}", "-t", "a", "-F", "%99999999999t"], 2, &["too large"]),
        row(&["{B}", "-t", "a", "-F", "{xff}%p"], 2, &["invalid UTF-8"]),
        row(&["{B}", "-t", "a", "-F", "@\n"], 2, &["invalid time specifier"]),
        row(&["{B}", "-t", "a", "-F", "%\n"], 2, &["invalid format specifier"]),
        row(&["{B}", "-t", "a", "--format", "nosuch"], 2, &["'--format <FORMAT>'"]),
        row(&["{B}", "-t", "a", "--format", "json", "-F", "%p"], 2, &["--format", "-F"]),
        // -D properties.
        row(&["{B}", "-t", "a", "-V", "5", "-D", "publish", "content-type", "x"], 2, &["-D publish: not used by this command"]),
        row(&["{B}", "-t", "a", "-V", "5", "-D", "subscribe", "subscription-identifier", "0"], 2, &["at least 1"]),
        row(&["{B}", "-t", "a", "-V", "5", "-D", "subscribe", "subscription-identifier", "268435456"], 2, &["from 0 to 268435455"]),
        row(&["{B}", "-t", "a", "-V", "5", "-D", "subscribe", "user-property", "a"], 2, &["takes a NAME and a VALUE"]),
        // Connection.
        row(&["-L", "mqtts://127.0.0.1:0/a"], 2, &["invalid URL", "port"]),
        row(&["{B}", "-t", "a", "--cafile", "pki1/ca.crt", "--cert", "pki1/client-a.crt", "--key", "pki2/client-b.key"], 2, &["do not match"]),
        row(&["{B}", "-t", "a", "--cafile", "garbage.pem"], 2, &["no usable CA certificate"]),
        row(&["-h", "127.0.0.1", "-t", "a", "--profile", "badport"], 2, &["badport", "config.toml"]),
    ]
}

#[rustfmt::skip]
fn rr_rows() -> Vec<Row> {
    vec![
        row(&["{B}", "-t", "a", "-m", "x"], 2, &["--response-topic"]),
        row(&["{B}", "-e", "r", "-m", "x"], 2, &["no request topic"]),
        row(&["{B}", "-t", "a/+", "-e", "r", "-m", "x"], 2, &["invalid request topic"]),
        row(&["{B}", "-t", "caf{xff}", "-e", "r", "-m", "x"], 2, &["invalid UTF-8"]),
        row(&["{B}", "-t", "a", "-e", "r/#", "-m", "x"], 2, &["invalid response topic (-e)"]),
        row(&["{B}", "-t", "a", "-e", "", "-m", "x"], 2, &["invalid response topic (-e)", "empty"]),
        row(&["{B}", "-t", "a", "-e", "{65536*r}", "-m", "x"], 2, &["invalid response topic (-e)", "65535"]),
        row(&["{B}", "-t", "a", "-e", "r"], 2, &["required arguments"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-l"], 2, &["unexpected argument '-l'"]),
        row(&["{B}", "-t", "a", "-e", "r", "-f", "nonexistent"], 2, &["cannot read nonexistent"]),
        row(&["{B}", "-t", "a", "-e", "r", "-f", "d"], 2, &["cannot read d (it is a directory)"]),
        row(&["{B}", "-t", "a", "-e", "r", "-f", "/proc/self/mem"], 2, &["cannot read /proc/self/mem"]),
        row(&["{B}", "-t", "a", "-e", "r", "-f", "big.bin"], 2, &["over the MQTT limit"]),
        row(&["{B}", "-t", "a", "-e", "r", "-s"], 2, &["stdin was empty"]).stdin(Input::Path("empty")),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-W", "0"], 2, &["'-W <SECS>'"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-q", "3"], 2, &["'--qos <QOS>'"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "--reconnect-timeout", "0"], 2, &["'--reconnect-timeout <SECS>'"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-D", "publish", "response-topic", "x"], 2, &["set with -e"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-D", "publish", "correlation-data", "{65536*c}"], 2, &["65536 bytes"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-D", "unsubscribe", "user-property", "a", "b"], 2, &["not used by this command"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-V", "311", "-D", "publish", "content-type", "x"], 2, &["need MQTT v5"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-F", "%"], 2, &["incomplete format specifier"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-F", "%Z"], 2, &["invalid format specifier 'Z'"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-F", "\\\n"], 2, &["invalid escape specifier"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "--format", "nosuch"], 2, &["'--format <FORMAT>'"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "--cafile", "pki1/ca.crt", "--cert", "pki2/client-b.crt", "--key", "pki1/client-a.key"], 2, &["do not match"]),
        row(&["{B}", "-t", "a", "-e", "r", "-m", "x", "-u", "u", "--password-file", "d"], 2, &["cannot read the password file d"]),
        row(&["-L", "mqtt://u:topsecret@127.0.0.1:0/a", "-e", "r", "-m", "x"], 2, &["invalid URL", "port"]).hide(&["topsecret"]),
    ]
}

#[rustfmt::skip]
fn passwd_rows() -> Vec<Row> {
    vec![
        // Arguments.
        row(&[], 2, &["<FILE>"]),
        row(&["pw"], 2, &["USER is missing"]),
        row(&["-b", "pw"], 2, &["USER is missing"]),
        row(&["-b", "pw", "bob"], 2, &["-b needs FILE, USER and PASSWORD"]),
        row(&["-b", "pw", "bob", "pw1", "extra"], 2, &["unexpected argument 'extra'"]),
        row(&["-b", "-", "bob", "pw1"], 2, &["needs -c"]),
        row(&["-U", "pw", "bob"], 2, &["-U takes FILE only"]),
        row(&["--verify", "pw"], 2, &["USER is missing"]),
        row(&["-b", "-D", "pw", "bob", "pw1"], 2, &["cannot be used with"]),
        row(&["-D", "-U", "pw", "bob"], 2, &["cannot be used with"]),
        row(&["-c", "-U", "pw"], 2, &["cannot be used with"]),
        row(&["-b", "-I", "0", "pw", "bob", "pw1"], 2, &["'--iterations <N>'"]),
        row(&["-b", "-I", "10000001", "pw", "bob", "pw1"], 2, &["'--iterations <N>'"]),
        row(&["-b", "-H", "md5", "pw", "bob", "pw1"], 2, &["'--hash <HASH>'"]),
        // User names and passwords.
        row(&["-b", "pw", "a:b", "pw1"], 2, &["must not contain ':'"]),
        row(&["-b", "pw", "#bob", "pw1"], 2, &["must not start with '#'"]),
        row(&["-b", "pw", " bob", "pw1"], 2, &["must not start or end with a space"]),
        row(&["-b", "pw", "bob ", "pw1"], 2, &["must not start or end with a space"]),
        row(&["-b", "pw", "bo\tb", "pw1"], 2, &["control characters"]),
        row(&["-b", "pw", "", "pw1"], 2, &["must not be empty"]),
        row(&["-b", "pw", "b{xff}ob", "pw1"], 2, &["invalid UTF-8"]),
        row(&["-b", "pw", "{65536*u}", "pw1"], 2, &["shorter than 65536 bytes"]),
        row(&["-b", "pw", "bob", ""], 2, &["empty password"]),
        row(&["-b", "pw", "bob", "{65536*p}"], 2, &["shorter than 65536 bytes"]).hide(&["pppppppp"]),
        row(&["pw", "bob"], 2, &["passwords do not match"]).stdin(Input::Bytes(b"a\nb\n")).hide(&["a\nb"]),
        row(&["pw", "bob"], 2, &["stdin ended before the password was repeated"]).stdin(Input::Bytes(b"a\n")),
        row(&["pw", "bob"], 2, &["empty password"]).stdin(Input::Bytes(b"\n\n")),
        row(&["pw", "bob"], 2, &["no password on stdin"]).stdin(Input::Path("empty")),
        row(&["-c", "-", "bob"], 2, &["no password on stdin"]).stdin(Input::Path("empty")),
        // Files that are not password files.
        row(&["-b", "nonexistent", "bob", "pw1"], 1, &["nonexistent does not exist"]),
        row(&["-b", "d", "bob", "pw1"], 2, &["d is a directory"]),
        row(&["-b", "-c", "d", "bob", "pw1"], 2, &["d is a directory"]),
        row(&["-b", "fifo", "bob", "pw1"], 2, &["fifo is a FIFO"]),
        row(&["-b", "-c", "/dev/null", "bob", "pw1"], 2, &["is a device"]),
        row(&["-b", "linked", "bob", "pw1"], 2, &["2 hard links"]),
        row(&["-D", "linked", "alice"], 2, &["2 hard links"]),
        row(&["-b", "/proc/self/mem", "bob", "pw1"], 1, &["cannot read /proc/self/mem"]),
        row(&["-b", "-c", "d/x/y", "bob", "pw1"], 1, &["cannot write to d/x"]),
        row(&["--verify", "d", "alice", "x"], 2, &["d is a directory"]),
        row(&["--verify", "nonexistent", "alice", "x"], 1, &["does not exist"]),
        // Corrupt and hostile entries: refused, never rewritten.
        row(&["-b", "corrupt", "bob", "pw1"], 1, &["corrupt line 1", "$7$ needs"]),
        row(&["--verify", "corrupt", "alice", "pw1"], 1, &["corrupt line 1"]),
        row(&["-U", "corrupt"], 1, &["corrupt line 1"]),
        row(&["-D", "corrupt", "alice"], 1, &["corrupt line 1"]),
        row(&["-b", "hostile", "carol", "pw1"], 1, &["corrupt line 1", "iteration count is over 10000000"]),
        row(&["--verify", "hostile", "bob", "x"], 1, &["iteration count is over 10000000"]),
        row(&["--verify", "argon", "alice", "x"], 1, &["argon2id memory m is over 1048576"]),
        row(&["-b", "argon", "bob", "pw1"], 1, &["argon2id memory m is over 1048576"]),
        row(&["-b", "emptyuser", "bob", "x"], 1, &["empty user name"]),
        row(&["-b", "nopw", "bob", "x"], 1, &["has no password"]),
        // Users and passwords that are not there.
        row(&["-D", "pw", "nosuch"], 1, &["user 'nosuch' is not in pw"]),
        row(&["--verify", "pw", "nosuch", "x"], 1, &["user 'nosuch' is not in pw"]),
        row(&["--verify", "pw", "alice", "wrong"], 1, &["wrong password for user 'alice'"]).hide(&["alicepw"]),
    ]
}

#[rustfmt::skip]
fn certgen_rows() -> Vec<Row> {
    vec![
        row(&["--out", "pki1"], 2, &["already has server.crt, server.key; nothing was written"]),
        row(&["--out", "pki1", "--client", "a"], 2, &["already has client-a.crt"]),
        row(&["--out", "new", "--host", ""], 2, &["--host: empty host name"]),
        row(&["--out", "new", "--host", "a b"], 2, &["invalid host name \"a b\""]),
        row(&["--out", "new", "--host", "bad..name"], 2, &["invalid host name \"bad..name\""]),
        row(&["--out", "new", "--host", "h{xff}"], 2, &["invalid UTF-8"]),
        row(&["--out", "new", "--client", ""], 2, &["--client: empty client name"]),
        row(&["--out", "new", "--client", "a/b"], 2, &["invalid client name \"a/b\""]),
        row(&["--out", "new", "--client", "a\nb"], 2, &["invalid client name"]),
        row(&["--out", "new", "--days", "0"], 2, &["--days must be from 1 to 36500"]),
        row(&["--out", "new", "--days", "x"], 2, &["'--days <DAYS>'"]),
        row(&["--out", "new", "--days", "99999999"], 2, &["--days must be from 1 to 36500"]),
        row(&["--out", "new", "--ca-days", "0"], 2, &["--ca-days must be from 1 to 36500"]),
        row(&["--out", "new", "--key-type", "dsa"], 2, &["'--key-type <TYPE>'"]),
        row(&["--out", "new", "--ca-cn", ""], 2, &["'--ca-cn <TEXT>'"]),
        row(&["--out", "new", "--ca-cn", "evil\nCN"], 2, &["control character"]),
        row(&["--out", "new", "--listen", "0"], 2, &["is not a port"]),
        row(&["--out", "new", "--listen", "70000"], 2, &["is not a port"]),
        row(&["--out", "new", "--listen", "a b:1"], 2, &["invalid host name \"a b\""]),
        row(&["--out", "new", "--ca-cert", "pki1/ca.crt"], 2, &["--ca-key"]),
        row(&["--out", "new", "--ca-key", "pki1/ca.key"], 2, &["--ca-cert"]),
        row(&["--out", "new", "--ca-cert", "pki1/ca.crt", "--ca-key", "pki2/ca.key"], 2, &["the CA key does not match the CA certificate"]),
        row(&["--out", "new", "--ca-cert", "nonexistent", "--ca-key", "pki1/ca.key"], 2, &["cannot read", "nonexistent"]),
        row(&["--out", "new", "--ca-cert", "d", "--ca-key", "pki1/ca.key"], 2, &["cannot read"]),
        row(&["--out", "new", "--ca-cert", "garbage.pem", "--ca-key", "pki1/ca.key"], 2, &["not a PEM certificate"]),
        row(&["--out", "new", "--ca-cert", "pki1/ca.crt", "--ca-key", "garbage.pem"], 2, &["cannot read the CA key"]),
        row(&["--out", "new", "--ca-cert", "pki1/server.crt", "--ca-key", "pki1/server.key"], 2, &["is not a CA"]),
        row(&["--out", "empty"], 2, &["is not a directory"]),
        row(&["--out", "/proc/mqtk-certgen"], 2, &["cannot write to /proc/mqtk-certgen"]),
        row(&["--out", ""], 2, &["'--out <DIR>'"]),
        row(&["--out", "new", "--bogus"], 2, &["'--bogus'"]),
    ]
}

#[rustfmt::skip]
fn sim_rows() -> Vec<Row> {
    vec![
        // Fleet size, rates and schedule.
        row(&["{B}", "--devices", "0"], 2, &["invalid value '0' for '--devices <N>'"]),
        row(&["{B}", "--count", "0"], 2, &["invalid value '0' for '--count <N>'"]),
        row(&["{B}", "--interval", "0s"], 2, &["must be more than zero"]),
        row(&["{B}", "--interval", "abc"], 2, &["is not a duration"]),
        row(&["{B}", "--jitter", "abc"], 2, &["is not a duration"]),
        row(&["{B}", "-q", "3"], 2, &["'--qos <QOS>'"]),
        row(&["{B}", "--chaos", "-1"], 2, &["'--chaos <RATE>'"]),
        row(&["{B}", "--connect-rate", "0"], 2, &["'--connect-rate <RATE>'"]),
        row(&["{B}", "--shard", "2/2"], 2, &["0 <= K < N"]),
        row(&["{B}", "--shard", "x"], 2, &["0 <= K < N"]),
        row(&["{B}", "--bind-addr", "notanip"], 2, &["invalid IP address syntax"]),
        // Names and topics.
        row(&["{B}", "--prefix", "a/#"], 2, &["contains a wildcard"]),
        row(&["{B}", "--id-template", "x{lb}bad{rb}"], 2, &["unknown placeholder"]),
        // Thresholds.
        row(&["{B}", "--fail-if", "nonsense"], 2, &["expected NAME OP NUMBER"]),
        row(&["{B}", "--fail-if", "errors>>0"], 2, &["is not a number"]),
        // Fleet files and the report.
        row(&["{B}", "--fleet", "{fx}/nofile.toml"], 2, &["cannot read the fleet file"]),
        row(&["{B}", "--fleet", "{fx}/d"], 2, &["cannot read the fleet file"]),
        row(&["{B}", "--fleet", "{fx}/fleet-bad.toml"], 2, &["fleet-bad.toml, line 4"]),
        row(&["{B}", "--fleet", "{fx}/fleet-unknown.toml"], 2, &["line 4", "unknown field `colour`"]),
        row(&["{B}", "--devices", "5", "--fleet", "{fx}/fleet-unknown.toml"], 2, &["cannot be used with"]),
        row(&["{B}", "--report", "{fx}/d"], 2, &["--report: cannot write"]),
        // One client's flags that a fleet does not take.
        row(&["{B}", "-i", "x"], 2, &["sim does not take -i/--id"]),
        row(&["{B}", "--will-topic", "w"], 2, &["sim does not take --will-topic"]),
        row(&["{B}", "-c"], 2, &["sim does not take -c"]),
    ]
}
