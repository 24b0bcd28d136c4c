"""A streaming ZHTTP worker behind a `zhttp/<spec>` route (spec 2.7, packets 2.2, flow 2.3), for
tests: it answers each request in parts, and records what the proxy sends back (credits,
keep-alives, cancels) so a test can assert on it.

The proxy binds three sockets; the worker connects to them:

    route spec            PULL (requests in)   ROUTER (later packets in)   PUB (all packets out)
    tcp://host:P          tcp://host:P         tcp://host:P+1              tcp://host:P+2
    ipc://path            ipc://path-out       ipc://path-out-stream       ipc://path-in

The ROUTER has a fixed identity, the worker's `from`, because the proxy addresses later packets
to the `from` it saw in the worker's responses. Each packet out is one frame: the request's
`from`, a space, `T` and a tnetstring. The PUB is an XPUB so the worker can wait until the
proxy's SUB has subscribed to that prefix: a PUB drops whatever nobody has subscribed to yet.

Observed against Pushpin 1.36 (route `*,debug zhttp/tcp://127.0.0.1:P`, this worker, a raw HTTP
client), shown decoded:

- Request, on the PULL, one packet: `from: "pushpin-proxy_<pid>"`, `id` (a UUID), `seq: 0`,
  `method`, `uri` (absolute, host from the client's Host), `headers` (rewritten, with Grip-Sig and
  Grip-Feature), `stream: true`, `credits: 200000`, `ext: {multi: true}`, `ignore-policies: true`;
  `body` only when the client sent one. A 20000-byte POST body came whole in that packet; a
  3000000-byte one came as 200000 bytes with `more: true`, the rest in data packets on the
  ROUTER (seq 1, 2, ...; 704 to 100000 bytes each) as the worker granted credits; the worker's
  one-packet reply to it reached the client chunked, not with a Content-Length.
- The proxy's SUB subscribed to exactly `"pushpin-proxy_<pid> "`.
- Three parts (`more: true`, 0.3 s apart, no Content-Length): the client got them chunked. For
  each part written to the client the proxy sent one `type: credit` packet of exactly that
  part's length (no batching: 6 and 6 for two 6-byte parts), seq 1, 2, ... on the ROUTER; none
  for the last part, the session being over by then.
- One packet (no `more`): the client got a Content-Length; nothing came back to the worker.
- `Grip-Hold: stream` in a one-packet response: the client got the body chunked, then what was
  published to the channel; nothing came back to the worker (no credit, no cancel).
- `type: error`: `remote-connection-failed` gave the client 502 "Unable to connect to any
  targets. Tried: zhttp/tcp://..." on a debug route, "Error while proxying to origin." otherwise;
  `bad-request` gave 502 "Error while proxying to origin." either way.
- Client gone after the first of three parts: a credit for that part, then a `cancel` (next
  seq), within milliseconds of the close, before the worker sent anything more.
- Keep-alives: while a response was unfinished the proxy sent `type: keep-alive` (single `id`,
  not the list form) at 45.0 s and 90.0 s. With the worker's own keep-alives every 20 s, a part
  sent 110 s after the first reached the client. A worker silent for 60 s: at 60.0 s the proxy
  ended the client's chunked response with its terminating `0\\r\\n\\r\\n`, so the client could
  not tell it was cut short; no cancel had reached the worker by then.
- The ipc form behaved the same (three parts, credits, cancel).
"""

import threading
import time
from dataclasses import dataclass, field

import tnetstring
import zmq

# What the worker grants the proxy in its first response packet, and for request bodies sent
# in more than one packet: the window Pushpin's proxy offers a backend (spec 2.3).
WINDOW = 200000
# The proxy drops a session after 60 s without a packet from the worker (spec 2.3); keep-alives
# go well inside that, only while a response is still being sent.
KEEP_ALIVE_EVERY = 20.0


@dataclass
class Reply:
    """How the worker answers one request. `chunks` is the body in parts, one packet each, with
    `delay` seconds before every part after the first; a single chunk is the whole response in
    one packet. With `error` set the worker sends one `type: error` packet with that condition
    instead (spec 2.5: remote-connection-failed makes the proxy try its next target)."""

    code: int = 200
    reason: str = "OK"
    headers: list = field(default_factory=list)
    chunks: list = field(default_factory=lambda: [b""])
    delay: float = 0.0
    error: str = None


def socket_specs(spec):
    """The PULL, ROUTER and PUB specs the worker connects to for route spec `spec`."""
    if spec.startswith("tcp://"):
        host, _, port = spec[len("tcp://"):].rpartition(":")
        return tuple(f"tcp://{host}:{int(port) + n}" for n in range(3))
    if spec.startswith("ipc://"):
        return (f"{spec}-out", f"{spec}-out-stream", f"{spec}-in")
    raise ValueError(f"not a zhttp route spec: {spec!r}")


def to_bytes(value):
    """`value` with every str as bytes: a packet's strings are byte strings on the wire."""
    if isinstance(value, dict):
        return {to_bytes(k): to_bytes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_bytes(v) for v in value]
    return value.encode() if isinstance(value, str) else value


def packet_ids(packet):
    """The ids a packet from the proxy is about: one, or several in the batched list form
    (`id: [{id, seq}, ...]`, spec 2.2) that keep-alives and credits may use."""
    ident = packet.get(b"id")
    if isinstance(ident, list):
        return [entry.get(b"id") for entry in ident if isinstance(entry, dict)]
    return [ident]


@dataclass
class Session:
    """One request being answered: where replies go, what is left to send, and how much body
    the proxy still lets the worker send (its credits)."""

    to: bytes
    id: bytes
    reply: Reply
    credits: int
    body: bytes = b""
    seq: int = 0
    next_part: int = 0
    due: float = 0.0
    last_sent: float = 0.0
    request_done: bool = True
    cancelled: bool = False


class ZhttpWorker:
    """A worker on `spec` (`tcp://host:P` or `ipc://path`) answering each request with
    `respond(request) -> Reply`, where request is the decoded first packet (bytes keys) with the
    whole body in b"body". `respond` may also be a dict from path to Reply (404 otherwise).
    Use as a context manager; `received` lists every packet that came in, as (socket name,
    decoded packet), in arrival order."""

    def __init__(self, spec, respond, identity=b"zworker", keep_alive_every=KEEP_ALIVE_EVERY):
        self.identity, self.keep_alive_every = identity, keep_alive_every
        self.respond = respond if callable(respond) else self._by_path(respond)
        self.pull_spec, self.router_spec, self.pub_spec = socket_specs(spec)
        self.received, self.sent = [], []
        # When each packet of `received` came (time.monotonic()), for probes; never assert on it.
        self.arrivals = []
        self.sessions = {}
        # First packets of requests whose body is still coming, by id.
        self.first_packets = {}
        self.subscriptions = set()
        self.changed = threading.Condition()
        self.stop = threading.Event()
        self.ctx = zmq.Context()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @staticmethod
    def _by_path(replies):
        def respond(request):
            uri = request[b"uri"].decode()
            path = "/" + uri.split("://", 1)[1].partition("/")[2].partition("?")[0]
            return replies.get(path, Reply(code=404, reason="Not Found", chunks=[b"no reply\n"]))
        return respond

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)
        self.ctx.destroy(linger=0)

    # === What tests ask ===

    def wait_for(self, predicate, timeout=10.0):
        """Waits until `predicate()` holds (checked whenever a packet comes in or goes out);
        returns whether it did."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True

    def ready(self, timeout=10.0):
        """Whether the proxy's SUB has subscribed to the worker's PUB (before that, responses
        would be dropped), within `timeout`."""
        return self.wait_for(lambda: bool(self.subscriptions), timeout)

    def requests(self):
        return [p for name, p in self.received if name == "pull"]

    def from_proxy(self, kind=None):
        """Packets that came in on the ROUTER, optionally only those of `type` `kind` (bytes;
        b"data" for packets without a type)."""
        packets = [p for name, p in self.received if name == "router"]
        if kind is None:
            return packets
        return [p for p in packets if p.get(b"type", b"data") == kind]

    def credits_granted(self):
        """All credits the proxy granted, over every `credit` packet."""
        return sum(p.get(b"credits", 0) for p in self.from_proxy(b"credit"))

    # === The loop ===

    def _serve(self):
        pull = self.ctx.socket(zmq.PULL)
        router = self.ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.IDENTITY, self.identity)
        self.pub = self.ctx.socket(zmq.XPUB)
        pull.connect(self.pull_spec)
        router.connect(self.router_spec)
        self.pub.connect(self.pub_spec)
        poller = zmq.Poller()
        for sock in (pull, router, self.pub):
            poller.register(sock, zmq.POLLIN)
        while not self.stop.is_set():
            events = dict(poller.poll(self._poll_ms()))
            if pull in events:
                self._on_request(self._decode(pull.recv()))
            if router in events:
                self._on_router(router.recv_multipart())
            if self.pub in events:
                self._on_subscription(self.pub.recv())
            self._send_due()
        for sock in (pull, router, self.pub):
            sock.close(linger=0)

    def _poll_ms(self):
        """Until the next part is due, at most 100 ms so that a stop is noticed."""
        waits = [s.due - time.monotonic() for s in self.sessions.values() if self._can_send(s)]
        return int(max(0.0, min(waits + [0.1])) * 1000)

    @staticmethod
    def _decode(frame):
        # Pushpin's ZHTTP sockets carry only `T` + tnetstring (spec 2.1).
        return tnetstring.loads(frame[1:]) if frame[:1] == b"T" else {b"undecodable": frame}

    def _record(self, name, packet):
        with self.changed:
            self.received.append((name, packet))
            self.arrivals.append(time.monotonic())
            self.changed.notify_all()

    def _on_subscription(self, message):
        # XPUB hands up `\x01<prefix>` on subscribe and `\x00<prefix>` on unsubscribe.
        with self.changed:
            if message[:1] == b"\x01":
                self.subscriptions.add(message[1:])
            else:
                self.subscriptions.discard(message[1:])
            self.changed.notify_all()

    def _on_request(self, packet):
        self._record("pull", packet)
        session = Session(to=packet.get(b"from", b""), id=packet.get(b"id", b""), reply=None,
                          credits=packet.get(b"credits", 0), body=packet.get(b"body", b""),
                          request_done=not packet.get(b"more", False))
        self.sessions[session.id] = session
        if session.request_done:
            self._start_reply(session, packet)
        else:
            self.first_packets[session.id] = packet
            # The rest of the body needs credits from the worker (spec 2.3).
            self._send(session, {"type": "credit", "credits": WINDOW})

    def _on_router(self, frames):
        # [the proxy ROUTER's identity, "", T + tnetstring]
        packet = self._decode(frames[-1])
        self._record("router", packet)
        kind = packet.get(b"type", b"data")
        for ident in packet_ids(packet):
            session = self.sessions.get(ident)
            if session is None:
                continue
            if kind == b"credit":
                session.credits += packet.get(b"credits", 0)
            elif kind in (b"cancel", b"error"):
                session.cancelled = True
                self.sessions.pop(ident, None)
            elif kind == b"data":
                self._on_request_body(session, packet)

    def _on_request_body(self, session, packet):
        chunk = packet.get(b"body", b"")
        session.body += chunk
        if chunk:
            self._send(session, {"type": "credit", "credits": len(chunk)})
        if not packet.get(b"more", False):
            session.request_done = True
            first = self.first_packets.pop(session.id, {})
            self._start_reply(session, {**first, b"body": session.body})

    def _start_reply(self, session, request):
        session.reply = self.respond(request)
        session.due = time.monotonic()

    # === Sending ===

    def _can_send(self, session):
        return session.reply is not None and not session.cancelled

    def _send_due(self):
        now = time.monotonic()
        for session in list(self.sessions.values()):
            if self._can_send(session) and session.due <= now:
                self._send_next_part(session)
            elif session.reply is not None and now - session.last_sent >= self.keep_alive_every:
                self._send(session, {"type": "keep-alive"})

    def _send_next_part(self, session):
        reply, part = session.reply, session.next_part
        if reply.error is not None:
            self._send(session, {"type": "error", "condition": reply.error})
            self.sessions.pop(session.id, None)
            return
        chunk = to_bytes(reply.chunks[part])
        if part > 0 and len(chunk) > session.credits:
            session.due = time.monotonic() + 0.05  # wait for the proxy's credits
            return
        packet = {"body": chunk, "more": part + 1 < len(reply.chunks)}
        if part == 0:
            # code, reason and headers only in the first packet (spec 2.2).
            packet.update(code=reply.code, reason=reply.reason, headers=[list(h) for h in reply.headers],
                          credits=WINDOW)
        session.credits -= len(chunk)
        self._send(session, packet)
        session.next_part += 1
        if session.next_part == len(reply.chunks):
            self.sessions.pop(session.id, None)
        else:
            session.due = time.monotonic() + reply.delay

    def _send(self, session, fields):
        """One packet to the proxy: `from`, `id` and this direction's next `seq`, then `fields`."""
        self._await_subscription(session.to)
        packet = to_bytes({"from": self.identity, "id": session.id, "seq": session.seq, **fields})
        session.seq += 1
        session.last_sent = time.monotonic()
        self.pub.send(session.to + b" T" + tnetstring.dumps(packet))
        with self.changed:
            self.sent.append(packet)
            self.changed.notify_all()

    def _await_subscription(self, to, timeout=5.0):
        """Reads subscriptions off the XPUB (this thread owns it) until one covers `to`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any((to + b" ").startswith(s) for s in self.subscriptions):
                return
            if self.pub.poll(50, zmq.POLLIN):
                self._on_subscription(self.pub.recv())
