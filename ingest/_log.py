"""The library's loggers: quiet until the application says otherwise.

structlog prints every level until someone configures it, which would fill a notebook with
faultcast's routine debug events.  A library logger here follows the application's structlog
configuration once there is one (``structlog.configure``, or :func:`faultcast.configure_logging`);
before that it passes on warnings and errors only.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

#: Below this level nothing is logged while structlog is not configured.
UNCONFIGURED_LEVEL = logging.WARNING


class LibraryLogger:
    """A structlog logger for one module (``get_logger(__name__)``); see the module docstring.

    >>> from structlog.testing import capture_logs
    >>> with capture_logs() as logs:
    ...     get_logger("faultcast.example").warning("shards.missing", path="b.duckdb")
    >>> logs
    [{'path': 'b.duckdb', 'event': 'shards.missing', 'log_level': 'warning'}]
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _log(self, level: int, method: str, event: str, kw: dict[str, Any]) -> None:
        if level < UNCONFIGURED_LEVEL and not structlog.is_configured():
            return
        getattr(structlog.get_logger(self.name), method)(event, **kw)

    def debug(self, event: str, **kw: Any) -> None:
        self._log(logging.DEBUG, "debug", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        self._log(logging.INFO, "info", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._log(logging.WARNING, "warning", event, kw)

    def error(self, event: str, **kw: Any) -> None:
        self._log(logging.ERROR, "error", event, kw)

    def exception(self, event: str, **kw: Any) -> None:
        self._log(logging.ERROR, "exception", event, kw)


def get_logger(name: str) -> LibraryLogger:
    """The logger of library module ``name``."""
    return LibraryLogger(name)
