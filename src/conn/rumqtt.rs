//! The rumqttc adapter: the two rumqttc APIs (v3.1.1 and v5) behind one shape: options from a
//! `ConnConfig`, a client that pushes requests, an event loop whose events are normalised into
//! `Ev`, and errors sorted into the exit-code classes. The only file that names rumqttc's
//! client types (`AsyncClient`, `EventLoop`, `MqttOptions`, `Transport`, `ConnectionError`).

use std::io;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::{
    Packet as Packet5, PubAckReason, PubCompReason, PubRecReason, PublishProperties,
    SubscribeReasonCode as Sub5,
};
use rumqttc::{Outgoing, TlsConfiguration, Transport};

use super::config::{ConnConfig, Endpoint};
use super::packet::{
    AckToken, Incoming, MAX_PACKET, Message, Reason, SubCode, Subscription, words,
};
use super::props::V5Props;
use super::tls::{self, Tls};
use crate::cli::Protocol;
use crate::exit::{self, Failure};

/// A normalised event.
#[derive(Debug)]
pub enum Ev {
    ConnAck {
        session_present: bool,
    },
    Publish(Incoming),
    PubAck {
        pkid: u16,
        reason: Option<Reason>,
    },
    /// `reason` is only set for a failure (the flow ends there, without PUBCOMP).
    PubRec {
        pkid: u16,
        reason: Option<Reason>,
    },
    PubComp {
        pkid: u16,
        reason: Option<Reason>,
    },
    SubAck {
        pkid: u16,
        codes: Vec<SubCode>,
    },
    UnsubAck {
        pkid: u16,
    },
    Disconnected {
        reason: Option<Reason>,
    },
    Wrote(Sent),
    Other(&'static str),
}

/// A packet the event loop has written (or, for `AwaitAck`, is holding back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Publish(u16),
    Subscribe(u16),
    Unsubscribe(u16),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    PingReq,
    PingResp,
    Disconnect,
    AwaitAck(u16),
}

impl From<Outgoing> for Sent {
    fn from(o: Outgoing) -> Sent {
        match o {
            Outgoing::Publish(p) => Sent::Publish(p),
            Outgoing::Subscribe(p) => Sent::Subscribe(p),
            Outgoing::Unsubscribe(p) => Sent::Unsubscribe(p),
            Outgoing::PubAck(p) => Sent::PubAck(p),
            Outgoing::PubRec(p) => Sent::PubRec(p),
            Outgoing::PubRel(p) => Sent::PubRel(p),
            Outgoing::PubComp(p) => Sent::PubComp(p),
            Outgoing::PingReq => Sent::PingReq,
            Outgoing::PingResp => Sent::PingResp,
            Outgoing::Disconnect => Sent::Disconnect,
            Outgoing::AwaitAck(p) => Sent::AwaitAck(p),
        }
    }
}

fn reason(code: u8, name: impl std::fmt::Debug) -> Reason {
    Reason {
        code,
        text: words(&format!("{name:?}")),
    }
}

fn puback_code(r: &PubAckReason) -> u8 {
    match r {
        PubAckReason::Success => 0x00,
        PubAckReason::NoMatchingSubscribers => 0x10,
        PubAckReason::UnspecifiedError => 0x80,
        PubAckReason::ImplementationSpecificError => 0x83,
        PubAckReason::NotAuthorized => 0x87,
        PubAckReason::TopicNameInvalid => 0x90,
        PubAckReason::PacketIdentifierInUse => 0x91,
        PubAckReason::QuotaExceeded => 0x97,
        PubAckReason::PayloadFormatInvalid => 0x99,
    }
}

fn pubrec_code(r: &PubRecReason) -> u8 {
    match r {
        PubRecReason::Success => 0x00,
        PubRecReason::NoMatchingSubscribers => 0x10,
        PubRecReason::UnspecifiedError => 0x80,
        PubRecReason::ImplementationSpecificError => 0x83,
        PubRecReason::NotAuthorized => 0x87,
        PubRecReason::TopicNameInvalid => 0x90,
        PubRecReason::PacketIdentifierInUse => 0x91,
        PubRecReason::QuotaExceeded => 0x97,
        PubRecReason::PayloadFormatInvalid => 0x99,
    }
}

fn sub5(code: &Sub5) -> SubCode {
    let c = match code {
        Sub5::Success(q) => return SubCode::Granted(*q as u8),
        Sub5::Failure | Sub5::Unspecified => 0x80,
        Sub5::ImplementationSpecific => 0x83,
        Sub5::NotAuthorized => 0x87,
        Sub5::TopicFilterInvalid => 0x8F,
        Sub5::PkidInUse => 0x91,
        Sub5::QuotaExceeded => 0x97,
        Sub5::SharedSubscriptionsNotSupported => 0x9E,
        Sub5::SubscriptionIdNotSupported => 0xA1,
        Sub5::WildcardSubscriptionsNotSupported => 0xA2,
    };
    SubCode::Refused(reason(c, code))
}

fn qos4(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::v5::mqttbytes::QoS;
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

pub enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// rumqttc's event loop, and what an error needs to be explained: whether the connection
/// had been accepted (a reset before CONNACK is a failure to connect), and the TLS setup.
pub struct EventLoop {
    inner: Loop,
    connected: bool,
    tls: Option<Tls>,
}

enum Loop {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

/// rumqttc's transport, and the "host" and port it wants: for WebSockets rumqttc takes the whole
/// URL as the host and ignores the port (tests/websocket.rs `ws_urls_and_the_ws_flag_round_trip`).
fn transport_and_host(cfg: &ConnConfig) -> (Transport, String, u16) {
    let tls = || {
        let t = cfg
            .tls
            .as_ref()
            .expect("a TLS endpoint comes with its TLS configuration");
        TlsConfiguration::Rustls(t.config.clone())
    };
    match &cfg.endpoint {
        Endpoint::Tcp {
            host,
            port,
            tls: false,
        } => (Transport::Tcp, host.clone(), *port),
        Endpoint::Tcp {
            host,
            port,
            tls: true,
        } => (Transport::Tls(tls()), host.clone(), *port),
        ws @ Endpoint::WebSocket {
            port, tls: false, ..
        } => (Transport::Ws, ws.to_string(), *port),
        ws @ Endpoint::WebSocket {
            port, tls: true, ..
        } => (Transport::Wss(tls()), ws.to_string(), *port),
        Endpoint::Unix(path) => (Transport::Unix, path.display().to_string(), 0),
    }
}

/// Builds the client and its event loop. `cap` is the request channel's capacity: the capacity
/// given to `AsyncClient::new` is the only one rumqttc uses (`set_request_channel_capacity` is
/// stored and never read).
pub fn build(cfg: &ConnConfig, cap: usize) -> anyhow::Result<(Client, EventLoop)> {
    let (transport, host, port) = transport_and_host(cfg);
    let keepalive = Duration::from_secs(cfg.keepalive.into());
    // rumqttc counts the whole packet; allow the fixed header on top of the largest body.
    let max_packet = MAX_PACKET + 5;
    match cfg.protocol {
        Protocol::V311 => {
            let mut o = rumqttc::MqttOptions::new(&cfg.client_id, host, port);
            o.set_transport(transport);
            o.set_keep_alive(keepalive);
            o.set_clean_session(cfg.clean_start);
            o.set_max_packet_size(max_packet, max_packet);
            o.set_inflight(cfg.max_inflight);
            o.set_manual_acks(cfg.manual_acks);
            if let Some(u) = &cfg.username {
                o.set_credentials(u, cfg.password.clone().unwrap_or_default());
            }
            if let Some(w) = &cfg.will {
                o.set_last_will(rumqttc::LastWill::new(
                    &w.topic,
                    w.payload.clone(),
                    qos4(w.qos),
                    w.retain,
                ));
            }
            let (client, mut el) = rumqttc::AsyncClient::new(o, cap);
            el.network_options.set_connection_timeout(10);
            // Small packets waiting for the peer's delayed ACK (Nagle) cost a round trip per
            // in-flight window: QoS 1 streams ran 5x slower without this.
            el.network_options.set_tcp_nodelay(true);
            Ok((Client::V4(client), event_loop(Loop::V4(Box::new(el)), cfg)))
        }
        Protocol::V5 => {
            use rumqttc::v5::mqttbytes::v5::LastWill;
            let mut o = rumqttc::v5::MqttOptions::new(&cfg.client_id, host, port);
            if let Some(c) = &cfg.props.connect {
                o.set_connect_properties(c.clone());
            }
            o.set_transport(transport);
            o.set_keep_alive(keepalive);
            o.set_clean_start(cfg.clean_start);
            o.set_max_packet_size(Some(max_packet as u32));
            o.set_outgoing_inflight_upper_limit(cfg.max_inflight);
            o.set_manual_acks(cfg.manual_acks);
            let mut net = rumqttc::NetworkOptions::new();
            net.set_tcp_nodelay(true);
            o.set_network_options(net);
            o.set_connection_timeout(10);
            if let Some(x) = cfg.session_expiry {
                o.set_session_expiry_interval(Some(x));
            }
            if let Some(u) = &cfg.username {
                o.set_credentials(u, cfg.password.clone().unwrap_or_default());
            } else if let Some(p) = &cfg.password {
                // v5 allows a password alone; rumqttc only sends one with a user name.
                o.set_credentials("", p.clone());
            }
            if let Some(w) = &cfg.will {
                o.set_last_will(LastWill::new(
                    &w.topic,
                    w.payload.clone(),
                    qos5(w.qos),
                    w.retain,
                    cfg.props.will.clone(),
                ));
            }
            let (client, el) = rumqttc::v5::AsyncClient::new(o, cap);
            Ok((Client::V5(client), event_loop(Loop::V5(Box::new(el)), cfg)))
        }
    }
}

fn event_loop(inner: Loop, cfg: &ConnConfig) -> EventLoop {
    EventLoop {
        inner,
        connected: false,
        tls: cfg.tls.clone(),
    }
}

impl Client {
    /// `props`: the -D publish properties, under the message's own response topic and
    /// correlation data.
    pub fn publish(&self, m: &Message, props: &V5Props) -> anyhow::Result<()> {
        match self {
            Client::V4(c) => c.try_publish(&m.topic, qos4(m.qos), m.retain, m.payload.to_vec())?,
            Client::V5(c) => {
                let mut p = props.publish.clone();
                if m.response_topic.is_some() || m.correlation_data.is_some() {
                    let p = p.get_or_insert_with(PublishProperties::default);
                    p.response_topic = m.response_topic.clone().or(p.response_topic.take());
                    p.correlation_data = m.correlation_data.clone().or(p.correlation_data.take());
                }
                match p {
                    Some(p) => c.try_publish_with_properties(
                        m.topic.as_str(),
                        qos5(m.qos),
                        m.retain,
                        m.payload.clone(),
                        p,
                    )?,
                    None => {
                        c.try_publish(m.topic.as_str(), qos5(m.qos), m.retain, m.payload.clone())?
                    }
                }
            }
        }
        Ok(())
    }

    pub fn subscribe(&self, subs: &[Subscription], props: &V5Props) -> anyhow::Result<()> {
        match self {
            Client::V4(c) => {
                let filters = subs
                    .iter()
                    .map(|s| rumqttc::SubscribeFilter::new(s.filter.clone(), qos4(s.qos)));
                c.try_subscribe_many(filters)?;
            }
            Client::V5(c) => {
                use rumqttc::v5::mqttbytes::v5::{Filter, RetainForwardRule};
                let filters: Vec<Filter> = subs
                    .iter()
                    .map(|s| {
                        let mut f = Filter::new(s.filter.clone(), qos5(s.qos));
                        f.nolocal = s.no_local;
                        f.preserve_retain = s.retain_as_published;
                        f.retain_forward_rule = match s.retain_handling {
                            0 => RetainForwardRule::OnEverySubscribe,
                            1 => RetainForwardRule::OnNewSubscribe,
                            _ => RetainForwardRule::Never,
                        };
                        f
                    })
                    .collect();
                match &props.subscribe {
                    Some(p) => c.try_subscribe_many_with_properties(filters, p.clone())?,
                    None => c.try_subscribe_many(filters)?,
                }
            }
        }
        Ok(())
    }

    /// One UNSUBSCRIBE per filter (rumqttc sends one filter per packet).
    pub fn unsubscribe(&self, filter: &str, props: &V5Props) -> anyhow::Result<()> {
        match self {
            Client::V4(c) => c.try_unsubscribe(filter)?,
            Client::V5(c) => match &props.unsubscribe {
                Some(p) => c.try_unsubscribe_with_properties(filter, p.clone())?,
                None => c.try_unsubscribe(filter)?,
            },
        }
        Ok(())
    }

    /// PUBACK (QoS 1) or PUBREC (QoS 2) for a message received with manual acks on.
    pub fn ack(&self, t: AckToken) -> anyhow::Result<()> {
        match self {
            Client::V4(c) => {
                let mut p = rumqttc::Publish::new("", qos4(t.qos), Vec::new());
                p.pkid = t.pkid;
                c.try_ack(&p)?
            }
            Client::V5(c) => {
                let mut p =
                    rumqttc::v5::mqttbytes::v5::Publish::new("", qos5(t.qos), Vec::new(), None);
                p.pkid = t.pkid;
                c.try_ack(&p)?
            }
        }
        Ok(())
    }

    pub fn disconnect(&self) -> anyhow::Result<()> {
        match self {
            Client::V4(c) => c.try_disconnect()?,
            Client::V5(c) => c.try_disconnect()?,
        }
        Ok(())
    }
}

/// How a connection error ends.
pub enum ErrClass {
    /// The broker said no: final, never retried (a retry loop here floods the broker's log).
    Refused(Failure),
    /// Could not reach the broker (exit 3 on the first attempt, retried later).
    Connect(Failure),
    /// An established connection broke.
    Lost(String),
    /// The client handle is gone: nothing left to do.
    Done,
}

impl EventLoop {
    pub async fn poll(&mut self) -> Result<Ev, ConnError> {
        let result = match &mut self.inner {
            Loop::V4(el) => el.poll().await.map(from_v4).map_err(Raw::V4),
            Loop::V5(el) => el.poll().await.map(from_v5).map_err(Raw::V5),
        };
        match result {
            Ok(ev) => {
                if matches!(ev, Ev::ConnAck { .. }) {
                    self.connected = true;
                }
                Ok(ev)
            }
            Err(raw) => {
                let connecting = !self.connected;
                self.connected = false;
                Err(ConnError {
                    raw,
                    connecting,
                    tls: self.tls.clone(),
                })
            }
        }
    }

    pub fn clean(&mut self) {
        match &mut self.inner {
            Loop::V4(el) => el.clean(),
            Loop::V5(el) => el.clean(),
        }
    }

    /// Events rumqttc had queued when the connection broke (acks read in the same batch as the
    /// failure, writes it counted): still facts about the old connection, so deliver them
    /// before "lost" rather than after the next CONNACK.
    pub fn take_stale_events(&mut self) -> Vec<Ev> {
        match &mut self.inner {
            Loop::V4(el) => el.state.events.drain(..).map(from_v4).collect(),
            Loop::V5(el) => el.state.events.drain(..).map(from_v5).collect(),
        }
    }
}

/// A connection error, with what `classify` needs to put it into words.
pub struct ConnError {
    raw: Raw,
    /// No CONNACK yet on this connection: the broker was never reached, or said no.
    connecting: bool,
    tls: Option<Tls>,
}

enum Raw {
    V4(rumqttc::ConnectionError),
    V5(rumqttc::v5::ConnectionError),
}

impl ConnError {
    fn source(&self) -> &(dyn std::error::Error + 'static) {
        match &self.raw {
            Raw::V4(e) => e,
            Raw::V5(e) => e,
        }
    }
}

impl ConnError {
    /// The I/O error that v5's `StateError::Deserialization` holds without exposing it as a
    /// `source()` (the TLS 1.3 client-certificate alert travels there).
    fn hidden_io(&self) -> Option<&io::Error> {
        use rumqttc::v5::mqttbytes::Error as MqttError;
        match &self.raw {
            Raw::V5(rumqttc::v5::ConnectionError::MqttState(
                rumqttc::v5::StateError::Deserialization(MqttError::Io(io)),
            )) => Some(io),
            _ => None,
        }
    }
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source())
    }
}

fn from_v4(ev: rumqttc::Event) -> Ev {
    use rumqttc::{Event, Packet};
    match ev {
        Event::Outgoing(o) => Ev::Wrote(o.into()),
        Event::Incoming(p) => match p {
            Packet::ConnAck(c) => Ev::ConnAck {
                session_present: c.session_present,
            },
            Packet::Publish(p) => Ev::Publish(Incoming {
                topic: p.topic,
                payload: p.payload,
                qos: p.qos as u8,
                retain: p.retain,
                dup: p.dup,
                pkid: p.pkid,
                properties: None,
                generation: 0,
            }),
            Packet::PubAck(a) => Ev::PubAck {
                pkid: a.pkid,
                reason: None,
            },
            Packet::PubRec(r) => Ev::PubRec {
                pkid: r.pkid,
                reason: None,
            },
            Packet::PubComp(c) => Ev::PubComp {
                pkid: c.pkid,
                reason: None,
            },
            Packet::SubAck(s) => Ev::SubAck {
                pkid: s.pkid,
                codes: s
                    .return_codes
                    .iter()
                    .map(|c| match c {
                        rumqttc::SubscribeReasonCode::Success(q) => SubCode::Granted(*q as u8),
                        rumqttc::SubscribeReasonCode::Failure => SubCode::Refused(Reason {
                            code: 0x80,
                            text: "failure".into(),
                        }),
                    })
                    .collect(),
            },
            Packet::UnsubAck(u) => Ev::UnsubAck { pkid: u.pkid },
            Packet::Disconnect => Ev::Disconnected { reason: None },
            Packet::PingResp => Ev::Other("PINGRESP"),
            Packet::PubRel(_) => Ev::Other("PUBREL"),
            _ => Ev::Other("packet"),
        },
    }
}

fn from_v5(ev: rumqttc::v5::Event) -> Ev {
    use rumqttc::v5::Event;
    match ev {
        Event::Outgoing(o) => Ev::Wrote(o.into()),
        Event::Incoming(p) => match p {
            Packet5::ConnAck(c) => Ev::ConnAck {
                session_present: c.session_present,
            },
            Packet5::Publish(p) => Ev::Publish(Incoming {
                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                payload: p.payload,
                qos: p.qos as u8,
                retain: p.retain,
                dup: p.dup,
                pkid: p.pkid,
                properties: p.properties,
                generation: 0,
            }),
            Packet5::PubAck(a) => Ev::PubAck {
                pkid: a.pkid,
                reason: Some(reason(puback_code(&a.reason), a.reason)),
            },
            Packet5::PubRec(r) => {
                let code = pubrec_code(&r.reason);
                Ev::PubRec {
                    pkid: r.pkid,
                    reason: (code >= 0x80).then(|| reason(code, r.reason)),
                }
            }
            Packet5::PubComp(c) => Ev::PubComp {
                pkid: c.pkid,
                reason: match c.reason {
                    PubCompReason::Success => None,
                    PubCompReason::PacketIdentifierNotFound => Some(reason(0x92, c.reason)),
                },
            },
            Packet5::SubAck(s) => Ev::SubAck {
                pkid: s.pkid,
                codes: s.return_codes.iter().map(sub5).collect(),
            },
            Packet5::UnsubAck(u) => Ev::UnsubAck { pkid: u.pkid },
            Packet5::Disconnect(d) => Ev::Disconnected {
                reason: Some(reason(0, d.reason_code)),
            },
            Packet5::PingResp(_) => Ev::Other("PINGRESP"),
            Packet5::PubRel(_) => Ev::Other("PUBREL"),
            _ => Ev::Other("packet"),
        },
    }
}

/// `-d`: one line per packet on stderr. Never prints credentials (CONNECT is not traced here;
/// its options are printed by the caller without the password).
pub fn trace(ev: &Ev) {
    let line = match ev {
        Ev::ConnAck { session_present } => {
            format!("received CONNACK (session present: {session_present})")
        }
        Ev::Publish(m) => format!(
            "received PUBLISH (mid {}, qos {}, retain {}, dup {}, {:?}, {} bytes)",
            m.pkid,
            m.qos,
            m.retain,
            m.dup,
            m.topic,
            m.payload.len()
        ),
        Ev::PubAck { pkid, reason } => format!("received PUBACK (mid {pkid}{})", rc(reason)),
        Ev::PubRec { pkid, reason } => format!("received PUBREC (mid {pkid}{})", rc(reason)),
        Ev::PubComp { pkid, reason } => format!("received PUBCOMP (mid {pkid}{})", rc(reason)),
        Ev::SubAck { pkid, codes } => format!("received SUBACK (mid {pkid}, {codes:?})"),
        Ev::UnsubAck { pkid } => format!("received UNSUBACK (mid {pkid})"),
        Ev::Disconnected { reason } => format!("received DISCONNECT{}", rc(reason)),
        Ev::Wrote(o) => match o {
            Sent::Publish(p) => format!("sending PUBLISH (mid {p})"),
            Sent::Subscribe(p) => format!("sending SUBSCRIBE (mid {p})"),
            Sent::Unsubscribe(p) => format!("sending UNSUBSCRIBE (mid {p})"),
            Sent::PubAck(p) => format!("sending PUBACK (mid {p})"),
            Sent::PubRec(p) => format!("sending PUBREC (mid {p})"),
            Sent::PubRel(p) => format!("sending PUBREL (mid {p})"),
            Sent::PubComp(p) => format!("sending PUBCOMP (mid {p})"),
            Sent::PingReq => "sending PINGREQ".into(),
            Sent::PingResp => "sending PINGRESP".into(),
            Sent::Disconnect => "sending DISCONNECT".into(),
            Sent::AwaitAck(p) => format!("waiting for the ack of mid {p}"),
        },
        Ev::Other(what) => format!("received {what}"),
    };
    eprintln!("mqtk: {line}");
}

fn rc(r: &Option<Reason>) -> String {
    match r {
        Some(r) => format!(", reason 0x{:02x} {}", r.code, r.text),
        None => String::new(),
    }
}

/// Sorts a connection error into the exit-code classes, in words a person can act on.
pub fn classify(err: &ConnError, endpoint: &Endpoint) -> ErrClass {
    let connect = |why: String, hint: Option<String>| {
        let mut f = exit::connect(format!("could not connect to {endpoint} ({why})"));
        if let Some(h) = hint {
            f = f.with_hint(h);
        } else if why.contains("refused") {
            f = f.with_hint("is a broker running there? check -h and -p");
        }
        ErrClass::Connect(f)
    };
    let refused = |code: String| {
        let hint = "mosquitto answers 'not authorized' for a wrong password or unknown user too";
        let f = exit::refused(format!("the broker refused the connection ({code})"));
        ErrClass::Refused(
            if code.contains("not authorized") || code.contains("user name") {
                f.with_hint(hint)
            } else {
                f
            },
        )
    };
    // TLS first, whichever variant carries it: a certificate error comes in `Tls`, a
    // client-certificate alert under TLS 1.3 in `MqttState` (it arrives after the handshake).
    let hidden = err
        .hidden_io()
        .map(|io| io as &(dyn std::error::Error + 'static));
    let cause = tls::rustls_cause(err.source()).or_else(|| hidden.and_then(tls::rustls_cause));
    if let Some(cause) = cause {
        let (what, hint) = tls::explain(cause, endpoint.host(), err.tls.as_ref());
        return connect(what, hint);
    }
    // The connection closed (or spoke gibberish) before CONNACK: most often TLS on one side
    // only.
    let closed_early = |why: String| {
        let hint = if endpoint.tls() {
            "is this a TLS port? a plain MQTT port (usually 1883) does not speak TLS"
        } else {
            "is this a TLS port? add --cafile FILE (or use an mqtts:// URL) to connect with TLS"
        };
        connect(why, Some(hint.into()))
    };
    // The v3.1.1 and v5 error types have the same variants but are distinct types.
    macro_rules! sort {
        ($e:expr, $E:ty, $timeout:pat) => {{
            type E = $E;
            match $e {
                E::ConnectionRefused(code) => refused(words(&format!("{code:?}"))),
                E::Io(io) => connect(io_words(io), None),
                $timeout => connect("timed out".into(), None),
                E::Tls(t) => closed_early(format!("TLS handshake failed: {}", tls_words(t))),
                E::RequestsDone => ErrClass::Done,
                E::MqttState(s) if err.connecting => closed_early(format!(
                    "the connection ended before the broker answered CONNECT: {}",
                    match err.hidden_io() {
                        Some(io) => io_words(io),
                        None => deepest_words(s),
                    }
                )),
                E::NotConnAck(p) => closed_early(format!(
                    "the broker answered CONNECT with {p:?}, not CONNACK"
                )),
                E::MqttState(s) => ErrClass::Lost(s.to_string()),
                E::Websocket(w) if err.connecting => connect(
                    if endpoint.tls() {
                        format!("TLS or WebSocket handshake failed: {w}")
                    } else {
                        format!("WebSocket handshake failed: {w}")
                    },
                    Some(ws_hint(endpoint)),
                ),
                E::ResponseValidation(v) => connect(
                    format!("not an MQTT WebSocket endpoint: {v}"),
                    Some(ws_hint(endpoint)),
                ),
                E::InvalidUrl(u) => connect(format!("invalid WebSocket URL: {u}"), None),
                E::WsConnect(h) => connect(format!("WebSocket request failed: {h}"), None),
                other => ErrClass::Lost(other.to_string()),
            }
        }};
    }
    match &err.raw {
        Raw::V4(e) => sort!(
            e,
            rumqttc::ConnectionError,
            rumqttc::ConnectionError::NetworkTimeout
        ),
        Raw::V5(e) => sort!(
            e,
            rumqttc::v5::ConnectionError,
            rumqttc::v5::ConnectionError::Timeout(_)
        ),
    }
}

fn ws_hint(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::WebSocket {
            path, tls: true, ..
        } => format!(
            "is this the broker's secure WebSocket port, and is its path {path} (--ws-path)? \
             a plain ws port does not speak TLS"
        ),
        Endpoint::WebSocket { path, .. } => format!(
            "is this the broker's WebSocket port, and is its path {path} (--ws-path)? \
             for a port with TLS use wss:// or --cafile"
        ),
        _ => "check the WebSocket port and --ws-path".into(),
    }
}

/// The innermost cause in words: an I/O error (the reset behind rumqttc's layers), or the
/// last message in the chain.
fn deepest_words(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut next = Some(e);
    while let Some(cur) = next {
        if let Some(io) = cur.downcast_ref::<io::Error>() {
            return io_words(io);
        }
        last = cur.to_string();
        next = cur.source();
    }
    last
}

/// rumqttc's TLS error without its "I/O: " prefix.
fn tls_words(e: &rumqttc::TlsError) -> String {
    match e {
        rumqttc::TlsError::Io(io) => io_words(io),
        other => other.to_string(),
    }
}

fn io_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::NotFound => "no such socket".into(),
        io::ErrorKind::ConnectionReset => "connection reset by the broker".into(),
        io::ErrorKind::UnexpectedEof => "the broker closed the connection".into(),
        _ => {
            let s = e.to_string();
            if s.contains("failed to lookup address") || s.contains("Name or service not known") {
                "unknown host name".into()
            } else {
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_become_words() {
        assert_eq!(
            reason(0x87, PubAckReason::NotAuthorized).text,
            "not authorized"
        );
    }
}
