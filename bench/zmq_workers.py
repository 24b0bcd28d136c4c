#!/usr/bin/env python3
"""zhttpreq requests per second, latency and CPU per request with Python REP workers: gripway
and Pushpin 1.36 in one run.

Each server runs pinned to core 0 with the route `*,debug zhttpreq/tcp://127.0.0.1:<port>` (the
server binds a DEALER there, spec 2.6). N worker processes (pyzmq REP sockets, connecting) answer
every request with a small 200 `T`+tnetstring reply carrying the request's id; they share core 1
with wrk, which drives keep-alive HTTP requests at a fixed concurrency. CPU time (utime + stime
from /proc) is read before and after the measured wrk run for the server's whole process tree
(for Pushpin: the runner, condure, zurl, pushpin-proxy and pushpin-handler), for the workers
and for wrk, and reported per 1,000 requests and as cores kept busy. Loopback only; everything
started is stopped.

    .venv/bin/python bench/zmq_workers.py [--duration 10] [--connections 50] [--workers 4] [--servers gripway,pushpin]
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import benchlib

# gripway's client port, and the DEALER ports the servers bind for their workers; Pushpin's
# client port is 7999 + its offset.
GRIPWAY_CLIENT = 28100
DEALER = {"gripway": 28110, "pushpin": 28120}
PUSHPIN_OFFSET = 800


def route(name):
    return f"*,debug zhttpreq/tcp://127.0.0.1:{DEALER[name]}"


STARTERS = {
    "gripway": lambda: benchlib.start_gripway(GRIPWAY_CLIENT, 0, [route("gripway")], core=0),
    "pushpin": lambda: benchlib.start_pushpin(PUSHPIN_OFFSET, [route("pushpin")], core=0),
}


def serve(spec):
    """A worker: answers every request on a REP socket connected to `spec` until killed."""
    import tnetstring
    import zmq

    sock = zmq.Context().socket(zmq.REP)
    sock.connect(spec)
    headers = [[b"Content-Type", b"text/plain"]]
    while True:
        raw = sock.recv()
        # A request is `T` + tnetstring (spec 2.6); the reply must echo its id.
        req = tnetstring.loads(raw[1:])
        reply = {b"id": req[b"id"], b"code": 200, b"reason": b"OK", b"headers": headers, b"body": b"hello\n"}
        sock.send(b"T" + tnetstring.dumps(reply))


def start_workers(name, n):
    spec = f"tcp://127.0.0.1:{DEALER[name]}"
    return [benchlib.spawn([sys.executable, str(Path(__file__).resolve()), "--serve", spec], core=1)
            for _ in range(n)]


def wait_answered(port, timeout=20):
    """Waits until a request through the server reaches a worker and comes back 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2",
                              f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
        if out == "200":
            return
        time.sleep(0.2)
    raise TimeoutError(f"no 200 through port {port}")


def wrk(port, connections, duration):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
                          "--latency", f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child reaped meanwhile
    wrk_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests": requests, "rps": rps, "p50": lat.get("50", "?"), "p99": lat.get("99", "?"),
            "non2xx": int(errors.group(1)) if errors else 0,
            "sockerr": sum(int(g) for g in failed.groups()) if failed else 0, "wrk_cpu": wrk_cpu}


def measure(name, a):
    server = STARTERS[name]()
    workers = []
    try:
        workers = start_workers(name, a.workers)
        wait_answered(server.client)
        wrk(server.client, a.connections, 2)  # warm up
        gateway = benchlib.descendants(server.pid)
        worker_pids = [w.pid for w in workers]
        gw0 = [benchlib.cpu_seconds([pid]) for pid in gateway]
        wk0, m0 = benchlib.cpu_seconds(worker_pids), benchlib.machine_busy_seconds()
        row = wrk(server.client, a.connections, a.duration)
        gw = [benchlib.cpu_seconds([pid]) - t for pid, t in zip(gateway, gw0)]
        wk, machine = benchlib.cpu_seconds(worker_pids) - wk0, benchlib.machine_busy_seconds() - m0
        per_k = 1000 / max(row["requests"], 1)
        row.update(server=name, gw_ms=sum(gw) * 1000 * per_k, wk_ms=wk * 1000 * per_k,
                   wrk_ms=row["wrk_cpu"] * 1000 * per_k, gw_util=sum(gw) / a.duration,
                   wk_util=wk / a.duration, wrk_util=row["wrk_cpu"] / a.duration,
                   others=(machine - sum(gw) - wk - row["wrk_cpu"]) / a.duration,
                   parts=[(benchlib.process_name(pid), t * 1000 * per_k) for pid, t in zip(gateway, gw)])
        return row
    finally:
        for w in workers:
            benchlib.stopper(w)()
        server.stop()
        time.sleep(2)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--servers", default="gripway,pushpin")
    p.add_argument("--serve", metavar="SPEC", help=argparse.SUPPRESS)  # run as one worker
    a = p.parse_args()
    if a.serve:
        return serve(a.serve)
    benchlib.require_binaries("gripway")
    try:
        import tnetstring  # noqa: F401  (the workers run with this interpreter)
        import zmq  # noqa: F401
    except ImportError as e:
        raise SystemExit(f"{e}: run with the project's .venv/bin/python (pyzmq, tnetstring3)")
    load = os.getloadavg()[0]  # the machine is shared: a busy one skews everything below
    rows = [measure(name, a) for name in a.servers.split(",")]
    print(f"(1-minute load average before the run: {load:.2f})")
    print(f"({a.workers} Python REP workers and wrk on core 1, server on core 0; "
          f"{a.connections} connections, {a.duration} s; CPU ms per 1,000 requests, and cores busy "
          "during the run; others: cores busy with anything else, softirqs included)")
    print(f"{'server':<9}{'req/s':>9}{'p50':>10}{'p99':>10}{'errors':>8}"
          f"{'server CPU':>12}{'busy':>6}{'worker CPU':>12}{'busy':>6}{'wrk CPU':>10}{'busy':>6}{'others':>8}")
    for r in rows:
        print(f"{r['server']:<9}{r['rps']:>9.0f}{r['p50']:>10}{r['p99']:>10}{r['non2xx'] + r['sockerr']:>8}"
              f"{r['gw_ms']:>9.1f} ms{r['gw_util']:>6.2f}{r['wk_ms']:>9.1f} ms{r['wk_util']:>6.2f}"
              f"{r['wrk_ms']:>7.1f} ms{r['wrk_util']:>6.2f}{r['others']:>8.2f}")
    for r in rows:
        if len(r["parts"]) > 1:
            print(f"{r['server']} server CPU by process: "
                  + ", ".join(f"{n} {ms:.1f} ms" for n, ms in r["parts"] if ms >= 0.05))
    if len(rows) == 2 and rows[1]["rps"] and rows[0]["gw_ms"]:
        print(f"{rows[0]['server']} / {rows[1]['server']}: req/s x{rows[0]['rps'] / rows[1]['rps']:.1f}, "
              f"server CPU per request 1/{rows[1]['gw_ms'] / rows[0]['gw_ms']:.1f}")


if __name__ == "__main__":
    sys.exit(main())
