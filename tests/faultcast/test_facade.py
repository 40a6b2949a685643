"""The facade: fc.metrics, shards read as one, and what a sharded connection refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

import faultcast
from faultcast import FaultcastError
from tests.conftest import event


def test_metrics_and_shards_through_the_facade(write_lines, tmp_path: Path) -> None:
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    faultcast.connect(a).ingest(write_lines([event(i) for i in range(0, 10)], name="a.jsonl"))
    faultcast.connect(b).ingest(write_lines([event(i) for i in range(10, 30)], name="b.jsonl"))
    one = faultcast.connect(a)
    assert int(one.metrics.error_rate()["errors"].sum()) == 10
    both = faultcast.connect([a, b])
    assert len(both.events()) == 30
    assert int(both.metrics.error_rate()["errors"].sum()) == 30
    with pytest.raises(FaultcastError, match="never written"):
        both.ingest(tmp_path / "a.jsonl")
    with pytest.raises(FaultcastError, match="never written"):
        both.learn()
    with pytest.raises(FaultcastError, match="needs a path"):
        faultcast.connect([])


def test_recommend_learns_from_the_outcomes_in_the_store(write_lines, tmp_path: Path) -> None:
    rows = []
    for i in range(200):
        works = "failover" if i % 2 else "retry_with_backoff"
        rows.append(
            event(
                i,
                category="communication",
                recovery_action=works,
                recovery_outcome="succeeded" if works == "failover" else "failed",
            )
        )
    fc = faultcast.connect(tmp_path / "s.duckdb")
    fc.ingest(write_lines(rows))
    advice = fc.recommend("TimeoutError")
    assert advice.action == "failover"
    assert advice.expected_success > 0.8
    assert [alt.action for alt in advice.alternatives] == ["retry_with_backoff"]
    assert fc.recommender() is fc.recommender()  # learned once while the store is unchanged
