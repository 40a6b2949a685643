"""The second simulated world: deterministic, ordered, and its truth matches its events."""

from __future__ import annotations

import io
import json
from pathlib import Path

import orjson
import pytest

from faultcast.simulate_graph import simulate_graph


def test_same_seed_same_bytes_and_truth_matches_the_events(tmp_path: Path) -> None:
    a, b = io.BytesIO(), io.BytesIO()
    simulate_graph(a, services=5, hours=3, seed=9)
    simulate_graph(b, services=5, hours=3, seed=9)
    assert a.getvalue() == b.getvalue()
    out = tmp_path / "g.jsonl"
    summary = simulate_graph(out, services=5, hours=3, seed=9)
    truth = json.loads(Path(summary.truth_path or "").read_text())
    events = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert truth["counts"]["events"] == len(events) == summary.events
    assert sum(bool(e.get("failure")) for e in events) == truth["counts"]["failures"]
    failing = {e["service"] for e in events if e.get("failure")}
    with_outages = {name for name, s in truth["services"].items() if s["outages"]}
    assert failing == with_outages
    # callers name the service they called when calls fail
    peers = {e["peer"] for e in events if "peer" in e}
    assert peers <= set(truth["services"])


def test_bad_arguments_say_which() -> None:
    with pytest.raises(ValueError, match="services must be"):
        simulate_graph(io.BytesIO(), services=1)
    with pytest.raises(ValueError, match="hours must be positive"):
        simulate_graph(io.BytesIO(), hours=0)
