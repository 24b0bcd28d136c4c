#!/usr/bin/env python3
"""Plain proxied requests per second and latency (wrk): the backend direct, through gripway,
and through Pushpin 1.36, in one run.

The proxy under test runs pinned to core 0; wrk and the backend (bench-backend, a minimal hyper
server) share core 1. Loopback only; everything started is stopped.

    bench/proxy.py [--duration 10] [--connections 50] [--servers direct,gripway,pushpin]
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
BACKEND = 18800


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


def spawn(args, core):
    return subprocess.Popen(["taskset", "-c", str(core)] + args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def start_gripway():
    conf = Path("/tmp/gripway-proxybench.conf")
    conf.write_text("[handler]\npush_in_http_port=0\n")
    proc = spawn([str(ROOT / "target/release/gripway"), "--config", str(conf), "--port", "18810",
                  "--route", f"* 127.0.0.1:{BACKEND}", "--loglevel", "1"], 0)
    wait_port(18810)
    return 18810, lambda: os.killpg(proc.pid, signal.SIGTERM)


def start_pushpin():
    offset = 530
    out = subprocess.run([str(SHARED / "tools/reference-pushpin"), "--offset", str(offset),
                          "--route", f"* 127.0.0.1:{BACKEND}"], capture_output=True, text=True, check=True).stdout
    pid = int(re.search(r"pid=(\d+)", out).group(1))
    conf = Path(re.search(r"dir=(\S+)", out).group(1)) / "pushpin.conf"
    os.killpg(os.getpgid(pid), signal.SIGTERM)
    time.sleep(2)
    proc = spawn(["pushpin", "--config", str(conf), "-m"], 0)
    wait_port(7999 + offset)
    time.sleep(2)
    return 7999 + offset, lambda: os.killpg(proc.pid, signal.SIGTERM)


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
    backend = spawn([str(ROOT / "target/release/bench-backend"), str(BACKEND)], 1)
    wait_port(BACKEND)
    rows = []
    try:
        for name in a.servers.split(","):
            if name == "direct":
                rows.append((name,) + wrk(BACKEND, a))
                continue
            port, stop = {"gripway": start_gripway, "pushpin": start_pushpin}[name]()
            try:
                wrk(port, argparse.Namespace(connections=a.connections, duration=2))  # warm up
                rows.append((name,) + wrk(port, a))
            finally:
                stop()
                time.sleep(2)
    finally:
        os.killpg(backend.pid, signal.SIGTERM)
    print(f"{'target':<10}{'req/s':>10}{'p50':>10}{'p99':>10}{'non-2xx':>9}   ({a.connections} connections, {a.duration} s)")
    for name, rps, p50, p99, errors in rows:
        print(f"{name:<10}{rps:>10.0f}{p50:>10}{p99:>10}{errors:>9}")


if __name__ == "__main__":
    main()
