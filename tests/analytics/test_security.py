"""Security metrics on a hand-made store: two brute-force bursts, a lockout, violations."""

from __future__ import annotations

import pandas as pd
import pytest
from faultcast.analytics import (
    authentication_failure_rate,
    authorization_violations,
    security_incidents,
    security_recovery_success,
    security_response_time,
)
from faultcast.ingest import Store

from tests.analytics.conftest import INJECTIONS, at, build, ev

SEC = {"category": "security"}


def _attempt(minute: float, user: str) -> dict[str, object]:
    return ev(
        minute,
        "auth",
        "warning",
        **SEC,
        error_type="AuthenticationError",
        message=f"authentication failed for user {user} from 10.0.0.1",
        attrs={"user": user, "source_ip": "10.0.0.1"},
    )


ROWS = [
    _attempt(0, "u1"),
    _attempt(1, "u2"),
    _attempt(2, "u3"),
    ev(3, "auth", "error", **SEC, error_type="SecurityViolationError",
       message="locked out 10.0.0.1 after 3 failed logins in 120 s",
       action="lockout", outcome="succeeded", ms=500, attrs={"source_ip": "10.0.0.1"}),
    _attempt(20, "u1"),  # 17 minutes later: a second incident, never responded to
    _attempt(21, "u4"),
    ev(30, "api", "warning", **SEC, error_type="TokenExpiredError",
       message="session of bob expired", attrs={"user": "bob"}),
    ev(31, "api", "warning", **SEC, message="login failed for user eve", attrs={"user": "eve"}),
    ev(10, "api", "error", **SEC, error_type="PermissionError",
       message="user mallory is not allowed to export /x", attrs={"user": "mallory"}),
    ev(12, "api", "warning", **SEC, error_type="SecurityViolationError",
       message="role viewer of mallory lacks scope admin", attrs={"user": "mallory"},
       action="rotate_credentials", outcome="failed", ms=100),
    ev(13, "api", "warning", **SEC, message="access denied for mallory", attrs={"user": "mallory"},
       action="revoke_session", outcome="succeeded", ms=1000),
    ev(5, "auth", "error", category="communication", error_type="TimeoutError", action="retry",
       outcome="succeeded", ms=5),
]  # fmt: skip


@pytest.fixture(scope="module")
def store() -> Store:
    return build(ROWS)


def _rows(df: pd.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in df[list(columns)].itertuples(index=False)]


def test_authentication_failures(store: Store) -> None:
    df = authentication_failure_rate(store)
    assert list(df.columns) == ["service", "auth_failures", "per_minute", "source_ips", "users"]
    # the lockout notice is a response, not a failure; the message decides for eve's event
    assert _rows(df, "service", "auth_failures", "source_ips", "users") == [
        ("auth", 5, 1, 4),
        ("api", 2, 0, 2),
    ]
    assert df["per_minute"].tolist() == pytest.approx([5 / 31, 2 / 31])  # 00:00 to 00:31
    bucketed = authentication_failure_rate(store, by=None, bucket="10m")
    assert _rows(bucketed, "bucket", "auth_failures") == [
        (pd.Timestamp(at(0)), 3),
        (pd.Timestamp(at(20)), 2),
        (pd.Timestamp(at(30)), 2),
    ]
    assert bucketed["per_minute"].tolist() == pytest.approx([0.3, 0.2, 0.2])


def test_authorization_violations(store: Store) -> None:
    df = authorization_violations(store)
    assert _rows(df, "service", "violations", "users") == [("api", 3, 1)]
    assert authorization_violations(store, until=at(11))["violations"].tolist() == [1]


def test_security_recovery_success(store: Store) -> None:
    df = security_recovery_success(store)
    assert _rows(df, "recovery_action", "attempts", "succeeded", "failed", "success_rate") == [
        ("lockout", 1, 1, 0, 1.0),
        ("revoke_session", 1, 1, 0, 1.0),
        ("rotate_credentials", 1, 0, 1, 0.0),
    ]


def test_incidents_and_time_to_respond(store: Store) -> None:
    df = security_incidents(store)
    assert _rows(df, "service", "actor", "started", "events", "auth_failures", "violations") == [
        ("api", "eve", pd.Timestamp(at(31)), 1, 1, 0),
        ("api", "bob", pd.Timestamp(at(30)), 1, 1, 0),
        ("auth", "10.0.0.1", pd.Timestamp(at(20)), 2, 2, 0),
        ("api", "mallory", pd.Timestamp(at(10)), 3, 0, 3),
        ("auth", "10.0.0.1", pd.Timestamp(at(0)), 4, 3, 0),
    ]
    assert df["responded"].tolist() == [False, False, False, True, True]
    assert df["response_action"].tolist()[3:] == ["revoke_session", "lockout"]
    # from the first event to the end of the first successful recovery
    assert df["time_to_respond_s"].tolist()[3:] == pytest.approx([181.0, 180.5])
    assert df["time_to_respond_s"].isna().tolist()[:3] == [True, True, True]
    assert str(df["responded_at"].dtype) == "datetime64[us, UTC]"


def test_incident_gap_and_size(store: Store) -> None:
    merged = security_incidents(store, gap="30m", service="auth")
    assert _rows(merged, "events", "auth_failures", "time_to_respond_s") == [(6, 5, 180.5)]
    bursts = security_incidents(store, min_events=2)
    assert _rows(bursts, "actor", "events") == [("10.0.0.1", 2), ("mallory", 3), ("10.0.0.1", 4)]


def test_response_time_summary(store: Store) -> None:
    df = security_response_time(store)
    assert _rows(df, "service", "incidents", "responded") == [("api", 3, 1), ("auth", 2, 1)]
    assert df["response_rate"].tolist() == pytest.approx([1 / 3, 0.5])
    assert df["mean_s"].tolist() == pytest.approx([181.0, 180.5])
    total = security_response_time(store, by=None)
    assert _rows(total, "incidents", "responded") == [(5, 2)]
    assert total[["mean_s", "p50_s", "p95_s", "max_s"]].iloc[0].tolist() == pytest.approx(
        [180.75, 180.75, 180.5 + 0.95 * 0.5, 181.0]
    )
    with pytest.raises(ValueError, match="cannot group by 'category'"):
        security_response_time(store, by="category")


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_are_literals(store: Store, value: str) -> None:
    assert authentication_failure_rate(store, service=value).empty
    assert security_incidents(store, host=[value]).empty
    assert security_response_time(store, component=value).empty
    assert store.counts()["events"] == len(ROWS)
