//! Integration tests: the built `mqtk` binary against a real mosquitto started per test.
//! One crate (one link step); each module covers one command.

mod support;

// `mqtk certgen`: certificates that OpenSSL verifies and a real mosquitto serves TLS with.
mod certgen;

// `mqtk generate`: the checked-in completions and man pages are current.
mod docs;

// `mqtk passwd`: files mosquitto accepts, mosquitto_passwd interop, bad input changes nothing.
mod passwd;

// tests/support itself: brokers start, restart and are reachable.
mod harness;

// `mqtk sub`: every option against mosquitto, output formats, SUBACK refusals, signals, restarts.
mod subscribe;

// `mqtk rr`: request/response round trips on v5 and 3.1.1, timeouts and refusals.
mod request;
