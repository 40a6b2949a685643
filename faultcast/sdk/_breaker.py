"""A circuit breaker: closed, open, half-open, with thresholds and a cool-down."""

from __future__ import annotations

import enum
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from faultcast.sdk import _types
from faultcast.sdk._errors import CircuitOpenError, classify
from faultcast.sdk._log import get_logger
from faultcast.sdk._types import Clock

__all__ = ["BreakerState", "CircuitBreaker"]

P = ParamSpec("P")
T = TypeVar("T")

log = get_logger("faultcast.sdk")


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def _counts_as_failure(exc: BaseException) -> bool:
    # The caller's own mistakes (bad input, no permission) say nothing about the dependency.
    return classify(exc).category not in ("data", "security")


class CircuitBreaker:
    """Stop calling a dependency that keeps failing; try it again after a cool-down.

    - **closed**: calls go through; ``failure_threshold`` consecutive failures open it.
    - **open**: calls fail at once with :class:`~faultcast.sdk.CircuitOpenError` (nothing is
      called) until ``cooldown`` seconds have passed, then it is half-open.
    - **half-open**: up to ``half_open_calls`` trial calls go through at a time;
      ``success_threshold`` successes close it, one failure opens it again.

    Data and security errors (the caller's fault) do not count as failures unless
    ``is_failure`` says otherwise.  State changes are logged (``circuit.state_changed``) and
    passed to ``on_change(name, old, new)``.

    Examples
    --------
    >>> from structlog.testing import capture_logs
    >>> from faultcast.sdk import FakeClock
    >>> clock = FakeClock()
    >>> breaker = CircuitBreaker("db", failure_threshold=2, cooldown=10, clock=clock)
    >>> with capture_logs() as logs:
    ...     breaker.record_failure()
    ...     breaker.record_failure()
    ...     first = breaker.state.value, breaker.allow()
    ...     clock.advance(10)
    ...     then = breaker.state.value, breaker.allow()
    ...     breaker.record_success()
    >>> first, then, breaker.state.value
    (('open', False), ('half_open', True), 'closed')
    >>> [e["new_state"] for e in logs]
    ['open', 'half_open', 'closed']
    """

    def __init__(
        self,
        name: str = "default",
        *,
        failure_threshold: int = 5,
        cooldown: float = 30.0,
        half_open_calls: int = 1,
        success_threshold: int = 1,
        is_failure: Callable[[BaseException], bool] | None = None,
        on_change: Callable[[str, BreakerState, BreakerState], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_calls < 1 or success_threshold < 1 or cooldown < 0:
            raise ValueError(
                "a circuit breaker needs failure_threshold, half_open_calls and "
                "success_threshold >= 1 and cooldown >= 0"
            )
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.half_open_calls = half_open_calls
        self.success_threshold = success_threshold
        self.is_failure = is_failure or _counts_as_failure
        self.on_change = on_change
        self.clock: Clock = clock or _types.monotonic
        self._lock = threading.RLock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._successes = 0
        self._in_flight = 0
        self._opened_at = 0.0
        #: (time, old, new) of every change, oldest first (the last 100).
        self.transitions: list[tuple[float, BreakerState, BreakerState]] = []

    # ------------------------------------------------------------------ state
    def _set(self, new: BreakerState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        now = self.clock()
        if new is BreakerState.OPEN:
            self._opened_at = now
        self._failures = self._successes = self._in_flight = 0
        self.transitions.append((now, old, new))
        del self.transitions[:-100]
        log.warning(
            "circuit.state_changed",
            circuit=self.name,
            old_state=old.value,
            new_state=new.value,
            component="circuit_breaker",
        )
        if self.on_change is not None:
            self.on_change(self.name, old, new)

    def _tick(self) -> None:
        if self._state is BreakerState.OPEN and self.clock() - self._opened_at >= self.cooldown:
            self._set(BreakerState.HALF_OPEN)

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose cool-down is over reads half-open)."""
        with self._lock:
            self._tick()
            return self._state

    @property
    def retry_after(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 when not open)."""
        with self._lock:
            self._tick()
            if self._state is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self.cooldown - (self.clock() - self._opened_at))

    def allow(self) -> bool:
        """Whether a call may go through now (in half-open, this takes a trial slot)."""
        with self._lock:
            state = self._state
            if state is BreakerState.CLOSED:
                return True
            self._tick()
            if self._state is BreakerState.OPEN:
                return False
            if self._in_flight < self.half_open_calls:
                self._in_flight += 1
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            if self._state is BreakerState.CLOSED:
                self._failures = 0
                return
            if self._state is BreakerState.HALF_OPEN:
                self._in_flight = max(0, self._in_flight - 1)
                self._successes += 1
                if self._successes >= self.success_threshold:
                    self._set(BreakerState.CLOSED)

    def record_failure(self, exc: BaseException | None = None) -> None:
        """Count a failure (``exc`` that ``is_failure`` rejects counts as a success)."""
        if exc is not None and not self.is_failure(exc):
            self.record_success()
            return
        with self._lock:
            self._tick()
            if self._state is BreakerState.HALF_OPEN:
                self._set(BreakerState.OPEN)
            elif self._state is BreakerState.CLOSED:
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    self._set(BreakerState.OPEN)

    def trip(self) -> None:
        """Open the breaker now (a recovery decided to stop calling the dependency)."""
        with self._lock:
            self._set(BreakerState.OPEN)
            self._opened_at = self.clock()

    def reset(self) -> None:
        """Close the breaker and forget the counts."""
        with self._lock:
            self._set(BreakerState.CLOSED)
            self._failures = 0

    def open_error(self) -> CircuitOpenError:
        return CircuitOpenError(self.name, retry_after=self.retry_after)

    # ------------------------------------------------------------------ calling
    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` through the breaker (raises CircuitOpenError when open)."""
        if not self.allow():
            raise self.open_error()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            self.record_failure(exc)
            raise
        self.record_success()
        return result

    async def acall(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` through the breaker."""
        if not self.allow():
            raise self.open_error()
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            self.record_failure(exc)
            raise
        self.record_success()
        return result

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        """Decorate a function or coroutine function."""
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await self.acall(afn, *args, **kwargs)

            return cast(Callable[P, T], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return self.call(fn, *args, **kwargs)

        return wrapper

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state.value})"
