"""The stats socket (spec 5.6) read through a pyzmq SUB: what gripway says about requests, held
streams and long-polls, publishes, and its periodic report, in both encodings; and the command
socket's conncheck, which knows the same connections."""

import json
import shutil
import socket
import tempfile
import time
import urllib.request

import pytest
import tnetstring
import zmq

from gripway_proc import Gripway, free_port

REPORT_FIELDS = {
    "connections", "minutes", "received", "sent", "http-response-sent", "duration",
    "client-header-bytes-received", "client-header-bytes-sent",
    "client-content-bytes-received", "client-content-bytes-sent",
    "client-messages-received", "client-messages-sent",
    "server-header-bytes-received", "server-header-bytes-sent",
    "server-content-bytes-received", "server-content-bytes-sent",
    "server-messages-received", "server-messages-sent",
}


def text(value):
    """A decoded tnetstring with its byte strings as str."""
    if isinstance(value, dict):
        return {text(k): text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [text(v) for v in value]
    return value.decode() if isinstance(value, bytes) else value


def decode(frame):
    """`<type> T<tnetstring>` or `<type> J<json>` as (type, format letter, dict)."""
    kind, _, rest = frame.partition(b" ")
    fmt, payload = rest[:1], rest[1:]
    if fmt == b"T":
        body = text(tnetstring.loads(payload))
    else:
        assert fmt == b"J", frame
        body = json.loads(payload)
    return kind.decode(), fmt.decode(), body


class Stats:
    """A SUB on gripway's stats socket that keeps every packet it reads."""

    def __init__(self, ctx, spec):
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(spec)
        self.seen = []

    def read(self, timeout):
        if self.sock.poll(int(timeout * 1000)):
            packet = decode(self.sock.recv())
            self.seen.append(packet)
            return packet
        return None

    def wait_for(self, match, timeout=10.0):
        """The first packet (read from now on) for which `match(kind, body)` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            packet = self.read(deadline - time.monotonic())
            if packet and match(packet[0], packet[2]):
                return packet[2]
        raise AssertionError(f"no such packet; seen: {self.seen}")

    def close(self):
        self.sock.close(linger=0)


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def stats_spec():
    """An ipc spec under a folder of its own in /tmp, removed afterwards."""
    folder = tempfile.mkdtemp(prefix="gripway-stats-", dir="/tmp")
    yield f"ipc://{folder}/stats"
    shutil.rmtree(folder, ignore_errors=True)


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read()


def publish(gw, item):
    body = json.dumps({"items": [item]}).encode()
    req = urllib.request.Request(f"{gw.control_uri}/publish", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def connected(gw, stats):
    """Waits until the SUB gets packets (a SUB misses what is sent before it has joined):
    sends requests until their `conn` packets arrive, then forgets them."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        get(gw.port, "/")
        if stats.read(0.2):
            break
    else:
        raise AssertionError("the stats socket sent nothing")
    quiet_by = time.monotonic() + 5
    while stats.read(0.3) and time.monotonic() < quiet_by:
        pass
    stats.seen.clear()


def hold(port, path, until):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    data = b""
    while until not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return sock


def started(ctx, spec, routes=("* test",), conf=""):
    gw = Gripway(list(routes), extra_conf=f"stats_spec={spec}\n{conf}")
    gw.__enter__()
    stats = Stats(ctx, spec)
    try:
        connected(gw, stats)
    except BaseException:
        stats.close()
        gw.__exit__(None, None, None)
        raise
    return gw, stats


def test_a_request_is_a_connection_from_routing_to_its_response(ctx, stats_spec):
    gw, stats = started(ctx, stats_spec, routes=["api.test,id=api test", "* test"])
    try:
        assert get(gw.port, "/") == b"Hello from the Pushpin test handler!\n"
        conn = stats.wait_for(lambda k, b: k == "conn" and "unavailable" not in b)
        assert conn["type"] == "http"
        assert conn["ttl"] == 120
        assert conn["peer-address"] == "127.0.0.1"
        assert conn["from"].startswith("gripway_")
        assert conn["id"].startswith(conn["from"] + ":")
        assert "ssl" not in conn and "route" not in conn
        gone = stats.wait_for(lambda k, b: k == "conn" and b.get("unavailable") is True)
        assert gone["id"] == conn["id"]
        assert set(gone) == {"from", "id", "unavailable"}
        counts = stats.wait_for(lambda k, b: k == "counts")
        assert counts["requests-received"] >= 1
        activity = [b for k, _, b in stats.seen if k == "activity"]
        assert activity and activity[0]["count"] >= 1

        # A route with an id names it; an X-Forwarded-For address stands for the client.
        req = urllib.request.Request(f"http://127.0.0.1:{gw.port}/",
                                     headers={"Host": "api.test",
                                              "X-Forwarded-For": "192.0.2.7, 198.51.100.1"})
        with urllib.request.urlopen(req, timeout=10):
            pass
        routed = stats.wait_for(lambda k, b: k == "conn" and b.get("route") == "api")
        assert routed["peer-address"] == "192.0.2.7"
        stats.wait_for(lambda k, b: k == "activity" and b.get("route") == "api")
    finally:
        stats.close()
        gw.__exit__(None, None, None)


def test_held_streams_subscribe_receive_and_leave(ctx, stats_spec):
    gw, stats = started(ctx, stats_spec)
    try:
        first = hold(gw.port, "/stream?channel=sc", b"[stream opened]")
        sub = stats.wait_for(lambda k, b: k == "sub" and b["channel"] == "sc")
        assert sub == {"from": sub["from"], "mode": "stream", "channel": "sc", "ttl": 60,
                       "subscribers": 1}
        second = hold(gw.port, "/stream?channel=sc", b"[stream opened]")
        stats.wait_for(lambda k, b: k == "sub" and b["channel"] == "sc"
                       and b.get("subscribers") == 2)

        publish(gw, {"channel": "sc", "id": "m1",
                     "formats": {"http-stream": {"content": "hi\n"}}})
        message = stats.wait_for(lambda k, b: k == "message")
        assert message == {"from": sub["from"], "channel": "sc", "item-id": "m1", "count": 2,
                           "transport": "http-stream"}
        publish(gw, {"channel": "sc", "formats": {"http-stream": {"content": "again\n"}}})
        anonymous = stats.wait_for(lambda k, b: k == "message")
        assert "item-id" not in anonymous

        first.close()
        stats.wait_for(lambda k, b: k == "sub" and b["channel"] == "sc"
                       and b.get("subscribers") == 1)
        second.close()
        gone = stats.wait_for(lambda k, b: k == "sub" and b.get("unavailable") is True)
        assert gone == {"from": sub["from"], "mode": "stream", "channel": "sc",
                        "unavailable": True}
        stream_conns = {b["id"] for k, _, b in stats.seen
                        if k == "conn" and "unavailable" not in b}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            closed = {b["id"] for k, _, b in stats.seen if k == "conn" and b.get("unavailable")}
            if stream_conns <= closed:
                break
            stats.read(0.5)
        assert stream_conns <= closed
    finally:
        stats.close()
        gw.__exit__(None, None, None)


def test_a_long_poll_subscription_lingers_after_its_response(ctx, stats_spec):
    gw, stats = started(ctx, stats_spec, conf="subscription_linger=1\n")
    try:
        client = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        client.sendall(b"GET /response?channel=lp HTTP/1.1\r\nHost: h\r\n\r\n")
        sub = stats.wait_for(lambda k, b: k == "sub" and b["channel"] == "lp")
        assert (sub["mode"], sub["subscribers"]) == ("response", 1)
        conn = [b for k, _, b in stats.seen if k == "conn" and "unavailable" not in b][-1]
        publish(gw, {"channel": "lp", "formats": {"http-response": {"body": "done\n"}}})
        message = stats.wait_for(lambda k, b: k == "message")
        assert (message["transport"], message["count"]) == ("http-response", 1)
        assert client.recv(65536).endswith(b"done\n")
        stats.wait_for(lambda k, b: k == "conn" and b["id"] == conn["id"]
                       and b.get("unavailable") is True)
        # The response is done, its connection gone: the subscription still lingers.
        gone = stats.wait_for(lambda k, b: k == "sub" and b.get("unavailable") is True)
        assert (gone["mode"], gone["channel"]) == ("response", "lp")
        client.close()
    finally:
        stats.close()
        gw.__exit__(None, None, None)


def test_reports_come_every_interval_with_every_counter(ctx, stats_spec):
    gw, stats = started(ctx, stats_spec, conf="stats_report_interval=1\n")
    try:
        client = hold(gw.port, "/stream?channel=rc", b"[stream opened]")
        stats.wait_for(lambda k, b: k == "sub")
        publish(gw, {"channel": "rc", "formats": {"http-stream": {"content": "x\n"}}})
        stats.wait_for(lambda k, b: k == "message")
        report = stats.wait_for(lambda k, b: k == "report" and b["sent"] >= 1)
        assert set(report) == REPORT_FIELDS | {"from"}
        assert all(isinstance(report[f], int) for f in REPORT_FIELDS)
        assert report["received"] == 1
        assert report["connections"] >= 1 and report["minutes"] >= 1
        assert report["client-header-bytes-sent"] > 0
        # The held stream is still open: the next report still counts it.
        later = stats.wait_for(lambda k, b: k == "report")
        assert later["connections"] >= 1
        client.close()
    finally:
        stats.close()
        gw.__exit__(None, None, None)


def test_json_format(ctx, stats_spec):
    gw, stats = started(ctx, stats_spec, conf="stats_format=json\n")
    try:
        client = hold(gw.port, "/stream?channel=jc", b"[stream opened]")
        sub = stats.wait_for(lambda k, b: k == "sub")
        assert sub["subscribers"] == 1 and sub["ttl"] == 60
        client.close()
        stats.wait_for(lambda k, b: k == "sub" and b.get("unavailable") is True)
        assert stats.seen and all(fmt == "J" for _, fmt, _ in stats.seen)
    finally:
        stats.close()
        gw.__exit__(None, None, None)


def test_conncheck_knows_the_connections_the_stats_name(ctx, stats_spec):
    """The command socket's conncheck answers from the same table: a held stream's id exists,
    a finished request's does not."""
    command_spec = f"tcp://127.0.0.1:{free_port()}"
    gw, stats = started(ctx, stats_spec, conf=f"command_spec={command_spec}\n")
    try:
        get(gw.port, "/")
        done = stats.wait_for(lambda k, b: k == "conn" and b.get("unavailable") is True)
        client = hold(gw.port, "/stream?channel=cc", b"[stream opened]")
        held = stats.wait_for(lambda k, b: k == "conn" and "unavailable" not in b)
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, 10000)
        req.connect(command_spec)
        ids = [held["id"], done["id"], "condure:1-0-a"]
        req.send(tnetstring.dumps({b"id": b"q", b"method": b"conncheck",
                                   b"args": {b"ids": [i.encode() for i in ids]}}))
        reply = text(tnetstring.loads(req.recv()))
        assert reply == {"id": "q", "success": True, "value": [held["id"]]}
        req.close(linger=0)
        client.close()
    finally:
        stats.close()
        gw.__exit__(None, None, None)


def test_a_websocket_is_a_ws_connection_for_as_long_as_it_is_open(ctx, stats_spec):
    from websockets.sync.client import connect
    from woh_backend import WohBackend, WohReply, accept

    def handler(request):
        return accept() if request.has("OPEN") else WohReply()

    with WohBackend(handler) as backend:
        routes = [f"*,path_beg=/ws {backend.address},over_http", "* test"]
        gw, stats = started(ctx, stats_spec, routes=routes)
        try:
            with connect(f"ws://127.0.0.1:{gw.port}/ws", open_timeout=10, proxy=None) as ws:
                conn = stats.wait_for(lambda k, b: k == "conn" and b.get("type") == "ws")
                ws.send("hello")
                backend.wait_for_event("TEXT", b"hello")
                time.sleep(0.3)
                gone = [b for k, _, b in stats.seen
                        if k == "conn" and b.get("id") == conn["id"] and b.get("unavailable")]
                assert not gone, "the connection is still open"
            stats.wait_for(lambda k, b: k == "conn" and b.get("id") == conn["id"]
                           and b.get("unavailable") is True)
        finally:
            stats.close()
            gw.__exit__(None, None, None)
