"""The scenarios' WebSocket clients (spec 7): a bare-socket client per name, so that a scenario
controls every frame (a close with any code, a drop without a close) and the transcript shows
exactly what came back.

What a client receives is written as small lists: ["text", str], ["binary", hex], ["ping", str],
["pong", str], ["close", code, reason] (code None for a close without one), ["eof"] when the
server ended the TCP stream, ["timeout"] when nothing came within the wait.
"""

import base64
import os
import socket
import struct
import time

# A fixed key, so the handshake request is the same in every run (its accept value is too).
KEY = base64.b64encode(b"gripway-diff-key").decode()
# Handshake response fields that differ from run to run or server to server for no reason a
# client sees: the Date and Server fields.
DROP = {"date", "server"}
OPCODES = {0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping", 0xA: "pong"}
SEND_OPCODES = {"text": 0x1, "binary": 0x2, "close": 0x8, "ping": 0x9, "pong": 0xA}
WAIT = 5.0


class WsClient:
    """One client connection: the socket, bytes read past the last frame, and whether this side
    has sent its close (then a server's close is not answered again)."""

    def __init__(self, port, path, extra):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buffer = b""
        self.closed_sent = False
        self.ended = False
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())

    def handshake(self, wait=WAIT):
        """The response to the opening handshake: status line, sorted fields (names lower-cased,
        Date and Server dropped) and, when the answer is not 101, its body (and no Connection
        field); or {"status":
        "timeout"} / {"status": "eof"} when no whole answer came within `wait` seconds."""
        head = self._read_until(b"\r\n\r\n", wait)
        if not isinstance(head, bytes):
            return {"status": head[0]}
        lines = head.decode("latin-1").split("\r\n")
        fields = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() not in DROP:
                fields.append([name.strip().lower(), value.strip()])
        if lines[0].startswith("HTTP/1.1 101"):
            return {"status": lines[0], "fields": sorted(fields)}
        length = next((int(v) for n, v in fields if n == "content-length"), None)
        body = self._read_body(length).decode("utf-8", "replace")
        # As harness.normalise: whether the connection stays open after a refusal is framing.
        fields = [f for f in fields if f[0] != "connection"]
        return {"status": lines[0], "fields": sorted(fields), "body": body}

    def send(self, kind, payload=None):
        """One masked frame: `payload` a str (text, ping, pong), bytes (binary), or for a close
        None (no code) or (code, reason)."""
        if kind == "close":
            self.closed_sent = True
            data = b"" if payload is None else struct.pack(">H", payload[0]) + payload[1].encode()
        else:
            data = payload.encode() if isinstance(payload, str) else (payload or b"")
        self.sock.sendall(frame(SEND_OPCODES[kind], data))

    def receive(self, count, wait=WAIT):
        """Up to `count` entries, each within `wait` seconds of the last; stops after the end of
        the stream. A server's close is answered with the same code, as a client does."""
        out = []
        while len(out) < count and not self.ended:
            got = self._read_message(time.monotonic() + wait)
            out.append(got)
            if got[0] == "close" and not self.closed_sent:
                self.send("close", None if got[1] is None else (got[1], ""))
            if got[0] in ("eof", "timeout"):
                self.ended = got[0] == "eof"
                break
        return out

    def drop(self):
        self.sock.close()

    def _read_message(self, deadline):
        """One whole message (fragments joined) or control frame, as a transcript entry."""
        kind, payload = None, b""
        while True:
            got = self._read_frame(deadline)
            if got is None or got[0] in ("eof", "timeout"):
                return got
            fin, opcode, data = got
            if opcode in (0x8, 0x9, 0xA):
                return entry(OPCODES[opcode], data)
            kind = kind or OPCODES.get(opcode, f"opcode-{opcode}")
            payload += data
            if fin:
                return entry(kind, payload)

    def _read_frame(self, deadline):
        head = self._read_exact(2, deadline)
        if not isinstance(head, bytes):
            return head
        size, extra = head[1] & 0x7F, b""
        if size == 126:
            extra = self._read_exact(2, deadline)
            size = struct.unpack(">H", extra)[0] if isinstance(extra, bytes) else 0
        elif size == 127:
            extra = self._read_exact(8, deadline)
            size = struct.unpack(">Q", extra)[0] if isinstance(extra, bytes) else 0
        if not isinstance(extra, bytes):
            return extra
        data = self._read_exact(size, deadline)
        if not isinstance(data, bytes):
            return data
        return bool(head[0] & 0x80), head[0] & 0x0F, data

    def _read_exact(self, n, deadline):
        """`n` bytes, or ["eof"] / ["timeout"]."""
        while len(self.buffer) < n:
            chunk = self._recv(deadline)
            if not isinstance(chunk, bytes):
                return chunk
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return ["timeout"]
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return ["timeout"]
        except ConnectionResetError:
            return ["eof"]
        return chunk if chunk else ["eof"]

    def _read_until(self, marker, wait):
        """The bytes before `marker`, or ["eof"] / ["timeout"]."""
        deadline = time.monotonic() + wait
        while marker not in self.buffer:
            chunk = self._recv(deadline)
            if not isinstance(chunk, bytes):
                return chunk
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_body(self, length):
        deadline = time.monotonic() + WAIT
        while length is None or len(self.buffer) < length:
            chunk = self._recv(deadline)
            if not isinstance(chunk, bytes):
                break
            self.buffer += chunk
        body = self.buffer if length is None else self.buffer[:length]
        self.buffer = b""
        return body


def entry(kind, data):
    if kind == "close":
        if len(data) < 2:
            return ["close", None, ""]
        return ["close", struct.unpack(">H", data[:2])[0], data[2:].decode("utf-8", "replace")]
    if kind == "binary":
        return ["binary", data.hex()]
    return [kind, data.decode("utf-8", "replace")]


def frame(opcode, payload):
    """One final, masked client frame."""
    size = len(payload)
    if size < 126:
        head = struct.pack(">BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, size)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class WsSteps:
    """The WebSocket steps of a run (mixed into harness.Run, which holds `endpoints`, `out`
    and `ws`, the clients by name)."""

    def step_ws_open(self, name, path, extra="", wait=WAIT):
        """Opens client `name` on `path` (`extra`: more header lines); records the handshake
        answer. A refused client is kept too, so a later ws_recv can show the stream's end."""
        client = WsClient(self.endpoints.client, path, extra)
        self.ws[name] = client
        self.out.append({"ws_open": name, **client.handshake(wait)})

    def step_ws_send(self, name, kind, payload=None):
        self.ws[name].send(kind, payload)

    def step_ws_recv(self, name, count=1, wait=WAIT):
        self.out.append({"ws_recv": name, "got": self.ws[name].receive(count, wait)})

    def step_ws_drop(self, name):
        """The client goes away without a close frame."""
        self.ws.pop(name).drop()
