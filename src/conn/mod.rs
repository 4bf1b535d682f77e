//! The one module that talks to rumqttc (and, for TLS, rustls): shared flags become a
//! validated `ConnConfig`, and a `Session` owns one connection with its delivery guarantees.
//! A later change of MQTT library touches this module only.

mod config;
mod props;
mod session;
mod tls;
mod wire;

pub use config::{ConnConfig, Defaults, validate_topic_name};
pub use props::PropCommand;
// The subscriber side (events, subscriptions) is used by `sub` and `rr`.
#[allow(unused_imports)]
pub use session::{Event, Message, Session, Subscription, max_payload};
#[allow(unused_imports)]
pub use wire::{Incoming, Reason, SubCode};
