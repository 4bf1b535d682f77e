//! How `sub` and `rr` write received messages: the output flags compiled into a
//! `format::Output`, and a `Printer` that renders into a buffer and writes it in batches.

use std::io::{self, Write};
#[cfg(unix)]
use std::os::fd::{AsFd, OwnedFd};
#[cfg(windows)]
use std::os::windows::io::AsHandle;
use std::time::SystemTime;

#[cfg(unix)]
use rustix::event::{PollFd, PollFlags};
use tokio::sync::watch;

use crate::cli::{OutputArgs, OutputFormat};
use crate::conn::Incoming;
use crate::exit::{Failure, usage};
use crate::format::{self, Output, OutputKind, OutputSpec, Zone};

/// Output is written in one `write` per batch; a batch ends when no further message is already
/// waiting, or at this size.
pub const BATCH_BYTES: usize = 64 * 1024;

/// The output options, compiled; a bad format string is a usage error before connecting.
pub fn output(args: &OutputArgs) -> Result<Output, Failure> {
    let json = matches!(args.format, OutputFormat::Json)
        || args
            .format_string
            .as_deref()
            .is_some_and(|f| f.contains("%j") || f.contains("%J"));
    if args.pretty && !json {
        return Err(usage(
            "--pretty indents JSON: use it with --format json, or with -F and %j or %J",
        ));
    }
    Output::new(OutputSpec {
        verbose: args.verbose,
        no_newline: args.no_newline,
        format_string: args.format_string.as_deref(),
        kind: match args.format {
            OutputFormat::Plain => OutputKind::Plain,
            OutputFormat::Json => OutputKind::Json,
            OutputFormat::Hex => OutputKind::Hex,
            OutputFormat::Base64 => OutputKind::Base64,
        },
        pretty: args.pretty,
        zone: Zone::Local,
    })
    .map_err(|e| usage(e.to_string()))
}

/// Renders messages into a buffer and writes it to stdout with one `write` per batch.
///
/// Writes go straight to a duplicate of fd 1 (on Windows, of the standard output handle), past
/// std's line buffering, so a batch costs one system call however many lines it holds. The
/// caller flushes whenever no further message is waiting, which is what makes every message
/// visible the moment it arrives. A closed stdout comes back as `BrokenPipe`, which `main`
/// turns into a quiet exit 0.
///
/// A reader that goes away while no message comes (`mqtk sub ... | head -1` once `head` has
/// its line) is seen without writing, after `watch_reader`: see `reader_gone`.
pub struct Printer {
    output: Output,
    out: std::fs::File,
    buf: Vec<u8>,
    command: &'static str,
    pub quiet: bool,
    /// Becomes true when the reader of stdout has gone away (`watch_reader`).
    gone: Option<watch::Receiver<bool>>,
    /// Stdout is a Windows console, which takes text, not bytes (see `flush`).
    #[cfg(windows)]
    console: bool,
    /// When the messages of this batch were received: read once per batch, as they were all
    /// here when its first one was rendered.
    received: Option<SystemTime>,
}

impl Printer {
    pub fn new(output: Output, command: &'static str, quiet: bool) -> io::Result<Printer> {
        #[cfg(unix)]
        let out = io::stdout().as_fd().try_clone_to_owned()?;
        #[cfg(windows)]
        let out = io::stdout().as_handle().try_clone_to_owned()?;
        Ok(Printer {
            output,
            out: std::fs::File::from(out),
            buf: Vec::with_capacity(BATCH_BYTES + 4096),
            command,
            quiet,
            gone: None,
            #[cfg(windows)]
            console: std::io::IsTerminal::is_terminal(&io::stdout()),
            received: None,
        })
    }

    /// Starts watching for the reader of stdout to go away, on a thread of its own that waits
    /// in poll(2) for the error and hang-up conditions only: the kernel raises POLLERR on a
    /// pipe's write end once its last reader has closed it, and POLLHUP on a terminal that hung
    /// up. A regular file or `/dev/null` never raises either, so there the thread just waits.
    #[cfg(unix)]
    pub fn watch_reader(&mut self) -> io::Result<()> {
        let fd: OwnedFd = io::stdout().as_fd().try_clone_to_owned()?;
        let (tx, rx) = watch::channel(false);
        std::thread::Builder::new()
            .name("stdout-reader".into())
            .spawn(move || wait_for_hangup(&fd, &tx))?;
        self.gone = Some(rx);
        Ok(())
    }

    /// On Windows nothing signals a pipe's writer that the reader left, short of writing to it:
    /// a reader that goes away is found out at the next write, whose `BrokenPipe` (the pipe is
    /// being closed) ends the command as quietly as on Unix.
    #[cfg(windows)]
    pub fn watch_reader(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Resolves when the reader of stdout has gone away (after `watch_reader`); otherwise
    /// never. Cancel-safe. Tested by tests/subscribe.rs
    /// `a_reader_that_exits_ends_sub_without_another_message`.
    pub async fn reader_gone(&self) {
        self.gone().await;
    }

    /// `reader_gone` as a future that does not borrow the printer: made once, it can be
    /// waited for again and again while messages are rendered in between.
    pub fn gone(&self) -> impl Future<Output = ()> + 'static + use<> {
        let rx = self.gone.clone();
        async move {
            if let Some(mut rx) = rx
                && rx.wait_for(|gone| *gone).await.is_ok()
            {
                return;
            }
            std::future::pending().await
        }
    }

    /// Renders one message; false when it was skipped (`%J` on a payload that is not JSON,
    /// reported on stderr).
    pub fn add(&mut self, m: &Incoming) -> bool {
        let props = format_properties(m);
        let msg = format::Message {
            topic: &m.topic,
            payload: &m.payload,
            qos: m.qos,
            retain: m.retain,
            mid: m.pkid,
            properties: props.as_ref(),
            received: *self.received.get_or_insert_with(SystemTime::now),
        };
        match self.output.write(&msg, &mut self.buf) {
            Ok(()) => true,
            Err(e) => {
                if !self.quiet {
                    eprintln!("mqtk {}: error: {e}", self.command);
                }
                false
            }
        }
    }

    /// Bytes rendered but not written yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.received = None;
        if self.buf.is_empty() {
            return Ok(());
        }
        // A Windows console shows UTF-16 text, which std's stdout converts to from UTF-8; bytes
        // written to the console as they are would be read in its legacy code page. What is not
        // UTF-8 shows as U+FFFD, as on a UTF-8 terminal. Pipes and files get the bytes as they are.
        #[cfg(windows)]
        if self.console {
            let text = String::from_utf8_lossy(&self.buf);
            let mut out = io::stdout().lock();
            let r = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            self.buf.clear();
            return r;
        }
        let r = self.out.write_all(&self.buf);
        self.buf.clear();
        #[cfg(windows)]
        let r = r.map_err(reader_left);
        r
    }
}

/// A write to a pipe whose reader has gone fails on Windows with "the pipe is being closed"
/// (ERROR_NO_DATA), which std reports as `BrokenPipe`, or, on a pipe that was disconnected
/// (and under Wine on a Unix pipe), with ERROR_PIPE_NOT_CONNECTED, which std does not: both
/// mean the reader went away.
#[cfg(windows)]
fn reader_left(e: io::Error) -> io::Error {
    const ERROR_PIPE_NOT_CONNECTED: i32 = 233;
    if e.raw_os_error() == Some(ERROR_PIPE_NOT_CONNECTED) {
        io::Error::new(io::ErrorKind::BrokenPipe, e)
    } else {
        e
    }
}

#[cfg(unix)]
fn wait_for_hangup(fd: &OwnedFd, tx: &watch::Sender<bool>) {
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    loop {
        match rustix::event::poll(&mut fds, None) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(_) if fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP) => {
                let _ = tx.send(true);
                return;
            }
            // Anything else (an invalid descriptor) says nothing about the reader.
            _ => return,
        }
    }
}

/// The v5 properties of a received message as the formatter sees them (`None` on MQTT 3.1.1).
fn format_properties(m: &Incoming) -> Option<format::Properties> {
    let p = m.properties.as_ref()?;
    Some(format::Properties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        topic_alias: p.topic_alias,
        content_type: p.content_type.clone(),
        response_topic: p.response_topic.clone(),
        correlation_data: p.correlation_data.as_ref().map(|c| c.to_vec()),
        subscription_identifiers: p
            .subscription_identifiers
            .iter()
            .map(|&id| u32::try_from(id).unwrap_or(u32::MAX))
            .collect(),
        user_properties: p.user_properties.clone(),
    })
}
