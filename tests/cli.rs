//! Integration tests: the built `mqtk` binary against a real mosquitto started per test.
//! One crate (one link step); each module covers one command.
//!
//! Unix only: the tests drive mosquitto, pseudo-terminals, signals, file modes and symlinks.
#![cfg(unix)]

mod support;

// `mqtk certgen`: certificates that OpenSSL verifies and a real mosquitto serves TLS with.
mod certgen;

// `mqtk generate`: the checked-in completions and man pages are current and load; every mqtk
// command line in the README parses.
mod docs;

// `mqtk passwd`: files mosquitto accepts, mosquitto_passwd interop, bad input changes nothing.
mod passwd;

// Password sources (prompt, env, file, argv), wrong passwords, and the seed's ACL challenge.
mod auth;

// TLS and mutual TLS with certgen's certificates: what connects, exit 3 causes in words,
// bad certificate files refused with exit 2 before connecting.
mod tls;

// MQTT over ws and wss against amqtt (Debian's mosquitto has no WebSocket listener).
mod websocket;

// The README's lesson (every seed exercise and the ACL challenge), run as written.
mod walkthrough;

// tests/support itself: brokers start, restart and are reachable.
mod harness;

// Where values come from: words that start with '-', MQTK_* variables, --profile; no password
// in errors, traces, --help or argv.
mod env;

// `mqtk pub`: sources, QoS, retain, wills, properties, line mode, reconnects, exit codes.
mod publish;

// `mqtk sub`: every option against mosquitto, output formats, SUBACK refusals, signals, restarts.
mod subscribe;

// `mqtk rr`: request/response round trips on v5 and 3.1.1, timeouts and refusals.
mod request;

// Bad input, a table per command: one error line, the documented exit code, nothing sent to
// the broker and no file changed.
mod bad_input;

// The fuzz targets' checks on the inputs kept under tests/fuzz_regressions/.
mod fuzz_replay;

// The library target used from outside the crate: topics, -F, -L and -D without a broker.
mod lib_api;

// `mqtk sim`: the device contract end to end, seeds and shards, --fail-if and --report, a broker
// restart, a thousand devices, TLS and passwords, chaos, limits, and the deployment files.
mod sim;

// Delivery guarantees under faults: resets at a chosen packet through a proxy, a frozen or
// restarted broker, a scripted broker, full pipes and signals.
mod faults;
