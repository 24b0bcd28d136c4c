"""Differential scenarios: the same backend, client requests and publishes against Pushpin 1.36
and gripway, compared on what the client sees.

A scenario is a backend (responses by path), then steps: client requests, publishes, and reads
of held responses. Its transcript is what each client received, normalised: status line, header
fields (names lower-cased, Date and Server dropped, sorted: HTTP gives no meaning to the case of
names or the order of different fields; server/tests/http_backend.rs checks names' case end to
end), and the body with any chunked framing removed (whether it was chunked is recorded
separately). WebSocket scenarios (ws_scenarios.py) add what each WebSocket client received and
what the WebSocket backend saw. `record.py` writes Pushpin's transcripts to
`transcripts/`; `tests/python/test_diff_pushpin.py` runs the scenarios against gripway and
compares.
"""

import http.server
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ws_backends import NativeScriptBackend, WohScriptBackend
from ws_client import WsSteps
from zmq_steps import ZmqClient, to_text

HERE = Path(__file__).resolve().parent
# tests/python holds the zhttp/ worker (zhttp_worker.py) a scenario may use as its backend.
sys.path.insert(0, str(HERE.parent / "python"))
from gripway_proc import free_ports  # noqa: E402

TRANSCRIPTS = HERE / "transcripts"
DROP = {"date", "server"}
# A backend body that answers with the request line it received and the request body.
ECHO = "{echo}"
# Replaced, in a backend body, by the request's Grip-Last header ("none" without one).
GRIP_LAST = "{grip-last}"


class Backend:
    """An HTTP backend on a free loopback port answering each path with a fixed response."""

    def __init__(self, routes, bare=False):
        self.routes = routes
        self.bare = bare
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.seen.append((self.command, self.path, dict(self.headers), body))
                path = self.path.split("?")[0]
                answers = outer.routes.get(path, [(404, [], "not found\n")])
                # A path answers its responses in turn; the last one repeats.
                count = sum(1 for seen in outer.seen if seen[1].split("?")[0] == path)
                status, headers, payload = answers[min(count, len(answers)) - 1]
                if payload == ECHO:
                    payload = f"{self.command} {self.path}\n".encode() + body
                if isinstance(payload, str):
                    payload = payload.replace(GRIP_LAST, self.headers.get("Grip-Last", "none"))
                payload = payload.encode() if isinstance(payload, str) else payload
                if outer.bare:
                    # No Date or Server fields, for scenarios whose bodies quote the headers.
                    self.send_response_only(status)
                else:
                    self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.target = f"127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Worker:
    """A ZeroMQ REP worker behind a `zhttpreq/` route (spec 2.6), answering each path as
    Backend does; the proxy binds, the worker connects."""

    def __init__(self, routes):
        import tnetstring
        import zmq

        self.routes, self.seen = routes, []
        self.port = free_port()
        self.target = f"zhttpreq/tcp://127.0.0.1:{self.port}"
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.RCVTIMEO, 200)
        self.sock.connect(f"tcp://127.0.0.1:{self.port}")
        self.stop = threading.Event()

        def serve():
            while not self.stop.is_set():
                try:
                    raw = self.sock.recv()
                except zmq.Again:
                    continue
                req = tnetstring.loads(raw[1:])
                uri = req[b"uri"].decode()
                path = "/" + uri.split("://", 1)[1].split("/", 1)[1] if "/" in uri.split("://", 1)[1] else "/"
                self.seen.append((req[b"method"].decode(), path, req.get(b"body", b"")))
                answers = self.routes.get(path.split("?")[0], [(404, [], "not found\n")])
                count = sum(1 for seen in self.seen if seen[1].split("?")[0] == path.split("?")[0])
                status, headers, payload = answers[min(count, len(answers)) - 1]
                if payload == ECHO:
                    payload = f"{req[b'method'].decode()} {path}\n".encode() + req.get(b"body", b"")
                payload = payload.encode() if isinstance(payload, str) else payload
                reply = {b"id": req[b"id"], b"code": status, b"reason": b"OK" if status == 200 else b"Other",
                         b"headers": [[n.encode(), v.encode()] for n, v in headers], b"body": payload}
                self.sock.send(b"T" + tnetstring.dumps(reply))

        threading.Thread(target=serve, daemon=True).start()

    def close(self):
        self.stop.set()
        time.sleep(0.3)
        self.sock.close(linger=0)
        self.ctx.term()


class ZhttpBackend:
    """A `zhttp/` streaming worker (spec 2.7; tests/python/zhttp_worker.py) answering each path
    with a reply: a dict of zhttp_worker.Reply fields (code, reason, headers, chunks, delay, or
    error). The proxy binds three consecutive ports from `port`; the worker connects."""

    def __init__(self, replies):
        from zhttp_worker import Reply, ZhttpWorker

        self.port = free_ports(3)
        self.target = f"zhttp/tcp://127.0.0.1:{self.port}"
        self.worker = ZhttpWorker(self.target[len("zhttp/"):],
                                  {path: Reply(**reply) for path, reply in replies.items()})
        self.worker.__enter__()

    def ready(self):
        # Until the proxy's SUB subscribes, the worker's responses would be dropped.
        self.worker.ready(timeout=5.0)

    def observed(self):
        """What the worker saw, for the transcript: each request's first packet without the
        fields that differ from run to run (`from`, `id`, header values such as Grip-Sig), and
        the kinds of packet the proxy sent afterwards, keep-alives left out (they are timed)."""
        time.sleep(0.5)  # a cancel follows a client's going by a moment
        requests = [summarise_request(p) for p in self.worker.requests()]
        kinds = {p.get(b"type", b"data").decode() for p in self.worker.from_proxy()}
        return {"worker": {"requests": requests, "from-proxy": sorted(kinds - {"keep-alive"})}}

    def close(self):
        self.worker.__exit__(None, None, None)


def summarise_request(packet):
    fields = to_text({k: v for k, v in packet.items() if k not in (b"from", b"id", b"headers")})
    fields["header-names"] = sorted(name.decode().lower() for name, _ in packet.get(b"headers", []))
    return fields


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dechunk(body):
    out, rest = b"", body
    while rest:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2:]
    return out


def normalise(raw):
    """Status line, sorted (name, value) fields without Date/Server, body, and chunked-ness."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() not in DROP:
            fields.append([name.strip().lower(), value.strip()])
    chunked = any(n == "transfer-encoding" and "chunked" in v.lower() for n, v in fields)
    if chunked:
        body = dechunk(body)
    fields = [f for f in fields if f[0] not in ("content-length", "transfer-encoding", "connection")]
    return {"status": lines[0], "fields": sorted(fields), "chunked": chunked,
            "body": body.decode("utf-8", "replace")}


def request(port, text, read_until=None, timeout=8.0):
    """Sends a raw request; reads until the server closes, or until `read_until` appears."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(text.encode())
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if read_until and read_until.encode() in data:
                break
    except socket.timeout:
        pass
    sock.close()
    return data


def publish(port, body, headers=""):
    text = (f"POST /publish/ HTTP/1.1\r\nHost: localhost\r\n{headers}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}")
    return request(port, text)


@dataclass
class Endpoints:
    """Where one server listens: its client and HTTP publish ports, and the specs of its
    ZeroMQ PULL and SUB publish inputs and command socket (all bound by the server)."""

    client: int
    publish: int
    pull: str
    sub: str
    command: str

    def name_specs(self, value):
        """`value` with each of this server's specs replaced by its config key: the two servers
        bind different ports, and what matters is which socket a reply names."""
        names = {self.pull: "{push_in_spec}", self.sub: "{push_in_sub_specs}",
                 self.command: "{command_spec}"}
        if isinstance(value, dict):
            return {k: self.name_specs(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.name_specs(v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value


def run(scenario, endpoints, backend):
    """Runs one scenario against the server at `endpoints`, with its started `backend`;
    returns its transcript. A backend that can tell what it saw (the zhttp/ worker, the
    WebSocket backends) adds that as a last entry; its address, which differs between runs,
    becomes "{backend}"."""
    getattr(backend, "ready", lambda: None)()
    with Run(endpoints, backend) as r:
        for step in scenario["steps"]:
            getattr(r, "step_" + step[0])(*step[1:])
        out = r.out
    observed = getattr(backend, "observed", lambda: None)()
    if observed is not None:
        out.append(observed)
    return json.loads(json.dumps(out).replace(backend.target, "{backend}"))


class Run(WsSteps):
    """One scenario's run: its held client connections and WebSocket clients, its ZeroMQ
    sockets, and the transcript so far (what each client and publisher received, in step
    order; a ZeroMQ publish gets no reply, so it adds nothing). Each `step_<kind>` method is one
    kind of step; the WebSocket ones are in ws_client.WsSteps."""

    def __init__(self, endpoints, backend):
        self.endpoints, self.backend, self.held, self.ws, self.out = endpoints, backend, {}, {}, []
        self.zmq = ZmqClient(endpoints)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zmq.close()
        for sock in self.held.values():
            sock.close()
        for client in self.ws.values():
            client.drop()

    def step_backend(self, count=1, wait=5.0):
        """What the backend saw since the last such step, once it has seen `count` more things
        (or `wait` seconds passed): WebSocket backends only."""
        self.out.extend(self.backend.step_seen(count, wait))

    def step_get(self, path, extra):
        text = f"GET {path} HTTP/1.1\r\nHost: example.com\r\n{extra}Connection: close\r\n\r\n"
        self.out.append(normalise(request(self.endpoints.client, text)))

    def step_raw(self, text):
        self.out.append(normalise(request(self.endpoints.client, text)))

    def step_hold(self, name, path):
        sock = socket.create_connection(("127.0.0.1", self.endpoints.client), timeout=10)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".encode())
        self.held[name] = sock
        time.sleep(1.5)  # past Pushpin's first-subscription update (spec 6.2 item 5)

    def step_publish(self, body, headers=""):
        self.out.append(normalise(publish(self.endpoints.publish, body, headers)))
        time.sleep(0.3)

    def step_push(self, form, item):
        self.zmq.push(form, item)
        # As long as an HTTP publish gets, so that a later step on another input (an HTTP
        # publish, a read) comes after this item has been handled.
        time.sleep(0.3)

    def step_sub(self, channel, form, item):
        self.zmq.sub(channel, form, item)
        time.sleep(0.3)

    def step_command(self, method, args=None):
        self.out.append({"command": method, "reply": self.zmq.command(method, args)})
        time.sleep(0.3)

    def step_drop(self, name):
        """The client of a held request goes away without reading the rest."""
        self.held.pop(name).close()

    def step_sleep(self, seconds):
        time.sleep(seconds)

    def step_read(self, name, until):
        sock, data = self.held.pop(name), b""
        sock.settimeout(8)
        try:
            while until.encode() not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        sock.close()
        self.out.append(normalise(data))


def backend_for(scenario):
    """The scenario's backend, started: an HTTP server, with "worker" a zhttpreq REP worker, or
    with "zhttp_worker" (path -> reply, see ZhttpBackend) a zhttp/ streaming worker.
    A path maps to a response (status, headers, body), or to a list of them answered in turn.
    With "woh" (a script) the backend is a WebSocket-over-HTTP one, with "native" a native
    WebSocket one (ws_backends.py)."""
    if "woh" in scenario:
        return WohScriptBackend(scenario["woh"])
    if "native" in scenario:
        return NativeScriptBackend(scenario["native"])
    routes = {}
    for path, answer in scenario.get("backend", {}).items():
        answers = answer if isinstance(answer, list) else [answer]
        routes[path] = [(s, [tuple(h) for h in hs], body) for s, hs, body in answers]
    if "zhttp_worker" in scenario:
        return ZhttpBackend(scenario["zhttp_worker"])
    if scenario.get("worker"):
        return Worker(routes)
    return Backend(routes, bare=scenario.get("bare_backend", False))
