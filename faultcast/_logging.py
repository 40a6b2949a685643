"""``faultcast.configure_logging()``: what notebooks and applications call to see faultcast's logs.

faultcast's modules log through structlog and stay quiet (warnings only) until logging is
configured; the CLI, ``serve`` and the dashboard configure it themselves.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def configure_logging(
    level: str | int = "INFO", *, json: bool = False, stream: TextIO | None = None
) -> None:
    """Show faultcast's log events at ``level`` and above (``"DEBUG"`` shows routine events
    such as ``store.migrated`` and ``ingest.done``) on ``stream`` (stderr by default), as
    readable lines or, with ``json=True``, one JSON object per line.

    This configures structlog for the whole process: an application that configures structlog
    itself does not need it (faultcast's events then follow the application's configuration).

    Examples
    --------
    >>> import io, faultcast
    >>> from faultcast.ingest._log import get_logger
    >>> out = io.StringIO()
    >>> faultcast.configure_logging("debug", json=True, stream=out)
    >>> get_logger("faultcast.example").debug("store.migrated", version=1)
    >>> '"event": "store.migrated"' in out.getvalue()
    True
    >>> import structlog; structlog.reset_defaults()
    """
    import structlog

    if isinstance(level, str):
        try:
            number = _LEVELS[level.lower()]
        except KeyError:
            raise ValueError(
                f"unknown log level {level!r}; use one of {', '.join(_LEVELS)}"
            ) from None
    else:
        number = int(level)
    target = stream if stream is not None else sys.stderr
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=bool(getattr(target, "isatty", lambda: False)()))
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info
            if json
            else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.PrintLoggerFactory(file=target),
        cache_logger_on_first_use=False,
    )
