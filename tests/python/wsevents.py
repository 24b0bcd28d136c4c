"""WebSocket-over-HTTP event bodies (spec §7.2), written independently of gripway's codec so
the tests check gripway against a second reading of the format.

An event is a pair `(TYPE, content)`: `TYPE` is `OPEN`, `TEXT`, `BINARY`, `PING`, `PONG`,
`CLOSE` or `DISCONNECT`, and `content` is bytes, or None for an event without content."""

import json
import struct

CONTENT_TYPE = "application/websocket-events"


def encode(events):
    """The body for `events`: `TYPE\\r\\n`, or `TYPE <hex length>\\r\\n<content>\\r\\n`."""
    out = bytearray()
    for kind, content in events:
        if content is None:
            out += f"{kind}\r\n".encode()
        else:
            out += f"{kind} {len(content):x}\r\n".encode() + content + b"\r\n"
    return bytes(out)


def decode(body):
    """The events of a body; raises ValueError on a malformed one."""
    events = []
    pos = 0
    while pos < len(body):
        end = body.index(b"\r\n", pos)
        line = body[pos:end].decode("ascii")
        pos = end + 2
        kind, _, size = line.partition(" ")
        if not size:
            events.append((kind, None))
            continue
        length = int(size, 16)
        content = body[pos : pos + length]
        if len(content) != length or body[pos + length : pos + length + 2] != b"\r\n":
            raise ValueError(f"truncated {kind} event")
        events.append((kind, bytes(content)))
        pos += length + 2
    return events


def text(message):
    return ("TEXT", message.encode() if isinstance(message, str) else message)


def control(kind, **fields):
    """A `c:` control message (spec §7.3) as a TEXT event."""
    return text("c:" + json.dumps({"type": kind, **fields}))


def close(code, reason=b""):
    return ("CLOSE", struct.pack(">H", code) + reason)


def close_parts(content):
    """A CLOSE event's content as (code, reason); (None, b"") when it has no code."""
    if not content:
        return None, b""
    return struct.unpack(">H", content[:2])[0], content[2:]
