"""Budgets: pre-checks, warnings at thresholds, graceful fallback."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from faultcast.sdk import Budget, BudgetError, FakeClock


def test_warnings_once_per_threshold_then_budget_error() -> None:
    seen: list[float] = []
    budget = Budget("llm", limit=100, warn_at=(0.5, 0.9), on_warning=lambda b, s: seen.append(s))
    with capture_logs() as logs:
        budget.spend(40)
        budget.spend(15)  # crosses 50%
        budget.spend(5)
        budget.spend(30)  # crosses 90%
        with pytest.raises(BudgetError) as caught:
            budget.check(11)
    assert [e["threshold_pct"] for e in logs] == [50.0, 90.0]
    assert all(e["log_level"] == "warning" and e["category"] == "budget" for e in logs)
    assert seen == [0.55, 0.9]
    assert caught.value.context == {"budget": "llm", "used": 90.0, "cost": 11.0, "limit": 100.0}
    assert budget.used == 90 and budget.remaining == 10  # a refused check spends nothing
    budget.check(10)  # exactly the limit is fine


def test_the_budget_renews_each_period() -> None:
    clock = FakeClock()
    budget = Budget("calls", limit=2, period=60, warn_at=(1.0,), clock=clock)
    with capture_logs() as logs:
        budget.spend()
        budget.spend()
        with pytest.raises(BudgetError, match="60 s period"):
            budget.spend()
        clock.advance(60)
        budget.spend()
        budget.spend()
    assert budget.used == 2
    assert len(logs) == 2  # the 100% warning, once per period


def test_protect_degrades_to_the_fallback() -> None:
    budget = Budget("llm", limit=3)
    calls: list[str] = []

    @budget.protect(cost=lambda prompt: len(prompt), fallback=lambda prompt: f"cached:{prompt}")
    def ask(prompt: str) -> str:
        calls.append(prompt)
        return f"fresh:{prompt}"

    with capture_logs() as logs:
        assert ask("ab") == "fresh:ab"
        assert ask("cd") == "cached:cd"  # 2 + 2 > 3
    assert calls == ["ab"]
    (event,) = [e for e in logs if e.get("recovery_action")]
    assert event["recovery_action"] == "fallback" and event["recovery_outcome"] == "succeeded"
    assert event["error_type"] == "BudgetError" and event["failure"] is False


def test_a_budget_error_from_the_call_itself_degrades_too() -> None:
    class QuotaExceeded(Exception):
        status_code = 429

    budget = Budget("api", limit=100)

    @budget.protect(fallback=lambda: "stale")
    def fetch() -> str:
        raise QuotaExceeded("429 from upstream")

    @budget.protect
    def other() -> str:
        raise ValueError("not a budget problem")

    with capture_logs():
        assert fetch() == "stale"
        with pytest.raises(ValueError):
            other()


def test_without_fallback_the_error_is_raised_and_async_works() -> None:
    budget = Budget("tokens", limit=1)

    @budget.protect(cost=1)
    async def ask() -> str:
        return "ok"

    async def fallback() -> str:
        return "degraded"

    @budget.protect(cost=1, fallback=fallback)
    async def ask2() -> str:
        return "ok"

    with capture_logs():
        assert asyncio.run(ask()) == "ok"
        with pytest.raises(BudgetError):
            asyncio.run(ask())
        assert asyncio.run(ask2()) == "degraded"


def test_refund_and_bad_arguments() -> None:
    budget = Budget("x", limit=10)
    budget.spend(8)
    budget.refund(5)
    assert budget.used == 3
    with pytest.raises(ValueError):
        Budget("x", limit=0)
    with pytest.raises(ValueError):
        Budget("x", limit=1, warn_at=(1.5,))
