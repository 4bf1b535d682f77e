//! A subscriber for tests, built on rumqttc (v5, so it sees properties), on its own thread.
//! `Subscriber::start` returns only after the broker's SUBACK, so no test has to sleep.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::{Client, Event, MqttOptions};

use super::{Broker, unique_id};

#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub properties: Option<PublishProperties>,
}

pub struct Subscriber {
    client: Client,
    rx: mpsc::Receiver<Received>,
}

impl Subscriber {
    pub fn start(broker: &Broker, filter: &str, qos: u8) -> Subscriber {
        Subscriber::start_with(broker, filter, qos, |_| {})
    }

    /// `configure` can set credentials etc. on the options before connecting.
    pub fn start_with(
        broker: &Broker,
        filter: &str,
        qos: u8,
        configure: impl FnOnce(&mut MqttOptions),
    ) -> Subscriber {
        Subscriber::spawn(broker, filter, qos, &unique_id("testsub"), false, configure)
    }

    /// A subscriber with a persistent session (fixed id, clean start off) that reconnects when
    /// the broker restarts, so messages queued for it while it was away still arrive.
    pub fn start_persistent(broker: &Broker, filter: &str, qos: u8, id: &str) -> Subscriber {
        Subscriber::spawn(broker, filter, qos, id, true, |o| {
            o.set_clean_start(false);
            o.set_session_expiry_interval(Some(600));
        })
    }

    fn spawn(
        broker: &Broker,
        filter: &str,
        qos: u8,
        id: &str,
        reconnect: bool,
        configure: impl FnOnce(&mut MqttOptions),
    ) -> Subscriber {
        let mut opts = MqttOptions::new(id, "127.0.0.1", broker.port);
        opts.set_max_packet_size(Some(300 * 1024 * 1024));
        opts.set_keep_alive(Duration::from_secs(30));
        configure(&mut opts);
        let (client, mut conn) = Client::new(opts, 1000);
        let qos = match qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        client.subscribe(filter, qos).unwrap();
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for event in conn.iter() {
                match event {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(Ok(()));
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let msg = Received {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            payload: p.payload.to_vec(),
                            qos: p.qos as u8,
                            retain: p.retain,
                            properties: p.properties,
                        };
                        if tx.send(msg).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(Err(e.to_string()));
                            return;
                        }
                        if !reconnect {
                            return;
                        }
                        // rumqttc reconnects on the next iteration; don't spin while it's down.
                        thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("test subscriber could not connect: {e}"),
            Err(_) => panic!("test subscriber got no SUBACK"),
        }
        Subscriber { client, rx }
    }

    /// The next `n` messages, or panics after `limit`.
    pub fn take(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(m) => out.push(m),
                Err(_) => panic!("received {} of {n} messages", out.len()),
            }
        }
        out
    }

    /// Asserts that nothing arrives within `quiet`.
    pub fn assert_nothing(&self, quiet: Duration) {
        if let Ok(m) = self.rx.recv_timeout(quiet) {
            panic!("expected no message, got {m:?}");
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
    }
}
