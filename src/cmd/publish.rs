//! `mqtk pub`: read the payload(s), validate everything, connect, publish, and exit only when
//! the broker has acknowledged every message.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use super::input::{check_stdin, read_body, spawn_line_reader};
use super::signals::Signals;
use crate::cli::{Protocol, PublishArgs};
use crate::conn::{ConnConfig, Defaults, Message, Options, PropCommand, Session, max_payload};
use crate::exit::usage;
use crate::topic::validate_topic_name;

const DEFAULTS: Defaults = Defaults {
    protocol: Protocol::V311,
    property_commands: &[
        PropCommand::Connect,
        PropCommand::Publish,
        PropCommand::Will,
        PropCommand::Disconnect,
    ],
};

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
    let opts = Options {
        max_qos: args.qos,
        reconnect_timeout: args.reconnect_timeout.map(Duration::from_secs_f64),
    };
    let mut session = Session::open(&cfg, Vec::new(), Vec::new(), opts).await?;
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

/// Everything but -l is read before connecting, so a bad file sends nothing; for -l, a stdin
/// that cannot be read at all (a directory) is refused before connecting too.
fn read_payload(args: &PublishArgs, max: usize) -> anyhow::Result<Payload> {
    let s = &args.source;
    if s.stdin_line {
        check_stdin()?;
        return Ok(Payload::Lines);
    }
    let body = read_body(s.message.as_ref(), s.file.as_deref(), s.stdin_file, max)?;
    Ok(Payload::One(body))
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
    // The first signal ends the input, also when stdin had already ended; a second one gives
    // up waiting for the acknowledgements.
    let mut signalled = stopping;
    loop {
        tokio::select! {
            r = session.flush() => return r,
            _ = signals.recv() => {
                if signalled {
                    return Err(anyhow::anyhow!(
                        "interrupted with {} message(s) not yet acknowledged",
                        session.outstanding()
                    ));
                }
                signalled = true;
            }
        }
    }
}
