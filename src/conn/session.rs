//! `Session`: one MQTT connection, as a small handle plus one tokio task that owns the MQTT
//! library's event loop (through the adapter in `rumqtt.rs`). This is where the delivery
//! guarantees live.
//!
//! Why a task: `EventLoop::poll` is not cancel-safe (a poll dropped mid-write can lose a packet
//! that its state already counts as sent), so it must never race other futures in a `select!`.
//! The driver task polls forever and forwards events over a bounded channel; the handle pushes
//! requests into the library's own request channel, which wakes the poll.
//!
//! Why our own bookkeeping: `publish()` returning Ok only means "queued", and after a reconnect
//! without a session the library silently drops what was queued or in flight. The handle
//! therefore keeps every message until the broker has acknowledged it (bounded by the in-flight
//! window, so memory stays flat), learns the packet id the library gave each one from the
//! `Sent::Publish` events (they come in request order), and republishes whatever was lost.
//!
//! The one race — a request pushed while the driver is between "connection failed" and
//! "reconnected" — is closed by a generation gate: the driver closes it and drains the request
//! channel under one lock, and the handle only pushes while the gate shows the generation of the
//! last CONNACK it has itself processed. Tests: tests/publish.rs (`reconnect_*`, `lines_*`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::config::{ConnConfig, Endpoint};
use super::packet::{AckToken, Incoming, Message, Reason, SubCode, Subscription, check_size};
use super::props::V5Props;
use super::rumqtt::{self, Ev, Sent};
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
}

/// Driver → handle.
enum FromDriver {
    Connected {
        generation: u64,
        session_present: bool,
    },
    Lost(String),
    Fatal(Failure),
    Packet(Ev),
    Finished,
}

type Gate = Arc<Mutex<Option<u64>>>;

pub struct Session {
    client: rumqtt::Client,
    from_driver: mpsc::Receiver<FromDriver>,
    gate: Gate,
    /// Generation of the last CONNACK this handle processed; pushes need the gate to match.
    generation: Option<u64>,
    driver: Option<JoinHandle<()>>,
    protocol: Protocol,
    window: usize,
    /// The -D properties of PUBLISH, SUBSCRIBE and UNSUBSCRIBE packets.
    props: V5Props,
    // Publish bookkeeping (see the module comment).
    next_seq: u64,
    store: BTreeMap<u64, Message>,
    written_unknown: VecDeque<u64>,
    by_pkid: HashMap<u16, u64>,
    unsent: VecDeque<u64>,
    // Subscriptions and what the caller has not consumed yet.
    subscriptions: Vec<Subscription>,
    /// `sub -U`: sent after the subscriptions, whenever they are (as mosquitto_sub does).
    unsubscriptions: Vec<String>,
    subscribed_once: bool,
    events: VecDeque<Event>,
    disconnecting: bool,
    finished: bool,
    pub endpoint: Endpoint,
    quiet: bool,
}

impl Session {
    /// Connects and waits for the broker's CONNACK. Refusal and unreachable brokers are
    /// errors here (exit 4 and 3); later losses are retried with backoff.
    pub async fn connect(
        cfg: &ConnConfig,
        subscriptions: Vec<Subscription>,
    ) -> anyhow::Result<Session> {
        Session::connect_with(cfg, subscriptions, Vec::new()).await
    }

    /// `connect`, plus filters to UNSUBSCRIBE from right after subscribing: on the first
    /// CONNACK (so `-c` sessions the broker kept lose them) and after every reconnect that
    /// re-subscribes.
    pub async fn connect_with(
        cfg: &ConnConfig,
        subscriptions: Vec<Subscription>,
        unsubscriptions: Vec<String>,
    ) -> anyhow::Result<Session> {
        // In-flight window: QoS 1/2 are bounded by -M (mosquitto silently drops v3.1.1 QoS 2
        // messages beyond 20 in flight, so -M defaults to 20 and `pub` warns above it). QoS 0
        // has no acks, only flushes; a wider window lets the writer batch.
        let window = usize::from(cfg.max_inflight).max(1);
        let cap = window.max(1000) + 16;
        let (client, el) = rumqtt::build(cfg, cap)?;
        if cfg.debug {
            eprintln!(
                "mqtk: sending CONNECT to {} (client id {:?}, MQTT {}, clean {}, keepalive {}s{}{})",
                cfg.endpoint,
                cfg.client_id,
                if cfg.protocol == Protocol::V5 {
                    "5"
                } else {
                    "3.1.1"
                },
                cfg.clean_start,
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
        let gate: Gate = Arc::new(Mutex::new(None));
        let (tx, rx) = mpsc::channel(1024);
        // How long to read after DISCONNECT until the broker closes (see `drive`): a subscriber
        // keeps receiving until the broker gets there; a publisher has only a ping to expect.
        let linger = if subscriptions.is_empty() && !cfg.manual_acks {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(2)
        };
        let driver = tokio::spawn(drive(
            el,
            tx,
            gate.clone(),
            cfg.debug,
            cfg.endpoint.clone(),
            linger,
        ));
        let mut s = Session {
            client,
            from_driver: rx,
            gate,
            generation: None,
            driver: Some(driver),
            protocol: cfg.protocol,
            window,
            props: cfg.props.clone(),
            next_seq: 0,
            store: BTreeMap::new(),
            written_unknown: VecDeque::new(),
            by_pkid: HashMap::new(),
            unsent: VecDeque::new(),
            subscriptions,
            unsubscriptions,
            subscribed_once: false,
            events: VecDeque::new(),
            disconnecting: false,
            finished: false,
            endpoint: cfg.endpoint.clone(),
            quiet: cfg.quiet,
        };
        while s.generation.is_none() {
            s.pump().await?;
        }
        Ok(s)
    }

    /// Messages published and not yet acknowledged (QoS 0: not yet written).
    pub fn outstanding(&self) -> usize {
        self.store.len()
    }

    /// True when `publish` would not have to wait for the in-flight window.
    pub fn has_room(&self, qos: u8) -> bool {
        self.store.len() < self.window_for(qos)
    }

    /// Waits for the next message from the connection task and processes it. Cancel-safe (it
    /// only awaits a channel), so a command can `select!` it against its own input.
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

    /// Queues a message, waiting while the in-flight window is full. Returns once the library has
    /// it (or it is held for the next connection); `flush` waits for the acknowledgements.
    pub async fn publish(&mut self, msg: Message) -> anyhow::Result<()> {
        let limit = self.window_for(msg.qos);
        while self.store.len() >= limit {
            self.pump().await?;
        }
        check_size(&msg, self.protocol)?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.store.insert(seq, msg);
        self.unsent.push_back(seq);
        self.push_unsent()?;
        Ok(())
    }

    /// Waits until every published message is acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP)
    /// or, for QoS 0, written to the socket.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        while !self.store.is_empty() {
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

    /// Acknowledges received messages, in the order given (MQTT wants receive order). Only
    /// meaningful with `ConnConfig::manual_acks`; QoS 0 needs none, and a message from an
    /// earlier connection is not acknowledged on this one (the broker sends it again).
    pub fn ack(&mut self, tokens: impl IntoIterator<Item = AckToken>) -> anyhow::Result<()> {
        let gate = self.gate.lock().unwrap();
        for t in tokens {
            if t.qos > 0
                && gate.is_some()
                && *gate == self.generation
                && Some(t.generation) == *gate
            {
                self.client.ack(t)?;
            }
        }
        Ok(())
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

    /// Sends DISCONNECT (so the broker discards the Will) and waits until it is written.
    pub async fn disconnect(mut self) -> anyhow::Result<()> {
        self.disconnecting = true;
        self.push_disconnect();
        while !self.finished {
            match self.from_driver.recv().await {
                Some(FromDriver::Finished) | None => break,
                Some(FromDriver::Connected { generation, .. }) => {
                    self.generation = Some(generation);
                    self.push_disconnect();
                }
                Some(_) => {}
            }
        }
        if let Some(d) = self.driver.take() {
            let _ = d.await;
        }
        Ok(())
    }

    fn push_disconnect(&self) {
        let gate = self.gate.lock().unwrap();
        if *gate == self.generation && gate.is_some() {
            let _ = self.client.disconnect();
        }
    }

    /// Hands held messages to the library while the connection we know about is up.
    fn push_unsent(&mut self) -> anyhow::Result<()> {
        if self.unsent.is_empty() {
            return Ok(());
        }
        let gate = self.gate.lock().unwrap();
        if gate.is_none() || *gate != self.generation {
            return Ok(());
        }
        while let Some(seq) = self.unsent.pop_front() {
            let msg = &self.store[&seq];
            self.client.publish(msg, &self.props)?;
            self.written_unknown.push_back(seq);
        }
        Ok(())
    }

    fn push_subscriptions(&mut self) -> anyhow::Result<()> {
        if self.subscriptions.is_empty() && self.unsubscriptions.is_empty() {
            return Ok(());
        }
        let gate = self.gate.lock().unwrap();
        if gate.is_none() || *gate != self.generation {
            return Ok(());
        }
        if !self.subscriptions.is_empty() {
            self.client.subscribe(&self.subscriptions, &self.props)?;
        }
        for filter in &self.unsubscriptions {
            self.client.unsubscribe(filter, &self.props)?;
        }
        Ok(())
    }

    /// Processes one message from the driver.
    async fn pump(&mut self) -> anyhow::Result<()> {
        let Some(msg) = self.from_driver.recv().await else {
            anyhow::bail!("the connection task stopped unexpectedly");
        };
        self.handle(msg)
    }

    fn handle(&mut self, msg: FromDriver) -> anyhow::Result<()> {
        match msg {
            FromDriver::Connected {
                generation,
                session_present,
            } => {
                let first = self.generation.is_none() && !self.subscribed_once;
                self.generation = Some(generation);
                if !session_present {
                    // The broker has no session: whatever the library had queued or in flight is
                    // gone. Send it again, oldest first, ahead of anything new.
                    let mut lost: Vec<u64> = self.by_pkid.drain().map(|(_, s)| s).collect();
                    lost.extend(self.written_unknown.drain(..));
                    lost.sort_unstable();
                    for seq in lost.into_iter().rev() {
                        self.unsent.push_front(seq);
                    }
                }
                if first || !session_present {
                    self.push_subscriptions()?;
                    self.subscribed_once = true;
                }
                if !first {
                    self.events
                        .push_back(Event::Reconnected { session_present });
                }
                self.push_unsent()?;
                if self.disconnecting {
                    self.push_disconnect();
                }
            }
            FromDriver::Lost(why) => {
                self.generation = None;
                if !self.quiet {
                    eprintln!(
                        "mqtk: connection to {} lost ({why}); reconnecting",
                        self.endpoint
                    );
                }
                self.events.push_back(Event::Lost);
            }
            FromDriver::Fatal(f) => return Err(f.into()),
            FromDriver::Finished => self.finished = true,
            FromDriver::Packet(ev) => self.on_packet(ev)?,
        }
        Ok(())
    }

    fn on_packet(&mut self, ev: Ev) -> Result<(), Failure> {
        match ev {
            Ev::Wrote(Sent::Publish(pkid)) => {
                // A replay of a message already mapped (session resumed): not a new write.
                if pkid != 0 && self.by_pkid.contains_key(&pkid) {
                    return Ok(());
                }
                let Some(seq) = self.written_unknown.pop_front() else {
                    return Ok(());
                };
                if pkid == 0 {
                    self.store.remove(&seq); // QoS 0: written and flushed, done.
                } else {
                    self.by_pkid.insert(pkid, seq);
                }
            }
            Ev::PubAck { pkid, reason } => self.acked(pkid, reason)?,
            Ev::PubRec {
                pkid,
                reason: Some(r),
            } => self.acked(pkid, Some(r))?,
            Ev::PubComp { pkid, reason } => self.acked(pkid, reason)?,
            Ev::Publish(mut m) => {
                m.generation = self.generation.unwrap_or(0);
                self.events.push_back(Event::Message(m))
            }
            Ev::SubAck { codes, .. } => self.events.push_back(Event::SubAck(codes)),
            Ev::UnsubAck { .. } => self.events.push_back(Event::UnsubAck),
            _ => {}
        }
        Ok(())
    }

    fn acked(&mut self, pkid: u16, reason: Option<Reason>) -> Result<(), Failure> {
        let Some(seq) = self.by_pkid.remove(&pkid) else {
            return Ok(());
        };
        let msg = self.store.remove(&seq);
        if let (Some(r), Some(m)) = (reason, msg)
            && r.code >= 0x80
        {
            let mut f = exit::rejected(format!(
                "the broker rejected the message to {:?} ({}, reason code 0x{:02x})",
                m.topic, r.text, r.code
            ));
            if r.code == 0x87 {
                f = f.with_hint("the broker's ACL does not let this user publish to that topic");
            }
            return Err(f);
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(d) = self.driver.take() {
            d.abort();
        }
    }
}

/// The driver task: polls the library's event loop until DISCONNECT is written or the handle is
/// gone, reconnecting with backoff.
async fn drive(
    mut el: rumqtt::EventLoop,
    tx: mpsc::Sender<FromDriver>,
    gate: Gate,
    debug: bool,
    endpoint: Endpoint,
    linger: Duration,
) {
    let mut generation = 0u64;
    let mut connected_once = false;
    let mut backoff = Duration::from_millis(250);
    loop {
        let result = el.poll().await;
        match result {
            Ok(ev) => {
                if debug {
                    rumqtt::trace(&ev);
                }
                match ev {
                    Ev::ConnAck { session_present } => {
                        generation += 1;
                        connected_once = true;
                        backoff = Duration::from_millis(250);
                        *gate.lock().unwrap() = Some(generation);
                        if tx
                            .send(FromDriver::Connected {
                                generation,
                                session_present,
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ev::Wrote(Sent::Disconnect) => {
                        // Read until the broker closes: closing a socket that still holds
                        // unread data makes the kernel send a reset, which throws away what
                        // we wrote last (acks, the DISCONNECT itself), so the broker would
                        // redeliver acknowledged messages and publish our Will. Tested by
                        // tests/subscribe.rs `count_leaves_unprinted_messages_*`.
                        let drain = async { while el.poll().await.is_ok() {} };
                        let _ = tokio::time::timeout(linger, drain).await;
                        let _ = tx.send(FromDriver::Finished).await;
                        return;
                    }
                    ev => {
                        if tx.send(FromDriver::Packet(ev)).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Err(err) => {
                // Close the gate and drain what slipped into the request channel after the
                // library's own clean-up, in one step, so the handle can account for every
                // request.
                let stale = {
                    let mut g = gate.lock().unwrap();
                    *g = None;
                    el.clean();
                    el.take_stale_events()
                };
                for ev in stale {
                    if tx.send(FromDriver::Packet(ev)).await.is_err() {
                        return;
                    }
                }
                if debug {
                    eprintln!("mqtk: connection error: {err}");
                }
                let class = rumqtt::classify(&err, &endpoint);
                let msg = match class {
                    rumqtt::ErrClass::Done => return,
                    rumqtt::ErrClass::Refused(f) => FromDriver::Fatal(f),
                    rumqtt::ErrClass::Connect(f) if !connected_once => FromDriver::Fatal(f),
                    rumqtt::ErrClass::Connect(f) => FromDriver::Lost(f.message),
                    rumqtt::ErrClass::Lost(why) => FromDriver::Lost(why),
                };
                let fatal = matches!(msg, FromDriver::Fatal(_));
                if tx.send(msg).await.is_err() || fatal {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
