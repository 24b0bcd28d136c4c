#!/usr/bin/env python3
"""Publish-to-delivery latency and deliveries with N stream subscribers on one channel:
gripway, Pushpin 1.36 stock, and Pushpin with its message_rate raised, in one run
(`gripway-stock` runs gripway with Pushpin's shipped message_rate/message_hwm).

Each server runs pinned to core 0 on loopback with the built-in `test` route; the load generator
(bench/loadgen) runs pinned to core 1, holds N streams on /stream?channel=bench, publishes M
timestamped messages through the HTTP publish API and reports deliveries and latency. Every
server is stopped after its run.

    bench/fanout.py [--streams 10000] [--messages 20] [--interval-ms 500] [--servers gripway,gripway-stock,pushpin,pushpin-raised] [--chain]
"""

import argparse
import subprocess
import time

import benchlib
from benchlib import ROOT


STARTERS = {
    "gripway": lambda: benchlib.start_gripway(18720, 18721, ["* test"], core=0),
    # Pushpin's shipped limits, which gripway's embedded default config also has.
    "gripway-stock": lambda: benchlib.start_gripway(
        18730, 18731, ["* test"], core=0, handler={"message_rate": 2500, "message_hwm": 25000}),
    "pushpin": lambda: benchlib.start_pushpin(510, ["* test"], core=0),
    "pushpin-raised": lambda: benchlib.start_pushpin(
        520, ["* test"], core=0, settings={"message_rate": "1000000", "message_hwm": "1000000"}),
}


def run(name, a):
    server = STARTERS[name]()
    try:
        out = benchlib.loadgen(server, ["--publish", f"127.0.0.1:{server.publish}",
                                        "--streams", a.streams, "--messages", a.messages,
                                        "--interval-ms", a.interval_ms, "--drain-secs", a.drain_secs]
                               + (["--chain"] if a.chain else []))
    finally:
        server.stop()
        time.sleep(2)
    return name, out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=10000)
    p.add_argument("--messages", type=int, default=20)
    p.add_argument("--interval-ms", type=int, default=500)
    p.add_argument("--drain-secs", type=int, default=30)
    p.add_argument("--servers", default="gripway,pushpin-raised,pushpin")
    p.add_argument("--chain", action="store_true",
                   help="chain the messages with id/prev-id, so servers sequence them")
    a = p.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "gripway", "-p", "gripway-loadgen"], cwd=ROOT, check=True)
    for name in a.servers.split(","):
        name, out = run(name, a)
        chained = ", chained id/prev-id" if a.chain else ""
        print(f"== {name} ({a.streams} streams, {a.messages} messages every {a.interval_ms} ms{chained})")
        print(out.strip())


if __name__ == "__main__":
    main()
