"""Ingest speed and memory, against a bare DuckDB insert of the same file in the same run.

Prints one JSON object:

- ``faultcast_events_per_s``: ``faultcast ingest FILE --json`` in a fresh process on 1M simulated
  events, timed by its report (the run, without interpreter start-up);
- ``duckdb_events_per_s``: a fresh process running ``INSERT INTO t SELECT * FROM read_json(FILE)``
  into a new DuckDB file, timed from connect to close (the schema is probed first, untimed, so
  that rare keys do not fail the insert);
- ``ratio``: faultcast / bare events/s (target >= 0.5); ``ratio_process_wall`` compares the two
  processes' whole wall times, start-up included;
- ``peak_rss_mb``: the ingest process's peak RSS for 1M and 3M events (target < 1 GB and flat);
- ``redaction``: what the redactor costs: the same :class:`~faultcast.ingest.Ingestor` ingests
  the first ``--redaction-events`` events into a new store with the redactor of
  ``ingest/redact.py`` at ``--redaction-baseline`` (a git revision: the redactor before the
  decoded-value rules) and with the current one, taking turns, best of ``--redaction-rounds``;
  ``ratio`` = current / baseline events per CPU-second of the process (target >= 0.90: the cost
  itself, which other load on a shared machine does not sway), ``ratio_wall`` the same by wall
  time.  Its ``secret_lines`` part does the same over lines that all carry a secret (the
  redactor's worst case; no target).

- ``issues``: what keeping issues at ingest costs (``prepare_issues`` and ``update_issues`` of
  ``faultcast.ingest.issues`` in each commit): the same ingest of the first ``--issues-events`` events into a new store without
  it and with it, taking turns, best of ``--issues-rounds``; ``ratio`` = with / without events
  per CPU-second (``ratio_wall`` by wall time), and the same for ``small_commits`` (the events
  sent as 50 small commits of ``--issues-commit-events``, as ``serve --http`` commits them).

- ``new_store`` (``--new-store-only``): what a new store costs: ``--new-store-count`` new stores
  created (``Store(path).writing()``, the migrations) and as many first ingests of a 10-line file
  into a new store, with migration 9's backfill of issues run as before (whether or not the store
  has events) and as now (skipped without events), taking turns, best of ``--new-store-rounds``;
  ``ratio`` = before / now seconds per store (CPU; ``ratio_wall`` by wall time), the same for
  ``first_ingest``.

Usage: ``python benchmarks/ingest.py [--new-store-only] [--events 1000000] [--big 3000000] [--workdir DIR] [--redaction-only]
[--redaction-events 200000] [--redaction-baseline 25a8010] [--issues-only] [--issues-events 200000]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

BARE = """
import sys, time, duckdb
# The schema, from the whole file (not timed): the bare insert then reads each line once.
probe = duckdb.connect()
probe.execute("SET enable_progress_bar = false")
cols = probe.execute("DESCRIBE SELECT * FROM read_json(?, sample_size=-1)", [sys.argv[1]]).fetchall()
columns = "{" + ", ".join(f"'{name}': '{dtype}'" for name, dtype, *_ in cols) + "}"
probe.close()
t = time.perf_counter()
con = duckdb.connect(sys.argv[2])
con.execute("SET enable_progress_bar = false")  # its bar on stdout would break the timing
con.execute(f"CREATE TABLE t AS SELECT * FROM read_json(?, columns={columns}) LIMIT 0", [sys.argv[1]])
con.execute(f"INSERT INTO t SELECT * FROM read_json(?, columns={columns})", [sys.argv[1]])
con.close()
print(time.perf_counter() - t)
"""


def _simulate(path: Path, events: int) -> int:
    """Exactly ``events`` simulated events (8 services, as many hours as that takes)."""
    import itertools

    import orjson

    from faultcast.simulate import iter_events

    hours = events / (8 * 20.0 * 60) * 1.2  # a margin; the stream is cut at ``events``
    with open(path, "wb") as f:
        for ev in itertools.islice(iter_events(services=8, hours=hours, seed=1), events):
            f.write(orjson.dumps(ev) + b"\n")
    return events


def _peak_rss_of(cmd: list[str]) -> tuple[float, float, str]:
    """Run a command in a fresh helper so RUSAGE_CHILDREN is its own."""
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "wall = time.perf_counter() - t\n"
        "if p.returncode: sys.stderr.write(p.stderr.decode()); sys.exit(p.returncode)\n"
        "print(json.dumps({'wall': wall, 'rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,"
        " 'stdout': p.stdout.decode()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr.decode()}")
    result = json.loads(out.stdout)
    return float(result["wall"]), float(result["rss_mb"]), str(result["stdout"])


def _baseline_redact_module(revision: str, work: Path) -> ModuleType:
    """``ingest/redact.py`` as it was at ``revision``, loaded as a module of its own."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(
        ["git", "-C", str(root), "show", f"{revision}:ingest/redact.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = work / f"redact_{revision}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"faultcast_redact_{revision}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ingest_seconds(path: Path, db: Path, redactor: Any) -> tuple[float, float, int]:
    """One ingest of ``path`` into a new store ``db`` with ``redactor``: (wall seconds, CPU
    seconds of the process, all its threads and DuckDB's; redactions)."""
    from faultcast.ingest import Ingestor, Store

    for old in db.parent.glob(db.name + "*"):
        old.unlink()
    store = Store(db)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = Ingestor(store, redactor=redactor).run([path], format="json")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        store.close()
    return seconds, cpu, sum(report.redactions.values())


def _redaction_cost(
    source: Path, work: Path, events: int, revision: str, rounds: int
) -> dict[str, Any]:
    """The current redactor's ingest throughput against the baseline's, in the same run."""
    import logging

    import structlog
    from faultcast.ingest.redact import Redactor

    # The runs' debug lines would go to stdout, where the one JSON object goes.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sample = work / f"events_{events}.jsonl"
    with source.open("rb") as src, sample.open("wb") as out:
        out.writelines(itertools.islice(src, events))
    n = sum(1 for _ in sample.open("rb"))
    # The worst case: every line carries a secret the baseline also finds (a password field).
    secret_lines = work / "secret_lines.jsonl"
    with sample.open("rb") as src, secret_lines.open("wb") as out:
        for i, line in enumerate(itertools.islice(src, 50_000)):
            out.write(line.rstrip(b"\n")[:-1] + f', "password": "pw-{i:06d}x"}}\n'.encode())
    baseline = _baseline_redact_module(revision, work).Redactor()
    current = Redactor()
    result: dict[str, Any] = {"events": n, "baseline_revision": revision}
    for label, path, k in (("all_lines", sample, rounds), ("secret_lines", secret_lines, 1)):
        best = {"baseline": float("inf"), "current": float("inf")}
        best_cpu = dict(best)
        found = {}
        for _ in range(k):
            for name, redactor in (("baseline", baseline), ("current", current)):
                db = work / f"redact_{name}.duckdb"
                seconds, cpu, found[name] = _ingest_seconds(path, db, redactor)
                best[name] = min(best[name], seconds)
                best_cpu[name] = min(best_cpu[name], cpu)
        lines = n if path is sample else 50_000
        result[label] = {
            # Events per CPU-second of the process: the cost itself, which other load on the
            # machine does not sway (wall-clock throughput swings by 20% between runs there).
            "baseline_events_per_cpu_s": round(lines / best_cpu["baseline"]),
            "current_events_per_cpu_s": round(lines / best_cpu["current"]),
            "ratio": round(best_cpu["baseline"] / best_cpu["current"], 3),
            "baseline_events_per_s": round(lines / best["baseline"]),
            "current_events_per_s": round(lines / best["current"]),
            "ratio_wall": round(best["baseline"] / best["current"], 3),
            "redactions": found,
        }
    result["ratio"] = result["all_lines"]["ratio"]
    result["ratio_wall"] = result["all_lines"]["ratio_wall"]
    result["target"] = "ratio >= 0.90"
    return result


def _issues_cost(
    source: Path, work: Path, events: int, rounds: int, commit_events: int
) -> dict[str, Any]:
    """Ingest throughput with the issue upkeep against without it, in the same run."""
    import logging

    import structlog
    from faultcast.ingest import _commit
    from faultcast.ingest.redact import Redactor

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sample = work / f"issues_{events}.jsonl"
    with source.open("rb") as src, sample.open("wb") as out:
        out.writelines(itertools.islice(src, events))
    n = sum(1 for _ in sample.open("rb"))
    # Small commits: the same events in files of ``commit_events`` lines, one commit each.
    parts = work / "issues_parts"
    parts.mkdir(exist_ok=True)
    for old in parts.glob("*.jsonl"):
        old.unlink()
    small_n = min(n, commit_events * 50)
    with sample.open("rb") as src:
        for i in range(0, small_n, commit_events):
            (parts / f"{i:09d}.jsonl").write_bytes(b"".join(itertools.islice(src, commit_events)))
    real = (_commit.prepare_issues, _commit.update_issues)

    def no_issues(w: Any, rows: str) -> None:  # the INSERT joins an empty batch
        w.execute(
            "CREATE OR REPLACE TEMP TABLE issue_batch AS "
            "SELECT NULL::BIGINT AS rid, NULL::VARCHAR AS issue_id WHERE false"
        )

    result: dict[str, Any] = {"events": n}
    try:
        for label, paths, k, count in (
            ("one_file", [sample], rounds, n),
            ("small_commits", sorted(parts.glob("*.jsonl")), 1, small_n),
        ):
            best = {"without": float("inf"), "with": float("inf")}
            best_cpu = dict(best)
            for _ in range(k):
                for name in ("without", "with"):
                    if name == "with":
                        _commit.prepare_issues, _commit.update_issues = real
                    else:
                        _commit.prepare_issues, _commit.update_issues = no_issues, lambda w: 0
                    db = work / f"issues_{name}.duckdb"
                    seconds = cpu = 0.0
                    for old in db.parent.glob(db.name + "*"):
                        old.unlink()
                    from faultcast.ingest import Ingestor, Store

                    store = Store(db)
                    try:
                        started, cpu0 = time.perf_counter(), time.process_time()
                        for path in paths:  # one run per file: one commit per small file
                            Ingestor(store, redactor=Redactor()).run([path], format="json")
                        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
                    finally:
                        store.close()
                    best[name] = min(best[name], seconds)
                    best_cpu[name] = min(best_cpu[name], cpu)
            result[label] = {
                "events": count,
                "commits": len(paths),
                "without_events_per_cpu_s": round(count / best_cpu["without"]),
                "with_events_per_cpu_s": round(count / best_cpu["with"]),
                "ratio": round(best_cpu["without"] / best_cpu["with"], 3),
                "ratio_wall": round(best["without"] / best["with"], 3),
            }
    finally:
        _commit.prepare_issues, _commit.update_issues = real
    result["ratio"] = result["one_file"]["ratio"]
    return result


def _new_store_cost(work: Path, count: int, rounds: int) -> dict[str, Any]:
    """New stores and first small ingests with the backfill of migration 9 run always (as
    before) and only over events (as now), in the same run."""
    import logging

    import structlog
    from faultcast.ingest import Ingestor, Store
    from faultcast.ingest import store as store_module

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    lines = work / "ten.jsonl"
    lines.write_text(
        "".join(
            json.dumps({"timestamp": 1_767_225_600 + i, "level": "error", "service": "svc",
                        "event": f"request {i} timed out after {i * 7} ms"}) + "\n"
            for i in range(10)
        )
    )  # fmt: skip
    current = store_module._has_events
    best: dict[str, dict[str, float]] = {}
    try:
        for _ in range(rounds):
            for name in ("before", "now"):
                store_module._has_events = (lambda con: True) if name == "before" else current
                for what in ("create", "first_ingest"):
                    folder = work / f"new_{name}_{what}"
                    folder.mkdir(exist_ok=True)
                    for old in folder.glob("*"):
                        old.unlink()
                    started, cpu0 = time.perf_counter(), time.process_time()
                    for i in range(count):
                        with Store(folder / f"{i}.duckdb") as store:
                            if what == "create":
                                with store.writing():
                                    pass
                            else:
                                Ingestor(store).run([lines], format="json")
                    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
                    key = f"{what}/{name}"
                    got = best.setdefault(key, {"wall": float("inf"), "cpu": float("inf")})
                    got["wall"], got["cpu"] = min(got["wall"], wall), min(got["cpu"], cpu)
    finally:
        store_module._has_events = current
    result: dict[str, Any] = {"stores": count, "rounds": rounds}
    for what in ("create", "first_ingest"):
        before, now = best[f"{what}/before"], best[f"{what}/now"]
        result[what] = {
            "before_ms": round(1000 * before["cpu"] / count, 1),
            "now_ms": round(1000 * now["cpu"] / count, 1),
            "ratio": round(before["cpu"] / now["cpu"], 3),
            "ratio_wall": round(before["wall"] / now["wall"], 3),
        }
    result["ratio"] = result["create"]["ratio"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=3_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--redaction-events", type=int, default=200_000)
    parser.add_argument("--redaction-baseline", default="25a8010")
    parser.add_argument("--redaction-rounds", type=int, default=4)
    parser.add_argument(
        "--redaction-only", action="store_true", help="only the redaction cost (no bare DuckDB)"
    )
    parser.add_argument("--issues-events", type=int, default=200_000)
    parser.add_argument("--issues-rounds", type=int, default=3)
    parser.add_argument("--issues-commit-events", type=int, default=100)
    parser.add_argument(
        "--issues-only", action="store_true", help="only the cost of keeping issues at ingest"
    )
    parser.add_argument(
        "--new-store-only", action="store_true", help="only what creating a new store costs"
    )
    parser.add_argument("--new-store-count", type=int, default=20)
    parser.add_argument("--new-store-rounds", type=int, default=3)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="faultcast-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.duckdb*"):
        old.unlink()  # every run starts from empty stores
    if args.new_store_only:
        new_store = _new_store_cost(work, args.new_store_count, args.new_store_rounds)
        print(json.dumps({"benchmark": "ingest", "new_store": new_store}))
        return
    faultcast_cmd = [sys.executable, "-m", "faultcast", "ingest"]

    small = work / "events_1m.jsonl"
    if not small.exists():
        _simulate(small, args.events)
    n_small = sum(1 for _ in small.open("rb"))

    result: dict[str, Any] = {
        "benchmark": "ingest",
        "events": n_small,
        "file_mb": round(small.stat().st_size / 2**20, 1),
    }
    if args.issues_only:
        result["issues"] = _issues_cost(
            small, work, args.issues_events, args.issues_rounds, args.issues_commit_events
        )
        print(json.dumps(result))
        return
    if args.redaction_only:
        result["redaction"] = _redaction_cost(
            small, work, args.redaction_events, args.redaction_baseline, args.redaction_rounds
        )
        print(json.dumps(result))
        return

    bare_process, bare_rss, bare_inner = _peak_rss_of(
        [sys.executable, "-c", BARE, str(small), str(work / "bare.duckdb")]
    )
    bare_wall = float(bare_inner.strip())  # connect, insert, close (the schema probe is not timed)
    ours_wall, ours_rss, ours_out = _peak_rss_of(
        [*faultcast_cmd, str(small), "--db", str(work / "faultcast.duckdb"), "--json"]
    )
    report = json.loads(ours_out)
    assert report["stored"] + report["quarantined"] + report["duplicates"] == n_small
    ours_inner = float(report["seconds"])  # the ingest run itself, as the report times it
    result.update(
        duckdb_events_per_s=round(n_small / bare_wall),
        faultcast_events_per_s=round(n_small / ours_inner),
        ratio=round(bare_wall / ours_inner, 3),
        duckdb_process_seconds=round(bare_process, 2),
        faultcast_process_seconds=round(ours_wall, 2),
        ratio_process_wall=round(bare_process / ours_wall, 3),
        duckdb_seconds=round(bare_wall, 2),
        faultcast_seconds=round(ours_inner, 2),
        duckdb_peak_rss_mb=round(bare_rss),
    )
    rss = {str(n_small): round(ours_rss)}
    if args.big:
        big = work / "events_big.jsonl"
        if not big.exists():
            _simulate(big, args.big)
        n_big = sum(1 for _ in big.open("rb"))
        big_wall, big_rss, big_out = _peak_rss_of(
            [*faultcast_cmd, str(big), "--db", str(work / "faultcast_big.duckdb"), "--json"]
        )
        rss[str(n_big)] = round(big_rss)
        result["faultcast_big_events_per_s"] = round(n_big / big_wall)
    result["peak_rss_mb"] = rss
    if args.redaction_events:
        result["redaction"] = _redaction_cost(
            small, work, args.redaction_events, args.redaction_baseline, args.redaction_rounds
        )
    if args.issues_events:
        result["issues"] = _issues_cost(
            small, work, args.issues_events, args.issues_rounds, args.issues_commit_events
        )
    result["targets"] = {
        "ratio": ">= 0.5",
        "peak_rss_mb": "< 1024 and flat",
        "redaction.ratio": ">= 0.90",
    }
    result["workdir"] = str(work)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
