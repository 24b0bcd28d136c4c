"""Differential tests: every scenario of tests/diff/scenarios.py run against gripway must give
what Pushpin 1.36 gave (tests/diff/transcripts/, recorded by tests/diff/record.py), except for
the differences a scenario names, each with its reason (see scenarios.py)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diff"))
import harness  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

from gripway_proc import Gripway, free_port  # noqa: E402

# The reference runs on Pushpin's shipped pushpin.conf; these are its [handler] values that
# differ from the fallbacks a config without them gets.
SHIPPED_HANDLER = "id_cache_ttl=60\nmessage_rate=2500\nmessage_hwm=25000\n"
# And the shipped signing key, so requests to backends carry a Grip-Sig as Pushpin's do.
SHIPPED_PROXY = "[proxy]\nsig_key=changeme\n"
# Pushpin binds its ZeroMQ publish inputs and command socket on fixed default ports; gripway
# binds them on free ports here, so that runs never collide, and the harness is told where.
ZMQ_KEYS = ("push_in_spec", "push_in_sub_specs", "command_spec")


def case(scenario):
    """A scenario as a pytest parameter; one marked "xfail" (a known difference, or a feature
    gripway lacks yet) is expected to fail, with the scenario's reason and strictness."""
    marks = []
    if "xfail" in scenario:
        xfail = scenario["xfail"]
        marks.append(pytest.mark.xfail(reason=xfail["reason"], strict=xfail["strict"]))
    return pytest.param(scenario, id=scenario["name"], marks=marks)


@pytest.mark.parametrize("scenario", [case(s) for s in SCENARIOS])
def test_same_as_pushpin(scenario):
    expected = json.loads((harness.TRANSCRIPTS / f"{scenario['name']}.json").read_text())
    backend = harness.backend_for(scenario)
    try:
        routes = [r.replace("{backend}", backend.target) for r in scenario["routes"]]
        specs = {key: f"tcp://127.0.0.1:{free_port()}" for key in ZMQ_KEYS}
        conf = SHIPPED_HANDLER + "".join(f"{key}={spec}\n" for key, spec in specs.items())
        conf += SHIPPED_PROXY
        with Gripway(routes, extra_conf=conf) as gw:
            endpoints = harness.Endpoints(client=gw.port, publish=gw.publish_port,
                                          pull=specs["push_in_spec"], sub=specs["push_in_sub_specs"],
                                          command=specs["command_spec"])
            got = harness.run(scenario, endpoints, backend)
    finally:
        backend.close()
    framing = scenario.get("framing_may_differ", False)
    headers = scenario.get("headers_may_differ", ())
    assert fold(got, framing, headers) == fold(expected, framing, headers)


def fold(transcript, framing, headers=()):
    """The transcript without the differences a scenario documents as deliberate: the chunked
    flag dropped when `framing` may differ, and the request headers named in `headers` dropped
    from what a WebSocket backend saw (also in its "backend-rest" entry)."""
    out = []
    for r in transcript:
        if framing and "chunked" in r:
            r = {**r, "chunked": None}
        if "backend-rest" in r:
            r = {"backend-rest": fold(r["backend-rest"], framing, headers)}
        if headers and isinstance(r.get("headers"), dict):
            r = {**r, "headers": {k: v for k, v in r["headers"].items() if k not in headers}}
        out.append(r)
    return out


def test_at_least_fifteen_scenarios():
    assert len(SCENARIOS) >= 15
    assert all((harness.TRANSCRIPTS / f"{s['name']}.json").exists() for s in SCENARIOS)
