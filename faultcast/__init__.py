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

__version__ = "0.1.0"

__all__ = [
    "FaultCast",
    "FaultcastError",
    "IngestError",
    "IngestReport",
    "StorageError",
    "StoreLockedError",
    "__version__",
    "connect",
]
