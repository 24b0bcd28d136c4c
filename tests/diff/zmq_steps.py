"""The scenarios' ZeroMQ steps: publishing into the PULL input (spec 5.3) and the SUB input (5.4),
and calling the command socket (5.5). Both servers bind these sockets; the harness connects.

A payload goes in one of the forms the inputs accept: "bare" (a tnetstring dict), "T" (`T` +
tnetstring), "J" (`J` + JSON), or "raw" (the given bytes as they are, for malformed payloads).
"""

import json
import time

# How long a SUB publish waits for the server's subscription to the channel.
SUBSCRIBE_WAIT = 10.0


def to_bytes(value):
    """`value` with every str turned into bytes: tnetstring3 writes byte strings only, and a
    tnetstring item's strings are byte strings on the wire."""
    if isinstance(value, dict):
        return {to_bytes(k): to_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_bytes(v) for v in value]
    return value.encode() if isinstance(value, str) else value


def to_text(value):
    """The inverse of to_bytes, so decoded replies can be written to a JSON transcript; dict keys
    sorted, so a transcript does not change with the order a server writes fields in."""
    if isinstance(value, dict):
        return {to_text(k): to_text(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [to_text(v) for v in value]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def encode(form, value):
    """One publish payload in `form` ("bare", "T", "J" or "raw")."""
    import tnetstring

    if form == "bare":
        return tnetstring.dumps(to_bytes(value))
    if form == "T":
        return b"T" + tnetstring.dumps(to_bytes(value))
    if form == "J":
        return b"J" + json.dumps(value).encode()
    if form == "raw":
        return value if isinstance(value, bytes) else value.encode()
    raise ValueError(f"unknown payload form {form!r}")


class ZmqClient:
    """The harness's ZeroMQ side of one run, against one server's `Endpoints`. Sockets are made
    on first use, so scenarios without ZeroMQ steps need no pyzmq."""

    def __init__(self, endpoints):
        self.endpoints = endpoints
        self.ctx = self.pusher = self.xpub = None
        self.subscribed = set()

    def _context(self):
        import zmq

        if self.ctx is None:
            self.ctx = zmq.Context()
        return self.ctx

    def push(self, form, item):
        """One item into the PULL input. PUSH queues until its connection is up, so nothing is
        lost by sending right after connecting."""
        import zmq

        if self.pusher is None:
            self.pusher = self._context().socket(zmq.PUSH)
            self.pusher.connect(self.endpoints.pull)
        self.pusher.send(encode(form, item))

    def sub(self, channel, form, item):
        """One item into the SUB input on `channel`. PUB drops what no subscriber asked for, and
        the server subscribes only to channels that have listeners, so this waits (on an XPUB)
        until the server's subscription to `channel` has arrived."""
        import zmq

        if self.xpub is None:
            self.xpub = self._context().socket(zmq.XPUB)
            self.xpub.connect(self.endpoints.sub)
        self._wait_for_subscription(channel.encode())
        self.xpub.send_multipart([channel.encode(), encode(form, item)])

    def _wait_for_subscription(self, channel):
        import zmq

        deadline = time.monotonic() + SUBSCRIBE_WAIT
        while channel not in self.subscribed:
            left = deadline - time.monotonic()
            if left <= 0 or not self.xpub.poll(int(left * 1000), zmq.POLLIN):
                raise TimeoutError(f"no subscription to {channel!r} on {self.endpoints.sub}")
            message = self.xpub.recv()
            # XPUB hands up `\x01<topic>` on subscribe and `\x00<topic>` on unsubscribe.
            if message[:1] == b"\x01":
                self.subscribed.add(message[1:])
            else:
                self.subscribed.discard(message[1:])

    def command(self, method, args=None):
        """One request on the command socket (bare tnetstring, REQ client); returns the reply
        decoded, the server's own specs in it replaced by their config key names."""
        import tnetstring
        import zmq

        req = self._context().socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, 10000)
        req.connect(self.endpoints.command)
        request = {"id": "diff-1", "method": method}
        if args is not None:
            request["args"] = args
        try:
            req.send(tnetstring.dumps(to_bytes(request)))
            reply = to_text(tnetstring.loads(req.recv()))
        finally:
            req.close(linger=0)
        return self.endpoints.name_specs(reply)

    def close(self):
        # A short linger lets the last publish leave before its socket goes.
        for sock in (self.pusher, self.xpub):
            if sock is not None:
                sock.close(linger=1000)
        if self.ctx is not None:
            self.ctx.term()
