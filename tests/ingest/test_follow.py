"""--follow: appended lines arrive, a rotated file is finished and its successor read, Ctrl-C stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultcast.ingest import Store

from tests.conftest import event

pytestmark = pytest.mark.slow


def _append(path: Path, start: int, n: int) -> None:
    with open(path, "ab") as f:
        for i in range(start, start + n):
            f.write(json.dumps(event(i, request_id=f"r{i}")).encode() + b"\n")


def _wait_for(db: Path, n: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        if db.exists():
            try:
                count = Store(db, lock_timeout=5).counts()["events"]
            except Exception:
                count = -1
            if count >= n:
                return count
        time.sleep(0.2)
    return count


def _finish(proc: subprocess.Popen[bytes], deadline: float = 180) -> tuple[bytes, bytes]:
    """The process's output once it exits; if it does not within ``deadline`` seconds, its
    threads' stacks (faulthandler, on SIGABRT) in the failure, to show where it hangs."""
    try:
        return proc.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"ingest --follow did not stop on Ctrl-C; its stacks:\n{err.decode()}")


def test_follow_picks_up_appends_and_rotation_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    db = tmp_path / "store.duckdb"
    _append(log, 0, 5)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "faultcast",
            "ingest",
            str(log),
            "--db",
            str(db),
            "--follow",
            "--poll",
            "0.1",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    try:
        assert _wait_for(db, 5) == 5
        _append(log, 5, 10)
        assert _wait_for(db, 15) == 15
        # A half-written line is not taken until its newline arrives.
        with open(log, "ab") as f:
            f.write(json.dumps(event(15, request_id="r15")).encode()[:20])
        time.sleep(0.6)
        with open(log, "ab") as f:
            f.write(json.dumps(event(15, request_id="r15")).encode()[20:] + b"\n")
        assert _wait_for(db, 16) == 16
        # Rotation: the file is renamed, a last line still lands in it, and a new file appears.
        os.rename(log, tmp_path / "app.jsonl.1")
        _append(tmp_path / "app.jsonl.1", 16, 2)
        _append(log, 100, 7)
        assert _wait_for(db, 25) == 25
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = _finish(proc)
    assert proc.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["stored"] == 25 and report["read"] == 25
    store = Store(db)
    df = store.query_df("SELECT source_offset, message FROM store.events")
    assert df["message"].is_unique and len(df) == 25
