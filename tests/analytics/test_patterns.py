"""Top, new, surging and precursor patterns, worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from faultcast.analytics import new_patterns, precursor_patterns, surging_patterns, top_patterns
from faultcast.ingest import Store

from tests.analytics.conftest import INJECTIONS, at, build, ev

COMM = {"category": "communication", "error_type": "TimeoutError"}
ACTIVITY = [
    *[ev(m, "a", template_id="T1", template="tick <*>", message=f"tick {m}") for m in range(0, 120, 10)],  # 12
    *[ev(m, "a", "error", **COMM, template_id="T2", template="timeout <*>", message=f"timeout {m}") for m in (5, 65, 111, 112, 113)],
    *[ev(m, "b", "error", **COMM, template_id="T2", template="timeout <*>", message=f"timeout {m}") for m in (114, 115, 116)],
    ev(115, "a", "warning", category="memory", template_id="T3", template="heap at <*>", message="heap at 91%"),
    ev(116, "a", "critical", category="memory", template_id="T3", template="heap at <*>", message="heap at 99%", failure=True),
]  # fmt: skip


@pytest.fixture(scope="module")
def activity() -> Store:
    return build(ACTIVITY)


def _rows(df: pd.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in df[list(columns)].itertuples(index=False)]


def test_top_patterns(activity: Store) -> None:
    df = top_patterns(activity, min_level=None)
    assert list(df.columns) == [
        "template_id",
        "template",
        "count",
        "share",
        "services",
        "errors",
        "failures",
        "first_seen",
        "last_seen",
        "example",
    ]
    assert _rows(df, "template_id", "count", "services", "errors", "failures") == [
        ("T1", 12, 1, 0, 0),
        ("T2", 8, 2, 8, 0),
        ("T3", 2, 1, 2, 1),
    ]
    assert df["share"].tolist() == pytest.approx([12 / 22, 8 / 22, 2 / 22])
    assert _rows(df.head(1), "template", "first_seen", "last_seen", "example") == [
        ("tick <*>", pd.Timestamp(at(0)), pd.Timestamp(at(110)), "tick 0")
    ]
    assert _rows(top_patterns(activity, limit=1, service="b"), "template_id", "count") == [
        ("T2", 3)
    ]
    assert _rows(top_patterns(activity, since="6m", level="error"), "template_id", "count") == [
        ("T2", 6)
    ]


def test_top_patterns_default_to_warnings_and_worse(activity: Store) -> None:
    """The info ticks (T1, the most frequent) are left out unless asked for; a failure counts
    whatever its level; an explicit level= picks levels itself."""
    assert _rows(top_patterns(activity), "template_id", "count", "share") == [
        ("T2", 8, 0.8),
        ("T3", 2, 0.2),
    ]
    assert _rows(top_patterns(activity, min_level="critical"), "template_id", "count") == [
        ("T3", 1)
    ]
    assert _rows(top_patterns(activity, level="info"), "template_id", "count") == [("T1", 12)]
    with pytest.raises(ValueError, match="not a level"):
        top_patterns(activity, min_level="loud")


def test_new_and_surging(activity: Store) -> None:
    # now = 00:116 (the latest event); the window is (106, 116]
    new = new_patterns(activity, window="10m")
    assert _rows(new, "template_id", "count", "recent_count", "is_new") == [("T3", 2, 2, True)]
    surging = surging_patterns(activity, window="10m")
    # T2: 6 in the window; 2 in the windows before, of which the history (from 00:00 to the
    # window's start at 01:46) covers 10.6: baseline 2/10.6; 6 >= 0.19 + 5 (the floor) and
    # 6 >= 3 * 0.19 + 3 * sqrt(0.19) + 1
    assert _rows(surging, "template_id", "recent_count", "is_surging", "is_new") == [
        ("T2", 6, True, False)
    ]
    assert surging["baseline_per_window"].iloc[0] == pytest.approx(2 / 10.6)
    assert surging["surge_ratio"].iloc[0] == pytest.approx(6 / (2 / 10.6))
    assert surging_patterns(activity, window="10m", min_count=6).empty  # 6 < 0.19 + 6
    # 10.6 windows of history: too few when 11 are asked for
    assert surging_patterns(activity, window="10m", min_history=11).empty
    # until moves "now": at 00:100 nothing is new or surging in the 10 minutes before
    assert new_patterns(activity, window="10m", until=at(100)).empty
    assert surging_patterns(activity, window="10m", until=at(100)).empty
    assert _rows(new_patterns(activity, window="10m", service="b"), "template_id") == [("T2",)]


# Service a fails at 30 (an onset), 32 (not: within 15 minutes of 30) and 80; b at 50.
# P precedes every onset; N is noise that lands in a window once.
PRECURSORS = [
    ev(30, "a", "critical", **COMM, template_id="F", failure=True),
    ev(32, "a", "critical", **COMM, template_id="F", failure=True),
    ev(80, "a", "critical", **COMM, template_id="F", failure=True),
    ev(50, "b", "critical", **COMM, template_id="F", failure=True),
    *[ev(m, "a", "warning", **COMM, template_id="P") for m in (0, 20, 25, 70)],
    ev(45, "b", "warning", **COMM, template_id="P"),
    *[ev(m, "a", "info", template_id="N") for m in (1, 5, 10, 28, 40, 50, 60, 90)],
    *[ev(m, "b", "info", template_id="N") for m in (10, 20, 60)],
]  # fmt: skip


@pytest.fixture(scope="module")
def precursors() -> Store:
    return build(PRECURSORS)


def test_precursor_patterns_by_lift(precursors: Store) -> None:
    df = precursor_patterns(precursors, min_support=1)
    assert list(df.columns) == [
        "template_id",
        "template",
        "occurrences",
        "in_window",
        "failures_preceded",
        "onsets",
        "coverage",
        "confidence",
        "lift",
        "mean_lead_s",
    ]
    assert _rows(df, "template_id", "occurrences", "in_window", "failures_preceded", "onsets") == [
        ("P", 5, 4, 3, 3),
        ("N", 11, 1, 1, 3),
    ]
    # 5 of the 16 candidate events are in pre-failure windows
    assert df["lift"].tolist() == pytest.approx([0.8 / (5 / 16), (1 / 11) / (5 / 16)])
    assert df["coverage"].tolist() == pytest.approx([1.0, 1 / 3])
    assert df["mean_lead_s"].tolist() == pytest.approx([450.0, 120.0])
    # the default minimum support (3 failures preceded) keeps P only
    assert precursor_patterns(precursors)["template_id"].tolist() == ["P"]


def test_precursors_of_the_whole_system(precursors: Store) -> None:
    # one unit: onsets at 30, 50 and 80; N now lands before 30 (28, b's 20) and 50 (40)
    df = precursor_patterns(precursors, by=None, min_support=1)
    assert _rows(df, "template_id", "in_window", "failures_preceded", "onsets") == [
        ("P", 4, 3, 3),
        ("N", 3, 2, 3),
    ]
    assert df["lift"].tolist() == pytest.approx([0.8 / (7 / 16), (3 / 11) / (7 / 16)])


def test_precursor_candidates_and_windows(precursors: Store) -> None:
    # only warnings are candidates; onsets still come from all events
    warnings = precursor_patterns(precursors, level="warning", min_support=1)
    assert _rows(warnings, "template_id", "in_window", "onsets", "lift") == [("P", 4, 3, 1.0)]
    # a 6-minute window: 32 is still no onset (2 minutes after 30); P at 25 and 45 remain
    short = precursor_patterns(precursors, window="6m", min_support=1)
    assert _rows(short, "template_id", "in_window", "failures_preceded") == [
        ("P", 2, 2),
        ("N", 1, 1),
    ]
    assert precursor_patterns(precursors, since=at(60), min_support=1)["onsets"].tolist() == [1]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_are_literals(activity: Store, value: str) -> None:
    assert top_patterns(activity, category=value).empty
    assert new_patterns(activity, service=value).empty
    assert surging_patterns(activity, error_type=[value]).empty
    assert precursor_patterns(activity, service=value, min_support=0).empty
    assert activity.counts()["events"] == len(ACTIVITY)


def _steady(minutes: range, template_id: str, level: str = "warning") -> list[dict[str, object]]:
    return [
        ev(m, "app", level, category="communication", template_id=template_id, message=template_id)
        for m in minutes
    ]


def test_on_a_small_app_nothing_surges_with_the_default_window() -> None:
    """Two hours of a small app at steady rates: every pattern has as many events in the last
    hour as in the one before.  Its baseline is that hour (not a 24th of it, as if the store
    had a day of history), and two hours are too little history to call anything a surge."""
    rows = _steady(range(0, 121, 2), "A") + _steady(range(1, 120, 5), "B")
    rows += _steady(range(3, 120, 20), "C", "error")
    store = build(rows)
    assert surging_patterns(store).empty
    # Even when one hour of history were enough: a steady pattern is no surge.
    flagged = surging_patterns(store, min_history=1, limit=None)
    assert flagged.empty
    everything = patterns_of(store, min_history=1)
    # now = 02:00 (the latest event): one hour of history before the window, 31 A and 3 C in
    # it; 30 A and 3 C in the window
    assert everything.loc["A", "baseline_per_window"] == pytest.approx(31.0)
    assert everything.loc["C", "baseline_per_window"] == pytest.approx(3.0)
    assert everything.loc["A", "recent_count"] == 30
    assert not everything["is_surging"].any()


def test_a_real_surge_is_found_once_there_is_history() -> None:
    """Twelve hours of steady history, then B jumps from 2 to 30 an hour: B surges, A does
    not.  The same jump on a store with only two hours of history is no surge yet."""
    long = _steady(range(0, 720, 10), "A") + _steady(range(5, 660, 30), "B")
    long += _steady(range(661, 720, 2), "B")
    found = surging_patterns(build(long))
    assert _rows(found, "template_id", "recent_count") == [("B", 30)]
    assert found["baseline_per_window"].iloc[0] == pytest.approx(22 / (659 / 60))  # 11 h
    assert found["surge_ratio"].iloc[0] == pytest.approx(15.0, rel=0.01)
    young = [r for r in long if r["ts"] >= at(600)]
    assert surging_patterns(build(young)).empty
    # A small jump over a small baseline is under the absolute floor: 2 -> 6 an hour.
    small = _steady(range(0, 720, 10), "A") + _steady(range(5, 660, 30), "B")
    small += _steady(range(665, 720, 10), "B")
    assert surging_patterns(build(small)).empty


def patterns_of(store: Store, **options: object) -> pd.DataFrame:
    from faultcast.analytics import patterns

    return patterns(store, limit=None, **options).set_index("template_id")  # type: ignore[arg-type]
