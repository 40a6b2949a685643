"""faultcast.alerts: rules over the store that reach people (Apprise URLs, Alertmanager).

Rules (:data:`RULES`; thresholds in :class:`AlertSettings`, overridable from a TOML file):
``unit_at_risk`` (the production model alerts for a unit), ``new_pattern`` (an error pattern
first seen within the window), ``surging_pattern``, ``regression`` (a resolved issue
recurs), ``quarantine_spike`` and ``scorecard_breach``.  One alert per key (rule, unit,
pattern) at a time: pending -> firing (after the rule's ``for``) -> resolved; reminders every
``renotify`` while firing and not acknowledged; silences by rule or unit.  :func:`evaluate`
runs every rule once (``faultcast alerts check``, and ``faultcast serve`` each tick).

Examples
--------
>>> from faultcast.ingest import Store
>>> result = evaluate(Store(":memory:"), now="2026-01-01T00:00:00Z")
>>> result.to_dict()
{'firing': [], 'resolved': []}
>>> AlertSettings().unit_at_risk.for_, AlertSettings().renotify
(0.0, 14400.0)
"""

from __future__ import annotations

from faultcast.alerts._engine import Evaluation, acknowledge, evaluate, expire_silence, silence
from faultcast.alerts._notify import (
    AlertmanagerNotifier,
    AppriseNotifier,
    Message,
    Notifier,
    mask_url,
    notifier,
)
from faultcast.alerts._settings import RULES, AlertSettings

__all__ = [
    "RULES",
    "AlertSettings",
    "AlertmanagerNotifier",
    "AppriseNotifier",
    "Evaluation",
    "Message",
    "Notifier",
    "acknowledge",
    "evaluate",
    "expire_silence",
    "mask_url",
    "notifier",
    "silence",
]
