"""The Advisor: an application's cached view of faultcast's risk and recovery policy.

An :class:`Advisor` fetches ``GET /v1/risk?unit=SERVICE`` and ``GET /v1/policy?service=SERVICE``
from ``faultcast serve --http`` in a daemon thread every ``ttl`` seconds (± ``jitter``), and
answers from the last good snapshot: a read never does I/O and never waits for a fetch.  When
faultcast is unreachable, slow or answers garbage, the Advisor *fails open*: it keeps the last
good snapshot until it is ``stale_after`` seconds old, then answers as if faultcast knew
nothing (no risk; the guard's own static policy), logging a warning at most once a minute.

:meth:`Advisor.decide` is what :func:`~faultcast.sdk.guard` asks on an error: run the learned
action where the policy says automate; otherwise, within an exploration budget (a share of
errors over a sliding window; never a security error), try another action so that faultcast
learns; otherwise run the guard's static default and record that a person should decide.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from faultcast.sdk._errors import classify
from faultcast.sdk._log import get_logger
from faultcast.sdk._policy import RecoveryPolicy, StaticPolicy
from faultcast.sdk._types import Clock

__all__ = ["Advisor", "Decision", "PolicyRule", "RiskView"]

log = get_logger("faultcast.sdk")

#: A fetch: a path with its query (``/v1/risk?unit=checkout``) -> the decoded JSON answer.
Fetch = Callable[[str], Any]

#: What a decision says about who chose the action (the event's ``recovery_decision``).
AUTOMATE: Final[str] = "automate"
EXPLORE: Final[str] = "explore"
ASK: Final[str] = "ask"
#: Seconds between two warnings that faultcast cannot be read.
WARN_EVERY_S: Final[float] = 60.0
#: Errors over which the exploration budget is counted.
EXPLORE_WINDOW: Final[int] = 1000
#: Actions that call the failing thing again: never explored for errors that are not retryable.
_RETRIES: Final[frozenset[str]] = frozenset({"retry", "retry_with_backoff"})
_STATIC: Final[StaticPolicy] = StaticPolicy()


@dataclass(frozen=True, slots=True)
class RiskView:
    """A unit's risk as faultcast's production model saw it at its last tick.

    ``probability`` of a failure within the model's horizon; ``alert`` when it is at or above
    ``threshold`` (the unit is *at risk*); ``status`` is the model's (``"ready"``, or
    ``"learning: k of N failures seen"``, when it does not alert yet); ``reasons`` in words.

    Examples
    --------
    >>> view = RiskView("pay", 0.7, threshold=0.4, alert=True, model_version="v2",
    ...                 status="ready", reasons=("error rate up 4 sd",))
    >>> view.alert, view.reasons
    (True, ('error rate up 4 sd',))
    """

    unit: str
    probability: float
    threshold: float | None
    alert: bool
    model_version: str | None
    status: str
    reasons: tuple[str, ...] = ()
    as_of: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One row of the learned policy (``GET /v1/policy``): for an error class, the action, and
    whether the evidence is strong enough to run it without asking a person.

    Examples
    --------
    >>> rule = PolicyRule("data", "ValueError", None, "dead_letter", automate=False,
    ...                   expected_success=None, trials=0)
    >>> rule.action, rule.automate
    ('dead_letter', False)
    """

    category: str
    error_type: str | None
    pattern: str | None
    action: str
    automate: bool
    expected_success: float | None
    trials: int


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about one error, and who chose it.

    ``automate``: the learned policy chose it and it may run without a person;
    ``explored``: an experiment within the exploration budget; neither: the guard's static
    default, and a person should decide (``kind == "ask"``).  ``action`` is None when no
    action fits.

    Examples
    --------
    >>> Decision("fallback", automate=False, explored=False, reason="ask a person").kind
    'ask'
    """

    action: str | None
    automate: bool
    explored: bool
    reason: str
    expected_success: float | None = None

    @property
    def kind(self) -> str:
        """``"automate"``, ``"explore"`` or ``"ask"`` (the event's ``recovery_decision``)."""
        return AUTOMATE if self.automate else EXPLORE if self.explored else ASK


@dataclass(frozen=True, slots=True)
class _Snapshot:
    risk: Mapping[str, RiskView]
    rules: Mapping[tuple[str, str | None], PolicyRule]
    #: ``clock()`` when fetched.
    at: float


_EMPTY = _Snapshot({}, {}, -math.inf)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{what} is not a number: {value!r}")
    return float(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _reasons(row: Mapping[str, Any]) -> tuple[str, ...]:
    given = row.get("reasons")
    if isinstance(given, list):
        return tuple(str(r) for r in given)
    top = row.get("top_features")
    if isinstance(top, str) and top:
        return (top,)
    if isinstance(top, list):
        return tuple(str(r) for r in top)
    return ()


def parse_risk(answer: Any) -> dict[str, RiskView]:
    """``{"risk": [rows]}`` of ``GET /v1/risk`` as RiskViews by unit; ValueError on garbage."""
    rows = answer.get("risk") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        raise ValueError("the risk answer has no 'risk' list")
    out: dict[str, RiskView] = {}
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("unit"), str):
            raise ValueError(f"a risk row without a unit: {row!r:.200}")
        probability = _number(row.get("probability", row.get("risk")), "risk")
        threshold = row.get("threshold")
        alert = row.get("alert")
        if not isinstance(alert, bool):
            raise ValueError(f"the risk row of {row['unit']!r} has no boolean 'alert'")
        status = row.get("status")
        out[row["unit"]] = RiskView(
            unit=row["unit"],
            probability=probability,
            threshold=None if threshold is None else _number(threshold, "threshold"),
            alert=alert,
            model_version=_text(row.get("model_version")),
            status=str(status) if status else "ready",
            reasons=_reasons(row),
            as_of=_text(row.get("as_of")),
        )
    return out


def parse_policy(answer: Any) -> dict[tuple[str, str | None], PolicyRule]:
    """``{"policy": [rows]}`` of ``GET /v1/policy`` as rules by (category, error_type); rows
    for a message pattern are kept apart by the guard's caller (the SDK does not template
    messages), so only the rows of whole error classes are kept.  ValueError on garbage."""
    rows = answer.get("policy") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        raise ValueError("the policy answer has no 'policy' list")
    out: dict[tuple[str, str | None], PolicyRule] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise ValueError(f"a policy row is not an object: {row!r:.200}")
        category, action, automate = row.get("category"), row.get("action"), row.get("automate")
        if not isinstance(category, str) or not isinstance(action, str):
            raise ValueError(f"a policy row without category or action: {row!r:.200}")
        if not isinstance(automate, bool):
            raise ValueError(f"the policy row of {category}/{action} has no boolean 'automate'")
        if row.get("pattern") is not None:
            continue
        success = row.get("expected_success")
        trials = row.get("trials")
        rule = PolicyRule(
            category=category,
            error_type=_text(row.get("error_type")),
            pattern=None,
            action=action,
            automate=automate,
            expected_success=None if success is None else _number(success, "expected_success"),
            trials=int(_number(trials, "trials")) if trials is not None else 0,
        )
        out[(rule.category, rule.error_type)] = rule
    return out


class Advisor:
    """Risk and the learned recovery policy of one service, cached from ``faultcast serve``.

    Parameters
    ----------
    url
        Where ``faultcast serve --http`` answers (``http://faultcast:8080``).
    api_key
        A key with the ``read`` scope (sent as ``Authorization: Bearer KEY``).
    service
        The unit this app is (its risk, its policy); None: every unit's risk, the policy of
        all services.
    ttl, jitter
        Fetch every ``ttl`` seconds, each wait drawn within ± ``jitter`` of it (a share), so
        that many app processes do not poll in step.
    timeout
        Seconds one fetch may take (it runs in the background thread, never in a call).
    explore_budget
        The most a share of errors may be explored (tried with an action the policy does not
        yet trust), counted over the last ``explore_window`` errors; 0 never explores.
    fetch
        A callable ``path -> decoded JSON`` instead of HTTP (tests, simulations).
    clock
        Seconds, monotonic: the snapshot's age and the warnings' rate are measured with it.
    background
        Fetch in a daemon thread (started at once).  False: nothing runs by itself; call
        :meth:`refresh` or :meth:`poll` (simulated time).
    stale_after
        A snapshot older than this is dropped back to defaults (default ``10 * ttl``).
    explore_window, seed
        The exploration budget's window (errors) and the seed of its draws.

    Examples
    --------
    >>> answers = {
    ...     "/v1/risk?unit=checkout": {"risk": [{"unit": "checkout", "risk": 0.8,
    ...         "threshold": 0.5, "alert": True, "model_version": "v3"}]},
    ...     "/v1/policy?service=checkout": {"policy": [{"category": "communication",
    ...         "error_type": "TimeoutError", "pattern": None, "action": "failover",
    ...         "automate": True, "expected_success": 0.97, "trials": 400}]},
    ... }
    >>> advisor = Advisor("http://faultcast:8080", service="checkout",
    ...                   fetch=answers.__getitem__, background=False)
    >>> advisor.refresh()
    True
    >>> advisor.at_risk(), advisor.risk().probability
    (True, 0.8)
    >>> d = advisor.decide(TimeoutError("stock timed out"), ["retry_with_backoff", "failover"])
    >>> d.action, d.automate, d.kind
    ('failover', True, 'automate')
    >>> advisor.decide(ValueError("bad amount"), ["dead_letter", "fallback"]).kind
    'ask'
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        service: str | None = None,
        ttl: float = 30.0,
        jitter: float = 0.2,
        timeout: float = 2.0,
        explore_budget: float = 0.05,
        fetch: Fetch | None = None,
        clock: Clock = time.monotonic,
        background: bool = True,
        stale_after: float | None = None,
        explore_window: int = EXPLORE_WINDOW,
        seed: int | None = None,
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be positive seconds, not {ttl!r}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter is a share of the ttl in [0, 1), not {jitter!r}")
        if not 0 <= explore_budget <= 1:
            raise ValueError(
                f"explore_budget is a share of errors in [0, 1], not {explore_budget!r}"
            )
        if explore_window < 1:
            raise ValueError(f"explore_window must be at least 1 error, not {explore_window!r}")
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.service = service
        self.ttl = float(ttl)
        self.jitter = float(jitter)
        self.timeout = float(timeout)
        self.explore_budget = float(explore_budget)
        self.stale_after = float(stale_after) if stale_after is not None else 10.0 * self.ttl
        self.clock: Clock = clock
        self._fetch: Fetch = fetch if fetch is not None else self._http
        self._rng = random.Random(seed)
        self._snapshot = _EMPTY
        self._next_at = -math.inf
        self._warned_at = -math.inf
        #: The last fetch's error (None after a good one).
        self.last_error: str | None = None
        self.fetches = 0
        self.failures = 0
        self._window: deque[bool] = deque(maxlen=explore_window)
        self._explored_in_window = 0
        self._budget_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self.background = background
        self._thread: threading.Thread | None = None
        if background:
            self._start()
            _BACKGROUND.add(self)

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"faultcast-advisor-{self.service or 'all'}", daemon=True
        )
        self._thread.start()

    def _after_fork(self) -> None:
        """In a forked child (a pre-fork web server's worker): the parent's thread is gone and
        its locks may be held for ever; fresh ones, and a thread of the child's own."""
        self._budget_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        if not self._stop.is_set():
            self._start()

    # ------------------------------------------------------------------ fetching
    @property
    def paths(self) -> tuple[str, str]:
        """The two paths fetched (risk, policy)."""
        if self.service is None:
            return "/v1/risk", "/v1/policy"
        from urllib.parse import quote

        name = quote(self.service, safe="")
        return f"/v1/risk?unit={name}", f"/v1/policy?service={name}"

    def _http(self, path: str) -> Any:
        import urllib.request

        headers = {"Accept": "application/json", "User-Agent": "faultcast-sdk-advisor"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            return json.loads(answer.read())

    def refresh(self) -> bool:
        """Fetch risk and policy now (in the caller's thread); True when both were good.  On
        failure the last good snapshot is kept (until stale) and a warning is logged at most
        once a minute.  Never raises."""
        with self._refresh_lock:
            risk_path, policy_path = self.paths
            self.fetches += 1
            try:
                risk = parse_risk(self._fetch(risk_path))
                rules = parse_policy(self._fetch(policy_path))
            except Exception as e:  # unreachable, timed out, HTTP error, garbage: fail open
                self.failures += 1
                self.last_error = f"{type(e).__name__}: {e}"[:300]
                now = self.clock()
                if now - self._warned_at >= WARN_EVERY_S and not self._stop.is_set():
                    self._warned_at = now
                    log.warning(
                        "advisor.fetch_failed",
                        url=self.url,
                        service=self.service,
                        error=self.last_error,
                        fallback="the last good snapshot until stale, then local defaults",
                    )
                return False
            self._snapshot = _Snapshot(risk, rules, self.clock())
            self.last_error = None
            return True

    def _wait(self) -> float:
        return self.ttl * (1.0 + self._rng.uniform(-self.jitter, self.jitter))

    def poll(self) -> bool:
        """Refresh when a fetch is due by ``clock`` (for a loop in simulated time, with
        ``background=False``); True when it fetched."""
        now = self.clock()
        if now < self._next_at:
            return False
        self._next_at = now + self._wait()
        self.refresh()
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            if self._stop.wait(self._wait()):
                return

    def close(self) -> None:
        """Stop the background fetches (waits for none: the thread is a daemon)."""
        self._stop.set()

    def __enter__(self) -> Advisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading (no I/O)
    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if self.clock() - snapshot.at > self.stale_after:
            return _EMPTY
        return snapshot

    @property
    def fresh(self) -> bool:
        """Whether a snapshot younger than ``stale_after`` is in use."""
        return self._current() is not _EMPTY

    def risk(self, unit: str | None = None) -> RiskView | None:
        """The unit's risk (default: this Advisor's service), or None when unknown."""
        name = unit if unit is not None else self.service
        if name is None:
            return None
        snapshot = self._snapshot
        if self.clock() - snapshot.at > self.stale_after:
            return None
        return snapshot.risk.get(name)

    def at_risk(self, unit: str | None = None) -> bool:
        """Whether faultcast's production model alerts on the unit now (False when unknown)."""
        view = self.risk(unit)
        return view is not None and view.alert

    def rule(self, category: str, error_type: str | None) -> PolicyRule | None:
        """The learned rule for an error class (its type, else its whole category)."""
        rules = self._current().rules
        return rules.get((category, error_type)) or rules.get((category, None))

    def _explore(self) -> bool:
        """Whether this error may be explored, counted as explored when so: a draw at
        ``explore_budget``, and the explored share of the window (this error included) stays
        within the budget."""
        if self.explore_budget <= 0 or self._rng.random() >= self.explore_budget:
            return False
        with self._budget_lock:
            window = self._window
            full = len(window) == window.maxlen
            dropped = bool(window[0]) if full else False
            seen = len(window) if full else len(window) + 1
            if self._explored_in_window - int(dropped) + 1 > self.explore_budget * seen:
                return False
            window.append(True)
            self._explored_in_window += 1 - int(dropped)
            return True

    def _count(self, explored: bool) -> None:
        with self._budget_lock:
            window = self._window
            if len(window) == window.maxlen and window[0]:
                self._explored_in_window -= 1
            window.append(explored)
            self._explored_in_window += int(explored)

    def decide(
        self,
        error_or_context: BaseException | Mapping[str, Any],
        actions: Sequence[str],
        default: RecoveryPolicy | None = None,
    ) -> Decision:
        """What to do about an error among ``actions`` (those the caller can carry out).

        ``error_or_context``: the exception, or a guard's context (``category``,
        ``error_type``, ``retryable``).  ``default``: the caller's own policy for when the
        learned one does not say automate (the static preferences by default).
        """
        error_type: str | None
        context: dict[str, Any]
        if isinstance(error_or_context, BaseException):
            info = classify(error_or_context)
            category, error_type, retryable = info.category, info.error_type, info.retryable
            context = {"category": category, "error_type": error_type}
        else:
            category = str(error_or_context.get("category") or "unknown")
            error_type = _text(error_or_context.get("error_type"))
            retryable = bool(error_or_context.get("retryable", True))
            context = {**error_or_context, "category": category}
        if not retryable:  # an open circuit, a spent budget, bad input: calling again is wrong
            actions = [a for a in actions if a not in _RETRIES]
        fallback = default or _STATIC
        static = fallback.choose(context, actions) if actions else None
        if static is not None and static not in actions:
            static = _STATIC.choose(context, actions)
        rule = self.rule(category, error_type)
        if rule is not None and rule.automate and rule.action in actions:
            self._count(False)
            return Decision(
                rule.action,
                True,
                False,
                f"learned policy: {rule.action} works {rule.expected_success or 0:.0%} of the "
                f"time for {error_type or category} errors ({rule.trials} outcomes)",
                rule.expected_success,
            )
        candidates = [a for a in actions if a != static]
        snapshot_known = self._current() is not _EMPTY
        if category != "security" and candidates and snapshot_known and self._explore():
            action = self._rng.choice(candidates)
            return Decision(
                action,
                False,
                True,
                f"exploring {action} for {error_type or category} errors (within the "
                f"{self.explore_budget:.0%} exploration budget); the policy does not "
                "automate this class yet",
            )
        self._count(False)
        if rule is None:
            why = (
                "faultcast is not reachable (local defaults)"
                if not snapshot_known
                else f"no learned policy for {error_type or category} errors"
            )
        elif rule.action not in actions:
            why = f"the learned action {rule.action} is not available here"
        else:
            why = f"the learned policy does not automate {rule.action} yet ({rule.trials} outcomes)"
        return Decision(static, False, False, f"ask a person: {why}; ran the static default")

    @property
    def explored_share(self) -> float:
        """The share of the window's errors that were explored."""
        with self._budget_lock:
            return self._explored_in_window / len(self._window) if self._window else 0.0

    def __repr__(self) -> str:
        state = "fresh" if self.fresh else "defaults"
        return f"Advisor({self.url!r}, service={self.service!r}, {state})"


#: Advisors fetching in the background, restarted in a forked child.
_BACKGROUND: weakref.WeakSet[Advisor] = weakref.WeakSet()


def _restart_after_fork() -> None:
    for advisor in list(_BACKGROUND):
        advisor._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_after_fork)
