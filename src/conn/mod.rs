//! Everything about talking to a broker: shared flags become a validated `ConnConfig`, and a
//! `Session` owns one connection with its delivery guarantees.
//!
//! `packet.rs` is the vocabulary the commands and the session share (messages, subscriptions,
//! acks, reason codes); `rumqtt.rs` is the one adapter that names the MQTT library's client
//! types, so a change of MQTT library touches that file (and the codec property types in
//! `packet.rs` and `props.rs`) only. `tls.rs` builds the rustls configuration.

mod config;
mod packet;
mod props;
mod rumqtt;
mod session;
mod tls;

pub use config::{Scheme, Url, parse_url};
pub use props::{PropCommand, V5Props};

pub(crate) use config::{ConnConfig, Defaults};
pub(crate) use packet::{AckToken, Incoming, Message, SubCode, Subscription, max_payload};
pub(crate) use session::{Event, Session};
