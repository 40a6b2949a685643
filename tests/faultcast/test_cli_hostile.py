"""The command line against hostile input: stored control characters are shown escaped (JSON
stays exact), every option is checked before the store is touched with an error naming it and
no SQL, and the dashboard warns when it serves beyond this machine."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import structlog
import typer
from faultcast.ingest import Store
from faultcast.models import Registry
from typer.testing import CliRunner

from faultcast.cli import app
from faultcast.cli._common import command, error_text
from tests.conftest import event

ESC = "\x1b[2J\x1b]0;owned\x07"
BIDI = "\u202eevil"
#: Every character that must never reach a terminal raw.
RAW = ("\x1b", "\x07", "\u202e", "\x9b", "\r")


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    saved = structlog.get_config()
    try:
        result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
    finally:
        structlog.configure(**saved)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store whose messages, services, templates, actions, quarantine and model metrics hold
    ESC sequences, BEL, a C1 CSI, a carriage return and a bidi override."""
    folder = tmp_path_factory.mktemp("hostile")
    lines = [
        json.dumps(
            event(
                i,
                event=f"boom {ESC} [bold]markup[/bold] \x9b31m\rhidden {BIDI} {i}",
                service=f"svc{ESC}",
                recovery_action=f"restart{ESC}",
                recovery_outcome="succeeded",
            )
        )
        for i in range(6)
    ]
    lines.append(f"not json {ESC}{BIDI}")  # quarantined
    source = folder / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")
    db = str(folder / "store.duckdb")
    code, out, err = run("ingest", str(source), "--db", db, "--format", "json", "--json")
    assert code == 0, err
    assert json.loads(out)["quarantined"] == 1
    Registry(Store(db)).save("demo", {"w": 1}, metrics={"note": f"tuned {ESC}{BIDI}"})
    return db


def _assert_escaped(text: str, shown: tuple[str, ...] = ("\\x1b[", "\\x07")) -> None:
    for ch in RAW:
        assert ch not in text, f"{ch!r} reached the terminal raw"
    for escaped in shown:
        assert escaped in text


@pytest.mark.parametrize(
    "args",
    [
        ("events",),
        ("patterns",),
        ("quarantine",),
        ("models",),
        ("recommend", "TimeoutError"),
    ],
    ids=lambda a: a[0],
)
def test_stored_control_characters_are_shown_escaped(
    hostile_db: str, args: tuple[str, ...]
) -> None:
    code, out, err = run(*args, "--db", hostile_db)
    assert code == 0, err
    # metrics are JSON text: their control characters are stored as JSON escapes already
    _assert_escaped(out, ("\\u001b[2J",) if args[0] == "models" else ("\\x1b[", "\\x07"))
    if args[0] in ("events", "patterns"):
        assert "[bold]markup[/bold]" in out  # markup in stored text is shown, not applied
    if args[0] == "events":
        assert "\\u202eevil" in out and "\\x9b31m\\rhidden" in out


@pytest.mark.parametrize("name", ["events", "quarantine", "models"])
def test_json_output_stays_exact(hostile_db: str, name: str) -> None:
    code, out, _ = run(name, "--db", hostile_db, "--json")
    assert code == 0
    rows = json.loads(out)[name]
    if name == "events":
        assert rows[0]["message"].startswith(f"boom {ESC} ")
    elif name == "quarantine":
        assert rows[0]["raw"] == f"not json {ESC}{BIDI}"
    else:
        assert rows[0]["metrics"]["note"] == f"tuned {ESC}{BIDI}"


INVALID = [
    (("events", "--since", "x"), "--since"),
    (("events", "--until", "2026-13-40"), "--until"),
    (("events", "--level", "bogus"), "--level"),
    (("events", "--limit", "-1"), "--limit"),
    (("patterns", "--window", "soon"), "--window"),
    (("patterns", "--since", "yesterday"), "--since"),
    (("quarantine", "--limit", "-5"), "--limit"),
    (("learn", "--unit-column", "service; DROP TABLE events"), "--unit-column"),
    (("learn", "--horizon", "0"), "--horizon"),
    (("learn", "--tick", "1 fortnight"), "--tick"),
    (("learn", "--sessions", "--session-column", "x'y"), "--session-column"),
    (("learn", "--session-idle", "-5m"), "--session-idle"),
    (("predict", "--horizon", "1y"), "--horizon"),
    (("backtest", "--mode", "everything"), "--mode"),
    (("backtest", "--labels", "no-such-labels.csv"), "--labels"),
    (("retrain", "--since", "ever"), "--since"),
    (("retrain", "--holdout", "0s"), "--holdout"),
    (("retrain", "--margin", "nan"), "--margin"),
    (("schedule", "--retrain-cron", "every night"), "--retrain-cron"),
    (("schedule", "--poll", "0"), "--poll"),
    (("recommend", "X", "--since", "last week"), "--since"),
    (("recommend", "X", "--rate", "-1"), "--rate"),
    (("models", "promote", "0"), "VERSION"),
    (("models", "resign", "--version", "0"), "--version"),
    (("dashboard", "--port", "70000"), "--port"),
    (("demo", "--hours", "0"), "--hours"),
    (("demo", "--services", "0"), "--services"),
    (("ingest", "x.log", "--format", "xml"), "--format"),
    (("ingest", "x.log", "--year", "0"), "--year"),
    (("ingest", "x.log", "--poll", "0"), "--poll"),
    (("ingest", "x.log", "--redact", "(unclosed"), "--redact"),
    (("ingest", "x.log", "--mask", "(?<=id=)[0-9]+"), "--mask"),
    (
        ("ingest", "x.log", "--log-format", "<Date> <Content>", "--session-key", "(?<=blk)_\\d+"),
        "--session-key",
    ),
    (
        ("ingest", "x.log", "--log-format", "<Date> <Content>", "--session-key", "blk_("),
        "--session-key",
    ),
    (
        ("ingest", "x.log", "--log-format", "<Date> <Content>", "--time-format", "%Q"),
        "--time-format",
    ),
    (("serve", "--follow", "x.log", "--metrics-port", "99999"), "--metrics-port"),
    (("serve", "--follow", "x.log", "--learn-every", "0"), "--learn-every"),
]


@pytest.mark.parametrize(("args", "option"), INVALID, ids=[" ".join(a) for a, _ in INVALID])
def test_an_invalid_option_is_named_before_the_store_is_touched(
    tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    db = tmp_path / "never.duckdb"
    code, out, err = run(*args, "--db", str(db), input="n\n")
    assert code == 1 and not out
    assert err.startswith("error: ") and option in err, err
    for sql in ("SELECT", "LINE 1", "Traceback", "Error:"):  # no DuckDB message, no SQL
        assert sql not in err, err
    assert not db.exists(), "the store was opened before the options were checked"


def test_options_are_checked_on_an_existing_store_too(hostile_db: str) -> None:
    code, _, err = run("events", "--db", hostile_db, "--since", "x")
    assert code == 1 and "--since" in err and "SELECT" not in err


def test_an_unexpected_duckdb_error_is_reported_without_sql() -> None:
    demo = typer.Typer()

    @command(demo)
    def broken() -> None:
        """Query a table that is not there."""
        with duckdb.connect() as con:
            con.execute("SELECT secret FROM missing_table WHERE x = 1").fetchall()

    @command(demo)
    def other() -> None:
        """A second command, so Typer keeps the command names."""

    result = CliRunner().invoke(demo, ["broken"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Catalog Error") and "missing_table" in result.stderr
    assert "LINE 1" not in result.stderr and "SELECT" not in result.stderr
    assert "Traceback" not in result.stderr


def test_error_text_escapes_control_characters() -> None:
    assert error_text(ValueError(f"bad {ESC}")) == "bad \\x1b[2J\\x1b]0;owned\\x07"
    assert error_text(ValueError("first\nsec\rond")) == "first\nsec\\rond"  # lines kept


# ---------------------------------------------------------------------------- dashboard
@pytest.fixture
def no_exec(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The dashboard command would become Streamlit: record its command line instead."""
    seen: list[list[str]] = []

    def fake_execv(path: str, argv: list[str]) -> None:
        seen.append(list(argv))

    monkeypatch.setattr("os.execv", fake_execv)
    return seen


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.1.2.3", "dashboard.example.com"])
def test_the_dashboard_warns_it_has_no_login_beyond_loopback(
    no_exec: list[list[str]], tmp_path: Path, address: str
) -> None:
    code, _, err = run("dashboard", "--db", str(tmp_path / "s.duckdb"), "--address", address)
    assert code == 0 and no_exec
    assert "warning: the dashboard has no login" in err and address in err


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_the_dashboard_on_loopback_does_not_warn(
    no_exec: list[list[str]], tmp_path: Path, address: str
) -> None:
    code, _, err = run("dashboard", "--db", str(tmp_path / "s.duckdb"), "--address", address)
    assert code == 0 and no_exec and "warning" not in err
