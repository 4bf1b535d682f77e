//! The harness itself: a broker starts, restarts, and a mosquitto client can reach it.

use std::process::Command;
use std::time::Duration;

use crate::support::subscriber::Subscriber;
use crate::support::{Broker, BrokerConfig, MosquittoSub, unique_topic};

#[test]
fn broker_starts_and_delivers_between_mosquitto_clients() {
    let broker = Broker::start(BrokerConfig::plain());
    let topic = unique_topic("harness");
    let sub = Subscriber::start(&broker, &topic, 1);
    let msub = MosquittoSub::start(&broker, &["-t", &topic, "-q", "1"]);
    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-t",
            &topic,
            "-m",
            "hi",
        ])
        .args(["-q", "1"])
        .status()
        .unwrap();
    assert!(status.success());
    let got = sub.take(1, Duration::from_secs(10));
    assert_eq!(got[0].payload, b"hi");
    assert_eq!(msub.take(1, Duration::from_secs(10)), ["hi"]);
}

#[test]
fn broker_restarts_on_the_same_port() {
    let mut broker = Broker::start(BrokerConfig::plain().persistent());
    let port = broker.port;
    broker.restart();
    assert_eq!(broker.port, port);
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("listening again");
}
