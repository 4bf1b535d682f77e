//! What the commands and the session say to each other about MQTT packets, independent of the
//! MQTT library: messages to publish, subscriptions, received messages and their acks, reason
//! codes, the Will, and the packet-size limits.

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::PublishProperties;

use crate::cli::Protocol;
use crate::exit::{self, Failure};

/// The largest remaining length an MQTT packet can declare (four-byte variable integer).
pub const MAX_PACKET: usize = 268_435_455;

/// A message to publish.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    /// v5 response topic and correlation data (request/response), on top of -D publish ones.
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
}

impl Message {
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>, qos: u8, retain: bool) -> Self {
        Message {
            topic: topic.into(),
            payload: payload.into(),
            qos,
            retain,
            response_topic: None,
            correlation_data: None,
        }
    }
}

/// A subscription, restored after every reconnect that lost the session.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub filter: String,
    pub qos: u8,
    pub no_local: bool,
    pub retain_as_published: bool,
    /// 0 = send retained messages, 1 = only for new subscriptions, 2 = never.
    pub retain_handling: u8,
}

/// The Will: published by the broker if the connection ends without a DISCONNECT.
#[derive(Debug, Clone)]
pub struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
}

/// An incoming PUBLISH.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub pkid: u16,
    /// v5 only (the codec's property set).
    pub properties: Option<PublishProperties>,
    /// The connection it arrived on (set by the session).
    pub generation: u64,
}

impl Incoming {
    pub fn ack_token(&self) -> AckToken {
        AckToken {
            pkid: self.pkid,
            qos: self.qos,
            generation: self.generation,
        }
    }

    /// The v5 correlation data, for matching a response to its request.
    pub fn correlation_data(&self) -> Option<&[u8]> {
        self.properties.as_ref()?.correlation_data.as_deref()
    }
}

/// What acknowledging an incoming message takes, without holding on to its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckToken {
    pub pkid: u16,
    pub qos: u8,
    /// Which connection it came on: an ack belongs to that connection only.
    pub generation: u64,
}

/// A v5 reason code with its name in words ("not authorized").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: u8,
    pub text: String,
}

/// One entry of a SUBACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubCode {
    Granted(u8),
    Refused(Reason),
}

/// A CamelCase name (of a reason code, a TLS alert) in words: `NotAuthorized` →
/// `not authorized`.
pub fn words(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The largest payload a PUBLISH to `topic` can carry: the packet's remaining length is capped
/// at 268 435 455 bytes, and the topic, packet id and v5 property length count against it.
pub fn max_payload(topic: &str, qos: u8, protocol: Protocol) -> usize {
    let overhead = 2
        + topic.len()
        + if qos > 0 { 2 } else { 0 }
        + match protocol {
            Protocol::V5 => 16,
            Protocol::V311 => 0,
        };
    MAX_PACKET.saturating_sub(overhead)
}

/// A usage error when `msg` does not fit in one PUBLISH.
pub fn check_size(msg: &Message, protocol: Protocol) -> Result<(), Failure> {
    let max = max_payload(&msg.topic, msg.qos, protocol);
    if msg.payload.len() > max {
        return Err(exit::usage(format!(
            "the payload is {} bytes; MQTT allows at most {max} with this topic",
            msg.payload.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_words() {
        assert_eq!(words("NotAuthorized"), "not authorized");
        assert_eq!(words("BadUserNamePassword"), "bad user name password");
    }
}
