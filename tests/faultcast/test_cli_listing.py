"""Help written for people, and the listings: relative times, newest first, and a message
that says what was looked for when nothing is found.

The commands run in this process through Typer's ``CliRunner`` (cheap: no subprocess).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import typer
from faultcast.ingest import Store
from typer.testing import CliRunner

from faultcast.cli import app
from tests.analytics.conftest import at, build, ev

#: Typer's own placeholders (``<list[str]>``, ``<str>``, ``<int>``, ...) and click's (TEXT,
#: INTEGER, FLOAT): an option value shown as a Python type instead of a word.
INTERNAL_METAVAR = re.compile(
    r"<(?:list\[|str>|int>|float>|bool>|path>)|\b(?:TEXT|INTEGER|FLOAT)\b"
)


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    saved = structlog.get_config()  # the commands configure logging for the process
    try:
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    finally:
        structlog.configure(**saved)
    return result.exit_code, result.stdout, result.stderr


def test_every_help_is_written_for_people() -> None:
    """Every command's --help at 80 columns: no internal metavars, no help text that breaks a
    sentence in the source (a paragraph is one line; the terminal wraps it), and ingest's
    help says what it reads today."""
    assert len(COMMANDS) > 20
    problems: list[str] = []
    for path, command in COMMANDS:
        name = " ".join(path) or "faultcast"
        code, shown, _ = _run(*path, "--help", env={"COLUMNS": "80"})
        assert code == 0, name
        for found in INTERNAL_METAVAR.findall(shown):
            problems.append(f"{name}: metavar {found!r}")
        if "JSON lines only" in shown or "JSON-lines only" in shown:
            problems.append(f"{name}: says JSON lines only")
        texts = [("help", command.help or "")]
        texts += [(p.name or "?", getattr(p, "help", None) or "") for p in command.params]
        for what, text in texts:
            for paragraph in text.split("\n\n"):
                if "\n" in paragraph.strip():
                    problems.append(f"{name} ({what}): a line break inside {paragraph[:40]!r}")
    assert not problems, "\n".join(problems)
    ingest = " ".join(_run("ingest", "--help", env={"COLUMNS": "80"})[1].split())
    for what in ("JSON lines", "text logs", "gzip", "Kafka", "OTLP", "Sentry", "faultcast serve"):
        assert what in ingest, what


TIMEOUT: dict[str, Any] = {"category": "communication", "error_type": "TimeoutError"}
ROWS = [
    ev(0, "api", "info", message="started"),
    ev(10, "api", "error", category="communication", error_type="TimeoutError", message="t1"),
    ev(20, "api", "error", **TIMEOUT, message="t0", action="retry", outcome="failed"),
    ev(50, "db", "warning", category="data", message="slow query"),
    ev(100, "api", "error", category="communication", error_type="TimeoutError", message="t2"),
    ev(105, "api", "error", **TIMEOUT, message="t3", action="retry", outcome="succeeded"),
    ev(110, "db", "critical", category="memory", message="out of memory", failure=True),
    ev(115, "api", "info", message="GET / 200"),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("listing") / "s.duckdb"
    build(ROWS, Store(path)).close()
    return str(path)


def _messages(db: str, *args: str) -> list[str]:
    code, out, err = _run("events", "--db", db, *args, "--json")
    assert code == 0, err
    return [e["message"] for e in json.loads(out)["events"]]


def test_events_relative_times_and_order(db: str) -> None:
    # newest first; the last hour before the latest event (01:55) starts at 00:55
    assert _messages(db, "--since", "1h") == ["GET / 200", "out of memory", "t3", "t2"]
    oldest = _messages(db, "--since", "1h", "--oldest-first")
    assert oldest == ["t2", "t3", "out of memory", "GET / 200"]
    assert _messages(db, "--limit", "2") == ["GET / 200", "out of memory"]  # the newest two
    assert _messages(db, "--limit", "2", "--oldest-first") == ["started", "t1"]
    # --until 30m: before 01:25; ISO times as well
    assert _messages(db, "--until", "30m", "--since", "2h") == ["slow query", "t0", "t1", "started"]
    assert _messages(db, "--since", at(50).isoformat(), "--until", "10m") == ["t2", "slow query"]
    code, out, _ = _run("events", "--db", db, "--since", "1h")
    assert code == 0 and out.index("GET / 200") < out.index("t2")  # the table too


def test_nothing_found_says_what_was_looked_for(db: str) -> None:
    code, out, err = _run(
        "events", "--db", db, "--service", "web", "--level", "error", "--since", "1h"
    )
    assert code == 0 and out == ""
    assert err == f"no events with --service web, --level error, --since 1h in {db}\n"
    code, out, err = _run("events", "--db", db, "--service", "web", "--json")
    assert code == 0 and json.loads(out) == {"events": [], "count": 0} and err == ""
    code, out, err = _run("patterns", "--db", db, "--surging")
    assert code == 0 and out == ""
    assert err.startswith("no surging patterns of warnings or worse in the last 1h")
    code, out, err = _run("quarantine", "--db", db)
    assert code == 0 and out == "" and err == f"no quarantined input in {db}\n"
    code, out, _ = _run("quarantine", "--db", db, "--json")
    assert json.loads(out) == {"quarantine": [], "count": 0}


def test_recommend_takes_a_relative_since(db: str) -> None:
    """It reached DuckDB as text ("Conversion Error: invalid timestamp field format")."""
    code, out, err = _run("recommend", "TimeoutError", "--db", db, "--since", "1h", "--json")
    assert code == 0, err
    advice = json.loads(out)
    assert advice["action"] == "retry" and advice["trials"] == 1  # the outcome at 01:45 only


def test_a_bad_time_is_named_before_the_store_is_read(tmp_path: Path) -> None:
    db = tmp_path / "never.duckdb"
    for args in (("events", "--since", "1 hour ago"), ("patterns", "--window", "0m")):
        code, out, err = _run(*args, "--db", str(db))
        option = args[1]
        assert code == 1 and out == "" and err.startswith(f"error: {option} "), err
        assert "Conversion Error" not in err and "Traceback" not in err
    assert not db.exists()
