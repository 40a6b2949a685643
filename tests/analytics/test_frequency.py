"""Error frequency and error rate on a hand-made store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from faultcast.analytics import error_frequency, error_rate
from faultcast.ingest import Store

from tests.analytics.conftest import INJECTIONS, at, build, ev

ROWS = [
    ev(0, "api"),
    ev(1, "api", "error", category="communication", error_type="TimeoutError", template_id="T2"),
    ev(2, "api", "warning", category="communication", error_type="TimeoutError", template_id="T2"),
    ev(
        12,
        "api",
        "critical",
        category="memory",
        error_type="MemoryError",
        template_id="T3",
        failure=True,
    ),  # fmt: skip
    ev(3, "db", "error", category="data", error_type="ValueError", template_id="T4"),
    ev(14, "db", "info"),
    ev(
        25, "db", "error", category="communication", error_type="ConnectionError", template_id="T5"
    ),  # fmt: skip
    ev(30, "web", "debug"),
]


@pytest.fixture(scope="module")
def store() -> Store:
    return build(ROWS)


def _records(df: pd.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in df[list(columns)].itertuples(index=False)]


def test_by_category_over_the_whole_history(store: Store) -> None:
    df = error_frequency(store)
    assert list(df.columns) == ["category", "errors", "failures", "share"]
    assert _records(df, "category", "errors", "failures") == [
        ("communication", 3, 0),
        ("data", 1, 0),
        ("memory", 1, 1),
    ]
    assert df["share"].tolist() == pytest.approx([0.6, 0.2, 0.2])


def test_by_several_columns(store: Store) -> None:
    df = error_frequency(store, by=["service", "error_type"])
    assert _records(df, "service", "error_type", "errors") == [
        ("api", "TimeoutError", 2),
        ("api", "MemoryError", 1),
        ("db", "ConnectionError", 1),
        ("db", "ValueError", 1),
    ]
    total = error_frequency(store, by=None)
    assert _records(total, "errors", "failures", "share") == [(5, 1, 1.0)]


def test_time_buckets(store: Store) -> None:
    df = error_frequency(store, bucket="10m")
    assert str(df["bucket"].dtype) == "datetime64[us, UTC]"
    assert _records(df, "bucket", "category", "errors") == [
        (pd.Timestamp(at(0)), "communication", 2),
        (pd.Timestamp(at(0)), "data", 1),
        (pd.Timestamp(at(10)), "memory", 1),
        (pd.Timestamp(at(20)), "communication", 1),
    ]
    assert df["share"].tolist() == pytest.approx([2 / 3, 1 / 3, 1.0, 1.0])
    hourly = error_frequency(store, bucket=timedelta(hours=1), by=None)
    assert _records(hourly, "bucket", "errors") == [(pd.Timestamp(at(0)), 5)]


def test_time_window(store: Store) -> None:
    since = error_frequency(store, since="2026-03-01T00:10:00Z")
    assert _records(since, "category", "errors") == [("communication", 1), ("memory", 1)]
    # until is exclusive: the data error at 00:03 is out
    until = error_frequency(store, until=at(3))
    assert _records(until, "category", "errors") == [("communication", 2)]
    # a duration counts back from the latest event (00:30): since 00:20
    recent = error_frequency(store, since="10m")
    assert _records(recent, "category", "errors") == [("communication", 1)]
    assert _records(error_frequency(store, since=timedelta(minutes=10)), "errors") == [(1,)]
    # a date is its midnight (UTC), a naive time is UTC
    naive = error_frequency(store, since=at(0).date(), until=at(2).replace(tzinfo=None))
    assert _records(naive, "category", "errors") == [("communication", 1)]
    with pytest.raises(ValueError, match="is before since"):
        error_frequency(store, since=at(10).replace(tzinfo=None), until=at(20).date())
    with pytest.raises(ValueError, match="neither a time"):
        error_frequency(store, since="yesterday")


def test_filters(store: Store) -> None:
    df = error_frequency(store, service=["db", "web"])
    assert _records(df, "category", "errors") == [("communication", 1), ("data", 1)]
    df = error_frequency(store, level="ERROR")  # levels are case-insensitive
    assert _records(df, "category", "errors") == [("communication", 2), ("data", 1)]
    df = error_frequency(store, error_type="TimeoutError", by="service")
    assert _records(df, "service", "errors") == [("api", 2)]
    assert error_frequency(store, service=[]).empty


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_are_literals(store: Store, value: str) -> None:
    assert error_frequency(store, service=value).empty
    assert error_frequency(store, category=[value, "memory"])["errors"].tolist() == [1]
    assert store.counts()["events"] == len(ROWS)


def test_bad_grouping_and_bucket(store: Store) -> None:
    with pytest.raises(ValueError, match="cannot group by 'message; DROP'"):
        error_frequency(store, by="message; DROP")
    with pytest.raises(ValueError, match="bucket"):
        error_frequency(store, bucket="soon")


def test_error_rate_per_service(store: Store) -> None:
    df = error_rate(store)
    assert list(df.columns) == [
        "service",
        "events",
        "errors",
        "failures",
        "error_rate",
        "errors_per_minute",
        "calls",
        "error_rate_basis",
    ]
    assert set(df["error_rate_basis"]) == {"logged events"} and set(df["calls"]) == {0}
    assert _records(df, "service", "events", "errors", "failures") == [
        ("api", 4, 3, 1),
        ("db", 3, 2, 0),
        ("web", 1, 0, 0),
    ]
    assert df["error_rate"].tolist() == pytest.approx([0.75, 2 / 3, 0.0])
    # the window is the store's first to last event: 30 minutes
    assert df["errors_per_minute"].tolist() == pytest.approx([3 / 30, 2 / 30, 0.0])


def test_error_rate_in_a_window_and_in_buckets(store: Store) -> None:
    df = error_rate(store, since=at(10), until=at(20))
    assert _records(df, "service", "events", "errors") == [("api", 1, 1), ("db", 1, 0)]
    assert df["errors_per_minute"].tolist() == pytest.approx([0.1, 0.0])
    bucketed = error_rate(store, bucket="30m", by=None)
    assert _records(bucketed, "bucket", "events", "errors") == [
        (pd.Timestamp(at(0)), 7, 5),
        (pd.Timestamp(at(30)), 1, 0),
    ]
    assert bucketed["errors_per_minute"].tolist() == pytest.approx([5 / 30, 0.0])


def test_error_rate_over_reported_calls() -> None:
    """An app that logs every error but few successes: over logged events its error rate looks
    like 80%; where it reports its calls (api: 200 and 300 calls, at 00:00 and 00:10) the rate
    is errors / calls, for the unit and window that reported them, whatever else is filtered."""
    errors = [
        ev(m, "api", "error", category="communication", error_type="TimeoutError")
        for m in (1, 2, 3, 11)
    ]
    reports = [ev(m, "api", attrs={"calls": n}, message="calls") for m, n in ((0, 200), (10, 300))]
    rows = [
        *errors,
        *reports,
        ev(5, "api", "info", attrs={"calls": "many"}, message="calls"),  # not a count
        ev(6, "api", "info", attrs={"calls": 1000}, message="GET / 200"),  # not a report
        *[ev(m, "db", "error", category="data", error_type="ValueError") for m in (4, 6, 8, 9)],
        ev(7, "db", "info"),
    ]
    store = build(rows)
    df = error_rate(store)
    assert _records(df, "service", "events", "errors", "calls", "error_rate_basis") == [
        ("db", 5, 4, 0, "logged events"),
        ("api", 8, 4, 500, "calls"),
    ]
    assert df["error_rate"].tolist() == pytest.approx([4 / 5, 4 / 500])
    # a level filter narrows the errors, not the calls
    errors_only = error_rate(store, level="error", service="api")
    assert _records(errors_only, "events", "errors", "calls") == [(4, 4, 500)]  # level=error
    assert errors_only["error_rate"].tolist() == pytest.approx([4 / 500])
    # per bucket: each bucket's own reports; the window's calls only
    bucketed = error_rate(store, bucket="10m", service="api")
    assert _records(bucketed, "errors", "calls") == [(3, 200), (1, 300)]
    assert error_rate(store, since=at(10), service="api")["calls"].tolist() == [300]
    # by a column that makes no calls (a category), the basis is the logged events
    by_category = error_rate(store, by="category", service="api")
    assert set(by_category["error_rate_basis"]) == {"logged events"}


def test_call_reports_logged_by_an_app_are_found_after_ingest(tmp_path: Path) -> None:
    """The lines an app writes (structlog JSON: ``log.info("calls", calls=200)``) go through
    ingest (template, attrs) and count as calls."""
    import json

    import faultcast

    lines = [
        {"event": "calls", "calls": 200, "service": "api", "timestamp": "2026-01-01T00:00:00Z"},
        {"event": "timeout calling db", "level": "error", "service": "api",
         "timestamp": "2026-01-01T00:05:00Z"},
        {"event": "calls", "calls": 300, "service": "api", "timestamp": "2026-01-01T00:10:00Z"},
    ]  # fmt: skip
    path = tmp_path / "app.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with faultcast.connect(":memory:") as fc:
        fc.ingest(path)
        rate = fc.metrics.error_rate()
    assert _records(rate, "service", "errors", "calls", "error_rate_basis") == [
        ("api", 1, 500, "calls")
    ]
