"""Alerts end to end: rules over a real store, pending -> firing -> resolved, notifications to
a local webhook through Apprise and to a real Alertmanager, silences, acknowledgement,
reminders, the CLI's ``alerts check --json``, and serve's gauges and ``/v1/alerts``."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from faultcast.analytics import alert_history, alerts
from faultcast.ingest import Store
from faultcast.models.learn import current_risk
from typer.testing import CliRunner

from faultcast.alerts import (
    AlertmanagerNotifier,
    AlertSettings,
    AppriseNotifier,
    acknowledge,
    evaluate,
    silence,
)
from faultcast.alerts._rules import unit_at_risk
from faultcast.cli import app

from .conftest import Receiver, free_port

ALERT_ID = re.compile(r"Alert ([0-9a-f]{12})")


def sent(receiver: Receiver) -> list[tuple[str, str]]:
    """(alert id, state word of the title) of each message the webhook got since last asked."""
    out = []
    for body in receiver.take():
        found = ALERT_ID.search(body["message"])
        assert found, body
        out.append((found.group(1), body["title"].split("]")[0].strip("[")))
    return sorted(out)


def notified(result: Any, target: str) -> list[str]:
    """The ids of the alerts an evaluation says it notified ``target`` of."""
    items = result.firing + result.resolved
    return sorted(a["id"] for a in items if target in a["notified"])


def test_webhook_gets_one_message_per_change_with_silences_acks_and_reminders(
    store_copy: Path, receiver: Receiver
) -> None:
    settings = AlertSettings().with_values({"quarantine_spike": {"window": "6h"}})
    hook = AppriseNotifier(receiver.url())
    t0 = datetime.now(UTC)
    with Store(store_copy) as store:
        silence(store, "quarantine_spike", "30m", comment="known bad deploy", now=t0)

        titles: dict[str, str] = {}

        def check(at: timedelta) -> Any:
            result = evaluate(store, now=t0 + at, settings=settings, notifiers=[hook])
            messages = sent(receiver)
            assert [i for i, _ in messages] == notified(result, hook.target)  # one per change
            titles.clear()
            titles.update(messages)
            return result

        first = check(timedelta(seconds=1))
        by_rule = {a["rule"]: a for a in first.firing}
        api = by_rule["unit_at_risk"]
        assert api["unit"] == "api" and api["notified"] == [hook.target]
        # What, where, how sure, since when, why: in the message and in the details.
        details = api["details"]
        assert details["where"] == "api" and details["probability"] == pytest.approx(api["value"])
        assert details["why"] and "threshold" in details["how_sure"]
        quarantine = by_rule["quarantine_spike"]
        assert quarantine["silenced"] and quarantine["notified"] == []
        # Nothing new: nothing sent, nothing listed.
        assert check(timedelta(minutes=2)).to_dict() == {"firing": [], "resolved": []}
        acknowledge(store, api["id"], by="oncall", now=t0 + timedelta(minutes=3))
        # The silence ended and the spike still fires: now it is notified, once.
        after = check(timedelta(minutes=31))
        assert quarantine["id"] in {a["id"] for a in after.firing if a["notified"]}
        assert check(timedelta(minutes=40)).to_dict() == {"firing": [], "resolved": []}
        # Four hours after its notification a firing alert is sent again, unless acknowledged.
        reminded = check(timedelta(hours=4, minutes=32))
        again = {a["id"] for a in reminded.firing if a["notified"]}
        assert quarantine["id"] in again and api["id"] not in again
        assert titles[quarantine["id"]] == "STILL FIRING"
        # The spike leaves the window: one message for its resolution.
        ended = check(timedelta(hours=6, minutes=5))
        assert [a["id"] for a in ended.resolved if a["notified"]] == [quarantine["id"]]
        assert titles[quarantine["id"]] == "RESOLVED"
        listed = alerts(store, at=t0 + timedelta(hours=6, minutes=5))
    row = listed.set_index("id").loc[quarantine["id"]]
    assert row["state"] == "resolved" and row["notifications"] == 3  # first, reminder, resolved
    assert listed.set_index("id").loc[api["id"], "acknowledged_by"] == "oncall"
    assert listed.set_index("id").loc[api["id"], "state"] == "firing"


def test_alertmanager_receives_firing_and_resolved_alerts(
    store_copy: Path, alertmanager: str
) -> None:
    notifier = AlertmanagerNotifier(alertmanager)
    t0 = datetime.now(UTC)
    with Store(store_copy) as store:
        first = evaluate(store, now=t0, notifiers=[notifier])
        spike = next(a for a in first.firing if a["rule"] == "quarantine_spike")
        # The quarantined lines leave the spike's one-hour window: it resolves.
        later = evaluate(store, now=t0 + timedelta(hours=2), notifiers=[notifier])
    assert [a["id"] for a in later.resolved] == [spike["id"]]
    with urllib.request.urlopen(f"{alertmanager}/api/v2/alerts", timeout=10) as answer:
        received = json.loads(answer.read())
    by_rule = {a["labels"]["rule"]: a for a in received}
    risk = by_rule["unit_at_risk"]
    assert risk["labels"]["unit"] == "api" and risk["labels"]["severity"] == "critical"
    assert risk["labels"]["alertname"] == "faultcast_unit_at_risk"
    assert "at risk" in risk["annotations"]["summary"] and risk["annotations"]["how_sure"]
    assert risk["status"]["state"] == "active"
    ended = pd.Timestamp(by_rule["quarantine_spike"]["endsAt"])
    assert abs(ended - pd.Timestamp(t0 + timedelta(hours=2))) < pd.Timedelta(seconds=1)


def test_check_prints_what_changed_once_and_respects_the_cold_start(
    store_copy: Path, receiver: Receiver
) -> None:
    runner = CliRunner()
    args = ["alerts", "check", "--db", str(store_copy), "--notify", receiver.url(), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"firing", "resolved"} and out["resolved"] == []
    assert {a["rule"] for a in out["firing"]} >= {"unit_at_risk", "quarantine_spike"}
    for a in out["firing"]:
        assert {"id", "rule", "unit", "pattern", "severity", "summary", "fired_at"} <= set(a)
        assert a["notified"] == [receiver.url()]
    assert len(receiver.take()) == len(out["firing"])
    # Nothing new: nothing printed or sent; --exit-code says alerts are still firing.
    again = runner.invoke(app, [*args, "--exit-code"])
    assert again.exit_code == 3, again.output
    assert json.loads(again.stdout) == {"firing": [], "resolved": []} and receiver.take() == []
    listed = json.loads(runner.invoke(app, ["alerts", "--db", str(store_copy), "--json"]).stdout)
    assert {a["id"] for a in listed["alerts"]} >= {a["id"] for a in out["firing"]}
    # The same risk from a model still in its cold start raises no alert.
    with Store(store_copy) as store:
        risk = current_risk(store)
    latest = risk["as_of"].max().to_pydatetime()
    assert len(unit_at_risk(risk, AlertSettings(), latest)) == 1
    learning = risk.assign(status="learning: 2 of 5 failures seen")
    assert unit_at_risk(learning, AlertSettings(), latest).empty
    # ... and a prediction older than its horizon no longer counts.
    assert unit_at_risk(risk, AlertSettings(), latest + timedelta(minutes=16)).empty
    # ... nor one made after the evaluation's time (a replay).
    assert unit_at_risk(risk, AlertSettings(), latest - timedelta(minutes=1)).empty


def test_serve_evaluates_each_tick_and_shows_risk_and_alerts(store_copy: Path) -> None:
    from faultcast.ingest.keys import KeyStore

    from faultcast.http import HttpOptions
    from faultcast.serve import ServeOptions, Server

    with Store(store_copy) as store:
        key = KeyStore(store).create("reader", "read")
    options = ServeOptions(
        db=store_copy,
        http=HttpOptions(port=0, refresh_seconds=0.2, keys_refresh_seconds=0.2),
        learn_every=0.2,
        alert_every=0.2,
        # A target that refuses every notification: logged, retried, never stops serve.
        notify=[f"json://127.0.0.1:{free_port()}/hook"],
        poll_interval=0.05,
    )
    server = Server(options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):
            risk = server.metrics.value("faultcast_unit_risk", unit="api")
            firing = server.metrics.value("faultcast_alert_firing", rule="unit_at_risk", unit="api")
            if risk is not None and firing is not None:
                break
            threading.Event().wait(0.05)
        assert server.http_port is not None
        base = f"http://127.0.0.1:{server.http_port}"
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        assert re.search(r'faultcast_unit_risk\{unit="api"\} 0\.\d+', text), text[-2000:]
        assert 'faultcast_alert_firing{rule="unit_at_risk",unit="api"} 1.0' in text
        request = urllib.request.Request(
            f"{base}/v1/alerts?state=firing", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            listed = json.loads(answer.read())["alerts"]
        api = next(a for a in listed if a["rule"] == "unit_at_risk")
        assert api["unit"] == "api" and api["details"]["where"] == "api"
    finally:
        server.stop()
        thread.join(30)
    assert server.summary.alert_evaluations >= 1
    with Store(store_copy) as store:
        attempts = alert_history(store)
    failed = attempts[attempts["event"] == "notify:firing"]
    assert len(failed) >= 1 and not failed["ok"].any()
