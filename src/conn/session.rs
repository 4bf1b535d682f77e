//! `Session`: one MQTT connection for a command, as a small handle plus one driver task
//! (`driver.rs`) that owns the socket and the session state (`state.rs`).
//!
//! The handle hands messages and acks to the driver over an unbounded channel (its own window
//! bounds how many are outstanding, so memory stays flat), and takes events from a bounded one:
//! when the command stops taking them (stdout blocked), the driver stops reading the socket but
//! goes on writing, so keep-alive does not depend on the command.
//!
//! Delivery: a message is settled when the broker has it (QoS 0 written, QoS 1 PUBACK, QoS 2
//! PUBCOMP); until then the driver keeps it across reconnects. With a clean session asked for
//! and QoS 2 in use (or MQTT 5, where it costs nothing), the session is kept at the broker for
//! the life of the run and removed at the end, so QoS 2 stays exactly once across connection
//! loss. Tests: tests/faults.rs.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::codec::Codec;
use super::config::{ConnConfig, Endpoint};
use super::driver::{self, FromDriver, ToDriver};
use super::packet::MAX_PACKET;
use super::state::{self, Settings, State};
use super::{AckToken, Incoming, Message, SubCode, Subscription, check_size};
use crate::cli::Protocol;
use crate::exit::{self, Failure};

/// What a subscriber sees.
#[derive(Debug)]
pub enum Event {
    Message(Incoming),
    /// The broker answered our SUBSCRIBE (first connect, or after a reconnect).
    SubAck(Vec<SubCode>),
    /// The broker answered one of the UNSUBSCRIBEs (one per filter given to `connect_with`).
    UnsubAck,
    /// The connection was lost; the session is reconnecting with backoff (and has already told
    /// the user why, unless --quiet).
    Lost,
    Reconnected {
        session_present: bool,
    },
    /// The answer to `Session::fence`.
    Fence,
}

/// The options of a connection beyond its `ConnConfig`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The largest QoS this run publishes or subscribes with: QoS 2 keeps the session.
    pub max_qos: u8,
    /// Give up when no connection succeeds for this long after one is lost.
    pub reconnect_timeout: Option<Duration>,
}

pub struct Session {
    to_driver: mpsc::UnboundedSender<ToDriver>,
    from_driver: mpsc::Receiver<FromDriver>,
    driver: Option<JoinHandle<()>>,
    connected: bool,
    protocol: Protocol,
    window: usize,
    next_tag: u64,
    outstanding: usize,
    events: VecDeque<Event>,
    finished: bool,
    pub endpoint: Endpoint,
    quiet: bool,
    /// When the connection was lost, while it is being restored.
    lost_at: Option<Instant>,
    /// The driver runs on another thread than the owner (a multi-thread runtime): see
    /// `try_next_event_soon`.
    parallel: bool,
}

/// How many times `try_next_event_soon` yields the thread before giving up.
const SOON_YIELDS: usize = 16;

impl Session {
    /// Connects and waits for the broker's CONNACK. Refusal and unreachable brokers are
    /// errors here (exit 4 and 3); later losses are retried with backoff.
    pub async fn connect(
        cfg: &ConnConfig,
        subscriptions: Vec<Subscription>,
    ) -> anyhow::Result<Session> {
        let max_qos = subscriptions.iter().map(|s| s.qos).max().unwrap_or(0);
        let opts = Options {
            max_qos,
            ..Options::default()
        };
        Session::open(cfg, subscriptions, Vec::new(), opts).await
    }

    /// `connect`, plus filters to UNSUBSCRIBE from right after subscribing: on the first
    /// CONNACK (so `-c` sessions the broker kept lose them) and after every reconnect that
    /// re-subscribes.
    pub async fn connect_with(
        cfg: &ConnConfig,
        subscriptions: Vec<Subscription>,
        unsubscriptions: Vec<String>,
    ) -> anyhow::Result<Session> {
        let max_qos = subscriptions.iter().map(|s| s.qos).max().unwrap_or(0);
        let opts = Options {
            max_qos,
            ..Options::default()
        };
        Session::open(cfg, subscriptions, unsubscriptions, opts).await
    }

    pub async fn open(
        cfg: &ConnConfig,
        subscriptions: Vec<Subscription>,
        unsubscriptions: Vec<String>,
        opts: Options,
    ) -> anyhow::Result<Session> {
        // In-flight window: -M (v3.1.1 QoS 2 above 20 in flight loses messages on mosquitto
        // 2.0, so -M defaults to 20).
        let window = usize::from(cfg.max_inflight).max(1);
        let settings = Settings {
            window: cfg.max_inflight.max(1),
            keepalive: Duration::from_secs(cfg.keepalive.into()),
            manual_acks: cfg.manual_acks,
        };
        let mut codec = Codec::new(cfg.protocol, MAX_PACKET + 5);
        codec.props = Some(std::sync::Arc::new(super::codec::Props {
            publish: cfg.props.publish.clone(),
            subscribe: cfg.props.subscribe.clone(),
            unsubscribe: cfg.props.unsubscribe.clone(),
        }));
        codec.trace = cfg.debug;
        let mut state = State::new(settings, codec);
        let subscriber = !subscriptions.is_empty() || cfg.manual_acks;
        state.set_subscriptions(subscriptions, unsubscriptions);
        // A session of our own for the run: the user asked for a clean one, and exactly once
        // needs one across reconnects. With v5 it costs nothing (clean start, then resume,
        // expiry 0 at the end); with 3.1.1 one more connection at the end, so only for QoS 2.
        let user_session = !cfg.clean_start
            || cfg.session_expiry.is_some()
            || cfg
                .props
                .connect
                .as_ref()
                .is_some_and(|p| p.session_expiry_interval.is_some());
        let run_session = !user_session && (cfg.protocol == Protocol::V5 || opts.max_qos == 2);
        let plan = driver::Plan {
            cfg: cfg.clone(),
            run_session,
            // A subscriber keeps receiving until the broker closes; a publisher has only a
            // ping to expect.
            linger: if subscriber {
                Duration::from_secs(2)
            } else {
                Duration::from_millis(100)
            },
            reconnect_timeout: opts.reconnect_timeout,
            bind: None,
        };
        let (to_driver, rx) = mpsc::unbounded_channel();
        let (tx, from_driver) = mpsc::channel(driver::EVENT_QUEUE / driver::EVENT_BATCH);
        let parallel = tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread;
        let gather = (subscriber && parallel).then_some(driver::GATHER);
        let driver = tokio::spawn(driver::drive(plan, state, rx, tx, gather));
        let mut s = Session {
            to_driver,
            from_driver,
            driver: Some(driver),
            connected: false,
            protocol: cfg.protocol,
            window,
            next_tag: 0,
            outstanding: 0,
            events: VecDeque::new(),
            finished: false,
            endpoint: cfg.endpoint.clone(),
            quiet: cfg.quiet,
            lost_at: None,
            parallel,
        };
        while !s.connected {
            s.pump().await?;
        }
        Ok(s)
    }

    /// Messages published and not yet settled (QoS 0: not yet written).
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// True when `publish` would not have to wait for the in-flight window.
    pub fn has_room(&self, qos: u8) -> bool {
        self.outstanding < self.window_for(qos)
    }

    /// Waits for the next message from the driver and processes it. Cancel-safe (it only
    /// awaits a channel), so a command can `select!` it against its own input.
    pub async fn process_next(&mut self) -> anyhow::Result<()> {
        self.pump().await
    }

    /// The QoS 0 window is wider than -M: there is nothing to wait for but the socket.
    fn window_for(&self, qos: u8) -> usize {
        if qos == 0 {
            self.window.max(1000)
        } else {
            self.window
        }
    }

    /// Hands a message to the driver, waiting while the window is full; `flush` waits for the
    /// broker's acknowledgements.
    pub async fn publish(&mut self, msg: Message) -> anyhow::Result<()> {
        check_size(&msg, self.protocol)?;
        let limit = self.window_for(msg.qos);
        while self.outstanding >= limit {
            self.pump().await?;
        }
        let tag = self.next_tag;
        self.next_tag += 1;
        self.outstanding += 1;
        self.send(ToDriver::Publish(tag, msg))
    }

    /// Waits until every published message is settled.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        while self.outstanding > 0 {
            self.pump().await?;
        }
        Ok(())
    }

    /// The next event if one is already here, without waiting for the network. `sub` batches
    /// its output while this returns events and flushes when it returns `None`.
    pub fn try_next_event(&mut self) -> anyhow::Result<Option<Event>> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(Some(e));
            }
            match self.from_driver.try_recv() {
                Ok(msg) => self.handle(msg)?,
                Err(_) => return Ok(None),
            }
        }
    }

    /// `try_next_event`, but when nothing is here yet, yields the thread a few times and looks
    /// again before giving up, while the driver runs on another thread. For an owner that
    /// would otherwise wait (`sub` between two reads of a stream of messages): falling asleep
    /// and being woken for every batch costs two context switches, more than rendering the
    /// batch; a few `sched_yield`s span the time to the next read and leave the processor to
    /// the broker or the driver meanwhile. Idle, it gives up after `SOON_YIELDS`.
    pub fn try_next_event_soon(&mut self) -> anyhow::Result<Option<Event>> {
        if let Some(e) = self.try_next_event()? {
            return Ok(Some(e));
        }
        if !self.parallel {
            // The driver shares this thread: it cannot make progress while we yield.
            return Ok(None);
        }
        for _ in 0..SOON_YIELDS {
            std::thread::yield_now();
            if let Some(e) = self.try_next_event()? {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Acknowledges received messages, in the order given (MQTT wants receive order). Only
    /// meaningful with `ConnConfig::manual_acks`; QoS 0 needs none.
    pub fn ack(&mut self, tokens: impl IntoIterator<Item = AckToken>) -> anyhow::Result<()> {
        for t in tokens {
            if t.qos > 0 {
                self.send(ToDriver::Ack(t))?;
            }
        }
        Ok(())
    }

    /// Asks the broker for a sign that it has sent everything it had queued for us: once every
    /// message received so far is acknowledged (`ack` it first), a PINGREQ goes out, and its
    /// PINGRESP comes back as `Event::Fence` after every message the broker wrote before it
    /// (see `State::fence`). A fence is lost with its connection: ask again after
    /// `Event::Reconnected` or the next `Event::SubAck`.
    pub fn fence(&mut self) -> anyhow::Result<()> {
        self.send(ToDriver::Fence)
    }

    /// The next thing a subscriber should see. Cancel-safe: it only awaits a channel.
    pub async fn next_event(&mut self) -> anyhow::Result<Event> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(e);
            }
            self.pump().await?;
        }
    }

    /// Sends DISCONNECT (so the broker discards the Will) after everything handed over so far,
    /// and waits until it is written and the broker has closed.
    pub async fn disconnect(mut self) -> anyhow::Result<()> {
        let _ = self.to_driver.send(ToDriver::Disconnect);
        while !self.finished {
            match self.from_driver.recv().await {
                Some(FromDriver::Finished) | None => break,
                Some(_) => {}
            }
        }
        if let Some(d) = self.driver.take() {
            let _ = d.await;
        }
        Ok(())
    }

    fn send(&self, cmd: ToDriver) -> anyhow::Result<()> {
        self.to_driver
            .send(cmd)
            .map_err(|_| anyhow::anyhow!("the connection task stopped unexpectedly"))
    }

    async fn pump(&mut self) -> anyhow::Result<()> {
        let Some(msg) = self.from_driver.recv().await else {
            anyhow::bail!("the connection task stopped unexpectedly");
        };
        self.handle(msg)
    }

    fn handle(&mut self, msg: FromDriver) -> anyhow::Result<()> {
        match msg {
            FromDriver::Connected { session_present } => {
                if self.connected {
                    if !self.quiet {
                        let away = self.lost_at.take().map(|t| t.elapsed().as_secs_f64());
                        eprintln!(
                            "mqtk: reconnected to {} after {:.1}s ({})",
                            self.endpoint,
                            away.unwrap_or_default(),
                            if session_present {
                                "session resumed"
                            } else {
                                "new session"
                            }
                        );
                    }
                    self.events
                        .push_back(Event::Reconnected { session_present });
                }
                self.connected = true;
            }
            FromDriver::Lost(why) => {
                if !self.quiet {
                    eprintln!(
                        "mqtk: connection to {} lost ({why}); reconnecting",
                        self.endpoint
                    );
                }
                self.lost_at.get_or_insert_with(Instant::now);
                self.events.push_back(Event::Lost);
            }
            FromDriver::Events(batch) => {
                for ev in batch {
                    match ev {
                        state::Event::Done { result, .. } => {
                            self.outstanding = self.outstanding.saturating_sub(1);
                            if let Err(rej) = result {
                                return Err(rejection(rej).into());
                            }
                        }
                        state::Event::Message(m) => self.events.push_back(Event::Message(m)),
                        state::Event::SubAck(codes) => {
                            self.events.push_back(Event::SubAck(codes));
                        }
                        state::Event::UnsubAck => self.events.push_back(Event::UnsubAck),
                        state::Event::Fence => self.events.push_back(Event::Fence),
                    }
                }
            }
            FromDriver::Fatal(f) => return Err(f.into()),
            FromDriver::GaveUp(why) => {
                let n = self.outstanding;
                return Err(Failure::new(
                    exit::ExitStatus::Failure,
                    format!(
                        "{why}; {n} message{} not acknowledged",
                        if n == 1 { " was" } else { "s were" }
                    ),
                )
                .into());
            }
            FromDriver::Finished => self.finished = true,
        }
        Ok(())
    }
}

fn rejection(rej: state::Rejection) -> Failure {
    let r = rej.reason;
    let mut f = exit::rejected(format!(
        "the broker rejected the message to {:?} ({}, reason code 0x{:02x})",
        rej.topic, r.text, r.code
    ));
    if r.code == 0x87 {
        f = f.with_hint("the broker's ACL does not let this user publish to that topic");
    }
    f
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(d) = self.driver.take() {
            d.abort();
        }
    }
}
