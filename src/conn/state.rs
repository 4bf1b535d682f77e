//! The rules of one MQTT session, without I/O: packet ids, the in-flight window, the outgoing
//! QoS 1/2 store, the incoming QoS 2 ids, keep-alive, and what to send again when a connection
//! is resumed. Methods take a decoded packet or a clock reading and queue packets to send; the
//! driver (`driver.rs`) only moves bytes and timers. So every rule below has a unit test that
//! runs in microseconds (at the bottom of this file, named after the guarantee it pins).
//!
//! Outgoing messages carry a caller's `tag` and come back as `Event::Done { tag, .. }` once the
//! broker has them (QoS 0: written; QoS 1: PUBACK; QoS 2: PUBCOMP, or a PUBREC with an error).
//! A message stays in the store until then, across any number of connections:
//! - the session resumed (CONNACK session present): every PUBLISH not acknowledged is sent again
//!   with DUP and the same packet id, every PUBREL again, in the original order;
//! - the session is gone: a QoS 2 message the broker already acknowledged with PUBREC is
//!   delivered (the broker owns it), everything else is sent again as new.
//!
//! Incoming QoS 2 is exactly once per session: an id stays "recorded" from the moment the
//! message is handed over (auto acks) or acknowledged by the caller (manual acks) until the
//! broker's PUBREL, and a PUBLISH with a recorded id is answered with PUBREC, not delivered
//! again. A PUBREL for an id we do not know is answered with PUBCOMP: it is the broker resending
//! the release of an exchange whose PUBCOMP it never saw.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::codec::{Codec, In};
use super::{AckToken, Incoming, Message, Reason, SubCode, Subscription};
use crate::cli::Protocol;

/// What the session tells its owner.
#[derive(Debug)]
pub enum Event {
    /// A published message is settled: `Ok` when the broker has it, `Err` with its reason when
    /// it refused it (v5 reason code >= 0x80).
    Done {
        tag: u64,
        result: Result<(), Rejection>,
    },
    Message(Incoming),
    SubAck(Vec<SubCode>),
    UnsubAck,
    /// The broker answered the PINGREQ of a `fence`: everything it had written to us before
    /// (and so every message it had queued for us then) has arrived before this event.
    Fence,
}

/// A message the broker refused with a v5 reason code >= 0x80.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub topic: String,
    pub reason: Reason,
}

/// The session's settings that do not change between connections.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Our in-flight limit for QoS 1/2 (`-M`); the broker's receive maximum may lower it.
    pub window: u16,
    /// Zero: no keep-alive.
    pub keepalive: Duration,
    /// Incoming QoS 1/2 are acknowledged only when the owner calls `ack`.
    pub manual_acks: bool,
}

/// Why a connection has to be dropped, or a message given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// No PINGRESP (or anything else) within the keep-alive after a PINGREQ.
    KeepAliveTimeout,
    /// The message can never be sent: it is bigger than the broker's maximum packet size.
    TooLarge {
        tag: u64,
        topic: String,
        size: usize,
        max: usize,
    },
    /// The broker closed the connection every time this message was the oldest unacknowledged
    /// one, `STRIKES` times in a row: it will not take it.
    Refused {
        tag: u64,
        topic: String,
        size: usize,
    },
}

/// Connections lost with the same oldest message in flight and no acknowledgement in between
/// before that message is given up.
pub const STRIKES: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// PUBLISH sent (or to be sent), waiting for PUBACK / PUBREC.
    Published,
    /// PUBREC received, PUBREL sent (or to be sent), waiting for PUBCOMP.
    Released,
}

#[derive(Debug)]
struct Flight {
    tag: u64,
    /// Order of first sending, for resending in the same order.
    order: u64,
    /// The PUBLISH as first encoded (DUP clear), resent as it is with DUP set; emptied once
    /// the broker has the message (PUBREC). One allocation the size of the packet rather than
    /// the message's topic, payload and fields: a thousand `sim` devices with full windows
    /// hold 20 000 of these.
    packet: Box<[u8]>,
    stage: Stage,
    /// Not yet sent on the current connection.
    due: bool,
    /// Sent at least once (the resend carries DUP).
    sent: bool,
    strikes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inbound {
    /// Handed to the owner, not yet acknowledged by it (manual acks).
    Delivered { qos: u8 },
    /// QoS 2: PUBREC owed or sent, waiting for PUBREL.
    Recorded,
}

/// A control packet waiting to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    Subscribe(u16),
    Unsubscribe(u16, usize),
}

pub struct State {
    settings: Settings,
    codec: Codec,
    connected: bool,
    /// Changes when the broker forgets the session: acks of older messages are void.
    epoch: u64,
    /// The in-flight limit on this connection: `settings.window`, lowered by the broker's
    /// receive maximum.
    window: usize,
    /// The broker's maximum packet size (v5 CONNACK), if it gave one.
    broker_max: Option<usize>,
    next_pkid: u16,
    next_order: u64,
    queue: VecDeque<(u64, Message)>,
    /// Boxed: a table slot is then 16 bytes rather than a whole `Flight`, and the table has up
    /// to twice the slots it has flights (a thousand `sim` devices with full windows hold 20 000).
    flights: HashMap<u16, Box<Flight>>,
    /// QoS 0 tags written into the buffer, settled by `flushed`.
    written0: Vec<u64>,
    inbound: HashMap<u16, Inbound>,
    control: VecDeque<Control>,
    subscriptions: Vec<Subscription>,
    unsubscriptions: Vec<String>,
    /// SUBSCRIBE / UNSUBSCRIBE waiting for their acks (their ids are in use).
    sub_pending: Option<u16>,
    unsub_pending: Vec<u16>,
    subscribed: bool,
    events: VecDeque<Event>,
    last_write: Option<Instant>,
    ping_sent: Option<Instant>,
    /// A fence was asked for and its PINGREQ is not written yet.
    fence_wanted: bool,
    /// PINGREQs written on this connection and not answered yet, oldest first: true for a
    /// fence, false for keep-alive. PINGRESPs come back in order.
    pings: VecDeque<bool>,
    /// Acknowledgements received on this connection (for the give-up rule).
    progress: bool,
    /// Anything but a PINGRESP received on this connection: it was of use (for the backoff).
    useful: bool,
}

impl State {
    pub fn new(settings: Settings, codec: Codec) -> State {
        State {
            window: usize::from(settings.window.max(1)),
            settings,
            codec,
            connected: false,
            epoch: 0,
            broker_max: None,
            next_pkid: 0,
            next_order: 0,
            queue: VecDeque::new(),
            flights: HashMap::new(),
            written0: Vec::new(),
            inbound: HashMap::new(),
            control: VecDeque::new(),
            subscriptions: Vec::new(),
            unsubscriptions: Vec::new(),
            sub_pending: None,
            unsub_pending: Vec::new(),
            subscribed: false,
            events: VecDeque::new(),
            last_write: None,
            ping_sent: None,
            fence_wanted: false,
            pings: VecDeque::new(),
            progress: false,
            useful: false,
        }
    }

    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    /// Subscriptions to make on the first connection and on every one that lost the session;
    /// then the filters to unsubscribe from (each in its own UNSUBSCRIBE, as mosquitto_sub).
    pub fn set_subscriptions(&mut self, subs: Vec<Subscription>, unsubs: Vec<String>) {
        self.subscriptions = subs;
        self.unsubscriptions = unsubs;
    }

    /// Messages not settled yet (queued or in flight).
    pub fn outstanding(&self) -> usize {
        self.queue.len() + self.flights.len() + self.written0.len()
    }

    /// Queues a message; it goes out as soon as the connection and the window allow.
    pub fn publish(&mut self, tag: u64, msg: Message) {
        self.queue.push_back((tag, msg));
    }

    /// Acknowledges a received message (manual acks), in receive order. A token from before the
    /// broker forgot the session is ignored: the broker will not expect that ack.
    pub fn ack(&mut self, token: AckToken) {
        if token.qos == 0 || token.generation != self.epoch {
            return;
        }
        match self.inbound.get(&token.pkid) {
            Some(Inbound::Delivered { qos: 1 }) => {
                self.inbound.remove(&token.pkid);
                self.control.push_back(Control::PubAck(token.pkid));
            }
            Some(Inbound::Delivered { .. }) => {
                self.inbound.insert(token.pkid, Inbound::Recorded);
                self.control.push_back(Control::PubRec(token.pkid));
            }
            _ => {}
        }
    }

    /// Asks for `Event::Fence`: a PINGREQ written once every message received so far is
    /// acknowledged and every incoming QoS 2 exchange is complete, answered by `Event::Fence`.
    ///
    /// mosquitto handles a connection's packets in order and queues its answers in order: by the
    /// time it answers the PINGREQ it has read our acks, moved the messages they made room for
    /// into flight and written them. So when nothing arrived between the fence and its answer,
    /// the broker had nothing queued for us. `sub --retained-only` ends on that (tests/subscribe.rs
    /// `retained_only_ends_after_500_retained_messages_*`). A fence asked for on a connection
    /// that is lost before its answer is dropped: ask again after `connected`.
    pub fn fence(&mut self) {
        self.fence_wanted = true;
    }

    /// A CONNACK accepted our CONNECT. `receive_max` and `max_packet` are the v5 CONNACK's.
    pub fn connected(
        &mut self,
        session_present: bool,
        receive_max: Option<u16>,
        max_packet: Option<u32>,
        now: Instant,
    ) {
        self.connected = true;
        self.progress = false;
        self.useful = false;
        self.last_write = Some(now);
        self.ping_sent = None;
        self.fence_wanted = false;
        self.pings.clear();
        self.window = usize::from(self.settings.window.max(1));
        if let Some(r) = receive_max {
            self.window = self.window.min(usize::from(r.max(1)));
        }
        self.broker_max = max_packet.map(|m| m as usize);
        // Only acks survive a lost connection in `control`; they are owed to a resumed session
        // and void for a new one.
        self.control
            .retain(|c| session_present && matches!(c, Control::PubAck(_) | Control::PubRec(_)));
        if session_present {
            // Recorded QoS 2 ids: the broker may have missed our PUBREC; it resends the
            // PUBLISH (we answer PUBREC) or goes on to PUBREL.
        } else {
            self.epoch += 1;
            self.inbound.clear();
            self.sub_pending = None;
            self.unsub_pending.clear();
            self.subscribed = false;
            // A PUBREC means the broker owns the message; without the session the PUBREL
            // cannot be sent, and sending the message again would deliver it twice.
            let released: Vec<u16> = self
                .flights
                .iter()
                .filter(|(_, f)| f.stage == Stage::Released)
                .map(|(&id, _)| id)
                .collect();
            for id in released {
                let f = self.flights.remove(&id).expect("listed above");
                self.events.push_back(Event::Done {
                    tag: f.tag,
                    result: Ok(()),
                });
            }
        }
        for f in self.flights.values_mut() {
            f.due = true;
        }
        if !self.subscribed && self.sub_pending.is_none() {
            if !self.subscriptions.is_empty() {
                let id = self.alloc_pkid();
                self.sub_pending = Some(id);
                self.control.push_back(Control::Subscribe(id));
            }
            for i in 0..self.unsubscriptions.len() {
                let id = self.alloc_pkid();
                self.unsub_pending.push(id);
                self.control.push_back(Control::Unsubscribe(id, i));
            }
            self.subscribed = true;
        } else if let Some(id) = self.sub_pending {
            // Sent on the lost connection and never answered: ask again.
            self.control.push_back(Control::Subscribe(id));
        }
    }

    /// The connection is gone. Returns a fault when the oldest message in flight has now been
    /// refused `STRIKES` times.
    pub fn disconnected(&mut self) -> Option<Fault> {
        self.connected = false;
        self.ping_sent = None;
        self.fence_wanted = false;
        self.pings.clear();
        // QoS 0 written into a buffer that may not have left: at most once, so settled.
        for tag in self.written0.drain(..) {
            self.events.push_back(Event::Done {
                tag,
                result: Ok(()),
            });
        }
        self.control
            .retain(|c| matches!(c, Control::PubAck(_) | Control::PubRec(_)));
        let progress = std::mem::take(&mut self.progress);
        let oldest = self
            .flights
            .values_mut()
            .filter(|f| f.sent && f.stage == Stage::Published)
            .min_by_key(|f| f.order)?;
        if progress {
            oldest.strikes = 0;
            return None;
        }
        oldest.strikes += 1;
        let v5 = self.codec.protocol == Protocol::V5;
        (oldest.strikes >= STRIKES).then(|| {
            let (topic, size) = publish_parts(&oldest.packet, v5);
            Fault::Refused {
                tag: oldest.tag,
                topic,
                size,
            }
        })
    }

    /// Whether the current (or just lost) connection carried anything but pings: the driver
    /// starts its backoff from the beginning after such a connection.
    pub fn was_useful(&self) -> bool {
        self.useful
    }

    /// A packet from the broker (not CONNACK, which the driver handles before the session
    /// starts).
    pub fn received(&mut self, packet: In, now: Instant) {
        // Anything from the broker shows the connection is alive.
        self.ping_sent = None;
        if !matches!(packet, In::PingResp) {
            self.useful = true;
        }
        let _ = now;
        match packet {
            In::Publish(m) => self.on_publish(m),
            In::PubAck { pkid, reason } => self.settle(pkid, Stage::Published, reason),
            In::PubRec { pkid, reason } => match reason {
                Some(r) if r.code >= 0x80 => self.settle(pkid, Stage::Published, Some(r)),
                _ => {
                    self.progress = true;
                    if let Some(f) = self.flights.get_mut(&pkid) {
                        f.stage = Stage::Released;
                        f.packet = Box::default();
                        f.due = true;
                    } else {
                        // A PUBREC for an exchange we have finished (resent after a
                        // reconnect): release it again so the broker can finish too.
                        self.control.push_back(Control::PubRel(pkid));
                    }
                }
            },
            // PUBCOMP's only error, "packet identifier not found", means the broker had
            // already finished the exchange.
            In::PubComp { pkid, .. } => self.settle(pkid, Stage::Released, None),
            In::PubRel { pkid } => {
                // Known or not, the broker wants PUBCOMP (see the module comment).
                if self.inbound.get(&pkid) == Some(&Inbound::Recorded) {
                    self.inbound.remove(&pkid);
                }
                self.control.push_back(Control::PubComp(pkid));
            }
            In::SubAck { pkid, codes } => {
                if self.sub_pending == Some(pkid) {
                    self.sub_pending = None;
                    self.events.push_back(Event::SubAck(codes));
                }
            }
            In::UnsubAck { pkid } => {
                if let Some(i) = self.unsub_pending.iter().position(|&p| p == pkid) {
                    self.unsub_pending.remove(i);
                    self.events.push_back(Event::UnsubAck);
                }
            }
            In::PingResp => {
                if self.pings.pop_front() == Some(true) {
                    self.events.push_back(Event::Fence);
                }
            }
            In::Other(_) | In::ConnAck { .. } | In::Disconnect { .. } => {}
        }
    }

    fn on_publish(&mut self, mut m: Incoming) {
        m.generation = self.epoch;
        match m.qos {
            0 => {}
            1 => match self.inbound.get(&m.pkid) {
                // The owner has it and has not acknowledged it yet: the broker's resend after
                // a reconnect. Its ack will answer this one too.
                Some(Inbound::Delivered { .. }) if m.dup => return,
                _ if self.settings.manual_acks => {
                    self.inbound.insert(m.pkid, Inbound::Delivered { qos: 1 });
                }
                _ => self.control.push_back(Control::PubAck(m.pkid)),
            },
            _ => match self.inbound.get(&m.pkid) {
                Some(Inbound::Delivered { .. }) => return,
                Some(Inbound::Recorded) => {
                    self.control.push_back(Control::PubRec(m.pkid));
                    return;
                }
                None if self.settings.manual_acks => {
                    self.inbound.insert(m.pkid, Inbound::Delivered { qos: 2 });
                }
                None => {
                    self.inbound.insert(m.pkid, Inbound::Recorded);
                    self.control.push_back(Control::PubRec(m.pkid));
                }
            },
        }
        self.events.push_back(Event::Message(m));
    }

    fn settle(&mut self, pkid: u16, expected: Stage, reason: Option<Reason>) {
        let matches = self.flights.get(&pkid).is_some_and(|f| f.stage == expected);
        if !matches {
            return;
        }
        self.progress = true;
        let f = self.flights.remove(&pkid).expect("checked above");
        let result = match reason {
            Some(r) if r.code >= 0x80 => Err(Rejection {
                topic: publish_parts(&f.packet, self.codec.protocol == Protocol::V5).0,
                reason: r,
            }),
            _ => Ok(()),
        };
        self.events.push_back(Event::Done { tag: f.tag, result });
    }

    /// Gives back the memory of collections that are empty now. A connection that is idle most
    /// of the time (a simulated device) calls this before it waits, so it keeps no capacity
    /// from its last burst.
    pub fn compact(&mut self) {
        if self.queue.is_empty() {
            self.queue = VecDeque::new();
        }
        if self.flights.is_empty() {
            self.flights = HashMap::new();
        }
        if self.inbound.is_empty() {
            self.inbound = HashMap::new();
        }
        if self.control.is_empty() {
            self.control = VecDeque::new();
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
        if self.written0.is_empty() {
            self.written0 = Vec::new();
        }
    }

    /// Whether events are waiting for the owner.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Puts events taken with `take_events` back in front of the queue, oldest first (the
    /// owner had no room for them).
    pub fn put_back_events(&mut self, mut events: VecDeque<Event>) {
        events.append(&mut self.events);
        self.events = events;
    }

    /// How many events are waiting for the owner.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// The events waiting for the owner, oldest first, at most `max` of them: the whole queue
    /// when it fits (no event is moved), else its first `max`.
    pub fn take_events(&mut self, max: usize) -> VecDeque<Event> {
        if self.events.len() <= max {
            std::mem::take(&mut self.events)
        } else {
            self.events.drain(..max).collect()
        }
    }

    /// Encodes everything that is due into `out`: acks first, then resends, then new messages
    /// as far as the window allows, then a PINGREQ if the keep-alive is due. Returns a fault
    /// when a message can never be sent.
    pub fn transmit(&mut self, out: &mut BytesMut, now: Instant) -> Result<(), Fault> {
        if !self.connected {
            return Ok(());
        }
        let start = out.len();
        while let Some(c) = self.control.pop_front() {
            match c {
                Control::PubAck(id) => self.codec.puback(id, out),
                Control::PubRec(id) => self.codec.pubrec(id, out),
                Control::PubRel(id) => self.codec.pubrel(id, out),
                Control::PubComp(id) => self.codec.pubcomp(id, out),
                Control::Subscribe(id) => self.codec.subscribe(id, &self.subscriptions, out),
                Control::Unsubscribe(id, i) => {
                    self.codec.unsubscribe(id, &self.unsubscriptions[i], out)
                }
            }
        }
        // After the acks just written; with an exchange still open the broker may be waiting
        // for us before it sends more, and the fence would answer too early.
        if self.fence_wanted && self.inbound.is_empty() {
            self.fence_wanted = false;
            self.codec.pingreq(out);
            self.pings.push_back(true);
        }
        // Resends, in the order the messages were first sent.
        let mut due: Vec<(u64, u16)> = self
            .flights
            .iter()
            .filter(|(_, f)| f.due)
            .map(|(&id, f)| (f.order, id))
            .collect();
        due.sort_unstable();
        for (_, id) in due {
            let f = self.flights.get_mut(&id).expect("listed above");
            f.due = false;
            match f.stage {
                Stage::Published => {
                    let dup = f.sent;
                    f.sent = true;
                    if self.codec.trace {
                        let (topic, size) =
                            publish_parts(&f.packet, self.codec.protocol == Protocol::V5);
                        let (qos, retain) = ((f.packet[0] >> 1) & 3, f.packet[0] & 1 == 1);
                        eprintln!(
                            "mqtk: sending PUBLISH (mid {id}, qos {qos}, retain {retain}, \
                             dup {dup}, {topic:?}, {size} bytes)"
                        );
                    }
                    let at = out.len();
                    out.extend_from_slice(&f.packet);
                    if dup {
                        out[at] |= 0x08;
                    }
                }
                Stage::Released => self.codec.pubrel(id, out),
            }
        }
        // New messages.
        while let Some((_, msg)) = self.queue.front() {
            if msg.qos > 0 && self.flights.len() >= self.window {
                break;
            }
            let (tag, msg) = self.queue.pop_front().expect("front exists");
            let id = if msg.qos == 0 { 0 } else { self.alloc_pkid() };
            let before = out.len();
            let size = self.codec.publish(id, false, &msg, out);
            if let Some(max) = self.broker_max
                && size > max
            {
                out.truncate(before);
                return Err(Fault::TooLarge {
                    tag,
                    topic: msg.topic,
                    size,
                    max,
                });
            }
            if msg.qos == 0 {
                self.written0.push(tag);
                continue;
            }
            let order = self.next_order;
            self.next_order += 1;
            self.flights.insert(
                id,
                Box::new(Flight {
                    tag,
                    order,
                    packet: out[before..before + size].into(),
                    stage: Stage::Published,
                    due: false,
                    sent: true,
                    strikes: 0,
                }),
            );
        }
        if out.len() > start {
            self.last_write = Some(now);
        } else if let Some(ka) = self.keepalive()
            && self.ping_sent.is_none()
            && self.last_write.is_some_and(|w| now >= w + ka)
        {
            self.codec.pingreq(out);
            self.pings.push_back(false);
            self.ping_sent = Some(now);
            self.last_write = Some(now);
        }
        Ok(())
    }

    /// Everything encoded so far has been written to the socket: QoS 0 messages are settled.
    pub fn flushed(&mut self) {
        for tag in self.written0.drain(..) {
            self.events.push_back(Event::Done {
                tag,
                result: Ok(()),
            });
        }
    }

    fn keepalive(&self) -> Option<Duration> {
        (!self.settings.keepalive.is_zero()).then_some(self.settings.keepalive)
    }

    /// When `transmit` (a PINGREQ) or `check` (a PINGRESP overdue) next has work to do.
    pub fn deadline(&self) -> Option<Instant> {
        let ka = self.keepalive()?;
        if !self.connected {
            return None;
        }
        match self.ping_sent {
            Some(sent) => Some(sent + ka),
            None => self.last_write.map(|w| w + ka),
        }
    }

    /// `Err` when the broker has not answered a PINGREQ within the keep-alive. The driver calls
    /// this only while it is reading: with reading paused (the owner is not keeping up), the
    /// PINGRESP may be sitting unread in the socket.
    pub fn check(&self, now: Instant) -> Result<(), Fault> {
        match (self.keepalive(), self.ping_sent) {
            (Some(ka), Some(sent)) if now >= sent + ka => Err(Fault::KeepAliveTimeout),
            _ => Ok(()),
        }
    }

    /// Packet ids 1..=65535, skipping those still in use (outgoing messages in flight and
    /// subscribe requests waiting for their acks). The window is at most 65 535, so one is free.
    fn alloc_pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
            let id = self.next_pkid;
            if !self.flights.contains_key(&id)
                && self.sub_pending != Some(id)
                && !self.unsub_pending.contains(&id)
            {
                return id;
            }
        }
    }
}

/// The topic and the payload's size of a PUBLISH as `Codec::publish` encoded it.
fn publish_parts(packet: &[u8], v5: bool) -> (String, usize) {
    // Remaining length: 1 to 4 bytes, 7 bits each, after the type and flags.
    let varint = |at: &mut usize| {
        let mut value = 0usize;
        for shift in [0, 7, 14, 21] {
            let b = packet.get(*at).copied().unwrap_or(0);
            *at += 1;
            value |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        value
    };
    let mut at = 1;
    varint(&mut at);
    let len = packet
        .get(at..at + 2)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let topic = packet.get(at + 2..at + 2 + len).unwrap_or_default();
    at += 2 + len;
    if packet.first().is_some_and(|b| (b >> 1) & 3 > 0) {
        at += 2;
    }
    if v5 {
        let props = varint(&mut at);
        at += props;
    }
    (
        String::from_utf8_lossy(topic).into_owned(),
        packet.len().saturating_sub(at),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Protocol;
    use bytes::Bytes;
    use rumqttc::mqttbytes::v4::Packet;

    fn state(window: u16, manual_acks: bool) -> State {
        let settings = Settings {
            window,
            keepalive: Duration::from_secs(10),
            manual_acks,
        };
        State::new(settings, Codec::new(Protocol::V311, 1 << 20))
    }

    fn msg(topic: &str, qos: u8) -> Message {
        Message::new(topic, Bytes::from_static(b"x"), qos, false)
    }

    /// A message in flight is kept as its encoded PUBLISH: resent, it is what encoding it
    /// again with DUP gives, and its topic and payload size (for rejections and faults) read
    /// back right, on MQTT 3.1.1 and on MQTT 5 with properties, at every QoS.
    #[test]
    fn a_stored_publish_resends_as_encoded_and_reads_back_its_topic_and_size() {
        use rumqttc::v5::mqttbytes::v5::PublishProperties;
        let props = crate::conn::codec::Props {
            publish: Some(PublishProperties {
                content_type: Some("application/json".into()),
                user_properties: vec![("k".into(), "v".into())],
                ..Default::default()
            }),
            subscribe: None,
            unsubscribe: None,
        };
        let mut v5 = Codec::new(Protocol::V5, 1 << 20);
        v5.props = Some(std::sync::Arc::new(props));
        let payload = vec![7u8; 300];
        for codec in [Codec::new(Protocol::V311, 1 << 20), v5] {
            for qos in [0, 1, 2] {
                let m = Message::new("a/topic/é", payload.clone(), qos, qos == 1);
                let mut first = BytesMut::new();
                codec.publish(9, false, &m, &mut first);
                let mut again = BytesMut::new();
                codec.publish(9, true, &m, &mut again);
                let mut resent = first.clone();
                resent[0] |= 0x08;
                assert_eq!(resent, again, "{:?} qos {qos}", codec.protocol);
                let v5 = codec.protocol == Protocol::V5;
                assert_eq!(
                    publish_parts(&first, v5),
                    ("a/topic/é".to_string(), 300),
                    "{:?} qos {qos}",
                    codec.protocol
                );
            }
        }
    }

    /// What the state wrote, decoded.
    fn sent(s: &mut State, now: Instant) -> Vec<Packet> {
        let mut out = BytesMut::new();
        s.transmit(&mut out, now).unwrap();
        let mut packets = Vec::new();
        while !out.is_empty() {
            packets.push(Packet::read(&mut out, 1 << 20).unwrap());
        }
        packets
    }

    fn publishes(packets: &[Packet]) -> Vec<(u16, bool)> {
        packets
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some((p.pkid, p.dup)),
                _ => None,
            })
            .collect()
    }

    fn done(s: &mut State) -> Vec<u64> {
        let mut tags = Vec::new();
        while let Some(e) = s.poll_event() {
            if let Event::Done { tag, result } = e {
                assert!(result.is_ok());
                tags.push(tag);
            }
        }
        tags
    }

    fn incoming(pkid: u16, qos: u8, dup: bool) -> In {
        In::Publish(Incoming {
            topic: "t".into(),
            payload: Bytes::from_static(b"p"),
            qos,
            retain: false,
            dup,
            pkid,
            properties: None,
            generation: 0,
        })
    }

    fn message_ids(events: impl IntoIterator<Item = Event>) -> Vec<u16> {
        events
            .into_iter()
            .map(|e| match e {
                Event::Message(m) => m.pkid,
                other => panic!("not a message: {other:?}"),
            })
            .collect()
    }

    /// The driver hands events over in batches: the queue itself when it fits, else its
    /// oldest `max`; a batch the owner had no room for goes back in front, so the order the
    /// broker sent them in survives both.
    #[test]
    fn events_leave_in_batches_and_in_order() {
        let t0 = Instant::now();
        let mut s = state(10, true);
        s.connected(false, None, None, t0);
        for pkid in 1..=5 {
            s.received(incoming(pkid, 1, false), t0);
        }
        let first = s.take_events(2);
        assert_eq!(s.event_count(), 3);
        s.put_back_events(first);
        assert_eq!(message_ids(s.take_events(usize::MAX)), [1, 2, 3, 4, 5]);
        assert!(!s.has_events());

        s.received(incoming(6, 1, false), t0);
        let batch = s.take_events(4);
        s.received(incoming(7, 1, false), t0);
        s.put_back_events(batch);
        assert_eq!(message_ids(s.take_events(4)), [6, 7]);
    }

    fn delivered(s: &mut State) -> usize {
        let mut n = 0;
        while let Some(e) = s.poll_event() {
            if matches!(e, Event::Message(_)) {
                n += 1;
            }
        }
        n
    }

    #[test]
    fn qos1_message_is_settled_by_its_puback_only() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, now);
        s.publish(7, msg("a", 1));
        let p = sent(&mut s, now);
        assert_eq!(publishes(&p), [(1, false)]);
        assert!(done(&mut s).is_empty());
        s.received(
            In::PubAck {
                pkid: 2,
                reason: None,
            },
            now,
        );
        assert!(done(&mut s).is_empty(), "an unknown id settles nothing");
        s.received(
            In::PubAck {
                pkid: 1,
                reason: None,
            },
            now,
        );
        assert_eq!(done(&mut s), [7]);
        assert_eq!(s.outstanding(), 0);
    }

    #[test]
    fn window_bounds_messages_in_flight_and_keeps_their_order() {
        let now = Instant::now();
        let mut s = state(2, false);
        s.connected(false, None, None, now);
        for tag in 0..5 {
            s.publish(tag, msg("a", 1));
        }
        // A QoS 0 message behind the full window waits too: order is kept.
        s.publish(5, msg("a", 0));
        assert_eq!(publishes(&sent(&mut s, now)), [(1, false), (2, false)]);
        s.received(
            In::PubAck {
                pkid: 1,
                reason: None,
            },
            now,
        );
        assert_eq!(publishes(&sent(&mut s, now)), [(3, false)]);
        assert_eq!(s.outstanding(), 5);
    }

    #[test]
    fn broker_receive_maximum_lowers_the_window() {
        let now = Instant::now();
        let mut s = state(20, false);
        s.connected(false, Some(1), None, now);
        s.publish(0, msg("a", 1));
        s.publish(1, msg("a", 1));
        assert_eq!(publishes(&sent(&mut s, now)).len(), 1);
    }

    #[test]
    fn resumed_session_resends_unacked_publish_with_dup_and_the_same_id() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, now);
        s.publish(0, msg("a", 1));
        s.publish(1, msg("b", 1));
        sent(&mut s, now);
        s.received(
            In::PubAck {
                pkid: 1,
                reason: None,
            },
            now,
        );
        assert_eq!(s.disconnected(), None);
        s.connected(true, None, None, now);
        assert_eq!(publishes(&sent(&mut s, now)), [(2, true)]);
        s.received(
            In::PubAck {
                pkid: 2,
                reason: None,
            },
            now,
        );
        assert_eq!(done(&mut s), [0, 1]);
    }

    #[test]
    fn resumed_session_releases_after_pubrec_instead_of_publishing_again() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, now);
        s.publish(0, msg("a", 2));
        sent(&mut s, now);
        s.received(
            In::PubRec {
                pkid: 1,
                reason: None,
            },
            now,
        );
        let p = sent(&mut s, now);
        assert!(matches!(p[..], [Packet::PubRel(ref r)] if r.pkid == 1));
        s.disconnected();
        s.connected(true, None, None, now);
        let p = sent(&mut s, now);
        assert!(publishes(&p).is_empty(), "{p:?}");
        assert!(matches!(p[..], [Packet::PubRel(ref r)] if r.pkid == 1));
        // The id stays taken until PUBCOMP: a new message gets another one.
        s.publish(1, msg("b", 2));
        assert_eq!(publishes(&sent(&mut s, now)), [(2, false)]);
        s.received(
            In::PubComp {
                pkid: 1,
                reason: None,
            },
            now,
        );
        assert_eq!(done(&mut s), [0]);
    }

    #[test]
    fn lost_session_settles_released_qos2_and_sends_the_rest_as_new() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, now);
        s.publish(0, msg("a", 2));
        s.publish(1, msg("b", 2));
        sent(&mut s, now);
        s.received(
            In::PubRec {
                pkid: 1,
                reason: None,
            },
            now,
        );
        s.disconnected();
        s.connected(false, None, None, now);
        // The broker acknowledged "a" with PUBREC: it has it, and publishing it again would
        // deliver it twice. "b" was never acknowledged: send it again.
        assert_eq!(done(&mut s), [0]);
        assert_eq!(publishes(&sent(&mut s, now)), [(2, true)]);
    }

    #[test]
    fn unknown_pubrel_is_answered_with_pubcomp() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(true, None, None, now);
        s.received(In::PubRel { pkid: 42 }, now);
        let p = sent(&mut s, now);
        assert!(
            matches!(p[..], [Packet::PubComp(ref c)] if c.pkid == 42),
            "{p:?}"
        );
    }

    #[test]
    fn incoming_qos2_is_delivered_once_across_a_resumed_session() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, now);
        s.received(incoming(5, 2, false), now);
        assert_eq!(delivered(&mut s), 1);
        assert!(matches!(sent(&mut s, now)[..], [Packet::PubRec(ref r)] if r.pkid == 5));
        // The connection drops before the broker's PUBREL; it resends the PUBLISH.
        s.disconnected();
        s.connected(true, None, None, now);
        s.received(incoming(5, 2, true), now);
        assert_eq!(
            delivered(&mut s),
            0,
            "a resent QoS 2 message is not delivered again"
        );
        assert!(matches!(sent(&mut s, now)[..], [Packet::PubRec(ref r)] if r.pkid == 5));
        s.received(In::PubRel { pkid: 5 }, now);
        assert!(matches!(sent(&mut s, now)[..], [Packet::PubComp(ref c)] if c.pkid == 5));
        // The exchange is over: the id is free for a new message.
        s.received(incoming(5, 2, false), now);
        assert_eq!(delivered(&mut s), 1);
    }

    #[test]
    fn manual_acks_go_out_only_when_the_owner_acks() {
        let now = Instant::now();
        let mut s = state(10, true);
        s.connected(false, None, None, now);
        s.received(incoming(1, 1, false), now);
        s.received(incoming(2, 2, false), now);
        let mut tokens = Vec::new();
        while let Some(e) = s.poll_event() {
            if let Event::Message(m) = e {
                tokens.push(m.ack_token());
            }
        }
        assert!(sent(&mut s, now).is_empty());
        for t in &tokens {
            s.ack(*t);
        }
        let p = sent(&mut s, now);
        assert!(
            matches!(p[..], [Packet::PubAck(ref a), Packet::PubRec(ref r)] if a.pkid == 1 && r.pkid == 2),
            "{p:?}"
        );
    }

    #[test]
    fn a_resent_message_the_owner_still_holds_is_not_delivered_twice() {
        let now = Instant::now();
        let mut s = state(10, true);
        s.connected(false, None, None, now);
        s.received(incoming(1, 1, false), now);
        let token = match s.poll_event() {
            Some(Event::Message(m)) => m.ack_token(),
            other => panic!("{other:?}"),
        };
        s.disconnected();
        s.connected(true, None, None, now);
        s.received(incoming(1, 1, true), now);
        assert_eq!(delivered(&mut s), 0);
        s.ack(token);
        assert!(matches!(sent(&mut s, now)[..], [Packet::PubAck(ref a)] if a.pkid == 1));
    }

    #[test]
    fn acks_from_before_a_lost_session_are_void() {
        let now = Instant::now();
        let mut s = state(10, true);
        s.connected(false, None, None, now);
        s.received(incoming(1, 1, false), now);
        let token = match s.poll_event() {
            Some(Event::Message(m)) => m.ack_token(),
            other => panic!("{other:?}"),
        };
        s.disconnected();
        s.connected(false, None, None, now);
        // A new message with the same id on the new session.
        s.received(incoming(1, 1, false), now);
        s.ack(token);
        assert!(
            sent(&mut s, now).is_empty(),
            "the old token must not ack the new message"
        );
    }

    #[test]
    fn packet_ids_in_use_are_never_reused() {
        let now = Instant::now();
        let mut s = state(3, false);
        s.connected(false, None, None, now);
        s.next_pkid = 65_534;
        for tag in 0..3 {
            s.publish(tag, msg("a", 1));
        }
        assert_eq!(
            publishes(&sent(&mut s, now)),
            [(65_535, false), (1, false), (2, false)]
        );
        s.received(
            In::PubAck {
                pkid: 1,
                reason: None,
            },
            now,
        );
        s.next_pkid = 65_534;
        s.publish(3, msg("a", 1));
        // 65535 and 2 are still in flight: the next free id is 1.
        assert_eq!(publishes(&sent(&mut s, now)), [(1, false)]);
    }

    fn fences(s: &mut State) -> usize {
        let mut n = 0;
        while let Some(e) = s.poll_event() {
            if matches!(e, Event::Fence) {
                n += 1;
            }
        }
        n
    }

    #[test]
    fn a_fence_waits_for_open_exchanges_and_follows_the_acks() {
        let now = Instant::now();
        let mut s = state(10, true);
        s.connected(false, None, None, now);
        s.received(incoming(1, 1, false), now);
        s.received(incoming(2, 2, false), now);
        assert_eq!(delivered(&mut s), 2);
        s.fence();
        // Both messages unacknowledged: the broker may be holding more until it has our acks.
        assert!(sent(&mut s, now).is_empty());
        s.ack(AckToken {
            pkid: 1,
            qos: 1,
            generation: 1,
        });
        s.ack(AckToken {
            pkid: 2,
            qos: 2,
            generation: 1,
        });
        // The QoS 2 exchange is open until the broker's PUBREL.
        assert!(matches!(
            sent(&mut s, now)[..],
            [Packet::PubAck(_), Packet::PubRec(_)]
        ));
        s.received(In::PubRel { pkid: 2 }, now);
        assert!(matches!(
            sent(&mut s, now)[..],
            [Packet::PubComp(_), Packet::PingReq]
        ));
        assert!(sent(&mut s, now).is_empty(), "one PINGREQ per fence");
        s.received(In::PingResp, now);
        assert_eq!(fences(&mut s), 1);
    }

    #[test]
    fn a_keepalive_pingresp_is_not_a_fence_and_a_lost_fence_is_dropped() {
        let t0 = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, t0);
        let t1 = t0 + Duration::from_secs(10);
        assert!(matches!(sent(&mut s, t1)[..], [Packet::PingReq]));
        s.fence();
        assert!(matches!(sent(&mut s, t1)[..], [Packet::PingReq]));
        // The first answer is the keep-alive's, the second the fence's.
        s.received(In::PingResp, t1);
        assert_eq!(fences(&mut s), 0);
        s.received(In::PingResp, t1);
        assert_eq!(fences(&mut s), 1);
        // Asked for, then the connection is lost: the new connection owes nothing.
        s.fence();
        let _ = s.disconnected();
        s.connected(true, None, None, t1);
        assert!(sent(&mut s, t1).is_empty());
        s.received(In::PingResp, t1);
        assert_eq!(fences(&mut s), 0);
    }

    #[test]
    fn idle_connection_sends_pingreq_and_times_out_without_an_answer() {
        let t0 = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, t0);
        assert!(sent(&mut s, t0).is_empty());
        assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(10)));
        let t1 = t0 + Duration::from_secs(10);
        assert!(matches!(sent(&mut s, t1)[..], [Packet::PingReq]));
        assert_eq!(s.check(t1 + Duration::from_secs(9)), Ok(()));
        assert_eq!(
            s.check(t1 + Duration::from_secs(10)),
            Err(Fault::KeepAliveTimeout)
        );
        s.received(In::PingResp, t1 + Duration::from_secs(1));
        assert_eq!(s.check(t1 + Duration::from_secs(10)), Ok(()));
    }

    #[test]
    fn a_message_the_broker_drops_us_for_three_times_is_given_up() {
        let now = Instant::now();
        let mut s = state(10, false);
        for round in 1..=STRIKES {
            s.connected(true, None, None, now);
            if round == 1 {
                s.publish(9, msg("big", 1));
            }
            assert_eq!(publishes(&sent(&mut s, now)).len(), 1);
            let fault = s.disconnected();
            if round < STRIKES {
                assert_eq!(fault, None);
            } else {
                assert!(
                    matches!(fault, Some(Fault::Refused { tag: 9, .. })),
                    "{fault:?}"
                );
            }
        }
    }

    #[test]
    fn progress_between_losses_resets_the_strikes() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, now);
        s.publish(0, msg("stuck", 1));
        sent(&mut s, now);
        for round in 0..2 * STRIKES {
            // Another message is acknowledged on every connection: the broker is not refusing
            // the oldest one, the network is just bad.
            s.publish(u64::from(round) + 1, msg("b", 1));
            let ids = publishes(&sent(&mut s, now));
            let (id, _) = *ids.last().unwrap();
            s.received(
                In::PubAck {
                    pkid: id,
                    reason: None,
                },
                now,
            );
            assert_eq!(s.disconnected(), None, "round {round}");
            s.connected(true, None, None, now);
        }
    }

    #[test]
    fn a_message_over_the_brokers_maximum_packet_size_is_a_fault() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, Some(8), now);
        s.publish(
            4,
            Message::new("topic", Bytes::from(vec![0u8; 64]), 1, false),
        );
        let mut out = BytesMut::new();
        let r = s.transmit(&mut out, now);
        assert!(
            matches!(r, Err(Fault::TooLarge { tag: 4, max: 8, .. })),
            "{r:?}"
        );
        assert!(out.is_empty(), "nothing of it is sent");
    }

    #[test]
    fn qos0_is_settled_once_written() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, now);
        s.publish(3, msg("a", 0));
        assert_eq!(publishes(&sent(&mut s, now)), [(0, false)]);
        assert!(done(&mut s).is_empty());
        s.flushed();
        assert_eq!(done(&mut s), [3]);
    }

    #[test]
    fn subscriptions_are_made_again_only_when_the_session_is_gone() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.set_subscriptions(
            vec![Subscription {
                filter: "a/#".into(),
                qos: 1,
                no_local: false,
                retain_as_published: false,
                retain_handling: 0,
            }],
            vec![],
        );
        s.connected(false, None, None, now);
        assert!(matches!(sent(&mut s, now)[..], [Packet::Subscribe(_)]));
        s.received(
            In::SubAck {
                pkid: 1,
                codes: vec![SubCode::Granted(1)],
            },
            now,
        );
        assert!(matches!(s.poll_event(), Some(Event::SubAck(_))));
        s.disconnected();
        s.connected(true, None, None, now);
        assert!(sent(&mut s, now).is_empty());
        s.disconnected();
        s.connected(false, None, None, now);
        assert!(matches!(sent(&mut s, now)[..], [Packet::Subscribe(_)]));
    }

    #[test]
    fn only_a_connection_that_carried_more_than_pings_restarts_the_backoff() {
        let now = Instant::now();
        let mut s = state(10, false);
        s.connected(false, None, None, now);
        s.received(In::PingResp, now);
        assert!(!s.was_useful());
        s.received(
            In::PubAck {
                pkid: 7,
                reason: None,
            },
            now,
        );
        assert!(s.was_useful());
        s.disconnected();
        s.connected(true, None, None, now);
        assert!(!s.was_useful(), "a new connection starts not useful");
    }
}
