"""The simulator: deterministic, ordered, and carrying the structure later features learn from."""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from faultcast.ingest.schema import category_of

from faultcast.simulate import PRECURSOR_KINDS, iter_events, simulate


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict]:
    path = tmp_path_factory.mktemp("sim") / "day.jsonl"
    simulate(path, services=6, hours=48, seed=4)
    events = [json.loads(line) for line in path.open()]
    truth = json.loads(Path(str(path) + ".truth.json").read_text())
    return events, truth


def _ts(ev: dict) -> datetime:
    return datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00"))


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a, b, c = io.BytesIO(), io.BytesIO(), io.BytesIO()
    simulate(a, services=3, hours=2, seed=9)
    simulate(b, services=3, hours=2, seed=9)
    simulate(c, services=3, hours=2, seed=10)
    assert a.getvalue() == b.getvalue() != c.getvalue()


def test_lines_are_ordered_json_objects_with_the_required_keys(day) -> None:
    events, truth = day
    stamps = [ev["timestamp"] for ev in events]
    assert stamps == sorted(stamps)
    for ev in events[:5000]:
        assert {"event", "level", "timestamp", "service", "host"} <= set(ev)
        assert ev["level"] in {"debug", "info", "warning", "error", "critical"}
    assert truth["counts"]["events"] == len(events)


def test_every_category_appears(day) -> None:
    events, _ = day
    cats = Counter(category_of(ev.get("error_type")) for ev in events if ev.get("error_type"))
    for cat in ("streaming", "budget", "security", "memory", "communication", "data"):
        assert cats[cat] > 50, cats


def test_outages_are_critical_failures_at_the_truth_times(day) -> None:
    events, truth = day
    failures = defaultdict(list)
    for ev in events:
        if ev.get("failure"):
            assert ev["level"] == "critical"
            failures[ev["service"]].append(_ts(ev))
    n_outages = 0
    for service, info in truth["services"].items():
        for outage in info["outages"]:
            n_outages += 1
            start, end = (
                datetime.fromisoformat(outage[k].replace("Z", "+00:00")) for k in ("start", "end")
            )
            assert any(start <= t <= end for t in failures[service]), (service, outage)
    assert n_outages >= 10
    with_precursor = sum(
        1 for s in truth["services"].values() for o in s["outages"] if o["precursor"]
    )
    assert 0.5 <= with_precursor / n_outages < 1.0  # most, not all


def test_precursor_kind_rises_before_its_outage(day) -> None:
    events, truth = day
    kind_category = {
        "timeouts": "communication",
        "memory": "memory",
        "retry_storm": "communication",
        "budget": "budget",
        "streaming_lag": "streaming",
    }
    per_service_cat = defaultdict(list)
    for ev in events:
        if ev.get("error_type") and not ev.get("failure"):
            per_service_cat[(ev["service"], category_of(ev["error_type"]))].append(_ts(ev))
    hours = truth["parameters"]["hours"]
    lifted = total = 0
    for service, info in truth["services"].items():
        for outage in info["outages"]:
            if not outage["precursor"]:
                continue
            total += 1
            cat = kind_category[outage["precursor"]]
            times = per_service_cat[(service, cat)]
            start = datetime.fromisoformat(outage["start"].replace("Z", "+00:00"))
            before = sum(1 for t in times if 0 < (start - t).total_seconds() <= 1800)
            base_per_30min = len(times) / (hours * 2)
            lifted += before > 2 * base_per_30min
    assert total and lifted / total >= 0.8


def test_success_rates_match_the_truth_table(day) -> None:
    events, truth = day
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for ev in events:
        if "recovery_action" in ev:
            key = (category_of(ev.get("error_type")) or "unknown", ev["recovery_action"])
            tally[key][0] += ev["recovery_outcome"] == "succeeded"
            tally[key][1] += 1
    checked = 0
    for (cat, action), (ok, n) in tally.items():
        if n >= 200:
            assert abs(ok / n - truth["success_probability"][cat][action]) < 0.1, (
                cat,
                action,
                ok,
                n,
            )
            checked += 1
    assert checked >= 4
    assert len({a for (c, a) in tally if c == "communication"}) >= 4  # actions are explored


def test_daytime_is_busier_than_night(day) -> None:
    events, _ = day
    by_hour = Counter(_ts(ev).hour for ev in events)
    assert by_hour[14] > 2 * by_hour[2]


def test_security_incidents_and_leaks(day) -> None:
    events, truth = day
    incidents = [b for s in truth["services"].values() for b in s["brute_force"]]
    assert incidents
    ip = incidents[0]["source_ip"]
    assert (
        sum(
            1
            for ev in events
            if ev.get("source_ip") == ip and ev.get("error_type") == "AuthenticationError"
        )
        >= 20
    )
    assert any(ev.get("recovery_action") == "lockout" for ev in events)
    assert sum(truth["leaks"].values()) >= 1
    assert any("password=" in ev["event"] for ev in events)


def test_gzip_stdout_and_event_ids(tmp_path: Path) -> None:
    summary = simulate(tmp_path / "s.jsonl.gz", services=2, hours=1, seed=2, event_ids=True)
    lines = gzip.decompress((tmp_path / "s.jsonl.gz").read_bytes()).splitlines()
    assert len(lines) == summary.events and summary.truth_path
    ids = [json.loads(line)["event_id"] for line in lines]
    assert len(set(ids)) == len(ids)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="services"):
        next(iter_events(services=0))
    with pytest.raises(ValueError, match="ISO 8601"):
        next(iter_events(start="yesterday"))


def test_the_generator_holds_no_per_event_state() -> None:
    import tracemalloc

    def peak(hours: float) -> int:
        tracemalloc.start()
        for _ in iter_events(services=4, hours=hours, seed=1):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    assert peak(8) < 1.5 * peak(1) + 2_000_000


def test_precursor_kinds_are_the_documented_ones() -> None:
    assert set(PRECURSOR_KINDS) == {"timeouts", "memory", "retry_storm", "budget", "streaming_lag"}
