"""Retries: exponential backoff with full jitter, a deadline, retryable errors only, and a
retry budget shared by callers so that a failing dependency cannot cause a retry storm."""

from __future__ import annotations

import functools
import inspect
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar, cast, overload

from faultcast.sdk import _types
from faultcast.sdk._errors import classify
from faultcast.sdk._events import error_fields
from faultcast.sdk._log import get_logger
from faultcast.sdk._types import AsyncSleep, Clock, Sleep

__all__ = ["Retry", "RetryBudget", "RetryState", "retry"]

P = ParamSpec("P")
T = TypeVar("T")

log = get_logger("faultcast.sdk")


class RetryBudget:
    """A token bucket of retries shared by every caller of a dependency.

    Each first attempt deposits ``ratio`` tokens, time adds ``min_per_second`` tokens per
    second, the bucket holds at most ``capacity``, and each retry takes one token.  When the
    bucket is empty a retry is refused and the caller gets the error at once.  So however
    many callers fail, retries stay below ``capacity + ratio * requests +
    min_per_second * seconds``: at 100% failure the dependency sees at most ``1 + ratio``
    times its normal load, not ``attempts`` times.

    Parameters
    ----------
    ratio
        Retries allowed per request, in the long run (0.2: one retry per five requests).
    min_per_second
        Retries allowed per second however few requests there are (so a quiet service can
        still retry).
    capacity
        The most tokens the bucket holds (the largest burst of retries); it starts full.
    clock
        Seconds, monotonic (inject a fake in tests).

    Examples
    --------
    >>> budget = RetryBudget(ratio=0.5, min_per_second=0.0, capacity=1.0, clock=lambda: 0.0)
    >>> budget.try_acquire(), budget.try_acquire()
    (True, False)
    >>> budget.record_request(); budget.record_request()
    >>> budget.try_acquire(), budget.retries, budget.refused
    (True, 2, 1)
    """

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 1.0,
        capacity: float = 10.0,
        *,
        clock: Clock | None = None,
    ) -> None:
        if ratio < 0 or min_per_second < 0 or capacity < 1:
            raise ValueError(
                "a retry budget needs ratio >= 0, min_per_second >= 0 and capacity >= 1 "
                f"(got {ratio}, {min_per_second}, {capacity})"
            )
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.capacity = capacity
        self.clock: Clock = clock or _types.monotonic
        self._tokens = float(capacity)
        self._last = self.clock()
        self._lock = threading.Lock()
        #: First attempts recorded, retries granted and retries refused.
        self.requests = 0
        self.retries = 0
        self.refused = 0

    @property
    def tokens(self) -> float:
        """Retries available now."""
        with self._lock:
            self._refill()
            return self._tokens

    def _refill(self) -> None:
        now = self.clock()
        if now > self._last:
            self._tokens = min(
                self.capacity, self._tokens + (now - self._last) * self.min_per_second
            )
        self._last = now

    def record_request(self) -> None:
        """A first attempt was made (deposits ``ratio`` tokens)."""
        with self._lock:
            self.requests += 1
            self._tokens = min(self.capacity, self._tokens + self.ratio)

    def try_acquire(self) -> bool:
        """Take a token for one retry; False (and the retry must not happen) when empty."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                self.retries += 1
                return True
            self.refused += 1
            return False

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio}, min_per_second={self.min_per_second}, "
            f"capacity={self.capacity}, tokens={self.tokens:.2f})"
        )


@dataclass(slots=True)
class RetryState:
    """How one call went: attempts made, the delays slept, and why it stopped retrying."""

    attempts: int = 0
    delays: list[float] = field(default_factory=list)
    gave_up: str | None = None

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)


class Retry:
    """Retry a call on retryable errors with exponential backoff and full jitter.

    The delay before retry ``k`` (1-based) is uniform in ``[0, min(max_delay, base_delay *
    multiplier ** (k - 1))]`` (AWS's "full jitter": callers that failed together do not retry
    together).  It stops at ``attempts`` attempts, when the next sleep would pass the
    ``deadline`` (seconds since the first attempt), when the error is not retryable, or when
    the shared :class:`RetryBudget` refuses; then the last error is raised with a note saying
    why.  Security violations are never retried (and are logged).

    Use it as a decorator (sync or ``async def``), or call :meth:`call` / :meth:`acall`.

    Parameters
    ----------
    attempts
        Attempts in all, the first included.
    base_delay, max_delay, multiplier
        The backoff: seconds before the first retry (at most), the cap, the growth.
    deadline
        Seconds from the first attempt after which no retry starts; None for no deadline.
    retry_on
        Which errors to retry: exception classes, or a predicate; default: those
        :func:`~faultcast.sdk.classify` calls retryable.
    budget
        A :class:`RetryBudget` shared with other callers of the same dependency.
    clock, sleep, async_sleep
        Injectable time (tests pass a :class:`~faultcast.sdk.FakeClock`).
    seed
        Seed of the jitter.

    Examples
    --------
    >>> from faultcast.sdk import FakeClock
    >>> clock = FakeClock()
    >>> calls = []
    >>> @Retry(attempts=4, base_delay=0.1, clock=clock, sleep=clock.sleep, seed=1)
    ... def flaky():
    ...     calls.append(clock())
    ...     if len(calls) < 3:
    ...         raise ConnectionResetError("peer reset")
    ...     return "ok"
    >>> flaky(), len(calls), len(clock.slept), all(d <= 0.2 for d in clock.slept)
    ('ok', 3, 2, True)
    """

    def __init__(
        self,
        attempts: int = 3,
        *,
        base_delay: float = 0.1,
        max_delay: float = 10.0,
        multiplier: float = 2.0,
        deadline: float | None = None,
        retry_on: tuple[type[BaseException], ...]
        | type[BaseException]
        | Callable[[BaseException], bool]
        | None = None,
        budget: RetryBudget | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        async_sleep: AsyncSleep | None = None,
        seed: int | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        if base_delay < 0 or max_delay < 0 or multiplier < 1:
            raise ValueError("backoff needs base_delay >= 0, max_delay >= 0 and multiplier >= 1")
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.multiplier = multiplier
        self.deadline = deadline
        self.retry_on = retry_on
        self.budget = budget
        self.clock: Clock = clock or _types.monotonic
        self.sleep: Sleep = sleep or _types.sleep
        self.async_sleep: AsyncSleep = async_sleep or _types.async_sleep
        self.seed = seed
        self._rng = random.Random(seed)

    # ------------------------------------------------------------------ decisions
    def is_retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` may be retried under this policy (never a security violation)."""
        info = classify(exc)
        if info.category == "security":
            return False
        rule = self.retry_on
        if rule is None:
            return info.retryable
        if isinstance(rule, type | tuple):
            return isinstance(exc, rule)
        return bool(rule(exc))

    def backoff(self, retry_number: int) -> float:
        """The (jittered) seconds to wait before retry ``retry_number`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * self.multiplier ** (retry_number - 1))
        return self._rng.uniform(0.0, cap) if cap > 0 else 0.0

    def _next_delay(
        self, exc: BaseException, state: RetryState, start: float, log_security: bool
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up (noted on ``exc``)."""
        reason: str | None = None
        delay = 0.0
        if not self.is_retryable(exc):
            reason = "not retryable"
            if log_security and classify(exc).category == "security":
                _log_security(exc)
        elif state.attempts >= self.attempts:
            reason = f"{self.attempts} attempts made"
        else:
            delay = self.backoff(state.attempts)
            if self.deadline is not None and self.clock() + delay - start > self.deadline:
                reason = f"the {self.deadline:g} s deadline would pass"
            elif self.budget is not None and not self.budget.try_acquire():
                reason = "the retry budget is spent"
        if reason is not None:
            state.gave_up = reason
            if state.attempts > 1 or reason != "not retryable":
                exc.add_note(f"faultcast: gave up after {state.attempts} attempt(s): {reason}")
            return None
        state.delays.append(delay)
        return delay

    # ------------------------------------------------------------------ running
    def run(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        state: RetryState | None = None,
        first_error: Exception | None = None,
        log_security: bool = True,
    ) -> T:
        """Call ``fn(*args, **kwargs)`` with retries; ``state`` records how it went.

        ``first_error``: the first attempt was already made and failed with it.
        """
        state = state if state is not None else RetryState()
        kwargs = kwargs or {}
        start = self.clock()
        error = first_error
        if error is None and self.budget is not None:
            self.budget.record_request()
        while True:
            if error is not None:
                if state.attempts == 0:
                    state.attempts = 1
                delay = self._next_delay(error, state, start, log_security)
                if delay is None:
                    raise error
                if delay > 0:
                    self.sleep(delay)
            state.attempts += 1
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                error = exc

    async def arun(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        state: RetryState | None = None,
        first_error: Exception | None = None,
        log_security: bool = True,
    ) -> T:
        """:meth:`run` for a coroutine function (sleeps with ``async_sleep``)."""
        state = state if state is not None else RetryState()
        kwargs = kwargs or {}
        start = self.clock()
        error = first_error
        if error is None and self.budget is not None:
            self.budget.record_request()
        while True:
            if error is not None:
                if state.attempts == 0:
                    state.attempts = 1
                delay = self._next_delay(error, state, start, log_security)
                if delay is None:
                    raise error
                if delay > 0:
                    await self.async_sleep(delay)
            state.attempts += 1
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:
                error = exc

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` with retries."""
        return self.run(fn, args, kwargs)

    async def acall(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` with retries."""
        return await self.arun(fn, args, kwargs)

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        """Decorate a function or coroutine function."""
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await self.arun(afn, args, kwargs)

            return cast(Callable[P, T], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return self.run(fn, args, kwargs)

        return wrapper

    def __repr__(self) -> str:
        return (
            f"Retry(attempts={self.attempts}, base_delay={self.base_delay}, "
            f"max_delay={self.max_delay}, deadline={self.deadline})"
        )


def _log_security(exc: BaseException) -> None:
    fields = error_fields(exc, classify(exc))
    log.error(fields.pop("event"), **fields, failure=True)


@overload
def retry(fn: Callable[P, T], /) -> Callable[P, T]: ...
@overload
def retry(
    fn: None = None,
    /,
    *,
    attempts: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 10.0,
    multiplier: float = 2.0,
    deadline: float | None = None,
    retry_on: Any = None,
    budget: RetryBudget | None = None,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    async_sleep: AsyncSleep | None = None,
    seed: int | None = None,
) -> Retry: ...
def retry(fn: Callable[P, T] | None = None, /, **options: Any) -> Callable[P, T] | Retry:
    """Retry decorator: ``@retry`` or ``@retry(attempts=5, deadline=2.0, budget=b)``.

    See :class:`Retry` for the options.

    Examples
    --------
    >>> @retry(attempts=3, base_delay=0)
    ... def fetch(box=[]):
    ...     box.append(1)
    ...     if len(box) < 2:
    ...         raise TimeoutError("slow")
    ...     return len(box)
    >>> fetch()
    2
    >>> @retry
    ... def parse():
    ...     raise ValueError("not a number")
    >>> parse()
    Traceback (most recent call last):
    ...
    ValueError: not a number
    """
    policy = Retry(**options)
    if fn is not None:
        return policy(fn)
    return policy
