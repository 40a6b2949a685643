"""A seeded store for the dashboard tests: 3 simulated services over 6 hours, ingested,
learned and retrained, built once per test worker."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The path of a store with events, predictions, registry versions and a retrain run."""
    import faultcast
    from faultcast.simulate import simulate

    folder = tmp_path_factory.mktemp("seeded")
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        simulate(folder / "events.jsonl", services=3, hours=6, seed=7)
        db = folder / "store.duckdb"
        with faultcast.connect(db) as fc:
            fc.ingest(folder / "events.jsonl")
            fc.learn()
            fc.retrain(since="6h", holdout="2h")
    finally:
        structlog.configure(**saved)
    return db


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    yield
    structlog.configure(**saved)
