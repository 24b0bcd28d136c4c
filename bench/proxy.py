#!/usr/bin/env python3
"""Plain proxied requests per second and latency (wrk): the backend direct, through gripway,
and through Pushpin 1.36, in one run.

The proxy under test runs pinned to core 0; wrk and the backend (bench-backend, a minimal hyper
server) share core 1. Loopback only; everything started is stopped.

    bench/proxy.py [--duration 10] [--connections 50] [--servers direct,gripway,pushpin]
"""

import argparse
import re
import subprocess
import time

import benchlib
from benchlib import ROOT
BACKEND = 18800


STARTERS = {
    "gripway": lambda: benchlib.start_gripway(18810, 0, [f"* 127.0.0.1:{BACKEND}"], core=0),
    "pushpin": lambda: benchlib.start_pushpin(530, [f"* 127.0.0.1:{BACKEND}"], core=0),
}


def wrk(port, a):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{a.connections}", f"-d{a.duration}s",
                          "--latency", f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50", "?"), lat.get("99", "?"), int(errors.group(1)) if errors else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--servers", default="direct,gripway,pushpin")
    a = p.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "gripway", "-p", "gripway-loadgen"], cwd=ROOT, check=True)
    backend = benchlib.spawn([str(ROOT / "target/release/bench-backend"), str(BACKEND)], 1)
    benchlib.wait_port(BACKEND)
    rows = []
    try:
        for name in a.servers.split(","):
            if name == "direct":
                rows.append((name,) + wrk(BACKEND, a))
                continue
            server = STARTERS[name]()
            try:
                wrk(server.client, argparse.Namespace(connections=a.connections, duration=2))  # warm up
                rows.append((name,) + wrk(server.client, a))
            finally:
                server.stop()
                time.sleep(2)
    finally:
        benchlib.stopper(backend)()
    print(f"{'target':<10}{'req/s':>10}{'p50':>10}{'p99':>10}{'non-2xx':>9}   ({a.connections} connections, {a.duration} s)")
    for name, rps, p50, p99, errors in rows:
        print(f"{name:<10}{rps:>10.0f}{p50:>10}{p99:>10}{errors:>9}")


if __name__ == "__main__":
    main()
