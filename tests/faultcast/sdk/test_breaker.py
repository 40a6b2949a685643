"""The circuit breaker's transitions, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from faultcast.sdk import BreakerState, CircuitBreaker, CircuitOpenError, DataError, FakeClock

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def boom() -> None:
    raise ConnectionError("down")


def test_closed_open_half_open_closed() -> None:
    clock = FakeClock()
    changes: list[tuple[BreakerState, BreakerState]] = []
    breaker = CircuitBreaker(
        "db", failure_threshold=3, cooldown=30, clock=clock,
        on_change=lambda name, old, new: changes.append((old, new)),
    )  # fmt: skip
    with capture_logs() as logs:
        for _ in range(2):
            with pytest.raises(ConnectionError):
                breaker.call(boom)
        assert breaker.state is CLOSED  # below the threshold
        with pytest.raises(ConnectionError):
            breaker.call(boom)
        assert breaker.state is OPEN
        calls = []
        with pytest.raises(CircuitOpenError) as caught:
            breaker.call(lambda: calls.append(1))
        assert calls == []  # not called while open
        assert caught.value.retry_after == pytest.approx(30)
        clock.advance(29.9)
        assert breaker.state is OPEN and breaker.retry_after == pytest.approx(0.1)
        clock.advance(0.1)
        assert breaker.state is HALF_OPEN
        assert breaker.call(lambda: "fine") == "fine"
        assert breaker.state is CLOSED
    assert changes == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    assert [e["new_state"] for e in logs] == ["open", "half_open", "closed"]


def test_a_failed_trial_opens_it_again_for_a_full_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one trial at a time
    breaker.record_failure()
    assert breaker.state is OPEN
    clock.advance(9)
    assert breaker.state is OPEN
    clock.advance(1)
    assert breaker.state is HALF_OPEN


def test_success_threshold_and_trial_slots() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        failure_threshold=1, cooldown=1, half_open_calls=2, success_threshold=2, clock=clock
    )
    breaker.record_failure()
    clock.advance(1)
    assert breaker.allow() and breaker.allow() and not breaker.allow()
    breaker.record_success()
    assert breaker.state is HALF_OPEN
    breaker.record_success()
    assert breaker.state is CLOSED


def test_successes_reset_the_consecutive_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=FakeClock())
    for _ in range(5):
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state is CLOSED


def test_caller_errors_do_not_trip_it() -> None:
    breaker = CircuitBreaker(failure_threshold=1, clock=FakeClock())

    def bad_input() -> None:
        raise DataError("negative amount")

    for _ in range(3):
        with pytest.raises(DataError):
            breaker.call(bad_input)
    assert breaker.state is CLOSED


def test_trip_reset_and_async() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown=5, clock=clock)

    @breaker
    async def fetch(fail: bool) -> str:
        if fail:
            raise TimeoutError("slow")
        return "ok"

    with capture_logs():
        with pytest.raises(TimeoutError):
            asyncio.run(fetch(True))
        with pytest.raises(CircuitOpenError):
            asyncio.run(fetch(False))
        clock.advance(5)
        assert asyncio.run(fetch(False)) == "ok"
        breaker.trip()
        assert breaker.state is OPEN
        breaker.reset()
    assert breaker.state is CLOSED
