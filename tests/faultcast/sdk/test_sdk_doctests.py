"""The SDK's docstring examples run (tests/test_doctests.py lists the older modules)."""

from __future__ import annotations

import doctest
import importlib
import logging

import pytest
import structlog

MODULES = [
    "faultcast.sdk",
    "faultcast.sdk._errors",
    "faultcast.sdk._events",
    "faultcast.sdk._scrub",
    "faultcast.sdk._types",
    "faultcast.sdk._retry",
    "faultcast.sdk._breaker",
    "faultcast.sdk._buffer",
    "faultcast.sdk._budget",
    "faultcast.sdk._security",
    "faultcast.sdk._policy",
    "faultcast.sdk._guard",
    "faultcast.sdk._logging",
    "faultcast.sdk._metrics",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_public_names_have_examples() -> None:
    sdk = importlib.import_module("faultcast.sdk")
    missing = [
        name
        for name in sdk.__all__
        if isinstance(getattr(sdk, name), type)
        and not getattr(sdk, name).__name__.endswith(("State", "Policy", "Scope", "Serializer"))
        and ">>>" not in (getattr(sdk, name).__doc__ or "")
        and name not in ("Guard",)
    ]
    assert missing == []
