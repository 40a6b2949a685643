"""faultcast: predictive error analytics.

Store structured error events in DuckDB, mine their patterns, learn which ones precede failures
and which recoveries work.

The names below are imported when first used (PEP 562), so ``from faultcast import guard``
loads the application SDK alone, not DuckDB, pandas or River.

>>> import faultcast
>>> fc = faultcast.connect(":memory:")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultcast._facade import FaultCast, connect
    from faultcast._logging import configure_logging
    from faultcast.ingest import (
        FaultcastError,
        IngestError,
        IngestReport,
        StorageError,
        StoreLockedError,
    )
    from faultcast.sdk import (
        Budget,
        BudgetError,
        BufferFullError,
        CircuitBreaker,
        CircuitOpenError,
        CommunicationError,
        DataError,
        FaultcastHandler,
        FaultcastProcessor,
        LockedOutError,
        Lockout,
        MemoryPressureError,
        Retry,
        RetryBudget,
        SecurityViolationError,
        ServiceError,
        StaticPolicy,
        StreamBuffer,
        StreamingError,
        classify,
        guard,
        retry,
    )

__version__ = "0.1.0"

#: Where each lazily imported name lives.
_LAZY: dict[str, str] = {
    "FaultCast": "faultcast._facade",
    "connect": "faultcast._facade",
    "configure_logging": "faultcast._logging",
    **dict.fromkeys(
        ("FaultcastError", "IngestError", "IngestReport", "StorageError", "StoreLockedError"),
        "faultcast.ingest",
    ),
    **dict.fromkeys(
        (
            "Budget",
            "BudgetError",
            "BufferFullError",
            "CircuitBreaker",
            "CircuitOpenError",
            "CommunicationError",
            "DataError",
            "FaultcastHandler",
            "FaultcastProcessor",
            "LockedOutError",
            "Lockout",
            "MemoryPressureError",
            "Retry",
            "RetryBudget",
            "SecurityViolationError",
            "ServiceError",
            "StaticPolicy",
            "StreamBuffer",
            "StreamingError",
            "classify",
            "guard",
            "retry",
        ),
        "faultcast.sdk",
    ),
}

__all__ = [
    "Budget",
    "BudgetError",
    "BufferFullError",
    "CircuitBreaker",
    "CircuitOpenError",
    "CommunicationError",
    "DataError",
    "FaultCast",
    "FaultcastError",
    "FaultcastHandler",
    "FaultcastProcessor",
    "IngestError",
    "IngestReport",
    "LockedOutError",
    "Lockout",
    "MemoryPressureError",
    "Retry",
    "RetryBudget",
    "SecurityViolationError",
    "ServiceError",
    "StaticPolicy",
    "StorageError",
    "StoreLockedError",
    "StreamBuffer",
    "StreamingError",
    "__version__",
    "classify",
    "configure_logging",
    "connect",
    "guard",
    "retry",
]


def __getattr__(name: str) -> Any:
    """Import a public name from the module that defines it, on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faultcast' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
