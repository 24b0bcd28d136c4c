"""The zhttp/ test worker (zhttp_worker.py) against a stand-in proxy made of pyzmq sockets, so
the worker's own wire behaviour is checked without Pushpin or gripway: seq, more and credits on
its packets, the `from` prefix, credits for request bodies, cancels, error packets, ipc names."""

import time

import pytest
import tnetstring
import zmq

from gripway_proc import free_ports
from zhttp_worker import Reply, ZhttpWorker, socket_specs

PROXY = b"proxy-1"


class FakeProxy:
    """What a proxy binds for a zhttp/ target: PUSH (first packets), ROUTER (later packets),
    SUB (responses, subscribed to its own `from` and a space)."""

    def __init__(self, ctx, spec):
        push_spec, router_spec, sub_spec = socket_specs(spec)
        self.push = ctx.socket(zmq.PUSH)
        self.push.bind(push_spec)
        self.router = ctx.socket(zmq.ROUTER)
        # Fail rather than drop a packet for a worker that has not connected yet.
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.router.bind(router_spec)
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, PROXY + b" ")
        self.sub.setsockopt(zmq.RCVTIMEO, 10000)
        self.sub.bind(sub_spec)

    def wait_for(self, worker, timeout=10.0):
        """Whether `worker` sees this SUB's subscription. A socket handles a new connection only
        while someone uses it, so the SUB is nudged meanwhile, as a proxy's event loop would."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sub.getsockopt(zmq.EVENTS)
            if worker.ready(timeout=0.05):
                return True
        return False

    def request(self, **fields):
        packet = {b"from": PROXY, b"id": b"r1", b"seq": 0, b"method": b"GET",
                  b"uri": b"http://example.com/x", b"headers": [], b"stream": True, b"credits": 1000}
        packet.update({k.encode(): v for k, v in fields.items()})
        self.push.send(b"T" + tnetstring.dumps(packet))

    def later(self, identity, **fields):
        """A later packet to the worker's ROUTER identity, retried until the worker is there."""
        packet = {b"from": PROXY, b"id": b"r1"}
        packet.update({k.encode(): v for k, v in fields.items()})
        deadline = time.monotonic() + 10
        while True:
            try:
                self.router.send_multipart([identity, b"", b"T" + tnetstring.dumps(packet)])
                return
            except zmq.ZMQError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def response(self):
        frame = self.sub.recv()
        prefix, _, payload = frame.partition(b" ")
        assert prefix == PROXY and payload[:1] == b"T", frame
        return tnetstring.loads(payload[1:])


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def tcp_spec():
    return f"tcp://127.0.0.1:{free_ports(3)}"


def test_a_response_in_three_parts(ctx):
    spec = tcp_spec()
    proxy = FakeProxy(ctx, spec)
    reply = Reply(code=201, reason="Made", headers=[("X-A", "1")], chunks=[b"a\n", b"bb\n", b"ccc\n"])
    with ZhttpWorker(spec, lambda req: reply) as worker:
        assert proxy.wait_for(worker)
        proxy.request()
        packets = [proxy.response() for _ in range(3)]
        assert [p[b"seq"] for p in packets] == [0, 1, 2]
        assert [p[b"more"] for p in packets] == [True, True, False]
        assert b"".join(p[b"body"] for p in packets) == b"a\nbb\nccc\n"
        assert all(p[b"from"] == b"zworker" and p[b"id"] == b"r1" for p in packets)
        first = packets[0]
        assert (first[b"code"], first[b"reason"], first[b"headers"]) == (201, b"Made", [[b"X-A", b"1"]])
        assert not any(b"code" in p for p in packets[1:])
        # Credits from the proxy are recorded.
        proxy.later(b"zworker", type=b"credit", credits=6, seq=1)
        assert worker.wait_for(lambda: worker.credits_granted() == 6)


def test_a_request_body_in_several_packets_gets_credits_and_is_answered_whole(ctx):
    spec = tcp_spec()
    proxy = FakeProxy(ctx, spec)

    def respond(request):
        return Reply(chunks=[b"got %d\n" % len(request[b"body"])])

    with ZhttpWorker(spec, respond, identity=b"w2") as worker:
        assert proxy.wait_for(worker)
        proxy.request(method=b"POST", body=b"x" * 10, more=True)
        grant = proxy.response()
        assert grant[b"type"] == b"credit" and grant[b"credits"] > 0 and grant[b"seq"] == 0
        proxy.later(b"w2", seq=1, body=b"y" * 5, more=True)
        proxy.later(b"w2", seq=2, body=b"z" * 7)
        credits = [proxy.response(), proxy.response()]
        assert [(p[b"type"], p[b"credits"]) for p in credits] == [(b"credit", 5), (b"credit", 7)]
        answer = proxy.response()
        assert answer[b"body"] == b"got 22\n" and answer[b"seq"] == 3
        assert worker.requests()[0][b"method"] == b"POST"


def test_a_cancel_stops_the_rest_of_the_response(ctx):
    spec = tcp_spec()
    proxy = FakeProxy(ctx, spec)
    reply = Reply(chunks=[b"first\n", b"never\n"], delay=2.0)
    with ZhttpWorker(spec, lambda req: reply) as worker:
        assert proxy.wait_for(worker)
        proxy.request()
        assert proxy.response()[b"body"] == b"first\n"
        proxy.later(b"zworker", type=b"cancel", seq=1)
        assert worker.wait_for(lambda: worker.from_proxy(b"cancel"))
        proxy.sub.setsockopt(zmq.RCVTIMEO, 3000)  # past when the second part was due
        with pytest.raises(zmq.Again):
            proxy.sub.recv()


def test_an_error_packet_over_ipc(ctx, tmp_path):
    spec = f"ipc://{tmp_path}/zw"
    assert socket_specs(spec) == (f"{spec}-out", f"{spec}-out-stream", f"{spec}-in")
    proxy = FakeProxy(ctx, spec)
    with ZhttpWorker(spec, lambda req: Reply(error="remote-connection-failed")) as worker:
        assert proxy.wait_for(worker)
        proxy.request()
        packet = proxy.response()
        assert (packet[b"type"], packet[b"condition"], packet[b"seq"]) == (b"error", b"remote-connection-failed", 0)


def test_tcp_specs_take_three_consecutive_ports():
    assert socket_specs("tcp://127.0.0.1:17100") == (
        "tcp://127.0.0.1:17100", "tcp://127.0.0.1:17101", "tcp://127.0.0.1:17102")
    with pytest.raises(ValueError):
        socket_specs("udp://x")
