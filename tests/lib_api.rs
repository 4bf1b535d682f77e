//! The library target from outside the crate: the pure cores a bench, a fuzz target or another
//! program can call without a broker.

use std::time::SystemTime;

use mqtk::format::{FormatError, Message, Output, OutputSpec};
use mqtk::topic::{topic_matches, validate_topic_filter, validate_topic_name};

#[test]
fn topic_functions_are_public() {
    assert!(topic_matches("home/+/temp", "home/kitchen/temp"));
    assert!(topic_matches("home/#", "home"));
    assert!(!topic_matches("#", "$SYS/broker/uptime"));
    assert!(validate_topic_filter("home/+/temp").is_ok());
    assert!(validate_topic_name("home/+/temp").is_err());
}

#[test]
fn format_strings_parse_and_render() {
    let out = Output::new(OutputSpec {
        format_string: Some("%t: %p (%l bytes, q%q r%r)"),
        no_newline: true,
        ..Default::default()
    })
    .unwrap();
    let msg = Message {
        topic: "home/kitchen/temp",
        payload: b"21.5",
        qos: 1,
        retain: true,
        mid: 7,
        properties: None,
        received: SystemTime::UNIX_EPOCH,
    };
    let mut buf = Vec::new();
    out.write(&msg, &mut buf).unwrap();
    assert_eq!(buf, b"home/kitchen/temp: 21.5 (4 bytes, q1 r1)");

    let bad = Output::new(OutputSpec {
        format_string: Some("%t %"),
        ..Default::default()
    });
    assert!(matches!(bad, Err(FormatError::IncompleteSpecifier { .. })));
}

#[test]
fn url_and_property_parsers_are_public() {
    let url = mqtk::conn::parse_url("mqtts://sensor:pw@broker.lan/home/temp").unwrap();
    assert_eq!(url.scheme, mqtk::conn::Scheme::Mqtts);
    assert_eq!(url.host, "broker.lan");
    assert_eq!(url.topic.as_deref(), Some("home/temp"));

    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let props = mqtk::conn::V5Props::parse(
        &[words(&["publish", "content-type", "text/plain"])],
        &[mqtk::conn::PropCommand::Publish],
    )
    .unwrap();
    assert_eq!(
        props.publish.unwrap().content_type.as_deref(),
        Some("text/plain")
    );
}
