"""Speed of every analytics metric over a 10M-event store, cold and warm, against pandas.

Prints one JSON object:

- ``store``: the store measured (events, services, days of event time, file size) and how long
  building it took (the first run only: the store is cached, see below);
- ``metrics``: for each call (every metric with its defaults, plus the variants a dashboard
  uses), ``cold_s`` (a fresh process: open the store and run the call once, interpreter and
  import start-up excluded), ``warm_s`` (the median of 5 runs on an open store after one
  run), ``rows`` (of the result), ``target_met`` (warm < 0.5 s and cold < 2 s), and, where
  there is one, ``pandas_s`` (the same metric computed with pandas on the DataFrame of the
  events, already loaded) and ``pandas_agrees`` (its result matches the SQL one);
- ``pandas_load_s``: reading the events into that DataFrame (the columns the metrics use).

The store is built once and kept: ``faultcast simulate --services 16 --hours 530 --seed 1``
piped into ``faultcast ingest -`` (about 10M events), in ``$FAULTCAST_BENCH_DIR`` (default
``/tmp/faultcast-bench-analytics``; ``$FAULTCAST_BENCH_HOURS`` for fewer hours, hence events).
Building takes a few minutes.

Usage: ``python benchmarks/analytics.py [--build-only] [--only NAME]...``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
DIR = Path(os.environ.get("FAULTCAST_BENCH_DIR", "/tmp/faultcast-bench-analytics"))
STORE = DIR / "store.duckdb"
READY = DIR / "store.json"
#: ``$FAULTCAST_BENCH_HOURS`` builds a smaller store (say 53: about 1M events; use its own DIR).
SERVICES, HOURS, SEED = 16, int(os.environ.get("FAULTCAST_BENCH_HOURS", "530")), 1

#: (label, metric, keyword arguments): every metric with its defaults, then dashboard variants.
CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("error_frequency", "error_frequency", {}),
    ("error_frequency by service, 5m buckets, last 24h", "error_frequency",
     {"by": "service", "bucket": "5m", "since": "24h"}),
    ("error_frequency by category, 1h buckets", "error_frequency", {"bucket": "1h"}),
    ("error_rate", "error_rate", {}),
    ("recovery_success", "recovery_success", {}),
    ("recovery_time", "recovery_time", {}),
    ("retry_attempts", "retry_attempts", {}),
    ("authentication_failure_rate", "authentication_failure_rate", {}),
    ("authorization_violations", "authorization_violations", {}),
    ("security_recovery_success", "security_recovery_success", {}),
    ("security_incidents", "security_incidents", {}),
    ("security_incidents, last 24h", "security_incidents", {"since": "24h"}),
    ("security_response_time", "security_response_time", {}),
    ("degradation", "degradation", {}),
    ("degradation, 1h buckets, last 24h", "degradation", {"bucket": "1h", "since": "24h"}),
    ("scorecard", "scorecard", {}),
    ("top_patterns", "top_patterns", {}),
    ("new_patterns", "new_patterns", {}),
    ("surging_patterns", "surging_patterns", {}),
    ("precursor_patterns", "precursor_patterns", {}),
    ("precursor_patterns, errors only", "precursor_patterns", {"level": ["warning", "error"]}),
]  # fmt: skip

COLD = """
import json, sys, time
t = time.perf_counter()
from faultcast.analytics import Metrics
from faultcast.ingest import Store
imported = time.perf_counter() - t
t = time.perf_counter()
df = getattr(Metrics(Store(sys.argv[1])), sys.argv[2])(**json.loads(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - t, "rows": len(df), "import_s": imported}))
"""


def build() -> dict[str, Any]:
    """Simulate and ingest the store unless it is there already."""
    if READY.exists():
        return dict(json.loads(READY.read_text()))
    DIR.mkdir(parents=True, exist_ok=True)
    for stale in (STORE, STORE.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    t = time.perf_counter()
    simulate = subprocess.Popen(
        [str(BIN / "faultcast"), "simulate", "--services", str(SERVICES), "--hours", str(HOURS),
         "--seed", str(SEED), "--out", "-"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    ingest = subprocess.run(
        [str(BIN / "faultcast"), "ingest", "-", "--db", str(STORE), "--json"],
        stdin=simulate.stdout,
        capture_output=True,
    )
    if simulate.stdout is not None:
        simulate.stdout.close()
    if simulate.wait() or ingest.returncode:
        raise SystemExit(f"building the store failed:\n{ingest.stderr.decode()[-2000:]}")
    report = json.loads(ingest.stdout)
    import duckdb

    con = duckdb.connect(str(STORE), read_only=True)
    con.execute("SET enable_progress_bar = false")
    events, services, first, last = con.execute(
        "SELECT count(*), count(DISTINCT service), min(ts), max(ts) FROM events"
    ).fetchall()[0]
    con.close()
    info = {
        "events": int(events),
        "services": int(services),
        "days": round((last - first).total_seconds() / 86400, 2),
        "file_mb": round(STORE.stat().st_size / 2**20),
        "built_in_s": round(time.perf_counter() - t, 1),
        "ingest_events_per_s": report.get("events_per_second"),
        "simulate": f"--services {SERVICES} --hours {HOURS} --seed {SEED}",
    }
    READY.write_text(json.dumps(info))
    return info


def cold(metric: str, kwargs: dict[str, Any]) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", COLD, str(STORE), metric, json.dumps(kwargs)],
        capture_output=True,
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"{metric} failed cold:\n{out.stderr.decode()[-3000:]}")
    result = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return float(result["seconds"]), int(result["rows"])


def warm(fn: Callable[[], pd.DataFrame], repeat: int = 5) -> tuple[float, pd.DataFrame]:
    df = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), df


# ------------------------------------------------------------------------------------------
# The same metrics in pandas, on a DataFrame of the events (for comparison, not for use).

PANDAS_COLUMNS = (
    "ts, service, level, category, error_type, template_id, failure, recovery_action, "
    "recovery_outcome, retry_count, recovery_ms"
)


def load_events() -> pd.DataFrame:
    from faultcast.ingest import Store

    return Store(STORE).query_df(f"SELECT {PANDAS_COLUMNS} FROM store.events")


def pd_error_frequency(ev: pd.DataFrame) -> pd.DataFrame:
    errors = ev[ev["category"].notna()]
    out = errors.groupby("category").agg(errors=("ts", "size"), failures=("failure", "sum"))
    out["share"] = out["errors"] / out["errors"].sum()
    return out.reset_index().sort_values(["errors", "category"], ascending=[False, True])


def pd_error_frequency_5m(ev: pd.DataFrame) -> pd.DataFrame:
    recent = ev[(ev["ts"] >= ev["ts"].max() - pd.Timedelta(hours=24)) & ev["category"].notna()]
    bucket = recent["ts"].dt.floor("5min")
    out = recent.groupby([bucket, recent["service"]]).agg(
        errors=("ts", "size"), failures=("failure", "sum")
    )
    out["share"] = out["errors"] / out.groupby(level=0)["errors"].transform("sum")
    return out.reset_index()


def pd_error_rate(ev: pd.DataFrame) -> pd.DataFrame:
    minutes = max((ev["ts"].max() - ev["ts"].min()).total_seconds() / 60, 1.0)
    g = ev.assign(is_error=ev["category"].notna()).groupby("service")
    out = g.agg(events=("ts", "size"), errors=("is_error", "sum"), failures=("failure", "sum"))
    out["error_rate"] = out["errors"] / out["events"]
    out["errors_per_minute"] = out["errors"] / minutes
    return out.reset_index().sort_values(["error_rate", "service"], ascending=[False, True])


def pd_recovery_success(ev: pd.DataFrame) -> pd.DataFrame:
    rec = ev[ev["recovery_action"].notna()]
    rec = rec.assign(
        ok=rec["recovery_outcome"] == "succeeded", bad=rec["recovery_outcome"] == "failed"
    )
    out = rec.groupby(["recovery_action", "category"], dropna=False).agg(
        attempts=("ts", "size"), succeeded=("ok", "sum"), failed=("bad", "sum")
    )
    out["success_rate"] = out["succeeded"] / (out["succeeded"] + out["failed"])
    return out.reset_index().sort_values(
        ["attempts", "recovery_action", "category"], ascending=[False, True, True]
    )


def pd_recovery_time(ev: pd.DataFrame) -> pd.DataFrame:
    rec = ev[ev["recovery_action"].notna() & ev["recovery_ms"].notna()]
    g = rec.groupby("recovery_action")["recovery_ms"]
    out = pd.DataFrame(
        {
            "attempts": g.size(),
            "mean_ms": g.mean(),
            "p50_ms": g.quantile(0.5),
            "p95_ms": g.quantile(0.95),
            "max_ms": g.max(),
        }
    )
    return out.reset_index().sort_values(["attempts", "recovery_action"], ascending=[False, True])


def pd_retry_attempts(ev: pd.DataFrame) -> pd.DataFrame:
    r = ev[ev["retry_count"].notna()]
    r = r.assign(ok=r["recovery_outcome"] == "succeeded", bad=r["recovery_outcome"] == "failed")
    out = r.groupby("retry_count").agg(
        events=("ts", "size"), succeeded=("ok", "sum"), failed=("bad", "sum")
    )
    out["success_rate"] = out["succeeded"] / (out["succeeded"] + out["failed"])
    out["share"] = out["events"] / out["events"].sum()
    return out.reset_index()


def pd_degradation(ev: pd.DataFrame) -> pd.DataFrame:
    first = ev["ts"].min().floor("min")
    last = ev["ts"].max().floor("min")
    periods = int((last - first) / pd.Timedelta(minutes=1)) + 1
    minute = ev["ts"].dt.floor("min")
    is_error = ev["level"].isin(["error", "critical"])
    per = (
        ev.assign(minute=minute, is_error=is_error)
        .groupby(["service", "minute"])
        .agg(errors=("is_error", "sum"), failed=("failure", "any"))
    )
    baseline = per.groupby(level=0)["errors"].sum() / periods
    b = baseline.reindex(per.index.get_level_values(0)).to_numpy()
    threshold = np.maximum(3, 3 * b + 3 * np.sqrt(b))
    degraded = ~per["failed"].to_numpy() & (per["errors"].to_numpy() >= threshold)
    per = per.assign(degraded=degraded)
    out = per.groupby(level=0).agg(
        failed_periods=("failed", "sum"), degraded_periods=("degraded", "sum")
    )
    out.insert(0, "periods", periods)
    out["failed_share"] = out["failed_periods"] / periods
    out["degraded_share"] = out["degraded_periods"] / periods
    out["unhealthy_share"] = out["failed_share"] + out["degraded_share"]
    out["baseline_errors"] = baseline
    return out.reset_index().sort_values(["unhealthy_share", "service"], ascending=[False, True])


def pd_top_patterns(ev: pd.DataFrame) -> pd.DataFrame:
    # top_patterns counts warnings and worse, and failures, by default
    ev = ev[ev["level"].isin(["warning", "error", "critical"]) | ev["failure"].fillna(False)]
    g = ev.assign(is_error=ev["category"].notna()).groupby("template_id")
    out = g.agg(
        count=("ts", "size"),
        services=("service", "nunique"),
        errors=("is_error", "sum"),
        failures=("failure", "sum"),
        first_seen=("ts", "min"),
        last_seen=("ts", "max"),
    )
    out["share"] = out["count"] / out["count"].sum()
    out = out.reset_index().sort_values(["count", "template_id"], ascending=[False, True])
    return out.head(20)


def pd_precursor_patterns(ev: pd.DataFrame) -> pd.DataFrame:
    window = pd.Timedelta(minutes=15)
    fails = ev.loc[ev["failure"], ["service", "ts"]].sort_values(["service", "ts"])
    prev = fails.groupby("service")["ts"].shift()
    onsets = fails[prev.isna() | (fails["ts"] - prev > window)].sort_values("ts")
    onsets = onsets.assign(onset=np.arange(len(onsets)), onset_ts=onsets["ts"])
    cand = ev.loc[~ev["failure"], ["service", "ts", "template_id"]].sort_values("ts")
    hits = pd.merge_asof(
        cand,
        onsets[["service", "ts", "onset", "onset_ts"]],
        on="ts",
        by="service",
        direction="forward",
        allow_exact_matches=False,
    )
    lead = hits["onset_ts"] - hits["ts"]
    hits = hits.assign(hit=lead <= window, lead_s=lead.dt.total_seconds())
    hits["hit_onset"] = hits["onset"].where(hits["hit"])
    hits["hit_lead"] = hits["lead_s"].where(hits["hit"])
    per = hits.groupby("template_id").agg(
        occurrences=("ts", "size"),
        in_window=("hit", "sum"),
        failures_preceded=("hit_onset", "nunique"),
        mean_lead_s=("hit_lead", "mean"),
    )
    base = per["in_window"].sum() / per["occurrences"].sum()
    per["onsets"] = len(onsets)
    per["coverage"] = per["failures_preceded"] / len(onsets)
    per["confidence"] = per["in_window"] / per["occurrences"]
    per["lift"] = per["confidence"] / base
    per = per[per["failures_preceded"] >= 3].reset_index()
    return per.sort_values(
        ["lift", "failures_preceded", "template_id"], ascending=[False, False, True]
    ).head(20)


PANDAS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str]] = {
    # label: (pandas version, the column whose values must agree)
    "error_frequency": (pd_error_frequency, "errors"),
    "error_frequency by service, 5m buckets, last 24h": (pd_error_frequency_5m, "errors"),
    "error_rate": (pd_error_rate, "errors"),
    "recovery_success": (pd_recovery_success, "attempts"),
    "recovery_time": (pd_recovery_time, "p95_ms"),
    "retry_attempts": (pd_retry_attempts, "events"),
    "degradation": (pd_degradation, "unhealthy_share"),
    "top_patterns": (pd_top_patterns, "count"),
    "precursor_patterns": (pd_precursor_patterns, "lift"),
}


def agrees(sql: pd.DataFrame, frame: pd.DataFrame, column: str) -> bool:
    a = np.sort(sql[column].to_numpy(dtype=float))
    b = np.sort(frame[column].to_numpy(dtype=float))
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--only", action="append", default=[], help="labels to time")
    args = parser.parse_args()
    info = build()
    if args.build_only:
        print(json.dumps({"store": info}))
        return
    from faultcast.analytics import Metrics
    from faultcast.ingest import Store

    calls = [c for c in CALLS if not args.only or c[0] in args.only]
    metrics = Metrics(Store(STORE))
    results: dict[str, dict[str, Any]] = {}
    sql_frames: dict[str, pd.DataFrame] = {}
    for label, name, kwargs in calls:
        cold_s, rows = cold(name, kwargs)
        warm_s, df = warm(lambda name=name, kwargs=kwargs: getattr(metrics, name)(**kwargs))
        sql_frames[label] = df
        results[label] = {
            "metric": name,
            "arguments": kwargs,
            "cold_s": round(cold_s, 3),
            "warm_s": round(warm_s, 3),
            "rows": rows,
            "target_met": warm_s < 0.5 and cold_s < 2.0,
        }
    t = time.perf_counter()
    events = load_events()
    load_s = time.perf_counter() - t
    for label, (fn, column) in PANDAS.items():
        if label not in results:
            continue
        pandas_s, frame = warm(lambda fn=fn: fn(events), repeat=3)
        results[label]["pandas_s"] = round(pandas_s, 3)
        results[label]["pandas_agrees"] = agrees(sql_frames[label], frame, column)
    print(
        json.dumps(
            {
                "store": info,
                "machine": {"cores": os.cpu_count(), "duckdb_threads": "default (all cores)"},
                "pandas_load_s": round(load_s, 2),
                "pandas_load_mb": round(events.memory_usage(deep=True).sum() / 2**20),
                "targets": {"warm_s": 0.5, "cold_s": 2.0},
                "all_targets_met": all(r["target_met"] for r in results.values()),
                "metrics": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
