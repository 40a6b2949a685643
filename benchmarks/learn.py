"""Online learning speed, against a naive per-event River pipeline in the same run.

Prints one JSON object:

- ``learn_events_per_s``: events in the store / wall time of ``fc.learn()`` over the whole store
  (features in DuckDB per tick, then the model per unit and tick), on ``--events`` simulated events;
- ``naive_events_per_s``: the same events through ``StandardScaler | LogisticRegression`` with
  ``predict_proba_one`` + ``learn_one`` per event (features: level, category, retries, recovery
  time; target: the failure flag).  Building the per-event dicts is not timed, which flatters
  the naive peer;
- ``ratio``: learn / naive (target >= 5);
- ``predict_failure_ms``: p50 and p99 of ``fc.predict_failure(unit=...)`` in process (target p99 < 1 ms),
  and the cost of the first call after a change of the store (it reads the store once).

Usage: ``python benchmarks/learn.py [--events 1000000] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from river import linear_model, preprocessing

import faultcast
from faultcast.simulate import iter_events


def _simulate(path: Path, events: int) -> None:
    hours = events / (8 * 20.0 * 60) * 1.2
    with open(path, "wb") as f:
        for ev in itertools.islice(iter_events(services=8, hours=hours, seed=1), events):
            f.write(orjson.dumps(ev) + b"\n")


def _naive(fc: Any) -> tuple[float, int]:
    df = fc.store.query_df(
        "SELECT level, coalesce(category, 'none') AS category, coalesce(retry_count, 0) AS retries, "
        "coalesce(recovery_ms, 0) AS recovery_ms, coalesce(failure, false) AS failure "
        "FROM store.events ORDER BY ts"
    )
    xs = [
        {f"level_{lv}": 1.0, f"cat_{c}": 1.0, "retries": float(r), "recovery_ms": float(m)}
        for lv, c, r, m in zip(
            df["level"], df["category"], df["retries"], df["recovery_ms"], strict=True
        )
    ]
    ys = df["failure"].to_list()
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    t = time.perf_counter()
    for x, y in zip(xs, ys, strict=True):
        model.predict_proba_one(x)
        model.learn_one(x, y)
    return time.perf_counter() - t, len(xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        events = work / "events.jsonl"
        _simulate(events, args.events)
        db = work / "learn.duckdb"
        db.unlink(missing_ok=True)
        fc = faultcast.connect(db)
        fc.ingest(events)
        n_events = fc.summary()["events"]
        t = time.perf_counter()
        summary = fc.learn()
        learn_s = time.perf_counter() - t
        naive_s, naive_n = _naive(fc)
        t = time.perf_counter()
        first = fc.predict_failure()
        first_ms = (time.perf_counter() - t) * 1000
        unit = str(first["unit"].iloc[0])
        lat = []
        for _ in range(5000):
            t0 = time.perf_counter_ns()
            fc.predict_failure(unit=unit)
            lat.append(time.perf_counter_ns() - t0)
        lat_ms = np.asarray(lat) / 1e6
        fc.close()
    learn_rate = n_events / learn_s
    naive_rate = naive_n / naive_s
    print(
        json.dumps(
            {
                "events": n_events,
                "unit_ticks": summary["rows"],
                "learn_seconds": round(learn_s, 3),
                "learn_events_per_s": round(learn_rate),
                "naive_events_per_s": round(naive_rate),
                "ratio": round(learn_rate / naive_rate, 2),
                "target_ratio": 5,
                "learn_feature_seconds": summary["seconds"]["features"],
                "predict_failure_ms": {
                    "p50": round(float(np.percentile(lat_ms, 50)), 4),
                    "p99": round(float(np.percentile(lat_ms, 99)), 4),
                    "first_call_after_store_change": round(first_ms, 2),
                    "target_p99": 1.0,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
