"""The fields of a faultcast event (DESIGN.md, "The event"), built the same way everywhere."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any, Final

from faultcast.sdk._errors import ErrorInfo, ServiceError
from faultcast.sdk._scrub import scrub, scrub_text

#: The longest exception text put into a message.
MAX_ERROR_TEXT: Final[int] = 500

_HOST: str | None = None


def default_host() -> str:
    """This machine's host name (looked up once)."""
    global _HOST
    if _HOST is None:
        _HOST = socket.gethostname() or os.environ.get("HOSTNAME", "") or "unknown"
    return _HOST


def utc_timestamp() -> str:
    """Now, ISO 8601 UTC with microseconds and ``Z`` (what the ingest reads as event time)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def error_text(exc: BaseException) -> str:
    """The exception's text, secrets redacted, cut to :data:`MAX_ERROR_TEXT` characters."""
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not break the logging of the error
        text = f"<unprintable {type(exc).__name__}>"
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_TEXT:
        text = text[: MAX_ERROR_TEXT - 1] + "…"
    return scrub_text(text) if text else text


def error_fields(
    exc: BaseException, info: ErrorInfo, operation: str | None = None
) -> dict[str, Any]:
    """``event`` (the message), ``error_type``, ``category``, ``severity`` and, for a
    :class:`ServiceError` with a context, ``error_context`` (secret-named keys redacted).

    The message holds the operation, the error type and its text, never the outcome of the
    recovery: the message's pattern is context the recommender learns from, the outcome is
    what it learns.
    """
    text = error_text(exc)
    head = f"{operation}: {info.error_type}" if operation else info.error_type
    fields: dict[str, Any] = {
        "event": f"{head}: {text}" if text else head,
        "error_type": info.error_type,
        "category": info.category,
        "severity": info.severity,
    }
    if isinstance(exc, ServiceError) and exc.context:
        fields["error_context"] = scrub(exc.context)
    return fields
