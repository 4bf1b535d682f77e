//! MQTT over WebSockets (ws and wss) against amqtt, with -L URLs and with --ws -h -p.
//! Receivers: mosquitto_sub on amqtt's plain TCP listener, and `mqtk sub` over ws.

use std::process::Output;
use std::time::Duration;

use crate::support::amqtt::AmqttBroker;
use crate::support::{
    MosquittoSub, MqtkChild, Pki, cmd, status_and_stderr, unique_id, unique_topic,
};

fn mqtk_pub(args: &[&str], msg: &str) -> Output {
    cmd()
        .args(["pub", "-i", &unique_id("wspub"), "-q", "1", "-m", msg])
        .args(args)
        .output()
        .unwrap()
}

fn assert_ok(out: &Output) {
    let (code, err) = status_and_stderr(out);
    assert_eq!(code, Some(0), "{err}");
}

fn subscriber(broker: &AmqttBroker, topic: &str) -> MosquittoSub {
    let port = broker.port.to_string();
    let filter = format!("{topic}/#");
    let id = unique_id("wssub");
    MosquittoSub::start_with_args(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        &filter,
        "-v",
        "-q",
        "1",
        "-i",
        &id,
    ])
}

#[test]
fn ws_urls_and_the_ws_flag_round_trip() {
    let broker = AmqttBroker::start(None);
    let topic = unique_topic("ws");
    let sub = subscriber(&broker, &topic);
    // As mosquitto 2.1: the URL's path is the topic, the WebSocket path is /mqtt.
    let url = format!("ws://127.0.0.1:{}/{topic}/url", broker.ws_port);
    assert_ok(&mqtk_pub(&["-L", &url], "by url"));
    let port = broker.ws_port.to_string();
    let by_flag = format!("{topic}/flag");
    assert_ok(&mqtk_pub(
        &["--ws", "-h", "127.0.0.1", "-p", &port, "-t", &by_flag],
        "by flag",
    ));
    assert_ok(&mqtk_pub(
        &[
            "--ws",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "--ws-path",
            "/other",
            "-t",
            &by_flag,
        ],
        "other path",
    ));
    assert_eq!(
        sub.take(3, Duration::from_secs(10)),
        [
            format!("{topic}/url by url"),
            format!("{topic}/flag by flag"),
            format!("{topic}/flag other path"),
        ]
    );
}

#[test]
fn wss_uses_the_same_tls_options() {
    let pki = Pki::new(&["--host", "localhost"]);
    let (cert, key) = (pki.path("server.crt"), pki.path("server.key"));
    let broker = AmqttBroker::start(Some((&cert, &key)));
    let wss = broker.wss_port.unwrap();
    let topic = unique_topic("wss");
    let sub = subscriber(&broker, &topic);
    let ca = pki.ca();
    let url = format!("wss://localhost:{wss}/{topic}/url");
    assert_ok(&mqtk_pub(&["-L", &url, "--cafile", &ca], "by url"));
    let port = wss.to_string();
    let by_flag = format!("{topic}/flag");
    assert_ok(&mqtk_pub(
        &[
            "--ws",
            "-h",
            "localhost",
            "-p",
            &port,
            "--cafile",
            &ca,
            "-t",
            &by_flag,
        ],
        "by flag",
    ));
    // The name check applies to wss too, and --insecure skips it there too.
    let by_ip = format!("wss://127.0.0.1:{wss}/{topic}/ip");
    let out = mqtk_pub(&["-L", &by_ip, "--cafile", &ca], "x");
    let (code, err) = status_and_stderr(&out);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("certificate not valid for name 127.0.0.1"),
        "{err}"
    );
    assert_ok(&mqtk_pub(
        &["-L", &by_ip, "--cafile", &ca, "--insecure"],
        "insecure",
    ));
    // wss:// without --cafile trusts the OS store, which does not know this CA.
    let out = cmd()
        .env("SSL_CERT_FILE", Pki::new(&[]).ca())
        .args(["pub", "-L", &url, "-m", "x"])
        .output()
        .unwrap();
    let (code, err) = status_and_stderr(&out);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("not signed by a trusted CA"), "{err}");
    assert_eq!(
        sub.take(3, Duration::from_secs(10)),
        [
            format!("{topic}/url by url"),
            format!("{topic}/flag by flag"),
            format!("{topic}/ip insecure"),
        ]
    );
}

#[test]
fn ws_mistakes_are_explained() {
    let pki = Pki::new(&["--host", "localhost"]);
    let (cert, key) = (pki.path("server.crt"), pki.path("server.key"));
    let broker = AmqttBroker::start(Some((&cert, &key)));
    // Plain ws to the wss port, and wss to the plain ws port.
    let url = format!("ws://127.0.0.1:{}/t", broker.wss_port.unwrap());
    let out = mqtk_pub(&["-L", &url], "x");
    let (code, err) = status_and_stderr(&out);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("hint: "), "{err}");
    let url = format!("wss://localhost:{}/t", broker.ws_port);
    let out = mqtk_pub(&["-L", &url, "--cafile", &pki.ca()], "x");
    let (code, err) = status_and_stderr(&out);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("TLS"), "{err}");
    // --ws with an mqtt:// URL is a contradiction, refused before connecting.
    let out = mqtk_pub(&["-L", "mqtt://127.0.0.1:1/t", "--ws"], "x");
    let (code, err) = status_and_stderr(&out);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--ws does not go with an mqtt:// or mqtts:// URL"),
        "{err}"
    );
}

#[test]
fn mqtk_sub_receives_over_ws() {
    let broker = AmqttBroker::start(None);
    let topic = unique_topic("wssub");
    let port = broker.ws_port.to_string();
    let sub = MqtkChild::subscribed(&[
        "sub",
        "--ws",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        &topic,
        "-q",
        "1",
        "-v",
    ]);
    let tcp = broker.port.to_string();
    let status = std::process::Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &tcp,
            "-t",
            &topic,
            "-m",
            "over tcp",
            "-q",
            "1",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        sub.wait_lines(1, Duration::from_secs(10)),
        [format!("{topic} over tcp")]
    );
}
