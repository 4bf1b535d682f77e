//! A command run on a pseudo-terminal (`script` from util-linux), for what only a terminal
//! shows: a password prompt, whether typed text is echoed, a progress line. What the terminal
//! shows is collected as it comes, so a test can wait for the prompt and type only then, as a
//! person would.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub struct Terminal {
    child: Child,
    stdin: Option<ChildStdin>,
    shown: mpsc::Receiver<String>,
    screen: String,
}

impl Terminal {
    /// Runs the shell command `line` on a terminal of its own, with no MQTK_PASSWORD.
    pub fn spawn(line: &str) -> Terminal {
        Terminal::spawn_with(line, |c| {
            c.env_remove("MQTK_PASSWORD");
        })
    }

    /// Runs the shell command `line` on a terminal of its own, in the environment and
    /// directory `setup` gives. The command's stdout and stderr both go to the terminal.
    pub fn spawn_with(line: &str, setup: impl FnOnce(&mut Command)) -> Terminal {
        let mut c = Command::new("script");
        c.args(["-qec", line, "/dev/null"]);
        setup(&mut c);
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script (util-linux) runs a command on a pseudo-terminal");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, shown) = mpsc::channel();
        thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 256];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                let _ = tx.send(String::from_utf8_lossy(&seen).into_owned());
            }
        });
        let stdin = child.stdin.take();
        Terminal {
            child,
            stdin,
            shown,
            screen: String::new(),
        }
    }

    /// Waits until the terminal shows `text`; panics with what it shows after `limit`.
    pub fn wait_for(&mut self, text: &str, limit: Duration) {
        while !self.screen.contains(text) {
            self.screen = self
                .shown
                .recv_timeout(limit)
                .unwrap_or_else(|_| panic!("no {text:?}; the terminal showed {:?}", self.screen));
        }
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the terminal's input is open");
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the command to end; kills it and panics with what the terminal showed if it
    /// is still running after `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                self.kill();
                self.catch_up();
                panic!(
                    "still running after {limit:?}; the terminal showed {:?}",
                    self.screen
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // What `script` copied out last reaches the reader just after it exits.
        thread::sleep(Duration::from_millis(20));
        self.catch_up();
        status
    }

    fn catch_up(&mut self) {
        while let Ok(s) = self.shown.try_recv() {
            self.screen = s;
        }
    }

    /// Everything the terminal has shown so far.
    pub fn screen(&self) -> &str {
        &self.screen
    }

    /// Ends the command (`script` and, through the closed terminal, what runs on it).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.kill();
    }
}
