//! The exit-code contract (README "Exit codes"; `codes_are_the_documented_ones` below pins the
//! numbers) and the classification of errors into it. Everything that can fail returns
//! `anyhow::Error`; the code is picked here by walking the error chain, so commands never call
//! `std::process::exit` themselves.

use std::fmt;
use std::io;

/// Exit statuses, one per failure class. The numbers are the contract: scripts test them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success.
    Success,
    /// 1: a runtime failure not covered below (connection lost, I/O error).
    Failure,
    /// 2: bad flag or value, invalid topic, unreadable input file — nothing was sent.
    Usage,
    /// 3: could not connect: DNS, TCP refused, TLS handshake or certificate verification.
    Connect,
    /// 4: the broker refused the connection: bad credentials, not authorized, bad version.
    Refused,
    /// 5: the broker rejected a publish or subscription.
    Rejected,
    /// 6: `sim`: a --fail-if threshold failed.
    Threshold,
    /// 27: the -W timeout expired (same number as mosquitto_sub).
    Timeout,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Connect => 3,
            ExitStatus::Refused => 4,
            ExitStatus::Rejected => 5,
            ExitStatus::Threshold => 6,
            ExitStatus::Timeout => 27,
        }
    }
}

/// An error that knows its exit status, and optionally a hint for the user.
///
/// Build these with [`usage`], [`connect`], [`refused`], [`rejected`], [`timeout`]; anything
/// else that reaches `main` is a plain runtime failure (1).
#[derive(Debug)]
pub struct Failure {
    pub status: ExitStatus,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    pub fn new(status: ExitStatus, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

/// Exit 2: the user asked for something impossible; nothing was sent or written.
pub fn usage(message: impl Into<String>) -> Failure {
    Failure::new(ExitStatus::Usage, message)
}

/// Exit 3: the broker could not be reached.
pub fn connect(message: impl Into<String>) -> Failure {
    Failure::new(ExitStatus::Connect, message)
}

/// Exit 4: the broker refused the connection.
pub fn refused(message: impl Into<String>) -> Failure {
    Failure::new(ExitStatus::Refused, message)
}

/// Exit 5: the broker rejected a publish or a subscription.
pub fn rejected(message: impl Into<String>) -> Failure {
    Failure::new(ExitStatus::Rejected, message)
}

/// Exit 6: a `sim --fail-if` check failed.
pub fn threshold(message: impl Into<String>) -> Failure {
    Failure::new(ExitStatus::Threshold, message)
}

/// Exit 27: the -W timeout expired.
pub fn timeout(message: impl Into<String>) -> Failure {
    Failure::new(ExitStatus::Timeout, message)
}

/// What `main` does with an error: the status, and whether to print anything at all.
pub struct Classified<'a> {
    pub status: ExitStatus,
    pub hint: Option<&'a str>,
    /// A closed stdout (`mqtk sub | head -1`) is how pipelines end, not an error.
    pub silent: bool,
}

pub fn classify(err: &anyhow::Error) -> Classified<'_> {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return Classified {
                status: f.status,
                hint: f.hint.as_deref(),
                silent: false,
            };
        }
        if let Some(e) = cause.downcast_ref::<io::Error>()
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            return Classified {
                status: ExitStatus::Success,
                hint: None,
                silent: true,
            };
        }
    }
    Classified {
        status: ExitStatus::Failure,
        hint: None,
        silent: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_are_the_documented_ones() {
        let all = [
            (ExitStatus::Success, 0),
            (ExitStatus::Failure, 1),
            (ExitStatus::Usage, 2),
            (ExitStatus::Connect, 3),
            (ExitStatus::Refused, 4),
            (ExitStatus::Rejected, 5),
            (ExitStatus::Threshold, 6),
            (ExitStatus::Timeout, 27),
        ];
        for (status, code) in all {
            assert_eq!(status.code(), code, "{status:?}");
        }
    }

    #[test]
    fn classification_sees_through_context() {
        let e: anyhow::Error = Err::<(), _>(refused("not authorized"))
            .context("connecting")
            .unwrap_err();
        assert_eq!(classify(&e).status, ExitStatus::Refused);
    }

    #[test]
    fn broken_pipe_is_a_quiet_success() {
        let e = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("stdout");
        let c = classify(&e);
        assert_eq!(c.status, ExitStatus::Success);
        assert!(c.silent);
    }

    #[test]
    fn anything_else_is_a_runtime_failure() {
        let e = anyhow::anyhow!("disk on fire");
        assert_eq!(classify(&e).status, ExitStatus::Failure);
    }
}
