//! The one module that talks to rumqttc (and, for TLS, rustls): shared flags become a
//! validated `ConnConfig`, and a `Session` owns one connection with its delivery guarantees.
//! A later change of MQTT library touches this module only.

mod config;
mod props;
mod session;
mod tls;
mod wire;

pub use config::{Scheme, Url, parse_url};
pub use props::{PropCommand, V5Props};

pub(crate) use config::{
    ConnConfig, Defaults, topic_matches, validate_topic_filter, validate_topic_name,
};
pub(crate) use session::{Event, Message, Session, Subscription, max_payload};
pub(crate) use wire::{AckToken, Incoming, SubCode};
