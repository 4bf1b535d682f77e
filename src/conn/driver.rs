//! The driver: one tokio task per connection that moves bytes between the socket and the
//! session state (`state.rs`), and connects again with backoff when the connection is lost.
//!
//! One loop, one socket: it reads into a reused buffer, and writes everything the state has
//! ready in one `write` per wake-up (acks, resends and new messages together). Reading pauses
//! while the owner has not taken the events already decoded (a blocked stdout slows `sub`, it
//! does not grow memory), but writing, and so keep-alive, goes on.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::v5::mqttbytes::v5::{ConnectProperties, DisconnectProperties};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::codec::{self, In};
use super::config::{ConnConfig, Endpoint};
use super::link::{Link, Progress};
use super::state::{Event, Fault, State};
use super::transport::{self, Stream};
use super::{AckToken, Message, Will};
use crate::cli::Protocol;
use crate::exit::{self, Failure};

/// Owner → driver.
#[derive(Debug)]
pub enum ToDriver {
    Publish(u64, Message),
    Ack(AckToken),
    /// `State::fence`: a PINGREQ after everything queued before it, answered by `Event::Fence`.
    Fence,
    /// Send DISCONNECT once everything queued before it is written.
    Disconnect,
}

/// Driver → owner.
#[derive(Debug)]
pub enum FromDriver {
    Connected {
        session_present: bool,
    },
    Lost(String),
    /// Events in the order they happened, at most `EVENT_BATCH` of them: one hand-over (and
    /// at most one wake-up of the owner) for all the messages of a read.
    Events(VecDeque<Event>),
    /// The run cannot go on (refused, a message the broker never takes, gave up reconnecting).
    Fatal(Failure),
    /// `--reconnect-timeout` passed without a connection.
    GaveUp(String),
    Finished,
}

/// How long the session survives at the broker between our connections when we keep it only
/// for the life of the run (v5): long enough for an outage, short enough that a killed run
/// does not leave a session queueing messages for long.
pub const RUN_SESSION_EXPIRY: u32 = 300;

/// Events decoded but not taken by the owner, before reading pauses.
pub const EVENT_QUEUE: usize = 1024;

/// See `drive`'s `gather`.
pub const GATHER: Duration = Duration::from_micros(50);

/// Events handed to the owner at once; the channel holds `EVENT_QUEUE / EVENT_BATCH` batches.
pub const EVENT_BATCH: usize = 256;

/// How the connections of one run are made.
pub struct Plan {
    pub cfg: ConnConfig,
    /// Keep the session at the broker across reconnects although the user asked for a clean
    /// one (QoS 2 exactly once across connection loss), and remove it at the end.
    pub run_session: bool,
    /// How long to read after DISCONNECT until the broker closes (see `close`).
    pub linger: Duration,
    pub reconnect_timeout: Option<Duration>,
    pub bind: transport::Bind,
}

impl Plan {
    fn clean_start(&self, resumed: bool) -> bool {
        if self.run_session {
            // Never clean, also on the first connection: mosquitto saves (across its own
            // restart) only sessions that did not start clean. A session an earlier run left
            // under this id is purged when the first CONNACK shows one (`drive`).
            let _ = resumed;
            false
        } else if !self.cfg.clean_start {
            false
        } else {
            // A clean session asked for: every connection starts clean.
            true
        }
    }

    fn connect_properties(&self) -> Option<ConnectProperties> {
        let mut p = self.cfg.props.connect.clone();
        if let Some(x) = self.cfg.session_expiry {
            p.get_or_insert_with(ConnectProperties::new)
                .session_expiry_interval = Some(x);
        }
        if self.run_session && self.cfg.protocol == Protocol::V5 {
            let p = p.get_or_insert_with(ConnectProperties::new);
            if p.session_expiry_interval.is_none_or(|x| x == 0) {
                p.session_expiry_interval = Some(RUN_SESSION_EXPIRY);
            }
        }
        if self.cfg.protocol == Protocol::V311 {
            return None;
        }
        p
    }

    fn disconnect_properties(&self) -> Option<DisconnectProperties> {
        let mut p = self.cfg.props.disconnect.clone();
        if self.run_session && self.cfg.protocol == Protocol::V5 {
            p.get_or_insert_with(empty_disconnect_props)
                .session_expiry_interval = Some(0);
        }
        p
    }
}

fn empty_disconnect_props() -> DisconnectProperties {
    DisconnectProperties {
        session_expiry_interval: None,
        reason_string: None,
        user_properties: Vec::new(),
        server_reference: None,
    }
}

/// Opens a stream and does the CONNECT/CONNACK exchange.
pub async fn handshake(
    plan: &Plan,
    codec: &codec::Codec,
    clean_start: bool,
    will: bool,
) -> Result<(Stream, codec::ConnAck, BytesMut), Failure> {
    let hello = Hello {
        client_id: &plan.cfg.client_id,
        clean_start,
        will: if will { plan.cfg.will.as_ref() } else { None },
        bind: plan.bind,
    };
    handshake_as(plan, codec, &hello).await
}

/// Who connects: what differs between the connections of one `Plan` (`sim`'s devices share a
/// plan and differ in these).
pub struct Hello<'a> {
    pub client_id: &'a str,
    pub clean_start: bool,
    pub will: Option<&'a Will>,
    pub bind: transport::Bind,
}

/// Opens a stream and does the CONNECT/CONNACK exchange for `hello`.
pub async fn handshake_as(
    plan: &Plan,
    codec: &codec::Codec,
    hello: &Hello<'_>,
) -> Result<(Stream, codec::ConnAck, BytesMut), Failure> {
    let cfg = &plan.cfg;
    let clean_start = hello.clean_start;
    let mut stream = transport::open(cfg, hello.bind).await?;
    let mut out = BytesMut::new();
    let connect = codec::Connect {
        client_id: hello.client_id,
        keepalive: cfg.keepalive,
        clean_start,
        username: cfg.username.as_deref(),
        password: cfg.password.as_deref(),
        will: hello.will,
        properties: plan.connect_properties(),
        will_properties: cfg.props.will.clone(),
    };
    if cfg.debug {
        eprintln!(
            "mqtk: sending CONNECT to {} (client id {:?}, MQTT {}, clean {}, keepalive {}s{}{})",
            cfg.endpoint,
            hello.client_id,
            if cfg.protocol == Protocol::V5 {
                "5"
            } else {
                "3.1.1"
            },
            clean_start,
            cfg.keepalive,
            cfg.username
                .as_ref()
                .map(|u| format!(", user {u:?}"))
                .unwrap_or_default(),
            if cfg.password.is_some() {
                ", password set"
            } else {
                ""
            },
        );
    }
    codec.connect(&connect, &mut out);
    let early = |e: &std::io::Error| early_close(e, &cfg.endpoint, cfg);
    let exchange = async {
        stream.write_all(&out).await.map_err(|e| early(&e))?;
        stream.flush().await.map_err(|e| early(&e))?;
        let mut buf = BytesMut::with_capacity(256);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(In::ConnAck(c))) => return Ok((c, buf)),
                Ok(Some(other)) => {
                    return Err(closed_early(
                        &cfg.endpoint,
                        &format!("the broker answered CONNECT with {other:?}, not CONNACK"),
                    ));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(closed_early(
                        &cfg.endpoint,
                        &format!("the broker's answer to CONNECT is not MQTT ({e})"),
                    ));
                }
            }
            let n = stream.read_buf(&mut buf).await.map_err(|e| early(&e))?;
            if n == 0 {
                return Err(closed_early(
                    &cfg.endpoint,
                    "the connection ended before the broker answered CONNECT: the broker \
                     closed the connection",
                ));
            }
        }
    };
    let (connack, rest) = match tokio::time::timeout(transport::CONNECT_TIMEOUT, exchange).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(exit::connect(format!(
                "could not connect to {} (no CONNACK within {}s)",
                cfg.endpoint,
                transport::CONNECT_TIMEOUT.as_secs()
            )));
        }
    };
    if cfg.debug {
        eprintln!(
            "mqtk: received CONNACK (session present: {})",
            connack.session_present
        );
    }
    if let Some(why) = &connack.refusal {
        let f = exit::refused(format!("the broker refused the connection ({why})"));
        return Err(match refusal_hint(why, cfg) {
            Some(hint) => f.with_hint(hint),
            None => f,
        });
    }
    Ok((stream, connack, rest))
}

/// What a "not authorized" CONNACK most likely means. mosquitto gives the same answer for a
/// wrong password, an unknown user and no credentials at all; only the last one we can tell
/// apart ourselves (tests/auth.rs `refused_without_a_user_name_says_the_broker_wants_credentials`).
fn refusal_hint(why: &str, cfg: &ConnConfig) -> Option<&'static str> {
    if !(why.contains("not authorized") || why.contains("user name")) {
        return None;
    }
    let client_cert = cfg.tls.as_ref().is_some_and(|t| t.client_cert);
    Some(match (&cfg.username, client_cert) {
        (None, false) => {
            "no user name was given and this broker requires credentials: add -u USER and \
             -P (prompts), --password-file FILE or MQTK_PASSWORD"
        }
        (None, true) => {
            "no user name was given: the broker takes the client certificate's CN as the user \
             name only with use_identity_as_username true; otherwise add -u USER and a password"
        }
        (Some(_), _) => {
            "mosquitto answers 'not authorized' for a wrong password or unknown user too"
        }
    })
}

/// A failure while writing CONNECT or reading CONNACK: a TLS alert (the broker refusing our
/// client certificate arrives here under TLS 1.3), or a plain port closing on TLS.
fn early_close(e: &std::io::Error, endpoint: &Endpoint, cfg: &ConnConfig) -> Failure {
    if super::tls::rustls_cause(e).is_some() {
        return transport::tls_failure(e, endpoint, cfg.tls.as_ref());
    }
    closed_early(
        endpoint,
        &format!(
            "the connection ended before the broker answered CONNECT: {}",
            transport::io_words(e)
        ),
    )
}

fn closed_early(endpoint: &Endpoint, why: &str) -> Failure {
    let hint = if endpoint.tls() {
        "is this a TLS port? a plain MQTT port (usually 1883) does not speak TLS"
    } else {
        "is this a TLS port? add --cafile FILE (or use an mqtts:// URL) to connect with TLS"
    };
    transport::connect_failure(endpoint, why, Some(hint.into()))
}

/// Why a connection ended.
enum End {
    Lost(String),
    /// DISCONNECT was written; the run is over.
    Closed,
    Fatal(Failure),
    /// The owner is gone.
    Gone,
}

/// The driver task of a `Session`.
///
/// `gather`: for a subscriber whose driver has a thread of its own. After a read that emptied
/// the socket, the thread sleeps this long before it waits for more, so that the messages of
/// a stream arrive a few dozen per read rather than one by one: a driver asleep in the poller
/// has to be woken for every message the broker writes, which costs the broker more than
/// writing it (mosquitto is single-threaded: its time is every subscriber's throughput), and
/// costs us a context switch per message. Only the messages after the first of a stream wait,
/// and at most this long.
pub async fn drive(
    plan: Plan,
    mut state: State,
    mut rx: mpsc::UnboundedReceiver<ToDriver>,
    tx: mpsc::Sender<FromDriver>,
    gather: Option<Duration>,
) {
    let mut connected_once = false;
    let mut backoff = Backoff::new();
    let mut disconnect_asked = false;
    let mut lost_since: Option<Instant> = None;
    // A batch of events the owner's queue has no room for yet; one left when a connection
    // ends goes back to the state, to reach the owner before "lost".
    let mut stash: Option<VecDeque<Event>> = None;
    loop {
        let clean = plan.clean_start(connected_once);
        let codec = state.codec().clone();
        let attempt = tokio::select! {
            r = handshake(&plan, &codec, clean, true) => r,
            // Commands keep arriving while we connect: queue them in the state.
            () = absorb(&mut rx, &mut state, &mut disconnect_asked) => return,
        };
        let (stream, connack, rest) = match attempt {
            Ok(x) => x,
            Err(f) => {
                if f.status == exit::ExitStatus::Refused || !connected_once {
                    let _ = tx.send(FromDriver::Fatal(f)).await;
                    return;
                }
                if disconnect_asked {
                    let _ = tx.send(FromDriver::Finished).await;
                    return;
                }
                if let (Some(limit), Some(since)) = (plan.reconnect_timeout, lost_since)
                    && since.elapsed() >= limit
                {
                    let _ = tx
                        .send(FromDriver::GaveUp(format!(
                            "gave up reconnecting to {} after {}s ({})",
                            plan.cfg.endpoint,
                            limit.as_secs_f64(),
                            f.message
                        )))
                        .await;
                    return;
                }
                if plan.cfg.debug {
                    eprintln!("mqtk: {}", f.message);
                }
                if !wait(
                    &mut backoff,
                    &plan,
                    lost_since,
                    &mut rx,
                    &mut state,
                    &mut disconnect_asked,
                )
                .await
                {
                    return;
                }
                continue;
            }
        };
        if plan.run_session && !connected_once && connack.session_present {
            // A session left behind under this client id by an earlier run: its ids would
            // clash with ours. Start from nothing.
            drop(stream);
            if let Err(f) = purge(&plan, &codec).await {
                let _ = tx.send(FromDriver::Fatal(f)).await;
                return;
            }
            continue;
        }
        let first = !connected_once;
        connected_once = true;
        let now = Instant::now();
        state.connected(
            connack.session_present,
            connack.receive_max,
            connack.max_packet,
            now.into_std(),
        );
        if tx
            .send(FromDriver::Connected {
                session_present: connack.session_present,
            })
            .await
            .is_err()
        {
            return;
        }
        let _ = first;
        let started = Instant::now();
        let end = run(
            &plan,
            &mut state,
            stream,
            rest,
            Owner {
                rx: &mut rx,
                tx: &tx,
                stash: &mut stash,
            },
            &mut disconnect_asked,
            gather,
        )
        .await;
        if let Some(batch) = stash.take() {
            state.put_back_events(batch);
        }
        let useful = state.was_useful();
        let fault = state.disconnected();
        // The events of the old connection go out before "lost".
        while state.has_events() {
            let batch = state.take_events(EVENT_BATCH);
            if tx.send(FromDriver::Events(batch)).await.is_err() {
                return;
            }
        }
        match end {
            End::Closed => {
                if plan.run_session && plan.cfg.protocol == Protocol::V311 {
                    // 3.1.1 cannot end a kept session with DISCONNECT; a clean connection does.
                    let _ = purge(&plan, state.codec()).await;
                }
                let _ = tx.send(FromDriver::Finished).await;
                return;
            }
            End::Gone => return,
            End::Fatal(f) => {
                let _ = tx.send(FromDriver::Fatal(f)).await;
                return;
            }
            End::Lost(why) => {
                if let Some(f) = fault.and_then(|f| give_up(&f)) {
                    let _ = tx.send(FromDriver::Fatal(f)).await;
                    return;
                }
                if useful || started.elapsed() >= Duration::from_secs(10) {
                    backoff = Backoff::new();
                }
                lost_since = Some(Instant::now());
                if tx.send(FromDriver::Lost(why)).await.is_err() {
                    return;
                }
                if disconnect_asked {
                    let _ = tx.send(FromDriver::Finished).await;
                    return;
                }
                if !wait(
                    &mut backoff,
                    &plan,
                    lost_since,
                    &mut rx,
                    &mut state,
                    &mut disconnect_asked,
                )
                .await
                {
                    return;
                }
            }
        }
    }
}

/// Connects with a clean session and leaves at once: the broker forgets the client id's session.
async fn purge(plan: &Plan, codec: &codec::Codec) -> Result<(), Failure> {
    let (mut stream, _, _) = handshake(plan, codec, true, false).await?;
    let mut out = BytesMut::new();
    // v5: a session expiry of 0, or the clean session just made would outlive us.
    codec.disconnect(plan.disconnect_properties(), &mut out);
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 64];
    let _ = tokio::time::timeout(Duration::from_millis(200), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    Ok(())
}

pub fn give_up(f: &Fault) -> Option<Failure> {
    match f {
        Fault::Refused { topic, size, .. } => Some(exit::rejected(format!(
            "the broker closed the connection each time it got the message to {topic:?} \
             ({size} bytes payload), {} times in a row; it will not accept it",
            super::state::STRIKES
        )).with_hint("a broker's max_packet_size, or its access control, can make it drop a client for a message")),
        Fault::TooLarge {
            topic, size, max, ..
        } => Some(exit::rejected(format!(
            "the message to {topic:?} is {size} bytes; the broker accepts packets of at most {max} bytes"
        ))),
        Fault::KeepAliveTimeout => None,
    }
}

/// Sleeps out the backoff while absorbing commands. False when the owner is gone.
async fn wait(
    backoff: &mut Backoff,
    plan: &Plan,
    lost_since: Option<Instant>,
    rx: &mut mpsc::UnboundedReceiver<ToDriver>,
    state: &mut State,
    disconnect_asked: &mut bool,
) -> bool {
    let mut delay = backoff.next();
    if let (Some(limit), Some(since)) = (plan.reconnect_timeout, lost_since) {
        // Try once more right at the limit rather than sleeping past it.
        let left = (since + limit).saturating_duration_since(Instant::now());
        delay = delay.min(left);
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        () = absorb(rx, state, disconnect_asked) => false,
    }
}

/// Takes commands into the state until the owner is gone (never returns otherwise).
async fn absorb(
    rx: &mut mpsc::UnboundedReceiver<ToDriver>,
    state: &mut State,
    disconnect_asked: &mut bool,
) {
    while let Some(cmd) = rx.recv().await {
        apply(cmd, state, disconnect_asked);
    }
}

fn apply(cmd: ToDriver, state: &mut State, disconnect_asked: &mut bool) {
    match cmd {
        ToDriver::Publish(tag, m) => state.publish(tag, m),
        ToDriver::Ack(t) => state.ack(t),
        ToDriver::Fence => state.fence(),
        ToDriver::Disconnect => *disconnect_asked = true,
    }
}

/// Exponential backoff with jitter: 250 ms doubling to 30 s, each delay drawn from 75–125 %.
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            next: Duration::from_millis(250),
        }
    }

    fn next(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(30));
        let mut b = [0u8; 2];
        let _ = getrandom::fill(&mut b);
        let jitter = 0.75 + f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 0.5;
        base.mul_f64(jitter)
    }
}

/// The channels to and from the owner, and a batch of events its queue had no room for yet.
struct Owner<'a> {
    rx: &'a mut mpsc::UnboundedReceiver<ToDriver>,
    tx: &'a mpsc::Sender<FromDriver>,
    stash: &'a mut Option<VecDeque<Event>>,
}

/// One connection: until it is lost, DISCONNECT is written, or the owner is gone.
async fn run(
    plan: &Plan,
    state: &mut State,
    stream: Stream,
    rest: BytesMut,
    owner: Owner<'_>,
    disconnect_asked: &mut bool,
    gather: Option<Duration>,
) -> End {
    let Owner { rx, tx, stash } = owner;
    let debug = plan.cfg.debug;
    let mut link = Link::new(stream, rest);
    let mut closing = false;
    let mut rx_open = true;
    // Bytes read and not decoded yet (the CONNACK's read may have brought more packets).
    let mut decode = true;
    // The last read emptied the socket: let the next messages gather (`gather`).
    let mut gathering = false;
    loop {
        if decode && stash.is_none() {
            let now = Instant::now().into_std();
            // Up to one batch of events: what is left stays bytes in the link until the owner
            // has room, so memory is bounded by the owner's queue, not by how much one read
            // brought.
            while state.event_count() < EVENT_BATCH {
                match link.next_packet(state.codec()) {
                    Ok(Some(p)) => {
                        if debug {
                            trace(&p);
                        }
                        if let In::Disconnect { reason } = &p {
                            return End::Lost(match reason {
                                Some(r) => format!("the broker sent DISCONNECT: {}", r.text),
                                None => "the broker sent DISCONNECT".into(),
                            });
                        }
                        state.received(p, now);
                    }
                    Ok(None) => {
                        decode = false;
                        break;
                    }
                    Err(e) => {
                        return End::Lost(format!("the broker sent a malformed packet ({e})"));
                    }
                }
            }
        }
        // Commands already waiting, all of them: one write carries them together.
        while rx_open {
            match rx.try_recv() {
                Ok(cmd) => apply(cmd, state, disconnect_asked),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => rx_open = false,
            }
        }
        if !rx_open {
            return End::Gone;
        }
        // Events to the owner, a batch at a time, until its queue is full.
        while stash.is_none() && state.has_events() {
            match tx.try_send(FromDriver::Events(state.take_events(EVENT_BATCH))) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(FromDriver::Events(batch))) => {
                    *stash = Some(batch);
                }
                Err(_) => return End::Gone,
            }
        }
        let now = Instant::now();
        if !closing {
            if let Err(f) = state.transmit(&mut link.out, now.into_std()) {
                match give_up(&f) {
                    Some(failure) => return End::Fatal(failure),
                    None => return End::Lost("no answer to PINGREQ".into()),
                }
            }
            if *disconnect_asked {
                state
                    .codec()
                    .disconnect(plan.disconnect_properties(), &mut link.out);
                closing = true;
            }
            match link.push() {
                Ok(true) => {
                    state.flushed();
                    // QoS 0 messages just settled: tell the owner before waiting.
                    if state.has_events() && stash.is_none() {
                        continue;
                    }
                }
                Ok(false) => {}
                Err(e) => return End::Lost(lost_words(&e, plan)),
            }
        }
        if closing {
            link.close(plan.linger).await;
            return End::Closed;
        }
        if decode && stash.is_none() {
            // More whole packets may be waiting in what was read: decode them before reading.
            continue;
        }
        let reading = stash.is_none();
        if reading
            && std::mem::take(&mut gathering)
            && let Some(pause) = gather
        {
            // A blocking sleep, and short: the driver is alone on its thread (`gather`).
            std::thread::sleep(pause);
        }
        let deadline = state.deadline().map(Instant::from_std);
        if reading && let Err(Fault::KeepAliveTimeout) = state.check(now.into_std()) {
            return End::Lost("the broker did not answer PINGREQ within the keep-alive".into());
        }
        tokio::select! {
            biased;
            cmd = rx.recv() => match cmd {
                Some(cmd) => apply(cmd, state, disconnect_asked),
                None => rx_open = false,
            },
            permit = tx.reserve(), if stash.is_some() => match permit {
                Ok(p) => p.send(FromDriver::Events(stash.take().expect("checked"))),
                Err(_) => return End::Gone,
            },
            r = link.io(reading) => match r {
                Ok(Progress::Read) => {
                    decode = true;
                    gathering = link.drained();
                }
                Ok(Progress::Wrote) => {}
                Ok(Progress::Flushed) => state.flushed(),
                Ok(Progress::Closed) => return End::Lost("the broker closed the connection".into()),
                Err(e) => return End::Lost(lost_words(&e, plan)),
            },
            () = sleep_until(deadline) => {}
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn lost_words(e: &std::io::Error, plan: &Plan) -> String {
    if super::tls::rustls_cause(e).is_some() {
        return transport::tls_failure(e, &plan.cfg.endpoint, plan.cfg.tls.as_ref()).message;
    }
    transport::io_words(e)
}

/// `-d`: one line per packet received on stderr (CONNECT and CONNACK are traced by
/// `handshake`, what we send by the codec).
pub fn trace(p: &In) {
    let rc = |r: &Option<super::Reason>| match r {
        Some(r) => format!(", reason 0x{:02x} {}", r.code, r.text),
        None => String::new(),
    };
    let line = match p {
        In::ConnAck(c) => format!("received CONNACK (session present: {})", c.session_present),
        In::Publish(m) => format!(
            "received PUBLISH (mid {}, qos {}, retain {}, dup {}, {:?}, {} bytes)",
            m.pkid,
            m.qos,
            m.retain,
            m.dup,
            m.topic,
            m.payload.len()
        ),
        In::PubAck { pkid, reason } => format!("received PUBACK (mid {pkid}{})", rc(reason)),
        In::PubRec { pkid, reason } => format!("received PUBREC (mid {pkid}{})", rc(reason)),
        In::PubRel { pkid } => format!("received PUBREL (mid {pkid})"),
        In::PubComp { pkid, reason } => format!("received PUBCOMP (mid {pkid}{})", rc(reason)),
        In::SubAck { pkid, codes } => format!("received SUBACK (mid {pkid}, {codes:?})"),
        In::UnsubAck { pkid } => format!("received UNSUBACK (mid {pkid})"),
        In::PingResp => "received PINGRESP".into(),
        In::Disconnect { reason } => format!("received DISCONNECT{}", rc(reason)),
        In::Other(what) => format!("received {what}"),
    };
    eprintln!("mqtk: {line}");
}
