//! Signals and the -W clock, as `sub`, `rr` and `pub -l` wait for them.

use std::io;

use tokio::time::Instant;

use crate::exit::{self, Failure};

#[cfg(unix)]
use tokio::signal::unix::{Signal, SignalKind, signal};
#[cfg(windows)]
use tokio::signal::windows::{CtrlBreak, CtrlC, CtrlClose, ctrl_break, ctrl_c, ctrl_close};

/// SIGINT and SIGTERM as one stream. Installing the handlers replaces the default "die at
/// once", so a signal becomes a clean DISCONNECT.
#[cfg(unix)]
pub struct Signals {
    int: Signal,
    term: Signal,
}

#[cfg(unix)]
impl Signals {
    pub fn new() -> io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the next SIGINT or SIGTERM. Cancel-safe.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// The console's Ctrl-C, Ctrl-Break and close-window events as one stream: what SIGINT and
/// SIGTERM are on Unix. Installing the handler replaces the default "die at once", so an event
/// becomes a clean DISCONNECT. On a close, Windows ends the process once the handler returns
/// or after about 5 seconds; tokio's handler does not return, which leaves those seconds for
/// the goodbyes.
#[cfg(windows)]
pub struct Signals {
    c: CtrlC,
    brk: CtrlBreak,
    close: CtrlClose,
}

#[cfg(windows)]
impl Signals {
    pub fn new() -> io::Result<Signals> {
        Ok(Signals {
            c: ctrl_c()?,
            brk: ctrl_break()?,
            close: ctrl_close()?,
        })
    }

    /// Waits for the next Ctrl-C, Ctrl-Break or close of the console. Cancel-safe.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.c.recv() => {}
            _ = self.brk.recv() => {}
            _ = self.close.recv() => {}
        }
    }
}

/// The -W timeout expired (exit 27).
pub fn timed_out() -> Failure {
    exit::timeout("timed out")
}

/// Sleeps until `deadline`, or forever without one.
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
