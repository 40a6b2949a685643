"""The seed's success criteria as a scorecard."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from faultcast.analytics import CRITERIA, scorecard
from faultcast.ingest import Store

from tests.analytics.conftest import INJECTIONS, T0, build, ev

COMM = {"category": "communication", "error_type": "TimeoutError"}


def _card(df: pd.DataFrame) -> dict[str, tuple[float, object]]:
    return {r.criterion: (r.value, r.passed) for r in df.itertuples(index=False)}


def test_a_healthy_store_passes_everything() -> None:
    rows = [
        ev(i, "api", "error", **COMM, action="retry", outcome="succeeded", retries=1, ms=10 * i)
        for i in range(1, 10)
    ]
    rows.append(ev(10, "auth", "warning", category="security", error_type="AuthenticationError",
                   action="lockout", outcome="succeeded", ms=50))  # fmt: skip
    df = scorecard(build(rows))
    assert list(df.columns) == [
        "criterion",
        "description",
        "value",
        "target",
        "comparison",
        "passed",
        "evidence",
    ]
    assert df["criterion"].tolist() == [c.criterion for c in CRITERIA]
    card = _card(df)
    assert card["recovery_success_rate"] == (1.0, True)
    assert card["degraded_share"] == (0.0, True)  # one error a minute is never degraded
    assert card["mean_error_handling_ms"] == (pytest.approx((450 + 50) / 10), True)
    assert card["auto_recovered_share"] == (1.0, True)
    assert card["security_errors_logged"] == (1.0, True)
    assert str(df["passed"].dtype) == "boolean"
    assert df["evidence"].iloc[0] == "10 of 10 attempts"


def test_a_struggling_store_fails_with_its_values() -> None:
    rows = [
        ev(0, "api", "error", **COMM, action="retry", outcome="succeeded", ms=50),
        ev(1, "api", "error", **COMM, action="retry", outcome="succeeded", ms=150),
        ev(2, "api", "error", **COMM, action="restart", outcome="failed", ms=400),
        ev(3, "api", "critical", **COMM, failure=True),
        ev(19, "api", "warning", **COMM),
        ev(19.5, "auth", "warning", category="security", error_type="AuthenticationError"),
    ]
    store = build(rows)
    with store.writing() as con:
        con.execute(
            "INSERT INTO store.quarantine VALUES ('app.log', 7, "
            "'authentication failed for user x {', 'invalid JSON', ?), "
            "('app.log', 8, 'disk full {', 'invalid JSON', ?)",
            [T0, T0],
        )
    card = _card(scorecard(store))
    assert card["recovery_success_rate"] == (pytest.approx(2 / 3), False)
    # 2 services x 20 minutes (00:00 to 00:19), one failed minute
    assert card["degraded_share"] == (pytest.approx(1 / 40), False)
    assert card["mean_error_handling_ms"] == (pytest.approx(200.0), False)
    assert card["auto_recovered_share"] == (pytest.approx(2 / 6), False)
    # one security event stored, one security-looking line lost to quarantine
    assert card["security_errors_logged"] == (0.5, False)


def test_criteria_without_data_are_unknown() -> None:
    df = scorecard(build([ev(0, "api"), ev(1, "api", "error", **COMM)]))
    card = _card(df)
    value, passed = card["recovery_success_rate"]
    assert math.isnan(value) and passed is pd.NA
    assert card["auto_recovered_share"] == (0.0, False)
    assert math.isnan(card["security_errors_logged"][0])


def test_filters_and_an_empty_scope() -> None:
    store = build([ev(0, "api", "error", **COMM, action="retry", outcome="failed", ms=5)])
    assert scorecard(store, service="api")["value"].iloc[0] == 0.0
    for value in INJECTIONS:
        assert scorecard(store, service=value).empty
    assert scorecard(Store(":memory:")).empty
