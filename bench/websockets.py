#!/usr/bin/env python3
"""Memory per idle WebSocket and broadcast latency to N WebSocket subscribers on one channel:
gripway and Pushpin 1.36 in one run.

Each server runs pinned to core 0 on loopback with one WebSocket-over-HTTP route
(`* 127.0.0.1:18859,over_http`) to bench-backend (bench/loadgen), which accepts every OPEN and
subscribes the connection to channel `bench` with a control message; the same backend serves
every server. The load generator (bench/loadgen --websocket) and the backend share core 1.

For each server: measure the PSS of its whole process tree, open N client WebSockets and hold
them idle, measure again (per connection: the difference / N), then publish M `ws-message`
items through the HTTP publish API, each carrying its send time, and report every delivery's
latency, the deliveries missing, and the server's CPU time during the broadcast. Everything
started is stopped after its run.

Handler settings, as in bench/fanout.py: `gripway` runs without `message_rate` (unlimited),
`gripway-stock` with Pushpin's shipped message_rate=2500 and message_hwm=25000 (also gripway's
embedded default config), `pushpin` with its stock config (those same values) and
`pushpin-raised` with message_rate and message_hwm at 1,000,000.

    bench/websockets.py [--n 10000] [--messages 20] [--interval-ms 500] [--servers gripway,pushpin-raised,pushpin] [--perf DIR]

Pushpin comes from ../shared/tools/reference-pushpin beside the checkout; from a git worktree
elsewhere set GRIPWAY_SHARED (e.g. GRIPWAY_SHARED=/work/shared).
"""

import argparse
import re
import signal
import subprocess
import time
from pathlib import Path

import benchlib
from benchlib import ROOT

BACKEND = 18859
ROUTE = f"* 127.0.0.1:{BACKEND},over_http"
STOCK = {"message_rate": 2500, "message_hwm": 25000}
RAISED = {"message_rate": "1000000", "message_hwm": "1000000"}

STARTERS = {
    "gripway": lambda: benchlib.start_gripway(18850, 18851, [ROUTE], core=0),
    "gripway-stock": lambda: benchlib.start_gripway(18853, 18854, [ROUTE], core=0, handler=STOCK),
    "pushpin": lambda: benchlib.start_pushpin(850, [ROUTE], core=0),
    "pushpin-raised": lambda: benchlib.start_pushpin(850, [ROUTE], core=0, settings=RAISED),
}


def loadgen(server, a):
    """Starts the load generator in WebSocket mode, pausing when held and when done."""
    args = ["taskset", "-c", "1", str(ROOT / "target/release/loadgen"), "--websocket", "--pause",
            "--client", f"127.0.0.1:{server.client}", "--publish", f"127.0.0.1:{server.publish}",
            "--path", "/ws", "--streams", str(a.n), "--messages", str(a.messages),
            "--interval-ms", str(a.interval_ms), "--drain-secs", str(a.drain_secs),
            "--concurrency", str(a.concurrency), "--open-rate", str(a.open_rate)]
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def read_until(proc, word, lines):
    """Collects the load generator's lines up to the one that is `word`."""
    for line in proc.stdout:
        if line.strip() == word:
            return
        lines.append(line.rstrip())
    raise RuntimeError(f"load generator ended before '{word}':\n" + "\n".join(lines))


def go_on(proc):
    proc.stdin.write("\n")
    proc.stdin.flush()


def start_perf(server, name, folder):
    """With --perf, records call graphs of the server's processes during the broadcast."""
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    pids = ",".join(str(p) for p in benchlib.descendants(server.pid))
    proc = subprocess.Popen(["perf", "record", "-g", "-q", "-p", pids, "-o", f"{folder}/{name}.data"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    return proc


def stop_perf(proc):
    if proc:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def run(name, a):
    server = STARTERS[name]()
    lines = []
    try:
        before = benchlib.pss_kib(server.pid)
        lg = loadgen(server, a)
        try:
            read_until(lg, "held", lines)
            time.sleep(2)
            idle = benchlib.pss_kib(server.pid)
            by_process = benchlib.pss_by_process(server.pid)
            loadgen_kib = benchlib.pss_kib(lg.pid)
            cpu_before = benchlib.tree_cpu_seconds(server.pid)
            split_before = benchlib.cpu_by_process(server.pid)
            lg_cpu_before = benchlib.tree_cpu_seconds(lg.pid)
            perf = start_perf(server, name, a.perf)
            go_on(lg)
            read_until(lg, "done", lines)
            cpu_after = benchlib.tree_cpu_seconds(server.pid)
            split_after = benchlib.cpu_by_process(server.pid)
            lg_cpu_after = benchlib.tree_cpu_seconds(lg.pid)
            stop_perf(perf)
            after_broadcast = benchlib.pss_kib(server.pid)
            go_on(lg)
            lg.wait(timeout=60)
        finally:
            if lg.poll() is None:
                lg.kill()
    finally:
        server.stop()
        time.sleep(2)
    out = "\n".join(lines)
    held = int(re.search(r"websockets held: (\d+)/", out).group(1))
    return {
        "server": name, "held": held, "before": before, "idle": idle, "after": after_broadcast,
        "per_conn": (idle - before) * 1024 / max(held, 1),
        "opened_per_s": float(re.search(r"\(([\d.]+) opened/s", out).group(1)),
        "latency": re.search(r"p50 ([\d.]+)  p99 ([\d.]+)  max ([\d.]+)", out).groups(),
        "deliveries": re.search(r"deliveries: (\d+/\d+)", out).group(1),
        "cpu": (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]),
        "cpu_split": {k: v - split_before.get(k, 0) for k, v in split_after.items()},
        "loadgen_cpu": (lg_cpu_after[0] - lg_cpu_before[0], lg_cpu_after[1] - lg_cpu_before[1]),
        "by_process": by_process, "loadgen_kib": loadgen_kib, "out": out,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--messages", type=int, default=20)
    p.add_argument("--interval-ms", type=int, default=500)
    p.add_argument("--drain-secs", type=int, default=30)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--open-rate", type=int, default=0, help="opens started per second at most (0: no limit)")
    p.add_argument("--servers", default="gripway,pushpin-raised,pushpin")
    p.add_argument("--perf", metavar="DIR", help="record each server with `perf record -g` during the broadcast, into DIR/<server>.data")
    a = p.parse_args()
    # Clients, plus the server's backend connections and its own files.
    benchlib.raise_nofile(a.n + 1000)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "gripway", "-p", "gripway-loadgen"], cwd=ROOT, check=True)
    backend = benchlib.spawn([str(ROOT / "target/release/bench-backend"), str(BACKEND), "bench"], core=1)
    try:
        benchlib.wait_port(BACKEND)
        rows = [run(name, a) for name in a.servers.split(",")]
    finally:
        backend.kill()
    print(f"{a.n} WebSockets, {a.messages} ws-message broadcasts every {a.interval_ms} ms")
    for r in rows:
        print(f"== {r['server']}")
        print(r["out"])
        parts = ", ".join(f"{k} {v / 1024:.1f}" for k, v in sorted(r["by_process"].items()))
        print(f"PSS by process when idle (MiB): {parts}; load generator {r['loadgen_kib'] / 1024:.1f} MiB")
        print(f"CPU during the broadcast: server user {r['cpu'][0]:.2f} s, system {r['cpu'][1]:.2f} s; "
              f"load generator user {r['loadgen_cpu'][0]:.2f} s, system {r['loadgen_cpu'][1]:.2f} s")
        split = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["cpu_split"].items()))
        print(f"server CPU during the broadcast by process (s): {split}")
    print()
    print(f"{'server':<16}{'held':>7}{'PSS before':>13}{'idle':>13}{'after':>13}{'per conn':>11}"
          f"{'opened/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'deliveries':>17}")
    for r in rows:
        p50, p99, mx = r["latency"]
        print(f"{r['server']:<16}{r['held']:>7}{r['before']:>9} KiB{r['idle']:>9} KiB{r['after']:>9} KiB"
              f"{r['per_conn'] / 1000:>8.1f} KB{r['opened_per_s']:>10.0f}{p50:>9}{p99:>9}{mx:>9}{r['deliveries']:>17}")


if __name__ == "__main__":
    main()
