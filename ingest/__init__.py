"""faultcast.ingest: the event schema, parsing, redaction, fingerprints and the DuckDB store.

The bottom layer: it imports nothing else of faultcast.  Its names are imported when first
used (PEP 562), so importing one light module (``faultcast.ingest.schema``) does not load
DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultcast.ingest.durations import parse_duration
    from faultcast.ingest.errors import (
        FaultcastError,
        IngestError,
        StorageError,
        StoreLockedError,
    )
    from faultcast.ingest.fingerprint import template_of
    from faultcast.ingest.formats import FormatOptions, InputFormat
    from faultcast.ingest.jsonl import Limits
    from faultcast.ingest.opening import open_store
    from faultcast.ingest.pipeline import (
        Ingestor,
        IngestReport,
        SourceReport,
        ingest,
        reason_kind,
    )
    from faultcast.ingest.redact import Redactor
    from faultcast.ingest.schema import (
        CATEGORIES,
        EVENT_COLUMNS,
        LEVELS,
        category_of,
        normalise_level,
    )
    from faultcast.ingest.shards import ShardedStore
    from faultcast.ingest.store import Store, StoreReader

#: Where each name lives (its module, imported on first use).
_LAZY: dict[str, str] = {
    "FaultcastError": "errors",
    "IngestError": "errors",
    "StorageError": "errors",
    "StoreLockedError": "errors",
    "parse_duration": "durations",
    "FormatOptions": "formats",
    "InputFormat": "formats",
    "open_store": "opening",
    "ShardedStore": "shards",
    "StoreReader": "store",
    "template_of": "fingerprint",
    "Limits": "jsonl",
    "Ingestor": "pipeline",
    "IngestReport": "pipeline",
    "SourceReport": "pipeline",
    "ingest": "pipeline",
    "reason_kind": "pipeline",
    "Redactor": "redact",
    "CATEGORIES": "schema",
    "EVENT_COLUMNS": "schema",
    "LEVELS": "schema",
    "category_of": "schema",
    "normalise_level": "schema",
    "Store": "store",
}

__all__ = [
    "CATEGORIES",
    "EVENT_COLUMNS",
    "LEVELS",
    "FaultcastError",
    "FormatOptions",
    "IngestError",
    "IngestReport",
    "Ingestor",
    "InputFormat",
    "Limits",
    "Redactor",
    "ShardedStore",
    "SourceReport",
    "StorageError",
    "Store",
    "StoreLockedError",
    "StoreReader",
    "category_of",
    "template_of",
    "ingest",
    "normalise_level",
    "open_store",
    "parse_duration",
    "reason_kind",
]


def __getattr__(name: str) -> Any:
    """Import a public name from the module that defines it, on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faultcast.ingest' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"faultcast.ingest.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
