"""The simulator: deterministic, ordered, bounded, and carrying the structure later features
are tested against (outages and their precursors, false alarms, security incidents, recovery
outcomes that follow a table, daily seasonality, leaked secrets)."""

from __future__ import annotations

import gzip
import io
import random
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from faultcast.ingest.redact import Redactor
from faultcast.ingest.schema import category_of

from faultcast import _simulate_catalog as catalog
from faultcast.simulate import (
    DEFAULT_START,
    PRECURSOR_KINDS,
    SimulationSummary,
    iter_events,
    simulate,
)

HOURS = 48
SERVICES = 6
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
REQUIRED = ("event", "level", "timestamp", "service", "host", "component")
KNOWN_KEYS = set(REQUIRED) | {
    "error_type", "request_id", "failure", "recovery_action", "recovery_outcome", "retry_count",
    "recovery_ms", "event_id", "user", "source_ip", "tenant", "partition", "lag", "heap_pct",
    "budget_pct", "status", "path", "duration_ms", "peer", "topic", "group",
}  # fmt: skip


#: Text only a leaky line has (one marker per kind of leak).
LEAK_MARKERS = (b"password=", b"Bearer ", b"api_key=", b"AKIA", b"for card ", b"@", b"://app:")


@dataclass
class Run:
    summary: SimulationSummary
    lines: list[bytes]
    events: list[dict[str, Any]]
    truth: dict[str, Any]

    def times(self) -> list[datetime]:
        return [_ts(e["timestamp"]) for e in self.events]


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Two days of six services (about 350,000 events), written to a file with its truth."""
    path = tmp_path_factory.mktemp("sim") / "two-days.jsonl"
    summary = simulate(path, services=SERVICES, hours=HOURS, seed=4)
    lines = path.read_bytes().splitlines()
    truth = orjson.loads(Path(str(path) + ".truth.json").read_bytes())
    return Run(summary, lines, [orjson.loads(line) for line in lines], truth)


# -- determinism, format, ordering -------------------------------------------------------------


def test_same_arguments_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a, b, c = io.BytesIO(), io.BytesIO(), io.BytesIO()
    simulate(a, services=3, hours=2, seed=9, event_ids=True)
    simulate(b, services=3, hours=2, seed=9, event_ids=True)
    simulate(c, services=3, hours=2, seed=10, event_ids=True)
    assert a.getvalue() == b.getvalue()
    assert a.getvalue() != c.getvalue()
    # gzip too: no time stamp or file name in the header.
    simulate(tmp_path / "x.jsonl.gz", services=2, hours=1, seed=3)
    simulate(tmp_path / "y.jsonl.gz", services=2, hours=1, seed=3)
    assert (tmp_path / "x.jsonl.gz").read_bytes() == (tmp_path / "y.jsonl.gz").read_bytes()
    assert (tmp_path / "x.jsonl.gz.truth.json").read_bytes() == (
        tmp_path / "y.jsonl.gz.truth.json"
    ).read_bytes()


def test_iter_events_matches_what_simulate_writes() -> None:
    buf = io.BytesIO()
    simulate(buf, services=2, hours=1, seed=6)
    made = b"".join(orjson.dumps(e) + b"\n" for e in iter_events(services=2, hours=1, seed=6))
    assert made == buf.getvalue()


def test_lines_are_time_ordered_json_objects_in_structlog_shape(run: Run) -> None:
    stamps = [e["timestamp"] for e in run.events]
    assert stamps == sorted(stamps)
    assert stamps[0] >= run.truth["start"] and stamps[-1] < run.truth["end"]
    levels = {"debug", "info", "warning", "error", "critical"}
    for ev in run.events:
        assert list(ev)[:6] == list(REQUIRED), ev  # keys in a stable order
        assert set(ev) <= KNOWN_KEYS, set(ev) - KNOWN_KEYS
        assert ev["level"] in levels
        assert TIMESTAMP.match(ev["timestamp"])
        assert ev["host"].startswith(ev["service"] + "-")
        assert isinstance(ev["event"], str) and ev["event"]
        if "recovery_action" in ev:
            assert ev["recovery_outcome"] in {"succeeded", "failed"}
            assert isinstance(ev["recovery_ms"], float) and ev["recovery_ms"] > 0
        if "retry_count" in ev:
            assert isinstance(ev["retry_count"], int) and 1 <= ev["retry_count"] <= 5
        if "failure" in ev:
            assert ev["failure"] is True
    # The example line from the brief has this shape: an error with all the trimmings.
    assert any(
        {"error_type", "request_id", "recovery_action", "retry_count"} <= set(ev)
        for ev in run.events
    )


def test_summary_and_truth_count_what_was_written(run: Run) -> None:
    s, counts = run.summary, run.truth["counts"]
    assert s.events == counts["events"] == len(run.lines)
    assert s.by_level == Counter(e["level"] for e in run.events) == counts["by_level"]
    assert s.failures == counts["failures"] == sum(1 for e in run.events if e.get("failure"))
    by_category = Counter(category_of(e["error_type"]) for e in run.events if "error_type" in e)
    assert s.by_category == by_category == counts["by_category"]
    assert s.recoveries == sum(1 for e in run.events if "recovery_action" in e)
    assert s.path and s.truth_path == s.path + ".truth.json"
    assert run.truth["seed"] == 4 and run.truth["parameters"]["services"] == SERVICES
    assert 0.7 * SERVICES * HOURS * 60 * 20 < s.events < 1.3 * SERVICES * HOURS * 60 * 20


def test_messages_are_varied_with_variable_parts(run: Run) -> None:
    messages = [e["event"] for e in run.events]
    assert len(set(messages)) > 0.5 * len(messages)  # numbers, ids and hosts vary
    shapes = {re.sub(r"[0-9a-f]{6,}|\d+", "#", m) for m in messages}
    assert len(shapes) > 300
    services = {e["service"] for e in run.events}
    assert services == {"checkout", "payments", "inventory", "auth", "search", "notifications"}
    assert len({e["component"] for e in run.events}) >= 15


# -- categories, seasonality ----------------------------------------------------------------


def test_every_category_appears_at_rates_that_differ_by_service(run: Run) -> None:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for ev in run.events:
        if "error_type" in ev and not ev.get("failure"):
            per[category_of(ev["error_type"]) or "unknown"][ev["service"]] += 1
    for category in ("communication", "data", "streaming", "budget", "memory", "security"):
        assert sum(per[category].values()) > 300, category
    spread = [
        max(per[c].values()) / max(1, min(per[c][s] for s in run.truth["services"]))
        for c in ("communication", "data", "memory")
    ]
    assert max(spread) > 2  # services differ
    assert per["communication"].total() > per["memory"].total()  # categories differ


def test_catalog_error_types_fall_in_the_category_they_are_listed_under() -> None:
    for template in catalog.all_templates():
        if template.category:
            assert category_of(template.error_type) == template.category, template.name
    svc = catalog.make_service(0, "checkout", random.Random(0), ("payments",))
    rng = random.Random(1)
    for kind, make in catalog.PRECURSORS.items():
        ep = catalog.Episode(
            0, "precursor", kind, 0, 1, "checkout-1", "db:5432", "t", 1, "t-1", "g"
        )
        for x in (0.0, 0.5, 1.0):
            for _ in range(20):
                error_type = make(rng, svc, ep, x)[2]
                assert category_of(error_type) == catalog.PRECURSOR_CATEGORY[kind], kind


def test_daytime_is_busier_than_night(run: Run) -> None:
    hour = Counter(t.hour for t in run.times())
    errors = Counter(
        _ts(e["timestamp"]).hour for e in run.events if e["level"] in ("warning", "error")
    )
    day, night = range(12, 17), range(0, 5)
    assert sum(hour[h] for h in day) > 2.5 * sum(hour[h] for h in night)
    assert sum(errors[h] for h in day) > 2 * sum(errors[h] for h in night)


# -- outages, precursors, false alarms -------------------------------------------------------


def _outages(run: Run) -> Iterator[tuple[str, dict[str, Any]]]:
    for service, info in run.truth["services"].items():
        for outage in info["outages"]:
            yield service, outage


def test_outages_are_critical_failure_bursts_at_the_truth_times(run: Run) -> None:
    failures: dict[str, list[datetime]] = defaultdict(list)
    for ev in run.events:
        assert (ev["level"] == "critical") == bool(ev.get("failure")), ev
        if ev.get("failure"):
            failures[ev["service"]].append(_ts(ev["timestamp"]))
    outages = list(_outages(run))
    per_service_day = len(outages) / SERVICES / (HOURS / 24)
    assert 1.5 <= per_service_day <= 4.5
    for service, outage in outages:
        start, end = _ts(outage["start"]), _ts(outage["end"])
        inside = [t for t in failures[service] if start <= t < end]
        assert len(inside) >= 5, (service, outage)  # a burst, not a blip
    for service, times in failures.items():  # and no failure outside an outage
        windows = [(_ts(o["start"]), _ts(o["end"])) for s, o in outages if s == service]
        assert all(any(a <= t < b for a, b in windows) for t in times)
    announced = sum(1 for _, o in outages if o["precursor"])
    assert 0.5 <= announced / len(outages) <= 0.95  # most, not all (0.75 expected)
    assert run.truth["counts"]["outages"] == len(outages)


def _signal_times(run: Run) -> dict[tuple[str, str], list[datetime]]:
    """Non-failure error times per (service, category)."""
    times: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for ev in run.events:
        if "error_type" in ev and not ev.get("failure"):
            times[(ev["service"], category_of(ev["error_type"]) or "unknown")].append(
                _ts(ev["timestamp"])
            )
    return times


def test_precursors_raise_their_kind_in_the_30_minutes_before_outages(run: Run) -> None:
    times = _signal_times(run)
    window = timedelta(minutes=30)
    before = expected = 0.0
    lifted = announced = 0
    for service, outage in _outages(run):
        if not outage["precursor"]:
            continue
        announced += 1
        category = run.truth["precursor_kinds"][outage["precursor"]]
        ts = times[(service, category)]
        start = _ts(outage["start"])
        seen = sum(1 for t in ts if start - window <= t < start)
        base = len(ts) / (HOURS * 2)  # the category's mean count per 30 minutes, this service
        before += seen
        expected += base
        lifted += seen > 1.5 * base
    assert announced >= 10
    assert before > 3 * expected
    assert lifted / announced >= 0.8


def test_precursor_signals_climb_toward_the_outage(run: Run) -> None:
    field: dict[str, str | None] = {"memory": "heap_pct", "budget": "budget_pct", "streaming_lag": "lag",
             "retry_storm": "retry_count", "timeouts": None}  # fmt: skip
    climbs = checked = 0
    for service, outage in _outages(run):
        kind = outage["precursor"]
        signal = field.get(kind) if kind else None
        if not signal:
            continue
        a, b = _ts(outage["precursor_start"]), _ts(outage["start"])
        mid = a + (b - a) / 2
        values: dict[bool, list[float]] = {False: [], True: []}
        for ev in run.events:
            if ev["service"] == service and signal in ev:
                t = _ts(ev["timestamp"])
                if a <= t < b:
                    values[t >= mid].append(ev[signal])
        if values[False] and values[True]:
            checked += 1
            climbs += statistics.mean(values[True]) > statistics.mean(values[False])
            if kind == "budget":
                assert max(values[True]) >= 98
    assert checked >= 5 and climbs / checked >= 0.8


def test_false_alarms_rise_and_end_in_nothing(run: Run) -> None:
    times = _signal_times(run)
    alarms = [(s, fa) for s, info in run.truth["services"].items() for fa in info["false_alarms"]]
    announced = sum(1 for _, o in _outages(run) if o["precursor"])
    assert 0.1 * announced <= len(alarms) <= 0.7 * announced
    assert run.truth["counts"]["false_alarms"] == len(alarms)
    elevated = 0
    for service, fa in alarms:
        start, end = _ts(fa["start"]), _ts(fa["end"])
        for s, outage in _outages(run):  # no outage follows
            if s == service:
                assert not (start <= _ts(outage["start"]) <= end + timedelta(minutes=15))
        ts = times[(service, run.truth["precursor_kinds"][fa["kind"]])]
        minutes = (end - start).total_seconds() / 60
        during = sum(1 for t in ts if start <= t < end)
        elevated += during > 2 * len(ts) / (HOURS * 60) * minutes
    assert elevated >= 0.8 * len(alarms)


# -- security --------------------------------------------------------------------------------


def test_brute_force_bursts_from_one_address_and_lockouts(run: Run) -> None:
    incidents = [
        (s, i) for s, info in run.truth["services"].items() for i in info["security_incidents"]
    ]
    assert incidents
    for service, inc in incidents:
        start, end = _ts(inc["start"]), _ts(inc["end"])
        attempts = [
            e for e in run.events
            if e.get("source_ip") == inc["source_ip"] and e.get("error_type") == "AuthenticationError"
        ]  # fmt: skip
        assert len(attempts) == inc["attempts"] >= 20
        assert all(e["service"] == service and start <= _ts(e["timestamp"]) < end for e in attempts)
        assert all(e["level"] == "warning" for e in attempts)
        if inc["kind"] == "brute_force":
            assert {e["user"] for e in attempts} == {inc["user"]}
        lockouts = [
            e for e in run.events
            if e.get("recovery_action") == "lockout" and e.get("source_ip") == inc["source_ip"]
        ]  # fmt: skip
        assert len(lockouts) == (1 if inc["locked_out"] else 0)
        for e in lockouts:
            assert e["level"] == "error" and e["error_type"] == "SecurityViolationError"
    violations = [e for e in run.events if e.get("error_type") == "PermissionError"]
    assert len(violations) > 50 and len({e["service"] for e in violations}) == SERVICES
    assert {e["level"] for e in violations} == {"warning", "error"}


# -- recovery --------------------------------------------------------------------------------


def test_recovery_outcomes_follow_the_truth_table(run: Run) -> None:
    table = run.truth["success_probability"]
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for ev in run.events:
        if "recovery_action" in ev:
            key = (category_of(ev["error_type"]) or "unknown", ev["recovery_action"])
            assert key[1] in table[key[0]], key  # only actions that fit the category
            tally[key][0] += ev["recovery_outcome"] == "succeeded"
            tally[key][1] += 1
    checked = 0
    for (category, action), (ok, n) in tally.items():
        if n >= 200:
            p = table[category][action]
            assert abs(ok / n - p) < max(0.05, 4 * (p * (1 - p) / n) ** 0.5), (category, action)
            checked += 1
    assert checked >= 10
    for category in ("communication", "memory", "streaming", "budget", "data"):
        tried = {a for (c, a) in tally if c == category}
        assert tried == set(table[category]), category  # the policy explores every action
    # The behaviour policy is not the best policy: the habit (retry) is tried most, not the best.
    comm = {a: n for (c, a), (_, n) in tally.items() if c == "communication"}
    best = max(table["communication"], key=table["communication"].get)
    assert max(comm, key=comm.__getitem__) == "retry" != best


def test_a_share_of_errors_carry_recovery_with_action_specific_durations(run: Run) -> None:
    errors = [e for e in run.events if e["level"] in ("warning", "error") and "error_type" in e]
    share = sum(1 for e in errors if "recovery_action" in e) / len(errors)
    assert 0.3 <= share <= 0.6
    ms: dict[str, list[float]] = defaultdict(list)
    for e in errors:
        if "recovery_action" in e:
            ms[e["recovery_action"]].append(e["recovery_ms"])
    median = {a: statistics.median(v) for a, v in ms.items()}
    assert median["scale_up"] > median["restart"] > median["retry"] > median["circuit_break"]
    retries = [e for e in errors if e.get("recovery_action") == "retry_with_backoff"]
    assert {e["retry_count"] for e in retries} >= {1, 2, 3, 5}


# -- leaks ------------------------------------------------------------------------------------


def test_leaked_secrets_are_in_the_stream_and_the_truth(run: Run) -> None:
    leaks = run.truth["leaks"]
    assert leaks["count"] == len(leaks["items"]) == sum(leaks["by_kind"].values())
    assert run.summary.leaks == leaks["count"]
    assert 0.3 < leaks["count"] / (len(run.events) / 20_000) < 3
    assert len(leaks["by_kind"]) >= 5
    # Each secret is in exactly one line, and those lines are the only ones with a leak marker.
    leaky = [line.decode() for line in run.lines if any(m in line for m in LEAK_MARKERS)]
    assert len(leaky) == leaks["count"]
    for item in leaks["items"]:
        assert sum(line.count(item["secret"]) for line in leaky) == 1, item
    # The store's redaction catches each of them, and nothing else in the stream.
    redactor = Redactor()
    secrets = [item["secret"] for item in leaks["items"]]
    for line in leaky:
        out, found = redactor.redact(line)
        assert found and not any(secret in out for secret in secrets), (line, out)
    sample = [line.decode() for line in run.lines[:: len(run.lines) // 5_000]]
    assert [line for line in sample if redactor.redact(line)[1] and line not in leaky] == []


def test_every_run_leaks_at_least_once() -> None:
    lines = [orjson.dumps(e) for e in iter_events(services=1, hours=0.2, seed=11)]
    assert sum(1 for line in lines if any(m in line for m in LEAK_MARKERS)) == 1


# -- outputs, arguments, memory ---------------------------------------------------------------


def test_gzip_output_with_event_ids_and_a_truth_file(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "s.jsonl.gz"
    summary = simulate(out, services=2, hours=1, seed=2, event_ids=True)
    lines = gzip.decompress(out.read_bytes()).splitlines()
    assert len(lines) == summary.events > 1000
    ids = [orjson.loads(line)["event_id"] for line in lines]
    assert len(set(ids)) == len(ids)
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i)
        for i in ids
    )
    assert summary.truth_path == str(out) + ".truth.json"
    # Other parameters, same seed: other ids (re-ingesting both never collides).
    other = {e["event_id"] for e in iter_events(services=3, hours=1, seed=2, event_ids=True)}
    assert not other & set(ids)


def test_dash_writes_to_stdout_and_file_objects_stay_open(
    tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    summary = simulate("-", services=1, hours=0.5, seed=1)
    out = capfdbinary.readouterr().out
    assert out.count(b"\n") == summary.events and summary.path is None is summary.truth_path
    with open(tmp_path / "f.jsonl", "wb") as f:
        again = simulate(f, services=1, hours=0.5, seed=1, truth=tmp_path / "t.json")
        assert not f.closed
    assert (tmp_path / "f.jsonl").read_bytes() == out
    assert again.truth_path and orjson.loads(Path(again.truth_path).read_bytes())["seed"] == 1


def test_progress_is_reported_about_every_50k_events() -> None:
    seen: list[int] = []
    summary = simulate(io.BytesIO(), services=8, hours=12, seed=0, progress=seen.append)
    assert seen[-1] == summary.events and seen == sorted(seen)
    assert len(seen) == summary.events // 50_000 + 1
    assert all(b - a < 52_000 for a, b in zip([0, *seen], seen, strict=False))


def test_start_rate_and_fractional_hours() -> None:
    events = list(iter_events(services=2, hours=0.5, seed=3, start="2026-03-01T12:00:30Z", rate=60))
    first, last = _ts(events[0]["timestamp"]), _ts(events[-1]["timestamp"])
    start = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
    assert start <= first and last < start + timedelta(minutes=30)
    assert 0.7 * 2 * 30 * 60 < len(events) < 1.3 * 2 * 30 * 60 * 1.6  # rate 60/min, by day
    assert next(iter_events(services=1, hours=0.1))["timestamp"].startswith("2026-01-01T00:00:")
    assert datetime(2026, 1, 1, tzinfo=UTC) == DEFAULT_START
    naive = next(iter_events(services=1, hours=0.1, start=datetime(2025, 6, 1)))
    assert naive["timestamp"].startswith("2025-06-01T00:00:")


def test_many_services_get_suffixed_names() -> None:
    names = {e["service"] for e in iter_events(services=14, hours=0.2, seed=1)}
    assert len(names) == 14 and {"checkout", "checkout-2", "payments-2"} <= names


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"services": 0}, "services"),
        ({"hours": -1}, "hours"),
        ({"rate": 0}, "rate"),
        ({"start": "yesterday"}, "ISO 8601"),
    ],
)
def test_bad_arguments_are_refused_at_once(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        iter_events(**kwargs)  # no next(): the arguments are checked on the call
    with pytest.raises(ValueError, match=message):
        simulate(io.BytesIO(), **kwargs)


def test_memory_does_not_grow_with_hours() -> None:
    import tracemalloc

    def peak(hours: float) -> int:
        tracemalloc.start()
        n = sum(1 for _ in iter_events(services=4, hours=hours, seed=1))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert n > hours * 4 * 60 * 5  # night hours run at about half the mean rate
        return top

    short, long = peak(0.5), peak(4)
    assert long < 1.3 * short + 500_000, (short, long)


def test_precursor_kinds_are_the_documented_ones() -> None:
    assert set(PRECURSOR_KINDS) == {"timeouts", "memory", "retry_storm", "budget", "streaming_lag"}
