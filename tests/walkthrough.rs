//! The README's lesson ("The lesson with mqtk"), followed as written: each of its command lines
//! runs, in order, through `sh` with `mqtk` and a pass-through `sudo` on PATH, HOME in a temp
//! dir, `/etc/mosquitto` moved into the temp dir and the broker on free ports (`-p 8883` becomes
//! the TLS listener's port, and the plain port comes from MQTK_PORT). What a person does with
//! an editor or systemctl (write a config block, restart the broker) is done here from the
//! README's own blocks. The output the README shows under a `$` line is checked against what
//! the command prints, `$ echo $?` against its exit code, and every command line of the
//! section must have been run or stood in for by the end.

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::docs::{self, Block};
use crate::support::terminal::Terminal;
use crate::support::{Broker, BrokerConfig, bin, free_port};

const LESSON: &str = "The lesson with mqtk";
const LIMIT: Duration = Duration::from_secs(20);

/// A command line of the lesson, and whether the test has run it (or stood in for it).
struct Line {
    subsection: String,
    text: String,
    done: bool,
}

struct Lesson {
    tmp: TempDir,
    etc: PathBuf,
    home: PathBuf,
    path: OsString,
    blocks: Vec<Block>,
    lines: Vec<Line>,
    /// `NAME=value` lines run so far, with their subsection: the lines after them in the same
    /// subsection see them.
    assignments: Vec<(String, String)>,
    /// The subsection of the line run last.
    current: String,
    broker: Option<Broker>,
    tls_port: Option<u16>,
    background: Vec<Background>,
}

impl Lesson {
    fn new() -> Lesson {
        let blocks: Vec<Block> = docs::blocks(&docs::readme())
            .into_iter()
            .filter(|b| b.section == LESSON)
            .collect();
        assert!(!blocks.is_empty(), "README.md has no section {LESSON:?}");
        let lines = blocks
            .iter()
            .flat_map(|b| {
                docs::commands(b).into_iter().map(|text| Line {
                    subsection: b.subsection.clone(),
                    text,
                    done: false,
                })
            })
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        let etc = tmp.path().join("etc/mosquitto");
        let home = tmp.path().join("home");
        let shims = tmp.path().join("bin");
        for dir in [&etc.join("conf.d"), &home, &shims] {
            fs::create_dir_all(dir).unwrap();
        }
        std::os::unix::fs::symlink(bin(), shims.join("mqtk")).unwrap();
        fs::write(shims.join("sudo"), "#!/bin/sh\nexec \"$@\"\n").unwrap();
        Command::new("chmod")
            .arg("755")
            .arg(shims.join("sudo"))
            .status()
            .unwrap();
        let mut path = OsString::from(&shims);
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        Lesson {
            tmp,
            etc,
            home,
            path,
            blocks,
            lines,
            assignments: Vec::new(),
            current: String::new(),
            broker: None,
            tls_port: None,
            background: Vec::new(),
        }
    }

    /// Marks the first line of the lesson not yet done that reads `text`; returns its index.
    fn take(&mut self, text: &str) -> usize {
        let i = self
            .lines
            .iter()
            .position(|l| !l.done && l.text == text)
            .unwrap_or_else(|| panic!("the README's lesson has no (more) line {text:?}"));
        self.lines[i].done = true;
        self.current = self.lines[i].subsection.clone();
        i
    }

    /// A line the test stands in for (installing the package, chown, kill).
    fn stand_in(&mut self, text: &str) {
        self.take(text);
    }

    /// The line as this machine runs it: paths moved into the temp dir, port 8883 moved to
    /// the TLS listener (with `--tls-use-os-certs` where no `--cafile` is given, which is what
    /// `-p 8883` alone means).
    fn localize(&self, text: &str) -> String {
        let mut s = text.replace("/etc/mosquitto", &self.etc.display().to_string());
        if let Some(tls) = self.tls_port {
            let with = if text.contains("--cafile") || text.starts_with("T=") {
                format!("-p {tls}")
            } else {
                format!("-p {tls} --tls-use-os-certs")
            };
            s = s.replace("-p 8883", &with);
        }
        s
    }

    /// What a person would see: the temp dir and the ports as the README writes them.
    fn delocalize(&self, text: &str) -> String {
        let mut s = text.replace(&self.etc.display().to_string(), "/etc/mosquitto");
        if let Some(tls) = self.tls_port {
            s = s.replace(&format!(":{tls}"), ":8883");
        }
        if let Some(b) = &self.broker {
            s = s.replace(&format!(":{}", b.port), ":1883");
        }
        s
    }

    fn script(&self, text: &str) -> String {
        let mut script: String = self
            .assignments
            .iter()
            .filter(|(subsection, _)| *subsection == self.current)
            .map(|(_, a)| format!("{a}\n"))
            .collect();
        script.push_str(&self.localize(text));
        script
    }

    fn sh(&self, script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        self.environment(&mut c);
        c
    }

    /// The environment of the lesson's commands: our HOME and PATH, no MQTK_* of ours, and the
    /// broker's plain port for commands that name none.
    fn environment(&self, c: &mut Command) {
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("MQTK_") {
                c.env_remove(&k);
            }
        }
        c.env_remove("XDG_CONFIG_HOME")
            .env("HOME", &self.home)
            .env("PATH", &self.path)
            .env("SHELL", "/bin/sh")
            .current_dir(self.tmp.path());
        if let Some(b) = &self.broker {
            c.env("MQTK_PORT", b.port.to_string());
        }
    }

    /// Runs a line with `stdin`; returns its output.
    fn run_with(&mut self, text: &str, stdin: &str) -> Output {
        self.take(text);
        let mut child = self
            .sh(&self.script(text))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        wait_output(child, LIMIT)
    }

    /// Runs a line that must succeed.
    fn ok(&mut self, text: &str) -> Output {
        self.ok_with(text, "")
    }

    fn ok_with(&mut self, text: &str, stdin: &str) -> Output {
        let out = self.run_with(text, stdin);
        assert!(
            out.status.success(),
            "`{text}` failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `NAME=value`, kept for the lines after it in this subsection.
    fn assign(&mut self, text: &str) {
        let i = self.take(text);
        let subsection = self.lines[i].subsection.clone();
        let line = self.localize(text);
        self.assignments.push((subsection, line));
    }

    /// The output the README shows under `$ text` in a console block, whether a `$ echo $?`
    /// follows, and the exit code it shows (0 when there is none).
    fn shown(&self, text: &str) -> Shown {
        for block in self.blocks.iter().filter(|b| b.lang == "console") {
            let Some(at) = block
                .lines
                .iter()
                .position(|l| l.strip_prefix("$ ") == Some(text))
            else {
                continue;
            };
            let mut rest = block.lines[at + 1..].iter();
            let mut shown = Shown {
                output: Vec::new(),
                echo: false,
                code: 0,
            };
            let mut next = rest.next();
            while let Some(l) = next.filter(|l| !l.starts_with("$ ")) {
                shown.output.push(l.trim().to_string());
                next = rest.next();
            }
            if next.is_some_and(|l| l == "$ echo $?") {
                shown.echo = true;
                shown.code = rest
                    .next()
                    .and_then(|l| l.trim().parse().ok())
                    .expect("a number after `$ echo $?`");
            }
            return shown;
        }
        panic!("no `$ {text}` in a console block of the lesson")
    }

    /// Runs a `$` line of a console block and checks what the README shows for it.
    fn console(&mut self, text: &str) {
        let shown = self.shown(text);
        let out = self.run_with(text, "");
        let seen = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.check_shown(text, &shown, out.status.code(), &seen);
    }

    fn check_shown(&mut self, text: &str, shown: &Shown, status: Option<i32>, seen: &str) {
        let seen = self.delocalize(seen);
        let seen_lines: Vec<&str> = seen.lines().map(str::trim).collect();
        for line in &shown.output {
            assert!(
                seen_lines.contains(&line.as_str()),
                "`{text}`: the README shows {line:?}, the command printed:\n{seen}"
            );
        }
        assert_eq!(status, Some(shown.code), "`{text}` printed:\n{seen}");
        if shown.echo {
            self.take("echo $?");
        }
    }

    /// A `$` line that prompts for a password on the terminal: run on a pseudo-terminal
    /// (`script`), the password typed once the prompt is there.
    fn console_on_terminal(&mut self, text: &str, password: &str) {
        let shown = self.shown(text);
        self.take(text);
        let mut term = Terminal::spawn_with(&self.script(text), |c| self.environment(c));
        term.wait_for("Password: ", LIMIT);
        term.type_line(password);
        let status = term.wait(LIMIT);
        let screen = term.screen().to_string();
        assert!(!screen.contains(password), "the password was echoed");
        self.check_shown(text, &shown, status.code(), &screen);
    }

    /// Starts a line in the background (a subscriber; `&` at its end or not) and returns once
    /// its subscription is in place (MQTK_DEBUG's trace shows the SUBACK).
    fn spawn(&mut self, text: &str) -> usize {
        self.take(text);
        let line = text.strip_suffix('&').unwrap_or(text).trim_end();
        // A single command is exec'ed, so its pid is mqtk's (`kill -9 $!`).
        let script = if line.contains('|') {
            self.script(line)
        } else {
            self.script(&format!("exec {line}"))
        };
        let mut child = self
            .sh(&script)
            .env("MQTK_DEBUG", "true")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let bg = Background {
            stdout: collect(child.stdout.take().unwrap()),
            stderr: collect(child.stderr.take().unwrap()),
            child,
            text: text.to_string(),
        };
        let deadline = Instant::now() + LIMIT;
        while !bg.stderr().contains("received SUBACK") {
            assert!(
                Instant::now() < deadline,
                "`{text}` did not subscribe:\n{}",
                bg.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
        self.background.push(bg);
        self.background.len() - 1
    }

    /// Waits until background job `job` has printed `n` lines, and returns them.
    fn lines_of(&self, job: usize, n: usize) -> Vec<String> {
        let bg = &self.background[job];
        let deadline = Instant::now() + LIMIT;
        loop {
            let out = bg.stdout();
            if out.matches('\n').count() >= n {
                return out.lines().map(String::from).collect();
            }
            assert!(
                Instant::now() < deadline,
                "`{}` printed {out:?}; stderr:\n{}",
                bg.text,
                bg.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The lines of the plain code block that follows the prose line `before`.
    fn block_after(&self, before: &str) -> Vec<String> {
        self.blocks
            .iter()
            .find(|b| b.before == before)
            .unwrap_or_else(|| panic!("no code block after {before:?}"))
            .lines
            .clone()
    }

    /// Writes the lesson's block whose first line is `# PATH`, as a person would with an editor.
    fn write_block(&self, path: &str) -> PathBuf {
        let block = self
            .blocks
            .iter()
            .find(|b| {
                b.lines
                    .first()
                    .and_then(|l| l.strip_prefix("# "))
                    .and_then(|l| l.split_whitespace().next())
                    == Some(path)
            })
            .unwrap_or_else(|| panic!("no block for {path} in the lesson"));
        let text: String = block
            .lines
            .iter()
            .map(|l| {
                format!(
                    "{}\n",
                    l.replace("/home/me", &self.home.display().to_string())
                )
            })
            .collect();
        let target = self.file(path);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(&target, self.localize(&text)).unwrap();
        target
    }

    fn file(&self, path: &str) -> PathBuf {
        match path.strip_prefix("~/") {
            Some(rest) => self.home.join(rest),
            None => PathBuf::from(self.localize(path)),
        }
    }

    /// `systemctl restart mosquitto`: a broker with what /etc/mosquitto/conf.d holds (none
    /// there: the package's defaults, anonymous clients on localhost), and what the old one
    /// kept. Jobs in the background end with the old broker.
    fn restart(&mut self) {
        for mut bg in self.background.drain(..) {
            bg.kill();
        }
        self.broker = None;
        self.tls_port = None;
        let mut confs: Vec<PathBuf> = fs::read_dir(self.etc.join("conf.d"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        confs.sort();
        let mut cfg = if confs.is_empty() {
            BrokerConfig::plain()
        } else {
            BrokerConfig::default()
        };
        // As Debian's mosquitto.conf: retained messages survive a restart.
        let store = self.tmp.path().join("var/lib/mosquitto");
        fs::create_dir_all(&store).unwrap();
        cfg.global_lines.push("persistence true".into());
        cfg.global_lines
            .push(format!("persistence_location {}/", store.display()));
        for conf in confs {
            for line in fs::read_to_string(conf).unwrap().lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (key, value) = line.split_once(' ').unwrap_or((line, ""));
                match key {
                    // The plain listener is the harness's own, on a free port.
                    "listener" if value == "1883" => {}
                    "listener" => {
                        assert_eq!(value, "8883", "{line}");
                        let port = free_port();
                        self.tls_port = Some(port);
                        cfg.global_lines.push(format!("listener {port} 127.0.0.1"));
                    }
                    "allow_anonymous" => cfg.anonymous = value == "true",
                    "password_file" => cfg.password_file = Some(value.into()),
                    "acl_file" => cfg.acl_file = Some(value.into()),
                    _ => cfg.global_lines.push(line.to_string()),
                }
            }
        }
        self.broker = Some(Broker::start(cfg));
    }

    /// Every command line of the lesson has been run or stood in for.
    fn finish(mut self) {
        let left: Vec<&str> = self
            .lines
            .iter()
            .filter(|l| !l.done)
            .map(|l| l.text.as_str())
            .collect();
        assert!(
            left.is_empty(),
            "lines of the README's lesson not run: {left:#?}"
        );
        for mut bg in self.background.drain(..) {
            bg.kill();
        }
    }
}

impl Drop for Lesson {
    fn drop(&mut self) {
        for bg in &mut self.background {
            bg.kill();
        }
    }
}

/// What the README shows for a `$` line.
struct Shown {
    output: Vec<String>,
    /// A `$ echo $?` follows, showing `code`.
    echo: bool,
    code: i32,
}

/// A job in the background: `sh` in a process group of its own, its output collected.
struct Background {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    text: String,
}

impl Background {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// SIGKILL to the job's process group (the whole pipeline), once.
    fn kill(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
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

/// Waits for a child's exit and collects what is left of its stdout and stderr.
fn wait_output(mut child: Child, limit: Duration) -> Output {
    let out = child.stdout.take().map(collect).unwrap_or_default();
    let err = child.stderr.take().map(collect).unwrap_or_default();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "still running after {limit:?}: {}{}",
                String::from_utf8_lossy(&out.lock().unwrap()),
                String::from_utf8_lossy(&err.lock().unwrap())
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    thread::sleep(Duration::from_millis(20));
    let stdout = out.lock().unwrap().clone();
    let stderr = err.lock().unwrap().clone();
    Output {
        status,
        stdout,
        stderr,
    }
}

#[test]
fn the_readme_lesson_runs_as_written() {
    let mut l = Lesson::new();
    let readme = docs::readme();

    // Exercises 1 and 2.
    l.stand_in(
        "sudo apt-get install -y mosquitto      # the broker; mqtk takes the place of mosquitto-clients",
    );
    l.restart();
    let all = l.spawn("mqtk sub -h localhost -t '#' -v");
    l.ok(r#"mqtk pub -h localhost -t home/sensors/temp -m '{"device":"sensor-01","temp":21.7}' -q 1"#);
    l.ok("mqtk pub -h localhost -t home/sensors/status -m online -q 1 -r");
    let device = l.spawn(
        "mqtk sub -h localhost -t home/sensors/commands --will-topic home/sensors/status --will-payload offline --will-qos 1 --will-retain &",
    );
    l.stand_in("kill -9 $!");
    l.background[device].kill();
    assert_eq!(
        l.lines_of(all, 3),
        l.block_after("The first terminal shows:")
    );
    l.console("mqtk sub -h localhost -t 'home/+/status' -v --retained-only");

    // Exercise 3.
    l.ok_with(
        "sudo mqtk passwd -c /etc/mosquitto/passwd sensor",
        "the-sensor-password\nthe-sensor-password\n",
    );
    l.ok_with(
        "sudo mqtk passwd /etc/mosquitto/passwd dashboard",
        "the-dashboard-password\nthe-dashboard-password\n",
    );
    l.stand_in("sudo chown mosquitto: /etc/mosquitto/passwd");
    l.write_block("/etc/mosquitto/conf.d/lesson.conf");
    l.restart();
    l.console("mqtk pub -h localhost -t home/sensors/temp -m 21.5");
    l.console("mqtk pub -h localhost -u sensor -P wrong -t home/sensors/temp -m 21.5");
    l.console_on_terminal(
        "mqtk pub -h localhost -u sensor -P -t home/sensors/temp -m 21.5",
        "the-sensor-password",
    );
    l.ok("mkdir -p ~/.config/mqtk");
    l.ok("printf '%s\\n' 'the-sensor-password' > ~/.config/mqtk/sensor.pw");
    l.ok("printf '%s\\n' 'the-dashboard-password' > ~/.config/mqtk/dashboard.pw");
    l.ok("chmod 600 ~/.config/mqtk/sensor.pw ~/.config/mqtk/dashboard.pw");
    l.write_block("~/.config/mqtk/config.toml");
    let dashboard = l.spawn("mqtk sub --profile dashboard -t 'home/#' -v &");
    l.ok("mqtk pub --profile sensor -t home/sensors/temp -m 21.5 -q 1");
    // First the retained status (the Will of exercise 2), then the new reading.
    assert_eq!(
        l.lines_of(dashboard, 2),
        ["home/sensors/status offline", "home/sensors/temp 21.5"]
    );

    // Exercise 4.
    let device = l.spawn(
        r#"mqtk sub --profile sensor -t home/sensors/commands --format json | jq --unbuffered -r '.payload | fromjson? | to_entries[] | "\(.key) -> \(.value)"' &"#,
    );
    l.ok(r#"mqtk pub --profile dashboard -t home/sensors/commands -m '{"led":"on"}'"#);
    assert_eq!(l.lines_of(device, 1), ["led -> on"]);
    assert!(readme.contains("The subscriber prints `led -> on`."));
    let shell_loop = l.spawn(
        r#"mqtk sub --profile sensor -t home/sensors/commands -F '%J' | jq --unbuffered -r '.payload.led // empty' | while read -r state; do echo "LED $state"; done &"#,
    );
    l.ok(r#"mqtk pub --profile dashboard -t home/sensors/commands -m '{"led":"off"}'"#);
    assert_eq!(l.lines_of(shell_loop, 1), ["LED off"]);
    assert!(readme.contains("prints `LED off`."));

    // Exercise 5.
    l.ok("sudo mqtk certgen --out /etc/mosquitto/certs");
    l.ok("sudo cp /etc/mosquitto/certs/mosquitto-tls.conf /etc/mosquitto/conf.d/");
    l.stand_in("sudo chown mosquitto: /etc/mosquitto/certs/server.key");
    let conf = l.delocalize(&fs::read_to_string(l.etc.join("conf.d/mosquitto-tls.conf")).unwrap());
    for line in l.block_after("The listener it adds:") {
        assert!(conf.lines().any(|c| c == line), "{line:?} not in:\n{conf}");
    }
    l.stand_in("sudo systemctl restart mosquitto");
    l.restart();
    let dashboard = l.spawn(
        "mqtk sub --profile dashboard -p 8883 --cafile /etc/mosquitto/certs/ca.crt -t 'home/#' -v &",
    );
    l.ok("mqtk pub --profile sensor -p 8883 --cafile /etc/mosquitto/certs/ca.crt -t home/sensors/temp -m 22.0");
    assert_eq!(l.lines_of(dashboard, 2)[1], "home/sensors/temp 22.0");
    l.console("mqtk pub --profile sensor -p 8883 -t home/sensors/temp -m 22.0");

    // The ACL challenge.
    l.write_block("/etc/mosquitto/acl");
    assert!(
        readme.contains("Add `acl_file /etc/mosquitto/acl` to `/etc/mosquitto/conf.d/lesson.conf`")
    );
    let lesson_conf = l.file("/etc/mosquitto/conf.d/lesson.conf");
    let mut conf = fs::read_to_string(&lesson_conf).unwrap();
    conf.push_str(&l.localize("acl_file /etc/mosquitto/acl\n"));
    fs::write(&lesson_conf, conf).unwrap();
    l.restart();
    l.assign(r#"T="-p 8883 --cafile /etc/mosquitto/certs/ca.crt -V 5 -q 1""#);
    let dashboard = l.spawn("mqtk sub --profile dashboard $T -t 'home/#' -v &");
    l.ok("mqtk pub --profile sensor $T -t home/sensors/temp -m 22.5");
    assert_eq!(l.lines_of(dashboard, 2)[1], "home/sensors/temp 22.5");
    assert!(readme.contains("The dashboard prints `home/sensors/temp 22.5`."));
    l.console("mqtk pub --profile sensor $T -t home/other -m x");
    l.console("mqtk pub --profile dashboard $T -t home/sensors/temp -m x");
    l.console("mqtk sub --profile sensor $T -t 'home/#' -v -W 2");
    // Nothing refused reached the dashboard: the next allowed message is the next it prints.
    l.assignments.clear();
    let t = l.localize("-p 8883 --cafile /etc/mosquitto/certs/ca.crt -V 5 -q 1");
    let out = l
        .sh(&format!(
            "mqtk pub --profile sensor {t} -t home/sensors/hum -m 40"
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        l.lines_of(dashboard, 3)[1..],
        ["home/sensors/temp 22.5", "home/sensors/hum 40"]
    );

    l.finish();
}
