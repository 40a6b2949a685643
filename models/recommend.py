"""Recovery recommendation: a contextual bandit that learns which recovery works.

:class:`RecoveryRecommender` is a River contextual bandit policy
(:class:`river.bandit.base.ContextualPolicy`) over recovery actions.  Its context is a path
from the general to the specific — ``category`` → ``error_type`` → message ``pattern`` →
``unit`` (service) → ``load`` (recent error rate: low, elevated, high) — and it keeps, for
every prefix of that path and every action, how often the action was tried and how often it
worked.  An estimate at a specific context is shrunk towards its parent's (a hierarchical
Beta-binomial model), with a strength fitted from the data per level (empirical Bayes: the
more alike the children of a level behave, the more a child with few outcomes borrows from its
parent).  So a rare pattern starts from what its error type and category say, and moves away
as its own outcomes show it differs.

- :meth:`~RecoveryRecommender.choose` (and River's ``pull``): Thompson sampling, so it keeps
  exploring a little where it is unsure; used online, e.g. as ``guard(policy=...)``;
- :meth:`~RecoveryRecommender.recommend`: the best action, its expected success, the
  alternatives, and whether the evidence is strong enough to automate it;
- :meth:`~RecoveryRecommender.learn_one` / ``update``: one outcome;
  :meth:`~RecoveryRecommender.learn_many` / :meth:`~RecoveryRecommender.learn_from_store`:
  outcomes in bulk (vectorised), e.g. those ingested from logs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd
from faultcast.ingest.errors import FaultcastError
from faultcast.ingest.fingerprint import template_of, template_sql
from faultcast.ingest.schema import category_of
from faultcast.ingest.store import StoreReader
from river import bandit

__all__ = [
    "Alternative",
    "NotFittedError",
    "Recommendation",
    "RecoveryRecommender",
]

#: The context path, general to specific.
LEVELS: Final[tuple[str, ...]] = ("category", "error_type", "pattern", "unit", "load")
#: Columns of ``events`` that may serve as the unit.
UNIT_COLUMNS: Final[frozenset[str]] = frozenset({"service", "host", "component"})
#: Minutes of trailing window for the recent error rate.
RATE_WINDOW_MIN: Final[int] = 5
_LOAD_NAMES: Final[tuple[str, str, str]] = ("low", "elevated", "high")
#: Bounds of the fitted prior strength per level.
_MIN_STRENGTH: Final[float] = 1.0
_MAX_STRENGTH: Final[float] = 1000.0
#: Outcomes' worth a category borrows from the same action in all categories.
_CATEGORY_STRENGTH: Final[float] = 2.0
#: Actions that call the failing thing again.
RETRIES: Final[frozenset[str]] = frozenset({"retry", "retry_with_backoff"})
#: The application SDK's own exceptions (``faultcast.sdk``, which this package may not
#: import; a test checks the table against it): category, and whether calling again can help.
#: An open circuit (CircuitOpenError) is never retried: retrying is the storm the breaker
#: prevents; it waits for the breaker's trial call or falls back.  A spent budget is never
#: retried: retrying spends more.
SDK_ERRORS: Final[Mapping[str, tuple[str, bool]]] = {
    "ServiceError": ("unknown", False),
    "StreamingError": ("streaming", True),
    "BudgetError": ("budget", False),
    "SecurityViolationError": ("security", False),
    "CommunicationError": ("communication", True),
    "MemoryPressureError": ("memory", False),
    "DataError": ("data", False),
    "CircuitOpenError": ("communication", False),
    "BufferFullError": ("streaming", False),
    "LockedOutError": ("security", False),
}
#: Categories never retried, whatever an outcome says: security violations (never retried,
#: always logged) and spent budgets.
NEVER_RETRIED: Final[frozenset[str]] = frozenset({"security", "budget"})
#: Categories never explored (Thompson sampling) by :meth:`RecoveryRecommender.choose`.
NEVER_EXPLORED: Final[frozenset[str]] = frozenset({"security"})
#: What to do when nothing fits an error that must not be retried.
_NO_RETRY_DEFAULT: Final[tuple[str, ...]] = ("fallback",)


class NotFittedError(FaultcastError, ValueError):  # type: ignore[misc,unused-ignore]
    """The recommender has learned no outcome yet."""


@dataclass(frozen=True, slots=True)
class Alternative:
    """One action's estimate in a context (``expected_success`` None: no outcome of it has
    been recorded for the error's category, so there is nothing to base a rate on)."""

    action: str
    expected_success: float | None
    #: Outcomes of this action recorded for the error's category.
    trials: int


@dataclass(frozen=True)
class Recommendation:
    """What :meth:`RecoveryRecommender.recommend` advises.

    Only what was seen counts: ``expected_success`` is None when no outcome of ``action`` is
    recorded for the error's category (``trials`` 0); ``confidence``, the posterior
    probability that ``action`` is within ``tolerance`` of the best action, is None unless at
    least two actions have outcomes (there is nothing to compare with).  ``automate`` is True
    when the ``trials``, the ``expected_success`` and the confidence (when there is one) all
    clear the recommender's bars.  ``evidence`` says where the outcomes come from:
    ``"error_type"`` (this type's own), ``"category"`` (other errors of its category), or
    ``"none"``.
    """

    action: str
    expected_success: float | None
    automate: bool
    confidence: float | None
    trials: int
    alternatives: tuple[Alternative, ...]
    context: dict[str, str | None] = field(default_factory=dict)
    reason: str = ""
    evidence: str = "category"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        out = asdict(self)
        out["alternatives"] = [asdict(a) for a in self.alternatives]
        return out


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value)
    return text if text else None


class RecoveryRecommender(bandit.base.ContextualPolicy):
    """A contextual bandit over recovery actions (see the module docstring).

    Parameters
    ----------
    prior_strength
        How many outcomes' worth a parent context counts for in a child before the strength
        per level has been fitted from data (after ``refit_every`` outcomes or a bulk learn).
    min_trials
        Outcomes of the recommended action (in the error's category) needed to automate it.
    confidence
        Posterior probability, that the action is within ``tolerance`` of the best, needed to
        automate it.
    tolerance
        How much worse than the best an automated action may be (success probability).
    min_success
        Expected success below which an action is never automated (a person should look).
    load_thresholds
        Errors per minute of the unit (over the last 5 minutes) at which load is "elevated"
        and "high".
    levels
        The context path, general to specific (a prefix of ``category``, ``error_type``,
        ``pattern``, ``unit``, ``load`` in any order after ``category``).
    actions
        Actions that fit each category (``{"data": ["dead_letter", ...]}``), added to those
        seen in the outcomes.
    refit_every
        Refit the per-level strengths after this many outcomes learned one at a time.
    seed
        Seed of the Thompson sampling.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(0)
    >>> truth = {"retry": 0.3, "retry_with_backoff": 0.9, "failover": 0.6}
    >>> model = RecoveryRecommender(seed=1)
    >>> error = {"category": "communication", "error_type": "TimeoutError",
    ...          "message": "GET /v1/stock timed out after 3000 ms", "service": "checkout"}
    >>> for _ in range(600):
    ...     action = model.choose(error, list(truth))
    ...     model.learn_one(error, action, rng.random() < truth[action])
    >>> advice = model.recommend(error)
    >>> advice.action, advice.automate, round(advice.expected_success, 1)
    ('retry_with_backoff', True, 0.9)
    >>> [a.action for a in advice.alternatives]
    ['failover', 'retry']
    """

    def __init__(
        self,
        prior_strength: float = 20.0,
        min_trials: int = 30,
        confidence: float = 0.95,
        tolerance: float = 0.05,
        min_success: float = 0.5,
        load_thresholds: tuple[float, float] = (2.0, 10.0),
        levels: tuple[str, ...] = LEVELS,
        actions: Mapping[str, Sequence[str]] | None = None,
        refit_every: int = 1000,
        seed: int | None = None,
    ) -> None:
        super().__init__(burn_in=0)
        self.prior_strength = prior_strength
        self.min_trials = min_trials
        self.confidence = confidence
        self.tolerance = tolerance
        self.min_success = min_success
        self.load_thresholds = load_thresholds
        self.levels = levels
        self.actions = actions
        self.refit_every = refit_every
        self.seed = seed
        # Learned state: per context prefix, per action, [outcomes, successes].
        self._stats: dict[tuple[str, ...], dict[str, list[float]]] = {}
        self._strengths: list[float] | None = None
        self._since_refit = 0
        self._outcomes = 0
        self._rng = random.Random(seed)

    # ------------------------------------------------------------------ learned attributes
    @property
    def n_outcomes_(self) -> int:
        """Outcomes learned."""
        return self._outcomes

    @property
    def strengths_(self) -> dict[str, float]:
        """The prior strength per level (how much a context borrows from its parent)."""
        strengths = self._strength_list()
        return {name: strengths[i + 1] for i, name in enumerate(self.levels)}

    def _strength_list(self) -> list[float]:
        if self._strengths is None:
            return [2.0, _CATEGORY_STRENGTH] + [float(self.prior_strength)] * (len(self.levels) - 1)
        return self._strengths

    # ------------------------------------------------------------------ context
    def _load(self, rate: Any) -> str | None:
        if rate is None:
            return None
        try:
            value = float(rate)
        except (TypeError, ValueError):
            return None
        if math.isnan(value):
            return None
        low, high = self.load_thresholds
        return _LOAD_NAMES[0] if value < low else _LOAD_NAMES[1] if value < high else _LOAD_NAMES[2]

    def context_of(self, error: Mapping[str, Any] | BaseException) -> dict[str, str | None]:
        """The context of an error: a dict (an ``events`` row, a guard's context, or any of
        ``category``, ``error_type``, ``message``, ``template``, ``pattern``, ``unit`` /
        ``service``, ``recent_error_rate``, ``level``) or an exception.

        Examples
        --------
        >>> RecoveryRecommender().context_of(TimeoutError("read timed out after 30 s"))
        {'category': 'communication', 'error_type': 'TimeoutError', 'pattern': 'read timed out after <*> s', 'unit': None, 'load': None}
        """
        if isinstance(error, BaseException):
            names = [k.__name__ for k in type(error).__mro__ if k not in (BaseException, object)]
            own = getattr(error, "category", None)
            kind = (
                own
                if isinstance(own, str)
                else next((c for c in map(category_of, names) if c and c != "unknown"), "unknown")
            )
            text = str(error)
            return {
                "category": kind,
                "error_type": type(error).__name__,
                "pattern": template_of(" ".join(text.split())) if text else None,
                "unit": None,
                "load": None,
            }
        error_type = _clean(error.get("error_type"))
        message = _clean(error.get("message"))
        sdk = SDK_ERRORS.get(error_type or "")
        category = _clean(error.get("category")) or (
            sdk[0]
            if sdk is not None
            else category_of(error_type, message, _clean(error.get("level")) or "error")
        )
        pattern = _clean(error.get("pattern"))
        if pattern is None:
            shown = message or _clean(error.get("template"))
            pattern = template_of(" ".join(shown.split())) if shown else None
        return {
            "category": category or "unknown",
            "error_type": error_type,
            "pattern": pattern,
            "unit": _clean(error.get("unit")) or _clean(error.get("service")),
            "load": self._load(error.get("recent_error_rate")),
        }

    def _path(self, ctx: Mapping[str, str | None]) -> list[tuple[str, ...]]:
        path: list[tuple[str, ...]] = [()]
        key: tuple[str, ...] = ()
        for name in self.levels:
            value = ctx.get(name)
            if value is None:
                break
            key = (*key, value)
            path.append(key)
        return path

    def actions_for(self, category: str) -> list[str]:
        """The actions known to fit a category (seen in its outcomes, or given); all known
        actions for a category never seen."""
        found = list(self._stats.get((category,), {}))
        for action in (self.actions or {}).get(category, ()):
            if action not in found:
                found.append(action)
        if not found:
            found = list(self._stats.get((), {}))
        return found

    @staticmethod
    def may_retry(context: Mapping[str, str | None]) -> bool:
        """Whether calling again can help: never for security errors, spent budgets and the
        SDK's own errors that say so (an open circuit, a full buffer, ...)."""
        if (context.get("category") or "") in NEVER_RETRIED:
            return False
        sdk = SDK_ERRORS.get(context.get("error_type") or "")
        return sdk is None or sdk[1]

    def _arms(self, ctx: Mapping[str, str | None], actions: Sequence[str] | None) -> list[str]:
        """The actions to choose among: those given (else those known for the category), less
        the retries of an error that must not be retried."""
        category = ctx["category"] or ""
        if actions is None and not self.may_retry(ctx) and (category,) not in self._stats:
            return list(_NO_RETRY_DEFAULT)  # not another category's habits, never a retry
        arms = list(actions) if actions is not None else self.actions_for(category)
        if arms and not self.may_retry(ctx):
            arms = [a for a in arms if a not in RETRIES] or (
                [] if actions is not None else list(_NO_RETRY_DEFAULT)
            )
        return arms

    # ------------------------------------------------------------------ estimates
    def _posterior(self, path: list[tuple[str, ...]], action: str) -> tuple[float, float]:
        """(mean, effective outcomes) of an action's success at the end of ``path``."""
        strengths = self._strength_list()
        counts: list[tuple[float, float]] = []
        for key in path:
            by_action = self._stats.get(key)
            st = by_action.get(action) if by_action is not None else None
            counts.append((st[0], st[1]) if st is not None else (0.0, 0.0))
        # Each outcome counts once: a level contributes only the outcomes outside the next
        # level on the path (its other children), and is the prior of that next level.
        mean, n_eff = 0.5, 2.0
        last = len(counts) - 1
        for depth, (n, s) in enumerate(counts):
            if depth < last:
                n, s = n - counts[depth + 1][0], s - counts[depth + 1][1]
            w = min(strengths[depth], n_eff) if depth else n_eff
            mean = (s + w * mean) / (n + w)
            n_eff = n + w
        return mean, n_eff

    def _trials(self, category: str, action: str) -> int:
        st = self._stats.get((category,), {}).get(action)
        return int(st[0]) if st is not None else 0

    def _type_trials(self, category: str, error_type: str | None, action: str) -> int:
        if error_type is None or self.levels[:2] != ("category", "error_type"):
            return 0
        st = self._stats.get((category, error_type), {}).get(action)
        return int(st[0]) if st is not None else 0

    # ------------------------------------------------------------------ learning
    def learn_one(
        self, context: Mapping[str, Any] | BaseException, action: str, succeeded: bool
    ) -> None:
        """Learn one outcome: ``action`` was tried for the error ``context`` and worked or not."""
        ctx = self.context_of(context)
        ok = 1.0 if succeeded else 0.0
        for key in self._path(ctx):
            st = self._stats.setdefault(key, {}).setdefault(action, [0.0, 0.0])
            st[0] += 1.0
            st[1] += ok
        self._counts[action] += 1
        self._n += 1
        self._outcomes += 1
        self._since_refit += 1
        if self.refit_every and self._since_refit >= self.refit_every:
            self.refit()

    def update(self, arm_id: Any, context: Any, *reward_args: Any, **reward_kwargs: Any) -> None:
        """River's bandit interface: ``reward`` > 0.5 (or True) is a success."""
        reward = reward_args[0] if reward_args else reward_kwargs.get("reward", 0.0)
        self.learn_one(context, str(arm_id), float(reward) > 0.5)

    def _pull(self, arm_ids: list[Any], context: Any) -> Any:  # type: ignore[override]
        choice = self.choose(context or {}, [str(a) for a in arm_ids])
        return next((a for a in arm_ids if str(a) == choice), arm_ids[0])

    def learn_many(self, outcomes: pd.DataFrame) -> RecoveryRecommender:
        """Learn outcomes in bulk, vectorised.

        ``outcomes`` has ``recovery_action`` and either ``succeeded`` (bool) or
        ``recovery_outcome`` (``"succeeded"`` / ``"failed"``; other rows are skipped), and the
        context columns it can: ``category``, ``error_type``, ``pattern`` (else ``message``
        or ``template``), ``unit`` (else ``service``), ``recent_error_rate``.
        """
        df = outcomes
        if "succeeded" in df.columns:
            ok = df["succeeded"].astype(bool).to_numpy()
            keep = df["recovery_action"].notna().to_numpy()
        else:
            outcome = df["recovery_outcome"]
            keep = (
                df["recovery_action"].notna() & outcome.isin(["succeeded", "failed"])
            ).to_numpy()
            ok = (outcome == "succeeded").to_numpy()
        df = df.loc[keep]
        ok = ok[keep]
        if df.empty:
            return self
        n = len(df)
        columns: dict[str, pd.Series] = {}
        error_type = (
            df["error_type"].astype("object")
            if "error_type" in df
            else pd.Series([None] * n, index=df.index)
        )
        if "category" in df:
            category = df["category"].astype("object")
        else:
            category = pd.Series([None] * n, index=df.index, dtype="object")
        missing = category.isna()
        if missing.any():
            category = category.copy()
            category[missing] = [category_of(_clean(t)) or "unknown" for t in error_type[missing]]
        columns["category"] = category
        columns["error_type"] = error_type
        if "pattern" in df:
            columns["pattern"] = df["pattern"].astype("object")
        else:
            source = df["message"] if "message" in df else df.get("template")
            columns["pattern"] = (
                pd.Series([None] * n, index=df.index, dtype="object")
                if source is None
                else source.map(
                    lambda m: template_of(" ".join(m.split())) if isinstance(m, str) and m else None
                )
            )
        unit = df["unit"] if "unit" in df else df.get("service")
        columns["unit"] = (
            pd.Series([None] * n, index=df.index, dtype="object") if unit is None else unit
        )
        if "recent_error_rate" in df:
            rate = df["recent_error_rate"].astype(float).to_numpy()
            low, high = self.load_thresholds
            load = np.where(rate < low, "low", np.where(rate < high, "elevated", "high"))
            columns["load"] = pd.Series(load, index=df.index, dtype="object").where(
                ~np.isnan(rate), None
            )
        else:
            columns["load"] = pd.Series([None] * n, index=df.index, dtype="object")
        frame = pd.DataFrame({name: columns[name].astype("object") for name in self.levels})
        frame = frame.where(frame.notna(), None)
        frame["action"] = df["recovery_action"].astype(str).to_numpy()
        frame["ok"] = ok.astype(float)
        # A prefix is usable while every value in it is present.
        present = np.ones(n, dtype=bool)
        self._add_counts(frame, (), present)
        for depth, name in enumerate(self.levels, start=1):
            present &= frame[name].notna().to_numpy()
            if not present.any():
                break
            self._add_counts(frame, tuple(self.levels[:depth]), present)
        for action, count in frame["action"].value_counts().items():
            self._counts[str(action)] += int(count)
        self._n += n
        self._outcomes += n
        self.refit()
        return self

    def _add_counts(self, frame: pd.DataFrame, names: tuple[str, ...], rows: np.ndarray) -> None:
        sub = frame.loc[rows, [*names, "action", "ok"]]
        grouped = sub.groupby([*names, "action"], sort=False, dropna=False)["ok"].agg(
            ["count", "sum"]
        )
        for index, n, s in zip(grouped.index, grouped["count"], grouped["sum"], strict=True):
            parts = index if isinstance(index, tuple) else (index,)
            key = tuple(str(p) for p in parts[:-1])
            st = self._stats.setdefault(key, {}).setdefault(str(parts[-1]), [0.0, 0.0])
            st[0] += float(n)
            st[1] += float(s)

    def learn_from_store(
        self,
        store: StoreReader,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        unit: str = "service",
    ) -> RecoveryRecommender:
        """Learn every recorded recovery outcome in a store (events with ``recovery_action``
        and a ``recovery_outcome`` of succeeded/failed), oldest first, in one query.

        The context's ``recent_error_rate`` is the unit's errors per minute over the 5
        minutes up to each event.  ``unit`` is ``service``, ``host`` or ``component``.
        """
        if unit not in UNIT_COLUMNS:
            raise ValueError(f"unit must be one of {sorted(UNIT_COLUMNS)}, not {unit!r}")
        pattern = template_sql(r"regexp_replace(trim(message), '\s+', ' ', 'g')")
        sql = f"""
            WITH errors AS (
                SELECT ts, source, source_offset, category, error_type, message,
                    {unit} AS unit, recovery_action, recovery_outcome,
                    count(*) OVER (
                        PARTITION BY {unit} ORDER BY ts
                        RANGE BETWEEN INTERVAL {RATE_WINDOW_MIN} MINUTE PRECEDING AND CURRENT ROW
                    ) AS recent
                FROM store.events
                WHERE category IS NOT NULL
                    AND (?::TIMESTAMPTZ IS NULL OR ts >= ?::TIMESTAMPTZ - INTERVAL {RATE_WINDOW_MIN} MINUTE)
                    AND (?::TIMESTAMPTZ IS NULL OR ts < ?::TIMESTAMPTZ)
            )
            SELECT category, error_type, {pattern} AS pattern,
                unit, recent / {float(RATE_WINDOW_MIN)} AS recent_error_rate,
                recovery_action, recovery_outcome = 'succeeded' AS succeeded
            FROM errors
            WHERE recovery_action IS NOT NULL AND recovery_outcome IN ('succeeded', 'failed')
                AND (?::TIMESTAMPTZ IS NULL OR ts >= ?::TIMESTAMPTZ)
            ORDER BY ts, source, source_offset
        """
        params = [since, since, until, until, since, since]
        return self.learn_many(store.query_df(sql, params))

    @classmethod
    def from_store(
        cls,
        store: StoreReader,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        unit: str = "service",
        **params: Any,
    ) -> RecoveryRecommender:
        """A new recommender (``params`` as for the class) that has learned a store's outcomes."""
        return cls(**params).learn_from_store(store, since=since, until=until, unit=unit)

    def refit(self) -> None:
        """Fit each level's prior strength to how alike its contexts behave (method of
        moments for a Beta-binomial: the intra-class correlation of outcomes within a parent
        context, pooled over parents and actions)."""
        # How an action fares differs by category by design (a retry fixes a timeout, not a
        # bad input), so a category borrows little from the other categories: a weak prior.
        strengths = [2.0, _CATEGORY_STRENGTH]
        by_depth: dict[int, list[tuple[str, ...]]] = {}
        for key in self._stats:
            by_depth.setdefault(len(key), []).append(key)
        for depth in range(2, len(self.levels) + 1):
            num = den = 0.0
            groups: dict[tuple[tuple[str, ...], str], list[tuple[float, float]]] = {}
            for key in by_depth.get(depth, ()):
                for action, (n, s) in self._stats[key].items():
                    groups.setdefault((key[:-1], action), []).append((n, s))
            for (parent, action), children in groups.items():
                if len(children) < 2:
                    continue
                st = self._stats.get(parent, {}).get(action)
                if st is None or st[0] <= 0:
                    continue
                mu = st[1] / st[0]
                var = mu * (1.0 - mu)
                if var < 1e-9:
                    continue
                num += sum(n * (s / n - mu) ** 2 for n, s in children if n > 0) / var - len(
                    children
                )
                den += sum(n - 1.0 for n, _ in children if n > 0)
            if den <= 0:
                strengths.append(float(self.prior_strength))
                continue
            rho = min(max(num / den, 1.0 / (_MAX_STRENGTH + 1.0)), 1.0 / (_MIN_STRENGTH + 1.0))
            strengths.append(1.0 / rho - 1.0)
        self._strengths = strengths
        self._since_refit = 0

    # ------------------------------------------------------------------ deciding
    def choose(
        self, context: Mapping[str, Any] | BaseException, actions: Sequence[str] | None = None
    ) -> str | None:
        """An action for the error by Thompson sampling (explores where unsure); None when
        there is nothing to choose from."""
        ctx = self.context_of(context)
        arms = self._arms(ctx, actions)
        if not arms:
            return None
        path = self._path(ctx)
        best, best_draw = arms[0], -1.0
        beta = self._rng.betavariate
        explore = (ctx["category"] or "") not in NEVER_EXPLORED
        for action in arms:
            mean, n_eff = self._posterior(path, action)
            if explore:
                draw = beta(max(mean * n_eff, 1e-3), max((1.0 - mean) * n_eff, 1e-3))
            else:  # never experiment on a security violation: the best estimate
                draw = mean
            if draw > best_draw:
                best, best_draw = action, draw
        return best

    def recommend(
        self, error: Mapping[str, Any] | BaseException, actions: Sequence[str] | None = None
    ) -> Recommendation:
        """The best recovery for an error, with its expected success, the alternatives, and
        whether it is safe to automate.  Raises NotFittedError before any outcome is learned."""
        if not self._stats:
            raise NotFittedError(
                "no recovery outcome has been learned yet: the store needs events with "
                "recovery_action and recovery_outcome (logs written through faultcast's guard "
                "have them); learn them with learn_from_store(store), or learn_one()"
            )
        ctx = self.context_of(error)
        category = ctx["category"] or "unknown"
        error_type = ctx["error_type"]
        arms = self._arms(ctx, actions)
        if not arms:
            raise NotFittedError(
                f"no recovery action is known for {category} errors"
                + ("" if self.may_retry(ctx) else " that are never retried")
            )
        path = self._path(ctx)
        estimates = []
        for action in arms:
            mean, n_eff = self._posterior(path, action)
            estimates.append((mean, n_eff, action, self._trials(category, action)))
        # Actions with outcomes first (an untried action's estimate is borrowed from other
        # categories, and must not outrank what was seen), then by expected success.
        estimates.sort(key=lambda e: (e[3] == 0, -e[0], e[2]))
        mean_b, n_b, best, trials = estimates[0]
        seen = [e for e in estimates if e[3] > 0]
        confidence: float | None = None
        if trials > 0 and len(seen) >= 2:
            var_b = mean_b * (1.0 - mean_b) / (n_b + 1.0)
            confidence = 1.0
            for mean_a, n_a, _, _ in seen[1:]:
                var_a = mean_a * (1.0 - mean_a) / (n_a + 1.0)
                z = (mean_b + self.tolerance - mean_a) / math.sqrt(var_b + var_a + 1e-12)
                confidence *= _phi(z)
        own = self._type_trials(category, error_type, best)
        evidence = "none" if trials == 0 else "error_type" if own > 0 else "category"
        kind = f"{error_type} ({category})" if error_type else category
        never = "" if self.may_retry(ctx) else "; it is never retried"
        if error_type == "CircuitOpenError":
            never = (
                "; an open circuit is never retried: fall back, or wait until the breaker "
                "lets a trial call through"
            )
        untried = [e[2] for e in estimates if e[3] == 0]
        none_own = f", none for {error_type}" if evidence == "category" and error_type else ""
        if trials == 0:
            reason = (
                f"no outcome of {best} is recorded for {kind} errors, so there is no success "
                f"rate to report{never}"
            )
        elif trials < self.min_trials:
            reason = (
                f"only {trials} outcomes of {best} for {category} errors{none_own} (automating "
                f"needs {self.min_trials}){never}"
            )
        elif mean_b < self.min_success:
            reason = (
                f"{best} is expected to work only {mean_b:.0%} of the time (automating needs "
                f"{self.min_success:.0%})"
            )
        elif untried:
            reason = (
                f"{', '.join(untried)} {'has' if len(untried) == 1 else 'have'} never been tried "
                f"for {category} errors: nothing shows that {best} is the best"
            )
        elif confidence is not None and confidence < self.confidence:
            reason = (
                f"{best} is within {self.tolerance:.0%} of the best action with only "
                f"{confidence:.0%} confidence (automating needs {self.confidence:.0%})"
            )
        else:
            reason = f"{best} is expected to work {mean_b:.0%} of the time ({trials} outcomes for {category} errors"
            reason += f", {own} of them {error_type}" if evidence == "error_type" else none_own
            reason += (
                f"), within {self.tolerance:.0%} of the best with {confidence:.0%} confidence"
                if confidence is not None
                else "); no other action has outcomes to compare it with"
            )
            reason += never
        automate = (
            trials >= self.min_trials
            and mean_b >= self.min_success
            and not untried
            and (confidence is None or confidence >= self.confidence)
        )
        return Recommendation(
            action=best,
            expected_success=mean_b if trials > 0 else None,
            automate=automate,
            confidence=confidence,
            trials=trials,
            alternatives=tuple(
                Alternative(a, m if t > 0 else None, t) for m, _, a, t in estimates[1:]
            ),
            context=dict(ctx),
            reason=("automate: " if automate else "ask a person: ") + reason,
            evidence=evidence,
        )

    def policy(self, service: str | None = None) -> pd.DataFrame:
        """The learned policy as a compact table an application can cache: per error class
        (category, error_type; with ``service``, per message pattern of that service too) the
        action to run, its expected success, whether to automate it, and the evidence.

        Columns: category, error_type, pattern, service, action, expected_success, automate,
        confidence, trials (``expected_success`` and ``confidence`` are null where nothing was
        seen to base them on; see :class:`Recommendation`).  With ``service``, the rows of
        whole error classes come first (pattern and service null), then the service's
        patterns.  Empty before any outcome is learned."""
        columns = [
            "category", "error_type", "pattern", "service", "action", "expected_success",
            "automate", "confidence", "trials",
        ]  # fmt: skip
        whole: list[dict[str, Any]] = [
            {"category": k[0], "error_type": k[1]} for k in self._stats if len(k) == 2
        ]
        patterns: list[dict[str, Any]] = []
        if service is not None:
            patterns = [
                {"category": k[0], "error_type": k[1], "pattern": k[2], "service": k[3]}
                for k in self._stats
                if len(k) == 4 and k[3] == service
            ]

        def order(e: dict[str, Any]) -> tuple[str, ...]:
            return tuple(str(v) for v in e.values())

        rows = []
        for error in sorted(whole, key=order) + sorted(patterns, key=order):
            try:
                advice = self.recommend(error)
            except NotFittedError:
                continue
            rows.append(
                [
                    error["category"],
                    error["error_type"],
                    error.get("pattern"),
                    error.get("service"),
                    advice.action,
                    advice.expected_success,
                    advice.automate,
                    advice.confidence,
                    advice.trials,
                ]  # fmt: skip
            )
        return pd.DataFrame(rows, columns=columns)

    def policy_records(self, service: str | None = None) -> list[dict[str, Any]]:
        """:meth:`policy` as JSON-ready rows (null for missing), the ``policy`` list that
        ``GET /v1/policy`` serves: feed an in-process ``faultcast.sdk.Advisor`` with it
        (``fetch=``) in a simulation or a test."""
        table = self.policy(service)
        return [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in table.astype(object).where(table.notna(), None).to_dict("records")
        ]

    def recommend_many(self, errors: Iterable[Mapping[str, Any]]) -> list[Recommendation]:
        """:meth:`recommend` for each error."""
        return [self.recommend(e) for e in errors]

    def __repr__(self) -> str:
        return f"RecoveryRecommender(outcomes={self._outcomes}, contexts={len(self._stats)})"
