"""Template-mining accuracy and speed on the Loghub 2k sets, against drain3 in the same run.

Prints one JSON object: per system and on average, the grouping accuracy (ICSE'19: a line is
correct when the set of lines in its predicted group equals the set of lines in its true group),
the number of templates found against the true number, and lines/s — for faultcast's
patterns (masks, then Drain over distinct masked forms) and for drain3 with its defaults; and
the speed of both over the 108,933 real lines of HDFS_sessions/HDFS_dev.log, where a
vectorised pass is not dominated by the fixed cost of one query on 2,000 lines.  Nothing is tuned per system beyond the
log format, which only selects each line's content (the ground truth's ``Content`` column).

Usage: ``python benchmarks/patterns.py [--data ../shared/data/loghub]``.  Without the data
folder it says so and exits 0 (the data is not part of the repository).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

SYSTEMS = ("HDFS", "Apache", "OpenSSH", "Zookeeper", "Spark", "Linux", "Android", "Windows")
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub"


def grouping_accuracy(truth: pd.Series, predicted: list[Any]) -> float:
    """Share of lines whose predicted group is exactly their true group."""
    df = pd.DataFrame({"truth": truth.to_numpy(), "predicted": predicted})
    true_sizes = df.groupby("truth").size()
    correct = 0
    for _, group in df.groupby("predicted"):
        truths = group["truth"].unique()
        if len(truths) == 1 and true_sizes[truths[0]] == len(group):
            correct += len(group)
    return correct / len(df)


def _faultcast(contents: list[str]) -> tuple[list[str], float]:
    """Templates as the ingest finds them: the variable parts masked in one vectorised DuckDB
    pass, then Drain over the distinct masked forms only (a form seen before skips the tree)."""
    import duckdb
    import pyarrow as pa
    from faultcast.ingest.fingerprint import template_sql
    from faultcast.ingest.patterns import PatternMiner

    con = duckdb.connect()
    batch = pa.table({"message": pa.array(contents, pa.large_string())})
    con.register("batch", batch)
    started = time.perf_counter()
    # As the ingest does it: mask in SQL, mine the distinct forms, join the ids back in SQL.
    con.execute(
        f"CREATE TEMP TABLE masked AS SELECT row_number() OVER () AS i, {template_sql('message')} AS form "
        "FROM batch"
    )
    forms = [
        r[0]
        for r in con.execute("SELECT form FROM masked GROUP BY form ORDER BY min(i)").fetchall()
    ]
    miner = PatternMiner()
    miner.mine(forms)
    mined, _ = miner.mine_table(forms)  # every form's template at the end of the run
    con.register("mined", mined)
    ids = con.execute(
        "SELECT template_id FROM masked JOIN mined ON form = masked ORDER BY i"
    ).fetchnumpy()["template_id"]
    elapsed = time.perf_counter() - started
    return list(ids), elapsed


def _drain3(contents: list[str]) -> tuple[list[int], float]:
    import logging

    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    logging.getLogger("drain3").setLevel(logging.ERROR)
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    started = time.perf_counter()
    ids = [miner.add_log_message(c)["cluster_id"] for c in contents]
    return ids, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.exists():
        print(
            json.dumps(
                {
                    "benchmark": "patterns",
                    "skipped": f"{args.data} is absent (Loghub data lives beside the repo)",
                }
            )
        )
        return
    result: dict[str, Any] = {"benchmark": "patterns", "systems": {}}
    for system in SYSTEMS:
        structured = args.data / system / f"{system}_2k.log_structured.csv"
        if not structured.exists():
            continue
        df = pd.read_csv(structured)
        contents = df["Content"].astype(str).tolist()
        ours, ours_s = _faultcast(contents)
        theirs, theirs_s = _drain3(contents)
        result["systems"][system] = {
            "true_templates": int(df["EventId"].nunique()),
            "faultcast": {
                "accuracy": round(grouping_accuracy(df["EventId"], ours), 4),
                "templates": len(set(ours)),
                "lines_per_s": round(len(contents) / ours_s),
            },
            "drain3": {
                "accuracy": round(grouping_accuracy(df["EventId"], theirs), 4),
                "templates": len(set(theirs)),
                "lines_per_s": round(len(contents) / theirs_s),
            },
        }
    systems = result["systems"].values()
    for name in ("faultcast", "drain3"):
        result[f"{name}_average_accuracy"] = round(
            sum(s[name]["accuracy"] for s in systems) / max(1, len(systems)), 4
        )
        total_lines = 2000 * len(systems)
        total_s = sum(2000 / s[name]["lines_per_s"] for s in systems)
        result[f"{name}_lines_per_s"] = round(total_lines / total_s) if total_s else 0
    result["speed_ratio_2k"] = round(
        result["faultcast_lines_per_s"] / max(1, result["drain3_lines_per_s"]), 2
    )
    # Speed at a realistic volume: 2,000 lines are too few to amortise a vectorised pass, so
    # both also run over the real 108,933-line HDFS_dev.log (its <Content>).
    big = args.data / "HDFS_sessions" / "HDFS_dev.log"
    if big.exists():
        from faultcast.ingest.text import LogFormat

        rx = re.compile(LogFormat.parse("<Date> <Time> <Pid> <Level> <Component>: <Content>").regex)
        contents = []
        for line in big.open(encoding="utf-8", errors="replace"):
            m = rx.match(line.rstrip("\r\n"))
            if m:
                contents.append(m.group(m.lastindex or 1))
        _, ours_s = _faultcast(contents)
        _, theirs_s = _drain3(contents)
        result["hdfs_dev_lines"] = len(contents)
        result["hdfs_dev_faultcast_lines_per_s"] = round(len(contents) / ours_s)
        result["hdfs_dev_drain3_lines_per_s"] = round(len(contents) / theirs_s)
        result["speed_ratio"] = round(theirs_s / ours_s, 2)
    else:
        result["speed_ratio"] = result["speed_ratio_2k"]
    result["targets"] = {"average_accuracy": ">= 0.90", "speed_ratio": ">= 2 (on HDFS_dev.log)"}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
