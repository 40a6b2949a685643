"""The Advisor (cached risk and policy, fail-open, exploration budget) and guard(advisor=...,
preempt=...), with an injected fetch and clock (the live server: tests/http/test_advisor.py)."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from faultcast.sdk import (
    Advisor,
    CircuitOpenError,
    DataError,
    FakeClock,
    Preempt,
    SecurityViolationError,
    StreamBuffer,
    guard,
)

SERVICE = "checkout"
RISK_PATH = f"/v1/risk?unit={SERVICE}"
POLICY_PATH = f"/v1/policy?service={SERVICE}"


def risk_row(alert: bool, probability: float = 0.8) -> dict[str, Any]:
    return {
        "unit": SERVICE,
        "risk": probability,
        "probability": probability,
        "threshold": 0.5,
        "alert": alert,
        "model_version": 7,
        "status": "ready",
        "reasons": ["error rate 4.1 sd above normal"],
    }


def rule(error_type: str, action: str, automate: bool, category: str) -> dict[str, Any]:
    return {
        "category": category,
        "error_type": error_type,
        "pattern": None,
        "service": None,
        "action": action,
        "expected_success": 0.97 if automate else 0.6,
        "automate": automate,
        "confidence": 0.99 if automate else None,
        "trials": 300 if automate else 3,
    }


class Server:
    """Answers of a faultcast server, changeable between fetches; counts the fetches."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {
            RISK_PATH: {"risk": [risk_row(alert=False, probability=0.1)]},
            POLICY_PATH: {
                "policy": [
                    rule("TimeoutError", "failover", True, "communication"),
                    rule("ValueError", "dead_letter", False, "data"),
                ]
            },
        }
        self.paths: list[str] = []
        self.down = False

    def __call__(self, path: str) -> Any:
        self.paths.append(path)
        if self.down:
            raise ConnectionRefusedError("faultcast is down")
        return self.answers[path]


def advisor(server: Server, clock: FakeClock, **options: Any) -> Advisor:
    options.setdefault("seed", 3)
    return Advisor(
        "http://faultcast.invalid",
        "key",
        service=SERVICE,
        ttl=30.0,
        fetch=server,
        clock=clock,
        background=False,
        **options,
    )


def test_fetches_on_its_ttl_keeps_the_last_good_snapshot_and_fails_open_when_stale() -> None:
    server, clock = Server(), FakeClock(1000.0)
    adv = advisor(server, clock)
    assert adv.risk() is None and not adv.at_risk()  # nothing fetched yet: defaults
    assert adv.poll() and server.paths == [RISK_PATH, POLICY_PATH]
    view = adv.risk()
    assert view is not None and view.probability == 0.1 and view.model_version == "7"
    assert view.reasons == ("error rate 4.1 sd above normal",) and not adv.at_risk()
    clock.advance(30.0 * (1 - adv.jitter) - 0.01)  # before the earliest jittered due time
    assert not adv.poll() and len(server.paths) == 2
    clock.advance(30.0 * 2 * adv.jitter + 0.02)  # after the latest
    server.answers[RISK_PATH] = {"risk": [risk_row(alert=True)]}
    assert adv.poll() and len(server.paths) == 4 and adv.at_risk()
    # Unreachable: the last good snapshot holds (one warning a minute), until stale.
    server.down = True
    with capture_logs() as logs:
        assert adv.refresh() is False
        clock.advance(10.0)
        assert adv.refresh() is False
    assert [e["event"] for e in logs] == ["advisor.fetch_failed"]
    assert "ConnectionRefusedError" in (adv.last_error or "") and adv.at_risk()
    clock.advance(adv.stale_after)
    assert not adv.fresh and adv.risk() is None and not adv.at_risk()
    decision = adv.decide(TimeoutError("stock"), ["retry_with_backoff", "failover"])
    assert (decision.action, decision.kind) == ("retry_with_backoff", "ask")
    assert "not reachable" in decision.reason
    # Garbage is no better than silence; a good answer brings the policy back.
    server.down = False
    for garbage in ({"risk": "all fine"}, [1, 2], {"risk": [{"unit": SERVICE, "risk": "high"}]}):
        server.answers[RISK_PATH] = garbage
        assert adv.refresh() is False and not adv.fresh
    server.answers[RISK_PATH] = {"risk": []}
    assert adv.refresh() and adv.fresh and adv.risk() is None
    assert adv.decide(TimeoutError("x"), ["retry_with_backoff", "failover"]).automate


def test_exploits_where_automated_asks_otherwise_and_keeps_to_the_exploration_budget() -> None:
    server, clock = Server(), FakeClock()
    adv = advisor(server, clock, explore_budget=0.05, explore_window=500)
    adv.refresh()
    timeout = adv.decide(TimeoutError("t"), ["retry_with_backoff", "failover", "fallback"])
    assert (timeout.action, timeout.automate, timeout.explored) == ("failover", True, False)
    actions = ["dead_letter", "fallback", "retry"]
    decisions = [adv.decide(ValueError("bad amount"), actions) for _ in range(10_000)]
    explored = [d for d in decisions if d.explored]
    # Never above the budget in any window, and exploring at all (else nothing is learned).
    assert 0.02 * len(decisions) < len(explored) <= 0.05 * len(decisions) + 1
    flags = [d.explored for d in decisions]
    assert max(sum(flags[i : i + 500]) for i in range(0, len(flags) - 500, 50)) <= 25
    assert all(d.action in ("fallback", "retry") and not d.automate for d in explored)
    asked = [d for d in decisions if not d.explored]
    assert all(d.action == "dead_letter" and d.kind == "ask" for d in asked)
    assert "does not automate dead_letter" in asked[0].reason
    # Errors that are not retryable are never explored with a retry; security never at all.
    opened = CircuitOpenError("payments", retry_after=5.0)
    for _ in range(3000):
        d = adv.decide(opened, ["retry", "retry_with_backoff", "fallback"])
        assert d.action not in ("retry", "retry_with_backoff")
        d = adv.decide(SecurityViolationError("bad token"), ["lockout", "fallback"])
        assert not d.explored and not d.automate


def test_guard_logs_who_chose_each_recovery() -> None:
    server, clock = Server(), FakeClock()
    adv = advisor(server, clock, explore_budget=0.0)
    adv.refresh()
    calls: list[str] = []

    @guard(advisor=adv, service=SERVICE, base_delay=0, fallback=lambda item: "cached",
           failover=lambda item: calls.append("failover") or "replica")  # fmt: skip
    def fetch(item: str) -> str:
        calls.append(item)
        if item == "slow":
            raise TimeoutError("stock timed out")
        if item == "bad":
            raise DataError("negative amount")
        if item == "spy":
            raise SecurityViolationError("bad token")
        return "ok"

    with capture_logs() as logs:
        assert fetch("slow") == "replica"
        assert fetch("bad") == "cached"
        with pytest.raises(SecurityViolationError):
            fetch("spy")
        assert fetch("fine") == "ok"
    slow, bad, spy = logs
    assert (slow["recovery_action"], slow["automated"], slow["recovery_decision"]) == (
        "failover", True, "automate",
    )  # fmt: skip
    assert calls[:2] == ["slow", "failover"]  # the learned action, not the static retry
    assert (bad["recovery_action"], bad["automated"], bad["recovery_decision"]) == (
        "fallback", False, "ask",
    )  # fmt: skip
    assert (spy["automated"], spy["recovery_decision"]) == (False, "ask")
    # Without an Advisor: the guard's own static choice, never "automated".
    with capture_logs() as logs:
        guard(base_delay=0, attempts=2, fallback=lambda: "x")(flaky_timeout())()
    assert (logs[0]["automated"], logs[0]["recovery_decision"]) == (False, "static")


def flaky_timeout() -> Callable[[], str]:
    state = {"n": 0}

    def fn() -> str:
        state["n"] += 1
        if state["n"] == 1:
            raise TimeoutError("once")
        return "ok"

    return fn


def test_preempts_only_while_at_risk_and_logs_each_measure() -> None:
    server, clock = Server(), FakeClock()
    adv = advisor(server, clock)
    adv.refresh()
    made: list[tuple[Any, ...]] = []
    buffer: StreamBuffer[str] = StreamBuffer(lambda record: made.append(("replayed", record)))

    def call(item: str, timeout: float = 10.0) -> str:
        made.append((item, timeout))
        return "fresh"

    optional = guard(advisor=adv, service=SERVICE, preempt=Preempt(shed=True, shed_value="-"))(call)
    writes = guard(advisor=adv, service=SERVICE, buffer=buffer, preempt=Preempt(buffer=True))(call)
    reads = guard(
        advisor=adv,
        service=SERVICE,
        fallback=lambda item, timeout=0: "cached",
        preempt=Preempt(probe=1, deadline=0.5, timeout_arg="timeout"),
    )(call)
    shown = guard(
        advisor=adv, service=SERVICE, fallback=lambda item: "cached", preempt=Preempt(fallback=True)
    )(call)
    with capture_logs() as logs:
        assert [optional("a"), writes("b"), reads("c"), shown("d")] == ["fresh"] * 4
    assert logs == [] and made == [("a", 10.0), ("b", 10.0), ("c", 10.0), ("d", 10.0)]
    made.clear()
    server.answers[RISK_PATH] = {"risk": [risk_row(alert=True, probability=0.83)]}
    adv.refresh()
    with capture_logs() as logs:
        assert optional("a") == "-"
        assert writes("b") is None
        assert reads("c") == "fresh"
        assert shown("d") == "cached"
    assert made == [("c", 0.5)]  # shed, buffered, served by the fallback: only c was called
    assert buffer.pending == 1
    assert [e["recovery_action"] for e in logs] == [
        "preempt_shed", "preempt_buffer", "preempt_deadline", "preempt_fallback",
    ]  # fmt: skip
    for event in logs:
        assert event["log_level"] == "info" and event["failure"] is False
        assert (event["automated"], event["recovery_decision"]) == (True, "preempt")
        assert event["recovery_outcome"] == "succeeded" and event["risk"] == 0.83
        assert event["service"] == SERVICE and event["model_version"] == "7"


def test_the_probe_lets_a_limited_number_of_calls_through_while_at_risk() -> None:
    server, clock = Server(), FakeClock()
    server.answers[RISK_PATH] = {"risk": [risk_row(alert=True)]}
    adv = advisor(server, clock)
    adv.refresh()
    inner: list[str] = []
    probing = guard(advisor=adv, service=SERVICE, fallback=lambda: "cached",
                    preempt=Preempt(probe=1))  # fmt: skip

    @probing
    def outer() -> str:
        # While this call holds the one probe slot, a second call gets the fallback.
        inner.append(probing.call(lambda: "through"))
        return "probe"

    with capture_logs() as logs:
        assert outer() == "probe"
    assert inner == ["cached"] and [e["recovery_action"] for e in logs] == ["preempt_probe"]


def test_async_guard_with_an_advisor() -> None:
    server, clock = Server(), FakeClock()
    adv = advisor(server, clock, explore_budget=0.0)
    adv.refresh()

    async def fallback() -> str:
        return "cached"

    @guard(advisor=adv, service=SERVICE, base_delay=0, fallback=fallback,
           preempt=Preempt(fallback=True))  # fmt: skip
    async def read() -> str:
        raise TimeoutError("slow")

    with capture_logs() as logs:
        assert asyncio.run(read()) == "cached"
        server.answers[RISK_PATH] = {"risk": [risk_row(alert=True)]}
        adv.refresh()
        assert asyncio.run(read()) == "cached"
    assert [(e["recovery_action"], e["recovery_decision"]) for e in logs] == [
        ("retry_with_backoff", "ask"),  # failover is not available here: the static default
        ("preempt_fallback", "preempt"),
    ]


def test_preempt_needs_what_it_uses() -> None:
    adv = advisor(Server(), FakeClock())
    with pytest.raises(ValueError, match="fallback="):
        guard(advisor=adv, preempt=Preempt(fallback=True))
    with pytest.raises(ValueError, match="buffer="):
        guard(advisor=adv, preempt=Preempt(buffer=True))
    with pytest.raises(ValueError, match="deadline"):
        Preempt(timeout_arg="timeout")


def test_the_wiring_example_in_the_docs_is_python() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "sdk.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.DOTALL)
    (example,) = [b for b in blocks if "advisor = Advisor(" in b]
    code = compile(example, str(doc), "exec")
    assert {"Advisor", "Preempt", "guard"} <= set(code.co_names)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_worker_fetches_on_its_own() -> None:
    """A pre-fork web server forks its workers after the app made its Advisor: each child
    gets its own fetching thread (the parent's does not survive a fork)."""
    fetched = threading.Event()
    server = Server()

    def fetch(path: str) -> Any:
        fetched.set()
        return server(path)

    adv = Advisor("http://faultcast.invalid", service=SERVICE, ttl=0.05, fetch=fetch)
    try:
        assert fetched.wait(30)
        pid = os.fork()
        if pid == 0:  # the child: a fetch of its own, made after the fork
            fetched.clear()
            os._exit(0 if fetched.wait(20) and adv.fresh else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        adv.close()
