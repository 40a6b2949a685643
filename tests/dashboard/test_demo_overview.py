"""The Overview on the demo's data names the outage of its last hour: the gateway, with its top
issue (critical 500s and deadlocks) and the recommended recovery, on one row.

The store holds the demo's own stream (``faultcast demo``'s services, hours and seed), its last
two hours only: the outage and what precedes it, without ingesting the whole day."""

from __future__ import annotations

import inspect
import json
from datetime import datetime
from pathlib import Path

import pytest
from faultcast.analytics import failure_episodes, issues, open_source
from streamlit.testing.v1 import AppTest

import faultcast
from faultcast.cli._ingest import demo
from faultcast.simulate import DEFAULT_START, iter_events
from tests.dashboard.test_pages import APP, TIMEOUT

#: The demo's last hours kept in the store.
KEEP_HOURS = 2


@pytest.fixture(scope="module")
def demo_tail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    defaults = {p.name: p.default for p in inspect.signature(demo).parameters.values()}
    hours, services, seed = defaults["hours"], defaults["services"], defaults["seed"]
    cut = (DEFAULT_START.timestamp() + (hours - KEEP_HOURS) * 3600) * 1000
    folder = tmp_path_factory.mktemp("demo_tail")
    with (folder / "events.jsonl").open("w") as out:
        for event in iter_events(services=services, hours=hours, seed=seed):
            if datetime.fromisoformat(event["timestamp"]).timestamp() * 1000 >= cut:
                out.write(json.dumps(event) + "\n")
    db = folder / "store.duckdb"
    with faultcast.connect(db) as fc:
        assert fc.ingest(folder / "events.jsonl").stored > 0
    return db


def test_the_demo_outage_is_named_with_its_top_issue_and_recovery(
    demo_tail: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAULTCAST_DB", str(demo_tail))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["faultcast_refresh"] = "off"
    at.run()
    assert not at.exception, at.exception
    # The store's "now" is its newest event (a historical store), and the page says so.
    assert "historical store" in at.caption[0].value
    # The gateway's outage of the last hour, with what the store says of it.
    episodes = failure_episodes(open_source(demo_tail), since="1h")
    gateway = episodes[episodes["unit"] == "gateway"]
    assert len(gateway) == 1
    top = issues(open_source(demo_tail), id=gateway["issue_ids"].iloc[0][0]).iloc[0]
    assert top["level"] == "critical"
    assert top["error_type"] in {"DeadlockError", "InternalServerError"}
    assert top["recovery"]
    texts = [m.value for m in at.markdown]
    row = next(i for i, t in enumerate(texts) if t.startswith("**gateway**"))
    who, what, todo = texts[row : row + 3]
    assert f"{int(gateway['failures'].iloc[0]):,} failures from" in who
    assert f"issues?issue={top['id']}" in what
    assert top["error_type"] in what
    assert f"**{top['recovery']}**" in todo and todo.startswith("Recommended recovery")
