"""Read-only views of what the models stored, for the dashboard and notebooks.

Examples
--------
>>> from faultcast.ingest import Store
>>> from faultcast.models.views import drift_events
>>> drift_events(Store(":memory:")).columns.tolist()
['model_name', 'model_version', 'detected_at', 'detector', 'detail']
"""

from __future__ import annotations

from typing import Final

import pandas as pd
from faultcast.ingest.store import StoreReader

_DRIFT_COLUMNS: Final[dict[str, str]] = {
    "model_name": "str",
    "model_version": "Int64",
    "detected_at": "datetime64[us, UTC]",
    "detector": "str",
    "detail": "str",
}
#: The schema version that added ``drift_events`` (migration 4).
_DRIFT_SCHEMA: Final[int] = 4


def drift_events(
    store: StoreReader, model_name: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Concept drift the online models detected, newest first.

    Columns: ``model_name``, ``model_version`` (the version that was learning), ``detected_at``
    (event time of the detection), ``detector`` (e.g. ``ADWIN``) and ``detail`` (JSON text,
    e.g. the error rate that drifted).  ``model_name`` keeps one model's events; ``limit``
    the newest ones only.  An empty frame for a store without any (or before the models).
    """
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _DRIFT_COLUMNS.items()})
    if not store.exists() or store.schema_version() < _DRIFT_SCHEMA:
        return empty
    if limit is not None and limit < 1:
        raise ValueError(f"limit={limit!r} must be at least 1")
    df = store.query_df(
        """SELECT model_name, model_version, detected_at, detector, CAST(detail AS VARCHAR) AS detail
           FROM store.drift_events
           WHERE ?::VARCHAR IS NULL OR model_name = ?::VARCHAR
           ORDER BY detected_at DESC NULLS LAST, model_name
           LIMIT ?""",
        [model_name, model_name, limit if limit is not None else 2**62],
    )
    if df.empty:
        return empty
    return df.astype(_DRIFT_COLUMNS)


__all__ = ["drift_events"]
