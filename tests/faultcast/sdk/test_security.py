"""Security violations: never retried, always logged; lockout after repeated violations."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from faultcast.sdk import (
    FakeClock,
    LockedOutError,
    Lockout,
    SecurityViolationError,
    guard,
)


def test_repeated_violations_trip_a_lockout_for_a_cooldown() -> None:
    clock = FakeClock()
    lockout = Lockout(threshold=3, window=60, cooldown=300, clock=clock)
    with capture_logs() as logs:
        assert not lockout.record("mallory")
        clock.advance(61)  # the first falls out of the window
        assert not lockout.record("mallory")
        assert not lockout.record("mallory")
        assert not lockout.is_locked("mallory")
        assert lockout.record("mallory")
        assert lockout.is_locked("mallory") and not lockout.is_locked("alice")
        with pytest.raises(LockedOutError) as caught:
            lockout.check("mallory")
        assert caught.value.retry_after == pytest.approx(300)
        clock.advance(300)
        lockout.check("mallory")
    violations = [e for e in logs if e["log_level"] == "error"]
    assert len(violations) == 4 and all(e["category"] == "security" for e in violations)
    assert [e.get("recovery_action") for e in violations] == [None, None, None, "lockout"]
    assert lockout.violations == 4 and lockout.lockouts == 1


def test_tracked_principals_are_bounded() -> None:
    lockout = Lockout(threshold=2, max_principals=10, clock=FakeClock())
    with capture_logs():
        for i in range(1000):
            lockout.record(f"10.0.{i // 256}.{i % 256}")
    assert len(lockout._seen) == 10


def test_guard_never_retries_a_security_violation_and_always_logs_it() -> None:
    clock = FakeClock()
    lockout = Lockout(threshold=2, cooldown=60, clock=clock)
    calls: list[str] = []

    @guard(attempts=5, base_delay=0, fallback=lambda user: "fallback", lockout=lockout,
           principal=lambda user: user)  # fmt: skip
    def login(user: str) -> str:
        calls.append(user)
        raise SecurityViolationError("bad password", context={"password": "hunter2"})

    with capture_logs() as logs:
        for _ in range(2):
            with pytest.raises(SecurityViolationError):
                login("mallory")
        with pytest.raises(LockedOutError):
            login("mallory")
    assert calls == ["mallory", "mallory"]  # not retried, no fallback, refused once locked
    assert len(logs) == 3  # two violations and the refusal, one event each
    assert logs[2]["error_type"] == "LockedOutError"
    first, second = logs[0], logs[1]
    assert first["category"] == "security" and first["failure"] is True
    assert "recovery_action" not in first
    assert second["recovery_action"] == "lockout" and second["recovery_outcome"] == "succeeded"
    assert second["failure"] is True  # the call itself was refused
    assert first["error_context"] == {"password": "[REDACTED]"}
    assert "hunter2" not in repr(logs)


def test_async_lockout_call() -> None:
    lockout = Lockout(threshold=1, clock=FakeClock())

    async def deny() -> None:
        raise PermissionError("no access")

    with capture_logs():
        with pytest.raises(PermissionError):
            asyncio.run(lockout.acall("bob", deny))
        with pytest.raises(LockedOutError):
            asyncio.run(lockout.acall("bob", deny))
