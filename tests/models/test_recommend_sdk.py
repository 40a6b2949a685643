"""The recommender knows the SDK's own exceptions, and claims only what its outcomes show."""

from __future__ import annotations

import json
import random

import pytest
from faultcast.models.recommend import SDK_ERRORS, RecoveryRecommender

import faultcast.sdk as sdk

RETRIES = {"retry", "retry_with_backoff"}


def learned(outcomes: dict[tuple[str, str, str], tuple[int, int]]) -> RecoveryRecommender:
    """A recommender taught ``(category, error_type, action) -> (successes, failures)``."""
    model = RecoveryRecommender(seed=0)
    for (category, error_type, action), (ok, failed) in outcomes.items():
        for i in range(ok + failed):
            error = {"category": category, "error_type": error_type, "message": f"m {i}"}
            model.learn_one(error, action, i < ok)
    return model


def test_the_table_of_sdk_errors_matches_the_sdk() -> None:
    made = {
        "CircuitOpenError": sdk.CircuitOpenError("db", retry_after=1.0),
        **{name: getattr(sdk, name)("x") for name in SDK_ERRORS if name != "CircuitOpenError"},
    }
    for name, (category, retryable) in SDK_ERRORS.items():
        info = sdk.classify(made[name])
        assert (info.category, info.retryable) == (category, retryable), name
    exported = {
        name for name in sdk.__all__
        if isinstance(getattr(sdk, name), type) and issubclass(getattr(sdk, name), sdk.ServiceError)
    }  # fmt: skip
    assert exported == set(SDK_ERRORS)


def test_an_open_circuit_and_a_spent_budget_are_never_retried() -> None:
    model = learned(
        {
            ("communication", "TimeoutError", "retry_with_backoff"): (95, 5),
            ("communication", "TimeoutError", "fallback"): (60, 40),
            ("budget", "BudgetError", "retry"): (90, 10),
            ("budget", "BudgetError", "fallback"): (40, 10),
        }
    )
    assert model.recommend({"error_type": "TimeoutError"}).action == "retry_with_backoff"
    advice = model.recommend({"error_type": "CircuitOpenError"})  # category from the SDK
    assert advice.context["category"] == "communication" and advice.action == "fallback"
    assert "never retried" in advice.reason and "none for CircuitOpenError" in advice.reason
    assert advice.evidence == "category"
    for _ in range(300):
        assert model.choose(sdk.CircuitOpenError("db"), sorted(RETRIES | {"fallback"})) == (
            "fallback"
        )
        assert model.choose({"error_type": "BudgetError"}, ["retry", "fallback"]) == "fallback"
    assert model.recommend({"error_type": "BudgetError"}).action == "fallback"
    with pytest.raises(ValueError, match="never retried"):
        model.recommend({"error_type": "CircuitOpenError"}, actions=["retry"])


def test_no_outcome_no_rate_and_one_action_no_comparison() -> None:
    # Only data errors were ever seen: an open circuit has nothing to go on.
    model = learned({("data", "ValueError", "dead_letter"): (40, 2)})
    advice = model.recommend({"error_type": "CircuitOpenError"})
    assert advice.action not in RETRIES and advice.trials == 0
    assert advice.expected_success is None and advice.confidence is None
    assert not advice.automate and advice.evidence == "none"
    assert "no outcome of fallback is recorded" in advice.reason and "%" not in advice.reason
    payload = json.loads(json.dumps(advice.to_dict()))
    assert payload["expected_success"] is None and payload["confidence"] is None
    # One action tried, many times: its rate, but no claim of being within 5% of the best.
    one = model.recommend({"category": "data", "error_type": "ValueError"})
    assert one.action == "dead_letter" and one.trials == 42 and one.confidence is None
    assert one.expected_success is not None and one.expected_success > 0.85
    assert "within" not in one.reason and "no other action has outcomes" in one.reason
    given = model.recommend({"category": "data"}, actions=["dead_letter", "fallback"])
    assert given.alternatives[0].expected_success is None and given.alternatives[0].trials == 0
    assert not given.automate and "fallback has never been tried" in given.reason
    # Two actions with outcomes: now the comparison is made.
    two = learned(
        {
            ("data", "ValueError", "dead_letter"): (90, 5),
            ("data", "ValueError", "fallback"): (30, 30),
        }
    ).recommend({"category": "data", "error_type": "ValueError"})
    assert two.confidence is not None and two.confidence > 0.95 and "within 5%" in two.reason
    assert two.evidence == "error_type" and two.automate


def test_security_errors_are_never_explored() -> None:
    model = learned(
        {
            ("security", "PermissionError", "lockout"): (3, 1),
            ("security", "PermissionError", "rotate_credentials"): (2, 2),
        }
    )
    rng = random.Random(0)
    chosen = {
        model.choose(
            {"category": "security", "error_type": "PermissionError", "message": f"{rng.random()}"}
        )
        for _ in range(500)
    }
    assert chosen == {"lockout"}  # Thompson sampling would have tried the other action too
    assert model.choose({"category": "data", "error_type": "X"}, ["a", "b"]) in ("a", "b")


def test_the_policy_of_a_service_holds_its_error_classes_then_its_patterns() -> None:
    model = RecoveryRecommender(seed=0)
    for i in range(40):
        error = {
            "category": "communication",
            "error_type": "TimeoutError",
            "message": f"GET /stock timed out after {i} ms",
            "service": "shop",
        }
        model.learn_one(error, "retry_with_backoff", i % 10 != 0)
    table = model.policy("shop")
    assert table["pattern"].isna().iloc[0] and table["error_type"].iloc[0] == "TimeoutError"
    assert (table["service"].iloc[1:] == "shop").all() and len(table) == 2
    assert table["confidence"].isna().all()  # one action: nothing to compare with
    assert bool(table["automate"].iloc[0]) and table["trials"].iloc[0] == 40


def test_an_in_process_advisor_reads_the_policy_records() -> None:
    model = learned(
        {
            ("communication", "TimeoutError", "failover"): (95, 5),
            ("communication", "TimeoutError", "retry_with_backoff"): (30, 30),
            ("data", "ValueError", "dead_letter"): (3, 0),
        }
    )
    records = model.policy_records()
    assert json.loads(json.dumps(records)) == records  # JSON-ready, null for missing
    answers = {"/v1/risk": {"risk": []}, "/v1/policy": {"policy": records}}
    advisor = sdk.Advisor("http://local", fetch=answers.__getitem__, background=False, seed=1)
    assert advisor.refresh()
    decision = advisor.decide(TimeoutError("t"), ["retry_with_backoff", "failover"])
    assert (decision.action, decision.automate) == ("failover", True)
    assert advisor.decide(ValueError("v"), ["dead_letter", "fallback"]).kind in ("ask", "explore")
