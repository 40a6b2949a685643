"""The recovery recommender: learns the best action, per context, online and from a store."""

from __future__ import annotations

import doctest
import json
import logging
import pickle
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import structlog
from faultcast.ingest.errors import FaultcastError
from faultcast.models import recommend as recommend_module
from faultcast.models.recommend import NotFittedError, RecoveryRecommender

import faultcast
from faultcast.simulate import simulate

TRUTH = {
    "communication": {"retry_with_backoff": 0.92, "failover": 0.7, "retry": 0.5},
    "data": {"dead_letter": 0.9, "fallback": 0.6, "retry": 0.1},
}


def error(category: str, error_type: str = "E", i: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "category": category,
        "error_type": error_type,
        "message": f"{error_type} while calling dep-{i % 7} after {100 + i} ms",
        "service": f"svc-{i % 3}",
        "recent_error_rate": float(i % 15),
        **extra,
    }


def trained(n: int = 2000, seed: int = 0) -> RecoveryRecommender:
    rng = random.Random(seed)
    model = RecoveryRecommender(seed=seed)
    for i in range(n):
        category = rng.choice(list(TRUTH))
        e = error(category, i=i)
        action = model.choose(e, list(TRUTH[category]))
        assert action is not None
        model.learn_one(e, action, rng.random() < TRUTH[category][action])
    return model


def test_learns_the_best_action_per_category_online() -> None:
    model = trained()
    for category, table in TRUTH.items():
        advice = model.recommend(error(category, i=3))
        assert advice.action == max(table, key=table.__getitem__)
        assert advice.automate and advice.confidence >= 0.95
        assert advice.expected_success == pytest.approx(max(table.values()), abs=0.05)
        assert [a.action for a in advice.alternatives] == sorted(
            (a for a in table if a != advice.action), key=lambda a: -table[a]
        )
        assert advice.reason.startswith("automate:")
    # Exploration stays small: the best action is taken most of the time.
    assert model._counts["retry_with_backoff"] > 5 * model._counts["retry"]


def test_context_below_the_category_is_learned() -> None:
    """Two error types of one category need different recoveries."""
    truth = {
        "TimeoutError": {"retry_with_backoff": 0.9, "failover": 0.5},
        "ConnectionRefusedError": {"retry_with_backoff": 0.2, "failover": 0.9},
    }
    rng = random.Random(1)
    model = RecoveryRecommender(seed=1)
    for i in range(3000):
        error_type = rng.choice(list(truth))
        e = error("communication", error_type, i)
        action = model.choose(e, list(truth[error_type]))
        assert action is not None
        model.learn_one(e, action, rng.random() < truth[error_type][action])
    assert model.recommend(error("communication", "TimeoutError")).action == "retry_with_backoff"
    assert model.recommend(error("communication", "ConnectionRefusedError")).action == "failover"
    assert model.strengths_["error_type"] < 200  # the fitted strength saw the difference


def test_little_evidence_is_not_automated() -> None:
    model = RecoveryRecommender(seed=0)
    for ok in (True, True, False):
        model.learn_one(error("data"), "dead_letter", ok)
    model.learn_one(error("data"), "fallback", True)
    advice = model.recommend(error("data"))
    assert not advice.automate and advice.reason.startswith("ask a person:")
    assert advice.trials in (1, 3)


def test_not_fitted() -> None:
    model = RecoveryRecommender()
    with pytest.raises(NotFittedError, match="learn_from_store") as caught:
        model.recommend(error("data"))
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, FaultcastError)
    assert model.choose(error("data")) is None  # nothing known, nothing offered
    assert model.choose(error("data"), ["retry", "dead_letter"]) in ("retry", "dead_letter")


def test_pickle_and_clone() -> None:
    model = trained(500)
    back = pickle.loads(pickle.dumps(model))
    assert back.recommend(error("data")) == model.recommend(error("data"))
    fresh = model.clone()
    assert isinstance(fresh, RecoveryRecommender) and fresh.n_outcomes_ == 0
    assert fresh._get_params() == model._get_params()


def test_learn_many_matches_learning_one_at_a_time() -> None:
    rng = random.Random(2)
    rows = []
    one = RecoveryRecommender(refit_every=0)
    for i in range(400):
        category = rng.choice(list(TRUTH))
        action = rng.choice(list(TRUTH[category]))
        ok = rng.random() < TRUTH[category][action]
        e = error(category, f"E{i % 4}", i)
        one.learn_one(e, action, ok)
        rows.append(
            {**e, "recovery_action": action, "recovery_outcome": "succeeded" if ok else "failed"}
        )
    rows.append({**error("data"), "recovery_action": "retry", "recovery_outcome": None})
    many = RecoveryRecommender().learn_many(pd.DataFrame(rows))
    assert many._stats == one._stats and many.n_outcomes_ == 400


def test_recommend_takes_an_exception_and_serialises() -> None:
    model = trained(1000)
    advice = model.recommend(ConnectionResetError("peer reset after 30 s"))
    assert advice.context["category"] == "communication"
    assert advice.context["error_type"] == "ConnectionResetError"
    assert advice.action == "retry_with_backoff"
    payload = json.loads(json.dumps(advice.to_dict()))
    assert payload["action"] == "retry_with_backoff" and payload["alternatives"]


def test_river_bandit_interface() -> None:
    rng = random.Random(3)
    model = RecoveryRecommender(seed=3)
    arms = list(TRUTH["data"])
    for i in range(600):
        context = error("data", i=i)
        arm = model.pull(arms, context)
        model.update(arm, context, float(rng.random() < TRUTH["data"][arm]))
    assert model.recommend(error("data")).action == "dead_letter"


def test_recommend_answers_from_the_learned_table_without_learning() -> None:
    """Asking is read-only: many asks leave the model as it was and the same error gets the same
    advice.  Its latency (once asserted here as p99 under 1 ms) is measured by
    ``benchmarks/guard.py``."""
    model = trained(3000)
    errors = [error(rng_cat, f"E{i % 9}", i) for i, rng_cat in enumerate(list(TRUTH) * 500)]
    before = (model.n_outcomes_, dict(model._counts))
    first = [model.recommend(e) for e in errors]
    assert all(a.action in TRUTH[e["category"]] for a, e in zip(first, errors, strict=True))
    assert (model.n_outcomes_, dict(model._counts)) == before
    again = [model.recommend(e) for e in errors[:50]]
    assert [a.to_dict() for a in again] == [a.to_dict() for a in first[:50]]


@pytest.fixture(scope="module")
def simulated_store(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, Any]]]:
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    tmp = tmp_path_factory.mktemp("recommend")
    events = tmp / "events.jsonl"
    simulate(events, services=4, hours=8, seed=11)
    truth = json.loads(Path(f"{events}.truth.json").read_text())["success_probability"]
    fc = faultcast.connect(tmp / "store.duckdb")
    fc.ingest(events)
    fc.close()
    yield tmp / "store.duckdb", truth
    structlog.configure(**saved)


def test_learns_from_the_outcomes_logged_in_a_store(
    simulated_store: tuple[Path, dict[str, Any]],
) -> None:
    path, truth = simulated_store
    fc = faultcast.connect(path)
    model = RecoveryRecommender.from_store(fc.store, seed=0)
    logged = fc.store.query_df(
        "SELECT category, count(*) AS n FROM store.events "
        "WHERE recovery_outcome IN ('succeeded', 'failed') GROUP BY category"
    )
    assert model.n_outcomes_ == int(logged["n"].sum())
    checked = 0
    for category, n in zip(logged["category"], logged["n"], strict=True):
        table = truth[category]
        advice = model.recommend({"category": category, "error_type": None})
        best = max(table.values())
        if n >= 150:
            checked += 1
            # The advised action is the best, or within the tolerance of it.
            assert table[advice.action] >= best - model.tolerance, (category, advice)
        assert set(model.actions_for(category)) <= set(table)
    assert checked >= 2
    # ``since`` learns only the later outcomes.
    later = RecoveryRecommender().learn_from_store(fc.store, since="2026-01-01T04:00:00Z")
    assert 0 < later.n_outcomes_ < model.n_outcomes_
    with pytest.raises(ValueError, match="unit"):
        RecoveryRecommender().learn_from_store(fc.store, unit="message; DROP TABLE events")
    fc.close()


def test_docstring_examples() -> None:
    result = doctest.testmod(
        recommend_module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0
