"""A WebSocket client on a bare socket, for what a client library will not do: send frames that
break RFC 6455, or vanish without a close."""

import base64
import os
import socket
import struct

KEY = base64.b64encode(b"0123456789abcdef").decode()


def connect(port, path="/", timeout=5.0):
    """A socket that completed the opening handshake with 127.0.0.1:`port`; raises if the answer
    is not 101."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed during handshake: {head!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"handshake refused: {head!r}")
    return sock


def frame(opcode, payload, masked=True, fin=True):
    """One frame; `opcode` may be any 4-bit value, reserved ones included."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = struct.pack(">BB", first, mask_bit | size)
    elif size < 1 << 16:
        head = struct.pack(">BBH", first, mask_bit | 126, size)
    else:
        head = struct.pack(">BBQ", first, mask_bit | 127, size)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(sock):
    """The next frame from the server as (opcode, payload); None at the end of the stream."""
    head = _read_exact(sock, 2)
    if head is None:
        return None
    size = head[1] & 0x7F
    if size == 126:
        size = struct.unpack(">H", _read_exact(sock, 2))[0]
    elif size == 127:
        size = struct.unpack(">Q", _read_exact(sock, 8))[0]
    return head[0] & 0x0F, _read_exact(sock, size) or b""


def read_close(sock):
    """Reads frames until a close; returns its status code (None without one, or when the stream
    ended without a close frame) and whether a close frame came at all."""
    while True:
        got = read_frame(sock)
        if got is None:
            return None, False
        opcode, payload = got
        if opcode == 0x8:
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            return code, True


def _read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None if not data else data
        data += chunk
    return data
