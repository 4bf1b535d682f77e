//! The one door to the network: shared flags become a validated `ConnConfig`, and a `Session`
//! owns one connection with its delivery guarantees — our own session state (`state.rs`) and
//! driver (`driver.rs`) on rumqttc's packet codec (`codec.rs`, the only use of rumqttc), over
//! TCP, TLS, WebSockets or a unix socket (`transport.rs`).

pub mod codec;
mod config;
pub mod driver;
mod packet;
mod props;
mod session;
pub mod state;
mod tls;
pub mod transport;

pub use config::{ConnConfig, Defaults, topic_matches, validate_topic_filter, validate_topic_name};
pub use packet::{
    AckToken, Incoming, Message, Reason, SubCode, Subscription, Will, check_size, max_payload,
};
pub use props::PropCommand;
pub use session::{Event, Options, Session};
