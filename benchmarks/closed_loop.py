"""The seed's success criteria, measured on an application with the loop off and on.

An application of six services built on :mod:`faultcast.sdk` (``benchmarks/_loop_app.py``:
its world, the generative story, and the app) runs in simulated time, twice per seed:

- **loop off**: the SDK alone.  Each call is guarded with the tools its service has (retries,
  failover, fallback, breaker, buffer, dead letters, repair handlers) and the guard's static
  policy chooses among them (retries first where they apply; after a failed retry the best
  other tool).  No advisor, no pre-emption;
- **loop on**: the same app and guards, each service with a :class:`faultcast.sdk.Advisor`
  whose ``fetch`` answers ``/v1/risk?unit=S`` and ``/v1/policy?service=S`` exactly as
  ``faultcast serve --http`` would (``faultcast.http._reads.Reads`` over an in-process
  faultcast store), polled on the simulated clock (its ``ttl``, ``jitter``); and the
  pre-emptive measures each service's developer would choose while faultcast says the
  service is at risk (``Preempt``: checkout a shorter deadline, catalog and profile their
  fallback, events buffer their writes, recommend sheds its optional work).

In both runs, every ``--step`` simulated minutes the app's log lines of those minutes are
ingested into a faultcast store (a JSON-lines file each step, as a file sink would write
them), ``fc.learn()`` advances the failure model, and the served risk and policy are
refreshed; so both runs have the production model's alerts ("notifications", counted from its
stored predictions: an alert of a unit that was not alerting at its previous tick; this is the
rule "unit at risk", counted here without the alert service's renotify and silences).  The
loop-on run also acts on them.

Figures are over the evaluation window (after ``--warmup`` hours, during which the failure
model and the recovery policy learn: the loop has been on from the start).  The criteria come
from ``fc.metrics.scorecard()`` over the run's own store (the same definitions as the
dashboard's scorecard); the rest from the world's ground truth.  Seeds are fixed up front:
``DEV_SEEDS`` were looked at while developing, ``HELD_OUT_SEEDS`` were first run for the
figures.

Usage: ``python benchmarks/closed_loop.py [--seeds 1 2 3 4] [--hours 24] [--warmup 8]
[--step 5]``; prints one JSON object.  ``--tiny`` runs a short smoke configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson
import pandas as pd
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _loop_app import START, Service, SimClock, World, make_world  # noqa: E402
from faultcast.analytics import CRITERIA  # noqa: E402
from faultcast.ingest import Ingestor, Store  # noqa: E402
from faultcast.ingest.network import NetworkIngest, Request  # noqa: E402

import faultcast  # noqa: E402
from faultcast.http._reads import Reads  # noqa: E402

#: Seeds looked at while developing the world and the benchmark.
DEV_SEEDS: Final[tuple[int, ...]] = (1, 2)
#: Seeds chosen up front and first run for the reported figures.
HELD_OUT_SEEDS: Final[tuple[int, ...]] = (3, 4)
#: The model's horizon (faultcast's default), for notifications' lead time.
HORIZON_MIN: Final[float] = 15.0
#: What the users of a service saw that is less than the full answer.
DEGRADED_ANSWERS: Final[frozenset[str]] = frozenset(
    {"failed", "fallback", "preempted_fallback", "preempted_shed"}
)


def _preempts() -> dict[str, Any]:
    from faultcast.sdk import Preempt

    return {
        "checkout": Preempt(deadline=0.3, timeout_arg="timeout"),
        "catalog": Preempt(fallback=True),
        "profile": Preempt(fallback=True),
        "events": Preempt(buffer=True),
        "recommend": Preempt(shed=True, shed_value="shed"),
    }


class Faultcast:
    """faultcast as the app's loop sees it: a store that takes the app's events as
    ``POST /v1/events`` does (:class:`~faultcast.ingest.network.NetworkIngest`), learns, and
    answers ``/v1/risk`` and ``/v1/policy`` as the HTTP API does
    (:class:`~faultcast.http._reads.Reads`)."""

    def __init__(self, path: Path, services: list[str]) -> None:
        # A file, as ``serve`` has (the served policy is rebuilt when the file changed); one
        # DuckDB thread: the store is small, and other work shares the cores.
        self.fc = faultcast.connect(Store(path, threads=1))
        self.network = NetworkIngest(
            Ingestor(self.fc.store, redactor=self.fc.redactor, limits=self.fc.limits)
        )
        self.reads = Reads(self.fc, refresh=0.0, policy_refresh=0.0)
        self.services = services
        self.answers: dict[str, Any] = {}
        for s in services:
            self.answers[f"/v1/risk?unit={s}"] = {"risk": []}
            self.answers[f"/v1/policy?service={s}"] = {"policy": []}
        self.requests = 0
        self.seconds = {"ingest": 0.0, "learn": 0.0, "serve": 0.0}

    def fetch(self, path: str) -> Any:
        """What ``GET path`` answers now (a KeyError for a path the API does not serve)."""
        return self.answers[path]

    def post(self, records: list[dict[str, Any]]) -> None:
        """Store the events, as one ``POST /v1/events`` of the app's HTTP sink."""
        if not records:
            return
        t0 = time.perf_counter()
        records.sort(key=lambda r: r["timestamp"])
        lines = [orjson.dumps(r) for r in records]
        self.requests += 1
        self.network.store([Request("http:/v1/events", b"\n".join(lines), lines)])
        self.seconds["ingest"] += time.perf_counter() - t0

    def learn(self) -> None:
        """Learn what is new, and refresh what is served."""
        t0 = time.perf_counter()
        self.fc.learn()
        t1 = time.perf_counter()
        self.reads.refresh()
        for s in self.services:
            self.answers[f"/v1/risk?unit={s}"] = json.loads(self.reads.risk_json(s))
            self.answers[f"/v1/policy?service={s}"] = json.loads(
                f'{{"policy": {self.reads.policy(s)}}}'
            )
        self.seconds["learn"] += t1 - t0
        self.seconds["serve"] += time.perf_counter() - t1

    def close(self) -> None:
        self.fc.close()


def run_once(
    world: World, mode: str, folder: Path, *, warmup_min: int, step_min: int
) -> dict[str, Any]:
    """One run of the app over the world; its figures over the evaluation window."""
    names = [s.kind.service for s in world.services]
    loop = Faultcast(folder / f"seed{world.seed}-{mode}.duckdb", names)
    preempts = _preempts() if mode == "loop_on" else {}
    services = []
    for i, sw in enumerate(world.services):
        advisor = None
        if mode == "loop_on":
            advisor = _advisor_factory(loop, sw.kind.service, world.seed * 100 + i)
        services.append(
            Service(sw, world.seed, i, advisor=advisor, preempt=preempts.get(sw.kind.service))
        )
    events: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(services), thread_name_prefix="service") as pool:
        for start in range(0, world.minutes, step_min):
            end = min(world.minutes, start + step_min)
            for future in [pool.submit(s.run, start, end) for s in services]:
                future.result()
            batch: list[dict[str, Any]] = []
            for s in services:
                batch += s.logger.events
                s.logger.events = []
            events += batch
            if mode == "loop_on":  # the loop acts on what faultcast learned so far
                loop.post(batch)
                loop.learn()
    if mode != "loop_on":  # nothing acts on it: one ingest and one (progressive) learn
        loop.post(list(events))
        loop.learn()
    wall = time.perf_counter() - t0
    figures = _figures(world, loop, services, events, warmup_min)
    figures["run"] = {
        "wall_s": round(wall, 2),
        "faultcast_s": {k: round(v, 2) for k, v in loop.seconds.items()},
        "events_logged": len(events),
    }
    loop.close()
    return figures


def _advisor_factory(loop: Faultcast, service: str, seed: int) -> Any:
    from faultcast.sdk import Advisor

    def make(clock: SimClock) -> Any:
        return Advisor(
            "http://faultcast.invalid",
            service=service,
            fetch=loop.fetch,
            clock=clock,
            background=False,
            seed=seed,
        )

    return make


# ---------------------------------------------------------------------------- figures
def _figures(
    world: World,
    loop: Faultcast,
    services: list[Service],
    events: list[dict[str, Any]],
    warmup_min: int,
) -> dict[str, Any]:
    since = START + pd.Timedelta(minutes=warmup_min)
    until = START + pd.Timedelta(minutes=world.minutes)
    card = loop.fc.metrics.scorecard(since=since, until=until)
    criteria = {
        row.criterion: {
            "value": None if pd.isna(row.value) else round(float(row.value), 6),
            "passed": None if pd.isna(row.passed) else bool(row.passed),
            "evidence": row.evidence,
        }
        for row in card.itertuples(index=False)
    }
    frame = pd.DataFrame(events)
    frame["ts"] = pd.to_datetime(frame["timestamp"])
    frame = frame[(frame["ts"] >= since) & (frame["ts"] < until)]
    handled = frame[
        frame["recovery_action"].notna()
        & ~frame["recovery_action"].astype(str).str.startswith("preempt_")
        & frame["error_type"].notna()
    ]
    decisions = (
        frame["recovery_decision"].value_counts().to_dict() if "recovery_decision" in frame else {}
    )
    by_class: dict[str, dict[str, int]] = {}
    if "recovery_decision" in handled:
        table = handled.groupby(["error_type", "recovery_decision"]).size()
        for (error_type, decision), n in table.items():
            by_class.setdefault(str(error_type), {})[str(decision)] = int(n)
    handling = handled["recovery_ms"].astype(float)
    requests = _requests(services, warmup_min)
    return {
        "criteria": criteria,
        "p99_error_handling_ms": None
        if handling.empty
        else round(float(handling.quantile(0.99)), 1),
        "errors_handled": int(len(handled)),
        "decisions": {str(k): int(v) for k, v in decisions.items()},
        "decisions_by_error_type": by_class,
        "requests": requests,
        "notifications": _notifications(world, loop, warmup_min),
    }


def _requests(services: list[Service], warmup_min: int) -> dict[str, Any]:
    """What users saw (ground truth): requests, failed ones, degraded answers, and the
    pre-emptive measures taken while the dependency was really down."""
    rows = [
        (s.name, minute, served, down)
        for s in services
        for minute, served, down in s.stats.log
        if minute >= warmup_min
    ]
    df = pd.DataFrame(rows, columns=["service", "minute", "served", "down"])
    preempted = df["served"].str.startswith("preempted")
    degraded = df["served"].isin(DEGRADED_ANSWERS)
    per_minute = df.assign(bad=degraded).groupby(["service", "minute"])["bad"].mean()
    failed = df[df["served"] == "failed"]
    return {
        "requests": int(len(df)),
        "failed": int(len(failed)),
        "failed_by_service": {str(k): int(v) for k, v in failed["service"].value_counts().items()},
        "by_answer": {str(k): int(v) for k, v in df["served"].value_counts().items()},
        "degraded_answer_share": round(float(degraded.mean()), 6) if len(df) else None,
        "unit_minutes_over_1pct_degraded_answers": round(float((per_minute > 0.01).mean()), 6)
        if len(per_minute)
        else None,
        "preempted": int(preempted.sum()),
        "preempted_while_down": int((preempted & df["down"]).sum()),
    }


def _notifications(world: World, loop: Faultcast, warmup_min: int) -> dict[str, Any]:
    """The production model's alerts ("unit at risk"): a notification when a unit's tick
    alerts and its previous tick did not.  Lead times are counted from the tick; the loop
    learns once a step, so an alert reached the app up to ``--step`` minutes later (the leads
    are upper bounds)."""
    since = START + pd.Timedelta(minutes=warmup_min)
    timeline = loop.fc.metrics.risk_timeline(since=since)
    onsets = [
        e
        for s in world.services
        for e in s.episodes
        if e.kind == "outage" and e.onset >= warmup_min
    ]
    if timeline.empty:
        return {"sent": 0, "outages": len(onsets), "outages_notified_before_onset": 0}
    pred = timeline[timeline["kind"] == "prediction"].sort_values(["unit", "ts"])
    alert = pred["alert"].fillna(False).astype(bool)
    previous = alert.groupby(pred["unit"]).shift(1, fill_value=False).astype(bool)
    sent = pred[alert & ~previous]
    minutes = (sent["ts"] - START).dt.total_seconds() / 60.0
    sent = sent.assign(minute=minutes.to_numpy())
    leads = []
    useful = 0
    for e in onsets:
        mine = sent[(sent["unit"] == e.service)]
        before = mine[(mine["minute"] <= e.onset) & (mine["minute"] >= e.onset - HORIZON_MIN)]
        if not before.empty:
            leads.append(e.onset - float(before["minute"].min()))
    for row in sent.itertuples(index=False):
        if any(e.service == row.unit and 0 <= e.onset - row.minute <= HORIZON_MIN for e in onsets):
            useful += 1
    return {
        "sent": int(len(sent)),
        "followed_by_outage_within_horizon": useful,
        "outages": len(onsets),
        "outages_with_precursor": sum(e.ramp_start is not None for e in onsets),
        "outages_notified_before_onset": len(leads),
        "lead_min_median": round(float(np.median(leads)), 1) if leads else None,
        "lead_min_mean": round(float(np.mean(leads)), 1) if leads else None,
    }


# ---------------------------------------------------------------------------- comparison
def _compare(off: dict[str, Any], on: dict[str, Any]) -> dict[str, Any]:
    """Per criterion: the loop-on and loop-off values, whether loop on is better, whether each
    meets the seed's target."""
    out = {}
    for c in CRITERIA:
        a = off["criteria"].get(c.criterion, {}).get("value")
        b = on["criteria"].get(c.criterion, {}).get("value")
        better = None
        if a is not None and b is not None:
            better = b > a if c.comparison == ">=" else b < a
            if a == b:
                better = False
        out[c.criterion] = {
            "loop_off": a,
            "loop_on": b,
            "loop_on_better": better,
            "loop_off_meets_target": off["criteria"].get(c.criterion, {}).get("passed"),
            "loop_on_meets_target": on["criteria"].get(c.criterion, {}).get("passed"),
        }
    truth = "unit_minutes_over_1pct_degraded_answers"
    a, b = off["requests"][truth], on["requests"][truth]
    out["degraded_time_ground_truth"] = {
        "what": "share of unit-minutes in which over 1% of answers were failed or degraded "
        "(fallback, shed): the users' view, which the log-based degraded_share cannot see",
        "loop_off": a,
        "loop_on": b,
        "loop_on_better": None if a is None or b is None else b < a,
        "loop_off_meets_target": None if a is None else a < 0.01,
        "loop_on_meets_target": None if b is None else b < 0.01,
    }
    handled = {m: r["p99_error_handling_ms"] for m, r in (("loop_off", off), ("loop_on", on))}
    out["p99_error_handling_ms"] = {
        **handled,
        "loop_on_better": None
        if None in handled.values()
        else handled["loop_on"] < handled["loop_off"],
    }
    failed_off = off["requests"]["failed"]
    failed_on = on["requests"]["failed"]
    out["failures_prevented"] = {
        "failed_requests_loop_off": failed_off,
        "failed_requests_loop_on": failed_on,
        "prevented": failed_off - failed_on,
        "preempted_while_down": on["requests"]["preempted_while_down"],
    }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[*DEV_SEEDS, *HELD_OUT_SEEDS])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--warmup", type=float, default=8.0, help="hours before the evaluation")
    parser.add_argument("--step", type=int, default=10, help="simulated minutes per ingest+learn")
    parser.add_argument("--modes", nargs="+", default=["loop_off", "loop_on"])
    parser.add_argument("--tiny", action="store_true", help="a smoke run: 1 seed, 2 hours")
    args = parser.parse_args(argv)
    # Library logs go to stderr (stdout is the one JSON object), errors only.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    if args.tiny:
        args.seeds, args.hours, args.warmup, args.step = [DEV_SEEDS[0]], 1.0, 0.5, 30
    if not 0 <= args.warmup < args.hours:
        parser.error("--warmup must be at least 0 and less than --hours")
    if args.step < 1:
        parser.error("--step must be at least 1 minute")
    targets = {
        c.criterion: {
            "seed_criterion": c.seed_words,
            "target": c.target,
            "comparison": c.comparison,
        }
        for c in CRITERIA
    }
    result: dict[str, Any] = {
        "benchmark": "closed_loop",
        "config": {
            "hours": args.hours,
            "warmup_hours": args.warmup,
            "step_min": args.step,
            "seeds": args.seeds,
            "dev_seeds": [s for s in args.seeds if s in DEV_SEEDS],
            "held_out_seeds": [s for s in args.seeds if s not in DEV_SEEDS],
        },
        "targets": targets,
        "seeds": {},
    }
    with tempfile.TemporaryDirectory(prefix="faultcast-closed-loop-") as tmp:
        for seed in args.seeds:
            world = make_world(seed, args.hours)
            runs = {
                mode: run_once(
                    world, mode, Path(tmp), warmup_min=int(args.warmup * 60), step_min=args.step
                )
                for mode in args.modes
            }
            entry: dict[str, Any] = {"held_out": seed not in DEV_SEEDS, **runs}
            if "loop_off" in runs and "loop_on" in runs:
                entry["loop_on_vs_off"] = _compare(runs["loop_off"], runs["loop_on"])
            result["seeds"][str(seed)] = entry
    result["summary"] = _summary(result["seeds"])
    print(json.dumps(result, default=_plain))
    return result


def _summary(seeds: dict[str, Any]) -> dict[str, Any]:
    """Per criterion over the seeds: mean loop-off and loop-on values, seeds where loop on
    is better, seeds where each meets the target."""
    out: dict[str, Any] = {}
    for c in CRITERIA:
        rows = [s["loop_on_vs_off"][c.criterion] for s in seeds.values() if "loop_on_vs_off" in s]
        if not rows:
            continue

        def mean(key: str, rows: list[dict[str, Any]] = rows) -> float | None:
            values = [r[key] for r in rows if r[key] is not None]
            return round(float(np.mean(values)), 6) if values else None

        out[c.criterion] = {
            "loop_off_mean": mean("loop_off"),
            "loop_on_mean": mean("loop_on"),
            "seeds_loop_on_better": sum(bool(r["loop_on_better"]) for r in rows),
            "seeds_loop_on_meets_target": sum(bool(r["loop_on_meets_target"]) for r in rows),
            "seeds_loop_off_meets_target": sum(bool(r["loop_off_meets_target"]) for r in rows),
            "seeds": len(rows),
        }
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


if __name__ == "__main__":
    main()
