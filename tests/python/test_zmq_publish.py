"""ZeroMQ publish inputs (spec 5.3, 5.4) against libzmq through pyzmq: PUSH into the PULL input
in all three payload forms, over tcp and ipc; XPUB into the SUB input, which subscribes only to
channels that have listeners."""

import json
import socket
import time

import pytest
import tnetstring
import zmq

from gripway_proc import Gripway, free_port


def hold_stream(port, channel):
    """A client holding /stream on the built-in test route; returns the socket once open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET /stream?channel={channel} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    read_until(sock, b"[stream opened]")
    return sock


def read_until(sock, needle, timeout=10.0):
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    assert needle in data, data
    return data


def tn(value):
    """tnetstring bytes for `value`, its strings as bytes (tnetstring3 writes bytes only)."""
    def b(v):
        if isinstance(v, dict):
            return {b(k): b(x) for k, x in v.items()}
        if isinstance(v, list):
            return [b(x) for x in v]
        return v.encode() if isinstance(v, str) else v
    return tnetstring.dumps(b(value))


def item(channel, content):
    return {"channel": channel, "formats": {"http-stream": {"content": content}}}


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_push_into_pull_in_every_payload_form(ctx, tmp_path, transport):
    spec = (f"tcp://127.0.0.1:{free_port()}" if transport == "tcp"
            else f"ipc://{tmp_path}/gripway-pull")
    with Gripway(["* test"], extra_conf=f"push_in_spec={spec}\n") as gw:
        client = hold_stream(gw.port, "zp")
        push = ctx.socket(zmq.PUSH)
        push.connect(spec)
        push.send(tn(item("zp", "bare\n")))
        push.send(b"T" + tn(item("zp", "tagged\n")))
        push.send(b"J" + json.dumps(item("zp", "json\n")).encode())
        push.send(b"Jnot json")  # dropped and logged; what follows still arrives
        push.send(b"J" + json.dumps(item("zp", "after\n")).encode())
        data = read_until(client, b"after\n")
        order = [data.index(w) for w in (b"bare\n", b"tagged\n", b"json\n", b"after\n")]
        assert order == sorted(order)
        client.close()
        push.close(linger=0)


def test_sub_follows_the_channels_that_have_listeners(ctx):
    port = free_port()
    with Gripway(["* test"], extra_conf=f"push_in_sub_specs=tcp://127.0.0.1:{port}\n") as gw:
        xpub = ctx.socket(zmq.XPUB)
        xpub.setsockopt(zmq.RCVTIMEO, 10000)
        xpub.connect(f"tcp://127.0.0.1:{port}")
        client = hold_stream(gw.port, "zs")
        assert xpub.recv() == b"\x01zs"
        # A message for a channel nobody holds is not delivered; the held one is.
        xpub.send_multipart([b"other", b"J" + json.dumps({"formats": {"http-stream": {"content": "no\n"}}}).encode()])
        xpub.send_multipart([b"zs", b"J" + json.dumps({"formats": {"http-stream": {"content": "via sub\n"}}}).encode()])
        data = read_until(client, b"via sub\n")
        assert b"no\n" not in data
        client.close()
        assert xpub.recv() == b"\x00zs"
        xpub.close(linger=0)


def test_sub_connects_to_a_bound_xpub_when_configured(ctx):
    port = free_port()
    xpub = ctx.socket(zmq.XPUB)
    xpub.setsockopt(zmq.RCVTIMEO, 10000)
    xpub.bind(f"tcp://127.0.0.1:{port}")
    conf = f"push_in_sub_specs=tcp://127.0.0.1:{port}\npush_in_sub_connect=true\n"
    with Gripway(["* test"], extra_conf=conf) as gw:
        client = hold_stream(gw.port, "zc")
        assert xpub.recv() == b"\x01zc"
        xpub.send_multipart([b"zc", tn({"formats": {"http-stream": {"content": "connected\n"}}})])
        read_until(client, b"connected\n")
        client.close()
    xpub.close(linger=0)


def command(ctx, spec, method, args=None):
    """One request on the command socket through a REQ client; the decoded reply."""
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, 10000)
    req.connect(spec)
    request = {"id": "r1", "method": method}
    if args is not None:
        request["args"] = args
    req.send(tn(request))
    reply = tnetstring.loads(req.recv())
    req.close(linger=0)
    return reply


def test_command_socket_answers_as_pushpin(ctx):
    pull = f"tcp://127.0.0.1:{free_port()}"
    spec = f"tcp://127.0.0.1:{free_port()}"
    with Gripway(["* test"], extra_conf=f"push_in_spec={pull}\ncommand_spec={spec}\n") as gw:
        uris = command(ctx, spec, "get-zmq-uris")
        assert uris == {b"id": b"r1", b"success": True,
                        b"value": {b"command": spec.encode(), b"publish-pull": pull.encode()}}
        assert command(ctx, spec, "nope")[b"condition"] == b"method-not-found"
        assert command(ctx, spec, "conncheck")[b"condition"] == b"bad-request"
        assert command(ctx, spec, "conncheck", {"ids": ["condure:1-0-a"]})[b"value"] == []
        bad = command(ctx, spec, "publish", {"items": [{"channel": "c"}]})
        assert bad[b"condition"] == b"bad-request"
        assert bad[b"value"].startswith(b"Invalid format: ")
        client = hold_stream(gw.port, "zcmd")
        ok = command(ctx, spec, "publish", {"items": [item("zcmd", "by command\n")]})
        assert ok == {b"id": b"r1", b"success": True, b"value": None}
        read_until(client, b"by command\n")
        assert command(ctx, spec, "recover")[b"success"] is True
        client.close()


@pytest.mark.parametrize("require_subscribers", [False, True])
def test_gripcontrol_publishes_over_zmq_after_discovering_the_sockets(require_subscribers):
    """GripPubControl with control_zmq_uri asks the command socket for get-zmq-uris, then
    publishes over PUSH, or with require_subscribers over PUB to the SUB input."""
    from gripcontrol import GripPubControl

    pull = f"tcp://127.0.0.1:{free_port()}"
    sub = f"tcp://127.0.0.1:{free_port()}"
    spec = f"tcp://127.0.0.1:{free_port()}"
    conf = f"push_in_spec={pull}\npush_in_sub_specs={sub}\ncommand_spec={spec}\n"
    with Gripway(["* test"], extra_conf=conf) as gw:
        client = hold_stream(gw.port, "gz")
        pub = GripPubControl({"control_zmq_uri": spec, "require_subscribers": require_subscribers})
        # PUB drops messages until its subscriptions arrive, PUSH until it connects: publish a
        # few times and expect at least one.
        deadline = time.monotonic() + 10
        data = b""
        client.settimeout(0.3)
        while b"over zmq\n" not in data and time.monotonic() < deadline:
            pub.publish_http_stream("gz", "over zmq\n")
            try:
                data += client.recv(65536)
            except socket.timeout:
                pass
        pub.close()
        assert b"over zmq\n" in data
        client.close()


def test_a_several_mib_item_arrives_whole(ctx):
    spec = f"tcp://127.0.0.1:{free_port()}"
    with Gripway(["* test"], extra_conf=f"push_in_spec={spec}\n") as gw:
        client = hold_stream(gw.port, "big")
        push = ctx.socket(zmq.PUSH)
        push.connect(spec)
        content = ("0123456789abcdef" * (4 * 1024 * 1024 // 16)) + "END\n"  # 4 MiB and a marker
        push.send(b"T" + tn(item("big", content)))
        data = read_until(client, b"END\n", timeout=20)
        assert data.count(b"0123456789abcdef") == 4 * 1024 * 1024 // 16
        client.close()
        push.close(linger=0)
