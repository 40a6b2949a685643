"""``guard``: classify a failure, choose a recovery, carry it out, log one event."""

from __future__ import annotations

import contextvars
import functools
import inspect
import math
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar, cast, overload

from faultcast.sdk import _types
from faultcast.sdk._advisor import Advisor, Decision, RiskView
from faultcast.sdk._breaker import CircuitBreaker
from faultcast.sdk._buffer import StreamBuffer
from faultcast.sdk._errors import CircuitOpenError, ErrorInfo, classify
from faultcast.sdk._events import error_fields
from faultcast.sdk._log import get_logger
from faultcast.sdk._metrics import RecoveryMetrics
from faultcast.sdk._metrics import metrics as default_metrics
from faultcast.sdk._policy import RecoveryPolicy, StaticPolicy
from faultcast.sdk._preempt import Preempt
from faultcast.sdk._retry import Retry, RetryBudget, RetryState
from faultcast.sdk._security import Lockout
from faultcast.sdk._types import AsyncSleep, Clock, Sleep

__all__ = ["Guard", "GuardScope", "guard"]

P = ParamSpec("P")
T = TypeVar("T")

#: Actions the guard carries out itself (others are ``handlers`` the application gives).
BUILT_IN_ACTIONS: Final[tuple[str, ...]] = (
    "retry",
    "retry_with_backoff",
    "failover",
    "fallback",
    "circuit_break",
    "buffer_replay",
    "dead_letter",
    "lockout",
)
_RETRIES: Final[frozenset[str]] = frozenset({"retry", "retry_with_backoff"})
_STATIC = StaticPolicy()
#: Recent error rate: exponentially decayed count with this time constant (seconds).
RATE_WINDOW_S: Final[float] = 300.0


class _ErrorRate:
    """Errors per minute over about the last five minutes (an exponentially decayed count)."""

    __slots__ = ("_last", "_lock", "_value")

    def __init__(self) -> None:
        self._value = 0.0
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, now: float) -> float:
        with self._lock:
            self._value = self._value * math.exp(-(now - self._last) / RATE_WINDOW_S) + 1.0
            self._last = now
            return self._value * 60.0 / RATE_WINDOW_S


def _first_argument(*args: Any, **kwargs: Any) -> Any:
    if args:
        return args[0]
    if len(kwargs) == 1:
        return next(iter(kwargs.values()))
    return kwargs


@dataclass(slots=True)
class _Outcome:
    #: The action being tried, whether the call was recovered in the end, retries made.
    action: str | None = None
    succeeded: bool = False
    retries: int = 0
    #: The first action chosen and whether it worked: what the event records (a follow-up
    #: after a failed retry goes to ``recovery_chain``), so that outcomes learned from the
    #: log are those of the actions chosen, failures included.
    first_action: str | None = None
    first_ok: bool | None = None
    #: Who chose the first action: ``automate``, ``explore``, ``ask`` (an Advisor's
    #: decision), ``static`` (the guard's own policy; no Advisor).
    decision: str = "static"
    #: The unit was at risk: retries use the pre-emptive deadline.
    at_risk: bool = False

    def step(self, ok: bool) -> None:
        if self.first_action is None:
            self.first_action, self.first_ok = self.action, ok


class GuardScope:
    """What ``with guard(...) as scope`` gives: set ``scope.result``; on a recovered failure
    it holds the fallback's value.  ``error`` is the exception the block raised, if any."""

    __slots__ = ("error", "recovered", "result")

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.recovered = False


class Guard:
    """Recovery around a call: classify the failure, choose a recovery, do it, log one event.

    Made by :func:`guard`; see there.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        policy: RecoveryPolicy | None = None,
        learn: bool = True,
        attempts: int = 3,
        base_delay: float = 0.1,
        max_delay: float = 10.0,
        deadline: float | None = None,
        budget: RetryBudget | None = None,
        breaker: CircuitBreaker | None = None,
        fallback: Callable[..., Any] | None = None,
        failover: Callable[..., Any] | None = None,
        buffer: StreamBuffer[Any] | None = None,
        dead_letter: Callable[[Any, BaseException], Any] | None = None,
        record: Callable[..., Any] | None = None,
        lockout: Lockout | None = None,
        principal: Callable[..., str | None] | None = None,
        handlers: Mapping[str, Callable[[BaseException], Any]] | None = None,
        service: str | None = None,
        host: str | None = None,
        component: str | None = None,
        session_key: Callable[..., str | None] | None = None,
        fields: Mapping[str, Any] | None = None,
        exc_info: bool = True,
        logger: Any = None,
        metrics: RecoveryMetrics | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        async_sleep: AsyncSleep | None = None,
        seed: int | None = None,
        advisor: Advisor | None = None,
        preempt: Preempt | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self.advisor = advisor
        self.preempt = preempt
        if preempt is not None:
            needs = {"fallback": fallback, "probe": fallback, "buffer": buffer}
            for measure in preempt.measures:
                if measure in needs and needs[measure] is None:
                    given = "buffer" if measure == "buffer" else "fallback"
                    raise ValueError(f"Preempt({measure}=...) needs the guard's {given}=")
        self.learn = learn
        self.attempts = attempts
        self.budget = budget
        self.breaker = breaker
        self.fallback = fallback
        self.failover = failover
        self.buffer = buffer
        self.dead_letter = dead_letter
        self.record = record or _first_argument
        self.lockout = lockout
        self.principal = principal
        self.handlers = dict(handlers or {})
        clash = set(self.handlers) & set(BUILT_IN_ACTIONS)
        if clash:
            raise ValueError(f"handlers may not replace the built-in actions {sorted(clash)}")
        self.session_key = session_key
        self.exc_info = exc_info
        self.logger = logger if logger is not None else get_logger("faultcast.sdk")
        self.metrics = metrics if metrics is not None else default_metrics
        self.clock: Clock = clock or _types.monotonic
        self.sleep: Sleep = sleep or _types.sleep
        self.async_sleep: AsyncSleep = async_sleep or _types.async_sleep
        common: dict[str, Any] = {
            "budget": budget,
            "clock": self.clock,
            "sleep": self.sleep,
            "async_sleep": self.async_sleep,
            "seed": seed,
        }
        self._retry_now = Retry(attempts, base_delay=0.0, deadline=deadline, **common)
        self._retry_backoff = Retry(
            attempts, base_delay=base_delay, max_delay=max_delay, deadline=deadline, **common
        )
        short = preempt.deadline if preempt is not None else None
        self._retry_now_at_risk = (
            Retry(attempts, base_delay=0.0, deadline=short, **common) if short else self._retry_now
        )
        self._retry_backoff_at_risk = (
            Retry(attempts, base_delay=base_delay, max_delay=max_delay, deadline=short, **common)
            if short
            else self._retry_backoff
        )
        self._probes = (
            threading.BoundedSemaphore(preempt.probe)
            if preempt is not None and preempt.probe is not None
            else None
        )
        static: dict[str, Any] = {"service": service, "host": host, "component": component}
        static.update(fields or {})
        self._static = {k: v for k, v in static.items() if v is not None}
        unit = self._static.get("service", advisor.service if advisor is not None else None)
        self._unit: str | None = None if unit is None else str(unit)
        self._rate = _ErrorRate()
        self._scope: contextvars.ContextVar[GuardScope | None] = contextvars.ContextVar(
            "faultcast_guard_scope", default=None
        )

    # ------------------------------------------------------------------ choosing
    def _actions(self, info: ErrorInfo, can_rerun: bool) -> list[str]:
        if info.category == "security":
            return []  # never retried; the lockout is recorded separately
        actions: list[str] = []
        if can_rerun and info.retryable and self.attempts > 1:
            actions += ["retry_with_backoff", "retry"]
        if self.failover is not None and can_rerun:
            actions.append("failover")
        if self.fallback is not None:
            actions.append("fallback")
            if self.breaker is not None:
                actions.append("circuit_break")
        if self.buffer is not None and can_rerun:
            actions.append("buffer_replay")
        if self.dead_letter is not None and can_rerun:
            actions.append("dead_letter")
        if can_rerun:
            actions += list(self.handlers)
        return actions

    def _context(self, exc: BaseException, info: ErrorInfo, message: str) -> dict[str, Any]:
        return {
            "category": info.category,
            "error_type": info.error_type,
            "message": message,
            "service": self._static.get("service"),
            "component": self._static.get("component"),
            "operation": self.name,
            "recent_error_rate": self._rate.add(self.clock()),
        }

    def _decide(self, context: Mapping[str, Any], actions: list[str], outcome: _Outcome) -> None:
        """The first action for an error, and who chose it (an Advisor, else the policy)."""
        if self.advisor is None or not actions:
            outcome.action = self._choose(context, actions)
            return
        decision: Decision = self.advisor.decide(context, actions, default=self.policy)
        outcome.action, outcome.decision = decision.action, decision.kind

    @property
    def unit(self) -> str | None:
        """The unit whose risk counts: the guard's ``service``, else the Advisor's."""
        return self._unit

    def _retry(self, action: str, outcome: _Outcome) -> Retry:
        if outcome.at_risk:
            return (
                self._retry_backoff_at_risk
                if action == "retry_with_backoff"
                else self._retry_now_at_risk
            )
        return self._retry_backoff if action == "retry_with_backoff" else self._retry_now

    def _choose(self, context: Mapping[str, Any], actions: list[str]) -> str | None:
        if not actions:
            return None
        if self.policy is not None:
            action = self.policy.choose(context, actions)
            if action is not None and action in actions:
                return action
        return _STATIC.choose(context, actions)

    def _learn(self, context: Mapping[str, Any], outcome: _Outcome) -> None:
        if self.learn and outcome.action is not None and self.policy is not None:
            learner = getattr(self.policy, "learn_one", None)
            if learner is not None:
                learner(context, outcome.action, outcome.succeeded)

    # ------------------------------------------------------------------ the event
    def _emit(
        self,
        exc: BaseException,
        info: ErrorInfo,
        fields: dict[str, Any],
        outcome: _Outcome,
        start: float,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        chain: list[str] | None = None,
    ) -> None:
        elapsed_ms = (self.clock() - start) * 1000.0
        message = fields.pop("event")
        fields.update(self._static)
        if self.name:
            fields["operation"] = self.name
        if self.session_key is not None:
            key = self.session_key(*args, **kwargs)
            if key is not None:
                fields["session_key"] = key
        fields["failure"] = not outcome.succeeded
        # Who chose: ``automated`` only when the SDK ran the learned policy's automated action.
        fields["automated"] = outcome.decision == "automate" and outcome.action is not None
        fields["recovery_decision"] = outcome.decision
        if outcome.at_risk:
            fields["at_risk"] = True
        action = outcome.first_action or outcome.action
        ok = outcome.first_ok if outcome.first_ok is not None else outcome.succeeded
        result = None if action is None else ("succeeded" if ok else "failed")
        if action is not None:
            fields["recovery_action"] = action
            fields["recovery_outcome"] = result
            fields["retry_count"] = outcome.retries
            fields["recovery_ms"] = round(elapsed_ms, 3)
            done = chain or []
            steps = [*done, f"{outcome.action}:succeeded"] if outcome.succeeded else done
            if len(steps) > 1:
                fields["recovery_chain"] = steps
        if outcome.succeeded:
            method = self.logger.warning
        else:
            method = self.logger.critical if info.severity == "critical" else self.logger.error
            if self.exc_info:
                fields["exc_info"] = exc
        method(message, **fields)
        self.metrics.record(
            info.category,
            info.error_type,
            action,
            result,
            outcome.retries,
            elapsed_ms,
        )

    def _security(
        self, exc: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _Outcome:
        if self.lockout is None:
            return _Outcome()
        who = self.principal(*args, **kwargs) if self.principal is not None else None
        tripped = self.lockout.record(who, exc, log_event=False)
        return _Outcome("lockout", False, 0, "lockout", True) if tripped else _Outcome()

    def _security_outcome(
        self, exc: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _Outcome:
        outcome = self._security(exc, args, kwargs)
        if self.advisor is not None:
            outcome.decision = "ask"  # never automated, never explored: a person looks
        return outcome

    # ------------------------------------------------------------------ sync
    def _before(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.lockout is not None and self.principal is not None:
            who = self.principal(*args, **kwargs)
            if who is not None:
                self.lockout.check(who, log_event=False)
        if self.breaker is not None and not self.breaker.allow():
            raise self.breaker.open_error()

    def _succeeded(self) -> None:
        if self.breaker is not None:
            self.breaker.record_success()
        if self.budget is not None:
            self.budget.record_request()

    def _start(self, exc: Exception, rerun: bool) -> tuple[float, ErrorInfo, dict[str, Any]]:
        start = self.clock()
        if self.budget is not None and rerun:
            self.budget.record_request()
        if self.breaker is not None and not isinstance(exc, CircuitOpenError):
            self.breaker.record_failure(exc)
        info = classify(exc)
        return start, info, error_fields(exc, info, self.name)

    def _next(
        self, context: Mapping[str, Any], actions: list[str], outcome: _Outcome
    ) -> str | None:
        """After a failed retry, the best action that is not a retry (a fallback, a failover,
        the buffer...); after anything else, nothing."""
        if outcome.action not in _RETRIES:
            return None
        rest = [a for a in actions if a not in _RETRIES]
        return self._choose(context, rest)

    def _failed_step(self, context: Mapping[str, Any], outcome: _Outcome, chain: list[str]) -> None:
        outcome.step(False)
        chain.append(f"{outcome.action}:failed")
        if self.learn and self.policy is not None and outcome.action is not None:
            learner = getattr(self.policy, "learn_one", None)
            if learner is not None:
                learner(context, outcome.action, False)

    def _recover(
        self,
        exc: Exception,
        fn: Callable[..., T] | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        at_risk: bool = False,
    ) -> T:
        start, info, fields = self._start(exc, fn is not None)
        if info.category == "security":
            outcome = self._security_outcome(exc, args, kwargs)
            self._emit(exc, info, fields, outcome, start, args, kwargs)
            raise exc
        context = self._context(exc, info, fields["event"])
        actions = self._actions(info, fn is not None)
        outcome = _Outcome(at_risk=at_risk)
        self._decide(context, actions, outcome)
        chain: list[str] = []
        last: Exception = exc
        while outcome.action is not None:
            try:
                result = self._execute(outcome.action, exc, fn, args, kwargs, outcome)
            except Exception as failed:
                last = failed
                self._failed_step(context, outcome, chain)
                step = self._next(context, actions, outcome)
                if step is None:
                    break
                outcome.action = step
                continue
            outcome.succeeded = True
            outcome.step(True)
            self._emit(exc, info, fields, outcome, start, args, kwargs, chain)
            self._learn(context, outcome)
            return result
        self._emit(last, info, fields, outcome, start, args, kwargs, chain)
        raise last

    def _execute(
        self,
        action: str,
        exc: Exception,
        fn: Callable[..., T] | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        outcome: _Outcome,
    ) -> T:
        if action in _RETRIES:
            assert fn is not None
            retry = self._retry(action, outcome)
            state = RetryState()
            try:
                return retry.run(fn, args, kwargs, state=state, first_error=exc, log_security=False)
            finally:
                outcome.retries += state.retries
        if action == "fallback":
            assert self.fallback is not None
            return cast(T, self.fallback(*args, **kwargs))
        if action == "circuit_break":
            assert self.breaker is not None and self.fallback is not None
            if not isinstance(exc, CircuitOpenError):
                self.breaker.trip()
            return cast(T, self.fallback(*args, **kwargs))
        if action == "failover":
            assert self.failover is not None
            return cast(T, self.failover(*args, **kwargs))
        if action == "buffer_replay":
            assert self.buffer is not None
            self.buffer.keep(self.record(*args, **kwargs), exc)
            return cast(T, None)
        if action == "dead_letter":
            assert self.dead_letter is not None
            self.dead_letter(self.record(*args, **kwargs), exc)
            return cast(T, None)
        # A repair the application provides (restart, clear_cache, ...), then one more try.
        assert fn is not None
        self.handlers[action](exc)
        outcome.retries += 1
        return fn(*args, **kwargs)

    # ------------------------------------------------------------------ pre-emption
    def _risk_now(self) -> RiskView | None:
        """The unit's risk when it is at risk and this guard has measures to take, else None."""
        advisor = self.advisor
        if advisor is None:
            return None
        view = advisor.risk(self._unit)
        return view if view is not None and view.alert else None

    def _preempt_event(
        self,
        action: str,
        ok: bool,
        view: RiskView,
        start: float,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        fields: dict[str, Any] = dict(self._static)
        if self.name:
            fields["operation"] = self.name
        if self.session_key is not None:
            key = self.session_key(*args, **kwargs)
            if key is not None:
                fields["session_key"] = key
        fields.update(
            failure=False,
            recovery_action=action,
            recovery_outcome="succeeded" if ok else "failed",
            retry_count=0,
            recovery_ms=round((self.clock() - start) * 1000.0, 3),
            automated=True,
            recovery_decision="preempt",
            at_risk=True,
            risk=round(view.probability, 4),
            risk_threshold=view.threshold,
            model_version=view.model_version,
        )
        self.logger.info(f"{self.name or 'call'}: {action} while {view.unit} is at risk", **fields)

    def _preempt_before(
        self, view: RiskView, args: tuple[Any, ...], kwargs: dict[str, Any], start: float
    ) -> tuple[bool, Any]:
        """The measures that replace the call (shed, buffer, fallback): (True, value) when one
        served it."""
        p = self.preempt
        assert p is not None
        if p.shed is not False and (p.shed is True or p.shed(*args, **kwargs)):
            self._preempt_event("preempt_shed", True, view, start, args, kwargs)
            return True, p.shed_value
        if p.buffer:
            assert self.buffer is not None
            try:
                self.buffer.keep(self.record(*args, **kwargs))
            except Exception:  # full: make the call after all
                self._preempt_event("preempt_buffer", False, view, start, args, kwargs)
            else:
                self._preempt_event("preempt_buffer", True, view, start, args, kwargs)
                return True, None
        return False, None

    def _preempted(self, fn: Callable[..., T], view: RiskView, args: Any, kwargs: Any) -> T:
        p = self.preempt
        assert p is not None
        start = self.clock()
        done, value = self._preempt_before(view, args, kwargs, start)
        if done:
            return cast(T, value)
        if p.fallback or self._probes is not None:
            probing = self._probes is not None and self._probes.acquire(blocking=False)
            if not probing:
                action = "preempt_fallback" if p.fallback else "preempt_probe"
                assert self.fallback is not None
                try:
                    value = self.fallback(*args, **kwargs)
                except Exception:
                    self._preempt_event(action, False, view, start, args, kwargs)
                    if self._probes is not None and not p.fallback:
                        raise
                else:
                    self._preempt_event(action, True, view, start, args, kwargs)
                    return cast(T, value)
        else:
            probing = False
        if p.timeout_arg is not None:
            kwargs = {**kwargs, p.timeout_arg: p.deadline}
        ok = False
        try:
            try:
                self._before(args, kwargs)
                result = fn(*args, **kwargs)
            except Exception as exc:
                result = self._recover(exc, fn, args, kwargs, at_risk=True)
            else:
                self._succeeded()
            ok = True
            return result
        finally:
            if probing:
                assert self._probes is not None
                self._probes.release()
            if p.deadline is not None:
                self._preempt_event("preempt_deadline", ok, view, start, args, kwargs)

    async def _apreempted(
        self, fn: Callable[..., Awaitable[T]], view: RiskView, args: Any, kwargs: Any
    ) -> T:
        p = self.preempt
        assert p is not None
        start = self.clock()
        done, value = self._preempt_before(view, args, kwargs, start)
        if done:
            if inspect.isawaitable(value):
                value = await value
            return cast(T, value)
        probing = False
        if p.fallback or self._probes is not None:
            probing = self._probes is not None and self._probes.acquire(blocking=False)
            if not probing:
                action = "preempt_fallback" if p.fallback else "preempt_probe"
                assert self.fallback is not None
                try:
                    value = self.fallback(*args, **kwargs)
                    if inspect.isawaitable(value):
                        value = await value
                except Exception:
                    self._preempt_event(action, False, view, start, args, kwargs)
                    if self._probes is not None and not p.fallback:
                        raise
                else:
                    self._preempt_event(action, True, view, start, args, kwargs)
                    return cast(T, value)
        if p.timeout_arg is not None:
            kwargs = {**kwargs, p.timeout_arg: p.deadline}
        ok = False
        try:
            try:
                self._before(args, kwargs)
                result = await fn(*args, **kwargs)
            except Exception as exc:
                result = await self._arecover(exc, fn, args, kwargs, at_risk=True)
            else:
                self._succeeded()
            ok = True
            return result
        finally:
            if probing:
                assert self._probes is not None
                self._probes.release()
            if p.deadline is not None:
                self._preempt_event("preempt_deadline", ok, view, start, args, kwargs)

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` under this guard."""
        if self.preempt is not None:
            view = self._risk_now()
            if view is not None:
                return self._preempted(fn, view, args, kwargs)
        try:
            self._before(args, kwargs)
            result = fn(*args, **kwargs)
        except Exception as exc:
            return self._recover(exc, fn, args, kwargs)
        self._succeeded()
        return result

    # ------------------------------------------------------------------ async
    async def _arecover(
        self,
        exc: Exception,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        at_risk: bool = False,
    ) -> T:
        start, info, fields = self._start(exc, True)
        if info.category == "security":
            outcome = self._security_outcome(exc, args, kwargs)
            self._emit(exc, info, fields, outcome, start, args, kwargs)
            raise exc
        context = self._context(exc, info, fields["event"])
        actions = self._actions(info, True)
        outcome = _Outcome(at_risk=at_risk)
        self._decide(context, actions, outcome)
        chain: list[str] = []
        last: Exception = exc
        while outcome.action is not None:
            try:
                result = await self._aexecute(outcome.action, exc, fn, args, kwargs, outcome)
            except Exception as failed:
                last = failed
                self._failed_step(context, outcome, chain)
                step = self._next(context, actions, outcome)
                if step is None:
                    break
                outcome.action = step
                continue
            outcome.succeeded = True
            outcome.step(True)
            self._emit(exc, info, fields, outcome, start, args, kwargs, chain)
            self._learn(context, outcome)
            return result
        self._emit(last, info, fields, outcome, start, args, kwargs, chain)
        raise last

    async def _aexecute(
        self,
        action: str,
        exc: Exception,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        outcome: _Outcome,
    ) -> T:
        if action in _RETRIES:
            retry = self._retry(action, outcome)
            state = RetryState()
            try:
                return await retry.arun(
                    fn, args, kwargs, state=state, first_error=exc, log_security=False
                )
            finally:
                outcome.retries += state.retries
        if action in ("fallback", "circuit_break", "failover"):
            if action == "circuit_break" and not isinstance(exc, CircuitOpenError):
                assert self.breaker is not None
                self.breaker.trip()
            target = self.failover if action == "failover" else self.fallback
            assert target is not None
            value = target(*args, **kwargs)
            if inspect.isawaitable(value):
                value = await value
            return cast(T, value)
        if action == "buffer_replay":
            assert self.buffer is not None
            self.buffer.keep(self.record(*args, **kwargs), exc)
            return cast(T, None)
        if action == "dead_letter":
            assert self.dead_letter is not None
            done = self.dead_letter(self.record(*args, **kwargs), exc)
            if inspect.isawaitable(done):
                await done
            return cast(T, None)
        repaired = self.handlers[action](exc)
        if inspect.isawaitable(repaired):
            await repaired
        outcome.retries += 1
        return await fn(*args, **kwargs)

    async def acall(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` under this guard."""
        if self.preempt is not None:
            view = self._risk_now()
            if view is not None:
                return await self._apreempted(fn, view, args, kwargs)
        try:
            self._before(args, kwargs)
            result = await fn(*args, **kwargs)
        except Exception as exc:
            return await self._arecover(exc, fn, args, kwargs)
        self._succeeded()
        return result

    # ------------------------------------------------------------------ decorator
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        """Decorate a function or coroutine function."""
        if self.name is None:
            qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "call")
            self.name = str(qualname).rsplit("<locals>.", 1)[-1]
        checks = self.breaker is not None or (
            self.lockout is not None and self.principal is not None
        )
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await self.acall(afn, *args, **kwargs)

            return cast(Callable[P, T], async_wrapper)

        recover = self._recover
        if not checks and self.budget is None and self.preempt is None:
            # The path of a call that does not fail: one try block, nothing else.
            @functools.wraps(fn)
            def fast(*args: P.args, **kwargs: P.kwargs) -> T:
                try:
                    return fn(*args, **kwargs)
                except Exception as exc:
                    return recover(exc, fn, args, kwargs)

            return fast

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return self.call(fn, *args, **kwargs)

        return wrapper

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> GuardScope:
        if self.breaker is not None and not self.breaker.allow():
            raise self.breaker.open_error()
        scope = GuardScope()
        self._scope.set(scope)
        return scope

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        scope = self._scope.get()
        self._scope.set(None)
        if exc is None:
            self._succeeded()
            return False
        if not isinstance(exc, Exception):
            return False  # KeyboardInterrupt, CancelledError, SystemExit: not ours
        if scope is not None:
            scope.error = exc
        try:
            value: Any = self._recover(exc, None, (), {})
        except Exception:
            return False
        if scope is not None:
            scope.result, scope.recovered = value, True
        return True

    async def __aenter__(self) -> GuardScope:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"Guard({self.name!r})"


@overload
def guard(fn: Callable[P, T], /) -> Callable[P, T]: ...
@overload
def guard(fn: str | None = None, /, **options: Any) -> Guard: ...
def guard(fn: Callable[P, T] | str | None = None, /, **options: Any) -> Callable[P, T] | Guard:
    """Recovery for a call: a decorator (sync or async) and a context manager.

    When the call raises, the guard classifies the error (:func:`~faultcast.sdk.classify`),
    chooses a recovery among the actions it can carry out (the static
    :class:`~faultcast.sdk.StaticPolicy` by default; ``policy=`` a learned one, such as
    :class:`faultcast.models.RecoveryRecommender`), carries it out, and logs **one** event
    through structlog with the fields of DESIGN.md: ``error_type``, ``category``,
    ``failure`` (True when unrecovered), ``recovery_action``, ``recovery_outcome``,
    ``retry_count``, ``recovery_ms``, plus ``operation`` and whatever ``service``,
    ``component``, ``session_key``, ``fields`` you give.  A call that does not fail costs
    well under a microsecond more than a bare one.

    Actions and what makes them available:

    ==================== ===================================================================
    ``retry``            retryable errors: try again at once (``attempts`` in all)
    ``retry_with_backoff`` retryable errors: exponential backoff with full jitter,
                         ``deadline``, shared ``budget`` (:class:`RetryBudget`)
    ``failover``         ``failover=``: call it with the same arguments instead
    ``fallback``         ``fallback=``: return its value (budget errors degrade this way)
    ``circuit_break``    ``breaker=`` and ``fallback=``: open the breaker, return the fallback
    ``buffer_replay``    ``buffer=``: keep the record (``record(*args)``, default the first
                         argument) in the :class:`StreamBuffer` to be replayed in order
    ``dead_letter``      ``dead_letter=``: hand ``(record, error)`` over
    ``lockout``          security errors with ``lockout=`` and ``principal=``: count the
                         violation; repeated ones lock the principal out.  Security errors are
                         never retried and always logged.
    any other name       ``handlers={"clear_cache": cache.clear, ...}``: run it, try once more
    ==================== ===================================================================

    With ``advisor=`` (an :class:`~faultcast.sdk.Advisor`), the first action is the Advisor's
    :meth:`~faultcast.sdk.Advisor.decide`: the learned policy's action where it says automate,
    an exploration within its budget (never a security error), else this guard's own policy
    (a person should decide).  Every error event says who chose: ``automated`` (True only for
    the learned policy's automated action) and ``recovery_decision`` (``automate``,
    ``explore``, ``ask``; ``static`` without an Advisor).  With ``preempt=`` (a
    :class:`~faultcast.sdk.Preempt`), while the Advisor says the guard's unit (``service``, else
    the Advisor's) is at risk, its measures apply before each call (shed, buffer, fallback,
    probe, a shorter deadline), each logged as an info event ``recovery_action="preempt_*"``;
    not as a context manager, whose block cannot be skipped.

    When nothing recovers the call, the original error (or the last retry's) is raised.  As a
    context manager the block cannot be re-run, so only ``fallback`` / ``circuit_break``
    recover it (``scope.result`` then holds the fallback's value and the error is swallowed).

    Examples
    --------
    >>> from structlog.testing import capture_logs
    >>> attempts = []
    >>> @guard(attempts=3, base_delay=0, service="checkout")
    ... def charge(amount):
    ...     attempts.append(amount)
    ...     if len(attempts) < 2:
    ...         raise TimeoutError("payments timed out")
    ...     return "charged"
    >>> with capture_logs() as logs:
    ...     charge(10)
    'charged'
    >>> e = logs[0]
    >>> e["category"], e["recovery_action"], e["recovery_outcome"], e["retry_count"], e["failure"]
    ('communication', 'retry_with_backoff', 'succeeded', 1, False)
    >>> with capture_logs() as logs:
    ...     with guard("load_profile", fallback=lambda: {}) as scope:
    ...         scope.result = {"name": "x"}[0]
    >>> scope.result, logs[0]["recovery_action"]
    ({}, 'fallback')
    """
    if callable(fn):
        return Guard(**options)(fn)
    return Guard(fn, **options)
