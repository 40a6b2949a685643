"""Replay a store's history in time order through the online models: progressive validation.

Every row is predicted first and learned only once its label is due: in unit mode a tick's
label (a failure onset within the horizon) is learned ``horizon`` after the tick, in session
mode a session's label once the session has ended.  The same run scores two baselines on the
second half of the history: a static threshold on the error rate (chosen on the first half)
and a batch scikit-learn model trained on the first half.

Examples
--------
>>> from faultcast.ingest import Store
>>> from faultcast.models.backtest import backtest
>>> backtest(Store(":memory:"))["rows"]
0
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from faultcast.ingest.store import StoreReader
from faultcast.models.estimators import (
    PERSISTENCE,
    AlertRuleSelector,
    FailureRiskClassifier,
    OnlineCalibrator,
    RareTemplateDetector,
    SessionClassifier,
    ThresholdSelector,
    best_threshold,
)
from faultcast.models.features import (
    UnitFeatureSpec,
    event_time_range,
    failure_onsets,
    session_counts,
    unit_features,
)
from faultcast.models.metrics import (
    count_metrics,
    episode_metrics,
    expected_calibration_error,
    pr_auc,
)
from river import base
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

_TRUE = {"anomaly", "1", "true", "yes", "abnormal", "failure", "anomalous"}
_FALSE = {"normal", "0", "false", "no"}


def read_labels(path: str | Path) -> dict[str, bool]:
    """Session labels from a CSV file with a header and columns key,label.

    Labels may be ``Anomaly``/``Normal``, ``1``/``0`` or ``true``/``false`` in any case.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"labels file {path} does not exist")
    labels: dict[str, bool] = {}
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or len(header) < 2:
            raise ValueError(f"{path}:1: expected a header with two columns key,label")
        for line_no, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise ValueError(f"{path}:{line_no}: expected key,label, got {','.join(row)!r}")
            value = row[1].strip().lower()
            if value in _TRUE:
                labels[row[0].strip()] = True
            elif value in _FALSE:
                labels[row[0].strip()] = False
            else:
                raise ValueError(
                    f"{path}:{line_no}: label {row[1]!r} is not one of Anomaly/Normal, 1/0, true/false"
                )
    return labels


# -------------------------------------------------------------------------------- unit mode
OnsetIndex = dict[Any, np.ndarray]

#: Failure onsets (pooled over units) the unit model must have learned before it alerts.
MIN_FAILURES: Final[int] = 5
#: The surge gates the default alert rule tries (standard deviations above the hourly rate):
#: see :class:`UnitReplay` and :class:`~faultcast.models.estimators.AlertRuleSelector`.
SURGE_GATES: Final[tuple[float, ...]] = (1.0, 2.0, 3.0, 5.0)


def _naive_ns(times: pd.Series) -> np.ndarray:
    """UTC times as ``datetime64[ns]`` (fast to compare and sort, unlike tz-aware objects)."""
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy("datetime64[ns]")


def onset_index(onsets: pd.DataFrame) -> OnsetIndex:
    """Failure onsets (``unit``, ``ts``) as unit -> sorted UTC ``datetime64[ns]`` array."""
    if onsets.empty:
        return {}
    ts = onsets["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    index: OnsetIndex = {}
    for unit, group in pd.Series(ts).groupby(onsets["unit"].to_numpy()):
        index[unit] = np.sort(group.to_numpy("datetime64[ns]"))
    return index


def gate_statistic(frame: pd.DataFrame) -> np.ndarray:
    """Each row's strongest surge in standard deviations above its hourly rate, the statistic
    a surge gate of the alert rule compares (the surge-count rule's): the strongest message
    pattern's surge (``tmpl_max_surge``, stored as a signed log; :func:`query_spec` makes the
    features hold it), else the strongest level or category signal's (``max_surge``); +inf
    (no gate) when the frame has neither."""
    if "tmpl_max_surge" in frame.columns:
        logged = frame["tmpl_max_surge"].to_numpy(dtype=float)
        return np.sign(logged) * np.expm1(np.abs(logged))
    if "max_surge" in frame.columns:
        return frame["max_surge"].to_numpy(dtype=float)
    return np.full(len(frame), np.inf)


def query_spec(spec: UnitFeatureSpec, replay: UnitReplay | None = None) -> UnitFeatureSpec:
    """The spec to compute ``replay``'s features with: ``spec``, or, when its alert rule has
    surge gates and ``spec``'s features lack the message patterns' surges, the same spec with
    them (``taxonomy_surge``; the model still learns ``spec.feature_names()`` only)."""
    rule = getattr(replay, "rule", None)
    if rule is not None and getattr(rule, "gates", ()) and spec.feature_set == "taxonomy":
        return dataclasses.replace(spec, feature_set="taxonomy_surge")
    return spec


class UnitReplay:
    """The online state of unit-mode learning: model, threshold and the rows awaiting labels.

    :meth:`step` takes the feature rows of consecutive ticks (in tick order, all units of a
    tick together) and returns their probabilities and alerts.  Rows wait in ``pending`` until
    their label is due (``horizon_ticks`` ticks later); only then is the label computed, from
    the failure onsets known at that step, and learned.  A row whose unit was already failing
    is not learned.  The whole object pickles, so learning resumes.

    Failures are rare; with ``negative_sampling`` k > 1 only one negative row in k is learned,
    with weight k (the expected gradient is unchanged), when the model takes sample weights;
    every row still feeds the threshold selector.  The default k = 4: over the development
    seeds (2, 3, 5, 6) of both simulated worlds k = 1 and k = 4 tie (mean second-half F1
    0.666 and 0.664; leave-one-world-out picks k = 1 on the graph world, k = 4 on the default
    world), and on the ``faultcast demo`` store (a day; few failures) k = 1 drops F1 from 0.51
    to 0.36; k = 4 also learns a quarter of the negative rows.

    The alert rule (``episode_rule=True``, the default) is chosen every ``refresh_every`` ticks
    on alert *episodes* over the ticks whose labels are due (:class:`AlertRuleSelector`, F2):
    a threshold on the model's score with persistence (k of a unit's last m ticks), or with a
    *surge gate* (``surge_gates``): alert when the score is at or above the threshold on a tick
    whose strongest surge (:func:`gate_statistic`, the surge-count rule's statistic) is at or
    above the gate.  The model vetoes the surges it learned to be decoys and the gate vetoes
    its alerts where nothing surges.  Until enough failures fell due, and with
    ``episode_rule=False``, a threshold chosen on tick-level F0.5, one tick alerts.  Chosen by
    leave-one-world-out over the 16 development runs (seeds 2 3 5 6 11 12 13 14 of both
    worlds, ``benchmarks/predict.py``, taxonomy features, k = 4): mean second-half F1 with
    the gates 0.702 on the default world and 0.689 on the graph world, against 0.682 and
    0.644 for the tick rule and 0.670 and 0.672 for episodes without gates; the
    gated rule was best on each world when chosen on the other.  Its mean margin over the best
    of the four baselines is small: +0.001 (default world) and +0.023 (graph world).

    Probabilities are the model's scores calibrated online (:class:`OnlineCalibrator`, fitted
    on the labels that fell due); the alert threshold is chosen on the raw scores (calibration
    is monotone but flat in places, and would merge ranks) and shown on the calibrated scale.
    Cold start: no alert until ``min_failures`` failure onsets are at least a horizon old (so
    their rows were learned), pooled over every unit the model learns from;
    :meth:`learning_status` says how far it is.
    """

    def __init__(
        self,
        spec: UnitFeatureSpec,
        model: base.Classifier | None = None,
        selector: ThresholdSelector | None = None,
        refresh_every: int = 60,
        negative_sampling: int = 4,
        min_failures: int = MIN_FAILURES,
        calibrator: OnlineCalibrator | None = None,
        rule: AlertRuleSelector | None = None,
        episode_rule: bool = True,
        surge_gates: tuple[float, ...] = SURGE_GATES,
    ) -> None:
        self.spec = spec
        self.gate = -np.inf  # the chosen surge gate (-inf: none)
        # The alert rule (threshold and persistence) chosen on alert episodes once enough
        # failures fell due; until then the tick-level selector's threshold, one tick.
        self.rule = (
            (
                rule
                if rule is not None
                else AlertRuleSelector(horizon_s=spec.horizon_s, gates=tuple(surge_gates))
            )
            if episode_rule
            else None
        )
        self.persistence = (1, 1)
        self.recent: dict[Any, collections.deque[float]] = {}
        self.min_failures = min_failures
        self.calibrator = calibrator if calibrator is not None else OnlineCalibrator()
        self.failures_seen = 0
        self.raw_threshold = 0.5
        self.model = model if model is not None else FailureRiskClassifier(seed=0)
        # Tick-level F0.5: one alerting tick is enough to catch a failure, while each tick of a
        # false alarm counts against precision, so a tick-level F1 would alert too readily.
        self.selector = selector if selector is not None else ThresholdSelector(beta=0.5)
        self.refresh_every = refresh_every
        self.negative_sampling = negative_sampling
        self.threshold = self.selector.threshold()
        self.tick_index = -1  # ticks seen so far, minus one
        self.last_tick: pd.Timestamp | None = None
        # [tick index, features (matrix), units, made_at, probabilities, failing] per tick
        self.pending: collections.deque[list[Any]] = collections.deque()
        self.learned = 0
        self.negatives_seen = 0

    def learning_status(self) -> str:
        """``"ready"`` or ``"learning: k of N failures seen"`` (no alert is raised until ready)."""
        seen = getattr(self, "failures_seen", self.min_failures)
        need = getattr(self, "min_failures", 0)
        return "ready" if seen >= need else f"learning: {seen} of {need} failures seen"

    def _persistent(self, units: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """One tick's alerts: k of each unit's last m scores at or above the raw threshold
        (the scores are remembered per unit; k = m = 1 alerts on the tick alone)."""
        k, m = getattr(self, "persistence", (1, 1))
        above = raw >= self.raw_threshold
        recent = getattr(self, "recent", None)
        if recent is None:
            return above
        out = above.copy()
        for i, (unit, score) in enumerate(zip(units.tolist(), raw.tolist(), strict=True)):
            scores = recent.get(unit)
            if scores is None:
                scores = recent[unit] = collections.deque(maxlen=max(m for _, m in PERSISTENCE))
            scores.append(score)
            if m > 1:
                last = list(scores)[-m:]
                out[i] = sum(v >= self.raw_threshold for v in last) >= k
        return out

    def _failures_seen(self, at: np.datetime64, onsets: OnsetIndex) -> int:
        """Onsets of any unit at least a horizon before ``at`` (their rows are learned by then)."""
        cut = at - np.timedelta64(int(self.spec.horizon_s), "s")
        return int(sum(np.searchsorted(t, cut, side="right") for t in onsets.values()))

    def _labels(self, units: np.ndarray, made_at: np.ndarray, onsets: OnsetIndex) -> np.ndarray:
        """Whether a failure onset of each row's unit falls in (made_at, made_at + horizon]."""
        horizon = np.timedelta64(int(self.spec.horizon_s), "s")
        out = np.zeros(len(units), dtype=bool)
        if not len(units) or not onsets:
            return out
        keys, inverse = np.unique(units.astype(str), return_inverse=True)
        for k, key in enumerate(keys):
            times = onsets.get(key)
            if times is None or not len(times):
                continue
            rows = np.flatnonzero(inverse == k)
            m = made_at[rows]
            j = np.searchsorted(times, m, side="right")
            nxt = times[np.minimum(j, len(times) - 1)]
            out[rows] = (j < len(times)) & (nxt <= m + horizon)
        return out

    def step(
        self,
        frame: pd.DataFrame,
        feature_names: list[str] | None = None,
        onsets: OnsetIndex | None = None,
    ) -> pd.DataFrame:
        """Predict the rows of ``frame``; learn the pending rows whose labels fall due.

        ``onsets`` (unit -> sorted ``datetime64[ns]`` failure onsets, see :func:`onset_index`)
        must hold every onset known up to the end of ``frame``; a label is used only once due,
        so it never depends on data a real deployment would not have had at that time.
        """
        names = feature_names or self.spec.feature_names()
        onsets = onsets if onsets is not None else {}
        out = frame[["unit", "tick", "made_at", "failing", "label"]].copy()
        if frame.empty:
            out["probability"] = pd.Series(dtype=float)
            out["score"] = pd.Series(dtype=float)
            out["threshold"] = pd.Series(dtype=float)
            out["ready"] = pd.Series(dtype=bool)
            out["alert"] = pd.Series(dtype=bool)
            return out
        X = frame[names].to_numpy(dtype=float)
        gate = gate_statistic(frame)
        ticks = _naive_ns(frame["tick"])
        units = frame["unit"].to_numpy()
        made = _naive_ns(frame["made_at"])
        failing = frame["failing"].to_numpy(dtype=bool)
        # Labels of every row that can fall due in this step, from the onsets known at its end
        # (used only when due; rows still pending afterwards are labelled again next step).
        for entry in self.pending:
            entry[6] = self._labels(entry[2], entry[3], onsets)
        labels = self._labels(units, made, onsets)
        bounds = np.flatnonzero(np.r_[True, ticks[1:] != ticks[:-1], True])
        prob = np.zeros(len(frame))
        raw = np.zeros(len(frame))
        thr = np.zeros(len(frame))
        ready = np.zeros(len(frame), dtype=bool)
        alert = np.zeros(len(frame), dtype=bool)
        if not hasattr(self, "calibrator"):  # a state pickled before calibration and cold start
            self.calibrator, self.min_failures = OnlineCalibrator(), MIN_FAILURES
            self.failures_seen, self.raw_threshold = 0, self.threshold
        if not hasattr(self, "rule"):  # a state pickled before alert rules
            self.rule, self.persistence, self.recent = None, (1, 1), {}
        if not hasattr(self, "gate"):  # a state pickled before surge gates
            self.gate = -np.inf
        calibrator, rule = self.calibrator, self.rule
        step_s = pd.Timedelta(seconds=self.spec.tick_s)
        model, selector = self.model, self.selector
        horizon = self.spec.horizon_ticks
        weighted = isinstance(model, FailureRiskClassifier) and self.negative_sampling > 1
        k = self.negative_sampling if weighted else 1
        predict_matrix = getattr(model, "predict_proba_matrix", None)
        # A model that learns nothing online scores the whole frame in one call.
        static = (
            predict_matrix(X, names)
            if getattr(model, "is_static", False) and predict_matrix
            else None
        )
        for b in range(len(bounds) - 1):
            s, e = int(bounds[b]), int(bounds[b + 1])
            tick = pd.Timestamp(ticks[s])
            if self.last_tick is not None:
                gap = int(round((tick - self.last_tick) / step_s))
                if gap <= 0:
                    raise ValueError(
                        f"ticks must be replayed in order: {tick} after {self.last_tick}"
                    )
                self.tick_index += gap
            else:
                self.tick_index += 1
            self.last_tick = tick
            # Labels due now: rows made at least `horizon` ticks ago.
            while self.pending and self.pending[0][0] <= self.tick_index - horizon:
                entry = self.pending.popleft()
                _, xs, us, ms, ps, fs, ys = entry[:7]
                if rule is not None:
                    rule.update(us, ms, ps, fs, entry[7] if len(entry) > 7 else None)
                for row, y, p, f in zip(xs, ys, ps, fs, strict=True):
                    if f:
                        continue
                    selector.update(float(p), bool(y))
                    calibrator.update(float(p), bool(y))
                    if not y:
                        self.negatives_seen += 1
                        if self.negatives_seen % k:
                            continue
                    x = dict(zip(names, row.tolist(), strict=True))
                    if weighted:
                        model.learn_one(x, bool(y), w=1.0 if y else float(k))  # type: ignore[call-arg]
                    else:
                        model.learn_one(x, bool(y))
                    self.learned += 1
            if self.tick_index % self.refresh_every == 0:
                chosen = rule.choose_gated(onsets) if rule is not None else None
                if chosen is None:
                    self.raw_threshold, self.persistence = selector.threshold(), (1, 1)
                    self.gate = -np.inf
                else:
                    self.raw_threshold, k_of, m_of, self.gate = chosen
                    self.persistence = (k_of, m_of)
                self.threshold = float(calibrator.transform(np.array([self.raw_threshold]))[0])
            self.failures_seen = self._failures_seen(made[s], onsets)
            if static is not None:
                raw[s:e] = static[s:e]
            elif predict_matrix is not None:
                raw[s:e] = predict_matrix(X[s:e], names)
            else:
                for r in range(s, e):
                    x = dict(zip(names, X[r].tolist(), strict=True))
                    raw[r] = model.predict_proba_one(x).get(True, 0.0)
            prob[s:e] = calibrator.transform(raw[s:e])
            thr[s:e] = self.threshold
            ready[s:e] = self.failures_seen >= self.min_failures
            alert[s:e] = self._persistent(units[s:e], raw[s:e]) & (gate[s:e] >= self.gate)
            self.pending.append(
                [
                    self.tick_index,
                    X[s:e],
                    units[s:e],
                    made[s:e],
                    raw[s:e].copy(),
                    failing[s:e],
                    labels[s:e],
                    gate[s:e],
                ]
            )
        out["probability"] = prob
        out["score"] = raw
        out["threshold"] = thr
        out["ready"] = ready
        out["alert"] = alert & ready & ~failing
        return out

    def score(self, frame: pd.DataFrame, onsets: OnsetIndex | None = None) -> pd.DataFrame:
        """Predict the rows of ``frame`` as :meth:`step` would, without learning or moving on
        (for a production version asked for a tick it did not store a prediction for)."""
        names = self.spec.feature_names()
        out = frame[["unit", "tick", "made_at", "failing"]].copy()
        X = frame[names].to_numpy(dtype=float)
        predict_matrix = getattr(self.model, "predict_proba_matrix", None)
        if predict_matrix is not None:
            raw = np.asarray(predict_matrix(X, names), dtype=float)
        else:
            raw = np.array(
                [
                    self.model.predict_proba_one(dict(zip(names, row, strict=True))).get(True, 0.0)
                    for row in X.tolist()
                ]
            )
        calibrator = getattr(self, "calibrator", None)
        out["probability"] = calibrator.transform(raw) if calibrator is not None else raw
        out["score"] = raw
        out["threshold"] = self.threshold
        made = _naive_ns(frame["made_at"])
        seen = self._failures_seen(made.max(), onsets) if onsets and len(made) else 0
        ready = seen >= getattr(self, "min_failures", 0)
        raw_thr = getattr(self, "raw_threshold", self.threshold)
        above = raw >= raw_thr
        k, m = getattr(self, "persistence", (1, 1))
        recent = getattr(self, "recent", {})
        if m > 1:  # the tick scored is the last one learned: its unit's remembered scores
            above = np.array(
                [
                    sum(v >= raw_thr for v in list(recent[u])[-m:]) >= k if u in recent else a
                    for u, a in zip(frame["unit"].tolist(), above.tolist(), strict=True)
                ],
                dtype=bool,
            )
        above &= gate_statistic(frame) >= getattr(self, "gate", -np.inf)
        out["alert"] = above & ready & ~out["failing"].to_numpy(dtype=bool)
        return out

    def run(
        self,
        feats: pd.DataFrame,
        onsets: OnsetIndex,
        progress: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame:
        """:meth:`step` over ``feats`` a day of ticks at a time (flat memory, progress per day)."""
        names = self.spec.feature_names()
        ticks = _naive_ns(feats["tick"])
        uniq = np.unique(ticks)
        per_day = max(1, 86_400 // self.spec.tick_s)
        parts = []
        for i in range(0, len(uniq), per_day):
            last = uniq[min(i + per_day, len(uniq)) - 1]
            parts.append(self.step(feats[(ticks >= uniq[i]) & (ticks <= last)], names, onsets))
            if progress:
                progress(min(i + per_day, len(uniq)), len(uniq))
        return pd.concat(parts, ignore_index=True) if parts else self.step(feats.iloc[:0])


def _pick_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    return best_threshold(np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool))


def _unit_baselines(
    feats: pd.DataFrame,
    spec: UnitFeatureSpec,
    onsets: pd.DataFrame,
    mid: pd.Timestamp,
    names: list[str],
) -> dict[str, Any]:
    horizon = pd.Timedelta(seconds=spec.horizon_s)
    short = spec.windows[1]
    rate = (feats[f"warnings_{short}"] + feats[f"errors_{short}"] + feats[f"criticals_{short}"]) / (
        short * spec.tick_s / 60
    )
    ok = ~feats["failing"].to_numpy(dtype=bool)
    known = (feats["made_at"] + horizon <= mid).to_numpy()
    train = ok & known
    test = (feats["made_at"] >= mid).to_numpy()
    labels = feats["label"].to_numpy(dtype=bool)
    result: dict[str, Any] = {}
    second = feats[test][["unit", "made_at"]].copy()
    since = mid + horizon
    if train.sum() == 0 or labels[train].sum() == 0 or test.sum() == 0:
        return {
            "static_threshold": None,
            "batch_sklearn": None,
            "note": "too little history before the midpoint",
        }
    # Static threshold on the error rate (errors per minute over the short window).
    thr = _pick_threshold(rate.to_numpy()[train], labels[train])
    second["alert"] = (rate.to_numpy()[test] >= thr) & ok[test]
    static = episode_metrics(second, onsets, spec.horizon_s, since=since)
    static.update(
        pr_auc=pr_auc(labels[test & ok], rate.to_numpy()[test & ok]),
        threshold_errors_per_min=round(float(thr), 3),
    )
    result["static_threshold"] = static
    # Surge-count rule: alert when any message pattern's 5-min count is k sigma above its
    # hour; k chosen on the first half among a few round values.
    if "tmpl_max_surge" in feats.columns:
        surge = gate_statistic(feats)
        ks = np.array([3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0])
        f = [
            episode_metrics(
                feats[train][["unit", "made_at"]].assign(alert=surge[train] >= k),
                onsets[onsets["ts"] < mid],
                spec.horizon_s,
            )["f1"]
            for k in ks
        ]
        k = float(ks[int(np.argmax(f))])
        second["alert"] = (surge[test] >= k) & ok[test]
        rule = episode_metrics(second, onsets, spec.horizon_s, since=since)
        rule.update(pr_auc=pr_auc(labels[test & ok], surge[test & ok]), k_sigma=k)
        result["surge_rule"] = rule
    X = feats[names].to_numpy(dtype=float)
    batch_models = {
        # Batch scikit-learn logistic regression on the same features, first half -> second half.
        "batch_sklearn": (
            make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced")
            ),
            "StandardScaler | LogisticRegression(class_weight=balanced)",
        ),
        "batch_gbm": (
            HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0),
            "HistGradientBoostingClassifier(max_iter=200)",
        ),
    }
    for key, (clf, described) in batch_models.items():
        clf.fit(X[train], labels[train])
        p_train = clf.predict_proba(X[train])[:, 1]
        bthr = _pick_threshold(p_train, labels[train])
        p_test = clf.predict_proba(X[test])[:, 1]
        second["alert"] = (p_test >= bthr) & ok[test]
        batch = episode_metrics(second, onsets, spec.horizon_s, since=since)
        batch.update(pr_auc=pr_auc(labels[test & ok], p_test[ok[test]]), model=described)
        result[key] = batch
    return result


def backtest_units(
    store: StoreReader,
    spec: UnitFeatureSpec | None = None,
    model: base.Classifier | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Unit-mode backtest (see the module docstring); returns one dict of metrics."""
    spec = spec or UnitFeatureSpec()
    t0 = time.perf_counter()
    with store.reading() as con:
        rng = event_time_range(con, spec.unit)
        if rng is None:
            return {
                "mode": "unit",
                "rows": 0,
                "precision": 0.0,
                "recall": 0.0,
                "f1": 0.0,
                "pr_auc": None,
                "alerts": 0,
                "positives": 0,
                "median_lead_time_s": None,
                "baselines": {},
            }
        tick = pd.Timedelta(seconds=spec.tick_s)
        lo = rng[0].floor(tick)
        hi = rng[1].floor(tick)  # the last, unfinished tick is not predicted
        feats = unit_features(con, query_spec(spec, UnitReplay(spec)), lo, hi)
        onsets = failure_onsets(con, spec)
    t_features = time.perf_counter() - t0
    result = replay_units(feats, onsets, spec, lo, hi, model, progress)
    result["seconds"] = {
        "features": round(t_features, 3),
        "total": round(time.perf_counter() - t0, 3),
    }
    return result


def replay_units(
    feats: pd.DataFrame,
    onsets: pd.DataFrame,
    spec: UnitFeatureSpec,
    lo: pd.Timestamp,
    hi: pd.Timestamp,
    model: base.Classifier | None = None,
    progress: Callable[[int, int], None] | None = None,
    baselines: bool = True,
    **replay_options: Any,
) -> dict[str, Any]:
    """:func:`backtest_units` on features already computed (``feats`` may hold more columns
    than ``spec`` uses, so several specs can share one feature query); ``replay_options`` go
    to :class:`UnitReplay` (``negative_sampling``, ``episode_rule``); ``baselines=False`` skips
    the baselines (several configurations with one feature set share theirs)."""
    tick = pd.Timedelta(seconds=spec.tick_s)
    names = spec.feature_names()
    replay = UnitReplay(spec, model=model, **replay_options)
    res = replay.run(feats, onset_index(onsets), progress)
    ok = ~res["failing"].to_numpy(dtype=bool)
    metrics = episode_metrics(res, onsets, spec.horizon_s)
    metrics["pr_auc"] = pr_auc(
        res["label"].to_numpy(dtype=bool)[ok], res["probability"].to_numpy()[ok]
    )
    mid = lo + (hi - lo) / 2
    mid = mid.floor(tick)
    second = res[res["made_at"] >= mid]
    online_second = episode_metrics(
        second, onsets, spec.horizon_s, since=mid + pd.Timedelta(seconds=spec.horizon_s)
    )
    s_ok = ~second["failing"].to_numpy(dtype=bool)
    online_second["pr_auc"] = pr_auc(
        second["label"].to_numpy(dtype=bool)[s_ok], second["probability"].to_numpy()[s_ok]
    )
    online_second["ece"] = expected_calibration_error(
        second["label"].to_numpy(dtype=bool)[s_ok], second["probability"].to_numpy()[s_ok]
    )
    return {
        "mode": "unit",
        "unit_column": spec.unit,
        "horizon_s": spec.horizon_s,
        "tick_s": spec.tick_s,
        **metrics,
        "rows": len(res),
        "units": int(res["unit"].nunique()),
        "learned": replay.learned,
        "final_threshold": round(float(replay.threshold), 4),
        "final_persistence": list(replay.persistence),
        "second_half": {"from": mid.isoformat(), "online": online_second},
        "baselines": _unit_baselines(feats, spec, onsets, mid, names) if baselines else {},
        "_rows": res,
        "_onsets": onsets,
    }


# ----------------------------------------------------------------------------- session mode
def _session_dicts(counts: pd.DataFrame) -> list[dict[str, float]]:
    values = counts.to_numpy(dtype=float)
    cols = list(counts.columns)
    out = []
    for row in values:
        nz = np.flatnonzero(row)
        out.append({cols[j]: float(row[j]) for j in nz})
    return out


def backtest_sessions(
    store: StoreReader,
    labels: Mapping[str, bool] | None = None,
    unsupervised: bool = False,
    session_column: str = "session_key",
    model: base.Estimator | None = None,
) -> dict[str, Any]:
    """Session-mode backtest: sessions in the order they ended, predicted, then learned.

    Labels come from ``labels`` (key -> anomalous) or else from failure events in the session.
    ``unsupervised`` scores with a :class:`RareTemplateDetector` that never sees a label.
    """
    t0 = time.perf_counter()
    with store.reading() as con:
        counts, facts = session_counts(con, session_column)
    n_all = len(facts)
    unlabelled = 0
    if labels is not None:
        keep = facts.index.isin(list(labels))
        unlabelled = int((~keep).sum())
        counts, facts = counts[keep], facts[keep]
        y = np.array([labels[k] for k in facts.index], dtype=bool)
        label_source = "labels file"
    else:
        y = (facts["failures"] > 0).to_numpy(dtype=bool)
        label_source = "failure events"
    xs = _session_dicts(counts)
    n = len(xs)
    scores = np.zeros(n)
    flagged = np.zeros(n, dtype=bool)
    if unsupervised:
        det: Any = model if model is not None else RareTemplateDetector()
        cut = 1.0 - getattr(det, "rare_share", 0.02)
        for i, x in enumerate(xs):
            scores[i] = det.score_one(x)
            flagged[i] = scores[i] > cut
            det.learn_one(x)
        model_name = type(det).__name__
    else:
        clf: Any = model if model is not None else SessionClassifier()
        selector = ThresholdSelector(window=5000, min_positives=5, default=0.5)
        thr = 0.5
        for i, (x, label) in enumerate(zip(xs, y, strict=True)):
            p = clf.predict_proba_one(x).get(True, 0.0)
            scores[i] = p
            flagged[i] = p >= thr
            clf.learn_one(x, bool(label))
            selector.update(p, bool(label))
            if i % 100 == 99:
                thr = selector.threshold()
        model_name = type(clf).__name__
    metrics = count_metrics(y, flagged, scores)
    half = n // 2
    second = count_metrics(y[half:], flagged[half:], scores[half:])
    baselines: dict[str, Any] = {}
    if half and y[:half].any() and n - half:
        rate = ((facts["warnings"] + facts["errors"]) / facts["events"]).to_numpy(dtype=float)
        thr_static = _pick_threshold(rate[:half], y[:half])
        baselines["static_threshold"] = count_metrics(
            y[half:], rate[half:] >= thr_static, rate[half:]
        )
        baselines["static_threshold"]["threshold_error_share"] = round(float(thr_static), 4)
        X = np.log1p(counts.to_numpy(dtype=float))
        clf_b = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        clf_b.fit(X[:half], y[:half])
        p_b = clf_b.predict_proba(X[half:])[:, 1]
        baselines["batch_sklearn"] = count_metrics(y[half:], p_b >= 0.5, p_b)
        baselines["batch_sklearn"]["model"] = (
            "StandardScaler | LogisticRegression on log template counts"
        )
    return {
        "mode": "session",
        "supervised": not unsupervised,
        "model": model_name,
        "label_source": label_source,
        **metrics,
        "sessions_in_store": n_all,
        "unlabelled_sessions": unlabelled,
        "second_half": {"online": second},
        "baselines": baselines,
        "seconds": {"total": round(time.perf_counter() - t0, 3)},
    }


def backtest(
    store: StoreReader,
    mode: str = "unit",
    *,
    unit_column: str = "service",
    horizon: float = 900,
    tick: float = 60,
    labels: Mapping[str, bool] | str | Path | None = None,
    unsupervised: bool = False,
    session_column: str = "session_key",
    progress: Callable[[int, int], None] | None = None,
    rows: bool = False,
) -> dict[str, Any]:
    """Replay the history (see the module docstring) and return the metrics as one dict.

    ``rows=True`` (unit mode) adds ``rows``, a DataFrame of every prediction made in the replay
    (unit, tick, made_at, probability, threshold, alert, label, failing), and ``onsets``, the
    failure onsets (unit, ts), for curves and lead times of your own.
    """
    if isinstance(labels, (str, Path)):
        labels = read_labels(labels)
    if mode == "session":
        return backtest_sessions(
            store, labels=labels, unsupervised=unsupervised, session_column=session_column
        )
    if mode != "unit":
        raise ValueError(f"mode must be 'unit' or 'session', not {mode!r}")
    if labels is not None or unsupervised:
        raise ValueError("labels and --unsupervised apply to session mode (--mode session)")
    spec = UnitFeatureSpec(unit=unit_column, horizon_s=int(horizon), tick_s=int(tick))
    result = backtest_units(store, spec, progress=progress)
    replayed = result.pop("_rows", None)
    onsets = result.pop("_onsets", None)
    if rows:
        result["rows"] = replayed
        result["onsets"] = onsets
    return result
