//! Signals and the -W clock, as `sub`, `rr` and `pub -l` wait for them.

use std::io;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;

use crate::exit::{self, Failure};

/// SIGINT and SIGTERM as one stream. Installing the handlers replaces the default "die at
/// once", so a signal becomes a clean DISCONNECT.
pub struct Signals {
    int: Signal,
    term: Signal,
}

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
