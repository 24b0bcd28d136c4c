#!/usr/bin/env python3
"""Memory per held stream connection and connection-open rate, gripway against Pushpin.

For each server: start it on loopback with the built-in `test` route, measure the PSS of its
whole process tree, open N client connections that each GET /stream and read the first chunk,
measure again, and report (PSS after - PSS before) / N and connections opened per second.
Everything runs on loopback and is stopped at the end.

    bench/held_streams.py [--n 10000] [--servers gripway,pushpin] [--concurrency 200]
"""

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def tree_pids(root):
    """`root` and every descendant."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def pss_kib(root):
    total = 0
    for pid in tree_pids(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        m = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        total += int(m.group(1)) if m else 0
    return total


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


def start_gripway(port):
    binary = ROOT / "target" / "release" / "gripway"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "gripway"], cwd=ROOT, check=True)
    conf = Path("/tmp/gripway-bench.conf")
    conf.write_text("[handler]\npush_in_http_port=0\n[runner]\nclient_maxconn=60000\n")
    proc = subprocess.Popen(
        [str(binary), "--config", str(conf), "--port", str(port), "--route", "* test", "--loglevel", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_port(port)
    return proc.pid, lambda: os.killpg(proc.pid, signal.SIGTERM)


def start_pushpin(port):
    offset = port - 7999
    out = subprocess.run([str(SHARED / "tools" / "reference-pushpin"), "--offset", str(offset), "--route", "* test"],
                         capture_output=True, text=True, check=True).stdout
    pid = int(re.search(r"pid=(\d+)", out).group(1))
    wait_port(port)
    time.sleep(1)
    return pid, lambda: os.killpg(os.getpgid(pid), signal.SIGTERM)


async def open_streams(port, n, concurrency):
    """Opens n held streams; a connection the server closes before the stream opens is retried
    (up to 5 times) and counted as a failure."""
    conns = []
    failures = 0
    sem = asyncio.Semaphore(concurrency)

    async def attempt():
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /stream?channel=bench HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
        await w.drain()
        data = b""
        while b"[stream opened]" not in data:
            chunk = await r.read(4096)
            if not chunk:
                w.close()
                return None
            data += chunk
        return r, w

    async def one(i):
        nonlocal failures
        async with sem:
            for _ in range(5):
                conn = await attempt()
                if conn:
                    conns.append(conn)
                    return
                failures += 1
            raise RuntimeError(f"connection {i} failed 5 times")

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    return conns, time.monotonic() - started, failures


async def measure(name, start, port, n, concurrency):
    pid, stop = start(port)
    try:
        before = pss_kib(pid)
        conns, elapsed, failures = await open_streams(port, n, concurrency)
        await asyncio.sleep(2)
        after = pss_kib(pid)
        for _, w in conns:
            w.close()
        return {
            "server": name,
            "connections": len(conns),
            "pss_before_kib": before,
            "pss_after_kib": after,
            "bytes_per_conn": (after - before) * 1024 / n,
            "opened_per_s": n / elapsed,
            "failed": failures,
        }
    finally:
        stop()
        time.sleep(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--servers", default="gripway,pushpin")
    p.add_argument("--concurrency", type=int, default=200)
    a = p.parse_args()
    starters = {"gripway": (start_gripway, 18700), "pushpin": (start_pushpin, 8499)}
    rows = []
    for name in a.servers.split(","):
        start, port = starters[name]
        rows.append(asyncio.run(measure(name, start, port, a.n, a.concurrency)))
    print(f"{'server':<10}{'conns':>8}{'PSS before':>14}{'PSS after':>14}{'per conn':>12}{'opened/s':>11}{'failed':>8}")
    for r in rows:
        print(f"{r['server']:<10}{r['connections']:>8}{r['pss_before_kib']:>11} KiB{r['pss_after_kib']:>11} KiB"
              f"{r['bytes_per_conn']/1000:>9.1f} KB{r['opened_per_s']:>11.0f}{r['failed']:>8}")


if __name__ == "__main__":
    sys.exit(main())
