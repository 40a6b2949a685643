"""Speed of the dashboard's Overview page data on the 10M-event store of
``benchmarks/analytics.py`` (built there once and cached; see its docstring).

Prints one JSON object:

- ``store``: the store measured (as ``benchmarks/analytics.py`` reports it);
- ``pages``: for the Overview page's data (:func:`faultcast.dashboard.data.overview`: KPI
  tiles, scorecard, errors over time, risk now) over the default range (the last 24 h of
  event time) and over the whole history, and for the sidebar's store status: ``cold_s`` (a
  fresh process opens the store and reads once; interpreter start-up and imports excluded),
  ``warm_s`` (median of 5 reads on an open store after one read: what the dashboard pays
  each time its 5 s cache expires), and ``target_met`` (both under 2 s);
- ``target_s``: 2.

Usage: ``python benchmarks/dashboard.py``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics import STORE, build  # noqa: E402  (the analytics benchmark's cached store)

TARGET_S = 2.0

COLD = """
import json, sys, time
from faultcast.analytics import open_source
from faultcast.dashboard import data
since = json.loads(sys.argv[3])
t = time.perf_counter()
source = open_source(sys.argv[1])
result = data.overview(source, since) if sys.argv[2] == "overview" else data.status(source)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def cold(page: str, since: str | None) -> float:
    out = subprocess.run(
        [sys.executable, "-c", COLD, str(STORE), page, json.dumps(since)],
        capture_output=True,
        check=False,
    )
    if out.returncode:
        raise SystemExit(out.stderr.decode()[-2000:])
    return float(json.loads(out.stdout.decode().strip().splitlines()[-1])["seconds"])


def warm(page: str, since: str | None) -> float:
    from faultcast.analytics import open_source
    from faultcast.dashboard import data

    source = open_source(str(STORE))

    def once() -> None:
        if page == "overview":
            data.overview(source, since)
        else:
            data.status(source)

    once()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        once()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    info = build()
    results: dict[str, Any] = {}
    for label, page, since in (
        ("overview, last 24 h (the default range)", "overview", "24h"),
        ("overview, whole history", "overview", None),
        ("store status (sidebar)", "status", None),
    ):
        c, w = cold(page, since), warm(page, since)
        results[label] = {
            "cold_s": round(c, 3),
            "warm_s": round(w, 3),
            "target_met": c < TARGET_S and w < TARGET_S,
        }
    print(json.dumps({"store": info, "target_s": TARGET_S, "pages": results}, indent=2))


if __name__ == "__main__":
    main()
