"""The alert rules: each one set-based read through :mod:`faultcast.analytics` or
:mod:`faultcast.models`, giving the conditions that hold now as rows.

Every rule returns a frame of :data:`CONDITION_COLUMNS`: the key (``rule``, ``unit``,
``pattern``; ``""`` where a rule has none), ``severity``, ``summary`` (one line), ``value``
and ``threshold`` (what was measured and the bar it crossed) and ``details`` (a dict: what,
where, how sure, since when, why; JSON in the store).

Time: ``now`` is the evaluation's clock (the wall clock by default, any time in tests and
replays); rules over events read the data up to ``data_time`` = min(now, the latest event),
so on a historical store (``faultcast demo``) they judge the end of the data, and a replay
with an earlier ``now`` sees only the events up to it.  The quarantine spike counts by
ingest time, so it reads up to ``now``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any, Final

import pandas as pd

from faultcast import analytics
from faultcast.alerts._settings import AlertSettings
from faultcast.ingest._log import get_logger
from faultcast.ingest.store import StoreReader

log = get_logger(__name__)

CONDITION_COLUMNS: Final[tuple[str, ...]] = (
    "rule",
    "unit",
    "pattern",
    "severity",
    "summary",
    "value",
    "threshold",
    "details",
)
_LEVEL_SEVERITY: Final[dict[str, int]] = {"info": 0, "warning": 1, "error": 2, "critical": 3}
_ERROR_LEVELS: Final[list[str]] = ["warning", "error", "critical"]
_TINY: Final[timedelta] = timedelta(microseconds=1)


def conditions(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a frame of :data:`CONDITION_COLUMNS` (empty with the columns when none)."""
    frame = pd.DataFrame(rows, columns=list(CONDITION_COLUMNS))
    for column in ("rule", "unit", "pattern"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def _iso(moment: Any) -> str | None:
    if moment is None or (not isinstance(moment, str) and pd.isna(moment)):
        return None
    return str(pd.Timestamp(moment).isoformat())


def _duration(seconds: float) -> str:
    """``3600`` -> ``1h``, ``900`` -> ``15m``, ``90`` -> ``90s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _severest(*names: str) -> str:
    return max(names, key=lambda n: _LEVEL_SEVERITY.get(n, 0))


# ------------------------------------------------------------------------- the rules
def unit_at_risk(risk: pd.DataFrame, settings: AlertSettings, data_time: datetime) -> pd.DataFrame:
    """Units whose latest prediction by the production model alerts (``risk`` is
    :func:`faultcast.models.learn.current_risk`): not while the model is learning; a
    prediction counts for its horizon only, and not before it was made (replays)."""
    rule = settings.unit_at_risk
    if risk.empty:
        return conditions([])
    as_of = pd.to_datetime(risk["as_of"], utc=True)
    until = as_of + pd.to_timedelta(risk["horizon_s"].astype(float), unit="s")
    keep = (
        risk["alert"].fillna(False).astype(bool).to_numpy()
        & (risk["status"].astype(str) == "ready").to_numpy()
        & (until >= pd.Timestamp(data_time)).to_numpy()
        & (as_of <= pd.Timestamp(data_time)).to_numpy()  # a replay's now: nothing from later
    )
    rows = []
    for r, at, horizon_end in zip(
        risk[keep].itertuples(index=False), as_of[keep], until[keep], strict=True
    ):
        minutes = float(r.horizon_s) / 60
        why = [str(w) for w in (r.top_features or [])]
        rows.append(
            {
                "rule": "unit_at_risk",
                "unit": str(r.unit),
                "pattern": "",
                "severity": rule.severity,
                "summary": f"{r.unit} is at risk of a failure within {minutes:g} min: risk "
                f"{r.risk:.0%} (alert threshold {r.threshold:.0%})",
                "value": float(r.risk),
                "threshold": float(r.threshold),
                "details": {
                    "what": f"a failure predicted within {minutes:g} minutes",
                    "where": str(r.unit),
                    "how_sure": f"probability {r.risk:.1%}, alert threshold "
                    f"{r.threshold:.1%} (model version {r.model_version})",
                    "since": _iso(at),
                    "until": _iso(horizon_end),
                    "why": why,
                    "probability": float(r.risk),
                    "model_version": None if pd.isna(r.model_version) else int(r.model_version),
                    "horizon_s": float(r.horizon_s),
                },
            }
        )
    return conditions(rows)


def _by_service(
    store: StoreReader, template_ids: list[str], start: datetime, end: datetime
) -> pd.DataFrame:
    """Errors per (template, service, level) in ``start < ts <= end``."""
    if not template_ids:
        return pd.DataFrame(columns=["template_id", "service", "level", "errors", "failures"])
    return analytics.error_frequency(
        store,
        since=start + _TINY,
        until=end + _TINY,
        by=["template_id", "service", "level"],
        template_id=template_ids,
    )


def new_pattern(store: StoreReader, settings: AlertSettings, data_time: datetime) -> pd.DataFrame:
    """Patterns first seen within the window, with errors (warning or above): one per service."""
    rule = settings.new_pattern
    window = timedelta(seconds=rule.window)
    found = analytics.patterns(
        store,
        since=data_time - window + _TINY,
        until=data_time,
        new=True,
        window=window,
        limit=None,
    )
    found = found[found["error_count"].to_numpy() > 0]
    split = _by_service(store, found["template_id"].tolist(), data_time - window, data_time)
    if split.empty:
        return conditions([])
    levels = split.groupby(["template_id", "service"], dropna=False).agg(
        errors=("errors", "sum"),
        failures=("failures", "sum"),
        level=("level", lambda s: _severest(*[str(v) for v in s])),
    )
    info = found.set_index("template_id")
    rows = []
    for (template_id, service), g in levels.iterrows():
        p = info.loc[template_id]
        service = "" if pd.isna(service) else str(service)
        level = str(g["level"])
        severity = _severest(rule.severity, level if level in _LEVEL_SEVERITY else "warning")
        rows.append(
            {
                "rule": "new_pattern",
                "unit": service,
                "pattern": str(template_id),
                "severity": severity,
                "summary": f"new error pattern in {service or 'an unnamed service'}: "
                f"{p['template']!s} ({int(g['errors'])} at {level} or above since "
                f"{_iso(p['first_seen'])})",
                "value": float(g["errors"]),
                "threshold": 1.0,
                "details": {
                    "what": f"a message pattern never seen before, at {level} level",
                    "where": service,
                    "how_sure": f"{int(g['errors'])} events in {service or '?'} "
                    f"({int(p['recent_count'])} in all services) within "
                    f"{_duration(rule.window)}; {int(g['failures'])} marked failures",
                    "since": _iso(p["first_seen"]),
                    "why": [f"first seen {_iso(p['first_seen'])}"],
                    "template": str(p["template"]),
                    "example": None if pd.isna(p["example"]) else str(p["example"]),
                },
            }
        )
    return conditions(rows)


def surging_pattern(
    store: StoreReader, settings: AlertSettings, data_time: datetime
) -> pd.DataFrame:
    """Error patterns surging by analytics' one rule, with history and a floor per service."""
    rule = settings.surging_pattern
    window = timedelta(seconds=rule.window)
    found = analytics.patterns(
        store,
        since=data_time - window + _TINY,
        until=data_time,
        surging=True,
        window=window,
        baseline_windows=rule.baseline_windows,
        min_count=rule.min_count,
        factor=rule.factor,
        limit=None,
    )
    history = pd.Timestamp(data_time - timedelta(seconds=rule.min_history))
    first_seen = pd.to_datetime(found["first_seen"], utc=True)
    found = found[(found["error_count"].to_numpy() > 0) & (first_seen <= history).to_numpy()]
    split = _by_service(store, found["template_id"].tolist(), data_time - window, data_time)
    if split.empty:
        return conditions([])
    per = split.groupby(["template_id", "service"], dropna=False)["errors"].sum().reset_index()
    per = per[per["errors"].to_numpy() >= rule.min_count]
    info = found.set_index("template_id")
    rows = []
    for r in per.itertuples(index=False):
        p = info.loc[r.template_id]
        service = "" if pd.isna(r.service) else str(r.service)
        baseline = float(p["baseline_per_window"])
        ratio = float(p["surge_ratio"]) if not pd.isna(p["surge_ratio"]) else math.inf
        w = _duration(rule.window)
        rows.append(
            {
                "rule": "surging_pattern",
                "unit": service,
                "pattern": str(r.template_id),
                "severity": rule.severity,
                "summary": f"error pattern surging in {service or 'an unnamed service'}: "
                f"{p['template']!s} ({int(r.errors)} in {service or '?'} in the last {w}; "
                f"{int(p['recent_count'])} in all, {baseline:.1f} per {w} usually)",
                "value": float(p["recent_count"]),
                "threshold": rule.factor * baseline + 3 * math.sqrt(baseline) + 1,
                "details": {
                    "what": "an error pattern well above its usual rate",
                    "where": service,
                    "how_sure": f"{int(p['recent_count'])} in the last {w} against "
                    f"{baseline:.2f} per {w} over the {rule.baseline_windows} windows before "
                    f"({ratio:.1f}x; the bar: {rule.factor:g}x + 3 sigma + 1, at least "
                    f"{rule.min_count})",
                    "since": _iso(data_time - window),
                    "why": [f"{int(r.errors)} in {service or '?'} within {w}"],
                    "template": str(p["template"]),
                    "example": None if pd.isna(p["example"]) else str(p["example"]),
                    "surge_ratio": None if math.isinf(ratio) else ratio,
                },
            }
        )
    return conditions(rows)


def regression(store: StoreReader, settings: AlertSettings, data_time: datetime) -> pd.DataFrame:
    """Issues with status ``regressed`` (:func:`faultcast.analytics.issues`: resolved, then
    seen again): one alert per service the issue was seen in; none while the store has no
    issues table."""
    found = analytics.issues(store, status="regressed", limit=None)
    rule = settings.regression
    rows = []
    for r in found.to_dict("records"):
        services = [s.strip() for s in str(r.get("service") or "").split(",") if s.strip()]
        since = r.get("status_changed_at")
        recovery = r.get("recovery")
        for service in services or [""]:
            details: dict[str, Any] = {
                "what": "an issue marked resolved that recurs",
                "where": service,
                "how_sure": f"{int(r['count'])} events in all; seen again "
                f"{_iso(since)}, last at {_iso(r.get('last_seen'))}",
                "since": _iso(since),
                "why": [f"issue {r['id']}: {r['title']}"],
                "issue": str(r["id"]),
                "error_type": r.get("error_type"),
                "template": r.get("template"),
            }
            if isinstance(recovery, str) and recovery:
                share = r.get("recovery_success")
                rate = "" if share is None or pd.isna(share) else f", succeeded {share:.0%}"
                details["recovery"] = f"{recovery} (what worked for this issue before{rate})"
            rows.append(
                {
                    "rule": "regression",
                    "unit": service,
                    "pattern": str(r["id"]),
                    "severity": rule.severity,
                    "summary": f"issue {r['id']} regressed in {service or 'an unnamed service'}:"
                    f" {r['title']} (resolved, then seen again at {_iso(since)})",
                    "value": float(r["count"]),
                    "threshold": 0.0,
                    "details": details,
                }
            )
    return conditions(rows)


def quarantine_spike(store: StoreReader, settings: AlertSettings, now: datetime) -> pd.DataFrame:
    """Lines quarantined in the window (by ingest time) far above the usual rate, with a floor."""
    rule = settings.quarantine_spike
    activity = analytics.quarantine_activity(
        store,
        until=now,
        window=timedelta(seconds=rule.window),
        baseline_windows=rule.baseline_windows,
    )
    if activity.empty:
        return conditions([])
    a = activity.iloc[0]
    recent, baseline = int(a["recent_count"]), float(a["baseline_per_window"])
    bar = rule.factor * baseline + 3 * math.sqrt(baseline) + 1
    if recent < rule.min_count or recent < bar:
        return conditions([])
    reasons = [f"{reason}: {count}" for reason, count in json.loads(str(a["top_reasons"]))]
    w = _duration(rule.window)
    row = {
        "rule": "quarantine_spike",
        "unit": "",
        "pattern": "",
        "severity": rule.severity,
        "summary": f"{recent} input lines quarantined in the last {w} ({baseline:.1f} per {w} "
        "usually): input is being lost to bad formats",
        "value": float(recent),
        "threshold": bar,
        "details": {
            "what": "a spike of quarantined input",
            "where": "ingest",
            "how_sure": f"{recent} in the last {w} against {baseline:.2f} per {w} usually (the "
            f"bar: {rule.factor:g}x + 3 sigma + 1, at least {rule.min_count})",
            "since": _iso(a["window_start"]),
            "why": reasons,
        },
    }
    return conditions([row])


def scorecard_breach(
    store: StoreReader, settings: AlertSettings, data_time: datetime
) -> pd.DataFrame:
    """Criteria of the seed's scorecard failing over the last window of data."""
    rule = settings.scorecard_breach
    card = analytics.scorecard(
        store, since=data_time - timedelta(seconds=rule.window), until=data_time + _TINY
    )
    failed = card[card["passed"].eq(False).fillna(False).to_numpy(dtype=bool)]
    rows = []
    w = _duration(rule.window)
    for r in failed.itertuples(index=False):
        rows.append(
            {
                "rule": "scorecard_breach",
                "unit": "",
                "pattern": str(r.criterion),
                "severity": rule.severity,
                "summary": f"success criterion not met over the last {w}: {r.description} is "
                f"{r.value:.4g} (target {r.comparison} {r.target:g})",
                "value": float(r.value),
                "threshold": float(r.target),
                "details": {
                    "what": f"the success criterion {r.criterion} fails",
                    "where": "all services",
                    "how_sure": f"{r.value:.4g} against the target {r.comparison} "
                    f"{r.target:g}: {r.evidence}",
                    "since": _iso(data_time - timedelta(seconds=rule.window)),
                    "why": [str(r.evidence)],
                },
            }
        )
    return conditions(rows)
