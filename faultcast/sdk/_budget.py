"""Budgets (cost, quota, tokens, calls): pre-checks, warnings at thresholds, and a graceful
fallback when one is spent."""

from __future__ import annotations

import functools
import inspect
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, TypeVar, cast, overload

from faultcast.sdk import _types
from faultcast.sdk._errors import BudgetError, classify
from faultcast.sdk._events import error_fields
from faultcast.sdk._log import get_logger
from faultcast.sdk._types import Clock

__all__ = ["Budget"]

P = ParamSpec("P")
T = TypeVar("T")

log = get_logger("faultcast.sdk")


class Budget:
    """A budget of some cost (money, tokens, calls) per period, checked before spending.

    :meth:`check` raises :class:`~faultcast.sdk.BudgetError` when a cost would exceed the
    limit, and logs a warning (``budget.threshold``, once per threshold per period) when it
    would cross one of ``warn_at`` (shares of the limit).  :meth:`spend` checks and records.
    :meth:`protect` wraps a function: a spent budget, or a budget error the function raises
    itself (a 429, a quota error), degrades to ``fallback`` instead of failing, and the
    recovery is logged as a faultcast event.

    Parameters
    ----------
    name
        What the budget is for (``"llm-tokens"``); logged.
    limit
        The most that may be spent per period.
    period
        Seconds after which spending starts again from zero; None for a budget that never
        renews.
    warn_at
        Shares of the limit at which to warn.
    on_warning
        Also called with ``(budget, share)`` when a threshold is crossed.

    Examples
    --------
    >>> from structlog.testing import capture_logs
    >>> budget = Budget("llm", limit=100, warn_at=(0.8,))
    >>> budget.spend(70); budget.remaining
    30.0
    >>> budget.check(40)
    Traceback (most recent call last):
    ...
    faultcast.sdk.BudgetError: budget 'llm' would be exceeded: 70 + 40 > 100; degrade ...
    >>> @budget.protect(cost=50, fallback=lambda prompt: "cached answer")
    ... def ask(prompt):
    ...     return "fresh answer"
    >>> with capture_logs() as logs:
    ...     ask("hello")
    'cached answer'
    >>> logs[0]["recovery_action"], logs[0]["recovery_outcome"], logs[0]["category"]
    ('fallback', 'succeeded', 'budget')
    """

    def __init__(
        self,
        name: str,
        limit: float,
        *,
        period: float | None = None,
        warn_at: Sequence[float] = (0.5, 0.8, 0.9),
        on_warning: Callable[[Budget, float], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not limit > 0:
            raise ValueError(f"a budget's limit must be positive, not {limit!r}")
        if period is not None and not period > 0:
            raise ValueError(f"a budget's period must be positive seconds, not {period!r}")
        if any(not 0 < w <= 1 for w in warn_at):
            raise ValueError(f"warn_at takes shares of the limit in (0, 1], not {warn_at!r}")
        self.name = name
        self.limit = float(limit)
        self.period = period
        self.warn_at = tuple(sorted(warn_at))
        self.on_warning = on_warning
        self.clock: Clock = clock or _types.monotonic
        self._lock = threading.Lock()
        self._origin = self.clock()
        self._window = 0
        self._used = 0.0
        self._warned: set[float] = set()

    # ------------------------------------------------------------------ state
    def _roll(self) -> None:
        if self.period is None:
            return
        window = math.floor((self.clock() - self._origin) / self.period)
        if window != self._window:
            self._window = window
            self._used = 0.0
            self._warned.clear()

    @property
    def used(self) -> float:
        with self._lock:
            self._roll()
            return self._used

    @property
    def remaining(self) -> float:
        with self._lock:
            self._roll()
            return max(0.0, self.limit - self._used)

    @property
    def share_used(self) -> float:
        """Share of the limit spent this period (0..1)."""
        return self.used / self.limit

    def reset(self) -> None:
        with self._lock:
            self._used = 0.0
            self._warned.clear()

    # ------------------------------------------------------------------ checks
    def _check_locked(self, cost: float) -> None:
        self._roll()
        after = self._used + cost
        if after > self.limit:
            raise BudgetError(
                f"budget {self.name!r} would be exceeded: {self._used:g} + {cost:g} > "
                f"{self.limit:g}"
                + (f" for this {self.period:g} s period" if self.period else "")
                + "; degrade (a fallback), wait for the next period, or raise the limit",
                context={
                    "budget": self.name,
                    "used": self._used,
                    "cost": cost,
                    "limit": self.limit,
                },
            )
        share = after / self.limit
        for threshold in self.warn_at:
            if share >= threshold and threshold not in self._warned:
                self._warned.add(threshold)
                log.warning(
                    f"budget {self.name} at {share:.0%} of its limit",
                    category="budget",
                    component="budget",
                    budget=self.name,
                    budget_pct=round(100 * share, 1),
                    threshold_pct=round(100 * threshold, 1),
                    used=after,
                    limit=self.limit,
                )
                if self.on_warning is not None:
                    self.on_warning(self, share)

    def check(self, cost: float = 1.0) -> None:
        """Raise BudgetError when ``cost`` would exceed the limit; warn at thresholds."""
        with self._lock:
            self._check_locked(cost)

    def spend(self, cost: float = 1.0) -> None:
        """Check, then record ``cost`` as spent."""
        with self._lock:
            self._check_locked(cost)
            self._used += cost

    def refund(self, cost: float) -> None:
        """Give back what a call that did not happen had spent."""
        with self._lock:
            self._used = max(0.0, self._used - cost)

    # ------------------------------------------------------------------ graceful fallback
    def _degrade(self, exc: BaseException, start: float, ok: bool) -> None:
        fields = error_fields(exc, classify(exc), operation=f"budget {self.name}")
        method = log.warning if ok else log.error
        method(
            fields.pop("event"),
            **fields,
            component="budget",
            budget=self.name,
            failure=not ok,
            recovery_action="fallback",
            recovery_outcome="succeeded" if ok else "failed",
            retry_count=0,
            recovery_ms=round((time.perf_counter() - start) * 1000.0, 3),
        )

    @overload
    def protect(self, fn: Callable[P, T], /) -> Callable[P, T]: ...
    @overload
    def protect(
        self,
        fn: None = None,
        /,
        *,
        cost: float | Callable[..., float] = 1.0,
        fallback: Callable[..., Any] | None = None,
    ) -> Callable[[Callable[P, T]], Callable[P, T]]: ...
    def protect(
        self,
        fn: Callable[P, T] | None = None,
        /,
        *,
        cost: float | Callable[..., float] = 1.0,
        fallback: Callable[..., Any] | None = None,
    ) -> Callable[P, T] | Callable[[Callable[P, T]], Callable[P, T]]:
        """Decorator: spend ``cost`` (a number, or a function of the call's arguments) before
        each call; when the budget is spent, or the call raises a budget error, return
        ``fallback(*args, **kwargs)`` instead (re-raise when there is none).  Sync or async
        (an async fallback is awaited)."""

        def decorate(func: Callable[P, T]) -> Callable[P, T]:
            def price(args: tuple[Any, ...], kwargs: dict[str, Any]) -> float:
                return float(cost(*args, **kwargs)) if callable(cost) else float(cost)

            if inspect.iscoroutinefunction(func):
                afunc = cast(Callable[..., Awaitable[Any]], func)

                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    amount = price(args, kwargs)
                    try:
                        self.spend(amount)
                        return await afunc(*args, **kwargs)
                    except Exception as exc:
                        if classify(exc).category != "budget" or fallback is None:
                            raise
                        start = time.perf_counter()
                        try:
                            value = fallback(*args, **kwargs)
                            if inspect.isawaitable(value):
                                value = await value
                        except Exception:
                            self._degrade(exc, start, ok=False)
                            raise
                        self._degrade(exc, start, ok=True)
                        return value

                return cast(Callable[P, T], async_wrapper)

            @functools.wraps(func)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
                amount = price(args, kwargs)
                try:
                    self.spend(amount)
                    return func(*args, **kwargs)
                except Exception as exc:
                    if classify(exc).category != "budget" or fallback is None:
                        raise
                    start = time.perf_counter()
                    try:
                        value = fallback(*args, **kwargs)
                    except Exception:
                        self._degrade(exc, start, ok=False)
                        raise
                    self._degrade(exc, start, ok=True)
                    return cast(T, value)

            return wrapper

        if fn is not None:
            return decorate(fn)
        return decorate

    def __repr__(self) -> str:
        return f"Budget({self.name!r}, used={self.used:g}, limit={self.limit:g})"
