//! `mqtk sub`: subscribe, print every message the moment it arrives, and stop on -C, -E, -W,
//! the end of the retained messages (`--retained-only`, `--remove-retained`), Ctrl-C/SIGTERM or
//! a reader of stdout that went away.
//!
//! The per-message order is mosquitto_sub's: `--retained-only` ends the run at the first live
//! message, `-R` and `-T` skip (not counted), `--remove-retained` clears, then the message is
//! printed and counted for `-C` (tests/subscribe.rs `retained_only_*`, `filter_out_*`,
//! `remove_retained_with_count_exits_and_clears`). Where
//! mosquitto_sub is wrong we are not: `--remove-retained -C N` waits for the clears to be
//! acknowledged and exits (mosquitto hangs), a refusal of every filter exits 5 (mosquitto: 0),
//! and a signal sends a normal DISCONNECT, so the broker drops the Will (mosquitto 2.0's v5
//! client asks the broker to publish it).
//!
//! The end of the retained messages: the broker sends a subscription's retained messages
//! while it handles the SUBSCRIBE, so they are all queued for us once the SUBACK is here; the
//! ones beyond its in-flight limit leave as we acknowledge the earlier ones. After the SUBACK
//! we acknowledge what came and ask for a fence (a PINGREQ, `Session::fence`); mosquitto
//! answers it after everything it wrote before, including what our acks made room for. A
//! fence answered with no retained message since it was asked for means the broker holds no
//! more for us: `--retained-only` and `--remove-retained` end there with exit 0 (the latter once
//! its clears are acknowledged). Otherwise we ask again. Nothing is published for it, so it
//! needs no permission beyond the subscription (tests/subscribe.rs
//! `retained_only_ends_after_500_retained_messages_*`).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::output::{BATCH_BYTES, Printer, output};
use super::signals::{Signals, sleep_until, timed_out};
use crate::cli::{Protocol, SubscribeArgs};
use crate::conn::{
    AckToken, ConnConfig, Defaults, Event, Message, PropCommand, Session, SubCode, Subscription,
};
use crate::exit::{self, Failure, usage};
use crate::topic::{topic_matches, validate_topic_filter};

const DEFAULTS: Defaults = Defaults {
    protocol: Protocol::V311,
    property_commands: &[
        PropCommand::Connect,
        PropCommand::Will,
        PropCommand::Subscribe,
        PropCommand::Unsubscribe,
        PropCommand::Disconnect,
    ],
};

/// What the flags ask for, validated.
struct Plan {
    filters: Vec<String>,
    unsubscribe: Vec<String>,
    filter_out: Vec<String>,
    count: Option<u64>,
    exit_after_suback: bool,
    no_retained: bool,
    retained_only: bool,
    remove_retained: bool,
}

impl Plan {
    fn from_args(args: &SubscribeArgs, cfg: &ConnConfig) -> Result<Plan, Failure> {
        let check = |what: &str, list: &[String]| -> Result<(), Failure> {
            for f in list {
                validate_topic_filter(f).map_err(|e| usage(format!("invalid {what}: {e}")))?;
            }
            Ok(())
        };
        // As mosquitto_sub: the topic of a -L URL is one more filter. It replaces MQTK_TOPIC,
        // as in pub: command line > URL > environment.
        let mut filters = match &cfg.url_topic {
            Some(_) if !args.conn.on_command_line("topics") => Vec::new(),
            _ => args.topics.clone(),
        };
        filters.extend(cfg.url_topic.clone());
        check("topic filter (-t)", &filters)?;
        check("filter (-T)", &args.filter_out)?;
        check("unsubscribe filter (-U)", &args.unsubscribe)?;
        if filters.is_empty() && args.unsubscribe.is_empty() {
            return Err(usage(
                "no topic: give -t FILTER (or -U FILTER to only unsubscribe)",
            ));
        }
        if cfg.protocol == Protocol::V311 {
            let v5_only = [
                (args.no_local, "--no-local"),
                (args.retain_as_published, "--retain-as-published"),
                (args.retain_handling.is_some(), "--retain-handling"),
            ];
            if let Some((_, flag)) = v5_only.iter().find(|(set, _)| *set) {
                return Err(usage(format!(
                    "{flag} is a subscription option of MQTT v5; add -V 5"
                )));
            }
        }
        Ok(Plan {
            filters,
            unsubscribe: args.unsubscribe.clone(),
            filter_out: args.filter_out.clone(),
            count: args.count,
            exit_after_suback: args.exit_after_suback,
            no_retained: args.no_retained,
            retained_only: args.retained_only,
            remove_retained: args.remove_retained,
        })
    }

    fn subscriptions(&self, args: &SubscribeArgs, protocol: Protocol) -> Vec<Subscription> {
        // v5 lets the broker skip retained messages for -R instead of sending them for nothing.
        let retain_handling = match args.retain_handling {
            Some(rh) => rh,
            None if args.no_retained && protocol == Protocol::V5 => 2,
            None => 0,
        };
        self.filters
            .iter()
            .map(|f| Subscription {
                filter: f.clone(),
                qos: args.qos,
                no_local: args.no_local,
                retain_as_published: args.retain_as_published,
                retain_handling,
            })
            .collect()
    }
}

/// Why the receive loop ended without an error.
enum Stop {
    Done,
    TimedOut,
}

/// How many recent packet ids are remembered to recognise a redelivery after a reconnect.
const RECENT_IDS: usize = 128;

pub async fn run(args: SubscribeArgs) -> anyhow::Result<()> {
    let mut cfg = ConnConfig::from_args(&args.conn, &DEFAULTS)?;
    // Acknowledge a QoS 1/2 message only once it is written out: with -C N, whatever came after
    // the Nth stays with the broker (and a persistent session gets it next time).
    cfg.manual_acks = true;
    let plan = Plan::from_args(&args, &cfg)?;
    let mut printer = Printer::new(output(&args.output)?, "sub", cfg.quiet)?;
    printer.watch_reader()?;
    let mut signals = Signals::new()?;
    // Over the whole run: a broker that cannot be reached counts against -W too.
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let subscriptions = plan.subscriptions(&args, cfg.protocol);
    let mut session = tokio::select! {
        s = Session::connect_with(&cfg, subscriptions, plan.unsubscribe.clone()) => s?,
        _ = signals.recv() => return Ok(()),
        _ = sleep_until(deadline) => return Err(timed_out().into()),
        () = printer.reader_gone() => return Ok(()),
    };
    let mut acks = Vec::new();
    let result = receive(
        &mut session,
        &plan,
        &mut printer,
        &mut signals,
        deadline,
        &mut acks,
    )
    .await;
    // What was rendered is printed whatever ended the run (-C's last message, a signal), and
    // only then acknowledged.
    let result = match printer.flush() {
        Ok(()) => session.ack(acks.drain(..)).and(result),
        Err(e) => Err(e.into()),
    };
    finish(session, result, &mut signals, deadline).await
}

async fn receive(
    session: &mut Session,
    plan: &Plan,
    printer: &mut Printer,
    signals: &mut Signals,
    deadline: Option<Instant>,
    acks: &mut Vec<AckToken>,
) -> anyhow::Result<Stop> {
    let mut printed = 0u64;
    let mut suback_seen = plan.filters.is_empty();
    let mut unsubacks_due = plan.unsubscribe.len();
    let mut warned = false;
    // Topics we cleared: the broker forwards each clear back to us as an empty live message,
    // which is our own echo, not news (it must not count for -C or end --retained-only).
    let mut cleared: HashSet<String> = HashSet::new();
    // Packet ids of the last QoS 1/2 messages handled on this connection, and on the one
    // before. A message acknowledged just before a connection broke may not have had its ack
    // written; the resumed session sends it again, flagged dup with the same id: skip it
    // rather than print it twice. Only the most recent ids count (the broker keeps at most a
    // few dozen messages in flight), so an id reused for a new message is not mistaken.
    let mut handled_now: VecDeque<u16> = VecDeque::with_capacity(RECENT_IDS);
    let mut handled_before: VecDeque<u16> = VecDeque::new();
    let mut retained = RetainedEnd::new(plan.retained_only || plan.remove_retained);
    // Made once: a new timer or watch per wait would cost more than the wait.
    let timeout = sleep_until(deadline);
    tokio::pin!(timeout);
    let gone = printer.gone();
    tokio::pin!(gone);
    loop {
        // While output is waiting to be written, take what has already arrived without
        // waiting; once nothing has (or a batch is full), write, and wait watching the clock
        // and the signals too. So each message is out before we wait for the next.
        let ready = if printer.pending() > 0 && printer.pending() < BATCH_BYTES {
            session.try_next_event()?
        } else {
            None
        };
        let event = match ready {
            Some(e) => e,
            None => {
                printer.flush()?;
                session.ack(acks.drain(..))?;
                // After the acks: the fence must not overtake them.
                if retained.fence_due() {
                    session.fence()?;
                }
                // A stream of messages goes on with the next read's batch in a moment:
                // look for it before falling asleep. Signals, the clock and the reader are
                // looked at first either way.
                let soon = session.try_next_event_soon()?;
                tokio::select! {
                    biased;
                    _ = signals.recv() => return Ok(Stop::Done),
                    () = &mut timeout => return Ok(Stop::TimedOut),
                    // Quietly, as a write into the closed pipe would (exit 0, normal DISCONNECT).
                    () = &mut gone => return Ok(Stop::Done),
                    e = async {
                        match soon {
                            Some(e) => Ok(e),
                            None => session.next_event().await,
                        }
                    } => e?,
                }
            }
        };
        match event {
            Event::SubAck(codes) => {
                check_suback(&plan.filters, &codes, &mut warned, printer.quiet)?;
                suback_seen = true;
                retained.subscribed();
            }
            Event::Fence => {
                if retained.fence_answered() {
                    return Ok(Stop::Done);
                }
            }
            Event::UnsubAck => unsubacks_due = unsubacks_due.saturating_sub(1),
            Event::Message(m) => {
                if m.retain {
                    retained.message();
                }
                if m.qos > 0 {
                    if m.dup && handled_before.contains(&m.pkid) {
                        handled_before.retain(|&p| p != m.pkid);
                        acks.push(m.ack_token());
                        continue;
                    }
                    if handled_now.len() == RECENT_IDS {
                        handled_now.pop_front();
                    }
                    handled_now.push_back(m.pkid);
                }
                if !m.retain && m.payload.is_empty() && cleared.remove(&m.topic) {
                    acks.push(m.ack_token());
                    continue;
                }
                // Not printed, so not acknowledged: a persistent session keeps it.
                if plan.retained_only && !m.retain {
                    return Ok(Stop::Done);
                }
                acks.push(m.ack_token());
                if m.retain && plan.no_retained {
                    continue;
                }
                if plan.filter_out.iter().any(|f| topic_matches(f, &m.topic)) {
                    continue;
                }
                if plan.remove_retained && m.retain {
                    session
                        .publish(Message::new(m.topic.clone(), Bytes::new(), 1, true))
                        .await?;
                    cleared.insert(m.topic.clone());
                }
                if printer.add(&m) {
                    printed += 1;
                    if plan.count == Some(printed) {
                        return Ok(Stop::Done);
                    }
                }
            }
            Event::Lost => {
                handled_before = std::mem::take(&mut handled_now);
                retained.lost();
            }
            Event::Reconnected { session_present } => {
                if session_present {
                    // No SUBACK comes for a resumed session; what it had queued comes now.
                    retained.subscribed();
                } else {
                    handled_before.clear();
                }
            }
        }
        if plan.exit_after_suback && suback_seen && unsubacks_due == 0 {
            return Ok(Stop::Done);
        }
    }
}

/// When `--retained-only` and `--remove-retained` have seen every retained message (see the
/// module comment): fences asked for after each SUBACK until one comes back with no retained
/// message since it was asked for.
struct RetainedEnd {
    /// The run ends with the retained messages, and they have not all come yet.
    open: bool,
    /// A fence should be asked for at the next chance (after the acks).
    due: bool,
    /// A fence was asked for on this connection and not answered yet.
    asked: bool,
    /// A retained message arrived since the fence was asked for.
    seen: bool,
}

impl RetainedEnd {
    fn new(ends_the_run: bool) -> RetainedEnd {
        RetainedEnd {
            open: ends_the_run,
            due: false,
            asked: false,
            seen: false,
        }
    }

    /// The broker has our subscriptions (SUBACK, or a resumed session): its retained
    /// messages are queued for us.
    fn subscribed(&mut self) {
        self.due = self.open;
    }

    fn message(&mut self) {
        self.seen = true;
    }

    /// True once: a fence is to be asked for now.
    fn fence_due(&mut self) -> bool {
        if !self.due || self.asked {
            return false;
        }
        self.due = false;
        self.asked = true;
        self.seen = false;
        true
    }

    /// The fence came back. True when the retained messages are over.
    fn fence_answered(&mut self) -> bool {
        self.asked = false;
        if !self.open {
            return false;
        }
        if self.seen {
            self.due = true;
            return false;
        }
        self.open = false;
        true
    }

    /// The connection is gone, and an unanswered fence with it.
    fn lost(&mut self) {
        self.asked = false;
    }
}

/// Every filter refused: exit 5. Some refused: one warning, and carry on with the rest.
fn check_suback(
    filters: &[String],
    codes: &[SubCode],
    warned: &mut bool,
    quiet: bool,
) -> Result<(), Failure> {
    let refused: Vec<String> = filters
        .iter()
        .zip(codes)
        .filter_map(|(f, c)| match c {
            SubCode::Refused(r) => Some(format!("{f:?}: {}, 0x{:02x}", r.text, r.code)),
            SubCode::Granted(_) => None,
        })
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    if refused.len() == codes.len() {
        let mut f = exit::rejected(format!(
            "the broker refused every subscription ({})",
            refused.join("; ")
        ));
        if refused
            .iter()
            .any(|r| r.contains("0x87") || r.contains("0x80"))
        {
            f = f.with_hint("the broker's access control does not let this client read there");
        }
        return Err(f);
    }
    if !*warned && !quiet {
        eprintln!(
            "mqtk sub: warning: the broker refused {} ({}); still subscribed to the rest",
            if refused.len() == 1 {
                "one subscription".to_string()
            } else {
                format!("{} subscriptions", refused.len())
            },
            refused.join("; ")
        );
    }
    *warned = true;
    Ok(())
}

/// After the loop: wait for our own publishes (`--remove-retained`) and say goodbye.
async fn finish(
    mut session: Session,
    result: anyhow::Result<Stop>,
    signals: &mut Signals,
    deadline: Option<Instant>,
) -> anyhow::Result<()> {
    let result = match result {
        Ok(Stop::Done) => {
            // The clears must be acknowledged before we exit (mosquitto_sub hangs here). A
            // second signal or the -W deadline cuts the wait short.
            tokio::select! {
                r = session.flush() => r.map(|()| Stop::Done),
                _ = signals.recv() => Ok(Stop::Done),
                _ = sleep_until(deadline) => Ok(Stop::TimedOut),
            }
        }
        other => other,
    };
    // A normal DISCONNECT makes the broker discard the Will. Bounded: with the broker gone
    // there is nobody to say goodbye to.
    let bye = tokio::time::timeout(Duration::from_secs(5), session.disconnect());
    match result {
        Ok(Stop::Done) => {
            let _ = bye.await;
            Ok(())
        }
        Ok(Stop::TimedOut) => {
            let _ = bye.await;
            Err(timed_out().into())
        }
        Err(e) => {
            let _ = bye.await;
            Err(e)
        }
    }
}
