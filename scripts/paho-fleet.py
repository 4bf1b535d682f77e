#!/usr/bin/env python3
"""The lesson's paho-mqtt device, run as a fleet: the peer `scripts/bench` puts beside `mqtk sim`.

Each device is what the lesson's publisher does, one paho client per device with its own
network thread (`loop_start`) and one thread running the lesson's publish loop: a retained QoS 1
Last Will on <prefix>/<id>/status, a retained "online" status, then QoS 1 telemetry
(device, temp, hum, seq) every INTERVAL seconds, each publish waited for (`wait_for_publish`).

    paho-fleet.py HOST PORT DEVICES SECONDS INTERVAL PREFIX

Prints one JSON object: devices asked for, connected (CONNACK 0 seen), online_s (seconds until
the last device connected, or null when not all did), published, acked, errors, elapsed_s
and the paho-mqtt version.
"""

import json
import random
import sys
import threading
import time

import paho.mqtt
import paho.mqtt.client as mqtt

host, port, devices, seconds, interval, prefix = sys.argv[1:7]
port, devices, seconds, interval = int(port), int(devices), float(seconds), float(interval)

lock = threading.Lock()
counts = {"connected": 0, "published": 0, "acked": 0, "errors": 0}
last_connect = [None]
start = time.monotonic()
stop = start + seconds


def bump(key, n=1):
    with lock:
        counts[key] += n


def device(n):
    cid = f"sensor-{n:04}"
    status = f"{prefix}/{cid}/status"
    connected = threading.Event()

    def on_connect(client, userdata, flags, rc):
        if rc == 0:
            with lock:
                counts["connected"] += 1
                last_connect[0] = time.monotonic()
            connected.set()

    if hasattr(mqtt, "CallbackAPIVersion"):
        # paho-mqtt 2 refuses a client without a callback API version; VERSION1 keeps the
        # lesson's callbacks as written.
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=cid)
    else:
        c = mqtt.Client(client_id=cid)
    c.on_connect = on_connect
    c.will_set(status, json.dumps({"status": "offline", "id": cid}), qos=1, retain=True)
    try:
        c.connect(host, port, keepalive=60)
        c.loop_start()
    except Exception:
        bump("errors")
        return
    if not connected.wait(max(0.0, stop - time.monotonic())):
        c.loop_stop()
        return
    c.publish(status, json.dumps({"status": "online", "id": cid}), qos=1, retain=True)
    seq = 0
    while time.monotonic() < stop:
        payload = json.dumps({
            "device": cid,
            "temp": round(22 + random.gauss(0, 1), 1),
            "hum": round(50 + random.gauss(0, 5), 1),
            "seq": seq,
        })
        bump("published")
        r = c.publish(f"{prefix}/{cid}/telemetry", payload, qos=1)
        try:
            r.wait_for_publish(timeout=max(0.1, stop - time.monotonic()))
        except Exception:
            bump("errors")
            break
        if r.is_published():
            bump("acked")
        seq += 1
        time.sleep(interval)
    c.publish(status, json.dumps({"status": "offline", "id": cid}), qos=1, retain=True)
    c.disconnect()
    c.loop_stop()


threads = [threading.Thread(target=device, args=(n,), daemon=True) for n in range(devices)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=max(0.0, stop + 5 - time.monotonic()))
elapsed = time.monotonic() - start
online = None
if counts["connected"] == devices and last_connect[0] is not None:
    online = round(last_connect[0] - start, 3)
print(json.dumps({
    "devices": devices,
    "connected": counts["connected"],
    "online_s": online,
    "published": counts["published"],
    "acked": counts["acked"],
    "errors": counts["errors"],
    "elapsed_s": round(min(elapsed, seconds), 3),
    "paho": paho.mqtt.__version__,
}))
