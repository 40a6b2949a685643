"""Batch retraining: rebuild the unit model from history, prove it on recent data, promote or keep.

:func:`retrain` splits the history chronologically: the most recent ``holdout`` is never trained
on, and training stops one horizon before it, since a row's label looks one horizon ahead.  It
builds two candidates:

- ``online_replay``: the online model replayed from scratch over the training rows, then run
  through the holdout predicting each row before its label is due (progressive validation);
- ``batch_hgb``: scikit-learn's ``HistGradientBoostingClassifier`` fitted on the training rows
  (fixed afterwards; the nightly retrain refreshes it), run through the holdout the same way.

Each is scored on the holdout; production is scored by the predictions it actually stored for
the same ticks (made before their labels were known).  The best candidate by PR-AUC is promoted
only when it beats production by ``margin``; everything (every candidate's metrics, the
decision and its reason) goes to the registry and to table ``retrain_runs``, in one transaction
at the end: a failing or interrupted retrain never touches production.  Retrains of one store
are serialised by a lock file beside it.

Examples
--------
>>> from faultcast.ingest import Store
>>> retrain(Store(":memory:"))["decision"]
'skipped'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from faultcast.ingest import Store
from faultcast.ingest._log import get_logger
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.store import StoreReader
from faultcast.models.backtest import UnitReplay, onset_index, query_spec
from faultcast.models.estimators import FailureRiskClassifier
from faultcast.models.features import (
    UnitFeatureSpec,
    event_time_range,
    failure_onsets,
    unit_features,
)
from faultcast.models.learn import UNIT_MODEL, LearnState, checkpoint
from faultcast.models.metrics import episode_metrics, pr_auc
from faultcast.models.registry import (
    ModelNotFoundError,
    Registry,
    UntrustedModelError,
    table_exists,
)
from river import base
from sklearn.ensemble import HistGradientBoostingClassifier

log = get_logger(__name__)

#: PR-AUC a candidate must gain over production to be promoted.
DEFAULT_MARGIN: Final[float] = 0.01

_LOCAL_LOCKS: dict[str, threading.Lock] = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


class RetrainBusyError(FaultcastError):  # type: ignore[misc,unused-ignore]
    """Another retrain of the same store is running and did not finish in time."""


class BatchClassifier(base.Classifier):
    """A fitted scikit-learn classifier behind River's interface (``learn_one`` learns nothing).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = BatchClassifier(LogisticRegression().fit(X, [False, False, True, True]), ["x"])
    >>> clf.predict_proba_one({"x": 3.0})[True] > 0.5
    True
    """

    #: It never changes online, so a replay scores whole frames at once.
    is_static = True

    def __init__(self, estimator: Any = None, feature_names: list[str] | None = None) -> None:
        self.estimator = estimator
        self.feature_names = feature_names

    @property
    def _multiclass(self) -> bool:
        return False

    def learn_one(self, x: dict[Any, Any], y: base.typing.ClfTarget) -> None:
        return None

    def predict_proba_matrix(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        if self.estimator is None:
            return np.zeros(len(X))
        order = [names.index(n) for n in (self.feature_names or names)]
        classes = list(self.estimator.classes_)
        if True not in classes:
            return np.zeros(len(X))
        return np.asarray(self.estimator.predict_proba(X[:, order])[:, classes.index(True)])

    def predict_proba_one(
        self, x: dict[Any, Any], **kwargs: Any
    ) -> dict[base.typing.ClfTarget, float]:
        names = self.feature_names or sorted(x)
        row = np.array([[float(x.get(n, 0.0)) for n in names]])
        p = float(self.predict_proba_matrix(row, names)[0])
        return {True: p, False: 1.0 - p}

    def predict_one(self, x: dict[Any, Any], **kwargs: Any) -> base.typing.ClfTarget | None:
        return self.predict_proba_one(x)[True] >= 0.5


@contextlib.contextmanager
def retrain_lock(store: Store, timeout: float = 600.0) -> Iterator[None]:
    """Serialise retrains of one store: a lock file beside it (a process-local lock in memory)."""
    if store.is_memory:
        with _LOCAL_LOCKS_GUARD:
            lock = _LOCAL_LOCKS.setdefault(f"memory:{id(store)}", threading.Lock())
        if not lock.acquire(timeout=timeout):
            raise RetrainBusyError("another retrain of this store is running")
        try:
            yield
        finally:
            lock.release()
        return
    path = Path(store.path + ".retrain.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with open(path, "a+") as f:
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RetrainBusyError(
                        f"another retrain of {store.path} held {path} for over {timeout:.0f} s"
                    ) from None
                time.sleep(0.2)
        try:
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _score(
    rows: pd.DataFrame, onsets: pd.DataFrame, spec: UnitFeatureSpec, since: pd.Timestamp
) -> dict[str, Any]:
    ok = ~rows["failing"].to_numpy(dtype=bool)
    metrics = episode_metrics(rows, onsets, spec.horizon_s, since=since)
    metrics["pr_auc"] = pr_auc(
        rows["label"].to_numpy(dtype=bool)[ok], rows["probability"].to_numpy()[ok]
    )
    metrics["rows"] = int(len(rows))
    return metrics


def _replay(
    spec: UnitFeatureSpec,
    model: base.Classifier,
    feats: pd.DataFrame,
    onsets_index: dict[Any, np.ndarray],
) -> tuple[UnitReplay, pd.DataFrame]:
    replay = UnitReplay(spec, model=model)
    return replay, replay.run(feats, onsets_index)


def retrain(
    store: Store,
    since: float = 30 * 86_400,
    holdout: float = 86_400,
    margin: float = DEFAULT_MARGIN,
    trigger: str = "manual",
    spec: UnitFeatureSpec | None = None,
    lock_timeout: float = 600.0,
) -> dict[str, Any]:
    """Retrain the unit model (see the module docstring); returns the run's record.

    Keys: ``promoted`` (bool), ``decision`` (``promoted``, ``kept`` or ``skipped``), ``reason``,
    ``candidates`` (name -> holdout metrics and registry version), ``production`` (its holdout
    metrics and version), ``split`` (the chronological boundaries) and ``seconds``.
    """
    t0 = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    with retrain_lock(store, timeout=lock_timeout):
        registry = Registry(store)
        production: Any = None
        try:
            production = registry.load(UNIT_MODEL)
            spec = production.model.spec
        except UntrustedModelError:
            raise  # a candidate must not be promoted over a production the user can re-sign
        except ModelNotFoundError:
            spec = spec or UnitFeatureSpec()
        assert spec is not None
        tick = pd.Timedelta(seconds=spec.tick_s)
        horizon = pd.Timedelta(seconds=spec.horizon_s)
        record: dict[str, Any] = {
            "run_id": run_id,
            "trigger": trigger,
            "promoted": False,
            "candidates": {},
        }
        if not store.exists():
            return {**record, "decision": "skipped", "reason": "the store is empty"}
        with store.reading() as con:
            rng = event_time_range(con, spec.unit)
            if rng is None:
                return {
                    **record,
                    "decision": "skipped",
                    "reason": "the store holds no events with a unit",
                }
            end = rng[1].floor(tick)
            start = max(rng[0].floor(tick), (end - pd.Timedelta(seconds=since)).floor(tick))
            holdout_from = (end - pd.Timedelta(seconds=holdout)).floor(tick)
            train_to = (
                holdout_from - horizon
            )  # a training row's label must not look into the holdout
            if train_to <= start + horizon:
                return {
                    **record,
                    "decision": "skipped",
                    "reason": f"too little history: need more than {holdout / 3600:g} h of holdout plus two horizons",
                }
            feats = unit_features(con, query_spec(spec, UnitReplay(spec)), start, end)
            onsets = failure_onsets(con, spec)
            stored = (
                con.execute(
                    """SELECT unit, made_at, probability, model_version FROM store.predictions
                   WHERE mode = 'unit' AND model_name = ? AND made_at >= ? AND made_at <= ?""",
                    [UNIT_MODEL, holdout_from.to_pydatetime(), end.to_pydatetime()],
                ).df()
                if table_exists(con, "predictions")
                else pd.DataFrame()
            )
        index = onset_index(onsets)
        names = spec.feature_names()
        made = feats["made_at"]
        train_mask = (made + horizon <= holdout_from).to_numpy() & (made <= train_to).to_numpy()
        hold_mask = (made >= holdout_from).to_numpy()
        split = {
            "train_from": start.isoformat(),
            "train_to": train_to.isoformat(),
            "holdout_from": holdout_from.isoformat(),
            "holdout_to": end.isoformat(),
            "train_rows": int(train_mask.sum()),
            "holdout_rows": int(hold_mask.sum()),
        }
        record["split"] = split
        candidates: dict[str, dict[str, Any]] = {}
        states: dict[str, LearnState] = {}
        # 1. The online model replayed from scratch, in time order, through train and holdout.
        online = FailureRiskClassifier(seed=0)
        replay, rows = _replay(spec, online, feats, index)
        candidates["online_replay"] = _score(rows[hold_mask], onsets, spec, holdout_from + horizon)
        states["online_replay"] = LearnState(spec, replay, next_tick=end)
        # 2. A batch model on the training rows only (rows already failing are not examples).
        train = feats[train_mask & ~feats["failing"].to_numpy(dtype=bool)]
        y_train = train["label"].to_numpy(dtype=bool)
        if y_train.any() and not y_train.all():
            hgb = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0)
            hgb.fit(train[names].to_numpy(dtype=float), y_train)
            batch = BatchClassifier(hgb, names)
            replay_b, rows_b = _replay(spec, batch, feats, index)
            candidates["batch_hgb"] = _score(
                rows_b[hold_mask], onsets, spec, holdout_from + horizon
            )
            candidates["batch_hgb"]["train_positives"] = int(y_train.sum())
            states["batch_hgb"] = LearnState(spec, replay_b, next_tick=end)
        # 3. Production, by what it actually predicted for the holdout ticks.
        prod_metrics: dict[str, Any] | None = None
        if production is not None and not stored.empty:
            hold = rows[hold_mask][["unit", "made_at", "failing", "label"]]
            merged = hold.merge(stored, on=["unit", "made_at"], how="inner")
            if len(merged):
                prod_metrics = {
                    "pr_auc": pr_auc(
                        merged["label"].to_numpy(dtype=bool)[
                            ~merged["failing"].to_numpy(dtype=bool)
                        ],
                        merged["probability"].to_numpy()[~merged["failing"].to_numpy(dtype=bool)],
                    ),
                    "rows": int(len(merged)),
                    "coverage": round(len(merged) / max(int(hold_mask.sum()), 1), 4),
                }
        record["production"] = {
            "version": production.version if production is not None else None,
            **(prod_metrics or {}),
        }
        # Decision.
        scored = {k: v for k, v in candidates.items() if v.get("pr_auc") is not None}
        best = max(scored, key=lambda k: scored[k]["pr_auc"]) if scored else None
        prod_auc = prod_metrics.get("pr_auc") if prod_metrics else None
        if best is None:
            decision, reason = "kept", "no candidate could be scored: the holdout holds no failure"
        elif production is None:
            decision, reason = (
                "promoted",
                f"no production model yet; {best} scored PR-AUC {scored[best]['pr_auc']:.4f}",
            )
        elif prod_auc is None:
            decision, reason = (
                "kept",
                "production has no stored predictions for the holdout to compare with: run `faultcast learn` first",
            )
        elif scored[best]["pr_auc"] >= prod_auc + margin:
            decision, reason = (
                "promoted",
                f"{best} PR-AUC {scored[best]['pr_auc']:.4f} beats production {prod_auc:.4f} by more than {margin}",
            )
        else:
            decision, reason = (
                "kept",
                f"best candidate {best} PR-AUC {scored[best]['pr_auc']:.4f} does not beat production {prod_auc:.4f} by {margin}",
            )
        record.update(decision=decision, reason=reason, promoted=decision == "promoted", best=best)
        # Everything in one transaction: a failure before or during it leaves production as it was.
        with store.writing() as con:
            for name, state in states.items():
                status = "production" if decision == "promoted" and name == best else "candidate"
                version = registry.save(
                    UNIT_MODEL,
                    state,
                    metrics={"holdout": candidates[name], "retrain_run": run_id, "candidate": name},
                    params={
                        "unit": spec.unit,
                        "tick_s": spec.tick_s,
                        "horizon_s": spec.horizon_s,
                        "candidate": name,
                    },
                    status=status,
                    con=con,
                )
                candidates[name]["version"] = version
            promoted_version = (
                candidates[best]["version"] if decision == "promoted" and best else None
            )
            record["candidates"] = candidates
            record["promoted_version"] = promoted_version
            record["seconds"] = round(time.perf_counter() - t0, 3)
            con.execute(
                "INSERT INTO store.retrain_runs VALUES (?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    UNIT_MODEL,
                    pd.Timestamp.now(tz="UTC").to_pydatetime()
                    - pd.Timedelta(seconds=time.perf_counter() - t0),
                    trigger,
                    start.to_pydatetime(),
                    holdout_from.to_pydatetime(),
                    end.to_pydatetime(),
                    record["promoted"],
                    promoted_version,
                    production.version if production is not None else None,
                    decision,
                    reason,
                    json.dumps(
                        {
                            "candidates": candidates,
                            "production": record["production"],
                            "split": split,
                        },
                        default=str,
                    ),
                ],
            )
        checkpoint(store)  # the .duckdb file alone holds the candidates
    log.info("retrain.done", run_id=run_id, decision=decision, reason=reason)
    return record


def retrain_runs(store: StoreReader) -> pd.DataFrame:
    """Past retrains, newest first: run_id, started_at, finished_at, trigger, promoted,
    promoted_version, production_version, decision, reason, candidates (JSON)."""
    columns = [
        "run_id",
        "started_at",
        "finished_at",
        "trigger",
        "promoted",
        "promoted_version",
        "production_version",
        "decision",
        "reason",
        "candidates",
    ]
    if not store.exists() or store.schema_version() < 5:
        return pd.DataFrame(columns=columns)
    return store.query_df(
        f"SELECT {', '.join(columns)} FROM store.retrain_runs ORDER BY started_at DESC"
    )


__all__ = ["BatchClassifier", "RetrainBusyError", "retrain", "retrain_lock", "retrain_runs"]
