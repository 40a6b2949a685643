"""Ingest speed and memory, against a bare DuckDB insert of the same file in the same run.

Prints one JSON object:

- ``faultcast_events_per_s``: ``faultcast ingest FILE --json`` in a fresh process on 1M simulated
  events, timed by its report (the run, without interpreter start-up);
- ``duckdb_events_per_s``: a fresh process running ``INSERT INTO t SELECT * FROM read_json(FILE)``
  into a new DuckDB file, timed from connect to close (the schema is probed first, untimed, so
  that rare keys do not fail the insert);
- ``ratio``: faultcast / bare events/s (target >= 0.5); ``ratio_process_wall`` compares the two
  processes' whole wall times, start-up included;
- ``peak_rss_mb``: the ingest process's peak RSS for 1M and 3M events (target < 1 GB and flat).

Usage: ``python benchmarks/ingest.py [--events 1000000] [--big 3000000] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=3_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="faultcast-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.duckdb*"):
        old.unlink()  # every run starts from empty stores
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
    result["targets"] = {"ratio": ">= 0.5", "peak_rss_mb": "< 1024 and flat"}
    result["workdir"] = str(work)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
