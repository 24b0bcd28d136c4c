"""The differential scenarios (see harness.py). `{backend}` in a route is the test backend's
address. Steps: ("get", path, extra header lines), ("raw", request text), ("hold", name, path),
("publish", body[, extra header lines]), ("read", name, text to read until), ("sleep", seconds),
and over ZeroMQ (zmq_steps.py): ("push", form, item) into the PULL input, ("sub", channel, form,
item) into the SUB input, ("command", method[, args]) on the command socket. A form is "bare",
"T", "J" or "raw" (bytes sent as given); an item is a dict, written as tnetstring or JSON.

A backend path maps to a response, or to a list of responses answered in turn (the last
repeats); `{grip-last}` in a body becomes the request's Grip-Last header ("none" without one).

`zhttp_worker` makes the backend a zhttp/ streaming worker (spec 2.7) in place of the HTTP
server: path -> reply, a dict of zhttp_worker.Reply fields (code, reason, headers, chunks: the body
in parts, one packet each; delay between parts; or error: the condition of an error packet). Its
transcript ends with what the worker saw (harness.ZhttpBackend.observed). ("drop", name) closes a
held client without reading.

`xfail` marks a scenario gripway is known to fail, as {"reason": ..., "strict": bool}: strict
for a difference gripway has to fix, not strict for a feature still being built.

`framing_may_differ` lets a response be chunked in one and sized in the other, with the reason
in a comment beside it; `headers_may_differ` lists request headers a WebSocket backend may see
in one and not the other, with the reason beside it; everything else must match exactly.
`bare_backend` leaves out the backend's Date and Server fields, for scenarios whose bodies
quote the backend's headers."""

import json

STREAM_PUB = '{"items":[{"channel":"%s","formats":{"http-stream":{"content":"%s"}}}]}'
RESP_PUB = '{"items":[{"channel":"%s","formats":{"http-response":%s}}]}'
ECHO = "{echo}"  # the backend answers with the request line and body it received
CLOSE_PUB = '{"items":[{"channel":"%s","formats":{"http-stream":{"action":"close"}}}]}'


def seq_pub(channel, content, id=None, prev=None, no_seq=False):
    """An http-stream item with optional id, prev-id and no-seq (spec 6.4)."""
    item = {"channel": channel, "formats": {"http-stream": {"content": content}}}
    if id:
        item["id"] = id
    if prev:
        item["prev-id"] = prev
    if no_seq:
        item["no-seq"] = True
    return json.dumps({"items": [item]})


def seq_stream(channel):
    """A backend that holds /s as a stream on `channel`."""
    return {"/s": (200, [["Grip-Hold", "stream"], ["Grip-Channel", channel],
                         ["Content-Type", "text/plain"]], "open\n")}


JSON_HEADERS = "%7B%22X-A%22%3A%22b%22%7D"  # {"X-A":"b"}

SCENARIOS = [
    {
        "name": "plain_get",
        "routes": ["* {backend}"],
        "backend": {"/plain": (200, [["Content-Type", "text/plain"], ["X-Custom", "1"]], "hi\n")},
        "steps": [("get", "/plain?x=1", "Accept: */*\r\n")],
    },
    {
        "name": "post_with_body",
        "routes": ["* {backend}"],
        "backend": {"/submit": (201, [["Content-Type", "text/plain"]], "created\n")},
        "steps": [("raw", "POST /submit HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")],
    },
    {
        "name": "no_route_for_host",
        "routes": ["example.org {backend}"],
        "steps": [("get", "/", "")],
    },
    {
        "name": "unreachable_backend",
        "routes": ["* 127.0.0.1:1"],
        "steps": [("get", "/", "")],
    },
    {
        "name": "unreachable_backend_debug",
        "routes": ["*,debug 127.0.0.1:1"],
        "steps": [("get", "/", "")],
    },
    {
        "name": "grip_status_without_hold",
        "routes": ["* {backend}"],
        "backend": {"/gone": (200, [["Grip-Status", "404 Custom"], ["Content-Type", "text/plain"]], "gone\n")},
        "steps": [("get", "/gone", "")],
    },
    {
        "name": "bad_grip_hold_debug",
        "routes": ["*,debug {backend}"],
        "backend": {"/": (200, [["Grip-Hold", "forever"]], "")},
        "steps": [("get", "/", "")],
    },
    {
        "name": "bad_grip_hold",
        "routes": ["* {backend}"],
        "backend": {"/": (200, [["Grip-Hold", "forever"]], "")},
        "steps": [("get", "/", "")],
    },
    {
        "name": "bad_grip_timeout_debug",
        "routes": ["*,debug {backend}"],
        "backend": {"/": (200, [["Grip-Hold", "response"], ["Grip-Channel", "x"], ["Grip-Timeout", "soon"]], "")},
        "steps": [("get", "/", "")],
    },
    {
        "name": "response_hold_published_overlay",
        "routes": ["* {backend}"],
        "backend": {"/poll": (200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-c1"], ["X-Foo", "bar"],
                                    ["Content-Type", "text/plain"]], "timeout\n")},
        "steps": [
            ("hold", "a", "/poll"),
            ("publish", RESP_PUB % ("diff-c1", '{"code":201,"headers":{"X-Pub":"1"},"body":"published\\n"}')),
            ("read", "a", "published\n"),
        ],
    },
    {
        "name": "response_hold_second_channel",
        "routes": ["* {backend}"],
        "backend": {"/poll": (200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-a, diff-b"]], "t\n")},
        "steps": [
            ("hold", "a", "/poll"),
            ("publish", RESP_PUB % ("diff-b", '{"body":"from b\\n"}')),
            ("read", "a", "from b\n"),
        ],
    },
    {
        "name": "stream_hold_publish_and_close",
        "routes": ["* {backend}"],
        "backend": {"/stream": (200, [["Grip-Hold", "stream"], ["Grip-Channel", "diff-s1"],
                                      ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/stream"),
            ("publish", STREAM_PUB % ("diff-s1", "one\\n")),
            ("publish", '{"items":[{"channel":"diff-s1","formats":{"http-stream":{"action":"close"}}}]}'),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "grip_instruct_json",
        "routes": ["* {backend}"],
        "backend": {"/j": (200, [["Content-Type", "application/grip-instruct"], ["X-Dropped", "1"]],
                           '{"hold":{"mode":"response","channels":[{"name":"diff-j"}]},'
                           '"response":{"headers":{"X-A":"1"},"body":"json timeout\\n"}}')},
        "steps": [
            ("hold", "j", "/j"),
            ("publish", RESP_PUB % ("diff-j", '{"body":"via json\\n"}')),
            ("read", "j", "via json\n"),
        ],
    },
    {
        "name": "route_prefix",
        "routes": ["*,prefix=app1_ {backend}"],
        "backend": {"/p": (200, [["Grip-Hold", "response"], ["Grip-Channel", "news"]], "t\n")},
        "steps": [
            ("hold", "p", "/p"),
            ("publish", RESP_PUB % ("news", '{"body":"unprefixed\\n"}')),
            ("publish", RESP_PUB % ("app1_news", '{"body":"prefixed\\n"}')),
            ("read", "p", "prefixed\n"),
        ],
    },
    {
        "name": "cors_aco",
        "routes": ["*,aco {backend}"],
        "backend": {"/c": (200, [["Content-Type", "text/plain"], ["X-Custom", "1"]], "c\n")},
        "steps": [
            ("get", "/c", "Origin: http://app.test\r\nAccess-Control-Request-Method: PUT\r\n"
                          "Access-Control-Request-Headers: X-A\r\n"),
            ("get", "/c", ""),
        ],
    },
    {
        "name": "test_backend",
        "routes": ["* test"],
        "steps": [("get", "/", ""), ("get", "/nope", "")],
    },
    {
        "name": "test_backend_stream",
        "routes": ["* test"],
        "steps": [
            ("hold", "t", "/stream?channel=diff-t"),
            ("publish", STREAM_PUB % ("diff-t", "hello\\n")),
            ("publish", '{"items":[{"channel":"diff-t","formats":{"http-stream":{"action":"close"}}}]}'),
            ("read", "t", "0\r\n\r\n"),
        ],
    },
    {
        "name": "publish_api_errors",
        "routes": ["* test"],
        "steps": [
            ("publish", "{"),
            ("publish", "[]"),
            ("publish", "{}"),
            ("publish", '{"items":5}'),
            ("publish", '{"items":[{"formats":{"http-stream":{"content":"x"}}}]}'),
            ("publish", '{"items":[{"channel":"c","formats":{"http-stream":{}}}]}'),
            ("publish", '{"items":[{"channel":"c","formats":{"http-stream":{"content":"x"}}}]}',
             "Accept: text/plain, application/json\r\n"),
            ("publish", '{"items":[{"channel":"c","formats":{"http-stream":{"content":"x"}}}]}',
             "Accept: image/png\r\n"),
        ],
    },
    {
        "name": "jsonp_extended",
        "routes": ["*,aco {backend}"],
        "bare_backend": True,
        "backend": {"/echo": (200, [["Content-Type", "text/plain"], ["X-Custom", "1"]], ECHO),
                    "/err": (404, [["Content-Type", "text/plain"]], "nope\n")},
        "steps": [
            ("get", "/echo?callback=cb&x=1", ""),
            ("get", "/echo?x=1&callback=cb&_method=POST&_body=hello&_headers=" + JSON_HEADERS, ""),
            ("get", "/echo?callback=a.b%5B0%5D&_body=q%22uote", ""),
            ("get", "/err?callback=cb", ""),
            ("get", "/echo?callback=", ""),
            ("get", "/echo?callback=cb&_headers=notjson", ""),
            ("raw", "POST /echo?callback=cb HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n"),
        ],
        # Pushpin streams the script out as the backend's body arrives (chunked when it came in
        # more than one read); gripway builds it whole, with Content-Length. Same bytes.
        "framing_may_differ": True,
    },
    {
        "name": "jsonp_basic",
        "routes": ["*,aco,jsonp_mode=basic,jsonp_body=b,jsonp_defcb=dcb {backend}"],
        "bare_backend": True,
        "backend": {"/echo": (200, [["Content-Type", "text/plain"]], ECHO),
                    "/json": (200, [["Content-Type", "application/json"]], '{"a": 1}')},
        "steps": [
            ("get", "/json?callback=cb", ""),
            ("get", "/echo?b=hello", ""),
            ("get", "/echo?b=hello&callback=x3&keep=1", ""),
            ("get", "/echo?callback=cb&_method=PUT&_body=x", ""),
            ("get", "/json?b=", ""),
        ],
        "framing_may_differ": True,  # as in jsonp_extended
    },
    {
        "name": "jsonp_backend_errors",
        "routes": ["*,aco {backend}"],
        "bare_backend": True,
        "backend": {"/badgrip": (200, [["Grip-Hold", "forever"]], "")},
        "steps": [("get", "/badgrip?callback=cb", ""), ("get", "/badgrip", "")],
    },
    {
        "name": "jsonp_unreachable",
        "routes": ["*,aco 127.0.0.1:1"],
        "steps": [("get", "/?callback=cb", ""), ("get", "/", "")],
    },
    {
        "name": "jsonp_stream_hold_not_wrapped",
        "routes": ["*,aco {backend}"],
        "bare_backend": True,
        "backend": {"/stream": (200, [["Grip-Hold", "stream"], ["Grip-Channel", "diff-js"],
                                      ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/stream?callback=cb"),
            ("publish", STREAM_PUB % ("diff-js", "one\n")),
            ("publish", '{"items":[{"channel":"diff-js","formats":{"http-stream":{"action":"close"}}}]}'),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    # Ordering (spec 6.4): the global sequencer, on streams subscribed without prev-id.
    {
        "name": "seq_out_of_order_is_reordered",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-q1"),
        "steps": [
            ("hold", "s", "/s"),
            ("publish", seq_pub("diff-q1", "A\n", id="a")),
            ("publish", seq_pub("diff-q1", "C\n", id="c", prev="b")),
            ("publish", seq_pub("diff-q1", "B\n", id="b", prev="a")),
            ("publish", CLOSE_PUB % "diff-q1"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "seq_duplicate_id_dropped",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-q2"),
        "steps": [
            ("hold", "s", "/s"),
            ("publish", seq_pub("diff-q2", "A\n", id="a")),
            ("publish", seq_pub("diff-q2", "A again\n", id="a")),
            ("publish", seq_pub("diff-q2", "B\n", id="b", prev="a")),
            ("publish", CLOSE_PUB % "diff-q2"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "seq_same_prev_id_kept_once",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-q3"),
        "steps": [
            ("hold", "s", "/s"),
            ("publish", seq_pub("diff-q3", "A\n", id="a")),
            ("publish", seq_pub("diff-q3", "C1\n", id="c1", prev="b")),
            ("publish", seq_pub("diff-q3", "C2\n", id="c2", prev="b")),
            ("publish", seq_pub("diff-q3", "B\n", id="b", prev="a")),
            ("publish", CLOSE_PUB % "diff-q3"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "seq_item_without_id",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-q4"),
        "steps": [
            ("hold", "s", "/s"),
            ("publish", seq_pub("diff-q4", "A\n", id="a")),
            ("publish", seq_pub("diff-q4", "X\n")),
            ("publish", seq_pub("diff-q4", "Y\n", id="y", prev="q")),
            ("publish", seq_pub("diff-q4", "Z\n", id="z", prev="a")),
            ("publish", CLOSE_PUB % "diff-q4"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "seq_no_seq_bypasses",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-q5"),
        "steps": [
            ("hold", "s", "/s"),
            ("publish", seq_pub("diff-q5", "A\n", id="a")),
            ("publish", seq_pub("diff-q5", "C\n", id="c", prev="b", no_seq=True)),
            ("publish", seq_pub("diff-q5", "A dup\n", id="a", no_seq=True)),
            ("publish", seq_pub("diff-q5", "D\n", id="d", prev="c")),
            ("publish", seq_pub("diff-q5", "E\n", id="e", prev="a")),
            ("publish", CLOSE_PUB % "diff-q5"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "seq_orphan_released_after_message_wait",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-q6"),
        "steps": [
            ("hold", "s", "/s"),
            ("publish", seq_pub("diff-q6", "A\n", id="a")),
            ("publish", seq_pub("diff-q6", "E\n", id="e", prev="d")),
            ("sleep", 7.5),
            ("publish", seq_pub("diff-q6", "F\n", id="f", prev="e")),
            ("publish", CLOSE_PUB % "diff-q6"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    # A published body-patch (RFC 6902) applied to the held timeout body (spec 5.1).
    {
        "name": "response_hold_body_patch",
        "routes": ["* {backend}"],
        "backend": {"/poll": (200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-bp"],
                                    ["Content-Type", "application/json"]],
                              '{"a": 1, "list": [1, 2], "name": "x"}')},
        "steps": [
            ("hold", "a", "/poll"),
            ("publish", RESP_PUB % ("diff-bp", '{"body-patch":[{"op":"replace","path":"/a","value":2},'
                                               '{"op":"add","path":"/list/-","value":3},'
                                               '{"op":"remove","path":"/name"},'
                                               '{"op":"add","path":"/u","value":"\\u00e9/\\""}]}')),
            ("read", "a", "}"),
        ],
    },
    {
        "name": "response_hold_body_patch_fails",
        "routes": ["* {backend}"],
        "backend": {"/poll": (200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-bpf"],
                                    ["Content-Type", "application/json"]], '{"a": 1}')},
        "steps": [
            ("hold", "a", "/poll"),
            ("publish", RESP_PUB % ("diff-bpf", '{"body-patch":[{"op":"test","path":"/a","value":5}]}')),
            ("read", "a", "\r\n\r\n"),
        ],
    },
    {
        "name": "response_hold_body_patch_not_json",
        "routes": ["* {backend}"],
        "backend": {"/poll": (200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-bpn"]], "plain")},
        "steps": [
            ("hold", "a", "/poll"),
            ("publish", RESP_PUB % ("diff-bpn", '{"body-patch":[{"op":"add","path":"/a","value":5}]}')),
            ("read", "a", "\r\n\r\n"),
        ],
    },
    # Filters (spec 6.7), with Grip-Set-Meta on the subscription and meta on the publish.
    {
        "name": "filter_skip_self_and_skip_users",
        "routes": ["* {backend}"],
        "backend": {"/s": (200, [["Grip-Hold", "stream"],
                                 ["Grip-Channel", "diff-f1; filter=skip-self; filter=skip-users"],
                                 ["Grip-Set-Meta", "user=alice"],
                                 ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", '{"items":[{"channel":"diff-f1","meta":{"sender":"alice"},"formats":{"http-stream":{"content":"from alice\\n"}}}]}'),
            ("publish", '{"items":[{"channel":"diff-f1","meta":{"sender":"bob"},"formats":{"http-stream":{"content":"from bob\\n"}}}]}'),
            ("publish", '{"items":[{"channel":"diff-f1","meta":{"skip_users":"carol,alice"},"formats":{"http-stream":{"content":"skip alice\\n"}}}]}'),
            ("publish", '{"items":[{"channel":"diff-f1","meta":{"skip_users":"carol"},"formats":{"http-stream":{"content":"skip carol\\n"}}}]}'),
            ("publish", '{"items":[{"channel":"diff-f1","formats":{"http-stream":{"content":"no meta\\n"}}}]}'),
            ("publish", CLOSE_PUB % "diff-f1"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "filter_require_sub",
        "routes": ["*,prefix=p_ {backend}"],
        "backend": {"/s": (200, [["Grip-Hold", "stream"],
                                 ["Grip-Channel", "diff-f2; filter=require-sub, diff-f2b"],
                                 ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", '{"items":[{"channel":"p_diff-f2","meta":{"require_sub":"p_diff-f2b"},"formats":{"http-stream":{"content":"has prefixed\\n"}}}]}'),
            ("publish", '{"items":[{"channel":"p_diff-f2","meta":{"require_sub":"diff-f2b"},"formats":{"http-stream":{"content":"has bare\\n"}}}]}'),
            ("publish", '{"items":[{"channel":"p_diff-f2","meta":{"require_sub":"other"},"formats":{"http-stream":{"content":"lacks\\n"}}}]}'),
            ("publish", CLOSE_PUB % "p_diff-f2"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "filter_var_subst",
        "routes": ["* {backend}"],
        "backend": {"/s": (200, [["Grip-Hold", "stream"],
                                 ["Grip-Channel", "diff-f3; filter=var-subst"],
                                 ["Grip-Set-Meta", "user=alice, n=7"],
                                 ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", '{"items":[{"channel":"diff-f3","formats":{"http-stream":{"content":"hi %(user)s #%(n)s %%(x)s\\n"}}}]}'),
            ("publish", '{"items":[{"channel":"diff-f3","formats":{"http-stream":{"content":"unknown %(nope)s\\n"}}}]}'),
            ("publish", '{"items":[{"channel":"diff-f3","formats":{"http-stream":{"content":"after\\n"}}}]}'),
            ("publish", CLOSE_PUB % "diff-f3"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "filter_var_subst_response",
        "routes": ["* {backend}"],
        "backend": {"/p": (200, [["Grip-Hold", "response"],
                                 ["Grip-Channel", "diff-f4; filter=var-subst"],
                                 ["Grip-Set-Meta", "user=bob"]], "t\n")},
        "steps": [
            ("hold", "p", "/p"),
            ("publish", RESP_PUB % ("diff-f4", '{"headers":{"X-U":"%(user)s"},"body":"hello %(user)s\\n"}')),
            ("read", "p", "\n\n"),
        ],
    },
    {
        "name": "filter_unknown_ignored",
        "routes": ["* {backend}"],
        "backend": {"/s": (200, [["Grip-Hold", "stream"],
                                 ["Grip-Channel", "diff-p1; filter=bogus"],
                                 ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", '{"items":[{"channel":"diff-p1","formats":{"http-stream":{"content":"x\\n"}}}]}'),
            ("publish", CLOSE_PUB % "diff-p1"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "filter_content_filters_must_match",
        "routes": ["* {backend}"],
        "backend": {"/s": (200, [["Grip-Hold", "stream"],
                                 ["Grip-Channel", "diff-p3; filter=var-subst; filter=skip-self"],
                                 ["Grip-Set-Meta", "user=u"],
                                 ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", '{"items":[{"channel":"diff-p3","formats":{"http-stream":{"content":"eq %(user)s\\n","content-filters":["var-subst"]}}}]}'),
            ("publish", '{"items":[{"channel":"diff-p3","formats":{"http-stream":{"content":"none %(user)s\\n","content-filters":[]}}}]}'),
            ("publish", '{"items":[{"channel":"diff-p3","formats":{"http-stream":{"content":"other %(user)s\\n","content-filters":["build-id"]}}}]}'),
            ("publish", '{"items":[{"channel":"diff-p3","formats":{"http-stream":{"content":"last\\n"}}}]}'),
            ("publish", CLOSE_PUB % "diff-p3"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    # Grip-Link next and recovery (spec 6.4, 6.5), and the first-subscription refresh (6.2 item 5).
    {
        "name": "link_paging",
        "routes": ["* {backend}"],
        "backend": {"/page1": (200, [["Grip-Link", "</page2>; rel=next"], ["Content-Type", "text/plain"]], "p1\n"),
                    "/page2": (200, [["Grip-Link", "</page3>; rel=next"]], "p2\n"),
                    "/page3": (200, [], "p3 {grip-last}\n")},
        "steps": [("get", "/page1", "")],
    },
    {
        "name": "link_stream_hint_fetches_next",
        "routes": ["* {backend}"],
        "backend": {"/s": (200, [["Grip-Hold", "stream"], ["Grip-Channel", "diff-l1"],
                                 ["Grip-Link", "</next>; rel=next"], ["Content-Type", "text/plain"]], "open\n"),
                    "/next": (200, [["Grip-Hold", "stream"], ["Grip-Channel", "diff-l1b"]], "next {grip-last}\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", '{"items":[{"channel":"diff-l1","formats":{"http-stream":{"action":"hint"}}}]}'),
            ("sleep", 1),
            ("publish", STREAM_PUB % ("diff-l1", "old channel\\n")),
            ("publish", STREAM_PUB % ("diff-l1b", "new channel\\n")),
            ("publish", CLOSE_PUB % "diff-l1b"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "recovery_stream_gap_fetches_next_with_grip_last",
        "routes": ["* {backend}"],
        "backend": {"/s": (200, [["Grip-Hold", "stream"], ["Grip-Channel", "diff-r1; prev-id=p0"],
                                 ["Grip-Link", "</next>; rel=next"], ["Content-Type", "text/plain"]], "open\n"),
                    "/next": (200, [["Grip-Hold", "stream"], ["Grip-Channel", "diff-r1; prev-id=c"],
                                    ["Grip-Link", "</next>; rel=next"]], "recovered {grip-last}\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", seq_pub("diff-r1", "A\n", id="a", prev="p0")),
            ("publish", seq_pub("diff-r1", "C\n", id="c", prev="b", no_seq=True)),
            ("sleep", 1),
            ("publish", seq_pub("diff-r1", "D\n", id="d", prev="c")),
            ("publish", CLOSE_PUB % "diff-r1"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "recovery_response_gap_replays_with_grip_last",
        "routes": ["* {backend}"],
        "backend": {"/poll": [(200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-r2; prev-id=p0"]], "t\n"),
                              (200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-r2; prev-id=p0"]], "t\n"),
                              (200, [], "replayed {grip-last}\n")]},
        "steps": [
            ("hold", "p", "/poll"),
            ("publish", (RESP_PUB % ("diff-r2", '{"body":"x\\n"}')).replace('"channel"', '"prev-id":"zz","id":"y","no-seq":true,"channel"')),
            ("read", "p", "\n\n"),
        ],
    },
    {
        "name": "response_hint_replays_the_request",
        "routes": ["* {backend}"],
        "backend": {"/poll": [(200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-h1"]], "t\n"),
                              (200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-h1"]], "t\n"),
                              (200, [], "after hint {grip-last}\n")]},
        "steps": [
            ("hold", "p", "/poll"),
            ("publish", '{"items":[{"channel":"diff-h1","formats":{"http-response":{"action":"hint"}}}]}'),
            ("read", "p", "\n\n"),
        ],
    },
    {
        "name": "first_subscription_refresh_replays_a_long_poll",
        "routes": ["* {backend}"],
        "backend": {"/poll": [(200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-fs"]], "t\n"),
                              (200, [], "refreshed\n")]},
        "steps": [("hold", "p", "/poll"), ("read", "p", "\n\n")],
    },
    {
        "name": "filter_build_id",
        "routes": ["* {backend}"],
        "backend": {"/s": (200, [["Grip-Hold", "stream"], ["Grip-Channel", "diff-bi; filter=build-id"],
                                 ["Grip-Set-Meta", "id_format=abc, id_encoding=hex"],
                                 ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", STREAM_PUB % ("diff-bi", "x %I y\\n")),
            ("publish", CLOSE_PUB % "diff-bi"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "filter_build_id_escapes",
        "routes": ["* {backend}"],
        "backend": {"/s": (200, [["Grip-Hold", "stream"], ["Grip-Channel", "diff-bj; filter=build-id"],
                                 ["Grip-Set-Meta", "id_format=p%%q"],
                                 ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", STREAM_PUB % ("diff-bj", "x %I y %%I z\\n")),
            ("publish", STREAM_PUB % ("diff-bj", "100%\\n")),
            ("publish", CLOSE_PUB % "diff-bj"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    # zhttpreq/ routes (spec 2.6): the same scenarios with a ZeroMQ REP worker as the backend.
    {
        "name": "zhttpreq_plain",
        "routes": ["* {backend}"],
        "worker": True,
        "backend": {"/echo": (200, [["Content-Type", "text/plain"], ["X-Custom", "1"]], ECHO),
                    "/missing": (404, [["Content-Type", "text/plain"]], "nope\n")},
        "steps": [
            ("get", "/echo?x=1", ""),
            ("raw", "POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n"
                    "Connection: close\r\n\r\nhello"),
            ("get", "/missing", ""),
        ],
    },
    {
        "name": "zhttpreq_grip_stream",
        "routes": ["* {backend}"],
        "worker": True,
        "backend": {"/s": (200, [["Grip-Hold", "stream"], ["Grip-Channel", "diff-zs"],
                                 ["Content-Type", "text/plain"]], "open\n")},
        "steps": [
            ("hold", "s", "/s"),
            ("publish", STREAM_PUB % ("diff-zs", "pushed\\n")),
            ("publish", CLOSE_PUB % "diff-zs"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "zhttpreq_grip_response",
        "routes": ["* {backend}"],
        "worker": True,
        "backend": {"/p": (200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-zr"],
                                 ["Content-Type", "text/plain"], ["X-Foo", "bar"]], "timeout\n")},
        "steps": [
            ("hold", "p", "/p"),
            ("publish", RESP_PUB % ("diff-zr", '{"code":201,"headers":{"X-Pub":"1"},"body":"published\\n"}')),
            ("read", "p", "published\n"),
        ],
    },
]

# ZeroMQ publish inputs (spec 5.3, 5.4) and the command socket (5.5).


def stream_item(channel, content, **extra):
    """An http-stream item (a dict, for ZeroMQ steps); `extra` adds item fields such as id."""
    item = {"channel": channel, "formats": {"http-stream": {"content": content}}}
    item.update({k.replace("_", "-"): v for k, v in extra.items()})
    return item


def close_item(channel):
    return {"channel": channel, "formats": {"http-stream": {"action": "close"}}}


def poll_backend(channel):
    """A backend that holds /p as a long-poll on `channel`."""
    return {"/p": (200, [["Grip-Hold", "response"], ["Grip-Channel", channel],
                         ["Content-Type", "text/plain"]], "timeout\n")}


ZMQ_SCENARIOS = [
    {
        "name": "zmq_pull_stream_every_form",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-zp1"),
        "steps": [
            ("hold", "s", "/s"),
            ("push", "bare", stream_item("diff-zp1", "bare\n")),
            ("push", "T", stream_item("diff-zp1", "tagged\n")),
            ("push", "J", stream_item("diff-zp1", "json \u00e9\n")),
            ("push", "J", {"channel": "diff-zp1", "formats": {"http-stream": {"content-bin": "YmluCg=="}}}),
            ("push", "T", close_item("diff-zp1")),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "zmq_pull_response_every_form",
        "routes": ["* {backend}"],
        "backend": {"/a": poll_backend("diff-zr1")["/p"], "/b": poll_backend("diff-zr2")["/p"],
                    "/c": poll_backend("diff-zr3")["/p"]},
        "steps": [
            ("hold", "a", "/a"),
            ("hold", "b", "/b"),
            ("hold", "c", "/c"),
            ("push", "bare", {"channel": "diff-zr1", "formats": {"http-response": {
                "code": 202, "reason": "Taken", "headers": [["X-Pub", "bare"]], "body": "bare\n"}}}),
            ("push", "T", {"channel": "diff-zr2", "formats": {"http-response": {
                "headers": {"X-Pub": "tagged", "Content-Type": "text/x-t"}, "body": "tagged\n"}}}),
            ("push", "J", {"channel": "diff-zr3", "formats": {"http-response": {
                "code": 404, "body-bin": "anNvbgo="}}}),
            ("read", "a", "bare\n"),
            ("read", "b", "tagged\n"),
            ("read", "c", "json\n"),
        ],
    },
    {
        "name": "zmq_sub_stream_and_response",
        "routes": ["* {backend}"],
        "backend": {**seq_stream("diff-zs1"), **poll_backend("diff-zs2")},
        "steps": [
            ("hold", "s", "/s"),
            ("hold", "p", "/p"),
            # On SUB the channel is the first frame; a channel field in the item is ignored.
            ("sub", "diff-zs1", "J", {"channel": "elsewhere", "formats": {"http-stream": {"content": "json\n"}}}),
            ("sub", "diff-zs1", "bare", {"formats": {"http-stream": {"content": "bare\n"}}}),
            ("sub", "diff-zs2", "T", {"formats": {"http-response": {"code": 201, "body": "via sub\n"}}}),
            ("sub", "diff-zs1", "T", {"formats": {"http-stream": {"action": "close"}}}),
            ("read", "s", "0\r\n\r\n"),
            ("read", "p", "via sub\n"),
        ],
    },
    {
        "name": "zmq_pull_item_with_several_formats",
        "routes": ["* {backend}"],
        "backend": {**seq_stream("diff-zf"), **poll_backend("diff-zf")},
        "steps": [
            ("hold", "s", "/s"),
            ("hold", "p", "/p"),
            ("push", "T", {"channel": "diff-zf", "formats": {
                "http-stream": {"content": "as stream\n"},
                "http-response": {"headers": {"X-F": "1"}, "body": "as response\n"}}}),
            ("push", "T", close_item("diff-zf")),
            ("read", "s", "0\r\n\r\n"),
            ("read", "p", "as response\n"),
        ],
    },
    {
        "name": "zmq_pull_seq_out_of_order_is_reordered",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-zq"),
        "steps": [
            ("hold", "s", "/s"),
            ("push", "T", stream_item("diff-zq", "A\n", id="a")),
            ("push", "J", stream_item("diff-zq", "C\n", id="c", prev_id="b")),
            ("push", "bare", stream_item("diff-zq", "B\n", id="b", prev_id="a")),
            ("push", "J", stream_item("diff-zq", "B again\n", id="b", prev_id="a")),
            ("push", "T", close_item("diff-zq")),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "zmq_pull_malformed_then_good",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-zm"),
        "steps": [
            ("hold", "s", "/s"),
            ("push", "raw", b"Jnot json"),
            ("push", "raw", b"T4:junk,"),
            ("push", "raw", b"\x00\xff"),
            ("push", "J", [stream_item("diff-zm", "in a list\n")]),
            ("push", "T", {"formats": {"http-stream": {"content": "no channel\n"}}}),
            ("push", "T", {"channel": "diff-zm", "formats": {"http-stream": {}}}),
            # content-bin is JSON-only: a tnetstring item with only content-bin has no content.
            ("push", "T", {"channel": "diff-zm", "formats": {"http-stream": {"content-bin": "eAo="}}}),
            ("push", "J", {"channel": "diff-zm", "formats": {"http-stream": {"content": "bad action\n",
                                                                          "action": "nope"}}}),
            ("push", "T", stream_item("diff-zm", "good\n")),
            ("push", "T", close_item("diff-zm")),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "zmq_command_get_zmq_uris",
        "routes": ["* test"],
        "steps": [
            ("command", "get-zmq-uris"),
            ("command", "no-such-method"),
        ],
    },
    {
        "name": "zmq_command_publish",
        "routes": ["* {backend}"],
        "backend": seq_stream("diff-zc"),
        "steps": [
            ("hold", "s", "/s"),
            ("command", "publish", {"items": [stream_item("diff-zc", "by command\n")]}),
            ("command", "publish", {"items": [{"channel": "diff-zc"}]}),
            ("command", "publish", {}),
            ("command", "publish", {"items": [close_item("diff-zc")]}),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "zmq_command_recover_replays_a_long_poll",
        "routes": ["* {backend}"],
        "backend": {"/p": [(200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-zv"]], "t\n"),
                           (200, [["Grip-Hold", "response"], ["Grip-Channel", "diff-zv"]], "t\n"),
                           (200, [], "recovered {grip-last}\n")]},
        "steps": [
            ("hold", "p", "/p"),
            ("command", "recover"),
            ("read", "p", "\n\n"),
        ],
    },
]

SCENARIOS += ZMQ_SCENARIOS

# zhttp/ routes (spec 2.7): a streaming ZHTTP worker as the backend.
TEXT = [["Content-Type", "text/plain"]]

ZHTTP_SCENARIOS = [
    {
        "name": "zhttp_stream_in_three_parts",
        "routes": ["* {backend}"],
        "zhttp_worker": {"/three": {"headers": TEXT, "chunks": ["part1\n", "part2\n", "part3\n"],
                                    "delay": 0.2}},
        "steps": [("get", "/three?x=1", "Accept: */*\r\n")],
    },
    {
        "name": "zhttp_single_packet_response",
        "routes": ["* {backend}"],
        "zhttp_worker": {"/one": {"code": 201, "reason": "Made", "headers": TEXT + [["X-A", "1"]],
                                  "chunks": ["whole\n"]}},
        "steps": [
            ("get", "/one", ""),
            ("raw", "POST /one HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n"
                    "Connection: close\r\n\r\nhello"),
            ("get", "/missing", ""),
        ],
    },
    {
        "name": "zhttp_grip_stream_hold_fed_by_publish",
        "routes": ["* {backend}"],
        "zhttp_worker": {"/hold": {"headers": [["Grip-Hold", "stream"], ["Grip-Channel", "diff-zw"]] + TEXT,
                                   "chunks": ["open\n"]}},
        "steps": [
            ("hold", "s", "/hold"),
            ("publish", STREAM_PUB % ("diff-zw", "pushed\\n")),
            ("publish", CLOSE_PUB % "diff-zw"),
            ("read", "s", "0\r\n\r\n"),
        ],
    },
    {
        "name": "zhttp_worker_error_packets",
        "routes": ["*,debug {backend}"],
        "zhttp_worker": {"/unreachable": {"error": "remote-connection-failed"},
                         "/generic": {"error": "bad-request"}},
        "steps": [("get", "/unreachable", ""), ("get", "/generic", "")],
    },
    {
        "name": "zhttp_worker_error_packets_without_debug",
        "routes": ["* {backend}"],
        "zhttp_worker": {"/unreachable": {"error": "remote-connection-failed"},
                         "/generic": {"error": "bad-request"}},
        "steps": [("get", "/unreachable", ""), ("get", "/generic", "")],
    },
    {
        "name": "zhttp_client_gone_cancels",
        "routes": ["* {backend}"],
        "zhttp_worker": {"/slow": {"headers": TEXT, "chunks": ["first\n", "never\n"], "delay": 5.0}},
        "steps": [("hold", "s", "/slow"), ("drop", "s")],
    },
]

SCENARIOS += ZHTTP_SCENARIOS

from ws_scenarios import WS_SCENARIOS  # noqa: E402

SCENARIOS += WS_SCENARIOS
