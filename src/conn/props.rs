//! `-D CMD NAME VALUE`: MQTT v5 properties, checked against the packet they go in, with the
//! same table of which property goes in which packet as mosquitto's clients
//! (`wrong_packet_range_and_arity_are_refused` below).

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{
    ConnectProperties, DisconnectProperties, LastWillProperties, PublishProperties,
    SubscribeProperties, UnsubscribeProperties,
};

use crate::exit::{Failure, usage};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PropCommand {
    Connect,
    Publish,
    Will,
    Subscribe,
    Unsubscribe,
    Disconnect,
}

impl PropCommand {
    fn parse(s: &str) -> Result<PropCommand, Failure> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "connect" => PropCommand::Connect,
            "publish" => PropCommand::Publish,
            "will" => PropCommand::Will,
            "subscribe" => PropCommand::Subscribe,
            "unsubscribe" => PropCommand::Unsubscribe,
            "disconnect" => PropCommand::Disconnect,
            "auth" | "puback" | "pubrec" | "pubrel" | "pubcomp" | "suback" | "unsuback" => {
                return Err(usage(format!("-D {s}: properties for {s} cannot be set")));
            }
            _ => return Err(usage(format!("-D: unknown command {s:?}"))),
        })
    }

    fn name(self) -> &'static str {
        match self {
            PropCommand::Connect => "connect",
            PropCommand::Publish => "publish",
            PropCommand::Will => "will",
            PropCommand::Subscribe => "subscribe",
            PropCommand::Unsubscribe => "unsubscribe",
            PropCommand::Disconnect => "disconnect",
        }
    }
}

/// All -D properties of one invocation, by packet.
#[derive(Debug, Clone, Default)]
pub struct V5Props {
    pub connect: Option<ConnectProperties>,
    pub publish: Option<PublishProperties>,
    pub will: Option<LastWillProperties>,
    pub subscribe: Option<SubscribeProperties>,
    pub unsubscribe: Option<UnsubscribeProperties>,
    pub disconnect: Option<DisconnectProperties>,
}

fn number<T: TryFrom<u64>>(prop: &str, value: &str, max: u64) -> Result<T, Failure> {
    let out_of_range = || {
        usage(format!(
            "-D {prop}: {value:?} is not a number from 0 to {max}"
        ))
    };
    let n: u64 = value.parse().map_err(|_| out_of_range())?;
    if n > max {
        return Err(out_of_range());
    }
    T::try_from(n).map_err(|_| out_of_range())
}

impl V5Props {
    pub fn is_empty(&self) -> bool {
        self.connect.is_none()
            && self.publish.is_none()
            && self.will.is_none()
            && self.subscribe.is_none()
            && self.unsubscribe.is_none()
            && self.disconnect.is_none()
    }

    pub fn has_will(&self) -> bool {
        self.will.is_some()
    }

    /// `-D publish correlation-data`, which `rr` matches responses against.
    pub fn publish_correlation_data(&self) -> Option<Bytes> {
        self.publish.as_ref()?.correlation_data.clone()
    }

    /// Whether `-D publish response-topic` was given (`rr` sets it from -e).
    pub fn has_publish_response_topic(&self) -> bool {
        self.publish
            .as_ref()
            .is_some_and(|p| p.response_topic.is_some())
    }

    pub fn parse(groups: &[Vec<String>], allowed: &[PropCommand]) -> Result<V5Props, Failure> {
        let mut p = V5Props::default();
        for words in groups {
            let cmd = PropCommand::parse(&words[0])?;
            if !allowed.contains(&cmd) {
                return Err(usage(format!(
                    "-D {}: not used by this command",
                    cmd.name()
                )));
            }
            let name = words[1].to_ascii_lowercase();
            let is_pair = name == "user-property";
            match (is_pair, words.len()) {
                (true, 4) | (false, 3) => {}
                (true, _) => {
                    return Err(usage(format!(
                        "-D {} user-property takes a NAME and a VALUE",
                        cmd.name()
                    )));
                }
                (false, _) => {
                    return Err(usage(format!("-D {} {name} takes one VALUE", cmd.name())));
                }
            }
            // MQTT strings and binary data carry a 16-bit length: a longer value cannot be
            // encoded, and a broker would drop the connection over it.
            if let Some(long) = words[2..].iter().find(|w| w.len() > 65_535) {
                return Err(usage(format!(
                    "-D {} {name}: the value is {} bytes; MQTT allows at most 65535",
                    cmd.name(),
                    long.len()
                )));
            }
            let value = words[2].as_str();
            let not_allowed = || {
                usage(format!(
                    "-D: {name} is not a property of {}",
                    cmd.name().to_uppercase()
                ))
            };
            match cmd {
                PropCommand::Connect => {
                    let c = p.connect.get_or_insert_with(ConnectProperties::new);
                    match name.as_str() {
                        "session-expiry-interval" => {
                            c.session_expiry_interval = Some(number(&name, value, u32::MAX.into())?)
                        }
                        "receive-maximum" => {
                            let n: u16 = number(&name, value, 65_535)?;
                            if n == 0 {
                                return Err(usage("-D receive-maximum must be at least 1"));
                            }
                            c.receive_maximum = Some(n)
                        }
                        "maximum-packet-size" => {
                            let n: u32 = number(&name, value, u32::MAX.into())?;
                            if n == 0 {
                                return Err(usage("-D maximum-packet-size must be at least 1"));
                            }
                            c.max_packet_size = Some(n)
                        }
                        "topic-alias-maximum" => {
                            c.topic_alias_max = Some(number(&name, value, 65_535)?)
                        }
                        "request-response-information" => {
                            c.request_response_info = Some(number(&name, value, 1)?)
                        }
                        "request-problem-information" => {
                            c.request_problem_info = Some(number(&name, value, 1)?)
                        }
                        "authentication-method" => c.authentication_method = Some(value.into()),
                        "authentication-data" => {
                            c.authentication_data = Some(Bytes::from(value.to_string()))
                        }
                        "user-property" => c.user_properties.push((value.into(), words[3].clone())),
                        _ => return Err(not_allowed()),
                    }
                }
                PropCommand::Publish => {
                    let m = p.publish.get_or_insert_with(PublishProperties::default);
                    match name.as_str() {
                        "content-type" => m.content_type = Some(value.into()),
                        "correlation-data" => {
                            m.correlation_data = Some(Bytes::from(value.to_string()))
                        }
                        "message-expiry-interval" => {
                            m.message_expiry_interval = Some(number(&name, value, u32::MAX.into())?)
                        }
                        "payload-format-indicator" => {
                            m.payload_format_indicator = Some(number(&name, value, 1)?)
                        }
                        "response-topic" => {
                            crate::topic::validate_topic_name(value)
                                .map_err(|e| usage(format!("-D response-topic: {e}")))?;
                            m.response_topic = Some(value.into())
                        }
                        "topic-alias" => {
                            let n: u16 = number(&name, value, 65_535)?;
                            if n == 0 {
                                return Err(usage("-D topic-alias must be at least 1"));
                            }
                            m.topic_alias = Some(n)
                        }
                        "user-property" => m.user_properties.push((value.into(), words[3].clone())),
                        "subscription-identifier" => {
                            return Err(usage(
                                "-D publish subscription-identifier: only brokers set it",
                            ));
                        }
                        _ => return Err(not_allowed()),
                    }
                }
                PropCommand::Will => {
                    let w = p.will.get_or_insert_with(|| LastWillProperties {
                        delay_interval: None,
                        payload_format_indicator: None,
                        message_expiry_interval: None,
                        content_type: None,
                        response_topic: None,
                        correlation_data: None,
                        user_properties: Vec::new(),
                    });
                    match name.as_str() {
                        "will-delay-interval" => {
                            w.delay_interval = Some(number(&name, value, u32::MAX.into())?)
                        }
                        "content-type" => w.content_type = Some(value.into()),
                        "correlation-data" => {
                            w.correlation_data = Some(Bytes::from(value.to_string()))
                        }
                        "message-expiry-interval" => {
                            w.message_expiry_interval = Some(number(&name, value, u32::MAX.into())?)
                        }
                        "payload-format-indicator" => {
                            w.payload_format_indicator = Some(number(&name, value, 1)?)
                        }
                        "response-topic" => {
                            // The responder publishes to it: a topic name, as for PUBLISH.
                            crate::topic::validate_topic_name(value)
                                .map_err(|e| usage(format!("-D response-topic: {e}")))?;
                            w.response_topic = Some(value.into())
                        }
                        "user-property" => w.user_properties.push((value.into(), words[3].clone())),
                        _ => return Err(not_allowed()),
                    }
                }
                PropCommand::Subscribe => {
                    let s = p.subscribe.get_or_insert_with(|| SubscribeProperties {
                        id: None,
                        user_properties: vec![],
                    });
                    match name.as_str() {
                        "subscription-identifier" => {
                            let n: usize = number(&name, value, 268_435_455)?;
                            if n == 0 {
                                return Err(usage("-D subscription-identifier must be at least 1"));
                            }
                            s.id = Some(n)
                        }
                        "user-property" => s.user_properties.push((value.into(), words[3].clone())),
                        _ => return Err(not_allowed()),
                    }
                }
                PropCommand::Unsubscribe => {
                    let u = p.unsubscribe.get_or_insert_with(|| UnsubscribeProperties {
                        user_properties: vec![],
                    });
                    match name.as_str() {
                        "user-property" => u.user_properties.push((value.into(), words[3].clone())),
                        _ => return Err(not_allowed()),
                    }
                }
                PropCommand::Disconnect => {
                    let d = p.disconnect.get_or_insert_with(|| DisconnectProperties {
                        session_expiry_interval: None,
                        reason_string: None,
                        user_properties: vec![],
                        server_reference: None,
                    });
                    match name.as_str() {
                        "session-expiry-interval" => {
                            d.session_expiry_interval = Some(number(&name, value, u32::MAX.into())?)
                        }
                        "reason-string" => d.reason_string = Some(value.into()),
                        "user-property" => d.user_properties.push((value.into(), words[3].clone())),
                        _ => return Err(not_allowed()),
                    }
                }
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    const PUB: &[PropCommand] = &[
        PropCommand::Connect,
        PropCommand::Publish,
        PropCommand::Will,
    ];

    #[test]
    fn publish_properties_are_typed() {
        let p = V5Props::parse(
            &[
                words(&["publish", "content-type", "text/plain"]),
                words(&["publish", "message-expiry-interval", "59"]),
                words(&["PUBLISH", "user-property", "k", "v"]),
                words(&["publish", "user-property", "k", "v2"]),
                words(&["connect", "receive-maximum", "10"]),
            ],
            PUB,
        )
        .unwrap();
        let m = p.publish.unwrap();
        assert_eq!(m.content_type.as_deref(), Some("text/plain"));
        assert_eq!(m.message_expiry_interval, Some(59));
        assert_eq!(
            m.user_properties,
            [("k".into(), "v".into()), ("k".into(), "v2".into())]
        );
        assert_eq!(p.connect.unwrap().receive_maximum, Some(10));
    }

    #[test]
    fn wrong_packet_range_and_arity_are_refused() {
        for bad in [
            words(&["connect", "topic-alias", "1"]),
            words(&["publish", "subscription-identifier", "1"]),
            words(&["connect", "will-delay-interval", "1"]),
            words(&["publish", "payload-format-indicator", "2"]),
            words(&["connect", "receive-maximum", "65536"]),
            words(&["connect", "receive-maximum", "-1"]),
            words(&["publish", "user-property", "k"]),
            words(&["publish", "content-type", "a", "b"]),
            words(&["subscribe", "user-property", "k", "v"]),
            words(&["puback", "reason-string", "x"]),
            words(&["nonsense", "x", "y"]),
        ] {
            assert!(
                V5Props::parse(std::slice::from_ref(&bad), PUB).is_err(),
                "{bad:?}"
            );
        }
    }

    /// Found by the `property` fuzz target: the Will's response topic went out unchecked
    /// (empty, or with wildcards) while PUBLISH's was refused.
    #[test]
    fn response_topics_are_topic_names_in_the_will_too() {
        for cmd in ["publish", "will"] {
            for bad in ["", "a/+", "a/#"] {
                let group = words(&[cmd, "response-topic", bad]);
                let err = V5Props::parse(&[group], PUB).unwrap_err();
                assert!(err.to_string().contains("-D response-topic"), "{err}");
            }
            let ok = words(&[cmd, "response-topic", "replies/me"]);
            assert!(V5Props::parse(&[ok], PUB).is_ok());
        }
    }
}
