"""Degradation: failed and degraded minutes per unit, worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from faultcast.analytics import degradation
from faultcast.ingest import Store

from tests.analytics.conftest import INJECTIONS, at, build, ev

ERR = {"category": "communication", "error_type": "TimeoutError"}
ROWS = [
    ev(0, "a"),
    *[ev(2 + i / 10, "a", "error", **ERR) for i in range(5)],  # 5 errors in minute 2
    ev(5, "a", "critical", **ERR, failure=True),
    ev(7, "a", "error", **ERR),
    ev(7.5, "a", "warning", **ERR),  # warnings do not count towards degradation
    ev(0, "b"),
    ev(4, "b", "error", **ERR),
    ev(9, "b"),
]


@pytest.fixture(scope="module")
def store() -> Store:
    return build(ROWS)


def _rows(df: pd.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in df[list(columns)].itertuples(index=False)]


def test_failed_and_degraded_minutes(store: Store) -> None:
    df = degradation(store)
    assert list(df.columns) == [
        "service",
        "periods",
        "failed_periods",
        "degraded_periods",
        "failed_share",
        "degraded_share",
        "unhealthy_share",
        "baseline_errors",
    ]
    # a: 7 errors in 10 minutes, baseline 0.7; threshold max(3, 3 * 0.7 + 3 * sqrt(0.7)) = 4.61,
    # so minute 2 (5 errors) is degraded; minute 5 has a failure.  b: one error, never degraded.
    assert _rows(df, "service", "periods", "failed_periods", "degraded_periods") == [
        ("a", 10, 1, 1),
        ("b", 10, 0, 0),
    ]
    assert df["unhealthy_share"].tolist() == pytest.approx([0.2, 0.0])
    assert df["baseline_errors"].tolist() == pytest.approx([0.7, 0.1])


def test_whole_system_and_coarser_periods(store: Store) -> None:
    # 8 errors in 10 minutes: threshold 3 * 0.8 + 3 * sqrt(0.8) = 5.08 > 5, so only the failure
    system = degradation(store, by=None)
    assert _rows(system, "periods", "failed_periods", "degraded_periods") == [(10, 1, 0)]
    five = degradation(store, resolution="5m", service="a")
    assert _rows(five, "periods", "failed_periods", "degraded_periods") == [(2, 1, 0)]


def test_buckets_and_windows(store: Store) -> None:
    df = degradation(store, bucket="5m")
    assert _rows(df, "bucket", "service", "periods", "failed_periods", "degraded_periods") == [
        (pd.Timestamp(at(0)), "a", 5, 0, 1),
        (pd.Timestamp(at(0)), "b", 5, 0, 0),
        (pd.Timestamp(at(5)), "a", 5, 1, 0),
        (pd.Timestamp(at(5)), "b", 5, 0, 0),
    ]
    late = degradation(store, since=at(5), until=at(10))
    assert _rows(late, "service", "periods", "failed_periods", "baseline_errors") == [
        ("a", 5, 1, 0.4),
        ("b", 5, 0, 0.0),
    ]
    with pytest.raises(ValueError, match="too many"):
        degradation(store, resolution="1s", since="2020-01-01")


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_are_literals(store: Store, value: str) -> None:
    assert degradation(store, service=value).empty
    assert degradation(store, by=None, host=[value, "nope"]).empty
    assert store.counts()["events"] == len(ROWS)
