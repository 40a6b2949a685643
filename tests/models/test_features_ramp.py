"""The ramp feature sets: ramp shape, surge persistence, cascade share, and no look-ahead."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from faultcast.ingest import Store
from faultcast.models.features import (
    RAMP_FEATURES,
    UnitFeatureSpec,
    describe_feature,
    unit_features,
)

import faultcast

START = pd.Timestamp("2026-03-02T00:00:00Z")


def _minute(m: float) -> pd.Timestamp:
    return START + pd.Timedelta(minutes=m)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hours of two services: ``api`` calls ``db``.  ``db`` fails at minutes 60 and 150,
    and ``api`` fails after the first (a cascade); ``api`` logs failed calls naming ``db`` while
    it fails.  A warning pattern of ``api`` ramps up over minutes 100-125 and falls off by 140."""
    lines = []
    for m in range(180):
        at = lambda s, m=m: _minute(m + s / 60).isoformat()  # noqa: E731
        for s in (5, 25, 45):
            lines.append({"timestamp": at(s), "level": "info", "service": "api",
                          "event": f"served request {m * 60 + s} in 12 ms"})  # fmt: skip
            lines.append({"timestamp": at(s + 1), "level": "info", "service": "db",
                          "event": f"query {m * 60 + s} took 3 ms"})  # fmt: skip
        ramp = (m - 99) // 4 + 1 if 100 <= m < 126 else (max(0, (140 - m) // 3) if m >= 126 else 0)
        for k in range(ramp):
            lines.append({"timestamp": at(50 + k), "level": "warning", "service": "api",
                          "event": f"upstream connection timed out after {m + k} ms"})  # fmt: skip
        if 60 <= m < 64 or 150 <= m < 154:
            lines.append({"timestamp": at(30), "level": "critical", "service": "db",
                          "event": "storage halted", "failure": True})  # fmt: skip
            for k in range(3):
                lines.append({"timestamp": at(31 + k), "level": "error", "service": "api",
                              "event": f"call to db failed after {m} ms", "peer": "db"})  # fmt: skip
        if 68 <= m < 72:
            lines.append({"timestamp": at(40), "level": "critical", "service": "api",
                          "event": "api halted", "failure": True})  # fmt: skip
    tmp = tmp_path_factory.mktemp("ramp")
    events = tmp / "events.jsonl"
    events.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    db = tmp / "store.duckdb"
    with faultcast.connect(db) as fc:
        fc.ingest(events)
    return db


def test_ramp_features_follow_the_ramp_and_the_cascade(store: Path) -> None:
    """While the pattern rises its category's slope is positive and it is at its peak; once it
    falls it is below its peak; surges persist while it ramps; a failing callee that took the
    unit down before gives a cascade share above the prior; every value is finite and worded;
    and features computed in two pieces equal those computed at once (nothing looks ahead or
    depends on where a computation starts)."""
    spec = UnitFeatureSpec(feature_set="ramp")
    with Store(store).reading() as con:
        whole = unit_features(con, spec, _minute(0), _minute(179))
        first = unit_features(con, spec, _minute(0), _minute(120))
        second = unit_features(con, spec, _minute(120), _minute(179))
    api = whole[whole["unit"] == "api"].set_index("tick")
    at = lambda m, name: float(api.loc[_minute(m), name])  # noqa: E731
    assert at(118, "cat_ramp_slope") > 0 and at(118, "cat_ramp_falloff") == 0
    assert at(135, "cat_ramp_falloff") > 0 and at(135, "cat_ramp_slope") < at(118, "cat_ramp_slope")
    assert at(118, "tmpl_surge_persist") > at(95, "tmpl_surge_persist")
    assert at(95, "peer_cascade_share") == 0  # db is not failing
    assert at(151, "peer_cascade_share") > 0.5  # db's failure at 60 was followed by api's
    assert at(151, "peer_calls") > 0 and at(95, "peer_calls") == 0
    names = spec.feature_names()
    assert set(RAMP_FEATURES) <= set(names)
    assert np.isfinite(whole[names].to_numpy()).all()
    for name in RAMP_FEATURES:
        assert describe_feature(name, at(151, name), spec)
    pieces = pd.concat([first, second], ignore_index=True)
    pd.testing.assert_frame_equal(
        pieces[["unit", "tick", *names]].sort_values(["tick", "unit"], ignore_index=True),
        whole[["unit", "tick", *names]].sort_values(["tick", "unit"], ignore_index=True),
    )
    assert UnitFeatureSpec(feature_set="taxonomy_ramp").feature_names()[-4:-1] == [
        "cat_ramp_slope",
        "cat_ramp_falloff",
        "tmpl_surge_persist",
    ]
