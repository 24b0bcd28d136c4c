"""Publishing through gripway's HTTP publish API with the published `gripcontrol` library, as
Python backends publishing to Pushpin do."""

import socket
import time

from gripcontrol import GripPubControl, HttpResponseFormat, HttpStreamFormat
from pubcontrol import Item

from gripway_proc import Gripway


def open_held(port, path):
    """A client socket with a GET sent; returns once the hold has had time to subscribe."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    time.sleep(0.3)
    return sock


def read_until(sock, needle, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    while needle not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_publish_http_stream_reaches_a_held_stream():
    with Gripway(["* test"]) as gw:
        client = open_held(gw.port, "/stream?channel=py")
        assert b"[stream opened]\n" in read_until(client, b"[stream opened]\n")
        pub = GripPubControl({"control_uri": gw.control_uri})
        pub.publish_http_stream("py", "from gripcontrol\n", blocking=True)
        assert b"from gripcontrol\n" in read_until(client, b"from gripcontrol\n")
        client.close()


def test_publish_http_response_with_id_reaches_a_long_poll():
    with Gripway(["* test"]) as gw:
        client = open_held(gw.port, "/response?channel=lp")
        pub = GripPubControl({"control_uri": gw.control_uri})
        pub.publish_http_response("lp", "published body\n", id="1", blocking=True)
        reply = read_until(client, b"published body\n")
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
        assert reply.endswith(b"\r\n\r\npublished body\n")
        client.close()


def test_publish_several_formats_in_one_item():
    with Gripway(["* test"]) as gw:
        stream = open_held(gw.port, "/stream?channel=both")
        poll = open_held(gw.port, "/response?channel=both")
        pub = GripPubControl({"control_uri": gw.control_uri})
        item = Item([HttpStreamFormat("chunk\n"), HttpResponseFormat(body="whole\n")])
        pub.publish("both", item, blocking=True)
        assert b"chunk\n" in read_until(stream, b"chunk\n")
        assert read_until(poll, b"whole\n").endswith(b"whole\n")
        stream.close()
        poll.close()
