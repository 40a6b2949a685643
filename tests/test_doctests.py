"""The docstring examples run (STYLE: every public class has a runnable example)."""

from __future__ import annotations

import doctest
import importlib
import logging

import pytest
import structlog

MODULES = [
    "faultcast",
    "faultcast._facade",
    "faultcast.simulate",
    "faultcast.ingest.fingerprint",
    "faultcast.ingest.patterns",
    "faultcast.ingest.pipeline",
    "faultcast.ingest.redact",
    "faultcast.ingest.schema",
    "faultcast.ingest.store",
    "faultcast.ingest.text",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    # Library modules log through structlog; its unconfigured default prints every level.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
