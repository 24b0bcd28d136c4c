"""zhttp/ routes (spec 2.7) through gripway against libzmq workers (pyzmq, `zhttp_worker.py`):
a worker restarted between requests, ipc endpoints, a request body larger than one packet paced
by the worker's credits, and a GRIP hold from a streaming worker fed over the ZMQ PULL input.
The exchange itself (parts, credits, cancels, errors) is compared with Pushpin's in the
differential scenarios (`tests/diff`, the `zhttp_*` ones)."""

import socket
import time

import tnetstring
import zmq

from gripway_proc import Gripway, free_ports
from zhttp_worker import Reply, ZhttpWorker

TIMEOUT = 10.0


def http(port, request, until=b"0\r\n\r\n", timeout=TIMEOUT):
    """Sends a raw request; what came back until `until` was seen or the connection closed."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(request)
        data = b""
        deadline = time.monotonic() + timeout
        while until not in data and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        sock.close()


def get(port, path):
    return http(port, f"GET {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".encode())


def body_of(answer):
    """The body of a chunked response."""
    rest = answer.split(b"\r\n\r\n", 1)[1]
    body = b""
    while True:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            return body
        body, rest = body + rest[:n], rest[n + 2:]


def parts(chunks):
    return Reply(headers=[("Content-Type", "text/plain")], chunks=chunks)


def test_a_restarted_worker_loses_no_request():
    # Before the patch in vendor/zeromq, the PUSH kept the departed worker's connection and the
    # next requests sent to it waited out the 60 s session expiry.
    spec = f"tcp://127.0.0.1:{free_ports(3)}"
    replies = {"/x": parts([b"one\n", b"two\n"])}
    with Gripway([f"* zhttp/{spec}"]) as gw:
        with ZhttpWorker(spec, replies) as worker:
            assert worker.ready()
            assert body_of(get(gw.port, "/x")) == b"one\ntwo\n"
        with ZhttpWorker(spec, replies, identity=b"zworker2") as worker:
            assert worker.ready()
            for _ in range(4):
                started = time.monotonic()
                answer = get(gw.port, "/x")
                assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
                assert body_of(answer) == b"one\ntwo\n"
                assert time.monotonic() - started < TIMEOUT


def test_ipc_endpoints():
    path = f"/tmp/gripway-zhttp-py-{free_ports(1)}"
    spec = f"ipc://{path}"
    with Gripway([f"* zhttp/{spec}"]) as gw, ZhttpWorker(spec, {"/i": parts([b"ipc\n"])}) as worker:
        assert worker.ready()
        answer = get(gw.port, "/i")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b"\r\n\r\nipc\n"), answer


def test_a_large_request_body_follows_the_first_packet_as_credits_allow():
    spec = f"tcp://127.0.0.1:{free_ports(3)}"
    body = bytes(range(256)) * 1200  # 307,200 bytes: past the 100,000 bytes buffered.

    def respond(request):
        return parts([f"got {len(request[b'body'])}\n".encode()])

    with Gripway([f"* zhttp/{spec}"]) as gw, ZhttpWorker(spec, respond) as worker:
        assert worker.ready()
        head = (f"POST /up HTTP/1.1\r\nHost: example.com\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        answer = http(gw.port, head + body, until=b"\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
        assert b"got 307200\n" in answer
        first = worker.requests()[0]
        assert first[b"more"] is True, "the body follows the first packet"
        later = [p for p in worker.from_proxy(b"data")]
        assert b"".join(p.get(b"body", b"") for p in later) == body
        assert later[-1].get(b"more", False) is False


def test_a_worker_holds_a_stream_that_the_pull_input_feeds():
    spec = f"tcp://127.0.0.1:{free_ports(3)}"
    pull = f"tcp://127.0.0.1:{free_ports(1)}"
    hold = Reply(headers=[("Content-Type", "text/plain"), ("Grip-Hold", "stream"),
                          ("Grip-Channel", "zs")], chunks=[b"open\n"])
    ctx = zmq.Context()
    try:
        with Gripway([f"* zhttp/{spec}"], extra_conf=f"push_in_spec={pull}\n") as gw, \
                ZhttpWorker(spec, {"/s": hold}) as worker:
            assert worker.ready()
            sock = socket.create_connection(("127.0.0.1", gw.port), timeout=TIMEOUT)
            sock.sendall(b"GET /s HTTP/1.1\r\nHost: example.com\r\n\r\n")
            data = b""
            while b"open\n" not in data:
                data += sock.recv(65536)
            push = ctx.socket(zmq.PUSH)
            push.connect(pull)
            item = {b"channel": b"zs", b"formats": {b"http-stream": {b"content": b"pushed\n"}}}
            deadline = time.monotonic() + TIMEOUT
            while b"pushed\n" not in data and time.monotonic() < deadline:
                push.send(b"T" + tnetstring.dumps(item))
                sock.settimeout(1.0)
                try:
                    data += sock.recv(65536)
                except socket.timeout:
                    pass
            assert b"pushed\n" in data
            sock.close()
    finally:
        ctx.destroy(linger=0)
