"""Retries: backoff with full jitter, deadline, retryable only, and the shared retry budget."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from faultcast.sdk import (
    DataError,
    FakeClock,
    Retry,
    RetryBudget,
    RetryState,
    SecurityViolationError,
    retry,
)


class Failing:
    """A dependency that fails its first ``failures`` calls (all of them by default)."""

    def __init__(self, failures: int = 10**9, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"call {self.calls} failed")
        return "ok"


def test_backoff_is_exponential_with_full_jitter() -> None:
    clock = FakeClock()
    policy = Retry(
        attempts=6, base_delay=0.1, max_delay=1.0, clock=clock, sleep=clock.sleep, seed=3
    )
    dep = Failing()
    with pytest.raises(ConnectionError) as caught:
        policy.call(dep)
    assert dep.calls == 6 and len(clock.slept) == 5
    caps = [0.1, 0.2, 0.4, 0.8, 1.0]
    assert all(0 <= d <= cap for d, cap in zip(clock.slept, caps, strict=True))
    assert "gave up after 6 attempt(s)" in "".join(caught.value.__notes__)
    # Full jitter: the delays are spread over [0, cap], not all at the cap.
    many = [Retry(base_delay=1.0, max_delay=1.0, seed=s).backoff(1) for s in range(200)]
    assert min(many) < 0.2 and max(many) > 0.8


def test_recovers_when_the_dependency_comes_back() -> None:
    clock = FakeClock()
    dep = Failing(failures=2)
    state = RetryState()
    out = Retry(attempts=5, clock=clock, sleep=clock.sleep).run(dep, state=state)
    assert out == "ok" and dep.calls == 3 and state.retries == 2 and len(state.delays) == 2


def test_the_deadline_stops_retrying_before_it_passes() -> None:
    clock = FakeClock()
    policy = Retry(
        attempts=100, base_delay=1.0, max_delay=1.0, deadline=3.0, clock=clock,
        sleep=clock.sleep, seed=1,
    )  # fmt: skip
    dep = Failing()
    with pytest.raises(ConnectionError) as caught:
        policy.call(dep)
    assert clock() <= 3.0 and dep.calls < 100
    assert "deadline" in "".join(caught.value.__notes__)


def test_only_retryable_errors_are_retried() -> None:
    dep = Failing(error=ValueError)
    with pytest.raises(ValueError):
        Retry(attempts=5, base_delay=0).call(dep)
    assert dep.calls == 1
    dep = Failing(failures=1, error=ValueError)
    assert Retry(attempts=5, base_delay=0, retry_on=ValueError).call(dep) == "ok"
    dep = Failing(failures=1, error=KeyError)
    assert Retry(attempts=5, base_delay=0, retry_on=lambda e: isinstance(e, KeyError)).call(dep)


def test_security_violations_are_never_retried_and_always_logged() -> None:
    dep = Failing(error=SecurityViolationError)
    with capture_logs() as logs, pytest.raises(SecurityViolationError):
        # Even when asked to retry everything.
        Retry(attempts=5, base_delay=0, retry_on=Exception).call(dep)
    assert dep.calls == 1
    assert [(e["category"], e["log_level"], e["error_type"]) for e in logs] == [
        ("security", "error", "SecurityViolationError")
    ]


def test_retry_decorator_forms() -> None:
    dep = Failing(failures=1)

    @retry
    def plain() -> str:
        return dep()

    assert plain() == "ok"

    @retry(attempts=2, base_delay=0)
    def never() -> str:
        raise DataError("bad input")

    with pytest.raises(DataError):
        never()


def test_async_retry_sleeps_without_blocking() -> None:
    clock = FakeClock()
    calls = []

    @Retry(
        attempts=4, base_delay=0.5, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep
    )
    async def fetch() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("slow")
        return len(calls)

    assert asyncio.run(fetch()) == 3
    assert len(clock.slept) == 2


# ----------------------------------------------------------------------------- retry budget


def test_budget_holds_under_100_percent_failure() -> None:
    """Many callers, a dependency that always fails: retries stay within the budget."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.1, min_per_second=1.0, capacity=10, clock=clock)
    dep = Failing()
    policy = Retry(attempts=5, base_delay=0.0, budget=budget, clock=clock, sleep=clock.sleep)
    requests = 1000
    for _ in range(requests):
        clock.advance(0.01)  # 1,000 requests over 10 seconds
        with pytest.raises(ConnectionError):
            policy.call(dep)
    retries = dep.calls - requests
    allowed = 10 + 0.1 * requests + 1.0 * 10.0
    assert retries <= allowed
    assert retries == budget.retries and budget.requests == requests
    # Without a budget the same storm makes 4 retries per request.
    assert retries < 0.05 * 4 * requests
    assert budget.refused > 0


def test_budget_refills_over_time_and_from_requests() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.5, min_per_second=2.0, capacity=3, clock=clock)
    assert [budget.try_acquire() for _ in range(4)] == [True, True, True, False]
    clock.advance(1.0)  # +2 tokens
    assert [budget.try_acquire() for _ in range(3)] == [True, True, False]
    budget.record_request()
    budget.record_request()  # +1 token
    assert budget.try_acquire() and not budget.try_acquire()
    clock.advance(100)
    assert budget.tokens == 3  # capped


def test_a_shared_budget_spans_callers_and_async() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.0, capacity=2, clock=clock)
    one = Retry(attempts=3, base_delay=0, budget=budget, async_sleep=clock.async_sleep)
    two = Retry(attempts=3, base_delay=0, budget=budget, async_sleep=clock.async_sleep)
    dep = Failing()

    async def call() -> str:
        return dep()

    with pytest.raises(ConnectionError):
        asyncio.run(one.acall(call))
    with pytest.raises(ConnectionError) as caught:
        asyncio.run(two.acall(call))
    assert dep.calls == 3 + 1  # the second caller found the budget spent
    assert "retry budget is spent" in "".join(caught.value.__notes__)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        Retry(attempts=0)
    with pytest.raises(ValueError):
        RetryBudget(capacity=0)
