#!/usr/bin/env python3
"""Publish-to-delivery latency and deliveries with N stream subscribers on one channel:
gripway, Pushpin 1.36 stock, and Pushpin with its message_rate raised, in one run.

Each server runs pinned to core 0 on loopback with the built-in `test` route; the load generator
(bench/loadgen) runs pinned to core 1, holds N streams on /stream?channel=bench, publishes M
timestamped messages through the HTTP publish API and reports deliveries and latency. Every
server is stopped after its run.

    bench/fanout.py [--streams 10000] [--messages 20] [--interval-ms 500] [--servers gripway,pushpin,pushpin-raised]
"""

import argparse
import os
import re
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def wait_port(port, timeout=15):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port}")


def start_gripway():
    conf = Path("/tmp/gripway-fanout.conf")
    conf.write_text("[handler]\npush_in_http_addr=127.0.0.1\npush_in_http_port=18721\n[runner]\nclient_maxconn=60000\n")
    proc = subprocess.Popen(
        ["taskset", "-c", "0", str(ROOT / "target/release/gripway"), "--config", str(conf),
         "--port", "18720", "--route", "* test", "--loglevel", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_port(18720)
    wait_port(18721)
    return (18720, 18721), lambda: os.killpg(proc.pid, signal.SIGTERM)


def start_pushpin(raised):
    offset = 520 if raised else 510
    out = subprocess.run([str(SHARED / "tools/reference-pushpin"), "--offset", str(offset), "--route", "* test"],
                         capture_output=True, text=True, check=True).stdout
    pid = int(re.search(r"pid=(\d+)", out).group(1))
    rundir = Path(re.search(r"dir=(\S+)", out).group(1))
    os.killpg(os.getpgid(pid), signal.SIGTERM)
    time.sleep(2)
    conf = rundir / "pushpin.conf"
    text = conf.read_text()
    if raised:
        text = re.sub(r"^message_rate=.*$", "message_rate=1000000", text, flags=re.M)
        text = re.sub(r"^message_hwm=.*$", "message_hwm=1000000", text, flags=re.M)
    conf.write_text(text)
    proc = subprocess.Popen(["taskset", "-c", "0", "pushpin", "--config", str(conf), "-m"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    client, publish = 7999 + offset, 5561 + offset
    wait_port(client)
    wait_port(publish)
    time.sleep(2)
    return (client, publish), lambda: os.killpg(proc.pid, signal.SIGTERM)


def run(name, start, a):
    (client, publish), stop = start()
    try:
        out = subprocess.run(
            ["taskset", "-c", "1", str(ROOT / "target/release/loadgen"),
             "--client", f"127.0.0.1:{client}", "--publish", f"127.0.0.1:{publish}",
             "--streams", str(a.streams), "--messages", str(a.messages),
             "--interval-ms", str(a.interval_ms), "--drain-secs", str(a.drain_secs)],
            capture_output=True, text=True, timeout=600).stdout
    finally:
        stop()
        time.sleep(2)
    return name, out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=10000)
    p.add_argument("--messages", type=int, default=20)
    p.add_argument("--interval-ms", type=int, default=500)
    p.add_argument("--drain-secs", type=int, default=30)
    p.add_argument("--servers", default="gripway,pushpin-raised,pushpin")
    a = p.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "gripway", "-p", "gripway-loadgen"], cwd=ROOT, check=True)
    starters = {"gripway": start_gripway, "pushpin": lambda: start_pushpin(False),
                "pushpin-raised": lambda: start_pushpin(True)}
    for name in a.servers.split(","):
        name, out = run(name, starters[name], a)
        print(f"== {name} ({a.streams} streams, {a.messages} messages every {a.interval_ms} ms)")
        print(out.strip())


if __name__ == "__main__":
    main()
