"""Reading protocol/vectors/*.json and the JSON spelling of tnetstring values (vectors/README.md)."""

import json
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def load(codec):
    """The cases of vectors/<codec>.json."""
    return json.loads((VECTORS / f"{codec}.json").read_text(encoding="utf-8"))["cases"]


def wire(case, key="wire"):
    """The bytes of `key` (text) or `key`_hex, or None."""
    if key in case:
        return case[key].encode("utf-8")
    if f"{key}_hex" in case:
        return bytes.fromhex(case[f"{key}_hex"])
    return None


def tnet_value(j):
    """The Python value tnetstring3 gives for a vector's JSON spelling (dicts keep the last of a
    repeated key, as Python dicts do)."""
    if j is None or isinstance(j, (bool, int)):
        return j
    if isinstance(j, str):
        return j.encode("utf-8")
    if isinstance(j, list):
        return [tnet_value(v) for v in j]
    if "$hex" in j:
        return bytes.fromhex(j["$hex"])
    if "$float" in j:
        return float(j["$float"])
    if "$dict" in j:
        return {tnet_value(k): tnet_value(v) for k, v in j["$dict"]}
    return {k.encode("utf-8"): tnet_value(v) for k, v in j.items()}


def has_float(v):
    if isinstance(v, float):
        return True
    if isinstance(v, list):
        return any(has_float(x) for x in v)
    if isinstance(v, dict):
        return any(has_float(x) for x in v.values())
    return False


def has_multi_key_dict(v):
    if isinstance(v, dict):
        return len(v) > 1 or any(has_multi_key_dict(x) for x in v.values())
    if isinstance(v, list):
        return any(has_multi_key_dict(x) for x in v)
    return False
