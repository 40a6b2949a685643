"""Notifications that fail and are retried, secrets kept out of every output, the regression
rule over the issues table, and the settings file; on small stores built here (no model)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faultcast.analytics import alert_history
from faultcast.ingest import Store
from structlog.testing import capture_logs

import faultcast
from faultcast.alerts import AlertSettings, AppriseNotifier, evaluate, mask_url

from .conftest import Receiver, free_port
from .test_lifecycle import sent


def error_at(folder: Path, minutes: float, name: str) -> Path:
    """A file with one payment error ``minutes`` from now (the issue rules compare with now)."""
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    path = folder / name
    error = {"timestamp": at.isoformat(), "service": "shop", "level": "error",
             "error_type": "PaymentError", "event": "payment failed for order 1"}  # fmt: skip
    path.write_text(json.dumps(error) + "\n")
    return path


def fresh_error_store(folder: Path) -> Path:
    """A store whose only events are a new error pattern of ten minutes ago: it fires."""
    db = folder / "store.duckdb"
    with faultcast.connect(db) as fc:
        fc.ingest(error_at(folder, -10, "a.jsonl"))
    return db


def test_a_failed_notification_is_retried_at_the_next_evaluation_and_secrets_stay_hidden(
    tmp_path: Path, receiver: Receiver
) -> None:
    db = fresh_error_store(tmp_path)
    dead = free_port()
    secret_url = f"json://alerts:hunter2secret@127.0.0.1:{dead}/hook"
    assert "hunter2secret" not in mask_url(secret_url)
    with Store(db) as store:
        with capture_logs() as logs:
            first = evaluate(store, notifiers=[AppriseNotifier(secret_url)])
        assert first.firing and all(a["failed"] and not a["notified"] for a in first.firing)
        text = json.dumps(first.to_dict()) + json.dumps(logs, default=str)
        text += alert_history(store).to_json(date_format="iso")
        assert "hunter2secret" not in text and "****" in text
        assert any(e["event"] == "alerts.notify_failed" for e in logs)
        # The same target, reachable now (same URL, so the same target id): all retried.
        retried = evaluate(
            store, notifiers=[AppriseNotifier(secret_url.replace(str(dead), str(receiver.port)))]
        )
    assert sorted(a["id"] for a in retried.firing if a["notified"]) == sorted(
        a["id"] for a in first.firing
    )
    assert len(receiver.take()) == len(first.firing)


def test_a_regressed_issue_raises_a_regression_alert_until_resolved_again(
    tmp_path: Path, receiver: Receiver
) -> None:
    from faultcast.analytics import issues, set_issue_status

    db = fresh_error_store(tmp_path)
    hook = AppriseNotifier(receiver.url())
    settings = AlertSettings().with_values({"new_pattern": {"enabled": False}})
    with Store(db) as store:
        assert evaluate(store, settings=settings, notifiers=[hook]).firing == []
        issue = str(issues(store)["id"].iloc[0])
        set_issue_status(store, issue, "resolved", actor="ann")
    with faultcast.connect(db) as fc:
        fc.ingest(error_at(tmp_path, 1, "b.jsonl"))  # after the resolution: it recurs
    with Store(db) as store:
        fired = evaluate(store, settings=settings, notifiers=[hook]).firing
        assert [(a["rule"], a["unit"], a["pattern"]) for a in fired] == [
            ("regression", "shop", issue)
        ]
        assert "regressed" in fired[0]["summary"] and fired[0]["notified"] == [hook.target]
        set_issue_status(store, issue, "resolved", actor="ann")
        resolved = evaluate(store, settings=settings, notifiers=[hook]).resolved
    assert [a["id"] for a in resolved] == [fired[0]["id"]]
    assert [(i, word) for i, word in sent(receiver)] == sorted(
        [(fired[0]["id"], "FIRING"), (fired[0]["id"], "RESOLVED")]
    )


def test_settings_come_from_toml_with_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        'renotify = "1h"\n[surging_pattern]\nmin_count = 25\n[unit_at_risk]\nfor = "0m"\n'
    )
    settings = AlertSettings.from_file(path)
    assert settings.renotify == 3600 and settings.surging_pattern.min_count == 25
    assert settings.unit_at_risk.for_ == 0 and settings.new_pattern.window == 3600
    for text, message in (
        ("[surging_pattern]\nminimum = 3\n", "unknown setting 'minimum'"),
        ("[quarantine_spike]\nmin_count = 0\n", "min_count must be a whole number"),
        ("[nope]\nfor = '1m'\n", "unknown setting 'nope'"),
        ("[regression]\nseverity = 'loud'\n", "severity must be one of"),
        ("renotify = 'soon'\n", "not a duration"),
    ):
        path.write_text(text)
        with pytest.raises(ValueError, match=message) as caught:
            AlertSettings.from_file(path)
        assert str(path) in str(caught.value)


def test_silences_and_acknowledgements_from_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from faultcast.cli import app

    db = str(fresh_error_store(tmp_path))
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(app, ["alerts", *args, "--db", db])
        return result

    made = run("silence", "shop", "--for", "2h", "--comment", "deploy 4.2", "--json")
    assert made.exit_code == 0, made.output
    silence = json.loads(made.stdout)["silence"]
    assert (silence["unit"], silence["rule"], silence["comment"]) == ("shop", None, "deploy 4.2")
    by_rule = json.loads(run("silence", "new_pattern", "--json").stdout)["silence"]
    assert (by_rule["rule"], by_rule["unit"]) == ("new_pattern", None)
    listed = json.loads(run("silences", "--json").stdout)["silences"]
    assert {s["id"] for s in listed} == {silence["id"], by_rule["id"]}
    assert run("expire", silence["id"]).exit_code == 0
    assert run("expire", silence["id"]).exit_code == 1  # no longer in force
    assert [s["id"] for s in json.loads(run("silences", "--json").stdout)["silences"]] == [
        by_rule["id"]
    ]
    assert len(json.loads(run("silences", "--all", "--json").stdout)["silences"]) == 2
    # The new pattern fires (silenced by rule); acknowledge it by id.
    fired = json.loads(run("check", "--json").stdout)["firing"]
    assert [a["rule"] for a in fired] == ["new_pattern"] and fired[0]["silenced"]
    acked = run("ack", fired[0]["id"], "--json")
    assert json.loads(acked.stdout)["acknowledged"]["acknowledged_by"]
    wrong = run("ack", "0123456789ab")
    assert wrong.exit_code == 1 and "no open alert" in wrong.output
    assert run("silence", "shop", "--for", "soon").exit_code != 0
