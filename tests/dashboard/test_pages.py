"""Every dashboard page under Streamlit's AppTest against a seeded store: no exception, its
key elements present, and a filter that changes what is shown."""

from __future__ import annotations

import json
from pathlib import Path

import faultcast.dashboard.app as app_module
import pandas as pd
import pytest
from faultcast.analytics import issues, open_source, scorecard, unit_issues
from faultcast.dashboard import data
from faultcast.ingest import Store
from faultcast.models import latest_predictions
from streamlit.testing.v1 import AppTest

import faultcast
from tests.conftest import copy_store, event

APP = str(Path(app_module.__file__))
TIMEOUT = 60


def _page_script(name: str) -> None:
    from faultcast.dashboard import pages

    getattr(pages, name)()


def _run(
    db: Path | str, page: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None
) -> AppTest:
    """The whole app (its default page, Overview), or one page run on its own (AppTest cannot
    switch to a page that is a function), with the time range "all"."""
    assert monkeypatch is not None
    monkeypatch.setenv("FAULTCAST_DB", str(db))
    if page is None:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    else:
        at = AppTest.from_function(_page_script, args=(page,), default_timeout=TIMEOUT)
        at.session_state["faultcast_paths"] = (str(db),)
    at.session_state["faultcast_range"] = "all"
    at.session_state["faultcast_refresh"] = "off"
    at.run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _plotly_count(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_overview(seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(seeded_db, monkeypatch=monkeypatch)
    tiles = _metrics(at)
    assert set(tiles) >= {
        "Error rate",
        "Recovery success",
        "Mean recovery time",
        "Units at risk now",
        "New error patterns",
    }
    assert tiles["Error rate"].endswith("%")
    assert " of 3" in tiles["Units at risk now"]
    # It opens with what is failing now and what is at risk, and says what "now" is.
    heads = [h.value for h in at.subheader]
    assert heads[0].startswith("Failing now: ") and heads[1].startswith("At risk of failing")
    assert at.caption[0].value.startswith("As of ")
    card = at.dataframe[0].value
    assert list(card.columns)[:5] == ["Criterion", "Now", "Target", "Status", "Evidence"]
    # In the seed's words where the scorecard has them, else its descriptions.
    scored = scorecard(open_source(seeded_db))
    words = scored.get("seed_criterion", scored["description"])
    assert card["Criterion"].tolist() == words.tolist()
    assert set(card["Status"]) <= {"pass", "FAIL", "n/a"}
    assert all(v.endswith(("%", "ms", " s", " min", " h", "–")) for v in card["Now"])
    assert _plotly_count(at) >= 1
    # A shorter time range is a filter too: fewer events behind the error rate.
    all_time = at.metric[0].proto.help
    at.sidebar.selectbox(key="faultcast_range").set_value("last hour").run()
    assert not at.exception
    assert at.metric[0].proto.help != all_time


def test_overview_names_a_unit_at_risk_with_its_issue_and_recovery(
    seeded_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = copy_store(seeded_db, tmp_path / "risk.duckdb")
    source = open_source(db)
    failing = set(data.now(source).failing.query("failing_now")["unit"])
    recent = unit_issues(source, since="15m")
    unit = next(u for u in recent["unit"] if u not in failing)
    latest = latest_predictions(source)
    last = latest[latest["unit"] == unit].iloc[0]
    # The production model's next prediction for this unit alerts (as learn or serve would
    # store it): the unit is at risk now.
    store = Store(db)
    try:
        with store.writing() as con:
            con.execute(
                "INSERT INTO store.predictions VALUES ('unit', 'service', ?, ?, ?, 900, 0.97, ?, "
                "true, 0, ?, ?, ?)",
                [unit, last["tick"], last["made_at"] + pd.Timedelta(minutes=1), last["threshold"],
                 last["model_name"], int(last["model_version"]),
                 '[{"feature": "errors_5", "value": 9, "contribution": 0.5, '
                 '"text": "9 errors in the last 5 min"}]'],
            )  # fmt: skip
    finally:
        store.close()
    at = _run(db, monkeypatch=monkeypatch)
    assert [h.value for h in at.subheader][1].endswith(": 1")  # at risk: this unit
    texts = [m.value for m in at.markdown]
    row = next(i for i, t in enumerate(texts) if t.startswith(f"**{unit}** :orange-badge"))
    who, what, todo = texts[row : row + 3]
    assert "risk 97.0%" in who and "9 errors in the last 5 min" in who
    top = recent[(recent["unit"] == unit) & (recent["rank"] == 1)]["id"].iloc[0]
    assert f"issues?issue={top}" in what
    recovery = issues(source, id=top)["recovery"].iloc[0]
    assert todo.startswith("Recommended recovery")
    assert (f"**{recovery}**" in todo) if isinstance(recovery, str) else "no recovery" in todo


def test_issues_stream_filters_sorts_drills_down_and_resolves(
    seeded_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = copy_store(seeded_db, tmp_path / "issues.duckdb")  # this test changes an issue
    at = _run(db, "issues_page", monkeypatch)
    tiles = _metrics(at)
    stream = at.dataframe[0].value
    # The unresolved issues of the range, newest last seen first, with the Sentry-like columns.
    assert {"Title", "Status", "Count", "Users", "Sessions", "Service", "Trend"} <= set(
        stream.columns
    )
    assert set(stream["Status"]) <= {"open", "regressed"}
    assert len(stream) == int(tiles["Open"]) + int(tiles["Regressed"]) > 1
    assert stream["Last seen"].is_monotonic_decreasing
    assert all(len(t) == 24 for t in stream["Trend"])
    # Sorting by events puts the most frequent first.
    at.selectbox(key="i_sort").set_value("events").run()
    by_count = at.dataframe[0].value["Count"]
    assert by_count.is_monotonic_decreasing and by_count.iloc[0] == stream["Count"].max()
    # A service filter keeps that service's issues.
    service = at.multiselect(key="i_service")
    service.set_value([service.options[0]]).run()
    assert not at.exception
    assert all(service.options[0] in s for s in at.dataframe[0].value["Service"])
    # The drill-down: its events (message; traceback when there is one) and the actions.
    chosen = at.selectbox(key="i_issue").value
    detail = issues(open_source(db), id=chosen).iloc[0]
    assert at.subheader[0].value.replace("\\", "") == detail["title"]
    assert {b.label for b in at.button} == {
        "Resolve",
        "Resolve in next release",
        "Ignore",
        "Reopen",
    }
    assert any(c.value for c in at.text)  # sample messages
    # Resolve it: the store says resolved, the stream of unresolved issues drops it, the tiles move.
    at.button(key="i_resolve").click().run()
    assert not at.exception
    assert issues(open_source(db), id=chosen)["status"].tolist() == ["resolved"]
    assert chosen not in at.dataframe[0].value["Id"].tolist()
    assert int(_metrics(at)["Resolved"]) == int(tiles["Resolved"]) + 1
    assert any(chosen in s.value for s in at.success)
    at.button(key="i_reopen").click().run()
    assert issues(open_source(db), id=chosen)["status"].tolist() == ["open"]


TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/orders.py", line 42, in place_order\n'
    "    total = price / quantity\n"
    "ZeroDivisionError: division by zero"
)


def test_an_issue_page_shows_its_events_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        event(i, event=f"order {i} failed", error_type="ZeroDivisionError", exception=TRACEBACK)
        for i in range(3)
    ]
    (tmp_path / "app.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    db = tmp_path / "app.duckdb"
    with faultcast.connect(db) as fc:
        fc.ingest(tmp_path / "app.jsonl")
    found = issues(open_source(db))
    assert len(found) == 1
    at = AppTest.from_function(_page_script, args=("issues_page",), default_timeout=TIMEOUT)
    monkeypatch.setenv("FAULTCAST_DB", str(db))
    at.session_state["faultcast_paths"] = (str(db),)
    at.session_state["faultcast_range"] = "all"
    at.query_params["issue"] = found["id"].iloc[0]  # the address /issues?issue=ID
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="i_issue").value == found["id"].iloc[0]
    assert [t.value for t in at.text] == ["order 2 failed", "order 1 failed", "order 0 failed"]
    assert [c.value for c in at.code] == [TRACEBACK] * 3
    assert all(c.language == "python" for c in at.code)


def test_errors_filters_change_the_counts(seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(seeded_db, "errors", monkeypatch)
    before = _metrics(at)["Errors"]
    assert _plotly_count(at) == 1
    services = at.multiselect(key="e_service")
    assert len(services.options) == 3
    services.set_value([services.options[0]]).run()
    assert not at.exception
    after = _metrics(at)["Errors"]
    assert int(after.replace(",", "")) < int(before.replace(",", ""))
    at.selectbox(key="e_by").set_value("level").run()
    assert not at.exception
    assert "Level" in at.dataframe[0].value.columns


def test_patterns(seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(seeded_db, "patterns", monkeypatch)
    assert [t.label for t in at.tabs] == ["Top", "New", "Surging", "Precursors"]
    top = at.dataframe[0].value
    assert {"Pattern", "Template", "Count"} <= set(top.columns)
    at.multiselect(key="p_service").set_value([at.multiselect(key="p_service").options[0]]).run()
    assert not at.exception
    assert int(at.dataframe[0].value["Count"].sum()) < int(top["Count"].sum())


def test_recovery(seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(seeded_db, "recovery", monkeypatch)
    assert _plotly_count(at) >= 2  # the heatmap, times, retries
    advice = at.dataframe[-1].value
    assert {"Category", "Action", "Expected success", "Automate"} <= set(advice.columns)
    assert advice["Expected success"].between(0, 1).all()
    times = at.dataframe[0].value
    service = at.multiselect(key="r_service")
    service.set_value([service.options[-1]]).run()
    assert not at.exception
    assert int(at.dataframe[0].value["Attempts"].sum()) < int(times["Attempts"].sum())


def test_predictions(seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(seeded_db, "predictions", monkeypatch)
    tiles = _metrics(at)
    assert {"Precision", "Recall", "Median lead time", "Failures caught"} <= set(tiles)
    assert _plotly_count(at) == 4  # risk now, timeline, quality, calibration
    why = at.dataframe[0].value
    assert {"Feature", "Contribution"} <= set(why.columns) and len(why) > 0
    caught = tiles["Failures caught"]
    service = at.multiselect(key="f_service")
    service.set_value([service.options[0]]).run()
    assert not at.exception
    assert at.selectbox(key="f_unit").options == [service.options[0]]
    assert _metrics(at)["Failures caught"] != caught or "0 of" in caught


def test_security(seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(seeded_db, "security", monkeypatch)
    tiles = _metrics(at)
    assert {"Authentication failures", "Authorisation violations", "Incidents", "Lockouts"} <= set(
        tiles
    )
    assert int(tiles["Incidents"].replace(",", "")) > 0
    service = at.multiselect(key="s_service")
    service.set_value([service.options[0]]).run()
    assert not at.exception
    assert _metrics(at)["Incidents"] != tiles["Incidents"]


def test_models(seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _run(seeded_db, "models", monkeypatch)
    tiles = _metrics(at)
    assert tiles["In production"].startswith("unit_failure v")
    assert tiles["Last retrain"] in {"promoted", "kept"}
    versions = at.dataframe[0].value
    assert {"Name", "Version", "Status"} <= set(versions.columns) and len(versions) >= 2
    assert not versions.map(lambda v: isinstance(v, str) and v.startswith("{")).any().any()
    assert _plotly_count(at) >= 1
    # The time range filters the live quality chart's buckets.
    at.session_state["faultcast_range"] = "last hour"
    at.run()
    assert not at.exception


def test_an_empty_store_shows_how_to_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _run(tmp_path / "nothing-yet.duckdb", monkeypatch=monkeypatch)
    assert "Welcome to faultcast" in at.header[0].value
    assert any("faultcast ingest" in c.value for c in at.code)
    assert not (tmp_path / "nothing-yet.duckdb").exists()
