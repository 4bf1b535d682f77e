//! `mqtk rr` against a real mosquitto, with a responder on its own thread.

use std::thread;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::{Client, Event, MqttOptions};
use serde_json::Value;

use crate::support::{Broker, BrokerConfig, cmd, dynsec_broker, unique_id, unique_topic};

const LIMIT: Duration = Duration::from_secs(15);

/// Answers every request on `topic`: first with a decoy (a wrong correlation data), then with
/// `pong:<request>` and the request's own correlation data, to its response topic (or to
/// `fixed_reply` when the request has none, as on MQTT 3.1.1). Returns once subscribed.
fn responder(broker: &Broker, topic: &str, fixed_reply: Option<String>) {
    let mut opts = MqttOptions::new(unique_id("responder"), "127.0.0.1", broker.port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(opts, 100);
    client.subscribe(topic, QoS::AtLeastOnce).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for event in conn.iter() {
            let Ok(event) = event else { return };
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    let _ = ready_tx.send(());
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let props = p.properties.unwrap_or_default();
                    let Some(to) = props.response_topic.clone().or(fixed_reply.clone()) else {
                        continue;
                    };
                    let reply = |corr: Option<Bytes>, body: Vec<u8>| {
                        let props = PublishProperties {
                            correlation_data: corr,
                            user_properties: vec![("by".into(), "responder".into())],
                            ..Default::default()
                        };
                        client
                            .try_publish_with_properties(
                                to.clone(),
                                QoS::AtLeastOnce,
                                false,
                                body,
                                props,
                            )
                            .unwrap();
                    };
                    if props.correlation_data.is_some() {
                        reply(Some(Bytes::from_static(b"someone else")), b"decoy".to_vec());
                    }
                    let mut body = b"pong:".to_vec();
                    body.extend_from_slice(&p.payload);
                    reply(props.correlation_data.clone(), body);
                }
                _ => {}
            }
        }
    });
    ready_rx
        .recv_timeout(LIMIT)
        .expect("responder got no SUBACK");
}

fn rr(broker: &Broker, args: &[&str]) -> std::process::Output {
    cmd()
        .arg("rr")
        .args(broker.args())
        .args(args)
        .timeout(LIMIT)
        .output()
        .unwrap()
}

#[test]
fn round_trip_on_5_prints_only_the_matching_response() {
    let broker = Broker::start(BrokerConfig::plain());
    let req = unique_topic("rr/req");
    let resp = unique_topic("rr/resp");
    responder(&broker, &req, None);
    for qos in ["0", "1", "2"] {
        let out = rr(
            &broker,
            &["-t", &req, "-e", &resp, "-m", "ping", "-q", qos, "-v"],
        );
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{resp} pong:ping\n")
        );
    }
}

#[test]
fn round_trip_with_json_output_and_a_chosen_correlation_data() {
    let broker = Broker::start(BrokerConfig::plain());
    let req = unique_topic("rr/req");
    let resp = unique_topic("rr/resp");
    responder(&broker, &req, None);
    let out = rr(
        &broker,
        &[
            "-t",
            &req,
            "-e",
            &resp,
            "-m",
            "{\"want\":1}",
            "-D",
            "publish",
            "correlation-data",
            "abc123",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["topic"], resp.as_str());
    assert_eq!(v["payload"], "pong:{\"want\":1}");
    assert_eq!(v["properties"]["correlation-data"], "abc123");
    assert_eq!(
        v["properties"]["user-properties"],
        serde_json::json!([["by", "responder"]])
    );
}

#[test]
fn round_trip_on_311_without_properties() {
    let broker = Broker::start(BrokerConfig::plain());
    let req = unique_topic("rr/req");
    let resp = unique_topic("rr/resp");
    responder(&broker, &req, Some(resp.clone()));
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), b"from a file").unwrap();
    let out = rr(
        &broker,
        &[
            "-t",
            &req,
            "-e",
            &resp,
            "-f",
            f.path().to_str().unwrap(),
            "-V",
            "311",
            "-F",
            "%t|%p|%C",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{resp}|pong:from a file|\n")
    );
}

#[test]
fn no_response_times_out_with_27() {
    let broker = Broker::start(BrokerConfig::plain());
    let out = rr(
        &broker,
        &[
            "-t",
            &unique_topic("rr/none"),
            "-e",
            &unique_topic("rr/r"),
            "-n",
            "-W",
            "0.5",
        ],
    );
    assert_eq!(out.status.code(), Some(27));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "mqtk rr: error: timed out\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn refused_response_subscription_exits_5() {
    let broker = dynsec_broker();
    let out = rr(
        &broker,
        &[
            "-t",
            "allowed/req",
            "-e",
            &unique_topic("rr/r"),
            "-m",
            "x",
            "-W",
            "10",
        ],
    );
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused the subscription") && err.contains("0x87"),
        "{err}"
    );
}

#[test]
fn usage_errors_come_before_connecting() {
    for args in [
        &["-t", "a", "-e", "r/#", "-m", "x"][..],
        &["-t", "a/+", "-e", "r", "-m", "x"],
        &["-t", "a", "-e", "r"],
        &["-t", "a", "-m", "x"],
        &["-e", "r", "-m", "x"],
        &["-t", "a", "-e", "r", "-m", "x", "-n"],
        &[
            "-t",
            "a",
            "-e",
            "r",
            "-m",
            "x",
            "-D",
            "publish",
            "response-topic",
            "o",
        ],
        &[
            "-t",
            "a",
            "-e",
            "r",
            "-m",
            "x",
            "-D",
            "unsubscribe",
            "user-property",
            "k",
            "v",
        ],
        &["-t", "a", "-e", "r", "-m", "x", "-F", "%"],
        &["-t", "a", "-e", "r", "-l"],
    ] {
        cmd()
            .args(["rr", "-h", "127.0.0.1", "-p", "1"])
            .args(args)
            .assert()
            .code(2);
    }
}
