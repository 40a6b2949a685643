"""What answers "what is the risk now": always the production version of the unit model.

:func:`production_predictions` is the one read path for the risk per unit (``predict``,
``fc.predict_failure()`` and the dashboard all use it).  It returns the newest prediction per
unit *made by the production version* of :data:`~faultcast.models.learn.UNIT_MODEL`.  When the
production version stored no prediction (``retrain`` promoted a candidate, or ``models
promote``/``rollback`` moved production), it scores the last learned tick with that version
now, so a promotion takes effect at once and nothing answers from a version that is not in
production.  Every row names the version (``model_version``) and its state (``status``:
``"ready"`` or ``"learning: k of N failures seen"``; no alert is raised while learning).

Examples
--------
>>> from faultcast.ingest import Store
>>> production_predictions(Store(":memory:")).empty
True
"""

from __future__ import annotations

import json
from typing import Any, Final

import pandas as pd
from faultcast.ingest.store import StoreReader
from faultcast.models.backtest import onset_index, query_spec
from faultcast.models.features import failure_onsets, unit_features
from faultcast.models.registry import REGISTRY_SCHEMA, ModelNotFoundError, Registry

#: The columns of :func:`production_predictions`, with their dtypes.
COLUMNS: Final[dict[str, str]] = {
    "unit_column": "object",
    "unit": "object",
    "tick": "datetime64[ns, UTC]",
    "made_at": "datetime64[ns, UTC]",
    "horizon_s": "float64",
    "probability": "float64",
    "threshold": "float64",
    "alert": "bool",
    "anomaly_score": "float64",
    "model_name": "object",
    "model_version": "int64",
    "explanation": "object",
    "status": "object",
}


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})


def production_predictions(
    store: StoreReader, unit_column: str | None = None, name: str | None = None
) -> pd.DataFrame:
    """The newest prediction per unit of the production version, riskiest first (see above)."""
    from faultcast.models.learn import UNIT_MODEL, _explain, unit_predictions

    name = name or UNIT_MODEL
    if not store.exists() or store.schema_version() < REGISTRY_SCHEMA:
        return _empty()
    try:
        loaded = Registry(store).load(name)
    except ModelNotFoundError:
        return _empty()
    state: Any = loaded.model
    spec, replay = state.spec, state.replay
    if unit_column is not None and unit_column != spec.unit:
        return _empty()
    status = replay.learning_status()
    stored = store.query_df(
        f"""SELECT {", ".join(c for c in COLUMNS if c != "status")}
           FROM store.predictions
           WHERE mode = 'unit' AND model_name = ? AND model_version = ? AND unit_column = ?
           QUALIFY row_number() OVER (PARTITION BY unit ORDER BY made_at DESC) = 1
           ORDER BY probability DESC, unit""",
        [name, loaded.version, spec.unit],
    )
    if not stored.empty:
        stored["status"] = status
        return stored.reset_index(drop=True)
    if state.next_tick is None:
        return _empty()
    # Promoted without predictions of its own: score the last learned tick with it now.
    tick = pd.Timedelta(seconds=spec.tick_s)
    hi = pd.Timestamp(state.next_tick)
    with store.reading() as con:
        feats = unit_features(con, query_spec(spec, replay), hi - tick, hi)
        onsets = onset_index(failure_onsets(con, spec))
    if feats.empty:
        return _empty()
    scored = replay.score(feats, onsets)
    explanations = [json.dumps(_explain(state, feats.iloc[i])) for i in range(len(feats))]
    anomaly = feats["max_surge"].to_numpy(dtype=float)
    frame = unit_predictions(spec, scored, anomaly, name, loaded.version, explanations)
    frame = frame.drop(columns="mode").assign(status=status)
    return frame.sort_values(["probability", "unit"], ascending=[False, True]).reset_index(
        drop=True
    )
