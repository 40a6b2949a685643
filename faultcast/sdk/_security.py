"""Security violations: never retried, always logged, and a lockout for repeat offenders."""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from faultcast.sdk import _types
from faultcast.sdk._errors import LockedOutError, SecurityViolationError, classify
from faultcast.sdk._events import error_fields
from faultcast.sdk._log import get_logger
from faultcast.sdk._types import Clock

__all__ = ["Lockout"]

P = ParamSpec("P")
T = TypeVar("T")

log = get_logger("faultcast.sdk")


class Lockout:
    """Lock a principal (user, API key id, source address) out after repeated violations.

    :meth:`record` logs every violation (always, as an error event of category
    ``security``) and counts it against its principal; ``threshold`` violations within
    ``window`` seconds lock the principal out for ``cooldown`` seconds, logged with
    ``recovery_action="lockout"``.  :meth:`check` raises
    :class:`~faultcast.sdk.LockedOutError` for a locked principal.  :meth:`call` does both
    around a call, and never retries it.  At most ``max_principals`` are tracked (the least
    recently seen are forgotten first), so an attack from many addresses cannot exhaust
    memory.

    Examples
    --------
    >>> from structlog.testing import capture_logs
    >>> from faultcast.sdk import FakeClock
    >>> clock = FakeClock()
    >>> lockout = Lockout(threshold=3, window=60, cooldown=300, clock=clock)
    >>> with capture_logs() as logs:
    ...     tripped = [lockout.record("10.0.0.9") for _ in range(3)]
    >>> tripped, [e.get("recovery_action") for e in logs]
    ([False, False, True], [None, None, 'lockout'])
    >>> lockout.is_locked("10.0.0.9"), lockout.is_locked("10.0.0.10")
    (True, False)
    >>> clock.advance(300)
    >>> lockout.is_locked("10.0.0.9")
    False
    """

    def __init__(
        self,
        threshold: int = 5,
        window: float = 60.0,
        cooldown: float = 300.0,
        *,
        max_principals: int = 100_000,
        clock: Clock | None = None,
    ) -> None:
        if threshold < 1 or window <= 0 or cooldown < 0 or max_principals < 1:
            raise ValueError(
                "a lockout needs threshold >= 1, window > 0, cooldown >= 0, max_principals >= 1"
            )
        self.threshold = threshold
        self.window = window
        self.cooldown = cooldown
        self.max_principals = max_principals
        self.clock: Clock = clock or _types.monotonic
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._locked_until: dict[str, float] = {}
        #: Violations recorded and lockouts tripped.
        self.violations = 0
        self.lockouts = 0

    def locked_for(self, principal: str) -> float:
        """Seconds of lockout left for ``principal`` (0 when not locked out)."""
        with self._lock:
            until = self._locked_until.get(principal)
            if until is None:
                return 0.0
            left = until - self.clock()
            if left <= 0:
                del self._locked_until[principal]
                return 0.0
            return left

    def is_locked(self, principal: str) -> bool:
        return self.locked_for(principal) > 0

    def check(self, principal: str, *, log_event: bool = True) -> None:
        """Raise LockedOutError when ``principal`` is locked out (logged unless
        ``log_event=False``: ``guard`` logs it with its own event)."""
        left = self.locked_for(principal)
        if left > 0:
            error = LockedOutError(
                f"{principal} is locked out for {left:.0f} s more after repeated security "
                "violations",
                context={"principal": principal},
            )
            error.retry_after = left
            if not log_event:
                raise error
            fields = error_fields(error, classify(error))
            log.warning(
                fields.pop("event"),
                **fields,
                principal=principal,
                failure=False,
                component="security",
            )
            raise error

    def record(
        self,
        principal: str | None,
        error: BaseException | None = None,
        *,
        log_event: bool = True,
        **fields: Any,
    ) -> bool:
        """Log a violation by ``principal`` and count it; True when this trips the lockout.

        ``log_event=False`` leaves the logging to the caller (``guard`` logs one event per
        failure); ``fields`` go into the event."""
        exc = error if error is not None else SecurityViolationError("security violation")
        with self._lock:
            self.violations += 1
            tripped = False
            if principal is not None:
                now = self.clock()
                times = self._seen.pop(principal, None) or deque()
                times.append(now)
                while times and times[0] <= now - self.window:
                    times.popleft()
                self._seen[principal] = times
                while len(self._seen) > self.max_principals:
                    self._seen.popitem(last=False)
                if len(times) >= self.threshold and principal not in self._locked_until:
                    self._locked_until[principal] = now + self.cooldown
                    times.clear()
                    tripped = True
                    self.lockouts += 1
        if log_event:
            event = error_fields(exc, classify(exc))
            event.update(fields)
            event.setdefault("component", "security")
            event["principal"] = principal
            if tripped:
                event.update(
                    failure=False,
                    recovery_action="lockout",
                    recovery_outcome="succeeded",
                    retry_count=0,
                    recovery_ms=0.0,
                    lockout_s=self.cooldown,
                )
            log.error(event.pop("event"), **event)
        return tripped

    def call(self, principal: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` for ``principal``: refused while locked out; a security
        violation it raises is recorded and re-raised, never retried."""
        self.check(principal)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if classify(exc).category == "security":
                self.record(principal, exc)
            raise

    async def acall(
        self, principal: str, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """:meth:`call` for a coroutine function."""
        self.check(principal)
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            if classify(exc).category == "security":
                self.record(principal, exc)
            raise

    def protect(self, principal: Callable[..., str]) -> Callable[[Callable[P, T]], Callable[P, T]]:
        """Decorator: ``principal(*args, **kwargs)`` names who is calling; see :meth:`call`."""

        def decorate(fn: Callable[P, T]) -> Callable[P, T]:
            if inspect.iscoroutinefunction(fn):
                afn = cast(Callable[..., Awaitable[Any]], fn)

                @functools.wraps(fn)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    return await self.acall(principal(*args, **kwargs), afn, *args, **kwargs)

                return cast(Callable[P, T], async_wrapper)

            @functools.wraps(fn)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
                return self.call(principal(*args, **kwargs), fn, *args, **kwargs)

            return wrapper

        return decorate

    def __repr__(self) -> str:
        return (
            f"Lockout(threshold={self.threshold}, window={self.window}, cooldown={self.cooldown})"
        )
