"""A WebSocket-over-HTTP backend (spec §7.2) for tests: a threaded HTTP server on a loopback
port that decodes each POST's events, asks a handler what to answer, and records every request
so a test can wait for the one it expects.

It can be stopped and started again on the same port, its open connections cut, to play a
backend that restarts."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import wsevents
from gripway_proc import free_port

# The extension a backend answers OPEN with to turn on control messages, without a prefix.
GRIP_NO_PREFIX = ("Sec-WebSocket-Extensions", 'grip; message-prefix=""')


class WohRequest:
    """One POST gripway made: its path, headers (case-insensitive `get`) and events."""

    def __init__(self, path, headers, events):
        self.path = path
        self.headers = headers
        self.events = events

    @property
    def connection_id(self):
        return self.headers.get("Connection-Id")

    def has(self, kind, content=None):
        return any(k == kind and (content is None or c == content) for k, c in self.events)


class WohReply:
    """What the backend answers: events (with the events content type) unless `body` is given."""

    def __init__(self, events=(), headers=(), status=200, body=None, content_type=None):
        self.events = list(events)
        self.headers = list(headers)
        self.status = status
        self.body = body
        self.content_type = content_type


def accept(*events, headers=()):
    """The usual answer to OPEN: OPEN, the grip extension without prefix, then `events`."""
    return WohReply([("OPEN", None), *events], headers=[GRIP_NO_PREFIX, *headers])


class WohBackend:
    """`handler(WohRequest) -> WohReply`, served on 127.0.0.1:`port`; a context manager."""

    def __init__(self, handler, port=None):
        self.handler = handler
        self.port = port or free_port()
        self.requests = []
        self._cond = threading.Condition()
        self._server = None
        self._thread = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        self._server = _Server(("127.0.0.1", self.port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        """Stops listening and cuts every open connection, as a dying backend does."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.cut_connections()
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def record(self, request):
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()

    def wait_for(self, predicate, timeout=5.0):
        """The first recorded request for which `predicate` holds, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for request in self.requests:
                    if predicate(request):
                        return request
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching request; got {[r.events for r in self.requests]}")
                self._cond.wait(left)

    def wait_for_event(self, kind, content=None, timeout=5.0):
        return self.wait_for(lambda r: r.has(kind, content), timeout)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, backend):
        self.backend = backend
        self.connections = set()
        self.lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        with self.lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self):
        with self.lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        backend = self.server.backend
        request = WohRequest(self.path, self.headers, wsevents.decode(body))
        backend.record(request)
        reply = backend.handler(request)
        if reply.body is None:
            out = wsevents.encode(reply.events)
            content_type = reply.content_type or wsevents.CONTENT_TYPE
        else:
            out = reply.body
            content_type = reply.content_type or "text/plain"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(out)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass
