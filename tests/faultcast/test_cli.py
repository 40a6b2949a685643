"""The command line: --help, --json prints exactly one JSON object, errors say what and where.

The commands run in this process through Typer's ``CliRunner``; the tests at the end run the
console script itself, where the process boundary is what is tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from faultcast.cli import app
from tests.conftest import event, run_cli

Cli = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def cli() -> Cli:
    """Run ``faultcast ARGS...`` in this process; the result looks like a finished process."""
    runner = CliRunner()

    def invoke(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        saved = structlog.get_config()  # the commands configure logging for the process
        try:
            result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        finally:
            structlog.configure(**saved)
        return subprocess.CompletedProcess(
            ["faultcast", *args], result.exit_code, result.stdout_bytes, result.stderr_bytes
        )

    return invoke


def test_help_lists_the_commands(cli: Cli) -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in (
        "ingest",
        "simulate",
        "demo",
        "events",
        "quarantine",
        "learn",
        "predict",
        "backtest",
        "models",
    ):
        assert command in result.stdout.decode()
    assert "--follow" in cli("ingest", "--help").stdout.decode()


def test_ingest_json_prints_exactly_one_object(write_lines, tmp_path: Path) -> None:
    """A separate process: nothing but the JSON object reaches stdout (no library prints)."""
    path = write_lines([event(i) for i in range(30)] + ["{bad"])
    result = run_cli("ingest", str(path), "--db", str(tmp_path / "s.duckdb"), "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert (report["read"], report["stored"], report["quarantined"]) == (31, 30, 1)
    assert report["quarantine_reasons"] == {"invalid JSON": 1}


def test_missing_file_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("ingest", str(tmp_path / "nope.jsonl"), "--db", str(tmp_path / "s.duckdb"))
    assert result.returncode == 1
    assert "no such file" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_events_and_quarantine_commands(cli: Cli, write_lines, tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    cli("ingest", str(write_lines([event(i) for i in range(5)] + ["[]"])), "--db", db)
    shown = json.loads(cli("events", "--db", db, "--service", "svc-1", "--json").stdout)
    assert shown["count"] == 1 and shown["events"][0]["service"] == "svc-1"
    q = json.loads(cli("quarantine", "--db", db, "--json").stdout)
    assert q["count"] == 1 and q["quarantine"][0]["reason"].startswith("a JSON array")
    assert "svc-" in cli("events", "--db", db).stdout.decode()


def test_events_table_shows_events_without_a_category(
    cli: Cli, write_lines, tmp_path: Path
) -> None:
    db = str(tmp_path / "s.duckdb")
    info = {"event": "user logged in", "level": "info", "timestamp": "2026-01-01T00:00:00Z"}
    cli("ingest", str(write_lines([info, event(1)])), "--db", db)
    shown = cli("events", "--db", db, "--since", "1h")
    assert shown.returncode == 0, shown.stderr
    assert "user logged in" in shown.stdout.decode()
    listed = cli("patterns", "--db", db, "--all-levels")
    assert listed.returncode == 0 and "user logged in" in listed.stdout.decode()
    default = cli("patterns", "--db", db).stdout.decode()  # warnings and worse
    assert "user logged in" not in default and "timed out" in default


def test_events_on_a_missing_store_says_how_to_start(cli: Cli, tmp_path: Path) -> None:
    result = cli("events", "--db", str(tmp_path / "none.duckdb"))
    assert result.returncode == 1 and "ingest some events first" in result.stderr.decode()


def test_simulate_then_ingest_then_demo(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "sim.jsonl"
    sim = cli(
        "simulate", "--out", str(out), "--services", "3", "--hours", "1", "--seed", "5", "--json"
    )
    assert sim.returncode == 0, sim.stderr
    summary = json.loads(sim.stdout)
    assert summary["events"] == sum(1 for _ in out.open())
    report = json.loads(
        cli("ingest", str(out), "--db", str(tmp_path / "s.duckdb"), "--json").stdout
    )
    assert report["stored"] + report["quarantined"] == summary["events"]
    assert report["quarantined"] == 0
    demo = cli(
        "demo",
        "--db",
        str(tmp_path / "demo" / "d.duckdb"),
        "--services",
        "2",
        "--hours",
        "1",
        "--json",
    )
    assert demo.returncode == 0, demo.stderr
    payload = json.loads(demo.stdout)
    assert payload["store"]["events"] == payload["simulated"] and payload["store"]["services"] == 2


def test_ingest_a_text_log_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "2026-01-01 00:00:00,000 ERROR db: timeout on blk_7\n  retrying\n2026-01-01 00:00:01,000 INFO db: ok\n"
    )
    result = cli(
        "ingest", str(log), "--db", str(tmp_path / "s.duckdb"), "--log-format",
        "<Date> <Time> <Level> <Component>: <Content>", "--session-key", "blk_[0-9]+", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["read"], report["stored"]) == (3, 2)
    shown = json.loads(
        cli("events", "--db", str(tmp_path / "s.duckdb"), "--oldest-first", "--json").stdout
    )
    assert shown["events"][0]["message"] == "timeout on blk_7\n  retrying"
    assert shown["events"][0]["session_key"] == "blk_7"


def test_patterns_command(cli: Cli, write_lines, tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    cli(
        "ingest",
        str(
            write_lines([event(i) for i in range(12)] + [event(99, event="disk full on /var/log")])
        ),
        "--db",
        db,
    )
    shown = json.loads(cli("patterns", "--db", db, "--json").stdout)
    assert shown["count"] == 2
    top = shown["patterns"][0]
    assert (
        top["count"] == 12 and top["template"] == "request <*> to db-<*>:<*> timed out after <*> ms"
    )
    assert top["error_count"] == 12 and top["services"] == 4
    assert "timed out" in cli("patterns", "--db", db).stdout.decode()


def test_learn_predict_backtest_and_models_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "sim.jsonl"
    db = str(tmp_path / "s.duckdb")
    assert (
        cli(
            "simulate", "--out", str(out), "--services", "3", "--hours", "6", "--seed", "8"
        ).returncode
        == 0
    )
    assert cli("ingest", str(out), "--db", db).returncode == 0
    missing = cli("predict", "--db", db)
    assert missing.returncode == 1 and "faultcast learn" in missing.stderr.decode()

    learned = cli("learn", "--db", db, "--json")
    assert learned.returncode == 0, learned.stderr
    summary = json.loads(learned.stdout)
    assert summary["ticks"] > 300 and summary["model_version"] == 1
    assert json.loads(cli("learn", "--db", db, "--json").stdout)["ticks"] == 0

    predicted = json.loads(cli("predict", "--db", db, "--json").stdout)
    assert predicted["count"] == 3 and predicted["model_version"] == 1
    unit = predicted["predictions"][0]["unit"]
    one = json.loads(cli("predict", "--db", db, "--unit", unit, "--json").stdout)
    assert one["count"] == 1 and one["predictions"][0]["unit"] == unit
    wrong = cli("predict", "--db", db, "--unit", "no-such-service")
    assert wrong.returncode == 1 and "no-such-service" in wrong.stderr.decode()
    assert cli("predict", "--db", db, "--horizon", "1h").returncode == 1

    result = cli("backtest", "--db", db, "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    for key in ("precision", "recall", "f1", "pr_auc", "alerts", "positives", "median_lead_time_s"):
        assert key in metrics
    assert set(metrics["baselines"]) >= {"static_threshold", "batch_sklearn"}
    table = cli("backtest", "--db", db)
    assert "baseline" in table.stdout.decode() and "online" in table.stdout.decode()
    bad = cli("backtest", "--db", db, "--mode", "session", "--labels", str(tmp_path / "none.csv"))
    assert bad.returncode == 1 and "none.csv" in bad.stderr.decode()

    assert cli("learn", "--db", db).returncode == 0  # nothing new: says so
    models = json.loads(cli("models", "--db", db, "--json").stdout)
    assert models["count"] == 1 and models["models"][0]["status"] == "production"
    rollback = cli("models", "rollback", "--db", db)
    assert rollback.returncode == 1 and "no version older" in rollback.stderr.decode()
    assert cli("models", "promote", "1", "--db", db).returncode == 0


def test_recommend_and_retrain_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "sim.jsonl"
    db = str(tmp_path / "s.duckdb")
    assert (
        cli(
            "simulate", "--out", str(out), "--services", "3", "--hours", "6", "--seed", "4"
        ).returncode
        == 0
    )
    assert cli("ingest", str(out), "--db", db).returncode == 0
    advice = json.loads(cli("recommend", "TimeoutError", "--db", db, "--json").stdout)
    assert advice["action"] and 0 <= advice["expected_success"] <= 1
    assert isinstance(advice["automate"], bool) and isinstance(advice["alternatives"], list)
    assert cli("recommend", "--db", db).returncode == 1  # nothing to recommend for
    assert cli("learn", "--db", db).returncode == 0
    result = cli("retrain", "--db", db, "--since", "6h", "--holdout", "2h", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert {"promoted", "decision", "reason"} <= set(record)
    assert record["decision"] in {"promoted", "kept"}
    assert "schedule" in cli("--help").stdout.decode()


def test_the_console_script_and_python_m(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("faultcast")
    version = subprocess.run([str(script), "--version"], capture_output=True, timeout=60)
    assert version.returncode == 0 and version.stdout.decode().startswith("faultcast ")
    usage = subprocess.run([str(script)], capture_output=True, timeout=60)  # no command: help
    assert usage.returncode in (0, 2) and b"ingest" in usage.stdout + usage.stderr
    missing = run_cli("events", "--db", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 1 and b"Traceback" not in missing.stderr


def test_help_says_what_ingest_takes_and_shows_readable_metavars(cli: Cli) -> None:
    text = cli("ingest", "--help").stdout.decode()
    assert "JSON lines" in text and "text logs" in text
    assert "FILE" in text and "list[str]" not in text.split("Options")[1]
    assert "DURATION" in cli("patterns", "--help").stdout.decode()
    serve = cli("serve", "--help").stdout.decode()
    assert "connect([shards])" in " ".join(serve.split())  # not eaten as rich markup
