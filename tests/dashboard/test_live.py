"""The dashboard's reads while ``faultcast ingest --follow`` writes the same store: the log grows
chunk by chunk, every page's data is read over and over until each chunk is stored, and not one
read fails."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultcast.analytics import open_source
from faultcast.dashboard import data

#: Lines in the log when ``--follow`` starts, then chunks appended one at a time.
INITIAL, CHUNKS, CHUNK = 500, 10, 100
#: A generous bound on waiting for one chunk to be stored (a deadline, not a measurement).
WAIT_S = 120.0
#: Between two rounds of reads.
PAUSE_S = 0.05


@pytest.mark.slow
def test_reads_never_fail_while_ingest_follows(tmp_path: Path, quiet_logs: None) -> None:
    from faultcast.simulate import simulate

    simulate(tmp_path / "all.jsonl", services=3, hours=1, seed=11)
    lines = (tmp_path / "all.jsonl").read_bytes().splitlines(keepends=True)
    assert len(lines) >= INITIAL + CHUNKS * CHUNK
    live = tmp_path / "live.jsonl"
    live.write_bytes(b"".join(lines[:INITIAL]))
    db = tmp_path / "live.duckdb"
    follower = subprocess.Popen(
        [str(Path(sys.executable).parent / "faultcast"), "ingest", str(live), "--db", str(db),
         "--follow", "--poll", "0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    source = open_source(db, lock_timeout=30.0)
    reads: list[str] = []
    failures: list[str] = []
    seen: list[int] = []
    calls = [
        ("overview", lambda: data.overview(source, "1h")),
        ("errors", lambda: data.errors(source, "6h", by="service")),
        ("patterns", lambda: data.patterns(source, "6h")),
        ("security", lambda: data.security(source, "6h")),
        ("now", lambda: data.now(source)),
        ("issues", lambda: data.issue_stream(source, "6h")),
        ("status", lambda: seen.append(data.status(source).events)),
    ]

    def read_until_stored(events: int) -> None:
        """Every page's data, round after round, until the store holds ``events`` events."""
        deadline = time.monotonic() + WAIT_S
        while not failures and not (seen and seen[-1] >= events):
            if follower.poll() is not None:
                raise AssertionError(f"ingest --follow exited with {follower.returncode}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{events} events not stored after {WAIT_S:.0f} s: {seen[-5:]}"
                )
            for name, call in calls:
                try:
                    call()
                    reads.append(name)
                except Exception as e:  # every failure is counted, whatever it is
                    failures.append(f"{name}: {type(e).__name__}: {e}")
            # A pause between rounds, as a dashboard refreshing: reads attach the file in a
            # tight loop otherwise, and the writer's backoff can lose every race to them.
            time.sleep(PAUSE_S)

    try:
        deadline = time.monotonic() + WAIT_S
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        read_until_stored(INITIAL)
        # The application keeps logging: one chunk, then reads while ingest commits it.
        at = INITIAL
        with live.open("ab") as out:
            for _ in range(CHUNKS):
                out.write(b"".join(lines[at : at + CHUNK]))
                out.flush()
                at += CHUNK
                read_until_stored(at)
    finally:
        follower.terminate()
        _, err = follower.communicate(timeout=30)
    print(f"{len(reads)} reads, {len(failures)} failed; events seen {seen[0]} -> {seen[-1]}")
    assert failures == [], failures[:5]
    assert len(reads) >= len(calls) * (CHUNKS + 1)
    # The reads ran while the store grew, one commit at a time: each chunk was seen stored (the
    # log held no more), and no read saw fewer events than one before it.
    assert {INITIAL + k * CHUNK for k in range(CHUNKS + 1)} <= set(seen), sorted(set(seen))
    assert seen == sorted(seen)
    assert follower.returncode is not None, err
