"""What is failing now: failure episodes per unit with their issues, and each unit's recent
issues, on a store written row by row (expected values worked out by hand)."""

from __future__ import annotations

from typing import Any

import pytest
from faultcast.analytics import failure_episodes, unit_issues

from tests.analytics.conftest import at, build, ev


def _row(minute: float, service: str, issue_id: str | None, **kw: Any) -> dict[str, Any]:
    return {**ev(minute, service, **kw), "issue_id": issue_id}


def _fail(minute: float, service: str, issue_id: str = "I-F") -> dict[str, Any]:
    return _row(minute, service, issue_id, level="critical", error_type="Crash", failure=True)


ROWS = [
    # api: an episode at minutes 0-4, then (26 min without a failure) another at 30-31
    _fail(0, "api"), _fail(2, "api"), _fail(4, "api"),
    _row(29.5, "api", "I-A", level="error", error_type="Deadlock"),
    _fail(30, "api"),
    _row(30.5, "api", "I-A", level="error", error_type="Deadlock"),
    _row(30.7, "api", "I-A", level="error", error_type="Deadlock"),
    _row(30.8, "api", "I-B", level="warning", error_type="Slow"),
    _row(30.9, "api", "I-A", level="error", error_type="Deadlock"),
    _fail(31, "api"),
    # db: one failure at minute 10 (30 min before now), then warnings
    _fail(10, "db", "I-D"),
    _row(27, "db", "I-W", level="warning", error_type="Lag"),
    _row(33, "db", "I-W", level="warning", error_type="Lag"),
    _row(35, "db", "I-X", level="warning", error_type="Disk"),
    # web: no failure; the newest event of the store ("now") at minute 40
    _row(40, "web", None),
]  # fmt: skip


@pytest.fixture(scope="module")
def store():  # type: ignore[no-untyped-def]
    return build(ROWS)


def test_episodes_split_by_the_gap_failing_now_first_with_their_issues(store) -> None:  # type: ignore[no-untyped-def]
    found = failure_episodes(store, since="1h", active="15m")
    assert found[["unit", "failures", "failing_now"]].values.tolist() == [
        ["api", 2, True],  # its last failure 9 min before now
        ["db", 1, False],
        ["api", 3, False],
    ]
    assert found["onset"].tolist() == [at(30), at(10), at(0)]
    assert found["last_failure"].tolist() == [at(31), at(10), at(4)]
    assert set(found["now"]) == {at(40)}
    # The issues of the api's latest episode (30-31 min: the Deadlock at 29.5 is before it).
    assert found["issue_ids"].iloc[0] == ["I-A", "I-F", "I-B"]
    assert found["issue_events"].iloc[0] == [3, 2, 1]
    assert failure_episodes(store, since="1h", issues=1)["issue_ids"].iloc[0] == ["I-A"]


def test_episodes_window_filters_and_bad_arguments(store) -> None:  # type: ignore[no-untyped-def]
    assert failure_episodes(store, since="20m")["unit"].tolist() == ["api"]
    assert failure_episodes(store, since="1h", active="5m")["failing_now"].tolist() == [
        False, False, False,
    ]  # fmt: skip
    assert failure_episodes(store, service="db")["unit"].tolist() == ["db"]
    assert failure_episodes(store, service="nobody").empty
    assert failure_episodes(store, unit_column="host")["unit"].tolist()[0] == "api-1"
    with pytest.raises(ValueError, match="unit_column"):
        failure_episodes(store, unit_column="message")
    with pytest.raises(ValueError, match="issues"):
        failure_episodes(store, issues=-1)
    assert failure_episodes(build([])).empty


def test_unit_issues_in_the_recent_window(store) -> None:  # type: ignore[no-untyped-def]
    found = unit_issues(store, since="15m")  # minutes 25 to 40
    assert found[["unit", "id", "events", "rank"]].values.tolist() == [
        ["api", "I-A", 4, 1],
        ["api", "I-F", 2, 2],
        ["api", "I-B", 1, 3],
        ["db", "I-W", 2, 1],
        ["db", "I-X", 1, 2],
    ]
    assert unit_issues(store, since="15m", limit=1)["id"].tolist() == ["I-A", "I-W"]
    assert unit_issues(store, since="15m", service="db")["unit"].unique().tolist() == ["db"]
