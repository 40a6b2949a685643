"""faultcast: predictive error analytics.

Store structured error events in DuckDB, mine their patterns, learn which ones precede failures
and which recoveries work.

>>> import faultcast
>>> fc = faultcast.connect(":memory:")
"""

from __future__ import annotations

from faultcast._facade import FaultCast, connect
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
    "connect",
    "guard",
    "retry",
]
