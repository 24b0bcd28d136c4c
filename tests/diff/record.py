#!/usr/bin/env python3
"""Records Pushpin 1.36's transcript of every scenario into transcripts/<name>.json.

Starts the reference Pushpin (../shared/tools/reference-pushpin) once per scenario, on loopback
with port offset 600, with the scenario's routes; stops it afterwards. Needs the `pushpin`
Debian package, which the tool installs when missing.

    .venv/bin/python tests/diff/record.py [scenario ...]

(The `.venv` made by `make test` has pyzmq and tnetstring3, which the zhttpreq worker
scenarios need, and websockets, for the native WebSocket backend.)
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

OFFSET = 600


def find_tool():
    """../shared/tools/reference-pushpin beside the checkout: /work/main and the worktrees
    under /work/wt/ sit at different depths, so look upwards; $REFERENCE_PUSHPIN overrides."""
    if os.environ.get("REFERENCE_PUSHPIN"):
        return Path(os.environ["REFERENCE_PUSHPIN"])
    for parent in Path(__file__).resolve().parents:
        tool = parent / "shared" / "tools" / "reference-pushpin"
        if tool.exists():
            return tool
    raise FileNotFoundError("shared/tools/reference-pushpin not found above this checkout")


def reference_endpoints():
    """Where the reference listens: Pushpin's default ports (spec 0.1) moved by OFFSET."""
    def spec(port):
        return f"tcp://127.0.0.1:{port + OFFSET}"
    return harness.Endpoints(client=7999 + OFFSET, publish=5561 + OFFSET, pull=spec(5560),
                             sub=spec(5562), command=spec(5563))


def main(names):
    harness.TRANSCRIPTS.mkdir(exist_ok=True)
    for scenario in SCENARIOS:
        if names and scenario["name"] not in names:
            continue
        backend = harness.backend_for(scenario)
        routes = [r.replace("{backend}", backend.target) for r in scenario["routes"]]
        args = [str(find_tool()), "--offset", str(OFFSET)]
        for r in routes:
            args += ["--route", r]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        pid = int(re.search(r"pid=(\d+)", out).group(1))
        try:
            time.sleep(1)
            transcript = harness.run(scenario, reference_endpoints(), backend)
        finally:
            os.killpg(os.getpgid(pid), signal.SIGTERM)
            backend.close()
            time.sleep(1.5)
        path = harness.TRANSCRIPTS / f"{scenario['name']}.json"
        path.write_text(json.dumps(transcript, indent=1) + "\n")
        print(f"recorded {scenario['name']}: {len(transcript)} responses")


if __name__ == "__main__":
    main(sys.argv[1:])
