"""Logging glue: a structlog processor and a stdlib logging handler that turn any logged
exception into a faultcast event (the fields ``faultcast ingest`` stores in their columns)."""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, cast

from faultcast.sdk._errors import classify
from faultcast.sdk._events import default_host, utc_timestamp
from faultcast.sdk._log import dumps
from faultcast.sdk._rules import normalise_level
from faultcast.sdk._scrub import REDACTED, is_secret_key, scrub, scrub_text

__all__ = ["FaultcastHandler", "FaultcastProcessor"]

_METHOD_LEVELS: Final[dict[str, str]] = {
    "exception": "error",
    "err": "error",
    "warn": "warning",
    "msg": "info",
    "fatal": "critical",
}
#: The attributes every LogRecord has; anything else came from ``extra=``.
_RECORD_ATTRS: Final[frozenset[str]] = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}


def _exception_of(value: Any) -> BaseException | None:
    if value is True:
        return sys.exc_info()[1]
    if isinstance(value, BaseException):
        return value
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return value[1]
    return None


class FaultcastProcessor:
    """A structlog processor that makes every log line a faultcast event.

    It fills ``level`` (from the method name) and ``timestamp`` (ISO 8601 UTC) when missing,
    sets ``service``, ``host`` and ``component`` defaults, and, for an event that carries an
    exception (``exc_info=True``, ``log.exception(...)``, ``exc_info=err``), adds
    ``error_type``, ``category`` and ``failure`` (True at level critical, unless given).
    Values of secret-named keys (``password``, ``token``, ``api_key``, ...) become
    ``[REDACTED]`` at any depth.  It leaves ``exc_info`` in place: put it before
    ``format_exc_info`` (or ``dict_tracebacks``) and the renderer.

    Examples
    --------
    >>> p = FaultcastProcessor(service="checkout", host="web-1")
    >>> try:
    ...     raise ConnectionRefusedError("db down")
    ... except ConnectionRefusedError as e:
    ...     out = p(None, "error", {"event": "charge failed", "exc_info": e, "password": "x"})
    >>> out["error_type"], out["category"], out["failure"], out["password"], out["service"]
    ('ConnectionRefusedError', 'communication', False, '[REDACTED]', 'checkout')
    """

    def __init__(
        self,
        service: str | None = None,
        host: str | None = None,
        component: str | None = None,
        *,
        timestamp: bool = True,
    ) -> None:
        self.service = service
        self.host = host if host is not None else default_host()
        self.component = component
        self.timestamp = timestamp

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if "level" not in event_dict:
            event_dict["level"] = _METHOD_LEVELS.get(method_name, method_name)
        if self.timestamp and "timestamp" not in event_dict:
            event_dict["timestamp"] = utc_timestamp()
        if self.service is not None:
            event_dict.setdefault("service", self.service)
        event_dict.setdefault("host", self.host)
        if self.component is not None:
            event_dict.setdefault("component", self.component)
        exc = _exception_of(event_dict.get("exc_info"))
        if exc is None:
            exc = _exception_of(event_dict.get("exception"))
        if exc is not None:
            info = classify(exc)
            event_dict.setdefault("error_type", info.error_type)
            event_dict.setdefault("category", info.category)
            level = normalise_level(str(event_dict["level"])) or "error"
            event_dict.setdefault("failure", level == "critical")
        for key in list(event_dict):
            if is_secret_key(key):
                event_dict[key] = REDACTED
            else:
                value = event_dict[key]
                if isinstance(value, dict | list):
                    event_dict[key] = scrub(value)
        return event_dict


class FaultcastHandler(logging.Handler):
    """A stdlib ``logging`` handler writing faultcast events as JSON lines.

    Every record at ``level`` or above becomes one line: ``event`` (the message), ``level``,
    ``timestamp`` (ISO 8601 UTC), ``service``, ``host``, ``component`` (the logger's name),
    the ``extra=`` fields (secret-named keys redacted) and, for a record with an exception,
    ``error_type``, ``category``, ``failure`` and ``exception`` (the traceback text).  Messages
    and tracebacks are scrubbed of secrets by the ingest's rules.

    Parameters
    ----------
    path
        A file to append to; or
    stream
        A text or binary stream (default ``sys.stderr``).

    Examples
    --------
    >>> import io, json, logging
    >>> out = io.StringIO()
    >>> log = logging.getLogger("doctest.payments")
    >>> log.addHandler(FaultcastHandler(stream=out, service="payments", host="h1"))
    >>> try:
    ...     {}["card"]
    ... except KeyError:
    ...     log.exception("lookup failed", extra={"request_id": "r-1"})
    >>> line = json.loads(out.getvalue())
    >>> line["error_type"], line["category"], line["level"], line["request_id"]
    ('KeyError', 'data', 'error', 'r-1')
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        stream: IO[str] | IO[bytes] | None = None,
        service: str | None = None,
        host: str | None = None,
        level: int = logging.WARNING,
    ) -> None:
        super().__init__(level)
        if path is not None and stream is not None:
            raise ValueError("give a path or a stream, not both")
        self.path = None if path is None else Path(path)
        self._file: IO[bytes] | None = None
        self.stream = stream
        self.service = service
        self.host = host if host is not None else default_host()
        self._write_lock = threading.Lock()

    def event_of(self, record: logging.LogRecord) -> dict[str, Any]:
        """The faultcast event of a log record."""
        level = normalise_level(record.levelno) or normalise_level(record.levelname) or "info"
        event: dict[str, Any] = {
            "event": scrub_text(record.getMessage()),
            "level": level,
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
        }
        if self.service is not None:
            event["service"] = self.service
        event["host"] = self.host
        event["component"] = record.name
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRS or key.startswith("_"):
                continue
            event[key] = REDACTED if is_secret_key(key) else scrub(value)
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            info = classify(exc)
            event.setdefault("error_type", info.error_type)
            event.setdefault("category", info.category)
            event.setdefault("failure", level == "critical")
            event["exception"] = scrub_text(self.format_exception(record))
        return event

    def format_exception(self, record: logging.LogRecord) -> str:
        assert record.exc_info is not None
        return logging.Formatter().formatException(record.exc_info)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = dumps(self.event_of(record)) + b"\n"
            with self._write_lock:
                if self.path is not None:
                    if self._file is None:
                        self.path.parent.mkdir(parents=True, exist_ok=True)
                        self._file = open(self.path, "ab")  # noqa: SIM115 - closed in close()
                    self._file.write(line)
                    self._file.flush()
                else:
                    stream = self.stream if self.stream is not None else sys.stderr
                    if isinstance(stream, io.RawIOBase | io.BufferedIOBase):
                        stream.write(line)
                    else:
                        cast(IO[str], stream).write(line.decode("utf-8"))
                    stream.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with self._write_lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        super().close()


class SinkHandler(FaultcastHandler):
    """A :class:`FaultcastHandler` that hands each event to a sink (``self.sink``, set by the
    subclass: an object with ``send(event)`` and ``flush()``) instead of writing a line."""

    sink: Any

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.send(self.event_of(record))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.sink.flush()
