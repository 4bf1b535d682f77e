//! `mqtk rr`: subscribe to the response topic, publish one request once the subscription is
//! acknowledged (so the answer cannot arrive before we listen), print the first response that
//! belongs to it, and exit.
//!
//! On MQTT v5 (the default) the request carries the response topic and a correlation data made
//! fresh for this run (or the one given with `-D publish correlation-data`), and only a message
//! with that correlation data is the answer, so a stale or concurrent reply on a shared
//! response topic is never printed. On 3.1.1 there are no properties: the first live message on
//! the response topic is the answer (a retained one is a leftover, never the reply).

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::input::read_body;
use super::output::{Printer, output};
use super::signals::{Signals, sleep_until, timed_out};
use crate::cli::{Protocol, RequestArgs};
use crate::conn::{
    ConnConfig, Defaults, Event, Message, Options, PropCommand, Session, SubCode, Subscription,
    max_payload,
};
use crate::exit::{self, usage};
use crate::topic::validate_topic_name;

const DEFAULTS: Defaults = Defaults {
    protocol: Protocol::V5,
    property_commands: &[
        PropCommand::Connect,
        PropCommand::Publish,
        PropCommand::Will,
        PropCommand::Subscribe,
        PropCommand::Disconnect,
    ],
};

pub async fn run(args: RequestArgs) -> anyhow::Result<()> {
    let cfg = ConnConfig::from_args(&args.conn, &DEFAULTS)?;
    // -t typed on the command line beats the URL's topic, which beats MQTK_TOPIC.
    let topic = match (&args.topic, &cfg.url_topic) {
        (Some(t), _) if args.conn.on_command_line("topic") => t.clone(),
        (_, Some(t)) => t.clone(),
        (Some(t), None) => t.clone(),
        (None, None) => {
            return Err(usage("no request topic: give -t TOPIC (or a -L URL with a topic)").into());
        }
    };
    validate_topic_name(&topic).map_err(|e| usage(format!("invalid request topic: {e}")))?;
    validate_topic_name(&args.response_topic)
        .map_err(|e| usage(format!("invalid response topic (-e): {e}")))?;
    if cfg.props.has_publish_response_topic() {
        return Err(
            usage("the response topic is set with -e, not -D publish response-topic").into(),
        );
    }
    let s = &args.source;
    let max = max_payload(&topic, args.qos, cfg.protocol);
    let body = read_body(s.message.as_ref(), s.file.as_deref(), s.stdin_file, max)?;
    let mut printer = Printer::new(output(&args.output)?, "rr", cfg.quiet)?;

    let v5 = cfg.protocol == Protocol::V5;
    let correlation = if v5 {
        Some(match cfg.props.publish_correlation_data() {
            Some(c) => c,
            None => fresh_correlation()?,
        })
    } else {
        None
    };
    let mut request = Message::new(topic, body, args.qos, false);
    if v5 {
        request.response_topic = Some(args.response_topic.clone());
        request.correlation_data = correlation.clone();
    }
    let subscription = Subscription {
        filter: args.response_topic.clone(),
        qos: args.qos,
        no_local: false,
        retain_as_published: false,
        // A retained message on the response topic is a leftover, never our answer.
        retain_handling: if v5 { 2 } else { 0 },
    };

    let mut signals = Signals::new()?;
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let mut session = tokio::select! {
        s = Session::open(&cfg, vec![subscription], Vec::new(), Options {
            max_qos: args.qos,
            reconnect_timeout: args.reconnect_timeout.map(Duration::from_secs_f64),
        }) => s?,
        _ = signals.recv() => return Ok(()),
        _ = sleep_until(deadline) => return Err(timed_out().into()),
    };
    let mut request = Some(request);
    let result: anyhow::Result<()> = loop {
        let event = tokio::select! {
            biased;
            _ = signals.recv() => break Err(anyhow::anyhow!("interrupted before a response came")),
            _ = sleep_until(deadline) => break Err(timed_out().into()),
            e = session.next_event() => match e {
                Ok(e) => e,
                Err(e) => break Err(e),
            },
        };
        match event {
            Event::SubAck(codes) => {
                if let Some(SubCode::Refused(r)) = codes.first() {
                    break Err(exit::rejected(format!(
                        "the broker refused the subscription to the response topic {:?} ({}, 0x{:02x})",
                        args.response_topic, r.text, r.code
                    ))
                    .into());
                }
                // Only after the first SUBACK; after a reconnect the session resends the
                // request itself if it was not acknowledged.
                if let Some(req) = request.take()
                    && let Err(e) = session.publish(req).await
                {
                    break Err(e);
                }
            }
            Event::Message(m) if request.is_none() => {
                let ours = match &correlation {
                    Some(c) => m.correlation_data() == Some(&c[..]),
                    None => !m.retain,
                };
                if ours && printer.add(&m) {
                    break printer.flush().map_err(Into::into);
                }
            }
            _ => {}
        }
    };
    let bye = tokio::time::timeout(Duration::from_secs(5), async {
        // The request must be with the broker before we go (QoS 1/2 acks).
        let _ = session.flush().await;
        session.disconnect().await
    });
    let _ = bye.await;
    result
}

/// 16 random bytes as 32 hex digits: printable, so `%D` and JSON show it as text.
fn fresh_correlation() -> anyhow::Result<Bytes> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness ({e})"))?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Bytes::from(hex))
}
