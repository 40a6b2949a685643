"""``faultcast issues``: the listing (table, JSON, "no issues match"), one issue, and the
lifecycle commands, in this process through Typer's ``CliRunner``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from typer.testing import CliRunner

import faultcast
from faultcast.cli import app


def _run(*args: str) -> tuple[int, str, str]:
    saved = structlog.get_config()
    try:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    finally:
        structlog.configure(**saved)
    return result.exit_code, result.stdout, result.stderr


def test_issues_from_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    now = datetime.now(UTC)
    lines = [
        {"ts": (now - timedelta(hours=3)).isoformat(), "level": "error", "service": "pay",
         "error_type": "KeyError", "event": "no sku 12",
         "exception": 'Traceback (most recent call last):\n  File "/app/shop/cart.py", line 3, '
                      "in add\nKeyError: 'sku'"},
        {"ts": (now - timedelta(minutes=5)).isoformat(), "level": "warning", "service": "api",
         "event": "slow call to db after 300 ms"},
    ]  # fmt: skip
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with faultcast.connect(db) as fc:
        fc.ingest(path)

    code, out, _ = _run("issues", "--db", db, "--json")
    assert code == 0
    listed = json.loads(out)["issues"]
    assert [i["service"] for i in listed] == ["api", "pay"]  # newest first
    assert {"id", "title", "status", "count", "first_seen", "last_seen", "error_type"} <= set(
        listed[0]
    )
    key_error = listed[1]["id"]

    code, out, _ = _run("issues", "--db", db, "--since", "1h", "--service", "api")
    assert code == 0 and "slow call to db after <*> ms" in out and key_error not in out
    code, out, err = _run("issues", "--db", db, "--status", "resolved", "--service", "pay")
    assert code == 0 and out == "" and "no issues match status resolved, service pay" in err

    code, out, _ = _run("issues", "show", key_error.lower(), "--db", db)
    assert code == 0 and "KeyError: no sku <*>" in out and 'File "/app/shop/cart.py"' in out

    assert _run("issues", "resolve", key_error, "--db", db)[1].strip() == f"{key_error} resolved"
    code, out, _ = _run("issues", "ignore", key_error, "--for", "2h", "--db", db, "--json")
    assert json.loads(out)["issue"]["status"] == "ignored"
    code, _, err = _run("issues", "ignore", key_error, "--for", "soon", "--db", db)
    assert code == 1 and "--for='soon' is not a duration" in err
    code, _, err = _run("issues", "reopen", "FC-NOPE", "--db", db)
    assert code == 1 and "no issue 'FC-NOPE'" in err
    code, _, err = _run("issues", "--status", "closed", "--db", db)
    assert code == 1 and "--status 'closed' is not one of" in err

    code, out, _ = _run("issues", "show", key_error, "--db", db, "--json")
    changes = json.loads(out)["issue"]["changes"]
    assert [c["to_status"] for c in changes] == ["ignored", "resolved"]
    assert all(c["actor"] for c in changes)

    help_text = _run("issues", "--help")[1]
    assert "STATUS" in help_text and "DURATION" in help_text
    assert "ID" in _run("issues", "resolve", "--help")[1]
