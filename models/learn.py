"""Online learning over a store: feed the ticks not yet learned through the unit model.

:func:`learn` is resumable and idempotent.  The whole learning state (model, threshold, rows
awaiting their labels, drift detector, the next tick to learn) is one registry version, saved in
the same transaction as the predictions it made; a crash leaves the previous state and no
predictions of the lost run, and running again on an unchanged store learns nothing.  Only
complete ticks (older than the latest event's tick) are learned; events that arrive later for a
tick already learned are not replayed.

Examples
--------
>>> from faultcast.ingest import Store
>>> learn(Store(":memory:"))["ticks"]
0
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from faultcast.ingest import Store
from faultcast.ingest._log import get_logger
from faultcast.ingest.errors import StorageError
from faultcast.ingest.store import StoreReader
from faultcast.models.backtest import UnitReplay, onset_index, query_spec
from faultcast.models.estimators import RareTemplateDetector, SessionClassifier, ThresholdSelector
from faultcast.models.features import (
    RAMP_FEATURES,
    SIGNALS,
    UnitFeatureSpec,
    describe_feature,
    event_time_range,
    failure_onsets,
    is_count_feature,
    session_counts,
    unit_features,
)
from faultcast.models.registry import ModelNotFoundError, Registry, UntrustedModelError
from river import drift

log = get_logger(__name__)

#: The registry name of the unit-mode failure model's learning state.
UNIT_MODEL: Final[str] = "unit_failure"
#: Registry versions kept per model by :func:`learn` (older archived blobs are pruned).
KEEP_VERSIONS: Final[int] = 20


@dataclass
class LearnState:
    """Everything online learning needs to resume: pickled as one registry version."""

    spec: UnitFeatureSpec
    replay: UnitReplay
    next_tick: pd.Timestamp | None = None
    drift_detector: Any = field(default_factory=lambda: drift.ADWIN(delta=0.002))
    errors_seen: int = 0


def checkpoint(store: Store) -> None:
    """Fold the WAL into the .duckdb file, so the file alone holds what was just committed (a
    copy of it without its .wal keeps the registry).  What was committed stays committed when
    this fails (another process holding the file, say): a warning, not an error."""
    try:
        store.checkpoint()
    except StorageError as e:
        log.warning("store.checkpoint_failed", path=store.path, error=str(e))


def unit_predictions(
    spec: UnitFeatureSpec,
    scored: pd.DataFrame,
    anomaly: np.ndarray,
    model_name: str,
    model_version: int,
    explanations: list[str | None] | list[str],
) -> pd.DataFrame:
    """Rows of table ``predictions`` (unit mode) for the ticks ``scored`` by a replay."""
    return pd.DataFrame(
        {
            "mode": "unit",
            "unit_column": spec.unit,
            "unit": scored["unit"].astype(str),
            "tick": scored["tick"],
            "made_at": scored["made_at"],
            "horizon_s": float(spec.horizon_s),
            "probability": scored["probability"].astype(float),
            "threshold": scored["threshold"].astype(float),
            "alert": scored["alert"].astype(bool),
            "anomaly_score": anomaly,
            "model_name": model_name,
            "model_version": np.int64(model_version),
            "explanation": explanations,
        }
    )


def upsert_predictions(con: Any, preds: pd.DataFrame) -> None:
    """Store ``preds`` in the caller's write transaction ``con``, replacing the stored rows of
    the same (mode, unit column, unit, tick, horizon): learning again from scratch (after the
    registry was lost) stores each prediction once."""
    con.register("new_predictions", preds)
    try:
        con.execute(
            """DELETE FROM store.predictions AS p USING new_predictions AS n
               WHERE p.mode IS NOT DISTINCT FROM n.mode
                 AND p.unit_column IS NOT DISTINCT FROM n.unit_column
                 AND p.unit IS NOT DISTINCT FROM n.unit
                 AND p.tick IS NOT DISTINCT FROM n.tick
                 AND p.horizon_s IS NOT DISTINCT FROM n.horizon_s"""
        )
        con.execute("INSERT INTO store.predictions SELECT * FROM new_predictions")
    finally:
        con.unregister("new_predictions")


def _words(name: str, row: pd.Series, spec: UnitFeatureSpec) -> str:
    """A feature in words; surges as "N x their hourly rate (a in the last 5 min, b expected)"."""
    if name.endswith("_surge") and name[: -len("_surge")] in SIGNALS:
        signal = name[: -len("_surge")]
        short, long = spec.windows[1], spec.windows[-1]
        seen = float(row[f"{signal}_{short}"])
        expected = max(float(row[f"{signal}_{long}"]) - seen, 0.0) * short / (long - short)
        label = SIGNALS[signal][1] if signal in SIGNALS else signal
        minutes = short * spec.tick_s / 60
        if expected > 0:
            return (
                f"{label} {seen / expected:.1f}x their hourly rate over the last {minutes:g} min "
                f"({seen:.0f} vs {expected:.1f} expected)"
            )
        return f"{seen:.0f} {label} in the last {minutes:g} min, none in the hour before"
    return describe_feature(name, float(row[name]), spec)


def _explain(state: LearnState, row: pd.Series, top: int = 3) -> list[dict[str, Any]]:
    model = state.replay.model
    names = state.spec.feature_names()
    x = {n: float(row[n]) for n in names}
    explain = getattr(model, "explain_one", None)
    if explain is None:
        return []
    out: list[dict[str, Any]] = []
    ranked = explain(x)
    for k, (name, contribution) in enumerate(ranked):
        if contribution <= 0 or len(out) == top:
            break
        if (name.endswith("_surge") or name in RAMP_FEATURES) and x[name] <= 0:
            continue  # a rate at or below its usual level is no reason in words
        if is_count_feature(name) and x[name] <= 0:
            continue  # nor is a count of nothing ("0 failure events of services it calls")
        if name == "minutes_since_failure":
            following = max((c for n, c in ranked[k + 1 :] if n != name), default=0.0)
            if contribution < 2 * following:
                continue  # the time since a failure is a reason only when it truly dominates
        out.append(
            {
                "feature": name,
                "value": round(x[name], 3),
                "contribution": round(contribution, 3),
                "text": _words(name, row, state.spec),
            }
        )
    return out


def _gate(replay: UnitReplay) -> float | None:
    gate = float(getattr(replay, "gate", -np.inf))
    return None if not np.isfinite(gate) else gate


def learn(
    store: Store,
    spec: UnitFeatureSpec | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Learn the complete ticks not learned yet; store their predictions; save the state.

    ``spec`` applies when no state exists yet (the first run); later runs continue with the
    stored state's spec.  Returns a summary: ticks and rows learned, predictions stored, the
    model version written, drift events.
    """
    t0 = time.perf_counter()
    registry = Registry(store)
    try:
        loaded = registry.load(UNIT_MODEL)
        # A copy: the cached version must stay as stored if this run fails half way.
        state: LearnState = copy.deepcopy(loaded.model)
        previous_version: int | None = loaded.version
    except UntrustedModelError:
        raise  # never start over on top of a state the user can re-sign
    except ModelNotFoundError:
        state = LearnState(spec or UnitFeatureSpec(), UnitReplay(spec or UnitFeatureSpec()))
        previous_version = None
    spec = state.spec
    tick = pd.Timedelta(seconds=spec.tick_s)
    empty = {
        "ticks": 0,
        "rows": 0,
        "predictions": 0,
        "model_version": previous_version,
        "drift_events": 0,
    }
    if not store.exists():
        return empty
    with store.reading() as con:
        rng = event_time_range(con, spec.unit)
        if rng is None:
            return empty
        hi = rng[1].floor(tick)
        lo = state.next_tick if state.next_tick is not None else rng[0].floor(tick)
        if lo >= hi:
            return empty
        feats = unit_features(con, query_spec(spec, state.replay), lo, hi)
        onsets = onset_index(failure_onsets(con, spec))
    t_features = time.perf_counter() - t0
    learned_before = state.replay.learned
    drifts: list[dict[str, Any]] = []
    res = state.replay.run(feats, onsets, progress)
    # Drift: ADWIN over the absolute error of predictions whose labels are now known, in order.
    known = res[(res["made_at"] + pd.Timedelta(seconds=spec.horizon_s) <= hi) & ~res["failing"]]
    detector = state.drift_detector
    for made_at, p, y in zip(known["made_at"], known["probability"], known["label"], strict=True):
        detector.update(abs(float(y) - float(p)))
        state.errors_seen += 1
        if detector.drift_detected:
            drifts.append({"at": made_at, "mean_error": round(float(detector.estimation), 4)})
    state.next_tick = hi
    anomaly = feats["max_surge"].to_numpy(dtype=float)
    last_tick = res["tick"].max()
    explanations: list[str | None] = [None] * len(res)
    for idx in np.flatnonzero((res["tick"] == last_tick).to_numpy()):
        explanations[idx] = json.dumps(_explain(state, feats.iloc[idx]))
    preds = unit_predictions(spec, res, anomaly, UNIT_MODEL, 0, explanations)
    with store.writing() as con:
        version = Registry(store).save(
            UNIT_MODEL,
            state,
            metrics={
                "rows_learned": state.replay.learned,
                "threshold": state.replay.threshold,
                "alert_k_of_m": list(getattr(state.replay, "persistence", (1, 1))),
                "status": state.replay.learning_status(),
            },
            params={
                "unit": spec.unit,
                "tick_s": spec.tick_s,
                "horizon_s": spec.horizon_s,
                "model": repr(state.replay.model),
            },
            con=con,
        )
        preds["model_version"] = version
        upsert_predictions(con, preds)
        for d in drifts:
            con.execute(
                "INSERT INTO store.drift_events VALUES (?, ?, ?, 'ADWIN', ?)",
                [
                    UNIT_MODEL,
                    version,
                    d["at"].to_pydatetime(),
                    json.dumps({"mean_error": d["mean_error"]}),
                ],
            )
        registry.prune(UNIT_MODEL, KEEP_VERSIONS, con)
    checkpoint(store)
    summary = {
        "ticks": int(res["tick"].nunique()),
        "rows": int(len(res)),
        "learned_rows": int(state.replay.learned - learned_before),
        "predictions": int(len(preds)),
        "from": lo.isoformat(),
        "to": hi.isoformat(),
        "model_version": version,
        "threshold": round(float(state.replay.threshold), 4),
        # the alert rule: k of a unit's last m ticks at or above the threshold
        "alert_k_of_m": list(getattr(state.replay, "persistence", (1, 1))),
        # alert only on ticks whose strongest surge is at least this (None: no gate)
        "alert_surge_gate": _gate(state.replay),
        "status": state.replay.learning_status(),
        "drift_events": len(drifts),
        "seconds": {"features": round(t_features, 3), "total": round(time.perf_counter() - t0, 3)},
    }
    log.debug("learn.done", **{k: v for k, v in summary.items() if k != "seconds"})
    return summary


#: The registry name of the session-mode model's learning state.
SESSION_MODEL: Final[str] = "session_anomaly"


@dataclass
class SessionLearnState:
    """The session model and how far it has learned (sessions that ended by ``ended_by``)."""

    session_column: str
    idle_s: float
    classifier: SessionClassifier = field(default_factory=SessionClassifier)
    detector: RareTemplateDetector = field(default_factory=RareTemplateDetector)
    selector: ThresholdSelector = field(
        default_factory=lambda: ThresholdSelector(window=5000, min_positives=5)
    )
    ended_by: pd.Timestamp | None = None
    sessions: int = 0
    positives: int = 0


def learn_sessions(
    store: Store,
    session_column: str = "session_key",
    idle: float = 300.0,
) -> dict[str, Any]:
    """Learn the sessions that ended since the last run; store a prediction for each.

    A session has ended when its last event is more than ``idle`` seconds older than the
    store's latest event (a late event of a session already learned is not replayed).  Each
    session is predicted first (P(anomalous) from the supervised :class:`SessionClassifier`,
    and the unsupervised :class:`RareTemplateDetector`'s score as ``anomaly_score``) and then
    learned with its label: whether it holds a failure event.  Predictions are stored with
    ``mode = 'session'``, ``unit`` the session key, ``tick`` its last event.  Resumable and
    idempotent like :func:`learn`.
    """
    t0 = time.perf_counter()
    registry = Registry(store)
    try:
        loaded = registry.load(SESSION_MODEL)
        state: SessionLearnState = copy.deepcopy(loaded.model)
        previous: int | None = loaded.version
    except UntrustedModelError:
        raise  # never start over on top of a state the user can re-sign
    except ModelNotFoundError:
        state = SessionLearnState(session_column, idle)
        previous = None
    empty = {"sessions": 0, "predictions": 0, "model_version": previous}
    if not store.exists():
        return empty
    with store.reading() as con:
        rng = event_time_range(con, state.session_column)
        if rng is None:
            return empty
        cutoff = rng[1] - pd.Timedelta(seconds=state.idle_s)
        if state.ended_by is not None and cutoff <= state.ended_by:
            return empty
        counts, facts = session_counts(con, state.session_column, state.ended_by, cutoff)
    if facts.empty:
        return empty
    values = counts.to_numpy(dtype=float)
    columns = list(counts.columns)
    labels = (facts["failures"] > 0).to_numpy(dtype=bool)
    probability = np.zeros(len(facts))
    threshold = np.zeros(len(facts))
    score = np.zeros(len(facts))
    thr = state.selector.threshold()
    for i, row in enumerate(values):
        x = {columns[j]: float(row[j]) for j in np.flatnonzero(row)}
        probability[i] = state.classifier.predict_proba_one(x).get(True, 0.0)
        score[i] = state.detector.score_one(x)
        threshold[i] = thr
        state.classifier.learn_one(x, bool(labels[i]))
        state.detector.learn_one(x)
        state.selector.update(probability[i], bool(labels[i]))
        if i % 100 == 99:
            thr = state.selector.threshold()
    state.ended_by = cutoff
    state.sessions += len(facts)
    state.positives += int(labels.sum())
    last = facts["last_ts"]
    preds = pd.DataFrame(
        {
            "mode": "session",
            "unit_column": state.session_column,
            "unit": facts.index.astype(str),
            "tick": last.to_numpy(),
            "made_at": last.to_numpy(),
            "horizon_s": 0.0,
            "probability": probability,
            "threshold": threshold,
            "alert": probability >= threshold,
            "anomaly_score": score,
            "model_name": SESSION_MODEL,
            "model_version": 0,
            "explanation": None,
        }
    )
    with store.writing() as con:
        version = registry.save(
            SESSION_MODEL,
            state,
            metrics={"sessions_learned": state.sessions, "positives": state.positives},
            params={"session_column": state.session_column, "idle_s": state.idle_s},
            con=con,
        )
        preds["model_version"] = version
        upsert_predictions(con, preds)
        registry.prune(SESSION_MODEL, KEEP_VERSIONS, con)
    checkpoint(store)
    summary = {
        "sessions": int(len(facts)),
        "predictions": int(len(preds)),
        "anomalous": int(labels.sum()),
        "flagged": int((probability >= threshold).sum()),
        "ended_by": cutoff.isoformat(),
        "model_version": version,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    log.debug("learn.sessions", **{k: v for k, v in summary.items() if k != "seconds"})
    return summary


def latest_predictions(store: StoreReader, unit_column: str | None = None) -> pd.DataFrame:
    """The newest prediction per unit (unit mode) of the production version, riskiest first:
    unit_column, unit, tick, made_at, horizon_s, probability, threshold, alert, anomaly_score,
    model_name, model_version, explanation (JSON text, for the last tick of a learn run),
    status (``ready`` or ``learning: k of N failures seen``)."""
    # Only the production version answers (models/serving.py), with its learning status.
    from faultcast.models.serving import production_predictions

    return production_predictions(store, unit_column)


def current_risk(store: StoreReader) -> pd.DataFrame:
    """The failure risk per unit as of the last learned tick, riskiest first, in the user's
    words: unit, risk, alert, threshold, anomaly_score, as_of, horizon_s, model_version,
    top_features (the reasons, as text; for the units of the last tick of a learn run), status
    (``ready`` or ``learning: k of N failures seen``: no alert until ready)."""
    raw = latest_predictions(store)
    return pd.DataFrame(
        {
            "unit": raw["unit"],
            "risk": raw["probability"],
            "alert": raw["alert"],
            "threshold": raw["threshold"],
            "anomaly_score": raw["anomaly_score"],
            "as_of": raw["made_at"],
            "horizon_s": raw["horizon_s"],
            "model_version": raw["model_version"].astype("Int64"),
            "status": raw["status"],
            "top_features": [
                [item["text"] for item in json.loads(e)] if isinstance(e, str) else []
                for e in raw["explanation"]
            ],
        }
    ).reset_index(drop=True)
