//! MQTT 3.1.1 and 5 packets to and from bytes, with rumqttc's packet codec (`mqttbytes`), behind
//! one protocol-neutral shape: the session (`state.rs`) queues `Codec::publish`, `puback`, ...
//! into one buffer, and `decode` turns bytes into `In`. The codec is the only part of rumqttc
//! we use.

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;
use rumqttc::v5::mqttbytes::v5::{
    PubAckReason, PubCompReason, PubRecReason, PublishProperties, SubscribeProperties,
    SubscribeReasonCode as Sub5, UnsubscribeProperties,
};

use super::packet::words;
use super::{Incoming, Message, Reason, SubCode, Subscription, Will};
use crate::cli::Protocol;

/// Adds an empty password to the CONNECT encoded at `out[start..]`: the password flag, and a
/// zero-length string after the last field (the password is last in 3.1.1 and in 5).
fn add_empty_password(out: &mut BytesMut, start: usize) {
    let packet = out.split_off(start);
    // The fixed header's remaining length takes 1 to 4 bytes, 7 bits each.
    let header = 1 + packet[1..].iter().take_while(|b| *b & 0x80 != 0).count() + 1;
    let mut body = packet[header..].to_vec();
    // Variable header: the protocol name "MQTT" (2 + 4 bytes), the level, then the flags.
    body[7] |= 0x40;
    body.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&packet[..1]);
    let mut len = body.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        out.extend_from_slice(&[if len > 0 { byte | 0x80 } else { byte }]);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&body);
}

/// A decoded packet from the broker.
#[derive(Debug)]
pub enum In {
    ConnAck(ConnAck),
    Publish(Incoming),
    PubAck {
        pkid: u16,
        reason: Option<Reason>,
    },
    /// `reason` is set for v5; the exchange ends there when its code is >= 0x80.
    PubRec {
        pkid: u16,
        reason: Option<Reason>,
    },
    PubRel {
        pkid: u16,
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
    PingResp,
    Disconnect {
        reason: Option<Reason>,
    },
    /// A packet a broker does not send to a client (PINGREQ, AUTH, ...), by name.
    Other(&'static str),
}

#[derive(Debug, Clone, Default)]
pub struct ConnAck {
    pub session_present: bool,
    /// The refusal in words; `None`: accepted.
    pub refusal: Option<String>,
    pub receive_max: Option<u16>,
    pub max_packet: Option<u32>,
}

/// What a CONNECT carries.
pub struct Connect<'a> {
    pub client_id: &'a str,
    pub keepalive: u16,
    pub clean_start: bool,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub will: Option<&'a Will>,
    /// v5 only.
    pub properties: Option<v5::ConnectProperties>,
    pub will_properties: Option<v5::LastWillProperties>,
}

#[derive(Debug)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// The v5 properties put on every PUBLISH, SUBSCRIBE and UNSUBSCRIBE (`-D`).
#[derive(Debug, Clone, Default)]
pub struct Props {
    pub publish: Option<PublishProperties>,
    pub subscribe: Option<SubscribeProperties>,
    pub unsubscribe: Option<UnsubscribeProperties>,
}

/// The encoder and decoder of one connection.
#[derive(Debug, Clone)]
pub struct Codec {
    pub protocol: Protocol,
    /// The largest packet we accept from the broker.
    pub max_incoming: usize,
    /// `-D publish ...`, `-D subscribe ...`, `-D unsubscribe ...` (v5).
    /// Behind an `Arc`: thousands of `sim` devices share one.
    pub props: Option<std::sync::Arc<Props>>,
    /// `-d`: one line on stderr per packet encoded (never the password).
    pub trace: bool,
}

fn qos4(q: u8) -> rumqttc::mqttbytes::QoS {
    use rumqttc::mqttbytes::QoS;
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
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

impl Codec {
    pub fn new(protocol: Protocol, max_incoming: usize) -> Codec {
        Codec {
            protocol,
            max_incoming,
            props: None,
            trace: false,
        }
    }

    fn trace(&self, line: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("mqtk: sending {}", line());
        }
    }

    fn v5(&self) -> bool {
        self.protocol == Protocol::V5
    }

    /// The next whole packet in `buf` (consumed), or `None` when `buf` holds only part of one
    /// (then nothing is consumed).
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<In>, DecodeError> {
        // A v5 DISCONNECT without a reason code (normal disconnection) has no body, which the
        // v5 reader refuses.
        if self.v5() && buf.len() >= 2 && buf[0] == 0xE0 && buf[1] == 0 {
            let _ = buf.split_to(2);
            return Ok(Some(In::Disconnect { reason: None }));
        }
        // rumqttc says "insufficient bytes" both for a frame not yet complete (nothing read)
        // and for a complete frame whose fields run past its end (the frame already taken
        // out of `buf`): only the first means "wait for more".
        let before = buf.len();
        let short = |buf: &BytesMut| {
            if buf.len() == before {
                Ok(None)
            } else {
                Err(DecodeError(
                    "malformed packet (its fields run past its length)".into(),
                ))
            }
        };
        if self.v5() {
            match v5::Packet::read(buf, Some(self.max_incoming as u32)) {
                Ok(p) => Ok(Some(from_v5(p))),
                Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => short(buf),
                Err(e) => Err(DecodeError(e.to_string())),
            }
        } else {
            match v4::Packet::read(buf, self.max_incoming) {
                Ok(p) => Ok(Some(from_v4(p))),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => short(buf),
                Err(e) => Err(DecodeError(e.to_string())),
            }
        }
    }

    pub fn connect(&self, c: &Connect<'_>, out: &mut BytesMut) {
        let start = out.len();
        if self.v5() {
            let connect = v5::Connect {
                keep_alive: c.keepalive,
                client_id: c.client_id.to_string(),
                clean_start: c.clean_start,
                properties: c.properties.clone(),
            };
            let will = c.will.map(|w| v5::LastWill {
                topic: Bytes::copy_from_slice(w.topic.as_bytes()),
                message: w.payload.clone(),
                qos: qos5(w.qos),
                retain: w.retain,
                properties: c.will_properties.clone(),
            });
            // v5 allows a password without a user name.
            let login = (c.username.is_some() || c.password.is_some()).then(|| v5::Login {
                username: c.username.unwrap_or_default().to_string(),
                password: c.password.unwrap_or_default().to_string(),
            });
            let _ = connect.write(&will, &login, out);
        } else {
            let connect = v4::Connect {
                protocol: rumqttc::mqttbytes::Protocol::V4,
                keep_alive: c.keepalive,
                client_id: c.client_id.to_string(),
                clean_session: c.clean_start,
                last_will: c.will.map(|w| v4::LastWill {
                    topic: w.topic.clone(),
                    message: w.payload.clone(),
                    qos: qos4(w.qos),
                    retain: w.retain,
                }),
                login: c.username.map(|u| v4::Login {
                    username: u.to_string(),
                    password: c.password.unwrap_or_default().to_string(),
                }),
            };
            let _ = connect.write(out);
        }
        // rumqttc leaves an empty password out; mosquitto's clients send it (`-P ""`). 3.1.1
        // allows a password only after a user name.
        if c.password == Some("") && (self.v5() || c.username.is_some()) {
            add_empty_password(out, start);
        }
    }

    /// Encodes a PUBLISH; returns its size in bytes.
    pub fn publish(&self, pkid: u16, dup: bool, m: &Message, out: &mut BytesMut) -> usize {
        self.trace(|| {
            format!(
                "PUBLISH (mid {pkid}, qos {}, retain {}, dup {dup}, {:?}, {} bytes)",
                m.qos,
                m.retain,
                m.topic,
                m.payload.len()
            )
        });
        let before = out.len();
        if self.v5() {
            let mut props = self.props.as_ref().and_then(|p| p.publish.clone());
            if m.response_topic.is_some() || m.correlation_data.is_some() {
                let p = props.get_or_insert_with(PublishProperties::default);
                p.response_topic = m.response_topic.clone().or(p.response_topic.take());
                p.correlation_data = m.correlation_data.clone().or(p.correlation_data.take());
            }
            let p = v5::Publish {
                dup,
                qos: qos5(m.qos),
                retain: m.retain,
                topic: Bytes::copy_from_slice(m.topic.as_bytes()),
                pkid,
                payload: m.payload.clone(),
                properties: props,
            };
            let _ = p.write(out);
        } else {
            let p = v4::Publish {
                dup,
                qos: qos4(m.qos),
                retain: m.retain,
                topic: m.topic.clone(),
                pkid,
                payload: m.payload.clone(),
            };
            let _ = p.write(out);
        }
        out.len() - before
    }

    pub fn puback(&self, pkid: u16, out: &mut BytesMut) {
        self.trace(|| format!("PUBACK (mid {pkid})"));
        if self.v5() {
            let _ = v5::PubAck::new(pkid, None).write(out);
        } else {
            let _ = v4::PubAck::new(pkid).write(out);
        }
    }

    pub fn pubrec(&self, pkid: u16, out: &mut BytesMut) {
        self.trace(|| format!("PUBREC (mid {pkid})"));
        if self.v5() {
            let _ = v5::PubRec::new(pkid, None).write(out);
        } else {
            let _ = v4::PubRec::new(pkid).write(out);
        }
    }

    pub fn pubrel(&self, pkid: u16, out: &mut BytesMut) {
        self.trace(|| format!("PUBREL (mid {pkid})"));
        if self.v5() {
            let _ = v5::PubRel::new(pkid, None).write(out);
        } else {
            let _ = v4::PubRel::new(pkid).write(out);
        }
    }

    pub fn pubcomp(&self, pkid: u16, out: &mut BytesMut) {
        self.trace(|| format!("PUBCOMP (mid {pkid})"));
        if self.v5() {
            let _ = v5::PubComp::new(pkid, None).write(out);
        } else {
            let _ = v4::PubComp::new(pkid).write(out);
        }
    }

    pub fn subscribe(&self, pkid: u16, subs: &[Subscription], out: &mut BytesMut) {
        self.trace(|| format!("SUBSCRIBE (mid {pkid}, {} filters)", subs.len()));
        if self.v5() {
            use v5::{Filter, RetainForwardRule};
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
            let mut p = v5::Subscribe::new_many(
                filters,
                self.props.as_ref().and_then(|p| p.subscribe.clone()),
            );
            p.pkid = pkid;
            let _ = p.write(out);
        } else {
            let mut p = v4::Subscribe::new_many(
                subs.iter()
                    .map(|s| v4::SubscribeFilter::new(s.filter.clone(), qos4(s.qos))),
            );
            p.pkid = pkid;
            let _ = p.write(out);
        }
    }

    pub fn unsubscribe(&self, pkid: u16, filter: &str, out: &mut BytesMut) {
        self.trace(|| format!("UNSUBSCRIBE (mid {pkid}, {filter:?})"));
        if self.v5() {
            let mut p = v5::Unsubscribe::new(
                filter,
                self.props.as_ref().and_then(|p| p.unsubscribe.clone()),
            );
            p.pkid = pkid;
            let _ = p.write(out);
        } else {
            let mut p = v4::Unsubscribe::new(filter);
            p.pkid = pkid;
            let _ = p.write(out);
        }
    }

    pub fn pingreq(&self, out: &mut BytesMut) {
        self.trace(|| "PINGREQ".into());
        if self.v5() {
            let _ = v5::PingReq::write(out);
        } else {
            let _ = v4::PingReq.write(out);
        }
    }

    /// DISCONNECT; v5 with `-D disconnect` properties and, when we kept the session only for
    /// the run, a session expiry of 0 so the broker drops it.
    pub fn disconnect(&self, props: Option<v5::DisconnectProperties>, out: &mut BytesMut) {
        self.trace(|| "DISCONNECT".into());
        if self.v5() {
            let mut d = v5::Disconnect::new(v5::DisconnectReasonCode::NormalDisconnection);
            d.properties = props;
            let _ = d.write(out);
        } else {
            let _ = v4::Disconnect.write(out);
        }
    }
}

fn from_v4(p: v4::Packet) -> In {
    use v4::Packet;
    match p {
        Packet::ConnAck(c) => {
            let code = c.code as u8;
            In::ConnAck(ConnAck {
                session_present: c.session_present,
                refusal: (code != 0).then(|| words(&format!("{:?}", c.code))),
                receive_max: None,
                max_packet: None,
            })
        }
        Packet::Publish(p) => In::Publish(Incoming {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            pkid: p.pkid,
            properties: None,
            generation: 0,
        }),
        Packet::PubAck(a) => In::PubAck {
            pkid: a.pkid,
            reason: None,
        },
        Packet::PubRec(r) => In::PubRec {
            pkid: r.pkid,
            reason: None,
        },
        Packet::PubRel(r) => In::PubRel { pkid: r.pkid },
        Packet::PubComp(c) => In::PubComp {
            pkid: c.pkid,
            reason: None,
        },
        Packet::SubAck(s) => In::SubAck {
            pkid: s.pkid,
            codes: s
                .return_codes
                .iter()
                .map(|c| match c {
                    v4::SubscribeReasonCode::Success(q) => SubCode::Granted(*q as u8),
                    v4::SubscribeReasonCode::Failure => SubCode::Refused(Reason {
                        code: 0x80,
                        text: "failure".into(),
                    }),
                })
                .collect(),
        },
        Packet::UnsubAck(u) => In::UnsubAck { pkid: u.pkid },
        Packet::PingResp => In::PingResp,
        Packet::Disconnect => In::Disconnect { reason: None },
        Packet::PingReq => In::Other("PINGREQ"),
        Packet::Connect(_) => In::Other("CONNECT"),
        Packet::Subscribe(_) => In::Other("SUBSCRIBE"),
        Packet::Unsubscribe(_) => In::Other("UNSUBSCRIBE"),
    }
}

fn from_v5(p: v5::Packet) -> In {
    use v5::Packet;
    match p {
        Packet::ConnAck(c) => {
            let refused = !matches!(c.code, v5::ConnectReturnCode::Success);
            In::ConnAck(ConnAck {
                session_present: c.session_present,
                refusal: refused.then(|| words(&format!("{:?}", c.code))),
                receive_max: c.properties.as_ref().and_then(|p| p.receive_max),
                max_packet: c.properties.as_ref().and_then(|p| p.max_packet_size),
            })
        }
        Packet::Publish(p) => In::Publish(Incoming {
            topic: String::from_utf8_lossy(&p.topic).into_owned(),
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            pkid: p.pkid,
            properties: p.properties,
            generation: 0,
        }),
        Packet::PubAck(a) => In::PubAck {
            pkid: a.pkid,
            reason: Some(reason(puback_code(&a.reason), a.reason)),
        },
        Packet::PubRec(r) => {
            let code = pubrec_code(&r.reason);
            In::PubRec {
                pkid: r.pkid,
                reason: Some(reason(code, r.reason)),
            }
        }
        Packet::PubRel(r) => In::PubRel { pkid: r.pkid },
        Packet::PubComp(c) => In::PubComp {
            pkid: c.pkid,
            reason: match c.reason {
                PubCompReason::Success => None,
                PubCompReason::PacketIdentifierNotFound => Some(reason(0x92, c.reason)),
            },
        },
        Packet::SubAck(s) => In::SubAck {
            pkid: s.pkid,
            codes: s.return_codes.iter().map(sub5).collect(),
        },
        Packet::UnsubAck(u) => In::UnsubAck { pkid: u.pkid },
        Packet::PingResp(_) => In::PingResp,
        Packet::Disconnect(d) => In::Disconnect {
            reason: Some(reason(d.reason_code as u8, d.reason_code)),
        },
        Packet::PingReq(_) => In::Other("PINGREQ"),
        Packet::Auth(_) => In::Other("AUTH"),
        Packet::Connect(..) => In::Other("CONNECT"),
        Packet::Subscribe(_) => In::Other("SUBSCRIBE"),
        Packet::Unsubscribe(_) => In::Other("UNSUBSCRIBE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(protocol: Protocol, username: Option<&str>, password: Option<&str>) -> BytesMut {
        let codec = Codec::new(protocol, 1 << 20);
        // An empty buffer, as in the driver: rumqttc's CONNECT writes its flags at an index
        // counted from the start of the buffer, not of the packet.
        let mut out = BytesMut::new();
        let id = "c".repeat(130); // a remaining length that needs two bytes
        codec.connect(
            &Connect {
                client_id: &id,
                keepalive: 60,
                clean_start: true,
                username,
                password,
                will: None,
                properties: None,
                will_properties: None,
            },
            &mut out,
        );
        out
    }

    /// `-P ""`: the password flag and a zero-length password, as mosquitto_pub sends them;
    /// the packet still decodes, with the same length as one with a one-byte password less one.
    #[test]
    fn an_empty_password_is_sent() {
        for protocol in [Protocol::V311, Protocol::V5] {
            let empty = connect(protocol, Some("u"), Some(""));
            let one = connect(protocol, Some("u"), Some("x"));
            assert_eq!(empty.len() + 1, one.len(), "{protocol:?}");
            assert!(empty.ends_with(b"\0\x01u\0\0"), "{protocol:?} {empty:?}");
            assert_eq!(empty[3 + 7] & 0xc0, 0xc0, "{protocol:?} flags");
            let mut buf = empty.clone();
            match protocol {
                Protocol::V311 => {
                    let p = v4::Packet::read(&mut buf, 1 << 20).unwrap();
                    assert!(matches!(p, v4::Packet::Connect(..)), "{p:?}");
                }
                Protocol::V5 => {
                    let p = v5::Packet::read(&mut buf, None).unwrap();
                    assert!(matches!(p, v5::Packet::Connect(..)), "{p:?}");
                }
            }
            assert!(buf.is_empty());
        }
        // No password: no flag.
        let none = connect(Protocol::V311, Some("u"), None);
        assert_eq!(none[3 + 7] & 0x40, 0);
    }

    /// Found by the `decode` fuzz target: a v5 CONNACK without its properties length is a
    /// whole frame that is too short, not the start of a packet; taking it for the latter
    /// dropped it silently and left the packets after it unread until more bytes came.
    #[test]
    fn a_frame_too_short_for_its_fields_is_malformed_not_partial() {
        let codec = Codec::new(Protocol::V5, 1 << 20);
        let mut buf = BytesMut::from(&b"\x20\x02\x00\x00\x30\x05\x00\x01tab"[..]);
        assert!(codec.decode(&mut buf).is_err());

        // A frame still arriving is waited for, and nothing of it is consumed.
        let mut buf = BytesMut::from(&b"\x30\x06\x00\x01t"[..]);
        assert!(matches!(codec.decode(&mut buf), Ok(None)));
        assert_eq!(buf.len(), 5);
        buf.extend_from_slice(b"\x00ab");
        let Ok(Some(In::Publish(p))) = codec.decode(&mut buf) else {
            panic!("no PUBLISH");
        };
        assert_eq!((p.topic.as_str(), &p.payload[..]), ("t", &b"ab"[..]));
    }
}
