"""The alerts' lifecycle: evaluate the rules, move each alert pending -> firing -> resolved,
notify, and keep it all in the store (tables ``alerts``, ``alert_history``,
``alert_silences``; read through :func:`faultcast.analytics.alerts`)."""

from __future__ import annotations

import getpass
import json
import math
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from faultcast import analytics
from faultcast.alerts import _rules
from faultcast.alerts._message import build
from faultcast.alerts._notify import Message, Notifier
from faultcast.alerts._settings import RULES, AlertSettings
from faultcast.ingest._log import get_logger
from faultcast.ingest.durations import parse_duration, resolve_time
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.store import Store

log = get_logger(__name__)

KEY = ["rule", "unit", "pattern"]
_FIRING_KINDS = ("notify:firing", "notify:renotify")


def _now(now: datetime | str | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    moment: datetime | None = resolve_time(now, datetime.now(UTC), "now")
    assert moment is not None
    return moment


def _clean(value: Any) -> Any:
    """A value of a frame as plain JSON-ready Python (NaN/NaT -> None, times -> datetime)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _record(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: _clean(v) for k, v in row.items()}
    details = out.get("details")
    if isinstance(details, str):
        out["details"] = json.loads(details)
    elif details is None:
        out["details"] = {}
    return out


def public(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert as JSON-ready data (times as ISO 8601 text)."""
    keep = (
        "id", "rule", "unit", "pattern", "state", "severity", "summary", "value", "threshold",
        "active_since", "fired_at", "resolved_at", "acknowledged_at", "acknowledged_by",
        "silenced", "details",
    )  # fmt: skip
    out = {}
    for k in keep:
        v = alert.get(k)
        out[k] = v.isoformat() if isinstance(v, datetime) else v
    return out


@dataclass
class Evaluation:
    """What one evaluation did.

    ``firing``: alerts that started firing or were notified as firing (first time, after a
    failed attempt, or a reminder) in this run; ``resolved``: alerts resolved or whose
    resolution was notified in this run; each with ``notified`` (the targets it reached,
    masked) and ``failed`` (targets that refused, retried next time).  ``open`` holds the
    pending and firing alerts after the run; ``risk`` the production model's risk per unit."""

    now: datetime
    data_time: datetime | None
    firing: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    open: pd.DataFrame = field(default_factory=pd.DataFrame)
    risk: pd.DataFrame = field(default_factory=pd.DataFrame)
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"firing": [...], "resolved": [...]}`` (what ``alerts check --json`` prints)."""
        return {"firing": self.firing, "resolved": self.resolved}


# ----------------------------------------------------------------------------- evaluation
class _Attached:
    """The store attached once for all the rules' reads (an analytics source over one open
    read connection: attaching a file for each of a dozen reads costs more than the reads)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def exists(self) -> bool:
        return True

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        yield self._con


def _risk(store: Store, settings: AlertSettings, errors: dict[str, str]) -> pd.DataFrame | None:
    """The production model's risk per unit (None when it cannot be read)."""
    from faultcast.models.learn import current_risk

    if not settings.unit_at_risk.enabled:
        return pd.DataFrame()
    try:
        return current_risk(store)
    except (FaultcastError, ValueError, KeyError, duckdb.Error) as e:
        log.warning("alerts.rule_failed", rule="unit_at_risk", error=str(e))
        errors["unit_at_risk"] = str(e)
        return None


def _conditions(
    source: Any,
    settings: AlertSettings,
    now: datetime,
    data_time: datetime | None,
    risk: pd.DataFrame | None,
    errors: dict[str, str],
) -> tuple[pd.DataFrame, set[str]]:
    """The conditions of every enabled rule and the rules evaluated (not those that failed)."""
    frames: list[pd.DataFrame] = []
    evaluated: set[str] = set()
    for name in RULES:
        if not settings.rule(name).enabled:
            evaluated.add(name)  # a rule switched off: its open alerts resolve
            continue
        try:
            if name == "unit_at_risk":
                if risk is None:
                    continue
                frame = (
                    _rules.unit_at_risk(risk, settings, data_time)
                    if data_time is not None
                    else _rules.conditions([])
                )
            elif name == "quarantine_spike":
                frame = _rules.quarantine_spike(source, settings, now)
            elif data_time is None:
                frame = _rules.conditions([])
            else:
                frame = getattr(_rules, name)(source, settings, data_time)
        except (FaultcastError, ValueError, KeyError, duckdb.Error) as e:
            # Its open alerts stay as they are: an unreadable rule resolves nothing.
            log.warning("alerts.rule_failed", rule=name, error=str(e))
            errors[name] = str(e)
            continue
        frames.append(frame)
        evaluated.add(name)
    found = [f for f in frames if not f.empty]
    conds = pd.concat(found, ignore_index=True) if found else _rules.conditions([])
    return conds.drop_duplicates(KEY), evaluated


def _alert_id() -> str:
    """A new alert's id: short, to type in ``faultcast alerts ack ID``."""
    return uuid.uuid4().hex[:12]


def evaluate(
    store: Store,
    *,
    now: datetime | str | None = None,
    settings: AlertSettings | None = None,
    notifiers: Sequence[Notifier] = (),
) -> Evaluation:
    """Evaluate every rule once, move the alerts along their lifecycle and notify.

    ``now`` is the evaluation's time (default: the wall clock; any time for tests and
    replays): ``for`` durations, renotify intervals, silences and acknowledgements are
    measured on it.  The rules read the events up to min(now, the latest event) (see
    :mod:`faultcast.alerts._rules`).  A second evaluation with nothing new sends nothing.
    """
    settings = settings or AlertSettings()
    moment = _now(now)
    errors: dict[str, str] = {}
    risk = _risk(store, settings, errors)
    with store.reading() as con:
        source = _Attached(con)
        status = analytics.store_status(source)
        latest = status["last_event"].iloc[0]
        data_time = None if pd.isna(latest) else min(moment, latest.to_pydatetime())
        conds, evaluated = _conditions(source, settings, moment, data_time, risk, errors)
        open_ = analytics.alerts(source, state=["pending", "firing"], at=moment)
    changed = _transitions(store, conds, open_, evaluated, settings, moment)
    result = Evaluation(
        moment, data_time, risk=pd.DataFrame() if risk is None else risk, errors=errors
    )
    sent = _notify(store, settings, moment, data_time, notifiers)
    firing_ids = {a["id"] for a in changed["firing"]}
    resolved_ids = {a["id"] for a in changed["resolved"]}
    by_id: dict[str, dict[str, Any]] = {a["id"]: a for a in changed["firing"] + changed["resolved"]}
    for alert_id, (alert, kind, target, error) in _flatten(sent):
        by_id.setdefault(alert_id, alert)
        (resolved_ids if kind == "resolved" else firing_ids).add(alert_id)
        entry = by_id[alert_id]
        entry.setdefault("notified", [])
        entry.setdefault("failed", [])
        (entry["failed"] if error else entry["notified"]).append(target)
    current = analytics.alerts(
        store, since=moment - timedelta(seconds=settings.resolved_retry), at=moment
    )
    now_rows = {r["id"]: _record(r) for r in current.to_dict("records")}
    for ids, out in ((firing_ids, result.firing), (resolved_ids, result.resolved)):
        for alert_id in sorted(ids):
            row = now_rows.get(alert_id, by_id[alert_id])
            item = public(row)
            item["notified"] = by_id[alert_id].get("notified", [])
            item["failed"] = by_id[alert_id].get("failed", [])
            out.append(item)
    result.open = current[current["state"].isin(["pending", "firing"])].reset_index(drop=True)
    return result


def _flatten(
    sent: list[tuple[dict[str, Any], str, str, str | None]],
) -> list[tuple[str, tuple[dict[str, Any], str, str, str | None]]]:
    return [(a["id"], (a, kind, target, error)) for a, kind, target, error in sent]


def _transitions(
    store: Store,
    conds: pd.DataFrame,
    open_: pd.DataFrame,
    evaluated: set[str],
    settings: AlertSettings,
    now: datetime,
) -> dict[str, list[dict[str, Any]]]:
    """Store the new state of every alert; the alerts that started firing or resolved."""
    old = open_[[*KEY, "id", "state", "active_since", "fired_at", "details"]].rename(
        columns={"details": "old_details"}
    )
    m = conds.merge(old, on=KEY, how="outer", indicator=True)
    stamp = pd.Timestamp(now)
    new_rows, updates, gone, history = [], [], [], []
    firing, resolved = [], []
    for r in m.to_dict("records"):
        where = r.pop("_merge")
        rule = settings.rule(r["rule"]) if r["rule"] in RULES else None
        wait = rule.for_ if rule is not None else 0.0
        if where == "left_only":
            state = "firing" if wait <= 0 else "pending"
            r["id"] = _alert_id()
            r["state"], r["active_since"] = state, stamp
            r["fired_at"] = stamp if state == "firing" else pd.NaT
            new_rows.append(r)
            history.append((r["id"], "pending"))
            if state == "firing":
                history.append((r["id"], "firing"))
                firing.append(r)
        elif where == "both":
            details = dict(r["details"])
            previous = json.loads(r["old_details"]) if isinstance(r["old_details"], str) else {}
            if "recovery" in previous and "recovery" not in details:
                details["recovery"] = previous["recovery"]
            r["details"] = details
            if (
                r["state"] == "pending"
                and (stamp - pd.Timestamp(r["active_since"])).total_seconds() >= wait
            ):
                r["state"], r["fired_at"] = "firing", stamp
                history.append((r["id"], "firing"))
                firing.append(r)
            updates.append(r)
        elif r["rule"] in evaluated:
            gone.append(r["id"])
            history.append((r["id"], "resolved"))
            if r["state"] == "firing":
                resolved.append(r | {"state": "resolved", "resolved_at": stamp})
    if not (new_rows or updates or gone):
        return {"firing": [], "resolved": []}
    columns = ["id", *KEY, "state", "severity", "summary", "details", "value", "threshold",
               "active_since", "fired_at"]  # fmt: skip
    with store.writing() as con:
        for name, rows in (("fc_alert_new", new_rows), ("fc_alert_upd", updates)):
            frame = pd.DataFrame(rows, columns=columns)
            frame["details"] = [json.dumps(d, default=str) for d in frame["details"]]
            for c in ("active_since", "fired_at"):
                frame[c] = pd.to_datetime(frame[c], utc=True)
            con.register(name, frame)
        con.execute(
            """INSERT INTO store.alerts (id, rule, unit, pattern, state, severity, summary,
                   details, value, threshold, active_since, fired_at, evaluated_at, notifications)
               SELECT id, rule, unit, pattern, state, severity, summary, details::JSON, value,
                   threshold, active_since, fired_at, $now, 0 FROM fc_alert_new""",
            {"now": now},
        )
        con.execute(
            """UPDATE store.alerts AS a SET state = u.state, severity = u.severity,
                   summary = u.summary, details = u.details::JSON, value = u.value,
                   threshold = u.threshold, fired_at = coalesce(a.fired_at, u.fired_at),
                   evaluated_at = $now
               FROM fc_alert_upd u WHERE a.id = u.id""",
            {"now": now},
        )
        if gone:
            con.execute(
                "UPDATE store.alerts SET state = 'resolved', resolved_at = $now, "
                "evaluated_at = $now WHERE list_contains($ids, id)",
                {"now": now, "ids": gone},
            )
        if history:
            con.executemany(
                "INSERT INTO store.alert_history (alert_id, ts, event) VALUES (?, ?, ?)",
                [[alert_id, now, event] for alert_id, event in history],
            )
        con.unregister("fc_alert_new")
        con.unregister("fc_alert_upd")
    return {
        "firing": [_record(r) for r in firing],
        "resolved": [_record(r) for r in resolved],
    }


# ----------------------------------------------------------------------------- notifying
def _recovery(store: Store, alerts: list[dict[str, Any]], data_time: datetime | None) -> None:
    """Add the recommended recovery to the details of ``alerts`` that lack one (in place)."""
    from faultcast.models.recommend import RecoveryRecommender

    wanted = [a for a in alerts if "recovery" not in a["details"] and a["unit"]]
    if not wanted:
        return
    try:
        recommender = RecoveryRecommender.from_store(store, seed=0)
    except (FaultcastError, ValueError) as e:
        log.info("alerts.no_recommender", reason=str(e))
        return
    if recommender.n_outcomes_ == 0:
        return
    for a in wanted:
        d = a["details"]
        error: dict[str, Any] = {"service": a["unit"]}
        if d.get("template"):
            error["template"], error["message"] = d["template"], d.get("example") or d["template"]
        if d.get("error_type"):
            error["error_type"] = d["error_type"]
        if a["rule"] == "unit_at_risk" and data_time is not None:
            top = analytics.top_patterns(
                store,
                since=data_time - timedelta(seconds=float(d.get("horizon_s") or 900)),
                until=data_time + timedelta(microseconds=1),
                service=a["unit"],
                level=["warning", "error", "critical"],
                limit=1,
            )
            if not top.empty:
                error["template"] = str(top["template"].iloc[0])
                example = top["example"].iloc[0]
                error["message"] = str(example) if not pd.isna(example) else error["template"]
        try:
            advice = recommender.recommend(error)
        except (FaultcastError, ValueError):
            continue
        how = "safe to automate" if advice.automate else "ask a person first"
        d["recovery"] = (
            f"{advice.action} (expected success {advice.expected_success:.0%} from "
            f"{advice.trials} recorded outcomes; {how})"
        )


def _notify(
    store: Store,
    settings: AlertSettings,
    now: datetime,
    data_time: datetime | None,
    notifiers: Sequence[Notifier],
) -> list[tuple[dict[str, Any], str, str, str | None]]:
    """Send what each notifier is owed; record every attempt. (alert, kind, target, error)."""
    if not notifiers:
        return []
    with store.reading() as con:
        source = _Attached(con)
        since = now - timedelta(seconds=settings.resolved_retry)
        recent = analytics.alerts(source, since=since, at=now)
        owed = recent["state"] == "firing"
        owed |= (recent["state"] == "resolved") & recent["notified_at"].notna()
        ids = recent.loc[owed, "id"].tolist()
        history = analytics.alert_history(source, alert_id=ids) if ids else None
    if history is None:
        return []
    firing = [_record(r) for r in recent[recent["state"] == "firing"].to_dict("records")]
    resolved = [
        _record(r)
        for r in recent[(recent["state"] == "resolved") & recent["notified_at"].notna()].to_dict(
            "records"
        )
    ]
    history = history[history["ok"].fillna(False).astype(bool)]
    plans: list[tuple[Notifier, list[tuple[str, dict[str, Any], bool, int]]]] = []
    needs_recovery: dict[str, dict[str, Any]] = {}
    for n in notifiers:
        mine = history[history["target_id"] == n.target_id]
        fired = (
            mine[mine["event"].isin(_FIRING_KINDS)].groupby("alert_id")["ts"].agg(["max", "count"])
        )
        done = set(mine.loc[mine["event"] == "notify:resolved", "alert_id"])
        plan: list[tuple[str, dict[str, Any], bool, int]] = []
        for a in firing:
            if a["silenced"]:
                continue
            if a["id"] not in fired.index:
                plan.append(("firing", a, True, 0))
            elif n.refresh:
                plan.append(("firing", a, False, 0))  # keep Alertmanager's copy alive
            elif a["acknowledged_at"] is None:
                last = fired.loc[a["id"], "max"]
                if (pd.Timestamp(now) - pd.Timestamp(last)).total_seconds() >= settings.renotify:
                    plan.append(("renotify", a, True, int(fired.loc[a["id"], "count"])))
        for a in resolved:
            if a["id"] in fired.index and a["id"] not in done:
                plan.append(("resolved", a, True, 0))
        for kind, a, _, _ in plan:
            if kind != "resolved":
                needs_recovery[a["id"]] = a
        plans.append((n, plan))
    _recovery(store, list(needs_recovery.values()), data_time)
    attempts: list[tuple[dict[str, Any], str, str, str | None]] = []
    rows: list[list[Any]] = []
    for n, planned in plans:
        messages: list[tuple[Message, bool]] = [
            (build(kind, a, now, settings.alertmanager_ttl, repeat), record)
            for kind, a, record, repeat in planned
        ]
        if not messages:
            continue
        results = n.send([m for m, _ in messages])
        for (m, record), error in zip(messages, results, strict=True):
            if error is not None:
                log.warning(
                    "alerts.notify_failed", target=n.target, alert=m.alert["id"], error=error
                )
            if not record and error is None:
                continue
            if record:
                attempts.append((m.alert, m.kind, n.target, error))
                detail = json.dumps({"error": error} if error else {})
                rows.append(
                    [
                        m.alert["id"],
                        now,
                        f"notify:{m.kind}",
                        n.target,
                        n.target_id,
                        error is None,
                        detail,
                    ]
                )
    if rows or needs_recovery:
        delivered = sorted({r[0] for r in rows if r[5]})
        with store.writing() as con:
            if rows:
                con.executemany(
                    "INSERT INTO store.alert_history VALUES (?, ?, ?, ?, ?, ?, ?::JSON)", rows
                )
            if delivered:
                counts = pd.Series([r[0] for r in rows if r[5]]).value_counts()
                con.executemany(
                    "UPDATE store.alerts SET notified_at = ?, "
                    "notifications = coalesce(notifications, 0) + ? WHERE id = ?",
                    [[now, int(c), alert_id] for alert_id, c in counts.items()],
                )
            recovered = [
                [json.dumps(a["details"], default=str), a["id"]]
                for a in needs_recovery.values()
                if "recovery" in a["details"]
            ]
            if recovered:
                con.executemany("UPDATE store.alerts SET details = ?::JSON WHERE id = ?", recovered)
    return attempts


# ----------------------------------------------------------------------------- people
def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def acknowledge(
    store: Store, alert_id: str, *, by: str | None = None, now: datetime | str | None = None
) -> dict[str, Any]:
    """Acknowledge an open alert: no more reminders (its resolution is still sent)."""
    moment = _now(now)
    found = analytics.alerts(store, state=["pending", "firing"], at=moment)
    match = found[found["id"] == alert_id]
    if match.empty:
        raise ValueError(
            f"no open alert has the id {alert_id!r} (faultcast alerts --state firing lists them)"
        )
    who = _who(by)
    with store.writing() as con:
        con.execute(
            "UPDATE store.alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?",
            [moment, who, alert_id],
        )
        con.execute(
            "INSERT INTO store.alert_history (alert_id, ts, event, detail) VALUES (?, ?, ?, ?::JSON)",
            [alert_id, moment, "acknowledged", json.dumps({"by": who})],
        )
    row = _record(match.iloc[0].to_dict())
    return public(row | {"acknowledged_at": moment, "acknowledged_by": who})


def silence(
    store: Store,
    target: str,
    duration: str | float | timedelta,
    *,
    comment: str | None = None,
    by: str | None = None,
    now: datetime | str | None = None,
) -> dict[str, Any]:
    """Silence a rule (``target`` one of :data:`RULES`) or a unit (anything else) for
    ``duration``: its alerts still fire and are listed, but nobody is notified until the
    silence ends (then those still firing are notified)."""
    if not target:
        raise ValueError("say what to silence: a unit (e.g. checkout) or a rule")
    seconds = parse_duration(duration, "--for")
    moment = _now(now)
    rule, unit = (target, None) if target in RULES else (None, target)
    ends = moment + timedelta(seconds=seconds)
    who = _who(by)
    silence_id = uuid.uuid4().hex[:10]
    with store.writing() as con:
        con.execute(
            "INSERT INTO store.alert_silences VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [silence_id, rule, unit, moment, ends, comment, who, moment],
        )
    return {
        "id": silence_id,
        "rule": rule,
        "unit": unit,
        "starts_at": moment.isoformat(),
        "ends_at": ends.isoformat(),
        "comment": comment,
        "created_by": who,
    }


def expire_silence(store: Store, silence_id: str, *, now: datetime | str | None = None) -> bool:
    """End a silence now; False when no silence in force has that id."""
    moment = _now(now)
    active = analytics.alert_silences(store, active=True, at=moment)
    if silence_id not in set(active["id"]):
        return False
    with store.writing() as con:
        con.execute(
            "UPDATE store.alert_silences SET ends_at = ? WHERE id = ?", [moment, silence_id]
        )
    return True
