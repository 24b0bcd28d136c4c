"""WebSockets end to end (spec §7): real clients (the `websockets` library, or a bare socket for
what a library will not send) through the real gripway binary to real backends:
WebSocket-over-HTTP backends (`woh_backend`, a threaded HTTP server) and native WebSocket
backends (`native_backend`), with publishes through the HTTP publish API.

Every wait is bounded: `recv` and `wait_for` time out. A test that needs something *not* to
happen publishes or sends a later message and checks that only the later one arrives, or, where
nothing later could show it, waits a short fixed time and looks. Known gripway bugs are strict
xfails: their reasons say what gripway does and what it should do."""

import base64
import email.message
import hashlib
import hmac
import json
import struct
import threading
import time
import urllib.request

import pytest
import tnetstring
import zmq
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response
from websockets.sync.client import connect

import raw_ws
import wsevents
from gripway_proc import Gripway, free_port
from native_backend import NativeBackend
from woh_backend import WohBackend, WohReply, WohRequest, accept

TIMEOUT = 5.0
# Long enough for a failed WebSocket-over-HTTP request's first retry (1 s plus up to 1 s of jitter).
RETRY_TIMEOUT = 10.0

_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def ws_client(gw, path="/", **kwargs):
    return connect(
        f"ws://127.0.0.1:{gw.port}{path}",
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        ping_interval=None,
        proxy=None,
        **kwargs,
    )


def publish(gw, channel, **ws_message):
    """Publishes one item with a `ws-message` format through the HTTP publish API."""
    body = json.dumps({"items": [{"channel": channel, "formats": {"ws-message": ws_message}}]})
    request = urllib.request.Request(
        f"{gw.control_uri}/publish/",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with _no_proxy.open(request, timeout=TIMEOUT) as response:
        assert response.status == 200


def recv_all(ws, count, timeout=TIMEOUT):
    return [ws.recv(timeout=timeout) for _ in range(count)]


def closed_by_server(ws):
    """The close frame the client got (code, reason), reading until the connection ends."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None, "the connection ended without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def woh_route(backend, options=""):
    return f"* {backend.address},over_http{options}"


# === WebSocket-over-HTTP backends ===


def echo(request):
    """Accepts OPEN; sends TEXT, BINARY and CLOSE back as they came."""
    if request.has("OPEN"):
        return accept(headers=[("X-Backend", "echo"), ("Set-Meta-Seen", "1")])
    return WohReply([(k, c) for k, c in request.events if k in ("TEXT", "BINARY", "CLOSE")])


def subscriber(channel):
    """Accepts OPEN by subscribing to `channel`, then says `ready` (once the client reads it,
    the subscription is in place: gripway acts on a response's events in order)."""

    def handler(request):
        if request.has("OPEN"):
            return accept(wsevents.control("subscribe", channel=channel), wsevents.text("ready"))
        return WohReply()

    return handler


def test_woh_echo_and_the_requests_gripway_makes():
    with WohBackend(echo) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw, "/chat?x=1") as ws:
            assert ws.response.headers["X-Backend"] == "echo"
            for hidden in ("Set-Meta-Seen", "Content-Type", "Sec-WebSocket-Extensions"):
                assert hidden not in ws.response.headers
            ws.send("hello")
            assert ws.recv(timeout=TIMEOUT) == "hello"
            ws.send(b"\x00\x01\xff")
            assert ws.recv(timeout=TIMEOUT) == b"\x00\x01\xff"
        opened = backend.wait_for_event("OPEN")
        assert opened.events == [("OPEN", None)]
        assert opened.path == "/chat?x=1"
        assert opened.headers["Content-Type"] == "application/websocket-events"
        assert opened.headers["Accept"] == "application/websocket-events"
        assert opened.headers["Sec-WebSocket-Extensions"] == "grip"
        assert opened.headers["Content-Length"] == "6"  # exactly "OPEN\r\n"
        assert opened.headers["Connection-Id"]
        closed = backend.wait_for_event("CLOSE")
        assert wsevents.close_parts(closed.events[-1][1]) == (1000, b"")


def test_woh_client_close_reaches_backend_with_code_and_reason():
    with WohBackend(echo) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            ws.close(4100, "bye now")
        closed = backend.wait_for_event("CLOSE")
        assert wsevents.close_parts(closed.events[0][1]) == (4100, b"bye now")


def test_woh_client_close_is_answered_with_the_backends_close():
    with WohBackend(echo) as backend, Gripway([woh_route(backend)]) as gw:
        sock = raw_ws.connect(gw.port)
        sock.sendall(raw_ws.frame(0x8, struct.pack(">H", 1000) + b"bye"))
        backend.wait_for_event("CLOSE")
        assert raw_ws.read_close(sock) == (1000, True)
        sock.close()


def test_woh_publish_text_binary_then_close_with_code_and_reason():
    with WohBackend(subscriber("news")) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            assert ws.recv(timeout=TIMEOUT) == "ready"
            publish(gw, "news", content="headline")
            publish(gw, "news", **{"content-bin": base64.b64encode(b"\x00\xfe").decode()})
            publish(gw, "elsewhere", content="not for us")
            publish(gw, "news", action="close", code=4001, reason="gone")
            assert recv_all(ws, 2) == ["headline", b"\x00\xfe"]
            assert closed_by_server(ws) == (4001, "gone")


def test_woh_unsubscribe_stops_deliveries():
    def handler(request):
        if request.has("OPEN"):
            return accept(
                wsevents.control("subscribe", channel="a"),
                wsevents.control("subscribe", channel="b"),
                wsevents.text("ready"),
            )
        if request.has("TEXT", b"leave a"):
            return WohReply([wsevents.control("unsubscribe", channel="a"), wsevents.text("left")])
        return WohReply()

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            assert ws.recv(timeout=TIMEOUT) == "ready"
            publish(gw, "a", content="a1")
            assert ws.recv(timeout=TIMEOUT) == "a1"
            ws.send("leave a")
            assert ws.recv(timeout=TIMEOUT) == "left"
            publish(gw, "a", content="a2")
            publish(gw, "b", content="b1")
            # Both publishes go through one hub in order: a2 would have come first.
            assert ws.recv(timeout=TIMEOUT) == "b1"


def test_woh_ping_and_pong_both_ways():
    def handler(request):
        if request.has("OPEN"):
            return accept(wsevents.control("subscribe", channel="p"), wsevents.text("ready"))
        if request.has("TEXT", b"ping me"):
            return WohReply([("PING", b"from-backend")])
        return WohReply()

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            assert ws.recv(timeout=TIMEOUT) == "ready"
            assert ws.ping(b"from-client").wait(TIMEOUT), "no pong for the client's ping"
            backend.wait_for_event("PING", b"from-client")
            # The client library answers pings itself: its pong goes to the backend.
            ws.send("ping me")
            backend.wait_for_event("PONG", b"from-backend")
            publish(gw, "p", type="ping", content="published")
            backend.wait_for_event("PONG", b"published")


def test_woh_published_ping_and_pong_frames():
    with WohBackend(subscriber("p")) as backend, Gripway([woh_route(backend)]) as gw:
        sock = raw_ws.connect(gw.port)
        assert raw_ws.read_frame(sock) == (0x1, b"ready")
        publish(gw, "p", type="pong", content="unsolicited")
        publish(gw, "p", type="ping")
        assert raw_ws.read_frame(sock) == (0xA, b"unsolicited")
        assert raw_ws.read_frame(sock) == (0x9, b"")
        sock.close()


def chat_handler(gw_ref):
    """A chat room: each client is subscribed to `room` at OPEN; each TEXT is published to it."""

    def handler(request):
        if request.has("OPEN"):
            return accept(wsevents.control("subscribe", channel="room"), wsevents.text("ready"))
        for kind, content in request.events:
            if kind == "TEXT":
                publish(gw_ref[0], "room", content=content.decode())
        return WohReply()

    return handler


def test_woh_chat_between_three_clients():
    gw_ref = []
    with WohBackend(chat_handler(gw_ref)) as backend, Gripway([woh_route(backend)]) as gw:
        gw_ref.append(gw)
        with ws_client(gw) as a, ws_client(gw) as b, ws_client(gw) as c:
            clients = [a, b, c]
            for ws in clients:
                assert ws.recv(timeout=TIMEOUT) == "ready"
            for name, ws in zip("abc", clients):
                ws.send(f"hello from {name}")
            expected = {"hello from a", "hello from b", "hello from c"}
            for ws in clients:
                assert set(recv_all(ws, 3)) == expected


def test_woh_backend_restart_mid_chat_loses_no_message_and_no_client():
    gw_ref = []
    backend = WohBackend(chat_handler(gw_ref))
    backend.start()
    try:
        with Gripway([woh_route(backend)]) as gw:
            gw_ref.append(gw)
            with ws_client(gw) as a, ws_client(gw) as b, ws_client(gw) as c:
                clients = [a, b, c]
                for ws in clients:
                    assert ws.recv(timeout=TIMEOUT) == "ready"
                a.send("before")
                for ws in clients:
                    assert ws.recv(timeout=TIMEOUT) == "before"
                backend.stop()
                for name, ws in zip("abc", clients):
                    ws.send(f"during from {name}")
                # Let gripway's first tries fail against the closed port.
                time.sleep(0.5)
                backend.start()
                expected = {"during from a", "during from b", "during from c"}
                for ws in clients:
                    assert set(recv_all(ws, 3, timeout=RETRY_TIMEOUT)) == expected
                c.send("after")
                for ws in clients:
                    assert ws.recv(timeout=TIMEOUT) == "after"
    finally:
        backend.stop()


def drop_mid_request(backend_answer):
    """A client sends `slow` and vanishes while the backend is answering it with
    `backend_answer`; returns the backend and the request of `slow`."""
    release = threading.Event()

    def handler(request):
        if request.has("TEXT", b"slow"):
            release.wait(TIMEOUT)
            return WohReply(backend_answer)
        return echo(request)

    backend = WohBackend(handler)
    with backend, Gripway([woh_route(backend)]) as gw:
        sock = raw_ws.connect(gw.port)
        sock.sendall(raw_ws.frame(0x1, b"slow"))
        slow = backend.wait_for_event("TEXT", b"slow")
        sock.close()  # no close frame: the client is simply gone
        # Let gripway see the client leave before the answer comes.
        time.sleep(0.3)
        release.set()
        gone = backend.wait_for_event("DISCONNECT", timeout=3)
    assert gone.events == [("DISCONNECT", None)]
    assert gone.connection_id == slow.connection_id


def test_woh_client_dropping_mid_request_sends_disconnect():
    drop_mid_request([])


def test_woh_client_dropping_mid_request_sends_disconnect_after_an_answer_for_it():
    drop_mid_request([wsevents.text("late")])


def test_woh_backend_down_at_open_fails_the_handshake_with_5xx():
    down = free_port()
    with Gripway([f"* 127.0.0.1:{down},over_http"]) as gw:
        with pytest.raises(InvalidStatus) as refused:
            ws_client(gw)
        assert 500 <= refused.value.response.status_code < 600


def test_woh_refusal_reaches_the_client_as_is():
    def handler(request):
        return WohReply(status=403, body=b"go away\n", headers=[("X-Why", "test")])

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with pytest.raises(InvalidStatus) as refused:
            ws_client(gw)
        response = refused.value.response
        assert response.status_code == 403
        assert response.headers["X-Why"] == "test"
        assert response.headers["Content-Type"] == "text/plain"
        assert response.body == b"go away\n"


def test_woh_events_content_type_with_parameters_is_a_refusal():
    """Spec §7.2: the Content-Type must be exactly application/websocket-events."""

    def handler(request):
        return WohReply(
            body=wsevents.encode([("OPEN", None)]),
            content_type="application/websocket-events; charset=utf-8",
        )

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with pytest.raises(InvalidStatus) as refused:
            ws_client(gw)
        assert refused.value.response.status_code == 200
        assert refused.value.response.body == b"OPEN\r\n"


def test_woh_set_meta_is_echoed_as_meta_and_client_meta_is_dropped():
    def handler(request):
        if request.has("OPEN"):
            return accept(headers=[("Set-Meta-User", "alice"), ("Set-Meta-Room", "r1")])
        if request.has("TEXT", b"one"):
            return WohReply(headers=[("Set-Meta-Room", "")])
        return WohReply()

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        forged = {"Meta-User": "mallory", "X-Custom": "kept"}
        with ws_client(gw, additional_headers=forged) as ws:
            assert "Set-Meta-User" not in ws.response.headers
            ws.send("one")
            ws.send("two")
            opened = backend.wait_for_event("OPEN")
            assert opened.headers.get("Meta-User") is None
            assert opened.headers["X-Custom"] == "kept"
            one = backend.wait_for_event("TEXT", b"one")
            assert one.headers["Meta-User"] == "alice"
            assert one.headers["Meta-Room"] == "r1"
            two = backend.wait_for_event("TEXT", b"two")
            assert two.headers["Meta-User"] == "alice"
            assert two.headers.get("Meta-Room") is None


def test_woh_connection_id_is_constant_per_connection_and_unique():
    with WohBackend(echo) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as a, ws_client(gw) as b:
            for ws, name in ((a, "a"), (b, "b")):
                ws.send(f"from {name}")
                assert ws.recv(timeout=TIMEOUT) == f"from {name}"
        id_a = backend.wait_for_event("TEXT", b"from a").connection_id
        id_b = backend.wait_for_event("TEXT", b"from b").connection_id
        assert id_a and id_b and id_a != id_b
        opens = {r.connection_id for r in backend.requests if r.has("OPEN")}
        assert opens == {id_a, id_b}
        closes = [r.connection_id for r in backend.requests if r.has("CLOSE")]
        assert sorted(closes) == sorted([id_a, id_b])


def test_woh_detach_keeps_the_client_and_its_channels():
    def handler(request):
        if request.has("OPEN"):
            return accept(wsevents.control("subscribe", channel="d"), wsevents.text("ready"))
        if request.has("TEXT", b"detach me"):
            return WohReply([wsevents.control("detach"), wsevents.text("detached")])
        return WohReply()

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            assert ws.recv(timeout=TIMEOUT) == "ready"
            ws.send("detach me")
            assert ws.recv(timeout=TIMEOUT) == "detached"
            # The backend's side closes: it hears a CLOSE without a code (as from Pushpin).
            backend.wait_for(lambda r: r.events == [("CLOSE", None)])
            detached_at = len(backend.requests)
            ws.send("after detach")
            publish(gw, "d", content="still subscribed")
            assert ws.recv(timeout=TIMEOUT) == "still subscribed"
        # The client's message and its close went nowhere: the backend side is closed.
        time.sleep(0.5)
        assert len(backend.requests) == detached_at, [r.events for r in backend.requests]


def test_woh_keep_alive_control_message():
    def handler(request):
        if request.has("OPEN"):
            keep_alive = wsevents.control("keep-alive", content="ka", timeout=1)
            return accept(keep_alive, wsevents.text("ready"))
        if request.has("TEXT", b"stop"):
            return WohReply([wsevents.control("keep-alive"), wsevents.text("stopped")])
        return WohReply()

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            assert ws.recv(timeout=TIMEOUT) == "ready"
            assert recv_all(ws, 2) == ["ka", "ka"]
            ws.send("stop")
            # A keep-alive already due may still arrive before the answer.
            while (message := ws.recv(timeout=TIMEOUT)) == "ka":
                pass
            assert message == "stopped"
            with pytest.raises(TimeoutError):
                ws.recv(timeout=1.5)


def test_woh_send_delayed_and_flush_delayed():
    def handler(request):
        if request.has("OPEN"):
            return accept(
                wsevents.control("send-delayed", content="later", timeout=1), wsevents.text("ready")
            )
        if request.has("TEXT", b"queue"):
            delayed = wsevents.control("send-delayed", content="flushed", timeout=60)
            return WohReply([delayed, wsevents.text("queued")])
        if request.has("TEXT", b"flush"):
            return WohReply([wsevents.control("flush-delayed")])
        return WohReply()

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            assert recv_all(ws, 2) == ["ready", "later"]
            ws.send("queue")
            assert ws.recv(timeout=TIMEOUT) == "queued"
            ws.send("flush")
            # Sent now, not in 60 s.
            assert ws.recv(timeout=TIMEOUT) == "flushed"


def test_woh_client_message_over_1000000_bytes_closes_with_1009():
    def handler(request):
        if request.has("OPEN"):
            return accept()
        return WohReply([wsevents.text(str(len(c))) for k, c in request.events if k == "TEXT"])

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            ws.send("a" * 1_000_000)
            assert ws.recv(timeout=TIMEOUT) == "1000000"
            ws.send("a" * 1_000_001)
            assert closed_by_server(ws)[0] == 1009


MALFORMED = {
    "unmasked": raw_ws.frame(0x1, b"hi", masked=False),
    "reserved_data_opcode": raw_ws.frame(0x3, b"hi"),
    "reserved_control_opcode": raw_ws.frame(0xB, b""),
    "rsv1_without_extension": bytes([0xC1]) + raw_ws.frame(0x1, b"hi")[1:],
}


@pytest.mark.parametrize("frame", MALFORMED.values(), ids=MALFORMED.keys())
def test_woh_malformed_frame_closes_with_1002(frame):
    with WohBackend(echo) as backend, Gripway([woh_route(backend)]) as gw:
        sock = raw_ws.connect(gw.port)
        sock.sendall(frame)
        assert raw_ws.read_close(sock) == (1002, True)
        sock.close()


@pytest.mark.parametrize("frame", MALFORMED.values(), ids=MALFORMED.keys())
def test_woh_malformed_frame_ends_only_that_connection(frame):
    with WohBackend(echo) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as bystander:
            bad = raw_ws.connect(gw.port)
            bad.sendall(frame)
            raw_ws.read_close(bad)  # returns once gripway closed it
            bad.close()
            backend.wait_for_event("DISCONNECT")
            bystander.send("still here")
            assert bystander.recv(timeout=TIMEOUT) == "still here"
        with ws_client(gw) as newcomer:
            newcomer.send("new")
            assert newcomer.recv(timeout=TIMEOUT) == "new"


def test_woh_message_prefix_defaults_to_m():
    """`grip` without `message-prefix`: backend messages need `m:` (spec §7.1-7.2)."""

    def handler(request):
        if request.has("OPEN"):
            return WohReply(
                [("OPEN", None), wsevents.text("m:one"), wsevents.text("unprefixed"),
                 ("BINARY", b"m:\x01"), wsevents.control("subscribe", channel="m"),
                 wsevents.text("m:ready")],
                headers=[("Sec-WebSocket-Extensions", "grip")],
            )
        return WohReply()

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            assert recv_all(ws, 3) == ["one", b"\x01", "ready"]
            publish(gw, "m", content="published")
            assert ws.recv(timeout=TIMEOUT) == "published"


def test_woh_without_grip_extension_control_messages_reach_the_client():
    control = 'c:{"type":"subscribe","channel":"x"}'

    def handler(request):
        if request.has("OPEN"):
            return WohReply([("OPEN", None), wsevents.text(control), wsevents.text("m:kept")])
        return WohReply()

    with WohBackend(handler) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw) as ws:
            assert recv_all(ws, 2) == [control, "m:kept"]


def verify_hs256(token, key):
    """The claims of an HS256 JWT signed with `key`; raises if the signature is wrong."""
    head, claims, sig = token.split(".")
    expected = hmac.new(key, f"{head}.{claims}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(sig + "==") == expected, "bad Grip-Sig signature"
    return json.loads(base64.urlsafe_b64decode(claims + "=="))


def test_woh_requests_carry_grip_sig():
    with WohBackend(echo) as backend, Gripway(
        [woh_route(backend)], extra_conf="[proxy]\nsig_key=woh-secret\n"
    ) as gw:
        with ws_client(gw) as ws:
            ws.send("signed")
            assert ws.recv(timeout=TIMEOUT) == "signed"
        for request in (backend.wait_for_event("OPEN"), backend.wait_for_event("TEXT")):
            claims = verify_hs256(request.headers["Grip-Sig"], b"woh-secret")
            assert claims["iss"] == "pushpin"
            assert claims["exp"] > time.time()


class ZhttpreqWohWorker(threading.Thread):
    """A libzmq REP worker (spec §2.6) serving WebSocket-over-HTTP with `handler`, as
    `WohBackend` does over HTTP."""

    def __init__(self, ctx, spec, handler):
        super().__init__(daemon=True)
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.RCVTIMEO, 100)
        self.sock.connect(spec)
        self.handler = handler
        self.requests = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                raw = self.sock.recv()
            except zmq.Again:
                continue
            packet = tnetstring.loads(raw[1:])
            headers = email.message.Message()
            for name, value in packet.get(b"headers", []):
                headers[name.decode()] = value.decode()
            request = WohRequest(packet[b"uri"].decode(), headers, wsevents.decode(packet[b"body"]))
            self.requests.append(request)
            reply = self.handler(request)
            out_headers = [[b"Content-Type", wsevents.CONTENT_TYPE.encode()]]
            out_headers += [[n.encode(), v.encode()] for n, v in reply.headers]
            self.sock.send(b"T" + tnetstring.dumps({
                b"id": packet[b"id"], b"code": 200, b"reason": b"OK",
                b"headers": out_headers, b"body": wsevents.encode(reply.events),
            }))
        self.sock.close(linger=0)


def test_woh_over_a_zhttpreq_worker():
    def handler(request):
        if request.has("OPEN"):
            return accept(wsevents.control("subscribe", channel="z"), wsevents.text("ready"))
        return echo(request)

    ctx = zmq.Context()
    spec = f"tcp://127.0.0.1:{free_port()}"
    worker = ZhttpreqWohWorker(ctx, spec, handler)
    try:
        with Gripway([f"* zhttpreq/{spec},over_http"]) as gw:
            worker.start()
            with ws_client(gw, "/z") as ws:
                assert ws.recv(timeout=TIMEOUT) == "ready"
                ws.send("over zmq")
                assert ws.recv(timeout=TIMEOUT) == "over zmq"
                publish(gw, "z", content="published")
                assert ws.recv(timeout=TIMEOUT) == "published"
    finally:
        worker.stop.set()
        worker.join(timeout=TIMEOUT)
        ctx.destroy(linger=0)
    opened, echoed = worker.requests[:2]
    assert opened.events == [("OPEN", None)]
    assert opened.path.endswith("/z")
    assert echoed.events == [("TEXT", b"over zmq")]
    assert opened.connection_id and opened.connection_id == echoed.connection_id


# === Native WebSocket backends ===


def native_route(backend, options=""):
    return f"* {backend.address}{options}"


def test_native_grip_control_messages_and_default_prefix():
    def handler(ws):
        ws.send('c:{"type":"subscribe","channel":"live"}')
        ws.send("unprefixed is dropped")
        ws.send(b"m:\x02")
        ws.send("m:ready")
        for message in ws:
            ws.send(f"m:echo {message}")

    with NativeBackend(handler, extension="grip") as backend, Gripway(
        [native_route(backend)]
    ) as gw:
        with ws_client(gw) as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            assert recv_all(ws, 2) == [b"\x02", "ready"]
            publish(gw, "live", content="published")
            assert ws.recv(timeout=TIMEOUT) == "published"
            # Client messages reach the backend unchanged, c: and m: included.
            for message in ("plain", 'c:{"type":"detach"}', "m:x"):
                ws.send(message)
                assert ws.recv(timeout=TIMEOUT) == f"echo {message}"
        assert backend.handshakes[0]["Sec-WebSocket-Extensions"] == "grip"


def test_native_empty_prefix_relays_both_ways_and_closes_with_the_backends_code():
    def handler(ws):
        ws.send('c:{"type":"subscribe","channel":"n"}')
        ws.send("ready")
        for message in ws:
            if message == "close me":
                ws.close(4000, "done")
                return
            ws.send(message)

    with NativeBackend(handler, extension='grip; message-prefix=""') as backend, Gripway(
        [native_route(backend)]
    ) as gw:
        with ws_client(gw) as ws:
            assert ws.recv(timeout=TIMEOUT) == "ready"
            ws.send("hello")
            assert ws.recv(timeout=TIMEOUT) == "hello"
            ws.send(b"\x00\x01")
            assert ws.recv(timeout=TIMEOUT) == b"\x00\x01"
            publish(gw, "n", content="published")
            assert ws.recv(timeout=TIMEOUT) == "published"
            ws.send("close me")
            assert closed_by_server(ws) == (4000, "done")


def closing_backend(closes):
    """A native backend that says `ready`, then records how the client closed."""

    def handler(ws):
        ws.send("ready")
        try:
            for _ in ws:
                pass
        finally:
            closes.append((ws.close_code, ws.close_reason))

    return handler


def wait_until(condition, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_native_client_close_reaches_the_backend():
    closes = []
    with NativeBackend(closing_backend(closes)) as backend, Gripway(
        [native_route(backend)]
    ) as gw:
        with ws_client(gw) as ws:
            assert ws.recv(timeout=TIMEOUT) == "ready"
            ws.close(4100, "client done")
        wait_until(lambda: closes)
        assert closes == [(4100, "client done")]


def test_native_client_close_is_answered():
    closes = []
    with NativeBackend(closing_backend(closes)) as backend, Gripway(
        [native_route(backend)]
    ) as gw:
        sock = raw_ws.connect(gw.port)
        assert raw_ws.read_frame(sock) == (0x1, b"ready")
        sock.sendall(raw_ws.frame(0x8, struct.pack(">H", 4100) + b"bye"))
        assert raw_ws.read_close(sock) == (4100, True)
        sock.close()


def test_native_without_grip_extension_passes_messages_unchanged():
    def handler(ws):
        ws.send('c:{"type":"subscribe","channel":"x"}')
        ws.send("m:kept")
        for message in ws:
            ws.send(message)

    with NativeBackend(handler) as backend, Gripway([native_route(backend)]) as gw:
        with ws_client(gw) as ws:
            assert recv_all(ws, 2) == ['c:{"type":"subscribe","channel":"x"}', "m:kept"]


def test_native_route_sub_option_subscribes_every_connection():
    def handler(ws):
        ws.send("ready")
        for message in ws:
            ws.send(message)

    with NativeBackend(handler) as backend, Gripway(
        [native_route(backend, ",sub=global,sub=other")]
    ) as gw:
        with ws_client(gw) as a, ws_client(gw) as b:
            for ws in (a, b):
                assert ws.recv(timeout=TIMEOUT) == "ready"
            publish(gw, "global", content="to all")
            publish(gw, "other", content="to all again")
            publish(gw, "global", action="close", code=4002, reason="bye")
            for ws in (a, b):
                assert recv_all(ws, 2) == ["to all", "to all again"]
                assert closed_by_server(ws) == (4002, "bye")


def test_native_backend_refusal_reaches_the_client():
    def refuse(connection, request):
        return Response(401, "Unauthorized", Headers([("X-Why", "native")]), b"no\n")

    with NativeBackend(lambda ws: None, process_request=refuse) as backend, Gripway(
        [native_route(backend)]
    ) as gw:
        with pytest.raises(InvalidStatus) as refused:
            ws_client(gw)
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["X-Why"] == "native"
        assert refused.value.response.body == b"no\n"


def test_native_client_message_over_1000000_bytes_closes_with_1009():
    def handler(ws):
        for message in ws:
            ws.send(str(len(message)))

    with NativeBackend(handler) as backend, Gripway([native_route(backend)]) as gw:
        with ws_client(gw) as ws:
            ws.send("a" * 1_000_000)
            assert ws.recv(timeout=TIMEOUT) == "1000000"
            ws.send("a" * 1_000_001)
            assert closed_by_server(ws)[0] == 1009


def test_native_malformed_frame_closes_with_1002():
    def handler(ws):
        for message in ws:
            ws.send(message)

    with NativeBackend(handler) as backend, Gripway([native_route(backend)]) as gw:
        sock = raw_ws.connect(gw.port)
        sock.sendall(MALFORMED["unmasked"])
        assert raw_ws.read_close(sock) == (1002, True)
        sock.close()


# === The command socket's refresh ===


def command(spec, method, args):
    """One command-socket request through a REQ socket; the decoded reply."""
    ctx = zmq.Context()
    try:
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, int(TIMEOUT * 1000))
        req.connect(spec)
        req.send(tnetstring.dumps({b"id": b"r1", b"method": method, b"args": args}))
        return tnetstring.loads(req.recv())
    finally:
        ctx.destroy(linger=0)


def test_refresh_by_connection_id_or_channel_makes_an_empty_request():
    spec = f"tcp://127.0.0.1:{free_port()}"
    with WohBackend(subscriber("room")) as backend, \
            Gripway([woh_route(backend)], extra_conf=f"command_spec={spec}\n") as gw:
        with ws_client(gw) as ws:
            assert ws.recv(timeout=TIMEOUT) == "ready"
            cid = backend.requests[0].connection_id

            def empty_requests(count):
                deadline = time.monotonic() + TIMEOUT
                while time.monotonic() < deadline:
                    if len([r for r in backend.requests if not r.events]) >= count:
                        return True
                    time.sleep(0.02)
                return False

            reply = command(spec, b"refresh", {b"cid": cid.encode()})
            assert reply[b"success"] is True, reply
            assert empty_requests(1)
            reply = command(spec, b"refresh", {b"channel": b"room"})
            assert reply[b"success"] is True, reply
            assert empty_requests(2)
            reply = command(spec, b"refresh", {b"cid": b"no-such-connection"})
            assert (reply[b"success"], reply[b"condition"]) == (False, b"item-not-found")
            publish(gw, "room", action="refresh")
            assert empty_requests(3)


def test_woh_a_client_that_outruns_its_backend_is_paced_not_dropped():
    # Past 2,000,000 queued bytes gripway stops reading the client until requests take them:
    # every message still reaches the backend, in order.
    def slow(request):
        if request.has("OPEN"):
            return accept()
        time.sleep(0.3)
        return WohReply()

    sizes = [900_000 + n for n in range(5)]
    with WohBackend(slow) as backend, Gripway([woh_route(backend)]) as gw:
        with ws_client(gw, max_size=None) as ws:
            for size in sizes:
                ws.send(b"x" * size)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                got = [len(c) for r in backend.requests for k, c in r.events if k == "BINARY"]
                if len(got) == len(sizes):
                    break
                time.sleep(0.1)
            assert got == sizes
