"""What every metric promises: no arguments needed, typed empty frames, parameters only,
the same through ``Metrics``, and documentation that runs."""

from __future__ import annotations

import doctest
import functools
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faultcast.analytics as analytics
import pandas as pd
import pytest
import structlog
from faultcast.analytics import Metrics
from faultcast.analytics import example_store as _build_example
from faultcast.ingest import Store

from tests.analytics.conftest import INJECTIONS, build, ev


@functools.cache
def example_store() -> Store:
    """The example store, built once per test process: every metric only reads it (the filter
    test checks that its 19 events are still 19 after every injection)."""
    return _build_example()


ROOT = Path(__file__).resolve().parents[2]
METRICS = sorted(
    name for name, value in vars(Metrics).items() if isinstance(value, analytics._bind.metric)
)
FILTERS = ("service", "host", "component", "level", "category", "error_type", "template_id")


def _function(name: str) -> Callable[..., pd.DataFrame]:
    fn: Callable[..., pd.DataFrame] = getattr(analytics, name)
    return fn


def _dtypes(df: pd.DataFrame) -> list[tuple[str, str]]:
    return [(str(c), str(t)) for c, t in df.dtypes.items()]


def test_every_metric_is_public_and_a_method() -> None:
    assert len(METRICS) == 24  # 21 + issues, failure_episodes, unit_issues
    for name in METRICS:
        assert name in analytics.__all__


#: Options under which the example store has something to show (the defaults suit real data).
SHOWS_SOMETHING: dict[str, dict[str, Any]] = {
    "precursor_patterns": {"window": "5m", "min_support": 1},
    "surging_patterns": {
        "window": "2m",
        "until": "2026-01-01T00:04",
        "min_history": 1,
        "min_count": 1,
        "factor": 1.0,
        "sigmas": 0.0,
    },
}


@pytest.mark.parametrize("name", METRICS)
def test_runs_with_no_arguments_and_keeps_its_dtypes(name: str) -> None:
    default = getattr(Metrics(example_store()), name)()
    full = getattr(Metrics(example_store()), name)(**SHOWS_SOMETHING.get(name, {}))
    empty = getattr(Metrics(Store(":memory:")), name)()
    assert not full.empty, f"{name} found nothing in the example store"
    assert _dtypes(default) == _dtypes(full)
    assert empty.empty
    assert _dtypes(empty) == _dtypes(full)


@pytest.mark.parametrize("name", METRICS)
def test_a_missing_store_file_reads_as_empty(name: str, tmp_path: Path) -> None:
    store = Store(tmp_path / "never-written.duckdb")
    df = _function(name)(store)
    assert df.empty and len(df.columns) > 0
    assert not (tmp_path / "never-written.duckdb").exists()


@pytest.mark.parametrize("name", METRICS)
def test_every_filter_value_is_a_parameter(name: str) -> None:
    store = example_store()
    accepted = set(inspect.signature(_function(name)).parameters) & set(FILTERS)
    assert accepted, name
    for column in accepted:
        for value in INJECTIONS:
            options: dict[str, Any] = {column: value}
            if name == "precursor_patterns":
                options["min_support"] = 0
            assert _function(name)(store, **options).empty, (name, column, value)
    assert store.counts()["events"] == 19


@pytest.mark.parametrize("name", METRICS)
def test_window_arguments(name: str) -> None:
    store = example_store()
    parameters = inspect.signature(_function(name)).parameters
    for key in ("since", "until"):
        if key in parameters:
            with pytest.raises(ValueError, match=key):
                _function(name)(store, **{key: "next tuesday"})
    if "since" in parameters:
        # 1,000 hours before the latest event: all the events again (rates per minute of the
        # window change with it) -- or, where the default is a recent window (what is failing
        # now), at least what that window shows.
        first = _function(name)(store).columns[0]
        everything = _function(name)(store, since="1000h")[first].tolist()
        default = _function(name)(store)[first].tolist()
        if parameters["since"].default is None:
            assert everything == default
        else:
            assert set(default) <= set(everything) and len(everything) >= len(default)


def test_metrics_methods_are_the_functions() -> None:
    store = build([ev(0, "api", "error", category="data", error_type="ValueError")])
    metrics = Metrics(store)
    pd.testing.assert_frame_equal(
        metrics.error_frequency(by="service"), analytics.error_frequency(store, by="service")
    )
    method = metrics.error_frequency
    assert method.__doc__ == analytics.error_frequency.__doc__
    assert "source" not in inspect.signature(method).parameters
    assert "since" in inspect.signature(method).parameters
    assert repr(metrics) == "Metrics(Store(':memory:'))"
    assert Metrics.error_frequency.__doc__ == analytics.error_frequency.__doc__


def test_bad_durations() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        analytics.parse_duration("soon")
    with pytest.raises(ValueError, match="positive"):
        analytics.parse_duration(0)
    store = example_store()
    with pytest.raises(ValueError, match="window"):
        analytics.new_patterns(store, window="-")
    with pytest.raises(ValueError, match="baseline_windows"):
        analytics.surging_patterns(store, baseline_windows=0)


MODULES = [
    "faultcast.analytics",
    "faultcast.analytics._sql",
    "faultcast.analytics._example",
    "faultcast.analytics._frequency",
    "faultcast.analytics._recovery",
    "faultcast.analytics._security",
    "faultcast.analytics._degradation",
    "faultcast.analytics._scorecard",
    "faultcast.analytics._patterns",
    "faultcast.ingest.shards",
]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.fixture
def quiet_logs() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    """These modules have examples; tests/test_doctests.py runs them (with every module's)."""
    module = __import__(name, fromlist=["_"])
    examples = sum(len(test.examples) for test in doctest.DocTestFinder().find(module))
    assert examples > 0, f"{name} has no examples"


@pytest.mark.usefixtures("quiet_logs")
def test_the_api_reference_runs() -> None:
    result = doctest.testfile(
        str(ROOT / "docs" / "analytics.md"), module_relative=False, optionflags=FLAGS
    )
    assert result.attempted > 20
    assert result.failed == 0, f"{result.failed} example(s) in docs/analytics.md failed"
