#!/usr/bin/env python3
"""Memory per held stream connection and connection-open rate, gripway against Pushpin.

For each server: start it on loopback with the built-in `test` route, measure the PSS of its
whole process tree, open N client connections that each GET /stream and read the first chunk,
measure again, and report (PSS after - PSS before) / N and connections opened per second.
With --tls the clients connect to a TLS listener (self-signed ECDSA P-256 identity, TLS 1.3
where the server offers it) instead. Everything runs on loopback and is stopped at the end.

    bench/held_streams.py [--n 10000] [--servers gripway,pushpin] [--concurrency 200] [--tls]
"""

import argparse
import asyncio
import sys
import time

import benchlib


STARTERS = {
    "gripway": lambda tls: benchlib.start_gripway(18700, 0, ["* test"], tls_port=18701 if tls else None),
    "pushpin": lambda tls: benchlib.start_pushpin(500, ["* test"], tls=tls),
}


async def open_streams(port, n, concurrency, tls=None):
    """Opens n held streams; a connection the server closes before the stream opens is retried
    (up to 5 times) and counted as a failure."""
    conns = []
    failures = 0
    sem = asyncio.Semaphore(concurrency)

    async def attempt():
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=tls,
                                             server_hostname="localhost" if tls else None)
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


async def measure(name, n, concurrency, tls):
    server = STARTERS[name](tls)
    try:
        before = benchlib.pss_kib(server.pid)
        port, ctx = (server.tls, benchlib.client_tls_context()) if tls else (server.client, None)
        conns, elapsed, failures = await open_streams(port, n, concurrency, ctx)
        await asyncio.sleep(2)
        after = benchlib.pss_kib(server.pid)
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
        server.stop()
        time.sleep(2)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--servers", default="gripway,pushpin")
    p.add_argument("--concurrency", type=int, default=200)
    p.add_argument("--tls", action="store_true", help="hold the streams over TLS")
    a = p.parse_args()
    rows = [asyncio.run(measure(name, a.n, a.concurrency, a.tls)) for name in a.servers.split(",")]
    print(f"{'server':<10}{'conns':>8}{'PSS before':>14}{'PSS after':>14}{'per conn':>12}{'opened/s':>11}{'failed':>8}")
    for r in rows:
        print(f"{r['server']:<10}{r['connections']:>8}{r['pss_before_kib']:>11} KiB{r['pss_after_kib']:>11} KiB"
              f"{r['bytes_per_conn']/1000:>9.1f} KB{r['opened_per_s']:>11.0f}{r['failed']:>8}")


if __name__ == "__main__":
    sys.exit(main())
