"""The scenarios' WebSocket backends (spec 7): a WebSocket-over-HTTP backend following a script
(7.2), and a native WebSocket backend (7.1). Each records what it saw as transcript entries, in
order, with the values that differ from run to run replaced by stable stand-ins.

A WebSocket-over-HTTP script maps an event kind to a reply: "OPEN", "PING" and "CLOSE" to one
reply, "TEXT" and "BINARY" to {content: reply}, where the content "*" matches any (a BINARY
content is written in hex). ECHO as a reply sends the event back; a list of replies is answered
in turn, the last one repeating. A request is answered with the replies of its events joined:
their events in order, their header lists, and the first status, body or content type one of
them sets. A reply is a dict of `status` (200), `headers` (list of pairs), `events` (list of
tuples: ("OPEN",), ("TEXT", str), ("BINARY", bytes), ("PING", str), ("PONG", str), ("CLOSE",
code, reason), ("DISCONNECT",)), and instead of events a `body` (str), and `content_type` (the
events type by default). With "all_headers" the backend records every request header, not only
the ones compared by default (WOH_HEADERS, Meta-*, Connection-Id).

A native script: `extension` (the Sec-WebSocket-Extensions value of the 101, None for none),
`on_open` (messages sent first) and `replies` ({received text: messages}); a message is a str
(text frame), bytes (binary frame) or ("close", code, reason).

With DIFF_DEBUG set in the environment, each observation is also printed with its time, to see
the timings a new scenario has to allow for.
"""

import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
import wsevents  # noqa: E402

ECHO = "{echo}"
# The request headers a WebSocket-over-HTTP request is compared on, besides Meta-* (all kept)
# and Connection-Id (kept as a label per connection). A script with "all_headers" records every
# header, with the run-dependent values of VARYING replaced.
WOH_HEADERS = ("accept", "content-type", "sec-websocket-extensions")
VARYING = {"grip-sig": "<jwt>", "content-length": "<n>"}
NATIVE_HEADERS = ("sec-websocket-extensions", "sec-websocket-protocol")
WAIT = 5.0


class Observations:
    """What a backend saw, as transcript entries; `take(count)` hands out the entries not handed
    out yet, first waiting (bounded) until there are at least `count` of them."""

    def __init__(self):
        self.entries, self.taken = [], 0
        self.cond = threading.Condition()

    def add(self, entry):
        if os.environ.get("DIFF_DEBUG"):
            print(f"{time.monotonic():.3f} backend saw {entry}", file=sys.stderr)
        with self.cond:
            self.entries.append(entry)
            self.cond.notify_all()

    def take(self, count, wait=WAIT):
        deadline = time.monotonic() + wait
        with self.cond:
            while len(self.entries) - self.taken < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            new, self.taken = self.entries[self.taken:], len(self.entries)
        return new


class Labels:
    """Stable stand-ins for values that differ between runs: the first value seen is
    "<prefix>-1", the next new one "<prefix>-2", and so on."""

    def __init__(self, prefix):
        self.prefix, self.seen = prefix, {}

    def __call__(self, value):
        return self.seen.setdefault(value, f"{self.prefix}-{len(self.seen) + 1}")


def event_entry(kind, content):
    if content is None:
        return [kind]
    if kind == "CLOSE":
        code, reason = wsevents.close_parts(content)
        return [kind, code, reason.decode("utf-8", "replace")]
    if kind == "BINARY":
        return [kind, content.hex()]
    return [kind, content.decode("utf-8", "replace")]


def encode_event(event):
    kind, rest = event[0], event[1:]
    if kind == "CLOSE" and rest and rest[0] is not None:
        return wsevents.close(rest[0], rest[1].encode())
    if not rest or rest[0] is None:
        return (kind, None)
    return (kind, rest[0].encode() if isinstance(rest[0], str) else rest[0])


class WohScriptBackend:
    """A WebSocket-over-HTTP backend on a free loopback port, answering by its script."""

    def __init__(self, script):
        self.script = script
        self.seen = Observations()
        self.connection_ids = Labels("conn")
        self.answered = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                events = wsevents.decode(self.rfile.read(length) if length else b"")
                outer.seen.add(outer.observe(self.headers, events))
                status, headers, body, content_type = outer.answer(events)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.target = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def observe(self, headers, events):
        """One request as a transcript entry: its events and the headers compared."""
        kept = {}
        for name, value in headers.items():
            low = name.lower()
            if low == "connection-id":
                value = self.connection_ids(value)
            elif self.script.get("all_headers"):
                value = VARYING.get(low, value)
            elif low not in WOH_HEADERS and not low.startswith("meta-"):
                continue
            kept.setdefault(low, []).append(value)
        return {"woh": [event_entry(k, c) for k, c in events],
                "headers": {name: ", ".join(values) for name, values in sorted(kept.items())}}

    def answer(self, events):
        """(status, headers, body bytes, content type) for a request's events."""
        replies = [r for r in (self.reply_for(kind, content) for kind, content in events) if r]
        status = next((r["status"] for r in replies if "status" in r), 200)
        content_type = next((r["content_type"] for r in replies if "content_type" in r),
                            wsevents.CONTENT_TYPE)
        headers = [tuple(h) for r in replies for h in r.get("headers", [])]
        body = next((r["body"] for r in replies if "body" in r), None)
        if body is None:
            out = [encode_event(e) for r in replies for e in r.get("events", [])]
            return status, headers, wsevents.encode(out), content_type
        return status, headers, body.encode(), content_type

    def reply_for(self, kind, content):
        entry, key = self.script.get(kind), kind
        if isinstance(entry, dict) and kind in ("TEXT", "BINARY"):
            key = content.decode("utf-8", "replace") if kind == "TEXT" else content.hex()
            entry = entry.get(key, entry.get("*"))
        if isinstance(entry, list):
            # Replies answered in turn, the last one repeating.
            count = self.answered[(kind, key)] = self.answered.get((kind, key), 0) + 1
            entry = entry[min(count, len(entry)) - 1]
        if entry != ECHO:
            return entry
        if kind == "CLOSE":
            return {"events": [("CLOSE", *close_args(content))]}
        return {"events": [(kind,) if content is None else (kind, content)]}

    def step_seen(self, count, wait):
        return self.seen.take(count, wait)

    def observed(self):
        """What arrived after the last backend step (expected: nothing)."""
        time.sleep(0.5)
        return {"backend-rest": self.seen.take(0)}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def close_args(content):
    """A CLOSE event's content as (code, reason text); (None, "") without a code."""
    code, reason = wsevents.close_parts(content)
    return code, reason.decode("utf-8", "replace")


class NativeScriptBackend:
    """A native WebSocket backend (the `websockets` library's threaded server) by its script;
    it records each handshake's compared headers, each message it got, and how it was closed."""

    def __init__(self, script):
        from websockets.sync.server import serve

        self.script = script
        self.seen = Observations()
        self.server = serve(self.handle, "127.0.0.1", 0, process_response=self.process_response,
                            compression=None, ping_interval=None, close_timeout=2)
        self.target = f"127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def process_response(self, connection, request, response):
        headers = {name: request.headers.get(name) for name in NATIVE_HEADERS
                   if request.headers.get(name) is not None}
        self.seen.add({"native-handshake": request.path, "headers": headers})
        if self.script.get("extension") is not None:
            response.headers["Sec-WebSocket-Extensions"] = self.script["extension"]
        return None

    def handle(self, ws):
        from websockets.exceptions import ConnectionClosed

        try:
            for message in self.script.get("on_open", []):
                self.send(ws, message)
            for message in ws:
                self.seen.add({"native-got": native_entry(message)})
                for reply in self.script.get("replies", {}).get(message, []):
                    self.send(ws, reply)
        except ConnectionClosed:
            pass
        self.seen.add({"native-closed": [ws.close_code, ws.close_reason]})

    @staticmethod
    def send(ws, message):
        if isinstance(message, tuple) and message[0] == "close":
            ws.close(message[1], message[2])
        else:
            ws.send(message)

    def step_seen(self, count, wait):
        return self.seen.take(count, wait)

    def observed(self):
        time.sleep(0.5)
        return {"backend-rest": self.seen.take(0)}

    def close(self):
        self.server.shutdown()


def native_entry(message):
    return ["binary", message.hex()] if isinstance(message, bytes) else ["text", message]
