//! amqtt (PyPI) as a WebSocket broker: Debian's mosquitto 2.0 has no WebSocket listener.
//! `AmqttBroker::start` runs `amqtt -c config.yaml` with a plain TCP listener (for the test
//! subscriber), a ws listener and, given a certificate, a wss listener, each on a free
//! 127.0.0.1 port; it returns once all of them accept connections and kills amqtt on drop.

use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::free_port;

pub struct AmqttBroker {
    /// Plain MQTT over TCP.
    pub port: u16,
    pub ws_port: u16,
    /// Set when started with a certificate.
    pub wss_port: Option<u16>,
    child: Child,
    log: Arc<Mutex<Vec<u8>>>,
    _dir: TempDir,
}

impl AmqttBroker {
    /// `tls`: the server certificate and key for the wss listener (PEM paths).
    pub fn start(tls: Option<(&str, &str)>) -> AmqttBroker {
        let dir = tempfile::tempdir().unwrap();
        let (port, ws_port) = (free_port(), free_port());
        let wss_port = tls.map(|_| free_port());
        let mut yaml = format!(
            "listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\n  \
             ws:\n    type: ws\n    bind: 127.0.0.1:{ws_port}\n"
        );
        if let (Some((cert, key)), Some(p)) = (tls, wss_port) {
            yaml.push_str(&format!(
                "  wss:\n    type: ws\n    bind: 127.0.0.1:{p}\n    ssl: true\n    \
                 certfile: {cert}\n    keyfile: {key}\n"
            ));
        }
        yaml.push_str(
            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    \
             allow_anonymous: true\n",
        );
        let conf = dir.path().join("amqtt.yaml");
        fs::write(&conf, yaml).unwrap();
        let mut child = Command::new("amqtt")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start amqtt ({e}): the WebSocket tests need it.\n\
                     Install it with `pip install amqtt` (Python 3.10+)."
                )
            });
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut b = AmqttBroker {
            port,
            ws_port,
            wss_port,
            child,
            log,
            _dir: dir,
        };
        let ports: Vec<u16> = [Some(port), Some(ws_port), wss_port]
            .into_iter()
            .flatten()
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = b.child.try_wait().unwrap() {
                panic!("amqtt exited with {status}:\n{}", b.log());
            }
            if ports
                .iter()
                .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
            {
                return b;
            }
            assert!(
                Instant::now() < deadline,
                "amqtt never listened on {ports:?}:\n{}",
                b.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }
}

impl Drop for AmqttBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("---- amqtt log ----\n{}", self.log());
        }
    }
}
