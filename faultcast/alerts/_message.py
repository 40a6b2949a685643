"""What a notification says: what, where, how sure, since when, why, and the recommended
recovery; as text for people (Apprise) and as labels and annotations (Alertmanager)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from faultcast.alerts._notify import Message

_WORDS = {
    "unit_at_risk": "at risk",
    "new_pattern": "new error pattern",
    "surging_pattern": "surging error pattern",
    "regression": "regression",
    "quarantine_spike": "quarantine spike",
    "scorecard_breach": "success criterion breached",
}


def _when(value: Any) -> str:
    if value is None:
        return "?"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text.replace("+00:00", "Z")


def build(kind: str, alert: dict[str, Any], now: datetime, ttl: float, repeat: int = 0) -> Message:
    """The message of ``alert`` (a row of :func:`faultcast.analytics.alerts` with ``details``
    as a dict) for a change of ``kind``: ``firing``, ``renotify`` or ``resolved``."""
    d: dict[str, Any] = alert.get("details") or {}
    rule, unit, pattern = alert["rule"], alert["unit"], alert["pattern"]
    where = d.get("where") or unit or "all services"
    state = {"firing": "FIRING", "renotify": "STILL FIRING", "resolved": "RESOLVED"}[kind]
    title = f"[{state}] faultcast {_WORDS.get(rule, rule)}: {where} ({alert['severity']})"
    lines = [str(alert["summary"]), ""]
    lines.append(f"What: {d.get('what') or rule}")
    lines.append(f"Where: {where}")
    if d.get("how_sure"):
        lines.append(f"How sure: {d['how_sure']}")
    since = d.get("since") or alert.get("active_since")
    lines.append(f"Since: {_when(since)} (firing since {_when(alert.get('fired_at'))})")
    if kind == "resolved":
        lines.append(f"Resolved: {_when(alert.get('resolved_at'))}")
    why = [w for w in d.get("why") or [] if w]
    if why:
        lines.append("Why: " + "; ".join(why))
    recovery = d.get("recovery")
    if recovery:
        lines.append(f"Recommended recovery: {recovery}")
    if kind == "renotify":
        lines.append(f"Reminder {repeat}: acknowledge with `faultcast alerts ack {alert['id']}`")
    lines.append(
        f"Alert {alert['id']} · rule {rule}" + (f" · pattern {pattern}" if pattern else "")
    )
    body = "\n".join(lines)
    labels = {
        "alertname": f"faultcast_{rule}",
        "rule": rule,
        "unit": unit,
        "pattern": pattern,
        "severity": str(alert["severity"]),
        "source": "faultcast",
    }
    annotations = {
        "summary": str(alert["summary"]),
        "description": body,
        "what": str(d.get("what") or rule),
        "how_sure": str(d.get("how_sure") or ""),
        "why": "; ".join(why),
        "recovery": str(recovery or ""),
        "alert_id": str(alert["id"]),
    }
    if alert.get("value") is not None:
        annotations["value"] = f"{float(alert['value']):.6g}"
    if alert.get("threshold") is not None:
        annotations["threshold"] = f"{float(alert['threshold']):.6g}"
    fired = alert.get("fired_at") or alert.get("active_since")
    ends = alert.get("resolved_at") if kind == "resolved" else now + timedelta(seconds=ttl)
    return Message(
        kind=kind,
        alert=alert,
        title=title,
        body=body,
        labels={k: v for k, v in labels.items() if v},
        annotations={k: v for k, v in annotations.items() if v},
        starts_at=fired,
        ends_at=ends,
    )
