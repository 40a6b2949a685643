"""faultcast.ingest: the event schema, parsing, redaction, fingerprints and the DuckDB store.

The bottom layer: it imports nothing else of faultcast.
"""

from __future__ import annotations

from faultcast.ingest.errors import FaultcastError, IngestError, StorageError, StoreLockedError
from faultcast.ingest.fingerprint import template_of
from faultcast.ingest.jsonl import Limits
from faultcast.ingest.pipeline import Ingestor, IngestReport, SourceReport, ingest, reason_kind
from faultcast.ingest.redact import Redactor
from faultcast.ingest.schema import CATEGORIES, EVENT_COLUMNS, LEVELS, category_of, normalise_level
from faultcast.ingest.store import Store

__all__ = [
    "CATEGORIES",
    "EVENT_COLUMNS",
    "LEVELS",
    "FaultcastError",
    "IngestError",
    "IngestReport",
    "Ingestor",
    "Limits",
    "Redactor",
    "SourceReport",
    "StorageError",
    "Store",
    "StoreLockedError",
    "category_of",
    "template_of",
    "ingest",
    "normalise_level",
    "reason_kind",
]
