"""The dashboard shows stored control characters escaped: tables, pickers and charts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import faultcast
from tests.conftest import event
from tests.dashboard.test_pages import _run

ESC = "\x1b[2J\x1b]0;owned\x07"
RAW = ("\x1b", "\x07", "\u202e")


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile_dashboard")
    source = folder / "events.jsonl"
    lines = [
        event(i, event=f"boom {ESC} \u202eevil {i}", service=f"svc{ESC}", level="error")
        for i in range(8)
    ]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    db = folder / "store.duckdb"
    with faultcast.connect(db) as fc:
        assert fc.ingest(source).stored == 8
    return db


def _texts(frame) -> list[str]:  # type: ignore[no-untyped-def]
    return [v for column in frame.columns for v in frame[column] if isinstance(v, str)]


def test_patterns_page_shows_stored_control_characters_escaped(
    hostile_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _run(hostile_db, "patterns", monkeypatch)
    texts = [t for df in at.dataframe for t in _texts(df.value)]
    assert any("\\x1b[" in t for t in texts) and any("\\u202e" in t for t in texts)
    for text in texts:
        assert not any(ch in text for ch in RAW), text
    charts = at.get("plotly_chart")
    assert charts
    for chart in charts:
        strings = _strings(json.loads(chart.proto.spec)["data"])
        assert any("\\x1b[" in t for t in strings)
        for text in strings:
            assert not any(ch in text for ch in RAW), text


def _strings(tree: object) -> list[str]:
    if isinstance(tree, str):
        return [tree]
    if isinstance(tree, dict):
        return [s for v in tree.values() for s in _strings(v)]
    if isinstance(tree, list):
        return [s for v in tree for s in _strings(v)]
    return []


def test_service_picker_shows_names_escaped(
    hostile_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _run(hostile_db, "errors", monkeypatch)
    picker = next(m for m in at.multiselect if m.label == "Service")
    shown = list(picker.options)  # the labels the browser gets
    assert shown and all("\x1b" not in o for o in shown)
    assert any("\\x1b[" in o for o in shown)


def test_issues_page_shows_stored_control_characters_escaped(
    hostile_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _run(hostile_db, "issues_page", monkeypatch)
    texts = [t for df in at.dataframe for t in _texts(df.value)]
    texts += [m.value for m in at.markdown] + [t.value for t in at.text]
    texts += [h.value for h in at.subheader] + list(at.selectbox(key="i_issue").options)
    assert any("\\x1b[" in t for t in texts)
    for text in texts:
        assert not any(ch in text for ch in RAW), text
