//! `mqtk pub`: read the payload(s), validate everything, connect, publish, and exit only when
//! the broker has acknowledged every message.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::subscribe::Signals;
use crate::cli::{Protocol, PublishArgs};
use crate::conn::{ConnConfig, Defaults, Message, PropCommand, Session, max_payload};
use crate::exit::usage;
use crate::topic::validate_topic_name;

const DEFAULTS: Defaults = Defaults {
    protocol: Protocol::V311,
    property_commands: &[
        PropCommand::Connect,
        PropCommand::Publish,
        PropCommand::Will,
    ],
};

/// Lines per hand-over from the stdin reader, and hand-overs waiting at most: together they
/// bound the memory used on an endless stdin.
const LINE_BATCH: usize = 256;
const LINE_BATCHES: usize = 8;

enum Payload {
    One(Bytes),
    Lines,
}

pub async fn run(args: PublishArgs) -> anyhow::Result<()> {
    let cfg = ConnConfig::from_args(&args.conn, &DEFAULTS)?;
    // -t typed on the command line beats the URL's topic, which beats MQTK_TOPIC.
    let topic = match (&args.topic, &cfg.url_topic) {
        (Some(t), _) if args.conn.on_command_line("topic") => t.clone(),
        (_, Some(t)) => t.clone(),
        (Some(t), None) => t.clone(),
        (None, None) => {
            return Err(usage("no topic: give -t TOPIC (or a -L URL with a topic)").into());
        }
    };
    validate_topic_name(&topic).map_err(|e| usage(format!("invalid topic: {e}")))?;
    if cfg.protocol == Protocol::V311 && args.qos == 2 && cfg.max_inflight > 20 {
        eprintln!(
            "mqtk pub: warning: mosquitto silently drops MQTT 3.1.1 QoS 2 messages beyond 20 in \
             flight; -M {} may lose messages (use -V 5)",
            cfg.max_inflight
        );
    }

    let max = max_payload(&topic, args.qos, cfg.protocol);
    let payload = read_payload(&args, max)?;
    let mut session = Session::connect(&cfg, Vec::new()).await?;
    let result = match payload {
        Payload::One(body) => publish_repeated(&mut session, &args, &topic, body).await,
        Payload::Lines => publish_lines(&mut session, &args, &topic).await,
    };
    match result {
        Ok(()) => session.disconnect().await,
        Err(e) => {
            // Best effort: say goodbye so the broker does not publish our Will.
            let _ = tokio::time::timeout(Duration::from_secs(2), session.disconnect()).await;
            Err(e)
        }
    }
}

/// Everything but -l is read before connecting, so a bad file sends nothing.
fn read_payload(args: &PublishArgs, max: usize) -> anyhow::Result<Payload> {
    let s = &args.source;
    if s.stdin_line {
        return Ok(Payload::Lines);
    }
    let body = read_body(s.message.as_ref(), s.file.as_deref(), s.stdin_file, max)?;
    Ok(Payload::One(body))
}

/// One payload from -m, -f or -s (none of them: -n, empty), refused over `max` bytes. Shared
/// by `pub` and `rr`.
pub fn read_body(
    message: Option<&OsString>,
    file: Option<&Path>,
    stdin: bool,
    max: usize,
) -> anyhow::Result<Bytes> {
    let too_big = |len: u64| {
        usage(format!(
            "the payload is {len} bytes; MQTT allows at most {max} with this topic"
        ))
    };
    let body = if let Some(m) = message {
        Bytes::from(OsString::into_vec(m.clone()))
    } else if let Some(path) = file {
        // Check the size first: no point reading 2 GB to refuse it.
        if let Ok(meta) = std::fs::metadata(path)
            && meta.len() > max as u64
        {
            return Err(too_big(meta.len()).into());
        }
        let data = std::fs::read(path)
            .map_err(|e| usage(format!("cannot read {} ({e})", path.display())))?;
        Bytes::from(data)
    } else if stdin {
        let mut data = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut data)
            .map_err(|e| usage(format!("cannot read stdin ({e})")))?;
        if data.is_empty() {
            // An empty -s is more often a failed pipeline than a wish to clear a retained
            // message; -n says that explicitly.
            return Err(usage("stdin was empty; use -n to send an empty message").into());
        }
        Bytes::from(data)
    } else {
        Bytes::new()
    };
    if body.len() > max {
        return Err(too_big(body.len() as u64).into());
    }
    Ok(body)
}

async fn publish_repeated(
    session: &mut Session,
    args: &PublishArgs,
    topic: &str,
    body: Bytes,
) -> anyhow::Result<()> {
    for i in 0..args.repeat {
        if i > 0 && args.repeat_delay > 0.0 {
            // As mosquitto: the delay counts from the previous message's acknowledgement.
            session.flush().await?;
            tokio::time::sleep(Duration::from_secs_f64(args.repeat_delay)).await;
        }
        session
            .publish(Message::new(topic, body.clone(), args.qos, args.retain))
            .await?;
    }
    session.flush().await
}

/// -l: one message per line, `\n` stripped (a `\r` is kept, an empty line is an empty message,
/// a last line without `\n` is still sent). A reader thread feeds a bounded channel, and the
/// publisher takes a line only when the in-flight window has room, so memory stays flat.
async fn publish_lines(
    session: &mut Session,
    args: &PublishArgs,
    topic: &str,
) -> anyhow::Result<()> {
    let mut rx = spawn_line_reader();
    let mut ready: VecDeque<Bytes> = VecDeque::new();
    let mut eof = false;
    // Ctrl-C or SIGTERM (`timeout 60 mqtk pub -l`) ends the input, not the delivery: what was
    // read is published and acknowledged, then DISCONNECT (so the Will is not published).
    let mut signals = Signals::new()?;
    let mut stopping = false;
    loop {
        while !ready.is_empty() && session.has_room(args.qos) {
            let body = ready.pop_front().unwrap();
            session
                .publish(Message::new(topic, body, args.qos, args.retain))
                .await?;
        }
        if (eof || stopping) && ready.is_empty() {
            break;
        }
        tokio::select! {
            batch = rx.recv(), if ready.is_empty() && !eof && !stopping => match batch {
                Some(Ok(lines)) => ready.extend(lines),
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("cannot read stdin")),
                None => eof = true,
            },
            _ = signals.recv(), if !stopping => {
                stopping = true;
                while let Ok(Ok(lines)) = rx.try_recv() {
                    ready.extend(lines);
                }
            }
            r = session.process_next() => r?,
        }
    }
    // A second signal gives up waiting for the acknowledgements.
    tokio::select! {
        r = session.flush() => r,
        _ = signals.recv() => Err(anyhow::anyhow!(
            "interrupted with {} message(s) not yet acknowledged",
            session.outstanding()
        )),
    }
}

/// Reads stdin on its own thread and hands lines over in batches: one wake-up per batch
/// rather than per line keeps the two threads from ping-ponging on every message. A batch
/// ends when the buffered input runs out (so interactive input is not held back) or at
/// `LINE_BATCH` lines; at most `LINE_BATCHES` batches wait, which bounds memory.
fn spawn_line_reader() -> mpsc::Receiver<std::io::Result<Vec<Bytes>>> {
    let (tx, rx) = mpsc::channel(LINE_BATCHES);
    std::thread::spawn(move || {
        let mut input = BufReader::with_capacity(256 * 1024, std::io::stdin().lock());
        let mut batch = Vec::with_capacity(LINE_BATCH);
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    batch.push(Bytes::from(line));
                    if batch.len() >= LINE_BATCH || input.buffer().is_empty() {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(LINE_BATCH));
                        if tx.blocking_send(Ok(full)).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });
    rx
}
