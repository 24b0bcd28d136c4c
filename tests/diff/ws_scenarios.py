"""The WebSocket differential scenarios (spec 7), added to scenarios.SCENARIOS.

Steps (ws_client.py): ("ws_open", name, path[, extra header lines]), ("ws_send", name, kind
[, payload]) with kind text/binary/ping/pong/close (a close's payload: None or (code, reason)),
("ws_recv", name[, count[, wait]]), ("ws_drop", name); and ("backend"[, count[, wait]]), what the
backend saw since the last such step. "woh" makes the backend a WebSocket-over-HTTP one following
a script, "native" a native WebSocket one (ws_backends.py); either ends the transcript with what
it saw after the last backend step."""

import json

from ws_backends import ECHO

GRIP_NO_PREFIX = ["Sec-WebSocket-Extensions", 'grip; message-prefix=""']
OPEN = {"events": [("OPEN",)], "headers": [GRIP_NO_PREFIX]}


def ws_pub(channel, **fields):
    """A publish body with one ws-message item."""
    return json.dumps({"items": [{"channel": channel, "formats": {"ws-message": fields}}]})


def subscribe(channel):
    return ("TEXT", 'c:{"type":"subscribe","channel":"%s"}' % channel)


WS_SCENARIOS = [
    {
        "name": "ws_woh_echo",
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": OPEN, "TEXT": {"*": ECHO}, "BINARY": {"*": ECHO}, "CLOSE": ECHO},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("backend", 1),
            ("ws_send", "c", "text", "hello"),
            ("ws_recv", "c"),
            ("backend", 1),
            ("ws_send", "c", "binary", b"\x00\xff"),
            ("ws_recv", "c"),
            ("backend", 1),
            ("ws_send", "c", "close", (1000, "bye")),
            ("ws_recv", "c", 2),
            ("backend", 1),
        ],
    },
    {
        "name": "ws_woh_client_ping_goes_to_the_backend",
        "xfail": {"strict": True, "reason": (
            "deliberate (README): gripway answers a client's ping itself, as RFC 6455 5.5.2 requires, "
            "besides passing PING to the backend, so the client gets two pongs; Pushpin only relays")},
        "routes": ["* {backend},over_http"],
        # The proxy does not answer a client's ping: the backend's PONG is the only pong.
        "woh": {"OPEN": OPEN, "PING": {"events": [("PONG", "from backend")]}, "CLOSE": ECHO},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("backend", 1),
            ("ws_send", "c", "ping", "p1"),
            ("ws_recv", "c", 2, 1.0),
            ("backend", 1),
            ("ws_send", "c", "close", (1000, "")),
            ("ws_recv", "c", 2),
            ("backend", 1),
        ],
    },
    {
        "name": "ws_woh_publish_text_binary_close",
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": {**OPEN, "events": [("OPEN",), subscribe("diff-ws"), ("TEXT", "ready")]},
                "CLOSE": ECHO},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("ws_recv", "c"),
            ("backend", 1),
            ("sleep", 1.5),
            ("publish", ws_pub("diff-ws", content="pushed")),
            ("ws_recv", "c"),
            ("publish", ws_pub("diff-ws", **{"content-bin": "AAEC"})),
            ("ws_recv", "c"),
            ("publish", ws_pub("diff-ws", action="close", code=4001, reason="gone")),
            ("ws_recv", "c", 2),
            ("backend", 1, 2.0),
        ],
    },
    {
        "name": "ws_woh_refused_at_open",
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": {"status": 403, "headers": [["X-Why", "no"]], "body": "go away\n",
                         "content_type": "text/plain"}},
        "steps": [("ws_open", "c", "/ws"), ("backend", 1)],
    },
    {
        "name": "ws_woh_wrong_content_type_later",
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": OPEN,
                "TEXT": {"bad": {"body": "oops", "content_type": "text/plain"}, "*": ECHO}},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("backend", 1),
            ("ws_send", "c", "text", "fine"),
            ("ws_recv", "c"),
            ("ws_send", "c", "text", "bad"),
            ("ws_recv", "c", 2),
            ("backend", 2),
        ],
    },
    {
        "name": "ws_woh_client_close_backend_answers_its_own_code",
        "xfail": {"strict": True, "reason": (
            "deliberate (README): gripway answers a client's close at once with the client's own code "
            "(RFC 6455 5.5.1; tungstenite replies itself); Pushpin waits and answers with the "
            "backend's CLOSE (1001 later). The backend hears the client's close either way")},
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": OPEN, "CLOSE": {"events": [("CLOSE", 1001, "later")]}},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("backend", 1),
            ("ws_send", "c", "close", (4000, "done")),
            ("ws_recv", "c", 2),
            ("backend", 1),
        ],
    },
    {
        "name": "ws_woh_client_close_backend_answers_nothing",
        "xfail": {"strict": True, "reason": (
            "deliberate (README): when the backend's answer to CLOSE has no CLOSE, Pushpin ends the "
            "client's TCP connection without a close frame; gripway has already answered the "
            "client's close (RFC 6455 5.5.1)")},
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": OPEN},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("backend", 1),
            ("ws_send", "c", "close", None),
            ("ws_recv", "c", 2),
            ("backend", 1, 2.0),
        ],
    },
    {
        "name": "ws_woh_client_drop_disconnects",
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": OPEN},
        "steps": [
            ("ws_open", "a", "/ws"),
            ("backend", 1),
            ("ws_open", "b", "/ws"),
            ("backend", 1),
            ("ws_drop", "a"),
            ("backend", 1),
            ("ws_drop", "b"),
            ("backend", 1),
        ],
    },
    {
        "name": "ws_woh_set_meta_comes_back_as_meta",
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": {**OPEN, "headers": [GRIP_NO_PREFIX, ["Set-Meta-User", "alice"],
                                             ["Set-Meta-Role", "admin"], ["X-Backend", "1"]]},
                "TEXT": {"drop-role": {"headers": [["Set-Meta-Role", ""], ["Set-Meta-Extra", "e"]],
                                       "events": [("TEXT", "dropped")]},
                         "*": ECHO}},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("backend", 1),
            ("ws_send", "c", "text", "one"),
            ("ws_recv", "c"),
            ("backend", 1),
            ("ws_send", "c", "text", "drop-role"),
            ("ws_recv", "c"),
            ("backend", 1),
            ("ws_send", "c", "text", "two"),
            ("ws_recv", "c"),
            ("backend", 1),
            ("ws_drop", "c"),
            ("backend", 1),
        ],
    },
    {
        "name": "ws_woh_detach",
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": {**OPEN, "events": [("OPEN",), subscribe("diff-det"), ("TEXT", "ready")]},
                "TEXT": {"detach": {"events": [("TEXT", 'c:{"type":"detach"}'), ("TEXT", "bye")]},
                         "*": ECHO},
                "CLOSE": ECHO},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("ws_recv", "c"),
            ("backend", 1),
            ("sleep", 1.5),
            # The backend's side closes (the script answers its CLOSE with CLOSE); the client
            # stays, subscribed, and what it sends goes nowhere.
            ("ws_send", "c", "text", "detach"),
            ("ws_recv", "c"),
            ("backend", 2),
            ("ws_send", "c", "text", "after detach"),
            ("ws_recv", "c", 1, 1.5),
            ("publish", ws_pub("diff-det", content="still subscribed")),
            ("ws_recv", "c"),
            ("ws_drop", "c"),
            ("backend", 1, 1.5),
        ],
    },
    {
        "name": "ws_woh_grip_default_prefix",
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": {"headers": [["Sec-WebSocket-Extensions", "grip"]],
                         "events": [("OPEN",), subscribe("diff-pre"), ("TEXT", "unprefixed"),
                                    ("BINARY", b"m:\x01"), ("TEXT", "m:ready")]}},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("ws_recv", "c", 2),
            ("sleep", 1.5),
            ("publish", ws_pub("diff-pre", content="published")),
            ("ws_recv", "c"),
            ("ws_drop", "c"),
            ("backend", 2),
        ],
    },
    {
        "name": "ws_woh_without_grip_control_reaches_client",
        "routes": ["* {backend},over_http"],
        "woh": {"OPEN": {"events": [("OPEN",), subscribe("diff-nogrip"), ("TEXT", "m:kept")]}},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("ws_recv", "c", 2),
            ("sleep", 1.5),
            ("publish", ws_pub("diff-nogrip", content="not subscribed")),
            ("ws_recv", "c", 1, 1.5),
            ("ws_drop", "c"),
            ("backend", 2),
        ],
    },
    {
        "name": "ws_woh_open_answered_without_open_event",
        "xfail": {"strict": True, "reason": (
            "an empty answer to OPEN with Keep-Alive-Interval: gripway sends 101 at once, as spec 7.2 "
            "reads; Pushpin 1.36 sends no 101 and, when the client goes, sends OPEN again before "
            "DISCONNECT (kept as the spec says; README)")},
        "routes": ["* {backend},over_http"],
        # An empty answer to OPEN with a Keep-Alive-Interval does not open the client's
        # connection: Pushpin waits. When the client goes, Pushpin sends OPEN again, and once
        # that is answered with OPEN, a DISCONNECT. (Answered without OPEN again, Pushpin asks
        # again at once, over and over: the script answers OPEN the second time.)
        "woh": {"OPEN": [{"headers": [GRIP_NO_PREFIX, ["Keep-Alive-Interval", "30"]]}, OPEN]},
        "steps": [
            ("ws_open", "c", "/ws", "", 3),
            ("backend", 1),
            ("ws_drop", "c"),
            ("backend", 2),
        ],
    },
    {
        "name": "ws_woh_open_request_headers",
        "routes": ["* {backend},over_http"],
        # Pushpin's HTTP client (zurl) offers its own Accept-Encoding (spec 3.1); gripway
        # removes the client's and offers none, as it does not decode compressed answers.
        "headers_may_differ": ["accept-encoding"],
        "woh": {"all_headers": True,
                "OPEN": {**OPEN, "headers": [GRIP_NO_PREFIX, ["Sec-WebSocket-Protocol", "chat"],
                                             ["X-Backend", "1"]]}},
        "steps": [
            ("ws_open", "c", "/ws?q=1",
             "Sec-WebSocket-Protocol: chat, superchat\r\nX-Custom: yes\r\nCookie: a=b\r\n"
             "User-Agent: diff\r\nAccept: text/html\r\nMeta-Forged: x\r\n"
             "Connection-Id: forged\r\nGrip-Sig: forged\r\nX-Forwarded-For: 1.2.3.4\r\n"
             "Origin: http://example.com\r\n"),
            ("backend", 1),
            ("ws_drop", "c"),
            ("backend", 1),
        ],
    },
    {
        "name": "ws_native_grip_extension",
        "routes": ["* {backend}"],
        "native": {"extension": "grip",
                   "on_open": ['c:{"type":"subscribe","channel":"diff-nat"}', "unprefixed",
                               b"m:\x02", "m:ready"],
                   "replies": {"hi": ["m:echo hi", "not echoed"], "c:x": ["m:got c:x"]}},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("ws_recv", "c", 2),
            ("backend", 1),
            ("sleep", 1.5),
            ("publish", ws_pub("diff-nat", content="published")),
            ("ws_recv", "c"),
            ("ws_send", "c", "text", "hi"),
            ("ws_recv", "c"),
            ("ws_send", "c", "text", "c:x"),
            ("ws_recv", "c"),
            ("backend", 2),
            ("ws_send", "c", "close", (4100, "client done")),
            ("ws_recv", "c", 2),
            ("backend", 1),
        ],
    },
    {
        "name": "ws_native_client_ping_goes_to_the_backend",
        "xfail": {"strict": True, "reason": (
            "deliberate (README): gripway answers a client's ping itself, as RFC 6455 5.5.2 requires, "
            "besides relaying it to the native backend, so the client gets two pongs; Pushpin only relays")},
        "routes": ["* {backend}"],
        # The pong the client gets is the backend's (the websockets library answers pings).
        # Empty, because Pushpin 1.36 sends a client's ping on to a native backend without its
        # payload: with one, Pushpin's client gets back an empty pong.
        "native": {"extension": 'grip; message-prefix=""', "on_open": ["ready"]},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("ws_recv", "c"),
            ("ws_send", "c", "ping", ""),
            ("ws_recv", "c", 2, 1.0),
            ("ws_send", "c", "close", (1000, "")),
            ("ws_recv", "c", 2),
            ("backend", 2),
        ],
    },
    {
        "name": "ws_native_without_grip",
        "xfail": {"strict": True, "reason": (
            "the native backend closes with 4002 \"backend done\": the backend gets 4002 back from both; "
            "Pushpin passes on the client's own answer (no reason), gripway's socket answers the close "
            "itself and repeats the reason (tungstenite answers a close on the next write)")},
        "routes": ["* {backend}"],
        "native": {"on_open": ['c:{"type":"subscribe","channel":"diff-nat2"}', "m:kept", b"\x03"],
                   "replies": {"bye": [("close", 4002, "backend done")]}},
        "steps": [
            ("ws_open", "c", "/ws"),
            ("ws_recv", "c", 3),
            ("backend", 1),
            ("sleep", 1.5),
            ("publish", ws_pub("diff-nat2", content="not subscribed")),
            ("ws_recv", "c", 1, 1.5),
            ("ws_send", "c", "text", "bye"),
            ("ws_recv", "c", 2),
            ("backend", 2),
        ],
    },
]
