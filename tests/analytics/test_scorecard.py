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
    auto = {"automated": True, "recovery_decision": "automate"}
    rows = [
        ev(i, "api", "error", **COMM, action="retry", outcome="succeeded", retries=1, ms=10 * i,
           attrs=auto)
        for i in range(1, 10)
    ]  # fmt: skip
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
        "seed_criterion",
    ]
    assert df["criterion"].tolist() == [c.criterion for c in CRITERIA]
    card = _card(df)
    assert card["recovery_success_rate"] == (1.0, True)
    assert card["degraded_share"] == (0.0, True)  # one error a minute is never degraded
    assert card["mean_error_handling_ms"] == (pytest.approx((450 + 50) / 10), True)
    # TimeoutError is 9 of 10 errors: the one common class, all of it automated
    assert card["auto_recovered_share"] == (1.0, True)
    assert card["security_errors_logged"] == (1.0, True)
    assert str(df["passed"].dtype) == "boolean"
    assert df["evidence"].iloc[0] == "10 of 10 handled errors recovered"
    assert df["seed_criterion"].tolist() == [c.seed_words for c in CRITERIA]
    assert "99.9%" in df["seed_criterion"].iloc[0]


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
    # no event says whether its recovery was automated: unknown, not 0
    value, passed = card["auto_recovered_share"]
    assert math.isnan(value) and passed is pd.NA
    # one security event stored, one security-looking line lost to quarantine
    assert card["security_errors_logged"] == (0.5, False)


def test_criteria_without_data_are_unknown() -> None:
    df = scorecard(build([ev(0, "api"), ev(1, "api", "error", **COMM)]))
    card = _card(df)
    value, passed = card["recovery_success_rate"]
    assert math.isnan(value) and passed is pd.NA
    assert math.isnan(card["auto_recovered_share"][0])
    assert math.isnan(card["security_errors_logged"][0])


def test_automated_recovery_of_common_errors_and_follow_ups() -> None:
    """Automated = the guard's ``automated`` field; common = the classes making up 80% of
    errors (warnings without an exception are signals, not errors); a follow-up that worked
    recovers the call; pre-emptive measures are not handled errors."""
    auto, static = {"automated": True}, {"automated": False}
    chain_ok = {**auto, "recovery_chain": ["retry_with_backoff:failed", "failover:succeeded"]}
    chain_bad = {**auto, "recovery_chain": ["retry_with_backoff:failed", "failover:failed"]}
    data = {"category": "data", "error_type": "DataError"}
    budget = {"category": "budget", "error_type": "BudgetError"}
    rows = [
        *(ev(i, "api", "warning", **COMM, action="retry_with_backoff", outcome="succeeded",
             ms=40, attrs=auto) for i in range(3)),
        ev(3, "api", "warning", **COMM, action="retry_with_backoff", outcome="failed", ms=300,
           attrs=chain_ok),
        ev(4, "api", "error", **COMM, action="retry_with_backoff", outcome="failed", ms=900,
           failure=True, attrs=chain_bad),
        ev(5, "api", "warning", **COMM, action="retry_with_backoff", outcome="succeeded", ms=60,
           attrs=static),
        *(ev(6 + i, "api", "warning", **data, action="dead_letter", outcome="succeeded", ms=1,
             attrs=auto) for i in range(3)),
        ev(9, "api", "warning", **budget, action="fallback", outcome="succeeded", ms=1,
           attrs=auto),
        *(ev(10 + i, "api", "warning", category="memory", message="heap at 91% of the limit")
          for i in range(3)),
        ev(13, "api", "info", action="preempt_fallback", outcome="failed", ms=1,
           attrs={"automated": True, "recovery_decision": "preempt"}),
    ]  # fmt: skip
    df = scorecard(build(rows))
    card = _card(df)
    assert card["recovery_success_rate"] == (pytest.approx(9 / 10), False)
    assert card["mean_error_handling_ms"][0] == pytest.approx((120 + 300 + 900 + 60 + 3 + 1) / 10)
    # TimeoutError (6) and DataError (3) make up 90% of the 10 errors; BudgetError is rare.
    # Automated and recovered among them: 3 + the follow-up + 3 dead letters.
    assert card["auto_recovered_share"] == (pytest.approx(7 / 9), False)
    evidence = df.set_index("criterion")["evidence"]
    assert evidence["auto_recovered_share"] == (
        "7 of 9 errors of the common classes (TimeoutError, DataError) recovered automatically"
    )
    assert "p99" in evidence["mean_error_handling_ms"]
    # Only static (not automated) recoveries: measured, and 0.
    none = scorecard(build([ev(0, "api", "warning", **COMM, action="retry", outcome="succeeded",
                                   ms=5, attrs=static)]))  # fmt: skip
    assert _card(none)["auto_recovered_share"] == (0.0, False)


def test_filters_and_an_empty_scope() -> None:
    store = build([ev(0, "api", "error", **COMM, action="retry", outcome="failed", ms=5)])
    assert scorecard(store, service="api")["value"].iloc[0] == 0.0
    for value in INJECTIONS:
        assert scorecard(store, service=value).empty
    assert scorecard(Store(":memory:")).empty
