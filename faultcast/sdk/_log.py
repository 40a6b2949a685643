"""The SDK's loggers: structlog when it is installed (imported at the first log call, not at
import), else the standard library's :mod:`logging`.

>>> log = get_logger("faultcast.sdk")
>>> log
<faultcast.sdk logger>
"""

from __future__ import annotations

import json
import logging
from typing import Any

__all__ = ["dumps", "get_logger"]


class _StdlibLogger:
    """What the SDK logs when structlog is absent: ``event key=value ...`` to stdlib logging."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _log(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if not self._logger.isEnabledFor(level):
            return
        exc_info = fields.pop("exc_info", None)
        text = " ".join([str(event), *(f"{k}={v!r}" for k, v in fields.items())])
        self._logger.log(level, "%s", text, exc_info=exc_info)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def critical(self, event: str, **fields: Any) -> None:
        self._log(logging.CRITICAL, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        fields.setdefault("exc_info", True)
        self._log(logging.ERROR, event, fields)


class _LazyLogger:
    """A logger that becomes ``structlog.get_logger(name)`` (or the stdlib fallback) when first
    used, so importing the SDK does not import structlog."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._target: Any = None

    def _resolve(self) -> Any:
        if self._target is None:
            try:
                import structlog
            except ImportError:
                self._target = _StdlibLogger(self._name)
            else:
                self._target = structlog.get_logger(self._name)
        return self._target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._resolve(), name)

    def __repr__(self) -> str:
        return f"<{self._name} logger>"


def get_logger(name: str) -> Any:
    """A logger for ``name`` with structlog's call style (``log.warning("event", key=value)``)."""
    return _LazyLogger(name)


def _default(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


_orjson_dumps: Any = None


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON bytes: orjson when installed, else the standard library.

    >>> dumps({"a": 1, "b": "é"})
    b'{"a":1,"b":"\\xc3\\xa9"}'
    """
    global _orjson_dumps
    if _orjson_dumps is None:
        try:
            import orjson
        except ImportError:
            _orjson_dumps = False
        else:
            _orjson_dumps = orjson.dumps
    if _orjson_dumps is False:
        text = json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)
        return text.encode()
    return bytes(_orjson_dumps(value, default=str))
