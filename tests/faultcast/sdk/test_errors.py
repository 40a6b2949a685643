"""The error hierarchy and the classification of any exception."""

from __future__ import annotations

import errno
import pickle
import socket

import pytest
from faultcast.ingest.schema import CATEGORIES

from faultcast.sdk import (
    BudgetError,
    CircuitOpenError,
    CommunicationError,
    DataError,
    MemoryPressureError,
    SecurityViolationError,
    ServiceError,
    StreamingError,
    classify,
)


@pytest.mark.parametrize(
    ("cls", "category", "retryable"),
    [
        (StreamingError, "streaming", True),
        (BudgetError, "budget", False),
        (SecurityViolationError, "security", False),
        (CommunicationError, "communication", True),
        (MemoryPressureError, "memory", False),
        (DataError, "data", False),
        (ServiceError, "unknown", False),
    ],
)
def test_each_kind_has_its_category_and_retryability(
    cls: type[ServiceError], category: str, retryable: bool
) -> None:
    error = cls("boom", context={"order": 1})
    assert isinstance(error, ServiceError) and isinstance(error, Exception)
    assert (error.category, error.retryable) == (category, retryable)
    assert category in CATEGORIES
    # The store's taxonomy reads the class name the same way.
    assert classify(error).category == category
    assert classify(error).error_type == cls.__name__


def test_no_builtin_name_is_shadowed() -> None:
    import builtins

    import faultcast.sdk as sdk

    assert not set(sdk.__all__) & set(dir(builtins))


def test_fields_cause_and_overrides() -> None:
    cause = TimeoutError("5 s")
    error = CommunicationError("db", retryable=False, severity="critical", cause=cause)
    assert error.retryable is False and error.severity == "critical"
    assert error.cause is cause and error.__cause__ is cause
    with pytest.raises(ValueError, match="severity"):
        DataError("x", severity="fatal")  # type: ignore[arg-type]


def test_security_is_never_retryable_whatever_is_asked() -> None:
    assert SecurityViolationError("x", retryable=True).retryable is False

    class Forbidden(Exception):
        retryable = True
        status_code = 403

    assert classify(Forbidden()).category == "security"
    assert classify(Forbidden()).retryable is False


def test_errors_pickle_with_their_fields() -> None:
    error = BudgetError("spent", context={"budget": "llm"}, cause=ValueError("x"))
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is BudgetError and back.context == {"budget": "llm"}
    assert str(back) == "spent" and isinstance(back.cause, ValueError)
    opened = pickle.loads(pickle.dumps(CircuitOpenError("db", retry_after=2.0)))
    assert opened.retry_after == 2.0 and opened.retryable is False


@pytest.mark.parametrize(
    ("exc", "category", "retryable"),
    [
        (TimeoutError(), "communication", True),
        (TimeoutError(), "communication", True),
        (ConnectionRefusedError(), "communication", True),
        (ConnectionResetError(), "communication", True),
        (BrokenPipeError(), "communication", True),
        (socket.gaierror(), "communication", True),
        (OSError(errno.ECONNREFUSED, "refused"), "communication", True),
        (OSError(errno.EIO, "i/o error"), "unknown", False),
        (FileNotFoundError(), "data", False),
        (ValueError(), "data", False),
        (KeyError("k"), "data", False),
        (TypeError(), "data", False),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), "data", False),
        (ZeroDivisionError(), "data", False),
        (MemoryError(), "memory", False),
        (RecursionError(), "memory", False),
        (PermissionError(), "security", False),
        (RuntimeError(), "unknown", False),
    ],
)
def test_standard_exceptions(exc: BaseException, category: str, retryable: bool) -> None:
    info = classify(exc)
    assert (info.category, info.retryable) == (category, retryable)
    assert info.error_type == type(exc).__name__


def test_a_subclass_is_classified_by_its_bases() -> None:
    class PaymentsDown(ConnectionError):
        pass

    class Weird(Exception):
        pass

    assert classify(PaymentsDown()).category == "communication"
    assert classify(PaymentsDown()).retryable is True
    assert classify(Weird()).category == "unknown"


@pytest.mark.parametrize(
    ("status", "category", "retryable"),
    [(401, "security", False), (429, "budget", True), (503, "communication", True),
     (408, "communication", True), (422, "data", False)],
)  # fmt: skip
def test_http_status_codes(status: int, category: str, retryable: bool) -> None:
    class Response:
        status_code = status

    class HTTPError(Exception):
        response = Response()

    info = classify(HTTPError())
    assert (info.category, info.retryable) == (category, retryable)


def test_an_exception_may_say_it_is_retryable() -> None:
    class Flaky(Exception):
        retryable = True

    assert classify(Flaky()).retryable is True
    assert classify(MemoryError()).severity == "critical"
