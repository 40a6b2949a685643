"""The end-to-end example of docs/sdk.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "sdk.md"


def test_end_to_end_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    (example,) = [b for b in blocks if "# 1. The application's logging" in b]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_example"}
    try:
        exec(compile(example, str(DOC), "exec"), namespace)  # the example asserts its story
    finally:
        log_file = namespace.get("log_file")
        if log_file is not None:
            log_file.close()  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "ask a person" in out and "after 400 more calls: failover" in out
    assert (tmp_path / "app.jsonl").stat().st_size > 0
