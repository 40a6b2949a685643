"""Recovery success, recovery time and retry attempts on a hand-made store."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from faultcast.analytics import recovery_success, recovery_time, retry_attempts
from faultcast.ingest import Store

from tests.analytics.conftest import INJECTIONS, at, build, ev

COMM = {"category": "communication", "error_type": "TimeoutError"}
ROWS = [
    ev(0, "api", "error", **COMM, action="retry", outcome="succeeded", retries=1, ms=10),
    ev(1, "api", "error", **COMM, action="retry", outcome="succeeded", retries=2, ms=20),
    ev(2, "api", "error", **COMM, action="retry", outcome="failed", retries=5, ms=100),
    ev(3, "db", "error", category="data", action="retry", outcome="succeeded", retries=1, ms=30),
    ev(4, "db", "error", category="data", action="fallback", outcome="succeeded", ms=40),
    ev(5, "db", "error", category="memory", action="restart"),  # no outcome, no duration
    ev(6, "api", "warning", **COMM),  # no recovery at all
    ev(7, "api", "info", retries=3),  # retries recorded without an action
]


@pytest.fixture(scope="module")
def store() -> Store:
    return build(ROWS)


def _rows(df: pd.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(r) for r in df.itertuples(index=False)]


def _same(a: list[tuple[object, ...]], b: list[tuple[object, ...]]) -> bool:
    def eq(x: object, y: object) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y)
        return x == y

    return len(a) == len(b) and all(
        len(r) == len(s) and all(eq(x, y) for x, y in zip(r, s, strict=True))
        for r, s in zip(a, b, strict=True)
    )


def test_success_by_action_and_category(store: Store) -> None:
    df = recovery_success(store)
    assert list(df.columns) == [
        "recovery_action",
        "category",
        "attempts",
        "succeeded",
        "failed",
        "success_rate",
    ]
    assert _same(
        _rows(df),
        [
            ("retry", "communication", 3, 2, 1, 2 / 3),
            ("fallback", "data", 1, 1, 0, 1.0),
            ("restart", "memory", 1, 0, 0, math.nan),  # no outcome: no rate
            ("retry", "data", 1, 1, 0, 1.0),
        ],
    )


def test_success_by_category_in_a_window(store: Store) -> None:
    df = recovery_success(store, by="category", since=at(1), until=at(5))
    assert _same(_rows(df), [("communication", 2, 1, 1, 0.5), ("data", 2, 2, 0, 1.0)])
    hourly = recovery_success(store, by=None, bucket="1h")
    assert _same(_rows(hourly), [(pd.Timestamp(at(0)), 6, 4, 1, 0.8)])


def test_recovery_time_percentiles(store: Store) -> None:
    # durations 10, 20, 30, 40, 100: p95 at rank 0.95 * 4 = 3.8 -> 40 + 0.8 * 60
    df = recovery_time(store, by=None)
    assert list(df.columns) == ["attempts", "mean_ms", "p50_ms", "p95_ms", "max_ms"]
    assert _same(_rows(df), [(5, 40.0, 30.0, 88.0, 100.0)])
    by_action = recovery_time(store)
    assert _same(
        _rows(by_action),
        [("retry", 4, 40.0, 25.0, 30 + 0.85 * 70, 100.0), ("fallback", 1, 40.0, 40.0, 40.0, 40.0)],
    )
    ok = recovery_time(store, by=None, outcome="succeeded")
    assert _same(_rows(ok), [(4, 25.0, 25.0, 38.5, 40.0)])
    assert recovery_time(store, outcome="x' OR '1'='1").empty


def test_retry_attempts_histogram(store: Store) -> None:
    df = retry_attempts(store)
    assert list(df.columns) == [
        "retry_count",
        "events",
        "succeeded",
        "failed",
        "success_rate",
        "share",
    ]
    assert _same(
        _rows(df),
        [
            (1, 2, 2, 0, 1.0, 0.4),
            (2, 1, 1, 0, 1.0, 0.2),
            (3, 1, 0, 0, math.nan, 0.2),
            (5, 1, 0, 1, 0.0, 0.2),
        ],
    )
    by_service = retry_attempts(store, by="service")
    assert _same(
        [r[:3] + r[-1:] for r in _rows(by_service)],
        [
            ("api", 1, 1, 0.25),
            ("api", 2, 1, 0.25),
            ("api", 3, 1, 0.25),
            ("api", 5, 1, 0.25),
            ("db", 1, 1, 1.0),
        ],
    )


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_are_literals(store: Store, value: str) -> None:
    assert recovery_success(store, category=value).empty
    assert retry_attempts(store, service=[value]).empty
    assert recovery_time(store, error_type=value, by=[]).empty
    assert store.counts()["events"] == len(ROWS)
