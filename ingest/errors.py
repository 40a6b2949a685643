"""One base error for everything faultcast raises on purpose, and the kinds a user can act on."""

from __future__ import annotations


class FaultcastError(Exception):
    """Base of every error faultcast raises on purpose; its message says what to do."""


class StorageError(FaultcastError):
    """The DuckDB store could not be opened, migrated, read or written."""


class StoreLockedError(StorageError):
    """Another process holds the store's write lock for longer than we were willing to wait."""


class IngestError(FaultcastError):
    """An input as a whole cannot be ingested (missing file, unknown format, ...).

    Bad *lines* are never an IngestError: they are quarantined and the run goes on.
    """
