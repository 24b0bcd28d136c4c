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

from gripway_proc import Gripway  # noqa: E402

# The reference runs on Pushpin's shipped pushpin.conf; these are its [handler] values that
# differ from the fallbacks a config without them gets.
SHIPPED_HANDLER = "id_cache_ttl=60\nmessage_rate=2500\nmessage_hwm=25000\n"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_same_as_pushpin(scenario):
    expected = json.loads((harness.TRANSCRIPTS / f"{scenario['name']}.json").read_text())
    backend = harness.backend_for(scenario)
    try:
        routes = [r.replace("{backend}", backend.target) for r in scenario["routes"]]
        with Gripway(routes, extra_conf=SHIPPED_HANDLER) as gw:
            got = harness.run(scenario, gw.port, gw.publish_port, backend.port)
    finally:
        backend.close()
    framing = scenario.get("framing_may_differ", False)
    assert fold(got, framing) == fold(expected, framing)


def fold(transcript, framing):
    """The transcript without the difference a scenario documents as deliberate: the chunked
    flag dropped when `framing` may differ."""
    return [{**r, "chunked": None if framing else r["chunked"]} for r in transcript]


def test_at_least_fifteen_scenarios():
    assert len(SCENARIOS) >= 15
    assert all((harness.TRANSCRIPTS / f"{s['name']}.json").exists() for s in SCENARIOS)
