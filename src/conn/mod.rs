//! The one door to the network: shared flags become a validated `ConnConfig`, and a `Session`
//! owns one connection with its delivery guarantees.
//!
//! `packet.rs` is the vocabulary the commands and the session share (messages, subscriptions,
//! acks, reason codes). The session is ours: its rules without I/O in `state.rs`, one driver
//! task per connection in `driver.rs`, the byte streams (TCP, TLS, WebSockets, unix sockets) in
//! `transport.rs`, and rumqttc's packet codec behind `codec.rs`, the only use of that crate
//! besides the property types in `packet.rs` and `props.rs`. `tls.rs` builds the rustls
//! configuration.

pub mod codec;
mod config;
pub mod driver;
pub mod link;
pub mod packet;
mod props;
mod session;
pub mod state;
mod tls;
pub mod transport;

pub use config::{Scheme, Url, parse_url};
pub use props::{PropCommand, V5Props};

pub use config::{ConnConfig, Defaults};
pub use packet::{
    AckToken, Incoming, MAX_PACKET, Message, Reason, SubCode, Subscription, Will, check_size,
    max_payload,
};
pub use session::{Event, Options, Session};
