"""The docstring examples run (STYLE: every public class has a runnable example)."""

from __future__ import annotations

import doctest
import importlib
import logging
import pkgutil

import pytest
import structlog


def _modules() -> list[str]:
    """Every module of the faultcast packages (the layers included), found by walking them."""
    import faultcast

    names = ["faultcast"]
    for info in pkgutil.walk_packages(faultcast.__path__, "faultcast."):
        if info.name.endswith("__main__"):
            continue
        names.append(info.name)
    for layer in ("ingest", "models", "analytics", "dashboard"):
        package = importlib.import_module(f"faultcast.{layer}")
        names.append(package.__name__)
        names += [i.name for i in pkgutil.walk_packages(package.__path__, f"faultcast.{layer}.")]
    return sorted(set(names))


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    # Library modules log through structlog; its unconfigured default prints every level.
    # The configuration is global: restore it, or later tests in this worker see WARNING only.
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        module = importlib.import_module(name)
        result = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        )
    finally:
        structlog.configure(**saved)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
