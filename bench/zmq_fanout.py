#!/usr/bin/env python3
"""Deliveries per second from the ZeroMQ PULL publish input (push_in_spec) to N stream
subscribers on one channel: gripway and Pushpin 1.36 in one run.

Each server runs pinned to core 0 on loopback with the built-in `test` route; the load generator
(bench/loadgen) runs pinned to core 1, holds N streams on /stream?channel=bench, connects a
ZeroMQ PUSH socket to the server's PULL input and pushes timestamped items (`J` + JSON) for
`--seconds`, as fast as the streams receive them: at most `--window` items in flight (pushed but
not yet received by every stream), fewer than the 100 items gripway queues per stream before it
drops for that stream. With `--burst`, it pushes `--messages` items at once instead: gripway reads
its PULL socket at once and drops past those 100, while Pushpin leaves the backlog in its ZeroMQ
queue and delivers nearly all.

Deliveries are counted at the subscribers; deliveries/s is what they received divided by the
time from the first push to the last delivery, and what has not arrived `--drain-secs` after the
last push is reported as missing. Every server is stopped after its run.

Handler limits: `gripway` runs without a message_rate (unlimited), as in bench/fanout.py;
`pushpin-raised` and `gripway-raised` run with message_rate=message_hwm=1000000; `pushpin` (stock)
with Pushpin's shipped message_rate=2500 and message_hwm=25000.

    bench/zmq_fanout.py [--streams 1000] [--seconds 5] [--window 50] [--burst --messages 2000]
                        [--servers gripway,gripway-raised,pushpin-raised,pushpin]
"""

import argparse
import os
import re
import sys
import time

import benchlib

RAISED = {"message_rate": "1000000", "message_hwm": "1000000"}
PUSHPIN_OFFSET = 850

STARTERS = {
    "gripway": lambda: benchlib.start_gripway(28200, 0, ["* test"], core=0, push_port=28202),
    "gripway-raised": lambda: benchlib.start_gripway(28210, 0, ["* test"], core=0, push_port=28212, handler=RAISED),
    "pushpin-raised": lambda: benchlib.start_pushpin(PUSHPIN_OFFSET, ["* test"], core=0, settings=RAISED),
    "pushpin": lambda: benchlib.start_pushpin(PUSHPIN_OFFSET, ["* test"], core=0),
}
LIMITS = {"gripway": "unlimited", "gripway-raised": "1M / 1M", "pushpin-raised": "1M / 1M",
          "pushpin": "2500 / 25000"}


def parse(out):
    """The numbers of a loadgen report (see bench/loadgen/src/main.rs)."""
    def num(pattern, group=1):
        m = re.search(pattern, out)
        return float(m.group(group)) if m else float("nan")
    return {
        "held": int(num(r"streams held: (\d+)/")),
        "got": int(num(r"deliveries: (\d+)/")),
        "expected": int(num(r"deliveries: \d+/(\d+)")),
        "p50": num(r"latency ms: p50 ([\d.]+)"),
        "p99": num(r"p99 ([\d.]+)"),
        "pushes": num(r"publishes/s: ([\d.]+)"),
        "stalls": int(num(r"window stalled (\d+) times")),
        "rate": num(r"deliveries/s to the last delivery: ([\d.]+)"),
        "last": num(r"last ([\d.]+) s after"),
    }


def run(name, a):
    server = STARTERS[name]()
    pids, cpu = {}, {}

    def on_line(line, loadgen_pid):
        # CPU time from the streams being held (1.5 s before the first push) to the end of the
        # wait for the last deliveries (before the loadgen sorts its latencies): nearly all of
        # it is spent between the first push and the last delivery.
        if line.startswith("streams held:"):
            pids.update(server=benchlib.descendants(server.pid), client=[loadgen_pid])
            cpu.update({k: -benchlib.cpu_seconds(v) for k, v in pids.items()})
            cpu["machine"] = -benchlib.machine_busy_seconds()
        elif line.startswith("published:"):
            cpu.update({k: cpu[k] + benchlib.cpu_seconds(v) for k, v in pids.items()})
            cpu["machine"] += benchlib.machine_busy_seconds()

    try:
        pacing = ["--messages", a.messages] if a.burst else \
            ["--messages", 10**9, "--window", a.window, "--publish-secs", a.seconds]
        out = benchlib.loadgen(server, ["--push", f"tcp://127.0.0.1:{server.push}", "--streams", a.streams,
                                        "--interval-ms", 0, "--drain-secs", a.drain_secs] + pacing,
                               on_line=on_line)
    finally:
        server.stop()
        time.sleep(2)
    row = dict(parse(out), server=name)
    for k in ("server", "client"):
        row[f"{k}_ms"] = cpu[k] * 1e6 / max(row["got"], 1)  # per 1,000 deliveries
        row[f"{k}_busy"] = cpu[k] / row["last"] if row["last"] > 0 else float("nan")
    others = cpu["machine"] - cpu["server"] - cpu["client"]
    row["others"] = others / row["last"] if row["last"] > 0 else float("nan")
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--seconds", type=int, default=5, help="how long to push")
    p.add_argument("--window", type=int, default=50, help="items in flight at most")
    p.add_argument("--burst", action="store_true", help="push --messages items at once instead")
    p.add_argument("--messages", type=int, default=2000, help="items in a --burst")
    p.add_argument("--drain-secs", type=int, default=20)
    p.add_argument("--servers", default="gripway,gripway-raised,pushpin-raised")
    a = p.parse_args()
    benchlib.require_binaries("gripway", "loadgen")
    load = os.getloadavg()[0]  # the machine is shared: a busy one skews everything below
    rows = [run(name, a) for name in a.servers.split(",")]
    print(f"(1-minute load average before the run: {load:.2f})")
    pacing = f"{a.messages} items pushed at once" if a.burst else \
        f"items pushed for {a.seconds} s, at most {a.window} in flight"
    print(f"({pacing}, to {a.streams} streams on one channel; message_rate / message_hwm as shown)")
    print("(CPU: ms per 1,000 deliveries, and cores busy from the first push to the last delivery; "
          "others: cores busy with anything else, softirqs included)")
    print(f"{'server':<16}{'limits':>14}{'held':>6}{'delivered':>11}{'missing':>9}{'stalls':>7}{'pushes/s':>10}"
          f"{'deliveries/s':>14}{'last at':>9}{'p50 ms':>9}{'p99 ms':>9}{'server CPU':>12}{'busy':>6}{'loadgen':>9}{'busy':>6}{'others':>8}")
    for r in rows:
        print(f"{r['server']:<16}{LIMITS[r['server']]:>14}{r['held']:>6}{r['got']:>11}{r['expected'] - r['got']:>9}"
              f"{r['stalls']:>7}{r['pushes']:>10.0f}{r['rate']:>14.0f}{r['last']:>8.2f}s{r['p50']:>9.1f}{r['p99']:>9.1f}"
              f"{r['server_ms']:>12.3f}{r['server_busy']:>6.2f}{r['client_ms']:>9.3f}{r['client_busy']:>6.2f}"
              f"{r['others']:>8.2f}")


if __name__ == "__main__":
    sys.exit(main())
