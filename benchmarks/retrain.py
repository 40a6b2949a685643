"""Retraining wall time and peak memory on a 10M-event store.

Prints one JSON object: the store's size, the wall time of ``fc.learn()`` over it (the
production model the retrain competes with), and the wall time and peak RSS of
``fc.retrain(since="30d", holdout="1d")`` in a fresh process (targets: < 5 min, < 4 GB), with
the retrain's decision and each candidate's holdout PR-AUC next to production's.

The store is the one ``benchmarks/analytics.py`` builds and caches (16 services, 22 days,
10.3M events; ``FAULTCAST_BENCH_DIR``); this script works on a copy.

Usage: ``python benchmarks/retrain.py [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

CHILD = """
import json, resource, sys, time
import faultcast
fc = faultcast.connect(sys.argv[1])
t = time.perf_counter()
if sys.argv[2] == "learn":
    result = fc.learn()
else:
    result = fc.retrain(since="30d", holdout="1d")
seconds = time.perf_counter() - t
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb, "result": result}, default=str))
"""


def _build() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("bench_analytics", HERE / "analytics.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    info = module.build()
    info["path"] = str(module.STORE)
    return dict(info)


def _child(db: Path, what: str) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), what], capture_output=True, text=True
    )
    if run.returncode:
        raise SystemExit(f"{what} failed:\n{run.stderr[-3000:]}")
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    info = _build()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / "retrain.duckdb"
        shutil.copy(info["path"], db)
        learned = _child(db, "learn")
        retrained = _child(db, "retrain")
    result = retrained["result"]
    print(
        json.dumps(
            {
                "events": info.get("events"),
                "services": info.get("services"),
                "learn_seconds": round(learned["seconds"], 1),
                "learn_peak_rss_mb": round(learned["peak_rss_mb"]),
                "retrain_seconds": round(retrained["seconds"], 1),
                "retrain_peak_rss_mb": round(retrained["peak_rss_mb"]),
                "targets": {"retrain_seconds": 300, "retrain_peak_rss_mb": 4096},
                "decision": result["decision"],
                "reason": result["reason"],
                "split": result.get("split"),
                "holdout_pr_auc": {
                    "production": (result.get("production") or {}).get("pr_auc"),
                    **{k: v.get("pr_auc") for k, v in (result.get("candidates") or {}).items()},
                },
            }
        )
    )


if __name__ == "__main__":
    main()
