"""The dashboard's reads while ``faultcast ingest --follow`` writes the same store: for 30 s
every page's data is read over and over, and not one read fails."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from faultcast.analytics import open_source
from faultcast.dashboard import data

DURATION_S = 30.0


@pytest.mark.slow
def test_reads_never_fail_while_ingest_follows(tmp_path: Path, quiet_logs: None) -> None:
    from faultcast.simulate import simulate

    simulate(tmp_path / "all.jsonl", services=3, hours=6, seed=11)
    lines = (tmp_path / "all.jsonl").read_bytes().splitlines(keepends=True)
    live = tmp_path / "live.jsonl"
    live.write_bytes(b"".join(lines[:500]))
    db = tmp_path / "live.duckdb"
    follower = subprocess.Popen(
        [str(Path(sys.executable).parent / "faultcast"), "ingest", str(live), "--db", str(db),
         "--follow", "--poll", "0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    stop = threading.Event()

    def produce() -> None:
        # The application keeps logging: 30 more lines every 0.1 s (beyond the 30 s).
        at = 500
        with live.open("ab") as out:
            while not stop.is_set() and at < len(lines):
                out.write(b"".join(lines[at : at + 30]))
                out.flush()
                at += 30
                time.sleep(0.1)

    source = open_source(db, lock_timeout=30.0)
    reads: list[str] = []
    failures: list[str] = []
    seen: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        calls = [
            ("overview", lambda: data.overview(source, "1h")),
            ("errors", lambda: data.errors(source, "6h", by="service")),
            ("patterns", lambda: data.patterns(source, "6h")),
            ("security", lambda: data.security(source, "6h")),
            ("status", lambda: seen.append(data.status(source).events)),
        ]
        end = time.monotonic() + DURATION_S
        i = 0
        while time.monotonic() < end:
            name, call = calls[i % len(calls)]
            i += 1
            try:
                call()
                reads.append(name)
            except Exception as e:  # every failure is counted, whatever it is
                failures.append(f"{name}: {type(e).__name__}: {e}")
    finally:
        stop.set()
        follower.terminate()
        _, err = follower.communicate(timeout=30)
    print(
        f"{len(reads)} reads, 0 failed; events seen {seen[0]} -> {seen[-1]} ({len(set(seen))} distinct)"
    )
    assert failures == [], failures[:5]
    assert len(reads) >= 50, f"only {len(reads)} reads in {DURATION_S:.0f} s"
    # The reads ran while the store grew: ingest really was committing between them.
    assert len(set(seen)) >= 5, seen
    assert seen[-1] > seen[0], seen
    assert follower.returncode is not None, err
