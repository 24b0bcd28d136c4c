"""zhttpreq/ routes (spec 2.6) against libzmq REP workers through pyzmq: requests spread over
several workers, a worker restarting mid-run, and a worker holding a stream with GRIP that the
publish API feeds."""

import socket
import threading
import time

import pytest
import tnetstring
import zmq

from gripway_proc import Gripway, free_port


def get(port, path, read_until=None, timeout=10.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".encode())
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if read_until and read_until in data:
            break
    return sock, data


class Worker(threading.Thread):
    """A REP worker answering each request with its name, or with `headers`/`body` given."""

    def __init__(self, ctx, spec, name, headers=None, body=None):
        super().__init__(daemon=True)
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.RCVTIMEO, 200)
        self.sock.connect(spec)
        self.name, self.headers, self.body = name, headers or [], body
        self.seen, self.stop = [], threading.Event()

    def respond(self, req):
        """Headers and body of the reply to `req` (replaceable per test)."""
        body = self.body if self.body is not None else f"{self.name} {req[b'uri'].decode()}\n".encode()
        return self.headers, body

    def run(self):
        while not self.stop.is_set():
            try:
                raw = self.sock.recv()
            except zmq.Again:
                continue
            assert raw[:1] == b"T"
            req = tnetstring.loads(raw[1:])
            self.seen.append(req)
            headers, body = self.respond(req)
            reply = {b"id": req[b"id"], b"code": 200, b"reason": b"OK",
                     b"headers": [[b"Content-Type", b"text/plain"]] + headers, b"body": body}
            self.sock.send(b"T" + tnetstring.dumps(reply))
        self.sock.close(linger=0)


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def test_requests_spread_over_workers_and_survive_a_restart(ctx):
    spec = f"tcp://127.0.0.1:{free_port()}"
    with Gripway([f"* zhttpreq/{spec}"]) as gw:
        workers = [Worker(ctx, spec, "w1"), Worker(ctx, spec, "w2")]
        for w in workers:
            w.start()
        time.sleep(0.3)
        for i in range(20):
            _, data = get(gw.port, f"/path?i={i}")
            assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data
            assert f"http://example.com/path?i={i}\n".encode() in data
        assert all(w.seen for w in workers), "round-robin reached both workers"
        req = workers[0].seen[0]
        assert req[b"method"] == b"GET" and req[b"max-size"] == 1000000
        assert req[b"ignore-policies"] is True
        # A worker leaves and another takes its place; requests keep being answered.
        workers[0].stop.set()
        workers[0].join()
        fresh = Worker(ctx, spec, "w3")
        fresh.start()
        time.sleep(0.3)
        answered = {get(gw.port, "/again")[1].split(b"\r\n\r\n", 1)[1][:2] for _ in range(10)}
        assert answered <= {b"w2", b"w3"} and b"w3" in answered
        for w in (workers[1], fresh):
            w.stop.set()
            w.join()


def test_a_worker_holds_a_stream_with_grip(ctx):
    spec = f"ipc:///tmp/gripway-zreq-{free_port()}"
    with Gripway([f"* zhttpreq/{spec}"]) as gw:
        worker = Worker(ctx, spec, "w", headers=[[b"Grip-Hold", b"stream"], [b"Grip-Channel", b"zr"]],
                        body=b"opened\n")
        worker.start()
        time.sleep(0.3)
        sock, data = get(gw.port, "/s", read_until=b"opened\n")
        assert b"opened\n" in data
        body = b'{"items":[{"channel":"zr","formats":{"http-stream":{"content":"pushed\\n"}}}]}'
        pub = socket.create_connection(("127.0.0.1", gw.publish_port))
        pub.sendall(b"POST /publish/ HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        pub.recv(4096)
        pub.close()
        more = b""
        sock.settimeout(10)
        while b"pushed\n" not in more:
            chunk = sock.recv(65536)
            if not chunk:
                break
            more += chunk
        assert b"pushed\n" in more
        sock.close()
        worker.stop.set()
        worker.join()


def test_a_hint_replays_a_workers_long_poll_to_the_workers(ctx):
    spec = f"tcp://127.0.0.1:{free_port()}"
    with Gripway([f"* zhttpreq/{spec}"], extra_conf="update_on_first_subscription=false\n") as gw:
        worker = Worker(ctx, spec, "w")
        answers = iter([([[b"Grip-Hold", b"response"], [b"Grip-Channel", b"zh"]], b"timeout\n"),
                        ([], b"replayed\n")])

        def reply(req):
            headers, body = next(answers)
            return headers, body
        worker.respond = reply
        worker.start()
        time.sleep(0.3)
        client = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        client.sendall(b"GET /poll HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
        time.sleep(0.5)
        body = b'{"items":[{"channel":"zh","formats":{"http-response":{"action":"hint"}}}]}'
        pub = socket.create_connection(("127.0.0.1", gw.publish_port))
        pub.sendall(b"POST /publish/ HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        pub.recv(4096)
        pub.close()
        data = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.endswith(b"replayed\n"), data
        assert len(worker.seen) == 2 and worker.seen[1][b"uri"] == b"http://example.com/poll"
        worker.stop.set()
        worker.join()
