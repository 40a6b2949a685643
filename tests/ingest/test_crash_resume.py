"""kill -9 an ingest at random moments, again and again; the final store holds every line once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import event

pytestmark = pytest.mark.slow


def _write_input(path: Path, n: int) -> tuple[set[int], set[int]]:
    rng = random.Random(7)
    good, bad = set(), set()
    with open(path, "wb") as f:
        for i in range(1, n + 1):
            if rng.random() < 0.01:
                f.write(b'{"event": "broken\n')
                bad.add(i)
            else:
                f.write(json.dumps(event(i, request_id=f"r{i}")).encode() + b"\n")
                good.add(i)
    return good, bad


def test_kill_9_at_random_moments_then_resume_stores_each_line_exactly_once(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    db = tmp_path / "store.duckdb"
    good, bad = _write_input(source, 50_000)
    env = dict(os.environ, FAULTCAST_CHUNK_BYTES=str(96 * 1024))
    cmd = [sys.executable, "-m", "faultcast", "ingest", str(source), "--db", str(db), "--json"]
    rng = random.Random(11)
    kills = 0
    attempts = 0
    while kills < 6 and attempts < 24:
        attempts += 1
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.4, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
    assert kills >= 5, (
        f"only {kills} kills landed mid-run; the input is too small for this machine"
    )
    # The resume runs with the default chunk size: the checkpoints are byte offsets, so a run
    # cut into small chunks resumes the same in big ones (and 100 small commits cost 30 s).
    done = subprocess.run(cmd, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    last = json.loads(done.stdout)
    assert last["read"] == last["stored"] + last["duplicates"] + last["quarantined"]

    con = duckdb.connect(str(db), read_only=True)
    offsets = [r[0] for r in con.execute("SELECT source_offset FROM events").fetchall()]
    q_offsets = [r[0] for r in con.execute("SELECT source_offset FROM quarantine").fetchall()]
    ids = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchall()[0]
    con.close()
    assert len(offsets) == len(set(offsets)) == len(good)  # no duplicates, nothing missing
    assert set(offsets) == good
    assert ids[0] == ids[1]
    assert sorted(q_offsets) == sorted(bad)

    # And one more run is a no-op.
    again = json.loads(subprocess.run(cmd, capture_output=True, timeout=300).stdout)
    assert again["read"] == 0
