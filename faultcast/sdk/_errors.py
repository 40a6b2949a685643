"""The error hierarchy of an application, and the classification of any exception.

Every :class:`ServiceError` carries what a recovery needs to know: its ``category`` (the
store's taxonomy: streaming, budget, security, memory, communication, data, unknown), whether
it is ``retryable``, its ``severity``, a ``context`` dict and the ``cause``.  :func:`classify`
gives the same facts for *any* exception, standard ones included, so a recovery never has to
guess from a class name alone.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

from faultcast.sdk._rules import category_of

__all__ = [
    "BudgetError",
    "BufferFullError",
    "CircuitOpenError",
    "CommunicationError",
    "DataError",
    "ErrorInfo",
    "LockedOutError",
    "MemoryPressureError",
    "SecurityViolationError",
    "ServiceError",
    "Severity",
    "StreamingError",
    "classify",
]

Severity = Literal["warning", "error", "critical"]
_SEVERITIES: Final[frozenset[str]] = frozenset({"warning", "error", "critical"})


class ServiceError(Exception):
    """Base of an application's errors: category, retryable, severity, context and cause.

    Parameters
    ----------
    message
        What went wrong, for a person.
    retryable
        Whether trying the same call again may succeed; default per class.
    severity
        ``"warning"``, ``"error"`` or ``"critical"``; default per class.
    context
        Facts about the failure (ids, sizes, limits).  Values of keys that name secrets
        (``password``, ``token``, ``api_key``, ...) are never logged by faultcast.
    cause
        The exception this one wraps (also set as ``__cause__``).

    Examples
    --------
    >>> e = ServiceError("payment provider said no", context={"order": 17})
    >>> e.category, e.retryable, e.severity, e.context
    ('unknown', False, 'error', {'order': 17})
    >>> c = CommunicationError("db timed out", cause=TimeoutError("5 s"))
    >>> c.category, c.retryable, type(c.__cause__).__name__
    ('communication', True, 'TimeoutError')
    """

    category: ClassVar[str] = "unknown"
    default_retryable: ClassVar[bool] = False
    default_severity: ClassVar[Severity] = "error"

    def __init__(
        self,
        message: str = "",
        *,
        retryable: bool | None = None,
        severity: Severity | None = None,
        context: Mapping[str, Any] | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable: bool = self.default_retryable if retryable is None else bool(retryable)
        chosen = self.default_severity if severity is None else severity
        if chosen not in _SEVERITIES:
            raise ValueError(f"severity must be one of {sorted(_SEVERITIES)}, not {severity!r}")
        self.severity: Severity = chosen
        self.context: dict[str, Any] = dict(context or {})
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments survive pickling (exceptions cross process pools).
        return (
            _rebuild,
            (type(self), self.message, self.retryable, self.severity, self.context, self.cause),
        )


def _rebuild(
    cls: type[ServiceError],
    message: str,
    retryable: bool,
    severity: Severity,
    context: dict[str, Any],
    cause: BaseException | None,
) -> ServiceError:
    error = cls.__new__(cls)
    ServiceError.__init__(
        error, message, retryable=retryable, severity=severity, context=context, cause=cause
    )
    return error


class StreamingError(ServiceError):
    """A stream, queue or sink failed (consumer lag, broker down, backpressure); retryable.

    Examples
    --------
    >>> StreamingError("sink down").category
    'streaming'
    """

    category = "streaming"
    default_retryable = True


class BudgetError(ServiceError):
    """A cost, quota or rate budget is exhausted; retrying now only spends more.

    Degrade instead: :class:`faultcast.sdk.Budget` calls a fallback.

    Examples
    --------
    >>> e = BudgetError("LLM budget spent", context={"budget": "llm", "used": 100, "limit": 100})
    >>> e.category, e.retryable
    ('budget', False)
    """

    category = "budget"
    default_retryable = False
    default_severity = "warning"


class SecurityViolationError(ServiceError):
    """An authentication or authorisation violation.  Never retried; always logged.

    ``retryable`` is always False, whatever is asked.

    Examples
    --------
    >>> e = SecurityViolationError("bad token", retryable=True, context={"principal": "10.0.0.9"})
    >>> e.category, e.retryable
    ('security', False)
    """

    category = "security"
    default_retryable = False

    def __init__(
        self,
        message: str = "",
        *,
        retryable: bool | None = None,
        severity: Severity | None = None,
        context: Mapping[str, Any] | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message, retryable=False, severity=severity, context=context, cause=cause)


class CommunicationError(ServiceError):
    """A call to another service failed in transit (timeout, refused, reset, 5xx); retryable.

    Examples
    --------
    >>> CommunicationError("upstream 503").retryable
    True
    """

    category = "communication"
    default_retryable = True


class MemoryPressureError(ServiceError):
    """The process is short of memory; shed load or free caches rather than retry.

    Examples
    --------
    >>> MemoryPressureError("heap at 97%").category
    'memory'
    """

    category = "memory"
    default_retryable = False
    default_severity = "critical"


class DataError(ServiceError):
    """The input is invalid (schema, parse, validation); retrying the same input fails again.

    Examples
    --------
    >>> DataError("amount is negative").retryable
    False
    """

    category = "data"
    default_retryable = False
    default_severity = "warning"


class CircuitOpenError(CommunicationError):
    """A :class:`~faultcast.sdk.CircuitBreaker` is open: the call was not made.

    Not retryable: retrying an open circuit is the storm the breaker prevents.  ``retry_after``
    says when the breaker lets a trial call through.

    Examples
    --------
    >>> e = CircuitOpenError("payments-db", retry_after=12.5)
    >>> e.retryable, e.retry_after
    (False, 12.5)
    """

    def __init__(self, name: str, *, retry_after: float = 0.0, **kwargs: Any) -> None:
        kwargs.setdefault("retryable", False)
        super().__init__(
            f"circuit {name!r} is open: calls fail fast for {retry_after:.1f} s more",
            **kwargs,
        )
        self.name = name
        self.retry_after = retry_after
        self.context.setdefault("circuit", name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_open, (self.name, self.retry_after, self.context))


def _rebuild_open(name: str, retry_after: float, context: dict[str, Any]) -> CircuitOpenError:
    return CircuitOpenError(name, retry_after=retry_after, context=context)


class BufferFullError(StreamingError):
    """A :class:`~faultcast.sdk.StreamBuffer` is full: the record was not accepted.

    The caller still owns the record; nothing already accepted is dropped.

    Examples
    --------
    >>> e = BufferFullError("buffer full", context={"pending": 10, "capacity": 10})
    >>> e.category, e.retryable
    ('streaming', False)
    """

    default_retryable = False


class LockedOutError(SecurityViolationError):
    """A principal is locked out after repeated violations; ``retry_after`` seconds remain.

    Examples
    --------
    >>> e = LockedOutError("10.0.0.9 is locked out", context={"principal": "10.0.0.9"})
    >>> e.category, e.retryable
    ('security', False)
    """

    retry_after: float = 0.0


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What :func:`classify` knows about an exception.

    Examples
    --------
    >>> info = classify(ConnectionResetError())
    >>> info.category, info.error_type, info.retryable, info.severity
    ('communication', 'ConnectionResetError', True, 'error')
    """

    category: str
    error_type: str
    retryable: bool
    severity: Severity


#: Categories whose errors are transient unless an exception says otherwise.
_TRANSIENT: Final[frozenset[str]] = frozenset({"communication", "streaming"})
_SEVERITY_OF: Final[dict[str, Severity]] = {
    "memory": "critical",
    "budget": "warning",
    "data": "warning",
}
_TRANSIENT_ERRNOS: Final[frozenset[int]] = frozenset(
    getattr(errno, name)
    for name in (
        "EAGAIN",
        "ECONNABORTED",
        "ECONNREFUSED",
        "ECONNRESET",
        "EHOSTUNREACH",
        "ENETDOWN",
        "ENETUNREACH",
        "EPIPE",
        "ETIMEDOUT",
        "EBUSY",
    )
    if hasattr(errno, name)
)
_BY_TYPE: dict[type[BaseException], tuple[str, bool]] = {}


def _category_of_type(cls: type[BaseException]) -> tuple[str, bool]:
    """(category, retryable by default) of an exception class: its own name first, then its
    bases' (``class PaymentGatewayDown(ConnectionError)`` is communication)."""
    found = _BY_TYPE.get(cls)
    if found is not None:
        return found
    category = "unknown"
    for klass in cls.__mro__:
        if klass in (BaseException, Exception, object):
            break
        if klass is TimeoutError:  # asyncio.TimeoutError is TimeoutError (3.11+)
            category = "communication"
            break
        if klass is OSError:
            break  # a bare OSError says nothing; its errno does (see classify)
        guess = category_of(klass.__name__) or "unknown"
        if guess != "unknown":
            category = guess
            break
    _BY_TYPE[cls] = found = (category, category in _TRANSIENT)
    return found


def _status_code(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        for name in ("status_code", "status"):
            value = getattr(holder, name, None)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
                return value
    return None


def classify(exc: BaseException) -> ErrorInfo:
    """Category, error type, retryability and severity of any exception.

    - a :class:`ServiceError` says so itself;
    - an HTTP-style ``status_code`` (on the exception or its ``response``): 401/403 security,
      429 budget (retryable), 408 and 5xx communication (retryable), other 4xx data;
    - ``OSError`` by errno (connection refused/reset, timed out, ... are retryable
      communication errors);
    - otherwise the class name, then its bases' names, by the store's taxonomy
      (:func:`faultcast.ingest.category_of`), so the SDK and the store agree;
    - an exception's own ``retryable`` attribute (True/False) has the last word, except that
      security errors are never retryable.

    Examples
    --------
    >>> classify(TimeoutError()).category, classify(TimeoutError()).retryable
    ('communication', True)
    >>> classify(ValueError("bad amount")).category
    'data'
    >>> classify(PermissionError()).category, classify(MemoryError()).severity
    ('security', 'critical')
    >>> classify(KeyboardInterrupt()).category
    'unknown'
    """
    error_type = type(exc).__name__
    if isinstance(exc, ServiceError):
        category, retryable, severity = exc.category, exc.retryable, exc.severity
    else:
        category, retryable = _category_of_type(type(exc))
        status = _status_code(exc)
        if status is not None and status >= 400:
            if status in (401, 403):
                category, retryable = "security", False
            elif status == 429:
                category, retryable = "budget", True
            elif status == 408 or status >= 500:
                category, retryable = "communication", True
            else:
                category, retryable = "data", False
        elif isinstance(exc, OSError) and category in ("unknown", "communication"):
            code = exc.errno
            if code in _TRANSIENT_ERRNOS or isinstance(exc, socket.gaierror | socket.timeout):
                category, retryable = "communication", True
        if isinstance(exc, MemoryError):
            category = "memory"
        own = getattr(exc, "retryable", None)
        if isinstance(own, bool):
            retryable = own
        severity = _SEVERITY_OF.get(category, "error")
    if category == "security":
        retryable = False
    return ErrorInfo(category, error_type, retryable, severity)
