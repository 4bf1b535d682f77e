//! mqtk: a mosquitto-style MQTT toolkit, as a library. The binary (`src/main.rs`) parses the
//! command line with [`cli`], runs a [`cmd`], and turns the outcome into an exit code with
//! [`exit::classify`].
//!
//! Public are the command entry points and the pure cores that work without a broker: the
//! output formatter ([`format`]), the password-file codec ([`pwfile`]), topic names and filters
//! ([`topic`]), the `-L` URL and `-D` property parsers ([`conn`]) and the exit-code table
//! ([`exit`]). Everything else is internal to the crate.

pub mod cli;
pub mod cmd;
pub mod conn;
pub mod exit;
pub mod format;
pub(crate) mod pki;
pub(crate) mod profile;
pub mod pwfile;
pub mod topic;
pub(crate) mod tty;
