"""faultcast's online estimators, on River's base classes (``river.checks`` runs over each).

- :class:`FailureRiskClassifier`: a standardised logistic regression that also explains a
  prediction (each feature's contribution to the log-odds);
- :class:`RareTemplateDetector`: unsupervised session anomaly score from how rare a session's
  patterns are among the sessions seen before it;
- :class:`SessionClassifier`: supervised session classifier on template counts plus the
  rarity scores of a :class:`RareTemplateDetector`;
- :class:`ThresholdSelector`: the alert threshold that maximises F1 over recent labelled
  predictions.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np
from river import base, linear_model, optim, preprocessing


class FailureRiskClassifier(base.Classifier):
    """P(failure within the horizon) from unit features: ``StandardScaler | LogisticRegression``.

    Failures are rare; ``positive_weight`` > 1 weighs positive examples up when learning
    (probabilities are then higher than the base rate, which the alert threshold absorbs).

    Examples
    --------
    >>> model = FailureRiskClassifier(seed=1)
    >>> for i in range(200):
    ...     x = {"errors_5": float(i % 10), "hour_sin": 0.1}
    ...     model.learn_one(x, i % 10 >= 8)
    >>> model.predict_proba_one({"errors_5": 9.0, "hour_sin": 0.1})[True] > 0.5
    True
    >>> top = model.explain_one({"errors_5": 9.0, "hour_sin": 0.1})
    >>> top[0][0]
    'errors_5'
    """

    def __init__(
        self,
        learning_rate: float = 0.005,
        l2: float = 1e-4,
        positive_weight: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.l2 = l2
        self.positive_weight = positive_weight
        self.seed = seed
        self._scaler = preprocessing.StandardScaler()
        self._lr = linear_model.LogisticRegression(
            optimizer=optim.SGD(learning_rate), l2=l2, intercept_lr=learning_rate
        )

    @property
    def _multiclass(self) -> bool:
        return False

    def learn_one(self, x: dict[Any, Any], y: base.typing.ClfTarget, w: float = 1.0) -> None:
        self._scaler.learn_one(x)
        weight = w * (self.positive_weight if y else 1.0)
        self._lr.learn_one(self._scaler.transform_one(x), bool(y), w=weight)

    def predict_proba_one(
        self, x: dict[Any, Any], **kwargs: Any
    ) -> dict[base.typing.ClfTarget, float]:
        return self._lr.predict_proba_one(self._scaler.transform_one(x))

    def predict_one(self, x: dict[Any, Any], **kwargs: Any) -> base.typing.ClfTarget | None:
        return self.predict_proba_one(x).get(True, 0.0) >= 0.5

    def predict_proba_matrix(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        """P(True) for each row of ``X`` (columns ``names``): :meth:`predict_proba_one`, vectorised."""
        means = self._scaler.means
        variances = self._scaler.vars
        weights = self._lr.weights
        mu = np.array([means.get(n, 0.0) for n in names])
        sd = np.sqrt(np.array([variances.get(n, 0.0) for n in names]))
        w = np.array([weights.get(n, 0.0) for n in names])
        z = np.divide(X - mu, sd, out=np.zeros_like(X, dtype=float), where=sd > 0)
        logit = z @ w + float(self._lr.intercept)
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -100, 100)))

    def explain_one(self, x: dict[Any, Any]) -> list[tuple[str, float]]:
        """Each feature's contribution to the log-odds, largest first (standardised value x weight)."""
        z = self._scaler.transform_one(x)
        weights = self._lr.weights
        contributions = [(str(k), float(v * weights.get(k, 0.0))) for k, v in z.items()]
        contributions.sort(key=lambda kv: kv[1], reverse=True)
        return contributions


class RareTemplateDetector(base.AnomalyDetector):
    """Unsupervised session anomaly: a session is as anomalous as its rarest pattern is rare.

    ``x`` maps template ids to their count in the session.  The score is ``1 - s`` where ``s``
    is the smallest share, among the sessions learned so far, of sessions that contained one of
    this session's templates; a session with a template seen in fewer than ``rare_share`` of
    earlier sessions scores above ``1 - rare_share`` and is flagged by :meth:`is_anomalous`.
    Until ``warm_up`` sessions are learned every score is 0 (nothing is rare yet).

    Examples
    --------
    >>> det = RareTemplateDetector(warm_up=10)
    >>> for _ in range(100):
    ...     det.learn_one({"T1": 1, "T2": 3})
    >>> det.score_one({"T1": 1, "T2": 3}), det.is_anomalous({"T1": 1, "T9": 1})
    (0.0, True)
    """

    def __init__(self, rare_share: float = 0.02, warm_up: int = 100) -> None:
        self.rare_share = rare_share
        self.warm_up = warm_up
        self._seen: collections.Counter[Any] = collections.Counter()
        self._vectors: collections.Counter[frozenset[Any]] = collections.Counter()
        self._n = 0

    def learn_one(self, x: dict[Any, Any]) -> None:
        present = [k for k, v in x.items() if v]
        self._seen.update(present)
        self._vectors[frozenset(present)] += 1
        self._n += 1

    def rarest_share(self, x: dict[Any, Any]) -> float:
        """The smallest share of earlier sessions holding one of ``x``'s templates (1.0 if none)."""
        n = max(self._n, 1)
        shares = [self._seen.get(k, 0) / n for k, v in x.items() if v]
        return min(shares) if shares else 1.0

    def vector_share(self, x: dict[Any, Any]) -> float:
        """The share of earlier sessions with exactly ``x``'s set of templates."""
        return self._vectors.get(frozenset(k for k, v in x.items() if v), 0) / max(self._n, 1)

    def score_one(self, x: dict[Any, Any]) -> float:
        if self._n < self.warm_up:
            return 0.0
        return 1.0 - self.rarest_share(x)

    def is_anomalous(self, x: dict[Any, Any]) -> bool:
        return self.score_one(x) > 1.0 - self.rare_share


class SessionClassifier(base.Classifier):
    """Supervised session anomaly: template counts plus rarity, ``StandardScaler | LogisticRegression``.

    The rarity features (how rare the session's rarest pattern and its set of patterns were
    among earlier sessions) let one labelled example of a new kind of failure generalise to the
    next: what is learned is "rare patterns mean trouble", not only "pattern T18 means trouble".

    Examples
    --------
    >>> clf = SessionClassifier()
    >>> for i in range(300):
    ...     bad = i % 30 == 0
    ...     clf.learn_one({"T1": 1, "T2": 3, **({"T9": 1} if bad else {"T3": 3})}, bad)
    >>> clf.predict_proba_one({"T1": 1, "T2": 3, "T9": 1})[True] > 0.5
    True
    """

    def __init__(self, learning_rate: float = 0.01, l2: float = 0.0, warm_up: int = 20) -> None:
        self.learning_rate = learning_rate
        self.l2 = l2
        self.warm_up = warm_up
        self._rarity = RareTemplateDetector(warm_up=warm_up)
        self._scaler = preprocessing.StandardScaler()
        self._lr = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate), l2=l2)

    @property
    def _multiclass(self) -> bool:
        return False

    def _features(self, x: dict[Any, Any]) -> dict[str, float]:
        f = {f"n_{k}": math.log1p(float(v)) for k, v in x.items() if v}
        f["rarest"] = -math.log(self._rarity.rarest_share(x) + 1e-3)
        f["vector_rarity"] = -math.log(self._rarity.vector_share(x) + 1e-3)
        f["templates"] = float(sum(1 for v in x.values() if v))
        f["events"] = math.log1p(float(sum(float(v) for v in x.values())))
        return f

    def learn_one(self, x: dict[Any, Any], y: base.typing.ClfTarget) -> None:
        f = self._features(x)
        self._scaler.learn_one(f)
        self._lr.learn_one(self._scaler.transform_one(f), bool(y))
        self._rarity.learn_one(x)

    def predict_proba_one(
        self, x: dict[Any, Any], **kwargs: Any
    ) -> dict[base.typing.ClfTarget, float]:
        return self._lr.predict_proba_one(self._scaler.transform_one(self._features(x)))

    def predict_one(self, x: dict[Any, Any], **kwargs: Any) -> base.typing.ClfTarget | None:
        return self.predict_proba_one(x).get(True, 0.0) >= 0.5


class ThresholdSelector(base.Base):
    """The alert threshold with the best F-beta (F1 by default) over the last ``window``
    labelled predictions.

    Until ``min_positives`` positives have been seen it returns ``default``; it never returns
    less than ``floor``.

    Examples
    --------
    >>> sel = ThresholdSelector(min_positives=2)
    >>> for p, y in [(0.1, False), (0.2, False), (0.7, True), (0.4, False), (0.8, True)]:
    ...     sel.update(p, y)
    >>> sel.threshold()
    0.7
    """

    def __init__(
        self,
        window: int = 20_000,
        min_positives: int = 10,
        default: float = 0.5,
        floor: float = 0.05,
        beta: float = 1.0,
    ) -> None:
        self.window = window
        self.beta = beta
        self.min_positives = min_positives
        self.default = default
        self.floor = floor
        self._p: collections.deque[float] = collections.deque(maxlen=window)
        self._y: collections.deque[bool] = collections.deque(maxlen=window)

    def update(self, probability: float, label: bool) -> None:
        self._p.append(float(probability))
        self._y.append(bool(label))

    def threshold(self) -> float:
        y = np.fromiter(self._y, dtype=bool, count=len(self._y))
        if int(y.sum()) < self.min_positives:
            return self.default
        p = np.fromiter(self._p, dtype=float, count=len(self._p))
        return max(self.floor, best_threshold(p, y, self.beta))


def best_threshold(probabilities: np.ndarray, labels: np.ndarray, beta: float = 1.0) -> float:
    """The score cut (flag ``>=`` it) with the best F-beta of ``labels``, vectorised.

    >>> best_threshold(np.array([0.1, 0.2, 0.7, 0.4, 0.8]), np.array([0, 0, 1, 0, 1], dtype=bool))
    0.7
    """
    positives = int(labels.sum())
    order = np.argsort(-probabilities, kind="stable")
    p_sorted, y_sorted = probabilities[order], labels[order]
    tp = np.cumsum(y_sorted)
    k = np.arange(1, len(p_sorted) + 1)
    b2 = beta**2
    score = (1 + b2) * tp / (k + b2 * positives)
    # Only cut between distinct scores.
    last_of_run = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    score = np.where(last_of_run, score, -1.0)
    return float(p_sorted[int(np.argmax(score))])


#: How much of the raw score a calibrated probability carries, to break the ties of the fit.
TIE_BREAK = 1e-6


class OnlineCalibrator(base.Base):
    """Isotonic calibration of scores on a window of labelled predictions, refitted as labels come.

    :meth:`update` takes a score and its label once the label is due; :meth:`transform` maps
    scores to calibrated probabilities with the isotonic fit of the last ``window`` pairs
    (refitted every ``refit_every`` updates).  Until ``min_positives`` positives are in the
    window, scores are mapped to the window's base rate (nothing better is known yet).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cal = OnlineCalibrator(window=5000, refit_every=500)
    >>> p = rng.uniform(size=5000)
    >>> for s, y in zip(p ** 2, rng.uniform(size=5000) < p):  # score = p squared
    ...     cal.update(float(s), bool(y))
    >>> round(float(cal.transform(np.array([0.25]))[0]), 1)  # the true probability is 0.5
    0.5
    """

    def __init__(
        self, window: int = 20_000, refit_every: int = 2000, min_positives: int = 5
    ) -> None:
        self.window = window
        self.refit_every = refit_every
        self.min_positives = min_positives
        self._s: collections.deque[float] = collections.deque(maxlen=window)
        self._y: collections.deque[bool] = collections.deque(maxlen=window)
        self._since_fit = 0
        self._fit: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, score: float, label: bool) -> None:
        self._s.append(float(score))
        self._y.append(bool(label))
        self._since_fit += 1
        if self._fit is None or self._since_fit >= self.refit_every:
            self.refit()

    def refit(self) -> None:
        from sklearn.isotonic import IsotonicRegression

        self._since_fit = 0
        y = np.fromiter(self._y, dtype=float, count=len(self._y))
        if y.sum() < self.min_positives:
            self._fit = None
            return
        s = np.fromiter(self._s, dtype=float, count=len(self._s))
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
        self._fit = (np.asarray(iso.X_thresholds_), np.asarray(iso.y_thresholds_))

    @property
    def fitted(self) -> bool:
        return self._fit is not None

    def base_rate(self) -> float:
        return float(np.mean(self._y)) if self._y else 0.0

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, ordered as the scores are: an isotonic fit is flat over
        runs of scores (and the base rate flat over all), so ``TIE_BREAK`` times the score is
        added, which keeps the model's ranking (PR-AUC, top units) at no visible cost."""
        scores = np.asarray(scores, dtype=float)
        if self._fit is None:
            calibrated = np.full(scores.shape, self.base_rate())
        else:
            xs, ys = self._fit
            calibrated = np.interp(scores, xs, ys)
        return np.clip(calibrated + TIE_BREAK * np.clip(scores, 0.0, 1.0), 0.0, 1.0)


#: The persistence rules an :class:`AlertRuleSelector` tries: alert when k of the last m ticks
#: are at or above the threshold.
PERSISTENCE: tuple[tuple[int, int], ...] = ((1, 1), (2, 2), (2, 3), (3, 5))


class AlertRuleSelector(base.Base):
    """The alert rule (threshold and persistence) with the best *episode* F-beta over the last
    ``window`` ticks whose labels are due, scored as the backtest scores alerts.

    An alert is a run of alerting ticks of a unit (see :mod:`faultcast.models.metrics`); a
    tick-level F1 counts each tick of a long true alert as a hit and each tick of a false one as
    a miss, which is not what a user sees.  :meth:`update` takes the scored rows of a tick once
    their labels are due; :meth:`choose` tries ``candidates`` thresholds (the scores at the top
    0.02%..10% of the window's rows) times the ``persistence`` rules (k of the last m ticks) and
    returns the best ``(threshold, k, m)``, or None until the window holds ``min_onsets``
    failure onsets (the caller then keeps a tick-level threshold).  Ties go to the simpler rule.

    A few dozen failures decide each cut, so the F-beta curve over the thresholds is averaged
    over ``smooth`` neighbours on each side (the middle of a plateau, not its noisy edge).  The
    default F2 leans to recall: on the development seeds of both simulated worlds, rules chosen
    on episode F1 over the past under-alerted afterwards (the model keeps learning and its
    scores of later precursors rise), and F2 recovered that (``benchmarks/predict.py`` compares
    it with the tick-level rule under leave-one-world-out).

    ``gates`` adds rules that alert only on ticks whose surge statistic (given to
    :meth:`update`) is at or above a gate, one tick each; :meth:`choose_gated` returns the gate
    with the rule (see :class:`~faultcast.models.backtest.UnitReplay`).

    >>> sel = AlertRuleSelector(horizon_s=120, min_onsets=1)
    >>> t = np.arange("2026-01-01T00:00", "2026-01-01T00:20", dtype="datetime64[m]").astype("datetime64[ns]")
    >>> s = np.where((t >= t[5]) & (t <= t[7]), 0.9, 0.1)
    >>> sel.update(np.array(["a"] * 20), t, s, np.zeros(20, bool))
    >>> sel.choose({"a": np.array([t[8] + np.timedelta64(30, "s")])})
    (0.9, 1, 1)
    """

    def __init__(
        self,
        horizon_s: float = 900,
        window: int = 2880,
        min_onsets: int = 3,
        candidates: int = 48,
        persistence: tuple[tuple[int, int], ...] = PERSISTENCE,
        beta: float = 2.0,
        smooth: int = 2,
        gates: tuple[float, ...] = (),
    ) -> None:
        self.gates = tuple(gates)
        self.horizon_s = horizon_s
        self.smooth = smooth
        self.window = window
        self.min_onsets = min_onsets
        self.candidates = candidates
        self.persistence = persistence
        self.beta = beta
        self._ticks: collections.deque[tuple[np.ndarray, ...]] = collections.deque(maxlen=window)
        self.last_f: float | None = None

    def update(
        self,
        units: np.ndarray,
        made_at: np.ndarray,
        scores: np.ndarray,
        failing: np.ndarray,
        surge: np.ndarray | None = None,
    ) -> None:
        """One tick's scored rows, once their labels are due; ``surge`` is each row's gate
        statistic (the strongest surge, in standard deviations), needed when ``gates`` is set."""
        row = (
            np.asarray(units).astype(str),
            np.asarray(made_at, dtype="datetime64[ns]"),
            np.asarray(scores, dtype=float),
            np.asarray(failing, dtype=bool),
        )
        if getattr(self, "gates", ()):
            gate = np.full(len(row[2]), np.inf) if surge is None else surge
            row = (*row, np.asarray(gate, dtype=float))
        self._ticks.append(row)

    def choose(self, onsets: dict[Any, np.ndarray]) -> tuple[float, int, int] | None:
        """The best ``(threshold, k, m)``, or None (see the class docstring); with ``gates``
        :meth:`choose_gated` also says which surge gate goes with it."""
        chosen = self.choose_gated(onsets)
        return None if chosen is None else chosen[:3]

    def choose_gated(self, onsets: dict[Any, np.ndarray]) -> tuple[float, int, int, float] | None:
        """The best ``(threshold, k, m, gate)``: alert when k of a unit's last m ticks scored at
        or above the threshold, on ticks whose surge statistic is at or above ``gate``
        (``-inf``: no gate).  A gate is tried with one tick (k = m = 1) per value of ``gates``:
        the model vetoes the surges it has learned to be decoys, and the gate vetoes the
        model's alerts on units where nothing surges."""
        from faultcast.models.metrics import EpisodeScorer

        if not self._ticks:
            return None
        gates = getattr(self, "gates", ())
        cols = [np.concatenate(c) for c in zip(*self._ticks, strict=True)]
        units, made, scores, failing = cols[:4]
        scorer = EpisodeScorer(units, made, scores, failing, onsets, self.horizon_s)
        if scorer.positives < self.min_onsets:
            return None
        ok = scores[~failing]
        if not len(ok):
            return None
        tops = np.geomspace(2e-4, 0.1, self.candidates)
        thresholds = np.unique(np.quantile(ok, 1.0 - tops, method="higher"))
        b2 = self.beta**2
        smooth = getattr(self, "smooth", 0)
        rules: list[tuple[int, int, float]] = [(k, m, -np.inf) for k, m in self.persistence]
        rules += [(1, 1, float(g)) for g in gates]
        ordered = scorer.scores.copy()
        gate_sorted = None
        if gates:  # the scorer holds rows in its own order: the gate statistic likewise
            gate_sorted = cols[4][scorer.order]
        best: tuple[float, float, int, int, float] | None = None
        for k, m, gate in rules:
            scorer.scores = (
                ordered
                if gate_sorted is None or gate == -np.inf
                else np.where(gate_sorted >= gate, ordered, -np.inf)
            )
            fs = []
            for thr in thresholds[::-1]:
                alerts, true, caught = scorer.counts(float(thr), k, m)
                p = true / alerts if alerts else 0.0
                r = caught / scorer.positives
                fs.append((1 + b2) * p * r / (b2 * p + r) if p + r else 0.0)
            f_arr = np.asarray(fs)
            if smooth:  # a few episodes decide each cut: prefer the middle of a plateau
                pad = np.pad(f_arr, smooth, mode="edge")
                f_arr = np.convolve(pad, np.ones(2 * smooth + 1) / (2 * smooth + 1), "valid")
            j = int(np.argmax(f_arr))
            if best is None or f_arr[j] > best[0] + 1e-9:
                best = (float(f_arr[j]), float(thresholds[::-1][j]), k, m, gate)
        scorer.scores = ordered
        assert best is not None
        self.last_f = round(best[0], 4)
        return best[1], best[2], best[3], best[4]
