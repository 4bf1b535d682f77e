//! A scripted MQTT broker, for what a real broker cannot be made to do on cue: withhold an
//! acknowledgement, answer with a chosen packet id or reason code, resend PUBREL after a
//! reconnect, close the connection whenever a given packet arrives, announce CONNACK
//! properties (receive maximum, maximum packet size).
//!
//! The test drives it one step at a time on its own thread (or a script thread):
//!
//! ```text
//! let mut fb = FakeBroker::start();
//! // start `mqtk pub -p PORT ...`
//! let mut c = fb.accept(secs(5));          // the TCP connection and its CONNECT
//! c.connack(false);
//! let p = c.expect_publish(secs(5));
//! c.close();                                // reject it by closing
//! let mut c = fb.accept(secs(5));          // the reconnection
//! ```
//!
//! Packets are encoded and decoded with rumqttc's codec (MQTT 3.1.1 or 5, whichever the
//! client's CONNECT asks for). Every wait has a limit; `recv` and `accept` panic when it
//! passes, so no test hangs. PINGREQs are answered inside `recv` unless `answer_pings` is off.
#![allow(
    dead_code,
    reason = "the scripted broker can send every packet and report every field a test may script or check, used or not yet"
)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;

pub use rumqttc::v5::mqttbytes::v5::ConnAckProperties;

/// The largest packet the fake broker reads (MQTT's own limit).
const MAX_PACKET: usize = 268_435_460;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V311,
    V5,
}

/// What the client's CONNECT said.
#[derive(Debug, Clone)]
pub struct Connect {
    pub version: Version,
    pub client_id: String,
    /// Clean session (3.1.1) / clean start (5).
    pub clean: bool,
    pub keep_alive: u16,
    pub username: Option<String>,
    pub will: Option<Will>,
    /// v5 only.
    pub session_expiry: Option<u32>,
    /// v5 only.
    pub receive_maximum: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub pkid: u16,
    pub dup: bool,
    pub retain: bool,
}

/// A packet from the client, the same for both protocol versions (reason codes are 0 in
/// 3.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkt {
    Publish(Publish),
    PubAck {
        pkid: u16,
        reason: u8,
    },
    PubRec {
        pkid: u16,
        reason: u8,
    },
    PubRel {
        pkid: u16,
        reason: u8,
    },
    PubComp {
        pkid: u16,
        reason: u8,
    },
    Subscribe {
        pkid: u16,
        filters: Vec<(String, u8)>,
    },
    Unsubscribe {
        pkid: u16,
        filters: Vec<String>,
    },
    PingReq,
    Disconnect {
        reason: u8,
    },
    /// Anything a client has no business sending after CONNECT (a second CONNECT, a CONNACK).
    Other(String),
}

#[derive(Debug)]
pub enum RecvError {
    Timeout,
    /// The client closed the connection (or reset it).
    Closed,
    /// Bytes the codec cannot read.
    Malformed(String),
}

pub struct FakeBroker {
    listener: TcpListener,
    port: u16,
    accepted: usize,
}

impl FakeBroker {
    /// Listens on a free 127.0.0.1 port.
    pub fn start() -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake broker listener");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        FakeBroker {
            listener,
            port,
            accepted: 0,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `-h 127.0.0.1 -p PORT`.
    pub fn args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
        ]
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted
    }

    /// Accepts the next connection and reads its CONNECT (no CONNACK is sent yet); panics
    /// after `limit`.
    pub fn accept(&mut self, limit: Duration) -> FakeConn {
        self.try_accept(limit)
            .unwrap_or_else(|| panic!("fake broker: no connection with a CONNECT within {limit:?}"))
    }

    /// Same as [`FakeBroker::accept`]; None when nothing came within `limit`.
    pub fn try_accept(&mut self, limit: Duration) -> Option<FakeConn> {
        let deadline = Instant::now() + limit;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    self.accepted += 1;
                    stream.set_nonblocking(false).unwrap();
                    let _ = stream.set_nodelay(true);
                    let mut conn = FakeConn {
                        stream,
                        buf: BytesMut::new(),
                        version: Version::V311,
                        connect: None,
                        answer_pings: true,
                    };
                    // A connection that never sends a CONNECT (or a broken one) is skipped.
                    let left = deadline.saturating_duration_since(Instant::now());
                    if conn.read_connect(left.max(Duration::from_millis(100))) {
                        return Some(conn);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("fake broker: accept failed: {e}"),
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

/// One client connection to the fake broker.
pub struct FakeConn {
    stream: TcpStream,
    buf: BytesMut,
    version: Version,
    connect: Option<Connect>,
    /// Answer PINGREQ with PINGRESP inside `recv` (on by default).
    pub answer_pings: bool,
}

impl FakeConn {
    pub fn version(&self) -> Version {
        self.version
    }

    /// The client's CONNECT.
    pub fn connect(&self) -> &Connect {
        self.connect.as_ref().unwrap()
    }

    /// Reads the first packet, which must be a CONNECT; false if it is not.
    fn read_connect(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        // The protocol level sits after the fixed header and the protocol name ("\0\x04MQTT").
        let level = loop {
            if let Some(hl) = header_len(&self.buf)
                && self.buf.len() > hl + 6
            {
                break self.buf[hl + 6];
            }
            if self.fill(deadline).is_err() {
                return false;
            }
        };
        self.version = if level == 5 {
            Version::V5
        } else {
            Version::V311
        };
        loop {
            let parsed = match self.version {
                Version::V311 => match v4::Packet::read(&mut self.buf, MAX_PACKET) {
                    Ok(v4::Packet::Connect(c)) => Some(Ok(Connect {
                        version: Version::V311,
                        client_id: c.client_id,
                        clean: c.clean_session,
                        keep_alive: c.keep_alive,
                        username: c.login.map(|l| l.username),
                        will: c.last_will.map(|w| Will {
                            topic: w.topic,
                            payload: w.message.to_vec(),
                            qos: w.qos as u8,
                            retain: w.retain,
                        }),
                        session_expiry: None,
                        receive_maximum: None,
                    })),
                    Ok(_) => Some(Err(())),
                    Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => None,
                    Err(_) => Some(Err(())),
                },
                Version::V5 => match v5::Packet::read(&mut self.buf, Some(MAX_PACKET as u32)) {
                    Ok(v5::Packet::Connect(c, will, login)) => Some(Ok(Connect {
                        version: Version::V5,
                        client_id: c.client_id,
                        clean: c.clean_start,
                        keep_alive: c.keep_alive,
                        username: login.map(|l| l.username),
                        will: will.map(|w| Will {
                            topic: String::from_utf8_lossy(&w.topic).into_owned(),
                            payload: w.message.to_vec(),
                            qos: w.qos as u8,
                            retain: w.retain,
                        }),
                        session_expiry: c
                            .properties
                            .as_ref()
                            .and_then(|p| p.session_expiry_interval),
                        receive_maximum: c.properties.as_ref().and_then(|p| p.receive_maximum),
                    })),
                    Ok(_) => Some(Err(())),
                    Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => None,
                    Err(_) => Some(Err(())),
                },
            };
            match parsed {
                Some(Ok(c)) => {
                    self.connect = Some(c);
                    return true;
                }
                Some(Err(())) => return false,
                None => {
                    if self.fill(deadline).is_err() {
                        return false;
                    }
                }
            }
        }
    }

    /// Reads more bytes into the buffer, waiting until `deadline` at most.
    fn fill(&mut self, deadline: Instant) -> Result<(), RecvError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RecvError::Timeout);
        }
        self.stream.set_read_timeout(Some(left)).unwrap();
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(RecvError::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(RecvError::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            Err(_) => Err(RecvError::Closed),
        }
    }

    /// The next packet from the client (PINGREQs answered and skipped while `answer_pings`).
    pub fn try_recv(&mut self, limit: Duration) -> Result<Pkt, RecvError> {
        let deadline = Instant::now() + limit;
        loop {
            match self.parse()? {
                Some(Pkt::PingReq) if self.answer_pings => self.send_pingresp(),
                Some(p) => return Ok(p),
                None => self.fill(deadline)?,
            }
        }
    }

    /// The next packet from the client; panics if none comes within `limit`.
    pub fn recv(&mut self, limit: Duration) -> Pkt {
        match self.try_recv(limit) {
            Ok(p) => p,
            Err(e) => panic!("fake broker: expected a packet within {limit:?}, got {e:?}"),
        }
    }

    /// The next packet, which must be a PUBLISH.
    pub fn expect_publish(&mut self, limit: Duration) -> Publish {
        match self.recv(limit) {
            Pkt::Publish(p) => p,
            other => panic!("fake broker: expected PUBLISH, got {other:?}"),
        }
    }

    /// Waits for a SUBSCRIBE and grants every filter the QoS it asked for; returns the
    /// filters.
    pub fn accept_subscribe(&mut self, limit: Duration) -> Vec<(String, u8)> {
        match self.recv(limit) {
            Pkt::Subscribe { pkid, filters } => {
                let granted: Vec<u8> = filters.iter().map(|(_, q)| *q).collect();
                self.suback(pkid, &granted);
                filters
            }
            other => panic!("fake broker: expected SUBSCRIBE, got {other:?}"),
        }
    }

    /// Asserts that the client closes the connection within `limit`; a DISCONNECT before the
    /// close is fine, any other packet is not.
    pub fn expect_closed(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.try_recv(left) {
                Err(RecvError::Closed) => return,
                Ok(Pkt::Disconnect { .. }) => {}
                Ok(p) => panic!("fake broker: expected the client to close, got {p:?}"),
                Err(e) => {
                    panic!("fake broker: expected the client to close within {limit:?}: {e:?}")
                }
            }
        }
    }

    fn parse(&mut self) -> Result<Option<Pkt>, RecvError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        match self.version {
            Version::V311 => match v4::Packet::read(&mut self.buf, MAX_PACKET) {
                Ok(p) => Ok(Some(from_v4(p))),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => Ok(None),
                Err(e) => Err(RecvError::Malformed(e.to_string())),
            },
            // rumqttc's v5 codec wants a reason code in DISCONNECT; a bare one means 0x00.
            Version::V5 if self.buf.starts_with(&[0xe0, 0x00]) => {
                let _ = self.buf.split_to(2);
                Ok(Some(Pkt::Disconnect { reason: 0 }))
            }
            Version::V5 => match v5::Packet::read(&mut self.buf, Some(MAX_PACKET as u32)) {
                Ok(p) => Ok(Some(from_v5(p))),
                Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => Ok(None),
                Err(e) => Err(RecvError::Malformed(e.to_string())),
            },
        }
    }

    /// CONNACK accepting the connection.
    pub fn connack(&mut self, session_present: bool) {
        match self.version {
            Version::V311 => self.send_v4(v4::Packet::ConnAck(v4::ConnAck::new(
                v4::ConnectReturnCode::Success,
                session_present,
            ))),
            Version::V5 => self.send_v5(v5::Packet::ConnAck(v5::ConnAck {
                session_present,
                code: v5::ConnectReturnCode::Success,
                properties: None,
            })),
        }
    }

    /// v5 CONNACK accepting the connection, with properties (start from [`connack_props`]).
    pub fn connack_v5(&mut self, session_present: bool, props: v5::ConnAckProperties) {
        assert_eq!(self.version, Version::V5, "CONNACK properties need MQTT 5");
        self.send_v5(v5::Packet::ConnAck(v5::ConnAck {
            session_present,
            code: v5::ConnectReturnCode::Success,
            properties: Some(props),
        }));
    }

    /// SUBACK granting `granted[i]` to the i-th filter (0x80 refuses it).
    pub fn suback(&mut self, pkid: u16, granted: &[u8]) {
        match self.version {
            Version::V311 => {
                let codes = granted
                    .iter()
                    .map(|&g| match g {
                        0 => v4::SubscribeReasonCode::Success(rumqttc::QoS::AtMostOnce),
                        1 => v4::SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce),
                        2 => v4::SubscribeReasonCode::Success(rumqttc::QoS::ExactlyOnce),
                        _ => v4::SubscribeReasonCode::Failure,
                    })
                    .collect();
                self.send_v4(v4::Packet::SubAck(v4::SubAck::new(pkid, codes)));
            }
            Version::V5 => {
                let codes = granted
                    .iter()
                    .map(|&g| match g {
                        0..=2 => v5::SubscribeReasonCode::Success(qos5(g)),
                        _ => v5::SubscribeReasonCode::Unspecified,
                    })
                    .collect();
                self.send_v5(v5::Packet::SubAck(v5::SubAck {
                    pkid,
                    return_codes: codes,
                    properties: None,
                }));
            }
        }
    }

    pub fn puback(&mut self, pkid: u16) {
        self.puback_reason(pkid, 0);
    }

    /// PUBACK with a v5 reason code (0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99).
    pub fn puback_reason(&mut self, pkid: u16, code: u8) {
        match self.version {
            Version::V311 => self.send_v4(v4::Packet::PubAck(v4::PubAck::new(pkid))),
            Version::V5 => self.send_v5(v5::Packet::PubAck(v5::PubAck {
                pkid,
                reason: puback_reason(code),
                properties: None,
            })),
        }
    }

    pub fn pubrec(&mut self, pkid: u16) {
        self.pubrec_reason(pkid, 0);
    }

    /// PUBREC with a v5 reason code (the same codes as PUBACK).
    pub fn pubrec_reason(&mut self, pkid: u16, code: u8) {
        match self.version {
            Version::V311 => self.send_v4(v4::Packet::PubRec(v4::PubRec::new(pkid))),
            Version::V5 => self.send_v5(v5::Packet::PubRec(v5::PubRec {
                pkid,
                reason: pubrec_reason(code),
                properties: None,
            })),
        }
    }

    pub fn pubrel(&mut self, pkid: u16) {
        match self.version {
            Version::V311 => self.send_v4(v4::Packet::PubRel(v4::PubRel::new(pkid))),
            Version::V5 => self.send_v5(v5::Packet::PubRel(v5::PubRel::new(pkid, None))),
        }
    }

    pub fn pubcomp(&mut self, pkid: u16) {
        match self.version {
            Version::V311 => self.send_v4(v4::Packet::PubComp(v4::PubComp::new(pkid))),
            Version::V5 => self.send_v5(v5::Packet::PubComp(v5::PubComp::new(pkid, None))),
        }
    }

    /// A PUBLISH to the client (`pkid` is ignored at QoS 0).
    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: u8, pkid: u16, dup: bool) {
        let pkid = if qos == 0 { 0 } else { pkid };
        match self.version {
            Version::V311 => {
                let mut p = v4::Publish::new(topic, qos4(qos), payload.to_vec());
                p.pkid = pkid;
                p.dup = dup;
                self.send_v4(v4::Packet::Publish(p));
            }
            Version::V5 => {
                let mut p = v5::Publish::new(topic, qos5(qos), payload.to_vec(), None);
                p.pkid = pkid;
                p.dup = dup;
                self.send_v5(v5::Packet::Publish(p));
            }
        }
    }

    fn send_pingresp(&mut self) {
        match self.version {
            Version::V311 => self.send_v4(v4::Packet::PingResp),
            Version::V5 => self.send_v5(v5::Packet::PingResp(v5::PingResp)),
        }
    }

    /// Sends any 3.1.1 packet; panics if the client is gone.
    pub fn send_v4(&mut self, p: v4::Packet) {
        let mut out = BytesMut::new();
        p.write(&mut out, MAX_PACKET).expect("encode packet");
        self.send_bytes(&out, &format!("{p:?}"));
    }

    /// Sends any MQTT 5 packet; panics if the client is gone.
    pub fn send_v5(&mut self, p: v5::Packet) {
        let mut out = BytesMut::new();
        p.write(&mut out, None).expect("encode packet");
        self.send_bytes(&out, &format!("{p:?}"));
    }

    /// Sends raw bytes (e.g. a deliberately malformed packet); panics if the client is gone.
    pub fn send_bytes(&mut self, bytes: &[u8], what: &str) {
        self.stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        if let Err(e) = self.stream.write_all(bytes) {
            panic!("fake broker: could not send {what}: {e}");
        }
    }

    /// Closes the connection in order (FIN), as a broker does when it rejects a packet.
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Aborts the connection: the client sees a reset.
    pub fn reset(self) {
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }
}

/// v5 CONNACK properties with nothing set, for `ConnAckProperties { receive_max: Some(2),
/// ..connack_props() }`.
pub fn connack_props() -> v5::ConnAckProperties {
    v5::ConnAckProperties {
        session_expiry_interval: None,
        receive_max: None,
        max_qos: None,
        retain_available: None,
        max_packet_size: None,
        assigned_client_identifier: None,
        topic_alias_max: None,
        reason_string: None,
        user_properties: Vec::new(),
        wildcard_subscription_available: None,
        subscription_identifiers_available: None,
        shared_subscription_available: None,
        server_keep_alive: None,
        response_information: None,
        server_reference: None,
        authentication_method: None,
        authentication_data: None,
    }
}

/// Length of the fixed header at the start of `buf`, once it is all there.
fn header_len(buf: &[u8]) -> Option<usize> {
    buf.iter()
        .take(5)
        .skip(1)
        .position(|b| b & 0x80 == 0)
        .map(|i| i + 2)
}

fn qos4(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    match q {
        0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

/// v5 reason codes of PUBACK and PUBREC, which share their table.
const ACK_CODES: [u8; 9] = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];

fn puback_reason(code: u8) -> v5::PubAckReason {
    use v5::PubAckReason as R;
    let all = [
        R::Success,
        R::NoMatchingSubscribers,
        R::UnspecifiedError,
        R::ImplementationSpecificError,
        R::NotAuthorized,
        R::TopicNameInvalid,
        R::PacketIdentifierInUse,
        R::QuotaExceeded,
        R::PayloadFormatInvalid,
    ];
    match ACK_CODES.iter().position(|&c| c == code) {
        Some(i) => all[i],
        None => panic!("no PUBACK reason code 0x{code:02x}"),
    }
}

fn puback_code(r: v5::PubAckReason) -> u8 {
    (0..ACK_CODES.len())
        .find(|&i| puback_reason(ACK_CODES[i]) == r)
        .map(|i| ACK_CODES[i])
        .unwrap()
}

fn pubrec_reason(code: u8) -> v5::PubRecReason {
    use v5::PubRecReason as R;
    let all = [
        R::Success,
        R::NoMatchingSubscribers,
        R::UnspecifiedError,
        R::ImplementationSpecificError,
        R::NotAuthorized,
        R::TopicNameInvalid,
        R::PacketIdentifierInUse,
        R::QuotaExceeded,
        R::PayloadFormatInvalid,
    ];
    match ACK_CODES.iter().position(|&c| c == code) {
        Some(i) => all[i],
        None => panic!("no PUBREC reason code 0x{code:02x}"),
    }
}

fn pubrec_code(r: v5::PubRecReason) -> u8 {
    (0..ACK_CODES.len())
        .find(|&i| pubrec_reason(ACK_CODES[i]) == r)
        .map(|i| ACK_CODES[i])
        .unwrap()
}

fn pubrel_code(r: v5::PubRelReason) -> u8 {
    match r {
        v5::PubRelReason::Success => 0x00,
        v5::PubRelReason::PacketIdentifierNotFound => 0x92,
    }
}

fn pubcomp_code(r: v5::PubCompReason) -> u8 {
    match r {
        v5::PubCompReason::Success => 0x00,
        v5::PubCompReason::PacketIdentifierNotFound => 0x92,
    }
}

fn from_v4(p: v4::Packet) -> Pkt {
    match p {
        v4::Packet::Publish(p) => Pkt::Publish(Publish {
            topic: p.topic,
            payload: p.payload.to_vec(),
            qos: p.qos as u8,
            pkid: p.pkid,
            dup: p.dup,
            retain: p.retain,
        }),
        v4::Packet::PubAck(a) => Pkt::PubAck {
            pkid: a.pkid,
            reason: 0,
        },
        v4::Packet::PubRec(a) => Pkt::PubRec {
            pkid: a.pkid,
            reason: 0,
        },
        v4::Packet::PubRel(a) => Pkt::PubRel {
            pkid: a.pkid,
            reason: 0,
        },
        v4::Packet::PubComp(a) => Pkt::PubComp {
            pkid: a.pkid,
            reason: 0,
        },
        v4::Packet::Subscribe(s) => Pkt::Subscribe {
            pkid: s.pkid,
            filters: s
                .filters
                .into_iter()
                .map(|f| (f.path, f.qos as u8))
                .collect(),
        },
        v4::Packet::Unsubscribe(u) => Pkt::Unsubscribe {
            pkid: u.pkid,
            filters: u.topics,
        },
        v4::Packet::PingReq => Pkt::PingReq,
        v4::Packet::Disconnect => Pkt::Disconnect { reason: 0 },
        other => Pkt::Other(format!("{other:?}")),
    }
}

fn from_v5(p: v5::Packet) -> Pkt {
    match p {
        v5::Packet::Publish(p) => Pkt::Publish(Publish {
            topic: String::from_utf8_lossy(&p.topic).into_owned(),
            payload: p.payload.to_vec(),
            qos: p.qos as u8,
            pkid: p.pkid,
            dup: p.dup,
            retain: p.retain,
        }),
        v5::Packet::PubAck(a) => Pkt::PubAck {
            pkid: a.pkid,
            reason: puback_code(a.reason),
        },
        v5::Packet::PubRec(a) => Pkt::PubRec {
            pkid: a.pkid,
            reason: pubrec_code(a.reason),
        },
        v5::Packet::PubRel(a) => Pkt::PubRel {
            pkid: a.pkid,
            reason: pubrel_code(a.reason),
        },
        v5::Packet::PubComp(a) => Pkt::PubComp {
            pkid: a.pkid,
            reason: pubcomp_code(a.reason),
        },
        v5::Packet::Subscribe(s) => Pkt::Subscribe {
            pkid: s.pkid,
            filters: s
                .filters
                .into_iter()
                .map(|f| (f.path, f.qos as u8))
                .collect(),
        },
        v5::Packet::Unsubscribe(u) => Pkt::Unsubscribe {
            pkid: u.pkid,
            filters: u.filters,
        },
        v5::Packet::PingReq(_) => Pkt::PingReq,
        v5::Packet::Disconnect(d) => Pkt::Disconnect {
            reason: d.reason_code as u8,
        },
        other => Pkt::Other(format!("{other:?}")),
    }
}
